//! Tokens and sessions end to end: every kind of bad access token on every protected route,
//! refresh-token families, revoked devices, and a user moved to another organisation whose
//! phone still holds unsent work on cases that leave its scope.

use std::sync::Arc;

use gridsync_core::case::{NoteKind, Timestamp};
use gridsync_core::clock::ManualClock;
use gridsync_core::protocol::SyncRequest;
use gridsync_server::auth::Keys;
use gridsync_tests::{Phone, Staff, TestServer};
use serde_json::json;

/// The secret `TestServer` signs with.
const TEST_SECRET: &[u8] = b"test-secret-0123456789";
const T0: i64 = 1_795_000_000_000;

/// `(method, path, body)` → (status, JSON body or null).
fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, serde_json::Value) {
    let url = server.url(path);
    let agent = gridsync_tests::agent();
    let mut response = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(&url);
            if let Some(a) = authorization {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        ("DELETE", _) => {
            let mut r = agent.delete(&url);
            if let Some(a) = authorization {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        (m, body) => {
            let mut r = if m == "PUT" {
                agent.put(&url)
            } else {
                agent.post(&url)
            };
            if let Some(a) = authorization {
                r = r.header("Authorization", a);
            }
            let body = body.unwrap_or_else(|| b"{}".to_vec());
            let ct = if path == "/v1/sync" {
                "application/cbor"
            } else {
                "application/json"
            };
            r.header("Content-Type", ct).send(&body[..])
        }
    }
    .expect("request");
    let status = response.status().as_u16();
    let body = response.body_mut().read_json().unwrap_or_default();
    (status, body)
}

/// Base64url without padding (JWT segments).
fn b64(s: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn every_bad_access_token_is_refused_on_every_protected_route() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let server = TestServer::start_with_clock(clock.clone());
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "tok-m");
    let case = phone.record("令牌测试");
    phone.sync().unwrap();
    let real = phone.access_token.clone();
    let now = T0 / 1000;

    let mut parts = real.split('.');
    let (header, _claims, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let chen_claims = b64(&format!(
        r#"{{"sub":"u-chen.dispatch","dev":"tok-m","iat":{now},"exp":{}}}"#,
        now + 900
    ));
    // A header naming another HMAC algorithm over the real token's claims and signature.
    let hs512 = format!(
        "{}.{}.{signature}",
        b64(r#"{"alg":"HS512","typ":"JWT"}"#),
        real.split('.').nth(1).unwrap()
    );
    let real_key = Keys::new(TEST_SECRET);
    let bad: Vec<(&str, Option<String>, &str)> = vec![
        ("no header", None, "missing_token"),
        ("not bearer", Some(format!("Basic {real}")), "invalid_token"),
        ("garbage", Some("Bearer abc.def".into()), "invalid_token"),
        (
            "claims swapped, signature kept",
            Some(format!("Bearer {header}.{chen_claims}.{signature}")),
            "invalid_token",
        ),
        (
            "alg none",
            Some(format!(
                "Bearer {}.{chen_claims}.",
                b64(r#"{"alg":"none","typ":"JWT"}"#)
            )),
            "invalid_token",
        ),
        (
            "alg HS512 header",
            Some(format!("Bearer {hs512}")),
            "invalid_token",
        ),
        (
            "another key",
            Some(format!(
                "Bearer {}",
                Keys::new(b"another-key-0123456789").issue("u-wang.grid", "tok-m", now)
            )),
            "invalid_token",
        ),
        (
            // Signed with the real key for a device that is not this user's.
            "unknown device",
            Some(format!(
                "Bearer {}",
                real_key.issue("u-wang.grid", "ghost", now)
            )),
            "invalid_token",
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                real_key.issue("u-wang.grid", "tok-m", now - 901)
            )),
            "token_expired",
        ),
    ];
    let sync_body = SyncRequest::new("tok-m", 0, 1 << 20).to_body();
    let routes: Vec<(&str, String)> = [
        ("POST", "/v1/sync".to_owned()),
        ("GET", "/v1/cases".into()),
        ("POST", "/v1/cases".into()),
        ("GET", format!("/v1/cases/{case}")),
        ("POST", format!("/v1/cases/{case}/actions")),
        ("GET", "/v1/audit".into()),
        ("GET", "/v1/audit/verify".into()),
        ("GET", "/v1/dispatch-rules".into()),
        ("POST", "/v1/dispatch-rules".into()),
        ("DELETE", "/v1/dispatch-rules/r1".into()),
        ("GET", "/v1/stats".into()),
        ("GET", "/v1/stats.csv".into()),
        ("GET", "/v1/cases.csv".into()),
        ("GET", "/v1/export/gbt31000.csv".into()),
        ("GET", "/v1/warnings".into()),
        ("GET", "/v1/events".into()),
        ("GET", "/v1/time-limits".into()),
        ("PUT", "/v1/time-limits/x".into()),
    ]
    .into_iter()
    .collect();
    let mut failures = Vec::new();
    let mut cells = 0;
    for (what, authorization, code) in &bad {
        for (method, path) in &routes {
            cells += 1;
            let body = (path == "/v1/sync").then(|| sync_body.clone());
            let (status, v) = call(&server, method, path, authorization.as_deref(), body);
            if status != 401 || v["code"] != *code || v.get("items").is_some() {
                failures.push(format!("{what}: {method} {path} → {status} {v}"));
            }
        }
    }
    assert_eq!(cells, 9 * 18);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The real token still works, until our clock passes its expiry.
    let (status, _) = call(
        &server,
        "GET",
        &format!("/v1/cases/{case}"),
        Some(&format!("Bearer {real}")),
        None,
    );
    assert_ne!(status, 401);
    clock.advance(15 * 60 * 1000);
    let err = phone.sync().unwrap_err();
    assert_eq!((err.status, err.code.as_str()), (401, "token_expired"));
}

fn refresh(server: &TestServer, token: &str, device: &str) -> Result<serde_json::Value, String> {
    let body = json!({ "refresh_token": token, "device_id": device }).to_string();
    match call(
        server,
        "POST",
        "/v1/auth/refresh",
        None,
        Some(body.into_bytes()),
    ) {
        (200, v) => Ok(v),
        (status, v) => Err(format!("{status} {}", v["code"].as_str().unwrap_or("?"))),
    }
}

fn next(v: &serde_json::Value) -> String {
    v["refresh_token"].as_str().unwrap().to_owned()
}

#[test]
fn a_reused_refresh_token_ends_its_whole_family_and_only_it() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let server = TestServer::start_with_clock(clock.clone());
    let base = server.base_url();
    let mut phone = Phone::login(&base, "wang.grid", "fam-1");
    // The same user's second phone, and a second sign-in on the first one: other families.
    let other_device = Phone::login(&base, "wang.grid", "fam-2");
    let again = Phone::login(&base, "wang.grid", "fam-1x");

    // Three rotations: t1 → t2 → t3 → t4.
    let t1 = phone.refresh_token.clone();
    let t2 = next(&refresh(&server, &t1, "fam-1").unwrap());
    let t3 = next(&refresh(&server, &t2, "fam-1").unwrap());
    let v4 = refresh(&server, &t3, "fam-1").unwrap();
    let t4 = next(&v4);
    phone.access_token = v4["access_token"].as_str().unwrap().to_owned();

    // Someone replays t2 (copied off the phone two rotations ago).
    assert_eq!(
        refresh(&server, &t2, "fam-1").unwrap_err(),
        "401 refresh_reused"
    );
    // Every token of the family is dead, the newest included, and stays dead.
    for t in [&t1, &t2, &t3, &t4] {
        assert_eq!(
            refresh(&server, t, "fam-1").unwrap_err(),
            "401 refresh_revoked"
        );
    }
    // Other families of the same user are untouched.
    let o2 = refresh(&server, &other_device.refresh_token, "fam-2").unwrap();
    refresh(&server, &next(&o2), "fam-2").unwrap();
    refresh(&server, &again.refresh_token, "fam-1x").unwrap();

    // The access token already issued is not revocable (stateless JWT): it works until its
    // 15 minutes run out, and then the session cannot be renewed.
    phone.record("仍可同步");
    phone.sync().unwrap();
    clock.advance(15 * 60 * 1000);
    assert_eq!(phone.sync().unwrap_err().code, "token_expired");
    assert_eq!(
        refresh(&server, &t4, "fam-1").unwrap_err(),
        "401 refresh_revoked"
    );
    // Signing in again starts a fresh family; the unsent work is still on the phone.
    let fresh = Phone::login(&base, "wang.grid", "fam-1");
    phone.access_token = fresh.access_token;
    let r = phone.sync().unwrap();
    assert_eq!(r.unsent_changes, 0);

    // Logout ends a family the same way.
    let other = refresh(&server, &fresh.refresh_token, "fam-1").unwrap();
    let logout = |token: &str| {
        call(
            &server,
            "POST",
            "/v1/auth/logout",
            None,
            Some(json!({ "refresh_token": token }).to_string().into_bytes()),
        )
        .0
    };
    assert_eq!(logout(&next(&other)), 204);
    assert_eq!(
        refresh(&server, &next(&other), "fam-1").unwrap_err(),
        "401 refresh_revoked"
    );
    // The sign-out is in the audit log, once: a second logout with the spent token
    // signs nobody out.
    assert_eq!(logout(&next(&other)), 204);
    let wu = gridsync_tests::Staff::login(&server, "wu.super");
    let (_, log) = wu.get("/v1/audit?user=u-wang.grid&limit=1000");
    let outs: Vec<_> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "SIGN_OUT")
        .collect();
    assert_eq!(outs.len(), 1, "{log}");
    assert_eq!(outs[0]["detail"]["device_id"], "fam-1");
    assert_eq!(outs[0]["detail"]["via"], "app");
}

#[test]
fn a_revoked_device_loses_every_door_and_the_users_other_devices_keep_theirs() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut lost = Phone::login(&base, "wang.grid", "rev-lost");
    let mut kept = Phone::login(&base, "wang.grid", "rev-kept");
    let case = lost.record("遗失手机上的案件");
    lost.store.submit(case).unwrap();
    lost.sync().unwrap();
    let now = server.state.clock.now().0;
    server
        .block_on(server.state.db.revoke_device("rev-lost", now))
        .unwrap();

    // Sync, a JSON route with the still unexpired access token, refresh: all refused with
    // the code that tells the app to wipe.
    let err = lost.sync().unwrap_err();
    assert_eq!((err.status, err.code.as_str()), (403, "device_revoked"));
    let (status, v) = call(
        &server,
        "GET",
        "/v1/cases",
        Some(&format!("Bearer {}", lost.access_token)),
        None,
    );
    assert_eq!((status, v["code"].as_str()), (403, Some("device_revoked")));
    assert_eq!(
        refresh(&server, &lost.refresh_token, "rev-lost").unwrap_err(),
        "403 device_revoked"
    );
    // A tampered push from it changes nothing at the center.
    let before = server
        .block_on(gridsync_server::center::cases::load(&server.state, case))
        .unwrap()
        .unwrap()
        .case();
    lost.store
        .add_note(case, NoteKind::Other, "被盗后写入")
        .unwrap();
    assert_eq!(lost.sync().unwrap_err().code, "device_revoked");
    let after = server
        .block_on(gridsync_server::center::cases::load(&server.state, case))
        .unwrap()
        .unwrap()
        .case();
    assert_eq!(after.notes, before.notes);

    // The same user's other phone works on, and still sees the case.
    kept.sync().unwrap();
    assert!(kept.store.has_case(case).unwrap());
    refresh(&server, &kept.refresh_token, "rev-kept").unwrap();
}

#[test]
fn a_moved_users_phone_pushes_its_unsent_work_then_purges_the_old_villages_cases() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut phone = Phone::login(&base, "wang.grid", "move-1");
    // A case of the old village, held and synced.
    let held = phone.record("东岭村: 欠薪纠纷");
    phone.store.submit(held).unwrap();
    phone.sync().unwrap();
    // A case of the new village (河口村), recorded by its own grid worker.
    let mut zhao = Phone::login(&base, "zhao.grid", "move-zhao");
    let theirs = zhao.record("河口村: 邻里纠纷");
    zhao.store.submit(theirs).unwrap();
    zhao.sync().unwrap();

    // Offline, the phone goes on working in the old village: a note on the held case and a
    // new case, recorded and submitted.
    phone
        .store
        .add_note(held, NoteKind::HomeVisit, "入户走访, 调移前的最后记录")
        .unwrap();
    let recorded = phone.record("东岭村: 调移前新登记");
    phone.store.submit(recorded).unwrap();
    assert!(phone.store.pending().unwrap().changes >= 3);

    // Meanwhile the user is moved to 河口村 (`gridsync admin move-user`).
    server
        .block_on(server.state.db.move_user("u-wang.grid", "330182102203"))
        .unwrap();

    let report = phone.sync().unwrap();
    // Pushed first: every unsent change was acknowledged, nothing refused ...
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.unsent_changes, 0);
    let center = |id| {
        server
            .block_on(gridsync_server::center::cases::load(&server.state, id))
            .unwrap()
    };
    let held_at_center = center(held).unwrap();
    assert!(
        held_at_center
            .case()
            .notes
            .iter()
            .any(|n| n.text.contains("调移前的最后记录"))
    );
    let recorded_at_center = center(recorded).expect("the case recorded before the move");
    assert_eq!(recorded_at_center.case().area_code, "330182101201");
    // ... then purged: the old village's cases left the phone, the new village's arrived.
    let mut purged = report.purged.clone();
    purged.sort();
    let mut expected = vec![held, recorded];
    expected.sort();
    assert_eq!(purged, expected);
    assert!(!phone.store.has_case(held).unwrap());
    assert!(!phone.store.has_case(recorded).unwrap());
    assert!(phone.store.has_case(theirs).unwrap());

    // The next sync is quiet: nothing comes back, nothing is pending.
    let r = phone.sync().unwrap();
    assert!(
        r.new_cases.is_empty() && r.purge_pending.is_empty(),
        "{r:?}"
    );
    // The old village's staff still see both cases.
    let li = Staff::login(&server, "sun.town");
    let (status, _) = li.get(&format!("/v1/cases/{recorded}"));
    assert_eq!(status, 200);
}

#[test]
fn a_purged_case_takes_late_work_only_while_the_revocation_is_repeated() {
    const DAY: i64 = 24 * 3_600_000;
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let server = TestServer::start_with_clock(clock.clone());
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "late-1");
    let held = phone.record("东岭村: 欠薪纠纷");
    phone.store.submit(held).unwrap();
    phone.sync().unwrap();
    server
        .block_on(server.state.db.move_user("u-wang.grid", "330182102203"))
        .unwrap();
    assert_eq!(phone.sync().unwrap().purged, vec![held]);
    let mut refresh_token = phone.refresh_token.clone();

    // A client that kept its copy anyway (a backup restored, or a tampered app) edits the
    // case, each time with a fresh access token.
    let mut late_edit = |title: &str| {
        let v = refresh(&server, &refresh_token, "late-1").unwrap();
        refresh_token = next(&v);
        phone.access_token = v["access_token"].as_str().unwrap().to_owned();
        let change = crate::forge::raw_change(&server, held, phone.store.actor_id().clone(), |d| {
            automerge::transaction::Transactable::put(d, automerge::ROOT, "title", title).unwrap();
        });
        crate::forge::push(
            &phone,
            vec![gridsync_core::protocol::DocChanges {
                signatures: Vec::new(),
                doc_id: held,
                changes: vec![change],
            }],
        )
    };
    let title = |server: &TestServer| {
        server
            .block_on(gridsync_server::center::cases::load(&server.state, held))
            .unwrap()
            .unwrap()
            .case()
            .title
    };

    // While the phone is still told of the revocation, its late work is taken in.
    clock.advance(29 * DAY);
    let r = late_edit("东岭村: 欠薪纠纷 (补记)");
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert_eq!(title(&server), "东岭村: 欠薪纠纷 (补记)");
    // After that window the case is out of reach like any other case outside the scope.
    clock.advance(2 * DAY);
    let r = late_edit("改掉的标题");
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].code.as_str(), "out_of_scope");
    assert_eq!(title(&server), "东岭村: 欠薪纠纷 (补记)");
}
