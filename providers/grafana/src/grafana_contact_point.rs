//! `grafana_contact_point`: a unified-alerting contact point — a name and
//! its receivers (integrations), through the provisioning API. Grafana
//! stores each receiver as its own object with its own uid, all sharing the
//! contact point's name, so this resource owns a list of them: receivers
//! are matched to the recorded uids by position, changed with PUT, added
//! with POST, removed with DELETE.
//!
//! Receivers are written the way a user thinks of them and translated:
//! `{ type = "sns", topic_arn = "…", region = "eu-west-1" }` becomes the
//! SNS integration's `topic_arn` and `sigv4.region`, with no keys (the
//! "AWS SDK default" auth provider: an AMG workspace's own role);
//! `{ type = "email", addresses = ["oncall@example.com"] }` becomes
//! `addresses = "oncall@example.com"`. Any other type passes its keys
//! through as the integration's settings.
//!
//! A create gives each receiver a uid derived from the create's intent and
//! the receiver's position ([`intent_uid`]), so that `recover` can tell the
//! receivers that create made from any others of the same name.

use std::sync::Arc;

use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::attrs::{Attrs, intent_uid, no_intent, strings_of};
use crate::client::{Client, seg};

const PATH: &str = "/api/v1/provisioning/contact-points";
/// SNS receiver keys that live under the integration's `sigv4` settings.
const SIGV4: [(&str, &str); 5] = [
    ("region", "region"),
    ("role_arn", "role_arn"),
    ("profile", "profile"),
    ("access_key", "access_key"),
    ("secret_key", "secret_key"),
];

declare! {
    pub(crate) struct ContactPointIn for "grafana_contact_point"
        ("A unified-alerting contact point and its receivers.")
    {
        name: String = required(AttrType::String)
            .describe("What alert rules route to; changed in place.");
        receivers: Vec<Value> = required(AttrType::list_of(AttrType::map_of(AttrType::Any)))
            .describe(
                "Integrations, like [{ type = \"sns\", topic_arn = \"…\", region = \"eu-west-1\" }, \
                     { type = \"email\", addresses = [\"oncall@example.com\"] }]; changed in place.",
            );
    }
    outputs ContactPointOut {
        id: String = computed(AttrType::String).describe("The name; `meshmon import` takes it.");
        uids: Vec<String> = computed(AttrType::list_of(AttrType::String))
            .describe("One per receiver.");
    }
}

pub(crate) struct ContactPoint(Arc<Client>);

fn outputs(name: &str, uids: Vec<String>) -> ContactPointOut {
    ContactPointOut {
        id: name.into(),
        uids,
    }
}

/// What a contact point changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ContactPointUpdate {
    /// The name is on every receiver: renaming is rewriting them all.
    ContactPoint,
}

/// A receiver as the provisioning API's embedded contact point.
fn integration(name: &str, r: &Value) -> Result<Json, ProviderError> {
    let m = r
        .as_map()
        .ok_or_else(|| ProviderError::new("each receiver must be a table with a `type`"))?;
    let ty = m.get("type").and_then(Value::as_str).ok_or_else(|| {
        ProviderError::new("a receiver has no `type`")
            .with_hint("write receivers like { type = \"sns\", topic_arn = \"…\" }")
    })?;
    let mut settings = serde_json::Map::new();
    let mut sigv4 = serde_json::Map::new();
    for (k, v) in m
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "type" | "disable_resolve_message"))
    {
        let v = Json::from(v.clone());
        match (ty, k.as_str()) {
            ("sns", key) if SIGV4.iter().any(|(ours, _)| *ours == key) => {
                let theirs = SIGV4
                    .iter()
                    .find(|(ours, _)| *ours == key)
                    .map(|(_, t)| *t)
                    .unwrap_or(key);
                sigv4.insert(theirs.to_string(), v);
            }
            // The user's addresses: a list, or one string.
            ("email", "addresses") => {
                let list: Vec<&str> = v
                    .as_array()
                    .map(|a| a.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                let joined = if list.is_empty() {
                    v.as_str().unwrap_or_default().to_string()
                } else {
                    list.join(";")
                };
                settings.insert("addresses".into(), json!(joined));
            }
            ("email", "single_email") => {
                settings.insert("singleEmail".into(), v);
            }
            _ => {
                settings.insert(k.clone(), v);
            }
        }
    }
    if ty == "sns"
        && !settings.contains_key("topic_arn")
        && !settings.contains_key("target_arn")
        && !settings.contains_key("phone_number")
    {
        return Err(ProviderError::new("an sns receiver needs `topic_arn`")
            .with_hint("topic_arn = \"${aws_sns_topic.NAME.arn}\"; AMG's service-managed permissions need a topic named grafana*"));
    }
    if !sigv4.is_empty() {
        settings.insert("sigv4".into(), Json::Object(sigv4));
    }
    let disable = m
        .get("disable_resolve_message")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(json!({ "name": name, "type": ty, "settings": settings, "disableResolveMessage": disable }))
}

/// An integration read back in the receiver form, given what was recorded
/// for it (secrets come back redacted and keep the recorded value).
fn receiver(i: &Json, prior: Option<&Map>) -> Value {
    // An integration without a type reads without one.
    let ty = i["type"].as_str();
    let empty = Map::new();
    let prior = prior.unwrap_or(&empty);
    let mut out = Map::new();
    if let Some(ty) = ty {
        out.insert("type".into(), Value::from(ty));
    }
    let redacted = |v: &Json| v.as_str().is_some_and(|s| s.contains("REDACTED"));
    let mut put = |k: &str, v: &Json| {
        if redacted(v) {
            if let Some(p) = prior.get(k) {
                out.insert(k.to_string(), p.clone());
            }
        } else if !(v.is_null() || v.as_str() == Some("")) {
            out.insert(k.to_string(), Value::from(v.clone()));
        }
    };
    for (k, v) in i["settings"].as_object().into_iter().flatten() {
        match (ty, k.as_str()) {
            (Some("sns"), "sigv4") => {
                for (ours, theirs) in SIGV4 {
                    if let Some(v) = v.get(theirs) {
                        put(ours, v);
                    }
                }
            }
            // Addresses that are not a string read as none.
            (Some("email"), "addresses") => {
                if let Some(text) = v.as_str() {
                    let list: Vec<&str> = text
                        .split([';', ',', '\n'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect();
                    put("addresses", &json!(list));
                }
            }
            (Some("email"), "singleEmail")
                if v.as_bool() == Some(true) || prior.contains_key("single_email") =>
            {
                put("single_email", v)
            }
            (Some("email"), "singleEmail") => {}
            _ => put(k, v),
        }
    }
    // Secrets the server does not echo at all keep what was recorded.
    for (k, v) in prior {
        if matches!(k.as_str(), "access_key" | "secret_key") && !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    let disable = i["disableResolveMessage"].as_bool().unwrap_or(false);
    if disable || prior.contains_key("disable_resolve_message") {
        out.insert("disable_resolve_message".into(), Value::Bool(disable));
    }
    Value::Map(out)
}

/// The uid a create asks for the receiver at position `n`.
fn receiver_uid(ctx: &OpContext, n: usize) -> Option<String> {
    intent_uid(ctx, &format!("receiver-{n}"))
}

impl ContactPoint {
    async fn list(&self, name: &str) -> Result<Vec<Json>, ProviderError> {
        let all = self
            .0
            .send(Method::GET, &format!("{PATH}?name={}", seg(name)), None)
            .await?;
        // Older Grafanas ignore `name`: filter here as well.
        Ok(all
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["name"] == name)
            .cloned()
            .collect())
    }

    async fn get(
        &self,
        name: &str,
        prior: &Current,
    ) -> Result<Option<Current<ContactPointOut>>, ProviderError> {
        let mut found = self.list(name).await?;
        if found.is_empty() {
            return Ok(None);
        }
        // Recorded receivers first, in their order; any added by hand after.
        let uids = strings_of(&prior.outputs, "uids");
        found.sort_by_key(|c| {
            uids.iter()
                .position(|u| c["uid"] == u.as_str())
                .unwrap_or(usize::MAX)
        });
        let prior_receivers = prior
            .inputs
            .get("receivers")
            .and_then(Value::as_list)
            .unwrap_or_default();
        let receivers = found
            .iter()
            .map(|c| {
                let recorded = uids
                    .iter()
                    .position(|u| c["uid"] == u.as_str())
                    .and_then(|p| prior_receivers.get(p));
                receiver(c, recorded.and_then(Value::as_map))
            })
            .collect();
        let inputs = Attrs::new()
            .set("name", name)
            .set("receivers", Value::List(receivers))
            .build();
        let uids = found
            .iter()
            .filter_map(|c| c["uid"].as_str())
            .map(str::to_string)
            .collect();
        Ok(Some(Current::new(inputs, outputs(name, uids))))
    }

    /// Makes the live integrations match `inputs`, reusing `uids` in order;
    /// a receiver created anew gets the uid `new_uid` gives for its
    /// position, or one Grafana picks.
    async fn converge(
        &self,
        inputs: &Inputs<'_, ContactPointIn>,
        uids: &[String],
        new_uid: impl Fn(usize) -> Option<String>,
    ) -> Result<ContactPointOut, ProviderError> {
        let name = inputs.name.as_str();
        let receivers = &inputs.receivers;
        if receivers.is_empty() {
            return Err(ProviderError::new(
                "a contact point needs at least one receiver",
            ));
        }
        let mut done: Vec<String> = Vec::new();
        let partial = |done: &[String]| inputs.partial(outputs(name, done.to_vec()));
        for (n, r) in receivers.iter().enumerate() {
            let mut body = integration(name, r)?;
            let fresh = |mut body: Json| {
                if let Some(uid) = new_uid(n) {
                    body["uid"] = json!(uid);
                }
                body
            };
            let result = match uids.get(n) {
                Some(uid) => {
                    body["uid"] = json!(uid);
                    match self
                        .0
                        .call(Method::PUT, &format!("{PATH}/{}", seg(uid)), Some(&body))
                        .await
                    {
                        Ok(_) => Ok(uid.clone()),
                        // Deleted behind our back: create it again.
                        Err(f) if f.status == 404 => self.create_one(&body).await,
                        Err(f) => Err(f.error),
                    }
                }
                None => self.create_one(&fresh(body)).await,
            };
            match result {
                Ok(uid) => done.push(uid),
                Err(e) => return Err(e.with_partial(partial(&done))),
            }
        }
        for extra in uids.iter().skip(receivers.len()) {
            self.0.delete(&format!("{PATH}/{}", seg(extra))).await?;
        }
        Ok(outputs(name, done))
    }

    async fn create_one(&self, body: &Json) -> Result<String, ProviderError> {
        let created = self.0.send(Method::POST, PATH, Some(body)).await?;
        created["uid"].as_str().map(str::to_string).ok_or_else(|| {
            ProviderError::api(format!("POST {PATH}"), None, "Grafana returned no uid")
        })
    }
}

#[async_trait]
impl Declared for ContactPoint {
    type Inputs = ContactPointIn;
    type Outputs = ContactPointOut;
    type Client = Client;
    type Group = ContactPointUpdate;
    const UPDATES: &'static [UpdateGroup<ContactPointUpdate>] =
        &[(ContactPointUpdate::ContactPoint, &["name", "receivers"])];

    fn new(client: Arc<Client>) -> Self {
        ContactPoint(client)
    }

    /// The import's fetch; a read matches receivers to the recorded uids
    /// ([`Declared::read`]).
    async fn fetch(
        &self,
        _ctx: &OpContext,
        name: &str,
        prior: &Map,
    ) -> Result<Option<Current<ContactPointOut>>, ProviderError> {
        self.get(name, &Current::new(prior.clone(), Map::new()))
            .await
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, ContactPointIn>,
    ) -> Result<ContactPointOut, ProviderError> {
        self.converge(i, &[], |n| receiver_uid(ctx, n)).await
    }

    /// Finds the receivers by the uids the create asked for. All there: the
    /// contact point, with the create's outputs. None there: `Ok(None)`.
    /// Some only (the create stopped between two receivers): those are
    /// deleted and `Ok(None)` returned, so that the create runs again whole.
    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, ContactPointIn>,
    ) -> Result<Option<ContactPointOut>, ProviderError> {
        let name = i.name.as_str();
        let count = i.receivers.len();
        let wanted = (0..count)
            .map(|n| receiver_uid(ctx, n))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| no_intent(ctx))?;
        let live = self.list(name).await?;
        let found: Vec<&String> = wanted
            .iter()
            .filter(|u| live.iter().any(|c| c["uid"] == u.as_str()))
            .collect();
        if !found.is_empty() && found.len() == wanted.len() {
            return Ok(Some(outputs(name, wanted)));
        }
        for uid in found {
            self.0.delete(&format!("{PATH}/{}", seg(uid))).await?;
        }
        Ok(None)
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: ContactPointUpdate,
        _name: &str,
        prior: &Current,
        i: &Inputs<'_, ContactPointIn>,
    ) -> Result<Option<ContactPointOut>, ProviderError> {
        let ContactPointUpdate::ContactPoint = group;
        self.converge(i, &strings_of(&prior.outputs, "uids"), |_| None)
            .await
            .map(Some)
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        _name: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        for uid in strings_of(&prior.outputs, "uids") {
            self.0.delete(&format!("{PATH}/{}", seg(&uid))).await?;
        }
        Ok(())
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        name: &str,
        prior: &Current,
    ) -> Result<Option<Current<ContactPointOut>>, ProviderError> {
        self.get(name, prior).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(v: Json) -> Value {
        Value::from(v)
    }

    #[test]
    fn sns_and_email_receivers_translate_both_ways() {
        let sns = table(
            json!({"type": "sns", "topic_arn": "arn:aws:sns:eu-west-1:1:grafana-notification", "region": "eu-west-1"}),
        );
        let i = integration("oncall", &sns).unwrap();
        assert_eq!(i["settings"]["sigv4"]["region"], "eu-west-1");
        assert_eq!(
            i["settings"]["topic_arn"],
            "arn:aws:sns:eu-west-1:1:grafana-notification"
        );
        assert!(
            i["settings"]["sigv4"].get("access_key").is_none(),
            "default auth sends no keys"
        );
        assert_eq!(receiver(&i, None), sns);

        let email =
            table(json!({"type": "email", "addresses": ["a@example.com", "b@example.com"]}));
        let i = integration("oncall", &email).unwrap();
        assert_eq!(i["settings"]["addresses"], "a@example.com;b@example.com");
        assert_eq!(receiver(&i, None), email);
    }

    #[test]
    fn redacted_secrets_keep_the_recorded_value() {
        let i = json!({"type": "sns", "settings": {"topic_arn": "t", "sigv4": {"secret_key": "[REDACTED]"}}});
        let prior: Map = [("secret_key".to_string(), Value::from("s3cret"))].into();
        assert_eq!(
            receiver(&i, Some(&prior)).as_map().unwrap()["secret_key"],
            Value::from("s3cret")
        );
        assert!(integration("x", &table(json!({"type": "sns"}))).is_err());
    }

    mod over_http {
        use super::*;
        use crate::testing::{creating, grafana, inputs};
        use meshmon_provider_sdk::DeclaredOutputs;

        const SNS: &str = "arn:aws:sns:eu-west-1:1:grafana-notification";

        fn two_receivers() -> Map {
            inputs(json!({
                "name": "oncall",
                "receivers": [
                    {"type": "sns", "topic_arn": SNS, "region": "eu-west-1"},
                    {"type": "email", "addresses": ["a@example.com"]},
                ],
            }))
        }

        #[tokio::test]
        async fn a_create_posts_each_receiver_with_the_uid_of_its_position() {
            let ctx = creating("grafana_contact_point.oncall");
            let (u0, u1) = (
                receiver_uid(&ctx, 0).unwrap(),
                receiver_uid(&ctx, 1).unwrap(),
            );
            let (g, c) = grafana(vec![(202, json!({"uid": u0})), (202, json!({"uid": u1}))]);
            let raw = two_receivers();
            let out = ContactPoint::new(c)
                .create(&ctx, &Inputs::decode(&raw).unwrap())
                .await
                .unwrap();
            assert_eq!(out, outputs("oncall", vec![u0.clone(), u1.clone()]));
            let seen = g.seen();
            assert_eq!(
                (seen[0].method.as_str(), seen[0].path.as_str()),
                ("POST", PATH)
            );
            let first = seen[0].json();
            assert_eq!(first["uid"], u0.as_str());
            assert_eq!(first["name"], "oncall");
            assert_eq!(first["type"], "sns");
            assert_eq!(first["settings"]["sigv4"]["region"], "eu-west-1");
            assert_eq!(seen[1].json()["uid"], u1.as_str());
            assert_eq!(seen[1].json()["settings"]["addresses"], "a@example.com");
        }

        #[tokio::test]
        async fn a_create_that_stops_between_receivers_records_the_ones_made() {
            let ctx = creating("grafana_contact_point.oncall");
            let u0 = receiver_uid(&ctx, 0).unwrap();
            let (_grafana, c) = grafana(vec![
                (202, json!({"uid": u0})),
                (400, json!({"message": "invalid email address"})),
            ]);
            let raw = two_receivers();
            let err = ContactPoint::new(c)
                .create(&ctx, &Inputs::decode(&raw).unwrap())
                .await
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("POST {PATH}: 400: invalid email address")
            );
            let partial = err.partial.expect("what was made");
            assert_eq!(partial.outputs, outputs("oncall", vec![u0]).into_map());
        }

        #[tokio::test]
        async fn an_update_rewrites_receivers_in_place_remakes_a_vanished_one_and_drops_extras() {
            let (g, c) = grafana(vec![
                (202, json!({})),
                (404, json!({"message": "not found"})),
                (202, json!({"uid": "new-b"})),
                (202, json!({})),
            ]);
            let prior = Current::new(
                two_receivers(),
                outputs("oncall", vec!["a".into(), "b".into(), "c".into()]).into_map(),
            );
            let raw = two_receivers();
            let out = ContactPoint::new(c)
                .update(
                    &OpContext::quiet("grafana_contact_point.oncall"),
                    ContactPointUpdate::ContactPoint,
                    "oncall",
                    &prior,
                    &Inputs::decode(&raw).unwrap(),
                )
                .await
                .unwrap()
                .unwrap();
            assert_eq!(out.uids, ["a", "new-b"]);
            let calls: Vec<_> = g
                .seen()
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect();
            assert_eq!(
                calls,
                [
                    format!("PUT {PATH}/a"),
                    format!("PUT {PATH}/b"),
                    format!("POST {PATH}"),
                    format!("DELETE {PATH}/c"),
                ]
            );
            assert_eq!(g.seen()[0].json()["uid"], "a");
        }

        #[tokio::test]
        async fn a_read_keeps_the_recorded_order_and_ignores_other_names() {
            let (g, c) = grafana(vec![(
                200,
                json!([
                    {"uid": "hand", "name": "oncall", "type": "email", "settings": {"addresses": "c@example.com"}},
                    {"uid": "other", "name": "pager", "type": "email", "settings": {"addresses": "p@example.com"}},
                    {"uid": "b", "name": "oncall", "type": "email", "settings": {"addresses": "a@example.com"}},
                    {"uid": "a", "name": "oncall", "type": "sns",
                     "settings": {"topic_arn": SNS, "sigv4": {"region": "eu-west-1"}}},
                ]),
            )]);
            let prior = Current::new(
                two_receivers(),
                outputs("oncall", vec!["a".into(), "b".into()]).into_map(),
            );
            let now = ContactPoint::new(c)
                .read(
                    &OpContext::quiet("grafana_contact_point.oncall"),
                    "oncall",
                    &prior,
                )
                .await
                .unwrap()
                .expect("the contact point");
            assert_eq!(now.outputs.uids, ["a", "b", "hand"]);
            assert_eq!(
                now.inputs["receivers"],
                Value::from(json!([
                    {"type": "sns", "topic_arn": SNS, "region": "eu-west-1"},
                    {"type": "email", "addresses": ["a@example.com"]},
                    {"type": "email", "addresses": ["c@example.com"]},
                ])),
                "a receiver added by hand shows as drift"
            );
            assert_eq!(
                g.seen()[0].query,
                [("name".to_string(), "oncall".to_string())]
            );
        }

        #[tokio::test]
        async fn recover_deletes_a_half_made_contact_point_so_the_create_runs_whole() {
            let ctx = creating("grafana_contact_point.oncall");
            let u0 = receiver_uid(&ctx, 0).unwrap();
            let (g, c) = grafana(vec![
                (
                    200,
                    json!([{"uid": u0, "name": "oncall", "type": "sns", "settings": {}}]),
                ),
                (202, json!({})),
            ]);
            let raw = two_receivers();
            let found = ContactPoint::new(c)
                .recover(&ctx, &Inputs::decode(&raw).unwrap())
                .await
                .unwrap();
            assert!(found.is_none());
            let seen = g.seen();
            assert_eq!(seen.len(), 2);
            assert_eq!(
                (seen[1].method.as_str(), seen[1].path.clone()),
                ("DELETE", format!("{PATH}/{u0}"))
            );
        }
    }
}
