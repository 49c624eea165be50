//! The CSV exports (UTF-8 with a byte-order mark, RFC 4180, formulas defused): the
//! statistics, the case list and the GB/T 31000-2015-shaped dispute export, personal data
//! masked. Dates are the county's (its configured time zone).

use gridsync_core::case::{CaseId, Category, Timestamp, mask_address, mask_id_number};
use gridsync_core::workflow::Status;

use super::figures::{CaseFacts, Report};
use super::ymd;
use crate::county_time::CountyTime;
use crate::error::Result;
use crate::state::Center;

/// One CSV field (RFC 4180); a leading `= + - @` is defused with `'` so spreadsheets do not
/// run it as a formula.
pub(crate) fn field(s: &str) -> String {
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

fn date_of(t: Option<i64>, zone: &CountyTime) -> String {
    t.map(|t| ymd(zone.date(Timestamp(t)))).unwrap_or_default()
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
    ("previous_received", "上期受理数"),
    ("previous_resolution_rate", "上期化解率"),
    ("received_pop", "受理数环比"),
    ("resolution_rate_pop", "化解率环比"),
    ("mediated", "调处数"),
    ("mediation_rate", "调处率"),
    ("mediated_success_rate", "调处成功率"),
    ("joint", "联合调处数"),
    ("agreements_due", "应履行协议数"),
    ("agreements_performed", "已履行协议数"),
    ("agreement_performance_rate", "协议履行率"),
];

/// `GET /v1/stats.csv`: one row per group, then the total.
pub fn stats_csv(report: &Report) -> String {
    let mut csv = Csv::new();
    csv.header(STATS_COLUMNS);
    for g in report.groups.iter().chain([&report.total]) {
        let f = &g.current;
        let mut cells = vec![
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
            g.previous_period.received.to_string(),
            opt_rate(g.previous_period.resolution_rate),
            opt_rate(g.period_on_period.received_change),
            opt_rate(g.period_on_period.resolution_rate_change),
        ];
        let h = f.handling.clone().unwrap_or_default();
        cells.extend([
            h.mediated.to_string(),
            opt_rate(h.mediation_rate),
            opt_rate(h.mediated_success_rate),
            h.joint.to_string(),
            h.agreements_due.to_string(),
            h.agreements_performed.to_string(),
            opt_rate(h.agreement_performance_rate),
        ]);
        csv.row(cells);
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
pub fn cases_csv(cases: &[CaseFacts], zone: &CountyTime) -> String {
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
            date_of(c.submitted_at, zone),
            date_of(c.accepted_at, zone),
            date_of(c.resolved_at, zone),
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
pub(crate) fn scale_band(people: u32) -> &'static str {
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
    let orgs = crate::db::stats::org_names(&center.db).await?;
    let zone = &center.county_time;
    let compact = |t: Option<Timestamp>| {
        t.map(|t| {
            let d = zone.date(t);
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
