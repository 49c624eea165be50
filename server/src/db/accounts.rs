//! Organisations, users, devices with their bound actor ids, and refresh tokens.

use gridsync_core::workflow::{Role, Tier};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::Db;
use crate::error::{Error, Result};

/// A node of the organisation tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: String,
    /// CENTER, DEPARTMENT, VILLAGE, MEDIATION_ROOM.
    pub kind: String,
    pub tier: Tier,
    pub area_code: String,
    /// Cases whose area code starts with this are in scope; `None`: only cases dispatched
    /// to the organisation.
    pub scope_prefix: Option<String>,
}

/// The kinds of organisation.
pub const ORG_KINDS: &[&str] = &["CENTER", "DEPARTMENT", "VILLAGE", "MEDIATION_ROOM"];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: String,
    pub active: bool,
}

/// A stored refresh token (by hash).
#[derive(Clone, Debug)]
pub(crate) struct RefreshRow {
    pub(crate) family_id: String,
    pub(crate) user_id: String,
    pub(crate) device_id: String,
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
}

fn org_from_row(r: &sqlx::any::AnyRow) -> Result<Org> {
    let tier: String = r.try_get("tier")?;
    Ok(Org {
        id: r.try_get("id")?,
        parent_id: r.try_get("parent_id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        tier: tier.parse().unwrap_or_default(),
        area_code: r.try_get("area_code")?,
        scope_prefix: r.try_get("scope_prefix")?,
    })
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<User> {
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: role
            .parse()
            .map_err(|_| Error::Invalid(format!("stored role {role:?}")))?,
        org_id: r.try_get("org_id")?,
        active: r.try_get::<i64, _>("active")? != 0,
    })
}

impl Db {
    pub async fn create_org(&self, org: &Org, now: i64) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        insert_org(&mut conn, org, now).await
    }

    pub async fn org(&self, id: &str) -> Result<Option<Org>> {
        let row = sqlx::query("SELECT * FROM orgs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    pub async fn orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query("SELECT * FROM orgs ORDER BY area_code, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(org_from_row).collect()
    }

    /// The centers (综治中心) whose area holds `area`, the county's first: who answers for a
    /// case there (the system actor's organisation, the supervisors to tell).
    pub async fn centers_over(&self, area: &str) -> Result<Vec<Org>> {
        let mut centers: Vec<Org> = self
            .orgs()
            .await?
            .into_iter()
            .filter(|o| o.kind == "CENTER")
            .filter(|o| {
                o.scope_prefix
                    .as_deref()
                    .is_some_and(|p| area.starts_with(p))
            })
            .collect();
        centers.sort_by_key(|o| o.scope_prefix.as_ref().map_or(usize::MAX, String::len));
        Ok(centers)
    }

    pub async fn create_user(&self, user: &User, password_hash: &str, now: i64) -> Result<()> {
        if self.org(&user.org_id).await?.is_none() {
            return Err(Error::Invalid(format!("no organisation {:?}", user.org_id)));
        }
        let mut conn = self.writer.acquire().await?;
        insert_user(&mut conn, user, password_hash, now).await
    }

    /// Every user, by username.
    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The user and their password hash.
    pub(crate) async fn user_by_username(&self, username: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// A user by username (for `gridsync admin`).
    pub async fn user_named(&self, username: &str) -> Result<Option<User>> {
        Ok(self.user_by_username(username).await?.map(|(u, _)| u))
    }

    pub(crate) async fn password_hash(&self, user_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets a user's password hash and ends their sessions (refresh tokens), except those of
    /// `keep_device` (the phone the user changed it from). Returns the sessions ended.
    pub async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_device: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        let ended = set_password_in(&mut tx, user_id, password_hash, keep_device, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Disables a user: their devices are revoked (each wipes itself at its next contact),
    /// their refresh tokens end, and their access tokens are refused from now on (the
    /// `AuthUser` check reads `active` and the device on every request). Returns the devices
    /// revoked now and the sessions ended.
    pub async fn disable_user(&self, user_id: &str, now: i64) -> Result<(Vec<String>, u64)> {
        let mut tx = self.writer.begin().await?;
        let done = disable_user_in(&mut tx, user_id, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Moves a user to another organisation: their phones' scope follows at the next sync.
    pub async fn move_user(&self, user_id: &str, org_id: &str) -> Result<()> {
        if self.org(org_id).await?.is_none() {
            return Err(Error::Invalid(format!("no organisation {org_id:?}")));
        }
        let done = sqlx::query("UPDATE users SET org_id = $2 WHERE id = $1")
            .bind(user_id)
            .bind(org_id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("user"));
        }
        Ok(())
    }

    /// Registers (or touches) a device for `user_id`. Refuses a revoked device, and a device
    /// id already registered to another user.
    pub(crate) async fn register_device(
        &self,
        device_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<DeviceState> {
        let row = sqlx::query("SELECT user_id, revoked_at FROM devices WHERE id = $1")
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => {
                sqlx::query(
                    "INSERT INTO devices (id, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(device_id)
                .bind(user_id)
                .bind(now)
                .execute(&self.writer)
                .await?;
                Ok(DeviceState::Active)
            }
            Some(r) => {
                let owner: String = r.try_get("user_id")?;
                let revoked: Option<i64> = r.try_get("revoked_at")?;
                if revoked.is_some() {
                    Ok(DeviceState::Revoked)
                } else if owner != user_id {
                    Ok(DeviceState::OtherUser)
                } else {
                    Ok(DeviceState::Active)
                }
            }
        }
    }

    /// Binds Automerge actor ids to a device. An actor bound to another device, a center's
    /// actor, or any actor already in the change log is refused: changes are attributable
    /// to exactly one device, and a device writing under the center's actor could make the
    /// center's next change on a case clash with it (issue 12).
    /// With `key`, each actor's changes are to be signed with that key (registered first
    /// with [`Db::register_key`]); an actor keeps the first key it was bound with, so
    /// what it signed stays verifiable.
    pub(crate) async fn bind_actors(
        &self,
        device_id: &str,
        actors: &[String],
        key: Option<&str>,
    ) -> Result<()> {
        for actor in actors {
            if actor.is_empty() || actor.len() > 64 || !actor.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(Error::Invalid(format!("actor id {actor:?} is not hex")));
            }
            let actor = actor.to_ascii_lowercase();
            let reserved: Option<i64> =
                sqlx::query_scalar("SELECT reserved_at FROM reserved_actors WHERE actor = $1")
                    .bind(&actor)
                    .fetch_optional(&self.pool)
                    .await?;
            if reserved.is_some() {
                return Err(Error::Conflict(format!(
                    "actor {actor} is already in the change log"
                )));
            }
            sqlx::query("INSERT INTO device_actors (actor, device_id) VALUES ($1, $2) ON CONFLICT (actor) DO NOTHING")
                .bind(&actor)
                .bind(device_id)
                .execute(&self.writer)
                .await?;
            // Read back from the writer: two devices racing for one actor, one wins.
            let owner: Option<String> =
                sqlx::query_scalar("SELECT device_id FROM device_actors WHERE actor = $1")
                    .bind(&actor)
                    .fetch_optional(&self.writer)
                    .await?;
            if owner.as_deref() != Some(device_id) {
                return Err(Error::Conflict(format!(
                    "actor {actor} belongs to another device"
                )));
            }
            if let Some(key) = key {
                sqlx::query(
                    "UPDATE device_actors SET public_key = $2
                     WHERE actor = $1 AND public_key IS NULL",
                )
                .bind(&actor)
                .bind(key)
                .execute(&self.writer)
                .await?;
            }
        }
        Ok(())
    }

    /// Reserves the actor a server process writes under, so no device can bind it.
    pub async fn reserve_actor(&self, actor: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO reserved_actors (actor, reserved_at) VALUES ($1, $2) ON CONFLICT (actor) DO NOTHING",
        )
        .bind(actor.to_ascii_lowercase())
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The device's actors, each with the public key (hex) its changes are signed with
    /// (`None`: bound before the device registered a key).
    pub(crate) async fn device_actors(
        &self,
        device_id: &str,
    ) -> Result<Vec<(String, Option<String>)>> {
        Ok(
            sqlx::query_as("SELECT actor, public_key FROM device_actors WHERE device_id = $1")
                .bind(device_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Whose each device key is: (key, device, user id, user's display name, first seen,
    /// revoked), for the keys given (hex) that the center knows.
    pub(crate) async fn key_owners(&self, keys: &[String]) -> Result<Vec<KeyOwner>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let row: Option<KeyOwner> = sqlx::query_as(
                "SELECT k.public_key, k.device_id, d.user_id, u.display_name, k.first_seen_at, k.revoked_at
                 FROM device_keys k JOIN devices d ON d.id = k.device_id
                 LEFT JOIN users u ON u.id = d.user_id
                 WHERE k.public_key = $1",
            )
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
            out.extend(row);
        }
        Ok(out)
    }

    /// Registers an installation's public key (hex) to its device, or notes it seen again.
    /// A key registered to another device is refused ([`Error::Conflict`]): a signature
    /// names exactly one device.
    pub(crate) async fn register_key(&self, device_id: &str, key: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_keys (public_key, device_id, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $3) ON CONFLICT (public_key) DO NOTHING",
        )
        .bind(key)
        .bind(device_id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        // Read back from the writer: two devices racing for one key, one wins.
        let owner: Option<String> =
            sqlx::query_scalar("SELECT device_id FROM device_keys WHERE public_key = $1")
                .bind(key)
                .fetch_optional(&self.writer)
                .await?;
        if owner.as_deref() != Some(device_id) {
            return Err(Error::Conflict(
                "this signing key is registered to another device".into(),
            ));
        }
        sqlx::query("UPDATE device_keys SET last_seen_at = $2 WHERE public_key = $1")
            .bind(key)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Registers `key` (hex) to the device ([`Db::register_key`]) and gives it to the
    /// device's actors bound without one. Returns those actors. An actor that has a key
    /// keeps it: what it signed stays verifiable. Every refresh calls it: with no actor
    /// left to take a key (nearly always), it only reads.
    pub(crate) async fn adopt_key(
        &self,
        device_id: &str,
        key: &str,
        now: i64,
    ) -> Result<Vec<String>> {
        let keyless: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM device_actors WHERE device_id = $1 AND public_key IS NULL",
        )
        .bind(device_id)
        .fetch_one(&self.pool)
        .await?;
        if keyless == 0 {
            return Ok(Vec::new());
        }
        self.register_key(device_id, key, now).await?;
        let actors: Vec<String> = sqlx::query_scalar(
            "UPDATE device_actors SET public_key = $2
             WHERE device_id = $1 AND public_key IS NULL RETURNING actor",
        )
        .bind(device_id)
        .bind(key)
        .fetch_all(&self.writer)
        .await?;
        Ok(actors)
    }

    /// Who writes under an Automerge actor (lowercase hex): `Some((device, user))` for a
    /// device's actor, `Some(("", ""))` for one the center reserved (its own, any process's),
    /// `None` for an actor nobody registered.
    pub(crate) async fn actor_writer(&self, actor: &str) -> Result<Option<(String, String)>> {
        let actor = actor.to_ascii_lowercase();
        let device: Option<(String, String)> = sqlx::query_as(
            "SELECT d.id, d.user_id FROM device_actors a JOIN devices d ON d.id = a.device_id
             WHERE a.actor = $1",
        )
        .bind(&actor)
        .fetch_optional(&self.pool)
        .await?;
        if device.is_some() {
            return Ok(device);
        }
        let reserved: Option<i64> =
            sqlx::query_scalar("SELECT reserved_at FROM reserved_actors WHERE actor = $1")
                .bind(&actor)
                .fetch_optional(&self.pool)
                .await?;
        Ok(reserved.map(|_| (String::new(), String::new())))
    }

    /// The caller behind a token, as the database knows them now (role and organisation
    /// changes apply at once), with their device's state.
    pub(crate) async fn principal(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<Option<Principal>> {
        let row = sqlx::query(
            "SELECT d.revoked_at, d.user_id AS device_user, d.app_version FROM devices d WHERE d.id = $1",
        )
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let device_user: String = row.try_get("device_user")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        let app_version: Option<String> = row.try_get("app_version")?;
        if device_user != user_id {
            return Ok(None);
        }
        let Some(user) = self.user(user_id).await? else {
            return Ok(None);
        };
        let Some(org) = self.org(&user.org_id).await? else {
            return Ok(None);
        };
        Ok(Some(Principal {
            user,
            org,
            revoked: revoked.is_some(),
            app_version,
        }))
    }

    pub(crate) async fn touch_device(&self, device_id: &str, now: i64) -> Result<()> {
        // Minute resolution: most syncs then write nothing (and cost no fsync).
        sqlx::query(
            "UPDATE devices SET last_seen_at = $2
             WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2 - 60000)",
        )
        .bind(device_id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Revokes a device: its tokens die, its next sync is told to wipe.
    pub async fn revoke_device(&self, device_id: &str, now: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        if !revoke_device_in(&mut tx, device_id, now).await?
            && !self.device_exists(device_id).await?
        {
            return Err(Error::NotFound("device"));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn device_exists(&self, device_id: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE id = $1")
            .bind(device_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    pub(crate) async fn insert_refresh(
        &self,
        token_hash: &str,
        family_id: &str,
        user_id: &str,
        device_id: &str,
        issued_at: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, device_id, issued_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(family_id)
        .bind(user_id)
        .bind(device_id)
        .bind(issued_at)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub(crate) async fn refresh_row(&self, token_hash: &str) -> Result<Option<RefreshRow>> {
        let row = sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(RefreshRow {
                family_id: r.try_get("family_id")?,
                user_id: r.try_get("user_id")?,
                device_id: r.try_get("device_id")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .transpose()
    }

    /// Marks a refresh token used; `false` if someone else used it first (a race between
    /// two refreshes with one token counts as reuse).
    pub(crate) async fn use_refresh(&self, token_hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn revoke_family(&self, family_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        )
        .bind(family_id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

/// A token's user and organisation now, and its device's state.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    pub(crate) user: User,
    pub(crate) org: Org,
    pub(crate) revoked: bool,
    /// What the device last said it runs ([`DeviceInfo::app_version`]).
    pub(crate) app_version: Option<String>,
}

/// A device key and whom it belongs to (see [`Db::key_owners`]).
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct KeyOwner {
    pub(crate) public_key: String,
    pub(crate) device_id: String,
    pub(crate) user_id: String,
    pub(crate) display_name: Option<String>,
    pub(crate) first_seen_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

/// What `register_device` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceState {
    Active,
    Revoked,
    OtherUser,
}

fn conflict_or(e: sqlx::Error, message: &str) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(message.into()),
        _ => Error::Database(e),
    }
}

/// A device as administrators see it (`GET /v1/devices`, `gridsync admin device list`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    pub id: String,
    pub user_id: String,
    pub username: String,
    /// The user's organisation now.
    pub org_id: String,
    pub created_at: i64,
    /// Its last sync (minute resolution; its registration until it syncs).
    pub last_seen_at: Option<i64>,
    /// The sanitized `User-Agent` it last spoke with, e.g. `gridsync-ffi/0.1.0`.
    pub app_version: Option<String>,
    pub revoked_at: Option<i64>,
}

fn device_from_row(r: &sqlx::any::AnyRow) -> Result<DeviceInfo> {
    Ok(DeviceInfo {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        username: r.try_get("username")?,
        org_id: r.try_get("org_id")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        app_version: r.try_get("app_version")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

const DEVICE_COLUMNS: &str =
    "SELECT d.id, d.user_id, u.username, u.org_id, d.created_at, d.last_seen_at,
            d.app_version, d.revoked_at
     FROM devices d JOIN users u ON u.id = d.user_id";

impl Db {
    /// Every device with its user, newest first.
    pub async fn device_infos(&self) -> Result<Vec<DeviceInfo>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DEVICE_COLUMNS} ORDER BY d.created_at DESC, d.id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    pub async fn device_info(&self, id: &str) -> Result<Option<DeviceInfo>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DEVICE_COLUMNS} WHERE d.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    /// Records the app a device speaks with (already sanitized by the caller). Writes only
    /// when it changed, so a request costs no write once the version is known.
    pub(crate) async fn set_app_version(&self, device_id: &str, app_version: &str) -> Result<()> {
        sqlx::query(
            "UPDATE devices SET app_version = $2
             WHERE id = $1 AND (app_version IS NULL OR app_version <> $2)",
        )
        .bind(device_id)
        .bind(app_version)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

/// Inserts an organisation (kind and area code checked here too, for every writer).
pub(crate) async fn insert_org(conn: &mut sqlx::AnyConnection, org: &Org, now: i64) -> Result<()> {
    if !ORG_KINDS.contains(&org.kind.as_str()) {
        return Err(Error::Invalid(format!(
            "org kind must be one of {ORG_KINDS:?}"
        )));
    }
    if !gridsync_core::case::is_area_code(&org.area_code) {
        return Err(Error::Invalid("area_code must be 12 digits".into()));
    }
    sqlx::query(
        "INSERT INTO orgs (id, parent_id, name, kind, tier, area_code, scope_prefix, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&org.id)
    .bind(&org.parent_id)
    .bind(&org.name)
    .bind(&org.kind)
    .bind(org.tier.as_code())
    .bind(&org.area_code)
    .bind(&org.scope_prefix)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "an organisation with this id exists"))?;
    Ok(())
}

pub(crate) async fn rename_org(conn: &mut sqlx::AnyConnection, id: &str, name: &str) -> Result<()> {
    let done = sqlx::query("UPDATE orgs SET name = $2 WHERE id = $1")
        .bind(id)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("organisation"));
    }
    Ok(())
}

/// Re-parents an organisation and sets its area code and scope prefix (unchanged values
/// may be passed as they are).
pub(crate) async fn move_org(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    parent_id: &str,
    area_code: &str,
    scope_prefix: Option<&str>,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE orgs SET parent_id = $2, area_code = $3, scope_prefix = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(parent_id)
    .bind(area_code)
    .bind(scope_prefix)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("organisation"));
    }
    Ok(())
}

/// Makes the devices of the users of these organisations rescan their whole scope at their
/// next sync (the pull compares `scope_org` with the user's organisation). Returns the
/// devices touched.
pub(crate) async fn rescan_devices_of_orgs(
    conn: &mut sqlx::AnyConnection,
    org_ids: &[String],
) -> Result<u64> {
    let mut n = 0;
    for org in org_ids {
        n += sqlx::query(
            "UPDATE devices SET scope_org = NULL
             WHERE user_id IN (SELECT id FROM users WHERE org_id = $1) AND scope_org IS NOT NULL",
        )
        .bind(org)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(n)
}

/// The same for one user's devices (a role change: what the device holds changes).
pub(crate) async fn rescan_devices_of_user(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE devices SET scope_org = NULL WHERE user_id = $1 AND scope_org IS NOT NULL",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

pub(crate) async fn insert_user(
    conn: &mut sqlx::AnyConnection,
    user: &User,
    password_hash: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (id, username, display_name, password_hash, role, org_id, active, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(&user.display_name)
    .bind(password_hash)
    .bind(user.role.as_code())
    .bind(&user.org_id)
    .bind(i64::from(user.active))
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a user with this username exists"))?;
    Ok(())
}

/// Sets a user's role and organisation.
pub(crate) async fn assign_user(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    role: Role,
    org_id: &str,
) -> Result<()> {
    let done = sqlx::query("UPDATE users SET role = $2, org_id = $3 WHERE id = $1")
        .bind(user_id)
        .bind(role.as_code())
        .bind(org_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("user"));
    }
    Ok(())
}

/// Active administrators, on the writer (inside the change that would remove one).
pub(crate) async fn active_admins(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1 AND active = 1")
            .bind(Role::Admin.as_code())
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// [`Db::set_password`] inside a transaction.
pub(crate) async fn set_password_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    password_hash: &str,
    keep_device: Option<&str>,
    now: i64,
) -> Result<u64> {
    let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(password_hash)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("user"));
    }
    Ok(sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2
         WHERE user_id = $1 AND revoked_at IS NULL AND device_id <> $3",
    )
    .bind(user_id)
    .bind(now)
    .bind(keep_device.unwrap_or(""))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// [`Db::disable_user`] inside a transaction.
pub(crate) async fn disable_user_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    now: i64,
) -> Result<(Vec<String>, u64)> {
    let done = sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("user"));
    }
    let devices: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM devices WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query("UPDATE devices SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    // Their signing keys with them (issue 17).
    sqlx::query(
        "UPDATE device_keys SET revoked_at = $2 WHERE revoked_at IS NULL
           AND device_id IN (SELECT id FROM devices WHERE user_id = $1)",
    )
    .bind(user_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let ended = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((devices, ended))
}

/// Revokes a device, ends its refresh tokens and drops its unfinished evidence uploads;
/// `false` if it was not live (revoked before, or no such device).
pub(crate) async fn revoke_device_in(
    conn: &mut sqlx::AnyConnection,
    device_id: &str,
    now: i64,
) -> Result<bool> {
    let done =
        sqlx::query("UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(device_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE device_id = $1 AND revoked_at IS NULL",
    )
    .bind(device_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // Its unfinished evidence uploads go too: nobody can continue them. Their chunk
    // objects, recorded nowhere now, go with the evidence collector's next pass.
    sqlx::query(
        "DELETE FROM evidence_chunks WHERE EXISTS (SELECT 1 FROM evidence_uploads u
             WHERE u.case_id = evidence_chunks.case_id AND u.sha256 = evidence_chunks.sha256
               AND u.device_id = $1)",
    )
    .bind(device_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM evidence_uploads WHERE device_id = $1")
        .bind(device_id)
        .execute(&mut *conn)
        .await?;
    // Its signing keys with it: nothing signed later under them is accepted (issue 17).
    sqlx::query(
        "UPDATE device_keys SET revoked_at = $2 WHERE device_id = $1 AND revoked_at IS NULL",
    )
    .bind(device_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
