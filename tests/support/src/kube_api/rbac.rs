//! Kubernetes RBAC evaluation, as the API server's RBAC authorizer does it
//! (kubernetes/kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go,
//! pkg/apis/rbac/v1/evaluation_helpers.go,
//! pkg/registry/rbac/validation/rule.go), for `SubjectAccessReview`s
//! (`POST /apis/authorization.k8s.io/v1/subjectaccessreviews`, shapes from
//! staging/src/k8s.io/api/authorization/v1/types.go) and for tests that
//! check manifests without a server.
//!
//! Every ClusterRoleBinding is visited; RoleBindings only in the
//! request's namespace, and only for resource requests with a namespace
//! (non-resource URLs are granted by ClusterRoles through
//! ClusterRoleBindings alone). The first rule that allows wins; nothing
//! allowing means "no opinion", which RBAC being the only authorizer here
//! makes a denial. A user given without groups is a member of none: no
//! implicit `system:authenticated`. EKS access policies are another
//! authorizer on EKS and are not evaluated here.

use serde_json::{Value as Json, json};

/// What is asked: a resource request or a non-resource URL.
#[derive(Clone, Debug, PartialEq)]
pub enum Attributes {
    Resource {
        namespace: String,
        verb: String,
        group: String,
        resource: String,
        subresource: String,
        name: String,
    },
    NonResource {
        path: String,
        verb: String,
    },
}

impl Attributes {
    /// A resource request in the core group (`""`), any name.
    pub fn core(verb: &str, resource: &str, namespace: &str) -> Self {
        Attributes::Resource {
            namespace: namespace.into(),
            verb: verb.into(),
            group: String::new(),
            resource: resource.into(),
            subresource: String::new(),
            name: String::new(),
        }
    }

    pub fn url(verb: &str, path: &str) -> Self {
        Attributes::NonResource {
            path: path.into(),
            verb: verb.into(),
        }
    }

    /// From a review's `spec`: exactly one of `resourceAttributes` and
    /// `nonResourceAttributes`, as the API's validation insists.
    fn from_spec(spec: &Json) -> Result<Self, String> {
        let s = |v: &Json| v.as_str().unwrap_or_default().to_string();
        match (
            spec.get("resourceAttributes").filter(|v| !v.is_null()),
            spec.get("nonResourceAttributes").filter(|v| !v.is_null()),
        ) {
            (Some(_), Some(_)) => Err(
                "spec.nonResourceAttributes: Invalid value: cannot be specified in combination with resourceAttributes"
                    .into(),
            ),
            (None, None) => Err(
                "spec.resourceAttributes: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified"
                    .into(),
            ),
            (Some(r), None) => Ok(Attributes::Resource {
                namespace: s(&r["namespace"]),
                verb: s(&r["verb"]),
                group: s(&r["group"]),
                resource: s(&r["resource"]),
                subresource: s(&r["subresource"]),
                name: s(&r["name"]),
            }),
            (None, Some(n)) => Ok(Attributes::NonResource {
                path: s(&n["path"]),
                verb: s(&n["verb"]),
            }),
        }
    }
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

/// Whether one rule allows the request (`RuleAllows`).
pub fn rule_allows(rule: &Json, attrs: &Attributes) -> bool {
    let verbs = strings(&rule["verbs"]);
    match attrs {
        Attributes::Resource {
            verb,
            group,
            resource,
            subresource,
            name,
            ..
        } => {
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let resources = strings(&rule["resources"]);
            let names = strings(&rule["resourceNames"]);
            has(&verbs, verb)
                && has(&strings(&rule["apiGroups"]), group)
                && resources.iter().any(|r| {
                    r == "*"
                        || *r == combined
                        || (!subresource.is_empty() && *r == format!("*/{subresource}"))
                })
                && (names.is_empty() || names.iter().any(|n| n == name))
        }
        Attributes::NonResource { path, verb } => {
            has(&verbs, verb)
                && strings(&rule["nonResourceURLs"]).iter().any(|u| {
                    u == "*"
                        || u == path
                        || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
                })
        }
    }
}

/// Whether a binding's subject is the user: a User by name, a Group the
/// user is in, a ServiceAccount by its user name.
fn subject_matches(subject: &Json, binding_ns: &str, user: &str, groups: &[String]) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str() {
        Some("User") => name == user,
        Some("Group") => groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            !ns.is_empty() && user == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// A subject as the authorizer's reason names it (`describeSubject`): a
/// service account as `name/namespace`, anyone else by name.
fn describe_subject(subject: &Json, binding_ns: &str) -> String {
    let kind = subject["kind"].as_str().unwrap_or_default();
    let name = subject["name"].as_str().unwrap_or_default();
    if kind == "ServiceAccount" {
        let ns = subject["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(binding_ns);
        format!("{kind} {:?}", format!("{name}/{ns}"))
    } else {
        format!("{kind} {name:?}")
    }
}

/// The RBAC objects of one kind.
fn of<'a>(objects: &'a [Json], kind: &'static str) -> impl Iterator<Item = &'a Json> {
    objects
        .iter()
        .filter(move |o| o["kind"] == kind && o["apiVersion"] == "rbac.authorization.k8s.io/v1")
}

/// The decision for `user` (in `groups`) over every RBAC object of
/// `objects` (ClusterRoles, ClusterRoleBindings, Roles, RoleBindings;
/// other kinds are ignored): whether it is allowed, and the reason the
/// API server would give.
pub fn evaluate(
    objects: &[Json],
    user: &str,
    groups: &[String],
    attrs: &Attributes,
) -> (bool, String) {
    let find = |kind: &'static str, ns: Option<&str>, name: &str| {
        of(objects, kind).find(|o| {
            o["metadata"]["name"] == name
                && ns.is_none_or(|n| o["metadata"]["namespace"].as_str() == Some(n))
        })
    };
    let mut errors = Vec::new();
    let namespace = match attrs {
        Attributes::Resource { namespace, .. } => namespace.as_str(),
        Attributes::NonResource { .. } => "",
    };
    let bindings = of(objects, "ClusterRoleBinding")
        .map(|b| ("ClusterRoleBinding", b))
        .chain(
            of(objects, "RoleBinding")
                .filter(|b| !namespace.is_empty() && b["metadata"]["namespace"] == namespace)
                .map(|b| ("RoleBinding", b)),
        );
    for (kind, b) in bindings {
        let bns = b["metadata"]["namespace"].as_str().unwrap_or_default();
        let Some(subject) = b["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| subject_matches(s, bns, user, groups))
        else {
            continue;
        };
        let role_kind = b["roleRef"]["kind"].as_str().unwrap_or_default();
        let role_name = b["roleRef"]["name"].as_str().unwrap_or_default();
        let role = match role_kind {
            "ClusterRole" => find("ClusterRole", None, role_name),
            "Role" if kind == "RoleBinding" => find("Role", Some(bns), role_name),
            _ => None,
        };
        let Some(role) = role else {
            // The lister's NotFound: `clusterrole.rbac.authorization.k8s.io "x" not found`.
            let error = format!(
                "{}.rbac.authorization.k8s.io {role_name:?} not found",
                role_kind.to_lowercase()
            );
            if !errors.contains(&error) {
                errors.push(error);
            }
            continue;
        };
        if role["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| rule_allows(r, attrs))
        {
            let name = b["metadata"]["name"].as_str().unwrap_or_default();
            let binding = match kind {
                "RoleBinding" => format!("{:?}", format!("{name}/{bns}")),
                _ => format!("{name:?}"),
            };
            return (
                true,
                format!(
                    "RBAC: allowed by {kind} {binding} of {role_kind} {role_name:?} to {}",
                    describe_subject(subject, bns),
                ),
            );
        }
    }
    // utilerrors.NewAggregate: one error as itself, several bracketed.
    let reason = match errors.as_slice() {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => format!("RBAC: [{}]", many.join(", ")),
    };
    (false, reason)
}

/// Answers one `SubjectAccessReview` body: the review with its `status`,
/// or the API's 422 message.
pub fn review(objects: &[Json], body: &Json) -> Result<Json, String> {
    if body["metadata"]
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k != "creationTimestamp"))
    {
        return Err("metadata: Invalid value: must be empty".into());
    }
    let spec = &body["spec"];
    let attrs = Attributes::from_spec(spec)?;
    let user = spec["user"].as_str().unwrap_or_default();
    let groups = strings(&spec["groups"]);
    if user.is_empty() && groups.is_empty() {
        return Err(
            "spec.user: Invalid value: at least one of user or group must be specified".into(),
        );
    }
    let (allowed, reason) = evaluate(objects, user, &groups, &attrs);
    let mut out = json!({
        "kind": "SubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": spec,
        "status": { "allowed": allowed },
    });
    if !reason.is_empty() {
        out["status"]["reason"] = json!(reason);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Vec<Json> {
        let yaml = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
  - apiGroups: [""]
    resources: ["pods", "nodes/proxy"]
    verbs: ["get", "list"]
  - nonResourceURLs: ["/metrics", "/debug/*"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader-binding}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm, namespace: prod}
rules: [{apiGroups: [""], resources: ["configmaps"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: cm, namespace: prod}
subjects: [{kind: ServiceAccount, name: app}]
roleRef: {kind: Role, name: cm, apiGroup: rbac.authorization.k8s.io}
"#;
        parse(yaml)
    }

    #[test]
    fn rbac_allows_what_the_bound_rules_say_and_nothing_else() {
        let o = objects();
        let none: Vec<String> = Vec::new();
        let ok = |user: &str, a: Attributes| evaluate(&o, user, &none, &a).0;
        assert!(ok("alice", Attributes::core("list", "pods", "")));
        assert!(ok("alice", Attributes::core("get", "pods", "prod")));
        assert!(!ok("alice", Attributes::core("watch", "pods", "")));
        assert!(!ok("alice", Attributes::core("list", "endpoints", "")));
        assert!(!ok("bob", Attributes::core("list", "pods", "")));
        assert!(ok("alice", Attributes::url("get", "/metrics")));
        assert!(ok("alice", Attributes::url("get", "/debug/pprof")));
        assert!(!ok("alice", Attributes::url("get", "/healthz")));
        // `nodes` does not cover `nodes/proxy`; the rule names the subresource.
        let proxy = Attributes::Resource {
            namespace: String::new(),
            verb: "get".into(),
            group: String::new(),
            resource: "nodes".into(),
            subresource: "proxy".into(),
            name: "n1".into(),
        };
        assert!(ok("alice", proxy));
        // A RoleBinding counts in its namespace only, for its service account.
        let sa = "system:serviceaccount:prod:app";
        assert!(ok(sa, Attributes::core("delete", "configmaps", "prod")));
        assert!(!ok(sa, Attributes::core("delete", "configmaps", "default")));
        assert!(!ok(sa, Attributes::core("delete", "configmaps", "")));
        let (_, reason) = evaluate(&o, "alice", &none, &Attributes::core("list", "pods", ""));
        assert_eq!(
            reason,
            r#"RBAC: allowed by ClusterRoleBinding "reader-binding" of ClusterRole "reader" to User "alice""#
        );
        // A RoleBinding and a service account are named `name/namespace`,
        // as rbac.go's describers do.
        let (_, reason) = evaluate(
            &o,
            sa,
            &none,
            &Attributes::core("get", "configmaps", "prod"),
        );
        assert_eq!(
            reason,
            r#"RBAC: allowed by RoleBinding "cm/prod" of Role "cm" to ServiceAccount "app/prod""#
        );
        // Nothing allows and nothing is broken: no opinion, no reason.
        assert_eq!(
            evaluate(&o, "alice", &none, &Attributes::core("delete", "pods", "")),
            (false, String::new())
        );
    }

    fn parse(yaml: &str) -> Vec<Json> {
        yaml.split("\n---\n")
            .map(|d| serde_yaml_ng::from_str::<Json>(d).unwrap())
            .collect()
    }

    #[test]
    fn rules_match_groups_subresources_and_names_as_the_authorizer_does() {
        let o = parse(
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules:
  - apiGroups: ["networking.k8s.io"]
    resources: ["ingresses", "*/status"]
    verbs: ["list"]
  - apiGroups: [""]
    resources: ["configmaps"]
    resourceNames: ["istio"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
subjects: [{kind: Group, name: readers}]
roleRef: {kind: ClusterRole, name: r, apiGroup: rbac.authorization.k8s.io}
"#,
        );
        let readers = vec!["readers".to_string()];
        let ok = |a: Attributes| evaluate(&o, "carol", &readers, &a).0;
        let res =
            |group: &str, resource: &str, sub: &str, verb: &str, name: &str| Attributes::Resource {
                namespace: "prod".into(),
                verb: verb.into(),
                group: group.into(),
                resource: resource.into(),
                subresource: sub.into(),
                name: name.into(),
            };
        assert!(ok(res("networking.k8s.io", "ingresses", "", "list", "")));
        // The group must match: core has no ingresses here.
        assert!(!ok(res("", "ingresses", "", "list", "")));
        // `*/status` is every resource's status subresource, not the resource.
        assert!(ok(res(
            "networking.k8s.io",
            "gateways",
            "status",
            "list",
            ""
        )));
        assert!(!ok(res("networking.k8s.io", "gateways", "", "list", "")));
        // resourceNames limits to those names; a list names none.
        assert!(ok(res("", "configmaps", "", "get", "istio")));
        assert!(!ok(res("", "configmaps", "", "get", "other")));
        assert!(!ok(res("", "configmaps", "", "get", "")));
        // Only through the group: the user alone is not bound.
        assert!(!evaluate(&o, "carol", &[], &Attributes::core("get", "configmaps", "")).0);
    }

    #[test]
    fn a_binding_to_a_missing_role_denies_and_says_which() {
        let o = parse(
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: gone}
subjects: [{kind: User, name: aps-collector-user, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: aps-collector-role, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: local, namespace: default}
rules: [{apiGroups: [""], resources: ["pods"], verbs: ["list"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: to-a-role}
subjects: [{kind: User, name: aps-collector-user, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: local, apiGroup: rbac.authorization.k8s.io}
"#,
        );
        let user = "aps-collector-user";
        // A ClusterRoleBinding cannot grant a Role (roles are namespaced).
        assert_eq!(
            evaluate(&o, user, &[], &Attributes::core("list", "pods", "default")),
            (
                false,
                r#"RBAC: [clusterrole.rbac.authorization.k8s.io "aps-collector-role" not found, role.rbac.authorization.k8s.io "local" not found]"#
                    .to_string()
            )
        );
        assert_eq!(
            evaluate(&o[..1], user, &[], &Attributes::url("get", "/metrics")),
            (
                false,
                r#"RBAC: clusterrole.rbac.authorization.k8s.io "aps-collector-role" not found"#
                    .to_string()
            )
        );
    }

    #[test]
    fn a_review_needs_one_kind_of_attributes_and_a_subject() {
        let o = objects();
        let both = json!({"spec": {"user": "alice", "resourceAttributes": {}, "nonResourceAttributes": {}}});
        assert!(review(&o, &both).unwrap_err().contains("in combination"));
        let neither = json!({"spec": {"user": "alice"}});
        assert!(review(&o, &neither).unwrap_err().contains("exactly one"));
        let nobody =
            json!({"spec": {"nonResourceAttributes": {"path": "/metrics", "verb": "get"}}});
        assert!(review(&o, &nobody).unwrap_err().contains("at least one"));
        let fine = json!({"spec": {"user": "alice", "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}});
        let r = review(&o, &fine).unwrap();
        assert_eq!(r["status"]["allowed"], true, "{r}");
        assert_eq!(r["kind"], "SubjectAccessReview");
    }
}
