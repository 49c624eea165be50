//! End-to-end tests: the real server on loopback, phones as real `FieldStore`s.

mod health;
