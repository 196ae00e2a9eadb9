//! Several instances on one database (PRODUCT.md section 12): which shards of the fleet this
//! instance probes, and whether it is the leader that runs the singleton work.
//!
//! [`Ownership`] is what the rest of the app reads, lock-free and O(1): the scheduler asks it
//! before every status request, the case engine before a decision, the writer before
//! pruning. [`membership::Membership`] keeps it true from the lease rows (`store/leases.rs`):
//! heartbeat, renew, release above the fair share, claim free or expired shards (loading their
//! stored counts first), keep or take the leader lease, and refresh the statuses of servers
//! other instances probe. Writes are fenced in the store itself (`Store::fenced`), so a former
//! owner whose lease was taken over cannot overwrite the new owner's counts whatever this
//! module believes.
//!
//! SQLite is for one instance: [`sqlite_lock`] refuses a second `run` on the same file.

pub mod membership;
pub mod sqlite_lock;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::domain::shard::{shard_of, SHARDS};

/// The shards this instance probes and whether it leads. Shared as `Arc<Ownership>`.
#[derive(Debug)]
pub struct Ownership {
    instance: String,
    owned: Vec<AtomicBool>,
    /// The lease epoch of each shard as last claimed or renewed here: results carry it to the
    /// write, which keeps them only while that epoch is still this instance's.
    epochs: Vec<AtomicI64>,
    count: AtomicUsize,
    /// Bumped whenever shards are claimed, so the scheduler re-plans their servers.
    claims: AtomicU64,
    leader: AtomicBool,
    /// Where [`Ownership::valid_until`] counts from.
    origin: Instant,
    /// Milliseconds after `origin` until which the leases are surely still ours: set from
    /// the start of the last successful renewal plus the lease time. Past it (the process was
    /// paused, or the database is away), this instance neither probes nor decides, whatever
    /// the flags say, until a renewal succeeds again.
    valid_until: AtomicI64,
    /// The same for the `leader` lease, renewed by its own statement.
    leader_until: AtomicI64,
}

impl Ownership {
    /// Nothing owned yet: membership claims what this instance gets.
    pub fn new(instance: impl Into<String>) -> Ownership {
        Ownership {
            instance: instance.into(),
            owned: (0..SHARDS).map(|_| AtomicBool::new(false)).collect(),
            epochs: (0..SHARDS).map(|_| AtomicI64::new(0)).collect(),
            count: AtomicUsize::new(0),
            claims: AtomicU64::new(0),
            leader: AtomicBool::new(false),
            origin: Instant::now(),
            valid_until: AtomicI64::new(0),
            leader_until: AtomicI64::new(0),
        }
    }

    /// This instance's id (`host-pid-random`), as written in the lease rows.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Whether this instance probes the shard. Probing goes on while renewals fail (the
    /// database may be away; results then wait in the backlog and are fenced at write time).
    pub fn owns(&self, shard: u8) -> bool {
        self.owned[usize::from(shard)].load(Ordering::Relaxed)
    }

    /// Whether this instance decides for the shard's services now: owned, and the last
    /// successful renewal still covers now (a paused instance decides nothing until it renewed).
    pub fn decides(&self, shard: u8) -> bool {
        self.owns(shard) && self.valid()
    }

    /// Whether the last successful renewal still covers now.
    fn valid(&self) -> bool {
        self.elapsed_ms() < self.valid_until.load(Ordering::Relaxed)
    }

    fn elapsed_ms(&self) -> i64 {
        i64::try_from(self.origin.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// A renewal that started `started` ago succeeded: the leases hold until `ttl` after
    /// its start (the database counted from a moment no earlier than that).
    pub(crate) fn renewed(&self, started: Instant, ttl: Duration) {
        self.valid_until.fetch_max(self.until(started, ttl), Ordering::Relaxed);
    }

    /// The `leader` lease was kept or taken by a statement that started `started` ago.
    pub(crate) fn led(&self, started: Instant, ttl: Duration) {
        self.leader_until.fetch_max(self.until(started, ttl), Ordering::Relaxed);
    }

    fn until(&self, started: Instant, ttl: Duration) -> i64 {
        let start = i64::try_from(started.saturating_duration_since(self.origin).as_millis()).unwrap_or(0);
        start.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
    }

    /// Whether this instance probes (and decides for) this server.
    pub fn owns_server(&self, server_id: &str) -> bool {
        self.owns(shard_of(server_id))
    }

    /// Whether this instance holds every shard (it runs alone): then every decision is its
    /// own and the guard is asked only when one of its cases would open.
    pub fn decides_everything(&self) -> bool {
        self.shards_owned() == SHARDS
    }

    /// Whether this instance leads now: it took or kept the `leader` lease, that renewal still
    /// covers now, and so does the last renewal of its shards.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
            && self.valid()
            && self.elapsed_ms() < self.leader_until.load(Ordering::Relaxed)
    }

    pub fn shards_owned(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// The shards marked owned, in order (whether or not the last renewal still covers now).
    pub fn owned_shards(&self) -> Vec<u8> {
        (0..SHARDS).map(|s| s as u8).filter(|s| self.owned[usize::from(*s)].load(Ordering::Relaxed)).collect()
    }

    pub(crate) fn set(&self, shard: u8, owned: bool) {
        let was = self.owned[usize::from(shard)].swap(owned, Ordering::Relaxed);
        match (was, owned) {
            (false, true) => _ = self.count.fetch_add(1, Ordering::Relaxed),
            (true, false) => _ = self.count.fetch_sub(1, Ordering::Relaxed),
            _ => {}
        }
    }

    /// How many times shards were claimed here: a change means servers to re-plan.
    pub fn claims(&self) -> u64 {
        self.claims.load(Ordering::Relaxed)
    }

    pub(crate) fn claimed(&self) {
        self.claims.fetch_add(1, Ordering::Relaxed);
    }

    /// The shard's lease epoch as this instance holds it (0: never held here).
    pub fn epoch(&self, shard: u8) -> i64 {
        self.epochs[usize::from(shard)].load(Ordering::Relaxed)
    }

    pub(crate) fn set_epoch(&self, shard: u8, epoch: i64) {
        self.epochs[usize::from(shard)].store(epoch, Ordering::Relaxed);
    }

    pub(crate) fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }
}

/// A fresh instance id: the host name, the process id and a random suffix, so a restarted
/// process never takes the leases of its former self for its own.
pub fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "firstwatch".to_string());
    let mut random = [0u8; 3];
    // `ring`'s system RNG; a failure leaves zeros, which the pid still tells apart.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}-{}-{suffix}", std::process::id())
}

/// The fair share of shards with `live` instances: 256 / live, rounded up.
pub fn fair_share(live: usize) -> usize {
    SHARDS.div_ceil(live.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_owned_once_the_last_renewal_no_longer_covers_now() {
        let o = Ownership::new("a");
        o.set(1, true);
        o.set_leader(true);
        assert!(o.owns(1) && !o.decides(1) && !o.is_leader(), "never renewed: probes, decides nothing");
        o.renewed(Instant::now(), Duration::from_secs(60));
        assert!(o.decides(1) && !o.is_leader(), "the leader lease is renewed on its own");
        o.led(Instant::now(), Duration::from_secs(60));
        assert!(o.is_leader());
        let stale = Ownership::new("b");
        stale.set(1, true);
        stale.renewed(Instant::now(), Duration::ZERO);
        assert!(!stale.decides(1), "a lease time that has passed");
        assert_eq!(stale.owned_shards(), [1], "still marked, until a renewal says otherwise");
    }

    #[test]
    fn ownership_counts_what_it_holds() {
        let o = Ownership::new("a");
        o.renewed(Instant::now(), Duration::from_secs(60));
        o.led(Instant::now(), Duration::from_secs(60));
        assert_eq!((o.shards_owned(), o.is_leader()), (0, false));
        o.set(3, true);
        o.set(3, true);
        o.set(7, true);
        o.set(3, false);
        assert_eq!((o.shards_owned(), o.owned_shards()), (1, vec![7]));
    }

    #[test]
    fn the_fair_share_rounds_up() {
        assert_eq!([fair_share(0), fair_share(1), fair_share(2), fair_share(3)], [256, 256, 128, 86]);
    }
}
