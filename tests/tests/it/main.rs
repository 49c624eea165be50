//! End-to-end tests: the real server on loopback (SQLite, or PostgreSQL when
//! `GRIDSYNC_TEST_POSTGRES_URL` is set), phones as real `FieldStore`s over HTTP.

mod accounts;
mod actions;
mod admin_api;
mod adversary;
mod audit;
mod authz_sync;
mod bad_input;
mod bandwidth;
mod casework;
mod center;
mod center_policy;
mod chaos;
mod conflict;
mod connections;
mod console;
mod directory;
mod dispatch;
mod evidence;
mod forge;
mod hardening;
mod health;
mod joint;
mod language;
mod loadgen;
mod matrix;
mod openapi;
mod readme;
mod regressions;
mod scope;
mod stats;
mod sync;
mod tokens;
mod trust;
mod walk;
mod warnings;
