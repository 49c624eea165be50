//! End-to-end tests: the real server on loopback (SQLite, or PostgreSQL when
//! `GRIDSYNC_TEST_POSTGRES_URL` is set), phones as real `FieldStore`s over HTTP.

mod bad_input;
mod center;
mod health;
mod scope;
mod sync;
