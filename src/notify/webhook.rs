//! Generic webhook: the stored message body, byte for byte, signed with HMAC-SHA256 when the
//! channel has a `secret` (PRODUCT.md section 10, "Webhook signature").

use reqwest::header::CONTENT_TYPE;
use reqwest::Url;
use ring::hmac;

use super::{http, Delivery, NotifyInitError, SendError};
use crate::config::Channel;

pub(crate) struct Webhook {
    url: Url,
    key: Option<hmac::Key>,
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(channel: &Channel, client: reqwest::Client) -> Result<Webhook, NotifyInitError> {
        let url = channel.url.as_ref().ok_or_else(|| NotifyInitError::channel(channel, "missing url"))?;
        Ok(Webhook {
            url: http::rebase(url, channel.api_base.as_ref()),
            key: channel.secret.as_ref().map(|s| hmac::Key::new(hmac::HMAC_SHA256, s.expose().as_bytes())),
            client,
        })
    }

    pub async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
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
