//! Acknowledging a case, however it comes (API, case page, CLI, an ack link; later a text, a
//! key press or PagerDuty): the status moves on, the timeline says who and how, and
//! `case.acknowledged` goes to everyone already paged or escalated to for the case and to the
//! feed (PRODUCT.md section 14). An ack link's token is claimed in the same transaction, so a
//! link acknowledges once however often it is posted. A test page's link (its token names a
//! `paging_tests` row) proves the person's paging path instead.

use super::{CaseEngine, CaseError};
use crate::cases::state::Action;
use crate::domain::{CaseNumber, TimelineKind};
use crate::outbox::{self, recipients, AckVia, Acknowledged, Notice, RecipientKind, RecipientRef};
use crate::store::{CaseRow, Tx};

/// What posting an ack link did.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkAck {
    /// The case is acknowledged now, by the paged person.
    Acknowledged(CaseRow),
    /// The token was good, but the case was acknowledged already or is no longer active (the
    /// token is used up all the same).
    Already(CaseRow),
    /// No such token.
    Unknown,
    /// The token was used before.
    Used,
    /// A test page's token: the person's paging path is proven now.
    Verified { person: String },
}

impl CaseEngine {
    /// Move `case` to acknowledged by `actor` and queue `case.acknowledged`; the caller
    /// commits.
    pub(super) async fn acknowledge_in(
        &self,
        tx: &mut Tx,
        case: &mut CaseRow,
        actor: &str,
        via: AckVia,
        now: i64,
    ) -> Result<(), CaseError> {
        case.status = case.status.apply(Action::Acknowledge)?;
        case.acknowledged_at = Some(now);
        case.acknowledged_by = Some(actor.to_string());
        let text = format!("{actor} acknowledged the case ({via}) and is working on it.");
        let event_id = tx.add_event(case.id, now, TimelineKind::Acknowledged, actor, &text).await?;
        let cause = format!("{}#{event_id}", CaseNumber(case.id));
        let config = self.config();
        let people = tx
            .paged_for_case(case.id)
            .await?
            .into_iter()
            .map(|(id, channel)| {
                let role = config.people.iter().find(|p| p.id == id).map(|p| p.role.clone()).unwrap_or_default();
                (RecipientRef { kind: RecipientKind::Person, id, role }, channel)
            })
            .collect();
        let is_pagerduty = |channel: &str| {
            config.channels.iter().any(|c| c.id == channel && c.kind() == crate::config::ChannelKind::Pagerduty)
        };
        let acknowledged = Acknowledged { by: actor.to_string(), via };
        let notice = Notice { cause: &cause, text: &text, at: now };
        outbox::enqueue_acknowledged(
            tx,
            &notice,
            case,
            people,
            recipients::feed(&config),
            &acknowledged,
            &is_pagerduty,
        )
        .await?;
        Ok(())
    }

    /// Post an ack link (or press 1 on a voice page, `via` voice): claim the token (by its
    /// hash) and acknowledge its case as the person it was sent to.
    pub async fn acknowledge_by_link(&self, token_hash: &str, via: AckVia) -> Result<LinkAck, CaseError> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        let Some(token) = tx.claim_ack_token(token_hash, now).await? else {
            drop(tx);
            return Ok(match self.store.ack_token(token_hash).await? {
                Some(_) => LinkAck::Used,
                None => LinkAck::Unknown,
            });
        };
        if let Some(test_id) = token.test_id {
            tx.verify_paging_test(test_id, now, via.as_str()).await?;
            self.commit(tx).await?;
            tracing::info!(person = %token.person, test = test_id, %via, "paging path verified");
            return Ok(LinkAck::Verified { person: token.person });
        }
        let mut case = tx.case(token.case_id).await?.ok_or(CaseError::NotFound(CaseNumber(token.case_id)))?;
        if case.status.apply(Action::Acknowledge).is_err() {
            // Taken already, or over: the link is spent, nothing else changes.
            self.commit(tx).await?;
            return Ok(LinkAck::Already(case));
        }
        self.acknowledge_in(&mut tx, &mut case, &token.person, via, now).await?;
        case.updated_at = now;
        tx.update_case(&case).await?;
        self.commit(tx).await?;
        Ok(LinkAck::Acknowledged(case))
    }
}
