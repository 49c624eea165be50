"""The Python bindings with no center at all: opening a store, what works before anyone has
signed in, and bad input of every kind coming back as a typed FieldError, never a crash.

Run by `cargo test -p gridsync-ffi` (tests/python.rs), which generates the bindings and sets
PYTHONPATH. By hand: `mobile-ffi/bindgen.sh python && PYTHONPATH=target/bindings/python
python3 mobile-ffi/tests/python/test_offline.py`.
"""

import os
import tempfile
import threading
import unittest
import uuid

import gridsync_ffi as g

# Nothing listens on the discard port of loopback: a center that is down.
DOWN = "http://127.0.0.1:9"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Offline(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.key = os.urandom(32)
        self.client = g.FieldClient.open(os.path.join(self.dir.name, "field.db"), "py-offline-1",
                                         self.key)

    def tearDown(self):
        del self.client
        self.dir.cleanup()

    def assertFieldError(self, variant, code, fn, *args):
        with self.assertRaises(variant) as caught:
            fn(*args)
        self.assertIsInstance(caught.exception, g.FieldError)
        self.assertEqual(caught.exception.code, code, caught.exception)
        self.assertTrue(caught.exception.detail)
        return caught.exception

    def test_a_fresh_store(self):
        c = self.client
        self.assertEqual(c.device_id(), "py-offline-1")
        self.assertIsNone(c.session())
        self.assertEqual(c.pending(), g.PendingCounts(cases=0, changes=0))
        self.assertEqual(c.cases(g.CaseFilter()), [])
        # The request of an empty store is still a valid body (zstd CBOR).
        self.assertTrue(c.prepare_sync().startswith(ZSTD_MAGIC))

    def test_recording_needs_a_signed_in_user(self):
        e = self.assertFieldError(
            g.FieldError.Auth,
            "no_identity",
            self.client.record_case,
            g.NewCase(title="拖欠工资", category="LABOUR_WAGES"),
        )
        self.assertIn("sign in", e.detail)
        self.assertEqual(self.client.pending().changes, 0)

    def test_unknown_case_ids(self):
        for bad in ["", "not-a-uuid", str(uuid.uuid4()), "'; DROP TABLE cases; --"]:
            self.assertFieldError(
                g.FieldError.NotFound, "case_not_found", self.client.case_detail, bad
            )
        # A write to a malformed id is refused before anything else is looked at.
        self.assertFieldError(
            g.FieldError.NotFound, "case_not_found", self.client.submit_case, "nope"
        )

    def test_invalid_code_text(self):
        self.assertFieldError(
            g.FieldError.InvalidInput,
            "invalid_code",
            self.client.record_case,
            g.NewCase(title="x", category="LABOR_WAGES"),
        )
        self.assertFieldError(
            g.FieldError.InvalidInput,
            "invalid_code",
            self.client.record_case,
            g.NewCase(title="x", risk_flags=["ANGRY"]),
        )
        self.assertFieldError(
            g.FieldError.InvalidInput,
            "invalid_code",
            self.client.cases,
            g.CaseFilter(categories=["NOT_A_CATEGORY"]),
        )
        self.assertFieldError(
            g.FieldError.InvalidInput,
            "invalid_code",
            self.client.cases,
            g.CaseFilter(risk_levels=["PURPLE"]),
        )

    def test_garbage_sync_responses(self):
        for garbage in [b"", b"garbage", ZSTD_MAGIC + b"\x00" * 32, bytes(range(256)) * 8]:
            with self.assertRaises(g.FieldError.Malformed) as caught:
                self.client.apply_sync_response(garbage)
            self.assertTrue(caught.exception.code, garbage[:16])
        # Nothing moved.
        self.assertEqual(self.client.pending().changes, 0)

    def test_no_center(self):
        # Not signed in: refused at once, without waiting on the network.
        self.assertFieldError(g.FieldError.Auth, "not_signed_in", self.client.sync, DOWN)
        self.assertFieldError(g.FieldError.Auth, "not_signed_in", self.client.sync, None)
        self.assertFieldError(g.FieldError.Auth, "not_signed_in", self.client.access_token, False)
        # A center that is down.
        self.assertFieldError(
            g.FieldError.Network, "network", self.client.login, DOWN, "wang.grid", "x"
        )
        # Not a URL.
        for url in ["", "ftp://center", "center.example", "http://"]:
            self.assertFieldError(
                g.FieldError.InvalidInput, "invalid_url", self.client.login, url, "wang.grid", "x"
            )
        # Logging out with nobody signed in is fine.
        self.client.logout()

    def test_bad_store_paths(self):
        self.assertFieldError(
            g.FieldError.InvalidInput,
            "invalid_input",
            g.FieldClient.open,
            os.path.join(self.dir.name, "other.db"),
            " ",
            self.key,
        )
        # A directory is not a database file.
        with self.assertRaises(g.FieldError.Storage):
            g.FieldClient.open(self.dir.name, "py-offline-1", self.key)

    def test_the_store_opens_with_its_key_only(self):
        path = os.path.join(self.dir.name, "field.db")
        del self.client
        with open(path, "rb") as f:
            self.assertNotEqual(f.read(16), b"SQLite format 3\x00", "encrypted")
        self.assertFieldError(
            g.FieldError.WrongKey, "wrong_key", g.FieldClient.open, path, "py-offline-1",
            os.urandom(32))
        self.assertFieldError(
            g.FieldError.InvalidInput, "invalid_input", g.FieldClient.open, path,
            "py-offline-1", b"short")
        self.client = g.FieldClient.open(path, "py-offline-1", self.key)
        # Rekey: the old key no longer opens it, the new one does.
        new = os.urandom(32)
        self.client.rekey(new)
        del self.client
        self.assertFieldError(
            g.FieldError.WrongKey, "wrong_key", g.FieldClient.open, path, "py-offline-1",
            self.key)
        self.client = g.FieldClient.open(path, "py-offline-1", new)
        self.assertEqual(self.client.cases(g.CaseFilter()), [])

    def test_codes_and_labels(self):
        cats = g.code_list(g.CodeKind.CATEGORY)
        self.assertEqual(len(cats), 18)
        self.assertIn("LABOUR_WAGES", [c.code for c in cats])
        self.assertEqual(g.code_label(g.CodeKind.STATUS, "DISPATCHED").label_zh, "已分派")
        self.assertIsNone(g.code_label(g.CodeKind.EVENT_KIND, "FROM_A_NEWER_APP"))
        # The enums' Python names are the wire codes.
        self.assertEqual(g.Status.IN_PROGRESS.name, "IN_PROGRESS")
        self.assertEqual({c.code for c in g.code_list(g.CodeKind.STATUS)},
                         {s.name for s in g.Status})

    def test_calls_from_many_threads(self):
        errors = []

        def work():
            try:
                for _ in range(50):
                    self.client.pending()
                    self.client.cases(g.CaseFilter(open_only=True))
                    try:
                        self.client.case_detail("nope")
                    except g.FieldError.NotFound:
                        pass
            except Exception as e:  # noqa: BLE001 - any failure fails the test
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
