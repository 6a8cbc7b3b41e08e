//! Vendor credentials, conversion rates and price overrides on PostgreSQL.

use super::{bump_globals, Postgres};
use crate::store::{to_i64, to_u64, PriceRow, RateChange, RateRow, SealedCredential, StoreError};
use deadpool_postgres::GenericClient;
use keybrake_core::Vendor;

pub(super) async fn credentials(
    c: &impl GenericClient,
) -> Result<Vec<SealedCredential>, StoreError> {
    let rows = c
        .query(
            "SELECT vendor, nonce, ciphertext, updated_at_ms FROM vendor_credentials ORDER BY vendor",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let name: String = r.try_get(0)?;
            let vendor = Vendor::from_name(&name).ok_or_else(|| StoreError::Corrupt {
                table: "vendor_credentials",
                detail: format!("vendor {name:?}"),
            })?;
            Ok(SealedCredential {
                vendor,
                nonce: r.try_get(1)?,
                ciphertext: r.try_get(2)?,
                updated_at_ms: to_u64(r.try_get(3)?, "vendor_credentials")?,
            })
        })
        .collect()
}

fn rate(r: &tokio_postgres::Row) -> Result<RateRow, StoreError> {
    Ok(RateRow {
        currency: r.try_get(0)?,
        usd_nanos_per_unit: to_u64(r.try_get(1)?, "conversion_rates")?,
        updated_at_ms: to_u64(r.try_get(2)?, "conversion_rates")?,
    })
}

pub(super) async fn rates(c: &impl GenericClient) -> Result<Vec<RateRow>, StoreError> {
    let rows = c
        .query(
            "SELECT currency, usd_nanos_per_unit, updated_at_ms FROM conversion_rates ORDER BY currency",
            &[],
        )
        .await?;
    rows.iter().map(rate).collect()
}

pub(super) async fn prices(c: &impl GenericClient) -> Result<Vec<PriceRow>, StoreError> {
    let rows = c
        .query(
            "SELECT vendor, overrides, updated_at_ms FROM vendor_prices ORDER BY vendor DESC",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let vendor: String = r.try_get(0)?;
            let json: String = r.try_get(1)?;
            crate::store::prices::decode(&vendor, &json, to_u64(r.try_get(2)?, "vendor_prices")?)
        })
        .collect()
}

// === impl Postgres ===

impl Postgres {
    pub async fn set_credential(&self, sealed: SealedCredential) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO vendor_credentials (vendor, nonce, ciphertext, updated_at_ms) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (vendor) DO UPDATE SET nonce = excluded.nonce, \
                 ciphertext = excluded.ciphertext, updated_at_ms = excluded.updated_at_ms",
            &[
                &sealed.vendor.as_str(),
                &sealed.nonce,
                &sealed.ciphertext,
                &to_i64(sealed.updated_at_ms)?,
            ],
        )
        .await?;
        let version = bump_globals(&tx).await?;
        tx.commit().await?;
        Ok(version)
    }

    pub async fn credentials(&self) -> Result<Vec<SealedCredential>, StoreError> {
        credentials(&self.client().await?).await
    }

    pub async fn set_rate(&self, row: RateRow) -> Result<RateChange, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO conversion_rates (currency, usd_nanos_per_unit, updated_at_ms) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (currency) DO UPDATE SET \
                 usd_nanos_per_unit = excluded.usd_nanos_per_unit, \
                 updated_at_ms = excluded.updated_at_ms",
            &[
                &row.currency,
                &to_i64(row.usd_nanos_per_unit)?,
                &to_i64(row.updated_at_ms)?,
            ],
        )
        .await?;
        let version = bump_globals(&tx).await?;
        tx.commit().await?;
        Ok(RateChange { row, version })
    }

    pub async fn delete_rate(&self, currency: String) -> Result<Option<RateChange>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let removed = tx
            .query_opt(
                "DELETE FROM conversion_rates WHERE currency = $1 \
                 RETURNING currency, usd_nanos_per_unit, updated_at_ms",
                &[&currency],
            )
            .await?;
        let Some(removed) = removed else {
            return Ok(None);
        };
        let row = rate(&removed)?;
        let version = bump_globals(&tx).await?;
        tx.commit().await?;
        Ok(Some(RateChange { row, version }))
    }

    pub async fn rates(&self) -> Result<Vec<RateRow>, StoreError> {
        rates(&self.client().await?).await
    }

    pub async fn set_prices(&self, row: PriceRow) -> Result<u64, StoreError> {
        let json = crate::store::prices::encode(&row)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO vendor_prices (vendor, overrides, updated_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (vendor) DO UPDATE SET overrides = excluded.overrides, \
                 updated_at_ms = excluded.updated_at_ms",
            &[
                &row.overrides.vendor().as_str(),
                &json,
                &to_i64(row.updated_at_ms)?,
            ],
        )
        .await?;
        let version = bump_globals(&tx).await?;
        tx.commit().await?;
        Ok(version)
    }

    pub async fn delete_prices(&self, vendor: Vendor) -> Result<Option<u64>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let removed = tx
            .execute(
                "DELETE FROM vendor_prices WHERE vendor = $1",
                &[&vendor.as_str()],
            )
            .await?;
        let version = if removed > 0 {
            Some(bump_globals(&tx).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(version)
    }

    pub async fn prices(&self) -> Result<Vec<PriceRow>, StoreError> {
        prices(&self.client().await?).await
    }
}
