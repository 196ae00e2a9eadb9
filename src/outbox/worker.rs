//! Delivers the outbox: claims due messages (leased, so a crashed worker's claim expires and
//! the message is taken again), sends each through its channel with a bounded attempt, and
//! records the outcome: delivered, retry later, or dead letter. Many recipients are served at
//! once; a slow or dead channel only ever holds its own messages.
//!
//! The retry policy is [`RetryPolicy::next_delay`], the one place it lives: exponential from
//! about 1 s with jitter (the `backoff` crate; flagged unmaintained, RUSTSEC-2025-0012, kept
//! behind this one function so it is easy to swap), capped at `max_retry_delay`, a receiver's
//! `Retry-After` obeyed, and a dead letter once `give_up_after` has passed since the message
//! was queued.

use crate::domain::TimelineKind;
use std::sync::Arc;
use std::time::Duration;

use backoff::backoff::Backoff;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::NotificationsConfig;
use crate::metrics::Metrics;
use crate::notify::{Notifier, SendError};
use crate::store::{AttemptOutcome, OutboxRow, Store, StoreError};

/// How often the worker looks for due messages when nobody wakes it.
const POLL: Duration = Duration::from_millis(250);
/// A claim that takes longer than this is abandoned (the database is stuck); the next poll
/// tries again.
const CLAIM_TIMEOUT: Duration = Duration::from_secs(10);
/// First retry after about this long.
const FIRST_RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retry_delay: Duration,
    pub give_up_after: Duration,
}

impl RetryPolicy {
    /// The wait before the next attempt, after `attempts` failed ones (1 = the first failed).
    pub fn next_delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(told) = retry_after {
            // `Retry-After: 0` or a date in the past must not turn into a tight resend loop.
            return told.max(FIRST_RETRY);
        }
        let doubled = FIRST_RETRY.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(30)));
        let mut backoff = backoff::ExponentialBackoff {
            current_interval: doubled.min(self.max_retry_delay),
            initial_interval: FIRST_RETRY,
            randomization_factor: 0.2,
            multiplier: 2.0,
            max_interval: self.max_retry_delay,
            max_elapsed_time: None,
            ..backoff::ExponentialBackoff::default()
        };
        backoff.next_backoff().unwrap_or(self.max_retry_delay).min(self.max_retry_delay)
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retrying { in_ms: i64, error: String },
    DeadLetter { error: String },
}

#[derive(Clone)]
pub struct Worker {
    store: Store,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    /// Each attempt is cut off after this long; a claim lasts twice as long.
    attempt_timeout: Duration,
    max_in_flight: usize,
    ready: Arc<Notify>,
}

impl Worker {
    pub fn new(
        store: Store,
        notifier: Notifier,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
        config: &NotificationsConfig,
        ready: Arc<Notify>,
    ) -> Worker {
        Worker {
            store,
            notifier,
            metrics,
            clock,
            policy: RetryPolicy { max_retry_delay: config.max_retry_delay, give_up_after: config.give_up_after },
            attempt_timeout: config.attempt_timeout,
            max_in_flight: 64,
            ready,
        }
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.attempt_timeout.as_millis() * 2).unwrap_or(i64::MAX)
    }

    /// One step: claim what is due now and deliver it all, waiting for every attempt.
    /// Returns each message's outcome. Tests drive delivery with this.
    pub async fn try_deliver_next(&self) -> Result<Vec<(i64, Outcome)>, StoreError> {
        let now = self.clock.now_ms();
        let rows = self.store.claim_outbox(now, self.max_in_flight as i64, now + self.lease_ms()).await?;
        let mut done = Vec::with_capacity(rows.len());
        let outcomes = futures_util::future::join_all(rows.iter().map(|row| self.deliver(row))).await;
        for (row, outcome) in rows.iter().zip(outcomes) {
            done.push((row.id, outcome?));
        }
        Ok(done)
    }

    /// Deliver until `shutdown`, keeping up to `max_in_flight` attempts going at once.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut failing = false;
        loop {
            let room = self.max_in_flight.saturating_sub(in_flight.len());
            let mut claimed = 0;
            if room > 0 {
                let now = self.clock.now_ms();
                let claim = self.store.claim_outbox(now, room as i64, now + self.lease_ms());
                match tokio::time::timeout(CLAIM_TIMEOUT, claim).await {
                    Ok(Ok(rows)) => {
                        if std::mem::take(&mut failing) {
                            tracing::info!("outbox claims work again");
                        }
                        claimed = rows.len();
                        for row in rows {
                            let worker = self.clone();
                            in_flight.spawn(async move {
                                if let Err(error) = worker.deliver(&row).await {
                                    tracing::error!(%error, id = row.id, "cannot record a delivery attempt; the lease will expire and it is retried");
                                }
                            });
                        }
                    }
                    Ok(Err(error)) if !failing => {
                        failing = true;
                        tracing::error!(%error, "cannot claim outbox messages; retrying every poll");
                    }
                    Err(_) if !failing => {
                        failing = true;
                        tracing::error!("claiming outbox messages timed out; retrying every poll");
                    }
                    Ok(Err(_)) | Err(_) => {}
                }
            }
            if claimed > 0 && in_flight.len() < self.max_in_flight {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = self.ready.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        // Attempts in flight are abandoned; their leases expire and they are sent again.
        in_flight.abort_all();
    }

    /// One attempt at one message, and its outcome recorded.
    async fn deliver(&self, row: &OutboxRow) -> Result<Outcome, StoreError> {
        let result = match tokio::time::timeout(self.attempt_timeout, self.notifier.deliver(row)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Retryable {
                reason: format!("no answer within {}", humantime::format_duration(self.attempt_timeout)),
                retry_after: None,
            }),
        };
        let now = self.clock.now_ms();
        let counter =
            |outcome: &str| self.metrics.notifications_total.with_label_values(&[row.channel.as_str(), outcome]).inc();
        let outcome = match result {
            Ok(()) => {
                let text = format!(
                    "{} delivered to {} {} via {}",
                    row.event, row.recipient_kind, row.recipient_id, row.channel
                );
                self.store
                    .record_attempt(row, AttemptOutcome::Delivered, now, Some((TimelineKind::Delivered, &text)))
                    .await?;
                counter("delivered");
                Outcome::Delivered
            }
            Err(SendError::Retryable { reason, retry_after }) => {
                let attempts = u32::try_from(row.attempts + 1).unwrap_or(u32::MAX);
                let delay =
                    i64::try_from(self.policy.next_delay(attempts, retry_after).as_millis()).unwrap_or(i64::MAX);
                let give_up_at =
                    row.created_at + i64::try_from(self.policy.give_up_after.as_millis()).unwrap_or(i64::MAX);
                if now.saturating_add(delay) > give_up_at {
                    self.dead_letter(row, &format!("gave up after {attempts} attempts: {reason}"), now).await?
                } else {
                    self.store
                        .record_attempt(row, AttemptOutcome::Retry { at: now + delay, error: &reason }, now, None)
                        .await?;
                    counter("retried");
                    Outcome::Retrying { in_ms: delay, error: reason }
                }
            }
            Err(SendError::Permanent(reason)) => self.dead_letter(row, &format!("refused: {reason}"), now).await?,
        };
        Ok(outcome)
    }

    async fn dead_letter(&self, row: &OutboxRow, error: &str, now: i64) -> Result<Outcome, StoreError> {
        let text = format!(
            "{} to {} {} via {} is a dead letter: {error}",
            row.event, row.recipient_kind, row.recipient_id, row.channel
        );
        self.store
            .record_attempt(row, AttemptOutcome::Dead { error }, now, Some((TimelineKind::DeadLetter, &text)))
            .await?;
        self.metrics.notifications_total.with_label_values(&[row.channel.as_str(), "dead_letter"]).inc();
        self.metrics.notification_dead_letters_total.inc();
        tracing::error!(id = row.id, event = %row.event, channel = %row.channel, %error, "notification dead-lettered");
        Ok(Outcome::DeadLetter { error: error.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_about_a_second_up_to_the_cap() {
        let policy =
            RetryPolicy { max_retry_delay: Duration::from_secs(300), give_up_after: Duration::from_secs(86_400) };
        let first = policy.next_delay(1, None);
        assert!((800..=1200).contains(&first.as_millis()), "{first:?}");
        let third = policy.next_delay(3, None);
        assert!((3200..=4800).contains(&third.as_millis()), "{third:?}");
        let capped = policy.next_delay(40, None);
        assert!((240..=300).contains(&capped.as_secs()), "jittered below the cap: {capped:?}");
        assert_eq!(policy.next_delay(2, Some(Duration::from_secs(7))), Duration::from_secs(7), "Retry-After wins");
        assert_eq!(policy.next_delay(1, Some(Duration::ZERO)), FIRST_RETRY, "Retry-After: 0 is no tight loop");
    }
}
