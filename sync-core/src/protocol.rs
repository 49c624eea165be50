//! The sync wire protocol: one request and one response per exchange (DESIGN §5).
//!
//! A device sends everything the server has not acknowledged and gets back everything in its
//! scope it has not seen, in one round trip, because on 2G round trips cost more than bytes.
//! This module only defines the messages and their bytes; it does no I/O and knows nothing of
//! Automerge (change bytes are opaque here).
//!
//! ```
//! use gridsync_core::case::CaseId;
//! use gridsync_core::protocol::{
//!     Ack, DecodeLimits, DocChanges, RejectCode, Rejection, SyncRequest, SyncResponse,
//! };
//!
//! let limits = DecodeLimits::default();
//! let case = CaseId::from_bytes([7; 16]);
//!
//! // Device: push one change of `case`, ask for at most 256 KiB of news.
//! let mut request = SyncRequest::new("phone-17", 0, 256 * 1024);
//! request.push.push(DocChanges::new(case, vec![b"change bytes".to_vec()]));
//! let body = request.to_body(); // zstd-compressed CBOR, ready for `POST /v1/sync`
//!
//! // Server: decode with limits (an oversized or hostile body is an error, never a panic).
//! let received = SyncRequest::from_body(&body, &limits)?;
//! assert_eq!(received, request);
//! let mut response = SyncResponse::new(42);
//! response.acks.push(Ack { doc_id: case, heads: vec![[1; 32]] });
//! response.rejected.push(Rejection {
//!     doc_id: CaseId::from_bytes([9; 16]),
//!     code: RejectCode::OutOfScope,
//!     message: "case is outside the device's area".into(),
//! });
//! let body = response.to_body();
//!
//! // Device: apply the answer, remember the cursor for the next exchange.
//! let answer = SyncResponse::from_body(&body, &limits)?;
//! assert_eq!(answer.cursor, 42);
//! assert_eq!(answer.rejected[0].code.as_str(), "out_of_scope");
//! assert!(!answer.more);
//! # Ok::<(), gridsync_core::protocol::DecodeError>(())
//! ```
//!
//! # Wire format
//!
//! Each message is a CBOR map keyed by small integers (see the field docs for the keys), so a
//! later version can add keys and an older reader skips them. Key 0 of both messages is the
//! protocol version; it is read before anything else, so a peer speaking another version gets
//! [`DecodeError::UnsupportedProtocol`] whatever the rest of its body looks like. Ids, heads and
//! change bytes are CBOR byte strings. Strings and byte strings must have definite lengths
//! (they are borrowed from the input while decoding). The golden files in
//! `sync-core/tests/fixtures/` freeze version 1.
//!
//! Over HTTP the CBOR is compressed with zstd ([`encode_body`]); [`decode_body`] also takes raw
//! CBOR, which is handy when debugging with curl.

use std::fmt;

use crate::case::CaseId;

mod body;
mod wire;

pub use body::{decode_body, encode_body};

/// The protocol version this build writes.
pub const PROTOCOL_VERSION: u32 = 1;

/// The protocol versions this build reads. An unknown version is refused, never guessed at.
pub const SUPPORTED_PROTOCOLS: &[u32] = &[1];

/// HTTP `Content-Type` of a sync body.
pub const CONTENT_TYPE: &str = "application/cbor";

/// HTTP `Content-Encoding` of a body made by [`encode_body`].
pub const CONTENT_ENCODING: &str = "zstd";

/// Automerge changes of one case document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocChanges {
    /// Key 0: the case.
    pub doc_id: CaseId,
    /// Key 1: raw Automerge change bytes, opaque to the protocol.
    pub changes: Vec<Vec<u8>>,
    /// Key 2 (absent when empty): one Ed25519 signature per change, in the same order, by
    /// the pushing installation's key over the change's hash (`crate::signing`). Empty:
    /// unsigned (older phones, and the center's answers). The center refuses a case whose
    /// list does not match its changes one for one.
    pub signatures: Vec<[u8; 64]>,
}

impl DocChanges {
    /// Sum of the change byte lengths.
    pub fn change_bytes(&self) -> u64 {
        self.changes.iter().map(|c| c.len() as u64).sum()
    }

    /// Unsigned changes of a case.
    pub fn new(doc_id: CaseId, changes: Vec<Vec<u8>>) -> Self {
        Self {
            doc_id,
            changes,
            signatures: Vec::new(),
        }
    }
}

/// What a device sends: its unacknowledged changes and where it stands in the server's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    /// Key 0: protocol version of this message ([`PROTOCOL_VERSION`] when we write it).
    pub protocol: u32,
    /// Key 1: the registered device sending the request.
    pub device_id: String,
    /// Key 2: feed position of the last response the device applied (0 at first sync).
    pub cursor: u64,
    /// Key 3: the device's outbox: changes the server has not acknowledged yet.
    pub push: Vec<DocChanges>,
    /// Key 4: how many change bytes the device wants pulled at most in the response.
    pub max_bytes: u64,
    /// Key 5 (absent when 0): the [`SyncResponse::whole_no`] of the last response carrying
    /// whole cases that the device applied. A case sent whole in a later-numbered response
    /// never arrived (the answer was lost), so the center sends it whole again.
    pub applied_whole: u64,
    /// Key 6 (absent when 0): the highest outbox sequence number among the pushed changes
    /// (a push is a prefix of the outbox). Sending it says the device understands
    /// [`SyncResponse::acked_through`].
    pub pushed_through: u64,
}

impl SyncRequest {
    /// A request in the current protocol version with nothing to push.
    pub fn new(device_id: impl Into<String>, cursor: u64, max_bytes: u64) -> Self {
        Self {
            protocol: PROTOCOL_VERSION,
            device_id: device_id.into(),
            cursor,
            push: Vec::new(),
            max_bytes,
            applied_whole: 0,
            pushed_through: 0,
        }
    }

    /// Sum of the pushed change byte lengths.
    pub fn change_bytes(&self) -> u64 {
        self.push.iter().map(DocChanges::change_bytes).sum()
    }

    /// Plain CBOR encoding.
    pub fn encode(&self) -> Vec<u8> {
        wire::encode_request(self)
    }

    /// Decodes plain CBOR, checking the version first and every count against `limits`.
    pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        wire::decode_request(bytes, limits)
    }

    /// The HTTP body: zstd-compressed CBOR.
    pub fn to_body(&self) -> Vec<u8> {
        encode_body(&self.encode())
    }

    /// Decodes an HTTP body (zstd-compressed or raw CBOR).
    pub fn from_body(body: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        Self::decode(&body::body_cbor(body, limits)?, limits)
    }
}

/// The server's answer to a [`SyncRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResponse {
    /// Key 0: protocol version of this message.
    pub protocol: u32,
    /// Key 1: pushed documents the server committed, with its heads after the merge.
    pub acks: Vec<Ack>,
    /// Key 2: pushed documents the server refused; other documents of the batch proceed.
    pub rejected: Vec<Rejection>,
    /// Key 3: changes in the device's scope it has not seen, in feed order.
    pub pull: Vec<DocChanges>,
    /// Key 4: feed position to send as the next request's cursor.
    pub cursor: u64,
    /// Key 5: the pull was cut at `max_bytes`; ask again.
    pub more: bool,
    /// Key 6: cases that left the device's scope: push anything unsent, then purge them.
    pub revoked: Vec<CaseId>,
    /// Key 7 (absent when 0): numbers a response that carries cases whole, per device and
    /// increasing; the device echoes the last one it applied as
    /// [`SyncRequest::applied_whole`].
    pub whole_no: u64,
    /// Key 8 (absent when 0): the request's [`SyncRequest::pushed_through`], echoed when the
    /// center merged in full every pushed case that is in neither `rejected` nor `acks`: the
    /// device drops its outbox entries up to that number, except those of rejected cases,
    /// and `acks` lists only the cases it must check by heads (changes the center holds
    /// but has not applied yet, waiting for their dependencies). Saves 16 + 32 bytes of ids
    /// and hashes, which no compression shrinks, per pushed case.
    pub acked_through: u64,
}

impl SyncResponse {
    /// An empty response in the current protocol version at feed position `cursor`.
    pub fn new(cursor: u64) -> Self {
        Self {
            protocol: PROTOCOL_VERSION,
            acks: Vec::new(),
            rejected: Vec::new(),
            pull: Vec::new(),
            cursor,
            more: false,
            revoked: Vec::new(),
            whole_no: 0,
            acked_through: 0,
        }
    }

    /// Sum of the pulled change byte lengths (what `max_bytes` pages).
    pub fn pull_bytes(&self) -> u64 {
        self.pull.iter().map(DocChanges::change_bytes).sum()
    }

    /// Plain CBOR encoding.
    pub fn encode(&self) -> Vec<u8> {
        wire::encode_response(self)
    }

    /// Decodes plain CBOR, checking the version first and every count against `limits`.
    pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        wire::decode_response(bytes, limits)
    }

    /// The HTTP body: zstd-compressed CBOR.
    pub fn to_body(&self) -> Vec<u8> {
        encode_body(&self.encode())
    }

    /// Decodes an HTTP body (zstd-compressed or raw CBOR).
    pub fn from_body(body: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        Self::decode(&body::body_cbor(body, limits)?, limits)
    }
}

/// A pushed document the server has durably merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Key 0: the case.
    pub doc_id: CaseId,
    /// Key 1: the server's Automerge heads (change hashes) for the document after the merge.
    pub heads: Vec<[u8; 32]>,
}

/// A pushed document the server refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Key 0: the case.
    pub doc_id: CaseId,
    /// Key 1: machine-readable reason, a snake_case string on the wire.
    pub code: RejectCode,
    /// Key 2: human-readable detail, for logs and support.
    pub message: String,
}

/// Why the server refused a document. On the wire a stable snake_case string, so a newer
/// server can add reasons without breaking older devices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// `out_of_scope`: the case is outside the caller's area or organisation.
    OutOfScope,
    /// `event_not_permitted`: the changes carry an event the caller's role may not author.
    EventNotPermitted,
    /// `actor_not_bound`: a change is under an Automerge actor not registered to this device.
    ActorNotBound,
    /// `malformed_change`: the bytes are not a valid Automerge change.
    MalformedChange,
    /// `too_large`: the document or one of its changes exceeds the server's limits.
    TooLarge,
    /// `internal`: the server failed; retrying later may succeed.
    Internal,
    /// `operation_not_permitted`: a change deletes, overwrites or inserts before what others
    /// wrote, writes a center-only or unknown key, or a value of the wrong type.
    OperationNotPermitted,
    /// `invalid_value`: a value the center's API would refuse too (too long, unknown code).
    InvalidValue,
    /// `missing_dependencies`: changes waited too long for changes the center never got.
    MissingDependencies,
    /// `case_unavailable`: the center's copy of the case cannot be opened; an administrator
    /// has been told. Retrying later may succeed.
    CaseUnavailable,
    /// `bad_signature`: a change's signature does not verify with the key the pushing device
    /// registered for the change's actor (another device's key, a signature over another
    /// change, altered bytes), or the case's signatures do not match its changes one for one.
    BadSignature,
    /// `signature_required`: the center requires signed changes and a change came unsigned
    /// (an app too old to sign, or one that signed in without registering its key).
    SignatureRequired,
    /// A code this build does not know, kept verbatim so it round-trips. Holds a string other
    /// than the known ones (a known string decodes to its own variant).
    Unknown(String),
}

impl RejectCode {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::OutOfScope => "out_of_scope",
            Self::EventNotPermitted => "event_not_permitted",
            Self::ActorNotBound => "actor_not_bound",
            Self::MalformedChange => "malformed_change",
            Self::TooLarge => "too_large",
            Self::Internal => "internal",
            Self::OperationNotPermitted => "operation_not_permitted",
            Self::InvalidValue => "invalid_value",
            Self::MissingDependencies => "missing_dependencies",
            Self::CaseUnavailable => "case_unavailable",
            Self::BadSignature => "bad_signature",
            Self::SignatureRequired => "signature_required",
            Self::Unknown(s) => s,
        }
    }
}

impl From<&str> for RejectCode {
    fn from(s: &str) -> Self {
        match s {
            "out_of_scope" => Self::OutOfScope,
            "event_not_permitted" => Self::EventNotPermitted,
            "actor_not_bound" => Self::ActorNotBound,
            "malformed_change" => Self::MalformedChange,
            "too_large" => Self::TooLarge,
            "internal" => Self::Internal,
            "operation_not_permitted" => Self::OperationNotPermitted,
            "invalid_value" => Self::InvalidValue,
            "missing_dependencies" => Self::MissingDependencies,
            "case_unavailable" => Self::CaseUnavailable,
            "bad_signature" => Self::BadSignature,
            "signature_required" => Self::SignatureRequired,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bounds on what a decoder accepts, so a hostile or broken peer costs bounded memory and
/// time. The defaults suit both a phone on 2G and a county server; each field says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Body as received, before decompression. Default 16 MiB: more than a 2G link moves in
    /// several minutes, so a larger body is a bug or an attack (HTTP 413).
    pub max_body_bytes: usize,
    /// CBOR after decompression, and the largest plain CBOR message [`SyncRequest::decode`]
    /// takes. Default 64 MiB: Automerge changes compress 2–4× under zstd, so this admits any
    /// honest 16 MiB body while a zstd bomb stops here, before it is in memory.
    pub max_decoded_bytes: usize,
    /// Entries in any one list of documents (`push`, `pull`, `acks`, `rejected`, `revoked`).
    /// Default 10,000: a whole township's caseload; bigger pulls are paged with `more`.
    pub max_docs: usize,
    /// Changes of one document in one message. Default 100,000: a case has tens to hundreds of
    /// changes, and one newly in scope arrives whole.
    pub max_changes_per_doc: usize,
    /// Changes in the whole message. Default 1,000,000. Bounds the per-change memory overhead
    /// (about 40 bytes each), which a flood of empty changes would otherwise multiply against
    /// `max_decoded_bytes`.
    pub max_total_changes: usize,
    /// Bytes of one change. Default 8 MiB: evidence never goes in the document, so a change is
    /// usually well under a kilobyte; bulk imports stay under this.
    pub max_change_bytes: usize,
    /// Bytes of any string (device id, rejection code or message). Default 4 KiB.
    pub max_string_bytes: usize,
    /// Heads of one acknowledged document. Default 1,000: heads are usually one, a few after
    /// concurrent offline edits.
    pub max_heads: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            max_decoded_bytes: 64 * 1024 * 1024,
            max_docs: 10_000,
            max_changes_per_doc: 100_000,
            max_total_changes: 1_000_000,
            max_change_bytes: 8 * 1024 * 1024,
            max_string_bytes: 4 * 1024,
            max_heads: 1_000,
        }
    }
}

/// Why a sync message could not be decoded. Every variant has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The peer speaks a protocol version this build does not.
    #[error(
        "unsupported protocol version {got}, this side speaks {}",
        versions(supported)
    )]
    UnsupportedProtocol {
        /// The version in the message.
        got: u32,
        /// The versions this build reads ([`SUPPORTED_PROTOCOLS`]).
        supported: &'static [u32],
    },
    /// The body exceeds [`DecodeLimits::max_body_bytes`].
    #[error("body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The decompressed body, or a plain CBOR message, exceeds
    /// [`DecodeLimits::max_decoded_bytes`].
    #[error("decoded message larger than {limit} bytes")]
    DecodedTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body starts like a zstd frame but does not decompress.
    #[error("invalid zstd body: {0}")]
    Compression(String),
    /// The bytes are not CBOR of the expected shape.
    #[error("malformed cbor: {0}")]
    Malformed(String),
    /// A well-formed message is followed by more bytes.
    #[error("unexpected bytes after the message at offset {at}")]
    TrailingBytes {
        /// Offset of the first byte after the message.
        at: usize,
    },
    /// A count or size in the message exceeds one of the [`DecodeLimits`].
    #[error("{what} over the limit of {limit}")]
    LimitExceeded {
        /// Which limit: `docs`, `changes_per_doc`, `total_changes`, `change_bytes`,
        /// `string_bytes` or `heads`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
}

impl DecodeError {
    /// Stable snake_case code for error bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedProtocol { .. } => "unsupported_protocol",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::DecodedTooLarge { .. } => "decoded_too_large",
            Self::Compression(_) => "bad_compression",
            Self::Malformed(_) => "malformed_cbor",
            Self::TrailingBytes { .. } => "trailing_bytes",
            Self::LimitExceeded { .. } => "limit_exceeded",
        }
    }
}

/// "1" or "1, 2": the versions named in [`DecodeError::UnsupportedProtocol`]'s message.
fn versions(list: &[u32]) -> String {
    let names: Vec<String> = list.iter().map(u32::to_string).collect();
    names.join(", ")
}
