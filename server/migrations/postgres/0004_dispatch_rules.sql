-- Auto-dispatch rules (智能导办 / 分类转办): category, risk and area → the responsible
-- organisation, and whether the center's system actor accepts and dispatches on its own.
-- Kept in step with ../sqlite/0004_dispatch_rules.sql.
CREATE TABLE dispatch_rules (
    id          TEXT PRIMARY KEY NOT NULL,
    priority    BIGINT NOT NULL,
    -- NULL: any.
    category    TEXT,
    risk_level  TEXT,
    area_prefix TEXT,
    -- The center that accepts (its county code numbers the case) and the organisation the
    -- case goes to.
    center_org  TEXT NOT NULL REFERENCES orgs (id),
    target_org  TEXT NOT NULL REFERENCES orgs (id),
    -- 1: accept and dispatch without a person; 0: a suggestion for the dispatcher.
    automatic   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX dispatch_rules_by_priority ON dispatch_rules (priority, id);
