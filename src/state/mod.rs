//! The state file: what meshmon created, keyed by address, with the inputs it
//! applied and the outputs the providers reported. `local` keeps it on disk
//! with a lock, atomic writes, a backup and a journal of completed
//! operations; the format here is shared by every backend.

pub mod journal;
mod json;
pub mod local;
pub mod s3;
mod store;

use std::collections::BTreeMap;

use meshmon_provider_sdk::{Current, Map, Value};
use serde::{Deserialize, Serialize};

use crate::addr::Address;

pub use journal::{Journal, JournalEntry, JournalLine, Replayer};
pub use json::to_checked_json;
pub(crate) use json::{MAX_NESTING, write_json};
pub use local::{LocalStore, LockGuard, LockInfo};
pub use store::{Backend, JournalSink, Store, StoreLock};

/// The state format this meshmon writes. Version 1 (before look-ups were
/// recorded) is read too and written back as this one.
pub const FORMAT_VERSION: u32 = 2;
/// Every format this meshmon reads.
const READS_FORMATS: &[u32] = &[1, FORMAT_VERSION];

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub format_version: u32,
    /// Identifies one environment's history; a saved plan or journal from
    /// another lineage never applies to this state.
    pub lineage: String,
    /// Bumped on every write; a saved plan records the serial it was made at.
    pub serial: u64,
    pub meshmon_version: String,
    #[serde(deserialize_with = "unique")]
    pub resources: BTreeMap<Address, ResourceState>,
    #[serde(default, deserialize_with = "unique")]
    pub outputs: BTreeMap<String, OutputState>,
    /// Creates whose outcome is unknown: the process stopped after journaling
    /// the intent and before the answer. The next apply asks the provider to
    /// find each object and adopts it, or creates it afresh.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique"
    )]
    pub pending: BTreeMap<Address, PendingCreate>,
    /// Objects that must still be deleted, by key: the old half of a
    /// `create_before_destroy` replace, or an object whose delete was in
    /// flight when the process stopped. The next apply finishes them.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique"
    )]
    pub deposed: BTreeMap<DeposedKey, Deposed>,
    /// What each look-up found when it was last read, by its `data.`
    /// address: what references and provider configurations see of it
    /// until it is read again (a drift run, a destroy).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique"
    )]
    pub data: BTreeMap<Address, ResourceState>,
}

/// Reads a table whose keys must be unique: a state with the same address
/// (or output, or key) twice is refused, never "the last one wins".
pub(crate) fn unique<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Ord + std::fmt::Display,
    V: Deserialize<'de>,
{
    struct Unique<K, V>(std::marker::PhantomData<(K, V)>);
    impl<'de, K, V> serde::de::Visitor<'de> for Unique<K, V>
    where
        K: Deserialize<'de> + Ord + std::fmt::Display,
        V: Deserialize<'de>,
    {
        type Value = BTreeMap<K, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a table")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            // Collected, then checked and built in one pass: a state is
            // written in key order, and a sorted sequence builds a B-tree
            // without searching it once per key.
            let mut entries: Vec<(K, V)> = Vec::new();
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            let entries = meshmon_provider_sdk::sorted_map::sorted_unique(entries)
                .map_err(|k| serde::de::Error::custom(format_args!("`{k}` appears twice")))?;
            Ok(entries.into_iter().collect())
        }
    }
    d.deserialize_map(Unique(std::marker::PhantomData))
}

/// A create that was started, with what finds its object again.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PendingCreate {
    #[serde(rename = "type")]
    pub type_name: String,
    pub provider: String,
    /// The idempotency token the create sent (and a retry sends again).
    pub token: String,
    /// The inputs the create was given.
    pub inputs: Map,
    #[serde(default)]
    pub dependencies: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<String>,
    /// For the new half of a `create_before_destroy` replace: the key the
    /// object it replaces is deposed under once the new one is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposes: Option<DeposedKey>,
    /// The named provider instance that makes it; none for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<ProviderInstance>,
}

/// An object meshmon still has to delete.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Deposed {
    pub address: Address,
    pub resource: ResourceState,
}

/// The key a deposed object is known by: short, unique within a state, and
/// checked when read, so that what a hand-edited state holds can never be
/// mistaken for something else.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeposedKey(String);

impl DeposedKey {
    /// A new key.
    pub fn new() -> Self {
        DeposedKey(uuid::Uuid::new_v4().simple().to_string()[..8].to_string())
    }

    /// A key as written, if it is one: 1 to 64 ASCII letters, digits, `_`
    /// or `-`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = (1..=64).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(DeposedKey(text.to_string()))
        } else {
            Err(format!(
                "{text:?} is not a deposed object's key: expected 1 to 64 letters, digits, `_` or `-`"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for DeposedKey {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
impl From<&str> for DeposedKey {
    fn from(text: &str) -> Self {
        DeposedKey::parse(text).expect("a valid key")
    }
}

impl PartialEq<&str> for DeposedKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Display for DeposedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DeposedKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DeposedKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl State {
    /// Moves the record at `from` to `to`, and every recorded dependency
    /// on it; `false`, with nothing changed, when nothing is recorded at
    /// `from`. The caller has checked that `to` is free.
    pub fn rename(&mut self, from: &Address, to: &Address) -> bool {
        let Some(r) = self.resources.remove(from) else {
            return false;
        };
        self.resources.insert(to.clone(), r);
        for other in self.resources.values_mut() {
            for d in other.dependencies.iter_mut().filter(|d| *d == from) {
                *d = to.clone();
            }
        }
        true
    }

    /// An entry whose recorded type is not its address's (`null_resource.a`
    /// recorded as a `local_file`), said as an error message: such a record
    /// could only come from an edit, and acting on it would act on the
    /// wrong kind of object.
    pub fn mismatched_type(&self) -> Option<String> {
        let records = self
            .resources
            .iter()
            .map(|(a, r)| (a, &r.type_name))
            .chain(self.pending.iter().map(|(a, p)| (a, &p.type_name)))
            .chain(
                self.deposed
                    .values()
                    .map(|d| (&d.address, &d.resource.type_name)),
            );
        for (address, _) in records.clone() {
            if address.is_data() {
                return Some(format!(
                    "`{address}` is a look-up's address, recorded as an object meshmon manages"
                ));
            }
        }
        if let Some(address) = self.data.keys().find(|a| !a.is_data()) {
            return Some(format!(
                "`{address}` is recorded as a look-up, but is not a `data.` address"
            ));
        }
        let looked_up = self.data.iter().map(|(a, r)| (a, &r.type_name));
        for (address, type_name) in records.chain(looked_up) {
            if address.type_name() != type_name {
                return Some(format!(
                    "`{address}` is recorded as a `{}`, not a `{}`",
                    crate::diag::printable(type_name),
                    address.type_name()
                ));
            }
        }
        None
    }

    pub fn new() -> Self {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            meshmon_version: env!("CARGO_PKG_VERSION").to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: BTreeMap::new(),
            deposed: BTreeMap::new(),
            data: BTreeMap::new(),
        }
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created and, as far as meshmon knows, healthy.
    #[default]
    Ready,
    /// Exists but an operation on it failed part-way; the next plan replaces it.
    Tainted,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ResourceState {
    #[serde(rename = "type")]
    pub type_name: String,
    pub provider: String,
    pub inputs: Map,
    pub outputs: Map,
    /// Addresses this resource depended on when last applied: destroy order
    /// for resources no longer in the spec comes from here.
    #[serde(default)]
    pub dependencies: Vec<Address>,
    #[serde(default)]
    pub status: Status,
    /// Top-level attributes whose values are secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<String>,
    /// The named provider instance that manages it; none for a provider's
    /// default instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<ProviderInstance>,
}

/// A named provider instance (`aws.prod`, `aws.accounts["prod"]`) and its
/// configuration as it was when it last acted, secrets left out: enough
/// to read and destroy what it manages after it leaves the spec.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProviderInstance {
    pub name: String,
    pub config: Map,
}

impl ProviderInstance {
    /// The name of the instance a record of `provider` was made through:
    /// the recorded named instance, or the provider's default.
    pub fn name_of(
        instance: Option<&ProviderInstance>,
        provider: &str,
        registry: &crate::registry::Registry,
    ) -> String {
        match instance {
            Some(i) => i.name.clone(),
            None => registry
                .provider(provider)
                .map_or(provider.to_string(), |p| p.config_block().to_string()),
        }
    }
}

impl ResourceState {
    /// The name of the provider instance that manages it: the recorded
    /// named instance, or its provider's default.
    pub fn instance_name(&self, registry: &crate::registry::Registry) -> String {
        ProviderInstance::name_of(self.instance.as_ref(), &self.provider, registry)
    }

    pub fn current(&self) -> Current {
        Current::new(self.inputs.clone(), self.outputs.clone())
    }

    pub fn attributes(&self) -> Map {
        let mut m = self.inputs.clone();
        m.extend(self.outputs.iter().map(|(k, v)| (k.clone(), v.clone())));
        m
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OutputState {
    pub value: Value,
    #[serde(default)]
    pub sensitive: bool,
}

/// Decodes a state file, checking every entry: addresses, deposed keys and
/// values are parsed, and a key written twice is an error naming it.
///
/// `forget` names entries to drop first, as written — an address the
/// checks refuse (a hand edit that put a NUL byte in it) included — from
/// the resources, the pending creates and the deposed objects: `state rm`
/// removes what the reader refuses this way. Returns the state, the
/// names that were found and dropped, and what to tell the user about an
/// older format that was migrated.
pub(crate) fn decode(
    bytes: &[u8],
    origin: &str,
    forget: &[String],
) -> Result<(State, Vec<String>, Option<String>), StateError> {
    let corrupt = |e: serde_json::Error| StateError::Corrupt {
        path: origin.to_string(),
        message: e.to_string(),
    };
    #[derive(Deserialize)]
    struct Version {
        format_version: u32,
    }
    let v: Version = serde_json::from_slice(bytes).map_err(corrupt)?;
    if !READS_FORMATS.contains(&v.format_version) {
        return Err(StateError::UnsupportedFormat {
            path: origin.to_string(),
            found: v.format_version,
        });
    }
    // An older format is read as this one: what it lacks is empty.
    let checked = |mut state: State| match state.mismatched_type() {
        None => {
            state.format_version = FORMAT_VERSION;
            Ok(state)
        }
        Some(message) => Err(StateError::Corrupt {
            path: origin.to_string(),
            message,
        }),
    };
    let migrated = (v.format_version != FORMAT_VERSION).then(|| {
        format!(
            "the state at {origin} is in format {}; it is read as format {FORMAT_VERSION} and written so by the next change, after which meshmon releases that read only format {} cannot read it",
            v.format_version, v.format_version
        )
    });
    if forget.is_empty() {
        let state = checked(serde_json::from_slice(bytes).map_err(corrupt)?)?;
        return Ok((state, Vec::new(), migrated));
    }
    // The document as plain JSON, so that entries the checks would refuse
    // can be found and dropped; keys written twice are refused here too,
    // since plain JSON keeps only the last of them.
    serde_json::from_slice::<Unique>(bytes).map_err(corrupt)?;
    let mut doc: serde_json::Value = serde_json::from_slice(bytes).map_err(corrupt)?;
    let mut dropped = Vec::new();
    // An entry is named as written, or as errors print it: a NUL byte, which
    // no command line can carry, as `\u{0}`.
    let named = |key: &str| {
        forget
            .iter()
            .find(|f| f.as_str() == key || crate::diag::printable(key) == f.as_str())
    };
    for table in ["resources", "pending", "data"] {
        if let Some(entries) = doc.get_mut(table).and_then(|t| t.as_object_mut()) {
            entries.retain(|key, _| match named(key) {
                Some(name) => {
                    if !dropped.contains(name) {
                        dropped.push(name.clone());
                    }
                    false
                }
                None => true,
            });
        }
    }
    if let Some(entries) = doc.get_mut("deposed").and_then(|t| t.as_object_mut()) {
        entries.retain(|_, d| {
            let address = d
                .get("address")
                .and_then(|a| a.as_str())
                .unwrap_or_default();
            match named(address) {
                Some(name) => {
                    if !dropped.contains(name) {
                        dropped.push(name.clone());
                    }
                    false
                }
                None => true,
            }
        });
    }
    let state = checked(serde_json::from_value(doc).map_err(corrupt)?)?;
    Ok((state, dropped, migrated))
}

/// Any JSON value, read only to refuse a table with a key written twice.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Unique;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_unit<E>(self) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Unique, A::Error> {
                while s.next_element::<Unique>()?.is_some() {}
                Ok(Unique)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Unique, A::Error> {
                let mut seen = std::collections::HashSet::new();
                while let Some(k) = m.next_key::<String>()? {
                    if !seen.insert(k.clone()) {
                        return Err(serde::de::Error::custom(format_args!(
                            "the key {k:?} appears twice in one table"
                        )));
                    }
                    m.next_value::<Unique>()?;
                }
                Ok(Unique)
            }
        }
        d.deserialize_any(V)
    }
}

/// What `load` found: the state, whether a journal left by an interrupted
/// apply was replayed over it, and anything the user must hear about (a
/// damaged journal, kept aside).
#[derive(Debug)]
pub struct Loaded {
    pub state: State,
    pub replayed: bool,
    pub notices: Vec<String>,
    /// The entries `load_forgetting` was asked to drop and found.
    pub forgotten: Vec<String>,
    /// Whether there was anything at the store: a state or a journal. A
    /// store never written loads as a fresh, empty state.
    pub existed: bool,
}

impl Loaded {
    pub fn fresh(state: State) -> Self {
        Loaded {
            state,
            replayed: false,
            notices: Vec::new(),
            forgotten: Vec::new(),
            existed: false,
        }
    }
}

/// Deepest nesting of a value meshmon records.
pub use meshmon_provider_sdk::value::MAX_DEPTH as MAX_VALUE_DEPTH;

/// How many times one run may write the state: the journal folded in, the
/// recovered creates, what a refresh found gone, the end of the walk.
const WRITES_PER_RUN: u64 = 8;

/// Refuses a run whose writes the serial could not count.
pub fn room_for_writes(serial: u64, origin: &str) -> Result<(), StateError> {
    match serial.checked_add(WRITES_PER_RUN) {
        Some(_) => Ok(()),
        None => Err(StateError::Unwritable {
            path: origin.to_string(),
            message: format!("its serial {serial} cannot grow any further; nothing was changed"),
        }),
    }
}

/// The serial after `serial`; the state refuses to wrap around.
pub fn next_serial(serial: u64, origin: &str) -> Result<u64, StateError> {
    serial.checked_add(1).ok_or_else(|| StateError::Unwritable {
        path: origin.to_string(),
        message: format!("its serial {serial} cannot grow any further"),
    })
}

/// Problems reading, writing or locking state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file system refused.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The state file is not valid state JSON.
    #[error("state file {path} is corrupt: {message}")]
    Corrupt { path: String, message: String },
    /// Written by a newer meshmon.
    #[error(
        "state file {path} has format_version {found}; this meshmon reads versions 1 to {FORMAT_VERSION}"
    )]
    UnsupportedFormat { path: String, found: u32 },
    /// Another process holds the lock.
    #[error("state {path} is locked by {holder}")]
    Locked { path: String, holder: Box<LockInfo> },
    /// `force-unlock` was given an ID that is not the current lock's.
    #[error("the lock on {path} has ID {actual}, not {given}")]
    WrongLockId {
        path: String,
        given: String,
        actual: String,
    },
    /// A remote state store refused or failed.
    #[error("{operation} on {url} failed: {message}")]
    Remote {
        operation: String,
        url: String,
        message: String,
    },
    /// `force-unlock` found nothing to unlock.
    #[error("state {path} is not locked")]
    NotLocked { path: String },
    /// `force-unlock` of a lock whose holder is still running here.
    #[error("the lock on {path} is held by a process that is still running: {holder}")]
    HolderAlive { path: String, holder: Box<LockInfo> },
    /// A file meshmon writes is a symbolic link; it never writes through one.
    #[error("{path} is a symbolic link; meshmon never writes through links")]
    Symlink { path: String },
    /// The state would not survive a round trip; nothing was written.
    #[error("refusing to write state {path}: {message}")]
    Unwritable { path: String, message: String },
}

impl StateError {
    /// What a failed file operation on `path` becomes.
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> StateError {
        let path = path.display().to_string();
        move |source| StateError::Io {
            action,
            path,
            source,
        }
    }

    /// `Symlink` when opening with `O_NOFOLLOW` failed on a link; the
    /// error itself otherwise.
    pub(crate) fn refuse_link(
        e: std::io::Error,
        path: &std::path::Path,
    ) -> Result<StateError, std::io::Error> {
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if e.raw_os_error() == Some(libc::ELOOP) || is_link {
            Ok(StateError::Symlink {
                path: path.display().to_string(),
            })
        } else {
            Err(e)
        }
    }

    /// What the user can do about it, where there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            StateError::Locked { holder, .. } => Some(format!(
                "wait for it to finish; if that process is gone, run `meshmon force-unlock {}`",
                holder.id
            )),
            StateError::HolderAlive { holder, .. } => Some(format!(
                "wait for pid {} to finish or stop it; `meshmon force-unlock --force {}` breaks the lock anyway, and two runs at once may duplicate or orphan objects",
                holder.pid, holder.id
            )),
            StateError::Corrupt { path, .. } if !path.contains("://") => {
                let backup = format!("{path}.backup");
                Some(
                    if std::path::Path::new(&backup).exists() {
                        format!(
                            "the previous state is kept in {backup}: check it (`meshmon state list --state {backup}`) and, if it is the one you want, restore it with `cp {backup} {path}`"
                        )
                    } else {
                        format!(
                            "no backup exists beside it ({backup}); restore {path} from your own copy or version control"
                        )
                    } + "; an entry the error names can also be dropped with `meshmon state rm ADDRESS` (the object itself is left alone)",
                )
            }
            StateError::Symlink { .. } => Some(
                "remove the link (or point --state somewhere else) and run the command again"
                    .into(),
            ),
            StateError::Unwritable { .. } => Some(
                "nothing was written; the state on disk is as it was before this command".into(),
            ),
            _ => None,
        }
    }
}
