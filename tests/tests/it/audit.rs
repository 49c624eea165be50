//! The audit log: workflow steps and unmasked personal-data reads are recorded (beside the
//! sign-ins, see accounts.rs), hash-chained;
//! a row edited in the database breaks the chain at that row; only supervisors and
//! administrators read the log; only the roles that need it see personal data unmasked.

use gridsync_tests::{Phone, Staff, TestServer};

const ID_NUMBER: &str = "330182198805061234";
const PHONE: &str = "13812345678";

fn items(page: &serde_json::Value) -> &Vec<serde_json::Value> {
    page["items"].as_array().expect("items")
}

#[test]
fn actions_and_unmasked_reads_are_chained_and_tampering_shows() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "audit-1");
    let a = phone.record("欠薪 审计");
    phone.store.submit(a).unwrap();
    phone.sync().unwrap();
    let case = a.to_string();

    let chen = Staff::login(&server, "chen.dispatch");
    let wu = Staff::login(&server, "wu.super");
    let wang = Staff::login(&server, "wang.grid");
    let liu = Staff::login(&server, "liu.labour");

    // Masked by default, and no entry for it.
    let (s, masked) = chen.get(&format!("/v1/cases/{case}"));
    assert_eq!(s, 200);
    assert_eq!(
        masked["case"]["parties"][0]["id_number"],
        "330182********1234"
    );
    let (_, log) = wu.get(&format!("/v1/audit?case={case}"));
    assert!(items(&log).is_empty(), "{log}");

    // Workflow steps through the API are audited.
    let (s, accepted) = chen.act(&case, "ACCEPT", serde_json::json!({}));
    assert_eq!(s, 200, "{accepted}");
    let to = serde_json::json!({ "to": [{ "id": "330182-labour", "name": "劳动监察大队" }], "tier": "COUNTY" });
    let (s, dispatched) = chen.act(&case, "DISPATCH", to);
    assert_eq!(s, 200, "{dispatched}");
    // A refused step is not.
    let (s, _) = chen.act(&case, "ACCEPT", serde_json::json!({}));
    assert_eq!(s, 409);

    // Unmasked: the dispatcher, and the department the case is dispatched to.
    let (s, full) = chen.get(&format!("/v1/cases/{case}?unmasked=true"));
    assert_eq!(s, 200, "{full}");
    assert_eq!(full["case"]["parties"][0]["id_number"], ID_NUMBER);
    assert_eq!(full["case"]["parties"][0]["phone"], PHONE);
    let (s, full) = liu.get(&format!("/v1/cases/{case}?unmasked=true"));
    assert_eq!(s, 200, "{full}");
    assert_eq!(full["case"]["parties"][0]["phone"], PHONE);

    // Refused: a supervisor, a grid worker (no entry, no data).
    for who in [&wu, &wang] {
        let (s, r) = who.get(&format!("/v1/cases/{case}?unmasked=true"));
        assert_eq!(
            (s, r["code"].as_str().unwrap_or_default()),
            (403, "personal_data_forbidden"),
            "{r}"
        );
        assert!(!r.to_string().contains(ID_NUMBER));
    }

    // The log, newest first.
    let (s, log) = wu.get(&format!("/v1/audit?case={case}"));
    assert_eq!(s, 200, "{log}");
    let entries = items(&log);
    assert_eq!(entries.len(), 4, "{log}");
    let oldest_first: Vec<&serde_json::Value> = entries.iter().rev().collect();
    let accept = oldest_first[0];
    assert_eq!(accept["action"], "CASE_ACTION");
    assert_eq!(accept["user_id"], "u-chen.dispatch");
    assert_eq!(accept["role"], "DISPATCHER");
    assert_eq!(accept["org_id"], "330182-center");
    assert_eq!(accept["case_id"], case.as_str());
    assert_eq!(accept["detail"]["kind"], "ACCEPT");
    assert_eq!(
        accept["detail"]["event_id"], accepted["event_id"],
        "{accept}"
    );
    // The first entry of all (the phone's sign-in) chains to the genesis hash.
    let (_, all) = wu.get("/v1/audit?limit=1000");
    let first = items(&all).last().unwrap();
    assert_eq!(
        (first["seq"].as_i64(), first["action"].as_str()),
        (Some(1), Some("SIGN_IN"))
    );
    assert_eq!(
        first["prev_hash"],
        "0000000000000000000000000000000000000000000000000000000000000000"
    );
    let total = items(&all).len() as i64;
    assert_eq!(oldest_first[1]["detail"]["kind"], "DISPATCH");
    let dispatch_seq = oldest_first[1]["seq"].as_i64().unwrap();
    assert_eq!(
        oldest_first[1]["detail"]["event_id"],
        dispatched["event_id"]
    );
    assert_eq!(oldest_first[1]["prev_hash"], accept["hash"]);
    let read = oldest_first[2];
    assert_eq!(read["action"], "PERSONAL_DATA_READ");
    assert_eq!(read["user_id"], "u-chen.dispatch");
    assert_eq!(read["case_id"], case.as_str());
    let fields: Vec<&str> = read["detail"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(fields.contains(&"parties.id_number") && fields.contains(&"parties.phone"));
    assert_eq!(oldest_first[3]["user_id"], "u-liu.labour");
    assert_eq!(oldest_first[3]["role"], "DEPARTMENT_HANDLER");

    // No personal data anywhere in the log.
    let (_, everything) = wu.get("/v1/audit?limit=1000");
    let text = everything.to_string();
    for secret in [ID_NUMBER, PHONE, "张建国"] {
        assert!(!text.contains(secret), "{secret} in the audit log");
    }

    // Filters: by user, by time, paging.
    let (_, by_liu) = wu.get("/v1/audit?user=u-liu.labour");
    let actions: Vec<&str> = items(&by_liu)
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["PERSONAL_DATA_READ", "SIGN_IN"]);
    // Times are RFC 3339 with the county's offset; `at_ms` is what the hash covers.
    let at = read["at_ms"].as_i64().unwrap();
    let at_text = read["at"].as_str().unwrap();
    assert!(at_text.ends_with("+08:00"), "{at_text}");
    let stamp = |ms: i64| {
        gridsync_server::county_time::CountyTime::default()
            .stamp(ms)
            .to_string()
            .replace('+', "%2B")
    };
    let (_, later) = wu.get(&format!("/v1/audit?from={}", stamp(at + 3_600_000)));
    assert!(items(&later).is_empty());
    let (_, since) = wu.get(&format!("/v1/audit?from={}", stamp(at)));
    assert!(!items(&since).is_empty());
    // A time that is not RFC 3339 (epoch milliseconds, markup): refused, not guessed.
    for bad in ["1795000000000", "%3Cscript%3E", "2026-12-05"] {
        let (status, body) = wu.get(&format!("/v1/audit?from={bad}"));
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_query")),
            "{bad}: {body}"
        );
    }
    let (_, page) = wu.get(&format!("/v1/audit?limit={}", total - 1));
    assert_eq!(items(&page).len() as i64, total - 1);
    let next = page["next"].as_i64().unwrap();
    let (_, rest) = wu.get(&format!("/v1/audit?limit=3&before={next}"));
    assert_eq!(items(&rest).len(), 1);
    assert_eq!(items(&rest)[0]["seq"], 1);

    // The chain verifies, for an administrator too.
    let (s, report) = wu.get("/v1/audit/verify");
    assert_eq!(s, 200);
    assert_eq!(
        report,
        serde_json::json!({ "entries": total, "ok": true, "first_bad": null })
    );
    let admin = Staff::login(&server, "admin");
    let (s, _) = admin.get("/v1/audit/verify");
    assert_eq!(s, 200);

    // Edit the dispatch's entry behind the server's back: the chain breaks there. (The
    // administrator's sign-in above added an entry.)
    let total = total + 1;
    server.block_on(async {
        sqlx::query("UPDATE audit_log SET detail = $1 WHERE seq = $2")
            .bind(r#"{"event_id":"forged","kind":"DISPATCH"}"#)
            .bind(dispatch_seq)
            .execute(&server.state.db.pool())
            .await
            .unwrap();
    });
    let (_, report) = wu.get("/v1/audit/verify");
    assert_eq!(
        report,
        serde_json::json!({ "entries": total, "ok": false, "first_bad": dispatch_seq })
    );
    let direct = server
        .block_on(gridsync_server::audit::verify(&server.state.db))
        .unwrap();
    assert_eq!(direct.first_bad, Some(dispatch_seq));

    // Re-hashing the forged row does not help: its successor's link breaks.
    server.block_on(async {
        let pool = server.state.db.pool();
        let row: (String, i64, String) =
            sqlx::query_as("SELECT prev_hash, at, detail FROM audit_log WHERE seq = $1")
                .bind(dispatch_seq)
                .fetch_one(&pool)
                .await
                .unwrap();
        let forged = gridsync_server::audit::entry_hash(
            &row.0,
            dispatch_seq,
            row.1,
            "u-chen.dispatch",
            "DISPATCHER",
            "330182-center",
            "CASE_ACTION",
            Some(&case),
            &row.2,
        );
        sqlx::query("UPDATE audit_log SET hash = $1 WHERE seq = $2")
            .bind(forged)
            .bind(dispatch_seq)
            .execute(&pool)
            .await
            .unwrap();
    });
    let (_, report) = wu.get("/v1/audit/verify");
    assert_eq!(report["first_bad"], dispatch_seq + 1, "{report}");
}

#[test]
fn only_supervisors_and_admins_read_the_log_and_only_the_right_roles_unmask() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "audit-2");
    let a = phone.record("邻里 审计");
    phone.store.submit(a).unwrap();
    phone.sync().unwrap();
    let case = a.to_string();

    for who in ["wang.grid", "chen.dispatch", "liu.labour", "li.mediator"] {
        let staff = Staff::login(&server, who);
        for path in ["/v1/audit", "/v1/audit/verify"] {
            let (s, r) = staff.get(path);
            assert_eq!(
                (s, r["code"].as_str().unwrap_or_default()),
                (403, "not_permitted"),
                "{who} {path}"
            );
        }
    }

    // The village mediator of the case's village sees it; a department the case was never
    // dispatched to does not even find it; the grid worker who recorded it is refused.
    let li = Staff::login(&server, "li.mediator");
    let (s, full) = li.get(&format!("/v1/cases/{case}?unmasked=true"));
    assert_eq!(s, 200, "{full}");
    assert_eq!(full["case"]["parties"][0]["id_number"], ID_NUMBER);
    let (s, _) =
        Staff::login(&server, "liu.labour").get(&format!("/v1/cases/{case}?unmasked=true"));
    assert_eq!(s, 404);
    let (s, r) = Staff::login(&server, "wang.grid").get(&format!("/v1/cases/{case}?unmasked=true"));
    assert_eq!(
        (s, r["code"].as_str().unwrap()),
        (403, "personal_data_forbidden")
    );
    // `unmasked=false` is the masked view.
    let (s, masked) = li.get(&format!("/v1/cases/{case}?unmasked=false"));
    assert_eq!(s, 200);
    assert_eq!(
        masked["case"]["parties"][0]["id_number"],
        "330182********1234"
    );

    let (_, log) = Staff::login(&server, "wu.super").get("/v1/audit");
    let entries: Vec<_> = items(&log)
        .iter()
        .filter(|e| e["action"] != "SIGN_IN")
        .collect();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["action"], "PERSONAL_DATA_READ");
    assert_eq!(entries[0]["role"], "VILLAGE_MEDIATOR");
    assert_eq!(entries[0]["org_id"], "330182101201");
}

#[test]
fn concurrent_appends_keep_one_chain() {
    let server = TestServer::start();
    // On PostgreSQL, a second server process on the same database appends at the same time.
    let second = server.db.is_postgres().then(|| {
        TestServer::start_on(
            gridsync_tests::runtime(),
            gridsync_tests::TestDb::shared(&server.db.url),
            std::sync::Arc::new(gridsync_core::clock::SystemClock),
        )
    });
    let appends = |s: &TestServer, who: &'static str| {
        s.block_on(async {
            let tasks: Vec<_> = (0..25)
                .map(|i| {
                    let state = s.state.clone();
                    tokio::spawn(async move {
                        gridsync_server::audit::append(
                            &state,
                            gridsync_server::audit::Entry {
                                user_id: format!("u-{who}"),
                                role: "DISPATCHER".into(),
                                org_id: "330182-center".into(),
                                action: "CASE_ACTION".into(),
                                case_id: None,
                                detail: serde_json::json!({ "n": i }),
                            },
                        )
                        .await
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        });
    };
    std::thread::scope(|scope| {
        scope.spawn(|| appends(&server, "one"));
        if let Some(second) = &second {
            scope.spawn(|| appends(second, "two"));
        }
    });
    let expected = if second.is_some() { 50 } else { 25 };
    let report = server
        .block_on(gridsync_server::audit::verify(&server.state.db))
        .unwrap();
    assert_eq!(
        (report.entries, report.ok, report.first_bad),
        (expected, true, None)
    );
}

#[test]
fn the_log_filters_by_action_alone_or_with_a_user() {
    let server = TestServer::start();
    let chen = Staff::login(&server, "chen.dispatch");
    let _admin = Staff::login(&server, "admin");
    let wu = Staff::login(&server, "wu.super");
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "audit-filter");
    let a = phone.record("邻里 筛选");
    phone.store.submit(a).unwrap();
    phone.sync().unwrap();
    let (s, accepted) = chen.act(&a.to_string(), "ACCEPT", serde_json::json!({}));
    assert_eq!(s, 200, "{accepted}");

    let actions = |path: &str| -> Vec<(String, String)> {
        let (s, log) = wu.get(path);
        assert_eq!(s, 200, "{path}: {log}");
        items(&log)
            .iter()
            .map(|e| {
                let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (text("action"), text("user_id"))
            })
            .collect()
    };
    let sign_ins = actions("/v1/audit?action=SIGN_IN");
    assert_eq!(sign_ins.len(), 4, "{sign_ins:?}");
    assert!(sign_ins.iter().all(|(a, _)| a == "SIGN_IN"), "{sign_ins:?}");
    assert_eq!(
        actions("/v1/audit?action=SIGN_IN&user=u-chen.dispatch"),
        [("SIGN_IN".to_owned(), "u-chen.dispatch".to_owned())]
    );
    assert_eq!(
        actions("/v1/audit?action=CASE_ACTION"),
        [("CASE_ACTION".to_owned(), "u-chen.dispatch".to_owned())]
    );
    // An action nobody took, and an empty one (no filter).
    assert!(actions("/v1/audit?action=DEVICE_REVOKED").is_empty());
    assert_eq!(
        actions("/v1/audit?action=").len(),
        actions("/v1/audit").len()
    );
    // The filter opens nothing to a role that may not read the log.
    let (s, r) = chen.get("/v1/audit?action=SIGN_IN");
    assert_eq!((s, r["code"].as_str()), (403, Some("not_permitted")));
}
