//! Every query the examples hold, found where Grafana and AMP would read
//! it: the panels' targets and the template variables of each dashboard a
//! spec uploads, the spec's Grafana alert rules, and the rules of its AMP
//! rule groups. Grafana's own variables are substituted the way Grafana
//! does before it sends a query, so the text is PromQL.

use serde_json::Value as Json;

use crate::spec::{Spec, yaml_documents};

pub struct Query {
    /// "examples/dashboards/istio-mesh.json panel 13 (Upstream responses by class)".
    pub origin: String,
    /// PromQL, Grafana variables substituted.
    pub expr: String,
    /// The panel target's legend format, variables substituted.
    pub legend: Option<String>,
}

/// A value Grafana puts in place of a dashboard variable: no label value
/// checks apply to it, and it is a valid regular expression and name.
pub const VAR_MARK: &str = "GRAFANA_VAR_";

/// Substitutes Grafana's variables: the interval ones by durations,
/// everything else (`$namespace`, `${datasource}`, `${var:regex}`,
/// `[[var]]`) by `GRAFANA_VAR_<name>`.
pub fn substitute(text: &str) -> String {
    const INTERVALS: [(&str, &str); 6] = [
        ("__rate_interval", "5m"),
        ("__interval_ms", "60000"),
        ("__interval", "1m"),
        ("__range_s", "3600"),
        ("__range_ms", "3600000"),
        ("__range", "1h"),
    ];
    let value = |name: &str| {
        INTERVALS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| format!("{VAR_MARK}{name}"))
    };
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['$', '[']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(inner) = tail.strip_prefix("${")
            && let Some(end) = inner.find('}')
        {
            let name = inner[..end].split(':').next().unwrap_or_default();
            out.push_str(&value(name));
            rest = &inner[end + 1..];
        } else if let Some(inner) = tail.strip_prefix("[[")
            && let Some(end) = inner.find("]]")
            && inner[..end].chars().all(ident)
        {
            out.push_str(&value(&inner[..end]));
            rest = &inner[end + 2..];
        } else if let Some(inner) = tail.strip_prefix('$')
            && inner.starts_with(ident)
        {
            let end = inner.find(|c: char| !ident(c)).unwrap_or(inner.len());
            out.push_str(&value(&inner[..end]));
            rest = &inner[end..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// `label_values(SELECTOR, LABEL)` (or `label_values(LABEL)`) as PromQL
/// that reads the same series and label.
fn label_values(q: &str) -> Option<String> {
    let inner = q
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?
        .trim();
    let mut depth = 0i32;
    let mut split = None;
    for (i, c) in inner.char_indices() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            ',' if depth == 0 => split = Some(i),
            _ => {}
        }
    }
    match split {
        Some(i) => Some(format!(
            "count by ({}) ({})",
            inner[i + 1..].trim(),
            inner[..i].trim()
        )),
        None => Some(format!("count by ({inner}) ({{{inner}!=\"\"}})")),
    }
}

fn panels<'a>(list: &'a Json, out: &mut Vec<&'a Json>) {
    for p in list.as_array().into_iter().flatten() {
        out.push(p);
        panels(&p["panels"], out);
    }
}

/// The queries of one dashboard model.
pub fn dashboard(origin: &str, model: &Json) -> Vec<Query> {
    let mut out = Vec::new();
    let mut all = Vec::new();
    panels(&model["panels"], &mut all);
    for p in all {
        let title = p["title"].as_str().unwrap_or_default();
        for t in p["targets"].as_array().into_iter().flatten() {
            let Some(expr) = t["expr"].as_str() else {
                continue;
            };
            out.push(Query {
                origin: format!(
                    "{origin} panel {} ({title}) target {}",
                    p["id"],
                    t["refId"].as_str().unwrap_or("?")
                ),
                expr: substitute(expr),
                legend: t["legendFormat"].as_str().map(substitute),
            });
        }
    }
    for v in model["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] != "query" {
            continue;
        }
        let text = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .or(v["definition"].as_str())
            .unwrap_or_default();
        let expr = match label_values(&substitute(text)) {
            Some(e) => e,
            None => substitute(text),
        };
        out.push(Query {
            origin: format!("{origin} variable ${}", v["name"].as_str().unwrap_or("?")),
            expr,
            legend: None,
        });
    }
    out
}

/// The expressions of a Prometheus rules file (AMP rule groups' `data`).
pub fn rule_file(origin: &str, yaml: &str) -> Vec<Query> {
    let mut out = Vec::new();
    for doc in yaml_documents(yaml) {
        for g in doc["groups"].as_array().into_iter().flatten() {
            for r in g["rules"].as_array().into_iter().flatten() {
                let name = r["alert"].as_str().or(r["record"].as_str()).unwrap_or("?");
                if let Some(expr) = r["expr"].as_str() {
                    out.push(Query {
                        origin: format!("{origin} rule {name}"),
                        expr: expr.to_string(),
                        legend: None,
                    });
                }
            }
        }
    }
    out
}

/// The dashboards a spec uploads (from `config_json`), as (origin, model).
pub fn dashboards(spec: &Spec) -> Vec<(String, Json)> {
    spec.of_type("grafana_dashboard")
        .filter_map(|(address, body)| {
            let text = body["config_json"].as_str()?;
            let model: Json = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{}: {address}: {e}", spec.file));
            Some((format!("{} {address}", spec.file), model))
        })
        .collect()
}

/// Every query of a spec.
pub fn of_spec(spec: &Spec) -> Vec<Query> {
    let mut out = Vec::new();
    for (origin, model) in dashboards(spec) {
        out.extend(dashboard(&origin, &model));
    }
    for (address, body) in spec.of_type("grafana_alert_rule") {
        if let Some(q) = body["query"].as_str() {
            out.push(Query {
                origin: format!("{} {address}", spec.file),
                expr: substitute(q),
                legend: None,
            });
        }
    }
    for (address, body) in spec.of_type("aws_amp_rule_groups_namespace") {
        let data = body["data"].as_str().unwrap_or_default();
        out.extend(rule_file(&format!("{} {address}", spec.file), data));
    }
    out
}

#[test]
fn grafana_variables_are_substituted_before_parsing() {
    assert_eq!(
        substitute(
            r#"rate(x{ns=~"$namespace", s="${service:regex}"}[$__rate_interval]) [[legacy]]"#
        ),
        r#"rate(x{ns=~"GRAFANA_VAR_namespace", s="GRAFANA_VAR_service"}[5m]) GRAFANA_VAR_legacy"#
    );
    assert_eq!(substitute("{{service}} → $__interval"), "{{service}} → 1m");
    assert_eq!(
        label_values(r#"label_values(m{a=~"x"}, b)"#).as_deref(),
        Some(r#"count by (b) (m{a=~"x"})"#)
    );
}
