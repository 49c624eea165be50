//! Bandwidth of one phone's day (issue 6, part 2): 20 new cases and 40 edits made offline,
//! then one sync against the real server on loopback (`gridsync_tests::day` says exactly
//! what the day holds). Counts the request and response bodies and the HTTP round trips of
//! our protocol and sets them against:
//! (a) the same work as plain JSON over REST, one call per record or one batched upload,
//!     uncompressed, gzip (level 6, what `Content-Encoding: gzip` stacks use) and zstd (3);
//! (b) Automerge's own sync protocol run per document between two in-process peers, the
//!     center reacting (auto-dispatch) once it holds the phone's changes, as the server does;
//! (c) the floor: the raw (uncompressed) Automerge changes that must cross, zstd-compressed
//!     (level 3, as our bodies) in one stream per direction.
//!
//! Bodies only: HTTP headers (a few hundred bytes per request) are left out everywhere, which
//! flatters the many-request rows. SQLite by default; PostgreSQL when
//! GRIDSYNC_TEST_POSTGRES_URL is set.
//!
//! `cargo bench -p gridsync-tests --bench bandwidth`

use std::collections::{HashMap, HashSet};
use std::io::Write;

use automerge::sync::{Message, State, SyncDoc};
use automerge::{AutoCommit, Change, ChangeHash};
use gridsync_core::case::{CaseDoc, CaseId};
use gridsync_core::protocol::{DecodeLimits, DocChanges, SyncRequest, SyncResponse};
use gridsync_tests::TestServer;
use gridsync_tests::day::{Day, EDITS, Metered, NEW_CASES};
use serde_json::{Value, json};

const ZSTD_LEVEL: i32 = 3;

fn zstd(bytes: &[u8]) -> usize {
    zstd::bulk::compress(bytes, ZSTD_LEVEL).expect("zstd").len()
}

fn gzip(bytes: &[u8]) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip").len()
}

fn concat(changes: &[Vec<u8>]) -> Vec<u8> {
    changes.concat()
}

/// One row of the table.
struct Row {
    what: String,
    round_trips: usize,
    up: usize,
    down: usize,
}

/// Automerge's sync protocol on one document: the phone holds `phone`, the center `center`;
/// `react` are center changes made only once the center holds every hash in `wait_for`.
#[derive(Default)]
struct AmRun {
    round_trips: usize,
    /// Per round trip: the phone's message and the center's, encoded (empty when none).
    legs: Vec<(Vec<u8>, Vec<u8>)>,
}

fn automerge_sync(
    mut phone: AutoCommit,
    mut center: AutoCommit,
    wait_for: &[ChangeHash],
    mut react: Vec<Change>,
) -> (AmRun, Vec<ChangeHash>) {
    let (mut ps, mut cs) = (State::new(), State::new());
    let mut run = AmRun::default();
    loop {
        let up = phone
            .sync()
            .generate_sync_message(&mut ps)
            .map(Message::encode);
        if let Some(m) = &up {
            let msg = Message::decode(m).expect("decode");
            center
                .sync()
                .receive_sync_message(&mut cs, msg)
                .expect("center receives");
        }
        if !react.is_empty()
            && wait_for
                .iter()
                .all(|h| center.get_change_by_hash(h).is_some())
        {
            center
                .apply_changes(std::mem::take(&mut react))
                .expect("center reacts");
        }
        let down = center
            .sync()
            .generate_sync_message(&mut cs)
            .map(Message::encode);
        if let Some(m) = &down {
            let msg = Message::decode(m).expect("decode");
            phone
                .sync()
                .receive_sync_message(&mut ps, msg)
                .expect("phone receives");
        }
        if up.is_none() && down.is_none() {
            break;
        }
        run.round_trips += 1;
        run.legs
            .push((up.unwrap_or_default(), down.unwrap_or_default()));
        assert!(run.round_trips < 50, "automerge sync does not settle");
    }
    let (ph, ch) = (phone.get_heads(), center.get_heads());
    assert_eq!(ph, ch, "automerge peers converge");
    (run, ph)
}

fn doc_of(changes: &[Change]) -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.apply_changes(changes.iter().cloned())
        .expect("apply changes");
    doc
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let limits = DecodeLimits::default();
    let server = TestServer::start();
    let backend = if server.db.is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mut day = Day::prepare(&server, "bandwidth-phone");
    let pending = day.phone.store.pending().expect("pending");
    let metered: Metered = day.sync().expect("sync");
    assert_eq!(metered.report.unsent_changes, 0, "the day went up");

    // What crossed, decoded from the bodies themselves.
    let mut pushed: Vec<DocChanges> = Vec::new();
    let mut pulled: Vec<DocChanges> = Vec::new();
    let (mut cbor_up, mut cbor_down, mut acks, mut ack_heads) = (0, 0, 0, 0);
    for e in &metered.exchanges {
        let request = SyncRequest::from_body(&e.request, &limits).expect("request");
        let response = SyncResponse::from_body(&e.response, &limits).expect("response");
        cbor_up += request.encode().len();
        cbor_down += response.encode().len();
        acks += response.acks.len();
        ack_heads += response.acks.iter().map(|a| a.heads.len()).sum::<usize>();
        pushed.extend(request.push);
        pulled.extend(response.pull);
    }
    let up_changes: Vec<Vec<u8>> = pushed.iter().flat_map(|d| d.changes.clone()).collect();
    let down_changes: Vec<Vec<u8>> = pulled.iter().flat_map(|d| d.changes.clone()).collect();
    let raw_up: usize = up_changes.iter().map(Vec::len).sum();
    let raw_down: usize = down_changes.iter().map(Vec::len).sum();
    // The floor takes the changes uncompressed (Automerge deflates big ones one by one, which
    // zstd over the stream cannot see through); the deflated form is printed beside it.
    let floor_up = zstd(&concat(&form(&up_changes, false)));
    let floor_down = zstd(&concat(&form(&down_changes, false)));
    let deflated_up = zstd(&concat(&form(&up_changes, true)));
    let deflated_down = zstd(&concat(&form(&down_changes, true)));
    let floor = floor_up + floor_down;

    let mut rows = vec![
        Row {
            what: "gridsync /v1/sync (CBOR + zstd 3, one batched exchange)".into(),
            round_trips: metered.round_trips(),
            up: metered.up_bytes(),
            down: metered.down_bytes(),
        },
        Row {
            what: "floor: raw changes, zstd 3, one stream per direction".into(),
            round_trips: 1,
            up: floor_up,
            down: floor_down,
        },
    ];

    // (b) Automerge sync per document. Center before the day's exchange = its document now
    // minus what went up and came down in it.
    let up_by_doc: HashMap<CaseId, Vec<Change>> = by_doc(&pushed);
    let down_by_doc: HashMap<CaseId, Vec<Change>> = by_doc(&pulled);
    let docs: Vec<CaseId> = {
        let mut ids: Vec<CaseId> = up_by_doc
            .keys()
            .chain(down_by_doc.keys())
            .copied()
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let mut am_runs = Vec::new();
    let mut json_feed = Vec::new();
    for id in &docs {
        let mut center_now = server
            .block_on(gridsync_server::center::cases::load(&server.state, *id))
            .expect("load")
            .expect("the center holds the case");
        let all: Vec<Change> = center_now
            .changes_since(&[])
            .into_iter()
            .map(|b| Change::from_bytes(b).expect("change"))
            .collect();
        let up = up_by_doc.get(id).cloned().unwrap_or_default();
        let down = down_by_doc.get(id).cloned().unwrap_or_default();
        let crossed: HashSet<ChangeHash> = up.iter().chain(&down).map(Change::hash).collect();
        let before: Vec<Change> = all
            .iter()
            .filter(|c| !crossed.contains(&c.hash()))
            .cloned()
            .collect();
        // Center changes that do not depend on the phone's were made before the exchange
        // (the office's sign-for); the rest answer the phone's submit (auto-dispatch).
        let mut known: HashSet<ChangeHash> = before.iter().map(Change::hash).collect();
        let (mut pre, mut react) = (Vec::new(), Vec::new());
        for c in &down {
            if c.deps().iter().all(|d| known.contains(d)) {
                known.insert(c.hash());
                pre.push(c.clone());
            } else {
                react.push(c.clone());
            }
        }
        let phone_doc = doc_of(&[before.clone(), up.clone()].concat());
        let center_doc = doc_of(&[before.clone(), pre].concat());
        let wait_for: Vec<ChangeHash> = up.iter().map(Change::hash).collect();
        let (run, heads) = automerge_sync(phone_doc, center_doc, &wait_for, react);
        assert_eq!(
            heads,
            center_now.heads(),
            "automerge reaches the center's state"
        );
        am_runs.push(run);

        // (a) The down direction as JSON: the center's new events and limits of the case.
        if !down.is_empty() {
            let bytes = |cs: &[Change]| -> Vec<Vec<u8>> {
                cs.iter().map(|c| c.raw_bytes().to_vec()).collect()
            };
            let phone_view = CaseDoc::from_changes(
                &bytes(&[before.clone(), up.clone()].concat()),
                automerge::ActorId::random(),
            )
            .expect("phone view");
            let seen: HashSet<String> = phone_view.events().into_iter().map(|e| e.id).collect();
            let events: Vec<_> = center_now
                .events()
                .into_iter()
                .filter(|e| !seen.contains(&e.id))
                .collect();
            let mut item = json!({ "case_id": id.to_string(), "events": events });
            let limits_now = center_now.case().time_limits;
            if limits_now != phone_view.case().time_limits {
                item["time_limits"] = json!(limits_now);
            }
            json_feed.push(item);
        }
    }
    let am_msgs: usize = am_runs
        .iter()
        .flat_map(|r| &r.legs)
        .map(|(u, d)| usize::from(!u.is_empty()) + usize::from(!d.is_empty()))
        .sum();
    let am_up: usize = am_runs
        .iter()
        .flat_map(|r| &r.legs)
        .map(|l| l.0.len())
        .sum();
    let am_down: usize = am_runs
        .iter()
        .flat_map(|r| &r.legs)
        .map(|l| l.1.len())
        .sum();
    let am_rt_each: usize = am_runs.iter().map(|r| r.round_trips).sum();
    let am_rt_batched = am_runs.iter().map(|r| r.round_trips).max().unwrap_or(0);
    rows.push(Row {
        what: format!(
            "Automerge sync per document, one request per message pair ({am_msgs} messages)"
        ),
        round_trips: am_rt_each,
        up: am_up,
        down: am_down,
    });
    // The same messages, every document's leg of a step in one zstd body.
    let (mut am_bup, mut am_bdown) = (0, 0);
    for step in 0..am_rt_batched {
        let leg = |up: bool| -> Vec<u8> {
            am_runs
                .iter()
                .filter_map(|r| r.legs.get(step))
                .flat_map(|(u, d)| if up { u.clone() } else { d.clone() })
                .collect()
        };
        am_bup += zstd(&leg(true));
        am_bdown += zstd(&leg(false));
    }
    rows.push(Row {
        what: "Automerge sync, all documents batched per step, zstd 3".into(),
        round_trips: am_rt_batched,
        up: am_bup,
        down: am_bdown,
    });

    // (a) JSON REST.
    let bodies: Vec<Vec<u8>> = day
        .rest
        .iter()
        .map(|c| serde_json::to_vec(&c.body).expect("json"))
        .collect();
    // Answers: the id of what was created, nothing for a PATCH (204).
    let answers: Vec<Vec<u8>> = day
        .rest
        .iter()
        .map(|c| match c.method {
            "POST" => serde_json::to_vec(&json!({ "id": c.body["id"] })).expect("json"),
            _ => Vec::new(),
        })
        .collect();
    let feed = serde_json::to_vec(&json!({ "cursor": 0, "cases": json_feed })).expect("json");
    let per = |f: &dyn Fn(&[u8]) -> usize, v: &[Vec<u8>]| -> usize {
        v.iter().map(|b| if b.is_empty() { 0 } else { f(b) }).sum()
    };
    let ident = |b: &[u8]| b.len();
    let calls = day.rest.len() + 1; // + GET of the center's news
    for (name, f) in [
        ("uncompressed", &ident as &dyn Fn(&[u8]) -> usize),
        ("gzip 6 per body", &gzip),
        ("zstd 3 per body", &zstd),
    ] {
        rows.push(Row {
            what: format!("JSON REST, one call per record + GET news, {name}"),
            round_trips: calls,
            up: per(f, &bodies),
            down: per(f, &answers) + f(&feed),
        });
    }
    let batch: Vec<Value> = day
        .rest
        .iter()
        .map(|c| json!({ "method": c.method, "path": c.path, "body": c.body }))
        .collect();
    let batch = serde_json::to_vec(&batch).expect("json");
    let batch_answer: Vec<Value> = day
        .rest
        .iter()
        .map(|c| json!({ "id": c.body["id"] }))
        .collect();
    let answer = json!({ "cursor": 0, "cases": json_feed, "results": batch_answer });
    let batch_answer = serde_json::to_vec(&answer).expect("json");
    for (name, f) in [
        ("uncompressed", &ident as &dyn Fn(&[u8]) -> usize),
        ("gzip 6", &gzip),
        ("zstd 3", &zstd),
    ] {
        rows.push(Row {
            what: format!("JSON, one batched upload answered with the news, {name}"),
            round_trips: 1,
            up: f(&batch),
            down: f(&batch_answer),
        });
    }

    println!(
        "bandwidth [{backend}]: one phone's day = {NEW_CASES} new cases + {EDITS} edits offline \
         ({} changes over {} cases up; {} center changes over {} cases down), then one sync",
        pending.changes,
        pending.cases,
        down_changes.len(),
        pulled.len(),
    );
    println!(
        "| protocol | round trips | up (B) | down (B) | total (B) | × floor |\n|---|---|---|---|---|---|"
    );
    for r in &rows {
        let total = r.up + r.down;
        println!(
            "| {} | {} | {} | {} | {} | {:.2} |",
            r.what,
            r.round_trips,
            r.up,
            r.down,
            total,
            total as f64 / floor as f64
        );
    }
    let ours = metered.up_bytes() + metered.down_bytes();
    println!(
        "gridsync up: {} changes, {raw_up} B raw → CBOR {cbor_up} B → body {} B ({:.2} × up floor {floor_up} B)",
        up_changes.len(),
        metered.up_bytes(),
        metered.up_bytes() as f64 / floor_up as f64,
    );
    println!(
        "gridsync down: {} changes, {raw_down} B raw, {acks} acks ({ack_heads} heads) → CBOR {cbor_down} B → body {} B (down floor {floor_down} B)",
        down_changes.len(),
        metered.down_bytes(),
    );
    println!(
        "the same changes each deflated by Automerge (its `Change::bytes`), then zstd 3: up {deflated_up} B, down {deflated_down} B"
    );
    println!(
        "gridsync total {ours} B = {:.3} × floor {floor} B (target ≤ 1.15), {} round trip(s) (target 1)",
        ours as f64 / floor as f64,
        metered.round_trips(),
    );
    // Signatures (issue 17): 64 bytes per pushed change, random to any compressor. The same
    // requests without them (an app older than signatures), and the floor with them.
    let signatures: usize = pushed.iter().map(|d| d.signatures.len()).sum();
    let unsigned_up: usize = metered
        .exchanges
        .iter()
        .map(|e| {
            let mut request = SyncRequest::from_body(&e.request, &limits).expect("request");
            request.push.iter_mut().for_each(|d| d.signatures.clear());
            request.to_body().len()
        })
        .sum();
    let unsigned_total = unsigned_up + metered.down_bytes();
    let signed_floor = floor + 64 * signatures;
    println!(
        "signatures: {signatures} × 64 B; without them up {unsigned_up} B, total {unsigned_total} B = {:.3} × floor; with them {ours} B = {:.3} × floor {floor} B, {:.3} × the floor plus the signatures ({signed_floor} B)",
        unsigned_total as f64 / floor as f64,
        ours as f64 / floor as f64,
        ours as f64 / signed_floor as f64,
    );
}

/// The changes uncompressed (`raw_bytes`) or each deflated by Automerge (`bytes`).
fn form(changes: &[Vec<u8>], deflated: bool) -> Vec<Vec<u8>> {
    changes
        .iter()
        .map(|b| {
            let mut c = Change::from_bytes(b.clone()).expect("change");
            if deflated {
                c.bytes().into_owned()
            } else {
                c.raw_bytes().to_vec()
            }
        })
        .collect()
}

fn by_doc(docs: &[DocChanges]) -> HashMap<CaseId, Vec<Change>> {
    let mut out: HashMap<CaseId, Vec<Change>> = HashMap::new();
    for d in docs {
        out.entry(d.doc_id).or_default().extend(
            d.changes
                .iter()
                .map(|b| Change::from_bytes(b.clone()).expect("change")),
        );
    }
    out
}
