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

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::domain::shard::{shard_of, SHARDS};

/// The shards this instance probes and whether it leads. Shared as `Arc<Ownership>`.
#[derive(Debug)]
pub struct Ownership {
    instance: String,
    owned: Vec<AtomicBool>,
    count: AtomicUsize,
    leader: AtomicBool,
}

impl Ownership {
    /// Nothing owned yet: membership claims what this instance gets.
    pub fn new(instance: impl Into<String>) -> Ownership {
        Ownership {
            instance: instance.into(),
            owned: (0..SHARDS).map(|_| AtomicBool::new(false)).collect(),
            count: AtomicUsize::new(0),
            leader: AtomicBool::new(false),
        }
    }

    /// Every shard and the leader role, for parts that run without membership (the
    /// simulated fleet, unit tests).
    pub fn everything(instance: impl Into<String>) -> Ownership {
        let o = Ownership::new(instance);
        for shard in 0..SHARDS {
            o.set(shard as u8, true);
        }
        o.set_leader(true);
        o
    }

    /// This instance's id (`host-pid-random`), as written in the lease rows.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn owns(&self, shard: u8) -> bool {
        self.owned[usize::from(shard)].load(Ordering::Relaxed)
    }

    /// Whether this instance probes (and decides for) this server.
    pub fn owns_server(&self, server_id: &str) -> bool {
        self.owns(shard_of(server_id))
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    pub fn shards_owned(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// The shards owned now, in order.
    pub fn owned_shards(&self) -> Vec<u8> {
        (0..SHARDS).map(|s| s as u8).filter(|s| self.owns(*s)).collect()
    }

    pub(crate) fn set(&self, shard: u8, owned: bool) {
        let was = self.owned[usize::from(shard)].swap(owned, Ordering::Relaxed);
        match (was, owned) {
            (false, true) => _ = self.count.fetch_add(1, Ordering::Relaxed),
            (true, false) => _ = self.count.fetch_sub(1, Ordering::Relaxed),
            _ => {}
        }
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
    fn ownership_counts_what_it_holds() {
        let o = Ownership::new("a");
        assert_eq!((o.shards_owned(), o.is_leader()), (0, false));
        o.set(3, true);
        o.set(3, true);
        o.set(7, true);
        o.set(3, false);
        assert_eq!((o.shards_owned(), o.owned_shards()), (1, vec![7]));
        let all = Ownership::everything("b");
        assert_eq!((all.shards_owned(), all.is_leader()), (SHARDS, true));
        assert!(all.owns_server("anything"));
    }

    #[test]
    fn the_fair_share_rounds_up() {
        assert_eq!([fair_share(0), fair_share(1), fair_share(2), fair_share(3)], [256, 256, 128, 86]);
    }
}
