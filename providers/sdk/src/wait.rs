//! Bounded waiting, for every provider: for a long operation to finish (a
//! cluster or a workspace becoming ACTIVE, a Deployment rolling out) and
//! for eventual consistency to settle. Every wait polls with exponential
//! backoff and stops at a deadline — the resource's `timeouts` entry, less
//! a margin so that the provider can still report what exists before the
//! engine's own timeout cuts it off — and never sleeps blindly.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::ProviderError;
use crate::resource::OpContext;

const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(15);

/// How long a short wait without a `timeouts` entry may take, and how long
/// [`create_call`] keeps sending a create that was turned away unseen.
pub const SHORT: Duration = Duration::from_secs(5 * 60);

/// Exponential backoff (250 ms doubling to 15 s) up to a deadline.
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

    /// Backoff bounded by `limit` exactly (a provider that keeps its own
    /// margin, or a wait with a limit of its own).
    pub fn within(limit: Duration) -> Self {
        Backoff {
            deadline: Instant::now() + limit,
            delay: FIRST_DELAY,
            limit,
        }
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// How long the wait has lasted so far.
    pub fn elapsed(&self) -> Duration {
        self.limit
            .saturating_sub(self.deadline.saturating_duration_since(Instant::now()))
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

/// Polls `probe` until it returns `Some`, reporting each new status it sees.
/// `probe` returns `Ok(Err(status))` to keep waiting; an error ends the
/// wait. Past the deadline the error names `what` and the last status.
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A context with this timeout that keeps what it reports.
    fn ctx(timeout: Option<Duration>) -> (OpContext, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let ctx = OpContext::new(
            "test_thing.a",
            timeout,
            Arc::new(move |m: &str| log.lock().unwrap().push(m.to_string())),
        );
        (ctx, seen)
    }

    #[tokio::test]
    async fn a_wait_that_is_already_over_returns_at_once() {
        let (ctx, seen) = ctx(None);
        let mut probes = 0;
        let v = until(&ctx, SHORT, "the thing", || {
            probes += 1;
            async { Ok(Ok(7)) }
        })
        .await
        .unwrap();
        assert_eq!((v, probes), (7, 1));
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_probes_error_ends_the_wait() {
        let (ctx, _) = ctx(None);
        let mut probes = 0;
        let err = until::<(), _, _>(&ctx, SHORT, "the thing", || {
            probes += 1;
            async { Err(ProviderError::new("workspace g-1 is CREATION_FAILED")) }
        })
        .await
        .unwrap_err();
        assert_eq!(err.message, "workspace g-1 is CREATION_FAILED");
        assert_eq!(probes, 1);
    }

    #[tokio::test]
    async fn past_the_deadline_the_error_names_what_and_the_last_status() {
        let (ctx, seen) = ctx(Some(Duration::ZERO));
        let err = until::<(), _, _>(&ctx, SHORT, "workspace g-1 to become ACTIVE", || async {
            Ok(Err("status CREATING".to_string()))
        })
        .await
        .unwrap_err();
        assert_eq!(
            err.message,
            "gave up waiting after 0s for workspace g-1 to become ACTIVE (last seen: status CREATING)"
        );
        assert!(err.hint.unwrap().contains("`timeouts`"));
        assert_eq!(*seen.lock().unwrap(), ["status CREATING"]);
    }

    #[test]
    fn a_timeout_leaves_a_margin_of_a_twentieth_up_to_thirty_seconds() {
        let limit = |t: Option<u64>| {
            let (ctx, _) = ctx(t.map(Duration::from_secs));
            Backoff::new(&ctx, SHORT).timed_out("x").message
        };
        assert_eq!(limit(Some(100)), "gave up waiting after 95s for x");
        assert_eq!(limit(Some(1200)), "gave up waiting after 1170s for x");
        assert_eq!(limit(None), "gave up waiting after 300s for x");
    }

    #[tokio::test]
    async fn a_backoff_with_no_time_left_does_not_pause() {
        let mut b = Backoff::within(Duration::ZERO);
        assert!(b.expired());
        assert!(!b.pause().await);
    }
}
