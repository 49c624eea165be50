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


def _send(req):
    """The answer's status and body, an HTTP error's included."""
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


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
        status, raw = _send(req)
        data = json.loads(raw) if raw else {}
        assert status == expect, f"{method} {path} -> {status}, expected {expect}: {raw[:300]!r}"
        return data

    def get_bytes(self, path, expect=200):
        req = urllib.request.Request(self.url + path, method="GET")
        req.add_header("Authorization", f"Bearer {self.token}")
        status, raw = _send(req)
        assert status == expect, f"GET {path} -> {status}, expected {expect}: {raw[:300]!r}"
        return raw

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


def bundle_records(raw):
    """The records of an evidence bundle (docs/bundle.md), framing only: the signatures are
    `gridsync verify`'s to check. Each record is its JSON body (with `kind`)."""
    assert raw[:8] == b"GSBUNDLE" and raw[8] == 1, raw[:9]
    records, at = [], 9
    while at < len(raw):
        n = int.from_bytes(raw[at:at + 4], "big")
        records.append(json.loads(raw[at + 4:at + 4 + n]))
        at += 4 + n + 64
    assert at == len(raw), "framing"
    return records


def signer_of_changes(url, case_id, device_id):
    """As the county dispatcher, fetch the case's evidence bundle and return the device
    each change pushed by `device_id` is signed by (per its key record)."""
    records = bundle_records(Staff(url, "chen.dispatch").get_bytes(f"/v1/cases/{case_id}/bundle"))
    keys = {r["public_key"]: r for r in records if r["kind"] == "key"}
    signers = set()
    for r in records:
        if r["kind"] == "change" and r["device_id"] == device_id:
            assert r["signer"] and r["signature"], f"an unsigned change from {device_id}: {r['hash']}"
            signers.add(keys[r["signer"]]["device_id"])
    return signers
