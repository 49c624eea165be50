//! The directory (`GET /v1/directory`): the organisations a staff member works with, for the
//! console's pickers (a case's location, a dispatch's targets, the township and village
//! filters). One definition of who reaches whom stands behind it: [`super::reach::in_reach`],
//! the check every DISPATCH passes.
//!
//! What a caller sees, from their organisation:
//! - the centers and villages inside its area scope (its own scope prefix, or for a
//!   department or mediation room, which has none, the nearest one above it): the places a
//!   case may be recorded for, and the townships and villages of the filters (`in_scope`);
//! - every handling organisation (department, mediation room, village) within the reach of
//!   its center (the caller's organisation if a center, else the nearest center above);
//!   `dispatchable` exactly where a DISPATCH by the caller would pass the reach check (and
//!   the caller's role may dispatch at all);
//! - the centers above those, so each handling organisation hangs under the center it
//!   belongs to (a township's dispatcher sees the county center that the county's
//!   departments belong to; never another township's villages or departments).
//!
//! Depth first, parent before child (`admin::OrgTree`'s order).

use std::collections::BTreeSet;

use gridsync_core::workflow::{EventKind, may_author};

use super::reach::{HANDLING_KINDS, in_reach};
use crate::admin::OrgTree;
use crate::caller::Caller;
use crate::db::accounts::Org;
use crate::policy::{self, Permission, Refusal};
use crate::state::Center;

/// An organisation of the caller's directory.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DirectoryEntry {
    pub id: String,
    pub name: String,
    /// `CENTER`, `DEPARTMENT`, `VILLAGE` or `MEDIATION_ROOM`.
    pub kind: String,
    /// `VILLAGE`, `TOWNSHIP` or `COUNTY`.
    pub tier: String,
    /// 12-digit statistical division code.
    pub area_code: String,
    /// Absent at the top of the tree.
    pub parent_id: Option<String>,
    /// Whether a DISPATCH by the caller may name it: a handling organisation within the
    /// caller's reach, for a role that may dispatch.
    pub dispatchable: bool,
    /// Whether it is a center or village inside the caller's area scope: a place a case of
    /// the caller's may be recorded for, and a township or village to filter by.
    pub in_scope: bool,
}

/// The caller's directory (who may: `ReadCases` or `Intake`; 403 `not_permitted`
/// otherwise).
pub async fn directory(center: &Center, caller: &Caller) -> Result<Vec<DirectoryEntry>, Refusal> {
    if !(policy::permits(caller.user.role, Permission::ReadCases)
        || policy::permits(caller.user.role, Permission::Intake))
    {
        return Err(Refusal::NotPermitted(Permission::ReadCases));
    }
    let tree = OrgTree::load(&center.db).await?;
    Ok(entries(&tree, caller))
}

/// The directory of `caller` over `tree` (pure, for tests).
pub fn entries(tree: &OrgTree, caller: &Caller) -> Vec<DirectoryEntry> {
    // The caller's organisation as the tree has it now (the caller's own copy otherwise).
    let own = tree.get(&caller.org.id).unwrap_or(&caller.org);
    let scope = own
        .scope_prefix
        .as_deref()
        .or_else(|| tree.area_bound(&own.id));
    let reach_center: Option<&Org> = tree
        .lineage(&own.id)
        .filter_map(|id| tree.get(id))
        .find(|o| o.kind == "CENTER");
    let may_dispatch = policy::permits(caller.user.role, Permission::TakeSteps)
        && may_author(caller.user.role, EventKind::Dispatch);
    let parent_of = |o: &Org| o.parent_id.as_deref().and_then(|p| tree.get(p));

    let located = |o: &Org| {
        matches!(o.kind.as_str(), "CENTER" | "VILLAGE")
            && scope.is_some_and(|s| o.area_code.starts_with(s))
    };
    let handling = |o: &Org| {
        HANDLING_KINDS.contains(&o.kind.as_str())
            && reach_center.is_some_and(|c| in_reach(c, o, parent_of(o)))
    };
    let dispatchable = |o: &Org| {
        may_dispatch && HANDLING_KINDS.contains(&o.kind.as_str()) && in_reach(own, o, parent_of(o))
    };

    let order = tree.depth_first();
    let mut listed: BTreeSet<&str> = order
        .iter()
        .filter(|(o, _)| located(o) || handling(o))
        .map(|(o, _)| o.id.as_str())
        .collect();
    // The centers above every handling organisation listed, so each has its group.
    let above: Vec<&str> = listed
        .iter()
        .filter_map(|id| tree.get(id))
        .filter(|o| handling(o))
        .flat_map(|o| tree.lineage(&o.id).skip(1))
        .collect();
    listed.extend(above);
    order
        .into_iter()
        .filter(|(o, _)| listed.contains(o.id.as_str()))
        .map(|(o, _)| DirectoryEntry {
            id: o.id.clone(),
            name: o.name.clone(),
            kind: o.kind.clone(),
            tier: o.tier.as_code().to_owned(),
            area_code: o.area_code.clone(),
            parent_id: o.parent_id.clone(),
            dispatchable: dispatchable(o),
            in_scope: located(o),
        })
        .collect()
}
