//! `aws_iam_role_trust_policy`: the trust policy of a role, managed apart
//! from the role.
//!
//! For a trust that names something made after the role. AMP's
//! cross-account managed collector is the case: the workspace account's
//! role must trust the collector's source role with the scraper's ARN as
//! `sts:ExternalId`, the scraper needs that role's ARN to be created, and
//! the scraper's ARN exists only once AMP made it. AMP's guide creates the
//! role with a placeholder and edits its trust afterwards by hand
//! (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-collector-how-to.html#cross-account-remote-write);
//! here the role is made with its placeholder, the scraper with the role's
//! ARN, then this resource, which needs the scraper's ARN, sets the real
//! trust, all in one apply. The role keeps
//! `lifecycle = { ignore_changes = ["assume_role_policy"] }`.
//!
//! Create records the trust it replaced, and delete puts it back when the
//! role still exists: what was there before is not lost.

use std::sync::Arc;

use meshmon_aws_common::error::found;
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, Value, async_trait, declare,
};

use crate::Clients;
use crate::attrs::Attrs;
use crate::policy;

declare! {
    pub(crate) struct TrustIn for "aws_iam_role_trust_policy" (
        "The trust policy of an existing role, set apart from the role: for a trust that names \
         something made after the role (a scraper's ARN as external id). Delete puts back the trust it replaced."
    ) {
        role_name: String = required(AttrType::String)
            .force_new()
            .describe("The role whose trust this sets; its own `assume_role_policy` should be in its `ignore_changes`.");
        policy: Value = required(AttrType::Json)
            .describe("Who may assume the role (a table or a JSON string); changed in place.");
    }
    outputs TrustOut {
        id: String = computed(AttrType::String).describe("The role's name.");
        replaced_policy: Option<String> = computed(AttrType::String)
            .describe("The trust the role had before, put back by delete.");
    }
}

pub(crate) struct Trust(Arc<Clients>);

/// What a trust policy changes in place: the one document.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TrustUpdate {
    Policy,
}

impl Trust {
    /// The role's trust as IAM returns it, decoded; `None` when the role
    /// is gone.
    async fn trust_of(&self, name: &str) -> Result<Option<serde_json::Value>, ProviderError> {
        let out = found(
            "iam:GetRole",
            self.0.iam.get_role().role_name(name).send().await,
        )?;
        match out.and_then(|o| o.role) {
            None => Ok(None),
            Some(role) => match role.assume_role_policy_document() {
                Some(d) => policy::from_aws(d).map(Some),
                None => Ok(Some(serde_json::Value::Null)),
            },
        }
    }

    async fn put(&self, ctx: &OpContext, name: &str, doc: &str) -> Result<(), ProviderError> {
        policy::put_trust(ctx, &self.0.iam, name, doc).await
    }
}

fn missing_role(name: &str) -> ProviderError {
    ProviderError::new(format!("role {name:?} does not exist")).with_hint(
        "make the role first (its `name` here, or `depends_on` the aws_iam_role that makes it)",
    )
}

#[async_trait]
impl Declared for Trust {
    type Inputs = TrustIn;
    type Outputs = TrustOut;
    type Client = Clients;
    type Group = TrustUpdate;
    const UPDATES: &'static [meshmon_provider_sdk::UpdateGroup<TrustUpdate>] =
        &[(TrustUpdate::Policy, &["policy"])];

    fn new(clients: Arc<Clients>) -> Self {
        Trust(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        name: &str,
        prior: &Map,
    ) -> Result<Option<Current<TrustOut>>, ProviderError> {
        let Some(doc) = self.trust_of(name).await? else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .set("role_name", name)
            .set("policy", policy::like(prior.get("policy"), doc))
            .build();
        Ok(Some(Current::new(
            inputs,
            TrustOut {
                id: name.into(),
                replaced_policy: None,
            },
        )))
    }

    /// The trust the create replaced is known only from the record.
    async fn read(
        &self,
        ctx: &OpContext,
        name: &str,
        prior: &Current,
    ) -> Result<Option<Current<TrustOut>>, ProviderError> {
        let replaced = prior
            .outputs
            .get("replaced_policy")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(self.fetch(ctx, name, &prior.inputs).await?.map(|mut c| {
            c.outputs.replaced_policy = replaced;
            c
        }))
    }

    /// Takes the role's name or ARN.
    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        Ok(meshmon_aws_common::identity::last_segment(id).to_string())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, TrustIn>,
    ) -> Result<TrustOut, ProviderError> {
        let Some(before) = self.trust_of(&i.role_name).await? else {
            return Err(missing_role(&i.role_name));
        };
        let doc = policy::to_aws(&i.policy)?;
        self.put(ctx, &i.role_name, &doc).await?;
        Ok(TrustOut {
            id: i.role_name.clone(),
            replaced_policy: (!before.is_null()).then(|| before.to_string()),
        })
    }

    /// Setting a trust is idempotent: a create whose answer was lost is
    /// made again.
    async fn recover(
        &self,
        _ctx: &OpContext,
        _i: &Inputs<'_, TrustIn>,
    ) -> Result<Option<TrustOut>, ProviderError> {
        Ok(None)
    }

    async fn update(
        &self,
        ctx: &OpContext,
        group: TrustUpdate,
        name: &str,
        _prior: &Current,
        i: &Inputs<'_, TrustIn>,
    ) -> Result<Option<TrustOut>, ProviderError> {
        match group {
            TrustUpdate::Policy => self.put(ctx, name, &policy::to_aws(&i.policy)?).await?,
        }
        Ok(None)
    }

    /// Puts back the trust the create replaced, if the role is still
    /// there; a role already deleted needs nothing.
    async fn delete(
        &self,
        ctx: &OpContext,
        name: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        if self.trust_of(name).await?.is_none() {
            return Ok(());
        }
        if let Some(before) = prior.outputs.get("replaced_policy").and_then(Value::as_str) {
            self.put(ctx, name, before).await?;
        }
        Ok(())
    }
}
