//! A misbehaving network between phones and the server: a TCP proxy on `127.0.0.1:0` that,
//! by a seeded RNG, drops, truncates, delays and resets a configurable share of requests
//! and responses, including after the server has committed (the request went through whole;
//! the phone never hears the answer). Phones pointed at [`ChaosProxy::base_url`] must keep
//! retrying and still converge, with nothing lost and nothing doubled.
//!
//! Each connection carries one HTTP exchange: the proxy reads the whole request (head and
//! `Content-Length` body), adds `Connection: close` so the server answers and hangs up (and
//! clients do not pool the connection), picks one fault for the exchange, and counts what it
//! did ([`ChaosCounts`]).

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use gridsync_core::case::CaseId;
use gridsync_core::store::CaseFilter;

use crate::{Phone, TestServer};

/// The share (0.0–1.0) of exchanges that meet each fault; what is left passes untouched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Close the phone's connection before anything reaches the server.
    pub drop_request: f64,
    /// Forward part of the request, then break both connections.
    pub truncate_request: f64,
    /// Answer the phone with a TCP reset (RST) before anything reaches the server.
    pub reset_request: f64,
    /// Forward the request whole (the server commits), then close without answering.
    pub drop_response: f64,
    /// Forward the request whole, then pass on part of the answer and close.
    pub truncate_response: f64,
    /// Forward the request whole, then reset the phone's connection.
    pub reset_response: f64,
    /// Hold the exchange up for up to `max_delay` before it goes through untouched.
    pub delay: f64,
    pub max_delay: Duration,
}

impl Faults {
    /// No faults: a plain proxy.
    pub fn none() -> Faults {
        Faults {
            drop_request: 0.0,
            truncate_request: 0.0,
            reset_request: 0.0,
            drop_response: 0.0,
            truncate_response: 0.0,
            reset_response: 0.0,
            delay: 0.0,
            max_delay: Duration::from_millis(300),
        }
    }

    /// `share` of all exchanges meet a fault, spread evenly over the seven kinds.
    pub fn uniform(share: f64) -> Faults {
        let each = share.clamp(0.0, 1.0) / 7.0;
        Faults {
            drop_request: each,
            truncate_request: each,
            reset_request: each,
            drop_response: each,
            truncate_response: each,
            reset_response: each,
            delay: each,
            ..Faults::none()
        }
    }

    fn pick(&self, roll: f64) -> Fault {
        let kinds = [
            (self.drop_request, Fault::DropRequest),
            (self.truncate_request, Fault::TruncateRequest),
            (self.reset_request, Fault::ResetRequest),
            (self.drop_response, Fault::DropResponse),
            (self.truncate_response, Fault::TruncateResponse),
            (self.reset_response, Fault::ResetResponse),
            (self.delay, Fault::Delay),
        ];
        let mut edge = 0.0;
        for (share, fault) in kinds {
            edge += share;
            if roll < edge {
                return fault;
            }
        }
        Fault::None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    DropRequest,
    TruncateRequest,
    ResetRequest,
    DropResponse,
    TruncateResponse,
    ResetResponse,
    Delay,
}

/// What the proxy did, so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChaosCounts {
    /// Exchanges begun (connections that sent a whole request head).
    pub requests: u64,
    /// Exchanges that went through untouched (delayed ones included).
    pub clean: u64,
    pub dropped_requests: u64,
    pub truncated_requests: u64,
    pub reset_requests: u64,
    /// Requests the server received whole whose answer the phone never got whole.
    pub dropped_responses: u64,
    pub truncated_responses: u64,
    pub reset_responses: u64,
    pub delayed: u64,
}

impl ChaosCounts {
    /// Faults injected, delays included.
    pub fn faults(&self) -> u64 {
        self.dropped_requests
            + self.truncated_requests
            + self.reset_requests
            + self.dropped_responses
            + self.truncated_responses
            + self.reset_responses
            + self.delayed
    }

    /// Exchanges where the server got the request but the phone did not get the answer.
    pub fn lost_after_commit(&self) -> u64 {
        self.dropped_responses + self.truncated_responses + self.reset_responses
    }
}

impl std::fmt::Display for ChaosCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests, {} faults injected ({} dropped, {} truncated, {} reset before the \
             server; {} dropped, {} truncated, {} reset after it; {} delayed), {} clean",
            self.requests,
            self.faults(),
            self.dropped_requests,
            self.truncated_requests,
            self.reset_requests,
            self.dropped_responses,
            self.truncated_responses,
            self.reset_responses,
            self.delayed,
            self.clean
        )
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    clean: AtomicU64,
    dropped_requests: AtomicU64,
    truncated_requests: AtomicU64,
    reset_requests: AtomicU64,
    dropped_responses: AtomicU64,
    truncated_responses: AtomicU64,
    reset_responses: AtomicU64,
    delayed: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ChaosCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ChaosCounts {
            requests: get(&self.requests),
            clean: get(&self.clean),
            dropped_requests: get(&self.dropped_requests),
            truncated_requests: get(&self.truncated_requests),
            reset_requests: get(&self.reset_requests),
            dropped_responses: get(&self.dropped_responses),
            truncated_responses: get(&self.truncated_responses),
            reset_responses: get(&self.reset_responses),
            delayed: get(&self.delayed),
        }
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same rolls per connection.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n) (0 for n = 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// The proxy, with its own runtime; stops when dropped.
#[derive(Debug)]
pub struct ChaosProxy {
    pub addr: SocketAddr,
    counters: Arc<Counters>,
    rt: Option<tokio::runtime::Runtime>,
}

impl ChaosProxy {
    /// A proxy in front of `upstream` with these fault shares, rolling from `seed`.
    pub fn start(upstream: SocketAddr, faults: Faults, seed: u64) -> ChaosProxy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let counters = Arc::new(Counters::default());
        let shared = counters.clone();
        rt.spawn(async move {
            let mut n = 0u64;
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                n += 1;
                // One generator per connection, seeded from the run's seed and its number.
                let mut rng = Rng(seed ^ n.wrapping_mul(0xA24B_AED4_963E_E407));
                let counters = shared.clone();
                tokio::spawn(async move {
                    let _ = exchange(client, upstream, faults, &mut rng, &counters).await;
                });
            }
        });
        ChaosProxy {
            addr,
            counters,
            rt: Some(rt),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn counts(&self) -> ChaosCounts {
        self.counters.snapshot()
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The most a request may be; larger ones are passed through as far as read.
const MAX_REQUEST: usize = 64 << 20;

/// One exchange on one connection.
async fn exchange(
    mut client: TcpStream,
    upstream: SocketAddr,
    faults: Faults,
    rng: &mut Rng,
    counters: &Counters,
) -> std::io::Result<()> {
    let Some(request) = read_request(&mut client).await? else {
        return Ok(());
    };
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let count = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
    let fault = faults.pick(rng.unit());
    match fault {
        Fault::DropRequest => {
            count(&counters.dropped_requests);
            return client.shutdown().await;
        }
        Fault::ResetRequest => {
            count(&counters.reset_requests);
            return reset(client);
        }
        Fault::Delay => {
            count(&counters.delayed);
            let ms = rng.below(faults.max_delay.as_millis() as u64 + 1);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        _ => {}
    }
    let mut server = TcpStream::connect(upstream).await?;
    if fault == Fault::TruncateRequest {
        count(&counters.truncated_requests);
        // Anywhere short of the end: the server sees a request cut off.
        let cut = rng.below(request.len() as u64) as usize;
        server.write_all(&request[..cut]).await?;
        drop(server);
        return reset(client);
    }
    server.write_all(&request).await?;
    // The server closes after answering (`Connection: close`).
    let mut response = Vec::new();
    server.read_to_end(&mut response).await?;
    match fault {
        Fault::DropResponse => {
            count(&counters.dropped_responses);
            client.shutdown().await
        }
        Fault::ResetResponse => {
            count(&counters.reset_responses);
            reset(client)
        }
        Fault::TruncateResponse => {
            count(&counters.truncated_responses);
            let cut = rng.below(response.len() as u64) as usize;
            client.write_all(&response[..cut]).await?;
            client.shutdown().await
        }
        _ => {
            count(&counters.clean);
            client.write_all(&response).await?;
            client.shutdown().await
        }
    }
}

/// Closes with RST instead of FIN.
fn reset(stream: TcpStream) -> std::io::Result<()> {
    stream.set_zero_linger()?;
    drop(stream);
    Ok(())
}

/// Reads one whole request, returned as it is to be forwarded (with `Connection: close`);
/// `None` when the client left before sending a head.
async fn read_request(client: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 16 << 10];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 || buf.len() > 64 << 10 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut length = 0usize;
    let mut lines: Vec<&str> = Vec::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        lines.push(line);
    }
    let length = length.min(MAX_REQUEST);
    while buf.len() < head_end + length {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut new_head = lines.join("\r\n");
    new_head.push_str("\r\nConnection: close\r\n\r\n");
    let mut bytes = new_head.into_bytes();
    bytes.extend_from_slice(&buf[head_end..]);
    Ok(Some(bytes))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What the phones did, for the checks after the storm.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Every change a phone offered the server (hex hash): all it made, once its outbox
    /// is empty.
    pub made: HashSet<String>,
    /// Changes that left a phone's outbox because the server acknowledged them.
    pub acked: HashSet<String>,
    /// Cases recorded on the phones.
    pub cases: HashSet<CaseId>,
    /// Sync attempts, and those that failed on the way.
    pub attempts: u64,
    pub failures: u64,
    /// Failures by HTTP status and code (`0 network`, `503 ...`).
    pub errors: BTreeMap<String, u64>,
}

impl Ledger {
    pub fn absorb(&mut self, other: Ledger) {
        self.made.extend(other.made);
        self.acked.extend(other.acked);
        self.cases.extend(other.cases);
        self.attempts += other.attempts;
        self.failures += other.failures;
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
    }
}

/// The hashes of the changes in a phone's outbox (what its next sync offers).
pub fn outbox(phone: &Phone) -> HashSet<String> {
    let (request, _) = phone.store.build_request().expect("outbox");
    request
        .push
        .iter()
        .flat_map(|d| d.changes.iter())
        .map(|bytes| {
            automerge::Change::from_bytes(bytes.clone())
                .expect("outbox change")
                .hash()
                .to_string()
        })
        .collect()
}

/// One sync attempt, noted in the ledger: what it offered, what the server acknowledged.
/// Only network failures are expected of a bad network; anything else fails the test.
pub fn sync_once(phone: &mut Phone, ledger: &mut Ledger) -> bool {
    let before = outbox(phone);
    ledger.made.extend(before.iter().cloned());
    ledger.attempts += 1;
    let result = phone.sync();
    // Acknowledged = gone from the outbox, whether or not a later round failed.
    let after = outbox(phone);
    ledger.acked.extend(before.difference(&after).cloned());
    match result {
        Ok(report) => {
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
            true
        }
        Err(e) => {
            assert!(
                e.status == 0 && e.code == "network" || e.status == 503,
                "a bad network gives network errors only: {e}"
            );
            ledger.failures += 1;
            *ledger
                .errors
                .entry(format!("{} {}", e.status, e.code))
                .or_default() += 1;
            false
        }
    }
}

/// Syncs until an exchange goes through with the outbox empty.
pub fn sync_until_done(phone: &mut Phone, ledger: &mut Ledger) {
    for _ in 0..500 {
        if sync_once(phone, ledger) && phone.store.pending().expect("pending").changes == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{}: never got through", phone.device_id);
}

/// The clean final sync, twice round so every phone has everyone's last changes, then
/// [`check_converged`].
pub fn settle(server: &TestServer, phones: &mut [Phone], ledger: &mut Ledger) -> Converged {
    for _ in 0..2 {
        for phone in phones.iter_mut() {
            phone.base_url = server.base_url();
            sync_until_done(phone, ledger);
        }
    }
    let refs: Vec<&Phone> = phones.iter().collect();
    check_converged(server, &refs, ledger)
}

/// What [`check_converged`] counted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Converged {
    pub changes: u64,
    pub cases: u64,
    /// (phone, case) pairs compared with the server.
    pub comparisons: u64,
}

/// After a clean final sync: every change any phone made is in the server's log exactly
/// once, no case is doubled, and every phone derives the same case and state as the
/// server for every case it holds.
pub fn check_converged(server: &TestServer, phones: &[&Phone], ledger: &Ledger) -> Converged {
    for phone in phones {
        assert_eq!(
            phone.store.pending().expect("pending").changes,
            0,
            "{}: outbox not empty",
            phone.device_id
        );
    }
    let pool = server.state.db.pool();
    let (hashes, total, case_ids) = server.block_on(async {
        let hashes: Vec<String> = sqlx::query_scalar("SELECT hash FROM changes")
            .fetch_all(&pool)
            .await
            .expect("changes");
        let total = hashes.len();
        let case_ids: Vec<String> = sqlx::query_scalar("SELECT id FROM cases")
            .fetch_all(&pool)
            .await
            .expect("cases");
        (hashes, total, case_ids)
    });
    let log: HashSet<String> = hashes.into_iter().collect();
    assert_eq!(log.len(), total, "a change is in the log twice");
    let missing: Vec<&String> = ledger.made.difference(&log).collect();
    assert!(missing.is_empty(), "changes lost: {missing:?}");
    let held: HashSet<String> = case_ids.iter().cloned().collect();
    assert_eq!(held.len(), case_ids.len(), "a case held twice");
    for id in &ledger.cases {
        assert!(held.contains(&id.to_string()), "case {id} lost");
    }
    let mut out = Converged {
        changes: ledger.made.len() as u64,
        cases: ledger.cases.len() as u64,
        comparisons: 0,
    };
    let now = gridsync_core::clock::Clock::now(&gridsync_core::clock::SystemClock);
    for phone in phones {
        let list = phone
            .store
            .cases(&CaseFilter {
                limit: 100_000,
                ..CaseFilter::default()
            })
            .expect("list");
        for summary in list {
            let view = phone.store.case(summary.id).expect("case");
            let doc = server
                .block_on(gridsync_server::center::cases::load(
                    &server.state,
                    summary.id,
                ))
                .expect("load")
                .unwrap_or_else(|| panic!("case {} not at the server", summary.id));
            let case = doc.case();
            assert_eq!(
                view.case, case,
                "{}: case {} differs",
                phone.device_id, summary.id
            );
            let state = gridsync_core::workflow::fold(
                &case,
                &doc.events(),
                &gridsync_core::workflow::TimeLimits::default(),
                now,
            );
            assert_eq!(
                (view.state.status, &view.state.case_no),
                (state.status, &state.case_no),
                "{}: state of {} differs",
                phone.device_id,
                summary.id
            );
            out.comparisons += 1;
        }
    }
    out
}
