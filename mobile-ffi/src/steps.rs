//! The workflow steps a phone takes, one typed call each, and which of them the signed-in
//! user may take now (`allowed_actions`), offline.
//!
//! Every call is the core's `FieldStore::act` with the core's `Action`: the same fold and
//! permission table decide here and at the center, so a step the phone takes is a step
//! the center's judge accepts (it may still lose to a concurrent step from elsewhere, and
//! then shows as superseded in the timeline). The center's own steps (accept, dispatch,
//! return, void, reopen, archive) are refused with `not_permitted`.

use gridsync_core::case as core;
use gridsync_core::workflow::{self as wf, Action};

use crate::FieldError;
use crate::client::{FieldClient, case_id_of};
use crate::codes::parse;
use crate::observe::ChangeReason;
use crate::workflow::{FollowUpInput, Tier};

/// A workflow step's kind (the event kinds of the log). Kotlin/Python names are the wire
/// codes (`EventKind.SIGN_FOR` is `"SIGN_FOR"`); labels come from `code_label`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    Submit,
    ResolveOnSite,
    Accept,
    Return,
    Void,
    Dispatch,
    SignFor,
    SendBack,
    StartHandling,
    ExtensionRequest,
    ExtensionDecision,
    Escalate,
    Resolve,
    FollowUp,
    Reopen,
    Archive,
    Supervise,
    CoHandlingFeedback,
}

impl From<wf::EventKind> for EventKind {
    fn from(k: wf::EventKind) -> Self {
        use wf::EventKind as K;
        match k {
            K::Submit => EventKind::Submit,
            K::ResolveOnSite => EventKind::ResolveOnSite,
            K::Accept => EventKind::Accept,
            K::Return => EventKind::Return,
            K::Void => EventKind::Void,
            K::Dispatch => EventKind::Dispatch,
            K::SignFor => EventKind::SignFor,
            K::SendBack => EventKind::SendBack,
            K::StartHandling => EventKind::StartHandling,
            K::ExtensionRequest => EventKind::ExtensionRequest,
            K::ExtensionDecision => EventKind::ExtensionDecision,
            K::Escalate => EventKind::Escalate,
            K::Resolve => EventKind::Resolve,
            K::FollowUp => EventKind::FollowUp,
            K::Reopen => EventKind::Reopen,
            K::Archive => EventKind::Archive,
            K::Supervise => EventKind::Supervise,
            K::CoHandlingFeedback => EventKind::CoHandlingFeedback,
        }
    }
}

/// One installment of an agreement to record (分期履行).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InstallmentInput {
    /// When it falls due (ms since the epoch).
    pub due_at: i64,
    /// Fen (1/100 CNY), not negative.
    pub amount: i64,
}

/// A mediation agreement to record with a resolution (人民调解法 Art 28).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AgreementInput {
    /// `WRITTEN` or `ORAL`.
    #[uniffi(default = "WRITTEN")]
    pub form: String,
    /// What the parties agreed (at most 4000 characters: `field_rules()`).
    pub terms: String,
    /// When it was signed (ms since the epoch), if it was.
    #[uniffi(default = None)]
    pub signed_at: Option<i64>,
    /// Payments by date; each gets an id (for `mark_installment_paid`) when recorded.
    #[uniffi(default = [])]
    pub installments: Vec<InstallmentInput>,
}

/// 办结: how a case was resolved.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ResolveInput {
    /// Mediated successfully (调解成功) or not (调解不成, with the outcome saying where the
    /// parties were referred).
    #[uniffi(default = true)]
    pub success: bool,
    /// What was done and decided (required).
    pub outcome: String,
    #[uniffi(default = None)]
    pub agreement: Option<AgreementInput>,
}

impl TryFrom<AgreementInput> for core::Agreement {
    type Error = FieldError;
    fn try_from(a: AgreementInput) -> Result<Self, FieldError> {
        Ok(core::Agreement {
            form: parse(&a.form)?,
            terms: a.terms,
            signed_at: a.signed_at.map(core::Timestamp),
            installments: a
                .installments
                .into_iter()
                .map(|i| core::Installment {
                    due_at: core::Timestamp(i.due_at),
                    amount: i.amount,
                    ..core::Installment::default()
                })
                .collect(),
        })
    }
}

/// The step's own data checked as the center checks a step's payload (`Action::validate`,
/// refused there as `invalid_action`), before the workflow is asked.
fn checked(action: Action) -> Result<Action, FieldError> {
    match action.validate() {
        Ok(()) => Ok(action),
        Err(detail) => Err(FieldError::invalid_input("invalid_action", detail)),
    }
}

#[uniffi::export]
impl FieldClient {
    /// The steps the signed-in user may take on the case now, from this phone (the same
    /// fold and permission table as the center's `allowed_actions`, less the center's own
    /// steps): show these as the case screen's buttons. Works offline; empty before
    /// sign-in.
    pub fn allowed_actions(&self, case_id: String) -> Result<Vec<EventKind>, FieldError> {
        let id = case_id_of(&case_id)?;
        let kinds = self.store().allowed_actions(id)?;
        Ok(kinds.into_iter().map(Into::into).collect())
    }

    /// 上报: hands a draft (or a returned case) to the center on the next sync.
    pub fn submit_case(&self, case_id: String) -> Result<(), FieldError> {
        self.step(&case_id, Action::Submit {})
    }

    /// 就地化解: resolved on the spot by the grid worker or village mediator, with the
    /// agreement if there is one. Only for green or yellow cases without danger flags
    /// (`invalid_transition` otherwise).
    #[uniffi::method(default(agreement = None))]
    pub fn resolve_on_site(
        &self,
        case_id: String,
        outcome: String,
        agreement: Option<AgreementInput>,
    ) -> Result<(), FieldError> {
        let agreement = agreement.map(TryInto::try_into).transpose()?;
        self.step(&case_id, Action::ResolveOnSite { outcome, agreement })
    }

    /// 签收: the lead organisation's handler takes on a dispatched case; the handling
    /// clock starts.
    pub fn sign_for(&self, case_id: String) -> Result<(), FieldError> {
        self.step(&case_id, Action::SignFor {})
    }

    /// 退单: sends a dispatched case back to the center (not ours to handle), with why.
    pub fn send_back(&self, case_id: String, reason: String) -> Result<(), FieldError> {
        self.step(&case_id, Action::SendBack { reason })
    }

    /// 开始调处: work on a signed-for case begins.
    pub fn start_handling(&self, case_id: String) -> Result<(), FieldError> {
        self.step(&case_id, Action::StartHandling {})
    }

    /// 延期申请: asks the center for `days` (1–90) more to handle the case.
    pub fn request_extension(
        &self,
        case_id: String,
        days: u32,
        reason: String,
    ) -> Result<(), FieldError> {
        self.step(&case_id, Action::ExtensionRequest { days, reason })
    }

    /// 提级: hands the case up to a higher tier (township → county), with why.
    pub fn escalate(
        &self,
        case_id: String,
        to_tier: Tier,
        reason: String,
    ) -> Result<(), FieldError> {
        let to_tier = match to_tier {
            Tier::Village => wf::Tier::Village,
            Tier::Township => wf::Tier::Township,
            Tier::County => wf::Tier::County,
        };
        self.step(&case_id, Action::Escalate { to_tier, reason })
    }

    /// 办结: resolves a case being handled, with the outcome and the agreement (its
    /// installments start their reminders).
    pub fn resolve(&self, case_id: String, resolution: ResolveInput) -> Result<(), FieldError> {
        let agreement = resolution.agreement.map(TryInto::try_into).transpose()?;
        let action = Action::Resolve {
            success: resolution.success,
            outcome: resolution.outcome,
            agreement,
        };
        self.step(&case_id, action)
    }

    /// 回访: records a follow-up visit of a resolved case.
    pub fn record_follow_up(
        &self,
        case_id: String,
        follow_up: FollowUpInput,
    ) -> Result<(), FieldError> {
        self.step(&case_id, Action::FollowUp(follow_up.try_into()?))
    }

    /// 协办意见: the feedback of a co-handling organisation of a joint dispatch, for the
    /// lead organisation to resolve with. Department handlers and village mediators of an
    /// organisation the case is dispatched to after the lead (`not_assigned` otherwise).
    pub fn co_handling_feedback(&self, case_id: String, opinion: String) -> Result<(), FieldError> {
        self.step(&case_id, Action::CoHandlingFeedback { opinion })
    }
}

impl FieldClient {
    /// One step: the payload checked, then the store's `act` (one transaction), then the
    /// observers told.
    fn step(&self, case_id: &str, action: Action) -> Result<(), FieldError> {
        let id = case_id_of(case_id)?;
        let action = checked(action)?;
        self.write(id, ChangeReason::StepTaken, |s| s.act(id, &action))
            .map(drop)
    }
}
