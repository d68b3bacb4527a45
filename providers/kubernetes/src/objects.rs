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

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use meshmon_provider_sdk::wait::Backoff;
use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Declaration, Declared, DeclaredOutputs, Inputs, Map, OpContext,
    ProviderError, UpdateGroup, Value, async_trait, declare,
};
use serde_json::json;

use crate::conn::Conn;
use crate::error::{self, retry};

pub const FIELD_MANAGER: &str = "meshmon";

declare! {
    pub(crate) struct NamespaceIn for "k8s_namespace" ("A Kubernetes namespace.") {
        name: String = required(AttrType::String).force_new();
        #[serde(default)]
        labels: BTreeMap<String, String> = labels_attr();
        #[serde(default)]
        annotations: BTreeMap<String, String> = annotations_attr();
    }
    outputs NamespaceOut {
        uid: String = computed(AttrType::String);
    }
}

declare! {
    pub(crate) struct ServiceAccountIn for "k8s_service_account"
        ("A Kubernetes service account; annotate it with `eks.amazonaws.com/role-arn` for IRSA.")
    {
        namespace: String = required(AttrType::String).force_new();
        name: String = required(AttrType::String).force_new();
        #[serde(default)]
        labels: BTreeMap<String, String> = labels_attr();
        #[serde(default)]
        annotations: BTreeMap<String, String> = annotations_attr();
    }
    outputs ServiceAccountOut {
        uid: String = computed(AttrType::String);
    }
}

fn labels_attr(name: &'static str) -> Attribute {
    Attribute::optional(name, AttrType::map_of(AttrType::String))
        .describe("Labels meshmon manages; changed in place.")
}

fn annotations_attr(name: &'static str) -> Attribute {
    Attribute::optional(name, AttrType::map_of(AttrType::String))
        .describe("Annotations meshmon manages; changed in place.")
}

/// Which of the two kinds.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Namespace,
    ServiceAccount,
}

/// A kind of metadata-only object: its declaration, and which it is.
pub(crate) trait MetaKind: Send + Sync + 'static {
    type Inputs: Declaration + Meta;
    type Outputs: DeclaredOutputs;
    const KIND: Kind;

    /// The outputs of the object with this uid.
    fn outputs(uid: String) -> Self::Outputs;
}

/// The labels and annotations of either declaration.
pub(crate) trait Meta {
    fn labels(&self) -> &BTreeMap<String, String>;
    fn annotations(&self) -> &BTreeMap<String, String>;
}

impl Meta for NamespaceIn {
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
    fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
}

impl Meta for ServiceAccountIn {
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
    fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
}

/// `k8s_namespace`'s kind.
pub(crate) struct NamespaceKind;
/// `k8s_service_account`'s kind.
pub(crate) struct ServiceAccountKind;

impl MetaKind for NamespaceKind {
    type Inputs = NamespaceIn;
    type Outputs = NamespaceOut;
    const KIND: Kind = Kind::Namespace;

    fn outputs(uid: String) -> NamespaceOut {
        NamespaceOut { uid }
    }
}

impl MetaKind for ServiceAccountKind {
    type Inputs = ServiceAccountIn;
    type Outputs = ServiceAccountOut;
    const KIND: Kind = Kind::ServiceAccount;

    fn outputs(uid: String) -> ServiceAccountOut {
        ServiceAccountOut { uid }
    }
}

/// What a namespace or a service account changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum MetaUpdate {
    /// One server-side apply writes the labels and the annotations.
    Metadata,
}

/// A namespace or a service account, as `K` says.
pub(crate) struct MetaObject<K> {
    conn: Arc<Conn>,
    kind: PhantomData<K>,
}

pub(crate) type NamespaceObject = MetaObject<NamespaceKind>;
pub(crate) type ServiceAccountObject = MetaObject<ServiceAccountKind>;

fn str_of<'a>(m: &'a Map, key: &str) -> Result<&'a str, ProviderError> {
    m.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::invalid_inputs(format!("`{key}` is missing")))
}

/// The live keys of `live` that `prior` recorded, as the spec would write them.
fn known_keys(prior: &Map, key: &str, live: Option<&BTreeMap<String, String>>) -> Option<Value> {
    let recorded = prior.get(key).and_then(Value::as_map)?;
    // An object without labels (annotations) has none of the recorded keys.
    let live = live.cloned().unwrap_or_default();
    Some(Value::Map(
        recorded
            .keys()
            .filter_map(|k| Some((k.clone(), Value::String(live.get(k)?.clone()))))
            .collect(),
    ))
}

/// Every label and annotation of an object, as an import adopts them and
/// the `k8s_namespace` look-up reports them: all but the label the API
/// server sets on every namespace, which no user ever writes.
pub(crate) fn adopted(meta: &ObjectMeta) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut labels = meta.labels.clone().unwrap_or_default();
    labels.remove("kubernetes.io/metadata.name");
    (labels, meta.annotations.clone().unwrap_or_default())
}

/// The uid the API server's answer to `operation` must carry: the ID the
/// object is recorded by.
pub(crate) fn answered_uid(operation: &str, uid: Option<String>) -> Result<String, ProviderError> {
    uid.filter(|u| !u.is_empty()).ok_or_else(|| {
        ProviderError::api(operation, None, "the answer carries no metadata.uid").with_hint(
            "every object a Kubernetes API server stores has a uid: check that the provider reaches \
             the API server itself, then run `meshmon apply` again, which finds the object by name",
        )
    })
}

impl<K: MetaKind> MetaObject<K> {
    fn names<'a>(&self, inputs: &'a Map) -> Result<(Option<&'a str>, &'a str), ProviderError> {
        let name = str_of(inputs, "name")?;
        Ok(match K::KIND {
            Kind::Namespace => (None, name),
            Kind::ServiceAccount => (Some(str_of(inputs, "namespace")?), name),
        })
    }

    pub(crate) fn describe(&self, ns: Option<&str>, name: &str) -> String {
        match (K::KIND, ns) {
            (Kind::ServiceAccount, Some(ns)) => format!("v1 ServiceAccount {ns}/{name}"),
            (Kind::ServiceAccount, None) => format!("v1 ServiceAccount /{name}"),
            (Kind::Namespace, _) => format!("v1 Namespace {name}"),
        }
    }

    async fn apply(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, K::Inputs>,
    ) -> Result<K::Outputs, ProviderError> {
        let (ns, name) = self.names(i.raw())?;
        let client = self.conn.client(ctx).await?;
        let mut metadata = json!({
            "name": name,
            "labels": i.labels(),
            "annotations": i.annotations(),
        });
        if let Some(ns) = ns {
            metadata["namespace"] = json!(ns);
        }
        let kind = match K::KIND {
            Kind::Namespace => "Namespace",
            Kind::ServiceAccount => "ServiceAccount",
        };
        let body = json!({"apiVersion": "v1", "kind": kind, "metadata": metadata});
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let patch = Patch::Apply(&body);
        let op = format!("PATCH {}", self.describe(ns, name));
        let uid = match (K::KIND, ns) {
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
        Ok(K::outputs(answered_uid(&op, uid)?))
    }

    /// Whether a namespace named `name` exists and is being deleted: its
    /// `metadata.deletionTimestamp` is set. The API server still accepts a
    /// server-side apply to it, and the namespace then vanishes with what
    /// was recorded.
    async fn terminating(&self, ctx: &OpContext, name: &str) -> Result<bool, ProviderError> {
        let api: Api<Namespace> = Api::all(self.conn.client(ctx).await?);
        let found = retry(|| api.get_opt(name))
            .await
            .map_err(|e| error::api(format!("GET {}", self.describe(None, name)), e))?;
        Ok(found.is_some_and(|n| n.metadata.deletion_timestamp.is_some()))
    }

    /// Polls until the object is gone, within the operation's timeout.
    async fn wait_gone(
        &self,
        ctx: &OpContext,
        ns: Option<&str>,
        name: &str,
    ) -> Result<(), ProviderError> {
        let limit = ctx.timeout.unwrap_or(Duration::from_secs(15 * 60));
        let mut backoff = Backoff::within(limit);
        loop {
            let client = self.conn.client(ctx).await?;
            let exists = match (K::KIND, ns) {
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
            if backoff.expired() {
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
            backoff.pause().await;
        }
    }

    /// GETs the object's metadata by name: `None` when it does not exist,
    /// or is a namespace being deleted.
    pub(crate) async fn live(
        &self,
        ctx: &OpContext,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<ObjectMeta>, ProviderError> {
        let client = self.conn.client(ctx).await?;
        let op = format!("GET {}", self.describe(ns, name));
        Ok(match (K::KIND, ns) {
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
        })
    }

    /// GETs the object by name and shapes it like `prior`.
    async fn get(
        &self,
        ctx: &OpContext,
        ns: Option<&str>,
        name: &str,
        prior: &Map,
    ) -> Result<Option<Current<K::Outputs>>, ProviderError> {
        let Some(meta) = self.live(ctx, ns, name).await? else {
            return Ok(None);
        };
        let op = format!("GET {}", self.describe(ns, name));
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
        Ok(Some(Current::new(
            inputs,
            K::outputs(answered_uid(&op, meta.uid)?),
        )))
    }

    /// What `meshmon import` adopts: the object named by `id` (`NAME`, or
    /// `NAMESPACE/NAME` for a service account) with every label and
    /// annotation it has.
    async fn import(
        &self,
        ctx: &OpContext,
        id: &str,
    ) -> Result<Option<Current<K::Outputs>>, ProviderError> {
        let (ns, name) = match K::KIND {
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
        let Some(mut found) = self.get(ctx, ns, name, &everything).await? else {
            return Ok(None);
        };
        let client = self.conn.client(ctx).await?;
        let meta = match (K::KIND, ns) {
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
        let to_value = |m: BTreeMap<String, String>| {
            Value::Map(m.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
        };
        let (labels, annotations) = adopted(&meta);
        found.inputs.insert("labels".into(), to_value(labels));
        found
            .inputs
            .insert("annotations".into(), to_value(annotations));
        Ok(Some(found))
    }
}

#[async_trait]
impl<K: MetaKind> Declared for MetaObject<K> {
    type Inputs = K::Inputs;
    type Outputs = K::Outputs;
    type Client = Conn;
    type Group = MetaUpdate;
    const ID: &'static str = "uid";
    const UPDATES: &'static [UpdateGroup<MetaUpdate>] =
        &[(MetaUpdate::Metadata, &["labels", "annotations"])];

    fn new(conn: Arc<Conn>) -> Self {
        MetaObject {
            conn,
            kind: PhantomData,
        }
    }

    /// The API server addresses the object by name, which the recorded
    /// inputs hold; `id` (the uid) is used only on import, where it is
    /// what `meshmon import` was given: NAME, or NAMESPACE/NAME.
    async fn fetch(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<K::Outputs>>, ProviderError> {
        if prior.is_empty() {
            return self.import(ctx, id).await;
        }
        let (ns, name) = self.names(prior)?;
        self.get(ctx, ns, name, prior).await
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, K::Inputs>,
    ) -> Result<K::Outputs, ProviderError> {
        // A namespace of the same name still terminating (a destroy that
        // did not wait, or was killed while waiting) would take the apply
        // and then disappear: wait for it to go first.
        if let Kind::Namespace = K::KIND {
            let (_, name) = self.names(i.raw())?;
            if self.terminating(ctx, name).await? {
                self.wait_gone(ctx, None, name).await?;
            }
        }
        self.apply(ctx, i).await
    }

    /// GETs the object by name; its uid, as the create returns it. A
    /// namespace being deleted is not found.
    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, K::Inputs>,
    ) -> Result<Option<K::Outputs>, ProviderError> {
        let (ns, name) = self.names(i.raw())?;
        let found = self.get(ctx, ns, name, i.raw()).await?;
        Ok(found.map(|c| c.outputs))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        group: MetaUpdate,
        _uid: &str,
        _prior: &Current,
        i: &Inputs<'_, K::Inputs>,
    ) -> Result<Option<K::Outputs>, ProviderError> {
        let MetaUpdate::Metadata = group;
        self.apply(ctx, i).await.map(Some)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _uid: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        let (ns, name) = self.names(&prior.inputs)?;
        let client = self.conn.client(ctx).await?;
        let op = format!("DELETE {}", self.describe(ns, name));
        let dp = DeleteParams::background();
        let res = match (K::KIND, ns) {
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
        self.wait_gone(ctx, ns, name).await
    }
}

#[cfg(test)]
#[path = "objects_test.rs"]
mod tests;
