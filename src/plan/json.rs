//! Machine-readable plans and drift reports (`plan --json`, `drift --format
//! json|markdown`). The shapes are a public contract: fields are added,
//! never renamed. Secrets are `"(sensitive)"` here too.

use std::collections::BTreeSet;
use std::fmt::Write;

use meshmon_provider_sdk::{Map, Value};
use serde_json::json;

use super::Plan;
use super::render::scalar;
use crate::drift::{Drift, DriftKind};
use crate::registry::Registry;
use crate::secrets::SENSITIVE;

fn masked(
    attrs: Option<&Map>,
    sensitive: &BTreeSet<String>,
    registry: &Registry,
    address: &crate::addr::Address,
) -> serde_json::Value {
    let Some(attrs) = attrs else {
        return serde_json::Value::Null;
    };
    let schema = registry.schema_at(address);
    let mut out = serde_json::Map::new();
    for (k, v) in attrs {
        let secret =
            sensitive.contains(k) || schema.and_then(|s| s.get(k)).is_some_and(|a| a.sensitive);
        let v = if secret && !v.is_null() && *v != Value::Unknown {
            serde_json::Value::String(SENSITIVE.into())
        } else {
            serde_json::Value::from(v.clone())
        };
        out.insert(k.clone(), v);
    }
    serde_json::Value::Object(out)
}

/// `{"format_version": 1, "changes": [...], "summary": {...}}`.
pub fn plan(plan: &Plan, registry: &Registry) -> serde_json::Value {
    let changes: Vec<serde_json::Value> = plan
        .changes
        .iter()
        .map(|c| {
            let mut entry = json!({
                "address": c.address,
                "type": c.type_name.as_str(),
                "action": c.action.as_str(),
                "before": masked(plan.before(c).as_deref(), &c.sensitive, registry, &c.address),
                "after": masked(c.after.as_ref(), &c.sensitive, registry, &c.address),
                "unknown": c.unknown_paths(),
                "replace_because": c.replace_because,
                "notes": c.notes,
            });
            if let Some(key) = &c.deposed {
                entry["deposed"] = json!(key);
            }
            entry
        })
        .collect();
    let (add, change, destroy) = plan.summary();
    let outputs: Vec<serde_json::Value> = plan
        .output_changes()
        .iter()
        .map(|o| {
            let shown = |v: Option<&Value>| match v {
                None => serde_json::Value::Null,
                Some(_) if o.sensitive => json!(SENSITIVE),
                Some(v) => serde_json::Value::from(v.clone()),
            };
            json!({
                "name": o.name,
                "action": o.action.as_str(),
                "before": shown(o.before),
                "after": shown(o.after),
                "unknown": o.after.is_some_and(Value::contains_unknown),
                "sensitive": o.sensitive,
            })
        })
        .collect();
    json!({
        "format_version": 1,
        "changes": changes,
        "output_changes": outputs,
        "drift": plan.drift.iter().map(drift_entry).collect::<Vec<_>>(),
        "lookup_changes": plan.lookups.iter().map(drift_entry).collect::<Vec<_>>(),
        "deferred": plan
            .deferred
            .iter()
            .map(|(address, reason)| json!({"address": address, "reason": reason}))
            .collect::<Vec<_>>(),
        "moves": plan
            .moves
            .iter()
            .map(|(from, to)| json!({"from": from, "to": to}))
            .collect::<Vec<_>>(),
        "forgets": plan
            .forgets
            .iter()
            .map(|(address, r)| json!({"address": address, "type": r.type_name}))
            .collect::<Vec<_>>(),
        "throttling": throttling(&plan.throttling),
        "summary": {
            "add": add,
            "change": change,
            "destroy": destroy,
            "move": plan.moves.len(),
            "forget": plan.forgets.len(),
        },
    })
}

fn drift_entry(d: &Drift) -> serde_json::Value {
    let attrs: Vec<serde_json::Value> = d
        .attributes
        .iter()
        .map(|a| {
            let secret = d.is_secret(&a.path);
            let show = |v: &Value| {
                if secret {
                    json!(SENSITIVE)
                } else {
                    serde_json::Value::from(v.clone())
                }
            };
            json!({"path": a.path, "recorded": show(&a.recorded), "actual": show(&a.actual)})
        })
        .collect();
    json!({"address": d.address, "kind": d.kind, "attributes": attrs})
}

/// `{"format_version": 1, "drift": [...]}`.
pub fn drift(drift: &[Drift], traffic: &[meshmon_provider_sdk::Traffic]) -> serde_json::Value {
    json!({
        "format_version": 1,
        "drift": drift.iter().map(drift_entry).collect::<Vec<_>>(),
        "throttling": throttling(traffic),
    })
}

/// The services that throttled calls: `[{"service", "calls", "throttled",
/// "concurrency"}]`.
pub fn throttling(traffic: &[meshmon_provider_sdk::Traffic]) -> serde_json::Value {
    traffic
        .iter()
        .map(|t| {
            json!({
                "service": t.service,
                "calls": t.calls,
                "throttled": t.throttled,
                "concurrency": t.concurrency,
            })
        })
        .collect()
}

fn md_cell(s: &str) -> String {
    let s = s.replace('|', "\\|").replace('\n', "<br>");
    if s.len() > 120 {
        format!("`{}…`", &s[..s.floor_char_boundary(117)])
    } else {
        format!("`{s}`")
    }
}

/// A Markdown report for a CI job summary.
pub fn drift_markdown(drift: &[Drift], env: &str) -> String {
    let mut out = String::new();
    if drift.is_empty() {
        let _ = writeln!(
            out,
            "## meshmon drift: `{env}`\n\n✅ No drift: every resource matches the state."
        );
        return out;
    }
    let _ = writeln!(
        out,
        "## meshmon drift: `{env}`\n\n⚠️ {} resource(s) drifted from the state.\n",
        drift.len()
    );
    out.push_str("| Resource | Drift | Attribute | Recorded | Actual |\n|---|---|---|---|---|\n");
    for d in drift {
        match d.kind {
            DriftKind::Deleted => {
                let _ = writeln!(out, "| `{}` | deleted | | | |", d.address);
            }
            DriftKind::Changed => {
                for a in &d.attributes {
                    let secret = d.is_secret(&a.path);
                    let (r, v) = if secret {
                        (SENSITIVE.to_string(), SENSITIVE.to_string())
                    } else {
                        (scalar(&a.recorded), scalar(&a.actual))
                    };
                    let _ = writeln!(
                        out,
                        "| `{}` | changed | `{}` | {} | {} |",
                        d.address,
                        a.path,
                        md_cell(&r),
                        md_cell(&v)
                    );
                }
            }
        }
    }
    out.push_str("\nRun `meshmon plan` to see how `meshmon apply` would repair it.\n");
    out
}
