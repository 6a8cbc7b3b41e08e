-- keybrake control plane on PostgreSQL: the whole schema of SQLite's migrations 0001 to 0007
-- (see ../*.sql for what each column means), in PostgreSQL's types. Money and times are BIGINT
-- (micro-USD, Unix ms); `day` is days since the Unix epoch (UTC).

CREATE TABLE vault_keys (
    key_id            TEXT    PRIMARY KEY,
    secret_sha256     TEXT    NOT NULL UNIQUE,
    vendor            TEXT    NOT NULL,
    daily_cap_micros  BIGINT  NOT NULL CHECK (daily_cap_micros > 0),
    allowed_endpoints TEXT    NOT NULL,
    label             TEXT    NOT NULL,
    created_at_ms     BIGINT  NOT NULL,
    expires_at_ms     BIGINT  NOT NULL,
    revoked_at_ms     BIGINT,
    -- The snapshot version of the key's last change (issue, revoke): what deltas carry.
    changed_version   BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX vault_keys_by_created ON vault_keys (created_at_ms DESC);
CREATE INDEX vault_keys_by_expiry ON vault_keys (expires_at_ms);
CREATE INDEX vault_keys_by_label ON vault_keys (label);
CREATE INDEX vault_keys_by_changed ON vault_keys (changed_version);

CREATE TABLE vendor_credentials (
    vendor        TEXT   PRIMARY KEY,
    nonce         BYTEA  NOT NULL,
    ciphertext    BYTEA  NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- `snapshot_version` grows in the same transaction as every change gateways must see; the
-- row lock its UPDATE takes orders those changes across replicas.
CREATE TABLE meta (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO meta (name, value) VALUES ('snapshot_version', 1);
-- The snapshot version of the last change to credentials, rates or prices.
INSERT INTO meta (name, value) VALUES ('globals_version', 1);

CREATE TABLE gateway_instances (
    instance     TEXT   PRIMARY KEY,
    gateway      TEXT   NOT NULL,
    last_seen_ms BIGINT NOT NULL
);

CREATE INDEX gateway_instances_by_last_seen ON gateway_instances (last_seen_ms);

-- For each key and day, SUM(GREATEST(granted, spent)) <= the daily cap: every step that reads a
-- key's rows and writes one back first locks the key's vault_keys row (SELECT … FOR UPDATE).
CREATE TABLE key_leases (
    key_id        TEXT   NOT NULL REFERENCES vault_keys (key_id),
    day           BIGINT NOT NULL,
    instance      TEXT   NOT NULL REFERENCES gateway_instances (instance),
    granted       BIGINT NOT NULL CHECK (granted >= 0),
    seq           BIGINT NOT NULL CHECK (seq >= 0),
    spent         BIGINT NOT NULL CHECK (spent >= 0),
    reserved      BIGINT NOT NULL CHECK (reserved >= 0),
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (key_id, day, instance)
);

CREATE INDEX key_leases_by_instance ON key_leases (instance, day);

CREATE TABLE conversion_rates (
    currency           TEXT   PRIMARY KEY CHECK (length(currency) = 3 AND currency <> 'usd'),
    usd_nanos_per_unit BIGINT NOT NULL CHECK (usd_nanos_per_unit > 0),
    updated_at_ms      BIGINT NOT NULL
);

CREATE TABLE vendor_prices (
    vendor        TEXT   PRIMARY KEY CHECK (vendor IN ('twilio', 'resend')),
    overrides     TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE audit_records (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_ms              BIGINT NOT NULL,
    gateway              TEXT   NOT NULL,
    instance             TEXT   NOT NULL,
    seq                  BIGINT NOT NULL CHECK (seq > 0),
    key_id               TEXT,
    label                TEXT,
    vendor               TEXT,
    method               TEXT   NOT NULL,
    path                 TEXT   NOT NULL,
    status               BIGINT NOT NULL,
    decision             TEXT   NOT NULL CHECK (decision IN ('allow', 'deny')),
    deny_reason          TEXT,
    cost_micros          BIGINT NOT NULL CHECK (cost_micros >= 0),
    cost_source          TEXT,
    spend_micros         BIGINT,
    upstream_latency_ms  BIGINT,
    vendor_request_id    TEXT,
    stored_at_ms         BIGINT NOT NULL,
    over_reserved_micros BIGINT NOT NULL DEFAULT 0 CHECK (over_reserved_micros >= 0)
);

-- Each (instance, seq) once, whichever replica a batch reached.
CREATE UNIQUE INDEX audit_records_by_instance_seq ON audit_records (instance, seq);
CREATE INDEX audit_records_by_time ON audit_records (time_ms, id);
CREATE INDEX audit_records_by_key ON audit_records (key_id, time_ms, id);
CREATE INDEX audit_records_by_label ON audit_records (label, time_ms, id);
CREATE INDEX audit_records_by_vendor ON audit_records (vendor, time_ms, id);

CREATE TABLE audit_streams (
    instance      TEXT   PRIMARY KEY,
    gateway       TEXT   NOT NULL,
    next_seq      BIGINT NOT NULL CHECK (next_seq >= 1),
    dropped_total BIGINT NOT NULL CHECK (dropped_total >= 0),
    acked_through BIGINT NOT NULL CHECK (acked_through >= 0),
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE gateway_polls (
    instance         TEXT   PRIMARY KEY,
    gateway          TEXT   NOT NULL,
    version          BIGINT NOT NULL CHECK (version >= 0),
    poll_started_ms  BIGINT NOT NULL,
    polling_until_ms BIGINT NOT NULL,
    last_seen_ms     BIGINT NOT NULL
);

CREATE INDEX gateway_polls_by_last_seen ON gateway_polls (last_seen_ms);
