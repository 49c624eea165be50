//! One upload, one writer at a time, within a process. When a phone's link drops mid-chunk
//! the center often has not noticed yet: the old `PATCH` still waits for bytes that will
//! never come. The phone's next `HEAD` or `PATCH` for the same upload asks that one to stop;
//! it keeps the bytes it received (`Evidence::append`) and hands over, so the new request
//! sees every byte that crossed the link, and a drop costs the phone only what was still in
//! flight. Between processes the database's offset check stays the guard.
//!
//! Only the writer's own device may cut it at once: it knows its old link is gone. Anyone
//! else whose scope holds the case (another phone of the village, a staff member's `HEAD`)
//! may stop it only once no byte has arrived for [`STALLED`], so nobody can hold a healthy
//! upload back by asking about it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedMutexGuard};
// Tokio's clock, so a test with paused time moves it.
use tokio::time::Instant;

/// How often a waiting request repeats its request to stop (the holder may not have been
/// listening yet when the first one was made).
const ASK_EVERY: Duration = Duration::from_millis(50);

/// How long a writer may receive nothing before another device may stop it. A 2G link
/// delivers something every few hundred milliseconds; a retransmission after a loss takes
/// about a second.
pub(crate) const STALLED: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub(crate) struct Handover {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

#[derive(Debug, Default)]
struct Slot {
    turn: Arc<tokio::sync::Mutex<()>>,
    stop: Notify,
    /// Who holds the turn and when their last byte arrived.
    holder: Mutex<Option<Holder>>,
}

#[derive(Debug)]
struct Holder {
    who: String,
    progress: Instant,
}

impl Slot {
    fn holder(&self) -> std::sync::MutexGuard<'_, Option<Holder>> {
        self.holder.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `who` may ask the holder to stop: its own device, or anyone once it stalled.
    fn may_stop(&self, who: &str) -> bool {
        self.holder()
            .as_ref()
            .is_none_or(|h| h.who == who || h.progress.elapsed() >= STALLED)
    }
}

/// Holding this, a request is the upload's one writer; dropping it hands over.
pub(crate) struct Turn {
    key: String,
    slot: Arc<Slot>,
    _guard: OwnedMutexGuard<()>,
    handover: Arc<Handover>,
}

impl Handover {
    /// The upload's turn for `who` (a user and device), after asking whoever holds it to
    /// stop ([`Slot::may_stop`]). `None` at once when `who` may not stop a writer still
    /// receiving bytes, or when the holder did not hand over within `wait`: the caller goes on
    /// without the turn (a `HEAD` answers from the database; the offset check there still
    /// keeps two writers apart).
    pub(crate) async fn turn(
        self: &Arc<Self>,
        key: String,
        who: &str,
        wait: Duration,
    ) -> Option<Turn> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(key.clone()).or_default().clone()
        };
        let guard = tokio::time::timeout(wait, async {
            loop {
                if let Ok(g) = slot.turn.clone().try_lock_owned() {
                    return Some(g);
                }
                if !slot.may_stop(who) {
                    return None;
                }
                slot.stop.notify_waiters();
                tokio::time::sleep(ASK_EVERY).await;
            }
        })
        .await
        .ok()??;
        *slot.holder() = Some(Holder {
            who: who.to_owned(),
            progress: Instant::now(),
        });
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

    /// Bytes arrived: another device may not stop this writer for [`STALLED`].
    pub(crate) fn progressed(&self) {
        if let Some(h) = self.slot.holder().as_mut() {
            h.progress = Instant::now();
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        *self.slot.holder() = None;
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
            .turn("case/sha".into(), "u-wang/p1", Duration::from_secs(1))
            .await
            .expect("free");
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel();
        let holder = tokio::spawn(async move {
            first.asked_to_stop().await;
            let _ = stopped_tx.send(());
            drop(first);
        });
        let second = handover
            .turn("case/sha".into(), "u-wang/p1", Duration::from_secs(5))
            .await;
        assert!(second.is_some(), "the first handed over");
        stopped_rx.await.expect("the first was asked to stop");
        holder.await.unwrap();
        // Another upload is not affected.
        assert!(
            handover
                .turn("case/other".into(), "u-li/p2", Duration::from_millis(10))
                .await
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_holder_that_does_not_stop_is_waited_for_only_so_long() {
        let handover = Arc::new(Handover::default());
        let _stuck = handover
            .turn("k".into(), "u-wang/p1", Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            handover
                .turn("k".into(), "u-wang/p1", Duration::from_millis(200))
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn slots_are_removed_when_the_last_turn_ends() {
        let handover = Arc::new(Handover::default());
        drop(
            handover
                .turn("k".into(), "u-wang/p1", Duration::from_secs(1))
                .await,
        );
        assert!(handover.slots.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn another_device_stops_a_writer_only_once_it_stalled() {
        let handover = Arc::new(Handover::default());
        let writer = handover
            .turn("k".into(), "u-wang/p1", Duration::from_secs(1))
            .await
            .unwrap();
        let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let holder = tokio::spawn({
            let asked = asked.clone();
            async move {
                // Bytes keep arriving for three seconds, then nothing.
                let stop = writer.asked_to_stop();
                let mut stop = std::pin::pin!(stop);
                for _ in 0..30 {
                    tokio::select! {
                        () = &mut stop => {
                            asked.store(true, std::sync::atomic::Ordering::SeqCst);
                            return;
                        }
                        () = tokio::time::sleep(Duration::from_millis(100)) => writer.progressed(),
                    }
                }
                stop.await;
                asked.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        // Another phone of the village asks about the same upload while bytes arrive: it
        // goes on without the turn, at once.
        let started = tokio::time::Instant::now();
        assert!(
            handover
                .turn("k".into(), "u-li/p2", Duration::from_secs(5))
                .await
                .is_none(),
            "the healthy writer kept its turn"
        );
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(!asked.load(std::sync::atomic::Ordering::SeqCst));
        // Three seconds of bytes, then silence: just short of `STALLED` it still may not.
        tokio::time::sleep(Duration::from_secs(3) + STALLED - Duration::from_millis(300)).await;
        assert!(
            handover
                .turn("k".into(), "u-li/p2", Duration::from_secs(5))
                .await
                .is_none()
        );
        assert!(!asked.load(std::sync::atomic::Ordering::SeqCst));
        // Once it stalled for `STALLED`, the same ask stops it.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let other = handover
            .turn("k".into(), "u-li/p2", Duration::from_secs(5))
            .await;
        assert!(other.is_some());
        holder.await.unwrap();
        assert!(asked.load(std::sync::atomic::Ordering::SeqCst));
    }
}
