//! One test per attack reported against the center's sync (issue 12): each pushes what a
//! tampered phone sent, through the real `POST /v1/sync` (or login), and reads the center
//! back. The contract is DESIGN §5 "The trust boundary": a change is judged by its
//! operations against the document as its author saw it; a refused case is listed in
//! `rejected` with a code and nothing of it is kept.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value};
use gridsync_core::case::{CaseId, NoteKind};
use gridsync_core::protocol::DocChanges;
use gridsync_core::workflow::{Author, EventKind, Role, Status};
use gridsync_tests::{Phone, Staff, TestServer};
use serde_json::json;

use crate::forge::{self, load, push, raw_change, verdict};

const OP: &str = "operation_not_permitted";
const EVENT: &str = "event_not_permitted";
const INVALID: &str = "invalid_value";
const SCOPE: &str = "out_of_scope";
const ACTOR: &str = "actor_not_bound";
const TOO_LARGE: &str = "too_large";

/// The grid worker of 东岭村 on the phone that will misbehave, and a case of theirs,
/// submitted.
fn village_case(server: &TestServer, device: &str) -> (Phone, CaseId) {
    let mut phone = Phone::login(&server.base_url(), "wang.grid", device);
    let case = phone.record("邻里纠纷");
    phone.store.submit(case).unwrap();
    phone.sync().unwrap();
    (phone, case)
}

/// The county dispatcher takes a step over HTTP; it must succeed.
fn center_step(server: &TestServer, case: CaseId, kind: &str, payload: serde_json::Value) {
    let (status, body) =
        Staff::login(server, "chen.dispatch").act(&case.to_string(), kind, payload);
    assert_eq!(status, 200, "the center's {kind}: {body}");
}

fn dispatch_payload() -> serde_json::Value {
    json!({ "to": [{ "id": "330182-labour", "name": "劳动监察大队" }], "tier": "COUNTY" })
}

/// Pushes one change of `case` from `phone` and returns its verdict.
fn push_change(phone: &Phone, case: CaseId, change: Vec<u8>) -> Result<(), String> {
    let response = push(
        phone,
        vec![DocChanges {
            signatures: Vec::new(),
            doc_id: case,
            changes: vec![change],
        }],
    );
    verdict(&response, case)
}

/// A refusal with one of `codes`, or the test fails saying what the center did instead.
fn assert_refused(got: &Result<(), String>, codes: &[&str], attack: &str) {
    match got {
        Err(code) if codes.contains(&code.as_str()) => {}
        Err(code) => panic!("{attack}: refused with {code}, expected one of {codes:?}"),
        Ok(()) => panic!("{attack}: acknowledged, expected a refusal with one of {codes:?}"),
    }
}

/// The index and object of the first event of `kind` in the document's log.
fn event_of(d: &AutoCommit, kind: EventKind) -> (usize, ObjId) {
    let events = forge::list(d, "events");
    (0..d.length(&events))
        .find_map(|i| match d.get(&events, i).unwrap() {
            Some((Value::Object(ObjType::Map), e)) => match d.get(&e, "kind").unwrap() {
                Some((Value::Scalar(k), _)) if k.as_str() == Some(kind.as_code()) => Some((i, e)),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {kind} event"))
}

fn status(server: &TestServer, case: CaseId) -> Status {
    load(server, case)
        .state(&server.state.limits, server.state.clock.now())
        .status
}

#[test]
fn regression_binding_the_centers_actor_at_login_is_refused() {
    let server = TestServer::start();
    let center = server.state.actor.to_hex_string();
    let got = forge::login_with_actors(&server.base_url(), "wang.grid", "reg-bind", &[center]);
    match got {
        Err(e) => assert_eq!(
            (e.status, e.code.as_str()),
            (409, "actor_taken"),
            "binding the center's actor: {e}"
        ),
        Ok(_) => panic!(
            "a phone bound the center's own Automerge actor at login (expected 409 actor_taken)"
        ),
    }
}

#[test]
fn regression_binding_an_actor_already_in_the_change_log_is_refused() {
    let server = TestServer::start();
    let (_, case) = village_case(&server, "reg-log-wang");
    // A second server process on the same database (a restart: a fresh actor) accepts the
    // case: its actor is in the change log, and bound to no device.
    let second = TestServer::start_on(
        gridsync_tests::runtime(),
        gridsync_tests::TestDb::shared(&server.db.url),
        std::sync::Arc::new(gridsync_core::clock::SystemClock),
    );
    let (status, body) =
        Staff::login(&second, "chen.dispatch").act(&case.to_string(), "ACCEPT", json!({}));
    assert_eq!(status, 200, "{body}");
    let earlier = second.state.actor.to_hex_string();
    drop(second);
    let got = forge::login_with_actors(&server.base_url(), "wang.grid", "reg-log", &[earlier]);
    match got {
        Err(e) => assert_eq!((e.status, e.code.as_str()), (409, "actor_taken"), "{e}"),
        Ok(_) => {
            panic!("a phone bound an actor the change log already holds (expected 409 actor_taken)")
        }
    }
}

#[test]
fn regression_a_parked_change_under_the_centers_actor_does_not_break_the_case() {
    let server = TestServer::start();
    let base = server.base_url();
    let (mut wang, case) = village_case(&server, "reg-park-wang");
    let mut li = Phone::login(&base, "li.mediator", "reg-park-li");
    li.sync().unwrap();
    // The attacker's phone tries to take the center's actor too (refused, if the center is
    // right; it goes on either way, as an attacker would).
    let attacker = Phone::login(&base, "wang.grid", "reg-park-attacker");
    let center = server.state.actor.clone();
    let bound = forge::login_with_actors(
        &base,
        "wang.grid",
        "reg-park-attacker",
        &[center.to_hex_string()],
    )
    .is_ok();

    // A change of its own, held back (the missing dependency), and one on top of it under
    // the center's actor: the center's next change would take the same sequence number.
    let mut doc = forge::center_doc(&server, case).with_actor(attacker.store.actor_id().clone());
    let before = doc.get_heads();
    let notes = forge::list(&doc, "notes");
    let n = doc.length(&notes);
    let note = doc.insert_object(&notes, n, ObjType::Map).unwrap();
    doc.put(&note, "id", "held-back").unwrap();
    doc.put(&note, "text", "先留着").unwrap();
    doc.commit();
    doc.set_actor(center);
    doc.put(ROOT, "title", "中心的名义").unwrap();
    doc.commit();
    let mut changes = doc.get_changes(&before);
    let parked = changes.pop().unwrap();
    let missing = changes.pop().unwrap();

    let response = push(
        &attacker,
        vec![DocChanges {
            signatures: Vec::new(),
            doc_id: case,
            changes: vec![parked.raw_bytes().to_vec()],
        }],
    );
    let got = verdict(&response, case);
    eprintln!("center's actor bound: {bound}; the parked change got {got:?}");
    let acked_heads = response
        .acks
        .iter()
        .find(|a| a.doc_id == case)
        .map(|a| a.heads.clone())
        .unwrap_or_default();
    assert!(
        !acked_heads.contains(&parked.hash().0),
        "a change with a missing dependency was acknowledged"
    );
    if let Err(code) = &got {
        assert_eq!(code, ACTOR, "a change under the center's actor");
    }

    // The center's next step works and the case reads as before.
    center_step(&server, case, "ACCEPT", json!({}));
    assert_eq!(load(&server, case).case().title, "邻里纠纷");
    // The missing dependency arrives (a plain note of the attacker's own).
    let got = push_change(&attacker, case, missing.raw_bytes().to_vec());
    eprintln!("its missing dependency got {got:?}");
    let mut after = forge::try_load(&server, case)
        .unwrap_or_else(|e| panic!("the case no longer loads at the center: {e}"))
        .expect("the case");
    assert_eq!(after.case().title, "邻里纠纷", "the parked change was read");
    assert!(
        !after
            .changes_since(&[])
            .iter()
            .any(|c| automerge::Change::from_bytes(c.clone())
                .is_ok_and(|c| c.hash() == parked.hash())),
        "the parked change under the center's actor became part of the case"
    );
    // The center goes on, the dispatcher reads it, the phones sync.
    center_step(&server, case, "DISPATCH", dispatch_payload());
    let (status, body) = Staff::login(&server, "chen.dispatch").get(&format!("/v1/cases/{case}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["status"], "DISPATCHED");
    for phone in [&mut wang, &mut li] {
        let r = phone
            .sync()
            .unwrap_or_else(|e| panic!("{} cannot sync: {e}", phone.device_id));
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        assert_eq!(
            phone.store.case(case).unwrap().state.status,
            Status::Dispatched
        );
    }
}

/// Deletes the first event of `kind` from an accepted and dispatched case.
fn delete_event(kind: EventKind) {
    let server = TestServer::start();
    let (phone, case) = village_case(&server, "reg-del");
    center_step(&server, case, "ACCEPT", json!({}));
    center_step(&server, case, "DISPATCH", dispatch_payload());
    let before = load(&server, case).events();
    let change = raw_change(&server, case, phone.store.actor_id().clone(), |d| {
        let (i, _) = event_of(d, kind);
        let events = forge::list(d, "events");
        d.delete(&events, i).unwrap();
    });
    let got = push_change(&phone, case, change);
    assert_refused(&got, &[OP, EVENT], &format!("deleting the center's {kind}"));
    assert_eq!(load(&server, case).events(), before);
    assert_eq!(status(&server, case), Status::Dispatched);
}

#[test]
fn regression_deleting_the_centers_dispatch_event_is_refused() {
    delete_event(EventKind::Dispatch);
}

#[test]
fn regression_deleting_the_accept_event_is_refused() {
    delete_event(EventKind::Accept);
}

#[test]
fn regression_inserting_a_resolve_on_site_before_accept_is_refused() {
    let server = TestServer::start();
    let (phone, case) = village_case(&server, "reg-before");
    center_step(&server, case, "ACCEPT", json!({}));
    let before = load(&server, case).events();
    let me = Author::new("u-wang.grid", Role::GridWorker, "330182101201");
    // A kind the grid worker may author, authored as themself: only its place is wrong.
    let change = raw_change(&server, case, phone.store.actor_id().clone(), |d| {
        let (i, _) = event_of(d, EventKind::Accept);
        forge::insert_event(
            d,
            i,
            "before-accept",
            "RESOLVE_ON_SITE",
            &me,
            r#"{"outcome":"当场化解"}"#,
        );
    });
    let got = push_change(&phone, case, change);
    assert_refused(
        &got,
        &[OP, EVENT],
        "a RESOLVE_ON_SITE inserted before ACCEPT",
    );
    assert_eq!(load(&server, case).events(), before);
    assert_eq!(status(&server, case), Status::Accepted);
}

#[test]
fn regression_moving_a_submitted_case_out_of_scope_is_refused_and_it_stays_listed() {
    let server = TestServer::start();
    let (phone, case) = village_case(&server, "reg-move");
    let dispatcher = Staff::login(&server, "chen.dispatch");
    // Outside every organisation's scope, and to another village (河口村).
    for to in ["999999999999", "330182102203"] {
        let change = raw_change(&server, case, phone.store.actor_id().clone(), |d| {
            d.put(ROOT, "area_code", to).unwrap();
        });
        let got = push_change(&phone, case, change);
        assert_refused(&got, &[SCOPE], &format!("moving a submitted case to {to}"));
        assert_eq!(load(&server, case).case().area_code, "330182101201");
        let (status, page) = dispatcher.get("/v1/cases?limit=500");
        assert_eq!(status, 200);
        let listed = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == case.to_string() && r["area_code"] == "330182101201");
        assert!(
            listed,
            "after a move to {to} the case left the dispatcher's list: {page}"
        );
        let (status, _) = Staff::login(&server, "sun.town").get(&format!("/v1/cases/{case}"));
        assert_eq!(
            status, 200,
            "the township's dispatcher lost the case after a move to {to}"
        );
    }
}

#[test]
fn regression_a_two_million_character_title_by_sync_is_refused() {
    let server = TestServer::start();
    let (phone, case) = village_case(&server, "reg-huge");
    let change = raw_change(&server, case, phone.store.actor_id().clone(), |d| {
        d.put(ROOT, "title", "长".repeat(2_000_000)).unwrap();
    });
    let got = push_change(&phone, case, change);
    assert_refused(&got, &[INVALID, TOO_LARGE], "a 2,000,000-character title");
    assert_eq!(load(&server, case).case().title, "邻里纠纷");
    // The dispatcher's list stays small.
    let mut resp = gridsync_tests::agent()
        .get(&server.url("/v1/cases?limit=50"))
        .header(
            "Authorization",
            &format!("Bearer {}", Staff::login(&server, "chen.dispatch").token),
        )
        .call()
        .unwrap();
    let body = resp.body_mut().read_to_vec().unwrap();
    assert!(
        body.len() < 64 * 1024,
        "the case list is {} bytes",
        body.len()
    );
}

#[test]
fn regression_a_text_object_title_is_refused_or_read_faithfully() {
    let server = TestServer::start();
    let (phone, case) = village_case(&server, "reg-text");
    let change = raw_change(&server, case, phone.store.actor_id().clone(), |d| {
        let t = d.put_object(ROOT, "title", ObjType::Text).unwrap();
        d.splice_text(&t, 0, 0, "文本对象的标题").unwrap();
    });
    match push_change(&phone, case, change) {
        Err(code) => {
            assert!(
                [OP, INVALID].contains(&code.as_str()),
                "refused with {code}"
            );
            assert_eq!(load(&server, case).case().title, "邻里纠纷");
        }
        Ok(()) => {
            assert_eq!(
                load(&server, case).case().title,
                "文本对象的标题",
                "a Text title was acknowledged, then read as something else"
            );
            let (_, page) = Staff::login(&server, "chen.dispatch").get("/v1/cases");
            let row = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == case.to_string())
                .cloned()
                .unwrap_or_default();
            assert_eq!(row["title"], "文本对象的标题", "the list shows {row}");
        }
    }
}

#[test]
fn regression_overwriting_a_note_written_by_another_is_refused() {
    let server = TestServer::start();
    let (wang, case) = village_case(&server, "reg-note-wang");
    let mut li = Phone::login(&server.base_url(), "li.mediator", "reg-note-li");
    li.sync().unwrap();
    li.store
        .add_note(case, NoteKind::HomeVisit, "双方同意下周再谈")
        .unwrap();
    li.sync().unwrap();
    let change = raw_change(&server, case, wang.store.actor_id().clone(), |d| {
        let notes = forge::list(d, "notes");
        let Some((Value::Object(_), note)) = d.get(&notes, 0).unwrap() else {
            panic!("no note")
        };
        d.put(&note, "text", "双方拒绝调解").unwrap();
    });
    let got = push_change(&wang, case, change);
    assert_refused(&got, &[OP], "overwriting the mediator's note");
    assert_eq!(load(&server, case).case().notes[0].text, "双方同意下周再谈");
}

#[test]
fn regression_deleting_a_party_is_refused() {
    let server = TestServer::start();
    let (phone, case) = village_case(&server, "reg-party");
    let before = load(&server, case).case().parties;
    let change = raw_change(&server, case, phone.store.actor_id().clone(), |d| {
        let parties = forge::list(d, "parties");
        d.delete(&parties, 0).unwrap();
    });
    let got = push_change(&phone, case, change);
    assert_refused(&got, &[OP], "deleting a party");
    assert_eq!(load(&server, case).case().parties, before);
}

#[test]
fn regression_writing_time_limits_is_refused() {
    let server = TestServer::start();
    // The county's limits for wage arrears (the village's case is one), written into the
    // case when the county center accepts it.
    let rule = gridsync_server::center::limits::TimeLimitRule {
        id: "county-wages".into(),
        tier: Some("COUNTY".into()),
        category: Some("LABOUR_WAGES".into()),
        area_prefix: None,
        limits: gridsync_core::workflow::TimeLimits {
            sign: 12 * 3_600_000,
            ..Default::default()
        },
    };
    server
        .block_on(gridsync_server::center::limits::put_limit_rule(
            &server.state.db,
            &rule,
            0,
        ))
        .unwrap();
    let (phone, case) = village_case(&server, "reg-limits");
    center_step(&server, case, "ACCEPT", json!({}));
    let before = load(&server, case).case().time_limits;
    assert!(
        before.is_some(),
        "the center writes the time limits on accepting"
    );
    // One key of the center's map; a new map with the very same limits (the limits read the
    // same, the center's map is replaced all the same); a new map of its own.
    type Edit = Box<dyn Fn(&mut AutoCommit)>;
    let attacks: [(&str, Edit); 3] = [
        (
            "a key of the center's time_limits",
            Box::new(|d: &mut AutoCommit| {
                let Some((_, limits)) = d.get(ROOT, "time_limits").unwrap() else {
                    panic!("no limits")
                };
                d.put(&limits, "sign", 365 * 86_400_000i64).unwrap();
            }),
        ),
        (
            "time_limits replaced by the same values",
            Box::new(|d: &mut AutoCommit| {
                let Some((_, old)) = d.get(ROOT, "time_limits").unwrap() else {
                    panic!("no limits")
                };
                let values: Vec<(String, automerge::ScalarValue)> = d
                    .keys(&old)
                    .filter_map(|k| match d.get(&old, k.as_str()).unwrap() {
                        Some((Value::Scalar(s), _)) => Some((k, s.into_owned())),
                        _ => None,
                    })
                    .collect();
                let new = d.put_object(ROOT, "time_limits", ObjType::Map).unwrap();
                for (k, v) in values {
                    d.put(&new, k.as_str(), v).unwrap();
                }
            }),
        ),
        (
            "a new time_limits map",
            Box::new(|d: &mut AutoCommit| {
                let new = d.put_object(ROOT, "time_limits", ObjType::Map).unwrap();
                d.put(&new, "accept", 1i64).unwrap();
            }),
        ),
    ];
    let mut wrong = Vec::new();
    for (what, edit) in &attacks {
        let heads = load(&server, case).heads();
        let change = raw_change(&server, case, phone.store.actor_id().clone(), |d| edit(d));
        let got = push_change(&phone, case, change);
        let mut after = load(&server, case);
        if !matches!(&got, Err(c) if c == OP || c == EVENT) {
            wrong.push(format!("{what}: {got:?}"));
        }
        if after.heads() != heads || after.case().time_limits != before {
            wrong.push(format!("{what}: the center's copy changed"));
        }
    }
    assert!(
        wrong.is_empty(),
        "time limits written by a phone:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn regression_deleting_the_case_id_is_refused_for_that_case_alone() {
    let server = TestServer::start();
    let (phone, case) = village_case(&server, "reg-id");
    let mut other_phone = Phone::login(&server.base_url(), "wang.grid", "reg-id-2");
    let other = other_phone.record("另一件纠纷");
    other_phone.sync().unwrap();
    let gone = raw_change(&server, case, phone.store.actor_id().clone(), |d| {
        d.delete(ROOT, "id").unwrap();
    });
    let beside = raw_change(&server, other, phone.store.actor_id().clone(), |d| {
        d.put(ROOT, "summary", "同一批的正当修改").unwrap();
    });
    let response = forge::try_push(
        &phone,
        vec![
            DocChanges {
                signatures: Vec::new(),
                doc_id: case,
                changes: vec![gone],
            },
            DocChanges {
                signatures: Vec::new(),
                doc_id: other,
                changes: vec![beside],
            },
        ],
    )
    .unwrap_or_else(|e| panic!("the whole push failed instead of refusing one case: {e}"));
    assert_refused(
        &verdict(&response, case),
        &[OP, "malformed_change"],
        "deleting the case's id",
    );
    assert_eq!(verdict(&response, other), Ok(()), "the rest of the batch");
    assert_eq!(load(&server, case).id(), case);
    assert_eq!(load(&server, other).case().summary, "同一批的正当修改");
}
