//! Mattermost incoming webhook: `{"text": …, "username": "firstwatch"}` in Markdown.

use reqwest::Url;

use super::http::JsonBody;
use super::render::{marker, since, since_label, summary};
use super::{http, Delivery, NotifyInitError, SendError};
use crate::config::Channel;

pub(crate) struct Mattermost {
    url: Url,
    client: reqwest::Client,
}

impl Mattermost {
    pub fn new(channel: &Channel, client: reqwest::Client) -> Result<Mattermost, NotifyInitError> {
        let url = channel.url.as_ref().ok_or_else(|| NotifyInitError::channel(channel, "missing url"))?;
        Ok(Mattermost { url: http::rebase(url, channel.api_base.as_ref()), client })
    }

    pub async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
        let payload = serde_json::json!({ "text": text(d), "username": "firstwatch" });
        http::send(self.client.post(self.url.clone()).json_body(&payload)).await
    }
}

/// The message in Mattermost Markdown: marker and headline, the case facts, the text, the link.
pub(crate) fn text(d: &Delivery<'_>) -> String {
    let body = d.body;
    let mut lines = Vec::new();
    match &body.case {
        Some(c) => {
            lines.push(format!("{} **{}** {}", marker(d.event), c.id, summary(d.event, Some(c))));
            let mut facts =
                format!("Server **{}** · {} {}", c.server, since_label(d.event).to_lowercase(), since(body, c));
            if c.consecutive_failures > 0 {
                facts.push_str(&format!(" · {} failed checks in a row", c.consecutive_failures));
            }
            lines.push(facts);
            if let Some(error) = c.last_error.as_deref().filter(|e| !e.is_empty()) {
                lines.push(format!("Last error: `{}`", error.replace('`', "'")));
            }
        }
        None => lines.push(format!("{} **{}**", marker(d.event), summary(d.event, None))),
    }
    if !body.text.trim().is_empty() {
        lines.push(format!("> {}", body.text.trim().replace('\n', "\n> ")));
    }
    if let Some(link) = &d.link {
        let label = body.case.as_ref().map_or_else(|| "Status page".to_string(), |c| format!("Open {}", c.id));
        lines.push(format!("[{label}]({link})"));
    }
    lines.join("\n")
}
