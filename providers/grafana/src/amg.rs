//! What the `amg` resources share: the SDK clients, SDK errors turned into
//! `ProviderError`s that name the operation (`grafana:CreateWorkspace`), the
//! service's code and message and a hint, and bounded waiting for a
//! workspace to settle. "Not found" is not an error: [`found`] makes it
//! `Ok(None)`, which refresh and drift need for a deleted workspace.
//!
//! Creates go through [`create_call`] on a client with the SDK's retries
//! off: the SDK would send a create again after a 5xx or a lost
//! connection, when AMG may already have made the object, and a second
//! CreateWorkspaceServiceAccount or token would fail on the first's name.
//! Only throttling, which AMG answers before it acts, is retried there;
//! other transient failures come back marked ambiguous, for the engine to
//! `recover` the object before it creates again.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_grafana::config::retry::RetryConfig;
use aws_sdk_grafana::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use meshmon_provider_sdk::{OpContext, ProviderError};
use tokio::sync::OnceCell;

/// One client per service, built once per configured provider.
pub struct Clients {
    pub grafana: aws_sdk_grafana::Client,
    /// The same client with the SDK's retries off, for creates (see
    /// [`create_call`]).
    pub creates: aws_sdk_grafana::Client,
    sts: aws_sdk_sts::Client,
    pub region: String,
    account: OnceCell<String>,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Clients {
            grafana: aws_sdk_grafana::Client::new(sdk),
            creates: aws_sdk_grafana::Client::from_conf(
                aws_sdk_grafana::config::Builder::from(sdk)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            ),
            sts: aws_sdk_sts::Client::new(sdk),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            account: OnceCell::new(),
        }
    }

    /// The caller's account, asked of STS once: AMG returns no workspace
    /// ARN, but tagging an existing workspace needs one.
    pub async fn account_id(&self) -> Result<&str, ProviderError> {
        self.account
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| api("sts:GetCallerIdentity", e))?;
                out.account.ok_or_else(|| {
                    ProviderError::new("sts:GetCallerIdentity returned no account ID")
                })
            })
            .await
            .map(String::as_str)
    }

    pub async fn workspace_arn(&self, id: &str) -> Result<String, ProviderError> {
        let partition = if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        let account = self.account_id().await?;
        Ok(format!(
            "arn:{partition}:grafana:{}:{account}:/workspaces/{id}",
            self.region
        ))
    }
}

/// An SDK error as a `ProviderError`: `api("grafana:CreateWorkspace", err)`.
pub fn api<E>(operation: &str, err: E) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let code = err.code().map(str::to_string);
    let message = match err.message() {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    let hint = hint(operation, code.as_deref());
    let e = ProviderError::api(operation, code, message);
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

/// `Ok(None)` for "not found", the value otherwise.
pub fn found<T, E>(operation: &str, r: Result<T, E>) -> Result<Option<T>, ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(api(operation, e)),
    }
}

/// How many times [`create_call`] sends a throttled create.
const CREATE_ATTEMPTS: u32 = 6;

/// Sends a create (`send` builds and sends it on [`Clients::creates`]),
/// sending it again only while AMG throttles it (ThrottlingException,
/// TooManyRequestsException, HTTP 429: refused before AMG acted), with
/// backoff. Any other failure that may have come after AMG acted — a 5xx,
/// a timeout, a connection lost, an answer that could not be read — is
/// returned marked ambiguous; one that certainly came first (a 4xx, a
/// request that could not be built) is returned as it is.
pub async fn create_call<T, E, F, Fut>(operation: &str, mut send: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        let err = match send().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let status = err.raw_response().map(|r| r.status().as_u16());
        let throttled = status == Some(429)
            || matches!(
                err.code(),
                Some("ThrottlingException" | "TooManyRequestsException")
            );
        if throttled && attempt < CREATE_ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
            attempt += 1;
            continue;
        }
        let ambiguous = !throttled
            && match &err {
                SdkError::ConstructionFailure(_) => false,
                SdkError::DispatchFailure(d) => !d.is_user(),
                SdkError::ServiceError(_) => status.is_none_or(|s| s >= 500),
                _ => true,
            };
        let e = api(operation, err);
        return Err(if ambiguous {
            e.ambiguous().with_hint(
                "AMG may have made the object before the request failed: `meshmon apply` looks \
                 for it before it creates it again",
            )
        } else {
            e
        });
    }
}

fn hint(operation: &str, code: Option<&str>) -> Option<String> {
    Some(match code? {
        "AccessDeniedException" => format!(
            "the AWS identity meshmon runs as is not allowed `{operation}`: grant it in its IAM policy \
             (`aws sts get-caller-identity` shows which identity this is)"
        ),
        "ThrottlingException" | "TooManyRequestsException" => {
            "AMG kept throttling after retries; run again with a lower --parallelism".into()
        }
        "ServiceQuotaExceededException" => {
            "an AMG quota is exhausted (workspaces, service accounts or tokens per account): \
             delete unused ones or ask AWS for a higher quota"
                .into()
        }
        "ConflictException" if operation.contains("Create") => {
            "an object with this name already exists: pick another name, or adopt it with `meshmon import`"
                .into()
        }
        "ConflictException" => {
            "the workspace is busy with another change (status UPDATING or VERSION_UPDATING): run again in a minute"
                .into()
        }
        "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException" => {
            "AWS does not accept these credentials: refresh them (for SSO: `aws sso login`) or check AWS_PROFILE"
                .into()
        }
        _ => return None,
    })
}

/// How long waits without a `timeouts` entry may take: AMG usually creates
/// a workspace in a few minutes and upgrades one in under fifteen.
pub const WORKSPACE_WAIT: Duration = Duration::from_secs(30 * 60);

/// Polls `probe` with exponential backoff (250 ms doubling to 15 s) until it
/// returns `Ok(Ok(v))`, reporting each new status it sees; gives up at the
/// operation's timeout (less a margin to report what exists) or `default`.
pub async fn wait_until<T, F, Fut>(
    ctx: &OpContext,
    default: Duration,
    what: &str,
    mut probe: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, ProviderError>>,
{
    let limit = match ctx.timeout {
        Some(t) => t.saturating_sub((t / 20).min(Duration::from_secs(30))),
        None => default,
    };
    let deadline = Instant::now() + limit;
    let mut delay = Duration::from_millis(250);
    let mut last = String::new();
    loop {
        match probe().await? {
            Ok(v) => return Ok(v),
            Err(status) if status != last => {
                ctx.progress(&status);
                last = status;
            }
            Err(_) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ProviderError::new(format!(
                "gave up waiting after {}s for {what} (last seen: {last})",
                limit.as_secs()
            ))
            .with_hint(
                "it may still finish: run `meshmon apply` again later, or raise the resource's `timeouts`",
            ));
        }
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_operation_and_the_way_out() {
        let h = hint("grafana:CreateWorkspace", Some("AccessDeniedException")).unwrap();
        assert!(h.contains("`grafana:CreateWorkspace`"), "{h}");
        let h = hint("grafana:CreateWorkspace", Some("ConflictException")).unwrap();
        assert!(h.contains("meshmon import"), "{h}");
        assert!(hint("grafana:DescribeWorkspace", Some("ValidationException")).is_none());
    }

    #[tokio::test]
    async fn waiting_gives_up_at_the_deadline_with_the_last_status() {
        let ctx = OpContext::new(
            "t.x",
            Some(Duration::from_millis(600)),
            std::sync::Arc::new(|_: &str| {}),
        );
        let err = wait_until(&ctx, Duration::from_secs(60), "it", || async {
            Ok::<Result<(), String>, _>(Err("status CREATING".into()))
        })
        .await
        .unwrap_err();
        assert!(
            err.message.contains("last seen: status CREATING"),
            "{}",
            err.message
        );
    }
}
