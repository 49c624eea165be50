//! Evidence: attaching photos, recordings and documents to a case, uploading them to the
//! center resumably after the document has synced, and fetching a case's evidence on demand.
//!
//! The store keeps the bytes in its own folder and the queue (`gridsync_core::store`,
//! `store/evidence.rs`); this file speaks the center's upload protocol: `HEAD` says how many
//! bytes the center holds, `PATCH` with `Upload-Offset` continues from there, and the center
//! checks the sha256 when the last byte arrives. A dropped connection costs at most the chunk
//! in flight; chunks follow the link's measured speed (small on 2G, so a drop wastes little;
//! large on a good link, so headers cost little), are halved after a drop and grow back
//! while they get through.

use std::fs;
use std::time::Instant;

use gridsync_core::case::CaseId;
use gridsync_core::store::{self as st, NewAttachment};

use crate::FieldError;
use crate::case::Attachment;
use crate::client::{FieldClient, case_id_of, lock};
use crate::codes::parse;
use crate::observe::{self, ChangeReason};

/// The smallest and largest chunk sent in one `PATCH`.
const MIN_CHUNK: usize = 16 * 1024;
const MAX_CHUNK: usize = 1024 * 1024;
/// Chunks answered `body_incomplete` one after another before the call gives up.
const MAX_CUTS_IN_A_ROW: u32 = 5;

/// A chunk is sized to take about this long at the measured speed.
const CHUNK_SECONDS: f64 = 4.0;
/// The cap a client starts with.
pub(crate) const FIRST_CHUNK_CAP: usize = 256 * 1024;

/// Where an attachment's bytes stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UploadState {
    /// The change that references it has not reached the center yet: sync first.
    WaitingForSync,
    /// Ready to upload; `sent` bytes confirmed so far.
    Pending,
    /// The center holds it whole and checked.
    Done,
    /// Refused for good (`failure`: `too_large`, `unsupported_media`, `hash_mismatch`,
    /// `attachment_not_found`); the bytes stay on the phone.
    Failed,
}

/// One attachment's upload, for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct EvidenceUpload {
    pub case_id: String,
    pub attachment_id: String,
    pub sha256: String,
    pub size: u64,
    pub mime: String,
    /// Bytes the center has confirmed.
    pub sent: u64,
    pub state: UploadState,
    pub failure: Option<String>,
}

/// What one `upload_evidence` call did.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record, serde::Serialize)]
pub struct UploadReport {
    /// Attachments the center now holds whole.
    pub completed: u32,
    /// Bytes sent in `PATCH` bodies (the wire carries these plus HTTP headers).
    pub bytes_sent: u64,
    /// Attachments refused for good by this call.
    pub failed: Vec<EvidenceUpload>,
    /// Attachments still to upload (waiting for a sync, or pending).
    pub remaining: u32,
}

impl From<st::Upload> for EvidenceUpload {
    fn from(u: st::Upload) -> Self {
        EvidenceUpload {
            case_id: u.case_id.to_string(),
            attachment_id: u.attachment_id,
            sha256: u.sha256,
            size: u.size,
            mime: u.mime,
            sent: u.sent,
            state: match u.state {
                st::UploadState::WaitingForSync => UploadState::WaitingForSync,
                st::UploadState::Pending => UploadState::Pending,
                st::UploadState::Done => UploadState::Done,
                st::UploadState::Failed => UploadState::Failed,
            },
            failure: u.failure,
        }
    }
}

#[uniffi::export]
impl FieldClient {
    /// Attaches the file at `path` to a case: its bytes are copied into the store's own
    /// folder and hashed; the case document gets the reference (synced with the next
    /// `sync`); the bytes go up with `upload_evidence` after that. `kind`: `PHOTO`,
    /// `AUDIO`, `DOCUMENT` or `AGREEMENT`. Works offline. The original file is not kept
    /// open or changed: delete it if it was a temporary capture.
    pub fn attach_file(
        &self,
        case_id: String,
        path: String,
        kind: String,
        mime: String,
        caption: String,
    ) -> Result<Attachment, FieldError> {
        let mut file = fs::File::open(&path).map_err(|e| {
            FieldError::invalid_input("file_not_readable", format!("{path:?}: {e}"))
        })?;
        self.attach(&case_id, &mut file, &kind, mime, caption)
    }

    /// `attach_file` for bytes in memory (a small photo the camera handed over).
    pub fn attach_bytes(
        &self,
        case_id: String,
        bytes: Vec<u8>,
        kind: String,
        mime: String,
        caption: String,
    ) -> Result<Attachment, FieldError> {
        self.attach(&case_id, &mut bytes.as_slice(), &kind, mime, caption)
    }

    /// Every attachment's upload, most urgent first (red and flagged cases first).
    pub fn evidence_uploads(&self) -> Result<Vec<EvidenceUpload>, FieldError> {
        let uploads = self.store().uploads()?;
        Ok(uploads.into_iter().map(Into::into).collect())
    }

    /// Uploads what is ready, most urgent case first, resuming each where the center's
    /// copy ends. Run it after `sync` (an attachment waits until its reference has
    /// reached the center), in the same background job. Progress shows in `sync_status`
    /// and its listeners after every chunk; an error (no network) leaves everything
    /// confirmed so far confirmed, and the next call resumes.
    #[uniffi::method(default(server_url = None))]
    pub fn upload_evidence(&self, server_url: Option<String>) -> Result<UploadReport, FieldError> {
        let _net = lock(&self.net);
        let base = self.server_url(server_url)?;
        let mut report = UploadReport::default();
        let mut speed = None;
        let result = (|| -> Result<(), FieldError> {
            loop {
                // Its own statement: the store's guard must not live through the upload.
                let next = self.store().next_upload()?;
                let Some(upload) = next else {
                    return Ok(());
                };
                self.upload_one(&base, &upload, &mut report, &mut speed)?;
            }
        })();
        report.remaining = self
            .store()
            .uploads()?
            .iter()
            .filter(|u| {
                matches!(
                    u.state,
                    st::UploadState::Pending | st::UploadState::WaitingForSync
                )
            })
            .count() as u32;
        self.status_changed();
        result.map(|()| report)
    }

    /// An attachment's bytes, fetching them from the center first if this phone does not
    /// hold them (a department handler opening a dispatched case's photo). A fetch cut off
    /// resumes on the next call from its last whole 64 KiB; the bytes are checked against
    /// the attachment's sha256 before they are kept. On the phone they stay encrypted with
    /// the store's key: this hands them out in memory.
    pub fn evidence_bytes(
        &self,
        case_id: String,
        attachment_id: String,
    ) -> Result<Vec<u8>, FieldError> {
        let sha256 = self.fetch_evidence(&case_id, &attachment_id)?;
        Ok(self.store().read_evidence(&sha256, 0, usize::MAX)?)
    }

    /// `evidence_bytes` written to `dest_path` (a file the app chose, e.g. in its cache for
    /// a viewer that wants a path; the copy is outside the store's encryption: delete it
    /// when done). Returns the number of bytes written.
    pub fn export_evidence(
        &self,
        case_id: String,
        attachment_id: String,
        dest_path: String,
    ) -> Result<u64, FieldError> {
        let sha256 = self.fetch_evidence(&case_id, &attachment_id)?;
        let mut out = fs::File::create(&dest_path).map_err(storage)?;
        let mut offset = 0u64;
        loop {
            let chunk = self.store().read_evidence(&sha256, offset, 1024 * 1024)?;
            if chunk.is_empty() {
                break;
            }
            std::io::Write::write_all(&mut out, &chunk).map_err(storage)?;
            offset += chunk.len() as u64;
        }
        out.sync_all().map_err(storage)?;
        Ok(offset)
    }
}

impl FieldClient {
    /// Makes sure the phone holds an attachment's bytes (downloading them if not); returns
    /// their sha256.
    fn fetch_evidence(&self, case_id: &str, attachment_id: &str) -> Result<String, FieldError> {
        let id = case_id_of(case_id)?;
        let reference = self.store().attachment(id, attachment_id)?;
        if self.store().has_evidence(&reference.sha256)? {
            return Ok(reference.sha256);
        }
        let _net = lock(&self.net);
        let base = self.server_url(None)?;
        let url = attachment_url(&base, id, &reference.sha256);
        let mut refreshed = false;
        let mut download = self.store().begin_download(&reference.sha256)?;
        loop {
            let have = download.have();
            let token = self.valid_token(&base, refreshed)?;
            let (reply, _) = self.http.download(&url, &token, have, &mut download)?;
            match reply.status {
                200 if have > 0 => {
                    // The center ignored the range: start over with what it sent.
                    drop(download);
                    let part = self.store().evidence_path(&reference.sha256)?;
                    let _ = fs::remove_file(part.with_extension("part"));
                    download = self.store().begin_download(&reference.sha256)?;
                    continue;
                }
                200 | 206 => break,
                416 => break, // everything is here already
                401 if !refreshed => refreshed = true,
                _ => return Err(self.handle(reply.error())),
            }
        }
        self.store().complete_download(download)?;
        Ok(reference.sha256)
    }

    fn attach(
        &self,
        case_id: &str,
        source: &mut dyn std::io::Read,
        kind: &str,
        mime: String,
        caption: String,
    ) -> Result<Attachment, FieldError> {
        let id = case_id_of(case_id)?;
        let new = NewAttachment {
            kind: parse(kind)?,
            mime,
            caption,
        };
        let reference = self.write(id, ChangeReason::Edited, |s| s.attach(id, source, &new))?;
        Ok((&reference).into())
    }

    /// One attachment: where the center's copy ends, then chunks until it is whole.
    fn upload_one(
        &self,
        base: &str,
        upload: &st::Upload,
        report: &mut UploadReport,
        speed: &mut Option<f64>,
    ) -> Result<(), FieldError> {
        let url = attachment_url(base, upload.case_id, &upload.sha256);
        let mut token = self.valid_token(base, false)?;
        let mut head = self.http.head_upload(&url, &token)?;
        if head.reply.status == 401 {
            token = self.valid_token(base, true)?;
            head = self.http.head_upload(&url, &token)?;
        }
        if !head.reply.is_success() {
            return self.refused(upload, head.reply, report);
        }
        let mut offset = head.offset.unwrap_or(0);
        let mut complete = head.complete;
        let mut cut_in_a_row = 0;
        while !complete {
            let chunk_len = chunk_size(*speed).min(*lock(&self.chunk_cap));
            let chunk = self
                .store()
                .read_evidence(&upload.sha256, offset, chunk_len)?;
            if chunk.is_empty() && offset < upload.size {
                return Err(FieldError::Storage {
                    code: "evidence_io".into(),
                    detail: "the attachment's file is shorter than its reference".into(),
                });
            }
            let started = Instant::now();
            let answer = match self.http.patch_upload(&url, &token, offset, &chunk) {
                Ok(answer) => answer,
                Err(e) => {
                    self.halve_chunks(chunk.len());
                    return Err(e);
                }
            };
            let status = answer.reply.status;
            if (200..300).contains(&status) {
                cut_in_a_row = 0;
                let secs = started.elapsed().as_secs_f64().max(0.001);
                *speed = Some(chunk.len() as f64 / secs);
                // And let them grow again, slowly, while chunks get through.
                let mut cap = lock(&self.chunk_cap);
                *cap = (*cap + *cap / 4).min(MAX_CHUNK);
                report.bytes_sent += chunk.len() as u64;
                offset = answer.offset.unwrap_or(offset + chunk.len() as u64);
                complete = answer.complete;
            } else if status == 409 {
                // The center holds something else than we thought: continue from there.
                offset = answer.offset.unwrap_or(0);
            } else if status == 400 && answer.reply.error().code() == "body_incomplete" {
                // The chunk broke off on the way (a middlebox closed our side) or another
                // request for this upload took over: the center kept what arrived; ask
                // where it stands and go on, as after a drop. Not for ever: a link that
                // cuts every chunk is a network error.
                cut_in_a_row += 1;
                if cut_in_a_row > MAX_CUTS_IN_A_ROW {
                    return Err(FieldError::network(
                        "network",
                        "every chunk broke off on the way",
                    ));
                }
                self.halve_chunks(chunk.len());
                let head = self.http.head_upload(&url, &token)?;
                if !head.reply.is_success() {
                    return self.refused(upload, head.reply, report);
                }
                offset = head.offset.unwrap_or(0);
                complete = head.complete;
                continue;
            } else if status == 401 {
                token = self.valid_token(base, true)?;
                continue;
            } else {
                return self.refused(upload, answer.reply, report);
            }
            if !complete {
                // Progress survives a kill; completion is recorded once, below.
                self.store()
                    .record_upload(upload.case_id, &upload.sha256, offset, false)?;
                self.status_changed();
            }
        }
        self.store()
            .record_upload(upload.case_id, &upload.sha256, upload.size, true)?;
        report.completed += 1;
        self.observers
            .cases_changed(observe::one(upload.case_id, ChangeReason::EvidenceSent));
        Ok(())
    }

    /// The link dropped mid-chunk: halve the chunks on this link, so the next drop wastes
    /// less.
    fn halve_chunks(&self, sent: usize) {
        *lock(&self.chunk_cap) = (sent / 2).max(MIN_CHUNK);
    }

    /// A refusal: for good (`too_large`, `unsupported_media`, `hash_mismatch`,
    /// `attachment_not_found`) the upload is marked failed and the next one goes on;
    /// anything else (quota, server trouble, a revoked device) ends the call.
    fn refused(
        &self,
        upload: &st::Upload,
        reply: crate::http::Reply,
        report: &mut UploadReport,
    ) -> Result<(), FieldError> {
        let error = reply.error();
        let permanent = matches!(
            error.code(),
            "too_large" | "unsupported_media" | "hash_mismatch" | "attachment_not_found"
        );
        if !permanent {
            return Err(self.handle(error));
        }
        self.store()
            .fail_upload(upload.case_id, &upload.sha256, error.code())?;
        let mut failed: EvidenceUpload = upload.clone().into();
        failed.state = UploadState::Failed;
        failed.failure = Some(error.code().to_owned());
        report.failed.push(failed);
        self.observers
            .cases_changed(observe::one(upload.case_id, ChangeReason::Refused));
        Ok(())
    }
}

fn attachment_url(base: &str, case: CaseId, sha256: &str) -> String {
    format!("{base}/v1/cases/{case}/attachments/{sha256}")
}

/// About `CHUNK_SECONDS` of the measured speed, within bounds; a first chunk of 64 KiB.
fn chunk_size(speed: Option<f64>) -> usize {
    match speed {
        None => 64 * 1024,
        Some(bytes_per_second) => {
            let wanted = (bytes_per_second * CHUNK_SECONDS) as usize;
            wanted.clamp(MIN_CHUNK, MAX_CHUNK)
        }
    }
}

fn storage(e: std::io::Error) -> FieldError {
    FieldError::Storage {
        code: "evidence_io".into(),
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_follow_the_links_speed() {
        assert_eq!(chunk_size(None), 64 * 1024);
        // 2G at 5 kB/s: 4 s worth, so a drop wastes little; slower still, the smallest.
        assert_eq!(chunk_size(Some(5_000.0)), 20_000);
        assert_eq!(chunk_size(Some(1_000.0)), MIN_CHUNK);
        assert_eq!(chunk_size(Some(50_000.0)), 200_000);
        assert_eq!(chunk_size(Some(100e6)), MAX_CHUNK);
    }
}
