//! The bounded queue between the scheduler and the result writer. The scheduler hands over
//! each write-behind window without waiting ([`Backlog::push`] is a short lock and a merge);
//! the writer takes everything at once ([`Backlog::take`]) and gives it back when the write
//! failed ([`Backlog::put_back`]). So probing never waits for the database, and the memory a
//! long database outage costs is bounded:
//!
//! - the latest status of every server is always kept, one per server (newest `seq` wins);
//! - roll-ups are merged per server and hour, failure rows and state changes queue in order;
//!   past their limits the oldest go first, counted in `firstwatch_results_dropped_total{kind}`
//!   and reported by the writer in a log line.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use prometheus::IntCounter;
use tokio::sync::Notify;

use crate::domain::shard::shard_of;
use crate::metrics::Metrics;
use crate::store::{Batch, FailureRow, RollupDelta, StateChangeRow, StoredStatus};

/// How many rows of each kind wait at most while the database is away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub rollups: usize,
    pub failures: usize,
    pub changes: usize,
}

impl Limits {
    /// Limits for a fleet of `servers`: two hours of roll-ups per server, and as many failure
    /// rows and state changes as the larger of two per server and 100,000.
    pub fn for_fleet(servers: usize) -> Limits {
        let rows = (servers * 2).max(100_000);
        Limits { rollups: (servers * 2).max(10_000), failures: rows, changes: rows }
    }
}

#[derive(Default)]
struct Queued {
    statuses: HashMap<String, StoredStatus>,
    /// By (hour, server), so the oldest hour is the first to go.
    rollups: BTreeMap<(i64, String), RollupDelta>,
    failures: VecDeque<FailureRow>,
    changes: VecDeque<StateChangeRow>,
    /// The lease epoch of each shard's queued rows (see [`Batch::epochs`]).
    epochs: BTreeMap<u8, i64>,
    /// Dropped since the writer last asked: rollups, failures, state changes.
    unreported: [u64; 3],
}

pub struct Backlog {
    queued: Mutex<Queued>,
    limits: Limits,
    /// Woken on every push, so the writer needs no timer of its own.
    pub ready: Notify,
    dropped: [IntCounter; 3],
}

/// What was dropped since the last report: roll-ups, failure rows, state changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub rollups: u64,
    pub failures: u64,
    pub changes: u64,
}

impl Backlog {
    pub fn new(limits: Limits, metrics: &Metrics) -> Backlog {
        let counter = |kind| metrics.results_dropped_total.with_label_values(&[kind]);
        Backlog {
            queued: Mutex::new(Queued::default()),
            limits,
            ready: Notify::new(),
            dropped: [counter("rollup"), counter("failure"), counter("state_change")],
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queued> {
        self.queued.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queue one window's results (newer than anything queued) and wake the writer.
    pub fn push(&self, batch: Batch) {
        {
            let mut q = self.lock();
            q.merge(batch, false);
            self.trim(&mut q);
        }
        self.ready.notify_one();
    }

    /// Everything queued, leaving the queue empty.
    pub fn take(&self) -> Batch {
        let mut q = self.lock();
        Batch {
            statuses: std::mem::take(&mut q.statuses).into_values().collect(),
            rollups: std::mem::take(&mut q.rollups).into_values().collect(),
            failures: std::mem::take(&mut q.failures).into(),
            changes: std::mem::take(&mut q.changes).into(),
            epochs: std::mem::take(&mut q.epochs),
        }
    }

    /// Return a batch whose write failed. It is older than anything pushed since it was taken:
    /// its rows go before the newer ones, and its statuses only where nothing newer is queued.
    pub fn put_back(&self, batch: Batch) {
        let mut q = self.lock();
        q.merge(batch, true);
        self.trim(&mut q);
    }

    /// Rows dropped since the previous call.
    pub fn dropped_since_last_report(&self) -> Dropped {
        let mut q = self.lock();
        let [rollups, failures, changes] = std::mem::take(&mut q.unreported);
        Dropped { rollups, failures, changes }
    }

    /// Queued statuses (one per server) and rows, for tests and logs.
    pub fn len(&self) -> (usize, usize) {
        let q = self.lock();
        (q.statuses.len(), q.rollups.len() + q.failures.len() + q.changes.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    fn trim(&self, q: &mut Queued) {
        let mut dropped = [0u64; 3];
        while q.rollups.len() > self.limits.rollups {
            q.rollups.pop_first();
            dropped[0] += 1;
        }
        while q.failures.len() > self.limits.failures {
            q.failures.pop_front();
            dropped[1] += 1;
        }
        while q.changes.len() > self.limits.changes {
            q.changes.pop_front();
            dropped[2] += 1;
        }
        for (i, n) in dropped.into_iter().enumerate() {
            if n > 0 {
                self.dropped[i].inc_by(n);
                q.unreported[i] += n;
            }
        }
    }
}

impl Queued {
    /// Merge a batch in. Rows of one shard under two lease epochs never mix: the newer epoch's
    /// rows stay, the older's go (they would be refused at write time anyway).
    fn merge(&mut self, mut batch: Batch, older: bool) {
        let mut stale = Vec::new();
        for (&shard, &epoch) in &batch.epochs {
            match self.epochs.get(&shard) {
                Some(&queued) if queued > epoch => stale.push(shard),
                Some(&queued) if queued < epoch => {
                    self.forget_shard(shard);
                    self.epochs.insert(shard, epoch);
                }
                Some(_) => {}
                None => {
                    self.epochs.insert(shard, epoch);
                }
            }
        }
        for shard in stale {
            batch.forget_shard(shard);
        }
        for status in batch.statuses {
            match self.statuses.get(&status.server_id) {
                Some(queued) if queued.seq >= status.seq => {}
                _ => {
                    self.statuses.insert(status.server_id.clone(), status);
                }
            }
        }
        for delta in batch.rollups {
            self.rollups.entry((delta.hour, delta.server_id.clone())).or_default().add(&delta);
        }
        if older {
            for row in batch.failures.into_iter().rev() {
                self.failures.push_front(row);
            }
            for row in batch.changes.into_iter().rev() {
                self.changes.push_front(row);
            }
        } else {
            self.failures.extend(batch.failures);
            self.changes.extend(batch.changes);
        }
    }

    fn forget_shard(&mut self, shard: u8) {
        let keep = |id: &str| shard_of(id) != shard;
        self.statuses.retain(|id, _| keep(id));
        self.rollups.retain(|(_, id), _| keep(id));
        self.failures.retain(|f| keep(&f.server_id));
        self.changes.retain(|c| keep(&c.server_id));
        self.epochs.remove(&shard);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::ServerState;

    fn metrics() -> Metrics {
        let config = Config::from_toml(include_str!("../../config/firstwatch.toml"), |_| Some("secret".into()));
        #[allow(clippy::unwrap_used)] // The shipped example config is valid (a config test says so).
        Metrics::new(&config.unwrap())
    }

    fn status(server: &str, seq: i64) -> StoredStatus {
        StoredStatus {
            server_id: server.into(),
            state: ServerState::Down,
            consecutive_failures: seq,
            consecutive_successes: 0,
            confirmed_down: true,
            last_error: None,
            last_probe_at: Some(seq),
            state_since: 0,
            seq,
        }
    }

    fn failure(at: i64) -> FailureRow {
        FailureRow { server_id: "a".into(), at, error: "timeout".into(), duration_ms: 1 }
    }

    fn rollup(server: &str, hour: i64) -> RollupDelta {
        RollupDelta { server_id: server.into(), hour, probes: 1, failures: 1, ..Default::default() }
    }

    #[test]
    fn the_latest_status_of_every_server_survives_any_outage_and_old_rows_go_first() {
        let m = metrics();
        let backlog = Backlog::new(Limits { rollups: 2, failures: 3, changes: 3 }, &m);
        for seq in 1..=10 {
            backlog.push(Batch {
                statuses: vec![status("a", seq), status("b", seq)],
                failures: vec![failure(seq)],
                rollups: vec![rollup("a", seq * 3_600_000)],
                ..Default::default()
            });
        }
        let batch = backlog.take();
        let mut seqs: Vec<_> = batch.statuses.iter().map(|s| (s.server_id.clone(), s.seq)).collect();
        seqs.sort();
        assert_eq!(seqs, [("a".to_string(), 10), ("b".to_string(), 10)]);
        assert_eq!(batch.failures.iter().map(|f| f.at).collect::<Vec<_>>(), [8, 9, 10], "oldest dropped first");
        assert_eq!(batch.rollups.iter().map(|r| r.hour / 3_600_000).collect::<Vec<_>>(), [9, 10]);
        assert_eq!(backlog.dropped_since_last_report(), Dropped { rollups: 8, failures: 7, changes: 0 });
        assert_eq!(backlog.dropped_since_last_report(), Dropped::default(), "reported once");
        let value = |kind| m.results_dropped_total.with_label_values(&[kind]).get();
        assert_eq!((value("rollup"), value("failure"), value("state_change")), (8, 7, 0));
        assert!(backlog.is_empty());
    }

    #[test]
    fn a_failed_write_goes_back_before_newer_results_and_never_overwrites_a_newer_status() {
        let m = metrics();
        let backlog = Backlog::new(Limits::for_fleet(10), &m);
        backlog.push(Batch { statuses: vec![status("a", 1)], failures: vec![failure(1)], ..Default::default() });
        let failed = backlog.take();
        backlog.push(Batch {
            statuses: vec![status("a", 2)],
            failures: vec![failure(2)],
            rollups: vec![rollup("a", 0)],
            ..Default::default()
        });
        backlog.put_back(failed);
        backlog.put_back(Batch { rollups: vec![rollup("a", 0)], ..Default::default() });
        let batch = backlog.take();
        assert_eq!(batch.statuses.iter().map(|s| s.seq).collect::<Vec<_>>(), [2]);
        assert_eq!(batch.failures.iter().map(|f| f.at).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(batch.rollups[0].probes, 2, "roll-ups of the same hour add up");
    }

    #[test]
    fn rows_of_a_lease_epoch_that_ended_never_mix_with_the_next_ones() {
        let m = metrics();
        let backlog = Backlog::new(Limits::for_fleet(10), &m);
        let shard = shard_of("a");
        let at = |epoch: i64| std::iter::once((shard, epoch)).collect::<BTreeMap<u8, i64>>();
        backlog.push(Batch {
            statuses: vec![status("a", 5)],
            failures: vec![failure(5)],
            epochs: at(3),
            ..Default::default()
        });
        let failed = backlog.take();
        // The lease was lost and claimed again (epoch 4): the rows of epoch 3 are stale.
        backlog.push(Batch {
            statuses: vec![status("a", 1)],
            rollups: vec![rollup("a", 0)],
            epochs: at(4),
            ..Default::default()
        });
        backlog.put_back(failed);
        let batch = backlog.take();
        assert_eq!(batch.statuses.iter().map(|s| s.seq).collect::<Vec<_>>(), [1], "epoch 4's, whatever the seq");
        assert!(batch.failures.is_empty(), "epoch 3's failure row went");
        assert_eq!((batch.rollups.len(), batch.epochs), (1, at(4)));
        // Queued rows of an older epoch go when a newer epoch's arrive.
        backlog.push(Batch { failures: vec![failure(6)], epochs: at(4), ..Default::default() });
        backlog.push(Batch { statuses: vec![status("a", 2)], epochs: at(5), ..Default::default() });
        let batch = backlog.take();
        assert!(batch.failures.is_empty() && batch.statuses.len() == 1, "{batch:?}");
    }
}
