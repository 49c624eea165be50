//! The server killed with SIGKILL at random moments while phones sync, and restarted on the
//! same database each time. Phones see connection errors and retry. At the end every change
//! any phone had acknowledged is in the server's log (checked before anything is synced
//! again), and after a final sync every phone derives the same case and state as the server.
//!
//! SQLite (a file), or a fresh PostgreSQL database when `GRIDSYNC_TEST_POSTGRES_URL` is set.
//! 30 kills by default; the long version: `GRIDSYNC_KILLS=300 cargo test -p gridsync-server
//! --test kill -- --nocapture`.
//!
//! The phones are driven here (threads of `gridsync_tests::Phone`), not by the load
//! generator: they must keep going through connection errors and log what was acknowledged.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gridsync_core::case::NoteKind;
use gridsync_core::clock::SystemClock;
use gridsync_tests::chaos::{Ledger, settle, sync_once};
use gridsync_tests::{Phone, TestDb, TestServer};
use rand::Rng;

/// The secret `TestServer` uses, so its tokens and the child's are interchangeable.
const JWT_SECRET: &str = "test-secret-0123456789";

fn start(db_url: &str, port: u16, demo: bool, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("server log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsync"));
    cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--database-url", db_url, "--jwt-secret", JWT_SECRET])
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log);
    if demo {
        cmd.arg("--demo");
    }
    cmd.spawn().expect("spawn gridsync")
}

fn wait_ready(child: &mut Child, port: u16) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let started = Instant::now();
    loop {
        if let Ok(resp) = agent.get(&format!("http://127.0.0.1:{port}/readyz")).call()
            && resp.status() == 200
        {
            return;
        }
        if let Some(exit) = child.try_wait().unwrap() {
            panic!("the server exited on start: {exit:?}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not get ready"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A phone working and syncing until told to stop; returns it with what it did.
fn phone_loop(mut phone: Phone, records: bool, stop: Arc<AtomicBool>) -> (Phone, Ledger) {
    let mut ledger = Ledger::default();
    let mut rng = rand::rng();
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) {
        if records && i.is_multiple_of(4) {
            let id = phone.record(&format!("{} 第{i}件", phone.device_id));
            ledger.cases.insert(id);
            if rng.random_bool(0.5) {
                phone.store.submit(id).unwrap();
            }
        }
        let held = phone.store.cases(&Default::default()).unwrap();
        if !held.is_empty() {
            let id = held[rng.random_range(0..held.len())].id;
            phone
                .store
                .add_note(
                    id,
                    NoteKind::HomeVisit,
                    &format!("{} 走访 {i}", phone.device_id),
                )
                .unwrap();
        }
        sync_once(&mut phone, &mut ledger);
        i += 1;
        std::thread::sleep(Duration::from_millis(rng.random_range(5..40)));
    }
    (phone, ledger)
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_change() {
    let kills: usize = std::env::var("GRIDSYNC_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let rt = gridsync_tests::runtime();
    let db = TestDb::new(&rt);
    let backend = if db.is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let began = Instant::now();

    let mut child = start(&db.url, port, true, &log);
    wait_ready(&mut child, port);
    let stop = Arc::new(AtomicBool::new(false));
    let users = [
        ("wang.grid", "kill-wang-1", true),
        ("wang.grid", "kill-wang-2", true),
        ("li.mediator", "kill-li", false),
        ("zhao.grid", "kill-zhao", true),
    ];
    let handles: Vec<_> = users
        .iter()
        .map(|(user, device, records)| {
            let phone = Phone::login(&base, user, device);
            let (stop, records) = (stop.clone(), *records);
            std::thread::spawn(move || phone_loop(phone, records, stop))
        })
        .collect();

    let mut rng = rand::rng();
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
        child.kill().unwrap();
        child.wait().unwrap();
        child = start(&db.url, port, false, &log);
        wait_ready(&mut child, port);
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut phones = Vec::new();
    let mut ledger = Ledger::default();
    for h in handles {
        let (phone, l) = match h.join() {
            Ok(done) => done,
            Err(panic) => {
                // The phone's panic names only the status; the server's log says why.
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let errors: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                    .collect();
                eprintln!(
                    "the server's warnings and errors (last 40):\n{}",
                    errors[errors.len().saturating_sub(40)..].join("\n")
                );
                std::panic::resume_unwind(panic);
            }
        };
        ledger.absorb(l);
        phones.push(phone);
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The same database in this process, for the checks and the final sync.
    let server = TestServer::start_on(rt, TestDb::shared(&db.url), Arc::new(SystemClock));
    let pool = server.state.db.pool();
    let log_hashes: HashSet<String> = server
        .block_on(sqlx::query_scalar("SELECT hash FROM changes").fetch_all(&pool))
        .unwrap()
        .into_iter()
        .collect();
    // Before anything is pushed again: acknowledged means held.
    let lost: Vec<&String> = ledger.acked.difference(&log_hashes).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged changes lost: {lost:?}",
        lost.len()
    );
    assert!(
        ledger.acked.len() > 50,
        "the phones got little through: {}",
        ledger.acked.len()
    );

    let converged = settle(&server, &mut phones, &mut ledger);
    println!(
        "kill ({backend}): {kills} kills survived in {:.0?}; {} acknowledged changes all in \
         the log; {} sync attempts ({} failed: {:?}); {} changes, {} cases, {} (phone, case) pairs \
         identical to the server after the final sync",
        began.elapsed(),
        ledger.acked.len(),
        ledger.attempts,
        ledger.failures,
        ledger.errors,
        converged.changes,
        converged.cases,
        converged.comparisons
    );
    drop(server);
    drop(db);
}
