-- Joint handling (会诊, issue 13): each co-handling organisation of a dispatch gives its
-- feedback (协办意见) within its own limit, configurable like the others. Existing rules
-- take the default of 3 days (259200000 ms). Kept in step with ../sqlite/0014_co_handle.sql.
ALTER TABLE time_limit_rules ADD COLUMN co_handle BIGINT NOT NULL DEFAULT 259200000;
