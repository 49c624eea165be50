//! What staff see live (`GET /v1/events`): the events the warning scanner, the intake and
//! the sync hooks publish, and who may see each. A leaf: publishers and the feed both
//! depend on it, it on nothing of theirs.

use serde::{Deserialize, Serialize};

use crate::county_time::Stamp;

/// Something staff see live: a warning raised, escalated or cleared, a high-risk case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveEvent {
    /// `warning`, `cleared`, `high_risk`, `supervised`.
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
    /// Whether staff of an organisation with this scope should see it.
    pub fn visible_to(&self, scope_prefix: Option<&str>, org_id: &str) -> bool {
        scope_prefix.is_some_and(|p| self.area_code.starts_with(p))
            || self.org_ids.iter().any(|o| o == org_id)
    }
}
