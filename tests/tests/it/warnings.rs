//! Time limits and warnings with an injected clock (no sleeping): the sign-for ladder with
//! automatic supervision, the 3/7/15-day handling limits, limits configured per tier and
//! category, high-risk alerts the moment a case syncs, and the live feed.

use std::sync::Arc;
use std::time::Duration;

use gridsync_core::case::{CaseEdit, CaseId, Difficulty, RiskLevel, Timestamp};
use gridsync_core::clock::ManualClock;
use gridsync_core::workflow::{Action, Author, OrgRef, Role, Status, SupervisionLevel, Tier};
use gridsync_tests::{Phone, Staff, TestServer};

const H: i64 = 3_600_000;
const T0: Timestamp = Timestamp(1_795_000_000_000);

fn center() -> Author {
    Author::new("u-chen.dispatch", Role::Dispatcher, "330182-center")
}

fn labour() -> Author {
    Author::new("u-liu.labour", Role::DepartmentHandler, "330182-labour")
}

/// A submitted case of `wang.grid`, accepted and dispatched to labour inspection at T0.
fn dispatched_case(server: &TestServer, clock: &ManualClock, difficulty: Difficulty) -> CaseId {
    let mut phone = Phone::login(&server.base_url(), "wang.grid", &format!("w-{}", uuid()));
    let id = phone.record("欠薪");
    phone
        .store
        .edit(
            id,
            &CaseEdit {
                difficulty: Some(difficulty),
                ..Default::default()
            },
        )
        .unwrap();
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    clock.set(T0);
    let st = &server.state;
    let no = server
        .block_on(gridsync_server::center::cases::next_case_no(
            st, "330182", T0,
        ))
        .unwrap();
    server
        .block_on(gridsync_server::center::cases::act(
            st,
            id,
            &Action::accept(no),
            &center(),
        ))
        .unwrap();
    let to = OrgRef::new("330182-labour", "劳动监察大队");
    server
        .block_on(gridsync_server::center::cases::act(
            st,
            id,
            &Action::dispatch_to(to, Tier::County),
            &center(),
        ))
        .unwrap();
    id
}

fn uuid() -> String {
    CaseId::new_random().to_string()[..8].to_owned()
}

/// The open warning of a kind on a case, as the warnings table holds it after a scan.
fn scan_level(
    server: &TestServer,
    clock: &ManualClock,
    at: Timestamp,
    id: CaseId,
    kind: &str,
) -> Option<String> {
    clock.set(at);
    server
        .block_on(gridsync_server::center::warnings::scan_once(&server.state))
        .unwrap();
    server.block_on(async {
        sqlx::query_scalar::<_, String>(
            "SELECT level FROM warnings WHERE case_id = $1 AND kind = $2 AND cleared_at IS NULL",
        )
        .bind(id.to_string())
        .bind(kind)
        .fetch_optional(&server.state.db.pool())
        .await
        .unwrap()
    })
}

#[test]
fn an_unsigned_dispatch_warns_at_70_percent_and_is_supervised_at_100() {
    let clock = Arc::new(ManualClock::new(T0));
    let server = TestServer::start_with_clock(clock.clone());
    let id = dispatched_case(&server, &clock, Difficulty::General);
    let sign = |h_tenths: i64| {
        scan_level(
            &server,
            &clock,
            T0.plus_millis(h_tenths * H / 10),
            id,
            "SIGN",
        )
    };
    // Sign-for limit 24 h: 70 % is 16.8 h.
    assert_eq!(sign(167), None, "16.7 h: below 70 %");
    assert_eq!(sign(168).as_deref(), Some("YELLOW"), "16.8 h = 70 %");
    assert_eq!(
        sign(230).as_deref(),
        Some("YELLOW"),
        "23 h: still yellow, not yet red"
    );
    let center_doc = |server: &TestServer| {
        server
            .block_on(gridsync_server::center::cases::load(&server.state, id))
            .unwrap()
            .unwrap()
    };
    assert_eq!(
        center_doc(&server)
            .state(&server.state.limits, clock_now(&clock))
            .supervision,
        SupervisionLevel::None
    );
    assert_eq!(sign(240).as_deref(), Some("RED"), "24 h = 100 %");
    let state = center_doc(&server).state(&server.state.limits, clock_now(&clock));
    assert_eq!(
        state.supervision,
        SupervisionLevel::Normal,
        "automatic supervision at 100 %"
    );
    let last = state.timeline.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.by_role.as_str()),
        ("SUPERVISE", "SYSTEM")
    );
    // Scanning again supervises once only.
    assert_eq!(sign(250).as_deref(), Some("RED"));
    assert_eq!(
        center_doc(&server)
            .events()
            .iter()
            .filter(|e| e.kind == "SUPERVISE")
            .count(),
        1
    );

    // Signed for: the sign warning clears, the handling clock (7 days, general) runs.
    server
        .block_on(gridsync_server::center::cases::act(
            &server.state,
            id,
            &Action::SignFor {},
            &labour(),
        ))
        .unwrap();
    assert_eq!(sign(260), None, "cleared once signed");
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    gridsync_core::clock::Clock::now(clock)
}

#[test]
fn handling_limits_follow_the_difficulty_3_7_15_days() {
    let clock = Arc::new(ManualClock::new(T0));
    let server = TestServer::start_with_clock(clock.clone());
    for (difficulty, days) in [
        (Difficulty::Simple, 3),
        (Difficulty::General, 7),
        (Difficulty::Complex, 15),
    ] {
        let id = dispatched_case(&server, &clock, difficulty);
        let signed = T0.plus_millis(H);
        clock.set(signed);
        server
            .block_on(gridsync_server::center::cases::act(
                &server.state,
                id,
                &Action::SignFor {},
                &labour(),
            ))
            .unwrap();
        let limit = days * 24 * H;
        let at = |percent: i64| signed.plus_millis(limit * percent / 100);
        assert_eq!(
            scan_level(&server, &clock, at(69), id, "HANDLE"),
            None,
            "{days} d at 69 %"
        );
        assert_eq!(
            scan_level(&server, &clock, at(70), id, "HANDLE").as_deref(),
            Some("YELLOW"),
            "{days} d at 70 %"
        );
        assert_eq!(
            scan_level(&server, &clock, at(100), id, "HANDLE").as_deref(),
            Some("RED"),
            "{days} d at 100 %"
        );
    }
}

#[test]
fn limits_configured_per_tier_and_category_travel_to_the_phone() {
    let clock = Arc::new(ManualClock::new(T0));
    let server = TestServer::start_with_clock(clock.clone());
    // The county's rule for wage arrears handled at county level: sign within 12 hours.
    let rule = gridsync_server::center::limits::TimeLimitRule {
        id: "county-wages".into(),
        tier: Some("COUNTY".into()),
        category: Some("LABOUR_WAGES".into()),
        area_prefix: None,
        limits: gridsync_core::workflow::TimeLimits {
            sign: 12 * H,
            // Yellow at half time, not the default 70 %.
            yellow_percent: 50,
            ..Default::default()
        },
    };
    server
        .block_on(gridsync_server::center::limits::put_limit_rule(
            &server.state.db,
            &rule,
            T0.0,
        ))
        .unwrap();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "limits-phone");
    let id = phone.record("欠薪");
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    clock.set(T0);
    let st = &server.state;
    server
        .block_on(gridsync_server::center::cases::act(
            st,
            id,
            &Action::accept("330182-20261118-000001"),
            &center(),
        ))
        .unwrap();
    let to = OrgRef::new("330182-labour", "劳动监察大队");
    server
        .block_on(gridsync_server::center::cases::act(
            st,
            id,
            &Action::dispatch_to(to, Tier::County),
            &center(),
        ))
        .unwrap();
    phone.sync().unwrap();
    let view = phone.store.case(id).unwrap();
    assert_eq!(view.state.status, Status::Dispatched);
    let sign = view
        .state
        .deadlines
        .iter()
        .find(|d| d.kind == gridsync_core::workflow::DeadlineKind::Sign)
        .unwrap();
    assert_eq!(
        sign.due_at.0 - sign.started_at.0,
        12 * H,
        "the phone derives the county's 12-hour limit"
    );
    // The center's scan warns at the rule's threshold, as the case's own state does.
    assert_eq!(
        scan_level(&server, &clock, T0.plus_millis(6 * H - 60_000), id, "SIGN"),
        None
    );
    assert_eq!(
        scan_level(&server, &clock, T0.plus_millis(6 * H), id, "SIGN").as_deref(),
        Some("YELLOW"),
        "the rule's 50 %"
    );
    // At 12 h the center's scan is red too: one source of truth.
    assert_eq!(
        scan_level(&server, &clock, T0.plus_millis(12 * H), id, "SIGN").as_deref(),
        Some("RED")
    );
}

#[test]
fn a_high_risk_case_alerts_the_centers_the_moment_it_syncs() {
    let server = TestServer::start();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let token = |user: &str| Staff::login(&server, user).token;
    // The county dispatcher subscribes to the live feed.
    let rx = subscribe(&server, "chen.dispatch");

    let mut phone = Phone::login(&server.base_url(), "wang.grid", "red-phone");
    let id = phone.record("扬言报复的邻里纠纷");
    phone
        .store
        .edit(
            id,
            &CaseEdit {
                risk_level: Some(RiskLevel::Red),
                ..Default::default()
            },
        )
        .unwrap();
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();

    // Listed at once (no scan has run) for the county and for the township center.
    for user in ["chen.dispatch", "sun.town"] {
        let t = token(user);
        let mut r = agent
            .get(&server.url("/v1/warnings?kind=HIGH_RISK"))
            .header("Authorization", &format!("Bearer {t}"))
            .call()
            .unwrap();
        let v: serde_json::Value = r.body_mut().read_json().unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1, "{user}: {v}");
        assert_eq!(v[0]["case_id"], id.to_string());
    }
    // A department that has nothing to do with it does not see it; a grid worker may not look.
    let t = token("liu.labour");
    let mut r = agent
        .get(&server.url("/v1/warnings"))
        .header("Authorization", &format!("Bearer {t}"))
        .call()
        .unwrap();
    assert_eq!(
        r.body_mut()
            .read_json::<serde_json::Value>()
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let t = token("wang.grid");
    assert_eq!(
        agent
            .get(&server.url("/v1/warnings"))
            .header("Authorization", &format!("Bearer {t}"))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        403
    );

    // And it arrived on the live feed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line.clone());
            if line.starts_with("data:") && line.contains(&id.to_string()) {
                assert!(seen.iter().any(|l| l == "event: high_risk"), "{seen:?}");
                return;
            }
        }
    }
    panic!("no high_risk event on the live feed: {seen:?}");
}

#[test]
fn an_installment_falling_due_warns_beside_the_follow_up() {
    let clock = Arc::new(ManualClock::new(T0));
    let server = TestServer::start_with_clock(clock.clone());
    let id = dispatched_case(&server, &clock, Difficulty::General);
    let st = &server.state;
    server
        .block_on(gridsync_server::center::cases::act(
            st,
            id,
            &Action::SignFor {},
            &labour(),
        ))
        .unwrap();
    server
        .block_on(gridsync_server::center::cases::act(
            st,
            id,
            &Action::StartHandling {},
            &labour(),
        ))
        .unwrap();
    let resolved = T0.plus_millis(2 * H);
    clock.set(resolved);
    let day = 24 * H;
    let agreement = gridsync_core::case::Agreement {
        terms: "分期付款".into(),
        installments: vec![gridsync_core::case::Installment {
            id: "first".into(),
            due_at: resolved.plus_millis(3 * day),
            amount: 100_000,
            paid_at: None,
        }],
        ..Default::default()
    };
    let resolve = Action::Resolve {
        success: true,
        outcome: "达成协议".into(),
        agreement: Some(agreement),
    };
    server
        .block_on(gridsync_server::center::cases::act(
            st,
            id,
            &resolve,
            &labour(),
        ))
        .unwrap();

    // The follow-up limit runs 7 days from resolution; the installment's reminder window is
    // the 7 days before its due date (resolution + 3 days).
    let at = resolved.plus_millis(5 * day);
    // Follow-up: 5 of 7 days = 71 % → yellow. Installment: 2 days past due → red.
    assert_eq!(
        scan_level(&server, &clock, at, id, "FOLLOW_UP").as_deref(),
        Some("YELLOW")
    );
    assert_eq!(
        scan_level(&server, &clock, at, id, "INSTALLMENT").as_deref(),
        Some("RED")
    );
}

/// Subscribes `user` to the live feed; its lines arrive on the channel, after "subscribed".
fn subscribe(server: &TestServer, user: &str) -> std::sync::mpsc::Receiver<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let token = Staff::login(server, user).token;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let url = server.url("/v1/events");
    std::thread::spawn(move || {
        let Ok(mut resp) = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
        else {
            return;
        };
        if tx.send("subscribed".into()).is_err() {
            return;
        }
        use std::io::BufRead;
        let reader = std::io::BufReader::new(resp.body_mut().as_reader());
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)).as_deref(),
        Ok("subscribed")
    );
    rx
}

/// The `case_new` events about `id` that arrive within `wait`.
fn case_new_events(rx: &std::sync::mpsc::Receiver<String>, id: CaseId, wait: Duration) -> usize {
    let deadline = std::time::Instant::now() + wait;
    let mut last_event = String::new();
    let mut n = 0;
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if let Some(e) = line.strip_prefix("event: ") {
                last_event = e.to_owned();
            } else if line.starts_with("data:")
                && line.contains(&id.to_string())
                && last_event == "case_new"
            {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn a_case_the_center_lists_from_now_on_is_announced_once_in_scope_only() {
    let server = TestServer::start();
    // The township center of 青溪 sees the village's cases; the county labour department
    // (no area scope) sees only cases dispatched to it.
    let town = subscribe(&server, "sun.town");
    let labour = subscribe(&server, "liu.labour");

    let mut phone = Phone::login(&server.base_url(), "wang.grid", "new-case-phone");
    let id = phone.record("宅基地边界纠纷");
    // A draft reaches the center but is not listed there: nothing to announce.
    phone.sync().unwrap();
    assert_eq!(case_new_events(&town, id, Duration::from_millis(800)), 0);

    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    // Announced once, to the township center only; later syncs do not repeat it.
    phone.sync().unwrap();
    assert_eq!(case_new_events(&town, id, Duration::from_secs(3)), 1);
    assert_eq!(case_new_events(&labour, id, Duration::from_millis(500)), 0);

    // A case recorded at the center's intake is announced too.
    let (status, created) = Staff::login(&server, "chen.dispatch").post(
        "/v1/cases",
        &serde_json::json!({
            "title": "来访：邻里噪音",
            "summary": "楼上装修噪音",
            "category": "NEIGHBOUR",
            "source": "WALK_IN",
            "area_code": "330182101201",
            "parties": [{ "role": "APPLICANT", "name": "赵一" }],
        }),
    );
    assert_eq!(status, 201, "{created}");
    let intake: CaseId = created["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(case_new_events(&town, intake, Duration::from_secs(3)), 1);
    assert_eq!(
        case_new_events(&labour, intake, Duration::from_millis(500)),
        0
    );
}
