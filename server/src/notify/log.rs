//! The development channel: a line in the log per message, naming its kind, its template
//! and the recipient's pseudonym (`mobile:…`, `user:…`, `device:…`) only. The number, the
//! names, the code and the link never reach it.

use super::Kind;

pub(crate) fn sent(kind: Kind, template: &str, recipient: &str) {
    tracing::info!(
        kind = kind.as_code(),
        template,
        recipient,
        "notification (log channel)"
    );
}
