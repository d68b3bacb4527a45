//! Plans: what apply would do to each resource and why. `compute` diffs the
//! desired inputs (the spec evaluated over planned values) against the
//! refreshed state; `render` and `json` show the result; `file` saves it.
//! A plan never contacts a provider itself: the engine refreshes state before
//! and passes provider advice in.

pub use meshmon_provider_sdk::compare;
mod change;
pub mod file;
pub mod json;
pub mod markdown;
mod planning;
mod refactor;
pub mod render;

use compact_str::CompactString;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use meshmon_provider_sdk::{AttrPath, Current, Map, PathSegment, PlanAdvice, Value};
use serde::{Deserialize, Serialize};

use crate::addr::Address;
use crate::diag::{Diag, Source};
use crate::drift::Drift;
use crate::eval::{InputError, Scope};
use crate::graph::Graph;
use crate::registry::Registry;
use crate::spec::{ResourceBlock, Spec};
use crate::state::{DeposedKey, State, Status};
use change::{deletion, plan_resource};
use planning::{Planning, Seen, deferral};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    /// A look-up read during apply: its inputs are known only then.
    Read,
    NoOp,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoOp => "no-op",
        }
    }
}

/// What happens to one resource.
#[derive(Clone, Debug)]
pub struct Change {
    pub address: Address,
    // Short names, kept inline rather than each in an allocation of its
    // own: a plan holds one change per resource.
    pub type_name: CompactString,
    pub provider: CompactString,
    /// The provider instance that acts on it (`aws`, `aws.prod`).
    pub instance: CompactString,
    /// What the record says of its instance (for one no longer declared).
    pub recorded_instance: Option<crate::state::ProviderInstance>,
    pub action: Action,
    /// Attributes as they are now (refreshed), for anything that exists;
    /// none for a no-op or a delete, whose record in the refreshed state
    /// says it (see [`Plan::before`]): a plan of many holds no second copy
    /// of the state.
    pub before: Option<Map>,
    /// Attributes after apply, `Unknown` where only apply can tell.
    pub after: Option<Map>,
    /// The inputs apply will send, `Unknown` where not yet known; none for
    /// a change that sends nothing (no-op, delete).
    pub inputs: Option<Map>,
    pub sensitive: BTreeSet<String>,
    /// Why a replace: attribute paths that force it, or another reason.
    pub replace_because: Vec<String>,
    pub notes: Vec<String>,
    pub create_before_destroy: bool,
    /// What this resource needs, from the spec (or from state, for a delete).
    pub dependencies: Vec<Address>,
    /// For the delete of a deposed object: its key in the state.
    pub deposed: Option<DeposedKey>,
}

impl Change {
    /// Paths in `after` whose values are known only after apply.
    pub fn unknown_paths(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        if let Some(after) = &self.after {
            for (k, v) in after {
                collect_unknown(v, &mut vec![], &mut |p| {
                    out.push(AttrPath::new(k.as_str(), p.to_vec()))
                });
            }
        }
        out
    }
}

fn collect_unknown(v: &Value, path: &mut Vec<PathSegment>, f: &mut dyn FnMut(&[PathSegment])) {
    match v {
        Value::Unknown => f(path),
        Value::List(l) => {
            for (i, e) in l.iter().enumerate() {
                path.push(PathSegment::Index(i));
                collect_unknown(e, path, f);
                path.pop();
            }
        }
        Value::Map(m) => {
            for (k, e) in m {
                path.push(PathSegment::Key(k.clone()));
                collect_unknown(e, path, f);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub destroy: bool,
    pub refresh_only: bool,
    pub targets: Vec<Address>,
    pub replace: Vec<Address>,
}

/// A computed plan, with the refreshed state it was computed against.
#[derive(Clone, Debug)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub drift: Vec<Drift>,
    pub prior: State,
    pub options: PlanOptions,
    /// Outputs' planned values (`Unknown` until apply).
    pub outputs: BTreeMap<String, (Value, bool)>,
    /// What this machine lacks to apply the plan (a missing helper binary).
    pub preflight: Vec<String>,
    /// Recorded objects `[[moved]]` renames, (from, to); `prior` already
    /// has them under their new addresses.
    pub moves: Vec<(Address, Address)>,
    /// Recorded objects `[[removed]]` with `destroy = false` forgets, as
    /// they were recorded; `prior` no longer has them.
    pub forgets: Vec<(Address, crate::state::ResourceState)>,
    /// The services that throttled calls while this plan was made.
    pub throttling: Vec<meshmon_provider_sdk::Traffic>,
    /// Look-ups read for this plan that found something other than what
    /// they found last time; `prior.data` holds what they found now.
    pub lookups: Vec<Drift>,
    /// Blocks not planned because their keys (or the keys of what they
    /// need) are known only after apply, each with why: the next apply
    /// plans them. What they record stays as it is meanwhile.
    pub deferred: BTreeMap<Address, String>,
}

impl Plan {
    /// What `change` was before: as it holds it, or for a no-op or a
    /// delete, its record in the refreshed state.
    pub fn before<'a>(&'a self, change: &'a Change) -> Option<std::borrow::Cow<'a, Map>> {
        use std::borrow::Cow;
        match (&change.before, change.action, &change.deposed) {
            (Some(before), _, _) => Some(Cow::Borrowed(before)),
            (None, Action::Delete, Some(key)) => self
                .prior
                .deposed
                .get(key)
                .map(|d| Cow::Owned(d.resource.attributes())),
            (None, Action::NoOp | Action::Delete, None) => self
                .prior
                .resources
                .get(&change.address)
                .map(|r| Cow::Owned(r.attributes())),
            (None, _, _) => None,
        }
    }

    pub fn summary(&self) -> (usize, usize, usize) {
        let mut add = 0;
        let mut change = 0;
        let mut destroy = 0;
        for c in &self.changes {
            match c.action {
                Action::Create => add += 1,
                Action::Update => change += 1,
                Action::Replace => {
                    add += 1;
                    destroy += 1
                }
                Action::Delete => destroy += 1,
                Action::Read | Action::NoOp => {}
            }
        }
        (add, change, destroy)
    }

    /// Whether applying the plan changes anything: an object, the state's
    /// record of drift (refresh-only), or an output.
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c.action, Action::NoOp | Action::Read))
            || (self.options.refresh_only && !self.drift.is_empty())
            || !self.output_changes().is_empty()
            || !self.moves.is_empty()
            || !self.forgets.is_empty()
    }

    /// The outputs applying the plan adds, changes or removes, by name.
    pub fn output_changes(&self) -> Vec<OutputChange<'_>> {
        if self.options.refresh_only {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (name, (after, sensitive)) in &self.outputs {
            let before = self.prior.outputs.get(name);
            let action = match before {
                None => Action::Create,
                Some(o)
                    if !compare::equal(&meshmon_provider_sdk::AttrType::Any, &o.value, after) =>
                {
                    Action::Update
                }
                Some(_) => continue,
            };
            out.push(OutputChange {
                name,
                action,
                before: before.map(|o| &o.value),
                after: Some(after),
                sensitive: *sensitive || before.is_some_and(|o| o.sensitive),
            });
        }
        for (name, o) in &self.prior.outputs {
            if !self.outputs.contains_key(name) {
                out.push(OutputChange {
                    name,
                    action: Action::Delete,
                    before: Some(&o.value),
                    after: None,
                    sensitive: o.sensitive,
                });
            }
        }
        out.sort_by_key(|c| c.name);
        out
    }

    /// The state as it was before the plan's moves and forgets: what a
    /// saved plan is planned again from.
    pub fn unrefactored_prior(&self) -> State {
        refactor::undo(&self.prior, &self.moves, &self.forgets)
    }

    /// `(address, action)` pairs: what a saved plan promises to do.
    pub fn fingerprint(&self) -> Vec<(String, Action)> {
        let mut out: Vec<(String, Action)> = self
            .changes
            .iter()
            .map(|c| match &c.deposed {
                Some(key) => (format!("{} (deposed {key})", c.address), c.action),
                None => (c.address.to_string(), c.action),
            })
            .collect();
        for (from, to) in &self.moves {
            out.push((format!("{from} (moved to {to})"), Action::NoOp));
        }
        for (address, _) in &self.forgets {
            out.push((format!("{address} (forgotten)"), Action::NoOp));
        }
        out
    }
}

/// An output a plan adds (`Create`), changes (`Update`) or removes
/// (`Delete`).
#[derive(Clone, Debug)]
pub struct OutputChange<'a> {
    pub name: &'a str,
    pub action: Action,
    pub before: Option<&'a Value>,
    /// `Unknown` inside where only apply can tell.
    pub after: Option<&'a Value>,
    pub sensitive: bool,
}

impl OutputChange<'_> {
    /// `+`, `~` or `-`.
    pub fn sign(&self) -> &'static str {
        match self.action {
            Action::Create => "+",
            Action::Delete => "-",
            _ => "~",
        }
    }

    /// The value as a report shows it: the new one, or for a removed output
    /// the old one; secrets masked.
    pub fn shown(&self) -> String {
        if self.sensitive {
            return crate::secrets::SENSITIVE.to_string();
        }
        match (self.before, self.after) {
            (_, Some(after)) => render::scalar(after),
            (Some(before), None) => render::scalar(before),
            (None, None) => String::new(),
        }
    }
}

/// A resource named in `--target` or `--replace` that the spec or state does not have.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("--{flag} {address}: no resource with this address in the spec or the state")]
    UnknownAddress {
        flag: &'static str,
        address: Address,
    },
    #[error("`{subject}`: {message}")]
    Eval {
        subject: String,
        message: String,
        /// Where the value is written, for the diagnostic.
        span: std::ops::Range<usize>,
        spec: Source,
    },
    #[error("{} resources cannot be planned:\n{}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Several(Vec<PlanError>),
    /// The plan would destroy a resource the spec protects.
    #[error("{address} has lifecycle.prevent_destroy = true and cannot be destroyed")]
    PreventDestroy { address: Address },
    /// A `[[moved]]` entry away from an instance the spec still declares.
    #[error("cannot move {from}: the spec still declares it")]
    MoveFromDeclared { from: Address },
    /// A `[[moved]]` entry whose both ends are recorded.
    #[error("cannot move {from} to {to}: the state records both")]
    MoveOntoRecorded { from: Address, to: Address },
}

impl PlanError {
    /// An input of `block` that cannot be evaluated or is refused.
    pub fn input(spec: &Spec, block: &ResourceBlock, e: &InputError) -> Self {
        // A block of a component instance is written in the component's
        // file, with the instance's inputs.
        match &block.origin {
            Some(origin) => PlanError::Eval {
                subject: block.address.to_string(),
                message: format!("{e} (in {}, from its inputs)", origin.instance),
                span: block.value_span(e.attribute),
                spec: origin.source.clone(),
            },
            None => PlanError::Eval {
                subject: block.address.to_string(),
                message: e.to_string(),
                span: block.value_span(e.attribute),
                spec: spec.source.clone(),
            },
        }
    }

    /// The error as diagnostics that point into the spec, where it can.
    pub fn diagnostics(&self) -> Vec<Diag> {
        match self {
            PlanError::Eval { span, spec, .. } => vec![
                Diag::error(self.to_string())
                    .label(span.clone(), "this value")
                    .in_source(spec),
            ],
            PlanError::Several(all) => all.iter().flat_map(PlanError::diagnostics).collect(),
            PlanError::UnknownAddress { .. }
            | PlanError::PreventDestroy { .. }
            | PlanError::MoveFromDeclared { .. }
            | PlanError::MoveOntoRecorded { .. } => Vec::new(),
        }
    }

    /// What the user can do about it, where there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            PlanError::PreventDestroy { .. } => Some(
                "remove prevent_destroy from the spec first if you really mean to destroy it"
                    .into(),
            ),
            PlanError::MoveFromDeclared { from } => Some(format!(
                "remove the key of {from} from the block's `for_each`, or the [[moved]] entry"
            )),
            PlanError::MoveOntoRecorded { from, .. } => Some(format!(
                "the move was done already, or both objects exist: remove the [[moved]] entry, or `meshmon state rm {from}` if its object is the one to give up"
            )),
            _ => None,
        }
    }
}

/// Provider advice for one resource, when its provider can be consulted.
pub type Advisor<'a> = dyn Fn(&ResourceBlock, Option<&Current>, &Map) -> PlanAdvice + 'a;

/// Diffs the spec against the (refreshed) prior state.
pub fn compute(
    spec: &Spec,
    graph: &Graph,
    registry: &Registry,
    mut prior: State,
    drift: Vec<Drift>,
    options: PlanOptions,
    advise: &Advisor<'_>,
) -> Result<Plan, PlanError> {
    let (moves, forgets) = if options.refresh_only {
        (Vec::new(), Vec::new())
    } else {
        refactor::apply(spec, &mut prior)?
    };
    // `TYPE.NAME` of a keyed block names every instance of it.
    let mut options = options;
    for (flag, list) in [
        ("target", &mut options.targets),
        ("replace", &mut options.replace),
    ] {
        let mut instances = Vec::new();
        for a in list.iter() {
            let before = instances.len();
            instances.extend(
                spec.resources
                    .keys()
                    .chain(prior.resources.keys())
                    .filter(|r| a.selects(r))
                    .cloned(),
            );
            if instances.len() == before {
                return Err(PlanError::UnknownAddress {
                    flag,
                    address: a.clone(),
                });
            }
        }
        instances.sort();
        instances.dedup();
        *list = instances;
    }
    let mut changes = Vec::with_capacity(spec.resources.len());
    let mut failed = Vec::new();
    let mut unplanned: HashSet<Address> = HashSet::new();
    // Blocks that wait for keys known only after apply, and what needs
    // them, each with why.
    let mut deferred: BTreeMap<Address, String> = spec.deferred.clone();
    // Where references find each object planned so far (see `Planning`).
    let mut known: HashMap<Address, Seen> = HashMap::with_capacity(spec.resources.len());

    if options.destroy {
        let selected = destroy_selection(spec, &prior, &options.targets);
        for (addr, r) in &prior.resources {
            if selected.as_ref().is_some_and(|s| !s.contains(addr)) {
                continue;
            }
            changes.push(deletion(registry, addr, r));
        }
    } else if !options.refresh_only {
        let selected = apply_selection(graph, &options.targets);
        let order = petgraph::algo::toposort(&graph.graph, None)
            .expect("cycles are rejected when the spec loads");
        for idx in order.into_iter().rev() {
            let addr = &graph.graph[idx];
            let block = &spec.resources[addr];
            // A look-up read for this plan is known by what it found; one
            // that is not is read during apply.
            if prior.data.contains_key(addr) {
                known.insert(addr.clone(), Seen::Found);
                continue;
            }
            let existing = prior.resources.get(addr);
            if selected.as_ref().is_some_and(|s| !s.contains(addr)) {
                if existing.is_some() {
                    known.insert(addr.clone(), Seen::Recorded);
                }
                continue;
            }
            // What needs a keyed block whose keys are not known yet waits
            // for them: kept as it is, planned by the next apply.
            if let Some(reason) = deferral(spec, block, &deferred) {
                if existing.is_some() {
                    known.insert(addr.clone(), Seen::Recorded);
                }
                deferred.insert(addr.clone(), reason);
                continue;
            }
            // What depends on a resource that could not be planned cannot
            // be planned either; it is not reported again.
            if graph
                .dependencies(addr)
                .iter()
                .any(|d| unplanned.contains(d))
            {
                unplanned.insert(addr.clone());
                continue;
            }
            let planning = Planning {
                prior: &prior,
                changes: &changes,
                at: &known,
            };
            let change = match plan_resource(
                spec, registry, block, existing, graph, &planning, &options, advise,
            ) {
                Ok(change) => change,
                Err(e) => {
                    unplanned.insert(addr.clone());
                    failed.push(e);
                    continue;
                }
            };
            known.insert(addr.clone(), Seen::Change(changes.len()));
            changes.push(change);
        }
        for (addr, r) in &prior.resources {
            // An instance of a block whose keys are not known yet may be
            // one of them still.
            if !spec.resources.contains_key(addr)
                && !deferred.contains_key(&addr.config())
                && selected.as_ref().is_none_or(|s| s.contains(addr))
            {
                changes.push(deletion(registry, addr, r));
            }
        }
        // Every resource that cannot be planned is reported, not just the
        // first.
        if failed.len() == 1 {
            return Err(failed.remove(0));
        }
        if !failed.is_empty() {
            return Err(PlanError::Several(failed));
        }
    }
    if !options.refresh_only {
        // Deposed objects are always finished off: they were on their way
        // out when the apply that deposed them stopped.
        let selected = destroy_selection(spec, &prior, &options.targets);
        for (key, d) in &prior.deposed {
            if selected.as_ref().is_none_or(|s| s.contains(&d.address)) {
                let mut c = deletion(registry, &d.address, &d.resource);
                c.deposed = Some(key.clone());
                changes.push(c);
            }
        }
    }
    // Outputs over what was planned, before sorting moves the changes.
    let outputs = if options.destroy {
        BTreeMap::new()
    } else {
        let planning = Planning {
            prior: &prior,
            changes: &changes,
            at: &known,
        };
        crate::eval::outputs(spec, &planning)
    };
    changes.sort_by(|a, b| a.address.cmp(&b.address).then(a.deposed.cmp(&b.deposed)));
    // The one place `prevent_destroy` is checked: every plan, saved or
    // not, destroy or replace, is computed here.
    if let Some(c) = changes.iter().find(|c| {
        matches!(c.action, Action::Delete | Action::Replace)
            && c.deposed.is_none()
            && spec
                .resources
                .get(&c.address)
                .is_some_and(|b| b.lifecycle.prevent_destroy)
    }) {
        return Err(PlanError::PreventDestroy {
            address: c.address.clone(),
        });
    }

    Ok(Plan {
        deferred: if options.destroy {
            BTreeMap::new()
        } else {
            deferred
        },
        changes,
        drift,
        prior,
        options,
        outputs,
        preflight: Vec::new(),
        moves,
        forgets,
        throttling: Vec::new(),
        lookups: Vec::new(),
    })
}

/// `--target` for apply: the targets and everything they need.
fn apply_selection(graph: &Graph, targets: &[Address]) -> Option<HashSet<Address>> {
    if targets.is_empty() {
        return None;
    }
    let mut out = HashSet::new();
    let mut stack: Vec<Address> = targets.to_vec();
    while let Some(a) = stack.pop() {
        if out.insert(a.clone()) {
            stack.extend(graph.dependencies(&a));
        }
    }
    Some(out)
}

/// `--target` for destroy: the targets and everything that needs them.
fn destroy_selection(spec: &Spec, prior: &State, targets: &[Address]) -> Option<HashSet<Address>> {
    if targets.is_empty() {
        return None;
    }
    let mut dependents: HashMap<Address, Vec<Address>> = HashMap::new();
    for (addr, r) in &prior.resources {
        let mut deps: BTreeSet<Address> = r.dependencies.iter().cloned().collect();
        if let Some(b) = spec.resources.get(addr) {
            deps.extend(b.dependencies(spec));
        }
        for d in deps {
            dependents.entry(d).or_default().push(addr.clone());
        }
    }
    let mut out = HashSet::new();
    let mut stack: Vec<Address> = targets.to_vec();
    while let Some(a) = stack.pop() {
        if out.insert(a.clone())
            && let Some(ds) = dependents.get(&a)
        {
            stack.extend(ds.iter().cloned());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
