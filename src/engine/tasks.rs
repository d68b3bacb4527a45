//! Work on many objects at once, at most a bounded number in flight: the
//! refresh reads every recorded object this way, and recovery looks for
//! every pending create. A task that panics (a bug in a provider, say) is
//! that object's failure, reported with the rest; the process goes on.

use std::collections::{HashMap, VecDeque};
use std::future::Future;

use tokio::task::{Id, JoinSet};

/// How many operations run at once unless `--parallelism` says otherwise:
/// a ceiling, not a pace. Under it each AWS service's calls follow how it
/// answers (meshmon-aws-common's limiter), so a fleet's refresh is bound by
/// latency rather than by a fixed count, and a long wait (a collector
/// becoming ACTIVE) does not hold back the others.
pub const DEFAULT_PARALLELISM: usize = 256;

/// Tasks keyed by what they work on. At most `limit` exist at once: a
/// task is started only when a slot is free, so 100,000 objects make 100,000
/// tasks one after another, never all at once.
pub(crate) struct Bounded<K, T> {
    limit: usize,
    tasks: JoinSet<T>,
    keys: HashMap<Id, K>,
    /// Tasks that finished while a slot was awaited, for `next`.
    finished: VecDeque<(K, Result<T, Panicked>)>,
}

/// A task that panicked, with what it said.
#[derive(Debug)]
pub(crate) struct Panicked(pub String);

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the operation panicked: {}; this is a bug in meshmon or its provider",
            self.0
        )
    }
}

impl From<Box<dyn std::any::Any + Send>> for Panicked {
    /// What a panic said, from its payload.
    fn from(payload: Box<dyn std::any::Any + Send>) -> Self {
        Panicked(
            payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into()),
        )
    }
}

impl From<tokio::task::JoinError> for Panicked {
    /// What a task that did not finish said: its panic, or why it stopped.
    fn from(e: tokio::task::JoinError) -> Self {
        match e.try_into_panic() {
            Ok(payload) => Panicked::from(payload),
            Err(e) => Panicked(e.to_string()),
        }
    }
}

impl<K, T: Send + 'static> Bounded<K, T> {
    /// At most `limit` tasks run at once (at least one).
    pub(crate) fn new(limit: usize) -> Self {
        Bounded {
            limit: limit.max(1),
            tasks: JoinSet::new(),
            keys: HashMap::new(),
            finished: VecDeque::new(),
        }
    }

    /// Starts `work` for `key` once a slot is free (waiting for a task to
    /// finish if none is).
    pub(crate) async fn spawn(&mut self, key: K, work: impl Future<Output = T> + Send + 'static) {
        if self.tasks.len() >= self.limit
            && let Some(done) = self.join_next().await
        {
            self.finished.push_back(done);
        }
        let handle = self.tasks.spawn(work);
        self.keys.insert(handle.id(), key);
    }

    /// The next task to finish, with its key; `None` when all have.
    pub(crate) async fn next(&mut self) -> Option<(K, Result<T, Panicked>)> {
        match self.finished.pop_front() {
            Some(done) => Some(done),
            None => self.join_next().await,
        }
    }

    async fn join_next(&mut self) -> Option<(K, Result<T, Panicked>)> {
        let joined = self.tasks.join_next_with_id().await?;
        let (id, result) = match joined {
            Ok((id, value)) => (id, Ok(value)),
            Err(e) => (e.id(), Err(Panicked::from(e))),
        };
        let key = self
            .keys
            .remove(&id)
            .expect("every task is spawned with its key");
        Some((key, result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_its_keys_failure_and_the_others_finish() {
        let mut tasks = Bounded::new(2);
        for i in 0..5u32 {
            tasks
                .spawn(i, async move {
                    if i == 3 {
                        panic!("boom {i}");
                    }
                    i * 10
                })
                .await;
            assert!(tasks.tasks.len() <= 2, "at most two tasks at once");
        }
        let mut seen = Vec::new();
        while let Some((k, r)) = tasks.next().await {
            seen.push((k, r.map_err(|p| p.0)));
        }
        seen.sort_by_key(|(k, _)| *k);
        assert_eq!(
            seen,
            [
                (0, Ok(0)),
                (1, Ok(10)),
                (2, Ok(20)),
                (3, Err("boom 3".to_string())),
                (4, Ok(40))
            ]
        );
    }
}
