//! `aws_route_table`: a VPC's route table with its routes (to an internet
//! or NAT gateway) and the subnets associated with it. Routes and
//! associations converge in place: read compares what exists with what the
//! spec wants, route by destination and subnet by ID. The VPC's own `local`
//! route is not ours and is never shown. Like the rest of the network
//! (see [`crate::network`]), a table is found again by its create's tags;
//! the create also sends its token as EC2's client token.

use std::sync::Arc;

use aws_sdk_ec2::types::{ResourceType, RouteOrigin};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use meshmon_aws_common::error::{api, found, gone_ok};
use meshmon_aws_common::ownership::creation_tags;
use meshmon_aws_common::tags::{Tags, TagsExt, tags_attr, tags_of};
use meshmon_provider_sdk::declared::DeclaredOutputs;
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};
use serde::Deserialize;

use crate::Clients;
use crate::attrs::{Attrs, answered, order_like, strings};
use crate::network::{arn, dependency_violation, find_marked, retag, spec, tags_from};
use crate::wait;

declare! {
    pub(crate) struct RouteTableIn for "aws_route_table"
        ("A route table, its routes and the subnets it serves.")
    {
        vpc_id: String = required(AttrType::String).force_new();
        #[serde(default)]
        routes: Vec<RouteIn> = optional(AttrType::list_of(AttrType::map_of(AttrType::String)))
            .describe("Routes like { cidr_block = \"0.0.0.0/0\", gateway_id = \"igw-…\" } (or nat_gateway_id); changed in place.");
        #[serde(default)]
        subnet_ids: Vec<String> = optional(AttrType::list_of(AttrType::String))
            .describe("Subnets associated with this table; changed in place.");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs RouteTableOut {
        id: String = computed(AttrType::String).describe("The route table ID.");
        arn: Option<String> = computed(AttrType::String);
    }
}

pub(crate) struct RouteTable(Arc<Clients>);

/// What a route table changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RouteTableUpdate {
    /// Routes and associations converge together, from one read of the
    /// table.
    Routes,
    Tags,
}

/// A route, with exactly the keys a route has.
#[derive(Deserialize, Clone, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteIn {
    cidr_block: String,
    gateway_id: Option<String>,
    nat_gateway_id: Option<String>,
}

fn route_value(r: &RouteIn) -> Value {
    Value::Map(
        Attrs::new()
            .set("cidr_block", r.cidr_block.as_str())
            .opt("gateway_id", r.gateway_id.as_deref())
            .opt("nat_gateway_id", r.nat_gateway_id.as_deref())
            .build(),
    )
}

struct TableNow {
    routes: Vec<RouteIn>,
    /// (subnet ID, association ID)
    associations: Vec<(String, String)>,
    current: Current<RouteTableOut>,
}

impl RouteTable {
    fn outputs(&self, id: &str, t: &aws_sdk_ec2::types::RouteTable) -> RouteTableOut {
        RouteTableOut {
            id: id.into(),
            arn: arn(&self.0, t.owner_id(), "route-table", id),
        }
    }

    /// The table as it is, with the routes and associations a change works
    /// from.
    async fn describe(&self, id: &str, prior: &Map) -> Result<Option<TableNow>, ProviderError> {
        let out = found(
            "ec2:DescribeRouteTables",
            self.0
                .ec2
                .describe_route_tables()
                .route_table_ids(id)
                .send()
                .await,
        )?;
        // No list is no table.
        let Some(t) = out.and_then(|o| o.route_tables.unwrap_or_default().into_iter().next())
        else {
            return Ok(None);
        };
        // Only routes someone created: not the VPC's `local` route.
        let mut routes: Vec<RouteIn> = t
            .routes()
            .iter()
            .filter(|r| {
                r.origin() != Some(&RouteOrigin::CreateRouteTable)
                    && r.gateway_id() != Some("local")
            })
            .filter_map(|r| {
                Some(RouteIn {
                    cidr_block: r.destination_cidr_block()?.to_string(),
                    gateway_id: r.gateway_id().map(str::to_string),
                    nat_gateway_id: r.nat_gateway_id().map(str::to_string),
                })
            })
            .collect();
        // The destinations in the order the spec lists them (none on import).
        let wanted: Vec<String> = prior
            .get("routes")
            .and_then(Value::as_list)
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_map()?.get("cidr_block")?.as_str().map(str::to_string))
            .collect();
        routes.sort_by_key(|r| {
            (
                wanted
                    .iter()
                    .position(|w| *w == r.cidr_block)
                    .unwrap_or(usize::MAX),
                r.cidr_block.clone(),
            )
        });
        let associations: Vec<(String, String)> = t
            .associations()
            .iter()
            .filter(|a| !a.main().unwrap_or(false))
            .filter_map(|a| {
                Some((
                    a.subnet_id()?.to_string(),
                    a.route_table_association_id()?.to_string(),
                ))
            })
            .collect();
        let subnets = order_like(
            prior,
            "subnet_ids",
            associations.iter().map(|(s, _)| s.clone()).collect(),
        );
        let inputs = Attrs::new()
            .opt("vpc_id", t.vpc_id())
            .unless_empty(
                prior,
                "routes",
                Value::List(routes.iter().map(route_value).collect()),
            )
            .unless_empty(prior, "subnet_ids", strings(subnets))
            .tags(prior, tags_from(t.tags()))
            .build();
        let outputs = self.outputs(id, &t);
        Ok(Some(TableNow {
            routes,
            associations,
            current: Current::new(inputs, outputs),
        }))
    }

    async fn put_route(&self, id: &str, r: &RouteIn, replace: bool) -> Result<(), ProviderError> {
        if replace {
            self.0
                .ec2
                .replace_route()
                .route_table_id(id)
                .destination_cidr_block(&r.cidr_block)
                .set_gateway_id(r.gateway_id.clone())
                .set_nat_gateway_id(r.nat_gateway_id.clone())
                .send()
                .await
                .map_err(|e| api("ec2:ReplaceRoute", e))?;
        } else {
            let created = self
                .0
                .ec2
                .create_route()
                .route_table_id(id)
                .destination_cidr_block(&r.cidr_block)
                .set_gateway_id(r.gateway_id.clone())
                .set_nat_gateway_id(r.nat_gateway_id.clone())
                .send()
                .await;
            match created {
                Ok(_) => {}
                // The SDK retried a CreateRoute whose answer was lost, or
                // the route appeared meanwhile: make it what is wanted.
                Err(e) if e.code() == Some("RouteAlreadyExists") => {
                    return Box::pin(self.put_route(id, r, true)).await;
                }
                Err(e) => return Err(api("ec2:CreateRoute", e)),
            }
        }
        Ok(())
    }

    /// What a create does once the table exists: its routes and subnet
    /// associations, made to match from what is there (so a recovery runs
    /// it too), then the outputs.
    async fn finish(
        &self,
        i: &Inputs<'_, RouteTableIn>,
        routes: &[RouteIn],
        id: &str,
        t: &aws_sdk_ec2::types::RouteTable,
    ) -> Result<RouteTableOut, ProviderError> {
        let outputs = self.outputs(id, t);
        // Recorded with its VPC alone: the next plan converges the rest.
        let partial = Current::new(
            Attrs::new().set("vpc_id", i.vpc_id.as_str()).build(),
            outputs.clone().into_map(),
        );
        self.converge(id, routes, &i.subnet_ids, i.raw())
            .await
            .map_err(|e| e.with_partial(partial))?;
        Ok(outputs)
    }

    /// Makes the table's routes and associations these.
    async fn converge(
        &self,
        id: &str,
        want_routes: &[RouteIn],
        want_subnets: &[String],
        prior: &Map,
    ) -> Result<(), ProviderError> {
        let now = self
            .describe(id, prior)
            .await?
            .ok_or_else(|| ProviderError::new(format!("route table {id} disappeared")))?;
        for r in &now.routes {
            if !want_routes.iter().any(|w| w.cidr_block == r.cidr_block) {
                gone_ok(
                    "ec2:DeleteRoute",
                    self.0
                        .ec2
                        .delete_route()
                        .route_table_id(id)
                        .destination_cidr_block(&r.cidr_block)
                        .send()
                        .await,
                )?;
            }
        }
        for w in want_routes {
            match now.routes.iter().find(|r| r.cidr_block == w.cidr_block) {
                Some(r) if r == w => {}
                Some(_) => self.put_route(id, w, true).await?,
                None => self.put_route(id, w, false).await?,
            }
        }
        for (subnet, assoc) in &now.associations {
            if !want_subnets.contains(subnet) {
                gone_ok(
                    "ec2:DisassociateRouteTable",
                    self.0
                        .ec2
                        .disassociate_route_table()
                        .association_id(assoc)
                        .send()
                        .await,
                )?;
            }
        }
        for s in want_subnets {
            if !now.associations.iter().any(|(have, _)| have == s) {
                let associated = self
                    .0
                    .ec2
                    .associate_route_table()
                    .route_table_id(id)
                    .subnet_id(s)
                    .send()
                    .await;
                match associated {
                    Ok(_) => {}
                    // A retry of a call whose answer was lost: done already.
                    Err(e) if e.code() == Some("Resource.AlreadyAssociated") => {}
                    Err(e) => return Err(api("ec2:AssociateRouteTable", e)),
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Declared for RouteTable {
    type Inputs = RouteTableIn;
    type Outputs = RouteTableOut;
    type Client = Clients;
    type Group = RouteTableUpdate;
    const UPDATES: &'static [UpdateGroup<RouteTableUpdate>] = &[
        (RouteTableUpdate::Routes, &["routes", "subnet_ids"]),
        (RouteTableUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        RouteTable(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<RouteTableOut>>, ProviderError> {
        Ok(self.describe(id, prior).await?.map(|t| t.current))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, RouteTableIn>,
    ) -> Result<RouteTableOut, ProviderError> {
        let routes = i.routes.clone();
        let tags = spec(ResourceType::RouteTable, &creation_tags(ctx, &i.tags)).map(|s| vec![s]);
        let out = wait::create_call(ctx, "ec2:CreateRouteTable", || {
            self.0
                .create
                .ec2
                .create_route_table()
                .vpc_id(&i.vpc_id)
                .set_client_token(ctx.client_token().map(str::to_string))
                .set_tag_specifications(tags.clone())
                .send()
        })
        .await?;
        let t = out
            .route_table
            .ok_or_else(|| ProviderError::new("ec2:CreateRouteTable returned no table"))?;
        let id = answered("ec2:CreateRouteTable", "route table ID", t.route_table_id())
            .map_err(|e| e.ambiguous())?;
        self.finish(i, &routes, id, &t).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, RouteTableIn>,
    ) -> Result<Option<RouteTableOut>, ProviderError> {
        let routes = i.routes.clone();
        let found = find_marked(
            ctx,
            "ec2:DescribeRouteTables",
            "route table",
            aws_sdk_ec2::types::RouteTable::route_table_id,
            |filters| async {
                self.0
                    .ec2
                    .describe_route_tables()
                    .set_filters(Some(filters))
                    .send()
                    .await
                    .map(|o| o.route_tables)
                    .map_err(|e| api("ec2:DescribeRouteTables", e))
            },
        )
        .await?;
        match found {
            Some((id, found)) => self.finish(i, &routes, &id, &found).await.map(Some),
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: RouteTableUpdate,
        id: &str,
        prior: &Current,
        i: &Inputs<'_, RouteTableIn>,
    ) -> Result<Option<RouteTableOut>, ProviderError> {
        match group {
            RouteTableUpdate::Routes => {
                self.converge(id, &i.routes, &i.subnet_ids, i.raw()).await?
            }
            RouteTableUpdate::Tags => {
                retag(&self.0, id, &tags_of(&prior.inputs, "tags"), &i.tags).await?
            }
        }
        Ok(None)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        let Some(now) = self.describe(id, &prior.inputs).await? else {
            return Ok(());
        };
        for (_, assoc) in &now.associations {
            gone_ok(
                "ec2:DisassociateRouteTable",
                self.0
                    .ec2
                    .disassociate_route_table()
                    .association_id(assoc)
                    .send()
                    .await,
            )?;
        }
        wait::retry_transient(ctx, wait::SHORT, dependency_violation, || async {
            gone_ok(
                "ec2:DeleteRouteTable",
                self.0
                    .ec2
                    .delete_route_table()
                    .route_table_id(id)
                    .send()
                    .await,
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::testing::{clients, creating, inputs};
    use meshmon_test_support::aws_replay::Answer;
    use serde_json::json;

    fn done(action: &str) -> Answer {
        Answer::ok(&format!(
            "<{action}Response><requestId>r</requestId><return>true</return></{action}Response>"
        ))
    }

    #[tokio::test]
    async fn routes_and_associations_converge_from_one_read() {
        let (replay, c) = clients([
            Answer::ok(
                "<DescribeRouteTablesResponse><requestId>r</requestId><routeTableSet><item>\
                 <routeTableId>rtb-1</routeTableId><vpcId>vpc-1</vpcId><routeSet>\
                 <item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId>\
                 <origin>CreateRouteTable</origin></item>\
                 <item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><gatewayId>igw-old</gatewayId>\
                 <origin>CreateRoute</origin></item>\
                 <item><destinationCidrBlock>10.9.0.0/16</destinationCidrBlock><gatewayId>igw-old</gatewayId>\
                 <origin>CreateRoute</origin></item></routeSet>\
                 <associationSet><item><routeTableAssociationId>rtbassoc-a</routeTableAssociationId>\
                 <subnetId>subnet-a</subnetId><main>false</main></item>\
                 <item><routeTableAssociationId>rtbassoc-main</routeTableAssociationId><main>true</main></item>\
                 </associationSet><tagSet/></item></routeTableSet></DescribeRouteTablesResponse>",
            ),
            done("DeleteRoute"),
            done("ReplaceRoute"),
            done("CreateRoute"),
            done("DisassociateRouteTable"),
            Answer::ok(
                "<AssociateRouteTableResponse><requestId>r</requestId>\
                 <associationId>rtbassoc-b</associationId></AssociateRouteTableResponse>",
            ),
        ]);
        let raw = inputs(json!({
            "vpc_id": "vpc-1",
            "routes": [
                {"cidr_block": "0.0.0.0/0", "gateway_id": "igw-new"},
                {"cidr_block": "10.1.0.0/16", "nat_gateway_id": "nat-1"},
            ],
            "subnet_ids": ["subnet-b"],
        }));
        let prior = Current::new(Map::new(), Map::new());
        RouteTable::new(c)
            .update(
                &creating("aws_route_table.public"),
                RouteTableUpdate::Routes,
                "rtb-1",
                &prior,
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        let sent = replay.sent();
        let calls: Vec<(String, BTreeMap<String, String>)> = sent
            .iter()
            .map(|s| {
                let mut f = s.form();
                f.remove("Version");
                (f.remove("Action").unwrap(), f)
            })
            .collect();
        let form = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(calls[0].0, "DescribeRouteTables");
        assert_eq!(
            calls[1..],
            [
                (
                    "DeleteRoute".to_string(),
                    form(&[
                        ("DestinationCidrBlock", "10.9.0.0/16"),
                        ("RouteTableId", "rtb-1")
                    ])
                ),
                (
                    "ReplaceRoute".to_string(),
                    form(&[
                        ("DestinationCidrBlock", "0.0.0.0/0"),
                        ("GatewayId", "igw-new"),
                        ("RouteTableId", "rtb-1")
                    ])
                ),
                (
                    "CreateRoute".to_string(),
                    form(&[
                        ("DestinationCidrBlock", "10.1.0.0/16"),
                        ("NatGatewayId", "nat-1"),
                        ("RouteTableId", "rtb-1")
                    ])
                ),
                (
                    "DisassociateRouteTable".to_string(),
                    form(&[("AssociationId", "rtbassoc-a")])
                ),
                (
                    "AssociateRouteTable".to_string(),
                    form(&[("RouteTableId", "rtb-1"), ("SubnetId", "subnet-b")])
                ),
            ],
            "the local route and the main association are left alone"
        );
    }
}
