//! `grafana_folder`: a dashboard and alert-rule folder. The title changes
//! in place (with `overwrite`, since meshmon is the authority on it); the
//! uid is the folder's identity and forces a replacement. Deleting a folder
//! that still holds alert rules needs `forceDeleteRules` on Grafana 10+;
//! meshmon deletes the rules first when it manages them, so the flag only
//! matters for rules made by hand — which go with the folder, as in the UI.
//!
//! A folder the user names no uid for gets one derived from the create's
//! intent ([`intent_uid`]), so that `recover` finds it by uid after a lost
//! answer.

use std::sync::Arc;

use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, async_trait,
};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::attrs::{Attrs, intent_uid, no_intent, str_of};
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
            .describe("The folder's uid; meshmon picks one when left out."),
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

/// The uid a create with these inputs asks for: the user's, else one
/// derived from the intent.
fn uid_for(ctx: &OpContext, inputs: &Map) -> Option<String> {
    match str_of(inputs, "uid") {
        Ok(uid) => Some(uid.to_string()),
        Err(_) => intent_uid(ctx, ""),
    }
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
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let mut body = json!({ "title": str_of(inputs, "title")? });
        if let Some(uid) = uid_for(ctx, inputs) {
            body["uid"] = json!(uid);
        }
        let f = self
            .0
            .send(Method::POST, "/api/folders", Some(&body))
            .await?;
        Ok(outputs(&f))
    }

    /// Finds the folder by the uid the create asked for.
    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let uid = uid_for(ctx, inputs).ok_or_else(|| no_intent(ctx))?;
        let found = self.0.get(&format!("/api/folders/{}", seg(&uid))).await?;
        Ok(found.map(|f| outputs(&f)))
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
