//! Refresh: read every recorded object — current and deposed — from the
//! world, at most `parallelism` at once, and say what drifted. A read that
//! fails (or whose task panics) is that object's error, never "deleted":
//! every object is read even when some reads fail, so one run names every
//! object that could not be checked. An object whose provider cannot be
//! configured yet (its cluster is not in the state) keeps its record.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use meshmon_provider_sdk::{Configured, Current, Map, OpContext, ProviderError};
use tokio::sync::OnceCell;

use super::tasks::Bounded;
use super::{Engine, Error, Providers};
use crate::addr::Address;
use crate::drift::{self, Drift};
use crate::state::{DeposedKey, ResourceState, State};

/// A provider instance the reads go through: its configuration, and the
/// provider configured with it once the first read needs it.
struct Instance {
    config: Arc<Map>,
    configured: Arc<OnceCell<Arc<dyn Configured>>>,
}

/// What a read found, against the record it was given.
enum Read {
    /// The object is gone.
    Gone,
    /// Exactly as recorded: nothing to compare or to update.
    Same,
    /// The object as read, which differs from its record somewhere.
    Differs(Current),
}

/// Which recorded object a read is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Object {
    Current(Address),
    Deposed(DeposedKey),
}

impl Engine {
    /// Reads every object in `state` from the world. Returns the refreshed
    /// state (the same records, updated in place: a state is held once)
    /// and the drift.
    pub async fn refresh(&self, state: State) -> Result<(State, Vec<Drift>), Error> {
        let spec = self.spec();
        // Each instance's configuration, evaluated once, and the provider
        // configured with it, shared by the reads it makes (configured by
        // the first of them).
        let mut instances: HashMap<(&str, Cow<str>), Option<Instance>> = HashMap::new();
        let mut tasks = Bounded::new(self.parallelism);
        let current = state
            .resources
            .iter()
            .map(|(a, r)| (Object::Current(a.clone()), a, r));
        // Deposed objects are read too: one that is gone needs no delete.
        let deposed = state
            .deposed
            .iter()
            .map(|(k, d)| (Object::Deposed(k.clone()), &d.address, &d.resource));
        // A record that `[[removed]]` with `destroy = false` forgets is not
        // read: the plan drops it, and its provider may have left the spec
        // with it.
        let forgotten: BTreeSet<&Address> = spec
            .removed
            .iter()
            .filter(|r| !r.destroy)
            .map(|r| &r.from)
            .collect();
        let moved: BTreeMap<&Address, &Address> =
            spec.moved.iter().map(|m| (&m.from, &m.to)).collect();
        for (object, address, r) in current.chain(deposed) {
            if matches!(object, Object::Current(_)) && forgotten.contains(address) {
                continue;
            }
            // Read through the provider instance the spec now gives the
            // object (at the address a `[[moved]]` takes it to), as its next
            // change would be made; one the spec no longer declares, through
            // the instance recorded with it.
            let declared = moved.get(address).copied().unwrap_or(address);
            let chosen = spec
                .resources
                .get(declared)
                .map(|b| b.config_block.as_str())
                .filter(|i| {
                    spec.providers.contains_key(*i)
                        || self
                            .registry
                            .provider(&r.provider)
                            .is_some_and(|p| p.config_block() == *i)
                });
            let instance = match chosen {
                Some(i) => Cow::Borrowed(i),
                None => Cow::Owned(r.instance_name(&self.registry)),
            };
            let key = (r.provider.as_str(), instance);
            if !instances.contains_key(&key) {
                let config =
                    self.providers
                        .config(&spec, key.0, &key.1, r.instance.as_ref(), &state)?;
                let instance = config.map(|config| Instance {
                    config: Arc::new(config),
                    configured: Arc::default(),
                });
                instances.insert(key.clone(), instance);
            }
            let Some(instance) = &instances[&key] else {
                continue;
            };
            let (config, configured) = (instance.config.clone(), instance.configured.clone());
            let providers = self.providers.clone();
            self.secrets
                .learn_attributes([&r.inputs, &r.outputs], &self.sensitive_of(r));
            // What the read needs, not the whole record: the task waits
            // for its slot holding this much.
            let (provider, type_name, current) =
                (r.provider.clone(), r.type_name.clone(), r.current());
            let address = address.clone();
            tasks
                .spawn(object, async move {
                    let configured = configured
                        .get_or_try_init(|| providers.get(&provider, &config))
                        .await?;
                    let res = Providers::offered(configured, &provider, &type_name)?;
                    let ctx = OpContext::quiet(address.to_string());
                    let now = res
                        .read(&ctx, &current)
                        .await
                        .map_err(|source| Error::Provider {
                            address,
                            operation: "read",
                            source: Box::new(source),
                        })?;
                    // Most reads find the object as recorded: saying so
                    // here, in the task, keeps the comparison (and freeing
                    // what was read) off the loop that collects the reads.
                    Ok(match now {
                        None => Read::Gone,
                        Some(now)
                            if now.inputs == current.inputs && now.outputs == current.outputs =>
                        {
                            Read::Same
                        }
                        Some(now) => Read::Differs(now),
                    })
                })
                .await;
        }
        drop(instances);
        let mut refreshed = state;
        let mut drift = Vec::new();
        let mut failed = Vec::new();
        while let Some((object, result)) = tasks.next().await {
            let now = match result {
                Ok(Ok(now)) => now,
                Ok(Err(e)) => {
                    failed.push(e);
                    continue;
                }
                Err(panicked) => {
                    let address = match &object {
                        Object::Current(a) => a.clone(),
                        Object::Deposed(k) => refreshed.deposed[k].address.clone(),
                    };
                    failed.push(Error::Provider {
                        address,
                        operation: "read",
                        source: Box::new(ProviderError::new(panicked.to_string())),
                    });
                    continue;
                }
            };
            match object {
                Object::Deposed(key) => match now {
                    Read::Same => {}
                    Read::Gone => {
                        refreshed.deposed.remove(&key);
                    }
                    Read::Differs(now) => {
                        let d = refreshed
                            .deposed
                            .get_mut(&key)
                            .expect("read from the state");
                        d.resource.inputs = now.inputs;
                        d.resource.outputs = now.outputs;
                    }
                },
                Object::Current(address) => {
                    let now = match now {
                        Read::Same => continue,
                        Read::Differs(now) => now,
                        Read::Gone => {
                            let prior = refreshed
                                .resources
                                .remove(&address)
                                .expect("read from the state");
                            let sensitive = self.sensitive_of(&prior);
                            drift.push(Drift::deleted(address, &prior, sensitive));
                            continue;
                        }
                    };
                    let prior = refreshed
                        .resources
                        .get_mut(&address)
                        .expect("read from the state");
                    let sensitive = self.sensitive_of(prior);
                    // An instance whose block's keys are not expanded yet
                    // ignores what its block says.
                    let ignored = spec
                        .resources
                        .get(&address)
                        .or_else(|| spec.keyed.get(&address.config()))
                        .map_or(&[][..], |b| &b.lifecycle.ignore_changes);
                    let now = drift::keep_ignored(now, prior, ignored);
                    let schema = self.registry.schema(&prior.type_name);
                    if let Some(d) = drift::compare(&address, schema, prior, &now, sensitive) {
                        drift.push(d);
                    }
                    prior.inputs = now.inputs;
                    prior.outputs = now.outputs;
                }
            }
        }
        Error::all_of(failed)?;
        drift.sort_by(|a, b| a.address.cmp(&b.address));
        Ok((refreshed, drift))
    }

    /// The secret attributes of a recorded resource: those the record marks
    /// (values built from secrets) and those its schema marks.
    pub(crate) fn sensitive_of(&self, r: &ResourceState) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = r.sensitive_attributes.iter().cloned().collect();
        if let Some(schema) = self.registry.schema(&r.type_name) {
            out.extend(schema.names(|a| a.sensitive));
        }
        out
    }
}
