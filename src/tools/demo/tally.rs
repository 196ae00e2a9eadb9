//! What the demo saw, counted for the summary it ends with: state changes, cases (and how often
//! they were opened or reopened), recoveries, and what each receiver got (pages, escalations,
//! customer updates, feed messages, calls, text messages).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::domain::TimelineKind;

#[derive(Debug, Default)]
struct Counts {
    state_changes: usize,
    thresholds: usize,
    cases: BTreeSet<i64>,
    /// Openings and reopenings: a demo server that flaps reopens its case.
    openings: usize,
    recoveries: usize,
    escalations: usize,
    /// receiver (path) → event → messages.
    received: BTreeMap<String, BTreeMap<String, usize>>,
    calls: usize,
    texts: usize,
}

/// Shared between the demo's loop and its receiver.
#[derive(Debug, Clone, Default)]
pub struct Tally(Arc<Mutex<Counts>>);

impl Tally {
    fn with(&self, f: impl FnOnce(&mut Counts)) {
        f(&mut self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    }

    /// A status event: whether the state changed, and whether it confirmed an outage.
    pub fn status(&self, changed: bool, threshold_reached: bool) {
        self.with(|c| {
            c.state_changes += usize::from(changed);
            c.thresholds += usize::from(threshold_reached);
        });
    }

    pub fn case_event(&self, case: i64, kind: TimelineKind) {
        self.with(|c| match kind {
            TimelineKind::Opened | TimelineKind::Reopened => {
                c.cases.insert(case);
                c.openings += 1;
            }
            TimelineKind::Recovered => c.recoveries += 1,
            TimelineKind::Escalation => c.escalations += 1,
            _ => {}
        });
    }

    pub fn received(&self, receiver: &str, event: &str) {
        self.with(|c| *c.received.entry(receiver.to_string()).or_default().entry(event.to_string()).or_default() += 1);
    }

    pub fn call(&self) {
        self.with(|c| c.calls += 1);
    }

    pub fn text(&self) {
        self.with(|c| c.texts += 1);
    }

    /// The closing summary, a few lines.
    pub fn summary(&self, seconds: f64) -> String {
        let c = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = format!(
            "\nsummary after {seconds:.0}s: {}, {}, {} (opened or reopened {}), {}, {}\n",
            count(c.state_changes, "state change", "state changes"),
            count(c.thresholds, "outage confirmed", "outages confirmed"),
            count(c.cases.len(), "case", "cases"),
            count(c.openings, "time", "times"),
            count(c.recoveries, "recovery", "recoveries"),
            count(c.escalations, "escalation", "escalations"),
        );
        for (receiver, events) in &c.received {
            let what: Vec<String> = events.iter().map(|(event, n)| format!("{n} {event}")).collect();
            out.push_str(&format!("  {receiver:<8} got {}\n", what.join(", ")));
        }
        out.push_str(&format!(
            "  phone    got {} and {}\n",
            count(c.calls, "call", "calls"),
            count(c.texts, "text message", "text messages")
        ));
        out
    }
}

/// `1 case`, `2 cases`: the count with the word that fits it.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_what_happened() {
        let tally = Tally::default();
        tally.status(true, false);
        tally.status(true, true);
        tally.status(false, false);
        tally.case_event(1, TimelineKind::Opened);
        tally.case_event(1, TimelineKind::Escalation);
        tally.case_event(1, TimelineKind::Recovered);
        tally.case_event(1, TimelineKind::Reopened);
        tally.case_event(1, TimelineKind::Recovered);
        tally.received("/pager", "page");
        tally.received("/pager", "page");
        tally.received("/mail", "customer.update");
        tally.call();
        let summary = tally.summary(45.0);
        assert!(
            summary.contains(
                "2 state changes, 1 outage confirmed, 1 case (opened or reopened 2 times), 2 recoveries, 1 escalation"
            ),
            "{summary}"
        );
        assert!(summary.contains("/pager   got 2 page"), "{summary}");
        assert!(summary.contains("/mail    got 1 customer.update"), "{summary}");
        assert!(summary.contains("1 call and 0 text messages"), "{summary}");
    }
}
