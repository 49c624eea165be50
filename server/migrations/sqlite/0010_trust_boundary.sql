-- The trust boundary (issue 12). Kept in step with ../postgres/0010_trust_boundary.sql.

-- Changes whose dependencies the center does not have: judged once they arrive, never
-- applied to the case or served to another device meanwhile (the case's log and every read
-- of it stay as they were), refused after a week of waiting.
CREATE TABLE parked_changes (
    hash        TEXT PRIMARY KEY NOT NULL,
    case_id     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX parked_changes_by_device ON parked_changes (device_id);

-- Actors no device may bind: each server process's own (registered at start) and every
-- actor already in the change log that no device holds (the centers' of earlier starts).
CREATE TABLE reserved_actors (
    actor       TEXT PRIMARY KEY NOT NULL,
    reserved_at BIGINT NOT NULL
);
INSERT INTO reserved_actors (actor, reserved_at)
SELECT DISTINCT actor, 0 FROM changes
WHERE actor NOT IN (SELECT actor FROM device_actors);

-- Stored cases that no longer open: listed for the administrator, refused per case.
CREATE TABLE unavailable_cases (
    case_id      TEXT PRIMARY KEY NOT NULL,
    error        TEXT NOT NULL,
    found_at     BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
