//! The state file: what meshmon created, keyed by address, with the inputs it
//! applied and the outputs the providers reported. `local` keeps it on disk
//! with a lock, atomic writes, a backup and a journal of completed
//! operations; the format here is shared by every backend.

pub mod local;
pub mod s3;
mod store;

use std::collections::BTreeMap;

use meshmon_provider_sdk::{Current, Map, Value};
use serde::{Deserialize, Serialize};

pub use local::{LocalStore, LockGuard, LockInfo};
pub use s3::S3Config;
pub use store::{Store, StoreLock};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub format_version: u32,
    /// Identifies one environment's history; a saved plan or journal from
    /// another lineage never applies to this state.
    pub lineage: String,
    /// Bumped on every write; a saved plan records the serial it was made at.
    pub serial: u64,
    pub meshmon_version: String,
    pub resources: BTreeMap<String, ResourceState>,
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputState>,
}

impl State {
    pub fn new() -> Self {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            meshmon_version: env!("CARGO_PKG_VERSION").to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
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
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub status: Status,
    /// Top-level attributes whose values are secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<String>,
}

impl ResourceState {
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
        "state file {path} has format_version {found}; this meshmon reads version {FORMAT_VERSION}"
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
}
