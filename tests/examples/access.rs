//! Who may do what in the examples' clusters. The AMP managed collector's
//! access entry only names it: AMP maps the scraper to the Kubernetes user
//! `aps-collector-user` (AMP user guide, "Using an AWS managed collector"),
//! and what that user may read is RBAC. A spec with an `aws_amp_scraper`
//! must apply a ClusterRole bound to that user that lets it discover and
//! scrape pods, endpoints and `/metrics` — evaluated here by the same RBAC
//! rules the test API server answers SubjectAccessReviews with — and the
//! scraper must wait for it.
//!
//! EKS gives the principal that creates a cluster with
//! `bootstrap_cluster_creator_admin_permissions` (the default) an access
//! entry of its own, and refuses a second one for it (409). That principal
//! is whoever runs meshmon: meshmon adopts EKS's entry when a spec names
//! it (tests/live_stack_doubles.rs), but an example's admin entry is for a
//! role the example creates, so that who may administer the cluster does
//! not depend on who ran the apply.

use meshmon_test_support::kube_api::rbac::{Attributes, evaluate};

use crate::spec::{self, Spec};

/// The user AMP's access entry maps a scraper to.
pub const COLLECTOR_USER: &str = "aps-collector-user";

/// What the collector must be allowed: discovery of its targets
/// (kubernetes_sd_configs with roles pod, endpoints, node), and the
/// kubelet and API server metrics behind `nodes/proxy` and `/metrics`.
pub fn collector_needs() -> Vec<Attributes> {
    let mut out = Vec::new();
    for resource in ["pods", "endpoints", "services", "nodes"] {
        for verb in ["list", "watch"] {
            out.push(Attributes::core(verb, resource, ""));
        }
    }
    out.push(Attributes::Resource {
        namespace: String::new(),
        verb: "get".into(),
        group: String::new(),
        resource: "nodes".into(),
        subresource: "proxy".into(),
        name: String::new(),
    });
    out.push(Attributes::url("get", "/metrics"));
    out
}

fn collector_problems(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    let scrapers: Vec<&String> = spec.of_type("aws_amp_scraper").map(|(a, _)| a).collect();
    if scrapers.is_empty() {
        return out;
    }
    let objects = spec.manifest_objects();
    let docs: Vec<serde_json::Value> = objects.iter().map(|(_, o)| o.clone()).collect();
    for attrs in collector_needs() {
        let (allowed, _) = evaluate(&docs, COLLECTOR_USER, &[], &attrs);
        if !allowed {
            out.push(format!(
                "{}: no ClusterRole bound to User {COLLECTOR_USER} allows {attrs:?}; the managed \
                 collector would be ACTIVE and scrape nothing",
                spec.file
            ));
        }
    }
    // The manifests that grant it, which every scraper must wait for.
    let granting: Vec<&String> = objects
        .iter()
        .filter(|(_, o)| {
            o["kind"] == "ClusterRoleBinding"
                && o["subjects"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["kind"] == "User" && s["name"] == COLLECTOR_USER)
        })
        .map(|(a, _)| a)
        .collect();
    for scraper in scrapers {
        if !granting.iter().any(|g| spec.depends_on(scraper, g)) {
            out.push(format!(
                "{}: {scraper} does not wait for the RBAC of {COLLECTOR_USER} ({granting:?}); add it to depends_on",
                spec.file
            ));
        }
    }
    out
}

#[test]
fn every_spec_with_a_managed_collector_lets_it_read_the_cluster_before_it_starts() {
    let mut all = Vec::new();
    let mut with_scraper = 0;
    for spec in spec::all() {
        with_scraper += spec.of_type("aws_amp_scraper").count();
        all.extend(collector_problems(&spec));
    }
    assert!(with_scraper > 0, "no example has a managed collector");
    assert!(all.is_empty(), "{}", all.join("\n"));
}

/// Without the RBAC manifest, or with the scraper not waiting for it, the
/// check fails.
#[test]
fn a_scraper_without_its_rbac_is_refused() {
    let mut spec = Spec::load("istio.toml");
    let scraper = spec
        .resources
        .get_mut("aws_amp_scraper.mesh")
        .expect("the example's scraper");
    scraper
        .as_object_mut()
        .expect("a table")
        .remove("depends_on");
    let p = collector_problems(&spec);
    assert!(p.iter().any(|x| x.contains("does not wait")), "{p:?}");
    spec.resources.remove("k8s_manifest.aps_collector_rbac");
    let p = collector_problems(&spec);
    assert!(p.iter().any(|x| x.contains("scrape nothing")), "{p:?}");
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
