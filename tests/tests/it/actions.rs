//! Typed actions (issue 13): every action kind has its own schema in `/v1/openapi.json`
//! with an example, and that example, posted as it stands by a user to whom
//! `allowed_actions` offers the kind, is taken; a kind the API does not know is refused with
//! the list of kinds; a case is found by its number as well as its id.

use gridsync_core::case::CaseId;
use gridsync_core::workflow::EventKind;
use gridsync_tests::{Phone, Staff, TestServer};
use serde_json::{Value, json};

/// `n` cases of 东岭村 (青溪镇), submitted and synced.
fn submitted(server: &TestServer, n: usize) -> Vec<String> {
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "typed-actions");
    let ids: Vec<CaseId> = (0..n).map(|i| phone.record(&format!("欠薪 {i}"))).collect();
    for id in &ids {
        phone.store.submit(*id).unwrap();
    }
    phone.sync().unwrap();
    ids.iter().map(ToString::to_string).collect()
}

/// The example the OpenAPI document gives for `kind`'s request.
fn example(openapi: &Value, kind: EventKind) -> Value {
    let name = format!("Step_{}", kind.as_code());
    let step = &openapi["components"]["schemas"][&name];
    let example = step["examples"][0].clone();
    assert_eq!(
        example["kind"],
        kind.as_code(),
        "{name} has an example: {step}"
    );
    example
}

/// Posts `kind`'s OpenAPI example as `staff` on `case`, after checking the case offers the
/// kind to them; returns the case after the step.
fn take(staff: &Staff, openapi: &Value, case: &str, kind: EventKind) -> Value {
    let (status, before) = staff.get(&format!("/v1/cases/{case}"));
    assert_eq!(status, 200, "{before}");
    let offered: Vec<&str> = before["allowed_actions"]
        .as_array()
        .expect("allowed_actions")
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert!(
        offered.contains(&kind.as_code()),
        "{kind} is offered at {}: {offered:?}",
        before["state"]["status"]
    );
    let schema = before["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == kind.as_code())
        .map(|a| a["schema"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let name = schema.trim_start_matches("#/components/schemas/");
    assert!(
        openapi["components"]["schemas"][name].is_object(),
        "{schema} resolves in the OpenAPI document"
    );
    let (status, body) = staff.post(
        &format!("/v1/cases/{case}/actions"),
        &example(openapi, kind),
    );
    assert_eq!(status, 200, "{kind}'s example: {body}");
    body["case"].clone()
}

#[test]
fn every_kind_has_a_schema_and_its_example_is_taken() {
    let server = TestServer::start();
    let staff = |u: &str| Staff::login(&server, u);
    let (town, judicial, mediator, supervisor) = (
        staff("sun.town"),
        staff("zhou.judicial"),
        staff("li.mediator"),
        staff("wu.super"),
    );
    let (status, openapi) = town.get("/v1/openapi.json");
    assert_eq!(status, 200);

    // One oneOf with a `kind` discriminator naming every kind's schema.
    let request = &openapi["paths"]["/v1/cases/{id}/actions"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let step = match request["$ref"].as_str() {
        Some(r) => &openapi["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => request,
    };
    assert_eq!(step["discriminator"]["propertyName"], "kind", "{step}");
    assert_eq!(
        step["oneOf"].as_array().map(Vec::len),
        Some(EventKind::ALL.len())
    );
    for kind in EventKind::ALL {
        let mapped = &step["discriminator"]["mapping"][kind.as_code()];
        assert_eq!(
            mapped,
            &json!(format!("#/components/schemas/Step_{}", kind.as_code()))
        );
        example(&openapi, *kind);
    }

    let cases = submitted(&server, 7);
    let [a, b, c, d, e, f, g] = [0, 1, 2, 3, 4, 5, 6].map(|i| cases[i].clone());
    use EventKind as K;
    // The four steps and back: accept, dispatch, sign, handle, extend, supervise, resolve,
    // follow up, reopen, resolve again, follow up, archive.
    for (who, kind) in [
        (&town, K::Accept),
        (&town, K::Dispatch),
        (&judicial, K::SignFor),
        (&judicial, K::StartHandling),
        (&judicial, K::ExtensionRequest),
        (&town, K::ExtensionDecision),
        (&supervisor, K::Supervise),
        (&judicial, K::Resolve),
        (&town, K::FollowUp),
        (&town, K::Reopen),
        (&judicial, K::Resolve),
        (&town, K::FollowUp),
        (&town, K::Archive),
    ] {
        take(who, &openapi, &a, kind);
    }
    let done = town.get(&format!("/v1/cases/{a}")).1;
    assert_eq!(done["state"]["status"], "ARCHIVED");
    assert_eq!(
        done["allowed_actions"],
        json!([]),
        "nothing is left to do on an archived case"
    );

    take(&mediator, &openapi, &b, K::ResolveOnSite);
    for (who, kind) in [
        (&town, K::Accept),
        (&town, K::Dispatch),
        (&judicial, K::SignFor),
        (&judicial, K::StartHandling),
        (&judicial, K::Escalate),
    ] {
        take(who, &openapi, &c, kind);
    }
    for (who, kind) in [
        (&town, K::Accept),
        (&town, K::Dispatch),
        (&judicial, K::SendBack),
    ] {
        take(who, &openapi, &d, kind);
    }
    take(&town, &openapi, &e, K::Return);
    take(&town, &openapi, &e, K::Submit);
    take(&town, &openapi, &f, K::Void);

    // Joint handling: the village's mediation committee co-handles beside the judicial office
    // and gives its feedback.
    take(&town, &openapi, &g, K::Accept);
    let (status, body) = town.act(
        &g,
        "DISPATCH",
        json!({"to": [{"id": "330182101-judicial"}, {"id": "330182101201"}]}),
    );
    assert_eq!(status, 200, "{body}");
    take(&mediator, &openapi, &g, K::CoHandlingFeedback);
}

#[test]
fn allowed_actions_follow_the_role_the_state_and_the_assignment() {
    let server = TestServer::start();
    let cases = submitted(&server, 1);
    let case = &cases[0];
    let kinds = |who: &str| -> Vec<String> {
        let (status, body) = Staff::login(&server, who).get(&format!("/v1/cases/{case}"));
        assert_eq!(status, 200, "{who}: {body}");
        body["allowed_actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    // Submitted: the township's dispatcher accepts, returns or voids (and may supervise);
    // the supervisor only supervises; a grid worker takes no step at the center; the
    // judicial office does not see it yet.
    assert_eq!(kinds("sun.town"), ["ACCEPT", "RETURN", "VOID", "SUPERVISE"]);
    assert_eq!(kinds("wu.super"), ["SUPERVISE"]);
    assert!(kinds("wang.grid").is_empty());
    let judicial = Staff::login(&server, "zhou.judicial");
    assert_eq!(
        judicial.get(&format!("/v1/cases/{case}")).0,
        404,
        "not dispatched to the judicial office: not in its scope"
    );

    let town = Staff::login(&server, "sun.town");
    assert_eq!(town.act(case, "ACCEPT", json!({})).0, 200);
    let (status, body) = town.act(
        case,
        "DISPATCH",
        json!({"to": [{"id": "330182101-judicial"}]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(kinds("zhou.judicial"), ["SIGN_FOR", "SEND_BACK"]);
    assert!(!kinds("sun.town").contains(&"ACCEPT".to_owned()));
}

#[test]
fn refusals_name_the_kinds_and_the_fields() {
    let server = TestServer::start();
    let cases = submitted(&server, 1);
    let case = &cases[0];
    let town = Staff::login(&server, "sun.town");
    let post = |body: Value| town.post(&format!("/v1/cases/{case}/actions"), &body);

    let (status, body) = post(json!({"kind": "APPROVE", "payload": {}}));
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_action"))
    );
    let message = body["message"].as_str().unwrap();
    for kind in EventKind::ALL {
        assert!(message.contains(kind.as_code()), "{message} lists {kind}");
    }

    let (status, body) =
        post(json!({"kind": "ACCEPT", "payload": {"case_no": "330182-20260101-000009"}}));
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("case_no"));

    // A misspelt field is named, not silently ignored.
    let (status, body) = post(json!({"kind": "RETURN", "payload": {"reasn": "缺材料"}}));
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_action")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("reasn"),
        "{body}"
    );

    let (status, body) = post(json!({"kind": "ACCEPT", "payload": {"tier": "PROVINCE"}}));
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("tier"), "{body}");

    // Huge values: a reason past the event bound is refused and the case is unchanged.
    let (_, before) = town.get(&format!("/v1/cases/{case}"));
    let (status, body) =
        post(json!({"kind": "RETURN", "payload": {"reason": "理".repeat(20_000)}}));
    assert_eq!(status, 400, "{body}");
    let (_, after) = town.get(&format!("/v1/cases/{case}"));
    assert_eq!(before["state"]["timeline"], after["state"]["timeline"]);
    // Wrong types: named, refused.
    let (status, body) = post(json!({"kind": "SUPERVISE", "payload": {"level": 5}}));
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_action")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("level"),
        "{body}"
    );
}

#[test]
fn a_case_is_found_by_its_number_and_the_list_carries_full_ids() {
    let server = TestServer::start();
    let cases = submitted(&server, 2);
    let town = Staff::login(&server, "sun.town");
    let (status, accepted) = town.act(&cases[0], "ACCEPT", json!({}));
    assert_eq!(status, 200, "{accepted}");
    let case_no = accepted["case"]["state"]["case_no"]
        .as_str()
        .expect("numbered")
        .to_owned();

    let (status, by_number) = town.get(&format!("/v1/cases/{case_no}"));
    assert_eq!(status, 200, "{by_number}");
    assert_eq!(by_number["id"], cases[0].as_str());
    // Actions take the number too.
    let (status, body) = town.post(
        &format!("/v1/cases/{case_no}/actions"),
        &json!({"kind": "DISPATCH", "payload": {"to": [{"id": "330182101-judicial"}]}}),
    );
    assert_eq!(status, 200, "{body}");

    // A number of another county's day, or nobody's: 404 like an unknown id.
    let (status, _) = town.get("/v1/cases/330182-20000101-000001");
    assert_eq!(status, 404);
    // By number from outside its scope: 404 too, for another organisation's handler.
    let (status, _) = Staff::login(&server, "liu.labour").get(&format!("/v1/cases/{case_no}"));
    assert_eq!(
        status, 404,
        "the labour bureau was not dispatched this case"
    );

    let (_, list) = town.get("/v1/cases");
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for id in &cases {
        assert!(ids.contains(&id.as_str()), "{id} listed in full: {ids:?}");
        assert!(id.parse::<CaseId>().is_ok());
    }
}

#[test]
fn the_intake_example_is_recorded_with_its_times_and_stray_fields_are_refused() {
    let server = TestServer::start();
    let chen = Staff::login(&server, "chen.dispatch");
    let (_, openapi) = chen.get("/v1/openapi.json");
    let example = openapi["components"]["schemas"]["IntakeBody"]["example"].clone();
    assert!(example.is_object(), "IntakeBody has an example");
    let (status, body) = chen.post("/v1/cases", &example);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"]["status"], "SUBMITTED");
    // The instant given, shown in the county's offset.
    assert_eq!(body["case"]["occurred_at"], "2026-12-01T09:00:00+08:00");
    assert_eq!(body["case"]["parties"][0]["phone"], "138****5678");

    let mut stray = example.clone();
    stray["id"] = json!("00000000-0000-4000-8000-000000000000");
    let (status, body) = chen.post("/v1/cases", &stray);
    assert_eq!(status, 400, "the center makes the id: {body}");
    let mut in_ms = example;
    in_ms["occurred_at"] = json!(1_790_000_000_000_i64);
    let (status, body) = chen.post("/v1/cases", &in_ms);
    assert_eq!(status, 400, "times are RFC 3339: {body}");
}
