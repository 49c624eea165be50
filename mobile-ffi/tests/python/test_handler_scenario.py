"""A department handler's phone, end to end, through the generated Python bindings, against a
real center:

  a grid worker's phone files a wage dispute with a photo (uploaded after the sync, its
  progress observed); the center dispatches it to the labour
  inspectorate; the handler's phone syncs it in (its observer hears of it, its task list
  says 待签收, `allowed_actions` offers SIGN_FOR; the photo is fetched on demand), then with
  no connection signs for it,
  records a face-to-face mediation, starts handling and resolves it with an agreement in
  two installments, each step heard by the observer; a sync takes it all up (status
  SYNCING -> IDLE) and the center shows the case resolved with the phone's events; an
  installment is marked paid; the center revokes the device and the phone reports
  DEVICE_REVOKED. A too-long title is refused on the phone with the code the center uses.

    cargo run --bin gridsync -- serve --demo          # the demo county on 127.0.0.1:8080
    mobile-ffi/bindgen.sh python
    PYTHONPATH=target/bindings/python python3 mobile-ffi/tests/python/test_handler_scenario.py \
        http://127.0.0.1:8080

Needs the demo users wang.grid, chen.dispatch, liu.labour (330182-labour) and admin, password
`gridsync-demo`.
"""

import os
import queue
import sys
import tempfile
import time
import uuid

import gridsync_ffi as g
from scenario import PASSWORD, Staff, expect_error, new_key, signer_of_changes, step

LABOUR = {"id": "330182-labour", "name": "县人社局劳动保障监察大队"}
DAY = 86_400_000


class Heard(g.CaseObserver):
    """Collects what the observer is told (on the client's notice thread)."""

    def __init__(self):
        self.q = queue.Queue()

    def cases_changed(self, changes):
        for c in changes:
            self.q.put((c.case_id, c.reason))

    def drain(self, client):
        assert client.flush_observers(10_000), "observer notices not delivered in 10 s"
        out = []
        while not self.q.empty():
            out.append(self.q.get_nowait())
        return out


class Statuses(g.SyncStatusObserver):
    def __init__(self):
        self.seen = []

    def sync_status_changed(self, status):
        self.seen.append(status)


def main(url):
    work = tempfile.mkdtemp(prefix="gridsync-handler-")

    step("a grid worker files a wage dispute")
    worker_device = f"py-worker-{uuid.uuid4()}"
    worker = g.FieldClient.open(os.path.join(work, "worker.db"), worker_device, new_key())
    worker.login(url, "wang.grid", PASSWORD)
    case = worker.record_case(g.NewCase(
        title="装修队拖欠两名工人工资",
        summary="工期结束两个月，工资共计12000元未付",
        category="LABOUR_WAGES",
        risk_level="YELLOW",
        amount_involved=1_200_000,
        parties=[g.PartyInput(name="钱七", phone="13900001111"),
                 g.PartyInput(name="某装饰公司", role="RESPONDENT", id_type="BUSINESS_LICENCE")],
    ))
    # The attendance sheet, photographed: attached offline, uploaded after the sync.
    sheet = bytes([0xFF, 0xD8, 0xFF, 0xE0]) + os.urandom(300_000)
    photo = worker.attach_bytes(case, sheet, "PHOTO", "image/jpeg", "考勤表")
    worker.submit_case(case)
    progress = []

    class Uploads(g.SyncStatusObserver):
        def sync_status_changed(self, status):
            progress.append((status.evidence_bytes_sent, status.evidence_bytes))

    worker.add_sync_status_observer(Uploads())
    assert worker.sync_status().evidence_pending == 1
    assert worker.evidence_uploads()[0].state == g.UploadState.WAITING_FOR_SYNC
    assert worker.sync(None).rejected == []
    up = worker.upload_evidence(None)
    assert (up.completed, up.remaining, up.bytes_sent) == (1, 0, len(sheet)), up
    assert worker.flush_observers(10_000)
    # Progress part-way (chunk by chunk), then nothing left open.
    assert any(0 < sent < total for sent, total in progress), progress
    assert progress[-1] == (0, 0), progress
    assert worker.evidence_uploads()[0].state == g.UploadState.DONE

    step("the worker's changes reached the center signed by the worker's phone")
    assert signer_of_changes(url, case, worker_device) == {worker_device}

    step("the center dispatches it to the labour inspectorate")
    dispatcher = Staff(url, "chen.dispatch")
    state = dispatcher.call("GET", f"/v1/cases/{case}")["state"]
    if state["status"] == "SUBMITTED":
        dispatcher.call("POST", f"/v1/cases/{case}/actions", {"kind": "ACCEPT", "payload": {}})
        state = dispatcher.call("GET", f"/v1/cases/{case}")["state"]
    if state["status"] != "DISPATCHED":
        dispatcher.call("POST", f"/v1/cases/{case}/actions",
                        {"kind": "DISPATCH", "payload": {"to": [LABOUR], "tier": "COUNTY"}})

    step("the handler's phone signs in and syncs: the dispatch arrives")
    device = f"py-handler-{uuid.uuid4()}"
    key = new_key()
    phone = g.FieldClient.open(os.path.join(work, "handler.db"), device, key)
    heard, statuses = Heard(), Statuses()
    phone.add_case_observer(heard)
    phone.add_sync_status_observer(statuses)
    assert phone.sync_status().state == g.SyncState.SIGN_IN_NEEDED
    assert phone.next_sync_after() is None, "no point syncing before sign-in"
    s = phone.login(url, "liu.labour", PASSWORD)
    assert s.role == g.Role.DEPARTMENT_HANDLER and s.org_id == LABOUR["id"], s
    report = phone.sync(None)
    assert case in report.new_cases, report
    assert (case, g.ChangeReason.SYNCED_IN) in heard.drain(phone)
    d = phone.case_detail(case)
    assert d.status == g.Status.DISPATCHED, d.status
    tasks = [t for t in phone.tasks() if t.case_id == case]
    assert [(t.kind, t.step) for t in tasks] == [(g.TaskKind.SIGN, "SIGN_FOR")], tasks
    allowed = phone.allowed_actions(case)
    assert g.EventKind.SIGN_FOR in allowed and g.EventKind.SEND_BACK in allowed, allowed
    assert g.EventKind.DISPATCH not in allowed and g.EventKind.RESOLVE not in allowed, allowed

    step("the handler's phone fetches the attendance sheet on demand")
    assert phone.evidence_bytes(case, photo.id) == sheet
    for name in os.listdir(os.path.join(work, "handler.db.evidence")):
        with open(os.path.join(work, "handler.db.evidence", name), "rb") as f:
            assert sheet[:32] not in f.read(), "evidence is sealed at rest"

    step("offline: sign for, mediate, start handling, resolve with two installments")
    signed_at = int(time.time() * 1000)
    phone.sign_for(case)
    assert phone.case_detail(case).status == g.Status.SIGNED
    assert [t.kind for t in phone.tasks() if t.case_id == case] == [g.TaskKind.HANDLE]
    phone.add_note_of_kind(case, "MEDIATION_FACE_TO_FACE", "约双方到调解室面对面调解，公司同意分两期支付")
    phone.start_handling(case)
    assert g.EventKind.RESOLVE in phone.allowed_actions(case)
    expect_error(g.FieldError.InvalidInput, "invalid_action", phone.resolve, case,
                 g.ResolveInput(success=True, outcome="  "))
    phone.resolve(case, g.ResolveInput(
        success=True,
        outcome="双方达成调解协议，公司分两期支付工资12000元",
        agreement=g.AgreementInput(
            terms="某装饰公司于月底前支付6000元，次月底前支付6000元",
            installments=[g.InstallmentInput(due_at=signed_at + 10 * DAY, amount=600_000),
                          g.InstallmentInput(due_at=signed_at + 40 * DAY, amount=600_000)],
        ),
    ))
    d = phone.case_detail(case)
    assert d.status == g.Status.RESOLVED, d.status
    assert [i.amount for i in d.agreement.installments] == [600_000, 600_000], d.agreement
    assert phone.allowed_actions(case) == [], "a handler has nothing left to do on a resolved case"
    local = heard.drain(phone)
    assert local == [(case, g.ChangeReason.STEP_TAKEN), (case, g.ChangeReason.EDITED),
                     (case, g.ChangeReason.STEP_TAKEN), (case, g.ChangeReason.STEP_TAKEN)], local
    assert phone.sync_status().pending.changes >= 4
    assert phone.next_sync_after() <= int(time.time() * 1000), "work waits: sync now"

    step("sync: the steps go up; the status moves SYNCING -> IDLE")
    assert phone.flush_observers(10_000)
    statuses.seen.clear()
    report = phone.sync(None)
    assert report.rejected == [] and report.unsent_changes == 0, report
    assert phone.flush_observers(10_000)
    states = [x.state for x in statuses.seen]
    assert states[0] == g.SyncState.SYNCING and states[-1] == g.SyncState.IDLE, states
    assert statuses.seen[-1].bytes_sent > 0 and statuses.seen[-1].bytes_received > 0
    st = phone.sync_status()
    assert st.state == g.SyncState.IDLE and st.last_success_at and st.last_error_code is None, st
    assert (case, g.ChangeReason.SENT) in heard.drain(phone)

    step("the center shows the case resolved, with the phone's events")
    seen = dispatcher.call("GET", f"/v1/cases/{case}")["state"]
    assert seen["status"] == "RESOLVED", seen["status"]
    by_handler = [e["kind"] for e in seen["timeline"]
                  if e.get("by_user") == s.user_id and not e.get("superseded")]
    assert by_handler == ["SIGN_FOR", "START_HANDLING", "RESOLVE"], seen["timeline"]
    assert len(seen["agreement"]["installments"]) == 2, seen["agreement"]

    step("an installment is paid")
    first = phone.case_detail(case).agreement.installments[0].id
    phone.mark_installment_paid(case, first, None)
    assert heard.drain(phone) == [(case, g.ChangeReason.EDITED)]
    phone.sync(None)
    paid = dispatcher.call("GET", f"/v1/cases/{case}")["state"]["agreement"]["installments"][0]
    assert paid.get("paid_at"), paid

    step("a too-long title: refused on the phone with the center's own code")
    long_title = "标" * 101
    e = expect_error(g.FieldError.InvalidInput, "invalid_input", phone.record_case,
                     g.NewCase(title=long_title, category="OTHER"))
    problems = phone.check_new_case(g.NewCase(title=long_title, category="OTHER"))
    assert [(p.field, p.kind, p.code) for p in problems] == \
        [("title", g.FieldProblemKind.TOO_LONG, "invalid_input")], problems
    assert problems[0].message_zh == "标题最多 100 个字", problems[0].message_zh
    rule = next(r for r in g.field_rules() if r.field == "title")
    assert (rule.required, rule.max_chars) == (True, 100), rule
    center = dispatcher.call("POST", "/v1/cases", {"area_code": "330182101201",
                                                   "title": long_title}, expect=400)
    assert center["code"] == e.code == "invalid_input", center

    step("the center revokes the device: the phone wipes itself and says so")
    admin = Staff(url, "admin")
    admin.call("POST", f"/v1/devices/{device}/revoke", {})
    expect_error(g.FieldError.DeviceRevoked, "device_revoked", phone.sync, None)
    st = phone.sync_status()
    assert st.state == g.SyncState.DEVICE_REVOKED, st
    assert phone.next_sync_after() is None
    assert (case, g.ChangeReason.REVOKED) in heard.drain(phone)
    expect_error(g.FieldError.NotFound, "case_not_found", phone.case_detail, case)
    assert phone.observer_failures() == 0
    print("handler scenario: OK")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} SERVER_URL")
    main(sys.argv[1])
