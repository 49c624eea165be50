//! What a case observer costs per write, in the library itself (a Rust listener, so no
//! foreign language's call is counted): a note on each of N cases with no observer, then
//! with one, each run ended when every notice has been delivered. Prints the figures.
//!
//!     cargo run --release -p gridsync-ffi --example observer_cost -- [N]
//!
//! `mobile-ffi/tests/python/bench_observer.py` measures the same with a Python listener.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use gridsync_core::store::FieldStore;
use gridsync_core::workflow::{Author, Role};
use gridsync_ffi::{CaseChange, CaseObserver, FieldClient, NewCase};

struct Counts(Arc<AtomicU64>);

impl CaseObserver for Counts {
    fn cases_changed(&self, changes: Vec<CaseChange>) {
        self.0.fetch_add(changes.len() as u64, Ordering::Relaxed);
    }
}

/// Seconds for `n` notes (one per case), and the notices heard.
fn run(dir: &std::path::Path, name: &str, n: usize, observe: bool) -> (f64, u64) {
    let path = dir.join(name);
    // A signed-in identity without a center: written by the core, as a login would.
    let key = gridsync_core::store::StoreKey::from_bytes(&[7; 32]).expect("key");
    FieldStore::open(&path, "bench", &key)
        .and_then(|mut s| s.set_identity(&Author::new("u-bench", Role::GridWorker, "330182101201")))
        .expect("prepare the store");
    let client = FieldClient::open(
        path.to_string_lossy().into_owned(),
        "bench".into(),
        key.as_bytes().to_vec(),
    )
    .expect("open the store");
    let cases: Vec<String> = (0..n)
        .map(|i| {
            client
                .record_case(NewCase {
                    title: format!("拖欠工资{i}"),
                    category: "LABOUR_WAGES".into(),
                    area_code: "330182101201".into(),
                    ..NewCase::default()
                })
                .expect("record")
        })
        .collect();
    let heard = Arc::new(AtomicU64::new(0));
    if observe {
        client.add_case_observer(Box::new(Counts(heard.clone())));
    }
    let start = Instant::now();
    for case in &cases {
        client
            .add_note(case.clone(), "入户走访".into())
            .expect("note");
    }
    assert!(client.flush_observers(60_000));
    (start.elapsed().as_secs_f64(), heard.load(Ordering::Relaxed))
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    // In memory where there is /dev/shm: an fsync costs more than what is measured here.
    let base = std::path::Path::new("/dev/shm");
    let dir = if base.is_dir() {
        tempfile::tempdir_in(base)
    } else {
        tempfile::tempdir()
    }
    .expect("temporary directory");
    let mut diffs = Vec::new();
    for round in 0..5 {
        let (plain, _) = run(dir.path(), &format!("plain{round}.db"), n, false);
        let (observed, heard) = run(dir.path(), &format!("observed{round}.db"), n, true);
        assert_eq!(heard, n as u64);
        diffs.push((observed - plain, plain, observed));
    }
    diffs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (diff, plain, observed) = diffs[2];
    let us = |s: f64| s / n as f64 * 1e6;
    println!("writes per run: {n} (add_note), 5 runs, the run with the median cost shown");
    println!("write, no observer:     {:8.1} us", us(plain));
    println!(
        "write, Rust observer:   {:8.1} us (until every notice was delivered)",
        us(observed)
    );
    println!("observer cost per write: {:7.1} us", us(diff));
}
