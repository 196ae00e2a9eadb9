//! Who receives what (the table in PRODUCT.md section 3), as (recipient, channel) pairs: one
//! outbox row each. Pure reads of the configuration and the on-call schedules.

use std::time::SystemTime;

use super::{RecipientKind, RecipientRef};
use crate::config::{Config, Customer, Override, Recipient};
use crate::escalation::oncall;

/// A contact's recipient id: its e-mail, else its phone, else its place in the list.
pub fn contact_id(customer: &Customer, index: usize) -> String {
    let contact = customer.contacts.get(index);
    contact
        .and_then(|c| c.email.clone().or_else(|| c.phone.clone()))
        .unwrap_or_else(|| format!("{}-contact-{index}", customer.id))
}

fn contact_ref(customer: &Customer, index: usize) -> RecipientRef {
    RecipientRef { kind: RecipientKind::CustomerContact, id: contact_id(customer, index), role: "customer".to_string() }
}

/// Every contact of the customer, through each of the contact's channels.
pub fn customer_contacts(customer: &Customer) -> Vec<(RecipientRef, String)> {
    customer
        .contacts
        .iter()
        .enumerate()
        .flat_map(|(i, contact)| {
            contact.channels.iter().map(move |channel| (contact_ref(customer, i), channel.clone()))
        })
        .collect()
}

/// Every contact with a phone, through each of the contact's channels that can call.
pub fn voice_contacts(config: &Config, customer: &Customer) -> Vec<(RecipientRef, String)> {
    let voice = |id: &str| config.channels.iter().any(|c| c.id == id && c.kind().can_call());
    customer
        .contacts
        .iter()
        .enumerate()
        .filter(|(_, contact)| contact.phone.is_some())
        .flat_map(|(i, contact)| {
            contact.channels.iter().filter(|c| voice(c)).map(move |channel| (contact_ref(customer, i), channel.clone()))
        })
        .collect()
}

/// The channels of `[cases] feed`.
pub fn feed(config: &Config) -> Vec<(RecipientRef, String)> {
    config
        .cases
        .feed
        .iter()
        .map(|channel| {
            (
                RecipientRef { kind: RecipientKind::Channel, id: channel.clone(), role: "feed".to_string() },
                channel.clone(),
            )
        })
        .collect()
}

/// The current holders of `recipients` (an escalation level's `page` list), through each of
/// their channels, with the stored on-call overrides `stored`. A person named twice is paged
/// once.
pub fn pager_holders(
    config: &Config,
    stored: &[Override],
    recipients: &[Recipient],
    at: SystemTime,
) -> Vec<(RecipientRef, String)> {
    let mut out: Vec<(RecipientRef, String)> = Vec::new();
    for recipient in recipients {
        for person in oncall::resolve(config, stored, recipient, at) {
            for channel in &person.channels {
                let r = RecipientRef { kind: RecipientKind::Person, id: person.id.clone(), role: person.role.clone() };
                if !out.iter().any(|(o, c)| o.id == r.id && c == channel) {
                    out.push((r, channel.clone()));
                }
            }
        }
    }
    out
}

/// The on-call Operations Manager, for messages about the monitor itself.
pub fn operations_manager(config: &Config, stored: &[Override], at: SystemTime) -> Vec<(RecipientRef, String)> {
    let role = Recipient::Role(crate::config::defaults::OPERATIONS_MANAGER_ROLE.to_string());
    pager_holders(config, stored, &[role], at)
}
