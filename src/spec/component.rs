//! Component instances: each `[components.NAME]` call becomes its
//! component's blocks, once per key, under `component.NAME["key"].` —
//! every reference inside rewritten to the instance's addresses, every
//! `var.X` replaced by the instance's input (or the variable's default),
//! every provider by the instance the call gives, and every
//! `component.NAME.OUTPUT` by that output's expression. Components that use
//! components are instanced the same way, inside. After this, the spec
//! holds only blocks: nothing later knows components exist.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use meshmon_provider_sdk::{PathSegment, Value};

use super::{ComponentCall, Expr, Origin, RefExpr, ResourceBlock, Spec, keyed_name};
use crate::addr::{Address, Step};
use crate::diag::Source;

/// A component call that cannot be instanced, and where.
#[derive(Debug, Clone)]
pub struct InstanceError {
    pub message: String,
    pub span: Range<usize>,
    pub source: Source,
}

/// The most blocks components may make in one spec: a few components
/// nesting a few deep, each with a few keys, would otherwise multiply
/// into more than any machine holds.
const MAX_BLOCKS: usize = 250_000;

/// Each component instance's outputs, by component name and key.
type Outputs = BTreeMap<(String, Option<String>), BTreeMap<String, Expr>>;

/// Replaces the spec's component calls by their instances' blocks, and
/// references to their outputs by the outputs' expressions.
pub fn instantiate(spec: &mut Spec) -> Result<(), Vec<InstanceError>> {
    if spec.components.is_empty() {
        return Ok(());
    }
    let calls = std::mem::take(&mut spec.components);
    let top = Scope {
        steps: Vec::new(),
        inputs: BTreeMap::new(),
        defaults: BTreeMap::new(),
        providers: BTreeMap::new(),
    };
    let mut errors = Vec::new();
    let mut made = Made::default();
    let outputs = calls_of(&calls, &top, &spec.variables, &mut made, &mut errors);
    // The spec's own blocks, outputs and providers may use the outputs.
    let mut replace = |e: &Expr, span: Range<usize>| -> Expr {
        match e.replace_refs(&mut |r| output_ref(r, &outputs)) {
            Ok(e) => e,
            Err(message) => {
                errors.push(InstanceError {
                    message,
                    span,
                    source: spec.source.clone(),
                });
                e.clone()
            }
        }
    };
    for blocks in [&mut spec.resources, &mut spec.keyed] {
        for b in blocks.values_mut() {
            let spans: Vec<(String, Range<usize>)> = b
                .attrs
                .keys()
                .map(|k| (k.clone(), b.value_span(k)))
                .collect();
            for (k, span) in spans {
                let e = replace(&b.attrs[&k], span);
                b.attrs.insert(k, e);
            }
            if let Some(f) = &b.for_each {
                b.for_each = Some(Box::new(replace(f, b.value_span("for_each"))));
            }
        }
    }
    for o in spec.outputs.values_mut() {
        o.value = replace(&o.value, 0..0);
    }
    for p in spec
        .providers
        .values_mut()
        .chain(spec.keyed_providers.values_mut())
    {
        let span = p.span.clone();
        for e in p.config.values_mut() {
            *e = replace(e, span.clone());
        }
    }
    for (address, block) in made.resources {
        if spec.resources.insert(address.clone(), block).is_some() {
            unreachable!("instance addresses are unique: {address}");
        }
    }
    spec.keyed.extend(made.keyed);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Where expressions of a component instance are rewritten from: its
/// place, its inputs (in the namespace of what uses it), its variables'
/// defaults, and the provider instance each of its provider blocks is.
struct Scope {
    steps: Vec<Step>,
    inputs: BTreeMap<String, Expr>,
    defaults: BTreeMap<String, Value>,
    providers: BTreeMap<String, String>,
}

/// The blocks instancing made.
#[derive(Default)]
struct Made {
    resources: BTreeMap<Address, ResourceBlock>,
    keyed: BTreeMap<Address, ResourceBlock>,
}

/// Instances every call of one spec or component (whose scope is `outer`),
/// in an order where a call whose inputs use another's outputs comes after
/// it; returns every instance's outputs.
fn calls_of(
    calls: &BTreeMap<String, ComponentCall>,
    outer: &Scope,
    variables: &BTreeMap<String, super::Variable>,
    made: &mut Made,
    errors: &mut Vec<InstanceError>,
) -> Outputs {
    let mut outputs = Outputs::new();
    let mut pending: Vec<&ComponentCall> = calls.values().collect();
    while !pending.is_empty() {
        let done: BTreeSet<&str> = outputs.keys().map(|(c, _)| c.as_str()).collect();
        let (ready, waiting): (Vec<&ComponentCall>, Vec<&ComponentCall>) =
            pending.iter().partition(|c| {
                uses(c)
                    .iter()
                    .all(|u| done.contains(u.as_str()) || !calls.contains_key(u))
            });
        if ready.is_empty() {
            for c in waiting {
                errors.push(InstanceError {
                    message: format!(
                        "component `{}` takes inputs from components that take inputs from it",
                        c.name
                    ),
                    span: c.span.clone(),
                    source: c.source.clone(),
                });
            }
            break;
        }
        for call in ready {
            for (key, value) in keys(call, variables, errors) {
                if made.resources.len() + made.keyed.len() > MAX_BLOCKS {
                    errors.push(InstanceError {
                        message: format!(
                            "components make more than {MAX_BLOCKS} blocks here: fewer keys, or less nesting"
                        ),
                        span: call.span.clone(),
                        source: call.source.clone(),
                    });
                    return outputs;
                }
                let instance = instance_of(call, key.as_deref(), &value, outer, &outputs, errors);
                let Some(scope) = instance else {
                    continue;
                };
                let made_outputs = instance_blocks(call, &scope, made, errors);
                outputs.insert((call.name.clone(), key), made_outputs);
            }
        }
        pending = waiting;
    }
    outputs
}

/// The components whose outputs a call's inputs use.
fn uses(call: &ComponentCall) -> Vec<String> {
    let mut out = Vec::new();
    for e in call.inputs.values() {
        e.for_each_ref(&mut |r| {
            if let RefExpr::Output { component, .. } = r {
                out.push(component.clone());
            }
        });
    }
    out
}

/// The keys of a call (`None` for a call without `for_each`), with their
/// values.
fn keys(
    call: &ComponentCall,
    variables: &BTreeMap<String, super::Variable>,
    errors: &mut Vec<InstanceError>,
) -> Vec<(Option<String>, Value)> {
    let Some(for_each) = &call.for_each else {
        return vec![(None, Value::Null)];
    };
    let scope = crate::eval::Scope {
        vars: variables,
        resources: &crate::eval::Nothing,
    };
    let fail = |message: String| InstanceError {
        message: format!("component `{}`: {message}", call.name),
        span: call.span.clone(),
        source: call.source.clone(),
    };
    match super::expand::keys_of(&scope, for_each) {
        Ok(Some(pairs)) => pairs.into_iter().map(|(k, v)| (Some(k), v)).collect(),
        Ok(None) => {
            errors.push(fail("its keys are not known when the spec loads".into()));
            Vec::new()
        }
        Err(message) => {
            errors.push(fail(message));
            Vec::new()
        }
    }
}

/// The scope of one instance: its inputs rewritten from the scope of what
/// uses it, with its key's `each` put in.
fn instance_of(
    call: &ComponentCall,
    key: Option<&str>,
    value: &Value,
    outer: &Scope,
    siblings: &Outputs,
    errors: &mut Vec<InstanceError>,
) -> Option<Scope> {
    let mut steps = outer.steps.clone();
    steps.push(Step {
        name: call.name.clone(),
        key: key.map(str::to_string),
    });
    let mut inputs = BTreeMap::new();
    for (name, e) in &call.inputs {
        let rewritten = rewrite(e, outer, siblings).and_then(|e| match key {
            Some(k) => super::expand::each(&e, k, value),
            None => Ok(e),
        });
        match rewritten {
            Ok(e) => {
                inputs.insert(name.clone(), e);
            }
            Err(message) => errors.push(InstanceError {
                message: format!("input `{name}` of {}: {message}", path_of(&steps)),
                span: call
                    .input_spans
                    .get(name)
                    .cloned()
                    .unwrap_or(call.span.clone()),
                source: call.source.clone(),
            }),
        }
    }
    // A provider block the call does not map is the same one the user of
    // the component has.
    let mut providers = outer.providers.clone();
    for (block, instance) in &call.providers {
        let instance = match (instance.strip_suffix("[each.key]"), key) {
            (Some(base), Some(k)) => keyed_name(base, k),
            _ => instance.clone(),
        };
        let resolved = outer.providers.get(&instance).cloned().unwrap_or(instance);
        providers.insert(block.clone(), resolved);
    }
    Some(Scope {
        steps,
        inputs,
        defaults: call
            .def
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect(),
        providers,
    })
}

/// Puts one instance's blocks (and those of the components it uses) into
/// `made`; returns its outputs.
fn instance_blocks(
    call: &ComponentCall,
    scope: &Scope,
    made: &mut Made,
    errors: &mut Vec<InstanceError>,
) -> BTreeMap<String, Expr> {
    let def = &call.def;
    let nested = calls_of(&def.components, scope, &def.variables, made, errors);
    let origin = Origin {
        source: def.source.clone(),
        instance: path_of(&scope.steps),
    };
    let mut fail = |message: String, span: Range<usize>| {
        errors.push(InstanceError {
            message: format!("in {}: {message}", origin.instance),
            span,
            source: def.source.clone(),
        });
    };
    for (blocks, keyed) in [(&def.resources, false), (&def.keyed, true)] {
        for block in blocks.values() {
            let mut b = block.clone();
            b.address = block.address.within(&scope.steps);
            b.origin = Some(origin.clone());
            for (k, e) in &block.attrs {
                match rewrite(e, scope, &nested) {
                    Ok(e) => {
                        b.attrs.insert(k.clone(), e);
                    }
                    Err(m) => fail(format!("`{k}` of {}: {m}", b.address), block.value_span(k)),
                }
            }
            if let Some(f) = &block.for_each {
                match rewrite(f, scope, &nested) {
                    Ok(e) => b.for_each = Some(Box::new(e)),
                    Err(m) => fail(
                        format!("`for_each` of {}: {m}", b.address),
                        block.value_span("for_each"),
                    ),
                }
            }
            b.depends_on = block
                .depends_on
                .iter()
                .map(|d| d.within(&scope.steps))
                .collect();
            let base = block.config_block.split('[').next().unwrap_or_default();
            if let Some(instance) = scope.providers.get(base) {
                b.config_block = instance.clone();
                b.provider_each = false;
            }
            match keyed {
                true => made.keyed.insert(b.address.clone(), b),
                false => made.resources.insert(b.address.clone(), b),
            };
        }
    }
    let mut outputs = BTreeMap::new();
    for (name, o) in &def.outputs {
        match rewrite(&o.value, scope, &nested) {
            Ok(e) => {
                outputs.insert(name.clone(), e);
            }
            Err(m) => fail(format!("output `{name}`: {m}"), 0..0),
        }
    }
    outputs
}

/// `e`, written inside a component, as seen from the spec: its references
/// to the component's own blocks under the instance's steps, its variables
/// replaced by the instance's inputs (or their defaults), and the outputs
/// of the components it uses by their expressions.
fn rewrite(e: &Expr, scope: &Scope, outputs: &Outputs) -> Result<Expr, String> {
    e.replace_refs(&mut |r| {
        Ok(match r {
            RefExpr::Var(name) if !scope.steps.is_empty() => Some(match scope.inputs.get(name) {
                Some(input) => input.clone(),
                None => Expr::Lit(scope.defaults.get(name).cloned().unwrap_or(Value::Null)),
            }),
            RefExpr::Attr {
                target,
                each_key,
                attr,
                path,
            } => Some(Expr::Ref(RefExpr::Attr {
                target: target.within(&scope.steps),
                each_key: *each_key,
                attr: attr.clone(),
                path: path.clone(),
            })),
            RefExpr::Output { .. } => output_ref(r, outputs)?,
            _ => None,
        })
    })
}

/// The expression a reference to a component's output stands for.
fn output_ref(r: &RefExpr, outputs: &Outputs) -> Result<Option<Expr>, String> {
    let RefExpr::Output {
        component,
        key,
        output,
        path,
    } = r
    else {
        return Ok(None);
    };
    let Some(instance) = outputs.get(&(component.clone(), key.clone())) else {
        let keys: Vec<String> = outputs
            .keys()
            .filter(|(c, _)| c == component)
            .filter_map(|(_, k)| k.as_ref().map(|k| format!("{k:?}")))
            .collect();
        return Err(format!(
            "component `{component}` has no instance {}; its keys: {}",
            key.as_deref()
                .map_or("without a key".to_string(), |k| format!("{k:?}")),
            if keys.is_empty() {
                "none".into()
            } else {
                keys.join(", ")
            }
        ));
    };
    let Some(e) = instance.get(output) else {
        return Err(format!("component `{component}` has no output `{output}`"));
    };
    if path.is_empty() {
        return Ok(Some(e.clone()));
    }
    // A path into the output: into the value it refers to, or the value.
    Ok(Some(match e {
        Expr::Ref(RefExpr::Attr {
            target,
            each_key,
            attr,
            path: inner,
        }) => Expr::Ref(RefExpr::Attr {
            target: target.clone(),
            each_key: *each_key,
            attr: attr.clone(),
            path: inner
                .iter()
                .chain(path)
                .cloned()
                .collect::<Vec<PathSegment>>(),
        }),
        Expr::Lit(v) => Expr::Lit(v.get_path(path).cloned().ok_or_else(|| {
            format!(
                "output `{output}` of component `{component}` has no {}",
                meshmon_provider_sdk::format_path("", path)
            )
        })?),
        _ => {
            return Err(format!(
                "output `{output}` of component `{component}` is built from several values: refer to it whole"
            ));
        }
    }))
}

/// `component.a["x"].component.b` for a list of steps.
fn path_of(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| match &s.key {
            Some(k) => format!("component.{}", keyed_name(&s.name, k)),
            None => format!("component.{}", s.name),
        })
        .collect::<Vec<_>>()
        .join(".")
}
