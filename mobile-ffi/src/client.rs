//! `FieldClient`: the object apps hold.

use std::sync::{Mutex, MutexGuard};

use gridsync_core::store::FieldStore;

use crate::FieldError;

/// Cases and changes not yet acknowledged by the center.
#[derive(Debug, Clone, Copy, uniffi::Record)]
pub struct PendingCounts {
    pub cases: u32,
    pub changes: u32,
}

/// The phone's handle on its local store. Safe to call from any thread.
#[derive(Debug, uniffi::Object)]
pub struct FieldClient {
    store: Mutex<FieldStore>,
}

#[uniffi::export]
impl FieldClient {
    /// Opens (or creates) the store at `db_path` for this device.
    #[uniffi::constructor]
    pub fn open(db_path: String, device_id: String) -> Result<Self, FieldError> {
        let store = FieldStore::open(db_path, &device_id)?;
        Ok(FieldClient {
            store: Mutex::new(store),
        })
    }

    /// Work not yet acknowledged by the center.
    pub fn pending(&self) -> Result<PendingCounts, FieldError> {
        let p = self.lock()?.pending()?;
        Ok(PendingCounts {
            cases: p.cases,
            changes: p.changes,
        })
    }

    /// The body of the next `POST /v1/sync` (CBOR, zstd).
    pub fn prepare_sync(&self) -> Result<Vec<u8>, FieldError> {
        Ok(self.lock()?.prepare_sync()?)
    }

    /// Applies the center's response body; returns how many outbox changes were acknowledged.
    pub fn apply_sync_response(&self, body: Vec<u8>) -> Result<u32, FieldError> {
        Ok(self.lock()?.apply_sync_response(&body)?.acked_changes)
    }
}

impl FieldClient {
    fn lock(&self) -> Result<MutexGuard<'_, FieldStore>, FieldError> {
        // A panic while holding the lock poisons it; the store itself is transactional, so
        // its data is intact and the guard can be recovered.
        Ok(self.store.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
