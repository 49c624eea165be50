//! gridsync-ffi: the UniFFI skin over gridsync-core for Kotlin, Swift and Python.
//!
//! One object, [`FieldClient`], wraps the core's `FieldStore` behind a `Mutex`; records and
//! enums mirror the core's types; one flat error enum crosses the boundary. No logic lives
//! here. This first cut exposes the store's sans-IO sync; the full app surface follows.

uniffi::setup_scaffolding!();

mod client;
mod error;

pub use client::{FieldClient, PendingCounts};
pub use error::FieldError;
