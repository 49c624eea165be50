//! The device store at rest (issue 17): what a lost phone's storage shows to someone without
//! the key. Every file the store keeps (the SQLite file, its WAL and shared memory, the
//! evidence folder) is searched for the parties' names, ID numbers and phone numbers and
//! for an evidence file's marker: none may appear. A plaintext store of an older app version
//! is the control: the same search finds them there, and opening it with a key encrypts it.

use std::path::{Path, PathBuf};

use gridsync_core::Error;
use gridsync_core::case::{Category, NewCase, NoteKind, PartyInput, PartyRole, RiskLevel};
use gridsync_core::store::{CaseFilter, FieldStore, NewAttachment, StoreKey};
use gridsync_core::workflow::{Author, Role};

const VILLAGE: &str = "330182101201";
const MARKER: &str = "EVIDENCE-MARKER-借条-张建国-欠款八万六千元";

/// What must never be readable without the key.
const SECRETS: &[&str] = &[
    "张建国",
    "330182198805061234",
    "13812345678",
    "Li Ming",
    "110101199003074518",
    "13900001111",
    "王秀英",
    "工地拖欠三名工人工资",
    MARKER,
];

fn key(byte: u8) -> StoreKey {
    StoreKey::from_bytes(&[byte; 32]).unwrap()
}

fn dispute(i: usize) -> NewCase {
    NewCase {
        area_code: VILLAGE.into(),
        title: format!("工地拖欠三名工人工资 {i}"),
        summary: "包工头拖欠工资共计8.6万元".into(),
        category: Category::LabourWages,
        risk_level: RiskLevel::Yellow,
        parties: vec![
            PartyInput {
                role: PartyRole::Applicant,
                name: "张建国".into(),
                id_number: "330182198805061234".into(),
                phone: "13812345678".into(),
                ..PartyInput::default()
            },
            PartyInput {
                role: PartyRole::Respondent,
                name: "Li Ming".into(),
                id_number: "110101199003074518".into(),
                phone: "13900001111".into(),
                ..PartyInput::default()
            },
        ],
        ..NewCase::default()
    }
}

/// A store of 20 cases, notes naming a party, and a photo carrying the marker. Returns the
/// photo's sha256.
fn seed(store: &mut FieldStore) -> String {
    store
        .set_identity(&Author::new("u-wang", Role::GridWorker, VILLAGE))
        .unwrap();
    let mut first = None;
    for i in 0..20 {
        let id = store.record(&dispute(i)).unwrap();
        store
            .add_note(id, NoteKind::HomeVisit, "王秀英 到场说明情况")
            .unwrap();
        first.get_or_insert(id);
    }
    let mut photo = b"\xFF\xD8\xFF\xE0 jpeg ".to_vec();
    for _ in 0..3000 {
        photo.extend_from_slice(MARKER.as_bytes());
    }
    let attached = store
        .attach(
            first.unwrap(),
            &mut photo.as_slice(),
            &NewAttachment {
                mime: "image/jpeg".into(),
                ..NewAttachment::default()
            },
        )
        .unwrap();
    attached.sha256
}

/// Every file under `dir` (the store's folder: database, -wal, -shm, evidence).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The secrets found in the files under `dir`, with the file.
fn leaks(dir: &Path) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    for file in files(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in SECRETS {
            let needle = secret.as_bytes();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push((file.display().to_string(), *secret));
            }
        }
    }
    found
}

#[test]
fn a_closed_store_shows_no_name_id_number_phone_or_evidence_without_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let sha = {
        let mut store = FieldStore::open(&path, "p1", &key(1)).unwrap();
        let sha = seed(&mut store);
        // Open, with the WAL holding recent pages: encrypted too.
        let names: Vec<_> = files(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n.ends_with("-wal")), "{names:?}");
        assert_eq!(leaks(dir.path()), []);
        assert!(
            !names.iter().any(|n| n.contains(&sha)),
            "evidence files are not named by their hash: {names:?}"
        );
        sha
    };
    // Closed.
    assert_eq!(leaks(dir.path()), []);

    // The right key opens it; another is a typed error and harms nothing.
    let e = FieldStore::open(&path, "p1", &key(2)).unwrap_err();
    assert!(matches!(e, Error::WrongKey), "{e:?}");
    assert_eq!(e.code(), "wrong_key");
    let store = FieldStore::open(&path, "p1", &key(1)).unwrap();
    assert_eq!(store.case_ids().unwrap().len(), 20);
    let text = CaseFilter {
        text: Some("张建国".into()),
        ..CaseFilter::default()
    };
    assert_eq!(store.cases(&text).unwrap().len(), 20);
    let photo = store.read_evidence(&sha, 0, usize::MAX).unwrap();
    assert!(photo.ends_with(MARKER.as_bytes()));
}

#[test]
fn rekey_then_the_old_key_fails_and_the_new_one_opens_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let mut store = FieldStore::open(&path, "p1", &key(1)).unwrap();
    let sha = seed(&mut store);
    store.rekey(&key(3)).unwrap();
    // Still usable as it is.
    assert_eq!(store.case_ids().unwrap().len(), 20);
    drop(store);
    assert_eq!(leaks(dir.path()), []);
    assert!(matches!(
        FieldStore::open(&path, "p1", &key(1)).unwrap_err(),
        Error::WrongKey
    ));
    let store = FieldStore::open(&path, "p1", &key(3)).unwrap();
    assert_eq!(store.case_ids().unwrap().len(), 20);
    // The evidence data key lives in the store: the files open unchanged.
    let photo = store.read_evidence(&sha, 0, usize::MAX).unwrap();
    assert!(photo.ends_with(MARKER.as_bytes()));
    assert!(store.integrity_check().unwrap());
}

#[test]
fn wipe_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let mut store = FieldStore::open(&path, "p1", &key(1)).unwrap();
    seed(&mut store);
    store.wipe().unwrap();
    assert_eq!(files(dir.path()), Vec::<PathBuf>::new());
    assert!(!dir.path().join("field.db.evidence").exists());
    // The handle still answers (an empty store in memory) and writes nothing to disk.
    assert!(store.cases(&CaseFilter::default()).unwrap().is_empty());
    assert!(store.identity().unwrap().is_none());
    drop(store);
    assert_eq!(files(dir.path()), Vec::<PathBuf>::new());
    // A new key makes a new, empty store.
    let store = FieldStore::open(&path, "p1", &key(9)).unwrap();
    assert!(store.case_ids().unwrap().is_empty());
}

/// An older app version's store: the same schema, no key, evidence files in plaintext named
/// by their hash. Made here by exporting an encrypted store to plaintext.
fn plaintext_store(dir: &Path) -> (PathBuf, String) {
    let encrypted = dir.join("new.db");
    let sha = {
        let mut store = FieldStore::open(&encrypted, "p1", &key(1)).unwrap();
        seed(&mut store)
    };
    let photo = {
        let store = FieldStore::open(&encrypted, "p1", &key(1)).unwrap();
        store.read_evidence(&sha, 0, usize::MAX).unwrap()
    };
    let path = dir.join("old.db");
    let conn = rusqlite::Connection::open(&encrypted).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\";",
        key(1).to_hex().as_str()
    ))
    .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    conn.execute(
        "ATTACH DATABASE ?1 AS plain KEY ''",
        [path.to_string_lossy()],
    )
    .unwrap();
    conn.query_row("SELECT sqlcipher_export('plain')", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch(&format!(
        "PRAGMA plain.user_version = {version};
         DELETE FROM plain.meta WHERE key = 'evidence_key';
         DETACH DATABASE plain;"
    ))
    .unwrap();
    drop(conn);
    // WAL mode, as the old version ran it, with recent pages in the WAL.
    let old = rusqlite::Connection::open(&path).unwrap();
    old.pragma_update(None, "journal_mode", "WAL").unwrap();
    old.execute("UPDATE meta SET value = value WHERE key = 'actor'", [])
        .unwrap();
    drop(old);
    std::fs::remove_file(&encrypted).unwrap();
    std::fs::remove_dir_all(dir.join("new.db.evidence")).unwrap();
    let evidence = dir.join("old.db.evidence");
    std::fs::create_dir(&evidence).unwrap();
    std::fs::write(evidence.join(&sha), &photo).unwrap();
    (path, sha)
}

#[test]
fn an_older_versions_plaintext_store_is_encrypted_at_its_first_open_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = plaintext_store(dir.path());
    // The control: the search finds the secrets in a plaintext store.
    let before = leaks(dir.path());
    for secret in ["张建国", "330182198805061234", "13812345678", MARKER] {
        assert!(
            before.iter().any(|(_, s)| *s == secret),
            "{secret}: {before:?}"
        );
    }

    let store = FieldStore::open(&path, "p1", &key(5)).unwrap();
    assert_eq!(store.case_ids().unwrap().len(), 20);
    let photo = store.read_evidence(&sha, 0, usize::MAX).unwrap();
    assert!(photo.ends_with(MARKER.as_bytes()));
    assert!(store.integrity_check().unwrap());
    drop(store);
    assert_eq!(leaks(dir.path()), []);
    let head = std::fs::read(&path).unwrap();
    assert_ne!(&head[..16], b"SQLite format 3\0");
    assert!(!dir.path().join("old.db.evidence").join(&sha).exists());
    // From now on only that key opens it.
    assert!(matches!(
        FieldStore::open(&path, "p1", &key(1)).unwrap_err(),
        Error::WrongKey
    ));
    let store = FieldStore::open(&path, "p1", &key(5)).unwrap();
    assert_eq!(store.pending().unwrap().changes, 41);
}

#[test]
fn a_store_from_before_documents_had_their_own_table_keeps_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    let ids = {
        let mut store = FieldStore::open(&path, "p1", &key(3)).unwrap();
        seed(&mut store);
        store.case_ids().unwrap()
    };
    // Schema 3's shape: each document inline in its `cases` row.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\";
         ALTER TABLE cases ADD COLUMN doc BLOB;
         UPDATE cases SET doc = (SELECT d.doc FROM case_docs d WHERE d.id = cases.id);
         DROP TABLE case_docs;
         PRAGMA user_version = 3;",
        key(3).to_hex().as_str()
    ))
    .unwrap();
    drop(conn);

    let mut store = FieldStore::open(&path, "p1", &key(3)).unwrap();
    assert_eq!(store.case_ids().unwrap(), ids);
    for id in &ids {
        let view = store.case(*id).unwrap();
        assert!(view.case.title.starts_with("工地拖欠三名工人工资"));
    }
    let found = store
        .cases(&CaseFilter {
            text: Some("张建国".into()),
            limit: 100,
            ..CaseFilter::default()
        })
        .unwrap();
    assert_eq!(found.len(), ids.len());
    // Writing goes on: a note lands in the moved document.
    store
        .add_note(ids[0], NoteKind::PhoneCall, "电话回访")
        .unwrap();
    assert_eq!(store.case(ids[0]).unwrap().case.notes.len(), 2);
    assert!(store.integrity_check().unwrap());
}
