//! Chat incoming webhooks: Slack (`{"text": …}` in mrkdwn) and Mattermost (`{"text": …,
//! "username": "firstwatch"}` in Markdown). One message shape; a [`Dialect`] says how each
//! writes bold text, links and escapes.

use reqwest::Url;

use super::http::JsonBody;
use super::registry::{Context, Deliver, Keys, Provider};
use super::render::{marker, since, since_label, summary};
use super::{http, Delivery, SendError};
use crate::domain::Secret;

/// How a chat service writes its markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Slack,
    Mattermost,
}

impl Dialect {
    fn bold(self, text: &str) -> String {
        match self {
            Dialect::Slack => format!("*{text}*"),
            Dialect::Mattermost => format!("**{text}**"),
        }
    }

    fn link(self, url: &str, label: &str) -> String {
        match self {
            Dialect::Slack => format!("<{url}|{label}>"),
            Dialect::Mattermost => format!("[{label}]({url})"),
        }
    }

    /// Slack's three control characters in mrkdwn text; Mattermost shows text as written.
    fn escape(self, text: &str) -> String {
        match self {
            Dialect::Slack => text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"),
            Dialect::Mattermost => text.to_string(),
        }
    }
}

/// The keys Slack and Mattermost share: the incoming-webhook `url` (it embeds a token, so it
/// may be `env:NAME`).
#[derive(Debug, Clone)]
pub struct ChatSettings {
    pub url: Url,
    pub secret: Option<Secret>,
    pub api_base: Option<Url>,
}

impl ChatSettings {
    const REQUIRED: &'static [&'static str] = &["url"];
    const OPTIONAL: &'static [&'static str] = &["secret", "api_base"];

    fn parse(keys: &mut Keys<'_>) -> Option<ChatSettings> {
        let url = keys.secret_url("url");
        let secret = keys.secret("secret");
        let api_base = keys.url("api_base");
        Some(ChatSettings { url: url?, secret, api_base })
    }

    fn sender(&self, dialect: Dialect, ctx: &Context<'_>) -> Chat {
        Chat { dialect, url: http::rebase(&self.url, self.api_base.as_ref()), client: ctx.client.clone() }
    }
}

/// `type = "slack"`.
#[derive(Debug, Clone)]
pub struct Slack(pub ChatSettings);

impl Provider for Slack {
    const TYPE: &'static str = "slack";
    const REQUIRED: &'static [&'static str] = ChatSettings::REQUIRED;
    const OPTIONAL: &'static [&'static str] = ChatSettings::OPTIONAL;
    type Sender = Chat;

    fn parse(keys: &mut Keys<'_>) -> Option<Slack> {
        ChatSettings::parse(keys).map(Slack)
    }

    fn sender(&self, ctx: &Context<'_>) -> Result<Chat, String> {
        Ok(self.0.sender(Dialect::Slack, ctx))
    }
}

/// `type = "mattermost"`.
#[derive(Debug, Clone)]
pub struct Mattermost(pub ChatSettings);

impl Provider for Mattermost {
    const TYPE: &'static str = "mattermost";
    const REQUIRED: &'static [&'static str] = ChatSettings::REQUIRED;
    const OPTIONAL: &'static [&'static str] = ChatSettings::OPTIONAL;
    type Sender = Chat;

    fn parse(keys: &mut Keys<'_>) -> Option<Mattermost> {
        ChatSettings::parse(keys).map(Mattermost)
    }

    fn sender(&self, ctx: &Context<'_>) -> Result<Chat, String> {
        Ok(self.0.sender(Dialect::Mattermost, ctx))
    }
}

pub(crate) struct Chat {
    dialect: Dialect,
    url: Url,
    client: reqwest::Client,
}

impl Deliver for Chat {
    async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
        let text = text(self.dialect, d);
        let payload = match self.dialect {
            Dialect::Slack => serde_json::json!({ "text": text }),
            Dialect::Mattermost => serde_json::json!({ "text": text, "username": "firstwatch" }),
        };
        http::send(self.client.post(self.url.clone()).json_body(&payload)).await
    }
}

/// The message: marker and headline, the case facts, the text, the link.
pub(crate) fn text(dialect: Dialect, d: &Delivery<'_>) -> String {
    let (body, esc) = (d.body, |t: &str| dialect.escape(t));
    let mut lines = Vec::new();
    match &body.case {
        Some(c) => {
            lines.push(format!("{} {} {}", marker(d.event), dialect.bold(&c.id), esc(&summary(d.event, Some(c)))));
            let mut facts = format!(
                "Server {} · {} {}",
                dialect.bold(&esc(&c.server)),
                since_label(d.event).to_lowercase(),
                esc(&since(body, c))
            );
            if c.consecutive_failures > 0 {
                facts.push_str(&format!(" · {} failed checks in a row", c.consecutive_failures));
            }
            lines.push(facts);
            if let Some(error) = c.last_error.as_deref().filter(|e| !e.is_empty()) {
                lines.push(format!("Last error: `{}`", esc(&error.replace('`', "'"))));
            }
        }
        None => lines.push(format!("{} {}", marker(d.event), dialect.bold(&esc(&summary(d.event, None))))),
    }
    if !body.text.trim().is_empty() {
        lines.push(format!("> {}", esc(body.text.trim()).replace('\n', "\n> ")));
    }
    if let Some(link) = &d.link {
        let label = body.case.as_ref().map_or_else(|| "Status page".to_string(), |c| format!("Open {}", c.id));
        lines.push(dialect.link(link, &label));
    }
    if let Some(ack) = &body.ack_url {
        lines.push(dialect.link(ack, "Acknowledge (stops the escalation)"));
    }
    lines.join("\n")
}
