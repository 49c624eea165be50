-- Console sign-ins (issue 14): one row per browser session, found by the SHA-256 of the
-- cookie's secret. `device_id` is the session's pseudo-device (`web-…`), so revoking it
-- in the device list ends the session. A session ends at sign-out (`ended_at`), after
-- `expires_at` (the absolute limit) and after the idle limit since `last_seen_at`.
-- `csrf_token` is the synchronizer token unsafe requests must echo in X-CSRF-Token.
-- Kept in step with ../sqlite/0015_web_sessions.sql.
CREATE TABLE web_sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
