#!/usr/bin/env python3
"""faultproxy.py: a loopback HTTP proxy in front of serve.mjs (Miniflare)
that speaks the shape of Cloudflare's v4 Workers KV API and injects
faults on command.  Python 3 standard library only.

It listens on 127.0.0.1 on two free ports and prints one line
    API_BASE CONTROL_URL
for example "http://127.0.0.1:41234/client/v4 http://127.0.0.1:41235",
then serves until SIGTERM or SIGINT.  kvfs's api_base is API_BASE.

Routing.  A request for
    <anything>/accounts/ACCOUNT/storage/kv/namespaces/ID/REST
goes to Miniflare's explorer as .../cdn-cgi/explorer/api/storage/kv/
namespaces/ID/REST (the explorer has no account segment), except what
the explorer lacks, which goes to the gaps worker (gaps.worker.mjs) as
/gaps/ID/REST: PUT of a value with expiration or expiration_ttl,
GET metadata/KEY, PUT bulk, POST bulk/delete, DELETE bulk.  With
--token T, a request whose Authorization is not "Bearer T" gets 403
with code 10000, as Cloudflare answers a bad token.

Faults.  The control port answers GET /set?mode=M&... (then 200 "ok"):
  mode=pass                       forward everything (the default)
  mode=down                       stop listening: connections are refused
  mode=delay&ms=N                 wait N ms before forwarding each request
  mode=status&code=C[&retry_after=S][&body=TEXT]
                                  answer C (429, 500, 503, 401, 403...)
                                  with a Cloudflare-like JSON error
  mode=cut                        forward, then send the answer's headers
                                  and half its body, and close the socket
and for every mode but pass and down:
  count=K    only the next K matching requests (then back to pass);
             default: every one until the next /set
  method=M   only requests with method M
  path=S     only requests whose path (still percent-encoded) contains S
GET /log answers the requests seen since the last GET /clear, one JSON
object a line: t (seconds, monotonic clock), method, path, key (the
decoded key for values/ and metadata/ requests), status (what the
client got; 0 for a cut answer), fault (the mode applied or "pass"),
auth (true when the Authorization header was the expected one).
GET /state answers the current mode as JSON.

TODO: mode=cut cuts only answers; a request body cut on its way up (a
PUT interrupted while kvfs sends it) is not simulated, so that path of
the client is tested only through mode=down.
"""

import argparse
import http.client
import http.server
import json
import signal
import socket
import sys
import threading
import time
import urllib.parse

KV_MARK = "/storage/kv/namespaces/"


class Control:
    """The fault in force and the log of requests; one lock guards all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = {"mode": "pass"}
        self.remaining = -1  # requests the fault applies to; -1: all
        self.log = []

    def set(self, params):
        with self.lock:
            self.mode = params
            self.remaining = int(params.get("count", -1))

    def take(self, method, path):
        """The fault for this request, counted; or {"mode": "pass"}."""
        with self.lock:
            m = self.mode
            if m["mode"] in ("pass", "down"):
                return {"mode": "pass"}
            if "method" in m and m["method"] != method:
                return {"mode": "pass"}
            if "path" in m and m["path"] not in path:
                return {"mode": "pass"}
            if self.remaining == 0:
                return {"mode": "pass"}
            if self.remaining > 0:
                self.remaining -= 1
                if self.remaining == 0:
                    self.mode = {"mode": "pass"}
            return dict(m)

    def record(self, entry):
        with self.lock:
            self.log.append(entry)


def split_kv_path(path):
    """(namespace id, rest) of a KV API path, or None."""
    p = path.split("?", 1)[0]
    i = p.find(KV_MARK)
    if i < 0:
        return None
    ns, _, rest = p[i + len(KV_MARK):].partition("/")
    return ns, rest


def route(method, path, upstream_explorer):
    """The upstream path for a client's path: explorer or gaps worker."""
    parts = split_kv_path(path)
    if parts is None:
        return None
    ns, rest = parts
    query = path.split("?", 1)[1] if "?" in path else ""
    params = urllib.parse.parse_qs(query)
    to_gaps = (
        (rest.startswith("values/") and method == "PUT" and
         ("expiration" in params or "expiration_ttl" in params)) or
        (rest.startswith("metadata/") and method == "GET") or
        (rest == "bulk" and method in ("PUT", "DELETE")) or
        (rest == "bulk/delete" and method == "POST"))
    if to_gaps:
        return "/gaps/%s/%s%s" % (ns, rest, "?" + query if query else "")
    return "%s%s%s%s" % (upstream_explorer, KV_MARK, ns,
                         "/" + rest + ("?" + query if query else ""))


def key_of(path):
    parts = split_kv_path(path)
    if parts is None:
        return None
    rest = parts[1]
    for head in ("values/", "metadata/"):
        if rest.startswith(head):
            return urllib.parse.unquote(rest[len(head):], errors="replace")
    return None


def error_body(code, message):
    return json.dumps({"success": False,
                       "errors": [{"code": code, "message": message}],
                       "messages": [], "result": None}).encode()


def make_api_handler(ctl, upstream_host, upstream_port, explorer, token):
    class ApiHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        open_sockets = set()  # guarded by ctl.lock; mode=down closes them

        def setup(self):
            super().setup()
            # Headers and body go out in separate writes: without this,
            # Nagle's algorithm and delayed ACKs cost 40 ms an answer.
            self.connection.setsockopt(socket.IPPROTO_TCP,
                                       socket.TCP_NODELAY, 1)
            self.upstream = None  # one kept-alive connection per client's
            with ctl.lock:
                self.open_sockets.add(self.connection)

        def finish(self):
            with ctl.lock:
                self.open_sockets.discard(self.connection)
            if self.upstream is not None:
                self.upstream.close()
            super().finish()

        def log_message(self, fmt, *args):
            pass

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def answer(self, status, headers, body, cut=False):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            if cut:
                self.send_header("Connection", "close")
            self.end_headers()
            if cut:
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.wfile.write(body)

        def handle_any(self):
            start = time.monotonic()
            body = self.read_body()
            method, path = self.command, self.path
            auth = self.headers.get("Authorization") == "Bearer %s" % token \
                if token is not None else True
            fault = ctl.take(method, path)
            entry = {"t": start, "method": method, "path": path,
                     "key": key_of(path), "fault": fault["mode"],
                     "auth": auth}

            if fault["mode"] == "delay":
                time.sleep(int(fault.get("ms", 1000)) / 1000)
            if fault["mode"] == "status":
                code = int(fault.get("code", 500))
                headers = [("Content-Type", "application/json")]
                if "retry_after" in fault:
                    headers.append(("Retry-After", fault["retry_after"]))
                msg = fault.get("body", "injected %d" % code)
                entry["status"] = code
                ctl.record(entry)
                self.answer(code, headers, error_body(10000 + code, msg))
                return
            if not auth:
                entry["status"] = 403
                ctl.record(entry)
                self.answer(403, [("Content-Type", "application/json")],
                            error_body(10000, "Authentication error"))
                return

            target = route(method, path, explorer)
            if target is None:
                entry["status"] = 404
                ctl.record(entry)
                self.answer(404, [("Content-Type", "application/json")],
                            error_body(7003, "No route for that URI"))
                return
            status, headers, rbody = self.forward(method, target, body)
            cut = fault["mode"] == "cut"
            entry["status"] = 0 if cut else status
            ctl.record(entry)
            self.answer(status, headers, rbody, cut=cut)

        def forward(self, method, target, body):
            headers = {}
            if self.headers.get("Content-Type"):
                headers["Content-Type"] = self.headers["Content-Type"]
            for attempt in (1, 2):
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(
                        upstream_host, upstream_port, timeout=120)
                try:
                    self.upstream.request(method, target, body=body,
                                          headers=headers)
                    r = self.upstream.getresponse()
                    rbody = r.read()
                    keep = [(k, v) for k, v in r.getheaders()
                            if k.lower() in ("content-type", "retry-after")]
                    return r.status, keep, rbody
                except OSError as e:
                    # A kept-alive connection Miniflare closed: once more
                    # on a new one.
                    self.upstream.close()
                    self.upstream = None
                    if attempt == 2:
                        return 502, [("Content-Type", "application/json")], \
                            error_body(10502, "upstream: %s" % e)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = \
            handle_any

    return ApiHandler


def make_control_handler(ctl, api):
    class ControlHandler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def reply(self, text, status=200):
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
            if url.path == "/set":
                mode = q.get("mode", "pass")
                if mode not in ("pass", "down", "delay", "status", "cut"):
                    self.reply("unknown mode %s\n" % mode, 400)
                    return
                ctl.set(q)
                api.listen(mode != "down")
                self.reply("ok\n")
            elif url.path == "/log":
                with ctl.lock:
                    lines = [json.dumps(e) for e in ctl.log]
                self.reply("".join(line + "\n" for line in lines))
            elif url.path == "/clear":
                with ctl.lock:
                    ctl.log = []
                self.reply("ok\n")
            elif url.path == "/state":
                with ctl.lock:
                    state = dict(ctl.mode, remaining=ctl.remaining)
                self.reply(json.dumps(state) + "\n")
            else:
                self.reply("no such path\n", 404)

    return ControlHandler


class Api:
    """The API listener, which mode=down closes and later reopens on the
    same port, so that a client's connections are refused meanwhile."""

    def __init__(self, handler, port=0):
        self.handler = handler
        self.lock = threading.Lock()
        self.server = None
        self.port = port
        self.listen(True)

    def listen(self, on):
        with self.lock:
            if on and self.server is None:
                http.server.ThreadingHTTPServer.allow_reuse_address = True
                s = http.server.ThreadingHTTPServer(
                    ("127.0.0.1", self.port), self.handler)
                s.daemon_threads = True
                self.port = s.server_address[1]
                threading.Thread(target=s.serve_forever, daemon=True).start()
                self.server = s
            elif not on and self.server is not None:
                self.server.shutdown()
                self.server.server_close()
                self.server = None
                # Kept-alive connections go too, as when a server dies.
                for sock in list(self.handler.open_sockets):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True,
                    help="serve.mjs's URL, e.g. http://127.0.0.1:PORT/"
                    "cdn-cgi/explorer/api")
    ap.add_argument("--token", help="the API token to require")
    args = ap.parse_args()

    up = urllib.parse.urlsplit(args.upstream)
    if up.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("faultproxy.py: the upstream must be on loopback")
    explorer = up.path.rstrip("/") or "/cdn-cgi/explorer/api"

    ctl = Control()
    api = Api(make_api_handler(ctl, up.hostname, up.port or 80, explorer,
                               args.token))
    control = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), make_control_handler(ctl, api))
    control.daemon_threads = True

    print("http://127.0.0.1:%d/client/v4 http://127.0.0.1:%d" %
          (api.port, control.server_address[1]), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        control.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
