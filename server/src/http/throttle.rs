//! Sign-in throttling: exponential backoff per (account, client address) and per address,
//! never a lock.
//!
//! Each key has a few free failures; after them every further failure doubles the wait
//! before the next attempt (1 s, 2 s, 4 s, ... up to [`LoginLimits::max_delay_ms`]), and an
//! attempt inside the wait is answered 429 `rate_limited` with `Retry-After` before any
//! password is checked. The keys:
//! - (account, address): a guesser at one account from one address slows down fast;
//! - address: a guesser spraying many accounts from one address slows down too.
//!
//! No key is the account alone: failures from other addresses never stop the rightful user
//! signing in from their own address (only that address's own failures can slow them, and
//! a success clears its (account, address) count). The price: a guesser holding many
//! addresses gets a few tries per address per account; passwords are argon2 hashes, and
//! the per-address backoff still bounds each address.
//!
//! Only failures count: a fleet of phones signing in from one NAT (or the load generator
//! on 127.0.0.1) is never slowed by its own successes. The account is the username as typed
//! (trimmed, lowercased), whether or not it exists, so the answer never tells which
//! usernames are real. A success clears its (account, address) count, never the address's
//! (an attacker holding one valid account must not reset the count of their guesses
//! elsewhere). Attempts still being checked count as failures, so a burst of parallel
//! guesses cannot all slip through before the first is counted.
//!
//! Memory is bounded: entries are forgotten [`LoginLimits::forget_after_ms`] after their last
//! failure, and each table holds at most [`LoginLimits::max_entries`]; when full, forgotten
//! entries go first, then the one whose last failure is oldest.
//!
//! The client address is the TCP peer (`ConnectInfo`). `X-Forwarded-For` is believed only
//! when [`LoginLimits::trust_forwarded_for`] is set, for a server that sits behind its own
//! reverse proxy: otherwise any client could pick a fresh address per guess.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// How many failed sign-ins are free, and how the wait grows after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    /// Free failures per account (username as typed) from one address. Default 5.
    pub per_account_address: u32,
    /// Free failures per client address, over all accounts. Default 50: a village office's
    /// NAT may carry a few users mistyping at once.
    pub per_address: u32,
    /// The wait after the first failure past the free ones, in milliseconds; it doubles with
    /// each further failure. Default 1 s.
    pub base_delay_ms: i64,
    /// The longest wait, in milliseconds. Default 15 minutes.
    pub max_delay_ms: i64,
    /// Failures are forgotten this long after the last one (at least `max_delay_ms`).
    /// Default 1 hour.
    pub forget_after_ms: i64,
    /// Entries per table (account and address, address). Default 100,000 (a few MiB).
    pub max_entries: usize,
    /// Take the client address from the last `X-Forwarded-For` hop. Only behind a reverse
    /// proxy that sets it; default off.
    pub trust_forwarded_for: bool,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_account_address: 5,
            per_address: 50,
            base_delay_ms: 1000,
            max_delay_ms: 15 * 60 * 1000,
            forget_after_ms: 60 * 60 * 1000,
            max_entries: 100_000,
            trust_forwarded_for: false,
        }
    }
}

impl LoginLimits {
    fn forget_after(&self) -> i64 {
        self.forget_after_ms.max(self.max_delay_ms)
    }

    /// The wait after `failures` failures of which `free` cost nothing.
    fn delay(&self, failures: u32, free: u32) -> i64 {
        if failures < free.max(1) {
            return 0;
        }
        let doublings = (failures - free.max(1)).min(40);
        self.base_delay_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.max_delay_ms)
    }
}

/// One key's failures.
#[derive(Clone, Copy, Debug, Default)]
struct Failures {
    count: u32,
    last: i64,
    /// Attempts admitted and not yet decided.
    pending: u32,
    /// A refusal since the last failure has been reported (audited once, not per request).
    refusal_reported: bool,
}

type PairKey = (String, Option<IpAddr>);

/// The failure tables, shared by every request of the process.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    pairs: HashMap<PairKey, Failures>,
    addresses: HashMap<IpAddr, Failures>,
}

/// A refusal: try again after this many seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_secs: u64,
    /// The first refusal since the last failure (worth an audit entry; the ones after it,
    /// cheap to send by the thousand, are not).
    pub first: bool,
}

/// An admitted sign-in attempt, counted as a failure until told otherwise.
#[derive(Debug)]
pub struct Attempt {
    throttle: Arc<LoginThrottle>,
    limits: LoginLimits,
    pair: PairKey,
    addr: Option<IpAddr>,
    decided: bool,
}

impl LoginThrottle {
    /// Admits an attempt, or refuses it while the (account, address) or the address is
    /// waiting out its backoff.
    pub fn attempt(
        self: &Arc<Self>,
        limits: &LoginLimits,
        account: &str,
        addr: Option<IpAddr>,
        now: i64,
    ) -> Result<Attempt, Limited> {
        let mut tables = self.lock();
        let pair = (account_key(account), addr);
        let forget = limits.forget_after();
        let wait_until = |f: Option<&Failures>, free: u32| {
            f.filter(|f| now < f.last + forget || f.pending > 0)
                .map(|f| f.last + limits.delay(f.count + f.pending, free))
                .filter(|until| now < *until)
        };
        let until = [
            wait_until(tables.pairs.get(&pair), limits.per_account_address),
            addr.and_then(|ip| wait_until(tables.addresses.get(&ip), limits.per_address)),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(until) = until {
            let mut first = false;
            let Tables { pairs, addresses } = &mut *tables;
            for f in [
                pairs.get_mut(&pair),
                addr.and_then(|ip| addresses.get_mut(&ip)),
            ]
            .into_iter()
            .flatten()
            {
                first |= !f.refusal_reported;
                f.refusal_reported = true;
            }
            return Err(Limited {
                retry_after_secs: u64::try_from((until - now + 999) / 1000)
                    .unwrap_or(1)
                    .max(1),
                first,
            });
        }
        entry(&mut tables.pairs, pair.clone(), limits, now).pending += 1;
        if let Some(ip) = addr {
            entry(&mut tables.addresses, ip, limits, now).pending += 1;
        }
        drop(tables);
        Ok(Attempt {
            throttle: self.clone(),
            limits: *limits,
            pair,
            addr,
            decided: false,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Entries held ((account, address) pairs, addresses), for tests and metrics.
    pub fn len(&self) -> (usize, usize) {
        let tables = self.lock();
        (tables.pairs.len(), tables.addresses.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

impl Attempt {
    /// The password was wrong: one more failure for the pair and the address.
    pub fn failed(mut self, now: i64) {
        self.decided = true;
        let mut tables = self.throttle.lock();
        let forget = self.limits.forget_after();
        let Tables { pairs, addresses } = &mut *tables;
        for f in [
            pairs.get_mut(&self.pair),
            self.addr.and_then(|ip| addresses.get_mut(&ip)),
        ]
        .into_iter()
        .flatten()
        {
            f.pending = f.pending.saturating_sub(1);
            if now >= f.last + forget {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
            f.refusal_reported = false;
        }
    }

    /// The password was right: the pair's failures are cleared (the address's stay).
    pub fn succeeded(mut self) {
        self.decided = true;
        let mut tables = self.throttle.lock();
        tables.pairs.remove(&self.pair);
        release(&mut tables.addresses, self.addr);
    }
}

impl Drop for Attempt {
    /// Decided neither way (an error before the password was checked): nothing counts.
    fn drop(&mut self) {
        if self.decided {
            return;
        }
        let mut tables = self.throttle.lock();
        if let Some(f) = tables.pairs.get_mut(&self.pair) {
            f.pending = f.pending.saturating_sub(1);
        }
        release(&mut tables.addresses, self.addr);
    }
}

fn release(addresses: &mut HashMap<IpAddr, Failures>, addr: Option<IpAddr>) {
    if let Some(f) = addr.and_then(|ip| addresses.get_mut(&ip)) {
        f.pending = f.pending.saturating_sub(1);
    }
}

fn account_key(account: &str) -> String {
    // Bounded: the key never holds more than a username's worth of whatever was posted.
    account
        .trim()
        .chars()
        .take(128)
        .collect::<String>()
        .to_lowercase()
}

/// The key's entry, made room for if the table is full, forgotten if stale.
fn entry<'a, K: Hash + Eq + Clone>(
    table: &'a mut HashMap<K, Failures>,
    key: K,
    limits: &LoginLimits,
    now: i64,
) -> &'a mut Failures {
    let forget = limits.forget_after();
    let live = |f: &Failures| now < f.last + forget || f.pending > 0;
    let cap = limits.max_entries.max(1);
    if !table.contains_key(&key) && table.len() >= cap {
        table.retain(|_, f| live(f));
        if table.len() >= cap {
            // Still full of live entries: the one with the oldest failure gives way.
            let oldest = table
                .iter()
                .filter(|(_, f)| f.pending == 0)
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                table.remove(&k);
            }
        }
    }
    let f = table.entry(key).or_insert(Failures {
        last: now,
        ..Failures::default()
    });
    if !live(f) {
        *f = Failures {
            last: now,
            ..Failures::default()
        };
    }
    f
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many failed sign-ins; try again later",
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&self.retry_after_secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// The client's address, as [`LoginLimits::trust_forwarded_for`] says to find it. `None`
/// when the server runs without connection info (a router called in-process).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    LoginLimits: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip());
        if LoginLimits::from_ref(state).trust_forwarded_for {
            // The proxy appends the address it saw: only the last hop is vouched for (an
            // unreadable one falls back to the peer, never to a hop the client wrote).
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|s| s.trim().parse::<IpAddr>().ok());
            if forwarded.is_some() {
                return Ok(ClientAddr(forwarded));
            }
        }
        Ok(ClientAddr(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LoginLimits {
        LoginLimits {
            per_account_address: 3,
            per_address: 10,
            base_delay_ms: 1000,
            max_delay_ms: 60_000,
            forget_after_ms: 3_600_000,
            max_entries: 4,
            trust_forwarded_for: false,
        }
    }

    /// Fails once at `now` if admitted; the wait in seconds if refused.
    fn fail(t: &Arc<LoginThrottle>, account: &str, ip: IpAddr, now: i64) -> Option<u64> {
        match t.attempt(&limits(), account, Some(ip), now) {
            Ok(a) => {
                a.failed(now);
                None
            }
            Err(l) => Some(l.retry_after_secs),
        }
    }

    #[test]
    fn the_wait_doubles_per_failure_for_the_pair_and_never_blocks_other_addresses() {
        let l = limits();
        let t = Arc::new(LoginThrottle::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut now = 0;
        // Three free failures, however the username is typed.
        for name in ["Wang.Grid ", "wang.grid", " WANG.GRID"] {
            assert_eq!(fail(&t, name, a, now), None);
        }
        // Then 1 s, 2 s, 4 s, ... up to the cap.
        let mut waits = Vec::new();
        for _ in 0..10 {
            let wait = t.attempt(&l, "wang.grid", Some(a), now).unwrap_err();
            waits.push(wait.retry_after_secs);
            now += wait.retry_after_secs as i64 * 1000;
            assert_eq!(fail(&t, "wang.grid", a, now), None);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        // The same account from another address is not slowed at all.
        let ok = t.attempt(&l, "wang.grid", Some(b), now).unwrap();
        ok.succeeded();
        // A success clears the pair, not the address.
        now += 60_000;
        t.attempt(&l, "wang.grid", Some(a), now)
            .unwrap()
            .succeeded();
        assert!(t.attempt(&l, "wang.grid", Some(a), now).is_ok());
        // Failures are forgotten an hour after the last one.
        let t = Arc::new(LoginThrottle::default());
        for i in 0..4 {
            fail(&t, "x", a, i);
        }
        assert!(t.attempt(&l, "x", Some(a), 10).is_err());
        assert!(t.attempt(&l, "x", Some(a), 3_600_010).is_ok());
    }

    #[test]
    fn the_address_backs_off_across_accounts_and_parallel_attempts_count() {
        let l = limits();
        let t = Arc::new(LoginThrottle::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..10 {
            assert_eq!(fail(&t, &format!("spray-{i}"), a, 0), None);
        }
        let refused = t.attempt(&l, "someone.else", Some(a), 0).unwrap_err();
        assert_eq!(refused.retry_after_secs, 1);
        assert!(refused.first);
        assert!(!t.attempt(&l, "someone.else", Some(a), 0).unwrap_err().first);

        // Attempts in flight count: three free ones, the fourth waits.
        let t = Arc::new(LoginThrottle::default());
        let held: Vec<Attempt> = (0..3)
            .map(|_| t.attempt(&l, "p", Some(a), 0).unwrap())
            .collect();
        assert!(t.attempt(&l, "p", Some(a), 0).is_err());
        // Undecided attempts (an error before the password) give their place back.
        drop(held);
        assert!(t.attempt(&l, "p", Some(a), 0).is_ok());

        // Bounded: many accounts never grow a table past its cap.
        let t = Arc::new(LoginThrottle::default());
        for i in 0..100 {
            fail(&t, &format!("spray-{i}"), a, 3_000 + i);
        }
        assert!(t.len().0 <= 4);
    }
}
