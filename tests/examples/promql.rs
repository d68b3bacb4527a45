//! Every PromQL expression of the examples reads what its stack's scrape
//! targets export, per `tests/data/metric-catalogue.toml`: a selector that
//! names a metric or label the stack does not have, a `by (…)` or legend
//! label no selector carries, or a label value outside a known set (Istio's
//! `response_code_class="2xx"` against plain Envoy's `"2"`) fails, naming
//! the query. On the Istio stack, every Envoy stat a query reads must also
//! be kept by the spec's `proxyStatsMatcher` or Istio's default inclusion
//! list: a sidecar drops the rest before anyone can scrape it.

use std::collections::{BTreeMap, BTreeSet};

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, LabelModifier, VectorSelector};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::queries::{self, Query, VAR_MARK};
use crate::spec::{self, Spec};

#[derive(Deserialize)]
pub struct Catalogue {
    pub stacks: BTreeMap<String, Stack>,
}

#[derive(Clone, Deserialize)]
pub struct Stack {
    pub specs: Vec<String>,
    pub target_labels: Vec<String>,
    /// Labels one spec's collectors add besides the stack's (the fleet's
    /// `cluster`), by spec.
    #[serde(default)]
    pub spec_labels: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub values: BTreeMap<String, Vec<String>>,
    pub metrics: Vec<Group>,
}

#[derive(Clone, Deserialize)]
pub struct Group {
    pub names: Vec<String>,
    pub labels: Vec<String>,
    #[serde(default)]
    pub histogram: bool,
    pub stat: Option<String>,
    pub source: String,
}

pub fn catalogue() -> Catalogue {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/metric-catalogue.toml");
    let text = std::fs::read_to_string(&path).expect("the metric catalogue");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Catalogue {
    /// The stack a spec belongs to, with the labels that spec's
    /// collectors add among its target labels.
    pub fn stack_of(&self, file: &str) -> (&str, Stack) {
        let (name, stack) = self
            .stacks
            .iter()
            .find(|(_, s)| s.specs.iter().any(|f| f == file))
            .unwrap_or_else(|| panic!("{file} is in no stack of the metric catalogue"));
        let mut stack = stack.clone();
        if let Some(extra) = stack.spec_labels.get(file) {
            stack.target_labels.extend(extra.iter().cloned());
        }
        (name.as_str(), stack)
    }
}

impl Stack {
    /// A series name's group and labels (a histogram's `_bucket` has `le`).
    pub fn series(&self, name: &str) -> Option<(&Group, BTreeSet<String>)> {
        for g in &self.metrics {
            for base in &g.names {
                let mut labels: BTreeSet<String> = g.labels.iter().cloned().collect();
                let hit = if g.histogram {
                    match name.strip_prefix(base.as_str()) {
                        Some("_bucket") => {
                            labels.insert("le".into());
                            true
                        }
                        Some("_sum" | "_count") => true,
                        _ => false,
                    }
                } else {
                    name == base
                };
                if hit {
                    labels.extend(self.target_labels.iter().cloned());
                    return Some((g, labels));
                }
            }
        }
        None
    }
}

fn selector_name(vs: &VectorSelector) -> Option<String> {
    vs.name.clone().or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone())
    })
}

/// What one query reads.
struct Walk<'a> {
    stack: &'a Stack,
    problems: Vec<String>,
    /// Metric names read.
    metrics: BTreeSet<String>,
}

impl Walk<'_> {
    /// Checks `e` and returns the labels its series can carry.
    fn expr(&mut self, e: &Expr) -> BTreeSet<String> {
        match e {
            Expr::VectorSelector(vs) => self.selector(vs),
            Expr::MatrixSelector(m) => self.selector(&m.vs),
            Expr::Aggregate(a) => {
                let inner = self.expr(&a.expr);
                if let Some(p) = &a.param {
                    self.expr(p);
                }
                match &a.modifier {
                    Some(m) => {
                        self.modifier(m, &inner, "aggregation");
                        match m {
                            LabelModifier::Include(l) => l.labels.iter().cloned().collect(),
                            LabelModifier::Exclude(l) => inner
                                .iter()
                                .filter(|x| !l.labels.contains(x))
                                .cloned()
                                .collect(),
                        }
                    }
                    None => BTreeSet::new(),
                }
            }
            Expr::Binary(b) => {
                let lhs = self.expr(&b.lhs);
                let rhs = self.expr(&b.rhs);
                let both: BTreeSet<String> = lhs.union(&rhs).cloned().collect();
                if let Some(m) = b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                    self.modifier(m, &both, "vector matching");
                }
                both
            }
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Unary(u) => self.expr(&u.expr),
            Expr::Subquery(s) => self.expr(&s.expr),
            Expr::Call(c) => {
                let mut labels = BTreeSet::new();
                for arg in &c.args.args {
                    labels.extend(self.expr(arg));
                }
                // label_replace and label_join make their destination label.
                if matches!(c.func.name, "label_replace" | "label_join")
                    && let Some(Expr::StringLiteral(s)) = c.args.args.get(1).map(|a| &**a)
                {
                    labels.insert(s.val.clone());
                }
                labels
            }
            _ => BTreeSet::new(),
        }
    }

    fn modifier(&mut self, m: &LabelModifier, known: &BTreeSet<String>, what: &str) {
        for l in &m.labels().labels {
            if !known.contains(l) {
                self.problems.push(format!(
                    "{what} names label `{l}`, which none of its series carries (they carry: {})",
                    known.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }

    fn selector(&mut self, vs: &VectorSelector) -> BTreeSet<String> {
        let Some(name) = selector_name(vs) else {
            self.problems
                .push(format!("selector `{vs}` names no metric"));
            return BTreeSet::new();
        };
        let Some((_, labels)) = self.stack.series(&name) else {
            self.problems.push(format!(
                "metric `{name}` is not exported by this stack's scrape targets"
            ));
            return BTreeSet::new();
        };
        self.metrics.insert(name.clone());
        let all = vs
            .matchers
            .matchers
            .iter()
            .chain(vs.matchers.or_matchers.iter().flatten());
        for m in all.filter(|m| m.name != "__name__") {
            if !labels.contains(&m.name) {
                self.problems.push(format!(
                    "`{name}` has no label `{}` (it has: {})",
                    m.name,
                    labels.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
                continue;
            }
            let Some(known) = self.stack.values.get(&m.name) else {
                continue;
            };
            if m.value.contains(VAR_MARK) {
                continue;
            }
            let fits = match &m.op {
                MatchOp::Equal => known.contains(&m.value),
                MatchOp::Re(_) => {
                    let re = regex::Regex::new(&format!("^(?:{})$", m.value))
                        .expect("a regex the parser accepted");
                    known.iter().any(|v| re.is_match(v))
                }
                // A negative matcher cannot select a value that does not exist.
                MatchOp::NotEqual | MatchOp::NotRe(_) => true,
            };
            if !fits {
                self.problems.push(format!(
                    "`{name}{{{}{}\"{}\"}}` matches no value `{}` takes ({})",
                    m.name,
                    match m.op {
                        MatchOp::Equal => "=",
                        _ => "=~",
                    },
                    m.value,
                    m.name,
                    known.join(", ")
                ));
            }
        }
        labels
    }
}

/// The problems of one query on `stack`, and the metrics it reads.
pub fn check(stack: &Stack, q: &Query) -> (Vec<String>, BTreeSet<String>) {
    let expr = match parser::parse(&q.expr) {
        Ok(e) => e,
        Err(e) => return (vec![format!("does not parse: {e}")], BTreeSet::new()),
    };
    let mut w = Walk {
        stack,
        problems: Vec::new(),
        metrics: BTreeSet::new(),
    };
    let labels = w.expr(&expr);
    if let Some(legend) = &q.legend {
        let mut rest = legend.as_str();
        while let Some(i) = rest.find("{{") {
            let inner = &rest[i + 2..];
            let end = inner.find("}}").unwrap_or(inner.len());
            let label = inner[..end].trim();
            if !labels.contains(label) {
                w.problems.push(format!(
                    "legend `{legend}` shows label `{label}`, which the query's result does not carry"
                ));
            }
            rest = &inner[end..];
        }
    }
    (w.problems, w.metrics)
}

/// The Envoy stats a sidecar of `spec` keeps: Istio's default inclusion
/// list plus the `proxyStatsMatcher` on the istiod chart of the spec's
/// cluster (for a spec that looks its cluster up, the one its header asks
/// for: [`Spec::in_its_cluster`]).
pub fn kept_by_istio(spec: &Spec) -> impl Fn(&str) -> bool {
    let spec = &spec.in_its_cluster();
    // istio/istio@release-1.28 pkg/bootstrap/config.go lines 60-67.
    let mut prefixes: Vec<String> = [
        "reporter=",
        "cluster_manager",
        "listener_manager",
        "server",
        "cluster.xds-grpc",
        "wasm",
        "component",
        "istio",
    ]
    .map(String::from)
    .to_vec();
    let mut suffixes: Vec<String> = [
        "rbac.allowed",
        "rbac.denied",
        "shadow_allowed",
        "shadow_denied",
    ]
    .map(String::from)
    .to_vec();
    let mut regexes = vec![r"vhost\..*\.route\..*".to_string()];
    let matcher = spec
        .of_type("helm_release")
        .find(|(_, b)| b["chart"] == "istiod")
        .map(|(_, b)| b["values"]["meshConfig"]["defaultConfig"]["proxyStatsMatcher"].clone())
        .unwrap_or(Json::Null);
    let list = |key: &str| -> Vec<String> {
        matcher[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    prefixes.extend(list("inclusionPrefixes"));
    suffixes.extend(list("inclusionSuffixes"));
    regexes.extend(list("inclusionRegexps"));
    // Envoy's safe_regex StringMatcher matches the whole stat name.
    let regexes: Vec<regex::Regex> = regexes
        .iter()
        .map(|r| regex::Regex::new(&format!("^(?:{r})$")).expect("a proxyStatsMatcher regex"))
        .collect();
    move |stat: &str| {
        prefixes.iter().any(|p| stat.starts_with(p.as_str()))
            || suffixes.iter().any(|s| stat.ends_with(s.as_str()))
            || regexes.iter().any(|r| r.is_match(stat))
    }
}

/// Every problem of every query of `spec`, one line each.
pub fn problems_of(cat: &Catalogue, spec: &Spec) -> Vec<String> {
    let (stack_name, stack) = cat.stack_of(&spec.file);
    let kept = (stack_name == "istio").then(|| kept_by_istio(spec));
    let mut out = Vec::new();
    for q in queries::of_spec(spec) {
        let (problems, metrics) = check(&stack, &q);
        for p in problems {
            out.push(format!("{} [{stack_name}]: {p}\n    {}", q.origin, q.expr));
        }
        if let Some(kept) = &kept {
            for m in metrics {
                let Some((g, _)) = stack.series(&m) else {
                    continue;
                };
                if let Some(stat) = &g.stat
                    && !kept(stat)
                {
                    out.push(format!(
                        "{} [{stack_name}]: reads `{m}`, but the sidecars drop its stat `{stat}`: \
                         no proxyStatsMatcher entry of helm_release.istiod keeps it",
                        q.origin
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_example_query_reads_what_its_stack_exports() {
    let cat = catalogue();
    let mut problems = Vec::new();
    let mut counted = BTreeMap::new();
    for spec in spec::all() {
        problems.extend(problems_of(&cat, &spec));
        counted.insert(spec.file.clone(), queries::of_spec(&spec).len());
    }
    assert!(
        counted.values().all(|n| *n > 0),
        "every example has queries: {counted:?}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_catalogue_entry_names_its_source_and_every_stack_its_specs() {
    let cat = catalogue();
    let mut assigned = Vec::new();
    for (name, stack) in &cat.stacks {
        for g in &stack.metrics {
            assert!(
                !g.source.trim().is_empty(),
                "{name}: {:?} has no source",
                g.names
            );
            if name == "istio" {
                assert!(
                    g.stat.is_some(),
                    "{name}: {:?} needs its Envoy stat",
                    g.names
                );
            }
        }
        assigned.extend(stack.specs.iter().cloned());
    }
    assigned.sort();
    let mut specs: Vec<String> = spec::SPECS.iter().map(|s| s.to_string()).collect();
    specs.sort();
    assert_eq!(assigned, specs, "each example spec is in exactly one stack");
}

/// The labels the catalogue says collectors add are what each collector
/// of each spec really sets (its relabel rules' `target_label`, Alloy's
/// `target_label = "…"`, the Agent's external labels), besides Prometheus'
/// own `job` and `instance`.
#[test]
fn the_catalogued_target_labels_are_set_by_every_collector_of_the_stack() {
    let cat = catalogue();
    for spec in spec::all() {
        let (name, stack) = cat.stack_of(&spec.file);
        let collectors = crate::scrape::collectors(&spec);
        let envoy: Vec<_> = collectors
            .iter()
            .filter_map(|c| c.envoy_target_labels.as_ref().map(|l| (c, l)))
            .collect();
        assert!(
            !envoy.is_empty(),
            "{}: no collector scrapes the sidecars",
            spec.file
        );
        for (c, set) in envoy {
            for label in stack
                .target_labels
                .iter()
                .filter(|l| *l != "job" && *l != "instance")
            {
                assert!(
                    set.contains(label),
                    "{} [{name}]: the collector {} does not set `{label}` on the Envoy targets \
                     (it sets {:?})",
                    spec.file,
                    c.origin,
                    set
                );
            }
        }
    }
}

/// The check catches what it exists for: plain Envoy's names on Istio, a
/// value in the other stack's form, a label no series carries, a stat the
/// sidecars drop.
#[test]
fn the_check_refuses_plain_envoy_names_on_istio_and_wrong_value_forms() {
    let cat = catalogue();
    let istio = &cat.stacks["istio"];
    let appmesh = &cat.stacks["appmesh"];
    let q = |expr: &str, legend: Option<&str>| Query {
        origin: "test".into(),
        expr: queries::substitute(expr),
        legend: legend.map(str::to_string),
    };
    let bad_on_istio = [
        (
            r#"sum(rate(envoy_cluster_upstream_rq_xx{namespace=~"$namespace"}[$__rate_interval])) by (envoy_response_code_class)"#,
            "envoy_cluster_upstream_rq_xx",
        ),
        (
            r#"sum(rate(envoy_cluster_upstream_rq{response_code_class="2"}[5m]))"#,
            "matches no value",
        ),
        (
            r#"sum(rate(envoy_cluster_upstream_rq{response_code_class=~"[1-5]"}[5m]))"#,
            "matches no value",
        ),
        (
            r#"sum(rate(istio_requests_total{reporter="server"}[5m]))"#,
            "matches no value",
        ),
        (
            r#"sum(rate(istio_requests_total[5m])) by (envoy_cluster_name)"#,
            "envoy_cluster_name",
        ),
        (
            r#"sum(envoy_cluster_upstream_cx_active{envoy_cluster_name="x"})"#,
            "no label `envoy_cluster_name`",
        ),
    ];
    for (expr, needle) in bad_on_istio {
        let (p, _) = check(istio, &q(expr, None));
        assert!(p.iter().any(|x| x.contains(needle)), "{expr}: {p:?}");
    }
    let (p, _) = check(
        istio,
        &q(
            r#"sum(rate(envoy_cluster_upstream_rq{response_code_class=~"[1-5]xx"}[5m])) by (response_code_class)"#,
            Some("{{envoy_response_code_class}}xx"),
        ),
    );
    assert!(p.iter().any(|x| x.contains("legend")), "{p:?}");
    let (p, _) = check(
        appmesh,
        &q(
            r#"sum(rate(envoy_http_downstream_rq_xx{envoy_response_code_class="5xx"}[5m]))"#,
            None,
        ),
    );
    assert!(p.iter().any(|x| x.contains("matches no value")), "{p:?}");
    let good = r#"sum(rate(envoy_cluster_upstream_rq{namespace=~"$namespace", response_code_class=~"[1-5]xx"}[$__rate_interval])) by (response_code_class)"#;
    assert_eq!(
        check(istio, &q(good, Some("{{response_code_class}}"))).0,
        Vec::<String>::new()
    );

    // A stat the matcher does not keep: upstream_rq_total is not in the
    // example's inclusion list, and Istio's defaults drop cluster stats.
    let spec = Spec::load("istio.toml");
    let kept = kept_by_istio(&spec);
    assert!(kept(
        "cluster.outbound|9080||jazz.prod.svc.cluster.local;.upstream_rq_2xx"
    ));
    assert!(kept("server.live"));
    assert!(!kept(
        "cluster.outbound|9080||jazz.prod.svc.cluster.local;.upstream_rq_total"
    ));
}
