-- The organisations each case is assigned to (every organisation it was dispatched to, and
-- the one handling it), a row each. A phone's scope is its area or these: with them in a
-- table, a fresh phone's first pull finds its cases by index instead of scanning every case
-- with `assigned_orgs LIKE` (BENCHMARKS, issue 6). Kept by `cases::upsert`.
CREATE TABLE case_orgs (
    org_id  TEXT NOT NULL,
    case_id TEXT NOT NULL,
    PRIMARY KEY (org_id, case_id)
);
CREATE INDEX case_orgs_by_case ON case_orgs (case_id);
INSERT OR IGNORE INTO case_orgs (org_id, case_id)
WITH RECURSIVE split (case_id, org, rest) AS (
    SELECT id, NULL, substr(assigned_orgs, 2) FROM cases WHERE assigned_orgs <> ''
    UNION ALL
    SELECT case_id, substr(rest, 1, instr(rest, ',') - 1), substr(rest, instr(rest, ',') + 1)
    FROM split WHERE instr(rest, ',') > 0
)
SELECT org, case_id FROM split WHERE org IS NOT NULL AND org <> ''
UNION
SELECT handling_org, id FROM cases WHERE handling_org IS NOT NULL;
