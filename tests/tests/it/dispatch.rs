//! Auto-dispatch: a case from a phone that matches an automatic rule is accepted and
//! dispatched within the sync that brought it; the department's phones see it at once.

use gridsync_core::case::{Category, NewCase};
use gridsync_core::workflow::{Role, Status};
use gridsync_server::db::accounts::User;
use gridsync_tests::{Phone, Staff, TestServer};

fn traffic_case(p: &Phone) -> NewCase {
    NewCase {
        area_code: p.area_code.clone(),
        title: "两车刮擦，赔偿金额有争议".into(),
        category: Category::TrafficAccident,
        ..NewCase::default()
    }
}

#[test]
fn an_automatic_rule_accepts_and_dispatches_within_the_same_sync() {
    let server = TestServer::start();
    let base = server.base_url();
    // A mediator of the traffic room, with a phone.
    let now = server.state.clock.now().0;
    let user = User {
        id: "u-ma.traffic".into(),
        username: "ma.traffic".into(),
        display_name: "马调解".into(),
        role: Role::DepartmentHandler,
        org_id: "330182-room-traffic".into(),
        active: true,
    };
    let hash = gridsync_server::auth::hash_password(gridsync_server::demo::DEMO_PASSWORD);
    server
        .block_on(server.state.db.create_user(&user, &hash, now))
        .unwrap();
    let mut room = Phone::login(&base, "ma.traffic", "room-phone");
    room.sync().unwrap();

    let mut wang = Phone::login(&base, "wang.grid", "wang-phone");
    let traffic = wang.store.record(&traffic_case(&wang)).unwrap();
    wang.store.submit(traffic).unwrap();
    let wages = wang.record("欠薪");
    wang.store.submit(wages).unwrap();

    let r = wang.sync().unwrap();
    assert_eq!(r.acked_changes, 4);
    assert_eq!(
        r.pulled_changes, 2,
        "the accept and the dispatch came back in the same sync"
    );
    let view = wang.store.case(traffic).unwrap();
    assert_eq!(view.state.status, Status::Dispatched);
    assert!(
        view.state
            .case_no
            .as_deref()
            .is_some_and(|n| n.starts_with("330182-") && n.ends_with("-000001"))
    );
    assert_eq!(view.state.assigned_orgs[0].id, "330182-room-traffic");
    let accept = &view.state.timeline[1];
    assert_eq!(
        (accept.kind.as_str(), accept.by_role.as_str()),
        ("ACCEPT", "SYSTEM")
    );
    // The system's steps are in the audit log like anyone's.
    let audited: Vec<String> = server.block_on(async {
        sqlx::query_scalar("SELECT role FROM audit_log WHERE case_id = $1 ORDER BY seq")
            .bind(traffic.to_string())
            .fetch_all(&server.state.db.pool())
            .await
            .unwrap()
    });
    assert_eq!(audited, ["SYSTEM", "SYSTEM"]);
    // Wage arrears have a suggestion rule only: a dispatcher decides.
    assert_eq!(
        wang.store.case(wages).unwrap().state.status,
        Status::Submitted
    );

    // The room's phone sees the case at once, whole.
    let r = room.sync().unwrap();
    assert_eq!(r.new_cases, vec![traffic]);
    assert_eq!(
        room.store.case(traffic).unwrap().state.status,
        Status::Dispatched
    );
    assert!(!room.store.has_case(wages).unwrap());
}

#[test]
fn rules_are_managed_by_dispatchers_and_tried_in_priority_order() {
    let server = TestServer::start();
    let chen = Staff::login(&server, "chen.dispatch");
    let list = |staff: &Staff| staff.get("/v1/dispatch-rules");
    let (status, rules) = list(&chen);
    assert_eq!(status, 200);
    let ids: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["traffic-room", "family-room", "wages-labour"]);
    assert_eq!(list(&Staff::login(&server, "wang.grid")).0, 403);

    // A more specific rule first: traffic accidents in 东岭村 go to the township judicial office.
    let rule = serde_json::json!({
        "id": "dongling-traffic", "priority": 1, "category": "TRAFFIC_ACCIDENT", "risk_level": null,
        "area_prefix": "330182101201", "center_org": "330182101-center",
        "target_org": "330182101-judicial", "automatic": true
    });
    let post = |body: &serde_json::Value| chen.post("/v1/dispatch-rules", body).0;
    assert_eq!(post(&rule), 201);
    assert_eq!(post(&rule), 409, "ids are unique");
    let mut bad = rule.clone();
    bad["id"] = "bad".into();
    bad["category"] = "NOT_A_CATEGORY".into();
    assert_eq!(post(&bad), 400);

    let mut wang = Phone::login(&server.base_url(), "wang.grid", "p-1");
    let id = wang.store.record(&traffic_case(&wang)).unwrap();
    wang.store.submit(id).unwrap();
    wang.sync().unwrap();
    let view = wang.store.case(id).unwrap();
    assert_eq!(view.state.assigned_orgs[0].id, "330182101-judicial");
    assert_eq!(view.state.tier, gridsync_core::workflow::Tier::Township);
    assert!(
        view.state
            .case_no
            .as_deref()
            .is_some_and(|n| n.starts_with("330182-"))
    );

    assert_eq!(chen.delete("/v1/dispatch-rules/dongling-traffic"), 204);
    assert_eq!(list(&chen).1.as_array().unwrap().len(), 3);
}
