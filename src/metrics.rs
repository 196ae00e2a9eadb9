//! The Prometheus metrics of PRODUCT.md section 7, on a registry of our own (no globals).
//! Every family is registered at start with a zero series for each known label value, so a
//! scrape before the first probe already shows every name. Every help text names its unit.
//!
//! With `[server] per_server_metrics = true` one more family, `firstwatch_server_up{server,
//! customer,service}`, shows each server (1 while up); it is off by default because its series
//! grow with the fleet. The aggregates are always there.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::config::{Config, Recipient};
use crate::domain::{ProbeKind, ServerState};
use crate::fleet::Fleet;

/// Outcomes of a notification attempt, the `outcome` label of `notifications_total`.
pub const NOTIFICATION_OUTCOMES: [&str; 3] = ["delivered", "retried", "dead_letter"];

pub struct Metrics {
    pub registry: Registry,
    pub probes_total: IntCounterVec,
    pub probe_duration_seconds: HistogramVec,
    pub servers: IntGaugeVec,
    pub cases_open: IntGaugeVec,
    pub cases_opened_total: IntCounterVec,
    pub pages_total: IntCounterVec,
    pub escalations_total: IntCounter,
    pub customer_updates_total: IntCounter,
    pub notifications_total: IntCounterVec,
    pub notification_dead_letters_total: IntCounter,
    pub scheduler_lag_seconds: Histogram,
    pub sla_breaches_total: IntCounterVec,
    pub monitor_degraded: IntGauge,
    /// People whose latest test page was not acknowledged in time.
    pub paging_unverified: IntGauge,
    /// 1 if the last reload of the config (PRODUCT.md section 13) put it in force, else 0.
    pub config_last_reload_successful: IntGauge,
    /// When the config was last put in force (start-up or reload), Unix seconds.
    pub config_last_reload_success_timestamp_seconds: IntGauge,
    /// Shards this instance holds the lease of (PRODUCT.md section 12).
    pub shards_owned: IntGauge,
    /// 1 while this instance holds the `leader` lease.
    pub leader: IntGauge,
    /// Shards claimed after another instance held them.
    pub lease_takeovers_total: IntCounter,
    /// Result rows given up while the database could not keep up, by kind (see
    /// `scheduler::backlog`): never a server's latest status.
    pub results_dropped_total: IntCounterVec,
    /// `server_up`, when `[server] per_server_metrics` is on (set by `observe_fleet`).
    server_up: Option<IntGaugeVec>,
}

/// The `kind` values of `results_dropped_total`.
pub const DROPPED_KINDS: [&str; 3] = ["rollup", "failure", "state_change"];

/// The buckets of `probe_duration_seconds`, in seconds.
pub const PROBE_DURATION_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// The buckets of `scheduler_lag_seconds`, in seconds.
pub const SCHEDULER_LAG_BUCKETS: [f64; 13] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Seconds since the Unix epoch by the system clock (the reload gauges are wall-clock facts).
pub fn unix_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// Registering a well-formed, uniquely named metric on a fresh registry cannot fail; a failure
/// here is a programming error caught by the first test that builds `Metrics`.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    #[allow(clippy::expect_used)]
    let metric = metric.expect("metric definitions are static and valid");
    #[allow(clippy::expect_used)]
    registry.register(Box::new(metric.clone())).expect("metric names are unique");
    metric
}

impl Metrics {
    pub fn new(config: &Config) -> Metrics {
        let registry = Registry::new_custom(Some("firstwatch".to_string()), None).unwrap_or_else(|_| Registry::new());
        let r = &registry;
        let probes_total = registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "probes_total",
                    "Status requests completed (count), by probe kind and result (success, failure).",
                ),
                &["kind", "result"],
            ),
        );
        let probe_duration_seconds = registered(
            r,
            HistogramVec::new(
                HistogramOpts::new("probe_duration_seconds", "How long status requests took (seconds), by probe kind.")
                    .buckets(PROBE_DURATION_BUCKETS.to_vec()),
                &["kind"],
            ),
        );
        let servers = registered(
            r,
            IntGaugeVec::new(Opts::new("servers", "Monitored servers (count) by current state."), &["state"]),
        );
        let cases_open = registered(
            r,
            IntGaugeVec::new(
                Opts::new("cases_open", "Cases not yet resolved (count), by severity (1 most urgent)."),
                &["severity"],
            ),
        );
        let cases_opened_total = registered(
            r,
            IntCounterVec::new(
                Opts::new("cases_opened_total", "Cases opened (count), by severity at opening."),
                &["severity"],
            ),
        );
        let pages_total = registered(
            r,
            IntCounterVec::new(
                Opts::new("pages_total", "Pages sent to on-call people (count), by the role paged."),
                &["role"],
            ),
        );
        let escalations_total = registered(
            r,
            IntCounter::new("escalations_total", "Escalation levels fired because nobody acknowledged (count)."),
        );
        let customer_updates_total = registered(
            r,
            IntCounter::new(
                "customer_updates_total",
                "Periodic status updates sent to customers about open cases (count).",
            ),
        );
        let notifications_total = registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "notifications_total",
                    "Notification delivery attempts (count), by channel and outcome (delivered, retried, dead_letter).",
                ),
                &["channel", "outcome"],
            ),
        );
        let notification_dead_letters_total = registered(
            r,
            IntCounter::new(
                "notification_dead_letters_total",
                "Notifications given up on after the retry budget (count); see /api/v1/dead-letters.",
            ),
        );
        let scheduler_lag_seconds = registered(
            r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "scheduler_lag_seconds",
                    "How late a status request left versus its plan (seconds).",
                )
                .buckets(SCHEDULER_LAG_BUCKETS.to_vec()),
            ),
        );
        let sla_breaches_total = registered(
            r,
            IntCounterVec::new(
                Opts::new("sla_breaches_total", "Response-time targets missed (count), by case severity."),
                &["severity"],
            ),
        );
        let monitor_degraded = registered(
            r,
            IntGauge::new(
                "monitor_degraded",
                "1 while the monitor's own network looks broken and no cases are opened, else 0 (boolean).",
            ),
        );
        let paging_unverified = registered(
            r,
            IntGauge::new(
                "paging_unverified",
                "People whose paging path is unproven: their latest test page was not acknowledged in time (count).",
            ),
        );
        let config_last_reload_successful = registered(
            r,
            IntGauge::new(
                "config_last_reload_successful",
                "1 if the last reload of the config files put them in force, 0 if it was refused (boolean).",
            ),
        );
        config_last_reload_successful.set(1);
        let config_last_reload_success_timestamp_seconds = registered(
            r,
            IntGauge::new(
                "config_last_reload_success_timestamp_seconds",
                "When the config was last put in force, at start-up or by a reload (Unix seconds).",
            ),
        );
        config_last_reload_success_timestamp_seconds.set(unix_now());
        let shards_owned = registered(
            r,
            IntGauge::new(
                "shards_owned",
                "Shards of the fleet (of 256) this instance holds the lease of and probes (count).",
            ),
        );
        let leader = registered(
            r,
            IntGauge::new(
                "leader",
                "1 while this instance holds the leader lease and runs escalations, updates, SLA checks, retention \
                 and the guard, else 0 (boolean).",
            ),
        );
        let lease_takeovers_total = registered(
            r,
            IntCounter::new(
                "lease_takeovers_total",
                "Shard leases this instance took over after another instance held them (count).",
            ),
        );
        let results_dropped_total = registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "results_dropped_total",
                    "Result rows dropped (count) because the database was away longer than the bounded queue holds, \
                     by kind (rollup, failure, state_change); the latest status of every server is always kept.",
                ),
                &["kind"],
            ),
        );
        for kind in DROPPED_KINDS {
            results_dropped_total.with_label_values(&[kind]);
        }

        for kind in ProbeKind::ALL {
            for result in ["success", "failure"] {
                probes_total.with_label_values(&[kind.as_str(), result]);
            }
            probe_duration_seconds.with_label_values(&[kind.as_str()]);
        }
        for state in ServerState::ALL {
            servers.with_label_values(&[state.as_str()]);
        }
        for severity in crate::domain::Severity::ALL {
            let severity = severity.label();
            cases_open.with_label_values(&[severity]);
            cases_opened_total.with_label_values(&[severity]);
            sla_breaches_total.with_label_values(&[severity]);
        }
        let people = config.people.iter().map(|p| p.role.as_str());
        let schedules = config.schedules.iter().map(|s| s.role.as_str());
        let escalation = config.escalation.iter().flat_map(|level| &level.page).filter_map(|r| match r {
            Recipient::Role(role) => Some(role.as_str()),
            Recipient::Person(_) => None,
        });
        for role in people.chain(schedules).chain(escalation) {
            pages_total.with_label_values(&[role]);
        }
        for channel in &config.channels {
            for outcome in NOTIFICATION_OUTCOMES {
                notifications_total.with_label_values(&[channel.id.as_str(), outcome]);
            }
        }

        let server_up = config.server.per_server_metrics.then(|| {
            registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "server_up",
                        "1 while the server's latest status is up, else 0 (boolean), per server; \
                         only with [server] per_server_metrics.",
                    ),
                    &["server", "customer", "service"],
                ),
            )
        });

        Metrics {
            registry,
            probes_total,
            probe_duration_seconds,
            servers,
            cases_open,
            cases_opened_total,
            pages_total,
            escalations_total,
            customer_updates_total,
            notifications_total,
            notification_dead_letters_total,
            scheduler_lag_seconds,
            sla_breaches_total,
            monitor_degraded,
            paging_unverified,
            config_last_reload_successful,
            config_last_reload_success_timestamp_seconds,
            shards_owned,
            leader,
            lease_takeovers_total,
            results_dropped_total,
            server_up,
        }
    }

    /// Take the fleet's figures as they are now: `servers{state}` from its counts and, when
    /// enabled, `server_up` for every server (a server removed by a reload leaves no series).
    /// Called before each exposition, so the gauges never drift from the fleet.
    pub fn observe_fleet(&self, fleet: &Fleet) {
        for state in ServerState::ALL {
            self.servers
                .with_label_values(&[state.as_str()])
                .set(i64::try_from(fleet.counts().get(state)).unwrap_or(i64::MAX));
        }
        if let Some(family) = &self.server_up {
            family.reset();
            for (_, e) in fleet.iter() {
                let up = e.with_status(|s| s.state == ServerState::Up);
                family.with_label_values(&[&*e.id, &*e.customer, &*e.service]).set(i64::from(up));
            }
        }
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
