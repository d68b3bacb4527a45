//! A small model of the cluster an example builds, for counting scrapes:
//! two nodes, the pods of every Deployment and DaemonSet the spec applies
//! (its manifests and the Helm charts it installs), the sidecar the mesh
//! injects into them, the Services' endpoints, and the targets Prometheus'
//! Kubernetes discovery makes of them (`role: pod`, `endpoints`, `node`)
//! with the `__meta_kubernetes_*` labels it documents
//! (https://prometheus.io/docs/prometheus/latest/configuration/configuration/#kubernetes_sd_config).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::spec::Spec;

pub const NODES: [&str; 2] = ["node-a", "node-b"];

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    pub ports: Vec<(String, u16)>,
    /// Injected by the mesh: the Envoy whose stats the dashboards read.
    pub sidecar: bool,
}

#[derive(Clone, Debug)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub node: String,
    pub ip: String,
    pub labels: Labels,
    pub annotations: Labels,
    pub containers: Vec<Container>,
}

pub struct Cluster {
    pub pods: Vec<Pod>,
    /// (namespace, service, port name, port, pod index or None, ip)
    pub endpoints: Vec<(String, String, String, u16, Option<usize>, String)>,
}

/// The stats endpoint of every injected sidecar: (address, path).
pub fn sidecar_stats(c: &Cluster) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in &c.pods {
        for k in p.containers.iter().filter(|k| k.sidecar) {
            for (_, port) in &k.ports {
                out.push((format!("{}:{port}", p.ip), "/stats/prometheus".to_string()));
            }
        }
    }
    out
}

fn strings(v: &Json) -> Labels {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map(str::to_string).unwrap_or(v.to_string()),
            )
        })
        .collect()
}

fn containers(template: &Json) -> Vec<Container> {
    template["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Container {
            name: c["name"].as_str().unwrap_or_default().to_string(),
            ports: c["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or_default().to_string(),
                        p["containerPort"].as_u64().unwrap_or(0) as u16,
                    )
                })
                .collect(),
            sidecar: false,
        })
        .collect()
}

/// What injects a sidecar into `pod`, per the mesh of the spec.
fn inject(
    spec: &Spec,
    ns_labels: &BTreeMap<String, Labels>,
    virtual_nodes: &[(String, Labels)],
    pod: &mut Pod,
) {
    let ns = ns_labels.get(&pod.namespace).cloned().unwrap_or_default();
    // Istio: the namespace label istio-injection=enabled (or the pod label
    // sidecar.istio.io/inject) makes istiod's webhook add `istio-proxy`,
    // which declares containerPort 15090 named http-envoy-prom
    // (istio/istio@release-1.28 manifests/charts/istio-control/istio-discovery/files/injection-template.yaml).
    let istio = spec
        .of_type("helm_release")
        .any(|(_, b)| b["chart"] == "istiod");
    let wanted = pod
        .labels
        .get("sidecar.istio.io/inject")
        .map(String::as_str);
    if istio
        && wanted != Some("false")
        && (ns.get("istio-injection").map(String::as_str) == Some("enabled")
            || wanted == Some("true"))
    {
        pod.containers.push(Container {
            name: "istio-proxy".into(),
            ports: vec![("http-envoy-prom".into(), 15090)],
            sidecar: true,
        });
    }
    // App Mesh: a namespace labelled appmesh.k8s.aws/sidecarInjectorWebhook
    // =enabled and a VirtualNode selecting the pod make the controller add
    // `envoy` with one port named stats, the admin port 9901
    // (aws/aws-app-mesh-controller-for-k8s pkg/inject/sidecar_builder.go,
    // buildEnvoySidecar; the chart's sidecar.envoyAdminAccessPort: 9901).
    // A pod's own annotation overrides the namespace's label
    // (pkg/inject/inject.go, determineSidecarInjectMode).
    let mode = pod
        .annotations
        .get("appmesh.k8s.aws/sidecarInjectorWebhook")
        .or(ns.get("appmesh.k8s.aws/sidecarInjectorWebhook"));
    let appmesh = mode.map(String::as_str) == Some("enabled");
    let selected = virtual_nodes.iter().any(|(vns, sel)| {
        *vns == pod.namespace
            && !sel.is_empty()
            && sel.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
    });
    if appmesh && selected {
        pod.containers.push(Container {
            name: "envoy".into(),
            ports: vec![("stats".into(), 9901)],
            sidecar: true,
        });
    }
}

/// Workloads the spec's Helm charts run (the charts themselves are not in
/// the repository): namespace, name, kind, template, Services.
fn chart_workloads(spec: &Spec) -> Vec<Json> {
    let mut out = Vec::new();
    for (_, b) in spec.of_type("helm_release") {
        let ns = b["namespace"].as_str().unwrap_or_default();
        match b["chart"].as_str() {
            // istiod's Deployment and Service; the Service's port 15014 is
            // named http-monitoring (istio/istio
            // manifests/charts/istio-control/istio-discovery/templates/service.yaml).
            Some("istiod") => out.extend([
                serde_json::json!({"kind": "Deployment", "metadata": {"namespace": ns, "name": "istiod"},
                    "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "istiod"}},
                        "spec": {"containers": [{"name": "discovery", "ports": [{"containerPort": 15014}, {"containerPort": 15010}]}]}}}}),
                serde_json::json!({"kind": "Service", "metadata": {"namespace": ns, "name": "istiod"},
                    "spec": {"selector": {"app": "istiod"}, "ports": [{"name": "http-monitoring", "port": 15014}]}}),
            ]),
            // grafana/alloy chart 1.11.1: controller.type defaults to
            // daemonset; the container serves port 12345 named http-metrics.
            Some("alloy") => {
                let kind = match b["values"]["controller"]["type"].as_str() {
                    Some("deployment") => "Deployment",
                    Some("statefulset") => "StatefulSet",
                    _ => "DaemonSet",
                };
                let replicas = b["values"]["controller"]["replicas"].as_u64().unwrap_or(1);
                out.push(serde_json::json!({"kind": kind, "metadata": {"namespace": ns, "name": "alloy"},
                    "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app.kubernetes.io/name": "alloy"}},
                        "spec": {"containers": [{"name": "alloy", "ports": [{"name": "http-metrics", "containerPort": 12345}]}]}}}}));
            }
            _ => {}
        }
    }
    out
}

pub fn build(spec: &Spec) -> Cluster {
    let spec = &spec.in_its_cluster();
    let mut ns_labels: BTreeMap<String, Labels> = BTreeMap::new();
    for (_, b) in spec.of_type("k8s_namespace") {
        ns_labels.insert(
            b["name"].as_str().unwrap_or_default().to_string(),
            strings(&b["labels"]),
        );
    }
    let mut objects: Vec<Json> = spec
        .manifest_objects()
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    objects.extend(chart_workloads(spec));
    let virtual_nodes: Vec<(String, Labels)> = objects
        .iter()
        .filter(|o| o["kind"] == "VirtualNode")
        .map(|o| {
            (
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                strings(&o["spec"]["podSelector"]["matchLabels"]),
            )
        })
        .collect();
    let mut pods = Vec::new();
    for o in &objects {
        let copies: Vec<String> = match o["kind"].as_str() {
            Some("DaemonSet") => NODES.iter().map(|n| n.to_string()).collect(),
            Some("Deployment" | "StatefulSet") => (0..o["spec"]["replicas"].as_u64().unwrap_or(1))
                .map(|i| NODES[i as usize % NODES.len()].to_string())
                .collect(),
            _ => continue,
        };
        let t = &o["spec"]["template"];
        for (i, node) in copies.into_iter().enumerate() {
            let n = pods.len() + 1;
            let mut pod = Pod {
                namespace: o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_string(),
                name: format!("{}-{i}", o["metadata"]["name"].as_str().unwrap_or_default()),
                node,
                ip: format!("10.0.{}.{}", n / 250, n % 250 + 1),
                labels: strings(&t["metadata"]["labels"]),
                annotations: strings(&t["metadata"]["annotations"]),
                containers: containers(t),
            };
            inject(spec, &ns_labels, &virtual_nodes, &mut pod);
            pods.push(pod);
        }
    }
    let mut endpoints = Vec::new();
    for o in objects.iter().filter(|o| o["kind"] == "Service") {
        let ns = o["metadata"]["namespace"].as_str().unwrap_or("default");
        let name = o["metadata"]["name"].as_str().unwrap_or_default();
        let selector = strings(&o["spec"]["selector"]);
        if selector.is_empty() {
            continue;
        }
        for (i, p) in pods.iter().enumerate() {
            if p.namespace != ns || !selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)) {
                continue;
            }
            for port in o["spec"]["ports"].as_array().into_iter().flatten() {
                let number = port["targetPort"]
                    .as_u64()
                    .or(port["port"].as_u64())
                    .unwrap_or(0) as u16;
                let pname = port["name"].as_str().unwrap_or_default().to_string();
                endpoints.push((
                    ns.to_string(),
                    name.to_string(),
                    pname,
                    number,
                    Some(i),
                    p.ip.clone(),
                ));
            }
        }
    }
    // The API server, behind default/kubernetes, on two control-plane IPs.
    for ip in ["172.20.0.10", "172.20.0.11"] {
        endpoints.push((
            "default".into(),
            "kubernetes".into(),
            "https".into(),
            443,
            None,
            ip.into(),
        ));
    }
    Cluster { pods, endpoints }
}

/// The targets Kubernetes discovery of `role` makes, before relabeling.
pub fn discover(c: &Cluster, role: &str) -> Vec<Labels> {
    let mut out = Vec::new();
    let pod_meta = |p: &Pod, l: &mut Labels| {
        l.insert("__meta_kubernetes_namespace".into(), p.namespace.clone());
        l.insert("__meta_kubernetes_pod_name".into(), p.name.clone());
        l.insert("__meta_kubernetes_pod_ip".into(), p.ip.clone());
        l.insert("__meta_kubernetes_pod_node_name".into(), p.node.clone());
        for (k, v) in &p.labels {
            l.insert(
                format!("__meta_kubernetes_pod_label_{}", sanitize(k)),
                v.clone(),
            );
        }
        for (k, v) in &p.annotations {
            l.insert(
                format!("__meta_kubernetes_pod_annotation_{}", sanitize(k)),
                v.clone(),
            );
        }
    };
    match role {
        "pod" => {
            for p in &c.pods {
                for k in &p.containers {
                    // One target per declared port; a container without
                    // ports gets one port-free target.
                    let ports: Vec<Option<&(String, u16)>> = if k.ports.is_empty() {
                        vec![None]
                    } else {
                        k.ports.iter().map(Some).collect()
                    };
                    for port in ports {
                        let mut l = Labels::new();
                        pod_meta(p, &mut l);
                        l.insert(
                            "__meta_kubernetes_pod_container_name".into(),
                            k.name.clone(),
                        );
                        let addr = match port {
                            Some((name, n)) => {
                                l.insert(
                                    "__meta_kubernetes_pod_container_port_name".into(),
                                    name.clone(),
                                );
                                l.insert(
                                    "__meta_kubernetes_pod_container_port_number".into(),
                                    n.to_string(),
                                );
                                format!("{}:{n}", p.ip)
                            }
                            None => p.ip.clone(),
                        };
                        l.insert("__address__".into(), addr);
                        out.push(l);
                    }
                }
            }
        }
        "endpoints" => {
            for (ns, svc, pname, port, pod, ip) in &c.endpoints {
                let mut l = Labels::new();
                if let Some(i) = pod {
                    pod_meta(&c.pods[*i], &mut l);
                }
                l.insert("__meta_kubernetes_namespace".into(), ns.clone());
                l.insert("__meta_kubernetes_service_name".into(), svc.clone());
                l.insert("__meta_kubernetes_endpoint_port_name".into(), pname.clone());
                l.insert("__address__".into(), format!("{ip}:{port}"));
                out.push(l);
            }
        }
        "node" => {
            for (i, n) in NODES.iter().enumerate() {
                let mut l = Labels::new();
                l.insert("__meta_kubernetes_node_name".into(), n.to_string());
                l.insert("__address__".into(), format!("192.168.1.{}:10250", i + 10));
                out.push(l);
            }
        }
        _ => {}
    }
    out
}

/// Prometheus' label name sanitising: anything but [a-zA-Z0-9_] becomes _.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
