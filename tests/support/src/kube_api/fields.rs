//! Field-level rules of the test API server: which paths a manager sets
//! (for managedFields and conflicts), merging and removing paths, the
//! FieldsV1 rendering, timestamps, and the defaults the real API server
//! fills in (so that a client which compares whole objects would see
//! "drift" it never made — meshmon must not).

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};

pub type Path = Vec<String>;

/// RFC 3339 in UTC, as the API server writes timestamps.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days → (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Leaf paths a manager sets by writing `v` (lists and empty maps are leaves).
pub fn field_paths(v: &Json) -> BTreeSet<Path> {
    fn walk(v: &Json, path: &mut Path, out: &mut BTreeSet<Path>) {
        match v {
            Json::Object(m) if !m.is_empty() => {
                for (k, child) in m {
                    let skip = match path.as_slice() {
                        [] => matches!(k.as_str(), "apiVersion" | "kind" | "status"),
                        [p] if p == "metadata" => matches!(
                            k.as_str(),
                            "name"
                                | "namespace"
                                | "uid"
                                | "resourceVersion"
                                | "generation"
                                | "creationTimestamp"
                                | "managedFields"
                                | "deletionTimestamp"
                        ),
                        _ => false,
                    };
                    if skip {
                        continue;
                    }
                    path.push(k.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ if !path.is_empty() => {
                out.insert(path.clone());
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

pub fn get_path<'a>(v: &'a Json, path: &[String]) -> Option<&'a Json> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

pub fn set_path(v: &mut Json, path: &[String], value: Json) {
    let mut cur = v;
    for k in &path[..path.len() - 1] {
        if !cur.get(k).is_some_and(Json::is_object) {
            cur[k.as_str()] = json!({});
        }
        cur = &mut cur[k.as_str()];
    }
    cur[path[path.len() - 1].as_str()] = value;
}

/// Removes a leaf and the maps it leaves empty.
pub fn remove_path(v: &mut Json, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if let Some(Json::Object(m)) = parents.iter().try_fold(&mut *v, |cur, k| cur.get_mut(k)) {
        m.remove(last);
        if m.is_empty() && !parents.is_empty() {
            remove_path(v, parents);
        }
    }
}

pub fn merge(into: &mut Json, patch: &Json) {
    match (into, patch) {
        (Json::Object(a), Json::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(k);
                } else {
                    merge(a.entry(k.clone()).or_insert(Json::Null), v);
                }
            }
        }
        (a, b) => *a = b.clone(),
    }
}

/// One path covers another when equal or an ancestor of it.
pub fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// FieldsV1 as the API server renders it: `{"f:spec":{"f:replicas":{}}}`.
pub fn fields_v1(paths: &BTreeSet<Path>) -> Json {
    let mut root = json!({});
    for p in paths {
        let mut cur = &mut root;
        for k in p {
            let key = format!("f:{k}");
            if cur.get(&key).is_none() {
                cur[key.as_str()] = json!({});
            }
            cur = &mut cur[key.as_str()];
        }
    }
    root
}

pub fn default(v: &mut Json, path: &[&str], value: Json) {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    if get_path(v, &path).is_none() {
        set_path(v, &path, value);
    }
}

/// Fields the real API server fills in when a manifest leaves them out.
pub fn apply_defaults(kind: &str, v: &mut Json) {
    match kind {
        "Namespace" => {
            let name = v["metadata"]["name"].clone();
            v["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            default(v, &["spec", "finalizers"], json!(["kubernetes"]));
            default(v, &["status", "phase"], json!("Active"));
        }
        "Deployment" | "StatefulSet" | "DaemonSet" => {
            if kind != "DaemonSet" {
                default(v, &["spec", "replicas"], json!(1));
            }
            default(v, &["spec", "revisionHistoryLimit"], json!(10));
            if kind == "Deployment" {
                default(v, &["spec", "progressDeadlineSeconds"], json!(600));
                default(
                    v,
                    &["spec", "strategy"],
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                );
            }
            let pod = ["spec", "template", "spec"];
            for (k, d) in [
                ("restartPolicy", json!("Always")),
                ("dnsPolicy", json!("ClusterFirst")),
                ("schedulerName", json!("default-scheduler")),
                ("terminationGracePeriodSeconds", json!(30)),
                ("securityContext", json!({})),
            ] {
                let mut p = pod.to_vec();
                p.push(k);
                default(v, &p, d);
            }
            if let Some(cs) = v["spec"]["template"]["spec"]["containers"].as_array_mut() {
                for c in cs {
                    let latest = c["image"]
                        .as_str()
                        .is_some_and(|i| i.ends_with(":latest") || !i.contains(':'));
                    default(
                        c,
                        &["imagePullPolicy"],
                        json!(if latest { "Always" } else { "IfNotPresent" }),
                    );
                    default(
                        c,
                        &["terminationMessagePath"],
                        json!("/dev/termination-log"),
                    );
                    default(c, &["terminationMessagePolicy"], json!("File"));
                    default(c, &["resources"], json!({}));
                }
            }
        }
        "CustomResourceDefinition" => {
            default(v, &["spec", "conversion"], json!({"strategy": "None"}));
        }
        _ => {}
    }
}

/// Everything but metadata and status: a change here is a new generation.
pub fn spec_of(v: &Json) -> Json {
    let mut s = v.clone();
    if let Some(o) = s.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    s
}
