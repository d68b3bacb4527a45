//! Turns kube-rs errors into `ProviderError`s that name the request
//! (`PATCH apps/v1 Deployment prod/dj`), the status (`409 Conflict`), the
//! API server's own message, and what to do about it. Which statuses are
//! worth retrying is decided here too, so every caller agrees.

use std::future::Future;
use std::time::Duration;

use meshmon_provider_sdk::ProviderError;

/// The HTTP status of an API error, if the server answered at all.
pub fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// A 404 from the API server (the object, or its namespace, is missing).
pub fn is_not_found(e: &kube::Error) -> bool {
    status_code(e) == Some(404)
}

/// Worth another try: the server is overloaded, starting, or unreachable.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => !is_tls_failure(e),
        _ => false,
    }
}

/// A certificate problem never fixes itself by waiting.
pub fn is_tls_failure(e: &kube::Error) -> bool {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&s.to_string());
        source = s.source();
    }
    let text = text.to_ascii_lowercase();
    text.contains("certificate") || text.contains("unknownissuer") || text.contains("invalid peer")
}

/// Maps an error of `operation` to what the user sees.
pub fn api(operation: impl Into<String>, e: kube::Error) -> ProviderError {
    let operation = operation.into();
    match &e {
        kube::Error::Api(s) => {
            let code = format!(
                "{} {}",
                s.code,
                http_reason(s.code).unwrap_or(s.reason.as_str())
            );
            let message = if s.message.is_empty() {
                s.reason.clone()
            } else {
                s.message.clone()
            };
            let err = ProviderError::api(&operation, Some(code), message.clone());
            match hint(s.code, &s.reason, &message) {
                Some(h) => err.with_hint(h),
                None => err,
            }
        }
        _ if is_tls_failure(&e) => ProviderError::api(&operation, None, chain(&e)).with_hint(
            "the API server's certificate was not signed by the configured CA: check \
             `cluster_ca_certificate` (PEM, or base64 PEM as EKS returns it) or the kubeconfig's CA",
        ),
        _ => ProviderError::api(&operation, None, chain(&e)).with_hint(
            "the API server could not be reached: check `host` (or the cluster's endpoint) and \
             that this machine can reach it",
        ),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn http_reason(code: u16) -> Option<&'static str> {
    Some(match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

/// The field manager a server-side-apply conflict names, from messages like
/// `Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas`.
pub fn conflicting_manager(message: &str) -> Option<&str> {
    let rest = message.split("conflict with \"").nth(1)?;
    rest.split('"').next()
}

fn hint(code: u16, reason: &str, message: &str) -> Option<String> {
    Some(match code {
        401 => "the API server rejected the bearer token: with `eks_cluster`, the AWS identity meshmon \
                signs with must be allowed into the cluster (an EKS access entry, or the aws-auth \
                ConfigMap); with `token`, check that it has not expired"
            .into(),
        403 => "the identity is authenticated but Kubernetes RBAC forbids this request: bind a \
                (Cluster)Role that allows it to the identity meshmon uses"
            .into(),
        409 if reason == "AlreadyExists" => {
            "the object already exists and was not made by meshmon: `meshmon import` it, or delete it".into()
        }
        409 => match conflicting_manager(message) {
            Some(m) => format!(
                "field manager {m:?} owns these fields: change them through {m:?} instead, or remove \
                 them from the manifest, or let meshmon take them over (it applies with force)"
            ),
            None => "the object changed while meshmon was writing it: run the apply again".into(),
        },
        404 if message.contains("namespaces") => {
            "the namespace does not exist: create it first (a k8s_namespace resource) and refer to \
             it with ${k8s_namespace.NAME.name} so that meshmon orders them"
                .into()
        }
        422 => "the API server says the object is invalid: fix the manifest".into(),
        503 => "the API server is not ready: run the apply again in a few minutes".into(),
        _ => return None,
    })
}

/// Runs `f` again while it fails transiently (a 503 from an API server that
/// is rolling, a reset connection), up to about half a minute.
pub async fn retry<T, F, Fut>(mut f: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(250);
    for _ in 0..7 {
        match f().await {
            Err(e) if is_transient(&e) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            other => return other,
        }
    }
    f().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut s = kube::core::Status::failure(message, reason);
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn conflict_names_the_other_field_manager() {
        let e = api(
            "PATCH apps/v1 Deployment prod/dj",
            status(
                409,
                "Conflict",
                "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas",
            ),
        );
        assert_eq!(
            e.operation.as_deref(),
            Some("PATCH apps/v1 Deployment prod/dj")
        );
        assert_eq!(e.code.as_deref(), Some("409 Conflict"));
        assert!(e.hint.unwrap().contains("\"kubectl-edit\""));
    }

    #[test]
    fn unauthorized_points_at_the_token_and_forbidden_at_rbac() {
        let e = api(
            "GET v1 Namespace x",
            status(401, "Unauthorized", "Unauthorized"),
        );
        assert_eq!(e.code.as_deref(), Some("401 Unauthorized"));
        assert!(e.hint.unwrap().contains("token"));
        let e = api("GET v1 Namespace x", status(403, "Forbidden", "nope"));
        assert!(e.hint.unwrap().contains("RBAC"));
    }

    #[test]
    fn only_server_side_trouble_is_transient() {
        assert!(is_transient(&status(503, "ServiceUnavailable", "")));
        assert!(!is_transient(&status(404, "NotFound", "")));
    }
}
