//! `grafana_alert_rule`: a unified-alerting rule through the provisioning
//! API, shaped so that the recipe's alert is a few lines:
//!
//! ```toml
//! [resources.grafana_alert_rule.downstream_latency]
//! title = "Downstream latency above 5 ms"
//! folder_uid = "${grafana_folder.mesh.uid}"
//! group = "envoy"
//! datasource_uid = "${grafana_data_source.amp.uid}"
//! query = "histogram_quantile(0.99, sum(rate(envoy_http_downstream_rq_time_bucket[1m])) by (le))"
//! condition = { type = "gt", threshold = 5 }
//! for = "1m"
//! contact_point = "${grafana_contact_point.sns.name}"
//! ```
//!
//! It becomes Grafana's three-step pipeline: A, the PromQL query (instant);
//! B, a reduce of A (`reducer`, default "last"); C, a threshold on B — the
//! rule's condition. `contact_point` routes through the rule's own
//! `notification_settings`, so no notification policy needs editing. The
//! evaluation `interval` belongs to the rule group, so setting it rewrites
//! the group with its rules unchanged.
//!
//! A rule the user names no uid for gets one derived from the create's
//! intent ([`intent_uid`]), so that `recover` finds it by uid after a lost
//! answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use meshmon_provider_sdk::{
    AttrType, Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value,
    async_trait, declare,
};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::attrs::{
    Attrs, a_duration, answered, duration, duration_like, intent_uid, no_intent, parse_go_duration,
};
use crate::client::{Client, seg};

const PATH: &str = "/api/v1/provisioning/alert-rules";
const EXPR: &str = "__expr__";
const EVALUATORS: [&str; 4] = ["gt", "lt", "within_range", "outside_range"];

/// Defaults the engine fills in for attributes left out: constants for the
/// schema, and functions for serde, for inputs decoded without them (the
/// declaration's own check).
macro_rules! defaults {
    ($($name:ident, $fun:ident = $v:literal;)*) => {
        $(
            const $name: &str = $v;
            fn $fun() -> String {
                $name.into()
            }
        )*
    };
}

defaults! {
    INTERVAL, interval = "1m";
    REDUCER, reducer = "last";
    LOOKBACK, lookback = "10m";
    PENDING, pending = "0s";
    NO_DATA, no_data = "NoData";
    EXEC_ERR, exec_err = "Error";
}

fn text() -> AttrType {
    AttrType::map_of(AttrType::String)
}

declare! {
    #[derive(Clone)]
    pub(crate) struct RuleIn for "grafana_alert_rule" ("A Grafana unified-alerting rule on a PromQL query.") {
        title: String = required(AttrType::String).describe("Changed in place.");
        folder_uid: String = required(AttrType::String).describe("Changed in place.");
        group: String = required(AttrType::String).describe("The rule group; changed in place.");
        #[serde(default = "interval")]
        interval: String = optional(AttrType::String)
            .default(INTERVAL)
            .check(a_duration)
            .describe("How often the group is evaluated; applies to the whole group.");
        datasource_uid: String = required(AttrType::String).describe("The Prometheus data source.");
        query: String = required(AttrType::String).describe("PromQL.");
        // Read as a `Condition` when the rule is built, so that a malformed
        // one is explained there.
        condition: Value = required(AttrType::map_of(AttrType::Any)).check(condition_check).describe(
            "{ type = \"gt\" | \"lt\", threshold = N } or { type = \"within_range\" | \"outside_range\", \
             threshold = [LOW, HIGH] }.",
        );
        #[serde(default = "reducer")]
        reducer: String = optional(AttrType::String)
            .default(REDUCER)
            .describe("How each series is reduced to one number: last, mean, max, min, sum, count.");
        #[serde(default = "lookback")]
        lookback: String = optional(AttrType::String)
            .default(LOOKBACK)
            .check(a_duration)
            .describe("The query's time range, ending now.");
        #[serde(default = "pending")]
        r#for: String = optional(AttrType::String)
            .default(PENDING)
            .check(a_duration)
            .describe("How long the condition must hold before the alert fires, like \"1m\".");
        #[serde(default)]
        labels: BTreeMap<String, String> = optional(text());
        #[serde(default)]
        annotations: BTreeMap<String, String> = optional(text()).describe("Like { summary = \"…\" }.");
        contact_point: Option<String> = optional(AttrType::String)
            .describe("Route this rule's notifications straight to a contact point (by name).");
        #[serde(default = "no_data")]
        no_data_state: String = optional(AttrType::String).default(NO_DATA).describe("NoData, Alerting, OK.");
        #[serde(default = "exec_err")]
        exec_err_state: String = optional(AttrType::String).default(EXEC_ERR).describe("Error, Alerting, OK.");
        #[serde(default)]
        is_paused: bool = optional(AttrType::Bool).default(false);
        uid: Option<String> = optional(AttrType::String)
            .and_computed()
            .force_new()
            .describe("The rule's uid; meshmon picks one when left out.");
    }
    outputs RuleOut {
        id: String = computed(AttrType::String).describe("The uid; `meshmon import` takes it.");
        uid: String;
    }
}

pub(crate) struct AlertRule(Arc<Client>);

fn outputs(uid: &str) -> RuleOut {
    RuleOut {
        id: uid.into(),
        uid: uid.into(),
    }
}

/// What a rule changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RuleUpdate {
    /// One PUT sends the whole rule, then the group's interval is set: a
    /// rule moved to another group needs it there too.
    Rule,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    threshold: Json,
}

impl Condition {
    fn params(&self) -> Result<Vec<Json>, ProviderError> {
        let bad = |why: &str| {
            ProviderError::new(format!("`condition`: {why}"))
                .with_hint("write condition = { type = \"gt\", threshold = 5 } or { type = \"within_range\", threshold = [1, 5] }")
        };
        if !EVALUATORS.contains(&self.kind.as_str()) {
            return Err(bad(&format!(
                "type {:?} is not one of {}",
                self.kind,
                EVALUATORS.join(", ")
            )));
        }
        let params = match &self.threshold {
            Json::Number(_) => vec![self.threshold.clone()],
            Json::Array(a) if a.iter().all(Json::is_number) => a.clone(),
            _ => return Err(bad("threshold must be a number or a list of numbers")),
        };
        let want = if self.kind.ends_with("range") { 2 } else { 1 };
        if params.len() != want {
            return Err(bad(&format!(
                "{} takes {want} threshold value(s)",
                self.kind
            )));
        }
        Ok(params)
    }
}

/// The check of `condition` in `validate` and `plan`: what
/// [`Condition::params`] takes at apply, said without the value.
fn condition_check(v: &Value) -> Result<(), String> {
    let shape = || {
        "must be { type = \"gt\" | \"lt\", threshold = N } or \
         { type = \"within_range\" | \"outside_range\", threshold = [LOW, HIGH] }"
            .to_string()
    };
    let c: Condition = v.to_typed().map_err(|_| shape())?;
    c.params().map(drop).map_err(|_| shape())
}

/// The provisioning API's rule body.
fn body(i: &RuleIn) -> Result<Json, ProviderError> {
    let lookback = duration("lookback", &i.lookback)?.as_secs();
    duration("for", &i.r#for)?;
    let condition: Condition = i
        .condition
        .clone()
        .to_typed()
        .map_err(ProviderError::invalid_inputs)?;
    let expr = |ref_id: &str, model: Json| {
        json!({
            "refId": ref_id,
            "relativeTimeRange": { "from": 0, "to": 0 },
            "datasourceUid": EXPR,
            "model": model,
        })
    };
    let ds = json!({ "type": EXPR, "uid": EXPR });
    let mut b = json!({
        "title": i.title,
        "folderUID": i.folder_uid,
        "ruleGroup": i.group,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": { "from": lookback, "to": 0 },
                "datasourceUid": i.datasource_uid,
                "model": { "refId": "A", "expr": i.query, "instant": true, "intervalMs": 1000, "maxDataPoints": 43200 },
            },
            expr("B", json!({ "refId": "B", "type": "reduce", "expression": "A", "reducer": i.reducer, "datasource": ds })),
            expr("C", json!({
                "refId": "C", "type": "threshold", "expression": "B", "datasource": ds,
                "conditions": [{ "evaluator": { "type": condition.kind, "params": condition.params()? } }],
            })),
        ],
        "noDataState": i.no_data_state,
        "execErrState": i.exec_err_state,
        "for": i.r#for,
        "labels": i.labels,
        "annotations": i.annotations,
        "isPaused": i.is_paused,
    });
    if let Some(cp) = &i.contact_point {
        b["notification_settings"] = json!({ "receiver": cp });
    }
    if let Some(uid) = &i.uid {
        b["uid"] = json!(uid);
    }
    Ok(b)
}

#[cfg(test)]
fn typed(inputs: &Map) -> Result<RuleIn, ProviderError> {
    meshmon_provider_sdk::attrs::typed(inputs)
}

/// The inputs of a create, with the uid it asks for: the user's, else one
/// derived from the intent.
fn for_create(ctx: &OpContext, i: &RuleIn) -> RuleIn {
    let mut i = i.clone();
    if i.uid.is_none() {
        i.uid = intent_uid(ctx, "");
    }
    i
}

/// A rule read back in the resource's terms. A rule reshaped in the UI
/// (another pipeline) reads with what can be found, which shows as drift.
fn current(r: &Json, uid: &str, interval: Option<u64>, prior: &Map) -> Current<RuleOut> {
    // A rule without data steps has none to find.
    let data: Vec<&Json> = r["data"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let query = data.iter().find(|d| d["datasourceUid"] != EXPR);
    let step = |ty: &str| data.iter().find(|d| d["model"]["type"] == ty);
    let evaluator = data
        .iter()
        .find(|d| d["refId"] == r["condition"])
        .map(|d| d["model"]["conditions"][0]["evaluator"].clone())
        .unwrap_or(Json::Null);
    // No evaluator parameters read as no threshold.
    let threshold = match evaluator["params"].as_array() {
        Some(params) if params.len() == 1 => params[0].clone(),
        Some(params) => Json::Array(params.clone()),
        None => Json::Null,
    };
    let condition = Value::from(json!({ "type": evaluator["type"], "threshold": threshold }));
    let dur = |key: &str, v: &Json| {
        let d = v
            .as_u64()
            .map(std::time::Duration::from_secs)
            .or_else(|| v.as_str().and_then(parse_go_duration));
        d.map(|d| duration_like(prior.get(key), d))
            .unwrap_or(Value::Null)
    };
    let map = |v: &Json| Value::from(if v.is_object() { v.clone() } else { json!({}) });
    // A field the answer lacks is left out.
    let inputs = Attrs::new()
        .opt("title", r["title"].as_str())
        .opt("folder_uid", r["folderUID"].as_str())
        .opt("group", r["ruleGroup"].as_str())
        .opt(
            "interval",
            interval
                .map(|s| duration_like(prior.get("interval"), std::time::Duration::from_secs(s))),
        )
        .opt(
            "datasource_uid",
            query.and_then(|q| q["datasourceUid"].as_str()),
        )
        .opt("query", query.and_then(|q| q["model"]["expr"].as_str()))
        .set("condition", condition)
        .opt(
            "reducer",
            step("reduce").and_then(|s| s["model"]["reducer"].as_str()),
        )
        .set(
            "lookback",
            query
                .map(|q| dur("lookback", &q["relativeTimeRange"]["from"]))
                .unwrap_or(Value::Null),
        )
        .set("for", dur("for", &r["for"]))
        .unless_empty(prior, "labels", map(&r["labels"]))
        .unless_empty(prior, "annotations", map(&r["annotations"]))
        .opt(
            "contact_point",
            r["notification_settings"]["receiver"].as_str(),
        )
        .opt("no_data_state", r["noDataState"].as_str())
        .opt("exec_err_state", r["execErrState"].as_str())
        .set("is_paused", r["isPaused"].as_bool().unwrap_or(false))
        .set("uid", uid)
        .build();
    Current::new(inputs, outputs(uid))
}

impl AlertRule {
    fn group_path(folder: &str, group: &str) -> String {
        format!(
            "/api/v1/provisioning/folder/{}/rule-groups/{}",
            seg(folder),
            seg(group)
        )
    }

    /// Sets the group's evaluation interval, keeping its rules as they are.
    /// The rule exists by now, so its group must too: a group that cannot
    /// be read back (after a few tries, for a Grafana that is slow to show
    /// it) is an error, never an interval silently left unset.
    async fn ensure_interval(&self, i: &RuleIn) -> Result<(), ProviderError> {
        let want = duration("interval", &i.interval)?.as_secs();
        let path = Self::group_path(&i.folder_uid, &i.group);
        let mut pause = std::time::Duration::from_millis(250);
        let mut group = None;
        for _ in 0..4 {
            group = self.0.get(&path).await?;
            if group.is_some() {
                break;
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        let Some(mut group) = group else {
            return Err(ProviderError::api(
                format!("GET {path}"),
                Some("404".into()),
                format!(
                    "the rule group {}/{} could not be read back, so its evaluation interval ({}) was not set",
                    i.folder_uid, i.group, i.interval
                ),
            )
            .with_hint("run `meshmon apply` again; if it persists, check that the folder and group exist in Grafana"));
        };
        if group["interval"].as_u64() == Some(want) {
            return Ok(());
        }
        group["interval"] = json!(want);
        self.0
            .send(Method::PUT, &path, Some(&group))
            .await
            .map(|_| ())
    }

    /// What a create does once the rule exists: sets the group's interval.
    /// A failure leaves the rule recorded, to be repaired by the next apply.
    async fn finish(
        &self,
        i: &Inputs<'_, RuleIn>,
        with_uid: &RuleIn,
        uid: &str,
    ) -> Result<RuleOut, ProviderError> {
        self.ensure_interval(with_uid)
            .await
            .map_err(|e| e.with_partial(i.partial(outputs(uid))))?;
        Ok(outputs(uid))
    }
}

#[async_trait]
impl Declared for AlertRule {
    type Inputs = RuleIn;
    type Outputs = RuleOut;
    type Client = Client;
    type Group = RuleUpdate;
    const ID: &'static str = "uid";
    const UPDATES: &'static [UpdateGroup<RuleUpdate>] = &[(
        RuleUpdate::Rule,
        &[
            "title",
            "folder_uid",
            "group",
            "interval",
            "datasource_uid",
            "query",
            "condition",
            "reducer",
            "lookback",
            "for",
            "labels",
            "annotations",
            "contact_point",
            "no_data_state",
            "exec_err_state",
            "is_paused",
        ],
    )];

    fn new(client: Arc<Client>) -> Self {
        AlertRule(client)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        uid: &str,
        prior: &Map,
    ) -> Result<Option<Current<RuleOut>>, ProviderError> {
        let Some(r) = self.0.get(&format!("{PATH}/{}", seg(uid))).await? else {
            return Ok(None);
        };
        let uid = answered(&format!("GET {PATH}"), &r, "uid")?;
        // A rule without a folder or group has no group interval to read.
        let interval = match (r["folderUID"].as_str(), r["ruleGroup"].as_str()) {
            (Some(folder), Some(group)) => self
                .0
                .get(&Self::group_path(folder, group))
                .await?
                .and_then(|g| g["interval"].as_u64()),
            _ => None,
        };
        Ok(Some(current(&r, uid, interval, prior)))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, RuleIn>,
    ) -> Result<RuleOut, ProviderError> {
        let i_for = for_create(ctx, i);
        let created = self
            .0
            .send(Method::POST, PATH, Some(&body(&i_for)?))
            .await?;
        let uid = answered(&format!("POST {PATH}"), &created, "uid")?;
        self.finish(i, &i_for, uid).await
    }

    /// Finds the rule by the uid the create asked for, then sets the
    /// group's interval as the create would have.
    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, RuleIn>,
    ) -> Result<Option<RuleOut>, ProviderError> {
        let i_for = for_create(ctx, i);
        let uid = i_for.uid.clone().ok_or_else(|| no_intent(ctx))?;
        if self
            .0
            .get(&format!("{PATH}/{}", seg(&uid)))
            .await?
            .is_none()
        {
            return Ok(None);
        }
        self.finish(i, &i_for, &uid).await.map(Some)
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: RuleUpdate,
        uid: &str,
        _prior: &Current,
        i: &Inputs<'_, RuleIn>,
    ) -> Result<Option<RuleOut>, ProviderError> {
        let RuleUpdate::Rule = group;
        let mut i = RuleIn::clone(i);
        i.uid = Some(uid.to_string());
        self.0
            .send(
                Method::PUT,
                &format!("{PATH}/{}", seg(uid)),
                Some(&body(&i)?),
            )
            .await?;
        self.ensure_interval(&i).await?;
        Ok(None)
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        uid: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        self.0.delete(&format!("{PATH}/{}", seg(uid))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe() -> Map {
        let v: Value = json!({
            "title": "Downstream latency above 5 ms", "folder_uid": "mesh", "group": "envoy", "interval": "1m",
            "datasource_uid": "amp", "query": "histogram_quantile(0.99, sum(rate(envoy_http_downstream_rq_time_bucket[1m])) by (le))",
            "condition": {"type": "gt", "threshold": 5}, "reducer": "last", "lookback": "10m", "for": "1m",
            "contact_point": "grafana-notification", "no_data_state": "NoData", "exec_err_state": "Error", "is_paused": false,
        })
        .into();
        v.as_map().unwrap().clone()
    }

    #[test]
    fn the_recipes_rule_round_trips() {
        let inputs = recipe();
        let b = body(&typed(&inputs).unwrap()).unwrap();
        assert_eq!(
            b["data"][2]["model"]["conditions"][0]["evaluator"],
            json!({"type": "gt", "params": [5]})
        );
        assert_eq!(
            b["notification_settings"]["receiver"],
            "grafana-notification"
        );
        let mut served = b.clone();
        served["uid"] = json!("r1");
        served["for"] = json!("1m0s");
        let back = current(&served, "r1", Some(60), &inputs);
        for (k, v) in &inputs {
            assert_eq!(back.inputs.get(k), Some(v), "{k}");
        }
    }

    #[test]
    fn bad_conditions_are_explained() {
        let mut inputs = recipe();
        inputs.insert(
            "condition".into(),
            json!({"type": "above", "threshold": 5}).into(),
        );
        let e = body(&typed(&inputs).unwrap()).unwrap_err();
        assert!(
            e.message.contains("\"above\" is not one of gt, lt"),
            "{}",
            e.message
        );
        inputs.insert(
            "condition".into(),
            json!({"type": "within_range", "threshold": 5}).into(),
        );
        assert!(body(&typed(&inputs).unwrap()).is_err());
    }

    #[test]
    fn conditions_and_durations_are_checked_at_plan_without_their_values() {
        let schema = <RuleIn as meshmon_provider_sdk::Declaration>::schema();
        let check = |name: &str, v: Json| schema.get(name).unwrap().validate(&Value::from(v));
        assert!(check("condition", json!({"type": "gt", "threshold": 5})).is_ok());
        let e = check("condition", json!({"type": "above", "threshold": 5})).unwrap_err();
        assert!(
            e.starts_with("must be { type") && !e.contains("above"),
            "{e}"
        );
        assert!(check("condition", json!({"type": "within_range", "threshold": 5})).is_err());
        assert!(check("for", json!("1m")).is_ok());
        let e = check("lookback", json!("ten minutes ago")).unwrap_err();
        assert!(
            e.starts_with("is not a duration") && !e.contains("ago"),
            "{e}"
        );
    }

    mod over_http {
        use super::*;
        use crate::testing::{creating, grafana};

        const GROUP: &str = "/api/v1/provisioning/folder/mesh/rule-groups/envoy";

        fn group(interval: u64) -> Json {
            json!({"title": "envoy", "folderUid": "mesh", "interval": interval, "rules": [{"uid": "other"}]})
        }

        #[tokio::test]
        async fn a_create_posts_the_pipeline_with_its_intents_uid_and_leaves_a_matching_group_alone()
         {
            let ctx = creating("grafana_alert_rule.latency");
            let uid = intent_uid(&ctx, "").unwrap();
            let (g, c) = grafana(vec![(201, json!({"uid": uid})), (200, group(60))]);
            let raw = recipe();
            let out = AlertRule::new(c)
                .create(&ctx, &Inputs::decode(&raw).unwrap())
                .await
                .unwrap();
            assert_eq!(out, outputs(&uid));
            let seen = g.seen();
            assert_eq!(
                (seen[0].method.as_str(), seen[0].path.as_str()),
                ("POST", PATH)
            );
            let body = seen[0].json();
            assert_eq!(body["uid"], uid.as_str());
            assert_eq!(body["folderUID"], "mesh");
            assert_eq!(body["ruleGroup"], "envoy");
            assert_eq!(body["condition"], "C");
            assert_eq!(body["data"][0]["datasourceUid"], "amp");
            assert_eq!(
                (seen[1].method.as_str(), seen[1].path.as_str()),
                ("GET", GROUP)
            );
            assert_eq!(seen.len(), 2, "the interval is already 1m: no PUT");
        }

        #[tokio::test]
        async fn a_group_at_another_interval_is_rewritten_with_its_rules_unchanged() {
            let ctx = creating("grafana_alert_rule.latency");
            let uid = intent_uid(&ctx, "").unwrap();
            let (g, c) = grafana(vec![
                (201, json!({"uid": uid})),
                (200, group(300)),
                (200, json!({})),
            ]);
            let raw = recipe();
            AlertRule::new(c)
                .create(&ctx, &Inputs::decode(&raw).unwrap())
                .await
                .unwrap();
            let seen = g.seen();
            assert_eq!(
                (seen[2].method.as_str(), seen[2].path.as_str()),
                ("PUT", GROUP)
            );
            let mut want = group(300);
            want["interval"] = json!(60);
            assert_eq!(seen[2].json(), want);
        }

        #[tokio::test]
        async fn a_failed_interval_keeps_the_rule_recorded() {
            let ctx = creating("grafana_alert_rule.latency");
            let uid = intent_uid(&ctx, "").unwrap();
            let (_grafana, c) = grafana(vec![
                (201, json!({"uid": uid})),
                (200, group(300)),
                (
                    403,
                    json!({"message": "permissions needed: alert.provisioning:write"}),
                ),
            ]);
            let raw = recipe();
            let err = AlertRule::new(c)
                .create(&ctx, &Inputs::decode(&raw).unwrap())
                .await
                .unwrap_err();
            assert_eq!(err.code.as_deref(), Some("403"));
            assert!(err.hint.as_deref().unwrap().contains("ADMIN"), "{err:?}");
            let partial = err.partial.expect("the rule, recorded");
            assert_eq!(partial.outputs["uid"], Value::from(uid.as_str()));
        }

        #[tokio::test]
        async fn a_read_leaves_out_what_the_rule_lacks_and_asks_no_group_without_one() {
            let (g, c) = grafana(vec![(
                200,
                json!({"uid": "r1", "title": "Latency", "condition": "C", "for": "5m", "data": []}),
            )]);
            let now = AlertRule::new(c)
                .fetch(
                    &OpContext::quiet("grafana_alert_rule.latency"),
                    "r1",
                    &Map::new(),
                )
                .await
                .unwrap()
                .expect("the rule");
            assert_eq!(g.seen().len(), 1, "no folder or group: no group to read");
            assert_eq!(g.seen()[0].path, format!("{PATH}/r1"));
            for left_out in [
                "folder_uid",
                "group",
                "interval",
                "datasource_uid",
                "query",
                "reducer",
                "labels",
                "annotations",
                "contact_point",
            ] {
                assert!(
                    !now.inputs.contains_key(left_out),
                    "{left_out}: {:?}",
                    now.inputs
                );
            }
            assert_eq!(now.inputs["title"], Value::from("Latency"));
            assert_eq!(now.inputs["for"], Value::from("5m"));
            assert_eq!(now.inputs["is_paused"], Value::Bool(false));
        }

        #[tokio::test]
        async fn an_update_puts_the_rule_under_its_uid_then_checks_the_interval() {
            let (g, c) = grafana(vec![(200, json!({"uid": "r1"})), (200, group(60))]);
            let raw = recipe();
            let prior = Current::new(recipe(), [("uid".to_string(), Value::from("r1"))].into());
            let out = AlertRule::new(c)
                .update(
                    &OpContext::quiet("grafana_alert_rule.latency"),
                    RuleUpdate::Rule,
                    "r1",
                    &prior,
                    &Inputs::decode(&raw).unwrap(),
                )
                .await
                .unwrap();
            assert!(out.is_none());
            let seen = g.seen();
            assert_eq!(
                (seen[0].method.as_str(), seen[0].path.clone()),
                ("PUT", format!("{PATH}/r1"))
            );
            assert_eq!(seen[0].json()["uid"], "r1");
            assert_eq!(seen[1].path, GROUP);
        }
    }
}
