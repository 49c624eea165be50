//! Sync bodies in flight: the bytes of `/v1/sync` bodies held in memory at once, over every
//! connection, so a flood of large pushes is answered 503 `busy` before it fills memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of sync bodies held in memory at once, over every connection (against
/// `HttpLimits::sync_bodies_in_flight`). Reservations give their bytes back when dropped.
#[derive(Debug, Default)]
pub struct BodyBudget {
    in_flight: AtomicUsize,
}

impl BodyBudget {
    /// Bytes reserved right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: usize, limit: usize) -> bool {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                n.checked_add(bytes).filter(|t| *t <= limit)
            })
            .is_ok()
    }

    pub(crate) fn reserve(self: &Arc<Self>, bytes: usize, limit: usize) -> Option<Reservation> {
        self.take(bytes, limit).then(|| Reservation {
            budget: self.clone(),
            bytes,
        })
    }
}

/// Bytes of one body, held until the request is done.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl Reservation {
    /// Holds at least `total` bytes; `false` if the budget has no room for them.
    pub(crate) fn grow_to(&mut self, total: usize, limit: usize) -> bool {
        if total <= self.bytes {
            return true;
        }
        if !self.budget.take(total - self.bytes, limit) {
            return false;
        }
        self.bytes = total;
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget
            .in_flight
            .fetch_sub(self.bytes, Ordering::AcqRel);
    }
}
