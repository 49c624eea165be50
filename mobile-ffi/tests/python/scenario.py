"""What the scenarios against a real center share: center staff over the HTTP API (a bearer
token from `POST /v1/auth/login`, JSON in and out, the expected status asserted), step
headings, and expected errors."""

import json
import os
import urllib.error
import urllib.request

PASSWORD = os.environ.get("GRIDSYNC_DEMO_PASSWORD", "gridsync-demo")


def new_key():
    """A store key: 32 random bytes (an app keeps it in the Keystore / Keychain)."""
    return os.urandom(32)


class Staff:
    def __init__(self, url, username):
        self.url = url.rstrip("/")
        self.token = None
        self.token = self.call("POST", "/v1/auth/login",
                               {"username": username, "password": PASSWORD})["access_token"]

    def call(self, method, path, body=None, expect=200):
        req = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method=method,
        )
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        data = json.loads(raw) if raw else {}
        assert status == expect, f"{method} {path} -> {status}, expected {expect}: {raw[:300]!r}"
        return data

    def act(self, case_id, kind, payload=None):
        return self.call("POST", f"/v1/cases/{case_id}/actions",
                         {"kind": kind, "payload": payload or {}})

    def status(self, case_id):
        return self.call("GET", f"/v1/cases/{case_id}")["state"]["status"]


def step(text):
    print(f"==> {text}", flush=True)


def expect_error(variant, code, fn, *args):
    """Calls `fn`, which must raise `variant` with `code` (any code if None)."""
    try:
        fn(*args)
    except variant as e:
        assert code is None or e.code == code, f"expected {code}, got {e.code}: {e.detail}"
        return e
    raise AssertionError(f"expected {variant.__name__} {code}")
