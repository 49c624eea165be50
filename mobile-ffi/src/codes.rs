//! Coded values and their labels.
//!
//! The values a person picks from a list when recording a case (category, risk level, risk
//! flags, difficulty, source, party role, ID document type, sex, note kind, attachment
//! kind, agreement form, follow-up method) cross the boundary as their stable code strings
//! (`"LABOUR_WAGES"`), the same codes the documents, the protocol, the center's database
//! and its exports use. That keeps the apps forward compatible: their pickers are built
//! from [`code_list`], so a category added in a library update shows up without app code
//! changing, and a code the library does not know comes back as a typed `invalid_code`
//! error rather than a crash. The values the workflow derives and the apps branch on
//! (status, warning level, ...) are UniFFI enums instead: see `workflow.rs`.

use std::str::FromStr;

use gridsync_core::case as core;
use gridsync_core::workflow as wf;

use crate::FieldError;

/// Which list of codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CodeKind {
    Category,
    RiskLevel,
    RiskFlag,
    Difficulty,
    Source,
    PartyRole,
    IdDocType,
    Sex,
    NoteKind,
    AttachmentKind,
    AgreementForm,
    /// Workflow status (the `Status` enum's values, by code).
    Status,
    /// User roles (the `Role` enum's values, by code).
    Role,
    /// Workflow event kinds, as found in a timeline.
    EventKind,
    Tier,
    SupervisionLevel,
}

/// A code with its Chinese and English labels.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct CodeLabel {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
}

macro_rules! labels {
    ($t:ty) => {
        <$t>::ALL
            .iter()
            .map(|v| CodeLabel {
                code: v.as_code().to_owned(),
                label_zh: v.label_zh().to_owned(),
                label_en: v.label_en().to_owned(),
            })
            .collect()
    };
}

/// Every code of a kind, in the library's order, with labels: what a picker shows.
#[uniffi::export]
pub fn code_list(kind: CodeKind) -> Vec<CodeLabel> {
    match kind {
        CodeKind::Category => labels!(core::Category),
        CodeKind::RiskLevel => labels!(core::RiskLevel),
        CodeKind::RiskFlag => labels!(core::RiskFlag),
        CodeKind::Difficulty => labels!(core::Difficulty),
        CodeKind::Source => labels!(core::Source),
        CodeKind::PartyRole => labels!(core::PartyRole),
        CodeKind::IdDocType => labels!(core::IdDocType),
        CodeKind::Sex => labels!(core::Sex),
        CodeKind::NoteKind => labels!(core::NoteKind),
        CodeKind::AttachmentKind => labels!(core::AttachmentKind),
        CodeKind::AgreementForm => labels!(core::AgreementForm),
        CodeKind::Status => labels!(wf::Status),
        CodeKind::Role => labels!(wf::Role),
        CodeKind::EventKind => labels!(wf::EventKind),
        CodeKind::Tier => labels!(wf::Tier),
        CodeKind::SupervisionLevel => labels!(wf::SupervisionLevel),
    }
}

/// The labels of one code; `None` when this version does not know it (an event kind
/// written by a newer app, say): show the code itself then.
#[uniffi::export]
pub fn code_label(kind: CodeKind, code: String) -> Option<CodeLabel> {
    code_list(kind).into_iter().find(|c| c.code == code)
}

/// Parses a code string into the core's enum: an unknown code is `invalid_code`.
pub(crate) fn parse<T>(code: &str) -> Result<T, FieldError>
where
    T: FromStr<Err = gridsync_core::Error>,
{
    code.parse::<T>().map_err(FieldError::from)
}

/// Parses a list of codes.
pub(crate) fn parse_all<T>(codes: &[String]) -> Result<Vec<T>, FieldError>
where
    T: FromStr<Err = gridsync_core::Error>,
{
    codes.iter().map(|c| parse(c)).collect()
}

/// The follow-up method is a plain serde enum in the core (no label table): parse its code
/// through serde so the accepted spellings stay the core's.
pub(crate) fn parse_follow_up_method(code: &str) -> Result<core::FollowUpMethod, FieldError> {
    serde_json::from_value(serde_json::Value::String(code.to_owned())).map_err(|_| {
        FieldError::invalid_input(
            "invalid_code",
            format!(
                "invalid FollowUpMethod code {:?}",
                code.chars().take(64).collect::<String>()
            ),
        )
    })
}

pub(crate) fn follow_up_method_code(m: core::FollowUpMethod) -> String {
    match serde_json::to_value(m) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_labels() {
        assert_eq!(code_list(CodeKind::Category).len(), 18);
        let l = code_label(CodeKind::Category, "LABOUR_WAGES".into()).unwrap();
        assert_eq!(l.label_zh, "劳资纠纷(欠薪)");
        assert!(code_label(CodeKind::EventKind, "FROM_THE_FUTURE".into()).is_none());
    }

    #[test]
    fn unknown_codes_are_typed_errors() {
        let e = parse::<core::Category>("LABOR").unwrap_err();
        assert_eq!(e.code(), "invalid_code");
        assert_eq!(
            parse_follow_up_method("VISIT").unwrap(),
            core::FollowUpMethod::Visit
        );
        assert_eq!(
            parse_follow_up_method("FAX").unwrap_err().code(),
            "invalid_code"
        );
        assert_eq!(follow_up_method_code(core::FollowUpMethod::Sms), "SMS");
    }
}
