#!/usr/bin/env python3
"""A registry token server for tests, as Docker Hub's auth.docker.io is one: GET /token with
`service` and `scope` query parameters answers {"token", "access_token", "expires_in"}, a JWT
(RS256, the signing certificate in its x5c header) that docker-registry configured with
`auth: token` (issuer, service, rootcertbundle = that certificate) accepts.

With --user NAME:PASSWORD, only requests with those basic credentials get a token (a
private registry); without, every request does (anonymous pulls, as Hub's).

usage: token-server.py --key KEY.pem --cert CERT.pem --issuer ISS --service SVC --port-file F [--user U:P]
Writes the port it listens on (127.0.0.1, chosen by the kernel) to F, then serves until killed.
Signing runs `openssl dgst -sha256 -sign KEY`: no Python package beyond the standard library.
"""
import argparse
import base64
import http.server
import json
import os
import subprocess
import time
import urllib.parse


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    parser = argparse.ArgumentParser()
    for name in ("--key", "--cert", "--issuer", "--service", "--port-file"):
        parser.add_argument(name, required=True)
    parser.add_argument("--user")
    args = parser.parse_args()
    der = subprocess.run(["openssl", "x509", "-in", args.cert, "-outform", "DER"], check=True, capture_output=True).stdout
    expected = "Basic " + base64.b64encode(args.user.encode()).decode() if args.user else None

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/token":
                self.send_error(404)
                return
            if expected and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "wrong credentials"}]}).encode()
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            query = urllib.parse.parse_qs(url.query)
            access = []
            for scope in " ".join(query.get("scope", [])).split():
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
            now = int(time.time())
            header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(der).decode()]}
            claims = {"iss": args.issuer, "sub": args.user.split(":")[0] if args.user else "", "aud": args.service,
                      "exp": now + 300, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
            signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
            signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.key], input=signing.encode(),
                                       check=True, capture_output=True).stdout
            token = signing + "." + b64url(signature)
            body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
