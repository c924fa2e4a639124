# A counting HTTP proxy on 127.0.0.1 in front of the S3 test server, for
# scripts/bench_object_store.sh: forwards every request unchanged (the Host header too, so
# signatures hold) and appends `METHOD path status request-bytes response-bytes` to a log.
#   python3 scripts/count_proxy.py LISTEN_PORT UPSTREAM_PORT LOG
import http.client, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
listen, upstream, logpath = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline(); break
                chunks.append(self.rfile.read(size)); self.rfile.readline()
            body = b"".join(chunks)
        c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
        c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() in ("transfer-encoding",): continue
            c.putheader(k, v)
        if body is not None and self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse(); data = r.read()
        with lock, open(logpath, "a") as f:
            f.write(f"{self.command} {self.path} {r.status} {len(body or b'')} {len(data)}\n")
        self.send_response_only(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("transfer-encoding", "content-length", "connection"): continue
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)) if self.command != "HEAD" else (r.getheader("Content-Length") or "0"))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(data)
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any
ThreadingHTTPServer(("127.0.0.1", listen), H).serve_forever()
