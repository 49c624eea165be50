//! The evidence bundle (issue 17): one file per case, made by the center, that a mediation
//! room, a court or an inspector checks offline, without trusting the center's database.
//! Format (docs/bundle.md):
//!
//! ```text
//! bundle  := MAGIC (8 bytes "GSBUNDLE") VERSION (1 byte, 1) record*
//! record  := LENGTH (u32, big-endian) BODY (LENGTH bytes, JSON) SIGNATURE (64 bytes)
//! ```
//!
//! Every record is signed by the center's key over its exact bytes (with a context prefix,
//! `signing::verify_record`); record 0 is the header, which names that key, the case, the
//! bundle's id and how many records follow. Each record repeats the bundle id and its own
//! index, so records cannot be dropped, reordered or taken from another bundle. Changes
//! additionally carry their author's signature over their Automerge hash, checked against
//! the key records. So any flipped byte fails: in the magic or version (named), in a length
//! (the framing, or the record's signature, fails), in a body or a signature (that record's
//! signature fails), and the error names the record and its offset.
//!
//! ```
//! use gridsync_core::bundle::{self, Header, Record};
//! use gridsync_core::signing::KeyPair;
//!
//! let center = KeyPair::generate();
//! let header = Header::new("a0b1", "6f1c3d2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f", 1_700_000_000_000, &center);
//! let bytes = bundle::write(&center, header, vec![]);
//! assert!(bundle::verify(&bytes, None).is_ok());
//! let mut flipped = bytes.clone();
//! flipped[20] ^= 1;
//! let err = bundle::verify(&flipped, None).unwrap_err();
//! assert!(err.to_string().contains("record 0"), "{err}");
//! ```

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::case::{CaseDoc, CaseId};
use crate::signing::{self, KeyPair, PublicKey, SIGNATURE_LEN};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"GSBUNDLE";
/// The format version this build writes and reads.
pub const VERSION: u8 = 1;
/// A record body's size limit when reading (a change is at most 8 MiB, base64 adds a third).
const MAX_RECORD: usize = 16 << 20;

/// Record 0: what the bundle is and who vouches for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// This bundle's id: every record, this one included, carries it beside its index.
    #[serde(skip)]
    pub bundle: String,
    pub case_id: String,
    /// Epoch milliseconds.
    pub exported_at: i64,
    /// The center key that signed every record: its id and public key (hex). Compare it
    /// with the keys the center publishes at `/.well-known/gridsync-signing-keys`.
    pub center_kid: String,
    pub center_key: String,
    /// Records in the file, this one included.
    pub records: u64,
}

impl Header {
    /// A header for `case_id` signed by `center`; [`write`] fills in the count.
    pub fn new(bundle: &str, case_id: &str, exported_at: i64, center: &KeyPair) -> Header {
        let key = center.public_key();
        Header {
            bundle: bundle.to_owned(),
            case_id: case_id.to_owned(),
            exported_at,
            center_kid: signing::key_id(&key),
            center_key: hex::encode(key),
            records: 0,
        }
    }
}

/// A public key and whom it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Hex.
    pub public_key: String,
    /// `device` or `center`.
    pub owner: String,
    pub device_id: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// Epoch milliseconds.
    pub first_seen_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// One change of the case, as the center's log holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// Feed position in the center's log.
    pub pos: i64,
    /// Automerge change hash, hex.
    pub hash: String,
    pub actor: String,
    /// The device that pushed it (`None`: written at the center).
    pub device_id: Option<String>,
    /// When the center received or wrote it (epoch milliseconds).
    pub received_at: i64,
    /// The signer's public key (hex) and the signature over the hash (hex); `None`:
    /// pushed unsigned (an app older than signatures).
    pub signer: Option<String>,
    pub signature: Option<String>,
    /// The raw change, base64.
    pub bytes: String,
}

/// One audit entry about the case, as the center's hash chain holds it: [`verify`]
/// recomputes `hash` ([`crate::audit_chain::entry_hash`], the case id from the header) and,
/// between entries adjacent in the chain, checks the link; the hashes let an inspector
/// match the entries against the center's whole chain (`GET /v1/audit/verify`, "校验审计链" in the console).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub user_id: String,
    pub role: String,
    pub org_id: String,
    pub action: String,
    /// The entry's detail, JSON text as stored.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A record's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Header(Header),
    Key(KeyRecord),
    Change(ChangeRecord),
    Audit(AuditRecord),
}

/// What is signed: the content with the bundle id and the record's index.
#[derive(Serialize, Deserialize)]
struct Body {
    bundle: String,
    index: u64,
    #[serde(flatten)]
    record: Record,
}

/// Writes a bundle: the header (its record count filled in), then `records` in order, each
/// signed by `center`.
pub fn write(center: &KeyPair, mut header: Header, records: Vec<Record>) -> Vec<u8> {
    header.records = records.len() as u64 + 1;
    let bundle = header.bundle.clone();
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    for (index, record) in std::iter::once(Record::Header(header))
        .chain(records)
        .enumerate()
    {
        let body = serde_json::to_vec(&Body {
            bundle: bundle.clone(),
            index: index as u64,
            record,
        })
        .expect("a record serialises");
        let len = u32::try_from(body.len()).expect("a record under 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&center.sign_record(&body));
    }
    out
}

/// Why a bundle does not verify, naming the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("offset 0: not a gridsync evidence bundle (bad magic)")]
    Magic,
    #[error("offset 8: bundle format version {0}, this build reads {VERSION}")]
    Version(u8),
    #[error("framing: record {record} at offset {offset}: {what}")]
    Framing {
        record: u64,
        offset: usize,
        what: String,
    },
    #[error("record {record} at offset {offset}: {what}")]
    Record {
        record: u64,
        offset: usize,
        what: String,
    },
    #[error("the header declares {declared} records, the file holds {found}")]
    Count { declared: u64, found: u64 },
    #[error("the center key {found} is not the expected {expected}")]
    CenterKey { expected: String, found: String },
}

impl BundleError {
    /// Stable code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Magic => "bad_magic",
            Self::Version(_) => "unsupported_version",
            Self::Framing { .. } => "framing",
            Self::Record { .. } => "bad_record",
            Self::Count { .. } => "record_count",
            Self::CenterKey { .. } => "unexpected_center_key",
        }
    }
}

/// One change of the verified history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub pos: i64,
    pub hash: String,
    /// Who signed it: `device` (with device and user), `center`, or `unsigned`.
    pub signed_by: String,
    pub device_id: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// The change's own time (seconds since the epoch, as its author's clock said).
    pub authored_at: i64,
    /// When the center received or wrote it (epoch milliseconds).
    pub received_at: i64,
    /// The change's message (`record`, `note`, `edit`, a step's name, ...).
    pub message: String,
    /// Workflow steps the change appended (event kind codes).
    pub steps: Vec<String>,
    /// Fields (map keys) the change wrote.
    pub fields: Vec<String>,
}

/// A verified bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub header: Header,
    pub keys: Vec<KeyRecord>,
    pub history: Vec<HistoryEntry>,
    pub audit: Vec<AuditRecord>,
}

/// Checks a bundle offline: framing, every record's center signature, every change's hash
/// and its author's signature, and that the changes make the case. `center_key`: the key
/// the reader trusts (from the center's published keys); `None` takes the header's word,
/// which the caller should then compare by hand.
pub fn verify(bytes: &[u8], center_key: Option<&PublicKey>) -> Result<Verified, BundleError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(BundleError::Magic);
    }
    match bytes.get(MAGIC.len()) {
        Some(&VERSION) => {}
        Some(&v) => return Err(BundleError::Version(v)),
        None => {
            return Err(BundleError::Framing {
                record: 0,
                offset: MAGIC.len(),
                what: "the file ends before the version".into(),
            });
        }
    }
    let mut offset = MAGIC.len() + 1;
    let mut index = 0u64;
    let mut header: Option<(Header, PublicKey)> = None;
    let mut keys = Vec::new();
    let mut changes = Vec::new();
    let mut audit = Vec::new();
    while offset < bytes.len() {
        let at = offset;
        let framing = |what: String| BundleError::Framing {
            record: index,
            offset: at,
            what,
        };
        let Some(len) = bytes.get(at..at + 4) else {
            return Err(framing(format!(
                "the length is cut off ({} bytes left)",
                bytes.len() - at
            )));
        };
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let end = at + 4 + len + SIGNATURE_LEN;
        if len > MAX_RECORD || end > bytes.len() {
            return Err(framing(format!(
                "the length says {len} bytes and a signature, {} bytes are left",
                bytes.len() - at - 4
            )));
        }
        let body = &bytes[at + 4..at + 4 + len];
        let signature: [u8; SIGNATURE_LEN] = bytes[at + 4 + len..end].try_into().expect("64 bytes");
        let bad = |what: String| BundleError::Record {
            record: index,
            offset: at,
            what,
        };
        // The header names the key the rest is checked with; the header itself must verify
        // under it (and under the reader's key when one is given).
        let parsed: Option<Body> = serde_json::from_slice(body).ok();
        let key = match &header {
            Some((_, key)) => *key,
            None => {
                let Some(Body {
                    record: Record::Header(h),
                    ..
                }) = &parsed
                else {
                    return Err(bad(
                        "the center's signature does not verify (no header)".into()
                    ));
                };
                let key = signing::parse_public_key(&h.center_key)
                    .ok_or_else(|| bad("the header's center key is not a key".into()))?;
                if let Some(expected) = center_key
                    && *expected != key
                {
                    return Err(BundleError::CenterKey {
                        expected: hex::encode(expected),
                        found: h.center_key.clone(),
                    });
                }
                key
            }
        };
        if !signing::verify_record(&key, body, &signature) {
            return Err(bad("the center's signature does not verify".into()));
        }
        let Some(parsed) = parsed else {
            return Err(bad("signed, but not a record".into()));
        };
        if parsed.index != index {
            return Err(bad(format!(
                "out of place: it says it is record {}",
                parsed.index
            )));
        }
        if let Some((h, _)) = &header
            && parsed.bundle != h.bundle
        {
            return Err(bad("taken from another bundle".into()));
        }
        match parsed.record {
            Record::Header(mut h) if index == 0 => {
                h.bundle = parsed.bundle;
                header = Some((h, key));
            }
            Record::Header(_) => return Err(bad("a second header".into())),
            Record::Key(k) => keys.push(k),
            Record::Change(c) => changes.push((index, at, c)),
            Record::Audit(a) => audit.push((index, at, a)),
        }
        index += 1;
        offset = end;
    }
    let Some((header, center)) = header else {
        return Err(BundleError::Framing {
            record: 0,
            offset,
            what: "no header".into(),
        });
    };
    if header.records != index {
        return Err(BundleError::Count {
            declared: header.records,
            found: index,
        });
    }
    let history = history(&header, &center, &keys, changes)?;
    let audit = audit_entries(&header, audit)?;
    Ok(Verified {
        header,
        keys,
        history,
        audit,
    })
}

/// Checks each change (hash, author's signature) and reads what it did, applying the
/// changes in order to the case.
fn history(
    header: &Header,
    center: &PublicKey,
    keys: &[KeyRecord],
    changes: Vec<(u64, usize, ChangeRecord)>,
) -> Result<Vec<HistoryEntry>, BundleError> {
    let by_key: HashMap<&str, &KeyRecord> =
        keys.iter().map(|k| (k.public_key.as_str(), k)).collect();
    let center_hex = hex::encode(center);
    let case_id: CaseId = header.case_id.parse().map_err(|_| BundleError::Record {
        record: 0,
        offset: MAGIC.len() + 1,
        what: "the header's case id is not an id".into(),
    })?;
    let mut doc = CaseDoc::empty(case_id, automerge::ActorId::random());
    let mut seen_events: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(changes.len());
    for (index, offset, c) in changes {
        let bad = |what: String| BundleError::Record {
            record: index,
            offset,
            what: format!("change {}: {what}", c.hash.get(..12).unwrap_or(&c.hash)),
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&c.bytes)
            .map_err(|_| bad("the bytes are not base64".into()))?;
        let change = automerge::Change::from_bytes(raw.clone())
            .map_err(|e| bad(format!("not an Automerge change: {e}")))?;
        if hex::encode(change.hash().0) != c.hash {
            return Err(bad("the bytes do not hash to the change's hash".into()));
        }
        if change.actor_id().to_hex_string() != c.actor {
            return Err(bad("the change's actor is not the one recorded".into()));
        }
        let (signed_by, owner) = match (&c.signer, &c.signature) {
            (None, None) => ("unsigned".to_owned(), None),
            (Some(signer), Some(signature)) => {
                let key = signing::parse_public_key(signer)
                    .ok_or_else(|| bad("the signer is not a key".into()))?;
                let signature: [u8; SIGNATURE_LEN] = hex::decode(signature)
                    .ok()
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| bad("the signature is not 64 bytes of hex".into()))?;
                if !signing::verify_change(&key, &change.hash().0, &signature) {
                    return Err(bad("its author's signature does not verify".into()));
                }
                if *signer == center_hex {
                    ("center".to_owned(), None)
                } else {
                    let owner = by_key
                        .get(signer.as_str())
                        .ok_or_else(|| bad("signed by a key the bundle does not name".into()))?;
                    if owner.device_id != c.device_id && c.device_id.is_some() {
                        return Err(bad("signed by another device's key".into()));
                    }
                    (owner.owner.clone(), Some(*owner))
                }
            }
            _ => return Err(bad("a signer without a signature, or the reverse".into())),
        };
        let fields: BTreeSet<String> = change
            .decode()
            .operations
            .iter()
            .filter_map(|op| match &op.key {
                automerge::legacy::Key::Map(k) => Some(k.to_string()),
                automerge::legacy::Key::Seq(_) => None,
            })
            .collect();
        doc.apply_changes(&[raw])
            .map_err(|e| bad(format!("does not apply to the case: {e}")))?;
        let mut steps = Vec::new();
        for e in doc.events() {
            if seen_events.insert(e.id.clone()) {
                steps.push(e.kind);
            }
        }
        out.push(HistoryEntry {
            pos: c.pos,
            hash: c.hash.clone(),
            signed_by,
            device_id: c.device_id.clone(),
            user_id: owner.and_then(|o| o.user_id.clone()),
            user_name: owner.and_then(|o| o.user_name.clone()),
            authored_at: change.timestamp(),
            received_at: c.received_at,
            message: change.message().unwrap_or_default().to_owned(),
            steps,
            fields: fields.into_iter().collect(),
        });
    }
    Ok(out)
}

/// Recomputes each audit entry's chain hash, and checks that entries come in chain order
/// and that an entry next to its predecessor in the chain links to it.
fn audit_entries(
    header: &Header,
    entries: Vec<(u64, usize, AuditRecord)>,
) -> Result<Vec<AuditRecord>, BundleError> {
    let mut out: Vec<AuditRecord> = Vec::with_capacity(entries.len());
    for (index, offset, a) in entries {
        let bad = |what: String| BundleError::Record {
            record: index,
            offset,
            what: format!("audit entry {}: {what}", a.seq),
        };
        let computed = crate::audit_chain::entry_hash(
            &a.prev_hash,
            a.seq,
            a.at,
            &a.user_id,
            &a.role,
            &a.org_id,
            &a.action,
            Some(&header.case_id),
            &a.detail,
        );
        if computed != a.hash {
            return Err(bad("its hash does not match its content".into()));
        }
        if let Some(prev) = out.last() {
            if a.seq <= prev.seq {
                return Err(bad(format!("out of chain order after entry {}", prev.seq)));
            }
            if a.seq == prev.seq + 1 && a.prev_hash != prev.hash {
                return Err(bad(format!("does not link to entry {}", prev.seq)));
            }
        }
        out.push(a);
    }
    Ok(out)
}

/// A change record from the log's row.
pub fn change_record(
    pos: i64,
    hash: &str,
    actor: &str,
    device_id: Option<&str>,
    received_at: i64,
    signed: Option<(&str, &[u8])>,
    bytes: &[u8],
) -> Record {
    Record::Change(ChangeRecord {
        pos,
        hash: hash.to_owned(),
        actor: actor.to_owned(),
        device_id: device_id.map(str::to_owned),
        received_at,
        signer: signed.map(|(k, _)| k.to_owned()),
        signature: signed.map(|(_, s)| hex::encode(s)),
        bytes: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit_chain::{GENESIS, entry_hash};

    const CASE: &str = "6f1c3d2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f";

    fn entry(prev: &str, seq: i64, action: &str) -> AuditRecord {
        let detail = "{\"export\":\"evidence_bundle\"}".to_owned();
        AuditRecord {
            seq,
            at: 1_700_000_000_000 + seq,
            user_id: "u-chen".into(),
            role: "DISPATCHER".into(),
            org_id: "330182-center".into(),
            action: action.into(),
            hash: entry_hash(
                prev,
                seq,
                1_700_000_000_000 + seq,
                "u-chen",
                "DISPATCHER",
                "330182-center",
                action,
                Some(CASE),
                &detail,
            ),
            detail,
            prev_hash: prev.into(),
        }
    }

    /// Three entries of the case: 1 and 2 adjacent in the chain, 7 further on.
    fn chain() -> Vec<AuditRecord> {
        let first = entry(GENESIS, 1, "CASE_ACTION");
        let second = entry(&first.hash, 2, "PERSONAL_DATA_READ");
        let later = entry(&"ab".repeat(32), 7, "EXPORT");
        vec![first, second, later]
    }

    fn bundle_of(center: &KeyPair, entries: Vec<AuditRecord>) -> Vec<u8> {
        let header = Header::new("b1", CASE, 1_700_000_000_100, center);
        write(
            center,
            header,
            entries.into_iter().map(Record::Audit).collect(),
        )
    }

    #[test]
    fn audit_entries_verify_by_their_chain_hash() {
        let center = KeyPair::generate();
        let verified = verify(&bundle_of(&center, chain()), None).unwrap();
        assert_eq!(verified.audit, chain());

        // What the center signed is checked too: an entry whose content no longer hashes
        // to its hash, one that does not link to its neighbour, one out of order. Each
        // names its record (the header is record 0).
        let mut altered = chain();
        altered[1].detail = "{\"export\":\"other\"}".into();
        let mut unlinked = chain();
        unlinked[1] = entry(&"cd".repeat(32), 2, "PERSONAL_DATA_READ");
        let mut reordered = chain();
        reordered.swap(1, 2);
        let mut other_case = chain();
        other_case[0].hash = entry_hash(
            GENESIS,
            1,
            other_case[0].at,
            "u-chen",
            "DISPATCHER",
            "330182-center",
            "CASE_ACTION",
            Some("another-case"),
            &other_case[0].detail,
        );
        for (entries, place, what) in [
            (altered, "record 2", "its hash does not match its content"),
            (unlinked, "record 2", "does not link to entry 1"),
            (reordered, "record 3", "out of chain order"),
            (
                other_case,
                "record 1",
                "its hash does not match its content",
            ),
        ] {
            let err = verify(&bundle_of(&center, entries), None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(place) && err.contains(what), "{err}");
        }
    }
}
