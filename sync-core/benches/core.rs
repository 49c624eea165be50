//! The device-side targets of DESIGN/issue 2, measured: record a case (< 2 ms), open a store
//! of 10,000 cases and list the first 50 open ones (< 50 ms), bytes per typical case
//! (< 2 KB), fold of a 40-event log (< 50 µs).
//!
//! `cargo bench -p gridsync-core --bench core`

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use gridsync_core::case::{
    CaseDoc, Category, Difficulty, FollowUp, Location, NewCase, NoteKind, PartyInput, PartyRole,
    RiskLevel, Sex, Source, Timestamp,
};
use gridsync_core::store::{CaseFilter, FieldStore, StoreKey};
use gridsync_core::workflow::{Action, Author, Event, OrgRef, Role, Tier, TimeLimits, fold};

fn typical_case(i: usize) -> NewCase {
    NewCase {
        area_code: "330182101201".into(),
        grid_code: "330182101201002".into(),
        source: Source::GridVisit,
        title: format!("王家与李家宅基地边界纠纷 #{i}"),
        summary: "两户因新建围墙越界约0.5米发生争执，双方多次口角，李家扬言要拆墙。\
                  Two households dispute a new wall built 0.5 m over the line."
            .into(),
        category: Category::HomesteadHousing,
        occurred_at: Some(Timestamp(1_795_000_000_000)),
        address: "某县某镇某村三组12号".into(),
        location: Some(Location {
            lat: 30.0512,
            lon: 119.9471,
        }),
        people_involved: 6,
        amount_involved: 1_200_000,
        risk_level: RiskLevel::Yellow,
        risk_flags: vec![],
        difficulty: Difficulty::General,
        parties: vec![
            PartyInput {
                role: PartyRole::Applicant,
                name: "王建国".into(),
                id_number: "330182196805061234".into(),
                sex: Sex::Male,
                ethnicity: "汉族".into(),
                phone: "13812345678".into(),
                address: "某县某镇某村三组12号".into(),
                ..PartyInput::default()
            },
            PartyInput {
                role: PartyRole::Respondent,
                name: "李秀英".into(),
                id_number: "330182197203154321".into(),
                sex: Sex::Female,
                ethnicity: "汉族".into(),
                phone: "13987654321".into(),
                address: "某县某镇某村三组14号".into(),
                ..PartyInput::default()
            },
        ],
        ..NewCase::default()
    }
}

fn worker() -> Author {
    Author::new("u-wang", Role::GridWorker, "330182101201")
}

fn bench_record(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FieldStore::open(
        dir.path().join("field.db"),
        "bench",
        &StoreKey::from_bytes(&[7; 32]).unwrap(),
    )
    .unwrap();
    store.set_identity(&worker()).unwrap();
    let mut i = 0;
    c.bench_function("device/record_case", |b| {
        b.iter(|| {
            i += 1;
            black_box(store.record(&typical_case(i)).unwrap())
        })
    });
    // Notes go round 1,000 cases so each stays typical-sized (a few notes each).
    let ids: Vec<_> = (0..1000)
        .map(|i| store.record(&typical_case(i)).unwrap())
        .collect();
    let mut n = 0;
    c.bench_function("device/add_note", |b| {
        b.iter(|| {
            n += 1;
            black_box(
                store
                    .add_note(
                        ids[n % ids.len()],
                        NoteKind::HomeVisit,
                        "入户走访，双方情绪平稳",
                    )
                    .unwrap(),
            )
        })
    });
}

fn bench_open_and_list(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    {
        let mut store =
            FieldStore::open(&path, "bench", &StoreKey::from_bytes(&[7; 32]).unwrap()).unwrap();
        store.set_identity(&worker()).unwrap();
        let start = Instant::now();
        for i in 0..10_000 {
            let id = store.record(&typical_case(i)).unwrap();
            if i % 2 == 0 {
                store.submit(id).unwrap();
            }
        }
        eprintln!(
            "setup: 10,000 cases recorded in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "store of 10,000 cases, outbox full: {} bytes per case",
        used_bytes(&path) / 10_000
    );
    ack_everything(&path);
    eprintln!(
        "store of 10,000 cases, all acknowledged: {} bytes per case",
        used_bytes(&path) / 10_000
    );
    c.bench_function("device/open_10k_and_list_50_open", |b| {
        b.iter(|| {
            let store =
                FieldStore::open(&path, "bench", &StoreKey::from_bytes(&[7; 32]).unwrap()).unwrap();
            let page = store
                .cases(&CaseFilter {
                    open_only: true,
                    limit: 50,
                    ..CaseFilter::default()
                })
                .unwrap();
            assert_eq!(page.len(), 50);
            black_box(page)
        })
    });
    let store = FieldStore::open(&path, "bench", &StoreKey::from_bytes(&[7; 32]).unwrap()).unwrap();
    c.bench_function("device/search_10k_by_party_name", |b| {
        b.iter(|| {
            black_box(
                store
                    .cases(&CaseFilter {
                        text: Some("李秀英".into()),
                        ..CaseFilter::default()
                    })
                    .unwrap(),
            )
        })
    });
}

/// Bytes of the SQLite file in use (free pages left out), after a WAL checkpoint.
fn used_bytes(path: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    // The store is SQLCipher: the same raw key the bench opens it with.
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "07".repeat(32)))
        .unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    // SQLCipher answers `page_size` as text.
    let q = |p: &str| {
        conn.query_row(&format!("PRAGMA {p}"), [], |r| {
            Ok(match r.get_ref(0)? {
                rusqlite::types::ValueRef::Integer(n) => n as u64,
                v => v.as_str().unwrap().parse().unwrap(),
            })
        })
        .unwrap()
    };
    (q("page_count") - q("freelist_count")) * q("page_size")
}

/// Plays the center: acknowledges every pushed change, as a real sync would.
fn ack_everything(path: &std::path::Path) {
    use gridsync_core::protocol::{Ack, SyncResponse};
    let mut store =
        FieldStore::open(path, "bench", &StoreKey::from_bytes(&[7; 32]).unwrap()).unwrap();
    let mut center = std::collections::HashMap::new();
    while store.pending().unwrap().changes > 0 {
        let (request, _) = store.build_request().unwrap();
        let mut response = SyncResponse::new(1);
        for push in &request.push {
            let doc = center.entry(push.doc_id).or_insert_with(|| {
                CaseDoc::from_changes(&push.changes, automerge::ActorId::random()).unwrap()
            });
            doc.apply_changes(&push.changes).unwrap();
            let heads = doc.heads().iter().map(|h| h.0).collect();
            response.acks.push(Ack {
                doc_id: push.doc_id,
                heads,
            });
        }
        store.apply_response(&response).unwrap();
    }
}

/// A typical case document: 30 fields, 2 parties, 5 mediation notes.
fn typical_doc() -> CaseDoc {
    let mut doc = CaseDoc::record(
        &typical_case(1),
        &worker(),
        "bench",
        Timestamp(1_795_000_000_000),
        automerge::ActorId::random(),
    )
    .unwrap();
    for n in 0..5 {
        doc.add_note(
            NoteKind::MediationFaceToFace,
            &format!("第{n}次调解：双方同意由村委会重新测量边界，李家暂停施工。"),
            &worker(),
            Timestamp(1_795_000_000_000 + n * 3_600_000),
        )
        .unwrap();
    }
    doc
}

fn bench_doc_size(_c: &mut Criterion) {
    let mut doc = typical_doc();
    eprintln!(
        "typical case (30 fields, 2 parties, 5 notes): save() = {} bytes, center snapshot \
         (save_checked, uncompressed) = {} bytes",
        doc.save().len(),
        doc.save_checked().unwrap().len()
    );
}

fn forty_event_log() -> Vec<Event> {
    let worker = worker();
    let center = Author::new("u-li", Role::Dispatcher, "330182000000");
    let dept = Author::new("u-zhao", Role::DepartmentHandler, "330182-judicial");
    let sup = Author::new("u-chen", Role::Supervisor, "330182000000");
    let org = OrgRef::new("330182-judicial", "司法所");
    let mut t = 1_795_000_000_000;
    let mut log = Vec::new();
    let mut push = |a: &Author, action: Action| {
        t += 3_600_000;
        log.push(Event::new(
            format!("e{}", log.len()),
            a,
            Timestamp(t),
            &action,
        ));
    };
    push(&worker, Action::Submit {});
    push(&center, Action::accept("330182-20261128-000001"));
    for _ in 0..3 {
        push(&center, Action::dispatch_to(org.clone(), Tier::Township));
        push(
            &dept,
            Action::SendBack {
                reason: "不属本部门职责".into(),
            },
        );
    }
    push(&center, Action::dispatch_to(org.clone(), Tier::Township));
    push(&dept, Action::SignFor {});
    push(&dept, Action::StartHandling {});
    for _ in 0..10 {
        push(
            &dept,
            Action::ExtensionRequest {
                days: 3,
                reason: "等待测量结果".into(),
            },
        );
        push(
            &center,
            Action::ExtensionDecision {
                approved: true,
                days: 0,
                note: String::new(),
            },
        );
    }
    for level in [gridsync_core::workflow::SupervisionLevel::Normal; 4] {
        push(
            &sup,
            Action::Supervise {
                level,
                note: "请加快办理".into(),
                auto: false,
            },
        );
    }
    push(
        &dept,
        Action::Resolve {
            success: true,
            outcome: "双方达成协议".into(),
            agreement: None,
        },
    );
    for _ in 0..3 {
        push(
            &worker,
            Action::FollowUp(FollowUp {
                satisfaction: 5,
                ..FollowUp::default()
            }),
        );
    }
    push(&center, Action::Archive {});
    assert_eq!(log.len(), 40);
    log
}

fn bench_fold(c: &mut Criterion) {
    let case = gridsync_core::case::Case::default();
    let log = forty_event_log();
    let limits = TimeLimits::default();
    let state = fold(&case, &log, &limits, Timestamp(1_796_000_000_000));
    assert_eq!(state.status, gridsync_core::workflow::Status::Archived);
    assert_eq!(state.superseded().count(), 0);
    c.bench_function("workflow/fold_40_events", |b| {
        b.iter(|| {
            black_box(fold(
                &case,
                black_box(&log),
                &limits,
                Timestamp(1_796_000_000_000),
            ))
        })
    });
}

/// Reading a case out of its document: what the center does for every pushed case (before
/// and after the merge) and the phone for every case it opens.
fn bench_read(c: &mut Criterion) {
    let mut doc = typical_doc();
    doc.act(&Action::Submit {}, &worker(), Timestamp(1_795_100_000_000))
        .unwrap();
    let case = doc.case();
    assert_eq!(case.parties.len(), 2);
    assert_eq!(case.notes.len(), 5);
    assert_eq!(doc.events().len(), 1);
    c.bench_function("case/read_typical", |b| {
        b.iter(|| black_box((doc.case(), doc.events())))
    });
}

/// Judging a pushed change by its operations (the center, for every new change from a
/// phone): a new case's first change against an empty document, and a note appended to a
/// typical case.
fn bench_judge(c: &mut Criterion) {
    use gridsync_core::case::Writer;
    let writer = Writer::new("u-wang", Role::GridWorker);
    let mut doc = typical_doc();
    let first = automerge::Change::from_bytes(doc.changes_since(&[]).remove(0)).unwrap();
    let mut empty = CaseDoc::empty(doc.id(), automerge::ActorId::random());
    assert!(empty.judge(&first, &writer).is_ok());
    c.bench_function("judge/record_typical", |b| {
        b.iter(|| black_box(empty.judge(&first, &writer)))
    });
    let before = doc.heads();
    doc.add_note(
        NoteKind::HomeVisit,
        "回访：工资已结清一半。",
        &worker(),
        Timestamp(1_795_200_000_000),
    )
    .unwrap();
    let note = automerge::Change::from_bytes(doc.changes_since(&before).remove(0)).unwrap();
    // The center holds everything but the note.
    let mut held = doc.changes_since(&[]);
    held.pop();
    let mut at_center = CaseDoc::from_changes(&held, automerge::ActorId::random()).unwrap();
    assert!(at_center.judge(&note, &writer).is_ok());
    c.bench_function("judge/add_note_typical", |b| {
        b.iter(|| black_box(at_center.judge(&note, &writer)))
    });
    c.bench_function("judge/decode_only", |b| b.iter(|| black_box(note.decode())));
    // A new case as a phone pushes it (the record and two notes), merged at the center in
    // one batch, or judged and applied change by change.
    let mut phone = typical_doc();
    let pushed: Vec<Vec<u8>> = phone.changes_since(&[]).into_iter().take(3).collect();
    let parsed: Vec<automerge::Change> = pushed
        .iter()
        .map(|b| automerge::Change::from_bytes(b.clone()).unwrap())
        .collect();
    c.bench_function("merge/new_case_batch", |b| {
        b.iter(|| black_box(CaseDoc::from_changes(&pushed, automerge::ActorId::random()).unwrap()))
    });
    c.bench_function("merge/new_case_judged_one_by_one", |b| {
        b.iter(|| {
            let mut doc = CaseDoc::empty(phone.id(), automerge::ActorId::random());
            for ch in &parsed {
                doc.judge(ch, &writer).unwrap();
                doc.apply_parsed(vec![ch.clone()]).unwrap();
            }
            black_box(doc)
        })
    });
    c.bench_function("merge/new_case_applied_one_by_one", |b| {
        b.iter(|| {
            let mut doc = CaseDoc::empty(phone.id(), automerge::ActorId::random());
            for ch in &parsed {
                doc.apply_parsed(vec![ch.clone()]).unwrap();
            }
            black_box(doc)
        })
    });
    c.bench_function("judge/heads_only", |b| {
        b.iter(|| black_box(at_center.heads()))
    });
}

criterion_group!(
    benches,
    bench_judge,
    bench_doc_size,
    bench_read,
    bench_fold,
    bench_record,
    bench_open_and_list
);
criterion_main!(benches);
