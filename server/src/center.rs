//! The center's own work on cases, beside what phones push: workflow steps, intake and case
//! numbers ([`cases`]), automatic dispatch ([`rules`]), time limits, the warning scanner,
//! supervision, high-risk alerts and the live feed ([`warnings`]). Every edit of a case
//! document goes through `sync-core`'s typed operations and the one change-log writer
//! (`db::cases::append_changes`), so it reaches the phones at their next sync.

pub mod cases;
pub mod rules;
pub mod warnings;
