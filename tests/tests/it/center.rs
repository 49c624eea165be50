//! The center's case API (first cut): list, detail with masked personal data, workflow
//! steps with case numbers assigned by the center, refusals with stable codes.

use gridsync_core::workflow::Status;
use gridsync_tests::{Phone, Staff, TestServer};

#[test]
fn the_center_accepts_dispatches_and_the_phone_sees_it() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "center-1");
    let a = phone.record("欠薪 A");
    let b = phone.record("欠薪 B");
    let draft = phone.record("仍是草稿");
    phone.store.submit(a).unwrap();
    phone.store.submit(b).unwrap();
    phone.sync().unwrap();

    let chen = Staff::login(&server, "chen.dispatch");
    let (status, page) = chen.get("/v1/cases");
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "drafts are not listed at the center");
    assert!(!ids.contains(&draft.to_string().as_str()));
    let (_, filtered) = chen.get("/v1/cases?text=%E6%AC%A0%E8%96%AA%20A");
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);

    // Detail masks personal data.
    let (_, detail) = chen.get(&format!("/v1/cases/{a}"));
    let party = &detail["case"]["parties"][0];
    assert_eq!(party["id_number"], "330182********1234");
    assert_eq!(party["phone"], "138****5678");

    // Accept assigns the county's numbers in sequence.
    let (s1, r1) = chen.act(&a.to_string(), "ACCEPT", serde_json::json!({}));
    let (s2, r2) = chen.act(&b.to_string(), "ACCEPT", serde_json::json!({}));
    assert_eq!((s1, s2), (200, 200), "{r1} {r2}");
    let no_a = r1["case"]["state"]["case_no"].as_str().unwrap().to_owned();
    let no_b = r2["case"]["state"]["case_no"].as_str().unwrap().to_owned();
    assert!(
        no_a.starts_with("330182-") && no_a.ends_with("-000001"),
        "{no_a}"
    );
    assert!(no_b.ends_with("-000002"), "{no_b}");

    let to = serde_json::json!({ "to": [{ "id": "330182-labour", "name": "劳动监察大队" }], "tier": "COUNTY" });
    let (s, r) = chen.act(&a.to_string(), "DISPATCH", to.clone());
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["case"]["state"]["status"], "DISPATCHED");

    // Refusals: a second dispatch (wrong state), a supervisor step from a grid worker's
    // account, an unknown kind, a case outside the scope.
    let (s, r) = chen.act(&a.to_string(), "DISPATCH", to);
    assert_eq!(
        (s, r["code"].as_str().unwrap()),
        (409, "invalid_transition")
    );
    let (s, r) = chen.act(&a.to_string(), "MEDIATE", serde_json::json!({}));
    assert_eq!((s, r["code"].as_str().unwrap()), (400, "invalid_action"));
    let wang = Staff::login(&server, "wang.grid");
    let (s, r) = wang.act(&b.to_string(), "ARCHIVE", serde_json::json!({}));
    assert_eq!((s, r["code"].as_str().unwrap()), (403, "not_permitted"));
    let town_b = Staff::login(&server, "liu.labour");
    let (s, _) = town_b.get(&format!("/v1/cases/{b}"));
    assert_eq!(s, 404, "a department sees only what is dispatched to it");
    let (s, _) = town_b.get(&format!("/v1/cases/{a}"));
    assert_eq!(s, 200);

    // The department signs for it through the API; the phone's next sync brings it all.
    let (s, r) = town_b.act(&a.to_string(), "SIGN_FOR", serde_json::json!({}));
    assert_eq!(s, 200, "{r}");
    phone.sync().unwrap();
    let view = phone.store.case(a).unwrap();
    assert_eq!(view.state.status, Status::Signed);
    assert_eq!(view.state.case_no.as_deref(), Some(no_a.as_str()));
    assert_eq!(view.state.handling_org.as_deref(), Some("330182-labour"));
}

#[test]
fn one_stop_intake_and_list_filters() {
    let server = TestServer::start();
    let chen = Staff::login(&server, "chen.dispatch");
    let post = |staff: &Staff, body: serde_json::Value| -> (u16, serde_json::Value) {
        let mut r = staff
            .agent
            .post(&format!("{}/v1/cases", staff.base))
            .header("Authorization", &format!("Bearer {}", staff.token))
            .send_json(body)
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_json().unwrap_or_default(),
        )
    };
    let walk_in = serde_json::json!({
        "area_code": "330182102203", "source": "WALK_IN", "title": "来访：工程款纠纷",
        "category": "CONTRACT_DEBT", "risk_level": "YELLOW",
        "parties": [{ "role": "APPLICANT", "name": "赵大山", "id_number": "330182197001011234", "phone": "13900001111" }]
    });
    let (status, body) = post(&chen, walk_in.clone());
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"]["status"], "SUBMITTED");
    assert_eq!(body["case"]["source"], "WALK_IN");
    assert_eq!(body["case"]["parties"][0]["phone"], "139****1111");
    let id = body["id"].as_str().unwrap().to_owned();

    // A traffic accident taken on the hotline goes through the auto-dispatch rule at once.
    let mut hotline = walk_in.clone();
    hotline["source"] = "HOTLINE".into();
    hotline["category"] = "TRAFFIC_ACCIDENT".into();
    let (_, body) = post(&chen, hotline);
    assert_eq!(body["state"]["status"], "DISPATCHED");

    // Only dispatchers record cases here, and only in their area.
    let liu = Staff::login(&server, "liu.labour");
    assert_eq!(post(&liu, walk_in.clone()).0, 403);
    let sun = Staff::login(&server, "sun.town");
    assert_eq!(post(&sun, walk_in).0, 403, "河口村 is outside 青溪镇");

    // The phone of that village receives the walk-in case.
    let mut zhao = Phone::login(&server.base_url(), "zhao.grid", "intake-phone");
    zhao.sync().unwrap();
    assert!(zhao.store.has_case(id.parse().unwrap()).unwrap());

    // Filters: area, organisation, overdue.
    let ids = |q: &str| -> Vec<String> {
        let (_, page) = chen.get(&format!("/v1/cases{q}"));
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("").len(), 2);
    assert_eq!(ids("?area=330182102").len(), 2);
    assert!(ids("?area=330182101").is_empty());
    assert_eq!(ids("?org=330182-room-traffic").len(), 1);
    assert!(
        ids("?overdue=true").is_empty(),
        "nothing is past its limit yet"
    );
    let (status, _) = chen.get("/v1/cases?area=33x");
    assert_eq!(status, 400);
}

/// `source` narrows the list to one way of reaching the system, inside the caller's scope
/// (a township dispatcher's walk-ins are its own township's), and an unknown code is 400.
#[test]
fn list_filter_by_source_stays_in_scope() {
    let server = TestServer::start();
    let chen = Staff::login(&server, "chen.dispatch");
    let intake = |area: &str, source: &str, title: &str| -> String {
        let body = serde_json::json!({
            "area_code": area, "source": source, "title": title, "category": "NEIGHBOUR",
            "risk_level": "GREEN",
            "parties": [{ "role": "APPLICANT", "name": "钱多多" }]
        });
        let (status, r) = chen.post("/v1/cases", &body);
        assert_eq!(status, 201, "{r}");
        r["id"].as_str().unwrap().to_owned()
    };
    let qingxi_walk_in = intake("330182101201", "WALK_IN", "东岭村来访");
    let hekou_walk_in = intake("330182102203", "WALK_IN", "河口村来访");
    let qingxi_hotline = intake("330182101202", "HOTLINE", "西坞村热线");
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "source-1");
    let visit = phone.record("网格走访");
    phone.store.submit(visit).unwrap();
    phone.sync().unwrap();

    let ids = |staff: &Staff, q: &str| -> Vec<String> {
        let (status, page) = staff.get(&format!("/v1/cases{q}"));
        assert_eq!(status, 200, "{page}");
        let mut ids: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(ids(&chen, "").len(), 4);
    // Each row says its source.
    let (_, page) = chen.get("/v1/cases?source=HOTLINE");
    assert_eq!(page["items"][0]["source"], "HOTLINE");
    assert_eq!(
        ids(&chen, "?source=WALK_IN"),
        sorted(vec![qingxi_walk_in.clone(), hekou_walk_in.clone()])
    );
    assert_eq!(ids(&chen, "?source=HOTLINE"), vec![qingxi_hotline.clone()]);
    assert_eq!(ids(&chen, "?source=GRID_VISIT"), vec![visit.to_string()]);
    assert!(ids(&chen, "?source=PETITION").is_empty());
    // With the other filters: a prefix and a source.
    assert_eq!(
        ids(&chen, "?source=WALK_IN&area=330182102"),
        vec![hekou_walk_in]
    );
    // Inside the caller's scope: 青溪镇's dispatcher sees its own walk-in, not 双河镇's.
    let sun = Staff::login(&server, "sun.town");
    assert_eq!(ids(&sun, "?source=WALK_IN"), vec![qingxi_walk_in]);
    // A department sees only what is dispatched to it: nothing yet.
    let liu = Staff::login(&server, "liu.labour");
    assert!(ids(&liu, "?source=WALK_IN").is_empty());
    // Not a source code: refused, with the API's code and the field named.
    for bad in ["walk_in", "BOGUS", "WALK_IN%27%20OR%201%3D1"] {
        let (status, body) = chen.get(&format!("/v1/cases?source={bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_query", "{body}");
    }
    // Empty is "any", like the other filters.
    assert_eq!(ids(&chen, "?source=").len(), 4);
}

/// Many dispatchers accepting at the same moment each get a number, all different and
/// without holes: the counter is taken atomically, not read and retried.
#[test]
fn concurrent_accepts_all_get_distinct_consecutive_numbers() {
    const N: usize = 24;
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "numbers-1");
    let ids: Vec<_> = (0..N)
        .map(|i| {
            let id = phone.record(&format!("欠薪 {i}"));
            phone.store.submit(id).unwrap();
            id
        })
        .collect();
    phone.sync().unwrap();
    let sessions: Vec<Staff> = (0..6)
        .map(|_| Staff::login(&server, "chen.dispatch"))
        .collect();
    let numbers: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let staff = &sessions[i % sessions.len()];
                s.spawn(move || {
                    let (status, r) = staff.act(&id.to_string(), "ACCEPT", serde_json::json!({}));
                    assert_eq!(status, 200, "{r}");
                    r["case"]["state"]["case_no"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seqs: Vec<u32> = numbers
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=N as u32).collect::<Vec<_>>(), "{numbers:?}");
}
