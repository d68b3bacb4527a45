//! `k8s_namespace` and `k8s_service_account`: metadata-only objects, written
//! with server-side apply (field manager `meshmon`, forced) so that a label
//! removed from the spec is removed from the object, while labels other
//! managers set (the API server's `kubernetes.io/metadata.name`, a
//! controller's annotations) are left alone and never show as drift: reading
//! reports only the keys meshmon recorded.
//!
//! Server-side apply may run twice, so a create whose answer was lost is
//! recovered by name, which the API server keeps unique: the object there
//! is the one the create made (or took over, as applying it does).

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, Value,
    async_trait,
};
use serde_json::json;

use crate::conn::Conn;
use crate::error::{self, retry};

pub const FIELD_MANAGER: &str = "meshmon";

pub fn namespace_schema() -> Schema {
    Schema::new("k8s_namespace", "A Kubernetes namespace.")
        .attr(Attribute::required("name", AttrType::String).force_new())
        .attr(labels_attr())
        .attr(annotations_attr())
        .attr(Attribute::computed("uid", AttrType::String))
}

pub fn service_account_schema() -> Schema {
    Schema::new(
        "k8s_service_account",
        "A Kubernetes service account; annotate it with `eks.amazonaws.com/role-arn` for IRSA.",
    )
    .attr(Attribute::required("namespace", AttrType::String).force_new())
    .attr(Attribute::required("name", AttrType::String).force_new())
    .attr(labels_attr())
    .attr(annotations_attr())
    .attr(Attribute::computed("uid", AttrType::String))
}

fn labels_attr() -> Attribute {
    Attribute::optional("labels", AttrType::map_of(AttrType::String))
        .describe("Labels meshmon manages; changed in place.")
}

fn annotations_attr() -> Attribute {
    Attribute::optional("annotations", AttrType::map_of(AttrType::String))
        .describe("Annotations meshmon manages; changed in place.")
}

/// Which of the two kinds.
#[derive(Clone, Copy)]
pub enum Kind {
    Namespace,
    ServiceAccount,
}

pub struct MetaObject {
    pub conn: Arc<Conn>,
    pub kind: Kind,
}

fn str_of<'a>(m: &'a Map, key: &str) -> Result<&'a str, ProviderError> {
    m.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::invalid_inputs(format!("`{key}` is missing")))
}

fn string_map(m: &Map, key: &str) -> serde_json::Map<String, serde_json::Value> {
    m.get(key)
        .and_then(Value::as_map)
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| Some((k.clone(), json!(v.as_str()?))))
                .collect()
        })
        .unwrap_or_default()
}

/// The live keys of `live` that `prior` recorded, as the spec would write them.
fn known_keys(
    prior: &Map,
    key: &str,
    live: Option<&std::collections::BTreeMap<String, String>>,
) -> Option<Value> {
    let recorded = prior.get(key).and_then(Value::as_map)?;
    let live = live.cloned().unwrap_or_default();
    Some(Value::Map(
        recorded
            .keys()
            .filter_map(|k| Some((k.clone(), Value::String(live.get(k)?.clone()))))
            .collect(),
    ))
}

impl MetaObject {
    fn names<'a>(&self, inputs: &'a Map) -> Result<(Option<&'a str>, &'a str), ProviderError> {
        let name = str_of(inputs, "name")?;
        Ok(match self.kind {
            Kind::Namespace => (None, name),
            Kind::ServiceAccount => (Some(str_of(inputs, "namespace")?), name),
        })
    }

    fn describe(&self, ns: Option<&str>, name: &str) -> String {
        match (self.kind, ns) {
            (Kind::Namespace, _) => format!("v1 Namespace {name}"),
            (Kind::ServiceAccount, ns) => {
                format!("v1 ServiceAccount {}/{name}", ns.unwrap_or_default())
            }
        }
    }

    async fn apply(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let (ns, name) = self.names(inputs)?;
        let client = self.conn.client(ctx).await?;
        let mut metadata = json!({
            "name": name,
            "labels": string_map(inputs, "labels"),
            "annotations": string_map(inputs, "annotations"),
        });
        if let Some(ns) = ns {
            metadata["namespace"] = json!(ns);
        }
        let kind = match self.kind {
            Kind::Namespace => "Namespace",
            Kind::ServiceAccount => "ServiceAccount",
        };
        let body = json!({"apiVersion": "v1", "kind": kind, "metadata": metadata});
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let patch = Patch::Apply(&body);
        let op = format!("PATCH {}", self.describe(ns, name));
        let uid = match (self.kind, ns) {
            (Kind::ServiceAccount, Some(ns)) => {
                let api: Api<ServiceAccount> = Api::namespaced(client, ns);
                retry(|| api.patch(name, &params, &patch))
                    .await
                    .map_err(|e| error::api(&op, e))?
                    .metadata
                    .uid
            }
            _ => {
                let api: Api<Namespace> = Api::all(client);
                retry(|| api.patch(name, &params, &patch))
                    .await
                    .map_err(|e| error::api(&op, e))?
                    .metadata
                    .uid
            }
        };
        Ok(Map::from([(
            "uid".to_string(),
            Value::String(uid.unwrap_or_default()),
        )]))
    }

    async fn fetch(
        &self,
        ctx: &OpContext,
        ns: Option<&str>,
        name: &str,
        prior: &Map,
    ) -> Result<Option<Current>, ProviderError> {
        let client = self.conn.client(ctx).await?;
        let op = format!("GET {}", self.describe(ns, name));
        let meta = match (self.kind, ns) {
            (Kind::ServiceAccount, Some(ns)) => {
                let api: Api<ServiceAccount> = Api::namespaced(client, ns);
                retry(|| api.get_opt(name))
                    .await
                    .map_err(|e| error::api(&op, e))?
                    .map(|o| o.metadata)
            }
            _ => {
                let api: Api<Namespace> = Api::all(client);
                let found = retry(|| api.get_opt(name))
                    .await
                    .map_err(|e| error::api(&op, e))?;
                // A namespace being deleted is as good as gone: nothing can
                // be created in it, and the next apply must make a new one.
                found
                    .filter(|n| n.metadata.deletion_timestamp.is_none())
                    .map(|o| o.metadata)
            }
        };
        let Some(meta) = meta else { return Ok(None) };
        let mut inputs = Map::new();
        inputs.insert("name".into(), Value::from(name));
        if let Some(ns) = ns {
            inputs.insert("namespace".into(), Value::from(ns));
        }
        if let Some(v) = known_keys(prior, "labels", meta.labels.as_ref()) {
            inputs.insert("labels".into(), v);
        }
        if let Some(v) = known_keys(prior, "annotations", meta.annotations.as_ref()) {
            inputs.insert("annotations".into(), v);
        }
        let outputs = Map::from([(
            "uid".to_string(),
            Value::String(meta.uid.unwrap_or_default()),
        )]);
        Ok(Some(Current::new(inputs, outputs)))
    }
}

#[async_trait]
impl Resource for MetaObject {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        self.apply(ctx, inputs).await
    }

    /// GETs the object by name; its uid, as the create returns it. A
    /// namespace being deleted is not found.
    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let (ns, name) = self.names(inputs)?;
        let found = self.fetch(ctx, ns, name, inputs).await?;
        Ok(found.map(|c| c.outputs))
    }

    async fn read(
        &self,
        ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        let (ns, name) = self.names(&prior.inputs)?;
        self.fetch(ctx, ns, name, &prior.inputs).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        self.apply(ctx, inputs).await
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let (ns, name) = self.names(&prior.inputs)?;
        let client = self.conn.client(ctx).await?;
        let op = format!("DELETE {}", self.describe(ns, name));
        let dp = DeleteParams::background();
        let res = match (self.kind, ns) {
            (Kind::ServiceAccount, Some(ns)) => {
                let api: Api<ServiceAccount> = Api::namespaced(client, ns);
                retry(|| api.delete(name, &dp)).await.map(|_| ())
            }
            _ => {
                let api: Api<Namespace> = Api::all(client);
                retry(|| api.delete(name, &dp)).await.map(|_| ())
            }
        };
        match res {
            Err(e) if error::is_not_found(&e) => return Ok(()),
            Err(e) => return Err(error::api(&op, e)),
            Ok(()) => {}
        }
        // A namespace stays Terminating until everything in it is gone; a
        // re-create with the same name would fail until then.
        let limit = ctx.timeout.unwrap_or(Duration::from_secs(15 * 60));
        let started = Instant::now();
        loop {
            let client = self.conn.client(ctx).await?;
            let exists = match (self.kind, ns) {
                (Kind::ServiceAccount, Some(ns)) => Api::<ServiceAccount>::namespaced(client, ns)
                    .get_opt(name)
                    .await
                    .map(|o| o.is_some()),
                _ => Api::<Namespace>::all(client)
                    .get_opt(name)
                    .await
                    .map(|o| o.is_some()),
            };
            match exists {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) if error::is_transient(&e) => {}
                Err(e) => return Err(error::api(format!("GET {}", self.describe(ns, name)), e)),
            }
            if started.elapsed() > limit {
                return Err(ProviderError::new(format!(
                    "{} was still terminating after {}",
                    self.describe(ns, name),
                    humantime::format_duration(limit)
                ))
                .with_hint("something in it has a finalizer that never completes: look at `kubectl get all -n NAME`"));
            }
            ctx.progress(&format!(
                "waiting for {} to be deleted",
                self.describe(ns, name)
            ));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn import(&self, ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        let (ns, name) = match self.kind {
            Kind::Namespace => (None, id),
            Kind::ServiceAccount => {
                let (ns, name) = id.split_once('/').ok_or_else(|| {
                    ProviderError::new(format!("{id:?} is not a service account ID"))
                        .with_hint("import service accounts as NAMESPACE/NAME")
                })?;
                (Some(ns), name)
            }
        };
        // An import adopts what is there: every label and annotation.
        let everything = Map::from([
            ("labels".to_string(), Value::Map(Map::new())),
            ("annotations".to_string(), Value::Map(Map::new())),
        ]);
        let Some(mut found) = self.fetch(ctx, ns, name, &everything).await? else {
            return Ok(None);
        };
        let client = self.conn.client(ctx).await?;
        let meta = match (self.kind, ns) {
            (Kind::ServiceAccount, Some(ns)) => Api::<ServiceAccount>::namespaced(client, ns)
                .get(name)
                .await
                .map(|o| o.metadata),
            _ => Api::<Namespace>::all(client)
                .get(name)
                .await
                .map(|o| o.metadata),
        }
        .map_err(|e| error::api(format!("GET {}", self.describe(ns, name)), e))?;
        let to_value = |m: Option<std::collections::BTreeMap<String, String>>| {
            Value::Map(
                m.unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            )
        };
        let mut labels = to_value(meta.labels);
        if let Value::Map(l) = &mut labels {
            // Set by the API server on every namespace, never by a user.
            l.remove("kubernetes.io/metadata.name");
        }
        found.inputs.insert("labels".into(), labels);
        found
            .inputs
            .insert("annotations".into(), to_value(meta.annotations));
        Ok(Some(found))
    }
}
