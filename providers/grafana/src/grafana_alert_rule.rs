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
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, Value,
    async_trait,
};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::attrs::{
    Attrs, duration, duration_like, intent_uid, no_intent, parse_go_duration, str_of,
};
use crate::client::{Client, seg};

const PATH: &str = "/api/v1/provisioning/alert-rules";
const EXPR: &str = "__expr__";
const EVALUATORS: [&str; 4] = ["gt", "lt", "within_range", "outside_range"];

pub fn schema() -> Schema {
    let text = || AttrType::map_of(AttrType::String);
    Schema::new("grafana_alert_rule", "A Grafana unified-alerting rule on a PromQL query.")
        .attr(Attribute::required("title", AttrType::String).describe("Changed in place."))
        .attr(Attribute::required("folder_uid", AttrType::String).describe("Changed in place."))
        .attr(Attribute::required("group", AttrType::String).describe("The rule group; changed in place."))
        .attr(
            Attribute::optional("interval", AttrType::String)
                .default("1m")
                .describe("How often the group is evaluated; applies to the whole group."),
        )
        .attr(Attribute::required("datasource_uid", AttrType::String).describe("The Prometheus data source."))
        .attr(Attribute::required("query", AttrType::String).describe("PromQL."))
        .attr(
            Attribute::required("condition", AttrType::map_of(AttrType::Any)).describe(
                "{ type = \"gt\" | \"lt\", threshold = N } or { type = \"within_range\" | \"outside_range\", \
                 threshold = [LOW, HIGH] }.",
            ),
        )
        .attr(
            Attribute::optional("reducer", AttrType::String)
                .default("last")
                .describe("How each series is reduced to one number: last, mean, max, min, sum, count."),
        )
        .attr(
            Attribute::optional("lookback", AttrType::String)
                .default("10m")
                .describe("The query's time range, ending now."),
        )
        .attr(
            Attribute::optional("for", AttrType::String)
                .default("0s")
                .describe("How long the condition must hold before the alert fires, like \"1m\"."),
        )
        .attr(Attribute::optional("labels", text()))
        .attr(Attribute::optional("annotations", text()).describe("Like { summary = \"…\" }."))
        .attr(
            Attribute::optional("contact_point", AttrType::String)
                .describe("Route this rule's notifications straight to a contact point (by name)."),
        )
        .attr(Attribute::optional("no_data_state", AttrType::String).default("NoData").describe("NoData, Alerting, OK."))
        .attr(Attribute::optional("exec_err_state", AttrType::String).default("Error").describe("Error, Alerting, OK."))
        .attr(Attribute::optional("is_paused", AttrType::Bool).default(false))
        .attr(
            Attribute::optional("uid", AttrType::String)
                .and_computed()
                .force_new()
                .describe("The rule's uid; meshmon picks one when left out."),
        )
        .attr(Attribute::computed("id", AttrType::String).describe("The uid; `meshmon import` takes it."))
}

pub struct AlertRule(pub Arc<Client>);

#[derive(Deserialize)]
struct RuleIn {
    title: String,
    folder_uid: String,
    group: String,
    interval: String,
    datasource_uid: String,
    query: String,
    condition: Condition,
    reducer: String,
    lookback: String,
    #[serde(rename = "for")]
    pending: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    contact_point: Option<String>,
    no_data_state: String,
    exec_err_state: String,
    is_paused: bool,
    uid: Option<String>,
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

/// The provisioning API's rule body.
fn body(i: &RuleIn) -> Result<Json, ProviderError> {
    let lookback = duration("lookback", &i.lookback)?.as_secs();
    duration("for", &i.pending)?;
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
                "conditions": [{ "evaluator": { "type": i.condition.kind, "params": i.condition.params()? } }],
            })),
        ],
        "noDataState": i.no_data_state,
        "execErrState": i.exec_err_state,
        "for": i.pending,
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

fn typed(inputs: &Map) -> Result<RuleIn, ProviderError> {
    crate::attrs::typed(inputs)
}

/// The inputs of a create, with the uid it asks for: the user's, else one
/// derived from the intent.
fn typed_for_create(ctx: &OpContext, inputs: &Map) -> Result<RuleIn, ProviderError> {
    let mut i = typed(inputs)?;
    if i.uid.is_none() {
        i.uid = intent_uid(ctx, "");
    }
    Ok(i)
}

/// A rule read back in the resource's terms. A rule reshaped in the UI
/// (another pipeline) reads with what can be found, which shows as drift.
fn current(r: &Json, interval: Option<u64>, prior: &Map) -> Current {
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
    let params = evaluator["params"].as_array().cloned().unwrap_or_default();
    let threshold = if params.len() == 1 {
        params[0].clone()
    } else {
        Json::Array(params)
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
    let uid = r["uid"].as_str().unwrap_or_default();
    let inputs = Attrs::new()
        .set("title", r["title"].as_str().unwrap_or_default())
        .set("folder_uid", r["folderUID"].as_str().unwrap_or_default())
        .set("group", r["ruleGroup"].as_str().unwrap_or_default())
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
        .set(
            "no_data_state",
            r["noDataState"].as_str().unwrap_or_default(),
        )
        .set(
            "exec_err_state",
            r["execErrState"].as_str().unwrap_or_default(),
        )
        .set("is_paused", r["isPaused"].as_bool().unwrap_or(false))
        .set("uid", uid)
        .build();
    Current::new(inputs, Attrs::new().set("id", uid).set("uid", uid).build())
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
    async fn finish(&self, i: &RuleIn, uid: &str, inputs: &Map) -> Result<Map, ProviderError> {
        let outputs = Attrs::new().set("id", uid).set("uid", uid).build();
        self.ensure_interval(i)
            .await
            .map_err(|e| e.with_partial(Current::new(inputs.clone(), outputs.clone())))?;
        Ok(outputs)
    }

    async fn fetch(&self, uid: &str, prior: &Map) -> Result<Option<Current>, ProviderError> {
        let Some(r) = self.0.get(&format!("{PATH}/{}", seg(uid))).await? else {
            return Ok(None);
        };
        let (folder, group) = (
            r["folderUID"].as_str().unwrap_or_default(),
            r["ruleGroup"].as_str().unwrap_or_default(),
        );
        let interval = self
            .0
            .get(&Self::group_path(folder, group))
            .await?
            .and_then(|g| g["interval"].as_u64());
        Ok(Some(current(&r, interval, prior)))
    }
}

#[async_trait]
impl Resource for AlertRule {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let i = typed_for_create(ctx, inputs)?;
        let created = self.0.send(Method::POST, PATH, Some(&body(&i)?)).await?;
        let uid = created["uid"].as_str().unwrap_or_default().to_string();
        self.finish(&i, &uid, inputs).await
    }

    /// Finds the rule by the uid the create asked for, then sets the
    /// group's interval as the create would have.
    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let i = typed_for_create(ctx, inputs)?;
        let uid = i.uid.clone().ok_or_else(|| no_intent(ctx))?;
        if self
            .0
            .get(&format!("{PATH}/{}", seg(&uid)))
            .await?
            .is_none()
        {
            return Ok(None);
        }
        self.finish(&i, &uid, inputs).await.map(Some)
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
        let mut i = typed(inputs)?;
        i.uid = Some(uid.to_string());
        self.0
            .send(
                Method::PUT,
                &format!("{PATH}/{}", seg(uid)),
                Some(&body(&i)?),
            )
            .await?;
        self.ensure_interval(&i).await?;
        Ok(prior.outputs.clone())
    }

    async fn delete(&self, _ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        self.0
            .delete(&format!("{PATH}/{}", seg(str_of(&prior.outputs, "uid")?)))
            .await
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        self.fetch(id, &Map::new()).await
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
        let back = current(&served, Some(60), &inputs);
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
}
