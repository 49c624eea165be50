//! Statistics (issue 4 item 5): a seeded set of cases with dates under a manual clock, the
//! figures worked out by hand, year-on-year against the same month a year earlier, CSV
//! exports with masked personal data, and who may ask.

use std::sync::Arc;

use gridsync_core::case::{
    Agreement, CaseEdit, CaseId, Category, FollowUp, Installment, Timestamp,
};
use gridsync_core::clock::ManualClock;
use gridsync_core::store::FieldStore;
use gridsync_core::workflow::{Action, Author, OrgRef, Role, Tier};
use gridsync_server::county_time::CountyTime;
use gridsync_server::stats::parse_date;
use gridsync_tests::{Phone, TestServer};
use serde_json::Value;

const H: i64 = Timestamp::HOUR;

/// `hour` o'clock China time on `date`.
fn at(date: &str, hour: i64) -> Timestamp {
    at_in(&CountyTime::default(), date, hour)
}

/// `hour` hours after the start of `date` in `zone`.
fn at_in(zone: &CountyTime, date: &str, hour: i64) -> Timestamp {
    Timestamp(zone.start_of_day(parse_date(date).unwrap()) + hour * H)
}

/// Signs in (again) at the server's current time; binds `actor` to `device` when given.
fn login(server: &TestServer, username: &str, device: Option<(&str, String)>) -> String {
    let mut body = serde_json::json!({ "username": username, "password": "gridsync-demo" });
    if let Some((device, actor)) = device {
        body["device_id"] = device.into();
        body["actor_ids"] = serde_json::json!([actor]);
    }
    let v: Value = gridsync_tests::agent()
        .post(&server.url("/v1/auth/login"))
        .send_json(body)
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    v["access_token"].as_str().expect("token").to_owned()
}

fn get(server: &TestServer, token: &str, path: &str) -> (u16, String) {
    let mut r = gridsync_tests::agent()
        .get(&server.url(path))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn get_json(server: &TestServer, username: &str, path: &str) -> (u16, Value) {
    let token = login(server, username, None);
    let (status, body) = get(server, &token, path);
    (status, serde_json::from_str(&body).unwrap_or_default())
}

/// A grid worker's phone whose store runs on the test's clock.
struct ClockedPhone {
    phone: Phone,
    _dir: tempfile::TempDir,
}

impl ClockedPhone {
    fn new(server: &TestServer, clock: Arc<ManualClock>) -> ClockedPhone {
        let mut phone = Phone::login(&server.base_url(), "wang.grid", "stats-phone");
        let dir = tempfile::tempdir().unwrap();
        let mut store = FieldStore::open_with_clock(
            dir.path().join("field.db"),
            "stats-phone",
            &gridsync_tests::test_key(),
            clock,
        )
        .unwrap();
        store
            .set_identity(&phone.store.identity().unwrap().unwrap())
            .unwrap();
        phone.store = store;
        let mut p = ClockedPhone { phone, _dir: dir };
        p.relogin(server);
        p
    }

    /// A fresh token at the current (moved) time, binding this store's actor.
    fn relogin(&mut self, server: &TestServer) {
        let actor = self.phone.store.actor_id().to_hex_string();
        self.phone.access_token = login(server, "wang.grid", Some(("stats-phone", actor)));
    }

    fn record(&mut self, title: &str, category: Category) -> CaseId {
        let id = self.phone.record(title);
        self.phone
            .store
            .edit(
                id,
                &CaseEdit {
                    category: Some(category),
                    ..CaseEdit::default()
                },
            )
            .unwrap();
        id
    }

    fn sync(&mut self, server: &TestServer) {
        self.relogin(server);
        self.phone.sync().unwrap();
    }
}

struct Center<'a> {
    server: &'a TestServer,
    clock: Arc<ManualClock>,
    seq: u32,
}

impl Center<'_> {
    fn act(&mut self, when: Timestamp, id: CaseId, action: Action, by: &Author) {
        self.clock.set(when);
        self.server
            .block_on(gridsync_server::center::cases::act(
                &self.server.state,
                id,
                &action,
                by,
            ))
            .unwrap();
    }

    fn accept(&mut self, when: Timestamp, id: CaseId) {
        self.seq += 1;
        let today = self.server.state.county_time.date(when);
        let no = gridsync_core::case::format_case_no("330182", today, self.seq);
        self.act(when, id, Action::accept(no), &dispatcher());
    }

    /// Dispatch at `when`, sign for after `sign_hours`, start at once.
    fn dispatch_and_sign(
        &mut self,
        when: Timestamp,
        id: CaseId,
        org: &str,
        tier: Tier,
        sign_hours: i64,
    ) {
        let handler = handler(org);
        self.act(
            when,
            id,
            Action::dispatch_to(OrgRef::new(org, org), tier),
            &dispatcher(),
        );
        let signed = when.plus_millis(sign_hours * H);
        self.act(signed, id, Action::SignFor {}, &handler);
        self.act(signed, id, Action::StartHandling {}, &handler);
    }

    fn resolve(&mut self, when: Timestamp, id: CaseId, org: &str, success: bool) {
        let action = Action::Resolve {
            success,
            outcome: if success {
                "达成协议"
            } else {
                "调解不成, 引导诉讼"
            }
            .into(),
            agreement: None,
        };
        self.act(when, id, action, &handler(org));
    }

    fn follow_up(&mut self, when: Timestamp, id: CaseId, satisfaction: u8) {
        let action = Action::FollowUp(FollowUp {
            satisfaction,
            ..FollowUp::default()
        });
        self.act(when, id, action, &dispatcher());
    }
}

fn dispatcher() -> Author {
    Author::new("u-chen.dispatch", Role::Dispatcher, "330182-center")
}

fn handler(org: &str) -> Author {
    Author::new(format!("u-{org}"), Role::DepartmentHandler, org)
}

const LABOUR: &str = "330182-labour";
const JUDICIAL: &str = "330182101-judicial";

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn assert_close(v: &Value, expected: f64, what: &str) {
    assert!((f(v) - expected).abs() < 1e-9, "{what}: {v} != {expected}");
}

#[test]
fn figures_worked_out_by_hand_with_year_on_year_and_exports() {
    let clock = Arc::new(ManualClock::new(at("2025-03-01", 8)));
    let server = TestServer::start_with_clock(clock.clone());
    let mut phone = ClockedPhone::new(&server, clock.clone());
    let mut center = Center {
        server: &server,
        clock: clock.clone(),
        seq: 0,
    };

    // --- March 2025 (last year): 4 received, 1 resolved successfully → 化解率 1/4.
    // L1 labour: submitted, accepted after 1 h, dispatched, signed, resolved successfully.
    // L2 neighbours: accepted, still open. L3, L4 labour: submitted only.
    clock.set(at("2025-03-05", 9));
    let l1 = phone.record("去年 欠薪 L1", Category::LabourWages);
    phone.phone.store.submit(l1).unwrap();
    clock.set(at("2025-03-10", 9));
    let l2 = phone.record("去年 邻里 L2", Category::Neighbour);
    phone.phone.store.submit(l2).unwrap();
    clock.set(at("2025-03-15", 9));
    let l3 = phone.record("去年 欠薪 L3", Category::LabourWages);
    phone.phone.store.submit(l3).unwrap();
    clock.set(at("2025-03-20", 9));
    let l4 = phone.record("去年 欠薪 L4", Category::LabourWages);
    phone.phone.store.submit(l4).unwrap();
    phone.sync(&server);
    center.accept(at("2025-03-20", 10), l1);
    center.dispatch_and_sign(at("2025-03-20", 11), l1, LABOUR, Tier::County, 1);
    center.resolve(at("2025-03-21", 9), l1, LABOUR, true);
    center.accept(at("2025-03-21", 10), l2);

    // --- March 2026 (this period).
    // C1 labour: submitted 03-02 09:00, accepted 11:00 (2 h), dispatched to the labour
    //    inspectorate (county) 12:00, signed 20:00 (8 h, on time), resolved successfully
    //    03-04 (within the 7-day limit), followed up: satisfaction 5.
    // C2 labour: submitted 03-03 09:00, accepted 03-04 15:00 (30 h), dispatched 16:00,
    //    signed after 42 h (late), resolved UNsuccessfully 03-25 (signed 03-06 + 7 days →
    //    late), followed up: satisfaction 2.
    // C3 neighbours: resolved on the spot by the grid worker 03-05 10:00 (never submitted:
    //    received then; village tier, on time), followed up: satisfaction 4.
    // C4 neighbours: submitted 03-10 09:00, accepted 10:00 (1 h), dispatched to the
    //    township judicial office, signed after 2 h, resolved successfully 03-11.
    // C5 labour: submitted 03-20 09:00, accepted 12:00 (3 h), nothing more.
    // C6 labour: submitted 03-31 23:30 (last day, China time), not accepted.
    // Not counted: a case submitted 04-01 00:30 China time (= 03-31 16:30 UTC), a draft.
    clock.set(at("2026-03-02", 9));
    let c1 = phone.record("欠薪 C1", Category::LabourWages);
    phone.phone.store.submit(c1).unwrap();
    clock.set(at("2026-03-03", 9));
    let c2 = phone.record("欠薪 C2", Category::LabourWages);
    phone.phone.store.submit(c2).unwrap();
    clock.set(at("2026-03-05", 10));
    let c3 = phone.record("邻里 C3", Category::Neighbour);
    phone
        .phone
        .store
        .act(
            c3,
            &Action::ResolveOnSite {
                outcome: "当场说和".into(),
                agreement: None,
            },
        )
        .unwrap();
    clock.set(at("2026-03-10", 9));
    let c4 = phone.record("邻里 C4", Category::Neighbour);
    phone.phone.store.submit(c4).unwrap();
    clock.set(at("2026-03-20", 9));
    let c5 = phone.record("欠薪 C5", Category::LabourWages);
    phone.phone.store.submit(c5).unwrap();
    clock.set(at("2026-03-31", 23).plus_millis(H / 2));
    let c6 = phone.record("欠薪 C6", Category::LabourWages);
    phone.phone.store.submit(c6).unwrap();
    clock.set(at("2026-04-01", 0).plus_millis(H / 2));
    let april = phone.record("四月 欠薪", Category::LabourWages);
    phone.phone.store.submit(april).unwrap();
    phone.record("草稿", Category::LabourWages);
    // The center learns of C1..C4 as they happened: the phone syncs before each step.
    clock.set(at("2026-03-02", 10));
    phone.sync(&server);
    center.accept(at("2026-03-02", 11), c1);
    center.dispatch_and_sign(at("2026-03-02", 12), c1, LABOUR, Tier::County, 8);
    center.resolve(at("2026-03-04", 9), c1, LABOUR, true);
    center.follow_up(at("2026-03-05", 9), c1, 5);
    center.accept(at("2026-03-04", 15), c2);
    center.dispatch_and_sign(at("2026-03-04", 16), c2, LABOUR, Tier::County, 42);
    center.resolve(at("2026-03-25", 9), c2, LABOUR, false);
    center.follow_up(at("2026-03-26", 9), c2, 2);
    center.follow_up(at("2026-03-06", 9), c3, 4);
    center.accept(at("2026-03-10", 10), c4);
    center.dispatch_and_sign(at("2026-03-10", 11), c4, JUDICIAL, Tier::Township, 2);
    center.resolve(at("2026-03-11", 9), c4, JUDICIAL, true);
    center.accept(at("2026-03-20", 12), c5);
    clock.set(at("2026-04-02", 9));

    // Total, by hand:
    // received 6 (C1..C6); accepted 4 (C1 C2 C4 C5); resolved 4 (C1..C4), successfully 3
    // (C1 C3 C4) → 化解率 3/6 = 0.5, 调解成功率 3/4 = 0.75.
    // First response (accepted ones): 2 + 30 + 1 + 3 = 36 h / 4 = 9 h; within 24 h: 3/4.
    // On-time closure: C1, C3, C4 of 4 → 0.75. Sign-for: C1 (8 h), C4 (2 h) on time of 3
    // signed → 2/3. Satisfaction: 5, 2, 4 → 2 of 3 ≥ 4 → 2/3.
    // Tiers of the 4 resolved: C3 village, C4 township, C1 C2 county → 1/4, 1/4, 2/4.
    // Last year: received 4, 1 successful → 0.25. 同比: received (6 − 4)/4 = +0.5;
    // 化解率 (0.5 − 0.25)/0.25 = +1.0.
    let (status, r) = get_json(
        &server,
        "chen.dispatch",
        "/v1/stats?from=2026-03-01&to=2026-03-31&group_by=category",
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["last_year_from"], "2025-03-01");
    let t = &r["total"]["current"];
    assert_eq!(t["received"], 6, "{t}");
    assert_eq!(t["accepted"], 4);
    assert_eq!(t["resolved"], 4);
    assert_eq!(t["resolved_successfully"], 3);
    assert_close(&t["resolution_rate"], 0.5, "化解率");
    assert_close(&t["mediation_success_rate"], 0.75, "调解成功率");
    assert_close(&t["first_response_avg_hours"], 9.0, "first response");
    assert_close(&t["first_response_within_24h_rate"], 0.75, "within 24 h");
    assert_close(&t["on_time_closure_rate"], 0.75, "按期办结率");
    assert_eq!(
        (t["signed"].clone(), t["signed_on_time"].clone()),
        (3.into(), 2.into())
    );
    assert_close(&t["on_time_sign_rate"], 2.0 / 3.0, "签收及时率");
    assert_close(&t["satisfaction_rate"], 2.0 / 3.0, "满意率");
    assert_close(&t["village_share"], 0.25, "village");
    assert_close(&t["township_share"], 0.25, "township");
    assert_close(&t["county_share"], 0.5, "county");
    let last = &r["total"]["last_year"];
    assert_eq!(last["received"], 4);
    assert_close(&last["resolution_rate"], 0.25, "last year's 化解率");
    let yoy = &r["total"]["year_on_year"];
    assert_close(&yoy["received_change"], 0.5, "received yoy");
    assert_close(&yoy["resolution_rate_change"], 1.0, "化解率 yoy");

    // By category, by hand:
    // LABOUR_WAGES: C1 C2 C5 C6 → 4 received, 1 successful → 0.25; last year L1 L3 L4 →
    //   3, 1 successful → 1/3; 同比 received (4 − 3)/3 = 1/3, 化解率 (0.25 − 1/3)/(1/3) = −0.25.
    // NEIGHBOUR: C3 C4 → 2 received, 2 successful → 1.0; last year L2 → 1, none → 0;
    //   同比 received +1.0, 化解率 change null (last year's rate is 0).
    let groups = r["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    let (labour, neighbour) = (&groups[0], &groups[1]);
    assert_eq!(labour["key"], "LABOUR_WAGES");
    assert_eq!(labour["label"], "劳资纠纷(欠薪)");
    assert_eq!(labour["current"]["received"], 4);
    assert_close(&labour["current"]["resolution_rate"], 0.25, "labour 化解率");
    assert_eq!(labour["last_year"]["received"], 3);
    assert_close(
        &labour["year_on_year"]["received_change"],
        1.0 / 3.0,
        "labour yoy",
    );
    assert_close(
        &labour["year_on_year"]["resolution_rate_change"],
        -0.25,
        "labour 化解率 yoy",
    );
    assert_eq!(neighbour["key"], "NEIGHBOUR");
    assert_eq!(neighbour["current"]["received"], 2);
    assert_close(
        &neighbour["current"]["resolution_rate"],
        1.0,
        "neighbour 化解率",
    );
    assert_close(
        &neighbour["last_year"]["resolution_rate"],
        0.0,
        "neighbour last",
    );
    assert!(neighbour["year_on_year"]["resolution_rate_change"].is_null());

    // By month: March 2026 only (April's case is outside the period).
    let (_, m) = get_json(
        &server,
        "chen.dispatch",
        "/v1/stats?from=2026-03-01&to=2026-03-31&group_by=month",
    );
    let months: Vec<&str> = m["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(months, ["2026-03"]);
    assert_eq!(m["groups"][0]["last_year"]["received"], 4);

    // A department without an area scope counts only what was dispatched to it: C1, C2
    // (1 of 2 successful → 0.5); last year L1.
    let (_, d) = get_json(
        &server,
        "liu.labour",
        "/v1/stats?from=2026-03-01&to=2026-03-31",
    );
    assert_eq!(d["total"]["current"]["received"], 2, "{d}");
    assert_close(&d["total"]["current"]["resolution_rate"], 0.5, "department");
    assert_eq!(d["total"]["last_year"]["received"], 1);

    // An empty period: zero counts, null rates.
    let (_, e) = get_json(
        &server,
        "chen.dispatch",
        "/v1/stats?from=2020-01-01&to=2020-01-31",
    );
    assert_eq!(e["total"]["current"]["received"], 0);
    assert!(e["total"]["current"]["resolution_rate"].is_null());

    // Refusals with stable codes.
    let (s, v) = get_json(&server, "wang.grid", "/v1/stats");
    assert_eq!((s, v["code"].as_str()), (403, Some("not_permitted")));
    let (s, _) = get_json(&server, "wang.grid", "/v1/cases.csv");
    assert_eq!(s, 403);
    let (s, v) = get_json(&server, "sun.town", "/v1/stats?area=330182102");
    assert_eq!((s, v["code"].as_str()), (403, Some("area_out_of_scope")));
    let (s, v) = get_json(&server, "chen.dispatch", "/v1/stats?from=2026-3-1");
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_date")));
    let (s, v) = get_json(&server, "chen.dispatch", "/v1/stats?group_by=colour");
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_group_by")));

    // CSV exports.
    let token = login(&server, "chen.dispatch", None);
    let q = "from=2026-03-01&to=2026-03-31";
    let (s, csv) = get(
        &server,
        &token,
        &format!("/v1/stats.csv?{q}&group_by=category"),
    );
    assert_eq!(s, 200);
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("group 分组,label 名称,received 受理数,"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("resolution_rate 化解率"));
    assert_eq!(lines.len(), 4, "header, two categories, total: {csv}");
    assert!(
        lines[1].starts_with("LABOUR_WAGES,劳资纠纷(欠薪),4,"),
        "{}",
        lines[1]
    );
    let total: Vec<&str> = lines[3].split(',').collect();
    assert_eq!(&total[..6], ["TOTAL", "合计", "6", "4", "4", "3"]);
    assert_eq!(total[8], "0.5000", "化解率 in the CSV");

    let (s, csv) = get(&server, &token, &format!("/v1/cases.csv?{q}"));
    assert_eq!(s, 200);
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(lines[0].starts_with("case_no 案件编号,title 事件名称,status 状态,category 事件类别"));
    assert_eq!(lines.len(), 7, "header and six cases: {csv}");
    assert!(csv.contains("张**"), "party names masked: {csv}");
    assert!(!csv.contains("张建国") && !csv.contains("13812345678"));
    let c1_row = lines.iter().find(|l| l.contains("欠薪 C1")).unwrap();
    assert!(c1_row.contains(",劳资纠纷(欠薪),"), "{c1_row}");
    assert!(
        c1_row.ends_with(",2026-03-02,2026-03-02,2026-03-04"),
        "{c1_row}"
    );

    let (s, csv) = get(&server, &token, &format!("/v1/export/gbt31000.csv?{q}"));
    assert_eq!(s, 200);
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    for col in [
        "事件名称",
        "发生地点",
        "事件类别",
        "化解方式",
        "化解组织",
        "化解是否成功",
        "化解时限",
    ] {
        assert!(lines[0].contains(col), "{col} in {}", lines[0]);
    }
    assert_eq!(lines.len(), 7, "{csv}");
    assert!(!csv.contains("张建国") && !csv.contains("330182198805061234"));
    assert!(
        csv.contains("330182********1234"),
        "ID numbers masked: {csv}"
    );
    let c1_row = lines.iter().find(|l| l.contains("欠薪 C1")).unwrap();
    assert!(
        c1_row.contains(",06,劳资纠纷,"),
        "internal category code: {c1_row}"
    );
    assert!(
        c1_row.contains(",行政调解,县人社局劳动保障监察大队,1,"),
        "{c1_row}"
    );
    let c2_row = lines.iter().find(|l| l.contains("欠薪 C2")).unwrap();
    assert!(c2_row.contains(",0,"), "{c2_row}");
}

/// An agreement with installments `(id, due, paid)`.
fn agreement(installments: &[(&str, Timestamp)]) -> Agreement {
    Agreement {
        terms: "分期支付".into(),
        installments: installments
            .iter()
            .map(|(id, due)| Installment {
                id: (*id).into(),
                due_at: *due,
                amount: 10_000,
                paid_at: None,
            })
            .collect(),
        ..Agreement::default()
    }
}

/// Workbook cells as text (numbers in Rust's shortest form).
fn sheet(book: &mut calamine::Xlsx<std::io::Cursor<Vec<u8>>>, name: &str) -> Vec<Vec<String>> {
    use calamine::Reader;
    let range = book.worksheet_range(name).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r.first().is_some_and(|c| c == first))
        .unwrap_or_else(|| panic!("no row {first} in {rows:?}"))
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// Issue 13 item 9: 调处 and its success, joint cases, 协议履行率, days per step and 环比 on
/// a small county worked out by hand, across the February/March boundary; the monthly
/// workbook read back; who may have it.
#[test]
fn mediation_joint_cases_agreements_steps_and_month_on_month() {
    let clock = Arc::new(ManualClock::new(at("2026-02-01", 8)));
    let server = TestServer::start_with_clock(clock.clone());
    let mut phone = ClockedPhone::new(&server, clock.clone());
    let mut center = Center {
        server: &server,
        clock: clock.clone(),
        seq: 0,
    };

    // February: P1 submitted 02-10, accepted; P2 submitted 02-28 23:30 (the month's last
    // half hour), resolved successfully in March. 2 received, 1 successful → 化解率 0.5.
    clock.set(at("2026-02-10", 9));
    let p1 = phone.record("二月 P1", Category::LabourWages);
    phone.phone.store.submit(p1).unwrap();
    clock.set(at("2026-02-28", 23).plus_millis(H / 2));
    let p2 = phone.record("二月 P2", Category::Neighbour);
    phone.phone.store.submit(p2).unwrap();
    // March (hours are China time):
    // M1 labour: submitted 03-02 09, accepted 11 (2 h), dispatched 12 to the labour
    //    inspectorate AND the judicial office (joint, county tier), signed by labour 03-03
    //    12 (24 h), resolved successfully 03-05 12 (48 h) with an agreement of one
    //    installment due 03-20, paid 03-18; followed up 03-06 12 (24 h).
    // M2 neighbours: submitted 03-03 09, accepted 10 (1 h), dispatched 10 (0 h) to the
    //    township judicial office, signed 22 (12 h), resolved successfully 03-04 22 (24 h)
    //    with an agreement without installments; followed up 03-05 22 (24 h): the
    //    agreement was NOT performed.
    // M3 labour: submitted 03-10 09, accepted 12 (3 h), dispatched 03-11 12 (24 h), signed
    //    18 (6 h), handling: no outcome.
    // M4 neighbours: resolved on the spot 03-15 10 (received then), agreement with an
    //    installment due 05-01 (not yet due).
    // M5 labour: submitted 03-31 23:30, nothing more.
    // Not in March: a case submitted 04-01 00:30, a draft.
    clock.set(at("2026-03-02", 9));
    let m1 = phone.record("三月 M1", Category::LabourWages);
    phone.phone.store.submit(m1).unwrap();
    clock.set(at("2026-03-03", 9));
    let m2 = phone.record("三月 M2", Category::Neighbour);
    phone.phone.store.submit(m2).unwrap();
    clock.set(at("2026-03-10", 9));
    let m3 = phone.record("三月 M3", Category::LabourWages);
    phone.phone.store.submit(m3).unwrap();
    clock.set(at("2026-03-15", 10));
    let m4 = phone.record("三月 M4", Category::Neighbour);
    phone
        .phone
        .store
        .act(
            m4,
            &Action::ResolveOnSite {
                outcome: "当场说和".into(),
                agreement: Some(agreement(&[("m4-1", at("2026-05-01", 0))])),
            },
        )
        .unwrap();
    clock.set(at("2026-03-31", 23).plus_millis(H / 2));
    let m5 = phone.record("三月 M5", Category::LabourWages);
    phone.phone.store.submit(m5).unwrap();
    clock.set(at("2026-04-01", 0).plus_millis(H / 2));
    let april = phone.record("四月", Category::LabourWages);
    phone.phone.store.submit(april).unwrap();
    phone.record("草稿", Category::LabourWages);
    clock.set(at("2026-02-10", 9).plus_millis(H / 2));
    phone.sync(&server);

    center.accept(at("2026-02-10", 10), p1);
    center.accept(at("2026-03-01", 9), p2);
    center.dispatch_and_sign(at("2026-03-01", 10), p2, JUDICIAL, Tier::Township, 1);
    center.resolve(at("2026-03-01", 12), p2, JUDICIAL, true);

    center.accept(at("2026-03-02", 11), m1);
    let joint = Action::Dispatch {
        to: vec![OrgRef::new(LABOUR, LABOUR), OrgRef::new(JUDICIAL, JUDICIAL)],
        assignee: None,
        tier: Tier::County,
        note: String::new(),
        auto: false,
    };
    center.act(at("2026-03-02", 12), m1, joint, &dispatcher());
    center.act(
        at("2026-03-03", 12),
        m1,
        Action::SignFor {},
        &handler(LABOUR),
    );
    center.act(
        at("2026-03-03", 12),
        m1,
        Action::StartHandling {},
        &handler(LABOUR),
    );
    let resolve = |agreement| Action::Resolve {
        success: true,
        outcome: "达成协议".into(),
        agreement: Some(agreement),
    };
    center.act(
        at("2026-03-05", 12),
        m1,
        resolve(agreement(&[("m1-1", at("2026-03-20", 0))])),
        &handler(LABOUR),
    );
    clock.set(at("2026-03-18", 9));
    server
        .block_on(gridsync_server::center::cases::edit(
            &server.state,
            m1,
            |doc, now| Ok(doc.mark_installment_paid("m1-1", now, now)?),
        ))
        .unwrap();
    center.follow_up(at("2026-03-06", 12), m1, 5);

    center.accept(at("2026-03-03", 10), m2);
    center.dispatch_and_sign(at("2026-03-03", 10), m2, JUDICIAL, Tier::Township, 12);
    center.act(
        at("2026-03-04", 22),
        m2,
        resolve(agreement(&[])),
        &handler(JUDICIAL),
    );
    let not_performed = Action::FollowUp(FollowUp {
        satisfaction: 2,
        agreement_performed: Some(false),
        ..FollowUp::default()
    });
    center.act(at("2026-03-05", 22), m2, not_performed, &dispatcher());

    center.accept(at("2026-03-10", 12), m3);
    center.dispatch_and_sign(at("2026-03-11", 12), m3, LABOUR, Tier::County, 6);
    clock.set(at("2026-04-02", 9));

    // By hand, March: received 5 (M1..M5); resolved 3 (M1 M2 M4), all successfully →
    // 化解率 3/5, 调解成功率 (over resolved) 3/3. 调处 (handling started or on the spot):
    // M1 M2 M3 M4 → 4, 调处率 4/5, 调处成功率 3/4. Joint: M1, successful. Agreements: M1
    // M2 M4; due: M1 (installment due 03-20) and M2 (answered at the follow-up); performed:
    // M1 (paid) → 协议履行率 1/2. Tiers: M1 county, M2 township, M4 village.
    // Days per step: accept (2 + 1 + 3) h / 3; dispatch (1 + 0 + 24) h / 3; sign
    // (24 + 12 + 6) h / 3; handle (48 + 24) h / 2; follow-up (24 + 24) h / 2; overall
    // (75 + 37 + 0) h / 3. 环比 against February: received (5 − 2) / 2 = 1.5, 化解率
    // (0.6 − 0.5) / 0.5 = 0.2.
    let (status, r) = get_json(
        &server,
        "chen.dispatch",
        "/v1/stats?from=2026-03-01&to=2026-03-31",
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (&r["previous_from"], &r["previous_to"]),
        (&"2026-02-01".into(), &"2026-02-28".into())
    );
    assert_eq!(r["time_zone"], "Asia/Shanghai");
    let t = &r["total"]["current"];
    assert_eq!(
        (t["received"].as_u64(), t["resolved"].as_u64()),
        (Some(5), Some(3)),
        "{t}"
    );
    assert_close(&t["resolution_rate"], 0.6, "化解率");
    assert_close(&t["mediation_success_rate"], 1.0, "调解成功率");
    for (share, v) in [
        ("village_share", 1.0 / 3.0),
        ("township_share", 1.0 / 3.0),
        ("county_share", 1.0 / 3.0),
    ] {
        assert_close(&t[share], v, share);
    }
    let h = &t["handling"];
    assert_eq!(h["mediated"], 4, "{h}");
    assert_close(&h["mediation_rate"], 0.8, "调处率");
    assert_eq!(h["mediated_successfully"], 3);
    assert_close(&h["mediated_success_rate"], 0.75, "调处成功率");
    assert_eq!(
        (
            h["joint"].as_u64(),
            h["joint_resolved_successfully"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            &h["agreements"],
            &h["agreements_due"],
            &h["agreements_performed"]
        ),
        (&3.into(), &2.into(), &1.into())
    );
    assert_close(&h["agreement_performance_rate"], 0.5, "协议履行率");
    let steps = &h["step_days"];
    for (step, cases, hours) in [
        ("accept", 3, 6.0 / 3.0),
        ("dispatch", 3, 25.0 / 3.0),
        ("sign", 3, 42.0 / 3.0),
        ("handle", 2, 72.0 / 2.0),
        ("follow_up", 2, 48.0 / 2.0),
        ("overall", 3, 112.0 / 3.0),
    ] {
        assert_eq!(steps[step]["cases"], cases, "{step}: {steps}");
        assert_close(&steps[step]["avg_days"], hours / 24.0, step);
    }
    let prev = &r["total"]["previous_period"];
    assert_eq!(prev["received"], 2);
    assert_close(&prev["resolution_rate"], 0.5, "February's 化解率");
    assert!(
        prev["handling"].is_null(),
        "the comparison reads no workflow log"
    );
    let mom = &r["total"]["period_on_period"];
    assert_close(&mom["received_change"], 1.5, "受理数环比");
    assert_close(&mom["resolution_rate_change"], 0.2, "化解率环比");
    assert!(
        r["total"]["year_on_year"]["received_change"].is_null(),
        "no March 2025"
    );

    // By month over February and March: March's base is February, February's January.
    let (_, m) = get_json(
        &server,
        "chen.dispatch",
        "/v1/stats?from=2026-02-01&to=2026-03-31&group_by=month",
    );
    let g = m["groups"].as_array().unwrap();
    assert_eq!(
        (g.len(), &g[0]["key"], &g[1]["key"]),
        (2, &"2026-02".into(), &"2026-03".into())
    );
    assert_eq!(
        (&g[0]["current"]["received"], &g[1]["current"]["received"]),
        (&2.into(), &5.into())
    );
    assert_eq!(g[1]["previous_period"]["received"], 2);
    assert_close(
        &g[1]["period_on_period"]["received_change"],
        1.5,
        "March on February",
    );
    assert!(
        g[0]["period_on_period"]["received_change"].is_null(),
        "January had none"
    );
    assert_eq!(
        m["previous_from"], "2025-12-01",
        "two months before two months"
    );

    // The monthly workbook: March by default on 2 April.
    let token = login(&server, "chen.dispatch", None);
    let mut resp = gridsync_tests::agent()
        .get(&server.url("/v1/stats/monthly.xlsx"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let disposition = resp
        .headers()
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("monthly-2026-03.xlsx"),
        "{disposition}"
    );
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(10 << 20)
        .read_to_vec()
        .unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::Reader::new(std::io::Cursor::new(bytes)).expect("an xlsx workbook");
    assert_eq!(
        calamine::Reader::sheet_names(&book),
        ["汇总", "按类别", "按区域", "按来源", "层级分布", "环节用时"]
    );
    let summary = sheet(&mut book, "汇总");
    assert_eq!(
        summary[0],
        ["指标", "本期", "上期", "环比", "去年同期", "同比"]
    );
    let received = row(&summary, "受理数");
    assert_eq!(
        (num(&received[1]), num(&received[2]), num(&received[3])),
        (5.0, 2.0, 1.5)
    );
    assert_eq!(received[5], "", "no March 2025: no 同比");
    assert!((num(&row(&summary, "化解率")[1]) - 0.6).abs() < 1e-9);
    assert!((num(&row(&summary, "协议履行率")[1]) - 0.5).abs() < 1e-9);
    assert_eq!(num(&row(&summary, "联合调处数")[1]), 1.0);
    assert!((num(&row(&summary, "调处成功率")[1]) - 0.75).abs() < 1e-9);
    let by_category = sheet(&mut book, "按类别");
    assert_eq!(
        &by_category[0][..4],
        ["类别代码", "类别", "受理数", "已受理数"]
    );
    assert!(by_category[0].contains(&"协议履行率".to_owned()));
    let labour = row(&by_category, "LABOUR_WAGES");
    assert_eq!(
        (labour[1].as_str(), num(&labour[2])),
        ("劳资纠纷(欠薪)", 3.0)
    );
    assert_eq!(num(&row(&by_category, "TOTAL")[2]), 5.0);
    let tiers = sheet(&mut book, "层级分布");
    assert_eq!(tiers[0], ["层级", "办结数", "占比"]);
    assert_eq!(num(&row(&tiers, "县级")[1]), 1.0);
    let steps = sheet(&mut book, "环节用时");
    assert_eq!(steps[0], ["环节", "案件数", "平均天数"]);
    let handle = row(&steps, "办理(签收→办结)");
    assert_eq!((num(&handle[1]), num(&handle[2])), (2.0, 1.5));

    // Audited as an export, like the CSVs.
    let (s, log) = get_json(&server, "wu.super", "/v1/audit?limit=1000");
    assert_eq!(s, 200);
    let exported: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "EXPORT" && e["detail"]["export"] == "monthly.xlsx")
        .collect();
    assert_eq!(exported.len(), 1, "{log}");
    assert_eq!(exported[0]["detail"]["from"], "2026-03-01");

    // Scope: the labour inspectorate (no area) sees what was dispatched to it: M1, M3.
    let token = login(&server, "liu.labour", None);
    let mut resp = gridsync_tests::agent()
        .get(&server.url("/v1/stats/monthly.xlsx?month=2026-03"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(10 << 20)
        .read_to_vec()
        .unwrap();
    let mut book: calamine::Xlsx<_> = calamine::Reader::new(std::io::Cursor::new(bytes)).unwrap();
    let summary = sheet(&mut book, "汇总");
    assert_eq!(num(&row(&summary, "受理数")[1]), 2.0, "{summary:?}");
    assert_eq!(num(&row(&summary, "联合调处数")[1]), 1.0);
    // Refusals: no export permission, an area outside the scope, a bad month.
    let (s, v) = get_json(&server, "wang.grid", "/v1/stats/monthly.xlsx");
    assert_eq!((s, v["code"].as_str()), (403, Some("not_permitted")));
    let (s, v) = get_json(&server, "sun.town", "/v1/stats/monthly.xlsx?area=330182102");
    assert_eq!((s, v["code"].as_str()), (403, Some("area_out_of_scope")));
    let (s, v) = get_json(
        &server,
        "chen.dispatch",
        "/v1/stats/monthly.xlsx?month=2026-3",
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_month")));
}

/// Issue 13 item 8: a county in another time zone numbers its cases with its own date and
/// counts statistics by its own days; an unknown zone stops the start.
#[test]
fn the_county_time_zone_numbers_cases_and_bounds_days() {
    let new_york = CountyTime::parse("America/New_York").unwrap();
    let ny = |date: &str, hour: i64, minutes: i64| {
        at_in(&new_york, date, hour).plus_millis(minutes * 60_000)
    };
    let clock = Arc::new(ManualClock::new(ny("2026-03-10", 8, 0)));
    let server = TestServer::start_in_zone(clock.clone(), "America/New_York");
    assert_eq!(server.state.county_time.name(), "America/New_York");
    let mut phone = ClockedPhone::new(&server, clock.clone());
    // A: submitted 03-10 23:30 New York (03-11 in UTC and in China), accepted 23:45.
    // B: submitted 03-11 00:30 New York. C: submitted 03-31 22:00 New York (April in UTC).
    clock.set(ny("2026-03-10", 23, 30));
    let a = phone.record("纽约 A", Category::LabourWages);
    phone.phone.store.submit(a).unwrap();
    clock.set(ny("2026-03-11", 0, 30));
    let b = phone.record("纽约 B", Category::LabourWages);
    phone.phone.store.submit(b).unwrap();
    clock.set(ny("2026-03-31", 22, 0));
    let c = phone.record("纽约 C", Category::LabourWages);
    phone.phone.store.submit(c).unwrap();
    clock.set(ny("2026-03-10", 23, 40));
    phone.sync(&server);
    clock.set(ny("2026-03-10", 23, 45));
    let token = login(&server, "chen.dispatch", None);
    let accepted: Value = gridsync_tests::agent()
        .post(&server.url(&format!("/v1/cases/{a}/actions")))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(serde_json::json!({ "kind": "ACCEPT", "payload": {} }))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let case_no = accepted["case"]["state"]["case_no"].as_str().unwrap();
    assert!(case_no.contains("-20260310-"), "New York's date: {case_no}");

    clock.set(ny("2026-04-02", 9, 0));
    let count = |q: &str| {
        let (s, r) = get_json(&server, "chen.dispatch", &format!("/v1/stats?{q}"));
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["time_zone"], "America/New_York");
        r
    };
    assert_eq!(
        count("from=2026-03-10&to=2026-03-10")["total"]["current"]["received"],
        1
    );
    assert_eq!(
        count("from=2026-03-11&to=2026-03-11")["total"]["current"]["received"],
        1
    );
    let march = count("from=2026-03-01&to=2026-03-31&group_by=month");
    assert_eq!(
        march["total"]["current"]["received"], 3,
        "C is March's in New York"
    );
    let keys: Vec<&str> = march["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["2026-03"]);
    // The case list prints New York dates.
    let token = login(&server, "chen.dispatch", None);
    let (s, csv) = get(
        &server,
        &token,
        "/v1/cases.csv?from=2026-03-01&to=2026-03-31",
    );
    assert_eq!(s, 200);
    let a_row = csv.lines().find(|l| l.contains("纽约 A")).unwrap();
    assert!(a_row.ends_with(",2026-03-10,2026-03-10,"), "{a_row}");
    drop(server);

    // An unknown zone is refused before anything starts.
    let rt = gridsync_tests::runtime();
    let db = gridsync_tests::TestDb::new(&rt);
    let config = gridsync_server::Config {
        database_url: db.url.clone(),
        jwt_secret: Some("test-secret-0123456789".into()),
        demo: true,
        scan_every: None,
        time_zone: "Mars/Olympus_Mons".into(),
        require_signatures: false,
    };
    let e = rt
        .block_on(gridsync_server::open(
            &config,
            Arc::new(ManualClock::new(Timestamp(0))),
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown time zone \"Mars/Olympus_Mons\""), "{e}");
}
