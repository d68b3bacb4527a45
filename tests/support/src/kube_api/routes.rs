//! URL routing of the test API server, following the real API's shapes:
//! `/version`, discovery (`/api`, `/api/v1`, `/apis`, `/apis/G/V`), and
//! `/api/v1/...` or `/apis/G/V/...` resource paths, namespaced
//! (`namespaces/NS/PLURAL[/NAME]`) or cluster-scoped (`PLURAL[/NAME]`),
//! and the create-only `subjectaccessreviews` of `authorization.k8s.io/v1`,
//! answered by RBAC over the roles and bindings the server holds.
//! Errors are `Status` objects with the real reasons and codes.

use serde_json::{Value as Json, json};

use super::rbac;
use super::store::{ApiError, KindInfo, Store};
use super::tls::Req;

pub fn status(code: u16, reason: &str, message: &str) -> (u16, Vec<u8>) {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code});
    (code, body.to_string().into_bytes())
}

fn ok(code: u16, v: &Json) -> (u16, Vec<u8>) {
    (code, v.to_string().into_bytes())
}

fn from_err(e: ApiError) -> (u16, Vec<u8>) {
    status(e.code, e.reason, &e.message)
}

/// The group of SubjectAccessReview: not stored, create only.
const AUTHZ_GROUP: &str = "authorization.k8s.io";

fn resource_list(store: &Store, group: &str, version: &str) -> Option<Json> {
    if group == AUTHZ_GROUP && version == "v1" {
        return Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "authorization.k8s.io/v1", "resources": [
                {"name": "subjectaccessreviews", "singularName": "subjectaccessreview", "namespaced": false, "kind": "SubjectAccessReview", "verbs": ["create"]}
            ]}),
        );
    }
    let resources: Vec<Json> = store
        .kinds
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .map(|k| {
            json!({"name": k.plural, "singularName": k.kind.to_lowercase(), "namespaced": k.namespaced, "kind": k.kind,
                   "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn group_list(store: &Store) -> Json {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for k in store.kinds.iter().filter(|k| !k.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == k.group) {
            Some((_, vs)) if !vs.contains(&k.version) => vs.push(k.version.clone()),
            Some(_) => {}
            None => groups.push((k.group.clone(), vec![k.version.clone()])),
        }
    }
    groups.push((AUTHZ_GROUP.to_string(), vec!["v1".to_string()]));
    let groups: Vec<Json> = groups
        .into_iter()
        .map(|(g, vs)| {
            let versions: Vec<Json> = vs
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn body_of(req: &Req) -> Result<Json, (u16, Vec<u8>)> {
    serde_json::from_slice(&req.body)
        .or_else(|_| serde_yaml_ng::from_slice::<Json>(&req.body))
        .map_err(|e| {
            status(
                400,
                "BadRequest",
                &format!("the request body is neither JSON nor YAML: {e}"),
            )
        })
}

/// Routes one authenticated request.
pub fn route(store: &mut Store, req: &Req) -> (u16, Vec<u8>) {
    store.tick();
    let segs: Vec<&str> = req
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let get = req.method == "GET";
    match segs.as_slice() {
        ["version"] if get => ok(
            200,
            &json!({
                "major": "1", "minor": "33", "gitVersion": "v1.33.0-eks-meshmontest", "gitCommit": "0000000", "gitTreeState": "clean",
                "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"
            }),
        ),
        ["api"] if get => ok(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        ),
        ["api", v] if get => resource_list(store, "", v)
            .map(|l| ok(200, &l))
            .unwrap_or_else(|| {
                status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            }),
        ["apis"] if get => ok(200, &group_list(store)),
        ["apis", g, v] if get => resource_list(store, g, v)
            .map(|l| ok(200, &l))
            .unwrap_or_else(|| {
                status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            }),
        ["apis", AUTHZ_GROUP, "v1", "subjectaccessreviews"] => subject_access_review(store, req),
        ["api", v, rest @ ..] => resource(store, req, "", v, rest),
        ["apis", g, v, rest @ ..] => resource(store, req, g, v, rest),
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

/// Every ClusterRole, ClusterRoleBinding, Role and RoleBinding held.
fn rbac_objects(store: &Store) -> Vec<Json> {
    ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
        .iter()
        .filter_map(|k| store.kind_by_name("rbac.authorization.k8s.io/v1", k))
        .flat_map(|k| {
            store.list(&k, None)["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// `POST /apis/authorization.k8s.io/v1/subjectaccessreviews`: 201 with the
/// review and its `status`, 422 Invalid for a malformed spec; the
/// resource has no other verb.
fn subject_access_review(store: &Store, req: &Req) -> (u16, Vec<u8>) {
    if req.method != "POST" {
        return status(
            405,
            "MethodNotAllowed",
            &format!("{} is not supported on subjectaccessreviews", req.method),
        );
    }
    let body = match body_of(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match rbac::review(&rbac_objects(store), &body) {
        Ok(r) => ok(201, &r),
        Err(why) => status(
            422,
            "Invalid",
            &format!("SubjectAccessReview.authorization.k8s.io \"\" is invalid: {why}"),
        ),
    }
}

fn resource(
    store: &mut Store,
    req: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> (u16, Vec<u8>) {
    // (namespace, plural, name)
    let (ns, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
    };
    let Some(kind) = store.kind_by_plural(group, version, plural) else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    if ns.is_some() && !kind.namespaced {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    }
    if kind.namespaced && ns.is_none() && !(req.method == "GET" && name.is_none()) {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    }
    match (req.method.as_str(), name) {
        ("GET", Some(name)) => store
            .get(&kind, ns, name)
            .map(|o| ok(200, &o))
            .unwrap_or_else(from_err),
        ("GET", None) => ok(200, &store.list(&kind, ns)),
        ("POST", None) => match body_of(req) {
            Ok(b) => store
                .create(&kind, ns, b, req.param("fieldManager").unwrap_or("unknown"))
                .map(|o| ok(201, &o))
                .unwrap_or_else(from_err),
            Err(r) => r,
        },
        ("PATCH", Some(name)) => patch(store, req, &kind, ns, name),
        ("DELETE", Some(name)) => store
            .delete(&kind, ns, name)
            .map(|o| ok(200, &o))
            .unwrap_or_else(from_err),
        _ => status(
            405,
            "MethodNotAllowed",
            &format!("{} is not supported here", req.method),
        ),
    }
}

fn patch(
    store: &mut Store,
    req: &Req,
    kind: &KindInfo,
    ns: Option<&str>,
    name: &str,
) -> (u16, Vec<u8>) {
    let content_type = req.header("content-type").unwrap_or_default();
    let body = match body_of(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match content_type.split(';').next().unwrap_or_default().trim() {
        "application/apply-patch+yaml" => {
            let Some(manager) = req.param("fieldManager") else {
                return status(
                    400,
                    "BadRequest",
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                );
            };
            let force = req.param("force") == Some("true");
            match store.apply(kind, ns, name, body, manager, force) {
                Ok((o, created)) => ok(if created { 201 } else { 200 }, &o),
                Err(e) => from_err(e),
            }
        }
        "application/merge-patch+json" => {
            let manager = req.param("fieldManager").unwrap_or("kubectl-edit");
            store
                .merge_patch(kind, ns, name, &body, manager)
                .map(|o| ok(200, &o))
                .unwrap_or_else(from_err)
        }
        other => status(
            415,
            "UnsupportedMediaType",
            &format!(
                "the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/merge-patch+json (got {other:?})"
            ),
        ),
    }
}
