//! What the `amg` resources share: the SDK clients, AMG's own hints for
//! the errors [`meshmon_aws_common::error`] turns into `ProviderError`s,
//! and how long a workspace may take to settle. The error mapping ("not
//! found" as `Ok(None)`), the waits, the caller's identity, the ownership
//! marks and tags are the common AWS ones.
//!
//! Creates go through [`meshmon_aws_common::wait::create_call_with`] on a
//! client with the SDK's retries off: the SDK would send a create again
//! after a 5xx or a lost connection, when AMG may already have made the
//! object, and a second CreateWorkspaceServiceAccount or token would fail
//! on the first's name. Only what AMG certainly never acted on (throttling,
//! a connection never made) is sent again there; other failures come back
//! marked ambiguous, for the engine to `recover` the object before it
//! creates again.

use std::time::Duration;

use aws_config::SdkConfig;
use meshmon_aws_common::identity::Caller;
use meshmon_aws_common::without_retries;
use meshmon_provider_sdk::ProviderError;

/// One client per service, built once per configured provider.
pub struct Clients {
    pub grafana: aws_sdk_grafana::Client,
    /// The same client with the SDK's retries off, for creates.
    pub creates: aws_sdk_grafana::Client,
    pub region: String,
    /// The caller's account and partition: AMG returns no workspace ARN,
    /// but tagging an existing workspace needs one.
    pub caller: Caller,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Clients {
            grafana: aws_sdk_grafana::Client::new(sdk),
            creates: aws_sdk_grafana::Client::new(&without_retries(sdk)),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            caller: Caller::new(sdk),
        }
    }

    /// The ARN of a workspace: `arn:PARTITION:grafana:REGION:ACCOUNT:/workspaces/ID`.
    pub async fn workspace_arn(&self, id: &str) -> Result<String, ProviderError> {
        self.caller
            .arn("grafana", &self.region, &format!("/workspaces/{id}"))
            .await
    }
}

/// AMG's advice where it says more than the common AWS hints: which
/// quotas run out, and what a conflict outside a create means.
pub fn hint(operation: &str, code: Option<&str>, _message: &str) -> Option<String> {
    Some(match code? {
        "ServiceQuotaExceededException" => {
            "an AMG quota is exhausted (workspaces, service accounts or tokens per account): \
             delete unused ones or ask AWS for a higher quota"
                .into()
        }
        "ConflictException" if !operation.contains("Create") => {
            "the workspace is busy with another change (status UPDATING or VERSION_UPDATING): run again in a minute"
                .into()
        }
        _ => return None,
    })
}

/// How long waits without a `timeouts` entry may take: AMG usually creates
/// a workspace in a few minutes and upgrades one in under fifteen.
pub const WORKSPACE_WAIT: Duration = Duration::from_secs(30 * 60);

#[cfg(test)]
mod tests {
    use super::*;
    use meshmon_aws_common::error;

    /// What a failure's hint is: AMG's, else the common one.
    fn advice(operation: &str, code: &str) -> Option<String> {
        hint(operation, Some(code), "m").or_else(|| error::hint(operation, Some(code), "m"))
    }

    #[test]
    fn hints_name_the_operation_and_the_way_out() {
        let h = advice("grafana:CreateWorkspace", "AccessDeniedException").unwrap();
        assert!(h.contains("`grafana:CreateWorkspace`"), "{h}");
        let h = advice("grafana:CreateWorkspace", "ConflictException").unwrap();
        assert!(h.contains("meshmon import"), "{h}");
        let h = advice("grafana:UpdateWorkspace", "ConflictException").unwrap();
        assert!(h.contains("busy"), "{h}");
        let h = advice("grafana:CreateWorkspace", "ServiceQuotaExceededException").unwrap();
        assert!(h.contains("AMG quota"), "{h}");
        assert!(advice("grafana:DescribeWorkspace", "ValidationException").is_none());
    }
}
