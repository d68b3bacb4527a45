//! What the Kubernetes provider knows without contacting anything: AWS App
//! Mesh (discontinued on 2026-09-30) and the Grafana Agent (past its end of
//! life) in charts and manifests, and API versions that the spec's cluster
//! no longer serves.

use std::collections::BTreeSet;

use meshmon_provider_sdk::lint::{Facts, Finding, KUBERNETES_MINOR, WarningCode, Written};

pub const API_REMOVED: &str = "kubernetes-api-removed";
pub const APP_MESH_EOL: &str = "app-mesh-end-of-life";
pub const GRAFANA_AGENT_EOL: &str = "grafana-agent-end-of-life";

pub const CODES: &[WarningCode] = &[
    (
        API_REMOVED,
        "a manifest using an API version the cluster's Kubernetes no longer serves",
    ),
    (APP_MESH_EOL, "AWS App Mesh, discontinued on 2026-09-30"),
    (GRAFANA_AGENT_EOL, "the Grafana Agent, past its end of life"),
];

/// API versions and the Kubernetes minor version that stopped serving them
/// (the Kubernetes deprecated API migration guide,
/// https://kubernetes.io/docs/reference/using-api/deprecation-guide/).
const REMOVED_APIS: &[(&str, u32, &str)] = &[
    ("extensions/v1beta1", 22, "apps/v1 or networking.k8s.io/v1"),
    ("apps/v1beta1", 16, "apps/v1"),
    ("apps/v1beta2", 16, "apps/v1"),
    (
        "rbac.authorization.k8s.io/v1beta1",
        22,
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "apiextensions.k8s.io/v1beta1",
        22,
        "apiextensions.k8s.io/v1",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        22,
        "admissionregistration.k8s.io/v1",
    ),
    ("networking.k8s.io/v1beta1", 22, "networking.k8s.io/v1"),
    ("scheduling.k8s.io/v1beta1", 22, "scheduling.k8s.io/v1"),
    ("certificates.k8s.io/v1beta1", 22, "certificates.k8s.io/v1"),
    ("coordination.k8s.io/v1beta1", 22, "coordination.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", 22, "storage.k8s.io/v1"),
    ("batch/v1beta1", 25, "batch/v1"),
    ("policy/v1beta1", 25, "policy/v1"),
    ("discovery.k8s.io/v1beta1", 25, "discovery.k8s.io/v1"),
    ("events.k8s.io/v1beta1", 25, "events.k8s.io/v1"),
    ("autoscaling/v2beta1", 25, "autoscaling/v2"),
    ("autoscaling/v2beta2", 26, "autoscaling/v2"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        29,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        32,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
];

const APP_MESH: &str = "AWS App Mesh was discontinued on 2026-09-30";
const APP_MESH_NEXT: &str =
    "move to Istio (VPC Lattice has no Envoy sidecar); see docs/migrate-from-app-mesh.md";
const GRAFANA_AGENT: &str = "Grafana Agent reached end of life on 2025-11-01";
const GRAFANA_AGENT_NEXT: &str =
    "use the AMP managed collector or its successor, Grafana Alloy (grafana/alloy)";

pub fn lint(r: &Written<'_>, _today: &str, facts: &Facts) -> Vec<Finding> {
    match r.type_name {
        "helm_release" => chart(r),
        "k8s_manifest" => manifest(r, facts),
        _ => Vec::new(),
    }
}

fn chart(r: &Written<'_>) -> Vec<Finding> {
    let chart = r.text("chart").unwrap_or_default();
    let repo = r.text("repository").unwrap_or_default();
    let name = chart.rsplit('/').next().unwrap_or_default();
    let mut out = Vec::new();
    let finding = |code, message: String, help: &str| Finding {
        code,
        attribute: "chart",
        needle: None,
        label: "the chart",
        message,
        help: help.to_string(),
    };
    if name.starts_with("appmesh") {
        out.push(finding(
            APP_MESH_EOL,
            format!("{APP_MESH}; this release installs `{chart}`"),
            APP_MESH_NEXT,
        ));
    }
    if name == "grafana-agent" || (repo.contains("grafana") && name.starts_with("grafana-agent")) {
        out.push(finding(
            GRAFANA_AGENT_EOL,
            format!("{GRAFANA_AGENT}; this release installs `{chart}`"),
            GRAFANA_AGENT_NEXT,
        ));
    }
    out
}

fn manifest(r: &Written<'_>, facts: &Facts) -> Vec<Finding> {
    let Some(content) = r.text("content") else {
        return Vec::new();
    };
    let cluster_minor: Option<u32> = facts.get(KUBERNETES_MINOR).and_then(|m| m.parse().ok());
    // The first App Mesh apiVersion and grafana/agent image, as written, for
    // the warnings to point at.
    let mut mesh: Option<&str> = None;
    let mut agent: Option<&str> = None;
    let mut apis = BTreeSet::new();
    for line in content.lines() {
        let line = line.trim();
        if let Some(api) = line.strip_prefix("apiVersion:") {
            let api = api.trim().trim_matches(['"', '\'']);
            if api.starts_with("appmesh.k8s.aws/") {
                mesh = mesh.or(Some(api));
            }
            apis.insert(api);
        }
        if let Some(image) = line
            .strip_prefix("image:")
            .or_else(|| line.strip_prefix("- image:"))
        {
            let image = image.trim().trim_matches(['"', '\'']);
            if image.starts_with("grafana/agent") || image.contains("/grafana/agent:") {
                agent = agent.or(Some(image));
            }
        }
    }
    let mut out = Vec::new();
    for api in &apis {
        let Some((_, removed, next)) = REMOVED_APIS.iter().find(|(a, _, _)| a == api) else {
            continue;
        };
        if cluster_minor.is_none_or(|m| m >= *removed) {
            out.push(Finding {
                code: API_REMOVED,
                attribute: "content",
                needle: Some(api.to_string()),
                label: "an API version",
                message: format!(
                    "`{api}` is not served by Kubernetes 1.{removed} and later{}",
                    match cluster_minor {
                        Some(m) => format!(" (the cluster runs 1.{m})"),
                        None => String::new(),
                    }
                ),
                help: format!("use `{next}`"),
            });
        }
    }
    if let Some(api) = mesh {
        out.push(Finding {
            code: APP_MESH_EOL,
            attribute: "content",
            needle: Some(api.to_string()),
            label: "an App Mesh object",
            message: format!("{APP_MESH}; this manifest declares App Mesh objects"),
            help: APP_MESH_NEXT.to_string(),
        });
    }
    if let Some(image) = agent {
        out.push(Finding {
            code: GRAFANA_AGENT_EOL,
            attribute: "content",
            needle: Some(image.to_string()),
            label: "the image",
            message: format!("{GRAFANA_AGENT}; this manifest runs the grafana/agent image"),
            help: GRAFANA_AGENT_NEXT.to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshmon_provider_sdk::{Map, Value};

    #[test]
    fn removed_apis_count_only_where_the_cluster_no_longer_serves_them() {
        let inputs: Map = [(
            "content".to_string(),
            Value::from("apiVersion: batch/v1beta1\nkind: CronJob\n"),
        )]
        .into();
        let r = Written {
            type_name: "k8s_manifest",
            inputs: &inputs,
        };
        let mut facts = Facts::default();
        facts.add(KUBERNETES_MINOR, "24".into());
        assert!(lint(&r, "2026-12-07", &facts).is_empty());
        let mut facts = Facts::default();
        facts.add(KUBERNETES_MINOR, "25".into());
        let found = lint(&r, "2026-12-07", &facts);
        assert_eq!(found[0].code, API_REMOVED);
        assert_eq!(found[0].needle.as_deref(), Some("batch/v1beta1"));
    }
}
