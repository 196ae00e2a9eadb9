//! What the demo saw, counted for the summary it ends with: state changes, cases opened and
//! recovered, and what each receiver got (pages, escalations, customer updates, feed
//! messages, calls, text messages).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::domain::TimelineKind;

#[derive(Debug, Default)]
struct Counts {
    state_changes: usize,
    thresholds: usize,
    cases: BTreeSet<i64>,
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
            "\nsummary after {seconds:.0}s: {} state changes, {} outages confirmed, {} cases opened, {} recovered, {} escalations\n",
            c.state_changes,
            c.thresholds,
            c.cases.len(),
            c.recoveries,
            c.escalations
        );
        for (receiver, events) in &c.received {
            let what: Vec<String> = events.iter().map(|(event, n)| format!("{n} {event}")).collect();
            out.push_str(&format!("  {receiver:<8} got {}\n", what.join(", ")));
        }
        out.push_str(&format!("  phone    got {} calls and {} text messages\n", c.calls, c.texts));
        out
    }
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
        tally.received("/pager", "page");
        tally.received("/pager", "page");
        tally.received("/mail", "customer.update");
        tally.call();
        let summary = tally.summary(45.0);
        assert!(
            summary.contains("2 state changes, 1 outages confirmed, 1 cases opened, 1 recovered, 1 escalations"),
            "{summary}"
        );
        assert!(summary.contains("/pager   got 2 page"), "{summary}");
        assert!(summary.contains("/mail    got 1 customer.update"), "{summary}");
        assert!(summary.contains("1 calls and 0 text messages"), "{summary}");
    }
}
