//! Phones from two villages record and edit offline, sync in random orders; everyone ends
//! with exactly their scope, the same state as the center, and nothing moves twice.

use std::collections::{BTreeSet, HashMap};

use gridsync_core::case::{CaseId, NoteKind};
use gridsync_core::store::CaseFilter;
use gridsync_core::workflow::TimeLimits;
use gridsync_tests::{Phone, TestServer};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const VILLAGE_A: &str = "330182101201";

fn all_cases(p: &Phone) -> BTreeSet<CaseId> {
    p.store
        .cases(&CaseFilter {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

#[test]
fn three_phones_two_villages_converge_with_the_center() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut phones = vec![
        Phone::login(&base, "wang.grid", "a-wang"),
        Phone::login(&base, "li.mediator", "a-li"),
        Phone::login(&base, "zhao.grid", "b-zhao"),
    ];
    let seed: u64 = rand::rng().random();
    eprintln!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut pulled: HashMap<String, u64> = HashMap::new();
    let mut drafts: HashMap<String, BTreeSet<CaseId>> = HashMap::new();

    for round in 0..6 {
        for p in phones.iter_mut() {
            // Offline work: a new case (submitted, or left a draft), a note on a held case.
            let id = p.record(&format!("{} 第{round}轮 纠纷", p.device_id));
            if rng.random_bool(0.75) {
                p.store.submit(id).unwrap();
            } else {
                drafts.entry(p.device_id.clone()).or_default().insert(id);
            }
            let held: Vec<CaseId> = all_cases(p).into_iter().collect();
            let target = held[rng.random_range(0..held.len())];
            p.store
                .add_note(target, NoteKind::HomeVisit, &format!("第{round}轮走访"))
                .unwrap();
        }
        let mut order: Vec<usize> = (0..phones.len()).collect();
        order.shuffle(&mut rng);
        for i in order {
            let r = phones[i].sync().unwrap();
            assert!(r.rejected.is_empty(), "{:?}", r.rejected);
            *pulled.entry(phones[i].device_id.clone()).or_default() += u64::from(r.pulled_changes);
        }
    }
    // Submitted drafts promised above stay drafts; one more round settles everyone.
    for p in phones.iter_mut() {
        let r = p.sync().unwrap();
        *pulled.entry(p.device_id.clone()).or_default() += u64::from(r.pulled_changes);
    }

    // Each phone holds exactly its village's cases: submitted ones from anyone in the
    // village, and its own drafts.
    let now = server.state.clock.now();
    let limits = TimeLimits::default();
    let (in_a, in_b): (Vec<_>, Vec<_>) = server.block_on(async {
        let ids: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, area_code, status FROM cases")
                .fetch_all(&server.state.db.pool())
                .await
                .unwrap();
        ids.into_iter().partition(|(_, area, _)| area == VILLAGE_A)
    });
    let expect = |village: &[(String, String, String)], device: &str| -> BTreeSet<CaseId> {
        let own_drafts = drafts.get(device).cloned().unwrap_or_default();
        village
            .iter()
            .filter_map(|(id, _, status)| {
                let id: CaseId = id.parse().unwrap();
                (status != "DRAFT" || own_drafts.contains(&id)).then_some(id)
            })
            .collect()
    };
    assert_eq!(all_cases(&phones[0]), expect(&in_a, "a-wang"));
    assert_eq!(all_cases(&phones[1]), expect(&in_a, "a-li"));
    assert_eq!(all_cases(&phones[2]), expect(&in_b, "b-zhao"));
    assert_eq!(
        in_a.len() + in_b.len(),
        18,
        "every case reached the center once"
    );

    // Every replica derives the center's state.
    for p in &phones {
        assert_eq!(p.store.pending().unwrap().changes, 0);
        for id in all_cases(p) {
            let mine = p.store.case(id).unwrap();
            let center = server
                .block_on(gridsync_server::center::cases::load(&server.state, id))
                .unwrap()
                .unwrap();
            assert_eq!(mine.case, center.case(), "case {id} on {}", p.device_id);
            let theirs = center.state(&limits, now);
            let ours = gridsync_core::workflow::fold(&mine.case, &center.events(), &limits, now);
            assert_eq!(
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&theirs).unwrap()
            );
            assert_eq!(mine.state.status, theirs.status);
        }
    }

    // Nothing moved twice: each phone pulled exactly the changes others made in its scope.
    for p in &phones {
        let ids: Vec<String> = all_cases(p).iter().map(|c| c.to_string()).collect();
        let expected: i64 = server.block_on(async {
            let mut n = 0;
            for id in &ids {
                let c: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changes WHERE case_id = $1 AND (device_id IS NULL OR device_id <> $2)")
                    .bind(id)
                    .bind(&p.device_id)
                    .fetch_one(&server.state.db.pool())
                    .await
                    .unwrap();
                n += c;
            }
            n
        });
        assert_eq!(
            pulled[&p.device_id], expected as u64,
            "pulled changes of {}",
            p.device_id
        );
    }
    // And a sync with nothing new moves nothing.
    for p in phones.iter_mut() {
        let r = p.sync().unwrap();
        assert_eq!((r.pulled_changes, r.acked_changes), (0, 0));
    }
}

#[test]
fn a_response_lost_after_commit_is_harmless() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "lost-1");
    let id = phone.record("欠薪");
    phone
        .store
        .add_note(id, NoteKind::PhoneCall, "电话联系包工头")
        .unwrap();
    phone.store.submit(id).unwrap();

    let body = phone.store.prepare_sync().unwrap();
    let _lost = phone.post_sync(body).unwrap();
    let count = |server: &TestServer| -> (i64, i64) {
        server.block_on(async {
            let pool = server.state.db.pool();
            let changes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changes")
                .fetch_one(&pool)
                .await
                .unwrap();
            let cases: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cases")
                .fetch_one(&pool)
                .await
                .unwrap();
            (changes, cases)
        })
    };
    assert_eq!(count(&server), (3, 1));
    assert_eq!(
        phone.store.pending().unwrap().changes,
        3,
        "the phone never heard the ack"
    );

    let r = phone.sync().unwrap();
    assert_eq!(r.acked_changes, 3);
    assert_eq!(phone.store.pending().unwrap().changes, 0);
    assert_eq!(
        count(&server),
        (3, 1),
        "no duplicate change, no duplicate case"
    );
}

/// Eight devices of one grid worker add a note each to the same case while offline and sync
/// at the same moment, three times over. The center merges pushes ahead of its committer; a
/// merge made against a case another push has since moved must be made again, or the
/// snapshot written would drop the other device's note. Every note must reach the center's
/// document and every phone.
#[test]
fn one_case_pushed_from_many_devices_at_once_loses_no_note() {
    const DEVICES: usize = 8;
    const ROUNDS: usize = 3;
    let server = TestServer::start();
    let base = server.base_url();
    let mut first = Phone::login(&base, "wang.grid", "same-case-0");
    let id = first.record("同一案件多台设备同时补充");
    first.store.submit(id).unwrap();
    first.sync().unwrap();
    let before = first.store.case(id).unwrap().case.notes.len();
    let mut phones = vec![first];
    for k in 1..DEVICES {
        let mut p = Phone::login(&base, "wang.grid", &format!("same-case-{k}"));
        p.sync().unwrap();
        assert!(all_cases(&p).contains(&id), "device {k} got the case");
        phones.push(p);
    }
    for round in 0..ROUNDS {
        for (k, p) in phones.iter_mut().enumerate() {
            p.store
                .add_note(
                    id,
                    NoteKind::HomeVisit,
                    &format!("第{round}轮 设备{k} 走访记录"),
                )
                .unwrap();
        }
        let barrier = std::sync::Barrier::new(DEVICES);
        std::thread::scope(|s| {
            for p in phones.iter_mut() {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let r = p.sync().unwrap();
                    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
                });
            }
        });
    }
    let center = server
        .block_on(gridsync_server::center::cases::load(&server.state, id))
        .unwrap()
        .unwrap()
        .case();
    let texts: BTreeSet<&str> = center.notes.iter().map(|n| n.text.as_str()).collect();
    for round in 0..ROUNDS {
        for k in 0..DEVICES {
            let text = format!("第{round}轮 设备{k} 走访记录");
            assert!(texts.contains(text.as_str()), "the center lost {text:?}");
        }
    }
    assert_eq!(
        center.notes.len(),
        before + DEVICES * ROUNDS,
        "no note twice"
    );
    for p in phones.iter_mut() {
        p.sync().unwrap();
        let mine = p.store.case(id).unwrap().case;
        assert_eq!(mine.notes.len(), center.notes.len(), "{}", p.device_id);
    }
}

/// A phone that sends `pushed_through` gets the compact acknowledgement (no per-case ids and
/// heads); one that does not (an older app) gets every case acknowledged by heads. Both
/// leave the phone's outbox empty.
#[test]
fn compact_acks_for_phones_that_send_pushed_through_and_heads_for_older_ones() {
    use gridsync_core::protocol::{DecodeLimits, SyncResponse};
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "compact-acks");
    let a = phone.record("欠薪一");
    let b = phone.record("欠薪二");
    let (request, _) = phone.store.build_request().unwrap();
    assert!(request.pushed_through > 0);

    let mut older = request.clone();
    older.pushed_through = 0;
    let body = phone.post_sync(older.to_body()).unwrap();
    let answer = SyncResponse::from_body(&body, &DecodeLimits::default()).unwrap();
    assert_eq!(answer.acked_through, 0);
    let acked: BTreeSet<CaseId> = answer.acks.iter().map(|k| k.doc_id).collect();
    assert_eq!(acked, BTreeSet::from([a, b]));

    let body = phone.post_sync(request.to_body()).unwrap();
    let answer = SyncResponse::from_body(&body, &DecodeLimits::default()).unwrap();
    assert_eq!(answer.acked_through, request.pushed_through);
    assert!(answer.acks.is_empty(), "{:?}", answer.acks);
    let report = phone.store.apply_sync_response(&body).unwrap();
    assert_eq!(report.acked_changes, 2);
    assert_eq!(phone.store.pending().unwrap().changes, 0);
}

/// A case read while pushes to it rewrite its snapshot opens whole: the reader takes the log
/// after the snapshot it read, never after a newer one committed in between (that dropped
/// the changes between the two snapshots, and a case read just as it got its first
/// snapshot had no creation change at all). Readers run beside the pushes; every read must
/// hold at least the notes the center had acknowledged before it began.
#[test]
fn a_case_read_while_its_snapshot_is_rewritten_opens_whole() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const SYNCS: usize = 120;
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "snapshot-race");
    let id = phone.record("读写并发的案件");
    phone.sync().unwrap();
    let acked = AtomicUsize::new(phone.store.case(id).unwrap().case.notes.len());
    let done = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !done.load(Ordering::Acquire) {
                    let floor = acked.load(Ordering::Acquire);
                    let doc = server
                        .block_on(gridsync_server::center::cases::load(&server.state, id))
                        .expect("a case read beside pushes opens")
                        .expect("the case exists");
                    let notes = doc.case().notes.len();
                    assert!(
                        notes >= floor,
                        "read {notes} notes, {floor} were acknowledged"
                    );
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for i in 0..SYNCS {
            phone
                .store
                .add_note(id, NoteKind::HomeVisit, &format!("第{i}次走访"))
                .unwrap();
            phone.sync().unwrap();
            acked.store(
                phone.store.case(id).unwrap().case.notes.len(),
                Ordering::Release,
            );
        }
        done.store(true, Ordering::Release);
    });
    assert!(reads.load(Ordering::Relaxed) > SYNCS, "the readers kept up");
}
