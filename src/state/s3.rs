//! State in S3, for a team sharing one environment. The state object has the
//! same format as a local file. Writes are conditional: a new object only if
//! none exists (`If-None-Match: *`), an update only if the object is still
//! the one this process read (`If-Match: ETag`), so two writers can never
//! silently overwrite each other. The lock is a second object, `KEY.lock`,
//! created with `If-None-Match: *` and holding who took it; S3 has no
//! process to notice a crash, so a lock whose holder was a process on this
//! machine that no longer exists is broken automatically, and any other
//! stale lock is released with `meshmon force-unlock ID`.
//!
//! The journal of completed operations stays on the local disk (an apply is
//! resumed from the machine that ran it); the state in S3 is written when
//! the apply ends, as for a local state.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use tokio::sync::Mutex;

use super::journal;
use super::local::LockInfo;
use super::{State, StateError};
use crate::spec::S3Config;

pub struct S3Store {
    pub config: S3Config,
    client: aws_sdk_s3::Client,
    /// ETag of the state object as last read or written, for `If-Match`.
    etag: Mutex<Option<String>>,
    journal_path: PathBuf,
}

fn s3_error<E>(what: &str, url: &str, e: aws_sdk_s3::error::SdkError<E>) -> StateError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = e.code().map(str::to_string);
    let message = e
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| aws_smithy_types::error::display::DisplayErrorContext(&e).to_string());
    let hint = match code.as_deref() {
        Some("AccessDenied") => format!(
            " (the credentials in use need s3:GetObject, s3:PutObject and s3:DeleteObject on {url} and {url}.lock)"
        ),
        Some("NoSuchBucket") => {
            " (create the bucket first; meshmon does not create its own state bucket)".into()
        }
        _ => String::new(),
    };
    StateError::Remote {
        operation: what.to_string(),
        url: url.to_string(),
        message: format!(
            "{}{message}{hint}",
            code.map(|c| format!("{c}: ")).unwrap_or_default()
        ),
    }
}

impl S3Store {
    pub async fn new(config: S3Config) -> S3Store {
        let sdk =
            meshmon_aws_common::sdk_config(config.region.as_deref(), config.profile.as_deref())
                .await;
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(config.use_path_style)
            .build();
        let journal_path = PathBuf::from("state")
            .join("s3")
            .join(&config.bucket)
            .join(format!("{}.journal", config.key.replace('/', "__")));
        S3Store {
            client: aws_sdk_s3::Client::from_conf(s3),
            config,
            etag: Mutex::new(None),
            journal_path,
        }
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.config.bucket, self.config.key)
    }

    fn lock_key(&self) -> String {
        format!("{}.lock", self.config.key)
    }

    pub fn journal_path(&self) -> &PathBuf {
        &self.journal_path
    }

    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, Option<String>)>, StateError> {
        let url = format!("s3://{}/{key}", self.config.bucket);
        match self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let etag = out.e_tag().map(str::to_string);
                let bytes = out.body.collect().await.map_err(|e| StateError::Remote {
                    operation: "s3:GetObject".into(),
                    url: url.clone(),
                    message: e.to_string(),
                })?;
                Ok(Some((bytes.into_bytes().to_vec(), etag)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(s3_error("s3:GetObject", &url, e)),
        }
    }

    /// Reads the state object (and replays a local journal left by an
    /// interrupted apply against it).
    pub async fn load(&self, forget: &[String]) -> Result<super::Loaded, StateError> {
        let mut migrated: Option<String> = None;
        let (found, forgotten) = match self.get(&self.config.key).await? {
            Some((bytes, etag)) => {
                *self.etag.lock().await = etag;
                let (state, forgotten, notice) = super::decode(&bytes, &self.url(), forget)?;
                migrated = notice;
                (Some(state), forgotten)
            }
            None => (None, Vec::new()),
        };
        let existed = found.is_some();
        let mut loaded = journal::with_journal(found, &self.journal_path)?;
        loaded.forgotten = forgotten;
        loaded.existed |= existed;
        loaded.notices.extend(migrated);
        Ok(loaded)
    }

    /// Writes the state object conditionally; refuses when someone else
    /// wrote it since this process read it.
    pub async fn persist(&self, state: &mut State) -> Result<(), StateError> {
        let previous = state.serial;
        state.serial = super::next_serial(previous, &self.url())?;
        state.meshmon_version = env!("CARGO_PKG_VERSION").to_string();
        let body = match super::to_checked_json(state, &self.url()) {
            Ok(b) => b,
            Err(e) => {
                state.serial = previous;
                return Err(e);
            }
        };
        let mut etag = self.etag.lock().await;
        let mut put = self
            .client
            .put_object()
            .bucket(&self.config.bucket)
            .key(&self.config.key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        put = match etag.as_deref() {
            Some(tag) => put.if_match(tag),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(out) => *etag = out.e_tag().map(str::to_string),
            Err(e)
                if e.code() == Some("PreconditionFailed")
                    || e.code() == Some("ConditionalRequestConflict") =>
            {
                state.serial = previous;
                return Err(StateError::Remote {
                    operation: "s3:PutObject".into(),
                    url: self.url(),
                    message:
                        "the state object changed since meshmon read it: another process wrote it. \
                              Run the command again to start from the current state"
                            .into(),
                });
            }
            Err(e) => {
                state.serial = previous;
                return Err(s3_error("s3:PutObject", &self.url(), e));
            }
        }
        journal::remove_journal(&self.journal_path)
    }

    /// Takes the lock object, waiting up to `timeout` for a live holder.
    pub async fn lock(&self, operation: &str, timeout: Duration) -> Result<S3Lock, StateError> {
        // A timeout too large to add to the clock means: wait as long as it takes.
        let deadline = Instant::now().checked_add(timeout);
        let key = self.lock_key();
        let url = format!("s3://{}/{key}", self.config.bucket);
        loop {
            let info = LockInfo::new(operation);
            let body = serde_json::to_vec(&info).expect("lock info serializes");
            let put = self
                .client
                .put_object()
                .bucket(&self.config.bucket)
                .key(&key)
                .if_none_match("*")
                .body(ByteStream::from(body))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(S3Lock { info }),
                Err(e)
                    if e.code() == Some("PreconditionFailed")
                        || e.code() == Some("ConditionalRequestConflict") =>
                {
                    let holder = self.holder().await?;
                    if let Some(h) = &holder
                        && h.held_by_dead_local_process()
                    {
                        // Its process is gone from this very machine: the
                        // lock can protect nothing any more.
                        self.delete_lock_if(&h.id).await?;
                        continue;
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(StateError::Locked {
                            path: self.url(),
                            holder: Box::new(holder.unwrap_or_else(LockInfo::unknown)),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(s3_error("s3:PutObject", &url, e)),
            }
        }
    }

    async fn holder(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self
            .get(&self.lock_key())
            .await?
            .and_then(|(bytes, _)| serde_json::from_slice(&bytes).ok()))
    }

    /// Deletes the lock object if it still carries `id`.
    async fn delete_lock_if(&self, id: &str) -> Result<bool, StateError> {
        match self.holder().await? {
            Some(h) if h.id == id => {
                let key = self.lock_key();
                self.client
                    .delete_object()
                    .bucket(&self.config.bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| {
                        s3_error(
                            "s3:DeleteObject",
                            &format!("s3://{}/{key}", self.config.bucket),
                            e,
                        )
                    })?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub async fn unlock(&self, lock: S3Lock) -> Result<(), StateError> {
        self.delete_lock_if(&lock.info.id).await.map(|_| ())
    }

    pub async fn force_unlock(&self, id: &str, force: bool) -> Result<LockInfo, StateError> {
        let holder = self
            .holder()
            .await?
            .ok_or_else(|| StateError::NotLocked { path: self.url() })?;
        if holder.id != id {
            return Err(StateError::WrongLockId {
                path: self.url(),
                given: id.to_string(),
                actual: holder.id,
            });
        }
        if !force && holder.held_by_live_local_process() {
            return Err(StateError::HolderAlive {
                path: self.url(),
                holder: Box::new(holder),
            });
        }
        self.delete_lock_if(id).await?;
        Ok(holder)
    }
}

/// A held S3 lock; released with `S3Store::unlock`.
pub struct S3Lock {
    pub info: LockInfo,
}
