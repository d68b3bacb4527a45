//! `aws_eks_cluster` (node groups are in `eks_node_group`, access entries in
//! `eks_access`). Clusters and node groups take minutes to create and
//! delete: every create, update and delete waits for the object to settle
//! (ACTIVE, or gone) with bounded backoff, reporting each status it sees,
//! within the resource's `timeouts` or 30 minutes. A cluster created
//! but never ACTIVE is returned as a partial result so the engine records it
//! tainted instead of orphaning it. EKS allows one update at a time, and
//! endpoint access and logging cannot share one UpdateClusterConfig call.
//! A cluster's name is unique in its region: `recover` finds it by name,
//! takes it if it carries the create's tags (see [`meshmon_aws_common::ownership`]) and
//! waits for it as create does. The create sends its token as EKS's client
//! request token.

use std::sync::Arc;

use aws_sdk_eks::types::{
    AuthenticationMode, ClusterStatus, CreateAccessConfigRequest, LogSetup, LogType, Logging,
    Update, UpdateAccessConfigRequest, UpdateStatus, VpcConfigRequest,
};
use meshmon_aws_common::error::{self, api, found, gone_ok};
use meshmon_aws_common::ownership::{claimed_map, creation_tags};
use meshmon_aws_common::retag_by_arn;
use meshmon_aws_common::tags::{Tags, TagsExt, tags_attr, tags_from_map, tags_hash_map};
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, PlanAdvice, ProviderError, UpdateGroup, Value,
    async_trait, declare,
};
use serde::Deserialize;

use crate::Clients;
use crate::attrs::{Attrs, order_like, str_of, strings};
use crate::wait;

/// Every control-plane log type EKS knows; logging updates name all of them.
const LOG_TYPES: [&str; 5] = [
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

/// Waits for an update EKS accepted. Without an update ID (some EKS
/// emulators answer UpdateClusterConfig with the cluster instead), waits
/// for the object to be ACTIVE again, via `settled`.
pub(crate) async fn wait_update<F, Fut>(
    c: &Clients,
    ctx: &OpContext,
    cluster: &str,
    nodegroup: Option<&str>,
    update: Option<Update>,
    settled: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Result<(), String>, ProviderError>>,
{
    let Some(update) = update else {
        return wait::until(ctx, wait::CLUSTER, "the update to finish", settled).await;
    };
    let check = |u: &Update| -> Result<Result<(), String>, ProviderError> {
        match u.status() {
            Some(UpdateStatus::Successful) | None => Ok(Ok(())),
            Some(UpdateStatus::InProgress) => Ok(Err("update InProgress".into())),
            Some(other) => {
                let errors: Vec<String> = u
                    .errors()
                    .iter()
                    .filter_map(|e| e.error_message().map(str::to_string))
                    .collect();
                Err(ProviderError::api(
                    "eks:DescribeUpdate",
                    Some(other.as_str().to_string()),
                    errors.join("; "),
                ))
            }
        }
    };
    if check(&update)?.is_ok() {
        return Ok(());
    }
    let Some(id) = update.id().filter(|id| !id.is_empty()).map(str::to_string) else {
        return wait::until(ctx, wait::CLUSTER, "the update to finish", settled).await;
    };
    wait::until(ctx, wait::CLUSTER, "the update to finish", || async {
        let out = c
            .eks
            .describe_update()
            .name(cluster)
            .update_id(&id)
            .set_nodegroup_name(nodegroup.map(str::to_string))
            .send()
            .await
            .map_err(|e| api("eks:DescribeUpdate", e))?;
        match out.update {
            Some(u) => check(&u),
            None => Ok(Ok(())),
        }
    })
    .await
}

// -------------------------------------------------------- aws_eks_cluster

declare! {
    pub(crate) struct ClusterIn for "aws_eks_cluster"
        ("An EKS control plane; creating one takes 10-15 minutes.")
    {
        name: String = required(AttrType::String).force_new();
        version: Option<String> = optional(AttrType::String)
            .and_computed()
            .describe("Kubernetes version, like \"1.33\"; upgraded in place (one minor version at a time).");
        role_arn: String = required(AttrType::String)
            .force_new()
            .describe("The cluster's IAM role.");
        subnet_ids: Vec<String> = required(AttrType::list_of(AttrType::String)).force_new();
        #[serde(default)]
        security_group_ids: Vec<String> =
            optional(AttrType::list_of(AttrType::String)).force_new();
        endpoint_public_access: Option<bool> = optional(AttrType::Bool)
            .default(true)
            .describe("Changed in place.");
        endpoint_private_access: Option<bool> = optional(AttrType::Bool)
            .default(false)
            .describe("Changed in place; the AMP managed collector (aws_amp_scraper) needs it on.");
        access_config: Option<AccessConfigIn> = optional(AttrType::map_of(AttrType::Any))
            .check(access_config_check)
            .describe(
            "{ authentication_mode = \"CONFIG_MAP\" | \"API_AND_CONFIG_MAP\" | \"API\", bootstrap_cluster_creator_admin_permissions = true }. \
             The mode changes in place, forward only (CONFIG_MAP → API_AND_CONFIG_MAP → API): a plan that moves it back replaces the cluster, \
             and so does a changed bootstrap_cluster_creator_admin_permissions (EKS reads it only at creation).",
        );
        #[serde(default)]
        enabled_log_types: Vec<String> = optional(AttrType::list_of(AttrType::String))
            .default(Value::List(Vec::new()))
            .check(log_types_check)
            .describe("Control-plane logs to CloudWatch: api, audit, authenticator, controllerManager, scheduler; changed in place.");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs ClusterOut {
        id: String = computed(AttrType::String).describe("The cluster's name.");
        arn: Option<String> = computed(AttrType::String);
        endpoint: Option<String> = computed(AttrType::String).describe("The API server URL.");
        certificate_authority: Option<String> = computed(AttrType::String)
            .describe("The cluster CA, base64-encoded PEM.");
        oidc_issuer: Option<String> = computed(AttrType::String)
            .describe("The OIDC issuer URL, for aws_iam_oidc_provider.");
        status: Option<String> = computed(AttrType::String);
        platform_version: Option<String> = computed(AttrType::String);
        cluster_security_group_id: Option<String> = computed(AttrType::String);
        version: Option<String>;
    }
}

pub(crate) struct Cluster(Arc<Clients>);

/// What a cluster changes in place. EKS allows one update at a time: each
/// waits for the last.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ClusterUpdate {
    Version,
    /// One UpdateClusterConfig sets both.
    EndpointAccess,
    AccessConfig,
    Logging,
    Tags,
}

/// `access_config`, with exactly the keys it has.
#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessConfigIn {
    authentication_mode: Option<String>,
    bootstrap_cluster_creator_admin_permissions: Option<bool>,
}

/// The authentication modes in the only order EKS lets a cluster move.
const AUTH_MODES: [&str; 3] = ["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"];

fn auth_mode_rank(mode: &str) -> Result<usize, ProviderError> {
    AUTH_MODES.iter().position(|m| *m == mode).ok_or_else(|| {
        ProviderError::new(format!("{mode:?} is not an EKS authentication mode"))
            .with_hint(format!("use one of {}", AUTH_MODES.join(", ")))
    })
}

/// The `access_config` recorded in `m`, if any.
fn access_config_of(m: &Map) -> Option<AccessConfigIn> {
    Value::Map(m.get("access_config")?.as_map()?.clone())
        .to_typed()
        .ok()
}

/// Why a change of `access_config` cannot be made in place, if it cannot.
fn access_config_replacement(prior: &Map, desired: &Map) -> Option<String> {
    let before = access_config_of(prior)?;
    let after = access_config_of(desired).unwrap_or_default();
    if let (Some(b), Some(a)) = (
        before.bootstrap_cluster_creator_admin_permissions,
        after.bootstrap_cluster_creator_admin_permissions,
    ) && a != b
    {
        return Some(
            "access_config.bootstrap_cluster_creator_admin_permissions is read only when EKS creates the cluster".into(),
        );
    }
    let (Some(b), Some(a)) = (before.authentication_mode, after.authentication_mode) else {
        return None;
    };
    match (auth_mode_rank(&b), auth_mode_rank(&a)) {
        (Ok(rb), Ok(ra)) if ra < rb => Some(format!(
            "EKS cannot move a cluster's authentication mode back from {b} to {a} (only CONFIG_MAP → API_AND_CONFIG_MAP → API)"
        )),
        _ => None,
    }
}

/// The check of `access_config` in `validate` and `plan`: its keys, and an
/// authentication mode EKS knows.
fn access_config_check(v: &Value) -> Result<(), String> {
    let Some(m) = v.as_map() else {
        return Err("must be a table".into());
    };
    let keys = [
        "authentication_mode",
        "bootstrap_cluster_creator_admin_permissions",
    ];
    if let Some(k) = m.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(format!("has no key `{k}`: it takes {}", keys.join(" and ")));
    }
    match m.get("authentication_mode").map(Value::as_str) {
        Some(Some(mode)) if auth_mode_rank(mode).is_ok() => Ok(()),
        None => Ok(()),
        Some(_) => Err(format!(
            "has an `authentication_mode` EKS does not know: use one of {}",
            AUTH_MODES.join(", ")
        )),
    }
}

/// The check of `enabled_log_types` in `validate` and `plan`.
fn log_types_check(v: &Value) -> Result<(), String> {
    let known = |t: &Value| t.as_str().is_some_and(|t| LOG_TYPES.contains(&t));
    if v.as_list().unwrap_or_default().iter().all(known) {
        Ok(())
    } else {
        Err(format!(
            "names a log type EKS does not know: use some of {}",
            LOG_TYPES.join(", ")
        ))
    }
}

fn logging(enabled: &[String]) -> Result<Logging, ProviderError> {
    if let Some(bad) = enabled.iter().find(|t| !LOG_TYPES.contains(&t.as_str())) {
        return Err(
            ProviderError::new(format!("{bad:?} is not an EKS log type"))
                .with_hint(format!("use some of {}", LOG_TYPES.join(", "))),
        );
    }
    let on: Vec<LogType> = enabled.iter().map(|t| LogType::from(t.as_str())).collect();
    let off: Vec<LogType> = LOG_TYPES
        .iter()
        .filter(|t| !enabled.iter().any(|e| e == *t))
        .map(|t| LogType::from(*t))
        .collect();
    let mut setups = Vec::new();
    if !on.is_empty() {
        setups.push(
            LogSetup::builder()
                .set_types(Some(on))
                .enabled(true)
                .build(),
        );
    }
    if !off.is_empty() {
        setups.push(
            LogSetup::builder()
                .set_types(Some(off))
                .enabled(false)
                .build(),
        );
    }
    Ok(Logging::builder().set_cluster_logging(Some(setups)).build())
}

/// The outputs of the cluster `name` (its ID) as EKS describes it; with
/// no description (an answer without one), it is known only by name.
pub(crate) fn cluster_outputs(name: &str, c: Option<&aws_sdk_eks::types::Cluster>) -> ClusterOut {
    let text =
        |f: fn(&aws_sdk_eks::types::Cluster) -> Option<&str>| c.and_then(f).map(str::to_string);
    ClusterOut {
        id: name.into(),
        arn: text(|c| c.arn()),
        endpoint: text(|c| c.endpoint()),
        certificate_authority: text(|c| c.certificate_authority()?.data()),
        oidc_issuer: text(|c| c.identity()?.oidc()?.issuer()),
        status: text(|c| c.status().map(|s| s.as_str())),
        platform_version: text(|c| c.platform_version()),
        cluster_security_group_id: text(|c| c.resources_vpc_config()?.cluster_security_group_id()),
        version: text(|c| c.version()),
    }
}

fn cluster_inputs(c: &aws_sdk_eks::types::Cluster, prior: &Map) -> Map {
    let enabled = c.logging().map(|l| {
        let on: Vec<String> = l
            .cluster_logging()
            .iter()
            .filter(|s| s.enabled().unwrap_or(false))
            .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
            .collect();
        strings(order_like(prior, "enabled_log_types", on))
    });
    let mut inputs = Attrs::new()
        .opt("name", c.name())
        .opt("version", c.version())
        .opt("role_arn", c.role_arn());
    // An answer without the VPC configuration says nothing of it.
    if let Some(vpc) = c.resources_vpc_config() {
        inputs = inputs
            .set(
                "subnet_ids",
                strings(order_like(prior, "subnet_ids", vpc.subnet_ids().to_vec())),
            )
            .unless_empty(
                prior,
                "security_group_ids",
                strings(order_like(
                    prior,
                    "security_group_ids",
                    vpc.security_group_ids().to_vec(),
                )),
            )
            .set("endpoint_public_access", vpc.endpoint_public_access())
            .set("endpoint_private_access", vpc.endpoint_private_access());
    }
    inputs
        .opt("enabled_log_types", enabled)
        .opt("access_config", access_config_value(c, prior))
        .tags(prior, tags_from_map(c.tags()))
        .build()
}

/// `access_config` as read, with the keys the user wrote: an attribute the
/// user left out stays out, so clusters made without it show no change.
fn access_config_value(c: &aws_sdk_eks::types::Cluster, prior: &Map) -> Option<Value> {
    let wanted = prior.get("access_config")?.as_map()?;
    let live = c.access_config();
    let mut out = Map::new();
    if wanted.contains_key("authentication_mode") {
        let mode = live
            .and_then(|a| a.authentication_mode())
            .map(|m| m.as_str())
            .unwrap_or("CONFIG_MAP");
        out.insert("authentication_mode".into(), Value::from(mode));
    }
    if let Some(prior_bootstrap) = wanted.get("bootstrap_cluster_creator_admin_permissions") {
        // DescribeCluster leaves it out on some clusters; then the recorded
        // value stands, since nothing can change it after creation.
        let v = live
            .and_then(|a| a.bootstrap_cluster_creator_admin_permissions())
            .map(Value::Bool)
            .unwrap_or_else(|| prior_bootstrap.clone());
        out.insert("bootstrap_cluster_creator_admin_permissions".into(), v);
    }
    Some(Value::Map(out))
}

/// The advice for a refused `eks:CreateCluster` or `eks:CreateNodegroup`:
/// beyond the action itself, creating either needs `iam:PassRole` on the
/// role it is given.
pub(crate) fn pass_role_hint(operation: &str, code: Option<&str>, message: &str) -> Option<String> {
    if !error::is_access_denied(code) {
        return None;
    }
    error::hint(operation, code, message)
        .map(|h| format!("{h}; creating it also needs `iam:PassRole` on the role it is given"))
}

/// A role EKS cannot assume yet (IAM is eventually consistent) or a
/// subnet it cannot see yet: worth another try.
pub(crate) fn cluster_create_transient(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("InvalidParameterException")
        && (e.message.contains("assume")
            || e.message.contains("role")
            || e.message.contains("does not exist"))
}

impl Cluster {
    async fn describe(
        &self,
        name: &str,
    ) -> Result<Option<aws_sdk_eks::types::Cluster>, ProviderError> {
        let out = found(
            "eks:DescribeCluster",
            self.0.eks.describe_cluster().name(name).send().await,
        )?;
        Ok(out.and_then(|o| o.cluster))
    }

    /// Waits for ACTIVE; FAILED is an error at once.
    async fn wait_active(
        &self,
        ctx: &OpContext,
        name: &str,
    ) -> Result<aws_sdk_eks::types::Cluster, ProviderError> {
        wait::until(ctx, wait::CLUSTER, &format!("cluster {name} to become ACTIVE"), || async {
            let c = self.describe(name).await?.ok_or_else(|| ProviderError::new(format!("cluster {name} disappeared while it was being created")))?;
            match c.status() {
                Some(ClusterStatus::Active) => Ok(Ok(c)),
                Some(ClusterStatus::Failed) => Err(ProviderError::api("eks:DescribeCluster", Some("FAILED".into()), format!("cluster {name} failed to become ACTIVE"))
                    .with_hint("the cluster's health issues are shown by `aws eks describe-cluster`; check its role and subnets")),
                s => Ok(Err(format!("status {}", s.map(|s| s.as_str()).unwrap_or("unknown")))),
            }
        })
        .await
    }

    /// What a create does once EKS has the cluster: waits for ACTIVE and
    /// returns the outputs, or what exists (`first`) as a partial result.
    async fn finish(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, ClusterIn>,
        first: ClusterOut,
    ) -> Result<ClusterOut, ProviderError> {
        match self.wait_active(ctx, &i.name).await {
            Ok(c) => Ok(cluster_outputs(&i.name, Some(&c))),
            Err(e) => Err(e.with_partial(i.partial(first))),
        }
    }

    async fn settled(&self, name: &str) -> Result<Result<(), String>, ProviderError> {
        let c = self.describe(name).await?.ok_or_else(|| {
            ProviderError::new(format!("cluster {name} disappeared during an update"))
        })?;
        Ok(match c.status() {
            Some(ClusterStatus::Active) => Ok(()),
            s => Err(format!(
                "status {}",
                s.map(|s| s.as_str()).unwrap_or("unknown")
            )),
        })
    }

    /// Moves the authentication mode forward to `target`, one step per
    /// update (CONFIG_MAP → API_AND_CONFIG_MAP → API), from what the
    /// cluster has now; a cluster already there is left alone.
    async fn move_auth_mode(
        &self,
        ctx: &OpContext,
        name: &str,
        target: &str,
    ) -> Result<(), ProviderError> {
        let want = auth_mode_rank(target)?;
        loop {
            let c = self.describe(name).await?.ok_or_else(|| {
                ProviderError::new(format!("cluster {name} disappeared during an update"))
            })?;
            let now = c
                .access_config()
                .and_then(|a| a.authentication_mode())
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| "CONFIG_MAP".into());
            let have = auth_mode_rank(&now)?;
            if have >= want {
                if have > want {
                    return Err(ProviderError::new(format!(
                        "cluster {name} uses authentication mode {now}; EKS cannot move it back to {target}"
                    ))
                    .with_hint("set access_config.authentication_mode to the cluster's mode or a later one"));
                }
                return Ok(());
            }
            let next = AUTH_MODES[have + 1];
            ctx.progress(&format!("authentication mode {now} → {next}"));
            let out = self
                .0
                .eks
                .update_cluster_config()
                .name(name)
                .access_config(
                    UpdateAccessConfigRequest::builder()
                        .authentication_mode(AuthenticationMode::from(next))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| api("eks:UpdateClusterConfig", e))?;
            wait_update(&self.0, ctx, name, None, out.update, || self.settled(name)).await?;
        }
    }

    /// The outputs after an update: the cluster as EKS describes it now.
    async fn outputs_now(&self, name: &str) -> Result<ClusterOut, ProviderError> {
        let now = self.describe(name).await?.ok_or_else(|| {
            ProviderError::new(format!("cluster {name} disappeared during an update"))
        })?;
        Ok(cluster_outputs(name, Some(&now)))
    }
}

#[async_trait]
impl Declared for Cluster {
    type Inputs = ClusterIn;
    type Outputs = ClusterOut;
    type Client = Clients;
    type Group = ClusterUpdate;
    const UPDATES: &'static [UpdateGroup<ClusterUpdate>] = &[
        (ClusterUpdate::Version, &["version"]),
        (
            ClusterUpdate::EndpointAccess,
            &["endpoint_public_access", "endpoint_private_access"],
        ),
        (ClusterUpdate::AccessConfig, &["access_config"]),
        (ClusterUpdate::Logging, &["enabled_log_types"]),
        (ClusterUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        Cluster(clients)
    }

    /// `name` is the cluster's name, its ID.
    async fn fetch(
        &self,
        _ctx: &OpContext,
        name: &str,
        prior: &Map,
    ) -> Result<Option<Current<ClusterOut>>, ProviderError> {
        Ok(self
            .describe(name)
            .await?
            .map(|c| Current::new(cluster_inputs(&c, prior), cluster_outputs(name, Some(&c)))))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, ClusterIn>,
    ) -> Result<ClusterOut, ProviderError> {
        let log = logging(&i.enabled_log_types)?;
        let vpc = VpcConfigRequest::builder()
            .set_subnet_ids(Some(i.subnet_ids.clone()))
            .set_security_group_ids(
                (!i.security_group_ids.is_empty()).then(|| i.security_group_ids.clone()),
            )
            .endpoint_public_access(i.endpoint_public_access.unwrap_or(true))
            .endpoint_private_access(i.endpoint_private_access.unwrap_or(false))
            .build();
        let access = match i.access_config.clone() {
            Some(a) => {
                if let Some(m) = &a.authentication_mode {
                    auth_mode_rank(m)?;
                }
                Some(
                    CreateAccessConfigRequest::builder()
                        .set_authentication_mode(
                            a.authentication_mode
                                .as_deref()
                                .map(AuthenticationMode::from),
                        )
                        .set_bootstrap_cluster_creator_admin_permissions(
                            a.bootstrap_cluster_creator_admin_permissions,
                        )
                        .build(),
                )
            }
            None => None,
        };
        let tags = tags_hash_map(&creation_tags(ctx, &i.tags));
        let created =
            wait::retry_transient(ctx, wait::IAM_PROPAGATION, cluster_create_transient, || {
                wait::create_call_with(ctx, pass_role_hint, "eks:CreateCluster", || {
                    self.0
                        .create
                        .eks
                        .create_cluster()
                        .name(&i.name)
                        .set_version(i.version.clone())
                        .role_arn(&i.role_arn)
                        .resources_vpc_config(vpc.clone())
                        .set_access_config(access.clone())
                        .logging(log.clone())
                        .set_tags(tags.clone())
                        .set_client_request_token(ctx.client_token().map(str::to_string))
                        .send()
                })
            })
            .await?;
        let first = cluster_outputs(&i.name, created.cluster.as_ref());
        self.finish(ctx, i, first).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, ClusterIn>,
    ) -> Result<Option<ClusterOut>, ProviderError> {
        let name = i.name.as_str();
        match self.describe(name).await? {
            Some(c) if !claimed_map(ctx, c.tags())? => Ok(None),
            // One being deleted is an earlier cluster's end, not this create.
            Some(c) if c.status() == Some(&ClusterStatus::Deleting) => Ok(None),
            Some(c) => self
                .finish(ctx, i, cluster_outputs(name, Some(&c)))
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        ctx: &OpContext,
        group: ClusterUpdate,
        name: &str,
        prior: &Current,
        i: &Inputs<'_, ClusterIn>,
    ) -> Result<Option<ClusterOut>, ProviderError> {
        let c = &self.0;
        match group {
            ClusterUpdate::Version => {
                if let Some(v) = &i.version {
                    ctx.progress(&format!("upgrading to Kubernetes {v}"));
                    let out = c
                        .eks
                        .update_cluster_version()
                        .name(name)
                        .version(v)
                        .send()
                        .await
                        .map_err(|e| api("eks:UpdateClusterVersion", e))?;
                    wait_update(c, ctx, name, None, out.update, || self.settled(name)).await?;
                }
            }
            ClusterUpdate::EndpointAccess => {
                let vpc = VpcConfigRequest::builder()
                    .endpoint_public_access(i.endpoint_public_access.unwrap_or(true))
                    .endpoint_private_access(i.endpoint_private_access.unwrap_or(false))
                    .build();
                let out = c
                    .eks
                    .update_cluster_config()
                    .name(name)
                    .resources_vpc_config(vpc)
                    .send()
                    .await
                    .map_err(|e| api("eks:UpdateClusterConfig", e))?;
                wait_update(c, ctx, name, None, out.update, || self.settled(name)).await?;
            }
            ClusterUpdate::AccessConfig => {
                if let Some(mode) = i.access_config.clone().and_then(|a| a.authentication_mode) {
                    self.move_auth_mode(ctx, name, &mode).await?;
                }
            }
            ClusterUpdate::Logging => {
                let out = c
                    .eks
                    .update_cluster_config()
                    .name(name)
                    .logging(logging(&i.enabled_log_types)?)
                    .send()
                    .await
                    .map_err(|e| api("eks:UpdateClusterConfig", e))?;
                wait_update(c, ctx, name, None, out.update, || self.settled(name)).await?;
            }
            ClusterUpdate::Tags => {
                let arn = str_of(&prior.outputs, "arn")?;
                retag_by_arn!(c.eks, "eks", arn, prior, &i.tags).await?;
            }
        }
        self.outputs_now(name).await.map(Some)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        name: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        gone_ok(
            "eks:DeleteCluster",
            self.0.eks.delete_cluster().name(name).send().await,
        )?;
        wait::until(
            ctx,
            wait::CLUSTER,
            &format!("cluster {name} to be deleted"),
            || async {
                Ok(match self.describe(name).await? {
                    None => Ok(()),
                    Some(c) => Err(format!(
                        "status {}",
                        c.status().map(|s| s.as_str()).unwrap_or("unknown")
                    )),
                })
            },
        )
        .await
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        PlanAdvice {
            replace_because: prior.and_then(|p| access_config_replacement(&p.inputs, desired)),
            ..PlanAdvice::default()
        }
    }
}

#[cfg(test)]
#[path = "eks_test.rs"]
mod replayed;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_create_names_pass_role_too() {
        let h = pass_role_hint("eks:CreateCluster", Some("AccessDeniedException"), "no").unwrap();
        assert!(h.contains("`eks:CreateCluster`"), "{h}");
        assert!(h.contains("iam:PassRole"), "{h}");
        assert_eq!(
            pass_role_hint("eks:CreateCluster", Some("InvalidParameterException"), "no"),
            None
        );
    }

    fn with_access(mode: &str, bootstrap: bool) -> Map {
        let mut a = Map::new();
        a.insert("authentication_mode".into(), Value::from(mode));
        a.insert(
            "bootstrap_cluster_creator_admin_permissions".into(),
            Value::Bool(bootstrap),
        );
        [("access_config".to_string(), Value::Map(a))].into()
    }

    #[test]
    fn authentication_mode_moves_forward_in_place_and_back_by_replacement() {
        let config_map = with_access("CONFIG_MAP", true);
        let both = with_access("API_AND_CONFIG_MAP", true);
        let api = with_access("API", true);
        assert_eq!(access_config_replacement(&config_map, &both), None);
        assert_eq!(access_config_replacement(&both, &api), None);
        let back = access_config_replacement(&api, &both).expect("a replacement");
        assert!(back.contains("from API to API_AND_CONFIG_MAP"), "{back}");
        // A cluster recorded without access_config (made before the
        // attribute existed) gains it in place.
        assert_eq!(access_config_replacement(&Map::new(), &api), None);
    }

    #[test]
    fn bootstrap_admin_is_fixed_at_creation() {
        let on = with_access("API", true);
        let off = with_access("API", false);
        assert!(access_config_replacement(&on, &off).is_some());
    }
}
