//! CBOR shapes of the messages. Private mirrors of the public types that borrow: encoding
//! writes straight from the caller's data, decoding borrows strings and change bytes from the
//! input, so nothing is copied before the limits have been checked.

use minicbor::bytes::{ByteArray, ByteSlice};
use minicbor::data::Type;
use minicbor::decode::Error;
use minicbor::{Decode, Decoder, Encode};

use super::{
    Ack, DecodeError, DecodeLimits, DocChanges, Rejection, SUPPORTED_PROTOCOLS, SyncRequest,
    SyncResponse,
};
use crate::case::CaseId;

/// Decoding context: the limits, and which one tripped (a `minicbor` error cannot carry it).
#[derive(Debug, Default)]
pub(super) struct Budget {
    limits: DecodeLimits,
    total_changes: usize,
    exceeded: Option<(&'static str, usize)>,
}

impl AsMut<Budget> for Budget {
    fn as_mut(&mut self) -> &mut Budget {
        self
    }
}

impl Budget {
    fn new(limits: DecodeLimits) -> Self {
        Self {
            limits,
            total_changes: 0,
            exceeded: None,
        }
    }

    fn exceeded(&mut self, what: &'static str, limit: usize) -> Error {
        self.exceeded = Some((what, limit));
        Error::message("limit exceeded")
    }
}

#[derive(Encode, Decode)]
#[cbor(map, context_bound = "AsMut<Budget>")]
struct WireRequest<'a> {
    #[n(0)]
    protocol: u32,
    #[cbor(b(1), decode_with = "decode_text")]
    device_id: &'a str,
    #[n(2)]
    cursor: u64,
    #[cbor(b(3), decode_with = "decode_docs")]
    push: Vec<WireDoc<'a>>,
    #[n(4)]
    max_bytes: u64,
    // Optional keys are left out when absent, so older messages keep their bytes.
    #[n(5)]
    applied_whole: Option<u64>,
    #[n(6)]
    pushed_through: Option<u64>,
}

#[derive(Encode, Decode)]
#[cbor(map, context_bound = "AsMut<Budget>")]
struct WireDoc<'a> {
    #[n(0)]
    doc_id: ByteArray<16>,
    #[cbor(b(1), decode_with = "decode_changes")]
    changes: Vec<&'a ByteSlice>,
    // Optional: left out when unsigned, so v1 messages keep their bytes and older readers
    // skip it.
    #[cbor(
        b(2),
        decode_with = "decode_signatures",
        skip_if = "Vec::is_empty",
        default
    )]
    signatures: Vec<ByteArray<64>>,
}

#[derive(Encode, Decode)]
#[cbor(map, context_bound = "AsMut<Budget>")]
struct WireResponse<'a> {
    #[n(0)]
    protocol: u32,
    #[cbor(n(1), decode_with = "decode_acks")]
    acks: Vec<WireAck>,
    #[cbor(b(2), decode_with = "decode_rejections")]
    rejected: Vec<WireRejection<'a>>,
    #[cbor(b(3), decode_with = "decode_docs")]
    pull: Vec<WireDoc<'a>>,
    #[n(4)]
    cursor: u64,
    #[n(5)]
    more: bool,
    #[cbor(n(6), decode_with = "decode_ids")]
    revoked: Vec<ByteArray<16>>,
    #[n(7)]
    whole_no: Option<u64>,
    #[n(8)]
    acked_through: Option<u64>,
}

#[derive(Encode, Decode)]
#[cbor(map, context_bound = "AsMut<Budget>")]
struct WireAck {
    #[n(0)]
    doc_id: ByteArray<16>,
    #[cbor(n(1), decode_with = "decode_heads")]
    heads: Vec<ByteArray<32>>,
}

#[derive(Encode, Decode)]
#[cbor(map, context_bound = "AsMut<Budget>")]
struct WireRejection<'a> {
    #[n(0)]
    doc_id: ByteArray<16>,
    #[cbor(b(1), decode_with = "decode_text")]
    code: &'a str,
    #[cbor(b(2), decode_with = "decode_text")]
    message: &'a str,
}

// ---- limit-checking field decoders ----------------------------------------------------------

/// Decodes a CBOR array (definite or indefinite) of at most `limit` items. The count is
/// checked before any item is read, and capacity reserved up front never exceeds the size of
/// the remaining input, so a declared length of 2^40 costs nothing.
fn list<'b, Ctx: AsMut<Budget>, T>(
    d: &mut Decoder<'b>,
    ctx: &mut Ctx,
    what: &'static str,
    limit: usize,
    mut item: impl FnMut(&mut Decoder<'b>, &mut Ctx) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    match d.array()? {
        Some(n) => {
            let n = match usize::try_from(n) {
                Ok(n) if n <= limit => n,
                _ => return Err(ctx.as_mut().exceeded(what, limit)),
            };
            // Trust the declared count only as far as the remaining input could back it.
            let remaining = d.input().len().saturating_sub(d.position());
            out.reserve(n.min(remaining / size_of::<T>().max(1)));
            for _ in 0..n {
                out.push(item(d, ctx)?);
            }
        }
        None => {
            while d.datatype()? != Type::Break {
                if out.len() >= limit {
                    return Err(ctx.as_mut().exceeded(what, limit));
                }
                out.push(item(d, ctx)?);
            }
            d.skip()?; // the break
        }
    }
    Ok(out)
}

fn decode_text<'b, Ctx: AsMut<Budget>>(
    d: &mut Decoder<'b>,
    ctx: &mut Ctx,
) -> Result<&'b str, Error> {
    let s = d.str()?;
    let limit = ctx.as_mut().limits.max_string_bytes;
    if s.len() > limit {
        return Err(ctx.as_mut().exceeded("string_bytes", limit));
    }
    Ok(s)
}

fn decode_docs<'b, Ctx: AsMut<Budget>>(
    d: &mut Decoder<'b>,
    ctx: &mut Ctx,
) -> Result<Vec<WireDoc<'b>>, Error> {
    let limit = ctx.as_mut().limits.max_docs;
    list(d, ctx, "docs", limit, |d, ctx| WireDoc::decode(d, ctx))
}

fn decode_changes<'b, Ctx: AsMut<Budget>>(
    d: &mut Decoder<'b>,
    ctx: &mut Ctx,
) -> Result<Vec<&'b ByteSlice>, Error> {
    let limit = ctx.as_mut().limits.max_changes_per_doc;
    list(d, ctx, "changes_per_doc", limit, |d, ctx| {
        let budget = ctx.as_mut();
        budget.total_changes += 1;
        if budget.total_changes > budget.limits.max_total_changes {
            let limit = budget.limits.max_total_changes;
            return Err(budget.exceeded("total_changes", limit));
        }
        let bytes = d.bytes()?;
        if bytes.len() > budget.limits.max_change_bytes {
            let limit = budget.limits.max_change_bytes;
            return Err(budget.exceeded("change_bytes", limit));
        }
        Ok(bytes.into())
    })
}

fn decode_signatures<Ctx: AsMut<Budget>>(
    d: &mut Decoder<'_>,
    ctx: &mut Ctx,
) -> Result<Vec<ByteArray<64>>, Error> {
    // One per change at most: the same limit as the changes of one document.
    let limit = ctx.as_mut().limits.max_changes_per_doc;
    list(d, ctx, "changes_per_doc", limit, |d, ctx| {
        ByteArray::decode(d, ctx)
    })
}

fn decode_acks<Ctx: AsMut<Budget>>(
    d: &mut Decoder<'_>,
    ctx: &mut Ctx,
) -> Result<Vec<WireAck>, Error> {
    let limit = ctx.as_mut().limits.max_docs;
    list(d, ctx, "docs", limit, |d, ctx| WireAck::decode(d, ctx))
}

fn decode_rejections<'b, Ctx: AsMut<Budget>>(
    d: &mut Decoder<'b>,
    ctx: &mut Ctx,
) -> Result<Vec<WireRejection<'b>>, Error> {
    let limit = ctx.as_mut().limits.max_docs;
    list(d, ctx, "docs", limit, |d, ctx| {
        WireRejection::decode(d, ctx)
    })
}

fn decode_ids<Ctx: AsMut<Budget>>(
    d: &mut Decoder<'_>,
    ctx: &mut Ctx,
) -> Result<Vec<ByteArray<16>>, Error> {
    let limit = ctx.as_mut().limits.max_docs;
    list(d, ctx, "docs", limit, |d, ctx| ByteArray::decode(d, ctx))
}

fn decode_heads<Ctx: AsMut<Budget>>(
    d: &mut Decoder<'_>,
    ctx: &mut Ctx,
) -> Result<Vec<ByteArray<32>>, Error> {
    let limit = ctx.as_mut().limits.max_heads;
    list(d, ctx, "heads", limit, |d, ctx| ByteArray::decode(d, ctx))
}

// ---- public entry points ---------------------------------------------------------------------

pub(super) fn encode_request(request: &SyncRequest) -> Vec<u8> {
    to_vec(&WireRequest {
        protocol: request.protocol,
        device_id: &request.device_id,
        cursor: request.cursor,
        push: request.push.iter().map(WireDoc::from_doc).collect(),
        max_bytes: request.max_bytes,
        applied_whole: (request.applied_whole != 0).then_some(request.applied_whole),
        pushed_through: (request.pushed_through != 0).then_some(request.pushed_through),
    })
}

pub(super) fn encode_response(response: &SyncResponse) -> Vec<u8> {
    to_vec(&WireResponse {
        protocol: response.protocol,
        acks: response
            .acks
            .iter()
            .map(|a| WireAck {
                doc_id: id(&a.doc_id),
                heads: a.heads.iter().map(|&h| h.into()).collect(),
            })
            .collect(),
        rejected: response
            .rejected
            .iter()
            .map(|r| WireRejection {
                doc_id: id(&r.doc_id),
                code: r.code.as_str(),
                message: &r.message,
            })
            .collect(),
        pull: response.pull.iter().map(WireDoc::from_doc).collect(),
        cursor: response.cursor,
        more: response.more,
        revoked: response.revoked.iter().map(id).collect(),
        whole_no: (response.whole_no != 0).then_some(response.whole_no),
        acked_through: (response.acked_through != 0).then_some(response.acked_through),
    })
}

pub(super) fn decode_request(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<SyncRequest, DecodeError> {
    let wire: WireRequest<'_> = decode(bytes, limits)?;
    check_protocol(wire.protocol)?;
    Ok(SyncRequest {
        protocol: wire.protocol,
        device_id: wire.device_id.to_owned(),
        cursor: wire.cursor,
        push: wire.push.into_iter().map(WireDoc::into_owned).collect(),
        max_bytes: wire.max_bytes,
        applied_whole: wire.applied_whole.unwrap_or(0),
        pushed_through: wire.pushed_through.unwrap_or(0),
    })
}

pub(super) fn decode_response(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<SyncResponse, DecodeError> {
    let wire: WireResponse<'_> = decode(bytes, limits)?;
    check_protocol(wire.protocol)?;
    Ok(SyncResponse {
        protocol: wire.protocol,
        acks: wire
            .acks
            .into_iter()
            .map(|a| Ack {
                doc_id: CaseId::from_bytes(a.doc_id.into()),
                heads: a.heads.into_iter().map(Into::into).collect(),
            })
            .collect(),
        rejected: wire
            .rejected
            .into_iter()
            .map(|r| Rejection {
                doc_id: CaseId::from_bytes(r.doc_id.into()),
                code: r.code.into(),
                message: r.message.to_owned(),
            })
            .collect(),
        pull: wire.pull.into_iter().map(WireDoc::into_owned).collect(),
        cursor: wire.cursor,
        more: wire.more,
        revoked: wire
            .revoked
            .into_iter()
            .map(|i| CaseId::from_bytes(i.into()))
            .collect(),
        whole_no: wire.whole_no.unwrap_or(0),
        acked_through: wire.acked_through.unwrap_or(0),
    })
}

impl<'a> WireDoc<'a> {
    fn from_doc(doc: &'a DocChanges) -> Self {
        Self {
            doc_id: id(&doc.doc_id),
            changes: doc.changes.iter().map(|c| c.as_slice().into()).collect(),
            signatures: doc.signatures.iter().map(|&s| s.into()).collect(),
        }
    }

    fn into_owned(self) -> DocChanges {
        DocChanges {
            doc_id: CaseId::from_bytes(self.doc_id.into()),
            changes: self.changes.into_iter().map(|c| c.to_vec()).collect(),
            signatures: self.signatures.into_iter().map(Into::into).collect(),
        }
    }
}

fn id(id: &CaseId) -> ByteArray<16> {
    (*id.as_bytes()).into()
}

fn to_vec<T: Encode<Budget>>(message: &T) -> Vec<u8> {
    let mut out = Vec::new();
    minicbor::encode_with(message, &mut out, &mut Budget::default())
        .expect("writing CBOR to a Vec cannot fail");
    out
}

/// Version check first, then the full decode under a budget, then no trailing bytes.
fn decode<'b, T: Decode<'b, Budget>>(
    bytes: &'b [u8],
    limits: &DecodeLimits,
) -> Result<T, DecodeError> {
    if bytes.len() > limits.max_decoded_bytes {
        return Err(DecodeError::DecodedTooLarge {
            limit: limits.max_decoded_bytes,
        });
    }
    check_protocol(peek_protocol(bytes)?)?;
    let mut budget = Budget::new(*limits);
    let mut d = Decoder::new(bytes);
    let message = T::decode(&mut d, &mut budget).map_err(|e| match budget.exceeded {
        Some((what, limit)) => DecodeError::LimitExceeded { what, limit },
        None => DecodeError::Malformed(e.to_string()),
    })?;
    if d.position() != bytes.len() {
        return Err(DecodeError::TrailingBytes { at: d.position() });
    }
    Ok(message)
}

/// Finds key 0 of the top-level map without decoding anything else, so a message of another
/// version is recognised as such whatever shape the rest of it has.
fn peek_protocol(bytes: &[u8]) -> Result<u32, DecodeError> {
    fn malformed(e: Error) -> DecodeError {
        DecodeError::Malformed(e.to_string())
    }
    let mut d = Decoder::new(bytes);
    let len = d.map().map_err(malformed)?;
    let mut seen = 0u64;
    loop {
        let done = match len {
            Some(n) => seen >= n,
            None => d.datatype().map_err(malformed)? == Type::Break,
        };
        if done {
            return Err(DecodeError::Malformed(
                "missing protocol version (key 0)".into(),
            ));
        }
        let key_is_zero = match d.datatype().map_err(malformed)? {
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => d.u64().map_err(malformed)? == 0,
            _ => {
                d.skip().map_err(malformed)?;
                false
            }
        };
        if key_is_zero {
            let version = d.u64().map_err(malformed)?;
            return u32::try_from(version).map_err(|_| {
                DecodeError::Malformed(format!("protocol version {version} out of range"))
            });
        }
        d.skip().map_err(malformed)?;
        seen += 1;
    }
}

fn check_protocol(got: u32) -> Result<(), DecodeError> {
    if SUPPORTED_PROTOCOLS.contains(&got) {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedProtocol {
            got,
            supported: SUPPORTED_PROTOCOLS,
        })
    }
}
