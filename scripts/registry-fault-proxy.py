#!/usr/bin/env python3
"""An HTTP/1.1 reverse proxy in front of a real OCI registry (docker-registry) for strata's tests,
injecting the faults real registries and networks produce.

usage: registry-fault-proxy.py --upstream HOST:PORT --port-file F --log L [--fault NAME]
                               [--redirect-host 127.0.0.2] [--upstream-auth USER:PASSWORD] [--port N]

Listens on 127.0.0.1 on a port the kernel chooses, writes that port (just the number) to F once it
accepts connections, then serves until killed. Every request (method, path and query, headers with
Authorization and Host, body with Content-Length or chunked) is forwarded to the upstream and the
answer relayed, body streamed. The client's Host header is passed on unchanged, so docker-registry
writes its absolute upload Locations with the proxy's address itself; an absolute Location that still
names the upstream is rewritten to the address the client asked.

--log L appends one JSON line per request, written as its status is decided (before the body; a
request its client abandons before any answer gets status null):
  {"listener": "127.0.0.1" or the redirect host, "method", "path" (with query),
   "auth": whether the client sent Authorization, "range": the Range header or null,
   "length": the request's Content-Length or null,
   "status": the status sent to the client, "fault": the fault applied to this request or null}

--fault NAME (default: none, pure pass-through). A "blob GET" is a GET of a path matching
^/v2/.+/blobs/sha256:[0-9a-f]{64}$ (query aside) that the upstream answers 200; HEADs and 206
answers to a Range are never blob GETs.
  corrupt-blob    every blob GET: same length and headers, the byte in the middle of the body flipped
  truncate-blob   every blob GET: the first half of the body, Content-Length set to that half
  cut-once        the first blob GET of each digest: the upstream's headers (full Content-Length),
                  half the body, then the connection shut down and closed; later requests for that
                  digest (a Range resume included) pass through
  429-once        the first request of each (method, path without query), /v2/ included, is answered
                  429 with Retry-After: 1 and a TOOMANYREQUESTS error body without reaching the
                  upstream (its request body is read and dropped); later ones pass through
  redirect-blobs  blob GETs are answered 307 with Location http://REDIRECT_HOST:PORT2/<same path and
                  query>; the proxy also listens on --redirect-host (another origin) on a second
                  kernel-chosen port, where requests are passed to the upstream without the client's
                  Authorization (with Basic --upstream-auth instead, if given) and no fault; they are
                  logged with listener = the redirect host
  patch-201       PATCH requests are forwarded; an upstream 202 reaches the client as 201
  relative-locations  every absolute Location the upstream sends reaches the client as a path
                  (/v2/…?…), which the distribution spec allows
  chunk-min       upload starts (POST …/blobs/uploads/ answered 202) carry OCI-Chunk-Min-Length: 300000
  expire-once     the first blob GET sent with a Bearer token is answered 401 with the challenge the
                  upstream gives without one (plus error="invalid_token"), as a registry answers an
                  expired token; everything else passes through
Python 3.11 standard library only.
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import re
import signal
import socket
import sys
import threading
import urllib.parse

FAULTS = ("corrupt-blob", "truncate-blob", "cut-once", "429-once", "redirect-blobs", "patch-201", "expire-once",
          "relative-locations", "chunk-min")
BLOB_PATH = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect"}
PIECE = 65536
TOO_MANY = json.dumps({"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}).encode()


class State:
    """What the whole proxy shares: options, the log, and which requests a once-fault has seen."""

    def __init__(self, args):
        host, _, port = args.upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.upstream_name = args.upstream
        self.fault = None if args.fault in (None, "none") else args.fault
        self.redirect_host = args.redirect_host
        self.redirect_port = None  # set once that listener is bound
        self.upstream_auth = ("Basic " + base64.b64encode(args.upstream_auth.encode()).decode()
                              if args.upstream_auth else None)
        self.lock = threading.Lock()
        self.log = open(args.log, "a", encoding="utf-8")
        self.seen = set()  # 429-once: (method, path); cut-once: digests already cut

    def first(self, key):
        """True the first time `key` is asked about."""
        with self.lock:
            if key in self.seen:
                return False
            self.seen.add(key)
            return True

    def record(self, entry):
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()


class UpstreamGone(Exception):
    pass


def make_handler(state, listener, redirect_side):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):  # quiet: tests read --log instead
            pass

        # --- the client's request body ---------------------------------------------------------

        def client_chunked(self):
            return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

        def request_body(self):
            """The client's request body in pieces (chunked decoded); raises ConnectionError if the
            client goes away mid-body."""
            if self.client_chunked():
                while True:
                    line = self.rfile.readline(PIECE + 1)
                    if not line:
                        raise ConnectionError("client closed mid-body")
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(PIECE + 1) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return
                    yield from self.read_exactly(size)
                    self.rfile.readline(PIECE + 1)  # the CRLF after the chunk
            else:
                yield from self.read_exactly(int(self.headers.get("Content-Length") or 0))

        def read_exactly(self, length):
            while length > 0:
                data = self.rfile.read(min(length, PIECE))
                if not data:
                    raise ConnectionError("client closed mid-body")
                length -= len(data)
                yield data

        # --- answering --------------------------------------------------------------------------

        def record(self, status, fault=None):
            self.recorded = True
            state.record({"listener": listener, "method": self.command, "path": self.path,
                          "auth": "Authorization" in self.headers, "range": self.headers.get("Range"),
                          "length": int(self.headers["Content-Length"]) if (self.headers.get("Content-Length") or "").isdigit() else None,
                          "status": status, "fault": fault})

        def small(self, status, reason, headers=(), body=b"", fault=None):
            self.record(status, fault)
            self.send_response_only(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def serve(self):
            try:
                self.answer()
            except ConnectionError:
                if not self.recorded:
                    self.record(None)  # the client went away before an answer: status null
                raise

        def answer(self):
            self.recorded = False
            path = urllib.parse.urlsplit(self.path).path
            fault = None if redirect_side else state.fault
            if fault == "429-once" and state.first((self.command, path)):
                for _ in self.request_body():
                    pass
                return self.small(429, "Too Many Requests", [("Content-Type", "application/json"),
                                                             ("Retry-After", "1")], TOO_MANY, "429-once")
            if (fault == "expire-once" and self.command == "GET" and BLOB_PATH.match(path)
                    and self.headers.get("Authorization", "").startswith("Bearer ") and state.first("expire-once")):
                return self.small(401, "Unauthorized", [("Content-Type", "application/json"),
                                                        ("WWW-Authenticate", self.challenge() + ',error="invalid_token"')],
                                  json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "token expired"}]}).encode(), fault)
            try:
                conn, resp = self.forward()
            except UpstreamGone:
                return self.small(502, "Bad Gateway")
            try:
                blob = BLOB_PATH.match(path)
                blob_get = self.command == "GET" and blob is not None and resp.status == 200
                status, reason, applied = resp.status, resp.reason, None
                if blob_get and fault in ("corrupt-blob", "truncate-blob"):
                    applied = fault
                elif blob_get and fault == "cut-once" and state.first(blob.group(1)):
                    applied = fault
                elif blob_get and fault == "redirect-blobs":
                    location = "http://%s:%d%s" % (state.redirect_host, state.redirect_port, self.path)
                    return self.small(307, "Temporary Redirect", [("Location", location)], fault=fault)
                elif fault == "patch-201" and self.command == "PATCH" and status == 202:
                    status, reason, applied = 201, "Created", fault
                elif fault == "relative-locations" and resp.getheader("Location"):
                    applied = fault
                elif fault == "chunk-min" and self.command == "POST" and status == 202 and path.endswith("/blobs/uploads/"):
                    applied = fault
                self.relay(resp, status, reason, applied)
            finally:
                resp.close()
                conn.close()

        def challenge(self):
            """The WWW-Authenticate the upstream answers this path without credentials."""
            conn = http.client.HTTPConnection(*state.upstream, timeout=60)
            try:
                conn.request("GET", self.path, headers={"Host": self.headers.get("Host", "")})
                resp = conn.getresponse()
                resp.read()
                return resp.getheader("WWW-Authenticate") or 'Bearer realm="unknown"'
            finally:
                conn.close()

        def forward(self):
            """Sends this request to the upstream; returns (connection, response)."""
            conn = http.client.HTTPConnection(*state.upstream, timeout=600)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                has_host = False
                for name, value in self.headers.items():
                    lower = name.lower()
                    if lower in HOP_BY_HOP or (lower == "content-length" and self.client_chunked()):
                        continue
                    if lower == "authorization" and redirect_side:
                        continue
                    has_host = has_host or lower == "host"
                    conn.putheader(name, value)
                if not has_host:
                    conn.putheader("Host", state.upstream_name)
                if redirect_side and state.upstream_auth:
                    conn.putheader("Authorization", state.upstream_auth)
                if self.client_chunked():
                    conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
            except OSError as e:
                conn.close()
                for _ in self.request_body():
                    pass
                raise UpstreamGone() from e
            sending = True
            try:
                for data in self.request_body():
                    if sending:
                        try:
                            conn.send(b"%x\r\n%s\r\n" % (len(data), data) if self.client_chunked() else data)
                        except OSError:
                            sending = False  # the upstream may have answered early; keep reading the client
            except ConnectionError:
                conn.close()  # the client went away mid-body: nothing to answer
                raise
            if sending and self.client_chunked():
                try:
                    conn.send(b"0\r\n\r\n")
                except OSError:
                    pass
            try:
                return conn, conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise UpstreamGone() from e

        def relay(self, resp, status, reason, fault):
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            length = resp.getheader("Content-Length")
            length = int(length) if length is not None and length.strip().isdigit() else None
            upstream = "http://" + state.upstream_name
            here = "http://" + (self.headers.get("Host") or "%s:%d" % self.server.server_address[:2])
            for i, (name, value) in enumerate(headers):
                if name.lower() == "location" and (value == upstream or value.startswith(upstream + "/")
                                                   or value.startswith(upstream + "?")):
                    headers[i] = (name, here + value[len(upstream):])
                if name.lower() == "location" and fault == "relative-locations" and "://" in headers[i][1]:
                    rest = headers[i][1].split("://", 1)[1]
                    headers[i] = (name, rest[rest.find("/"):] if "/" in rest else "/")
            if fault == "chunk-min":
                headers.append(("OCI-Chunk-Min-Length", "300000"))
            no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
            body = None
            if fault == "truncate-blob" and length is None:
                body = self.read_all(resp)  # length unknown (not docker-registry's way): learn it
                length = len(body)
            limit = None  # how many body bytes the client gets
            if fault in ("truncate-blob", "cut-once"):
                limit = length // 2 if length is not None else 0
            if fault == "truncate-blob":
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(limit)))
            flip = (length // 2 if length is not None else 0) if fault == "corrupt-blob" else None
            chunked = not no_body and length is None and resp.chunked and self.request_version == "HTTP/1.1"
            close_delimited = not no_body and length is None and not chunked
            if chunked:
                headers.append(("Transfer-Encoding", "chunked"))
            if close_delimited:
                headers.append(("Connection", "close"))
            self.record(status, fault)
            self.send_response_only(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if no_body:
                return
            sent, broken = 0, False
            while limit is None or sent < limit:
                want = PIECE if limit is None else min(PIECE, limit - sent)
                if body is not None:
                    data = body[sent:sent + want]
                else:
                    try:
                        data = resp.read(want)
                    except (OSError, http.client.HTTPException):
                        data, broken = b"", True
                if not data:
                    break
                if flip is not None and sent <= flip < sent + len(data):
                    data = bytearray(data)
                    data[flip - sent] ^= 0xFF
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                sent += len(data)
            if fault == "cut-once":
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                finally:
                    self.connection.close()
                return
            if chunked and not broken:
                self.wfile.write(b"0\r\n\r\n")
            if broken or close_delimited or (limit is None and length is not None and sent < length):
                self.close_connection = True  # the upstream ended early: let the client see it

        def read_all(self, resp):
            try:
                return resp.read()
            except http.client.IncompleteRead as e:
                return e.partial

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = serve

        recorded = False

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that goes away, or a connection a fault cut, is no news; anything else is a bug here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the registry")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--fault", choices=("none",) + FAULTS)
    parser.add_argument("--redirect-host", default="127.0.0.2")
    parser.add_argument("--upstream-auth", help="USER:PASSWORD, sent as Basic auth by the redirect listener")
    parser.add_argument("--port", type=int, default=0, help="listen on this port instead of one the kernel chooses")
    args = parser.parse_args()
    # A parent that spawned us from a thread with signals blocked (dispatch's worker threads do)
    # passed that mask on: without this, "serves until killed" would need SIGKILL.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
    state = State(args)
    server = Server(("127.0.0.1", args.port), make_handler(state, "127.0.0.1", False))
    if state.fault == "redirect-blobs":
        other = Server((args.redirect_host, 0), make_handler(state, args.redirect_host, True))
        state.redirect_port = other.server_address[1]
        threading.Thread(target=other.serve_forever, daemon=True).start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
