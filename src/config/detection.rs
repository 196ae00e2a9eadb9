//! The detection arithmetic, stated for people (issue: what none of the monitors shows): from
//! a server's effective probe settings and the escalation policy, how long after the first
//! failed status request an outage is confirmed, when the first page goes out, and when the
//! next level is paged if nobody acknowledges. `check-config` prints it per group of settings
//! and the operations page per service.
//!
//! The rule (PRODUCT.md sections 1 and 10): after the first failure the server is asked again every
//! `retry_interval` until `failure_threshold` failures in a row, each request allowed up to
//! `timeout`; so the outage is confirmed within `(threshold - 1) × retry_interval + timeout`
//! of the first failed request, and the first failed request comes up to one `interval` after
//! the outage began. The case engine opens the case on its next turn (at most a second) and
//! the first `[[escalation]]` level pages at its `after`.

use std::fmt;
use std::time::Duration;

use humantime::format_duration;

use super::{EscalationLevel, ProbeSettings, Recipient};

/// How often the case engine turns: the most a confirmed outage waits for its case.
pub const ENGINE_TURN: Duration = Duration::from_secs(1);

/// The arithmetic for one set of settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub threshold: u32,
    pub retry_interval: Duration,
    pub timeout: Duration,
    /// The most an outage waits for its first failed request: one `interval`.
    pub interval: Duration,
    /// From the first failed request to the outage confirmed.
    pub confirmed: Duration,
    /// From the first failed request to the first page, and who it goes to; `None` without
    /// an escalation policy.
    pub paged: Option<(Duration, String)>,
    /// How much later the next level is paged if nobody acknowledges, and who.
    pub next: Option<(Duration, String)>,
}

fn who(level: &EscalationLevel) -> String {
    let names: Vec<String> = level
        .page
        .iter()
        .map(|r| match r {
            Recipient::Role(role) => format!("role:{role}"),
            Recipient::Person(id) => format!("person:{id}"),
        })
        .collect();
    names.join(" and ")
}

impl Detection {
    pub fn of(probe: &ProbeSettings, escalation: &[EscalationLevel]) -> Detection {
        let retries = probe.failure_threshold.saturating_sub(1);
        let confirmed = probe.retry_interval.saturating_mul(retries).saturating_add(probe.timeout);
        let first = escalation.first();
        let paged = first.map(|level| (confirmed.saturating_add(ENGINE_TURN).saturating_add(level.after), who(level)));
        let next =
            first.zip(escalation.get(1)).map(|(first, second)| (second.after.saturating_sub(first.after), who(second)));
        Detection {
            threshold: probe.failure_threshold,
            retry_interval: probe.retry_interval,
            timeout: probe.timeout,
            interval: probe.interval,
            confirmed,
            paged,
            next,
        }
    }

    /// The slowest of several servers' settings (a whole service down is confirmed when its
    /// last server is).
    pub fn slowest<'a>(
        probes: impl Iterator<Item = &'a ProbeSettings>,
        escalation: &[EscalationLevel],
    ) -> Option<Detection> {
        probes.map(|p| Detection::of(p, escalation)).max_by_key(|d| (d.confirmed, d.interval))
    }
}

impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |x: Duration| format_duration(x).to_string();
        write!(
            f,
            "an outage is confirmed within {} of the first failed request ({} requests {} apart, each allowed {})",
            d(self.confirmed),
            self.threshold,
            d(self.retry_interval),
            d(self.timeout)
        )?;
        match &self.paged {
            Some((at, whom)) => write!(f, " and pages {whom} within about {}", d(*at))?,
            None => write!(f, "; nobody is paged (no [[escalation]] levels)")?,
        }
        if let Some((later, whom)) = &self.next {
            write!(f, "; {whom} is paged {} later if nobody acknowledges", d(*later))?;
        }
        write!(f, ". The first failed request comes up to {} after the outage starts.", d(self.interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExpectStatus;

    fn probe(interval: u64, retry: u64, threshold: u32, timeout: u64) -> ProbeSettings {
        ProbeSettings {
            interval: Duration::from_secs(interval),
            retry_interval: Duration::from_secs(retry),
            failure_threshold: threshold,
            recovery_threshold: 2,
            timeout: Duration::from_secs(timeout),
            expect_status: ExpectStatus::AnySuccess,
        }
    }

    fn policy() -> Vec<EscalationLevel> {
        vec![
            EscalationLevel {
                after: Duration::ZERO,
                page: vec![Recipient::Role("operations-manager".into())],
                call_customer: false,
            },
            EscalationLevel {
                after: Duration::from_secs(7200),
                page: vec![Recipient::Role("vp-operations".into())],
                call_customer: true,
            },
        ]
    }

    #[test]
    fn the_seed_defaults_confirm_in_about_nine_to_ten_minutes_and_the_vp_is_paged_two_hours_later() {
        let d = Detection::of(&probe(900, 60, 10, 10), &policy());
        assert_eq!(d.confirmed, Duration::from_secs(9 * 60 + 10), "9 retries a minute apart, then one timeout");
        assert_eq!(d.paged, Some((Duration::from_secs(9 * 60 + 11), "role:operations-manager".to_string())));
        assert_eq!(d.next, Some((Duration::from_secs(7200), "role:vp-operations".to_string())));
        assert_eq!(
            d.to_string(),
            "an outage is confirmed within 9m 10s of the first failed request (10 requests 1m apart, each allowed 10s) \
             and pages role:operations-manager within about 9m 11s; role:vp-operations is paged 2h later if nobody \
             acknowledges. The first failed request comes up to 15m after the outage starts."
        );
    }

    #[test]
    fn the_literal_reading_with_retries_at_the_interval_takes_over_two_hours() {
        let d = Detection::of(&probe(900, 900, 10, 10), &policy());
        assert_eq!(
            d.confirmed,
            Duration::from_secs(135 * 60 + 10),
            "135 min after the first failure, 150 from the start"
        );
        assert_eq!(d.confirmed + d.interval, Duration::from_secs(150 * 60 + 10));
    }

    #[test]
    fn without_a_policy_nobody_is_paged_and_the_slowest_server_decides() {
        let d = Detection::of(&probe(60, 10, 3, 5), &[]);
        assert_eq!((d.paged.clone(), d.next.clone()), (None, None));
        assert!(d.to_string().contains("nobody is paged"), "{d}");
        let (fast, slow) = (probe(60, 10, 3, 5), probe(60, 30, 3, 5));
        let slowest = Detection::slowest([&fast, &slow].into_iter(), &[]).expect("two servers");
        assert_eq!(slowest.confirmed, Duration::from_secs(65));
    }
}
