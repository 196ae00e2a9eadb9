//! Slack incoming webhook: `{"text": …}` in Slack's mrkdwn.

use reqwest::Url;

use super::http::JsonBody;
use super::render::{marker, since, since_label, summary};
use super::{http, Delivery, NotifyInitError, SendError};
use crate::config::Channel;

pub(crate) struct Slack {
    url: Url,
    client: reqwest::Client,
}

impl Slack {
    pub fn new(channel: &Channel, client: reqwest::Client) -> Result<Slack, NotifyInitError> {
        let url = channel.url.as_ref().ok_or_else(|| NotifyInitError::channel(channel, "missing url"))?;
        Ok(Slack { url: http::rebase(url, channel.api_base.as_ref()), client })
    }

    pub async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
        let payload = serde_json::json!({ "text": text(d) });
        http::send(self.client.post(self.url.clone()).json_body(&payload)).await
    }
}

/// The message as Slack shows it: marker and headline, the case facts, the text, the link.
pub(crate) fn text(d: &Delivery<'_>) -> String {
    let body = d.body;
    let mut lines = Vec::new();
    match &body.case {
        Some(c) => {
            lines.push(format!("{} *{}* {}", marker(d.event), c.id, escape(&summary(d.event, Some(c)))));
            let mut facts = format!(
                "Server *{}* · {} {}",
                escape(&c.server),
                since_label(d.event).to_lowercase(),
                escape(&since(body, c))
            );
            if c.consecutive_failures > 0 {
                facts.push_str(&format!(" · {} failed checks in a row", c.consecutive_failures));
            }
            lines.push(facts);
            if let Some(error) = c.last_error.as_deref().filter(|e| !e.is_empty()) {
                lines.push(format!("Last error: `{}`", escape(&error.replace('`', "'"))));
            }
        }
        None => lines.push(format!("{} *{}*", marker(d.event), escape(&summary(d.event, None)))),
    }
    if !body.text.trim().is_empty() {
        lines.push(format!("> {}", escape(body.text.trim()).replace('\n', "\n> ")));
    }
    if let Some(link) = &d.link {
        let label = body.case.as_ref().map_or_else(|| "Status page".to_string(), |c| format!("Open {}", c.id));
        lines.push(format!("<{link}|{label}>"));
    }
    lines.join("\n")
}

/// Slack's three control characters in mrkdwn text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
