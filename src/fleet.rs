//! The live view of every monitored server: what config says about it and its current
//! tracking status. Shared (`Arc<Fleet>`) between the scheduler, which updates statuses, and
//! the web layer, which reads them. Each status has its own uncontended mutex, so readers never
//! hold up the probe path for more than a copy.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::{Config, ProbeSettings, ServerRole};
use crate::domain::Target;
use crate::store::StoredStatus;
use crate::tracker::Status;

#[derive(Debug)]
pub struct FleetEntry {
    pub id: String,
    pub customer: String,
    pub service: String,
    pub role: ServerRole,
    pub target: Target,
    pub settings: ProbeSettings,
    /// Index into [`Fleet::services`]: the service this server belongs to.
    pub service_idx: usize,
    /// Its shard (`domain::shard`): the instance holding that shard's lease probes it.
    pub shard: u8,
    status: Mutex<Status>,
}

impl FleetEntry {
    /// A copy of the current status.
    pub fn status(&self) -> Status {
        self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Read the status under its lock without copying it (for scans over many servers).
    pub fn with_status<R>(&self, f: impl FnOnce(&Status) -> R) -> R {
        f(&self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Change the status under its lock; only the scheduler calls this.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut Status) -> R) -> R {
        f(&mut self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Take the stored status as the current one (a shard taken over, or the view of a server
    /// another instance probes).
    pub(crate) fn restore(&self, stored: StoredStatus) {
        self.update(|status| *status = restore(stored));
    }

    /// The status in its persisted form.
    pub fn stored(&self) -> StoredStatus {
        let s = self.status();
        StoredStatus {
            server_id: self.id.clone(),
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

/// One service and its servers, so per-service decisions never scan the whole fleet.
#[derive(Debug)]
pub struct ServiceMembers {
    pub customer: String,
    pub service: String,
    /// Indexes into [`Fleet::entries`].
    pub members: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct Fleet {
    entries: Vec<FleetEntry>,
    by_id: HashMap<String, usize>,
    services: Vec<ServiceMembers>,
    service_by_id: HashMap<(String, String), usize>,
}

impl Fleet {
    /// Every configured server, continuing from its persisted status where there is one.
    pub fn new(config: &Config, stored: Vec<StoredStatus>, now_ms: i64) -> Fleet {
        let mut stored: HashMap<String, StoredStatus> = stored.into_iter().map(|s| (s.server_id.clone(), s)).collect();
        let mut services: Vec<ServiceMembers> = Vec::new();
        let mut service_by_id: HashMap<(String, String), usize> = HashMap::new();
        let entries: Vec<FleetEntry> = config
            .fleet()
            .enumerate()
            .map(|(idx, f)| {
                let status = stored.remove(&f.server.id).map(restore).unwrap_or_else(|| Status::new(now_ms));
                let key = (f.customer.id.clone(), f.service.id.clone());
                let service_idx = *service_by_id.entry(key).or_insert_with(|| {
                    services.push(ServiceMembers {
                        customer: f.customer.id.clone(),
                        service: f.service.id.clone(),
                        members: Vec::new(),
                    });
                    services.len() - 1
                });
                services[service_idx].members.push(idx);
                FleetEntry {
                    id: f.server.id.clone(),
                    customer: f.customer.id.clone(),
                    service: f.service.id.clone(),
                    role: f.server.role,
                    target: f.server.target.clone(),
                    settings: f.server.probe.clone(),
                    service_idx,
                    shard: crate::domain::shard::shard_of(&f.server.id),
                    status: Mutex::new(status),
                }
            })
            .collect();
        let by_id = entries.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
        Fleet { entries, by_id, services, service_by_id }
    }

    /// Every service with its servers, in config order.
    pub fn services(&self) -> &[ServiceMembers] {
        &self.services
    }

    /// The index of a service in [`Fleet::services`].
    pub fn service_index(&self, customer: &str, service: &str) -> Option<usize> {
        self.service_by_id.get(&(customer.to_string(), service.to_string())).copied()
    }

    /// The servers of one service.
    pub fn members(&self, service_idx: usize) -> impl Iterator<Item = &FleetEntry> {
        self.services.get(service_idx).into_iter().flat_map(|s| s.members.iter().map(|&i| &self.entries[i]))
    }

    pub fn entries(&self) -> &[FleetEntry] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&FleetEntry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
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
