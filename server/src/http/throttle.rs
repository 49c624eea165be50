//! Sign-in throttling: failed logins are counted per account and per client address in fixed
//! windows; past a limit `POST /v1/auth/login` answers 429 `rate_limited` with `Retry-After`
//! before any password is checked.
//!
//! Only failures count: a fleet of phones signing in from one NAT (or the load generator on
//! 127.0.0.1) is never slowed by its own successes. The account key is the username as
//! typed (trimmed, lowercased), whether or not the account exists, so the answer never tells
//! which usernames are real. A success clears its account's count, never its address's (an
//! attacker holding one valid account must not reset the count of their guesses elsewhere).
//!
//! Memory is bounded: entries die with their window, and each table holds at most
//! [`LoginLimits::max_entries`]; when full, expired entries go first, then the oldest window.
//!
//! The client address is the TCP peer (`ConnectInfo`). `X-Forwarded-For` is believed only
//! when [`LoginLimits::trust_forwarded_for`] is set, for a server that sits behind its own
//! reverse proxy: otherwise any client could pick a fresh address per guess.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::state::AppState;

/// How many failed sign-ins are tolerated, and for how long they are remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures per account (username as typed) in one window. Default 5.
    pub per_account: u32,
    /// Failures per client address in one window. Default 50: a village office's NAT may
    /// carry a few users mistyping at once.
    pub per_address: u32,
    /// The window, in milliseconds. Default 15 minutes.
    pub window_ms: i64,
    /// Entries per table (accounts, addresses). Default 100,000 (a few MiB at most).
    pub max_entries: usize,
    /// Take the client address from the last `X-Forwarded-For` hop. Only behind a reverse
    /// proxy that sets it; default off.
    pub trust_forwarded_for: bool,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_account: 5,
            per_address: 50,
            window_ms: 15 * 60 * 1000,
            max_entries: 100_000,
            trust_forwarded_for: false,
        }
    }
}

/// Failures within one window.
#[derive(Clone, Copy, Debug)]
struct Window {
    started: i64,
    failures: u32,
}

/// The failure tables, shared by every request of the process.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    accounts: HashMap<String, Window>,
    addresses: HashMap<IpAddr, Window>,
}

/// A refusal: try again after this many seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_secs: u64,
}

impl LoginThrottle {
    /// Refuses when the account or the address has used up its failures in the current
    /// window.
    pub fn check(
        &self,
        limits: &LoginLimits,
        account: &str,
        addr: Option<IpAddr>,
        now: i64,
    ) -> Result<(), Limited> {
        let tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let key = account_key(account);
        let mut until = None;
        let mut over = |w: Option<&Window>, max: u32| {
            if let Some(w) = w
                && now < w.started + limits.window_ms
                && w.failures >= max
            {
                let end = w.started + limits.window_ms;
                until = Some(until.map_or(end, |u: i64| u.max(end)));
            }
        };
        over(tables.accounts.get(&key), limits.per_account);
        if let Some(ip) = addr {
            over(tables.addresses.get(&ip), limits.per_address);
        }
        match until {
            None => Ok(()),
            Some(end) => Err(Limited {
                retry_after_secs: u64::try_from((end - now + 999) / 1000).unwrap_or(1).max(1),
            }),
        }
    }

    /// Counts one failed sign-in.
    pub fn failed(&self, limits: &LoginLimits, account: &str, addr: Option<IpAddr>, now: i64) {
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        bump(&mut tables.accounts, account_key(account), limits, now);
        if let Some(ip) = addr {
            bump(&mut tables.addresses, ip, limits, now);
        }
    }

    /// A successful sign-in clears its account's failures (not its address's).
    pub fn succeeded(&self, account: &str) {
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        tables.accounts.remove(&account_key(account));
    }

    /// Entries held (accounts, addresses), for tests and metrics.
    pub fn len(&self) -> (usize, usize) {
        let tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        (tables.accounts.len(), tables.addresses.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
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

fn bump<K: Hash + Eq + Clone>(
    table: &mut HashMap<K, Window>,
    key: K,
    limits: &LoginLimits,
    now: i64,
) {
    let live = |w: &Window| now < w.started + limits.window_ms;
    let cap = limits.max_entries.max(1);
    if !table.contains_key(&key) && table.len() >= cap {
        table.retain(|_, w| live(w));
        if table.len() >= cap {
            // Still full of live windows: the oldest gives way (see module docs).
            let oldest = table
                .iter()
                .min_by_key(|(_, w)| w.started)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                table.remove(&k);
            }
        }
    }
    let w = table.entry(key).or_insert(Window {
        started: now,
        failures: 0,
    });
    if !live(w) {
        *w = Window {
            started: now,
            failures: 0,
        };
    }
    w.failures = w.failures.saturating_add(1);
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

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip());
        if state.limits_http.login.trust_forwarded_for {
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

    #[test]
    fn failures_lock_an_account_until_the_window_ends_and_tables_stay_bounded() {
        let limits = LoginLimits {
            per_account: 3,
            per_address: 5,
            window_ms: 60_000,
            max_entries: 4,
            trust_forwarded_for: false,
        };
        let t = LoginThrottle::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(t.check(&limits, "Wang.Grid ", Some(ip), 0).is_ok());
            t.failed(&limits, "Wang.Grid ", Some(ip), 0);
        }
        // Same account however it is typed.
        let err = t.check(&limits, "wang.grid", None, 1_000).unwrap_err();
        assert_eq!(err.retry_after_secs, 59);
        assert!(t.check(&limits, "wang.grid", None, 60_000).is_ok());
        // Two more failures elsewhere exhaust the address.
        t.failed(&limits, "a", Some(ip), 1_000);
        t.failed(&limits, "b", Some(ip), 1_000);
        assert!(t.check(&limits, "c", Some(ip), 2_000).is_err());
        // A success clears the account, not the address.
        t.succeeded("wang.grid");
        assert!(t.check(&limits, "wang.grid", None, 2_000).is_ok());
        assert!(t.check(&limits, "wang.grid", Some(ip), 2_000).is_err());
        // Bounded: many accounts never grow the table past its cap.
        for i in 0..100 {
            t.failed(&limits, &format!("spray-{i}"), None, 3_000 + i);
        }
        assert!(t.len().0 <= 4);
    }
}
