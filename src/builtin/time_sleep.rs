//! `time_sleep`: waits on create and on destroy. Changing a duration updates
//! in place without sleeping (the wait already happened); `triggers` force a
//! replacement, which sleeps again.

use std::sync::Arc;
use std::time::Duration;

use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};

declare! {
    #[allow(dead_code)]
    pub(super) struct SleepIn for "time_sleep" ("Waits for a while when created and when destroyed.") {
        create_duration: Option<String> = optional(AttrType::String)
            .check(super::checks::duration)
            .describe("How long to wait on create, like \"30s\".");
        destroy_duration: Option<String> = optional(AttrType::String)
            .check(super::checks::duration)
            .describe("How long to wait on destroy.");
        triggers: Option<Map> = optional(AttrType::map_of(AttrType::String))
            .force_new()
            .describe("Any change to these values replaces the resource (and sleeps again).");
    }
    outputs {
        id = computed(AttrType::String).describe("When the sleep finished (RFC 3339).");
    }
}

pub(super) struct TimeSleep;

#[derive(Clone, Copy, Debug)]
pub(super) enum SleepUpdate {
    Durations,
}

fn duration(value: Option<&str>, key: &str) -> Result<Duration, ProviderError> {
    match value {
        None => Ok(Duration::ZERO),
        Some(s) => humantime::parse_duration(s).map_err(|_| {
            ProviderError::new(format!("`{key}` is not a duration"))
                .with_hint("write durations like \"250ms\", \"30s\" or \"5m\"")
        }),
    }
}

async fn sleep(ctx: &OpContext, d: Duration) {
    if !d.is_zero() {
        ctx.progress(&format!("sleeping {}", humantime::format_duration(d)));
        tokio::time::sleep(d).await;
    }
}

#[async_trait]
impl Declared for TimeSleep {
    type Inputs = SleepIn;
    type Outputs = Map;
    type Client = ();
    type Group = SleepUpdate;
    const UPDATES: &'static [UpdateGroup<SleepUpdate>] = &[(
        SleepUpdate::Durations,
        &["create_duration", "destroy_duration"],
    )];

    fn new(_: Arc<()>) -> Self {
        TimeSleep
    }

    /// A wait leaves nothing in the world: the object is what was recorded.
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

    async fn create(&self, ctx: &OpContext, i: &Inputs<'_, SleepIn>) -> Result<Map, ProviderError> {
        sleep(
            ctx,
            duration(i.create_duration.as_deref(), "create_duration")?,
        )
        .await;
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        Ok(super::outputs([("id", Value::String(now))]))
    }

    /// A wait leaves nothing in the world: an interrupted one is waited
    /// again in full.
    async fn recover(
        &self,
        _ctx: &OpContext,
        _: &Inputs<'_, SleepIn>,
    ) -> Result<Option<Map>, ProviderError> {
        Ok(None)
    }

    /// The wait already happened; new durations only need to be valid.
    async fn update(
        &self,
        _ctx: &OpContext,
        group: SleepUpdate,
        _id: &str,
        _prior: &Current,
        i: &Inputs<'_, SleepIn>,
    ) -> Result<Option<Map>, ProviderError> {
        let SleepUpdate::Durations = group;
        duration(i.create_duration.as_deref(), "create_duration")?;
        duration(i.destroy_duration.as_deref(), "destroy_duration")?;
        Ok(None)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        let d = prior.inputs.get("destroy_duration").and_then(Value::as_str);
        sleep(ctx, duration(d, "destroy_duration")?).await;
        Ok(())
    }
}
