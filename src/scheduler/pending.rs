//! What the scheduler gathered since its last flush (statuses changed, state changes, failures,
//! hourly roll-up deltas, and the lease epoch of each shard with rows), turned into one
//! [`Batch`] for the backlog. Indexes are the slots of the scheduler's fleet; a new fleet
//! re-keys them ([`Pending::reindex`]) right after a flush.
//!
//! Not here: when to flush (the scheduler), writing (`writer`).

use std::collections::{BTreeMap, HashMap};

use crate::fleet::Fleet;
use crate::store::{Batch, FailureRow, RollupDelta, StateChangeRow};

const HOUR_MS: i64 = 3_600_000;

#[derive(Default)]
pub(super) struct Pending {
    dirty: Vec<usize>,
    is_dirty: Vec<bool>,
    changes: Vec<StateChangeRow>,
    failures: Vec<FailureRow>,
    rollups: HashMap<(usize, i64), RollupDelta>,
    /// The lease epoch of each shard with rows here (one epoch per shard per window).
    epochs: BTreeMap<u8, i64>,
}

impl Pending {
    /// Nothing gathered, for a fleet of `servers`.
    pub fn new(servers: usize) -> Pending {
        Pending { is_dirty: vec![false; servers], ..Pending::default() }
    }

    /// Index a fleet of `slots` from now on (after a flush: nothing is marked).
    pub fn reindex(&mut self, slots: usize) {
        self.dirty.clear();
        self.is_dirty = vec![false; slots];
    }

    /// Server `idx`'s status is written with the next batch.
    pub fn mark(&mut self, idx: usize) {
        if idx >= self.is_dirty.len() {
            self.is_dirty.resize(idx + 1, false);
        }
        if !self.is_dirty[idx] {
            self.is_dirty[idx] = true;
            self.dirty.push(idx);
        }
    }

    /// Would a row of `shard` under `epoch` share a batch with rows of another epoch?
    pub fn other_epoch(&self, shard: u8, epoch: i64) -> bool {
        self.epochs.get(&shard).is_some_and(|&e| e != epoch)
    }

    pub fn set_epoch(&mut self, shard: u8, epoch: i64) {
        self.epochs.insert(shard, epoch);
    }

    pub fn change(&mut self, row: StateChangeRow) {
        self.changes.push(row);
    }

    /// One status request of server `idx`: its status is marked, its hour's roll-up counts it,
    /// and a failure is kept with its error.
    pub fn record(&mut self, fleet: &Fleet, idx: usize, started_ms: i64, duration_ms: i64, error: Option<&String>) {
        let Some(entry) = fleet.entry(idx) else { return };
        self.mark(idx);
        let hour = started_ms - started_ms.rem_euclid(HOUR_MS);
        let rollup = self.rollups.entry((idx, hour)).or_default();
        rollup.hour = hour;
        rollup.probes += 1;
        rollup.latency_sum_ms += duration_ms;
        rollup.latency_max_ms = rollup.latency_max_ms.max(duration_ms);
        if let Some(error) = error {
            rollup.failures += 1;
            self.failures.push(FailureRow {
                server_id: entry.id.to_string(),
                at: started_ms,
                error: error.clone(),
                duration_ms,
            });
        }
    }

    /// Everything gathered, as one batch (`None`: nothing to write); the gathering starts over.
    pub fn take(&mut self, fleet: &Fleet) -> Option<Batch> {
        if self.dirty.is_empty() && self.changes.is_empty() {
            return None;
        }
        let is_dirty = &mut self.is_dirty;
        let statuses = self
            .dirty
            .drain(..)
            .filter_map(|idx| {
                is_dirty[idx] = false;
                fleet.entry(idx).map(|e| e.stored())
            })
            .collect();
        let rollups = self
            .rollups
            .drain()
            .filter_map(|((idx, _), mut delta)| {
                let entry = fleet.entry(idx)?;
                delta.server_id = entry.id.to_string();
                delta.customer = entry.customer.clone();
                delta.service = entry.service.clone();
                Some(delta)
            })
            .collect();
        Some(Batch {
            statuses,
            changes: std::mem::take(&mut self.changes),
            failures: std::mem::take(&mut self.failures),
            rollups,
            // Each shard's epoch as its results were launched (the scheduler keeps one per window).
            epochs: std::mem::take(&mut self.epochs),
        })
    }
}
