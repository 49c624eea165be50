//! Crash safety of the device store: a child process records cases and notes in a loop and
//! is killed with SIGKILL at random moments. After every kill the store must reopen, pass
//! `PRAGMA integrity_check`, and hold every case and note whose call had returned.
//!
//! The child is this same test binary, re-run with `GRIDSYNC_CRASH_CHILD` set (the
//! `crash_child` test does the work only then).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use gridsync_core::case::{Category, NewCase, NoteKind, PartyInput};
use gridsync_core::store::{CaseFilter, FieldStore, StoreKey};
use gridsync_core::workflow::{Author, Role};
use rand::Rng;

const KILLS: usize = 24;

#[test]
fn crash_child() {
    let Ok(path) = std::env::var("GRIDSYNC_CRASH_CHILD") else {
        return;
    };
    let mut store = FieldStore::open(
        &path,
        "crash-phone",
        &StoreKey::from_bytes(&[7; 32]).unwrap(),
    )
    .expect("open");
    store
        .set_identity(&Author::new("worker", Role::GridWorker, "330182101201"))
        .expect("identity");
    let mut out = std::io::stdout().lock();
    let mut last = None;
    for i in 0u64.. {
        if let Some(id) = last.filter(|_| i % 3 == 2) {
            let note = store
                .add_note(id, NoteKind::HomeVisit, "第二次走访记录")
                .expect("note");
            writeln!(out, "NOTE {id} {note}").unwrap();
            out.flush().unwrap();
            continue;
        }
        let id = store
            .record(&NewCase {
                area_code: "330182101201".into(),
                title: format!("欠薪纠纷 #{i}"),
                summary: "x".repeat(200),
                category: Category::LabourWages,
                parties: vec![PartyInput {
                    name: "张三".into(),
                    ..Default::default()
                }],
                ..NewCase::default()
            })
            .expect("record");
        // Printed only after `record` returned: the parent may rely on it being stored.
        writeln!(out, "CASE {id}").unwrap();
        out.flush().unwrap();
        last = Some(id);
    }
}

#[test]
fn killed_mid_write_loses_nothing_that_returned() {
    if std::env::var("GRIDSYNC_CRASH_CHILD").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let mut cases: HashSet<String> = HashSet::new();
    let mut notes: Vec<(String, String)> = Vec::new();

    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env("GRIDSYNC_CRASH_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            // Complete lines only: a line cut by the kill has no newline and is dropped.
            let mut lines = Vec::new();
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if line.ends_with('\n') {
                    lines.push(line.trim_end().to_owned());
                }
                line.clear();
            }
            lines
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(30..400)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some("CASE"), Some(id), None) => {
                    cases.insert(id.to_owned());
                }
                (Some("NOTE"), Some(case), Some(note)) => notes.push((case.into(), note.into())),
                _ => {}
            }
        }

        let store = FieldStore::open(
            &path,
            "crash-phone",
            &StoreKey::from_bytes(&[7; 32]).unwrap(),
        )
        .unwrap_or_else(|e| panic!("round {round}: store does not reopen: {e}"));
        assert!(
            store.integrity_check().unwrap(),
            "round {round}: integrity_check failed"
        );
        let held: HashSet<String> = store
            .cases(&CaseFilter {
                limit: u32::MAX,
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|s| s.id.to_string())
            .collect();
        let lost: Vec<_> = cases.difference(&held).collect();
        assert!(lost.is_empty(), "round {round}: lost cases {lost:?}");
    }

    // Every note whose call returned is in its case, and in the outbox.
    let store = FieldStore::open(
        &path,
        "crash-phone",
        &StoreKey::from_bytes(&[7; 32]).unwrap(),
    )
    .unwrap();
    for (case, note) in &notes {
        let view = store.case(case.parse().unwrap()).unwrap();
        assert!(
            view.case.notes.iter().any(|n| &n.id == note),
            "note {note} of {case} lost"
        );
    }
    // Each operation wrote its change to the outbox in the same transaction: the outbox
    // holds exactly one change per case and per note held (some returned after the last
    // line the parent saw, so there may be more than were printed, never fewer).
    let all = store
        .cases(&CaseFilter {
            limit: u32::MAX,
            ..Default::default()
        })
        .unwrap();
    let held_notes: usize = all
        .iter()
        .map(|s| store.case(s.id).unwrap().case.notes.len())
        .sum();
    let pending = store.pending().unwrap();
    assert_eq!(pending.changes as usize, all.len() + held_notes);
    assert!(all.len() >= cases.len() && held_notes >= notes.len());
    assert!(
        cases.len() > KILLS,
        "the child made too little progress: {}",
        cases.len()
    );
    eprintln!(
        "{KILLS} kills survived: {} cases, {} notes intact",
        cases.len(),
        notes.len()
    );
}
