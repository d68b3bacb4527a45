//! `grafana_data_source`: a data source addressed by uid. For Amazon
//! Managed Prometheus: type `prometheus`, the workspace's Prometheus
//! endpoint as `url`, and SigV4 in `json_data` (`sigV4Auth`,
//! `sigV4AuthType`, `sigV4Region`, `sigV4AssumeRoleArn`).
//!
//! Grafana never returns `secureJsonData`, only which keys are set
//! (`secureJsonFields`). Reading keeps the recorded value of every key
//! still set and drops the keys that are gone, so a secret removed in the
//! UI shows up as drift; a secret changed in the UI cannot be seen.
//!
//! A data source the user names no uid for gets one derived from the
//! create's intent ([`intent_uid`]), so that `recover` finds it by uid after
//! a lost answer.

use std::sync::Arc;

use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, Value,
    async_trait,
};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::attrs::{Attrs, intent_uid, json_of, no_intent, str_of};
use crate::client::{Client, seg};

pub fn schema() -> Schema {
    Schema::new("grafana_data_source", "A Grafana data source.")
        .attr(
            Attribute::required("name", AttrType::String)
                .describe("Unique per Grafana; changed in place."),
        )
        .attr(
            Attribute::required("type", AttrType::String)
                .describe("The plugin, like \"prometheus\"; changed in place."),
        )
        .attr(
            Attribute::optional("url", AttrType::String)
                .describe("For AMP: the workspace's Prometheus endpoint."),
        )
        .attr(
            Attribute::optional("access", AttrType::String)
                .default("proxy")
                .describe("\"proxy\" (the server queries) or \"direct\" (the browser does)."),
        )
        .attr(Attribute::optional("is_default", AttrType::Bool).default(false))
        .attr(
            Attribute::optional("json_data", AttrType::Json).describe(
                "Plugin settings, like { sigV4Auth = true, sigV4Region = \"eu-west-1\" }.",
            ),
        )
        .attr(
            Attribute::optional("secure_json_data", AttrType::map_of(AttrType::String))
                .sensitive()
                .describe(
                    "Secret plugin settings; Grafana stores them encrypted and never returns them.",
                ),
        )
        .attr(
            Attribute::optional("uid", AttrType::String)
                .and_computed()
                .force_new()
                .describe("The data source's uid; meshmon picks one when left out."),
        )
        .attr(
            Attribute::computed("id", AttrType::String)
                .describe("The uid; `meshmon import` takes it."),
        )
}

pub struct DataSource(pub Arc<Client>);

fn body(inputs: &Map, uid: Option<&str>) -> Result<Json, ProviderError> {
    let get = |k: &str| inputs.get(k).cloned().map(Json::from);
    let mut b = json!({
        "name": str_of(inputs, "name")?,
        "type": str_of(inputs, "type")?,
        "url": get("url").unwrap_or(json!("")),
        "access": get("access").unwrap_or(json!("proxy")),
        "isDefault": get("is_default").unwrap_or(json!(false)),
        "jsonData": match inputs.get("json_data") {
            Some(v) => json_of(v).map_err(|e| ProviderError::new(format!("`json_data`: {}", e.message)))?,
            None => json!({}),
        },
    });
    if let Some(s) = get("secure_json_data") {
        b["secureJsonData"] = s;
    }
    if let Some(u) = uid {
        b["uid"] = json!(u);
    }
    Ok(b)
}

fn outputs(uid: &str) -> Map {
    Attrs::new().set("id", uid).set("uid", uid).build()
}

fn current(d: &Json, prior: &Map) -> Current {
    let uid = d["uid"].as_str().unwrap_or_default();
    let json_data = Value::from(d["jsonData"].clone());
    // Secrets: keep what is recorded for keys Grafana still has.
    let set: Vec<&str> = d["secureJsonFields"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| v.as_bool() == Some(true))
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .unwrap_or_default();
    let secure = prior
        .get("secure_json_data")
        .and_then(Value::as_map)
        .map(|m| {
            Value::Map(
                m.iter()
                    .filter(|(k, _)| set.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        });
    let inputs = Attrs::new()
        .set("name", d["name"].as_str().unwrap_or_default())
        .set("type", d["type"].as_str().unwrap_or_default())
        .unless_empty(
            prior,
            "url",
            Value::from(d["url"].as_str().unwrap_or_default()),
        )
        .set("access", d["access"].as_str().unwrap_or("proxy"))
        .set("is_default", d["isDefault"].as_bool().unwrap_or(false))
        .unless_empty(
            prior,
            "json_data",
            if json_data.is_null() {
                Value::Map(Map::new())
            } else {
                json_data
            },
        )
        .opt("secure_json_data", secure)
        .set("uid", uid)
        .build();
    Current::new(inputs, outputs(uid))
}

/// The uid a create with these inputs asks for: the user's, else one
/// derived from the intent.
fn uid_for(ctx: &OpContext, inputs: &Map) -> Option<String> {
    match inputs.get("uid").and_then(Value::as_str) {
        Some(uid) => Some(uid.to_string()),
        None => intent_uid(ctx, ""),
    }
}

impl DataSource {
    async fn fetch(&self, uid: &str, prior: &Map) -> Result<Option<Current>, ProviderError> {
        let d = self
            .0
            .get(&format!("/api/datasources/uid/{}", seg(uid)))
            .await?;
        Ok(d.map(|d| current(&d, prior)))
    }
}

#[async_trait]
impl Resource for DataSource {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let b = body(inputs, uid_for(ctx, inputs).as_deref())?;
        let out = self
            .0
            .send(Method::POST, "/api/datasources", Some(&b))
            .await?;
        let uid = out["datasource"]["uid"].as_str().ok_or_else(|| {
            ProviderError::api(
                "POST /api/datasources",
                None,
                "Grafana returned no data source uid",
            )
        })?;
        Ok(outputs(uid))
    }

    /// Finds the data source by the uid the create asked for.
    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let uid = uid_for(ctx, inputs).ok_or_else(|| no_intent(ctx))?;
        let found = self
            .0
            .get(&format!("/api/datasources/uid/{}", seg(&uid)))
            .await?;
        Ok(found.map(|_| outputs(&uid)))
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.fetch(str_of(&prior.outputs, "uid")?, &prior.inputs)
            .await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let uid = str_of(&prior.outputs, "uid")?;
        let b = body(inputs, Some(uid))?;
        self.0
            .send(
                Method::PUT,
                &format!("/api/datasources/uid/{}", seg(uid)),
                Some(&b),
            )
            .await?;
        Ok(outputs(uid))
    }

    async fn delete(&self, _ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        self.0
            .delete(&format!(
                "/api/datasources/uid/{}",
                seg(str_of(&prior.outputs, "uid")?)
            ))
            .await
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        self.fetch(id, &Map::new()).await
    }
}
