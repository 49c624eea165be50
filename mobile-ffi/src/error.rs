//! The one error type that crosses the boundary.
//!
//! Flat: every variant carries the same two strings, a stable snake_case `code` for programs
//! (the core's [`gridsync_core::Error::code`], or the center's `code` from its JSON error
//! body) and a `detail` for people and logs. The variant says what the app should do about
//! it; the code says exactly what happened. Kotlin sees `FieldException.Network(code,
//! detail)`, Swift `FieldError.Network(code:detail:)`, Python `FieldError.Network` with
//! `.code` and `.detail`.
//!
//! The field is `detail`, not `message`: a field named `message` clashes with
//! `Throwable.message` in the generated Kotlin.

/// Every failure a binding sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum FieldError {
    /// An argument was wrong: a field rule (`invalid_input`), an unknown code such as a
    /// category (`invalid_code`), a server URL that is not one (`invalid_url`). Fix the input.
    #[error("{code}: {detail}")]
    InvalidInput { code: String, detail: String },

    /// No such case (`case_not_found`, also for ids that are not UUIDs) or party, note,
    /// installment in it (`item_not_found`).
    #[error("{code}: {detail}")]
    NotFound { code: String, detail: String },

    /// The workflow refused the step: the user's role may not take it (`not_permitted`) or
    /// the case's state does not allow it (`invalid_transition`).
    #[error("{code}: {detail}")]
    Refused { code: String, detail: String },

    /// Sign in (again): `no_identity` (nobody has signed in on this device, or they signed
    /// out), `not_signed_in` (no tokens for syncing), `invalid_credentials`,
    /// `token_expired`, `invalid_token`, `refresh_reused`, `device_mismatch`.
    #[error("{code}: {detail}")]
    Auth { code: String, detail: String },

    /// The center revoked this device (`device_revoked`): the local store has been wiped.
    #[error("{code}: {detail}")]
    DeviceRevoked { code: String, detail: String },

    /// The center could not be reached (`network`, `timeout`). Nothing was lost; try again
    /// when there is a connection.
    #[error("{code}: {detail}")]
    Network { code: String, detail: String },

    /// The center answered with an error: its own code (`rate_limited`, `body_too_large`,
    /// `malformed_cbor`, `unsupported_protocol`, `internal`, ...) or `http_<status>` when
    /// the body named none.
    #[error("{code}: {detail}")]
    Server { code: String, detail: String },

    /// Bytes given to the client that do not decode: a garbage sync response
    /// (`malformed_cbor`, `bad_compression`, `unsupported_protocol`, `trailing_bytes`,
    /// `limit_exceeded`, ...) or a malformed document (`malformed_document`).
    #[error("{code}: {detail}")]
    Malformed { code: String, detail: String },

    /// The device's SQLite file failed: `disk_full` (no room: ask the user to free space;
    /// nothing already saved is lost), `read_only` (the file or its storage is read-only:
    /// reading still works), `storage` (I/O error, corrupt file), `store_too_new` (written
    /// by a newer app). The failed operation changed nothing.
    #[error("{code}: {detail}")]
    Storage { code: String, detail: String },

    /// The key does not open the store (`wrong_key`): nothing was read or written. The app
    /// passed another key than the one the store was made with (a Keystore entry lost or
    /// replaced). The data cannot be read without that key.
    #[error("{code}: {detail}")]
    WrongKey { code: String, detail: String },

    /// A bug (`internal`). Report it.
    #[error("{code}: {detail}")]
    Internal { code: String, detail: String },
}

impl FieldError {
    /// The stable code.
    pub fn code(&self) -> &str {
        match self {
            FieldError::InvalidInput { code, .. }
            | FieldError::NotFound { code, .. }
            | FieldError::Refused { code, .. }
            | FieldError::Auth { code, .. }
            | FieldError::DeviceRevoked { code, .. }
            | FieldError::Network { code, .. }
            | FieldError::Server { code, .. }
            | FieldError::Malformed { code, .. }
            | FieldError::Storage { code, .. }
            | FieldError::WrongKey { code, .. }
            | FieldError::Internal { code, .. } => code,
        }
    }

    /// The text for people.
    pub fn detail(&self) -> &str {
        match self {
            FieldError::InvalidInput { detail, .. }
            | FieldError::NotFound { detail, .. }
            | FieldError::Refused { detail, .. }
            | FieldError::Auth { detail, .. }
            | FieldError::DeviceRevoked { detail, .. }
            | FieldError::Network { detail, .. }
            | FieldError::Server { detail, .. }
            | FieldError::Malformed { detail, .. }
            | FieldError::Storage { detail, .. }
            | FieldError::WrongKey { detail, .. }
            | FieldError::Internal { detail, .. } => detail,
        }
    }

    pub(crate) fn invalid_input(code: &str, detail: impl Into<String>) -> Self {
        FieldError::InvalidInput {
            code: code.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn auth(code: &str, detail: impl Into<String>) -> Self {
        FieldError::Auth {
            code: code.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn network(code: &str, detail: impl Into<String>) -> Self {
        FieldError::Network {
            code: code.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        FieldError::Internal {
            code: "internal".to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn case_not_found(id: &str) -> Self {
        FieldError::NotFound {
            code: "case_not_found".to_owned(),
            // Echo at most a little of what the caller sent: ids end up in logs.
            detail: format!(
                "case {:?} not found",
                id.chars().take(64).collect::<String>()
            ),
        }
    }

    /// An error answer of the center: its status and `{"code", "message"}` body (when the
    /// body has one). The variant follows the code where the code says more than the status.
    pub(crate) fn from_server(status: u16, code: Option<String>, message: Option<String>) -> Self {
        let code = code
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| format!("http_{status}"));
        let detail = message.unwrap_or_else(|| format!("the center answered HTTP {status}"));
        match code.as_str() {
            "device_revoked" => FieldError::DeviceRevoked { code, detail },
            "invalid_credentials"
            | "token_expired"
            | "invalid_token"
            | "refresh_reused"
            | "device_mismatch" => FieldError::Auth { code, detail },
            _ if status == 401 => FieldError::Auth { code, detail },
            _ => FieldError::Server { code, detail },
        }
    }
}

impl From<gridsync_core::Error> for FieldError {
    fn from(e: gridsync_core::Error) -> Self {
        use gridsync_core::Error as E;
        let code = e.code().to_owned();
        let detail = e.to_string();
        // `Error` is non-exhaustive: what this version does not know is a bug to report,
        // still with the core's code.
        match e {
            E::InvalidCode { .. } | E::InvalidInput { .. } => {
                FieldError::InvalidInput { code, detail }
            }
            E::CaseNotFound(_) | E::ItemNotFound { .. } => FieldError::NotFound { code, detail },
            E::NotPermitted { .. } | E::InvalidTransition { .. } => {
                FieldError::Refused { code, detail }
            }
            E::NoIdentity => FieldError::Auth { code, detail },
            E::Document(_) | E::Decode(_) => FieldError::Malformed { code, detail },
            E::DiskFull(_)
            | E::ReadOnly(_)
            | E::Storage(_)
            | E::StoreTooNew { .. }
            | E::Evidence(_) => FieldError::Storage { code, detail },
            E::WrongKey => FieldError::WrongKey { code, detail },
            _ => FieldError::Internal { code, detail },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_codes_pick_the_variant() {
        let e = FieldError::from_server(403, Some("device_revoked".into()), None);
        assert!(matches!(e, FieldError::DeviceRevoked { .. }));
        let e = FieldError::from_server(401, None, None);
        assert!(matches!(e, FieldError::Auth { .. }));
        assert_eq!(e.code(), "http_401");
        let e = FieldError::from_server(429, Some("rate_limited".into()), Some("slow".into()));
        assert_eq!((e.code(), e.detail()), ("rate_limited", "slow"));
        assert!(matches!(e, FieldError::Server { .. }));
    }

    #[test]
    fn core_errors_keep_their_code() {
        let e: FieldError = gridsync_core::Error::NoIdentity.into();
        assert_eq!(e.code(), "no_identity");
        assert!(matches!(e, FieldError::Auth { .. }));
        let e: FieldError = "NOPE"
            .parse::<gridsync_core::case::Category>()
            .unwrap_err()
            .into();
        assert_eq!(e.code(), "invalid_code");
        assert!(matches!(e, FieldError::InvalidInput { .. }));
        let e: FieldError = gridsync_core::Error::WrongKey.into();
        assert_eq!(e.code(), "wrong_key");
        assert!(matches!(e, FieldError::WrongKey { .. }));
    }
}
