//! `firstwatch notify test --person ID`: queue a test page to one person through each of
//! their channels (PRODUCT.md section 14). The running instance's outbox worker delivers it,
//! with retries like any message; not acknowledged within `ack_timeout`, it is reported as
//! `paging.unverified`. Not here: what a test sends (`crate::escalation::paging_test`).

use std::path::Path;

use super::output;
use super::CliError;
use crate::clock::{rfc3339_ms, Clock, SystemClock};
use crate::escalation::paging_test::{self, TestReason};

pub async fn test(config: &Path, person: &str) -> Result<(), CliError> {
    let config = super::service::load(config)?;
    let Some(who) = config.people.iter().find(|p| p.id == person) else {
        let known: Vec<&str> = config.people.iter().map(|p| p.id.as_str()).collect();
        return Err(CliError::Invalid(format!("--person {person:?}: no such person (people: {})", known.join(", "))));
    };
    if who.channels.is_empty() {
        return Err(CliError::Invalid(format!("person {person:?} has no channels: nothing could reach them")));
    }
    let store = output::connect(&config).await?;
    let mut tx = store.begin().await?;
    let sent = paging_test::send(&mut tx, &config, who, TestReason::Cli, SystemClock.now_ms()).await?;
    tx.commit().await?;
    sayln!(
        "Test page {} queued to {} through {} ({} message{}); acknowledge it by {}.",
        sent.test_id,
        who.id,
        sent.channels.join(", "),
        sent.channels.len(),
        if sent.channels.len() == 1 { "" } else { "s" },
        rfc3339_ms(sent.deadline)
    );
    sayln!("A running firstwatch delivers it; not acknowledged by then, it is reported as paging.unverified.");
    Ok(())
}
