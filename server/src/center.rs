//! The center's own work on cases, beside what phones push. Calls run down this list:
//! [`casework`] (notes, corrections, payments, settling conflicts), [`tasks`] (my tasks:
//! the workflow's `task_for` over the caller's scope), [`suggest`] (a matching rule as a
//! suggested dispatch, confirmed in one step) and [`intake`] (one-stop intake: record,
//! alert, auto-dispatch) → [`rules`] (automatic
//! dispatch) and [`warnings`] (the scanner, supervision, high-risk alerts, the live feed) →
//! [`cases`] (the list, workflow steps, case numbers) → [`reach`] (who may be dispatched
//! to) and [`limits`] (time limits per tier, category and area). Every edit of a case
//! document goes through `sync-core`'s typed operations and the one change-log writer
//! (`db::cases::append_changes`), so it reaches the phones at their next sync.

pub mod bundle;
pub mod cases;
pub mod casework;
pub mod directory;
pub mod intake;
pub mod limits;
pub mod reach;
pub mod rules;
pub mod steps;
pub mod suggest;
pub mod tasks;
pub mod warnings;

use crate::policy::Refusal;

/// What every configuration rule (dispatch, time limits) must be, whoever writes it: an id of
/// 1 to 64 characters, a known category, an area prefix that is one. 400 `invalid_input`
/// naming the field.
fn check_rule_fields(
    id: &str,
    category: Option<&str>,
    area_prefix: Option<&str>,
) -> std::result::Result<(), Refusal> {
    let invalid = |field: &str, message: String| Refusal::invalid("invalid_input", field, message);
    if id.trim().is_empty() || id.len() > 64 {
        return Err(invalid("id", "1 to 64 characters".into()));
    }
    if let Some(c) = category {
        c.parse::<gridsync_core::case::Category>()
            .map_err(|e| invalid("category", e.to_string()))?;
    }
    if area_prefix.is_some_and(|p| !gridsync_core::case::is_area_prefix(p)) {
        return Err(invalid(
            "area_prefix",
            "a prefix of a 12-digit area code".into(),
        ));
    }
    Ok(())
}
