//! What the examples ask of Amazon Managed Grafana works on a workspace
//! of today: the workspace is CUSTOMER_MANAGED, as the API requires, and
//! its role allows what the AMG guide lists for AMP and publishing to the
//! contact points' topics; the AMP data source uses the Amazon Managed Service for
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

/// What the workspace's role must allow on AMP: the policy AMG's user
/// guide gives for Amazon Managed Service for Prometheus
/// (https://docs.aws.amazon.com/grafana/latest/userguide/AMG-manage-permissions.html,
/// AmazonGrafanaPrometheusPolicy).
const AMP_ACTIONS: [&str; 6] = [
    "aps:ListWorkspaces",
    "aps:DescribeWorkspace",
    "aps:QueryMetrics",
    "aps:GetLabels",
    "aps:GetSeries",
    "aps:GetMetricMetadata",
];

/// AWS managed policies a role may attach instead, with their statements
/// (AWS managed policy reference, AmazonPrometheusQueryAccess).
fn managed(arn: &str) -> Option<Json> {
    (arn == "arn:aws:iam::aws:policy/AmazonPrometheusQueryAccess").then(|| {
        serde_json::json!({"Statement": [{"Effect": "Allow", "Action": ["aps:GetLabels", "aps:GetMetricMetadata", "aps:GetSeries", "aps:QueryMetrics"], "Resource": "*"}]})
    })
}

fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(s),
        Some((head, tail)) => {
            s.len() >= head.len() + tail.len()
                && s[..head.len()].eq_ignore_ascii_case(head)
                && s[s.len() - tail.len()..].eq_ignore_ascii_case(tail)
        }
    }
}

/// Whether the role's policies allow `action` on `resource`.
fn allows(role: &Json, action: &str, resource: &str) -> bool {
    let mut docs: Vec<Json> = role["inline_policies"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, d)| d.clone())
        .collect();
    docs.extend(
        strings(&role["managed_policy_arns"])
            .iter()
            .filter_map(|a| managed(a)),
    );
    docs.iter().any(|d| {
        let statements = match &d["Statement"] {
            Json::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        statements.iter().any(|st| {
            st["Effect"] == "Allow"
                && strings(&st["Action"]).iter().any(|a| glob(a, action))
                && strings(&st["Resource"]).iter().any(|r| glob(r, resource))
        })
    })
}

fn workspace_problems(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    for (address, w) in spec.of_type("aws_grafana_workspace") {
        let at = format!("{} {address}", spec.file);
        if w["permission_type"] != "CUSTOMER_MANAGED" {
            out.push(format!(
                "{at}: permission_type {}; created through the API it must be CUSTOMER_MANAGED \
                 (API reference, CreateWorkspace)",
                w["permission_type"]
            ));
        }
        let role_ref = w["role_arn"].as_str().unwrap_or_default();
        let Some(role) = role_ref
            .strip_prefix("${")
            .and_then(|r| r.strip_suffix(".arn}"))
            .and_then(|a| spec.resources.get(a))
        else {
            out.push(format!(
                "{at}: role_arn {role_ref:?} is not a role of the spec"
            ));
            continue;
        };
        let trust = role["assume_role_policy"].to_string();
        if !trust.contains("grafana.amazonaws.com") {
            out.push(format!(
                "{at}: its role does not trust grafana.amazonaws.com"
            ));
        }
        for action in AMP_ACTIONS {
            if !allows(
                role,
                action,
                "arn:aws:aps:eu-west-1:123456789012:workspace/ws-example",
            ) {
                out.push(format!("{at}: its role does not allow {action} on AMP"));
            }
        }
        for (cp, body) in spec.of_type("grafana_contact_point") {
            for r in body["receivers"].as_array().into_iter().flatten() {
                let Some(topic) = r["topic_arn"].as_str().filter(|_| r["type"] == "sns") else {
                    continue;
                };
                if !allows(role, "sns:Publish", topic) {
                    out.push(format!(
                        "{at}: its role does not allow sns:Publish on {topic} ({cp})"
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn the_workspace_is_customer_managed_and_its_role_can_query_amp_and_publish_alerts() {
    let mut all = Vec::new();
    for spec in spec::all() {
        assert_eq!(
            spec.of_type("aws_grafana_workspace").count(),
            1,
            "{}",
            spec.file
        );
        all.extend(workspace_problems(&spec));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
    // The managed query policy alone lacks discovery.
    let only_managed = serde_json::json!({"managed_policy_arns": ["arn:aws:iam::aws:policy/AmazonPrometheusQueryAccess"]});
    assert!(allows(&only_managed, "aps:QueryMetrics", "arn:aws:aps:x"));
    assert!(!allows(&only_managed, "aps:ListWorkspaces", "*"));
}
