//! `grafana_folder`: a dashboard and alert-rule folder. The title changes
//! in place (with `overwrite`, since meshmon is the authority on it); the
//! uid is the folder's identity and forces a replacement. Deleting a folder
//! that still holds alert rules needs `forceDeleteRules` on Grafana 10+;
//! meshmon deletes the rules first when it manages them, so the flag only
//! matters for rules made by hand — which go with the folder, as in the UI.

use std::sync::Arc;

use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, async_trait,
};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::attrs::{Attrs, str_of};
use crate::client::{Client, seg};

pub fn schema() -> Schema {
    Schema::new(
        "grafana_folder",
        "A Grafana folder for dashboards and alert rules.",
    )
    .attr(Attribute::required("title", AttrType::String).describe("Changed in place."))
    .attr(
        Attribute::optional("uid", AttrType::String)
            .and_computed()
            .force_new()
            .describe("The folder's uid; Grafana picks one when left out."),
    )
    .attr(
        Attribute::computed("id", AttrType::String).describe("The uid; `meshmon import` takes it."),
    )
    .attr(Attribute::computed("url", AttrType::String))
}

pub struct Folder(pub Arc<Client>);

fn outputs(f: &Json) -> Map {
    let uid = f["uid"].as_str().unwrap_or_default();
    Attrs::new()
        .set("id", uid)
        .set("uid", uid)
        .set("url", f["url"].as_str().unwrap_or_default())
        .build()
}

impl Folder {
    async fn fetch(&self, uid: &str) -> Result<Option<Current>, ProviderError> {
        let Some(f) = self.0.get(&format!("/api/folders/{}", seg(uid))).await? else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .set("title", f["title"].as_str().unwrap_or_default())
            .set("uid", uid)
            .build();
        Ok(Some(Current::new(inputs, outputs(&f))))
    }
}

#[async_trait]
impl Resource for Folder {
    async fn create(&self, _ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let mut body = json!({ "title": str_of(inputs, "title")? });
        if let Ok(uid) = str_of(inputs, "uid") {
            body["uid"] = json!(uid);
        }
        let f = self
            .0
            .send(Method::POST, "/api/folders", Some(&body))
            .await?;
        Ok(outputs(&f))
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.fetch(str_of(&prior.outputs, "uid")?).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let uid = str_of(&prior.outputs, "uid")?;
        let body = json!({ "title": str_of(inputs, "title")?, "overwrite": true });
        let f = self
            .0
            .send(
                Method::PUT,
                &format!("/api/folders/{}", seg(uid)),
                Some(&body),
            )
            .await?;
        Ok(outputs(&f))
    }

    async fn delete(&self, _ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let uid = str_of(&prior.outputs, "uid")?;
        self.0
            .delete(&format!("/api/folders/{}?forceDeleteRules=true", seg(uid)))
            .await
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        self.fetch(id).await
    }
}
