//! Write-behind persistence: takes whatever the scheduler queued in the [`Backlog`] and writes
//! it in one transaction; the scheduler never waits for this task. A failed or timed-out write
//! goes back into the backlog (which stays bounded, see there) and is retried with backoff
//! from 250 ms doubling to 30 s with jitter, never in a tight loop; the `seq` guard in the
//! store keeps a retried status from moving a count backwards. Once an hour the leader's writer
//! also prunes history older than the retention.

use std::sync::Arc;
use std::time::Duration;

use backoff::backoff::Backoff;
use tokio_util::sync::CancellationToken;

use super::backlog::Backlog;
use crate::clock::Clock;
use crate::cluster::Ownership;
use crate::store::Store;

const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// One write may take this long at most; then it counts as failed.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The last write at shutdown gets this long.
const FINAL_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

fn retry_backoff() -> backoff::ExponentialBackoff {
    backoff::ExponentialBackoff {
        current_interval: Duration::from_millis(250),
        initial_interval: Duration::from_millis(250),
        randomization_factor: 0.2,
        multiplier: 2.0,
        max_interval: Duration::from_secs(30),
        max_elapsed_time: None,
        ..backoff::ExponentialBackoff::default()
    }
}

/// Persist what the scheduler queues until `stop` (cancel it once the scheduler has made its
/// last push), then make one last bounded attempt and return.
pub async fn run(
    store: Store,
    backlog: Arc<Backlog>,
    clock: Arc<dyn Clock>,
    retention: Duration,
    ownership: Arc<Ownership>,
    stop: CancellationToken,
) {
    let mut retry = retry_backoff();
    let mut failing = false;
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            () = backlog.ready.notified() => {}
            _ = prune.tick() => {
                if !ownership.is_leader() {
                    // Retention is singleton work: the leader prunes for every instance.
                    continue;
                }
                let before = clock.now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
                match tokio::time::timeout(WRITE_TIMEOUT, store.prune_history(before)).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(removed)) => tracing::info!(removed, "pruned history past retention"),
                    Ok(Err(error)) => tracing::warn!(%error, "cannot prune history"),
                    Err(_) => tracing::warn!("pruning history timed out"),
                }
                continue;
            }
        }
        if write(&store, &backlog, WRITE_TIMEOUT, &mut failing).await {
            retry.reset();
        } else {
            let wait = retry.next_backoff().unwrap_or(Duration::from_secs(30));
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
            // Whatever was pushed meanwhile goes with the retry.
            backlog.ready.notify_one();
        }
    }
    if !write(&store, &backlog, FINAL_WRITE_TIMEOUT, &mut failing).await {
        let (statuses, rows) = backlog.len();
        tracing::error!(statuses, rows, "results not persisted at shutdown");
    }
}

/// Write everything queued; on failure it goes back. Returns whether the write landed.
async fn write(store: &Store, backlog: &Backlog, timeout: Duration, failing: &mut bool) -> bool {
    report_drops(backlog);
    let batch = backlog.take();
    if batch.is_empty() {
        return true;
    }
    let error = match tokio::time::timeout(timeout, store.save_batch(&batch)).await {
        Ok(Ok(())) => {
            if std::mem::take(failing) {
                tracing::info!("database writes work again; queued results written");
            }
            return true;
        }
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {}", humantime::format_duration(timeout)),
    };
    if !std::mem::replace(failing, true) {
        tracing::error!(%error, "cannot persist probe results; queueing them in memory and retrying");
    }
    backlog.put_back(batch);
    false
}

fn report_drops(backlog: &Backlog) {
    let d = backlog.dropped_since_last_report();
    if d != super::backlog::Dropped::default() {
        tracing::warn!(
            rollups = d.rollups,
            failures = d.failures,
            state_changes = d.changes,
            "the database is away too long: oldest queued result rows dropped (latest statuses kept)"
        );
    }
}
