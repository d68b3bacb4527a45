//! The `kubernetes` provider's look-ups (`[data.k8s_namespace.NAME]`): a
//! namespace made elsewhere (by eksctl, a Helm chart, another team's
//! spec), found by name and never changed. It reports what `meshmon
//! import` would adopt of it — every label but the API server's own, every
//! annotation — and its uid, under the `k8s_namespace` resource's names.
//!
//! A namespace being deleted is not found, as the resource's read does not
//! find it: nothing can be created in it any more.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::ListParams;
use meshmon_provider_sdk::lookup::not_found;
use meshmon_provider_sdk::{
    Declared, DeclaredLookup, Inputs, OpContext, ProviderError, Value, async_trait, declare,
};

use crate::conn::Conn;
use crate::error::{self, retry};
use crate::objects::{NamespaceObject, adopted, answered_uid};

/// What the errors call the object searched for.
const WHAT: &str = "Kubernetes namespace";

declare! {
    pub(crate) struct NamespaceLookupIn for "k8s_namespace" (
        "An existing Kubernetes namespace, found by name (GET /api/v1/namespaces/NAME; when it is \
         missing, the names that exist come from a LIST of /api/v1/namespaces)."
    ) {
        name: String = required(AttrType::String).describe("The namespace's name.");
    }
    outputs NamespaceFound {
        labels: BTreeMap<String, String> = computed(AttrType::map_of(AttrType::String)).describe(
            "Its labels, but kubernetes.io/metadata.name, which the API server sets on every namespace.",
        );
        annotations: BTreeMap<String, String> = computed(AttrType::map_of(AttrType::String))
            .describe("Its annotations.");
        uid: String = computed(AttrType::String).describe("The uid the API server gave it.");
    }
}

pub(crate) struct NamespaceLookup(Arc<Conn>);

impl NamespaceLookup {
    /// The names of the namespaces there are (and are not being deleted),
    /// a page of LIST at a time.
    async fn names(&self, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let api: Api<Namespace> = Api::all(self.0.client(ctx).await?);
        let mut names = Vec::new();
        let mut params = ListParams::default().limit(500);
        loop {
            let page = retry(|| api.list(&params))
                .await
                .map_err(|e| error::api("LIST v1 Namespace", e))?;
            names.extend(
                page.items
                    .into_iter()
                    .filter(|n| n.metadata.deletion_timestamp.is_none())
                    .filter_map(|n| n.metadata.name),
            );
            match page.metadata.continue_ {
                Some(next) if !next.is_empty() => params = params.continue_token(&next),
                _ => return Ok(names),
            }
        }
    }
}

#[async_trait]
impl DeclaredLookup for NamespaceLookup {
    type Inputs = NamespaceLookupIn;
    type Outputs = NamespaceFound;
    type Client = Conn;

    fn new(conn: Arc<Conn>) -> Self {
        NamespaceLookup(conn)
    }

    async fn find(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, NamespaceLookupIn>,
    ) -> Result<NamespaceFound, ProviderError> {
        let name = i.name.as_str();
        let objects = NamespaceObject::new(self.0.clone());
        if let Some(meta) = objects.live(ctx, None, name).await? {
            let (labels, annotations) = adopted(&meta);
            return Ok(NamespaceFound {
                labels,
                annotations,
                uid: answered_uid(&format!("GET {}", objects.describe(None, name)), meta.uid)?,
            });
        }
        let keys = [("name", &Value::from(name))];
        Err(match self.names(ctx).await {
            Ok(existing) => not_found(WHAT, &keys, name, existing),
            // The GET worked, so the cluster is there; whoever may get a
            // namespace may not always list them. Say so rather than
            // claim that none exists.
            Err(e) => not_found(WHAT, &keys, name, []).with_hint(format!(
                "the namespaces there are could not be listed to suggest one ({e}); a look-up \
                 only reads: it never creates what it does not find"
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use meshmon_provider_sdk::lookup::NOT_FOUND;
    use serde_json::{Value as Json, json};

    use super::*;
    use crate::testing::{cluster, inputs, status};

    fn namespace(name: &str, terminating: bool) -> Json {
        let mut n = json!({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": name, "uid": format!("{name}-uid")}});
        if terminating {
            n["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        }
        n
    }

    fn page(items: &[Json], next: Option<&str>) -> (u16, Json) {
        (
            200,
            json!({"apiVersion": "v1", "kind": "NamespaceList",
                   "metadata": {"continue": next}, "items": items}),
        )
    }

    async fn find(conn: Arc<Conn>, name: &str) -> Result<NamespaceFound, ProviderError> {
        let raw = inputs(json!({ "name": name }));
        NamespaceLookup::new(conn)
            .find(
                &OpContext::quiet("data.k8s_namespace.mesh"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
    }

    #[tokio::test]
    async fn a_namespace_being_deleted_is_not_found_nor_suggested() {
        let (k, conn) = cluster(vec![
            (200, namespace("mesh", true)),
            page(
                &[namespace("mesh", true), namespace("mesh-old", false)],
                Some("p2"),
            ),
            page(&[namespace("msh", false)], None),
        ]);
        let e = find(conn, "mesh").await.unwrap_err();
        assert_eq!(e.code.as_deref(), Some(NOT_FOUND), "{e}");
        let hint = e.hint.unwrap();
        assert!(
            hint.starts_with(r#"did you mean "msh" or "mesh-old"?"#)
                || hint.starts_with(r#"did you mean "mesh-old" or "msh"?"#),
            "{hint}"
        );
        let sent = k.sent();
        let lines: Vec<String> = sent.iter().map(|s| s.line()).collect();
        assert_eq!(
            lines,
            [
                "GET /api/v1/namespaces/mesh",
                "GET /api/v1/namespaces",
                "GET /api/v1/namespaces"
            ]
        );
        assert_eq!(sent[2].param("continue"), Some("p2"));
    }

    #[tokio::test]
    async fn names_that_cannot_be_listed_are_not_taken_for_none() {
        let (_k, conn) = cluster(vec![
            status(404, "NotFound", "namespaces \"mesh\" not found"),
            status(403, "Forbidden", "cannot list resource \"namespaces\""),
        ]);
        let e = find(conn, "mesh").await.unwrap_err();
        assert_eq!(e.code.as_deref(), Some(NOT_FOUND), "{e}");
        let hint = e.hint.unwrap();
        assert!(hint.contains("could not be listed"), "{hint}");
        assert!(hint.contains("403"), "{hint}");
    }
}
