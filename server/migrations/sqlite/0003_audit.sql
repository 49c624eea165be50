-- gridsync center schema: the audit log (SQLite). Kept in step with ../postgres/0003_audit.sql.
-- Append-only and hash-chained: `hash` = SHA-256 (hex) over `prev_hash` and this entry's
-- canonical fields (see server/src/audit.rs); the first entry chains to 64 zeros. `seq` is
-- assigned by the appender, which serialises appends (SQLite: the one writer connection).
-- `detail` is JSON and never holds personal data.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at        BIGINT NOT NULL,
    user_id   TEXT NOT NULL,
    role      TEXT NOT NULL,
    org_id    TEXT NOT NULL,
    action    TEXT NOT NULL,
    case_id   TEXT,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_by_case ON audit_log (case_id, seq);
CREATE INDEX audit_log_by_user ON audit_log (user_id, seq);
CREATE INDEX audit_log_by_at ON audit_log (at);
