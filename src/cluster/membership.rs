//! Keeping [`Ownership`] true from the lease rows, one [`Membership::step`] every
//! `lease_ttl / 3`:
//!
//! 1. heartbeat (count the live instances);
//! 2. release in the database what a failed step gave up locally but could not release;
//! 3. renew what is still held; a shard another instance took over is dropped locally;
//! 4. above the fair share: give up the excess locally, wait [`HANDOVER_GRACE`] for its last
//!    results to be written under the lease, and release it (so an instance that joins gets
//!    its share within two rounds); below it: claim free or expired shards;
//! 5. keep or take the `leader` lease;
//! 6. read the stored statuses of every server not probed here, in one query: those other
//!    instances probe (status page, case engine), written since the last round (`written_at`,
//!    on the database's clock, with a margin), and, in a round that claimed shards, all of
//!    them, so the servers of the shards just claimed are probed only once their stored
//!    counts and phase are in.
//!
//! A failed step changes nothing it did not finish; leases simply expire if the database stays
//! away, and the fence in the store refuses writes once another instance holds a shard.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{fair_share, Ownership};
use crate::domain::shard::SHARDS;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

pub struct Membership {
    store: Store,
    live: Arc<Live>,
    ownership: Arc<Ownership>,
    metrics: Arc<Metrics>,
    ttl_ms: i64,
    /// Given up locally but not yet released in the database (a step failed in between).
    releasing: Vec<u8>,
    /// The database's clock at the last read of other instances' statuses: the next reads
    /// only what was written since (less [`WRITE_MARGIN_MS`]). `None`: read everything.
    watermark: Option<i64>,
    /// Rounds that read the view, for [`FULL_READ_EVERY`].
    rounds: u64,
}

/// How long a shard given up to another instance stays leased after its last status request
/// was launched here: the write-behind window's time to write what was gathered.
const HANDOVER_GRACE: Duration = Duration::from_secs(1);

/// How late a status row may become visible after the clock value it was written with: a
/// write-behind batch or a case decision takes 30 s at most (their timeouts) before it commits
/// or rolls back, so reads of what changed look back twice that.
const WRITE_MARGIN_MS: i64 = 60_000;
/// Every this many rounds the view is read whole (5 min at the default lease): a safety net.
const FULL_READ_EVERY: u64 = 60;

impl Membership {
    pub fn new(
        store: Store,
        live: Arc<Live>,
        ownership: Arc<Ownership>,
        metrics: Arc<Metrics>,
        lease_ttl: Duration,
    ) -> Membership {
        let ttl_ms = i64::try_from(lease_ttl.as_millis()).unwrap_or(i64::MAX);
        Membership { store, live, ownership, metrics, ttl_ms, releasing: Vec::new(), watermark: None, rounds: 0 }
    }

    /// The fleet was built from the statuses stored as of `at` (the database's clock): the
    /// first round reads only what was written since, not everything again.
    pub fn read_since(mut self, at: i64) -> Membership {
        self.watermark = Some(at);
        self
    }

    fn lease_ttl(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.ttl_ms).unwrap_or(u64::MAX))
    }

    /// How often [`Membership::step`] runs.
    pub fn period(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.ttl_ms / 3).unwrap_or(1000).max(100))
    }

    /// One round (see the module header). Tests drive membership with this.
    pub async fn step(&mut self) -> Result<(), StoreError> {
        let me = self.ownership.instance().to_string();
        let started = std::time::Instant::now();
        if !self.ownership.valid() {
            // Away past the lease (paused, or the database was): whoever leads now, it is not
            // known to be this instance until `lead` below says so.
            self.ownership.set_leader(false);
        }
        let live = self.store.heartbeat_instance(&me, self.ttl_ms).await?;
        if !self.releasing.is_empty() {
            self.store.release_shards(&me, &self.releasing).await?;
            self.releasing.clear();
        }
        let renewed = self.store.renew_shards(&me, self.ttl_ms).await?;
        let held: HashSet<u8> = renewed.iter().map(|h| h.shard).collect();
        // Lost shards go first: a renewal that makes this instance valid again must not let it
        // decide, even for a moment, for a shard another instance took while it was away.
        for shard in self.ownership.owned_shards() {
            if !held.contains(&shard) {
                tracing::warn!(shard, "shard lease lost to another instance");
                self.ownership.set(shard, false);
            }
        }
        for h in &renewed {
            self.ownership.set_epoch(h.shard, h.epoch);
        }
        self.ownership.renewed(started, self.lease_ttl());
        let share = fair_share(live);
        let mut owned = self.ownership.owned_shards();
        let mut claimed = Vec::new();
        if owned.len() > share {
            // Give up the highest shards: instances then settle on disjoint, stable ranges.
            self.releasing = owned.split_off(share);
            for &shard in &self.releasing {
                self.ownership.set(shard, false);
            }
            tracing::info!(released = self.releasing.len(), live, "above the fair share; handing shards over");
            // The scheduler probes them no more; what it gathered is normally written within
            // the write-behind window. Whatever is not written by the release (the writer is
            // retrying, a request outlasts the grace) is refused by the fence: the new owner
            // goes on from the last stored counts, a few requests behind at worst, never
            // counting one twice.
            tokio::time::sleep(HANDOVER_GRACE.min(self.period() / 2)).await;
            self.store.release_shards(&me, &self.releasing).await?;
            self.releasing.clear();
        } else if owned.len() < share {
            // A shard held in the database but not locally (a step that failed half-way) is
            // released first, so the claim below can give it back with fresh counts.
            let stray: Vec<u8> = held.iter().copied().filter(|s| !self.ownership.owns(*s)).collect();
            self.store.release_shards(&me, &stray).await?;
            claimed = self.store.claim_shards(&me, share - owned.len(), self.ttl_ms).await?;
        }
        let lead_started = std::time::Instant::now();
        let leader = self.store.lead(&me, self.ttl_ms).await?.is_some();
        if leader {
            self.ownership.led(lead_started, self.lease_ttl());
        }
        if leader != self.ownership.leader.load(std::sync::atomic::Ordering::Relaxed) {
            tracing::info!(leader, "leader lease {}", if leader { "taken" } else { "lost" });
        }
        self.ownership.set_leader(leader);
        // One read of the stored statuses for every server not probed here: those of other
        // instances (the view) and those of the shards just claimed, which are marked owned
        // only once their stored counts and phase are in.
        if self.ownership.shards_owned() < SHARDS {
            // Shards just claimed are read whole: whatever this instance's view missed, their
            // new owner starts from what is stored.
            let full = !claimed.is_empty();
            let ownership = self.ownership.clone();
            self.load(full, move |id| !ownership.owns_server(id)).await?;
        }
        if !claimed.is_empty() {
            for held in &claimed {
                self.ownership.set_epoch(held.shard, held.epoch);
                self.ownership.set(held.shard, true);
                if held.epoch > 1 {
                    self.metrics.lease_takeovers_total.inc();
                }
            }
            self.ownership.claimed();
            tracing::info!(claimed = claimed.len(), live, "shards claimed");
        }
        self.metrics.shards_owned.set(i64::try_from(self.ownership.shards_owned()).unwrap_or(0));
        self.metrics.leader.set(i64::from(self.ownership.is_leader()));
        Ok(())
    }

    /// Replace the in-memory status of the servers `which` picks with the stored one, for
    /// every status written since the last look less [`WRITE_MARGIN_MS`] (all of them when
    /// `full`, the first time, and every [`FULL_READ_EVERY`] rounds). With intervals longer
    /// than the margin, the work per round follows what changed rather than the fleet's size.
    async fn load(&mut self, full: bool, which: impl Fn(&str) -> bool) -> Result<(), StoreError> {
        self.rounds = self.rounds.wrapping_add(1);
        let since = match self.watermark {
            // A whole read now and then, whatever happened to a row in between.
            Some(w) if !full && !self.rounds.is_multiple_of(FULL_READ_EVERY) => w.saturating_sub(WRITE_MARGIN_MS),
            _ => i64::MIN,
        };
        let (statuses, now) = self.store.statuses_written_since(since).await?;
        self.watermark = Some(now);
        let fleet = self.live.fleet();
        for stored in statuses {
            if !which(&stored.server_id) {
                continue;
            }
            if let Some(entry) = fleet.get(&stored.server_id) {
                fleet.restore(entry, stored);
            }
        }
        Ok(())
    }

    /// Step every period until `shutdown`, then leave the cluster (every lease free at once).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(self.period());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let step = tokio::time::timeout(self.period(), self.step()).await;
            match step {
                Ok(Ok(())) if failing => {
                    failing = false;
                    tracing::info!("lease renewals succeed again");
                }
                Ok(Ok(())) => {}
                Ok(Err(error)) if !failing => {
                    failing = true;
                    tracing::error!(%error, "cannot renew leases; they expire unless the database answers");
                }
                Err(_) if !failing => {
                    failing = true;
                    tracing::error!("lease renewal timed out; leases expire unless the database answers");
                }
                Ok(Err(_)) | Err(_) => {}
            }
        }
        for shard in self.ownership.owned_shards() {
            self.ownership.set(shard, false);
        }
        self.ownership.set_leader(false);
        let me = self.ownership.instance().to_string();
        match tokio::time::timeout(Duration::from_secs(2), self.store.leave_cluster(&me)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot release leases at stop; they expire by themselves"),
            Err(_) => tracing::warn!("releasing leases at stop timed out; they expire by themselves"),
        }
    }
}
