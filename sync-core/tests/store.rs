//! The device store: typed operations, lists and search, the outbox, and the sans-IO sync
//! client against the in-memory reference center.

mod reference;

use std::sync::Arc;

use gridsync_core::case::{
    CaseEdit, Category, NewCase, NoteKind, PartyInput, PartyRole, RiskFlag, RiskLevel, Timestamp,
};
use gridsync_core::clock::ManualClock;
use gridsync_core::protocol::SyncResponse;
use gridsync_core::store::{CaseFilter, FieldStore, StoreKey};
use gridsync_core::workflow::{Action, Author, OrgRef, Role, Status, Tier, WarningLevel};
use gridsync_core::{Error, case::CaseId};
use reference::ReferenceServer;

/// The tests' store key (the app's comes from the Keystore / Keychain).
fn key() -> StoreKey {
    StoreKey::from_bytes(&[7; 32]).unwrap()
}

const VILLAGE_A: &str = "330182101201";
const VILLAGE_B: &str = "330182102203";
const T0: Timestamp = Timestamp(1_795_000_000_000);

struct Phone {
    store: FieldStore,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn phone(device: &str, area: &str) -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut store =
        FieldStore::open_with_clock(dir.path().join("field.db"), device, &key(), clock.clone())
            .unwrap();
    store
        .set_identity(&Author::new(
            format!("worker-{device}"),
            Role::GridWorker,
            area,
        ))
        .unwrap();
    Phone {
        store,
        clock,
        _dir: dir,
    }
}

fn wage_case(area: &str, title: &str) -> NewCase {
    NewCase {
        area_code: area.into(),
        grid_code: format!("{area}002"),
        title: title.into(),
        summary: "包工头拖欠12名工人工资共计8.6万元 / contractor owes 12 workers".into(),
        category: Category::LabourWages,
        people_involved: 12,
        amount_involved: 8_600_000,
        risk_level: RiskLevel::Yellow,
        parties: vec![
            PartyInput {
                role: PartyRole::Applicant,
                name: "张建国".into(),
                id_number: "330182198805061234".into(),
                phone: "13812345678".into(),
                ..PartyInput::default()
            },
            PartyInput {
                role: PartyRole::Respondent,
                name: "Li Ming".into(),
                ..PartyInput::default()
            },
        ],
        ..NewCase::default()
    }
}

fn center() -> Author {
    Author::new("dispatcher-1", Role::Dispatcher, "330182000000")
}

fn sync(p: &mut Phone, server: &mut ReferenceServer) -> gridsync_core::store::SyncReport {
    p.store
        .sync_via(20, |body| {
            Ok::<_, std::convert::Infallible>(server.handle(&body))
        })
        .unwrap()
}

#[test]
fn record_list_search_and_show() {
    let mut p = phone("p1", VILLAGE_A);
    let a = p.store.record(&wage_case(VILLAGE_A, "欠薪纠纷")).unwrap();
    p.clock.advance(1000);
    let mut neighbour = wage_case(VILLAGE_A, "Boundary wall dispute");
    neighbour.category = Category::Neighbour;
    neighbour.risk_level = RiskLevel::Red;
    neighbour.risk_flags = vec![RiskFlag::Threats];
    neighbour.parties[0].name = "王秀英".into();
    let b = p.store.record(&neighbour).unwrap();
    p.store.submit(b).unwrap();

    let all = p.store.cases(&CaseFilter::default()).unwrap();
    assert_eq!(all.len(), 2);
    // Only b runs a clock (accept within 2 h: red + flagged), so it is listed first.
    assert_eq!(all[0].id, b);
    assert_eq!(all[0].status, Status::Submitted);
    assert!(all[0].high_risk);
    assert_eq!(all[1].status, Status::Draft);
    assert!(all.iter().all(|s| s.unsent));

    let by = |f: CaseFilter| -> Vec<CaseId> {
        p.store
            .cases(&f)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(
        by(CaseFilter {
            statuses: vec![Status::Draft],
            ..Default::default()
        }),
        vec![a]
    );
    assert_eq!(
        by(CaseFilter {
            categories: vec![Category::Neighbour],
            ..Default::default()
        }),
        vec![b]
    );
    assert_eq!(
        by(CaseFilter {
            risk_levels: vec![RiskLevel::Red],
            ..Default::default()
        }),
        vec![b]
    );
    assert_eq!(
        by(CaseFilter {
            text: Some("王秀".into()),
            ..Default::default()
        }),
        vec![b]
    );
    assert_eq!(
        by(CaseFilter {
            text: Some("欠薪".into()),
            ..Default::default()
        }),
        vec![a]
    );
    assert_eq!(
        by(CaseFilter {
            text: Some("li ming".into()),
            ..Default::default()
        })
        .len(),
        2
    );
    assert!(
        by(CaseFilter {
            text: Some("%".into()),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        by(CaseFilter {
            due_within: Some(3 * 3_600_000),
            ..Default::default()
        }),
        vec![b]
    );

    // 70 % of the 2-hour accept limit: the list shows yellow, at 2 h red.
    p.clock.set(T0.plus_millis(1000 + 84 * 60_000));
    assert_eq!(
        p.store.cases(&CaseFilter::default()).unwrap()[0].warning,
        WarningLevel::Yellow
    );
    p.clock.set(T0.plus_millis(1000 + 120 * 60_000));
    assert_eq!(
        p.store.cases(&CaseFilter::default()).unwrap()[0].warning,
        WarningLevel::Red
    );

    let view = p.store.case(a).unwrap();
    assert_eq!(view.case.title, "欠薪纠纷");
    assert_eq!(view.case.parties.len(), 2);
    assert_eq!(
        view.case.parties[0].masked().id_number,
        "330182********1234"
    );
    assert_eq!(view.state.status, Status::Draft);
    assert_eq!(view.unsent_changes, 1);
}

#[test]
fn every_operation_lands_in_the_outbox_and_failures_write_nothing() {
    let mut p = phone("p1", VILLAGE_A);
    let id = p.store.record(&wage_case(VILLAGE_A, "欠薪")).unwrap();
    p.store
        .add_note(id, NoteKind::HomeVisit, "入户走访，双方情绪稳定")
        .unwrap();
    p.store
        .edit(
            id,
            &CaseEdit {
                title: Some("欠薪纠纷(已核实)".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(p.store.pending().unwrap().changes, 3);

    // A no-op edit makes no change.
    p.store
        .edit(
            id,
            &CaseEdit {
                title: Some("欠薪纠纷(已核实)".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(p.store.pending().unwrap().changes, 3);

    // Refusals leave the store as it was.
    let err = p
        .store
        .edit(
            id,
            &CaseEdit {
                title: Some("  ".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    let err = p
        .store
        .act(
            id,
            &Action::dispatch_to(OrgRef::new("x", "x"), Tier::County),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotPermitted {
                role: Role::GridWorker,
                ..
            }
        ),
        "{err}"
    );
    let err = p.store.act(id, &Action::Archive {}).unwrap_err();
    assert!(matches!(err, Error::NotPermitted { .. }), "{err}");
    let missing = CaseId::new_random();
    assert!(matches!(
        p.store.add_note(missing, NoteKind::Other, "x"),
        Err(Error::CaseNotFound(_))
    ));
    assert_eq!(p.store.pending().unwrap().changes, 3);
    assert_eq!(p.store.case(id).unwrap().case.title, "欠薪纠纷(已核实)");
}

#[test]
fn typed_operations_need_an_identity() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FieldStore::open(dir.path().join("f.db"), "p1", &key()).unwrap();
    assert!(matches!(
        store.record(&wage_case(VILLAGE_A, "x")),
        Err(Error::NoIdentity)
    ));
    assert!(FieldStore::open(dir.path().join("g.db"), " ", &key()).is_err());
}

#[test]
fn reopening_keeps_cases_outbox_cursor_and_actor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let mut server = ReferenceServer::new();
    server.register("p1", VILLAGE_A);
    let (actor, id) = {
        let mut store = FieldStore::open(&path, "p1", &key()).unwrap();
        store
            .set_identity(&Author::new("w", Role::GridWorker, VILLAGE_A))
            .unwrap();
        let id = store.record(&wage_case(VILLAGE_A, "a")).unwrap();
        store
            .sync_via(5, |b| Ok::<_, std::convert::Infallible>(server.handle(&b)))
            .unwrap();
        store.add_note(id, NoteKind::PhoneCall, "电话回访").unwrap();
        (store.actor_id().clone(), id)
    };
    let store = FieldStore::open(&path, "p1", &key()).unwrap();
    assert_eq!(store.actor_id(), &actor);
    assert!(store.cursor().unwrap() > 0);
    assert_eq!(store.pending().unwrap().changes, 1);
    assert_eq!(store.case(id).unwrap().case.notes.len(), 1);
    assert!(store.integrity_check().unwrap());
    // A different install of the app (another file) gets another actor.
    let other = FieldStore::open(dir.path().join("other.db"), "p1", &key()).unwrap();
    assert_ne!(other.actor_id(), &actor);
}

#[test]
fn a_case_travels_to_the_center_and_the_dispatch_comes_back() {
    let mut server = ReferenceServer::new();
    server.register("p1", VILLAGE_A);
    let mut p = phone("p1", VILLAGE_A);
    let id = p.store.record(&wage_case(VILLAGE_A, "欠薪")).unwrap();
    p.store.submit(id).unwrap();

    let first = sync(&mut p, &mut server);
    assert_eq!(first.acked_changes, 2);
    assert_eq!(first.unsent_changes, 0);
    assert_eq!(server.case_count(), 1);
    assert_eq!(server.requests, 1, "one round trip");

    server
        .act(
            id,
            &Action::accept("330182-20261128-000001"),
            &center(),
            T0.plus_millis(60_000),
        )
        .unwrap();
    let dept = OrgRef::new("330182-labour", "劳动监察大队");
    server
        .act(
            id,
            &Action::dispatch_to(dept.clone(), Tier::County),
            &center(),
            T0.plus_millis(120_000),
        )
        .unwrap();

    let second = sync(&mut p, &mut server);
    assert_eq!(second.pulled_changes, 2);
    assert_eq!(second.updated_cases, vec![id]);
    let view = p.store.case(id).unwrap();
    assert_eq!(view.state.status, Status::Dispatched);
    assert_eq!(
        view.state.case_no.as_deref(),
        Some("330182-20261128-000001")
    );
    assert_eq!(view.state.assigned_orgs, vec![dept]);

    // Nothing new on either side: nothing moves.
    let third = sync(&mut p, &mut server);
    assert_eq!((third.pulled_changes, third.acked_changes), (0, 0));
    assert_eq!(server.change_count(), 4);
}

#[test]
fn a_lost_response_is_harmless() {
    let mut server = ReferenceServer::new();
    server.register("p1", VILLAGE_A);
    let mut p = phone("p1", VILLAGE_A);
    let id = p.store.record(&wage_case(VILLAGE_A, "欠薪")).unwrap();
    p.store.add_note(id, NoteKind::HomeVisit, "走访").unwrap();

    // The center commits, but the answer never reaches the phone.
    let body = p.store.prepare_sync().unwrap();
    let _lost = server.handle(&body);
    assert_eq!(server.change_count(), 2);
    assert_eq!(p.store.pending().unwrap().changes, 2);

    let report = sync(&mut p, &mut server);
    assert_eq!(report.acked_changes, 2);
    assert_eq!(p.store.pending().unwrap().changes, 0);
    assert_eq!(server.change_count(), 2, "no duplicate changes");
    assert_eq!(server.case_count(), 1, "no duplicate case");
}

#[test]
fn two_villages_see_only_their_own_cases() {
    let mut server = ReferenceServer::new();
    server.register("pa", VILLAGE_A);
    server.register("pa2", VILLAGE_A);
    server.register("pb", VILLAGE_B);
    let mut a = phone("pa", VILLAGE_A);
    let mut a2 = phone("pa2", VILLAGE_A);
    let mut b = phone("pb", VILLAGE_B);
    let ca = a.store.record(&wage_case(VILLAGE_A, "A 村欠薪")).unwrap();
    let cb = b.store.record(&wage_case(VILLAGE_B, "B 村邻里")).unwrap();
    sync(&mut a, &mut server);
    sync(&mut b, &mut server);
    let r = sync(&mut a2, &mut server);
    assert_eq!(r.new_cases, vec![ca]);
    assert!(!a2.store.has_case(cb).unwrap());
    assert!(!a.store.has_case(cb).unwrap());
    assert!(!b.store.has_case(ca).unwrap());

    // a2 edits A's case; a receives the edit; the documents agree.
    a2.store
        .add_note(ca, NoteKind::MediationFaceToFace, "第一次调解")
        .unwrap();
    sync(&mut a2, &mut server);
    sync(&mut a, &mut server);
    assert_eq!(
        a.store.case(ca).unwrap().case,
        a2.store.case(ca).unwrap().case
    );

    // B's phone pushing into A's case is refused for that case only; its own case proceeds.
    let mut stolen = server.doc(ca).unwrap().changes_since(&[]);
    stolen.truncate(1);
    let mut request = b.store.build_request().unwrap().0;
    b.store
        .add_note(cb, NoteKind::Other, "b's own note")
        .unwrap();
    request = gridsync_core::protocol::SyncRequest {
        push: b.store.build_request().unwrap().0.push,
        ..request
    };
    request.push.push(gridsync_core::protocol::DocChanges {
        signatures: Vec::new(),
        doc_id: ca,
        changes: stolen,
    });
    let response = server.respond(&request);
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(response.rejected[0].doc_id, ca);
    assert_eq!(response.acks.len(), 1);
    let report = b.store.apply_response(&response).unwrap();
    assert_eq!(report.rejected[0].code, "out_of_scope");
    assert_eq!(b.store.pending().unwrap().changes, 0);
}

#[test]
fn revoked_cases_are_purged_after_their_unsent_work_is_pushed() {
    let mut server = ReferenceServer::new();
    server.register("p1", VILLAGE_A);
    let mut p = phone("p1", VILLAGE_A);
    let id = p.store.record(&wage_case(VILLAGE_A, "欠薪")).unwrap();
    let keep = p.store.record(&wage_case(VILLAGE_A, "另一件")).unwrap();
    sync(&mut p, &mut server);
    p.store
        .add_note(id, NoteKind::HomeVisit, "离线时写下的记录")
        .unwrap();

    // The center revokes the case, and the phone has unsent work for it: a response that
    // says "revoked" without acknowledging the note must not purge it.
    server.revoke("p1", id);
    let mut response = SyncResponse::new(p.store.cursor().unwrap());
    response.revoked = vec![id];
    let r = p.store.apply_response(&response).unwrap();
    assert_eq!(r.purge_pending, vec![id]);
    assert!(p.store.has_case(id).unwrap());
    assert!(
        p.store
            .cases(&CaseFilter::default())
            .unwrap()
            .iter()
            .all(|s| s.id != id)
    );

    // The next exchange pushes the note; the ack lets the purge happen.
    let r = sync(&mut p, &mut server);
    assert_eq!(r.purged, vec![id]);
    assert!(!p.store.has_case(id).unwrap());
    assert!(p.store.has_case(keep).unwrap());
    let held = server.doc(id).unwrap().case();
    assert_eq!(
        held.notes.len(),
        1,
        "the note reached the center before the purge"
    );
}

#[test]
fn paging_with_more_until_everything_arrived() {
    let mut server = ReferenceServer::new();
    server.register("p1", VILLAGE_A);
    server.register("p2", VILLAGE_A);
    let mut p1 = phone("p1", VILLAGE_A);
    for i in 0..40 {
        p1.store
            .record(&wage_case(VILLAGE_A, &format!("案件 {i}")))
            .unwrap();
    }
    sync(&mut p1, &mut server);

    let mut p2 = phone("p2", VILLAGE_A);
    // Force small pages: apply responses built with a 4 KB budget.
    let mut rounds = 0;
    loop {
        let (mut request, _) = p2.store.build_request().unwrap();
        request.max_bytes = 4096;
        let response = server.respond(&request);
        rounds += 1;
        let more = response.more;
        p2.store.apply_response(&response).unwrap();
        if !more {
            break;
        }
    }
    assert!(rounds > 3, "expected several pages, got {rounds}");
    assert_eq!(
        p2.store
            .cases(&CaseFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap()
            .len(),
        40
    );
}

#[test]
fn garbage_responses_are_errors_and_change_nothing() {
    let mut p = phone("p1", VILLAGE_A);
    p.store.record(&wage_case(VILLAGE_A, "x")).unwrap();
    for body in [&b""[..], b"\xff\xfe", b"<html>502 Bad Gateway</html>"] {
        let err = p.store.apply_sync_response(body).unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{err}");
    }
    assert_eq!(p.store.pending().unwrap().changes, 1);
    assert_eq!(p.store.cursor().unwrap(), 0);
}

#[test]
fn wipe_leaves_an_empty_store_with_a_fresh_actor() {
    let mut p = phone("p1", VILLAGE_A);
    p.store.record(&wage_case(VILLAGE_A, "x")).unwrap();
    let actor = p.store.actor_id().clone();
    p.store.wipe().unwrap();
    assert!(p.store.cases(&CaseFilter::default()).unwrap().is_empty());
    assert_eq!(p.store.pending().unwrap().changes, 0);
    assert!(p.store.identity().unwrap().is_none());
    assert_ne!(p.store.actor_id(), &actor);
}

/// The compact acknowledgement (`acked_through`): the outbox entries of the push leave, except
/// those of a refused case and of a case acknowledged by heads; work recorded after the
/// request was built stays for the next round.
#[test]
fn compact_ack_drops_exactly_what_was_pushed_and_merged() {
    use gridsync_core::protocol::{Ack, RejectCode, Rejection};
    let mut p = phone("p1", VILLAGE_A);
    let merged = p.store.record(&wage_case(VILLAGE_A, "欠薪")).unwrap();
    let refused = p.store.record(&wage_case(VILLAGE_A, "另一件")).unwrap();
    let by_heads = p.store.record(&wage_case(VILLAGE_A, "第三件")).unwrap();
    p.store
        .add_note(merged, NoteKind::HomeVisit, "第一次走访")
        .unwrap();
    let (request, truncated) = p.store.build_request().unwrap();
    assert!(!truncated);
    assert_eq!(request.push.len(), 3);
    assert!(request.pushed_through > 0);
    // Recorded while the request was on its way.
    p.store
        .add_note(merged, NoteKind::PhoneCall, "电话回访")
        .unwrap();
    let later = p.store.record(&wage_case(VILLAGE_A, "路上记的")).unwrap();
    assert_eq!(p.store.pending().unwrap().changes, 6);

    let mut response = SyncResponse::new(0);
    response.acked_through = request.pushed_through;
    response.rejected.push(Rejection {
        doc_id: refused,
        code: RejectCode::OutOfScope,
        message: "outside".into(),
    });
    // Heads the phone does not know: nothing of that case may leave on this answer.
    response.acks.push(Ack {
        doc_id: by_heads,
        heads: vec![[7; 32]],
    });
    let r = p.store.apply_response(&response).unwrap();
    assert_eq!(
        r.acked_changes, 2,
        "the merged case's record and first note"
    );
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(p.store.case(merged).unwrap().unsent_changes, 1);
    assert_eq!(p.store.case(refused).unwrap().unsent_changes, 1);
    assert_eq!(p.store.case(by_heads).unwrap().unsent_changes, 1);
    assert_eq!(p.store.case(later).unwrap().unsent_changes, 1);
}

#[test]
fn a_handler_phone_takes_its_steps_offline_and_never_the_centers() {
    let mut server = ReferenceServer::new();
    server.register("worker", VILLAGE_A);
    server.register("handler", "330182");
    let mut worker = phone("worker", VILLAGE_A);
    let id = worker.store.record(&wage_case(VILLAGE_A, "欠薪")).unwrap();
    worker.store.submit(id).unwrap();
    sync(&mut worker, &mut server);
    let labour = OrgRef::new("330182-labour", "劳动监察大队");
    for action in [
        Action::accept("330182-20261128-000001"),
        Action::dispatch_to(labour.clone(), Tier::County),
    ] {
        server
            .act(id, &action, &center(), T0.plus_millis(60_000))
            .unwrap();
    }

    let mut handler = phone("handler", "330182");
    let author = Author::new("u-liu", Role::DepartmentHandler, labour.id.as_str());
    handler.store.set_identity(&author).unwrap();
    let report = sync(&mut handler, &mut server);
    assert_eq!(report.new_cases, vec![id]);

    // The buttons: the fold's answer for this user, without the center's own steps.
    use gridsync_core::workflow::EventKind as K;
    let allowed = handler.store.allowed_actions(id).unwrap();
    assert!(
        allowed.contains(&K::SignFor) && allowed.contains(&K::SendBack),
        "{allowed:?}"
    );
    assert!(allowed.iter().all(|k| !k.is_center_step()), "{allowed:?}");
    let view = handler.store.case(id).unwrap();
    let everything = view.state.allowed(&view.case, &author);
    assert!(allowed.iter().all(|k| everything.contains(k)));

    // A center step is refused here as the center's judge would refuse it from a device,
    // even for a role that may take it at the center.
    let dispatcher = Author::new("u-chen", Role::Dispatcher, "330182000000");
    handler.store.set_identity(&dispatcher).unwrap();
    let e = handler
        .store
        .act(id, &Action::dispatch_to(labour.clone(), Tier::County))
        .unwrap_err();
    assert_eq!(e.code(), "not_permitted");
    assert!(
        !handler
            .store
            .allowed_actions(id)
            .unwrap()
            .contains(&K::Dispatch)
    );
    handler.store.set_identity(&author).unwrap();

    handler.clock.advance(60_000);
    handler.store.act(id, &Action::SignFor {}).unwrap();
    let allowed = handler.store.allowed_actions(id).unwrap();
    assert!(!allowed.contains(&K::SignFor), "{allowed:?}");
    handler.store.act(id, &Action::StartHandling {}).unwrap();
    assert!(
        handler
            .store
            .allowed_actions(id)
            .unwrap()
            .contains(&K::Resolve)
    );
    let report = sync(&mut handler, &mut server);
    assert_eq!(
        report.sent_cases,
        vec![id],
        "the phone learns which case went up"
    );
    let doc = server.doc(id).unwrap();
    let at_center = gridsync_core::workflow::fold(
        &doc.case(),
        &doc.events(),
        &gridsync_core::workflow::TimeLimits::default(),
        T0.plus_millis(120_000),
    );
    assert_eq!(at_center.status, Status::InProgress);
}

#[test]
fn evidence_is_kept_beside_the_store_and_queued_after_its_reference_syncs() {
    use gridsync_core::case::AttachmentKind;
    use gridsync_core::store::{NewAttachment, UploadState};
    let mut server = ReferenceServer::new();
    server.register("p1", VILLAGE_A);
    let mut p = phone("p1", VILLAGE_A);
    let green = p.store.record(&wage_case(VILLAGE_A, "噪音")).unwrap();
    let mut red_case = wage_case(VILLAGE_A, "扬言报复");
    red_case.risk_level = RiskLevel::Red;
    let red = p.store.record(&red_case).unwrap();

    let photo: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let new = |mime: &str| NewAttachment {
        kind: AttachmentKind::Photo,
        mime: mime.into(),
        caption: "考勤表".into(),
    };
    let a = p
        .store
        .attach(green, &mut photo.as_slice(), &new("image/jpeg"))
        .unwrap();
    let b = p
        .store
        .attach(red, &mut &b"%PDF-1.4 iou"[..], &new("application/pdf"))
        .unwrap();
    assert_eq!(a.size, 200_000);
    assert_eq!(a.sha256.len(), 64);
    // The document holds the reference, not the bytes.
    let view = p.store.case(green).unwrap();
    assert_eq!(view.case.attachments, vec![a.clone()]);
    let file = p.store.evidence_path(&a.sha256).unwrap();
    assert_eq!(
        p.store.read_evidence(&a.sha256, 0, usize::MAX).unwrap(),
        photo
    );
    assert_eq!(p.store.evidence_size(&a.sha256).unwrap(), Some(200_000));
    assert_ne!(
        std::fs::read(&file).unwrap()[..64],
        photo[..64],
        "sealed at rest"
    );
    assert!(file.starts_with(p.store.evidence_dir()));

    // Nothing to upload before the references reached the center; then the red case first.
    let states: Vec<_> = p.store.uploads().unwrap().iter().map(|u| u.state).collect();
    assert_eq!(states, [UploadState::WaitingForSync; 2]);
    assert_eq!(p.store.next_upload().unwrap(), None);
    sync(&mut p, &mut server);
    let queue = p.store.uploads().unwrap();
    assert_eq!(
        queue
            .iter()
            .map(|u| (u.case_id, u.state))
            .collect::<Vec<_>>(),
        [(red, UploadState::Pending), (green, UploadState::Pending)]
    );
    let next = p.store.next_upload().unwrap().unwrap();
    assert_eq!(next.sha256, b.sha256);

    // Chunks come from the file; progress and completion are kept.
    let chunk = p
        .store
        .read_evidence(&a.sha256, 150_000, 64 * 1024)
        .unwrap();
    assert_eq!(chunk, &photo[150_000..]);
    p.store.record_upload(red, &b.sha256, b.size, true).unwrap();
    p.store
        .record_upload(green, &a.sha256, 65_536, false)
        .unwrap();
    let next = p.store.next_upload().unwrap().unwrap();
    assert_eq!((next.case_id, next.sent), (green, 65_536));
    p.store.fail_upload(green, &a.sha256, "too_large").unwrap();
    assert_eq!(p.store.next_upload().unwrap(), None);

    // A download is checked against its name before it takes its place.
    let other = "0".repeat(64);
    let mut download = p.store.begin_download(&other).unwrap();
    assert_eq!(download.have(), 0);
    std::io::Write::write_all(&mut download, b"not the bytes").unwrap();
    let e = p.store.complete_download(download).unwrap_err();
    assert_eq!(e.code(), "evidence_io");
    assert!(
        !p.store.has_evidence(&other).unwrap(),
        "bad bytes are discarded"
    );
    // Right bytes, cut off after a whole segment and resumed from there.
    let mut download = p.store.begin_download(&a.sha256).unwrap();
    std::io::Write::write_all(&mut download, &photo[..100_000]).unwrap();
    drop(download);
    let mut download = p.store.begin_download(&a.sha256).unwrap();
    assert_eq!(download.have(), 64 * 1024);
    std::io::Write::write_all(&mut download, &photo[64 * 1024..]).unwrap();
    p.store.complete_download(download).unwrap();
    assert_eq!(
        p.store.read_evidence(&a.sha256, 0, usize::MAX).unwrap(),
        photo
    );

    // A wipe takes the files with it.
    p.store.wipe().unwrap();
    assert!(!file.exists());
    assert!(p.store.uploads().unwrap().is_empty());
}
