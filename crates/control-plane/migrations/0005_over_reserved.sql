-- keybrake control plane: what a vendor reported above keybrake's reservation for a call.
-- Applied once, in a transaction, when PRAGMA user_version is below 5. Always 0 unless a pricing
-- rule failed to bound a call.
ALTER TABLE audit_records ADD COLUMN over_reserved_micros INTEGER NOT NULL DEFAULT 0
    CHECK (over_reserved_micros >= 0);
