//! What a service's servers say right now, as the case engine decides from it (PRODUCT.md
//! section 10): whether the service should have an active case (a server is `down`), at which
//! severity (2 while another server still serves, `up` or `failing`; 1 when none does), and
//! whether it has recovered (no server is still confirmed down). Pure reads of the live
//! statuses of one service's servers: never the whole fleet.

use crate::domain::ServerState;
use crate::domain::Severity;
use crate::fleet::Fleet;
use crate::tracker::Status;

/// A snapshot of one service's servers.
#[derive(Debug, Clone, Default)]
pub struct ServiceView {
    /// Some server is `up` or `failing`.
    pub serving: bool,
    /// Servers in state `down` (fleet indexes with their status), oldest outage first.
    pub down: Vec<(usize, Status)>,
    /// Some server reached its threshold and has not completed its recovery yet.
    pub any_confirmed_down: bool,
    /// The latest `state_since` among servers that are not down: when the service was last
    /// seen coming back, for "recovered at …" texts.
    pub back_since: Option<i64>,
}

impl ServiceView {
    pub fn of(fleet: &Fleet, service_idx: usize) -> ServiceView {
        let mut view = ServiceView::default();
        let Some(members) = fleet.services().get(service_idx) else { return view };
        for &idx in &members.members {
            let Some(entry) = fleet.entry(idx) else { continue };
            // The sweep looks at every server each second: copy a status only when it is down.
            entry.with_status(|status| {
                view.serving |= matches!(status.state, ServerState::Up | ServerState::Failing);
                view.any_confirmed_down |= status.confirmed_down;
                if status.state == ServerState::Down {
                    view.down.push((idx, status.clone()));
                } else {
                    view.back_since = view.back_since.max(Some(status.state_since));
                }
            });
        }
        view.down.sort_by_key(|(idx, s)| (s.state_since, *idx));
        view
    }

    /// The severity an outage of this service has now.
    pub fn severity(&self) -> Severity {
        if self.serving {
            Severity::Two
        } else {
            Severity::One
        }
    }

    /// Every server that went down has completed its recovery.
    pub fn recovered(&self) -> bool {
        !self.any_confirmed_down && self.down.is_empty()
    }
}
