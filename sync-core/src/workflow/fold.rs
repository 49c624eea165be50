//! The fold: replay an event log through the state machine. Pure: the clock comes in as
//! `now`, so the same log and the same `now` give the same state on every replica.

use serde::{Deserialize, Serialize};

use super::{
    Action, Author, Event, EventKind, OrgRef, Role, Status, SupervisionLevel, Tier, TimeLimits,
    may_author,
};
use crate::case::{Agreement, Case, FollowUp, RiskLevel, Timestamp};

/// Why an event did not move the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SupersedeReason {
    /// A kind this version does not know (written by a newer app).
    UnknownKind,
    /// The payload does not parse or lacks required data.
    MalformedPayload { detail: String },
    /// The author's role may not author this kind.
    NotPermitted { role: String },
    /// The event is not valid in the state where it landed in the merged order.
    InvalidTransition { from: Status },
    /// Resolving on the spot is only for green/yellow cases without danger flags.
    RiskTooHigh,
    /// Signed, sent back or handled by an organisation the case is not dispatched to.
    NotAssigned,
    /// An extension decision with no pending request.
    NothingPending,
    /// Escalation must go to a higher tier, and a dispatch after an escalation may not go
    /// below the tier escalated to.
    NotHigherTier { current: Tier },
}

/// One row of the case's timeline: every event, applied or superseded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub event_id: String,
    pub kind: String,
    pub by_user: String,
    pub by_role: String,
    pub org: String,
    pub at: Timestamp,
    /// Status after this entry (unchanged when superseded).
    pub status_after: Status,
    pub superseded: Option<SupersedeReason>,
}

/// What a running clock is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeadlineKind {
    /// 受理时限: submitted, not yet accepted.
    Accept,
    /// 签收时限: dispatched, not yet signed for (未签收预警).
    Sign,
    /// 办理时限: signed for, not yet resolved (超期预警).
    Handle,
    /// 回访时限: resolved, not yet followed up.
    FollowUp,
    /// An agreement installment not yet paid.
    Installment,
    /// 协办时限: a co-handling organisation of a joint dispatch has not given its feedback
    /// (the deadline's `item` names the organisation).
    CoHandle,
}

/// How far along a limit is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WarningLevel {
    #[default]
    None,
    /// At or past `yellow_percent` of the limit.
    Yellow,
    /// At or past the limit.
    Red,
}

/// A running clock with its level at `now`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    pub started_at: Timestamp,
    pub due_at: Timestamp,
    pub level: WarningLevel,
    /// For installments: which one.
    pub item: Option<String>,
}

impl Deadline {
    fn new(
        kind: DeadlineKind,
        started_at: Timestamp,
        due_at: Timestamp,
        limits: &TimeLimits,
        now: Timestamp,
    ) -> Self {
        let level = warning_level(started_at, due_at, limits.yellow_percent, now);
        Deadline {
            kind,
            started_at,
            due_at,
            level,
            item: None,
        }
    }
}

/// Yellow at `yellow_percent` of the span, red at 100 %. Integer arithmetic: 69 % is not 70 %.
pub fn warning_level(
    started_at: Timestamp,
    due_at: Timestamp,
    yellow_percent: u8,
    now: Timestamp,
) -> WarningLevel {
    if now >= due_at {
        return WarningLevel::Red;
    }
    let span = i128::from(due_at.0) - i128::from(started_at.0);
    let elapsed = i128::from(now.0) - i128::from(started_at.0);
    if span > 0 && elapsed * 100 >= span * i128::from(yellow_percent) {
        WarningLevel::Yellow
    } else {
        WarningLevel::None
    }
}

/// The outcome recorded by a resolve (or resolve-on-the-spot) step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub success: bool,
    pub text: String,
    pub at: Timestamp,
    pub by_org: String,
    /// Resolved within the handling limit (按期办结).
    pub on_time: bool,
}

/// A co-handling organisation's feedback (协办意见) on a joint case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoFeedback {
    /// The co-handling organisation, with the name the dispatch gave it.
    pub org: OrgRef,
    pub opinion: String,
    pub by_user: String,
    pub at: Timestamp,
    pub event_id: String,
}

/// Everything the workflow derives from a case's log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowState {
    pub status: Status,
    pub case_no: Option<String>,
    pub tier: Tier,
    /// Organisations the case is dispatched to, lead first.
    pub assigned_orgs: Vec<OrgRef>,
    pub assignee: Option<String>,
    /// The organisation that signed for the case and handles it.
    pub handling_org: Option<String>,
    pub supervision: SupervisionLevel,
    /// Running clocks, with their levels at `now`.
    pub deadlines: Vec<Deadline>,
    pub submitted_at: Option<Timestamp>,
    pub accepted_at: Option<Timestamp>,
    pub dispatched_at: Option<Timestamp>,
    pub signed_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub followed_up_at: Option<Timestamp>,
    /// Days of approved extension on the handling limit.
    pub extension_days: u32,
    pub pending_extension: Option<u32>,
    pub send_backs: u32,
    pub reopened: u32,
    pub outcome: Option<Outcome>,
    pub follow_ups: Vec<FollowUp>,
    pub high_risk: bool,
    pub timeline: Vec<TimelineEntry>,
    /// The agreement of the resolve that stands, with payments filled in from the case.
    pub agreement: Option<Agreement>,
    /// The highest tier the case was escalated to: dispatches may not go below it.
    pub escalated_to: Option<Tier>,
    /// Feedback of the co-handling organisations since the last dispatch, in log order.
    #[serde(default)]
    pub co_feedback: Vec<CoFeedback>,
    /// Where the handling clock started (sign-for, or the last reopen).
    handle_started_at: Option<Timestamp>,
}

impl WorkflowState {
    /// Deadlines at yellow or red: the case's warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Deadline> {
        self.deadlines
            .iter()
            .filter(|d| d.level != WarningLevel::None)
    }

    /// The worst warning level of the case.
    pub fn warning_level(&self) -> WarningLevel {
        self.deadlines
            .iter()
            .map(|d| d.level)
            .max()
            .unwrap_or_default()
    }

    /// The nearest running deadline.
    pub fn next_deadline(&self) -> Option<&Deadline> {
        self.deadlines.iter().min_by_key(|d| d.due_at)
    }

    /// The lead organisation (牵头单位): the one that signed for the case, or before
    /// anyone signs, the one the dispatch named first.
    pub fn lead(&self) -> Option<&OrgRef> {
        match &self.handling_org {
            Some(h) => self.assigned_orgs.iter().find(|o| o.id == *h),
            None => self.assigned_orgs.first(),
        }
    }

    /// The co-handling organisations (协办单位) of a joint dispatch: every organisation
    /// the case is dispatched to except the lead. Empty for a case dispatched to one.
    pub fn co_handlers(&self) -> impl Iterator<Item = &OrgRef> {
        let lead = self.lead().map(|o| o.id.clone());
        self.assigned_orgs
            .iter()
            .filter(move |o| Some(&o.id) != lead.as_ref())
    }

    /// Whether `org` co-handles the case and has given its feedback since the dispatch.
    pub fn has_fed_back(&self, org: &str) -> bool {
        self.co_feedback.iter().any(|f| f.org.id == org)
    }

    /// Events that were kept but did not move the state.
    pub fn superseded(&self) -> impl Iterator<Item = &TimelineEntry> {
        self.timeline.iter().filter(|t| t.superseded.is_some())
    }

    /// Checks whether `author` may take `action` now, without changing anything. The same
    /// rules as the fold, so the phone refuses exactly what the fold would supersede.
    pub fn check(&self, case: &Case, author: &Author, action: &Action) -> Result<(), crate::Error> {
        let kind = action.kind();
        if !may_author(author.role, kind) {
            return Err(crate::Error::NotPermitted {
                role: author.role,
                kind,
            });
        }
        action
            .validate()
            .map_err(|reason| crate::Error::InvalidTransition {
                kind,
                status: self.status,
                reason,
            })?;
        let mut probe = self.clone();
        probe
            .apply(case, author, Timestamp(0), action, &TimeLimits::default())
            .map_err(|reason| crate::Error::InvalidTransition {
                kind,
                status: self.status,
                reason: describe(&reason),
            })
    }

    /// The kinds `author` may take now: those [`WorkflowState::check`] accepts with some
    /// payload. Each kind is probed with the most permissive payload it has (the highest
    /// tier, the strongest supervision), so a kind listed here may still refuse a particular
    /// payload (an extension of too many days, a tier below an escalation), never the other
    /// way round. Clients show their buttons from it instead of a copy of the rules.
    pub fn allowed(&self, case: &Case, author: &Author) -> Vec<EventKind> {
        EventKind::ALL
            .iter()
            .copied()
            .filter(|kind| {
                Action::probe(*kind).is_some_and(|probe| self.check(case, author, &probe).is_ok())
            })
            .collect()
    }

    /// One step of the state machine. On `Err` nothing has changed.
    fn apply(
        &mut self,
        case: &Case,
        author: &Author,
        at: Timestamp,
        action: &Action,
        limits: &TimeLimits,
    ) -> Result<(), SupersedeReason> {
        use Status as S;
        let from = self.status;
        let invalid = || Err(SupersedeReason::InvalidTransition { from });
        match action {
            Action::Submit {} => {
                if !matches!(from, S::Draft | S::Returned) {
                    return invalid();
                }
                self.status = S::Submitted;
                self.submitted_at = Some(at);
            }
            Action::ResolveOnSite { outcome, agreement } => {
                if !matches!(from, S::Draft | S::Submitted) {
                    return invalid();
                }
                if case.is_high_risk() || matches!(case.risk_level, RiskLevel::Orange) {
                    return Err(SupersedeReason::RiskTooHigh);
                }
                self.status = S::SelfResolved;
                self.resolved_at = Some(at);
                self.agreement = agreement.clone();
                self.outcome = Some(Outcome {
                    success: true,
                    text: outcome.clone(),
                    at,
                    by_org: author.org.clone(),
                    on_time: true,
                });
            }
            Action::Accept { case_no, tier } => {
                if from != S::Submitted {
                    return invalid();
                }
                self.status = S::Accepted;
                self.accepted_at = Some(at);
                self.case_no = Some(case_no.clone());
                self.tier = *tier;
            }
            Action::Return { .. } | Action::Void { .. } => {
                if from != S::Submitted {
                    return invalid();
                }
                self.status = if action.kind() == EventKind::Return {
                    S::Returned
                } else {
                    S::Void
                };
            }
            Action::Dispatch {
                to, assignee, tier, ..
            } => {
                if !matches!(from, S::Accepted | S::Escalated) {
                    return invalid();
                }
                // After an escalation the case stays at (at least) the tier escalated to, even
                // when a department sends it back: a lower tier would undo the escalation.
                if let Some(floor) = self.escalated_to.filter(|floor| tier < floor) {
                    return Err(SupersedeReason::NotHigherTier { current: floor });
                }
                self.status = S::Dispatched;
                self.dispatched_at = Some(at);
                self.assigned_orgs = to.clone();
                self.assignee = assignee.clone();
                self.tier = *tier;
                self.handling_org = None;
                // A new dispatch forms a new joint group: earlier feedback stays in the
                // timeline only.
                self.co_feedback.clear();
            }
            Action::SignFor {} | Action::SendBack { .. } => {
                if from != S::Dispatched {
                    return invalid();
                }
                if !self.assigned_orgs.iter().any(|o| o.id == author.org) {
                    return Err(SupersedeReason::NotAssigned);
                }
                if action.kind() == EventKind::SignFor {
                    self.status = S::Signed;
                    self.signed_at = Some(at);
                    self.handle_started_at = Some(at);
                    self.handling_org = Some(author.org.clone());
                    if self.assignee.is_none() {
                        self.assignee = Some(author.user.clone());
                    }
                } else {
                    self.status = S::Accepted;
                    self.send_backs += 1;
                    self.assigned_orgs.clear();
                    self.assignee = None;
                }
            }
            Action::StartHandling {} => {
                if from != S::Signed {
                    return invalid();
                }
                self.require_handler(author)?;
                self.status = S::InProgress;
            }
            Action::ExtensionRequest { days, .. } => {
                if from != S::InProgress {
                    return invalid();
                }
                self.require_handler(author)?;
                self.pending_extension = Some(*days);
            }
            Action::ExtensionDecision { approved, days, .. } => {
                if from != S::InProgress {
                    return invalid();
                }
                let Some(requested) = self.pending_extension else {
                    return Err(SupersedeReason::NothingPending);
                };
                if *approved {
                    let granted = if *days == 0 { requested } else { *days };
                    self.extension_days = self.extension_days.saturating_add(granted);
                }
                self.pending_extension = None;
            }
            Action::Escalate { to_tier, .. } => {
                if from != S::InProgress {
                    return invalid();
                }
                if *to_tier <= self.tier {
                    return Err(SupersedeReason::NotHigherTier { current: self.tier });
                }
                if author.role != Role::Dispatcher {
                    self.require_handler(author)?;
                }
                self.status = S::Escalated;
                self.tier = *to_tier;
                self.escalated_to = Some(*to_tier);
                self.assigned_orgs.clear();
                self.handling_org = None;
                self.assignee = None;
                self.pending_extension = None;
            }
            Action::Resolve {
                success,
                outcome,
                agreement,
            } => {
                if from != S::InProgress {
                    return invalid();
                }
                self.require_handler(author)?;
                let on_time = self
                    .handle_started_at
                    .map(|s| at <= s.plus_millis(self.handle_limit(case, limits)))
                    .unwrap_or(true);
                self.status = S::Resolved;
                self.resolved_at = Some(at);
                // A new resolution replaces the agreement of an earlier (reopened) one.
                self.agreement = agreement.clone();
                // Nothing is left to extend: an undecided request lapses.
                self.pending_extension = None;
                self.outcome = Some(Outcome {
                    success: *success,
                    text: outcome.clone(),
                    at,
                    by_org: author.org.clone(),
                    on_time,
                });
            }
            Action::FollowUp(f) => {
                // Repeat visits (at installment dates) are valid once followed up.
                if !matches!(from, S::Resolved | S::SelfResolved | S::FollowedUp) {
                    return invalid();
                }
                self.status = S::FollowedUp;
                self.followed_up_at = Some(at);
                self.follow_ups.push(f.clone());
            }
            Action::Reopen { .. } => {
                if from != S::FollowedUp {
                    return invalid();
                }
                self.status = S::InProgress;
                self.reopened += 1;
                self.handle_started_at = Some(at);
                self.extension_days = 0;
                self.resolved_at = None;
                // The case is unresolved again; the next resolve records the new outcome.
                self.outcome = None;
            }
            Action::Archive {} => {
                if from != S::FollowedUp {
                    return invalid();
                }
                self.status = S::Archived;
            }
            Action::Supervise { level, .. } => {
                // Open cases, and resolved ones whose agreement still owes an installment
                // (an overdue installment is supervised like any other deadline).
                if !from.is_open() && !self.owes_installment(case, at) {
                    return invalid();
                }
                self.supervision = self.supervision.max(*level);
            }
            Action::CoHandlingFeedback { opinion } => {
                if !matches!(from, S::Dispatched | S::Signed | S::InProgress) {
                    return invalid();
                }
                let Some(org) = self.co_handlers().find(|o| o.id == author.org).cloned() else {
                    return Err(SupersedeReason::NotAssigned);
                };
                self.co_feedback.push(CoFeedback {
                    org,
                    opinion: opinion.clone(),
                    by_user: author.user.clone(),
                    at,
                    event_id: String::new(),
                });
            }
        }
        Ok(())
    }

    /// Resolved (or followed up) with an agreement installment not paid by `at`: while the
    /// log is folded a payment counts from when it was paid, so every replica folds alike.
    fn owes_installment(&self, case: &Case, at: Timestamp) -> bool {
        matches!(
            self.status,
            Status::Resolved | Status::SelfResolved | Status::FollowedUp
        ) && self
            .agreement
            .iter()
            .flat_map(|a| &a.installments)
            .any(|i| match i.paid_at {
                // Filled in once the log is folded: [`WorkflowState::check`] asks "now".
                Some(_) => false,
                None => case.payments.get(&i.id).is_none_or(|paid| *paid > at),
            })
    }

    /// Handling steps come from the organisation that signed for the case.
    fn require_handler(&self, author: &Author) -> Result<(), SupersedeReason> {
        match &self.handling_org {
            Some(org) if *org == author.org => Ok(()),
            _ => Err(SupersedeReason::NotAssigned),
        }
    }

    fn handle_limit(&self, case: &Case, limits: &TimeLimits) -> i64 {
        limits
            .handle(case.difficulty)
            .saturating_add(i64::from(self.extension_days) * Timestamp::DAY)
    }

    fn compute_deadlines(&mut self, case: &Case, limits: &TimeLimits, now: Timestamp) {
        use Status as S;
        let mut deadlines = Vec::new();
        match self.status {
            S::Submitted => {
                if let Some(start) = self.submitted_at {
                    let limit = if self.high_risk {
                        limits.accept_high_risk
                    } else {
                        limits.accept
                    };
                    deadlines.push(Deadline::new(
                        DeadlineKind::Accept,
                        start,
                        start.plus_millis(limit),
                        limits,
                        now,
                    ));
                }
            }
            S::Dispatched => {
                if let Some(start) = self.dispatched_at {
                    deadlines.push(Deadline::new(
                        DeadlineKind::Sign,
                        start,
                        start.plus_millis(limits.sign),
                        limits,
                        now,
                    ));
                }
            }
            S::Signed | S::InProgress => {
                if let Some(start) = self.handle_started_at {
                    deadlines.push(Deadline::new(
                        DeadlineKind::Handle,
                        start,
                        start.plus_millis(self.handle_limit(case, limits)),
                        limits,
                        now,
                    ));
                }
            }
            S::Resolved | S::SelfResolved => {
                if let Some(start) = self.resolved_at {
                    deadlines.push(Deadline::new(
                        DeadlineKind::FollowUp,
                        start,
                        start.plus_millis(limits.follow_up),
                        limits,
                        now,
                    ));
                }
            }
            _ => {}
        }
        if matches!(self.status, S::Dispatched | S::Signed | S::InProgress)
            && let Some(start) = self.dispatched_at
        {
            let waiting: Vec<String> = self
                .co_handlers()
                .filter(|o| !self.has_fed_back(&o.id))
                .map(|o| o.id.clone())
                .collect();
            for org in waiting {
                let mut d = Deadline::new(
                    DeadlineKind::CoHandle,
                    start,
                    start.plus_millis(limits.co_handle),
                    limits,
                    now,
                );
                d.item = Some(org);
                deadlines.push(d);
            }
        }
        if matches!(self.status, S::Resolved | S::SelfResolved | S::FollowedUp) {
            let installments = self.agreement.iter().flat_map(|a| &a.installments);
            for i in installments.filter(|i| i.paid_at.is_none()) {
                // The reminder opens one follow-up window before the due date.
                let mut d = Deadline::new(
                    DeadlineKind::Installment,
                    i.due_at.plus_millis(-limits.follow_up),
                    i.due_at,
                    limits,
                    now,
                );
                d.item = Some(i.id.clone());
                deadlines.push(d);
            }
        }
        self.deadlines = deadlines;
    }
}

fn describe(reason: &SupersedeReason) -> String {
    match reason {
        SupersedeReason::UnknownKind => "unknown event kind".into(),
        SupersedeReason::MalformedPayload { detail } => format!("malformed payload: {detail}"),
        SupersedeReason::NotPermitted { role } => format!("role {role} may not author it"),
        SupersedeReason::InvalidTransition { from } => format!("not allowed from {from}"),
        SupersedeReason::RiskTooHigh => {
            "only green or yellow cases without danger flags can be resolved on the spot".into()
        }
        SupersedeReason::NotAssigned => "the case is not assigned to this organisation".into(),
        SupersedeReason::NothingPending => "no extension request is pending".into(),
        SupersedeReason::NotHigherTier { current } => {
            format!("escalation must go above the current tier {current}")
        }
    }
}

/// Replays `events` (document order) over `case` and derives the workflow state at `now`.
pub fn fold(case: &Case, events: &[Event], limits: &TimeLimits, now: Timestamp) -> WorkflowState {
    // The limits the center set for the case win over the caller's defaults.
    let limits = case.time_limits.as_ref().unwrap_or(limits);
    let mut state = WorkflowState {
        high_risk: case.is_high_risk(),
        timeline: Vec::with_capacity(events.len()),
        ..WorkflowState::default()
    };
    for event in events {
        let result = parse_checked(event)
            .and_then(|(author, action)| state.apply(case, &author, event.at, &action, limits));
        if result.is_ok()
            && event.kind() == Some(EventKind::CoHandlingFeedback)
            && let Some(f) = state.co_feedback.last_mut()
        {
            f.event_id = event.id.clone();
        }
        state.timeline.push(TimelineEntry {
            event_id: event.id.clone(),
            kind: event.kind.clone(),
            by_user: event.by_user.clone(),
            by_role: event.by_role.clone(),
            org: event.org.clone(),
            at: event.at,
            status_after: state.status,
            superseded: result.err(),
        });
    }
    for installment in state
        .agreement
        .iter_mut()
        .flat_map(|a| a.installments.iter_mut())
    {
        installment.paid_at = case
            .payments
            .get(&installment.id)
            .copied()
            .or(installment.paid_at);
    }
    state.compute_deadlines(case, limits, now);
    state
}

fn parse_checked(event: &Event) -> Result<(Author, Action), SupersedeReason> {
    let kind = event.kind().ok_or(SupersedeReason::UnknownKind)?;
    let role = Role::from_code(&event.by_role).ok_or_else(|| SupersedeReason::NotPermitted {
        role: event.by_role.clone(),
    })?;
    if !may_author(role, kind) {
        return Err(SupersedeReason::NotPermitted {
            role: event.by_role.clone(),
        });
    }
    let action = event
        .action()
        .map_err(|detail| SupersedeReason::MalformedPayload { detail })?;
    action
        .validate()
        .map_err(|detail| SupersedeReason::MalformedPayload { detail })?;
    let author = Author {
        user: event.by_user.clone(),
        role,
        org: event.org.clone(),
    };
    Ok((author, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_thresholds_are_exact() {
        let start = Timestamp(0);
        let due = Timestamp(1000);
        assert_eq!(
            warning_level(start, due, 70, Timestamp(699)),
            WarningLevel::None
        );
        assert_eq!(
            warning_level(start, due, 70, Timestamp(700)),
            WarningLevel::Yellow
        );
        assert_eq!(
            warning_level(start, due, 70, Timestamp(999)),
            WarningLevel::Yellow
        );
        assert_eq!(
            warning_level(start, due, 70, Timestamp(1000)),
            WarningLevel::Red
        );
    }

    use crate::case::{Agreement, Installment};
    use crate::workflow::{Action, Author, Event, OrgRef, Role, Status, Tier};

    fn log_of(steps: &[(&Author, Action)]) -> Vec<Event> {
        steps
            .iter()
            .enumerate()
            .map(|(i, (a, act))| Event::new(format!("e{i}"), a, Timestamp(i as i64 * 1000), act))
            .collect()
    }

    #[test]
    fn a_superseded_resolve_brings_no_agreement_and_an_escalation_holds_after_send_back() {
        let worker = Author::new("w", Role::GridWorker, "v1");
        let center = Author::new("c", Role::Dispatcher, "county");
        let town = Author::new("t", Role::DepartmentHandler, "town-judicial");
        let stranger = Author::new("s", Role::DepartmentHandler, "elsewhere");
        let village = Author::new("m", Role::VillageMediator, "v1-mediation");
        let agreement = Agreement {
            installments: vec![Installment {
                id: "i1".into(),
                due_at: Timestamp(9_000_000),
                amount: 100,
                paid_at: None,
            }],
            ..Agreement::default()
        };
        let resolve = |a: Option<Agreement>| Action::Resolve {
            success: true,
            outcome: "调解成功".into(),
            agreement: a,
        };
        let mut steps = vec![
            (&worker, Action::Submit {}),
            (
                &center,
                Action::Accept {
                    case_no: "330182-20261128-000001".into(),
                    tier: Tier::County,
                },
            ),
            (
                &center,
                Action::dispatch_to(OrgRef::new("v1-mediation", "村调委会"), Tier::Village),
            ),
            (&village, Action::SignFor {}),
            (&village, Action::StartHandling {}),
            (&stranger, resolve(Some(agreement.clone()))),
        ];
        let state = fold(
            &Case::default(),
            &log_of(&steps),
            &TimeLimits::default(),
            Timestamp(10_000),
        );
        assert_eq!(state.status, Status::InProgress);
        assert_eq!(
            state.agreement, None,
            "the superseded resolve's agreement does not stand"
        );
        assert!(
            state
                .deadlines
                .iter()
                .all(|d| d.kind != DeadlineKind::Installment)
        );

        steps.pop();
        steps.push((
            &village,
            Action::Escalate {
                to_tier: Tier::Township,
                reason: "涉及多村".into(),
            },
        ));
        steps.push((
            &center,
            Action::dispatch_to(OrgRef::new("town-judicial", "司法所"), Tier::Township),
        ));
        steps.push((
            &town,
            Action::SendBack {
                reason: "应由县级处理".into(),
            },
        ));
        steps.push((
            &center,
            Action::dispatch_to(OrgRef::new("v1-mediation", "村调委会"), Tier::Village),
        ));
        let state = fold(
            &Case::default(),
            &log_of(&steps),
            &TimeLimits::default(),
            Timestamp(20_000),
        );
        assert_eq!(state.status, Status::Accepted);
        assert_eq!(
            state.timeline.last().unwrap().superseded,
            Some(SupersedeReason::NotHigherTier {
                current: Tier::Township
            })
        );
    }
}
