//! Drift for manifests compares only what meshmon set. A live object carries
//! far more than was applied — `metadata.uid`, `managedFields`, `status`,
//! and every field the API server defaults (`spec.strategy`,
//! `imagePullPolicy`, …) — so the live object is projected onto the paths
//! present in the applied document before it is compared. A field meshmon
//! set and someone changed shows; a field meshmon never set never does.

use serde_json::{Map, Value as Json};

/// `live` restricted to the shape of `applied`. Keys missing from `live`
/// are left out (the comparison then sees them as removed).
pub fn project(applied: &Json, live: &Json) -> Json {
    match (applied, live) {
        (Json::Object(a), Json::Object(l)) => {
            let mut out = Map::new();
            for (k, av) in a {
                if let Some(lv) = l.get(k) {
                    out.insert(k.clone(), project(av, lv));
                }
            }
            Json::Object(out)
        }
        (Json::Array(a), Json::Array(l)) => Json::Array(project_list(a, l)),
        // Scalars, and a type that changed: what is live is what counts.
        (_, l) => l.clone(),
    }
}

/// Lists of named objects (containers, ports, env vars) match by `name`, as
/// the API server merges them, so an element another manager added (an
/// injected sidecar) is not meshmon's business. Other lists compare by
/// position, with every live element: they are replaced as a whole.
fn project_list(a: &[Json], l: &[Json]) -> Vec<Json> {
    let name = |v: &Json| v.get("name").and_then(Json::as_str).map(str::to_string);
    let keyed = !a.is_empty() && a.iter().all(|v| v.is_object() && name(v).is_some());
    if keyed {
        return a
            .iter()
            .filter_map(|av| {
                let lv = l.iter().find(|lv| name(lv) == name(av))?;
                Some(project(av, lv))
            })
            .collect();
    }
    l.iter()
        .enumerate()
        .map(|(i, lv)| match a.get(i) {
            Some(av) => project(av, lv),
            None => lv.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_defaults_and_metadata_are_left_out() {
        let applied = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "dj", "labels": {"app": "dj"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "dj", "image": "dj:1"}]}}}
        });
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "dj", "uid": "u", "resourceVersion": "7", "labels": {"app": "dj", "x": "y"}},
            "spec": {"replicas": 1, "revisionHistoryLimit": 10, "template": {"spec": {
                "containers": [{"name": "envoy", "image": "envoy"}, {"name": "dj", "image": "dj:1", "imagePullPolicy": "IfNotPresent"}],
                "restartPolicy": "Always"}}},
            "status": {"replicas": 1}
        });
        assert_eq!(project(&applied, &live), applied);
    }

    #[test]
    fn a_changed_field_meshmon_set_shows() {
        let applied = json!({"spec": {"replicas": 1, "args": ["a", "b"]}});
        let live = json!({"spec": {"replicas": 3, "args": ["a", "b", "c"]}});
        assert_eq!(project(&applied, &live), live);
        let gone = json!({"spec": {}});
        assert_eq!(project(&applied, &gone), json!({"spec": {}}));
    }
}
