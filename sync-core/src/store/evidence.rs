//! Evidence on the phone: the bytes of photos, recordings and documents attached to a case.
//!
//! The bytes live in the store's own folder (`<store file>.evidence/`), sealed (see
//! `evidence/seal.rs`: encrypted in 64 KiB segments, named by an HMAC of the hash), never in
//! SQLite pages or in the case document: the document gets an ordinary `AttachmentRef`
//! change (hash, size, MIME type, kind), which syncs like any other. The bytes follow
//! separately, after the change that references them has been acknowledged, resumably:
//! this module keeps the queue (what is to upload, how far the center has confirmed, in
//! order of the case's risk) and hands out the bytes; the transport is the app's or the
//! bindings' (`gridsync-ffi` speaks the center's `HEAD`/`PATCH` upload protocol).
//!
//! Attaching is crash-safe in two steps: the file is written to a temporary name, synced
//! and renamed to its hash, then the document, the outbox and the queue row are written in
//! one transaction. A crash between the two leaves a file no row names; the next attach of
//! the same bytes reuses it, and `wipe` removes the folder.

mod seal;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{FieldStore, enqueue, load_doc, write_doc};
use crate::case::{AttachmentKind, AttachmentRef, CaseId};
use crate::{Error, Result};

pub(crate) use seal::EvidenceKeys;
use seal::SealWriter;

/// Where an attachment's bytes stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UploadState {
    /// The change that references it has not reached the center yet: sync first.
    WaitingForSync,
    /// Ready to upload (`sent` bytes confirmed so far).
    Pending,
    /// The center holds it whole and checked.
    Done,
    /// The center refused it for good (`failure` says why: `too_large`,
    /// `unsupported_media`, `hash_mismatch`, ...); it stays on the phone.
    Failed,
}

/// One attachment's upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub case_id: CaseId,
    pub attachment_id: String,
    pub sha256: String,
    pub size: u64,
    pub mime: String,
    /// Bytes the center has confirmed holding.
    pub sent: u64,
    pub state: UploadState,
    pub failure: Option<String>,
}

/// What the store holds for a new attachment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewAttachment {
    pub kind: AttachmentKind,
    pub mime: String,
    pub caption: String,
}

impl FieldStore {
    /// The folder holding this store's evidence files.
    pub fn evidence_dir(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".evidence");
        PathBuf::from(name)
    }

    /// Where the sealed bytes of `sha256` are kept on the phone (the file may not exist: a
    /// download not yet made). The file is encrypted: read it with
    /// [`FieldStore::read_evidence`].
    pub fn evidence_path(&self, sha256: &str) -> Result<PathBuf> {
        if !is_sha256(sha256) {
            return Err(Error::invalid("sha256", "64 lowercase hex digits"));
        }
        Ok(self.evidence_dir().join(self.evidence.file_name(sha256)))
    }

    /// Attaches bytes read from `source` to a case: copied into the store's folder while
    /// hashed (sha256), referenced in the case document (one change, synced like any other)
    /// and queued for upload. Returns the reference as recorded.
    pub fn attach(
        &mut self,
        id: CaseId,
        source: &mut dyn Read,
        new: &NewAttachment,
    ) -> Result<AttachmentRef> {
        crate::case::field_rule("mime").require(&new.mime)?;
        crate::case::field_rule("caption").require(&new.caption)?;
        self.author()?; // refused before anything is copied when nobody is signed in
        let (sha256, size) = self.store_file(source)?;
        let now = self.clock.now();
        let tx = self.conn.transaction()?;
        let mut doc = load_doc(&tx, id, &self.actor)?;
        let before = doc.heads();
        let reference = AttachmentRef {
            id: String::new(),
            sha256: sha256.clone(),
            kind: new.kind,
            size,
            mime: new.mime.trim().to_owned(),
            caption: new.caption.clone(),
        };
        let attachment_id = doc.add_attachment(&reference, now)?;
        let changes = doc.changes_since(&before);
        write_doc(&tx, &mut doc, &self.limits, now)?;
        enqueue(&tx, id, &changes)?;
        // The upload waits until the center has acknowledged this change (and so knows
        // the reference it will check the bytes against).
        let after_seq: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM outbox WHERE case_id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO evidence (case_id, attachment_id, sha256, size, mime, after_seq, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (case_id, sha256) DO NOTHING",
            params![
                id.to_string(),
                attachment_id,
                sha256,
                i64::try_from(size).unwrap_or(i64::MAX),
                reference.mime,
                after_seq,
                now.0
            ],
        )?;
        tx.commit()?;
        Ok(AttachmentRef {
            id: attachment_id,
            ..reference
        })
    }

    /// Every attachment's upload, most urgent first: red and flagged cases, then by risk
    /// level, then oldest first.
    pub fn uploads(&self) -> Result<Vec<Upload>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.case_id, e.attachment_id, e.sha256, e.size, e.mime, e.sent, e.done,
                    e.failure,
                    EXISTS (SELECT 1 FROM outbox o WHERE o.case_id = e.case_id AND o.seq <= e.after_seq)
             FROM evidence e LEFT JOIN cases c ON c.id = e.case_id
             ORDER BY COALESCE(c.high_risk, 0) DESC,
                      CASE c.risk_level WHEN 'RED' THEN 0 WHEN 'ORANGE' THEN 1
                                        WHEN 'YELLOW' THEN 2 ELSE 3 END,
                      e.created_at, e.rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, bool>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, bool>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (case_id, attachment_id, sha256, size, mime, sent, done, failure, unsynced) = row?;
            let Ok(case_id) = case_id.parse() else {
                continue;
            };
            let state = if done {
                UploadState::Done
            } else if failure.is_some() {
                UploadState::Failed
            } else if unsynced {
                UploadState::WaitingForSync
            } else {
                UploadState::Pending
            };
            out.push(Upload {
                case_id,
                attachment_id,
                sha256,
                size: u64::try_from(size).unwrap_or(0),
                mime,
                sent: u64::try_from(sent).unwrap_or(0),
                state,
                failure,
            });
        }
        Ok(out)
    }

    /// The next upload to work on, if any is ready.
    pub fn next_upload(&self) -> Result<Option<Upload>> {
        Ok(self
            .uploads()?
            .into_iter()
            .find(|u| u.state == UploadState::Pending))
    }

    /// Up to `max` bytes of the evidence `sha256` from `offset`, decrypted (only the
    /// segments the range touches are read). A tampered file is an `evidence_io` error.
    pub fn read_evidence(&self, sha256: &str, offset: u64, max: usize) -> Result<Vec<u8>> {
        let mut file = File::open(self.evidence_path(sha256)?).map_err(io)?;
        seal::read_range(&self.evidence, &mut file, &sha_bytes(sha256)?, offset, max)
    }

    /// The size of the evidence `sha256` this phone holds, if it holds it.
    pub fn evidence_size(&self, sha256: &str) -> Result<Option<u64>> {
        match fs::metadata(self.evidence_path(sha256)?) {
            Ok(m) => Ok(Some(seal::plain_len(m.len()).ok_or_else(|| {
                Error::Evidence("evidence file is cut short".into())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// The center confirmed holding `sent` bytes of the upload (`done` once whole and
    /// checked).
    pub fn record_upload(&self, id: CaseId, sha256: &str, sent: u64, done: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE evidence SET sent = ?3, done = ?4 WHERE case_id = ?1 AND sha256 = ?2",
            params![
                id.to_string(),
                sha256,
                i64::try_from(sent).unwrap_or(i64::MAX),
                done
            ],
        )?;
        Ok(())
    }

    /// The center refused the upload for good (`code`); the bytes stay on the phone.
    pub fn fail_upload(&self, id: CaseId, sha256: &str, code: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE evidence SET failure = ?3 WHERE case_id = ?1 AND sha256 = ?2",
            params![id.to_string(), sha256, code],
        )?;
        Ok(())
    }

    /// Whether the phone holds the bytes of `sha256` whole (attached here, or downloaded).
    pub fn has_evidence(&self, sha256: &str) -> Result<bool> {
        Ok(self.evidence_path(sha256)?.is_file())
    }

    /// Seals `source` into the evidence folder under its hash's name; returns (sha256, size).
    fn store_file(&self, source: &mut dyn Read) -> Result<(String, u64)> {
        let dir = self.writable_evidence_dir()?;
        let tmp = dir.join(format!(".incoming-{}", uuid::Uuid::new_v4()));
        let result = (|| {
            let mut file =
                SealWriter::create(self.evidence.clone(), File::create(&tmp).map_err(io)?)
                    .map_err(io)?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut buf = zeroize::Zeroizing::new(vec![0u8; 64 * 1024]);
            loop {
                let n = source.read(&mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n]).map_err(io)?;
                size += n as u64;
            }
            let mut digest = [0u8; 32];
            digest.copy_from_slice(&hasher.finalize());
            file.finish(&digest).map_err(io)?;
            let sha256 = hex(&digest);
            fs::rename(&tmp, dir.join(self.evidence.file_name(&sha256))).map_err(io)?;
            sync_dir(&dir);
            Ok((sha256, size))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// The evidence folder, made if missing; refused once the store was wiped (the files
    /// would be sealed with a key that is gone).
    fn writable_evidence_dir(&self) -> Result<PathBuf> {
        if self.wiped {
            return Err(Error::Evidence(
                "the store was wiped: open it again with a new key".into(),
            ));
        }
        let dir = self.evidence_dir();
        create_private_dir(&dir)?;
        Ok(dir)
    }

    /// Starts (or resumes) a download of the evidence `sha256`: write the bytes from
    /// [`EvidenceDownload::have`] on into it (they are sealed as they arrive, whole segments
    /// only: a download cut off resumes from its last whole 64 KiB), then hand it to
    /// [`FieldStore::complete_download`]. Holds no borrow of the store, so the store's lock
    /// need not be held while the bytes arrive.
    pub fn begin_download(&self, sha256: &str) -> Result<EvidenceDownload> {
        let target = self.evidence_path(sha256)?;
        self.writable_evidence_dir()?;
        let part = target.with_extension("part");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part)
            .map_err(io)?;
        let (writer, have) = SealWriter::resume(self.evidence.clone(), file).map_err(io)?;
        Ok(EvidenceDownload {
            writer,
            have,
            sha256: sha256.to_owned(),
            part,
            target,
        })
    }

    /// A download finished: the last segment sealed, the whole checked against its sha256
    /// and moved to its place. Bytes that do not hash to the name are removed and refused
    /// (`evidence_io`): the next fetch starts over.
    pub fn complete_download(&self, download: EvidenceDownload) -> Result<PathBuf> {
        let EvidenceDownload {
            writer,
            sha256,
            part,
            target,
            ..
        } = download;
        let expected = sha_bytes(&sha256)?;
        writer.finish(&expected).map_err(io)?;
        let check = (|| {
            let mut file = File::open(&part).map_err(io)?;
            let mut hasher = Sha256::new();
            let mut offset = 0u64;
            loop {
                let chunk =
                    seal::read_range(&self.evidence, &mut file, &expected, offset, seal::SEGMENT)?;
                if chunk.is_empty() {
                    break;
                }
                offset += chunk.len() as u64;
                hasher.update(&chunk);
            }
            if hasher.finalize()[..] == expected[..] {
                Ok(())
            } else {
                Err(Error::Evidence(format!(
                    "the downloaded bytes do not hash to {sha256}: discarded"
                )))
            }
        })();
        if let Err(e) = check {
            let _ = fs::remove_file(&part);
            return Err(e);
        }
        fs::rename(&part, &target).map_err(io)?;
        sync_dir(&self.evidence_dir());
        Ok(target)
    }

    /// Evidence files an older app version kept in plaintext (named by their sha256):
    /// sealed under their new names, then removed; its partial downloads are removed.
    pub(super) fn seal_plaintext_evidence(&self) -> Result<()> {
        let dir = self.evidence_dir();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(());
        };
        let mut sealed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.strip_suffix(".part").is_some_and(is_sha256) {
                fs::remove_file(&path).map_err(io)?;
                continue;
            }
            if !is_sha256(&name) {
                continue;
            }
            let tmp = dir.join(format!(".incoming-{}", uuid::Uuid::new_v4()));
            let mut writer =
                SealWriter::create(self.evidence.clone(), File::create(&tmp).map_err(io)?)
                    .map_err(io)?;
            std::io::copy(&mut File::open(&path).map_err(io)?, &mut writer).map_err(io)?;
            writer.finish(&sha_bytes(&name)?).map_err(io)?;
            fs::rename(&tmp, dir.join(self.evidence.file_name(&name))).map_err(io)?;
            fs::remove_file(&path).map_err(io)?;
            sealed += 1;
        }
        sync_dir(&dir);
        if sealed > 0 {
            tracing::info!(
                files = sealed,
                "evidence files of an older app version sealed"
            );
        }
        Ok(())
    }

    /// The case an attachment id belongs to, with its hash (for downloads by id).
    pub fn attachment(&self, id: CaseId, attachment_id: &str) -> Result<AttachmentRef> {
        let doc = load_doc(&self.conn, id, &self.actor)?;
        doc.case()
            .attachments
            .into_iter()
            .find(|a| a.id == attachment_id)
            .ok_or_else(|| Error::ItemNotFound {
                what: "attachment",
                id: attachment_id.chars().take(64).collect(),
            })
    }

    /// The sent count the queue holds for an upload, if it is queued.
    pub fn upload_sent(&self, id: CaseId, sha256: &str) -> Result<Option<u64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT sent FROM evidence WHERE case_id = ?1 AND sha256 = ?2",
                params![id.to_string(), sha256],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|s| u64::try_from(s).unwrap_or(0)))
    }
}

/// A download under way: a `Write` sink sealing what it is given (see
/// [`FieldStore::begin_download`]).
#[derive(Debug)]
pub struct EvidenceDownload {
    writer: SealWriter,
    have: u64,
    sha256: String,
    part: PathBuf,
    target: PathBuf,
}

impl EvidenceDownload {
    /// Bytes already held from an earlier, cut-off download: ask the center for the rest.
    pub fn have(&self) -> u64 {
        self.have
    }
}

impl Write for EvidenceDownload {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.writer.write(data)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// The 32 bytes of a hex sha256.
fn sha_bytes(sha256: &str) -> Result<[u8; 32]> {
    if !is_sha256(sha256) {
        return Err(Error::invalid("sha256", "64 lowercase hex digits"));
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&sha256[2 * i..2 * i + 2], 16)
            .map_err(|_| Error::invalid("sha256", "64 lowercase hex digits"))?;
    }
    Ok(out)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn io(e: std::io::Error) -> Error {
    Error::Evidence(e.to_string())
}

/// The folder, readable by this app's user only.
fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

/// Makes a rename durable (best effort where directories cannot be opened).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
