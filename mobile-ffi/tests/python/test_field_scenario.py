"""The field scenario end to end, through the generated Python bindings, against a real center:

  a grid worker signs in, records two cases with no connection, syncs; the center accepts
  and dispatches one of them to the labour inspectorate; the phone's next sync brings the
  dispatch back (status, case number, assigned department, sign-for deadline, timeline);
  the worker adds a note and syncs again. Every step asserts what it reads back.

    cargo run --bin gridsync -- serve --demo          # the demo county on 127.0.0.1:8080
    mobile-ffi/bindgen.sh python
    PYTHONPATH=target/bindings/python python3 mobile-ffi/tests/python/test_field_scenario.py \
        http://127.0.0.1:8080

Needs the demo users `wang.grid` (grid worker, village 330182101201) and `chen.dispatch`
(dispatcher, county center), password `gridsync-demo`.

The center's side (accept, dispatch) goes through its HTTP workflow API (`scenario.py`). If
the center's auto-dispatch rules already dispatched the case, the scenario does not call it.
"""

import os
import re
import sys
import tempfile
import uuid

import gridsync_ffi as g
from scenario import PASSWORD, Staff, expect_error, new_key, step

WORKER = "wang.grid"
DISPATCHER = "chen.dispatch"
VILLAGE = "330182101201"
LABOUR = {"id": "330182-labour", "name": "县人社局劳动保障监察大队"}


def main(url):
    work = tempfile.mkdtemp(prefix="gridsync-scenario-")
    phone = g.FieldClient.open(os.path.join(work, "field.db"), f"py-scenario-{uuid.uuid4()}",
                               new_key())

    step("sign in as the grid worker")
    s = phone.login(url, WORKER, PASSWORD)
    assert s.role == g.Role.GRID_WORKER, s
    assert s.area_code == VILLAGE, s
    expect_error(g.FieldError.Auth, "invalid_credentials",
                 g.FieldClient.open(os.path.join(work, "other.db"), "py-other", new_key()).login,
                 url, WORKER, "wrong password")

    step("record two cases offline")
    wages = phone.record_case(
        g.NewCase(
            title="工地拖欠三名工人工资",
            summary="包工头以工程款未结为由拖欠三名村民工资共计18000元",
            category="LABOUR_WAGES",
            risk_level="YELLOW",
            amount_involved=1_800_000,
            people_involved=4,
            parties=[
                g.PartyInput(name="张三", phone="13812345678", id_number="330182199001011234"),
                g.PartyInput(name="李四"),
                g.PartyInput(name="某建筑劳务公司", role="RESPONDENT", id_type="BUSINESS_LICENCE"),
            ],
        )
    )
    phone.add_note_of_kind(wages, "HOME_VISIT", "入户了解情况，工人提供了考勤记录")
    phone.submit_case(wages)
    fence = phone.record_case(
        g.NewCase(title="宅基地边界围墙纠纷", category="HOMESTEAD_HOUSING",
                  parties=[g.PartyInput(name="王五"), g.PartyInput(name="赵六", role="RESPONDENT")])
    )
    phone.submit_case(fence)
    pending = phone.pending()
    assert pending.cases == 2, pending
    assert all(c.unsent for c in phone.cases(g.CaseFilter())), "both unsent before the sync"

    step("sync: both cases go up")
    report = phone.sync(None)
    assert report.rejected == [], report.rejected
    assert report.acked_changes == pending.changes, (report, pending)
    assert report.unsent_changes == 0, report
    assert phone.pending() == g.PendingCounts(cases=0, changes=0)
    assert not any(c.unsent for c in phone.cases(g.CaseFilter()))

    step("the center accepts and dispatches the wages case to the labour inspectorate")
    status = phone.case_detail(wages).status
    if status != g.Status.DISPATCHED:
        center = Staff(url, DISPATCHER)
        if status == g.Status.SUBMITTED:
            center.act(wages, "ACCEPT")
        center.act(wages, "DISPATCH", {"to": [LABOUR], "tier": "COUNTY"})

    step("sync: the dispatch comes back")
    report = phone.sync(None)
    assert wages in report.updated_cases, report
    d = phone.case_detail(wages)
    assert d.status == g.Status.DISPATCHED, d.status
    assert d.case_no and re.fullmatch(r"330182-\d{8}-\d+", d.case_no), d.case_no
    assert [o.id for o in d.assigned_orgs][:1] == [LABOUR["id"]], d.assigned_orgs
    assert g.DeadlineKind.SIGN in [x.kind for x in d.deadlines], d.deadlines
    kinds = [t.kind for t in d.timeline if not t.superseded]
    assert kinds[0] == "SUBMIT" and "ACCEPT" in kinds and kinds[-1] == "DISPATCH", kinds
    # The worker's own data came through the round trip untouched.
    assert d.parties[0].phone == "13812345678", d.parties
    assert d.notes[0].kind == "HOME_VISIT", d.notes
    assert phone.case_detail(fence).status in (g.Status.SUBMITTED, g.Status.ACCEPTED,
                                               g.Status.DISPATCHED)
    listed = phone.cases(g.CaseFilter(statuses=[g.Status.DISPATCHED]))
    assert wages in [c.id for c in listed], listed

    step("add a note and sync again")
    phone.add_note(wages, "已告知工人劳动监察大队将介入")
    assert phone.pending().changes >= 1
    report = phone.sync(None)
    assert report.acked_changes >= 1 and report.unsent_changes == 0, report
    assert len(phone.case_detail(wages).notes) == 2

    step("a back-to-back session is held with one party; payments name an installment")
    applicant = phone.case_detail(wages).parties[0].id
    phone.add_note_with_party(wages, "MEDIATION_BACK_TO_BACK", applicant, "单独沟通，同意先付一半")
    notes = phone.case_detail(wages).notes
    assert (notes[-1].kind, notes[-1].party) == ("MEDIATION_BACK_TO_BACK", applicant), notes
    expect_error(g.FieldError.InvalidInput, "invalid_input", phone.add_note_of_kind,
                 wages, "MEDIATION_BACK_TO_BACK", "没有指明当事人")
    expect_error(g.FieldError.NotFound, "item_not_found", phone.add_note_with_party,
                 wages, "MEDIATION_BACK_TO_BACK", "no-such-party", "x")
    expect_error(g.FieldError.NotFound, "item_not_found", phone.mark_installment_paid,
                 wages, "no-such-installment", None)
    report = phone.sync(None)
    assert report.rejected == [], report.rejected

    step("bad input is a typed error, never a crash")
    expect_error(g.FieldError.NotFound, "case_not_found", phone.case_detail, str(uuid.uuid4()))
    expect_error(g.FieldError.InvalidInput, "invalid_code", phone.record_case,
                 g.NewCase(title="x", category="NOT_A_CATEGORY"))
    expect_error(g.FieldError.Malformed, None, phone.apply_sync_response, b"garbage")
    expect_error(g.FieldError.Network, "network", phone.sync, "http://127.0.0.1:9")

    step("sign out")
    phone.logout()
    expect_error(g.FieldError.Auth, "no_identity", phone.add_note, wages, "x")
    print("field scenario: OK")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} SERVER_URL")
    main(sys.argv[1])
