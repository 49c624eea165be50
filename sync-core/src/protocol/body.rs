//! HTTP body framing: zstd around the CBOR, decompressed under a hard output cap.

use std::borrow::Cow;
use std::io::{ErrorKind, Read};

use super::{DecodeError, DecodeLimits};

/// Every zstd frame starts with these bytes; CBOR for a map never does (0x28 is a negative
/// integer), so the two are told apart without a header.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Fast and already most of the gain on CBOR-wrapped Automerge changes; phones pay for CPU too.
const LEVEL: i32 = 3;

/// Largest back-reference window we agree to allocate for (8 MiB). Standard levels up to 19
/// stay within it; a frame asking for more is refused instead of sizing our memory.
const WINDOW_LOG_MAX: u32 = 23;

/// Compresses CBOR into an HTTP body (`Content-Encoding: zstd`).
pub fn encode_body(cbor: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(cbor, LEVEL).expect("zstd compression of an in-memory buffer")
}

/// Turns an HTTP body back into CBOR. Takes a zstd frame (recognised by its magic) or raw
/// CBOR. The body may not exceed `max_body_bytes`, and decompression stops with
/// [`DecodeError::DecodedTooLarge`] as soon as the output would exceed `max_decoded_bytes`,
/// so a zstd bomb never gets allocated.
pub fn decode_body(body: &[u8], limits: &DecodeLimits) -> Result<Vec<u8>, DecodeError> {
    body_cbor(body, limits).map(Cow::into_owned)
}

/// [`decode_body`] without copying a raw CBOR body.
pub(super) fn body_cbor<'b>(
    body: &'b [u8],
    limits: &DecodeLimits,
) -> Result<Cow<'b, [u8]>, DecodeError> {
    if body.len() > limits.max_body_bytes {
        return Err(DecodeError::BodyTooLarge {
            limit: limits.max_body_bytes,
        });
    }
    let max = limits.max_decoded_bytes;
    let too_large = DecodeError::DecodedTooLarge { limit: max };
    if !body.starts_with(&ZSTD_MAGIC) {
        return if body.len() > max {
            Err(too_large)
        } else {
            Ok(Cow::Borrowed(body))
        };
    }
    // A frame that declares its size lets us refuse it before doing any work; the declaration
    // may lie, so the streaming cap below is what actually holds.
    if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(body)
        && size > max as u64
    {
        return Err(too_large);
    }
    let compression = |e: std::io::Error| DecodeError::Compression(e.to_string());
    let mut decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(compression)?;
    decoder
        .window_log_max(WINDOW_LOG_MAX)
        .map_err(compression)?;

    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0; 32 * 1024];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(Cow::Owned(out)),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(compression(e)),
        };
        if n > max - out.len() {
            return Err(too_large);
        }
        // Grow by doubling, but never past the cap (plain `extend` could double beyond it).
        if out.capacity() - out.len() < n {
            let target = (out.capacity() * 2).max(out.len() + n).min(max);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}
