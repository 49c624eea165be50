//! The server library's error type. HTTP mapping lives in `http::error::ApiError`.

/// Everything that can fail inside the server, below the HTTP layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Core(#[from] gridsync_core::Error),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    /// An export that could not be written (the workbook writer failed).
    #[error("export: {0}")]
    Export(String),
    /// A stored case that no longer opens (reported to the administrator).
    #[error("case {0} cannot be opened")]
    CaseUnavailable(gridsync_core::case::CaseId),
}

impl Error {
    /// A unique index refused the write (a number or an id already taken).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Database(sqlx::Error::Database(d)) if d.is_unique_violation())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
