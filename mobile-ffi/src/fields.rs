//! Field rules for the app's forms: the core's one table (`gridsync_core::case::FIELD_RULES`),
//! which the store applies when recording and editing and the center applies to every
//! request and pushed change. A form that checks with these shows the same refusal, in
//! Chinese or English, before anything is written.

use gridsync_core::case as core;

use crate::FieldError;
use crate::case::NewCase;
use crate::client::FieldClient;
use crate::session;

/// What one text field must hold.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct FieldRule {
    /// The field's name (`title`, `summary`, `name`, `reason`, `terms`, ...), as errors
    /// name it.
    pub field: String,
    pub label_zh: String,
    pub label_en: String,
    /// Blank (after trimming) is refused.
    pub required: bool,
    /// At most this many characters (Unicode scalar values; trimmed when required).
    pub max_chars: u32,
}

/// What is wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldProblemKind {
    Missing,
    TooLong,
    Malformed,
    Negative,
}

/// One field of a form that breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct FieldProblem {
    /// The field (`title`; a party's field by its own name, with `party_index`).
    pub field: String,
    pub party_index: Option<u32>,
    pub kind: FieldProblemKind,
    /// The code the store and the center refuse it with: `invalid_input`.
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

impl From<&core::FieldRule> for FieldRule {
    fn from(r: &core::FieldRule) -> Self {
        FieldRule {
            field: r.field.to_owned(),
            label_zh: r.label_zh.to_owned(),
            label_en: r.label_en.to_owned(),
            required: r.required,
            max_chars: u32::try_from(r.max_chars).unwrap_or(u32::MAX),
        }
    }
}

impl From<core::FieldProblem> for FieldProblem {
    fn from(p: core::FieldProblem) -> Self {
        use core::FieldProblemKind as K;
        FieldProblem {
            field: p.field.to_owned(),
            party_index: p.item.and_then(|i| u32::try_from(i).ok()),
            kind: match p.kind {
                K::Missing => FieldProblemKind::Missing,
                K::TooLong => FieldProblemKind::TooLong,
                K::Malformed => FieldProblemKind::Malformed,
                K::Negative => FieldProblemKind::Negative,
            },
            code: "invalid_input".to_owned(),
            message_zh: p.message_zh(),
            message_en: p.message_en().to_owned(),
        }
    }
}

/// Every text field's rule (limits, required), with labels in Chinese and English.
#[uniffi::export]
pub fn field_rules() -> Vec<FieldRule> {
    core::FIELD_RULES.iter().map(Into::into).collect()
}

/// The problem of one field's value, if any: for checking as the user types. A field the
/// table does not name is held to the rule of ids and codes (64 characters).
#[uniffi::export]
pub fn check_field(field: String, value: String) -> Option<FieldProblem> {
    core::field_rule(&field).check(&value).map(Into::into)
}

#[uniffi::export]
impl FieldClient {
    /// Every problem of a new case's form, in form order (empty: `record_case` will take
    /// it). Checked exactly as `record_case` checks it, with the signed-in user's area
    /// when the form names none. Unknown codes (category, ...) are `invalid_code` errors.
    pub fn check_new_case(&self, case: NewCase) -> Result<Vec<FieldProblem>, FieldError> {
        let mut new = case.to_core()?;
        if new.area_code.is_empty()
            && let Some(area) = session::area_code(&self.store())?
        {
            new.area_code = area;
        }
        Ok(new.problems().into_iter().map(Into::into).collect())
    }
}
