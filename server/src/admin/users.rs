//! Users: list, create, change role and organisation, disable, set a password.
//!
//! A role belongs to a kind of organisation ([`fits`]); an administrator manages only
//! users whose organisation lies in their subtree, puts them only in organisations there,
//! never changes or disables themselves, and never removes the last active administrator.

use gridsync_core::workflow::Role;

use super::{Actor, OrgTree, check_id, check_name, conflict, out_of_scope, unknown_org};
use crate::audit;
use crate::auth;
use crate::db::Db;
use crate::db::accounts::{self, User};
use crate::policy::{Permission, Refusal};

/// Which kinds of organisation each role belongs to (docs/security.md): grid workers to a
/// village; village mediators to a village or a mediation room; department handlers to a
/// department or a mediation room (which handle what is dispatched to them); dispatchers,
/// supervisors and administrators to a center (of any tier). `SYSTEM` is the server's own
/// actor and belongs nowhere.
pub const ROLE_KINDS: &[(Role, &[&str])] = &[
    (Role::GridWorker, &["VILLAGE"]),
    (Role::VillageMediator, &["VILLAGE", "MEDIATION_ROOM"]),
    (Role::Dispatcher, &["CENTER"]),
    (Role::DepartmentHandler, &["DEPARTMENT", "MEDIATION_ROOM"]),
    (Role::Supervisor, &["CENTER"]),
    (Role::Admin, &["CENTER"]),
    (Role::System, &[]),
];

/// Whether a user of `role` may belong to an organisation of `kind`.
pub fn fits(role: Role, kind: &str) -> bool {
    ROLE_KINDS
        .iter()
        .any(|(r, kinds)| *r == role && kinds.contains(&kind))
}

/// The longest display name.
pub const DISPLAY_NAME_MAX: usize = 100;

/// A new user.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub username: String,
    /// Defaults to the username.
    pub display_name: Option<String>,
    /// A role code (`GRID_WORKER`, …).
    pub role: String,
    pub org_id: String,
    /// Generated (and returned once) when absent.
    pub password: Option<String>,
}

/// A change of role and/or organisation.
#[derive(Clone, Debug, Default)]
pub struct Assignment {
    pub role: Option<String>,
    pub org_id: Option<String>,
}

fn parse_role(code: &str) -> Result<Role, Refusal> {
    match code.trim().parse::<Role>() {
        Ok(r) if r != Role::System => Ok(r),
        _ => Err(Refusal::invalid(
            "invalid_role",
            "role",
            "GRID_WORKER, VILLAGE_MEDIATOR, DISPATCHER, DEPARTMENT_HANDLER, SUPERVISOR or ADMIN",
        )),
    }
}

fn check_fit(role: Role, tree: &OrgTree, org_id: &str) -> Result<(), Refusal> {
    let kind = tree.get(org_id).map(|o| o.kind.as_str()).unwrap_or("");
    if fits(role, kind) {
        Ok(())
    } else {
        let kinds = ROLE_KINDS
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, k)| k.join(" or "))
            .unwrap_or_default();
        Err(Refusal::invalid(
            "role_org_mismatch",
            "role",
            format!("a {} belongs to a {kinds}, not a {kind}", role.as_code()),
        ))
    }
}

/// A destination organisation named in a request: exists, and lies in the actor's reach.
fn destination(tree: &OrgTree, actor: &Actor<'_>, org_id: &str) -> Result<(), Refusal> {
    if tree.get(org_id).is_none() {
        return Err(unknown_org("org_id", org_id));
    }
    if !actor.reaches(tree, org_id) {
        return Err(out_of_scope("the organisation"));
    }
    Ok(())
}

/// The user `id`, who must be the actor's to manage.
async fn target(db: &Db, tree: &OrgTree, actor: &Actor<'_>, id: &str) -> Result<User, Refusal> {
    let user = db
        .user(id)
        .await?
        .ok_or_else(|| Refusal::NotFound("user_not_found", format!("no user {id:?}")))?;
    if !actor.reaches(tree, &user.org_id) {
        return Err(out_of_scope("the user's organisation"));
    }
    Ok(user)
}

fn not_self(actor: &Actor<'_>, id: &str, code: &'static str, what: &str) -> Result<(), Refusal> {
    if actor.user_id() == Some(id) {
        return Err(Refusal::Conflict(
            code,
            format!("administrators cannot {what} themselves; another administrator can"),
        ));
    }
    Ok(())
}

/// Refuses to take the last active administrator away.
async fn not_last_admin(conn: &mut crate::db::Conn, user: &User) -> Result<(), Refusal> {
    if user.role == Role::Admin && user.active && accounts::active_admins(conn).await? <= 1 {
        return Err(Refusal::Conflict(
            "last_admin",
            "this is the last active administrator".into(),
        ));
    }
    Ok(())
}

/// The users in the actor's reach (below `under`, when given), by username.
pub async fn list(db: &Db, actor: Actor<'_>, under: Option<&str>) -> Result<Vec<User>, Refusal> {
    actor.require(Permission::ManageUsers)?;
    let tree = OrgTree::load(db).await?;
    if let Some(org) = under {
        if tree.get(org).is_none() {
            return Err(unknown_org("org_id", org));
        }
        if !actor.reaches(&tree, org) {
            return Err(out_of_scope("the organisation"));
        }
    }
    Ok(db
        .users()
        .await?
        .into_iter()
        .filter(|u| actor.reaches(&tree, &u.org_id))
        .filter(|u| under.is_none_or(|o| tree.is_within(&u.org_id, o)))
        .collect())
}

async fn hash(password: String) -> Result<String, Refusal> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|_| Refusal::Failed(crate::Error::Config("hashing failed".into())))
}

fn check_password(password: &str) -> Result<(), Refusal> {
    auth::check_new_password(password).map_err(|m| Refusal::invalid("weak_password", "password", m))
}

/// Creates a user in an organisation the actor administers. Returns the user and, when the
/// password was generated, the password (shown once, never stored or logged in clear).
pub async fn create(
    db: &Db,
    actor: Actor<'_>,
    new: NewUser,
    now: i64,
) -> Result<(User, Option<String>), Refusal> {
    actor.require(Permission::ManageUsers)?;
    let username = new.username.trim().to_owned();
    check_id("username", &username)?;
    let display_name = check_name(
        "display_name",
        new.display_name.as_deref().unwrap_or(&username),
        DISPLAY_NAME_MAX,
    )?;
    let role = parse_role(&new.role)?;
    let tree = OrgTree::load(db).await?;
    destination(&tree, &actor, &new.org_id)?;
    check_fit(role, &tree, &new.org_id)?;
    let (password, generated) = match new.password {
        Some(p) => {
            check_password(&p)?;
            (p, false)
        }
        None => (auth::random_secret(), true),
    };
    let user = User {
        id: format!("u-{username}"),
        username,
        display_name,
        role,
        org_id: new.org_id,
        active: true,
    };
    let hashed = hash(password.clone()).await?;
    let mut tx = db.writer.begin().await?;
    accounts::insert_user(&mut tx, &user, &hashed, now)
        .await
        .map_err(conflict("username_taken"))?;
    let entry = actor.entry(
        audit::USER_CREATED,
        serde_json::json!({
            "user_id": user.id,
            "role": role.as_code(),
            "org_id": user.org_id,
            "password": if generated { "GENERATED" } else { "GIVEN" },
        }),
    );
    audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    tx.commit().await?;
    Ok((user, generated.then_some(password)))
}

/// Changes a user's role and/or organisation. Moving a user makes their phones rescan
/// (their scope is their organisation's); so does a new role (it decides what a phone
/// holds).
pub async fn assign(
    db: &Db,
    actor: Actor<'_>,
    id: &str,
    change: Assignment,
    now: i64,
) -> Result<User, Refusal> {
    actor.require(Permission::ManageUsers)?;
    if change.role.is_none() && change.org_id.is_none() {
        return Err(Refusal::invalid(
            "nothing_to_change",
            "role",
            "give a role, an org_id or both",
        ));
    }
    let tree = OrgTree::load(db).await?;
    let user = target(db, &tree, &actor, id).await?;
    not_self(
        &actor,
        id,
        "cannot_change_self",
        "change the role or organisation of",
    )?;
    let role = match change.role.as_deref() {
        Some(r) => parse_role(r)?,
        None => user.role,
    };
    let org_id = change.org_id.unwrap_or_else(|| user.org_id.clone());
    destination(&tree, &actor, &org_id)?;
    check_fit(role, &tree, &org_id)?;
    let mut tx = db.writer.begin().await?;
    if role != Role::Admin {
        not_last_admin(&mut tx, &user).await?;
    }
    accounts::assign_user(&mut tx, id, role, &org_id).await?;
    if role != user.role {
        if org_id == user.org_id {
            accounts::rescan_devices_of_user(&mut tx, id).await?;
        }
        let entry = actor.entry(
            audit::USER_ROLE_CHANGED,
            serde_json::json!({ "user_id": id, "from": user.role.as_code(), "to": role.as_code() }),
        );
        audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    }
    if org_id != user.org_id {
        let entry = actor.entry(
            audit::USER_MOVED,
            serde_json::json!({ "user_id": id, "from": user.org_id, "to": org_id }),
        );
        audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    }
    tx.commit().await?;
    Ok(User {
        role,
        org_id,
        ..user
    })
}

/// What disabling a user ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disabled {
    pub devices_revoked: Vec<String>,
    pub sessions_revoked: u64,
}

/// Disables a user: their devices are revoked (each wipes itself at its next contact),
/// their sessions end, their access tokens are refused from now on.
pub async fn disable(db: &Db, actor: Actor<'_>, id: &str, now: i64) -> Result<Disabled, Refusal> {
    actor.require(Permission::ManageUsers)?;
    let tree = OrgTree::load(db).await?;
    let user = target(db, &tree, &actor, id).await?;
    not_self(&actor, id, "cannot_disable_self", "disable")?;
    let mut tx = db.writer.begin().await?;
    not_last_admin(&mut tx, &user).await?;
    let (devices, ended) = accounts::disable_user_in(&mut tx, id, now).await?;
    let entry = actor.entry(
        audit::USER_DISABLED,
        serde_json::json!({ "user_id": id, "devices_revoked": devices, "sessions_revoked": ended }),
    );
    audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    for device in &devices {
        let entry = actor.entry(
            audit::DEVICE_REVOKED,
            serde_json::json!({ "device_id": device, "user_id": id }),
        );
        audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    }
    tx.commit().await?;
    Ok(Disabled {
        devices_revoked: devices,
        sessions_revoked: ended,
    })
}

/// Sets another user's password (an administrator's reset, or the operator's): every
/// session of theirs ends. Returns the sessions ended. A user's change of their own
/// password (with the old one) is `POST /v1/users/{id}/password`'s own path.
pub async fn set_password(
    db: &Db,
    actor: Actor<'_>,
    id: &str,
    password: String,
    now: i64,
) -> Result<u64, Refusal> {
    actor.require(Permission::ManageUsers)?;
    check_password(&password).map_err(|_| {
        Refusal::invalid(
            "weak_password",
            "new_password",
            auth::check_new_password(&password)
                .err()
                .unwrap_or_default(),
        )
    })?;
    let tree = OrgTree::load(db).await?;
    let user = target(db, &tree, &actor, id).await?;
    let hashed = hash(password).await?;
    let mut tx = db.writer.begin().await?;
    let ended = accounts::set_password_in(&mut tx, &user.id, &hashed, None, now).await?;
    let entry = actor.entry(
        audit::PASSWORD_CHANGED,
        serde_json::json!({ "user_id": user.id, "by": actor.by(), "sessions_revoked": ended }),
    );
    audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    tx.commit().await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_a_row_and_the_table_reads_as_documented() {
        assert_eq!(ROLE_KINDS.len(), Role::ALL.len());
        assert!(fits(Role::GridWorker, "VILLAGE"));
        assert!(!fits(Role::GridWorker, "CENTER"));
        assert!(fits(Role::DepartmentHandler, "MEDIATION_ROOM"));
        assert!(!fits(Role::Admin, "VILLAGE"));
        assert!(!fits(Role::System, "CENTER"));
    }
}
