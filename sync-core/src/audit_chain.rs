//! The center's audit chain hash: the center computes it as it appends an entry, and an
//! evidence bundle's reader recomputes it offline ([`crate::bundle::verify`]), so an entry
//! found in a bundle can be matched against the center's whole chain later.
//!
//! An entry's hash is SHA-256 (hex) over the previous entry's hash, a newline, and the
//! entry's canonical form: the JSON array `[seq, at, user_id, role, org_id, action, case_id,
//! detail]` with `detail` as the exact JSON text stored. The first entry chains to
//! [`GENESIS`].
//!
//! ```
//! use gridsync_core::audit_chain::{entry_hash, GENESIS};
//!
//! let first = entry_hash(GENESIS, 1, 1_700_000_000_000, "u-1", "ADMIN", "o-1", "SIGN_IN", None, "{}");
//! let second = entry_hash(&first, 2, 1_700_000_000_001, "u-1", "ADMIN", "o-1", "SIGN_OUT", None, "{}");
//! assert_ne!(first, second);
//! ```

use sha2::{Digest, Sha256};

/// What the first entry chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain hash of one entry.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    user_id: &str,
    role: &str,
    org_id: &str,
    action: &str,
    case_id: Option<&str>,
    detail: &str,
) -> String {
    let canonical =
        serde_json::json!([seq, at, user_id, role, org_id, action, case_id, detail]).to_string();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field_and_the_link() {
        let base = entry_hash(GENESIS, 1, 5, "u", "ADMIN", "o", "A", Some("c"), "{}");
        assert_eq!(base.len(), 64);
        for other in [
            entry_hash(GENESIS, 2, 5, "u", "ADMIN", "o", "A", Some("c"), "{}"),
            entry_hash(GENESIS, 1, 6, "u", "ADMIN", "o", "A", Some("c"), "{}"),
            entry_hash(GENESIS, 1, 5, "v", "ADMIN", "o", "A", Some("c"), "{}"),
            entry_hash(GENESIS, 1, 5, "u", "SUPERVISOR", "o", "A", Some("c"), "{}"),
            entry_hash(GENESIS, 1, 5, "u", "ADMIN", "p", "A", Some("c"), "{}"),
            entry_hash(GENESIS, 1, 5, "u", "ADMIN", "o", "B", Some("c"), "{}"),
            entry_hash(GENESIS, 1, 5, "u", "ADMIN", "o", "A", None, "{}"),
            entry_hash(
                GENESIS,
                1,
                5,
                "u",
                "ADMIN",
                "o",
                "A",
                Some("c"),
                "{\"a\":1}",
            ),
            entry_hash(&base, 1, 5, "u", "ADMIN", "o", "A", Some("c"), "{}"),
        ] {
            assert_ne!(base, other);
        }
    }
}
