//! What the examples ask of Amazon Managed Grafana works on a workspace
//! of today: the AMP data source uses the Amazon Managed Service for
//! Prometheus plugin (SigV4 left the core Prometheus plugin with AMG 12,
//! see tests/support/src/grafana/datasources.rs), the workspace's Grafana
//! version has that plugin, and every dashboard points at data sources of
//! the type the spec creates — a `datasource` variable filters by plugin
//! type, so one still asking for "prometheus" would list nothing.

use serde_json::Value as Json;

use crate::queries;
use crate::spec::{self, Spec};

const AMP_PLUGIN: &str = "grafana-amazonprometheus-datasource";

/// Every `{"type": …, "uid": …}` data source reference in a dashboard.
fn references(v: &Json, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Json::Object(o) => {
            if let (Some(Json::String(t)), Some(_)) = (o.get("type"), o.get("uid")) {
                out.push((at.to_string(), t.clone()));
            }
            for (k, x) in o {
                references(x, &format!("{at}.{k}"), out);
            }
        }
        Json::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                references(x, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn problems(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    let types: Vec<String> = spec
        .of_type("grafana_data_source")
        .map(|(address, b)| {
            let t = b["type"].as_str().unwrap_or_default().to_string();
            if b["url"].as_str().is_some_and(|u| u.contains("aws_amp_workspace")) && t != AMP_PLUGIN {
                out.push(format!(
                    "{} {address}: an AMP data source of type {t:?}; AMG 12 and later sign AMP queries only in {AMP_PLUGIN}",
                    spec.file
                ));
            }
            t
        })
        .collect();
    for (address, b) in spec.of_type("aws_grafana_workspace") {
        let version = b["grafana_version"].as_str().unwrap_or("latest");
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(u32::MAX);
        if types.iter().any(|t| t == AMP_PLUGIN) && major < 12 {
            out.push(format!(
                "{} {address}: Grafana {version} has no {AMP_PLUGIN}; it comes with AMG 12",
                spec.file
            ));
        }
    }
    for (origin, model) in queries::dashboards(spec) {
        let mut refs = Vec::new();
        references(&model, "", &mut refs);
        for (at, t) in refs {
            if !types.contains(&t) {
                out.push(format!(
                    "{origin} {at}: data source type {t:?}, but the spec creates {types:?}"
                ));
            }
        }
        for v in model["templating"]["list"].as_array().into_iter().flatten() {
            if v["type"] == "datasource" && !types.iter().any(|t| v["query"] == t.as_str()) {
                out.push(format!(
                    "{origin} variable ${}: lists data sources of type {}, but the spec creates {types:?}",
                    v["name"].as_str().unwrap_or("?"),
                    v["query"]
                ));
            }
        }
    }
    out
}

#[test]
fn the_amp_data_source_uses_the_amp_plugin_and_every_dashboard_follows() {
    let mut all = Vec::new();
    for spec in spec::all() {
        assert!(
            spec.of_type("grafana_data_source").count() > 0,
            "{}",
            spec.file
        );
        all.extend(problems(&spec));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}
