//! Expansion: every block with `for_each` becomes one instance per key,
//! `TYPE.NAME["key"]`, with `each.key`, `each.value` and `[each.key]`
//! replaced by that instance's. It runs when the spec loads, over the
//! variables (a `for_each` written out or from a variable is expanded
//! then), and again while planning, over what the state and the look-ups
//! know. A block whose keys are not known yet — its `for_each` refers to
//! something known only after apply — stays unexpanded and is deferred,
//! with the reason; what depends on it is deferred with it.

use std::collections::BTreeSet;
use std::ops::Range;

use meshmon_provider_sdk::{SortedMap, Value};

use super::{Expr, RefExpr, ResourceBlock, Spec};
use crate::addr::Address;
use crate::eval::{Resolve, Scope};

/// A `for_each` or `each` that cannot be expanded, and where it is written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{subject}`: {message}")]
pub struct ExpandError {
    /// The address, or the provider instance, it is about.
    pub subject: String,
    pub message: String,
    pub span: Range<usize>,
    /// The file the span is in, when not the spec's (a component's).
    pub file: Option<crate::diag::Source>,
}

/// Puts into `spec.resources` the instances of every keyed block whose
/// keys `known` (and the variables) tell, in place of those it held; the
/// others go into `spec.deferred`, with why.
pub fn expand(spec: &mut Spec, known: &dyn Resolve) -> Result<(), Vec<ExpandError>> {
    if spec.keyed.is_empty() && spec.keyed_providers.is_empty() {
        return Ok(());
    }
    let mut errors = expand_providers(spec, known);
    let keyed = &spec.keyed;
    spec.resources
        .retain(|a, _| !keyed.contains_key(&a.config()));
    spec.deferred.clear();
    let scope = Scope {
        vars: &spec.variables,
        resources: known,
    };
    let mut instances = Vec::new();
    for (address, block) in &spec.keyed {
        let for_each = block.for_each.as_ref().expect("keyed blocks have for_each");
        let span = block.value_span("for_each");
        let fail = |message: String| ExpandError {
            subject: address.to_string(),
            message,
            span: span.clone(),
            file: block.origin.as_ref().map(|o| o.source.clone()),
        };
        let pairs = match keys_of(&scope, for_each) {
            Ok(Some(pairs)) => pairs,
            Ok(None) => {
                spec.deferred
                    .insert(address.clone(), unknown_because(for_each, known));
                continue;
            }
            Err(message) => {
                errors.push(fail(message));
                continue;
            }
        };
        for (key, value) in pairs {
            match instance(block, &key, &value) {
                Ok(i) => instances.push(i),
                Err(message) => errors.push(ExpandError {
                    subject: address.with_key(key).to_string(),
                    message,
                    span: block.span.clone(),
                    file: block.origin.as_ref().map(|o| o.source.clone()),
                }),
            }
        }
    }
    for i in instances {
        spec.resources.insert(i.address.clone(), i);
    }
    errors.extend(missing_instances(spec));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Puts into `spec.providers` the instances of every keyed provider block
/// whose keys are known, in place of those it held; the others go into
/// `spec.deferred_providers`. Returns what cannot be expanded.
fn expand_providers(spec: &mut Spec, known: &dyn Resolve) -> Vec<ExpandError> {
    let mut errors = Vec::new();
    if spec.keyed_providers.is_empty() {
        return errors;
    }
    let keyed = &spec.keyed_providers;
    spec.providers
        .retain(|name, _| !keyed.contains_key(name.split('[').next().unwrap_or(name)));
    spec.deferred_providers.clear();
    let scope = Scope {
        vars: &spec.variables,
        resources: known,
    };
    let mut instances = Vec::new();
    for (name, block) in &spec.keyed_providers {
        let for_each = block.for_each.as_ref().expect("keyed blocks have for_each");
        let fail = |message: String| ExpandError {
            subject: format!("providers.{name}"),
            message,
            span: block.span.clone(),
            file: None,
        };
        let pairs = match keys_of(&scope, for_each) {
            Ok(Some(pairs)) => pairs,
            Ok(None) => {
                spec.deferred_providers
                    .insert(name.clone(), unknown_because(for_each, known));
                continue;
            }
            Err(message) => {
                errors.push(fail(message));
                continue;
            }
        };
        for (key, value) in pairs {
            let mut config = SortedMap::new();
            for (k, e) in &block.config {
                match each(e, &key, &value) {
                    Ok(e) => {
                        config.insert(k.clone(), e);
                    }
                    Err(message) => errors.push(fail(message)),
                }
            }
            instances.push(super::ProviderBlock {
                name: super::keyed_name(name, &key),
                config,
                for_each: None,
                span: block.span.clone(),
            });
        }
    }
    for i in instances {
        spec.providers.insert(i.name.clone(), i);
    }
    errors
}

/// The keys and values a `for_each` gives over `scope`; `None` when they
/// are known only after apply.
pub(super) fn keys_of(
    scope: &Scope,
    for_each: &Expr,
) -> Result<Option<Vec<(String, Value)>>, String> {
    let (value, _) = scope
        .eval(for_each)
        .map_err(|e| format!("`for_each`: {e}"))?;
    if value.contains_unknown() {
        return Ok(None);
    }
    keys(&value).map(Some)
}

/// The keys and values a `for_each` value gives: a set of strings (each
/// its own value) or a table.
fn keys(value: &Value) -> Result<Vec<(String, Value)>, String> {
    match value {
        Value::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut seen = BTreeSet::new();
            for item in items {
                let Value::String(k) = item else {
                    return Err(format!(
                        "`for_each` is a list holding {} {}: a list gives the keys, which are strings; key other values with a table",
                        super::article(item.type_name()),
                        item.type_name()
                    ));
                };
                // A set: the same key twice is one instance.
                if seen.insert(k.clone()) {
                    out.push((k.clone(), item.clone()));
                }
            }
            Ok(out)
        }
        Value::Map(m) => Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        other => Err(format!(
            "`for_each` must be a list of strings or a table, but it is {} {}",
            super::article(other.type_name()),
            other.type_name()
        )),
    }
}

/// Why a `for_each` is not known: the first thing it refers to that is
/// not known yet.
fn unknown_because(for_each: &Expr, known: &dyn Resolve) -> String {
    let mut because = None;
    for_each.for_each_ref(&mut |r| {
        if let (None, Some(a)) = (&because, r.address())
            && !known.knows(&a)
        {
            because = Some(format!(
                "its `for_each` refers to {a}, which is known only after apply"
            ));
        }
    });
    because.unwrap_or_else(|| "its `for_each` is known only after apply".into())
}

/// One instance of a keyed block.
fn instance(block: &ResourceBlock, key: &str, value: &Value) -> Result<ResourceBlock, String> {
    let mut i = block.clone();
    i.for_each = None;
    if i.provider_each {
        i.config_block = super::keyed_name(&block.config_block, key);
        i.provider_each = false;
    }
    i.address = block.address.with_key(key);
    i.each = Some(Box::new((key.to_string(), value.clone())));
    for e in i.attrs.values_mut() {
        *e = each(e, key, value)?;
    }
    Ok(i)
}

/// `e` with `each.key`, `each.value` and `[each.key]` replaced.
pub(super) fn each(e: &Expr, key: &str, value: &Value) -> Result<Expr, String> {
    e.replace_refs(&mut |r| {
        Ok(match r {
            RefExpr::EachKey => Some(Expr::Lit(Value::String(key.to_string()))),
            RefExpr::EachValue(path) => Some(Expr::Lit(value.get_path(path).cloned().ok_or_else(
                || {
                    format!(
                        "`{}` does not exist for key {key:?}",
                        meshmon_provider_sdk::format_path("each.value", path)
                    )
                },
            )?)),
            RefExpr::Attr {
                target,
                each_key: true,
                attr,
                path,
            } => Some(Expr::Ref(RefExpr::Attr {
                target: target.with_key(key),
                each_key: false,
                attr: attr.clone(),
                path: path.clone(),
            })),
            _ => None,
        })
    })
}

/// References to an instance a keyed block with known keys does not have.
fn missing_instances(spec: &Spec) -> Vec<ExpandError> {
    let mut out = Vec::new();
    let mut check =
        |from: &Address, e: &Expr, span: Range<usize>, source: Option<crate::diag::Source>| {
            e.for_each_ref(&mut |r| {
                let RefExpr::Attr { target, .. } = r else {
                    return;
                };
                let config = target.config();
                if target.key().is_none()
                    || !spec.keyed.contains_key(&config)
                    || spec.deferred.contains_key(&config)
                    || spec.resources.contains_key(target)
                {
                    return;
                }
                let have: Vec<String> = spec
                    .resources
                    .keys()
                    .filter(|a| a.config() == config)
                    .filter_map(|a| a.key().map(|k| format!("{k:?}")))
                    .collect();
                out.push(ExpandError {
                    subject: from.to_string(),
                    file: source.clone(),
                    message: format!(
                        "refers to {target}, but `{config}` has no instance {:?}; its keys are: {}",
                        target.key().unwrap_or_default(),
                        if have.is_empty() {
                            "none".to_string()
                        } else {
                            have.join(", ")
                        }
                    ),
                    span: span.clone(),
                });
            });
        };
    for (address, block) in &spec.resources {
        for (name, e) in &block.attrs {
            check(
                address,
                e,
                block.value_span(name),
                block.origin.as_ref().map(|o| o.source.clone()),
            );
        }
    }
    for (address, block) in &spec.resources {
        let instance = &block.config_block;
        let Some((base, _)) = instance.split_once('[') else {
            continue;
        };
        if spec.providers.contains_key(instance) || spec.deferred_providers.contains_key(base) {
            continue;
        }
        let have: Vec<&str> = spec
            .providers
            .keys()
            .filter_map(|n| n.strip_prefix(base).filter(|k| k.starts_with('[')))
            .collect();
        out.push(ExpandError {
            subject: address.to_string(),
            file: block.origin.as_ref().map(|o| o.source.clone()),
            message: format!(
                "its provider is {instance}, but `{base}` has no such instance; its instances are: {}",
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            ),
            span: block.value_span("provider"),
        });
    }
    out
}
