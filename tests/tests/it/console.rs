//! The console's sign-in and its security (issue 14): the session cookie's attributes, the
//! API taking the cookie or a bearer token, CSRF refusals, the pages' Content-Security-
//! Policy, sessions that end (sign-out, idle, absolute, a revoked pseudo-device), and grid
//! workers sent to the app. On SQLite, and on PostgreSQL with `GRIDSYNC_TEST_POSTGRES_URL`.

use std::sync::Arc;

use gridsync_core::case::Timestamp;
use gridsync_core::clock::ManualClock;
use gridsync_server::demo::DEMO_PASSWORD;
use gridsync_tests::{Staff, TestServer};
use serde_json::{Value, json};

const T0: i64 = 1_795_000_000_000;
const MINUTE: i64 = 60_000;

/// An answer: status, headers, JSON body (or null), text.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
    text: String,
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

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let url = server.url(path);
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let agent = agent();
    let mut r = match body {
        Some(b) => agent
            .run(
                req.header("Content-Type", "application/json")
                    .body(b.to_string())
                    .unwrap(),
            )
            .unwrap(),
        None => agent.run(req.body(()).unwrap()).unwrap(),
    };
    let headers = r
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status: r.status().as_u16(),
        headers,
        body: serde_json::from_str(&text).unwrap_or_default(),
        text,
    }
}

/// A browser's session: the cookie (`name=value`) and the CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
    answer: Answer,
}

fn sign_in(server: &TestServer, username: &str) -> Browser {
    let a = send(
        server,
        "POST",
        "/v1/auth/session",
        &[],
        Some(json!({ "username": username, "password": DEMO_PASSWORD })),
    );
    assert_eq!(a.status, 200, "{username}: {}", a.text);
    let set = a.header("set-cookie").expect("a cookie").to_owned();
    Browser {
        cookie: set.split(';').next().unwrap().to_owned(),
        csrf: a.body["csrf_token"].as_str().unwrap().to_owned(),
        answer: a,
    }
}

impl Browser {
    fn get(&self, server: &TestServer, path: &str) -> Answer {
        send(server, "GET", path, &[("Cookie", &self.cookie)], None)
    }
    fn post(&self, server: &TestServer, path: &str, csrf: Option<&str>, body: Value) -> Answer {
        let mut h = vec![("Cookie", self.cookie.as_str())];
        if let Some(t) = csrf {
            h.push(("X-CSRF-Token", t));
        }
        send(server, "POST", path, &h, Some(body))
    }
}

#[test]
fn a_console_sign_in_sets_a_strict_http_only_cookie_that_the_api_takes() {
    let server = TestServer::start();
    let b = sign_in(&server, "chen.dispatch");
    let set = b.answer.header("set-cookie").unwrap();
    assert_eq!(
        set,
        format!(
            "{}; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict",
            b.cookie
        )
    );
    assert!(b.cookie.starts_with("gridsync_session="));
    assert!(
        !set.contains("Secure"),
        "plain HTTP without --secure-cookies"
    );
    let user = &b.answer.body["user"];
    assert_eq!(user["username"], "chen.dispatch");
    assert_eq!(user["role"], "DISPATCHER");
    assert!(
        b.answer.body["device_id"]
            .as_str()
            .unwrap()
            .starts_with("web-")
    );
    assert_eq!(b.answer.body["idle_timeout_secs"], 1800);

    // The API takes the cookie for reads, and the session answers the same CSRF token.
    assert_eq!(b.get(&server, "/v1/me/tasks").status, 200);
    assert_eq!(b.get(&server, "/v1/cases").status, 200);
    let again = b.get(&server, "/v1/auth/session");
    assert_eq!(again.status, 200);
    assert_eq!(again.body["csrf_token"], b.csrf.as_str());
    assert_eq!(again.body["user"]["org_name"], user["org_name"]);

    // Bearer tokens work as before, with no CSRF token (nothing a browser sends on its own).
    let staff = Staff::login(&server, "chen.dispatch");
    assert_eq!(staff.get("/v1/me/tasks").0, 200);
    let (status, body) = staff.post(
        "/v1/cases/no-such-case/actions",
        &json!({ "action": "ACCEPT" }),
    );
    assert_ne!(body["code"], "csrf_failed", "{status} {body}");

    // The session is a `web-…` pseudo-device the administrator sees, and its sign-in is
    // audited like any other.
    let admin = Staff::login(&server, "admin");
    let (_, devices) = admin.get("/v1/devices");
    let device = b.answer.body["device_id"].as_str().unwrap();
    assert!(devices.to_string().contains(device), "{devices}");
    let (_, audit) = admin.get("/v1/audit?limit=500");
    assert!(audit.to_string().contains(device), "sign-in audited");

    // No cookie, a made-up cookie: not signed in.
    assert_eq!(
        send(&server, "GET", "/v1/me/tasks", &[], None).code(),
        "missing_token"
    );
    let forged = send(
        &server,
        "GET",
        "/v1/me/tasks",
        &[("Cookie", "gridsync_session=forged")],
        None,
    );
    assert_eq!((forged.status, forged.code()), (401, "session_expired"));
}

#[test]
fn unsafe_requests_with_the_cookie_need_the_csrf_token() {
    let server = TestServer::start();
    let b = sign_in(&server, "chen.dispatch");
    let intake = json!({ "title": "CSRF probe" });
    for csrf in [None, Some("wrong"), Some("")] {
        let a = b.post(&server, "/v1/cases", csrf, intake.clone());
        assert_eq!((a.status, a.code()), (403, "csrf_failed"), "{csrf:?}");
    }
    // In Chinese for the console's default language.
    let zh = send(
        &server,
        "POST",
        "/v1/cases",
        &[("Cookie", &b.cookie), ("Accept-Language", "zh-CN")],
        Some(intake.clone()),
    );
    assert_eq!(zh.code(), "csrf_failed");
    assert!(zh.body["message"].as_str().unwrap().contains("刷新页面"));
    // With the token the request reaches its handler (here: refused for its body).
    let ok = b.post(&server, "/v1/cases", Some(&b.csrf), intake);
    assert_ne!(ok.code(), "csrf_failed", "{}", ok.text);
    assert_ne!(ok.status, 401);
    // Another session's token does not do.
    let other = sign_in(&server, "chen.dispatch");
    let cross = b.post(
        &server,
        "/v1/cases/x/actions",
        Some(&other.csrf),
        json!({ "action": "ACCEPT" }),
    );
    assert_eq!(cross.code(), "csrf_failed");

    // Sign-out is unsafe too; then the cookie is dead.
    let out = send(
        &server,
        "DELETE",
        "/v1/auth/session",
        &[("Cookie", &b.cookie)],
        None,
    );
    assert_eq!((out.status, out.code()), (403, "csrf_failed"));
    let out = send(
        &server,
        "DELETE",
        "/v1/auth/session",
        &[("Cookie", &b.cookie), ("X-CSRF-Token", &b.csrf)],
        None,
    );
    assert_eq!(out.status, 204);
    assert!(
        out.header("set-cookie")
            .unwrap()
            .starts_with("gridsync_session=; Path=/; Max-Age=0")
    );
    let after = b.get(&server, "/v1/me/tasks");
    assert_eq!((after.status, after.code()), (401, "session_expired"));
    assert_eq!(b.get(&server, "/v1/auth/session").status, 401);
    // The other session lives on.
    assert_eq!(other.get(&server, "/v1/me/tasks").status, 200);
    // The sign-out is audited with the session's pseudo-device.
    let wu = sign_in(&server, "wu.super");
    let log = wu.get(&server, "/v1/audit?user=u-chen.dispatch&limit=1000");
    let outs: Vec<&Value> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "SIGN_OUT")
        .collect();
    assert_eq!(outs.len(), 1, "{}", log.text);
    assert_eq!(outs[0]["detail"]["via"], "console");
    assert_eq!(
        outs[0]["detail"]["device_id"], b.answer.body["device_id"],
        "{}",
        log.text
    );
}

#[test]
fn console_pages_have_a_strict_csp_and_the_api_keeps_its_headers() {
    let server = TestServer::start();
    for path in ["/console/", "/console/tasks", "/console/cases/abc"] {
        let a = send(&server, "GET", path, &[], None);
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(a.header("content-type"), Some("text/html; charset=utf-8"));
        let csp = a.header("content-security-policy").unwrap();
        assert!(csp.starts_with("default-src 'self'; script-src 'self'; style-src 'self'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(a.header("x-frame-options"), Some("DENY"));
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
        // Nothing inline and nothing from elsewhere.
        assert!(!a.text.contains("<style") && !a.text.contains("style="));
        assert!(!a.text.contains("http://") && !a.text.contains("https://"));
        assert!(!a.text.contains("<script>"));
    }
    let js = send(&server, "GET", "/console/assets/app.js", &[], None);
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(!js.text.contains("innerHTML"), "user data as text only");
    let css = send(&server, "GET", "/console/assets/app.css", &[], None);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.text.contains("Noto Sans CJK SC") && !css.text.contains("@font-face"));
    assert_eq!(
        send(&server, "GET", "/console/assets/nope.js", &[], None).status,
        404
    );
    let root = send(&server, "GET", "/", &[], None);
    assert_eq!(root.status, 303);
    assert_eq!(root.header("location"), Some("/console/"));
    // The API's own policy is unchanged.
    let api = send(&server, "GET", "/v1/openapi.json", &[], None);
    assert_eq!(
        api.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
}

#[test]
fn sessions_end_when_idle_at_their_absolute_limit_and_with_their_device() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let server = TestServer::start_with_clock(clock.clone());
    let at = |ms: i64| clock.set(Timestamp(T0 + ms));

    // Idle: used every 25 minutes it lives; 30 minutes unused end it.
    let b = sign_in(&server, "chen.dispatch");
    at(25 * MINUTE);
    assert_eq!(b.get(&server, "/v1/me/tasks").status, 200);
    at(50 * MINUTE);
    assert_eq!(b.get(&server, "/v1/me/tasks").status, 200);
    at(81 * MINUTE);
    let idle = b.get(&server, "/v1/me/tasks");
    assert_eq!((idle.status, idle.code()), (401, "session_expired"));

    // Absolute: 12 hours after sign-in however busy.
    let start = 100 * MINUTE;
    at(start);
    let b = sign_in(&server, "chen.dispatch");
    let mut t = start;
    while t + 20 * MINUTE < start + 12 * 60 * MINUTE {
        t += 20 * MINUTE;
        at(t);
        assert_eq!(b.get(&server, "/v1/me/tasks").status, 200, "at {t}");
    }
    at(start + 12 * 60 * MINUTE);
    assert_eq!(b.get(&server, "/v1/me/tasks").code(), "session_expired");

    // Revoking the session's pseudo-device ends it.
    let b = sign_in(&server, "chen.dispatch");
    let device = b.answer.body["device_id"].as_str().unwrap().to_owned();
    let admin = Staff::login(&server, "admin");
    let (status, _) = admin.post(&format!("/v1/devices/{device}/revoke"), &json!({}));
    assert!(status < 300, "{status}");
    let revoked = b.get(&server, "/v1/me/tasks");
    assert_eq!((revoked.status, revoked.code()), (403, "device_revoked"));
}

#[test]
fn grid_workers_are_told_to_use_the_app_and_wrong_passwords_are_throttled() {
    let server = TestServer::start();
    let a = send(
        &server,
        "POST",
        "/v1/auth/session",
        &[("Accept-Language", "zh-CN")],
        Some(json!({ "username": "wang.grid", "password": DEMO_PASSWORD })),
    );
    assert_eq!((a.status, a.code()), (403, "use_the_app"));
    assert!(a.body["message"].as_str().unwrap().contains("手机应用"));
    assert!(a.header("set-cookie").is_none());
    // Only with the right password: a wrong one is the usual refusal.
    let wrong = json!({ "username": "wang.grid", "password": "wrong-password" });
    let a = send(
        &server,
        "POST",
        "/v1/auth/session",
        &[],
        Some(wrong.clone()),
    );
    assert_eq!((a.status, a.code()), (401, "invalid_credentials"));
    // The app still signs the grid worker in.
    assert_eq!(
        Staff::login(&server, "wang.grid").get("/v1/me/tasks").0,
        200
    );
    // The same throttle as the app's sign-in.
    let codes: Vec<u16> = (0..8)
        .map(|_| {
            send(
                &server,
                "POST",
                "/v1/auth/session",
                &[],
                Some(wrong.clone()),
            )
            .status
        })
        .collect();
    assert!(codes.contains(&429), "{codes:?}");
}
