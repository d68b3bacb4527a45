//! The Grafana test server's HTTP/1.1 loop, over plain TCP or TLS alike:
//! keep-alive, Content-Length bodies, and the `Authorization` header (which
//! `crate::http` does not parse); requests without a valid bearer token get
//! Grafana's 401. Seeded faults ([`GrafanaServer::inject_faults`]) are
//! drawn here, one roll per request, as the fault proxy draws them.
//!
//! [`GrafanaServer::inject_faults`]: super::GrafanaServer::inject_faults

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::{GrafanaState, Tokens, msg};
use crate::fault_proxy::{Dice, FaultKind};
use crate::http::{Response, decode};

pub(super) struct Req {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub bearer: Option<String>,
    pub body: Value,
}

impl Req {
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) fn serve<S: Read + Write>(
    conn: S,
    state: &Mutex<GrafanaState>,
    tokens: &Tokens,
    stop: &AtomicBool,
) {
    let mut reader = BufReader::new(conn);
    while !stop.load(Ordering::SeqCst) {
        let Some(req) = read(&mut reader) else { return };
        let fault = state
            .lock()
            .expect("grafana state")
            .dice
            .as_mut()
            .and_then(Dice::roll);
        let resp = match fault.map(|f| (f.kind, f.status)) {
            Some((FaultKind::Throttle, _)) => {
                let mut r = msg(429, "Too many requests");
                r.headers.push(("Retry-After".into(), "0".into()));
                r
            }
            Some((FaultKind::ServerError, status)) => msg(
                status,
                &format!("injected fault: the service answered {status}"),
            ),
            // Closed unanswered, the request not handled.
            Some((FaultKind::Reset, _)) => return,
            kind => {
                let answered = answer(&req, state, tokens);
                match kind.map(|(k, _)| k) {
                    // Handled, then closed unanswered.
                    Some(FaultKind::LostResponse) => return,
                    Some(FaultKind::LateError) => {
                        msg(503, "injected fault: the service answered 503")
                    }
                    _ => answered,
                }
            }
        };
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            resp.status,
            resp.body.len()
        );
        for (k, v) in &resp.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let writer = reader.get_mut();
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(&resp.body))
            .and_then(|_| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

/// The server's answer to one request.
fn answer(req: &Req, state: &Mutex<GrafanaState>, tokens: &Tokens) -> Response {
    if req.path == "/api/health" {
        let version = state.lock().expect("grafana state").version.clone();
        Response::json(200, &json!({ "database": "ok", "version": version }))
    } else if !req.bearer.as_deref().is_some_and(|t| tokens.valid(t)) {
        msg(
            401,
            if req.bearer.is_some() {
                "invalid API key"
            } else {
                "Unauthorized"
            },
        )
    } else {
        state.lock().expect("grafana state").handle(req)
    }
}

fn read<R: Read>(reader: &mut BufReader<R>) -> Option<Req> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let (mut length, mut bearer) = (0usize, None);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            } else if k.eq_ignore_ascii_case("authorization") {
                bearer = v.trim().strip_prefix("Bearer ").map(str::to_string);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query.split('&').filter(|q| !q.is_empty()).map(|q| {
        let (k, v) = q.split_once('=').unwrap_or((q, ""));
        (decode(k), decode(&v.replace('+', " ")))
    });
    Some(Req {
        method,
        path: path.to_string(),
        query: query.collect(),
        bearer,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}
