//! Concurrency that follows the service: one additive-increase,
//! multiplicative-decrease limiter per AWS service and region, in front of
//! the HTTP client every AWS client of a configured provider shares (so
//! per account too: a provider instance has one set of credentials).
//!
//! Each request waits for a slot of its service. Until the service first
//! throttles, every healthy answer adds a slot, so the window doubles per
//! window's worth of answers (TCP's slow start: a fleet's refresh reaches
//! a wide window in a few round trips). After that, an answer that is not a
//! throttle widens the window by one slot per window's worth of answers
//! (additive increase); a throttle halves it (multiplicative decrease),
//! down to one slot, at most once per window: the requests that were
//! already in flight when the window shrank say nothing new when they are
//! throttled too. A throttled request had no effect, so the limiter sends
//! it again itself after a short pause, waiting for a slot like any request
//! ([`THROTTLE_RETRIES`] times); only then does the SDK see the throttle and
//! retry it in its standard mode (without its own client-side rate limiter,
//! so that one decision is made per call).
//!
//! A throttle is what AWS answers when a caller goes too fast: HTTP 429,
//! `x-amzn-ErrorType: ThrottlingException` (REST-JSON services: EKS, AMP,
//! AMG), or an error body with one of [`THROTTLE_CODES`] (the query
//! protocol's `<Code>Throttling</Code>` for IAM, SNS and STS, EC2's 503
//! `RequestLimitExceeded`, the JSON protocol's `__type`). The list is the
//! SDK's own (aws-runtime, `retries::classifiers::THROTTLING_ERRORS`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use meshmon_provider_sdk::Traffic;
use tokio::sync::Notify;

/// The error codes AWS throttles with.
pub const THROTTLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// How many requests of one service run at once before any answer came
/// back; slow start doubles it every round trip from there. (64 made 3.5
/// times as many throttled attempts in the fleet benchmark's throttling
/// run.)
pub const INITIAL_WINDOW: f64 = 10.0;

/// The most a window grows to; the engine's `--parallelism` bounds the
/// operations in flight anyway, and a resource's own reads are sequential.
pub const MAX_WINDOW: f64 = 256.0;

/// The limiters, by service, region and the access key the requests were
/// signed with (so by account: two provider instances with other
/// credentials never share a window).
#[derive(Debug, Default)]
pub struct Limiters {
    by_service: Mutex<BTreeMap<(String, String), Arc<Aimd>>>,
}

/// The limiters every AWS client of this process sends through.
pub fn global() -> &'static Arc<Limiters> {
    static GLOBAL: std::sync::LazyLock<Arc<Limiters>> =
        std::sync::LazyLock::new(|| Arc::new(Limiters::default()));
    &GLOBAL
}

impl Limiters {
    fn of(&self, key: (String, String)) -> Arc<Aimd> {
        self.by_service
            .lock()
            .expect("limiters")
            .entry(key)
            .or_insert_with(|| Arc::new(Aimd::new(INITIAL_WINDOW, MAX_WINDOW)))
            .clone()
    }

    /// Every service called so far, by `SERVICE REGION` (`eks eu-west-1`):
    /// calls and throttles added up over the keys signing them, and the
    /// narrowest window among them as the concurrency it settled at.
    pub fn traffic(&self) -> Vec<Traffic> {
        let mut out: BTreeMap<String, Traffic> = BTreeMap::new();
        for ((service, _), l) in self.by_service.lock().expect("limiters").iter() {
            let s = l.state.lock().expect("limiter");
            let window = s.window.floor() as usize;
            let t = out.entry(service.clone()).or_insert_with(|| Traffic {
                service: service.clone(),
                calls: 0,
                throttled: 0,
                concurrency: window,
            });
            t.calls += s.calls;
            t.throttled += s.throttled;
            t.concurrency = t.concurrency.min(window);
        }
        out.into_values().collect()
    }

    /// `http`, with every request waiting for its service's slot.
    pub fn in_front_of(self: &Arc<Self>, http: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(Limited {
            inner: http,
            limiters: self.clone(),
        })
    }
}

/// How an answer bears on the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered, not throttled: the service keeps up.
    Healthy,
    Throttled,
    /// No answer (a connection error, a cancelled request), or a server
    /// error: says nothing about the rate.
    Silent,
}

/// One service's window.
#[derive(Debug)]
pub struct Aimd {
    state: Mutex<State>,
    freed: Notify,
}

#[derive(Debug)]
struct State {
    window: f64,
    max: f64,
    in_flight: usize,
    /// Bumped at every decrease: a request started before it has no say
    /// in the next one.
    epoch: u64,
    /// No throttle yet: each healthy answer adds a whole slot.
    slow_start: bool,
    calls: u64,
    throttled: u64,
}

/// A slot; released on drop, as [`Outcome::Silent`] unless told otherwise.
pub struct Permit {
    limiter: Arc<Aimd>,
    epoch: u64,
    outcome: Outcome,
}

impl Permit {
    /// Releases the slot with what the answer said.
    pub fn finish(mut self, outcome: Outcome) {
        self.outcome = outcome;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.release(self.epoch, self.outcome);
    }
}

impl Aimd {
    pub fn new(initial: f64, max: f64) -> Self {
        Aimd {
            state: Mutex::new(State {
                window: initial.clamp(1.0, max),
                max,
                in_flight: 0,
                epoch: 0,
                slow_start: true,
                calls: 0,
                throttled: 0,
            }),
            freed: Notify::new(),
        }
    }

    /// Waits for a slot.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut s = self.state.lock().expect("limiter");
                if s.in_flight < s.window.floor() as usize {
                    s.in_flight += 1;
                    s.calls += 1;
                    return Permit {
                        limiter: self.clone(),
                        epoch: s.epoch,
                        outcome: Outcome::Silent,
                    };
                }
            }
            freed.await;
        }
    }

    fn release(&self, epoch: u64, outcome: Outcome) {
        {
            let mut s = self.state.lock().expect("limiter");
            s.in_flight -= 1;
            match outcome {
                Outcome::Healthy => {
                    let step = if s.slow_start { 1.0 } else { 1.0 / s.window };
                    s.window = (s.window + step).min(s.max);
                }
                Outcome::Throttled => {
                    s.throttled += 1;
                    s.slow_start = false;
                    if epoch == s.epoch {
                        s.window = (s.window / 2.0).max(1.0);
                        s.epoch += 1;
                    }
                }
                Outcome::Silent => {}
            }
        }
        self.freed.notify_waiters();
    }

    /// The current window, in whole requests.
    pub fn window(&self) -> usize {
        self.state.lock().expect("limiter").window.floor() as usize
    }
}

/// The HTTP client with the limiters in front.
#[derive(Debug)]
struct Limited {
    inner: SharedHttpClient,
    limiters: Arc<Limiters>,
}

impl HttpClient for Limited {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limiters: self.limiters.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    limiters: Arc<Limiters>,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let limiter = self.limiters.of(service_of(&request));
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let mut request = Some(request);
            let mut throttles = 0;
            loop {
                let permit = limiter.acquire().await;
                let sending = request.take().expect("a request to send");
                let spare = sending.try_clone();
                let response = inner.call(sending).await?;
                let (response, outcome) = classify(response).await?;
                permit.finish(outcome);
                // A throttled request had no effect: it waits for a slot
                // again, after a short pause, rather than going back to the
                // SDK's slower backoff. After THROTTLE_RETRIES the SDK gets
                // the throttle and retries as it would any.
                match (outcome, spare) {
                    (Outcome::Throttled, Some(spare)) if throttles < THROTTLE_RETRIES => {
                        throttles += 1;
                        tokio::time::sleep(pause(throttles)).await;
                        request = Some(spare);
                    }
                    _ => return Ok(response),
                }
            }
        })
    }
}

/// How often the limiter itself sends a throttled request again.
pub const THROTTLE_RETRIES: u32 = 10;

/// The pause before sending a throttled request again: 50 ms doubling
/// per throttle up to 2 s, less a random part of up to a half, so that
/// requests throttled together do not come back together.
fn pause(throttles: u32) -> Duration {
    let full = Duration::from_millis(50)
        .saturating_mul(1 << throttles.min(6))
        .min(Duration::from_secs(2));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    full - full.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// (`SERVICE REGION`, access key) from the request's SigV4 credential
/// scope (`Credential=AKID/20261207/eu-west-1/eks/aws4_request`); the
/// host for a request that is not signed.
pub fn service_of(request: &HttpRequest) -> (String, String) {
    let scope = request
        .headers()
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .map(|c| c.split('/').collect::<Vec<_>>());
    match scope.as_deref() {
        Some([key, _, region, service, ..]) => (format!("{service} {region}"), key.to_string()),
        _ => (
            request
                .uri()
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split(['/', ':']).next())
                .unwrap_or("unknown")
                .to_string(),
            String::new(),
        ),
    }
}

/// What an answer says about the rate. The body of an error that may be
/// a throttle (400, 503) is read to tell, and put back as it was.
pub async fn classify(
    mut response: HttpResponse,
) -> Result<(HttpResponse, Outcome), ConnectorError> {
    let status = response.status().as_u16();
    let header_throttle = response
        .headers()
        .get("x-amzn-errortype")
        .is_some_and(|t| THROTTLE_CODES.contains(&t.split(':').next().unwrap_or(t).trim()));
    if status == 429 || header_throttle {
        return Ok((response, Outcome::Throttled));
    }
    if status != 400 && status != 503 {
        let outcome = if status >= 500 {
            Outcome::Silent
        } else {
            Outcome::Healthy
        };
        return Ok((response, outcome));
    }
    let body = std::mem::replace(response.body_mut(), SdkBody::taken());
    let bytes = ByteStream::new(body)
        .collect()
        .await
        .map_err(|e| ConnectorError::io(e.into()))?
        .into_bytes();
    let throttled = names_a_throttle(&String::from_utf8_lossy(&bytes));
    *response.body_mut() = SdkBody::from(bytes);
    let outcome = match (throttled, status) {
        (true, _) => Outcome::Throttled,
        (false, 503) => Outcome::Silent,
        (false, _) => Outcome::Healthy,
    };
    Ok((response, outcome))
}

/// Whether an error body names a throttling code: `<Code>Throttling</Code>`
/// (XML) or `"__type": "…#ThrottlingException"` / `"code": "…"` (JSON).
fn names_a_throttle(body: &str) -> bool {
    THROTTLE_CODES.iter().any(|code| {
        body.contains(&format!("<Code>{code}</Code>"))
            || body.contains(&format!("#{code}\""))
            || body.contains(&format!("\"{code}\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        );
        for (k, v) in headers {
            r.headers_mut().insert(k.to_string(), v.to_string());
        }
        r
    }

    async fn outcome(status: u16, headers: &[(&str, &str)], body: &str) -> (Outcome, String) {
        let (r, o) = classify(response(status, headers, body)).await.unwrap();
        let text = String::from_utf8_lossy(r.body().bytes().unwrap()).into_owned();
        (o, text)
    }

    #[tokio::test]
    async fn each_protocols_throttle_is_recognised_and_the_body_kept() {
        let iam = "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_eq!(
            outcome(400, &[], iam).await,
            (Outcome::Throttled, iam.to_string())
        );
        let ec2 = "<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>";
        assert_eq!(outcome(503, &[], ec2).await.0, Outcome::Throttled);
        let json = r#"{"__type":"com.amazonaws#ThrottlingException","message":"slow down"}"#;
        assert_eq!(outcome(400, &[], json).await.0, Outcome::Throttled);
        assert_eq!(
            outcome(
                400,
                &[("x-amzn-errortype", "ThrottlingException:http://x")],
                "{}"
            )
            .await
            .0,
            Outcome::Throttled
        );
        assert_eq!(outcome(429, &[], "").await.0, Outcome::Throttled);
    }

    #[tokio::test]
    async fn other_answers_are_healthy_or_say_nothing() {
        let invalid = "<ErrorResponse><Error><Code>ValidationError</Code></Error></ErrorResponse>";
        assert_eq!(
            outcome(400, &[], invalid).await,
            (Outcome::Healthy, invalid.to_string())
        );
        assert_eq!(outcome(200, &[], "{}").await.0, Outcome::Healthy);
        assert_eq!(outcome(404, &[], "{}").await.0, Outcome::Healthy);
        assert_eq!(outcome(500, &[], "{}").await.0, Outcome::Silent);
        assert_eq!(
            outcome(503, &[], "<Code>ServiceUnavailable</Code>").await.0,
            Outcome::Silent
        );
        // A code that merely contains a throttling code's name is not one.
        assert_eq!(
            outcome(400, &[], "<Code>NotThrottlingReally</Code>")
                .await
                .0,
            Outcome::Healthy
        );
    }

    #[test]
    fn the_service_comes_from_the_signature_scope() {
        let mut r = HttpRequest::new(SdkBody::empty());
        r.set_uri("https://eks.eu-west-1.amazonaws.com/clusters")
            .unwrap();
        assert_eq!(service_of(&r).0, "eks.eu-west-1.amazonaws.com");
        r.headers_mut().insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20261207/eu-west-1/eks/aws4_request, SignedHeaders=host, Signature=abc",
        );
        assert_eq!(
            service_of(&r),
            ("eks eu-west-1".to_string(), "AKID".to_string())
        );
    }

    #[tokio::test]
    async fn healthy_answers_double_the_window_until_a_throttle_then_add_one_per_window() {
        let l = Arc::new(Aimd::new(4.0, 100.0));
        for _ in 0..4 {
            l.acquire().await.finish(Outcome::Healthy);
        }
        assert_eq!(
            l.window(),
            8,
            "slow start: four answers double a window of four"
        );
        l.acquire().await.finish(Outcome::Throttled);
        assert_eq!(l.window(), 4);
        for _ in 0..4 {
            l.acquire().await.finish(Outcome::Healthy);
        }
        assert_eq!(
            l.window(),
            4,
            "four answers add about one slot to a window of four"
        );
        for _ in 0..8 {
            l.acquire().await.finish(Outcome::Healthy);
        }
        assert!(l.window() >= 5, "{}", l.window());
        let capped = Arc::new(Aimd::new(2.0, 3.0));
        for _ in 0..100 {
            capped.acquire().await.finish(Outcome::Healthy);
        }
        assert_eq!(capped.window(), 3, "never past the ceiling");
    }

    #[tokio::test]
    async fn throttles_halve_once_per_window_and_never_below_one() {
        let l = Arc::new(Aimd::new(16.0, 100.0));
        let in_flight: Vec<Permit> = taken(&l, 8).await;
        for p in in_flight {
            p.finish(Outcome::Throttled);
        }
        assert_eq!(l.window(), 8, "eight throttles of one window halve it once");
        for _ in 0..10 {
            l.acquire().await.finish(Outcome::Throttled);
        }
        assert_eq!(l.window(), 1, "the floor is one");
        let silent = l.acquire().await;
        drop(silent);
        assert_eq!(l.window(), 1);
    }

    /// Answers each call with the next status, and counts the calls.
    #[derive(Debug)]
    struct Statuses(Mutex<Vec<u16>>, std::sync::atomic::AtomicUsize);

    impl HttpConnector for Statuses {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let status = self.0.lock().unwrap().remove(0);
            HttpConnectorFuture::ready(Ok(response(status, &[], "{}")))
        }
    }

    fn signed() -> HttpRequest {
        let mut r = HttpRequest::new(SdkBody::from("Action=GetRole"));
        r.set_uri("https://iam.amazonaws.com/").unwrap();
        r.headers_mut().insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=abc",
        );
        r
    }

    #[tokio::test]
    async fn a_throttled_request_is_sent_again_by_the_limiter_and_counted() {
        let inner = Arc::new(Statuses(
            Mutex::new(vec![429, 429, 200]),
            Default::default(),
        ));
        let limiters = Arc::new(Limiters::default());
        let connector = LimitedConnector {
            inner: SharedHttpConnector::new(ArcConnector(inner.clone())),
            limiters: limiters.clone(),
        };
        let response = connector.call(signed()).await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            200,
            "the SDK never saw the throttles"
        );
        assert_eq!(inner.1.load(std::sync::atomic::Ordering::SeqCst), 3);
        let traffic = limiters.traffic();
        assert_eq!(traffic.len(), 1);
        assert_eq!(
            (
                traffic[0].service.as_str(),
                traffic[0].calls,
                traffic[0].throttled
            ),
            ("iam us-east-1", 3, 2)
        );
        assert_eq!(
            traffic[0].concurrency, 2,
            "each retry was sent after the last decrease, so each throttle halves: 10, 5, 2.5, then +0.4"
        );
    }

    #[derive(Debug)]
    struct ArcConnector(Arc<Statuses>);

    impl HttpConnector for ArcConnector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            self.0.call(request)
        }
    }

    #[test]
    fn pauses_grow_from_tens_of_milliseconds_to_two_seconds_with_jitter() {
        for throttles in 1..=20 {
            let p = pause(throttles);
            let full = Duration::from_millis(50 << throttles.min(6)).min(Duration::from_secs(2));
            assert!(p <= full && p >= full / 2, "{throttles}: {p:?} of {full:?}");
        }
    }

    #[tokio::test]
    async fn a_full_window_makes_the_next_request_wait_for_a_slot() {
        let l = Arc::new(Aimd::new(1.0, 1.0));
        let first = l.acquire().await;
        let waiting = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire().await.finish(Outcome::Healthy) })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the window of one is taken");
        first.finish(Outcome::Healthy);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the freed slot is taken")
            .unwrap();
    }

    /// `n` slots taken at once.
    async fn taken(l: &Arc<Aimd>, n: usize) -> Vec<Permit> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(l.acquire().await);
        }
        out
    }
}
