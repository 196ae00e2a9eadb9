//! Twilio: an SMS for every event, except `customer.call`, which rings the contact and reads
//! the message out (TwiML `<Say>`). A channel with `voice_pages = true` rings for `page`,
//! `escalation` and `test` as well: the call reads the page and says "press 1 to acknowledge", and the
//! key press comes back to `POST /hooks/twilio/voice` with the message's ack token
//! (`web::hooks::twilio`).

use reqwest::Url;

use super::http;
use super::registry::{Context, Deliver, Keys, Provider};
use super::render::{sms_text, spoken_page, spoken_text, twiml_gather, twiml_say, voice_ack_action};
use super::{Delivery, SendError};
use crate::domain::Secret;
use crate::outbox::EventKind;

const DEFAULT_API: &str = "https://api.twilio.com";

/// `type = "twilio"`: texts, and calls for `customer.call`.
#[derive(Debug, Clone)]
pub struct Twilio {
    pub account_sid: String,
    pub auth_token: Secret,
    /// The sender number (E.164).
    pub from: String,
    pub api_base: Option<Url>,
    /// `voice_pages`: pages and escalations through this channel are calls, not texts.
    pub voice_pages: bool,
}

impl Provider for Twilio {
    const TYPE: &'static str = "twilio";
    const REQUIRED: &'static [&'static str] = &["account_sid", "auth_token", "from"];
    const OPTIONAL: &'static [&'static str] = &["api_base", "voice_pages"];
    const CAN_CALL: bool = true;
    type Sender = TwilioSender;

    fn parse(keys: &mut Keys<'_>) -> Option<Twilio> {
        let account_sid = keys.non_empty("account_sid");
        let auth_token = keys.secret("auth_token");
        let from = keys.phone("from");
        let api_base = keys.url("api_base");
        let voice_pages = keys.flag("voice_pages").unwrap_or(false);
        Some(Twilio { account_sid: account_sid?, auth_token: auth_token?, from: from?, api_base, voice_pages })
    }

    fn sender(&self, ctx: &Context<'_>) -> Result<TwilioSender, String> {
        let sid = &self.account_sid;
        if !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("account_sid: letters and digits only".to_string());
        }
        let endpoint = |what: &str| {
            http::endpoint(self.api_base.as_ref(), DEFAULT_API, &format!("/2010-04-01/Accounts/{sid}/{what}.json"))
        };
        Ok(TwilioSender {
            messages: endpoint("Messages")?,
            calls: endpoint("Calls")?,
            account_sid: sid.clone(),
            auth_token: self.auth_token.clone(),
            from: self.from.clone(),
            voice_pages: self.voice_pages,
            client: ctx.client.clone(),
        })
    }
}

pub(crate) struct TwilioSender {
    messages: Url,
    calls: Url,
    account_sid: String,
    auth_token: Secret,
    from: String,
    voice_pages: bool,
    client: reqwest::Client,
}

impl Deliver for TwilioSender {
    async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
        let to = d.phone()?;
        let paged = matches!(d.event, EventKind::Page | EventKind::Escalation | EventKind::Test);
        let (url, form) = if d.event.is_call() || (paged && self.voice_pages) {
            let twiml = match d.body.ack_url.as_deref().and_then(voice_ack_action) {
                Some(action) if paged => {
                    let no_key = if d.event == EventKind::Test {
                        "No key was pressed: the test is not confirmed yet. Use the link in your other messages. Goodbye."
                    } else {
                        "No key was pressed. The case is not acknowledged; the escalation goes on. Goodbye."
                    };
                    twiml_gather(&spoken_page(d.body), &action, no_key)
                }
                _ => twiml_say(&spoken_text(d.body, d.event)),
            };
            (&self.calls, [("To", to), ("From", self.from.as_str()), ("Twiml", twiml.as_str())].map(own))
        } else {
            let text = sms_text(d.body, d.event, d.link.as_deref());
            (&self.messages, [("To", to), ("From", self.from.as_str()), ("Body", text.as_str())].map(own))
        };
        let request =
            self.client.post(url.clone()).basic_auth(&self.account_sid, Some(self.auth_token.expose())).form(&form);
        http::send(request).await
    }
}

fn own((k, v): (&'static str, &str)) -> (&'static str, String) {
    (k, v.to_string())
}
