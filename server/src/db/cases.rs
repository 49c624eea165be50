//! The change log, document snapshots, the case projection and which device holds what.

use automerge::ActorId;
use gridsync_core::case::{Case, CaseDoc, CaseId};
use gridsync_core::workflow::{Status, WorkflowState};
use sqlx::{AnyConnection, Row};

use crate::db::Dialect;
use crate::error::Result;

/// A snapshot is rewritten once this many changes pile up after the last one.
pub(crate) const SNAPSHOT_EVERY: usize = 16;
/// PostgreSQL advisory lock key for the feed: appends to the change log take it, so feed
/// positions become visible in commit order and a phone that saw position `n` has seen
/// everything before it. Held to the commit.
const FEED_LOCK: i64 = 0x6772_6964_7379_6e63; // "gridsync"

/// A case's row in indexed columns, derived from its document on every merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Projection {
    pub(crate) status: Status,
    pub(crate) case_no: Option<String>,
    pub(crate) title: String,
    pub(crate) area_code: String,
    pub(crate) category: String,
    pub(crate) risk_level: String,
    pub(crate) high_risk: bool,
    pub(crate) source: String,
    pub(crate) tier: String,
    pub(crate) handling_org: Option<String>,
    pub(crate) assigned_orgs: Vec<String>,
    pub(crate) assignee: Option<String>,
    pub(crate) supervision: String,
    pub(crate) due: Option<(String, i64, i64)>,
    pub(crate) party_names: String,
    pub(crate) recorded_at: i64,
    pub(crate) submitted_at: Option<i64>,
    pub(crate) accepted_at: Option<i64>,
    pub(crate) resolved_at: Option<i64>,
    pub(crate) archived_at: Option<i64>,
    /// Statistics (migration 0002): the outcome that stands, its on-time flag and the tier
    /// that resolved it (on-the-spot resolutions: VILLAGE).
    pub(crate) resolved_success: Option<bool>,
    pub(crate) resolved_on_time: Option<bool>,
    pub(crate) resolved_tier: Option<String>,
    pub(crate) dispatched_at: Option<i64>,
    pub(crate) signed_at: Option<i64>,
    /// The last dispatch was signed for within the case's sign limit (`None`: not signed).
    pub(crate) signed_on_time: Option<bool>,
    /// Every running deadline, JSON `[{"kind", "item", "start", "due", "yellow"}]`; `yellow`
    /// is the case's own yellow threshold (percent) when the center set its limits (the
    /// fold's rule: the case's limits win), else null: the scanner's default.
    pub(crate) deadlines: String,
    /// The latest follow-up visit's satisfaction (1..5) and time.
    pub(crate) satisfaction: Option<i64>,
    pub(crate) followed_up_at: Option<i64>,
}

impl Projection {
    pub(crate) fn of(case: &Case, state: &WorkflowState) -> Projection {
        let yellow = case.time_limits.as_ref().map(|l| l.yellow_percent);
        let archived_at = state
            .timeline
            .iter()
            .rev()
            .find(|t| t.superseded.is_none() && t.kind == "ARCHIVE")
            .map(|t| t.at.0)
            .filter(|_| state.status == Status::Archived);
        // The resolution that stands is the last applied resolve of either kind.
        let on_the_spot = state
            .timeline
            .iter()
            .rev()
            .find(|t| {
                t.superseded.is_none() && matches!(t.kind.as_str(), "RESOLVE" | "RESOLVE_ON_SITE")
            })
            .is_some_and(|t| t.kind == "RESOLVE_ON_SITE");
        let resolved_tier = state.outcome.as_ref().map(|_| {
            if on_the_spot {
                gridsync_core::workflow::Tier::Village.as_code().to_owned()
            } else {
                state.tier.as_code().to_owned()
            }
        });
        // The sign limit the fold used: the case's own (set by tier and category), else the
        // default.
        let sign_limit = case.time_limits.as_ref().map_or_else(
            || gridsync_core::workflow::TimeLimits::default().sign,
            |l| l.sign,
        );
        let signed_on_time = match (state.dispatched_at, state.signed_at) {
            (Some(d), Some(s)) if s >= d => Some(s.0 - d.0 <= sign_limit),
            _ => None,
        };
        Projection {
            status: state.status,
            case_no: state.case_no.clone(),
            title: case.title.clone(),
            area_code: case.area_code.clone(),
            category: case.category.as_code().to_owned(),
            risk_level: case.risk_level.as_code().to_owned(),
            high_risk: state.high_risk,
            source: case.source.as_code().to_owned(),
            tier: state.tier.as_code().to_owned(),
            handling_org: state.handling_org.clone(),
            assigned_orgs: state.assigned_orgs.iter().map(|o| o.id.clone()).collect(),
            assignee: state.assignee.clone(),
            supervision: state.supervision.as_code().to_owned(),
            due: state.next_deadline().map(|d| {
                let kind = serde_json::to_value(d.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                (kind, d.started_at.0, d.due_at.0)
            }),
            party_names: case
                .parties
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            recorded_at: case.recorded_at.0,
            submitted_at: state.submitted_at.map(|t| t.0),
            accepted_at: state.accepted_at.map(|t| t.0),
            resolved_at: state.resolved_at.map(|t| t.0),
            archived_at,
            resolved_success: state.outcome.as_ref().map(|o| o.success),
            resolved_on_time: state.outcome.as_ref().map(|o| o.on_time),
            resolved_tier,
            dispatched_at: state.dispatched_at.map(|t| t.0),
            signed_at: state.signed_at.map(|t| t.0),
            signed_on_time,
            deadlines: serde_json::Value::Array(
                state
                    .deadlines
                    .iter()
                    .map(|d| {
                        serde_json::json!({ "kind": d.kind, "item": d.item, "start": d.started_at.0, "due": d.due_at.0, "yellow": yellow })
                    })
                    .collect(),
            )
            .to_string(),
            satisfaction: state.follow_ups.last().map(|f| i64::from(f.satisfaction)),
            followed_up_at: state.followed_up_at.map(|t| t.0),
        }
    }
}

/// `[lo, hi)` of the area codes under a scope prefix, for range queries an index serves:
/// codes starting with `prefix` are exactly those from `prefix` up to (not including)
/// `prefix` with its last character raised by one, in byte order. No prefix: an empty range.
pub(crate) fn area_range(prefix: Option<&str>) -> (String, String) {
    let Some(prefix) = prefix else {
        return (String::new(), String::new());
    };
    let mut chars: Vec<char> = prefix.chars().collect();
    match chars.pop() {
        // The empty prefix: every code.
        None => (String::new(), char::MAX.to_string()),
        Some(last) => {
            let raised = char::from_u32(u32::from(last) + 1).unwrap_or(char::MAX);
            chars.push(raised);
            (prefix.to_owned(), chars.into_iter().collect())
        }
    }
}

/// A loaded case: the document and where its snapshot stands.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) doc: CaseDoc,
    /// Changes replayed on top of the snapshot.
    pub(crate) replayed: usize,
}

/// Loads a case: its snapshot plus the changes logged after it. `None` if unknown.
pub(crate) async fn load(
    conn: &mut AnyConnection,
    id: CaseId,
    actor: &ActorId,
) -> Result<Option<Loaded>> {
    fetch_many(conn, &[id])
        .await?
        .remove(&id)
        .map(|stored| stored.open(actor))
        .transpose()
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds the projection's columns in the order both `upsert` statements list them.
fn bind_projection<'q>(
    q: AnyQuery<'q>,
    p: &'q Projection,
    updated_pos: i64,
    now: i64,
) -> AnyQuery<'q> {
    let assigned = if p.assigned_orgs.is_empty() {
        String::new()
    } else {
        format!(",{},", p.assigned_orgs.join(","))
    };
    let (due_kind, due_start, due_at) = match &p.due {
        Some((k, s, d)) => (Some(k.clone()), Some(*s), Some(*d)),
        None => (None, None, None),
    };
    q.bind(p.status.as_code())
        .bind(&p.case_no)
        .bind(&p.title)
        .bind(&p.area_code)
        .bind(&p.category)
        .bind(&p.risk_level)
        .bind(i64::from(p.high_risk))
        .bind(&p.source)
        .bind(&p.tier)
        .bind(&p.handling_org)
        .bind(assigned)
        .bind(&p.assignee)
        .bind(&p.supervision)
        .bind(due_kind)
        .bind(due_start)
        .bind(due_at)
        .bind(&p.party_names)
        .bind(p.recorded_at)
        .bind(p.submitted_at)
        .bind(p.accepted_at)
        .bind(p.resolved_at)
        .bind(p.archived_at)
        .bind(updated_pos)
        .bind(now)
        .bind(p.resolved_success.map(i64::from))
        .bind(p.resolved_on_time.map(i64::from))
        .bind(&p.resolved_tier)
        .bind(p.dispatched_at)
        .bind(p.signed_at)
        .bind(p.satisfaction)
        .bind(p.followed_up_at)
        .bind(p.signed_on_time.map(i64::from))
        .bind(&p.deadlines)
}

/// One case's row for [`upsert_many`].
pub(crate) struct Upsert<'a> {
    pub(crate) id: CaseId,
    pub(crate) projection: &'a Projection,
    /// A new snapshot and its position; `None` keeps the stored one.
    pub(crate) snapshot: Option<(&'a [u8], i64)>,
    pub(crate) updated_pos: i64,
}

/// Writes the projection (and, when given, a new snapshot) of a case.
pub(crate) async fn upsert(
    conn: &mut AnyConnection,
    id: CaseId,
    p: &Projection,
    snapshot: Option<(&[u8], i64)>,
    updated_pos: i64,
    now: i64,
) -> Result<()> {
    let row = Upsert {
        id,
        projection: p,
        snapshot,
        updated_pos,
    };
    upsert_many(conn, std::slice::from_ref(&row), now).await
}

/// Rows per statement in [`upsert_many`] (36 parameters each).
const UPSERT_CHUNK: usize = 100;

/// Writes the projections (and new snapshots) of many cases, in one statement per hundred
/// cases, and their `case_orgs` rows (migration 0009: the organisations a case is assigned
/// to and the one handling it, which a phone's scope takes in besides its area). A
/// statement per case was most of the committer's round trips on PostgreSQL.
pub(crate) async fn upsert_many(
    conn: &mut AnyConnection,
    rows: &[Upsert<'_>],
    now: i64,
) -> Result<()> {
    let orgs: Vec<(CaseId, &Projection)> = rows.iter().map(|r| (r.id, r.projection)).collect();
    set_orgs(conn, &orgs).await?;
    upsert_projections(conn, rows, now).await
}

/// [`upsert_many`] without the `case_orgs` rows: for a caller that wrote them already with
/// [`set_orgs`] (a push on PostgreSQL, which writes them before it takes the feed lock).
pub(crate) async fn upsert_projections(
    conn: &mut AnyConnection,
    rows: &[Upsert<'_>],
    now: i64,
) -> Result<()> {
    // New rows always come with a snapshot (`sync` and `cases` guarantee it; empty until a
    // case has enough changes to be worth one, see `Stored::open`). A row without a new one
    // binds an empty snapshot at position -1, which the update leaves in place: one
    // statement serves both, and SQLite checks NOT NULL on the inserted row before
    // resolving the conflict.
    for chunk in rows.chunks(UPSERT_CHUNK) {
        let tuples: Vec<String> = (0..chunk.len())
            .map(|k| {
                let o = 36 * k;
                let marks: Vec<String> = (1..=25)
                    .chain([26])
                    .chain(26..=36)
                    .map(|n| format!("${}", o + n))
                    .collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO cases (id, snapshot, snapshot_pos, status, case_no, title, area_code,
                category, risk_level, high_risk, source, tier, handling_org, assigned_orgs,
                assignee, supervision, due_kind, due_start, due_at, party_names, recorded_at,
                submitted_at, accepted_at, resolved_at, archived_at, created_pos, updated_pos,
                updated_at, resolved_success, resolved_on_time, resolved_tier, dispatched_at,
                signed_at, satisfaction, followed_up_at, signed_on_time, deadlines)
             VALUES {}
             ON CONFLICT (id) DO UPDATE SET
                snapshot = CASE WHEN excluded.snapshot_pos < 0 THEN cases.snapshot
                                ELSE excluded.snapshot END,
                snapshot_pos = CASE WHEN excluded.snapshot_pos < 0 THEN cases.snapshot_pos
                                    ELSE excluded.snapshot_pos END,
                status = excluded.status, case_no = excluded.case_no, title = excluded.title,
                area_code = excluded.area_code, category = excluded.category,
                risk_level = excluded.risk_level, high_risk = excluded.high_risk,
                source = excluded.source, tier = excluded.tier,
                handling_org = excluded.handling_org, assigned_orgs = excluded.assigned_orgs,
                assignee = excluded.assignee, supervision = excluded.supervision,
                due_kind = excluded.due_kind, due_start = excluded.due_start,
                due_at = excluded.due_at, party_names = excluded.party_names,
                recorded_at = excluded.recorded_at, submitted_at = excluded.submitted_at,
                accepted_at = excluded.accepted_at, resolved_at = excluded.resolved_at,
                archived_at = excluded.archived_at, updated_pos = excluded.updated_pos,
                updated_at = excluded.updated_at, resolved_success = excluded.resolved_success,
                resolved_on_time = excluded.resolved_on_time,
                resolved_tier = excluded.resolved_tier, dispatched_at = excluded.dispatched_at,
                signed_at = excluded.signed_at, satisfaction = excluded.satisfaction,
                followed_up_at = excluded.followed_up_at,
                signed_on_time = excluded.signed_on_time, deadlines = excluded.deadlines",
            tuples.join(", ")
        );
        let ids: Vec<String> = chunk.iter().map(|r| r.id.to_string()).collect();
        // Audited: the statement is built from constants and placeholders only.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (r, id) in chunk.iter().zip(&ids) {
            let (snap, pos) = r.snapshot.unwrap_or((&[], -1));
            q = bind_projection(
                q.bind(id.as_str()).bind(snap).bind(pos),
                r.projection,
                r.updated_pos,
                now,
            );
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Replaces the `case_orgs` rows of the cases (the organisations a case is assigned to and
/// the one handling it, from its projection).
pub(crate) async fn set_orgs(
    conn: &mut AnyConnection,
    cases: &[(CaseId, &Projection)],
) -> Result<()> {
    let ids: Vec<String> = cases.iter().map(|(id, _)| id.to_string()).collect();
    for chunk in ids.chunks(CHUNK) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM case_orgs WHERE case_id IN ({})",
            placeholders(1, chunk.len())
        )));
        for id in chunk {
            q = q.bind(id.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    let pairs: Vec<(&str, &str)> = cases
        .iter()
        .zip(&ids)
        .flat_map(|((_, p), id)| {
            let orgs: std::collections::BTreeSet<&str> = p
                .assigned_orgs
                .iter()
                .map(String::as_str)
                .chain(p.handling_org.as_deref())
                .filter(|o| !o.is_empty())
                .collect();
            orgs.into_iter().map(move |o| (o, id.as_str()))
        })
        .collect();
    for chunk in pairs.chunks(CHUNK) {
        let tuples: Vec<String> = (0..chunk.len())
            .map(|k| format!("(${}, ${})", 2 * k + 1, 2 * k + 2))
            .collect();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO case_orgs (org_id, case_id) VALUES {}",
            tuples.join(", ")
        )));
        for (org, case) in chunk {
            q = q.bind(*org).bind(*case);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records that `device` was sent the case whole up to `since_pos`, in the response numbered
/// `whole_no` (held for good once the device says it applied that response).
pub(crate) async fn hold(
    conn: &mut AnyConnection,
    device: &str,
    case: &str,
    since_pos: i64,
    whole_no: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO device_cases (device_id, case_id, since_pos, whole_no) VALUES ($1, $2, $3, $4)
         ON CONFLICT (device_id, case_id) DO UPDATE
           SET since_pos = excluded.since_pos, revoked_at = NULL, whole_no = excluded.whole_no",
    )
    .bind(device)
    .bind(case)
    .bind(since_pos)
    .bind(whole_no)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `$a, $a+1, ...` for `n` values.
fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row statement: well under SQLite's and PostgreSQL's parameter limits.
const CHUNK: usize = 500;

/// Serialises merges of these cases with any other writer's, in id order (so two batches
/// cannot deadlock). SQLite needs nothing: its one writer connection serialises everything;
/// PostgreSQL takes `case_locks` rows `FOR UPDATE`.
pub(crate) async fn lock_for_merge(
    conn: &mut AnyConnection,
    dialect: Dialect,
    ids: &[CaseId],
) -> Result<()> {
    if dialect == Dialect::Sqlite {
        return Ok(());
    }
    for chunk in ids.chunks(CHUNK) {
        let values = (1..=chunk.len())
            .map(|i| format!("(${i})"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO case_locks (id) VALUES {values} ON CONFLICT (id) DO NOTHING"
        )));
        for id in chunk {
            q = q.bind(id.to_string());
        }
        q.execute(&mut *conn).await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM case_locks WHERE id IN ({}) ORDER BY id FOR UPDATE",
            placeholders(1, chunk.len())
        )));
        for id in chunk {
            q = q.bind(id.to_string());
        }
        q.fetch_all(&mut *conn).await?;
    }
    Ok(())
}

/// A stored case as read, before its document is rebuilt (CPU work callers may move off the
/// async threads): the snapshot, the changes logged after it, and the version read.
pub(crate) struct Stored {
    snapshot: Vec<u8>,
    later: Vec<Vec<u8>>,
    /// `updated_pos`: it moves whenever the case's log grows.
    pub(crate) version: i64,
}

impl Stored {
    /// Rebuilds the document. An empty snapshot (a case that has not reached its first one)
    /// means the whole document is in the log.
    pub(crate) fn open(self, actor: &ActorId) -> Result<Loaded> {
        let doc = if self.snapshot.is_empty() {
            CaseDoc::from_changes(&self.later, actor.clone())?
        } else {
            let mut doc = CaseDoc::load(&self.snapshot, actor.clone())?;
            if !self.later.is_empty() {
                doc.apply_changes(&self.later)?;
            }
            doc
        };
        Ok(Loaded {
            doc,
            replayed: self.later.len(),
        })
    }
}

/// Loads many cases at once (absent ones are left out); a case that does not open is an
/// error for that case alone.
pub(crate) async fn load_many(
    conn: &mut AnyConnection,
    ids: &[CaseId],
    actor: &ActorId,
) -> Result<std::collections::HashMap<CaseId, Result<Loaded>>> {
    Ok(fetch_many(conn, ids)
        .await?
        .into_iter()
        .map(|(id, s)| (id, s.open(actor)))
        .collect())
}

/// The changes a device has parked (waiting for dependencies), by hash, with when each was
/// first parked. Usually none: one indexed lookup per push.
pub(crate) async fn parked_of(
    conn: &mut AnyConnection,
    device: &str,
) -> Result<std::collections::HashMap<String, i64>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT hash, received_at FROM parked_changes WHERE device_id = $1")
            .bind(device)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Parks changes whose dependencies the center lacks: kept aside, never applied to the
/// case, never served to another device. A change parked again keeps its first time.
pub(crate) async fn park(
    conn: &mut AnyConnection,
    case: CaseId,
    device: &str,
    changes: &[(String, String, Vec<u8>)],
    now: i64,
) -> Result<()> {
    for (hash, actor, bytes) in changes {
        sqlx::query(
            "INSERT INTO parked_changes (hash, case_id, device_id, actor, bytes, received_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(hash)
        .bind(case.to_string())
        .bind(device)
        .bind(actor)
        .bind(bytes.as_slice())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Parked changes that have been judged and applied since.
pub(crate) async fn unpark(conn: &mut AnyConnection, hashes: &[&str]) -> Result<()> {
    for chunk in hashes.chunks(CHUNK) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM parked_changes WHERE hash IN ({})",
            placeholders(1, chunk.len())
        )));
        for h in chunk {
            q = q.bind(*h);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records that a stored case does not open (the administrator's list).
pub(crate) async fn mark_unavailable(
    conn: &mut AnyConnection,
    id: CaseId,
    error: &crate::error::Error,
    now: i64,
) -> Result<()> {
    tracing::error!(case = %id, error = %error, "a stored case does not open");
    metrics::counter!("gridsync_cases_unavailable_total").increment(1);
    let error: String = error.to_string().chars().take(500).collect();
    sqlx::query(
        "INSERT INTO unavailable_cases (case_id, error, found_at, last_seen_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (case_id) DO UPDATE SET error = excluded.error, last_seen_at = excluded.last_seen_at",
    )
    .bind(id.to_string())
    .bind(error)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The case numbered `case_no`, if any.
pub(crate) async fn id_by_case_no(db: &crate::db::Db, case_no: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM cases WHERE case_no = $1")
            .bind(case_no)
            .fetch_optional(&db.pool())
            .await?,
    )
}

/// The next number of a county's day (`prefix`: `{county6}-{yyyymmdd}-`), from the
/// `case_numbers` counter in one atomic statement: gaps are possible, clashes are not.
pub(crate) async fn next_case_seq(conn: &mut AnyConnection, prefix: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO case_numbers (prefix, last_seq) VALUES ($1, 1)
         ON CONFLICT (prefix) DO UPDATE SET last_seq = case_numbers.last_seq + 1
         RETURNING last_seq",
    )
    .bind(prefix)
    .fetch_one(&mut *conn)
    .await?)
}

/// Reads many stored cases in two statements per chunk (absent ones are left out).
///
/// The second statement asks for the changes after the snapshot position the first one
/// read, not after the row's current one: outside a transaction (the merge ahead of the
/// committer reads on the read pool) a commit may write a newer snapshot between the two,
/// and the log after *it* on top of the older snapshot misses the changes in between (a
/// new case then opened without its creation change: "the document has no case id").
pub(crate) async fn fetch_many(
    conn: &mut AnyConnection,
    ids: &[CaseId],
) -> Result<std::collections::HashMap<CaseId, Stored>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let marks = placeholders(1, chunk.len());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, snapshot, snapshot_pos, updated_pos FROM cases WHERE id IN ({marks})"
        )));
        for id in chunk {
            q = q.bind(id.to_string());
        }
        let mut after: Vec<(String, i64)> = Vec::new();
        for row in q.fetch_all(&mut *conn).await? {
            let text: String = row.try_get("id")?;
            if let Ok(id) = text.parse::<CaseId>() {
                after.push((text, row.try_get("snapshot_pos")?));
                out.insert(
                    id,
                    Stored {
                        snapshot: row.try_get("snapshot")?,
                        later: Vec::new(),
                        version: row.try_get("updated_pos")?,
                    },
                );
            }
        }
        if after.is_empty() {
            continue;
        }
        let pairs: Vec<String> = (0..after.len())
            .map(|k| format!("(${}, ${})", 2 * k + 1, 2 * k + 2))
            .collect();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH wanted (id, after) AS (VALUES {})
             SELECT c.case_id, c.bytes FROM wanted w
               JOIN changes c ON c.case_id = w.id AND c.pos > w.after
             ORDER BY c.pos",
            pairs.join(", ")
        )));
        for (id, pos) in &after {
            q = q.bind(id.as_str()).bind(*pos);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let id: String = row.try_get("case_id")?;
            if let Ok(id) = id.parse::<CaseId>()
                && let Some(s) = out.get_mut(&id)
            {
                s.later.push(row.try_get("bytes")?);
            }
        }
    }
    Ok(out)
}

/// The versions (`updated_pos`) of those of `ids` that exist.
pub(crate) async fn versions(
    conn: &mut AnyConnection,
    ids: &[CaseId],
) -> Result<std::collections::HashMap<CaseId, i64>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(format!(
            "SELECT id, updated_pos FROM cases WHERE id IN ({})",
            placeholders(1, chunk.len())
        )));
        for id in chunk {
            q = q.bind(id.to_string());
        }
        for (id, v) in q.fetch_all(&mut *conn).await? {
            if let Ok(id) = id.parse::<CaseId>() {
                out.insert(id, v);
            }
        }
    }
    Ok(out)
}

/// Which of `ids` the device holds, or held until a revocation later than `revoked_after`
/// (epoch ms): a revoked case still takes the phone's unsent work for a while, not forever.
pub(crate) async fn held_many(
    conn: &mut AnyConnection,
    device: &str,
    ids: &[CaseId],
    revoked_after: i64,
) -> Result<std::collections::HashSet<CaseId>> {
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
            "SELECT case_id FROM device_cases WHERE device_id = $1
               AND (revoked_at IS NULL OR revoked_at > $2) AND case_id IN ({})",
            placeholders(3, chunk.len())
        )))
        .bind(device)
        .bind(revoked_after);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        out.extend(
            q.fetch_all(&mut *conn)
                .await?
                .iter()
                .filter_map(|s| s.parse::<CaseId>().ok()),
        );
    }
    Ok(out)
}

/// A change to append to the log.
#[derive(Debug)]
pub(crate) struct NewChange<'a> {
    pub(crate) case: CaseId,
    pub(crate) hash: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) bytes: &'a [u8],
    /// The signature (64 bytes) and the signer's public key (hex); `None`: unsigned.
    pub(crate) signed: Option<(&'a [u8], &'a str)>,
}

/// The one writer of the change log, for pushes and center edits alike: takes the feed lock
/// (PostgreSQL), then appends in multi-row statements; returns (case, feed position) of the
/// changes that were new (a change held already is skipped by its unique hash). Call it
/// after everything else a transaction can write without the lock: every other writer
/// waits for it until the commit.
pub(crate) async fn append_changes(
    conn: &mut AnyConnection,
    dialect: Dialect,
    rows: &[NewChange<'_>],
    device_id: Option<&str>,
    now: i64,
) -> Result<Vec<(CaseId, i64)>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FEED_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK / 6) {
        let values = (0..chunk.len())
            .map(|i| {
                let b = 3 + i * 6;
                format!(
                    "(${b}, ${}, ${}, $1, ${}, $2, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO changes (hash, case_id, actor, device_id, bytes, received_at, signer, signature)
             VALUES {values}
             ON CONFLICT (hash) DO NOTHING RETURNING case_id, pos"
        )))
        .bind(device_id)
        .bind(now);
        for r in chunk {
            q = q
                .bind(r.hash)
                .bind(r.case.to_string())
                .bind(r.actor)
                .bind(r.bytes)
                .bind(r.signed.map(|(_, key)| key))
                .bind(r.signed.map(|(sig, _)| sig));
        }
        for row in q.fetch_all(&mut *conn).await? {
            let case: String = row.try_get("case_id")?;
            if let Ok(case) = case.parse::<CaseId>() {
                out.push((case, row.try_get("pos")?));
            }
        }
    }
    Ok(out)
}

/// The feed's last position.
pub(crate) async fn current_pos(conn: &mut AnyConnection) -> Result<i64> {
    Ok(
        sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(pos) FROM changes")
            .fetch_one(&mut *conn)
            .await?
            .unwrap_or(0),
    )
}

/// Records that `device` holds these cases (new pushes: whole, from position 0).
pub(crate) async fn hold_many(
    conn: &mut AnyConnection,
    device: &str,
    ids: &[CaseId],
) -> Result<()> {
    for chunk in ids.chunks(CHUNK) {
        let values = (0..chunk.len())
            .map(|i| format!("($1, ${}, 0)", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO device_cases (device_id, case_id, since_pos) VALUES {values}
             ON CONFLICT (device_id, case_id) DO NOTHING"
        )))
        .bind(device);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A stored case that does not open.
#[derive(Debug)]
pub(crate) struct UnavailableCase {
    pub(crate) case_id: String,
    /// The error, for the operator (no personal data: a decoding error).
    pub(crate) error: String,
    /// Epoch milliseconds.
    pub(crate) found_at: i64,
    pub(crate) last_seen_at: i64,
}

/// A change waiting for its dependencies.
#[derive(Debug)]
pub(crate) struct ParkedChange {
    pub(crate) hash: String,
    pub(crate) case_id: String,
    pub(crate) device_id: String,
    /// Epoch milliseconds, when first parked; refused after seven days.
    pub(crate) received_at: i64,
}

/// The quarantine, for the administrator: unavailable cases and parked changes (at most
/// 1,000 of each, newest first).
pub(crate) async fn quarantine(
    db: &crate::db::Db,
) -> Result<(Vec<UnavailableCase>, Vec<ParkedChange>)> {
    let cases: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT case_id, error, found_at, last_seen_at FROM unavailable_cases
         ORDER BY last_seen_at DESC LIMIT 1000",
    )
    .fetch_all(&db.pool)
    .await?;
    let parked: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT hash, case_id, device_id, received_at FROM parked_changes
         ORDER BY received_at DESC LIMIT 1000",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok((
        cases
            .into_iter()
            .map(|(case_id, error, found_at, last_seen_at)| UnavailableCase {
                case_id,
                error,
                found_at,
                last_seen_at,
            })
            .collect(),
        parked
            .into_iter()
            .map(|(hash, case_id, device_id, received_at)| ParkedChange {
                hash,
                case_id,
                device_id,
                received_at,
            })
            .collect(),
    ))
}

/// How many cases are unavailable and how many changes are parked (`/metrics`).
pub(crate) async fn quarantine_counts(db: &crate::db::Db) -> Result<(i64, i64)> {
    let cases: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM unavailable_cases")
        .fetch_one(&db.pool)
        .await?;
    let parked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM parked_changes")
        .fetch_one(&db.pool)
        .await?;
    Ok((cases, parked))
}

#[cfg(test)]
mod tests {
    use super::area_range;

    #[test]
    fn area_range_holds_exactly_the_codes_with_the_prefix() {
        let codes = [
            "",
            "3",
            "33",
            "330182",
            "330182101201",
            "3301829",
            "330183",
            "33018",
            "3301819",
            "330182:",
            "330182x",
            "33018Z",
            "4",
            "区330182",
        ];
        for prefix in [
            Some("330182"),
            Some("3301829"),
            Some("33018"),
            Some(""),
            None,
        ] {
            let (lo, hi) = area_range(prefix);
            for code in codes {
                let in_range = lo.as_str() <= code && code < hi.as_str();
                let starts = prefix.is_some_and(|p| code.starts_with(p));
                assert_eq!(in_range, starts, "{prefix:?} {code:?}");
            }
        }
    }
}

/// A change of the log as an evidence bundle exports it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LogRow {
    pub(crate) pos: i64,
    pub(crate) hash: String,
    pub(crate) actor: String,
    pub(crate) device_id: Option<String>,
    pub(crate) received_at: i64,
    pub(crate) signer: Option<String>,
    pub(crate) signature: Option<Vec<u8>>,
    pub(crate) bytes: Vec<u8>,
}

/// Every change of a case in the log, in feed order, with its signature.
pub(crate) async fn log_of(pool: &sqlx::AnyPool, id: CaseId) -> Result<Vec<LogRow>> {
    Ok(sqlx::query_as(
        "SELECT pos, hash, actor, device_id, received_at, signer, signature, bytes
         FROM changes WHERE case_id = $1 ORDER BY pos",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await?)
}
