//! The load generator's accounting: a small run whose figures are known, checked against
//! what the server stored (its change log) and what crossed the wire (a counting proxy
//! between the phones and the server that reads HTTP framing on its own).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gridsync_tests::TestServer;
use gridsync_tests::loadgen::{Fleet, FleetConfig, Scenario, Sessions};

/// `/v1/sync` traffic as the proxy saw it.
#[derive(Debug, Default)]
struct Wire {
    requests: AtomicU64,
    body_up: AtomicU64,
    body_down: AtomicU64,
}

/// A loopback HTTP/1.1 proxy that forwards byte for byte and sums the bodies of
/// `POST /v1/sync` requests and of their responses, by Content-Length.
fn counting_proxy(upstream: SocketAddr) -> (String, Arc<Wire>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let wire = Arc::new(Wire::default());
    let w = wire.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let server = TcpStream::connect(upstream).unwrap();
            // Which responses answer a sync request, in order (HTTP/1.1 answers in order).
            let pending = Arc::new(Mutex::new(VecDeque::new()));
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (w_up, p_up) = (w.clone(), pending.clone());
            std::thread::spawn(move || {
                relay(client, server, |head| {
                    let sync = head.starts_with("POST /v1/sync ");
                    p_up.lock().unwrap().push_back(sync);
                    if sync {
                        w_up.requests.fetch_add(1, Ordering::Relaxed);
                    }
                    sync.then_some(&w_up.body_up)
                })
            });
            let w_down = w.clone();
            std::thread::spawn(move || {
                relay(s2, c2, |_| {
                    let sync = pending.lock().unwrap().pop_front().unwrap_or(false);
                    sync.then_some(&w_down.body_down)
                })
            });
        }
    });
    (format!("http://{addr}"), wire)
}

/// Copies HTTP messages from `from` to `to`; `count` says, per message head, which
/// counter its body adds to.
fn relay<'a>(
    from: TcpStream,
    mut to: TcpStream,
    mut count: impl FnMut(&str) -> Option<&'a AtomicU64>,
) {
    let mut reader = BufReader::new(from);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown(std::net::Shutdown::Write);
                    return;
                }
                Ok(_) => {}
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let length: u64 = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let counter = count(&head);
        let mut body = vec![0; length as usize];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Some(c) = counter {
            c.fetch_add(length, Ordering::Relaxed);
        }
        if to.write_all(head.as_bytes()).is_err() || to.write_all(&body).is_err() {
            return;
        }
    }
}

/// Changes and cases the server holds from this run's devices.
fn stored(server: &TestServer, run: &str) -> (i64, i64) {
    server.block_on(async {
        let pool = server.state.db.pool();
        let like = format!("lg-{run}-%");
        let changes: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM changes WHERE device_id LIKE $1")
                .bind(&like)
                .fetch_one(&pool)
                .await
                .unwrap();
        let cases: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT case_id) FROM changes WHERE device_id LIKE $1",
        )
        .bind(&like)
        .fetch_one(&pool)
        .await
        .unwrap();
        (changes, cases)
    })
}

#[test]
fn loadgen_figures_match_the_change_log_and_the_wire() {
    let server = TestServer::start();
    let (proxy, wire) = counting_proxy(server.addr);
    let config = FleetConfig {
        provision_db: Some(server.db.url.clone()),
        sessions: Sessions::Mint {
            database_url: server.db.url.clone(),
            jwt_secret: "test-secret-0123456789".into(),
        },
        ..FleetConfig::new(&proxy, 3)
    };
    let run = config.run_id.clone();
    let mut fleet = Fleet::new(config).unwrap();
    // Phones are distinct workers of distinct villages.
    let villages: std::collections::HashSet<String> =
        (0..3).map(|i| fleet.worker(i).area_code).collect();
    assert_eq!(villages.len(), 3);

    // 3 phones × 2 cases; a case is recorded with a note (2 changes), the first of each
    // phone is also submitted (1 more): 5 changes per phone, one request each.
    let initial = fleet
        .run_scenario(&Scenario::Initial { cases_per_phone: 2 }, 2)
        .unwrap();
    assert_eq!(
        (
            initial.phones,
            initial.cases,
            initial.changes,
            initial.errors
        ),
        (3, 6, 15, 0),
        "{initial}"
    );
    assert_eq!((initial.syncs, initial.requests), (3, 3), "{initial}");
    assert_eq!(stored(&server, &run), (15, 6), "the change log agrees");
    assert_eq!(wire.requests.load(Ordering::Relaxed), initial.requests);
    assert_eq!(wire.body_up.load(Ordering::Relaxed), initial.bytes_up);
    assert_eq!(wire.body_down.load(Ordering::Relaxed), initial.bytes_down);
    assert!(
        initial.bytes_up > 6 * 500,
        "six cases with two parties: {initial}"
    );
    assert!(initial.to_string().contains(" cases=6 changes=15 "));

    // A day: 2 edits + 3 notes + submitting the one draft = 6 changes per phone.
    let (up0, down0) = (
        wire.body_up.load(Ordering::Relaxed),
        wire.body_down.load(Ordering::Relaxed),
    );
    let day = fleet
        .run_scenario(&Scenario::Day { edits: 2, notes: 3 }, 3)
        .unwrap();
    assert_eq!((day.cases, day.changes, day.errors), (0, 18, 0), "{day}");
    assert_eq!(stored(&server, &run), (15 + 18, 6));
    assert_eq!(wire.body_up.load(Ordering::Relaxed) - up0, day.bytes_up);
    assert_eq!(
        wire.body_down.load(Ordering::Relaxed) - down0,
        day.bytes_down
    );
    assert_eq!(wire.requests.load(Ordering::Relaxed), 6);
    // Every phone's scope is its own village: nothing of the others comes down.
    assert_eq!(day.pulled, 0, "{day}");

    // Steady: two syncs per phone, each after an edit and two notes (no drafts are left):
    // 6 syncs of 3 changes, one request each.
    let up0 = wire.body_up.load(Ordering::Relaxed);
    let steady = fleet
        .run_scenario(
            &Scenario::Steady {
                rate: 100,
                syncs_per_phone: 2,
            },
            3,
        )
        .unwrap();
    assert_eq!(
        (steady.syncs, steady.requests, steady.changes, steady.errors),
        (6, 6, 18, 0),
        "{steady}"
    );
    assert_eq!(stored(&server, &run), (15 + 18 + 18, 6));
    assert_eq!(wire.body_up.load(Ordering::Relaxed) - up0, steady.bytes_up);
    assert_eq!(wire.requests.load(Ordering::Relaxed), 12);
}
