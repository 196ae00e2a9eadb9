//! The configuration and fleet in force. A reload or an inventory change builds the next pair
//! and swaps it in whole ([`Live::replace`]); every part takes the current one per operation
//! (`live.config()`, `live.fleet()`), so nothing holds a fleet across a change for longer than
//! one step. The scheduler, whose queue indexes one fleet, notices a new generation on its
//! next turn and re-keys its queue by server id.
//!
//! Not here: building the next config and fleet (`inventory`), carrying state across
//! (`fleet::Fleet::rebuild`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::fleet::Fleet;

/// One config and the fleet built from it.
#[derive(Debug)]
pub struct Snapshot {
    pub config: Arc<Config>,
    pub fleet: Arc<Fleet>,
}

#[derive(Debug)]
pub struct Live {
    current: RwLock<Arc<Snapshot>>,
    /// The current fleet's generation, readable without the lock.
    generation: AtomicU64,
}

impl Live {
    pub fn new(config: Arc<Config>, fleet: Arc<Fleet>) -> Arc<Live> {
        let generation = AtomicU64::new(fleet.generation());
        Arc::new(Live { current: RwLock::new(Arc::new(Snapshot { config, fleet })), generation })
    }

    /// The config and fleet in force now, taken together.
    pub fn now(&self) -> Arc<Snapshot> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub fn config(&self) -> Arc<Config> {
        self.now().config.clone()
    }

    pub fn fleet(&self) -> Arc<Fleet> {
        self.now().fleet.clone()
    }

    /// The generation of the fleet in force (cheap: one atomic load).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Put a new config and fleet in force.
    pub(crate) fn replace(&self, config: Arc<Config>, fleet: Arc<Fleet>) {
        let generation = fleet.generation();
        let mut current = self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = Arc::new(Snapshot { config, fleet });
        self.generation.store(generation, Ordering::Release);
    }
}
