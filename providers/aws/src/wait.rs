//! How long the aws provider's waits may take when a resource has no
//! `timeouts` entry. The waiting itself — bounded backoff, polling,
//! retrying eventual consistency, the one-shot create call — is
//! [`meshmon_aws_common::wait`]'s, named here so that the resources say
//! `wait::until` and `wait::create_call`.

use std::time::Duration;

pub use meshmon_aws_common::wait::{
    RECOVER_SETTLE, SHORT, create_call, create_call_with, find_settled, retry_transient, until,
};

pub const CLUSTER: Duration = Duration::from_secs(30 * 60);
pub const NODE_GROUP: Duration = Duration::from_secs(30 * 60);
/// An AMP managed collector takes about 20 minutes to become ACTIVE.
pub const SCRAPER: Duration = Duration::from_secs(40 * 60);
/// IAM changes usually propagate in seconds; two minutes covers the tail.
pub const IAM_PROPAGATION: Duration = Duration::from_secs(2 * 60);
