//! Signing in: the center's `/v1/auth/*` JSON contract, and where the tokens live.
//!
//! The tokens, the server URL and the signed-in user are kept in the store itself
//! (`FieldStore::set_setting`), as one JSON value under the key `session`: the refresh
//! token rotates on every refresh and the center treats a reused one as theft, so the new
//! refresh token must never be written apart from the rest (one value, one SQLite
//! transaction). The store is the app's private file; a revoked device's wipe takes the
//! tokens with everything else.

use gridsync_core::store::FieldStore;
use gridsync_core::workflow as wf;

use crate::FieldError;
use crate::workflow::Role;

/// The settings key of the stored session.
const SESSION_KEY: &str = "session";
/// Set on logout: the identity the core keeps must not author anything until the next login.
const SIGNED_OUT_KEY: &str = "signed_out";
/// Refresh this long before the access token's stated expiry: clocks on phones drift.
const EXPIRY_MARGIN_MS: i64 = 60_000;

/// Who is signed in on this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Session {
    pub server_url: String,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: String,
    pub org_name: String,
    /// The user's 12-digit area code: `record_case` uses it when a case names none.
    pub area_code: String,
    /// When the refresh token runs out (ms since the epoch; 0 if the center did not say).
    /// Past it, syncing needs a new login; recording offline goes on.
    pub refresh_expires_at: i64,
    /// The center no longer accepts this device's tokens (the refresh token expired or was
    /// refused): recording goes on offline, syncing needs `login` again.
    pub needs_login: bool,
}

/// `POST /v1/auth/login`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct LoginRequest<'a> {
    pub(crate) username: &'a str,
    pub(crate) password: &'a str,
    pub(crate) device_id: &'a str,
    /// The Automerge actor ids this device writes with (hex), so the center can bind the
    /// changes it receives to this device.
    pub(crate) actor_ids: Vec<String>,
    /// This installation's Ed25519 public key (hex): the center verifies the signature
    /// every pushed change carries with it (issue 17).
    pub(crate) signing_key: String,
}

/// `POST /v1/auth/refresh`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct RefreshRequest<'a> {
    pub(crate) refresh_token: &'a str,
    pub(crate) device_id: &'a str,
    /// Sent on every refresh: an app updated while signed in registers its key here, and
    /// its actors bound without one take it (they keep a key they have).
    pub(crate) signing_key: String,
}

/// `POST /v1/auth/logout`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct LogoutRequest<'a> {
    pub(crate) refresh_token: &'a str,
}

/// The answer to login and refresh.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenReply {
    access_token: String,
    /// Seconds.
    expires_in: i64,
    refresh_token: String,
    /// Seconds.
    #[serde(default)]
    refresh_expires_in: Option<i64>,
    user: UserReply,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct UserReply {
    id: String,
    username: String,
    #[serde(default)]
    display_name: String,
    role: String,
    org_id: String,
    #[serde(default)]
    org_name: String,
    #[serde(default)]
    area_code: String,
}

/// What the store keeps.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Stored {
    server_url: String,
    pub(crate) access_token: String,
    /// ms since the epoch.
    access_expires_at: i64,
    pub(crate) refresh_token: String,
    refresh_expires_at: i64,
    user: UserReply,
}

impl Stored {
    pub(crate) fn server_url(&self) -> &str {
        &self.server_url
    }

    /// Whether the access token is (nearly) expired at `now`.
    pub(crate) fn access_expired(&self, now: i64) -> bool {
        now.saturating_add(EXPIRY_MARGIN_MS) >= self.access_expires_at
    }

    pub(crate) fn session(&self) -> Session {
        let u = &self.user;
        Session {
            server_url: self.server_url.clone(),
            user_id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            // Checked when stored.
            role: wf::Role::from_code(&u.role)
                .map(Role::from)
                .unwrap_or(Role::GridWorker),
            org_id: u.org_id.clone(),
            org_name: u.org_name.clone(),
            area_code: u.area_code.clone(),
            refresh_expires_at: self.refresh_expires_at,
            needs_login: self.refresh_token.is_empty(),
        }
    }
}

/// The stored session, if any. A value that does not parse (written by a newer app and
/// then downgraded) reads as none: the user signs in again.
pub(crate) fn load(store: &FieldStore) -> Result<Option<Stored>, FieldError> {
    Ok(store
        .setting(SESSION_KEY)?
        .and_then(|s| serde_json::from_str(&s).ok()))
}

/// Stores a login or refresh answer and makes its user the store's identity.
pub(crate) fn save(
    store: &mut FieldStore,
    server_url: &str,
    reply: TokenReply,
    now: i64,
) -> Result<Stored, FieldError> {
    let role = wf::Role::from_code(&reply.user.role).ok_or_else(|| FieldError::Server {
        code: "unexpected_response".to_owned(),
        detail: format!("the center named an unknown role {:?}", reply.user.role),
    })?;
    let secs = |s: i64| s.saturating_mul(1000);
    let stored = Stored {
        server_url: server_url.to_owned(),
        access_token: reply.access_token,
        access_expires_at: now.saturating_add(secs(reply.expires_in)),
        refresh_token: reply.refresh_token,
        refresh_expires_at: reply
            .refresh_expires_in
            .map(|s| now.saturating_add(secs(s)))
            .unwrap_or(0),
        user: reply.user,
    };
    let json = serde_json::to_string(&stored).map_err(|e| FieldError::internal(e.to_string()))?;
    // The rotated refresh token first: losing it would lock the device out.
    store.set_setting(SESSION_KEY, Some(&json))?;
    store.set_identity(&wf::Author::new(
        stored.user.id.as_str(),
        role,
        stored.user.org_id.as_str(),
    ))?;
    store.set_setting(SIGNED_OUT_KEY, None)?;
    Ok(stored)
}

/// Forgets the tokens the center refused but keeps who the user is: work goes on offline
/// under the same identity, and the next login restores syncing.
pub(crate) fn expire(store: &FieldStore, mut stored: Stored) -> Result<(), FieldError> {
    stored.access_token.clear();
    stored.refresh_token.clear();
    let json = serde_json::to_string(&stored).map_err(|e| FieldError::internal(e.to_string()))?;
    store.set_setting(SESSION_KEY, Some(&json))?;
    Ok(())
}

/// Signs out: forgets the session, and marks the store so the identity the core keeps
/// authors nothing until the next login (the core's store cannot forget an identity short
/// of a wipe).
pub(crate) fn sign_out(store: &FieldStore) -> Result<(), FieldError> {
    store.set_setting(SIGNED_OUT_KEY, Some("1"))?;
    store.set_setting(SESSION_KEY, None)?;
    Ok(())
}

/// Refuses writes after a logout, with the core's own code for "nobody signed in".
pub(crate) fn check_may_write(store: &FieldStore) -> Result<(), FieldError> {
    if store.setting(SIGNED_OUT_KEY)?.is_some() {
        return Err(FieldError::auth(
            "no_identity",
            "signed out: sign in to record or change cases",
        ));
    }
    Ok(())
}

/// The signed-in user's area, for cases recorded without one.
pub(crate) fn area_code(store: &FieldStore) -> Result<Option<String>, FieldError> {
    Ok(load(store)?
        .map(|s| s.user.area_code)
        .filter(|a| !a.is_empty()))
}
