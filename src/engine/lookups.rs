//! Look-ups at plan time. Every `[data.TYPE.NAME]` whose inputs are known
//! is read before the plan is computed, in dependency order (a look-up may
//! search by what another found), independent ones at once; what each
//! found goes into the prior state's `data`, where references see it. A
//! look-up whose inputs are known only after apply — it refers to an object
//! not created yet, to a look-up read during apply, or to an object this
//! plan changes — is left out of `data`, and the plan reads it during
//! apply (`<= read`). A look-up is never journaled: it changes nothing,
//! and is read again by the next run.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use meshmon_provider_sdk::{OpContext, ProviderError};

use super::tasks::Bounded;
use super::{Engine, Error};
use crate::addr::Address;
use crate::drift::{self, Drift};
use crate::eval::{Known, Resolve, Scope};
use crate::graph::Graph;
use crate::plan::{Action, Plan, PlanError};
use crate::spec::{ResourceBlock, Spec};
use crate::state::{ResourceState, State, Status};

/// Why each look-up is read during apply rather than now.
pub(super) type Deferred = BTreeMap<Address, String>;

/// The look-ups of one plan, read over one or more passes (a keyed
/// look-up whose keys another look-up tells is read in a later pass).
pub(super) struct Lookups {
    /// What each look-up found last time.
    last: BTreeMap<Address, ResourceState>,
    /// Whether to read (false: a saved plan, whose reads stand).
    read: bool,
    /// The look-ups settled so far: read, or deferred.
    settled: BTreeSet<Address>,
    /// What differs from what they found last time.
    pub(super) changed: Vec<Drift>,
    pub(super) deferred: Deferred,
}

impl Lookups {
    /// Starts the look-ups of a plan against `prior`, whose `data` holds
    /// what they found last time.
    pub(super) fn start(prior: &mut State, read: bool) -> Self {
        let last = if read {
            std::mem::take(&mut prior.data)
        } else {
            BTreeMap::new()
        };
        Lookups {
            last,
            read,
            settled: BTreeSet::new(),
            changed: Vec::new(),
            deferred: Deferred::new(),
        }
    }
}

impl Engine {
    /// Reads every look-up of `spec` not settled yet whose inputs are
    /// known into `prior.data`, and drops from it what is no longer
    /// declared and what is read during apply. What they found that
    /// differs from last time, and why the others wait for apply, go into
    /// `lookups`.
    ///
    /// A saved plan being applied reads nothing: what the plan found when
    /// it was made stands, and what it left for apply is read then.
    pub(super) async fn read_lookups(
        &self,
        spec: &Spec,
        prior: &mut State,
        graph: &Graph,
        lookups: &mut Lookups,
    ) -> Result<(), Error> {
        prior.data.retain(|a, _| spec.resources.contains_key(a));
        let mut pending: BTreeSet<Address> = spec
            .resources
            .keys()
            .filter(|a| a.is_data() && !lookups.settled.contains(*a))
            .cloned()
            .collect();
        lookups.settled.extend(pending.iter().cloned());
        if !lookups.read {
            for a in pending {
                if !prior.data.contains_key(&a) {
                    lookups
                        .deferred
                        .insert(a, "the saved plan reads it during apply".into());
                }
            }
            return Ok(());
        }
        // In rounds: each reads, at once, the look-ups whose look-up
        // dependencies are all settled.
        while !pending.is_empty() {
            let ready: Vec<Address> = pending
                .iter()
                .filter(|a| {
                    graph
                        .dependencies(a)
                        .iter()
                        .all(|d| !d.is_data() || !pending.contains(d))
                })
                .cloned()
                .collect();
            assert!(!ready.is_empty(), "cycles are refused when the spec loads");
            let mut reads = Bounded::new(self.parallelism);
            for address in ready {
                pending.remove(&address);
                let block = &spec.resources[&address];
                match self.prepare_read(spec, block, prior, &*prior, &lookups.deferred)? {
                    Ready::Later(reason) => {
                        lookups.deferred.insert(address, reason);
                    }
                    Ready::Now(read) => {
                        let providers = self.providers.clone();
                        reads
                            .spawn(address.clone(), async move {
                                let ctx = OpContext::quiet(address.to_string());
                                let found = async {
                                    providers
                                        .lookup(&read.provider, &read.config, &read.type_name)
                                        .await
                                        .map_err(|e| {
                                            let mut err = ProviderError::new(e.to_string());
                                            err.hint = e.hint();
                                            err
                                        })?
                                        .find(&ctx, &read.inputs)
                                        .await
                                }
                                .await;
                                (read, found)
                            })
                            .await;
                    }
                }
            }
            let mut failed = Vec::new();
            while let Some((address, result)) = reads.next().await {
                let (read, found) = match result {
                    Ok((read, Ok(found))) => (read, found),
                    Ok((_, Err(source))) => {
                        failed.push(lookup_failed(spec, address, source));
                        continue;
                    }
                    Err(panicked) => {
                        let source = ProviderError::new(panicked.to_string());
                        failed.push(lookup_failed(spec, address, source));
                        continue;
                    }
                };
                let record = ResourceState {
                    type_name: read.type_name,
                    provider: read.provider,
                    inputs: read.inputs,
                    outputs: found,
                    dependencies: Vec::new(),
                    status: Status::Ready,
                    sensitive_attributes: read.sensitive.into_iter().collect(),
                    instance: None,
                };
                let sensitive = self.sensitive_of(&record);
                self.secrets
                    .learn_attributes([&record.inputs, &record.outputs], &sensitive);
                if let Some(before) = lookups.last.get(&address) {
                    let schema = self.registry.schema_at(&address);
                    if let Some(d) =
                        drift::compare(&address, schema, before, &record.current(), sensitive)
                    {
                        lookups.changed.push(d);
                    }
                }
                prior.data.insert(address, record);
            }
            Error::all_of(failed)?;
        }
        lookups.changed.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(())
    }

    /// A look-up's inputs and provider, when they are known now; otherwise
    /// why it waits for apply.
    fn prepare_read(
        &self,
        spec: &Spec,
        block: &ResourceBlock,
        prior: &State,
        known: &dyn Resolve,
        deferred: &Deferred,
    ) -> Result<Ready, Error> {
        for dep in block.dependencies(spec) {
            if let Some(why) = spec.deferred.get(&dep.config()) {
                return Ok(Ready::Later(format!(
                    "it depends on {}, whose keys are not known yet: {why}",
                    dep.config()
                )));
            }
            if dep.is_data() && deferred.contains_key(&dep) {
                return Ok(Ready::Later(format!(
                    "it depends on {dep}, which is read during apply"
                )));
            }
            if !dep.is_data() && !prior.resources.contains_key(&dep) {
                return Ok(Ready::Later(format!(
                    "it depends on {dep}, which is not created yet"
                )));
            }
        }
        let schema = self
            .registry
            .lookup_schema(&block.type_name)
            .expect("look-up types are checked when the spec loads");
        let scope = Scope {
            vars: &spec.variables,
            resources: known,
        };
        let (inputs, sensitive) = scope
            .inputs(schema, &block.attrs)
            .map_err(|e| PlanError::input(spec, block, &e))?;
        if let Some((k, _)) = inputs.iter().find(|(_, v)| v.contains_unknown()) {
            return Ok(Ready::Later(format!("its `{k}` is known only after apply")));
        }
        let Some(config) =
            self.providers
                .config(spec, &block.provider, &block.config_block, None, known)?
        else {
            return Ok(Ready::Later(format!(
                "the configuration of provider `{}` is known only after apply",
                block.config_block
            )));
        };
        Ok(Ready::Now(Read {
            type_name: block.type_name.clone(),
            provider: block.provider.clone(),
            config,
            inputs,
            sensitive,
        }))
    }
}

/// A look-up to read now, or why it waits for apply.
enum Ready {
    Now(Read),
    Later(String),
}

struct Read {
    type_name: String,
    provider: String,
    config: meshmon_provider_sdk::Map,
    inputs: meshmon_provider_sdk::Map,
    sensitive: BTreeSet<String>,
}

/// A look-up that failed, pointing at where it is written.
pub(super) fn lookup_failed(spec: &Spec, address: Address, source: ProviderError) -> Error {
    let block = spec.resources.get(&address);
    Error::Lookup {
        span: block.map_or(0..0, |b| b.span.clone()),
        file: block
            .and_then(|b| b.origin.as_ref())
            .map_or_else(|| spec.source.clone(), |o| o.source.clone()),
        address,
        source: Box::new(source),
    }
}

/// The look-ups read for `plan` that depend, directly or through other
/// objects, on an object the plan changes: what they find may change with
/// it, so they are read during apply instead. Each with the reason.
pub(super) fn stale_reads(plan: &Plan, graph: &Graph) -> Deferred {
    if plan.prior.data.is_empty() {
        return Deferred::new();
    }
    let changing: HashMap<&Address, Action> = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
        .map(|c| (&c.address, c.action))
        .collect();
    let mut out = Deferred::new();
    if changing.is_empty() {
        return out;
    }
    for address in plan.prior.data.keys() {
        let mut seen = BTreeSet::new();
        let mut stack = graph.dependencies(address);
        while let Some(dep) = stack.pop() {
            if !seen.insert(dep.clone()) {
                continue;
            }
            if changing.contains_key(&dep) {
                out.insert(
                    address.clone(),
                    format!("it depends on {dep}, which this plan changes"),
                );
                break;
            }
            stack.extend(graph.dependencies(&dep));
        }
    }
    out
}

/// What references see after the plan: the planned values of what it
/// creates and changes (`Unknown` where only apply can tell), what the
/// state records of the rest, and what the look-ups found.
/// Look-ups in `stale` are read during apply: unknown.
pub(super) fn planned(plan: &Plan, stale: &Deferred) -> HashMap<Address, Known> {
    let mut known = Known::all(&plan.prior);
    for a in stale.keys() {
        known.remove(a);
    }
    for c in &plan.changes {
        match (&c.after, c.action) {
            (_, Action::Delete) => {
                if c.deposed.is_none() {
                    known.remove(&c.address);
                }
            }
            (Some(after), _) => {
                known.insert(
                    c.address.clone(),
                    Known {
                        attrs: after.clone(),
                        sensitive: c.sensitive.clone(),
                    },
                );
            }
            (None, _) => {}
        }
    }
    known
}
