//! What the examples run in the cluster starts, and something calls it.
//!
//! - App Mesh: in a namespace labelled
//!   `appmesh.k8s.aws/sidecarInjectorWebhook: enabled`, the controller's
//!   webhook rejects a pod that no VirtualNode selects ("sidecarInject
//!   enabled but no matching VirtualNode or VirtualGateway found",
//!   aws/aws-app-mesh-controller-for-k8s pkg/inject/inject.go) unless the
//!   pod's own annotation turns injection off. Every pod template there
//!   must be one or the other, or its Deployment never gets a pod.
//! - Every example runs the load generator, switched by the
//!   `load_generator` variable (on by default), and every target it calls
//!   is a Service with pods behind it (a selector that matches a workload
//!   of the spec): App Mesh's `jazz` and `metal` Services have none, and
//!   only a sidecar can route to them.

use serde_json::Value as Json;

use crate::spec::{self, Spec};

fn labels(v: &Json) -> Vec<(String, String)> {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

fn selects(selector: &[(String, String)], pod_labels: &[(String, String)]) -> bool {
    !selector.is_empty() && selector.iter().all(|l| pod_labels.contains(l))
}

fn appmesh_problems(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    let enabled: Vec<String> = spec
        .of_type("k8s_namespace")
        .filter(|(_, b)| b["labels"]["appmesh.k8s.aws/sidecarInjectorWebhook"] == "enabled")
        .filter_map(|(_, b)| b["name"].as_str().map(str::to_string))
        .collect();
    let objects = spec.manifest_objects();
    let selectors: Vec<(String, Vec<(String, String)>)> = objects
        .iter()
        .filter(|(_, o)| o["kind"] == "VirtualNode")
        .map(|(_, o)| {
            (
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                labels(&o["spec"]["podSelector"]["matchLabels"]),
            )
        })
        .collect();
    for (address, o) in &objects {
        let ns = o["metadata"]["namespace"].as_str().unwrap_or("default");
        let t = &o["spec"]["template"]["metadata"];
        if !enabled.iter().any(|n| n == ns) || t.is_null() {
            continue;
        }
        let opted_out = t["annotations"]["appmesh.k8s.aws/sidecarInjectorWebhook"] == "disabled";
        let pod = labels(&t["labels"]);
        let selected = selectors
            .iter()
            .any(|(vns, sel)| vns == ns && selects(sel, &pod));
        if !opted_out && !selected {
            out.push(format!(
                "{} {address}: {} {ns}/{} has no VirtualNode and does not opt out of injection; \
                 App Mesh's webhook would reject its pods",
                spec.file,
                o["kind"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            ));
        }
    }
    out
}

fn load_generator_problems(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    if spec.defaults.get("load_generator").map(String::as_str) != Some("true") {
        out.push(format!(
            "{}: no load_generator variable defaulting to true",
            spec.file
        ));
    }
    let objects = spec.manifest_objects();
    let Some((_, config)) = objects
        .iter()
        .find(|(_, o)| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "load-generator")
    else {
        out.push(format!("{}: no load-generator ConfigMap", spec.file));
        return out;
    };
    if config["data"]["enabled"] != "true" {
        out.push(format!(
            "{}: the load generator's switch is {} with the variable's default",
            spec.file, config["data"]["enabled"]
        ));
    }
    if !objects
        .iter()
        .any(|(_, o)| o["kind"] == "Deployment" && o["metadata"]["name"] == "load-generator")
    {
        out.push(format!("{}: no load-generator Deployment", spec.file));
    }
    let workloads: Vec<(String, Vec<(String, String)>)> = objects
        .iter()
        .filter(|(_, o)| {
            matches!(
                o["kind"].as_str(),
                Some("Deployment" | "StatefulSet" | "DaemonSet")
            )
        })
        .map(|(_, o)| {
            (
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_string(),
                labels(&o["spec"]["template"]["metadata"]["labels"]),
            )
        })
        .collect();
    let targets = config["data"]["targets"].as_str().unwrap_or_default();
    if targets.split_whitespace().count() == 0 {
        out.push(format!("{}: the load generator has no targets", spec.file));
    }
    for target in targets.split_whitespace() {
        let host = target.split(':').next().unwrap_or_default();
        let mut parts = host.split('.');
        let (name, ns) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let service = objects.iter().find(|(_, o)| {
            o["kind"] == "Service"
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"] == ns
        });
        let Some((_, service)) = service else {
            out.push(format!(
                "{}: the load generator calls {target}, which is no Service of the spec",
                spec.file
            ));
            continue;
        };
        let selector = labels(&service["spec"]["selector"]);
        if !workloads
            .iter()
            .any(|(wns, pod)| wns == ns && selects(&selector, pod))
        {
            out.push(format!(
                "{}: the load generator calls {target}, a Service with no pods behind it",
                spec.file
            ));
        }
    }
    out
}

#[test]
fn every_pod_in_an_app_mesh_namespace_is_meshed_or_opts_out() {
    let mut all = Vec::new();
    for spec in spec::all() {
        all.extend(appmesh_problems(&spec));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
    // Without its opt-out, the unmeshed load generator would be rejected.
    let mut spec = Spec::load("meshmon.toml");
    let lg = spec
        .resources
        .get_mut("k8s_manifest.load_generator")
        .expect("the load generator");
    let text = lg["content"].as_str().unwrap_or_default().replace(
        "appmesh.k8s.aws/sidecarInjectorWebhook: disabled",
        "example.org/x: y",
    );
    lg["content"] = Json::String(text);
    assert_eq!(
        appmesh_problems(&spec).len(),
        1,
        "{:?}",
        appmesh_problems(&spec)
    );
}

#[test]
fn every_example_runs_a_load_generator_that_calls_services_with_pods() {
    let mut all = Vec::new();
    // A spec that looks its cluster up runs no sample there: the traffic is
    // the cluster's own.
    for spec in spec::all().into_iter().filter(|s| s.builds_cluster()) {
        all.extend(load_generator_problems(&spec));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
    // App Mesh's jazz Service has no selector: calling it from outside the
    // mesh reaches nothing.
    let mut spec = Spec::load("meshmon.toml");
    let cm = spec
        .resources
        .get_mut("k8s_manifest.load_generator_config")
        .expect("the load generator's ConfigMap");
    let text = cm["content"]
        .as_str()
        .unwrap_or_default()
        .replace("jazz-v1.prod", "jazz.prod");
    cm["content"] = Json::String(text);
    let p = load_generator_problems(&spec);
    assert!(p.iter().any(|x| x.contains("no pods behind it")), "{p:?}");
}
