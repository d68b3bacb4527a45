//! `aws_eks_node_group`: a managed node group of an EKS cluster. Creates,
//! updates and deletes wait for the group to settle, like the cluster's
//! (see `eks`); scaling and labels change in place, one update at a time.
//! A node group's name is unique in its cluster: `recover` finds it by the
//! two, takes it if it carries the create's tags (see [`meshmon_aws_common::ownership`])
//! and waits as create does. The create sends its token as EKS's
//! client request token.

use std::sync::Arc;

use aws_sdk_eks::types::{NodegroupScalingConfig, NodegroupStatus, UpdateLabelsPayload};
use meshmon_aws_common::error::{api, found, gone_ok};
use meshmon_aws_common::ownership::{claimed_map, creation_tags};
use meshmon_aws_common::retag_by_arn;
use meshmon_aws_common::tags::{
    Tags, TagsExt, tag_diff, tags_attr, tags_from_map, tags_hash_map, tags_value,
};
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};
use serde::Deserialize;

use crate::Clients;
use crate::attrs::{Attrs, order_like, str_of, strings, typed};
use crate::eks::{cluster_create_transient, pass_role_hint, wait_update};
use crate::wait;

declare! {
    pub(crate) struct NodeGroupIn for "aws_eks_node_group"
        ("A managed node group of an EKS cluster.")
    {
        cluster_name: String = required(AttrType::String).force_new();
        name: String = required(AttrType::String).force_new();
        node_role_arn: String = required(AttrType::String).force_new();
        subnet_ids: Vec<String> = required(AttrType::list_of(AttrType::String)).force_new();
        #[serde(default)]
        instance_types: Vec<String> = optional(AttrType::list_of(AttrType::String))
            .and_computed()
            .force_new()
            .describe("Like [\"m5.large\"]; EKS picks t3.medium if left out.");
        scaling: Option<Scaling> = optional(AttrType::map_of(AttrType::Int))
            .and_computed()
            .describe("{ min_size, max_size, desired_size }; changed in place.");
        #[serde(default)]
        labels: Tags = optional(AttrType::map_of(AttrType::String))
            .describe("Kubernetes labels on the nodes; changed in place.");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs NodeGroupOut {
        id: String = computed(AttrType::String)
            .describe("CLUSTER:NAME, the ID `meshmon import` takes.");
        arn: Option<String> = computed(AttrType::String);
        status: Option<String> = computed(AttrType::String);
        instance_types: Option<Vec<String>>;
        scaling: Option<Value>;
    }
}

pub(crate) struct NodeGroup(Arc<Clients>);

/// What a node group changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NodeGroupUpdate {
    /// One UpdateNodegroupConfig sets scaling and labels.
    Config,
    Tags,
}

/// `scaling`, with exactly the three sizes.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scaling {
    min_size: i32,
    max_size: i32,
    desired_size: i32,
}

fn scaling_config(s: Scaling) -> NodegroupScalingConfig {
    NodegroupScalingConfig::builder()
        .min_size(s.min_size)
        .max_size(s.max_size)
        .desired_size(s.desired_size)
        .build()
}

/// The node group's ID, the one `meshmon import` takes.
fn node_group_id(cluster: &str, name: &str) -> String {
    format!("{cluster}:{name}")
}

/// The cluster and node group an ID names.
fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once(':').ok_or_else(|| {
        ProviderError::new(format!("{id:?} is not a node group ID"))
            .with_hint("import node groups as CLUSTER_NAME:NODE_GROUP_NAME")
    })
}

/// The outputs of the node group `id` as EKS describes it.
fn node_group_outputs(id: &str, n: Option<&aws_sdk_eks::types::Nodegroup>) -> NodeGroupOut {
    NodeGroupOut {
        id: id.into(),
        arn: n.and_then(|n| n.nodegroup_arn()).map(str::to_string),
        status: n.and_then(|n| n.status()).map(|s| s.as_str().to_string()),
        instance_types: None,
        scaling: None,
    }
}

/// The sizes EKS reports; `None` when it reports no scaling.
fn scaling_value(n: &aws_sdk_eks::types::Nodegroup) -> Option<Value> {
    let s = n.scaling_config()?;
    let size = |v: Option<i32>| v.map(|v| Value::Int(i64::from(v)));
    Some(Value::Map(
        Attrs::new()
            .opt("min_size", size(s.min_size()))
            .opt("max_size", size(s.max_size()))
            .opt("desired_size", size(s.desired_size()))
            .build(),
    ))
}

impl NodeGroup {
    async fn describe(
        &self,
        cluster: &str,
        name: &str,
    ) -> Result<Option<aws_sdk_eks::types::Nodegroup>, ProviderError> {
        let out = found(
            "eks:DescribeNodegroup",
            self.0
                .eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send()
                .await,
        )?;
        Ok(out.and_then(|o| o.nodegroup))
    }

    /// What a create does once EKS has the node group: waits for ACTIVE
    /// and returns the outputs, or what exists (`first`) as a partial result.
    async fn finish(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, NodeGroupIn>,
        first: NodeGroupOut,
    ) -> Result<NodeGroupOut, ProviderError> {
        match self.wait_status(ctx, &i.cluster_name, &i.name).await {
            // What EKS picked for what was left out, too.
            Ok(n) => Ok(NodeGroupOut {
                instance_types: Some(n.instance_types().to_vec()),
                scaling: scaling_value(&n),
                ..node_group_outputs(&node_group_id(&i.cluster_name, &i.name), Some(&n))
            }),
            Err(e) => Err(e.with_partial(i.partial(first))),
        }
    }

    async fn wait_status(
        &self,
        ctx: &OpContext,
        cluster: &str,
        name: &str,
    ) -> Result<aws_sdk_eks::types::Nodegroup, ProviderError> {
        wait::until(
            ctx,
            wait::NODE_GROUP,
            &format!("node group {name} to become ACTIVE"),
            || async {
                let n = self
                    .describe(cluster, name)
                    .await?
                    .ok_or_else(|| ProviderError::new(format!("node group {name} disappeared")))?;
                match n.status() {
                    Some(NodegroupStatus::Active) => Ok(Ok(n)),
                    Some(s @ (NodegroupStatus::CreateFailed | NodegroupStatus::Degraded)) => {
                        let issues: Vec<String> = n
                            .health()
                            .map(|h| h.issues())
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|i| i.message().map(str::to_string))
                            .collect();
                        Err(ProviderError::api(
                            "eks:DescribeNodegroup",
                            Some(s.as_str().to_string()),
                            format!("node group {name} is {}: {}", s.as_str(), issues.join("; ")),
                        ))
                    }
                    s => Ok(Err(format!(
                        "status {}",
                        s.map(|s| s.as_str()).unwrap_or("unknown")
                    ))),
                }
            },
        )
        .await
    }
}

#[async_trait]
impl Declared for NodeGroup {
    type Inputs = NodeGroupIn;
    type Outputs = NodeGroupOut;
    type Client = Clients;
    type Group = NodeGroupUpdate;
    const UPDATES: &'static [UpdateGroup<NodeGroupUpdate>] = &[
        (NodeGroupUpdate::Config, &["scaling", "labels"]),
        (NodeGroupUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        NodeGroup(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<NodeGroupOut>>, ProviderError> {
        let (cluster, name) = split_id(id)?;
        let Some(n) = self.describe(cluster, name).await? else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .opt("cluster_name", n.cluster_name())
            .opt("name", n.nodegroup_name())
            .opt("node_role_arn", n.node_role())
            .set(
                "subnet_ids",
                strings(order_like(prior, "subnet_ids", n.subnets().to_vec())),
            )
            .set(
                "instance_types",
                strings(order_like(
                    prior,
                    "instance_types",
                    n.instance_types().to_vec(),
                )),
            )
            .opt("scaling", scaling_value(&n))
            .unless_empty(prior, "labels", tags_value(&tags_from_map(n.labels())))
            .tags(prior, tags_from_map(n.tags()))
            .build();
        Ok(Some(Current::new(inputs, node_group_outputs(id, Some(&n)))))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, NodeGroupIn>,
    ) -> Result<NodeGroupOut, ProviderError> {
        let scaling = i.scaling;
        let tags = tags_hash_map(&creation_tags(ctx, &i.tags));
        let created =
            wait::retry_transient(ctx, wait::IAM_PROPAGATION, cluster_create_transient, || {
                wait::create_call_with(ctx, pass_role_hint, "eks:CreateNodegroup", || {
                    self.0
                        .create
                        .eks
                        .create_nodegroup()
                        .cluster_name(&i.cluster_name)
                        .nodegroup_name(&i.name)
                        .node_role(&i.node_role_arn)
                        .set_subnets(Some(i.subnet_ids.clone()))
                        .set_instance_types(
                            (!i.instance_types.is_empty()).then(|| i.instance_types.clone()),
                        )
                        .set_scaling_config(scaling.map(scaling_config))
                        .set_labels(tags_hash_map(&i.labels))
                        .set_tags(tags.clone())
                        .set_client_request_token(ctx.client_token().map(str::to_string))
                        .send()
                })
            })
            .await?;
        let id = node_group_id(&i.cluster_name, &i.name);
        let first = node_group_outputs(&id, created.nodegroup.as_ref());
        self.finish(ctx, i, first).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, NodeGroupIn>,
    ) -> Result<Option<NodeGroupOut>, ProviderError> {
        match self.describe(&i.cluster_name, &i.name).await? {
            Some(n) if !claimed_map(ctx, n.tags())? => Ok(None),
            // One being deleted is an earlier group's end, not this create.
            Some(n) if n.status() == Some(&NodegroupStatus::Deleting) => Ok(None),
            Some(n) => {
                let first = node_group_outputs(&node_group_id(&i.cluster_name, &i.name), Some(&n));
                self.finish(ctx, i, first).await.map(Some)
            }
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        ctx: &OpContext,
        group: NodeGroupUpdate,
        id: &str,
        prior: &Current,
        i: &Inputs<'_, NodeGroupIn>,
    ) -> Result<Option<NodeGroupOut>, ProviderError> {
        match group {
            NodeGroupUpdate::Config => {
                let old: NodeGroupIn = typed(&prior.inputs)?;
                let scaling = i.scaling.filter(|s| old.scaling != Some(*s));
                let labels = (old.labels != i.labels).then(|| {
                    let (set, remove) = tag_diff(&old.labels, &i.labels);
                    UpdateLabelsPayload::builder()
                        .set_add_or_update_labels(tags_hash_map(&set))
                        .set_remove_labels((!remove.is_empty()).then_some(remove))
                        .build()
                });
                if scaling.is_some() || labels.is_some() {
                    let out = self
                        .0
                        .eks
                        .update_nodegroup_config()
                        .cluster_name(&i.cluster_name)
                        .nodegroup_name(&i.name)
                        .set_scaling_config(scaling.map(scaling_config))
                        .set_labels(labels)
                        .send()
                        .await
                        .map_err(|e| api("eks:UpdateNodegroupConfig", e))?;
                    wait_update(
                        &self.0,
                        ctx,
                        &i.cluster_name,
                        Some(&i.name),
                        out.update,
                        || async {
                            self.wait_status(ctx, &i.cluster_name, &i.name)
                                .await
                                .map(|_| Ok(()))
                        },
                    )
                    .await?;
                }
            }
            NodeGroupUpdate::Tags => {
                let arn = str_of(&prior.outputs, "arn")?;
                retag_by_arn!(self.0.eks, "eks", arn, prior, &i.tags).await?
            }
        }
        let n = self
            .describe(&i.cluster_name, &i.name)
            .await?
            .ok_or_else(|| ProviderError::new(format!("node group {} disappeared", i.name)))?;
        Ok(Some(node_group_outputs(id, Some(&n))))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        let (cluster, name) = split_id(id)?;
        gone_ok(
            "eks:DeleteNodegroup",
            self.0
                .eks
                .delete_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send()
                .await,
        )?;
        wait::until(
            ctx,
            wait::NODE_GROUP,
            &format!("node group {name} to be deleted"),
            || async {
                Ok(match self.describe(cluster, name).await? {
                    None => Ok(()),
                    Some(n) => Err(format!(
                        "status {}",
                        n.status().map(|s| s.as_str()).unwrap_or("unknown")
                    )),
                })
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{clients, creating, inputs};
    use meshmon_test_support::aws_replay::Answer;
    use serde_json::json;

    fn node_group(extra: serde_json::Value) -> Answer {
        let mut n = json!({
            "clusterName": "main", "nodegroupName": "ng", "nodeRole": "arn:aws:iam::1:role/node",
            "subnets": ["subnet-a", "subnet-b"], "instanceTypes": ["t3.medium"],
            "status": "ACTIVE", "nodegroupArn": "arn:aws:eks:eu-west-1:1:nodegroup/main/ng/x",
        });
        for (k, v) in extra.as_object().unwrap() {
            n[k] = v.clone();
        }
        Answer::ok(&json!({ "nodegroup": n }).to_string())
    }

    #[tokio::test]
    async fn a_node_group_read_shapes_sizes_labels_and_order_like_the_spec() {
        let (replay, c) = clients([node_group(json!({
            "subnets": ["subnet-a", "subnet-b"],
            "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 2},
            "labels": {"role": "monitoring"},
        }))]);
        let prior = inputs(json!({"subnet_ids": ["subnet-b", "subnet-a"]}));
        let now = NodeGroup::new(c)
            .fetch(&creating("aws_eks_node_group.ng"), "main:ng", &prior)
            .await
            .unwrap()
            .expect("the node group");
        assert_eq!(
            replay.sent()[0].path,
            "/clusters/main/node-groups/ng",
            "the ID names the cluster and the group"
        );
        assert_eq!(
            now.inputs["subnet_ids"],
            Value::from(json!(["subnet-b", "subnet-a"]))
        );
        assert_eq!(
            now.inputs["scaling"],
            Value::from(json!({"min_size": 1, "max_size": 3, "desired_size": 2}))
        );
        assert_eq!(
            now.inputs["labels"],
            Value::from(json!({"role": "monitoring"}))
        );
        assert_eq!(now.outputs.status.as_deref(), Some("ACTIVE"));
        assert_eq!(now.outputs.scaling, None, "sizes are inputs when read");
    }

    #[tokio::test]
    async fn a_node_group_answer_without_sizes_or_labels_records_neither() {
        let (_, c) = clients([node_group(json!({}))]);
        let now = NodeGroup::new(c)
            .fetch(&creating("aws_eks_node_group.ng"), "main:ng", &Map::new())
            .await
            .unwrap()
            .expect("the node group");
        assert!(!now.inputs.contains_key("scaling"));
        assert!(!now.inputs.contains_key("labels"));
        assert!(!now.inputs.contains_key("tags"));
    }

    #[tokio::test]
    async fn an_id_without_its_cluster_is_refused_before_any_request() {
        let (replay, c) = clients([]);
        let err = NodeGroup::new(c)
            .fetch(&creating("aws_eks_node_group.ng"), "ng", &Map::new())
            .await
            .unwrap_err();
        assert!(err.hint.unwrap().contains("CLUSTER_NAME:NODE_GROUP_NAME"));
        assert!(replay.sent().is_empty());
    }
}
