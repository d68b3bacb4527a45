//! Evaluates spec expressions against what is known about other resources:
//! during plan, their planned values (with `Unknown` for what only apply can
//! tell); during apply, their real values. Sensitivity travels with values: an
//! attribute built from a secret is itself secret.

use std::collections::{BTreeSet, HashMap};

use meshmon_provider_sdk::{AttrPath, Map, Schema, SortedMap, Value};

use crate::addr::Address;
use crate::spec::{Expr, Part, RefExpr, Variable};

/// What references can see of one resource.
#[derive(Clone, Debug, Default)]
pub struct Known {
    /// Inputs and outputs merged, outputs winning.
    pub attrs: Map,
    /// Top-level attribute names whose values are secret.
    pub sensitive: BTreeSet<String>,
}

impl Known {
    /// What references see of a recorded resource.
    pub fn from_state(r: &crate::state::ResourceState) -> Known {
        Known {
            attrs: r.attributes(),
            sensitive: r.sensitive_attributes.iter().cloned().collect(),
        }
    }

    /// What the state knows of every resource, and what every look-up
    /// found when last read. An address whose object is
    /// deposed and not yet replaced (its delete was in flight when an apply
    /// stopped) is known by the deposed object: providers configured from
    /// it (a Kubernetes provider from its cluster) can still reach what
    /// must be deleted through it.
    pub fn all(state: &crate::state::State) -> HashMap<Address, Known> {
        let mut known: HashMap<Address, Known> = state
            .resources
            .iter()
            .chain(&state.data)
            .map(|(a, r)| (a.clone(), Known::from_state(r)))
            .collect();
        for d in state.deposed.values() {
            known
                .entry(d.address.clone())
                .or_insert_with(|| Known::from_state(&d.resource));
        }
        known
    }
}

/// Where references find what is known of the objects they name: a map of
/// [`Known`] values (what a plan or a walk computed), or a state read as it
/// is, without copying what it records.
pub trait Resolve: Sync {
    /// The top-level attribute `attr` of the object at `address` (`None`
    /// inside when the object has no such attribute) and whether it is
    /// secret; `None` when nothing is known of the object.
    fn attribute(&self, address: &Address, attr: &str) -> Option<(Option<&Value>, bool)>;

    /// Whether anything is known of the object at `address`.
    fn knows(&self, address: &Address) -> bool;
}

impl Resolve for HashMap<Address, Known> {
    fn attribute(&self, address: &Address, attr: &str) -> Option<(Option<&Value>, bool)> {
        self.get(address)
            .map(|k| (k.attrs.get(attr), k.sensitive.contains(attr)))
    }

    fn knows(&self, address: &Address) -> bool {
        self.contains_key(address)
    }
}

/// Nothing known of any object: what a spec's own values are evaluated
/// against while it loads.
pub struct Nothing;

impl Resolve for Nothing {
    fn attribute(&self, _: &Address, _: &str) -> Option<(Option<&Value>, bool)> {
        None
    }

    fn knows(&self, _: &Address) -> bool {
        false
    }
}

/// A state is known as [`Known::all`] describes it: every resource, what
/// every look-up found, and a deposed object where nothing replaced it yet.
impl Resolve for crate::state::State {
    fn attribute(&self, address: &Address, attr: &str) -> Option<(Option<&Value>, bool)> {
        let r = self
            .resources
            .get(address)
            .or_else(|| self.data.get(address))
            .or_else(|| {
                self.deposed
                    .values()
                    .find(|d| &d.address == address)
                    .map(|d| &d.resource)
            })?;
        Some(recorded_attribute(r, attr))
    }

    fn knows(&self, address: &Address) -> bool {
        self.resources.contains_key(address)
            || self.data.contains_key(address)
            || self.deposed.values().any(|d| &d.address == address)
    }
}

/// What references see of a record's attribute `attr`, as [`Known`] would
/// hold it: inputs and outputs merged, outputs winning.
pub fn recorded_attribute<'a>(
    r: &'a crate::state::ResourceState,
    attr: &str,
) -> (Option<&'a Value>, bool) {
    let value = r.outputs.get(attr).or_else(|| r.inputs.get(attr));
    (value, r.sensitive_attributes.iter().any(|s| s == attr))
}

pub struct Scope<'a> {
    pub vars: &'a std::collections::BTreeMap<String, Variable>,
    pub resources: &'a dyn Resolve,
}

/// A value that cannot be used where it is referenced.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// A resource input that cannot be evaluated or is refused, and which
/// attribute it is, so that the error can point at the value in the spec.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct InputError {
    pub attribute: &'static str,
    pub error: EvalError,
}

impl Scope<'_> {
    /// Evaluates an expression; the flag says whether a secret went into it.
    pub fn eval(&self, e: &Expr) -> Result<(Value, bool), EvalError> {
        match e {
            Expr::Lit(v) => Ok((v.clone(), false)),
            Expr::Ref(r) => self.reference(r),
            Expr::Template(parts) => {
                let mut out = String::new();
                let mut sensitive = false;
                let mut unknown = false;
                for p in parts {
                    match p {
                        Part::Lit(l) => out.push_str(l),
                        Part::Ref(r, _) => {
                            let (v, s) = self.reference(r)?;
                            sensitive |= s;
                            if v.contains_unknown() {
                                unknown = true;
                                continue;
                            }
                            match v.to_interpolated() {
                                Some(text) => out.push_str(&text),
                                None if v.is_null() => {}
                                None => {
                                    return Err(EvalError(format!(
                                        "{} is a {} and cannot be interpolated into a string",
                                        describe(r),
                                        v.type_name()
                                    )));
                                }
                            }
                        }
                    }
                }
                Ok((
                    if unknown {
                        Value::Unknown
                    } else {
                        Value::String(out)
                    },
                    sensitive,
                ))
            }
            Expr::List(items) => {
                let mut sensitive = false;
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    let (v, s) = self.eval(i)?;
                    sensitive |= s;
                    out.push(v);
                }
                Ok((Value::List(out), sensitive))
            }
            Expr::Map(m) => {
                let mut sensitive = false;
                let mut out = Map::new();
                for (k, e) in m {
                    let (v, s) = self.eval(e)?;
                    sensitive |= s;
                    out.insert(k.clone(), v);
                }
                Ok((Value::Map(out), sensitive))
            }
        }
    }

    fn reference(&self, r: &RefExpr) -> Result<(Value, bool), EvalError> {
        match r {
            RefExpr::Var(name) => {
                let v = self
                    .vars
                    .get(name)
                    .ok_or_else(|| EvalError(format!("variable `{name}` is not declared")))?;
                Ok((v.value.clone(), v.sensitive))
            }
            RefExpr::File(contents) => Ok((Value::String(contents.clone()), false)),
            // Replaced by each instance's key and value when the block is
            // expanded; a block whose keys are not known yet is unknown.
            RefExpr::EachKey
            | RefExpr::EachValue(_)
            | RefExpr::Output { .. }
            | RefExpr::Attr { each_key: true, .. } => Ok((Value::Unknown, false)),
            RefExpr::Attr {
                target: address,
                attr,
                path,
                ..
            } => {
                let Some((value, sensitive)) = self.resources.attribute(address, attr) else {
                    return Ok((Value::Unknown, false));
                };
                let root = value.cloned().unwrap_or(Value::Null);
                if path.is_empty() {
                    return Ok((root, sensitive));
                }
                match root.get_path(path) {
                    Some(v) => Ok((v.clone(), sensitive)),
                    None => Err(EvalError(format!(
                        "`{address}.{}` does not exist: `{address}.{attr}` is {}",
                        AttrPath::new(attr.as_str(), path.clone()),
                        if sensitive {
                            crate::secrets::SENSITIVE.to_string()
                        } else {
                            serde_json::to_string(&root).unwrap_or_default()
                        }
                    ))),
                }
            }
        }
    }

    /// Evaluates a block's attributes against its schema: defaults for what is
    /// left out, type checks for what only became known now. Returns the
    /// inputs and the names of secret attributes: those the schema marks,
    /// those built from a secret, and — once any input is built from a
    /// secret — every attribute the provider computes, since the provider
    /// does not know the secret and may echo or derive from it (a file's
    /// `id` is its path, its `sha256` a digest of its content).
    pub fn inputs(
        &self,
        schema: &Schema,
        attrs: &SortedMap<Expr>,
    ) -> Result<(Map, BTreeSet<String>), InputError> {
        let mut out = Map::new();
        let mut sensitive: BTreeSet<String> = schema.names(|a| a.sensitive).collect();
        let mut tainted = false;
        for a in schema.settable() {
            match attrs.get(a.name) {
                Some(e) => {
                    let refused = |error| InputError {
                        attribute: a.name,
                        error,
                    };
                    let (v, s) = self
                        .eval(e)
                        .map_err(|e| refused(EvalError(format!("`{}`: {}", a.name, e.0))))?;
                    if !a.ty.accepts(&v) {
                        return Err(refused(EvalError(format!(
                            "`{}` must be {}, but its value is {}",
                            a.name,
                            a.ty.describe(),
                            if s || a.sensitive {
                                crate::secrets::SENSITIVE.into()
                            } else {
                                serde_json::to_string(&v).unwrap_or_default()
                            }
                        ))));
                    }
                    if let Err(msg) = a.validate(&v) {
                        return Err(refused(EvalError(format!("`{}` {msg}", a.name))));
                    }
                    if s {
                        sensitive.insert(a.name.to_string());
                        tainted = true;
                    }
                    if !v.is_null() {
                        out.insert(a.name.to_string(), v);
                    } else if let Some(d) = &a.default {
                        out.insert(a.name.to_string(), d.clone());
                    }
                }
                None => {
                    if let Some(d) = &a.default {
                        out.insert(a.name.to_string(), d.clone());
                    }
                }
            }
        }
        schema
            .check_inputs(&out)
            .map_err(|(attribute, msg)| InputError {
                attribute,
                error: EvalError(format!("`{attribute}` {msg}")),
            })?;
        if tainted {
            sensitive.extend(schema.names(|a| a.computed));
        }
        Ok((out, sensitive))
    }
}

fn describe(r: &RefExpr) -> String {
    crate::spec::ref_text(r)
}

/// Every output of the spec evaluated over what is known, each with whether
/// a secret went into it: the one place outputs are computed, for plans,
/// no-op applies and the end of a walk. A value that cannot be evaluated
/// yet is `Unknown`.
pub fn outputs(
    spec: &crate::spec::Spec,
    known: &dyn Resolve,
) -> std::collections::BTreeMap<String, (Value, bool)> {
    let scope = Scope {
        vars: &spec.variables,
        resources: known,
    };
    spec.outputs
        .iter()
        .map(|(name, o)| {
            let (v, s) = scope.eval(&o.value).unwrap_or((Value::Unknown, false));
            (name.clone(), (v, s || o.sensitive))
        })
        .collect()
}

/// The outputs worth recording in the state: those fully known.
pub fn recorded_outputs(
    outputs: &std::collections::BTreeMap<String, (Value, bool)>,
) -> std::collections::BTreeMap<String, crate::state::OutputState> {
    outputs
        .iter()
        .filter(|(_, (v, _))| !v.contains_unknown())
        .map(|(k, (v, s))| {
            (
                k.clone(),
                crate::state::OutputState {
                    value: v.clone(),
                    sensitive: *s,
                },
            )
        })
        .collect()
}
