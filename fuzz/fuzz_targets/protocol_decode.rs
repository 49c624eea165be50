//! Sync protocol decoding under the default `DecodeLimits`: any bytes, as a request or a
//! response, raw CBOR or a zstd body, must decode or fail with a `DecodeError`, never panic
//! or allocate past the limits; whatever decodes must survive an encode/decode round trip.
#![no_main]

use gridsync_core::protocol::{DecodeLimits, SyncRequest, SyncResponse, decode_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits::default();

    // `from_body` is what the server and the phone call on an HTTP body.
    if let Ok(request) = SyncRequest::from_body(data, &limits) {
        let again = SyncRequest::decode(&request.encode(), &limits).expect("re-encoded request");
        assert_eq!(again, request);
        assert_eq!(
            SyncRequest::from_body(&request.to_body(), &limits),
            Ok(request)
        );
    }
    if let Ok(response) = SyncResponse::from_body(data, &limits) {
        let again = SyncResponse::decode(&response.encode(), &limits).expect("re-encoded response");
        assert_eq!(again, response);
        assert_eq!(
            SyncResponse::from_body(&response.to_body(), &limits),
            Ok(response)
        );
    }

    // A zstd body never yields more than the decoded limit.
    if let Ok(cbor) = decode_body(data, &limits) {
        assert!(cbor.len() <= limits.max_decoded_bytes);
    }

    // Tight limits: the checks that trip must be errors, not panics.
    let tight = DecodeLimits {
        max_body_bytes: 4096,
        max_decoded_bytes: 8192,
        max_docs: 3,
        max_changes_per_doc: 3,
        max_total_changes: 5,
        max_change_bytes: 64,
        max_string_bytes: 16,
        max_heads: 2,
    };
    let _ = SyncRequest::from_body(data, &tight);
    let _ = SyncResponse::from_body(data, &tight);
});
