//! Device store faults: a full disk and a read-only file. The failed operation gives a typed
//! error (`Error::DiskFull` / `Error::ReadOnly`, codes `disk_full` / `read_only`), changes
//! nothing, and loses nothing already reported done; everything stays readable, and once the
//! fault clears the store records and syncs as before.
//!
//! A full disk is made two ways: the store's size cap (SQLite `max_page_count`, the same
//! `SQLITE_FULL` a full file system gives; works anywhere), and, where the test may mount
//! file systems, a real 1 MiB tmpfs that runs out of space (in a private mount namespace).
//! A read-only file must work as root too, where permission bits stop nothing: the store is
//! opened on a file it may only read, by SQLite's read-only open (`mode=ro`, what SQLite
//! falls back to when a file cannot be opened for writing), by the immutable attribute
//! (`chattr +i`, where supported), and by permission bits when not root.

mod reference;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use gridsync_core::Error;
use gridsync_core::case::{CaseId, Category, NewCase, NoteKind, PartyInput, Timestamp};
use gridsync_core::clock::ManualClock;
use gridsync_core::store::{CaseFilter, CaseView, FieldStore, Pending, StoreKey};
use gridsync_core::workflow::{Author, Role};
use rand::Rng;
use reference::ReferenceServer;

const VILLAGE: &str = "330182101201";
const T0: Timestamp = Timestamp(1_795_000_000_000);

fn open(path: impl AsRef<Path>, device: &str, clock: &Arc<ManualClock>) -> FieldStore {
    let mut store = FieldStore::open_with_clock(
        path,
        device,
        &StoreKey::from_bytes(&[7; 32]).unwrap(),
        clock.clone(),
    )
    .expect("open");
    if store.identity().unwrap().is_none() {
        store
            .set_identity(&Author::new(
                format!("worker-{device}"),
                Role::GridWorker,
                VILLAGE,
            ))
            .unwrap();
    }
    store
}

fn new_case(title: &str) -> NewCase {
    NewCase {
        area_code: VILLAGE.into(),
        title: title.into(),
        summary: "包工头拖欠12名工人工资 / contractor owes 12 workers".into(),
        category: Category::LabourWages,
        parties: vec![PartyInput {
            name: "张建国".into(),
            id_number: "330182198805061234".into(),
            ..PartyInput::default()
        }],
        ..NewCase::default()
    }
}

/// Text that does not compress (Automerge deflates its columns).
fn noise(chars: usize) -> String {
    let mut rng = rand::rng();
    (0..chars)
        .map(|_| char::from_u32(rng.random_range(0x4e00..0x9fa5)).unwrap_or('字'))
        .collect()
}

/// Everything a user can see in the store.
#[derive(Debug, PartialEq)]
struct Snapshot {
    cases: Vec<CaseView>,
    pending: Pending,
    cursor: u64,
}

fn snapshot(store: &FieldStore) -> Snapshot {
    let list = store
        .cases(&CaseFilter {
            limit: 10_000,
            ..CaseFilter::default()
        })
        .unwrap();
    let mut cases: Vec<CaseView> = list.iter().map(|s| store.case(s.id).unwrap()).collect();
    cases.sort_by_key(|v| v.case.id.map(|id| id.to_string()));
    Snapshot {
        cases,
        pending: store.pending().unwrap(),
        cursor: store.cursor().unwrap(),
    }
}

fn sync(store: &mut FieldStore, center: &mut ReferenceServer) -> gridsync_core::store::SyncReport {
    store
        .sync_via(20, |body| {
            Ok::<_, std::convert::Infallible>(center.handle(&body))
        })
        .unwrap()
}

/// Records until the store refuses; returns the cases that were recorded and the refusal.
fn record_until_refused(store: &mut FieldStore, label: &str) -> (Vec<CaseId>, Error) {
    let mut done = Vec::new();
    for i in 0..5_000 {
        let mut case = new_case(&format!("{label} {i}"));
        case.summary = noise(600);
        match store.record(&case) {
            Ok(id) => done.push(id),
            Err(e) => return (done, e),
        }
    }
    panic!("{label}: the store never filled up");
}

/// The full-disk scenario on an open store whose next writes run out of room (`fill`), with
/// `clear` making room again. Checked: typed refusals, nothing half-applied, nothing lost,
/// sync resumes.
fn full_disk_scenario(
    store: &mut FieldStore,
    fill: impl FnOnce(&FieldStore),
    clear: impl FnOnce(&FieldStore),
) {
    let mut center = ReferenceServer::new();
    center.register("p1", VILLAGE);
    center.register("p2", VILLAGE);
    // Work already done: two cases at the center, two waiting in the outbox.
    let mut ids = Vec::new();
    for i in 0..4 {
        let id = store.record(&new_case(&format!("欠薪纠纷 {i}"))).unwrap();
        store
            .add_note(id, NoteKind::HomeVisit, "走访当事人")
            .unwrap();
        ids.push(id);
        if i == 1 {
            sync(store, &mut center);
        }
    }
    // Another phone's case, large, that this phone will pull.
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut other = open(dir.path().join("field.db"), "p2", &clock);
    let big = other.record(&new_case("邻村土地纠纷")).unwrap();
    for _ in 0..6 {
        other
            .add_note(big, NoteKind::MediationFaceToFace, &noise(3_000))
            .unwrap();
    }
    sync(&mut other, &mut center);

    fill(store);
    let (recorded, refusal) = record_until_refused(store, "满盘");
    assert!(
        matches!(refusal, Error::DiskFull(_)),
        "a full disk is a typed error: {refusal:?}"
    );
    assert_eq!(refusal.code(), "disk_full");
    let full = snapshot(store);
    // The refused record left nothing behind; every record that returned is there.
    assert_eq!(full.cases.len(), 4 + recorded.len());
    for id in &recorded {
        assert!(full.cases.iter().any(|c| c.case.id == Some(*id)));
    }
    assert_eq!(full.pending.changes as usize, 2 * 2 + recorded.len());

    // A long note does not fit either, and the case is as it was.
    let e = store
        .add_note(ids[0], NoteKind::HomeVisit, &noise(9_000))
        .unwrap_err();
    assert_eq!(e.code(), "disk_full", "{e:?}");
    assert_eq!(snapshot(store), full);

    // Syncing on a full disk: the request is built (reading works), the center commits the
    // outbox, but the answer (the big pulled case) cannot be stored: nothing of it applies,
    // the outbox and the cursor stay, and asking again later is harmless.
    let body = store.prepare_sync().unwrap();
    let answer = center.handle(&body);
    let e = store.apply_sync_response(&answer).unwrap_err();
    assert!(matches!(e, Error::DiskFull(_)), "{e:?}");
    assert_eq!(snapshot(store), full);
    assert!(store.integrity_check().unwrap());

    // The fault clears: everything syncs, once, and recording works again.
    clear(store);
    let changes_at_center = center.change_count();
    let report = sync(store, &mut center);
    assert_eq!(report.unsent_changes, 0);
    assert_eq!(report.new_cases, vec![big]);
    assert_eq!(
        center.change_count(),
        changes_at_center,
        "the outbox was already committed: nothing pushed twice"
    );
    let after = snapshot(store);
    for before in &full.cases {
        let now = after
            .cases
            .iter()
            .find(|c| c.case.id == before.case.id)
            .expect("nothing lost");
        assert_eq!((&now.case, &now.state), (&before.case, &before.state));
    }
    assert_eq!(store.case(big).unwrap().case.notes.len(), 6);
    let id = store.record(&new_case("恢复后新案件")).unwrap();
    store
        .add_note(id, NoteKind::HomeVisit, &noise(9_000))
        .unwrap();
    assert_eq!(sync(store, &mut center).acked_changes, 2);
    assert!(store.integrity_check().unwrap());
}

#[test]
fn a_full_store_refuses_typed_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut store = open(dir.path().join("field.db"), "p1", &clock);
    full_disk_scenario(
        &mut store,
        |s| {
            // Capped at its current size: the next pages it needs are not there.
            s.set_max_size(Some(0)).unwrap();
        },
        |s| {
            s.set_max_size(None).unwrap();
        },
    );
}

/// A real file system that fills up: a 1 MiB tmpfs in a private mount namespace (nothing
/// leaks to the machine), the test binary re-run inside it. Where mounting is not
/// permitted the size cap above is the test.
#[test]
fn a_full_file_system_refuses_typed_and_loses_nothing() {
    if let Ok(dir) = std::env::var("GRIDSYNC_FAULTS_TMPFS") {
        let dir = PathBuf::from(dir);
        let filler = dir.join("filler");
        let clock = Arc::new(ManualClock::new(T0));
        let mut store = open(dir.join("field.db"), "p1", &clock);
        full_disk_scenario(
            &mut store,
            |_| {
                // Leave less than one case's worth of room on the file system.
                let mut data = vec![0u8; 1 << 20];
                rand::rng().fill(&mut data[..]);
                let _ = std::fs::write(&filler, &data);
                let _ = std::fs::write(dir.join("filler2"), &data[..32 << 10]);
            },
            |_| {
                std::fs::remove_file(&filler).unwrap();
            },
        );
        println!("FULL-FS-OK");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "mount -t tmpfs -o size=1m gridsync-faults '{}' || exit 77; exec '{}' --exact a_full_file_system_refuses_typed_and_loses_nothing --nocapture --test-threads=1",
        dir.path().display(),
        exe.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("GRIDSYNC_FAULTS_TMPFS", dir.path())
        .output();
    let out = match out {
        Ok(out)
            if out.status.code() == Some(77)
                || !out.status.success()
                    && !String::from_utf8_lossy(&out.stdout).contains("running 1 test") =>
        {
            eprintln!(
                "skipped: no tmpfs in a private mount namespace here ({}); the size cap covers a full disk",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: unshare not available ({e}); the size cap covers a full disk");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("FULL-FS-OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How a store's file is made read-only, and undone.
#[derive(Clone, Copy, Debug)]
enum ReadOnlyBy {
    /// SQLite's read-only open: the state SQLite falls back to when it cannot write the file.
    OpenFlags,
    /// `chattr +i`: not even root may write the file.
    Immutable,
    /// Mode 0444 (stops writes only when not root).
    Permissions,
}

impl ReadOnlyBy {
    /// Makes the file read-only; returns the path to open it by, or `None` where this way
    /// does not work here.
    fn apply(self, path: &Path) -> Option<String> {
        match self {
            ReadOnlyBy::OpenFlags => Some(format!("file:{}?mode=ro", path.display())),
            ReadOnlyBy::Immutable => {
                let ok = Command::new("chattr")
                    .arg("+i")
                    .arg(path)
                    .output()
                    .is_ok_and(|o| o.status.success());
                ok.then(|| path.display().to_string())
            }
            ReadOnlyBy::Permissions => {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
                // Root writes anyway: then this way proves nothing here.
                if std::fs::OpenOptions::new().write(true).open(path).is_ok() {
                    self.undo(path);
                    return None;
                }
                Some(path.display().to_string())
            }
        }
    }

    fn undo(self, path: &Path) {
        match self {
            ReadOnlyBy::OpenFlags => {}
            ReadOnlyBy::Immutable => {
                let _ = Command::new("chattr").arg("-i").arg(path).status();
            }
            ReadOnlyBy::Permissions => {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
            }
        }
    }
}

#[test]
fn a_read_only_store_refuses_writes_typed_and_keeps_everything_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let clock = Arc::new(ManualClock::new(T0));
    let mut center = ReferenceServer::new();
    center.register("p1", VILLAGE);
    let mut ids = Vec::new();
    {
        let mut store = open(&path, "p1", &clock);
        for i in 0..3 {
            let id = store.record(&new_case(&format!("欠薪纠纷 {i}"))).unwrap();
            store
                .add_note(id, NoteKind::HomeVisit, "走访当事人")
                .unwrap();
            ids.push(id);
            if i == 0 {
                sync(&mut store, &mut center);
            }
        }
    }
    let mut tried = Vec::new();
    for way in [
        ReadOnlyBy::OpenFlags,
        ReadOnlyBy::Immutable,
        ReadOnlyBy::Permissions,
    ] {
        let before = snapshot(&open(&path, "p1", &clock));
        let Some(open_by) = way.apply(&path) else {
            eprintln!("{way:?}: not available here, skipped");
            continue;
        };
        tried.push(way);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut store = FieldStore::open_with_clock(
                &open_by,
                "p1",
                &StoreKey::from_bytes(&[7; 32]).unwrap(),
                clock.clone(),
            )
            .unwrap_or_else(|e| panic!("{way:?}: a read-only store still opens: {e:?}"));
            assert_eq!(snapshot(&store), before, "{way:?}: everything readable");
            let refusals = [
                store.record(&new_case("只读时记录")).map(|_| ()),
                store
                    .add_note(ids[1], NoteKind::HomeVisit, "只读")
                    .map(|_| ()),
                store.submit(ids[2]).map(|_| ()),
                store.set_setting("server_url", Some("https://example.invalid")),
            ];
            for r in refusals {
                let e = r.unwrap_err();
                assert!(matches!(e, Error::ReadOnly(_)), "{way:?}: {e:?}");
                assert_eq!(e.code(), "read_only");
            }
            // Sync: the request is built and the center commits; the answer cannot be
            // stored, and nothing of it applies.
            let body = store.prepare_sync().unwrap();
            let answer = center.handle(&body);
            let e = store.apply_sync_response(&answer).unwrap_err();
            assert_eq!(e.code(), "read_only", "{way:?}: {e:?}");
            assert_eq!(snapshot(&store), before, "{way:?}: nothing half-applied");
        }));
        way.undo(&path);
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
    assert!(!tried.is_empty());
    eprintln!("read-only ways exercised: {tried:?}");

    // Writable again: the outbox goes (once), and recording works.
    let mut store = open(&path, "p1", &clock);
    let changes_at_center = center.change_count();
    let report = sync(&mut store, &mut center);
    assert_eq!(report.unsent_changes, 0);
    assert_eq!(
        center.change_count(),
        changes_at_center,
        "nothing pushed twice"
    );
    assert_eq!(center.case_count(), 3);
    let id = store.record(&new_case("恢复后新案件")).unwrap();
    assert_eq!(store.case(id).unwrap().case.title, "恢复后新案件");
    assert_eq!(sync(&mut store, &mut center).acked_changes, 1);
    assert!(store.integrity_check().unwrap());
}
