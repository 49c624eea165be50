-- Signed changes and evidence bundles (issue 17). Kept in step with ../sqlite/0018_signatures.sql.

-- Each installation's Ed25519 public key (hex), registered at sign-in and bound to its
-- device. A device gets a new key after a wipe; the old one stays, so what it signed stays
-- verifiable. Revoked with the device.
CREATE TABLE device_keys (
    public_key    TEXT PRIMARY KEY NOT NULL,
    device_id     TEXT NOT NULL REFERENCES devices (id),
    first_seen_at BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX device_keys_by_device ON device_keys (device_id);

-- The key an actor's changes are signed with (NULL: registered before keys existed).
ALTER TABLE device_actors ADD COLUMN public_key TEXT;

-- The change's signature (64 bytes) and its signer's public key (hex): a device's key, or
-- the center's own for changes the center writes. NULL: an unsigned change.
ALTER TABLE changes ADD COLUMN signer TEXT;
ALTER TABLE changes ADD COLUMN signature BYTEA;

-- The center's own Ed25519 keys (like jwt_keys): the newest not retired signs the
-- center's changes and its evidence bundles; all are published at
-- /.well-known/gridsync-signing-keys. The secret is hex.
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY NOT NULL,
    secret     TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
