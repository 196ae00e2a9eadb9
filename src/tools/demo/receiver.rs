//! The demo's stand-in for the outside world: one loopback HTTP server taking webhooks and
//! Twilio's API, printing what arrives as the person on the other end would see it, and
//! counting it for the closing summary.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;

use super::Tally;

pub async fn start(tally: Tally) -> anyhow::Result<SocketAddr> {
    let app = axum::Router::new().fallback(receive).with_state(tally);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

async fn receive(State(tally): State<Tally>, uri: Uri, body: Bytes) -> (axum::http::StatusCode, &'static str) {
    let path = uri.path();
    if path.ends_with("/Calls.json") || path.ends_with("/Messages.json") {
        let form: Vec<(String, String)> = url_pairs(&body);
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        if path.ends_with("/Calls.json") {
            tally.call();
            println!("           CALL  to {}: {}", field("To"), strip_tags(&field("Twiml")));
        } else {
            tally.text();
            println!("           SMS   to {}: {}", field("To"), field("Body"));
        }
        return (axum::http::StatusCode::CREATED, "{}");
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(m) => {
            let who = format!(
                "{} {}",
                m["recipient"]["kind"].as_str().unwrap_or(""),
                m["recipient"]["id"].as_str().unwrap_or("")
            );
            let event = m["event"].as_str().unwrap_or("?");
            tally.received(path, event);
            println!("           {:<5} {event} to {who} ({path})", "RECV");
        }
        Err(_) => println!("           RECV  unreadable body at {path}"),
    }
    (axum::http::StatusCode::OK, "ok")
}

fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{}", String::from_utf8_lossy(body)))
        .map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default()
}

fn strip_tags(xml: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in xml.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}
