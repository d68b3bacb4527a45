//! The provider API: one trait for a provider (configuration and the types it
//! offers) and one for a resource type's operations. A resource that is gone
//! is `Ok(None)` from `read`, never an error — drift detection depends on it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::current::Current;
use crate::error::ProviderError;
use crate::schema::Schema;
use crate::value::Map;

/// Context for one operation on one resource.
#[derive(Clone)]
pub struct OpContext {
    /// The resource's address (`TYPE.NAME`), for messages.
    pub address: String,
    /// The spec's `timeouts` entry for this operation, if any. The engine
    /// enforces it too; providers use it to bound their own waits.
    pub timeout: Option<Duration>,
    /// For a create: the intent the engine journaled before starting it.
    pub intent: Option<Intent>,
    /// The state's lineage outside a create (a plan's look-ahead), when
    /// known; a create's is its intent's.
    lineage: Option<String>,
    progress: Arc<dyn Fn(&str) + Send + Sync>,
}

/// What a create is known by before it starts, so that the object it makes
/// can be found again after a crash or a lost answer. The engine journals
/// the intent first; a retry after a crash carries the same intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// The idempotency token: unique per create, the same on every retry
    /// of it (at most 64 characters of `[0-9a-f-]`, which every AWS client
    /// token and Kubernetes label value accepts).
    pub token: String,
    /// The state's lineage: which environment the object belongs to.
    pub lineage: String,
}

/// The prefix of the tags (labels) meshmon puts on the objects it creates
/// where their names are not unique. Reads leave them out: they are not the
/// user's, and never show as drift.
pub const OWNERSHIP_TAG_PREFIX: &str = "meshmon:";
/// Ownership tag: the state lineage the object belongs to.
pub const LINEAGE_TAG: &str = "meshmon:lineage";
/// Ownership tag: the address of the resource that made the object.
pub const ADDRESS_TAG: &str = "meshmon:address";
/// Ownership tag: the token of the create that made the object. Lineage and
/// address alone also fit the object an earlier create at the same address
/// made (the old half of a `create_before_destroy` replace).
pub const TOKEN_TAG: &str = "meshmon:token";

impl OpContext {
    pub fn new(
        address: impl Into<String>,
        timeout: Option<Duration>,
        progress: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Self {
        OpContext {
            address: address.into(),
            timeout,
            intent: None,
            lineage: None,
            progress,
        }
    }

    /// The same context, in the environment of lineage `lineage`.
    pub fn in_lineage(mut self, lineage: impl Into<String>) -> Self {
        self.lineage = Some(lineage.into());
        self
    }

    /// The lineage of the environment this operation works for: the
    /// create's intent's, or the one given by [`in_lineage`](Self::in_lineage).
    pub fn lineage(&self) -> Option<&str> {
        match &self.intent {
            Some(i) => Some(i.lineage.as_str()),
            None => self.lineage.as_deref(),
        }
    }

    /// The same context, for a create known by `intent`.
    pub fn with_intent(mut self, intent: Intent) -> Self {
        self.intent = Some(intent);
        self
    }

    /// The create's idempotency token, for APIs that take one (EKS
    /// `clientRequestToken`, AMP and AMG `clientToken`).
    pub fn client_token(&self) -> Option<&str> {
        self.intent.as_ref().map(|i| i.token.as_str())
    }

    /// The tags that mark an object as this create's: `meshmon:lineage`,
    /// `meshmon:address` and `meshmon:token`. Empty outside a create.
    pub fn ownership_tags(&self) -> Vec<(String, String)> {
        match &self.intent {
            Some(i) => vec![
                (LINEAGE_TAG.to_string(), i.lineage.clone()),
                (ADDRESS_TAG.to_string(), address_tag_value(&self.address)),
                (TOKEN_TAG.to_string(), i.token.clone()),
            ],
            None => Vec::new(),
        }
    }

    /// Whether `tags` mark an object as this create's: all three ownership
    /// tags, with this create's values.
    pub fn owns<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let Some(intent) = &self.intent else {
            return false;
        };
        let (mut lineage, mut address, mut token) = (false, false, false);
        let marked = address_tag_value(&self.address);
        for (k, v) in tags {
            lineage |= k == LINEAGE_TAG && v == intent.lineage;
            address |= k == ADDRESS_TAG && v == marked;
            token |= k == TOKEN_TAG && v == intent.token;
        }
        lineage && address && token
    }

    /// A context that reports nowhere (tests, refresh).
    pub fn quiet(address: impl Into<String>) -> Self {
        Self::new(address, None, Arc::new(|_| {}))
    }

    /// Reports what a long operation is waiting for ("status CREATING").
    pub fn progress(&self, message: &str) {
        (self.progress)(message)
    }
}

/// The value of the `meshmon:address` tag for `address`: the address
/// itself when every character is one that cloud tag values take (letters,
/// digits, space and `_ . : / + - @`, as IAM's `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
/// and the other AWS services' allow), otherwise with each other byte —
/// and `=` — written `=XX` in hex: `aws_iam_role.r["dev"]` is
/// `aws_iam_role.r=5B=22dev=22=5D`. One address, one value, and back.
pub fn address_tag_value(address: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_.:/+-@ ".contains(c);
    if address.chars().all(plain) {
        return address.to_string();
    }
    let mut out = String::with_capacity(address.len() + 16);
    for c in address.chars() {
        if plain(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("={b:02X}"));
            }
        }
    }
    out
}

/// A provider's extra say in a plan, beyond the schema's `force_new`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanAdvice {
    /// Forces a replacement even though no input changed (an expiring token).
    pub replace_because: Option<String>,
    /// Notes shown under the resource in the plan ("email needs confirmation").
    pub notes: Vec<String>,
    /// Computed attributes an in-place update will change (a file's sha256).
    pub unknown_after_update: Vec<String>,
}

/// One resource type's operations.
#[cfg(test)]
mod tests {
    use super::address_tag_value;

    #[test]
    fn address_tags_keep_plain_addresses_and_escape_keys_into_what_tags_take() {
        assert_eq!(address_tag_value("aws_vpc.main"), "aws_vpc.main");
        let keyed = address_tag_value("component.m[\"prod\"].aws_iam_role.r[\"a=b é\"]");
        assert_eq!(
            keyed,
            "component.m=5B=22prod=22=5D.aws_iam_role.r=5B=22a=3Db =C3=A9=22=5D"
        );
        assert!(
            keyed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.:/=+-@ ".contains(c))
        );
        assert_ne!(
            address_tag_value("a.b[\"x\"]"),
            address_tag_value("a.b=5B=22x=22=5D")
        );
    }
}

#[async_trait]
pub trait Resource: Send + Sync {
    /// Creates the resource from fully known inputs; returns computed outputs.
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError>;

    /// Reads the live resource. `Ok(None)` means it no longer exists.
    async fn read(
        &self,
        ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError>;

    /// Updates in place; returns the new outputs.
    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError>;

    /// Deletes the resource and waits until it is gone.
    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError>;

    /// Finds the object that a create with these `inputs` made although
    /// its answer never arrived (the process was killed, the answer was
    /// lost), waits for it to be ready as `create` would, and returns its
    /// outputs as `create` would. `Ok(None)`: no such object, so the create
    /// can safely run again.
    ///
    /// Only an object this create made may be returned: one found by a name
    /// the API keeps unique, by `ctx.client_token()`, or by the tags of
    /// `ctx.ownership_tags()` — never an object that merely looks alike.
    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError>;

    /// Adopts an existing object by its ID. `Ok(None)` when it does not exist.
    async fn import(&self, ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError>;

    /// Advice for the plan; `prior` is `None` for a create.
    fn advise(&self, _prior: Option<&Current>, _desired: &Map) -> PlanAdvice {
        PlanAdvice::default()
    }

    /// Whether [`look_ahead`](Self::look_ahead) has anything to say: the
    /// plan asks only the types that do.
    fn looks_ahead(&self) -> bool {
        false
    }

    /// Notes for the plan of a create whose inputs are all known, from
    /// what the cloud says now (an object the service will make by itself,
    /// which the create would collide with). Called at plan time with a
    /// short deadline; an error becomes a note, never a failed plan. Most
    /// types have nothing to look at.
    async fn look_ahead(
        &self,
        _ctx: &OpContext,
        _desired: &Map,
    ) -> Result<Vec<String>, ProviderError> {
        Ok(Vec::new())
    }
}

/// One look-up type's operation: finding an object that exists (see
/// [`crate::lookup`]).
#[async_trait]
pub trait Lookup: Send + Sync {
    /// Finds the one object `inputs` (every value known) describe and
    /// returns what it found: the computed attributes, and settable ones
    /// the search left out and the object has.
    async fn find(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError>;
}

/// How one service a provider talks to has answered in this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traffic {
    /// The service as the provider names it (`eks eu-west-1`).
    pub service: String,
    pub calls: u64,
    /// Calls the service throttled (each retried until the deadline).
    pub throttled: u64,
    /// How many calls the service takes at once, as the provider settled it.
    pub concurrency: usize,
}

/// A provider after configuration: hands out its resource types.
pub trait Configured: Send + Sync {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>>;

    /// The look-up `type_name`, for a provider that offers look-ups.
    fn lookup(&self, _type_name: &str) -> Option<Arc<dyn Lookup>> {
        None
    }
}

/// A provider: its configuration schema, its resource schemas, and how to
/// configure it. Configuration happens when every value it needs is known,
/// which may be in the middle of an apply.
#[async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;

    /// The `[providers.NAME]` block this provider is configured from. Two
    /// providers may share one (the Amazon Managed Grafana control plane
    /// reads `[providers.aws]` like every other AWS service); the first
    /// registered owns the block's schema.
    fn config_block(&self) -> &'static str {
        self.name()
    }

    fn config_schema(&self) -> Schema;

    fn resource_schemas(&self) -> Vec<Schema>;

    /// The look-ups' schemas (`[data.TYPE.NAME]`): types that only read.
    fn lookup_schemas(&self) -> Vec<Schema> {
        Vec::new()
    }

    /// Checks that need no network and no configuration, run at plan time
    /// for every resource type the spec uses (a missing helper binary).
    fn preflight(&self, _type_name: &str) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn configure(&self, config: &Map) -> Result<Arc<dyn Configured>, ProviderError>;

    /// How the services this provider talks to have answered so far
    /// (calls, throttles, the concurrency each settled at).
    fn traffic(&self) -> Vec<Traffic> {
        Vec::new()
    }

    /// The codes of the warnings [`lint`](Self::lint) gives.
    fn warning_codes(&self) -> &'static [crate::lint::WarningCode] {
        &[]
    }

    /// What a resource as written tells about the world (see
    /// [`crate::lint::Facts`]), for every provider's lint.
    fn facts(&self, _resource: &crate::lint::Written<'_>) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Warnings about a resource as written, as of `today` (`YYYY-MM-DD`):
    /// components past their end of life, and the like.
    fn lint(
        &self,
        _resource: &crate::lint::Written<'_>,
        _today: &str,
        _facts: &crate::lint::Facts,
    ) -> Vec<crate::lint::Finding> {
        Vec::new()
    }
}
