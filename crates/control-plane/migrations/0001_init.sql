-- keybrake control plane: vault keys, vendor credentials, and the snapshot version.
-- Applied once, in a transaction, when PRAGMA user_version is below 1.

-- One row per issued vault key. Only the SHA-256 of the key is stored, never the key.
CREATE TABLE vault_keys (
    key_id            TEXT    PRIMARY KEY,
    secret_sha256     TEXT    NOT NULL UNIQUE,
    vendor            TEXT    NOT NULL,
    daily_cap_micros  INTEGER NOT NULL CHECK (daily_cap_micros > 0),
    -- JSON array of canonical endpoint patterns ("POST /v1/payment_intents"). Never empty.
    allowed_endpoints TEXT    NOT NULL,
    label             TEXT    NOT NULL,
    created_at_ms     INTEGER NOT NULL,
    expires_at_ms     INTEGER NOT NULL,
    revoked_at_ms     INTEGER
) STRICT;

CREATE INDEX vault_keys_by_created ON vault_keys (created_at_ms DESC);
CREATE INDEX vault_keys_by_expiry ON vault_keys (expires_at_ms);
CREATE INDEX vault_keys_by_label ON vault_keys (label);

-- A vendor's real credential, sealed with the master key (XChaCha20-Poly1305, the vendor name
-- as associated data).
CREATE TABLE vendor_credentials (
    vendor        TEXT    PRIMARY KEY,
    nonce         BLOB    NOT NULL,
    ciphertext    BLOB    NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

-- Named counters. `snapshot_version` grows in the same transaction as every change that
-- gateways must see, so it never goes back, across restarts included.
CREATE TABLE meta (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

INSERT INTO meta (name, value) VALUES ('snapshot_version', 1);
