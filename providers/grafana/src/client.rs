//! The Grafana HTTP API client: JSON in and out, a bearer token (or basic
//! auth for "user:password"), retries for what is worth retrying, and
//! errors that name the request (`POST /api/folders`), the status, Grafana's
//! own message and a hint. A 404 on a read is `Ok(None)`, never an error.
//!
//! Retried, up to five attempts with backoff (honouring `Retry-After`):
//!
//! - a request that may safely run twice ([`Retry::Transient`]: GET, PUT,
//!   DELETE, a POST that overwrites): after 429, 502–504 (an AMG workspace
//!   being scaled answers 503 for a moment) and connection failures;
//! - a POST that creates ([`Retry::Create`]): only after a failure that
//!   certainly came before Grafana acted on it — a 429, or a connection
//!   that could not be made. Any other failure (a 5xx, a timeout, a
//!   connection lost after the request was sent, an answer cut off) may
//!   have come after the object was made, so it is returned marked
//!   ambiguous: the engine then asks the resource to `recover` the object
//!   before it creates again, rather than making a second one or failing on
//!   a 409 for the first.
//!
//! A 4xx other than 429 is the caller's to handle.

use std::time::Duration;

use meshmon_provider_sdk::ProviderError;
use reqwest::{Method, StatusCode};
use serde_json::Value as Json;

const ATTEMPTS: u32 = 5;

pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Auth,
}

enum Auth {
    Bearer(String),
    Basic(String, String),
}

/// How a request may be retried (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// It may run twice: retried after 429, 502–504 and connection failures.
    Transient,
    /// It creates: retried only after a 429 or a connection never made;
    /// other failures are ambiguous.
    Create,
}

impl Retry {
    /// POST creates; GET, PUT and DELETE may run twice.
    fn for_method(method: &Method) -> Self {
        if *method == Method::POST {
            Retry::Create
        } else {
            Retry::Transient
        }
    }
}

/// A Grafana answer that is not a success.
pub struct Failure {
    pub status: u16,
    pub error: ProviderError,
}

impl Client {
    pub fn new(url: &str, auth: &str) -> Result<Self, ProviderError> {
        let base = url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base).map_err(|e| {
            ProviderError::new(format!("`url` = {base:?} is not a URL: {e}"))
                .with_hint("write the Grafana root URL with its scheme, like \"https://g-abc123.grafana-workspace.eu-west-1.amazonaws.com\"")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ProviderError::new(format!(
                "`url` = {base:?} must start with https:// or http://"
            )));
        }
        if auth.trim().is_empty() {
            return Err(ProviderError::new("`auth` is empty").with_hint(
                "set `auth` under [providers.grafana] to a service-account token, like \"${aws_grafana_service_account_token.meshmon.key}\"",
            ));
        }
        let auth = match auth.split_once(':') {
            Some((u, p)) => Auth::Basic(u.to_string(), p.to_string()),
            None => Auth::Bearer(auth.trim().to_string()),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("meshmon/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::new(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client { http, base, auth })
    }

    /// Sends one request, retried as its method allows
    /// ([`Retry::for_method`]); the JSON answer (null for an empty body) on 2xx.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, Failure> {
        let retry = Retry::for_method(&method);
        self.call_with(method, path, body, retry).await
    }

    /// Sends one request, retried as `retry` says.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        retry: Retry,
    ) -> Result<Json, Failure> {
        let operation = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base));
            req = match &self.auth {
                Auth::Bearer(t) => req.bearer_auth(t),
                Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
            };
            if let Some(b) = body {
                req = req.json(b);
            }
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    match resp.text().await {
                        Err(e) if status.is_success() => {
                            let failure = Failure {
                                status: 0,
                                error: ProviderError::api(
                                    &operation,
                                    Some(status.as_u16().to_string()),
                                    format!("Grafana's answer was cut off: {e}"),
                                ),
                            };
                            if retry == Retry::Create {
                                return Err(ambiguous(failure));
                            }
                            (failure, None)
                        }
                        text => {
                            let text = text.unwrap_or_default();
                            if status.is_success() {
                                return Ok(if text.trim().is_empty() {
                                    Json::Null
                                } else {
                                    serde_json::from_str(&text).unwrap_or(Json::String(text))
                                });
                            }
                            let failure = Failure {
                                status: status.as_u16(),
                                error: error(&operation, status, &text),
                            };
                            match (retry, status.as_u16()) {
                                (_, 429) | (Retry::Transient, 502..=504) => (failure, retry_after),
                                (Retry::Create, 500..=599) => return Err(ambiguous(failure)),
                                _ => return Err(failure),
                            }
                        }
                    }
                }
                Err(e) => {
                    let failure = Failure {
                        status: 0,
                        error: ProviderError::api(&operation, None, format!("cannot reach Grafana at {}: {e}", self.base))
                            .with_hint("check `url` under [providers.grafana] and that this machine can reach it"),
                    };
                    // Only a connection never made certainly came before
                    // Grafana saw the request.
                    if retry == Retry::Create && !e.is_connect() {
                        return Err(ambiguous(failure));
                    }
                    (failure, None)
                }
            };
            if attempt >= ATTEMPTS {
                return Err(outcome.0);
            }
            tokio::time::sleep(outcome.1.unwrap_or(delay).min(Duration::from_secs(20))).await;
            delay *= 2;
            attempt += 1;
        }
    }

    /// A request whose failure is an error.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, ProviderError> {
        self.call(method, path, body).await.map_err(|f| f.error)
    }

    /// A request whose failure is an error, retried as `retry` says.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        retry: Retry,
    ) -> Result<Json, ProviderError> {
        self.call_with(method, path, body, retry)
            .await
            .map_err(|f| f.error)
    }

    /// A GET where 404 means "gone": `Ok(None)`.
    pub async fn get(&self, path: &str) -> Result<Option<Json>, ProviderError> {
        match self.call(Method::GET, path, None).await {
            Ok(v) => Ok(Some(v)),
            Err(f) if f.status == 404 => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    /// A DELETE where 404 means "already gone": success.
    pub async fn delete(&self, path: &str) -> Result<(), ProviderError> {
        match self.call(Method::DELETE, path, None).await {
            Ok(_) => Ok(()),
            Err(f) if f.status == 404 => Ok(()),
            Err(f) => Err(f.error),
        }
    }
}

/// A failure of a create that may have taken effect.
fn ambiguous(mut f: Failure) -> Failure {
    f.error = f.error.ambiguous().with_hint(
        "Grafana may have made the object before the request failed: `meshmon apply` looks for it \
         before it creates it again",
    );
    f
}

/// Percent-encodes one path segment (names and uids may hold spaces).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Grafana's error as a `ProviderError`: its `message` (and `status`, a
/// code like "version-mismatch", when it sends one) and a hint.
fn error(operation: &str, status: StatusCode, body: &str) -> ProviderError {
    let parsed: Json = serde_json::from_str(body).unwrap_or(Json::Null);
    let message = parsed
        .get("message")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            let b = body.trim();
            if b.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                b.chars().take(300).collect()
            }
        });
    let code = match parsed.get("status").and_then(Json::as_str) {
        Some(s) => format!("{} {s}", status.as_u16()),
        None => status.as_u16().to_string(),
    };
    let hint = match status.as_u16() {
        401 => Some(
            "Grafana rejected the credentials: the token in `auth` is wrong or has expired. For AMG, \
             `meshmon apply` renews an aws_grafana_service_account_token inside its renewal margin; \
             `meshmon apply -replace aws_grafana_service_account_token.NAME` renews it now",
        ),
        403 => Some(
            "the token's role is too low for this: give its service account grafana_role = \"ADMIN\" \
             (EDITOR can manage dashboards but not data sources or alerting provisioning)",
        ),
        409 => Some(
            "an object with this name already exists: choose another name, or adopt it with `meshmon import`",
        ),
        412 => Some(
            "it was changed by someone else in the meantime, or the name is taken in its folder: run `meshmon apply` again",
        ),
        429 | 502..=504 => {
            Some("Grafana stayed unavailable after retries: run `meshmon apply` again in a minute")
        }
        _ => None,
    };
    let e = ProviderError::api(operation, Some(code), message);
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_grafanas_message_and_a_hint() {
        let e = error(
            "POST /api/folders",
            StatusCode::UNAUTHORIZED,
            r#"{"message":"invalid API key"}"#,
        );
        assert_eq!(e.to_string(), "POST /api/folders: 401: invalid API key");
        assert!(e.hint.unwrap().contains("expired"));
        let e = error(
            "POST /api/dashboards/db",
            StatusCode::PRECONDITION_FAILED,
            r#"{"message":"The dashboard has been changed by someone else","status":"version-mismatch"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("412 version-mismatch"));
        let e = error("GET /api/health", StatusCode::FORBIDDEN, "");
        assert_eq!(e.message, "Forbidden");
        assert!(e.hint.unwrap().contains("ADMIN"));
    }

    #[test]
    fn bad_urls_and_empty_tokens_are_refused() {
        assert!(Client::new("grafana.example.com", "t").is_err());
        assert!(Client::new("https://grafana.example.com/", " ").is_err());
        let c = Client::new("https://grafana.example.com/", "t").unwrap();
        assert_eq!(c.base, "https://grafana.example.com");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
