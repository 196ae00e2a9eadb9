//! Every default of the configuration in one place, so operators and code agree on them.
//! The numbers come from the source documents (PRODUCT.md section 1) unless noted.

use std::time::Duration;

pub const LISTEN: &str = "127.0.0.1:8080";
/// How long a page sign-in lasts (`[server] session_ttl`).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Client connections open at once (`[server] max_connections`).
pub const MAX_CONNECTIONS: usize = 1024;
/// Open files the process needs besides probes and client connections: database
/// connections, listeners, logs, the resolver.
pub const RESERVED_FILES: u64 = 128;
pub const DATABASE_URL: &str = "sqlite://data/firstwatch.db";
/// How long probe results may wait in memory before they are written in one batch.
pub const WRITE_BEHIND: Duration = Duration::from_millis(250);
/// How long hourly roll-ups and failure rows are kept.
pub const RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

pub const INTERVAL: Duration = Duration::from_secs(15 * 60);
pub const RETRY_INTERVAL: Duration = Duration::from_secs(60);
pub const FAILURE_THRESHOLD: u32 = 10;
pub const RECOVERY_THRESHOLD: u32 = 2;
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Status requests in flight at once across the whole fleet.
pub const MAX_CONCURRENCY: usize = 2048;

pub const ACK_TIMEOUT: Duration = Duration::from_secs(2 * 3600);
pub const UPDATE_INTERVAL: Duration = Duration::from_secs(3600);
pub const REOPEN_WINDOW: Duration = Duration::from_secs(3600);
pub const AUTO_RESOLVE: bool = true;

/// First-response targets (`[cases.response_targets]`): seed 003's reaction times of 1, 2 and
/// 8 hours for Severity 1 to 3. Severity 1 counts 24x7, the others business hours.
pub const RESPONSE_SEVERITY_1: Duration = Duration::from_secs(3600);
pub const RESPONSE_SEVERITY_2: Duration = Duration::from_secs(2 * 3600);
pub const RESPONSE_SEVERITY_3: Duration = Duration::from_secs(8 * 3600);

/// Business hours (`[cases.business_hours]`): Monday to Friday, 09:00 to 17:00 UTC, no holidays.
pub const BUSINESS_TIMEZONE: &str = "UTC";
/// Monday first.
pub const BUSINESS_DAYS: [bool; 7] = [true, true, true, true, true, false, false];
/// Minutes since local midnight.
pub const BUSINESS_START: u16 = 9 * 60;
/// Minutes since local midnight.
pub const BUSINESS_END: u16 = 17 * 60;

pub const MAX_FAILING_FRACTION: f64 = 0.5;

pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(5 * 60);
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// `[cluster] lease_ttl`: a dead instance's servers are probed again within this.
pub const LEASE_TTL: Duration = Duration::from_secs(15);

/// The smallest duration accepted anywhere, so tests can compress time but not to nothing.
pub const MIN_DURATION: Duration = Duration::from_millis(100);
/// Largest accepted probe interval: a check less than daily is not monitoring.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Largest accepted failure or recovery threshold.
pub const MAX_THRESHOLD: u32 = 1000;

/// The role paged first by the default escalation policy (and about the monitor itself).
pub const OPERATIONS_MANAGER_ROLE: &str = "operations-manager";
/// The role paged when a Severity 1 case is not acknowledged within `ack_timeout`.
pub const VP_OPERATIONS_ROLE: &str = "vp-operations";
