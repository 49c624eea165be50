-- The last case number handed out per county and day ("330182-20261128-"), taken with one
-- atomic upsert: reading the highest number and retrying on a clash failed under load
-- (two hundred dispatchers accepting at once).
CREATE TABLE case_numbers (
    prefix   TEXT   NOT NULL PRIMARY KEY,
    last_seq BIGINT NOT NULL
);
INSERT INTO case_numbers (prefix, last_seq)
SELECT substr(case_no, 1, length(case_no) - 6),
       MAX(CAST(substr(case_no, length(case_no) - 5) AS BIGINT))
FROM cases
WHERE case_no IS NOT NULL AND length(case_no) > 6
GROUP BY substr(case_no, 1, length(case_no) - 6);
