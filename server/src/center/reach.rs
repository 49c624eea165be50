//! Who a center may dispatch to (its reach), and the registered organisations behind a
//! dispatch's targets.

use crate::db::Db;
use crate::db::accounts::Org;
use crate::policy::Refusal;

/// Organisation kinds that handle cases, so may be dispatched to: departments, specialised
/// mediation rooms, and villages (the village's people's mediation committee, whose
/// village mediator signs for the case: the village tier of 三级联动). Not a center: none of
/// a center's roles may sign for a dispatch (`may_author`), so a case dispatched to one
/// would be stranded.
pub const HANDLING_KINDS: &[&str] = &["DEPARTMENT", "MEDIATION_ROOM", "VILLAGE"];

/// Whether `center` may dispatch to `target` (whose parent organisation is `parent`): its
/// reach. A center reaches the villages under its scope, and the departments and mediation
/// rooms attached to a center at, below or above it on its own branch of the tree (by
/// area: the attached center's scope and the dispatcher's are prefixes one of the other).
/// So the county center reaches every township's police station and judicial office, a
/// township center its own departments and the county's, never another township's.
pub fn in_reach(center: &Org, target: &Org, parent: Option<&Org>) -> bool {
    let Some(scope) = center.scope_prefix.as_deref() else {
        return false;
    };
    match target.kind.as_str() {
        "VILLAGE" => target.area_code.starts_with(scope),
        "DEPARTMENT" | "MEDIATION_ROOM" => parent.is_some_and(|p| {
            p.kind == "CENTER"
                && p.scope_prefix
                    .as_deref()
                    .is_some_and(|q| q.starts_with(scope) || scope.starts_with(q))
        }),
        _ => false,
    }
}

/// The registered organisations behind a dispatch's `to`, in order, each checked: known (400
/// `invalid_action` naming `to`), able to handle cases (400), within `center`'s reach
/// ([`in_reach`]; 403 `out_of_scope`). `code` is the 400 code of the caller's API.
pub async fn dispatch_targets(
    db: &Db,
    center: &Org,
    to: &[String],
    code: &'static str,
    field: &str,
) -> Result<Vec<Org>, Refusal> {
    if to.is_empty() {
        return Err(Refusal::invalid(
            code,
            field,
            "name at least one organisation",
        ));
    }
    let mut orgs: Vec<Org> = Vec::with_capacity(to.len());
    for id in to {
        if orgs.iter().any(|o| &o.id == id) {
            return Err(Refusal::invalid(
                code,
                field,
                format!("{id:?} is named twice"),
            ));
        }
        let Some(org) = db.org(id).await? else {
            return Err(Refusal::invalid(
                code,
                field,
                format!("no organisation {id:?}"),
            ));
        };
        if !HANDLING_KINDS.contains(&org.kind.as_str()) {
            return Err(Refusal::invalid(
                code,
                field,
                format!(
                    "{id:?} is a {}; cases go to one of {HANDLING_KINDS:?}",
                    org.kind
                ),
            ));
        }
        let parent = match &org.parent_id {
            Some(p) => db.org(p).await?,
            None => None,
        };
        if !in_reach(center, &org, parent.as_ref()) {
            return Err(Refusal::OutOfScope(format!(
                "{id:?} is outside the reach of {}",
                center.id
            )));
        }
        orgs.push(org);
    }
    Ok(orgs)
}
