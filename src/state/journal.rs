//! The journal: `NAME.json.journal`, one JSON line per step of an apply,
//! appended as each happens and fsynced in groups by a background thread.
//! An intent is written before a create or delete calls its provider, and
//! every completed operation before the next is scheduled off it, so a kill
//! at any moment loses nothing: the next `load` replays the journal over the
//! state it started from (`with_journal`), turning an intent without its
//! completion into a pending create or a deposed object. [`Replayer`]
//! applies entries exactly as replay does; the walk keeps its state in
//! memory with it. Rewriting the whole state after each operation would
//! cost O(n²) for n resources; the journal keeps apply linear.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::{
    Deposed, DeposedKey, Loaded, MAX_NESTING, OutputState, PendingCreate, ResourceState, State,
    StateError, write_json,
};
use crate::addr::Address;

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum JournalEntry {
    /// First line: which state the entries apply on top of.
    Begin {
        lineage: String,
        serial: u64,
    },
    /// A create is about to start: written before the provider is called,
    /// so that a kill before its answer leaves a pending create to recover.
    Intent {
        address: Address,
        create: Box<PendingCreate>,
    },
    /// The object at `address` as created or updated. Ends the address's
    /// pending create; with `depose`, the object it replaces is deposed
    /// under that key first.
    Set {
        address: Address,
        resource: Box<ResourceState>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        depose: Option<DeposedKey>,
    },
    /// A partly created object that must go (the new half of a failed
    /// `create_before_destroy` replace): deposed under `key`, so that the
    /// object it was to replace stays in place.
    Stash {
        key: DeposedKey,
        address: Address,
        resource: Box<ResourceState>,
    },
    /// A delete is about to start: of the object at `address`, or of the
    /// deposed object `key`. Without the matching `remove`/`forget`, the
    /// object is deposed on replay so that the next apply finishes it.
    Deleting {
        address: Address,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<DeposedKey>,
    },
    Remove {
        address: Address,
    },
    /// The deposed object `key` is deleted.
    Forget {
        key: DeposedKey,
    },
    /// An intent at `address` ended with nothing to record: the create or
    /// delete failed without effect, or recovery found no object.
    Abandon {
        address: Address,
    },
    Outputs {
        outputs: std::collections::BTreeMap<String, OutputState>,
    },
}

impl JournalEntry {
    /// Whether every record in the entry has its address's type.
    fn consistent(&self) -> bool {
        match self {
            JournalEntry::Intent { address, create } => address.type_name() == create.type_name,
            JournalEntry::Set {
                address, resource, ..
            }
            | JournalEntry::Stash {
                address, resource, ..
            } => address.type_name() == resource.type_name,
            _ => true,
        }
    }
}

/// Applies journal entries to a state the way replay does. The apply walk
/// uses it too, so the state it holds in memory is always what replaying
/// its journal would give.
#[derive(Debug, Default)]
pub struct Replayer {
    /// Deletes started and not finished: (address, deposed key).
    deleting: Vec<(Address, Option<DeposedKey>)>,
}

impl Replayer {
    pub fn apply(&mut self, state: &mut State, entry: JournalEntry) {
        match entry {
            JournalEntry::Begin { .. } => {}
            JournalEntry::Intent { address, create } => {
                state.pending.insert(address, *create);
            }
            JournalEntry::Set {
                address,
                resource,
                depose,
            } => {
                state.pending.remove(&address);
                if let Some(key) = depose
                    && let Some(old) = state.resources.remove(&address)
                {
                    state.deposed.insert(
                        key,
                        Deposed {
                            address: address.clone(),
                            resource: old,
                        },
                    );
                }
                state.resources.insert(address, *resource);
            }
            JournalEntry::Stash {
                key,
                address,
                resource,
            } => {
                state.pending.remove(&address);
                state.deposed.insert(
                    key,
                    Deposed {
                        address,
                        resource: *resource,
                    },
                );
            }
            JournalEntry::Deleting { address, key } => self.deleting.push((address, key)),
            JournalEntry::Remove { address } => {
                self.deleting
                    .retain(|(a, k)| !(a == &address && k.is_none()));
                state.resources.remove(&address);
            }
            JournalEntry::Forget { key } => {
                self.deleting.retain(|(_, k)| k.as_ref() != Some(&key));
                state.deposed.remove(&key);
            }
            JournalEntry::Abandon { address } => {
                state.pending.remove(&address);
                self.deleting
                    .retain(|(a, k)| !(a == &address && k.is_none()));
            }
            JournalEntry::Outputs { outputs } => state.outputs = outputs,
        }
    }

    /// Ends a replay: an object whose delete was started and never finished
    /// is deposed, so that the next apply finishes the delete.
    pub fn finish(self, state: &mut State) {
        for (address, key) in self.deleting {
            if key.is_none()
                && let Some(resource) = state.resources.remove(&address)
            {
                state
                    .deposed
                    .insert(DeposedKey::new(), Deposed { address, resource });
            }
        }
    }
}

/// Replays `entries` over `state`.
pub(crate) fn replay_entries(state: &mut State, entries: Vec<JournalEntry>) {
    let mut replayer = Replayer::default();
    for entry in entries {
        replayer.apply(state, entry);
    }
    replayer.finish(state);
}

/// Replays the journal at `path` over the state as found (or over the empty
/// state the journal began with, when none was ever written).
///
/// Every intact line is replayed. A line cut short at the very end is the
/// mark of a kill mid-append: the operation it describes did not complete.
/// Any other unreadable line is damage: it is skipped, the lines after it
/// still count, a copy of the file is kept beside it for inspection, and the
/// returned notices say so.
pub(crate) fn with_journal(found: Option<State>, path: &Path) -> Result<Loaded, StateError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(StateError::Symlink {
                path: path.display().to_string(),
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded::fresh(found.unwrap_or_default()));
        }
        Err(e) => return Err(StateError::io("read", path)(e)),
    }
    let bytes = match crate::fsutil::read_bytes_limited(path, crate::fsutil::MAX_STATE_BYTES) {
        Ok(b) => b,
        Err(crate::fsutil::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded::fresh(found.unwrap_or_default()));
        }
        Err(crate::fsutil::ReadError::Io(e)) => return Err(StateError::io("read", path)(e)),
        Err(e) => {
            return Err(StateError::Corrupt {
                path: path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    let replay = read_journal(&bytes);
    let mut state = match (found, replay.begin.clone()) {
        // Written against another state (or already folded into this one
        // before the process died): nothing to replay, nothing to recover.
        (Some(s), Some((lineage, serial))) if s.lineage != lineage || s.serial != serial => {
            return Ok(Loaded::fresh(s));
        }
        (Some(s), _) => s,
        // The first apply of an environment was killed before it ever
        // wrote the state: start from the empty state it began with.
        (None, Some((lineage, serial))) => State {
            lineage,
            serial,
            ..State::new()
        },
        // The first line is damaged: entries are whole records, so replaying
        // them over the state found is safe even if they were folded in.
        (None, None) => State::new(),
    };
    let mut notices = Vec::new();
    if replay.damaged > 0 {
        let kept = keep_damaged(path, &bytes);
        notices.push(format!(
            "the journal {} is damaged: {} line(s) could not be read and were skipped; {} intact operation(s) were recovered{}. Check the resources those lines may have described with `meshmon plan`.",
            path.display(),
            replay.damaged,
            replay.entries.len(),
            match kept {
                Ok(copy) => format!(", and a copy of the damaged file is kept in {}", copy.display()),
                Err(e) => format!(" (keeping a copy of it failed: {e})"),
            }
        ));
    }
    if replay.begin.is_none() && replay.damaged == 0 && !replay.entries.is_empty() {
        let kept = keep_damaged(path, &bytes);
        notices.push(format!(
            "the journal {} has no opening line saying which state it extends: its {} operation(s) were replayed over the state found{}. Check them with `meshmon plan`.",
            path.display(),
            replay.entries.len(),
            match kept {
                Ok(copy) => format!(", and a copy of the journal is kept in {}", copy.display()),
                Err(e) => format!(" (keeping a copy of it failed: {e})"),
            }
        ));
    }
    let replayed = !replay.entries.is_empty();
    replay_entries(&mut state, replay.entries);
    Ok(Loaded {
        state,
        replayed,
        notices,
        forgotten: Vec::new(),
        existed: true,
    })
}

/// A journal's readable content.
struct Replay {
    /// The lineage and serial of the first line, when it is intact.
    begin: Option<(String, u64)>,
    /// Every intact entry after the first line, in order.
    entries: Vec<JournalEntry>,
    /// Unreadable lines, not counting a torn last line.
    damaged: usize,
}

fn read_journal(bytes: &[u8]) -> Replay {
    let mut replay = Replay {
        begin: None,
        entries: Vec::new(),
        damaged: 0,
    };
    let complete = bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let count = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        let last = i + 1 == count;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<JournalEntry>(line) {
            Ok(JournalEntry::Begin { lineage, serial }) if i == 0 => {
                replay.begin = Some((lineage, serial));
            }
            Ok(JournalEntry::Begin { .. }) => replay.damaged += 1,
            // A record under another type's address is not one meshmon wrote.
            Ok(entry) if !entry.consistent() => replay.damaged += 1,
            Ok(entry) => replay.entries.push(entry),
            // Cut short by a kill mid-append: not an operation that completed.
            Err(_) if last && !complete => {}
            Err(_) => replay.damaged += 1,
        }
    }
    replay
}

/// Copies a damaged journal to `JOURNAL.damaged-HASH` (named by its content,
/// so reading it again keeps one copy) without following links.
fn keep_damaged(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let digest = hex::encode(sha2::Sha256::digest(bytes));
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".damaged-{}", &digest[..12]));
    let copy = PathBuf::from(name);
    if std::fs::symlink_metadata(&copy).is_ok() {
        return Ok(copy);
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(&copy) {
        Ok(_) => Ok(copy),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(copy),
        Err(e) => Err(e.error),
    }
}

/// Drops a journal once the state it extends has been written.
pub(crate) fn remove_journal(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io("remove", path)(e)),
    }
}

/// The least time between two background fsyncs of the journal.
const SYNC_GAP: std::time::Duration = std::time::Duration::from_millis(2);

/// One entry as the journal writes it (a JSON line), or why it cannot be
/// written. Made where the entry is: an operation's task makes the line
/// that records what it applied, off the walk's thread.
pub struct JournalLine(Result<Vec<u8>, String>);

impl JournalLine {
    pub fn of(entry: &JournalEntry) -> Self {
        let mut line = Vec::with_capacity(256);
        JournalLine(Self::write(&mut line, entry).map(|()| line))
    }

    /// Appends `entry` to `out` as one line. What is journaled must replay:
    /// what serde_json writes it reads back, except a document nested
    /// deeper than its recursion limit, refused here (counted as the line
    /// is written); `out` may then hold part of the line.
    fn write(out: &mut Vec<u8>, entry: &JournalEntry) -> Result<(), String> {
        let depth =
            write_json(out, entry, serde_json::ser::CompactFormatter).map_err(|e| e.to_string())?;
        if depth > MAX_NESTING {
            return Err(format!(
                "a journal entry could not be read back: its values are nested more than \
                 {MAX_NESTING} deep"
            ));
        }
        out.push(b'\n');
        Ok(())
    }
}

/// The append-only log of completed operations during an apply.
pub struct Journal {
    file: File,
    path: PathBuf,
    sync_tx: Option<mpsc::Sender<()>>,
    syncer: Option<JoinHandle<()>>,
    /// The first fsync the background thread could not do: the journal is
    /// then not durable, and the next append or `finish` says so.
    sync_failed: std::sync::Arc<std::sync::Mutex<Option<std::io::Error>>>,
    /// Whole lines appended since the last write.
    buffered: Vec<u8>,
}

impl Journal {
    pub(crate) fn create(path: &Path, state: &State) -> Result<Journal, StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(StateError::io("create directory", dir))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| {
                StateError::refuse_link(e, path)
                    .unwrap_or_else(|e| StateError::io("create", path)(e))
            })?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(StateError::io("chmod", path))?;
        let sync_file = file.try_clone().map_err(StateError::io("open", path))?;
        let (tx, rx) = mpsc::channel::<()>();
        let sync_failed = std::sync::Arc::new(std::sync::Mutex::new(None));
        let failed = sync_failed.clone();
        // Group commit: each fsync covers every line written before it, so
        // a burst of fast operations costs one fsync, not one each.
        let syncer = std::thread::spawn(move || {
            while rx.recv().is_ok() {
                while rx.try_recv().is_ok() {}
                if let Err(e) = sync_file.sync_data() {
                    failed.lock().expect("sync lock").get_or_insert(e);
                }
                // Lines written in the next moment go with the next fsync:
                // a walk of fast operations flushes thousands of times a
                // second, and waking this thread for each cost the walk
                // more than the fsyncs.
                std::thread::sleep(SYNC_GAP);
            }
        });
        let mut j = Journal {
            file,
            path: path.to_path_buf(),
            sync_tx: Some(tx),
            syncer: Some(syncer),
            sync_failed,
            buffered: Vec::new(),
        };
        j.append(&JournalEntry::Begin {
            lineage: state.lineage.clone(),
            serial: state.serial,
        })?;
        j.flush()?;
        Ok(j)
    }

    /// Appends one entry as a whole line to what the next [`flush`]
    /// writes. An entry that could not be read back is refused here, and
    /// the lines before it stay.
    ///
    /// [`flush`]: Self::flush
    pub fn append(&mut self, entry: &JournalEntry) -> Result<(), StateError> {
        self.sync_error()?;
        let start = self.buffered.len();
        if let Err(message) = JournalLine::write(&mut self.buffered, entry) {
            self.buffered.truncate(start);
            return Err(self.unwritable(message));
        }
        Ok(())
    }

    /// Appends a line made by [`JournalLine::of`], as [`append`] would
    /// have written its entry.
    ///
    /// [`append`]: Self::append
    pub fn append_line(&mut self, line: JournalLine) -> Result<(), StateError> {
        self.sync_error()?;
        match line.0 {
            Ok(bytes) => {
                self.buffered.extend_from_slice(&bytes);
                Ok(())
            }
            Err(message) => Err(self.unwritable(message)),
        }
    }

    fn unwritable(&self, message: String) -> StateError {
        StateError::Unwritable {
            path: self.path.display().to_string(),
            message,
        }
    }

    /// Writes the lines appended since the last flush, in one write where
    /// the system allows: a kill leaves whole lines and at most one torn
    /// last line, which replay ignores. The background thread then makes
    /// them durable with the next fsync.
    pub fn flush(&mut self) -> Result<(), StateError> {
        if self.buffered.is_empty() {
            return Ok(());
        }
        self.sync_error()?;
        let written = self.file.write_all(&self.buffered);
        self.buffered.clear();
        written.map_err(StateError::io("append to", &self.path))?;
        if let Some(tx) = &self.sync_tx {
            let _ = tx.send(());
        }
        Ok(())
    }

    /// A background fsync that failed, as an error.
    fn sync_error(&self) -> Result<(), StateError> {
        match self.sync_failed.lock().expect("sync lock").take() {
            Some(e) => Err(StateError::io("fsync", &self.path)(e)),
            None => Ok(()),
        }
    }

    /// Waits for the background fsyncs and makes everything durable.
    pub fn finish(mut self) -> Result<(), StateError> {
        self.flush()?;
        self.sync_tx.take();
        if let Some(h) = self.syncer.take() {
            let _ = h.join();
        }
        self.sync_error()?;
        self.file
            .sync_data()
            .map_err(StateError::io("fsync", &self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Box<ResourceState> {
        Box::new(ResourceState {
            type_name: "fake_object".into(),
            provider: "fake".into(),
            inputs: Default::default(),
            outputs: [("id".to_string(), meshmon_provider_sdk::Value::from(id))].into(),
            dependencies: Vec::new(),
            status: Default::default(),
            sensitive_attributes: Vec::new(),
            instance: None,
        })
    }

    fn pending(token: &str) -> Box<PendingCreate> {
        Box::new(PendingCreate {
            type_name: "fake_object".into(),
            provider: "fake".into(),
            token: token.into(),
            inputs: Default::default(),
            dependencies: Vec::new(),
            sensitive_attributes: Vec::new(),
            deposes: None,
            instance: None,
        })
    }

    fn replayed(entries: Vec<JournalEntry>) -> State {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json.journal");
        let mut journal = Journal::create(&path, &State::new()).unwrap();
        for e in &entries {
            journal.append(e).unwrap();
        }
        journal.finish().unwrap();
        with_journal(None, &path).unwrap().state
    }

    #[test]
    fn appended_entries_reach_the_file_together_when_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json.journal");
        let mut journal = Journal::create(&path, &State::new()).unwrap();
        let lines = || std::fs::read_to_string(&path).unwrap().lines().count();
        assert_eq!(lines(), 1, "the first line is on file at once");
        for (a, t) in [("fake_object.a", "t1"), ("fake_object.b", "t2")] {
            journal
                .append(&JournalEntry::Intent {
                    address: a.into(),
                    create: pending(t),
                })
                .unwrap();
        }
        assert_eq!(lines(), 1, "appends wait for the flush");
        journal.flush().unwrap();
        assert_eq!(lines(), 3);
        // A kill now (no finish) loses nothing flushed.
        let replay = with_journal(None, &path).unwrap();
        assert_eq!(replay.state.pending.len(), 2);
        drop(journal);
    }

    #[test]
    fn the_depth_check_refuses_exactly_what_serde_json_cannot_read_back() {
        for depth in [1, 64, 126, 127, 128, 129, 200] {
            // Strings full of brackets, which are not nesting.
            let mut value = serde_json::json!("]\\\"[{");
            for i in 0..depth {
                value = if i % 2 == 0 {
                    serde_json::json!(["]\"[{", value])
                } else {
                    serde_json::json!({ "k{": value })
                };
            }
            let mut text = Vec::new();
            let counted = write_json(&mut text, &value, serde_json::ser::CompactFormatter).unwrap();
            let reads = serde_json::from_slice::<serde_json::Value>(&text).is_ok();
            assert_eq!(counted, depth);
            assert_eq!(counted <= MAX_NESTING, reads, "depth {depth}");
            let mut pretty = Vec::new();
            let counted =
                write_json(&mut pretty, &value, serde_json::ser::PrettyFormatter::new()).unwrap();
            assert_eq!(counted, depth);
            assert_eq!(pretty, serde_json::to_vec_pretty(&value).unwrap());
        }
    }

    #[test]
    fn an_intent_without_its_completion_replays_as_a_pending_create() {
        let state = replayed(vec![
            JournalEntry::Intent {
                address: "fake_object.a".into(),
                create: pending("t1"),
            },
            JournalEntry::Intent {
                address: "fake_object.b".into(),
                create: pending("t2"),
            },
            JournalEntry::Set {
                address: "fake_object.a".into(),
                resource: record("a-1"),
                depose: None,
            },
        ]);
        assert_eq!(
            state.resources.keys().collect::<Vec<_>>(),
            ["fake_object.a"]
        );
        assert_eq!(state.pending.keys().collect::<Vec<_>>(), ["fake_object.b"]);
        assert_eq!(state.pending[&"fake_object.b".into()].token, "t2");
    }

    #[test]
    fn a_delete_without_its_completion_replays_as_a_deposed_object() {
        let state = replayed(vec![
            JournalEntry::Set {
                address: "fake_object.a".into(),
                resource: record("a-1"),
                depose: None,
            },
            JournalEntry::Set {
                address: "fake_object.b".into(),
                resource: record("b-1"),
                depose: None,
            },
            JournalEntry::Deleting {
                address: "fake_object.a".into(),
                key: None,
            },
            JournalEntry::Deleting {
                address: "fake_object.b".into(),
                key: None,
            },
            JournalEntry::Remove {
                address: "fake_object.b".into(),
            },
        ]);
        assert!(state.resources.is_empty());
        let deposed: Vec<_> = state
            .deposed
            .values()
            .map(|d| d.address.to_string())
            .collect();
        assert_eq!(deposed, ["fake_object.a"]);
    }

    #[test]
    fn a_replace_that_creates_first_deposes_the_old_object_until_it_is_forgotten() {
        let mut entries = vec![
            JournalEntry::Set {
                address: "fake_object.a".into(),
                resource: record("a-1"),
                depose: None,
            },
            JournalEntry::Set {
                address: "fake_object.a".into(),
                resource: record("a-2"),
                depose: Some("k1".into()),
            },
        ];
        let state = replayed(std::mem::take(&mut entries));
        assert_eq!(
            state.resources[&"fake_object.a".into()].outputs["id"],
            "a-2".into()
        );
        assert_eq!(
            state.deposed[&"k1".into()].resource.outputs["id"],
            "a-1".into()
        );

        let state = replayed(vec![
            JournalEntry::Set {
                address: "fake_object.a".into(),
                resource: record("a-2"),
                depose: Some("k1".into()),
            },
            JournalEntry::Deleting {
                address: "fake_object.a".into(),
                key: Some("k1".into()),
            },
            JournalEntry::Forget { key: "k1".into() },
        ]);
        assert!(state.deposed.is_empty());
        assert_eq!(
            state.resources[&"fake_object.a".into()].outputs["id"],
            "a-2".into()
        );
    }

    #[test]
    fn an_abandoned_intent_leaves_nothing_pending_and_the_object_in_place() {
        let state = replayed(vec![
            JournalEntry::Set {
                address: "fake_object.a".into(),
                resource: record("a-1"),
                depose: None,
            },
            JournalEntry::Deleting {
                address: "fake_object.a".into(),
                key: None,
            },
            JournalEntry::Abandon {
                address: "fake_object.a".into(),
            },
            JournalEntry::Intent {
                address: "fake_object.b".into(),
                create: pending("t"),
            },
            JournalEntry::Abandon {
                address: "fake_object.b".into(),
            },
        ]);
        assert_eq!(
            state.resources.keys().collect::<Vec<_>>(),
            ["fake_object.a"]
        );
        assert!(state.pending.is_empty() && state.deposed.is_empty());
    }
}
