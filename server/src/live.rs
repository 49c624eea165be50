//! What staff see live (`GET /v1/events`): the events the warning scanner, the intake and
//! the sync hooks publish, and who may see each. A leaf: publishers and the feed both
//! depend on it, it on nothing of theirs.

use serde::{Deserialize, Serialize};

use crate::county_time::Stamp;

/// Something staff see live: a warning raised, escalated or cleared, a high-risk case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveEvent {
    /// `warning`, `cleared`, `high_risk`, `supervised`, `case_new` (the center lists a case
    /// from now on: recorded at intake, or a phone's case out of its draft).
    pub event: String,
    pub case_id: String,
    pub kind: String,
    pub level: String,
    pub area_code: String,
    /// Organisations the case is assigned to or handled by.
    pub org_ids: Vec<String>,
    pub due_at: Option<Stamp>,
}

impl LiveEvent {
    /// A case the center lists from now on (`kind` `CASE`, `level` `NONE`).
    pub fn case_new(case_id: String, area_code: String, org_ids: Vec<String>) -> LiveEvent {
        LiveEvent {
            event: "case_new".into(),
            case_id,
            kind: "CASE".into(),
            level: "NONE".into(),
            area_code,
            org_ids,
            due_at: None,
        }
    }

    /// Whether staff of an organisation with this scope should see it.
    pub fn visible_to(&self, scope_prefix: Option<&str>, org_id: &str) -> bool {
        scope_prefix.is_some_and(|p| self.area_code.starts_with(p))
            || self.org_ids.iter().any(|o| o == org_id)
    }
}
