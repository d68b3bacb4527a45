//! The API calls behind `k8s_manifest`: finding each kind's resource through
//! discovery (waiting for a custom kind until its CRD is served), applying
//! one object with server-side apply, and the waits — a CRD until
//! Established, workloads until rolled out, deletions until gone.

use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use kube::discovery::{ApiCapabilities, Scope};
use meshmon_provider_sdk::wait::until;
use meshmon_provider_sdk::{OpContext, ProviderError};
use serde_json::Value as Json;

use super::docs::{Doc, Ident};
use crate::conn::Conn;
use crate::error::{self, retry};
use crate::objects::FIELD_MANAGER;

/// How long a custom kind may take to be served, and a CRD to be
/// Established, when the resource has no `timeouts` of its own.
const CRD_WAIT: Duration = Duration::from_secs(5 * 60);
/// How long a rollout or a deletion may take by default.
const ROLLOUT_WAIT: Duration = Duration::from_secs(10 * 60);

fn key(gvk: &GroupVersionKind) -> String {
    format!("{}/{}/{}", gvk.group, gvk.version, gvk.kind)
}

fn api_version(gvk: &GroupVersionKind) -> String {
    if gvk.group.is_empty() {
        gvk.version.clone()
    } else {
        format!("{}/{}", gvk.group, gvk.version)
    }
}

/// The resource serving `gvk`, or `None` when the server does not know the
/// kind (yet: its CRD may be on its way).
pub async fn discover(
    conn: &Conn,
    ctx: &OpContext,
    gvk: &GroupVersionKind,
) -> Result<Option<(ApiResource, ApiCapabilities)>, ProviderError> {
    let k = key(gvk);
    if let Some(found) = conn.discovered(&k).await {
        return Ok(Some(found));
    }
    let client = conn.client(ctx).await?;
    match retry(|| kube::discovery::pinned_kind(&client, gvk)).await {
        Ok(found) => {
            conn.remember(k, found.clone()).await;
            Ok(Some(found))
        }
        Err(e) if error::is_not_found(&e) || matches!(e, kube::Error::Discovery(_)) => Ok(None),
        Err(e) => Err(error::api(
            format!("GET discovery for {}", api_version(gvk)),
            e,
        )),
    }
}

/// Like [`discover`], but a kind not served yet is waited for: a custom
/// resource applied right after its CRD (or a chart that installs it).
pub async fn discover_waiting(
    conn: &Conn,
    ctx: &OpContext,
    gvk: &GroupVersionKind,
) -> Result<(ApiResource, ApiCapabilities), ProviderError> {
    let what = format!("kind {} of {} to be served", gvk.kind, api_version(gvk));
    until(ctx, CRD_WAIT, &what, || async {
        Ok(discover(conn, ctx, gvk)
            .await?
            .ok_or_else(|| "its CustomResourceDefinition is not Established yet".to_string()))
    })
    .await
    .map_err(|e| {
        // An answer the API server gave (403, 5xx) keeps its own hint; only
        // a kind still not served after the wait is about the CRD.
        if e.operation.is_some() {
            return e;
        }
        e.with_hint(format!(
            "apply the CustomResourceDefinition that defines {} (group {}) first, in this manifest \
             or in a resource this one depends on",
            gvk.kind, gvk.group
        ))
    })
}

/// The API handle for one object, and its identity with the namespace filled in.
pub fn handle(
    conn_client: kube::Client,
    doc: &Doc,
    ar: &ApiResource,
    caps: &ApiCapabilities,
    default_ns: &str,
) -> (Api<DynamicObject>, Ident) {
    let namespace = match caps.scope {
        Scope::Namespaced => Some(
            doc.namespace
                .clone()
                .unwrap_or_else(|| default_ns.to_string()),
        ),
        Scope::Cluster => None,
    };
    let api = match &namespace {
        Some(ns) => Api::namespaced_with(conn_client, ns, ar),
        None => Api::all_with(conn_client, ar),
    };
    let ident = Ident {
        api_version: doc.api_version.clone(),
        kind: doc.kind.clone(),
        namespace,
        name: doc.name.clone(),
    };
    (api, ident)
}

/// Server-side apply of one object, forced, as field manager `meshmon`.
pub async fn apply(
    api: &Api<DynamicObject>,
    ident: &Ident,
    doc: &Doc,
) -> Result<DynamicObject, ProviderError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut object = doc.object.clone();
    if let Some(ns) = &ident.namespace {
        object["metadata"]["namespace"] = Json::String(ns.clone());
    }
    let patch = Patch::Apply(&object);
    retry(|| api.patch(&doc.name, &params, &patch))
        .await
        .map_err(|e| error::api(format!("PATCH {ident}"), e))
}

/// Waits until a CRD reports `Established`, so its kind can be used.
pub async fn wait_established(
    conn: &Conn,
    ctx: &OpContext,
    ident: &Ident,
    ar: &ApiResource,
) -> Result<(), ProviderError> {
    let what = format!("CustomResourceDefinition {} to be Established", ident.name);
    until(ctx, CRD_WAIT, &what, || async {
        let api: Api<DynamicObject> = Api::all_with(conn.client(ctx).await?, ar);
        let crd = get(&api, ident).await?.ok_or_else(|| {
            ProviderError::new(format!("{ident} disappeared while meshmon waited for it"))
        })?;
        let established = crd.data["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Established" && c["status"] == "True");
        Ok(if established {
            Ok(())
        } else {
            Err("not Established yet".to_string())
        })
    })
    .await
}

/// Waits until a Deployment, DaemonSet or StatefulSet is fully rolled out,
/// or a Job has completed; a Job that failed is an error at once.
pub async fn wait_rollout(
    conn: &Conn,
    ctx: &OpContext,
    ident: &Ident,
    ar: &ApiResource,
) -> Result<(), ProviderError> {
    let what = format!("{ident} to roll out");
    until(ctx, ROLLOUT_WAIT, &what, || async {
        let client = conn.client(ctx).await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(client, ident.namespace.as_deref().unwrap_or("default"), ar);
        let o = get(&api, ident)
            .await?
            .ok_or_else(|| ProviderError::new(format!("{ident} disappeared during its rollout")))?;
        if ident.kind == "Job"
            && let Some(failed) = job_condition(&o, "Failed")
        {
            return Err(ProviderError::new(format!(
                "{ident} failed: {}: {}",
                failed["reason"].as_str().unwrap_or("no reason given"),
                failed["message"].as_str().unwrap_or("no message")
            ))
            .with_hint(format!(
                "see its pods' logs (kubectl logs -n {} job/{}); apply again to retry",
                ident.namespace.as_deref().unwrap_or("default"),
                ident.name
            )));
        }
        Ok(rollout_status(&ident.kind, &o))
    })
    .await
}

/// A Job's condition of type `kind` (`Complete`, `Failed`) when it is
/// true (Kubernetes API reference, JobStatus.conditions).
fn job_condition<'a>(o: &'a DynamicObject, kind: &str) -> Option<&'a Json> {
    o.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind && c["status"] == "True")
}

/// `Ok(())` when rolled out (a Job: completed), else what is still missing.
pub fn rollout_status(kind: &str, o: &DynamicObject) -> Result<(), String> {
    // Status counts that are 0 are left out of the object.
    let n = |v: &Json| v.as_i64().unwrap_or(0);
    let generation = o.metadata.generation.unwrap_or(0);
    let status = &o.data["status"];
    if n(&status["observedGeneration"]) < generation {
        return Err("the controller has not seen the latest spec yet".into());
    }
    if kind == "Job" {
        if job_condition(o, "Complete").is_some() {
            return Ok(());
        }
        return Err(format!(
            "{} of {} pods succeeded, {} active",
            n(&status["succeeded"]),
            o.data["spec"]["completions"].as_i64().unwrap_or(1),
            n(&status["active"])
        ));
    }
    let (want, updated, available) = match kind {
        "Deployment" => (
            o.data["spec"]["replicas"].as_i64().unwrap_or(1),
            n(&status["updatedReplicas"]),
            n(&status["availableReplicas"]),
        ),
        "StatefulSet" => (
            o.data["spec"]["replicas"].as_i64().unwrap_or(1),
            n(&status["updatedReplicas"]),
            n(&status["readyReplicas"]),
        ),
        "DaemonSet" => (
            n(&status["desiredNumberScheduled"]),
            n(&status["updatedNumberScheduled"]),
            n(&status["numberAvailable"]),
        ),
        _ => return Ok(()),
    };
    if updated < want || available < want {
        return Err(format!(
            "{available} of {want} available, {updated} updated"
        ));
    }
    Ok(())
}

pub async fn get(
    api: &Api<DynamicObject>,
    ident: &Ident,
) -> Result<Option<DynamicObject>, ProviderError> {
    retry(|| api.get_opt(&ident.name))
        .await
        .map_err(|e| error::api(format!("GET {ident}"), e))
}

/// Deletes one recorded object and waits until it is gone. An object whose
/// kind is no longer served (its CRD was deleted first) is gone already.
pub async fn delete(conn: &Conn, ctx: &OpContext, ident: &Ident) -> Result<(), ProviderError> {
    let gvk = ident.gvk();
    let Some((ar, _)) = discover(conn, ctx, &gvk).await? else {
        return Ok(());
    };
    let api_for = |client| match &ident.namespace {
        Some(ns) => Api::<DynamicObject>::namespaced_with(client, ns, &ar),
        None => Api::<DynamicObject>::all_with(client, &ar),
    };
    let api = api_for(conn.client(ctx).await?);
    let dp = DeleteParams::background();
    match retry(|| api.delete(&ident.name, &dp)).await {
        Ok(_) => {}
        Err(e) if error::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(error::api(format!("DELETE {ident}"), e)),
    }
    if ident.kind == "CustomResourceDefinition" {
        conn.forget(&key(&gvk)).await;
    }
    until(
        ctx,
        ROLLOUT_WAIT,
        &format!("{ident} to be deleted"),
        || async {
            let api = api_for(conn.client(ctx).await?);
            Ok(match get(&api, ident).await? {
                None => Ok(()),
                Some(_) => Err("still terminating".to_string()),
            })
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(doc: Json) -> DynamicObject {
        serde_json::from_value(doc).expect("a Kubernetes object")
    }

    #[test]
    fn a_deployment_is_rolled_out_when_every_replica_is_updated_and_available() {
        let d = |updated: i64, available: i64| {
            object(serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": { "name": "dj", "generation": 2 },
                "spec": { "replicas": 2 },
                "status": { "observedGeneration": 2, "updatedReplicas": updated, "availableReplicas": available }
            }))
        };
        assert_eq!(rollout_status("Deployment", &d(2, 2)), Ok(()));
        assert_eq!(
            rollout_status("Deployment", &d(2, 1)),
            Err("1 of 2 available, 2 updated".into())
        );
        let stale = object(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "dj", "generation": 3 },
            "spec": { "replicas": 1 },
            "status": { "observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": 1 }
        }));
        assert!(rollout_status("Deployment", &stale).is_err());
    }

    #[test]
    fn a_job_is_done_when_its_complete_condition_is_true_and_failed_when_its_failed_one_is() {
        let job = |conditions: Json| {
            object(serde_json::json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": { "name": "load", "generation": 1 },
                "spec": { "completions": 3 },
                "status": { "observedGeneration": 1, "succeeded": 1, "active": 2, "conditions": conditions }
            }))
        };
        let running = job(serde_json::json!([]));
        assert_eq!(
            rollout_status("Job", &running),
            Err("1 of 3 pods succeeded, 2 active".into())
        );
        assert!(job_condition(&running, "Failed").is_none());
        let done = job(serde_json::json!([{ "type": "Complete", "status": "True" }]));
        assert_eq!(rollout_status("Job", &done), Ok(()));
        let failed = job(serde_json::json!([
            { "type": "Complete", "status": "False" },
            { "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" }
        ]));
        assert_eq!(
            job_condition(&failed, "Failed").map(|c| c["reason"].clone()),
            Some(serde_json::json!("BackoffLimitExceeded"))
        );
        assert!(rollout_status("Job", &failed).is_err());
    }

    #[test]
    fn kinds_without_a_rollout_are_done_at_once() {
        let cm = object(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "c" }
        }));
        assert_eq!(rollout_status("ConfigMap", &cm), Ok(()));
    }
}
