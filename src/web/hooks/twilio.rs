//! `POST /hooks/twilio/sms` and `POST /hooks/twilio/voice`: a text back from a paged person,
//! or the key they pressed on a voice page (PRODUCT.md section 14). The
//! request must carry `X-Twilio-Signature`, Twilio's HMAC-SHA1 (base64) under the `auth_token`
//! of the twilio channel whose `account_sid` is the request's `AccountSid` (or of the only
//! twilio channel) over `public_url` + path + query followed by every form field, sorted by
//! name, as name then value; wrong or missing → 403 and nothing changes. `ACK` acknowledges the
//! sender's most recently paged active case, `ACK FW-000042` that case, as the person whose
//! `phone` sent it (with no active case paged to them, `ACK` confirms their newest test page
//! instead); an unknown number changes nothing. A voice page's `<Gather>` posts to
//! `/hooks/twilio/voice?ack={token}` with the message's own ack token: `Digits=1`
//! acknowledges as the person called (once, like the link), any other key changes nothing.
//! Every answer is TwiML saying what happened.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::cases::{CaseError, LinkAck, OperatorAction};
use crate::config::Config;
use crate::domain::secret::{is_token, sha256_hex};
use crate::domain::CaseNumber;
use crate::escalation::paging_test;
use crate::notify::registry::ChannelSettings;
use crate::notify::render::{spoken_case_number, xml_escape};
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

/// A TwiML answer of one `verb` (`Message` for a text back, `Say` for a call) saying `text`.
fn answer(verb: &str, text: &str) -> Response {
    let body =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><{verb}>{}</{verb}></Response>", xml_escape(text));
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn twiml(text: &str) -> Response {
    answer("Message", text)
}

fn spoken(text: &str) -> Response {
    answer("Say", text)
}

/// The form fields of a request that carries Twilio's signature of it, or 403.
fn signed_fields(
    config: &Config,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let fields: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let account_sid = fields.iter().find(|(k, _)| k == "AccountSid").map(|(_, v)| v.as_str());
    let given = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let url = format!(
        "{}{}",
        config.server.public_url.trim_end_matches('/'),
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    let signed = auth_token(config, account_sid).is_some_and(|token| {
        crate::config::constant_time_eq(signature(token, &url, &fields).as_bytes(), given.as_bytes())
    });
    if signed {
        Ok(fields)
    } else {
        Err(ApiError::Forbidden)
    }
}

pub async fn voice(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let config = state.config();
    let fields = signed_fields(&config, &uri, &headers, &body)?;
    let digits = fields.iter().find(|(k, _)| k == "Digits").map_or("", |(_, v)| v.trim());
    let token = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "ack")
        .map(|(_, v)| v.into_owned())
        .filter(|t| is_token(t));
    let Some(token) = token else {
        return Ok(spoken("This call carries no acknowledgement; nothing was changed. Goodbye."));
    };
    if digits != "1" {
        return Ok(spoken("That was not 1; nothing was changed. Use the link in your page to acknowledge. Goodbye."));
    }
    let text = match state.engine.acknowledge_by_link(&sha256_hex(&token), AckVia::Voice).await {
        Ok(LinkAck::Acknowledged(case)) => format!(
            "Case {} acknowledged by {}. The escalation stops, and everyone paged is told. Goodbye.",
            spoken_case_number(&CaseNumber(case.id).to_string()),
            case.acknowledged_by.as_deref().unwrap_or("you")
        ),
        Ok(LinkAck::Already(case)) => match case.acknowledged_by {
            Some(by) => format!("This case was acknowledged already, by {by}; nothing was changed. Goodbye."),
            None => "This case is no longer active; nothing was changed. Goodbye.".to_string(),
        },
        Ok(LinkAck::Verified { person }) => {
            format!("Thank you, {person}: your paging path is verified. Nothing is down. Goodbye.")
        }
        Ok(LinkAck::Used) => "This page was acknowledged already; nothing was changed. Goodbye.".to_string(),
        Ok(LinkAck::Unknown) => "This page is not one of ours; nothing was changed. Goodbye.".to_string(),
        Err(CaseError::Store(e)) => return Err(e.into()),
        Err(other) => format!("Nothing was changed: {other}. Goodbye."),
    };
    Ok(spoken(&text))
}

pub async fn sms(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let config = state.config();
    let fields = signed_fields(&config, &uri, &headers, &body)?;
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
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
            None => {
                let now = state.clock.now_ms();
                let texts: Vec<&str> = person
                    .channels
                    .iter()
                    .filter(|id| {
                        config.channels.iter().any(|c| &c.id == *id && c.kind() == crate::config::ChannelKind::Twilio)
                    })
                    .map(String::as_str)
                    .collect();
                if paging_test::confirm_latest(&state.store, person, &texts, AckVia::Sms, now).await? {
                    return Ok(twiml("Test page confirmed: texts reach you. Nothing is down."));
                }
                return Ok(twiml("No active case was paged to you; nothing was changed."));
            }
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
