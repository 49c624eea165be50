//! The console's queue with many cases in the database (issue 14): what the case list
//! (`GET /v1/cases`, the console's 案件 page), its searches and filters, and the task list
//! (`GET /v1/me/tasks`, the console's first page) cost a dispatcher. Seeds QUEUE_CASES
//! (default 10,000) cases through two phones' syncs (two townships, every category, varied
//! parties), accepts QUEUE_ACCEPTED (default 1,000) of them so they carry case numbers,
//! then times each request over loopback (a kept-alive connection: what a browser sees
//! minus rendering) and prints p50/p99 and the bytes of the answer. Also prints the bytes of
//! the console's page and scripts on a first visit (later visits revalidate by ETag: 304).
//! SQLite by default; PostgreSQL when GRIDSYNC_TEST_POSTGRES_URL is set.
//!
//! `cargo bench -p gridsync-tests --bench queue`
//! `GRIDSYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p gridsync-tests --bench queue`

use std::time::{Duration, Instant};

use gridsync_core::case::{Category, NewCase, PartyInput, PartyRole, RiskLevel, Source};
use gridsync_tests::bench::{env_or, percentile};
use gridsync_tests::{Phone, Staff, TestServer};

const SURNAMES: &[&str] = &["张", "李", "王", "赵", "陈", "刘", "杨", "黄", "周", "吴"];
const GIVEN: &[&str] = &[
    "建国", "秀英", "德胜", "桂兰", "志强", "海燕", "国华", "丽娟",
];

fn name(i: usize) -> String {
    format!(
        "{}{}{}",
        SURNAMES[i % SURNAMES.len()],
        GIVEN[(i / SURNAMES.len()) % GIVEN.len()],
        i % 97
    )
}

fn case(i: usize, area: &str) -> NewCase {
    let category = Category::ALL[i % Category::ALL.len()];
    let source = [Source::GridVisit, Source::WalkIn, Source::Hotline][i % 3];
    let risk = [RiskLevel::Green, RiskLevel::Green, RiskLevel::Yellow][i % 3];
    NewCase {
        area_code: area.into(),
        title: format!("{}纠纷 第{i}号", category.label_zh()),
        summary: format!(
            "{}与{}因{}发生纠纷，涉及金额约{}元，双方同意调解。",
            name(i),
            name(i + 1),
            category.label_zh(),
            1000 + i % 50_000
        ),
        category,
        source,
        risk_level: risk,
        people_involved: 2 + (i % 5) as u32,
        amount_involved: (100_000 + i as i64 * 37) % 10_000_000,
        parties: vec![
            PartyInput {
                role: PartyRole::Applicant,
                name: name(i),
                id_number: format!("330182198{:09}", i % 1_000_000_000),
                phone: format!("138{:08}", i),
                ..Default::default()
            },
            PartyInput {
                role: PartyRole::Respondent,
                name: name(i + 1),
                phone: format!("139{:08}", i),
                ..Default::default()
            },
        ],
        ..NewCase::default()
    }
}

/// `runs` timed GETs of `path`: (p50, p99, bytes of the last answer).
fn measure(staff: &Staff, path: &str, runs: usize) -> (Duration, Duration, usize) {
    let url = format!("{}{path}", staff.base);
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    // One untimed call warms the connection and the database's caches.
    for i in 0..=runs {
        let started = Instant::now();
        let mut r = staff
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", staff.token))
            .call()
            .expect("request");
        let body = r.body_mut().read_to_vec().expect("body");
        let took = started.elapsed();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        bytes = body.len();
        if i > 0 {
            times.push(took);
        }
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99), bytes)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let total = env_or("QUEUE_CASES", 10_000);
    let accepted = env_or("QUEUE_ACCEPTED", 1_000).min(total);
    let runs = env_or("QUEUE_RUNS", 200);
    let server = TestServer::start();
    let backend = if server.db.is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let base = server.base_url();

    // Seeding: two villages in two townships, synced every 500 cases.
    let started = Instant::now();
    let mut phones = [
        Phone::login(&base, "wang.grid", "queue-bench-1"),
        Phone::login(&base, "zhao.grid", "queue-bench-2"),
    ];
    let mut ids = Vec::with_capacity(total);
    for i in 0..total {
        let phone = &mut phones[i % 2];
        let area = phone.area_code.clone();
        let id = phone.store.record(&case(i, &area)).expect("record");
        phone.store.submit(id).expect("submit");
        ids.push(id);
        if i % 500 == 499 {
            phone.sync().expect("sync");
        }
    }
    for p in &mut phones {
        p.sync().expect("sync");
    }
    let chen = Staff::login(&server, "chen.dispatch");
    let mut case_no = String::new();
    // The demo's automatic rules have dispatched (and numbered) some already: skipped.
    let mut numbered = 0;
    for id in ids.iter().rev() {
        if numbered == accepted {
            break;
        }
        let (status, v) = chen.act(&id.to_string(), "ACCEPT", serde_json::json!({}));
        if status == 409 {
            continue;
        }
        assert_eq!(status, 200, "{v}");
        numbered += 1;
        if case_no.is_empty() {
            case_no = v["case"]["state"]["case_no"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
    }
    eprintln!(
        "seeded {total} cases ({accepted} accepted) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (_, first) = chen.get("/v1/cases?limit=1");
    assert!(!first["items"].as_array().unwrap().is_empty());

    let party = name(4242);
    let searches = [
        ("first page (50 rows)", "/v1/cases?limit=50".to_owned()),
        (
            "second page",
            format!(
                "/v1/cases?limit=50&before={}",
                chen.get("/v1/cases?limit=50").1["next"]
            ),
        ),
        (
            "search: party name",
            format!("/v1/cases?limit=50&text={}", urlencode(&party)),
        ),
        (
            "search: case number",
            format!("/v1/cases?limit=50&text={}", urlencode(&case_no)),
        ),
        (
            "search: text, no match",
            format!("/v1/cases?limit=50&text={}", urlencode("不存在的内容")),
        ),
        (
            "filter: township + category + status",
            "/v1/cases?limit=50&area=330182101&category=NEIGHBOUR&status=SUBMITTED".to_owned(),
        ),
        (
            "filter: overdue",
            "/v1/cases?limit=50&overdue=true".to_owned(),
        ),
        ("my tasks (the first page)", "/v1/me/tasks".to_owned()),
    ];
    println!(
        "queue with {total} cases ({accepted} accepted), {backend}, {runs} runs each, as chen.dispatch (county):"
    );
    println!("| request | p50 | p99 | bytes |");
    println!("|---|---|---|---|");
    for (what, path) in &searches {
        let n = if path.starts_with("/v1/me/tasks") {
            (runs / 4).max(10)
        } else {
            runs
        };
        let (p50, p99, bytes) = measure(&chen, path, n);
        println!("| {what} | {} | {} | {bytes} |", ms(p50), ms(p99));
    }

    // The console's own files on a first visit (the 案件 page loads these modules).
    let agent = gridsync_tests::agent();
    let mut page_bytes = 0;
    let mut files = vec!["/console/cases".to_owned()];
    for f in [
        "app.css",
        "app.js",
        "api.js",
        "i18n.js",
        "dom.js",
        "tasks.js",
        "cases.js",
        "case.js",
        "form.js",
        "intake.js",
        "orgpicker.js",
        "live.js",
        "warnings.js",
        "stats.js",
        "admin.js",
        "agreement.js",
    ] {
        files.push(format!("/console/assets/{f}"));
    }
    for f in &files {
        let mut r = agent.get(&format!("{base}{f}")).call().expect("asset");
        page_bytes += r.body_mut().read_to_vec().expect("asset").len();
    }
    let mut r = agent
        .get(&format!("{base}/console/assets/echarts.esm.min.js"))
        .call()
        .expect("echarts");
    let charts = r.body_mut().read_to_vec().expect("echarts").len();
    println!(
        "console first visit: {page_bytes} bytes of page and scripts ({} files; the statistics page adds {charts} bytes of ECharts); later visits 304",
        files.len()
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
