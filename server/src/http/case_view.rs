//! A case as the API shows it: the document's fields ([`CaseView`]) and what the fold
//! derives ([`StateView`]), typed for the OpenAPI document, every time RFC 3339 in the
//! county's offset and every coded value by its stable code. Built from `sync-core`'s
//! `Case` and `WorkflowState`, field by field, so a field added there is added here on
//! purpose.

use gridsync_core::case::{Agreement, Case, Note, Party};
use gridsync_core::workflow::{Deadline, TimelineEntry, WorkflowState};
use serde::Serialize;

use crate::county_time::{CountyTime, Stamp};

/// A coded value's stable code (`LABOUR_WAGES`, `IN_PROGRESS`).
fn code<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A party to the dispute (ID number, phone and address masked unless asked for and
/// allowed).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PartyView {
    pub(crate) id: String,
    /// `APPLICANT`, `RESPONDENT`, `THIRD_PARTY`, ...
    pub(crate) role: String,
    pub(crate) name: String,
    pub(crate) id_type: String,
    pub(crate) id_number: String,
    pub(crate) sex: String,
    pub(crate) ethnicity: String,
    pub(crate) phone: String,
    pub(crate) address: String,
    pub(crate) minor: bool,
}

impl From<&Party> for PartyView {
    fn from(p: &Party) -> PartyView {
        PartyView {
            id: p.id.clone(),
            role: code(&p.role),
            name: p.name.clone(),
            id_type: code(&p.id_type),
            id_number: p.id_number.clone(),
            sex: code(&p.sex),
            ethnicity: p.ethnicity.clone(),
            phone: p.phone.clone(),
            address: p.address.clone(),
            minor: p.minor,
        }
    }
}

/// A note on the case (append-only).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct NoteView {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) author: String,
    pub(crate) at: Stamp,
    /// Empty in a masked read: notes record what people said.
    pub(crate) text: String,
    /// The party a back-to-back session (背靠背调解) was held with; empty otherwise.
    pub(crate) party: String,
}

impl NoteView {
    fn of(n: &Note, time: &CountyTime) -> NoteView {
        NoteView {
            id: n.id.clone(),
            kind: code(&n.kind),
            author: n.author.clone(),
            at: time.stamp(n.at.0),
            text: n.text.clone(),
            party: n.party.clone(),
        }
    }
}

/// Evidence metadata; the bytes travel separately, by `sha256`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AttachmentView {
    pub(crate) id: String,
    pub(crate) sha256: String,
    pub(crate) kind: String,
    pub(crate) size: u64,
    pub(crate) mime: String,
    pub(crate) caption: String,
    /// The center holds the bytes whole and checked (`GET
    /// /v1/cases/{id}/attachments/{sha256}` serves them; a PHOTO has a `/thumbnail`).
    pub(crate) stored: bool,
}

/// An installment payment recorded on the case.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PaymentView {
    pub(crate) installment: String,
    pub(crate) paid_at: Stamp,
}

/// The dispute's fields, as recorded and corrected.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CaseView {
    pub(crate) area_code: String,
    pub(crate) grid_code: String,
    pub(crate) source: String,
    pub(crate) title: String,
    pub(crate) summary: String,
    pub(crate) category: String,
    pub(crate) occurred_at: Option<Stamp>,
    /// Masked unless asked for and allowed.
    pub(crate) address: String,
    pub(crate) people_involved: u32,
    /// In fen (分).
    pub(crate) amount_involved: i64,
    pub(crate) risk_level: String,
    pub(crate) risk_flags: Vec<String>,
    pub(crate) difficulty: String,
    pub(crate) recorded_at: Stamp,
    pub(crate) recorded_by: String,
    pub(crate) recorded_on: String,
    pub(crate) parties: Vec<PartyView>,
    pub(crate) notes: Vec<NoteView>,
    pub(crate) attachments: Vec<AttachmentView>,
    pub(crate) payments: Vec<PaymentView>,
    /// The limits the center set for this case; absent: the defaults.
    pub(crate) time_limits: Option<LimitsView>,
}

/// Time limits, in milliseconds (durations, not instants).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LimitsView {
    pub(crate) accept: i64,
    pub(crate) accept_high_risk: i64,
    pub(crate) sign: i64,
    pub(crate) handle_simple: i64,
    pub(crate) handle_general: i64,
    pub(crate) handle_complex: i64,
    pub(crate) follow_up: i64,
    /// A co-handler's feedback on a joint dispatch (协办意见).
    pub(crate) co_handle: i64,
    /// A clock turns yellow at this share of its limit.
    pub(crate) yellow_percent: u8,
}

impl CaseView {
    /// `case` as given (mask it first where the caller may not see personal data); the
    /// precise location is never shown here.
    pub(crate) fn of(case: &Case, time: &CountyTime) -> CaseView {
        CaseView {
            area_code: case.area_code.clone(),
            grid_code: case.grid_code.clone(),
            source: code(&case.source),
            title: case.title.clone(),
            summary: case.summary.clone(),
            category: code(&case.category),
            occurred_at: case.occurred_at.map(|t| time.stamp(t.0)),
            address: case.address.clone(),
            people_involved: case.people_involved,
            amount_involved: case.amount_involved,
            risk_level: code(&case.risk_level),
            risk_flags: case.risk_flags.iter().map(code).collect(),
            difficulty: code(&case.difficulty),
            recorded_at: time.stamp(case.recorded_at.0),
            recorded_by: case.recorded_by.clone(),
            recorded_on: case.recorded_on.clone(),
            parties: case.parties.iter().map(PartyView::from).collect(),
            notes: case.notes.iter().map(|n| NoteView::of(n, time)).collect(),
            attachments: case
                .attachments
                .iter()
                .map(|a| AttachmentView {
                    id: a.id.clone(),
                    sha256: a.sha256.clone(),
                    kind: code(&a.kind),
                    size: a.size,
                    mime: a.mime.clone(),
                    caption: a.caption.clone(),
                    stored: false,
                })
                .collect(),
            payments: case
                .payments
                .iter()
                .map(|(installment, at)| PaymentView {
                    installment: installment.clone(),
                    paid_at: time.stamp(at.0),
                })
                .collect(),
            time_limits: case.time_limits.as_ref().map(|l| LimitsView {
                accept: l.accept,
                accept_high_risk: l.accept_high_risk,
                sign: l.sign,
                handle_simple: l.handle_simple,
                handle_general: l.handle_general,
                handle_complex: l.handle_complex,
                follow_up: l.follow_up,
                co_handle: l.co_handle,
                yellow_percent: l.yellow_percent,
            }),
        }
    }
}

/// An organisation a dispatch names. Its schema is `AssignedOrg`: `OrgView` is the tree's
/// (`http/orgs.rs`), and two schemas of one name would leave one of them described wrongly.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AssignedOrg)]
pub(crate) struct OrgView {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// A running clock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeadlineView {
    /// `ACCEPT`, `SIGN`, `HANDLE`, `FOLLOW_UP`, `INSTALLMENT`, ...
    pub(crate) kind: String,
    pub(crate) started_at: Stamp,
    pub(crate) due_at: Stamp,
    /// `NONE`, `YELLOW`, `RED` (`RED`: past due).
    pub(crate) level: String,
    /// The installment (or other item) the clock is about.
    pub(crate) item: Option<String>,
}

impl DeadlineView {
    fn of(d: &Deadline, time: &CountyTime) -> DeadlineView {
        DeadlineView {
            kind: code(&d.kind),
            started_at: time.stamp(d.started_at.0),
            due_at: time.stamp(d.due_at.0),
            level: code(&d.level),
            item: d.item.clone(),
        }
    }
}

/// One event of the case's log, applied or superseded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TimelineView {
    pub(crate) event_id: String,
    pub(crate) kind: String,
    pub(crate) by_user: String,
    pub(crate) by_role: String,
    pub(crate) org: String,
    pub(crate) at: Stamp,
    pub(crate) status_after: String,
    /// Why the event did not move the state (`invalid_transition`, `not_permitted`, ...);
    /// absent when it applied.
    pub(crate) superseded: Option<String>,
}

impl TimelineView {
    fn of(t: &TimelineEntry, time: &CountyTime) -> TimelineView {
        TimelineView {
            event_id: t.event_id.clone(),
            kind: t.kind.clone(),
            by_user: t.by_user.clone(),
            by_role: t.by_role.clone(),
            org: t.org.clone(),
            at: time.stamp(t.at.0),
            status_after: code(&t.status_after),
            superseded: t.superseded.as_ref().map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v["reason"].as_str().map(str::to_owned))
                    .unwrap_or_default()
            }),
        }
    }
}

/// How the case ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct OutcomeView {
    pub(crate) success: bool,
    pub(crate) text: String,
    pub(crate) at: Stamp,
    pub(crate) by_org: String,
    pub(crate) on_time: bool,
}

/// An installment of the agreement.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct InstallmentView {
    pub(crate) id: String,
    pub(crate) due_at: Stamp,
    /// In fen (分).
    pub(crate) amount: i64,
    pub(crate) paid_at: Option<Stamp>,
}

/// The mediation agreement.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AgreementView {
    pub(crate) form: String,
    pub(crate) terms: String,
    pub(crate) signed_at: Option<Stamp>,
    pub(crate) installments: Vec<InstallmentView>,
}

impl AgreementView {
    fn of(a: &Agreement, time: &CountyTime) -> AgreementView {
        AgreementView {
            form: code(&a.form),
            terms: a.terms.clone(),
            signed_at: a.signed_at.map(|t| time.stamp(t.0)),
            installments: a
                .installments
                .iter()
                .map(|i| InstallmentView {
                    id: i.id.clone(),
                    due_at: time.stamp(i.due_at.0),
                    amount: i.amount,
                    paid_at: i.paid_at.map(|t| time.stamp(t.0)),
                })
                .collect(),
        }
    }
}

/// A follow-up visit (回访).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FollowUpView {
    pub(crate) method: String,
    /// 1 (very unsatisfied) to 5 (very satisfied).
    pub(crate) satisfaction: u8,
    pub(crate) agreement_performed: Option<bool>,
    pub(crate) note: String,
}

/// What the workflow derives from the case's log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct StateView {
    pub(crate) status: String,
    /// `{county6}-{yyyymmdd}-{seq}`, once accepted.
    pub(crate) case_no: Option<String>,
    pub(crate) tier: String,
    /// The lead first.
    pub(crate) assigned_orgs: Vec<OrgView>,
    pub(crate) assignee: Option<String>,
    pub(crate) handling_org: Option<String>,
    pub(crate) supervision: String,
    /// Every running clock, nearest first.
    pub(crate) deadlines: Vec<DeadlineView>,
    pub(crate) submitted_at: Option<Stamp>,
    pub(crate) accepted_at: Option<Stamp>,
    pub(crate) dispatched_at: Option<Stamp>,
    pub(crate) signed_at: Option<Stamp>,
    pub(crate) resolved_at: Option<Stamp>,
    pub(crate) followed_up_at: Option<Stamp>,
    pub(crate) extension_days: u32,
    pub(crate) pending_extension: Option<u32>,
    pub(crate) send_backs: u32,
    pub(crate) reopened: u32,
    pub(crate) outcome: Option<OutcomeView>,
    pub(crate) follow_ups: Vec<FollowUpView>,
    pub(crate) high_risk: bool,
    pub(crate) timeline: Vec<TimelineView>,
    pub(crate) agreement: Option<AgreementView>,
    pub(crate) escalated_to: Option<String>,
    /// Co-handlers' feedback (协办意见) on the current joint dispatch, for the lead.
    pub(crate) co_feedback: Vec<CoFeedbackView>,
}

/// A co-handling organisation's feedback.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CoFeedbackView {
    pub(crate) org: OrgView,
    pub(crate) opinion: String,
    pub(crate) by_user: String,
    pub(crate) at: Stamp,
    pub(crate) event_id: String,
}

impl StateView {
    pub(crate) fn of(s: &WorkflowState, time: &CountyTime) -> StateView {
        let stamp = |t: Option<gridsync_core::case::Timestamp>| t.map(|t| time.stamp(t.0));
        StateView {
            status: code(&s.status),
            case_no: s.case_no.clone(),
            tier: code(&s.tier),
            assigned_orgs: s
                .assigned_orgs
                .iter()
                .map(|o| OrgView {
                    id: o.id.clone(),
                    name: o.name.clone(),
                })
                .collect(),
            assignee: s.assignee.clone(),
            handling_org: s.handling_org.clone(),
            supervision: code(&s.supervision),
            deadlines: s
                .deadlines
                .iter()
                .map(|d| DeadlineView::of(d, time))
                .collect(),
            submitted_at: stamp(s.submitted_at),
            accepted_at: stamp(s.accepted_at),
            dispatched_at: stamp(s.dispatched_at),
            signed_at: stamp(s.signed_at),
            resolved_at: stamp(s.resolved_at),
            followed_up_at: stamp(s.followed_up_at),
            extension_days: s.extension_days,
            pending_extension: s.pending_extension,
            send_backs: s.send_backs,
            reopened: s.reopened,
            outcome: s.outcome.as_ref().map(|o| OutcomeView {
                success: o.success,
                text: o.text.clone(),
                at: time.stamp(o.at.0),
                by_org: o.by_org.clone(),
                on_time: o.on_time,
            }),
            follow_ups: s
                .follow_ups
                .iter()
                .map(|f| FollowUpView {
                    method: code(&f.method),
                    satisfaction: f.satisfaction,
                    agreement_performed: f.agreement_performed,
                    note: f.note.clone(),
                })
                .collect(),
            high_risk: s.high_risk,
            timeline: s
                .timeline
                .iter()
                .map(|t| TimelineView::of(t, time))
                .collect(),
            agreement: s.agreement.as_ref().map(|a| AgreementView::of(a, time)),
            escalated_to: s.escalated_to.as_ref().map(code),
            co_feedback: s
                .co_feedback
                .iter()
                .map(|f| CoFeedbackView {
                    org: OrgView {
                        id: f.org.id.clone(),
                        name: f.org.name.clone(),
                    },
                    opinion: f.opinion.clone(),
                    by_user: f.by_user.clone(),
                    at: time.stamp(f.at.0),
                    event_id: f.event_id.clone(),
                })
                .collect(),
        }
    }
}
