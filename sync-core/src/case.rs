//! The case model: what a dispute record holds (DESIGN §3), as plain Rust types.
//!
//! These types are read out of a case document ([`CaseDoc`]) and are the inputs of its typed
//! operations; nothing here touches Automerge. Every enum has a stable wire code
//! (`"LABOUR_WAGES"`), a Chinese and an English label, and parses back from its code.

mod codes;
mod doc;
mod fields;

use std::fmt;

use serde::{Deserialize, Serialize};

pub(crate) use codes::code_enum;
pub use codes::{AgreementForm, AttachmentKind, Source};
pub use codes::{Category, Difficulty, IdDocType, NoteKind, PartyRole, RiskFlag, RiskLevel, Sex};
pub use doc::{
    CaseDoc, ConflictValue, FieldConflict, LIMIT_KEYS, Part, ROOT_KEYS, Refusal, SCHEMA_VERSION,
    Writer, may_edit,
};
pub use fields::{
    FIELD_RULES, FieldProblem, FieldProblemKind, FieldRule, MAX_STEP_TEXT_CHARS, MAX_TERMS_CHARS,
    field_rule,
};

/// A case's identity: a UUID made on the phone that recorded it. It is the idempotency key
/// of the whole system: a case synced twice is still one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub uuid::Uuid);

impl CaseId {
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4())
    }
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for CaseId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

/// A point in time: milliseconds since the Unix epoch, UTC. Plain integers travel well
/// through SQLite, CBOR and every binding language.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const HOUR: i64 = 3_600_000;
    pub const DAY: i64 = 24 * Self::HOUR;

    pub fn millis(self) -> i64 {
        self.0
    }
    pub fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
    /// The calendar date at `offset`: the county's UTC offset at this instant, which the
    /// center's configured time zone gives (the core knows no time-zone database).
    pub fn date_at(self, offset: time::UtcOffset) -> time::Date {
        let secs = self.0.div_euclid(1000);
        time::OffsetDateTime::from_unix_timestamp(secs)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .to_offset(offset)
            .date()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        match dt.format(&format) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}ms", self.0),
        }
    }
}

/// A money amount in fen (1/100 CNY). Integers, never floats, for money.
pub type Fen = i64;

/// A person or body taking part in a dispute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Stable id so concurrent edits of one party merge field by field.
    pub id: String,
    pub role: PartyRole,
    pub name: String,
    pub id_type: IdDocType,
    /// Personal data: masked in lists and logs.
    pub id_number: String,
    pub sex: Sex,
    pub ethnicity: String,
    /// Personal data: masked in lists and logs.
    pub phone: String,
    /// Personal data: masked in lists and logs.
    pub address: String,
    pub minor: bool,
}

impl Party {
    /// `id_number`, `phone` and `address` masked for lists, exports and logs.
    pub fn masked(&self) -> Party {
        Party {
            id_number: mask_id_number(&self.id_number),
            phone: mask_phone(&self.phone),
            address: mask_address(&self.address),
            ..self.clone()
        }
    }
}

/// `110101199003071234` → `110101********1234`: the region and the last four stay, as on
/// Chinese government forms.
pub fn mask_id_number(s: &str) -> String {
    mask_middle(s, 6, 4)
}

/// `13812345678` → `138****5678`.
pub fn mask_phone(s: &str) -> String {
    mask_middle(s, 3, 4)
}

/// Keeps the first six characters (county, township) and hides the rest.
pub fn mask_address(s: &str) -> String {
    let n = s.chars().count();
    if n <= 6 {
        return "*".repeat(n);
    }
    s.chars()
        .take(6)
        .chain(std::iter::repeat_n('*', 4))
        .collect()
}

fn mask_middle(s: &str, keep_head: usize, keep_tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= keep_head + keep_tail {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_head || i >= chars.len() - keep_tail {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// A work record: a visit, a call, a mediation record (调解笔录), a back-to-back session
/// (背靠背调解) held with one party. Append-only: a note is never edited or removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: String,
    pub kind: NoteKind,
    pub author: String,
    pub at: Timestamp,
    pub text: String,
    /// The party the note was held with (a party's id; empty: none). A back-to-back
    /// session always names one: its record is what that party said apart from the others.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub party: String,
}

/// Evidence metadata. The bytes travel separately, content-addressed by `sha256`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub id: String,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    pub kind: AttachmentKind,
    pub size: u64,
    pub mime: String,
    pub caption: String,
}

/// One payment of an agreement performed in installments (分期履行).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Installment {
    pub id: String,
    pub due_at: Timestamp,
    pub amount: Fen,
    pub paid_at: Option<Timestamp>,
}

/// A mediation agreement (人民调解法 Art 28: written or oral).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Agreement {
    pub form: AgreementForm,
    pub terms: String,
    pub signed_at: Option<Timestamp>,
    pub installments: Vec<Installment>,
}

/// A follow-up visit (回访), derived from the follow-up events of the workflow log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FollowUp {
    pub method: FollowUpMethod,
    /// 1 (very unsatisfied) .. 5 (very satisfied); 4 and 5 count as satisfied.
    pub satisfaction: u8,
    pub agreement_performed: Option<bool>,
    pub note: String,
}

/// How a follow-up visit was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FollowUpMethod {
    #[default]
    Phone,
    Visit,
    Sms,
}

/// An optional position, WGS-84 degrees. Precise location is sensitive personal data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

/// A case as read from its document: the dispute's fields. Workflow status, case number,
/// deadlines and the rest are derived from the events by [`crate::workflow::fold`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The schema of the newest writer; may exceed [`SCHEMA_VERSION`].
    pub schema: u64,
    pub id: Option<CaseId>,
    pub area_code: String,
    pub grid_code: String,
    pub source: Source,
    pub title: String,
    pub summary: String,
    pub category: Category,
    pub occurred_at: Option<Timestamp>,
    pub address: String,
    pub location: Option<Location>,
    pub people_involved: u32,
    pub amount_involved: Fen,
    pub risk_level: RiskLevel,
    pub risk_flags: Vec<RiskFlag>,
    pub difficulty: Difficulty,
    pub recorded_at: Timestamp,
    pub recorded_by: String,
    /// The device that recorded the case (not its Automerge actor).
    pub recorded_on: String,
    pub parties: Vec<Party>,
    pub notes: Vec<Note>,
    pub attachments: Vec<AttachmentRef>,
    /// Installment payments recorded so far: installment id → when it was paid. The
    /// agreement itself lives in the resolve event that made it (see
    /// [`crate::workflow::WorkflowState::agreement`]), so a superseded resolve brings none.
    pub payments: std::collections::BTreeMap<String, Timestamp>,
    /// The time limits the center set for this case (by tier and category); the fold uses
    /// them instead of its defaults, so phone and center derive the same deadlines.
    pub time_limits: Option<crate::workflow::TimeLimits>,
}

impl Case {
    /// Whether any danger flag is set or the risk is red: such a case is pushed to the
    /// township and county centers the moment it syncs, and cannot be resolved on the spot.
    pub fn is_high_risk(&self) -> bool {
        self.risk_level == RiskLevel::Red || !self.risk_flags.is_empty()
    }
}

/// What a grid worker (or the center's intake desk) enters to record a new case.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewCase {
    /// Normally `None`: a fresh id is made. Given only when importing.
    pub id: Option<CaseId>,
    pub area_code: String,
    pub grid_code: String,
    pub source: Source,
    pub title: String,
    pub summary: String,
    pub category: Category,
    pub occurred_at: Option<Timestamp>,
    pub address: String,
    pub location: Option<Location>,
    pub people_involved: u32,
    pub amount_involved: Fen,
    pub risk_level: RiskLevel,
    pub risk_flags: Vec<RiskFlag>,
    pub difficulty: Difficulty,
    pub parties: Vec<PartyInput>,
}

/// A party as entered; the id is assigned by [`CaseDoc::add_party`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PartyInput {
    pub role: PartyRole,
    pub name: String,
    pub id_type: IdDocType,
    pub id_number: String,
    pub sex: Sex,
    pub ethnicity: String,
    pub phone: String,
    pub address: String,
    pub minor: bool,
}

/// A field edit: `Some` fields are written, `None` fields are left alone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseEdit {
    pub title: Option<String>,
    pub summary: Option<String>,
    pub category: Option<Category>,
    pub occurred_at: Option<Timestamp>,
    pub address: Option<String>,
    pub location: Option<Location>,
    pub people_involved: Option<u32>,
    pub amount_involved: Option<Fen>,
    pub risk_level: Option<RiskLevel>,
    pub risk_flags: Option<Vec<RiskFlag>>,
    pub difficulty: Option<Difficulty>,
    pub area_code: Option<String>,
    pub grid_code: Option<String>,
}

impl CaseEdit {
    pub fn is_empty(&self) -> bool {
        *self == CaseEdit::default()
    }
}

/// A party edit: `Some` fields are written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyEdit {
    pub role: Option<PartyRole>,
    pub name: Option<String>,
    pub id_type: Option<IdDocType>,
    pub id_number: Option<String>,
    pub sex: Option<Sex>,
    pub ethnicity: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub minor: Option<bool>,
}

/// Field limits (GB/T 31000: title ≤ 100, summary ≤ 2000 characters).
pub const MAX_TITLE_CHARS: usize = 100;
pub const MAX_SUMMARY_CHARS: usize = 2000;
pub const MAX_NOTE_CHARS: usize = 10_000;
/// Addresses (the case's, a party's).
pub const MAX_ADDRESS_CHARS: usize = 200;
/// A party's name.
pub const MAX_NAME_CHARS: usize = 50;
/// Ids, codes, ID numbers, phone numbers, MIME types.
pub const MAX_SHORT_CHARS: usize = 64;
/// An attachment's caption.
pub const MAX_CAPTION_CHARS: usize = 200;
/// An event's JSON payload.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

/// A prefix of an area code: the area of a county, township or village (a scope, a rule).
pub fn is_area_prefix(s: &str) -> bool {
    !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A 12-digit statistical division code (统计用区划代码) of a village or community.
pub fn is_area_code(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A grid code: the village's area code plus a 3-digit grid number.
pub fn is_grid_code(s: &str, area_code: &str) -> bool {
    s.len() == 15 && s.starts_with(area_code) && s.bytes().all(|b| b.is_ascii_digit())
}

/// A case number `{county6}-{yyyymmdd}-{seq}` (一案一码), assigned on acceptance; `accepted_on`
/// is the county's calendar date of the acceptance (the center's time zone).
pub fn format_case_no(county6: &str, accepted_on: time::Date, seq: u32) -> String {
    format!(
        "{county6}-{:04}{:02}{:02}-{seq:06}",
        accepted_on.year(),
        u8::from(accepted_on.month()),
        accepted_on.day()
    )
}

/// Checks the shape of a case number.
pub fn is_case_no(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 6
        && parts[1].len() == 8
        && !parts[2].is_empty()
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_region_and_tail() {
        assert_eq!(mask_id_number("110101199003071234"), "110101********1234");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_address("某县某镇某村三组12号"), "某县某镇某村****");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn case_numbers_use_the_date_at_an_offset() {
        // 2026-11-27T20:00Z is already the 28th in Beijing, still the 27th in New York.
        let t = Timestamp(1_795_809_600_000);
        let beijing = time::UtcOffset::from_hms(8, 0, 0).unwrap();
        let new_york = time::UtcOffset::from_hms(-5, 0, 0).unwrap();
        assert_eq!(
            format_case_no("330182", t.date_at(beijing), 7),
            "330182-20261128-000007"
        );
        assert_eq!(
            format_case_no("330182", t.date_at(new_york), 7),
            "330182-20261127-000007"
        );
        assert!(is_case_no("330182-20261128-000007"));
        assert!(!is_case_no("33018-20261128-7"));
    }
}
