//! Citizens file online, follow their case and answer the follow-up (issue 16), against
//! the real server with a fake SMS gateway and push webhook (real HTTP on loopback).

use std::sync::{Arc, Mutex, OnceLock};

use gridsync_core::case::Timestamp;
use gridsync_core::clock::ManualClock;
use gridsync_tests::fake::Fakes;
use gridsync_tests::{Phone, Staff, TestServer};
use serde_json::{Value, json};

const COUNTY: &str = "330182";
const VILLAGE: &str = "330182101201";

/// An anonymous caller: (status, JSON body or null, Retry-After).
fn post(server: &TestServer, path: &str, body: &Value) -> (u16, Value, Option<String>) {
    let mut r = gridsync_tests::agent()
        .post(&server.url(path))
        .send_json(body)
        .expect("request");
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        r.status().as_u16(),
        r.body_mut().read_json().unwrap_or_default(),
        retry,
    )
}

fn get_text(server: &TestServer, path: &str) -> (u16, String) {
    let mut r = gridsync_tests::agent()
        .get(&server.url(path))
        .call()
        .expect("request");
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let mut r = gridsync_tests::agent()
        .get(&server.url(path))
        .call()
        .expect("request");
    (
        r.status().as_u16(),
        r.body_mut().read_json().unwrap_or_default(),
    )
}

/// Asks for a code and reads it from the fake gateway.
fn code(
    server: &TestServer,
    fakes: &Fakes,
    mobile: &str,
    purpose: &str,
    case_no: Option<&str>,
) -> String {
    let before = fakes.sms.bodies().len();
    let mut body = json!({"mobile": mobile, "purpose": purpose});
    if let Some(no) = case_no {
        body["case_no"] = json!(no);
    }
    let (s, v, _) = post(server, "/v1/public/codes", &body);
    assert_eq!(s, 202, "{v}");
    fakes.sms.code_for(mobile, before)
}

fn filing(mobile: &str, name: &str, code: &str, category: &str) -> Value {
    json!({
        "county": COUNTY, "category": category, "description": "邻居装修噪音扰民，多次协商无果",
        "area_code": VILLAGE, "name": name, "mobile": mobile, "code": code,
    })
}

/// Files a case and returns its number.
fn file(server: &TestServer, fakes: &Fakes, mobile: &str, name: &str) -> String {
    let c = code(server, fakes, mobile, "FILE", None);
    let (s, v, _) = post(
        server,
        "/v1/public/cases",
        &filing(mobile, name, &c, "NEIGHBOUR"),
    );
    assert_eq!(s, 201, "{v}");
    v["case_no"].as_str().expect("a case number").to_owned()
}

fn tick(server: &TestServer) {
    server
        .block_on(gridsync_server::citizens::tick(&server.state.center))
        .expect("tick");
}

/// Every log line of this test binary (the server's `info` and above), to search for
/// personal data.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("gridsync_server=info")
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()));
        // The first global subscriber of this binary (no other test installs one).
        let _ = subscriber.try_init();
        buf
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_citizen_files_follows_and_answers_the_survey() {
    let logs = logs();
    let clock = Arc::new(ManualClock::new(Timestamp(1_796_000_000_000)));
    let server = TestServer::start_with_clock(clock.clone());
    let fakes = Fakes::attach(&server);
    let mobile = "13912340001";
    let name = "钱多多";

    // The county's page: villages by name and code, nothing else of the tree.
    let (s, county) = get(&server, &format!("/v1/public/counties/{COUNTY}"));
    assert_eq!(s, 200);
    assert_eq!(county["center"], "示范县社会治理综合服务中心");
    let places = county["places"].as_array().unwrap();
    assert!(
        places
            .iter()
            .any(|p| p["area_code"] == VILLAGE && p["township"] == "青溪镇综治中心")
    );
    assert!(
        !county.to_string().contains("330182-labour"),
        "no organisation ids"
    );
    assert_eq!(get(&server, "/v1/public/counties/999999").0, 404);

    // A code; a wrong one fails, the right one files, and is then spent.
    let c = code(&server, &fakes, mobile, "FILE", None);
    let sms = fakes.sms.bodies().last().cloned().unwrap();
    assert_eq!(sms["template_id"], "CODE");
    assert_eq!(sms["sign_name"], "示范县综治中心");
    assert_eq!(sms["phone_number_e164"], format!("+86{mobile}"));
    assert_eq!(
        fakes.sms.auth_headers().last().unwrap(),
        "Bearer test-token"
    );
    let wrong = if c == "000000" { "000001" } else { "000000" };
    let (s, v, _) = post(
        &server,
        "/v1/public/cases",
        &filing(mobile, name, wrong, "NEIGHBOUR"),
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("code_invalid")), "{v}");
    let (s, v, _) = post(
        &server,
        "/v1/public/cases",
        &filing(mobile, name, &c, "NEIGHBOUR"),
    );
    assert_eq!(s, 201, "{v}");
    let case_no = v["case_no"].as_str().unwrap().to_owned();
    assert!(case_no.starts_with("330182-"), "{case_no}");
    let (s, v, _) = post(
        &server,
        "/v1/public/cases",
        &filing(mobile, name, &c, "NEIGHBOUR"),
    );
    assert_eq!(
        (s, v["code"].as_str()),
        (400, Some("code_invalid")),
        "spent: {v}"
    );

    // The center sees an ONLINE case, accepted, with the applicant as its party.
    let chen = Staff::login(&server, "chen.dispatch");
    let (s, detail) = chen.get(&format!("/v1/cases/{case_no}"));
    assert_eq!(s, 200, "{detail}");
    assert_eq!(detail["case"]["source"], "ONLINE", "{detail}");
    assert_eq!(detail["state"]["status"], "ACCEPTED", "{detail}");
    let id = detail["id"].as_str().unwrap().to_owned();

    // A staff note and a second party: never shown to the applicant.
    let (s, v) = chen.post(
        &format!("/v1/cases/{id}/notes"),
        &json!({"kind": "PHONE_CALL", "text": "内部记录：对方情绪激动"}),
    );
    assert_eq!(s, 201, "{v}");

    // Dispatched to labour inspection: its handler's phone is woken, content-free.
    let mut liu_phone = Phone::login(&server.base_url(), "liu.labour", "liu-phone-1");
    let (s, v) = chen.act(&id, "DISPATCH", json!({"to": [{"id": "330182-labour"}]}));
    assert_eq!(s, 200, "{v}");
    let push = fakes
        .push
        .wait_for("a sync signal", 0, |b| b["device_id"] == "liu-phone-1");
    let mut keys: Vec<&str> = push
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["device_id", "message_id", "signal"],
        "content-free: {push}"
    );
    assert_eq!(push["signal"], "SYNC_NOW");
    liu_phone.sync().expect("the woken phone syncs");

    // The applicant is told: accepted (the number), dispatched (to whom).
    tick(&server);
    let accepted = fakes
        .sms
        .wait_for("accepted", 0, |b| b["kind"] == "ACCEPTED");
    assert_eq!(accepted["phone_number"], mobile);
    assert_eq!(accepted["template_param"]["case_no"], case_no.as_str());
    let dispatched = fakes
        .sms
        .wait_for("dispatched", 0, |b| b["kind"] == "DISPATCHED");
    assert!(
        dispatched["template_param"]["org"]
            .as_str()
            .unwrap()
            .contains("劳动"),
        "{dispatched}"
    );
    tick(&server);
    let sent = fakes
        .sms
        .bodies()
        .iter()
        .filter(|b| b["kind"] == "ACCEPTED")
        .count();
    assert_eq!(sent, 1, "each message once");

    // Following: number + mobile + a code for it → status and public steps only.
    let fc = code(&server, &fakes, mobile, "FOLLOW", Some(&case_no));
    let (s, seen, _) = post(
        &server,
        "/v1/public/follow",
        &json!({"case_no": case_no, "mobile": mobile, "code": fc}),
    );
    assert_eq!(s, 200, "{seen}");
    assert_eq!(seen["status"], "DISPATCHED");
    assert!(
        seen["handled_by"][0].as_str().unwrap().contains("劳动"),
        "{seen}"
    );
    let kinds: Vec<&str> = seen["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["SUBMIT", "ACCEPT", "DISPATCH"], "{seen}");
    let text = seen.to_string();
    for secret in ["内部记录", name, mobile, "chen", "陈受理", &id] {
        assert!(
            !text.contains(secret),
            "{secret:?} shown to the public: {text}"
        );
    }
    // The code was single-use.
    let (s, _, _) = post(
        &server,
        "/v1/public/follow",
        &json!({"case_no": case_no, "mobile": mobile, "code": fc}),
    );
    assert_eq!(s, 404);

    // Resolved with an agreement → the applicant is told, and gets the survey link.
    let liu = Staff::login(&server, "liu.labour");
    for (kind, payload) in [
        ("SIGN_FOR", json!({})),
        ("START_HANDLING", json!({})),
        (
            "RESOLVE",
            json!({"success": true, "outcome": "双方和解", "agreement": {"form": "WRITTEN", "terms": "装修限于每日9时至18时"}}),
        ),
    ] {
        let (s, v) = liu.act(&id, kind, payload);
        assert_eq!(s, 200, "{kind}: {v}");
    }
    let stats_before = chen.get("/v1/stats").1;
    tick(&server);
    fakes
        .sms
        .wait_for("resolved", 0, |b| b["kind"] == "RESOLVED");
    let survey = fakes.sms.wait_for("survey", 0, |b| b["kind"] == "SURVEY");
    let link = survey["template_param"]["link"]
        .as_str()
        .unwrap()
        .to_owned();
    let prefix = format!("{}/public/survey#", server.base_url());
    assert!(link.starts_with(&prefix), "{link}");
    let token = &link[prefix.len()..];

    clock.advance(61_000); // one code a minute
    let fc = code(&server, &fakes, mobile, "FOLLOW", Some(&case_no));
    let (_, seen, _) = post(
        &server,
        "/v1/public/follow",
        &json!({"case_no": case_no, "mobile": mobile, "code": fc}),
    );
    assert_eq!(seen["status"], "RESOLVED", "{seen}");
    assert_eq!(seen["agreement_terms"], "装修限于每日9时至18时");
    assert_eq!(seen["resolved_success"], true);

    // The answer: out of range refused, then recorded once as the case's follow-up.
    let (s, v, _) = post(
        &server,
        "/v1/public/surveys",
        &json!({"token": token, "satisfaction": 6}),
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_input")));
    let (s, v, _) = post(
        &server,
        "/v1/public/surveys",
        &json!({"token": token, "satisfaction": 5, "agreement_kept": true}),
    );
    assert_eq!(s, 204, "{v}");
    let (s, _, _) = post(
        &server,
        "/v1/public/surveys",
        &json!({"token": token, "satisfaction": 1}),
    );
    assert_eq!(s, 404, "single use");
    let (_, detail) = chen.get(&format!("/v1/cases/{id}"));
    assert_eq!(detail["state"]["status"], "FOLLOWED_UP", "{detail}");
    let stats_after = chen.get("/v1/stats").1;
    let followed = |v: &Value| v["total"]["current"]["followed_up"].as_u64().unwrap_or(0);
    let satisfied = |v: &Value| v["total"]["current"]["satisfied"].as_u64().unwrap_or(0);
    assert_eq!(
        followed(&stats_after),
        followed(&stats_before) + 1,
        "{stats_after}"
    );
    assert_eq!(
        satisfied(&stats_after),
        satisfied(&stats_before) + 1,
        "满意度 moved"
    );

    // The record: every message, none holding its number or values once delivered, no
    // recipient written as a number.
    let records = server
        .block_on(gridsync_server::db::notifications::records(
            &server.state.db,
            Some(&id),
        ))
        .unwrap();
    let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    for k in ["ACCEPTED", "DISPATCHED", "RESOLVED", "SURVEY", "SYNC_NOW"] {
        assert!(kinds.contains(&k), "{k} recorded: {kinds:?}");
    }
    for r in &records {
        assert!(r.delivered_at.is_some() && !r.holds_content, "{r:?}");
        assert!(!r.recipient.contains(mobile), "{r:?}");
        assert!(
            r.recipient.starts_with("mobile:") || r.recipient.starts_with("device:"),
            "{r:?}"
        );
    }

    // Nothing personal in the logs.
    drop(server);
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    for secret in [mobile, name, &c, token] {
        assert!(!text.contains(secret), "{secret:?} in the logs");
    }
}

#[test]
fn another_cases_number_with_the_wrong_mobile_shows_nothing_and_guesses_fail() {
    let server = TestServer::start();
    let fakes = Fakes::attach(&server);
    let (a, b) = ("13912340011", "13912340012");
    let case_a = file(&server, &fakes, a, "甲某");
    let case_b = file(&server, &fakes, b, "乙某");

    // B asks to follow A's case: the same answer as for their own, but no code is sent.
    let before = fakes.sms.bodies().len();
    let (s, same, _) = post(
        &server,
        "/v1/public/codes",
        &json!({"mobile": b, "purpose": "FOLLOW", "case_no": case_a}),
    );
    assert_eq!(s, 202);
    let (s, own, _) = post(
        &server,
        "/v1/public/codes",
        &json!({"mobile": a, "purpose": "FOLLOW", "case_no": case_a}),
    );
    assert_eq!((s, &same), (202, &own));
    fakes.sms.code_for(a, before);
    assert!(
        !fakes.sms.bodies()[before..]
            .iter()
            .any(|m| m["phone_number"] == b && m["kind"] == "CODE"),
        "no code to a mobile that did not file the case"
    );
    // Whatever B sends: the one "not found", as for a case that does not exist.
    let (s1, v1, _) = post(
        &server,
        "/v1/public/follow",
        &json!({"case_no": case_a, "mobile": b, "code": "123456"}),
    );
    let (s2, v2, _) = post(
        &server,
        "/v1/public/follow",
        &json!({"case_no": "330182-20990101-000001", "mobile": b, "code": "123456"}),
    );
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(v1, v2, "no oracle");
    // B's own code for B's case does not open A's.
    let own_code = code(&server, &fakes, b, "FOLLOW", Some(&case_b));
    let (s, v, _) = post(
        &server,
        "/v1/public/follow",
        &json!({"case_no": case_a, "mobile": b, "code": own_code}),
    );
    assert_eq!((s, &v), (404, &v1));

    // Guessing a filing code: five wrong tries lock it, the right one then fails too.
    let m = "13912340013";
    let right = code(&server, &fakes, m, "FILE", None);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        let (s, v, _) = post(
            &server,
            "/v1/public/cases",
            &filing(m, "丙某", wrong, "NEIGHBOUR"),
        );
        assert_eq!((s, v["code"].as_str()), (400, Some("code_invalid")), "{v}");
    }
    let (s, v, _) = post(
        &server,
        "/v1/public/cases",
        &filing(m, "丙某", &right, "NEIGHBOUR"),
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("code_locked")), "{v}");

    // Bad input is refused by field.
    for (field, body) in [
        ("mobile", json!({"mobile": "12345", "purpose": "FILE"})),
        ("purpose", json!({"mobile": m, "purpose": "ADMIN"})),
        ("case_no", json!({"mobile": m, "purpose": "FOLLOW"})),
    ] {
        let (s, v, _) = post(&server, "/v1/public/codes", &body);
        assert_eq!(s, 400, "{field}: {v}");
        assert!(v.to_string().contains(field), "{field}: {v}");
    }
    let long = "很".repeat(2001);
    for (field, mut body) in [
        ("category", filing(m, "丙某", "1", "NOT_A_CATEGORY")),
        ("area_code", filing(m, "丙某", "1", "NEIGHBOUR")),
        ("description", filing(m, "丙某", "1", "NEIGHBOUR")),
        ("name", filing(m, "", "1", "NEIGHBOUR")),
    ] {
        match field {
            "area_code" => body["area_code"] = json!("110101001001"),
            "description" => body["description"] = json!(long),
            _ => {}
        }
        let (s, v, _) = post(&server, "/v1/public/cases", &body);
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("invalid_input")),
            "{field}: {v}"
        );
        assert!(v.to_string().contains(field), "{field}: {v}");
    }
    let (s, _, _) = post(
        &server,
        "/v1/public/cases",
        &json!({"county": COUNTY, "extra": 1}),
    );
    assert_eq!(s, 400, "closed bodies");
}

#[test]
fn codes_expire_and_a_mobile_files_three_cases_a_day() {
    let clock = Arc::new(ManualClock::new(Timestamp(1_796_000_000_000)));
    let server = TestServer::start_with_clock(clock.clone());
    let fakes = Fakes::attach(&server);
    let m = "13912340021";

    // A code five minutes old is refused.
    let c = code(&server, &fakes, m, "FILE", None);
    clock.advance(5 * 60_000);
    let (s, v, _) = post(
        &server,
        "/v1/public/cases",
        &filing(m, "丁某", &c, "NEIGHBOUR"),
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("code_invalid")), "{v}");

    // One code a minute per mobile.
    let c = code(&server, &fakes, m, "FILE", None);
    let (s, v, retry) = post(
        &server,
        "/v1/public/codes",
        &json!({"mobile": m, "purpose": "FILE"}),
    );
    assert_eq!((s, v["code"].as_str()), (429, Some("rate_limited")), "{v}");
    assert!(retry.is_some());

    // Three filings a day; the fourth is refused before its code is spent.
    let (s, v, _) = post(
        &server,
        "/v1/public/cases",
        &filing(m, "丁某", &c, "NEIGHBOUR"),
    );
    assert_eq!(s, 201, "{v}");
    for _ in 0..2 {
        clock.advance(61_000);
        let c = code(&server, &fakes, m, "FILE", None);
        let (s, v, _) = post(
            &server,
            "/v1/public/cases",
            &filing(m, "丁某", &c, "NEIGHBOUR"),
        );
        assert_eq!(s, 201, "{v}");
    }
    clock.advance(61_000);
    let c = code(&server, &fakes, m, "FILE", None);
    let (s, v, _) = post(
        &server,
        "/v1/public/cases",
        &filing(m, "丁某", &c, "NEIGHBOUR"),
    );
    assert_eq!((s, v["code"].as_str()), (409, Some("daily_limit")), "{v}");
    // The next day it may file again, with the same (unspent) code.
    clock.advance(24 * 3_600_000);
    let (s, v, _) = post(
        &server,
        "/v1/public/cases",
        &filing(m, "丁某", &c, "NEIGHBOUR"),
    );
    assert_eq!(
        (s, v["code"].as_str()),
        (400, Some("code_invalid")),
        "expired meanwhile: {v}"
    );
}

#[test]
fn a_burst_from_one_address_is_throttled() {
    let server = TestServer::start();
    let _fakes = Fakes::attach(&server);
    let mut answers = Vec::new();
    for i in 0..40 {
        let (s, _, retry) = post(
            &server,
            "/v1/public/codes",
            &json!({"mobile": format!("1391234{i:04}"), "purpose": "FILE"}),
        );
        answers.push((s, retry.is_some()));
    }
    assert!(answers[..30].iter().all(|a| a.0 == 202), "{answers:?}");
    assert!(
        answers[30..].iter().all(|a| *a == (429, true)),
        "{answers:?}"
    );
    // Reading the county's page is not a POST: still served.
    assert_eq!(
        get(&server, &format!("/v1/public/counties/{COUNTY}")).0,
        200
    );
}

#[test]
fn the_posters_qr_code_holds_the_filing_page_for_the_county_desk_only() {
    let server = TestServer::start();
    let chen = Staff::login(&server, "chen.dispatch");
    let (s, v) = chen.get(&format!("/v1/public/counties/{COUNTY}/qr?format=json"));
    assert_eq!(s, 200, "{v}");
    let url = v["url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("{}/public/{COUNTY}", server.base_url()));

    let fetch = |format: &str, token: Option<&str>| {
        let mut req = gridsync_tests::agent()
            .get(&server.url(&format!("/v1/public/counties/{COUNTY}/qr?format={format}")));
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let mut r = req.call().unwrap();
        let kind = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            r.status().as_u16(),
            kind,
            r.body_mut().read_to_vec().unwrap(),
        )
    };
    let (s, kind, png) = fetch("png", Some(&chen.token));
    assert_eq!((s, kind.as_str()), (200, "image/png"));
    assert_eq!(
        decode_qr(&png),
        url,
        "the PNG's code reads back as the page"
    );
    let (s, kind, svg) = fetch("svg", Some(&chen.token));
    assert_eq!((s, kind.as_str()), (200, "image/svg+xml"));
    assert!(String::from_utf8(svg).unwrap().contains("<svg"));
    assert_eq!(fetch("gif", Some(&chen.token)).0, 400);

    // The page itself is served with its own policy, and none of the console.
    let mut r = gridsync_tests::agent().get(&url).call().unwrap();
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let page = r.body_mut().read_to_string().unwrap();
    assert!(
        page.contains("/public/assets/file.js") && !page.contains("/console/"),
        "{page}"
    );

    // Outside the scope: no token 401, a role without Intake 403, a township's desk 403.
    assert_eq!(fetch("png", None).0, 401);
    let liu = Staff::login(&server, "liu.labour");
    let (s, v) = liu.get(&format!("/v1/public/counties/{COUNTY}/qr"));
    assert_eq!((s, v["code"].as_str()), (403, Some("not_permitted")));
    let sun = Staff::login(&server, "sun.town");
    let (s, v) = sun.get(&format!("/v1/public/counties/{COUNTY}/qr"));
    assert_eq!((s, v["code"].as_str()), (403, Some("out_of_scope")));
    let (s, v) = chen.get("/v1/public/counties/999999/qr");
    assert_eq!(
        (s, v["code"].as_str()),
        (403, Some("out_of_scope")),
        "another county"
    );
}

/// Reads our PNG (8-bit greyscale, unfiltered rows) and decodes its QR code.
fn decode_qr(png: &[u8]) -> String {
    use std::io::Read;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (mut at, mut width, mut idat) = (8, 0usize, Vec::new());
    while at < png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let data = &png[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => width = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize,
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, width, |x, y| {
        raw[y * (width + 1) + 1 + x]
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

#[test]
fn failed_sends_are_retried_with_backoff_and_the_log_channel_keeps_no_personal_data() {
    let logs = logs();
    let clock = Arc::new(ManualClock::new(Timestamp(1_796_000_000_000)));
    let server = TestServer::start_with_clock(clock.clone());
    let fakes = Fakes::attach(&server);
    let m = "13912340031";

    // The gateway fails twice: the code is retried after 10 s, then 20 s.
    fakes.sms.fail_next(2);
    let (s, _, _) = post(
        &server,
        "/v1/public/codes",
        &json!({"mobile": m, "purpose": "FILE"}),
    );
    assert_eq!(s, 202);
    let records = || {
        server
            .block_on(gridsync_server::db::notifications::records(
                &server.state.db,
                None,
            ))
            .unwrap()
    };
    // An attempt is over when its failure set the next try (a claimed row's `next_at` is
    // its lease's end, a minute on): the background sender may be the one trying.
    let t0 = 1_796_000_000_000;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let settled = |attempts: i64, next_at: i64| loop {
        let r = records()[0].clone();
        if r.attempts == attempts && r.next_at == next_at {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "attempt {attempts}: {r:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    settled(1, t0 + 10_000);
    tick(&server);
    assert_eq!(records()[0].attempts, 1, "not due before its backoff");
    clock.advance(10_000);
    tick(&server);
    let r = settled(2, t0 + 10_000 + 20_000);
    assert!(r.delivered_at.is_none() && r.holds_content, "{r:?}");
    clock.advance(20_000);
    tick(&server);
    while records()[0].delivered_at.is_none() {
        assert!(std::time::Instant::now() < deadline, "never delivered");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = &records()[0];
    assert_eq!(
        (r.attempts, r.delivered_at.is_some(), r.holds_content),
        (3, true, false),
        "{r:?}"
    );
    fakes.sms.code_for(m, 0);
    let (_, metrics) = get_text(&server, "/metrics");
    assert!(
        metrics.contains("gridsync_notifications_total{kind=\"CODE\",result=\"retried\"}"),
        "{metrics}"
    );

    // The log channel (the demo's): kind, template and pseudonym only.
    server
        .state
        .notify
        .configure(gridsync_server::notify::NotifyConfig::default());
    let m2 = "13912340032";
    let (s, _, _) = post(
        &server,
        "/v1/public/codes",
        &json!({"mobile": m2, "purpose": "FILE"}),
    );
    assert_eq!(s, 202);
    tick(&server);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while records()
        .iter()
        .filter(|r| r.delivered_at.is_some())
        .count()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "never logged");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(text.contains("notification (log channel)"), "logged");
    assert!(text.contains("recipient=mobile:"), "by pseudonym");
    assert!(
        !text.contains(m2) && !text.contains(m),
        "no number in the logs"
    );
}

#[test]
fn handlers_hear_of_deadlines_and_supervisors_of_automatic_supervision() {
    let clock = Arc::new(ManualClock::new(Timestamp(1_796_000_000_000)));
    let server = TestServer::start_with_clock(clock.clone());
    let fakes = Fakes::attach(&server);
    let handler_mobile = "13700000001";
    server
        .block_on(gridsync_server::db::notifications::set_staff_mobile(
            &server.state.db,
            "u-liu.labour",
            handler_mobile,
        ))
        .unwrap();
    let case_no = file(&server, &fakes, "13912340041", "戊某");
    let chen = Staff::login(&server, "chen.dispatch");
    let (s, v) = chen.act(
        &case_no,
        "DISPATCH",
        json!({"to": [{"id": "330182-labour"}]}),
    );
    assert_eq!(s, 200, "{v}");

    // Unsigned past its 24 hours: the scanner's red warning and automatic supervision.
    clock.advance(25 * 3_600_000);
    let report = server
        .block_on(gridsync_server::center::warnings::scan_once(
            &server.state.center,
        ))
        .unwrap();
    assert_eq!(report.supervised.len(), 1, "{report:?}");
    tick(&server);
    let sms = fakes
        .sms
        .wait_for("the handler's deadline", 0, |b| b["kind"] == "SIGN_RED");
    assert_eq!(sms["phone_number"], handler_mobile);
    assert_eq!(sms["template_param"]["case_no"], case_no.as_str());
    tick(&server);
    let records = server
        .block_on(gridsync_server::db::notifications::records(
            &server.state.db,
            None,
        ))
        .unwrap();
    let to = |kind: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.recipient.clone())
            .collect()
    };
    assert_eq!(
        to("SIGN_RED"),
        ["user:u-liu.labour"],
        "once, to the handler"
    );
    let supervisors = to("SUPERVISED");
    assert!(
        !supervisors.is_empty() && supervisors.iter().all(|u| u.starts_with("user:u-")),
        "{supervisors:?}"
    );
    // A supervisor without a registered mobile: recorded, abandoned (at once, by whichever
    // sender claimed it), nothing sent.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let records = server
            .block_on(gridsync_server::db::notifications::records(
                &server.state.db,
                None,
            ))
            .unwrap();
        let r = records.iter().find(|r| r.kind == "SUPERVISED").unwrap();
        if r.abandoned_at.is_some() {
            assert!(!r.holds_content && r.delivered_at.is_none(), "{r:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{r:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !fakes.sms.bodies().iter().any(|b| b["kind"] == "SUPERVISED"),
        "nothing sent without a number"
    );
}
