//! Twilio: an SMS for every event, except `customer.call`, which rings the contact and reads
//! the message out (TwiML `<Say>`).

use reqwest::Url;

use super::http;
use super::render::{sms_text, spoken_text, twiml_say};
use super::{Delivery, NotifyInitError, SendError};
use crate::config::{Channel, Secret};
use crate::outbox::EventKind;

const DEFAULT_API: &str = "https://api.twilio.com";

pub(crate) struct Twilio {
    messages: Url,
    calls: Url,
    account_sid: String,
    auth_token: Secret,
    from: String,
    client: reqwest::Client,
}

impl Twilio {
    pub fn new(channel: &Channel, client: reqwest::Client) -> Result<Twilio, NotifyInitError> {
        let missing = |key: &str| NotifyInitError::channel(channel, format!("missing {key}"));
        let account_sid = channel.account_sid.clone().ok_or_else(|| missing("account_sid"))?;
        let auth_token = channel.auth_token.clone().ok_or_else(|| missing("auth_token"))?;
        let from = channel.from.clone().ok_or_else(|| missing("from"))?;
        if account_sid.is_empty() || !account_sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(NotifyInitError::channel(channel, "account_sid: letters and digits only"));
        }
        let endpoint = |what: &str| {
            let path = format!("/2010-04-01/Accounts/{account_sid}/{what}.json");
            http::endpoint(channel.api_base.as_ref(), DEFAULT_API, &path)
                .map_err(|e| NotifyInitError::channel(channel, e))
        };
        Ok(Twilio { messages: endpoint("Messages")?, calls: endpoint("Calls")?, account_sid, auth_token, from, client })
    }

    pub async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
        let to = d.phone()?;
        // `customer.call` is the one event that is a call; every other one is a text.
        let (url, form) = if d.event == EventKind::CustomerCall {
            let twiml = twiml_say(&spoken_text(d.body, d.event));
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
