//! Passwords (argon2), short-lived access tokens (JWT, HS256) and rotating, device-bound
//! refresh tokens that outlast weeks offline and die with their device.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::secrets::{key_id, random_secret};

/// Access tokens live this long: short, since a stolen one cannot be revoked.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Refresh tokens: long enough for weeks in a village without signal (DESIGN §7).
pub const REFRESH_TTL_SECS: i64 = 60 * 24 * 3600;

/// Hashes a password for storage (argon2id, random salt, PHC string).
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// New passwords shorter than this are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// And longer than this (argon2 hashes whatever it is given).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a new password's length, the one rule (length is what makes a password hard to
/// guess); the message says what is wrong.
pub fn check_new_password(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err("a password has at least 10 characters");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err("a password has at most 1024 bytes");
    }
    Ok(())
}

/// What an access token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Device id the token was issued to.
    pub dev: String,
    pub iat: i64,
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
    /// Signed under a key id this process does not hold (yet: another process may have
    /// rotated the keys; [`Keys::reload`] and try again).
    UnknownKey,
}

/// Keys retired by a rotation stay accepted this long: an access token's life, plus the
/// time other server processes take to load the new key ([`KEY_RELOAD_EVERY`]), plus margin.
pub const RETIRED_KEY_GRACE_MS: i64 = (ACCESS_TTL_SECS + 5 * 60) * 1000;
/// How often a server reloads keys kept in the database.
pub const KEY_RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// One HS256 key and its id (the `kid` header of the tokens it signs).
struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &[u8]) -> Key {
        Key {
            kid: key_id(secret),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// The signing keys: the current one signs, previous ones still verify (until the tokens
/// they signed have expired).
pub struct Keys {
    set: std::sync::RwLock<KeySet>,
    /// When the set was last loaded from the database, so a flood of tokens with made-up
    /// key ids costs one reload a second, not one each.
    loaded_at: std::sync::Mutex<Option<std::time::Instant>>,
    /// Kept in the database (reloaded after rotations), not given by the operator.
    reloadable: bool,
}

struct KeySet {
    current: Arc<Key>,
    previous: Vec<Arc<Key>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// One key.
    pub fn new(secret: &[u8]) -> Keys {
        Keys::with_previous(secret, &[])
    }

    /// A current key and previous ones that still verify.
    pub fn with_previous(current: &[u8], previous: &[&[u8]]) -> Keys {
        Keys {
            set: std::sync::RwLock::new(KeySet {
                current: Arc::new(Key::new(current)),
                previous: previous.iter().map(|s| Arc::new(Key::new(s))).collect(),
            }),
            loaded_at: std::sync::Mutex::new(None),
            reloadable: false,
        }
    }

    /// Keys given by the operator (`--jwt-key-file`, `GRIDSYNC_JWT_SECRET`): one per line,
    /// the first signs. Each at least 16 characters.
    pub fn from_lines(text: &str) -> crate::Result<Keys> {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let Some((first, rest)) = lines.split_first() else {
            return Err(crate::Error::Config("the JWT key is empty".into()));
        };
        if lines.iter().any(|l| l.len() < 16) {
            return Err(crate::Error::Config(
                "the JWT secret must be at least 16 characters".into(),
            ));
        }
        let rest: Vec<&[u8]> = rest.iter().map(|l| l.as_bytes()).collect();
        Ok(Keys::with_previous(first.as_bytes(), &rest))
    }

    /// Keys kept in the database: generated on first start (or taken over from the
    /// `settings` row of earlier versions), rotated by `gridsync admin rotate-jwt-key`.
    pub async fn load(db: &crate::db::Db, now_ms: i64) -> crate::Result<Keys> {
        db.ensure_jwt_key(now_ms).await?;
        let mut keys = Keys::new(b"placeholder, replaced below");
        keys.reloadable = true;
        keys.reload(db, now_ms).await?;
        Ok(keys)
    }

    /// Loads the keys kept in the database again (after a rotation).
    pub async fn reload(&self, db: &crate::db::Db, now_ms: i64) -> crate::Result<()> {
        let rows = db.jwt_keys(now_ms - RETIRED_KEY_GRACE_MS).await?;
        *self.loaded_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
        // Newest first; the newest key not retired signs.
        let Some(current) = rows.iter().find(|r| r.retired_at.is_none()) else {
            return Err(crate::Error::Config(
                "no current JWT key in the database".into(),
            ));
        };
        let set = KeySet {
            current: Arc::new(Key::new(current.secret.as_bytes())),
            previous: rows
                .iter()
                .filter(|r| r.kid != current.kid)
                .map(|r| Arc::new(Key::new(r.secret.as_bytes())))
                .collect(),
        };
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = set;
        Ok(())
    }

    /// [`Keys::reload`] unless the keys were loaded in the last second; `true` if it
    /// reloaded. For tokens under an unknown key id: another process may have rotated.
    pub async fn reload_if_stale(&self, db: &crate::db::Db, now_ms: i64) -> crate::Result<bool> {
        let fresh = self
            .loaded_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1));
        if fresh {
            return Ok(false);
        }
        self.reload(db, now_ms).await?;
        Ok(true)
    }

    /// Whether the keys are kept in the database (and may be rotated under us).
    pub fn reloadable(&self) -> bool {
        self.reloadable
    }

    /// The id of the key that signs now.
    pub fn current_kid(&self) -> String {
        self.set
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .current
            .kid
            .clone()
    }

    pub fn issue(&self, user_id: &str, device_id: &str, now_secs: i64) -> String {
        let claims = Claims {
            sub: user_id.into(),
            dev: device_id.into(),
            iat: now_secs,
            exp: now_secs + ACCESS_TTL_SECS,
        };
        let key = self
            .set
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .current
            .clone();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).expect("HS256 signing cannot fail")
    }

    /// Verifies signature, algorithm (HS256 only: `alg: none` and others are refused) and
    /// expiry against the injected clock. The `kid` header picks the key; a token without
    /// one (issued before keys had ids) is tried against every key held.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, TokenError> {
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenError::Invalid)?
            .kid;
        let candidates: Vec<Arc<Key>> = {
            let set = self.set.read().unwrap_or_else(|p| p.into_inner());
            std::iter::once(&set.current)
                .chain(&set.previous)
                .filter(|k| kid.as_ref().is_none_or(|kid| *kid == k.kid))
                .cloned()
                .collect()
        };
        if candidates.is_empty() {
            return Err(TokenError::UnknownKey);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against our clock, not the system's.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        let claims = candidates
            .iter()
            .find_map(|k| jsonwebtoken::decode::<Claims>(token, &k.decoding, &validation).ok())
            .ok_or(TokenError::Invalid)?
            .claims;
        if claims.exp <= now_secs {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Reloads database-kept keys every `every`, so a rotation reaches every process.
pub async fn reload_keys_every(
    db: crate::db::Db,
    clock: Arc<dyn gridsync_core::clock::Clock>,
    keys: Arc<Keys>,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = keys.reload(&db, clock.now().0).await {
            tracing::warn!(error = %e, "reloading the JWT keys failed; keeping the ones held");
        }
    }
}

/// Refresh tokens are stored only as their SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_tokens_expire_on_our_clock() {
        let h = hash_password("s3cret");
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("S3cret", &h));
        assert!(!verify_password("s3cret", "not a phc string"));

        let keys = Keys::new(b"k1");
        let t = keys.issue("u1", "d1", 1000);
        assert_eq!(keys.verify(&t, 1001).unwrap().dev, "d1");
        assert_eq!(
            keys.verify(&t, 1000 + ACCESS_TTL_SECS),
            Err(TokenError::Expired)
        );
        // Another key: its id is not the token's (the HTTP layer answers `invalid_token`).
        assert_eq!(
            Keys::new(b"k2").verify(&t, 1001),
            Err(TokenError::UnknownKey)
        );
        // alg: none with the same claims.
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(r#"{"sub":"u1","dev":"d1","iat":1,"exp":99999999999}"#)
        );
        assert_eq!(keys.verify(&none, 1001), Err(TokenError::Invalid));
    }

    #[test]
    fn a_rotated_key_still_verifies_what_it_signed_and_ids_pick_the_key() {
        let old = Keys::new(b"old-secret-0123456789");
        let before = old.issue("u1", "d1", 1000);
        let rotated = Keys::with_previous(b"new-secret-0123456789", &[b"old-secret-0123456789"]);
        assert_eq!(rotated.verify(&before, 1001).unwrap().sub, "u1");
        let after = rotated.issue("u1", "d1", 1000);
        assert_ne!(rotated.current_kid(), key_id(b"old-secret-0123456789"));
        // The old set does not know the new key id: the caller reloads and tries again.
        assert_eq!(old.verify(&after, 1001), Err(TokenError::UnknownKey));
        // Once the previous key is dropped, its tokens are refused.
        let later = Keys::new(b"new-secret-0123456789");
        assert_eq!(later.verify(&before, 1001), Err(TokenError::UnknownKey));
        // A token without `kid` (issued before keys had ids) is tried against every key.
        let legacy = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                sub: "u1".into(),
                dev: "d1".into(),
                iat: 1000,
                exp: 2000,
            },
            &EncodingKey::from_secret(b"old-secret-0123456789"),
        )
        .unwrap();
        assert_eq!(rotated.verify(&legacy, 1001).unwrap().dev, "d1");
        assert_eq!(later.verify(&legacy, 1001), Err(TokenError::Invalid));
        // Several keys from a key file, the first signing.
        let file = Keys::from_lines("new-secret-0123456789\n\nold-secret-0123456789\n").unwrap();
        assert_eq!(file.current_kid(), rotated.current_kid());
        assert!(file.verify(&before, 1001).is_ok());
        assert!(Keys::from_lines("short").is_err());
        assert!(Keys::from_lines(" \n").is_err());
    }
}
