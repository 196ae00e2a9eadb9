//! Plain domain types shared by every layer: no I/O here, only parsing and display.
//! Each type is parsed once at the edge (config, API) so the rest of the code can trust it.

pub mod case_number;
pub mod case_status;
pub mod names;
pub mod secret;
pub mod severity;
pub mod shard;
pub mod state;
pub mod target;
pub mod timeline;
pub mod url_text;

pub use case_number::CaseNumber;
pub use case_status::CaseStatus;
pub use secret::{constant_time_eq, Secret};
pub use severity::Severity;
pub use state::ServerState;
pub use target::{ProbeKind, Target, TargetError};
pub use timeline::TimelineKind;
