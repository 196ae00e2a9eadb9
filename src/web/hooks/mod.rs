//! Inbound webhooks from paging vendors (PRODUCT.md section 14): the request's signature is
//! its credential, checked here against the channel's secret before anything is read from
//! the body. Each vendor's file maps its event onto a case action through the case engine.
//!
//! Not here: what an acknowledgement does (`cases::engine::acknowledge`).

pub mod pagerduty;
pub mod twilio;
