-- Evidence (issue 15): blobs named by their sha256, stored once in the object store
-- (`blobs/{sha}`); which cases hold them; resumable uploads as chunk objects
-- (`uploads/...`) recorded here once durable; bytes uploaded per device per day.

-- A blob the center holds whole and checked.
CREATE TABLE evidence_blobs (
    sha256     TEXT PRIMARY KEY NOT NULL,
    size       BIGINT NOT NULL,
    -- Sniffed from the bytes at the first chunk (never the phone's word).
    mime       TEXT NOT NULL,
    stored_at  BIGINT NOT NULL
);

-- A case holds a blob: its bytes were uploaded to it, or seen complete by a caller whose
-- scope already held the blob through another case (docs/security.md, "Evidence").
CREATE TABLE evidence_links (
    case_id    TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    linked_at  BIGINT NOT NULL,
    PRIMARY KEY (case_id, sha256)
);
CREATE INDEX evidence_links_by_sha ON evidence_links (sha256);

-- An unfinished upload of one blob to one case.
CREATE TABLE evidence_uploads (
    case_id    TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    -- The size the case's reference declared when the upload began.
    size       BIGINT NOT NULL,
    -- Bytes held: the sum of the chunks below.
    received   BIGINT NOT NULL,
    mime       TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    touched_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, sha256)
);
CREATE INDEX evidence_uploads_by_device ON evidence_uploads (device_id);

-- The durable chunks of an upload, in offset order; `object` is the chunk's own key.
CREATE TABLE evidence_chunks (
    case_id    TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    pos        BIGINT NOT NULL,
    len        BIGINT NOT NULL,
    object     TEXT NOT NULL,
    PRIMARY KEY (case_id, sha256, pos)
);
-- The collector asks whether an object in the store is a live chunk.
CREATE INDEX evidence_chunks_by_object ON evidence_chunks (object);

-- Bytes a device uploaded on a UTC day (its daily limit).
CREATE TABLE evidence_quota (
    device_id  TEXT NOT NULL,
    day        BIGINT NOT NULL,
    bytes      BIGINT NOT NULL,
    PRIMARY KEY (device_id, day)
);
