//! Accounts at the trust boundary: changing passwords and disabling users (who may, and what
//! it ends), refresh tokens bound to their device, signing keys rotated under running
//! servers, and the database file kept private.

use std::sync::Arc;

use gridsync_core::case::Timestamp;
use gridsync_core::clock::{Clock, ManualClock};
use gridsync_server::audit::{self, Filter};
use gridsync_server::demo::DEMO_PASSWORD;
use gridsync_tests::{Phone, Staff, TestDb, TestServer};
use serde_json::{Value, json};

use crate::hardening::Custom;

const T0: i64 = 1_795_000_000_000;

/// `POST base+path` with an optional bearer token → (status, JSON body).
fn post(base: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut r = gridsync_tests::agent().post(&format!("{base}{path}"));
    if let Some(t) = token {
        r = r.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = r.send_json(body).expect("request");
    (
        resp.status().as_u16(),
        resp.body_mut().read_json().unwrap_or_default(),
    )
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

fn login(base: &str, username: &str, password: &str) -> (u16, Value) {
    post(
        base,
        "/v1/auth/login",
        None,
        &json!({ "username": username, "password": password }),
    )
}

fn refresh(base: &str, token: &str, device: Option<&str>) -> (u16, Value) {
    let mut body = json!({ "refresh_token": token });
    if let Some(d) = device {
        body["device_id"] = json!(d);
    }
    post(base, "/v1/auth/refresh", None, &body)
}

fn audit_entries(server: &TestServer) -> Vec<audit::Record> {
    server
        .block_on(audit::query(
            &server.state.db,
            &Filter {
                limit: Some(1000),
                ..Filter::default()
            },
        ))
        .unwrap()
}

#[test]
fn users_change_their_own_password_and_only_administrators_set_others() {
    let server = TestServer::start();
    let base = server.base_url();
    let phone = Phone::login(&base, "wang.grid", "pw-phone");
    let other_phone = Phone::login(&base, "wang.grid", "pw-other");
    let own = "/v1/users/u-wang.grid/password";
    let token = Some(phone.access_token.as_str());

    // Outside the scope: another user's password, by a grid worker and by a dispatcher.
    let chen = Staff::login(&server, "chen.dispatch");
    let new = json!({ "new_password": "a-long-new-password" });
    let (status, v) = post(&base, "/v1/users/u-chen.dispatch/password", token, &new);
    assert_eq!((status, code(&v)), (403, "not_permitted"));
    let (status, v) = post(&base, own, Some(&chen.token), &new);
    assert_eq!((status, code(&v)), (403, "not_permitted"));
    // No token at all.
    let (status, v) = post(&base, own, None, &new);
    assert_eq!((status, code(&v)), (401, "missing_token"));

    // Their own: the current password is required and must be right; the new one long.
    let (status, v) = post(&base, own, token, &new);
    assert_eq!((status, code(&v)), (400, "old_password_required"));
    let wrong = json!({ "old_password": "not-my-password", "new_password": "a-long-new-password" });
    let (status, v) = post(&base, own, token, &wrong);
    assert_eq!((status, code(&v)), (403, "wrong_password"));
    let short = json!({ "old_password": DEMO_PASSWORD, "new_password": "short" });
    let (status, v) = post(&base, own, token, &short);
    assert_eq!((status, code(&v)), (400, "weak_password"));
    let right = json!({ "old_password": DEMO_PASSWORD, "new_password": "a-long-new-password" });
    let (status, v) = post(&base, own, token, &right);
    assert_eq!(status, 204, "{v}");

    // The old password is gone, the new one signs in.
    assert_eq!(
        code(&login(&base, "wang.grid", DEMO_PASSWORD).1),
        "invalid_credentials"
    );
    assert_eq!(login(&base, "wang.grid", "a-long-new-password").0, 200);
    // The phone it was changed from keeps its session; the user's other phone signs in again.
    assert_eq!(
        refresh(&base, &phone.refresh_token, Some("pw-phone")).0,
        200
    );
    let (status, v) = refresh(&base, &other_phone.refresh_token, Some("pw-other"));
    assert_eq!((status, code(&v)), (401, "refresh_revoked"));

    // An administrator sets anyone's, without the old one; every session of theirs ends.
    let admin = Staff::login(&server, "admin");
    let set = json!({ "new_password": "set-by-the-admin" });
    let (status, _) = post(&base, own, Some(&admin.token), &set);
    assert_eq!(status, 204);
    assert_eq!(login(&base, "wang.grid", "set-by-the-admin").0, 200);
    let (status, v) = post(
        &base,
        "/v1/users/u-nobody/password",
        Some(&admin.token),
        &set,
    );
    assert_eq!((status, code(&v)), (404, "user_not_found"));

    // Audited, with ids only.
    let entries = audit_entries(&server);
    let changes: Vec<_> = entries
        .iter()
        .filter(|e| e.action == audit::PASSWORD_CHANGED)
        .collect();
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|e| e.detail["user_id"] == "u-wang.grid"));
    assert!(
        changes
            .iter()
            .any(|e| e.user_id == "u-admin" && e.detail["by"] == "ADMIN")
    );
    for e in &entries {
        let text = serde_json::to_string(e).unwrap();
        for secret in ["a-long-new-password", "set-by-the-admin", "not-my-password"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

#[test]
fn a_wrong_old_password_is_throttled_like_a_failed_sign_in() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let server = TestServer::start_with_clock(clock);
    let base = server.base_url();
    let phone = Phone::login(&base, "wang.grid", "pw-guess");
    let guess = |i: usize| {
        post(
            &base,
            "/v1/users/u-wang.grid/password",
            Some(&phone.access_token),
            &json!({ "old_password": format!("guess-{i}"), "new_password": "a-long-new-password" }),
        )
    };
    for i in 0..5 {
        assert_eq!(code(&guess(i).1), "wrong_password");
    }
    // A stolen access token is not a password oracle.
    let (status, v) = guess(5);
    assert_eq!((status, code(&v)), (429, "rate_limited"));
}

#[test]
fn disabling_a_user_ends_every_session_and_only_administrators_may() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut phone = Phone::login(&base, "wang.grid", "dis-phone");
    let web = Staff::login(&server, "wang.grid");
    phone.record("停用前");
    phone.sync().unwrap();

    // Outside the scope: a dispatcher, a supervisor, the user themselves.
    for who in ["chen.dispatch", "wu.super", "wang.grid"] {
        let staff = Staff::login(&server, who);
        let (status, v) = post(
            &base,
            "/v1/users/u-wang.grid/disable",
            Some(&staff.token),
            &json!({}),
        );
        assert_eq!((status, code(&v)), (403, "not_permitted"), "{who}");
    }
    let (status, v) = post(&base, "/v1/users/u-wang.grid/disable", None, &json!({}));
    assert_eq!((status, code(&v)), (401, "missing_token"));

    let admin = Staff::login(&server, "admin");
    let disable = |id: &str| {
        post(
            &base,
            &format!("/v1/users/{id}/disable"),
            Some(&admin.token),
            &json!({}),
        )
    };
    assert_eq!(disable("u-wang.grid").0, 204);
    // Sessions end: the phone is told to wipe, the web session's still-valid access token is
    // refused, the refresh token is dead, signing in again is refused.
    let err = phone.sync().unwrap_err();
    assert_eq!((err.status, err.code.as_str()), (403, "device_revoked"));
    let (status, v) = web.get("/v1/cases");
    assert_eq!((status, code(&v)), (403, "device_revoked"));
    let (status, v) = refresh(&base, &phone.refresh_token, Some("dis-phone"));
    assert_eq!((status, code(&v)), (403, "device_revoked"));
    let (status, v) = login(&base, "wang.grid", DEMO_PASSWORD);
    assert_eq!((status, code(&v)), (401, "account_disabled"));
    // Again is harmless; themselves and unknown users are refused.
    assert_eq!(disable("u-wang.grid").0, 204);
    assert_eq!(code(&disable("u-admin").1), "cannot_disable_self");
    assert_eq!(disable("u-nobody").0, 404);
    // Another user works on.
    Phone::login(&base, "zhao.grid", "dis-zhao").sync().unwrap();

    let entries = audit_entries(&server);
    let disabled: Vec<_> = entries
        .iter()
        .filter(|e| e.action == audit::USER_DISABLED)
        .collect();
    assert_eq!(disabled[disabled.len() - 1].user_id, "u-admin");
    assert_eq!(
        disabled[disabled.len() - 1].detail["user_id"],
        "u-wang.grid"
    );
    let mut revoked: Vec<_> = entries
        .iter()
        .filter(|e| e.action == audit::DEVICE_REVOKED)
        .map(|e| e.detail["device_id"].as_str().unwrap().to_owned())
        .collect();
    revoked.sort();
    assert_eq!(
        revoked.len(),
        3,
        "the phone and two web sessions: {revoked:?}"
    );
    assert!(revoked.contains(&"dis-phone".to_owned()));
    assert!(entries.iter().any(|e| e.action == audit::SIGN_IN_REFUSED
        && e.user_id == "u-wang.grid"
        && e.detail["code"] == "account_disabled"));
    assert!(server.block_on(audit::verify(&server.state.db)).unwrap().ok);
}

#[test]
fn a_refresh_token_works_only_from_its_own_device() {
    let server = TestServer::start();
    let base = server.base_url();
    let phone = Phone::login(&base, "wang.grid", "bind-1");
    let other = Phone::login(&base, "wang.grid", "bind-2");

    // Without a device id: refused, and the token still works from its phone.
    let (status, v) = refresh(&base, &phone.refresh_token, None);
    assert_eq!((status, code(&v)), (400, "device_id_required"));
    let (status, v) = refresh(&base, &phone.refresh_token, Some("bind-1"));
    assert_eq!(status, 200, "{v}");
    let current = v["refresh_token"].as_str().unwrap().to_owned();

    // From another device (copied off the phone): refused, and the whole session ends.
    let (status, v) = refresh(&base, &current, Some("bind-2"));
    assert_eq!((status, code(&v)), (401, "device_mismatch"));
    let (status, v) = refresh(&base, &current, Some("bind-1"));
    assert_eq!((status, code(&v)), (401, "refresh_revoked"));
    // The other phone's own session is untouched.
    assert_eq!(refresh(&base, &other.refresh_token, Some("bind-2")).0, 200);
    // Reuse detection still holds: the first token, used already, ends nothing new but
    // answers `refresh_revoked` now its family is over.
    let (status, _) = refresh(&base, &phone.refresh_token, Some("bind-1"));
    assert_eq!(status, 401);
}

#[test]
fn a_rotated_signing_key_reaches_every_server_and_old_tokens_live_out_their_time() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    // Two servers on one database, with the keys kept there (the default installation).
    let first = Custom::start_with(clock.clone(), None, |_| {});
    let second = Custom::start_on(
        gridsync_tests::runtime(),
        TestDb::shared(&first.db.url),
        clock.clone(),
        None,
        |_| {},
    );
    let mut phone = Phone::login(&first.base, "wang.grid", "rot-phone");
    let before = phone.access_token.clone();
    let kid = |token: &str| {
        let header = token.split('.').next().unwrap();
        let bytes = base64_url(header);
        serde_json::from_slice::<Value>(&bytes).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let old_kid = kid(&before);
    let old_secret = first
        .block_on(first.state.db.jwt_keys(0))
        .unwrap()
        .into_iter()
        .find(|k| k.kid == old_kid)
        .unwrap()
        .secret;

    // `gridsync admin rotate-jwt-key`, then the first server's periodic reload.
    let now = clock.now().0;
    let new_kid = first.block_on(first.state.db.rotate_jwt_key(now)).unwrap();
    assert_ne!(new_kid, old_kid);
    first
        .block_on(first.state.keys.reload(&first.state.db, now))
        .unwrap();
    assert_eq!(first.state.keys.current_kid(), new_kid);

    // New sign-ins get the new key; the token signed before works on both servers.
    let after = Phone::login(&first.base, "wang.grid", "rot-phone-2");
    assert_eq!(kid(&after.access_token), new_kid);
    phone.sync().unwrap();
    phone.base_url = second.base.clone();
    phone.sync().unwrap();
    // The second server has not reloaded yet: a token under the new key makes it look
    // (at most once a second, so made-up key ids cannot flood the database).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut newer = after;
    newer.base_url = second.base.clone();
    newer.sync().unwrap();
    assert_eq!(second.state.keys.current_kid(), new_kid);

    // An hour later the retired key verifies nothing, even a token it signed just now.
    clock.advance(60 * 60 * 1000);
    let now = clock.now().0;
    first
        .block_on(first.state.keys.reload(&first.state.db, now))
        .unwrap();
    let late = gridsync_server::auth::Keys::new(old_secret.as_bytes()).issue(
        "u-wang.grid",
        "rot-phone",
        now / 1000,
    );
    phone.access_token = late;
    phone.base_url = first.base.clone();
    assert_eq!(phone.sync().unwrap_err().code, "invalid_token");
    // The token of an hour ago is refused as expired either way.
    phone.access_token = before;
    assert_eq!(phone.sync().unwrap_err().status, 401);
}

/// Base64url without padding, decoded (JWT segments).
fn base64_url(s: &str) -> Vec<u8> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = ABC.iter().position(|a| *a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn the_database_file_is_readable_by_its_owner_only() {
    let server = TestServer::start();
    if server.db.is_postgres() {
        eprintln!("skipped: PostgreSQL keeps its own files");
        return;
    }
    // Written to, so the WAL exists.
    Phone::login(&server.base_url(), "wang.grid", "mode-1");
    let path = server
        .db
        .url
        .strip_prefix("sqlite://")
        .and_then(|p| p.split('?').next())
        .unwrap()
        .to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}: {mode:o}");
        }
    }
}
