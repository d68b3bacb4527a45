//! Where a spec's state lives: a local file, or an object in S3. Commands
//! talk to `Store` and never to a backend directly.

use std::time::Duration;

use super::local::{Journal, LocalStore, LockGuard, LockInfo};
use super::s3::{S3Config, S3Lock, S3Store};
use super::{Loaded, State, StateError};

pub enum Store {
    Local(LocalStore),
    S3(Box<S3Store>),
}

/// A held lock. Local locks release themselves on drop; S3 locks must be
/// released with `Store::unlock`, which every command does on every path.
pub enum StoreLock {
    Local(LockGuard),
    S3(S3Lock),
}

impl StoreLock {
    pub fn info(&self) -> &LockInfo {
        match self {
            StoreLock::Local(g) => &g.info,
            StoreLock::S3(l) => &l.info,
        }
    }
}

impl Store {
    pub async fn s3(config: S3Config) -> Store {
        Store::S3(Box::new(S3Store::new(config).await))
    }

    /// The state's location, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Local(l) => l.path.display().to_string(),
            Store::S3(s) => s.url(),
        }
    }

    pub async fn load(&self) -> Result<Loaded, StateError> {
        match self {
            Store::Local(l) => l.load(),
            Store::S3(s) => s.load().await,
        }
    }

    pub async fn persist(&self, state: &mut State) -> Result<(), StateError> {
        match self {
            Store::Local(l) => l.persist(state),
            Store::S3(s) => s.persist(state).await,
        }
    }

    pub async fn lock(&self, operation: &str, timeout: Duration) -> Result<StoreLock, StateError> {
        match self {
            Store::Local(l) => {
                let l = l.clone();
                let op = operation.to_string();
                tokio::task::spawn_blocking(move || l.lock(&op, timeout))
                    .await
                    .expect("lock task")
                    .map(StoreLock::Local)
            }
            Store::S3(s) => s.lock(operation, timeout).await.map(StoreLock::S3),
        }
    }

    pub async fn unlock(&self, lock: StoreLock) -> Result<(), StateError> {
        match (self, lock) {
            (Store::S3(s), StoreLock::S3(l)) => s.unlock(l).await,
            (_, StoreLock::Local(g)) => {
                drop(g);
                Ok(())
            }
            (Store::Local(_), StoreLock::S3(_)) => Ok(()),
        }
    }

    pub async fn force_unlock(&self, id: &str, force: bool) -> Result<LockInfo, StateError> {
        match self {
            Store::Local(l) => l.force_unlock(id, force),
            Store::S3(s) => s.force_unlock(id, force).await,
        }
    }

    pub fn journal(&self, state: &State) -> Result<Journal, StateError> {
        match self {
            Store::Local(l) => l.journal(state),
            Store::S3(s) => Journal::create(s.journal_path(), state),
        }
    }
}
