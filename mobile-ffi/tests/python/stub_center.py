"""A stand-in for the county center's HTTP API, scripted per test (standard library only).

It speaks the contract the client codes against (`/v1/auth/login`, `/v1/auth/refresh`,
`/v1/auth/logout`, `/v1/sync`), records every request it receives, and answers either by
default (valid tokens, rotating refresh tokens, empty sync pages) or from a script of canned
answers queued per path. It knows nothing of CBOR: sync answers are bodies made by the core's
encoder, read from the directory in $GRIDSYNC_FIXTURES.
"""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER = {
    "id": "u-wang",
    "username": "wang.grid",
    "display_name": "王网格",
    "role": "GRID_WORKER",
    "org_id": "330182101201",
    "org_name": "某某村民委员会",
    "area_code": "330182101201",
}
PASSWORD = "gridsync-demo"


def fixture(name):
    with open(os.path.join(os.environ["GRIDSYNC_FIXTURES"], name), "rb") as f:
        return f.read()


class Request:
    def __init__(self, path, headers, body):
        self.path = path
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Request({self.path})"


class StubCenter:
    def __init__(self):
        self.requests = []
        self.scripts = {}
        self.serial = 0
        self.refresh_token = None
        self.access_expires_in = 900
        self.lock = threading.Lock()
        center = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                # Lower-case names: HTTP header names are case-insensitive.
                headers = {k.lower(): v for k, v in self.headers.items()}
                req = Request(self.path, headers, body)
                with center.lock:
                    center.requests.append(req)
                    status, headers, out = center.answer(req)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: `shutdown` waits for it, once per test.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- scripting ---------------------------------------------------------------------

    def script(self, path, *answers):
        """Queue canned answers for `path`: (status, body) with a dict body sent as JSON
        and bytes as they are."""
        self.scripts.setdefault(path, []).extend(answers)

    def seen(self, path):
        return [r for r in self.requests if r.path == path]

    def paths(self):
        return [r.path for r in self.requests]

    # ---- answers -----------------------------------------------------------------------

    def answer(self, req):
        queued = self.scripts.get(req.path)
        if queued:
            status, body = queued.pop(0)
            return self.encode(status, body)
        if req.path == "/v1/auth/login":
            data = req.json()
            if data.get("password") != PASSWORD:
                return self.error(401, "invalid_credentials", "wrong username or password")
            return self.encode(200, self.tokens())
        if req.path == "/v1/auth/refresh":
            data = req.json()
            if data.get("refresh_token") != self.refresh_token:
                return self.error(401, "refresh_reused", "refresh token already used")
            return self.encode(200, self.tokens())
        if req.path == "/v1/auth/logout":
            return 204, {}, b""
        if req.path == "/v1/sync":
            return 200, {"Content-Type": "application/cbor", "Content-Encoding": "zstd"}, fixture(
                "response_done.bin"
            )
        return self.error(404, "not_found", req.path)

    def tokens(self):
        self.serial += 1
        self.refresh_token = f"refresh-{self.serial}"
        return {
            "access_token": f"access-{self.serial}",
            "token_type": "Bearer",
            "expires_in": self.access_expires_in,
            "refresh_token": self.refresh_token,
            "refresh_expires_in": 30 * 24 * 3600,
            "user": USER,
        }

    def error(self, status, code, message):
        return self.encode(status, {"code": code, "message": message})

    @staticmethod
    def encode(status, body):
        if isinstance(body, (bytes, bytearray)):
            return status, {"Content-Type": "application/octet-stream"}, bytes(body)
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()
