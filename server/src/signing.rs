//! The center's own Ed25519 key (issue 17): it signs the changes the center writes to the
//! log (console steps, intake, system steps: `center::cases::log_changes`) and the records
//! of evidence bundles. Generated at the database's first start and kept in `signing_keys`
//! like the JWT keys; every key is published at `GET /.well-known/gridsync-signing-keys`.
//! `gridsync admin rotate-signing-key` retires it for a new one (a suspected leak, a
//! yearly change); running servers take the new key within a minute.

use std::sync::{Arc, RwLock};

use gridsync_core::signing::{self, KeyPair, PublicKey};

use crate::error::{Error, Result};

/// The key that signs now, shared by every task of the process and swapped when
/// `gridsync admin rotate-signing-key` retires it ([`reload_every`]).
#[derive(Clone, Debug)]
pub struct CenterKey {
    current: Arc<RwLock<Arc<Signer>>>,
}

/// One key pair and its id: what signs a change or a bundle, taken whole so that the
/// public key named beside a signature is the one that made it.
#[derive(Debug)]
pub struct Signer {
    pub kid: String,
    pub pair: KeyPair,
}

impl Signer {
    pub fn public_key(&self) -> PublicKey {
        self.pair.public_key()
    }

    /// Signs a change the center wrote, over its hash.
    pub fn sign_change(&self, hash: &[u8; 32]) -> [u8; 64] {
        self.pair.sign_change(hash)
    }
}

impl CenterKey {
    /// The current key from the database, generated there first if there is none.
    pub async fn load(db: &crate::db::Db, now: i64) -> Result<CenterKey> {
        db.ensure_signing_key(now, new_key).await?;
        Ok(CenterKey {
            current: Arc::new(RwLock::new(Arc::new(current_in(db).await?))),
        })
    }

    /// A key held in memory only (tests, tools).
    pub fn ephemeral() -> CenterKey {
        let pair = KeyPair::generate();
        CenterKey {
            current: Arc::new(RwLock::new(Arc::new(Signer {
                kid: signing::key_id(&pair.public_key()),
                pair,
            }))),
        }
    }

    /// The key that signs now.
    pub fn signer(&self) -> Arc<Signer> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Takes the database's current key (after a rotation by another process).
    pub async fn reload(&self, db: &crate::db::Db) -> Result<()> {
        let signer = current_in(db).await?;
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.kid != signer.kid {
            tracing::info!(kid = %signer.kid, "the center's signing key was rotated; signing with the new one");
            *current = Arc::new(signer);
        }
        Ok(())
    }
}

/// A new key: (kid, secret hex, public key hex).
fn new_key() -> (String, String, String) {
    let pair = KeyPair::generate();
    let public = pair.public_key();
    (
        signing::key_id(&public),
        pair.secret_hex(),
        hex::encode(public),
    )
}

async fn current_in(db: &crate::db::Db) -> Result<Signer> {
    let rows = db.signing_keys().await?;
    let row = rows
        .iter()
        .find(|r| r.retired_at.is_none())
        .ok_or_else(|| Error::Config("no current signing key in the database".into()))?;
    let pair = KeyPair::from_secret_hex(&row.secret)
        .ok_or_else(|| Error::Config(format!("signing key {} is not 32 bytes hex", row.kid)))?;
    Ok(Signer {
        kid: row.kid.clone(),
        pair,
    })
}

/// Retires the current key and makes a new one (`gridsync admin rotate-signing-key`). The
/// retired key stays published, so what it signed still verifies; its secret is erased, so
/// it never signs again. Running servers take the new key within [`RELOAD_EVERY`].
/// Returns the new key's id and the retired ones'.
pub async fn rotate(db: &crate::db::Db, now: i64) -> Result<(String, Vec<String>)> {
    db.rotate_signing_key(now, new_key).await
}

/// How often a server looks for a rotated key.
pub const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Reloads the current key every `every`, so a rotation reaches every process.
pub async fn reload_every(db: crate::db::Db, key: CenterKey, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = key.reload(&db).await {
            tracing::warn!(error = %e, "reloading the center's signing key failed; keeping the one held");
        }
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
