use super::*;
use crate::testing::{Sent, cluster, creating, inputs, status};
use serde_json::Value as Json;

fn namespace(labels: Json, annotations: Json) -> (u16, Json) {
    (
        200,
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "mesh", "uid": "ns-uid", "labels": labels, "annotations": annotations}}),
    )
}

fn service_account(metadata: Json) -> (u16, Json) {
    let mut m = json!({"name": "envoy", "namespace": "mesh", "uid": "sa-uid"});
    for (k, v) in metadata.as_object().unwrap() {
        m[k] = v.clone();
    }
    (
        200,
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": m}),
    )
}

/// Creates the namespace `raw` describes, as apply would.
async fn create_namespace(conn: Arc<Conn>, raw: &Map) -> Result<NamespaceOut, ProviderError> {
    NamespaceObject::new(conn)
        .create(
            &creating("k8s_namespace.mesh"),
            &Inputs::decode(raw).unwrap(),
        )
        .await
}

fn recorded(i: Json, uid: &str) -> Current {
    Current::new(inputs(i), inputs(json!({ "uid": uid })))
}

#[tokio::test]
async fn a_namespace_is_applied_server_side_with_force_as_meshmon() {
    let (k, conn) = cluster(vec![
        status(404, "NotFound", "namespaces \"mesh\" not found"),
        namespace(json!({"team": "obs"}), json!({})),
    ]);
    let raw = inputs(json!({"name": "mesh", "labels": {"team": "obs"}}));
    let out = create_namespace(conn, &raw).await.unwrap();
    assert_eq!(
        out,
        NamespaceOut {
            uid: "ns-uid".into()
        }
    );
    let sent = k.sent();
    assert_eq!(
        sent.iter().map(Sent::line).collect::<Vec<_>>(),
        [
            "GET /api/v1/namespaces/mesh",
            "PATCH /api/v1/namespaces/mesh"
        ],
        "a create first looks for a namespace of that name still terminating"
    );
    let patch = &sent[1];
    assert_eq!(patch.param("fieldManager"), Some(FIELD_MANAGER));
    assert_eq!(patch.param("force"), Some("true"));
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert_eq!(
        patch.body,
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "mesh", "labels": {"team": "obs"}, "annotations": {}}}),
        "labels and annotations left out are applied empty, which removes meshmon's old ones"
    );
}

#[tokio::test]
async fn a_service_account_is_applied_in_its_namespace_with_its_annotations() {
    let role = "arn:aws:iam::1:role/envoy";
    let (k, conn) = cluster(vec![service_account(
        json!({"annotations": {"eks.amazonaws.com/role-arn": role}}),
    )]);
    let raw = inputs(json!({
        "namespace": "mesh", "name": "envoy",
        "annotations": {"eks.amazonaws.com/role-arn": role},
    }));
    let out = ServiceAccountObject::new(conn)
        .create(
            &creating("k8s_service_account.envoy"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out.uid, "sa-uid");
    let sent = k.sent();
    assert_eq!(
        sent[0].line(),
        "PATCH /api/v1/namespaces/mesh/serviceaccounts/envoy"
    );
    assert_eq!(sent[0].body["kind"], "ServiceAccount");
    assert_eq!(sent[0].body["metadata"]["namespace"], "mesh");
    assert_eq!(
        sent[0].body["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        role
    );
}

#[tokio::test]
async fn an_answer_without_a_uid_is_refused_rather_than_recorded_empty() {
    let (k, conn) = cluster(vec![
        status(404, "NotFound", "namespaces \"mesh\" not found"),
        (
            200,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mesh"}}),
        ),
    ]);
    let raw = inputs(json!({"name": "mesh"}));
    let err = create_namespace(conn, &raw).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "PATCH v1 Namespace mesh: the answer carries no metadata.uid"
    );
    assert!(
        err.hint
            .as_deref()
            .unwrap()
            .contains("finds the object by name")
    );
    assert_eq!(k.sent()[1].line(), "PATCH /api/v1/namespaces/mesh");
}

#[tokio::test]
async fn a_namespace_still_terminating_is_waited_for_before_it_is_created_again() {
    let terminating = (
        200,
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "mesh", "uid": "old-uid", "deletionTimestamp": "2026-01-01T00:00:00Z"},
               "status": {"phase": "Terminating"}}),
    );
    let (k, conn) = cluster(vec![
        terminating.clone(),
        terminating,
        status(404, "NotFound", "namespaces \"mesh\" not found"),
        namespace(json!({}), json!({})),
    ]);
    let raw = inputs(json!({"name": "mesh"}));
    let out = create_namespace(conn, &raw).await.unwrap();
    assert_eq!(
        out.uid, "ns-uid",
        "the new namespace, not the one going away"
    );
    assert_eq!(
        k.sent().iter().map(Sent::line).collect::<Vec<_>>(),
        [
            "GET /api/v1/namespaces/mesh",
            "GET /api/v1/namespaces/mesh",
            "GET /api/v1/namespaces/mesh",
            "PATCH /api/v1/namespaces/mesh"
        ]
    );
}

#[tokio::test]
async fn a_forbidden_apply_names_the_object_and_the_rbac_fix() {
    let (_, conn) = cluster(vec![status(
        403,
        "Forbidden",
        "serviceaccounts \"envoy\" is forbidden: User \"meshmon\" cannot patch resource",
    )]);
    let raw = inputs(json!({"namespace": "mesh", "name": "envoy"}));
    let err = ServiceAccountObject::new(conn)
        .create(
            &creating("k8s_service_account.envoy"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.operation.as_deref(),
        Some("PATCH v1 ServiceAccount mesh/envoy")
    );
    assert_eq!(err.code.as_deref(), Some("403 Forbidden"));
    assert!(err.hint.as_deref().unwrap().contains("RBAC"), "{err:?}");
}

#[tokio::test]
async fn a_read_reports_only_the_keys_meshmon_recorded() {
    let (k, conn) = cluster(vec![namespace(
        json!({"team": "obs", "kubernetes.io/metadata.name": "mesh"}),
        json!({"controller.example.com/seen": "yes"}),
    )]);
    let prior = recorded(
        json!({"name": "mesh", "labels": {"team": "obs", "tier": "mon"}, "annotations": {}}),
        "ns-uid",
    );
    let now = NamespaceObject::new(conn)
        .read(&OpContext::quiet("k8s_namespace.mesh"), "ns-uid", &prior)
        .await
        .unwrap()
        .expect("the namespace");
    assert_eq!(k.sent()[0].line(), "GET /api/v1/namespaces/mesh");
    assert_eq!(
        now.inputs,
        inputs(json!({"name": "mesh", "labels": {"team": "obs"}, "annotations": {}})),
        "a recorded label removed by hand is drift; others' keys are not"
    );
    assert_eq!(now.outputs.uid, "ns-uid");
}

#[tokio::test]
async fn an_object_without_labels_has_none_of_the_recorded_ones() {
    let (_, conn) = cluster(vec![service_account(json!({}))]);
    let prior = recorded(
        json!({"namespace": "mesh", "name": "envoy", "labels": {"team": "obs"}}),
        "sa-uid",
    );
    let now = ServiceAccountObject::new(conn)
        .read(
            &OpContext::quiet("k8s_service_account.envoy"),
            "sa-uid",
            &prior,
        )
        .await
        .unwrap()
        .expect("the service account");
    assert_eq!(now.inputs["labels"], Value::Map(Map::new()));
    assert!(!now.inputs.contains_key("annotations"), "never recorded");
}

#[tokio::test]
async fn a_namespace_being_deleted_or_not_found_reads_as_gone() {
    let (_, conn) = cluster(vec![
        (
            200,
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "mesh", "uid": "ns-uid", "deletionTimestamp": "2026-01-01T00:00:00Z"},
                   "status": {"phase": "Terminating"}}),
        ),
        status(404, "NotFound", "namespaces \"mesh\" not found"),
    ]);
    let ns = NamespaceObject::new(conn);
    let prior = recorded(json!({"name": "mesh"}), "ns-uid");
    let ctx = OpContext::quiet("k8s_namespace.mesh");
    assert!(ns.read(&ctx, "ns-uid", &prior).await.unwrap().is_none());
    assert!(ns.read(&ctx, "ns-uid", &prior).await.unwrap().is_none());
}

#[tokio::test]
async fn an_import_adopts_every_label_but_the_servers_own() {
    let (k, conn) = cluster(vec![
        namespace(
            json!({"team": "obs", "kubernetes.io/metadata.name": "mesh"}),
            json!({"note": "hand-made"}),
        ),
        namespace(
            json!({"team": "obs", "kubernetes.io/metadata.name": "mesh"}),
            json!({"note": "hand-made"}),
        ),
    ]);
    let now = NamespaceObject::new(conn)
        .fetch(&OpContext::quiet("k8s_namespace.mesh"), "mesh", &Map::new())
        .await
        .unwrap()
        .expect("the namespace");
    assert_eq!(
        now.inputs,
        inputs(
            json!({"name": "mesh", "labels": {"team": "obs"}, "annotations": {"note": "hand-made"}})
        )
    );
    assert!(
        k.sent()
            .iter()
            .all(|s| s.line() == "GET /api/v1/namespaces/mesh")
    );
}

#[tokio::test]
async fn a_service_account_is_imported_as_namespace_and_name() {
    let (k, conn) = cluster(vec![
        service_account(json!({"labels": {"app": "envoy"}})),
        service_account(json!({"labels": {"app": "envoy"}})),
    ]);
    let sa = ServiceAccountObject::new(conn);
    let ctx = OpContext::quiet("k8s_service_account.envoy");
    let now = sa
        .fetch(&ctx, "mesh/envoy", &Map::new())
        .await
        .unwrap()
        .expect("the service account");
    assert_eq!(
        now.inputs,
        inputs(
            json!({"namespace": "mesh", "name": "envoy", "labels": {"app": "envoy"}, "annotations": {}})
        )
    );
    assert_eq!(
        k.sent()[0].line(),
        "GET /api/v1/namespaces/mesh/serviceaccounts/envoy"
    );
    let err = sa.fetch(&ctx, "envoy", &Map::new()).await.unwrap_err();
    assert!(err.hint.as_deref().unwrap().contains("NAMESPACE/NAME"));
    assert_eq!(k.sent().len(), 2, "a bad ID sends nothing");
}

#[tokio::test]
async fn a_delete_runs_in_the_background_and_waits_until_the_object_is_gone() {
    let (k, conn) = cluster(vec![
        service_account(json!({})),
        status(404, "NotFound", "serviceaccounts \"envoy\" not found"),
    ]);
    let prior = recorded(json!({"namespace": "mesh", "name": "envoy"}), "sa-uid");
    ServiceAccountObject::new(conn)
        .delete(
            &OpContext::quiet("k8s_service_account.envoy"),
            "sa-uid",
            &prior,
        )
        .await
        .unwrap();
    let sent = k.sent();
    assert_eq!(
        sent.iter().map(Sent::line).collect::<Vec<_>>(),
        [
            "DELETE /api/v1/namespaces/mesh/serviceaccounts/envoy",
            "GET /api/v1/namespaces/mesh/serviceaccounts/envoy"
        ]
    );
    assert_eq!(sent[0].body["propagationPolicy"], "Background");
}

#[tokio::test]
async fn deleting_what_is_already_gone_sends_one_request() {
    let (k, conn) = cluster(vec![status(
        404,
        "NotFound",
        "namespaces \"mesh\" not found",
    )]);
    NamespaceObject::new(conn)
        .delete(
            &OpContext::quiet("k8s_namespace.mesh"),
            "ns-uid",
            &recorded(json!({"name": "mesh"}), "ns-uid"),
        )
        .await
        .unwrap();
    assert_eq!(k.sent().len(), 1);
}

#[tokio::test]
async fn recover_finds_the_object_by_name() {
    let (k, conn) = cluster(vec![
        namespace(json!({}), json!({})),
        status(404, "NotFound", "namespaces \"mesh\" not found"),
    ]);
    let ns = NamespaceObject::new(conn);
    let raw = inputs(json!({"name": "mesh"}));
    let ctx = creating("k8s_namespace.mesh");
    let found = ns
        .recover(&ctx, &Inputs::decode(&raw).unwrap())
        .await
        .unwrap();
    assert_eq!(
        found,
        Some(NamespaceOut {
            uid: "ns-uid".into()
        })
    );
    let found = ns
        .recover(&ctx, &Inputs::decode(&raw).unwrap())
        .await
        .unwrap();
    assert_eq!(found, None);
    assert_eq!(k.sent()[0].line(), "GET /api/v1/namespaces/mesh");
}
