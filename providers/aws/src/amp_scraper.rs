//! The AMP managed collector (`aws_amp_scraper`) and the AMP Alertmanager
//! (`aws_amp_alert_manager_definition`). A scraper takes about 20 minutes
//! to become ACTIVE on AWS: creates and updates wait for it with progress
//! and the resource's `timeouts`. Its source (cluster, subnets, security
//! groups) cannot change: those attributes replace it. Both YAML documents
//! are checked against AWS's documented limits (see [`crate::amp_checks`])
//! in the plan and before any request.
//!
//! A scraper is bound to the cluster's ARN, not its name: a cluster
//! replaced under the same name is not scraped by the old scraper, which is
//! why `cluster_arn` (not the name) is the attribute, so a new cluster
//! replaces the scraper too.
//!
//! Scrapers have no unique name: a create tags its scraper with its marks
//! (see [`meshmon_aws_common::ownership`]) and `recover` lists scrapers and takes the
//! one that carries them. A workspace has at most one Alertmanager
//! definition, found by the workspace. Both creates send their token as
//! AMP's client token.

use std::sync::Arc;

use aws_sdk_amp::types::{
    AlertManagerDefinitionStatusCode, AmpConfiguration, Destination, EksConfiguration,
    ScrapeConfiguration, ScraperDescription, ScraperStatusCode, ScraperSummary, Source,
};
use aws_smithy_types::Blob;
use meshmon_aws_common::error::{api, found, gone_ok};
use meshmon_aws_common::identity::last_segment;
use meshmon_aws_common::ownership::{creation_tags, made_by, only_one, required_marks};
use meshmon_aws_common::retag_by_arn;
use meshmon_aws_common::tags::{Tags, TagsExt, tags_attr, tags_from_map, tags_hash_map};
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};

use crate::Clients;
use crate::amp::workspace_busy;
use crate::amp_checks;
use crate::amp_roles::{
    RoleConfigurationIn, role_configuration, role_configuration_keys,
    target_role_in_workspace_account,
};
use crate::attrs::{Attrs, changed, order_like, str_of, strings};
use crate::wait;

/// Problems in a document, as one error that lists them all.
fn refuse(what: &str, problems: Vec<String>, hint: &str) -> Result<(), ProviderError> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(ProviderError::new(format!("{what}: {}", problems.join("; "))).with_hint(hint.to_string()))
}

/// The plan's notes for a document attribute, when its value is known.
/// A plan-time check: what AMP would refuse in a YAML document is an error
/// in `validate` and `plan`, before any request is sent.
fn refused(v: &Value, check: fn(&str) -> Vec<String>) -> Result<(), String> {
    match v.as_str().map(check) {
        Some(problems) if !problems.is_empty() => {
            Err(format!("would be refused by AMP: {}", problems.join("; ")))
        }
        _ => Ok(()),
    }
}

const SCRAPE_HINT: &str = "the managed collector accepts scrape_interval of 30s or more and kubernetes_sd_configs / static_configs only; \
     GetDefaultScraperConfiguration (`aws amp get-default-scraper-configuration`) returns a valid starting point";

// --------------------------------------------------------- aws_amp_scraper

declare! {
    pub(crate) struct ScraperIn for "aws_amp_scraper" (
        "An AMP managed collector: scrapes Prometheus metrics in an EKS cluster into an AMP workspace, with no agent in the cluster. \
         Takes about 20 minutes to create; needs the cluster's private endpoint and two subnets in two zones."
    ) {
        cluster_arn: String = required(AttrType::String)
            .force_new()
            .describe("The EKS cluster scraped (source); a new cluster replaces the scraper.");
        subnet_ids: Vec<String> = required(AttrType::list_of(AttrType::String))
            .force_new()
            .describe("Subnets the collector runs in: at least two, in two availability zones.");
        #[serde(default)]
        security_group_ids: Vec<String> = optional(AttrType::list_of(AttrType::String))
            .force_new()
            .describe("Security groups of the collector; EKS's cluster security group if left out.");
        workspace_arn: String = required(AttrType::String)
            .describe("The AMP workspace written to (destination); changed in place.");
        scrape_configuration: String = required(AttrType::Yaml)
            .check(|v| refused(v, amp_checks::scrape_configuration))
            .describe(
                "Prometheus scrape configuration (YAML, inline or `file(\"…\")`); compared as data; changed in place. \
             scrape_interval must be 30s or more, and discovery kubernetes_sd_configs (or static_configs).",
            );
        alias: Option<String> = optional(AttrType::String)
            .describe("A friendly name; changed in place.");
        role_configuration: Option<RoleConfigurationIn> = optional(AttrType::map_of(AttrType::String))
            .check(role_configuration_keys)
            .describe(
                "Cross-account: { source_role_arn, target_role_arn } when the workspace is in another account. \
                 The source role (this account) trusts scraper.aps.amazonaws.com and may assume the target role; \
                 the target role (the workspace's account) trusts the source role with the scraper's ARN as \
                 external id (aws_iam_role_trust_policy sets that once the scraper exists) and may aps:RemoteWrite. \
                 Changed in place.",
            );
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    checks {
        target_role_in_workspace_account: ["role_configuration", "workspace_arn"];
    }
    outputs ScraperOut {
        id: String = computed(AttrType::String)
            .describe("The scraper ID (s-…); `meshmon import` takes it or the ARN.");
        arn: String = computed(AttrType::String);
        role_arn: Option<String> = computed(AttrType::String)
            .describe("The service-linked role the collector uses in the cluster.");
        status: Option<String> = computed(AttrType::String);
    }
}

pub(crate) struct Scraper(Arc<Clients>);

/// What a scraper changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ScraperUpdate {
    /// One UpdateScraper call changes the destination, the configuration
    /// and the alias together.
    Scraper,
    Tags,
}

fn destination(workspace_arn: &str) -> Result<Destination, ProviderError> {
    Ok(Destination::AmpConfiguration(
        AmpConfiguration::builder()
            .workspace_arn(workspace_arn)
            .build()
            .map_err(|e| ProviderError::new(format!("destination: {e}")))?,
    ))
}

fn scraper_outputs(s: &ScraperDescription) -> ScraperOut {
    ScraperOut {
        role_arn: Some(s.role_arn().into()),
        status: s.status().map(|s| s.status_code().as_str().to_string()),
        ..made(s.scraper_id(), s.arn())
    }
}

/// A scraper AMP has made, known by its ID and ARN alone until it is
/// described.
fn made(id: &str, arn: &str) -> ScraperOut {
    ScraperOut {
        id: id.into(),
        arn: arn.into(),
        role_arn: None,
        status: None,
    }
}

/// A list the scraper's source holds, in the order of `prior`; with no
/// prior (an import), in the order AWS keeps, which is the order the
/// scraper was created with: sorting it would read as a change of a
/// `force_new` list, and plan a replacement of what was just imported.
fn as_listed(prior: &Map, key: &str, actual: Vec<String>) -> Vec<String> {
    if prior.contains_key(key) {
        order_like(prior, key, actual)
    } else {
        actual
    }
}

impl Scraper {
    async fn describe(&self, id: &str) -> Result<Option<ScraperDescription>, ProviderError> {
        let out = found(
            "aps:DescribeScraper",
            self.0.amp.describe_scraper().scraper_id(id).send().await,
        )?;
        Ok(out.and_then(|o| o.scraper))
    }

    /// What a create does once AMP has the scraper: waits for ACTIVE and
    /// returns the outputs, or what exists (`first`) as a partial result.
    async fn finish(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, ScraperIn>,
        first: ScraperOut,
    ) -> Result<ScraperOut, ProviderError> {
        match self.wait_active(ctx, &first.id).await {
            Ok(s) => Ok(scraper_outputs(&s)),
            Err(e) => Err(e.with_partial(i.partial(first))),
        }
    }

    /// The scraper this create made, if AMP lists it: one with the
    /// create's marks that is not being deleted.
    async fn find(&self, ctx: &OpContext) -> Result<Option<ScraperSummary>, ProviderError> {
        required_marks(ctx)?;
        let mut mine = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .0
                .amp
                .list_scrapers()
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| api("aps:ListScrapers", e))?;
            for s in out.scrapers() {
                if s.status().map(|s| s.status_code()) == Some(&ScraperStatusCode::Deleting) {
                    continue;
                }
                // The list may leave tags out; DescribeScraper has them.
                let tags = match s.tags() {
                    Some(t) => tags_from_map(Some(t)),
                    None => match self.describe(s.scraper_id()).await? {
                        Some(d) => tags_from_map(d.tags()),
                        None => continue,
                    },
                };
                if made_by(ctx, tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                    mine.push(s.clone());
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return only_one(ctx, "scraper", mine, |s| s.scraper_id().to_string());
            }
        }
    }

    /// Waits for ACTIVE after a create or an update.
    async fn wait_active(
        &self,
        ctx: &OpContext,
        id: &str,
    ) -> Result<ScraperDescription, ProviderError> {
        wait::until(
            ctx,
            wait::SCRAPER,
            &format!("scraper {id} to become ACTIVE"),
            || async {
                let s = self
                    .describe(id)
                    .await?
                    .ok_or_else(|| ProviderError::new(format!("scraper {id} disappeared")))?;
                match s.status().map(|s| s.status_code()) {
                    Some(ScraperStatusCode::Active) => Ok(Ok(s)),
                    Some(
                        c @ (ScraperStatusCode::CreationFailed | ScraperStatusCode::UpdateFailed),
                    ) => Err(ProviderError::api(
                        "aps:DescribeScraper",
                        Some(c.as_str().to_string()),
                        s.status_reason()
                            .unwrap_or("the scraper did not become ACTIVE")
                            .to_string(),
                    )
                    .with_hint(
                        "check that the cluster has private endpoint access, its VPC DNS support, \
                         and two subnets in two availability zones",
                    )),
                    c => Ok(Err(format!(
                        "status {}",
                        c.map(|c| c.as_str()).unwrap_or("unknown")
                    ))),
                }
            },
        )
        .await
    }
}

#[async_trait]
impl Declared for Scraper {
    type Inputs = ScraperIn;
    type Outputs = ScraperOut;
    type Client = Clients;
    type Group = ScraperUpdate;
    const UPDATES: &'static [UpdateGroup<ScraperUpdate>] = &[
        (
            ScraperUpdate::Scraper,
            &[
                "workspace_arn",
                "scrape_configuration",
                "alias",
                "role_configuration",
            ],
        ),
        (ScraperUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        Scraper(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<ScraperOut>>, ProviderError> {
        let Some(s) = self.describe(id).await? else {
            return Ok(None);
        };
        // A scraper that is being deleted is as good as gone.
        if s.status().map(|s| s.status_code()) == Some(&ScraperStatusCode::Deleting) {
            return Ok(None);
        }
        // Without an EKS source in the answer, the source's attributes are
        // left out rather than read as empty.
        let eks = s.source().and_then(|s| s.as_eks_configuration().ok());
        let mut inputs = Attrs::new()
            .opt("cluster_arn", eks.map(|e| e.cluster_arn()))
            .opt(
                "subnet_ids",
                eks.map(|e| strings(as_listed(prior, "subnet_ids", e.subnet_ids().to_vec()))),
            );
        if let Some(e) = eks {
            inputs = inputs.unless_empty(
                prior,
                "security_group_ids",
                strings(as_listed(
                    prior,
                    "security_group_ids",
                    e.security_group_ids().to_vec(),
                )),
            );
        }
        let inputs = inputs
            .opt(
                "workspace_arn",
                s.destination()
                    .and_then(|d| d.as_amp_configuration().ok())
                    .map(|a| a.workspace_arn()),
            )
            .opt(
                "scrape_configuration",
                s.scrape_configuration()
                    .and_then(|c| c.as_configuration_blob().ok())
                    .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned()),
            )
            .opt("alias", s.alias())
            .opt(
                "role_configuration",
                s.role_configuration().map(|r| {
                    let mut m = Map::new();
                    m.insert(
                        "source_role_arn".into(),
                        Value::from(r.source_role_arn().unwrap_or_default()),
                    );
                    m.insert(
                        "target_role_arn".into(),
                        Value::from(r.target_role_arn().unwrap_or_default()),
                    );
                    Value::Map(m)
                }),
            )
            .tags(prior, tags_from_map(s.tags()))
            .build();
        Ok(Some(Current::new(inputs, scraper_outputs(&s))))
    }

    /// Takes the ARN (arn:aws:aps:REGION:ACCOUNT:scraper/s-…) or the ID.
    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        Ok(last_segment(id).to_string())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, ScraperIn>,
    ) -> Result<ScraperOut, ProviderError> {
        refuse(
            "scrape_configuration",
            amp_checks::scrape_configuration(&i.scrape_configuration),
            SCRAPE_HINT,
        )?;
        let source = Source::EksConfiguration(
            EksConfiguration::builder()
                .cluster_arn(&i.cluster_arn)
                .set_subnet_ids(Some(i.subnet_ids.clone()))
                .set_security_group_ids(
                    (!i.security_group_ids.is_empty()).then(|| i.security_group_ids.clone()),
                )
                .build()
                .map_err(|e| ProviderError::new(format!("source: {e}")))?,
        );
        let dest = destination(&i.workspace_arn)?;
        let tags = tags_hash_map(&creation_tags(ctx, &i.tags));
        let out = wait::create_call(ctx, "aps:CreateScraper", || {
            self.0
                .create
                .amp
                .create_scraper()
                .set_alias(i.alias.clone())
                .set_role_configuration(i.role_configuration.as_ref().map(role_configuration))
                .source(source.clone())
                .destination(dest.clone())
                .scrape_configuration(ScrapeConfiguration::ConfigurationBlob(Blob::new(
                    i.scrape_configuration.as_bytes(),
                )))
                .set_tags(tags.clone())
                .set_client_token(ctx.client_token().map(str::to_string))
                .send()
        })
        .await?;
        self.finish(ctx, i, made(out.scraper_id(), out.arn())).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, ScraperIn>,
    ) -> Result<Option<ScraperOut>, ProviderError> {
        let Some(s) = wait::find_settled(wait::RECOVER_SETTLE, || self.find(ctx)).await? else {
            return Ok(None);
        };
        self.finish(ctx, i, made(s.scraper_id(), s.arn()))
            .await
            .map(Some)
    }

    /// Either group waits for ACTIVE after its change.
    async fn update(
        &self,
        ctx: &OpContext,
        group: ScraperUpdate,
        id: &str,
        prior: &Current,
        i: &Inputs<'_, ScraperIn>,
    ) -> Result<Option<ScraperOut>, ProviderError> {
        match group {
            ScraperUpdate::Scraper => {
                let inputs = i.raw();
                let config = changed(&prior.inputs, inputs, "scrape_configuration");
                let dest = changed(&prior.inputs, inputs, "workspace_arn");
                let alias = changed(&prior.inputs, inputs, "alias");
                let roles = changed(&prior.inputs, inputs, "role_configuration");
                if config {
                    refuse(
                        "scrape_configuration",
                        amp_checks::scrape_configuration(&i.scrape_configuration),
                        SCRAPE_HINT,
                    )?;
                }
                if config || dest || alias || roles {
                    let mut req = self.0.amp.update_scraper().scraper_id(id);
                    if config {
                        req = req.scrape_configuration(ScrapeConfiguration::ConfigurationBlob(
                            Blob::new(i.scrape_configuration.as_bytes()),
                        ));
                    }
                    if dest {
                        req = req.destination(destination(&i.workspace_arn)?);
                    }
                    if alias {
                        // Left out, the alias is cleared.
                        req = req.alias(i.alias.clone().unwrap_or_default());
                    }
                    // A destination in another account is written with the
                    // roles; AMP takes both together.
                    if roles || dest {
                        req = req.set_role_configuration(
                            i.role_configuration.as_ref().map(role_configuration),
                        );
                    }
                    req.send().await.map_err(|e| api("aps:UpdateScraper", e))?;
                }
            }
            ScraperUpdate::Tags => {
                let arn = str_of(&prior.outputs, "arn")?;
                retag_by_arn!(self.0.amp, "aps", arn, prior, &i.tags).await?
            }
        }
        Ok(Some(scraper_outputs(&self.wait_active(ctx, id).await?)))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        gone_ok(
            "aps:DeleteScraper",
            self.0.amp.delete_scraper().scraper_id(id).send().await,
        )?;
        wait::until(
            ctx,
            wait::SCRAPER,
            &format!("scraper {id} to be deleted"),
            || async {
                Ok(match self.describe(id).await? {
                    None => Ok(()),
                    Some(s) => match s.status().map(|s| s.status_code()) {
                        Some(ScraperStatusCode::DeletionFailed) => {
                            return Err(ProviderError::api(
                                "aps:DescribeScraper",
                                Some("DELETION_FAILED".into()),
                                s.status_reason()
                                    .unwrap_or("the scraper could not be deleted")
                                    .to_string(),
                            ));
                        }
                        c => Err(format!(
                            "status {}",
                            c.map(|c| c.as_str()).unwrap_or("unknown")
                        )),
                    },
                })
            },
        )
        .await
    }
}

// ---------------------------------------- aws_amp_alert_manager_definition

declare! {
    pub(crate) struct DefinitionIn for "aws_amp_alert_manager_definition"
        ("The Alertmanager of an AMP workspace: routes the alerts of its rule groups to SNS.")
    {
        workspace_id: String = required(AttrType::String).force_new();
        definition: String = required(AttrType::Yaml)
            .check(|v| refused(v, amp_checks::alertmanager_definition))
            .describe(
                "YAML with `alertmanager_config` (and optionally `template_files`); receivers use only sns_configs, \
             each with topic_arn and sigv4.region; compared as data; changed in place.",
            );
    }
    outputs DefinitionOut {
        id: String = computed(AttrType::String)
            .describe("The workspace ID; `meshmon import` takes it.");
        status: Option<String> = computed(AttrType::String);
    }
}

pub(crate) struct AlertManagerDefinition(Arc<Clients>);

/// A definition's outputs: it is known by its workspace.
fn definition_outputs(ws: &str, status: Option<&str>) -> DefinitionOut {
    DefinitionOut {
        id: ws.into(),
        status: status.map(str::to_string),
    }
}

/// What a definition changes in place: the one document.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DefinitionUpdate {
    Definition,
}

const ALERTMANAGER_HINT: &str = "AMP's Alertmanager sends only to SNS: receivers with sns_configs, each with topic_arn and sigv4 { region }";

impl AlertManagerDefinition {
    async fn describe(
        &self,
        ws: &str,
    ) -> Result<Option<aws_sdk_amp::types::AlertManagerDefinitionDescription>, ProviderError> {
        let out = found(
            "aps:DescribeAlertManagerDefinition",
            self.0
                .amp
                .describe_alert_manager_definition()
                .workspace_id(ws)
                .send()
                .await,
        )?;
        Ok(out.and_then(|o| o.alert_manager_definition))
    }

    /// What a create does once AMP has the definition: waits for ACTIVE
    /// and returns the outputs, or what exists as a partial result.
    async fn finish(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, DefinitionIn>,
    ) -> Result<DefinitionOut, ProviderError> {
        let ws = &i.workspace_id;
        match self.wait_active(ctx, ws).await {
            Ok(out) => Ok(out),
            Err(e) => Err(e.with_partial(i.partial(definition_outputs(ws, None)))),
        }
    }

    async fn wait_active(&self, ctx: &OpContext, ws: &str) -> Result<DefinitionOut, ProviderError> {
        wait::until(
            ctx,
            wait::SHORT,
            &format!("the Alertmanager definition of {ws} to become ACTIVE"),
            || async {
                let d = self.describe(ws).await?.ok_or_else(|| {
                    ProviderError::new(format!("the Alertmanager definition of {ws} disappeared"))
                })?;
                let status = d.status();
                match status.map(|s| s.status_code()) {
                    Some(AlertManagerDefinitionStatusCode::Active) | None => {
                        Ok(Ok(definition_outputs(ws, Some("ACTIVE"))))
                    }
                    Some(
                        c @ (AlertManagerDefinitionStatusCode::CreationFailed
                        | AlertManagerDefinitionStatusCode::UpdateFailed),
                    ) => Err(ProviderError::api(
                        "aps:DescribeAlertManagerDefinition",
                        Some(c.as_str().to_string()),
                        status
                            .and_then(|s| s.status_reason())
                            .unwrap_or("the definition was rejected")
                            .to_string(),
                    )
                    .with_hint(ALERTMANAGER_HINT)),
                    Some(c) => Ok(Err(format!("status {}", c.as_str()))),
                }
            },
        )
        .await
    }
}

#[async_trait]
impl Declared for AlertManagerDefinition {
    type Inputs = DefinitionIn;
    type Outputs = DefinitionOut;
    type Client = Clients;
    type Group = DefinitionUpdate;
    const UPDATES: &'static [UpdateGroup<DefinitionUpdate>] =
        &[(DefinitionUpdate::Definition, &["definition"])];

    fn new(clients: Arc<Clients>) -> Self {
        AlertManagerDefinition(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        ws: &str,
        _prior: &Map,
    ) -> Result<Option<Current<DefinitionOut>>, ProviderError> {
        let Some(d) = self.describe(ws).await? else {
            return Ok(None);
        };
        if d.status().map(|s| s.status_code()) == Some(&AlertManagerDefinitionStatusCode::Deleting)
        {
            return Ok(None);
        }
        let inputs = Attrs::new()
            .set("workspace_id", ws)
            .set(
                "definition",
                String::from_utf8_lossy(d.data().as_ref()).into_owned(),
            )
            .build();
        let status = d.status().map(|s| s.status_code().as_str());
        Ok(Some(Current::new(inputs, definition_outputs(ws, status))))
    }

    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        Ok(last_segment(id).to_string())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, DefinitionIn>,
    ) -> Result<DefinitionOut, ProviderError> {
        refuse(
            "definition",
            amp_checks::alertmanager_definition(&i.definition),
            ALERTMANAGER_HINT,
        )?;
        // A workspace that is still CREATING answers ConflictException.
        wait::retry_transient(ctx, wait::SHORT, workspace_busy, || {
            wait::create_call(ctx, "aps:CreateAlertManagerDefinition", || {
                self.0
                    .create
                    .amp
                    .create_alert_manager_definition()
                    .workspace_id(&i.workspace_id)
                    .data(Blob::new(i.definition.as_bytes()))
                    .set_client_token(ctx.client_token().map(str::to_string))
                    .send()
            })
        })
        .await?;
        self.finish(ctx, i).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, DefinitionIn>,
    ) -> Result<Option<DefinitionOut>, ProviderError> {
        let ws = &i.workspace_id;
        match self.describe(ws).await? {
            // One being deleted is an earlier definition's end, not this create.
            Some(d)
                if d.status().map(|s| s.status_code())
                    == Some(&AlertManagerDefinitionStatusCode::Deleting) =>
            {
                Ok(None)
            }
            Some(_) => self.finish(ctx, i).await.map(Some),
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        ctx: &OpContext,
        group: DefinitionUpdate,
        _ws: &str,
        _prior: &Current,
        i: &Inputs<'_, DefinitionIn>,
    ) -> Result<Option<DefinitionOut>, ProviderError> {
        let DefinitionUpdate::Definition = group;
        refuse(
            "definition",
            amp_checks::alertmanager_definition(&i.definition),
            ALERTMANAGER_HINT,
        )?;
        wait::retry_transient(ctx, wait::SHORT, workspace_busy, || async {
            self.0
                .amp
                .put_alert_manager_definition()
                .workspace_id(&i.workspace_id)
                .data(Blob::new(i.definition.as_bytes()))
                .send()
                .await
                .map_err(|e| api("aps:PutAlertManagerDefinition", e))
        })
        .await?;
        self.wait_active(ctx, &i.workspace_id).await.map(Some)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        ws: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        gone_ok(
            "aps:DeleteAlertManagerDefinition",
            self.0
                .amp
                .delete_alert_manager_definition()
                .workspace_id(ws)
                .send()
                .await,
        )?;
        wait::until(
            ctx,
            wait::SHORT,
            &format!("the Alertmanager definition of {ws} to be deleted"),
            || async {
                Ok(match self.describe(ws).await? {
                    None => Ok(()),
                    Some(_) => Err("status DELETING".to_string()),
                })
            },
        )
        .await
    }
}

#[cfg(test)]
#[path = "amp_scraper_test.rs"]
mod tests;
