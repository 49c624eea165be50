//! Time limits and warnings (DESIGN §4): the limits configured per tier and category, the
//! scanner that raises and clears warnings from the case projection, automatic supervision
//! of a dispatch nobody signed for (未签收预警 → 督办), high-risk alerts the moment a case
//! syncs, and the live feed of all of it for subscribed staff (`GET /v1/events`).
//!
//! One scanner runs per deployment: on PostgreSQL the process holding a session advisory
//! lock scans and the others wait their turn; on SQLite (one process) it simply runs.
//! [`scan_once`] is the whole scan, callable from tests with an injected clock.

use gridsync_core::case::{CaseId, Timestamp};
use gridsync_core::workflow::{
    Action, Author, Role, Status, SupervisionLevel, Tier, TimeLimits, warning_level,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, Dialect};
use crate::error::{Error, Result};
use crate::policy::{self, Refusal};
use crate::state::AppState;

/// How often the scanner runs by default.
pub const SCAN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// PostgreSQL advisory lock key of the scanner's leader.
const SCANNER_LOCK: i64 = 0x6772_6964_7363_616e; // "gridscan"

/// A time-limit rule: limits for a tier and/or category (`None`: any), in an area.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeLimitRule {
    pub id: String,
    pub tier: Option<String>,
    pub category: Option<String>,
    /// An area-code prefix (a township's own limits); `None`: the whole county.
    #[serde(default)]
    pub area_prefix: Option<String>,
    /// Milliseconds per limit (`accept`, `accept_high_risk`, `sign`, `handle_simple`,
    /// `handle_general`, `handle_complex`, `follow_up`) and `yellow_percent`.
    #[schema(value_type = Object)]
    pub limits: TimeLimits,
}

impl TimeLimitRule {
    /// How specific the rule is: a longer area prefix first (an area's own limits override
    /// the county's), then tier and category 3, tier 2, category 1, neither 0.
    fn specificity(&self) -> (usize, u8) {
        (
            self.area_prefix.as_deref().map_or(0, str::len),
            u8::from(self.tier.is_some()) * 2 + u8::from(self.category.is_some()),
        )
    }

    fn matches(&self, tier: Tier, category: &str, area: &str) -> bool {
        self.tier.as_deref().is_none_or(|t| t == tier.as_code())
            && self.category.as_deref().is_none_or(|c| c == category)
            && self
                .area_prefix
                .as_deref()
                .is_none_or(|p| area.starts_with(p))
    }
}

/// The limits for a case at `tier` in `category` and `area`: the most specific matching
/// rule, or the defaults.
pub fn limits_for(rules: &[TimeLimitRule], tier: Tier, category: &str, area: &str) -> TimeLimits {
    rules
        .iter()
        .filter(|r| r.matches(tier, category, area))
        .max_by_key(|r| (r.specificity(), std::cmp::Reverse(r.id.clone())))
        .map(|r| r.limits.clone())
        .unwrap_or_default()
}

pub async fn limit_rules(db: &Db) -> Result<Vec<TimeLimitRule>> {
    let rows = sqlx::query("SELECT * FROM time_limit_rules ORDER BY id")
        .fetch_all(&db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let ms = |k: &str| r.try_get::<i64, _>(k);
            Ok(TimeLimitRule {
                id: r.try_get("id")?,
                tier: r.try_get("tier")?,
                category: r.try_get("category")?,
                area_prefix: r.try_get("area_prefix")?,
                limits: TimeLimits {
                    accept: ms("accept")?,
                    accept_high_risk: ms("accept_high_risk")?,
                    sign: ms("sign")?,
                    handle_simple: ms("handle_simple")?,
                    handle_general: ms("handle_general")?,
                    handle_complex: ms("handle_complex")?,
                    follow_up: ms("follow_up")?,
                    yellow_percent: u8::try_from(ms("yellow_percent")?).unwrap_or(70),
                },
            })
        })
        .collect()
}

/// Adds or replaces a time-limit rule (trusted callers: tools, tests; staff go through
/// [`set_limit_rule`]).
pub async fn put_limit_rule(db: &Db, rule: &TimeLimitRule, now: i64) -> Result<()> {
    check_limit_rule(rule).map_err(|r| Error::Invalid(r.to_string()))?;
    let mut conn = db.writer.acquire().await?;
    upsert_limit_rule(&mut conn, rule, now).await
}

/// Sets a time-limit rule for a caller: only inside their scope (`policy::covers`), the
/// rule it replaces too, written to the audit log in the same transaction.
pub async fn set_limit_rule(
    state: &AppState,
    caller: &crate::caller::Caller,
    rule: &TimeLimitRule,
) -> std::result::Result<(), Refusal> {
    check_limit_rule(rule)?;
    let out_of_scope = || {
        Refusal::OutOfScope(
            "time limits for that area are outside your scope (no area_prefix: the whole county)"
                .into(),
        )
    };
    if !policy::covers(caller, rule.area_prefix.as_deref()) {
        return Err(out_of_scope());
    }
    let old = limit_rules(&state.db)
        .await?
        .into_iter()
        .find(|r| r.id == rule.id);
    if old
        .as_ref()
        .is_some_and(|old| !policy::covers(caller, old.area_prefix.as_deref()))
    {
        return Err(out_of_scope());
    }
    let mut tx = state.db.writer.begin().await?;
    upsert_limit_rule(&mut tx, rule, state.clock.now().0).await?;
    let entry = crate::audit::Entry::by(
        caller,
        crate::audit::TIME_LIMITS_CHANGED,
        None,
        serde_json::json!({
            "rule": rule.id,
            "tier": rule.tier,
            "category": rule.category,
            "area_prefix": rule.area_prefix,
            "replaced": old.is_some(),
        }),
    );
    crate::audit::append_in(&mut tx, state, entry).await?;
    tx.commit().await?;
    Ok(())
}

fn check_limit_rule(rule: &TimeLimitRule) -> std::result::Result<(), Refusal> {
    let invalid = |field: &str, message: String| Refusal::invalid("invalid_input", field, message);
    super::check_rule_fields(
        &rule.id,
        rule.category.as_deref(),
        rule.area_prefix.as_deref(),
    )?;
    if let Some(t) = &rule.tier {
        t.parse::<Tier>()
            .map_err(|e| invalid("tier", e.to_string()))?;
    }
    if !rule.limits.is_valid() {
        return Err(invalid(
            "limits",
            "every limit must be positive, yellow_percent 1..=100".into(),
        ));
    }
    Ok(())
}

async fn upsert_limit_rule(
    conn: &mut sqlx::AnyConnection,
    rule: &TimeLimitRule,
    now: i64,
) -> Result<()> {
    let l = &rule.limits;
    sqlx::query(
        "INSERT INTO time_limit_rules (id, tier, category, area_prefix, accept, accept_high_risk,
            sign, handle_simple, handle_general, handle_complex, follow_up, yellow_percent, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (id) DO UPDATE SET tier = excluded.tier, category = excluded.category,
            area_prefix = excluded.area_prefix,
            accept = excluded.accept, accept_high_risk = excluded.accept_high_risk,
            sign = excluded.sign, handle_simple = excluded.handle_simple,
            handle_general = excluded.handle_general, handle_complex = excluded.handle_complex,
            follow_up = excluded.follow_up, yellow_percent = excluded.yellow_percent",
    )
    .bind(&rule.id)
    .bind(&rule.tier)
    .bind(&rule.category)
    .bind(&rule.area_prefix)
    .bind(l.accept)
    .bind(l.accept_high_risk)
    .bind(l.sign)
    .bind(l.handle_simple)
    .bind(l.handle_general)
    .bind(l.handle_complex)
    .bind(l.follow_up)
    .bind(i64::from(l.yellow_percent))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Something staff see live: a warning raised, escalated or cleared, a high-risk case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveEvent {
    /// `warning`, `cleared`, `high_risk`, `supervised`.
    pub event: String,
    pub case_id: String,
    pub kind: String,
    pub level: String,
    pub area_code: String,
    /// Organisations the case is assigned to or handled by.
    pub org_ids: Vec<String>,
    pub due_at: Option<i64>,
}

impl LiveEvent {
    /// Whether staff of an organisation with this scope should see it.
    pub fn visible_to(&self, scope_prefix: Option<&str>, org_id: &str) -> bool {
        scope_prefix.is_some_and(|p| self.area_code.starts_with(p))
            || self.org_ids.iter().any(|o| o == org_id)
    }
}

/// An open warning as staff list it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WarningRow {
    pub case_id: String,
    pub kind: String,
    pub level: String,
    pub area_code: String,
    pub due_at: Option<i64>,
    pub raised_at: i64,
    pub updated_at: i64,
}

/// The open warnings of cases in the caller's scope (by area, or assigned to the caller's
/// organisation), filtered by `level` and `kind` (empty: any), nearest due first.
pub async fn open_in_scope(
    state: &AppState,
    caller: &crate::caller::Caller,
    level: &str,
    kind: &str,
) -> Result<Vec<WarningRow>> {
    // Who sees a warning is who sees its case: the one scope definition.
    let (lo, hi, org) = caller.scope().params();
    // Audited: built from constants only; values are bound.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM warnings w WHERE w.cleared_at IS NULL
           AND w.case_id IN (SELECT k.id FROM cases k WHERE {})
           AND ($4 = '' OR w.level = $4) AND ($5 = '' OR w.kind = $5)
         ORDER BY w.due_at IS NULL, w.due_at, w.raised_at LIMIT 1000",
        crate::db::scope::Scope::sql(state.db.dialect, "k", 1)
    )))
    .bind(lo)
    .bind(hi)
    .bind(org)
    .bind(level)
    .bind(kind)
    .fetch_all(&state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WarningRow {
                case_id: r.try_get("case_id")?,
                kind: r.try_get("kind")?,
                level: r.try_get("level")?,
                area_code: r.try_get("area_code")?,
                due_at: r.try_get("due_at")?,
                raised_at: r.try_get("raised_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect()
}

/// What one scan did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub raised: usize,
    pub escalated: usize,
    pub cleared: usize,
    pub supervised: Vec<CaseId>,
}

#[derive(Clone)]
struct Due {
    case_id: String,
    kind: String,
    start: i64,
    due: i64,
    area: String,
    orgs: Vec<String>,
    status: String,
    supervision: String,
    high_risk: bool,
}

/// One pass: every running deadline's level at `now` is written to `warnings` (raised,
/// escalated, or cleared when the cause went away), and a dispatch unsigned at 100 % of its
/// limit gets automatic supervision.
pub async fn scan_once(state: &AppState) -> Result<ScanReport> {
    let now = state.clock.now();
    let rows = sqlx::query(
        "SELECT id, due_kind, due_start, due_at, deadlines, area_code, assigned_orgs,
                handling_org, status, supervision, high_risk
         FROM cases WHERE due_at IS NOT NULL OR high_risk <> 0",
    )
    .fetch_all(&state.db.pool())
    .await?;
    let mut current: Vec<(String, String, String, Due)> = Vec::new(); // (warning id, kind, level, due)
    for r in &rows {
        let assigned: String = r.try_get("assigned_orgs")?;
        let mut orgs: Vec<String> = assigned
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(h) = r.try_get::<Option<String>, _>("handling_org")? {
            orgs.push(h);
        }
        let d = Due {
            case_id: r.try_get("id")?,
            kind: r
                .try_get::<Option<String>, _>("due_kind")?
                .unwrap_or_default(),
            start: r.try_get::<Option<i64>, _>("due_start")?.unwrap_or(0),
            due: r.try_get::<Option<i64>, _>("due_at")?.unwrap_or(0),
            area: r.try_get("area_code")?,
            orgs,
            status: r.try_get("status")?,
            supervision: r.try_get("supervision")?,
            high_risk: r.try_get::<i64, _>("high_risk")? != 0,
        };
        if d.high_risk && d.status == Status::Submitted.as_code() {
            let id = format!("{}:HIGH_RISK", d.case_id);
            current.push((id, "HIGH_RISK".into(), "RED".into(), d.clone()));
        }
        // Every running deadline (installments beside the nearest one); rows written before
        // the `deadlines` column existed fall back to the nearest deadline.
        let all: Vec<(String, Option<String>, i64, i64)> =
            match r.try_get::<Option<String>, _>("deadlines")? {
                Some(json) => serde_json::from_str::<Vec<serde_json::Value>>(&json)
                    .unwrap_or_default()
                    .iter()
                    .map(|v| {
                        (
                            v["kind"].as_str().unwrap_or_default().to_owned(),
                            v["item"].as_str().map(str::to_owned),
                            v["start"].as_i64().unwrap_or(0),
                            v["due"].as_i64().unwrap_or(0),
                        )
                    })
                    .collect(),
                None if !d.kind.is_empty() => vec![(d.kind.clone(), None, d.start, d.due)],
                None => Vec::new(),
            };
        for (kind, item, start, due) in all {
            let level = warning_level(
                Timestamp(start),
                Timestamp(due),
                state.limits.yellow_percent,
                now,
            );
            let level = serde_json::to_value(level)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            if level == "NONE" || kind.is_empty() {
                continue;
            }
            let id = match &item {
                Some(item) => format!("{}:{kind}:{item}", d.case_id),
                None => format!("{}:{kind}", d.case_id),
            };
            let mut this = d.clone();
            this.kind = kind.clone();
            this.start = start;
            this.due = due;
            current.push((id, kind, level, this));
        }
    }

    let open: Vec<(String, String)> =
        sqlx::query("SELECT id, level FROM warnings WHERE cleared_at IS NULL")
            .fetch_all(&state.db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("level")?)))
            .collect::<Result<_>>()?;
    let open: std::collections::HashMap<String, String> = open.into_iter().collect();
    let mut report = ScanReport::default();
    let mut events = Vec::new();
    let mut tx = state.db.writer.begin().await?;
    for (id, kind, level, d) in &current {
        let org_ids = format!(",{},", d.orgs.join(","));
        match open.get(id) {
            Some(old) if old == level => continue,
            Some(_) => {
                report.escalated += 1;
                sqlx::query(
                    "UPDATE warnings SET level = $2, updated_at = $3, due_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(level)
                .bind(now.0)
                .bind(d.due)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                report.raised += 1;
                sqlx::query(
                    "INSERT INTO warnings (id, case_id, kind, level, area_code, org_ids, due_at, raised_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                     ON CONFLICT (id) DO UPDATE SET level = excluded.level, due_at = excluded.due_at,
                        updated_at = excluded.updated_at, cleared_at = NULL, org_ids = excluded.org_ids",
                )
                .bind(id)
                .bind(&d.case_id)
                .bind(kind)
                .bind(level)
                .bind(&d.area)
                .bind(&org_ids)
                .bind(d.due)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            }
        }
        events.push(live("warning", d, kind, level));
    }
    let still: std::collections::HashSet<&String> = current.iter().map(|(id, ..)| id).collect();
    for id in open.keys().filter(|id| !still.contains(id)) {
        report.cleared += 1;
        sqlx::query("UPDATE warnings SET cleared_at = $2, updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        let (case_id, rest) = id.split_once(':').unwrap_or((id.as_str(), ""));
        let kind = rest.split(':').next().unwrap_or_default();
        events.push(LiveEvent {
            event: "cleared".into(),
            case_id: case_id.into(),
            kind: kind.into(),
            level: "NONE".into(),
            area_code: rows_area(&rows, case_id),
            org_ids: Vec::new(),
            due_at: None,
        });
    }
    tx.commit().await?;

    // Unsigned at 100 %: automatic supervision, once.
    for (_, kind, level, d) in &current {
        if kind == "SIGN" && level == "RED" && d.supervision == SupervisionLevel::None.as_code() {
            let Ok(id) = d.case_id.parse::<CaseId>() else {
                continue;
            };
            let author = system_author(state, &d.area).await?;
            let action = Action::Supervise {
                level: SupervisionLevel::Normal,
                note: "签收超时，自动督办 / unsigned past its limit".into(),
                auto: true,
            };
            match crate::center::cases::act(state, id, &action, &author).await {
                Ok(_) => {
                    report.supervised.push(id);
                    events.push(live("supervised", d, "SIGN", "RED"));
                }
                Err(e) => tracing::warn!(case = %id, error = %e, "automatic supervision failed"),
            }
        }
    }
    for e in events {
        let _ = state.live.send(e);
    }
    Ok(report)
}

fn rows_area(rows: &[sqlx::any::AnyRow], case_id: &str) -> String {
    rows.iter()
        .find(|r| r.try_get::<String, _>("id").is_ok_and(|id| id == case_id))
        .and_then(|r| r.try_get("area_code").ok())
        .unwrap_or_default()
}

fn live(event: &str, d: &Due, kind: &str, level: &str) -> LiveEvent {
    LiveEvent {
        event: event.into(),
        case_id: d.case_id.clone(),
        kind: kind.into(),
        level: level.into(),
        area_code: d.area.clone(),
        org_ids: d.orgs.clone(),
        due_at: (d.due > 0).then_some(d.due),
    }
}

/// The server's own actor, on behalf of the county center over the case's area.
async fn system_author(state: &AppState, area: &str) -> Result<Author> {
    let centers: Vec<(String, Option<String>)> =
        sqlx::query("SELECT id, scope_prefix FROM orgs WHERE kind = 'CENTER'")
            .fetch_all(&state.db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("scope_prefix")?)))
            .collect::<Result<_>>()?;
    let org = centers
        .into_iter()
        .filter(|(_, p)| p.as_deref().is_some_and(|p| area.starts_with(p)))
        .min_by_key(|(_, p)| p.as_ref().map(String::len).unwrap_or(usize::MAX))
        .map(|(id, _)| id)
        .unwrap_or_else(|| "system".into());
    Ok(Author::new("system", Role::System, org))
}

/// High-risk cases (red, or any danger flag) that a sync just brought in: alert the
/// township and county centers at once, without waiting for the scanner.
pub async fn alert_high_risk(state: &AppState, ids: &[CaseId]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = state.clock.now().0;
    for id in ids {
        let row = sqlx::query("SELECT area_code, high_risk, status FROM cases WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&state.db.pool())
            .await?;
        let Some(row) = row else { continue };
        let high: i64 = row.try_get("high_risk")?;
        let status: String = row.try_get("status")?;
        if high == 0 || status != Status::Submitted.as_code() {
            continue;
        }
        let area: String = row.try_get("area_code")?;
        let wid = format!("{id}:HIGH_RISK");
        let inserted = sqlx::query(
            "INSERT INTO warnings (id, case_id, kind, level, area_code, org_ids, raised_at, updated_at)
             VALUES ($1, $2, 'HIGH_RISK', 'RED', $3, ',', $4, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&wid)
        .bind(id.to_string())
        .bind(&area)
        .bind(now)
        .execute(&state.db.writer)
        .await?;
        if inserted.rows_affected() == 1 {
            tracing::warn!(case = %id, "high-risk case submitted: township and county centers alerted");
            let _ = state.live.send(LiveEvent {
                event: "high_risk".into(),
                case_id: id.to_string(),
                kind: "HIGH_RISK".into(),
                level: "RED".into(),
                area_code: area,
                org_ids: Vec::new(),
                due_at: None,
            });
        }
    }
    Ok(())
}

/// The scanner loop: one leader per deployment (see the module docs).
pub async fn run(state: AppState, every: std::time::Duration) {
    loop {
        let leader = match state.db.dialect() {
            Dialect::Sqlite => None,
            Dialect::Postgres => match try_lead(&state).await {
                Ok(Some(conn)) => Some(conn),
                Ok(None) => {
                    tokio::time::sleep(every).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "scanner: cannot reach the database");
                    tokio::time::sleep(every).await;
                    continue;
                }
            },
        };
        // Lead until an error: the lock lives as long as `leader`'s connection.
        loop {
            if let Err(e) = scan_once(&state).await {
                tracing::warn!(error = %e, "scan failed");
                break;
            }
            tokio::time::sleep(every).await;
        }
        drop(leader);
    }
}

async fn try_lead(state: &AppState) -> Result<Option<sqlx::pool::PoolConnection<sqlx::Any>>> {
    let mut conn = state.db.pool().acquire().await?;
    let got: bool = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
        .bind(SCANNER_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    Ok(got.then_some(conn))
}
