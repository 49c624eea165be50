//! The trust boundary's server side, as a user would notice it: which devices hold cases,
//! that every delivery to a device is audited, that a change waiting for a dependency is
//! parked (not applied, not served, judged once it can be), that a stored case that does not
//! open fails only itself, and that the quarantine is the administrator's to see.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use gridsync_core::protocol::DocChanges;
use gridsync_tests::{Phone, Staff, TestServer};

use crate::forge::push;

fn items(page: &serde_json::Value) -> &Vec<serde_json::Value> {
    page["items"].as_array().expect("items")
}

/// A submitted case from village A (东岭村), accepted and dispatched to the labour
/// inspectorate by the center.
fn dispatched_case(
    server: &TestServer,
    phone: &mut Phone,
    title: &str,
) -> gridsync_core::case::CaseId {
    let id = phone.record(title);
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    crate::matrix::accept_and_dispatch(server, id, "330182-labour");
    id
}

#[test]
fn console_roles_phones_hold_no_cases_field_roles_get_theirs() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut seeder = Phone::login(&base, "wang.grid", "trust-seed");
    let case = dispatched_case(&server, &mut seeder, "欠薪 设备");

    // The county's supervisor, administrator and county dispatcher: nothing on a phone.
    for who in ["wu.super", "admin", "chen.dispatch"] {
        let mut phone = Phone::login(&base, who, &format!("trust-{who}"));
        phone.sync().unwrap();
        assert!(
            !phone.store.has_case(case).unwrap(),
            "{who}'s phone received a case"
        );
    }
    // The handler it was dispatched to, the village's mediator and the township
    // dispatcher: the case, whole.
    for who in ["liu.labour", "li.mediator", "sun.town"] {
        let mut phone = Phone::login(&base, who, &format!("trust-{who}"));
        phone.sync().unwrap();
        assert!(phone.store.has_case(case).unwrap(), "{who} lacks the case");
    }
}

#[test]
fn every_delivery_of_cases_to_a_device_is_in_the_audit_chain() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut seeder = Phone::login(&base, "wang.grid", "trust-seed");
    let case = dispatched_case(&server, &mut seeder, "欠薪 审计");
    let mut handler = Phone::login(&base, "liu.labour", "trust-liu");
    handler.sync().unwrap();
    assert!(handler.store.has_case(case).unwrap());

    let wu = Staff::login(&server, "wu.super");
    let (s, log) = wu.get("/v1/audit?user=u-liu.labour");
    assert_eq!(s, 200, "{log}");
    let synced: Vec<&serde_json::Value> = items(&log)
        .iter()
        .filter(|e| e["action"] == "CASES_SYNCED")
        .collect();
    assert_eq!(synced.len(), 1, "{log}");
    assert_eq!(synced[0]["detail"]["device"], "trust-liu");
    assert_eq!(
        synced[0]["detail"]["cases"],
        serde_json::json!([case.to_string()])
    );
    // Nothing delivered, nothing written: a second sync with no news adds no entry.
    handler.sync().unwrap();
    let (_, log) = wu.get("/v1/audit?user=u-liu.labour");
    let n = items(&log)
        .iter()
        .filter(|e| e["action"] == "CASES_SYNCED")
        .count();
    assert_eq!(n, 1, "{log}");
    let (s, verified) = wu.get("/v1/audit/verify");
    assert_eq!(s, 200);
    assert_eq!(verified["ok"], true, "{verified}");
}

#[test]
fn a_change_waiting_for_a_dependency_is_parked_then_judged_when_it_arrives() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut phone = Phone::login(&base, "wang.grid", "trust-park");
    let case = dispatched_case(&server, &mut phone, "欠薪 等待");
    let mut handler = Phone::login(&base, "liu.labour", "trust-park-liu");
    handler.sync().unwrap();
    let actor = phone.store.actor_id().clone();

    // Two edits made one after the other on the phone; only the second is pushed.
    let center = server
        .block_on(gridsync_server::center::cases::load(&server.state, case))
        .unwrap()
        .unwrap()
        .save();
    let mut doc = AutoCommit::load(&center).unwrap().with_actor(actor);
    doc.put(ROOT, "summary", "第一步").unwrap();
    let first = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    doc.put(ROOT, "summary", "第二步").unwrap();
    let second = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    let heads_before = server
        .block_on(gridsync_server::center::cases::load(&server.state, case))
        .unwrap()
        .unwrap()
        .heads();

    let answer = push(
        &phone,
        vec![DocChanges {
            signatures: Vec::new(),
            doc_id: case,
            changes: vec![second.clone()],
        }],
    );
    assert!(answer.rejected.is_empty(), "{:?}", answer.rejected);
    // Acknowledged by heads only, which do not cover it: the phone keeps it.
    let ack = answer.acks.iter().find(|a| a.doc_id == case).expect("ack");
    let heads_now: Vec<[u8; 32]> = heads_before.iter().map(|h| h.0).collect();
    assert_eq!(ack.heads, heads_now, "the parked change is not in the case");
    let mut now = server
        .block_on(gridsync_server::center::cases::load(&server.state, case))
        .unwrap()
        .unwrap();
    assert_eq!(now.heads(), heads_before);
    assert_ne!(now.case().summary, "第二步");
    // Not served: the handler's next sync brings nothing of it.
    handler.sync().unwrap();
    assert_ne!(handler.store.case(case).unwrap().case.summary, "第二步");
    // Listed for the administrator, not for anyone else.
    let admin = Staff::login(&server, "admin");
    let (s, q) = admin.get("/v1/quarantine");
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["parked_changes"].as_array().unwrap().len(), 1, "{q}");
    assert_eq!(q["parked_changes"][0]["case_id"], case.to_string());
    for who in ["chen.dispatch", "wu.super", "wang.grid"] {
        let (s, body) = Staff::login(&server, who).get("/v1/quarantine");
        assert_eq!(s, 403, "{who}: {body}");
        assert_eq!(body["code"], "not_permitted");
    }

    // The dependency arrives: both are judged and land, the quarantine empties.
    let answer = push(
        &phone,
        vec![DocChanges {
            signatures: Vec::new(),
            doc_id: case,
            changes: vec![first, second],
        }],
    );
    assert!(answer.rejected.is_empty(), "{:?}", answer.rejected);
    let landed = server
        .block_on(gridsync_server::center::cases::load(&server.state, case))
        .unwrap()
        .unwrap();
    assert_eq!(landed.case().summary, "第二步");
    let (_, q) = admin.get("/v1/quarantine");
    assert!(q["parked_changes"].as_array().unwrap().is_empty(), "{q}");
    handler.sync().unwrap();
    assert_eq!(handler.store.case(case).unwrap().case.summary, "第二步");
}

#[test]
fn a_stored_case_that_does_not_open_fails_only_itself() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut phone = Phone::login(&base, "wang.grid", "trust-broken");
    let broken = dispatched_case(&server, &mut phone, "欠薪 损坏");
    let sound = dispatched_case(&server, &mut phone, "欠薪 完好");
    // The disk, a bad restore or a bug leaves one case unreadable.
    let pool = server.state.db.pool();
    server.block_on(async {
        sqlx::query("UPDATE changes SET bytes = $1 WHERE case_id = $2")
            .bind(vec![0x85u8, 0x6f, 0x4a, 0x83, 1, 2, 3])
            .bind(broken.to_string())
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE cases SET snapshot = $1, snapshot_pos = 0 WHERE id = $2")
            .bind(Vec::<u8>::new())
            .bind(broken.to_string())
            .execute(&pool)
            .await
            .unwrap();
    });

    // The phone works on both: the broken one is refused alone, the other lands.
    phone
        .store
        .add_note(broken, gridsync_core::case::NoteKind::HomeVisit, "走访一")
        .unwrap();
    phone
        .store
        .add_note(sound, gridsync_core::case::NoteKind::HomeVisit, "走访二")
        .unwrap();
    let report = phone.sync().expect("the sync succeeds");
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].case_id, broken);
    assert_eq!(report.rejected[0].code, "case_unavailable");
    let sound_now = server
        .block_on(gridsync_server::center::cases::load(&server.state, sound))
        .unwrap()
        .unwrap();
    assert!(sound_now.case().notes.iter().any(|n| n.text == "走访二"));

    // The console answers 503 for it alone; the administrator sees it, and so does /metrics.
    let chen = Staff::login(&server, "chen.dispatch");
    let (s, body) = chen.get(&format!("/v1/cases/{broken}"));
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["code"], "case_unavailable");
    let (s, _) = chen.get(&format!("/v1/cases/{sound}"));
    assert_eq!(s, 200);
    let (_, q) = Staff::login(&server, "admin").get("/v1/quarantine");
    assert_eq!(
        q["unavailable_cases"][0]["case_id"],
        broken.to_string(),
        "{q}"
    );
    let metrics = gridsync_tests::agent()
        .get(&server.url("/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("gridsync_cases_unavailable 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("unavailable"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn no_device_can_bind_the_centers_actor_or_another_devices() {
    let server = TestServer::start();
    let base = server.base_url();
    let center = server.state.actor.to_hex_string();
    let login = |device: &str, actor: &str| {
        gridsync_tests::agent()
            .post(&format!("{base}/v1/auth/login"))
            .send_json(serde_json::json!({
                "username": "wang.grid",
                "password": gridsync_server::demo::DEMO_PASSWORD,
                "device_id": device,
                "actor_ids": [actor],
            }))
            .unwrap()
    };
    let mut r = login("trust-thief", &center);
    assert_eq!(r.status().as_u16(), 409);
    let body: serde_json::Value = r.body_mut().read_json().unwrap();
    assert_eq!(body["code"], "actor_taken");
    // Another phone's actor, too.
    let phone = Phone::login(&base, "zhao.grid", "trust-owner");
    let theirs = phone.store.actor_id().to_hex_string();
    assert_eq!(login("trust-thief-2", &theirs).status().as_u16(), 409);
}

/// A handler's phone that sends a huge agreement (terms past their 4,000 characters, a
/// thousand installments past the 16 KiB payload, a negative installment) has that case
/// refused and nothing of it kept; the honest step beside it in the same request is taken.
/// Its own store never lets such a step out (`invalid_input`, naming the field).
#[test]
fn a_huge_agreement_from_a_phone_fails_only_its_case() {
    use gridsync_core::case::{Agreement, AgreementForm, Installment, MAX_TERMS_CHARS, Timestamp};
    use gridsync_core::workflow::Action;

    let server = TestServer::start();
    let base = server.base_url();
    let mut seeder = Phone::login(&base, "wang.grid", "trust-huge-seed");
    let cases: Vec<_> = (0..4)
        .map(|i| dispatched_case(&server, &mut seeder, &format!("欠薪 协议 {i}")))
        .collect();
    let mut handler = Phone::login(&base, "liu.labour", "trust-huge-liu");
    handler.sync().unwrap();
    for case in &cases {
        handler.store.act(*case, &Action::SignFor {}).unwrap();
        handler.store.act(*case, &Action::StartHandling {}).unwrap();
    }
    handler.sync().unwrap();
    let me = handler.store.identity().unwrap().expect("signed in");
    let installment = |i: usize, amount: i64| Installment {
        id: format!("inst-{i}"),
        due_at: Timestamp(1_800_000_000_000 + i as i64),
        amount,
        paid_at: None,
    };
    let resolve = |terms: String, installments: Vec<Installment>| Action::Resolve {
        success: true,
        outcome: "双方达成调解协议".into(),
        agreement: Some(Agreement {
            form: AgreementForm::Written,
            terms,
            signed_at: Some(Timestamp(1_790_000_000_000)),
            installments,
        }),
    };
    let hostile = [
        resolve(
            "付".repeat(MAX_TERMS_CHARS + 1),
            vec![installment(0, 300_000)],
        ),
        resolve(
            "分期付清".into(),
            (0..1_000).map(|i| installment(i, 100)).collect(),
        ),
        resolve("分期付清".into(), vec![installment(0, -300_000)]),
    ];
    let honest = resolve("一次付清".into(), vec![installment(0, 860_000)]);

    // The phone's own store refuses each before it reaches the outbox, naming the field.
    for (action, field) in hostile.iter().zip(["terms", "payload", "installments"]) {
        let err = handler.store.act(cases[0], action).unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }

    // A tampered phone sends them anyway, each beside an honest resolve of another case.
    let actor = handler.store.actor_id().clone();
    let honest_case = cases[3];
    for (n, (action, case)) in hostile.iter().zip(&cases).enumerate() {
        let before = crate::forge::load(&server, *case).heads();
        let change = crate::forge::raw_change(&server, *case, actor.clone(), |d| {
            crate::forge::append_event(
                d,
                &format!("huge-{n}"),
                "RESOLVE",
                &me,
                &action.payload_json(),
            )
        });
        let mut push_list = vec![DocChanges {
            doc_id: *case,
            changes: vec![change],
            signatures: Vec::new(),
        }];
        if n == 0 {
            let beside = crate::forge::raw_change(&server, honest_case, actor.clone(), |d| {
                crate::forge::append_event(d, "honest-0", "RESOLVE", &me, &honest.payload_json())
            });
            push_list.push(DocChanges {
                doc_id: honest_case,
                changes: vec![beside],
                signatures: Vec::new(),
            });
        }
        let answer = push(&handler, push_list);
        assert!(
            crate::forge::verdict(&answer, *case).is_err(),
            "hostile agreement {n} was taken"
        );
        assert_eq!(
            crate::forge::load(&server, *case).heads(),
            before,
            "nothing of agreement {n} is kept"
        );
        if n == 0 {
            assert_eq!(crate::forge::verdict(&answer, honest_case), Ok(()));
        }
    }
    let chen = Staff::login(&server, "chen.dispatch");
    for case in &cases[..3] {
        let (_, detail) = chen.get(&format!("/v1/cases/{case}"));
        assert_eq!(detail["state"]["status"], "IN_PROGRESS", "{case}");
    }
    let (_, detail) = chen.get(&format!("/v1/cases/{honest_case}"));
    assert_eq!(detail["state"]["status"], "RESOLVED");
    assert_eq!(
        detail["state"]["agreement"]["installments"][0]["amount"], 860_000,
        "{}",
        detail["state"]["agreement"]
    );
}
