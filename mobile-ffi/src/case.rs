//! The case model as the apps see it: inputs (`NewCase`, `CaseEdit`, `PartyInput`,
//! `PartyEdit`), the list row (`CaseSummary`) and the detail screen (`CaseDetail`).
//!
//! Times are `i64` milliseconds since the Unix epoch (UTC); money is `i64` fen. Coded values
//! are code strings (see `codes.rs` for why). Inputs carry defaults, so Kotlin, Swift and
//! Python callers name only what they have: `NewCase(title = "...", category =
//! "LABOUR_WAGES")`.

use gridsync_core::case as core;
use gridsync_core::store as st;

use crate::FieldError;
use crate::codes::{parse, parse_all};
use crate::workflow::{
    Agreement, CoFeedback, Deadline, DeadlineKind, FollowUp, OrgRef, Outcome, Status,
    SupervisionLevel, Tier, TimelineEntry, WarningLevel,
};

/// A position, WGS-84 degrees. Sensitive personal data.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record, serde::Serialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

/// What a grid worker enters to record a case.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewCase {
    pub title: String,
    #[uniffi(default = "")]
    pub summary: String,
    /// A category code (`LABOUR_WAGES`, ...; `code_list(CodeKind.CATEGORY)`).
    #[uniffi(default = "OTHER")]
    pub category: String,
    /// The 12-digit village code; empty means the signed-in user's area.
    #[uniffi(default = "")]
    pub area_code: String,
    /// The area code plus a 3-digit grid number, or empty.
    #[uniffi(default = "")]
    pub grid_code: String,
    #[uniffi(default = "GRID_VISIT")]
    pub source: String,
    #[uniffi(default = None)]
    pub occurred_at: Option<i64>,
    #[uniffi(default = "")]
    pub address: String,
    #[uniffi(default = None)]
    pub location: Option<Location>,
    #[uniffi(default = 0)]
    pub people_involved: u32,
    /// Fen (1/100 CNY).
    #[uniffi(default = 0)]
    pub amount_involved: i64,
    /// `GREEN`, `YELLOW`, `ORANGE` or `RED`.
    #[uniffi(default = "GREEN")]
    pub risk_level: String,
    /// Danger flag codes (`CRIMINAL_TENDENCY`, ...); any one makes the case high-risk.
    #[uniffi(default)]
    pub risk_flags: Vec<String>,
    /// `SIMPLE`, `GENERAL` or `COMPLEX`: selects the handling limit.
    #[uniffi(default = "GENERAL")]
    pub difficulty: String,
    #[uniffi(default)]
    pub parties: Vec<PartyInput>,
}

/// A field edit: fields left `null` / `None` are not touched.
#[derive(Debug, Clone, PartialEq, Default, uniffi::Record)]
pub struct CaseEdit {
    #[uniffi(default = None)]
    pub title: Option<String>,
    #[uniffi(default = None)]
    pub summary: Option<String>,
    #[uniffi(default = None)]
    pub category: Option<String>,
    #[uniffi(default = None)]
    pub occurred_at: Option<i64>,
    #[uniffi(default = None)]
    pub address: Option<String>,
    #[uniffi(default = None)]
    pub location: Option<Location>,
    #[uniffi(default = None)]
    pub people_involved: Option<u32>,
    #[uniffi(default = None)]
    pub amount_involved: Option<i64>,
    #[uniffi(default = None)]
    pub risk_level: Option<String>,
    /// The full new set of flags (an empty list clears them).
    #[uniffi(default = None)]
    pub risk_flags: Option<Vec<String>>,
    #[uniffi(default = None)]
    pub difficulty: Option<String>,
    #[uniffi(default = None)]
    pub area_code: Option<String>,
    #[uniffi(default = None)]
    pub grid_code: Option<String>,
}

/// A party as entered.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PartyInput {
    pub name: String,
    /// `APPLICANT`, `RESPONDENT` or `THIRD_PARTY`.
    #[uniffi(default = "APPLICANT")]
    pub role: String,
    /// `ID_CARD`, `PASSPORT`, ..., `NONE`.
    #[uniffi(default = "ID_CARD")]
    pub id_type: String,
    #[uniffi(default = "")]
    pub id_number: String,
    /// `UNSPECIFIED`, `MALE` or `FEMALE`.
    #[uniffi(default = "UNSPECIFIED")]
    pub sex: String,
    #[uniffi(default = "")]
    pub ethnicity: String,
    #[uniffi(default = "")]
    pub phone: String,
    #[uniffi(default = "")]
    pub address: String,
    #[uniffi(default = false)]
    pub minor: bool,
}

/// A party edit: fields left `null` / `None` are not touched.
#[derive(Debug, Clone, PartialEq, Default, uniffi::Record)]
pub struct PartyEdit {
    #[uniffi(default = None)]
    pub name: Option<String>,
    #[uniffi(default = None)]
    pub role: Option<String>,
    #[uniffi(default = None)]
    pub id_type: Option<String>,
    #[uniffi(default = None)]
    pub id_number: Option<String>,
    #[uniffi(default = None)]
    pub sex: Option<String>,
    #[uniffi(default = None)]
    pub ethnicity: Option<String>,
    #[uniffi(default = None)]
    pub phone: Option<String>,
    #[uniffi(default = None)]
    pub address: Option<String>,
    #[uniffi(default = None)]
    pub minor: Option<bool>,
}

/// A party of a case. ID number, phone and address are in full: this is the user's own
/// phone, holding only the cases they work on. Mask them on screens others may see.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Party {
    pub id: String,
    pub role: String,
    pub name: String,
    pub id_type: String,
    pub id_number: String,
    pub sex: String,
    pub ethnicity: String,
    pub phone: String,
    pub address: String,
    pub minor: bool,
}

/// A work note: a visit, a call, a mediation session.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Note {
    pub id: String,
    /// A note kind code (`HOME_VISIT`, `MEDIATION_RECORD`, `VISIT_RECORD`,
    /// `MEDIATION_BACK_TO_BACK`, ...).
    pub kind: String,
    /// The author's user id.
    pub author: String,
    pub at: i64,
    pub text: String,
    /// The party (id) the note was held with (a back-to-back session); empty: none.
    pub party: String,
}

/// Evidence metadata (the bytes travel separately).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Attachment {
    pub id: String,
    pub sha256: String,
    pub kind: String,
    pub size: u64,
    pub mime: String,
    pub caption: String,
}

/// One row of a case list. No ID numbers or phones: lists are shown to anyone looking.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct CaseSummary {
    pub id: String,
    /// Assigned by the center on acceptance.
    pub case_no: Option<String>,
    pub title: String,
    pub category: String,
    pub risk_level: String,
    /// Red, or any danger flag.
    pub high_risk: bool,
    pub status: Status,
    pub area_code: String,
    /// Party names, comma-separated.
    pub party_names: String,
    pub recorded_at: i64,
    pub updated_at: i64,
    pub next_deadline: Option<DeadlineKind>,
    pub due_at: Option<i64>,
    /// The nearest deadline's level at the time of listing.
    pub warning: WarningLevel,
    /// Has changes the center has not acknowledged.
    pub unsent: bool,
}

/// What to list. Empty lists and `null` mean "any".
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct CaseFilter {
    #[uniffi(default)]
    pub statuses: Vec<Status>,
    /// Category codes.
    #[uniffi(default)]
    pub categories: Vec<String>,
    /// Risk level codes.
    #[uniffi(default)]
    pub risk_levels: Vec<String>,
    /// Only cases with a deadline due within this many milliseconds (overdue included).
    #[uniffi(default = None)]
    pub due_within_ms: Option<i64>,
    /// Text in the title, the case number or a party's name.
    #[uniffi(default = None)]
    pub text: Option<String>,
    /// Leave out archived, void and followed-up cases.
    #[uniffi(default = false)]
    pub open_only: bool,
    /// 0 means the default page of 50.
    #[uniffi(default = 0)]
    pub limit: u32,
    #[uniffi(default = 0)]
    pub offset: u32,
}

/// The center's last refusal of a case's changes (they stay in the outbox).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Rejection {
    pub code: String,
    pub message: String,
}

/// Everything about one case, for its detail screen: the fields as stored (personal data in
/// full), and everything the workflow derives from its log at the time of reading.
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct CaseDetail {
    pub id: String,
    pub case_no: Option<String>,
    pub area_code: String,
    pub grid_code: String,
    pub source: String,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub occurred_at: Option<i64>,
    pub address: String,
    pub location: Option<Location>,
    pub people_involved: u32,
    pub amount_involved: i64,
    pub risk_level: String,
    pub risk_flags: Vec<String>,
    pub difficulty: String,
    pub high_risk: bool,
    pub recorded_at: i64,
    pub recorded_by: String,
    pub recorded_on: String,
    pub parties: Vec<Party>,
    pub notes: Vec<Note>,
    pub attachments: Vec<Attachment>,

    // Derived by the workflow fold.
    pub status: Status,
    pub tier: Tier,
    pub assigned_orgs: Vec<OrgRef>,
    pub assignee: Option<String>,
    pub handling_org: Option<String>,
    pub supervision: SupervisionLevel,
    /// Running clocks with their levels now.
    pub deadlines: Vec<Deadline>,
    /// The worst level among the deadlines.
    pub warning: WarningLevel,
    pub submitted_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub dispatched_at: Option<i64>,
    pub signed_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub followed_up_at: Option<i64>,
    pub extension_days: u32,
    pub pending_extension: Option<u32>,
    pub outcome: Option<Outcome>,
    pub follow_ups: Vec<FollowUp>,
    pub agreement: Option<Agreement>,
    /// Feedback of the co-handling organisations of a joint dispatch (协办意见), for the
    /// lead to resolve with.
    pub co_feedback: Vec<CoFeedback>,
    /// Every event, in the merged order, superseded ones flagged.
    pub timeline: Vec<TimelineEntry>,

    // Sync state.
    /// Changes of this case the center has not acknowledged.
    pub unsent_changes: u32,
    pub rejection: Option<Rejection>,
}

/// The same defaults the bindings show (the core's defaults), for Rust callers:
/// `NewCase { title, category, ..NewCase::default() }`.
impl Default for NewCase {
    fn default() -> Self {
        NewCase {
            title: String::new(),
            summary: String::new(),
            category: core::Category::default().as_code().to_owned(),
            area_code: String::new(),
            grid_code: String::new(),
            source: core::Source::default().as_code().to_owned(),
            occurred_at: None,
            address: String::new(),
            location: None,
            people_involved: 0,
            amount_involved: 0,
            risk_level: core::RiskLevel::default().as_code().to_owned(),
            risk_flags: Vec::new(),
            difficulty: core::Difficulty::default().as_code().to_owned(),
            parties: Vec::new(),
        }
    }
}

impl Default for PartyInput {
    fn default() -> Self {
        PartyInput {
            name: String::new(),
            role: core::PartyRole::default().as_code().to_owned(),
            id_type: core::IdDocType::default().as_code().to_owned(),
            id_number: String::new(),
            sex: core::Sex::default().as_code().to_owned(),
            ethnicity: String::new(),
            phone: String::new(),
            address: String::new(),
            minor: false,
        }
    }
}

// ---- inputs → core ---------------------------------------------------------------------

impl NewCase {
    pub(crate) fn to_core(&self) -> Result<core::NewCase, FieldError> {
        Ok(core::NewCase {
            id: None,
            area_code: self.area_code.trim().to_owned(),
            grid_code: self.grid_code.trim().to_owned(),
            source: parse(&self.source)?,
            title: self.title.clone(),
            summary: self.summary.clone(),
            category: parse(&self.category)?,
            occurred_at: self.occurred_at.map(core::Timestamp),
            address: self.address.clone(),
            location: self.location.map(Into::into),
            people_involved: self.people_involved,
            amount_involved: self.amount_involved,
            risk_level: parse(&self.risk_level)?,
            risk_flags: parse_all(&self.risk_flags)?,
            difficulty: parse(&self.difficulty)?,
            parties: self
                .parties
                .iter()
                .map(PartyInput::to_core)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl CaseEdit {
    pub(crate) fn to_core(&self) -> Result<core::CaseEdit, FieldError> {
        Ok(core::CaseEdit {
            title: self.title.clone(),
            summary: self.summary.clone(),
            category: self.category.as_deref().map(parse).transpose()?,
            occurred_at: self.occurred_at.map(core::Timestamp),
            address: self.address.clone(),
            location: self.location.map(Into::into),
            people_involved: self.people_involved,
            amount_involved: self.amount_involved,
            risk_level: self.risk_level.as_deref().map(parse).transpose()?,
            risk_flags: self.risk_flags.as_deref().map(parse_all).transpose()?,
            difficulty: self.difficulty.as_deref().map(parse).transpose()?,
            area_code: self.area_code.clone(),
            grid_code: self.grid_code.clone(),
        })
    }
}

impl PartyInput {
    pub(crate) fn to_core(&self) -> Result<core::PartyInput, FieldError> {
        Ok(core::PartyInput {
            role: parse(&self.role)?,
            name: self.name.clone(),
            id_type: parse(&self.id_type)?,
            id_number: self.id_number.clone(),
            sex: parse(&self.sex)?,
            ethnicity: self.ethnicity.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            minor: self.minor,
        })
    }
}

impl PartyEdit {
    pub(crate) fn to_core(&self) -> Result<core::PartyEdit, FieldError> {
        Ok(core::PartyEdit {
            role: self.role.as_deref().map(parse).transpose()?,
            name: self.name.clone(),
            id_type: self.id_type.as_deref().map(parse).transpose()?,
            id_number: self.id_number.clone(),
            sex: self.sex.as_deref().map(parse).transpose()?,
            ethnicity: self.ethnicity.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            minor: self.minor,
        })
    }
}

impl CaseFilter {
    pub(crate) fn to_core(&self) -> Result<st::CaseFilter, FieldError> {
        Ok(st::CaseFilter {
            statuses: self.statuses.iter().map(|s| (*s).into()).collect(),
            categories: parse_all(&self.categories)?,
            risk_levels: parse_all(&self.risk_levels)?,
            due_within: self.due_within_ms,
            text: self.text.clone().filter(|t| !t.trim().is_empty()),
            open_only: self.open_only,
            limit: self.limit,
            offset: self.offset,
        })
    }
}

impl From<Location> for core::Location {
    fn from(l: Location) -> Self {
        core::Location {
            lat: l.lat,
            lon: l.lon,
        }
    }
}

// ---- core → outputs --------------------------------------------------------------------

impl From<core::Location> for Location {
    fn from(l: core::Location) -> Self {
        Location {
            lat: l.lat,
            lon: l.lon,
        }
    }
}

impl From<&core::Party> for Party {
    fn from(p: &core::Party) -> Self {
        Party {
            id: p.id.clone(),
            role: p.role.as_code().to_owned(),
            name: p.name.clone(),
            id_type: p.id_type.as_code().to_owned(),
            id_number: p.id_number.clone(),
            sex: p.sex.as_code().to_owned(),
            ethnicity: p.ethnicity.clone(),
            phone: p.phone.clone(),
            address: p.address.clone(),
            minor: p.minor,
        }
    }
}

impl From<&core::Note> for Note {
    fn from(n: &core::Note) -> Self {
        Note {
            id: n.id.clone(),
            kind: n.kind.as_code().to_owned(),
            author: n.author.clone(),
            at: n.at.0,
            text: n.text.clone(),
            party: n.party.clone(),
        }
    }
}

impl From<&core::AttachmentRef> for Attachment {
    fn from(a: &core::AttachmentRef) -> Self {
        Attachment {
            id: a.id.clone(),
            sha256: a.sha256.clone(),
            kind: a.kind.as_code().to_owned(),
            size: a.size,
            mime: a.mime.clone(),
            caption: a.caption.clone(),
        }
    }
}

impl From<st::CaseSummary> for CaseSummary {
    fn from(s: st::CaseSummary) -> Self {
        CaseSummary {
            id: s.id.to_string(),
            case_no: s.case_no,
            title: s.title,
            category: s.category.as_code().to_owned(),
            risk_level: s.risk_level.as_code().to_owned(),
            high_risk: s.high_risk,
            status: s.status.into(),
            area_code: s.area_code,
            party_names: s.party_names,
            recorded_at: s.recorded_at.0,
            updated_at: s.updated_at.0,
            next_deadline: s.next_deadline.map(Into::into),
            due_at: s.due_at.map(|t| t.0),
            warning: s.warning.into(),
            unsent: s.unsent,
        }
    }
}

impl From<st::CaseView> for CaseDetail {
    fn from(v: st::CaseView) -> Self {
        let st::CaseView {
            case,
            state,
            unsent_changes,
            rejection,
        } = v;
        let codes =
            |flags: &[core::RiskFlag]| flags.iter().map(|f| f.as_code().to_owned()).collect();
        CaseDetail {
            id: case.id.map(|i| i.to_string()).unwrap_or_default(),
            case_no: state.case_no.clone(),
            high_risk: case.is_high_risk(),
            area_code: case.area_code,
            grid_code: case.grid_code,
            source: case.source.as_code().to_owned(),
            title: case.title,
            summary: case.summary,
            category: case.category.as_code().to_owned(),
            occurred_at: case.occurred_at.map(|t| t.0),
            address: case.address,
            location: case.location.map(Into::into),
            people_involved: case.people_involved,
            amount_involved: case.amount_involved,
            risk_level: case.risk_level.as_code().to_owned(),
            risk_flags: codes(&case.risk_flags),
            difficulty: case.difficulty.as_code().to_owned(),
            recorded_at: case.recorded_at.0,
            recorded_by: case.recorded_by,
            recorded_on: case.recorded_on,
            parties: case.parties.iter().map(Into::into).collect(),
            notes: case.notes.iter().map(Into::into).collect(),
            attachments: case.attachments.iter().map(Into::into).collect(),
            status: state.status.into(),
            tier: state.tier.into(),
            assigned_orgs: state.assigned_orgs.iter().map(Into::into).collect(),
            assignee: state.assignee.clone(),
            handling_org: state.handling_org.clone(),
            supervision: state.supervision.into(),
            deadlines: state.deadlines.iter().map(Into::into).collect(),
            warning: state.warning_level().into(),
            submitted_at: state.submitted_at.map(|t| t.0),
            accepted_at: state.accepted_at.map(|t| t.0),
            dispatched_at: state.dispatched_at.map(|t| t.0),
            signed_at: state.signed_at.map(|t| t.0),
            resolved_at: state.resolved_at.map(|t| t.0),
            followed_up_at: state.followed_up_at.map(|t| t.0),
            extension_days: state.extension_days,
            pending_extension: state.pending_extension,
            outcome: state.outcome.as_ref().map(Into::into),
            follow_ups: state.follow_ups.iter().map(Into::into).collect(),
            agreement: state.agreement.as_ref().map(Into::into),
            co_feedback: state.co_feedback.iter().map(Into::into).collect(),
            timeline: state.timeline.iter().map(Into::into).collect(),
            unsent_changes,
            rejection: rejection.map(|(code, message)| Rejection { code, message }),
        }
    }
}
