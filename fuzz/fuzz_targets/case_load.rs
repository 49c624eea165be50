//! Opening a case document and reading it the way phone and center do: lenient reading of
//! the fields, the event log and its actions, the fold at "now" and far from it, conflicts,
//! masking, and a save/load round trip. Input is either raw bytes (a saved document, or
//! changes) or a script that builds a document with real Automerge operations (see the
//! crate's `lib.rs`). None of it may panic.
#![no_main]

use arbitrary::Unstructured;
use gridsync_core::case::{CaseDoc, Timestamp};
use gridsync_core::workflow::TimeLimits;
use gridsync_fuzz::{NOW_MS, actor, case_id, record, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gridsync_fuzz::report_panics_without_aborting();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let doc = match mode % 4 {
        // A saved document, as a phone's store or the center's snapshot holds it.
        0 => CaseDoc::load(rest, actor(0)),
        // Raw changes, as a case that arrives by sync: chunks with a u16 LE length.
        1 => CaseDoc::from_changes(&chunks(rest), actor(0)),
        // A document built by a script, saved and opened again.
        _ => {
            let mut u = Unstructured::new(rest);
            let Ok(id) = u.int_in_range(0..=3u8) else {
                return;
            };
            let Ok(mut built) = record(&mut u, case_id(id), actor(1)) else {
                return;
            };
            let _ = run(&mut u, &mut built, 64);
            CaseDoc::load(&built.save(), actor(0))
        }
    };
    let Ok(mut doc) = doc else { return };
    read(&mut doc);
});

fn chunks(mut rest: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let [a, b, tail @ ..] = rest {
        let n = usize::from(u16::from_le_bytes([*a, *b])).min(tail.len());
        out.push(tail[..n].to_vec());
        rest = &tail[n..];
    }
    out
}

fn read(doc: &mut CaseDoc) {
    let case = doc.case();
    for p in &case.parties {
        let _ = p.masked();
    }
    let events = doc.events();
    for e in &events {
        let _ = e.kind();
        if let Ok(action) = e.action() {
            let _ = action.validate();
            let _ = action.payload_json();
        }
    }
    let limits = case.time_limits.clone().unwrap_or_default();
    for now in [NOW_MS, 0, i64::MAX, i64::MIN] {
        let state = doc.state(&limits, Timestamp(now));
        let _ = format!("{state:?}");
    }
    let _ = TimeLimits::default().handle(case.difficulty);
    let _ = doc.conflicts();
    let _ = doc.missing_deps();
    let _ = doc.changes_since(&[]);
    // What a store does with it: save, checked to open again (Automerge 0.12 accepts some
    // change sets whose save does not reopen; stores refuse to keep those, see
    // `save_checked`), and the reopened document is the same case.
    let Ok(saved) = doc.save_checked() else {
        return;
    };
    let again = CaseDoc::load(&saved, actor(2)).expect("a checked save opens again");
    assert_eq!(again.id(), doc.id());
    // Debug, not `==`: a fuzzed location may be NaN.
    assert_eq!(format!("{:?}", again.case()), format!("{case:?}"));
    assert_eq!(again.events(), events);
}
