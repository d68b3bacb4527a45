//! `aws_internet_gateway`: an internet gateway, attached to its VPC (and
//! moved to another in place). EC2 keeps no gateway name unique, so a
//! create tags it with its marks and `recover` finds it by them, like the
//! rest of the network ([`crate::network`]).

use std::sync::Arc;

use aws_sdk_ec2::types::ResourceType;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use meshmon_aws_common::error::{api, found, gone_ok};
use meshmon_aws_common::ownership::creation_tags;
use meshmon_aws_common::tags::{Tags, TagsExt, tags_attr};
use meshmon_provider_sdk::declared::DeclaredOutputs;
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};

use crate::Clients;
use crate::attrs::{Attrs, answered, typed};
use crate::network::{arn, dependency_violation, find_marked, retag, spec, tags_from};
use crate::wait;

// --------------------------------------------------- aws_internet_gateway

declare! {
    pub(crate) struct IgwIn for "aws_internet_gateway" ("An internet gateway, attached to a VPC.") {
        vpc_id: Option<String> = optional(AttrType::String)
            .describe("The VPC to attach it to; moved in place.");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs IgwOut {
        id: String = computed(AttrType::String).describe("The gateway ID.");
        arn: Option<String> = computed(AttrType::String);
    }
}

pub(crate) struct InternetGateway(Arc<Clients>);

/// What a gateway changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum IgwUpdate {
    /// Detach from the old VPC, attach to the new.
    Vpc,
    Tags,
}

impl InternetGateway {
    fn outputs(&self, id: &str, g: &aws_sdk_ec2::types::InternetGateway) -> IgwOut {
        IgwOut {
            id: id.into(),
            arn: arn(&self.0, g.owner_id(), "internet-gateway", id),
        }
    }

    /// What a create does once the gateway exists: attach it to its VPC
    /// unless it is attached already (a recovery runs this too), then the
    /// outputs.
    async fn finish(
        &self,
        i: &IgwIn,
        id: &str,
        g: &aws_sdk_ec2::types::InternetGateway,
    ) -> Result<IgwOut, ProviderError> {
        let outputs = self.outputs(id, g);
        if let Some(vpc) = &i.vpc_id
            && !g.attachments().iter().any(|a| a.vpc_id() == Some(vpc))
        {
            // Recorded without the VPC it is not attached to: the next
            // plan attaches it.
            let made = Current::new(Map::new(), outputs.clone().into_map());
            self.attach(id, vpc)
                .await
                .map_err(|e| e.with_partial(made))?;
        }
        Ok(outputs)
    }

    async fn attach(&self, id: &str, vpc: &str) -> Result<(), ProviderError> {
        let attached = self
            .0
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await;
        match attached {
            Ok(_) => Ok(()),
            // The SDK retried an attach whose answer was lost: the gateway
            // is attached already (to which VPC, the next read shows).
            Err(e) if e.code() == Some("Resource.AlreadyAssociated") => Ok(()),
            Err(e) => Err(api("ec2:AttachInternetGateway", e)),
        }
    }

    async fn detach(&self, ctx: &OpContext, id: &str, vpc: &str) -> Result<(), ProviderError> {
        // Detaching fails while instances in the VPC still have public
        // addresses mapped; those go away as their subnets empty.
        wait::retry_transient(ctx, wait::SHORT * 2, dependency_violation, || async {
            let detached = self
                .0
                .ec2
                .detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
                .await;
            match detached {
                // The SDK retried a detach whose answer was lost (or the
                // gateway was detached meanwhile): it is detached already.
                Err(e) if e.code() == Some("Gateway.NotAttached") => Ok(()),
                other => gone_ok("ec2:DetachInternetGateway", other),
            }
        })
        .await
    }
}

#[async_trait]
impl Declared for InternetGateway {
    type Inputs = IgwIn;
    type Outputs = IgwOut;
    type Client = Clients;
    type Group = IgwUpdate;
    const UPDATES: &'static [UpdateGroup<IgwUpdate>] =
        &[(IgwUpdate::Vpc, &["vpc_id"]), (IgwUpdate::Tags, &["tags"])];

    fn new(clients: Arc<Clients>) -> Self {
        InternetGateway(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<IgwOut>>, ProviderError> {
        let out = found(
            "ec2:DescribeInternetGateways",
            self.0
                .ec2
                .describe_internet_gateways()
                .internet_gateway_ids(id)
                .send()
                .await,
        )?;
        // No list is no gateway.
        let Some(g) = out.and_then(|o| o.internet_gateways.unwrap_or_default().into_iter().next())
        else {
            return Ok(None);
        };
        let vpc = g.attachments().iter().find_map(|a| a.vpc_id());
        let inputs = Attrs::new()
            .opt("vpc_id", vpc)
            .tags(prior, tags_from(g.tags()))
            .build();
        Ok(Some(Current::new(inputs, self.outputs(id, &g))))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, IgwIn>,
    ) -> Result<IgwOut, ProviderError> {
        let tags =
            spec(ResourceType::InternetGateway, &creation_tags(ctx, &i.tags)).map(|s| vec![s]);
        let out = wait::create_call(ctx, "ec2:CreateInternetGateway", || {
            self.0
                .create
                .ec2
                .create_internet_gateway()
                .set_tag_specifications(tags.clone())
                .send()
        })
        .await?;
        let g = out
            .internet_gateway
            .ok_or_else(|| ProviderError::new("ec2:CreateInternetGateway returned no gateway"))?;
        let id = answered(
            "ec2:CreateInternetGateway",
            "internet gateway ID",
            g.internet_gateway_id(),
        )
        .map_err(|e| e.ambiguous())?;
        self.finish(i, id, &g).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, IgwIn>,
    ) -> Result<Option<IgwOut>, ProviderError> {
        let found = find_marked(
            ctx,
            "ec2:DescribeInternetGateways",
            "internet gateway",
            aws_sdk_ec2::types::InternetGateway::internet_gateway_id,
            |filters| async {
                self.0
                    .ec2
                    .describe_internet_gateways()
                    .set_filters(Some(filters))
                    .send()
                    .await
                    .map(|o| o.internet_gateways)
                    .map_err(|e| api("ec2:DescribeInternetGateways", e))
            },
        )
        .await?;
        match found {
            Some((id, found)) => self.finish(i, &id, &found).await.map(Some),
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        ctx: &OpContext,
        group: IgwUpdate,
        id: &str,
        prior: &Current,
        i: &Inputs<'_, IgwIn>,
    ) -> Result<Option<IgwOut>, ProviderError> {
        let old: IgwIn = typed(&prior.inputs)?;
        match group {
            IgwUpdate::Vpc => {
                if old.vpc_id != i.vpc_id {
                    if let Some(vpc) = &old.vpc_id {
                        self.detach(ctx, id, vpc).await?;
                    }
                    if let Some(vpc) = &i.vpc_id {
                        self.attach(id, vpc).await?;
                    }
                }
            }
            IgwUpdate::Tags => retag(&self.0, id, &old.tags, &i.tags).await?,
        }
        Ok(None)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        let Some(now) = self.fetch(ctx, id, &prior.inputs).await? else {
            return Ok(());
        };
        if let Some(vpc) = now.inputs.get("vpc_id").and_then(Value::as_str) {
            self.detach(ctx, id, vpc).await?;
        }
        wait::retry_transient(ctx, wait::SHORT, dependency_violation, || async {
            gone_ok(
                "ec2:DeleteInternetGateway",
                self.0
                    .ec2
                    .delete_internet_gateway()
                    .internet_gateway_id(id)
                    .send()
                    .await,
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{clients, creating, inputs};
    use meshmon_test_support::aws_replay::Answer;
    use serde_json::json;

    fn created() -> Answer {
        Answer::ok(
            "<CreateInternetGatewayResponse><requestId>r</requestId><internetGateway>\
             <internetGatewayId>igw-1</internetGatewayId><attachmentSet/></internetGateway>\
             </CreateInternetGatewayResponse>",
        )
    }

    #[tokio::test]
    async fn a_gateway_create_attaches_it_to_its_vpc() {
        let (replay, c) = clients([
            created(),
            Answer::ok(
                "<AttachInternetGatewayResponse><requestId>r</requestId><return>true</return>\
                 </AttachInternetGatewayResponse>",
            ),
        ]);
        let raw = inputs(json!({"vpc_id": "vpc-1"}));
        let out = InternetGateway::new(c)
            .create(
                &creating("aws_internet_gateway.main"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        // The answer names no owner: no ARN is made up.
        assert_eq!(
            out,
            IgwOut {
                id: "igw-1".into(),
                arn: None
            }
        );
        let sent = replay.sent();
        assert_eq!(sent[0].action(), "CreateInternetGateway");
        assert_eq!(
            sent[0].form()["TagSpecification.1.ResourceType"],
            "internet-gateway"
        );
        let attach = sent[1].form();
        assert_eq!(attach["Action"], "AttachInternetGateway");
        assert_eq!(attach["InternetGatewayId"], "igw-1");
        assert_eq!(attach["VpcId"], "vpc-1");
    }

    #[tokio::test]
    async fn a_gateway_that_cannot_be_attached_is_recorded_without_its_vpc() {
        let (_, c) = clients([created(), Answer::ec2_error(400, "InvalidVpcID.NotFound")]);
        let raw = inputs(json!({"vpc_id": "vpc-1"}));
        let err = InternetGateway::new(c)
            .create(
                &creating("aws_internet_gateway.main"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.operation.as_deref(), Some("ec2:AttachInternetGateway"));
        let made = err.partial.expect("the gateway is recorded");
        assert_eq!(
            made.outputs["id"],
            meshmon_provider_sdk::Value::from("igw-1")
        );
        assert!(made.inputs.is_empty(), "the next plan attaches it");
    }

    #[tokio::test]
    async fn a_detach_whose_answer_was_lost_and_retried_finds_it_detached_and_deletes_on() {
        let (replay, c) = clients([
            // The gateway as read: attached.
            Answer::ok(
                "<DescribeInternetGatewaysResponse><requestId>r</requestId><internetGatewaySet><item>\
                 <internetGatewayId>igw-1</internetGatewayId><attachmentSet><item><vpcId>vpc-1</vpcId>\
                 <state>available</state></item></attachmentSet><tagSet/></item></internetGatewaySet>\
                 </DescribeInternetGatewaysResponse>",
            ),
            // The retry of a detach that took effect.
            Answer::ec2_error(400, "Gateway.NotAttached"),
            Answer::ok(
                "<DeleteInternetGatewayResponse><requestId>r</requestId><return>true</return>\
                 </DeleteInternetGatewayResponse>",
            ),
        ]);
        let prior = Current::new(
            inputs(json!({"vpc_id": "vpc-1"})),
            inputs(json!({"id": "igw-1"})),
        );
        InternetGateway::new(c)
            .delete(
                &OpContext::quiet("aws_internet_gateway.main"),
                "igw-1",
                &prior,
            )
            .await
            .unwrap();
        let actions: Vec<String> = replay
            .sent()
            .iter()
            .map(|r| r.action().to_string())
            .collect();
        assert_eq!(
            actions,
            [
                "DescribeInternetGateways",
                "DetachInternetGateway",
                "DeleteInternetGateway"
            ]
        );
    }
}
