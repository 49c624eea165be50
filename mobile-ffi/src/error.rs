//! The one error type that crosses the boundary: flat, with the core's stable code.

/// Every failure a binding sees. `code` is the core's stable code (`invalid_input`,
/// `malformed_cbor`, `storage_full`, ...), for programs; `message` is for people.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FieldError {
    #[error("{code}: {message}")]
    Failed { code: String, message: String },
}

impl From<gridsync_core::Error> for FieldError {
    fn from(e: gridsync_core::Error) -> Self {
        FieldError::Failed {
            code: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}
