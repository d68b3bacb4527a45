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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{creating, grafana, inputs};
    use meshmon_provider_sdk::Value;

    #[tokio::test]
    async fn a_folder_create_asks_for_the_uid_of_its_intent() {
        let uid = intent_uid(&creating("grafana_folder.mesh"), "").unwrap();
        let (g, c) = grafana(vec![(
            200,
            json!({"uid": uid, "title": "Mesh", "url": format!("/dashboards/f/{uid}/mesh")}),
        )]);
        let raw = inputs(json!({"title": "Mesh"}));
        let out = Folder::new(c)
            .create(
                &creating("grafana_folder.mesh"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(out.uid, uid);
        assert_eq!(out.url, Some(format!("/dashboards/f/{uid}/mesh")));
        let seen = g.seen();
        assert_eq!(
            (seen[0].method.as_str(), seen[0].path.as_str()),
            ("POST", "/api/folders")
        );
        assert_eq!(seen[0].json(), json!({"title": "Mesh", "uid": uid}));
        assert!(
            seen[0]
                .headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == "Bearer test-token")
        );
    }

    #[tokio::test]
    async fn a_folder_answer_without_a_url_records_none_and_one_without_a_uid_is_refused() {
        let (_grafana, c) = grafana(vec![
            (200, json!({"uid": "mesh", "title": "Mesh"})),
            (200, json!({"title": "Mesh"})),
        ]);
        let folder = Folder::new(c);
        let now = folder
            .fetch(&creating("grafana_folder.mesh"), "mesh", &Map::new())
            .await
            .unwrap()
            .expect("the folder");
        assert_eq!(now.outputs.url, None);
        assert_eq!(now.inputs["title"], Value::from("Mesh"));
        let err = folder
            .fetch(&creating("grafana_folder.mesh"), "mesh", &Map::new())
            .await
            .unwrap_err();
        assert!(err.message.contains("carries no `uid`"), "{err}");
    }

    #[tokio::test]
    async fn a_folder_the_create_never_made_is_not_recovered() {
        let (g, c) = grafana(vec![(404, json!({"message": "folder not found"}))]);
        let raw = inputs(json!({"title": "Mesh"}));
        let found = Folder::new(c)
            .recover(
                &creating("grafana_folder.mesh"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        assert!(found.is_none());
        let uid = intent_uid(&creating("grafana_folder.mesh"), "").unwrap();
        assert_eq!(g.seen()[0].path, format!("/api/folders/{uid}"));
    }

    #[tokio::test]
    async fn a_taken_name_is_refused_with_advice_and_a_server_error_is_ambiguous() {
        let (_grafana, c) = grafana(vec![
            (
                409,
                json!({"message": "a folder with the same name already exists"}),
            ),
            (500, json!({"message": "database is locked"})),
        ]);
        let raw = inputs(json!({"title": "Mesh", "uid": "mesh"}));
        let folder = Folder::new(c);
        let ctx = creating("grafana_folder.mesh");
        let err = folder
            .create(&ctx, &Inputs::decode(&raw).unwrap())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "POST /api/folders: 409: a folder with the same name already exists"
        );
        assert!(
            err.hint.as_deref().unwrap().contains("meshmon import"),
            "{err:?}"
        );
        assert!(!err.ambiguous);
        // The create may have been made before the 500: not sent again.
        let err = folder
            .create(&ctx, &Inputs::decode(&raw).unwrap())
            .await
            .unwrap_err();
        assert!(err.ambiguous, "{err:?}");
        assert_eq!(err.code.as_deref(), Some("500"));
    }

    #[tokio::test]
    async fn a_title_change_overwrites_and_a_delete_takes_hand_made_rules_along() {
        let (g, c) = grafana(vec![
            (
                200,
                json!({"uid": "mesh", "title": "Mesh 2", "url": "/dashboards/f/mesh/mesh-2"}),
            ),
            (404, json!({"message": "folder not found"})),
        ]);
        let folder = Folder::new(c);
        let ctx = OpContext::quiet("grafana_folder.mesh");
        let prior = Current::new(
            inputs(json!({"title": "Mesh", "uid": "mesh"})),
            inputs(json!({"id": "mesh", "uid": "mesh"})),
        );
        let raw = inputs(json!({"title": "Mesh 2", "uid": "mesh"}));
        let out = folder
            .update(
                &ctx,
                FolderUpdate::Title,
                "mesh",
                &prior,
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap()
            .expect("the outputs");
        assert_eq!(out.url.as_deref(), Some("/dashboards/f/mesh/mesh-2"));
        // Already gone is deleted.
        folder.delete(&ctx, "mesh", &prior).await.unwrap();
        let seen = g.seen();
        assert_eq!(
            (seen[0].method.as_str(), seen[0].path.as_str()),
            ("PUT", "/api/folders/mesh")
        );
        assert_eq!(
            seen[0].json(),
            json!({"title": "Mesh 2", "overwrite": true})
        );
        assert_eq!(seen[1].method, "DELETE");
        assert_eq!(
            seen[1].query,
            [("forceDeleteRules".to_string(), "true".to_string())]
        );
    }
}
