//! The workflow steps staff take through the API, typed: one payload type per kind, each
//! with its schema and a working example. A request is read into a [`Step`] (every refusal
//! a 400 naming the field), then made an [`Action`]; the OpenAPI document describes the same
//! types (`oneOf` with a `kind` discriminator), so the schema and the check cannot drift.
//!
//! Where a step at the center differs from the event a phone records: ACCEPT takes no
//! `case_no` (the center numbers it), DISPATCH names its targets by id (names come from the
//! registry) and neither it nor SUPERVISE can be marked automatic.

use std::collections::BTreeMap;

use gridsync_core::case::{
    Agreement, AgreementForm, FollowUp, FollowUpMethod, Installment, Timestamp,
};
use gridsync_core::workflow::{Action, EventKind, OrgRef, SupervisionLevel, Tier};
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    Discriminator, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::{PartialSchema, ToSchema};

use crate::caller::Caller;
use crate::county_time::Stamp;
use crate::policy::{self, Permission, Refusal};

/// A step with no data (SUBMIT, SIGN_FOR, START_HANDLING, ARCHIVE).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct NoPayload {}

/// RETURN, VOID, SEND_BACK, REOPEN: why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "当事人信息不全，请补充联系电话"}))]
pub struct ReasonPayload {
    /// 1 to 500 characters.
    pub reason: String,
}

/// ACCEPT: the center assigns the case number; the tier defaults to the accepting
/// center's.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tier": "TOWNSHIP"}))]
pub struct AcceptPayload {
    #[serde(default)]
    #[schema(schema_with = tier_schema)]
    pub tier: Option<Tier>,
}

/// A dispatch target: a registered organisation within the dispatcher's reach.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The organisation's id.
    pub id: String,
    /// Ignored: the registry's name is used.
    #[serde(default)]
    pub name: Option<String>,
}

/// DISPATCH: the lead organisation first; more than one is joint handling (会诊).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": [{"id": "330182101-judicial"}], "note": "请司法所牵头调处"}))]
pub struct DispatchPayload {
    /// 1 to 10 targets.
    pub to: Vec<Target>,
    /// A user of a target organisation.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Defaults to the lead target's tier.
    #[serde(default)]
    #[schema(schema_with = tier_schema)]
    pub tier: Option<Tier>,
    #[serde(default)]
    pub note: String,
}

/// EXTENSION_REQUEST: more days for handling.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"days": 7, "reason": "需等待工伤鉴定结论"}))]
pub struct ExtensionRequestPayload {
    /// 1 to 90.
    pub days: u32,
    pub reason: String,
}

/// EXTENSION_DECISION: on the pending request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"approved": true, "days": 7, "note": "同意延期"}))]
pub struct ExtensionDecisionPayload {
    pub approved: bool,
    /// Days granted (0: as requested).
    #[serde(default)]
    pub days: u32,
    #[serde(default)]
    pub note: String,
}

/// ESCALATE: to a higher tier.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to_tier": "COUNTY", "reason": "涉及多个部门，需县级协调"}))]
pub struct EscalatePayload {
    #[schema(schema_with = tier_required_schema)]
    pub to_tier: Tier,
    pub reason: String,
}

/// An installment of an agreement (分期履行).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallmentBody {
    /// The installment's id (empty: one is given).
    #[serde(default)]
    pub id: String,
    pub due_at: Stamp,
    /// In fen (分).
    pub amount: i64,
    #[serde(default)]
    pub paid_at: Option<Stamp>,
}

/// A mediation agreement (人民调解法 Art 28: written or oral).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementBody {
    /// `WRITTEN` (default) or `ORAL`.
    #[serde(default)]
    #[schema(schema_with = agreement_form_schema)]
    pub form: AgreementForm,
    pub terms: String,
    #[serde(default)]
    pub signed_at: Option<Stamp>,
    #[serde(default)]
    pub installments: Vec<InstallmentBody>,
}

impl From<AgreementBody> for Agreement {
    fn from(a: AgreementBody) -> Agreement {
        Agreement {
            form: a.form,
            terms: a.terms,
            signed_at: a.signed_at.map(|t| Timestamp(t.millis())),
            installments: a
                .installments
                .into_iter()
                .map(|i| Installment {
                    id: i.id,
                    due_at: Timestamp(i.due_at.millis()),
                    amount: i.amount,
                    paid_at: i.paid_at.map(|t| Timestamp(t.millis())),
                })
                .collect(),
        }
    }
}

/// RESOLVE: the handling organisation's result.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"success": true, "outcome": "双方达成调解协议，欠薪分两期付清", "agreement": {"form": "WRITTEN", "terms": "甲方于12月31日前支付乙方工资8000元"}}))]
pub struct ResolvePayload {
    pub success: bool,
    pub outcome: String,
    #[serde(default)]
    pub agreement: Option<AgreementBody>,
}

/// RESOLVE_ON_SITE: settled where it arose (green and yellow cases only).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "经网格员现场劝解，双方握手言和"}))]
pub struct ResolveOnSitePayload {
    pub outcome: String,
    #[serde(default)]
    pub agreement: Option<AgreementBody>,
}

/// FOLLOW_UP: the return visit (回访).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"method": "PHONE", "satisfaction": 5, "agreement_performed": true, "note": "当事人表示满意"}))]
pub struct FollowUpPayload {
    #[serde(default)]
    #[schema(schema_with = follow_up_method_schema)]
    pub method: FollowUpMethod,
    /// 1 (very unsatisfied) to 5 (very satisfied).
    pub satisfaction: u8,
    #[serde(default)]
    pub agreement_performed: Option<bool>,
    #[serde(default)]
    pub note: String,
}

/// SUPERVISE: 督办 by a supervisor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"level": "YELLOW", "note": "请加快办理"}))]
pub struct SupervisePayload {
    #[schema(schema_with = supervision_level_schema)]
    pub level: SupervisionLevel,
    #[serde(default)]
    pub note: String,
}

/// CO_HANDLING_FEEDBACK: 协办意见 of a co-handling organisation of a joint dispatch (one
/// named after the lead), for the lead to resolve with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"opinion": "经核实，用工单位确有拖欠，建议由劳动监察牵头责令支付，司法所配合调解"}))]
pub struct CoHandlingFeedbackPayload {
    /// 1 to 2000 characters.
    pub opinion: String,
}

/// A step as the API takes it: `{"kind": ..., "payload": {...}}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Step {
    Submit(NoPayload),
    ResolveOnSite(ResolveOnSitePayload),
    Accept(AcceptPayload),
    Return(ReasonPayload),
    Void(ReasonPayload),
    Dispatch(DispatchPayload),
    SignFor(NoPayload),
    SendBack(ReasonPayload),
    StartHandling(NoPayload),
    ExtensionRequest(ExtensionRequestPayload),
    ExtensionDecision(ExtensionDecisionPayload),
    Escalate(EscalatePayload),
    Resolve(ResolvePayload),
    FollowUp(FollowUpPayload),
    Reopen(ReasonPayload),
    Archive(NoPayload),
    Supervise(SupervisePayload),
    CoHandlingFeedback(CoHandlingFeedbackPayload),
}

/// Each kind's payload schema: (kind, payload type name, its schema, its components).
type PayloadSchema = (
    EventKind,
    std::borrow::Cow<'static, str>,
    RefOr<Schema>,
    fn(&mut Vec<(String, RefOr<Schema>)>),
);

fn payload<T: ToSchema>(kind: EventKind) -> PayloadSchema {
    (kind, T::name(), T::schema(), T::schemas)
}

/// Every kind's payload, in [`EventKind::ALL`]'s order.
fn payloads() -> Vec<PayloadSchema> {
    use EventKind as K;
    vec![
        payload::<NoPayload>(K::Submit),
        payload::<ResolveOnSitePayload>(K::ResolveOnSite),
        payload::<AcceptPayload>(K::Accept),
        payload::<ReasonPayload>(K::Return),
        payload::<ReasonPayload>(K::Void),
        payload::<DispatchPayload>(K::Dispatch),
        payload::<NoPayload>(K::SignFor),
        payload::<ReasonPayload>(K::SendBack),
        payload::<NoPayload>(K::StartHandling),
        payload::<ExtensionRequestPayload>(K::ExtensionRequest),
        payload::<ExtensionDecisionPayload>(K::ExtensionDecision),
        payload::<EscalatePayload>(K::Escalate),
        payload::<ResolvePayload>(K::Resolve),
        payload::<FollowUpPayload>(K::FollowUp),
        payload::<ReasonPayload>(K::Reopen),
        payload::<NoPayload>(K::Archive),
        payload::<SupervisePayload>(K::Supervise),
        payload::<CoHandlingFeedbackPayload>(K::CoHandlingFeedback),
    ]
}

/// The component name of one kind's request (`Step_DISPATCH`).
pub fn schema_name(kind: EventKind) -> String {
    format!("Step_{}", kind.as_code())
}

impl PartialSchema for Step {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "A workflow step: `kind` picks the payload's schema. `GET /v1/cases/{id}` lists \
             the kinds the caller may take now (`allowed_actions`).",
        ));
        let mut mapping = BTreeMap::new();
        for (kind, ..) in payloads() {
            let name = schema_name(kind);
            mapping.insert(
                kind.as_code().to_owned(),
                format!("#/components/schemas/{name}"),
            );
            one_of = one_of.item(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name)));
        }
        let mut discriminator = Discriminator::new("kind");
        discriminator.mapping = mapping;
        RefOr::T(Schema::OneOf(
            one_of.discriminator(Some(discriminator)).build(),
        ))
    }
}

impl ToSchema for Step {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (kind, payload_name, payload_schema, payload_components) in payloads() {
            let example = match &payload_schema {
                RefOr::T(Schema::Object(o)) => o.example.clone(),
                _ => None,
            }
            .unwrap_or_else(|| json!({}));
            schemas.push((payload_name.to_string(), payload_schema));
            payload_components(schemas);
            let step = ObjectBuilder::new()
                .property(
                    "kind",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::new(Type::String))
                        .enum_values(Some([kind.as_code()])),
                )
                .required("kind")
                .property(
                    "payload",
                    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(payload_name)),
                )
                .required("payload")
                .description(Some(format!("{} ({})", kind.label_en(), kind.label_zh())))
                .examples([json!({"kind": kind.as_code(), "payload": example})]);
            schemas.push((schema_name(kind), RefOr::T(Schema::Object(step.build()))));
        }
    }
}

/// A string schema listing `codes` (and `null` when `nullable`).
pub(crate) fn codes_schema(
    codes: impl IntoIterator<Item = &'static str>,
    nullable: bool,
) -> Schema {
    let ty = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    let mut values: Vec<serde_json::Value> = codes.into_iter().map(Into::into).collect();
    if nullable {
        values.push(serde_json::Value::Null);
    }
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(ty)
            .enum_values(Some(values))
            .build(),
    )
}

fn tier_schema() -> Schema {
    codes_schema(Tier::ALL.iter().map(|t| t.as_code()), true)
}

fn follow_up_method_schema() -> Schema {
    // `FollowUpMethod` is a plain serde enum; its codes, for the schema.
    codes_schema(["PHONE", "VISIT", "SMS"], false)
}

/// The string schema of each coded value the API takes (every value `ALL` lists).
macro_rules! code_schemas {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(
            pub(crate) fn $name() -> Schema {
                codes_schema(<$ty>::ALL.iter().map(|c| c.as_code()), false)
            }
        )*
    };
}
code_schemas!(
    tier_required_schema: Tier,
    agreement_form_schema: AgreementForm,
    supervision_level_schema: SupervisionLevel,
    source_schema: gridsync_core::case::Source,
    category_schema: gridsync_core::case::Category,
    risk_level_schema: gridsync_core::case::RiskLevel,
    risk_flag_schema: gridsync_core::case::RiskFlag,
    difficulty_schema: gridsync_core::case::Difficulty,
    party_role_schema: gridsync_core::case::PartyRole,
    id_type_schema: gridsync_core::case::IdDocType,
    sex_schema: gridsync_core::case::Sex,
);

/// A step's kind by its code; 400 `invalid_action` listing the kinds when unknown.
pub fn kind_of(code: &str) -> Result<EventKind, Refusal> {
    EventKind::from_code(code).ok_or_else(|| {
        let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_code()).collect();
        Refusal::invalid(
            "invalid_action",
            "kind",
            format!(
                "unknown action kind {code:?}; the kinds are {}",
                kinds.join(", ")
            ),
        )
    })
}

/// The center numbers its own accepts: an ACCEPT naming a `case_no` is refused with a
/// message saying so (not only as an unknown field).
pub fn refuse_case_no(kind: EventKind, payload: &serde_json::Value) -> Result<(), Refusal> {
    if kind == EventKind::Accept && payload.get("case_no").is_some() {
        return Err(Refusal::invalid(
            "invalid_action",
            "case_no",
            "ACCEPT payload: the center assigns the case number; leave case_no out",
        ));
    }
    Ok(())
}

/// Reads a step: `kind` first ([`kind_of`]), then its payload ([`payload_of`]).
pub fn read(kind: &str, payload: serde_json::Value) -> Result<(EventKind, Step), Refusal> {
    let known = kind_of(kind)?;
    refuse_case_no(known, &payload)?;
    Ok((known, payload_of(known, payload)?))
}

/// A step's payload read for its kind, every refusal a 400 naming the field. `payload` may
/// be left out (`null`) for kinds without data.
pub fn payload_of(known: EventKind, payload: serde_json::Value) -> Result<Step, Refusal> {
    let payload = match payload {
        serde_json::Value::Null => json!({}),
        v => v,
    };
    let doc = json!({ "kind": known.as_code(), "payload": payload });
    let step: Step = serde_path_to_error::deserialize(&doc).map_err(|e| {
        let path = e.path().to_string();
        let mut field = path
            .strip_prefix("payload")
            .unwrap_or(&path)
            .trim_start_matches('.')
            .to_owned();
        let message = e.inner().to_string();
        if let Some(name) = message
            .strip_prefix("missing field `")
            .or_else(|| message.strip_prefix("unknown field `"))
            .and_then(|rest| rest.split('`').next())
        {
            field = if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            };
        }
        if field.is_empty() {
            field = "payload".into();
        }
        Refusal::invalid(
            "invalid_action",
            &field,
            format!("{known} payload: {message}"),
        )
    })?;
    Ok(step)
}

impl Step {
    /// The event it records. `own_tier`: the caller's organisation's, for an ACCEPT that
    /// names none. DISPATCH targets carry no names yet (the registry's are filled in) and
    /// its tier is `None` when the payload named none (the lead target's, once known).
    pub fn into_action(self, own_tier: Tier) -> (Action, Option<Tier>) {
        let mut tier_given = None;
        let action = match self {
            Step::Submit(_) => Action::Submit {},
            Step::ResolveOnSite(p) => Action::ResolveOnSite {
                outcome: p.outcome,
                agreement: p.agreement.map(Into::into),
            },
            Step::Accept(p) => Action::Accept {
                case_no: String::new(),
                tier: p.tier.unwrap_or(own_tier),
            },
            Step::Return(p) => Action::Return { reason: p.reason },
            Step::Void(p) => Action::Void { reason: p.reason },
            Step::Dispatch(p) => {
                tier_given = p.tier;
                Action::Dispatch {
                    to: p
                        .to
                        .into_iter()
                        .map(|t| OrgRef::new(t.id, String::new()))
                        .collect(),
                    assignee: p.assignee,
                    tier: p.tier.unwrap_or_default(),
                    note: p.note,
                    auto: false,
                }
            }
            Step::SignFor(_) => Action::SignFor {},
            Step::SendBack(p) => Action::SendBack { reason: p.reason },
            Step::StartHandling(_) => Action::StartHandling {},
            Step::ExtensionRequest(p) => Action::ExtensionRequest {
                days: p.days,
                reason: p.reason,
            },
            Step::ExtensionDecision(p) => Action::ExtensionDecision {
                approved: p.approved,
                days: p.days,
                note: p.note,
            },
            Step::Escalate(p) => Action::Escalate {
                to_tier: p.to_tier,
                reason: p.reason,
            },
            Step::Resolve(p) => Action::Resolve {
                success: p.success,
                outcome: p.outcome,
                agreement: p.agreement.map(Into::into),
            },
            Step::FollowUp(p) => Action::FollowUp(FollowUp {
                method: p.method,
                satisfaction: p.satisfaction,
                agreement_performed: p.agreement_performed,
                note: p.note,
            }),
            Step::Reopen(p) => Action::Reopen { reason: p.reason },
            Step::Archive(_) => Action::Archive {},
            Step::Supervise(p) => Action::Supervise {
                level: p.level,
                note: p.note,
                auto: false,
            },
            Step::CoHandlingFeedback(p) => Action::CoHandlingFeedback { opinion: p.opinion },
        };
        (action, tier_given)
    }
}

/// The steps `caller` may take at the center now: none without the policy's `TakeSteps`,
/// else the kinds the fold allows the caller's role and organisation
/// ([`gridsync_core::workflow::WorkflowState::allowed`]).
pub fn allowed(
    caller: &Caller,
    case: &gridsync_core::case::Case,
    state: &gridsync_core::workflow::WorkflowState,
) -> Vec<EventKind> {
    if !policy::permits(caller.user.role, Permission::TakeSteps) {
        return Vec::new();
    }
    let author = gridsync_core::workflow::Author::new(
        caller.user.id.clone(),
        caller.user.role,
        caller.org.id.clone(),
    );
    state.allowed(case, &author)
}
