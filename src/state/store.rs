//! Where a spec's state lives: a local file, or an object in S3. Both are a
//! `Backend`: load, persist, lock and a journal of the operations of an
//! apply in progress. Commands and the engine talk to a `Store` and through
//! it to `dyn Backend`, never to a backend's own types.

use std::any::Any;
use std::time::Duration;

use async_trait::async_trait;

use super::journal::{Journal, JournalEntry, JournalLine};
use super::local::{LocalStore, LockInfo};
use super::s3::{S3Lock, S3Store};
use super::{Loaded, State, StateError};
use crate::spec::{S3Config, StateLocation};

/// What every state backend offers.
#[async_trait]
pub trait Backend: Send + Sync {
    /// The state's location, for messages.
    fn describe(&self) -> String;

    /// The state, with a journal an interrupted apply left replayed over it.
    /// The entries named in `forget` are dropped from the state file before
    /// it is checked, even ones it would refuse (see [`super::decode`]).
    async fn load(&self, forget: &[String]) -> Result<Loaded, StateError>;

    /// Writes the state (bumping its serial) and drops the journal it
    /// supersedes.
    async fn persist(&self, state: &mut State) -> Result<(), StateError>;

    /// Takes the lock, waiting up to `timeout` for another holder.
    async fn lock(&self, operation: &str, timeout: Duration) -> Result<StoreLock, StateError>;

    /// Releases a lock this backend gave out.
    async fn unlock(&self, lock: StoreLock) -> Result<(), StateError>;

    /// Breaks the lock with ID `id` (refused while its holder runs here,
    /// unless `force`).
    async fn force_unlock(&self, id: &str, force: bool) -> Result<LockInfo, StateError>;

    /// A new journal for an apply on top of `state`.
    fn journal(&self, state: &State) -> Result<Box<dyn JournalSink>, StateError>;
}

/// Where an apply writes its intents and completed operations as they
/// happen, so that a kill loses nothing `load` cannot replay.
pub trait JournalSink: Send {
    /// Appends one entry, whole or not at all; it is written by the next
    /// `flush`.
    fn append(&mut self, entry: &JournalEntry) -> Result<(), StateError>;
    /// Appends a line made by [`JournalLine::of`] the same way.
    fn append_line(&mut self, line: JournalLine) -> Result<(), StateError>;
    /// Writes what was appended, so that a kill from now on loses none of
    /// it. The walk flushes before it calls a provider and before it waits.
    fn flush(&mut self) -> Result<(), StateError>;
    /// Writes what is left and makes everything appended durable.
    fn finish(self: Box<Self>) -> Result<(), StateError>;
}

impl JournalSink for Journal {
    fn append(&mut self, entry: &JournalEntry) -> Result<(), StateError> {
        Journal::append(self, entry)
    }

    fn append_line(&mut self, line: JournalLine) -> Result<(), StateError> {
        Journal::append_line(self, line)
    }

    fn flush(&mut self) -> Result<(), StateError> {
        Journal::flush(self)
    }

    fn finish(self: Box<Self>) -> Result<(), StateError> {
        Journal::finish(*self)
    }
}

/// A held lock: who holds it, and the backend's own handle to it. A local
/// lock is released when this is dropped; every command also hands it back
/// to `Store::unlock`, which a remote lock needs.
pub struct StoreLock {
    info: LockInfo,
    held: Box<dyn Any + Send + Sync>,
}

impl StoreLock {
    pub fn new(info: LockInfo, held: impl Any + Send + Sync) -> Self {
        StoreLock {
            info,
            held: Box::new(held),
        }
    }

    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// The backend's handle, if it is of type `T`.
    fn into_held<T: 'static>(self) -> Option<T> {
        self.held.downcast::<T>().ok().map(|b| *b)
    }
}

#[async_trait]
impl Backend for LocalStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    async fn load(&self, forget: &[String]) -> Result<Loaded, StateError> {
        LocalStore::load_forgetting(self, forget)
    }

    async fn persist(&self, state: &mut State) -> Result<(), StateError> {
        LocalStore::persist(self, state)
    }

    async fn lock(&self, operation: &str, timeout: Duration) -> Result<StoreLock, StateError> {
        let l = self.clone();
        let op = operation.to_string();
        let guard = tokio::task::spawn_blocking(move || l.lock(&op, timeout))
            .await
            .expect("lock task")?;
        Ok(StoreLock::new(guard.info.clone(), guard))
    }

    async fn unlock(&self, lock: StoreLock) -> Result<(), StateError> {
        // The guard releases the lock as it is dropped.
        drop(lock);
        Ok(())
    }

    async fn force_unlock(&self, id: &str, force: bool) -> Result<LockInfo, StateError> {
        LocalStore::force_unlock(self, id, force)
    }

    fn journal(&self, state: &State) -> Result<Box<dyn JournalSink>, StateError> {
        Ok(Box::new(LocalStore::journal(self, state)?))
    }
}

#[async_trait]
impl Backend for S3Store {
    fn describe(&self) -> String {
        self.url()
    }

    async fn load(&self, forget: &[String]) -> Result<Loaded, StateError> {
        S3Store::load(self, forget).await
    }

    async fn persist(&self, state: &mut State) -> Result<(), StateError> {
        S3Store::persist(self, state).await
    }

    async fn lock(&self, operation: &str, timeout: Duration) -> Result<StoreLock, StateError> {
        let lock = S3Store::lock(self, operation, timeout).await?;
        Ok(StoreLock::new(lock.info.clone(), lock))
    }

    async fn unlock(&self, lock: StoreLock) -> Result<(), StateError> {
        match lock.into_held::<S3Lock>() {
            Some(lock) => S3Store::unlock(self, lock).await,
            // Not one of ours: nothing of this backend to release.
            None => Ok(()),
        }
    }

    async fn force_unlock(&self, id: &str, force: bool) -> Result<LockInfo, StateError> {
        S3Store::force_unlock(self, id, force).await
    }

    /// The journal of an apply on remote state is a local file beside the
    /// working directory: it only has to outlive this process, and the next
    /// run on this machine replays it.
    fn journal(&self, state: &State) -> Result<Box<dyn JournalSink>, StateError> {
        Ok(Box::new(Journal::create(self.journal_path(), state)?))
    }
}

/// The backends meshmon offers, and any other (a test's).
pub enum Store {
    Local(LocalStore),
    S3(Box<S3Store>),
    Custom(Box<dyn Backend>),
}

impl Store {
    /// The store at a spec's state location.
    pub async fn at(location: StateLocation) -> Store {
        match location {
            StateLocation::S3(config) => Store::s3(config).await,
            StateLocation::File(path) => Store::Local(LocalStore::new(path)),
        }
    }

    pub async fn s3(config: S3Config) -> Store {
        Store::S3(Box::new(S3Store::new(config).await))
    }

    /// The backend behind this store.
    pub fn backend(&self) -> &dyn Backend {
        match self {
            Store::Local(l) => l,
            Store::S3(s) => s.as_ref(),
            Store::Custom(b) => b.as_ref(),
        }
    }

    pub fn describe(&self) -> String {
        self.backend().describe()
    }

    /// The local files this store keeps, each with what it is: nothing else
    /// may ever be written over them.
    pub fn own_files(&self) -> Vec<(std::path::PathBuf, &'static str)> {
        match self {
            Store::Local(l) => vec![
                (l.path.clone(), "the state file"),
                (l.backup_path(), "the state's backup"),
                (l.journal_path(), "the state's journal"),
                (l.lock_path(), "the state's lock"),
            ],
            Store::S3(s) => vec![(s.journal_path().clone(), "the state's journal")],
            Store::Custom(_) => Vec::new(),
        }
    }

    pub async fn load(&self) -> Result<Loaded, StateError> {
        self.backend().load(&[]).await
    }

    /// The state without the entries named in `forget`, which may be ones
    /// the reader would refuse: what `state rm` starts from.
    pub async fn load_forgetting(&self, forget: &[String]) -> Result<Loaded, StateError> {
        self.backend().load(forget).await
    }

    pub async fn persist(&self, state: &mut State) -> Result<(), StateError> {
        self.backend().persist(state).await
    }

    pub async fn lock(&self, operation: &str, timeout: Duration) -> Result<StoreLock, StateError> {
        self.backend().lock(operation, timeout).await
    }

    pub async fn unlock(&self, lock: StoreLock) -> Result<(), StateError> {
        self.backend().unlock(lock).await
    }

    pub async fn force_unlock(&self, id: &str, force: bool) -> Result<LockInfo, StateError> {
        self.backend().force_unlock(id, force).await
    }

    pub fn journal(&self, state: &State) -> Result<Box<dyn JournalSink>, StateError> {
        self.backend().journal(state)
    }
}
