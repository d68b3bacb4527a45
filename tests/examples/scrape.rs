//! One scrape per target. Every collector configuration an example ships —
//! the AMP managed collector's Prometheus configuration
//! (`examples/collector/`), Grafana Alloy's (helm_release.alloy) and the
//! Grafana Agent's (the ConfigMaps its DaemonSet and Deployment mount) —
//! runs against a two-node model of the example's cluster
//! (`cluster.rs`): every copy of every collector discovers targets,
//! applies its node filter and relabel rules, and the test counts how
//! often each target is scraped. A DaemonSet whose copies all scrape every
//! pod writes each series twice; a target no job keeps is never seen.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use crate::cluster::{self, Cluster, Labels, NODES};
use crate::spec::{self, Spec, yaml_documents};

/// One relabel rule (Prometheus `relabel_configs`, Alloy `rule`).
#[derive(Clone, Debug, Default)]
pub struct Rule {
    source_labels: Vec<String>,
    separator: Option<String>,
    regex: Option<String>,
    target_label: Option<String>,
    replacement: Option<String>,
    action: Option<String>,
}

/// Applies `rules`; `false` when the target is dropped.
pub fn relabel(labels: &mut Labels, rules: &[Rule]) -> bool {
    for r in rules {
        let value = r
            .source_labels
            .iter()
            .map(|s| labels.get(s).cloned().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(r.separator.as_deref().unwrap_or(";"));
        let re = regex::Regex::new(&format!("^(?:{})$", r.regex.as_deref().unwrap_or("(.*)")))
            .expect("a relabel regex");
        let replacement = r.replacement.as_deref().unwrap_or("$1");
        match r.action.as_deref().unwrap_or("replace") {
            "keep" if !re.is_match(&value) => return false,
            "drop" if re.is_match(&value) => return false,
            "replace" => {
                if let (Some(caps), Some(target)) = (re.captures(&value), &r.target_label) {
                    let mut out = String::new();
                    caps.expand(replacement, &mut out);
                    if out.is_empty() {
                        labels.remove(target);
                    } else {
                        labels.insert(target.clone(), out);
                    }
                }
            }
            "labelmap" => {
                let matched: Vec<(String, String)> = labels
                    .iter()
                    .filter_map(|(k, v)| {
                        let caps = re.captures(k)?;
                        let mut name = String::new();
                        caps.expand(replacement, &mut name);
                        Some((name, v.clone()))
                    })
                    .collect();
                labels.extend(matched);
            }
            _ => {}
        }
    }
    true
}

/// One scrape job of one collector.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub role: String,
    pub namespaces: Vec<String>,
    /// Discovery limited to the collector copy's own node (`spec.nodeName`
    /// field selector, Grafana Agent `host_filter`).
    pub own_node_only: bool,
    /// Targets shared out between the copies (Alloy clustering).
    pub clustered: bool,
    pub metrics_path: String,
    pub rules: Vec<Rule>,
}

/// A collector and where its copies run.
pub struct Collector {
    pub origin: String,
    /// One entry per copy: the node it runs on.
    pub copies: Vec<String>,
    pub jobs: Vec<Job>,
    pub external_labels: BTreeSet<String>,
    /// The labels it leaves on an Envoy sidecar's series, external labels
    /// included; `None` when it scrapes no sidecar.
    pub envoy_target_labels: Option<BTreeSet<String>>,
}

fn rules_from_yaml(v: &Json) -> Vec<Rule> {
    let s = |x: &Json| {
        x.as_str()
            .map(str::to_string)
            .or_else(|| (!x.is_null()).then(|| x.to_string()))
    };
    v.as_array()
        .into_iter()
        .flatten()
        .map(|r| Rule {
            source_labels: r["source_labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            separator: s(&r["separator"]),
            regex: s(&r["regex"]),
            target_label: s(&r["target_label"]),
            replacement: s(&r["replacement"]),
            action: s(&r["action"]),
        })
        .collect()
}

/// The jobs of a Prometheus-style `scrape_configs` list.
fn prometheus_jobs(scrape_configs: &Json, host_filter: bool) -> Vec<Job> {
    let mut out = Vec::new();
    for c in scrape_configs.as_array().into_iter().flatten() {
        for sd in c["kubernetes_sd_configs"].as_array().into_iter().flatten() {
            let own_node = sd["selectors"].as_array().into_iter().flatten().any(|s| {
                s["field"]
                    .as_str()
                    .is_some_and(|f| f.starts_with("spec.nodeName="))
            });
            out.push(Job {
                name: c["job_name"].as_str().unwrap_or_default().to_string(),
                role: sd["role"].as_str().unwrap_or_default().to_string(),
                namespaces: sd["namespaces"]["names"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect(),
                own_node_only: host_filter || own_node,
                clustered: false,
                metrics_path: c["metrics_path"].as_str().unwrap_or("/metrics").to_string(),
                rules: rules_from_yaml(&c["relabel_configs"]),
            });
        }
    }
    out
}

/// A tiny reader for the part of Alloy's configuration syntax the example
/// uses: blocks `NAME "LABEL" { … }` and `NAME { … }`, attributes
/// `key = value` (strings, lists of strings, references, `+` and
/// `coalesce(sys.env("HOSTNAME"), constants.hostname)`).
mod alloy {
    #[derive(Debug, Default, Clone)]
    pub struct Block {
        pub name: String,
        pub label: Option<String>,
        pub attrs: Vec<(String, String)>,
        pub blocks: Vec<Block>,
    }

    impl Block {
        pub fn attr(&self, key: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }
    }

    pub fn parse(text: &str) -> Vec<Block> {
        let mut stack: Vec<Block> = vec![Block::default()];
        let mut pending = String::new();
        for raw in text.lines() {
            let line = raw.split("//").next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            if !pending.is_empty() {
                pending.push(' ');
                pending.push_str(line);
                if balanced(&pending) {
                    let (k, v) = pending.split_once('=').expect("an attribute");
                    let (k, v) = (k.trim().to_string(), v.trim().to_string());
                    stack.last_mut().expect("a block").attrs.push((k, v));
                    pending.clear();
                }
                continue;
            }
            if line == "}" {
                let done = stack.pop().expect("an open block");
                stack.last_mut().expect("a parent block").blocks.push(done);
            } else if let Some(head) = line.strip_suffix('{') {
                let head = head.trim();
                let (name, label) = match head.split_once(' ') {
                    Some((n, l)) => (n.to_string(), Some(l.trim().trim_matches('"').to_string())),
                    None => (head.to_string(), None),
                };
                stack.push(Block {
                    name,
                    label,
                    ..Block::default()
                });
            } else if line.contains('=') {
                if balanced(line) {
                    let (k, v) = line.split_once('=').expect("an attribute");
                    stack
                        .last_mut()
                        .expect("a block")
                        .attrs
                        .push((k.trim().to_string(), v.trim().to_string()));
                } else {
                    pending = line.to_string();
                }
            }
        }
        stack.pop().map(|b| b.blocks).unwrap_or_default()
    }

    fn balanced(s: &str) -> bool {
        let open = s.matches(['[', '(']).count();
        let close = s.matches([']', ')']).count();
        open == close
    }

    /// A string-valued expression, with `sys.env(NAME)` from `env`.
    pub fn eval(expr: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        for term in split_top(expr, '+') {
            let t = term.trim();
            if let Some(s) = t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                out.push_str(&s.replace("\\\\", "\\").replace("\\\"", "\""));
            } else if let Some(inner) = t
                .strip_prefix("coalesce(")
                .and_then(|s| s.strip_suffix(')'))
            {
                out.push_str(
                    &split_top(inner, ',')
                        .iter()
                        .find_map(|a| eval(a, env).filter(|v| !v.is_empty()))?,
                );
            } else if let Some(name) = t.strip_prefix("sys.env(").and_then(|s| s.strip_suffix(')'))
            {
                out.push_str(&env(name.trim().trim_matches('"')).unwrap_or_default());
            } else {
                return None;
            }
        }
        Some(out)
    }

    /// A list of strings `["a", "b"]`.
    pub fn strings(expr: &str) -> Vec<String> {
        let inner = expr.trim().trim_start_matches('[').trim_end_matches(']');
        split_top(inner, ',')
            .iter()
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn split_top(s: &str, sep: char) -> Vec<String> {
        let (mut out, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0, false);
        let mut prev = ' ';
        for c in s.chars() {
            match c {
                '"' if prev != '\\' => quoted = !quoted,
                '(' | '[' if !quoted => depth += 1,
                ')' | ']' if !quoted => depth -= 1,
                _ => {}
            }
            if c == sep && depth == 0 && !quoted {
                out.push(std::mem::take(&mut cur));
            } else {
                cur.push(c);
            }
            prev = c;
        }
        out.push(cur);
        out
    }
}

/// Alloy's jobs: each `prometheus.scrape` with the discovery and relabel
/// components its `targets` come through. `hostname` stands for the
/// `HOSTNAME` the chart sets (`spec.nodeName`, grafana/alloy chart
/// templates/containers/_agent.yaml).
fn alloy_jobs(config: &str) -> Vec<Job> {
    let blocks = alloy::parse(config);
    let find = |name: &str, label: &str| {
        blocks
            .iter()
            .find(|b| b.name == name && b.label.as_deref() == Some(label))
    };
    let mut out = Vec::new();
    for scrape in blocks.iter().filter(|b| b.name == "prometheus.scrape") {
        let mut rules = Vec::new();
        let mut source = scrape.attr("targets").unwrap_or_default().to_string();
        // Follow discovery.relabel.X.output back to discovery.kubernetes.Y.targets.
        let mut discovery = None;
        for _ in 0..8 {
            let parts: Vec<&str> = source.split('.').collect();
            match parts.as_slice() {
                ["discovery", "relabel", label, "output"] => {
                    let b =
                        find("discovery.relabel", label).expect("the discovery.relabel component");
                    let mut these: Vec<Rule> = b
                        .blocks
                        .iter()
                        .filter(|r| r.name == "rule")
                        .map(|r| Rule {
                            source_labels: r
                                .attr("source_labels")
                                .map(alloy::strings)
                                .unwrap_or_default(),
                            separator: r.attr("separator").and_then(|v| alloy::eval(v, &|_| None)),
                            regex: r.attr("regex").and_then(|v| alloy::eval(v, &|_| None)),
                            target_label: r
                                .attr("target_label")
                                .and_then(|v| alloy::eval(v, &|_| None)),
                            replacement: r
                                .attr("replacement")
                                .and_then(|v| alloy::eval(v, &|_| None)),
                            action: r.attr("action").and_then(|v| alloy::eval(v, &|_| None)),
                        })
                        .collect();
                    these.extend(rules);
                    rules = these;
                    source = b.attr("targets").unwrap_or_default().to_string();
                }
                ["discovery", "kubernetes", label, "targets"] => {
                    discovery = find("discovery.kubernetes", label);
                    break;
                }
                _ => panic!("Alloy: cannot follow targets = {source}"),
            }
        }
        let d = discovery.expect("a discovery.kubernetes component");
        let own_node = d.blocks.iter().filter(|s| s.name == "selectors").any(|s| {
            s.attr("field")
                .and_then(|f| {
                    alloy::eval(f, &|name| (name == "HOSTNAME").then(|| "NODE".to_string()))
                })
                .is_some_and(|f| f == "spec.nodeName=NODE")
        });
        let clustered = scrape
            .blocks
            .iter()
            .any(|b| b.name == "clustering" && b.attr("enabled") == Some("true"));
        out.push(Job {
            name: scrape.label.clone().unwrap_or_default(),
            role: d
                .attr("role")
                .and_then(|r| alloy::eval(r, &|_| None))
                .unwrap_or_default(),
            namespaces: d
                .blocks
                .iter()
                .find(|b| b.name == "namespaces")
                .and_then(|b| b.attr("names"))
                .map(alloy::strings)
                .unwrap_or_default(),
            own_node_only: own_node,
            clustered,
            metrics_path: scrape
                .attr("metrics_path")
                .and_then(|p| alloy::eval(p, &|_| None))
                .unwrap_or_else(|| "/metrics".into()),
            rules,
        });
    }
    out
}

/// Copies of a workload: one per node for a DaemonSet, else one per replica.
fn copies(kind: &str, replicas: u64) -> Vec<String> {
    match kind {
        "DaemonSet" => NODES.iter().map(|n| n.to_string()).collect(),
        _ => (0..replicas)
            .map(|i| NODES[i as usize % NODES.len()].to_string())
            .collect(),
    }
}

/// Every collector of a spec.
pub fn collectors(spec: &Spec) -> Vec<Collector> {
    let mut out = Vec::new();
    for (address, b) in spec.of_type("aws_amp_scraper") {
        let yaml = b["scrape_configuration"].as_str().unwrap_or_default();
        let doc = yaml_documents(yaml).pop().unwrap_or(Json::Null);
        out.push(Collector {
            origin: format!("{} {address}", spec.file),
            // The managed collector runs outside the cluster, once.
            copies: vec!["(managed)".into()],
            jobs: prometheus_jobs(&doc["scrape_configs"], false),
            external_labels: BTreeSet::new(),
            envoy_target_labels: None,
        });
    }
    for (address, b) in spec
        .of_type("helm_release")
        .filter(|(_, b)| b["chart"] == "alloy")
    {
        let v = &b["values"];
        let config = v["alloy"]["configMap"]["content"]
            .as_str()
            .unwrap_or_default();
        let kind = match v["controller"]["type"].as_str() {
            Some("deployment") => "Deployment",
            Some("statefulset") => "StatefulSet",
            _ => "DaemonSet",
        };
        out.push(Collector {
            origin: format!("{} {address}", spec.file),
            copies: copies(kind, v["controller"]["replicas"].as_u64().unwrap_or(1)),
            jobs: alloy_jobs(config),
            external_labels: BTreeSet::new(),
            envoy_target_labels: None,
        });
    }
    // The Grafana Agent: each workload running grafana/agent, with the
    // ConfigMap it mounts.
    let objects = spec.manifest_objects();
    for (address, o) in &objects {
        let t = &o["spec"]["template"]["spec"];
        let runs_agent = t["containers"].as_array().into_iter().flatten().any(|c| {
            c["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("grafana/agent"))
        });
        if !runs_agent {
            continue;
        }
        let Some(cm_name) = t["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|v| v["configMap"]["name"].as_str())
        else {
            continue;
        };
        let cm = objects
            .iter()
            .find(|(_, c)| c["kind"] == "ConfigMap" && c["metadata"]["name"] == cm_name)
            .unwrap_or_else(|| panic!("{}: the Agent's ConfigMap {cm_name}", spec.file));
        let agent = yaml_documents(cm.1["data"]["agent.yaml"].as_str().unwrap_or_default())
            .pop()
            .unwrap_or(Json::Null);
        let mut jobs = Vec::new();
        for c in agent["metrics"]["configs"].as_array().into_iter().flatten() {
            jobs.extend(prometheus_jobs(
                &c["scrape_configs"],
                c["host_filter"] == true,
            ));
        }
        let external_labels = agent["metrics"]["global"]["external_labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        out.push(Collector {
            origin: format!(
                "{} {address} {} {}",
                spec.file,
                o["kind"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            ),
            copies: copies(
                o["kind"].as_str().unwrap_or_default(),
                o["spec"]["replicas"].as_u64().unwrap_or(1),
            ),
            jobs,
            external_labels,
            envoy_target_labels: None,
        });
    }
    // What each collector leaves on an Envoy sidecar's series.
    let c = cluster::build(spec);
    let sidecars: BTreeSet<(String, String)> = cluster::sidecar_stats(&c).into_iter().collect();
    for col in &mut out {
        let mut labels: Option<BTreeSet<String>> = None;
        for (key, (_, final_labels)) in scrapes_of(&c, col) {
            if sidecars.contains(&key) {
                labels
                    .get_or_insert_default()
                    .extend(final_labels.into_keys());
            }
        }
        if let Some(l) = labels.as_mut() {
            l.extend(col.external_labels.iter().cloned());
        }
        col.envoy_target_labels = labels;
    }
    out
}

/// (address, path) → (who scrapes it, the target's final labels), per scrape.
type Scrapes = Vec<((String, String), (String, Labels))>;

fn scrapes_of(c: &Cluster, col: &Collector) -> Scrapes {
    let mut out = Vec::new();
    for (copy_index, node) in col.copies.iter().enumerate() {
        for job in &col.jobs {
            for mut t in cluster::discover(c, &job.role) {
                if !job.namespaces.is_empty()
                    && !job
                        .namespaces
                        .iter()
                        .any(|n| t.get("__meta_kubernetes_namespace") == Some(n))
                {
                    continue;
                }
                if job.own_node_only {
                    // Pods on the copy's node; nodes by name (the Agent's
                    // host filter also matches __meta_kubernetes_node_name).
                    let on = t
                        .get("__meta_kubernetes_pod_node_name")
                        .or(t.get("__meta_kubernetes_node_name"));
                    if on != Some(node) {
                        continue;
                    }
                }
                t.insert("__metrics_path__".into(), job.metrics_path.clone());
                t.insert("job".into(), job.name.clone());
                if !relabel(&mut t, &job.rules) {
                    continue;
                }
                if job.clustered {
                    // Consistent hashing gives each target to one copy.
                    let h = t["__address__"].bytes().map(usize::from).sum::<usize>();
                    if h % col.copies.len() != copy_index {
                        continue;
                    }
                }
                let key = (t["__address__"].clone(), t["__metrics_path__"].clone());
                let instance = t["__address__"].clone();
                t.entry("instance".into()).or_insert(instance);
                let kept: Labels = t
                    .into_iter()
                    .filter(|(k, _)| !k.starts_with("__"))
                    .collect();
                out.push((
                    key,
                    (
                        format!("{} (copy on {node}) job {}", col.origin, job.name),
                        kept,
                    ),
                ));
            }
        }
    }
    out
}

/// How often each target of `spec`'s cluster is scraped, and by whom.
pub fn count(spec: &Spec) -> (Cluster, BTreeMap<(String, String), Vec<String>>) {
    let c = cluster::build(spec);
    let mut seen: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for col in collectors(spec) {
        for (key, (who, _)) in scrapes_of(&c, &col) {
            seen.entry(key).or_default().push(who);
        }
    }
    (c, seen)
}

/// The problems: targets scraped more than once, sidecars never scraped.
pub fn problems(spec: &Spec) -> Vec<String> {
    let (c, seen) = count(spec);
    let mut out: Vec<String> = seen
        .iter()
        .filter(|(_, by)| by.len() > 1)
        .map(|((addr, path), by)| {
            format!(
                "{}: {addr}{path} is scraped {} times: {}",
                spec.file,
                by.len(),
                by.join("; ")
            )
        })
        .collect();
    for key in cluster::sidecar_stats(&c) {
        if !seen.contains_key(&key) {
            out.push(format!(
                "{}: the sidecar stats at {}{} are never scraped",
                spec.file, key.0, key.1
            ));
        }
    }
    out
}

#[test]
fn every_target_of_every_example_is_scraped_once() {
    let mut all = Vec::new();
    for spec in spec::all() {
        let (c, seen) = count(&spec);
        assert!(
            !cluster::sidecar_stats(&c).is_empty(),
            "{}: no sidecars in the model",
            spec.file
        );
        assert!(!seen.is_empty(), "{}: nothing scraped", spec.file);
        all.extend(problems(&spec));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

/// The count catches a DaemonSet that scrapes the whole cluster from each
/// node: Alloy without its node selector, the Agent without host_filter.
#[test]
fn a_daemonset_collector_without_a_node_filter_scrapes_each_sidecar_twice() {
    let mut alloy = Spec::load("istio-alloy.toml");
    let release = alloy
        .resources
        .iter_mut()
        .find(|(a, _)| a.starts_with("helm_release.alloy"))
        .map(|(_, b)| b)
        .expect("helm_release.alloy");
    let config = release["values"]["alloy"]["configMap"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let start = config
        .find("  selectors {")
        .expect("the example's node selector");
    let end = start + config[start..].find("  }\n").expect("its end") + 4;
    let without = format!("{}{}", &config[..start], &config[end..]);
    release["values"]["alloy"]["configMap"]["content"] = Json::String(without);
    let p = problems(&alloy);
    assert!(p.iter().any(|x| x.contains("scraped 2 times")), "{p:#?}");

    let mut agent = Spec::load("meshmon.toml");
    let cm = agent
        .resources
        .get_mut("k8s_manifest.grafana_agent_config")
        .expect("the Agent's ConfigMaps");
    let text = cm["content"]
        .as_str()
        .unwrap_or_default()
        .replace("host_filter: true", "host_filter: false");
    cm["content"] = Json::String(text);
    let p = problems(&agent);
    assert!(
        p.iter()
            .any(|x| x.contains(":9901/stats/prometheus is scraped 2 times")),
        "{p:#?}"
    );
}
