//! `grafana_dashboard`: a dashboard by uid, from `config_json` (a file or
//! inline JSON) or imported from grafana.com by `gnet_id` (+ `revision`)
//! through the workspace's `/api/gnet` proxy, as the console's "Import
//! 11022" does, with its data-source input bound to `datasource_uid`.
//!
//! Grafana rewrites `id`, `version` and `iteration` on every save, so those
//! never count: they are stripped before saving and, on read, given back
//! the user's own spelling of them. A plain `config_json` then reads back
//! equal to what the user wrote. An imported dashboard (grafana.com, or a
//! `config_json` with `__inputs` placeholders like `${DS_PROMETHEUS}`) is
//! not the same text as its source after substitution, so its content hash
//! is recorded instead; when the live dashboard no longer matches it (edited
//! in the UI) it reads back with the edited `config_json`, which shows as
//! drift and plans an update that imports it again.
//!
//! A dashboard whose JSON and inputs name no uid gets one derived from the
//! create's intent ([`intent_uid`]), so that `recover` finds it by uid after
//! a lost answer; a create saves without `overwrite`, and is never retried
//! once it may have reached Grafana.

use std::sync::Arc;

use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};
use reqwest::Method;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use crate::attrs::{Attrs, intent_uid, json_of, no_intent};
use crate::client::{Client, Retry, seg};

/// Fields Grafana rewrites on every save.
const REWRITTEN: [&str; 3] = ["id", "version", "iteration"];

declare! {
    // The helpers below read the inputs as a map, as `fetch` reads the
    // recorded ones; the fields are what decoding checks.
    #[allow(dead_code)]
    pub(crate) struct DashboardIn for "grafana_dashboard"
        ("A Grafana dashboard, from JSON or imported from grafana.com.")
    {
        config_json: Option<Value> = optional(AttrType::Json).describe(
            "The dashboard model: file(\"dash.json\"), a JSON string or a table. Changed in place.",
        );
        gnet_id: Option<i64> = optional(AttrType::Int).describe(
            "A grafana.com dashboard ID to import instead, like 11022; changed in place.",
        );
        revision: Option<i64> = optional(AttrType::Int)
            .and_computed()
            .describe("The grafana.com revision; the latest when left out.");
        datasource_uid: Option<String> = optional(AttrType::String)
            .describe("The data source bound to the dashboard's datasource input (`__inputs`).");
        folder_uid: Option<String> = optional(AttrType::String)
            .describe("The folder; moved in place.");
        uid: Option<String> = optional(AttrType::String)
            .and_computed()
            .force_new()
            .describe("The dashboard's uid; from the JSON, or picked by meshmon.");
    }
    checks {
        one_source: ["config_json", "gnet_id"];
    }
    outputs DashboardOut {
        id: String = computed(AttrType::String).describe("The uid; `meshmon import` takes it.");
        url: Option<String> = computed(AttrType::String);
        content_sha256: String = computed(AttrType::String)
            .describe("Hash of the saved model without the fields Grafana rewrites.");
        uid: String;
        revision: Option<i64>;
    }
}

pub(crate) struct Dashboard(Arc<Client>);

/// What a dashboard changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DashboardUpdate {
    /// One save sends the whole dashboard.
    Dashboard,
}

/// Removes what Grafana rewrites on save.
fn strip(d: &mut Json) {
    if let Some(o) = d.as_object_mut() {
        for k in REWRITTEN {
            o.remove(k);
        }
    }
}

/// SHA-256 of the model with keys sorted and rewritten fields stripped.
pub fn content_hash(d: &Json) -> String {
    let mut d = d.clone();
    strip(&mut d);
    // `Value` keeps tables in a BTreeMap: sorted keys, a canonical text.
    let canonical = serde_json::to_string(&Value::from(d)).unwrap_or_default();
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn config_of(inputs: &Map) -> Result<Option<Json>, ProviderError> {
    inputs
        .get("config_json")
        .filter(|v| !v.is_null())
        .map(|v| {
            json_of(v).map_err(|e| ProviderError::new(format!("`config_json`: {}", e.message)))
        })
        .transpose()
}

/// Where a dashboard's model comes from.
enum Source {
    /// `config_json`.
    Json,
    /// grafana.com, by `gnet_id`.
    GrafanaCom(i64),
}

/// The one source the inputs name, or which attribute is wrong and why.
fn source(inputs: &Map) -> Result<Source, (&'static str, String)> {
    let set = |k: &str| inputs.get(k).filter(|v| !v.is_null());
    match (set("config_json"), set("gnet_id")) {
        (Some(_), None) => Ok(Source::Json),
        (None, Some(id)) => id
            .as_i64()
            .map(Source::GrafanaCom)
            .ok_or(("gnet_id", "must be an integer".into())),
        (Some(_), Some(_)) => Err((
            "gnet_id",
            "is set together with `config_json`: a dashboard comes from one of them".into(),
        )),
        (None, None) => Err((
            "config_json",
            "is missing, and so is `gnet_id`: a dashboard comes from one of them".into(),
        )),
    }
}

/// The declaration's check that the inputs name exactly one source, in
/// `validate` and `plan`.
fn one_source(inputs: &Map) -> Result<(), (&'static str, String)> {
    source(inputs).map(drop)
}

fn templated(inputs: &Map, config: Option<&Json>) -> bool {
    inputs.get("gnet_id").is_some_and(|v| !v.is_null())
        || config.is_some_and(|c| c.get("__inputs").is_some())
}

/// The import request's `inputs`: data sources bound to `datasource_uid`,
/// constants to their defaults.
fn bind(model: &Json, datasource_uid: Option<&str>) -> Result<Json, ProviderError> {
    let mut out = Vec::new();
    for i in model["__inputs"].as_array().into_iter().flatten() {
        let name = i["name"].as_str().unwrap_or_default();
        let value = match i["type"].as_str() {
            Some("datasource") => json!(datasource_uid.ok_or_else(|| {
                ProviderError::new(format!(
                    "the dashboard asks for a {} data source ({name}) and `datasource_uid` is not set",
                    i["pluginName"].as_str().or(i["pluginId"].as_str()).unwrap_or("")
                ))
                .with_hint("set datasource_uid = \"${grafana_data_source.NAME.uid}\"")
            })?),
            _ => i["value"].clone(),
        };
        out.push(
            json!({ "name": name, "type": i["type"], "pluginId": i["pluginId"], "value": value }),
        );
    }
    Ok(Json::Array(out))
}

/// A model ready to save, and the grafana.com revision it came from.
struct Prepared {
    model: Json,
    revision: Option<i64>,
}

/// A saved dashboard's outputs, from `stored` (GET /api/dashboards/uid).
fn outputs(uid: &str, url: Option<String>, revision: Option<i64>, stored: &Json) -> DashboardOut {
    DashboardOut {
        id: uid.into(),
        url,
        content_sha256: content_hash(&stored["dashboard"]),
        uid: uid.into(),
        revision,
    }
}

impl Dashboard {
    /// A grafana.com dashboard model and its revision, through the proxy.
    async fn gnet(&self, id: i64, revision: Option<i64>) -> Result<(Json, i64), ProviderError> {
        let info = self
            .0
            .get(&format!("/api/gnet/dashboards/{id}"))
            .await?
            .ok_or_else(|| {
                ProviderError::api(
                    "GET /api/gnet/dashboards",
                    Some("404".into()),
                    format!("grafana.com has no dashboard {id}"),
                )
            })?;
        let latest = info["revision"].as_i64().unwrap_or(1);
        match revision {
            Some(r) if r != latest => {
                let path = format!("/api/gnet/dashboards/{id}/revisions/{r}/download");
                let model = self.0.get(&path).await?.ok_or_else(|| {
                    ProviderError::api(
                        "GET /api/gnet/dashboards",
                        Some("404".into()),
                        format!("dashboard {id} has no revision {r}"),
                    )
                })?;
                Ok((model, r))
            }
            _ => Ok((info["json"].clone(), latest)),
        }
    }

    /// The model the inputs describe, ready to save: from `config_json` or
    /// grafana.com, without what Grafana rewrites, with the uid set to the
    /// inputs' `uid`, else the model's own, else `fallback_uid`.
    async fn prepare(
        &self,
        inputs: &Map,
        fallback_uid: Option<String>,
    ) -> Result<Prepared, ProviderError> {
        let source = source(inputs)
            .map_err(|(attribute, why)| ProviderError::new(format!("`{attribute}` {why}")))?;
        let (mut model, revision) = match source {
            Source::GrafanaCom(id) => {
                let (m, r) = self
                    .gnet(id, inputs.get("revision").and_then(Value::as_i64))
                    .await?;
                (m, Some(r))
            }
            // `source` made sure of it: a set value is never null.
            Source::Json => (config_of(inputs)?.unwrap_or_default(), None),
        };
        strip(&mut model);
        if let Some(uid) = inputs.get("uid").and_then(Value::as_str) {
            model["uid"] = json!(uid);
        } else if model["uid"].as_str().is_none_or(str::is_empty)
            && let Some(uid) = fallback_uid
        {
            model["uid"] = json!(uid);
        }
        Ok(Prepared { model, revision })
    }

    /// Saves a prepared model; Grafana's uid and URL for it. Without
    /// `overwrite` the save creates, and is retried only as a create may be.
    async fn call(
        &self,
        inputs: &Map,
        p: &Prepared,
        overwrite: bool,
    ) -> Result<(String, Option<String>), ProviderError> {
        // No folder is Grafana's General folder, "".
        let folder = inputs
            .get("folder_uid")
            .and_then(Value::as_str)
            .unwrap_or("");
        let retry = if overwrite {
            Retry::Transient
        } else {
            Retry::Create
        };
        let model = &p.model;
        let (uid, url) = if templated(inputs, Some(model)) {
            let body = json!({
                "dashboard": model,
                "overwrite": overwrite,
                "inputs": bind(model, inputs.get("datasource_uid").and_then(Value::as_str))?,
                "folderUid": folder,
            });
            let r = self
                .0
                .send_with(Method::POST, "/api/dashboards/import", Some(&body), retry)
                .await?;
            (
                r["uid"].as_str().map(str::to_string),
                r["importedUrl"].as_str().map(str::to_string),
            )
        } else {
            let body = json!({ "dashboard": model, "folderUid": folder, "overwrite": overwrite, "message": "meshmon apply" });
            let r = self
                .0
                .send_with(Method::POST, "/api/dashboards/db", Some(&body), retry)
                .await?;
            (
                r["uid"].as_str().map(str::to_string),
                r["url"].as_str().map(str::to_string),
            )
        };
        let uid = uid
            .ok_or_else(|| ProviderError::new("Grafana saved the dashboard but returned no uid"))?;
        Ok((uid, url))
    }

    /// The outputs of a saved dashboard, hashing what Grafana stored (an
    /// import substitutes, so what was sent would not do).
    async fn finish(
        &self,
        uid: &str,
        url: Option<String>,
        revision: Option<i64>,
    ) -> Result<DashboardOut, ProviderError> {
        let stored = self
            .0
            .get(&format!("/api/dashboards/uid/{}", seg(uid)))
            .await?
            .ok_or_else(|| {
                ProviderError::new(format!("dashboard {uid} vanished right after it was saved"))
            })?;
        Ok(outputs(uid, url, revision, &stored))
    }

    /// Saves the dashboard the inputs describe; returns its outputs.
    async fn save(
        &self,
        inputs: &Map,
        fallback_uid: Option<String>,
        overwrite: bool,
    ) -> Result<DashboardOut, ProviderError> {
        let p = self.prepare(inputs, fallback_uid).await?;
        let (uid, url) = self.call(inputs, &p, overwrite).await?;
        self.finish(&uid, url, p.revision).await
    }

    async fn get(
        &self,
        uid: &str,
        prior: &Current,
    ) -> Result<Option<Current<DashboardOut>>, ProviderError> {
        let Some(got) = self
            .0
            .get(&format!("/api/dashboards/uid/{}", seg(uid)))
            .await?
        else {
            return Ok(None);
        };
        let mut model = got["dashboard"].clone();
        let hash = content_hash(&model);
        strip(&mut model);
        let p = &prior.inputs;
        let user = config_of(p).ok().flatten();
        let mut inputs = Attrs::new();
        if let Some(folder) = got["meta"]["folderUid"].as_str() {
            inputs = inputs.unless_empty(p, "folder_uid", Value::from(folder));
        }
        let mut inputs = inputs
            .set("uid", uid)
            .keep(p, "gnet_id")
            .keep(p, "revision")
            .keep(p, "datasource_uid");
        let recorded = prior.outputs.get("content_sha256").and_then(Value::as_str);
        if templated(p, user.as_ref()) {
            // Imported: unchanged unless the content moved away from what was saved.
            inputs = if recorded == Some(hash.as_str()) {
                inputs.keep(p, "config_json")
            } else {
                inputs.set("config_json", Value::from(model))
            };
        } else {
            // Give back the user's own spelling of what Grafana rewrites.
            if let (Some(o), Some(u)) = (
                model.as_object_mut(),
                user.as_ref().and_then(Json::as_object),
            ) {
                for k in REWRITTEN {
                    if let Some(v) = u.get(k) {
                        o.insert(k.to_string(), v.clone());
                    }
                }
                if !u.contains_key("uid") && p.get("uid").is_none() {
                    o.remove("uid");
                }
            }
            inputs = inputs.set("config_json", Value::from(model));
        }
        let outputs = DashboardOut {
            id: uid.into(),
            url: got["meta"]["url"].as_str().map(str::to_string),
            content_sha256: recorded.map(str::to_string).unwrap_or(hash),
            uid: uid.into(),
            revision: prior.outputs.get("revision").and_then(Value::as_i64),
        };
        Ok(Some(Current::new(inputs.build(), outputs)))
    }
}

#[async_trait]
impl Declared for Dashboard {
    type Inputs = DashboardIn;
    type Outputs = DashboardOut;
    type Client = Client;
    type Group = DashboardUpdate;
    const ID: &'static str = "uid";
    const UPDATES: &'static [UpdateGroup<DashboardUpdate>] = &[(
        DashboardUpdate::Dashboard,
        &[
            "config_json",
            "gnet_id",
            "revision",
            "datasource_uid",
            "folder_uid",
        ],
    )];

    fn new(client: Arc<Client>) -> Self {
        Dashboard(client)
    }

    /// The import's fetch; a read keeps what was saved ([`Declared::read`]).
    async fn fetch(
        &self,
        _ctx: &OpContext,
        uid: &str,
        prior: &Map,
    ) -> Result<Option<Current<DashboardOut>>, ProviderError> {
        self.get(uid, &Current::new(prior.clone(), Map::new()))
            .await
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, DashboardIn>,
    ) -> Result<DashboardOut, ProviderError> {
        self.save(i.raw(), intent_uid(ctx, ""), false).await
    }

    /// Finds the dashboard by the uid the create asked for: the inputs',
    /// the model's own, or the one derived from the intent.
    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, DashboardIn>,
    ) -> Result<Option<DashboardOut>, ProviderError> {
        let p = self.prepare(i.raw(), intent_uid(ctx, "")).await?;
        let uid = p.model["uid"]
            .as_str()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| no_intent(ctx))?
            .to_string();
        let Some(stored) = self
            .0
            .get(&format!("/api/dashboards/uid/{}", seg(&uid)))
            .await?
        else {
            return Ok(None);
        };
        let url = stored["meta"]["url"].as_str().map(str::to_string);
        Ok(Some(outputs(&uid, url, p.revision, &stored)))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: DashboardUpdate,
        uid: &str,
        _prior: &Current,
        i: &Inputs<'_, DashboardIn>,
    ) -> Result<Option<DashboardOut>, ProviderError> {
        let DashboardUpdate::Dashboard = group;
        let mut inputs = i.raw().clone();
        inputs.insert("uid".into(), Value::from(uid));
        self.save(&inputs, None, true).await.map(Some)
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        uid: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        self.0
            .delete(&format!("/api/dashboards/uid/{}", seg(uid)))
            .await
    }

    /// Reads the dashboard against what was saved: the recorded content
    /// hash and grafana.com revision.
    async fn read(
        &self,
        _ctx: &OpContext,
        uid: &str,
        prior: &Current,
    ) -> Result<Option<Current<DashboardOut>>, ProviderError> {
        self.get(uid, prior).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshmon_provider_sdk::Declaration;

    #[test]
    fn the_hash_ignores_what_grafana_rewrites_and_key_order() {
        let a = json!({"title": "Envoy", "id": 3, "version": 7, "panels": [{"a": 1, "b": 2}]});
        let b = json!({"panels": [{"b": 2, "a": 1}], "title": "Envoy", "iteration": 1234});
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&json!({"title": "Envoy!"})));
    }

    #[tokio::test]
    async fn a_dashboard_create_saves_without_overwrite_and_hashes_what_grafana_stored() {
        use crate::testing::{creating, grafana, inputs};
        let (g, c) = grafana(vec![
            (
                200,
                json!({"uid": "envoy", "url": "/d/envoy/envoy", "version": 1}),
            ),
            (
                200,
                json!({"dashboard": {"uid": "envoy", "title": "Envoy", "id": 12, "version": 1},
                       "meta": {"url": "/d/envoy/envoy", "folderUid": "mesh"}}),
            ),
        ]);
        let raw = inputs(json!({
            "config_json": {"uid": "envoy", "title": "Envoy", "id": 3},
            "folder_uid": "mesh",
        }));
        let out = Dashboard::new(c)
            .create(
                &creating("grafana_dashboard.envoy"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(out.uid, "envoy");
        assert_eq!(out.url.as_deref(), Some("/d/envoy/envoy"));
        assert_eq!(
            out.content_sha256,
            content_hash(&json!({"uid": "envoy", "title": "Envoy"})),
            "what Grafana rewrites is not hashed"
        );
        let seen = g.seen();
        assert_eq!(seen[0].path, "/api/dashboards/db");
        let body = seen[0].json();
        assert_eq!(body["overwrite"], false);
        assert_eq!(body["folderUid"], "mesh");
        assert_eq!(
            body["dashboard"],
            json!({"uid": "envoy", "title": "Envoy"}),
            "the user's id is not sent"
        );
        assert_eq!(seen[1].path, "/api/dashboards/uid/envoy");
    }

    #[test]
    fn a_dashboard_comes_from_exactly_one_source() {
        let inputs = |pairs: &[(&str, Value)]| -> Map {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        let json = Value::from("{\"title\": \"t\"}");
        assert!(one_source(&inputs(&[("config_json", json.clone())])).is_ok());
        assert!(one_source(&inputs(&[("gnet_id", Value::Int(11022))])).is_ok());
        let both = inputs(&[("config_json", json), ("gnet_id", Value::Int(11022))]);
        assert_eq!(one_source(&both).unwrap_err().0, "gnet_id");
        assert_eq!(one_source(&Map::new()).unwrap_err().0, "config_json");
        let schema = DashboardIn::schema();
        assert_eq!(schema.checks.len(), 1);
        assert!(schema.check_inputs(&both).is_err());
    }

    #[test]
    fn datasource_inputs_bind_to_the_given_uid() {
        let m = json!({"__inputs": [
            {"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"},
            {"name": "VAR_JOB", "type": "constant", "value": "envoy"}
        ]});
        let b = bind(&m, Some("amp")).unwrap();
        assert_eq!(b[0]["value"], "amp");
        assert_eq!(b[1]["value"], "envoy");
        let e = bind(&m, None).unwrap_err();
        assert!(
            e.message.contains("Prometheus data source (DS_PROMETHEUS)"),
            "{}",
            e.message
        );
    }
}
