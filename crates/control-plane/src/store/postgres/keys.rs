//! Vault key rows on PostgreSQL.

use super::{bump_version, Postgres};
use crate::store::keys::COLUMNS;
use crate::store::{
    to_i64, to_u64, KeyCounts, KeyFilter, KeyRow, KeyStatus, NewKey, Revoked, StoreError,
};
use deadpool_postgres::GenericClient;
use keybrake_core::VaultKeyId;
use tokio_postgres::types::ToSql;

fn key(r: &tokio_postgres::Row) -> Result<KeyRow, StoreError> {
    KeyRow::from_parts(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        [r.try_get(6)?, r.try_get(7)?],
        r.try_get(8)?,
    )
}

/// The key's row; with `lock`, locked until the transaction ends (every lease step and usage
/// report of the key takes this lock first).
pub(super) async fn get(
    c: &impl GenericClient,
    key_id: &str,
    lock: bool,
) -> Result<Option<KeyRow>, StoreError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {COLUMNS} FROM vault_keys WHERE key_id = $1{lock}");
    let stmt = c.prepare_cached(&sql).await?;
    c.query_opt(&stmt, &[&key_id])
        .await?
        .as_ref()
        .map(key)
        .transpose()
}

pub(super) async fn snapshot_keys(
    c: &impl GenericClient,
    now_ms: u64,
    retain_after_expiry_ms: u64,
) -> Result<Vec<KeyRow>, StoreError> {
    let horizon = to_i64(now_ms.saturating_sub(retain_after_expiry_ms))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM vault_keys WHERE expires_at_ms > $1 ORDER BY created_at_ms, key_id"
    );
    c.query(&sql, &[&horizon]).await?.iter().map(key).collect()
}

/// Keys changed after snapshot version `base` (see the SQLite backend's `changed_keys`).
pub(super) async fn changed_keys(
    c: &impl GenericClient,
    base: u64,
    now_ms: u64,
    retain_after_expiry_ms: u64,
) -> Result<Vec<KeyRow>, StoreError> {
    let horizon = to_i64(now_ms.saturating_sub(retain_after_expiry_ms))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM vault_keys WHERE changed_version > $1 AND expires_at_ms > $2 \
         ORDER BY changed_version, key_id"
    );
    c.query(&sql, &[&to_i64(base)?, &horizon])
        .await?
        .iter()
        .map(key)
        .collect()
}

/// Numbered parameters of a query built piece by piece.
#[derive(Default)]
pub(super) struct Args(Vec<Box<dyn ToSql + Sync + Send>>);

impl Args {
    /// Adds a value; returns its placeholder (`$n`).
    pub(super) fn push(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|b| &**b as &(dyn ToSql + Sync)).collect()
    }
}

// === impl Postgres ===

impl Postgres {
    pub async fn insert_key(&self, key: NewKey) -> Result<u64, StoreError> {
        let endpoints = key.endpoints_json()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let version = bump_version(&tx).await?;
        tx.execute(
            &format!(
                "INSERT INTO vault_keys ({COLUMNS}, changed_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            &[
                &key.key_id.as_str(),
                &key.secret_sha256,
                &key.vendor.as_str(),
                &to_i64(key.daily_cap_micros)?,
                &endpoints,
                &key.label,
                &to_i64(key.created_at_ms)?,
                &to_i64(key.expires_at_ms)?,
                &key.revoked_at_ms.map(to_i64).transpose()?,
                &to_i64(version)?,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    pub async fn get_key(&self, key_id: VaultKeyId) -> Result<Option<KeyRow>, StoreError> {
        get(&self.client().await?, key_id.as_str(), false).await
    }

    pub async fn list_keys(
        &self,
        filter: KeyFilter,
        now_ms: u64,
    ) -> Result<Vec<KeyRow>, StoreError> {
        let mut args = Args::default();
        let mut sql = format!("SELECT {COLUMNS} FROM vault_keys WHERE TRUE");
        match filter.status {
            None => {}
            Some(KeyStatus::Active) => sql.push_str(&format!(
                " AND revoked_at_ms IS NULL AND expires_at_ms > {}",
                args.push(to_i64(now_ms)?)
            )),
            Some(KeyStatus::Expired) => sql.push_str(&format!(
                " AND revoked_at_ms IS NULL AND expires_at_ms <= {}",
                args.push(to_i64(now_ms)?)
            )),
            Some(KeyStatus::Revoked) => sql.push_str(" AND revoked_at_ms IS NOT NULL"),
        }
        if let Some(label) = filter.label {
            sql.push_str(&format!(" AND label = {}", args.push(label)));
        }
        if let Some(prefix) = filter.label_prefix {
            // starts_with, not LIKE: `%` and `_` in a label are plain characters.
            sql.push_str(&format!(" AND starts_with(label, {})", args.push(prefix)));
        }
        if let Some(vendor) = filter.vendor {
            sql.push_str(&format!(
                " AND vendor = {}",
                args.push(vendor.as_str().to_owned())
            ));
        }
        sql.push_str(&format!(
            " ORDER BY created_at_ms DESC, key_id DESC LIMIT {}",
            args.push(i64::from(filter.limit))
        ));
        let client = self.client().await?;
        client
            .query(&sql, &args.refs())
            .await?
            .iter()
            .map(key)
            .collect()
    }

    pub async fn revoke_key(
        &self,
        key_id: VaultKeyId,
        now_ms: u64,
    ) -> Result<Option<Revoked>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = tx
            .execute(
                "UPDATE vault_keys SET revoked_at_ms = $2 WHERE key_id = $1 AND revoked_at_ms IS NULL",
                &[&key_id.as_str(), &to_i64(now_ms)?],
            )
            .await?;
        let version = if changed > 0 {
            let version = bump_version(&tx).await?;
            tx.execute(
                "UPDATE vault_keys SET changed_version = $2 WHERE key_id = $1",
                &[&key_id.as_str(), &to_i64(version)?],
            )
            .await?;
            Some(version)
        } else {
            None
        };
        let row = get(&tx, key_id.as_str(), false).await?;
        tx.commit().await?;
        Ok(row.map(|row| Revoked { row, version }))
    }

    pub async fn key_counts(&self, now_ms: u64) -> Result<KeyCounts, StoreError> {
        let client = self.client().await?;
        let r = client
            .query_one(
                "SELECT COUNT(*), \
                        COUNT(*) FILTER (WHERE revoked_at_ms IS NULL AND expires_at_ms > $1), \
                        COUNT(*) FILTER (WHERE revoked_at_ms IS NOT NULL) \
                 FROM vault_keys",
                &[&to_i64(now_ms)?],
            )
            .await?;
        Ok(KeyCounts {
            issued: to_u64(r.try_get(0)?, "vault_keys")?,
            active: to_u64(r.try_get(1)?, "vault_keys")?,
            revoked: to_u64(r.try_get(2)?, "vault_keys")?,
        })
    }
}
