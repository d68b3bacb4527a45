//! Warnings about components past their end of life, found in a spec
//! without contacting anything: AWS App Mesh, Grafana Agent, Kubernetes API
//! versions the cluster's version no longer serves, and EKS versions out of
//! standard support. They are warnings, not errors — a spec that uses them
//! still plans and applies — and `validate --deny-warnings` makes them fail CI.

use meshmon_provider_sdk::Value;

use crate::diag::{Diag, Diagnostics};
use crate::spec::{Expr, Part, ResourceBlock, Spec};

/// Ends of standard support of EKS versions (from the EKS Kubernetes
/// version calendar). A version not listed is older than the first entry.
const EKS_STANDARD_SUPPORT_ENDS: &[(&str, &str)] = &[
    ("1.23", "2023-10-11"),
    ("1.24", "2024-01-31"),
    ("1.25", "2024-05-01"),
    ("1.26", "2024-06-11"),
    ("1.27", "2024-07-24"),
    ("1.28", "2024-11-26"),
    ("1.29", "2025-03-23"),
    ("1.30", "2025-07-23"),
    ("1.31", "2025-11-26"),
    ("1.32", "2026-03-23"),
    ("1.33", "2026-07-29"),
    ("1.34", "2026-12-02"),
    ("1.35", "2027-03-27"),
];

/// API versions and the Kubernetes minor version that stopped serving them.
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

pub use crate::registry::{
    API_REMOVED, APP_MESH_EOL, EKS_SUPPORT, GRAFANA_AGENT_EOL, WARNING_CODES as CODES,
};

const APP_MESH: &str = "AWS App Mesh was discontinued on 2026-09-30";
const APP_MESH_NEXT: &str =
    "move to Istio (VPC Lattice has no Envoy sidecar); see docs/migrate-from-app-mesh.md";
const GRAFANA_AGENT: &str = "Grafana Agent reached end of life on 2025-11-01";
const GRAFANA_AGENT_NEXT: &str =
    "use the AMP managed collector or its successor, Grafana Alloy (grafana/alloy)";

/// Today's date as `YYYY-MM-DD`.
pub fn today() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_string()
}

/// A string attribute as written, with references replaced by a
/// placeholder: enough to read chart names, images and API versions.
fn text(e: Option<&Expr>) -> Option<String> {
    match e? {
        Expr::Lit(Value::String(s)) => Some(s.clone()),
        Expr::Template(parts) => Some(
            parts
                .iter()
                .map(|p| match p {
                    Part::Lit(l) => l.clone(),
                    Part::Ref(..) => "x".to_string(),
                })
                .collect(),
        ),
        _ => None,
    }
}

fn minor(version: &str) -> Option<u32> {
    version.trim().split('.').nth(1)?.parse().ok()
}

/// Where the lint points: `needle` inside the value of attribute `attr`
/// when the value holds it as written, else the whole value.
struct At<'a> {
    attr: &'a str,
    needle: Option<&'a str>,
    label: &'a str,
}

fn warn(
    spec: &Spec,
    r: &ResourceBlock,
    at: At<'_>,
    code: &'static str,
    message: String,
    help: &str,
) -> Diag {
    let value = r.value_span(at.attr);
    let span = at
        .needle
        .and_then(|n| {
            let off = spec.text.get(value.clone())?.find(n)?;
            Some(value.start + off..value.start + off + n.len())
        })
        .unwrap_or(value);
    Diag::warning(message)
        .label(span, format!("{} of `{}`", at.label, r.address))
        .help(help)
        .in_source(&spec.source)
        .about(code, &r.address)
}

/// Every end-of-life warning for a spec, as of `today` (`YYYY-MM-DD`).
pub fn lint(spec: &Spec, today: &str) -> Diagnostics {
    let mut out = Diagnostics::default();
    let clusters: Vec<(&ResourceBlock, String)> = spec
        .resources
        .values()
        .filter(|r| r.type_name == "aws_eks_cluster")
        .filter_map(|r| Some((r, text(r.attrs.get("version"))?)))
        .collect();
    for (r, version) in &clusters {
        let latest = EKS_STANDARD_SUPPORT_ENDS
            .iter()
            .filter(|(_, end)| *end > today)
            .map(|(v, _)| *v)
            .next()
            .unwrap_or("the newest version");
        let ended = match EKS_STANDARD_SUPPORT_ENDS.iter().find(|(v, _)| v == version) {
            Some((_, end)) if *end <= today => Some(format!("ended on {end}")),
            Some(_) => None,
            None if minor(version).is_some_and(|m| m < 23) => Some("ended years ago".into()),
            None => None,
        };
        if let Some(ended) = ended {
            out.push(warn(
                spec,
                r,
                At { attr: "version", needle: None, label: "the version" },
                EKS_SUPPORT,
                format!("EKS version {version} is out of standard support (it {ended}); extended support costs more and ends too"),
                &format!("set version to {latest} or later"),
            ));
        }
    }
    // Manifests are checked against the cluster version when there is one.
    let cluster_minor = clusters.first().and_then(|(_, v)| minor(v));

    for r in spec.resources.values() {
        match r.type_name.as_str() {
            "helm_release" => {
                let chart = text(r.attrs.get("chart")).unwrap_or_default();
                let repo = text(r.attrs.get("repository")).unwrap_or_default();
                let name = chart.rsplit('/').next().unwrap_or_default();
                if name.starts_with("appmesh") {
                    out.push(warn(
                        spec,
                        r,
                        At {
                            attr: "chart",
                            needle: None,
                            label: "the chart",
                        },
                        APP_MESH_EOL,
                        format!("{APP_MESH}; this release installs `{chart}`"),
                        APP_MESH_NEXT,
                    ));
                }
                if name == "grafana-agent"
                    || (repo.contains("grafana") && name.starts_with("grafana-agent"))
                {
                    out.push(warn(
                        spec,
                        r,
                        At {
                            attr: "chart",
                            needle: None,
                            label: "the chart",
                        },
                        GRAFANA_AGENT_EOL,
                        format!("{GRAFANA_AGENT}; this release installs `{chart}`"),
                        GRAFANA_AGENT_NEXT,
                    ));
                }
            }
            "k8s_manifest" => {
                let Some(content) = text(r.attrs.get("content")) else {
                    continue;
                };
                // The first App Mesh apiVersion and grafana/agent image, as
                // written, for the warnings to point at.
                let mut mesh: Option<&str> = None;
                let mut agent: Option<&str> = None;
                let mut apis = std::collections::BTreeSet::new();
                for line in content.lines() {
                    let line = line.trim();
                    if let Some(api) = line.strip_prefix("apiVersion:") {
                        let api = api.trim().trim_matches(['"', '\'']);
                        if api.starts_with("appmesh.k8s.aws/") {
                            mesh = mesh.or(Some(api));
                        }
                        apis.insert(api.to_string());
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
                for api in &apis {
                    if let Some((_, removed, next)) = REMOVED_APIS.iter().find(|(a, _, _)| a == api)
                    {
                        let applies = cluster_minor.is_none_or(|m| m >= *removed);
                        if applies {
                            out.push(warn(
                                spec,
                                r,
                                At {
                                    attr: "content",
                                    needle: Some(api),
                                    label: "an API version",
                                },
                                API_REMOVED,
                                format!(
                                    "`{api}` is not served by Kubernetes 1.{removed} and later{}",
                                    match cluster_minor {
                                        Some(m) => format!(" (the cluster runs 1.{m})"),
                                        None => String::new(),
                                    }
                                ),
                                &format!("use `{next}`"),
                            ));
                        }
                    }
                }
                if mesh.is_some() {
                    out.push(warn(
                        spec,
                        r,
                        At {
                            attr: "content",
                            needle: mesh,
                            label: "an App Mesh object",
                        },
                        APP_MESH_EOL,
                        format!("{APP_MESH}; this manifest declares App Mesh objects"),
                        APP_MESH_NEXT,
                    ));
                }
                if agent.is_some() {
                    out.push(warn(
                        spec,
                        r,
                        At {
                            attr: "content",
                            needle: agent,
                            label: "the image",
                        },
                        GRAFANA_AGENT_EOL,
                        format!("{GRAFANA_AGENT}; this manifest runs the grafana/agent image"),
                        GRAFANA_AGENT_NEXT,
                    ));
                }
            }
            _ => {}
        }
    }
    out
}
