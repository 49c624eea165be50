//! Evidence uploads at once (issue 15, "Must show"): EVIDENCE_PHONES (default 200) phones
//! each upload a EVIDENCE_KB (default 1,024) KB document in 256 KiB chunks to the server on
//! loopback, all at the same time. Prints the throughput and the center's resident memory
//! before and after, and its peak.
//!
//! With `EVIDENCE_SERVER=target/release/gridsync` the center is a `gridsync serve --demo`
//! process of its own (SQLite and the evidence directory in a temporary folder), and its
//! memory is its own. Without it the server runs in this process beside the phones (which
//! send slices of one shared buffer, so the growth is still mostly the center's).
//!
//! `cargo build --release --bin gridsync && EVIDENCE_SERVER=target/release/gridsync cargo
//! bench -p gridsync-tests --bench evidence`

use std::sync::{Arc, Barrier};
use std::time::Instant;

use gridsync_core::case::{AttachmentKind, AttachmentRef};
use gridsync_tests::bench::env_or;
use gridsync_tests::loadgen::{LocalServer, memory_kib};
use gridsync_tests::{Phone, TestServer, agent};
use sha2::{Digest, Sha256};

const CHUNK: usize = 256 << 10;

/// The center under test: in this process, or a process of its own.
enum Center {
    InProcess(Box<TestServer>),
    Own {
        server: LocalServer,
        /// The server's database and evidence, removed when the bench ends.
        _dir: tempfile::TempDir,
    },
}

impl Center {
    fn start() -> Center {
        match std::env::var_os("EVIDENCE_SERVER") {
            Some(binary) => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("center.db").display()
                );
                let server = LocalServer::spawn(std::path::Path::new(&binary), &url)
                    .expect("start the server");
                Center::Own { server, _dir: dir }
            }
            None => Center::InProcess(Box::new(TestServer::start())),
        }
    }

    fn base_url(&self) -> String {
        match self {
            Center::InProcess(s) => s.base_url(),
            Center::Own { server, .. } => server.base_url.clone(),
        }
    }

    /// Peak and current resident memory of the center's process, in MiB (Linux).
    fn memory(&self) -> (f64, f64) {
        let pid = match self {
            Center::InProcess(_) => std::process::id(),
            Center::Own { server, .. } => server.pid(),
        };
        let (rss, hwm) = memory_kib(pid).unwrap_or_default();
        (hwm as f64 / 1024.0, rss as f64 / 1024.0)
    }

    fn describe(&self) -> &'static str {
        match self {
            Center::InProcess(_) => "server and phones in one process",
            Center::Own { .. } => "the server's own process",
        }
    }
}

fn main() {
    let phones = env_or("EVIDENCE_PHONES", 200);
    let size = env_or("EVIDENCE_KB", 1024) * 1024;
    let server = Center::start();
    let base = server.base_url();
    // One buffer per phone would be the phones' memory, not the center's: each phone's
    // file differs only in its first 8 bytes, sent from a small header of its own.
    let shared: Arc<Vec<u8>> = Arc::new(
        (0..size as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect(),
    );
    let mut ready = Vec::new();
    for p in 0..phones {
        let mut phone = Phone::login(&base, "wang.grid", &format!("bench-evidence-{p}"));
        let mut head = b"%PDF-1.7\n".to_vec();
        head.extend((p as u64).to_le_bytes());
        let mut hasher = Sha256::new();
        hasher.update(&head);
        hasher.update(&shared[head.len()..]);
        let sha256 = hex::encode(hasher.finalize());
        let case = phone.record("证据压力");
        phone
            .store
            .add_attachment(
                case,
                &AttachmentRef {
                    id: String::new(),
                    sha256: sha256.clone(),
                    kind: AttachmentKind::Document,
                    size: size as u64,
                    mime: "application/pdf".into(),
                    caption: String::new(),
                },
            )
            .expect("attach");
        phone.sync().expect("sync");
        ready.push((
            format!("{base}/v1/cases/{case}/attachments/{sha256}"),
            phone.access_token.clone(),
            head,
        ));
    }
    let (peak_before, rss_before) = server.memory();
    let barrier = Arc::new(Barrier::new(phones));
    let started = Instant::now();
    let threads: Vec<_> = ready
        .into_iter()
        .map(|(url, token, head)| {
            let (shared, barrier) = (shared.clone(), barrier.clone());
            std::thread::spawn(move || {
                let client = agent();
                barrier.wait();
                let mut at = 0;
                while at < shared.len() {
                    let end = (at + CHUNK).min(shared.len());
                    let body: Vec<u8> = if at == 0 {
                        // The first chunk carries this phone's own header.
                        let mut b = head.clone();
                        b.extend_from_slice(&shared[head.len()..end]);
                        b
                    } else {
                        Vec::new()
                    };
                    let slice: &[u8] = if at == 0 { &body } else { &shared[at..end] };
                    let r = client
                        .patch(&url)
                        .header("Authorization", &format!("Bearer {token}"))
                        .header("Content-Type", "application/offset+octet-stream")
                        .header("Upload-Offset", &at.to_string())
                        .send(slice)
                        .expect("PATCH");
                    assert_eq!(r.status(), 204, "chunk at {at}");
                    at = end;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("phone");
    }
    let took = started.elapsed();
    let (peak_after, rss_after) = server.memory();
    let total = (phones * size) as f64 / (1024.0 * 1024.0);
    println!(
        "evidence: {phones} phones x {} KiB at once: {total:.0} MiB in {:.2} s = {:.1} MiB/s; \
         resident {rss_before:.0} -> {rss_after:.0} MiB, peak {peak_before:.0} -> {peak_after:.0} MiB ({})",
        size / 1024,
        took.as_secs_f64(),
        total / took.as_secs_f64(),
        server.describe()
    );
}
