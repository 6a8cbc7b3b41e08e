-- keybrake control plane: the operator's price overrides for Twilio and Resend.
-- Applied once, in a transaction, when PRAGMA user_version is below 3.

-- One row per vendor with any price set: the set entries only, as JSON (micro-USD, see
-- `crate::prices::PriceOverrides`). Whatever is absent is the built-in default. No row: all
-- defaults.
CREATE TABLE vendor_prices (
    vendor        TEXT    PRIMARY KEY CHECK (vendor IN ('twilio', 'resend')),
    overrides     TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;
