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
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, async_trait, declare,
};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::attrs::{Attrs, answered, intent_uid, no_intent};
use crate::client::{Client, seg};

declare! {
    pub(crate) struct FolderIn for "grafana_folder"
        ("A Grafana folder for dashboards and alert rules.")
    {
        title: String = required(AttrType::String).describe("Changed in place.");
        uid: Option<String> = optional(AttrType::String)
            .and_computed()
            .force_new()
            .describe("The folder's uid; meshmon picks one when left out.");
    }
    outputs FolderOut {
        id: String = computed(AttrType::String).describe("The uid; `meshmon import` takes it.");
        url: Option<String> = computed(AttrType::String);
        uid: String;
    }
}

pub(crate) struct Folder(Arc<Client>);

/// What a folder changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FolderUpdate {
    Title,
}

/// A folder's outputs from Grafana's answer to `operation`.
fn outputs(operation: &str, f: &Json) -> Result<FolderOut, ProviderError> {
    let uid = answered(operation, f, "uid")?;
    Ok(FolderOut {
        id: uid.into(),
        url: f["url"].as_str().map(str::to_string),
        uid: uid.into(),
    })
}

/// The uid a create with these inputs asks for: the user's, else one
/// derived from the intent.
fn uid_for(ctx: &OpContext, i: &FolderIn) -> Option<String> {
    match &i.uid {
        Some(uid) => Some(uid.clone()),
        None => intent_uid(ctx, ""),
    }
}

#[async_trait]
impl Declared for Folder {
    type Inputs = FolderIn;
    type Outputs = FolderOut;
    type Client = Client;
    type Group = FolderUpdate;
    const ID: &'static str = "uid";
    const UPDATES: &'static [UpdateGroup<FolderUpdate>] = &[(FolderUpdate::Title, &["title"])];

    fn new(client: Arc<Client>) -> Self {
        Folder(client)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        uid: &str,
        _prior: &Map,
    ) -> Result<Option<Current<FolderOut>>, ProviderError> {
        let Some(f) = self.0.get(&format!("/api/folders/{}", seg(uid))).await? else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .opt("title", f["title"].as_str())
            .set("uid", uid)
            .build();
        Ok(Some(Current::new(inputs, outputs("GET /api/folders", &f)?)))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, FolderIn>,
    ) -> Result<FolderOut, ProviderError> {
        let mut body = json!({ "title": i.title });
        if let Some(uid) = uid_for(ctx, i) {
            body["uid"] = json!(uid);
        }
        let f = self
            .0
            .send(Method::POST, "/api/folders", Some(&body))
            .await?;
        outputs("POST /api/folders", &f)
    }

    /// Finds the folder by the uid the create asked for.
    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, FolderIn>,
    ) -> Result<Option<FolderOut>, ProviderError> {
        let uid = uid_for(ctx, i).ok_or_else(|| no_intent(ctx))?;
        let found = self.0.get(&format!("/api/folders/{}", seg(&uid))).await?;
        found.map(|f| outputs("GET /api/folders", &f)).transpose()
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: FolderUpdate,
        uid: &str,
        _prior: &Current,
        i: &Inputs<'_, FolderIn>,
    ) -> Result<Option<FolderOut>, ProviderError> {
        let FolderUpdate::Title = group;
        let body = json!({ "title": i.title, "overwrite": true });
        let f = self
            .0
            .send(
                Method::PUT,
                &format!("/api/folders/{}", seg(uid)),
                Some(&body),
            )
            .await?;
        outputs("PUT /api/folders", &f).map(Some)
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        uid: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        self.0
            .delete(&format!("/api/folders/{}?forceDeleteRules=true", seg(uid)))
            .await
    }
}
