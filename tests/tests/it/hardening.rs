//! Hardening at the edge: sign-in throttling, body limits, strict JSON and CBOR, security
//! headers. Every hostile request gets its stable code and the server keeps serving.

use std::sync::Arc;

use gridsync_core::case::Timestamp;
use gridsync_core::clock::ManualClock;
use gridsync_core::protocol::{DocChanges, SyncRequest};
use gridsync_server::demo::DEMO_PASSWORD;
use gridsync_tests::{Phone, Staff, TestDb, TestServer};
use serde_json::json;

const T0: i64 = 1_795_000_000_000;

/// An answer: status, the headers we look at, the JSON body (or null).
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

fn answer(mut r: ureq::http::Response<ureq::Body>) -> Answer {
    let headers = r
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let bytes = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    Answer {
        status: r.status().as_u16(),
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or_default(),
    }
}

fn post(base: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut r = gridsync_tests::agent().post(&format!("{base}{path}"));
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        r = r.header("Content-Type", "application/json");
    }
    for (n, v) in headers {
        r = r.header(*n, *v);
    }
    answer(r.send(body).expect("request"))
}

fn get(base: &str, path: &str, bearer: Option<&str>) -> Answer {
    let mut r = gridsync_tests::agent().get(&format!("{base}{path}"));
    if let Some(t) = bearer {
        r = r.header("Authorization", &format!("Bearer {t}"));
    }
    answer(r.call().expect("request"))
}

fn login(base: &str, username: &str, password: &str, forwarded: Option<&str>) -> Answer {
    let body = json!({ "username": username, "password": password }).to_string();
    let headers: Vec<(&str, &str)> = forwarded
        .map(|f| vec![("X-Forwarded-For", f)])
        .unwrap_or_default();
    post(base, "/v1/auth/login", &headers, body.as_bytes())
}

#[test]
fn failed_sign_ins_slow_down_alike_whether_or_not_the_account_exists() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let server = TestServer::start_with_clock(clock.clone());
    let base = server.base_url();

    // Successes never count: more sign-ins than the address allows failures.
    for i in 0..60 {
        let a = login(&base, "wang.grid", DEMO_PASSWORD, None);
        assert_eq!(a.status, 200, "success {i}: {:?}", a.body);
    }

    let mut slowed = Vec::new();
    for account in ["wang.grid", "nobody.here"] {
        for i in 0..5 {
            let a = login(&base, account, "guess", None);
            assert_eq!((a.status, a.code()), (401, "invalid_credentials"), "{i}");
        }
        // The sixth attempt waits a second, refused before the password is checked, right
        // or wrong, however the username is typed.
        let a = login(&base, &format!(" {} ", account.to_uppercase()), "x", None);
        assert_eq!((a.status, a.code()), (429, "rate_limited"), "{account}");
        let b = login(&base, account, DEMO_PASSWORD, None);
        assert_eq!(b.status, 429);
        assert_eq!(b.header("retry-after"), Some("1"));
        slowed.push(b);
    }
    // Nothing tells a real account from a made-up one.
    assert_eq!(slowed[0].body, slowed[1].body);
    assert_eq!(
        slowed[0].header("retry-after"),
        slowed[1].header("retry-after")
    );

    // Other accounts from the same address are unaffected (10 failures < 50).
    assert_eq!(login(&base, "zhao.grid", DEMO_PASSWORD, None).status, 200);
    // The wait passes; the password works again, and clears the pair's failures.
    clock.advance(1000);
    assert_eq!(login(&base, "wang.grid", DEMO_PASSWORD, None).status, 200);
    assert_eq!(login(&base, "wang.grid", "guess", None).status, 401);
}

#[test]
fn a_guesser_waits_longer_and_longer_while_the_rightful_user_signs_in_from_elsewhere() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let server = Custom::start_with(clock.clone(), None, |l| l.login.trust_forwarded_for = true);
    let base = &server.base;
    let (a, b) = (Some("203.0.113.5"), Some("198.51.100.9"));

    // 50 wrong passwords for the administrator from address A, each as soon as allowed.
    let mut failures = 0;
    let mut waits = Vec::new();
    while failures < 50 {
        let r = login(base, "admin", "not-the-password", a);
        match (r.status, r.code()) {
            (401, "invalid_credentials") => failures += 1,
            (429, "rate_limited") => {
                let wait: i64 = r.header("retry-after").unwrap().parse().unwrap();
                waits.push(wait);
                clock.advance(wait * 1000);
            }
            other => panic!("{other:?}"),
        }
    }
    // Five free failures, then the wait doubles up to 15 minutes: never a lock.
    assert_eq!(&waits[..6], [1, 2, 4, 8, 16, 32]);
    assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
    assert_eq!(*waits.last().unwrap(), 900);

    // The rightful administrator, from address B, signs in at once.
    let ok = login(base, "admin", DEMO_PASSWORD, b);
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    // A still waits, even with the right password (it is not checked), ...
    let r = login(base, "admin", DEMO_PASSWORD, a);
    assert_eq!((r.status, r.code()), (429, "rate_limited"));
    assert_eq!(r.header("retry-after"), Some("900"));
    // ... and after the wait one more guess only buys a wait as long.
    clock.advance(900 * 1000);
    assert_eq!(login(base, "admin", "still-not-it", a).status, 401);
    let r = login(base, "admin", "x", a);
    assert_eq!(r.header("retry-after"), Some("900"));

    // Audited: the refusals with their codes and the sign-in, ids only.
    let entries = server
        .block_on(gridsync_server::audit::query(
            &server.state.db,
            &gridsync_server::audit::Filter {
                user_id: Some("u-admin".into()),
                limit: Some(1000),
                ..Default::default()
            },
        ))
        .unwrap();
    let count = |action: &str, code: Option<&str>| {
        entries
            .iter()
            .filter(|e| e.action == action)
            .filter(|e| code.is_none_or(|c| e.detail["code"] == c))
            .count()
    };
    assert_eq!(count("SIGN_IN_REFUSED", Some("invalid_credentials")), 51);
    // One entry per wait, not one per refused request.
    assert_eq!(
        count("SIGN_IN_REFUSED", Some("rate_limited")),
        waits.len() + 2
    );
    assert_eq!(count("SIGN_IN", None), 1);
    for e in &entries {
        let detail = e.detail.to_string();
        assert!(!detail.contains("not-the-password") && !detail.contains(DEMO_PASSWORD));
        assert!(
            !detail.contains("203.0.113.5"),
            "no addresses either: {detail}"
        );
    }
}

#[test]
fn failed_sign_ins_lock_the_address_and_forged_forwarding_headers_do_not_help() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let server = TestServer::start_with_clock(clock.clone());
    let base = server.base_url();
    // 50 failures spread over 50 usernames, each claiming another client address: the
    // server does not trust X-Forwarded-For unless configured, so all count against
    // 127.0.0.1.
    for i in 0..50 {
        let fake = format!("203.0.113.{i}");
        let a = login(&base, &format!("spray-{i}"), "guess", Some(&fake));
        assert_eq!(a.status, 401, "{i}");
    }
    let a = login(&base, "zhao.grid", DEMO_PASSWORD, Some("198.51.100.1"));
    assert_eq!((a.status, a.code()), (429, "rate_limited"));
    assert!(a.header("retry-after").is_some());
    // Other routes are not throttled: a phone signed in before syncs on.
    clock.advance(15 * 60 * 1000);
    let mut phone = Phone::login(&base, "wang.grid", "addr-1");
    phone.record("之后");
    phone.sync().unwrap();
    let (accounts, addresses) = server.state.throttle.len();
    assert!(accounts <= 51 && addresses == 1, "{accounts} {addresses}");
}

/// A server whose limits are changed before it serves (the proxy-trusting setup), on a
/// fresh database or another server's.
pub(crate) struct Custom {
    pub(crate) base: String,
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) state: gridsync_server::AppState,
    pub(crate) rt: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub(crate) db: TestDb,
}

impl Custom {
    fn start(limits: impl FnOnce(&mut gridsync_server::HttpLimits)) -> Custom {
        Self::start_with(
            Arc::new(gridsync_core::clock::SystemClock),
            Some("test-secret-0123456789"),
            limits,
        )
    }

    /// `jwt_secret: None`: keys kept in the database, as installations run by default.
    pub(crate) fn start_with(
        clock: Arc<dyn gridsync_core::clock::Clock>,
        jwt_secret: Option<&str>,
        limits: impl FnOnce(&mut gridsync_server::HttpLimits),
    ) -> Custom {
        let rt = gridsync_tests::runtime();
        let db = TestDb::new(&rt);
        Self::start_on(rt, db, clock, jwt_secret, limits)
    }

    pub(crate) fn start_on(
        rt: tokio::runtime::Runtime,
        db: TestDb,
        clock: Arc<dyn gridsync_core::clock::Clock>,
        jwt_secret: Option<&str>,
        limits: impl FnOnce(&mut gridsync_server::HttpLimits),
    ) -> Custom {
        let config = gridsync_server::Config {
            database_url: db.url.clone(),
            jwt_secret: jwt_secret.map(str::to_owned),
            demo: true,
            scan_every: None,
            time_zone: gridsync_server::county_time::DEFAULT_TIME_ZONE.into(),
            require_signatures: false,
        };
        let (mut state, _) = rt.block_on(gridsync_server::open(&config, clock)).unwrap();
        limits(&mut state.limits_http);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(gridsync_server::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        Custom {
            base: format!("http://{addr}"),
            addr,
            state,
            rt: Some(rt),
            stop: Some(stop),
            db,
        }
    }

    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("runtime").block_on(f)
    }
}

impl Drop for Custom {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

#[test]
fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_count() {
    let server = Custom::start(|l| {
        l.login.trust_forwarded_for = true;
        l.login.per_address = 3;
        l.login.per_account_address = 100;
    });
    let base = &server.base;
    for i in 0..3 {
        let a = login(base, &format!("u{i}"), "x", Some("10.1.1.1, 203.0.113.7"));
        assert_eq!(a.status, 401);
    }
    // The last hop (what the proxy saw) is the client: 203.0.113.7 is locked ...
    let a = login(base, "wang.grid", DEMO_PASSWORD, Some("203.0.113.7"));
    assert_eq!((a.status, a.code()), (429, "rate_limited"));
    // ... while another client behind the same proxy signs in.
    let a = login(base, "wang.grid", DEMO_PASSWORD, Some("203.0.113.8"));
    assert_eq!(a.status, 200);
}

#[test]
fn bodies_over_the_limits_get_413_and_strict_json_gets_400() {
    let server = TestServer::start();
    let base = server.base_url();
    let staff = Staff::login(&server, "chen.dispatch");
    let limit = server.state.limits_http.json_body_bytes;

    // Over the JSON limit, on a public and on an authenticated route.
    let big = json!({ "username": "wang.grid", "password": "x".repeat(limit) }).to_string();
    let a = post(&base, "/v1/auth/login", &[], big.as_bytes());
    assert_eq!((a.status, a.code()), (413, "body_too_large"));
    let bearer = format!("Bearer {}", staff.token);
    let big_case = json!({ "title": "x".repeat(limit) }).to_string();
    let a = post(
        &base,
        "/v1/cases",
        &[("Authorization", &bearer)],
        big_case.as_bytes(),
    );
    assert_eq!((a.status, a.code()), (413, "body_too_large"));

    // Strict JSON: unknown fields, nesting past serde_json's depth, wrong content type.
    let unknown = json!({ "username": "wang.grid", "password": DEMO_PASSWORD, "role": "ADMIN" });
    let a = post(&base, "/v1/auth/login", &[], unknown.to_string().as_bytes());
    assert_eq!((a.status, a.code()), (400, "invalid_json"));
    let deep = format!(
        r#"{{"username":"wang.grid","password":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let a = post(&base, "/v1/auth/login", &[], deep.as_bytes());
    assert_eq!((a.status, a.code()), (400, "invalid_json"));
    let a = post(
        &base,
        "/v1/auth/login",
        &[("Content-Type", "text/plain")],
        br#"{"username":"wang.grid","password":"gridsync-demo"}"#,
    );
    assert_eq!(a.status, 400);

    // Still serving.
    assert_eq!(login(&base, "wang.grid", DEMO_PASSWORD, None).status, 200);
}

#[test]
fn hostile_cbor_gets_its_code_and_the_server_keeps_serving() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "cbor-1");
    let plain = SyncRequest::new(phone.device_id.clone(), 0, 1 << 20).encode();
    assert_eq!(plain[0], 0xa5, "a CBOR map of five keys");

    let mut cases: Vec<(&str, Vec<u8>, u16, &str)> = Vec::new();
    // Bytes after the message.
    let mut trailing = plain.clone();
    trailing.push(0x00);
    cases.push(("trailing byte", trailing, 400, "trailing_bytes"));
    // An indefinite-length device id.
    let mut indefinite = vec![0xa5, 0x00, 0x01, 0x01, 0x7f, 0x61, b'a', 0xff];
    indefinite.extend_from_slice(&plain[plain.len() - 9..]);
    cases.push(("indefinite string", indefinite, 400, ""));
    // A device id over the string limit.
    let long = SyncRequest::new("d".repeat(5_000), 0, 1 << 20).encode();
    cases.push(("long string", long, 400, "limit_exceeded"));
    // More documents than one message may carry.
    let mut many = SyncRequest::new(phone.device_id.clone(), 0, 1 << 20);
    many.push = (0..10_001)
        .map(|_| DocChanges {
            signatures: Vec::new(),
            doc_id: gridsync_core::case::CaseId::new_random(),
            changes: vec![],
        })
        .collect();
    cases.push(("10,001 documents", many.encode(), 400, "limit_exceeded"));
    // A huge declared length with nothing behind it.
    cases.push((
        "lying length",
        vec![
            0xa5, 0x00, 0x01, 0x01, 0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
        400,
        "",
    ));

    // An unknown key (a newer client's) whose value nests 100,000 arrays deep: skipped
    // without recursion, as forward compatibility wants, and the request is served.
    let mut deep = plain.clone();
    deep[0] = 0xa6;
    deep.push(0x09);
    deep.extend(std::iter::repeat_n(0x81u8, 100_000));
    deep.push(0x00);
    phone
        .post_sync(deep)
        .expect("an unknown deep value is skipped");

    for (what, body, status, code) in cases {
        let err = phone.post_sync(body).unwrap_err();
        assert_eq!(err.status, status, "{what}: {err}");
        assert!(
            code.is_empty() || err.code == code,
            "{what}: expected {code}, got {err}"
        );
        assert!(!err.code.is_empty() && err.code != "?", "{what}: {err}");
        let id = phone.record(what);
        phone.sync().expect("the next sync works");
        assert!(phone.store.has_case(id).unwrap());
    }
}

#[test]
fn every_answer_carries_the_security_headers() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let server = TestServer::start_with_clock(clock);
    let base = server.base_url();
    let phone = Phone::login(&base, "wang.grid", "hdr-1");
    let staff = Staff::login(&server, "chen.dispatch");
    for _ in 0..5 {
        login(&base, "zhao.grid", "wrong", None);
    }
    let sync_ok = {
        let body = SyncRequest::new(phone.device_id.clone(), 0, 1 << 20).to_body();
        answer(
            gridsync_tests::agent()
                .post(&format!("{base}/v1/sync"))
                .header("Authorization", &format!("Bearer {}", phone.access_token))
                .header("Content-Type", "application/cbor")
                .send(&body[..])
                .unwrap(),
        )
    };
    let answers = [
        ("health", get(&base, "/healthz", None)),
        ("openapi", get(&base, "/v1/openapi.json", None)),
        ("no route", get(&base, "/nowhere", None)),
        ("no token", get(&base, "/v1/cases", None)),
        ("cases", get(&base, "/v1/cases", Some(&staff.token))),
        ("csv", get(&base, "/v1/cases.csv", Some(&staff.token))),
        ("sync", sync_ok),
        ("login 401", login(&base, "wang.grid", "wrong", None)),
        ("login 429", login(&base, "zhao.grid", "wrong", None)),
        (
            "login 413",
            // Just over the limit (far over it, the server stops reading and the client
            // sees a reset before the answer).
            post(
                &base,
                "/v1/auth/login",
                &[],
                &vec![b' '; server.state.limits_http.json_body_bytes + 1024],
            ),
        ),
    ];
    let expected = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ];
    let mut statuses = Vec::new();
    for (what, a) in &answers {
        statuses.push(a.status);
        for (name, value) in expected {
            assert_eq!(a.header(name), Some(value), "{what} ({}): {name}", a.status);
        }
    }
    assert_eq!(statuses, [200, 200, 404, 401, 200, 200, 200, 401, 429, 413]);
}
