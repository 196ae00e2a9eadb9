//! An HTTP receiver on 127.0.0.1 for notification tests: records every request (method, path,
//! query, headers, raw body) and answers from a script, then `200 OK` forever.
//!
//! Plain tokio with a hand-written HTTP/1.1 reader (Content-Length bodies, which is what
//! reqwest sends), so a recorded body is exactly the bytes on the wire. Every answer says
//! `Connection: close`. Dropping the receiver stops it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering (a slow receiver, or one killed mid-request).
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: String::new(), delay: None }
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: &str) -> Reply {
        self.body = body.to_string();
        self
    }
}

impl From<u16> for Reply {
    fn from(status: u16) -> Reply {
        Reply::status(status)
    }
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// An `application/x-www-form-urlencoded` body, decoded.
    pub fn form(&self) -> Vec<(String, String)> {
        let url = reqwest::Url::parse(&format!("http://form.invalid/?{}", self.text())).expect("form body parses");
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }

    /// One field of a form body; panics when it is missing.
    pub fn field(&self, name: &str) -> String {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("form field {name} missing in {}", self.text()))
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    requests: Vec<Recorded>,
}

pub struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Answers the scripted replies in order, then `200 OK` forever.
    /// `Receiver::start(vec![500, 500, 200])`, or with [`Reply`]s for headers and bodies.
    pub async fn start<R: Into<Reply>>(script: Vec<R>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        let state =
            Arc::new(Mutex::new(State { script: script.into_iter().map(Into::into).collect(), requests: Vec::new() }));
        let arrived = Arc::new(Notify::new());
        let task = tokio::spawn(serve(listener, state.clone(), arrived.clone()));
        Receiver { addr, state, arrived, task }
    }

    /// `200 OK` to everything.
    pub async fn ok() -> Receiver {
        Receiver::start(Vec::<u16>::new()).await
    }

    /// `http://127.0.0.1:PORT{path}`; `url("")` is the base for an `api_base`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).requests.clone()
    }

    /// The requests once at least `n` have arrived; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out after {timeout:?} waiting for {n} requests, got {}", self.requests().len());
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>, arrived: Arc<Notify>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        conns.spawn(handle(stream, state.clone(), arrived.clone()));
        while conns.try_join_next().is_some() {}
    }
}

async fn handle(mut stream: TcpStream, state: Arc<Mutex<State>>, arrived: Arc<Notify>) {
    let Some(request) = read_request(&mut stream).await else { return };
    let reply = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        state.requests.push(request);
        state.script.pop_front().unwrap_or_else(|| Reply::status(200).body("ok"))
    };
    arrived.notify_waiters();
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reason(reply.status),
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(reply.body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target, None),
    };
    Some(Recorded { method, path, query, headers, body })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
