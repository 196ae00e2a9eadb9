//! The case life cycle (PRODUCT.md section 2) as an explicit state machine: every allowed
//! transition is listed in [`CaseStatus::allows`], nowhere else. Pure; the engine asks it
//! before every change and refuses what it refuses.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseStatus {
    /// Opened by the engine, waiting for triage.
    Open,
    /// Someone is on it: escalation stops.
    Acknowledged,
    InProgress,
    WaitingForCustomer,
    /// The service is back (automatically or by an operator); updates stop.
    Resolved,
    /// Final: an engineer closed it.
    Closed,
    /// A new outage within `reopen_window` of resolution brought it back.
    Reopened,
}

/// What an operator or the engine asks of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    StartWork,
    WaitForCustomer,
    Resolve,
    Close,
    Reopen,
}

/// A refused transition; the message is shown to the operator as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a case that is {from}")]
pub struct IllegalTransition {
    pub from: CaseStatus,
    pub action: &'static str,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 7] = [
        CaseStatus::Open,
        CaseStatus::Acknowledged,
        CaseStatus::InProgress,
        CaseStatus::WaitingForCustomer,
        CaseStatus::Resolved,
        CaseStatus::Closed,
        CaseStatus::Reopened,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Acknowledged => "acknowledged",
            CaseStatus::InProgress => "in_progress",
            CaseStatus::WaitingForCustomer => "waiting_for_customer",
            CaseStatus::Resolved => "resolved",
            CaseStatus::Closed => "closed",
            CaseStatus::Reopened => "reopened",
        }
    }

    /// The names of the statuses that are neither resolved nor closed (see [`Self::is_active`]),
    /// for queries that filter on them.
    pub const ACTIVE_NAMES: [&'static str; 5] = [
        CaseStatus::Open.as_str(),
        CaseStatus::Acknowledged.as_str(),
        CaseStatus::InProgress.as_str(),
        CaseStatus::WaitingForCustomer.as_str(),
        CaseStatus::Reopened.as_str(),
    ];

    /// Not yet resolved or closed: the service's one open case (the database enforces one).
    pub fn is_active(self) -> bool {
        !matches!(self, CaseStatus::Resolved | CaseStatus::Closed)
    }

    /// Somebody has taken it: no further escalation levels fire.
    pub fn is_worked(self) -> bool {
        matches!(self, CaseStatus::Acknowledged | CaseStatus::InProgress | CaseStatus::WaitingForCustomer)
    }

    /// The one table of allowed transitions.
    pub fn apply(self, action: Action) -> Result<CaseStatus, IllegalTransition> {
        use Action::*;
        use CaseStatus::*;
        let to = match (self, action) {
            (Open | Reopened, Acknowledge) => Acknowledged,
            (Acknowledged | WaitingForCustomer, StartWork) => InProgress,
            (Acknowledged | InProgress, WaitForCustomer) => WaitingForCustomer,
            (Open | Reopened | Acknowledged | InProgress | WaitingForCustomer, Resolve) => Resolved,
            (Resolved, Close) => Closed,
            (Resolved, Reopen) => Reopened,
            (from, action) => return Err(IllegalTransition { from, action: action.verb() }),
        };
        Ok(to)
    }
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::StartWork => "start work on",
            Action::WaitForCustomer => "wait for the customer on",
            Action::Resolve => "resolve",
            Action::Close => "close",
            Action::Reopen => "reopen",
        }
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseStatus::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| format!("unknown case status {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use CaseStatus::*;

    #[test]
    fn the_usual_life_of_a_case() {
        let worked = Open.apply(Acknowledge).and_then(|s| s.apply(StartWork)).and_then(|s| s.apply(WaitForCustomer));
        let done = worked.and_then(|s| s.apply(StartWork)).and_then(|s| s.apply(Resolve)).and_then(|s| s.apply(Close));
        assert_eq!(done, Ok(Closed));
        assert_eq!(Resolved.apply(Reopen).and_then(|s| s.apply(Acknowledge)), Ok(Acknowledged));
    }

    #[test]
    fn illegal_transitions_are_refused_with_a_reason() {
        assert_eq!(Open.apply(Close).map_err(|e| e.to_string()), Err("cannot close a case that is open".to_string()));
        assert_eq!(
            Closed.apply(Acknowledge).map_err(|e| e.to_string()),
            Err("cannot acknowledge a case that is closed".to_string())
        );
        assert!(Acknowledged.apply(Acknowledge).is_err());
        assert!(Closed.apply(Reopen).is_err(), "closed is final");
        assert!(Resolved.apply(Resolve).is_err());
    }

    #[test]
    fn active_names_are_exactly_the_active_statuses() {
        let active: Vec<&str> = CaseStatus::ALL.into_iter().filter(|s| s.is_active()).map(CaseStatus::as_str).collect();
        assert_eq!(active, CaseStatus::ACTIVE_NAMES);
    }

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in CaseStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
    }
}
