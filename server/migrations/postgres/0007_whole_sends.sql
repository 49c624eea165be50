-- Whole-case sends are numbered per device; a device echoes the last number it applied, so
-- a case whose answer was lost on the way is sent whole again (see sync::pull).
ALTER TABLE devices ADD COLUMN whole_no BIGINT NOT NULL DEFAULT 0;
ALTER TABLE device_cases ADD COLUMN whole_no BIGINT NOT NULL DEFAULT 0;
