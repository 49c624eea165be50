//! Wire protocol: round trips, frozen v1 bytes, and what hostile input gets.

use std::io::Write as _;
use std::path::PathBuf;

use gridsync_core::case::CaseId;
use gridsync_core::protocol::{
    Ack, CONTENT_ENCODING, CONTENT_TYPE, DecodeError, DecodeLimits, DocChanges, PROTOCOL_VERSION,
    RejectCode, Rejection, SUPPORTED_PROTOCOLS, SyncRequest, SyncResponse, decode_body,
    encode_body,
};
use minicbor::Encoder;
use proptest::prelude::*;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

fn id(s: &str) -> CaseId {
    s.parse().expect("fixed uuid")
}

// ---- the fixed example frozen in tests/fixtures (see the README there) ----------------------

/// A device with two cases to push: one with two changes, one with one.
fn example_request() -> SyncRequest {
    SyncRequest {
        protocol: 1,
        device_id: "android-7f3a".into(),
        cursor: 41,
        push: vec![
            DocChanges {
                signatures: Vec::new(),
                doc_id: id("6f1c3d2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f"),
                changes: vec![
                    hex::decode("856f4a83deadbeef0101").unwrap(),
                    hex::decode("856f4a83cafebabe0202").unwrap(),
                ],
            },
            DocChanges {
                signatures: Vec::new(),
                doc_id: id("0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"),
                changes: vec![hex::decode("856f4a8300112233").unwrap()],
            },
        ],
        max_bytes: 262_144,
        // Optional keys left out: the frozen bytes predate them.
        applied_whole: 0,
        pushed_through: 0,
    }
}

/// The server's answer: both pushed cases acknowledged, a third rejected, one case pulled,
/// more to come, one case revoked.
fn example_response() -> SyncResponse {
    SyncResponse {
        protocol: 1,
        acks: vec![
            Ack {
                doc_id: id("6f1c3d2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f"),
                heads: vec![[0x11; 32]],
            },
            Ack {
                doc_id: id("0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"),
                heads: vec![[0x22; 32], [0x33; 32]],
            },
        ],
        rejected: vec![Rejection {
            doc_id: id("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"),
            code: RejectCode::EventNotPermitted,
            message: "role may not close a case".into(),
        }],
        pull: vec![DocChanges {
            signatures: Vec::new(),
            doc_id: id("11111111-2222-4333-8444-555555555555"),
            changes: vec![hex::decode("856f4a8344556677").unwrap()],
        }],
        cursor: 57,
        more: true,
        revoked: vec![id("99999999-8888-4777-8666-555555555555")],
        whole_no: 0,
        acked_through: 0,
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Compares `encoded` with the golden file. Writes the file only when it is missing or
/// `GRIDSYNC_BLESS=1`: the files freeze v1, so a mismatch is a wire break, not a stale file.
fn check_golden(name: &str, encoded: &[u8]) -> Vec<u8> {
    let path = fixture(name);
    let bless = std::env::var("GRIDSYNC_BLESS").is_ok_and(|v| v == "1");
    if bless || !path.exists() {
        std::fs::write(&path, encoded).expect("write golden file");
        eprintln!("wrote {}", path.display());
    }
    let golden = std::fs::read(&path).expect("read golden file");
    assert_eq!(
        hex::encode(encoded),
        hex::encode(&golden),
        "{name}: the v1 wire format changed; see tests/fixtures/README.md"
    );
    golden
}

#[test]
fn golden_request_v1() {
    let golden = check_golden("sync_request_v1.cbor", &example_request().encode());
    let decoded = SyncRequest::decode(&golden, &DecodeLimits::default()).unwrap();
    assert_eq!(decoded, example_request());
}

#[test]
fn golden_response_v1() {
    let golden = check_golden("sync_response_v1.cbor", &example_response().encode());
    let decoded = SyncResponse::decode(&golden, &DecodeLimits::default()).unwrap();
    assert_eq!(decoded, example_response());
}

/// The example request signed (issue 17): key 2 of each pushed case carries one 64-byte
/// signature per change. Frozen in its own file; the unsigned v1 file above is unchanged.
fn example_signed_request() -> SyncRequest {
    let mut request = example_request();
    for (k, doc) in request.push.iter_mut().enumerate() {
        doc.signatures = (0..doc.changes.len())
            .map(|i| [u8::try_from(0x40 + 16 * k + i).unwrap(); 64])
            .collect();
    }
    request
}

#[test]
fn golden_signed_request_v1() {
    let limits = DecodeLimits::default();
    let golden = check_golden(
        "sync_request_v1_signed.cbor",
        &example_signed_request().encode(),
    );
    let decoded = SyncRequest::decode(&golden, &limits).unwrap();
    assert_eq!(decoded, example_signed_request());
    assert_eq!(decoded.push[0].signatures.len(), 2);
    // An older reader skips key 2: the unsigned golden request decodes with no signatures,
    // and a reader that ignores the key sees the same changes.
    let unsigned = SyncRequest::decode(
        &std::fs::read(fixture("sync_request_v1.cbor")).unwrap(),
        &limits,
    )
    .unwrap();
    assert!(unsigned.push.iter().all(|d| d.signatures.is_empty()));
    assert_eq!(unsigned.push[0].changes, decoded.push[0].changes);
    // Decode limits apply to the signature list too.
    let tight = DecodeLimits {
        max_changes_per_doc: 1,
        ..limits
    };
    let mut one = example_signed_request();
    one.push[0].changes.truncate(1);
    let bytes = one.encode();
    assert!(matches!(
        SyncRequest::decode(&bytes, &tight),
        Err(DecodeError::LimitExceeded {
            what: "changes_per_doc",
            ..
        })
    ));
    // A signature of another length is malformed, not truncated or padded.
    let mut short = example_signed_request().encode();
    let at = short
        .windows(2)
        .position(|w| w == [0x58, 0x40])
        .expect("a 64-byte string");
    short[at + 1] = 0x3f;
    short.remove(at + 2);
    assert!(matches!(
        SyncRequest::decode(&short, &limits),
        Err(DecodeError::Malformed(_))
    ));
}

/// The whole-send numbers (keys 5 in a request, 7 in a response) and the compact
/// acknowledgement (keys 6 and 8) are optional keys: written only when set, so a message
/// without them keeps the frozen v1 bytes, and one with them decodes.
#[test]
fn whole_send_numbers_and_compact_acks_are_optional_keys() {
    let limits = DecodeLimits::default();
    let mut request = example_request();
    request.applied_whole = 3;
    let bytes = request.encode();
    assert_eq!(bytes[0], 0xa6, "a map of six keys");
    assert_eq!(SyncRequest::decode(&bytes, &limits).unwrap(), request);
    request.pushed_through = 41;
    let bytes = request.encode();
    assert_eq!(bytes[0], 0xa7, "a map of seven keys");
    assert_eq!(SyncRequest::decode(&bytes, &limits).unwrap(), request);
    let mut response = example_response();
    response.whole_no = 4;
    let bytes = response.encode();
    assert_eq!(bytes[0], 0xa8, "a map of eight keys");
    assert_eq!(SyncResponse::decode(&bytes, &limits).unwrap(), response);
    response.acked_through = 41;
    let bytes = response.encode();
    assert_eq!(bytes[0], 0xa9, "a map of nine keys");
    assert_eq!(SyncResponse::decode(&bytes, &limits).unwrap(), response);
    assert_eq!(example_request().encode()[0], 0xa5);
    assert_eq!(example_response().encode()[0], 0xa7);
}

#[test]
fn bodies_are_zstd_and_raw_cbor_is_accepted() {
    let limits = DecodeLimits::default();
    let request = example_request();
    let body = request.to_body();
    assert!(body.starts_with(&ZSTD_MAGIC));
    assert_eq!(decode_body(&body, &limits).unwrap(), request.encode());
    assert_eq!(
        SyncRequest::from_body(&request.encode(), &limits).unwrap(),
        request
    );
    assert_eq!(encode_body(b"abc").len(), body_len_of(b"abc"));
    assert_eq!(
        (CONTENT_TYPE, CONTENT_ENCODING),
        ("application/cbor", "zstd")
    );
    assert_eq!((PROTOCOL_VERSION, SUPPORTED_PROTOCOLS), (1, &[1][..]));
}

fn body_len_of(cbor: &[u8]) -> usize {
    zstd::bulk::compress(cbor, 3).unwrap().len()
}

#[test]
fn byte_accounting() {
    assert_eq!(example_request().change_bytes(), 10 + 10 + 8);
    assert_eq!(example_response().pull_bytes(), 8);
    assert_eq!(SyncResponse::new(3).pull_bytes(), 0);
}

#[test]
fn reject_codes_have_stable_strings() {
    let known = [
        (RejectCode::OutOfScope, "out_of_scope"),
        (RejectCode::EventNotPermitted, "event_not_permitted"),
        (RejectCode::ActorNotBound, "actor_not_bound"),
        (RejectCode::MalformedChange, "malformed_change"),
        (RejectCode::TooLarge, "too_large"),
        (RejectCode::Internal, "internal"),
        (RejectCode::BadSignature, "bad_signature"),
        (RejectCode::SignatureRequired, "signature_required"),
    ];
    for (code, s) in known {
        assert_eq!(code.as_str(), s);
        assert_eq!(code.to_string(), s);
        assert_eq!(RejectCode::from(s), code);
    }
    let future = RejectCode::from("quota_exceeded");
    assert_eq!(future, RejectCode::Unknown("quota_exceeded".into()));
    assert_eq!(future.as_str(), "quota_exceeded");
}

#[test]
fn unknown_reject_code_survives_a_round_trip() {
    let mut response = example_response();
    response.rejected[0].code = RejectCode::Unknown("quota_exceeded".into());
    let decoded = SyncResponse::decode(&response.encode(), &DecodeLimits::default()).unwrap();
    assert_eq!(decoded.rejected[0].code.as_str(), "quota_exceeded");
    assert_eq!(decoded, response);
}

#[test]
fn decode_error_codes_are_stable() {
    let cases = [
        (
            DecodeError::UnsupportedProtocol {
                got: 99,
                supported: SUPPORTED_PROTOCOLS,
            },
            "unsupported_protocol",
        ),
        (DecodeError::BodyTooLarge { limit: 1 }, "body_too_large"),
        (
            DecodeError::DecodedTooLarge { limit: 1 },
            "decoded_too_large",
        ),
        (DecodeError::Compression("x".into()), "bad_compression"),
        (DecodeError::Malformed("x".into()), "malformed_cbor"),
        (DecodeError::TrailingBytes { at: 1 }, "trailing_bytes"),
        (
            DecodeError::LimitExceeded {
                what: "docs",
                limit: 1,
            },
            "limit_exceeded",
        ),
    ];
    for (error, code) in cases {
        assert_eq!(error.code(), code);
        let message = error.to_string();
        assert!(!message.ends_with('.'), "{message}");
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
    }
}

// ---- round trips -------------------------------------------------------------------------

fn case_id() -> impl Strategy<Value = CaseId> {
    any::<[u8; 16]>().prop_map(CaseId::from_bytes)
}

fn doc_changes() -> impl Strategy<Value = DocChanges> {
    (
        case_id(),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..4),
    )
        .prop_map(|(doc_id, changes)| {
            // Signed (key 2) or not, both round-trip.
            let signatures = if doc_id.as_bytes()[0] % 2 == 0 {
                changes.iter().map(|c| [c.len() as u8; 64]).collect()
            } else {
                Vec::new()
            };
            DocChanges {
                doc_id,
                changes,
                signatures,
            }
        })
}

fn reject_code() -> impl Strategy<Value = RejectCode> {
    prop_oneof![
        Just(RejectCode::OutOfScope),
        Just(RejectCode::EventNotPermitted),
        Just(RejectCode::ActorNotBound),
        Just(RejectCode::MalformedChange),
        Just(RejectCode::TooLarge),
        Just(RejectCode::Internal),
        // Any string that is not a known code stays Unknown on the way back.
        "\\PC{0,24}".prop_map(|s| RejectCode::from(s.as_str())),
    ]
}

fn request() -> impl Strategy<Value = SyncRequest> {
    (
        any::<u32>().prop_map(|_| PROTOCOL_VERSION),
        "\\PC{0,40}",
        any::<u64>(),
        prop::collection::vec(doc_changes(), 0..4),
        any::<u64>(),
        prop_oneof![Just(0u64), any::<u64>()],
        prop_oneof![Just(0u64), any::<u64>()],
    )
        .prop_map(
            |(protocol, device_id, cursor, push, max_bytes, applied_whole, pushed_through)| {
                SyncRequest {
                    protocol,
                    device_id,
                    cursor,
                    push,
                    max_bytes,
                    applied_whole,
                    pushed_through,
                }
            },
        )
}

fn response() -> impl Strategy<Value = SyncResponse> {
    let ack = (case_id(), prop::collection::vec(any::<[u8; 32]>(), 0..3))
        .prop_map(|(doc_id, heads)| Ack { doc_id, heads });
    let rejection =
        (case_id(), reject_code(), "\\PC{0,40}").prop_map(|(doc_id, code, message)| Rejection {
            doc_id,
            code,
            message,
        });
    (
        prop::collection::vec(ack, 0..4),
        prop::collection::vec(rejection, 0..4),
        prop::collection::vec(doc_changes(), 0..4),
        any::<u64>(),
        any::<bool>(),
        prop::collection::vec(case_id(), 0..4),
        prop_oneof![Just(0u64), any::<u64>()],
        prop_oneof![Just(0u64), any::<u64>()],
    )
        .prop_map(
            |(acks, rejected, pull, cursor, more, revoked, whole_no, acked_through)| SyncResponse {
                protocol: PROTOCOL_VERSION,
                acks,
                rejected,
                pull,
                cursor,
                more,
                revoked,
                whole_no,
                acked_through,
            },
        )
}

proptest! {
    #[test]
    fn request_round_trips(request in request()) {
        let limits = DecodeLimits::default();
        prop_assert_eq!(&SyncRequest::decode(&request.encode(), &limits).unwrap(), &request);
        prop_assert_eq!(&SyncRequest::from_body(&request.to_body(), &limits).unwrap(), &request);
    }

    #[test]
    fn response_round_trips(response in response()) {
        let limits = DecodeLimits::default();
        prop_assert_eq!(&SyncResponse::decode(&response.encode(), &limits).unwrap(), &response);
        prop_assert_eq!(
            &SyncResponse::from_body(&response.to_body(), &limits).unwrap(),
            &response
        );
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let limits = DecodeLimits::default();
        let _ = SyncRequest::decode(&bytes, &limits);
        let _ = SyncResponse::decode(&bytes, &limits);
        let _ = SyncRequest::from_body(&bytes, &limits);
        let _ = SyncResponse::from_body(&bytes, &limits);
    }

    /// Random bytes rarely get past the first byte; corrupting real messages reaches deeper.
    #[test]
    fn corrupted_messages_never_panic(
        response in response(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let limits = DecodeLimits::default();
        let mut bytes = response.encode();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = SyncResponse::decode(&bytes, &limits);
        let _ = SyncRequest::decode(&bytes, &limits);
    }

    #[test]
    fn corrupted_bodies_never_panic(
        request in request(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let limits = DecodeLimits::default();
        let mut body = request.to_body();
        for (at, byte) in edits {
            let i = at.index(body.len());
            body[i] = byte;
        }
        let _ = SyncRequest::from_body(&body, &limits);
    }
}

// ---- hostile input -----------------------------------------------------------------------

#[test]
fn every_truncated_prefix_is_an_error() {
    let limits = DecodeLimits::default();
    let request = example_request().encode();
    for n in 0..request.len() {
        assert!(
            SyncRequest::decode(&request[..n], &limits).is_err(),
            "request prefix {n}"
        );
    }
    let response = example_response().encode();
    for n in 0..response.len() {
        assert!(
            SyncResponse::decode(&response[..n], &limits).is_err(),
            "response prefix {n}"
        );
    }
    let body = example_response().to_body();
    for n in 0..body.len() {
        assert!(
            SyncResponse::from_body(&body[..n], &limits).is_err(),
            "body prefix {n}"
        );
    }
}

#[test]
fn trailing_garbage_is_an_error() {
    let limits = DecodeLimits::default();
    let mut cbor = example_request().encode();
    let end = cbor.len();
    cbor.push(0x00);
    assert_eq!(
        SyncRequest::decode(&cbor, &limits).unwrap_err(),
        DecodeError::TrailingBytes { at: end }
    );
    // Inside the compressed body.
    assert_eq!(
        SyncRequest::from_body(&encode_body(&cbor), &limits).unwrap_err(),
        DecodeError::TrailingBytes { at: end }
    );
    // After the zstd frame.
    let mut body = example_request().to_body();
    body.extend_from_slice(b"garbage!");
    let err = SyncRequest::from_body(&body, &limits).unwrap_err();
    assert_eq!(err.code(), "bad_compression", "{err}");
}

/// `{0: version, 1: "x", 77: {..unknown shape..}}`
fn message_with_version(version: u64) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    e.map(3).unwrap();
    e.u8(0).unwrap().u64(version).unwrap();
    e.u8(1).unwrap().str("x").unwrap();
    e.u8(77)
        .unwrap()
        .map(1)
        .unwrap()
        .str("v2")
        .unwrap()
        .array(2)
        .unwrap();
    e.f64(1.5).unwrap().null().unwrap();
    e.into_writer()
}

#[test]
fn unknown_protocol_version_is_named_whatever_the_body() {
    let limits = DecodeLimits::default();
    let v99 = message_with_version(99);
    for err in [
        SyncRequest::decode(&v99, &limits).unwrap_err(),
        SyncResponse::decode(&v99, &limits).unwrap_err(),
        SyncRequest::from_body(&encode_body(&v99), &limits).unwrap_err(),
    ] {
        assert_eq!(
            err,
            DecodeError::UnsupportedProtocol {
                got: 99,
                supported: &[1]
            }
        );
        assert_eq!(err.code(), "unsupported_protocol");
        assert_eq!(
            err.to_string(),
            "unsupported protocol version 99, this side speaks 1"
        );
    }
    // A well-formed v1 request carrying version 99 is refused the same way.
    let mut request = example_request();
    request.protocol = 99;
    let err = SyncRequest::decode(&request.encode(), &limits).unwrap_err();
    assert_eq!(err.code(), "unsupported_protocol");
    // Version 1 with that unknown shape is simply malformed.
    let err = SyncRequest::decode(&message_with_version(1), &limits).unwrap_err();
    assert_eq!(err.code(), "malformed_cbor");
}

#[test]
fn version_key_is_found_anywhere_and_required() {
    let limits = DecodeLimits::default();
    let mut e = Encoder::new(Vec::new());
    e.map(2).unwrap();
    e.str("future")
        .unwrap()
        .array(1)
        .unwrap()
        .bytes(&[1, 2])
        .unwrap();
    e.u8(0).unwrap().u32(2).unwrap();
    let err = SyncRequest::decode(e.writer(), &limits).unwrap_err();
    assert_eq!(err.code(), "unsupported_protocol");

    let mut e = Encoder::new(Vec::new());
    e.map(1).unwrap().u8(1).unwrap().str("x").unwrap();
    let err = SyncRequest::decode(e.writer(), &limits).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Malformed("missing protocol version (key 0)".into())
    );

    let not_a_map = [0x80];
    assert_eq!(
        SyncRequest::decode(&not_a_map, &limits).unwrap_err().code(),
        "malformed_cbor"
    );

    // Key 0 twice: the last value counts, and is checked.
    let mut e = Encoder::new(Vec::new());
    e.map(6).unwrap();
    e.u8(0).unwrap().u32(1).unwrap();
    e.u8(1).unwrap().str("d").unwrap();
    e.u8(2).unwrap().u64(0).unwrap();
    e.u8(3).unwrap().array(0).unwrap();
    e.u8(4).unwrap().u64(0).unwrap();
    e.u8(0).unwrap().u32(7).unwrap();
    let err = SyncRequest::decode(e.writer(), &limits).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnsupportedProtocol {
            got: 7,
            supported: &[1]
        }
    );
}

#[test]
fn unknown_map_keys_are_ignored() {
    let limits = DecodeLimits::default();
    let doc = id("6f1c3d2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f");
    let mut e = Encoder::new(Vec::new());
    e.map(6).unwrap();
    e.u8(0).unwrap().u32(1).unwrap();
    // A key from the future, before the known ones, with a nested value.
    e.u8(9)
        .unwrap()
        .map(1)
        .unwrap()
        .str("hint")
        .unwrap()
        .array(2)
        .unwrap();
    e.u8(1).unwrap().bytes(&[0; 40]).unwrap();
    e.u8(1).unwrap().str("dev").unwrap();
    e.u8(2).unwrap().u64(5).unwrap();
    e.u8(3).unwrap().begin_array().unwrap(); // indefinite arrays are fine too
    e.map(3).unwrap();
    e.u8(0).unwrap().bytes(doc.as_bytes()).unwrap();
    e.u8(1).unwrap().array(1).unwrap().bytes(b"chg").unwrap();
    e.u16(500).unwrap().str("per-doc extension").unwrap();
    e.end().unwrap();
    e.u8(4).unwrap().u64(1024).unwrap();
    let decoded = SyncRequest::decode(e.writer(), &limits).unwrap();
    let mut expected = SyncRequest::new("dev", 5, 1024);
    expected.push.push(DocChanges {
        signatures: Vec::new(),
        doc_id: doc,
        changes: vec![b"chg".to_vec()],
    });
    assert_eq!(decoded, expected);
}

#[test]
fn missing_or_mistyped_fields_are_malformed() {
    let limits = DecodeLimits::default();
    let mut e = Encoder::new(Vec::new());
    e.map(2).unwrap();
    e.u8(0).unwrap().u32(1).unwrap();
    e.u8(1).unwrap().str("dev").unwrap();
    assert_eq!(
        SyncRequest::decode(e.writer(), &limits).unwrap_err().code(),
        "malformed_cbor"
    );

    // A doc id of 15 bytes.
    let mut e = Encoder::new(Vec::new());
    e.map(7).unwrap();
    e.u8(0).unwrap().u32(1).unwrap();
    e.u8(1).unwrap().array(0).unwrap();
    e.u8(2).unwrap().array(0).unwrap();
    e.u8(3).unwrap().array(0).unwrap();
    e.u8(4).unwrap().u64(0).unwrap();
    e.u8(5).unwrap().bool(false).unwrap();
    e.u8(6).unwrap().array(1).unwrap().bytes(&[0; 15]).unwrap();
    assert_eq!(
        SyncResponse::decode(e.writer(), &limits)
            .unwrap_err()
            .code(),
        "malformed_cbor"
    );
}

/// A request whose `push` array header claims `len` entries and then ends.
fn request_claiming_docs(len: u64) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    e.map(5).unwrap();
    e.u8(0).unwrap().u32(1).unwrap();
    e.u8(1).unwrap().str("d").unwrap();
    e.u8(2).unwrap().u64(0).unwrap();
    e.u8(3).unwrap().array(len).unwrap();
    e.into_writer()
}

fn no_limits() -> DecodeLimits {
    DecodeLimits {
        max_body_bytes: usize::MAX,
        max_decoded_bytes: usize::MAX,
        max_docs: usize::MAX,
        max_changes_per_doc: usize::MAX,
        max_total_changes: usize::MAX,
        max_change_bytes: usize::MAX,
        max_string_bytes: usize::MAX,
        max_heads: usize::MAX,
    }
}

#[test]
fn huge_declared_lengths_fail_without_allocating() {
    let huge = 1u64 << 40;
    let err = SyncRequest::decode(&request_claiming_docs(huge), &DecodeLimits::default());
    assert_eq!(
        err.unwrap_err(),
        DecodeError::LimitExceeded {
            what: "docs",
            limit: 10_000
        }
    );
    // Even with every limit off, the claim is not believed beyond the input.
    let err = SyncRequest::decode(&request_claiming_docs(huge), &no_limits()).unwrap_err();
    assert_eq!(err.code(), "malformed_cbor");
    let err = SyncRequest::decode(&request_claiming_docs(u64::MAX), &no_limits()).unwrap_err();
    assert_eq!(err.code(), "malformed_cbor");

    // Byte and text strings claiming 2^40 bytes.
    for header in [0x5b, 0x7b] {
        let mut cbor = request_claiming_docs(1);
        cbor.extend_from_slice(&[0xa2, 0x00, 0x50]);
        cbor.extend_from_slice(&[0; 16]);
        cbor.extend_from_slice(&[0x01, 0x81, header]);
        cbor.extend_from_slice(&huge.to_be_bytes());
        let err = SyncRequest::decode(&cbor, &no_limits()).unwrap_err();
        assert_eq!(err.code(), "malformed_cbor", "{err}");
    }
    // A huge map header at the top.
    let cbor = [0xbb, 0, 0, 1, 0, 0, 0, 0, 0];
    assert_eq!(
        SyncRequest::decode(&cbor, &no_limits()).unwrap_err().code(),
        "malformed_cbor"
    );
}

fn limit_err(what: &'static str, limit: usize) -> DecodeError {
    DecodeError::LimitExceeded { what, limit }
}

fn doc(n: u8, changes: usize, size: usize) -> DocChanges {
    DocChanges {
        signatures: Vec::new(),
        doc_id: CaseId::from_bytes([n; 16]),
        changes: vec![vec![0xab; size]; changes],
    }
}

/// Each limit: the message at the limit decodes, one over is refused by name.
#[test]
fn every_count_limit_is_enforced() {
    let tight = |f: fn(&mut DecodeLimits)| {
        let mut limits = DecodeLimits::default();
        f(&mut limits);
        limits
    };

    // Requests.
    let mut request = SyncRequest::new("dev", 0, 0);
    request.push = vec![doc(1, 1, 1), doc(2, 1, 1), doc(3, 1, 1)];
    let limits = tight(|l| l.max_docs = 3);
    assert!(SyncRequest::decode(&request.encode(), &limits).is_ok());
    let limits = tight(|l| l.max_docs = 2);
    assert_eq!(
        SyncRequest::decode(&request.encode(), &limits),
        Err(limit_err("docs", 2))
    );

    let mut request = SyncRequest::new("dev", 0, 0);
    request.push = vec![doc(1, 3, 1)];
    let limits = tight(|l| l.max_changes_per_doc = 3);
    assert!(SyncRequest::decode(&request.encode(), &limits).is_ok());
    let limits = tight(|l| l.max_changes_per_doc = 2);
    let err = SyncRequest::decode(&request.encode(), &limits);
    assert_eq!(err, Err(limit_err("changes_per_doc", 2)));

    let mut request = SyncRequest::new("dev", 0, 0);
    request.push = vec![doc(1, 2, 1), doc(2, 2, 1)];
    let limits = tight(|l| l.max_total_changes = 4);
    assert!(SyncRequest::decode(&request.encode(), &limits).is_ok());
    let limits = tight(|l| l.max_total_changes = 3);
    let err = SyncRequest::decode(&request.encode(), &limits);
    assert_eq!(err, Err(limit_err("total_changes", 3)));

    let mut request = SyncRequest::new("dev", 0, 0);
    request.push = vec![doc(1, 1, 100)];
    let limits = tight(|l| l.max_change_bytes = 100);
    assert!(SyncRequest::decode(&request.encode(), &limits).is_ok());
    let limits = tight(|l| l.max_change_bytes = 99);
    let err = SyncRequest::decode(&request.encode(), &limits);
    assert_eq!(err, Err(limit_err("change_bytes", 99)));

    let request = SyncRequest::new("d".repeat(65), 0, 0);
    let limits = tight(|l| l.max_string_bytes = 65);
    assert!(SyncRequest::decode(&request.encode(), &limits).is_ok());
    let limits = tight(|l| l.max_string_bytes = 64);
    let err = SyncRequest::decode(&request.encode(), &limits);
    assert_eq!(err, Err(limit_err("string_bytes", 64)));

    // Responses: every document list counts against max_docs.
    let lists: [fn(&mut SyncResponse); 5] = [
        |r| {
            r.acks = vec![
                Ack {
                    doc_id: CaseId::from_bytes([1; 16]),
                    heads: vec![]
                };
                3
            ]
        },
        |r| {
            r.rejected = vec![
                Rejection {
                    doc_id: CaseId::from_bytes([1; 16]),
                    code: RejectCode::Internal,
                    message: String::new(),
                };
                3
            ]
        },
        |r| r.pull = vec![doc(1, 0, 0); 3],
        |r| r.revoked = vec![CaseId::from_bytes([1; 16]); 3],
        |r| r.pull = vec![doc(1, 0, 0), doc(2, 0, 0), doc(3, 1, 0)],
    ];
    for fill in lists {
        let mut response = SyncResponse::new(0);
        fill(&mut response);
        let limits = tight(|l| l.max_docs = 3);
        assert!(SyncResponse::decode(&response.encode(), &limits).is_ok());
        let limits = tight(|l| l.max_docs = 2);
        let err = SyncResponse::decode(&response.encode(), &limits);
        assert_eq!(err, Err(limit_err("docs", 2)), "{response:?}");
    }

    let mut response = SyncResponse::new(0);
    response.acks = vec![Ack {
        doc_id: CaseId::from_bytes([1; 16]),
        heads: vec![[7; 32]; 3],
    }];
    let limits = tight(|l| l.max_heads = 3);
    assert!(SyncResponse::decode(&response.encode(), &limits).is_ok());
    let limits = tight(|l| l.max_heads = 2);
    assert_eq!(
        SyncResponse::decode(&response.encode(), &limits),
        Err(limit_err("heads", 2))
    );

    for (code, message) in [
        ("x".repeat(9), String::new()),
        (String::new(), "y".repeat(9)),
    ] {
        let mut response = SyncResponse::new(0);
        response.rejected = vec![Rejection {
            doc_id: CaseId::from_bytes([1; 16]),
            code: RejectCode::from(code.as_str()),
            message,
        }];
        let limits = tight(|l| l.max_string_bytes = 9);
        assert!(SyncResponse::decode(&response.encode(), &limits).is_ok());
        let limits = tight(|l| l.max_string_bytes = 8);
        let err = SyncResponse::decode(&response.encode(), &limits);
        assert_eq!(err, Err(limit_err("string_bytes", 8)));
    }
}

#[test]
fn indefinite_arrays_are_counted_too() {
    let mut e = Encoder::new(Vec::new());
    e.map(5).unwrap();
    e.u8(0).unwrap().u32(1).unwrap();
    e.u8(1).unwrap().str("d").unwrap();
    e.u8(2).unwrap().u64(0).unwrap();
    e.u8(3).unwrap().begin_array().unwrap();
    for n in 0..3u8 {
        e.map(2).unwrap();
        e.u8(0).unwrap().bytes(&[n; 16]).unwrap();
        e.u8(1).unwrap().array(0).unwrap();
    }
    e.end().unwrap();
    e.u8(4).unwrap().u64(0).unwrap();
    let limits = DecodeLimits {
        max_docs: 3,
        ..DecodeLimits::default()
    };
    assert_eq!(
        SyncRequest::decode(e.writer(), &limits).unwrap().push.len(),
        3
    );
    let limits = DecodeLimits {
        max_docs: 2,
        ..DecodeLimits::default()
    };
    assert_eq!(
        SyncRequest::decode(e.writer(), &limits),
        Err(limit_err("docs", 2))
    );
}

#[test]
fn size_limits_are_enforced() {
    let cbor = example_request().encode();
    let body = example_request().to_body();
    let limits = DecodeLimits {
        max_decoded_bytes: cbor.len(),
        ..DecodeLimits::default()
    };
    assert!(SyncRequest::decode(&cbor, &limits).is_ok());
    assert!(SyncRequest::from_body(&body, &limits).is_ok());
    let limits = DecodeLimits {
        max_decoded_bytes: cbor.len() - 1,
        ..DecodeLimits::default()
    };
    let too_large = DecodeError::DecodedTooLarge {
        limit: cbor.len() - 1,
    };
    assert_eq!(SyncRequest::decode(&cbor, &limits).unwrap_err(), too_large);
    assert_eq!(
        SyncRequest::from_body(&body, &limits).unwrap_err(),
        too_large
    );
    assert_eq!(
        SyncRequest::from_body(&cbor, &limits).unwrap_err(),
        too_large
    );

    let limits = DecodeLimits {
        max_body_bytes: body.len() - 1,
        ..DecodeLimits::default()
    };
    let err = SyncRequest::from_body(&body, &limits).unwrap_err();
    assert_eq!(
        err,
        DecodeError::BodyTooLarge {
            limit: body.len() - 1
        }
    );
    assert_eq!(err.code(), "body_too_large");
}

/// 200 MB of zeros, streamed through zstd so the test never holds them in memory.
fn zstd_bomb(declare_size: bool) -> Vec<u8> {
    const TOTAL: u64 = 200 * 1000 * 1000;
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    encoder.include_contentsize(declare_size).unwrap();
    if declare_size {
        encoder.set_pledged_src_size(Some(TOTAL)).unwrap();
    }
    let zeros = vec![0u8; 1 << 20];
    let mut written = 0;
    while written < TOTAL {
        let n = zeros.len().min((TOTAL - written) as usize);
        encoder.write_all(&zeros[..n]).unwrap();
        written += n as u64;
    }
    encoder.finish().unwrap()
}

#[test]
fn zstd_bombs_stop_at_the_decoded_limit() {
    let limits = DecodeLimits::default();
    for declare_size in [false, true] {
        let bomb = zstd_bomb(declare_size);
        assert!(bomb.len() < 100_000, "bomb is {} bytes", bomb.len());
        let err = decode_body(&bomb, &limits).unwrap_err();
        assert_eq!(
            err,
            DecodeError::DecodedTooLarge {
                limit: limits.max_decoded_bytes
            }
        );
        assert_eq!(err.code(), "decoded_too_large");
        // A small cap stops it just as well.
        let small = DecodeLimits {
            max_decoded_bytes: 1 << 20,
            ..limits
        };
        let err = SyncRequest::from_body(&bomb, &small).unwrap_err();
        assert_eq!(err, DecodeError::DecodedTooLarge { limit: 1 << 20 });
    }
    // Many small frames back to back add up the same way.
    let frame = zstd::bulk::compress(&vec![0u8; 1 << 20], 3).unwrap();
    let bomb = frame.repeat(100);
    let err = decode_body(&bomb, &limits).unwrap_err();
    assert_eq!(
        err,
        DecodeError::DecodedTooLarge {
            limit: limits.max_decoded_bytes
        }
    );
}

#[test]
fn corrupt_zstd_is_a_compression_error() {
    let mut body = example_request().to_body();
    let last = body.len() - 1;
    body[5..last].iter_mut().for_each(|b| *b ^= 0x5a);
    let err = decode_body(&body, &DecodeLimits::default()).unwrap_err();
    assert_eq!(err.code(), "bad_compression", "{err}");
}
