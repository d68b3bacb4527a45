//! Drift: how an object in the world differs from what the state recorded
//! of it. `compare` is the one comparison — `meshmon drift`, `plan`'s
//! refresh and `plan --refresh-only` all report what it finds — and it
//! honours `ignore_changes` the way the plan does, by taking the recorded
//! value at every ignored path before comparing, so a path the plan ignores
//! is never drift either. Reading the world is the engine's job; rendering
//! is `plan::render`, `plan::json` and `plan::markdown`'s.

use std::collections::BTreeSet;

use meshmon_provider_sdk::compare::changed_attr_paths;
use meshmon_provider_sdk::{AttrPath, AttrType, Current, Schema, Value};
use serde::Serialize;

use crate::addr::Address;
use crate::state::ResourceState;

/// One attribute that differs between state and the real world.
#[derive(Clone, Debug, Serialize)]
pub struct DriftAttr {
    pub path: AttrPath,
    pub recorded: Value,
    pub actual: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    Changed,
    Deleted,
}

/// A resource changed or deleted outside meshmon.
#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    pub address: Address,
    pub kind: DriftKind,
    pub attributes: Vec<DriftAttr>,
    #[serde(skip)]
    pub type_name: String,
    /// Top-level attributes whose values are secret: the record's own marks
    /// and the schema's. Reports mask every path under them.
    #[serde(skip)]
    pub sensitive: BTreeSet<String>,
}

impl Drift {
    /// Whether the value at `path` is secret.
    pub fn is_secret(&self, path: &AttrPath) -> bool {
        self.sensitive.contains(&path.attribute)
    }

    /// A recorded object that is gone from the world.
    pub fn deleted(address: Address, prior: &ResourceState, sensitive: BTreeSet<String>) -> Drift {
        Drift {
            address,
            kind: DriftKind::Deleted,
            attributes: Vec::new(),
            type_name: prior.type_name.clone(),
            sensitive,
        }
    }
}

/// The object as read, with the recorded value kept at every ignored path:
/// what the state takes in after a refresh, so that the plan does not try to
/// "repair" what the spec says to ignore either.
pub fn keep_ignored(mut now: Current, prior: &ResourceState, ignored: &[AttrPath]) -> Current {
    for path in ignored {
        path.copy_from(&mut now.inputs, &prior.inputs);
        if prior.outputs.contains_key(&path.attribute) {
            path.copy_from(&mut now.outputs, &prior.outputs);
        }
    }
    now
}

/// What differs between the record and the object as read (`now`, with
/// ignored paths already kept by [`keep_ignored`]), attribute path by path;
/// `None` when nothing does.
pub fn compare(
    address: &Address,
    schema: Option<&Schema>,
    prior: &ResourceState,
    now: &Current,
    sensitive: BTreeSet<String>,
) -> Option<Drift> {
    if prior.inputs == now.inputs && prior.outputs == now.outputs {
        return None;
    }
    let before = prior.attributes();
    let after = now.attributes();
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut attributes = Vec::new();
    for k in keys {
        let ty = schema
            .and_then(|s| s.get(k))
            .map_or(AttrType::Any, |a| a.ty.clone());
        let b = before.get(k).unwrap_or(&Value::Null);
        let a = after.get(k).unwrap_or(&Value::Null);
        for path in changed_attr_paths(k, &ty, b, a) {
            attributes.push(DriftAttr {
                recorded: b.get_path(&path.steps).cloned().unwrap_or(Value::Null),
                actual: a.get_path(&path.steps).cloned().unwrap_or(Value::Null),
                path,
            });
        }
    }
    (!attributes.is_empty()).then(|| Drift {
        address: address.clone(),
        kind: DriftKind::Changed,
        attributes,
        type_name: prior.type_name.clone(),
        sensitive,
    })
}
