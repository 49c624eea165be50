-- gridsync center schema v1 (SQLite). Times are epoch milliseconds; ids are TEXT.
-- Flags are BIGINT 0/1: sqlx's Any driver maps no SQLite BOOLEAN.
-- Kept in step with ../postgres/0001_init.sql. Never edit once landed: add a migration.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- The organisation tree, keyed by area code: county center > township centers > villages,
-- departments and mediation rooms attached to a center.
CREATE TABLE orgs (
    id           TEXT PRIMARY KEY NOT NULL,
    parent_id    TEXT REFERENCES orgs (id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    tier         TEXT NOT NULL,
    area_code    TEXT NOT NULL,
    -- Cases whose area code starts with this are in the org's scope; NULL: only cases
    -- dispatched to it (departments).
    scope_prefix TEXT,
    created_at   BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    active        BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT,
    revoked_at   BIGINT,
    -- The organisation whose scope the device last pulled: when the user moves, the next
    -- sync rescans every case instead of only those changed since the cursor.
    scope_org    TEXT
);

-- Automerge actor ids bound to the device that registered them.
CREATE TABLE device_actors (
    actor     TEXT PRIMARY KEY NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices (id)
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- The append-only change log: one row per Automerge change, unique by hash; `pos` is the
-- feed position phones keep as their cursor.
CREATE TABLE changes (
    pos         INTEGER PRIMARY KEY AUTOINCREMENT,
    hash        TEXT NOT NULL UNIQUE,
    case_id     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    device_id   TEXT,
    bytes       BLOB NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX changes_by_case ON changes (case_id, pos);

-- One row per case: a periodic snapshot of the document plus its projection into indexed
-- columns for the workflow queries. Rebuilt from `changes` on each merge.
CREATE TABLE cases (
    id            TEXT PRIMARY KEY NOT NULL,
    snapshot      BLOB NOT NULL,
    snapshot_pos  BIGINT NOT NULL,
    status        TEXT NOT NULL,
    case_no       TEXT,
    title         TEXT NOT NULL,
    area_code     TEXT NOT NULL,
    category      TEXT NOT NULL,
    risk_level    TEXT NOT NULL,
    high_risk     BIGINT NOT NULL,
    source        TEXT NOT NULL,
    tier          TEXT NOT NULL,
    handling_org  TEXT,
    -- ',org-a,org-b,' so one LIKE finds a member.
    assigned_orgs TEXT NOT NULL,
    assignee      TEXT,
    supervision   TEXT NOT NULL,
    due_kind      TEXT,
    due_start     BIGINT,
    due_at        BIGINT,
    party_names   TEXT NOT NULL,
    recorded_at   BIGINT NOT NULL,
    submitted_at  BIGINT,
    accepted_at   BIGINT,
    resolved_at   BIGINT,
    archived_at   BIGINT,
    created_pos   BIGINT NOT NULL,
    updated_pos   BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX cases_by_case_no ON cases (case_no) WHERE case_no IS NOT NULL;
CREATE INDEX cases_by_area ON cases (area_code);
CREATE INDEX cases_by_status ON cases (status, updated_at);
CREATE INDEX cases_by_due ON cases (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX cases_by_updated ON cases (updated_pos);

-- Which cases each device holds, and since which feed position it has them whole.
CREATE TABLE device_cases (
    device_id  TEXT NOT NULL,
    case_id    TEXT NOT NULL,
    since_pos  BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (device_id, case_id)
);

-- Kept for symmetry with PostgreSQL; SQLite serialises writers in process.
CREATE TABLE case_locks (
    id TEXT PRIMARY KEY NOT NULL
);
