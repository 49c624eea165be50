//! Devices: list (with their last sync and app version) and revoke, for users the actor
//! administers.

use super::{Actor, OrgTree, out_of_scope};
use crate::audit;
use crate::db::Db;
use crate::db::accounts::{self, DeviceInfo};
use crate::policy::{Permission, Refusal};

/// The devices of users in the actor's reach (of one user, when given), newest first.
pub async fn list(
    db: &Db,
    actor: Actor<'_>,
    user_id: Option<&str>,
) -> Result<Vec<DeviceInfo>, Refusal> {
    actor.require(Permission::ManageDevices)?;
    let tree = OrgTree::load(db).await?;
    Ok(db
        .device_infos()
        .await?
        .into_iter()
        .filter(|d| actor.reaches(&tree, &d.org_id))
        .filter(|d| user_id.is_none_or(|u| d.user_id == u))
        .collect())
}

/// Revokes a device: its refresh tokens end, its next request is refused and its next
/// sync tells it to wipe. Not the device the administrator calls from. Returns the device as it is now; revoking a revoked device
/// changes (and audits) nothing.
pub async fn revoke(db: &Db, actor: Actor<'_>, id: &str, now: i64) -> Result<DeviceInfo, Refusal> {
    actor.require(Permission::ManageDevices)?;
    let tree = OrgTree::load(db).await?;
    let device = db
        .device_info(id)
        .await?
        .ok_or_else(|| Refusal::NotFound("device_not_found", format!("no device {id:?}")))?;
    if !actor.reaches(&tree, &device.org_id) {
        return Err(out_of_scope("the device's user"));
    }
    if let Actor::Staff(caller) = actor
        && caller.device_id == id
    {
        // Like disabling oneself: the console would lock its own administrator out
        // mid-work. Signing out (`/v1/auth/logout`) ends one's own session.
        return Err(Refusal::Conflict(
            "cannot_revoke_own_device",
            "this is the device you are calling from; sign out instead".into(),
        ));
    }
    let mut tx = db.writer.begin().await?;
    if accounts::revoke_device_in(&mut tx, id, now).await? {
        let entry = actor.entry(
            audit::DEVICE_REVOKED,
            serde_json::json!({ "device_id": id, "user_id": device.user_id }),
        );
        audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    }
    tx.commit().await?;
    Ok(DeviceInfo {
        revoked_at: device.revoked_at.or(Some(now)),
        ..device
    })
}
