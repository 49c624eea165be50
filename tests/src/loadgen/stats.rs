//! Counting while the phones run, and the one-line summary printed per scenario.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::device::SyncOutcome;

/// Shared counters of a running scenario (lock-free except the latency list).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) syncs: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) bytes_up: AtomicU64,
    pub(crate) bytes_down: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) pulled: AtomicU64,
    pub(crate) errors: AtomicU64,
    /// New cases the finished syncs brought in.
    pub(crate) cases: AtomicU64,
    /// Time spent in measured phases.
    elapsed: Mutex<Duration>,
    /// Per-sync server wait, microseconds.
    latencies: Mutex<Vec<u64>>,
}

impl Recorder {
    pub(crate) fn sync(&self, o: &SyncOutcome) {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(o.requests, Ordering::Relaxed);
        self.bytes_up.fetch_add(o.bytes_up, Ordering::Relaxed);
        self.bytes_down.fetch_add(o.bytes_down, Ordering::Relaxed);
        self.acked
            .fetch_add(u64::from(o.report.acked_changes), Ordering::Relaxed);
        self.pulled
            .fetch_add(u64::from(o.report.pulled_changes), Ordering::Relaxed);
        self.latencies
            .lock()
            .expect("latency list")
            .push(o.wait.as_micros() as u64);
    }

    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_elapsed(&self, d: Duration) {
        *self.elapsed.lock().expect("elapsed") += d;
    }

    /// What was counted, as a summary (scenario name and memory filled in by the caller).
    pub(crate) fn summary(&self, phones: usize) -> Summary {
        Summary {
            phones: phones as u64,
            cases: self.cases.load(Ordering::Relaxed),
            changes: self.acked.load(Ordering::Relaxed),
            pulled: self.pulled.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            bytes_up: self.bytes_up.load(Ordering::Relaxed),
            bytes_down: self.bytes_down.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            elapsed: *self.elapsed.lock().expect("elapsed"),
            latency: self.percentiles(),
            ..Summary::default()
        }
    }

    /// The percentiles of the recorded latencies, in milliseconds.
    pub(crate) fn percentiles(&self) -> Latency {
        let mut l = self.latencies.lock().expect("latency list").clone();
        l.sort_unstable();
        let at = |q: f64| -> f64 {
            if l.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest value with at least q of the samples at or below it.
            let rank = ((q * l.len() as f64).ceil() as usize).clamp(1, l.len());
            l[rank - 1] as f64 / 1000.0
        };
        Latency {
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: l.last().map_or(0.0, |m| *m as f64 / 1000.0),
        }
    }
}

/// Sync latency percentiles (nearest rank), milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// What one scenario did; its `Display` is the stable `key=value` summary line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub scenario: String,
    pub phones: u64,
    pub concurrency: u64,
    /// New cases the phones recorded and the center acknowledged.
    pub cases: u64,
    /// Changes the center acknowledged (left the phones' outboxes).
    pub changes: u64,
    /// Changes the phones pulled.
    pub pulled: u64,
    /// Complete syncs (each one or more requests until nothing is left).
    pub syncs: u64,
    pub requests: u64,
    /// HTTP body bytes of `/v1/sync` requests (CBOR + zstd), headers not counted.
    pub bytes_up: u64,
    /// HTTP body bytes of `/v1/sync` responses.
    pub bytes_down: u64,
    pub errors: u64,
    /// Wall time of the measured phase (the syncs; for `fanout`, dispatch + pulls).
    pub elapsed: Duration,
    /// Time the server took per sync, as the phone waited for it (all rounds).
    pub latency: Latency,
    /// Center-side steps taken (`fanout`: accept + dispatch per case).
    pub center_actions: u64,
    /// The server's peak resident memory (VmHWM), when it runs locally.
    pub server_peak_rss_kib: Option<u64>,
    /// The server's resident memory at the end (VmRSS), when it runs locally.
    pub server_rss_kib: Option<u64>,
}

impl Summary {
    pub fn cases_per_sec(&self) -> f64 {
        per_sec(self.cases, self.elapsed)
    }

    pub fn changes_per_sec(&self) -> f64 {
        per_sec(self.changes, self.elapsed)
    }

    pub fn requests_per_sync(&self) -> f64 {
        if self.syncs == 0 {
            0.0
        } else {
            self.requests as f64 / self.syncs as f64
        }
    }
}

fn per_sec(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scenario={} phones={} concurrency={} elapsed_s={:.2} cases={} changes={} pulled={} \
             cases_per_s={:.0} changes_per_s={:.0} syncs={} p50_ms={:.1} p95_ms={:.1} p99_ms={:.1} \
             max_ms={:.1} bytes_up={} bytes_down={} requests={} requests_per_sync={:.2} errors={}",
            self.scenario,
            self.phones,
            self.concurrency,
            self.elapsed.as_secs_f64(),
            self.cases,
            self.changes,
            self.pulled,
            self.cases_per_sec(),
            self.changes_per_sec(),
            self.syncs,
            self.latency.p50_ms,
            self.latency.p95_ms,
            self.latency.p99_ms,
            self.latency.max_ms,
            self.bytes_up,
            self.bytes_down,
            self.requests,
            self.requests_per_sync(),
            self.errors,
        )?;
        if self.center_actions > 0 {
            write!(f, " center_actions={}", self.center_actions)?;
        }
        if let Some(kib) = self.server_peak_rss_kib {
            write!(f, " server_peak_rss_mib={:.1}", kib as f64 / 1024.0)?;
        }
        if let Some(kib) = self.server_rss_kib {
            write!(f, " server_rss_mib={:.1}", kib as f64 / 1024.0)?;
        }
        Ok(())
    }
}
