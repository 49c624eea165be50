//! Statistics (issue 4 item 5): the figures centers report, per group and in total, with a
//! year-on-year comparison, and the CSV exports (statistics, case list, a GB/T
//! 31000-2015-shaped dispute export), each written to the audit log ([`export`]).
//!
//! **Cohort.** A case belongs to a period when it was *received* in it: its submission time
//! (`submitted_at`), or, for a case resolved on the spot that was never submitted, the time
//! of that resolution. Dates are China dates (UTC+8), both ends inclusive. Submission rather
//! than acceptance, so that "received" and "accepted" differ and the time to first response
//! (submitted → accepted) belongs to the period the case arrived in. Drafts never count.
//!
//! **Definitions** (rates are `None` when their denominator is 0):
//! - received: cases in the cohort; accepted: of them, accepted (has `accepted_at`);
//!   resolved: an outcome stands (resolved, followed up, archived, resolved on the spot);
//!   resolved successfully: that outcome is a success.
//! - time to first response: submitted → accepted, average hours over accepted cases, and
//!   the share accepted within 24 hours (the seed centers' promise).
//! - 化解率 resolution rate = resolved successfully / received.
//! - 调解成功率 mediation success rate = resolved successfully / resolved.
//! - 按期办结率 on-time closure rate = resolved within the handling limit / resolved
//!   (resolutions on the spot are on time).
//! - 签收及时率 on-time sign-for rate = signed within the sign limit / signed, for the last
//!   dispatch (signed = the last dispatch was signed for; the limit is the case's own, as
//!   the fold uses it, judged when the projection is written).
//! - 满意率 satisfaction rate = latest follow-up with satisfaction ≥ 4 / followed up.
//! - tier shares = resolved at village / township / county over resolved (on the spot
//!   counts as village).
//! - 同比 year-on-year: the same figures over the same dates one year earlier, and the
//!   relative change of received and of the resolution rate ((this − last) / last).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gridsync_core::case::{CaseId, Category, Source, Timestamp, mask_address, mask_id_number};
use gridsync_core::workflow::{Status, Tier};
use serde::Serialize;
use sqlx::Row;

use crate::error::{Error, Result};
use crate::state::Center;

const HOUR: i64 = Timestamp::HOUR;
/// First response is "within 24 hours" at exactly 24 h or less.
const FIRST_RESPONSE_PROMISE: i64 = 24 * HOUR;

/// China Standard Time, which reports use.
fn china() -> time::UtcOffset {
    time::UtcOffset::from_hms(8, 0, 0).expect("valid offset")
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<time::Date> {
    let mut it = s.trim().splitn(3, '-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

fn ymd(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A reporting period: China dates, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: time::Date,
    pub to: time::Date,
}

impl Period {
    /// `[start, end)` in epoch milliseconds.
    pub fn bounds(&self) -> (i64, i64) {
        let start = |d: time::Date| d.midnight().assume_offset(china()).unix_timestamp() * 1000;
        let end = self.to.next_day().map_or(i64::MAX, start);
        (start(self.from), end)
    }

    /// The same dates one year earlier (29 February becomes 28 February).
    pub fn year_earlier(&self) -> Period {
        let back = |d: time::Date| {
            d.replace_year(d.year() - 1)
                .or_else(|_| d.replace_day(28).and_then(|d| d.replace_year(d.year() - 1)))
                .unwrap_or(d)
        };
        Period {
            from: back(self.from),
            to: back(self.to),
        }
    }
}

/// How to group the figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Category,
    Area,
    Month,
    Source,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "category" => GroupBy::Category,
            "area" => GroupBy::Area,
            "month" => GroupBy::Month,
            "source" => GroupBy::Source,
            _ => return None,
        })
    }
}

/// Which cases the caller may count: those under `scope_prefix` (an organisation's area),
/// or dispatched to / handled by `org_id`; narrowed to `area` when given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub scope_prefix: Option<String>,
    pub org_id: String,
    pub area: Option<String>,
}

/// One case of a cohort: the projection columns the figures need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFacts {
    pub id: String,
    pub case_no: Option<String>,
    pub title: String,
    pub status: String,
    pub category: String,
    pub risk_level: String,
    pub area_code: String,
    pub source: String,
    pub party_names: String,
    /// Submission, or the on-the-spot resolution of a case never submitted.
    pub received_at: i64,
    pub submitted_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub resolved_success: Option<bool>,
    pub resolved_on_time: Option<bool>,
    pub resolved_tier: Option<String>,
    pub dispatched_at: Option<i64>,
    pub signed_at: Option<i64>,
    /// The last dispatch was signed for within its limit; `None`: not signed for.
    pub signed_on_time: Option<bool>,
    pub satisfaction: Option<i64>,
}

/// `a / b`, `None` when `b` is 0.
fn rate(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The figures of a set of cases.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// 受理数 (received / screened).
    pub received: u64,
    pub accepted: u64,
    pub resolved: u64,
    /// 化解数.
    pub resolved_successfully: u64,
    /// Submitted → accepted, average hours.
    pub first_response_avg_hours: Option<f64>,
    /// Share of accepted cases accepted within 24 hours.
    pub first_response_within_24h_rate: Option<f64>,
    /// 化解率 = resolved successfully / received.
    pub resolution_rate: Option<f64>,
    /// 调解成功率 = resolved successfully / resolved.
    pub mediation_success_rate: Option<f64>,
    pub resolved_on_time: u64,
    /// 按期办结率 = resolved on time / resolved.
    pub on_time_closure_rate: Option<f64>,
    pub signed: u64,
    pub signed_on_time: u64,
    /// 签收及时率 = signed on time / signed.
    pub on_time_sign_rate: Option<f64>,
    pub followed_up: u64,
    pub satisfied: u64,
    /// 满意率 = follow-ups with satisfaction ≥ 4 / follow-ups.
    pub satisfaction_rate: Option<f64>,
    pub resolved_village: u64,
    pub resolved_township: u64,
    pub resolved_county: u64,
    pub village_share: Option<f64>,
    pub township_share: Option<f64>,
    pub county_share: Option<f64>,
}

impl Figures {
    /// Counts and rates over `cases`.
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseFacts>) -> Figures {
        let mut f = Figures::default();
        let (mut responded, mut response_ms, mut within) = (0u64, 0i128, 0u64);
        for c in cases {
            f.received += 1;
            if c.accepted_at.is_some() {
                f.accepted += 1;
            }
            if let (Some(s), Some(a)) = (c.submitted_at, c.accepted_at) {
                responded += 1;
                response_ms += i128::from(a - s);
                if a - s <= FIRST_RESPONSE_PROMISE {
                    within += 1;
                }
            }
            if let Some(success) = c.resolved_success {
                f.resolved += 1;
                if success {
                    f.resolved_successfully += 1;
                }
                if c.resolved_on_time == Some(true) {
                    f.resolved_on_time += 1;
                }
                match c.resolved_tier.as_deref().and_then(Tier::from_code) {
                    Some(Tier::Village) => f.resolved_village += 1,
                    Some(Tier::Township) => f.resolved_township += 1,
                    Some(Tier::County) => f.resolved_county += 1,
                    None => {}
                }
            }
            if let Some(on_time) = c.signed_on_time {
                f.signed += 1;
                if on_time {
                    f.signed_on_time += 1;
                }
            }
            if let Some(s) = c.satisfaction {
                f.followed_up += 1;
                if s >= 4 {
                    f.satisfied += 1;
                }
            }
        }
        f.first_response_avg_hours =
            (responded > 0).then(|| response_ms as f64 / responded as f64 / HOUR as f64);
        f.first_response_within_24h_rate = rate(within, responded);
        f.resolution_rate = rate(f.resolved_successfully, f.received);
        f.mediation_success_rate = rate(f.resolved_successfully, f.resolved);
        f.on_time_closure_rate = rate(f.resolved_on_time, f.resolved);
        f.on_time_sign_rate = rate(f.signed_on_time, f.signed);
        f.satisfaction_rate = rate(f.satisfied, f.followed_up);
        f.village_share = rate(f.resolved_village, f.resolved);
        f.township_share = rate(f.resolved_township, f.resolved);
        f.county_share = rate(f.resolved_county, f.resolved);
        f
    }
}

/// 同比: relative changes against the same period one year earlier.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct YearOnYear {
    /// (received − received last year) / received last year.
    pub received_change: Option<f64>,
    /// (rate − rate last year) / rate last year.
    pub resolution_rate_change: Option<f64>,
    /// rate − rate last year (percentage points as a fraction).
    pub resolution_rate_diff: Option<f64>,
}

impl YearOnYear {
    pub fn of(now: &Figures, last: &Figures) -> YearOnYear {
        let rel = |a: f64, b: f64| (b != 0.0).then(|| (a - b) / b);
        YearOnYear {
            received_change: rel(now.received as f64, last.received as f64),
            resolution_rate_change: now
                .resolution_rate
                .zip(last.resolution_rate)
                .and_then(|(a, b)| rel(a, b)),
            resolution_rate_diff: now
                .resolution_rate
                .zip(last.resolution_rate)
                .map(|(a, b)| a - b),
        }
    }
}

/// One group's (or the total's) figures with last year's.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupStats {
    pub key: String,
    pub label: String,
    pub current: Figures,
    pub last_year: Figures,
    pub year_on_year: YearOnYear,
}

/// The answer of `GET /v1/stats`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub last_year_from: String,
    pub last_year_to: String,
    pub area: Option<String>,
    pub group_by: Option<GroupBy>,
    pub total: GroupStats,
    pub groups: Vec<GroupStats>,
}

/// Digits an area group keeps: one level below the narrowest prefix in force (county 6 →
/// township 9 → village 12).
fn area_digits(scope: &Scope) -> usize {
    let len = scope
        .area
        .as_deref()
        .or(scope.scope_prefix.as_deref())
        .map_or(6, str::len);
    match len {
        0..6 => 6,
        6..9 => 9,
        _ => 12,
    }
}

/// A case's group key; `years_later` shifts month keys (last year's rows meet this year's).
fn group_key(c: &CaseFacts, by: GroupBy, area_digits: usize, years_later: i32) -> String {
    match by {
        GroupBy::Category => c.category.clone(),
        GroupBy::Source => c.source.clone(),
        GroupBy::Area => c.area_code.chars().take(area_digits).collect(),
        GroupBy::Month => {
            let d = Timestamp(c.received_at).china_date();
            format!("{:04}-{:02}", d.year() + years_later, u8::from(d.month()))
        }
    }
}

fn group_label(key: &str, by: GroupBy) -> String {
    match by {
        GroupBy::Category => Category::from_code(key).map_or(key, |c| c.label_zh()),
        GroupBy::Source => Source::from_code(key).map_or(key, |s| s.label_zh()),
        GroupBy::Area | GroupBy::Month => key,
    }
    .to_owned()
}

/// Assembles the report from this period's and last year's cohorts (pure).
pub fn report(
    period: Period,
    scope: &Scope,
    group_by: Option<GroupBy>,
    current: &[CaseFacts],
    last_year: &[CaseFacts],
) -> Report {
    let stats = |key: String, label: String, now: Vec<&CaseFacts>, last: Vec<&CaseFacts>| {
        let current = Figures::of(now);
        let last_year = Figures::of(last);
        GroupStats {
            key,
            label,
            year_on_year: YearOnYear::of(&current, &last_year),
            current,
            last_year,
        }
    };
    let total = stats(
        "TOTAL".into(),
        "合计".into(),
        current.iter().collect(),
        last_year.iter().collect(),
    );
    let mut groups = Vec::new();
    if let Some(by) = group_by {
        let digits = area_digits(scope);
        let mut now: BTreeMap<String, Vec<&CaseFacts>> = BTreeMap::new();
        let mut last: BTreeMap<String, Vec<&CaseFacts>> = BTreeMap::new();
        for c in current {
            now.entry(group_key(c, by, digits, 0)).or_default().push(c);
        }
        for c in last_year {
            last.entry(group_key(c, by, digits, 1)).or_default().push(c);
        }
        let keys: BTreeSet<String> = now.keys().chain(last.keys()).cloned().collect();
        for key in keys {
            let label = group_label(&key, by);
            let n = now.remove(&key).unwrap_or_default();
            let l = last.remove(&key).unwrap_or_default();
            groups.push(stats(key, label, n, l));
        }
    }
    let earlier = period.year_earlier();
    Report {
        from: ymd(period.from),
        to: ymd(period.to),
        last_year_from: ymd(earlier.from),
        last_year_to: ymd(earlier.to),
        area: scope.area.clone(),
        group_by,
        total,
        groups,
    }
}

/// The cohort of `period` in `scope`, from the projection.
pub async fn cohort(center: &Center, scope: &Scope, period: Period) -> Result<Vec<CaseFacts>> {
    let (start, end) = period.bounds();
    let seen = crate::db::scope::Scope::new(scope.scope_prefix.as_deref(), &scope.org_id);
    let (scope_lo, scope_hi, org) = seen.params();
    // No area asked for: every code (the empty prefix).
    let (area_lo, area_hi) =
        crate::db::cases::area_range(Some(scope.area.as_deref().unwrap_or("")));
    // Audited: built from constants only; values are bound.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, case_no, title, status, category, risk_level, area_code, source, party_names,
                COALESCE(submitted_at, resolved_at) AS received_at, submitted_at, accepted_at,
                resolved_at, resolved_success, resolved_on_time, resolved_tier, dispatched_at,
                signed_at, signed_on_time, satisfaction
         FROM cases
         WHERE {}
           AND area_code >= $4 AND area_code < $5
           AND status <> 'DRAFT'
           AND COALESCE(submitted_at, resolved_at) >= $6 AND COALESCE(submitted_at, resolved_at) < $7
         ORDER BY received_at, id",
        crate::db::scope::Scope::sql(center.db.dialect, "cases", 1)
    )))
    .bind(scope_lo)
    .bind(scope_hi)
    .bind(org)
    .bind(area_lo)
    .bind(area_hi)
    .bind(start)
    .bind(end)
    .fetch_all(&center.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let flag = |col: &str| -> Result<Option<bool>, sqlx::Error> {
                Ok(r.try_get::<Option<i64>, _>(col)?.map(|v| v != 0))
            };
            Ok(CaseFacts {
                id: r.try_get("id")?,
                case_no: r.try_get("case_no")?,
                title: r.try_get("title")?,
                status: r.try_get("status")?,
                category: r.try_get("category")?,
                risk_level: r.try_get("risk_level")?,
                area_code: r.try_get("area_code")?,
                source: r.try_get("source")?,
                party_names: r.try_get("party_names")?,
                received_at: r.try_get("received_at")?,
                submitted_at: r.try_get("submitted_at")?,
                accepted_at: r.try_get("accepted_at")?,
                resolved_at: r.try_get("resolved_at")?,
                resolved_success: flag("resolved_success")?,
                resolved_on_time: flag("resolved_on_time")?,
                resolved_tier: r.try_get("resolved_tier")?,
                dispatched_at: r.try_get("dispatched_at")?,
                signed_at: r.try_get("signed_at")?,
                signed_on_time: flag("signed_on_time")?,
                satisfaction: r.try_get("satisfaction")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Error::from)
}

/// The statistics of `period` in `scope`, with last year's.
pub async fn compute(
    center: &Center,
    scope: &Scope,
    period: Period,
    group_by: Option<GroupBy>,
) -> Result<Report> {
    let now = cohort(center, scope, period).await?;
    let last = cohort(center, scope, period.year_earlier()).await?;
    Ok(report(period, scope, group_by, &now, &last))
}

// ---------------------------------------------------------------------------------------
// Exports

/// What a CSV export holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// The statistics ([`stats_csv`]).
    Stats,
    /// The case list ([`cases_csv`]).
    Cases,
    /// The GB/T 31000-shaped dispute export ([`gbt31000_csv`]).
    Gbt31000,
}

impl Export {
    pub fn file_name(self) -> &'static str {
        match self {
            Export::Stats => "stats.csv",
            Export::Cases => "cases.csv",
            Export::Gbt31000 => "gbt31000.csv",
        }
    }
}

/// A CSV export for `by`, written to the audit log before it is handed out (which export,
/// the filter, the row count: no personal data). Rows are cases, or for the statistics
/// the groups and the total.
pub async fn export(
    center: &Center,
    by: &crate::caller::Caller,
    what: Export,
    scope: &Scope,
    period: Period,
    group_by: Option<GroupBy>,
) -> Result<String> {
    let (csv, rows) = match what {
        Export::Stats => {
            let report = compute(center, scope, period, group_by).await?;
            (stats_csv(&report), report.groups.len() + 1)
        }
        Export::Cases => {
            let cases = cohort(center, scope, period).await?;
            (cases_csv(&cases), cases.len())
        }
        Export::Gbt31000 => {
            let cases = cohort(center, scope, period).await?;
            (gbt31000_csv(center, &cases).await?, cases.len())
        }
    };
    let detail = serde_json::json!({
        "export": what.file_name(),
        "from": ymd(period.from),
        "to": ymd(period.to),
        "area": scope.area,
        "group_by": (what == Export::Stats).then_some(group_by).flatten(),
        "rows": rows,
    });
    crate::audit::append(
        center,
        crate::audit::Entry::by(by, crate::audit::EXPORT, None, detail),
    )
    .await?;
    Ok(csv)
}

// ---------------------------------------------------------------------------------------
// CSV

/// One CSV field (RFC 4180); a leading `= + - @` is defused with `'` so spreadsheets do not
/// run it as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A UTF-8 CSV document (with a byte-order mark, so spreadsheets read the Chinese).
#[derive(Debug, Default)]
pub struct Csv(String);

impl Csv {
    fn new() -> Csv {
        Csv("\u{feff}".to_owned())
    }
    fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let line: Vec<String> = cells.into_iter().map(|c| field(c.as_ref())).collect();
        self.0.push_str(&line.join(","));
        self.0.push_str("\r\n");
    }
    fn header(&mut self, columns: &[(&str, &str)]) {
        self.row(columns.iter().map(|(en, zh)| format!("{en} {zh}")));
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

fn opt_rate(r: Option<f64>) -> String {
    r.map(|v| format!("{v:.4}")).unwrap_or_default()
}

fn date_of(t: Option<i64>) -> String {
    t.map(|t| ymd(Timestamp(t).china_date()))
        .unwrap_or_default()
}

const STATS_COLUMNS: &[(&str, &str)] = &[
    ("group", "分组"),
    ("label", "名称"),
    ("received", "受理数"),
    ("accepted", "已受理数"),
    ("resolved", "办结数"),
    ("resolved_successfully", "化解数"),
    ("first_response_avg_hours", "平均首次响应时长(小时)"),
    ("first_response_within_24h_rate", "24小时响应率"),
    ("resolution_rate", "化解率"),
    ("mediation_success_rate", "调解成功率"),
    ("on_time_closure_rate", "按期办结率"),
    ("on_time_sign_rate", "签收及时率"),
    ("satisfaction_rate", "满意率"),
    ("village_share", "村级化解占比"),
    ("township_share", "乡镇级化解占比"),
    ("county_share", "县级化解占比"),
    ("last_year_received", "去年同期受理数"),
    ("last_year_resolution_rate", "去年同期化解率"),
    ("received_yoy", "受理数同比"),
    ("resolution_rate_yoy", "化解率同比"),
];

/// `GET /v1/stats.csv`: one row per group, then the total.
pub fn stats_csv(report: &Report) -> String {
    let mut csv = Csv::new();
    csv.header(STATS_COLUMNS);
    for g in report.groups.iter().chain([&report.total]) {
        let f = &g.current;
        csv.row([
            g.key.clone(),
            g.label.clone(),
            f.received.to_string(),
            f.accepted.to_string(),
            f.resolved.to_string(),
            f.resolved_successfully.to_string(),
            f.first_response_avg_hours
                .map(|h| format!("{h:.2}"))
                .unwrap_or_default(),
            opt_rate(f.first_response_within_24h_rate),
            opt_rate(f.resolution_rate),
            opt_rate(f.mediation_success_rate),
            opt_rate(f.on_time_closure_rate),
            opt_rate(f.on_time_sign_rate),
            opt_rate(f.satisfaction_rate),
            opt_rate(f.village_share),
            opt_rate(f.township_share),
            opt_rate(f.county_share),
            g.last_year.received.to_string(),
            opt_rate(g.last_year.resolution_rate),
            opt_rate(g.year_on_year.received_change),
            opt_rate(g.year_on_year.resolution_rate_change),
        ]);
    }
    csv.into_string()
}

/// A name masked for exports: the first character stays (`张建国` → `张**`).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

const CASE_COLUMNS: &[(&str, &str)] = &[
    ("case_no", "案件编号"),
    ("title", "事件名称"),
    ("status", "状态"),
    ("category", "事件类别"),
    ("risk_level", "风险等级"),
    ("area_code", "区划代码"),
    ("parties", "当事人"),
    ("submitted", "上报日期"),
    ("accepted", "受理日期"),
    ("resolved", "办结日期"),
];

/// `GET /v1/cases.csv`: the cohort as a case list, party names masked.
pub fn cases_csv(cases: &[CaseFacts]) -> String {
    let mut csv = Csv::new();
    csv.header(CASE_COLUMNS);
    for c in cases {
        csv.row([
            c.case_no.clone().unwrap_or_default(),
            c.title.clone(),
            Status::from_code(&c.status).map_or(c.status.clone(), |s| s.label_zh().to_owned()),
            Category::from_code(&c.category)
                .map_or(c.category.clone(), |k| k.label_zh().to_owned()),
            gridsync_core::case::RiskLevel::from_code(&c.risk_level)
                .map_or(c.risk_level.clone(), |r| r.label_zh().to_owned()),
            c.area_code.clone(),
            c.party_names
                .split(", ")
                .filter(|n| !n.is_empty())
                .map(mask_name)
                .collect::<Vec<_>>()
                .join("、"),
            date_of(c.submitted_at),
            date_of(c.accepted_at),
            date_of(c.resolved_at),
        ]);
    }
    csv.into_string()
}

/// Our category → dispute-category code for the GB/T 31000-shaped export.
///
/// This is an **internal mapping**, not the official code list: the codes and names follow
/// the rows of the provincial dispute-screening report (domain notes §2), because the
/// standard's own code table (GB/T 31000-2015 §5.58 and neighbours) was not available.
pub fn dispute_category_code(c: Category) -> (&'static str, &'static str) {
    use Category as C;
    match c {
        C::MarriageFamily
        | C::Neighbour
        | C::ContractDebt
        | C::DamageCompensation
        | C::TrafficAccident => ("01", "婚姻家庭邻里等各类民间纠纷"),
        C::ForestWaterBoundary | C::HomesteadHousing => ("02", "土地矿产山林水利界限权属纠纷"),
        C::LandContract => ("03", "农村土地承包及集体三资纠纷"),
        C::LandAcquisitionDemolition => ("04", "征地拆迁安置纠纷"),
        C::LabourWages => ("06", "劳资纠纷"),
        C::Medical => ("07", "医患纠纷"),
        C::Construction | C::PropertyMgmt => ("08", "建筑工程质量及物业管理纠纷"),
        C::Environment => ("09", "环境污染及生态破坏纠纷"),
        C::AdminEnforcement => ("13", "行政执法活动引发的纠纷"),
        C::VillageAffairs => ("15", "村(社区)务管理纠纷"),
        C::Consumer | C::Other => ("19", "其他纠纷"),
    }
}

/// Scale band of the provincial report (≥ 50 people: a major dispute).
fn scale_band(people: u32) -> &'static str {
    match people {
        0..50 => "一般(50人以下)",
        50..100 => "重大(50-100人)",
        100..500 => "重大(100-500人)",
        _ => "重大(500人以上)",
    }
}

const GBT_COLUMNS: &[(&str, &str)] = &[
    ("case_no", "案件编号"),
    ("event_name", "事件名称"),
    ("occurred_date", "发生日期"),
    ("place", "发生地点"),
    ("scale", "事件规模"),
    ("people_involved", "涉及人数"),
    ("category_code", "事件类别"),
    ("category_name", "事件类别名称"),
    ("summary", "事件简述"),
    ("party_name", "主要当事人姓名"),
    ("party_id_number", "主要当事人证件号码"),
    ("handling_status", "事件处理状态"),
    ("method", "化解方式"),
    ("organisation", "化解组织"),
    ("success", "化解是否成功"),
    ("outcome", "化解情况"),
    ("deadline", "化解时限"),
    ("resolved_date", "化解日期"),
];

/// `GET /v1/export/gbt31000.csv`: the cohort in the GB/T 31000-2015 dispute field set
/// (domain notes §1), personal data masked. Dates are `YYYYMMDD` as in the standard.
pub async fn gbt31000_csv(center: &Center, cases: &[CaseFacts]) -> Result<String> {
    let orgs: HashMap<String, (String, String)> = sqlx::query("SELECT id, name, kind FROM orgs")
        .fetch_all(&center.db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, (r.try_get("name")?, r.try_get("kind")?))))
        .collect::<Result<_, sqlx::Error>>()?;
    let compact = |t: Option<Timestamp>| {
        t.map(|t| {
            let d = t.china_date();
            format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_default()
    };
    let now = center.clock.now();
    let mut csv = Csv::new();
    csv.header(GBT_COLUMNS);
    for facts in cases {
        let Ok(id) = facts.id.parse::<CaseId>() else {
            continue;
        };
        let Some(doc) = crate::center::cases::load(center, id).await? else {
            continue;
        };
        let case = doc.case();
        let wf = doc.state(&center.limits, now);
        let (code, name) = dispute_category_code(case.category);
        let main = case.parties.first();
        let outcome = wf.outcome.as_ref();
        let org = outcome.and_then(|o| orgs.get(&o.by_org));
        // 化解方式 (R2 list): mediation rooms and villages mediate as people's mediation,
        // departments as administrative mediation; an on-the-spot resolution is the grid's
        // people's mediation.
        let method = match (outcome, org.map(|(_, kind)| kind.as_str())) {
            (None, _) => "",
            (Some(_), Some("DEPARTMENT")) => "行政调解",
            (Some(_), _) => "人民调解",
        };
        let deadline = wf.signed_at.map(|s| {
            s.plus_millis(
                center.limits.handle(case.difficulty)
                    + i64::from(wf.extension_days) * Timestamp::DAY,
            )
        });
        let summary: String = case.summary.chars().take(2000).collect();
        csv.row([
            wf.case_no.clone().unwrap_or_default(),
            case.title.clone(),
            compact(case.occurred_at),
            mask_address(&case.address),
            scale_band(case.people_involved).to_owned(),
            case.people_involved.to_string(),
            code.to_owned(),
            name.to_owned(),
            summary,
            main.map(|p| mask_name(&p.name)).unwrap_or_default(),
            main.map(|p| mask_id_number(&p.id_number))
                .unwrap_or_default(),
            wf.status.label_zh().to_owned(),
            method.to_owned(),
            org.map(|(n, _)| n.clone())
                .or_else(|| outcome.map(|o| o.by_org.clone()))
                .unwrap_or_default(),
            outcome
                .map(|o| if o.success { "1" } else { "0" }.to_owned())
                .unwrap_or_default(),
            outcome.map(|o| o.text.clone()).unwrap_or_default(),
            compact(deadline),
            compact(wf.resolved_at),
        ]);
    }
    Ok(csv.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(received: i64) -> CaseFacts {
        CaseFacts {
            received_at: received,
            submitted_at: Some(received),
            category: "OTHER".into(),
            ..CaseFacts::default()
        }
    }

    #[test]
    fn rates_by_hand_and_none_on_empty_denominators() {
        let empty = Figures::of(&[]);
        assert_eq!(empty.received, 0);
        assert_eq!(empty.resolution_rate, None);
        assert_eq!(empty.first_response_avg_hours, None);

        let mut a = case(0);
        a.accepted_at = Some(10 * HOUR);
        a.resolved_success = Some(true);
        a.resolved_on_time = Some(true);
        a.resolved_tier = Some("VILLAGE".into());
        a.dispatched_at = Some(20 * HOUR);
        a.signed_at = Some(30 * HOUR);
        a.signed_on_time = Some(true);
        a.satisfaction = Some(5);
        let mut b = case(0);
        b.accepted_at = Some(30 * HOUR);
        b.resolved_success = Some(false);
        b.resolved_on_time = Some(false);
        b.resolved_tier = Some("COUNTY".into());
        b.dispatched_at = Some(40 * HOUR);
        b.signed_at = Some(70 * HOUR);
        b.signed_on_time = Some(false);
        b.satisfaction = Some(3);
        let c = case(0);
        let f = Figures::of([&a, &b, &c]);
        assert_eq!((f.received, f.accepted, f.resolved), (3, 2, 2));
        // (10 + 30) / 2 = 20 h; one of two within 24 h.
        assert_eq!(f.first_response_avg_hours, Some(20.0));
        assert_eq!(f.first_response_within_24h_rate, Some(0.5));
        assert_eq!(f.resolution_rate, Some(1.0 / 3.0));
        assert_eq!(f.mediation_success_rate, Some(0.5));
        assert_eq!(f.on_time_closure_rate, Some(0.5));
        assert_eq!(f.on_time_sign_rate, Some(0.5));
        assert_eq!(f.satisfaction_rate, Some(0.5));
        assert_eq!(
            (f.village_share, f.township_share, f.county_share),
            (Some(0.5), Some(0.0), Some(0.5))
        );
    }

    #[test]
    fn periods_and_year_on_year() {
        let p = Period {
            from: parse_date("2024-02-01").unwrap(),
            to: parse_date("2024-02-29").unwrap(),
        };
        let last = p.year_earlier();
        assert_eq!(ymd(last.from), "2023-02-01");
        assert_eq!(ymd(last.to), "2023-02-28");
        // 2024-02-01 00:00 +08:00 = 2024-01-31T16:00Z.
        assert_eq!(p.bounds().0, 1_706_716_800_000);
        assert_eq!(p.bounds().1 - p.bounds().0, 29 * Timestamp::DAY);
        assert!(parse_date("2024-2-01").is_none());
        assert!(parse_date("2024-02-30").is_none());

        let mut now = Figures {
            received: 6,
            resolution_rate: Some(0.5),
            ..Figures::default()
        };
        let last = Figures {
            received: 4,
            resolution_rate: Some(0.25),
            ..Figures::default()
        };
        let y = YearOnYear::of(&now, &last);
        assert_eq!(y.received_change, Some(0.5));
        assert_eq!(y.resolution_rate_change, Some(1.0));
        now.resolution_rate = None;
        assert_eq!(YearOnYear::of(&now, &last).resolution_rate_change, None);
        assert_eq!(
            YearOnYear::of(&now, &Figures::default()).received_change,
            None
        );
    }

    #[test]
    fn groups_by_area_one_level_down_and_months_meet_last_year() {
        let period = Period {
            from: parse_date("2026-01-01").unwrap(),
            to: parse_date("2026-12-31").unwrap(),
        };
        let jan = period.bounds().0;
        let last_jan = period.year_earlier().bounds().0;
        let mut a = case(jan);
        a.area_code = "330182101201".into();
        let mut b = case(jan + 40 * Timestamp::DAY);
        b.area_code = "330182102203".into();
        let mut c = case(last_jan);
        c.area_code = "330182101202".into();
        let county = Scope {
            scope_prefix: Some("330182".into()),
            ..Scope::default()
        };
        let r = report(
            period,
            &county,
            Some(GroupBy::Area),
            &[a.clone(), b.clone()],
            std::slice::from_ref(&c),
        );
        let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["330182101", "330182102"], "townships under a county");
        assert_eq!(r.groups[0].last_year.received, 1);
        assert_eq!(r.total.current.received, 2);

        let r = report(period, &county, Some(GroupBy::Month), &[a, b], &[c]);
        let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["2026-01", "2026-02"]);
        assert_eq!(
            r.groups[0].last_year.received, 1,
            "January 2025 meets January 2026"
        );
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK()"), "'=HYPERLINK()");
        assert_eq!(field("-0.5"), "-0.5");
        assert_eq!(mask_name("张建国"), "张**");
        assert_eq!(
            dispute_category_code(Category::LabourWages),
            ("06", "劳资纠纷")
        );
    }
}
