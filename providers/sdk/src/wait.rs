//! Bounded waiting, for every provider: for a long operation to finish (a
//! cluster or a workspace becoming ACTIVE, a Deployment rolling out) and
//! for eventual consistency to settle. Every wait polls and stops at a
//! deadline — the resource's `timeouts` entry, less a margin so that the
//! provider can still report what exists before the engine's own timeout
//! cuts it off — and never sleeps blindly.
//!
//! The pause between two polls is a tenth of how long the wait has lasted,
//! at least 250 ms and at most 15 s. What a wait waits for ends between
//! two polls, so the wait sees it at most a tenth of its length late (and
//! never more than 15 s late), whether it takes seconds or half an hour;
//! doubling pauses would see a 9 s operation up to 6.75 s late. Polls
//! come every 250 ms for the first 2.5 s, then about seven times each
//! time the wait doubles in length, then every 15 s from 150 s on.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ProviderError;
use crate::resource::OpContext;

const MIN_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(15);
/// The pause is this fraction (1/N) of the time waited so far.
const FRACTION: u32 = 10;

/// How long a short wait without a `timeouts` entry may take, and how long
/// [`create_call`] keeps sending a create that was turned away unseen.
pub const SHORT: Duration = Duration::from_secs(5 * 60);

/// Polling up to a deadline, each pause a tenth of the time waited so far
/// (at least 250 ms, at most 15 s; see the module docs).
pub struct Backoff {
    deadline: Instant,
    limit: Duration,
}

/// The pause after a wait has lasted `elapsed`.
fn delay_after(elapsed: Duration) -> Duration {
    (elapsed / FRACTION).clamp(MIN_DELAY, MAX_DELAY)
}

impl Backoff {
    /// Backoff bounded by the context's timeout, or `default` without one.
    pub fn new(ctx: &OpContext, default: Duration) -> Self {
        let limit = match ctx.timeout {
            // Leave a twentieth (at most 30s) for reporting partial results.
            Some(t) => t.saturating_sub((t / 20).min(Duration::from_secs(30))),
            None => default,
        };
        Backoff::within(limit)
    }

    /// Backoff bounded by `limit` exactly (a provider that keeps its own
    /// margin, or a wait with a limit of its own).
    pub fn within(limit: Duration) -> Self {
        Backoff {
            deadline: Instant::now() + limit,
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

    /// Sleeps before the next attempt, a tenth of the time waited so far
    /// (at least 250 ms, at most 15 s, never past the deadline); `false`
    /// once the deadline has passed.
    pub async fn pause(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        let d = delay_after(self.elapsed()).min(self.deadline - now);
        tokio::time::sleep(d).await;
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

    #[test]
    fn the_pause_is_a_tenth_of_the_wait_so_far_between_250_ms_and_15_s() {
        let ms = Duration::from_millis;
        assert_eq!(delay_after(Duration::ZERO), ms(250));
        assert_eq!(delay_after(ms(2_000)), ms(250));
        assert_eq!(delay_after(ms(2_500)), ms(250));
        assert_eq!(delay_after(ms(9_000)), ms(900));
        assert_eq!(delay_after(ms(60_000)), ms(6_000));
        assert_eq!(delay_after(ms(150_000)), ms(15_000));
        assert_eq!(delay_after(ms(1_800_000)), ms(15_000));
    }

    /// When each poll of a wait against a deadline of `limit` comes, from
    /// the schedule `pause` follows (each pause `delay_after` the time
    /// waited so far, cut short by the deadline).
    fn polls(limit: Duration) -> Vec<Duration> {
        let (mut t, mut at) = (Duration::ZERO, Vec::new());
        while t < limit {
            t += delay_after(t).min(limit - t);
            at.push(t);
        }
        at
    }

    #[test]
    fn a_wait_polls_every_quarter_second_then_a_tenth_of_its_length_then_every_15_s() {
        let at = polls(Duration::from_secs(600));
        let ms = Duration::from_millis;
        for (i, t) in at.iter().take(10).enumerate() {
            assert_eq!(*t, ms(250) * (i as u32 + 1), "poll {i}");
        }
        // A 9 s operation is seen at most 0.9 s late, where pauses that
        // double from 250 ms (0.25 + 0.5 + … + 8 s) would see it 6.75 s late.
        let seen = at.iter().find(|t| **t >= ms(9_000)).unwrap();
        assert!(*seen - ms(9_000) <= ms(900), "{seen:?}");
        // From 150 s on, every 15 s, up to the deadline exactly.
        let late: Vec<Duration> = at
            .windows(2)
            .filter(|w| w[0] >= ms(150_000))
            .map(|w| w[1] - w[0])
            .collect();
        assert!(
            late[..late.len() - 1].iter().all(|d| *d == ms(15_000)),
            "{late:?}"
        );
        assert_eq!(*at.last().unwrap(), ms(600_000));
        // 10 polls to 2.5 s, ~7.3 a doubling to 150 s (43), then 30.
        assert!((80..=86).contains(&at.len()), "{} polls", at.len());
    }

    #[tokio::test]
    async fn a_backoff_with_no_time_left_does_not_pause() {
        let mut b = Backoff::within(Duration::ZERO);
        assert!(b.expired());
        assert!(!b.pause().await);
    }
}
