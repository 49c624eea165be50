//! Resident memory of the device store with 10,000 cases (issue 6, target < 60 MB).
//!
//! A child process records 10,000 realistic cases (2 parties, 30 fields; half submitted) and
//! plays the center acknowledging them, as a phone's store looks after months of use. Then
//! this process, fresh, opens the store and does what the app does at start and on the case
//! screens, printing VmRSS and the peak VmHWM from `/proc/self/status` after each step.
//! The figures are the library's share: an app process adds its runtime (ART, UI) on top.
//!
//! `cargo run --release -p gridsync-core --example device_memory [-- CASES]`

use std::path::Path;
use std::time::Instant;

use gridsync_core::case::{
    CaseDoc, Category, Location, NewCase, NoteKind, PartyInput, PartyRole, RiskLevel, Sex, Source,
    Timestamp,
};
use gridsync_core::protocol::{Ack, SyncResponse};
use gridsync_core::store::{CaseFilter, FieldStore, StoreKey};
use gridsync_core::workflow::{Author, Role};

fn typical_case(i: usize) -> NewCase {
    NewCase {
        area_code: "330182101201".into(),
        grid_code: "330182101201002".into(),
        source: Source::GridVisit,
        title: format!("王家与李家宅基地边界纠纷 #{i}"),
        summary: "两户因新建围墙越界约0.5米发生争执，双方多次口角，李家扬言要拆墙。\
                  Two households dispute a new wall built 0.5 m over the line."
            .into(),
        category: Category::HomesteadHousing,
        occurred_at: Some(Timestamp(1_795_000_000_000 + i as i64 * 60_000)),
        address: format!("某县某镇某村三组{}号", i % 50),
        location: Some(Location {
            lat: 30.0512,
            lon: 119.9471,
        }),
        people_involved: 6,
        amount_involved: 1_200_000,
        risk_level: RiskLevel::Yellow,
        parties: vec![
            PartyInput {
                role: PartyRole::Applicant,
                name: format!("王建国{}", i % 100),
                id_number: format!("33018219680506{:04}", i % 10_000),
                sex: Sex::Male,
                ethnicity: "汉族".into(),
                phone: format!("138{:08}", i),
                address: "某县某镇某村三组12号".into(),
                ..PartyInput::default()
            },
            PartyInput {
                role: PartyRole::Respondent,
                name: format!("李秀英{}", i % 100),
                id_number: format!("33018219720315{:04}", i % 10_000),
                sex: Sex::Female,
                ethnicity: "汉族".into(),
                phone: format!("139{:08}", i),
                address: "某县某镇某村三组14号".into(),
                ..PartyInput::default()
            },
        ],
        ..NewCase::default()
    }
}

fn worker() -> Author {
    Author::new("u-wang", Role::GridWorker, "330182101201")
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn report(step: &str, started: Instant) {
    let (rss, hwm) = memory();
    println!(
        "{step:<52} {:>7.1} ms   VmRSS {:>6.1} MB   VmHWM {:>6.1} MB",
        started.elapsed().as_secs_f64() * 1000.0,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

/// Records `n` cases (every second one submitted, every fifth with a visit note) and
/// acknowledges everything, as the center would.
fn build(path: &Path, n: usize) {
    let mut store =
        FieldStore::open(path, "memory", &StoreKey::from_bytes(&[7; 32]).unwrap()).expect("open");
    store.set_identity(&worker()).expect("identity");
    for i in 0..n {
        let id = store.record(&typical_case(i)).expect("record");
        if i % 2 == 0 {
            store.submit(id).expect("submit");
        }
        if i % 5 == 0 {
            store
                .add_note(id, NoteKind::HomeVisit, "入户走访，双方情绪平稳")
                .expect("note");
        }
    }
    let mut center = std::collections::HashMap::new();
    while store.pending().expect("pending").changes > 0 {
        let (request, _) = store.build_request().expect("request");
        let mut response = SyncResponse::new(1);
        for push in &request.push {
            let doc = center.entry(push.doc_id).or_insert_with(|| {
                CaseDoc::from_changes(&push.changes, automerge::ActorId::random())
                    .expect("center doc")
            });
            doc.apply_changes(&push.changes).expect("merge");
            let heads = doc.heads().iter().map(|h| h.0).collect();
            response.acks.push(Ack {
                doc_id: push.doc_id,
                heads,
            });
        }
        store.apply_response(&response).expect("ack");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--build") {
        build(Path::new(&args[2]), args[3].parse().expect("count"));
        return;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("field.db");
    let started = Instant::now();
    let status = std::process::Command::new(std::env::current_exe().expect("exe"))
        .arg("--build")
        .arg(&path)
        .arg(n.to_string())
        .status()
        .expect("spawn the builder");
    assert!(status.success(), "building the store failed");
    println!(
        "store of {n} cases built (in a child process) in {:.1} s, {} bytes on disk",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
    );

    report("process start", Instant::now());
    let t = Instant::now();
    let store =
        FieldStore::open(&path, "memory", &StoreKey::from_bytes(&[7; 32]).unwrap()).expect("open");
    let first = store
        .cases(&CaseFilter {
            open_only: true,
            limit: 50,
            ..CaseFilter::default()
        })
        .expect("list");
    assert_eq!(first.len(), 50);
    report("open + list the first 50 open cases", t);
    let t = Instant::now();
    let all = store
        .cases(&CaseFilter {
            limit: u32::try_from(n).expect("count"),
            ..CaseFilter::default()
        })
        .expect("list all");
    assert_eq!(all.len(), n);
    report(&format!("list all {n} cases (one page)"), t);
    let t = Instant::now();
    let found = store
        .cases(&CaseFilter {
            text: Some("李秀英7".into()),
            ..CaseFilter::default()
        })
        .expect("search");
    report(&format!("search a party's name ({} hits)", found.len()), t);
    let t = Instant::now();
    for summary in all.iter().take(100) {
        std::hint::black_box(store.case(summary.id).expect("case"));
    }
    report("open 100 case details", t);
    drop(all);
    report("holding the store open, list dropped", Instant::now());
    // The first open above is cold (its pages come from the OS cache into SQLite's); the
    // criterion bench times warm ones. Both, so the two figures can be told apart.
    let mut warm: Vec<f64> = (0..11)
        .map(|_| {
            let t = Instant::now();
            let store = FieldStore::open(&path, "memory", &StoreKey::from_bytes(&[7; 32]).unwrap())
                .expect("open");
            let page = store
                .cases(&CaseFilter {
                    open_only: true,
                    limit: 50,
                    ..CaseFilter::default()
                })
                .expect("list");
            std::hint::black_box(page);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    warm.sort_by(f64::total_cmp);
    println!(
        "open + list the first 50 open cases again, median of 11: {:.1} ms",
        warm[5]
    );
    report("after 11 more opens (a second connection)", Instant::now());
}
