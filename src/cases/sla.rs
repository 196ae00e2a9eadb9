//! Response-time targets: by when a case must have its first response (acknowledgement).
//!
//! PRODUCT.md section 2: Severity 1 runs on a 24x7 clock, Severity 2 and 3 on the business
//! hours of the configured calendar. The defaults (1h, 2h, 8h) are the reaction times of
//! seed 003 ("severity 1-3: 1, 2, 8 business hours"), with Severity 1 made around-the-clock
//! because after-hours support exists only for it (seeds 000 and 001 likewise run their
//! highest priority 24x7 and the rest on business days).
//!
//! Everything here is pure: the case engine asks [`response_due`] when a case is opened or
//! its severity changes, and compares the answer with its [`crate::clock::Clock`].

use crate::domain::Severity;
use std::time::{Duration, SystemTime};

use crate::calendar::BusinessCalendar;
use crate::config::defaults;

/// First-response targets per severity and the calendar that Severity 2 and 3 count on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseTargets {
    /// Counted around the clock.
    pub severity_1: Duration,
    /// Counted in business hours of `calendar`.
    pub severity_2: Duration,
    /// Counted in business hours of `calendar`.
    pub severity_3: Duration,
    pub calendar: BusinessCalendar,
}

impl ResponseTargets {
    /// The target for `severity`.
    /// above as 3) so that an unexpected value still gets a deadline instead of none.
    pub fn target(&self, severity: Severity) -> Duration {
        match severity {
            Severity::One => self.severity_1,
            Severity::Two => self.severity_2,
            Severity::Three => self.severity_3,
        }
    }

    /// The clock `severity` is measured on: 24x7 for Severity 1, business hours otherwise.
    pub fn calendar_for(&self, severity: Severity) -> BusinessCalendar {
        if severity == Severity::One {
            BusinessCalendar::always()
        } else {
            self.calendar.clone()
        }
    }
}

/// The defaults of `config::defaults`: 1h (24x7) / 2h / 8h on Monday to Friday 09:00–17:00 UTC.
impl Default for ResponseTargets {
    fn default() -> Self {
        let calendar = BusinessCalendar::new(
            jiff::tz::TimeZone::UTC,
            defaults::BUSINESS_DAYS,
            defaults::BUSINESS_START,
            defaults::BUSINESS_END,
            Vec::new(),
        )
        // The defaults are a valid calendar (tested); never reached.
        .unwrap_or_else(|_| BusinessCalendar::always());
        ResponseTargets {
            severity_1: defaults::RESPONSE_SEVERITY_1,
            severity_2: defaults::RESPONSE_SEVERITY_2,
            severity_3: defaults::RESPONSE_SEVERITY_3,
            calendar,
        }
    }
}

/// When the first response to a case of `severity` opened at `opened_at` is due.
pub fn response_due(targets: &ResponseTargets, severity: Severity, opened_at: SystemTime) -> SystemTime {
    let target = targets.target(severity);
    if severity == Severity::One {
        BusinessCalendar::always().add_business_time(opened_at, target)
    } else {
        targets.calendar.add_business_time(opened_at, target)
    }
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;
    use jiff::Timestamp;

    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        let ts: Timestamp = rfc3339.parse().expect("test times are valid");
        SystemTime::from(ts)
    }

    fn hours(h: u64) -> Duration {
        Duration::from_secs(h * 3600)
    }

    fn berlin_targets() -> ResponseTargets {
        let tz = TimeZone::get("Europe/Berlin").expect("known zone");
        let weekdays = [true, true, true, true, true, false, false];
        let holidays = vec!["2026-12-25".parse().expect("valid date")];
        let calendar = BusinessCalendar::new(tz, weekdays, 9 * 60, 17 * 60, holidays).expect("valid calendar");
        ResponseTargets { severity_1: hours(1), severity_2: hours(2), severity_3: hours(8), calendar }
    }

    #[test]
    fn severity_1_runs_around_the_clock() {
        let t = berlin_targets();
        // Saturday night: Severity 1 is still due an hour later.
        assert_eq!(response_due(&t, Severity::One, at("2026-03-07T23:30:00Z")), at("2026-03-08T00:30:00Z"));
        // On a holiday too.
        assert_eq!(response_due(&t, Severity::One, at("2026-12-25T12:00:00Z")), at("2026-12-25T13:00:00Z"));
    }

    #[test]
    fn severity_2_and_3_count_business_hours() {
        let t = berlin_targets();
        // Friday 16:00 Berlin (15:00Z): 1h left on Friday, 1h on Monday.
        assert_eq!(response_due(&t, Severity::Two, at("2026-03-06T15:00:00Z")), at("2026-03-09T09:00:00Z"));
        // Tuesday 13:00 Berlin: 4h on Tuesday, 4h on Wednesday.
        assert_eq!(response_due(&t, Severity::Three, at("2026-03-10T12:00:00Z")), at("2026-03-11T12:00:00Z"));
        // Inside business hours, 2h is plain addition.
        assert_eq!(response_due(&t, Severity::Two, at("2026-03-10T08:00:00Z")), at("2026-03-10T10:00:00Z"));
        // Opened on Christmas (a Friday holiday): counting starts Monday 09:00.
        assert_eq!(response_due(&t, Severity::Two, at("2026-12-25T08:00:00Z")), at("2026-12-28T10:00:00Z"));
    }

    #[test]
    fn each_severity_has_its_target_and_only_severity_1_runs_around_the_clock() {
        let t = berlin_targets();
        assert_eq!(t.target(Severity::One), hours(1));
        assert_eq!(t.target(Severity::Three), hours(8));
        assert!(t.calendar_for(Severity::One).is_24x7() && !t.calendar_for(Severity::Two).is_24x7());
    }

    #[test]
    fn defaults_are_weekdays_nine_to_five_utc() {
        let t = ResponseTargets::default();
        assert_eq!((t.severity_1, t.severity_2, t.severity_3), (hours(1), hours(2), hours(8)));
        assert!(!t.calendar.is_24x7(), "the default calendar is valid, not the fallback");
        assert_eq!(t.calendar.time_zone(), &TimeZone::UTC);
        assert_eq!((t.calendar.start_minutes(), t.calendar.end_minutes()), (540, 1020));
        assert_eq!(response_due(&t, Severity::Three, at("2026-03-06T16:00:00Z")), at("2026-03-09T16:00:00Z"));
    }
}
