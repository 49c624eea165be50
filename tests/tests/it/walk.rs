//! One case from a phone through every step of the center's method and back: recorded
//! offline → synced → auto-dispatched → signed → handled → escalated → re-dispatched →
//! resolved with an installment agreement → followed up → archived. The phone's derived
//! state is checked after each of its syncs.

use gridsync_core::case::{Category, FollowUp, NewCase};
use gridsync_core::workflow::{Action, Status, Tier};
use gridsync_tests::{Phone, Staff, TestServer};
use serde_json::json;

/// A step that must be taken (200).
fn step(staff: &Staff, case: &str, kind: &str, payload: serde_json::Value) {
    let (status, body) = staff.act(case, kind, payload);
    assert_eq!(status, 200, "{kind}: {body}");
}

#[test]
fn one_case_walks_every_step_and_the_phone_follows() {
    let server = TestServer::start();
    let base = server.base_url();
    // Neighbour disputes of 青溪镇 go to its judicial office automatically.
    let rule = gridsync_server::center::rules::DispatchRule {
        id: "qingxi-neighbour".into(),
        priority: 5,
        category: Some("NEIGHBOUR".into()),
        risk_level: None,
        area_prefix: Some("330182101".into()),
        center_org: "330182101-center".into(),
        target_org: "330182101-judicial".into(),
        automatic: true,
    };
    server
        .block_on(gridsync_server::center::rules::add(
            &server.state.db,
            &rule,
            0,
        ))
        .unwrap();

    // 1. Recorded offline, submitted, synced: auto-dispatched within the same sync.
    let mut phone = Phone::login(&base, "wang.grid", "walk-phone");
    let id = phone
        .store
        .record(&NewCase {
            area_code: phone.area_code.clone(),
            title: "宅基地围墙越界，两户多次争吵".into(),
            category: Category::Neighbour,
            ..NewCase::default()
        })
        .unwrap();
    phone.store.submit(id).unwrap();
    assert_eq!(
        phone.store.case(id).unwrap().state.status,
        Status::Submitted
    );
    phone.sync().unwrap();
    let v = phone.store.case(id).unwrap().state;
    assert_eq!(v.status, Status::Dispatched);
    assert_eq!(v.tier, Tier::Township);
    assert_eq!(v.assigned_orgs[0].id, "330182101-judicial");
    let case_no = v.case_no.clone().unwrap();
    assert!(case_no.starts_with("330182-") && case_no.ends_with("-000001"));
    let case = id.to_string();

    // 2. Signed for and handled by the judicial office.
    let zhou = Staff::login(&server, "zhou.judicial");
    step(&zhou, &case, "SIGN_FOR", json!({}));
    phone.sync().unwrap();
    let v = phone.store.case(id).unwrap().state;
    assert_eq!(
        (v.status, v.handling_org.as_deref()),
        (Status::Signed, Some("330182101-judicial"))
    );
    step(&zhou, &case, "START_HANDLING", json!({}));
    phone.sync().unwrap();
    assert_eq!(
        phone.store.case(id).unwrap().state.status,
        Status::InProgress
    );

    // 3. Escalated to the county, which dispatches it to labour inspection.
    step(
        &zhou,
        &case,
        "ESCALATE",
        json!({ "to_tier": "COUNTY", "reason": "涉及拖欠工程款，需县级部门" }),
    );
    phone.sync().unwrap();
    let v = phone.store.case(id).unwrap().state;
    assert_eq!((v.status, v.tier), (Status::Escalated, Tier::County));
    let chen = Staff::login(&server, "chen.dispatch");
    step(
        &chen,
        &case,
        "DISPATCH",
        json!({ "to": [{ "id": "330182-labour", "name": "劳动监察大队" }], "tier": "COUNTY" }),
    );
    let liu = Staff::login(&server, "liu.labour");
    step(&liu, &case, "SIGN_FOR", json!({}));
    step(&liu, &case, "START_HANDLING", json!({}));
    phone.sync().unwrap();
    let v = phone.store.case(id).unwrap().state;
    assert_eq!(
        (v.status, v.handling_org.as_deref()),
        (Status::InProgress, Some("330182-labour"))
    );

    // 4. Resolved with a written agreement paid in two installments.
    let due1 = server.state.clock.now().0 + 30 * 86_400_000;
    let due2 = due1 + 30 * 86_400_000;
    // Times in the API are RFC 3339 with an offset.
    let rfc3339 = |ms: i64| server.state.county_time.stamp(ms).to_string();
    let (due1_text, due2_text) = (rfc3339(due1), rfc3339(due2));
    step(
        &liu,
        &case,
        "RESOLVE",
        json!({ "success": true, "outcome": "双方达成调解协议",
                "agreement": { "form": "WRITTEN", "terms": "分两期支付 6000 元", "signed_at": null,
                    "installments": [ { "id": "", "due_at": due1_text, "amount": 300000, "paid_at": null },
                                      { "id": "", "due_at": due2_text, "amount": 300000, "paid_at": null } ] } }),
    );
    phone.sync().unwrap();
    let v = phone.store.case(id).unwrap().state;
    assert_eq!(v.status, Status::Resolved);
    let agreement = v.agreement.clone().unwrap();
    assert_eq!(agreement.installments.len(), 2);
    assert!(
        agreement.installments.iter().all(|i| !i.id.is_empty()),
        "installments got ids"
    );
    assert!(v.outcome.as_ref().is_some_and(|o| o.success));

    // 5. The grid worker's follow-up visit, offline, then synced.
    phone
        .store
        .act(
            id,
            &Action::FollowUp(FollowUp {
                satisfaction: 5,
                agreement_performed: Some(true),
                ..FollowUp::default()
            }),
        )
        .unwrap();
    phone
        .store
        .mark_installment_paid(id, &agreement.installments[0].id, server.state.clock.now())
        .unwrap();
    phone.sync().unwrap();
    let center = server
        .block_on(gridsync_server::center::cases::load(&server.state, id))
        .unwrap()
        .unwrap();
    let at_center = center.state(&server.state.limits, server.state.clock.now());
    assert_eq!(at_center.status, Status::FollowedUp);
    assert_eq!(at_center.follow_ups[0].satisfaction, 5);
    assert!(
        at_center.agreement.unwrap().installments[0]
            .paid_at
            .is_some()
    );

    // 6. Archived at the center; the phone sees it.
    step(&chen, &case, "ARCHIVE", json!({}));
    phone.sync().unwrap();
    let v = phone.store.case(id).unwrap().state;
    assert_eq!(v.status, Status::Archived);
    assert_eq!(v.case_no.as_deref(), Some(case_no.as_str()));
    assert_eq!(
        v.superseded().count(),
        0,
        "every step was valid where it landed"
    );
    let kinds: Vec<&str> = v.timeline.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "SUBMIT",
            "ACCEPT",
            "DISPATCH",
            "SIGN_FOR",
            "START_HANDLING",
            "ESCALATE",
            "DISPATCH",
            "SIGN_FOR",
            "START_HANDLING",
            "RESOLVE",
            "FOLLOW_UP",
            "ARCHIVE"
        ]
    );
}
