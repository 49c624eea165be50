//! gridsync-core: everything the phone and the center must agree on, with no network I/O.
//!
//! - [`case`]: the case model and its Automerge document ([`case::CaseDoc`]), edited only
//!   through typed operations.
//! - [`workflow`]: the center's four-step method as a pure fold over the case's event log,
//!   with the permission table and time limits.
//! - [`protocol`]: the versioned CBOR sync messages and their decode limits.
//! - [`store`]: the device store ([`store::FieldStore`]) over one SQLite file, with its
//!   outbox and the sans-IO sync client (`prepare_sync` / `apply_sync_response`).
//! - [`signing`]: Ed25519 signatures over change hashes; [`bundle`]: the evidence bundle's
//!   format and its offline verification; [`audit_chain`]: the hash of the center's audit
//!   chain, which a bundle's reader recomputes.
//!
//! The server and the mobile bindings depend on this crate; it depends on neither.
#![forbid(unsafe_code)]

pub mod audit_chain;
pub mod bundle;
pub mod case;
pub mod clock;
mod error;
pub mod protocol;
pub mod signing;
pub mod store;
pub mod workflow;

pub use error::{Error, Result};
