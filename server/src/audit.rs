//! The audit log: an append-only record of every workflow step taken at the center, every
//! read of unmasked personal data, every change of dispatch or time-limit rules and every
//! export, each entry hash-chained to the one before it.
//!
//! An entry's `hash` is [`entry_hash`] (`gridsync_core::audit_chain`: SHA-256 over the
//! previous entry's hash and the entry's canonical form; an evidence bundle's reader
//! recomputes it offline). The first entry chains to [`GENESIS`]. Appends serialise: on SQLite through the one writer connection, on
//! PostgreSQL through a transaction-scoped advisory lock (`db::audit`) taken before the
//! last hash is read, so several server processes on one database keep one chain.
//!
//! `detail` carries ids, codes and field names only, never personal data.

pub use gridsync_core::audit_chain::{GENESIS, entry_hash};
use serde::Serialize;

use crate::caller::Caller;
use crate::db::{self, Db, Dialect};
use crate::error::{Error, Result};
use crate::state::Center;

/// `action` of a workflow step taken through the case API (`detail`: `kind`, `event_id`).
pub const CASE_ACTION: &str = "CASE_ACTION";
/// `action` of a read of unmasked personal data (`detail`: `fields`, `parties`).
pub const PERSONAL_DATA_READ: &str = "PERSONAL_DATA_READ";
/// `action` of a sync that delivered cases, with their personal data, to a device
/// (`detail`: `device`, `cases` (ids), `changes`).
pub const CASES_SYNCED: &str = "CASES_SYNCED";
/// `action` of a sign-in (`detail`: `device_id`).
pub const SIGN_IN: &str = "SIGN_IN";
/// `action` of a sign-out (`detail`: `device_id`, `via` `console` | `app`): the console's
/// "sign out", or an app's `/v1/auth/logout` of a live refresh token.
pub const SIGN_OUT: &str = "SIGN_OUT";
/// `action` of a refused sign-in (`detail`: `code`, the answer's error code). `user_id` is
/// empty when the username names no account (what was typed is never recorded).
pub const SIGN_IN_REFUSED: &str = "SIGN_IN_REFUSED";
/// `action` of a password change (`detail`: `user_id`, `by` `SELF` | `ADMIN` | `OPERATOR`,
/// `sessions_revoked`).
pub const PASSWORD_CHANGED: &str = "PASSWORD_CHANGED";
/// `action` of a user disabled (`detail`: `user_id`, `devices_revoked`, `sessions_revoked`).
pub const USER_DISABLED: &str = "USER_DISABLED";
/// `action` of a device's signing key taken by its actors that had none, at a token refresh
/// (an app updated while signed in; `detail`: `device_id`, `key` (hex), `actors`).
pub const SIGNING_KEY_REGISTERED: &str = "SIGNING_KEY_REGISTERED";
/// `action` of the center's signing key rotated by the operator (`detail`: `kid`, the new
/// key's id, and `retired`, the ids it replaced).
pub const SIGNING_KEY_ROTATED: &str = "SIGNING_KEY_ROTATED";
/// `action` of a device revoked (`detail`: `device_id`).
pub const DEVICE_REVOKED: &str = "DEVICE_REVOKED";
/// `action` of an organisation created (`detail`: `org_id`, `parent_id`, `kind`, `tier`,
/// `area_code`, `scope_prefix`).
pub const ORG_CREATED: &str = "ORG_CREATED";
/// `action` of an organisation renamed (`detail`: `org_id`, `from`, `to`).
pub const ORG_RENAMED: &str = "ORG_RENAMED";
/// `action` of an organisation moved or re-scoped (`detail`: `org_id`, `from_parent`,
/// `to_parent`, `area_code`, `scope_prefix` (each `[old, new]`), `devices_rescanning`).
pub const ORG_MOVED: &str = "ORG_MOVED";
/// `action` of a user created (`detail`: `user_id`, `role`, `org_id`, `password`
/// `GIVEN` | `GENERATED`; never the password).
pub const USER_CREATED: &str = "USER_CREATED";
/// `action` of a user's role changed (`detail`: `user_id`, `from`, `to`).
pub const USER_ROLE_CHANGED: &str = "USER_ROLE_CHANGED";
/// `action` of a user moved to another organisation (`detail`: `user_id`, `from`, `to`).
pub const USER_MOVED: &str = "USER_MOVED";
/// `user_id` and `role` of entries written by `gridsync admin` (the operator at the
/// server's shell, not an account).
pub const OPERATOR: &str = "OPERATOR";
/// `action` of an auto-dispatch rule added (`detail`: the rule's id, codes and organisation
/// ids).
pub const RULE_ADDED: &str = "RULE_ADDED";
/// `action` of an auto-dispatch rule removed (`detail`: as [`RULE_ADDED`]).
pub const RULE_REMOVED: &str = "RULE_REMOVED";
/// `action` of a time-limit rule set (`detail`: `rule`, `tier`, `category`, `area_prefix`,
/// `replaced`).
pub const TIME_LIMITS_CHANGED: &str = "TIME_LIMITS_CHANGED";
/// `action` of a CSV export (`detail`: `export`, the filter `from`, `to`, `area`,
/// `group_by`, and `rows`).
pub const EXPORT: &str = "EXPORT";

/// An entry to append: who did what to which case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub user_id: String,
    pub role: String,
    pub org_id: String,
    pub action: String,
    pub case_id: Option<String>,
    /// Ids, codes and field names only: never personal data.
    pub detail: serde_json::Value,
}

impl Entry {
    /// An entry by the operator at the server's shell (`gridsync admin`).
    pub fn operator(action: &str, detail: serde_json::Value) -> Entry {
        Entry {
            user_id: OPERATOR.into(),
            role: OPERATOR.into(),
            org_id: String::new(),
            action: action.to_owned(),
            case_id: None,
            detail,
        }
    }

    /// An entry by an authenticated caller.
    pub fn by(
        caller: &Caller,
        action: &str,
        case_id: Option<String>,
        detail: serde_json::Value,
    ) -> Entry {
        Entry {
            user_id: caller.user.id.clone(),
            role: caller.user.role.as_code().to_owned(),
            org_id: caller.org.id.clone(),
            action: action.to_owned(),
            case_id,
            detail,
        }
    }
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Record {
    pub seq: i64,
    /// Epoch milliseconds.
    pub at: i64,
    pub user_id: String,
    pub role: String,
    pub org_id: String,
    pub action: String,
    pub case_id: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    /// Entries in the log.
    pub entries: i64,
    pub ok: bool,
    /// The first entry whose hash or link to its predecessor does not hold.
    pub first_bad: Option<i64>,
}

/// Which entries [`query`] returns, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub case_id: Option<String>,
    pub user_id: Option<String>,
    /// An action (`SIGN_IN`, `DEVICE_REVOKED`, …).
    pub action: Option<String>,
    /// Inclusive, epoch milliseconds.
    pub from: Option<i64>,
    /// Exclusive, epoch milliseconds.
    pub to: Option<i64>,
    /// Only entries with `seq` below this (paging).
    pub before: Option<i64>,
    /// At most this many (clamped to 1..=1000; default 100).
    pub limit: Option<i64>,
    /// Only entries whose actor belonged to one of these organisations (`None`: all,
    /// the operator's and unknown users' entries among them). Set by
    /// `admin::audit_log::entries` from the reader's part of the tree.
    pub orgs: Option<Vec<String>>,
}

/// Appends one entry at the center's clock time, chained to the last one.
pub async fn append(center: &Center, entry: Entry) -> Result<()> {
    let mut tx = center.db.writer.begin().await?;
    append_in(&mut tx, center, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// [`append`] without a running server (`gridsync admin`), at time `at`.
pub async fn append_at(db: &Db, at: i64, entry: Entry) -> Result<()> {
    let mut tx = db.writer.begin().await?;
    append_in_at(&mut tx, db.dialect, at, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// [`append`] inside the caller's write transaction: the entry lands with what it records.
pub(crate) async fn append_in(tx: &mut db::Conn, center: &Center, entry: Entry) -> Result<()> {
    append_in_at(tx, center.db.dialect, center.clock.now().0, entry).await
}

pub(crate) async fn append_in_at(
    tx: &mut db::Conn,
    dialect: Dialect,
    at: i64,
    entry: Entry,
) -> Result<()> {
    let detail = serde_json::to_string(&entry.detail)
        .map_err(|e| Error::Invalid(format!("audit detail: {e}")))?;
    let (seq, prev_hash) = match db::audit::last_link(tx, dialect).await? {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let hash = entry_hash(
        &prev_hash,
        seq,
        at,
        &entry.user_id,
        &entry.role,
        &entry.org_id,
        &entry.action,
        entry.case_id.as_deref(),
        &detail,
    );
    db::audit::insert(
        tx,
        &db::audit::Row {
            seq,
            at,
            user_id: entry.user_id,
            role: entry.role,
            org_id: entry.org_id,
            action: entry.action,
            case_id: entry.case_id,
            detail,
            prev_hash,
            hash,
        },
    )
    .await
}

/// Walks the whole chain in `seq` order and reports the first entry that does not hold.
pub async fn verify(db: &Db) -> Result<VerifyReport> {
    const BATCH: i64 = 1000;
    let mut entries = 0_i64;
    let mut first_bad = None;
    let mut expected_prev = GENESIS.to_owned();
    let mut after = i64::MIN;
    loop {
        let rows = db::audit::after(&db.pool, after, BATCH).await?;
        let n = rows.len() as i64;
        for r in rows {
            entries += 1;
            after = r.seq;
            if first_bad.is_none() {
                let computed = entry_hash(
                    &r.prev_hash,
                    r.seq,
                    r.at,
                    &r.user_id,
                    &r.role,
                    &r.org_id,
                    &r.action,
                    r.case_id.as_deref(),
                    &r.detail,
                );
                if r.prev_hash != expected_prev || r.hash != computed {
                    first_bad = Some(r.seq);
                }
            }
            expected_prev = r.hash;
        }
        if n < BATCH {
            break;
        }
    }
    Ok(VerifyReport {
        entries,
        ok: first_bad.is_none(),
        first_bad,
    })
}

/// Entries matching `filter`, newest first.
pub async fn query(db: &Db, filter: &Filter) -> Result<Vec<Record>> {
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let rows = db::audit::matching(
        &db.pool,
        (
            filter.case_id.as_deref().unwrap_or_default(),
            filter.user_id.as_deref().unwrap_or_default(),
            filter.action.as_deref().unwrap_or_default(),
        ),
        (
            filter.from.unwrap_or(i64::MIN),
            filter.to.unwrap_or(i64::MAX),
        ),
        filter.before.unwrap_or(i64::MAX),
        limit,
        filter.orgs.as_deref(),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Record {
            seq: r.seq,
            at: r.at,
            user_id: r.user_id,
            role: r.role,
            org_id: r.org_id,
            action: r.action,
            case_id: r.case_id,
            // Written by `append` as JSON; a row edited into non-JSON shows as a string.
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::String(r.detail)),
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
        .collect())
}
