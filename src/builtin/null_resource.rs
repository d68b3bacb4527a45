//! `null_resource`: does nothing remotely. `triggers` force a replacement,
//! `inputs` update in place and read back as the attribute `inputs`.

use std::sync::Arc;

use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};

declare! {
    #[allow(dead_code)]
    pub(super) struct NullIn for "null_resource"
        ("A resource with no remote object. Useful to order work and to pass values along.")
    {
        triggers: Option<Map> = optional(AttrType::map_of(AttrType::String))
            .force_new()
            .describe("Any change to these values replaces the resource.");
        inputs: Option<Value> = optional(AttrType::Any)
            .describe("Any value; updated in place and readable as `inputs`.");
    }
    outputs {
        id = computed(AttrType::String).describe("A random ID assigned at creation.");
    }
}

pub(super) struct NullResource;

#[derive(Clone, Copy, Debug)]
pub(super) enum NullUpdate {
    Inputs,
}

#[async_trait]
impl Declared for NullResource {
    type Inputs = NullIn;
    type Outputs = Map;
    type Client = ();
    type Group = NullUpdate;
    const UPDATES: &'static [UpdateGroup<NullUpdate>] = &[(NullUpdate::Inputs, &["inputs"])];

    fn new(_: Arc<()>) -> Self {
        NullResource
    }

    /// There is nothing outside the state: the object is what was recorded.
    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current>, ProviderError> {
        Ok(Some(Current::new(
            prior.clone(),
            super::outputs([("id", Value::from(id))]),
        )))
    }

    async fn create(&self, _ctx: &OpContext, _: &Inputs<'_, NullIn>) -> Result<Map, ProviderError> {
        Ok(super::outputs([("id", Value::String(super::random_id()))]))
    }

    /// Nothing outside the state: an interrupted create left nothing to
    /// find, and creating again is harmless.
    async fn recover(
        &self,
        _ctx: &OpContext,
        _: &Inputs<'_, NullIn>,
    ) -> Result<Option<Map>, ProviderError> {
        Ok(None)
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: NullUpdate,
        _id: &str,
        _prior: &Current,
        _: &Inputs<'_, NullIn>,
    ) -> Result<Option<Map>, ProviderError> {
        let NullUpdate::Inputs = group;
        Ok(None)
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        _id: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}
