//! The README's table of action kinds: every row holds a payload the API reads, for every
//! kind there is. (Its walk through the four steps runs as written against the binary:
//! `server/tests/readme.rs`.)

use gridsync_core::workflow::EventKind;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md is readable")
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
