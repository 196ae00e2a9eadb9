//! Building a whole fleet in a fresh layout: at start ([`Fleet::new`], from the stored
//! statuses) and on a reload ([`Fleet::rebuild`], carrying state over by server id). One pass
//! over the config; slots are numbered in config order with none left empty.
//!
//! Not here: changing some customers within a layout (`change.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{cell, fresh, restore, Changes, Fleet, FleetEntry, ServiceMembers, StateCounts, Tracked, CHUNK};
use crate::config::{Config, FleetServer};
use crate::store::StoredStatus;
use crate::tracker::Status;

/// Most servers one index shard holds, roughly (the shard count is a power of two).
const PER_SHARD: usize = 1024;
/// The most index shards.
const MAX_SHARDS: usize = 4096;

impl Fleet {
    /// Every configured server, continuing from its persisted status where there is one.
    pub fn new(config: &Config, stored: Vec<StoredStatus>, now_ms: i64) -> Fleet {
        let mut stored: HashMap<String, StoredStatus> = stored.into_iter().map(|s| (s.server_id.clone(), s)).collect();
        Fleet::assemble(
            config,
            Fleet::default(),
            |_, _| Arc::default(),
            |f| cell(stored.remove(&f.server.id).map(restore).unwrap_or_else(|| Status::new(now_ms))),
        )
    }

    /// The fleet `config` describes, in a fresh layout, continuing from this one: an
    /// unchanged server (same id and target) keeps its status cell; a changed target starts
    /// counting afresh (its `seq` goes on, so the store takes the fresh status); a new server
    /// starts `unknown`. Cells left behind are retired from the counts.
    pub fn rebuild(&self, config: &Config, now_ms: i64) -> (Fleet, Changes) {
        let mut changes = Changes::default();
        let base = Fleet {
            counts: self.counts.clone(),
            attention: self.attention.clone(),
            generation: self.generation + 1,
            layout: self.layout + 1,
            ..Fleet::default()
        };
        // A service kept keeps its counts, so a page reading this fleet meanwhile sees no dip.
        let counts = |customer: &str, service: &str| {
            self.service_index(customer, service).map(|i| self.services[i].counts.clone()).unwrap_or_default()
        };
        let next = Fleet::assemble(config, base, counts, |f| match self.get(&f.server.id) {
            None => {
                changes.added += 1;
                cell(fresh(now_ms, 0))
            }
            Some(old) if old.target == f.server.target => old.status.clone(),
            Some(old) => {
                changes.retargeted.push((old.id.to_string(), (*old.target).clone(), (*f.server.target).clone()));
                cell(fresh(now_ms, old.with_status(|s| s.seq) + 1))
            }
        });
        for (_, old) in self.iter() {
            let now = next.get(&old.id);
            if now.is_some_and(|e| e.same_cell(old)) {
                continue;
            }
            if now.is_none() {
                changes.removed.push(old.id.to_string());
            }
            old.retire(&self.counts);
        }
        (next, changes)
    }

    /// `base` (counts, attention, generation and layout set; nothing else) filled with the
    /// servers of `config`, each server's cell from `cell_of`, each service's counts from
    /// `service_counts`; the services of servers down are marked for the sweep.
    fn assemble(
        config: &Config,
        mut fleet: Fleet,
        service_counts: impl Fn(&str, &str) -> Arc<StateCounts>,
        mut cell_of: impl FnMut(&FleetServer<'_>) -> Arc<Mutex<Tracked>>,
    ) -> Fleet {
        let total: usize = config.customers.iter().flat_map(|c| &c.services).map(|s| s.servers.len()).sum();
        let shards = total.div_ceil(PER_SHARD).next_power_of_two().clamp(1, MAX_SHARDS);
        let mut index: Vec<HashMap<Arc<str>, usize>> =
            (0..shards).map(|_| HashMap::with_capacity(total / shards + total / shards / 4)).collect();
        fleet.index = vec![Arc::default(); shards];
        let mut chunk: Vec<Option<FleetEntry>> = Vec::with_capacity(CHUNK.min(total));
        for customer in &config.customers {
            let customer_id: Arc<str> = Arc::from(customer.id.as_str());
            let mut own = Vec::with_capacity(customer.services.len());
            for service in &customer.services {
                let service_id: Arc<str> = Arc::from(service.id.as_str());
                let service_idx = fleet.services.len();
                let counts = service_counts(&customer.id, &service.id);
                let mut members = Vec::with_capacity(service.servers.len());
                for server in &service.servers {
                    let slot = fleet.slots;
                    let status = cell_of(&FleetServer { customer, service, server });
                    let entry = FleetEntry::of(server, (&customer_id, &service_id), service_idx, status);
                    entry.place(&fleet.counts, &counts, &fleet.attention);
                    index[fleet.shard(&entry.id)].insert(entry.id.clone(), slot);
                    members.push(slot);
                    chunk.push(Some(entry));
                    if chunk.len() == CHUNK {
                        fleet.chunks.push(Arc::new(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))));
                    }
                    fleet.slots += 1;
                }
                fleet.services.push(Arc::new(ServiceMembers {
                    customer: customer_id.clone(),
                    service: service_id.clone(),
                    members,
                    counts,
                }));
                own.push((service_id, service_idx));
            }
            fleet.by_customer.insert(customer_id, own);
        }
        if !chunk.is_empty() {
            fleet.chunks.push(Arc::new(chunk));
        }
        fleet.live = fleet.slots;
        fleet.index = index.into_iter().map(Arc::new).collect();
        fleet
    }
}
