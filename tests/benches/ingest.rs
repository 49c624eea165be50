//! Sync ingest over loopback: N phones (default 50) each push M cases (default 20) × 3
//! changes (record, note, edit) in one sync, all at once. Prints changes/s and the p50/p99
//! latency of one sync (the HTTP exchange; the phones' own SQLite work is done before and
//! after the timed part). SQLite by default; PostgreSQL when GRIDSYNC_TEST_POSTGRES_URL is set.
//!
//! `cargo bench -p gridsync-tests --bench ingest`
//! `INGEST_UNSIGNED=1 cargo bench -p gridsync-tests --bench ingest`: the phones push unsigned
//! (an app older than signatures): the center skips signature checks, the baseline.
//! `GRIDSYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p gridsync-tests --bench ingest`

use std::time::{Duration, Instant};

use gridsync_core::case::{CaseEdit, NoteKind};
use gridsync_tests::bench::{env_or, percentile};
use gridsync_tests::{Phone, TestServer};

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing we need.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let phones_n = env_or("INGEST_PHONES", 50);
    let cases_n = env_or("INGEST_CASES", 20);
    let rounds = env_or("INGEST_ROUNDS", 3);
    let unsigned = env_or("INGEST_UNSIGNED", 0) == 1;
    let server = TestServer::start();
    let backend = if server.db.is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let base = server.base_url();

    let mut rates = Vec::new();
    let mut all_latencies = Vec::new();
    for round in 0..rounds {
        // Offline work, before the clock starts: drafts, so the pull side stays empty and
        // this measures ingest.
        let phones: Vec<Phone> = (0..phones_n)
            .map(|i| {
                let mut p = Phone::login(&base, "wang.grid", &format!("bench-{round}-{i}"));
                // The first sync after login (the initial download) happens before: the timed
                // sync is an everyday one.
                p.sync().unwrap();
                for c in 0..cases_n {
                    let id = p.record(&format!("欠薪纠纷 {round}-{i}-{c}"));
                    p.store
                        .add_note(id, NoteKind::HomeVisit, "入户走访，双方情绪平稳")
                        .unwrap();
                    p.store
                        .edit(
                            id,
                            &CaseEdit {
                                title: Some(format!("欠薪纠纷(已核实) {i}-{c}")),
                                ..Default::default()
                            },
                        )
                        .unwrap();
                }
                p
            })
            .collect();
        let changes: u32 = phones
            .iter()
            .map(|p| p.store.pending().unwrap().changes)
            .sum();
        let start = Instant::now();
        let handles: Vec<_> = phones
            .into_iter()
            .map(|mut p| {
                std::thread::spawn(move || {
                    let t = Instant::now();
                    let r = if unsigned {
                        p.sync_unsigned()
                    } else {
                        p.sync()
                    }
                    .expect("sync");
                    assert_eq!(r.unsent_changes, 0);
                    t.elapsed()
                })
            })
            .collect();
        let mut latencies: Vec<Duration> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wall = start.elapsed();
        latencies.sort();
        let rate = f64::from(changes) / wall.as_secs_f64();
        println!(
            "ingest [{backend}] round {round}: {phones_n} phones × {cases_n} cases × 3 changes = {changes} changes in {:.2} s → {:.0} changes/s; sync p50 {:.0} ms, p99 {:.0} ms",
            wall.as_secs_f64(),
            rate,
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        );
        rates.push(rate);
        all_latencies.extend(latencies);
    }
    rates.sort_by(f64::total_cmp);
    all_latencies.sort();
    println!(
        "ingest [{backend}{}] median of {rounds} rounds: {:.0} changes/s; all syncs p50 {:.0} ms, p99 {:.0} ms",
        if unsigned { ", unsigned" } else { ", signed" },
        rates[rates.len() / 2],
        percentile(&all_latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&all_latencies, 0.99).as_secs_f64() * 1000.0,
    );
}
