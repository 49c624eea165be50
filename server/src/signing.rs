//! The center's own Ed25519 key (issue 17): it signs the changes the center writes to the
//! log (console steps, intake, system steps: `center::cases::log_changes`) and the records
//! of evidence bundles. Generated at the database's first start and kept in `signing_keys`
//! like the JWT keys; every key is published at `GET /.well-known/gridsync-signing-keys`.

use std::sync::Arc;

use gridsync_core::signing::{self, KeyPair, PublicKey};

use crate::error::{Error, Result};

/// The key that signs now.
#[derive(Clone, Debug)]
pub struct CenterKey {
    pub kid: String,
    pair: Arc<KeyPair>,
}

impl CenterKey {
    /// The current key from the database, generated there first if there is none.
    pub async fn load(db: &crate::db::Db, now: i64) -> Result<CenterKey> {
        db.ensure_signing_key(now, || {
            let pair = KeyPair::generate();
            let public = pair.public_key();
            (
                signing::key_id(&public),
                pair.secret_hex(),
                hex::encode(public),
            )
        })
        .await?;
        let rows = db.signing_keys().await?;
        let row = rows
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or_else(|| Error::Config("no current signing key in the database".into()))?;
        let pair = KeyPair::from_secret_hex(&row.secret)
            .ok_or_else(|| Error::Config(format!("signing key {} is not 32 bytes hex", row.kid)))?;
        Ok(CenterKey {
            kid: row.kid.clone(),
            pair: Arc::new(pair),
        })
    }

    /// A key held in memory only (tests, tools).
    pub fn ephemeral() -> CenterKey {
        let pair = KeyPair::generate();
        CenterKey {
            kid: signing::key_id(&pair.public_key()),
            pair: Arc::new(pair),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.pair.public_key()
    }

    /// Signs a change the center wrote, over its hash.
    pub fn sign_change(&self, hash: &[u8; 32]) -> [u8; 64] {
        self.pair.sign_change(hash)
    }

    /// The pair, for signing a bundle's records.
    pub fn pair(&self) -> &KeyPair {
        &self.pair
    }
}

/// One published key (`GET /.well-known/gridsync-signing-keys`).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PublishedKey {
    /// The key id (the first 8 bytes of the SHA-256 of the public key, hex).
    pub kid: String,
    /// The Ed25519 public key, 64 hex characters.
    pub public_key: String,
    /// When it was made (RFC 3339, UTC).
    pub created: String,
    /// Whether it signs now (older keys still verify what they signed).
    pub active: bool,
}

/// Every key the center has signed with, newest first. Anyone may read them: they are
/// public keys, and a court or an inspector checks a bundle against them.
pub async fn published(db: &crate::db::Db) -> Result<Vec<PublishedKey>> {
    let rows = db.signing_keys().await?;
    let mut seen_active = false;
    Ok(rows
        .into_iter()
        .map(|r| {
            let active = r.retired_at.is_none() && !seen_active;
            seen_active |= active;
            PublishedKey {
                kid: r.kid,
                public_key: r.public_key,
                created: utc_rfc3339(r.created_at),
                active,
            }
        })
        .collect())
}

/// Epoch milliseconds as RFC 3339 in UTC (a key's date means the same in every county).
pub fn utc_rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
