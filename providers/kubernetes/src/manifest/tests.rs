//! The manifest over canned API answers: the discovery each kind needs,
//! the server-side applies a create and an update send, what the record
//! holds, how a read projects the live objects, and the deletions.

use meshmon_provider_sdk::{Current, Map, OpContext, Resource, Value};
use serde_json::{Value as Json, json};

use super::*;
use crate::objects::FIELD_MANAGER;
use crate::testing::{Cluster, Sent, cluster, creating, inputs, status};

/// A Deployment in `prod`, a ConfigMap that names no namespace, and the
/// namespace, written last but applied first.
const CONTENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: dj, namespace: prod}
spec: {replicas: 1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {level: info}
---
apiVersion: v1
kind: Namespace
metadata: {name: prod}
";

fn manifest(answers: Vec<(u16, Json)>) -> (Cluster, Manifest) {
    let (k, conn) = cluster(answers);
    (k, Manifest(conn))
}

fn ctx() -> OpContext {
    OpContext::quiet("k8s_manifest.app")
}

/// One resource of a discovery answer.
fn kind(plural: &str, kind: &str, namespaced: bool) -> Json {
    json!({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
           "verbs": ["get", "patch", "delete"]})
}

/// The discovery answer of one group version.
fn served(group_version: &str, resources: Vec<Json>) -> (u16, Json) {
    (
        200,
        json!({"kind": "APIResourceList", "apiVersion": "v1",
               "groupVersion": group_version, "resources": resources}),
    )
}

fn core() -> (u16, Json) {
    served(
        "v1",
        vec![
            kind("namespaces", "Namespace", false),
            kind("configmaps", "ConfigMap", true),
        ],
    )
}

fn apps() -> (u16, Json) {
    served("apps/v1", vec![kind("deployments", "Deployment", true)])
}

/// An object as the API server returns it: `extra` over its identity.
fn object(api_version: &str, kind: &str, ns: Option<&str>, name: &str, extra: Json) -> Json {
    let mut o = json!({"apiVersion": api_version, "kind": kind,
                       "metadata": {"name": name, "uid": format!("{name}-uid")}});
    if let Some(ns) = ns {
        o["metadata"]["namespace"] = json!(ns);
    }
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

fn ok(o: Json) -> (u16, Json) {
    (200, o)
}

fn not_found(what: &str) -> (u16, Json) {
    status(404, "NotFound", &format!("{what} not found"))
}

fn objects(list: &[&str]) -> Map {
    inputs(json!({ "objects": list }))
}

fn lines(sent: &[Sent]) -> Vec<String> {
    sent.iter().map(Sent::line).collect()
}

/// The objects of a YAML stream the provider wrote.
fn documents(content: &Value) -> Vec<Json> {
    parse(content.as_str().expect("YAML text"))
        .unwrap()
        .into_iter()
        .map(|d| d.object)
        .collect()
}

#[tokio::test]
async fn a_create_applies_each_object_server_side_namespaces_first_and_records_them_in_order() {
    let (k, m) = manifest(vec![
        core(),
        ok(object("v1", "Namespace", None, "prod", json!({}))),
        apps(),
        ok(object(
            "apps/v1",
            "Deployment",
            Some("prod"),
            "dj",
            json!({}),
        )),
        core(),
        ok(object(
            "v1",
            "ConfigMap",
            Some("mesh"),
            "settings",
            json!({}),
        )),
    ]);
    let raw = inputs(json!({"content": CONTENT, "namespace": "mesh"}));
    let out = m.create(&creating("k8s_manifest.app"), &raw).await.unwrap();
    assert_eq!(
        out,
        objects(&[
            "v1 Namespace prod",
            "apps/v1 Deployment prod/dj",
            "v1 ConfigMap mesh/settings"
        ])
    );
    let sent = k.sent();
    assert_eq!(
        lines(&sent),
        [
            "GET /api/v1",
            "PATCH /api/v1/namespaces/prod",
            "GET /apis/apps/v1",
            "PATCH /apis/apps/v1/namespaces/prod/deployments/dj",
            "GET /api/v1",
            "PATCH /api/v1/namespaces/mesh/configmaps/settings",
        ]
    );
    for patch in sent.iter().filter(|s| s.method == "PATCH") {
        assert_eq!(patch.param("fieldManager"), Some(FIELD_MANAGER));
        assert_eq!(patch.param("force"), Some("true"));
        assert_eq!(
            patch.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
    }
    assert_eq!(
        sent[1].body,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        "a cluster-scoped object gets no namespace"
    );
    assert_eq!(sent[3].body["spec"], json!({"replicas": 1}));
    assert_eq!(
        sent[5].body,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "namespace": "mesh"}, "data": {"level": "info"}}),
        "the resource's namespace for an object that names none"
    );
}

#[tokio::test]
async fn a_crd_is_applied_and_established_before_the_objects_of_its_kind() {
    let crd_name = "meshes.appmesh.k8s.aws";
    let content = format!(
        "apiVersion: appmesh.k8s.aws/v1beta2\nkind: Mesh\nmetadata: {{name: global}}\nspec: {{}}\n---\n\
         apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
         metadata: {{name: {crd_name}}}\nspec: {{group: appmesh.k8s.aws}}\n"
    );
    let crd = |extra| {
        object(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            crd_name,
            extra,
        )
    };
    let (k, m) = manifest(vec![
        served(
            "apiextensions.k8s.io/v1",
            vec![kind(
                "customresourcedefinitions",
                "CustomResourceDefinition",
                false,
            )],
        ),
        ok(crd(json!({}))),
        ok(crd(
            json!({"status": {"conditions": [{"type": "Established", "status": "True"}]}}),
        )),
        served(
            "appmesh.k8s.aws/v1beta2",
            vec![kind("meshes", "Mesh", false)],
        ),
        ok(object(
            "appmesh.k8s.aws/v1beta2",
            "Mesh",
            None,
            "global",
            json!({}),
        )),
    ]);
    let out = m
        .create(
            &creating("k8s_manifest.app"),
            &inputs(json!({"content": content})),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        objects(&[
            "apiextensions.k8s.io/v1 CustomResourceDefinition meshes.appmesh.k8s.aws",
            "appmesh.k8s.aws/v1beta2 Mesh global",
        ])
    );
    let crd_path = format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd_name}");
    assert_eq!(
        lines(&k.sent()),
        [
            "GET /apis/apiextensions.k8s.io/v1".to_string(),
            format!("PATCH {crd_path}"),
            format!("GET {crd_path}"),
            "GET /apis/appmesh.k8s.aws/v1beta2".to_string(),
            "PATCH /apis/appmesh.k8s.aws/v1beta2/meshes/global".to_string(),
        ]
    );
}

#[tokio::test]
async fn wait_rollout_reads_each_workload_after_every_object_is_applied() {
    let content = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dj}\nspec: {replicas: 2}\n\
                   ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n";
    let rolled_out = json!({
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2},
    });
    let mut live = object("apps/v1", "Deployment", Some("prod"), "dj", rolled_out);
    live["metadata"]["generation"] = json!(1);
    let (k, m) = manifest(vec![
        apps(),
        ok(object(
            "apps/v1",
            "Deployment",
            Some("prod"),
            "dj",
            json!({}),
        )),
        core(),
        ok(object(
            "v1",
            "ConfigMap",
            Some("prod"),
            "settings",
            json!({}),
        )),
        ok(live),
    ]);
    let raw = inputs(json!({"content": content, "namespace": "prod", "wait": "rollout"}));
    let out = m.create(&creating("k8s_manifest.app"), &raw).await.unwrap();
    assert_eq!(
        out,
        objects(&["apps/v1 Deployment prod/dj", "v1 ConfigMap prod/settings"])
    );
    assert_eq!(
        lines(&k.sent()),
        [
            "GET /apis/apps/v1",
            "PATCH /apis/apps/v1/namespaces/prod/deployments/dj",
            "GET /api/v1",
            "PATCH /api/v1/namespaces/prod/configmaps/settings",
            "GET /apis/apps/v1/namespaces/prod/deployments/dj",
        ]
    );
}

#[tokio::test]
async fn an_apply_that_fails_records_the_objects_applied_before_it() {
    let (_, m) = manifest(vec![
        core(),
        ok(object("v1", "Namespace", None, "prod", json!({}))),
        apps(),
        status(
            422,
            "Invalid",
            "Deployment.apps \"dj\" is invalid: spec.selector: Required value",
        ),
    ]);
    let raw = inputs(json!({"content": CONTENT}));
    let err = m
        .create(&creating("k8s_manifest.app"), &raw)
        .await
        .unwrap_err();
    assert_eq!(
        err.operation.as_deref(),
        Some("PATCH apps/v1 Deployment prod/dj")
    );
    assert_eq!(err.code.as_deref(), Some("422 Unprocessable Entity"));
    assert!(err.message.contains("spec.selector"), "{err}");
    assert!(err.hint.as_deref().unwrap().contains("fix the manifest"));
    let partial = err.partial.expect("what was applied");
    assert_eq!(partial.inputs, raw);
    assert_eq!(partial.outputs, objects(&["v1 Namespace prod"]));
}

#[tokio::test]
async fn a_first_apply_refused_is_an_error_with_nothing_recorded() {
    let (k, m) = manifest(vec![
        core(),
        status(
            403,
            "Forbidden",
            "namespaces is forbidden: User \"meshmon\" cannot patch",
        ),
    ]);
    let err = m
        .create(
            &creating("k8s_manifest.app"),
            &inputs(json!({"content": CONTENT})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.operation.as_deref(), Some("PATCH v1 Namespace prod"));
    assert_eq!(err.code.as_deref(), Some("403 Forbidden"));
    assert!(err.partial.is_none());
    assert_eq!(k.sent().len(), 2, "nothing after the refusal");
}

#[tokio::test]
async fn a_refused_discovery_names_the_group_version_it_asked_for() {
    let (k, m) = manifest(vec![status(403, "Forbidden", "forbidden: /apis/apps/v1")]);
    let content = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dj}\n";
    let err = m
        .create(
            &creating("k8s_manifest.app"),
            &inputs(json!({"content": content})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.operation.as_deref(), Some("GET discovery for apps/v1"));
    assert_eq!(err.code.as_deref(), Some("403 Forbidden"));
    assert!(
        !err.hint
            .as_deref()
            .unwrap_or_default()
            .contains("CustomResourceDefinition"),
        "a refusal is not about a CRD: {:?}",
        err.hint
    );
    assert_eq!(lines(&k.sent()), ["GET /apis/apps/v1"]);
}

#[tokio::test]
async fn content_that_is_not_a_kubernetes_object_is_refused_before_any_request() {
    let (k, m) = manifest(vec![]);
    let content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n";
    let err = m
        .create(
            &creating("k8s_manifest.app"),
            &inputs(json!({"content": content})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "document 1 of `content` has no metadata.name");
    assert!(k.sent().is_empty());
}

#[tokio::test]
async fn a_read_projects_the_live_objects_and_leaves_out_one_that_is_missing() {
    let live = object(
        "apps/v1",
        "Deployment",
        Some("prod"),
        "dj",
        json!({
            "spec": {"replicas": 3, "revisionHistoryLimit": 10},
            "status": {"replicas": 3},
        }),
    );
    let (k, m) = manifest(vec![
        apps(),
        ok(live),
        core(),
        not_found("configmaps \"settings\""),
    ]);
    let content = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dj, namespace: prod}\n\
                   spec: {replicas: 1}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n";
    let prior = Current::new(
        inputs(json!({"content": content})),
        objects(&[
            "apps/v1 Deployment prod/dj",
            "v1 ConfigMap default/settings",
        ]),
    );
    let now = m.read(&ctx(), &prior).await.unwrap().expect("the manifest");
    assert_eq!(
        lines(&k.sent()),
        [
            "GET /apis/apps/v1",
            "GET /apis/apps/v1/namespaces/prod/deployments/dj",
            "GET /api/v1",
            "GET /api/v1/namespaces/default/configmaps/settings",
        ]
    );
    assert_eq!(
        documents(&now.inputs["content"]),
        [json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "dj", "namespace": "prod"}, "spec": {"replicas": 3}})],
        "only what meshmon set, as it is live; the missing ConfigMap shows as removed"
    );
    assert_eq!(now.outputs, objects(&["apps/v1 Deployment prod/dj"]));
}

#[tokio::test]
async fn a_read_of_unchanged_objects_keeps_the_content_as_written() {
    let content = "# the app's settings\napiVersion: v1\nkind: ConfigMap\n\
                   metadata: {name: settings}\ndata: {level: info}\n";
    let live = object(
        "v1",
        "ConfigMap",
        Some("mesh"),
        "settings",
        json!({"data": {"level": "info"}}),
    );
    let (_, m) = manifest(vec![core(), ok(live)]);
    let prior = Current::new(
        inputs(json!({"content": content, "namespace": "mesh"})),
        objects(&["v1 ConfigMap mesh/settings"]),
    );
    let now = m.read(&ctx(), &prior).await.unwrap().expect("the manifest");
    assert_eq!(now.inputs, prior.inputs, "the comment and layout stay");
    assert_eq!(now.outputs, prior.outputs);
}

#[tokio::test]
async fn a_manifest_whose_objects_are_missing_or_no_longer_served_reads_as_gone() {
    let content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\n\
                   apiVersion: appmesh.k8s.aws/v1beta2\nkind: Mesh\nmetadata: {name: global}\n";
    let (k, m) = manifest(vec![
        core(),
        not_found("configmaps \"settings\""),
        not_found("the server could not find the requested resource"),
    ]);
    let prior = Current::new(
        inputs(json!({"content": content})),
        objects(&[
            "v1 ConfigMap default/settings",
            "appmesh.k8s.aws/v1beta2 Mesh global",
        ]),
    );
    assert!(m.read(&ctx(), &prior).await.unwrap().is_none());
    assert_eq!(
        lines(&k.sent()),
        [
            "GET /api/v1",
            "GET /api/v1/namespaces/default/configmaps/settings",
            "GET /apis/appmesh.k8s.aws/v1beta2",
        ]
    );
}

#[tokio::test]
async fn an_update_applies_the_new_content_and_deletes_what_left_it() {
    let (k, m) = manifest(vec![
        core(),
        ok(object(
            "v1",
            "ConfigMap",
            Some("mesh"),
            "settings",
            json!({}),
        )),
        ok(object("v1", "ConfigMap", Some("mesh"), "old", json!({}))),
        not_found("configmaps \"old\""),
    ]);
    let prior = Current::new(
        inputs(json!({
            "content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n---\n\
                        apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
            "namespace": "mesh",
        })),
        objects(&["v1 ConfigMap mesh/old", "v1 ConfigMap mesh/settings"]),
    );
    let content =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: debug}\n";
    let out = m
        .update(
            &ctx(),
            &prior,
            &inputs(json!({"content": content, "namespace": "mesh"})),
        )
        .await
        .unwrap();
    assert_eq!(out, objects(&["v1 ConfigMap mesh/settings"]));
    let sent = k.sent();
    assert_eq!(
        lines(&sent),
        [
            "GET /api/v1",
            "PATCH /api/v1/namespaces/mesh/configmaps/settings",
            "DELETE /api/v1/namespaces/mesh/configmaps/old",
            "GET /api/v1/namespaces/mesh/configmaps/old",
        ],
        "the kind found for the apply serves the delete"
    );
    assert_eq!(sent[1].param("fieldManager"), Some(FIELD_MANAGER));
    assert_eq!(sent[1].body["data"], json!({"level": "debug"}));
    assert_eq!(sent[2].body["propagationPolicy"], "Background");
}

#[tokio::test]
async fn an_update_that_fails_records_the_old_objects_and_the_new_ones_applied() {
    let (k, m) = manifest(vec![
        core(),
        ok(object("v1", "ConfigMap", Some("mesh"), "new", json!({}))),
        apps(),
        status(
            409,
            "Conflict",
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas",
        ),
    ]);
    let prior = Current::new(
        inputs(json!({"content": "", "namespace": "mesh"})),
        objects(&["v1 ConfigMap mesh/old"]),
    );
    let content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: new}\n---\n\
                   apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dj}\nspec: {replicas: 1}\n";
    let raw = inputs(json!({"content": content, "namespace": "mesh"}));
    let err = m.update(&ctx(), &prior, &raw).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("409 Conflict"));
    assert!(
        err.hint.as_deref().unwrap().contains("\"kubectl-edit\""),
        "{err:?}"
    );
    let partial = err.partial.expect("both sets");
    assert_eq!(partial.inputs, raw);
    assert_eq!(
        partial.outputs,
        objects(&["v1 ConfigMap mesh/old", "v1 ConfigMap mesh/new"]),
        "nothing orphaned"
    );
    assert!(k.sent().iter().all(|s| s.method != "DELETE"));
}

#[tokio::test]
async fn a_delete_removes_the_recorded_objects_in_reverse_order_and_waits_for_each() {
    let (k, m) = manifest(vec![
        apps(),
        ok(object(
            "apps/v1",
            "Deployment",
            Some("prod"),
            "dj",
            json!({}),
        )),
        not_found("deployments.apps \"dj\""),
        core(),
        ok(object("v1", "Namespace", None, "prod", json!({}))),
        not_found("namespaces \"prod\""),
    ]);
    let prior = Current::new(
        inputs(json!({"content": CONTENT})),
        objects(&["v1 Namespace prod", "apps/v1 Deployment prod/dj"]),
    );
    m.delete(&ctx(), &prior).await.unwrap();
    let sent = k.sent();
    assert_eq!(
        lines(&sent),
        [
            "GET /apis/apps/v1",
            "DELETE /apis/apps/v1/namespaces/prod/deployments/dj",
            "GET /apis/apps/v1/namespaces/prod/deployments/dj",
            "GET /api/v1",
            "DELETE /api/v1/namespaces/prod",
            "GET /api/v1/namespaces/prod",
        ],
        "the recorded objects, not the content's"
    );
    assert_eq!(sent[1].body["propagationPolicy"], "Background");
}

#[tokio::test]
async fn deleting_objects_already_gone_or_of_a_kind_no_longer_served_succeeds() {
    let (k, m) = manifest(vec![
        core(),
        not_found("configmaps \"settings\""),
        not_found("the server could not find the requested resource"),
    ]);
    let prior = Current::new(
        inputs(json!({"content": ""})),
        objects(&[
            "appmesh.k8s.aws/v1beta2 Mesh global",
            "v1 ConfigMap mesh/settings",
        ]),
    );
    m.delete(&ctx(), &prior).await.unwrap();
    assert_eq!(
        lines(&k.sent()),
        [
            "GET /api/v1",
            "DELETE /api/v1/namespaces/mesh/configmaps/settings",
            "GET /apis/appmesh.k8s.aws/v1beta2",
        ]
    );
    let (k, m) = manifest(vec![]);
    let none = Current::new(inputs(json!({"content": ""})), Map::new());
    m.delete(&ctx(), &none).await.unwrap();
    assert!(k.sent().is_empty(), "a record without objects applied none");
}

#[tokio::test]
async fn recover_adopts_the_objects_only_when_every_one_is_there() {
    let content = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\n\
                   apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n";
    let (k, m) = manifest(vec![
        core(),
        ok(object("v1", "Namespace", None, "prod", json!({}))),
        core(),
        ok(object(
            "v1",
            "ConfigMap",
            Some("prod"),
            "settings",
            json!({}),
        )),
        ok(object("v1", "Namespace", None, "prod", json!({}))),
        not_found("configmaps \"settings\""),
    ]);
    let raw = inputs(json!({"content": content, "namespace": "prod"}));
    let ctx = creating("k8s_manifest.app");
    let found = m.recover(&ctx, &raw).await.unwrap();
    assert_eq!(
        found,
        Some(objects(&[
            "v1 Namespace prod",
            "v1 ConfigMap prod/settings"
        ]))
    );
    let found = m.recover(&ctx, &raw).await.unwrap();
    assert_eq!(found, None, "the create runs again");
    let sent = k.sent();
    assert!(sent.iter().all(|s| s.method == "GET"), "{:?}", lines(&sent));
    assert_eq!(
        lines(&sent[4..]),
        [
            "GET /api/v1/namespaces/prod",
            "GET /api/v1/namespaces/prod/configmaps/settings",
        ]
    );
}

#[tokio::test]
async fn an_import_adopts_the_live_object_without_what_the_server_owns() {
    let mut live = object(
        "apps/v1",
        "Deployment",
        Some("prod"),
        "dj",
        json!({"spec": {"replicas": 1}, "status": {"replicas": 1}}),
    );
    for (k, v) in [
        ("resourceVersion", json!("7")),
        ("generation", json!(2)),
        ("creationTimestamp", json!("2026-01-01T00:00:00Z")),
        (
            "managedFields",
            json!([{"manager": "kubectl", "operation": "Apply"}]),
        ),
        ("labels", json!({"app": "dj"})),
    ] {
        live["metadata"][k] = v;
    }
    let (k, m) = manifest(vec![apps(), ok(live)]);
    let now = m
        .import(&ctx(), "apps/v1 Deployment prod/dj")
        .await
        .unwrap()
        .expect("the object");
    assert_eq!(
        documents(&now.inputs["content"]),
        [json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "dj", "namespace": "prod", "labels": {"app": "dj"}},
                "spec": {"replicas": 1}})]
    );
    assert_eq!(now.inputs["namespace"], Value::from("prod"));
    assert_eq!(now.outputs, objects(&["apps/v1 Deployment prod/dj"]));
    assert_eq!(
        lines(&k.sent()),
        [
            "GET /apis/apps/v1",
            "GET /apis/apps/v1/namespaces/prod/deployments/dj"
        ]
    );
    let err = m.import(&ctx(), "dj").await.unwrap_err();
    assert!(
        err.hint
            .as_deref()
            .unwrap()
            .contains("apps/v1 Deployment prod/dj"),
        "{err:?}"
    );
    assert_eq!(k.sent().len(), 2, "a bad ID sends nothing");
}
