//! `null_resource`: does nothing remotely. `triggers` force a replacement,
//! `inputs` update in place and read back as the attribute `inputs`.

use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, Value,
    async_trait,
};

pub fn schema() -> Schema {
    Schema::new(
        "null_resource",
        "A resource with no remote object. Useful to order work and to pass values along.",
    )
    .attr(
        Attribute::optional("triggers", AttrType::map_of(AttrType::String))
            .force_new()
            .describe("Any change to these values replaces the resource."),
    )
    .attr(
        Attribute::optional("inputs", AttrType::Any)
            .describe("Any value; updated in place and readable as `inputs`."),
    )
    .attr(Attribute::computed("id", AttrType::String).describe("A random ID assigned at creation."))
}

pub struct NullResource;

#[async_trait]
impl Resource for NullResource {
    /// Nothing outside the state: an interrupted create left nothing to
    /// find, and creating again is harmless.
    async fn recover(&self, _ctx: &OpContext, _inputs: &Map) -> Result<Option<Map>, ProviderError> {
        Ok(None)
    }

    async fn create(&self, _ctx: &OpContext, _inputs: &Map) -> Result<Map, ProviderError> {
        Ok(super::outputs([("id", Value::String(super::random_id()))]))
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        Ok(Some(prior.clone()))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        prior: &Current,
        _inputs: &Map,
    ) -> Result<Map, ProviderError> {
        Ok(prior.outputs.clone())
    }

    async fn delete(&self, _ctx: &OpContext, _prior: &Current) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        Ok(Some(Current::new(
            Map::new(),
            super::outputs([("id", Value::from(id))]),
        )))
    }
}
