//! How an event reads for a human, shared by the chat, e-mail, SMS, voice and PagerDuty
//! renderings so they say the same thing in the same words. Pure string building.

use std::time::Duration;

use super::http::shorten;
use super::{Body, BodyCase};
use crate::clock::parse_rfc3339;
use crate::outbox::{EventKind, RecipientKind, Tone};

/// The one-line summary of an event, without the case number:
/// `Severity 1: acme / storefront is down`.
pub(crate) fn summary(event: EventKind, case: Option<&BodyCase>) -> String {
    let Some(c) = case else {
        return match event {
            EventKind::MonitorDegraded => "firstwatch monitor degraded: no cases are being opened".to_string(),
            EventKind::MonitorRecovered => "firstwatch monitor recovered: checks count again".to_string(),
            EventKind::Test => "firstwatch test page: acknowledge it to show your pages reach you".to_string(),
            EventKind::PagingUnverified => {
                "firstwatch paging path unverified: a test page was not acknowledged".to_string()
            }
            // A case event without its case (an old or hand-made row): its name says enough.
            EventKind::CaseOpened
            | EventKind::CustomerNotice
            | EventKind::Page
            | EventKind::Escalation
            | EventKind::CustomerCall
            | EventKind::CustomerUpdate
            | EventKind::CaseSeverityRaised
            | EventKind::CaseRecovered
            | EventKind::CaseAcknowledged
            | EventKind::CaseResolved => format!("firstwatch: {}", event.as_str()),
        };
    };
    let what = format!("{} / {}", c.customer, c.service);
    let sev = format!("Severity {}", c.severity);
    match event {
        EventKind::CaseOpened | EventKind::CustomerNotice => format!("{sev}: {what} is down"),
        EventKind::Page => format!("Page - {sev}: {what} is down"),
        EventKind::Escalation => format!("Escalation, not acknowledged - {sev}: {what} is down"),
        EventKind::CustomerCall => format!("Calling the customer - {sev}: {what} is down"),
        EventKind::CustomerUpdate => format!("Update - {sev}: {what} is still down"),
        EventKind::CaseSeverityRaised => format!("Raised to {sev}: {what} is down"),
        EventKind::CaseAcknowledged => format!("Acknowledged - {sev}: {what} is down"),
        EventKind::CaseRecovered => format!("Recovered: {what} is back up"),
        EventKind::CaseResolved => format!("Resolved: {what}"),
        EventKind::MonitorDegraded | EventKind::MonitorRecovered | EventKind::Test | EventKind::PagingUnverified => {
            format!("{} ({sev}: {what})", summary(event, None))
        }
    }
}

/// The subject of an e-mail: `[FW-000042] Severity 1: acme / storefront is down`; monitor
/// events carry no case number.
pub(crate) fn email_subject(event: EventKind, case: Option<&BodyCase>) -> String {
    match case {
        Some(c) => format!("[{}] {}", c.id, summary(event, case)),
        None => summary(event, None),
    }
}

/// A marker per event for chat channels (emoji short codes Slack and Mattermost both know).
pub(crate) fn marker(event: EventKind) -> &'static str {
    match event {
        EventKind::Page => ":rotating_light:",
        EventKind::Escalation => ":sos:",
        EventKind::CustomerCall => ":telephone_receiver:",
        EventKind::CustomerNotice => ":mega:",
        EventKind::CustomerUpdate => ":hourglass_flowing_sand:",
        EventKind::CaseOpened => ":red_circle:",
        EventKind::CaseSeverityRaised => ":arrow_double_up:",
        EventKind::CaseAcknowledged => ":raising_hand:",
        EventKind::CaseRecovered => ":white_check_mark:",
        EventKind::CaseResolved => ":heavy_check_mark:",
        EventKind::MonitorDegraded => ":warning:",
        EventKind::MonitorRecovered => ":ok:",
        EventKind::Test => ":test_tube:",
        EventKind::PagingUnverified => ":no_bell:",
    }
}

/// `Down since` while the outage lasts, `Opened` once it is over.
pub(crate) fn since_label(event: EventKind) -> &'static str {
    match event.tone() {
        Tone::Over | Tone::Test => "Opened",
        Tone::Alarm | Tone::MonitorBack | Tone::Taken => "Down since",
    }
}

/// `2026-12-01T02:00:00.000Z (2h 5m ago)`: when the case opened, and how long before the event.
pub(crate) fn since(body: &Body, case: &BodyCase) -> String {
    match elapsed(&case.opened_at, &body.occurred_at) {
        Some(d) => format!("{} ({} before this message)", case.opened_at, crate::clock::short_duration(d)),
        None => case.opened_at.clone(),
    }
}

fn elapsed(from: &str, to: &str) -> Option<Duration> {
    let from = parse_rfc3339(from).ok()?;
    let to = parse_rfc3339(to).ok()?;
    to.duration_since(from).ok()
}

/// The case facts as labelled lines, for e-mail and PagerDuty-style listings.
pub(crate) fn facts(body: &Body, event: EventKind) -> Vec<(&'static str, String)> {
    let Some(c) = &body.case else {
        return Vec::new();
    };
    let mut out = vec![
        ("Case", if c.status.is_empty() { c.id.clone() } else { format!("{} ({})", c.id, c.status) }),
        ("Severity", format!("Severity {}", c.severity)),
        ("Customer", c.customer.clone()),
        ("Service", c.service.clone()),
        ("Server", c.server.clone()),
        (since_label(event), since(body, c)),
    ];
    if c.consecutive_failures > 0 {
        out.push(("Failed checks", format!("{} in a row", c.consecutive_failures)));
    }
    if let Some(error) = c.last_error.as_deref().filter(|e| !e.is_empty()) {
        out.push(("Last error", error.to_string()));
    }
    out
}

/// Where a reader follows up: the customer's own status page (query-token form) for customer
/// contacts, the case for everyone else, the status page for monitor events.
pub(crate) fn link(public_url: &str, body: &Body, status_token: Option<&str>) -> Option<String> {
    let customer = body.recipient.kind == RecipientKind::CustomerContact;
    match (&body.case, customer) {
        (Some(c), true) => status_token.map(|token| {
            format!(
                "{public_url}/status/{}?token={}",
                crate::domain::url_text::encode_component(&c.customer),
                crate::domain::url_text::encode_component(token)
            )
        }),
        (Some(c), false) => Some(format!("{public_url}/cases/{}", c.id)),
        (None, true) => None,
        (None, false) => Some(format!("{public_url}/")),
    }
}

/// The plain-text e-mail body: greeting, the message text, the case facts, the link.
pub(crate) fn email_body(body: &Body, event: EventKind, name: Option<&str>, link: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(name) = name {
        out.push_str(&format!("Hello {name},\n\n"));
    }
    out.push_str(if body.text.is_empty() { "" } else { body.text.trim() });
    if !body.text.is_empty() {
        out.push_str("\n\n");
    }
    let facts = facts(body, event);
    let width = facts.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    for (label, value) in &facts {
        out.push_str(&format!("{:<width$} {value}\n", format!("{label}:")));
    }
    if let Some(link) = link {
        if !facts.is_empty() {
            out.push('\n');
        }
        let what = match (&body.case, body.recipient.kind == RecipientKind::CustomerContact) {
            (Some(_), true) => "Your status page",
            (Some(_), false) => "Follow the case",
            (None, _) => "Status page",
        };
        out.push_str(&format!("{what}: {link}\n"));
    }
    if let Some(ack) = &body.ack_url {
        out.push_str(&format!("Acknowledge (stops the escalation): {ack}\n"));
    }
    out.push_str("\n-- \nfirstwatch, proactive server monitoring\n");
    out
}

/// A short SMS: case number, severity, customer / service, what happened; the link (a page's
/// ack link before the case link) only if it still fits in about two SMS segments.
pub(crate) fn sms_text(body: &Body, event: EventKind, link: Option<&str>) -> String {
    let ack = body.ack_url.as_ref().map(|url| format!("Acknowledge: {url}"));
    let link = ack.as_deref().or(link);
    const MAX: usize = 300;
    let mut text = match &body.case {
        Some(c) => {
            let mut t = format!("firstwatch {} {}. Server {}", c.id, summary(event, Some(c)), c.server);
            if let Some(error) = c.last_error.as_deref().filter(|e| !e.is_empty()) {
                t.push_str(&format!(", last error: {error}"));
            }
            t.push('.');
            t
        }
        None => format!("{}. {}", summary(event, None), body.text.trim()),
    };
    // An ack link is the point of a page or test: the text makes room for it.
    let room = match &ack {
        Some(ack) if ack.chars().count() + 1 < MAX / 2 => MAX - 1 - ack.chars().count(),
        _ => MAX,
    };
    text = shorten(text.trim(), room);
    if let Some(link) = link {
        if text.chars().count() + 1 + link.chars().count() <= MAX {
            text.push(' ');
            text.push_str(link);
        }
    }
    text
}

/// What a voice call says: who calls, the case number spelled for speech, what is down since
/// when, the message text, and the case number again.
pub(crate) fn spoken_text(body: &Body, event: EventKind) -> String {
    let Some(c) = &body.case else {
        return format!("Hello, this is firstwatch. {}. {}", summary(event, None), body.text.trim());
    };
    let number = spoken_case_number(&c.id);
    let mut out = format!(
        "Hello, this is firstwatch, the server monitor of your support team, calling about case {number}, severity {}. ",
        c.severity
    );
    match event.tone() {
        Tone::Over => {
            out.push_str(&format!("Your service {} is back up. ", c.service));
        }
        Tone::Alarm | Tone::MonitorBack | Tone::Taken | Tone::Test => match spoken_time(&c.opened_at) {
            Some(time) => out.push_str(&format!("Your service {} has been down since {time}. ", c.service)),
            None => out.push_str(&format!("Your service {} is down. ", c.service)),
        },
    }
    if !body.text.trim().is_empty() {
        out.push_str(body.text.trim());
        out.push(' ');
    }
    out.push_str(&format!("Again, your case number is {number}. Goodbye."));
    out
}

/// `FW-000042` → `F W 42`, which the case-number parser also accepts when read back.
pub(crate) fn spoken_case_number(id: &str) -> String {
    match id.strip_prefix("FW-") {
        Some(digits) => {
            let n = digits.trim_start_matches('0');
            format!("F W {}", if n.is_empty() { "0" } else { n })
        }
        None => id.to_string(),
    }
}

/// `2026-12-01T02:05:00.000Z` → `02:05 UTC`.
fn spoken_time(rfc3339: &str) -> Option<String> {
    let time = rfc3339.get(11..16)?;
    (rfc3339.ends_with('Z') && time.as_bytes().get(2) == Some(&b':')).then(|| format!("{time} UTC"))
}

/// A page read out to the person paged, ending with what to press. A first page says the
/// facts and the last error rather than its written text (a timestamp and a case number
/// spelled for the eye); an escalation says why it came.
pub(crate) fn spoken_page(body: &Body) -> String {
    let Some(c) = &body.case else {
        return format!("Hello, this is firstwatch paging you. {} Press 1 to acknowledge.", body.text.trim());
    };
    let number = spoken_case_number(&c.id);
    let mut out = format!(
        "Hello, this is firstwatch paging you about case {number}, severity {}: customer {}, service {}",
        c.severity, c.customer, c.service
    );
    match spoken_time(&c.opened_at) {
        Some(time) => out.push_str(&format!(", down since {time}. ")),
        None => out.push_str(" is down. "),
    }
    let said = if body.event == EventKind::Page.as_str() {
        let failed = format!("{} status requests in a row failed", c.consecutive_failures);
        match c.last_error.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(error) => format!("{failed}; the last error was: {}.", error.trim_end_matches('.')),
            None => format!("{failed}."),
        }
    } else {
        body.text.trim().to_string()
    };
    if !said.is_empty() {
        out.push_str(&said);
        out.push(' ');
    }
    out.push_str("Press 1 to acknowledge the case.");
    out
}

/// Where a voice page's key press goes: the page's ack link `{public_url}/ack/{token}` becomes
/// `{public_url}/hooks/twilio/voice?ack={token}`, so the press acknowledges as that message's
/// recipient, once. `None` unless the link is absolute (Twilio must reach it): without
/// `public_url` the call only reads the page out.
pub(crate) fn voice_ack_action(ack_url: &str) -> Option<String> {
    if !(ack_url.starts_with("https://") || ack_url.starts_with("http://")) {
        return None;
    }
    let (base, token) = ack_url.rsplit_once("/ack/")?;
    crate::domain::secret::is_token(token).then(|| format!("{base}/hooks/twilio/voice?ack={token}"))
}

/// Read `text` and wait for one key, posted to `action`; no key: say `no_key` and hang up.
pub(crate) fn twiml_gather(text: &str, action: &str, no_key: &str) -> String {
    format!(
        "<Response><Gather numDigits=\"1\" timeout=\"10\" method=\"POST\" action=\"{}\"><Say>{}</Say></Gather>\
         <Say>{}</Say></Response>",
        xml_escape(action),
        xml_escape(text),
        xml_escape(no_key)
    )
}

/// `<Response><Say>…</Say></Response>` with the text XML-escaped.
pub(crate) fn twiml_say(text: &str) -> String {
    format!("<Response><Say>{}</Say></Response>", xml_escape(text))
}

pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::BodyRecipient;

    #[test]
    fn a_test_page_by_text_keeps_its_ack_link_whatever_its_length() {
        let mut b = body(EventKind::Test, RecipientKind::Person, false);
        b.text = "Test page for Alice Example (an operator asked for it): nothing is down. ".repeat(4);
        b.ack_url = Some(format!("https://status.example.com/ack/{}", "ab".repeat(32)));
        let sms = sms_text(&b, EventKind::Test, Some("https://status.example.com/"));
        assert!(sms.chars().count() <= 300, "{sms}");
        assert!(sms.ends_with(&format!("Acknowledge: https://status.example.com/ack/{}", "ab".repeat(32))), "{sms}");
    }

    #[test]
    fn a_spoken_page_says_the_facts_and_the_last_error_and_an_escalation_says_why() {
        let mut page = body(EventKind::Page, RecipientKind::Person, true);
        page.text = "FW-000042 opened, Severity 1: storefront of acme is down since 2026-12-01T02:00:00.000Z.".into();
        assert_eq!(
            spoken_page(&page),
            "Hello, this is firstwatch paging you about case F W 42, severity 1: customer acme, service storefront, \
             down since 02:00 UTC. 10 status requests in a row failed; the last error was: connection refused. \
             Press 1 to acknowledge the case."
        );
        let mut escalation = body(EventKind::Escalation, RecipientKind::Person, true);
        escalation.text = "FW-000042 has not been acknowledged within 2h: escalating to vp.".into();
        let said = spoken_page(&escalation);
        assert!(said.contains("down since 02:00 UTC. FW-000042 has not been acknowledged within 2h"), "{said}");
        assert!(said.ends_with("Press 1 to acknowledge the case."), "{said}");
    }

    #[test]
    fn a_voice_pages_key_press_goes_to_the_hook_with_the_pages_own_token() {
        let token = "ab".repeat(32);
        assert_eq!(
            voice_ack_action(&format!("https://fw.example/watch/ack/{token}")),
            Some(format!("https://fw.example/watch/hooks/twilio/voice?ack={token}"))
        );
        assert_eq!(voice_ack_action("https://fw.example/ack/not-a-token"), None);
        assert_eq!(voice_ack_action(&format!("/ack/{token}")), None, "Twilio needs an absolute address");
        assert_eq!(voice_ack_action("https://fw.example/cases/1"), None);
    }

    fn case() -> BodyCase {
        BodyCase {
            id: "FW-000042".into(),
            severity: 1,
            status: "open".into(),
            customer: "acme".into(),
            service: "storefront".into(),
            server: "acme-eu-1".into(),
            opened_at: "2026-12-01T02:00:00.000Z".into(),
            consecutive_failures: 10,
            last_error: Some("connection refused".into()),
        }
    }

    fn body(event: EventKind, kind: RecipientKind, with_case: bool) -> Body {
        Body {
            event: event.as_str().into(),
            idempotency_key: "k".into(),
            occurred_at: "2026-12-01T04:05:00.000Z".into(),
            recipient: BodyRecipient { kind, id: "someone".into(), role: "r".into() },
            case: with_case.then(case),
            text: "Something happened.".into(),
            ack_url: None,
        }
    }

    #[test]
    fn a_page_with_an_ack_link_carries_it_in_every_text() {
        let mut b = body(EventKind::Page, RecipientKind::Person, true);
        b.ack_url = Some("http://x/ack/abc".into());
        let sms = sms_text(&b, EventKind::Page, Some("http://x/cases/FW-000042"));
        assert!(sms.ends_with("Acknowledge: http://x/ack/abc"), "the ack link before the case link: {sms}");
        let mail = email_body(&b, EventKind::Page, Some("Alice"), Some("http://x/cases/FW-000042"));
        assert!(mail.contains("Follow the case: http://x/cases/FW-000042"), "{mail}");
        assert!(mail.contains("Acknowledge (stops the escalation): http://x/ack/abc"), "{mail}");
        assert_eq!(
            summary(EventKind::CaseAcknowledged, Some(&case())),
            "Acknowledged - Severity 1: acme / storefront is down"
        );
    }

    #[test]
    fn subjects_carry_the_case_number_and_say_what_happened() {
        let c = case();
        let s = |e| email_subject(e, Some(&c));
        assert_eq!(s(EventKind::CaseOpened), "[FW-000042] Severity 1: acme / storefront is down");
        assert_eq!(s(EventKind::CustomerNotice), "[FW-000042] Severity 1: acme / storefront is down");
        assert_eq!(s(EventKind::CustomerUpdate), "[FW-000042] Update - Severity 1: acme / storefront is still down");
        assert_eq!(s(EventKind::CaseSeverityRaised), "[FW-000042] Raised to Severity 1: acme / storefront is down");
        assert_eq!(s(EventKind::CaseRecovered), "[FW-000042] Recovered: acme / storefront is back up");
        assert_eq!(s(EventKind::CaseResolved), "[FW-000042] Resolved: acme / storefront");
        assert!(s(EventKind::Page).starts_with("[FW-000042] Page - Severity 1"));
        assert!(s(EventKind::Escalation).contains("not acknowledged"));
        assert_eq!(
            email_subject(EventKind::MonitorDegraded, None),
            "firstwatch monitor degraded: no cases are being opened"
        );
        assert_eq!(
            email_subject(EventKind::MonitorRecovered, None),
            "firstwatch monitor recovered: checks count again"
        );
    }

    #[test]
    fn twiml_escapes_everything_xml_would_misread() {
        assert_eq!(
            twiml_say(r#"Tom & Jerry's <b>"site"</b>"#),
            "<Response><Say>Tom &amp; Jerry&apos;s &lt;b&gt;&quot;site&quot;&lt;/b&gt;</Say></Response>"
        );
        assert_eq!(xml_escape("a\u{0}b"), "a b");
    }

    #[test]
    fn the_call_says_the_case_number_twice_in_speakable_form() {
        let text =
            spoken_text(&body(EventKind::CustomerCall, RecipientKind::CustomerContact, true), EventKind::CustomerCall);
        assert_eq!(text.matches("F W 42").count(), 2, "{text}");
        assert!(text.contains("storefront has been down since 02:00 UTC."), "{text}");
        assert_eq!(spoken_case_number("FW-000000"), "F W 0");
        assert_eq!(spoken_case_number("other"), "other");
    }

    #[test]
    fn links_send_customers_to_their_status_page_and_staff_to_the_case() {
        let base = "http://127.0.0.1:8080";
        let staff = body(EventKind::Page, RecipientKind::Person, true);
        assert_eq!(link(base, &staff, None).as_deref(), Some("http://127.0.0.1:8080/cases/FW-000042"));
        let customer = body(EventKind::CustomerNotice, RecipientKind::CustomerContact, true);
        assert_eq!(
            link(base, &customer, Some("t o&k")).as_deref(),
            Some("http://127.0.0.1:8080/status/acme?token=t%20o%26k")
        );
        assert_eq!(link(base, &customer, None), None);
        assert_eq!(
            link(base, &body(EventKind::MonitorDegraded, RecipientKind::Person, false), None).as_deref(),
            Some(base).map(|b| format!("{b}/")).as_deref()
        );
    }

    #[test]
    fn sms_is_short_and_names_case_severity_and_service() {
        let mut b = body(EventKind::Page, RecipientKind::Person, true);
        let sms = sms_text(&b, EventKind::Page, Some("http://x/cases/FW-000042"));
        assert!(sms.starts_with("firstwatch FW-000042 Page - Severity 1: acme / storefront is down."), "{sms}");
        assert!(sms.ends_with("http://x/cases/FW-000042"), "{sms}");
        if let Some(c) = b.case.as_mut() {
            c.last_error = Some("x".repeat(1000));
        }
        let sms = sms_text(&b, EventKind::Page, Some("http://x/cases/FW-000042"));
        assert_eq!(sms.chars().count(), 300);
    }

    #[test]
    fn email_body_lists_the_facts_and_how_long_it_has_been_down() {
        let b = body(EventKind::CustomerUpdate, RecipientKind::CustomerContact, true);
        let text = email_body(&b, EventKind::CustomerUpdate, Some("Jane"), Some("http://x/status/acme?token=t"));
        assert!(text.starts_with("Hello Jane,\n\nSomething happened.\n\n"), "{text}");
        assert!(text.contains("Down since:    2026-12-01T02:00:00.000Z (2h 5m before this message)"), "{text}");
        assert!(text.contains("Last error:    connection refused"), "{text}");
        assert!(text.contains("Your status page: http://x/status/acme?token=t"), "{text}");
        assert_eq!(crate::clock::short_duration(Duration::from_secs(45)), "45s");
        assert_eq!(crate::clock::short_duration(Duration::from_secs(3 * 86_400 + 4 * 3_600 + 60)), "3d 4h");
    }
}
