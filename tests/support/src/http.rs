//! A tiny HTTP/1.1 server for test doubles: one thread per connection,
//! keep-alive, Content-Length or chunked bodies, `Expect: 100-continue`.
//! Handlers get the parsed request and return status, headers and body,
//! or (with [`Server::start_replying`]) may close the connection without
//! answering. It listens on a free loopback port and stops on drop.
//! [`forward`] relays a request to another server, HEAD answers and
//! chunked bodies included (the model-checking proxy in front of moto
//! relays S3 through it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The request target as sent (path and query, still encoded): path
    /// segments that hold ARNs can only be split before decoding.
    pub target: String,
    /// Headers as sent, in order.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The path's segments, each percent-decoded on its own (an encoded
    /// `/` inside an ARN stays inside its segment).
    pub fn segments(&self) -> Vec<String> {
        let path = self.target.split('?').next().unwrap_or_default();
        path.trim_matches('/').split('/').map(decode).collect()
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `req` unchanged to the HTTP server at `upstream`
/// (`http://127.0.0.1:PORT`) and returns its answer: how a narrow test
/// double hands the operations it does not implement to a fuller emulator.
/// One connection per request, read to its end.
pub fn forward(upstream: &str, req: &Request) -> Response {
    let addr = upstream.trim_start_matches("http://").trim_end_matches('/');
    let fail = |e: std::io::Error| Response {
        status: 502,
        headers: vec![("x-amzn-ErrorType".into(), "ServiceUnavailable".into())],
        body: format!("{{\"message\": \"upstream {addr}: {e}\"}}").into_bytes(),
    };
    let mut conn = match TcpStream::connect(addr) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // The head and the body are written apart (see `serve`).
    let _ = conn.set_nodelay(true);
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        // The body goes with a Content-Length of its own, already whole.
        let hop = [
            "connection",
            "content-length",
            "transfer-encoding",
            "expect",
        ];
        if hop.iter().any(|h| k.eq_ignore_ascii_case(h)) {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    if let Err(e) = conn
        .write_all(head.as_bytes())
        .and_then(|_| conn.write_all(&req.body))
    {
        return fail(e);
    }
    let mut reader = BufReader::new(conn);
    let mut status_line = String::new();
    if let Err(e) = reader.read_line(&mut status_line) {
        return fail(e);
    }
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    let mut headers = Vec::new();
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            } else if !k.eq_ignore_ascii_case("connection") {
                headers.push((k.to_string(), v.to_string()));
            }
        }
    }
    let mut body = Vec::new();
    // A HEAD answer has the length of the body a GET would get, and no
    // body; so have 204 and 304.
    let bodiless = req.method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304;
    let read = if bodiless {
        if let Some(n) = length {
            headers.push(("Content-Length".into(), n.to_string()));
        }
        Ok(())
    } else if chunked {
        read_chunked(&mut reader).map(|b| body = b)
    } else {
        match length {
            Some(n) => {
                body.resize(n, 0);
                reader.read_exact(&mut body)
            }
            None => reader.read_to_end(&mut body).map(|_| ()),
        }
    };
    if let Err(e) = read {
        return fail(e);
    }
    Response {
        status,
        headers,
        body,
    }
}

/// What the handler answers.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// What a [`ReplyHandler`] does with a request.
pub enum Reply {
    /// Answer it.
    Send(Response),
    /// Close the connection without answering: the client sees the
    /// connection end before a response (as after a reset or a lost answer).
    Close,
}

impl From<Response> for Reply {
    fn from(r: Response) -> Self {
        Reply::Send(r)
    }
}

/// A handler that may also close the connection instead of answering.
pub type ReplyHandler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Server {
    pub fn start(handler: Handler) -> Server {
        Self::start_replying(Arc::new(move |req: &Request| Reply::Send(handler(req))))
    }

    /// Like [`Server::start`], with a handler that may close the connection
    /// instead of answering ([`Reply::Close`]).
    pub fn start_replying(handler: ReplyHandler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let handler = handler.clone();
                let stopping = stopping.clone();
                std::thread::spawn(move || serve(conn, handler, stopping));
            }
        });
        Server { addr, stop }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(conn: TcpStream, handler: ReplyHandler, stop: Arc<AtomicBool>) {
    // The head and the body are written apart: with Nagle's algorithm the
    // body would wait for the head's acknowledgement, which the client
    // delays (40 ms on Linux), on every answer.
    let _ = conn.set_nodelay(true);
    let mut writer = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(conn);
    while !stop.load(Ordering::SeqCst) {
        let Some(req) = read_request(&mut reader, &mut writer) else {
            return;
        };
        let resp = match handler(&req) {
            Reply::Send(resp) => resp,
            Reply::Close => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        };
        // A forwarded HEAD answer brings the Content-Length of its own.
        let mut head = format!("HTTP/1.1 {} X\r\nConnection: keep-alive\r\n", resp.status);
        if !resp
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
        }
        for (k, v) in &resp.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
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

fn read_request(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut length = 0usize;
    let mut chunked = false;
    let mut expect_continue = false;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().ok()?;
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            } else if k.eq_ignore_ascii_case("expect") {
                expect_continue = v.eq_ignore_ascii_case("100-continue");
            }
            headers.push((k.trim().to_string(), v.to_string()));
        }
    }
    if expect_continue {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let body = if chunked {
        read_chunked(reader).ok()?
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        body
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = pairs(query, false);
    Some(Request {
        method,
        path: decode(path),
        query,
        body,
        target: target.clone(),
        headers,
    })
}

/// A `Transfer-Encoding: chunked` body, trailers skipped.
fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("a chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = String::new();
        reader.read_line(&mut crlf)?;
    }
}

/// A query string or form body as decoded pairs, empty parts skipped;
/// `plus_is_space` for form bodies (`application/x-www-form-urlencoded`),
/// where `+` stands for a space.
pub fn pairs(text: &str, plus_is_space: bool) -> Vec<(String, String)> {
    let unplus = |s: &str| {
        if plus_is_space {
            s.replace('+', " ")
        } else {
            s.to_string()
        }
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(&unplus(k)), decode(&unplus(v)))
        })
        .collect()
}

/// Percent-decoding (paths carry ARNs with `:` and `/` encoded).
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
