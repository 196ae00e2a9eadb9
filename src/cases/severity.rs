//! Severity from the state of a service's servers (PRODUCT.md section 10): Severity 2 while
//! another server of the service still serves (`up` or `failing`), Severity 1 when none does.

use crate::domain::ServerState;
use crate::fleet::Fleet;

pub fn for_service(fleet: &Fleet, customer: &str, service: &str) -> i64 {
    let serving = fleet
        .entries()
        .iter()
        .filter(|e| e.customer == customer && e.service == service)
        .any(|e| matches!(e.status().state, ServerState::Up | ServerState::Failing));
    if serving {
        2
    } else {
        1
    }
}

/// Is any server of the service still confirmed down (reached its threshold, not recovered)?
pub fn any_down(fleet: &Fleet, customer: &str, service: &str) -> bool {
    fleet.entries().iter().filter(|e| e.customer == customer && e.service == service).any(|e| e.status().confirmed_down)
}
