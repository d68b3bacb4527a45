//! `aws_sns_topic` (where Grafana sends alerts) and
//! `aws_sns_topic_subscription`. An e-mail subscription stays "pending
//! confirmation" until its recipient clicks the link: that is neither an
//! error nor drift. Subscribing with `ReturnSubscriptionArn` gets the real
//! ARN even while pending, so read finds the subscription and reports
//! `pending_confirmation` honestly; the plan says confirmation is needed.
//!
//! SNS keeps topic names unique and makes one subscription per topic,
//! protocol and endpoint: `recover` finds a topic by name and a
//! subscription among its topic's by protocol and endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_sns::types::Tag;
use meshmon_aws_common::error::{NO_HINT, api, found, gone_ok};
use meshmon_aws_common::identity::last_segment;
use meshmon_aws_common::tags::{self, Tags, TagsExt, tag_list, tags_attr, tags_of};
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, NoUpdates, OpContext, PlanAdvice, ProviderError, UpdateGroup,
    Value, async_trait, declare,
};

use crate::Clients;
use crate::attrs::{Attrs, answered};
use crate::{policy, wait};

fn sns_tags(t: &Tags) -> Result<Option<Vec<Tag>>, ProviderError> {
    tag_list(t, |k, v| Tag::builder().key(k).value(v).build())
}

// ---------------------------------------------------------- aws_sns_topic

declare! {
    pub(crate) struct TopicIn for "aws_sns_topic" ("An SNS topic.") {
        name: String = required(AttrType::String).force_new().describe(
            "Grafana's service-managed permissions need a name starting with \"grafana\".",
        );
        display_name: Option<String> = optional(AttrType::String)
            .describe("Shown as the sender of e-mail and SMS; changed in place.");
        policy: Option<Value> = optional(AttrType::Json).describe(
            "The topic's access policy (a table or a JSON string), e.g. letting aps.amazonaws.com publish \
             AMP alerts; compared as data; changed in place. Left out, meshmon leaves the topic's policy as it is (and does not read it).",
        );
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs TopicOut {
        arn: String = computed(AttrType::String);
        id: String = computed(AttrType::String)
            .describe("The ARN; `meshmon import` takes it or the name.");
    }
}

pub(crate) struct Topic(Arc<Clients>);

/// What a topic changes in place, one call each.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TopicUpdate {
    DisplayName,
    Policy,
    Tags,
}

/// The topic's policy as read, shaped like the one the user wrote. SNS
/// always has a policy (a default one if none was set), so a topic whose
/// spec leaves `policy` out does not read one back: that would be a change
/// from nothing on every plan.
fn topic_policy(
    prior: &Map,
    attrs: &HashMap<String, String>,
) -> Result<Option<Value>, ProviderError> {
    let Some(wanted) = prior.get("policy") else {
        return Ok(None);
    };
    match attrs.get("Policy").filter(|p| !p.is_empty()) {
        Some(p) => Ok(Some(policy::like(Some(wanted), policy::from_aws(p)?))),
        None => Ok(None),
    }
}

/// A topic's outputs: it is known by its ARN.
fn topic_outputs(arn: &str) -> TopicOut {
    TopicOut {
        arn: arn.into(),
        id: arn.into(),
    }
}

impl Topic {
    /// The ARN SNS gives a topic of this name.
    async fn arn_of(&self, name: &str) -> Result<String, ProviderError> {
        self.0.caller.arn("sns", &self.0.region, name).await
    }

    async fn set_attribute(
        &self,
        arn: &str,
        name: &str,
        value: String,
    ) -> Result<(), ProviderError> {
        self.0
            .sns
            .set_topic_attributes()
            .topic_arn(arn)
            .attribute_name(name)
            .attribute_value(value)
            .send()
            .await
            .map_err(|e| api("sns:SetTopicAttributes", e))?;
        Ok(())
    }
}

#[async_trait]
impl Declared for Topic {
    type Inputs = TopicIn;
    type Outputs = TopicOut;
    type Client = Clients;
    type Group = TopicUpdate;
    const ID: &'static str = "arn";
    const UPDATES: &'static [UpdateGroup<TopicUpdate>] = &[
        (TopicUpdate::DisplayName, &["display_name"]),
        (TopicUpdate::Policy, &["policy"]),
        (TopicUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        Topic(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        arn: &str,
        prior: &Map,
    ) -> Result<Option<Current<TopicOut>>, ProviderError> {
        // The attributes and the tags are read at once; a topic that is
        // gone is gone whatever the tags' answer says.
        let (out, tags) = tokio::join!(
            self.0.sns.get_topic_attributes().topic_arn(arn).send(),
            self.0.sns.list_tags_for_resource().resource_arn(arn).send(),
        );
        let Some(out) = found("sns:GetTopicAttributes", out)? else {
            return Ok(None);
        };
        // A topic always has attributes; an answer without them has none set.
        let attrs = out.attributes().cloned().unwrap_or_default();
        let tags = tags.map_err(|e| api("sns:ListTagsForResource", e))?;
        let tags: Tags = tags
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        let name = last_segment(arn);
        let inputs = Attrs::new()
            .set("name", name)
            .opt(
                "display_name",
                attrs
                    .get("DisplayName")
                    .filter(|d| !d.is_empty())
                    .map(String::as_str),
            )
            .opt("policy", topic_policy(prior, &attrs)?)
            .tags(prior, tags)
            .build();
        Ok(Some(Current::new(inputs, topic_outputs(arn))))
    }

    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        if id.starts_with("arn:") {
            Ok(id.to_string())
        } else {
            self.arn_of(id).await
        }
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, TopicIn>,
    ) -> Result<TopicOut, ProviderError> {
        let mut attributes: HashMap<String, String> = HashMap::new();
        if let Some(d) = &i.display_name {
            attributes.insert("DisplayName".to_string(), d.clone());
        }
        if let Some(p) = &i.policy {
            attributes.insert("Policy".to_string(), policy::to_aws(p)?);
        }
        let attributes = (!attributes.is_empty()).then_some(attributes);
        let tags = sns_tags(&i.tags)?;
        let out = wait::create_call(ctx, "sns:CreateTopic", || {
            self.0
                .create
                .sns
                .create_topic()
                .name(&i.name)
                .set_attributes(attributes.clone())
                .set_tags(tags.clone())
                .send()
        })
        .await?;
        Ok(topic_outputs(answered(
            "sns:CreateTopic",
            "ARN",
            out.topic_arn(),
        )?))
    }

    async fn recover(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, TopicIn>,
    ) -> Result<Option<TopicOut>, ProviderError> {
        let arn = self.arn_of(&i.name).await?;
        let out = found(
            "sns:GetTopicAttributes",
            self.0
                .sns
                .get_topic_attributes()
                .topic_arn(&arn)
                .send()
                .await,
        )?;
        Ok(out.map(|_| topic_outputs(&arn)))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: TopicUpdate,
        arn: &str,
        prior: &Current,
        i: &Inputs<'_, TopicIn>,
    ) -> Result<Option<TopicOut>, ProviderError> {
        let sns = &self.0.sns;
        match group {
            TopicUpdate::DisplayName => {
                let name = i.display_name.clone().unwrap_or_default();
                self.set_attribute(arn, "DisplayName", name).await?
            }
            // A policy left out leaves the topic's as it is.
            TopicUpdate::Policy => {
                if let Some(p) = &i.policy {
                    self.set_attribute(arn, "Policy", policy::to_aws(p)?)
                        .await?
                }
            }
            TopicUpdate::Tags => {
                tags::retag(
                    NO_HINT,
                    &tags_of(&prior.inputs, "tags"),
                    &i.tags,
                    ("sns:TagResource", |set| {
                        Ok(sns
                            .tag_resource()
                            .resource_arn(arn)
                            .set_tags(sns_tags(&set)?)
                            .send())
                    }),
                    ("sns:UntagResource", |remove| {
                        Ok(sns
                            .untag_resource()
                            .resource_arn(arn)
                            .set_tag_keys(Some(remove))
                            .send())
                    }),
                )
                .await?
            }
        }
        Ok(None)
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        arn: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        gone_ok(
            "sns:DeleteTopic",
            self.0.sns.delete_topic().topic_arn(arn).send().await,
        )
    }
}

// --------------------------------------------- aws_sns_topic_subscription

const PENDING_NOTE: &str = "the subscription stays pending until the recipient confirms the e-mail";

declare! {
    pub(crate) struct SubscriptionIn for "aws_sns_topic_subscription"
        ("A subscription to an SNS topic (e-mail, HTTPS, SQS, Lambda…).")
    {
        topic_arn: String = required(AttrType::String).force_new();
        protocol: String = required(AttrType::String)
            .force_new()
            .describe("email, email-json, https, sqs, lambda, …");
        endpoint: String = required(AttrType::String)
            .force_new()
            .describe("The address, URL or ARN that receives messages.");
    }
    outputs SubscriptionOut {
        arn: String = computed(AttrType::String);
        id: String = computed(AttrType::String).describe("The ARN; `meshmon import` takes it.");
        pending_confirmation: bool = computed(AttrType::Bool)
            .describe("True until the recipient confirms (e-mail, HTTP).");
    }
}

pub(crate) struct Subscription(Arc<Clients>);

/// The subscription as SNS describes it. A pending one is a subscription
/// like any other: present, with the same inputs, just not confirmed yet.
pub(crate) fn subscription_current(
    arn: &str,
    attrs: &HashMap<String, String>,
) -> Current<SubscriptionOut> {
    let pending = attrs
        .get("PendingConfirmation")
        .is_some_and(|v| v == "true");
    let inputs = Attrs::new()
        .opt("topic_arn", attrs.get("TopicArn").map(String::as_str))
        .opt("protocol", attrs.get("Protocol").map(String::as_str))
        .opt("endpoint", attrs.get("Endpoint").map(String::as_str))
        .build();
    Current::new(inputs, subscription_outputs(arn, pending))
}

fn subscription_outputs(arn: &str, pending_confirmation: bool) -> SubscriptionOut {
    SubscriptionOut {
        arn: arn.into(),
        id: arn.into(),
        pending_confirmation,
    }
}

fn needs_confirmation(protocol: Option<&Value>) -> bool {
    matches!(
        protocol.and_then(Value::as_str),
        Some("email" | "email-json" | "http" | "https")
    )
}

impl Subscription {
    /// What a create returns for the subscription with this ARN.
    async fn finish(
        &self,
        arn: &str,
        i: &SubscriptionIn,
    ) -> Result<SubscriptionOut, ProviderError> {
        match self.get(arn).await? {
            Some(now) => Ok(now.outputs),
            None => Ok(subscription_outputs(
                arn,
                needs_confirmation(Some(&Value::from(i.protocol.as_str()))),
            )),
        }
    }

    /// The ARN of the topic's subscription for this protocol and endpoint,
    /// if SNS lists one with an ARN. A subscription still pending
    /// confirmation is listed without its ARN; it counts as not found,
    /// which is safe: subscribing again returns the same subscription.
    async fn find(&self, i: &SubscriptionIn) -> Result<Option<String>, ProviderError> {
        let mut token: Option<String> = None;
        loop {
            let Some(out) = found(
                "sns:ListSubscriptionsByTopic",
                self.0
                    .sns
                    .list_subscriptions_by_topic()
                    .topic_arn(&i.topic_arn)
                    .set_next_token(token.clone())
                    .send()
                    .await,
            )?
            else {
                return Ok(None);
            };
            let arn = out
                .subscriptions()
                .iter()
                .filter(|s| {
                    s.protocol() == Some(i.protocol.as_str())
                        && s.endpoint() == Some(i.endpoint.as_str())
                })
                .filter_map(|s| s.subscription_arn())
                .find(|a| a.starts_with("arn:"));
            if let Some(arn) = arn {
                return Ok(Some(arn.to_string()));
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    async fn get(&self, arn: &str) -> Result<Option<Current<SubscriptionOut>>, ProviderError> {
        let out = found(
            "sns:GetSubscriptionAttributes",
            self.0
                .sns
                .get_subscription_attributes()
                .subscription_arn(arn)
                .send()
                .await,
        )?;
        // A subscription always has attributes; an answer without them has none set.
        Ok(out.map(|o| subscription_current(arn, &o.attributes().cloned().unwrap_or_default())))
    }
}

#[async_trait]
impl Declared for Subscription {
    type Inputs = SubscriptionIn;
    type Outputs = SubscriptionOut;
    type Client = Clients;
    type Group = NoUpdates;
    const ID: &'static str = "arn";

    fn new(clients: Arc<Clients>) -> Self {
        Subscription(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        arn: &str,
        _prior: &Map,
    ) -> Result<Option<Current<SubscriptionOut>>, ProviderError> {
        self.get(arn).await
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, SubscriptionIn>,
    ) -> Result<SubscriptionOut, ProviderError> {
        let out = wait::create_call(ctx, "sns:Subscribe", || {
            self.0
                .create
                .sns
                .subscribe()
                .topic_arn(&i.topic_arn)
                .protocol(&i.protocol)
                .endpoint(&i.endpoint)
                .return_subscription_arn(true)
                .send()
        })
        .await?;
        let arn = answered("sns:Subscribe", "ARN", out.subscription_arn())?;
        self.finish(arn, i).await
    }

    async fn recover(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, SubscriptionIn>,
    ) -> Result<Option<SubscriptionOut>, ProviderError> {
        match self.find(i).await? {
            Some(arn) => self.finish(&arn, i).await.map(Some),
            None => Ok(None),
        }
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        arn: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        // A pending subscription cannot be unsubscribed; SNS deletes it
        // after three days unless it is confirmed.
        let pending = prior
            .outputs
            .get("pending_confirmation")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match self.0.sns.unsubscribe().subscription_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = api("sns:Unsubscribe", e);
                if meshmon_aws_common::error::is_not_found(&e)
                    || (pending && e.code.as_deref() == Some("InvalidParameter"))
                {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        let pending = match prior {
            None => needs_confirmation(desired.get("protocol")),
            Some(p) => p
                .outputs
                .get("pending_confirmation")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
        PlanAdvice {
            notes: if pending {
                vec![PENDING_NOTE.to_string()]
            } else {
                Vec::new()
            },
            ..PlanAdvice::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{clients, creating, inputs};
    use meshmon_test_support::aws_replay::{Answer, caller_identity};
    use serde_json::json;

    const ARN: &str = "arn:aws:sns:eu-west-1:123456789012:grafana-alerts";

    fn topic_attributes(display_name: Option<&str>) -> Answer {
        let display = display_name
            .map(|d| format!("<entry><key>DisplayName</key><value>{d}</value></entry>"))
            .unwrap_or_default();
        Answer::ok(&format!(
            "<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes>\
             <entry><key>TopicArn</key><value>{ARN}</value></entry>{display}\
             <entry><key>Policy</key><value>{{\"Version\":\"2012-10-17\"}}</value></entry>\
             </Attributes></GetTopicAttributesResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetTopicAttributesResponse>"
        ))
    }

    fn tags(pairs: &[(&str, &str)]) -> Answer {
        let members: String = pairs
            .iter()
            .map(|(k, v)| format!("<member><Key>{k}</Key><Value>{v}</Value></member>"))
            .collect();
        Answer::ok(&format!(
            "<ListTagsForResourceResponse><ListTagsForResourceResult><Tags>{members}</Tags>\
             </ListTagsForResourceResult><ResponseMetadata><RequestId>r</RequestId>\
             </ResponseMetadata></ListTagsForResourceResponse>"
        ))
    }

    #[tokio::test]
    async fn a_topic_create_sends_its_name_attributes_and_tags_once() {
        let (replay, c) = clients([Answer::ok(&format!(
            "<CreateTopicResponse><CreateTopicResult><TopicArn>{ARN}</TopicArn></CreateTopicResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreateTopicResponse>"
        ))]);
        let raw = inputs(json!({
            "name": "grafana-alerts",
            "display_name": "Alerts",
            "tags": {"team": "obs"},
        }));
        let out = Topic::new(c)
            .create(
                &creating("aws_sns_topic.alerts"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(out, topic_outputs(ARN));
        let sent = replay.sent();
        assert_eq!(sent.len(), 1, "one request, no retry");
        let form = sent[0].form();
        assert_eq!(form["Action"], "CreateTopic");
        assert_eq!(form["Name"], "grafana-alerts");
        let values: Vec<&str> = form.values().map(String::as_str).collect();
        for v in ["DisplayName", "Alerts", "team", "obs"] {
            assert!(values.contains(&v), "{v} in {form:?}");
        }
        assert!(
            !form
                .keys()
                .any(|k| k.starts_with("Attributes") && form[k] == "Policy"),
            "a policy left out is not sent"
        );
    }

    #[tokio::test]
    async fn a_topic_reads_back_without_what_sns_and_meshmon_add() {
        let (replay, c) = clients([
            topic_attributes(None),
            tags(&[("team", "obs"), ("meshmon:lineage", "L1")]),
        ]);
        let now = Topic::new(c)
            .fetch(&creating("aws_sns_topic.alerts"), ARN, &Map::new())
            .await
            .unwrap()
            .expect("the topic");
        assert_eq!(now.inputs["name"], Value::from("grafana-alerts"));
        assert!(
            !now.inputs.contains_key("display_name"),
            "no display name in the answer: none recorded"
        );
        assert!(
            !now.inputs.contains_key("policy"),
            "a policy the spec leaves out is not read"
        );
        assert_eq!(now.inputs["tags"], Value::from(json!({"team": "obs"})));
        assert_eq!(now.outputs.id, ARN);
        let actions: Vec<String> = replay.sent().iter().map(|s| s.action()).collect();
        assert_eq!(actions, ["GetTopicAttributes", "ListTagsForResource"]);
    }

    #[tokio::test]
    async fn a_topic_that_is_gone_reads_as_none_and_imports_by_name() {
        let (_, c) = clients([Answer::query_error(404, "NotFound")]);
        let gone = Topic::new(c)
            .fetch(&creating("aws_sns_topic.alerts"), ARN, &Map::new())
            .await
            .unwrap();
        assert!(gone.is_none());
        let (replay, c) = clients([caller_identity()]);
        let id = Topic::new(c)
            .import_id(&creating("aws_sns_topic.alerts"), "grafana-alerts")
            .await
            .unwrap();
        assert_eq!(id, ARN);
        assert_eq!(replay.sent()[0].action(), "GetCallerIdentity");
    }

    fn attrs(pending: &str) -> HashMap<String, String> {
        [
            (
                "TopicArn",
                "arn:aws:sns:eu-west-1:123456789012:grafana-notification",
            ),
            ("Protocol", "email"),
            ("Endpoint", "oncall@example.com"),
            ("PendingConfirmation", pending),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// moto confirms e-mail subscriptions at once, so the pending path is
    /// shown here on the attributes real SNS returns for one.
    #[test]
    fn pending_email_subscription_reads_as_present_and_unchanged() {
        let arn = "arn:aws:sns:eu-west-1:123456789012:grafana-notification:0b4c";
        let now = subscription_current(arn, &attrs("true"));
        assert!(now.outputs.pending_confirmation);
        assert_eq!(now.inputs["endpoint"], Value::from("oncall@example.com"));
        // Read again while still pending: the same, so no drift.
        assert_eq!(subscription_current(arn, &attrs("true")), now);
        let confirmed = subscription_current(arn, &attrs("false"));
        assert!(!confirmed.outputs.pending_confirmation);
        assert_eq!(confirmed.inputs, now.inputs);
    }

    #[test]
    fn plan_notes_that_email_needs_confirmation() {
        let desired: Map = [("protocol".to_string(), Value::from("email"))].into();
        assert!(needs_confirmation(desired.get("protocol")));
        let sqs: Map = [("protocol".to_string(), Value::from("sqs"))].into();
        assert!(!needs_confirmation(sqs.get("protocol")));
    }
}
