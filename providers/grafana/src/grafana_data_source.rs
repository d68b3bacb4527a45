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

use std::collections::BTreeMap;
use std::sync::Arc;

use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::attrs::{Attrs, answered, intent_uid, json_of, no_intent};
use crate::client::{Client, seg};

const PROXY: &str = "proxy";

// What the engine fills in for `access` left out, for inputs decoded
// without it (the declaration's own check).
fn proxy() -> String {
    PROXY.into()
}

declare! {
    pub(crate) struct DataSourceIn for "grafana_data_source" ("A Grafana data source.") {
        name: String = required(AttrType::String)
            .describe("Unique per Grafana; changed in place.");
        r#type: String = required(AttrType::String)
            .describe("The plugin, like \"prometheus\"; changed in place.");
        url: Option<String> = optional(AttrType::String)
            .describe("For AMP: the workspace's Prometheus endpoint.");
        #[serde(default = "proxy")]
        access: String = optional(AttrType::String)
            .default(PROXY)
            .describe("\"proxy\" (the server queries) or \"direct\" (the browser does).");
        #[serde(default)]
        is_default: bool = optional(AttrType::Bool).default(false);
        json_data: Option<Value> = optional(AttrType::Json).describe(
            "Plugin settings, like { sigV4Auth = true, sigV4Region = \"eu-west-1\" }.",
        );
        secure_json_data: Option<BTreeMap<String, String>> =
            optional(AttrType::map_of(AttrType::String))
                .sensitive()
                .describe(
                    "Secret plugin settings; Grafana stores them encrypted and never returns them.",
                );
        uid: Option<String> = optional(AttrType::String)
            .and_computed()
            .force_new()
            .describe("The data source's uid; meshmon picks one when left out.");
    }
    outputs DataSourceOut {
        id: String = computed(AttrType::String).describe("The uid; `meshmon import` takes it.");
        uid: String;
    }
}

pub(crate) struct DataSource(Arc<Client>);

/// What a data source changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DataSourceUpdate {
    /// One PUT sends the whole data source.
    DataSource,
}

fn body(i: &DataSourceIn, uid: Option<&str>) -> Result<Json, ProviderError> {
    let mut b = json!({
        "name": i.name,
        "type": i.r#type,
        // Grafana takes "" for a data source without a URL.
        "url": i.url.as_deref().unwrap_or(""),
        "access": i.access,
        "isDefault": i.is_default,
        "jsonData": match &i.json_data {
            Some(v) => json_of(v).map_err(|e| ProviderError::new(format!("`json_data`: {}", e.message)))?,
            None => json!({}),
        },
    });
    if let Some(s) = &i.secure_json_data {
        b["secureJsonData"] = json!(s);
    }
    if let Some(u) = uid {
        b["uid"] = json!(u);
    }
    Ok(b)
}

fn outputs(uid: &str) -> DataSourceOut {
    DataSourceOut {
        id: uid.into(),
        uid: uid.into(),
    }
}

fn current(d: &Json, prior: &Map) -> Result<Current<DataSourceOut>, ProviderError> {
    let uid = answered("GET /api/datasources/uid", d, "uid")?;
    let json_data = Value::from(d["jsonData"].clone());
    // Secrets: keep what is recorded for keys Grafana still has (an answer
    // without `secureJsonFields` has none).
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
    let mut inputs = Attrs::new()
        .opt("name", d["name"].as_str())
        .opt("type", d["type"].as_str());
    if let Some(url) = d["url"].as_str() {
        inputs = inputs.unless_empty(prior, "url", Value::from(url));
    }
    let inputs = inputs
        .set("access", d["access"].as_str().unwrap_or(PROXY))
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
    Ok(Current::new(inputs, outputs(uid)))
}

/// The uid a create with these inputs asks for: the user's, else one
/// derived from the intent.
fn uid_for(ctx: &OpContext, i: &DataSourceIn) -> Option<String> {
    match &i.uid {
        Some(uid) => Some(uid.clone()),
        None => intent_uid(ctx, ""),
    }
}

#[async_trait]
impl Declared for DataSource {
    type Inputs = DataSourceIn;
    type Outputs = DataSourceOut;
    type Client = Client;
    type Group = DataSourceUpdate;
    const ID: &'static str = "uid";
    const UPDATES: &'static [UpdateGroup<DataSourceUpdate>] = &[(
        DataSourceUpdate::DataSource,
        &[
            "name",
            "type",
            "url",
            "access",
            "is_default",
            "json_data",
            "secure_json_data",
        ],
    )];

    fn new(client: Arc<Client>) -> Self {
        DataSource(client)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        uid: &str,
        prior: &Map,
    ) -> Result<Option<Current<DataSourceOut>>, ProviderError> {
        let d = self
            .0
            .get(&format!("/api/datasources/uid/{}", seg(uid)))
            .await?;
        d.map(|d| current(&d, prior)).transpose()
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, DataSourceIn>,
    ) -> Result<DataSourceOut, ProviderError> {
        let b = body(i, uid_for(ctx, i).as_deref())?;
        let out = self
            .0
            .send(Method::POST, "/api/datasources", Some(&b))
            .await?;
        let uid = answered("POST /api/datasources", &out["datasource"], "uid")?;
        Ok(outputs(uid))
    }

    /// Finds the data source by the uid the create asked for.
    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, DataSourceIn>,
    ) -> Result<Option<DataSourceOut>, ProviderError> {
        let uid = uid_for(ctx, i).ok_or_else(|| no_intent(ctx))?;
        let found = self
            .0
            .get(&format!("/api/datasources/uid/{}", seg(&uid)))
            .await?;
        Ok(found.map(|_| outputs(&uid)))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: DataSourceUpdate,
        uid: &str,
        _prior: &Current,
        i: &Inputs<'_, DataSourceIn>,
    ) -> Result<Option<DataSourceOut>, ProviderError> {
        let DataSourceUpdate::DataSource = group;
        let b = body(i, Some(uid))?;
        self.0
            .send(
                Method::PUT,
                &format!("/api/datasources/uid/{}", seg(uid)),
                Some(&b),
            )
            .await?;
        Ok(Some(outputs(uid)))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        uid: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        self.0
            .delete(&format!("/api/datasources/uid/{}", seg(uid)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{creating, grafana, inputs};

    #[tokio::test]
    async fn a_data_source_create_sends_the_whole_source_with_its_secrets() {
        let uid = intent_uid(&creating("grafana_data_source.amp"), "").unwrap();
        let (g, c) = grafana(vec![(200, json!({"datasource": {"uid": uid}, "id": 3}))]);
        let raw = inputs(json!({
            "name": "AMP",
            "type": "prometheus",
            "url": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/",
            "access": "proxy",
            "is_default": true,
            "json_data": {"sigV4Auth": true, "sigV4Region": "eu-west-1"},
            "secure_json_data": {"sigV4SecretKey": "s3cret"},
        }));
        let out = DataSource::new(c)
            .create(
                &creating("grafana_data_source.amp"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(out, outputs(&uid));
        let body = g.seen()[0].json();
        assert_eq!(body["type"], "prometheus");
        assert_eq!(body["isDefault"], true);
        assert_eq!(body["jsonData"]["sigV4Region"], "eu-west-1");
        assert_eq!(body["secureJsonData"]["sigV4SecretKey"], "s3cret");
        assert_eq!(body["uid"], uid.as_str());
    }

    #[tokio::test]
    async fn secrets_grafana_no_longer_has_and_an_empty_url_read_as_left_out() {
        let (_grafana, c) = grafana(vec![(
            200,
            json!({"uid": "amp", "name": "AMP", "type": "prometheus", "url": "", "access": "proxy",
                   "isDefault": false, "jsonData": {"sigV4Auth": true}}),
        )]);
        let prior = inputs(json!({
            "name": "AMP",
            "type": "prometheus",
            "json_data": {"sigV4Auth": true},
            "secure_json_data": {"sigV4SecretKey": "s3cret"},
        }));
        let now = DataSource::new(c)
            .fetch(&creating("grafana_data_source.amp"), "amp", &prior)
            .await
            .unwrap()
            .expect("the data source");
        assert!(!now.inputs.contains_key("url"));
        assert_eq!(
            now.inputs["secure_json_data"],
            Value::Map(Map::new()),
            "removed in Grafana: drift"
        );
        assert_eq!(now.inputs["json_data"], prior["json_data"]);
    }
}
