//! Request rates of the citizens' pages, in memory per process (as sign-in throttling):
//! per client address, every public POST; per mobile number, the one-time codes asked
//! for (one a minute for each purpose, a few a day in all). Fixed windows: simple, and enough to make a burst
//! or a code-sending spree (SMS costs money, and annoys the number's owner) stop.
//!
//! The other limits live with the data: a code's validity and tries, the filings per
//! mobile per day (`crate::citizens`).

use std::collections::HashMap;
use std::sync::Mutex;

/// The rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicLimits {
    /// Public POSTs (codes, filings, follow, surveys) per client address per window.
    /// Default 30 per 10 minutes.
    pub per_address: u32,
    pub address_window_ms: i64,
    /// Codes per mobile and purpose (filing, following one case): at most one per this
    /// long. Default 60 s.
    pub code_interval_ms: i64,
    /// Codes per mobile per day. Default 10.
    pub codes_per_day: u32,
    /// Entries per table. Default 100,000.
    pub max_entries: usize,
}

impl Default for PublicLimits {
    fn default() -> Self {
        PublicLimits {
            per_address: 30,
            address_window_ms: 10 * 60_000,
            code_interval_ms: 60_000,
            codes_per_day: 10,
            max_entries: 100_000,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Window {
    start: i64,
    count: u32,
    last: i64,
}

/// The counters, shared by every request of the process.
#[derive(Debug, Default)]
pub struct PublicThrottle {
    addresses: Mutex<HashMap<String, Window>>,
    mobiles: Mutex<HashMap<String, Window>>,
    /// The last code per (mobile, purpose).
    recent: Mutex<HashMap<String, Window>>,
}

const DAY_MS: i64 = 24 * 3_600_000;

impl PublicThrottle {
    /// Counts a public POST from `addr`; `Err(seconds)` to wait when past the limit.
    pub fn address(&self, limits: &PublicLimits, addr: &str, now: i64) -> Result<(), u64> {
        let mut table = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        let w = entry(
            &mut table,
            addr,
            now,
            limits.address_window_ms,
            limits.max_entries,
        );
        if w.count >= limits.per_address {
            return Err(secs(w.start + limits.address_window_ms - now));
        }
        w.count += 1;
        w.last = now;
        Ok(())
    }

    /// Counts a code asked for `mobile_key` and `purpose`; `Err(seconds)` to wait.
    pub fn code(
        &self,
        limits: &PublicLimits,
        mobile_key: &str,
        purpose: &str,
        now: i64,
    ) -> Result<(), u64> {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let key = format!("{mobile_key}:{purpose}");
        let interval = limits.code_interval_ms;
        let r = entry(&mut recent, &key, now, interval, limits.max_entries);
        if r.count > 0 {
            return Err(secs(r.start + interval - now));
        }
        let mut table = self.mobiles.lock().unwrap_or_else(|e| e.into_inner());
        let w = entry(&mut table, mobile_key, now, DAY_MS, limits.max_entries);
        if w.count >= limits.codes_per_day {
            return Err(secs(w.start + DAY_MS - now));
        }
        w.count += 1;
        w.last = now;
        r.count = 1;
        Ok(())
    }
}

fn secs(ms: i64) -> u64 {
    u64::try_from(ms.max(1000) / 1000).unwrap_or(1)
}

/// The key's window, a fresh one when the old has run out; a full table first drops the
/// windows that ran out, then (still full) everything: bounded memory over precision.
fn entry<'a>(
    table: &'a mut HashMap<String, Window>,
    key: &str,
    now: i64,
    window: i64,
    max: usize,
) -> &'a mut Window {
    if table.len() >= max && !table.contains_key(key) {
        table.retain(|_, w| now < w.start + window);
        if table.len() >= max {
            table.clear();
        }
    }
    let w = table.entry(key.to_owned()).or_insert(Window {
        start: now,
        count: 0,
        last: now,
    });
    if now >= w.start + window || now < w.start {
        *w = Window {
            start: now,
            count: 0,
            last: now,
        };
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_mobiles_are_counted_in_windows() {
        let l = PublicLimits {
            per_address: 3,
            ..PublicLimits::default()
        };
        let t = PublicThrottle::default();
        for _ in 0..3 {
            t.address(&l, "10.0.0.1", 0).unwrap();
        }
        assert_eq!(t.address(&l, "10.0.0.1", 1000), Err(599));
        t.address(&l, "10.0.0.2", 1000).unwrap();
        t.address(&l, "10.0.0.1", 600_000).unwrap();

        t.code(&l, "m", "FILE", 0).unwrap();
        assert_eq!(t.code(&l, "m", "FILE", 30_000), Err(30));
        t.code(&l, "m", "FOLLOW:1", 30_000).unwrap();
        t.code(&l, "m2", "FILE", 30_000).unwrap();
        let mut now = 30_000;
        for _ in 2..10 {
            now += 60_000;
            t.code(&l, "m", "FILE", now).unwrap();
        }
        now += 60_000;
        assert!(t.code(&l, "m", "FILE", now).is_err(), "ten a day");
        t.code(&l, "m", "FILE", DAY_MS).unwrap();

        let small = PublicLimits {
            max_entries: 2,
            ..l
        };
        let t = PublicThrottle::default();
        for i in 0..10 {
            t.address(&small, &format!("a{i}"), 0).unwrap();
        }
        assert!(t.addresses.lock().unwrap().len() <= 2);
    }
}
