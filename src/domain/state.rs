//! The state of one monitored server, as shown by the API (`state`) and the
//! `firstwatch_servers{state}` gauge. The rules that move between states live in `tracker.rs`.

use std::fmt;
use std::str::FromStr;

/// Where a server stands after its latest status request (PRODUCT.md section 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerState {
    /// No status request has completed yet.
    Unknown,
    /// The latest status request succeeded.
    Up,
    /// 1 to `failure_threshold - 1` failures in sequence.
    Failing,
    /// `failure_threshold` or more failures in sequence.
    Down,
    /// Inside a maintenance window; failures are still counted.
    Maintenance,
}

impl ServerState {
    /// Every state, in the order dashboards list them; metrics pre-register one series each.
    pub const ALL: [ServerState; 5] =
        [ServerState::Unknown, ServerState::Up, ServerState::Failing, ServerState::Down, ServerState::Maintenance];

    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Unknown => "unknown",
            ServerState::Up => "up",
            ServerState::Failing => "failing",
            ServerState::Down => "down",
            ServerState::Maintenance => "maintenance",
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServerState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServerState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown server state {s:?}"))
    }
}
