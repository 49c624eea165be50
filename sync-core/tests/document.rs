//! The case document itself (DESIGN §3): forward compatibility with newer schemas, one actor
//! per install, field validation that writes nothing, visible conflicts, and size.

mod common;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use common::{COUNTY_CENTER, DAY, GRID, HOUR, MIN, T0, VILLAGE, Who, new_case, party};
use gridsync_core::Error;
use gridsync_core::case::{
    CaseDoc, CaseEdit, Category, Difficulty, FieldConflict, Location, NoteKind, PartyEdit,
    PartyRole, RiskFlag, RiskLevel, SCHEMA_VERSION, Source,
};
use gridsync_core::workflow::{Action, Author, Role, Status, SupersedeReason, TimeLimits};

const CASE_ID: &str = "0b7f3c1e-5a2d-4e8f-9c61-3d2a7b9e4f10";

// ---- a document written by a newer schema ----------------------------------------------------

/// What a future app (schema 2) might write: the known fields, plus keys, a party field and
/// an event kind this version has never heard of, and a category code it does not know.
fn schema_2_document() -> Vec<u8> {
    let mut d = AutoCommit::new().with_actor(ActorId::random());
    d.put(ROOT, "schema", 2u64).unwrap();
    d.put(ROOT, "id", CASE_ID).unwrap();
    d.put(ROOT, "area_code", VILLAGE).unwrap();
    d.put(ROOT, "grid_code", GRID).unwrap();
    d.put(ROOT, "source", "ONLINE").unwrap();
    d.put(ROOT, "title", "网络购物退款纠纷").unwrap();
    d.put(ROOT, "summary", "通过小程序提交").unwrap();
    d.put(ROOT, "category", "ONLINE_SHOPPING").unwrap();
    d.put(ROOT, "address", "某县某镇某村").unwrap();
    d.put(ROOT, "people_involved", 2u64).unwrap();
    d.put(ROOT, "amount_involved", 59_900i64).unwrap();
    d.put(ROOT, "risk_level", "GREEN").unwrap();
    d.put_object(ROOT, "risk_flags", ObjType::Map).unwrap();
    d.put(ROOT, "difficulty", "SIMPLE").unwrap();
    d.put(ROOT, "recorded_at", T0.0).unwrap();
    d.put(ROOT, "recorded_by", "u-wang").unwrap();
    d.put(ROOT, "recorded_on", "phone-new").unwrap();
    // Keys schema 1 does not know.
    d.put(ROOT, "mediation_room", "线上调解室 7").unwrap();
    let triage = d.put_object(ROOT, "ai_triage", ObjType::Map).unwrap();
    d.put(&triage, "model", "triage-v3").unwrap();
    d.put(&triage, "score", 0.72).unwrap();

    let parties = d.put_object(ROOT, "parties", ObjType::List).unwrap();
    let p = d.insert_object(&parties, 0, ObjType::Map).unwrap();
    for (k, v) in [
        ("id", "p1"),
        ("role", "APPLICANT"),
        ("name", "李四"),
        ("id_type", "ID_CARD"),
        ("id_number", "330182199003071234"),
        ("sex", "MALE"),
        ("ethnicity", "汉族"),
        ("phone", "13812345678"),
        ("address", "某村三组12号"),
        ("wechat_id", "lisi_1990"),
    ] {
        d.put(&p, k, v).unwrap();
    }
    d.put(&p, "minor", false).unwrap();
    d.put_object(ROOT, "notes", ObjType::List).unwrap();
    d.put_object(ROOT, "attachments", ObjType::List).unwrap();

    let events = d.put_object(ROOT, "events", ObjType::List).unwrap();
    let event =
        |d: &mut AutoCommit, i: usize, id: &str, kind: &str, role: &str, at: i64, payload: &str| {
            let e = d.insert_object(&events, i, ObjType::Map).unwrap();
            d.put(&e, "id", id).unwrap();
            d.put(&e, "kind", kind).unwrap();
            d.put(&e, "by_user", "u-wang").unwrap();
            d.put(&e, "by_role", role).unwrap();
            d.put(&e, "org", VILLAGE).unwrap();
            d.put(&e, "at", at).unwrap();
            d.put(&e, "payload", payload).unwrap();
        };
    event(&mut d, 0, "ev-submit", "SUBMIT", "GRID_WORKER", T0.0, "{}");
    event(
        &mut d,
        1,
        "ev-online",
        "MEDIATE_ONLINE",
        "VILLAGE_MEDIATOR",
        T0.0 + HOUR,
        r#"{"room":"线上调解室 7","minutes":40}"#,
    );
    d.commit_with(
        CommitOptions::default()
            .with_message("record")
            .with_time(T0.0 / 1000),
    );
    d.save()
}

fn raw_str(d: &AutoCommit, obj: &automerge::ObjId, key: &str) -> Option<String> {
    match d.get(obj, key).unwrap() {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            other => Some(other.to_string()),
        },
        _ => None,
    }
}

fn raw_obj(d: &AutoCommit, obj: &automerge::ObjId, key: &str) -> automerge::ObjId {
    match d.get(obj, key).unwrap() {
        Some((Value::Object(_), id)) => id,
        other => panic!("{key} is not an object: {other:?}"),
    }
}

#[test]
fn a_newer_schema_opens_reads_what_it_knows_and_keeps_the_rest() {
    let bytes = schema_2_document();
    let mut doc = CaseDoc::load(&bytes, ActorId::random()).unwrap();

    // What this version knows reads normally; an unknown code reads as the default.
    let case = doc.case();
    assert_eq!(case.schema, 2);
    assert!(case.schema > SCHEMA_VERSION);
    assert_eq!(case.id.unwrap().to_string(), CASE_ID);
    assert_eq!(case.title, "网络购物退款纠纷");
    assert_eq!(case.source, Source::Online);
    assert_eq!(case.category, Category::Other);
    assert_eq!(case.difficulty, Difficulty::Simple);
    assert_eq!(case.amount_involved, 59_900);
    assert_eq!(case.parties.len(), 1);
    assert_eq!(case.parties[0].name, "李四");
    assert_eq!(case.parties[0].phone, "13812345678");

    // The unknown step is kept, superseded, and moves nothing.
    let limits = TimeLimits::default();
    let state = doc.state(&limits, T0.plus_millis(2 * HOUR));
    assert_eq!(state.status, Status::Submitted);
    assert_eq!(state.timeline.len(), 2);
    assert_eq!(state.timeline[1].kind, "MEDIATE_ONLINE");
    assert_eq!(
        state.timeline[1].superseded,
        Some(SupersedeReason::UnknownKind)
    );

    // Typed work on top of it.
    doc.edit(
        &CaseEdit {
            title: Some("网购退款纠纷（已核实）".into()),
            ..CaseEdit::default()
        },
        T0.plus_millis(3 * HOUR),
    )
    .unwrap();
    doc.edit_party(
        "p1",
        &PartyEdit {
            phone: Some("13900001111".into()),
            ..PartyEdit::default()
        },
        T0.plus_millis(3 * HOUR),
    )
    .unwrap();
    doc.add_note(
        NoteKind::PhoneCall,
        "电话核实订单号。",
        &Who::Worker.author(),
        T0.plus_millis(3 * HOUR),
    )
    .unwrap();
    let center = Author::new("u-li", Role::Dispatcher, COUNTY_CENTER);
    doc.act(
        &Action::accept("330182-20260301-000001"),
        &center,
        T0.plus_millis(4 * HOUR),
    )
    .unwrap();
    let saved = doc.save();

    // Reopened by this version: the edits and the unknown event are there.
    let reopened = CaseDoc::load(&saved, ActorId::random()).unwrap();
    let case = reopened.case();
    assert_eq!(case.schema, 2);
    assert_eq!(case.title, "网购退款纠纷（已核实）");
    assert_eq!(case.parties[0].phone, "13900001111");
    assert_eq!(case.notes.len(), 1);
    let kinds: Vec<String> = reopened.events().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["SUBMIT", "MEDIATE_ONLINE", "ACCEPT"]);
    let state = reopened.state(&limits, T0.plus_millis(5 * HOUR));
    assert_eq!(state.status, Status::Accepted);
    assert_eq!(state.superseded().count(), 1);

    // Read raw, as the newer app would: nothing it wrote was lost or rewritten.
    let raw = AutoCommit::load(&saved).unwrap();
    assert_eq!(
        raw.get(ROOT, "schema").unwrap().unwrap().0,
        Value::from(2u64)
    );
    assert_eq!(
        raw_str(&raw, &ROOT, "category").as_deref(),
        Some("ONLINE_SHOPPING")
    );
    assert_eq!(
        raw_str(&raw, &ROOT, "mediation_room").as_deref(),
        Some("线上调解室 7")
    );
    let triage = raw_obj(&raw, &ROOT, "ai_triage");
    assert_eq!(
        raw_str(&raw, &triage, "model").as_deref(),
        Some("triage-v3")
    );
    assert_eq!(
        raw.get(&triage, "score").unwrap().unwrap().0,
        Value::from(0.72)
    );
    let parties = raw_obj(&raw, &ROOT, "parties");
    let (_, p1) = raw.get(&parties, 0).unwrap().unwrap();
    assert_eq!(
        raw_str(&raw, &p1, "wechat_id").as_deref(),
        Some("lisi_1990")
    );
    let events = raw_obj(&raw, &ROOT, "events");
    let (_, online) = raw.get(&events, 1).unwrap().unwrap();
    assert_eq!(
        raw_str(&raw, &online, "kind").as_deref(),
        Some("MEDIATE_ONLINE")
    );
    assert_eq!(
        raw_str(&raw, &online, "payload").as_deref(),
        Some(r#"{"room":"线上调解室 7","minutes":40}"#)
    );
    // The edit touched only the key it names.
    assert!(
        CaseDoc::load(&saved, ActorId::random())
            .unwrap()
            .conflicts()
            .is_empty()
    );
}

// ---- one actor per install -------------------------------------------------------------------

fn recorded() -> (CaseDoc, Vec<u8>) {
    let worker = Who::Worker.author();
    let new = new_case(RiskLevel::Yellow, &[], Difficulty::General);
    let mut doc = CaseDoc::record(&new, &worker, "phone-wang", T0, ActorId::random()).unwrap();
    let bytes = doc.save();
    (doc, bytes)
}

fn converged(a: &mut CaseDoc, b: &mut CaseDoc) -> bool {
    let limits = TimeLimits::default();
    let mut ha = a.heads();
    let mut hb = b.heads();
    ha.sort();
    hb.sort();
    ha == hb
        && serde_json::to_string(&a.case()).unwrap() == serde_json::to_string(&b.case()).unwrap()
        && serde_json::to_string(&a.state(&limits, T0)).unwrap()
            == serde_json::to_string(&b.state(&limits, T0)).unwrap()
}

#[test]
fn two_installs_with_fresh_actors_edit_merge_and_converge() {
    let (_, bytes) = recorded();
    let mut phone = CaseDoc::load(&bytes, ActorId::random()).unwrap();
    let mut server = CaseDoc::load(&bytes, ActorId::random()).unwrap();
    let worker = Who::Worker.author();
    phone
        .edit(
            &CaseEdit {
                summary: Some("补充：欠薪共计18500元。".into()),
                ..CaseEdit::default()
            },
            T0.plus_millis(HOUR),
        )
        .unwrap();
    phone
        .act(&Action::Submit {}, &worker, T0.plus_millis(HOUR))
        .unwrap();
    server
        .add_note(
            NoteKind::PhoneCall,
            "中心电话回访申请人。",
            &Who::Center.author(),
            T0.plus_millis(HOUR),
        )
        .unwrap();

    let to_server = phone.changes_since(&[]);
    let to_phone = server.changes_since(&[]);
    server.apply_changes(&to_server).unwrap();
    phone.apply_changes(&to_phone).unwrap();
    assert!(converged(&mut phone, &mut server));
    let case = phone.case();
    assert_eq!(case.summary, "补充：欠薪共计18500元。");
    assert_eq!(case.notes.len(), 1);
    assert_eq!(
        phone.state(&TimeLimits::default(), T0).status,
        Status::Submitted
    );
}

/// Why every install takes a fresh random actor: a phone restored from an old backup that
/// keeps its actor id writes a second, different change under a sequence number it already
/// used. The server, which holds the first, cannot take the second.
#[test]
fn reusing_an_actor_after_data_loss_is_what_breaks() {
    let actor = ActorId::random();
    let new = new_case(RiskLevel::Green, &[], Difficulty::General);
    let mut phone =
        CaseDoc::record(&new, &Who::Worker.author(), "phone-wang", T0, actor.clone()).unwrap();
    let backup = phone.save();
    let mut server = CaseDoc::load(&backup, ActorId::random()).unwrap();

    // The phone works on, syncs, then is lost.
    phone
        .act(
            &Action::Submit {},
            &Who::Worker.author(),
            T0.plus_millis(HOUR),
        )
        .unwrap();
    server.apply_changes(&phone.changes_since(&[])).unwrap();
    drop(phone);

    // Restored from the backup with the same actor: its next change reuses sequence 2.
    let mut restored = CaseDoc::load(&backup, actor).unwrap();
    restored
        .add_note(
            NoteKind::HomeVisit,
            "恢复备份后补记。",
            &Who::Worker.author(),
            T0.plus_millis(2 * HOUR),
        )
        .unwrap();
    let result = server.apply_changes(&restored.changes_since(&[]));
    let err = result.expect_err("automerge refuses a second change with a used sequence number");
    assert!(matches!(err, Error::Document(_)), "{err:?}");
    assert_eq!(err.code(), "malformed_document");
    eprintln!("reused actor: {err}");

    // The same restore under a fresh actor merges cleanly.
    let mut restored = CaseDoc::load(&backup, ActorId::random()).unwrap();
    restored
        .add_note(
            NoteKind::HomeVisit,
            "恢复备份后补记。",
            &Who::Worker.author(),
            T0.plus_millis(2 * HOUR),
        )
        .unwrap();
    server.apply_changes(&restored.changes_since(&[])).unwrap();
    restored.apply_changes(&server.changes_since(&[])).unwrap();
    assert!(converged(&mut server, &mut restored));
    assert_eq!(server.case().notes.len(), 1);
    assert_eq!(
        server.state(&TimeLimits::default(), T0).status,
        Status::Submitted
    );
}

// ---- validation writes nothing ---------------------------------------------------------------

fn expect_invalid(result: gridsync_core::Result<impl std::fmt::Debug>, want_field: &str) {
    match result {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, want_field),
        other => panic!("expected invalid {want_field}, got {other:?}"),
    }
}

#[test]
fn recording_refuses_bad_fields() {
    let worker = Who::Worker.author();
    let base = new_case(RiskLevel::Green, &[], Difficulty::General);
    let record = |new| CaseDoc::record(&new, &worker, "phone-wang", T0, ActorId::random());
    let cases = [
        (
            "title",
            gridsync_core::case::NewCase {
                title: "   ".into(),
                ..base.clone()
            },
        ),
        (
            "title",
            gridsync_core::case::NewCase {
                title: "长".repeat(101),
                ..base.clone()
            },
        ),
        (
            "area_code",
            gridsync_core::case::NewCase {
                area_code: "3301821012010".into(),
                ..base.clone()
            },
        ),
        (
            "area_code",
            gridsync_core::case::NewCase {
                area_code: "33018210120A".into(),
                ..base.clone()
            },
        ),
        (
            "grid_code",
            gridsync_core::case::NewCase {
                grid_code: "330182101202003".into(),
                ..base.clone()
            },
        ),
        (
            "grid_code",
            gridsync_core::case::NewCase {
                grid_code: "33018210120100".into(),
                ..base.clone()
            },
        ),
        (
            "amount_involved",
            gridsync_core::case::NewCase {
                amount_involved: -1,
                ..base.clone()
            },
        ),
        (
            "summary",
            gridsync_core::case::NewCase {
                summary: "字".repeat(2001),
                ..base.clone()
            },
        ),
        (
            "name",
            gridsync_core::case::NewCase {
                parties: vec![party(PartyRole::Applicant, " ")],
                ..base.clone()
            },
        ),
        (
            "location",
            gridsync_core::case::NewCase {
                location: Some(Location {
                    lat: 91.0,
                    lon: 120.0,
                }),
                ..base.clone()
            },
        ),
    ];
    for (field, new) in cases {
        expect_invalid(record(new), field);
    }
    // The limits themselves are fine.
    let edge = gridsync_core::case::NewCase {
        title: "长".repeat(100),
        summary: "字".repeat(2000),
        grid_code: String::new(),
        amount_involved: 0,
        ..base
    };
    record(edge).unwrap();
}

#[test]
fn editing_refuses_bad_fields_and_writes_nothing() {
    let (mut doc, _) = recorded();
    let party_id = doc.case().parties[0].id.clone();
    let before_case = serde_json::to_string(&doc.case()).unwrap();
    let before_heads = doc.heads();
    let at = T0.plus_millis(HOUR);
    let edit = |e: CaseEdit| e;
    let bad_edits = [
        (
            "title",
            edit(CaseEdit {
                title: Some(String::new()),
                ..CaseEdit::default()
            }),
        ),
        (
            "title",
            edit(CaseEdit {
                title: Some("长".repeat(101)),
                ..CaseEdit::default()
            }),
        ),
        (
            "area_code",
            edit(CaseEdit {
                area_code: Some("3301821012010".into()),
                ..CaseEdit::default()
            }),
        ),
        (
            "grid_code",
            edit(CaseEdit {
                grid_code: Some("33018210120100X".into()),
                ..CaseEdit::default()
            }),
        ),
        (
            "grid_code",
            edit(CaseEdit {
                grid_code: Some("330182999999003".into()),
                ..CaseEdit::default()
            }),
        ),
        // A new village whose code the old grid does not start with.
        (
            "grid_code",
            edit(CaseEdit {
                area_code: Some("330182101202".into()),
                ..CaseEdit::default()
            }),
        ),
        (
            "amount_involved",
            edit(CaseEdit {
                amount_involved: Some(-100),
                ..CaseEdit::default()
            }),
        ),
        (
            "summary",
            edit(CaseEdit {
                summary: Some("字".repeat(2001)),
                ..CaseEdit::default()
            }),
        ),
        // A good field alongside a bad one: the good one is not written either.
        (
            "location",
            edit(CaseEdit {
                title: Some("新标题".into()),
                location: Some(Location {
                    lat: 30.0,
                    lon: 181.0,
                }),
                ..CaseEdit::default()
            }),
        ),
        (
            "amount_involved",
            edit(CaseEdit {
                summary: Some("新的摘要".into()),
                amount_involved: Some(-1),
                ..CaseEdit::default()
            }),
        ),
    ];
    for (field, e) in bad_edits {
        expect_invalid(doc.edit(&e, at), field);
        assert_eq!(
            serde_json::to_string(&doc.case()).unwrap(),
            before_case,
            "{field}: the case changed"
        );
        assert_eq!(doc.heads(), before_heads, "{field}: a change was committed");
    }
    let worker = Who::Worker.author();
    expect_invalid(doc.add_note(NoteKind::Other, "", &worker, at), "text");
    expect_invalid(doc.add_note(NoteKind::Other, " \n\t", &worker, at), "text");
    expect_invalid(
        doc.add_note(NoteKind::Other, &"记".repeat(10_001), &worker, at),
        "text",
    );
    expect_invalid(doc.add_party(&party(PartyRole::ThirdParty, ""), at), "name");
    expect_invalid(
        doc.edit_party(
            &party_id,
            &PartyEdit {
                name: Some("  ".into()),
                ..PartyEdit::default()
            },
            at,
        ),
        "name",
    );
    assert!(matches!(
        doc.edit_party("no-such-party", &PartyEdit::default(), at),
        Err(Error::ItemNotFound { what: "party", .. })
    ));
    assert_eq!(serde_json::to_string(&doc.case()).unwrap(), before_case);
    assert_eq!(doc.heads(), before_heads);

    // The next good operation carries only itself.
    doc.edit(
        &CaseEdit {
            people_involved: Some(3),
            ..CaseEdit::default()
        },
        at,
    )
    .unwrap();
    let case = doc.case();
    assert_eq!(case.people_involved, 3);
    assert_eq!(case.title, "张某拖欠务工人员工资");
    assert_eq!(case.location, None);
    assert_eq!(
        case.summary,
        "申请人在被申请人承包的工地务工三个月，工资未结清。"
    );
    // Moving the case to another village with a grid there is one valid edit.
    doc.edit(
        &CaseEdit {
            area_code: Some("330182101202".into()),
            grid_code: Some("330182101202001".into()),
            ..CaseEdit::default()
        },
        at,
    )
    .unwrap();
    assert_eq!(doc.case().grid_code, "330182101202001");
}

// ---- conflicts are visible -------------------------------------------------------------------

#[test]
fn concurrent_titles_conflict_visibly_and_agree_on_the_winner() {
    let (_, bytes) = recorded();
    let mut a = CaseDoc::load(&bytes, ActorId::random()).unwrap();
    let mut b = CaseDoc::load(&bytes, ActorId::random()).unwrap();
    assert!(a.conflicts().is_empty());
    let at = T0.plus_millis(HOUR);
    a.edit(
        &CaseEdit {
            title: Some("甲：欠薪纠纷".into()),
            ..CaseEdit::default()
        },
        at,
    )
    .unwrap();
    b.edit(
        &CaseEdit {
            title: Some("乙：劳务费纠纷".into()),
            ..CaseEdit::default()
        },
        at,
    )
    .unwrap();
    let to_b = a.changes_since(&[]);
    let to_a = b.changes_since(&[]);
    a.apply_changes(&to_a).unwrap();
    b.apply_changes(&to_b).unwrap();

    let conflicts = a.conflicts();
    assert_eq!(conflicts, b.conflicts());
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let FieldConflict { field, values } = &conflicts[0];
    assert_eq!(field, "title");
    let mut both: Vec<&str> = values.iter().map(|v| v.value.as_str()).collect();
    both.sort();
    assert_eq!(both, ["乙：劳务费纠纷", "甲：欠薪纠纷"]);
    // The winner, listed first, is what both replicas read.
    assert_eq!(a.case().title, values[0].value);
    assert_eq!(b.case().title, values[0].value);
    // Each value names the actor that wrote it and its change's time (to the second).
    let mut actors: Vec<&str> = values.iter().map(|v| v.actor.as_str()).collect();
    actors.sort();
    let mut want = vec![a.actor_hex(), b.actor_hex()];
    want.sort();
    assert_eq!(actors, want);
    assert!(values.iter().all(|v| v.at == at));

    // Writing the field again resolves the conflict everywhere.
    a.edit(
        &CaseEdit {
            title: Some("欠薪纠纷".into()),
            ..CaseEdit::default()
        },
        at.plus_millis(MIN),
    )
    .unwrap();
    b.apply_changes(&a.changes_since(&[])).unwrap();
    assert!(a.conflicts().is_empty());
    assert!(b.conflicts().is_empty());
    assert_eq!(b.case().title, "欠薪纠纷");
}

// ---- size ------------------------------------------------------------------------------------

#[test]
fn a_typical_case_saves_under_2_kb() {
    let worker = Who::Worker.author();
    let new = gridsync_core::case::NewCase {
        summary: "申请人李四等二人于2025年11月至2026年1月在被申请人张某承包的村道硬化工地务工，\
                  约定日工资230元，完工后张某以工程款未结为由拖欠工资共计18500元。"
            .into(),
        location: Some(Location {
            lat: 29.8167,
            lon: 119.6931,
        }),
        risk_flags: vec![RiskFlag::Repeat],
        ..new_case(RiskLevel::Yellow, &[], Difficulty::General)
    };
    let mut doc = CaseDoc::record(&new, &worker, "phone-wang", T0, ActorId::random()).unwrap();
    let notes = [
        (
            NoteKind::HomeVisit,
            "入户走访申请人，核实务工天数和工资标准，收集考勤记录照片。",
        ),
        (
            NoteKind::PhoneCall,
            "电话联系被申请人张某，其承认欠薪，称发包方工程款尚未到位。",
        ),
        (
            NoteKind::MediationRecord,
            "背靠背调解：申请人同意分两期支付，被申请人同意月底前先付一半。",
        ),
        (
            NoteKind::LegalExplanation,
            "向被申请人释明《保障农民工工资支付条例》相关规定及法律后果。",
        ),
        (
            NoteKind::MediationFaceToFace,
            "面对面调解达成一致，双方签署调解协议，约定两期付清。",
        ),
    ];
    for (i, (kind, text)) in notes.into_iter().enumerate() {
        let at = T0.plus_millis(i as i64 * DAY);
        doc.add_note(kind, text, &worker, at).unwrap();
    }
    let case = doc.case();
    assert_eq!(case.parties.len(), 2);
    assert_eq!(case.notes.len(), 5);
    let size = doc.save().len();
    eprintln!(
        "a typical case (22 fields, 2 parties x 10 fields, 5 notes, 6 commits): save() = {size} bytes"
    );
    assert!(size < 2048, "save() is {size} bytes");
}

#[test]
fn time_limits_set_by_the_center_travel_in_the_document_and_drive_the_deadlines() {
    use gridsync_core::workflow::{Action, Author, DeadlineKind, Role, TimeLimits};
    let worker = Author::new("w", Role::GridWorker, "330182101201");
    let new = gridsync_core::case::NewCase {
        area_code: "330182101201".into(),
        title: "欠薪".into(),
        ..Default::default()
    };
    let t0 = gridsync_core::case::Timestamp(1_795_000_000_000);
    let mut phone =
        gridsync_core::case::CaseDoc::record(&new, &worker, "p", t0, automerge::ActorId::random())
            .unwrap();
    phone.act(&Action::Submit {}, &worker, t0).unwrap();
    let mut center =
        gridsync_core::case::CaseDoc::load(&phone.save(), automerge::ActorId::random()).unwrap();
    // The county's rule: accept within 4 hours.
    let limits = TimeLimits {
        accept: 4 * 3_600_000,
        ..TimeLimits::default()
    };
    center.set_time_limits(&limits, t0).unwrap();
    let heads = center.heads();
    center.set_time_limits(&limits, t0).unwrap();
    assert_eq!(
        center.heads(),
        heads,
        "setting the same limits again changes nothing"
    );
    let bad = TimeLimits {
        sign: 0,
        ..TimeLimits::default()
    };
    assert_eq!(
        center.set_time_limits(&bad, t0).unwrap_err().code(),
        "invalid_input"
    );

    phone.apply_changes(&center.changes_since(&[])).unwrap();
    for doc in [&phone, &center] {
        // The phone folds with its defaults (1 day), but the case's limits win: due in 4 h.
        let state = doc.state(&TimeLimits::default(), t0);
        let accept = state
            .deadlines
            .iter()
            .find(|d| d.kind == DeadlineKind::Accept)
            .unwrap();
        assert_eq!(accept.due_at.0 - accept.started_at.0, 4 * 3_600_000);
    }
}

/// Found by `fuzz/sync_ingest`: Automerge 0.12 panicked (`lookup_actor(..).unwrap()` in
/// `import_ops`) on a change whose actor it had never registered: here an actor's first
/// change claims sequence number 2. Such a change is refused as a malformed document and
/// the receiver keeps working.
#[test]
fn a_change_automerge_would_panic_on_is_refused() {
    let (_, saved) = recorded();
    let mut phone = AutoCommit::load(&saved)
        .unwrap()
        .with_actor(ActorId::random());
    phone.put(ROOT, "title", "改过的标题").unwrap();
    phone.commit();
    let mut forged = phone.get_last_local_change().unwrap().decode();
    forged.seq = 2;
    forged.hash = None;
    let forged = automerge::Change::from(forged).raw_bytes().to_vec();

    let mut center = CaseDoc::load(&saved, ActorId::random()).unwrap();
    let err = center.apply_changes(&[forged]).unwrap_err();
    assert_eq!(err.code(), "malformed_document", "{err}");
    // The refused change left nothing behind that breaks the next honest one.
    let mut honest = AutoCommit::load(&saved)
        .unwrap()
        .with_actor(ActorId::random());
    honest.put(ROOT, "summary", "双方达成初步意向").unwrap();
    honest.commit();
    let change = honest.get_last_local_change().unwrap().raw_bytes().to_vec();
    let mut center = CaseDoc::load(&saved, ActorId::random()).unwrap();
    center.apply_changes(&[change]).unwrap();
    assert_eq!(center.case().summary, "双方达成初步意向");
}

/// Found by `fuzz/case_load`: Automerge 0.12 applies these changes (two actors, five
/// changes) but the document's save fails its own checksum on load. A store must find that
/// out before it keeps such a save as its snapshot.
#[test]
fn changes_whose_save_does_not_reopen_are_caught_before_a_snapshot_is_kept() {
    let data = include_bytes!("fixtures/regressions/changes-whose-save-does-not-reopen.bin");
    // The fuzz input: a mode byte, then changes each prefixed by a u16 LE length.
    let mut rest = &data[1..];
    let mut changes = Vec::new();
    while let [a, b, tail @ ..] = rest {
        let n = usize::from(u16::from_le_bytes([*a, *b])).min(tail.len());
        changes.push(tail[..n].to_vec());
        rest = &tail[n..];
    }
    assert_eq!(changes.len(), 5);
    let mut doc = CaseDoc::from_changes(&changes, ActorId::random()).expect("applies");
    assert!(
        AutoCommit::load(&doc.save()).is_err(),
        "Automerge fixed this: drop the check"
    );
    let err = doc.save_checked().expect_err("the save does not reopen");
    assert_eq!(err.code(), "malformed_document");
    // The first four changes make a document that saves and opens normally.
    let mut good = CaseDoc::from_changes(&changes[..4], ActorId::random()).unwrap();
    let saved = good.save_checked().unwrap();
    assert_eq!(
        CaseDoc::load(&saved, ActorId::random()).unwrap().id(),
        good.id()
    );
}

// ---- notes with a party, conflicts settled ---------------------------------------------------

#[test]
fn a_back_to_back_session_names_a_party_of_the_case() {
    let (mut doc, _) = recorded();
    let mediator = Who::Worker.author();
    let pid = doc.case().parties[0].id.clone();
    expect_invalid(
        doc.add_note_with(
            NoteKind::MediationBackToBack,
            None,
            "单独谈话",
            &mediator,
            T0,
        ),
        "party",
    );
    assert!(matches!(
        doc.add_note_with(
            NoteKind::MediationBackToBack,
            Some("p-none"),
            "单独谈话",
            &mediator,
            T0
        ),
        Err(Error::ItemNotFound { what: "party", .. })
    ));
    let id = doc
        .add_note_with(
            NoteKind::MediationBackToBack,
            Some(&pid),
            "同意分两期",
            &mediator,
            T0,
        )
        .unwrap();
    doc.add_note_with(NoteKind::MediationRecord, None, "调解笔录", &mediator, T0)
        .unwrap();
    let notes = doc.case().notes;
    assert_eq!(notes.len(), 2);
    assert_eq!(
        (notes[0].id.as_str(), notes[0].party.as_str()),
        (id.as_str(), pid.as_str())
    );
    assert_eq!(notes[1].kind, NoteKind::MediationRecord);
    assert!(notes[1].party.is_empty());
}

/// (field, the two concurrent edits, the value chosen)
type Settle = (
    &'static str,
    fn(&mut CaseDoc),
    fn(&mut CaseDoc),
    &'static str,
);

#[test]
fn a_conflict_is_settled_by_one_change_everywhere() {
    let rows: Vec<Settle> = vec![
        (
            "category",
            |d| {
                edit(
                    d,
                    CaseEdit {
                        category: Some(Category::Neighbour),
                        ..CaseEdit::default()
                    },
                )
            },
            |d| {
                edit(
                    d,
                    CaseEdit {
                        category: Some(Category::ContractDebt),
                        ..CaseEdit::default()
                    },
                )
            },
            "CONTRACT_DEBT",
        ),
        (
            "amount_involved",
            |d| {
                edit(
                    d,
                    CaseEdit {
                        amount_involved: Some(100),
                        ..CaseEdit::default()
                    },
                )
            },
            |d| {
                edit(
                    d,
                    CaseEdit {
                        amount_involved: Some(200),
                        ..CaseEdit::default()
                    },
                )
            },
            "100",
        ),
        (
            "location",
            |d| {
                edit(
                    d,
                    CaseEdit {
                        location: Some(Location {
                            lat: 30.0,
                            lon: 120.0,
                        }),
                        ..CaseEdit::default()
                    },
                )
            },
            |d| {
                edit(
                    d,
                    CaseEdit {
                        location: Some(Location {
                            lat: 31.5,
                            lon: 121.25,
                        }),
                        ..CaseEdit::default()
                    },
                )
            },
            "31.5,121.25",
        ),
        (
            "parties.*.phone",
            |d| party_phone(d, "13800000001"),
            |d| party_phone(d, "13800000002"),
            "13800000002",
        ),
    ];
    for (field, one, two, chosen) in rows {
        let (_, bytes) = recorded();
        let mut a = CaseDoc::load(&bytes, ActorId::random()).unwrap();
        let mut b = CaseDoc::load(&bytes, ActorId::random()).unwrap();
        one(&mut a);
        two(&mut b);
        let (to_a, to_b) = (b.changes_since(&[]), a.changes_since(&[]));
        a.apply_changes(&to_a).unwrap();
        b.apply_changes(&to_b).unwrap();
        let field = match field.strip_prefix("parties.*.") {
            Some(key) => format!("parties.{}.{key}", a.case().parties[0].id),
            None => field.to_owned(),
        };
        let conflicts = a.conflicts();
        assert_eq!(conflicts.len(), 1, "{field}: {conflicts:?}");
        assert_eq!(conflicts[0].field, field);
        assert!(
            conflicts[0].values.iter().any(|v| v.value == chosen),
            "{field}: {conflicts:?}"
        );
        // A value the field does not take is refused, and writes nothing.
        let heads = a.heads();
        let bad = "9".repeat(300);
        assert!(
            a.resolve_conflict(&field, &bad, T0.plus_millis(DAY))
                .is_err(),
            "{field}"
        );
        assert_eq!(a.heads(), heads);
        a.resolve_conflict(&field, chosen, T0.plus_millis(DAY))
            .unwrap();
        b.apply_changes(&a.changes_since(&[])).unwrap();
        assert!(a.conflicts().is_empty(), "{field}");
        assert!(b.conflicts().is_empty(), "{field}");
        assert!(converged(&mut a, &mut b), "{field}");
        // No conflict left to settle.
        assert!(matches!(
            a.resolve_conflict(&field, chosen, T0.plus_millis(DAY)),
            Err(Error::ItemNotFound {
                what: "conflict",
                ..
            })
        ));
    }
}

fn edit(d: &mut CaseDoc, e: CaseEdit) {
    d.edit(&e, T0.plus_millis(HOUR)).unwrap();
}

fn party_phone(d: &mut CaseDoc, phone: &str) {
    let pid = d.case().parties[0].id.clone();
    let e = PartyEdit {
        phone: Some(phone.into()),
        ..PartyEdit::default()
    };
    d.edit_party(&pid, &e, T0.plus_millis(HOUR)).unwrap();
}
