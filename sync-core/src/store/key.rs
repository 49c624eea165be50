//! The store's key and how the store's files are opened with it.
//!
//! The app holds 32 random bytes in the Android Keystore or the iOS Keychain
//! (`docs/mobile.md`) and passes them to [`super::FieldStore::open`]. They are SQLCipher's
//! raw key (`PRAGMA key = "x'…'"`), so opening costs no PBKDF2. The evidence files are
//! sealed with keys derived (HKDF-SHA256) from a random data key kept inside the encrypted
//! store (`meta.evidence_key`): a rekey re-encrypts the SQLite file and so re-protects that
//! data key, without touching the evidence files (`evidence/seal.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// The 32-byte key the app keeps for its store. Its bytes are zeroed when dropped and never
/// printed.
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl StoreKey {
    pub const LEN: usize = 32;

    /// The key's bytes: exactly 32, anything else is `invalid_input`.
    pub fn from_bytes(bytes: &[u8]) -> Result<StoreKey> {
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::invalid("key", format!("32 bytes, not {}", bytes.len())))?;
        Ok(StoreKey(Zeroizing::new(raw)))
    }

    /// The key written as 64 hex digits (the terminal phone's key file, `GRIDSYNC_STORE_KEY`).
    pub fn from_hex(text: &str) -> Result<StoreKey> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid("key", "64 hex digits (32 bytes)"));
        }
        let mut raw = Zeroizing::new([0u8; 32]);
        for (i, byte) in raw.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| Error::invalid("key", "64 hex digits (32 bytes)"))?;
        }
        Ok(StoreKey(raw))
    }

    /// A fresh random key (from the OS's generator).
    pub fn generate() -> StoreKey {
        StoreKey(Zeroizing::new(rand::random()))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(super::hex(&self.0[..]))
    }

    /// SQLCipher's raw-key literal: `x'<64 hex>'` (no key derivation at open).
    fn literal(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("x'{}'", self.to_hex().as_str()))
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

/// The first bytes of every plaintext SQLite file (an older app version's store).
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Opens the store's SQLite file with `key`: a new file is created encrypted; a plaintext
/// file from an app version before encryption is encrypted first (`encrypt_plaintext`); a
/// file the key does not open is [`Error::WrongKey`], and nothing is written to it.
pub(super) fn open_connection(path: &Path, key: &StoreKey) -> Result<Connection> {
    sqlcipher_ready();
    if is_plaintext(path)? {
        encrypt_plaintext(path, key)?;
    }
    let conn = Connection::open(path)?;
    apply_key(&conn, key)?;
    // The key is checked on the first read: a wrong key (or a file that is no store) reads
    // as "not a database".
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(conn),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
            Err(Error::WrongKey)
        }
        Err(e) => Err(e.into()),
    }
}

/// Waits, once per process, until SQLCipher has finished setting itself up.
///
/// SQLite marks itself initialized before it runs SQLCipher's set-up
/// (`SQLITE_EXTRA_INIT`, outside its init mutex), so a connection keyed by a second thread in
/// that window is refused ("An error occurred with PRAGMA key…"): an app opening its store
/// from two threads as it starts would fail at random. Keying an in-memory connection
/// succeeds only once the set-up is done; every store open waits behind this `Once`.
fn sqlcipher_ready() {
    static READY: std::sync::Once = std::sync::Once::new();
    READY.call_once(|| {
        for _ in 0..200 {
            let keyed = Connection::open_in_memory().and_then(|c| {
                c.execute_batch("PRAGMA cipher_log_level = NONE; PRAGMA key = 'ready';")
            });
            if keyed.is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Not ready after a second: the open below reports SQLCipher's own error.
    });
}

fn apply_key(conn: &Connection, key: &StoreKey) -> Result<()> {
    // SQLCipher would print a wrong key's failed page checks on stderr (logcat on Android);
    // the caller gets `WrongKey` instead.
    conn.execute_batch(&Zeroizing::new(format!(
        "PRAGMA cipher_log_level = NONE; PRAGMA key = \"{}\";",
        key.literal().as_str()
    )))?;
    Ok(())
}

fn is_plaintext(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 16];
    match fs::File::open(path) {
        Ok(mut f) => Ok(f.read_exact(&mut head).is_ok() && &head == PLAIN_HEADER),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::Evidence(format!("device store file: {e}"))),
    }
}

/// Encrypts an older version's plaintext store in place, atomically: its WAL is folded in,
/// `sqlcipher_export` writes an encrypted copy beside it, the copy is synced and renamed
/// over the original. A crash before the rename leaves the plaintext store whole (the next
/// open starts over); after it, the encrypted one.
fn encrypt_plaintext(path: &Path, key: &StoreKey) -> Result<()> {
    let copy = sibling(path, ".encrypting");
    let _ = fs::remove_file(&copy);
    {
        let plain = Connection::open(path)?;
        let (busy, _, _): (i64, i64, i64) =
            plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        if busy != 0 {
            return Err(Error::Evidence(
                "the plaintext store is in use elsewhere: close it before opening with a key"
                    .into(),
            ));
        }
        let version: i64 = plain.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        plain.execute(
            &format!(
                "ATTACH DATABASE ?1 AS encrypted KEY \"{}\"",
                key.literal().as_str()
            ),
            [copy.to_string_lossy()],
        )?;
        plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
        plain.execute_batch(&format!("PRAGMA encrypted.user_version = {version};"))?;
        plain.execute_batch("DETACH DATABASE encrypted;")?;
        // Back to a rollback journal so closing leaves no -wal/-shm holding old pages.
        plain.pragma_update(None, "journal_mode", "DELETE")?;
    }
    fs::File::open(&copy)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::Evidence(format!("encrypting the device store: {e}")))?;
    fs::rename(&copy, path)
        .map_err(|e| Error::Evidence(format!("encrypting the device store: {e}")))?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let _ = fs::remove_file(sibling(path, suffix));
    }
    if let Some(dir) = path.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    tracing::info!("device store encrypted (it was written by an older app version)");
    Ok(())
}

/// Re-encrypts the open store under `new` (SQLCipher `PRAGMA rekey`, every page rewritten in
/// one transaction), then checks that `new` opens it.
pub(super) fn rekey(conn: &Connection, path: &Path, new: &StoreKey) -> Result<()> {
    // Rekey rewrites pages through the pager; in a rollback journal a crash mid-way rolls
    // back to the old key, which WAL frames of two keys would make harder to reason about.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    conn.pragma_update(None, "journal_mode", "DELETE")?;
    let result = conn.execute_batch(&Zeroizing::new(format!(
        "PRAGMA rekey = \"{}\";",
        new.literal().as_str()
    )));
    conn.pragma_update(None, "journal_mode", "WAL")?;
    result?;
    // SQLCipher reports some failures of a rekey only by leaving the old key in force.
    let check = Connection::open(path)?;
    apply_key(&check, new)?;
    check
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|_| Error::Evidence("the store did not take the new key".into()))?;
    Ok(())
}

/// Every file a store at `path` keeps: the database, its journals, the evidence folder.
pub(super) fn remove_store_files(path: &Path) -> Result<()> {
    for suffix in ["-wal", "-shm", "-journal", ".encrypting"] {
        remove_if_there(&sibling(path, suffix))?;
    }
    remove_if_there(path)?;
    match fs::remove_dir_all(sibling(path, ".evidence")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Evidence(e.to_string())),
    }
}

fn remove_if_there(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Evidence(format!("{}: {e}", path.display()))),
    }
}

/// `<path><suffix>` (SQLite's own naming of a database's side files).
pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_32_bytes_or_64_hex_digits() {
        assert!(StoreKey::from_bytes(&[7; 32]).is_ok());
        for bad in [&[7u8; 31][..], &[7; 33], &[]] {
            assert_eq!(
                StoreKey::from_bytes(bad).unwrap_err().code(),
                "invalid_input"
            );
        }
        let key = StoreKey::generate();
        let back = StoreKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(back.as_bytes(), key.as_bytes());
        assert!(StoreKey::from_hex("xyz").is_err());
        assert_eq!(format!("{key:?}"), "StoreKey(..)");
    }
}
