//! `POST /hooks/twilio/sms`: a text back from a paged person (PRODUCT.md section 14). The
//! request must carry `X-Twilio-Signature`, Twilio's HMAC-SHA1 (base64) under the `auth_token`
//! of the twilio channel whose `account_sid` is the request's `AccountSid` (or of the only
//! twilio channel) over `public_url` + path + query followed by every form field, sorted by
//! name, as name then value; wrong or missing → 403 and nothing changes. `ACK` acknowledges the
//! sender's most recently paged active case, `ACK FW-000042` that case, as the person whose
//! `phone` sent it; an unknown number changes nothing. Every answer is TwiML saying what
//! happened.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::cases::{CaseError, OperatorAction};
use crate::config::Config;
use crate::domain::CaseNumber;
use crate::notify::registry::ChannelSettings;
use crate::notify::render::xml_escape;
use crate::outbox::AckVia;
use crate::web::{ApiError, AppState};

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// Twilio's signature of a form POST to `url` with `fields`, under `auth_token`.
pub fn signature(auth_token: &str, url: &str, fields: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = fields.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, data.as_bytes()).as_ref())
}

/// The auth token to check a request of `account_sid` with.
fn auth_token<'c>(config: &'c Config, account_sid: Option<&str>) -> Option<&'c str> {
    let twilio: Vec<_> = config
        .channels
        .iter()
        .filter_map(|c| match &c.settings {
            ChannelSettings::Twilio(t) => Some(t),
            _ => None,
        })
        .collect();
    let chosen = match account_sid {
        Some(sid) if twilio.iter().any(|t| t.account_sid == sid) => twilio.into_iter().find(|t| t.account_sid == sid),
        _ if twilio.len() == 1 => twilio.into_iter().next(),
        _ => None,
    };
    chosen.map(|t| t.auth_token.expose())
}

fn twiml(text: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
        xml_escape(text)
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

pub async fn sms(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let config = state.config();
    let fields: Vec<(String, String)> =
        form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let given = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let url = format!(
        "{}{}",
        config.server.public_url.trim_end_matches('/'),
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    let signed = auth_token(&config, field("AccountSid")).is_some_and(|token| {
        crate::config::constant_time_eq(signature(token, &url, &fields).as_bytes(), given.as_bytes())
    });
    if !signed {
        return Err(ApiError::Forbidden);
    }
    let from = field("From").unwrap_or("").trim();
    let Some(person) = config.people.iter().find(|p| p.phone.as_deref().is_some_and(|phone| phone == from)) else {
        return Ok(twiml("This number is not on firstwatch's pager; nothing was changed."));
    };
    let text = field("Body").unwrap_or("").trim();
    let usage = "Reply ACK to acknowledge your latest page, or ACK FW-000042 for that case.";
    let Some(rest) = text.get(..3).filter(|w| w.eq_ignore_ascii_case("ack")).map(|_| text[3..].trim()) else {
        return Ok(twiml(usage));
    };
    let number = if rest.is_empty() {
        match state.store.latest_paged_case(&person.id).await? {
            Some(id) => CaseNumber(id),
            None => return Ok(twiml("No active case was paged to you; nothing was changed.")),
        }
    } else {
        match rest.parse::<CaseNumber>() {
            Ok(number) => number,
            Err(_) => return Ok(twiml(usage)),
        }
    };
    Ok(match state.engine.act(number, &person.id, OperatorAction::Acknowledge(AckVia::Sms)).await {
        Ok(_) => {
            twiml(&format!("{number} acknowledged by {}. The escalation stops; everyone paged is told.", person.id))
        }
        Err(CaseError::NotFound(_)) => twiml(&format!("There is no case {number}; nothing was changed.")),
        Err(CaseError::Illegal(_)) => {
            let case = state.store.case(number.0).await?;
            match case.and_then(|c| c.acknowledged_by) {
                Some(by) => twiml(&format!("{number} was acknowledged already, by {by}; nothing was changed.")),
                None => twiml(&format!("{number} can no longer be acknowledged; nothing was changed.")),
            }
        }
        Err(CaseError::Invalid(msg)) => twiml(&msg),
        Err(CaseError::Store(e)) => return Err(e.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's own documented example (its request-validation snippet: token 12345).
    #[test]
    fn the_signature_matches_twilios_documented_example() {
        let fields: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature("12345", url, &fields), "GvWf1cFY/Q7PnoempGyD5oXAezc=");
    }
}
