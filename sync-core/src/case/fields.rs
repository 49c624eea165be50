//! Field rules: the one definition of what each text field of a case (and of a workflow
//! step) must hold. The typed operations, the judge of pushed changes, the center's API and
//! the apps' forms all read this table, so a title the phone accepts is a title the center
//! accepts, and a form can say so before anything is written.
//!
//! ```
//! use gridsync_core::case::{field_rule, FieldProblemKind, NewCase};
//!
//! let title = field_rule("title");
//! assert_eq!((title.required, title.max_chars), (true, 100));
//! let new = NewCase { title: "x".repeat(101), ..NewCase::default() };
//! let problems = new.problems();
//! assert_eq!(problems[0].field, "title");
//! assert_eq!(problems[0].kind, FieldProblemKind::TooLong);
//! assert_eq!(problems[0].message_zh(), "标题最多 100 个字");
//! ```

use serde::Serialize;

use crate::case::{MAX_ADDRESS_CHARS, MAX_CAPTION_CHARS, MAX_NAME_CHARS, MAX_NOTE_CHARS};
use crate::case::{MAX_SHORT_CHARS, MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, NewCase, PartyInput};

/// The longest text of a step: a reason, an outcome, an opinion (as a case's summary).
pub const MAX_STEP_TEXT_CHARS: usize = MAX_SUMMARY_CHARS;
/// An agreement's terms (well inside an event's 16 KiB payload).
pub const MAX_TERMS_CHARS: usize = 4000;

/// What one text field must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FieldRule {
    /// The field's name in the API, the documents and the errors (`title`, `reason`).
    pub field: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// Blank (after trimming) is refused.
    pub required: bool,
    /// Characters (Unicode scalar values), counted on the trimmed text when required.
    pub max_chars: usize,
    /// What is said of a missing value, in English (the core's error text).
    missing_en: &'static str,
}

const fn rule(
    field: &'static str,
    label_zh: &'static str,
    label_en: &'static str,
    required: bool,
    max_chars: usize,
    missing_en: &'static str,
) -> FieldRule {
    FieldRule {
        field,
        label_zh,
        label_en,
        required,
        max_chars,
        missing_en,
    }
}

/// Every text field's rule. Fields not listed (ids, codes) take the rule of ids and codes.
pub const FIELD_RULES: &[FieldRule] = &[
    rule(
        "title",
        "标题",
        "title",
        true,
        MAX_TITLE_CHARS,
        "a case needs a title",
    ),
    rule(
        "summary",
        "简要案情",
        "summary",
        false,
        MAX_SUMMARY_CHARS,
        "",
    ),
    rule("address", "地址", "address", false, MAX_ADDRESS_CHARS, ""),
    rule(
        "name",
        "姓名",
        "name",
        true,
        MAX_NAME_CHARS,
        "a party needs a name",
    ),
    rule(
        "id_number",
        "证件号码",
        "ID number",
        false,
        MAX_SHORT_CHARS,
        "",
    ),
    rule("phone", "联系电话", "phone", false, MAX_SHORT_CHARS, ""),
    rule("ethnicity", "民族", "ethnicity", false, MAX_SHORT_CHARS, ""),
    rule(
        "text",
        "工作记录",
        "note",
        true,
        MAX_NOTE_CHARS,
        "a note needs text",
    ),
    rule(
        "caption",
        "附件说明",
        "caption",
        false,
        MAX_CAPTION_CHARS,
        "",
    ),
    rule("mime", "文件类型", "MIME type", false, MAX_SHORT_CHARS, ""),
    rule(
        "reason",
        "理由",
        "reason",
        true,
        MAX_STEP_TEXT_CHARS,
        "a reason is required",
    ),
    rule(
        "outcome",
        "办理结果",
        "outcome",
        true,
        MAX_STEP_TEXT_CHARS,
        "an outcome is required",
    ),
    rule(
        "opinion",
        "协办意见",
        "opinion",
        true,
        MAX_STEP_TEXT_CHARS,
        "an opinion is required",
    ),
    rule("terms", "协议内容", "terms", false, MAX_TERMS_CHARS, ""),
    rule("note", "备注", "note", false, MAX_STEP_TEXT_CHARS, ""),
];

/// The rule of any other string (ids, codes, keys).
static OTHER: FieldRule = rule("value", "值", "value", false, MAX_SHORT_CHARS, "");

/// The rule of `field` (ids and codes: 64 characters, for a field the table does not name).
pub fn field_rule(field: &str) -> &'static FieldRule {
    FIELD_RULES
        .iter()
        .find(|r| r.field == field)
        .unwrap_or(&OTHER)
}

/// What is wrong with a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldProblemKind {
    Missing,
    TooLong,
    /// A format: an area code of 12 digits, a grid code inside its village, a position.
    Malformed,
    Negative,
}

/// One field that breaks its rule, with what to tell the person filling the form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The rule's field name (`title`, `name`); for a party's field the same name, with
    /// `item` its index among the parties.
    pub field: &'static str,
    pub item: Option<usize>,
    pub kind: FieldProblemKind,
    /// The limit broken, for `TooLong`.
    pub max_chars: usize,
    label_zh: &'static str,
    reason_en: String,
}

impl FieldProblem {
    fn new(rule: &'static FieldRule, kind: FieldProblemKind, reason_en: String) -> Self {
        FieldProblem {
            field: rule.field,
            item: None,
            kind,
            max_chars: rule.max_chars,
            label_zh: rule.label_zh,
            reason_en,
        }
    }

    /// A format problem of a field outside the text table (area and grid codes, amounts).
    pub(crate) fn malformed(field: &'static str, label_zh: &'static str, reason: &str) -> Self {
        FieldProblem {
            field,
            item: None,
            kind: FieldProblemKind::Malformed,
            max_chars: 0,
            label_zh,
            reason_en: reason.to_owned(),
        }
    }

    fn at(mut self, item: usize) -> Self {
        self.item = Some(item);
        self
    }

    /// The reason in English, as the core's `invalid_input` error says it.
    pub fn message_en(&self) -> &str {
        &self.reason_en
    }

    /// The reason in Chinese, for the form.
    pub fn message_zh(&self) -> String {
        let label = self.label_zh;
        match self.kind {
            FieldProblemKind::Missing => format!("请填写{label}"),
            FieldProblemKind::TooLong => format!("{label}最多 {} 个字", self.max_chars),
            FieldProblemKind::Malformed => format!("{label}格式不正确"),
            FieldProblemKind::Negative => format!("{label}不能为负数"),
        }
    }

    /// The core's error for it (`invalid_input`, with the field named).
    pub fn into_error(self) -> crate::Error {
        crate::Error::invalid(self.field, self.reason_en)
    }
}

impl FieldRule {
    /// The value's problem under this rule, if any. Required fields are stored trimmed, so
    /// their limit counts the trimmed text.
    pub fn check(&'static self, value: &str) -> Option<FieldProblem> {
        let counted = if self.required { value.trim() } else { value };
        if self.required && counted.is_empty() {
            return Some(FieldProblem::new(
                self,
                FieldProblemKind::Missing,
                self.missing_en.to_owned(),
            ));
        }
        (counted.chars().count() > self.max_chars).then(|| {
            FieldProblem::new(
                self,
                FieldProblemKind::TooLong,
                format!("at most {} characters", self.max_chars),
            )
        })
    }

    /// The same as a `Result` with the core's error.
    pub fn require(&'static self, value: &str) -> crate::Result<()> {
        self.check(value).map_or(Ok(()), |p| Err(p.into_error()))
    }
}

impl PartyInput {
    /// Every rule this party breaks.
    pub fn problems(&self) -> Vec<FieldProblem> {
        [
            ("name", &self.name),
            ("id_number", &self.id_number),
            ("phone", &self.phone),
            ("ethnicity", &self.ethnicity),
            ("address", &self.address),
        ]
        .into_iter()
        .filter_map(|(field, value)| field_rule(field).check(value))
        .collect()
    }
}

impl NewCase {
    /// Every rule this new case breaks, in form order (empty: `record` will take it). The
    /// same checks `CaseDoc::record` makes; it refuses with the first.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut out: Vec<FieldProblem> = [
            ("title", &self.title),
            ("summary", &self.summary),
            ("address", &self.address),
        ]
        .into_iter()
        .filter_map(|(field, value)| field_rule(field).check(value))
        .collect();
        if !super::is_area_code(&self.area_code) {
            out.push(FieldProblem::malformed(
                "area_code",
                "所属村(社区)",
                AREA_CODE_RULE,
            ));
        }
        if !self.grid_code.is_empty() && !super::is_grid_code(&self.grid_code, &self.area_code) {
            out.push(FieldProblem::malformed("grid_code", "网格", GRID_CODE_RULE));
        }
        if self.amount_involved < 0 {
            out.push(FieldProblem {
                kind: FieldProblemKind::Negative,
                ..FieldProblem::malformed("amount_involved", "涉及金额", "not negative")
            });
        }
        for (i, p) in self.parties.iter().enumerate() {
            out.extend(p.problems().into_iter().map(|x| x.at(i)));
        }
        out
    }
}

/// What an area code must be.
pub(crate) const AREA_CODE_RULE: &str = "12 digits (statistical division code)";
/// What a grid code must be.
pub(crate) const GRID_CODE_RULE: &str = "the area code followed by 3 digits";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_a_distinct_field_with_both_labels() {
        for (i, r) in FIELD_RULES.iter().enumerate() {
            assert!(!r.label_zh.is_empty() && !r.label_en.is_empty(), "{r:?}");
            assert!(r.max_chars > 0, "{r:?}");
            assert!(!r.required || !r.missing_en.is_empty(), "{r:?}");
            assert!(
                FIELD_RULES[..i].iter().all(|o| o.field != r.field),
                "{} twice",
                r.field
            );
        }
    }

    #[test]
    fn required_fields_count_trimmed_text() {
        let title = field_rule("title");
        assert_eq!(title.check("   ").unwrap().kind, FieldProblemKind::Missing);
        let padded = format!("  {}  ", "标".repeat(100));
        assert!(title.check(&padded).is_none());
        let long = title.check(&"标".repeat(101)).unwrap();
        assert_eq!(long.message_en(), "at most 100 characters");
        assert_eq!(long.message_zh(), "标题最多 100 个字");
        assert!(field_rule("summary").check("").is_none());
        assert_eq!(field_rule("no-such-field").field, "value");
    }

    #[test]
    fn a_new_case_lists_every_problem_with_its_party() {
        let new = NewCase {
            title: String::new(),
            area_code: "33".into(),
            amount_involved: -1,
            parties: vec![
                PartyInput {
                    name: "张三".into(),
                    ..PartyInput::default()
                },
                PartyInput::default(),
            ],
            ..NewCase::default()
        };
        let got: Vec<_> = new
            .problems()
            .iter()
            .map(|p| (p.field, p.item, p.kind))
            .collect();
        assert_eq!(
            got,
            [
                ("title", None, FieldProblemKind::Missing),
                ("area_code", None, FieldProblemKind::Malformed),
                ("amount_involved", None, FieldProblemKind::Negative),
                ("name", Some(1), FieldProblemKind::Missing),
            ]
        );
        assert_eq!(new.problems()[3].message_zh(), "请填写姓名");
    }
}
