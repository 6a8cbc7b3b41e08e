-- keybrake control plane: the audit trail of record.
-- Applied once, in a transaction, when PRAGMA user_version is below 4.

-- One call as a gateway saw it, stored once per (instance, seq). Never a secret.
CREATE TABLE audit_records (
    id                  INTEGER PRIMARY KEY,
    time_ms             INTEGER NOT NULL,
    gateway             TEXT    NOT NULL,
    instance            TEXT    NOT NULL,
    seq                 INTEGER NOT NULL CHECK (seq > 0),
    key_id              TEXT,
    label               TEXT,
    vendor              TEXT,
    method              TEXT    NOT NULL,
    path                TEXT    NOT NULL,
    status              INTEGER NOT NULL,
    decision            TEXT    NOT NULL CHECK (decision IN ('allow', 'deny')),
    deny_reason         TEXT,
    cost_micros         INTEGER NOT NULL CHECK (cost_micros >= 0),
    cost_source         TEXT,
    spend_micros        INTEGER,
    upstream_latency_ms INTEGER,
    vendor_request_id   TEXT,
    stored_at_ms        INTEGER NOT NULL
) STRICT;

-- A resent batch stores nothing twice.
CREATE UNIQUE INDEX audit_records_by_instance_seq ON audit_records (instance, seq);
-- Newest first, and the filters of GET /audit and GET /spend.
CREATE INDEX audit_records_by_time ON audit_records (time_ms, id);
CREATE INDEX audit_records_by_key ON audit_records (key_id, time_ms, id);
CREATE INDEX audit_records_by_label ON audit_records (label, time_ms, id);
CREATE INDEX audit_records_by_vendor ON audit_records (vendor, time_ms, id);

-- Each gateway instance's audit sequence: what it said it numbered and dropped, and how far the
-- records are stored without a hole. Records at or below `acked_through` were all stored (some
-- may since have been pruned by retention); the ones above it that are not stored are missing.
CREATE TABLE audit_streams (
    instance      TEXT    PRIMARY KEY,
    gateway       TEXT    NOT NULL,
    -- The next sequence number the instance will give, as last reported (the highest seen).
    next_seq      INTEGER NOT NULL CHECK (next_seq >= 1),
    -- Records the instance could not keep, as last reported (the highest seen).
    dropped_total INTEGER NOT NULL CHECK (dropped_total >= 0),
    acked_through INTEGER NOT NULL CHECK (acked_through >= 0),
    updated_at_ms INTEGER NOT NULL
) STRICT;
