//! Proving a person's paging path (PRODUCT.md section 14): a `test` event through each of the
//! person's channels, each message with its own single-use ack link like a page's. Sent on
//! request (`firstwatch notify test`, `POST /api/v1/people/{id}/test`) and, with
//! `[notifications] test_on_handover`, to each new pager holder when a rotation or an override
//! hands a role over. A test not acknowledged within `[cases] ack_timeout` is reported once as
//! `paging.unverified` to the feed.
//!
//! Everything is decided from stored state on the leader's sweep, inside its transaction: who
//! held each pager at the last sweep (`oncall_holders`), and which tests are past their
//! deadline unacknowledged and unreported. A lost sweep or a restart only delays a test or a
//! report; the `reported_at` mark makes each report happen once.
//!
//! Not here: acknowledging a test's link (`cases::engine::acknowledge`), delivery (`outbox`).

use std::time::Duration;

use super::oncall;
use crate::clock::{from_unix_ms, rfc3339_ms};
use crate::config::{Config, Override, Person};
use crate::domain::secret::{random_token, sha256_hex};
use crate::outbox::{self, recipients, AckVia, EventKind, Extras, RecipientKind, RecipientRef};
use crate::store::{Store, StoreError, Tx};

crate::named_enum! {
    /// Why a test page was sent (`paging_tests.reason`).
    pub enum TestReason ("test reason") {
        /// `POST /api/v1/people/{id}/test`.
        Api => "api",
        /// `firstwatch notify test`.
        Cli => "cli",
        /// A rotation or override handed the person a pager (`test_on_handover`).
        Handover => "handover",
    }
}

/// What sending a test queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub test_id: i64,
    /// The channels it went through, one message each.
    pub channels: Vec<String>,
    /// When it must be acknowledged by (Unix ms).
    pub deadline: i64,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Test pages sent to new pager holders.
    pub handover_tests: usize,
    /// `paging.unverified` reports queued.
    pub unverified: usize,
}

/// What a test's messages are keyed by: `paging-test#42`.
pub fn cause(test_id: i64) -> String {
    format!("paging-test#{test_id}")
}

/// The test a PagerDuty incident key names (`firstwatch-test-paging-test-42`, as
/// `notify::pagerduty` keys a test's incident).
pub fn of_incident_key(key: &str) -> Option<i64> {
    key.strip_prefix("firstwatch-test-paging-test-")?.parse().ok().filter(|id: &i64| *id > 0)
}

/// Confirm test `test_id` (from PagerDuty: its incident was acknowledged or resolved there);
/// `false` when it was confirmed already or does not exist.
pub async fn confirm(store: &Store, test_id: i64, via: AckVia, now: i64) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let confirmed = tx.verify_paging_test(test_id, now, via.as_str()).await?;
    tx.commit().await?;
    Ok(confirmed)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Queue a `test` page to `person` through each of their channels, in the caller's
/// transaction.
pub async fn send(
    tx: &mut Tx,
    config: &Config,
    person: &Person,
    reason: TestReason,
    now: i64,
) -> Result<Sent, StoreError> {
    let timeout = config.cases.ack_timeout;
    let deadline = now.saturating_add(millis(timeout));
    let test_id = tx.add_paging_test(&person.id, reason.as_str(), now, deadline).await?;
    let cause = cause(test_id);
    let why = match reason {
        TestReason::Handover => "you now hold a pager",
        TestReason::Api | TestReason::Cli => "an operator asked for it",
    };
    let text = format!(
        "Test page for {} ({why}): nothing is down. Acknowledge it to show that pages reach you; \
         if nobody does within {}, your paging path is reported unverified.",
        person.name,
        humantime::format_duration(timeout)
    );
    let recipient = RecipientRef { kind: RecipientKind::Person, id: person.id.clone(), role: person.role.clone() };
    let base = config.server.public_url.trim_end_matches('/');
    for channel in &person.channels {
        let key = outbox::key(EventKind::Test, &cause, &recipient, channel);
        let mut url = None;
        if let Some(token) = random_token() {
            if tx.add_test_token(&sha256_hex(&token), test_id, &person.id, &key, now).await? {
                url = Some(format!("{base}/ack/{token}"));
            }
        }
        let extras = Extras { ack_url: url.as_deref(), acknowledged: None };
        let row = outbox::row_with(EventKind::Test, &cause, &recipient, channel, None, &text, now, extras);
        tx.enqueue(&row).await?;
    }
    tracing::info!(person = %person.id, test = test_id, reason = %reason, "test page queued");
    Ok(Sent { test_id, channels: person.channels.clone(), deadline })
}

/// Confirm `person`'s newest unconfirmed test that went through one of `channels` (a text
/// `ACK` from their phone proves only the twilio channels); `false` when there is none.
pub async fn confirm_latest(
    store: &Store,
    person: &Person,
    channels: &[&str],
    via: AckVia,
    now: i64,
) -> Result<bool, StoreError> {
    let recipient = RecipientRef { kind: RecipientKind::Person, id: person.id.clone(), role: person.role.clone() };
    let mut found = None;
    'tests: for test_id in store.open_paging_tests(&person.id).await? {
        for channel in channels {
            if store.outbox_has(&outbox::key(EventKind::Test, &cause(test_id), &recipient, channel)).await? {
                found = Some(test_id);
                break 'tests;
            }
        }
    }
    let Some(test_id) = found else { return Ok(false) };
    let mut tx = store.begin().await?;
    let confirmed = tx.verify_paging_test(test_id, now, via.as_str()).await?;
    tx.commit().await?;
    if confirmed {
        tracing::info!(person = %person.id, test = test_id, %via, "paging path verified");
    }
    Ok(confirmed)
}

/// The leader's step: note who holds each rotated pager now and, with `test_on_handover`,
/// test whoever took one over since the last sweep; report every test past its deadline
/// unacknowledged, once.
pub async fn sweep(tx: &mut Tx, config: &Config, now: i64) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    let stored = tx.oncall_overrides(now).await?;
    let before = tx.oncall_holders().await?;
    for role in rotated_roles(config, &stored) {
        let Some(holder) = oncall::holders(config, &stored, &role, from_unix_ms(now)).first().copied() else {
            continue;
        };
        let previous = before.iter().find(|(r, _)| *r == role).map(|(_, p)| p.as_str());
        if previous == Some(holder.id.as_str()) {
            continue;
        }
        if !tx.hand_over(&role, previous, &holder.id, now).await? {
            continue;
        }
        // The first sweep only learns who holds it: that is no handover.
        if previous.is_some() && config.notifications.test_on_handover {
            tracing::info!(role, from = previous, to = %holder.id, "pager handed over");
            send(tx, config, holder, TestReason::Handover, now).await?;
            swept.handover_tests += 1;
        }
    }
    for test in tx.overdue_paging_tests(now).await? {
        if !tx.report_paging_test(test.id, now).await? {
            continue;
        }
        let channels = config.people.iter().find(|p| p.id == test.person).map(|p| p.channels.join(", "));
        let text = format!(
            "{}'s paging path is unverified: the test page of {} ({}) through {} was not acknowledged within {}. \
             Check their channels, phone number and e-mail address, then send another test \
             (firstwatch notify test --person {}).",
            test.person,
            rfc3339_ms(test.sent_at),
            test.reason,
            channels.filter(|c| !c.is_empty()).unwrap_or_else(|| "no channel at all".to_string()),
            humantime::format_duration(Duration::from_millis(u64::try_from(test.deadline - test.sent_at).unwrap_or(0))),
            test.person,
        );
        let cause = cause(test.id);
        let notice = outbox::Notice { cause: &cause, text: &text, at: now };
        outbox::enqueue_all(tx, EventKind::PagingUnverified, &notice, None, recipients::feed(config)).await?;
        tracing::warn!(person = %test.person, test = test.id, "paging path unverified");
        swept.unverified += 1;
    }
    Ok(swept)
}

/// The roles whose pager passes from one person to another: those with a schedule or an
/// override. A role without either pages everybody who has it, so it never hands over.
fn rotated_roles(config: &Config, stored: &[Override]) -> Vec<String> {
    let mut roles: Vec<String> =
        config.schedules.iter().map(|s| s.role.clone()).chain(stored.iter().map(|o| o.role.clone())).collect();
    roles.sort_unstable();
    roles.dedup();
    roles
}
