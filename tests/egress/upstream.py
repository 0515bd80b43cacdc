"""The upstream of berth's egress tests: http on 8080 and https on 8443 (with the
certificate the test made), answering every GET with its path and Host header;
under /auth, whether the Authorization header carries $EXPECTED_TOKEN (never
echoing a value that matches)."""
import http.server
import os
import ssl
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/auth"):
            sent = self.headers.get("Authorization", "")
            if sent == "Bearer " + os.environ.get("EXPECTED_TOKEN", "\0"):
                body = b"authorized"
            else:
                body = f"unauthorized: {sent}".encode()
        else:
            body = f"{self.path} for {self.headers.get('Host')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


plain = http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
tls = http.server.ThreadingHTTPServer(("0.0.0.0", 8443), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/srv/egress/cert.pem", "/srv/egress/key.pem")
tls.socket = context.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=plain.serve_forever, daemon=True).start()
tls.serve_forever()
