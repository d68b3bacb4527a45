//! `k8s_manifest`: any Kubernetes objects, written as one or many YAML
//! documents and applied object by object with server-side apply (field
//! manager `meshmon`, forced). The identities of the applied objects are
//! recorded in the `objects` output: an object that leaves the content is
//! deleted on the next apply, and a destroy deletes them in reverse order and
//! waits until each is gone. Reading projects each live object onto the
//! paths of its applied document (see [`project`]), so only fields meshmon
//! set can drift.
//!
//! Server-side apply may run twice, so a create whose answer was lost is
//! recovered by the objects' names, which the API server keeps unique:
//! when every object the content names is there, they are adopted after
//! the waits a create makes; when some are missing, the create runs again
//! (applying the ones already there changes nothing).

mod docs;
mod ops;
mod project;

use std::sync::Arc;

use kube::api::DynamicObject;
use meshmon_provider_sdk::{
    Current, DeclaredOutputs, Map, OpContext, PlanAdvice, ProviderError, Resource, Value,
    async_trait, attrs, declare,
};
use serde_json::Value as Json;

use crate::conn::Conn;
pub use docs::{Doc, Ident, parse};
pub use ops::rollout_status;

const WORKLOADS: [&str; 3] = ["Deployment", "DaemonSet", "StatefulSet"];

declare! {
    pub(crate) struct ManifestIn for "k8s_manifest"
        ("Kubernetes objects from YAML, applied with server-side apply (field manager `meshmon`).")
    {
        content: String = required(AttrType::Yaml).describe(
            "One or many YAML documents; usually file(\"…\") or an inline string with ${…}.",
        );
        namespace: Option<String> = optional(AttrType::String)
            .describe("Namespace for namespaced objects that name none; \"default\" if left out.");
        wait: Option<String> = optional(AttrType::String).check(wait_check).describe(
            "\"rollout\": wait until Deployments, DaemonSets and StatefulSets are available and Jobs complete.",
        );
    }
    outputs ManifestOut {
        objects: Vec<String> = computed(AttrType::list_of(AttrType::String)).describe(
            "The applied objects, as \"apiVersion Kind namespace/name\", in apply order.",
        );
    }
}

pub(crate) struct Manifest(pub(crate) Arc<Conn>);

/// The check of `wait` in `validate` and `plan`.
fn wait_check(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some("rollout") => Ok(()),
        _ => {
            Err("is not a wait this provider knows: use wait = \"rollout\", or leave it out".into())
        }
    }
}

/// What [`Manifest::walk`] does with each object.
#[derive(Clone, Copy)]
enum Step {
    Apply,
    Find,
}

/// The inputs as the walk uses them.
struct Inputs {
    content: String,
    namespace: String,
    rollout: bool,
}

fn inputs(m: &Map) -> Result<Inputs, ProviderError> {
    let i: ManifestIn = attrs::typed(m)?;
    let rollout = match i.wait.as_deref() {
        None => false,
        Some("rollout") => true,
        Some(other) => {
            return Err(ProviderError::new(format!(
                "`wait` = {other:?} is not a wait this provider knows"
            ))
            .with_hint("use wait = \"rollout\", or leave it out"));
        }
    };
    Ok(Inputs {
        content: i.content,
        namespace: i.namespace.unwrap_or_else(|| "default".into()),
        rollout,
    })
}

fn ranked(mut docs: Vec<Doc>) -> Vec<Doc> {
    docs.sort_by_key(Doc::rank);
    docs
}

/// The outputs of a manifest whose objects are these.
fn outputs(idents: &[Ident]) -> Map {
    let objects = idents.iter().map(Ident::to_string).collect();
    ManifestOut { objects }.into_map()
}

fn recorded(prior: &Current) -> Vec<Ident> {
    // A record without objects has applied none.
    prior
        .outputs
        .get("objects")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| Ident::parse(v.as_str()?))
        .collect()
}

impl Manifest {
    /// Applies every object in order; on failure, says what was applied.
    async fn apply_all(
        &self,
        ctx: &OpContext,
        i: &Inputs,
    ) -> Result<Vec<Ident>, (ProviderError, Vec<Ident>)> {
        self.walk(ctx, i, Step::Apply)
            .await
            .map(Option::unwrap_or_default)
    }

    /// Goes through the objects in apply order, applying each
    /// ([`Step::Apply`]) or finding it ([`Step::Find`]: `Ok(None)` as soon
    /// as one is missing), and makes the create's waits: each CRD until
    /// Established before the objects after it, then, with `wait =
    /// "rollout"`, every workload until rolled out. On failure, says which
    /// objects were applied or found.
    async fn walk(
        &self,
        ctx: &OpContext,
        i: &Inputs,
        step: Step,
    ) -> Result<Option<Vec<Ident>>, (ProviderError, Vec<Ident>)> {
        let docs = parse(&i.content).map_err(|e| (e, Vec::new()))?;
        let mut done = Vec::new();
        let mut workloads = Vec::new();
        for doc in ranked(docs) {
            let one = async {
                let (ar, caps) = match step {
                    Step::Apply => ops::discover_waiting(&self.0, ctx, &doc.gvk()).await?,
                    Step::Find => match ops::discover(&self.0, ctx, &doc.gvk()).await? {
                        Some(found) => found,
                        None => return Ok(None),
                    },
                };
                let (api, ident) =
                    ops::handle(self.0.client(ctx).await?, &doc, &ar, &caps, &i.namespace);
                match step {
                    Step::Apply => {
                        ctx.progress(&format!("applying {ident}"));
                        ops::apply(&api, &ident, &doc).await?;
                    }
                    Step::Find => {
                        if ops::get(&api, &ident).await?.is_none() {
                            return Ok(None);
                        }
                    }
                }
                Ok::<_, ProviderError>(Some((ar, ident)))
            };
            let (ar, ident) = match one.await {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(None),
                Err(e) => return Err((e, done)),
            };
            done.push(ident.clone());
            if ident.kind == "CustomResourceDefinition"
                && ident.api_version.starts_with("apiextensions.k8s.io/")
                && let Err(e) = ops::wait_established(&self.0, ctx, &ident, &ar).await
            {
                return Err((e, done));
            }
            if WORKLOADS.contains(&ident.kind.as_str()) {
                workloads.push((ident, ar));
            }
        }
        if i.rollout {
            for (ident, ar) in &workloads {
                if let Err(e) = ops::wait_rollout(&self.0, ctx, ident, ar).await {
                    return Err((e, done));
                }
            }
        }
        Ok(Some(done))
    }

    async fn delete_all(&self, ctx: &OpContext, idents: &[Ident]) -> Result<(), ProviderError> {
        for ident in idents.iter().rev() {
            ctx.progress(&format!("deleting {ident}"));
            ops::delete(&self.0, ctx, ident).await?;
        }
        Ok(())
    }

    async fn fetch(&self, ctx: &OpContext, prior: &Map) -> Result<Option<Current>, ProviderError> {
        let i = inputs(prior)?;
        let docs = parse(&i.content)?;
        let mut projected = Vec::new();
        let mut found: Vec<(u8, Ident)> = Vec::new();
        for doc in &docs {
            let Some((ar, caps)) = ops::discover(&self.0, ctx, &doc.gvk()).await? else {
                continue;
            };
            let (api, ident) =
                ops::handle(self.0.client(ctx).await?, doc, &ar, &caps, &i.namespace);
            let Some(live) = ops::get(&api, &ident).await? else {
                continue;
            };
            let live = serde_json::to_value(&live)
                .map_err(|e| ProviderError::new(format!("{ident}: {e}")))?;
            projected.push(project::project(&doc.object, &live));
            found.push((doc.rank(), ident));
        }
        if found.is_empty() {
            return Ok(None);
        }
        found.sort_by_key(|(rank, _)| *rank);
        let written: Vec<&Json> = docs.iter().map(|d| &d.object).collect();
        let content = if projected.iter().collect::<Vec<_>>() == written {
            // Unchanged: keep the user's own formatting in the state.
            i.content.clone()
        } else {
            to_yaml(&projected)?
        };
        let mut inputs = prior.clone();
        inputs.insert("content".into(), Value::String(content));
        let idents: Vec<Ident> = found.into_iter().map(|(_, i)| i).collect();
        let outputs = outputs(&idents);
        Ok(Some(Current::new(inputs, outputs)))
    }
}

fn to_yaml(docs: &[Json]) -> Result<String, ProviderError> {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(
            &serde_yaml_ng::to_string(d)
                .map_err(|e| ProviderError::new(format!("cannot render YAML: {e}")))?,
        );
    }
    Ok(out)
}

/// What an import adopts: the live object without what the server owns.
fn importable(live: &DynamicObject) -> Result<String, ProviderError> {
    let mut v = serde_json::to_value(live).map_err(|e| ProviderError::new(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = v["metadata"].as_object_mut() {
        for k in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
            "selfLink",
        ] {
            m.remove(k);
        }
    }
    to_yaml(&[v])
}

#[async_trait]
impl Resource for Manifest {
    async fn create(&self, ctx: &OpContext, inputs_map: &Map) -> Result<Map, ProviderError> {
        let i = inputs(inputs_map)?;
        match self.apply_all(ctx, &i).await {
            Ok(applied) => Ok(outputs(&applied)),
            Err((e, applied)) if applied.is_empty() => Err(e),
            Err((e, applied)) => {
                let outputs = outputs(&applied);
                Err(e.with_partial(Current::new(inputs_map.clone(), outputs)))
            }
        }
    }

    /// Finds every object the content names (see the module docs), waits
    /// as the create would, and returns the create's outputs; `Ok(None)`
    /// when one is missing. A wait that fails records what was found.
    async fn recover(
        &self,
        ctx: &OpContext,
        inputs_map: &Map,
    ) -> Result<Option<Map>, ProviderError> {
        let i = inputs(inputs_map)?;
        match self.walk(ctx, &i, Step::Find).await {
            Ok(found) => Ok(found.map(|f| outputs(&f))),
            Err((e, found)) if found.is_empty() => Err(e),
            Err((e, found)) => {
                let outputs = outputs(&found);
                Err(e.with_partial(Current::new(inputs_map.clone(), outputs)))
            }
        }
    }

    async fn read(
        &self,
        ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.fetch(ctx, &prior.inputs).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs_map: &Map,
    ) -> Result<Map, ProviderError> {
        let i = inputs(inputs_map)?;
        let before = recorded(prior);
        let applied = match self.apply_all(ctx, &i).await {
            Ok(applied) => applied,
            Err((e, applied)) => {
                // Everything either set may exist now: record the union so
                // that nothing is orphaned.
                let mut all = before.clone();
                all.extend(
                    applied
                        .into_iter()
                        .filter(|a| !before.iter().any(|b| b.same_object(a))),
                );
                let outputs = outputs(&all);
                return Err(e.with_partial(Current::new(inputs_map.clone(), outputs)));
            }
        };
        let removed: Vec<Ident> = before
            .into_iter()
            .filter(|b| !applied.iter().any(|a| a.same_object(b)))
            .collect();
        self.delete_all(ctx, &removed).await?;
        Ok(outputs(&applied))
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        self.delete_all(ctx, &recorded(prior)).await
    }

    async fn import(&self, ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        let ident = Ident::parse(id).ok_or_else(|| {
            ProviderError::new(format!("{id:?} is not a manifest object ID"))
                .with_hint("import one object as \"apiVersion Kind namespace/name\", e.g. \"apps/v1 Deployment prod/dj\"")
        })?;
        let Some((ar, _)) = ops::discover(&self.0, ctx, &ident.gvk()).await? else {
            return Ok(None);
        };
        let client = self.0.client(ctx).await?;
        let api = match &ident.namespace {
            Some(ns) => kube::Api::<DynamicObject>::namespaced_with(client, ns, &ar),
            None => kube::Api::<DynamicObject>::all_with(client, &ar),
        };
        let Some(live) = ops::get(&api, &ident).await? else {
            return Ok(None);
        };
        let mut inputs = Map::from([("content".to_string(), Value::String(importable(&live)?))]);
        if let Some(ns) = &ident.namespace {
            inputs.insert("namespace".into(), Value::from(ns.as_str()));
        }
        let outputs = outputs(&[ident]);
        Ok(Some(Current::new(inputs, outputs)))
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        let moved = prior.is_some_and(|p| {
            p.inputs.get("content") != desired.get("content")
                || p.inputs.get("namespace") != desired.get("namespace")
        });
        PlanAdvice {
            unknown_after_update: if moved {
                vec!["objects".into()]
            } else {
                Vec::new()
            },
            ..PlanAdvice::default()
        }
    }
}

#[cfg(test)]
mod tests;
