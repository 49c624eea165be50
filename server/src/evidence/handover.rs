//! One upload, one writer at a time, within a process. When a phone's link drops mid-chunk
//! the center often has not noticed yet: the old `PATCH` still waits for bytes that will
//! never come. The phone's next `HEAD` or `PATCH` for the same upload asks that one to stop;
//! it keeps the bytes it received (`Evidence::append`) and hands over, so the new request
//! sees every byte that crossed the link, and a drop costs the phone only what was still in
//! flight. Between processes the database's offset check stays the guard.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedMutexGuard};

/// How often a waiting request repeats its request to stop (the holder may not have been
/// listening yet when the first one was made).
const ASK_EVERY: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
pub(crate) struct Handover {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

#[derive(Debug, Default)]
struct Slot {
    turn: Arc<tokio::sync::Mutex<()>>,
    stop: Notify,
}

/// Holding this, a request is the upload's one writer; dropping it hands over.
pub(crate) struct Turn {
    key: String,
    slot: Arc<Slot>,
    _guard: OwnedMutexGuard<()>,
    handover: Arc<Handover>,
}

impl Handover {
    /// The upload's turn, after asking whoever holds it to stop; `None` if the holder did
    /// not hand over within `wait` (the caller goes on without it; the offset check in the
    /// database still keeps two writers apart).
    pub(crate) async fn turn(self: &Arc<Self>, key: String, wait: Duration) -> Option<Turn> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(key.clone()).or_default().clone()
        };
        let guard = tokio::time::timeout(wait, async {
            loop {
                if let Ok(g) = slot.turn.clone().try_lock_owned() {
                    return g;
                }
                slot.stop.notify_waiters();
                tokio::time::sleep(ASK_EVERY).await;
            }
        })
        .await
        .ok()?;
        Some(Turn {
            key,
            slot,
            _guard: guard,
            handover: self.clone(),
        })
    }
}

impl Turn {
    /// Resolves when another request for the same upload asks this one to stop. Keep one
    /// future for the whole body; the asking side repeats itself, so an ask made before the
    /// future's first poll is not lost.
    pub(crate) async fn asked_to_stop(&self) {
        self.slot.stop.notified().await;
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut slots = self
            .handover
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // The map's Arc and ours: nobody else waits, the slot can go.
        if Arc::strong_count(&self.slot) <= 2 {
            slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_request_stops_the_first_and_takes_its_turn() {
        let handover = Arc::new(Handover::default());
        let first = handover
            .turn("case/sha".into(), Duration::from_secs(1))
            .await
            .expect("free");
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel();
        let holder = tokio::spawn(async move {
            first.asked_to_stop().await;
            let _ = stopped_tx.send(());
            drop(first);
        });
        let second = handover
            .turn("case/sha".into(), Duration::from_secs(5))
            .await;
        assert!(second.is_some(), "the first handed over");
        stopped_rx.await.expect("the first was asked to stop");
        holder.await.unwrap();
        // Another upload is not affected.
        assert!(
            handover
                .turn("case/other".into(), Duration::from_millis(10))
                .await
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_holder_that_does_not_stop_is_waited_for_only_so_long() {
        let handover = Arc::new(Handover::default());
        let _stuck = handover
            .turn("k".into(), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            handover
                .turn("k".into(), Duration::from_millis(200))
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn slots_are_removed_when_the_last_turn_ends() {
        let handover = Arc::new(Handover::default());
        drop(handover.turn("k".into(), Duration::from_secs(1)).await);
        assert!(handover.slots.lock().unwrap().is_empty());
    }
}
