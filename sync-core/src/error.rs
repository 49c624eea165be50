//! The crate's error type. Messages are lowercase and name what was wrong; every variant has
//! a stable [`Error::code`] that the server, the bindings and the apps can match on.

use crate::case::CaseId;
use crate::protocol::DecodeError;
use crate::workflow::{EventKind, Role, Status};

/// Everything that can go wrong in gridsync-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A coded value (category, risk level, ...) that this version does not know.
    #[error("invalid {kind} code {value:?}")]
    InvalidCode { kind: &'static str, value: String },

    /// Input that breaks a field rule (empty title, bad area code, text too long, ...).
    #[error("invalid input: {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },

    #[error("case {0} not found")]
    CaseNotFound(CaseId),

    #[error("{what} {id:?} not found in the case")]
    ItemNotFound { what: &'static str, id: String },

    /// The caller's role may not author this kind of event (the permission table).
    #[error("role {role} may not {kind}")]
    NotPermitted { role: Role, kind: EventKind },

    /// The event is not valid in the case's current state.
    #[error("cannot {kind} a case that is {status}: {reason}")]
    InvalidTransition {
        kind: EventKind,
        status: Status,
        reason: String,
    },

    /// The store has no signed-in identity yet; typed operations need one to author events.
    #[error("no identity: sign in first")]
    NoIdentity,

    /// Bytes that are not a valid Automerge document or change.
    #[error("malformed document: {0}")]
    Document(#[from] Box<automerge::AutomergeError>),

    /// A sync message that could not be decoded.
    #[error("malformed sync message: {0}")]
    Decode(#[from] DecodeError),

    /// The device has no room left for the store (SQLite `SQLITE_FULL`: the disk, or the
    /// store's size cap). The operation was not applied; everything before it is intact and
    /// readable, and writing works again once there is room.
    #[error("device store is full: {0}")]
    DiskFull(#[source] rusqlite::Error),

    /// The store's file is read-only (a read-only mount or file, SQLite `SQLITE_READONLY`).
    /// The operation was not applied; reading works.
    #[error("device store is read-only: {0}")]
    ReadOnly(#[source] rusqlite::Error),

    /// The device store's SQLite file failed otherwise (I/O error, corrupt file).
    #[error("device store: {0}")]
    Storage(#[source] rusqlite::Error),

    /// The key given does not open the device store (or the file is not a store). Nothing
    /// was read or written; the right key still opens it.
    #[error("the key does not open the device store")]
    WrongKey,

    #[error("device store schema version {found} is newer than this app supports ({supported})")]
    StoreTooNew { found: i64, supported: i64 },

    /// An evidence file could not be read or written (the source file, the store's
    /// evidence folder). Nothing was recorded.
    #[error("evidence file: {0}")]
    Evidence(String),
}

impl Error {
    /// A stable snake_case code for programs (HTTP bodies, FFI, logs).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidCode { .. } => "invalid_code",
            Error::InvalidInput { .. } => "invalid_input",
            Error::CaseNotFound(_) => "case_not_found",
            Error::ItemNotFound { .. } => "item_not_found",
            Error::NotPermitted { .. } => "not_permitted",
            Error::InvalidTransition { .. } => "invalid_transition",
            Error::NoIdentity => "no_identity",
            Error::Document(_) => "malformed_document",
            Error::Decode(e) => e.code(),
            Error::DiskFull(_) => "disk_full",
            Error::ReadOnly(_) => "read_only",
            Error::Storage(_) => "storage",
            Error::StoreTooNew { .. } => "store_too_new",
            Error::WrongKey => "wrong_key",
            Error::Evidence(_) => "evidence_io",
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Document(Box::new(e))
    }
}

/// Sorts SQLite's failures into what the app must tell apart: no room, a read-only file,
/// anything else.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Error::DiskFull(e),
            Some(rusqlite::ErrorCode::ReadOnly) => Error::ReadOnly(e),
            _ => Error::Storage(e),
        }
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
