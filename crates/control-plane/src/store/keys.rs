//! Vault key rows: insert, read, list, revoke, count.

use super::sqlite::bump_version;
use super::{to_i64, to_u64, Sqlite, StoreError};
use keybrake_core::{EndpointPattern, VaultKeyId, Vendor};
use rusqlite::{params, Connection, OptionalExtension, Row};

/// A vault key as stored: its policy and the SHA-256 of the key, never the key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRow {
    pub key_id: VaultKeyId,
    /// Hex SHA-256 of the whole vault key.
    pub secret_sha256: String,
    pub vendor: Vendor,
    /// Must be greater than zero.
    pub daily_cap_micros: u64,
    /// Must not be empty.
    pub allowed_endpoints: Vec<EndpointPattern>,
    pub label: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    pub revoked_at_ms: Option<u64>,
}

/// A key about to be inserted.
pub type NewKey = KeyRow;

/// Where a key stands at a given instant. Revocation wins over expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

/// Optional filters of a key listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFilter {
    pub status: Option<KeyStatus>,
    /// Exact label.
    pub label: Option<String>,
    /// Labels starting with this (the console's filter).
    pub label_prefix: Option<String>,
    pub vendor: Option<Vendor>,
    /// At most this many keys, newest first.
    pub limit: u32,
}

/// The outcome of a revocation of a known key.
#[derive(Clone, Debug)]
pub struct Revoked {
    pub row: KeyRow,
    /// The new snapshot version, or `None` when the key was already revoked.
    pub version: Option<u64>,
}

/// Gauges for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyCounts {
    pub issued: u64,
    pub active: u64,
    pub revoked: u64,
}

pub(crate) const COLUMNS: &str =
    "key_id, secret_sha256, vendor, daily_cap_micros, allowed_endpoints, \
                       label, created_at_ms, expires_at_ms, revoked_at_ms";

// === impl KeyStatus ===

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [KeyStatus::Active, KeyStatus::Expired, KeyStatus::Revoked]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

// === impl KeyRow ===

impl KeyRow {
    pub fn status(&self, now_ms: u64) -> KeyStatus {
        if self.revoked_at_ms.is_some() {
            KeyStatus::Revoked
        } else if now_ms >= self.expires_at_ms {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Self::from_parts(
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            [r.get(6)?, r.get(7)?],
            r.get(8)?,
        )
    }

    /// A row from the columns of [`COLUMNS`] in order, checked (either backend).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        key_id: String,
        secret_sha256: String,
        vendor: String,
        cap: i64,
        endpoints: String,
        label: String,
        [created_at, expires_at]: [i64; 2],
        revoked_at: Option<i64>,
    ) -> Result<Self, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            table: "vault_keys",
            detail,
        };
        Ok(Self {
            key_id: VaultKeyId::parse(&key_id).map_err(|e| corrupt(format!("key_id: {e}")))?,
            secret_sha256,
            vendor: Vendor::from_name(&vendor)
                .ok_or_else(|| corrupt(format!("vendor {vendor:?}")))?,
            daily_cap_micros: to_u64(cap, "vault_keys")?,
            allowed_endpoints: serde_json::from_str(&endpoints)
                .map_err(|e| corrupt(format!("allowed_endpoints: {e}")))?,
            label,
            created_at_ms: to_u64(created_at, "vault_keys")?,
            expires_at_ms: to_u64(expires_at, "vault_keys")?,
            revoked_at_ms: revoked_at.map(|v| to_u64(v, "vault_keys")).transpose()?,
        })
    }

    /// The `allowed_endpoints` column: a JSON array of canonical patterns.
    pub(crate) fn endpoints_json(&self) -> Result<String, StoreError> {
        let endpoints: Vec<String> = self
            .allowed_endpoints
            .iter()
            .map(|p| p.to_string())
            .collect();
        serde_json::to_string(&endpoints).map_err(|e| StoreError::Corrupt {
            table: "vault_keys",
            detail: e.to_string(),
        })
    }
}

fn collect(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<KeyRow>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(KeyRow::from_row(r)?);
    }
    Ok(out)
}

pub(crate) fn get(conn: &Connection, key_id: &VaultKeyId) -> Result<Option<KeyRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM vault_keys WHERE key_id = ?1");
    conn.query_row(&sql, [key_id.as_str()], |r| Ok(KeyRow::from_row(r)))
        .optional()?
        .transpose()
}

/// Keys the gateways still need to know about: everything not expired for longer than
/// `retain_after_expiry_ms`, so that a recently expired or revoked key is refused as such and
/// not as unknown.
pub(crate) fn snapshot_keys(
    conn: &Connection,
    now_ms: u64,
    retain_after_expiry_ms: u64,
) -> Result<Vec<KeyRow>, StoreError> {
    let horizon = to_i64(now_ms.saturating_sub(retain_after_expiry_ms))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM vault_keys WHERE expires_at_ms > ?1 ORDER BY created_at_ms, key_id"
    );
    collect(conn, &sql, [horizon])
}

/// Keys changed (issued or revoked) after snapshot version `base`, except those expired for
/// longer than `retain_after_expiry_ms`, oldest change first.
pub(crate) fn changed_keys(
    conn: &Connection,
    base: u64,
    now_ms: u64,
    retain_after_expiry_ms: u64,
) -> Result<Vec<KeyRow>, StoreError> {
    let horizon = to_i64(now_ms.saturating_sub(retain_after_expiry_ms))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM vault_keys WHERE changed_version > ?1 AND expires_at_ms > ?2 \
         ORDER BY changed_version, key_id"
    );
    collect(conn, &sql, params![to_i64(base)?, horizon])
}

// === impl Sqlite ===

impl Sqlite {
    /// Inserts a new key and returns the new snapshot version.
    pub async fn insert_key(&self, key: NewKey) -> Result<u64, StoreError> {
        self.with(move |conn| {
            let endpoints = key.endpoints_json()?;
            let tx = conn.transaction()?;
            let version = bump_version(&tx)?;
            tx.execute(
                &format!("INSERT INTO vault_keys ({COLUMNS}, changed_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    key.key_id.as_str(),
                    key.secret_sha256,
                    key.vendor.as_str(),
                    to_i64(key.daily_cap_micros)?,
                    endpoints,
                    key.label,
                    to_i64(key.created_at_ms)?,
                    to_i64(key.expires_at_ms)?,
                    key.revoked_at_ms.map(to_i64).transpose()?,
                    to_i64(version)?,
                ],
            )?;
            tx.commit()?;
            Ok(version)
        })
        .await
    }

    pub async fn get_key(&self, key_id: VaultKeyId) -> Result<Option<KeyRow>, StoreError> {
        self.read(move |conn| get(conn, &key_id)).await
    }

    /// Keys matching `filter`, newest first.
    pub async fn list_keys(
        &self,
        filter: KeyFilter,
        now_ms: u64,
    ) -> Result<Vec<KeyRow>, StoreError> {
        self.read(move |conn| {
            use rusqlite::types::Value;
            let mut sql = format!("SELECT {COLUMNS} FROM vault_keys WHERE TRUE");
            let mut args: Vec<Value> = Vec::new();
            match filter.status {
                None => {}
                Some(KeyStatus::Active) => {
                    sql.push_str(" AND revoked_at_ms IS NULL AND expires_at_ms > ?");
                    args.push(Value::Integer(to_i64(now_ms)?));
                }
                Some(KeyStatus::Expired) => {
                    sql.push_str(" AND revoked_at_ms IS NULL AND expires_at_ms <= ?");
                    args.push(Value::Integer(to_i64(now_ms)?));
                }
                Some(KeyStatus::Revoked) => sql.push_str(" AND revoked_at_ms IS NOT NULL"),
            }
            if let Some(label) = filter.label {
                sql.push_str(" AND label = ?");
                args.push(Value::Text(label));
            }
            if let Some(prefix) = filter.label_prefix {
                // substr, not LIKE: `%` and `_` in a label are plain characters.
                sql.push_str(" AND substr(label, 1, ?) = ?");
                let chars = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
                args.push(Value::Integer(chars));
                args.push(Value::Text(prefix));
            }
            if let Some(vendor) = filter.vendor {
                sql.push_str(" AND vendor = ?");
                args.push(Value::Text(vendor.as_str().to_owned()));
            }
            sql.push_str(" ORDER BY created_at_ms DESC, rowid DESC LIMIT ?");
            args.push(Value::Integer(i64::from(filter.limit)));
            collect(conn, &sql, rusqlite::params_from_iter(args))
        })
        .await
    }

    /// Revokes a key (idempotent). `None` when the key is unknown.
    pub async fn revoke_key(
        &self,
        key_id: VaultKeyId,
        now_ms: u64,
    ) -> Result<Option<Revoked>, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let changed = tx.execute(
                "UPDATE vault_keys SET revoked_at_ms = ?2 WHERE key_id = ?1 AND revoked_at_ms IS NULL",
                params![key_id.as_str(), to_i64(now_ms)?],
            )?;
            let version = if changed > 0 {
                let version = bump_version(&tx)?;
                tx.execute(
                    "UPDATE vault_keys SET changed_version = ?2 WHERE key_id = ?1",
                    params![key_id.as_str(), to_i64(version)?],
                )?;
                Some(version)
            } else {
                None
            };
            let row = get(&tx, &key_id)?;
            tx.commit()?;
            Ok(row.map(|row| Revoked { row, version }))
        })
        .await
    }

    pub async fn key_counts(&self, now_ms: u64) -> Result<KeyCounts, StoreError> {
        self.read(move |conn| {
            let now = to_i64(now_ms)?;
            let (issued, active, revoked): (i64, i64, i64) = conn.query_row(
                "SELECT COUNT(*), \
                        COALESCE(SUM(revoked_at_ms IS NULL AND expires_at_ms > ?1), 0), \
                        COALESCE(SUM(revoked_at_ms IS NOT NULL), 0) \
                 FROM vault_keys",
                [now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(KeyCounts {
                issued: to_u64(issued, "vault_keys")?,
                active: to_u64(active, "vault_keys")?,
                revoked: to_u64(revoked, "vault_keys")?,
            })
        })
        .await
    }
}
