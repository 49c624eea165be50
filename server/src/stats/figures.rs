//! What is counted: per case ([`CaseFacts`]: the projection's row and what the fold of its
//! workflow log says, [`FoldFacts`]) and per set of cases ([`Figures`], [`Handling`]), with
//! the comparisons ([`Change`]). Definitions: `docs/statistics.md`. Pure: no I/O.

use gridsync_core::case::Timestamp;
use gridsync_core::workflow::{Action, Event, Status, Tier, WorkflowState};
use serde::Serialize;

use crate::db::stats::CaseRow;

const HOUR: i64 = Timestamp::HOUR;
/// First response is "within 24 hours" at exactly 24 h or less.
const FIRST_RESPONSE_PROMISE: i64 = 24 * HOUR;

/// One case of a cohort: its projection row, and (for the period itself) what its
/// workflow log says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFacts {
    pub row: CaseRow,
    /// `None`: not read (comparison periods), or the document does not open.
    pub fold: Option<FoldFacts>,
}

impl std::ops::Deref for CaseFacts {
    type Target = CaseRow;
    fn deref(&self) -> &CaseRow {
        &self.row
    }
}

impl std::ops::DerefMut for CaseFacts {
    fn deref_mut(&mut self) -> &mut CaseRow {
        &mut self.row
    }
}

impl From<CaseRow> for CaseFacts {
    fn from(row: CaseRow) -> Self {
        CaseFacts { row, fold: None }
    }
}

/// The steps whose durations are averaged, in workflow order: each from the first applied
/// event of its start kind to the first applied event of its end kind after it.
pub const STEPS: [Step; 6] = [
    Step::Accept,
    Step::Dispatch,
    Step::Sign,
    Step::Handle,
    Step::FollowUp,
    Step::Overall,
];

/// A step of the workflow whose duration is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// 受理: SUBMIT → ACCEPT.
    Accept,
    /// 分流: ACCEPT → DISPATCH.
    Dispatch,
    /// 签收: DISPATCH → SIGN_FOR.
    Sign,
    /// 办理: SIGN_FOR → RESOLVE.
    Handle,
    /// 回访: RESOLVE or RESOLVE_ON_SITE → FOLLOW_UP.
    FollowUp,
    /// 办结总用时: received (SUBMIT, else RESOLVE_ON_SITE) → RESOLVE or RESOLVE_ON_SITE.
    Overall,
}

impl Step {
    pub fn label_zh(self) -> &'static str {
        match self {
            Step::Accept => "受理(上报→受理)",
            Step::Dispatch => "分流(受理→分派)",
            Step::Sign => "签收(分派→签收)",
            Step::Handle => "办理(签收→办结)",
            Step::FollowUp => "回访(办结→回访)",
            Step::Overall => "办结总用时(接收→办结)",
        }
    }

    fn kinds(self) -> (&'static [&'static str], &'static [&'static str]) {
        const RESOLVES: &[&str] = &["RESOLVE", "RESOLVE_ON_SITE"];
        match self {
            Step::Accept => (&["SUBMIT"], &["ACCEPT"]),
            Step::Dispatch => (&["ACCEPT"], &["DISPATCH"]),
            Step::Sign => (&["DISPATCH"], &["SIGN_FOR"]),
            Step::Handle => (&["SIGN_FOR"], &["RESOLVE"]),
            Step::FollowUp => (RESOLVES, &["FOLLOW_UP"]),
            Step::Overall => (&["SUBMIT", "RESOLVE_ON_SITE"], RESOLVES),
        }
    }
}

/// What the fold of a case's workflow log says (at the report's `now`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoldFacts {
    /// 调处: handling started (an applied START_HANDLING) or resolved on the spot.
    pub mediated: bool,
    /// 联合调处: an applied DISPATCH named more than one organisation.
    pub joint: bool,
    /// The standing resolution's success (`None`: no outcome stands).
    pub success: Option<bool>,
    /// The standing resolution carries an agreement.
    pub agreement: bool,
    /// Its performance is due: a follow-up visit answered whether it was performed, or its
    /// last installment fell due by `now`.
    pub agreement_due: bool,
    /// Performed: the latest follow-up answer says so; without an answer, every installment
    /// is paid.
    pub agreement_performed: bool,
    /// Milliseconds each of [`STEPS`] took (`None`: not both ends taken).
    pub steps: [Option<i64>; 6],
}

impl FoldFacts {
    /// From the document's events (in document order) and their fold.
    pub fn of(events: &[Event], state: &WorkflowState, now: Timestamp) -> FoldFacts {
        let applied: Vec<(&str, Timestamp, Option<&Event>)> = state
            .timeline
            .iter()
            .enumerate()
            .filter(|(_, t)| t.superseded.is_none())
            .map(|(i, t)| (t.kind.as_str(), t.at, events.get(i)))
            .collect();
        let first = |kinds: &[&str], after: Option<Timestamp>| {
            applied
                .iter()
                .filter(|(k, at, _)| kinds.contains(k) && after.is_none_or(|a| *at >= a))
                .map(|(_, at, _)| *at)
                .next()
        };
        let mut steps = [None; 6];
        for (slot, step) in steps.iter_mut().zip(STEPS) {
            let (start, end) = step.kinds();
            if let Some(s) = first(start, None) {
                *slot = first(end, Some(s)).map(|e| e.0 - s.0);
            }
        }
        let mediated = state.status == Status::SelfResolved
            || applied
                .iter()
                .any(|(k, _, _)| matches!(*k, "START_HANDLING" | "RESOLVE_ON_SITE"));
        let joint = applied.iter().any(|(k, _, e)| {
            *k == "DISPATCH"
                && e.and_then(|e| e.action().ok())
                    .is_some_and(|a| matches!(a, Action::Dispatch { to, .. } if to.len() > 1))
        });
        let success = state.outcome.as_ref().map(|o| o.success);
        let agreement = state.agreement.as_ref().filter(|_| success.is_some());
        let answer = state
            .follow_ups
            .iter()
            .rev()
            .find_map(|f| f.agreement_performed);
        let (agreement_due, agreement_performed) = match agreement {
            None => (false, false),
            Some(a) => {
                let last_due = a.installments.iter().map(|i| i.due_at).max();
                let due = answer.is_some() || last_due.is_some_and(|d| d <= now);
                let all_paid = !a.installments.is_empty()
                    && a.installments.iter().all(|i| i.paid_at.is_some());
                (due, due && answer.unwrap_or(all_paid))
            }
        };
        FoldFacts {
            mediated,
            joint,
            success,
            agreement: agreement.is_some(),
            agreement_due,
            agreement_performed,
            steps,
        }
    }
}

/// `a / b`, `None` when `b` is 0.
pub(crate) fn rate(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The figures of a set of cases, from the projection.
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
    /// Share resolved at each tier: resolved at the tier / resolved.
    pub village_share: Option<f64>,
    pub township_share: Option<f64>,
    pub county_share: Option<f64>,
    /// Figures read from each case's workflow log: given for the period itself, `null` for
    /// the comparison periods.
    pub handling: Option<Handling>,
}

/// Figures read from each case's workflow log (the fold's events).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Handling {
    /// 调处数: handling started (START_HANDLING applied) or resolved on the spot.
    pub mediated: u64,
    /// 调处率 = mediated / received.
    pub mediation_rate: Option<f64>,
    /// Mediated cases whose standing resolution is a success.
    pub mediated_successfully: u64,
    /// 调处成功率 = mediated successfully / mediated (open mediations count against it).
    pub mediated_success_rate: Option<f64>,
    /// 联合调处数: cases dispatched to more than one organisation at once.
    pub joint: u64,
    /// Joint cases whose standing resolution is a success.
    pub joint_resolved_successfully: u64,
    /// 联合调处化解率 = joint resolved successfully / joint.
    pub joint_resolution_rate: Option<f64>,
    /// 协议数: standing resolutions with an agreement.
    pub agreements: u64,
    /// 应履行数: agreements whose performance is due.
    pub agreements_due: u64,
    /// 已履行数: due agreements performed.
    pub agreements_performed: u64,
    /// 协议履行率 = performed / due.
    pub agreement_performance_rate: Option<f64>,
    /// Average days per step.
    pub step_days: StepDays,
}

/// One step's average.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StepAverage {
    /// Cases that took the step (both ends).
    pub cases: u64,
    /// Average days (fractional), `null` with no case.
    pub avg_days: Option<f64>,
}

/// 环节平均用时: average days per step (see [`Step`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StepDays {
    /// 受理: submitted → accepted.
    pub accept: StepAverage,
    /// 分流: accepted → dispatched.
    pub dispatch: StepAverage,
    /// 签收: dispatched → signed for.
    pub sign: StepAverage,
    /// 办理: signed for → resolved.
    pub handle: StepAverage,
    /// 回访: resolved → followed up.
    pub follow_up: StepAverage,
    /// 办结总用时: received → resolved.
    pub overall: StepAverage,
}

impl StepDays {
    /// In [`STEPS`] order.
    pub fn all(&self) -> [(Step, &StepAverage); 6] {
        [
            (Step::Accept, &self.accept),
            (Step::Dispatch, &self.dispatch),
            (Step::Sign, &self.sign),
            (Step::Handle, &self.handle),
            (Step::FollowUp, &self.follow_up),
            (Step::Overall, &self.overall),
        ]
    }
}

impl Handling {
    fn of<'a>(facts: impl IntoIterator<Item = &'a FoldFacts>, received: u64) -> Handling {
        let mut h = Handling::default();
        let mut sums = [(0u64, 0i128); 6];
        for f in facts {
            if f.mediated {
                h.mediated += 1;
                if f.success == Some(true) {
                    h.mediated_successfully += 1;
                }
            }
            if f.joint {
                h.joint += 1;
                if f.success == Some(true) {
                    h.joint_resolved_successfully += 1;
                }
            }
            if f.agreement {
                h.agreements += 1;
            }
            if f.agreement_due {
                h.agreements_due += 1;
                if f.agreement_performed {
                    h.agreements_performed += 1;
                }
            }
            for (sum, ms) in sums.iter_mut().zip(f.steps) {
                if let Some(ms) = ms {
                    sum.0 += 1;
                    sum.1 += i128::from(ms);
                }
            }
        }
        h.mediation_rate = rate(h.mediated, received);
        h.mediated_success_rate = rate(h.mediated_successfully, h.mediated);
        h.joint_resolution_rate = rate(h.joint_resolved_successfully, h.joint);
        h.agreement_performance_rate = rate(h.agreements_performed, h.agreements_due);
        let avg = |(cases, ms): (u64, i128)| StepAverage {
            cases,
            avg_days: (cases > 0).then(|| ms as f64 / cases as f64 / Timestamp::DAY as f64),
        };
        h.step_days = StepDays {
            accept: avg(sums[0]),
            dispatch: avg(sums[1]),
            sign: avg(sums[2]),
            handle: avg(sums[3]),
            follow_up: avg(sums[4]),
            overall: avg(sums[5]),
        };
        h
    }
}

impl Figures {
    /// Counts and rates over `cases`; [`Figures::handling`] over the cases that carry their
    /// fold, when any does (or there is no case).
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseFacts>) -> Figures {
        let mut f = Figures::default();
        let (mut responded, mut response_ms, mut within) = (0u64, 0i128, 0u64);
        let mut folds = Vec::new();
        for c in cases {
            folds.extend(&c.fold);
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
        f.handling =
            (!folds.is_empty() || f.received == 0).then(|| Handling::of(folds, f.received));
        f
    }
}

/// A comparison (同比 or 环比): relative changes against a base period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Change {
    /// (received − base received) / base received.
    pub received_change: Option<f64>,
    /// (rate − base rate) / base rate.
    pub resolution_rate_change: Option<f64>,
    /// rate − base rate (percentage points as a fraction).
    pub resolution_rate_diff: Option<f64>,
}

/// `(now − base) / base`, `None` when the base is 0 or missing.
pub(crate) fn relative(now: Option<f64>, base: Option<f64>) -> Option<f64> {
    let (a, b) = now.zip(base)?;
    (b != 0.0).then(|| (a - b) / b)
}

impl Change {
    pub fn of(now: &Figures, base: &Figures) -> Change {
        Change {
            received_change: relative(Some(now.received as f64), Some(base.received as f64)),
            resolution_rate_change: relative(now.resolution_rate, base.resolution_rate),
            resolution_rate_diff: now
                .resolution_rate
                .zip(base.resolution_rate)
                .map(|(a, b)| a - b),
        }
    }
}

/// One group's (or the total's) figures with the previous period's and last year's.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupStats {
    pub key: String,
    pub label: String,
    pub current: Figures,
    /// 环比's base: the period just before (for a month group, the month before).
    pub previous_period: Figures,
    /// 环比 (month-on-month for monthly periods).
    pub period_on_period: Change,
    pub last_year: Figures,
    /// 同比.
    pub year_on_year: Change,
}

impl GroupStats {
    pub(crate) fn of(
        key: String,
        label: String,
        now: &[&CaseFacts],
        previous: &[&CaseFacts],
        last: &[&CaseFacts],
    ) -> GroupStats {
        let current = Figures::of(now.iter().copied());
        let previous_period = Figures::of(previous.iter().copied());
        let last_year = Figures::of(last.iter().copied());
        GroupStats {
            key,
            label,
            period_on_period: Change::of(&current, &previous_period),
            year_on_year: Change::of(&current, &last_year),
            current,
            previous_period,
            last_year,
        }
    }
}

/// The answer of `GET /v1/stats`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub from: String,
    pub to: String,
    /// 环比's base period.
    pub previous_from: String,
    pub previous_to: String,
    pub last_year_from: String,
    pub last_year_to: String,
    /// The county's time zone, whose calendar days the dates are.
    pub time_zone: String,
    pub area: Option<String>,
    pub group_by: Option<super::GroupBy>,
    pub total: GroupStats,
    pub groups: Vec<GroupStats>,
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
        assert!(f.handling.is_none(), "no fold read");
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
    fn fold_facts_by_hand() {
        use gridsync_core::case::{Agreement, Case, FollowUp, Installment};
        use gridsync_core::workflow::{Author, OrgRef, Role, TimeLimits, fold};
        let center = Author::new("u-c", Role::Dispatcher, "center");
        let a = Author::new("u-a", Role::DepartmentHandler, "org-a");
        let t = |h: i64| Timestamp(h * HOUR);
        let joint = Action::Dispatch {
            to: vec![OrgRef::new("org-a", "A"), OrgRef::new("org-b", "B")],
            assignee: None,
            tier: Tier::Township,
            note: String::new(),
            auto: false,
        };
        let agreement = Agreement {
            installments: vec![Installment {
                id: "i1".into(),
                due_at: t(100),
                amount: 100,
                paid_at: None,
            }],
            ..Agreement::default()
        };
        let steps = [
            (t(0), &center, Action::Submit {}),
            (t(2), &center, Action::accept("330182-20260101-000001")),
            (t(26), &center, joint),
            (t(50), &a, Action::SignFor {}),
            (t(50), &a, Action::StartHandling {}),
            (
                t(98),
                &a,
                Action::Resolve {
                    success: true,
                    outcome: "ok".into(),
                    agreement: Some(agreement),
                },
            ),
        ];
        let events: Vec<Event> = steps
            .iter()
            .enumerate()
            .map(|(i, (at, by, action))| Event::new(format!("e{i}"), by, *at, action))
            .collect();
        let case = Case::default();
        let state = fold(&case, &events, &TimeLimits::default(), t(99));
        let before_due = FoldFacts::of(&events, &state, t(99));
        assert!(before_due.mediated && before_due.joint && before_due.agreement);
        assert!(!before_due.agreement_due, "the installment is not yet due");
        let d = Timestamp::DAY;
        assert_eq!(
            before_due.steps,
            [
                Some(2 * HOUR),
                Some(d),
                Some(d),
                Some(2 * d),
                None,
                Some(98 * HOUR)
            ]
        );
        let after = FoldFacts::of(
            &events,
            &fold(&case, &events, &TimeLimits::default(), t(101)),
            t(101),
        );
        assert!(
            after.agreement_due && !after.agreement_performed,
            "due, unpaid"
        );
        // A follow-up visit's answer wins over the installments.
        let mut with_visit = events.clone();
        let visit = Action::FollowUp(FollowUp {
            satisfaction: 5,
            agreement_performed: Some(true),
            ..FollowUp::default()
        });
        with_visit.push(Event::new("e9", &center, t(99), &visit));
        let state = fold(&case, &with_visit, &TimeLimits::default(), t(99));
        let visited = FoldFacts::of(&with_visit, &state, t(99));
        assert!(visited.agreement_due && visited.agreement_performed);
        assert_eq!(visited.steps[4], Some(HOUR), "resolved → followed up");

        let h = Handling::of([&before_due, &visited, &FoldFacts::default()], 3);
        assert_eq!((h.mediated, h.mediated_successfully, h.joint), (2, 2, 2));
        assert_eq!(
            (h.agreements, h.agreements_due, h.agreements_performed),
            (2, 1, 1)
        );
        assert_eq!(h.agreement_performance_rate, Some(1.0));
        assert_eq!(h.mediation_rate, Some(2.0 / 3.0));
        assert_eq!(h.step_days.accept.cases, 2);
        assert_eq!(h.step_days.follow_up.avg_days, Some(1.0 / 24.0));
    }
}
