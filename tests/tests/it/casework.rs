//! Case work at the center (issue 13): notes (mediation records, back-to-back sessions per
//! party), corrections (研判 re-grading among them), conflicting edits from two offline
//! phones settled by a dispatcher, installments marked paid (HTTP and phone) and overdue
//! installments supervised automatically. Each is a document change that reaches the
//! phones; each door is tried from a role without it and from outside the case's scope.

use std::sync::Arc;

use gridsync_core::case::{CaseEdit, CaseId, Category, RiskLevel, Timestamp};
use gridsync_core::clock::ManualClock;
use gridsync_core::workflow::{Action, Status, SupervisionLevel};
use gridsync_tests::{Phone, Staff, TestServer};
use serde_json::json;

const DAY: i64 = 86_400_000;

/// A case of `wang.grid`'s village (one party, 张建国), submitted and synced.
fn submitted(server: &TestServer, device: &str) -> (Phone, CaseId) {
    let mut phone = Phone::login(&server.base_url(), "wang.grid", device);
    let id = phone.record("拖欠工资三个月");
    phone.store.submit(id).unwrap();
    let r = phone.sync().unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    (phone, id)
}

fn audit_details(server: &TestServer, id: CaseId, action: &str) -> Vec<String> {
    server.block_on(async {
        sqlx::query_scalar::<_, String>(
            "SELECT detail FROM audit_log WHERE case_id = $1 AND action = $2 ORDER BY seq",
        )
        .bind(id.to_string())
        .bind(action)
        .fetch_all(&server.state.db.pool())
        .await
        .unwrap()
    })
}

#[test]
fn notes_are_appended_by_who_works_the_case_and_reach_the_phone() {
    let server = TestServer::start();
    let (mut phone, id) = submitted(&server, "cw-notes");
    let case = id.to_string();
    let party = phone.store.case(id).unwrap().case.parties[0].id.clone();
    let notes = format!("/v1/cases/{case}/notes");

    // The village's mediator records a back-to-back session with the applicant.
    let li = Staff::login(&server, "li.mediator");
    let (status, body) = li.post(
        &notes,
        &json!({ "kind": "MEDIATION_BACK_TO_BACK", "party": party, "text": "单独沟通：同意分两期付清，电话13812345678" }),
    );
    assert_eq!(status, 201, "{body}");
    let note_id = body["note_id"].as_str().unwrap().to_owned();
    assert_eq!(body["case"]["back_to_back"][0]["party_id"], party.as_str());
    assert_eq!(
        body["case"]["back_to_back"][0]["note_ids"][0],
        note_id.as_str()
    );
    // Note texts are personal data: withheld in the masked view.
    assert_eq!(body["case"]["notes_masked"], true);
    assert_eq!(body["case"]["case"]["notes"][0]["text"], "");
    assert_eq!(body["case"]["case"]["notes"][0]["party"], party.as_str());

    // A dispatcher in scope records a mediation record (调解笔录).
    let chen = Staff::login(&server, "chen.dispatch");
    let (status, body) = chen.post(
        &notes,
        &json!({ "kind": "MEDIATION_RECORD", "text": "调解笔录：双方到场，核对欠薪金额。" }),
    );
    assert_eq!(status, 201, "{body}");

    // Bad input names the field; a back-to-back session without its party is refused.
    for (bad, field) in [
        (
            json!({ "kind": "MEDIATION_BACK_TO_BACK", "text": "无当事人" }),
            "party",
        ),
        (json!({ "kind": "MINUTES", "text": "x" }), "kind"),
        (json!({ "kind": "VISIT_RECORD", "text": "  " }), "text"),
    ] {
        let (status, body) = chen.post(&notes, &bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["message"].as_str().unwrap().contains(field), "{body}");
    }
    let (status, body) = chen.post(
        &notes,
        &json!({ "kind": "MEDIATION_BACK_TO_BACK", "party": "nobody", "text": "x" }),
    );
    assert_eq!(status, 404, "{body}");

    // Who may not: a grid worker (on the phone instead), a supervisor, a handler whose
    // organisation does not have the case (outside their scope: not even told it exists).
    let (status, body) =
        Staff::login(&server, "wang.grid").post(&notes, &json!({ "kind": "OTHER", "text": "x" }));
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("not_permitted")),
        "{body}"
    );
    let (status, _) =
        Staff::login(&server, "wu.super").post(&notes, &json!({ "kind": "OTHER", "text": "x" }));
    assert_eq!(status, 403);
    let (status, body) =
        Staff::login(&server, "liu.labour").post(&notes, &json!({ "kind": "OTHER", "text": "x" }));
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("case_not_found")),
        "{body}"
    );

    // The notes reach the phone at its next sync, party and all.
    phone.sync().unwrap();
    let on_phone = phone.store.case(id).unwrap().case.notes;
    assert_eq!(on_phone.len(), 2);
    assert_eq!(on_phone[0].party, party);
    assert!(on_phone[0].text.starts_with("单独沟通"));

    // An unmasked read shows the texts in full, and is audited with `notes.text`.
    let (status, body) = chen.get(&format!("/v1/cases/{case}?unmasked=true"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["notes_masked"], false);
    assert!(
        body["case"]["notes"][0]["text"]
            .as_str()
            .unwrap()
            .contains("13812345678")
    );
    let reads = audit_details(&server, id, "PERSONAL_DATA_READ");
    assert!(reads.last().unwrap().contains("notes.text"), "{reads:?}");
    // The notes' audit entries hold ids and kinds, never the text.
    let added = audit_details(&server, id, "CASE_NOTE_ADDED");
    assert_eq!(added.len(), 2);
    assert!(
        added[0].contains(&note_id) && !added[0].contains("单独沟通"),
        "{added:?}"
    );
}

#[test]
fn corrections_are_document_changes_within_what_a_role_may_write() {
    let server = TestServer::start();
    let (mut phone, id) = submitted(&server, "cw-correct");
    let case = id.to_string();
    let path = format!("/v1/cases/{case}/corrections");
    let party = phone.store.case(id).unwrap().case.parties[0].id.clone();
    let chen = Staff::login(&server, "chen.dispatch");

    let (status, body) = chen.post(
        &path,
        &json!({
            "category": "CONTRACT_DEBT",
            "risk_level": "ORANGE",
            "risk_flags": ["REPEAT"],
            "amount_involved": 1_850_000,
            "people_involved": 3,
            "address": "示范县青溪镇东岭村三组12号",
            "location": { "lat": 30.05, "lon": 119.95 },
            "parties": [
                { "id": party, "phone": "13900000000" },
                { "name": "某建筑公司", "role": "RESPONDENT" }
            ]
        }),
    );
    assert_eq!(status, 200, "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        fields.starts_with(&[
            "category",
            "risk_level",
            "risk_flags",
            "amount_involved",
            "people_involved",
            "address",
            "location"
        ]),
        "{fields:?}"
    );
    assert_eq!(fields.len(), 9, "{fields:?}");
    assert_eq!(body["case"]["case"]["category"], "CONTRACT_DEBT");
    // The answer masks what it always masks.
    assert_eq!(body["case"]["case"]["parties"][0]["phone"], "139****0000");

    // Audited by field names, never by values.
    let audited = audit_details(&server, id, "CASE_CORRECTED");
    assert_eq!(audited.len(), 1);
    assert!(audited[0].contains("amount_involved") && !audited[0].contains("1850000"));
    assert!(!audited[0].contains("13900000000"), "{audited:?}");

    // The phone receives them as ordinary changes.
    phone.sync().unwrap();
    let c = phone.store.case(id).unwrap().case;
    assert_eq!(c.category, Category::ContractDebt);
    assert_eq!(c.risk_level, RiskLevel::Orange);
    assert_eq!(c.amount_involved, 1_850_000);
    assert_eq!(c.parties.len(), 2);
    assert_eq!(c.parties[0].phone, "13900000000");
    assert_eq!(c.parties[1].name, "某建筑公司");

    // Bad values are refused naming the field, with the phone's own rules.
    for (bad, field) in [
        (json!({ "category": "WAGES" }), "category"),
        (json!({ "risk_flags": ["ANGRY"] }), "risk_flags"),
        (json!({ "amount_involved": -1 }), "amount_involved"),
        (json!({ "title": "" }), "title"),
        (
            json!({ "location": { "lat": 91.0, "lon": 0.0 } }),
            "location",
        ),
        (json!({ "parties": [{ "sex": "X" }] }), "parties[0].sex"),
        (json!({ "parties": [{ "role": "APPLICANT" }] }), "name"),
        (json!({}), "body"),
    ] {
        let (status, body) = chen.post(&path, &bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(field),
            "{bad}: {body}"
        );
    }
    let (status, _) = chen.post(&path, &json!({ "area_code": "330182102203" }));
    assert_eq!(
        status, 400,
        "the area is not corrected here (unknown field)"
    );

    // Who may not: a grid worker, a supervisor; a handler outside the case's scope.
    for user in ["wang.grid", "wu.super"] {
        let (status, _) = Staff::login(&server, user).post(&path, &json!({ "category": "OTHER" }));
        assert_eq!(status, 403, "{user}");
    }
    let liu = Staff::login(&server, "liu.labour");
    let (status, _) = liu.post(&path, &json!({ "category": "OTHER" }));
    assert_eq!(status, 404);
    // Once dispatched to labour inspection, its handler corrects parties, not fields (the
    // device table `may_edit`, the same for phones).
    let (status, body) = chen.act(&case, "ACCEPT", json!({}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = chen.act(
        &case,
        "DISPATCH",
        json!({ "to": [{ "id": "330182-labour" }] }),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = liu.post(&path, &json!({ "category": "OTHER" }));
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("not_permitted")),
        "{body}"
    );
    let (status, body) = liu.post(
        &path,
        &json!({ "parties": [{ "id": party, "ethnicity": "汉族" }] }),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn re_grading_red_undoes_a_resolve_on_the_spot() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "cw-regrade");
    let id = phone.record("邻里噪音");
    phone
        .store
        .edit(
            id,
            &CaseEdit {
                risk_level: Some(RiskLevel::Green),
                ..Default::default()
            },
        )
        .unwrap();
    phone
        .store
        .act(
            id,
            &Action::ResolveOnSite {
                outcome: "当场化解".into(),
                agreement: None,
            },
        )
        .unwrap();
    phone.sync().unwrap();
    let chen = Staff::login(&server, "chen.dispatch");
    let case = id.to_string();
    let (_, body) = chen.get(&format!("/v1/cases/{case}"));
    assert_eq!(body["state"]["status"], "SELF_RESOLVED");

    // 研判 at the center: red, with threats. The resolve on the spot no longer stands.
    let (status, body) = chen.post(
        &format!("/v1/cases/{case}/corrections"),
        &json!({ "risk_level": "RED", "risk_flags": ["THREATS"] }),
    );
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["case"]["state"]["status"], "SELF_RESOLVED", "{body}");
    phone.sync().unwrap();
    let v = phone.store.case(id).unwrap().state;
    assert_ne!(v.status, Status::SelfResolved);
    assert_eq!(
        v.status.as_code(),
        body["case"]["state"]["status"].as_str().unwrap()
    );
}

#[test]
fn two_phones_edit_one_field_offline_and_a_dispatcher_settles_it() {
    let server = TestServer::start();
    let (mut a, id) = submitted(&server, "cw-phone-a");
    let mut b = Phone::login(&server.base_url(), "wang.grid", "cw-phone-b");
    b.sync().unwrap();
    assert!(b.store.case(id).is_ok(), "the second phone holds the case");

    // Offline, each phone re-grades the category its own way; then both sync.
    a.store
        .edit(
            id,
            &CaseEdit {
                category: Some(Category::ContractDebt),
                ..Default::default()
            },
        )
        .unwrap();
    b.store
        .edit(
            id,
            &CaseEdit {
                category: Some(Category::Neighbour),
                ..Default::default()
            },
        )
        .unwrap();
    a.sync().unwrap();
    b.sync().unwrap();
    a.sync().unwrap();
    assert_eq!(
        a.store.case(id).unwrap().case.category,
        b.store.case(id).unwrap().case.category,
        "both read the same winner"
    );

    let chen = Staff::login(&server, "chen.dispatch");
    let case = id.to_string();
    let (status, body) = chen.get(&format!("/v1/cases/{case}"));
    assert_eq!(status, 200);
    let conflicts = body["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{body}");
    assert_eq!(conflicts[0]["field"], "category");
    let values = conflicts[0]["values"].as_array().unwrap();
    let mut who: Vec<(&str, &str)> = values
        .iter()
        .map(|v| {
            (
                v["value"].as_str().unwrap(),
                v["device_id"].as_str().unwrap(),
            )
        })
        .collect();
    who.sort();
    assert_eq!(
        who,
        [("CONTRACT_DEBT", "cw-phone-a"), ("NEIGHBOUR", "cw-phone-b")]
    );
    assert!(
        values
            .iter()
            .all(|v| v["user_id"] == a.user_id.as_str() && v["center"] == false)
    );
    assert!(
        values
            .iter()
            .all(|v| v["at"].as_str().unwrap().ends_with("+08:00")),
        "{values:?}"
    );
    assert_eq!(
        body["case"]["category"], values[0]["value"],
        "the winner first"
    );

    let path = format!("/v1/cases/{case}/conflicts/category");
    // Who may not: a mediator (not a dispatcher); a handler outside the scope.
    let (status, _) =
        Staff::login(&server, "li.mediator").post(&path, &json!({ "value": "CONTRACT_DEBT" }));
    assert_eq!(status, 403);
    let (status, _) =
        Staff::login(&server, "liu.labour").post(&path, &json!({ "value": "CONTRACT_DEBT" }));
    assert_eq!(status, 403);
    // Not a code; not a field in conflict.
    let (status, body) = chen.post(&path, &json!({ "value": "DEBT" }));
    assert_eq!(status, 400, "{body}");
    let (status, body) = chen.post(
        &format!("/v1/cases/{case}/conflicts/title"),
        &json!({ "value": "x" }),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("conflict_not_found")),
        "{body}"
    );

    // Settled: one change over both values.
    let winner_lost = if values[0]["value"] == "CONTRACT_DEBT" {
        "NEIGHBOUR"
    } else {
        "CONTRACT_DEBT"
    };
    let (status, body) = chen.post(&path, &json!({ "value": winner_lost }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conflicts"], json!([]));
    assert_eq!(body["case"]["category"], winner_lost);
    for phone in [&mut a, &mut b] {
        phone.sync().unwrap();
        assert_eq!(
            phone.store.case(id).unwrap().case.category.as_code(),
            winner_lost
        );
    }
    let (_, body) = chen.get(&format!("/v1/cases/{case}"));
    assert_eq!(body["conflicts"], json!([]));
    assert_eq!(audit_details(&server, id, "CONFLICT_RESOLVED").len(), 1);
}

#[test]
fn installments_are_marked_paid_and_an_overdue_one_is_supervised() {
    let t0 = Timestamp(1_795_000_000_000);
    let clock = Arc::new(ManualClock::new(t0));
    let server = TestServer::start_with_clock(clock.clone());
    let (phone, id) = submitted(&server, "cw-pay");
    let case = id.to_string();
    let chen = Staff::login(&server, "chen.dispatch");
    let liu = Staff::login(&server, "liu.labour");
    for (who, kind, payload) in [
        (&chen, "ACCEPT", json!({})),
        (
            &chen,
            "DISPATCH",
            json!({ "to": [{ "id": "330182-labour" }] }),
        ),
        (&liu, "SIGN_FOR", json!({})),
        (&liu, "START_HANDLING", json!({})),
    ] {
        let (status, body) = who.act(&case, kind, payload);
        assert_eq!(status, 200, "{kind}: {body}");
    }
    let (due1, due2) = (t0.0 + 10 * DAY, t0.0 + 20 * DAY);
    // Times in the API are RFC 3339 with an offset.
    let text = |ms: i64| server.state.county_time.stamp(ms).to_string();
    let (status, body) = liu.act(
        &case,
        "RESOLVE",
        json!({ "success": true, "outcome": "分两期支付",
                "agreement": { "form": "WRITTEN", "terms": "分两期", "installments": [
                    { "id": "", "due_at": text(due1), "amount": 300000, "paid_at": null },
                    { "id": "", "due_at": text(due2), "amount": 300000, "paid_at": null } ] } }),
    );
    assert_eq!(status, 200, "{body}");
    let items: Vec<String> = body["case"]["state"]["agreement"]["installments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let paid = |n: usize| format!("/v1/cases/{case}/installments/{}/paid", items[n]);

    // Who may not: a grid worker over HTTP (the phone does it), a handler outside the scope.
    let (status, _) = Staff::login(&server, "wang.grid").post(&paid(0), &json!({}));
    assert_eq!(status, 403);
    let (status, _) = Staff::login(&server, "zhou.judicial").post(&paid(0), &json!({}));
    assert_eq!(status, 404);
    let (status, body) = liu.post(
        &format!("/v1/cases/{case}/installments/nope/paid"),
        &json!({}),
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = liu.post(&paid(0), &json!({ "paid_at": "2099-01-01T00:00:00Z" }));
    assert_eq!(status, 400, "{body}");

    // The handling department records the first payment (an RFC 3339 time, any offset).
    clock.set(Timestamp(due1 - DAY));
    // Access tokens live minutes: sign in again on the moved clock.
    let liu = Staff::login(&server, "liu.labour");
    let (status, body) = liu.post(&paid(0), &json!({ "paid_at": "2026-11-18T08:00:00Z" }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["state"]["agreement"]["installments"][0]["paid_at"], "2026-11-18T16:00:00+08:00",
        "the instant given, in the county's offset: {body}"
    );
    assert_eq!(audit_details(&server, id, "INSTALLMENT_PAID").len(), 1);

    // The second falls due unpaid: warned, and at red supervised automatically, once.
    let scan = |at: i64| {
        clock.set(Timestamp(at));
        server
            .block_on(gridsync_server::center::warnings::scan_once(&server.state))
            .unwrap()
    };
    let r = scan(due2 - 3 * DAY);
    assert!(r.supervised.is_empty());
    let r = scan(due2 + 1);
    assert_eq!(r.supervised, [id]);
    let r = scan(due2 + DAY);
    assert!(r.supervised.is_empty(), "once");
    let chen = Staff::login(&server, "chen.dispatch");
    let (_, body) = chen.get(&format!("/v1/cases/{case}"));
    assert_eq!(
        body["state"]["supervision"],
        SupervisionLevel::Normal.as_code()
    );
    let (_, warnings) = chen.get("/v1/warnings?kind=INSTALLMENT");
    assert_eq!(warnings[0]["due_at"], text(due2), "{warnings}");
    assert_eq!(warnings[0]["level"], "RED", "{warnings}");
    assert_eq!(warnings[0]["item"], items[1].as_str(), "{warnings}");

    // The grid worker records the payment on the phone; the warning clears.
    drop(phone);
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "cw-pay-2");
    phone.sync().unwrap();
    phone
        .store
        .mark_installment_paid_now(id, &items[1])
        .unwrap();
    let r = phone.sync().unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    let r = scan(due2 + DAY + 1);
    assert!(r.cleared >= 1, "{r:?}");
    let chen = Staff::login(&server, "chen.dispatch");
    let (_, body) = chen.get(&format!("/v1/cases/{case}"));
    let installments = body["state"]["agreement"]["installments"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        installments.iter().all(|i| i["paid_at"].is_string()),
        "{installments:?}"
    );
}
