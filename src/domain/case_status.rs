//! The case life cycle (PRODUCT.md section 2) as an explicit state machine: every allowed
//! transition is listed in [`CaseStatus::allows`], nowhere else. Pure; the engine asks it
//! before every change and refuses what it refuses.

crate::named_enum! {
    /// Where a case is in its life cycle; stored by name.
    pub enum CaseStatus ("case status") {
        /// Opened by the engine, waiting for triage.
        Open => "open",
        /// Someone is on it: escalation stops.
        Acknowledged => "acknowledged",
        InProgress => "in_progress",
        WaitingForCustomer => "waiting_for_customer",
        /// The service is back (automatically or by an operator); updates stop.
        Resolved => "resolved",
        /// Final: an engineer closed it.
        Closed => "closed",
        /// A new outage within `reopen_window` of resolution brought it back.
        Reopened => "reopened",
    }
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
    /// The statuses that are neither resolved nor closed (see [`Self::is_active`]).
    pub fn active() -> Vec<CaseStatus> {
        CaseStatus::ALL.into_iter().filter(|s| s.is_active()).collect()
    }

    /// Not yet resolved or closed: the service's one open case (the database enforces one).
    pub const fn is_active(self) -> bool {
        match self {
            CaseStatus::Open
            | CaseStatus::Acknowledged
            | CaseStatus::InProgress
            | CaseStatus::WaitingForCustomer
            | CaseStatus::Reopened => true,
            CaseStatus::Resolved | CaseStatus::Closed => false,
        }
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

/// `('resolved', 'closed')`: the statuses that are not active, as an SQL list (the partial
/// unique index of the migrations spells the same set).
pub fn inactive_sql() -> String {
    let names: Vec<String> =
        CaseStatus::ALL.into_iter().filter(|s| !s.is_active()).map(|s| format!("'{}'", s.as_str())).collect();
    format!("({})", names.join(", "))
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
    fn the_active_statuses_are_all_but_resolved_and_closed() {
        assert_eq!(CaseStatus::active(), [Open, Acknowledged, InProgress, WaitingForCustomer, Reopened]);
        assert_eq!(super::inactive_sql(), "('resolved', 'closed')");
    }

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in CaseStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
    }
}
