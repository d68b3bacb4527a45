//! `time_sleep`: waits on create and on destroy. Changing a duration updates
//! in place without sleeping (the wait already happened); `triggers` force a
//! replacement, which sleeps again.

use std::time::Duration;

use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, Value,
    async_trait,
};

pub fn schema() -> Schema {
    Schema::new(
        "time_sleep",
        "Waits for a while when created and when destroyed.",
    )
    .attr(
        Attribute::optional("create_duration", AttrType::String)
            .check(super::checks::duration)
            .describe("How long to wait on create, like \"30s\"."),
    )
    .attr(
        Attribute::optional("destroy_duration", AttrType::String)
            .check(super::checks::duration)
            .describe("How long to wait on destroy."),
    )
    .attr(
        Attribute::optional("triggers", AttrType::map_of(AttrType::String))
            .force_new()
            .describe("Any change to these values replaces the resource (and sleeps again)."),
    )
    .attr(
        Attribute::computed("id", AttrType::String).describe("When the sleep finished (RFC 3339)."),
    )
}

pub struct TimeSleep;

fn duration(inputs: &Map, key: &str) -> Result<Duration, ProviderError> {
    match inputs.get(key).and_then(Value::as_str) {
        None => Ok(Duration::ZERO),
        Some(s) => humantime::parse_duration(s).map_err(|_| {
            ProviderError::new(format!("`{key}` is not a duration"))
                .with_hint("write durations like \"250ms\", \"30s\" or \"5m\"")
        }),
    }
}

#[async_trait]
impl Resource for TimeSleep {
    /// A wait leaves nothing in the world: an interrupted one is waited
    /// again in full.
    async fn recover(&self, _ctx: &OpContext, _inputs: &Map) -> Result<Option<Map>, ProviderError> {
        Ok(None)
    }

    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let d = duration(inputs, "create_duration")?;
        if !d.is_zero() {
            ctx.progress(&format!("sleeping {}", humantime::format_duration(d)));
            tokio::time::sleep(d).await;
        }
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        Ok(super::outputs([("id", Value::String(now))]))
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
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        duration(inputs, "create_duration")?;
        duration(inputs, "destroy_duration")?;
        Ok(prior.outputs.clone())
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let d = duration(&prior.inputs, "destroy_duration")?;
        if !d.is_zero() {
            ctx.progress(&format!("sleeping {}", humantime::format_duration(d)));
            tokio::time::sleep(d).await;
        }
        Ok(())
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        Ok(Some(Current::new(
            Map::new(),
            super::outputs([("id", Value::from(id))]),
        )))
    }
}
