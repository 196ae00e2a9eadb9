//! Generic webhook: the stored message body, byte for byte, signed with HMAC-SHA256 when the
//! channel has a `secret` (PRODUCT.md section 10, "Webhook signature").

use reqwest::header::CONTENT_TYPE;
use reqwest::Url;
use ring::hmac;

use super::registry::{Context, Deliver, Keys, Provider};
use super::{http, Delivery, SendError};
use crate::domain::Secret;

/// `type = "webhook"`.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: Url,
    /// HMAC-SHA256 key for `X-Firstwatch-Signature`.
    pub secret: Option<Secret>,
    pub api_base: Option<Url>,
}

impl Provider for Webhook {
    const TYPE: &'static str = "webhook";
    const REQUIRED: &'static [&'static str] = &["url"];
    const OPTIONAL: &'static [&'static str] = &["secret", "api_base"];
    type Sender = WebhookSender;

    fn parse(keys: &mut Keys<'_>) -> Option<Webhook> {
        let url = keys.secret_url("url");
        let secret = keys.secret("secret");
        let api_base = keys.url("api_base");
        Some(Webhook { url: url?, secret, api_base })
    }

    fn sender(&self, ctx: &Context<'_>) -> Result<WebhookSender, String> {
        Ok(WebhookSender {
            url: http::rebase(&self.url, self.api_base.as_ref()),
            key: self.secret.as_ref().map(|s| hmac::Key::new(hmac::HMAC_SHA256, s.expose().as_bytes())),
            client: ctx.client.clone(),
        })
    }
}

pub(crate) struct WebhookSender {
    url: Url,
    key: Option<hmac::Key>,
    client: reqwest::Client,
}

impl Deliver for WebhookSender {
    async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("X-Firstwatch-Idempotency-Key", &d.body.idempotency_key)
            .header("X-Firstwatch-Event", &d.body.event);
        if let Some(key) = &self.key {
            request = request.header("X-Firstwatch-Signature", signature(key, d.raw.as_bytes()));
        }
        http::send(request.body(d.raw.to_string())).await
    }
}

/// `sha256=<lowercase hex of HMAC-SHA256(key, body)>`.
pub(crate) fn signature(key: &hmac::Key, body: &[u8]) -> String {
    let tag = hmac::sign(key, body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_rfc_4231_test_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        assert_eq!(
            signature(&key, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
