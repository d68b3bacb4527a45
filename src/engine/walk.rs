//! The concurrent walk that applies a plan. Each change becomes one or two
//! nodes (a destroy of the old object, an apply of the new); a node starts
//! as soon as everything it waits for is done, up to `parallelism` at once,
//! so wall time follows the critical path rather than the sum.
//!
//! Ordering rules, in the words of the resources involved:
//! - an apply waits for the applies of what it references (a subnet waits
//!   for its VPC);
//! - a destroy waits for the destroys of what references it ("a VPC can't be
//!   deleted while it still has subnets"), and for the updates of resources
//!   that used to reference it and no longer will;
//! - a replace destroys the old object before creating the new one, unless
//!   `create_before_destroy`, where the old one goes after the new one and
//!   its dependents are in place.
//!
//! Every create and delete is journaled as an intent before the provider is
//! called, and every completed operation before the next is scheduled off
//! it: whenever the process dies, the next apply knows what was in flight.
//! A create whose answer was lost is recovered (the provider finds the
//! object it made) before it is tried again, so it never makes two. A failure skips only what depends on it; Ctrl-C stops
//! scheduling and lets in-flight work finish. Either way the state is saved.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use meshmon_provider_sdk::{Current, Map, OpContext, ProviderError, Value};
use tokio::sync::mpsc;

use meshmon_provider_sdk::{Intent, Resource};

use super::progress::{Reporter, Verb};
use super::{Engine, Error};
use crate::eval::{Known, Scope};
use crate::plan::{Action, Change, Plan};
use crate::state::{
    JournalEntry, JournalSink, PendingCreate, Replayer, ResourceState, State, StateError, Status,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Create or update the object the spec describes.
    Apply,
    /// Delete the recorded object (a delete, or the old half of a replace).
    Destroy,
}

struct Node {
    change: usize,
    kind: Kind,
    waiting: usize,
    dependents: Vec<usize>,
}

/// What one operation produced.
enum Outcome {
    /// The object as applied, its secret attributes as evaluated at apply
    /// time (a reference unknown at plan time may turn out secret), and
    /// whether it was found after its create's answer was lost.
    Applied(Current, BTreeSet<String>, bool),
    Destroyed,
}

struct Done {
    node: usize,
    result: Result<Outcome, ProviderError>,
    operation: &'static str,
    /// The operation was cut off (a timeout) and may still take effect: its
    /// intent stays open for the next apply to resolve.
    cut_off: bool,
}

/// The state as the journal describes it: every entry is appended to the
/// journal and applied to the state in memory the way replay would.
struct Book<'a> {
    state: State,
    journal: &'a mut dyn JournalSink,
    replayer: Replayer,
}

impl Book<'_> {
    /// Journals `entry` and applies it. The state in memory takes it even
    /// when the journal could not, so the state saved at the end has it.
    fn write(&mut self, entry: JournalEntry) -> Result<(), StateError> {
        let appended = self.journal.append(&entry);
        self.replayer.apply(&mut self.state, entry);
        appended
    }
}

/// How often a create is tried when each attempt fails ambiguously and
/// recovery finds nothing.
const CREATE_ATTEMPTS: u32 = 4;

/// Counts of what the walk did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
}

/// Applies `plan` on top of `state`, journaling each completed operation.
/// Returns the final state (also when some operations failed, in which case
/// the error says so after the state has been handed back for saving).
///
/// `tokens` holds the idempotency tokens of creates an interrupted apply
/// started and recovery did not find: retrying them sends the same token.
pub async fn apply(
    engine: &Engine,
    plan: &Plan,
    state: State,
    journal: &mut dyn JournalSink,
    reporter: Arc<Reporter>,
    tokens: &HashMap<String, String>,
) -> (State, Totals, Option<Error>) {
    let changes: Vec<&Change> = plan.changes.iter().collect();
    let mut nodes = schedule(&changes, &state);

    // The objects as they were when the walk began: what destroys and
    // updates act on, even after a create_before_destroy replaced the record.
    let originals: HashMap<String, Current> = state
        .resources
        .iter()
        .map(|(a, r)| (a.clone(), r.current()))
        .collect();
    let deposed_originals: HashMap<String, Current> = state
        .deposed
        .iter()
        .map(|(k, d)| (k.clone(), d.resource.current()))
        .collect();
    let mut known: HashMap<String, Known> = Known::all(&state);
    // The key each create_before_destroy replace deposes its old object
    // under, chosen when its create starts.
    let mut depose_keys: HashMap<String, String> = HashMap::new();
    let mut book = Book {
        state,
        journal,
        replayer: Replayer::default(),
    };

    let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
    let mut ready: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].waiting == 0)
        .collect();
    ready.reverse();
    let mut in_flight = 0usize;
    let mut succeeded = 0usize;
    let mut failed = 0usize;
    let mut skipped = vec![false; nodes.len()];
    let mut skipped_count = 0usize;
    let mut interrupted = false;
    let mut totals = Totals::default();
    let mut first_error: Option<Error> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let (mut signals, signal_task) = interrupts();
    let mut abandoned = 0usize;
    // A journal that cannot be written stops the walk at once: nothing may
    // complete that a kill could then lose.
    let mut journal_failed: Option<crate::state::StateError> = None;

    'walk: loop {
        while !interrupted
            && in_flight < engine.parallelism
            && let Some(n) = ready.pop()
        {
            if skipped[n] {
                continue;
            }
            let c = changes[nodes[n].change];
            let kind = nodes[n].kind;
            // The old half of a create_before_destroy replace is deposed
            // during the walk, but `originals` still holds it as it was.
            let original = match &c.deposed {
                Some(key) => deposed_originals.get(key),
                None => originals.get(&c.address),
            };
            let op = match prepare(engine, kind, c, original, &known) {
                Ok(op) => op,
                Err(e) => {
                    reporter.note(&format!("{}: {e}", c.address));
                    failed += 1;
                    skipped_count += skip_dependents(&nodes, n, &mut skipped);
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            // A create an interrupted apply started and recovery could not
            // check yet: look for its object before creating it.
            let recover_first = kind == Kind::Apply
                && c.action != Action::Update
                && book.state.pending.contains_key(&c.address);
            // The intent goes to the journal before the provider is called.
            let (intent, entry) = match (kind, c.action) {
                (Kind::Destroy, _) => {
                    let key = c.deposed.clone().or_else(|| {
                        (c.action == Action::Replace && c.create_before_destroy)
                            .then(|| depose_keys.get(&c.address).cloned())
                            .flatten()
                    });
                    (
                        None,
                        Some(JournalEntry::Deleting {
                            address: c.address.clone(),
                            key,
                        }),
                    )
                }
                // An update is retried as it is: the record stays as it was.
                (Kind::Apply, Action::Update) => (None, None),
                (Kind::Apply, _) => {
                    let token = book
                        .state
                        .pending
                        .get(&c.address)
                        .map(|p| p.token.clone())
                        .or_else(|| tokens.get(&c.address).cloned())
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    let deposes = (c.action == Action::Replace && c.create_before_destroy)
                        .then(crate::state::deposed_key);
                    if let Some(k) = &deposes {
                        depose_keys.insert(c.address.clone(), k.clone());
                    }
                    let mut sensitive = c.sensitive.clone();
                    sensitive.extend(op.secret.iter().cloned());
                    let create = PendingCreate {
                        type_name: c.type_name.clone(),
                        provider: c.provider.clone(),
                        token: token.clone(),
                        inputs: op.inputs.clone(),
                        dependencies: c.dependencies.clone(),
                        sensitive_attributes: sensitive.into_iter().collect(),
                        deposes,
                    };
                    let intent = Intent {
                        token,
                        lineage: book.state.lineage.clone(),
                    };
                    (
                        Some(intent),
                        Some(JournalEntry::Intent {
                            address: c.address.clone(),
                            create: Box::new(create),
                        }),
                    )
                }
            };
            if let Some(entry) = entry
                && let Err(e) = book.write(entry)
            {
                abandoned = in_flight;
                reporter.note(&format!(
                    "Error: {e}: stopping now, {in_flight} operation(s) in flight are abandoned."
                ));
                journal_failed = Some(e);
                break 'walk;
            }
            spawn(
                engine,
                n,
                kind,
                c,
                op,
                intent,
                recover_first,
                &tx,
                &reporter,
            );
            in_flight += 1;
        }
        if in_flight == 0 {
            break;
        }
        tokio::select! {
            Some(done) = rx.recv() => {
                in_flight -= 1;
                let c = changes[nodes[done.node].change];
                let journaled = match done.result {
                    Ok(outcome) => {
                        succeeded += 1;
                        let key = c.deposed.clone().or_else(|| depose_keys.get(&c.address).cloned());
                        let journaled = record(&mut book, &mut known, c, key, nodes[done.node].kind, outcome, &mut totals, &reporter);
                        for k in 0..nodes[done.node].dependents.len() {
                            let d = nodes[done.node].dependents[k];
                            nodes_dec(&mut nodes, d, &mut ready);
                        }
                        journaled
                    }
                    Err(mut source) => {
                        reporter.fail(&c.address);
                        failed += 1;
                        let mut partial = source.partial.take();
                        let kind = nodes[done.node].kind;
                        let journaled = if let Some(partial) = partial.take_if(|_| c.action == Action::Update) {
                            // An update that failed half-way: what it did
                            // is recorded, and the next plan retries only
                            // the rest, never a replace.
                            let rs = resource_state(c, *partial, Status::Ready, c.sensitive.clone());
                            book.write(JournalEntry::Set { address: c.address.clone(), resource: Box::new(rs), depose: None })
                        } else if let Some(partial) = partial {
                            // Created but never became healthy: keep it,
                            // tainted, so the next plan replaces it — or,
                            // for a create_before_destroy replace, deposed,
                            // so that the object it was to replace stays.
                            let rs = resource_state(c, *partial, Status::Tainted, c.sensitive.clone());
                            if c.action == Action::Replace && c.create_before_destroy {
                                book.write(JournalEntry::Stash { key: crate::state::deposed_key(), address: c.address.clone(), resource: Box::new(rs) })
                            } else {
                                book.write(JournalEntry::Set { address: c.address.clone(), resource: Box::new(rs), depose: None })
                            }
                        } else if done.cut_off || c.deposed.is_some() || (kind == Kind::Apply && c.action == Action::Update) {
                            // Cut off: the intent stays open for the next
                            // apply. A deposed object stays deposed. A
                            // failed update keeps its record.
                            Ok(())
                        } else {
                            // Nothing was made, or nothing was deleted.
                            book.write(JournalEntry::Abandon { address: c.address.clone() })
                        };
                        skipped_count += skip_dependents(&nodes, done.node, &mut skipped);
                        let err = Error::Provider { address: c.address.clone(), operation: done.operation, source: Box::new(source) };
                        reporter.note(&format!("Error: {err}"));
                        first_error.get_or_insert(err);
                        journaled
                    }
                };
                if let Err(e) = journaled {
                    abandoned = in_flight;
                    reporter.note(&format!("Error: {e}: stopping now, {in_flight} operation(s) in flight are abandoned."));
                    journal_failed = Some(e);
                    break;
                }
            }
            Some(()) = signals.recv() => {
                if interrupted {
                    abandoned = in_flight;
                    reporter.note(&format!("Second interrupt: stopping now. {in_flight} operation(s) in flight are abandoned and may still complete; `meshmon plan` shows where things stand."));
                    break;
                }
                interrupted = true;
                reporter.note(&format!("Interrupt received: no new operations start; waiting for {in_flight} in flight to finish (interrupt again to stop at once)..."));
            }
            _ = ticker.tick() => reporter.tick(),
        }
    }

    signal_task.abort();
    let not_started = nodes.len() - succeeded - failed - skipped_count - abandoned;
    let error = if let Some(source) = journal_failed {
        Some(Error::Journal {
            source,
            abandoned: abandoned + not_started + skipped_count,
        })
    } else if interrupted {
        Some(Error::Interrupted {
            completed: succeeded,
            remaining: not_started + skipped_count + abandoned,
        })
    } else if failed > 0 {
        if skipped_count > 0 {
            reporter.note(&format!("{failed} operation(s) failed, {skipped_count} skipped because they depend on a failure"));
        }
        // One failure is the error itself; several were each reported as
        // they happened, and the summary says how many.
        if failed == 1 {
            first_error
        } else {
            Some(Error::Incomplete {
                failed,
                skipped: skipped_count,
            })
        }
    } else if not_started > 0 {
        Some(Error::Usage(format!(
            "{not_started} operation(s) could never start because of an ordering cycle; this is a bug in meshmon"
        )))
    } else {
        None
    };

    let outputs = if !plan.options.destroy {
        crate::eval::recorded_outputs(&crate::eval::outputs(&engine.spec, &known))
    } else if book.state.resources.is_empty() {
        Default::default()
    } else {
        book.state.outputs.clone()
    };
    let appended = book.write(JournalEntry::Outputs { outputs });
    let Book {
        mut state,
        replayer,
        ..
    } = book;
    replayer.finish(&mut state);
    let error = match (error, appended) {
        (None, Err(source)) => Some(Error::Journal {
            source,
            abandoned: 0,
        }),
        (error, _) => error,
    };
    (state, totals, error)
}

/// The operations of a plan as nodes, each knowing what waits for it and
/// how many it waits for, ordered by the rules in this module's header.
fn schedule(changes: &[&Change], state: &State) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut apply_node: HashMap<&str, usize> = HashMap::new();
    let mut destroy_node: HashMap<&str, usize> = HashMap::new();
    // Deletes of deposed objects, by the address they were deposed from.
    let mut deposed_nodes: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        if c.deposed.is_some() {
            deposed_nodes
                .entry(&c.address)
                .or_default()
                .push(nodes.len());
            nodes.push(Node {
                change: i,
                kind: Kind::Destroy,
                waiting: 0,
                dependents: Vec::new(),
            });
            continue;
        }
        let needs_destroy = matches!(c.action, Action::Delete | Action::Replace);
        let needs_apply = matches!(c.action, Action::Create | Action::Update | Action::Replace);
        if needs_destroy {
            destroy_node.insert(&c.address, nodes.len());
            nodes.push(Node {
                change: i,
                kind: Kind::Destroy,
                waiting: 0,
                dependents: Vec::new(),
            });
        }
        if needs_apply {
            apply_node.insert(&c.address, nodes.len());
            nodes.push(Node {
                change: i,
                kind: Kind::Apply,
                waiting: 0,
                dependents: Vec::new(),
            });
        }
    }

    // Edges as (before, after).
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
    for c in changes.iter().filter(|c| c.deposed.is_none()) {
        let addr = c.address.as_str();
        if let Some(&a) = apply_node.get(addr) {
            for dep in &c.dependencies {
                if let Some(&d) = apply_node.get(dep.as_str()) {
                    edges.insert((d, a));
                }
            }
            if let Some(&old) = destroy_node.get(addr) {
                if c.create_before_destroy {
                    edges.insert((a, old));
                } else {
                    edges.insert((old, a));
                }
            }
        }
        // Whatever referenced this resource, per the spec or the state,
        // leaves first.
        let recorded = state
            .resources
            .get(addr)
            .map(|r| r.dependencies.clone())
            .unwrap_or_default();
        for dep in c.dependencies.iter().chain(recorded.iter()) {
            let Some(&dep_destroy) = destroy_node.get(dep.as_str()) else {
                continue;
            };
            if let Some(&mine) = destroy_node.get(addr) {
                edges.insert((mine, dep_destroy));
            } else if let Some(&mine) = apply_node.get(addr) {
                let dep_change = changes[nodes[dep_destroy].change];
                // An update that drops a reference goes before the delete;
                // with create_before_destroy the dependents move to the new
                // object before the old one goes.
                if dep_change.action == Action::Delete || dep_change.create_before_destroy {
                    edges.insert((mine, dep_destroy));
                }
            }
        }
    }
    // A deposed object goes before a new object at its address is created
    // (names may be unique), unless the spec wants the new one first; and
    // before what it depended on goes. What depended on it goes first.
    for c in changes.iter().filter(|c| c.deposed.is_some()) {
        let addr = c.address.as_str();
        for &mine in &deposed_nodes[addr] {
            if let Some(&a) = apply_node.get(addr)
                && !changes[nodes[a].change].create_before_destroy
            {
                edges.insert((mine, a));
            }
            for dep in &c.dependencies {
                if let Some(&d) = destroy_node.get(dep.as_str()) {
                    edges.insert((mine, d));
                }
                for &d in deposed_nodes.get(dep.as_str()).into_iter().flatten() {
                    edges.insert((mine, d));
                }
            }
        }
    }
    for c in changes.iter().filter(|c| c.deposed.is_none()) {
        let Some(&mine) = destroy_node.get(c.address.as_str()) else {
            continue;
        };
        let recorded = state.resources.get(&c.address);
        for dep in recorded.iter().flat_map(|r| r.dependencies.iter()) {
            for &d in deposed_nodes.get(dep.as_str()).into_iter().flatten() {
                edges.insert((mine, d));
            }
        }
    }
    for (before, after) in edges {
        if before != after {
            nodes[before].dependents.push(after);
            nodes[after].waiting += 1;
        }
    }

    nodes
}

/// SIGINT (Ctrl-C) and SIGTERM (what a cancelled CI job receives first),
/// as a stream of events, and the task that forwards them.
fn interrupts() -> (mpsc::UnboundedReceiver<()>, tokio::task::JoinHandle<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    (rx, task)
}

fn nodes_dec(nodes: &mut [Node], d: usize, ready: &mut Vec<usize>) {
    nodes[d].waiting -= 1;
    if nodes[d].waiting == 0 {
        ready.push(d);
    }
}

/// Marks everything downstream of a failed node as skipped; returns how many.
fn skip_dependents(nodes: &[Node], from: usize, skipped: &mut [bool]) -> usize {
    let mut count = 0;
    let mut stack = nodes[from].dependents.clone();
    while let Some(n) = stack.pop() {
        if !skipped[n] {
            skipped[n] = true;
            count += 1;
            stack.extend(nodes[n].dependents.iter().copied());
        }
    }
    count
}

fn resource_state(
    c: &Change,
    current: Current,
    status: Status,
    sensitive: BTreeSet<String>,
) -> ResourceState {
    ResourceState {
        type_name: c.type_name.clone(),
        provider: c.provider.clone(),
        inputs: current.inputs,
        outputs: current.outputs,
        dependencies: c.dependencies.clone(),
        status,
        sensitive_attributes: sensitive.into_iter().collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    book: &mut Book<'_>,
    known: &mut HashMap<String, Known>,
    c: &Change,
    deposed_key: Option<String>,
    kind: Kind,
    outcome: Outcome,
    totals: &mut Totals,
    reporter: &Reporter,
) -> Result<(), StateError> {
    match outcome {
        Outcome::Applied(current, secret, adopted) => {
            let id = current
                .outputs
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string);
            let mut sensitive = c.sensitive.clone();
            sensitive.extend(secret);
            let id = id.filter(|_| !sensitive.contains("id"));
            let rs = resource_state(c, current, Status::Ready, sensitive.clone());
            known.insert(
                c.address.clone(),
                Known {
                    attrs: rs.attributes(),
                    sensitive,
                },
            );
            // The old half of a create_before_destroy replace is deposed
            // in the same entry that records the new object.
            let depose =
                deposed_key.filter(|_| c.action == Action::Replace && c.create_before_destroy);
            let appended = book.write(JournalEntry::Set {
                address: c.address.clone(),
                resource: Box::new(rs),
                depose,
            });
            match c.action {
                Action::Update => totals.changed += 1,
                _ => totals.added += 1,
            }
            if adopted {
                reporter.note(&format!(
                    "{}: the create's answer was lost; found the object it made and adopted it",
                    c.address
                ));
            }
            reporter.finish(&c.address, id.as_deref());
            appended
        }
        Outcome::Destroyed => {
            debug_assert_eq!(kind, Kind::Destroy);
            totals.destroyed += 1;
            let appended = match (&c.deposed, c.action) {
                (Some(key), _) => book.write(JournalEntry::Forget { key: key.clone() }),
                (None, Action::Replace) if c.create_before_destroy => match deposed_key {
                    Some(key) => book.write(JournalEntry::Forget { key }),
                    None => Ok(()),
                },
                _ => {
                    if c.action == Action::Delete {
                        known.remove(&c.address);
                    }
                    book.write(JournalEntry::Remove {
                        address: c.address.clone(),
                    })
                }
            };
            reporter.finish(&c.address, None);
            appended
        }
    }
}

/// One operation, ready to run: its inputs evaluated against what is known
/// now, and everything the task needs.
struct Op {
    config: Map,
    verb: Verb,
    operation: &'static str,
    timeout: Option<Duration>,
    inputs: Map,
    secret: BTreeSet<String>,
    prior: Option<Current>,
    secrets: Vec<String>,
}

/// Evaluates a node's inputs against what is known now.
fn prepare(
    engine: &Engine,
    kind: Kind,
    c: &Change,
    original: Option<&Current>,
    known: &HashMap<String, Known>,
) -> Result<Op, Error> {
    let spec = &engine.spec;
    let config = engine.providers.config(spec, &c.provider, known)?.ok_or_else(|| Error::ProviderConfig {
        provider: c.provider.clone(),
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
            if let Some(b) = block
                && b.lifecycle.prevent_destroy
                && c.deposed.is_none()
            {
                return Err(Error::PreventDestroy {
                    address: c.address.clone(),
                });
            }
            prior = original.cloned();
        }
        Kind::Apply => {
            let block = block.expect("applied resources are in the spec");
            let schema = engine.registry.schema(&c.type_name).expect("known type");
            let scope = Scope {
                vars: &spec.variables,
                resources: known,
            };
            let (evaluated, evaluated_secret) = scope
                .inputs(schema, &block.attrs)
                .map_err(|e| Error::Usage(format!("{}: {e}", c.address)))?;
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
    let secrets = {
        let mut sensitive = c.sensitive.clone();
        sensitive.extend(secret.iter().cloned());
        let recorded = prior.iter().chain(original);
        let maps = recorded
            .flat_map(|p| [&p.inputs, &p.outputs])
            .chain(std::iter::once(&inputs));
        super::secret_texts(maps, &sensitive)
    };
    Ok(Op {
        config,
        verb,
        operation,
        timeout,
        inputs,
        secret,
        prior,
        secrets,
    })
}

/// Runs a prepared operation as a task of its own, so that its timeout
/// fires even when it is stuck in a call that never yields, and reports
/// to the walk when it ends.
#[allow(clippy::too_many_arguments)]
fn spawn(
    engine: &Engine,
    node_index: usize,
    kind: Kind,
    c: &Change,
    op: Op,
    intent: Option<Intent>,
    recover_first: bool,
    tx: &mpsc::UnboundedSender<Done>,
    reporter: &Arc<Reporter>,
) {
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
        secrets,
    } = op;
    tokio::spawn(async move {
        reporter.start(&address, verb);
        let progress_reporter = reporter.clone();
        let progress_addr = address.clone();
        let progress_secrets = secrets.clone();
        let mut ctx = OpContext::new(
            address.clone(),
            timeout,
            Arc::new(move |m: &str| {
                let mut m = m.to_string();
                super::mask_secrets(&mut m, &progress_secrets);
                progress_reporter.status(&progress_addr, &m)
            }),
        );
        if let Some(intent) = intent {
            ctx = ctx.with_intent(intent);
        }
        let work = tokio::spawn(async move {
            let res = providers
                .resource(&provider, &config, &type_name)
                .await
                .map_err(|e| ProviderError::new(e.to_string()))?;
            match (kind, action) {
                (Kind::Destroy, _) => {
                    let prior = prior
                        .as_ref()
                        .ok_or_else(|| ProviderError::new("nothing is recorded to destroy"))?;
                    res.delete(&ctx, prior).await?;
                    Ok(Outcome::Destroyed)
                }
                (Kind::Apply, Action::Update) => {
                    let prior = prior
                        .as_ref()
                        .ok_or_else(|| ProviderError::new("nothing is recorded to update"))?;
                    let outputs = res.update(&ctx, prior, &inputs).await?;
                    Ok(Outcome::Applied(
                        Current::new(inputs.clone(), outputs),
                        secret.clone(),
                        false,
                    ))
                }
                (Kind::Apply, _) => {
                    let (outputs, adopted) =
                        create(res.as_ref(), &ctx, &inputs, recover_first).await?;
                    Ok(Outcome::Applied(
                        Current::new(inputs.clone(), outputs),
                        secret.clone(),
                        adopted,
                    ))
                }
            }
        });
        let abort = work.abort_handle();
        let mut cut_off = false;
        let joined = |r: Result<Result<Outcome, ProviderError>, tokio::task::JoinError>| {
            r.unwrap_or_else(|e| Err(ProviderError::new(format!("the operation failed: {e}"))))
        };
        let result = match timeout {
            Some(t) => match tokio::time::timeout(t, work).await {
                Ok(r) => joined(r),
                Err(_) => {
                    abort.abort();
                    cut_off = true;
                    Err(ProviderError::new(format!(
                        "timed out after {}",
                        humantime::format_duration(t)
                    ))
                    .with_hint("raise the resource's `timeouts` if the operation is just slow; the next apply looks for what this one may have left half done"))
                }
            },
            None => joined(work.await),
        };
        let _ = tx.send(Done {
            node: node_index,
            result: result.map_err(|e| super::scrub(e, &secrets)),
            operation,
            cut_off,
        });
    });
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
