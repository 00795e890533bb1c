#!/usr/bin/env python3
"""Serve a directory read-only over HTTP on 127.0.0.1, with fault injection, for strata's tests.

usage: http-server.py [--log FILE] [--peak FILE] DIR

Listens on 127.0.0.1 on a port the OS chooses, prints exactly one line `PORT` on stdout (flushed)
once it accepts connections, and serves DIR (GET and HEAD, HTTP/1.1 keep-alive, threaded, no
request log on stderr) until it is killed. `--log FILE` appends one line per request to FILE:
`METHOD PATH STATUS` (PATH without the leading slash, as the client sent it), so a test can count
attempts. `--peak FILE` keeps in FILE the most requests the server was answering at once so far:
each counts from its arrival until its status is decided (after any delay), so a client that waits
for every answer before its next request is never seen more than once.

Fault injection: DIR/.faults, a JSON object, is re-read on every request (absent or empty = no
faults; the file itself is never served). Each kind maps a path (relative to DIR, no leading slash,
as requested) or "*" (any path without an entry of its own) to a list that is consumed one element
per request to that path: the n-th request gets the n-th element, requests past the end of the list
get no fault, and an element 0 or null means "no fault for this request". Counters start again
whenever the content of .faults changes.

  {"fail":     {"pool/x.deb": [500, 500]},  answer with this HTTP status (empty body) instead of the file
   "delay":    {"pool/x.deb": [2.5]},       wait this many seconds before answering
   "stall":    {"pool/x.deb": [3]},         send the headers and half the body, then wait this many seconds
                                            before sending the rest
   "truncate": {"pool/x.deb": [100]},       send the full Content-Length but only this many bytes of the
                                            body, then close the connection
   "corrupt":  {"pool/x.deb": [1]},         flip the bits of the body's first byte (same length)
   "chunked":  {"pool/x.deb": [1]},         send the body chunked (no Content-Length), in chunks of at
                                            most 64 KiB; with "truncate", end after that many bytes
                                            without the final empty chunk
   "redirect": {"pool/x.deb": ["other/y"]}} answer 302 with Location: /other/y

Kinds combine in the order delay, fail, redirect, then the body faults (corrupt, chunked, stall,
truncate).
Python 3.11 standard library only.
"""
import http.server, json, os, signal, socket, sys, threading, time, urllib.parse

FAULT_KINDS = ("delay", "fail", "redirect", "corrupt", "chunked", "stall", "truncate")


class Faults:
    """The current .faults and how many requests each (kind, key) has answered since it changed."""

    def __init__(self, directory):
        self.path = os.path.join(directory, ".faults")
        self.lock = threading.Lock()
        self.content = None
        self.counters = {}

    def take(self, request_path):
        """The fault of each kind for this request: {kind: value} without the kinds that do not apply."""
        try:
            with open(self.path, "rb") as f:
                content = f.read()
        except FileNotFoundError:
            content = b""
        with self.lock:
            if content != self.content:
                self.content, self.counters = content, {}
            table = json.loads(content) if content.strip() else {}
            taken = {}
            for kind in FAULT_KINDS:
                entries = table.get(kind) or {}
                key = request_path if request_path in entries else ("*" if "*" in entries else None)
                if key is None:
                    continue
                n = self.counters.get((kind, key), 0)
                self.counters[(kind, key)] = n + 1
                values = entries[key]
                if n < len(values) and values[n] not in (0, None):
                    taken[kind] = values[n]
            return taken


class InHand:
    """How many requests are being answered now, and the most at once so far (written to a file)."""

    def __init__(self, path):
        self.path, self.lock, self.now, self.peak = path, threading.Lock(), 0, 0

    def enter(self):
        with self.lock:
            self.now += 1
            if self.now > self.peak:
                self.peak = self.now
                with open(self.path, "w") as f:
                    f.write(str(self.peak))

    def leave(self):
        with self.lock:
            self.now -= 1


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    faults = None  # set in main
    log_file = None
    in_hand = None  # an InHand with --peak

    def log_message(self, format, *args):  # quiet: tests read --log instead
        pass

    def relative_path(self):
        return urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")

    def record(self, status):
        if getattr(self, "counted", False):
            self.counted = False
            Handler.in_hand.leave()
        if Handler.log_file:
            with open(Handler.log_file, "a") as f:
                f.write(f"{self.command} {self.relative_path()} {status}\n")

    def do_HEAD(self):
        self.answer(send_body=False)

    def do_GET(self):
        self.answer(send_body=True)

    def answer(self, send_body):
        if Handler.in_hand:
            Handler.in_hand.enter()
            self.counted = True
        try:
            self.respond(send_body)
        finally:
            if getattr(self, "counted", False):
                self.counted = False
                Handler.in_hand.leave()

    def respond(self, send_body):
        relative = self.relative_path()
        taken = self.faults.take(relative)
        if "delay" in taken:
            time.sleep(float(taken["delay"]))
        if "fail" in taken:
            return self.empty(int(taken["fail"]))
        if "redirect" in taken:
            self.record(302)
            self.send_response(302)
            self.send_header("Location", "/" + urllib.parse.quote(str(taken["redirect"])))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if relative == ".faults" or relative.split("/")[0] == ".." or "/../" in "/" + relative + "/":
            return self.empty(404)
        full = os.path.join(self.directory, relative)
        if not os.path.isfile(full):
            return self.empty(404)
        with open(full, "rb") as f:
            body = bytearray(f.read())
        if "corrupt" in taken and body:
            body[0] ^= 0xFF
        self.record(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if "chunked" in taken:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not send_body:
            return
        if "chunked" in taken:
            end = int(taken.get("truncate", len(body)))
            for start in range(0, end, 65536):
                chunk = body[start:min(start + 65536, end)]
                self.wfile.write(b"%x\r\n" % len(chunk) + bytes(chunk) + b"\r\n")
            if "truncate" in taken:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.wfile.write(b"0\r\n\r\n")
            return
        if "truncate" in taken:
            self.wfile.write(body[: int(taken["truncate"])])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if "stall" in taken:
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            time.sleep(float(taken["stall"]))
            self.wfile.write(body[half:])
            return
        self.wfile.write(body)

    def empty(self, status):
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that goes away, or a connection a fault cut, is no news; anything else is a bug here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def main():
    args = sys.argv[1:]
    while len(args) >= 2 and args[0] in ("--log", "--peak"):
        if args[0] == "--log":
            Handler.log_file = os.path.abspath(args[1])
        else:
            Handler.in_hand = InHand(os.path.abspath(args[1]))
        args = args[2:]
    if len(args) != 1 or not os.path.isdir(args[0]):
        sys.exit("usage: http-server.py [--log FILE] [--peak FILE] DIR")
    directory = os.path.abspath(args[0])
    # A parent that spawned us from a thread with signals blocked (dispatch's worker threads do)
    # passed that mask on: without this, "runs until killed" would need SIGKILL.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
    Handler.faults = Faults(directory)

    def handler(*a, **kw):
        return Handler(*a, directory=directory, **kw)

    server = Server(("127.0.0.1", 0), handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
