-- keybrake control plane: which snapshot each gateway instance holds, for propagation.
-- Applied once, in a transaction, when PRAGMA user_version is below 7.

-- One Envoy process (the random instance id its sync service drew at start; a gateway that
-- does not send one is its own instance) and its latest snapshot poll. A poll says which
-- version the instance holds. Live: polling now (until `polling_until_ms`) or polled within
-- a few seconds (`crate::gateways::LIVE_AFTER_POLL_MS`).
CREATE TABLE gateway_polls (
    instance         TEXT    PRIMARY KEY,
    gateway          TEXT    NOT NULL,
    version          INTEGER NOT NULL CHECK (version >= 0),
    poll_started_ms  INTEGER NOT NULL,
    -- The end of the running poll's wait; 0 once it answered.
    polling_until_ms INTEGER NOT NULL,
    last_seen_ms     INTEGER NOT NULL
) STRICT;

CREATE INDEX gateway_polls_by_last_seen ON gateway_polls (last_seen_ms);
