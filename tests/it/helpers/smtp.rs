//! A minimal SMTP sink on 127.0.0.1: greets with 220, answers EHLO/HELO, MAIL FROM, RCPT TO,
//! DATA … `.`, RSET, NOOP and QUIT, and records every accepted message (envelope and raw
//! data, dot-unstuffed). It offers no STARTTLS and no AUTH. Scriptable: the first RCPT TO
//! commands can be answered with given codes (e.g. 451 or 550), then 250 forever.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent after DATA, lines joined with `\r\n`.
    pub data: String,
}

impl Mail {
    /// A header's (unfolded) value, by name in any case.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The body after the header block, with quoted-printable soft breaks and `=XX` decoded
    /// when the message says it is quoted-printable.
    pub fn body(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        let qp = self.header("Content-Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("quoted-printable"));
        if qp {
            decode_qp(body)
        } else {
            body.to_string()
        }
    }
}

fn decode_qp(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if let Some(b) = joined.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct State {
    rcpt_script: VecDeque<u16>,
    mails: Vec<Mail>,
}

pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Accepts every message.
    pub async fn start() -> SmtpSink {
        SmtpSink::scripted(Vec::new()).await
    }

    /// Answers the first RCPT TO commands with `rcpt_codes` in order (250 after that).
    pub async fn scripted(rcpt_codes: Vec<u16>) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp sink");
        let addr = listener.local_addr().expect("smtp sink address");
        let state = Arc::new(Mutex::new(State { rcpt_script: rcpt_codes.into(), mails: Vec::new() }));
        let arrived = Arc::new(Notify::new());
        let task = tokio::spawn(serve(listener, state.clone(), arrived.clone()));
        SmtpSink { addr, state, arrived, task }
    }

    /// `smtp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).mails.clone()
    }

    /// The messages once at least `n` were accepted; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out after {timeout:?} waiting for {n} mails, got {}", self.mails().len());
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>, arrived: Arc<Notify>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        conns.spawn(session(stream, state.clone(), arrived.clone()));
        while conns.try_join_next().is_some() {}
    }
}

/// The argument of `MAIL FROM:<a>` / `RCPT TO:<a>` (parameters after it dropped).
fn path_arg(line: &str) -> String {
    let rest = line.split_once(':').map(|(_, r)| r).unwrap_or_default().trim();
    let addr = rest.split_whitespace().next().unwrap_or_default();
    addr.trim_start_matches('<').trim_end_matches('>').to_string()
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>, arrived: Arc<Notify>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(b"220 sink.test ESMTP firstwatch test sink\r\n").await.is_err() {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let cmd = line.trim_end_matches(['\r', '\n']).to_string();
        let verb = cmd.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => "250-sink.test greets you\r\n250-8BITMIME\r\n250 SIZE 10485760".to_string(),
            "HELO" => "250 sink.test".to_string(),
            "MAIL" => {
                from = path_arg(&cmd);
                to.clear();
                "250 2.1.0 OK".to_string()
            }
            "RCPT" => {
                let code = state.lock().unwrap_or_else(|e| e.into_inner()).rcpt_script.pop_front().unwrap_or(250);
                if code == 250 {
                    to.push(path_arg(&cmd));
                    "250 2.1.5 OK".to_string()
                } else {
                    format!("{code} scripted refusal")
                }
            }
            "DATA" if to.is_empty() => "554 5.5.1 no valid recipients".to_string(),
            "DATA" => {
                if write.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await.is_err() {
                    return;
                }
                let mut data: Vec<String> = Vec::new();
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let l = line.trim_end_matches(['\r', '\n']);
                    if l == "." {
                        break;
                    }
                    data.push(l.strip_prefix('.').map_or_else(|| l.to_string(), |rest| rest.to_string()));
                }
                let mail = Mail { from: from.clone(), to: std::mem::take(&mut to), data: data.join("\r\n") };
                state.lock().unwrap_or_else(|e| e.into_inner()).mails.push(mail);
                arrived.notify_waiters();
                "250 2.0.0 queued".to_string()
            }
            "RSET" => {
                from.clear();
                to.clear();
                "250 2.0.0 OK".to_string()
            }
            "NOOP" => "250 2.0.0 OK".to_string(),
            "QUIT" => {
                let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
                return;
            }
            _ => "502 5.5.2 command not implemented".to_string(),
        };
        if write.write_all(format!("{answer}\r\n").as_bytes()).await.is_err() {
            return;
        }
    }
}
