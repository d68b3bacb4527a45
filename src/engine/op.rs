//! One operation of the walk: its inputs evaluated against what is known
//! when it starts (`prepare`), run as a task of its own with its timeout
//! (`spawn`), and a create that never makes two objects (`create`). The
//! walk (`walk.rs`) decides when each runs and records what it produced.

use std::collections::BTreeSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use meshmon_provider_sdk::{Current, Intent, Map, OpContext, ProviderError, Resource, Value};
use tokio::sync::mpsc;

use super::progress::{Reporter, Verb};
use super::tasks::Panicked;
use super::{Engine, Error};
use crate::addr::Address;
use crate::eval::{Resolve, Scope};
use crate::plan::{Action, Change};
use crate::state::{
    DeposedKey, JournalEntry, JournalLine, ProviderInstance, ResourceState, Status,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Create or update the object the spec describes.
    Apply,
    /// Delete the recorded object (a delete, or the old half of a replace).
    Destroy,
}

/// What one operation produced.
pub(super) enum Outcome {
    /// The object as applied, as the journal entry that records it and
    /// that entry's line, both made by the operation's task.
    Applied(JournalEntry, JournalLine),
    Destroyed,
    /// What a look-up found, and its secret attributes.
    Read(Current, BTreeSet<String>),
}

pub(super) struct Done {
    pub(super) node: usize,
    pub(super) result: Result<Outcome, ProviderError>,
    pub(super) operation: &'static str,
    /// The operation was cut off (a timeout) and may still take effect: its
    /// intent stays open for the next apply to resolve.
    pub(super) cut_off: bool,
}

/// How often a create is tried when each attempt fails ambiguously and
/// recovery finds nothing.
const CREATE_ATTEMPTS: u32 = 4;

/// One operation, ready to run: its inputs evaluated against what is known
/// now, and everything the task needs.
pub(super) struct Op {
    pub(super) config: Map,
    pub(super) verb: Verb,
    pub(super) operation: &'static str,
    pub(super) timeout: Option<Duration>,
    pub(super) inputs: Map,
    pub(super) secret: BTreeSet<String>,
    pub(super) prior: Option<Current>,
    /// What the record keeps of the provider instance that acts.
    pub(super) instance: Option<crate::state::ProviderInstance>,
}

/// What the record of an applied object keeps beside the object itself,
/// known before the operation starts, so that the operation's task can make
/// the record and its journal line.
pub(super) struct Recording {
    type_name: String,
    provider: String,
    dependencies: Vec<Address>,
    sensitive: BTreeSet<String>,
    instance: Option<ProviderInstance>,
    /// For the new half of a create_before_destroy replace: the key the
    /// object it replaces is deposed under, in the entry that records it.
    depose: Option<DeposedKey>,
}

impl Recording {
    /// For `c`, applied through `instance` (none: as recorded before).
    pub(super) fn new(
        c: &Change,
        instance: Option<ProviderInstance>,
        depose: Option<DeposedKey>,
    ) -> Self {
        Recording {
            type_name: c.type_name.to_string(),
            provider: c.provider.to_string(),
            dependencies: c.dependencies.clone(),
            sensitive: c.sensitive.clone(),
            instance: instance.or_else(|| c.recorded_instance.clone()),
            depose,
        }
    }

    /// The record of `current`, with the attributes found secret when it
    /// was applied (a reference unknown at plan time may turn out secret).
    pub(super) fn record(
        self,
        current: Current,
        status: Status,
        secret: BTreeSet<String>,
    ) -> ResourceState {
        let mut sensitive = self.sensitive;
        sensitive.extend(secret);
        ResourceState {
            type_name: self.type_name,
            provider: self.provider,
            inputs: current.inputs,
            outputs: current.outputs,
            dependencies: self.dependencies,
            status,
            sensitive_attributes: sensitive.into_iter().collect(),
            instance: self.instance,
        }
    }

    /// What an applied operation reports: its record as a journal entry and
    /// line, and the "complete" progress line (with its id, unless secret).
    fn applied(
        self,
        address: Address,
        current: Current,
        secret: BTreeSet<String>,
        adopted: bool,
        reporter: &Reporter,
    ) -> Outcome {
        let depose = self.depose.clone();
        let resource = self.record(current, Status::Ready, secret);
        let id = resource
            .outputs
            .get("id")
            .and_then(Value::as_str)
            .filter(|_| !resource.sensitive_attributes.iter().any(|a| a == "id"));
        if adopted {
            reporter.note(&format!(
                "{address}: the create's answer was lost; found the object it made and adopted it"
            ));
        }
        reporter.finish(&address, id);
        let entry = JournalEntry::Set {
            address,
            resource: Box::new(resource),
            depose,
        };
        let line = JournalLine::of(&entry);
        Outcome::Applied(entry, line)
    }
}

/// Evaluates a node's inputs against what is known now.
pub(super) fn prepare(
    engine: &Engine,
    kind: Kind,
    c: &Change,
    original: Option<&Current>,
    known: &dyn Resolve,
) -> Result<Op, Error> {
    let spec = &engine.spec();
    let config = engine
        .providers
        .config(spec, &c.provider, &c.instance, c.recorded_instance.as_ref(), known)?
        .ok_or_else(|| Error::ProviderConfig {
        provider: c.instance.to_string(),
        message: "its configuration still refers to values that are not known; this is a bug in meshmon".into(),
    })?;
    let block = spec.resources.get(&c.address);
    let (verb, operation, timeout) = match (kind, c.action) {
        (Kind::Destroy, _) => (
            Verb::Destroy,
            "delete",
            block.and_then(|b| b.timeouts.delete),
        ),
        (Kind::Apply, Action::Update) => (
            Verb::Update,
            "update",
            block.and_then(|b| b.timeouts.update),
        ),
        (Kind::Apply, Action::Read) => (Verb::Read, "look-up", None),
        (Kind::Apply, _) => (
            Verb::Create,
            "create",
            block.and_then(|b| b.timeouts.create),
        ),
    };
    let mut inputs = Map::new();
    let mut secret = BTreeSet::new();
    let mut prior: Option<Current> = None;
    match kind {
        Kind::Destroy => {
            prior = original.cloned();
        }
        Kind::Apply => {
            let block = block.expect("applied resources are in the spec");
            let schema = engine.registry.schema_at(&c.address).expect("known type");
            let scope = Scope {
                vars: &spec.variables,
                resources: known,
            };
            let (evaluated, evaluated_secret) = scope
                .inputs(schema, &block.attrs)
                .map_err(|e| Error::Plan(crate::plan::PlanError::input(spec, block, &e)))?;
            inputs = evaluated;
            secret = evaluated_secret;
            if let Some(planned) = &c.inputs {
                // Settable+computed attributes left to the provider keep the
                // value recorded at plan time.
                for (k, v) in planned {
                    if !inputs.contains_key(k) && !v.contains_unknown() {
                        inputs.insert(k.clone(), v.clone());
                    }
                }
                for (k, v) in &inputs {
                    let p = planned.get(k).unwrap_or(&Value::Null);
                    if !consistent(p, v) {
                        return Err(Error::Usage(format!(
                            "{}: `{k}` was planned with a different value than apply computed; this is a bug in meshmon or its provider `{}`",
                            c.address, c.provider
                        )));
                    }
                }
            }
            if let Some((k, _)) = inputs.iter().find(|(_, v)| v.contains_unknown()) {
                return Err(Error::Usage(format!(
                    "{}: `{k}` is still unknown at apply time; this is a bug in meshmon",
                    c.address
                )));
            }
            if c.action == Action::Update {
                prior = original.cloned();
            }
        }
    }
    {
        let mut sensitive = c.sensitive.clone();
        sensitive.extend(secret.iter().cloned());
        let recorded = prior.iter().chain(original);
        let maps = recorded
            .flat_map(|p| [&p.inputs, &p.outputs])
            .chain(std::iter::once(&inputs));
        engine.secrets.learn_attributes(maps, &sensitive);
    }
    Ok(Op {
        instance: engine.recorded_instance(&c.provider, &c.instance, &config),
        config,
        verb,
        operation,
        timeout,
        inputs,
        secret,
        prior,
    })
}

/// An operation that reports to the walk when it ends, for [`run_together`].
pub(super) type Started = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Starts a prepared operation, which reports to the walk when it ends. An
/// operation with a timeout runs now, in a task of its own watched by
/// another, so that the timeout fires even when it is stuck in a call that
/// never yields. Any other is returned, for [`run_together`].
#[allow(clippy::too_many_arguments)]
pub(super) fn start(
    engine: &Engine,
    node_index: usize,
    kind: Kind,
    c: &Change,
    op: Op,
    intent: Option<Intent>,
    recording: Option<Recording>,
    recover_first: bool,
    tx: &mpsc::UnboundedSender<Done>,
    reporter: &Arc<Reporter>,
) -> Option<Started> {
    let providers = engine.providers.clone();
    let tx = tx.clone();
    let reporter = reporter.clone();
    let address = c.address.clone();
    let type_name = c.type_name.clone();
    let provider = c.provider.clone();
    let action = c.action;
    let Op {
        config,
        verb,
        operation,
        timeout,
        inputs,
        secret,
        prior,
        ..
    } = op;
    reporter.start(&address, verb);
    let work = async move {
        let progress_reporter = reporter.clone();
        let progress_addr = address.clone();
        let mut ctx = OpContext::new(
            address.to_string(),
            timeout,
            Arc::new(move |m: &str| progress_reporter.status(&progress_addr, m)),
        );
        if let Some(intent) = intent {
            ctx = ctx.with_intent(intent);
        }
        // The provider's own error, hint and all, when it refused its
        // configuration.
        let refused = |e: Error| {
            let mut err = ProviderError::new(e.to_string());
            err.hint = e.hint();
            err
        };
        if (kind, action) == (Kind::Apply, Action::Read) {
            let lookup = providers
                .lookup(&provider, &config, &type_name)
                .await
                .map_err(refused)?;
            let found = lookup.find(&ctx, &inputs).await?;
            return Ok(Outcome::Read(Current::new(inputs, found), secret));
        }
        let res = providers
            .resource(&provider, &config, &type_name)
            .await
            .map_err(refused)?;
        match (kind, action) {
            (Kind::Destroy, _) => {
                let prior = prior
                    .as_ref()
                    .ok_or_else(|| ProviderError::new("nothing is recorded to destroy"))?;
                res.delete(&ctx, prior).await?;
                Ok(Outcome::Destroyed)
            }
            (Kind::Apply, _) => {
                let (outputs, adopted) = if action == Action::Update {
                    let prior = prior
                        .as_ref()
                        .ok_or_else(|| ProviderError::new("nothing is recorded to update"))?;
                    (res.update(&ctx, prior, &inputs).await?, false)
                } else {
                    create(res.as_ref(), &ctx, &inputs, recover_first).await?
                };
                let recording =
                    recording.ok_or_else(|| ProviderError::new("nothing says how to record it"))?;
                Ok(recording.applied(
                    address,
                    Current::new(inputs, outputs),
                    secret,
                    adopted,
                    &reporter,
                ))
            }
        }
    };
    let panicked = |p: Panicked| ProviderError::new(p.to_string());
    let done = move |result, cut_off| {
        let _ = tx.send(Done {
            node: node_index,
            result,
            operation,
            cut_off,
        });
    };
    let Some(t) = timeout else {
        // Without a timeout, no task of its own: a panic is caught here.
        return Some(Box::pin(async move {
            let result = AssertUnwindSafe(work)
                .catch_unwind()
                .await
                .unwrap_or_else(|p| Err(panicked(Panicked::from(p))));
            done(result, false);
        }));
    };
    // With one, the work is a task of its own, so that the timeout fires
    // even when the work is stuck in a call that never yields.
    tokio::spawn(async move {
        let work = tokio::spawn(work);
        let abort = work.abort_handle();
        let (result, cut_off) = match tokio::time::timeout(t, work).await {
            Ok(Ok(result)) => (result, false),
            Ok(Err(e)) => (Err(panicked(Panicked::from(e))), false),
            Err(_) => {
                abort.abort();
                (
                    Err(ProviderError::new(format!(
                        "timed out after {}",
                        humantime::format_duration(t)
                    ))
                    .with_hint("raise the resource's `timeouts` if the operation is just slow; the next apply looks for what this one may have left half done")),
                    true,
                )
            }
        };
        done(result, cut_off);
    });
    None
}

/// Runs the operations a round of the walk started, concurrently, in one
/// task: a task each would wake the other worker for each, which cost a
/// fast walk more than its operations.
pub(super) fn run_together(started: Vec<Started>) {
    match started.len() {
        0 => {}
        1 => {
            tokio::spawn(started.into_iter().next().expect("one"));
        }
        _ => {
            tokio::spawn(async move {
                let mut running: FuturesUnordered<Started> = started.into_iter().collect();
                while running.next().await.is_some() {}
            });
        }
    }
}

/// Creates the object, never twice: after a failure that may have taken
/// effect (the answer was lost), the provider looks for the object the
/// create made before the create is tried again. With `recover_first`
/// (an interrupted apply started this create), it looks before the first
/// try too. Returns the outputs and whether the object was recovered.
async fn create(
    res: &dyn Resource,
    ctx: &OpContext,
    inputs: &Map,
    recover_first: bool,
) -> Result<(Map, bool), ProviderError> {
    if recover_first && let Some(outputs) = res.recover(ctx, inputs).await? {
        return Ok((outputs, true));
    }
    let mut uncertain = false;
    let mut pause = Duration::from_secs(1);
    for attempt in 1..=CREATE_ATTEMPTS {
        let err = match res.create(ctx, inputs).await {
            Ok(outputs) => return Ok((outputs, false)),
            Err(e) => e,
        };
        // Once an attempt may have taken effect, any later failure (an
        // "already exists") may be that attempt's doing.
        if !(err.ambiguous || uncertain) {
            return Err(err);
        }
        uncertain = true;
        ctx.progress("the create's answer was lost; looking for the object it may have made");
        match res.recover(ctx, inputs).await {
            Ok(Some(outputs)) => return Ok((outputs, true)),
            Ok(None) if attempt < CREATE_ATTEMPTS => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Ok(None) => return Err(err),
            Err(e) => {
                let mut err = err;
                err.message = format!(
                    "{}; whether it took effect could not be checked: {e}",
                    err.message
                );
                err.hint = Some(
                    "run `meshmon apply` again: it looks for the object before creating it".into(),
                );
                return Err(err);
            }
        }
    }
    unreachable!("the last attempt returns")
}

/// A planned value is honoured when it was unknown or equals the actual one.
fn consistent(planned: &Value, actual: &Value) -> bool {
    match (planned, actual) {
        (Value::Unknown, _) => true,
        (Value::List(p), Value::List(a)) => {
            p.len() == a.len() && p.iter().zip(a).all(|(x, y)| consistent(x, y))
        }
        // Each key once: visiting the union twice per level would make this
        // exponential in the nesting depth.
        (Value::Map(p), Value::Map(a)) => {
            p.iter()
                .all(|(k, pv)| consistent(pv, a.get(k).unwrap_or(&Value::Null)))
                && a.iter()
                    .filter(|(k, _)| !p.contains_key(*k))
                    .all(|(_, av)| consistent(&Value::Null, av))
        }
        _ => crate::plan::compare::equal(&meshmon_provider_sdk::AttrType::Any, planned, actual),
    }
}
