//! Evidence files sealed at rest: XChaCha20-Poly1305 in fixed segments of 64 KiB of
//! plaintext, so an upload reads any byte range by opening only the segments it touches,
//! and a changed, swapped, reordered or cut segment fails to open.
//!
//! File: a 24-byte header (`GSEV`, version 1, 3 zero bytes, a random 16-byte nonce prefix),
//! then segments, each its ciphertext and 16-byte tag. Segment `i`'s nonce is the prefix
//! followed by `i` (u64 LE): unique per file and segment. Its associated data is the header,
//! `i` and a last-segment flag; the last segment's also holds the plaintext's sha256, so a
//! file cut at a segment boundary, or put under another attachment's name, fails at its end.
//! Files are named by an HMAC of the sha256 (`<hmac hex>.enc`): a listing of the folder does
//! not tell which attachments, known to someone else by their hash, this phone holds.
//!
//! Keys: HKDF-SHA256 over the store's evidence data key (random, kept in the encrypted
//! SQLite file), one for sealing and one for names.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// Plaintext bytes per segment.
pub(crate) const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;
const HEADER: usize = 24;
const MAGIC: &[u8; 4] = b"GSEV";
const VERSION: u8 = 1;

/// The keys derived from the store's evidence data key.
pub(crate) struct EvidenceKeys {
    aead: XChaCha20Poly1305,
    names: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for EvidenceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EvidenceKeys(..)")
    }
}

impl EvidenceKeys {
    pub(crate) fn derive(data_key: &[u8; 32]) -> EvidenceKeys {
        let hk = hkdf::Hkdf::<Sha256>::new(None, data_key);
        let mut seal = Zeroizing::new([0u8; 32]);
        let mut names = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit: `expand` cannot fail here.
        hk.expand(b"gridsync evidence v1 seal", &mut seal[..])
            .expect("32-byte HKDF output");
        hk.expand(b"gridsync evidence v1 names", &mut names[..])
            .expect("32-byte HKDF output");
        EvidenceKeys {
            aead: XChaCha20Poly1305::new_from_slice(&seal[..]).expect("a 32-byte key"),
            names,
        }
    }

    /// The file name of the bytes hashing to `sha256` (hex).
    pub(crate) fn file_name(&self, sha256: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.names[..])
            .expect("HMAC takes any key length");
        mac.update(sha256.as_bytes());
        format!("{}.enc", super::hex(&mac.finalize().into_bytes()))
    }

    fn seal(
        &self,
        header: &[u8; HEADER],
        index: u64,
        last: Option<&[u8; 32]>,
        plain: &[u8],
    ) -> Vec<u8> {
        let aad = aad(header, index, last);
        self.aead
            .encrypt(
                &nonce(header, index),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any length below 256 GiB")
    }

    fn open(
        &self,
        header: &[u8; HEADER],
        index: u64,
        last: Option<&[u8; 32]>,
        sealed: &[u8],
    ) -> Result<Vec<u8>> {
        let aad = aad(header, index, last);
        self.aead
            .decrypt(
                &nonce(header, index),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                Error::Evidence(format!(
                    "evidence file segment {index} does not open: tampered, cut or another file"
                ))
            })
    }
}

fn nonce(header: &[u8; HEADER], index: u64) -> XNonce {
    let mut n = XNonce::default();
    n[..16].copy_from_slice(&header[8..24]);
    n[16..].copy_from_slice(&index.to_le_bytes());
    n
}

fn aad(header: &[u8; HEADER], index: u64, last: Option<&[u8; 32]>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER + 8 + 1 + 32);
    aad.extend_from_slice(header);
    aad.extend_from_slice(&index.to_le_bytes());
    match last {
        Some(sha) => {
            aad.push(1);
            aad.extend_from_slice(sha);
        }
        None => aad.push(0),
    }
    aad
}

/// Writes plaintext into a sealed file, one segment at a time. Only whole segments reach
/// the file before [`SealWriter::finish`]: a writer dropped half-way leaves a file that
/// [`SealWriter::resume`] continues from its last whole segment.
pub(crate) struct SealWriter {
    keys: Arc<EvidenceKeys>,
    file: File,
    header: [u8; HEADER],
    index: u64,
    buf: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for SealWriter {
    // Not the buffer: it holds plaintext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealWriter")
            .field("index", &self.index)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl SealWriter {
    /// A new sealed file in `file` (empty, writable), with a fresh nonce prefix.
    pub(crate) fn create(keys: Arc<EvidenceKeys>, mut file: File) -> std::io::Result<Self> {
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(MAGIC);
        header[4] = VERSION;
        header[8..].copy_from_slice(&rand::random::<[u8; 16]>());
        file.write_all(&header)?;
        Ok(SealWriter {
            keys,
            file,
            header,
            index: 0,
            buf: Zeroizing::new(Vec::with_capacity(SEGMENT)),
        })
    }

    /// Continues a sealed file cut off before `finish`: what follows its last whole segment
    /// is dropped; returns the writer and the plaintext bytes it holds. A file that is not a
    /// sealed file's start is begun anew.
    pub(crate) fn resume(keys: Arc<EvidenceKeys>, mut file: File) -> std::io::Result<(Self, u64)> {
        let len = file.metadata()?.len();
        let mut header = [0u8; HEADER];
        let readable = len >= HEADER as u64
            && file.seek(SeekFrom::Start(0)).is_ok()
            && file.read_exact(&mut header).is_ok()
            && &header[..4] == MAGIC
            && header[4] == VERSION;
        if !readable {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            return Ok((Self::create(keys, file)?, 0));
        }
        let whole = (len - HEADER as u64) / (SEGMENT + TAG) as u64;
        file.set_len(HEADER as u64 + whole * (SEGMENT + TAG) as u64)?;
        file.seek(SeekFrom::End(0))?;
        let writer = SealWriter {
            keys,
            file,
            header,
            index: whole,
            buf: Zeroizing::new(Vec::with_capacity(SEGMENT)),
        };
        Ok((writer, whole * SEGMENT as u64))
    }

    /// Seals the last segment, bound to the plaintext's `sha256`, and syncs the file.
    pub(crate) fn finish(mut self, sha256: &[u8; 32]) -> std::io::Result<()> {
        let sealed = self
            .keys
            .seal(&self.header, self.index, Some(sha256), &self.buf);
        self.file.write_all(&sealed)?;
        self.file.sync_all()
    }
}

impl Write for SealWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // A full segment is sealed only once more bytes arrive: until then it may be the
        // last, which is sealed differently.
        if self.buf.len() == SEGMENT {
            let sealed = self.keys.seal(&self.header, self.index, None, &self.buf);
            self.file.write_all(&sealed)?;
            self.index += 1;
            self.buf.clear();
        }
        let n = data.len().min(SEGMENT - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The plaintext length of a sealed file `len` bytes long (`None`: not a sealed file).
pub(crate) fn plain_len(len: u64) -> Option<u64> {
    let body = len.checked_sub(HEADER as u64)?;
    let unit = (SEGMENT + TAG) as u64;
    let segments = body.div_ceil(unit).max(1);
    let last = body - (segments - 1) * unit;
    let last_plain = last.checked_sub(TAG as u64)?;
    Some((segments - 1) * SEGMENT as u64 + last_plain)
}

/// Up to `max` plaintext bytes from `offset` of a sealed file holding the bytes of `sha256`.
pub(crate) fn read_range(
    keys: &EvidenceKeys,
    file: &mut File,
    sha256: &[u8; 32],
    offset: u64,
    max: usize,
) -> Result<Vec<u8>> {
    let len = file.metadata().map_err(io)?.len();
    let total = plain_len(len).ok_or_else(cut)?;
    let end = total.min(offset.saturating_add(max as u64));
    let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
    if offset >= end && offset > 0 {
        return Ok(out);
    }
    let mut header = [0u8; HEADER];
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.read_exact(&mut header).map_err(io)?;
    if &header[..4] != MAGIC || header[4] != VERSION {
        return Err(Error::Evidence("not a sealed evidence file".into()));
    }
    let segments = total.div_ceil(SEGMENT as u64).max(1);
    let first = offset / SEGMENT as u64;
    let mut index = first;
    let mut sealed = vec![0u8; SEGMENT + TAG];
    while index < segments && (index * SEGMENT as u64) < end.max(1) {
        let last = index + 1 == segments;
        let plain_here = if last {
            total - index * SEGMENT as u64
        } else {
            SEGMENT as u64
        } as usize;
        let at = HEADER as u64 + index * (SEGMENT + TAG) as u64;
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        let buf = &mut sealed[..plain_here + TAG];
        file.read_exact(buf).map_err(io)?;
        let plain = Zeroizing::new(keys.open(&header, index, last.then_some(sha256), buf)?);
        let from = offset.saturating_sub(index * SEGMENT as u64) as usize;
        let to = (end - index * SEGMENT as u64).min(plain.len() as u64) as usize;
        if from < to {
            out.extend_from_slice(&plain[from..to]);
        }
        index += 1;
    }
    Ok(out)
}

fn io(e: std::io::Error) -> Error {
    Error::Evidence(e.to_string())
}

fn cut() -> Error {
    Error::Evidence("evidence file is cut short".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(keys: &Arc<EvidenceKeys>, data: &[u8], sha: &[u8; 32]) -> tempfile::NamedTempFile {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let mut w = SealWriter::create(keys.clone(), tmp.reopen().unwrap()).unwrap();
        // Odd write sizes: segments must not depend on them.
        for chunk in data.chunks(10_007) {
            w.write_all(chunk).unwrap();
        }
        w.finish(sha).unwrap();
        tmp
    }

    #[test]
    fn any_range_reads_back_and_a_changed_byte_fails() {
        let keys = Arc::new(EvidenceKeys::derive(&[3; 32]));
        let sha = [9u8; 32];
        for size in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let tmp = sealed(&keys, &data, &sha);
            let mut f = tmp.reopen().unwrap();
            assert_eq!(plain_len(f.metadata().unwrap().len()), Some(size as u64));
            assert_eq!(
                read_range(&keys, &mut f, &sha, 0, usize::MAX).unwrap(),
                data
            );
            for (off, max) in [
                (0, 10),
                (SEGMENT - 3, 7),
                (size / 2, SEGMENT + 5),
                (size, 4),
            ] {
                let want = &data[off.min(size)..(off + max).min(size)];
                let got = read_range(&keys, &mut f, &sha, off as u64, max).unwrap();
                assert_eq!(got, want, "size {size} range {off}+{max}");
            }
            // Another attachment's hash at the end: refused.
            assert!(read_range(&keys, &mut f, &[8; 32], 0, usize::MAX).is_err());
        }
        let data = vec![0x55u8; 2 * SEGMENT + 9];
        let tmp = sealed(&keys, &data, &sha);
        let mut bytes = std::fs::read(tmp.path()).unwrap();
        bytes[HEADER + SEGMENT + TAG + 100] ^= 1;
        std::fs::write(tmp.path(), &bytes).unwrap();
        let mut f = tmp.reopen().unwrap();
        assert!(read_range(&keys, &mut f, &sha, 0, 10).is_ok());
        let e = read_range(&keys, &mut f, &sha, SEGMENT as u64, 10).unwrap_err();
        assert!(e.to_string().contains("segment 1"), "{e}");
        // Cut at a segment boundary: the segment now last was not sealed as last.
        let whole = sealed(&keys, &data, &sha);
        let f = whole.reopen().unwrap();
        f.set_len((HEADER + 2 * (SEGMENT + TAG)) as u64).unwrap();
        let mut f = whole.reopen().unwrap();
        assert!(read_range(&keys, &mut f, &sha, SEGMENT as u64, 10).is_err());
    }

    #[test]
    fn a_writer_cut_off_resumes_from_its_last_whole_segment() {
        let keys = Arc::new(EvidenceKeys::derive(&[4; 32]));
        let data: Vec<u8> = (0..(2 * SEGMENT + 500)).map(|i| (i % 13) as u8).collect();
        let tmp = tempfile::NamedTempFile::new().unwrap();
        {
            let mut w = SealWriter::create(keys.clone(), tmp.reopen().unwrap()).unwrap();
            w.write_all(&data[..SEGMENT + 700]).unwrap();
            // Dropped: one whole segment on disk, 700 bytes lost.
        }
        let (mut w, have) = SealWriter::resume(keys.clone(), tmp.reopen().unwrap()).unwrap();
        assert_eq!(have, SEGMENT as u64);
        w.write_all(&data[have as usize..]).unwrap();
        w.finish(&[1; 32]).unwrap();
        let mut f = tmp.reopen().unwrap();
        assert_eq!(
            read_range(&keys, &mut f, &[1; 32], 0, usize::MAX).unwrap(),
            data
        );
    }

    #[test]
    fn names_hide_the_hash() {
        let keys = EvidenceKeys::derive(&[5; 32]);
        let sha = "ab".repeat(32);
        let name = keys.file_name(&sha);
        assert!(!name.contains(&sha));
        assert_eq!(name, keys.file_name(&sha));
        assert_ne!(name, EvidenceKeys::derive(&[6; 32]).file_name(&sha));
    }
}
