-- Policy deltas (data plane v2): gateways that hold snapshot version V ask for what changed
-- since V instead of the whole snapshot.
--
-- `changed_version` is the snapshot version of a key's last change (issue, revoke). Keys from
-- before this migration keep 0: every gateway already holds them from a full snapshot.
ALTER TABLE vault_keys ADD COLUMN changed_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX vault_keys_by_changed ON vault_keys (changed_version);

-- The snapshot version of the last change to what is not per key (vendor credentials,
-- conversion rates, prices): a delta carries them only when this is newer than its base.
INSERT INTO meta (name, value)
    SELECT 'globals_version', value FROM meta WHERE name = 'snapshot_version';
