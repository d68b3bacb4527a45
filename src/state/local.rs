//! State on the local disk. Three files sit side by side:
//!
//! - `NAME.json`: the state, replaced atomically (temp file, fsync, rename,
//!   fsync of the directory); the previous copy is kept as `NAME.json.backup`.
//! - `NAME.json.lock`: an advisory `flock` plus a description of the holder.
//!   The kernel drops the lock when its process dies, so a crashed apply never
//!   traps the next one; the description only serves error messages.
//! - `NAME.json.journal`: while an apply runs, one JSON line per step
//!   (`journal.rs`). A kill at any moment loses no completed operation:
//!   the next `load` replays the journal over the state it started from.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::journal::{Journal, remove_journal, with_journal};
use super::{Loaded, State, StateError};

/// Who holds a lock, recorded in the lock file for other processes to read.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub id: String,
    pub operation: String,
    pub who: String,
    pub pid: u32,
    pub created: String,
}

impl LockInfo {
    /// A lock description for this process.
    pub fn new(operation: &str) -> Self {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            who: who(),
            pid: std::process::id(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    /// When the holder could not be read.
    pub fn unknown() -> Self {
        LockInfo {
            id: "unknown".into(),
            operation: "unknown".into(),
            who: "unknown".into(),
            pid: 0,
            created: "unknown".into(),
        }
    }

    /// Taken by a process of this user on this machine that has exited.
    pub fn held_by_dead_local_process(&self) -> bool {
        self.who == who() && self.pid != 0 && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }

    /// Taken by a process on this machine that is still running.
    pub fn held_by_live_local_process(&self) -> bool {
        let host = |w: &str| w.rsplit_once('@').map(|(_, h)| h.to_string());
        host(&self.who) == host(&who())
            && self.pid != 0
            && self.pid != std::process::id()
            && Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` run by {} (pid {}) since {}, lock ID {}",
            self.operation, self.who, self.pid, self.created, self.id
        )
    }
}

/// A state file on disk and its companions.
#[derive(Clone, Debug)]
pub struct LocalStore {
    pub path: PathBuf,
}

impl LocalStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalStore { path: path.into() }
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(suffix);
        PathBuf::from(s)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.sibling(".lock")
    }

    pub fn journal_path(&self) -> PathBuf {
        self.sibling(".journal")
    }

    pub fn backup_path(&self) -> PathBuf {
        self.sibling(".backup")
    }

    /// Reads the state, replaying a journal left by an interrupted apply.
    /// Returns the state and whether a journal was replayed. No file means
    /// a new, empty state.
    /// The state, with the journal replayed over it.
    pub fn load(&self) -> Result<Loaded, StateError> {
        self.load_forgetting(&[])
    }

    /// The state without the entries `forget` names (see [`super::decode`]).
    pub fn load_forgetting(&self, forget: &[String]) -> Result<Loaded, StateError> {
        let mut migrated: Option<String> = None;
        let (found, forgotten) =
            match crate::fsutil::read_bytes_limited(&self.path, crate::fsutil::MAX_STATE_BYTES) {
                Ok(bytes) => {
                    let (state, forgotten, notice) =
                        super::decode(&bytes, &self.path.display().to_string(), forget)?;
                    migrated = notice;
                    (Some(state), forgotten)
                }
                Err(crate::fsutil::ReadError::Io(e))
                    if e.kind() == std::io::ErrorKind::NotFound =>
                {
                    (None, Vec::new())
                }
                Err(crate::fsutil::ReadError::Io(e)) => {
                    return Err(StateError::io("read", &self.path)(e));
                }
                Err(e) => {
                    return Err(StateError::Corrupt {
                        path: self.path.display().to_string(),
                        message: e.to_string(),
                    });
                }
            };
        let existed = found.is_some();
        let mut loaded = with_journal(found, &self.journal_path())?;
        loaded.forgotten = forgotten;
        loaded.existed |= existed;
        loaded.notices.extend(migrated);
        Ok(loaded)
    }
}

impl LocalStore {
    /// Writes the state atomically, bumping its serial, keeping the previous
    /// file as a backup, then drops the journal it supersedes.
    pub fn persist(&self, state: &mut State) -> Result<(), StateError> {
        let origin = self.path.display().to_string();
        let serial = super::next_serial(state.serial, &origin)?;
        let previous = std::mem::replace(&mut state.serial, serial);
        state.meshmon_version = env!("CARGO_PKG_VERSION").to_string();
        let json = match super::to_checked_json(state, &origin) {
            Ok(j) => j,
            Err(e) => {
                state.serial = previous;
                return Err(e);
            }
        };
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(StateError::io("create directory", dir))?;
        if self.path.exists() {
            let backup = self.backup_path();
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(StateError::io("create backup in", dir))?;
            let bytes = std::fs::read(&self.path).map_err(StateError::io("read", &self.path))?;
            tmp.write_all(&bytes)
                .map_err(StateError::io("write", &backup))?;
            tmp.persist(&backup)
                .map_err(|e| StateError::io("replace", &backup)(e.error))?;
        }
        // tempfile creates the file with mode 0600: secrets in state stay private.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(StateError::io("create temporary file in", dir))?;
        tmp.write_all(&json)
            .map_err(StateError::io("write", &self.path))?;
        tmp.as_file()
            .sync_all()
            .map_err(StateError::io("fsync", &self.path))?;
        tmp.persist(&self.path)
            .map_err(|e| StateError::io("replace", &self.path)(e.error))?;
        // The rename is durable once the directory is: until then the
        // journal stays, and a failure is said, not dropped.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(StateError::io("fsync the directory of", &self.path))?;
        remove_journal(&self.journal_path())
    }

    /// Takes the lock, waiting up to `timeout` for a live holder to finish.
    pub fn lock(&self, operation: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        let path = self.lock_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(StateError::io("create directory", dir))?;
        }
        // A timeout too large to add to the clock means: wait as long as it takes.
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(|e| {
                    StateError::refuse_link(e, &path)
                        .unwrap_or_else(|e| StateError::io("open", &path)(e))
                })?;
            match file.try_lock() {
                Ok(()) => {
                    // The holder before us may have removed the file after we
                    // opened it; a lock on an unlinked inode protects nothing.
                    let same = std::fs::metadata(&path)
                        .ok()
                        .zip(file.metadata().ok())
                        .is_some_and(|(a, b)| a.ino() == b.ino() && a.dev() == b.dev());
                    if !same {
                        continue;
                    }
                    let info = LockInfo {
                        id: uuid::Uuid::new_v4().to_string(),
                        operation: operation.to_string(),
                        who: who(),
                        pid: std::process::id(),
                        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                            .to_string(),
                    };
                    let mut f = &file;
                    f.set_len(0).map_err(StateError::io("truncate", &path))?;
                    f.write_all(&serde_json::to_vec(&info).expect("lock info serializes"))
                        .map_err(StateError::io("write", &path))?;
                    return Ok(LockGuard {
                        path,
                        info,
                        _file: file,
                    });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(StateError::Locked {
                            path: self.path.display().to_string(),
                            holder: Box::new(read_holder(&path)),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(StateError::io("lock", &path)(e));
                }
            }
        }
    }

    /// Removes a lock whose holder is stuck or gone. Refuses when the ID is
    /// not the current lock's, so the wrong lock is never broken, and when
    /// its holder is still running on this machine, unless `force`.
    pub fn force_unlock(&self, id: &str, force: bool) -> Result<LockInfo, StateError> {
        let path = self.lock_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotLocked {
                    path: self.path.display().to_string(),
                });
            }
            Err(e) => return Err(StateError::io("read", &path)(e)),
        };
        let info: LockInfo = serde_json::from_str(&text).map_err(|_| StateError::NotLocked {
            path: self.path.display().to_string(),
        })?;
        if info.id != id {
            return Err(StateError::WrongLockId {
                path: self.path.display().to_string(),
                given: id.to_string(),
                actual: info.id,
            });
        }
        if !force && info.held_by_live_local_process() {
            return Err(StateError::HolderAlive {
                path: self.path.display().to_string(),
                holder: Box::new(info),
            });
        }
        std::fs::remove_file(&path).map_err(StateError::io("remove", &path))?;
        Ok(info)
    }

    /// Starts a journal for an apply on top of `state`.
    pub fn journal(&self, state: &State) -> Result<Journal, StateError> {
        Journal::create(&self.journal_path(), state)
    }
}

fn who() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

/// Reads the holder's description; it is written just after the lock is
/// taken, so give a fresh holder a moment to finish writing it.
fn read_holder(path: &Path) -> LockInfo {
    for _ in 0..20 {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(info) = serde_json::from_str(&text)
        {
            return info;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    LockInfo::unknown()
}

/// Held while a command may write state; released on drop.
pub struct LockGuard {
    path: PathBuf,
    pub info: LockInfo,
    _file: File,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Remove the file only if it still describes us: after a
        // force-unlock it may belong to someone else.
        if let Ok(text) = std::fs::read_to_string(&self.path)
            && let Ok(info) = serde_json::from_str::<LockInfo>(&text)
            && info.id == self.info.id
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
