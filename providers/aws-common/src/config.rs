//! The SDK configuration every AWS client of meshmon's is built from.
//!
//! Credentials, region and endpoints come from the standard aws-config
//! chain (environment, profile, SSO, web identity, instance role;
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`), so a local
//! emulator needs no code. How many requests of a service run at once is
//! the limiters' job ([`crate::limiter`]); retrying a throttled request is
//! the SDK's (standard mode), except for the calls that create something:
//! those go through clients built from [`without_retries`] and
//! [`crate::wait::create_call`].

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use meshmon_provider_sdk::attrs::typed;
use meshmon_provider_sdk::{Map, ProviderError, declare};

/// How often the SDK tries one request before giving up.
pub const MAX_ATTEMPTS: u32 = 8;

/// Loads the shared SDK configuration the way every AWS tool does, with
/// meshmon's HTTP client, retry and timeout settings. `region` and
/// `profile` override the environment's.
///
/// The HTTP client is rustls with the `ring` crypto provider: the SDK's
/// default (`aws-lc-rs`) needs cmake and a C toolchain and takes minutes
/// to build on a 2-core machine; ring builds in seconds.
pub async fn sdk_config(region: Option<&str>, profile: Option<&str>) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    // The limiters decide how many requests of a service run at once
    // (crate::limiter); the SDK's standard mode only retries, with
    // backoff, and keeps no client-side rate of its own to fight them.
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::limiter::global().in_front_of(http))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

declare! {
    /// The `[providers.aws]` block, which the `aws` and `amg` providers
    /// share: both optional, the standard chain fills in what is left out.
    pub struct AwsBlock for "aws" ("Amazon Web Services, through the standard credential and region chain.") {
        region: Option<String> = optional(AttrType::String).describe(
            "The region, like \"eu-west-1\"; else AWS_REGION or the profile's region.",
        );
        profile: Option<String> = optional(AttrType::String).describe(
            "A named profile from ~/.aws/config; else AWS_PROFILE or the default chain.",
        );
    }
}

/// The configuration a `[providers.aws]` block ([`AwsBlock`]) asks for.
/// Without a region from the block, the environment or the profile there
/// is nothing to talk to: an error that says where to set one.
pub async fn from_block(config: &Map) -> Result<SdkConfig, ProviderError> {
    let block: AwsBlock = typed(config)?;
    let sdk = sdk_config(block.region.as_deref(), block.profile.as_deref()).await;
    if sdk.region().is_none() {
        return Err(ProviderError::new("no AWS region is configured").with_hint(
            "set `region` under [providers.aws], or AWS_REGION, or a region in your AWS profile",
        ));
    }
    Ok(sdk)
}

/// The same configuration with the SDK's retries off, for the clients that
/// send the one request of a create that makes the object: a retry after a
/// lost answer would make a second VPC or workspace, or turn into "already
/// exists". [`crate::wait::create_call`] sends through such a client and
/// retries only failures that certainly had no effect. Every other call
/// (tagging, attaching, waiting, reading) uses the retrying configuration.
pub fn without_retries(sdk: &SdkConfig) -> SdkConfig {
    sdk.to_builder()
        .retry_config(RetryConfig::disabled())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_retries_keeps_everything_else() {
        let sdk = SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .build();
        let once = without_retries(&sdk);
        assert_eq!(once.retry_config().unwrap().max_attempts(), 1);
        assert_eq!(once.region(), sdk.region());
        assert_eq!(sdk.retry_config().unwrap().max_attempts(), MAX_ATTEMPTS);
    }
}
