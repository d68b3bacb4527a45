//! The `aws` provider's look-ups (`[data.aws_*.NAME]`): existing objects
//! found by the keys the spec gives, read and never changed. Each has the
//! type name and the attribute names of the resource type it finds, where
//! there is one; one file per service, as the resources are split.

mod amp;
mod eks;
mod iam;
mod network;
mod sns;

use std::sync::Arc;

use meshmon_provider_sdk::{
    DeclaredLookup, Inputs, OpContext, ProviderError, async_trait, declare,
};

use crate::Clients;

pub(crate) use amp::WorkspaceLookup;
pub(crate) use eks::ClusterLookup;
pub(crate) use iam::OidcProviderLookup;
pub(crate) use network::{SubnetsLookup, VpcLookup};
pub(crate) use sns::TopicLookup;

// ---------------------------------------------------- aws_caller_identity

declare! {
    /// Nothing to search by: the identity is the caller's.
    pub(crate) struct CallerIdentityIn for "aws_caller_identity" (
        "Who meshmon runs as (sts:GetCallerIdentity): the account, its partition and the caller's ARN."
    ) {}
    outputs CallerIdentityOut {
        account_id: String = computed(AttrType::String).describe("The 12-digit account ID.");
        partition: String = computed(AttrType::String)
            .describe("`aws`, `aws-cn` or `aws-us-gov`, from the caller's ARN.");
        arn: String = computed(AttrType::String).describe(
            "The caller's ARN: an IAM user's, or an assumed role's session \
             (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).",
        );
    }
}

pub(crate) struct CallerIdentity(Arc<Clients>);

#[async_trait]
impl DeclaredLookup for CallerIdentity {
    type Inputs = CallerIdentityIn;
    type Outputs = CallerIdentityOut;
    type Client = Clients;

    fn new(client: Arc<Clients>) -> Self {
        CallerIdentity(client)
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        _inputs: &Inputs<'_, CallerIdentityIn>,
    ) -> Result<CallerIdentityOut, ProviderError> {
        let caller = &self.0.caller;
        Ok(CallerIdentityOut {
            account_id: caller.account_id().await?.to_string(),
            partition: caller.partition().await?.to_string(),
            arn: caller.caller_arn().await?.to_string(),
        })
    }
}
