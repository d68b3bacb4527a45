//! What is known about one live resource.

use serde::{Deserialize, Serialize};

use crate::value::Map;

/// What is known about one live resource: the inputs as they are in the
/// world, and what the provider computed (IDs, ARNs, endpoints). The engine
/// records outputs as a [`Map`]; a declared type reads them typed, as its
/// own outputs struct, until its adapter records them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Current<O = Map> {
    pub inputs: Map,
    pub outputs: O,
}

impl<O> Current<O> {
    pub fn new(inputs: Map, outputs: O) -> Self {
        Current { inputs, outputs }
    }

    /// The same object with its outputs converted by `f`.
    pub fn map_outputs<P>(self, f: impl FnOnce(O) -> P) -> Current<P> {
        Current {
            inputs: self.inputs,
            outputs: f(self.outputs),
        }
    }
}

impl Current {
    /// The merged attribute view references see: outputs win over inputs.
    pub fn attributes(&self) -> Map {
        let mut m = self.inputs.clone();
        for (k, v) in &self.outputs {
            m.insert(k.clone(), v.clone());
        }
        m
    }
}
