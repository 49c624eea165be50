//! The trust boundary of the center's API (issue 12, the center side), tried from outside:
//! a township's staff change rules and time limits only inside their township; the center
//! numbers its own accepts with no gaps; dispatches go only to registered organisations
//! within reach, under their registered names; malformed payloads are 400 naming the
//! field; rule changes and exports are in the audit log.

use gridsync_core::case::CaseId;
use gridsync_core::workflow::{EventKind, Role, may_author};
use gridsync_server::db::accounts::{Org, User};
use gridsync_tests::{Phone, Staff, TestServer};
use serde_json::json;

/// A police station of 双河镇: a department of another township than 青溪镇's.
fn add_shuanghe_police(server: &TestServer) {
    let org = Org {
        id: "330182102-police".into(),
        parent_id: Some("330182102-center".into()),
        name: "双河派出所".into(),
        kind: "DEPARTMENT".into(),
        tier: gridsync_core::workflow::Tier::Township,
        area_code: "330182102000".into(),
        scope_prefix: None,
    };
    let now = server.state.clock.now().0;
    server
        .block_on(server.state.db.create_org(&org, now))
        .unwrap();
}

fn add_user(server: &TestServer, username: &str, role: Role, org: &str) {
    let hash = gridsync_server::auth::hash_password(gridsync_server::demo::DEMO_PASSWORD);
    let user = User {
        id: format!("u-{username}"),
        username: username.into(),
        display_name: username.into(),
        role,
        org_id: org.into(),
        active: true,
    };
    let now = server.state.clock.now().0;
    server
        .block_on(server.state.db.create_user(&user, &hash, now))
        .unwrap();
}

/// `n` cases of 东岭村 (青溪镇), submitted and synced.
fn submitted(server: &TestServer, n: usize) -> Vec<String> {
    let mut phone = Phone::login(&server.base_url(), "wang.grid", &format!("trust-{n}"));
    let ids: Vec<CaseId> = (0..n).map(|i| phone.record(&format!("欠薪 {i}"))).collect();
    for id in &ids {
        phone.store.submit(*id).unwrap();
    }
    phone.sync().unwrap();
    ids.iter().map(ToString::to_string).collect()
}

fn code(body: &serde_json::Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

/// The audit entries with `action`, oldest first.
fn audited(server: &TestServer, action: &str) -> Vec<serde_json::Value> {
    let (s, log) = Staff::login(server, "wu.super").get("/v1/audit?limit=1000");
    assert_eq!(s, 200, "{log}");
    let mut items: Vec<serde_json::Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect();
    items.reverse();
    items
}

fn rule(id: &str, area: Option<&str>, center: &str, target: &str) -> serde_json::Value {
    json!({
        "id": id, "priority": 1, "category": "NEIGHBOUR", "risk_level": null,
        "area_prefix": area, "center_org": center, "target_org": target, "automatic": true
    })
}

fn rule_ids(staff: &Staff) -> Vec<String> {
    let (s, rules) = staff.get("/v1/dispatch-rules");
    assert_eq!(s, 200, "{rules}");
    rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_township_dispatcher_changes_dispatch_rules_only_inside_his_township() {
    let server = TestServer::start();
    add_shuanghe_police(&server);
    let sun = Staff::login(&server, "sun.town");
    let post = |body: serde_json::Value| sun.post("/v1/dispatch-rules", &body);

    // The attack: a county-wide rule sending every township's cases to his own center's
    // judicial office, whose cases he could then read unmasked.
    let (s, r) = post(rule(
        "grab-all",
        None,
        "330182101-center",
        "330182101-judicial",
    ));
    assert_eq!((s, code(&r)), (403, "out_of_scope"), "{r}");
    // Another township's area, and a center above his own.
    let (s, r) = post(rule(
        "grab-shuanghe",
        Some("330182102"),
        "330182101-center",
        "330182101-judicial",
    ));
    assert_eq!((s, code(&r)), (403, "out_of_scope"), "{r}");
    let (s, r) = post(rule(
        "as-county",
        Some("330182101"),
        "330182-center",
        "330182101-judicial",
    ));
    assert_eq!((s, code(&r)), (403, "out_of_scope"), "{r}");
    // Targets: unknown (400 naming it), a center (handles nothing), another township's
    // department (outside the reach of his center).
    let (s, r) = post(rule(
        "ghost",
        Some("330182101"),
        "330182101-center",
        "no-such-org",
    ));
    assert_eq!((s, code(&r)), (400, "invalid_input"), "{r}");
    assert!(r["message"].as_str().unwrap().contains("target_org"), "{r}");
    let (s, r) = post(rule(
        "to-center",
        Some("330182101"),
        "330182101-center",
        "330182101-center",
    ));
    assert_eq!(s, 400, "{r}");
    let (s, r) = post(rule(
        "to-shuanghe",
        Some("330182101"),
        "330182101-center",
        "330182102-police",
    ));
    assert_eq!((s, code(&r)), (403, "out_of_scope"), "{r}");
    // The county's rules are not his to remove.
    let (s, r) = sun
        .agent
        .delete(&format!("{}/v1/dispatch-rules/traffic-room", sun.base))
        .header("Authorization", &format!("Bearer {}", sun.token))
        .call()
        .map(|mut r| {
            (
                r.status().as_u16(),
                r.body_mut()
                    .read_json::<serde_json::Value>()
                    .unwrap_or_default(),
            )
        })
        .unwrap();
    assert_eq!((s, code(&r)), (403, "out_of_scope"), "{r}");
    assert!(rule_ids(&sun).contains(&"traffic-room".to_owned()));
    assert!(audited(&server, "RULE_ADDED").is_empty());
    assert!(audited(&server, "RULE_REMOVED").is_empty());

    // His own township's rule, to his own judicial office or a county department: taken,
    // and audited with ids and codes.
    let (s, r) = post(rule(
        "qingxi-neighbour",
        Some("330182101"),
        "330182101-center",
        "330182101-judicial",
    ));
    assert_eq!(s, 201, "{r}");
    let (s, r) = post(rule(
        "dongling-labour",
        Some("330182101201"),
        "330182101-center",
        "330182-labour",
    ));
    assert_eq!(s, 201, "{r}");
    let added = audited(&server, "RULE_ADDED");
    assert_eq!(added.len(), 2);
    assert_eq!(added[0]["user_id"], "u-sun.town");
    assert_eq!(added[0]["detail"]["rule"], "qingxi-neighbour");
    assert_eq!(added[0]["detail"]["area_prefix"], "330182101");
    assert_eq!(added[0]["detail"]["target_org"], "330182101-judicial");
    assert_eq!(sun.delete("/v1/dispatch-rules/qingxi-neighbour"), 204);
    let removed = audited(&server, "RULE_REMOVED");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["detail"]["rule"], "qingxi-neighbour");

    // The county's dispatcher and the administrator manage county-wide rules; the chain
    // holds.
    let chen = Staff::login(&server, "chen.dispatch");
    let (s, r) = chen.post(
        "/v1/dispatch-rules",
        &rule("county-neighbour", None, "330182-center", "330182-court"),
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(
        Staff::login(&server, "admin").delete("/v1/dispatch-rules/county-neighbour"),
        204
    );
    let (_, report) = Staff::login(&server, "wu.super").get("/v1/audit/verify");
    assert_eq!(report["ok"], true, "{report}");
}

#[test]
fn time_limits_are_set_only_inside_the_callers_scope_and_audited() {
    let server = TestServer::start();
    add_user(&server, "qian.super", Role::Supervisor, "330182101-center");
    // The township's wage cases are accepted within the hour, the county's within two.
    let put = |who: &Staff, id: &str, area: Option<&str>| -> (u16, serde_json::Value) {
        let accept = if area.is_some() { 3_600_000 } else { 7_200_000 };
        let body = json!({
            "id": "ignored", "tier": null, "category": "LABOUR_WAGES", "area_prefix": area,
            "limits": { "accept": accept, "accept_high_risk": 3_600_000, "sign": 7_200_000,
                "handle_simple": 86_400_000, "handle_general": 86_400_000,
                "handle_complex": 86_400_000, "follow_up": 86_400_000, "yellow_percent": 70 }
        });
        let mut r = who
            .agent
            .put(&format!("{}/v1/time-limits/{id}", who.base))
            .header("Authorization", &format!("Bearer {}", who.token))
            .send_json(body)
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_json().unwrap_or_default(),
        )
    };
    let qian = Staff::login(&server, "qian.super");
    let wu = Staff::login(&server, "wu.super");
    let (s, r) = put(&qian, "county-wages", None);
    assert_eq!((s, code(&r)), (403, "out_of_scope"), "{r}");
    let (s, r) = put(&qian, "shuanghe-wages", Some("330182102"));
    assert_eq!((s, code(&r)), (403, "out_of_scope"), "{r}");
    let (s, r) = put(&qian, "qingxi-wages", Some("330182101"));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["area_prefix"], "330182101");
    let (s, r) = put(&wu, "county-wages", None);
    assert_eq!(s, 200, "{r}");
    // Taking over the county's rule by its id, narrowed to his township: refused.
    let (s, r) = put(&qian, "county-wages", Some("330182101"));
    assert_eq!((s, code(&r)), (403, "out_of_scope"), "{r}");
    // A dispatcher does not set limits at all.
    let (s, r) = put(&Staff::login(&server, "sun.town"), "x", Some("330182101"));
    assert_eq!((s, code(&r)), (403, "not_permitted"), "{r}");

    let changed = audited(&server, "TIME_LIMITS_CHANGED");
    let rules: Vec<(&str, &str, bool)> = changed
        .iter()
        .map(|e| {
            (
                e["user_id"].as_str().unwrap(),
                e["detail"]["rule"].as_str().unwrap(),
                e["detail"]["replaced"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("u-qian.super", "qingxi-wages", false),
            ("u-wu.super", "county-wages", false)
        ]
    );

    // The township's own limits apply to its cases, over the county's, and travel in them:
    // a 东岭村 wage case carries the township's hour.
    let ids = submitted(&server, 1);
    let chen = Staff::login(&server, "chen.dispatch");
    let (s, r) = chen.act(&ids[0], "ACCEPT", json!({}));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["case"]["case"]["time_limits"]["accept"], 3_600_000, "{r}");
}

#[test]
fn accept_numbers_the_case_itself_and_a_refused_step_uses_no_number() {
    let server = TestServer::start();
    let ids = submitted(&server, 3);
    let chen = Staff::login(&server, "chen.dispatch");
    let seq = |r: &serde_json::Value| -> u32 {
        let no = r["case"]["state"]["case_no"].as_str().unwrap();
        assert!(no.starts_with("330182-"), "{no}");
        no.rsplit('-').next().unwrap().parse().unwrap()
    };

    // A number the client chose: refused, naming the field, and the counter stays.
    let (s, r) = chen.act(
        &ids[0],
        "ACCEPT",
        json!({ "case_no": "330182-20260101-000777" }),
    );
    assert_eq!((s, code(&r)), (400, "invalid_action"), "{r}");
    assert!(r["message"].as_str().unwrap().contains("case_no"), "{r}");
    let (s, r) = chen.act(&ids[0], "ACCEPT", json!({}));
    assert_eq!(s, 200, "{r}");
    assert_eq!(seq(&r), 1);

    // An accept the state refuses (already accepted) takes no number either.
    let (s, r) = chen.act(&ids[0], "ACCEPT", json!({}));
    assert_eq!((s, code(&r)), (409, "invalid_transition"), "{r}");
    let (s, r) = chen.act(&ids[1], "ACCEPT", json!({}));
    assert_eq!(s, 200, "{r}");
    assert_eq!(seq(&r), 2, "consecutive: no gap after the refused accept");
    let (s, r) = chen.act(&ids[2], "ACCEPT", json!({ "tier": "TOWNSHIP" }));
    assert_eq!(s, 200, "{r}");
    assert_eq!(seq(&r), 3);
}

#[test]
fn dispatch_goes_to_registered_organisations_within_reach_under_their_own_names() {
    let server = TestServer::start();
    add_shuanghe_police(&server);
    let ids = submitted(&server, 3);
    let sun = Staff::login(&server, "sun.town");
    for id in &ids {
        let (s, r) = sun.act(id, "ACCEPT", json!({}));
        assert_eq!(s, 200, "{r}");
    }
    let dispatch = |staff: &Staff, case: &str, to: serde_json::Value| {
        staff.act(case, "DISPATCH", json!({ "to": to }))
    };

    // Unknown: 400 naming `to`, and the case stays where it was (not stranded).
    let (s, r) = dispatch(&sun, &ids[0], json!([{ "id": "no-such-org", "name": "x" }]));
    assert_eq!((s, code(&r)), (400, "invalid_action"), "{r}");
    assert!(r["message"].as_str().unwrap().contains("to"), "{r}");
    let (_, detail) = sun.get(&format!("/v1/cases/{}", ids[0]));
    assert_eq!(detail["state"]["status"], "ACCEPTED");
    // A center handles nothing: nobody there may sign for it.
    let (s, r) = dispatch(&sun, &ids[0], json!([{ "id": "330182101-center" }]));
    assert_eq!((s, code(&r)), (400, "invalid_action"), "{r}");
    // Outside his reach: another township's police station and village.
    for other in ["330182102-police", "330182102203"] {
        let (s, r) = dispatch(&sun, &ids[0], json!([{ "id": other, "name": "x" }]));
        assert_eq!((s, code(&r)), (403, "out_of_scope"), "{other}: {r}");
    }
    // No assignee that is not one of the targets' users.
    let (s, r) = sun.act(
        &ids[0],
        "DISPATCH",
        json!({ "to": [{ "id": "330182101-judicial" }], "assignee": "u-liu.labour" }),
    );
    assert_eq!((s, code(&r)), (400, "invalid_action"), "{r}");
    assert!(r["message"].as_str().unwrap().contains("assignee"), "{r}");

    // Within reach: his own judicial office (the name the client sent is replaced by the
    // registry's; the tier is the target's unless given), a county department above him,
    // a village of his township (its mediation committee).
    let (s, r) = dispatch(
        &sun,
        &ids[0],
        json!([{ "id": "330182101-judicial", "name": "假冒的名字" }]),
    );
    assert_eq!(s, 200, "{r}");
    let state = &r["case"]["state"];
    assert_eq!(state["assigned_orgs"][0]["name"], "青溪司法所", "{r}");
    assert_eq!(state["tier"], "TOWNSHIP");
    assert!(!r.to_string().contains("假冒的名字"));
    let (s, r) = dispatch(&sun, &ids[1], json!([{ "id": "330182-labour" }]));
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["case"]["state"]["assigned_orgs"][0]["name"],
        "县人社局劳动保障监察大队"
    );
    assert_eq!(r["case"]["state"]["tier"], "COUNTY");
    let (s, r) = dispatch(&sun, &ids[2], json!([{ "id": "330182101201" }]));
    assert_eq!(s, 200, "{r}");
    // The village mediator of that village signs for it: the case is not stranded.
    let (s, r) = Staff::login(&server, "li.mediator").act(&ids[2], "SIGN_FOR", json!({}));
    assert_eq!(s, 200, "{r}");

    // The county reaches every township's departments.
    let more = submitted(&server, 1);
    let chen = Staff::login(&server, "chen.dispatch");
    assert_eq!(chen.act(&more[0], "ACCEPT", json!({})).0, 200);
    let (s, r) = dispatch(&chen, &more[0], json!([{ "id": "330182102-police" }]));
    assert_eq!(s, 200, "{r}");
}

/// A malformed payload, per kind, and the field its 400 must name.
fn malformed(kind: EventKind) -> (serde_json::Value, &'static str) {
    match kind {
        EventKind::Return | EventKind::Void | EventKind::SendBack | EventKind::Reopen => {
            (json!({ "reason": "  " }), "reason")
        }
        EventKind::Accept => (json!({ "case_no": null }), "case_no"),
        EventKind::Dispatch => (json!({ "to": [] }), "to"),
        EventKind::ExtensionRequest => (json!({ "days": 0, "reason": "等待鉴定" }), "days"),
        EventKind::ExtensionDecision => (json!({ "approved": "yes" }), "approved"),
        EventKind::Escalate => (
            json!({ "to_tier": "PROVINCE", "reason": "提级" }),
            "to_tier",
        ),
        EventKind::Resolve => (json!({ "success": true }), "outcome"),
        EventKind::ResolveOnSite => (json!({ "outcome": "" }), "outcome"),
        EventKind::FollowUp => (json!({ "method": "PHONE" }), "satisfaction"),
        EventKind::Supervise => (json!({ "level": "NONE" }), "level"),
        EventKind::CoHandlingFeedback => (json!({ "opinion": "" }), "opinion"),
        EventKind::Submit | EventKind::SignFor | EventKind::StartHandling | EventKind::Archive => {
            (json!([1, 2]), "payload")
        }
    }
}

#[test]
fn a_malformed_payload_is_400_naming_the_field_for_every_kind() {
    let server = TestServer::start();
    let ids = submitted(&server, 1);
    let case = &ids[0];
    let chen = Staff::login(&server, "chen.dispatch");
    assert_eq!(chen.act(case, "ACCEPT", json!({})).0, 200);
    assert_eq!(
        chen.act(
            case,
            "DISPATCH",
            json!({ "to": [{ "id": "330182-labour" }] })
        )
        .0,
        200
    );
    // Each kind from a role that may author it, all with the case in scope.
    let staff = [
        (Role::Dispatcher, Staff::login(&server, "chen.dispatch")),
        (Role::DepartmentHandler, Staff::login(&server, "liu.labour")),
        (Role::Supervisor, Staff::login(&server, "wu.super")),
        (Role::VillageMediator, Staff::login(&server, "li.mediator")),
    ];
    let mut failures = Vec::new();
    for kind in EventKind::ALL.iter().copied() {
        let (_, who) = staff
            .iter()
            .find(|(role, _)| may_author(*role, kind))
            .unwrap_or_else(|| panic!("nobody at the center authors {kind}"));
        let (payload, field) = malformed(kind);
        let (s, r) = who.act(case, kind.as_code(), payload);
        let message = r["message"].as_str().unwrap_or_default();
        if (s, code(&r)) != (400, "invalid_action") || !message.contains(field) {
            failures.push(format!("{kind}: {s} {r} (expected the field {field})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A good FOLLOW_UP the state does not allow (the case is dispatched) is a conflict.
    let (s, r) = chen.act(
        case,
        "FOLLOW_UP",
        json!({ "method": "PHONE", "satisfaction": 5 }),
    );
    assert_eq!((s, code(&r)), (409, "invalid_transition"), "{r}");
    // A wrongly typed field is named too.
    let (s, r) = chen.act(case, "FOLLOW_UP", json!({ "satisfaction": "very" }));
    assert_eq!((s, code(&r)), (400, "invalid_action"), "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("satisfaction"),
        "{r}"
    );
    // Nothing malformed reached the case.
    let (_, detail) = chen.get(&format!("/v1/cases/{case}"));
    assert_eq!(detail["state"]["status"], "DISPATCHED");
    assert_eq!(detail["state"]["timeline"].as_array().unwrap().len(), 3);
    // Who took each step, by name: every user the timeline names, and nobody else.
    for step in detail["state"]["timeline"].as_array().unwrap() {
        let id = step["by_user"].as_str().unwrap();
        assert!(
            detail["people"][id].is_string(),
            "{id}: {}",
            detail["people"]
        );
    }
    assert_eq!(detail["people"]["u-chen.dispatch"], "陈受理 (县中心受理员)");
    assert_eq!(
        detail["people"].as_object().unwrap().len(),
        2,
        "the phone's grid worker and the dispatcher: {}",
        detail["people"]
    );
}

#[test]
fn every_export_is_audited_with_its_filter_and_row_count() {
    let server = TestServer::start();
    let ids = submitted(&server, 2);
    let chen = Staff::login(&server, "chen.dispatch");
    assert_eq!(chen.act(&ids[0], "ACCEPT", json!({})).0, 200);
    let today = server.state.county_time.date(server.state.clock.now());
    let day = format!(
        "{:04}-{:02}-{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    let q = format!("from={day}&to={day}&area=330182101");
    for path in [
        format!("/v1/cases.csv?{q}"),
        format!("/v1/stats.csv?{q}&group_by=category"),
        format!("/v1/export/gbt31000.csv?{q}"),
    ] {
        let status = chen
            .agent
            .get(&format!("{}{path}", chen.base))
            .header("Authorization", &format!("Bearer {}", chen.token))
            .call()
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 200, "{path}");
    }
    // The statistics read as JSON are not an export; a refused export is not either.
    assert_eq!(chen.get("/v1/stats").0, 200);
    assert_eq!(
        Staff::login(&server, "wang.grid").get("/v1/cases.csv").0,
        403
    );

    let exports = audited(&server, "EXPORT");
    let seen: Vec<(&str, i64)> = exports
        .iter()
        .map(|e| {
            (
                e["detail"]["export"].as_str().unwrap(),
                e["detail"]["rows"].as_i64().unwrap(),
            )
        })
        .collect();
    // Two cases; the statistics: one category group and the total.
    assert_eq!(
        seen,
        [("cases.csv", 2), ("stats.csv", 2), ("gbt31000.csv", 2)]
    );
    for e in &exports {
        assert_eq!(e["user_id"], "u-chen.dispatch");
        assert_eq!(e["detail"]["from"], day.as_str());
        assert_eq!(e["detail"]["area"], "330182101");
        assert!(e["case_id"].is_null());
    }
    assert_eq!(exports[1]["detail"]["group_by"], "category");
    // No personal data in the entries (the phone's party: see `Phone::record`).
    let details: Vec<&serde_json::Value> = exports.iter().map(|e| &e["detail"]).collect();
    let text = serde_json::to_string(&details).unwrap();
    for secret in ["198805061234", "13812345678", "张建国"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
