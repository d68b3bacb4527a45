//! The human-readable plan, in the shape Terraform users read every day:
//! one block per resource with per-attribute diffs, line diffs for multi-line
//! strings and documents, `(known after apply)` and `(sensitive)`. Secrets
//! never reach this text, whatever their nesting.

use std::borrow::Cow;
use std::fmt::Write;

use console::Style;
use meshmon_provider_sdk::{AttrType, Map, Schema, Value};

use super::compare;
use super::{Action, Change, Plan};
use crate::drift::{Drift, DriftKind};
use crate::registry::Registry;
use crate::secrets::SENSITIVE;

/// Colours, or none (`--no-color`, `NO_COLOR`, not a terminal).
#[derive(Clone)]
pub struct Palette {
    pub green: Style,
    pub yellow: Style,
    pub red: Style,
    pub bold: Style,
    pub dim: Style,
}

impl Palette {
    pub fn new(color: bool) -> Self {
        let s = |st: Style| st.force_styling(color);
        Palette {
            green: s(Style::new().green()),
            yellow: s(Style::new().yellow()),
            red: s(Style::new().red()),
            bold: s(Style::new().bold()),
            dim: s(Style::new().dim()),
        }
    }

    fn sign(&self, sign: &str) -> String {
        match sign {
            "+" => self.green.apply_to("+").to_string(),
            "-" => self.red.apply_to("-").to_string(),
            "~" => self.yellow.apply_to("~").to_string(),
            "-/+" => format!(
                "{}{}{}",
                self.red.apply_to("-"),
                "/",
                self.green.apply_to("+")
            ),
            "<=" => self.dim.apply_to("<=").to_string(),
            "+/-" => format!(
                "{}{}{}",
                self.green.apply_to("+"),
                "/",
                self.red.apply_to("-")
            ),
            other => other.to_string(),
        }
    }
}

const UNKNOWN: &str = "(known after apply)";

/// Renders the whole plan.
pub fn plan(plan: &Plan, registry: &Registry, p: &Palette) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        out.push_str(&drift_section(&plan.drift, p));
        out.push('\n');
    }
    if !plan.lookups.is_empty() {
        out.push_str(&lookups_section(&plan.lookups, p));
        out.push('\n');
    }
    if plan.options.refresh_only {
        if plan.drift.is_empty() {
            out.push_str("No changes. The state matches the real world.\n");
        } else {
            out.push_str(
                "This is a refresh-only plan: applying it updates the state to match the real world and changes nothing else.\n",
            );
        }
        return out;
    }
    let changes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    let outputs = plan.output_changes();
    let refactors = refactors(plan, p);
    if changes.is_empty() && refactors.is_empty() {
        if outputs.is_empty() {
            out.push_str(&format!(
                "{} Your infrastructure matches the spec.\n",
                p.bold.apply_to("No changes.")
            ));
            return out;
        }
        out.push_str(&format!(
            "{} Only outputs change: applying this plan records their new values in the state without changing any real infrastructure.\n",
            p.bold.apply_to("No changes to resources.")
        ));
    } else {
        out.push_str("meshmon will perform the following actions:\n\n");
        out.push_str(&refactors);
        for c in changes {
            let schema = registry.schema_at(&c.address);
            out.push_str(&resource(plan, c, schema, p));
            out.push('\n');
        }
        let _ = writeln!(out, "{} {}", p.bold.apply_to("Plan:"), summary_line(plan));
    }
    if !plan.deferred.is_empty() {
        out.push_str(&deferred_section(plan, p));
    }
    if !outputs.is_empty() {
        out.push_str("\nChanges to Outputs:\n");
        for o in outputs {
            let _ = writeln!(out, "  {} {} = {}", p.sign(o.sign()), o.name, o.shown());
        }
    }
    if let Some(line) = throttling_line(&plan.throttling) {
        let _ = writeln!(out, "\n{line}");
    }
    out
}

/// "1 to add, 0 to change, 0 to destroy.", with the moves and forgets
/// when there are any.
pub fn summary_line(plan: &Plan) -> String {
    let (add, change, destroy) = plan.summary();
    let mut line = format!("{add} to add, {change} to change, {destroy} to destroy");
    if !plan.moves.is_empty() {
        let _ = write!(line, ", {} to move", plan.moves.len());
    }
    if !plan.forgets.is_empty() {
        let _ = write!(line, ", {} to forget", plan.forgets.len());
    }
    line.push('.');
    line
}

/// "Throttled: iam us-east-1 12 of 40 calls (settled at 2 at once); …",
/// when any service throttled.
pub fn throttling_line(throttling: &[meshmon_provider_sdk::Traffic]) -> Option<String> {
    if throttling.is_empty() {
        return None;
    }
    let services: Vec<String> = throttling
        .iter()
        .map(|t| {
            format!(
                "{} {} of {} call(s) (settled at {} at once)",
                t.service, t.throttled, t.calls, t.concurrency
            )
        })
        .collect();
    Some(format!(
        "Throttled, waited and retried: {}.",
        services.join("; ")
    ))
}

/// The blocks this plan leaves for a later one, and why.
pub fn deferred_section(plan: &Plan, p: &Palette) -> String {
    let mut out = format!(
        "\n{}\n",
        p.bold
            .apply_to("Deferred: planned by the next apply, once their keys are known:")
    );
    for (address, reason) in &plan.deferred {
        let _ = writeln!(out, "  # {}: {reason}", p.bold.apply_to(address));
    }
    out
}

/// The lines for `[[moved]]` and `[[removed]]` entries that act.
fn refactors(plan: &Plan, p: &Palette) -> String {
    let mut out = String::new();
    for (from, to) in &plan.moves {
        let _ = writeln!(
            out,
            "  # {} has moved to {}\n",
            p.bold.apply_to(from),
            p.bold.apply_to(to)
        );
    }
    for (address, _) in &plan.forgets {
        let _ = writeln!(
            out,
            "  # {} will be forgotten, not destroyed: it leaves the state and stays where it is ([[removed]] with destroy = false)\n",
            p.bold.apply_to(address)
        );
    }
    out
}

/// "Objects have changed outside of meshmon", attribute by attribute.
pub fn drift_section(drift: &[Drift], p: &Palette) -> String {
    differences(
        "Objects have changed outside of meshmon:",
        "has changed",
        drift,
        p,
    )
}

/// What look-ups found that differs from what they found last time.
pub fn lookups_section(lookups: &[Drift], p: &Palette) -> String {
    differences(
        "Look-ups found something different since the last run:",
        "now finds",
        lookups,
        p,
    )
}

fn differences(title: &str, changed: &str, drift: &[Drift], p: &Palette) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", p.bold.apply_to(title));
    for d in drift {
        match d.kind {
            DriftKind::Deleted => {
                let _ = writeln!(out, "  # {} has been deleted", p.bold.apply_to(&d.address));
            }
            DriftKind::Changed => {
                let _ = writeln!(out, "  # {} {changed}", p.bold.apply_to(&d.address));
                for a in &d.attributes {
                    let (r, v) = if d.is_secret(&a.path) {
                        (SENSITIVE.to_string(), SENSITIVE.to_string())
                    } else {
                        (scalar(&a.recorded), scalar(&a.actual))
                    };
                    let _ = writeln!(out, "      {} {} = {r} -> {v}", p.sign("~"), a.path);
                }
            }
        }
    }
    out
}

fn header(c: &Change, p: &Palette) -> (String, &'static str) {
    let addr = p.bold.apply_to(&c.address);
    match c.action {
        Action::Create => (format!("  # {addr} will be created"), "+"),
        Action::Update => (format!("  # {addr} will be updated in-place"), "~"),
        Action::Delete => match &c.deposed {
            Some(key) => (
                format!(
                    "  # {addr} (deposed object {key}) will be destroyed: an earlier apply stopped before deleting it"
                ),
                "-",
            ),
            None => (format!("  # {addr} will be destroyed"), "-"),
        },
        Action::Replace if c.create_before_destroy => (
            format!("  # {addr} must be replaced (new one created first)"),
            "+/-",
        ),
        Action::Replace => (format!("  # {addr} must be replaced"), "-/+"),
        Action::Read => (format!("  # {addr} <= read (known after apply)"), "<="),
        Action::NoOp => (format!("  # {addr} is unchanged"), " "),
    }
}

/// One resource block.
pub fn resource(plan: &Plan, c: &Change, schema: Option<&Schema>, p: &Palette) -> String {
    let (head, sign) = header(c, p);
    let mut out = String::new();
    let _ = writeln!(out, "{head}");
    for note in &c.notes {
        let _ = writeln!(out, "  # {}", p.yellow.apply_to(format!("note: {note}")));
    }
    let (type_name, name) = (c.address.type_name(), c.address.name());
    let block = if c.address.is_data() {
        "data"
    } else {
        "resource"
    };
    let _ = writeln!(
        out,
        "{:>3} {block} \"{type_name}\" \"{name}\" {{",
        p.sign(sign)
    );
    let before = plan.before(c).map(Cow::into_owned).unwrap_or_default();
    let after = c.after.clone().unwrap_or_default();
    let mut keys: Vec<&String> = match c.action {
        Action::Delete => before.keys().collect(),
        _ => after.keys().chain(before.keys()).collect(),
    };
    keys.sort();
    keys.dedup();
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    let mut hidden = 0;
    for k in keys {
        let attr = schema.and_then(|s| s.get(k));
        let ty = attr.map(|a| a.ty.clone()).unwrap_or(AttrType::Any);
        let sensitive = c.sensitive.contains(k.as_str()) || attr.is_some_and(|a| a.sensitive);
        let forces = c.action == Action::Replace && c.replace_because.iter().any(|r| r == k);
        let b = before.get(k);
        let a = after.get(k);
        let line = match c.action {
            Action::Create | Action::Read => {
                a.map(|v| attr_line("+", k, width, None, Some(v), &ty, sensitive, false, p))
            }
            Action::Delete => {
                b.map(|v| attr_line("-", k, width, Some(v), None, &ty, sensitive, false, p))
            }
            _ => match (b, a) {
                (Some(x), Some(y)) if compare::equal(&ty, x, y) => {
                    if k == "id" || k == "name" || k == "arn" {
                        Some(attr_line(
                            " ",
                            k,
                            width,
                            Some(x),
                            Some(y),
                            &ty,
                            sensitive,
                            false,
                            p,
                        ))
                    } else {
                        hidden += 1;
                        None
                    }
                }
                (Some(x), Some(y)) => Some(attr_line(
                    "~",
                    k,
                    width,
                    Some(x),
                    Some(y),
                    &ty,
                    sensitive,
                    forces,
                    p,
                )),
                (None, Some(y)) => Some(attr_line(
                    "+",
                    k,
                    width,
                    None,
                    Some(y),
                    &ty,
                    sensitive,
                    forces,
                    p,
                )),
                (Some(x), None) => Some(attr_line(
                    "-",
                    k,
                    width,
                    Some(x),
                    None,
                    &ty,
                    sensitive,
                    forces,
                    p,
                )),
                (None, None) => None,
            },
        };
        if let Some(l) = line {
            out.push_str(&l);
        }
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "        {}",
            p.dim.apply_to(format!(
                "# ({hidden} unchanged attribute{} hidden)",
                if hidden == 1 { "" } else { "s" }
            ))
        );
    }
    out.push_str("    }\n");
    out
}

#[allow(clippy::too_many_arguments)]
fn attr_line(
    sign: &str,
    key: &str,
    width: usize,
    before: Option<&Value>,
    after: Option<&Value>,
    ty: &AttrType,
    sensitive: bool,
    forces: bool,
    p: &Palette,
) -> String {
    let pad = " ".repeat(width.saturating_sub(key.len()));
    let force = if forces {
        format!(" {}", p.red.apply_to("# forces replacement"))
    } else {
        String::new()
    };
    let lead = format!("      {} {key}{pad} = ", p.sign(sign));
    if sensitive {
        // A value nobody knows yet reveals nothing: say that it is unknown.
        let shown = |v: Option<&Value>| match v {
            Some(Value::Unknown) => UNKNOWN,
            _ => SENSITIVE,
        };
        let text = match (before, after) {
            (Some(_), Some(a)) if sign == "~" => format!("{SENSITIVE} -> {}", shown(Some(a))),
            (b, a) => shown(a.or(b)).to_string(),
        };
        return format!("{lead}{text}{force}\n");
    }
    match (sign, before, after) {
        ("~", Some(b), Some(a)) => {
            if let Some(lines) = line_diff(ty, b, a, p) {
                return format!("{lead}<<-EOT{force}\n{lines}            EOT\n");
            }
            if let (Value::Map(bm), Value::Map(am)) = (b, a)
                && !matches!(ty, AttrType::Json)
            {
                return format!("{lead}{{{force}\n{}        }}\n", map_diff(bm, am, 10, p));
            }
            format!("{lead}{} -> {}{force}\n", scalar(b), scalar(a))
        }
        (_, _, Some(v)) | (_, Some(v), None) => {
            let body = block(v, 8);
            format!("{lead}{body}{force}\n")
        }
        _ => String::new(),
    }
}

/// A changed multi-line string or document, line by line.
fn line_diff(ty: &AttrType, before: &Value, after: &Value, p: &Palette) -> Option<String> {
    let as_text = |v: &Value| -> Option<String> {
        match (ty, v) {
            (AttrType::Json, _) => serde_json::to_string_pretty(&compare::as_json(v)).ok(),
            (_, Value::String(s)) if s.contains('\n') => Some(s.clone()),
            _ => None,
        }
    };
    let (b, a) = (as_text(before)?, as_text(after)?);
    if matches!(after, Value::Unknown) {
        return None;
    }
    let diff = similar::TextDiff::from_lines(&b, &a);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let text = change.value().trim_end_matches('\n');
        let line = match change.tag() {
            similar::ChangeTag::Equal => format!("              {text}"),
            similar::ChangeTag::Delete => format!("            {} {text}", p.sign("-")),
            similar::ChangeTag::Insert => format!("            {} {text}", p.sign("+")),
        };
        out.push_str(&line);
        out.push('\n');
    }
    Some(out)
}

fn map_diff(before: &Map, after: &Map, indent: usize, p: &Palette) -> String {
    let mut out = String::new();
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let width = keys.iter().map(|k| quoted_key(k).len()).max().unwrap_or(0);
    let sp = " ".repeat(indent);
    for k in keys {
        let qk = quoted_key(k);
        let pad = " ".repeat(width - qk.len());
        match (before.get(k), after.get(k)) {
            (Some(b), Some(a)) if compare::equal(&AttrType::Any, b, a) => {}
            (Some(b), Some(a)) => {
                let _ = writeln!(
                    out,
                    "{sp}{} {qk}{pad} = {} -> {}",
                    p.sign("~"),
                    scalar(b),
                    scalar(a)
                );
            }
            (None, Some(a)) => {
                let _ = writeln!(
                    out,
                    "{sp}{} {qk}{pad} = {}",
                    p.sign("+"),
                    block(a, indent + 2)
                );
            }
            (Some(b), None) => {
                let _ = writeln!(
                    out,
                    "{sp}{} {qk}{pad} = {}",
                    p.sign("-"),
                    block(b, indent + 2)
                );
            }
            (None, None) => {}
        }
    }
    out
}

fn quoted_key(k: &str) -> String {
    if super::super::spec::valid_name(k) {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// A value on one line: strings quoted, documents as compact JSON.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::Unknown => UNKNOWN.to_string(),
        Value::Null => "null".into(),
        Value::String(s) => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::List(_) | Value::Map(_) => {
            if v.contains_unknown() {
                UNKNOWN.to_string()
            } else {
                serde_json::to_string(v).unwrap_or_default()
            }
        }
    }
}

/// A value that may span several lines (tables, lists, heredocs).
fn block(v: &Value, indent: usize) -> String {
    let sp = " ".repeat(indent);
    match v {
        Value::String(s) if s.contains('\n') => {
            let mut out = String::from("<<-EOT\n");
            for line in s.lines() {
                let _ = writeln!(out, "{sp}    {line}");
            }
            let _ = write!(out, "{sp}EOT");
            out
        }
        Value::Map(m) if !m.is_empty() => {
            let width = m.keys().map(|k| quoted_key(k).len()).max().unwrap_or(0);
            let mut out = String::from("{\n");
            for (k, e) in m {
                let qk = quoted_key(k);
                let _ = writeln!(
                    out,
                    "{sp}    {qk}{} = {}",
                    " ".repeat(width - qk.len()),
                    block(e, indent + 4)
                );
            }
            let _ = write!(out, "{sp}}}");
            out
        }
        Value::List(l)
            if !l.is_empty()
                && l.iter()
                    .any(|e| matches!(e, Value::Map(_) | Value::List(_))) =>
        {
            let mut out = String::from("[\n");
            for e in l {
                let _ = writeln!(out, "{sp}    {},", block(e, indent + 4));
            }
            let _ = write!(out, "{sp}]");
            out
        }
        Value::List(l) if !l.is_empty() => {
            let items: Vec<String> = l.iter().map(scalar).collect();
            format!("[{}]", items.join(", "))
        }
        other => scalar(other),
    }
}
