//! Statistics (issue 4 item 5, issue 13 item 9): the figures centers report, per group and
//! in total, with month-on-month (环比) and year-on-year (同比) comparisons, the CSV
//! exports (statistics, case list, a GB/T 31000-2015-shaped dispute export) and the monthly
//! report as an Excel workbook, each export written to the audit log ([`export`]).
//! Every figure is defined in `docs/statistics.md` (Chinese and English); the code map:
//! [`figures`] (what is counted, per case and per set of cases), [`exports`] (CSV),
//! [`monthly`] (the workbook). The SQL is `crate::db::stats`.
//!
//! **Cohort.** A case belongs to a period when it was *received* in it: its submission time
//! (`submitted_at`), or, for a case resolved on the spot that was never submitted, the time
//! of that resolution. Dates are the county's calendar dates in its configured time zone
//! ([`crate::county_time::CountyTime`]), both ends inclusive. Submission rather than
//! acceptance, so that "received" and "accepted" differ and the time to first response
//! (submitted → accepted) belongs to the period the case arrived in. Drafts never count.
//!
//! **Comparisons.** 同比: the same dates one year earlier. 环比: the period just before,
//! as long: the previous whole months for a period of whole months (a calendar month →
//! the month before), else as many days immediately before. Both compare the figures read
//! from the projection (received, resolution rate...); the figures read from each case's
//! workflow log (mediated, joint, agreements, days per step: [`figures::Handling`]) are
//! given for the period itself.

pub mod exports;
pub mod figures;
pub mod monthly;

use std::collections::{BTreeMap, BTreeSet};

use gridsync_core::case::{CaseId, Category, Source, Timestamp};
use serde::Serialize;

use crate::county_time::CountyTime;
use crate::db::accounts::Org;
use crate::error::Result;
use crate::state::Center;

pub use crate::db::stats::CaseRow;
pub use exports::{cases_csv, dispute_category_code, gbt31000_csv, mask_name, stats_csv};
pub use figures::{CaseFacts, Change, Figures, FoldFacts, GroupStats, Handling, Report};

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

/// Parses `YYYY-MM`: the month's first and last days.
pub fn parse_month(s: &str) -> Option<Period> {
    let s = s.trim();
    if s.len() != 7 {
        return None;
    }
    let first = parse_date(&format!("{s}-01"))?;
    Some(Period::month_of(first))
}

pub(crate) fn ymd(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A reporting period: the county's dates, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: time::Date,
    pub to: time::Date,
}

impl Period {
    /// The calendar month holding `d`.
    pub fn month_of(d: time::Date) -> Period {
        let from = d.replace_day(1).unwrap_or(d);
        Period {
            from,
            to: last_of_month(from),
        }
    }

    /// `[start, end)` in epoch milliseconds: from the start of the county's day `from` to
    /// the start of the day after `to`.
    pub fn bounds(&self, zone: &CountyTime) -> (i64, i64) {
        let end = self
            .to
            .next_day()
            .map_or(i64::MAX, |d| zone.start_of_day(d));
        (zone.start_of_day(self.from), end)
    }

    /// The same dates one year earlier (29 February → 28 February).
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

    /// Whole calendar months from `from` to `to`, if the period is exactly that.
    fn whole_months(&self) -> Option<i32> {
        let starts = self.from.day() == 1;
        let ends = self.to.next_day().is_none_or(|d| d.day() == 1);
        let months = (self.to.year() - self.from.year()) * 12
            + i32::from(u8::from(self.to.month()))
            - i32::from(u8::from(self.from.month()))
            + 1;
        (starts && ends && months > 0).then_some(months)
    }

    /// 环比's base: the period just before, as long (whole months → as many months before;
    /// otherwise as many days before).
    pub fn previous(&self) -> Period {
        if let Some(months) = self.whole_months() {
            let from = add_months(self.from, -months);
            return Period {
                from,
                to: self.from.previous_day().unwrap_or(self.from),
            };
        }
        let days = (self.to - self.from).whole_days() + 1;
        let to = self.from.previous_day().unwrap_or(self.from);
        Period {
            from: self
                .from
                .checked_sub(time::Duration::days(days))
                .unwrap_or(time::Date::MIN),
            to,
        }
    }
}

fn last_of_month(first: time::Date) -> time::Date {
    add_months(first, 1).previous_day().unwrap_or(first)
}

/// The first of the month `months` after (or before) the month of `d`.
pub(crate) fn add_months(d: time::Date, months: i32) -> time::Date {
    let index = d.year() * 12 + i32::from(u8::from(d.month())) - 1 + months;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    let month = time::Month::try_from(month as u8).unwrap_or(time::Month::January);
    time::Date::from_calendar_date(year, month, 1).unwrap_or(d)
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

/// Which cases a report counts: those the caller's organisation sees (its
/// [`crate::db::scope::Scope`], the one definition: its area, and the cases dispatched to or
/// handled by it), narrowed to area codes under `area` when given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub org: Org,
    pub area: Option<String>,
}

impl Scope {
    fn seen(&self) -> crate::db::scope::Scope<'_> {
        crate::db::scope::Scope::of(&self.org)
    }

    /// Digits an area group keeps: one level below the narrowest prefix in force (county 6
    /// → township 9 → village 12).
    fn area_digits(&self) -> usize {
        let len = self
            .area
            .as_deref()
            .or(self.org.scope_prefix.as_deref())
            .map_or(6, str::len);
        match len {
            0..6 => 6,
            6..9 => 9,
            _ => 12,
        }
    }
}

/// The three cohorts a report compares.
#[derive(Clone, Debug, Default)]
pub struct Cohorts {
    /// The period's, each case with what its workflow log says ([`FoldFacts`]).
    pub current: Vec<CaseFacts>,
    /// 环比's base ([`Period::previous`]).
    pub previous: Vec<CaseFacts>,
    /// 同比's base ([`Period::year_earlier`]).
    pub last_year: Vec<CaseFacts>,
    /// The names area groups are labelled with: a center's by its scope prefix (a
    /// township's 9 digits), a village's by its area code.
    pub area_names: BTreeMap<String, String>,
}

/// A case's group key; `months_later` shifts month keys (last year's rows meet this
/// year's 12 months later, the month before meets its successor 1 month later).
fn group_key(
    c: &CaseFacts,
    by: GroupBy,
    area_digits: usize,
    months_later: i32,
    zone: &CountyTime,
) -> String {
    match by {
        GroupBy::Category => c.category.clone(),
        GroupBy::Source => c.source.clone(),
        GroupBy::Area => c.area_code.chars().take(area_digits).collect(),
        GroupBy::Month => {
            let d = add_months(zone.date(Timestamp(c.received_at)), months_later);
            format!("{:04}-{:02}", d.year(), u8::from(d.month()))
        }
    }
}

fn group_label(key: &str, by: GroupBy, area_names: &BTreeMap<String, String>) -> String {
    match by {
        GroupBy::Category => Category::from_code(key).map_or(key, |c| c.label_zh()),
        GroupBy::Source => Source::from_code(key).map_or(key, |s| s.label_zh()),
        GroupBy::Area => area_names.get(key).map_or(key, String::as_str),
        GroupBy::Month => key,
    }
    .to_owned()
}

/// Assembles the report from the three cohorts (pure). Groups are the keys of this period
/// and of last year's; by month, each month's 环比 base is the month before it (from this
/// period, or for its first month from the previous one).
pub fn report(
    period: Period,
    scope: &Scope,
    group_by: Option<GroupBy>,
    cohorts: &Cohorts,
    zone: &CountyTime,
) -> Report {
    let total = GroupStats::of(
        "TOTAL".into(),
        "合计".into(),
        &cohorts.current.iter().collect::<Vec<_>>(),
        &cohorts.previous.iter().collect::<Vec<_>>(),
        &cohorts.last_year.iter().collect::<Vec<_>>(),
    );
    let mut groups = Vec::new();
    if let Some(by) = group_by {
        let digits = scope.area_digits();
        let key = |c, months| group_key(c, by, digits, months, zone);
        let mut now: BTreeMap<String, Vec<&CaseFacts>> = BTreeMap::new();
        let mut previous: BTreeMap<String, Vec<&CaseFacts>> = BTreeMap::new();
        let mut last: BTreeMap<String, Vec<&CaseFacts>> = BTreeMap::new();
        for c in &cohorts.current {
            now.entry(key(c, 0)).or_default().push(c);
        }
        for c in &cohorts.last_year {
            last.entry(key(c, 12)).or_default().push(c);
        }
        if by == GroupBy::Month {
            for c in cohorts.previous.iter().chain(&cohorts.current) {
                previous.entry(key(c, 1)).or_default().push(c);
            }
        } else {
            for c in &cohorts.previous {
                previous.entry(key(c, 0)).or_default().push(c);
            }
        }
        let keys: BTreeSet<String> = now.keys().chain(last.keys()).cloned().collect();
        for key in keys {
            let label = group_label(&key, by, &cohorts.area_names);
            let n = now.remove(&key).unwrap_or_default();
            let p = previous.remove(&key).unwrap_or_default();
            let l = last.remove(&key).unwrap_or_default();
            groups.push(GroupStats::of(key, label, &n, &p, &l));
        }
    }
    let earlier = period.year_earlier();
    let before = period.previous();
    Report {
        from: ymd(period.from),
        to: ymd(period.to),
        previous_from: ymd(before.from),
        previous_to: ymd(before.to),
        last_year_from: ymd(earlier.from),
        last_year_to: ymd(earlier.to),
        time_zone: zone.name().to_owned(),
        area: scope.area.clone(),
        group_by,
        total,
        groups,
    }
}

/// The cohort of `period` in `scope`, from the projection; with each case's workflow facts
/// when `with_fold` (each document is loaded and folded).
pub async fn cohort(
    center: &Center,
    scope: &Scope,
    period: Period,
    with_fold: bool,
) -> Result<Vec<CaseFacts>> {
    let bounds = period.bounds(&center.county_time);
    let rows =
        crate::db::stats::cohort(&center.db, scope.seen(), scope.area.as_deref(), bounds).await?;
    let now = center.clock.now();
    let mut cases = Vec::with_capacity(rows.len());
    for row in rows {
        let fold = if with_fold {
            fold_facts(center, &row.id, now).await?
        } else {
            None
        };
        cases.push(CaseFacts { row, fold });
    }
    Ok(cases)
}

/// What a case's workflow log says, at `now`; `None` for a case that does not open.
async fn fold_facts(center: &Center, id: &str, now: Timestamp) -> Result<Option<FoldFacts>> {
    let Ok(id) = id.parse::<CaseId>() else {
        return Ok(None);
    };
    let doc = match crate::center::cases::load(center, id).await {
        Ok(Some(doc)) => doc,
        Ok(None) | Err(crate::Error::CaseUnavailable(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let events = doc.events();
    let wf = doc.state(&center.limits, now);
    Ok(Some(FoldFacts::of(&events, &wf, now)))
}

/// The three cohorts of `period` in `scope`.
pub async fn cohorts(center: &Center, scope: &Scope, period: Period) -> Result<Cohorts> {
    Ok(Cohorts {
        current: cohort(center, scope, period, true).await?,
        previous: cohort(center, scope, period.previous(), false).await?,
        last_year: cohort(center, scope, period.year_earlier(), false).await?,
        area_names: area_names(center).await?,
    })
}

/// Every center's name by its scope prefix and every village's by its area code.
async fn area_names(center: &Center) -> Result<BTreeMap<String, String>> {
    let mut names = BTreeMap::new();
    for org in center.db.orgs().await? {
        match (org.kind.as_str(), org.scope_prefix) {
            ("CENTER", Some(prefix)) => {
                names.insert(prefix, org.name);
            }
            ("VILLAGE", _) => {
                names.insert(org.area_code, org.name);
            }
            _ => {}
        }
    }
    Ok(names)
}

/// The statistics of `period` in `scope`, with the previous period's and last year's.
pub async fn compute(
    center: &Center,
    scope: &Scope,
    period: Period,
    group_by: Option<GroupBy>,
) -> Result<Report> {
    let cohorts = cohorts(center, scope, period).await?;
    Ok(report(
        period,
        scope,
        group_by,
        &cohorts,
        &center.county_time,
    ))
}

/// What an export holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// The statistics ([`stats_csv`]).
    Stats,
    /// The case list ([`cases_csv`]).
    Cases,
    /// The GB/T 31000-shaped dispute export ([`gbt31000_csv`]).
    Gbt31000,
    /// The monthly report as an Excel workbook ([`monthly::workbook`]).
    MonthlyXlsx,
}

impl Export {
    pub fn file_name(self) -> &'static str {
        match self {
            Export::Stats => "stats.csv",
            Export::Cases => "cases.csv",
            Export::Gbt31000 => "gbt31000.csv",
            Export::MonthlyXlsx => "monthly.xlsx",
        }
    }
}

/// An export for `by`, written to the audit log before it is handed out (which export,
/// the filter, the row count: no personal data). Rows are cases, or for the statistics
/// the groups and the total, or for the workbook the rows of all its sheets.
pub async fn export(
    center: &Center,
    by: &crate::caller::Caller,
    what: Export,
    scope: &Scope,
    period: Period,
    group_by: Option<GroupBy>,
) -> Result<Vec<u8>> {
    let zone = &center.county_time;
    let (body, rows) = match what {
        Export::Stats => {
            let report = compute(center, scope, period, group_by).await?;
            (stats_csv(&report).into_bytes(), report.groups.len() + 1)
        }
        Export::Cases => {
            let cases = cohort(center, scope, period, false).await?;
            (cases_csv(&cases, zone).into_bytes(), cases.len())
        }
        Export::Gbt31000 => {
            let cases = cohort(center, scope, period, false).await?;
            (
                gbt31000_csv(center, &cases).await?.into_bytes(),
                cases.len(),
            )
        }
        Export::MonthlyXlsx => {
            let cohorts = cohorts(center, scope, period).await?;
            let book = monthly::Monthly::of(period, scope, &cohorts, zone);
            let rows = book.rows();
            (book.workbook()?, rows)
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
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(received: i64) -> CaseFacts {
        CaseFacts::from(CaseRow {
            received_at: received,
            submitted_at: Some(received),
            category: "OTHER".into(),
            ..CaseRow::default()
        })
    }

    fn org(prefix: Option<&str>) -> Org {
        Org {
            id: "org".into(),
            parent_id: None,
            name: "org".into(),
            kind: "CENTER".into(),
            tier: gridsync_core::workflow::Tier::County,
            area_code: "330182000000".into(),
            scope_prefix: prefix.map(str::to_owned),
        }
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
        assert_eq!(p.bounds(&CountyTime::default()).0, 1_706_716_800_000);
        assert_eq!(
            p.bounds(&CountyTime::default()).1 - p.bounds(&CountyTime::default()).0,
            29 * Timestamp::DAY
        );
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
        let y = Change::of(&now, &last);
        assert_eq!(y.received_change, Some(0.5));
        assert_eq!(y.resolution_rate_change, Some(1.0));
        now.resolution_rate = None;
        assert_eq!(Change::of(&now, &last).resolution_rate_change, None);
        assert_eq!(Change::of(&now, &Figures::default()).received_change, None);
    }

    #[test]
    fn groups_by_area_one_level_down_and_months_meet_last_year() {
        let zone = CountyTime::default();
        let period = Period {
            from: parse_date("2026-01-01").unwrap(),
            to: parse_date("2026-12-31").unwrap(),
        };
        let jan = period.bounds(&zone).0;
        let last_jan = period.year_earlier().bounds(&zone).0;
        let mut a = case(jan);
        a.area_code = "330182101201".into();
        let mut b = case(jan + 40 * Timestamp::DAY);
        b.area_code = "330182102203".into();
        let mut c = case(last_jan);
        c.area_code = "330182101202".into();
        let county = Scope {
            org: org(Some("330182")),
            area: None,
        };
        let mut d = case(jan - Timestamp::DAY);
        d.area_code = "330182101203".into();
        let cohorts = Cohorts {
            current: vec![a, b],
            previous: vec![d],
            last_year: vec![c],
            area_names: [("330182101".to_owned(), "青溪镇".to_owned())].into(),
        };
        let r = report(period, &county, Some(GroupBy::Area), &cohorts, &zone);
        let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["330182101", "330182102"], "townships under a county");
        let labels: Vec<&str> = r.groups.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(
            labels,
            ["青溪镇", "330182102"],
            "by name where one is known"
        );
        assert_eq!(r.groups[0].last_year.received, 1);
        assert_eq!(r.groups[0].previous_period.received, 1);
        assert_eq!(r.total.current.received, 2);
        assert_eq!(r.total.period_on_period.received_change, Some(1.0));

        let r = report(period, &county, Some(GroupBy::Month), &cohorts, &zone);
        let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["2026-01", "2026-02"]);
        assert_eq!(
            r.groups[0].last_year.received, 1,
            "January 2025 meets January 2026"
        );
        assert_eq!(r.groups[0].previous_period.received, 1, "December 2025");
        assert_eq!(r.groups[1].previous_period.received, 1, "January 2026");
    }

    #[test]
    fn previous_periods_for_months_and_days() {
        let p = |a: &str, b: &str| Period {
            from: parse_date(a).unwrap(),
            to: parse_date(b).unwrap(),
        };
        assert_eq!(
            p("2026-03-01", "2026-03-31").previous(),
            p("2026-02-01", "2026-02-28")
        );
        assert_eq!(
            p("2026-01-01", "2026-03-31").previous(),
            p("2025-10-01", "2025-12-31")
        );
        assert_eq!(
            p("2026-03-10", "2026-03-19").previous(),
            p("2026-02-28", "2026-03-09")
        );
        assert_eq!(parse_month("2024-02"), Some(p("2024-02-01", "2024-02-29")));
        assert_eq!(parse_month("2024-2"), None);
        assert_eq!(
            add_months(parse_date("2026-01-31").unwrap(), -1),
            parse_date("2025-12-01").unwrap()
        );
    }
}
