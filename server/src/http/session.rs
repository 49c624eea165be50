//! The console's session cookie and CSRF token, without any domain: the cookie's name and
//! attributes, reading it back, and the double check unsafe requests need.
//!
//! A console sign-in (`POST /v1/auth/session`) sets one cookie holding a random secret
//! (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` with `--secure-cookies`, then also
//! named with the `__Host-` prefix) and answers a synchronizer CSRF token that the page keeps
//! in memory. A request that authenticates by the cookie and whose method is unsafe (POST,
//! PUT, PATCH, DELETE) must echo that token in `X-CSRF-Token`, else 403 `csrf_failed`.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, header};

/// The header unsafe cookie-authenticated requests carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How long console sessions live and how their cookie is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session not used for this long ends (default 30 minutes). Use is recorded to the
    /// minute.
    pub idle: Duration,
    /// A session ends this long after sign-in however busy (default 12 hours).
    pub absolute: Duration,
    /// Send the cookie with `Secure` (and the `__Host-` name): set it whenever browsers
    /// reach the center over HTTPS, i.e. behind the TLS terminator.
    pub secure_cookies: bool,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            secure_cookies: false,
        }
    }
}

impl SessionLimits {
    /// The cookie's name: `__Host-gridsync_session` when secure (the browser then refuses it
    /// from plain HTTP or with a Domain), `gridsync_session` otherwise.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-gridsync_session"
        } else {
            "gridsync_session"
        }
    }

    /// `Set-Cookie` for a new session; the browser drops it at the absolute limit.
    pub(crate) fn set_cookie(&self, secret: &str) -> HeaderValue {
        self.cookie(secret, self.absolute.as_secs())
    }

    /// `Set-Cookie` that removes the session cookie.
    pub(crate) fn clear_cookie(&self) -> HeaderValue {
        self.cookie("", 0)
    }

    fn cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        HeaderValue::try_from(format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
            self.cookie_name()
        ))
        .expect("a cookie of URL-safe characters")
    }

    /// The session secret the request's `Cookie` headers carry, if any.
    pub(crate) fn secret<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v)
    }
}

/// Whether a method changes something (and so needs the CSRF token with a cookie).
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether the request's `X-CSRF-Token` is the session's, compared in constant time.
pub(crate) fn csrf_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(given) = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes) else {
        return false;
    };
    let expected = expected.as_bytes();
    if given.len() != expected.len() || expected.is_empty() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_asked() {
        let plain = SessionLimits::default();
        let c = plain.set_cookie("abc");
        assert_eq!(
            c.to_str().unwrap(),
            "gridsync_session=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict"
        );
        let secure = SessionLimits {
            secure_cookies: true,
            ..plain
        };
        assert_eq!(
            secure.clear_cookie().to_str().unwrap(),
            "__Host-gridsync_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure"
        );
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; gridsync_session=s3"),
        );
        assert_eq!(plain.secret(&h), Some("s3"));
        assert_eq!(secure.secret(&h), None);
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!csrf_matches(&h, "tok"));
        h.insert(CSRF_HEADER, HeaderValue::from_static("tok"));
        assert!(csrf_matches(&h, "tok"));
        assert!(!csrf_matches(&h, "tol"));
        assert!(!csrf_matches(&h, "tok2"));
        assert!(!csrf_matches(&h, ""));
        assert!(is_unsafe(&Method::DELETE) && !is_unsafe(&Method::GET));
    }
}
