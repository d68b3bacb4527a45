//! Who may do what in the examples' clusters. The AMP managed collector's
//! access entry only names it: AMP maps the scraper to the Kubernetes user
//! `aps-collector-user`, and what that user may read is RBAC (AMP user
//! guide, "Using an AWS managed collector" → "Manually configuring Amazon
//! EKS for scraper access",
//! https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-collector-how-to.html,
//! whose ClusterRole `aps-collector-role` and binding
//! `examples/manifests/aps-collector-rbac.yaml` copies). Every example
//! spec with an `aws_amp_scraper` must apply RBAC that lets that user
//! discover and scrape what its scrape configuration names, in manifests
//! the scraper waits for (directly or transitively), so that its first
//! discovery already sees the cluster. The manifests' YAML is evaluated
//! by the same RBAC rules the test API server answers SubjectAccessReviews
//! with, over only the manifests the scraper waits for: a ClusterRole
//! applied after the scraper, or bound to someone else, does not count.
//!
//! EKS gives the principal that creates a cluster with
//! `bootstrap_cluster_creator_admin_permissions` (the default) an access
//! entry of its own, and refuses a second one for it (409). That principal
//! is whoever runs meshmon: meshmon adopts EKS's entry when a spec names
//! it (tests/live_stack_doubles.rs), but an example's admin entry is for a
//! role the example creates, so that who may administer the cluster does
//! not depend on who ran the apply.

use std::collections::BTreeSet;
use std::path::Path;

use meshmon_test_support::kube_api::rbac::{Attributes, evaluate};
use serde_json::Value as Json;

use crate::spec::{self, Spec, examples_dir};

/// The user AMP's access entry maps a scraper to.
pub const COLLECTOR_USER: &str = "aps-collector-user";

fn resource(verb: &str, group: &str, resource: &str, namespace: &str) -> Attributes {
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    Attributes::Resource {
        namespace: namespace.into(),
        verb: verb.into(),
        group: group.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        name: String::new(),
    }
}

/// What every managed collector must be allowed, whatever it scrapes: the
/// discovery AMP's default scrape configuration does (roles pod, endpoints,
/// node, cluster-wide), the kubelet's metrics behind `nodes/proxy`, and
/// the API server's `/metrics`.
fn baseline_needs() -> Vec<Attributes> {
    let mut out = Vec::new();
    for r in ["pods", "endpoints", "services", "nodes"] {
        for verb in ["list", "watch"] {
            out.push(resource(verb, "", r, ""));
        }
    }
    out.push(resource("get", "", "nodes/proxy", ""));
    out.push(Attributes::url("get", "/metrics"));
    out
}

/// What Prometheus' Kubernetes discovery lists and watches for one
/// `kubernetes_sd_configs` role (discovery/kubernetes in Prometheus: the
/// endpoints and endpointslice roles also watch the services and pods
/// behind them), as (group, resource).
fn discovered(role: &str) -> &'static [(&'static str, &'static str)] {
    match role {
        "pod" => &[("", "pods")],
        "service" => &[("", "services")],
        "node" => &[("", "nodes")],
        "endpoints" => &[("", "endpoints"), ("", "services"), ("", "pods")],
        "endpointslice" => &[
            ("discovery.k8s.io", "endpointslices"),
            ("", "services"),
            ("", "pods"),
        ],
        "ingress" => &[("networking.k8s.io", "ingresses")],
        _ => &[],
    }
}

/// What a scraper must be allowed: the baseline and the list/watch of
/// every `kubernetes_sd_configs` entry of its scrape configuration, in the
/// namespaces it names (cluster-wide when it names none).
fn collector_needs(scraper: &Json) -> Vec<Attributes> {
    let mut out = baseline_needs();
    let config = scraper["scrape_configuration"].as_str().unwrap_or_default();
    let config: Json = serde_yaml_ng::from_str(config).unwrap_or(Json::Null);
    for job in config["scrape_configs"].as_array().into_iter().flatten() {
        for sd in job["kubernetes_sd_configs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let role = sd["role"].as_str().unwrap_or_default();
            let mut namespaces: Vec<&str> = sd["namespaces"]["names"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .collect();
            if namespaces.is_empty() {
                namespaces.push("");
            }
            let mut wanted: Vec<(&str, &str, &str)> = Vec::new();
            for (group, r) in discovered(role) {
                for ns in &namespaces {
                    wanted.push((group, r, ns));
                }
            }
            // Node labels on pod targets: nodes are cluster-scoped.
            if sd["attach_metadata"]["node"] == true {
                wanted.push(("", "nodes", ""));
            }
            for (group, r, ns) in wanted {
                for verb in ["list", "watch"] {
                    let a = resource(verb, group, r, ns);
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
        }
    }
    out
}

/// `list pods in istio-system`, `get /metrics`.
fn describe(a: &Attributes) -> String {
    match a {
        Attributes::Resource {
            namespace,
            verb,
            group,
            resource,
            subresource,
            ..
        } => {
            let mut out = format!("{verb} {resource}");
            if !subresource.is_empty() {
                out += &format!("/{subresource}");
            }
            if !group.is_empty() {
                out += &format!(".{group}");
            }
            if !namespace.is_empty() {
                out += &format!(" in {namespace}");
            }
            out
        }
        Attributes::NonResource { path, verb } => format!("{verb} {path}"),
    }
}

fn is_rbac(object: &Json) -> bool {
    object["apiVersion"] == "rbac.authorization.k8s.io/v1"
}

fn collector_problems(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    let objects = spec.manifest_objects();
    let everything: Vec<Json> = objects.iter().map(|(_, o)| o.clone()).collect();
    for (scraper, body) in spec.of_type("aws_amp_scraper") {
        let waits_for = spec.dependencies(scraper);
        let before: Vec<Json> = objects
            .iter()
            .filter(|(a, _)| waits_for.contains(a))
            .map(|(_, o)| o.clone())
            .collect();
        let mut missing = Vec::new();
        let mut too_late = Vec::new();
        for need in collector_needs(body) {
            if evaluate(&before, COLLECTOR_USER, &[], &need).0 {
                continue;
            }
            if evaluate(&everything, COLLECTOR_USER, &[], &need).0 {
                too_late.push(describe(&need));
            } else {
                missing.push(describe(&need));
            }
        }
        if !missing.is_empty() {
            out.push(format!(
                "{}: {scraper}: no ClusterRole bound to User {COLLECTOR_USER} lets it {}; the \
                 managed collector would be ACTIVE and scrape nothing (apply the ClusterRole and \
                 binding of the AMP user guide, examples/manifests/aps-collector-rbac.yaml)",
                spec.file,
                missing.join(", ")
            ));
        }
        if !too_late.is_empty() {
            let rbac: BTreeSet<&String> = objects
                .iter()
                .filter(|(a, o)| is_rbac(o) && !waits_for.contains(a))
                .map(|(a, _)| a)
                .collect();
            out.push(format!(
                "{}: {scraper} does not wait for the RBAC that lets User {COLLECTOR_USER} {} \
                 ({rbac:?}); add it to the scraper's depends_on",
                spec.file,
                too_late.join(", ")
            ));
        }
    }
    out
}

/// Every example spec there is: each `examples/*.toml`, and each spec
/// `meshmon init` writes (src/init.rs embeds them from examples/, so a new
/// one cannot escape the check by being left out of a list).
fn every_example_spec() -> Vec<String> {
    let mut files: BTreeSet<String> = std::fs::read_dir(examples_dir())
        .expect("examples/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.ends_with(".toml"))
        .collect();
    let init = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/init.rs"))
        .expect("src/init.rs");
    let mut rest = init.as_str();
    while let Some(i) = rest.find("include_str!(\"../examples/") {
        rest = &rest[i + "include_str!(\"../examples/".len()..];
        let path = &rest[..rest.find('"').unwrap_or(0)];
        // A component is checked as part of the spec that uses it.
        if path.ends_with(".toml") && !path.ends_with("/component.toml") {
            files.insert(path.to_string());
        }
    }
    assert!(
        files.contains("istio.toml"),
        "examples/istio.toml is missing: {files:?}"
    );
    files.into_iter().collect()
}

#[test]
fn every_spec_with_a_managed_collector_lets_it_read_the_cluster_before_it_starts() {
    let mut all = Vec::new();
    let mut with_scraper = Vec::new();
    for file in every_example_spec() {
        let spec = Spec::load(&file);
        if spec.of_type("aws_amp_scraper").next().is_some() {
            with_scraper.push(file);
        }
        all.extend(collector_problems(&spec));
    }
    for file in ["istio.toml", "existing-cluster.toml", "fleet.toml"] {
        assert!(
            with_scraper.contains(&file.to_string()),
            "examples/{file} has no managed collector: {with_scraper:?}"
        );
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

/// The check refuses each way a scraper can end up without its RBAC.
#[test]
fn a_scraper_without_its_rbac_is_refused() {
    const RBAC: &str = "k8s_manifest.aps_collector_rbac";
    const SCRAPER: &str = "aws_amp_scraper.mesh";
    let fresh = || {
        let spec = Spec::load("istio.toml");
        assert!(collector_problems(&spec).is_empty());
        spec
    };
    let edit_rbac = |spec: &mut Spec, from: &str, to: &str| {
        let content = spec.resources.get_mut(RBAC).expect("the RBAC manifest")["content"]
            .as_str()
            .expect("content")
            .to_string();
        assert!(content.contains(from), "{from:?} is not in {RBAC}");
        spec.resources.get_mut(RBAC).expect("the RBAC manifest")["content"] =
            Json::String(content.replacen(from, to, 1));
    };
    let refused = |spec: &Spec, why: &str| {
        let p = collector_problems(spec);
        assert!(p.iter().any(|x| x.contains(why)), "{why:?} not in {p:?}");
    };

    // The scraper does not wait for its RBAC.
    let mut spec = fresh();
    spec.resources.get_mut(SCRAPER).expect("the scraper")["depends_on"] = Json::Array(vec![]);
    refused(&spec, "does not wait for the RBAC");

    // It waits for the binding, but the ClusterRole comes with another
    // manifest it does not wait for.
    let mut spec = fresh();
    let content = spec.resources[RBAC]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let (role, binding) = content.split_once("\n---\n").expect("two documents");
    spec.resources.get_mut(RBAC).unwrap()["content"] = Json::String(binding.to_string());
    spec.resources.insert(
        "k8s_manifest.role_elsewhere".into(),
        serde_json::json!({ "content": role }),
    );
    refused(&spec, "does not wait for the RBAC");
    refused(&spec, "k8s_manifest.role_elsewhere");

    // Bound to a group AMP does not put the user in.
    let mut spec = fresh();
    edit_rbac(
        &mut spec,
        "- kind: User\n  name: aps-collector-user",
        "- kind: Group\n  name: aps-collector",
    );
    refused(&spec, "scrape nothing");

    // Bound to another role name than the ClusterRole's.
    let mut spec = fresh();
    edit_rbac(
        &mut spec,
        "roleRef:\n  kind: ClusterRole\n  name: aps-collector-role",
        "roleRef:\n  kind: ClusterRole\n  name: aps-collector",
    );
    refused(&spec, "scrape nothing");

    // A ClusterRole without the API server's /metrics.
    let mut spec = fresh();
    edit_rbac(
        &mut spec,
        "nonResourceURLs: [\"/metrics\"]",
        "nonResourceURLs: [\"/healthz\"]",
    );
    refused(&spec, "lets it get /metrics;");

    // Discovery by endpointslice needs discovery.k8s.io, which AWS's
    // ClusterRole does not grant: the scrape configuration decides.
    let mut spec = fresh();
    let scraper = spec.resources.get_mut(SCRAPER).expect("the scraper");
    let config = scraper["scrape_configuration"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(config.contains("- role: endpoints\n"));
    scraper["scrape_configuration"] =
        Json::String(config.replacen("- role: endpoints\n", "- role: endpointslice\n", 1));
    refused(
        &spec,
        "list endpointslices.discovery.k8s.io in istio-system",
    );

    // No RBAC at all.
    let mut spec = fresh();
    spec.resources.remove(RBAC);
    refused(&spec, "lets it list pods, watch pods,");
}

/// What the scrape configuration discovers is asked where it looks: the
/// Istio example's istiod job lists endpoints (and their services and
/// pods) in istio-system only.
#[test]
fn a_collectors_needs_follow_its_kubernetes_discovery() {
    let spec = Spec::load("istio.toml");
    let (_, scraper) = spec.of_type("aws_amp_scraper").next().expect("a scraper");
    let needs: Vec<String> = collector_needs(scraper).iter().map(describe).collect();
    for want in [
        "list pods",
        "watch endpoints",
        "get nodes/proxy",
        "get /metrics",
        "list endpoints in istio-system",
        "watch services in istio-system",
        "list pods in istio-system",
    ] {
        assert!(needs.iter().any(|n| n == want), "{want:?} not in {needs:?}");
    }
}

fn entry_problems(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    for (address, entry) in spec.of_type("aws_eks_access_entry") {
        let cluster = entry["cluster_name"]
            .as_str()
            .and_then(|c| c.strip_prefix("${"))
            .and_then(|c| c.strip_suffix(".name}"))
            .and_then(|c| spec.resources.get(c));
        let bootstrap = cluster
            .map(|c| c["access_config"]["bootstrap_cluster_creator_admin_permissions"] != false)
            .unwrap_or(true);
        if !bootstrap {
            continue;
        }
        let principal = entry["principal_arn"].as_str().unwrap_or_default();
        let made_here = principal
            .strip_prefix("${aws_iam_role.")
            .and_then(|r| r.strip_suffix(".arn}"))
            .is_some_and(|r| spec.resources.contains_key(&format!("aws_iam_role.{r}")));
        if !made_here {
            out.push(format!(
                "{} {address}: principal {principal:?} may be the principal that creates the \
                 cluster, which EKS already gave an entry (bootstrap_cluster_creator_admin_permissions); \
                 use a role the spec creates",
                spec.file
            ));
        }
    }
    out
}

#[test]
fn no_example_makes_a_second_access_entry_for_the_cluster_creator() {
    let mut all = Vec::new();
    let mut entries = 0;
    for spec in spec::all() {
        entries += spec.of_type("aws_eks_access_entry").count();
        all.extend(entry_problems(&spec));
    }
    assert!(entries > 0, "no example has an access entry");
    assert!(all.is_empty(), "{}", all.join("\n"));
    // A variable's ARN is refused: it may be the one running meshmon.
    let mut spec = Spec::load("istio.toml");
    spec.resources
        .get_mut("aws_eks_access_entry.admin")
        .expect("the example's admin entry")["principal_arn"] =
        serde_json::json!("arn:aws:iam::123456789012:role/ops");
    assert_eq!(entry_problems(&spec).len(), 1);
}
