//! The monthly report (月报) as an Excel workbook (`GET /v1/stats/monthly.xlsx`): one sheet
//! per table, Chinese headers, rates as percentages. The same figures as `GET /v1/stats`
//! (definitions: `docs/statistics.md`), for one calendar month, with 环比 against the month
//! before and 同比 against the same month a year earlier.

use rust_xlsxwriter::{Format, Workbook};

use super::figures::{Figures, GroupStats, Report, relative};
use super::{Cohorts, GroupBy, Period, Scope, report, ymd};
use crate::county_time::CountyTime;
use crate::error::{Error, Result};

/// One cell of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Count(u64),
    /// A fraction shown as a percentage; empty when `None`.
    Rate(Option<f64>),
    /// Days (or another plain number); empty when `None`.
    Number(Option<f64>),
}

/// One sheet: a name, its header and rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Sheet {
    pub name: &'static str,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// The monthly report's tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Monthly {
    pub title: String,
    pub sheets: Vec<Sheet>,
}

/// A summary row: a figure with its value this period, the previous period's, last year's.
fn summary_row(
    name: &str,
    pick: impl Fn(&Figures) -> Option<f64>,
    g: &GroupStats,
    rate: bool,
) -> Vec<Cell> {
    let (now, before, last) = (
        pick(&g.current),
        pick(&g.previous_period),
        pick(&g.last_year),
    );
    let value = |v: Option<f64>| {
        if rate { Cell::Rate(v) } else { Cell::Number(v) }
    };
    vec![
        Cell::Text(name.to_owned()),
        value(now),
        value(before),
        Cell::Rate(relative(now, before)),
        value(last),
        Cell::Rate(relative(now, last)),
    ]
}

const GROUP_HEADER: [&str; 14] = [
    "受理数",
    "已受理数",
    "办结数",
    "化解数",
    "化解率",
    "调解成功率",
    "调处数",
    "调处成功率",
    "联合调处数",
    "协议履行率",
    "上月受理数",
    "受理数环比",
    "去年同期受理数",
    "受理数同比",
];

fn group_row(g: &GroupStats) -> Vec<Cell> {
    let f = &g.current;
    let h = f.handling.clone().unwrap_or_default();
    vec![
        Cell::Text(g.key.clone()),
        Cell::Text(g.label.clone()),
        Cell::Count(f.received),
        Cell::Count(f.accepted),
        Cell::Count(f.resolved),
        Cell::Count(f.resolved_successfully),
        Cell::Rate(f.resolution_rate),
        Cell::Rate(f.mediation_success_rate),
        Cell::Count(h.mediated),
        Cell::Rate(h.mediated_success_rate),
        Cell::Count(h.joint),
        Cell::Rate(h.agreement_performance_rate),
        Cell::Count(g.previous_period.received),
        Cell::Rate(g.period_on_period.received_change),
        Cell::Count(g.last_year.received),
        Cell::Rate(g.year_on_year.received_change),
    ]
}

fn group_sheet(name: &'static str, key: &'static str, label: &'static str, r: &Report) -> Sheet {
    let mut header = vec![key, label];
    header.extend(GROUP_HEADER);
    let rows = r.groups.iter().chain([&r.total]).map(group_row).collect();
    Sheet { name, header, rows }
}

impl Monthly {
    /// The tables of `period` (a calendar month) from its cohorts (pure).
    pub fn of(period: Period, scope: &Scope, cohorts: &Cohorts, zone: &CountyTime) -> Monthly {
        let total = report(period, scope, None, cohorts, zone);
        let by = |g| report(period, scope, Some(g), cohorts, zone);
        let g = &total.total;
        let f = &g.current;
        let h = f.handling.clone().unwrap_or_default();
        let count = |v: u64| Some(v as f64);
        let handling = |pick: fn(&super::Handling) -> Option<f64>| {
            move |f: &Figures| f.handling.as_ref().and_then(pick)
        };
        let summary = Sheet {
            name: "汇总",
            header: vec!["指标", "本期", "上期", "环比", "去年同期", "同比"],
            rows: vec![
                summary_row("受理数", |f| count(f.received), g, false),
                summary_row("已受理数", |f| count(f.accepted), g, false),
                summary_row("办结数", |f| count(f.resolved), g, false),
                summary_row("化解数", |f| count(f.resolved_successfully), g, false),
                summary_row("化解率", |f| f.resolution_rate, g, true),
                summary_row("调解成功率", |f| f.mediation_success_rate, g, true),
                summary_row("按期办结率", |f| f.on_time_closure_rate, g, true),
                summary_row("签收及时率", |f| f.on_time_sign_rate, g, true),
                summary_row("满意率", |f| f.satisfaction_rate, g, true),
                summary_row(
                    "平均首次响应时长(小时)",
                    |f| f.first_response_avg_hours,
                    g,
                    false,
                ),
                summary_row("调处数", handling(|h| Some(h.mediated as f64)), g, false),
                summary_row("调处率", handling(|h| h.mediation_rate), g, true),
                summary_row("调处成功率", handling(|h| h.mediated_success_rate), g, true),
                summary_row("联合调处数", handling(|h| Some(h.joint as f64)), g, false),
                summary_row(
                    "联合调处化解率",
                    handling(|h| h.joint_resolution_rate),
                    g,
                    true,
                ),
                summary_row(
                    "应履行协议数",
                    handling(|h| Some(h.agreements_due as f64)),
                    g,
                    false,
                ),
                summary_row(
                    "已履行协议数",
                    handling(|h| Some(h.agreements_performed as f64)),
                    g,
                    false,
                ),
                summary_row(
                    "协议履行率",
                    handling(|h| h.agreement_performance_rate),
                    g,
                    true,
                ),
            ],
        };
        let tiers = Sheet {
            name: "层级分布",
            header: vec!["层级", "办结数", "占比"],
            rows: [
                ("村(社区)级", f.resolved_village, f.village_share),
                ("乡镇(街道)级", f.resolved_township, f.township_share),
                ("县级", f.resolved_county, f.county_share),
            ]
            .into_iter()
            .map(|(tier, n, share)| {
                vec![Cell::Text(tier.into()), Cell::Count(n), Cell::Rate(share)]
            })
            .collect(),
        };
        let steps = Sheet {
            name: "环节用时",
            header: vec!["环节", "案件数", "平均天数"],
            rows: h
                .step_days
                .all()
                .into_iter()
                .map(|(step, avg)| {
                    vec![
                        Cell::Text(step.label_zh().into()),
                        Cell::Count(avg.cases),
                        Cell::Number(avg.avg_days),
                    ]
                })
                .collect(),
        };
        Monthly {
            title: format!("矛盾纠纷月报 {} 至 {}", ymd(period.from), ymd(period.to)),
            sheets: vec![
                summary,
                group_sheet("按类别", "类别代码", "类别", &by(GroupBy::Category)),
                group_sheet("按区域", "区划代码", "区域", &by(GroupBy::Area)),
                group_sheet("按来源", "来源代码", "来源", &by(GroupBy::Source)),
                tiers,
                steps,
            ],
        }
    }

    /// Data rows over all sheets (what the audit entry counts).
    pub fn rows(&self) -> usize {
        self.sheets.iter().map(|s| s.rows.len()).sum()
    }

    /// The `.xlsx` bytes: one worksheet per table, its header in bold on the first row.
    pub fn workbook(&self) -> Result<Vec<u8>> {
        let failed = |e: rust_xlsxwriter::XlsxError| Error::Export(format!("excel: {e}"));
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let percent = Format::new().set_num_format("0.00%");
        let decimal = Format::new().set_num_format("0.00");
        for sheet in &self.sheets {
            let ws = book.add_worksheet();
            ws.set_name(sheet.name).map_err(failed)?;
            for (col, title) in (0u16..).zip(&sheet.header) {
                ws.write_string_with_format(0, col, *title, &bold)
                    .map_err(failed)?;
                ws.set_column_width(col, if col == 0 { 24 } else { 14 })
                    .map_err(failed)?;
            }
            for (row, cells) in (1u32..).zip(&sheet.rows) {
                for (col, cell) in (0u16..).zip(cells) {
                    match cell {
                        Cell::Text(s) => ws.write_string(row, col, s.as_str()),
                        Cell::Count(n) => ws.write_number(row, col, *n as f64),
                        Cell::Rate(Some(v)) => ws.write_number_with_format(row, col, *v, &percent),
                        Cell::Number(Some(v)) => {
                            ws.write_number_with_format(row, col, *v, &decimal)
                        }
                        Cell::Rate(None) | Cell::Number(None) => continue,
                    }
                    .map_err(failed)?;
                }
            }
            ws.set_freeze_panes(1, 0).map_err(failed)?;
        }
        book.save_to_buffer().map_err(failed)
    }
}
