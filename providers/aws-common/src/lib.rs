//! What meshmon's providers that talk to AWS share, so that none of them
//! depends on another: the `aws` provider, Amazon Managed Grafana (`amg`,
//! in the grafana crate), the EKS connection of the kubernetes provider
//! and the S3 state backend.
//!
//! - [`config`]: the SDK configuration (credentials and region from the
//!   standard chain, meshmon's HTTP client, retries and timeouts), and the
//!   same without retries for the calls that create something.
//! - [`error`]: SDK errors as `ProviderError`s that name the operation, the
//!   service's code and message and a hint; "not found" as `Ok(None)`; what
//!   a failed request did ([`error::effect`]).
//! - [`wait`]: bounded backoff, waits for long operations and eventual
//!   consistency, and [`wait::create_call`], which sends a create so that a
//!   lost answer never makes a second object.
//! - [`ownership`]: the tags a create marks its object with so that
//!   `recover` finds that object, and only it.
//! - [`tags`]: the `tags` attribute, tag diffs, and keeping AWS's and
//!   meshmon's own tags out of what reads return.
//! - [`identity`]: the caller's account and partition, and the ARNs built
//!   from them.
//!
//! Only STS among the service SDKs is a dependency: each provider brings
//! the clients of the services it manages.

pub mod config;
pub mod error;
pub mod identity;
pub mod limiter;
pub mod ownership;
pub mod tags;
pub mod wait;

pub use config::{sdk_config, without_retries};
