//! Declared types whose read needs more than the recorded inputs.
//!
//! The SDK's [`Declared::fetch`] is given the recorded inputs only. Some
//! types here cannot read themselves from those: a token's key is shown
//! once, at creation, and lives on only in the recorded outputs; a
//! dashboard's content hash and grafana.com revision are what was saved;
//! a contact point's receiver uids say which integration is which. Such a
//! type implements [`FetchRecorded`] as well, which is given the whole
//! record, and registers with [`entry`]: its read goes through
//! `fetch_recorded`, everything else (import, create, recover, update
//! groups, delete, advice) through the SDK's [`Adapter`].

use std::sync::Arc;

use meshmon_provider_sdk::attrs::str_of;
use meshmon_provider_sdk::declared::Adapter;
use meshmon_provider_sdk::{
    Current, Declaration, Declared, Map, OpContext, PlanAdvice, ProviderError, Resource, TypeEntry,
    async_trait,
};

/// A [`Declared`] type whose read is given the whole record.
#[async_trait]
pub(crate) trait FetchRecorded: Declared {
    /// Reads the object known by `id` (the recorded [`Declared::ID`]),
    /// given everything recorded for it.
    async fn fetch_recorded(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError>;
}

/// A [`FetchRecorded`] type as a [`Resource`].
struct Recorded<T>(Adapter<T>);

#[async_trait]
impl<T: FetchRecorded> Resource for Recorded<T> {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        self.0.create(ctx, inputs).await
    }

    async fn read(
        &self,
        ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        let id = str_of(&prior.outputs, T::ID)?;
        self.0.0.fetch_recorded(ctx, id, prior).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        self.0.update(ctx, prior, inputs).await
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        self.0.delete(ctx, prior).await
    }

    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        self.0.recover(ctx, inputs).await
    }

    async fn import(&self, ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        self.0.import(ctx, id).await
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        self.0.advise(prior, desired)
    }
}

/// The registration of a [`FetchRecorded`] type. The SDK's checks of a
/// declaration do not run for it here: the crate's tests run them with
/// [`TypeEntry::declared`].
pub(crate) fn entry<T: FetchRecorded>() -> TypeEntry<T::Client> {
    TypeEntry::custom(T::Inputs::TYPE_NAME, T::Inputs::schema, |c| {
        Arc::new(Recorded(Adapter(T::new(c.clone()))))
    })
}
