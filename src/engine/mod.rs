//! The engine: refresh (read every recorded resource from the world), plan,
//! apply and destroy (the concurrent walk in `walk`), drift and import.
//! Providers are configured lazily, the first time a resource needs one and
//! every value its configuration refers to is known — so a Kubernetes
//! provider can point at a cluster that the same apply creates.

pub mod apply;
pub mod commands;
mod lookups;
mod op;
pub mod progress;
pub mod recover;
mod refresh;
pub(crate) mod tasks;

pub use tasks::DEFAULT_PARALLELISM;
mod schedule;
#[cfg(test)]
pub(crate) mod testing;
pub mod walk;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use meshmon_provider_sdk::{Configured, Current, Map, OpContext, ProviderError};
use tokio::sync::Mutex;

use crate::addr::Address;
use crate::drift::Drift;
use crate::eval::{Resolve, Scope};
use crate::plan::{self, Plan, PlanOptions};
use crate::registry::Registry;
use crate::secrets::Secrets;
use crate::spec::Spec;
use crate::state::{ProviderInstance, ResourceState, State, StateError};

/// What can go wrong once the spec is valid.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading, writing or locking state failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A provider operation on one resource failed.
    #[error("{address}: {operation} failed: {source}")]
    Provider {
        address: Address,
        operation: &'static str,
        #[source]
        source: Box<ProviderError>,
    },
    /// A look-up found nothing, or several objects, or could not ask.
    #[error("{address}: look-up failed: {}{}", .source.operation.as_ref().map(|o| format!("{o}: ")).unwrap_or_default(), .source.message)]
    Lookup {
        address: Address,
        source: Box<ProviderError>,
        /// Where the look-up is written, and in which file.
        span: std::ops::Range<usize>,
        file: crate::diag::Source,
    },
    /// A provider's configuration could not be evaluated or was rejected.
    #[error("provider `{provider}`: {message}")]
    ProviderConfig { provider: String, message: String },
    /// A provider refused its configuration; its hint says what to do.
    #[error("provider `{provider}`: {source}")]
    ProviderRejected {
        provider: String,
        #[source]
        source: Box<ProviderError>,
    },
    /// The plan could not be computed.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// Some operations of an apply or destroy failed; the rest were saved.
    #[error(
        "{failed} operation(s) failed and {skipped} were skipped; everything that completed is saved in the state"
    )]
    Incomplete { failed: usize, skipped: usize },
    /// Ctrl-C stopped the walk; what finished is saved.
    #[error(
        "interrupted: {completed} operation(s) completed and were saved, {remaining} not started"
    )]
    Interrupted { completed: usize, remaining: usize },
    /// Anything else the user must fix before retrying.
    #[error("{0}")]
    Usage(String),
    /// The journal could not be written: the walk stopped at once.
    #[error(
        "{source}: the journal of completed operations could not be written, so the apply stopped at once ({abandoned} operation(s) not finished or not started)"
    )]
    Journal {
        source: StateError,
        abandoned: usize,
    },
    /// Several resources could not be read; none is taken as deleted.
    #[error("{} resources could not be read:\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Unreadable(Vec<Error>),
    /// A saved plan that no longer applies.
    #[error(transparent)]
    StalePlan(#[from] crate::plan::file::StalePlan),
    /// Refused before anything changed, with what to do about it.
    #[error("{message}")]
    Refused { message: String, hint: String },
}

impl Error {
    /// Every failure of reads done together: none is `Ok`, one is itself,
    /// several are one `Unreadable` naming each, in a stable order.
    pub fn all_of(mut failed: Vec<Error>) -> Result<(), Error> {
        match failed.len() {
            0 => Ok(()),
            1 => Err(failed.remove(0)),
            _ => {
                failed.sort_by_key(|e| e.to_string());
                Err(Error::Unreadable(failed))
            }
        }
    }

    /// The error as diagnostics that point into the spec, where it can.
    pub fn diagnostics(&self) -> Vec<crate::diag::Diag> {
        match self {
            Error::Plan(e) => e.diagnostics(),
            Error::Lookup {
                source, span, file, ..
            } => {
                let mut d = crate::diag::Diag::error(self.to_string())
                    .label(span.clone(), "this look-up")
                    .in_source(file);
                d.help = source.hint.clone();
                vec![d]
            }
            // Several look-ups that failed: each pointing at its own.
            Error::Unreadable(all) => {
                let each: Vec<crate::diag::Diag> =
                    all.iter().flat_map(Error::diagnostics).collect();
                if each.len() == all.len() {
                    each
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    /// The hint a provider attached, if any.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Provider { source, .. }
            | Error::ProviderRejected { source, .. }
            | Error::Lookup { source, .. } => source.hint.clone(),
            Error::State(e) => e.hint(),
            Error::Plan(e) => e.hint(),
            Error::StalePlan(e) => Some(e.hint().to_string()),
            Error::Journal { .. } => Some(
                "free space or fix the file system, then run `meshmon apply` again: it recovers what the journal and the state hold and plans the rest".into(),
            ),
            Error::Unreadable(_) => Some(
                "nothing was changed: a resource that cannot be read is never taken as deleted; fix access and run again".into(),
            ),
            Error::Refused { hint, .. } => Some(hint.clone()),
            Error::Incomplete { .. } => Some("fix the errors above and run `meshmon apply` again: it continues where this run stopped".into()),
            _ => None,
        }
    }
}

/// Configured providers, created on first use.
pub struct Providers {
    registry: Arc<Registry>,
    /// Each configured provider, by its name and the configuration it was
    /// given (as JSON).
    configured: Mutex<HashMap<(String, String), Arc<dyn Configured>>>,
}

impl Providers {
    pub fn new(registry: Arc<Registry>) -> Self {
        Providers {
            registry,
            configured: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration of provider instance `instance` (`aws`,
    /// `aws.prod`, `aws.accounts["prod"]`), if every value in it is known:
    /// as the spec declares it, or, for an instance the spec no longer
    /// declares, as `recorded` with the object it manages. A provider's
    /// default instance without a block takes no configuration.
    pub fn config(
        &self,
        spec: &Spec,
        provider: &str,
        instance: &str,
        recorded: Option<&ProviderInstance>,
        known: &dyn Resolve,
    ) -> Result<Option<Map>, Error> {
        let Some(block) = spec.providers.get(instance) else {
            if let Some(r) = recorded.filter(|r| r.name == instance) {
                return Ok(Some(r.config.clone()));
            }
            let default = self
                .registry
                .provider(provider)
                .is_some_and(|p| p.config_block() == instance);
            if default {
                return Ok(Some(Map::new()));
            }
            return Err(Error::ProviderConfig {
                provider: instance.to_string(),
                message: "the spec does not declare this provider instance, and nothing recorded says how it was configured".into(),
            });
        };
        let scope = Scope {
            vars: &spec.variables,
            resources: known,
        };
        let mut out = Map::new();
        for (k, e) in &block.config {
            let (v, _) = scope.eval(e).map_err(|e| Error::ProviderConfig {
                provider: instance.to_string(),
                message: format!("`{k}`: {e}"),
            })?;
            if v.contains_unknown() {
                return Ok(None);
            }
            out.insert(k.clone(), v);
        }
        Ok(Some(out))
    }

    /// Configures the provider, or reuses the one configured the same way
    /// before: each instance (an account, a region, a cluster) is
    /// configured once, and a configuration that changed mid-apply (a
    /// Grafana token replaced, a cluster re-created) configures it afresh,
    /// so later operations use the new values.
    pub async fn get(&self, provider: &str, config: &Map) -> Result<Arc<dyn Configured>, Error> {
        let key = (
            provider.to_string(),
            serde_json::to_string(config).unwrap_or_default(),
        );
        let mut configured = self.configured.lock().await;
        if let Some(c) = configured.get(&key) {
            return Ok(c.clone());
        }
        let p = self
            .registry
            .provider(provider)
            .ok_or_else(|| Error::ProviderConfig {
                provider: provider.to_string(),
                message: "not compiled into this meshmon".into(),
            })?;
        let c = p
            .configure(config)
            .await
            .map_err(|e| Error::ProviderRejected {
                provider: provider.to_string(),
                source: Box::new(e),
            })?;
        configured.insert(key, c.clone());
        Ok(c)
    }

    pub async fn resource(
        &self,
        provider: &str,
        config: &Map,
        type_name: &str,
    ) -> Result<Arc<dyn meshmon_provider_sdk::Resource>, Error> {
        Self::offered(&self.get(provider, config).await?, provider, type_name)
    }

    /// The resource type `type_name` of a configured provider.
    pub fn offered(
        configured: &Arc<dyn Configured>,
        provider: &str,
        type_name: &str,
    ) -> Result<Arc<dyn meshmon_provider_sdk::Resource>, Error> {
        configured
            .resource(type_name)
            .ok_or_else(|| Error::ProviderConfig {
                provider: provider.to_string(),
                message: format!("does not offer `{type_name}`"),
            })
    }

    /// The look-up `type_name` of a provider configured with `config`.
    pub async fn lookup(
        &self,
        provider: &str,
        config: &Map,
        type_name: &str,
    ) -> Result<Arc<dyn meshmon_provider_sdk::Lookup>, Error> {
        self.get(provider, config)
            .await?
            .lookup(type_name)
            .ok_or_else(|| Error::ProviderConfig {
                provider: provider.to_string(),
                message: format!("does not offer the look-up `{type_name}`"),
            })
    }

    /// Providers already configured, one instance of each, for the
    /// advice of types during planning (which depends on the inputs, not
    /// on the instance).
    pub async fn configured_now(&self) -> HashMap<String, Arc<dyn Configured>> {
        let mut out = HashMap::new();
        for ((provider, _), c) in self.configured.lock().await.iter() {
            out.entry(provider.clone()).or_insert_with(|| c.clone());
        }
        out
    }
}

/// How many times a plan is computed again as look-ups defer and keys
/// become known; each pass only defers more or expands what is known, so
/// a spec settles in a few.
const MAX_REPLANS: usize = 8;

/// `spec` with its keyed blocks expanded over `known`.
fn expanded(spec: &Spec, known: &dyn Resolve) -> Result<Spec, Error> {
    let mut next = spec.clone();
    crate::spec::expand::expand(&mut next, known).map_err(|e| expand_failed(spec, e))?;
    Ok(next)
}

/// Whether two expansions have the same instances and defer the same
/// blocks.
fn same_instances(a: &Spec, b: &Spec) -> bool {
    a.deferred.keys().eq(b.deferred.keys()) && a.resources.keys().eq(b.resources.keys())
}

/// The first `for_each` that cannot be expanded, as a plan error that
/// points into the spec; the others are in its message.
fn expand_failed(spec: &Spec, errors: Vec<crate::spec::expand::ExpandError>) -> Error {
    let all: Vec<plan::PlanError> = errors
        .into_iter()
        .map(|e| plan::PlanError::Eval {
            subject: e.subject,
            message: e.message,
            span: e.span,
            spec: e.file.unwrap_or_else(|| spec.source.clone()),
        })
        .collect();
    Error::Plan(match all.len() {
        1 => all.into_iter().next().expect("one"),
        _ => plan::PlanError::Several(all),
    })
}

/// How long a plan waits for a provider's look-ahead at a create.
const LOOK_AHEAD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Engine {
    /// The spec, its keyed blocks expanded as far as the last plan knew
    /// their keys.
    spec: std::sync::RwLock<Arc<Spec>>,
    pub registry: Arc<Registry>,
    pub providers: Arc<Providers>,
    pub parallelism: usize,
    /// Every secret value this run comes to know; whoever prints masks with
    /// it.
    pub secrets: Arc<Secrets>,
}

impl Engine {
    pub fn new(spec: Spec, registry: Arc<Registry>, parallelism: usize) -> Self {
        Engine {
            spec: std::sync::RwLock::new(Arc::new(spec)),
            providers: Arc::new(Providers::new(registry.clone())),
            registry,
            parallelism: parallelism.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            secrets: Arc::new(Secrets::new()),
        }
        .sharing_secrets(Arc::new(Secrets::new()))
    }

    /// The spec as the last plan expanded it.
    pub fn spec(&self) -> Arc<Spec> {
        self.spec.read().expect("never poisoned").clone()
    }

    /// The same engine, learning secrets into `secrets` (which the CLI
    /// masks its output with): the spec's secret variables first.
    pub fn sharing_secrets(mut self, secrets: Arc<Secrets>) -> Self {
        for v in self.spec().variables.values().filter(|v| v.sensitive) {
            secrets.learn(&v.value);
        }
        self.secrets = secrets;
        self
    }

    /// Computes a plan against `prior` (already refreshed, or not),
    /// reading the look-ups whose inputs are known.
    pub async fn plan(
        &self,
        prior: State,
        drift: Vec<Drift>,
        options: PlanOptions,
    ) -> Result<Plan, Error> {
        self.plan_reading(prior, drift, options, true).await
    }

    /// Computes a saved plan again to apply it: its look-ups found what
    /// `prior` holds, and those it left for apply are read then.
    pub async fn replan_saved(&self, prior: State, options: PlanOptions) -> Result<Plan, Error> {
        self.plan_reading(prior, Vec::new(), options, false).await
    }

    async fn plan_reading(
        &self,
        mut prior: State,
        drift: Vec<Drift>,
        options: PlanOptions,
        read: bool,
    ) -> Result<Plan, Error> {
        let configured = self.providers.configured_now().await;
        let advise =
            |block: &crate::spec::ResourceBlock, current: Option<&Current>, desired: &Map| {
                configured
                    .get(&block.provider)
                    .and_then(|c| c.resource(&block.type_name))
                    .map(|r| r.advise(current, desired))
                    .unwrap_or_default()
            };
        // What this machine lacks (a helper binary) does not stop a plan
        // from being shown; apply refuses while any of it is missing.
        let mut preflight: Vec<String> = Vec::new();
        let mut checked = std::collections::BTreeSet::new();
        for block in self.spec().resources.values() {
            if !checked.insert(block.type_name.as_str()) {
                continue;
            }
            if let Some(p) = self.registry.provider(&block.provider)
                && let Err(e) = p.preflight(&block.type_name)
            {
                let hint = e
                    .hint
                    .as_deref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                preflight.push(format!("{e}{hint}"));
            }
        }
        // A destroy reads nothing: what the look-ups found last time still
        // configures the providers that delete.
        let read = read && !options.destroy;
        let mut spec = self.spec();
        let mut lookups = lookups::Lookups::start(&mut prior, read);
        // Keyed blocks whose keys were not known when the spec loaded may
        // be known now, from the state and the look-ups: expand them, read
        // the look-ups that expanding made, and again until nothing more
        // expands.
        let dynamic = spec.keyed_by_objects();
        let mut graph;
        loop {
            graph = crate::graph::Graph::build(&spec);
            self.read_lookups(&spec, &mut prior, &graph, &mut lookups)
                .await?;
            if !dynamic || options.destroy {
                break;
            }
            let next = expanded(&spec, &prior)?;
            if same_instances(&next, &spec) {
                break;
            }
            spec = Arc::new(next);
        }
        let mut plan = plan::compute(
            &spec,
            &graph,
            &self.registry,
            prior,
            drift.clone(),
            options.clone(),
            &advise,
        )?;
        // What a look-up finds may change with what the plan changes: such
        // a look-up is read during apply. The keys of a block that come
        // from other objects are what the plan makes of those objects:
        // known ones expand, unknown ones defer the block. Either way the
        // plan is computed again, until it stands.
        for _ in 0..MAX_REPLANS {
            if options.destroy {
                break;
            }
            let stale = lookups::stale_reads(&plan, &graph);
            let mut rekeyed = false;
            if dynamic {
                let next = expanded(&spec, &lookups::planned(&plan, &stale))?;
                rekeyed = !same_instances(&next, &spec);
                if rekeyed {
                    spec = Arc::new(next);
                    graph = crate::graph::Graph::build(&spec);
                }
            }
            if stale.is_empty() && !rekeyed {
                break;
            }
            // Only a plan computed again needs the prior as it was.
            let mut prior = plan.unrefactored_prior();
            for (address, reason) in &stale {
                prior.data.remove(address);
                lookups.deferred.insert(address.clone(), reason.clone());
            }
            plan = plan::compute(
                &spec,
                &graph,
                &self.registry,
                prior,
                drift.clone(),
                options.clone(),
                &advise,
            )?;
        }
        for c in plan
            .changes
            .iter_mut()
            .filter(|c| c.action == plan::Action::Read)
        {
            if let Some(reason) = lookups.deferred.get(&c.address) {
                c.notes.push(format!("read during apply: {reason}"));
            }
        }
        plan.lookups = std::mem::take(&mut lookups.changed)
            .into_iter()
            .filter(|d| plan.prior.data.contains_key(&d.address))
            .collect();
        // Apply works on the instances this plan was made for.
        *self.spec.write().expect("never poisoned") = spec;
        plan.preflight = preflight;
        self.look_ahead(&mut plan, &configured).await;
        plan.throttling = self.registry.throttling();
        Ok(plan)
    }

    /// Asks each configured provider about the creates whose inputs are
    /// all known (see [`Resource::look_ahead`]) and adds what it says to
    /// the change's notes. A provider that fails or is slower than
    /// [`LOOK_AHEAD_DEADLINE`] leaves a note saying so; the plan goes on.
    ///
    /// [`Resource::look_ahead`]: meshmon_provider_sdk::Resource::look_ahead
    async fn look_ahead(&self, plan: &mut Plan, configured: &HashMap<String, Arc<dyn Configured>>) {
        let mut asks = tasks::Bounded::new(self.parallelism);
        let lineage = plan.prior.lineage.clone();
        // Most types never look ahead: each type is asked once, and only
        // the creates of those that do are looked at further.
        let mut lookers: HashMap<(&str, &str), Option<Arc<dyn meshmon_provider_sdk::Resource>>> =
            HashMap::new();
        for (i, change) in plan.changes.iter().enumerate() {
            if change.action != plan::Action::Create {
                continue;
            }
            let Some(resource) = lookers
                .entry((change.provider.as_str(), change.type_name.as_str()))
                .or_insert_with(|| {
                    configured
                        .get(change.provider.as_str())
                        .and_then(|c| c.resource(&change.type_name))
                        .filter(|r| r.looks_ahead())
                })
                .clone()
            else {
                continue;
            };
            let Some(inputs) = change
                .inputs
                .as_ref()
                .filter(|m| {
                    !m.values()
                        .any(meshmon_provider_sdk::Value::contains_unknown)
                })
                .cloned()
            else {
                continue;
            };
            let ctx = OpContext::quiet(change.address.to_string()).in_lineage(lineage.clone());
            asks.spawn(i, async move {
                tokio::time::timeout(LOOK_AHEAD_DEADLINE, resource.look_ahead(&ctx, &inputs)).await
            })
            .await;
        }
        while let Some((i, found)) = asks.next().await {
            let notes = match found {
                Ok(Ok(Ok(notes))) => notes,
                Ok(Ok(Err(e))) => vec![format!("could not look ahead: {e}")],
                Ok(Err(_)) => vec![format!(
                    "could not look ahead: no answer within {}s",
                    LOOK_AHEAD_DEADLINE.as_secs()
                )],
                Err(panicked) => vec![format!("could not look ahead: {panicked}")],
            };
            plan.changes[i].notes.extend(notes);
        }
    }

    /// Refreshes `state` (unless told not to, or it is empty) and plans;
    /// `on_refresh` hears how many resources are about to be read.
    pub async fn refresh_and_plan(
        &self,
        state: State,
        options: PlanOptions,
        refresh: bool,
        on_refresh: &(dyn Fn(usize) + Sync),
    ) -> Result<Plan, Error> {
        self.configure_known(&state).await;
        let (prior, drift) = if refresh && !(state.resources.is_empty() && state.deposed.is_empty())
        {
            on_refresh(state.resources.len());
            self.refresh(state).await?
        } else {
            (state, Vec::new())
        };
        self.plan(prior, drift, options).await
    }

    /// Records the provider instance the spec now gives each object the
    /// plan leaves unchanged, where the record names another (a block given
    /// `provider = …`, an object moved under a keyed instance): what manages
    /// it from here on is what reads and deletes it once it leaves the
    /// spec. Returns whether any record changed.
    pub(crate) fn rehome(&self, plan: &mut Plan) -> Result<bool, Error> {
        let rehomed: Vec<&plan::Change> = plan
            .changes
            .iter()
            .filter(|c| c.action == plan::Action::NoOp)
            .filter(|c| {
                plan.prior
                    .resources
                    .get(&c.address)
                    .is_some_and(|r| r.instance_name(&self.registry) != c.instance)
            })
            .collect();
        if rehomed.is_empty() {
            return Ok(false);
        }
        let spec = self.spec();
        // Configured against the state as it is, then recorded in it.
        let mut instances = Vec::new();
        for c in rehomed {
            let Some(config) =
                self.providers
                    .config(&spec, &c.provider, &c.instance, None, &plan.prior)?
            else {
                continue;
            };
            let instance = self.recorded_instance(&c.provider, &c.instance, &config);
            instances.push((c.address.clone(), instance));
        }
        let mut changed = false;
        for (address, instance) in instances {
            if let Some(r) = plan.prior.resources.get_mut(&address) {
                r.instance = instance;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// What a record keeps of the provider instance that manages it: for a
    /// named instance, its name and configuration without its secrets;
    /// nothing for a provider's default instance.
    pub(crate) fn recorded_instance(
        &self,
        provider: &str,
        instance: &str,
        config: &Map,
    ) -> Option<ProviderInstance> {
        let p = self.registry.provider(provider)?;
        if p.config_block() == instance {
            return None;
        }
        let schema = p.config_schema();
        let config = config
            .iter()
            .filter(|(k, _)| !schema.get(k).is_some_and(|a| a.sensitive))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(ProviderInstance {
            name: instance.to_string(),
            config,
        })
    }

    /// Configures every provider that can be configured from `state`, so
    /// that a plan can consult them. Failures here surface later, on use.
    pub async fn configure_known(&self, state: &State) {
        let known = state;
        let spec = self.spec();
        let mut names: Vec<(&String, &String)> = spec
            .resources
            .values()
            .map(|r| (&r.provider, &r.config_block))
            .collect();
        names.sort();
        names.dedup();
        for (provider, instance) in names {
            if let Ok(Some(config)) = self
                .providers
                .config(&spec, provider, instance, None, known)
            {
                let _ = self.providers.get(provider, &config).await;
            }
        }
    }

    /// Adopts an existing object into state under `address`.
    pub async fn import(
        &self,
        state: &State,
        address: &Address,
        id: &str,
    ) -> Result<ResourceState, Error> {
        let spec = self.spec();
        let block = spec.resources.get(address).ok_or_else(|| {
            Error::Usage(format!(
                "{address} is not declared in the spec: add [resources.{}] first, then import",
                address
            ))
        })?;
        if address.is_data() {
            return Err(Error::Usage(format!(
                "{address} is a look-up: it is read on every plan and never imported; import the resources meshmon should manage"
            )));
        }
        if state.resources.contains_key(address) {
            return Err(Error::Usage(format!(
                "{address} is already in the state; `meshmon state rm {address}` first to re-import it"
            )));
        }
        let config = self
            .providers
            .config(&spec, &block.provider, &block.config_block, None, state)?
            .ok_or_else(|| {
                Error::Usage(format!(
                    "provider `{}` depends on resources not yet in the state; import or apply those first",
                    block.config_block
                ))
            })?;
        let res = self
            .providers
            .resource(&block.provider, &config, &block.type_name)
            .await?;
        let ctx = OpContext::quiet(address.to_string());
        let found = res
            .import(&ctx, id)
            .await
            .map_err(|source| Error::Provider {
                address: address.clone(),
                operation: "import",
                source: Box::new(source),
            })?;
        let current = found.ok_or_else(|| {
            Error::Usage(format!(
                "{address}: no {} with ID {id:?} exists to import",
                block.type_name
            ))
        })?;
        let graph = crate::graph::Graph::build(&self.spec());
        // Secret as apply would record it: what the schema marks, and what
        // the spec builds from a secret (a file's content from a sensitive
        // variable), so that nothing shows it after the import either.
        let mut sensitive: std::collections::BTreeSet<String> = self
            .registry
            .schema(&block.type_name)
            .map(|s| s.names(|a| a.sensitive).collect())
            .unwrap_or_default();
        if let Some(schema) = self.registry.schema(&block.type_name) {
            let scope = crate::eval::Scope {
                vars: &self.spec().variables,
                resources: state,
            };
            if let Ok((_, from_spec)) = scope.inputs(schema, &block.attrs) {
                sensitive.extend(from_spec);
            }
        }
        self.secrets
            .learn_attributes([&current.inputs, &current.outputs], &sensitive);
        Ok(ResourceState {
            type_name: block.type_name.clone(),
            provider: block.provider.clone(),
            inputs: current.inputs,
            outputs: current.outputs,
            dependencies: graph.dependencies(address),
            status: crate::state::Status::Ready,
            sensitive_attributes: sensitive.into_iter().collect(),
            instance: self.recorded_instance(&block.provider, &block.config_block, &config),
        })
    }
}
