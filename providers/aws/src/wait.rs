//! Bounded waiting: for a long operation to finish (an EKS cluster becoming
//! ACTIVE) and for eventual consistency to settle (a role created a second
//! ago that EKS cannot assume yet). Every wait polls with exponential
//! backoff and stops at a deadline — the resource's `timeouts` entry, less a
//! margin so that the provider can still report what exists before the
//! engine's own timeout cuts it off — and never sleeps blindly.

use std::future::Future;
use std::time::{Duration, Instant};

use meshmon_provider_sdk::{OpContext, ProviderError};

const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(15);

/// Exponential backoff up to a deadline.
pub struct Backoff {
    deadline: Instant,
    delay: Duration,
    limit: Duration,
}

impl Backoff {
    /// Backoff bounded by the context's timeout, or `default` without one.
    pub fn new(ctx: &OpContext, default: Duration) -> Self {
        let limit = match ctx.timeout {
            // Leave a twentieth (at most 30s) for reporting partial results.
            Some(t) => t.saturating_sub((t / 20).min(Duration::from_secs(30))),
            None => default,
        };
        Backoff {
            deadline: Instant::now() + limit,
            delay: FIRST_DELAY,
            limit,
        }
    }

    /// Sleeps before the next attempt; `false` once the deadline has passed.
    pub async fn pause(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        let d = self.delay.min(self.deadline - now);
        tokio::time::sleep(d).await;
        self.delay = (self.delay * 2).min(MAX_DELAY);
        true
    }

    /// The error for a wait that ran out of time.
    pub fn timed_out(&self, what: &str) -> ProviderError {
        ProviderError::new(format!(
            "gave up waiting after {}s for {what}",
            self.limit.as_secs()
        ))
        .with_hint("it may still finish: run `meshmon apply` again later, or raise the resource's `timeouts`")
    }
}

/// Polls `probe` until it returns `Some`, reporting each status it sees.
/// `probe` returns `Ok(Err(status))` to keep waiting.
pub async fn until<T, F, Fut>(
    ctx: &OpContext,
    default: Duration,
    what: &str,
    mut probe: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, ProviderError>>,
{
    let mut backoff = Backoff::new(ctx, default);
    let mut last = String::new();
    loop {
        match probe().await? {
            Ok(v) => return Ok(v),
            Err(status) => {
                if status != last {
                    ctx.progress(&status);
                    last = status;
                }
            }
        }
        if !backoff.pause().await {
            return Err(backoff.timed_out(&format!("{what} (last seen: {last})")));
        }
    }
}

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

/// How long waits without a `timeouts` entry may take.
pub const CLUSTER: Duration = Duration::from_secs(30 * 60);
pub const NODE_GROUP: Duration = Duration::from_secs(30 * 60);
/// An AMP managed collector takes about 20 minutes to become ACTIVE.
pub const SCRAPER: Duration = Duration::from_secs(40 * 60);
pub const SHORT: Duration = Duration::from_secs(5 * 60);
/// IAM changes usually propagate in seconds; two minutes covers the tail.
pub const IAM_PROPAGATION: Duration = Duration::from_secs(2 * 60);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
}
