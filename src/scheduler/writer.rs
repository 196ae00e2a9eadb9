//! Write-behind persistence: the scheduler hands over one [`Batch`] per window and never waits
//! for the database; this task writes each batch in one transaction. A failed write keeps the
//! batch and folds later ones into it, so nothing is dropped while the database is away, and
//! the `seq` guard in the store keeps a retried status from moving a count backwards.
//! Once an hour it also prunes history older than the retention.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::store::{Batch, Store};

const RETRY_AFTER: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Persist batches until the sender side closes, then write what is left and return.
pub async fn run(store: Store, mut rx: mpsc::Receiver<Batch>, clock: std::sync::Arc<dyn Clock>, retention: Duration) {
    let mut pending = Batch::default();
    let mut failing = false;
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = rx.recv() => match received {
                Some(batch) => pending.merge(batch),
                None => break,
            },
            _ = tokio::time::sleep(RETRY_AFTER), if failing => {}
            _ = prune.tick() => {
                let before = clock.now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
                match store.prune_history(before).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "pruned history past retention"),
                    Err(error) => tracing::warn!(%error, "cannot prune history"),
                }
                continue;
            }
        }
        // Drain whatever else is queued so one transaction carries it all.
        while let Ok(batch) = rx.try_recv() {
            pending.merge(batch);
        }
        failing = !write(&store, &mut pending, failing).await;
    }
    while let Ok(batch) = rx.try_recv() {
        pending.merge(batch);
    }
    if !write(&store, &mut pending, failing).await {
        tracing::error!(statuses = pending.statuses.len(), "results not persisted at shutdown");
    }
}

/// Try to persist `pending`; on success it is emptied. Returns whether the write landed.
async fn write(store: &Store, pending: &mut Batch, was_failing: bool) -> bool {
    if pending.is_empty() {
        return true;
    }
    match store.save_batch(pending).await {
        Ok(()) => {
            if was_failing {
                tracing::info!("database writes work again");
            }
            *pending = Batch::default();
            true
        }
        Err(error) => {
            if !was_failing {
                tracing::error!(%error, "cannot persist probe results; keeping them and retrying");
            }
            false
        }
    }
}
