//! The examples checked by the real tools: `promtool check rules` on every
//! AMP rule group, and on every dashboard query, template variable query
//! and Grafana alert query wrapped as recording rules (Grafana's variables
//! substituted); `amtool check-config` on the `alertmanager_config` of
//! every Alertmanager definition. They parse and validate as Prometheus
//! and Alertmanager themselves do, which promql-parser and a YAML reader
//! cannot promise.
//!
//! promtool and amtool come from Debian's prometheus and
//! prometheus-alertmanager packages; `scripts/test` finds them on PATH or
//! fetches them and exports `MESHMON_PROMTOOL` and `MESHMON_AMTOOL`. A
//! missing tool fails these tests: a check that cannot run must not pass.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value as Json, json};

use crate::queries;
use crate::spec::{self, Spec, yaml_documents};

/// A tool from `var`, else from PATH; missing, the test fails saying how
/// to get it.
fn tool(var: &str, name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        });
    match path {
        Some(p) if p.is_file() => p,
        _ => panic!(
            "{name} not found ({var} unset and not on PATH): these tests check the examples with it. \
             Run them through `scripts/test`, which fetches it, or install Debian's {package} package \
             (apt-get install {package}) and set {var}"
        ),
    }
}

/// Runs `tool args… FILE` on `content` written to a temporary file;
/// `Err(output)` when the tool says no.
fn check(tool: &PathBuf, args: &[&str], content: &str, name: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join(name);
    std::fs::write(&file, content).expect("write the file to check");
    let out = Command::new(tool)
        .args(args)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}\n--- {name}\n{content}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Every query of a spec that is not itself in a rule file, as one
/// recording-rule group per origin.
fn queries_as_rules(spec: &Spec) -> String {
    let mut rules = Vec::new();
    for (i, q) in queries::of_spec(spec)
        .into_iter()
        .filter(|q| !q.origin.contains("aws_amp_rule_groups_namespace"))
        .enumerate()
    {
        rules.push(json!({
            "record": format!("meshmon_example:query_{i}"),
            "expr": q.expr,
            "labels": { "origin": q.origin },
        }));
    }
    let doc =
        json!({ "groups": [{ "name": format!("queries of {}", spec.file), "rules": rules }] });
    serde_yaml_ng::to_string(&doc).expect("rules as YAML")
}

/// Values for what only exists after an apply, so that the tools see the
/// kind of value AWS would put there.
fn placeholders(spec: &Spec, text: &str) -> String {
    let mut out = text.to_string();
    let region = spec.defaults.get("region").cloned().unwrap_or_default();
    for (address, body) in spec.of_type("aws_sns_topic") {
        let name = body["name"].as_str().unwrap_or_default();
        out = out.replace(
            &format!("${{{address}.arn}}"),
            &format!("arn:aws:sns:{region}:123456789012:{name}"),
        );
    }
    out
}

#[test]
fn promtool_accepts_every_amp_rule_group_and_every_query() {
    let promtool = tool("MESHMON_PROMTOOL", "promtool", "prometheus");
    let mut failures = Vec::new();
    let mut checked = 0;
    for spec in spec::all() {
        for (address, body) in spec.of_type("aws_amp_rule_groups_namespace") {
            checked += 1;
            let data = body["data"].as_str().unwrap_or_default();
            if let Err(e) = check(&promtool, &["check", "rules"], data, "rules.yaml") {
                failures.push(format!("{} {address}: {e}", spec.file));
            }
        }
        checked += 1;
        let rules = queries_as_rules(&spec);
        if let Err(e) = check(&promtool, &["check", "rules"], &rules, "queries.yaml") {
            failures.push(format!("{}: queries: {e}", spec.file));
        }
    }
    assert!(checked > 3, "nothing checked");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn amtool_accepts_every_alertmanager_definition() {
    let amtool = tool("MESHMON_AMTOOL", "amtool", "prometheus-alertmanager");
    let mut failures = Vec::new();
    let mut checked = 0;
    for spec in spec::all() {
        for (address, body) in spec.of_type("aws_amp_alert_manager_definition") {
            checked += 1;
            let definition = yaml_documents(body["definition"].as_str().unwrap_or_default());
            let config = match definition.first().map(|d| &d["alertmanager_config"]) {
                Some(Json::String(s)) => s.clone(),
                Some(v) if v.is_object() => serde_yaml_ng::to_string(v).expect("YAML"),
                _ => {
                    failures.push(format!("{} {address}: no alertmanager_config", spec.file));
                    continue;
                }
            };
            let config = placeholders(&spec, &config);
            if let Err(e) = check(&amtool, &["check-config"], &config, "alertmanager.yaml") {
                failures.push(format!("{} {address}: {e}", spec.file));
            }
        }
    }
    assert!(checked > 0, "no Alertmanager definition in the examples");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The tools do refuse: a query that does not parse, a receiver without
/// a destination.
#[test]
fn the_tools_refuse_a_broken_query_and_a_broken_receiver() {
    let promtool = tool("MESHMON_PROMTOOL", "promtool", "prometheus");
    let amtool = tool("MESHMON_AMTOOL", "amtool", "prometheus-alertmanager");
    let broken = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(rate(x[5m]) by (le)\n";
    assert!(check(&promtool, &["check", "rules"], broken, "r.yaml").is_err());
    let fine = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(rate(x[5m])) by (le)\n";
    assert_eq!(
        check(&promtool, &["check", "rules"], fine, "r.yaml"),
        Ok(())
    );
    let receiver = "route:\n  receiver: sns\nreceivers:\n  - name: sns\n    sns_configs:\n      - sigv4:\n          region: eu-west-1\n";
    assert!(check(&amtool, &["check-config"], receiver, "a.yaml").is_err());
}
