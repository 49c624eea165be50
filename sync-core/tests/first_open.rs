//! An app opens its store from several threads as it starts (the UI, a sync worker, a
//! notification handler). SQLCipher finishes its own set-up only after SQLite reports itself
//! initialized, so a connection keyed in that window was refused ("An error occurred with
//! PRAGMA key…"). This file holds one test so that its threads are the process's first
//! SQLite users: the window is there on every run.

use std::sync::{Arc, Barrier};

use gridsync_core::store::{FieldStore, StoreKey};

#[test]
fn stores_opened_by_many_threads_as_the_app_starts_all_open() {
    let dir = tempfile::tempdir().unwrap();
    let threads = 16;
    let start = Arc::new(Barrier::new(threads));
    let opened: Vec<_> = (0..threads)
        .map(|i| {
            let path = dir.path().join(format!("store-{i}.db"));
            let start = start.clone();
            std::thread::spawn(move || {
                let key = StoreKey::from_bytes(&[i as u8 + 1; 32]).unwrap();
                start.wait();
                FieldStore::open(&path, &format!("phone-{i}"), &key).and_then(|s| s.case_ids())
            })
        })
        .collect();
    for (i, handle) in opened.into_iter().enumerate() {
        let ids = handle.join().unwrap();
        assert!(
            matches!(ids, Ok(ref ids) if ids.is_empty()),
            "store {i}: {ids:?}"
        );
    }
}
