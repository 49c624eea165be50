//! Ed25519 signatures (issue 17): each installation signs every change it pushes over the
//! change's Automerge hash, and the center signs its own changes and its evidence bundles.
//! A change hash commits to the change's bytes (and its dependencies), so a signature over
//! the 32-byte hash is a signature over the change.
//!
//! ```
//! use gridsync_core::signing::{KeyPair, verify_change};
//!
//! let key = KeyPair::generate();
//! let hash = [7u8; 32];
//! let signature = key.sign_change(&hash);
//! assert!(verify_change(&key.public_key(), &hash, &signature));
//! assert!(!verify_change(&key.public_key(), &[8u8; 32], &signature)); // replayed elsewhere
//! assert!(!verify_change(&KeyPair::generate().public_key(), &hash, &signature));
//! ```

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

/// Bytes of a signature on the wire and in bundles.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of a public key.
pub const PUBLIC_KEY_LEN: usize = 32;

/// A public key's bytes.
pub type PublicKey = [u8; PUBLIC_KEY_LEN];
/// A signature's bytes.
pub type SignatureBytes = [u8; SIGNATURE_LEN];

/// What a bundle record's signature covers besides its bytes: a record can never pass for a
/// change hash (32 bytes, signed bare) nor for a record of another format.
const RECORD_CONTEXT: &[u8] = b"gridsync evidence bundle v1\0";

/// An Ed25519 key pair. The secret never leaves the store it was made in (the phone's
/// `meta` table, the center's database).
#[derive(Clone)]
pub struct KeyPair(SigningKey);

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never printed.
        write!(f, "KeyPair({})", hex::encode(self.public_key()))
    }
}

impl KeyPair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> KeyPair {
        use rand::TryRngCore as _;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut secret)
            .expect("the operating system's random source failed");
        KeyPair(SigningKey::from_bytes(&secret))
    }

    /// The key kept as hex (64 characters); `None` if it is not one.
    pub fn from_secret_hex(hex_secret: &str) -> Option<KeyPair> {
        let bytes: [u8; 32] = hex::decode(hex_secret.trim()).ok()?.try_into().ok()?;
        Some(KeyPair(SigningKey::from_bytes(&bytes)))
    }

    /// The secret as hex, for the store that keeps it.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn public_key(&self) -> PublicKey {
        self.0.verifying_key().to_bytes()
    }

    /// Signs a change over its Automerge hash.
    pub fn sign_change(&self, hash: &[u8; 32]) -> SignatureBytes {
        self.0.sign(hash).to_bytes()
    }

    /// Signs a bundle record's exact bytes.
    pub fn sign_record(&self, record: &[u8]) -> SignatureBytes {
        self.0.sign(&record_message(record)).to_bytes()
    }
}

/// Whether `signature` is `key`'s over the change hash `hash`. Strict verification: no
/// malleable or small-order forms.
pub fn verify_change(key: &PublicKey, hash: &[u8; 32], signature: &SignatureBytes) -> bool {
    verify(key, hash, signature)
}

/// Whether `signature` is `key`'s over the bundle record `record`.
pub fn verify_record(key: &PublicKey, record: &[u8], signature: &SignatureBytes) -> bool {
    verify(key, &record_message(record), signature)
}

fn verify(key: &PublicKey, message: &[u8], signature: &SignatureBytes) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(signature))
        .is_ok()
}

fn record_message(record: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(RECORD_CONTEXT.len() + record.len());
    message.extend_from_slice(RECORD_CONTEXT);
    message.extend_from_slice(record);
    message
}

/// A public key as a phone sends it at sign-in: 64 hex characters or the base64 of 32
/// bytes (standard or URL-safe, padded or not). `None` for anything else, and for bytes
/// that are not a point of the curve.
pub fn parse_public_key(text: &str) -> Option<PublicKey> {
    let text = text.trim();
    let bytes = if text.len() == 2 * PUBLIC_KEY_LEN {
        hex::decode(text).ok()?
    } else {
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        engines.iter().find_map(|e| e.decode(text).ok())?
    };
    let key: PublicKey = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&key).ok()?;
    Some(key)
}

/// A key's id: the first 8 bytes of its SHA-256, in hex (short enough to print, long enough
/// never to collide within a county).
pub fn key_id(key: &PublicKey) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(key)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_parse_in_both_spellings() {
        let key = KeyPair::generate();
        let again = KeyPair::from_secret_hex(&key.secret_hex()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let public = key.public_key();
        assert_eq!(parse_public_key(&hex::encode(public)), Some(public));
        let b64 = base64::engine::general_purpose::STANDARD.encode(public);
        assert_eq!(parse_public_key(&b64), Some(public));
        assert_eq!(parse_public_key("abcd"), None);
        assert_eq!(parse_public_key(&hex::encode([0u8; 31])), None);
        // A record signature is not a change signature, even over the same bytes.
        let hash = [3u8; 32];
        let s = key.sign_record(&hash);
        assert!(!verify_change(&public, &hash, &s));
        assert!(verify_record(&public, &hash, &s));
    }
}
