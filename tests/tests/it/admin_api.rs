//! The administration API (issue 13): the organisation tree, users and devices.
//!
//! First the matrix, as data: every endpoint × every kind of caller (the county's
//! administrator, a township's administrator, a dispatcher, a grid worker, no token) ×
//! a target inside the township / outside it → the status and code. Then what the changes
//! do: a moved user's phone and a re-scoped village's phones see their new scope on the next
//! sync, a revoked device and a disabled user are shut out, nobody escalates, every change
//! is audited. SQLite, or PostgreSQL with `GRIDSYNC_TEST_POSTGRES_URL`.

use gridsync_core::workflow::Role;
use gridsync_server::admin::{self, Actor};
use gridsync_server::audit::{self, Filter};
use gridsync_server::db::accounts::User;
use gridsync_server::demo::DEMO_PASSWORD;
use gridsync_tests::{Phone, Staff, TestServer};
use serde_json::{Value, json};

/// The township administrator's township (青溪镇) and a village in it; a village of
/// another township (双河镇 河口村).
const TOWN: &str = "330182101-center";
const IN_VILLAGE: &str = "330182101201";
const OUT_VILLAGE: &str = "330182102203";
const OUT_TOWN: &str = "330182102-center";

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

/// A request as some caller → (status, body).
fn call(
    server: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let url = server.url(path);
    let agent = gridsync_tests::agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut resp = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        (_, body) => {
            let mut r = agent.post(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send_json(body.cloned().unwrap_or(json!({})))
        }
    }
    .expect("request");
    (
        resp.status().as_u16(),
        resp.body_mut().read_json().unwrap_or_default(),
    )
}

/// Adds a user straight in the database (fixtures), with the demo password.
fn add_user(server: &TestServer, username: &str, role: Role, org: &str) -> String {
    let user = User {
        id: format!("u-{username}"),
        username: username.into(),
        display_name: username.into(),
        role,
        org_id: org.into(),
        active: true,
    };
    // One argon2 hash for every fixture.
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = HASH.get_or_init(|| gridsync_server::auth::hash_password(DEMO_PASSWORD));
    server
        .block_on(server.state.db.create_user(&user, hash, 0))
        .expect("fixture user");
    user.id
}

/// The township's administrator (青溪镇), beside the demo county's.
fn township_admin(server: &TestServer) -> Staff {
    add_user(server, "qian.admin", Role::Admin, TOWN);
    Staff::login(server, "qian.admin")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    CountyAdmin,
    TownAdmin,
    Dispatcher,
    GridWorker,
    Nobody,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    ListOrgs,
    CreateOrg,
    RenameOrg,
    MoveOrg,
    ListUsers,
    CreateUser,
    AssignUser,
    SetPassword,
    DisableUser,
    ListDevices,
    RevokeDevice,
}

/// Where the target lies, seen from the township administrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    In,
    Out,
}

const ALL_OPS: [Op; 11] = [
    Op::ListOrgs,
    Op::CreateOrg,
    Op::RenameOrg,
    Op::MoveOrg,
    Op::ListUsers,
    Op::CreateUser,
    Op::AssignUser,
    Op::SetPassword,
    Op::DisableUser,
    Op::ListDevices,
    Op::RevokeDevice,
];

/// What each operation answers when it succeeds.
fn ok_status(op: Op) -> u16 {
    match op {
        Op::CreateOrg | Op::CreateUser => 201,
        Op::SetPassword | Op::DisableUser => 204,
        _ => 200,
    }
}

/// The matrix: (who, op, target) → (status, code). Built from its rules so every cell is
/// listed, and the rules read as the documentation says (docs/security.md):
/// administrators only (`not_permitted` for the others, 401 without a token); the county's
/// administrator reaches both townships, the township's only its own (`out_of_scope`).
fn expected(who: Who, op: Op, target: Target) -> (u16, &'static str) {
    match who {
        Who::Nobody => (401, "missing_token"),
        Who::Dispatcher | Who::GridWorker => (403, "not_permitted"),
        Who::CountyAdmin => (ok_status(op), ""),
        Who::TownAdmin => match (op, target) {
            // Listings are filtered, never refused.
            (Op::ListOrgs | Op::ListDevices, _) | (_, Target::In) => (ok_status(op), ""),
            (_, Target::Out) => (403, "out_of_scope"),
        },
    }
}

/// The request of one cell: a fresh target for the operations that change state.
fn request(
    server: &TestServer,
    op: Op,
    target: Target,
    n: usize,
) -> (&'static str, String, Option<Value>) {
    let (village, town) = match target {
        Target::In => (IN_VILLAGE, TOWN),
        Target::Out => (OUT_VILLAGE, OUT_TOWN),
    };
    let area = match target {
        Target::In => "330182101",
        Target::Out => "330182102",
    };
    // A user of the target village, made for this cell.
    let fixture = |role: Role| add_user(server, &format!("m{n}.fixture"), role, village);
    match op {
        Op::ListOrgs => ("GET", "/v1/orgs".into(), None),
        Op::CreateOrg => (
            "POST",
            "/v1/orgs".into(),
            Some(json!({
                "id": format!("m{n}-village"),
                "parent_id": town,
                "name": format!("矩阵村 {n}"),
                "kind": "VILLAGE",
                "area_code": format!("{area}{:03}", 300 + n),
            })),
        ),
        Op::RenameOrg => (
            "POST",
            format!("/v1/orgs/{village}/rename"),
            Some(json!({ "name": format!("更名 {n}") })),
        ),
        // Re-parent to where it is (a move that keeps the tree): the checks all run.
        Op::MoveOrg => (
            "POST",
            format!("/v1/orgs/{village}/move"),
            Some(json!({ "parent_id": town })),
        ),
        Op::ListUsers => ("GET", format!("/v1/users?org_id={village}"), None),
        Op::CreateUser => (
            "POST",
            "/v1/users".into(),
            Some(
                json!({ "username": format!("m{n}.new"), "role": "GRID_WORKER", "org_id": village }),
            ),
        ),
        Op::AssignUser => {
            let id = fixture(Role::GridWorker);
            (
                "POST",
                format!("/v1/users/{id}/assign"),
                Some(json!({ "role": "VILLAGE_MEDIATOR" })),
            )
        }
        Op::SetPassword => {
            let id = fixture(Role::GridWorker);
            (
                "POST",
                format!("/v1/users/{id}/password"),
                Some(json!({ "new_password": "a-fresh-long-password" })),
            )
        }
        Op::DisableUser => {
            let id = fixture(Role::GridWorker);
            ("POST", format!("/v1/users/{id}/disable"), None)
        }
        Op::ListDevices => ("GET", "/v1/devices".into(), None),
        Op::RevokeDevice => {
            let username = format!("m{n}.fixture");
            fixture(Role::GridWorker);
            let device = format!("m{n}-phone");
            let (status, _) = call(
                server,
                None,
                "POST",
                "/v1/auth/login",
                Some(
                    &json!({ "username": username, "password": DEMO_PASSWORD, "device_id": device }),
                ),
            );
            assert_eq!(status, 200);
            ("POST", format!("/v1/devices/{device}/revoke"), None)
        }
    }
}

#[test]
fn the_admin_matrix_role_by_operation_by_scope() {
    let server = TestServer::start();
    let county = Staff::login(&server, "admin");
    let town = township_admin(&server);
    let dispatcher = Staff::login(&server, "chen.dispatch");
    let grid = Staff::login(&server, "wang.grid");
    let mut rows = Vec::new();
    for who in [
        Who::CountyAdmin,
        Who::TownAdmin,
        Who::Dispatcher,
        Who::GridWorker,
        Who::Nobody,
    ] {
        for op in ALL_OPS {
            for target in [Target::In, Target::Out] {
                rows.push((who, op, target, expected(who, op, target)));
            }
        }
    }
    let mut failures = Vec::new();
    for (n, (who, op, target, want)) in rows.iter().enumerate() {
        let token = match who {
            Who::CountyAdmin => Some(county.token.as_str()),
            Who::TownAdmin => Some(town.token.as_str()),
            Who::Dispatcher => Some(dispatcher.token.as_str()),
            Who::GridWorker => Some(grid.token.as_str()),
            Who::Nobody => None,
        };
        let (method, path, body) = request(&server, *op, *target, n);
        let (status, v) = call(&server, token, method, &path, body.as_ref());
        let got = (
            status,
            if status >= 400 {
                code(&v).to_owned()
            } else {
                String::new()
            },
        );
        if got != (want.0, want.1.to_owned()) {
            failures.push(format!(
                "{who:?} × {op:?} × {target:?}: want {want:?}, got {got:?} {v}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cells differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    assert_eq!(rows.len(), 5 * ALL_OPS.len() * 2);
    // Every cell that changed something was audited, and the chain holds.
    let report = server.block_on(audit::verify(&server.state.db)).unwrap();
    assert!(report.ok, "{report:?}");
}

fn audit_actions(server: &TestServer) -> Vec<audit::Record> {
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
fn a_township_administrator_sees_and_manages_only_the_township() {
    let server = TestServer::start();
    let town = township_admin(&server);
    let county = Staff::login(&server, "admin");

    let (status, v) = town.get("/v1/orgs");
    assert_eq!(status, 200);
    let ids: Vec<&str> = v["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], TOWN, "depth first, from the township");
    assert!(
        ids.contains(&"330182101-judicial"),
        "its departments (no area scope) too: {ids:?}"
    );
    assert!(ids.iter().all(|id| id.starts_with("330182101")), "{ids:?}");
    let (_, all) = county.get("/v1/orgs");
    assert_eq!(all["orgs"][0]["id"], "330182-center");
    assert!(all["orgs"].as_array().unwrap().len() > ids.len());

    let (_, users) = town.get("/v1/users");
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"wang.grid")
            && names.contains(&"zhou.judicial")
            && names.contains(&"qian.admin")
    );
    assert!(
        !names.contains(&"zhao.grid") && !names.contains(&"admin"),
        "{names:?}"
    );

    Phone::login(&server.base_url(), "zhao.grid", "other-town-phone");
    let (_, devices) = town.get("/v1/devices");
    assert!(
        devices["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["username"] != "zhao.grid"),
        "{devices}"
    );
    let (_, devices) = county.get("/v1/devices?user_id=u-zhao.grid");
    assert_eq!(devices["devices"][0]["id"], "other-town-phone");

    // The audit log: the township's actors only (zhao.grid of another township and the
    // county administrator signed in above), everything for the county.
    Staff::login(&server, "wang.grid");
    let actors = |who: &Staff| -> Vec<String> {
        let (status, log) = who.get("/v1/audit?action=SIGN_IN&limit=1000");
        assert_eq!(status, 200, "{log}");
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["user_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let seen = actors(&town);
    assert!(seen.contains(&"u-wang.grid".to_owned()), "{seen:?}");
    assert!(
        !seen.contains(&"u-zhao.grid".to_owned()) && !seen.contains(&"u-admin".to_owned()),
        "{seen:?}"
    );
    let all = actors(&county);
    assert!(all.contains(&"u-zhao.grid".to_owned()) && all.contains(&"u-wang.grid".to_owned()));
    // Asking for another township's actor by name gives nothing either.
    let (_, theirs) = town.get("/v1/audit?user=u-zhao.grid");
    assert_eq!(theirs["items"], json!([]));
}

#[test]
fn nobody_escalates_beyond_their_reach() {
    let server = TestServer::start();
    let town = township_admin(&server);
    let county = Staff::login(&server, "admin");
    let cases: Vec<(&Staff, &str, Value, u16, &str)> = vec![
        // An organisation outside the township, or wider than its parent.
        (
            &town,
            "/v1/orgs",
            json!({ "parent_id": "330182-center", "name": "x", "kind": "DEPARTMENT", "area_code": "330182000000" }),
            403,
            "out_of_scope",
        ),
        (
            &town,
            "/v1/orgs",
            json!({ "parent_id": TOWN, "name": "x", "kind": "VILLAGE", "area_code": "330182102299" }),
            400,
            "area_outside_parent",
        ),
        (
            &town,
            "/v1/orgs",
            json!({ "parent_id": TOWN, "name": "x", "kind": "CENTER", "area_code": "330182101000", "scope_prefix": "3301" }),
            400,
            "area_outside_parent",
        ),
        (
            &town,
            "/v1/orgs",
            json!({ "parent_id": TOWN, "name": "x", "kind": "CENTER", "tier": "COUNTY", "area_code": "330182101000" }),
            400,
            "invalid_tier",
        ),
        (
            &town,
            "/v1/orgs",
            json!({ "parent_id": IN_VILLAGE, "name": "x", "kind": "VILLAGE", "area_code": "330182101201" }),
            400,
            "invalid_parent",
        ),
        (
            &town,
            "/v1/orgs",
            json!({ "parent_id": TOWN, "name": "x", "kind": "GRID", "area_code": "330182101299" }),
            400,
            "invalid_kind",
        ),
        (
            &town,
            "/v1/orgs",
            json!({ "parent_id": TOWN, "name": "x", "kind": "VILLAGE", "area_code": "33018210129" }),
            400,
            "invalid_area_code",
        ),
        (
            &town,
            "/v1/orgs",
            json!({ "parent_id": TOWN, "name": "", "kind": "VILLAGE", "area_code": "330182101299" }),
            400,
            "invalid_name",
        ),
        (
            &town,
            "/v1/orgs",
            json!({ "parent_id": "nowhere", "name": "x", "kind": "VILLAGE", "area_code": "330182101299" }),
            400,
            "unknown_org",
        ),
        (
            &town,
            "/v1/orgs",
            json!({ "id": "330182101201", "parent_id": TOWN, "name": "x", "kind": "VILLAGE", "area_code": "330182101201" }),
            409,
            "org_exists",
        ),
        // Moving: not one's own organisation, not out of the township, not under itself.
        (
            &town,
            "/v1/orgs/330182101-center/move",
            json!({ "parent_id": TOWN }),
            403,
            "out_of_scope",
        ),
        (
            &town,
            "/v1/orgs/330182101201/move",
            json!({ "parent_id": "330182102-center" }),
            403,
            "out_of_scope",
        ),
        (
            &county,
            "/v1/orgs/330182101201/move",
            json!({ "parent_id": TOWN, "scope_prefix": "330182" }),
            400,
            "area_outside_parent",
        ),
        (
            &county,
            "/v1/orgs/330182101-center/move",
            json!({ "parent_id": TOWN }),
            400,
            "invalid_parent",
        ),
        (
            &county,
            "/v1/orgs/nowhere/move",
            json!({ "parent_id": TOWN }),
            404,
            "org_not_found",
        ),
        // Users: only in the township, only in a fitting organisation, no duplicate names.
        (
            &town,
            "/v1/users",
            json!({ "username": "boss", "role": "ADMIN", "org_id": "330182-center" }),
            403,
            "out_of_scope",
        ),
        (
            &town,
            "/v1/users",
            json!({ "username": "g1", "role": "GRID_WORKER", "org_id": "330182101-judicial" }),
            400,
            "role_org_mismatch",
        ),
        (
            &town,
            "/v1/users",
            json!({ "username": "g1", "role": "SYSTEM", "org_id": IN_VILLAGE }),
            400,
            "invalid_role",
        ),
        (
            &town,
            "/v1/users",
            json!({ "username": "bad name", "role": "GRID_WORKER", "org_id": IN_VILLAGE }),
            400,
            "invalid_username",
        ),
        (
            &town,
            "/v1/users",
            json!({ "username": "g1", "role": "GRID_WORKER", "org_id": IN_VILLAGE, "password": "short" }),
            400,
            "weak_password",
        ),
        (
            &town,
            "/v1/users",
            json!({ "username": "wang.grid", "role": "GRID_WORKER", "org_id": IN_VILLAGE }),
            409,
            "username_taken",
        ),
        (
            &town,
            "/v1/users/u-wang.grid/assign",
            json!({ "org_id": OUT_VILLAGE }),
            403,
            "out_of_scope",
        ),
        (
            &town,
            "/v1/users/u-wang.grid/assign",
            json!({ "role": "DEPARTMENT_HANDLER" }),
            400,
            "role_org_mismatch",
        ),
        (
            &town,
            "/v1/users/u-wang.grid/assign",
            json!({}),
            400,
            "nothing_to_change",
        ),
        (
            &town,
            "/v1/users/u-qian.admin/assign",
            json!({ "role": "DISPATCHER" }),
            409,
            "cannot_change_self",
        ),
        (
            &town,
            "/v1/users/u-admin/assign",
            json!({ "role": "DISPATCHER" }),
            403,
            "out_of_scope",
        ),
        (
            &town,
            "/v1/users/u-nobody/assign",
            json!({ "role": "DISPATCHER" }),
            404,
            "user_not_found",
        ),
        (
            &town,
            "/v1/users/u-qian.admin/disable",
            json!({}),
            409,
            "cannot_disable_self",
        ),
        (
            &town,
            "/v1/users/u-admin/disable",
            json!({}),
            403,
            "out_of_scope",
        ),
        (
            &town,
            "/v1/users/u-admin/password",
            json!({ "new_password": "taking-over-the-county" }),
            403,
            "out_of_scope",
        ),
        (
            &town,
            "/v1/devices/nowhere/revoke",
            json!({}),
            404,
            "device_not_found",
        ),
    ];
    for (staff, path, body, status, want) in cases {
        let (got, v) = staff.post(path, &body);
        assert_eq!((got, code(&v)), (status, want), "{path} {body}: {v}");
    }
    // Not the device one calls from (signing out does that).
    let (_, v) = county.get("/v1/devices?user_id=u-admin");
    let own = v["devices"][0]["id"].as_str().unwrap().to_owned();
    let (status, v) = county.post(&format!("/v1/devices/{own}/revoke"), &json!({}));
    assert_eq!((status, code(&v)), (409, "cannot_revoke_own_device"));
    // Inside the township, an administrator may make another (of the same reach, not more).
    let (status, v) = town.post(
        "/v1/users",
        &json!({ "username": "qian2.admin", "role": "ADMIN", "org_id": TOWN }),
    );
    assert_eq!(status, 201, "{v}");
    // The last active administrator stays: only the operator could try, and is refused.
    let now = 1;
    for id in ["u-qian.admin", "u-qian2.admin"] {
        server
            .block_on(admin::users::disable(
                &server.state.db,
                Actor::Operator,
                id,
                now,
            ))
            .unwrap();
    }
    let last = server.block_on(admin::users::disable(
        &server.state.db,
        Actor::Operator,
        "u-admin",
        now,
    ));
    assert_eq!(last.unwrap_err().code(), "last_admin");
    let demote = admin::users::Assignment {
        role: Some("DISPATCHER".into()),
        org_id: None,
    };
    let last = server.block_on(admin::users::assign(
        &server.state.db,
        Actor::Operator,
        "u-admin",
        demote,
        now,
    ));
    assert_eq!(last.unwrap_err().code(), "last_admin");
}

#[test]
fn a_created_user_signs_in_with_the_password_shown_once_and_a_disabled_one_cannot() {
    let server = TestServer::start();
    let town = township_admin(&server);
    let (status, v) = town.post("/v1/users", &json!({ "username": "ma.grid", "display_name": "马网格", "role": "GRID_WORKER", "org_id": IN_VILLAGE }));
    assert_eq!(status, 201, "{v}");
    let password = v["password"]
        .as_str()
        .expect("generated, shown once")
        .to_owned();
    assert_eq!(v["user"]["id"], "u-ma.grid");
    assert_eq!(v["user"]["role"], "GRID_WORKER");
    let (status, v) = town.post("/v1/users", &json!({ "username": "niu.grid", "role": "GRID_WORKER", "org_id": IN_VILLAGE, "password": "a-chosen-long-password" }));
    assert_eq!(status, 201);
    assert!(
        v.get("password").is_none(),
        "a given password is not echoed: {v}"
    );

    let mut phone = Phone::try_login(&server.base_url(), "ma.grid", &password, "ma-phone").unwrap();
    phone.sync().unwrap();
    // The password reached neither the audit log nor the answer of a listing.
    let entries = audit_actions(&server);
    let created = entries
        .iter()
        .find(|e| e.action == audit::USER_CREATED && e.detail["user_id"] == "u-ma.grid")
        .unwrap();
    assert_eq!(created.detail["password"], "GENERATED");
    assert_eq!(created.user_id, "u-qian.admin");
    assert!(!serde_json::to_string(&entries).unwrap().contains(&password));

    // Disabled: the phone's next sync is refused and it cannot sign in again.
    let (status, _) = town.post("/v1/users/u-ma.grid/disable", &json!({}));
    assert_eq!(status, 204);
    assert_eq!(phone.sync().unwrap_err().code, "device_revoked");
    let err = Phone::try_login(&server.base_url(), "ma.grid", &password, "ma-phone-2").unwrap_err();
    assert_eq!(err.code, "account_disabled");
    let (_, users) = town.get(&format!("/v1/users?org_id={IN_VILLAGE}"));
    let ma = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "ma.grid")
        .unwrap();
    assert_eq!(ma["active"], false);
}

#[test]
fn a_revoked_device_is_refused_at_sync_and_refresh_and_shows_its_app_version() {
    let server = TestServer::start();
    let county = Staff::login(&server, "admin");
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "rev-phone");
    phone.sync().unwrap();
    // The app version comes from the User-Agent of each request (sanitized, bounded).
    let (status, _) = {
        let r = gridsync_tests::agent()
            .get(&server.url("/v1/cases"))
            .header("Authorization", &format!("Bearer {}", phone.access_token))
            .header("User-Agent", "gridsync-ffi/9.8.7   (android 14)")
            .call()
            .unwrap();
        (r.status().as_u16(), ())
    };
    assert_eq!(status, 200);
    let (_, v) = county.get("/v1/devices?user_id=u-wang.grid");
    let device = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "rev-phone")
        .unwrap()
        .clone();
    assert_eq!(device["app_version"], "gridsync-ffi/9.8.7 (android 14)");
    assert!(
        device["last_seen_at"]
            .as_str()
            .is_some_and(|t| t.parse::<gridsync_server::county_time::Stamp>().is_ok()),
        "{device}"
    );
    assert_eq!(device["revoked"], false);

    let (status, v) = county.post("/v1/devices/rev-phone/revoke", &json!({}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["revoked"], true);
    assert_eq!(phone.sync().unwrap_err().code, "device_revoked");
    let (status, v) = call(
        &server,
        None,
        "POST",
        "/v1/auth/refresh",
        Some(&json!({ "refresh_token": phone.refresh_token, "device_id": "rev-phone" })),
    );
    assert_eq!((status, code(&v)), (403, "device_revoked"));
    // Twice is once: one audit entry.
    let (status, _) = county.post("/v1/devices/rev-phone/revoke", &json!({}));
    assert_eq!(status, 200);
    let revoked = audit_actions(&server)
        .into_iter()
        .filter(|e| e.action == audit::DEVICE_REVOKED && e.detail["device_id"] == "rev-phone")
        .count();
    assert_eq!(revoked, 1);
}

#[test]
fn a_moved_users_phone_sees_the_new_scope_on_its_next_sync() {
    let server = TestServer::start();
    let base = server.base_url();
    let county = Staff::login(&server, "admin");
    let mut wang = Phone::login(&base, "wang.grid", "moving-phone");
    let own = wang.record("东岭村: 欠薪纠纷");
    wang.store.submit(own).unwrap();
    wang.sync().unwrap();
    let mut zhao = Phone::login(&base, "zhao.grid", "zhao-phone");
    let theirs = zhao.record("河口村: 邻里纠纷");
    zhao.store.submit(theirs).unwrap();
    zhao.sync().unwrap();
    wang.sync().unwrap();
    assert!(!wang.store.has_case(theirs).unwrap());

    let (status, v) = county.post(
        "/v1/users/u-wang.grid/assign",
        &json!({ "org_id": OUT_VILLAGE }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["org_id"], OUT_VILLAGE);
    wang.sync().unwrap();
    assert!(
        wang.store.has_case(theirs).unwrap(),
        "the new village's case arrived"
    );
    assert!(!wang.store.has_case(own).unwrap(), "the old village's left");

    // A grid worker made a supervisor holds no cases on a phone (a console role), and a
    // grid worker cannot be put in a center.
    let (status, v) = county.post(
        "/v1/users/u-wang.grid/assign",
        &json!({ "role": "SUPERVISOR" }),
    );
    assert_eq!((status, code(&v)), (400, "role_org_mismatch"));
    let (status, _) = county.post(
        "/v1/users/u-wang.grid/assign",
        &json!({ "role": "SUPERVISOR", "org_id": OUT_TOWN }),
    );
    assert_eq!(status, 200);
    wang.sync().unwrap();
    assert!(!wang.store.has_case(theirs).unwrap());
    let actions: Vec<String> = audit_actions(&server)
        .into_iter()
        .filter(|e| e.detail["user_id"] == "u-wang.grid")
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&audit::USER_MOVED.to_owned())
            && actions.contains(&audit::USER_ROLE_CHANGED.to_owned()),
        "{actions:?}"
    );
}

#[test]
fn a_rescoped_villages_phones_rescan_and_see_the_wider_area() {
    let server = TestServer::start();
    let base = server.base_url();
    let town = township_admin(&server);
    // A grid worker of the neighbouring village (西坞村) records a case there.
    let (status, _) = town.post("/v1/users", &json!({ "username": "xi.grid", "role": "GRID_WORKER", "org_id": "330182101202", "password": "xiwu-long-password" }));
    assert_eq!(status, 201);
    let mut xi = Phone::try_login(&base, "xi.grid", "xiwu-long-password", "xi-phone").unwrap();
    let theirs = xi.record("西坞村: 宅基地纠纷");
    xi.store.submit(theirs).unwrap();
    xi.sync().unwrap();
    let mut wang = Phone::login(&base, "wang.grid", "wide-phone");
    wang.sync().unwrap();
    assert!(!wang.store.has_case(theirs).unwrap());

    // 东岭村 now covers the whole township (a re-scope, under the same parent).
    let (status, v) = town.post(
        "/v1/orgs/330182101201/move",
        &json!({ "parent_id": TOWN, "scope_prefix": "330182101" }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["scope_prefix"], "330182101");
    wang.sync().unwrap();
    assert!(
        wang.store.has_case(theirs).unwrap(),
        "a rescan brought the older case"
    );
    let moved = audit_actions(&server)
        .into_iter()
        .find(|e| e.action == audit::ORG_MOVED)
        .unwrap();
    assert_eq!(moved.detail["devices_rescanning"], 1, "{}", moved.detail);

    // Renamed and created organisations are audited too, by whom.
    let (status, v) = town.post(
        "/v1/orgs/330182101202/rename",
        &json!({ "name": "西坞村 (新)" }),
    );
    assert_eq!((status, v["name"].as_str()), (200, Some("西坞村 (新)")));
    let (status, v) = town.post("/v1/orgs", &json!({ "parent_id": TOWN, "name": "青溪镇南山村", "kind": "VILLAGE", "area_code": "330182101203" }));
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        (
            v["tier"].as_str(),
            v["scope_prefix"].as_str(),
            v["depth"].as_u64()
        ),
        (Some("VILLAGE"), Some("330182101203"), Some(2))
    );
    let entries = audit_actions(&server);
    for action in [
        audit::ORG_CREATED,
        audit::ORG_RENAMED,
        audit::ORG_MOVED,
        audit::USER_CREATED,
    ] {
        assert!(
            entries
                .iter()
                .any(|e| e.action == action && e.user_id == "u-qian.admin"),
            "{action}"
        );
    }
}
