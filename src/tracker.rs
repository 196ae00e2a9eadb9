//! Consecutive failure and success counts per server, and the state they imply
//! (PRODUCT.md section 10). Pure: the scheduler feeds it results and persists what it returns;
//! the case engine acts on the [`Transition`] flags.

use crate::domain::ServerState;

/// One server's tracking. Persisted as `store::StoredStatus`; `seq` orders writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: ServerState,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    /// Set when `failure_threshold` is reached; cleared after `recovery_threshold` successes.
    /// While set, the server is "confirmed down" even if its latest request succeeded.
    pub confirmed_down: bool,
    pub last_error: Option<String>,
    /// Unix ms of the latest status request's start.
    pub last_probe_at: Option<i64>,
    /// Unix ms since when `state` holds.
    pub state_since: i64,
    /// Results applied so far; the store only accepts a write with a larger `seq`.
    pub seq: u64,
}

impl Status {
    pub fn new(now_ms: i64) -> Status {
        Status {
            state: ServerState::Unknown,
            consecutive_failures: 0,
            consecutive_successes: 0,
            confirmed_down: false,
            last_error: None,
            last_probe_at: None,
            state_since: now_ms,
            seq: 0,
        }
    }
}

/// One result, as the tracker needs it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// `None` on success, the failure reason otherwise.
    pub error: Option<&'a str>,
    /// Unix ms of the request's start.
    pub at: i64,
    pub in_maintenance: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub failure: u32,
    pub recovery: u32,
}

/// What applying one result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: ServerState,
    pub to: ServerState,
    /// This result made the count reach `failure_threshold` (once per outage).
    pub threshold_reached: bool,
    /// This result completed `recovery_threshold` successes after the server was down.
    pub recovered: bool,
}

impl Transition {
    pub fn state_changed(&self) -> bool {
        self.from != self.to
    }
}

/// Apply one result to `status` and say what changed.
pub fn apply(status: &mut Status, obs: Observation<'_>, thresholds: Thresholds) -> Transition {
    let from = status.state;
    let mut threshold_reached = false;
    let mut recovered = false;
    match obs.error {
        None => {
            status.consecutive_failures = 0;
            status.consecutive_successes = status.consecutive_successes.saturating_add(1);
            if status.confirmed_down && status.consecutive_successes >= thresholds.recovery {
                status.confirmed_down = false;
                recovered = true;
            }
        }
        Some(error) => {
            status.consecutive_successes = 0;
            status.consecutive_failures = status.consecutive_failures.saturating_add(1);
            status.last_error = Some(error.to_string());
            if !status.confirmed_down && status.consecutive_failures >= thresholds.failure {
                status.confirmed_down = true;
                threshold_reached = true;
            }
        }
    }
    let to = if obs.in_maintenance {
        ServerState::Maintenance
    } else if obs.error.is_none() {
        ServerState::Up
    } else if status.consecutive_failures >= thresholds.failure {
        ServerState::Down
    } else {
        ServerState::Failing
    };
    status.state = to;
    if to != from {
        status.state_since = obs.at;
    }
    status.last_probe_at = Some(obs.at);
    status.seq += 1;
    Transition { from, to, threshold_reached, recovered }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds { failure: 3, recovery: 2 };

    fn fail(status: &mut Status, at: i64) -> Transition {
        apply(status, Observation { error: Some("http 500"), at, in_maintenance: false }, T)
    }

    fn ok(status: &mut Status, at: i64) -> Transition {
        apply(status, Observation { error: None, at, in_maintenance: false }, T)
    }

    #[test]
    fn failures_count_up_to_down_exactly_at_the_threshold() {
        let mut s = Status::new(0);
        assert_eq!(fail(&mut s, 1).to, ServerState::Failing);
        assert_eq!(fail(&mut s, 2).to, ServerState::Failing);
        let third = fail(&mut s, 3);
        assert_eq!((third.to, third.threshold_reached), (ServerState::Down, true));
        let fourth = fail(&mut s, 4);
        assert_eq!((fourth.to, fourth.threshold_reached), (ServerState::Down, false), "reached once per outage");
        assert_eq!(s.consecutive_failures, 4);
        assert_eq!(s.last_error.as_deref(), Some("http 500"));
        assert_eq!(s.state_since, 3);
        assert_eq!(s.seq, 4);
    }

    #[test]
    fn a_success_resets_failures_and_recovery_needs_its_threshold() {
        let mut s = Status::new(0);
        for at in 1..=3 {
            fail(&mut s, at);
        }
        let first = ok(&mut s, 4);
        assert_eq!((first.to, first.recovered, s.confirmed_down), (ServerState::Up, false, true));
        let second = ok(&mut s, 5);
        assert_eq!((second.recovered, s.confirmed_down, s.consecutive_failures), (true, false, 0));
    }

    #[test]
    fn a_failure_between_successes_restarts_recovery() {
        let mut s = Status::new(0);
        for at in 1..=3 {
            fail(&mut s, at);
        }
        ok(&mut s, 4);
        let again = fail(&mut s, 5);
        assert!(!again.threshold_reached, "still the same outage");
        assert_eq!(again.to, ServerState::Failing);
        assert!(s.confirmed_down);
        assert!(!ok(&mut s, 6).recovered);
        assert!(ok(&mut s, 7).recovered);
    }

    #[test]
    fn maintenance_shows_as_its_own_state_but_failures_still_count() {
        let mut s = Status::new(0);
        let t = apply(&mut s, Observation { error: Some("timeout"), at: 1, in_maintenance: true }, T);
        assert_eq!(t.to, ServerState::Maintenance);
        assert_eq!(s.consecutive_failures, 1);
    }
}
