//! What references see while a plan is computed, and what waits for keys
//! known only after apply.

use std::collections::{BTreeMap, HashMap};

use meshmon_provider_sdk::Value;

use super::Change;
use crate::addr::Address;
use crate::eval::{Resolve, recorded_attribute};
use crate::spec::{ResourceBlock, Spec};
use crate::state::State;

/// Where a plan being computed finds what references name, without
/// copying any of it: what a look-up found, an object kept as recorded, or
/// the planned values of a change made so far (its index in `changes`).
#[derive(Clone, Copy)]
pub(super) enum Seen {
    Found,
    Recorded,
    Change(usize),
}

/// What references see while a plan is computed: the planned values of
/// what it plans (`Unknown` where only apply can tell), and the records of
/// what it keeps as they are.
pub(super) struct Planning<'a> {
    pub(super) prior: &'a State,
    pub(super) changes: &'a [Change],
    pub(super) at: &'a HashMap<Address, Seen>,
}

impl Resolve for Planning<'_> {
    fn attribute(&self, address: &Address, attr: &str) -> Option<(Option<&Value>, bool)> {
        match *self.at.get(address)? {
            Seen::Found => Some(recorded_attribute(self.prior.data.get(address)?, attr)),
            Seen::Recorded => Some(recorded_attribute(self.prior.resources.get(address)?, attr)),
            Seen::Change(i) => {
                let c = &self.changes[i];
                Some((
                    c.after.as_ref().and_then(|a| a.get(attr)),
                    c.sensitive.contains(attr),
                ))
            }
        }
    }

    fn knows(&self, address: &Address) -> bool {
        self.at.contains_key(address)
    }
}

/// Why `block` waits for apply: it needs a block whose keys are not known
/// yet, or something that waits for such a block.
pub(super) fn deferral(
    spec: &Spec,
    block: &ResourceBlock,
    deferred: &BTreeMap<Address, String>,
) -> Option<String> {
    let base = block.config_block.split('[').next().unwrap_or_default();
    if let Some(why) = spec.deferred_providers.get(base) {
        return Some(format!(
            "its provider {} waits for its keys: {why}",
            block.config_block
        ));
    }
    if deferred.is_empty() {
        return None;
    }
    block.dependencies(spec).into_iter().find_map(|d| {
        if deferred.contains_key(&d) {
            Some(format!("it needs {d}, which waits for apply"))
        } else {
            let config = d.config();
            deferred
                .get(&config)
                .map(|_| format!("it needs {config}, whose keys are known only after apply"))
        }
    })
}
