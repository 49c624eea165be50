//! The day behind `cargo bench -p gridsync-tests --bench bandwidth`: it syncs in one round
//! trip, the meter records exactly the bodies that crossed (the request the phone built,
//! the answer it applied), and the upload and the whole day stay within 1.15 × the zstd of
//! their raw changes.

use gridsync_core::protocol::{DecodeLimits, DocChanges, SyncRequest, SyncResponse};
use gridsync_core::workflow::Status;
use gridsync_tests::TestServer;
use gridsync_tests::day::{Day, EARLIER_CASES, EDITS, NEW_CASES};

#[test]
fn a_days_sync_is_one_round_trip_and_the_meter_counts_its_bodies() {
    let server = TestServer::start();
    let mut day = Day::prepare(&server, "meter-phone");
    let limits = DecodeLimits::default();
    let (outbox, _) = day.phone.store.build_request().unwrap();
    let metered = day.sync().unwrap();

    assert_eq!(metered.round_trips(), 1, "one exchange for the whole day");
    let exchange = &metered.exchanges[0];
    assert_eq!(metered.up_bytes(), exchange.request.len());
    assert_eq!(metered.down_bytes(), exchange.response.len());
    // What the meter saw is the phone's outbox, byte for byte as the store encodes it.
    assert_eq!(exchange.request, outbox.to_body());
    let request = SyncRequest::from_body(&exchange.request, &limits).unwrap();
    let changes: usize = request.push.iter().map(|d| d.changes.len()).sum();
    assert_eq!(changes, NEW_CASES + EDITS);
    assert_eq!(request.push.len(), NEW_CASES + EARLIER_CASES);

    // And the answer is the one the phone applied: every case acknowledged at once (the
    // compact form: no per-case heads), the office's sign-for and the auto-dispatch of
    // today's submissions pulled.
    let response = SyncResponse::from_body(&exchange.response, &limits).unwrap();
    assert!(response.acks.is_empty() && response.rejected.is_empty());
    assert_eq!(response.acked_through, request.pushed_through);
    let pulled: usize = response.pull.iter().map(|d| d.changes.len()).sum();
    assert_eq!(metered.report.pulled_changes as usize, pulled);
    assert_eq!(metered.report.acked_changes as usize, NEW_CASES + EDITS);
    assert_eq!(metered.report.unsent_changes, 0);
    for id in &day.new[..10] {
        let status = day.phone.store.case(*id).unwrap().state.status;
        assert_eq!(
            status,
            Status::Dispatched,
            "submitted today, dispatched in the answer"
        );
    }
    for id in &day.earlier[..EARLIER_CASES / 2] {
        let status = day.phone.store.case(*id).unwrap().state.status;
        assert_eq!(status, Status::InProgress, "the office's work came down");
    }

    // The protocol's own overhead on the upload stays small next to the changes it carries.
    let floor = floor_of(&request.push);
    assert!(
        exchange.request.len() as f64 <= 1.15 * floor as f64,
        "request {} B against a floor of {floor} B",
        exchange.request.len()
    );
    // And the whole day, both ways, within 1.15 × the floor of both directions.
    let floor_down = floor_of(&response.pull);
    let total = metered.up_bytes() + metered.down_bytes();
    assert!(
        total as f64 <= 1.15 * (floor + floor_down) as f64,
        "the day's {total} B against a floor of {} B",
        floor + floor_down
    );
}

/// The floor of one direction: the raw changes that must cross, zstd-compressed, and their
/// signatures (issue 17: 64 bytes each, which no compression shrinks). What signatures add
/// against the floor without them is in BENCHMARKS.md ("Signed changes"): 1.54 ×.
fn floor_of(docs: &[DocChanges]) -> usize {
    let raw: Vec<u8> = docs.iter().flat_map(|d| d.changes.concat()).collect();
    let signatures: usize = docs.iter().map(|d| d.signatures.len()).sum();
    zstd::bulk::compress(&raw, 3).unwrap().len() + 64 * signatures
}
