//! Delivery of outbox rows through their channels (PRODUCT.md sections 3 and 10).
//!
//! ```text
//! OutboxRow ──► Notifier::deliver ──► parse body (Message) ──► find the recipient's addresses
//!                                          │
//!        one Sender per [[channels]] entry ◄┘  webhook │ slack │ mattermost │ pagerduty │ email │ twilio
//!                                          │
//!                          Ok(()) │ SendError::Retryable{retry_after} │ SendError::Permanent
//! ```
//!
//! The worker decides what a failure means for the row (retry with backoff, or dead letter);
//! this module only tells it which kind of failure it was. Every attempt is bounded to
//! `[notifications] attempt_timeout`, in every channel (HTTP client, SMTP transport and the
//! attempt as a whole). Secrets (webhook URLs, tokens) never appear in the error texts.

mod chat;
mod email;
mod http;
mod pagerduty;
pub mod registry;
pub(crate) mod render;
mod twilio;
mod webhook;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::config::Config;
use crate::outbox::{EventKind, RecipientKind};
use crate::store::OutboxRow;

pub use pagerduty::{event_action, PagerdutyAction, MONITOR_DEDUP_KEY};

/// Why a delivery attempt failed, deciding what the worker does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Try again later: transport errors, timeouts, 408, 429, 5xx. `retry_after` from a
    /// Retry-After header (seconds or HTTP date) on 429/503.
    Retryable { reason: String, retry_after: Option<Duration> },
    /// The receiver refuses it (other 4xx, no address for the recipient, unknown channel):
    /// dead letter at once.
    Permanent(String),
}

impl SendError {
    pub(crate) fn retry(reason: impl Into<String>) -> SendError {
        SendError::Retryable { reason: reason.into(), retry_after: None }
    }

    pub(crate) fn permanent(reason: impl Into<String>) -> SendError {
        SendError::Permanent(reason.into())
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Retryable { .. })
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Retryable { reason, .. } | SendError::Permanent(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for SendError {}

/// A channel whose configuration cannot be used (found at start, before anything is sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyInitError {
    #[error("channels.{channel}: {reason}")]
    Channel { channel: String, reason: String },
    #[error("HTTP client: {0}")]
    Http(String),
}

/// Delivers outbox rows. Cheap to clone; one per process.
#[derive(Clone)]
pub struct Notifier {
    /// Replaced whole by [`Notifier::refresh`] (a reload); a delivery holds the one it began with.
    inner: Arc<std::sync::RwLock<Arc<Inner>>>,
}

struct Inner {
    senders: HashMap<String, registry::Sender>,
    directory: Directory,
    public_url: String,
    /// `[notifications] attempt_timeout`: the whole attempt, whatever the channel.
    timeout: Duration,
}

impl Inner {
    fn of(config: &Config, public_url: &str) -> Result<Inner, NotifyInitError> {
        let timeout = config.notifications.attempt_timeout;
        let client = http::client(timeout)?;
        let mut senders = HashMap::with_capacity(config.channels.len());
        let ctx = registry::Context { client: &client, timeout };
        for channel in &config.channels {
            senders.insert(channel.id.clone(), channel.settings.build(&channel.id, &ctx)?);
        }
        Ok(Inner {
            senders,
            directory: Directory::of(config),
            public_url: public_url.trim_end_matches('/').to_string(),
            timeout,
        })
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.current();
        let mut channels: Vec<&String> = inner.senders.keys().collect();
        channels.sort();
        f.debug_struct("Notifier").field("channels", &channels).field("public_url", &inner.public_url).finish()
    }
}

impl Notifier {
    /// Build a sender for every `[[channels]]` entry. `public_url` is the base of links to
    /// cases, e.g. `http://127.0.0.1:8080`.
    pub fn new(config: &Config, public_url: &str) -> Result<Notifier, NotifyInitError> {
        let inner = Inner::of(config, public_url)?;
        Ok(Notifier { inner: Arc::new(std::sync::RwLock::new(Arc::new(inner))) })
    }

    /// Take the channels, people and customer contacts of a reloaded `config` (the links'
    /// base stays). Nothing changes if a channel cannot be built.
    pub fn refresh(&self, config: &Config) -> Result<(), NotifyInitError> {
        let next = Inner::of(config, &self.current().public_url)?;
        *self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(next);
        Ok(())
    }

    fn current(&self) -> Arc<Inner> {
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Deliver one outbox row through `row.channel`. Each attempt is bounded to
    /// `[notifications] attempt_timeout`.
    pub async fn deliver(&self, row: &OutboxRow) -> Result<(), SendError> {
        let inner = self.current();
        let sender = inner
            .senders
            .get(&row.channel)
            .ok_or_else(|| SendError::permanent(format!("unknown channel {:?}", row.channel)))?;
        let body: Body = serde_json::from_str(&row.body)
            .map_err(|e| SendError::permanent(format!("message body is not a notification: {e}")))?;
        let event: EventKind = body.event.parse().map_err(SendError::permanent)?;
        let customer = body.case.as_ref().map(|c| c.customer.as_str());
        let to = inner.directory.find(&body.recipient, customer);
        let link = render::link(&inner.public_url, &body, to.status_token.as_deref());
        let delivery = Delivery { raw: &row.body, body: &body, event, to, link };
        match tokio::time::timeout(inner.timeout, sender.send(&delivery)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::retry(format!("timed out after {}", humantime::format_duration(inner.timeout)))),
        }
    }
}

/// Everything a channel needs to send one message.
pub(crate) struct Delivery<'a> {
    /// The stored body, byte for byte (the webhook sends exactly this).
    pub raw: &'a str,
    pub body: &'a Body,
    pub event: EventKind,
    pub to: Address,
    /// Where the reader can follow the case (or the status page, for customers).
    pub link: Option<String>,
}

impl Delivery<'_> {
    /// `person alice`, `customer contact jane@acme.test`, `channel ops`: for error texts.
    pub fn who(&self) -> String {
        let kind = match self.body.recipient.kind {
            RecipientKind::CustomerContact => "customer contact",
            RecipientKind::Person => "person",
            RecipientKind::Channel => "channel",
        };
        format!("{kind} {}", self.body.recipient.id)
    }

    pub fn email(&self) -> Result<&str, SendError> {
        self.to.email.as_deref().ok_or_else(|| SendError::permanent(format!("no e-mail address for {}", self.who())))
    }

    pub fn phone(&self) -> Result<&str, SendError> {
        self.to.phone.as_deref().ok_or_else(|| SendError::permanent(format!("no phone number for {}", self.who())))
    }
}

/// The message body of PRODUCT.md section 3, as read back from the outbox.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Body {
    pub event: String,
    pub idempotency_key: String,
    #[serde(default)]
    pub occurred_at: String,
    pub recipient: BodyRecipient,
    #[serde(default)]
    pub case: Option<BodyCase>,
    #[serde(default)]
    pub text: String,
    /// A page's or escalation's single-use acknowledgement link (PRODUCT.md section 14).
    #[serde(default)]
    pub ack_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BodyRecipient {
    pub kind: RecipientKind,
    pub id: String,
    #[serde(default)]
    pub role: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BodyCase {
    pub id: String,
    pub severity: i64,
    #[serde(default)]
    pub status: String,
    pub customer: String,
    pub service: String,
    pub server: String,
    #[serde(default)]
    pub opened_at: String,
    #[serde(default)]
    pub consecutive_failures: i64,
    #[serde(default)]
    pub last_error: Option<String>,
}

/// Where a recipient can be reached, from their own config entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Address {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The customer's status page token (customer contacts only), for the link in notices.
    pub status_token: Option<String>,
}

/// People and customer contacts by the ids `outbox::recipients` gives them.
struct Directory {
    people: HashMap<String, Address>,
    /// (customer id, contact id) → address.
    contacts: HashMap<(String, String), Address>,
}

impl Directory {
    fn of(config: &Config) -> Directory {
        let people = config
            .people
            .iter()
            .map(|p| {
                let address = Address {
                    name: Some(p.name.clone()),
                    email: p.email.clone(),
                    phone: p.phone.clone(),
                    status_token: None,
                };
                (p.id.clone(), address)
            })
            .collect();
        let mut contacts = HashMap::new();
        for customer in &config.customers {
            for (i, contact) in customer.contacts.iter().enumerate() {
                // The same id rule as `outbox::recipients::customer_contacts`.
                let id = contact
                    .email
                    .clone()
                    .or_else(|| contact.phone.clone())
                    .unwrap_or_else(|| format!("{}-contact-{i}", customer.id));
                let address = Address {
                    name: Some(contact.name.clone()).filter(|n| !n.is_empty()),
                    email: contact.email.clone(),
                    phone: contact.phone.clone(),
                    status_token: customer.status_token.as_ref().map(|t| t.expose().to_string()),
                };
                contacts.entry((customer.id.clone(), id)).or_insert(address);
            }
        }
        Directory { people, contacts }
    }

    /// The recipient's addresses; empty when unknown (a channel, or a person no longer in the
    /// config), so channels that need none still deliver.
    fn find(&self, recipient: &BodyRecipient, customer: Option<&str>) -> Address {
        match recipient.kind {
            RecipientKind::Person => self.people.get(&recipient.id).cloned().unwrap_or_default(),
            RecipientKind::CustomerContact => {
                let found = match customer {
                    Some(c) => self.contacts.get(&(c.to_string(), recipient.id.clone())),
                    // No case to say whose contact it is: the id (an address) is enough.
                    None => self.contacts.iter().find(|((_, id), _)| *id == recipient.id).map(|(_, a)| a),
                };
                found.cloned().unwrap_or_default()
            }
            RecipientKind::Channel => Address::default(),
        }
    }
}
