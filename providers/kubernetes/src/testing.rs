//! What the resources' unit tests share: a connection whose kube client
//! sends every request to a list of canned answers instead of a cluster,
//! keeping what was sent, in the manner of kube-rs's own tests
//! (`Client::new` over a `tower` service). No network: the answers are
//! given back in order, and a request past the last one gets a 418 Status
//! that says so.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use kube::client::Body;
use serde_json::{Value as Json, json};

use crate::conn::Conn;

/// One request as the client sent it.
#[derive(Clone, Debug)]
pub(crate) struct Sent {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Json,
}

impl Sent {
    /// `METHOD /path`, for comparing a run of requests at once.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The answers still to give and what was sent; clones share them.
#[derive(Clone, Default)]
pub(crate) struct Cluster {
    answers: Arc<Mutex<VecDeque<(u16, Json)>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl Cluster {
    /// Every request so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }
}

/// A connection whose requests get `answers` (status and JSON body) in order.
pub(crate) fn cluster(answers: Vec<(u16, Json)>) -> (Cluster, Arc<Conn>) {
    let c = Cluster {
        answers: Arc::new(Mutex::new(answers.into())),
        ..Cluster::default()
    };
    let client = kube::Client::new(c.clone(), "default");
    (c, Conn::over(client))
}

/// The Status a Kubernetes API server answers a failure with.
pub(crate) fn status(code: u16, reason: &str, message: &str) -> (u16, Json) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn decode(s: &str) -> String {
    meshmon_test_support::http::decode(s)
}

impl tower_service::Service<http::Request<Body>> for Cluster {
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let me = self.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            let query = parts
                .uri
                .query()
                .unwrap_or_default()
                .split('&')
                .filter(|q| !q.is_empty())
                .map(|q| {
                    let (k, v) = q.split_once('=').unwrap_or((q, ""));
                    (decode(k), decode(v))
                })
                .collect();
            let line = format!("{} {}", parts.method, parts.uri);
            me.sent.lock().unwrap().push(Sent {
                method: parts.method.to_string(),
                path: decode(parts.uri.path()),
                query,
                content_type: parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                body: serde_json::from_slice(&bytes).unwrap_or(Json::Null),
            });
            let (code, answer) = me.answers.lock().unwrap().pop_front().unwrap_or_else(|| {
                status(418, "Teapot", &format!("no canned answer left for {line}"))
            });
            Ok(http::Response::builder()
                .status(code)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(answer.to_string().into_bytes()))
                .expect("a response"))
        })
    }
}

pub(crate) use meshmon_provider_sdk::testing::{creating, inputs};
