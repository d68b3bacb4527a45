//! `aws_sns_topic` as a look-up: a topic found by its name, which SNS
//! keeps unique in a region and puts last in the topic's ARN. The list is
//! searched rather than the ARN built from the caller's account, so that
//! a name that is not there gets the names that are as suggestions.

use std::sync::Arc;

use meshmon_aws_common::error::{api, found};
use meshmon_aws_common::identity::last_segment;
use meshmon_aws_common::tags::{Tags, is_users_tag};
use meshmon_provider_sdk::lookup::not_found;
use meshmon_provider_sdk::{
    DeclaredLookup, Inputs, OpContext, ProviderError, Value, async_trait, declare,
};

use crate::Clients;
use crate::policy;

declare! {
    pub(crate) struct TopicIn for "aws_sns_topic" (
        "An existing SNS topic, found by name in the provider's region (sns:ListTopics; \
         sns:GetTopicAttributes and sns:ListTagsForResource for the one found)."
    ) {
        name: String = required(AttrType::String)
            .describe("The topic's name: the last part of its ARN (a FIFO topic's ends in `.fifo`).");
    }
    outputs TopicOut {
        arn: String = computed(AttrType::String).describe("The topic's ARN.");
        id: String = computed(AttrType::String).describe("The ARN, as the resource's `id`.");
        display_name: Option<String> = computed(AttrType::String)
            .describe("Shown as the sender of e-mail and SMS; absent when the topic has none.");
        policy: Option<Value> = computed(AttrType::Json)
            .describe("The topic's access policy, as data (SNS gives every topic one).");
        tags: Tags = computed(AttrType::map_of(AttrType::String))
            .describe("The topic's tags, without `aws:` and `meshmon:` ones.");
    }
}

pub(crate) struct TopicLookup(Arc<Clients>);

#[async_trait]
impl DeclaredLookup for TopicLookup {
    type Inputs = TopicIn;
    type Outputs = TopicOut;
    type Client = Clients;

    fn new(clients: Arc<Clients>) -> Self {
        TopicLookup(clients)
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, TopicIn>,
    ) -> Result<TopicOut, ProviderError> {
        let sns = &self.0.sns;
        let arns: Vec<String> = sns
            .list_topics()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api("sns:ListTopics", e))?
            .into_iter()
            .filter_map(|t| t.topic_arn)
            .collect();
        let missing = || {
            not_found(
                "SNS topic",
                &[("name", &Value::from(i.name.as_str()))],
                &i.name,
                arns.iter().map(|a| last_segment(a).to_string()),
            )
        };
        let Some(arn) = arns.iter().find(|a| last_segment(a) == i.name) else {
            return Err(missing());
        };
        let got = found(
            "sns:GetTopicAttributes",
            sns.get_topic_attributes().topic_arn(arn).send().await,
        )?;
        // Deleted between the list and the read.
        let Some(got) = got else {
            return Err(missing());
        };
        let attrs = got.attributes().cloned().unwrap_or_default();
        let policy = match attrs.get("Policy").filter(|p| !p.is_empty()) {
            Some(p) => Some(Value::from(policy::from_aws(p)?)),
            None => None,
        };
        let tags = sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| api("sns:ListTagsForResource", e))?;
        Ok(TopicOut {
            arn: arn.clone(),
            id: arn.clone(),
            display_name: attrs.get("DisplayName").filter(|d| !d.is_empty()).cloned(),
            policy,
            tags: tags
                .tags()
                .iter()
                .filter(|t| is_users_tag(t.key()))
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        })
    }
}
