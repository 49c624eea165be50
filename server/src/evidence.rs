//! Evidence (issue 15): the bytes behind a case's attachments, content-addressed by sha256,
//! uploaded resumably and stored once however many cases hold them.
//!
//! A phone syncs the case document first (the `AttachmentRef` is an ordinary change), then
//! uploads: `HEAD` says how many bytes the center holds, each `PATCH` continues at that
//! offset. A chunk is durable once answered: it is written as its own object and only then
//! recorded in the database, in a transaction that moves the upload's offset only from the
//! offset the chunk began at (two processes racing for one offset cannot both win). A body
//! cut off keeps what arrived (as tus servers do), and the phone's next request makes a
//! stalled one hand over first ([`handover`]), so a drop on a slow link costs only the bytes
//! still in flight. When the last byte arrives the chunks
//! are streamed, in order, through SHA-256 into `blobs/{sha}` (a multipart upload, aborted
//! if the hash is wrong); only then is the blob complete.
//!
//! Who sees a blob: a case holds it (`evidence_links`) once its bytes were uploaded to that
//! case, or when a caller whose scope already holds the blob through another case asks
//! about it (two phones of one village attaching the same photo: the second is told at
//! once). Knowing a hash is not enough: a phone that names another case's hash in its own
//! case must upload the bytes themselves (docs/security.md, "Evidence").
//!
//! [`Evidence`] is the handle (store, limits); every function takes the [`Center`] and the
//! [`Caller`], and judges the case with the case endpoints' own check
//! ([`crate::center::cases::find_in_scope`]).

pub mod collect;
mod handover;
pub mod sniff;
pub mod store;
mod thumb;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use gridsync_core::case::AttachmentKind;
use object_store::WriteMultipart;
use object_store::buffered::BufWriter;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::caller::Caller;
use crate::db::evidence::{Blob, NewChunk};
use crate::policy::{self, Permission, Refusal};
use crate::state::Center;

/// Size limits (configurable: `--evidence-max-file` and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// One blob. Default 25 MiB.
    pub per_file: u64,
    /// The distinct blobs one case holds. Default 200 MiB.
    pub per_case: u64,
    /// Bytes one device uploads per UTC day. Default 300 MiB.
    pub per_device_day: u64,
    /// Unfinished uploads idle this long, and blobs no case holds, are collected. Default
    /// 7 days.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_file: 25 << 20,
            per_case: 200 << 20,
            per_device_day: 300 << 20,
            grace: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The evidence store and its limits; cheap to clone.
#[derive(Clone, Debug)]
pub struct Evidence {
    store: Arc<dyn ObjectStore>,
    pub limits: Limits,
    /// Thumbnails decode a whole photo in memory: two at a time.
    decoding: Arc<tokio::sync::Semaphore>,
    /// Multipart part size: S3 needs 5 MiB (but the last); a directory takes any.
    part_size: usize,
    /// One writer per upload in this process; a newcomer stops a stalled one.
    handover: Arc<handover::Handover>,
}

/// How long a request waits for a stalled request on the same upload to hand over.
const HANDOVER_WAIT: Duration = Duration::from_secs(5);

/// A body cut off after at least this many bytes is kept (a drop on a slow link then costs
/// only what was still in flight); shorter ones are not worth an object and a row.
const KEEP_CUT_FROM: u64 = 4 * 1024;

/// Why an evidence request is refused; each has a status and a stable code (`http/evidence.rs`).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The case is not in the caller's scope, does not exist, does not name this hash, or
    /// (downloads) the blob is not held whole: 404 `attachment_not_found`.
    #[error("no such attachment in your scope")]
    NotFound,
    /// 409 `offset_mismatch`: the center holds `held` bytes (`complete` if whole).
    #[error("the upload is at offset {held}")]
    OffsetMismatch {
        held: u64,
        length: u64,
        complete: bool,
    },
    /// 413 `too_large`.
    #[error("{0}")]
    TooLarge(String),
    /// 422 `hash_mismatch`: the bytes did not hash to the name; they were discarded.
    #[error("the bytes do not hash to the attachment's sha256; the upload was discarded")]
    HashMismatch,
    /// 415 `unsupported_media`.
    #[error("{0} files are not accepted as evidence")]
    UnsupportedMedia(&'static str),
    /// 429 `quota_exceeded`.
    #[error("this device's evidence uploads for today reached {0} bytes; try again tomorrow")]
    QuotaExceeded(u64),
    /// 416 `range_not_satisfiable`.
    #[error("the range is outside the blob's {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// 400 `body_incomplete`: the request body broke off (or another request for the same
    /// upload took over); what arrived of it was kept if it was at least 4 KiB, and `HEAD`
    /// says where to continue.
    #[error("the request body broke off; ask where the upload stands and continue")]
    BodyCut,
    /// 404 `thumbnail_unavailable`: a photo the center cannot decode (HEIC, damaged).
    #[error("no thumbnail can be made of this photo")]
    NoThumbnail,
    /// The caller's role may not read cases (403), as on the case endpoints.
    #[error(transparent)]
    Policy(Refusal),
    #[error(transparent)]
    Failed(#[from] crate::Error),
    #[error("evidence store: {0}")]
    Store(#[from] object_store::Error),
}

impl From<sqlx::Error> for Refused {
    fn from(e: sqlx::Error) -> Self {
        Refused::Failed(e.into())
    }
}

/// Where an upload stands (`HEAD`, and the answer to each `PATCH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Bytes the center holds.
    pub offset: u64,
    /// The size the case's reference declares (the blob's, once complete).
    pub length: u64,
    /// Stored whole and checked.
    pub complete: bool,
}

/// A byte range as asked (`Range: bytes=...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `a-b` (inclusive) or `a-`.
    From { first: u64, last: Option<u64> },
    /// `-n`: the last n bytes.
    Suffix(u64),
}

/// A blob to send.
pub struct Download {
    /// The whole blob's size.
    pub size: u64,
    /// The sniffed type.
    pub mime: String,
    /// The bytes sent, if a range was asked.
    pub range: Option<Range<u64>>,
    /// The bytes, as the store reads them.
    pub body: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("size", &self.size)
            .field("mime", &self.mime)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// The attachment a request names, judged.
struct Target {
    case_id: String,
    sha256: String,
    /// The size the case's (first) reference to the hash declares.
    declared: u64,
    kind: AttachmentKind,
}

impl Target {
    /// The upload's name within this process.
    fn key(&self) -> String {
        format!("{}/{}", self.case_id, self.sha256)
    }
}

/// Who is writing, for the handover: the user on one device.
fn writer(caller: &Caller) -> String {
    format!("{}/{}", caller.user.id, caller.device_id)
}

/// Whether `s` is a sha256 as names are written: 64 lowercase hex digits.
fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Days since the epoch, UTC (the daily limit's day).
fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

impl Evidence {
    /// Over `store`, writing multipart uploads in parts of `part_size` bytes (S3: at least
    /// 5 MiB).
    pub fn new(store: Arc<dyn ObjectStore>, limits: Limits, part_size: usize) -> Evidence {
        Evidence {
            store,
            limits,
            decoding: Arc::new(tokio::sync::Semaphore::new(2)),
            part_size,
            handover: Arc::default(),
        }
    }

    /// Opens the store at `location` (a directory is created `0700`).
    pub fn open(location: &store::Location, limits: Limits) -> crate::Result<Evidence> {
        let part_size = match location {
            store::Location::Dir(_) => 256 << 10,
            store::Location::S3 { .. } => 5 << 20,
        };
        Ok(Evidence::new(store::open(location)?, limits, part_size))
    }

    /// The store itself (tests count its objects).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The case (in the caller's scope, by the case endpoints' check) and its reference to
    /// `sha256`; every other answer is the one 404, so nothing tells a case outside the
    /// scope from one that does not exist or does not name the hash.
    async fn target(
        center: &Center,
        caller: &Caller,
        case: &str,
        sha256: &str,
    ) -> Result<Target, Refused> {
        policy::require(caller, Permission::ReadCases).map_err(Refused::Policy)?;
        if !is_sha256(sha256) {
            return Err(Refused::NotFound);
        }
        let (id, doc) = crate::center::cases::find_in_scope(center, caller, case)
            .await
            .map_err(|r| match r {
                Refusal::NotFound(..) => Refused::NotFound,
                Refusal::Failed(e) => Refused::Failed(e),
                other => Refused::Policy(other),
            })?;
        let reference = doc
            .case()
            .attachments
            .into_iter()
            .find(|a| a.sha256.eq_ignore_ascii_case(sha256))
            .ok_or(Refused::NotFound)?;
        Ok(Target {
            case_id: id.to_string(),
            sha256: sha256.to_owned(),
            declared: reference.size,
            kind: reference.kind,
        })
    }

    /// The blob, if the case holds it: linked to it, or stored whole, of the declared size
    /// and already held by a case in the caller's scope (then linked now).
    async fn held(
        &self,
        center: &Center,
        caller: &Caller,
        t: &Target,
    ) -> Result<Option<Blob>, Refused> {
        let Some(blob) = center.db.evidence_blob(&t.sha256).await? else {
            return Ok(None);
        };
        if center.db.evidence_linked(&t.case_id, &t.sha256).await? {
            return Ok(Some(blob));
        }
        if blob.size as u64 == t.declared
            && center
                .db
                .evidence_in_scope(caller.scope(), &t.sha256)
                .await?
        {
            let now = center.clock.now().0;
            center.db.link_evidence(&t.case_id, &t.sha256, now).await?;
            return Ok(Some(blob));
        }
        Ok(None)
    }

    /// The hashes among `attachments` whose bytes the case holds whole (the case detail's
    /// `stored`); the case is already judged in the caller's scope. Read only: a blob
    /// another case in the scope holds counts, and is linked at the first `HEAD` or `GET`.
    pub async fn stored(
        &self,
        center: &Center,
        caller: &Caller,
        case_id: gridsync_core::case::CaseId,
        attachments: &[gridsync_core::case::AttachmentRef],
    ) -> crate::Result<std::collections::HashSet<String>> {
        let case_id = case_id.to_string();
        let mut seen = std::collections::HashSet::new();
        let mut out = std::collections::HashSet::new();
        for a in attachments {
            let sha256 = a.sha256.to_ascii_lowercase();
            if !is_sha256(&sha256) || !seen.insert(sha256.clone()) {
                continue;
            }
            let Some(blob) = center.db.evidence_blob(&sha256).await? else {
                continue;
            };
            let held = center.db.evidence_linked(&case_id, &sha256).await?
                || (blob.size as u64 == a.size
                    && center.db.evidence_in_scope(caller.scope(), &sha256).await?);
            if held {
                out.insert(sha256);
            }
        }
        Ok(out)
    }

    /// Where the upload of `sha256` to `case` stands (`HEAD`).
    pub async fn status(
        &self,
        center: &Center,
        caller: &Caller,
        case: &str,
        sha256: &str,
    ) -> Result<Status, Refused> {
        let t = Self::target(center, caller, case, sha256).await?;
        if let Some(blob) = self.held(center, caller, &t).await? {
            return Ok(complete(blob.size as u64));
        }
        // A `PATCH` still streaming for this upload (its link dropped unseen) keeps what it
        // has and hands over: the answer then counts every byte that arrived.
        let _turn = self
            .handover
            .turn(t.key(), &writer(caller), HANDOVER_WAIT)
            .await;
        match center.db.evidence_upload(&t.case_id, &t.sha256).await? {
            // Every byte arrived but the process stopped before the blob was made: make
            // it now.
            Some(u) if u.received == u.size => self.assemble(center, &t, &u.mime).await,
            Some(u) => Ok(Status {
                offset: u.received as u64,
                length: u.size as u64,
                complete: false,
            }),
            None => Ok(Status {
                offset: 0,
                length: t.declared,
                complete: false,
            }),
        }
    }

    /// Continues the upload at `offset` with `body` (`PATCH`). The chunk is durable once
    /// this returns `Ok`; a body that breaks off leaves nothing.
    pub async fn append<S, E>(
        &self,
        center: &Center,
        caller: &Caller,
        case: &str,
        sha256: &str,
        offset: u64,
        mut body: S,
    ) -> Result<Status, Refused>
    where
        S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin + Send,
    {
        let t = Self::target(center, caller, case, sha256).await?;
        let turn = self
            .handover
            .turn(t.key(), &writer(caller), HANDOVER_WAIT)
            .await;
        if let Some(blob) = self.held(center, caller, &t).await? {
            let size = blob.size as u64;
            return if offset == size {
                Ok(complete(size))
            } else {
                Err(Refused::OffsetMismatch {
                    held: size,
                    length: size,
                    complete: true,
                })
            };
        }
        let limits = self.limits;
        if t.declared > limits.per_file {
            return Err(Refused::TooLarge(format!(
                "the attachment declares {} bytes; one file may have {}",
                t.declared, limits.per_file
            )));
        }
        let upload = center.db.evidence_upload(&t.case_id, &t.sha256).await?;
        let (held, length) = match &upload {
            Some(u) => (u.received as u64, u.size as u64),
            None => (0, t.declared),
        };
        if offset != held {
            return Err(Refused::OffsetMismatch {
                held,
                length,
                complete: false,
            });
        }
        if let Some(u) = &upload
            && held == length
        {
            return self.assemble(center, &t, &u.mime).await;
        }
        let case_bytes = center.db.evidence_case_bytes(&t.case_id).await? as u64;
        if case_bytes + length > limits.per_case {
            return Err(Refused::TooLarge(format!(
                "the case holds {case_bytes} bytes of evidence; with this file it would pass \
                 its limit of {}",
                limits.per_case
            )));
        }
        let now = center.clock.now().0;
        let day = day_of(now);
        let used = center
            .db
            .evidence_quota_used(&caller.device_id, day)
            .await? as u64;
        let allowance = limits.per_device_day.saturating_sub(used);
        if allowance == 0 {
            return Err(Refused::QuotaExceeded(limits.per_device_day));
        }
        let room = length - held;

        // The first bytes of a new upload are judged before anything is written.
        let mut first = Vec::new();
        if upload.is_none() {
            while first.len() < sniff::SNIFF_LEN {
                match body.next().await {
                    Some(Ok(b)) => first.extend_from_slice(&b),
                    Some(Err(_)) => return Err(Refused::BodyCut),
                    None => break,
                }
                if first.len() as u64 > room {
                    return Err(too_long(length, held));
                }
            }
            if first.is_empty() {
                return Ok(Status {
                    offset: 0,
                    length,
                    complete: false,
                });
            }
            let mime = match sniff::sniff(&first) {
                sniff::Sniffed::Allowed(m) => m,
                sniff::Sniffed::Executable(what) | sniff::Sniffed::Archive(what) => {
                    return Err(Refused::UnsupportedMedia(what));
                }
            };
            center
                .db
                .start_evidence_upload(
                    &t.case_id,
                    &t.sha256,
                    length as i64,
                    mime,
                    &caller.device_id,
                    now,
                )
                .await?;
        }

        // Stream the body into the chunk's own object.
        let key = store::chunk(&t.case_id, &t.sha256, held);
        // A phone's chunk (at most 1 MiB) is one put; a larger body goes out in parts as it
        // arrives, two at a time: memory per request stays near one chunk or two parts.
        let mut writer = BufWriter::with_capacity(self.store.clone(), key.clone(), 1 << 20)
            .with_max_concurrency(2);
        let mut written: u64 = 0;
        let mut pending = (!first.is_empty()).then(|| Bytes::from(first));
        let asked_to_stop = async {
            match &turn {
                Some(turn) => turn.asked_to_stop().await,
                None => std::future::pending().await,
            }
        };
        let mut asked_to_stop = std::pin::pin!(asked_to_stop);
        let outcome: Result<(), Refused> = async {
            loop {
                let piece = match pending.take() {
                    Some(b) => b,
                    None => tokio::select! {
                        next = body.next() => match next {
                            Some(Ok(b)) => b,
                            Some(Err(_)) => return Err(Refused::BodyCut),
                            None => return Ok(()),
                        },
                        () = &mut asked_to_stop => return Err(Refused::BodyCut),
                    },
                };
                written += piece.len() as u64;
                if let Some(turn) = &turn {
                    turn.progressed();
                }
                if written > room {
                    return Err(too_long(length, held));
                }
                if written > allowance {
                    return Err(Refused::QuotaExceeded(limits.per_device_day));
                }
                writer.put(piece).await?;
            }
        }
        .await;
        // A cut body keeps what arrived (every byte before the cut is the blob's own, in
        // order; the hash at the end judges the whole): the phone's `HEAD` tells it where to
        // go on, so a drop wastes only what was still in flight.
        let cut = matches!(outcome, Err(Refused::BodyCut)) && written >= KEEP_CUT_FROM;
        if let Err(e) = outcome
            && !cut
        {
            let _ = writer.abort().await;
            return Err(e);
        }
        if written == 0 {
            let _ = writer.abort().await;
            return Ok(Status {
                offset: held,
                length,
                complete: false,
            });
        }
        writer
            .shutdown()
            .await
            .map_err(|e| Refused::Failed(crate::Error::Config(format!("evidence store: {e}"))))?;
        let committed = center
            .db
            .commit_evidence_chunk(&NewChunk {
                case_id: &t.case_id,
                sha256: &t.sha256,
                pos: held as i64,
                len: written as i64,
                object: key.as_ref(),
                device_id: &caller.device_id,
                day,
                now,
            })
            .await?;
        if !committed {
            // Another request took this offset first; ours is dropped.
            let _ = self.store.delete(&key).await;
            let now_held = center
                .db
                .evidence_upload(&t.case_id, &t.sha256)
                .await?
                .map_or(0, |u| u.received as u64);
            return Err(Refused::OffsetMismatch {
                held: now_held,
                length,
                complete: false,
            });
        }
        if cut {
            return Err(Refused::BodyCut);
        }
        if held + written == length {
            let mime = match upload {
                Some(u) => u.mime,
                None => center
                    .db
                    .evidence_upload(&t.case_id, &t.sha256)
                    .await?
                    .map(|u| u.mime)
                    .unwrap_or_else(|| "application/octet-stream".into()),
            };
            return self.assemble(center, &t, &mime).await;
        }
        Ok(Status {
            offset: held + written,
            length,
            complete: false,
        })
    }

    /// Every byte arrived: stream the chunks in order through SHA-256 into `blobs/{sha}`
    /// (unless another case's upload stored it already: then only hash them). A wrong hash
    /// discards the upload.
    async fn assemble(&self, center: &Center, t: &Target, mime: &str) -> Result<Status, Refused> {
        let chunks = center.db.evidence_chunks(&t.case_id, &t.sha256).await?;
        let size: i64 = chunks.iter().map(|c| c.len).sum();
        let contiguous = chunks
            .iter()
            .scan(0_i64, |at, c| {
                let ok = c.pos == *at;
                *at += c.len;
                Some(ok)
            })
            .all(|ok| ok);
        let stored = center.db.evidence_blob(&t.sha256).await?;
        // Parts of `part_size` bytes, at most two in flight: memory stays flat whatever the
        // blob's size (a `BufWriter` would hold up to 10 MiB before its first part).
        let mut writer = match stored {
            Some(_) => None,
            None => Some(WriteMultipart::new_with_chunk_size(
                self.store.put_multipart(&store::blob(&t.sha256)).await?,
                self.part_size,
            )),
        };
        let mut hasher = Sha256::new();
        let copied: Result<(), Refused> = async {
            for c in &chunks {
                let key = object_store::path::Path::from(c.object.as_str());
                let mut stream = self.store.get(&key).await?.into_stream();
                while let Some(piece) = stream.next().await {
                    let piece = piece?;
                    hasher.update(&piece);
                    if let Some(w) = writer.as_mut() {
                        w.wait_for_capacity(2).await?;
                        w.put(piece);
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = copied {
            if let Some(w) = writer {
                let _ = w.abort().await;
            }
            return Err(e);
        }
        let matches = contiguous && hex::encode(hasher.finalize()) == t.sha256;
        if !matches {
            if let Some(w) = writer {
                let _ = w.abort().await;
            }
            self.discard(center, &t.case_id, &t.sha256).await?;
            return Err(Refused::HashMismatch);
        }
        if let Some(w) = writer {
            w.finish().await?;
        }
        let blob = Blob {
            size,
            mime: stored.map_or_else(|| mime.to_owned(), |b| b.mime),
        };
        let now = center.clock.now().0;
        center
            .db
            .finish_evidence_upload(&t.case_id, &t.sha256, &blob, now)
            .await?;
        for c in &chunks {
            let _ = self
                .store
                .delete(&object_store::path::Path::from(c.object.as_str()))
                .await;
        }
        Ok(complete(size as u64))
    }

    /// Drops an unfinished upload: its chunk objects, then its rows.
    pub(crate) async fn discard(
        &self,
        center: &Center,
        case_id: &str,
        sha256: &str,
    ) -> Result<(), Refused> {
        let chunks = center.db.evidence_chunks(case_id, sha256).await?;
        center.db.discard_evidence_upload(case_id, sha256).await?;
        for c in chunks {
            let _ = self
                .store
                .delete(&object_store::path::Path::from(c.object))
                .await;
        }
        Ok(())
    }

    /// The blob's bytes (`GET`), or the asked range of them; 404 unless the case holds it
    /// whole.
    pub async fn download(
        &self,
        center: &Center,
        caller: &Caller,
        case: &str,
        sha256: &str,
        range: Option<ByteRange>,
    ) -> Result<Download, Refused> {
        let t = Self::target(center, caller, case, sha256).await?;
        let blob = self
            .held(center, caller, &t)
            .await?
            .ok_or(Refused::NotFound)?;
        let size = blob.size as u64;
        let range = match range {
            None => None,
            Some(r) => Some(resolve(r, size)?),
        };
        let options = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let body = if range.as_ref().is_some_and(|r| r.is_empty()) || size == 0 {
            futures_util::stream::empty().boxed()
        } else {
            self.store
                .get_opts(&store::blob(&t.sha256), options)
                .await?
                .into_stream()
        };
        Ok(Download {
            size,
            mime: blob.mime,
            range,
            body,
        })
    }

    /// A photo's thumbnail (JPEG, at most [`thumb::MAX_SIDE`] px), made once and kept in
    /// the store; 404 for other kinds and for blobs not held whole.
    pub async fn thumbnail(
        &self,
        center: &Center,
        caller: &Caller,
        case: &str,
        sha256: &str,
    ) -> Result<Bytes, Refused> {
        let t = Self::target(center, caller, case, sha256).await?;
        if t.kind != AttachmentKind::Photo {
            return Err(Refused::NotFound);
        }
        self.held(center, caller, &t)
            .await?
            .ok_or(Refused::NotFound)?;
        let key = store::thumb(&t.sha256);
        match self.store.get(&key).await {
            Ok(got) => return Ok(got.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let _permit = self
            .decoding
            .acquire()
            .await
            .map_err(|_| Refused::NoThumbnail)?;
        // Bounded by the per-file limit: a photo is decoded whole.
        let original = self
            .store
            .get(&store::blob(&t.sha256))
            .await?
            .bytes()
            .await?;
        let jpeg = tokio::task::spawn_blocking(move || thumb::make(&original))
            .await
            .map_err(|_| Refused::NoThumbnail)?
            .ok_or(Refused::NoThumbnail)?;
        let jpeg = Bytes::from(jpeg);
        self.store.put(&key, jpeg.clone().into()).await?;
        Ok(jpeg)
    }
}

fn complete(size: u64) -> Status {
    Status {
        offset: size,
        length: size,
        complete: true,
    }
}

fn too_long(length: u64, held: u64) -> Refused {
    Refused::TooLarge(format!(
        "the body goes past the attachment's declared {length} bytes (the center holds {held})"
    ))
}

/// A range against a blob of `size` bytes (RFC 9110 §14.1.2).
fn resolve(r: ByteRange, size: u64) -> Result<Range<u64>, Refused> {
    let bad = Refused::RangeNotSatisfiable { size };
    match r {
        ByteRange::From { first, last } => {
            if first >= size {
                return Err(bad);
            }
            let end = last.map_or(size, |l| l.saturating_add(1).min(size));
            if end <= first {
                return Err(bad);
            }
            Ok(first..end)
        }
        ByteRange::Suffix(n) => {
            if n == 0 || size == 0 {
                return Err(bad);
            }
            Ok(size.saturating_sub(n)..size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ByteRange, resolve};

    #[test]
    fn ranges_resolve_against_the_size() {
        let from = |first, last| ByteRange::From { first, last };
        assert_eq!(resolve(from(0, Some(9)), 100).unwrap(), 0..10);
        assert_eq!(resolve(from(90, None), 100).unwrap(), 90..100);
        assert_eq!(resolve(from(90, Some(500)), 100).unwrap(), 90..100);
        assert_eq!(resolve(ByteRange::Suffix(10), 100).unwrap(), 90..100);
        assert_eq!(resolve(ByteRange::Suffix(500), 100).unwrap(), 0..100);
        assert!(resolve(from(100, None), 100).is_err());
        assert!(resolve(from(5, Some(4)), 100).is_err());
        assert!(resolve(ByteRange::Suffix(0), 100).is_err());
    }
}
