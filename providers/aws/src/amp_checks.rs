//! What AWS rejects in the YAML documents the AMP managed collector and
//! the AMP Alertmanager take, found before any request is sent: in the
//! plan (as notes under the resource) and again before create and update.
//! The checks read the documents as data, so comments, key order and
//! quoting do not matter. They cover the limits AWS documents, not all of
//! Prometheus: a document that passes here can still be refused by AWS.

use serde_yaml_ng::Value as Yaml;

/// The shortest scrape interval the managed collector accepts.
const MIN_SCRAPE_INTERVAL_SECS: f64 = 30.0;
/// The longest `repeat_interval` AMP's Alertmanager accepts (5 days).
const MAX_REPEAT_INTERVAL_SECS: f64 = 5.0 * 24.0 * 3600.0;

/// A Prometheus duration (`30s`, `1m30s`, `500ms`, `1h`) in seconds.
pub fn duration_secs(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            "y" => 365.0 * 86400.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

fn parse(doc: &str, what: &str) -> Result<Yaml, String> {
    if doc.trim().is_empty() {
        return Err(format!("the {what} is empty"));
    }
    serde_yaml_ng::from_str(doc).map_err(|e| format!("the {what} is not valid YAML: {e}"))
}

/// Every `scrape_interval` in the document, with where it was found.
fn intervals<'a>(v: &'a Yaml, path: &str, out: &mut Vec<(String, &'a Yaml)>) {
    match v {
        Yaml::Mapping(m) => {
            for (k, v) in m {
                // A key that is not a string is no scrape_interval.
                let key = k.as_str().unwrap_or_default();
                let here = if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                };
                if key == "scrape_interval" {
                    out.push((here.clone(), v));
                }
                intervals(v, &here, out);
            }
        }
        Yaml::Sequence(s) => {
            for (i, v) in s.iter().enumerate() {
                intervals(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Problems AWS would reject in a managed collector's scrape configuration:
/// a scrape interval under 30 seconds anywhere, and service discovery
/// other than `kubernetes_sd_configs` (targets may also be `static_configs`).
pub fn scrape_configuration(doc: &str) -> Vec<String> {
    let root = match parse(doc, "scrape configuration") {
        Ok(r) => r,
        Err(e) => return vec![e],
    };
    if !root.is_mapping() {
        return vec![
            "the scrape configuration must be a YAML mapping (global:, scrape_configs:)".into(),
        ];
    }
    let mut problems = Vec::new();
    let mut found = Vec::new();
    intervals(&root, "", &mut found);
    for (path, v) in found {
        let text = match v {
            Yaml::String(s) => s.clone(),
            other => format!("{other:?}"),
        };
        match duration_secs(&text) {
            Some(s) if s < MIN_SCRAPE_INTERVAL_SECS => problems.push(format!(
                "{path} is {text}: the managed collector's shortest scrape interval is 30s"
            )),
            Some(_) => {}
            None => problems.push(format!("{path} is {text:?}, not a duration like 30s or 1m")),
        }
    }
    let jobs = root
        .get("scrape_configs")
        .and_then(Yaml::as_sequence)
        .cloned()
        .unwrap_or_default();
    for (i, job) in jobs.iter().enumerate() {
        let name = job
            .get("job_name")
            .and_then(Yaml::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("scrape_configs[{i}]"));
        let Some(m) = job.as_mapping() else { continue };
        for k in m.keys().filter_map(Yaml::as_str) {
            if k.ends_with("_sd_configs") && k != "kubernetes_sd_configs" {
                problems.push(format!(
                    "job {name} uses {k}: the managed collector discovers targets only with kubernetes_sd_configs (or static_configs)"
                ));
            }
        }
    }
    problems
}

/// The `alertmanager_config` of an AMP Alertmanager definition, parsed:
/// AMP takes it as a YAML string inside the definition, or as a mapping.
fn alertmanager_config(root: &Yaml) -> Result<Yaml, String> {
    match root.get("alertmanager_config") {
        Some(Yaml::String(s)) => parse(s, "alertmanager_config"),
        Some(m @ Yaml::Mapping(_)) => Ok(m.clone()),
        Some(_) => {
            Err("alertmanager_config must be a YAML document (a string or a mapping)".into())
        }
        None => Err("the definition has no alertmanager_config".into()),
    }
}

fn repeat_intervals(route: &Yaml, path: &str, problems: &mut Vec<String>) {
    if let Some(r) = route.get("repeat_interval").and_then(Yaml::as_str) {
        match duration_secs(r) {
            Some(s) if s > MAX_REPEAT_INTERVAL_SECS => problems.push(format!(
                "{path}.repeat_interval is {r}: AMP allows at most 5 days (120h)"
            )),
            Some(_) => {}
            None => problems.push(format!("{path}.repeat_interval is {r:?}, not a duration")),
        }
    }
    if let Some(subs) = route.get("routes").and_then(Yaml::as_sequence) {
        for (i, r) in subs.iter().enumerate() {
            repeat_intervals(r, &format!("{path}.routes[{i}]"), problems);
        }
    }
}

/// Problems AWS would reject in an AMP Alertmanager definition: receivers
/// other than SNS, SNS receivers without a `sigv4` region, options AMP
/// does not support (`api_url`, `http_config`), and a `repeat_interval`
/// over 5 days.
pub fn alertmanager_definition(doc: &str) -> Vec<String> {
    let root = match parse(doc, "Alertmanager definition") {
        Ok(r) => r,
        Err(e) => return vec![e],
    };
    let config = match alertmanager_config(&root) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    if let Some(route) = config.get("route") {
        repeat_intervals(route, "route", &mut problems);
    } else {
        problems.push("alertmanager_config has no route".into());
    }
    let receivers = config
        .get("receivers")
        .and_then(Yaml::as_sequence)
        .cloned()
        .unwrap_or_default();
    for (i, r) in receivers.iter().enumerate() {
        let name = r
            .get("name")
            .and_then(Yaml::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("receivers[{i}]"));
        let Some(m) = r.as_mapping() else { continue };
        for k in m.keys().filter_map(Yaml::as_str) {
            if k != "name" && k != "sns_configs" {
                problems.push(format!(
                    "receiver {name} uses {k}: AMP's Alertmanager sends only to SNS (sns_configs)"
                ));
            }
        }
        let sns = r
            .get("sns_configs")
            .and_then(Yaml::as_sequence)
            .cloned()
            .unwrap_or_default();
        for (j, s) in sns.iter().enumerate() {
            let at = format!("receiver {name}, sns_configs[{j}]");
            if s.get("topic_arn").and_then(Yaml::as_str).is_none() {
                problems.push(format!("{at} has no topic_arn"));
            }
            let region = s
                .get("sigv4")
                .and_then(|v| v.get("region"))
                .and_then(Yaml::as_str);
            if region.is_none_or(str::is_empty) {
                problems.push(format!(
                    "{at} has no sigv4.region: AMP signs its SNS requests and needs the topic's Region"
                ));
            }
            for unsupported in ["api_url", "http_config"] {
                if s.get(unsupported).is_some() {
                    problems.push(format!(
                        "{at} sets {unsupported}, which AMP does not support"
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(duration_secs("30s"), Some(30.0));
        assert_eq!(duration_secs("1m30s"), Some(90.0));
        assert_eq!(duration_secs("500ms"), Some(0.5));
        assert_eq!(duration_secs("5d"), Some(432000.0));
        assert_eq!(duration_secs("soon"), None);
        assert_eq!(duration_secs(""), None);
    }

    #[test]
    fn scrape_interval_under_30s_is_refused_wherever_it_is() {
        let doc = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_interval: 10s\n    kubernetes_sd_configs: [{role: pod}]\n  - job_name: b\n    scrape_interval: 1m\n    static_configs: [{targets: ['10.0.0.1:9090']}]\n";
        let p = scrape_configuration(doc);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("global.scrape_interval is 15s"), "{p:?}");
        assert!(
            p[1].contains("scrape_configs[0].scrape_interval is 10s"),
            "{p:?}"
        );
    }

    #[test]
    fn only_kubernetes_discovery_is_accepted() {
        let doc = "global:\n  scrape_interval: 30s\nscrape_configs:\n  - job_name: dns\n    dns_sd_configs: [{names: [x]}]\n  - job_name: k8s\n    kubernetes_sd_configs: [{role: pod}]\n";
        let p = scrape_configuration(doc);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("job dns uses dns_sd_configs"), "{p:?}");
    }

    #[test]
    fn alertmanager_needs_sns_receivers_with_a_region() {
        let good = "alertmanager_config: |\n  route:\n    receiver: sns\n    repeat_interval: 4h\n  receivers:\n    - name: sns\n      sns_configs:\n        - topic_arn: arn:aws:sns:eu-west-1:1:t\n          sigv4:\n            region: eu-west-1\n";
        assert!(alertmanager_definition(good).is_empty());
        let bad = "alertmanager_config: |\n  route:\n    receiver: x\n    repeat_interval: 6d\n  receivers:\n    - name: x\n      webhook_configs: [{url: 'http://x'}]\n      sns_configs:\n        - topic_arn: arn:aws:sns:eu-west-1:1:t\n          api_url: http://x\n";
        let p = alertmanager_definition(bad);
        assert!(
            p.iter().any(|m| m.contains("repeat_interval is 6d")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|m| m.contains("uses webhook_configs")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.contains("no sigv4.region")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("api_url")), "{p:?}");
        assert_eq!(
            alertmanager_definition("route: {}\n"),
            vec!["the definition has no alertmanager_config".to_string()]
        );
    }
}
