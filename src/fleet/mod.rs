//! The live view of every monitored server: what config says about it and its current
//! tracking status. Shared (`Arc<Fleet>`, through `live::Live`) between the scheduler, which
//! updates statuses, and the web layer, which reads them. Each status has its own uncontended
//! mutex, so readers never hold up the probe path for more than a copy.
//!
//! Servers live in numbered slots (the index the scheduler's queue, the case engine's hints
//! and the pages use), kept in chunks shared between generations; the by-id index is sharded
//! the same way. So a change of one customer ([`Fleet::change`], `change.rs`) copies only the
//! chunks, shards and services it touches: a new server takes a new slot at the end, a removed
//! or re-targeted one leaves its slot empty, every other slot stays where it was. A reload
//! builds a fresh layout ([`Fleet::rebuild`], `build.rs`), which also drops the empty slots.
//! In both, a server whose id and target are unchanged keeps its status cell (the same
//! `Arc`), so its count, phase and state go on; a changed target gets a fresh cell.
//!
//! Per-state counts are kept for the whole fleet and for each service in step with every
//! status change, so the guard, severity and the pages never scan the fleet to count.
//!
//! Not here: swapping fleets (`live`), re-planning the scheduler's queue (`scheduler`).

mod build;
mod change;
#[cfg(test)]
mod tests;

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::{ProbeSettings, ServerRole};
use crate::domain::{ServerState, Target};
use crate::store::StoredStatus;
use crate::tracker::Status;

/// Slots per chunk: a change copies the chunks it touches, never the whole fleet.
const CHUNK: usize = 1024;

#[derive(Debug, Clone)]
pub struct FleetEntry {
    /// Shared with the by-id index.
    pub id: Arc<str>,
    /// Shared by every server of the service.
    pub customer: Arc<str>,
    pub service: Arc<str>,
    pub role: ServerRole,
    /// Shared with the config's server.
    pub target: Arc<Target>,
    /// Shared with the config's server (and so with the service's servers without overrides).
    pub settings: Arc<ProbeSettings>,
    /// Index into [`Fleet::services`]: the service this server belongs to.
    pub service_idx: usize,
    /// Its shard (`domain::shard`): the instance holding that shard's lease probes it.
    pub shard: u8,
    status: Arc<Mutex<Tracked>>,
}

/// A status and the service counts it is counted in (with the fleet's, shared by every
/// generation); `None` once retired by a change that removed or re-targeted the server. Under
/// one lock, so a status and its counts never part.
#[derive(Debug)]
struct Tracked {
    status: Status,
    counted: Option<Arc<StateCounts>>,
}

impl FleetEntry {
    /// The entry of `server` in service `service_idx` (`customer`, `service`) with `status`.
    fn of(
        server: &crate::config::Server,
        (customer, service): (&Arc<str>, &Arc<str>),
        service_idx: usize,
        status: Arc<Mutex<Tracked>>,
    ) -> FleetEntry {
        FleetEntry {
            id: Arc::from(server.id.as_str()),
            customer: customer.clone(),
            service: service.clone(),
            role: server.role,
            target: server.target.clone(),
            settings: server.probe.clone(),
            service_idx,
            shard: crate::domain::shard::shard_of(&server.id),
            status,
        }
    }

    /// A copy of the current status.
    pub fn status(&self) -> Status {
        self.lock().status.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Read the status under its lock without copying it (for scans over many servers).
    pub fn with_status<R>(&self, f: impl FnOnce(&Status) -> R) -> R {
        f(&self.lock().status)
    }

    /// Whether `other` is this very server's status cell (kept across a change).
    pub fn same_cell(&self, other: &FleetEntry) -> bool {
        Arc::ptr_eq(&self.status, &other.status)
    }

    /// Change the status under its lock, keeping the counts in step and marking its service
    /// for the sweep when it goes down.
    fn update_counted<R>(&self, counts: &StateCounts, attention: &Attention, f: impl FnOnce(&mut Status) -> R) -> R {
        let mut tracked = self.lock();
        let before = tracked.status.state;
        let result = f(&mut tracked.status);
        let after = tracked.status.state;
        if let Some(service) = tracked.counted.as_ref().filter(|_| after != before) {
            counts.moved(before, after);
            service.moved(before, after);
        }
        if after == ServerState::Down && before != ServerState::Down {
            attention.mark(&self.customer, &self.service);
        }
        result
    }

    /// Count the cell in `service` (and in `fleet`, if it was not counted yet): where a
    /// change places it.
    fn count_in(&self, fleet: &StateCounts, service: &Arc<StateCounts>) {
        let mut tracked = self.lock();
        let state = tracked.status.state;
        match tracked.counted.replace(service.clone()) {
            Some(former) if Arc::ptr_eq(&former, service) => {}
            Some(former) => {
                former.remove(state);
                service.add(state);
            }
            None => {
                fleet.add(state);
                service.add(state);
            }
        }
    }

    /// Count the cell where a build or a change places it (its service's `counts`), and mark
    /// its service for the sweep if it is down.
    fn place(&self, fleet: &StateCounts, service: &Arc<StateCounts>, attention: &Attention) {
        self.count_in(fleet, service);
        if self.with_status(|s| s.state == ServerState::Down) {
            attention.mark(&self.customer, &self.service);
        }
    }

    /// Take the cell out of every count (its server was removed or re-targeted).
    fn retire(&self, fleet: &StateCounts) {
        let mut tracked = self.lock();
        if let Some(service) = tracked.counted.take() {
            fleet.remove(tracked.status.state);
            service.remove(tracked.status.state);
        }
    }

    /// The status in its persisted form.
    pub fn stored(&self) -> StoredStatus {
        let s = self.status();
        StoredStatus {
            server_id: self.id.to_string(),
            state: s.state,
            consecutive_failures: i64::from(s.consecutive_failures),
            consecutive_successes: i64::from(s.consecutive_successes),
            confirmed_down: s.confirmed_down,
            last_error: s.last_error,
            last_probe_at: s.last_probe_at,
            state_since: s.state_since,
            seq: i64::try_from(s.seq).unwrap_or(i64::MAX),
        }
    }
}

/// One service and its servers, so per-service decisions never scan the whole fleet. A
/// service a change removed stays as an empty entry (its index is not reused).
#[derive(Debug)]
pub struct ServiceMembers {
    pub customer: Arc<str>,
    pub service: Arc<str>,
    /// Slots in [`Fleet::entry`].
    pub members: Vec<usize>,
    /// Its servers per state, kept in step with every status change.
    pub counts: Arc<StateCounts>,
}

/// How many servers are in each state, kept in step with every status change, so the guard
/// asks "how many are failing?" in O(1) instead of scanning the fleet.
#[derive(Debug, Default)]
pub struct StateCounts([AtomicUsize; ServerState::ALL.len()]);

impl StateCounts {
    fn slot(state: ServerState) -> usize {
        ServerState::ALL.iter().position(|s| *s == state).unwrap_or(0)
    }

    fn moved(&self, from: ServerState, to: ServerState) {
        self.0[Self::slot(from)].fetch_sub(1, Ordering::Relaxed);
        self.0[Self::slot(to)].fetch_add(1, Ordering::Relaxed);
    }

    fn add(&self, state: ServerState) {
        self.0[Self::slot(state)].fetch_add(1, Ordering::Relaxed);
    }

    fn remove(&self, state: ServerState) {
        self.0[Self::slot(state)].fetch_sub(1, Ordering::Relaxed);
    }

    /// Servers in `state` now.
    pub fn get(&self, state: ServerState) -> usize {
        self.0[Self::slot(state)].load(Ordering::Relaxed)
    }
}

/// The services (by customer and service id, which outlive a change) with a server that went
/// down since the case engine's sweep last looked at them: the sweep looks at these and at the
/// services with an active case, not at the whole fleet. A service is marked after its server's
/// state is `down`, and the sweep takes the marks before it reads the states, so no outage is
/// missed between the two; the sweep marks again every service it still finds down.
#[derive(Debug, Default)]
pub struct Attention(Mutex<HashSet<(Arc<str>, Arc<str>)>>);

impl Attention {
    pub fn mark(&self, customer: &Arc<str>, service: &Arc<str>) {
        let mut marked = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        marked.insert((customer.clone(), service.clone()));
    }

    /// Every mark, cleared.
    pub fn take(&self) -> Vec<(Arc<str>, Arc<str>)> {
        let mut marked = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        marked.drain().collect()
    }
}

/// What a change did, for the timeline and the log.
#[derive(Debug, Default)]
pub struct Changes {
    pub added: usize,
    /// Servers whose target changed: (id, former target, new target). They count afresh.
    pub retargeted: Vec<(String, Target, Target)>,
    /// Ids of servers no longer in the inventory.
    pub removed: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added == 0 && self.retargeted.is_empty() && self.removed.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Fleet {
    /// Shared by every generation of the fleet: a kept cell moves the one set of counts.
    counts: Arc<StateCounts>,
    /// Shared by every generation too.
    attention: Arc<Attention>,
    /// Raised by each change.
    generation: u64,
    /// Raised by each rebuild: slots of one layout mean nothing in another. A change within
    /// a layout keeps every slot where it was.
    layout: u64,
    chunks: Vec<Arc<Vec<Option<FleetEntry>>>>,
    /// Slots in use or emptied (the next new server takes slot `slots`).
    slots: usize,
    /// Servers in the fleet (slots not emptied).
    live: usize,
    /// Server id → slot, sharded by `hasher` so a change copies only the shards it touches.
    index: Vec<Arc<HashMap<Arc<str>, usize>>>,
    hasher: RandomState,
    services: Vec<Arc<ServiceMembers>>,
    /// Customer id → its services: (service id, index into `services`), in config order.
    by_customer: HashMap<Arc<str>, Vec<(Arc<str>, usize)>>,
}

impl Default for Fleet {
    fn default() -> Fleet {
        Fleet {
            counts: Arc::default(),
            attention: Arc::default(),
            generation: 0,
            layout: 0,
            chunks: Vec::new(),
            slots: 0,
            live: 0,
            index: vec![Arc::default()],
            hasher: RandomState::new(),
            services: Vec::new(),
            by_customer: HashMap::new(),
        }
    }
}

impl Fleet {
    /// Make sure a fresh cell (a re-targeted server's) supersedes what its former cell wrote
    /// after the change read it: its `seq` goes past `former`'s (the scheduler, on adopting).
    pub(crate) fn supersede(&self, entry: &FleetEntry, former: &FleetEntry) {
        let floor = former.with_status(|s| s.seq) + 1;
        entry.update_counted(&self.counts, &self.attention, |status| status.seq = status.seq.max(floor));
    }

    /// Which change this is (0 at start).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Which layout the slots belong to (raised by a rebuild, not by a change).
    pub fn layout(&self) -> u64 {
        self.layout
    }

    /// Change a server's status under its lock (the scheduler counting a result).
    pub(crate) fn update<R>(&self, entry: &FleetEntry, f: impl FnOnce(&mut Status) -> R) -> R {
        entry.update_counted(&self.counts, &self.attention, f)
    }

    /// Take the stored status as the server's current one (a shard taken over, or the view of
    /// a server another instance probes).
    pub(crate) fn restore(&self, entry: &FleetEntry, stored: StoredStatus) {
        entry.update_counted(&self.counts, &self.attention, |status| *status = restore(stored));
    }

    /// The services marked for the sweep.
    pub fn attention(&self) -> &Attention {
        &self.attention
    }

    /// How many servers are in each state now.
    pub fn counts(&self) -> &StateCounts {
        &self.counts
    }

    /// Every service with its servers (a removed one empty), in the order they came.
    pub fn services(&self) -> &[Arc<ServiceMembers>] {
        &self.services
    }

    /// The index of a service in [`Fleet::services`].
    pub fn service_index(&self, customer: &str, service: &str) -> Option<usize> {
        self.customer_services(customer).find(|(id, _)| &***id == service).map(|(_, idx)| idx)
    }

    /// A customer's services: (service id, index into [`Fleet::services`]), in config order.
    pub fn customer_services(&self, customer: &str) -> impl Iterator<Item = (&Arc<str>, usize)> {
        self.by_customer.get(customer).into_iter().flat_map(|s| s.iter().map(|(id, idx)| (id, *idx)))
    }

    /// The servers of one service.
    pub fn members(&self, service_idx: usize) -> impl Iterator<Item = &FleetEntry> {
        self.services.get(service_idx).into_iter().flat_map(|s| s.members.iter().filter_map(|&i| self.entry(i)))
    }

    /// The server in slot `slot`, if the slot is in use.
    pub fn entry(&self, slot: usize) -> Option<&FleetEntry> {
        self.chunks.get(slot / CHUNK)?.get(slot % CHUNK)?.as_ref()
    }

    /// Every server with its slot, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &FleetEntry)> {
        self.iter_from(0)
    }

    /// The servers from slot `from` on, in slot order.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = (usize, &FleetEntry)> {
        self.chunks
            .iter()
            .enumerate()
            .skip(from / CHUNK)
            .flat_map(|(c, chunk)| chunk.iter().enumerate().map(move |(i, e)| (c * CHUNK + i, e)))
            .skip(from % CHUNK)
            .filter_map(|(slot, entry)| entry.as_ref().map(|e| (slot, e)))
    }

    /// Slots in use or emptied: every slot is below this.
    pub fn slots(&self) -> usize {
        self.slots
    }

    fn shard(&self, id: &str) -> usize {
        // The shard count is a power of two.
        (self.hasher.hash_one(id) as usize) & (self.index.len() - 1)
    }

    /// Where the server is.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index[self.shard(id)].get(id).copied()
    }

    pub fn get(&self, id: &str) -> Option<&FleetEntry> {
        self.index_of(id).and_then(|slot| self.entry(slot))
    }

    /// Servers in the fleet.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The bytes this fleet holds, accounted from its structures' sizes and capacities (each
    /// allocation rounded as glibc's malloc does), not counting the targets and probe
    /// settings it shares with the config. What `firstwatch bench` reports per server.
    pub fn footprint(&self) -> Footprint {
        let malloc = |bytes: usize| (bytes + 8).div_ceil(16).max(2) * 16;
        let entries: usize =
            self.chunks.iter().map(|c| malloc(c.capacity() * std::mem::size_of::<Option<FleetEntry>>())).sum();
        let cell = malloc(2 * std::mem::size_of::<usize>() + std::mem::size_of::<Mutex<Tracked>>());
        let ids: usize = self.iter().map(|(_, e)| malloc(2 * std::mem::size_of::<usize>() + e.id.len())).sum();
        let bucket = std::mem::size_of::<(Arc<str>, usize)>() + 1;
        let index: usize = self.index.iter().map(|s| malloc(s.capacity() * 8 / 7 * bucket)).sum();
        let services: usize = self.services.iter().map(|s| malloc(s.members.capacity() * 8)).sum();
        Footprint { servers: self.live, entries, cells: cell * self.live, ids, index, services }
    }
}

/// What [`Fleet::footprint`] accounts, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Footprint {
    pub servers: usize,
    /// The slots (chunks of entries).
    pub entries: usize,
    /// The status cells.
    pub cells: usize,
    /// The server id strings (shared by entry and index).
    pub ids: usize,
    /// The by-id index.
    pub index: usize,
    /// The services' member lists.
    pub services: usize,
}

impl Footprint {
    /// Bytes per server beyond its id string.
    pub fn per_server(&self) -> f64 {
        (self.entries + self.cells + self.index + self.services) as f64 / self.servers.max(1) as f64
    }
}

/// The status of a server counted afresh (new, or with a new target). Its `seq` starts at the
/// clock's milliseconds (or `floor`, if later): far past any row a former server of the same id
/// left in the store (one result per request, requests seconds apart), so the store, which keeps
/// only a newer `seq`, takes the fresh status.
fn fresh(now_ms: i64, floor: u64) -> Status {
    let mut status = Status::new(now_ms);
    status.seq = u64::try_from(now_ms).unwrap_or(0).max(floor);
    status
}

fn restore(s: StoredStatus) -> Status {
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    Status {
        state: s.state,
        consecutive_failures: count(s.consecutive_failures),
        consecutive_successes: count(s.consecutive_successes),
        confirmed_down: s.confirmed_down,
        last_error: s.last_error,
        last_probe_at: s.last_probe_at,
        state_since: s.state_since,
        seq: u64::try_from(s.seq.max(0)).unwrap_or(0),
    }
}

fn cell(status: Status) -> Arc<Mutex<Tracked>> {
    Arc::new(Mutex::new(Tracked { status, counted: None }))
}
