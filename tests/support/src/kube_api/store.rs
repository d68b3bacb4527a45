//! The test API server's objects and the rules the real API server applies
//! to them, for what meshmon uses: server-side apply with field ownership
//! (managedFields, conflicts unless forced, fields a manager stops applying
//! are removed), server-filled metadata (`uid`, `resourceVersion`,
//! `generation`, `creationTimestamp`), defaulted fields, namespaces that must
//! exist (and refuse new content while terminating), deletion that takes a
//! moment, CRDs that become Established after a delay and only then serve
//! their kind, and a tiny "controller" that marks workloads rolled out.
//!
//! Simplification: lists are atomic (owned as a whole), which is what the
//! API server does for untyped lists in custom resources.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value as Json, json};

use super::fields::{
    Path, apply_defaults, field_paths, fields_v1, get_path, merge, overlaps, remove_path, rfc3339,
    spec_of,
};

/// One served kind.
#[derive(Clone, Debug, PartialEq)]
pub struct KindInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl KindInfo {
    fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        KindInfo {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// An API error, rendered as a `Status` by the router.
#[derive(Debug)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

fn err(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        code,
        reason,
        message: message.into(),
    }
}

struct Managed {
    manager: String,
    operation: &'static str,
    api_version: String,
    fields: BTreeSet<Path>,
}

struct Obj {
    doc: Json,
    managed: Vec<Managed>,
    /// When a pending deletion completes.
    gone_at: Option<Instant>,
    /// When the simulated controller finishes (CRD Established, rollout).
    ready_at: Option<Instant>,
}

/// (group, plural, namespace or "", name)
type Key = (String, String, String, String);

pub struct Store {
    pub kinds: Vec<KindInfo>,
    objects: BTreeMap<Key, Obj>,
    rv: u64,
    pub crd_delay: Duration,
    pub delete_delay: Duration,
    pub rollout_delay: Duration,
}

fn builtin_kinds() -> Vec<KindInfo> {
    vec![
        KindInfo::new("", "v1", "Namespace", "namespaces", false),
        KindInfo::new("", "v1", "ServiceAccount", "serviceaccounts", true),
        KindInfo::new("", "v1", "ConfigMap", "configmaps", true),
        KindInfo::new("", "v1", "Secret", "secrets", true),
        KindInfo::new("", "v1", "Service", "services", true),
        KindInfo::new("", "v1", "Pod", "pods", true),
        KindInfo::new("apps", "v1", "Deployment", "deployments", true),
        KindInfo::new("apps", "v1", "DaemonSet", "daemonsets", true),
        KindInfo::new("apps", "v1", "StatefulSet", "statefulsets", true),
        KindInfo::new(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        KindInfo::new(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        KindInfo::new("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        KindInfo::new(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        KindInfo::new(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
    ]
}

impl Store {
    pub fn new(crd_delay: Duration, delete_delay: Duration, rollout_delay: Duration) -> Self {
        Store {
            kinds: builtin_kinds(),
            objects: BTreeMap::new(),
            rv: 0,
            crd_delay,
            delete_delay,
            rollout_delay,
        }
    }

    pub fn kind_by_plural(&self, group: &str, version: &str, plural: &str) -> Option<KindInfo> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.plural == plural)
            .cloned()
    }

    pub fn kind_by_name(&self, api_version: &str, kind: &str) -> Option<KindInfo> {
        self.kinds
            .iter()
            .find(|k| k.api_version() == api_version && k.kind == kind)
            .cloned()
    }

    fn key(k: &KindInfo, ns: Option<&str>, name: &str) -> Key {
        (
            k.group.clone(),
            k.plural.clone(),
            ns.unwrap_or_default().to_string(),
            name.to_string(),
        )
    }

    fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    /// Advances time: finishes deletions, establishes CRDs, rolls out workloads.
    pub fn tick(&mut self) {
        let now = Instant::now();
        let gone: Vec<Key> = self
            .objects
            .iter()
            .filter(|(_, o)| o.gone_at.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            let Some(obj) = self.objects.remove(&key) else {
                continue;
            };
            match (key.0.as_str(), key.1.as_str()) {
                ("", "namespaces") => self.objects.retain(|k, _| k.2 != key.3),
                ("apiextensions.k8s.io", "customresourcedefinitions") => {
                    let group = obj.doc["spec"]["group"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let plural = obj.doc["spec"]["names"]["plural"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    self.kinds
                        .retain(|k| !(k.group == group && k.plural == plural));
                    self.objects.retain(|k, _| !(k.0 == group && k.1 == plural));
                }
                _ => {}
            }
        }
        let ready: Vec<Key> = self
            .objects
            .iter()
            .filter(|(_, o)| o.ready_at.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in ready {
            let rv = self.next_rv();
            let obj = self.objects.get_mut(&key).expect("present");
            obj.ready_at = None;
            obj.doc["metadata"]["resourceVersion"] = json!(rv);
            let generation = obj.doc["metadata"]["generation"].clone();
            let replicas = obj.doc["spec"]["replicas"].as_i64().unwrap_or(1);
            match obj.doc["kind"].as_str().unwrap_or_default() {
                "CustomResourceDefinition" => {
                    let spec = obj.doc["spec"].clone();
                    obj.doc["status"] = json!({
                        "conditions": [
                            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}
                        ],
                        "acceptedNames": spec["names"],
                    });
                    let namespaced = spec["scope"] == "Namespaced";
                    for v in spec["versions"].as_array().into_iter().flatten() {
                        let info = KindInfo::new(
                            spec["group"].as_str().unwrap_or_default(),
                            v["name"].as_str().unwrap_or_default(),
                            spec["names"]["kind"].as_str().unwrap_or_default(),
                            spec["names"]["plural"].as_str().unwrap_or_default(),
                            namespaced,
                        );
                        if !self.kinds.contains(&info) {
                            self.kinds.push(info);
                        }
                    }
                }
                "Deployment" | "StatefulSet" => {
                    obj.doc["status"] = json!({
                        "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                        "readyReplicas": replicas, "availableReplicas": replicas,
                        "conditions": [{"type": "Available", "status": "True"}],
                    });
                }
                "DaemonSet" => {
                    obj.doc["status"] = json!({
                        "observedGeneration": generation, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
                        "updatedNumberScheduled": 2, "numberReady": 2, "numberAvailable": 2,
                    });
                }
                _ => {}
            }
        }
    }

    pub fn get(&self, k: &KindInfo, ns: Option<&str>, name: &str) -> Result<Json, ApiError> {
        self.objects
            .get(&Self::key(k, ns, name))
            .map(|o| self.render(o))
            .ok_or_else(|| not_found(k, name))
    }

    pub fn list(&self, k: &KindInfo, ns: Option<&str>) -> Json {
        let items: Vec<Json> = self
            .objects
            .iter()
            .filter(|(key, _)| {
                key.0 == k.group && key.1 == k.plural && ns.is_none_or(|n| key.2 == n)
            })
            .map(|(_, o)| self.render(o))
            .collect();
        json!({"apiVersion": k.api_version(), "kind": format!("{}List", k.kind), "metadata": {"resourceVersion": self.rv.to_string()}, "items": items})
    }

    fn render(&self, o: &Obj) -> Json {
        let mut doc = o.doc.clone();
        let entries: Vec<Json> = o
            .managed
            .iter()
            .map(|m| json!({"manager": m.manager, "operation": m.operation, "apiVersion": m.api_version, "fieldsType": "FieldsV1", "fieldsV1": fields_v1(&m.fields)}))
            .collect();
        doc["metadata"]["managedFields"] = Json::Array(entries);
        doc
    }

    /// Namespaced writes need a live namespace.
    fn check_namespace(&self, k: &KindInfo, ns: Option<&str>) -> Result<(), ApiError> {
        let Some(ns) = ns.filter(|_| k.namespaced) else {
            return Ok(());
        };
        match self.objects.get(&(
            String::new(),
            "namespaces".into(),
            String::new(),
            ns.to_string(),
        )) {
            None => Err(err(
                404,
                "NotFound",
                format!("namespaces \"{ns}\" not found"),
            )),
            Some(o) if o.gone_at.is_some() => Err(err(
                403,
                "Forbidden",
                format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    k.plural, ""
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    fn check_body(k: &KindInfo, name: &str, body: &Json) -> Result<(), ApiError> {
        if body["kind"].as_str() != Some(k.kind.as_str())
            || body["apiVersion"].as_str() != Some(k.api_version().as_str())
        {
            return Err(err(
                400,
                "BadRequest",
                format!(
                    "the body's apiVersion/kind does not match {} {}",
                    k.api_version(),
                    k.kind
                ),
            ));
        }
        if body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(err(
                400,
                "BadRequest",
                "the name of the object does not match the name on the URL",
            ));
        }
        Ok(())
    }

    fn insert_new(
        &mut self,
        k: &KindInfo,
        ns: Option<&str>,
        name: &str,
        mut doc: Json,
        managed: Managed,
    ) -> Json {
        let rv = self.next_rv();
        let meta = &mut doc["metadata"];
        meta["name"] = json!(name);
        if let Some(ns) = ns.filter(|_| k.namespaced) {
            meta["namespace"] = json!(ns);
        }
        meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012}", self.rv));
        meta["resourceVersion"] = json!(rv);
        meta["creationTimestamp"] = json!(rfc3339(SystemTime::now()));
        if doc.get("spec").is_some() {
            doc["metadata"]["generation"] = json!(1);
        }
        apply_defaults(&k.kind, &mut doc);
        let ready_at = self.controller_delay(&k.kind);
        let obj = Obj {
            doc,
            managed: vec![managed],
            gone_at: None,
            ready_at,
        };
        let out = self.render(&obj);
        self.objects.insert(Self::key(k, ns, name), obj);
        out
    }

    fn controller_delay(&self, kind: &str) -> Option<Instant> {
        match kind {
            "CustomResourceDefinition" => Some(Instant::now() + self.crd_delay),
            "Deployment" | "StatefulSet" | "DaemonSet" => Some(Instant::now() + self.rollout_delay),
            _ => None,
        }
    }

    /// POST: 409 AlreadyExists when the name is taken.
    pub fn create(
        &mut self,
        k: &KindInfo,
        ns: Option<&str>,
        body: Json,
        manager: &str,
    ) -> Result<Json, ApiError> {
        let name = body["metadata"]["name"]
            .as_str()
            .ok_or_else(|| err(422, "Invalid", "metadata.name: Required value"))?
            .to_string();
        Self::check_body(k, &name, &body)?;
        self.check_namespace(k, ns)?;
        if self.objects.contains_key(&Self::key(k, ns, &name)) {
            return Err(err(
                409,
                "AlreadyExists",
                format!("{}.{} \"{name}\" already exists", k.plural, k.group),
            ));
        }
        let managed = Managed {
            manager: manager.into(),
            operation: "Update",
            api_version: k.api_version(),
            fields: field_paths(&body),
        };
        Ok(self.insert_new(k, ns, &name, body, managed))
    }

    /// Server-side apply (PATCH application/apply-patch+yaml).
    pub fn apply(
        &mut self,
        k: &KindInfo,
        ns: Option<&str>,
        name: &str,
        body: Json,
        manager: &str,
        force: bool,
    ) -> Result<(Json, bool), ApiError> {
        Self::check_body(k, name, &body)?;
        let fields = field_paths(&body);
        let key = Self::key(k, ns, name);
        if !self.objects.contains_key(&key) {
            self.check_namespace(k, ns)?;
            let managed = Managed {
                manager: manager.into(),
                operation: "Apply",
                api_version: k.api_version(),
                fields,
            };
            return Ok((self.insert_new(k, ns, name, body, managed), true));
        }
        let rv = self.next_rv();
        let delay = self.controller_delay(&k.kind);
        let obj = self.objects.get_mut(&key).expect("present");
        if obj.gone_at.is_some() {
            return Err(err(
                409,
                "Conflict",
                format!("{} \"{name}\" is being deleted", k.plural),
            ));
        }
        let mut conflicts = Vec::new();
        for m in obj.managed.iter().filter(|m| m.manager != manager) {
            for p in &fields {
                if m.fields.iter().any(|q| overlaps(p, q))
                    && get_path(&obj.doc, p) != get_path(&body, p)
                {
                    conflicts.push(format!(
                        "conflict with \"{}\" using {}: .{}",
                        m.manager,
                        m.api_version,
                        p.join(".")
                    ));
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(err(
                409,
                "Conflict",
                format!(
                    "Apply failed with {} conflict{}: {}",
                    conflicts.len(),
                    if conflicts.len() == 1 { "" } else { "s" },
                    conflicts.join(", ")
                ),
            ));
        }
        for m in obj.managed.iter_mut().filter(|m| m.manager != manager) {
            m.fields.retain(|q| !fields.iter().any(|p| overlaps(p, q)));
        }
        let before = spec_of(&obj.doc);
        let previously: BTreeSet<Path> = obj
            .managed
            .iter()
            .find(|m| m.manager == manager && m.operation == "Apply")
            .map(|m| m.fields.clone())
            .unwrap_or_default();
        merge(&mut obj.doc, &body);
        for p in previously.difference(&fields) {
            let owned_elsewhere = obj
                .managed
                .iter()
                .any(|m| m.manager != manager && m.fields.iter().any(|q| overlaps(p, q)));
            if !owned_elsewhere {
                remove_path(&mut obj.doc, p);
            }
        }
        obj.managed
            .retain(|m| !(m.manager == manager && m.operation == "Apply"));
        obj.managed.push(Managed {
            manager: manager.into(),
            operation: "Apply",
            api_version: k.api_version(),
            fields,
        });
        obj.managed.retain(|m| !m.fields.is_empty());
        apply_defaults(&k.kind, &mut obj.doc);
        bump(obj, &before, rv, delay);
        let out = self.render(&self.objects[&key]);
        Ok((out, false))
    }

    /// A merge patch or update by `manager` (kubectl edit): the fields it
    /// changes move to its ownership, as with the real API server.
    pub fn merge_patch(
        &mut self,
        k: &KindInfo,
        ns: Option<&str>,
        name: &str,
        patch: &Json,
        manager: &str,
    ) -> Result<Json, ApiError> {
        let rv = self.next_rv();
        let delay = self.controller_delay(&k.kind);
        let key = Self::key(k, ns, name);
        let obj = self
            .objects
            .get_mut(&key)
            .ok_or_else(|| not_found(k, name))?;
        let before_doc = obj.doc.clone();
        let before = spec_of(&obj.doc);
        merge(&mut obj.doc, patch);
        apply_defaults(&k.kind, &mut obj.doc);
        let changed: BTreeSet<Path> = field_paths(&obj.doc)
            .into_iter()
            .filter(|p| get_path(&before_doc, p) != get_path(&obj.doc, p))
            .collect();
        for m in obj.managed.iter_mut() {
            m.fields.retain(|q| !changed.iter().any(|p| overlaps(p, q)));
        }
        match obj
            .managed
            .iter_mut()
            .find(|m| m.manager == manager && m.operation == "Update")
        {
            Some(m) => m.fields.extend(changed),
            None => obj.managed.push(Managed {
                manager: manager.into(),
                operation: "Update",
                api_version: k.api_version(),
                fields: changed,
            }),
        }
        obj.managed.retain(|m| !m.fields.is_empty());
        bump(obj, &before, rv, delay);
        Ok(self.render(&self.objects[&key]))
    }

    /// DELETE: the object is marked and goes after `delete_delay`.
    pub fn delete(&mut self, k: &KindInfo, ns: Option<&str>, name: &str) -> Result<Json, ApiError> {
        let delay = self.delete_delay;
        let obj = self
            .objects
            .get_mut(&Self::key(k, ns, name))
            .ok_or_else(|| not_found(k, name))?;
        if obj.gone_at.is_none() {
            obj.gone_at = Some(Instant::now() + delay);
            obj.doc["metadata"]["deletionTimestamp"] = json!(rfc3339(SystemTime::now()));
            if k.kind == "Namespace" {
                obj.doc["status"]["phase"] = json!("Terminating");
            }
        }
        let out = obj.doc.clone();
        self.tick();
        Ok(out)
    }

    /// Every object, as `apiVersion Kind namespace/name`.
    pub fn names(&self) -> Vec<String> {
        self.objects
            .values()
            .map(|o| {
                let d = &o.doc;
                let ns = d["metadata"]["namespace"]
                    .as_str()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default();
                format!(
                    "{} {} {ns}{}",
                    d["apiVersion"].as_str().unwrap_or(""),
                    d["kind"].as_str().unwrap_or(""),
                    d["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
}

fn bump(obj: &mut Obj, before: &Json, rv: String, delay: Option<Instant>) {
    obj.doc["metadata"]["resourceVersion"] = json!(rv);
    if spec_of(&obj.doc) != *before {
        let generation = obj.doc["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        obj.doc["metadata"]["generation"] = json!(generation);
        obj.ready_at = delay;
    }
}

fn not_found(k: &KindInfo, name: &str) -> ApiError {
    let what = if k.group.is_empty() {
        k.plural.clone()
    } else {
        format!("{}.{}", k.plural, k.group)
    };
    err(404, "NotFound", format!("{what} \"{name}\" not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, KindInfo) {
        let mut s = Store::new(Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let ns = s.kind_by_name("v1", "Namespace").unwrap();
        s.apply(
            &ns,
            None,
            "prod",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
            "t",
            true,
        )
        .unwrap();
        let d = s.kind_by_name("apps/v1", "Deployment").unwrap();
        (s, d)
    }

    fn dep(replicas: i64) -> Json {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "dj", "labels": {"a": "1"}}, "spec": {"replicas": replicas}})
    }

    #[test]
    fn apply_conflicts_with_another_manager_unless_forced() {
        let (mut s, d) = store();
        s.apply(&d, Some("prod"), "dj", dep(1), "meshmon", false)
            .unwrap();
        s.merge_patch(
            &d,
            Some("prod"),
            "dj",
            &json!({"spec": {"replicas": 3}}),
            "kubectl-edit",
        )
        .unwrap();
        let e = s
            .apply(&d, Some("prod"), "dj", dep(1), "meshmon", false)
            .unwrap_err();
        assert_eq!(e.code, 409);
        assert!(
            e.message.contains("conflict with \"kubectl-edit\""),
            "{}",
            e.message
        );
        let (o, _) = s
            .apply(&d, Some("prod"), "dj", dep(1), "meshmon", true)
            .unwrap();
        assert_eq!(o["spec"]["replicas"], 1);
    }

    #[test]
    fn a_field_no_longer_applied_is_removed_and_missing_namespaces_are_404() {
        let (mut s, d) = store();
        s.apply(&d, Some("prod"), "dj", dep(2), "meshmon", false)
            .unwrap();
        let mut less = dep(2);
        less["metadata"].as_object_mut().unwrap().remove("labels");
        let (o, _) = s
            .apply(&d, Some("prod"), "dj", less, "meshmon", false)
            .unwrap();
        assert!(o["metadata"].get("labels").is_none(), "{o:#}");
        assert_eq!(o["metadata"]["generation"], 1);
        assert_eq!(
            s.apply(&d, Some("nope"), "dj", dep(1), "meshmon", false)
                .unwrap_err()
                .code,
            404
        );
    }
}
