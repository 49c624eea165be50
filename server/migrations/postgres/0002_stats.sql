-- gridsync center schema v2 (PostgreSQL): projection columns for statistics (GET /v1/stats).
-- Kept in step with ../sqlite/0002_stats.sql. Flags are BIGINT 0/1, NULL when unknown.
-- Rows written before this migration get the columns on their next merge or center step.

-- The outcome that stands: success (化解是否成功) and closed within the handling limit.
ALTER TABLE cases ADD COLUMN resolved_success BIGINT;
ALTER TABLE cases ADD COLUMN resolved_on_time BIGINT;
-- The tier that resolved it: VILLAGE, TOWNSHIP or COUNTY (on-the-spot resolutions: VILLAGE).
ALTER TABLE cases ADD COLUMN resolved_tier TEXT;
-- The last dispatch and the sign-for that answered it, and whether that came within the
-- case's sign limit (NULL while the last dispatch is not signed for).
ALTER TABLE cases ADD COLUMN dispatched_at BIGINT;
ALTER TABLE cases ADD COLUMN signed_at BIGINT;
ALTER TABLE cases ADD COLUMN signed_on_time BIGINT;
-- The latest follow-up visit: satisfaction 1..5 (4 and 5 count as satisfied).
ALTER TABLE cases ADD COLUMN satisfaction BIGINT;
ALTER TABLE cases ADD COLUMN followed_up_at BIGINT;

-- The statistics cohort: cases by submission time.
CREATE INDEX cases_by_submitted ON cases (submitted_at);
