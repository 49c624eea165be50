-- Time-limit rules for an area (a township's own limits): an area-code prefix, NULL for the
-- whole county as before. Staff set rules only inside their scope (issue 12). Kept in step
-- with ../sqlite/0012_time_limit_areas.sql.
ALTER TABLE time_limit_rules ADD COLUMN area_prefix TEXT;
