//! The README's walk through the four steps, replayed as written: every `act USER KIND
//! 'PAYLOAD'` line of its shell block is posted by that demo user on a case recorded on a
//! phone, in order, and must be taken; and every row of its table of action kinds holds a
//! payload the API reads, for every kind there is.

use gridsync_core::case::CaseId;
use gridsync_core::workflow::EventKind;
use gridsync_tests::{Phone, Staff, TestServer};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md is readable")
}

/// `act USER KIND 'PAYLOAD'` → (user, kind, payload).
fn act_lines(text: &str) -> Vec<(String, String, serde_json::Value)> {
    text.lines()
        .filter_map(|line| line.strip_prefix("act "))
        .map(|rest| {
            let mut words = rest.splitn(3, ' ');
            let user = words.next().unwrap_or_default().to_owned();
            let kind = words.next().unwrap_or_default().to_owned();
            let rest = words.next().unwrap_or_default();
            let payload = rest
                .strip_prefix('\'')
                .and_then(|p| p.split('\'').next())
                .unwrap_or_else(|| panic!("a quoted payload: {rest}"));
            let payload = serde_json::from_str(payload)
                .unwrap_or_else(|e| panic!("{kind}'s payload is JSON: {e}: {payload}"));
            (user, kind, payload)
        })
        .collect()
}

#[test]
fn the_readme_walk_takes_a_case_through_the_four_steps() {
    let server = TestServer::start();
    let mut phone = Phone::login(&server.base_url(), "wang.grid", "readme-walk");
    let id: CaseId = phone.record("拖欠12名工人工资");
    phone.store.submit(id).unwrap();
    phone.sync().unwrap();
    let case = id.to_string();

    let steps = act_lines(&readme());
    assert!(steps.len() >= 10, "the walk is in the README: {steps:?}");
    for (user, kind, payload) in &steps {
        let (status, body) = Staff::login(&server, user).act(&case, kind, payload.clone());
        assert_eq!(status, 200, "README: act {user} {kind} {payload}: {body}");
    }
    let (_, done) = Staff::login(&server, "sun.town").get(&format!("/v1/cases/{case}"));
    assert_eq!(done["state"]["status"], "ARCHIVED", "{done}");
    // The phone follows.
    phone.sync().unwrap();
    assert_eq!(
        phone.store.case(id).unwrap().state.status,
        gridsync_core::workflow::Status::Archived
    );
}

#[test]
fn the_readme_gives_a_working_payload_for_every_kind() {
    let text = readme();
    let mut seen = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let kind = cells[1].trim_matches('`');
        let Some(known) = EventKind::from_code(kind) else {
            continue;
        };
        let payload_cell = cells[4];
        let payload = payload_cell
            .split('`')
            .nth(1)
            .unwrap_or_else(|| panic!("{kind}: a payload in backticks: {payload_cell}"));
        let payload: serde_json::Value = serde_json::from_str(payload)
            .unwrap_or_else(|e| panic!("{kind}'s payload is JSON: {e}: {payload}"));
        if let Err(refusal) = gridsync_server::center::steps::read(kind, payload) {
            panic!("README's {kind} payload is refused: {refusal}");
        }
        seen.push(known);
    }
    for kind in EventKind::ALL {
        assert!(seen.contains(kind), "README's table has {kind}");
    }
}
