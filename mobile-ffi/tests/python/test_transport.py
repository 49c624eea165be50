"""The built-in transport and the session against a scripted stand-in center
(stub_center.py): login and identity, recording and the phone's workflow steps offline, sync
rounds with the right headers, token refresh (on expiry and on 401 token_expired), the
center's error codes, a dead refresh token, logout, and a revoked device wiping itself.

Run by `cargo test -p gridsync-ffi` (tests/python.rs).
"""

import json
import os
import re
import tempfile
import unittest
import uuid

import gridsync_ffi as g
from stub_center import PASSWORD, USER, StubCenter

DOWN = "http://127.0.0.1:9"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Transport(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.center = StubCenter()
        self.key = os.urandom(32)
        self.client = g.FieldClient.open(os.path.join(self.dir.name, "field.db"), "py-phone-1",
                                         self.key)

    def tearDown(self):
        del self.client
        self.center.close()
        self.dir.cleanup()

    def login(self):
        return self.client.login(self.center.url, USER["username"], PASSWORD)

    def record(self, title="拖欠工资", **kw):
        return self.client.record_case(g.NewCase(title=title, category="LABOUR_WAGES", **kw))

    def assertCode(self, variant, code, fn, *args):
        with self.assertRaises(variant) as caught:
            fn(*args)
        self.assertEqual(caught.exception.code, code, caught.exception)
        return caught.exception

    def test_login_sends_device_and_actor_and_sets_the_identity(self):
        s = self.login()
        self.assertEqual(s.user_id, "u-wang")
        self.assertEqual(s.role, g.Role.GRID_WORKER)
        self.assertEqual(s.area_code, "330182101201")
        self.assertEqual(s.server_url, self.center.url)
        self.assertFalse(s.needs_login)
        self.assertEqual(self.client.session(), s)

        body = self.center.seen("/v1/auth/login")[0].json()
        self.assertEqual(body["username"], "wang.grid")
        self.assertEqual(body["password"], PASSWORD)
        self.assertEqual(body["device_id"], "py-phone-1")
        self.assertEqual(len(body["actor_ids"]), 1)
        self.assertRegex(body["actor_ids"][0], r"^[0-9a-f]{32}$")
        # The installation's Ed25519 public key, registered with its actor (issue 17).
        self.assertRegex(body["signing_key"], r"^[0-9a-f]{64}$")

        # Cases are recorded as the signed-in user, in their area when none is given.
        d = self.client.case_detail(self.record())
        self.assertEqual(d.recorded_by, "u-wang")
        self.assertEqual(d.recorded_on, "py-phone-1")
        self.assertEqual(d.area_code, "330182101201")

    def test_wrong_password(self):
        self.assertCode(g.FieldError.Auth, "invalid_credentials",
                        self.client.login, self.center.url, "wang.grid", "nope")
        self.assertIsNone(self.client.session())

    def test_recording_and_the_phones_workflow_steps(self):
        self.login()
        c = self.client
        a = self.record(
            summary="包工头拖欠三名工人工资",
            risk_level="YELLOW",
            parties=[g.PartyInput(name="张三", phone="13812345678", id_number="110101199003071234"),
                     g.PartyInput(name="某建筑公司", role="RESPONDENT", id_type="BUSINESS_LICENCE")],
        )
        pid = c.add_party(a, g.PartyInput(name="李四", role="THIRD_PARTY"))
        c.edit_party(a, pid, g.PartyEdit(phone="13900000000"))
        c.edit_case(a, g.CaseEdit(amount_involved=1_250_000, difficulty="SIMPLE"))
        c.add_note(a, "电话联系包工头")
        c.add_note_of_kind(a, "HOME_VISIT", "入户走访工人")
        c.submit_case(a)

        d = c.case_detail(a)
        self.assertEqual(d.status, g.Status.SUBMITTED)
        self.assertEqual(d.category, "LABOUR_WAGES")
        self.assertEqual(d.difficulty, "SIMPLE")
        self.assertEqual(d.amount_involved, 1_250_000)
        self.assertFalse(d.high_risk)
        # Personal data as stored: it is the user's own phone.
        zhang = next(p for p in d.parties if p.name == "张三")
        self.assertEqual(zhang.id_number, "110101199003071234")
        self.assertEqual(zhang.phone, "13812345678")
        self.assertEqual(next(p for p in d.parties if p.id == pid).phone, "13900000000")
        self.assertEqual([n.kind for n in d.notes], ["OTHER", "HOME_VISIT"])
        self.assertEqual([t.kind for t in d.timeline], ["SUBMIT"])
        self.assertFalse(d.timeline[0].superseded)
        self.assertEqual(d.timeline[0].status_after, g.Status.SUBMITTED)
        self.assertEqual([x.kind for x in d.deadlines], [g.DeadlineKind.ACCEPT])
        self.assertEqual(d.deadlines[0].level, g.WarningLevel.NONE)
        self.assertGreater(d.unsent_changes, 0)

        # Resolved on the spot, then followed up by the grid worker.
        b = self.record(title="邻里噪音", risk_level="GREEN")
        c.resolve_on_site(b, "双方达成谅解")
        self.assertEqual(c.case_detail(b).status, g.Status.SELF_RESOLVED)
        self.assertCode(g.FieldError.InvalidInput, "invalid_code",
                        c.record_follow_up, b, g.FollowUpInput(method="FAX", satisfaction=5))
        self.assertCode(g.FieldError.InvalidInput, "invalid_action",
                        c.record_follow_up, b, g.FollowUpInput(satisfaction=9))
        c.record_follow_up(b, g.FollowUpInput(method="VISIT", satisfaction=5,
                                              agreement_performed=True))
        d = c.case_detail(b)
        self.assertEqual(d.status, g.Status.FOLLOWED_UP)
        self.assertEqual(d.follow_ups[0].method, "VISIT")
        self.assertEqual(d.outcome.text, "双方达成谅解")

        # The workflow refuses what the fold would supersede.
        self.assertCode(g.FieldError.Refused, "invalid_transition", c.submit_case, b)
        red = self.record(title="扬言报复", risk_level="RED")
        self.assertCode(g.FieldError.Refused, "invalid_transition", c.resolve_on_site, red, "x")

        # Typed errors for bad input on writes.
        self.assertCode(g.FieldError.NotFound, "case_not_found", c.add_note, str(uuid.uuid4()), "x")
        self.assertCode(g.FieldError.NotFound, "item_not_found",
                        c.edit_party, a, "no-such-party", g.PartyEdit(name="x"))
        self.assertCode(g.FieldError.InvalidInput, "invalid_input", c.add_note, a, "   ")
        self.assertCode(g.FieldError.InvalidInput, "invalid_input",
                        c.record_case, g.NewCase(title=""))
        self.assertCode(g.FieldError.InvalidInput, "invalid_input",
                        c.record_case, g.NewCase(title="x", area_code="123"))
        self.assertCode(g.FieldError.InvalidInput, "invalid_code", c.add_note_of_kind, a, "CHAT", "x")
        self.assertCode(g.FieldError.InvalidInput, "invalid_code",
                        c.edit_case, a, g.CaseEdit(category="WAGES"))

        # Lists.
        self.assertEqual(len(c.cases(g.CaseFilter())), 3)
        rows = c.cases(g.CaseFilter(statuses=[g.Status.SUBMITTED]))
        self.assertEqual([r.id for r in rows], [a])
        self.assertTrue(rows[0].unsent)
        self.assertIn("张三", rows[0].party_names)
        self.assertNotIn("13812345678", json.dumps([r.party_names for r in rows]))
        self.assertEqual([r.id for r in c.cases(g.CaseFilter(text="噪音"))], [b])
        self.assertEqual([r.id for r in c.cases(g.CaseFilter(risk_levels=["RED"]))], [red])
        self.assertEqual(c.pending().cases, 3)

    def test_sync_rounds_and_headers(self):
        self.login()
        self.record()
        self.center.script("/v1/sync", (200, _fixture("response_more.bin")))
        report = self.client.sync(None)
        self.assertEqual(report.rounds, 2)
        self.assertFalse(report.more)
        self.assertEqual(report.acked_changes, 0)
        self.assertEqual(report.unsent_changes, 1)

        syncs = self.center.seen("/v1/sync")
        self.assertEqual(len(syncs), 2)
        h = syncs[0].headers
        self.assertEqual(h["authorization"], "Bearer access-1")
        self.assertEqual(h["content-type"], "application/cbor")
        self.assertEqual(h["content-encoding"], "zstd")
        self.assertTrue(syncs[0].body.startswith(ZSTD_MAGIC))
        # The same outbox is offered again until the center acknowledges it.
        self.assertEqual(syncs[0].body[:4], syncs[1].body[:4])

    def test_the_sans_io_path(self):
        self.login()
        self.record()
        body = self.client.prepare_sync()
        self.assertTrue(body.startswith(ZSTD_MAGIC))
        self.assertEqual(self.client.access_token(False), "access-1")
        report = self.client.apply_sync_response(_fixture("response_more.bin"))
        self.assertTrue(report.more)
        self.assertEqual(report.rounds, 1)
        # A forced refresh rotates both tokens.
        self.assertEqual(self.client.access_token(True), "access-2")
        # The key goes with every refresh: an app updated while signed in registers it.
        login_key = self.center.seen("/v1/auth/login")[0].json()["signing_key"]
        self.assertEqual(self.center.seen("/v1/auth/refresh")[0].json(),
                         {"refresh_token": "refresh-1", "device_id": "py-phone-1",
                          "signing_key": login_key})

    def test_refresh_when_the_center_says_token_expired(self):
        self.login()
        self.center.script("/v1/sync", (401, {"code": "token_expired", "message": "expired"}))
        self.client.sync(None)
        self.assertEqual(self.center.paths()[1:],
                         ["/v1/sync", "/v1/auth/refresh", "/v1/sync"])
        auth = [r.headers.get("authorization") for r in self.center.seen("/v1/sync")]
        self.assertEqual(auth, ["Bearer access-1", "Bearer access-2"])
        # The rotated refresh token was kept: the next refresh presents it.
        self.assertEqual(self.client.access_token(True), "access-3")
        self.assertEqual(self.center.seen("/v1/auth/refresh")[1].json()["refresh_token"],
                         "refresh-2")

    def test_refresh_before_sending_when_the_token_has_expired(self):
        self.center.access_expires_in = 0
        self.login()
        self.client.sync(None)
        self.assertEqual(self.center.paths(), ["/v1/auth/login", "/v1/auth/refresh", "/v1/sync"])

    def test_a_second_401_is_not_retried_forever(self):
        self.login()
        expired = (401, {"code": "token_expired", "message": "expired"})
        self.center.script("/v1/sync", expired, expired)
        self.assertCode(g.FieldError.Auth, "token_expired", self.client.sync, None)
        self.assertEqual(len(self.center.seen("/v1/sync")), 2)

    def test_a_dead_refresh_token_keeps_offline_work_going(self):
        self.login()
        self.center.script("/v1/sync", (401, {"code": "token_expired", "message": "expired"}))
        self.center.script("/v1/auth/refresh", (401, {"code": "refresh_reused", "message": "x"}))
        self.assertCode(g.FieldError.Auth, "refresh_reused", self.client.sync, None)
        s = self.client.session()
        self.assertTrue(s.needs_login)
        self.assertEqual(s.user_id, "u-wang")
        # Recording goes on offline, as the same user, in their area.
        self.assertEqual(self.client.case_detail(self.record()).area_code, "330182101201")
        # Syncing needs a login, and says so without a round trip.
        n = len(self.center.requests)
        self.assertCode(g.FieldError.Auth, "not_signed_in", self.client.sync, None)
        self.assertEqual(len(self.center.requests), n)
        self.assertFalse(self.login().needs_login)
        self.client.sync(None)

    def test_center_error_codes(self):
        self.login()
        cases = [
            ((500, {"code": "internal", "message": "internal error"}), g.FieldError.Server, "internal"),
            ((429, {"code": "rate_limited", "message": "slow down"}), g.FieldError.Server, "rate_limited"),
            ((413, {"code": "body_too_large", "message": "too big"}), g.FieldError.Server, "body_too_large"),
            ((400, {"code": "unsupported_protocol", "message": "speaks [1]"}), g.FieldError.Server,
             "unsupported_protocol"),
            ((403, {"code": "device_mismatch", "message": "other device"}), g.FieldError.Auth,
             "device_mismatch"),
            ((502, b"<html>bad gateway</html>"), g.FieldError.Server, "http_502"),
            ((200, b"not a sync response"), g.FieldError.Malformed, None),
        ]
        for answer, variant, code in cases:
            self.center.script("/v1/sync", answer)
            with self.assertRaises(variant) as caught:
                self.client.sync(None)
            if code:
                self.assertEqual(caught.exception.code, code)
        # A center that is down.
        self.assertCode(g.FieldError.Network, "network", self.client.sync, DOWN)
        self.assertCode(g.FieldError.InvalidInput, "invalid_url", self.client.sync, "center")
        # And none of it lost the session.
        self.client.sync(None)

    def test_logout(self):
        self.login()
        a = self.record()
        self.client.logout()
        self.assertEqual(self.center.seen("/v1/auth/logout")[0].json(),
                         {"refresh_token": "refresh-1"})
        self.assertIsNone(self.client.session())
        self.assertCode(g.FieldError.Auth, "no_identity", self.record)
        self.assertCode(g.FieldError.Auth, "no_identity", self.client.add_note, a, "x")
        self.assertCode(g.FieldError.Auth, "not_signed_in", self.client.sync, None)
        # The unsent case stays, readable, for the next login to sync.
        self.assertEqual(self.client.pending().cases, 1)
        self.assertEqual(self.client.case_detail(a).title, "拖欠工资")
        self.login()
        self.client.add_note(a, "x")

    def test_logout_without_a_signal(self):
        self.login()
        self.center.close()
        self.client.logout()
        self.assertIsNone(self.client.session())
        self.center = StubCenter()  # for tearDown

    def test_a_revoked_device_wipes_itself(self):
        self.login()
        self.record()
        self.center.script("/v1/sync", (403, {"code": "device_revoked", "message": "revoked"}))
        e = self.assertCode(g.FieldError.DeviceRevoked, "device_revoked", self.client.sync, None)
        self.assertIn("wiped", e.detail)
        self.assertEqual(self.client.cases(g.CaseFilter()), [])
        self.assertEqual(self.client.pending().changes, 0)
        self.assertIsNone(self.client.session())
        self.assertCode(g.FieldError.Auth, "no_identity", self.record)
        # A fresh Automerge actor after the wipe, registered at the next login.
        self.login()
        actors = [r.json()["actor_ids"][0] for r in self.center.seen("/v1/auth/login")]
        self.assertNotEqual(actors[0], actors[1])
        self.assertTrue(re.fullmatch(r"[0-9a-f]{32}", actors[1]))

    def test_observers_hear_every_write_and_sync_and_a_throwing_one_harms_nothing(self):
        heard = []

        class Keeps(g.CaseObserver):
            def cases_changed(self, changes):
                heard.extend((c.case_id, c.reason) for c in changes)

        class Throws(g.CaseObserver):
            def cases_changed(self, changes):
                raise RuntimeError("a bug in the app's listener")

        c = self.client
        c.add_case_observer(Keeps())
        thrower = c.add_case_observer(Throws())
        self.login()
        a = self.record()
        c.add_note(a, "入户走访")
        c.submit_case(a)
        self.assertTrue(c.flush_observers(10_000))
        R = g.ChangeReason
        self.assertEqual(heard, [(a, R.RECORDED), (a, R.EDITED), (a, R.STEP_TAKEN)])
        # Each throw was caught and counted (notices that piled up are one call); the
        # writes are all there.
        failures = c.observer_failures()
        self.assertIn(failures, (1, 2, 3))
        self.assertEqual(c.case_detail(a).status, g.Status.SUBMITTED)
        self.assertTrue(c.remove_observer(thrower))
        self.assertFalse(c.remove_observer(thrower))
        # A listener that calls back into the client (here: reads the case) is fine.
        seen_titles = []

        class Reads(g.CaseObserver):
            def cases_changed(self, changes):
                seen_titles.extend(c.case_detail(x.case_id).title for x in changes)

        c.add_case_observer(Reads())
        c.edit_case(a, g.CaseEdit(title="拖欠三名工人工资"))
        self.assertTrue(c.flush_observers(10_000))
        self.assertEqual(seen_titles, ["拖欠三名工人工资"])
        self.assertEqual(c.observer_failures(), failures)

    def test_a_listener_that_blocks_holds_up_no_read_or_write(self):
        import threading
        entered, release = threading.Event(), threading.Event()

        class Blocks(g.CaseObserver):
            def cases_changed(self, changes):
                entered.set()
                release.wait(60)

        c = self.client
        self.login()
        c.add_case_observer(Blocks())
        a = self.record()
        self.assertTrue(entered.wait(30), "the listener was called")
        # The listener is stuck inside its call: the client still reads, writes and syncs.
        c.add_note(a, "入户走访")
        c.submit_case(a)
        self.assertEqual(c.case_detail(a).status, g.Status.SUBMITTED)
        c.sync(None)
        self.assertFalse(c.flush_observers(100), "notices wait behind the stuck listener")
        release.set()
        self.assertTrue(c.flush_observers(30_000))

    def test_sync_status_moves_and_next_sync_after_backs_off(self):
        statuses = []

        class Watch(g.SyncStatusObserver):
            def sync_status_changed(self, status):
                statuses.append(status)

        c = self.client
        c.add_sync_status_observer(Watch())
        self.assertEqual(c.sync_status().state, g.SyncState.SIGN_IN_NEEDED)
        self.assertIsNone(c.next_sync_after())
        self.login()
        self.record()
        st = c.sync_status()
        self.assertEqual((st.state, st.pending.cases), (g.SyncState.IDLE, 1))
        now = _now()
        self.assertLessEqual(c.next_sync_after(), now + 1000, "work waits: now")

        # Two rounds (the center has more), then done: SYNCING with rounds, then IDLE.
        self.center.script("/v1/sync", (200, _fixture("response_more.bin")))
        self.center.script("/v1/sync", (200, _fixture("response_done.bin")))
        self.assertTrue(c.flush_observers(10_000))
        del statuses[:]
        c.sync(None)
        self.assertTrue(c.flush_observers(10_000))
        states = [s.state for s in statuses]
        self.assertEqual(states[0], g.SyncState.SYNCING)
        self.assertEqual(states[-1], g.SyncState.IDLE)
        self.assertEqual(max(s.round for s in statuses), 2)
        done = c.sync_status()
        self.assertEqual((done.round, done.last_error_code, done.consecutive_failures), (2, None, 0))
        self.assertGreater(done.bytes_sent, 0)
        self.assertGreater(done.bytes_received, 0)
        self.assertIsNotNone(done.last_success_at)
        # Nothing waiting: the periodic sync, 15 minutes after the success.
        self.assertEqual(c.next_sync_after(), done.last_success_at + 15 * 60 * 1000)

        # A center that is down: OFFLINE, and retries back off (30 s, then 60 s, ...).
        for n, wait in [(1, 30_000), (2, 60_000), (3, 120_000)]:
            self.assertCode(g.FieldError.Network, "network", c.sync, DOWN)
            st = c.sync_status()
            self.assertEqual((st.state, st.last_error_code, st.consecutive_failures),
                             (g.SyncState.OFFLINE, "network", n))
            after = c.next_sync_after() - st.last_attempt_at
            self.assertTrue(wait <= after <= wait * 1.2, (n, after))
        # The status survives a restart of the app.
        del self.client
        c = self.client = g.FieldClient.open(os.path.join(self.dir.name, "field.db"), "py-phone-1",
                                             self.key)
        self.assertEqual(c.sync_status().consecutive_failures, 3)
        c.sync(None)
        self.assertEqual(c.sync_status().state, g.SyncState.IDLE)

        # Revoked: DEVICE_REVOKED, and no more syncing until someone signs in again.
        self.center.script("/v1/sync", (403, {"code": "device_revoked", "message": "revoked"}))
        self.assertCode(g.FieldError.DeviceRevoked, "device_revoked", c.sync, None)
        self.assertEqual(c.sync_status().state, g.SyncState.DEVICE_REVOKED)
        self.assertIsNone(c.next_sync_after())

    def test_steps_of_a_department_handler_are_typed_and_checked_like_the_centers(self):
        c = self.client
        self.login()
        a = self.record()
        # A grid worker's draft: submit or resolve on the spot, nothing of a handler's.
        allowed = c.allowed_actions(a)
        self.assertIn(g.EventKind.SUBMIT, allowed)
        self.assertNotIn(g.EventKind.SIGN_FOR, allowed)
        self.assertCode(g.FieldError.Refused, "not_permitted", c.sign_for, a)
        self.assertCode(g.FieldError.InvalidInput, "invalid_action", c.send_back, a, " ")
        self.assertCode(g.FieldError.InvalidInput, "invalid_action",
                        c.request_extension, a, 0, "等待鉴定")
        self.assertCode(g.FieldError.InvalidInput, "invalid_code", c.resolve_on_site, a, "和解",
                        g.AgreementInput(form="SCRIBBLED", terms="x"))
        c.resolve_on_site(a, "双方和解", g.AgreementInput(
            terms="分两期付清", installments=[g.InstallmentInput(due_at=_now() + 86_400_000,
                                                                 amount=50_000)]))
        d = c.case_detail(a)
        self.assertEqual(d.status, g.Status.SELF_RESOLVED)
        self.assertEqual(d.agreement.form, "WRITTEN")
        self.assertEqual(len(d.agreement.installments[0].id) > 0, True)
        self.assertEqual(c.allowed_actions(a), [g.EventKind.FOLLOW_UP])
        # The field rules are the core's one table.
        rules = {r.field: r for r in g.field_rules()}
        self.assertEqual((rules["title"].max_chars, rules["title"].required), (100, True))
        self.assertEqual(rules["terms"].max_chars, 4000)
        p = g.check_field("reason", "")
        self.assertEqual((p.kind, p.message_zh), (g.FieldProblemKind.MISSING, "请填写理由"))
        self.assertIsNone(g.check_field("summary", ""))
        problems = c.check_new_case(g.NewCase(title="", category="OTHER",
                                              parties=[g.PartyInput(name="")]))
        self.assertEqual([(x.field, x.party_index) for x in problems],
                         [("title", None), ("name", 0)])


def _now():
    import time
    return int(time.time() * 1000)


def _fixture(name):
    with open(os.path.join(os.environ["GRIDSYNC_FIXTURES"], name), "rb") as f:
        return f.read()


if __name__ == "__main__":
    unittest.main(verbosity=2)
