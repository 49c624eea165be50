//! Random secrets and the ids that name them without revealing them: below both `auth`
//! (which signs with them) and `db` (which stores them).

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The key id of a secret: a hash prefix, so the id says nothing of the key, and the same
/// secret has the same id in every process (and in tools that mint tokens with it).
pub fn key_id(secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"gridsync jwt kid\n");
    h.update(secret);
    hex::encode(&h.finalize()[..8])
}

/// A fresh random secret (for the JWT key, and refresh tokens).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
