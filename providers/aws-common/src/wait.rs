//! Bounded waiting: for a long operation to finish (an EKS cluster or a
//! Grafana workspace becoming ACTIVE) and for eventual consistency to
//! settle (a role created a second ago that EKS cannot assume yet). Every
//! wait polls with [`Backoff`] (each pause a tenth of the time waited so
//! far, at least 250 ms and at most 15 s) and stops at a deadline — the
//! resource's `timeouts` entry, less a margin so that the provider can
//! still report what exists before the engine's own timeout cuts it off —
//! and never sleeps blindly.
//!
//! [`create_call`] sends the one request of a create that makes the
//! object, retrying only what certainly had no effect; [`find_settled`]
//! gives a lookup for such an object the moment it needs to show.

use std::error::Error;
use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use meshmon_provider_sdk::{OpContext, ProviderError};

use crate::error::{self, Effect, Hint};

pub use meshmon_provider_sdk::wait::{Backoff, SHORT, until};

/// How long a recovery keeps looking for an object before it says there
/// is none. Lookups by tag (EC2, AMP, AMG) and IAM reads are eventually
/// consistent: an object whose create answer was lost a moment ago may not
/// show at once, and "none" lets the engine create it again.
pub const RECOVER_SETTLE: Duration = Duration::from_secs(6);

/// Retries `op` while `transient` says its error is eventual consistency
/// (IAM's "role cannot be assumed" right after the role was created).
pub async fn retry_transient<T, F, Fut>(
    ctx: &OpContext,
    default: Duration,
    transient: impl Fn(&ProviderError) -> bool,
    mut op: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut backoff = Backoff::new(ctx, default);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if transient(&e) => {
                ctx.progress(&format!("waiting for AWS to settle: {}", e.message));
                if !backoff.pause().await {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sends the request of a create that makes the object, through a client
/// without SDK retries ([`crate::without_retries`]), and retries it only
/// while its failure certainly had no effect: throttling, or no connection
/// made ([`error::effect`]). Those retries back off up to the operation's
/// deadline ([`SHORT`] without one). A failure that may have taken effect
/// (a timeout, a reset connection, a lost or unreadable answer, a 5xx) is
/// returned at once, marked ambiguous, so that the engine looks for the
/// object with `recover` instead of making a second one; a refusal is
/// returned as it is.
pub async fn create_call<T, E, F, Fut>(
    ctx: &OpContext,
    operation: &str,
    send: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + Error + 'static,
{
    create_call_with(ctx, error::NO_HINT, operation, send).await
}

/// [`create_call`] with a provider's own advice for its failures, tried
/// before the common hints (see [`error::api_with`]).
pub async fn create_call_with<T, E, F, Fut>(
    ctx: &OpContext,
    hint: Hint,
    operation: &str,
    mut send: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + Error + 'static,
{
    let mut backoff = Backoff::new(ctx, SHORT);
    loop {
        let err = match send().await {
            Ok(v) => return Ok(v),
            Err(err) => err,
        };
        match error::effect(&err) {
            Effect::None => {
                let e = error::api_with(hint, operation, err);
                ctx.progress(&format!(
                    "{operation} did not go through ({}), trying again",
                    e.code.as_deref().unwrap_or(&e.message)
                ));
                if !backoff.pause().await {
                    return Err(e);
                }
            }
            Effect::Unknown => {
                return Err(error::api_with(hint, operation, err).ambiguous().with_hint(
                    "its answer was lost, so it may have taken effect: meshmon looks for \
                     what it made before it creates anything again",
                ));
            }
            Effect::Refused => return Err(error::api_with(hint, operation, err)),
        }
    }
}

/// Runs `find` until it finds something or `settle` has passed.
pub async fn find_settled<T, F, Fut>(
    settle: Duration,
    mut find: F,
) -> Result<Option<T>, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let mut backoff = Backoff::within(settle);
    loop {
        if let Some(v) = find().await? {
            return Ok(Some(v));
        }
        if !backoff.pause().await {
            return Ok(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    #[tokio::test]
    async fn until_reports_each_new_status_once() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let ctx = OpContext::new(
            "t.x",
            None,
            std::sync::Arc::new(move |m: &str| s.lock().unwrap().push(m.to_string())),
        );
        let n = AtomicUsize::new(0);
        let v = until(&ctx, Duration::from_secs(10), "it", || async {
            Ok(match n.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err("status CREATING".to_string()),
                _ => Ok(7),
            })
        })
        .await
        .unwrap();
        assert_eq!(v, 7);
        assert_eq!(*seen.lock().unwrap(), vec!["status CREATING".to_string()]);
    }

    #[tokio::test]
    async fn until_gives_up_at_the_deadline() {
        let ctx = OpContext::new(
            "t.x",
            Some(Duration::from_millis(600)),
            std::sync::Arc::new(|_: &str| {}),
        );
        let started = Instant::now();
        let err = until(&ctx, Duration::from_secs(60), "it", || async {
            Ok::<Result<(), String>, _>(Err("status CREATING".into()))
        })
        .await
        .unwrap_err();
        assert!(
            err.message.contains("last seen: status CREATING"),
            "{}",
            err.message
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn retry_transient_retries_only_what_it_is_told() {
        let ctx = OpContext::quiet("t.x");
        let calls = AtomicUsize::new(0);
        let v = retry_transient(
            &ctx,
            Duration::from_secs(10),
            |e| e.message == "not yet",
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(ProviderError::new("not yet")),
                    _ => Ok(3),
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 3);
        let e = retry_transient(
            &ctx,
            Duration::from_secs(10),
            |e| e.message == "not yet",
            || async { Err::<(), _>(ProviderError::new("no")) },
        )
        .await
        .unwrap_err();
        assert_eq!(e.message, "no");
    }

    mod create_calls {
        use super::super::*;
        use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Instant;

        type Failure = SdkError<GetCallerIdentityError, HttpResponse>;

        fn answered(status: u16, code: &str) -> Failure {
            SdkError::service_error(
                GetCallerIdentityError::generic(
                    ErrorMetadata::builder().code(code).message("m").build(),
                ),
                HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
            )
        }

        fn ctx(timeout: Duration) -> OpContext {
            OpContext::new(
                "aws_vpc.main",
                Some(timeout),
                std::sync::Arc::new(|_: &str| {}),
            )
        }

        #[tokio::test]
        async fn throttling_is_tried_again_until_it_passes() {
            let calls = AtomicUsize::new(0);
            let v = create_call(&ctx(Duration::from_secs(30)), "ec2:CreateVpc", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(answered(503, "RequestLimitExceeded")),
                    1 => Err(answered(429, "TooManyRequestsException")),
                    _ => Ok(7),
                }
            })
            .await
            .unwrap();
            assert_eq!(v, 7);
            assert_eq!(calls.load(Ordering::SeqCst), 3);
        }

        #[tokio::test]
        async fn throttling_past_the_deadline_is_a_plain_error() {
            let calls = AtomicUsize::new(0);
            let e = create_call(
                &ctx(Duration::from_millis(700)),
                "ec2:CreateVpc",
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(answered(400, "Throttling"))
                },
            )
            .await
            .unwrap_err();
            assert!(!e.ambiguous);
            assert_eq!(e.code.as_deref(), Some("Throttling"));
            assert!(calls.load(Ordering::SeqCst) >= 2);
        }

        #[tokio::test]
        async fn a_lost_answer_is_ambiguous_and_never_sent_again() {
            for failure in [
                || answered(500, "InternalError"),
                || Failure::timeout_error("attempt timeout"),
            ] {
                let calls = AtomicUsize::new(0);
                let e = create_call(&ctx(Duration::from_secs(30)), "ec2:CreateVpc", || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(failure())
                })
                .await
                .unwrap_err();
                assert!(e.ambiguous, "{e}");
                assert_eq!(e.operation.as_deref(), Some("ec2:CreateVpc"));
                assert_eq!(calls.load(Ordering::SeqCst), 1);
            }
        }

        #[tokio::test]
        async fn a_refusal_is_returned_as_it_is_with_the_providers_hint() {
            let calls = AtomicUsize::new(0);
            let e = create_call(&ctx(Duration::from_secs(30)), "ec2:CreateVpc", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(answered(400, "InvalidVpcRange"))
            })
            .await
            .unwrap_err();
            assert!(!e.ambiguous);
            assert_eq!(e.code.as_deref(), Some("InvalidVpcRange"));
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            let e = create_call_with(
                &ctx(Duration::from_secs(30)),
                |_, code, _| code.map(|c| format!("about {c}")),
                "ec2:CreateVpc",
                || async { Err::<(), _>(answered(400, "InvalidVpcRange")) },
            )
            .await
            .unwrap_err();
            assert_eq!(e.hint.as_deref(), Some("about InvalidVpcRange"));
        }

        #[tokio::test]
        async fn find_settled_looks_again_until_the_object_shows() {
            let calls = AtomicUsize::new(0);
            let found = find_settled(Duration::from_secs(5), || async {
                Ok((calls.fetch_add(1, Ordering::SeqCst) >= 2).then_some("vpc-1"))
            })
            .await
            .unwrap();
            assert_eq!(found, Some("vpc-1"));
            let started = Instant::now();
            let none = find_settled(Duration::from_millis(800), || async { Ok(None::<()>) })
                .await
                .unwrap();
            assert_eq!(none, None);
            assert!(started.elapsed() < Duration::from_secs(2));
        }
    }
}
