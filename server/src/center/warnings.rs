//! Warnings (DESIGN §4): the scanner that raises and clears warnings from the case projection, automatic supervision
//! of a dispatch nobody signed for (未签收预警 → 督办) and of an overdue agreement
//! installment (分期履行逾期 → 督办), high-risk alerts the moment a case
//! syncs, and the live feed of all of it for subscribed staff (`GET /v1/events`).
//!
//! One scanner runs per deployment: on PostgreSQL the process holding a session advisory
//! lock scans and the others wait their turn; on SQLite (one process) it simply runs.
//! [`scan_once`] is the whole scan, callable from tests with an injected clock.

use gridsync_core::case::{CaseId, Timestamp};
use gridsync_core::workflow::{Action, Author, Role, Status, SupervisionLevel, warning_level};

use crate::county_time::{CountyTime, Stamp};
use crate::db;
use crate::error::Result;
use crate::live::LiveEvent;
use crate::state::Center;

/// How often the scanner runs by default.
pub const SCAN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// An open warning as staff list it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WarningRow {
    pub case_id: String,
    pub kind: String,
    pub level: String,
    pub area_code: String,
    pub due_at: Option<Stamp>,
    pub raised_at: Stamp,
    pub updated_at: Stamp,
    /// Which installment an `INSTALLMENT` warning is about (its id in the agreement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
}

/// The open warnings of cases in the caller's scope (by area, or assigned to the caller's
/// organisation), filtered by `level` and `kind` (empty: any), nearest due first.
pub async fn open_in_scope(
    center: &Center,
    caller: &crate::caller::Caller,
    level: &str,
    kind: &str,
) -> Result<Vec<WarningRow>> {
    // Who sees a warning is who sees its case: the one scope definition.
    let rows = db::warnings::open_in_scope(&center.db, &caller.scope(), level, kind).await?;
    let time = &center.county_time;
    Ok(rows
        .into_iter()
        .map(|w| WarningRow {
            case_id: w.case_id,
            kind: w.kind,
            level: w.level,
            area_code: w.area_code,
            due_at: time.stamp_opt(w.due_at),
            raised_at: time.stamp(w.raised_at),
            updated_at: time.stamp(w.updated_at),
            item: w.item,
        })
        .collect())
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
pub async fn scan_once(center: &Center) -> Result<ScanReport> {
    let now = center.clock.now();
    let rows = db::warnings::running(&center.db).await?;
    let mut current: Vec<(String, String, String, Due)> = Vec::new(); // (warning id, kind, level, due)
    for r in &rows {
        let d = Due {
            case_id: r.case_id.clone(),
            kind: r.due_kind.clone(),
            start: r.due_start,
            due: r.due_at,
            area: r.area_code.clone(),
            orgs: r.orgs.clone(),
            status: r.status.clone(),
            supervision: r.supervision.clone(),
            high_risk: r.high_risk,
        };
        if d.high_risk && d.status == Status::Submitted.as_code() {
            let id = format!("{}:HIGH_RISK", d.case_id);
            current.push((id, "HIGH_RISK".into(), "RED".into(), d.clone()));
        }
        // Every running deadline (installments beside the nearest one); rows written before
        // the `deadlines` column existed fall back to the nearest deadline.
        // (kind, item, start, due, yellow percent: the case's own, else the default).
        let all: Vec<(String, Option<String>, i64, i64, u8)> = match &r.deadlines {
            Some(json) => serde_json::from_str::<Vec<serde_json::Value>>(json)
                .unwrap_or_default()
                .iter()
                .map(|v| {
                    (
                        v["kind"].as_str().unwrap_or_default().to_owned(),
                        v["item"].as_str().map(str::to_owned),
                        v["start"].as_i64().unwrap_or(0),
                        v["due"].as_i64().unwrap_or(0),
                        v["yellow"]
                            .as_u64()
                            .and_then(|p| u8::try_from(p).ok())
                            .unwrap_or(center.limits.yellow_percent),
                    )
                })
                .collect(),
            None if !d.kind.is_empty() => vec![(
                d.kind.clone(),
                None,
                d.start,
                d.due,
                center.limits.yellow_percent,
            )],
            None => Vec::new(),
        };
        for (kind, item, start, due, yellow) in all {
            let level = warning_level(Timestamp(start), Timestamp(due), yellow, now);
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

    let open = db::warnings::open_levels(&center.db).await?;
    let mut report = ScanReport::default();
    let mut events = Vec::new();
    let mut tx = center.db.writer.begin().await?;
    for (id, kind, level, d) in &current {
        match open.get(id) {
            Some(old) if old == level => continue,
            Some(_) => {
                report.escalated += 1;
                db::warnings::escalate(&mut tx, id, level, d.due, now.0).await?;
            }
            None => {
                report.raised += 1;
                let raised = db::warnings::Raised {
                    id,
                    case_id: &d.case_id,
                    kind,
                    level,
                    area_code: &d.area,
                    orgs: &d.orgs,
                    due_at: Some(d.due),
                };
                db::warnings::raise(&mut tx, &raised, now.0).await?;
            }
        }
        events.push(live(&center.county_time, "warning", d, kind, level));
    }
    let still: std::collections::HashSet<&String> = current.iter().map(|(id, ..)| id).collect();
    for id in open.keys().filter(|id| !still.contains(id)) {
        report.cleared += 1;
        db::warnings::clear(&mut tx, id, now.0).await?;
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
            let author = system_author(center, &d.area).await?;
            let action = Action::Supervise {
                level: SupervisionLevel::Normal,
                note: "签收超时，自动督办 / unsigned past its limit".into(),
                auto: true,
            };
            match crate::center::cases::act(center, id, &action, &author).await {
                Ok(_) => {
                    report.supervised.push(id);
                    events.push(live(&center.county_time, "supervised", d, "SIGN", "RED"));
                    tell_supervisors(center, d, "SIGN").await;
                }
                Err(e) => tracing::warn!(case = %id, error = %e, "automatic supervision failed"),
            }
        }
    }
    // An installment overdue (red): automatic supervision once, when its warning turns red
    // (DESIGN §4: follow-up at each installment date; an agreement not kept is supervised
    // like any other deadline). The fold accepts it while the installment is owed.
    for (wid, kind, level, d) in &current {
        if kind != "INSTALLMENT"
            || level != "RED"
            || open.get(wid).map(String::as_str) == Some("RED")
        {
            continue;
        }
        let Ok(id) = d.case_id.parse::<CaseId>() else {
            continue;
        };
        let item = wid.rsplit(':').next().unwrap_or_default();
        let author = system_author(center, &d.area).await?;
        let action = Action::Supervise {
            level: SupervisionLevel::Normal,
            note: format!("分期履行逾期，自动督办 / installment {item} overdue"),
            auto: true,
        };
        match crate::center::cases::act(center, id, &action, &author).await {
            Ok(_) => {
                report.supervised.push(id);
                events.push(live(
                    &center.county_time,
                    "supervised",
                    d,
                    "INSTALLMENT",
                    "RED",
                ));
                tell_supervisors(center, d, &format!("INSTALLMENT:{item}")).await;
            }
            Err(e) => tracing::warn!(case = %id, error = %e, "automatic supervision failed"),
        }
    }
    for e in events {
        let _ = center.live.send(e);
    }
    Ok(report)
}

/// The supervisors over the case's area hear of its automatic supervision (queued; a
/// failure to queue is logged, never the scan's).
async fn tell_supervisors(center: &Center, d: &Due, why: &str) {
    let now = center.clock.now().0;
    let told =
        crate::notify::tell_supervisors(&center.db, &center.notify, &d.area, &d.case_id, why, now);
    if let Err(e) = told.await {
        tracing::warn!(case = %d.case_id, error = %e, "supervisors not told");
    }
}

fn rows_area(rows: &[db::warnings::Running], case_id: &str) -> String {
    rows.iter()
        .find(|r| r.case_id == case_id)
        .map(|r| r.area_code.clone())
        .unwrap_or_default()
}

fn live(time: &CountyTime, event: &str, d: &Due, kind: &str, level: &str) -> LiveEvent {
    LiveEvent {
        event: event.into(),
        case_id: d.case_id.clone(),
        kind: kind.into(),
        level: level.into(),
        area_code: d.area.clone(),
        org_ids: d.orgs.clone(),
        due_at: (d.due > 0).then(|| time.stamp(d.due)),
    }
}

/// The server's own actor, on behalf of the county center over the case's area.
async fn system_author(center: &Center, area: &str) -> Result<Author> {
    let org = center
        .db
        .centers_over(area)
        .await?
        .into_iter()
        .next()
        .map(|o| o.id)
        .unwrap_or_else(|| "system".into());
    Ok(Author::new("system", Role::System, org))
}

/// High-risk cases (red, or any danger flag) that a sync just brought in: alert the
/// township and county centers at once, without waiting for the scanner.
pub async fn alert_high_risk(center: &Center, ids: &[CaseId]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = center.clock.now().0;
    for id in ids {
        let Some((area, high, status)) = db::warnings::risk_of(&center.db, &id.to_string()).await?
        else {
            continue;
        };
        if !high || status != Status::Submitted.as_code() {
            continue;
        }
        if db::warnings::raise_high_risk(&center.db, &id.to_string(), &area, now).await? {
            tracing::warn!(case = %id, "high-risk case submitted: township and county centers alerted");
            let _ = center.live.send(LiveEvent {
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
pub async fn run(center: Center, every: std::time::Duration) {
    loop {
        let leader = match db::warnings::lead_scanner(&center.db).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tokio::time::sleep(every).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "scanner: cannot reach the database");
                tokio::time::sleep(every).await;
                continue;
            }
        };
        // Lead until an error: the lock lives as long as `leader`'s connection.
        loop {
            if let Err(e) = scan_once(&center).await {
                tracing::warn!(error = %e, "scan failed");
                break;
            }
            tokio::time::sleep(every).await;
        }
        drop(leader);
    }
}
