//! The organisation tree: list, create, rename, move (re-parent, re-scope).
//!
//! The tree's rules, for every writer: an organisation hangs under a center; a village is
//! of the village tier, and nothing sits at a higher tier than its parent; its area code
//! (12 digits) and scope prefix (digits, a prefix of the area code) lie inside the nearest
//! scope prefix above it, so the cases an organisation sees are never more than its
//! parent's. Moving an organisation keeps these for its whole subtree, never puts it under
//! itself or a descendant, and makes the phones of everyone below it rescan their scope.

use gridsync_core::case::{is_area_code, is_area_prefix};
use gridsync_core::workflow::Tier;

use super::{Actor, OrgTree, check_id, check_name, conflict, out_of_scope, unknown_org};
use crate::audit;
use crate::db::Db;
use crate::db::accounts::{self, ORG_KINDS, Org};
use crate::policy::{Permission, Refusal};

/// The longest organisation name.
pub const NAME_MAX: usize = 100;

/// A new organisation.
#[derive(Clone, Debug, Default)]
pub struct NewOrg {
    /// Generated (`org-` and 12 hex digits) when absent.
    pub id: Option<String>,
    /// Required of administrators (the operator may create a new top).
    pub parent_id: Option<String>,
    pub name: String,
    /// CENTER, DEPARTMENT, VILLAGE or MEDIATION_ROOM.
    pub kind: String,
    /// Defaults: a village VILLAGE, anything else its parent's tier (COUNTY at the top).
    pub tier: Option<Tier>,
    pub area_code: String,
    /// Defaults: a village its area code, a center the first 6 / 9 / 12 digits of its area
    /// code by tier (county / township / village), departments and mediation rooms none
    /// (they see only the cases dispatched to them).
    pub scope_prefix: Option<String>,
}

/// A move: a new parent, and optionally a new area code and scope prefix (absent: kept).
#[derive(Clone, Debug, Default)]
pub struct MoveOrg {
    pub parent_id: String,
    pub area_code: Option<String>,
    pub scope_prefix: Option<String>,
}

/// The organisations the actor administers, depth first, with their depth in the whole tree.
pub async fn list(db: &Db, actor: Actor<'_>) -> Result<Vec<(Org, usize)>, Refusal> {
    actor.require(Permission::ManageOrgs)?;
    let tree = OrgTree::load(db).await?;
    Ok(tree
        .depth_first()
        .into_iter()
        .filter(|(o, _)| actor.reaches(&tree, &o.id))
        .map(|(o, d)| (o.clone(), d))
        .collect())
}

fn tier_rank(t: Tier) -> u8 {
    match t {
        Tier::Village => 0,
        Tier::Township => 1,
        Tier::County => 2,
    }
}

fn default_scope(kind: &str, tier: Tier, area_code: &str) -> Option<String> {
    let len = match (kind, tier) {
        ("VILLAGE", _) | ("CENTER", Tier::Village) => 12,
        ("CENTER", Tier::Township) => 9,
        ("CENTER", Tier::County) => 6,
        _ => return None,
    };
    Some(area_code[..len].to_owned())
}

/// Checks one organisation's own fields against its parent (in `tree`).
fn check_fields(tree: &OrgTree, org: &Org) -> Result<(), Refusal> {
    if !ORG_KINDS.contains(&org.kind.as_str()) {
        return Err(Refusal::invalid(
            "invalid_kind",
            "kind",
            format!("one of {}", ORG_KINDS.join(", ")),
        ));
    }
    if org.kind == "VILLAGE" && org.tier != Tier::Village {
        return Err(Refusal::invalid(
            "invalid_tier",
            "tier",
            "a village is of the VILLAGE tier",
        ));
    }
    if !is_area_code(&org.area_code) {
        return Err(Refusal::invalid(
            "invalid_area_code",
            "area_code",
            "a 12-digit statistical division code",
        ));
    }
    if let Some(prefix) = &org.scope_prefix
        && !(is_area_prefix(prefix) && org.area_code.starts_with(prefix.as_str()))
    {
        return Err(Refusal::invalid(
            "invalid_scope_prefix",
            "scope_prefix",
            "1 to 12 digits, a prefix of the area code",
        ));
    }
    let Some(parent_id) = org.parent_id.as_deref() else {
        return Ok(());
    };
    let Some(parent) = tree.get(parent_id) else {
        return Err(unknown_org("parent_id", parent_id));
    };
    if parent.kind != "CENTER" {
        return Err(Refusal::invalid(
            "invalid_parent",
            "parent_id",
            "organisations hang under a center",
        ));
    }
    if tier_rank(org.tier) > tier_rank(parent.tier) {
        return Err(Refusal::invalid(
            "invalid_tier",
            "tier",
            format!("not above the parent's tier ({})", parent.tier.as_code()),
        ));
    }
    if let Some(bound) = tree.area_bound(parent_id) {
        let inside = |s: &str| s.starts_with(bound);
        if !inside(&org.area_code) || !org.scope_prefix.as_deref().is_none_or(inside) {
            return Err(Refusal::invalid(
                "area_outside_parent",
                "area_code",
                format!("the area code and scope prefix lie inside the parent's area {bound}"),
            ));
        }
    }
    Ok(())
}

/// Creates an organisation under one the actor administers. Returns it with its depth.
pub async fn create(
    db: &Db,
    actor: Actor<'_>,
    new: NewOrg,
    now: i64,
) -> Result<(Org, usize), Refusal> {
    actor.require(Permission::ManageOrgs)?;
    let tree = OrgTree::load(db).await?;
    let name = check_name("name", &new.name, NAME_MAX)?;
    let id = match new.id {
        Some(id) => {
            check_id("id", &id)?;
            id
        }
        None => format!("org-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
    };
    let kind = new.kind.trim().to_ascii_uppercase();
    let parent = match new.parent_id.as_deref() {
        Some(p) => {
            let parent = tree.get(p).ok_or_else(|| unknown_org("parent_id", p))?;
            if !actor.reaches(&tree, p) {
                return Err(out_of_scope("the parent organisation"));
            }
            Some(parent)
        }
        None if matches!(actor, Actor::Operator) => None,
        None => {
            return Err(Refusal::invalid(
                "parent_required",
                "parent_id",
                "a new organisation hangs under one you administer",
            ));
        }
    };
    let tier = new.tier.unwrap_or(match (kind.as_str(), parent) {
        ("VILLAGE", _) => Tier::Village,
        (_, Some(p)) => p.tier,
        (_, None) => Tier::County,
    });
    let scope_prefix = match new.scope_prefix {
        Some(p) => Some(p),
        None if is_area_code(&new.area_code) => default_scope(&kind, tier, &new.area_code),
        None => None,
    };
    let org = Org {
        id,
        parent_id: new.parent_id,
        name,
        kind,
        tier,
        area_code: new.area_code,
        scope_prefix,
    };
    check_fields(&tree, &org)?;
    let mut tx = db.writer.begin().await?;
    accounts::insert_org(&mut tx, &org, now)
        .await
        .map_err(conflict("org_exists"))?;
    let entry = actor.entry(
        audit::ORG_CREATED,
        serde_json::json!({
            "org_id": org.id,
            "parent_id": org.parent_id,
            "kind": org.kind,
            "tier": org.tier.as_code(),
            "area_code": org.area_code,
            "scope_prefix": org.scope_prefix,
        }),
    );
    audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    tx.commit().await?;
    let depth = org.parent_id.as_deref().map_or(0, |p| tree.depth(p) + 1);
    Ok((org, depth))
}

fn found<'t>(tree: &'t OrgTree, actor: &Actor<'_>, id: &str) -> Result<&'t Org, Refusal> {
    let org = tree
        .get(id)
        .ok_or_else(|| Refusal::NotFound("org_not_found", format!("no organisation {id:?}")))?;
    if !actor.reaches(tree, id) {
        return Err(out_of_scope("the organisation"));
    }
    Ok(org)
}

/// Renames an organisation the actor administers (their own included). Returns it with
/// its depth.
pub async fn rename(
    db: &Db,
    actor: Actor<'_>,
    id: &str,
    name: &str,
    now: i64,
) -> Result<(Org, usize), Refusal> {
    actor.require(Permission::ManageOrgs)?;
    let tree = OrgTree::load(db).await?;
    let mut org = found(&tree, &actor, id)?.clone();
    let name = check_name("name", name, NAME_MAX)?;
    let mut tx = db.writer.begin().await?;
    accounts::rename_org(&mut tx, id, &name).await?;
    let entry = actor.entry(
        audit::ORG_RENAMED,
        serde_json::json!({ "org_id": id, "from": org.name, "to": name }),
    );
    audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    tx.commit().await?;
    org.name = name;
    Ok((org, tree.depth(id)))
}

/// Moves an organisation below the actor's own to another parent they administer, and
/// re-scopes it if asked. The phones of everyone in its subtree rescan at their next sync.
/// Returns it with its new depth.
pub async fn move_to(
    db: &Db,
    actor: Actor<'_>,
    id: &str,
    to: MoveOrg,
    now: i64,
) -> Result<(Org, usize), Refusal> {
    actor.require(Permission::ManageOrgs)?;
    let mut tree = OrgTree::load(db).await?;
    let old = found(&tree, &actor, id)?.clone();
    if let Actor::Staff(caller) = actor
        && caller.org.id == id
    {
        return Err(Refusal::OutOfScope(
            "you cannot move your own organisation: its parent lies outside your reach".into(),
        ));
    }
    if tree.get(&to.parent_id).is_none() {
        return Err(unknown_org("parent_id", &to.parent_id));
    }
    if !actor.reaches(&tree, &to.parent_id) {
        return Err(out_of_scope("the new parent"));
    }
    if tree.is_within(&to.parent_id, id) {
        return Err(Refusal::invalid(
            "invalid_parent",
            "parent_id",
            "an organisation cannot move under itself or one of its descendants",
        ));
    }
    let moved = Org {
        parent_id: Some(to.parent_id.clone()),
        area_code: to.area_code.unwrap_or_else(|| old.area_code.clone()),
        scope_prefix: to.scope_prefix.or_else(|| old.scope_prefix.clone()),
        ..old.clone()
    };
    check_fields(&tree, &moved)?;
    tree.replace(moved.clone());
    // Everything below must still fit inside the moved organisation's new area.
    let subtree: Vec<Org> = tree.subtree(id).into_iter().cloned().collect();
    for below in subtree.iter().filter(|o| o.id != id) {
        check_fields(&tree, below).map_err(|_| {
            Refusal::invalid(
                "children_outside_area",
                "scope_prefix",
                format!(
                    "{} (below it) would lie outside its new area; move or re-scope it first",
                    below.id
                ),
            )
        })?;
    }
    let ids: Vec<String> = subtree.iter().map(|o| o.id.clone()).collect();
    let mut tx = db.writer.begin().await?;
    accounts::move_org(
        &mut tx,
        id,
        &to.parent_id,
        &moved.area_code,
        moved.scope_prefix.as_deref(),
    )
    .await?;
    let rescanning = accounts::rescan_devices_of_orgs(&mut tx, &ids).await?;
    let entry = actor.entry(
        audit::ORG_MOVED,
        serde_json::json!({
            "org_id": id,
            "from_parent": old.parent_id,
            "to_parent": to.parent_id,
            "area_code": [old.area_code, moved.area_code],
            "scope_prefix": [old.scope_prefix, moved.scope_prefix],
            "devices_rescanning": rescanning,
        }),
    );
    audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    tx.commit().await?;
    Ok((moved, tree.depth(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(
        id: &str,
        parent: Option<&str>,
        kind: &str,
        tier: Tier,
        area: &str,
        scope: Option<&str>,
    ) -> Org {
        Org {
            id: id.into(),
            parent_id: parent.map(Into::into),
            name: id.into(),
            kind: kind.into(),
            tier,
            area_code: area.into(),
            scope_prefix: scope.map(Into::into),
        }
    }

    fn tree() -> OrgTree {
        OrgTree::from_orgs([
            org(
                "county",
                None,
                "CENTER",
                Tier::County,
                "330182000000",
                Some("330182"),
            ),
            org(
                "town",
                Some("county"),
                "CENTER",
                Tier::Township,
                "330182101000",
                Some("330182101"),
            ),
            org(
                "dept",
                Some("town"),
                "DEPARTMENT",
                Tier::Township,
                "330182101000",
                None,
            ),
            org(
                "village",
                Some("town"),
                "VILLAGE",
                Tier::Village,
                "330182101201",
                Some("330182101201"),
            ),
        ])
    }

    /// The tree's rules as data: (the organisation, the expected code or "ok").
    #[test]
    fn fields_are_judged_against_the_parent() {
        let t = tree();
        let cases = [
            (
                org(
                    "v2",
                    Some("town"),
                    "VILLAGE",
                    Tier::Village,
                    "330182101202",
                    Some("330182101202"),
                ),
                "ok",
            ),
            (
                org(
                    "v2",
                    Some("town"),
                    "VILLAGE",
                    Tier::Township,
                    "330182101202",
                    None,
                ),
                "invalid_tier",
            ),
            (
                org(
                    "v2",
                    Some("town"),
                    "HAMLET",
                    Tier::Village,
                    "330182101202",
                    None,
                ),
                "invalid_kind",
            ),
            (
                org(
                    "v2",
                    Some("town"),
                    "VILLAGE",
                    Tier::Village,
                    "3301821012",
                    None,
                ),
                "invalid_area_code",
            ),
            (
                org(
                    "v2",
                    Some("town"),
                    "VILLAGE",
                    Tier::Village,
                    "330182101202",
                    Some("330182101203"),
                ),
                "invalid_scope_prefix",
            ),
            (
                org(
                    "v2",
                    Some("town"),
                    "VILLAGE",
                    Tier::Village,
                    "330182102202",
                    Some("330182102202"),
                ),
                "area_outside_parent",
            ),
            (
                org(
                    "v2",
                    Some("town"),
                    "CENTER",
                    Tier::County,
                    "330182101000",
                    Some("330182101"),
                ),
                "invalid_tier",
            ),
            (
                org(
                    "v2",
                    Some("village"),
                    "VILLAGE",
                    Tier::Village,
                    "330182101201",
                    None,
                ),
                "invalid_parent",
            ),
            (
                org(
                    "v2",
                    Some("dept"),
                    "VILLAGE",
                    Tier::Village,
                    "330182101201",
                    None,
                ),
                "invalid_parent",
            ),
            (
                org(
                    "v2",
                    Some("nowhere"),
                    "VILLAGE",
                    Tier::Village,
                    "330182101201",
                    None,
                ),
                "unknown_org",
            ),
            // A township center with a scope wider than its parent's: refused.
            (
                org(
                    "v2",
                    Some("town"),
                    "CENTER",
                    Tier::Township,
                    "330182101000",
                    Some("33"),
                ),
                "area_outside_parent",
            ),
        ];
        for (o, want) in cases {
            let got = check_fields(&t, &o)
                .map(|()| "ok")
                .unwrap_or_else(|r| r.code());
            assert_eq!(got, want, "{o:?}");
        }
    }

    #[test]
    fn lineage_depth_and_order() {
        let t = tree();
        assert_eq!(
            t.lineage("village").collect::<Vec<_>>(),
            ["village", "town", "county"]
        );
        assert!(t.is_within("dept", "town") && !t.is_within("town", "dept"));
        assert_eq!(t.depth("village"), 2);
        let order: Vec<_> = t
            .depth_first()
            .into_iter()
            .map(|(o, d)| (o.id.as_str(), d))
            .collect();
        assert_eq!(
            order,
            [("county", 0), ("town", 1), ("dept", 2), ("village", 2)]
        );
        assert_eq!(t.area_bound("dept"), Some("330182101"));
    }
}
