//! Passwords (argon2), short-lived access tokens (JWT, HS256) and rotating, device-bound
//! refresh tokens that outlast weeks offline and die with their device.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
}

/// The signing keys.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    pub fn new(secret: &[u8]) -> Keys {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(&self, user_id: &str, device_id: &str, now_secs: i64) -> String {
        let claims = Claims {
            sub: user_id.into(),
            dev: device_id.into(),
            iat: now_secs,
            exp: now_secs + ACCESS_TTL_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// Verifies signature, algorithm (HS256 only: `alg: none` and others are refused) and
    /// expiry against the injected clock.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against our clock, not the system's.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.exp <= now_secs {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }
}

/// A fresh random secret (for the JWT key, and refresh tokens).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
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
        assert_eq!(Keys::new(b"k2").verify(&t, 1001), Err(TokenError::Invalid));
        // alg: none with the same claims.
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(r#"{"sub":"u1","dev":"d1","iat":1,"exp":99999999999}"#)
        );
        assert_eq!(keys.verify(&none, 1001), Err(TokenError::Invalid));
    }
}
