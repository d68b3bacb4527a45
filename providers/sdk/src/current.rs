//! What is known about one live resource.

use serde::{Deserialize, Serialize};

use crate::value::Map;

/// What is known about one live resource: the inputs as they are in the
/// world, and what the provider computed (IDs, ARNs, endpoints).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Current {
    pub inputs: Map,
    pub outputs: Map,
}

impl Current {
    pub fn new(inputs: Map, outputs: Map) -> Self {
        Current { inputs, outputs }
    }

    /// The merged attribute view references see: outputs win over inputs.
    pub fn attributes(&self) -> Map {
        let mut m = self.inputs.clone();
        for (k, v) in &self.outputs {
            m.insert(k.clone(), v.clone());
        }
        m
    }
}
