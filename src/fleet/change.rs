//! Changing some customers within a layout ([`Fleet::change`]): what an inventory API change
//! does, in time proportional to the customers changed, not to the fleet. The next fleet
//! shares every chunk, index shard and service it does not touch with this one.
//!
//! Slots are never reused within a layout: a kept server (same id and target) keeps its slot
//! and cell, a new or re-targeted one takes a new slot at the end, and the slot of a removed
//! or re-targeted one is left empty. So a slot the scheduler planned, or a hint the case
//! engine holds, means the same server for as long as the slot is in use. When a quarter of
//! the slots would be empty, the change is a [`Fleet::rebuild`] instead.
//!
//! Not here: a whole new layout (`build.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{cell, fresh, Changes, Fleet, FleetEntry, ServiceMembers, StateCounts, CHUNK};
use crate::config::Config;
use crate::domain::Target;

impl Fleet {
    /// The fleet with the customers `ids` as `config` has them now: added, replaced, or
    /// (absent from `config`) removed. Every other server, service and slot stays as it is.
    pub fn change(&self, config: &Config, ids: &[&str], now_ms: i64) -> (Fleet, Changes) {
        let changed: HashSet<&str> = ids.iter().copied().collect();
        let leaving: Vec<usize> = changed
            .iter()
            .flat_map(|id| self.customer_services(id))
            .flat_map(|(_, si)| self.services[si].members.iter().copied())
            .collect();
        let arriving: Vec<_> = config.customers.iter().filter(|c| changed.contains(c.id.as_str())).collect();
        let staying: HashMap<&str, &Arc<Target>> = arriving
            .iter()
            .flat_map(|c| &c.services)
            .flat_map(|s| &s.servers)
            .map(|s| (s.id.as_str(), &s.target))
            .collect();
        let arriving_servers = staying.len();
        let emptied_now = leaving
            .iter()
            .filter_map(|&slot| self.entry(slot))
            .filter(|e| staying.get(&*e.id).is_none_or(|target| **target != e.target))
            .count();
        let empty_after = self.slots - self.live + emptied_now;
        if empty_after > CHUNK && empty_after > (self.slots + arriving_servers) / 4 {
            return self.rebuild(config, now_ms);
        }

        let mut next = self.clone();
        next.generation += 1;
        let mut changes = Changes::default();
        let mut emptied: HashSet<usize> = HashSet::new();
        for id in &changed {
            emptied.extend(self.customer_services(id).map(|(_, si)| si));
            next.by_customer.remove(*id);
        }
        let mut kept: HashSet<usize> = HashSet::new();
        let mut arrived: HashSet<&str> = HashSet::new();
        for customer in arriving {
            let customer_id: Arc<str> = Arc::from(customer.id.as_str());
            let mut own = Vec::with_capacity(customer.services.len());
            for service in &customer.services {
                let service_id: Arc<str> = Arc::from(service.id.as_str());
                // A service kept keeps its index and counts; a new one takes the next index.
                let (service_idx, counts) = match self.service_index(&customer.id, &service.id) {
                    Some(si) => (si, self.services[si].counts.clone()),
                    None => (next.services.len(), Arc::default()),
                };
                if service_idx == next.services.len() {
                    next.services.push(Arc::new(empty(&customer_id, &service_id)));
                }
                emptied.remove(&service_idx);
                let mut members = Vec::with_capacity(service.servers.len());
                for server in &service.servers {
                    arrived.insert(server.id.as_str());
                    let former = self.index_of(&server.id).and_then(|slot| self.entry(slot).map(|e| (slot, e)));
                    let status = match former {
                        Some((_, old)) if old.target == server.target => old.status.clone(),
                        Some((_, old)) => {
                            let (before, after) = ((*old.target).clone(), (*server.target).clone());
                            changes.retargeted.push((old.id.to_string(), before, after));
                            cell(fresh(now_ms, old.with_status(|s| s.seq) + 1))
                        }
                        None => {
                            changes.added += 1;
                            cell(fresh(now_ms, 0))
                        }
                    };
                    let mut entry = FleetEntry::of(server, (&customer_id, &service_id), service_idx, status);
                    if let Some((_, old)) = former {
                        // One id string per server, shared with the index.
                        entry.id = old.id.clone();
                    }
                    entry.place(&next.counts, &counts, &next.attention);
                    let slot = match former {
                        Some((slot, old)) if entry.same_cell(old) => {
                            kept.insert(slot);
                            next.put(slot, Some(entry));
                            slot
                        }
                        _ => next.append(entry),
                    };
                    members.push(slot);
                }
                next.services[service_idx] = Arc::new(ServiceMembers {
                    customer: customer_id.clone(),
                    service: service_id.clone(),
                    members,
                    counts,
                });
                own.push((service_id, service_idx));
            }
            next.by_customer.insert(customer_id, own);
        }
        for si in emptied {
            let former = &self.services[si];
            next.services[si] = Arc::new(empty(&former.customer, &former.service));
        }
        for slot in leaving.into_iter().filter(|slot| !kept.contains(slot)) {
            let Some(old) = self.entry(slot) else { continue };
            next.put(slot, None);
            next.live -= 1;
            old.retire(&self.counts);
            if !arrived.contains(&*old.id) {
                changes.removed.push(old.id.to_string());
                next.unindex(&old.id);
            }
        }
        (next, changes)
    }

    /// Put `entry` in `slot` (below `slots`, or `slots` itself), copying only its chunk.
    fn put(&mut self, slot: usize, entry: Option<FleetEntry>) {
        let (c, i) = (slot / CHUNK, slot % CHUNK);
        if c == self.chunks.len() {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        let chunk = Arc::make_mut(&mut self.chunks[c]);
        if i == chunk.len() {
            chunk.push(entry);
        } else {
            chunk[i] = entry;
        }
    }

    /// Put `entry` in a new slot at the end and index it there.
    fn append(&mut self, entry: FleetEntry) -> usize {
        let slot = self.slots;
        let shard = self.shard(&entry.id);
        Arc::make_mut(&mut self.index[shard]).insert(entry.id.clone(), slot);
        self.put(slot, Some(entry));
        self.slots += 1;
        self.live += 1;
        slot
    }

    fn unindex(&mut self, id: &str) {
        let shard = self.shard(id);
        Arc::make_mut(&mut self.index[shard]).remove(id);
    }
}

fn empty(customer: &Arc<str>, service: &Arc<str>) -> ServiceMembers {
    ServiceMembers {
        customer: customer.clone(),
        service: service.clone(),
        members: Vec::new(),
        counts: Arc::new(StateCounts::default()),
    }
}
