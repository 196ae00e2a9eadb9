//! Lease rows (PRODUCT.md section 12): `shard_leases` (one per shard), `cluster_leases`
//! (`leader`) and `cluster_instances` (who is alive, for the fair share). Every statement is
//! a short autocommit one timed by the database's clock ([`Backend::now_ms_sql`]), so two
//! instances with skewed clocks still agree on who holds what. No session advisory locks.
//!
//! Not here: when to claim, renew or release (`crate::cluster`), nor how writes use the
//! owned shards to fence themselves (`tracking.rs`, through [`Store::fenced`]).

use std::collections::HashMap;

use sqlx::Row;

use super::{Backend, Store, StoreError};

use crate::domain::shard::SHARDS;
/// The `cluster_leases` row of the singleton work.
const LEADER: &str = "leader";

/// A lease this instance holds: the shard and its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub shard: u8,
    pub epoch: i64,
}

/// Who holds what, for `/readyz` and the operations page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseTable {
    /// (instance, shards held) for every live instance, by id.
    pub instances: Vec<(String, usize)>,
    /// The instance holding the `leader` lease, if any holds it now.
    pub leader: Option<String>,
}

fn held(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Held>, StoreError> {
    rows.iter()
        .map(|row| {
            let shard: i64 = row.try_get("shard")?;
            let shard = u8::try_from(shard).map_err(|_| StoreError::Corrupt(format!("shard {shard} out of range")))?;
            Ok(Held { shard, epoch: row.try_get("epoch")? })
        })
        .collect()
}

impl Store {
    /// Create the lease rows once (every instance may race to do it).
    pub async fn ensure_leases(&self) -> Result<(), StoreError> {
        let mut values = String::new();
        for shard in 0..SHARDS {
            values.push_str(if shard == 0 { "(" } else { ", (" });
            values.push_str(&shard.to_string());
            values.push(')');
        }
        sqlx::query(&format!("INSERT INTO shard_leases (shard) VALUES {values} ON CONFLICT (shard) DO NOTHING"))
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO cluster_leases (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(LEADER)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Say this instance is alive for `ttl_ms` more; returns how many instances are alive.
    pub async fn heartbeat_instance(&self, id: &str, ttl_ms: i64) -> Result<usize, StoreError> {
        let now = self.backend.now_ms_sql();
        sqlx::query(&format!(
            "INSERT INTO cluster_instances (id, started_at, expires_at) VALUES ($1, {now}, {now} + $2) \
             ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at"
        ))
        .bind(id)
        .bind(ttl_ms)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM cluster_instances WHERE expires_at > {now}"))
            .fetch_one(&self.pool)
            .await?;
        let n: i64 = row.try_get("n")?;
        Ok(usize::try_from(n).unwrap_or(1).max(1))
    }

    /// Extend every shard lease `owner` still holds; returns them. A lease another instance
    /// took over is no longer `owner`'s and is not returned.
    pub async fn renew_shards(&self, owner: &str, ttl_ms: i64) -> Result<Vec<Held>, StoreError> {
        let now = self.backend.now_ms_sql();
        let rows = sqlx::query(&format!(
            "UPDATE shard_leases SET expires_at = {now} + $2 WHERE owner = $1 RETURNING shard, epoch"
        ))
        .bind(owner)
        .bind(ttl_ms)
        .fetch_all(&self.pool)
        .await?;
        held(&rows)
    }

    /// Take up to `n` shards that are free or whose lease expired, each with a new epoch.
    /// Shards another instance is claiming at the same moment are skipped, not waited for.
    pub async fn claim_shards(&self, owner: &str, n: usize, ttl_ms: i64) -> Result<Vec<Held>, StoreError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let now = self.backend.now_ms_sql();
        let lock = self.backend.claim_lock();
        let rows = sqlx::query(&format!(
            "UPDATE shard_leases SET owner = $1, epoch = epoch + 1, expires_at = {now} + $3 \
             WHERE (owner IS NULL OR expires_at <= {now}) AND shard IN (SELECT o.shard FROM shard_leases o \
             WHERE o.owner IS NULL OR o.expires_at <= {now} ORDER BY o.shard LIMIT $2{lock}) \
             RETURNING shard, epoch"
        ))
        .bind(owner)
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .bind(ttl_ms)
        .fetch_all(&self.pool)
        .await?;
        held(&rows)
    }

    /// Give shards back (above the fair share, or at a graceful stop).
    pub async fn release_shards(&self, owner: &str, shards: &[u8]) -> Result<(), StoreError> {
        if shards.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = shards.iter().map(u8::to_string).collect();
        sqlx::query(&format!(
            "UPDATE shard_leases SET owner = NULL, expires_at = 0 WHERE owner = $1 AND shard IN ({})",
            list.join(", ")
        ))
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Keep or take the `leader` lease; returns its epoch when `owner` holds it.
    pub async fn lead(&self, owner: &str, ttl_ms: i64) -> Result<Option<i64>, StoreError> {
        let now = self.backend.now_ms_sql();
        let renewed = sqlx::query(&format!(
            "UPDATE cluster_leases SET expires_at = {now} + $3 WHERE name = $1 AND owner = $2 RETURNING epoch"
        ))
        .bind(LEADER)
        .bind(owner)
        .bind(ttl_ms)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = renewed {
            return Ok(Some(row.try_get("epoch")?));
        }
        // Skipped while the former leader's last decision still runs (it holds the row).
        let lock = self.backend.claim_lock();
        let taken = sqlx::query(&format!(
            "UPDATE cluster_leases SET owner = $2, epoch = epoch + 1, expires_at = {now} + $3 \
             WHERE name IN (SELECT o.name FROM cluster_leases o WHERE o.name = $1 \
             AND (o.owner IS NULL OR o.expires_at <= {now}){lock}) RETURNING epoch"
        ))
        .bind(LEADER)
        .bind(owner)
        .bind(ttl_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(taken.map(|row| row.try_get("epoch")).transpose()?)
    }

    /// A graceful stop: every lease of `owner` is free at once, and it no longer counts as live.
    pub async fn leave_cluster(&self, owner: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE shard_leases SET owner = NULL, expires_at = 0 WHERE owner = $1")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE cluster_leases SET owner = NULL, expires_at = 0 WHERE owner = $1")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM cluster_instances WHERE id = $1").bind(owner).execute(&self.pool).await?;
        Ok(())
    }

    /// Free every lease and forget every instance: only for SQLite, whose file lock already
    /// proves no other instance runs (a crashed predecessor's leases would otherwise hold its
    /// shards until they expire).
    pub async fn reset_leases(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE shard_leases SET owner = NULL, expires_at = 0").execute(&self.pool).await?;
        sqlx::query("UPDATE cluster_leases SET owner = NULL, expires_at = 0").execute(&self.pool).await?;
        sqlx::query("DELETE FROM cluster_instances").execute(&self.pool).await?;
        Ok(())
    }

    /// The instance holding `shard`'s lease now, if any.
    pub async fn shard_owner(&self, shard: u8) -> Result<Option<String>, StoreError> {
        let now = self.backend.now_ms_sql();
        let row = sqlx::query(&format!(
            "SELECT owner FROM shard_leases WHERE shard = $1 AND owner IS NOT NULL AND expires_at > {now}"
        ))
        .bind(i64::from(shard))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| row.try_get("owner")).transpose()?)
    }

    /// Who holds what now.
    pub async fn lease_table(&self) -> Result<LeaseTable, StoreError> {
        let now = self.backend.now_ms_sql();
        let rows = sqlx::query(&format!(
            "SELECT i.id AS id, (SELECT COUNT(*) FROM shard_leases s WHERE s.owner = i.id AND s.expires_at > {now}) \
             AS n FROM cluster_instances i WHERE i.expires_at > {now} ORDER BY i.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        let instances = rows
            .iter()
            .map(|row| {
                let n: i64 = row.try_get("n")?;
                Ok((row.try_get("id")?, usize::try_from(n).unwrap_or(0)))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let leader = sqlx::query(&format!(
            "SELECT owner FROM cluster_leases WHERE name = $1 AND owner IS NOT NULL AND expires_at > {now}"
        ))
        .bind(LEADER)
        .fetch_optional(&self.pool)
        .await?;
        let leader = leader.map(|row| row.try_get("owner")).transpose()?;
        Ok(LeaseTable { instances, leader })
    }
}

/// Which servers a fenced write may touch: `None` for an unfenced store (everything), else the
/// shards `owner` holds as of this transaction with their epochs, read with a key-share lock so a
/// take-over skips them until the transaction's writes are in (they land before the new owner
/// reads).
pub(super) async fn fence(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    owner: Option<&str>,
) -> Result<Option<HashMap<u8, i64>>, StoreError> {
    let Some(owner) = owner else { return Ok(None) };
    let lock = backend.share_lock();
    let rows = sqlx::query(&format!("SELECT shard, epoch FROM shard_leases WHERE owner = $1{lock}"))
        .bind(owner)
        .fetch_all(&mut *conn)
        .await?;
    Ok(Some(held(&rows)?.into_iter().map(|h| (h.shard, h.epoch)).collect()))
}

/// The lease a decision transaction rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// A shard's: the case decisions of the services whose first server hashes to it.
    Shard(u8),
    /// The `leader` lease: the guard, escalation levels, customer updates, response targets.
    Leader,
}

/// Refuse the transaction ([`StoreError::Fenced`]) unless `owner` holds `lease` now by the
/// database's clock. The row is read with a key-share lock: a take-over (whose claim skips
/// locked rows) leaves the shard until its next round while this transaction runs, so a
/// former owner's decision either lands before the new owner takes over or not at all.
pub(super) async fn hold(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    owner: Option<&str>,
    lease: Lease,
) -> Result<(), StoreError> {
    let Some(owner) = owner else { return Ok(()) };
    let now = backend.now_ms_sql();
    let lock = backend.share_lock();
    let (table, key) = match lease {
        Lease::Shard(_) => ("shard_leases", "shard"),
        Lease::Leader => ("cluster_leases", "name"),
    };
    let sql = format!("SELECT 1 AS held FROM {table} WHERE {key} = $1 AND owner = $2 AND expires_at > {now}{lock}");
    let query = match lease {
        Lease::Shard(shard) => sqlx::query(&sql).bind(i64::from(shard)),
        Lease::Leader => sqlx::query(&sql).bind(LEADER),
    };
    match query.bind(owner).fetch_optional(&mut *conn).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::Fenced),
    }
}
