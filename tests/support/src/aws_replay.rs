//! Recorded AWS exchanges for provider unit tests, in the manner of the
//! SDK's `StaticReplayClient`: an SDK configuration whose HTTP client
//! answers each request with the next canned answer, in order, and keeps
//! every request for the test to look at — its method and path, the query
//! protocol's `Action` and form fields (EC2, IAM, SNS, STS), or its JSON
//! body (EKS, AMP, Amazon Managed Grafana). No network, no emulator: what a
//! create sends for given inputs, and what record a given answer makes,
//! including an answer that leaves optional fields out.
//!
//! It implements the SDK's public `HttpClient` trait itself rather than
//! use `aws-smithy-http-client`'s replay client: that needs the client's
//! `test-util` feature, which would change the HTTP client's features
//! between the builds that include this crate and those that do not
//! (`cargo build -p meshmon`), and so build the AWS SDK twice.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use crate::http::{decode, pairs};

/// The region every replayed client is in.
pub const REGION: &str = "eu-west-1";

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// 200 with this body (XML for the query protocols, JSON for the rest).
    pub fn ok(body: &str) -> Self {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// A JSON API's error: the status, and the code in the header the
    /// REST-JSON services send it in.
    pub fn json_error(status: u16, code: &str) -> Self {
        Answer {
            status,
            headers: vec![("x-amzn-errortype".into(), code.into())],
            body: format!("{{\"message\": \"{code}\"}}"),
        }
    }

    /// A query protocol's error (IAM, SNS, STS): `<ErrorResponse>`.
    pub fn query_error(status: u16, code: &str) -> Self {
        Answer::xml(
            status,
            &format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
                 <Message>{code}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
            ),
        )
    }

    /// EC2's error: `<Response><Errors>`.
    pub fn ec2_error(status: u16, code: &str) -> Self {
        Answer::xml(
            status,
            &format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>{code}</Message>\
                 </Error></Errors><RequestID>r</RequestID></Response>"
            ),
        )
    }

    fn xml(status: u16, body: &str) -> Self {
        Answer {
            status,
            headers: vec![("content-type".into(), "text/xml".into())],
            body: body.to_string(),
        }
    }
}

/// STS's answer to GetCallerIdentity: account 123456789012 in `aws`.
pub fn caller_identity() -> Answer {
    Answer::ok(
        "<GetCallerIdentityResponse><GetCallerIdentityResult>\
         <Arn>arn:aws:iam::123456789012:user/meshmon</Arn><UserId>AIDA</UserId>\
         <Account>123456789012</Account></GetCallerIdentityResult>\
         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
    )
}

/// One request as the client sent it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// Query parameters, percent-decoded.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Sent {
    /// The form fields of a query-protocol request (`Action`, `Version`
    /// and the operation's parameters, flattened: `Tags.member.1.Key`).
    pub fn form(&self) -> BTreeMap<String, String> {
        pairs(&self.body, true).into_iter().collect()
    }

    /// A query-protocol request's `Action`.
    pub fn action(&self) -> String {
        self.form().remove("Action").unwrap_or_default()
    }

    /// The JSON body of a REST-JSON request (null when there is none).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The form fields whose names start with `prefix`, as `rest = value`
    /// (for flattened lists: `TagSpecification.1.Tag.`).
    pub fn form_under(&self, prefix: &str) -> BTreeMap<String, String> {
        self.form()
            .into_iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v)))
            .collect()
    }
}

struct Inner {
    answers: Mutex<VecDeque<Answer>>,
    sent: Mutex<Vec<Sent>>,
}

/// A client that replays canned answers; clones share them.
#[derive(Clone)]
pub struct Replay(Arc<Inner>);

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Replay")
    }
}

impl Replay {
    pub fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        Replay(Arc::new(Inner {
            answers: Mutex::new(answers.into_iter().collect()),
            sent: Mutex::new(Vec::new()),
        }))
    }

    /// An SDK configuration that sends through this client: region
    /// [`REGION`], fixed test credentials, and no retries, so that each
    /// request takes exactly one answer.
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .region(Region::new(REGION))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDREPLAY",
                "replay-secret",
                None,
                None,
                "replay",
            )))
            .http_client(self.clone())
            .behavior_version(BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled())
            .build()
    }

    /// Every request sent so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.0.sent.lock().unwrap().clone()
    }

    /// The answers no request has taken yet.
    pub fn unused(&self) -> usize {
        self.0.answers.lock().unwrap().len()
    }
}

fn sent(request: &HttpRequest) -> Sent {
    let uri = request.uri().to_string();
    let target = uri
        .split_once("://")
        .map(|(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]))
        .unwrap_or(&uri);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Sent {
        method: request.method().to_string(),
        path: decode(path),
        query: pairs(query, false),
        headers: request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
    }
}

impl HttpConnector for Replay {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.0.sent.lock().unwrap().push(sent(&request));
        let Some(answer) = self.0.answers.lock().unwrap().pop_front() else {
            return HttpConnectorFuture::ready(Err(ConnectorError::other(
                format!(
                    "the replay has no answer left for {} {}",
                    request.method(),
                    request.uri()
                )
                .into(),
                None,
            )));
        };
        let mut response = HttpResponse::new(
            StatusCode::try_from(answer.status).expect("a valid status"),
            SdkBody::from(answer.body),
        );
        for (k, v) in answer.headers {
            response.headers_mut().insert(k, v);
        }
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Replay {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
