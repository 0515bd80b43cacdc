"""A sandbox's requests with a bound secret, as JSON: its variable, the request to
the host it is bound to (trusting the run's CA through SSL_CERT_FILE, no flags),
and the same request to another host (tunnelled untouched: the test CA)."""
import json
import os
import ssl
import subprocess
import sys
import urllib.request

TEST_CA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ca.pem")
name = sys.argv[1]
placeholder = os.environ.get(name, "")


def get(url, context):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {placeholder}"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as reply:
            return reply.read().decode()
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def curl(url):
    """curl with no CA flag: it finds the run's CA through CURL_CA_BUNDLE."""
    done = subprocess.run(
        ["curl", "-sS", "-H", f"Authorization: Bearer {placeholder}", url],
        capture_output=True, text=True, timeout=30)
    return done.stdout if done.returncode == 0 else f"curl {done.returncode}: {done.stderr}"


ca_files = {}
for path in ("/etc/berth/ca/ca.pem", "/etc/berth/ca/bundle.pem"):
    with open(path) as f:
        text = f.read()
    ca_files[path] = {"certificates": text.count("BEGIN CERTIFICATE"), "private_key": "PRIVATE KEY" in text}
print(json.dumps({
    "variable": placeholder,
    "ssl_cert_file": os.environ.get("SSL_CERT_FILE"),
    "bound": get("https://up.example.test:8443/auth", None),
    "bound_curl": curl("https://up.example.test:8443/auth"),
    "unbound": get("https://other.example.test:8443/auth", ssl.create_default_context(cafile=TEST_CA)),
    "ca_files": ca_files,
    "environment_keys": sorted(os.environ),
}))
