//! `GET /v1/directory` (who a staff member works with: places in scope, handling
//! organisations in reach) and `POST /v1/cases/suggestion` (the suggested dispatch of an
//! intake draft): allowed and refused, by role, by scope, on bad input.

use gridsync_tests::{Staff, TestServer};
use serde_json::{Value, json};

fn ids(items: &Value, pred: impl Fn(&Value) -> bool) -> Vec<String> {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| pred(o))
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_county_dispatcher_sees_the_county_depth_first_and_may_dispatch_to_every_handler() {
    let server = TestServer::start();
    let chen = Staff::login(&server, "chen.dispatch");
    let (status, dir) = chen.get("/v1/directory");
    assert_eq!(status, 200, "{dir}");
    let all = ids(&dir, |_| true);
    // Parent before child, depth first.
    let at = |id: &str| {
        all.iter()
            .position(|x| x == id)
            .unwrap_or_else(|| panic!("{id} listed"))
    };
    assert_eq!(at("330182-center"), 0);
    assert!(at("330182101-center") < at("330182101201"));
    assert!(
        at("330182101201") < at("330182102-center"),
        "a township's villages before the next township"
    );
    assert!(at("330182101-center") < at("330182101-judicial"));
    // Every handling organisation of the county is a target; centers never are.
    let dispatchable = ids(&dir, |o| o["dispatchable"] == true);
    for id in [
        "330182-labour",
        "330182-room-traffic",
        "330182101-judicial",
        "330182101-police",
        "330182102203",
    ] {
        assert!(dispatchable.contains(&id.to_owned()), "{id} dispatchable");
    }
    assert!(ids(&dir, |o| o["kind"] == "CENTER" && o["dispatchable"] == true).is_empty());
    // The entry's shape.
    let labour = dir["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "330182-labour")
        .unwrap();
    assert_eq!(labour["kind"], "DEPARTMENT");
    assert_eq!(labour["tier"], "COUNTY");
    assert_eq!(labour["parent_id"], "330182-center");
    assert_eq!(labour["in_scope"], false, "a department is no place");
    assert!(labour["name"].as_str().unwrap().contains("劳动"));
    let places = ids(&dir, |o| o["in_scope"] == true);
    assert_eq!(
        places.len(),
        4 + 6,
        "the county and 3 township centers, 6 villages: {places:?}"
    );
}

#[test]
fn a_township_dispatcher_never_sees_another_townships_villages_or_departments() {
    let server = TestServer::start();
    let sun = Staff::login(&server, "sun.town");
    let (status, dir) = sun.get("/v1/directory");
    assert_eq!(status, 200, "{dir}");
    let all = ids(&dir, |_| true);
    for other in [
        "330182102-center",
        "330182102203",
        "330182102204",
        "330182201-center",
        "330182201205",
        "330182201206",
    ] {
        assert!(
            !all.contains(&other.to_owned()),
            "{other} is another township's: {all:?}"
        );
    }
    // Its own places, its own departments and the county's (with their center, as a group).
    assert_eq!(
        ids(&dir, |o| o["in_scope"] == true),
        ["330182101-center", "330182101201", "330182101202"]
    );
    let dispatchable = ids(&dir, |o| o["dispatchable"] == true);
    for id in [
        "330182101-judicial",
        "330182101-police",
        "330182101201",
        "330182-labour",
        "330182-room-family",
    ] {
        assert!(
            dispatchable.contains(&id.to_owned()),
            "{id} within reach: {dispatchable:?}"
        );
    }
    let county = dir["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "330182-center")
        .unwrap();
    assert_eq!(
        (county["in_scope"].clone(), county["dispatchable"].clone()),
        (json!(false), json!(false))
    );
    // What the directory calls dispatchable is what DISPATCH accepts: another township's
    // village is refused as out of reach, a listed target is taken.
    let (status, case) = sun.post(
        "/v1/cases",
        &json!({"area_code": "330182101201", "title": "邻里纠纷", "category": "NEIGHBOUR"}),
    );
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap();
    assert_eq!(sun.act(id, "ACCEPT", json!({})).0, 200);
    let (status, e) = sun.act(id, "DISPATCH", json!({"to": [{"id": "330182102203"}]}));
    assert_eq!(
        (status, e["code"].as_str()),
        (403, Some("out_of_scope")),
        "{e}"
    );
    let (status, e) = sun.act(
        id,
        "DISPATCH",
        json!({"to": [{"id": "330182101-judicial"}]}),
    );
    assert_eq!(status, 200, "{e}");
}

#[test]
fn the_directory_is_for_case_workers_only_and_handlers_cannot_dispatch() {
    let server = TestServer::start();
    let (status, body) = Staff::login(&server, "admin").get("/v1/directory");
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("not_permitted"))
    );
    // A township department: its township's places, nothing dispatchable (its role does not
    // dispatch), no other township.
    let zhou = Staff::login(&server, "zhou.judicial");
    let (status, dir) = zhou.get("/v1/directory");
    assert_eq!(status, 200);
    assert!(ids(&dir, |o| o["dispatchable"] == true).is_empty());
    assert_eq!(
        ids(&dir, |o| o["in_scope"] == true),
        ["330182101-center", "330182101201", "330182101202"]
    );
    assert!(!ids(&dir, |_| true).contains(&"330182102203".to_owned()));
    // A grid worker: the village only as a place.
    let (status, dir) = Staff::login(&server, "wang.grid").get("/v1/directory");
    assert_eq!(status, 200);
    assert_eq!(ids(&dir, |o| o["in_scope"] == true), ["330182101201"]);
    let (status, _) = server_get_anonymous(&server);
    assert_eq!(status, 401);
}

fn server_get_anonymous(server: &TestServer) -> (u16, ()) {
    let r = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .get(&server.url("/v1/directory"))
        .call()
        .expect("request");
    (r.status().as_u16(), ())
}

#[test]
fn a_draft_gets_the_queues_suggestion_before_it_is_saved() {
    let server = TestServer::start();
    let chen = Staff::login(&server, "chen.dispatch");
    let draft = |category: &str, area: &str| json!({"category": category, "area_code": area, "risk_level": "YELLOW"});
    let (status, s) = chen.post(
        "/v1/cases/suggestion",
        &draft("LABOUR_WAGES", "330182101201"),
    );
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["rule_id"], "wages-labour");
    assert_eq!(s["target_org_id"], "330182-labour");
    assert_eq!(s["tier"], "COUNTY");
    assert_eq!(s["automatic"], false);
    assert_eq!(s["steps"], json!(["ACCEPT", "DISPATCH"]));
    // An automatic rule says so: the case goes there as it is saved.
    let (status, s) = chen.post(
        "/v1/cases/suggestion",
        &draft("TRAFFIC_ACCIDENT", "330182102203"),
    );
    assert_eq!(
        (
            status,
            s["target_org_id"].as_str(),
            s["automatic"].as_bool()
        ),
        (200, Some("330182-room-traffic"), Some(true))
    );
    // The same rule in the queue once saved.
    let mut body = draft("LABOUR_WAGES", "330182101201");
    body["title"] = "欠薪".into();
    let (status, case) = chen.post("/v1/cases", &body);
    assert_eq!(status, 201, "{case}");
    assert_eq!(case["suggestion"]["rule_id"], "wages-labour");
    // No rule matches: 404 with a stable code.
    let (status, e) = chen.post("/v1/cases/suggestion", &draft("NEIGHBOUR", "330182101201"));
    assert_eq!((status, e["code"].as_str()), (404, Some("no_suggestion")));
    // Category and risk default like intake's.
    let (status, e) = chen.post(
        "/v1/cases/suggestion",
        &json!({"area_code": "330182101201"}),
    );
    assert_eq!((status, e["code"].as_str()), (404, Some("no_suggestion")));
}

#[test]
fn a_draft_suggestion_is_refused_outside_the_scope_to_other_roles_and_on_bad_input() {
    let server = TestServer::start();
    let sun = Staff::login(&server, "sun.town");
    let ok = json!({"category": "LABOUR_WAGES", "area_code": "330182101202"});
    assert_eq!(sun.post("/v1/cases/suggestion", &ok).0, 200);
    // Another township's village.
    let (status, e) = sun.post(
        "/v1/cases/suggestion",
        &json!({"category": "LABOUR_WAGES", "area_code": "330182102203"}),
    );
    assert_eq!(
        (status, e["code"].as_str()),
        (403, Some("out_of_scope")),
        "{e}"
    );
    // Roles without Intake.
    for who in ["zhou.judicial", "wu.super", "li.mediator", "admin"] {
        let (status, e) = Staff::login(&server, who).post("/v1/cases/suggestion", &ok);
        assert_eq!(
            (status, e["code"].as_str()),
            (403, Some("not_permitted")),
            "{who}"
        );
    }
    // Bad input names the field.
    for (body, field) in [
        (
            json!({"category": "NOT_A_CATEGORY", "area_code": "330182101202"}),
            "category",
        ),
        (
            json!({"risk_level": "PURPLE", "area_code": "330182101202"}),
            "risk_level",
        ),
        (
            json!({"category": "LABOUR_WAGES", "area_code": "3301"}),
            "area_code",
        ),
    ] {
        let (status, e) = sun.post("/v1/cases/suggestion", &body);
        assert_eq!(
            (status, e["code"].as_str()),
            (400, Some("invalid_input")),
            "{body}"
        );
        assert!(e["message"].as_str().unwrap().contains(field), "{e}");
    }
    let (status, _) = sun.post(
        "/v1/cases/suggestion",
        &json!({"area_code": "330182101202", "colour": 1}),
    );
    assert_eq!(status, 400, "unknown fields are refused");
}
