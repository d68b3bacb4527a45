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
        assume_role: Option<AssumeRole> = optional(AttrType::map_of(AttrType::String))
            .check(assume_role_keys)
            .describe(
                "A role to act as, assumed with sts:AssumeRole using the credentials the rest of \
                 the chain finds (another account's, for a fleet): \
                 { role_arn = \"arn:aws:iam::ACCOUNT:role/NAME\", external_id = \"…\", session_name = \"…\" }; \
                 only role_arn is required. The session is renewed before it expires.",
            );
    }
}

/// `assume_role = { role_arn, external_id, session_name }`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

/// The session name when the block gives none: CloudTrail shows it.
const SESSION_NAME: &str = "meshmon";

/// The plan-time check of an `assume_role` table, shared by every block
/// that takes one.
pub fn assume_role_keys(v: &meshmon_provider_sdk::Value) -> Result<(), String> {
    let Some(m) = v.as_map() else {
        return Ok(());
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["role_arn", "external_id", "session_name"].contains(&k.as_str()))
    {
        return Err(format!(
            "takes role_arn, external_id and session_name, not `{k}`"
        ));
    }
    match m.get("role_arn").and_then(|v| v.as_str()) {
        Some(arn) if arn.starts_with("arn:") && arn.contains(":role/") => Ok(()),
        Some(_) => Err(
            "needs `role_arn` to be a role's ARN, like arn:aws:iam::123456789012:role/NAME".into(),
        ),
        None if m.get("role_arn").is_some() => Ok(()),
        None => Err("needs `role_arn`, the ARN of the role to assume".into()),
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
    match &block.assume_role {
        Some(role) => Ok(assuming(&sdk, role).await),
        None => Ok(sdk),
    }
}

/// `sdk` acting as `role`: aws-config's AssumeRoleProvider, which asks STS
/// with the credentials `sdk` found and renews the session before it
/// expires; the region and everything else stay as they are.
pub async fn assuming(sdk: &SdkConfig, role: &AssumeRole) -> SdkConfig {
    let mut builder = aws_config::sts::AssumeRoleProvider::builder(&role.role_arn)
        .session_name(role.session_name.as_deref().unwrap_or(SESSION_NAME))
        .configure(sdk);
    if let Some(id) = &role.external_id {
        builder = builder.external_id(id);
    }
    let provider = builder.build().await;
    sdk.to_builder()
        .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
            provider,
        ))
        .build()
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
