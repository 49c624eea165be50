//! Cases as their documents last read, kept by the position of their last change: pages
//! that fold many cases at once (my tasks: up to `db::tasks::MAX_CANDIDATES`, each time a
//! console reloads it) re-fold a case's fields and events at the current time instead of
//! opening its Automerge document again. A leaf: the center holds one, readers fill it.
//!
//! The key is the projection's `updated_pos`, which every stored change advances: a case
//! changed since it was kept misses and is read anew, so a hit is the document as it is.
//! Bounded; when full, it starts over (a task list then pays one full read).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gridsync_core::case::{Case, CaseId};
use gridsync_core::workflow::Event;

/// Cases kept at most (a county's open cases, with room).
const CAPACITY: usize = 20_000;

/// A case's fields and events as of its last change.
#[derive(Clone, Debug)]
pub struct Kept {
    pub case: Arc<Case>,
    pub events: Arc<Vec<Event>>,
}

#[derive(Clone, Debug, Default)]
pub struct CaseCache {
    inner: Arc<Mutex<HashMap<CaseId, (i64, Kept)>>>,
}

impl CaseCache {
    /// The case as of change position `pos`, if kept at exactly that position.
    pub fn get(&self, id: CaseId, pos: i64) -> Option<Kept> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&id)
            .filter(|(at, _)| *at == pos)
            .map(|(_, kept)| kept.clone())
    }

    pub fn put(&self, id: CaseId, pos: i64, kept: Kept) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY && !map.contains_key(&id) {
            map.clear();
        }
        map.insert(id, (pos, kept));
    }
}
