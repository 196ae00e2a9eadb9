//! Cases: opened, raised, joined, recovered and resolved by the engine (`engine.rs`); worked
//! by operators through the same engine. `domain::case_status` is the life cycle, `severity.rs` the
//! Severity 1/2 rule, `sla.rs` the response targets, `texts.rs` the sentences people read.

pub mod engine;
pub mod severity;
pub mod sla;
pub mod texts;

pub use crate::domain::case_status as state;
pub use crate::domain::CaseStatus;
pub use engine::{CaseEngine, CaseError, LinkAck, OperatorAction};
