//! One-stop intake (一站式受理): a walk-in or hotline case recorded at the center, then
//! through the high-risk alerts and auto-dispatch like a case from a phone.

use gridsync_core::case::{CaseDoc, CaseId};
use gridsync_core::workflow::{Action, Author};

use super::cases;
use gridsync_core::case::{
    Category, Difficulty, IdDocType, Location, NewCase, PartyInput, PartyRole, RiskFlag, RiskLevel,
    Sex, Source,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::Schema;

use super::steps::{
    category_schema, difficulty_schema, id_type_schema, party_role_schema, risk_flag_schema,
    risk_level_schema, sex_schema, source_schema,
};
use crate::caller::Caller;
use crate::county_time::Stamp;
use crate::db::{self, cases::Projection};
use crate::error::{Error, Result};
use crate::policy::Refusal;
use crate::state::Center;

/// One-stop intake (一站式受理) by center staff: the area must lie in the caller's scope; the
/// case is recorded and submitted, then goes through the high-risk alerts and
/// auto-dispatch like a case from a phone.
pub async fn intake_by(
    center: &Center,
    caller: &Caller,
    new: &gridsync_core::case::NewCase,
) -> Result<(CaseId, CaseDoc), Refusal> {
    if !caller
        .org
        .scope_prefix
        .as_deref()
        .is_some_and(|p| new.area_code.starts_with(p))
    {
        return Err(Refusal::OutOfScope(
            "the area is outside your organisation's scope".into(),
        ));
    }
    let author = Author {
        user: caller.user.id.clone(),
        role: caller.user.role,
        org: caller.org.id.clone(),
    };
    let id = intake(center, new, &author).await?;
    Ok(route(center, id, &new.area_code).await?)
}

/// What follows every intake (the desk's, the citizens' page's): the high-risk alerts, the
/// automatic dispatch rules and the live feed, as for a case from a phone.
pub async fn route(center: &Center, id: CaseId, area_code: &str) -> Result<(CaseId, CaseDoc)> {
    super::warnings::alert_high_risk(center, &[id]).await?;
    super::rules::auto_dispatch(center, &[id]).await?;
    let doc = cases::load(center, id)
        .await?
        .ok_or(Error::NotFound("case"))?;
    let state = doc.state(&center.limits, center.clock.now());
    let orgs = state.assigned_orgs.iter().map(|o| o.id.clone());
    let _ = center.live.send(crate::live::LiveEvent::case_new(
        id.to_string(),
        area_code.to_owned(),
        orgs.chain(state.handling_org.clone()).collect(),
    ));
    Ok((id, doc))
}

/// Records a case at the center (walk-in, hotline, ...) and submits it, in one transaction.
pub async fn intake(
    center: &Center,
    new: &gridsync_core::case::NewCase,
    by: &Author,
) -> Result<CaseId> {
    let now = center.clock.now();
    let mut doc = CaseDoc::record(new, by, "center", now, center.actor.clone())?;
    doc.act(&Action::Submit {}, by, now)?;
    let id = doc.id();
    let changes = doc.changes_since(&[]);
    let mut tx = center.db.writer.begin().await?;
    db::cases::lock_for_merge(&mut tx, center.db.dialect, &[id]).await?;
    if db::cases::load(&mut tx, id, &center.actor).await?.is_some() {
        return Err(Error::Conflict(format!("case {id} exists")));
    }
    let last = super::cases::log_changes(&mut tx, center, id, &changes, now.0).await?;
    let projection = Projection::of(&doc.case(), &doc.state(&center.limits, now));
    let snapshot = doc.save_checked()?;
    db::cases::upsert(
        &mut tx,
        id,
        &projection,
        Some((&snapshot, last)),
        last,
        now.0,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A party as the intake desk enters it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyBody {
    #[serde(default)]
    #[schema(schema_with = party_role_schema)]
    pub role: PartyRole,
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = id_type_schema)]
    pub id_type: IdDocType,
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    #[schema(schema_with = sex_schema)]
    pub sex: Sex,
    #[serde(default)]
    pub ethnicity: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub minor: bool,
}

/// A precise position (WGS-84 degrees): sensitive personal data, never shown in lists.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    pub lat: f64,
    pub lon: f64,
}

/// A walk-in or hotline case as the intake desk records it (`POST /v1/cases`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "area_code": "330182101201", "source": "WALK_IN", "title": "来访：拖欠工程款",
    "summary": "包工头拖欠12名工人工资共计8.6万元", "category": "LABOUR_WAGES",
    "occurred_at": "2026-12-01T09:00:00+08:00", "risk_level": "YELLOW",
    "people_involved": 12, "amount_involved": 8600000,
    "parties": [{"role": "APPLICANT", "name": "张建国", "id_number": "330182197001011234", "phone": "13800005678"},
                {"role": "RESPONDENT", "name": "李老板"}]
}))]
pub struct IntakeBody {
    /// The village's 12-digit area code, inside the caller's scope.
    pub area_code: String,
    #[serde(default)]
    pub grid_code: String,
    #[serde(default)]
    #[schema(schema_with = source_schema)]
    pub source: Source,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    #[schema(schema_with = category_schema)]
    pub category: Category,
    #[serde(default)]
    pub occurred_at: Option<Stamp>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub location: Option<LocationBody>,
    #[serde(default)]
    pub people_involved: u32,
    /// In fen (分).
    #[serde(default)]
    pub amount_involved: i64,
    #[serde(default)]
    #[schema(schema_with = risk_level_schema)]
    pub risk_level: RiskLevel,
    #[serde(default)]
    #[schema(schema_with = risk_flags_schema)]
    pub risk_flags: Vec<RiskFlag>,
    #[serde(default)]
    #[schema(schema_with = difficulty_schema)]
    pub difficulty: Difficulty,
    #[serde(default)]
    pub parties: Vec<PartyBody>,
}

impl From<IntakeBody> for NewCase {
    fn from(b: IntakeBody) -> NewCase {
        NewCase {
            id: None,
            area_code: b.area_code,
            grid_code: b.grid_code,
            source: b.source,
            title: b.title,
            summary: b.summary,
            category: b.category,
            occurred_at: b
                .occurred_at
                .map(|t| gridsync_core::case::Timestamp(t.millis())),
            address: b.address,
            location: b.location.map(|l| Location {
                lat: l.lat,
                lon: l.lon,
            }),
            people_involved: b.people_involved,
            amount_involved: b.amount_involved,
            risk_level: b.risk_level,
            risk_flags: b.risk_flags,
            difficulty: b.difficulty,
            parties: b
                .parties
                .into_iter()
                .map(|p| PartyInput {
                    role: p.role,
                    name: p.name,
                    id_type: p.id_type,
                    id_number: p.id_number,
                    sex: p.sex,
                    ethnicity: p.ethnicity,
                    phone: p.phone,
                    address: p.address,
                    minor: p.minor,
                })
                .collect(),
        }
    }
}

fn risk_flags_schema() -> Schema {
    use utoipa::openapi::schema::ArrayBuilder;
    Schema::Array(
        ArrayBuilder::new()
            .items(utoipa::openapi::RefOr::T(risk_flag_schema()))
            .build(),
    )
}
