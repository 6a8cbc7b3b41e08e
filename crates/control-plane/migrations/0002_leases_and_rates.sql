-- keybrake control plane: budget leases per gateway instance, and conversion rates.
-- Applied once, in a transaction, when PRAGMA user_version is below 2.

-- One gateway process (an Envoy instance, with the random id its sync service drew at start)
-- and when any data-plane request last carried its id. Live: seen within the instance TTL.
CREATE TABLE gateway_instances (
    instance     TEXT    PRIMARY KEY,
    gateway      TEXT    NOT NULL,
    last_seen_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX gateway_instances_by_last_seen ON gateway_instances (last_seen_ms);

-- One key's lease in one instance for one UTC day (days since the Unix epoch), in micro-USD.
-- For each key and day the control plane keeps SUM(MAX(granted, spent)) <= the daily cap.
CREATE TABLE key_leases (
    key_id        TEXT    NOT NULL REFERENCES vault_keys (key_id),
    day           INTEGER NOT NULL,
    instance      TEXT    NOT NULL REFERENCES gateway_instances (instance),
    -- The instance's lease total for the day; lowered only by an acknowledged release.
    granted       INTEGER NOT NULL CHECK (granted >= 0),
    -- Grows with every grant; a release is acknowledged only against the current one.
    seq           INTEGER NOT NULL CHECK (seq >= 0),
    -- As last reported by the instance (spent never goes down).
    spent         INTEGER NOT NULL CHECK (spent >= 0),
    reserved      INTEGER NOT NULL CHECK (reserved >= 0),
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (key_id, day, instance)
) STRICT;

CREATE INDEX key_leases_by_instance ON key_leases (instance, day);

-- Operator-set conversion rates: USD per major unit of `currency`, in nano-USD. USD itself is
-- built in and never stored.
CREATE TABLE conversion_rates (
    currency           TEXT    PRIMARY KEY CHECK (length(currency) = 3 AND currency <> 'usd'),
    usd_nanos_per_unit INTEGER NOT NULL CHECK (usd_nanos_per_unit > 0),
    updated_at_ms      INTEGER NOT NULL
) STRICT;
