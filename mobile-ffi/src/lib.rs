//! gridsync-ffi: the UniFFI skin over `gridsync-core` that the Android and iOS apps (and
//! Python scripts) build on. Kotlin, Swift and Python bindings are generated from this
//! crate's compiled library (`mobile-ffi/bindgen.sh`); `docs/mobile.md` is the app
//! developer's guide.
//!
//! - [`FieldClient`] (`client.rs`): the one object. It wraps the core's `FieldStore` in a
//!   `Mutex`, and adds the session with the center and a built-in blocking HTTP transport.
//!   `Send + Sync`; every call blocks and may come from any thread.
//! - Mirror types, one file per concept, each with `From` conversions from the core's
//!   types: `case.rs` (inputs, list rows, the detail screen), `workflow.rs` (status,
//!   deadlines, timeline, co-handlers' feedback), `task.rs` (the task list), `sync.rs` (reports), `session.rs` (who is signed in, the
//!   `/v1/auth/*` contract), `codes.rs` (coded values and their labels).
//! - [`FieldError`] (`error.rs`): the one error, flat, with a stable `code`.
//! - `http.rs`: the `ureq` + rustls transport (no OpenSSL).
//!
//! No domain logic lives here: validation, the workflow and sync are the core's. Nothing
//! panics across the boundary on bad input: every input-dependent path returns
//! `FieldError`, and the crate keeps `panic = "unwind"` so a bug surfaces as UniFFI's
//! internal error instead of aborting the app.
//!
//! Coded values cross as follows (see `codes.rs` and `workflow.rs` for why): what a person
//! picks when recording (category, risk level, flags, difficulty, source, party role, ID
//! type, sex, note kind, follow-up method) as code strings such as `"LABOUR_WAGES"`, parsed
//! on the way in (`invalid_code` when unknown); what the workflow derives (`Status`,
//! `WarningLevel`, `DeadlineKind`, `Tier`, `SupervisionLevel`, `Role`) as UniFFI enums.

uniffi::setup_scaffolding!();

mod case;
mod client;
mod codes;
mod error;
mod evidence;
mod fields;
mod http;
mod observe;
mod session;
mod steps;
mod sync;
mod task;
mod workflow;

pub use case::{
    Attachment, CaseDetail, CaseEdit, CaseFilter, CaseSummary, Location, NewCase, Note, Party,
    PartyEdit, PartyInput, Rejection,
};
pub use client::FieldClient;
pub use codes::{CodeKind, CodeLabel, code_label, code_list};
pub use error::FieldError;
pub use evidence::{EvidenceUpload, UploadReport, UploadState};
pub use fields::{FieldProblem, FieldProblemKind, FieldRule, check_field, field_rules};
pub use observe::{
    CaseChange, CaseObserver, ChangeReason, SyncState, SyncStatus, SyncStatusObserver,
};
pub use session::Session;
pub use steps::{AgreementInput, EventKind, InstallmentInput, ResolveInput};
pub use sync::{PendingCounts, RejectedCase, SyncReport};
pub use task::{Task, TaskKind};
pub use workflow::{
    Agreement, CoFeedback, Deadline, DeadlineKind, FollowUp, FollowUpInput, Installment, OrgRef,
    Outcome, Role, Status, SupervisionLevel, Tier, TimelineEntry, WarningLevel,
};
