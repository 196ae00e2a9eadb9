//! E-mail over SMTP (lettre, tokio, rustls on ring). `smtp://host:port` sends in the clear
//! unless the server offers STARTTLS, which is then used (`?tls=required` insists on it,
//! `?tls=none` never tries); `smtps://` is TLS from the first byte. User and password may be
//! given in the URL.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reqwest::Url;

use super::registry::{Context, Deliver, Keys, Provider};
use super::render::{email_body, email_subject};
use super::{Delivery, SendError};
use crate::domain::Secret;

/// `type = "email"`.
#[derive(Debug, Clone)]
pub struct Email {
    /// `smtp://` or `smtps://`, possibly with user and password.
    pub smtp_url: Secret,
    /// The sender address.
    pub from: String,
}

impl Provider for Email {
    const TYPE: &'static str = "email";
    const REQUIRED: &'static [&'static str] = &["smtp_url", "from"];
    const OPTIONAL: &'static [&'static str] = &[];
    type Sender = EmailSender;

    fn parse(keys: &mut Keys<'_>) -> Option<Email> {
        let smtp_url = keys.secret("smtp_url");
        if let Some(url) = &smtp_url {
            if let Err(msg) = smtp_scheme(url.expose()) {
                keys.error("smtp_url", msg);
            }
        }
        let from = keys.email("from");
        Some(Email { smtp_url: smtp_url?, from: from? })
    }

    fn sender(&self, ctx: &Context<'_>) -> Result<EmailSender, String> {
        let transport = transport(self.smtp_url.expose(), ctx.timeout)?;
        let from: Mailbox = self.from.parse().map_err(|e| format!("from: not an e-mail address: {e}"))?;
        Ok(EmailSender { transport, from })
    }
}

/// `smtp://` (STARTTLS) or `smtps://` (TLS) with a host. The value may hold a password, so
/// the message names only the scheme, never the URL.
fn smtp_scheme(value: &str) -> Result<(), String> {
    match Url::parse(value) {
        Ok(url) if !matches!(url.scheme(), "smtp" | "smtps") => {
            Err(format!("unsupported scheme {:?} (use smtp:// or smtps://)", url.scheme()))
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => Err("missing host".to_string()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("not a URL: {e}")),
    }
}

pub(crate) struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Deliver for EmailSender {
    async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
        let message = self.message(d)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // 5xx: the server will not take it, now or later.
            Err(e) if e.is_permanent() => Err(SendError::permanent(format!("SMTP {e}"))),
            // 4xx, connection, TLS, timeout: the server may take it later.
            Err(e) => Err(SendError::retry(format!("SMTP {e}"))),
        }
    }
}

impl EmailSender {
    fn message(&self, d: &Delivery<'_>) -> Result<lettre::Message, SendError> {
        let address = d.email()?;
        let address =
            address.parse().map_err(|e| SendError::permanent(format!("bad e-mail address for {}: {e}", d.who())))?;
        let to = Mailbox::new(d.to.name.clone(), address);
        let domain = self.from.email.domain().to_string();
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email_subject(d.event, d.body.case.as_ref()))
            .message_id(Some(format!("<{}@{domain}>", id_part(&d.body.idempotency_key))))
            .header(ContentType::TEXT_PLAIN);
        if let Some(case) = &d.body.case {
            // Every message about one case names the same thread, so mail clients group them.
            builder = builder.references(format!("<{}@{domain}>", id_part(&case.id)));
        }
        let text = email_body(d.body, d.event, d.to.name.as_deref(), d.link.as_deref());
        builder.body(text).map_err(|e| SendError::permanent(format!("cannot build the e-mail: {e}")))
    }
}

/// The SMTP transport for `smtp_url`. Errors never repeat the URL (it may hold a password).
fn transport(smtp_url: &str, timeout: std::time::Duration) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut url = Url::parse(smtp_url).map_err(|e| format!("smtp_url: not a URL: {e}"))?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("smtp_url: missing host")?.to_string();
    let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
    let opportunistic = match (url.scheme(), tls.as_deref()) {
        ("smtp", None) => true,
        ("smtp", Some("none")) => {
            url.set_query(None);
            false
        }
        ("smtp", Some("required" | "opportunistic")) | ("smtps", None) => false,
        (_, Some(other)) => {
            return Err(format!("smtp_url: unknown tls={other:?} (use required, opportunistic or none)"))
        }
        (scheme, None) => return Err(format!("smtp_url: unsupported scheme {scheme:?} (use smtp:// or smtps://)")),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
        .map_err(|e| format!("smtp_url: {e}"))?
        .timeout(Some(timeout));
    if opportunistic {
        let params = TlsParameters::new(host).map_err(|e| format!("smtp_url: TLS set-up: {e}"))?;
        builder = builder.tls(Tls::Opportunistic(params));
    }
    Ok(builder.build())
}

/// The characters of `key` that may stand in a Message-ID, others turned into `.`.
fn id_part(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '.' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: std::time::Duration = std::time::Duration::from_secs(10);

    #[test]
    fn smtp_urls_choose_the_transport_security() {
        assert!(transport("smtp://127.0.0.1:2525", T).is_ok());
        assert!(transport("smtp://127.0.0.1:2525?tls=none", T).is_ok());
        assert!(transport("smtp://user:pw@mail.example.test?tls=required", T).is_ok());
        assert!(transport("smtps://mail.example.test", T).is_ok());
        let err = transport("smtp://user:hunter2@mail.example.test?tls=maybe", T).err().unwrap_or_default();
        assert!(err.contains("tls=\"maybe\"") && !err.contains("hunter2"), "{err}");
        assert!(transport("http://mail.example.test", T).is_err());
    }

    #[test]
    fn message_ids_hold_only_safe_characters() {
        assert_eq!(id_part("evt-7:page:person:alice:ops"), "evt-7.page.person.alice.ops");
    }
}
