//! A case's evidence bundle (issue 17, docs/bundle.md): its changes as the log holds them
//! with their signatures, the keys that signed them and whose they are, the center's key,
//! and the case's audit entries, each record signed by the center
//! ([`gridsync_core::bundle`] defines the format and its offline check). One function
//! serves `GET /v1/cases/{id}/bundle` and `gridsync admin export-bundle`.

use gridsync_core::bundle::{self, AuditRecord, Header, KeyRecord, Record};
use gridsync_core::case::CaseId;

use crate::audit::{self, Entry};
use crate::caller::Caller;
use crate::db::Db;
use crate::error::Result;
use crate::policy::{self, Permission, Refusal};
use crate::signing::CenterKey;
use crate::state::Center;

/// The bundle of a case the caller may see (the case view's scope; 404 outside it), for a
/// role that may export and see personal data unmasked. Audited (`EXPORT`, `export: evidence_bundle`) before it is made,
/// so the bundle carries its own export among its audit entries.
pub async fn for_caller(
    center: &Center,
    caller: &Caller,
    id: &str,
) -> std::result::Result<(CaseId, Vec<u8>), Refusal> {
    policy::require(caller, Permission::Export)?;
    // The changes' bytes hold the parties' ID and phone numbers in full, which no mask can
    // reach: only a role that may see personal data unmasked takes them away.
    policy::require(caller, Permission::ReadPersonalData)?;
    let (id, _) = super::cases::find_in_scope(center, caller, id).await?;
    audit::append(
        center,
        Entry::by(caller, audit::EXPORT, Some(id.to_string()), detail()),
    )
    .await?;
    let now = center.clock.now().0;
    Ok((id, export(&center.db, &center.key, id, now).await?))
}

/// The bundle of any case, for the operator at the server's shell (`gridsync admin
/// export-bundle`): no scope, audited as the operator's `EXPORT`. `id`: a case id or case
/// number; an unknown one is [`crate::Error::NotFound`].
pub async fn for_operator(
    db: &Db,
    key: &CenterKey,
    id: &str,
    now: i64,
) -> Result<(CaseId, Vec<u8>)> {
    let not_found = || crate::Error::NotFound("case");
    let id: CaseId = if gridsync_core::case::is_case_no(id) {
        crate::db::cases::id_by_case_no(db, id)
            .await?
            .and_then(|s| s.parse().ok())
            .ok_or_else(not_found)?
    } else {
        id.trim().parse().map_err(|_| not_found())?
    };
    if crate::db::cases::log_of(&db.pool, id).await?.is_empty() {
        return Err(not_found());
    }
    let mut entry = Entry::operator(audit::EXPORT, detail());
    entry.case_id = Some(id.to_string());
    audit::append_at(db, now, entry).await?;
    Ok((id, export(db, key, id, now).await?))
}

/// What the audit entry of an export says (ids only).
pub fn detail() -> serde_json::Value {
    serde_json::json!({ "export": "evidence_bundle" })
}

/// Writes the bundle of case `id` as the log holds it now, signed with `key`. An unknown
/// case gives a bundle with no changes; callers check the case exists first.
pub async fn export(db: &Db, key: &CenterKey, id: CaseId, now: i64) -> Result<Vec<u8>> {
    let log = crate::db::cases::log_of(&db.pool, id).await?;
    let signer = key.signer();
    let center_hex = hex::encode(signer.public_key());
    // The keys that signed the case's changes, each once, in first use.
    let mut signers: Vec<String> = Vec::new();
    for row in &log {
        if let Some(s) = &row.signer
            && !signers.contains(s)
        {
            signers.push(s.clone());
        }
    }
    let devices = db.key_owners(&signers).await?;
    let mut records: Vec<Record> = Vec::with_capacity(log.len() + signers.len() + 16);
    for owner in devices {
        records.push(Record::Key(KeyRecord {
            public_key: owner.public_key,
            owner: "device".into(),
            device_id: Some(owner.device_id),
            user_id: Some(owner.user_id),
            user_name: owner.display_name,
            first_seen_at: Some(owner.first_seen_at),
            revoked_at: owner.revoked_at,
        }));
    }
    // Earlier center keys that signed changes of the case (after a rotation).
    for row in db.signing_keys().await? {
        if row.public_key != center_hex && signers.contains(&row.public_key) {
            records.push(Record::Key(KeyRecord {
                public_key: row.public_key,
                owner: "center".into(),
                device_id: None,
                user_id: None,
                user_name: None,
                first_seen_at: Some(row.created_at),
                revoked_at: row.retired_at,
            }));
        }
    }
    for row in &log {
        let signed = match (&row.signer, &row.signature) {
            (Some(k), Some(s)) => Some((k.as_str(), s.as_slice())),
            _ => None,
        };
        records.push(bundle::change_record(
            row.pos,
            &row.hash,
            &row.actor,
            row.device_id.as_deref(),
            row.received_at,
            signed,
            &row.bytes,
        ));
    }
    for entry in audit_of(db, id).await? {
        records.push(Record::Audit(entry));
    }
    let bundle_id = uuid::Uuid::new_v4().simple().to_string();
    let header = Header::new(&bundle_id, &id.to_string(), now, &signer.pair);
    Ok(bundle::write(&signer.pair, header, records))
}

/// The case's audit entries, oldest first.
async fn audit_of(db: &Db, id: CaseId) -> Result<Vec<AuditRecord>> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = audit::query(
            db,
            &audit::Filter {
                case_id: Some(id.to_string()),
                before,
                limit: Some(1000),
                ..audit::Filter::default()
            },
        )
        .await?;
        let done = page.len() < 1000;
        before = page.last().map(|r| r.seq);
        out.extend(page.into_iter().map(|r| AuditRecord {
            seq: r.seq,
            at: r.at,
            user_id: r.user_id,
            role: r.role,
            org_id: r.org_id,
            action: r.action,
            detail: r.detail.to_string(),
            prev_hash: r.prev_hash,
            hash: r.hash,
        }));
        if done {
            break;
        }
    }
    out.reverse();
    Ok(out)
}
