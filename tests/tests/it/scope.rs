//! Who may push and pull what: area scope, event permissions, actor binding, revocation.

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use gridsync_core::case::{CaseDoc, NoteKind};
use gridsync_core::protocol::DocChanges;
use gridsync_core::store::CaseFilter;
use gridsync_tests::{Phone, TestServer};

use crate::forge::{push, raw_change};

#[test]
fn village_b_cannot_reach_village_a_and_the_rest_of_its_batch_proceeds() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut a = Phone::login(&base, "wang.grid", "scope-a");
    let mut b = Phone::login(&base, "zhao.grid", "scope-b");
    let case_a = a.record("A 村: 宅基地纠纷");
    a.store.submit(case_a).unwrap();
    a.sync().unwrap();
    b.sync().unwrap();
    assert!(!b.store.has_case(case_a).unwrap(), "B never pulls A's case");

    // B pushes a note into A's case (under its own, bound actor) together with its own case.
    let own = b.record("B 村: 邻里纠纷");
    let mut outbox = b.store.build_request().unwrap().0.push;
    let stolen = raw_change(&server, case_a, b.store.actor_id().clone(), |d| {
        d.put(ROOT, "title", "改掉的标题").unwrap();
    });
    outbox.push(DocChanges {
        signatures: Vec::new(),
        doc_id: case_a,
        changes: vec![stolen],
    });
    let response = push(&b, outbox);
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(response.rejected[0].doc_id, case_a);
    assert_eq!(response.rejected[0].code.as_str(), "out_of_scope");
    assert_eq!(response.acks.len(), 1);
    assert_eq!(response.acks[0].doc_id, own);
    let center = server
        .block_on(gridsync_server::center::cases::load(&server.state, case_a))
        .unwrap()
        .unwrap();
    assert_eq!(center.case().title, "A 村: 宅基地纠纷");
}

#[test]
fn a_grid_worker_cannot_author_a_dispatch() {
    let server = TestServer::start();
    let mut a = Phone::login(&server.base_url(), "wang.grid", "perm-a");
    let case = a.record("欠薪");
    a.store.submit(case).unwrap();
    a.sync().unwrap();

    // The app refuses locally ...
    let local = a.store.act(
        case,
        &gridsync_core::workflow::Action::dispatch_to(
            gridsync_core::workflow::OrgRef::new("330182-labour", "劳动监察"),
            gridsync_core::workflow::Tier::County,
        ),
    );
    assert_eq!(local.unwrap_err().code(), "not_permitted");

    // ... and a tampered client's raw dispatch event is refused by the center.
    let forged = raw_change(&server, case, a.store.actor_id().clone(), |d| {
        let events = match d.get(ROOT, "events").unwrap() {
            Some((_, id)) => id,
            None => panic!("no events list"),
        };
        let n = d.length(&events);
        let e = d.insert_object(&events, n, ObjType::Map).unwrap();
        d.put(&e, "id", "forged-1").unwrap();
        d.put(&e, "kind", "DISPATCH").unwrap();
        d.put(&e, "by_user", "u-wang.grid").unwrap();
        d.put(&e, "by_role", "GRID_WORKER").unwrap();
        d.put(&e, "org", "330182101201").unwrap();
        d.put(&e, "at", 1i64).unwrap();
        d.put(
            &e,
            "payload",
            r#"{"to":[{"id":"330182-labour","name":"x"}]}"#,
        )
        .unwrap();
    });
    let response = push(
        &a,
        vec![DocChanges {
            signatures: Vec::new(),
            doc_id: case,
            changes: vec![forged],
        }],
    );
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(response.rejected[0].code.as_str(), "event_not_permitted");
    let center = server
        .block_on(gridsync_server::center::cases::load(&server.state, case))
        .unwrap()
        .unwrap();
    assert!(center.events().iter().all(|e| e.id != "forged-1"));
}

#[test]
fn a_device_cannot_push_under_another_devices_actor() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut wang = Phone::login(&base, "wang.grid", "actor-1");
    let li = Phone::login(&base, "li.mediator", "actor-2");
    let case = wang.record("欠薪");
    wang.store.submit(case).unwrap();
    wang.sync().unwrap();

    let as_wang = raw_change(&server, case, wang.store.actor_id().clone(), |d| {
        d.put(ROOT, "summary", "冒名修改").unwrap();
    });
    let response = push(
        &li,
        vec![DocChanges {
            signatures: Vec::new(),
            doc_id: case,
            changes: vec![as_wang],
        }],
    );
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(response.rejected[0].code.as_str(), "actor_not_bound");

    // Relaying a change the center already holds is fine: nothing new under a foreign actor.
    let held = server
        .block_on(gridsync_server::center::cases::load(&server.state, case))
        .unwrap()
        .unwrap()
        .changes_since(&[]);
    let response = push(
        &li,
        vec![DocChanges {
            signatures: Vec::new(),
            doc_id: case,
            changes: held,
        }],
    );
    assert!(response.rejected.is_empty(), "{:?}", response.rejected);
    assert_eq!(response.acks.len(), 1);
}

#[test]
fn a_revoked_device_is_refused_and_told_to_wipe() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "lost-phone");
    phone.record("欠薪");
    phone.sync().unwrap();
    let now = server.state.clock.now().0;
    server
        .block_on(server.state.db.revoke_device("lost-phone", now))
        .unwrap();

    let err = phone.sync().unwrap_err();
    assert_eq!((err.status, err.code.as_str()), (403, "device_revoked"));
    // The app acts on the code by wiping.
    phone.store.wipe().unwrap();
    assert!(
        phone
            .store
            .cases(&CaseFilter::default())
            .unwrap()
            .is_empty()
    );
    // And the device cannot sign in again.
    let again = Phone::try_login(
        &server.base_url(),
        "wang.grid",
        gridsync_server::demo::DEMO_PASSWORD,
        "lost-phone",
    )
    .unwrap_err();
    assert_eq!(again.code, "device_revoked");
}

#[test]
fn a_case_dispatched_to_a_department_arrives_whole_on_its_phone() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut wang = Phone::login(&base, "wang.grid", "d-wang");
    let mut handler = Phone::login(&base, "zhou.judicial", "d-zhou");
    let case = wang.record("宅基地边界纠纷");
    wang.store
        .add_note(case, NoteKind::HomeVisit, "现场查看")
        .unwrap();
    wang.store.submit(case).unwrap();
    wang.sync().unwrap();
    handler.sync().unwrap();
    assert!(
        !handler.store.has_case(case).unwrap(),
        "not dispatched yet: not in the department's scope"
    );

    let center = gridsync_core::workflow::Author::new(
        "u-chen.dispatch",
        gridsync_core::workflow::Role::Dispatcher,
        "330182-center",
    );
    let state = &server.state;
    server
        .block_on(gridsync_server::center::cases::act(
            state,
            case,
            &gridsync_core::workflow::Action::accept("330182-20261128-000001"),
            &center,
        ))
        .unwrap();
    let to = gridsync_core::workflow::OrgRef::new("330182101-judicial", "青溪司法所");
    server
        .block_on(gridsync_server::center::cases::act(
            state,
            case,
            &gridsync_core::workflow::Action::dispatch_to(
                to,
                gridsync_core::workflow::Tier::Township,
            ),
            &center,
        ))
        .unwrap();

    let r = handler.sync().unwrap();
    assert_eq!(r.new_cases, vec![case]);
    let view = handler.store.case(case).unwrap();
    assert_eq!(
        view.state.status,
        gridsync_core::workflow::Status::Dispatched
    );
    assert_eq!(view.case.notes.len(), 1, "the whole case, history included");
    // The grid worker's phone sees the dispatch too.
    wang.sync().unwrap();
    assert_eq!(
        wang.store.case(case).unwrap().state.status,
        gridsync_core::workflow::Status::Dispatched
    );
    let _ = CaseDoc::load; // (CaseDoc used via the server API above)
}
