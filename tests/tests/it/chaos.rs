//! Phones syncing through a network that drops, truncates, delays and resets requests and
//! responses, also after the server committed ([`gridsync_tests::chaos::ChaosProxy`]). They
//! retry until each sync goes through; after a clean final sync every change any phone made
//! is in the server's log exactly once, no case is doubled, and every phone derives the same
//! case and state as the server.
//!
//! Long version: `GRIDSYNC_CHAOS_SHARE=0.5 GRIDSYNC_CHAOS_ROUNDS=60 GRIDSYNC_CHAOS_SEED=7
//! cargo test -p gridsync-tests --test it chaos -- --nocapture` (share of faulty exchanges,
//! default 0.4; rounds of work per phone, default 8; seed, default random and printed).

use gridsync_core::case::{CaseEdit, NoteKind};
use gridsync_tests::chaos::{ChaosProxy, Faults, Ledger, settle, sync_until_done};
use gridsync_tests::{Phone, TestServer};
use rand::{Rng, SeedableRng};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One phone's work: record (grid workers), edit, note, submit, sync through the proxy.
fn work(phone: &mut Phone, rounds: usize, seed: u64) -> Ledger {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut ledger = Ledger::default();
    let records = phone
        .store
        .identity()
        .unwrap()
        .is_some_and(|a| a.role == gridsync_core::workflow::Role::GridWorker);
    for round in 0..rounds {
        if records {
            let id = phone.record(&format!("{} 第{round}件", phone.device_id));
            ledger.cases.insert(id);
            if rng.random_bool(0.5) {
                phone.store.submit(id).unwrap();
            }
        }
        let held: Vec<_> = phone
            .store
            .cases(&Default::default())
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        for _ in 0..2 {
            if held.is_empty() {
                break;
            }
            let id = held[rng.random_range(0..held.len())];
            phone
                .store
                .add_note(
                    id,
                    NoteKind::HomeVisit,
                    &format!("{} 走访 {round}", phone.device_id),
                )
                .unwrap();
        }
        if let Some(id) = held.first().filter(|_| records) {
            let edit = CaseEdit {
                people_involved: Some(rng.random_range(1..40)),
                ..CaseEdit::default()
            };
            phone.store.edit(*id, &edit).unwrap();
        }
        sync_until_done(phone, &mut ledger);
    }
    ledger
}

#[test]
fn phones_behind_a_bad_network_converge_and_lose_nothing() {
    let server = TestServer::start();
    let share: f64 = env("GRIDSYNC_CHAOS_SHARE", 0.4);
    let rounds: usize = env("GRIDSYNC_CHAOS_ROUNDS", 8);
    let seed: u64 = env("GRIDSYNC_CHAOS_SEED", rand::rng().random());
    println!("chaos: share {share}, {rounds} rounds, seed {seed}");
    let proxy = ChaosProxy::start(server.addr, Faults::uniform(share), seed);

    // Two of wang's phones and the village mediator share a village; zhao's is another.
    let users = [
        ("wang.grid", "chaos-wang-1"),
        ("wang.grid", "chaos-wang-2"),
        ("li.mediator", "chaos-li"),
        ("zhao.grid", "chaos-zhao"),
    ];
    let handles: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(n, (user, device))| {
            // Sign-in goes straight to the server; every sync goes through the proxy.
            let mut phone = Phone::login(&server.base_url(), user, device);
            phone.base_url = proxy.base_url();
            std::thread::spawn(move || {
                let ledger = work(&mut phone, rounds, seed.wrapping_add(n as u64));
                (phone, ledger)
            })
        })
        .collect();
    let mut phones = Vec::new();
    let mut ledger = Ledger::default();
    for h in handles {
        let (phone, l) = h.join().unwrap();
        ledger.absorb(l);
        phones.push(phone);
    }
    let counts = proxy.counts();
    drop(proxy);

    let converged = settle(&server, &mut phones, &mut ledger);
    println!(
        "chaos: {} sync attempts ({} failed: {:?}); proxy: {counts}",
        ledger.attempts, ledger.failures, ledger.errors
    );
    println!(
        "chaos: {} changes, {} cases, {} (phone, case) pairs identical to the server; \
         nothing lost, nothing doubled",
        converged.changes, converged.cases, converged.comparisons
    );
    assert_eq!(
        ledger.acked, ledger.made,
        "every change was acknowledged in the end"
    );
    if share > 0.0 {
        assert!(
            counts.faults() > 0 && counts.lost_after_commit() > 0,
            "{counts}"
        );
    }
    assert_eq!(converged.cases, (3 * rounds) as u64);
}

/// The answer that brought a case newly in scope is lost after the server noted the phone
/// as holding it: the phone then gets only the case's later changes, which it cannot open.
/// It asks for everything again instead of failing every sync from then on.
/// One sync of `phone` whose answer is dropped after the server committed; the phone then
/// talks to the server directly again.
fn lose_one_answer(server: &TestServer, phone: &mut Phone) {
    let proxy = ChaosProxy::start(
        server.addr,
        Faults {
            drop_response: 1.0,
            ..Faults::none()
        },
        1,
    );
    phone.base_url = proxy.base_url();
    assert_eq!(phone.sync().unwrap_err().code, "network");
    assert_eq!(proxy.counts().dropped_responses, 1);
    phone.base_url = server.base_url();
}

#[test]
fn a_lost_answer_with_a_whole_case_is_recovered() {
    let server = TestServer::start();
    let mut author = Phone::login(&server.base_url(), "wang.grid", "lost-whole-author");
    let first = author.record("欠薪纠纷");
    author.store.submit(first).unwrap();
    author.sync().unwrap();
    // The other phone has synced before (its cursor is past 0: no full resync by itself).
    let mut other = Phone::login(&server.base_url(), "li.mediator", "lost-whole-other");
    other.sync().unwrap();
    assert!(other.store.has_case(first).unwrap() && other.store.cursor().unwrap() > 0);
    let id = author.record("邻里纠纷");
    author.store.submit(id).unwrap();
    author.sync().unwrap();

    lose_one_answer(&server, &mut other);
    assert!(!other.store.has_case(id).unwrap());

    author
        .store
        .add_note(id, NoteKind::HomeVisit, "第二次走访")
        .unwrap();
    author.sync().unwrap();
    let report = other.sync().unwrap();
    assert!(report.new_cases.contains(&id), "{report:?}");
    let view = other.store.case(id).unwrap();
    assert_eq!(view.case, author.store.case(id).unwrap().case);
    assert_eq!(view.case.notes.len(), 1);
}

/// The same loss, but the case never changes again: nothing new would ever mention it, so
/// the center itself must notice that the answer carrying it was not applied.
#[test]
fn a_lost_answer_with_a_whole_case_is_resent_even_if_the_case_never_changes() {
    let server = TestServer::start();
    let mut author = Phone::login(&server.base_url(), "wang.grid", "quiet-author");
    let mut other = Phone::login(&server.base_url(), "li.mediator", "quiet-other");
    other.sync().unwrap();
    let id = author.record("邻里纠纷");
    author.store.submit(id).unwrap();
    author.sync().unwrap();

    lose_one_answer(&server, &mut other);
    assert!(!other.store.has_case(id).unwrap());

    let report = other.sync().unwrap();
    assert!(report.new_cases.contains(&id), "{report:?}");
    assert_eq!(
        other.store.case(id).unwrap().case,
        author.store.case(id).unwrap().case
    );
    // Applied now: the next sync does not send it again.
    let again = other.sync().unwrap();
    assert!(again.new_cases.is_empty(), "{again:?}");
    assert_eq!(again.pulled_changes, 0, "{again:?}");
}
