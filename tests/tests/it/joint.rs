//! Issue 13: joint handling (会诊: the lead signs and handles, co-handlers give their
//! feedback, 协办意见, within their own limit, from the console or a phone), suggested
//! dispatches confirmed in one step, and my tasks (待办) at the center and on the phone.

use std::sync::Arc;

use gridsync_core::case::{CaseId, Timestamp};
use gridsync_core::clock::ManualClock;
use gridsync_core::protocol::DocChanges;
use gridsync_core::workflow::{Action, Author, Role, Status, TaskKind};
use gridsync_server::db::accounts::User;
use gridsync_tests::{Phone, Staff, TestServer};

use crate::forge::{append_event, push, raw_change, verdict};

const LABOUR: &str = "330182-labour";
const JUDICIAL: &str = "330182101-judicial";

fn items(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn tasks_on(staff: &Staff, case: &str) -> Vec<serde_json::Value> {
    let (status, body) = staff.get("/v1/me/tasks");
    assert_eq!(status, 200, "{body}");
    items(&body)
        .into_iter()
        .filter(|t| t["case_id"] == case)
        .collect()
}

/// A department handler of the township police station (not part of any dispatch here).
fn police_handler(server: &TestServer) -> Staff {
    let user = User {
        id: "u-qian.police".into(),
        username: "qian.police".into(),
        display_name: "钱承办 (派出所)".into(),
        role: Role::DepartmentHandler,
        org_id: "330182101-police".into(),
        active: true,
    };
    let hash = gridsync_server::auth::hash_password(gridsync_server::demo::DEMO_PASSWORD);
    let now = server.state.clock.now().0;
    server
        .block_on(server.state.db.create_user(&user, &hash, now))
        .unwrap();
    Staff::login(server, "qian.police")
}

#[test]
fn joint_handling_lead_signs_co_handlers_feed_back_from_console_and_phone() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut wang = Phone::login(&base, "wang.grid", "joint-wang");
    let id = wang.record("欠薪 会诊");
    wang.store.submit(id).unwrap();
    wang.sync().unwrap();
    let case = id.to_string();

    let chen = Staff::login(&server, "chen.dispatch");
    assert_eq!(chen.act(&case, "ACCEPT", serde_json::json!({})).0, 200);
    let (status, body) = chen.act(
        &case,
        "DISPATCH",
        serde_json::json!({"to": [{"id": LABOUR}, {"id": JUDICIAL}], "note": "劳动监察牵头，司法所协办"}),
    );
    assert_eq!(status, 200, "{body}");
    let state = &body["case"]["state"];
    assert_eq!(state["deadlines"][1]["kind"], "CO_HANDLE");
    assert_eq!(state["deadlines"][1]["item"], JUDICIAL);

    // Every organisation of the dispatch has the case in its task list: the lead to sign,
    // the co-handler to give its feedback, each with its own deadline (RFC 3339).
    let liu = Staff::login(&server, "liu.labour");
    let zhou = Staff::login(&server, "zhou.judicial");
    let lead_tasks = tasks_on(&liu, &case);
    assert_eq!(lead_tasks.len(), 1);
    assert_eq!(lead_tasks[0]["kind"], "SIGN");
    assert_eq!(lead_tasks[0]["deadline_kind"], "SIGN");
    let co_tasks = tasks_on(&zhou, &case);
    assert_eq!(co_tasks.len(), 1);
    assert_eq!(co_tasks[0]["kind"], "CO_HANDLE");
    assert_eq!(co_tasks[0]["label_zh"], "协办");
    assert_eq!(co_tasks[0]["step"], "CO_HANDLING_FEEDBACK");
    assert!(
        co_tasks[0]["due_at"]
            .as_str()
            .is_some_and(|s| s.ends_with("+08:00")),
        "{co_tasks:?}"
    );
    assert!(tasks_on(&chen, &case).is_empty());
    let (_, detail) = zhou.get(&format!("/v1/cases/{case}"));
    let allowed: Vec<&str> = detail["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(allowed.contains(&"CO_HANDLING_FEEDBACK"), "{allowed:?}");
    let (_, detail) = liu.get(&format!("/v1/cases/{case}"));
    assert!(
        !detail["allowed_actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "CO_HANDLING_FEEDBACK"),
        "the lead does not co-handle"
    );

    // From outside: the police station does not see the case at all; the lead may not
    // write a co-handler's feedback; a blank opinion is refused naming the field.
    let police = police_handler(&server);
    let feedback = serde_json::json!({"opinion": "派出所意见"});
    assert_eq!(
        police
            .act(&case, "CO_HANDLING_FEEDBACK", feedback.clone())
            .0,
        404
    );
    assert!(items(&police.get("/v1/me/tasks").1).is_empty());
    let (status, body) = liu.act(&case, "CO_HANDLING_FEEDBACK", feedback);
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let (status, body) = zhou.act(
        &case,
        "CO_HANDLING_FEEDBACK",
        serde_json::json!({"opinion": " "}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("opinion"),
        "{body}"
    );

    // The lead signs; the co-handler's clock keeps running until it answers.
    assert_eq!(liu.act(&case, "SIGN_FOR", serde_json::json!({})).0, 200);
    assert_eq!(tasks_on(&liu, &case)[0]["kind"], "HANDLE");
    assert_eq!(tasks_on(&zhou, &case)[0]["kind"], "CO_HANDLE");

    // The co-handler answers from its phone (协办意见 by sync).
    let mut zhou_phone = Phone::login(&base, "zhou.judicial", "joint-zhou");
    zhou_phone.sync().unwrap();
    let on_phone = zhou_phone.store.tasks().unwrap();
    assert_eq!(on_phone.len(), 1);
    assert_eq!(on_phone[0].task.kind, TaskKind::CoHandle);
    zhou_phone
        .store
        .act(
            id,
            &Action::CoHandlingFeedback {
                opinion: "拖欠事实清楚，司法所可派员参与调解".into(),
            },
        )
        .unwrap();
    let report = zhou_phone.sync().unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert!(zhou_phone.store.tasks().unwrap().is_empty());
    assert!(tasks_on(&zhou, &case).is_empty());

    // A village mediator's device may write feedback only as its own organisation: as the
    // judicial office it is refused at the door; as itself it is kept but moves nothing
    // (the village is not in the dispatch).
    let mut li = Phone::login(&base, "li.mediator", "joint-li");
    li.sync().unwrap();
    let actor = li.store.actor_id().clone();
    let forged = Author::new("u-li.mediator", Role::VillageMediator, JUDICIAL);
    let change = raw_change(&server, id, actor.clone(), |d| {
        append_event(
            d,
            "e-forged",
            "CO_HANDLING_FEEDBACK",
            &forged,
            r#"{"opinion":"冒名"}"#,
        )
    });
    let answer = push(
        &li,
        vec![DocChanges {
            signatures: Vec::new(),
            doc_id: id,
            changes: vec![change],
        }],
    );
    assert_eq!(verdict(&answer, id), Err("event_not_permitted".into()));
    let own = Author::new("u-li.mediator", Role::VillageMediator, "330182101201");
    let change = raw_change(&server, id, actor, |d| {
        append_event(
            d,
            "e-own",
            "CO_HANDLING_FEEDBACK",
            &own,
            r#"{"opinion":"村里的看法"}"#,
        )
    });
    let answer = push(
        &li,
        vec![DocChanges {
            signatures: Vec::new(),
            doc_id: id,
            changes: vec![change],
        }],
    );
    assert_eq!(verdict(&answer, id), Ok(()));

    // The lead resolves with the feedback in view.
    let (_, detail) = liu.get(&format!("/v1/cases/{case}"));
    let fb = detail["state"]["co_feedback"].as_array().unwrap();
    assert_eq!(fb.len(), 1, "{fb:?}");
    assert_eq!(fb[0]["org"]["id"], JUDICIAL);
    assert_eq!(fb[0]["org"]["name"], "青溪司法所");
    assert_eq!(fb[0]["by_user"], "u-zhou.judicial");
    let superseded = detail["state"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["event_id"] == "e-own")
        .unwrap()["superseded"]
        .clone();
    assert_eq!(superseded, "not_assigned");
    assert_eq!(
        liu.act(&case, "START_HANDLING", serde_json::json!({})).0,
        200
    );
    let (status, body) = liu.act(
        &case,
        "RESOLVE",
        serde_json::json!({"success": true, "outcome": "调解成功，工资已付清"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["case"]["state"]["status"], "RESOLVED");
    assert_eq!(
        body["case"]["state"]["co_feedback"][0]["org"]["id"],
        JUDICIAL
    );
}

#[test]
fn a_silent_co_handler_is_warned_on_its_own_limit() {
    const H: i64 = 3_600_000;
    let t0 = Timestamp(1_795_000_000_000);
    let clock = Arc::new(ManualClock::new(t0));
    let server = TestServer::start_with_clock(clock.clone());
    let chen = Staff::login(&server, "chen.dispatch");
    let (status, body) = chen.post(
        "/v1/cases",
        &serde_json::json!({"area_code": "330182101201", "source": "WALK_IN", "title": "来访：欠薪", "category": "LABOUR_WAGES"}),
    );
    assert_eq!(status, 201, "{body}");
    let case = body["id"].as_str().unwrap().to_owned();
    assert_eq!(chen.act(&case, "ACCEPT", serde_json::json!({})).0, 200);
    let (status, _) = chen.act(
        &case,
        "DISPATCH",
        serde_json::json!({"to": [{"id": LABOUR}, {"id": JUDICIAL}]}),
    );
    assert_eq!(status, 200);
    let level = |hours: i64| {
        clock.set(t0.plus_millis(hours * H));
        server
            .block_on(gridsync_server::center::warnings::scan_once(&server.state))
            .unwrap();
        server.block_on(async {
            sqlx::query_scalar::<_, String>(
                "SELECT level FROM warnings WHERE case_id = $1 AND kind = 'CO_HANDLE' AND cleared_at IS NULL",
            )
            .bind(&case)
            .fetch_optional(&server.state.db.pool())
            .await
            .unwrap()
        })
    };
    // Three days by default: yellow at 70 % (50.4 h), red at 72 h.
    assert_eq!(level(50), None);
    assert_eq!(level(51).as_deref(), Some("YELLOW"));
    assert_eq!(level(72).as_deref(), Some("RED"));
    let zhou = Staff::login(&server, "zhou.judicial");
    let t = tasks_on(&zhou, &case);
    assert_eq!(
        (t[0]["level"].as_str(), t[0]["overdue"].as_bool()),
        (Some("RED"), Some(true))
    );
    assert_eq!(
        zhou.act(
            &case,
            "CO_HANDLING_FEEDBACK",
            serde_json::json!({"opinion": "同意劳动监察意见"})
        )
        .0,
        200
    );
    assert_eq!(level(73), None, "cleared once the co-handler answered");
}

#[test]
fn my_tasks_overdue_first_then_by_deadline_and_not_for_administrators() {
    const H: i64 = 3_600_000;
    let t0 = Timestamp(1_795_000_000_000);
    let clock = Arc::new(ManualClock::new(t0));
    let server = TestServer::start_with_clock(clock.clone());
    // Signed in again after each move of the clock (access tokens are short-lived).
    let intake = |title: &str| {
        let chen = Staff::login(&server, "chen.dispatch");
        let (status, body) = chen.post(
            "/v1/cases",
            &serde_json::json!({"area_code": "330182101201", "source": "WALK_IN", "title": title, "category": "CONTRACT_DEBT"}),
        );
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    };
    let later = {
        clock.set(t0);
        let first = intake("先来");
        clock.set(t0.plus_millis(20 * H));
        let second = intake("后到");
        let third = intake("再后到");
        let chen = Staff::login(&server, "chen.dispatch");
        assert_eq!(chen.act(&third, "ACCEPT", serde_json::json!({})).0, 200);
        (first, second, third)
    };
    clock.set(t0.plus_millis(25 * H));
    let chen = Staff::login(&server, "chen.dispatch");
    let (status, body) = chen.get("/v1/me/tasks");
    assert_eq!(status, 200);
    let rows = items(&body);
    let order: Vec<(&str, &str)> = rows
        .iter()
        .map(|t| (t["case_id"].as_str().unwrap(), t["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            (later.0.as_str(), "ACCEPT"),
            (later.1.as_str(), "ACCEPT"),
            (later.2.as_str(), "DISPATCH")
        ]
    );
    assert_eq!(rows[0]["overdue"], true);
    assert_eq!(rows[0]["level"], "RED");
    assert_eq!(rows[1]["overdue"], false);
    assert!(rows[2]["due_at"].is_null());

    // Read again later, the unchanged cases (kept from the first read) are judged at the
    // new time, and a case changed since is read anew.
    clock.set(t0.plus_millis(60 * H));
    let chen = Staff::login(&server, "chen.dispatch");
    assert_eq!(chen.act(&later.0, "ACCEPT", serde_json::json!({})).0, 200);
    let (_, body) = chen.get("/v1/me/tasks");
    let rows = items(&body);
    let of = |id: &str| rows.iter().find(|t| t["case_id"] == id).unwrap().clone();
    assert_eq!(of(&later.0)["kind"], "DISPATCH", "changed: read anew");
    assert_eq!(of(&later.1)["kind"], "ACCEPT");
    assert_eq!(
        (
            of(&later.1)["overdue"].clone(),
            of(&later.1)["level"].clone()
        ),
        (serde_json::json!(true), serde_json::json!("RED")),
        "unchanged, past its deadline now"
    );

    // Any role that works cases; administrators get 403; each sees only their scope.
    assert_eq!(Staff::login(&server, "admin").get("/v1/me/tasks").0, 403);
    let sun = Staff::login(&server, "sun.town");
    assert_eq!(
        items(&sun.get("/v1/me/tasks").1).len(),
        3,
        "their township's village"
    );
    let zhao = Staff::login(&server, "zhao.grid");
    let (status, body) = zhao.get("/v1/me/tasks");
    assert_eq!((status, items(&body).len()), (200, 0), "another village");
}

#[test]
fn a_suggested_dispatch_shows_to_dispatchers_and_is_confirmed_in_one_step() {
    let server = TestServer::start();
    let base = server.base_url();
    let mut wang = Phone::login(&base, "wang.grid", "suggest-wang");
    let wages = wang.record("欠薪 建议分派"); // LABOUR_WAGES: the demo's suggestion rule
    wang.store.submit(wages).unwrap();
    let mut zhao = Phone::login(&base, "zhao.grid", "suggest-zhao");
    let other = zhao.record("欠薪 河口村");
    zhao.store.submit(other).unwrap();
    wang.sync().unwrap();
    zhao.sync().unwrap();
    let case = wages.to_string();

    let chen = Staff::login(&server, "chen.dispatch");
    let (_, detail) = chen.get(&format!("/v1/cases/{case}"));
    let s = &detail["suggestion"];
    assert_eq!(s["rule_id"], "wages-labour", "{detail}");
    assert_eq!(s["target_org_id"], LABOUR);
    assert_eq!(s["target_org_name"], "县人社局劳动保障监察大队");
    assert_eq!(s["tier"], "COUNTY");
    assert_eq!(s["steps"], serde_json::json!(["ACCEPT", "DISPATCH"]));
    let (_, page) = chen.get("/v1/cases?status=SUBMITTED");
    let row = items(&page)
        .into_iter()
        .find(|r| r["id"] == case.as_str())
        .unwrap();
    assert_eq!(row["suggestion"]["rule_id"], "wages-labour");
    assert_eq!(
        row["title"], "欠薪 建议分派",
        "the row's own fields stay flat"
    );

    // Not for those who may not dispatch; not outside the caller's scope.
    let wu = Staff::login(&server, "wu.super");
    assert!(wu.get(&format!("/v1/cases/{case}")).1["suggestion"].is_null());
    let body = serde_json::json!({"rule_id": "wages-labour"});
    let path = format!("/v1/cases/{case}/suggestion");
    assert_eq!(wu.post(&path, &body).0, 403);
    assert_eq!(
        Staff::login(&server, "liu.labour").post(&path, &body).0,
        404
    );
    let sun = Staff::login(&server, "sun.town");
    assert_eq!(
        sun.post(&format!("/v1/cases/{other}/suggestion"), &body).0,
        404,
        "another township's case"
    );
    let (status, answer) = chen.post(&path, &serde_json::json!({"rule_id": "traffic-room"}));
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("suggestion_changed"))
    );

    // One request: accepted (numbered) and dispatched, each step audited as chen's.
    let (status, answer) = chen.post(&path, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["event_ids"].as_array().unwrap().len(), 2);
    let state = &answer["case"]["state"];
    assert_eq!(state["status"], "DISPATCHED");
    assert!(
        state["case_no"]
            .as_str()
            .is_some_and(|n| n.starts_with("330182-"))
    );
    assert_eq!(
        state["assigned_orgs"][0]["name"],
        "县人社局劳动保障监察大队"
    );
    assert!(answer["case"]["suggestion"].is_null());
    let audited: Vec<String> = server.block_on(async {
        sqlx::query_scalar("SELECT user_id FROM audit_log WHERE case_id = $1 AND action = 'CASE_ACTION' ORDER BY seq")
            .bind(&case)
            .fetch_all(&server.state.db.pool())
            .await
            .unwrap()
    });
    assert_eq!(audited, ["u-chen.dispatch", "u-chen.dispatch"]);
    let (status, answer) = chen.post(&path, &body);
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("invalid_transition"))
    );

    // The labour inspectorate's phone holds it and lists it to sign.
    let mut liu = Phone::login(&base, "liu.labour", "suggest-liu");
    liu.sync().unwrap();
    let tasks = liu.store.tasks().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].case_id, wages);
    assert_eq!(tasks[0].status, Status::Dispatched);
    assert_eq!(tasks[0].task.kind, TaskKind::Sign);
    let _: CaseId = wages;
}
