#!/usr/bin/env python3
"""The lab's web service: GET /health, PUT/GET/DELETE /state/<key>.

State lives in Redis when STATE_BACKEND=redis (cattle: any replica serves any key), or in this
process's memory (snowflake: a restart loses it)."""
import json, os, socket, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ["HTTP_PORT"])
BACKEND = os.environ.get("STATE_BACKEND", "memory")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
STARTED = time.time()
HOST = os.environ.get("INSTANCE_NAME") or socket.gethostname()


class Redis:
    """Minimal RESP client: one connection per thread, reconnect on failure."""
    def __init__(self, port):
        self.port = port
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            c = (s, s.makefile("rb"))
            self.local.c = c
        return c

    def _cmd(self, *args):
        try:
            return self._roundtrip(args)
        except OSError:
            self.local.c = None
            return self._roundtrip(args)

    def _roundtrip(self, args):
        s, f = self._conn()
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        line = f.readline()
        if not line:
            raise OSError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)
            return data[:-2]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest

    def get(self, key):
        return self._cmd("GET", key)

    def set(self, key, value):
        self._cmd("SET", key, value)

    def delete(self, key):
        return self._cmd("DEL", key) == b"1"

    def ping(self):
        return self._cmd("PING") == b"PONG"


class Memory:
    def __init__(self):
        self.d = {}

    def get(self, key):
        return self.d.get(key)

    def set(self, key, value):
        self.d[key] = value

    def delete(self, key):
        return self.d.pop(key, None) is not None

    def ping(self):
        return True


store = Redis(REDIS_PORT) if BACKEND == "redis" else Memory()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "driftless-lab/1"

    def log_message(self, *args):
        pass

    def _send(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Served-By", HOST)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            try:
                ok = store.ping()
            except Exception as e:  # the store is down: this replica cannot serve
                return self._send(503, {"ok": False, "error": str(e), "host": HOST})
            return self._send(200 if ok else 503, {"ok": ok, "host": HOST, "backend": BACKEND,
                                                    "started": STARTED, "pid": os.getpid()})
        if self.path.startswith("/state/"):
            key = self.path[len("/state/"):]
            try:
                v = store.get("state:" + key)
            except Exception as e:
                return self._send(503, {"error": str(e)})
            if v is None:
                return self._send(404, {"error": "no such key", "key": key, "host": HOST})
            return self._send(200, v, "application/octet-stream")
        self._send(404, {"error": "not found"})

    def do_PUT(self):
        if not self.path.startswith("/state/"):
            return self._send(404, {"error": "not found"})
        key = self.path[len("/state/"):]
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        try:
            store.set("state:" + key, body)
        except Exception as e:
            return self._send(503, {"error": str(e)})
        self._send(200, {"stored": key, "host": HOST})

    def do_DELETE(self):
        # The state probe removes its keys once read: nothing of an audit piles up in the store.
        if not self.path.startswith("/state/"):
            return self._send(404, {"error": "not found"})
        key = self.path[len("/state/"):]
        try:
            existed = store.delete("state:" + key)
        except Exception as e:
            return self._send(503, {"error": str(e)})
        if not existed:
            return self._send(404, {"error": "no such key", "key": key, "host": HOST})
        self._send(200, {"deleted": key, "host": HOST})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Health checkers hang up without reading the answer; that is not worth a traceback.
        import sys
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


Server(("127.0.0.1", PORT), Handler).serve_forever()
