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
INSERT INTO case_orgs (org_id, case_id)
SELECT org, id FROM (
    SELECT id, unnest(string_to_array(trim(both ',' from assigned_orgs), ',')) AS org
    FROM cases WHERE assigned_orgs <> ''
    UNION
    SELECT id, handling_org FROM cases WHERE handling_org IS NOT NULL
) s
WHERE org <> '';
-- Area scopes are prefixes, compared byte by byte whatever the database's collation.
CREATE INDEX cases_by_area_bytes ON cases ((area_code COLLATE "C"));
