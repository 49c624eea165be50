-- The app and version a device last spoke with (its sanitized User-Agent, at most 64
-- characters), shown to administrators beside its last sync (issue 13, administration).
-- Kept in step with ../sqlite/0013_device_app_version.sql.
ALTER TABLE devices ADD COLUMN app_version TEXT;
