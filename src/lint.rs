//! Warnings about components past their end of life, found in a spec
//! without contacting anything. What is past its end and when is each
//! provider's knowledge (`Provider::lint`): the AWS provider knows EKS
//! versions, the Kubernetes provider App Mesh, the Grafana Agent and
//! Kubernetes API versions. Here the spec's resources are handed to them,
//! what one resource tells about another is shared first (`Provider::facts`:
//! the cluster's version, for the manifests that run on it), and each
//! finding becomes a warning pointing at the text it is about. They are
//! warnings, not errors — a spec that uses them still plans and applies —
//! and `validate --deny-warnings` makes them fail CI.

use meshmon_provider_sdk::{Facts, Map, Written};

use crate::diag::{Diag, Diagnostics};
use crate::registry::Registry;
use crate::spec::{Expr, ResourceBlock, Spec};

/// Today's date as `YYYY-MM-DD`.
pub fn today() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_string()
}

/// The attributes of a block written as literals: what can be judged
/// without evaluating anything.
fn written(r: &ResourceBlock) -> Map {
    r.attrs
        .iter()
        .filter_map(|(k, e)| match e {
            Expr::Lit(v) => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

/// Every provider warning for a spec, as of `today` (`YYYY-MM-DD`).
pub fn lint(spec: &Spec, registry: &Registry, today: &str) -> Diagnostics {
    // Look-ups only read what exists: nothing about them is the spec's to fix.
    let blocks: Vec<(&ResourceBlock, Map)> = spec
        .resources
        .values()
        .filter(|r| !r.address.is_data())
        .map(|r| (r, written(r)))
        .collect();
    let mut facts = Facts::default();
    for (r, inputs) in &blocks {
        if let Some(p) = registry.provider(&r.provider) {
            let w = Written {
                type_name: &r.type_name,
                inputs,
            };
            for (name, value) in p.facts(&w) {
                facts.add(name, value);
            }
        }
    }
    let mut out = Diagnostics::default();
    for (r, inputs) in &blocks {
        let Some(p) = registry.provider(&r.provider) else {
            continue;
        };
        let w = Written {
            type_name: &r.type_name,
            inputs,
        };
        for f in p.lint(&w, today, &facts) {
            let value = r.value_span(f.attribute);
            let span = f
                .needle
                .as_deref()
                .and_then(|n| {
                    let off = spec.text.get(value.clone())?.find(n)?;
                    Some(value.start + off..value.start + off + n.len())
                })
                .unwrap_or(value);
            out.push(
                Diag::warning(f.message)
                    .label(span, format!("{} of `{}`", f.label, r.address))
                    .help(f.help)
                    .in_source(&spec.source)
                    .about(f.code, &r.address),
            );
        }
    }
    out
}
