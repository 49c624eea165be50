//! Shared fixtures for the workflow, convergence and document suites: a fixed clock origin,
//! the cast of authors, relative times written as `1d2h30m`, and a typical case.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use gridsync_core::case::{
    Category, Difficulty, IdDocType, NewCase, PartyInput, PartyRole, RiskFlag, RiskLevel, Sex,
    Source, Timestamp,
};
use gridsync_core::workflow::{Author, Role};

/// The clock origin of every script: 2026-03-01T00:00:00 in Beijing (2026-02-28T16:00Z).
pub(crate) const T0: Timestamp = Timestamp(1_772_294_400_000);

pub(crate) const SEC: i64 = 1_000;
pub(crate) const MIN: i64 = 60 * SEC;
pub(crate) const HOUR: i64 = 60 * MIN;
pub(crate) const DAY: i64 = 24 * HOUR;

/// The village of the scripts (统计用区划代码) and its grid.
pub(crate) const VILLAGE: &str = "330182101201";
pub(crate) const GRID: &str = "330182101201003";
pub(crate) const TOWNSHIP_CENTER: &str = "330182101000";
pub(crate) const COUNTY_CENTER: &str = "330182000000";
pub(crate) const TOWNSHIP_OFFICE: &str = "330182101-sfs";
pub(crate) const DEPT_LABOUR: &str = "dept-labour";
pub(crate) const DEPT_JUSTICE: &str = "dept-justice";

/// Everyone who takes a step in the scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    /// 网格员 of the village.
    Worker,
    /// 村调解员, the village mediation committee (also a dispatch target at village tier).
    Mediator,
    /// The township center's dispatcher.
    TownshipCenter,
    /// The township judicial office's handler (司法所).
    TownshipOffice,
    /// The county center's dispatcher.
    Center,
    /// The county labour inspection brigade's handler.
    Labour,
    /// The county justice bureau's handler.
    Justice,
    /// The county's supervising leader.
    Supervisor,
    /// The server's own actor (auto-dispatch, automatic supervision).
    System,
    /// A system administrator: may author no workflow step.
    Admin,
}

impl Who {
    pub(crate) fn author(self) -> Author {
        let (user, role, org) = match self {
            Who::Worker => ("u-wang", Role::GridWorker, VILLAGE),
            Who::Mediator => ("u-zhao", Role::VillageMediator, VILLAGE),
            Who::TownshipCenter => ("u-sun", Role::Dispatcher, TOWNSHIP_CENTER),
            Who::TownshipOffice => ("u-zhou", Role::DepartmentHandler, TOWNSHIP_OFFICE),
            Who::Center => ("u-li", Role::Dispatcher, COUNTY_CENTER),
            Who::Labour => ("u-chen", Role::DepartmentHandler, DEPT_LABOUR),
            Who::Justice => ("u-qian", Role::DepartmentHandler, DEPT_JUSTICE),
            Who::Supervisor => ("u-he", Role::Supervisor, COUNTY_CENTER),
            Who::System => ("system", Role::System, COUNTY_CENTER),
            Who::Admin => ("u-admin", Role::Admin, COUNTY_CENTER),
        };
        Author::new(user, role, org)
    }
}

/// Parses a time relative to [`T0`]: `0`, `2h`, `1d16h33m36s`, `500ms`.
pub(crate) fn offset(s: &str) -> i64 {
    let s = s.trim();
    if s == "0" {
        return 0;
    }
    let mut total = 0i64;
    let mut digits = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1
            }
            ('d', _) => DAY,
            ('h', _) => HOUR,
            ('m', _) => MIN,
            ('s', _) => SEC,
            _ => panic!("bad time {s:?}: unexpected {c:?}"),
        };
        let n: i64 = digits.parse().unwrap_or_else(|_| panic!("bad time {s:?}"));
        total += n * unit;
        digits.clear();
    }
    assert!(digits.is_empty(), "bad time {s:?}: a number without a unit");
    total
}

/// `T0` plus a relative time.
pub(crate) fn at(s: &str) -> Timestamp {
    T0.plus_millis(offset(s))
}

/// The inverse of [`offset`], relative to `T0`: `Timestamp` → `7d8h`.
pub(crate) fn rel(t: Timestamp) -> String {
    let mut ms = t.0 - T0.0;
    if ms == 0 {
        return "0".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
        ms = -ms;
    }
    for (unit, name) in [(DAY, "d"), (HOUR, "h"), (MIN, "m"), (SEC, "s"), (1, "ms")] {
        if ms >= unit {
            out.push_str(&format!("{}{name}", ms / unit));
            ms %= unit;
        }
    }
    out
}

/// A case with the given risk grading and nothing else unusual.
pub(crate) fn new_case(risk: RiskLevel, flags: &[RiskFlag], difficulty: Difficulty) -> NewCase {
    NewCase {
        area_code: VILLAGE.into(),
        grid_code: GRID.into(),
        source: Source::GridVisit,
        title: "张某拖欠务工人员工资".into(),
        summary: "申请人在被申请人承包的工地务工三个月，工资未结清。".into(),
        category: Category::LabourWages,
        occurred_at: Some(T0.plus_millis(-10 * DAY)),
        address: "某县某镇某村三组".into(),
        people_involved: 2,
        amount_involved: 1_850_000,
        risk_level: risk,
        risk_flags: flags.to_vec(),
        difficulty,
        parties: vec![
            party(PartyRole::Applicant, "李四"),
            party(PartyRole::Respondent, "张某"),
        ],
        ..NewCase::default()
    }
}

pub(crate) fn party(role: PartyRole, name: &str) -> PartyInput {
    PartyInput {
        role,
        name: name.into(),
        id_type: IdDocType::IdCard,
        id_number: "330182199003071234".into(),
        sex: Sex::Male,
        ethnicity: "汉族".into(),
        phone: "13812345678".into(),
        address: "某县某镇某村三组12号".into(),
        minor: false,
    }
}
