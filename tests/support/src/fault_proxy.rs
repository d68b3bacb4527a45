//! A seeded fault-injecting HTTP proxy: put it between `meshmon` and a test
//! server (moto, the AMG or Grafana test server) to see that flaky
//! endpoints make nothing happen twice and nothing get reported wrongly.
//!
//! A share of the requests ([`FaultPlan::rate`]) gets a fault, and which
//! fault is drawn from a PRNG seeded with [`FaultPlan::seed`]: the same seed
//! and the same order of requests give the same faults. Each request draws
//! the same number of values whether it is faulted or not, so changing the
//! rate mid-test ([`FaultProxy::set_rate`]) does not shift what later
//! requests draw. Requests sent concurrently are numbered in the order they
//! arrive.
//!
//! The faults ([`FaultKind`]):
//! - [`FaultKind::Throttle`]: answered by the proxy the way the service
//!   throttles, nothing forwarded. The protocol is read from the request:
//!   AWS query protocol (a form body with `Action=`): EC2 answers 503
//!   `RequestLimitExceeded` in its `<Response><Errors>` shape, IAM, SNS and
//!   STS 400 `Throttling` in the `<ErrorResponse>` shape; AWS JSON
//!   (`X-Amz-Target`): 400 `ThrottlingException`; AWS REST-JSON (EKS, AMP,
//!   AMG: SigV4 or `x-amz-*` headers): 429 with `x-amzn-ErrorType:
//!   ThrottlingException`; anything else (the Grafana HTTP API): 429 with
//!   `Retry-After: 0`.
//! - [`FaultKind::ServerError`]: 500, 502 or 503, nothing forwarded, in the
//!   same protocol's shape (`InternalFailure` / `ServiceUnavailable` for the
//!   query protocol, `InternalServerException` /
//!   `ServiceUnavailableException` for JSON).
//! - [`FaultKind::Reset`]: the connection is closed without an answer,
//!   nothing forwarded.
//! - [`FaultKind::LostResponse`]: forwarded (the call takes effect), then
//!   the connection is closed without an answer.
//! - [`FaultKind::LateError`]: forwarded (the call takes effect), then
//!   answered 503 as a server error.
//!
//! The AWS SDK for Rust retries all of them: the throttling codes are in its
//! list of throttling errors, 500/502/503 are transient by status, and a
//! connection closed before the response is a transient connector error.
//! The first three are harmless to retry; the last two are the dangerous
//! case of a call that took effect while the client believes it failed.
//!
//! [`KubeApi`](crate::kube_api::KubeApi) and the HTTPS port of
//! [`GrafanaServer`](crate::grafana::GrafanaServer) cannot have a proxy in
//! front, so they inject the same faults themselves from a [`FaultPlan`].

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::json;

use crate::http::{Reply, Request, Response, Server, forward};

/// Which requests get a fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultPlan {
    /// The share of requests that get a fault, from 0 (none) to 1 (all).
    pub rate: f64,
    /// Seeds the PRNG that decides which requests and which faults.
    pub seed: u64,
}

/// A kind of injected fault; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// Answered as throttled; not forwarded.
    Throttle,
    /// Answered 500, 502 or 503; not forwarded.
    ServerError,
    /// Connection closed without an answer; not forwarded.
    Reset,
    /// Forwarded, then the connection closed without an answer.
    LostResponse,
    /// Forwarded, then answered 503.
    LateError,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Throttle,
        FaultKind::ServerError,
        FaultKind::Reset,
        FaultKind::LostResponse,
        FaultKind::LateError,
    ];

    /// Whether the request reached the server behind the fault (and took
    /// effect there) although the client saw a failure.
    pub fn takes_effect(self) -> bool {
        matches!(self, FaultKind::LostResponse | FaultKind::LateError)
    }
}

/// How many requests were seen and how many of each fault were injected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Every request seen, faulted or not.
    pub requests: u64,
    pub throttle: u64,
    pub server_error: u64,
    pub reset: u64,
    pub lost_response: u64,
    pub late_error: u64,
}

impl FaultCounts {
    /// How many faults of `kind` were injected.
    pub fn of(&self, kind: FaultKind) -> u64 {
        match kind {
            FaultKind::Throttle => self.throttle,
            FaultKind::ServerError => self.server_error,
            FaultKind::Reset => self.reset,
            FaultKind::LostResponse => self.lost_response,
            FaultKind::LateError => self.late_error,
        }
    }

    /// How many faults were injected in all.
    pub fn faults(&self) -> u64 {
        FaultKind::ALL.iter().map(|k| self.of(*k)).sum()
    }

    fn count(&mut self, kind: FaultKind) {
        match kind {
            FaultKind::Throttle => self.throttle += 1,
            FaultKind::ServerError => self.server_error += 1,
            FaultKind::Reset => self.reset += 1,
            FaultKind::LostResponse => self.lost_response += 1,
            FaultKind::LateError => self.late_error += 1,
        }
    }
}

/// One decided fault: its kind and, for the error answers, the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    pub kind: FaultKind,
    /// 500, 502 or 503 for [`FaultKind::ServerError`]; 503 for
    /// [`FaultKind::LateError`]; 429 otherwise.
    pub status: u16,
}

/// The seeded dice shared by the proxy and the Kubernetes and Grafana test
/// servers: splitmix64, three draws per request.
pub(crate) struct Dice {
    state: u64,
    rate: f64,
    counts: FaultCounts,
    /// The kinds a fault is drawn from ([`FaultKind::ALL`] unless narrowed).
    kinds: Vec<FaultKind>,
}

fn clamp(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

impl Dice {
    pub fn new(plan: FaultPlan) -> Dice {
        Dice {
            state: plan.seed,
            rate: clamp(plan.rate),
            counts: FaultCounts::default(),
            kinds: FaultKind::ALL.to_vec(),
        }
    }

    pub fn set_rate(&mut self, rate: f64) {
        self.rate = clamp(rate);
    }

    /// Draws faults from `kinds` only (all of them when empty).
    pub fn set_kinds(&mut self, kinds: &[FaultKind]) {
        self.kinds = if kinds.is_empty() {
            FaultKind::ALL.to_vec()
        } else {
            kinds.to_vec()
        };
    }

    pub fn counts(&self) -> FaultCounts {
        self.counts
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Counts one request and decides its fault, if any.
    pub fn roll(&mut self) -> Option<Fault> {
        let (hit, kind, status) = (self.next(), self.next(), self.next());
        self.counts.requests += 1;
        // 53 random bits as a float in [0, 1): below 1.0 always, 0.0 never.
        if ((hit >> 11) as f64 / (1u64 << 53) as f64) >= self.rate {
            return None;
        }
        let kind = self.kinds[(kind % self.kinds.len() as u64) as usize];
        let status = match kind {
            FaultKind::ServerError => [500, 502, 503][(status % 3) as usize],
            FaultKind::LateError => 503,
            _ => 429,
        };
        self.counts.count(kind);
        Some(Fault { kind, status })
    }
}

/// The proxy; dropped, it stops.
pub struct FaultProxy {
    server: Server,
    upstream: String,
    state: Arc<Mutex<State>>,
}

struct State {
    dice: Dice,
    log: Vec<(String, Option<FaultKind>)>,
    /// Added before every answer, as a distant region's round trip.
    latency: std::time::Duration,
    /// At most this many requests a second are forwarded; the others are
    /// throttled, as a service's per-account request rate does.
    per_second: Option<usize>,
    /// When the requests of the last second were forwarded.
    recent: std::collections::VecDeque<std::time::Instant>,
}

impl State {
    /// Whether one more request now goes over the rate.
    fn over_rate(&mut self) -> bool {
        let Some(limit) = self.per_second else {
            return false;
        };
        let now = std::time::Instant::now();
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= std::time::Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= limit {
            return true;
        }
        self.recent.push_back(now);
        false
    }
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port that relays to `upstream`
    /// (`http://127.0.0.1:PORT`) and injects faults after `plan`.
    pub fn start(upstream: &str, plan: FaultPlan) -> FaultProxy {
        let state = Arc::new(Mutex::new(State {
            dice: Dice::new(plan),
            log: Vec::new(),
            latency: std::time::Duration::ZERO,
            per_second: None,
            recent: std::collections::VecDeque::new(),
        }));
        let (shared, to) = (state.clone(), upstream.trim_end_matches('/').to_string());
        let server = Server::start_replying(Arc::new(move |req: &Request| {
            let (fault, n, latency) = {
                let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                let mut fault = s.dice.roll();
                if fault.is_none() && s.over_rate() {
                    s.dice.counts.count(FaultKind::Throttle);
                    fault = Some(Fault {
                        kind: FaultKind::Throttle,
                        status: 429,
                    });
                }
                s.log.push((line(req), fault.map(|f| f.kind)));
                (fault, s.dice.counts().requests, s.latency)
            };
            std::thread::sleep(latency);
            let Some(fault) = fault else {
                return Reply::Send(forward(&to, req));
            };
            let id = format!("fa017000-0000-4000-8000-{n:012x}");
            let proto = protocol(req);
            match fault.kind {
                FaultKind::Throttle => Reply::Send(throttle(proto, &id)),
                FaultKind::ServerError => Reply::Send(server_error(proto, fault.status, &id)),
                FaultKind::Reset => Reply::Close,
                FaultKind::LostResponse => {
                    forward(&to, req);
                    Reply::Close
                }
                FaultKind::LateError => {
                    forward(&to, req);
                    Reply::Send(server_error(proto, fault.status, &id))
                }
            }
        }));
        FaultProxy {
            server,
            upstream: upstream.to_string(),
            state,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// `127.0.0.1:PORT`, e.g. a Grafana workspace endpoint (see
    /// [`AmgServer::link_via`](crate::amg::AmgServer::link_via)).
    pub fn host(&self) -> String {
        self.endpoint().trim_start_matches("http://").to_string()
    }

    /// The server the proxy relays to.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// Requests seen and faults injected so far.
    pub fn injected(&self) -> FaultCounts {
        self.lock().dice.counts()
    }

    /// Changes the share of faulted requests from now on (0.0: none, to
    /// check things out of band through the proxy).
    pub fn set_rate(&self, rate: f64) {
        self.lock().dice.set_rate(rate);
    }

    /// Adds `latency` before every answer from now on.
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.lock().latency = latency;
    }

    /// From now on forwards at most `per_second` requests in any second
    /// and throttles the rest (`None`: no limit). Throttles counted here
    /// show in [`injected`](Self::injected) like drawn ones.
    pub fn set_rate_limit(&self, per_second: Option<usize>) {
        let mut s = self.lock();
        s.per_second = per_second;
        s.recent.clear();
    }

    /// Injects only faults of these kinds from now on (all when empty):
    /// `&[FaultKind::Throttle]` plays a service that throttles and
    /// nothing else.
    pub fn set_kinds(&self, kinds: &[FaultKind]) {
        self.lock().dice.set_kinds(kinds);
    }

    /// Every request in order, as `METHOD /path` (`POST /?Action=CreateVpc`
    /// for the AWS query protocol, `POST / X-Amz-Target` for AWS JSON), with
    /// the fault it got.
    pub fn requests(&self) -> Vec<(String, Option<FaultKind>)> {
        self.lock().log.clone()
    }

    /// The requests logged since the first `from` that change something:
    /// every AWS action but those that only read (`Get…`, `List…`,
    /// `Describe…`, and REST `GET`s).
    pub fn writes_since(&self, from: usize) -> Vec<String> {
        const READS: &[&str] = &["Get", "List", "Describe"];
        self.lock().log[from..]
            .iter()
            .map(|(r, _)| r.clone())
            .filter(|r| {
                let action = r
                    .split("Action=")
                    .nth(1)
                    .or_else(|| r.split(' ').nth(2))
                    .unwrap_or(r);
                !READS.iter().any(|p| action.contains(p)) && !r.starts_with("GET ")
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How the service behind a request answers errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// EC2's query protocol: `<Response><Errors><Error>…`.
    Ec2Query,
    /// The query protocol of IAM, SNS, STS: `<ErrorResponse><Error>…`.
    Query,
    /// AWS JSON 1.0/1.1 (`X-Amz-Target`): `__type` in the body.
    AwsJson,
    /// AWS REST-JSON (EKS, AMP, AMG): `x-amzn-ErrorType` header.
    RestJson,
    /// Anything else, e.g. the Grafana HTTP API.
    Plain,
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The parameters of a form body (`a=b&c=d`, `+` for space).
fn form(body: &[u8]) -> Vec<(String, String)> {
    crate::http::pairs(&String::from_utf8_lossy(body), true)
}

/// The query-protocol parameters, from the form body or the URL query.
fn query_params(req: &Request) -> Vec<(String, String)> {
    let mut params = form(&req.body);
    if !params.iter().any(|(k, _)| k == "Action") {
        params = req.query.clone();
    }
    params
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The service in a SigV4 `Authorization` header's credential scope
/// (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`).
fn signing_service(req: &Request) -> Option<String> {
    let auth = header(req, "authorization")?;
    let scope = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_string)
}

fn protocol(req: &Request) -> Protocol {
    let params = query_params(req);
    if param(&params, "Action").is_some() {
        let ec2 = signing_service(req).as_deref() == Some("ec2")
            || param(&params, "Version") == Some("2016-11-15");
        return if ec2 {
            Protocol::Ec2Query
        } else {
            Protocol::Query
        };
    }
    if header(req, "x-amz-target").is_some() {
        return Protocol::AwsJson;
    }
    let aws = header(req, "authorization").is_some_and(|a| a.starts_with("AWS4-"))
        || req
            .headers
            .iter()
            .any(|(k, _)| k.to_ascii_lowercase().starts_with("x-amz-"));
    if aws {
        Protocol::RestJson
    } else {
        Protocol::Plain
    }
}

/// How a request shows in [`FaultProxy::requests`].
fn line(req: &Request) -> String {
    if let Some(action) = param(&query_params(req), "Action") {
        return format!("{} {}?Action={action}", req.method, req.path);
    }
    match header(req, "x-amz-target") {
        Some(target) => format!("{} {} {target}", req.method, req.path),
        None => format!("{} {}", req.method, req.path),
    }
}

fn xml(status: u16, body: String) -> Response {
    Response {
        status,
        headers: vec![("Content-Type".into(), "text/xml;charset=UTF-8".into())],
        body: body.into_bytes(),
    }
}

/// An error in the protocol's shape.
fn aws_error(
    proto: Protocol,
    status: u16,
    code: &str,
    sender: bool,
    message: &str,
    id: &str,
) -> Response {
    match proto {
        Protocol::Ec2Query => xml(
            status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
                 <Code>{code}</Code><Message>{message}</Message></Error></Errors>\
                 <RequestID>{id}</RequestID></Response>"
            ),
        ),
        Protocol::Query => xml(
            status,
            format!(
                "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code>\
                 <Message>{message}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                if sender { "Sender" } else { "Receiver" }
            ),
        ),
        Protocol::AwsJson => {
            let mut r = Response::json(status, &json!({ "__type": code, "message": message }));
            r.headers[0].1 = "application/x-amz-json-1.1".into();
            r.headers.push(("x-amzn-ErrorType".into(), code.into()));
            r.headers.push(("x-amzn-RequestId".into(), id.into()));
            r
        }
        Protocol::RestJson | Protocol::Plain => {
            let mut r = Response::json(status, &json!({ "message": message }));
            r.headers.push(("x-amzn-ErrorType".into(), code.into()));
            r.headers.push(("x-amzn-RequestId".into(), id.into()));
            r
        }
    }
}

fn throttle(proto: Protocol, id: &str) -> Response {
    match proto {
        Protocol::Ec2Query => aws_error(
            proto,
            503,
            "RequestLimitExceeded",
            true,
            "Request limit exceeded.",
            id,
        ),
        Protocol::Query | Protocol::AwsJson => {
            let code = if proto == Protocol::Query {
                "Throttling"
            } else {
                "ThrottlingException"
            };
            aws_error(proto, 400, code, true, "Rate exceeded", id)
        }
        Protocol::RestJson => {
            aws_error(proto, 429, "ThrottlingException", true, "Rate exceeded", id)
        }
        Protocol::Plain => {
            let mut r = Response::json(429, &json!({ "message": "Too many requests" }));
            r.headers.push(("Retry-After".into(), "0".into()));
            r
        }
    }
}

fn server_error(proto: Protocol, status: u16, id: &str) -> Response {
    let message = format!("injected fault: the service answered {status}");
    match proto {
        Protocol::Ec2Query | Protocol::Query => {
            let code = if status == 500 {
                "InternalFailure"
            } else {
                "ServiceUnavailable"
            };
            aws_error(proto, status, code, false, &message, id)
        }
        Protocol::AwsJson | Protocol::RestJson => {
            let code = if status == 500 {
                "InternalServerException"
            } else {
                "ServiceUnavailableException"
            };
            aws_error(proto, status, code, false, &message, id)
        }
        Protocol::Plain => Response::json(status, &json!({ "message": message })),
    }
}

#[cfg(test)]
mod tests;
