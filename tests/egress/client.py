"""What a sandbox under an allowlist tries, as JSON on stdout. Arguments are
ADDRESS=PORT targets it must not reach directly."""
import json
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request

CA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cert.pem")


def fetch(url):
    context = ssl.create_default_context(cafile=CA)
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as reply:
            return {"status": reply.status, "body": reply.read().decode()}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read().decode()}
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}


def fronted():
    """CONNECT to an allowed name, then a ClientHello naming another one."""
    host, port = os.environ["HTTPS_PROXY"].removeprefix("http://").rsplit(":", 1)
    conn = socket.create_connection((host, int(port)), timeout=10)
    conn.sendall(b"CONNECT up.example.test:8443 HTTP/1.1\r\nHost: up.example.test:8443\r\n\r\n")
    status = conn.recv(4096).decode().split("\r\n")[0]
    try:
        context = ssl.create_default_context(cafile=CA)
        tls = context.wrap_socket(conn, server_hostname="other.example.test")
        tls.sendall(b"GET / HTTP/1.1\r\nHost: other.example.test\r\n\r\n")
        return {"connect": status, "body": tls.recv(4096).decode()}
    except Exception as e:
        return {"connect": status, "error": f"{type(e).__name__}: {e}"}


def direct(address, port):
    try:
        socket.create_connection((address, port), timeout=3).close()
        return "connected"
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def lookup(name):
    try:
        return socket.getaddrinfo(name, 443)[0][4][0]
    except Exception as e:
        return f"{type(e).__name__}: {e}"


results = {
    "tls": fetch("https://up.example.test:8443/tls"),
    "plain": fetch("http://plain.test:8080/plain"),
    "denied": fetch("http://denied.test:8080/"),
    "denied_tls": fetch("https://denied.test:8443/"),
    "wildcard_sub": fetch("http://a.wild.test:8080/sub"),
    "wildcard_parent": fetch("http://wild.test:8080/"),
    "link_local": fetch("http://169.254.169.254/latest/meta-data/"),
    "fronted": fronted(),
    "direct": {t: direct(t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in sys.argv[1:]},
    "dns": lookup("up.example.test"),
}
print(json.dumps(results))
