-- Time-limit rules per tier and category (the most specific one applies; none: the
-- defaults of DESIGN §4), and the warnings the scanner raises. Kept in step with
-- ../sqlite/0005_time_limits_warnings.sql.
CREATE TABLE time_limit_rules (
    id               TEXT PRIMARY KEY NOT NULL,
    -- NULL: any.
    tier             TEXT,
    category         TEXT,
    accept           BIGINT NOT NULL,
    accept_high_risk BIGINT NOT NULL,
    sign             BIGINT NOT NULL,
    handle_simple    BIGINT NOT NULL,
    handle_general   BIGINT NOT NULL,
    handle_complex   BIGINT NOT NULL,
    follow_up        BIGINT NOT NULL,
    yellow_percent   BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);

-- One row per case and kind of warning (ACCEPT, SIGN, HANDLE, FOLLOW_UP, INSTALLMENT,
-- HIGH_RISK); `cleared_at` is set when the cause goes away.
CREATE TABLE warnings (
    id         TEXT PRIMARY KEY NOT NULL,
    case_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    level      TEXT NOT NULL,
    area_code  TEXT NOT NULL,
    -- ',org-a,org-b,' (assigned and handling organisations) for scope.
    org_ids    TEXT NOT NULL,
    due_at     BIGINT,
    raised_at  BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    cleared_at BIGINT
);
CREATE INDEX warnings_by_case ON warnings (case_id);
CREATE INDEX warnings_open ON warnings (cleared_at, level);
