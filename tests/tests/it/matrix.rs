//! The permission matrix of the center's API: every role × every workflow action × a case in
//! and out of the caller's scope. Expected, cell by cell: a case outside the scope is 404
//! (its existence is not revealed); a role the permission table refuses is 403; a permitted
//! step on a case in scope is taken (200) or refused by the case's state (409), never 403.
//! Grid workers and administrators take no steps through this API (403): grid workers act
//! on their phones, through sync.

use gridsync_core::case::CaseId;
use gridsync_core::workflow::{Action, Author, EventKind, OrgRef, Role, Tier, may_author};
use gridsync_server::db::accounts::User;
use gridsync_tests::{Phone, TestServer};
use serde_json::json;

fn payload(kind: EventKind) -> serde_json::Value {
    match kind {
        EventKind::Return | EventKind::Void | EventKind::SendBack | EventKind::Reopen => {
            json!({ "reason": "理由" })
        }
        EventKind::Dispatch => {
            json!({ "to": [{ "id": "330182-labour", "name": "劳动监察大队" }], "tier": "COUNTY" })
        }
        EventKind::ExtensionRequest => json!({ "days": 3, "reason": "等待鉴定" }),
        EventKind::ExtensionDecision => json!({ "approved": true }),
        EventKind::Escalate => json!({ "to_tier": "COUNTY", "reason": "提级" }),
        EventKind::Resolve => json!({ "success": true, "outcome": "调解成功" }),
        EventKind::ResolveOnSite => json!({ "outcome": "当场化解" }),
        EventKind::FollowUp => {
            json!({ "method": "PHONE", "satisfaction": 5, "agreement_performed": null, "note": "" })
        }
        EventKind::Supervise => json!({ "level": "NORMAL" }),
        EventKind::CoHandlingFeedback => json!({ "opinion": "已核实，建议调解" }),
        _ => json!({}),
    }
}

/// A case of village `phone`'s area, submitted, accepted and dispatched to `to`.
fn case(server: &TestServer, phone: &mut Phone, to: &str) -> CaseId {
    let id = phone.record("矩阵测试");
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    accept_and_dispatch(server, id, to);
    id
}

/// The county center accepts `id` and dispatches it to the organisation `to`.
pub(crate) fn accept_and_dispatch(server: &TestServer, id: CaseId, to: &str) {
    accept(server, id);
    dispatch(server, id, to);
}

/// The county center's dispatcher takes `action` on `id`.
fn by_dispatcher(server: &TestServer, id: CaseId, action: &Action) {
    let center = Author::new("u-chen.dispatch", Role::Dispatcher, "330182-center");
    server
        .block_on(gridsync_server::center::cases::act(
            &server.state,
            id,
            action,
            &center,
        ))
        .unwrap();
}

/// The county center accepts `id` (numbering it).
pub(crate) fn accept(server: &TestServer, id: CaseId) {
    let st = &server.state;
    let no = server
        .block_on(gridsync_server::center::cases::next_case_no(
            st,
            "330182",
            st.clock.now(),
        ))
        .unwrap();
    by_dispatcher(server, id, &Action::accept(no));
}

/// The county center dispatches the accepted `id` to the organisation `to`.
pub(crate) fn dispatch(server: &TestServer, id: CaseId, to: &str) {
    by_dispatcher(
        server,
        id,
        &Action::dispatch_to(OrgRef::new(to, to), Tier::County),
    );
}

#[test]
fn every_role_every_action_in_and_out_of_scope() {
    let server = TestServer::start();
    let now = server.state.clock.now().0;
    let hash = gridsync_server::auth::hash_password(gridsync_server::demo::DEMO_PASSWORD);
    // A supervisor whose scope is one township, so some cases are outside it.
    let qian = User {
        id: "u-qian.super".into(),
        username: "qian.super".into(),
        display_name: "钱督办".into(),
        role: Role::Supervisor,
        org_id: "330182101-center".into(),
        active: true,
    };
    server
        .block_on(server.state.db.create_user(&qian, &hash, now))
        .unwrap();

    let base = server.base_url();
    let mut village_a = Phone::login(&base, "wang.grid", "m-a");
    let mut village_b = Phone::login(&base, "zhao.grid", "m-b");
    // (user, role, in-scope case, out-of-scope case)
    let users = [
        ("wang.grid", Role::GridWorker),
        ("li.mediator", Role::VillageMediator),
        ("sun.town", Role::Dispatcher),
        ("liu.labour", Role::DepartmentHandler),
        ("qian.super", Role::Supervisor),
        ("admin", Role::Admin),
    ];
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut cells = 0;
    let mut failures = Vec::new();
    for (user, role) in users {
        let token: String = agent
            .post(&server.url("/v1/auth/login"))
            .send_json(json!({ "username": user, "password": "gridsync-demo" }))
            .unwrap()
            .body_mut()
            .read_json::<serde_json::Value>()
            .unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        // In scope: village A's case dispatched to labour (area scope for village and
        // township staff, assignment for the department). Out: village B's, dispatched to
        // the family room.
        let inside = case(&server, &mut village_a, "330182-labour");
        let outside = case(&server, &mut village_b, "330182-room-family");
        for kind in EventKind::ALL.iter().copied() {
            for (in_scope, id) in [(true, inside), (false, outside)] {
                cells += 1;
                let mut r = agent
                    .post(&server.url(&format!("/v1/cases/{id}/actions")))
                    .header("Authorization", &format!("Bearer {token}"))
                    .send_json(json!({ "kind": kind.as_code(), "payload": payload(kind) }))
                    .unwrap();
                let status = r.status().as_u16();
                let body: serde_json::Value = r.body_mut().read_json().unwrap_or_default();
                let staff = !matches!(role, Role::GridWorker | Role::Admin);
                let ok = if !staff {
                    status == 403
                } else if !in_scope {
                    status == 404
                } else if !may_author(role, kind) {
                    status == 403 && body["code"] == "not_permitted"
                } else {
                    status == 200 || (status == 409 && body["code"] == "invalid_transition")
                };
                if !ok {
                    failures.push(format!(
                        "{user} {kind} in_scope={in_scope}: {status} {body}"
                    ));
                }
            }
        }
    }
    assert_eq!(cells, 6 * EventKind::ALL.len() * 2);
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
