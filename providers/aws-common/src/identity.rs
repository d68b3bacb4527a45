//! Who meshmon runs as: the caller's account ID and ARN partition, asked
//! of STS once per configured provider, and the ARNs built from them. An
//! ARN meshmon builds itself (of an IAM policy or SNS topic found by name,
//! of a Grafana workspace, which AMG never returns) takes the caller's
//! partition — `aws`, `aws-cn` or `aws-us-gov` — from the caller's own ARN.

use aws_config::SdkConfig;
use meshmon_provider_sdk::ProviderError;
use tokio::sync::OnceCell;

use crate::error;

/// The caller's account and partition, looked up on first use.
pub struct Caller {
    sts: aws_sdk_sts::Client,
    known: OnceCell<(String, String)>,
}

impl Caller {
    pub fn new(sdk: &SdkConfig) -> Self {
        Caller {
            sts: aws_sdk_sts::Client::new(sdk),
            known: OnceCell::new(),
        }
    }

    /// The account ID and partition, asked of STS once.
    async fn known(&self) -> Result<&(String, String), ProviderError> {
        self.known
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| error::api("sts:GetCallerIdentity", e))?;
                let account = out.account.ok_or_else(|| {
                    ProviderError::new("sts:GetCallerIdentity returned no account ID")
                })?;
                Ok((account, partition_of(out.arn.as_deref()).to_string()))
            })
            .await
    }

    /// The caller's account ID: an import by name (`grafana-notification`)
    /// or a recovery by name needs it to build the ARN AWS knows.
    pub async fn account_id(&self) -> Result<&str, ProviderError> {
        self.known().await.map(|(a, _)| a.as_str())
    }

    /// The caller's partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub async fn partition(&self) -> Result<&str, ProviderError> {
        self.known().await.map(|(_, p)| p.as_str())
    }

    /// The ARN of an object of the caller's account: see [`arn`]. `region`
    /// is empty for a global service (IAM).
    pub async fn arn(
        &self,
        service: &str,
        region: &str,
        resource: &str,
    ) -> Result<String, ProviderError> {
        let (account, partition) = self.known().await?;
        Ok(arn(partition, service, region, account, resource))
    }
}

/// The partition of an ARN (`arn:PARTITION:sts::ACCOUNT:assumed-role/…`),
/// `aws` when there is none to read.
pub fn partition_of(arn: Option<&str>) -> &str {
    arn.and_then(|a| a.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// The ID at the end of an ARN, after its last `/` or `:`
/// (`arn:aws:aps:eu-west-1:1:workspace/ws-1` → `ws-1`,
/// `arn:aws:sns:eu-west-1:1:alerts` → `alerts`); an ID given as it is
/// stays as it is. How an import takes either.
pub fn last_segment(arn_or_id: &str) -> &str {
    arn_or_id.rsplit(['/', ':']).next().unwrap_or(arn_or_id)
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
pub fn arn(partition: &str, service: &str, region: &str, account: &str, resource: &str) -> String {
    format!("arn:{partition}:{service}:{region}:{account}:{resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_comes_from_the_callers_arn() {
        assert_eq!(
            partition_of(Some("arn:aws-cn:sts::123456789012:assumed-role/r/s")),
            "aws-cn"
        );
        assert_eq!(
            partition_of(Some("arn:aws-us-gov:iam::123456789012:user/u")),
            "aws-us-gov"
        );
        assert_eq!(partition_of(Some("arn:aws:iam::1:user/u")), "aws");
        assert_eq!(partition_of(Some("garbled")), "aws");
        assert_eq!(partition_of(None), "aws");
    }

    #[test]
    fn imports_take_the_id_at_the_end_of_an_arn() {
        assert_eq!(
            last_segment("arn:aws:aps:eu-west-1:1:workspace/ws-1"),
            "ws-1"
        );
        assert_eq!(last_segment("arn:aws:iam::1:role/path/agent"), "agent");
        assert_eq!(last_segment("arn:aws:sns:eu-west-1:1:alerts"), "alerts");
        assert_eq!(
            last_segment("arn:aws:grafana:eu-west-1:1:/workspaces/g-1"),
            "g-1"
        );
        assert_eq!(last_segment("ws-1"), "ws-1");
    }

    #[test]
    fn arns_have_six_fields() {
        assert_eq!(
            arn("aws-cn", "grafana", "cn-north-1", "1", "/workspaces/g-1"),
            "arn:aws-cn:grafana:cn-north-1:1:/workspaces/g-1"
        );
        assert_eq!(
            arn("aws", "iam", "", "1", "policy/p"),
            "arn:aws:iam::1:policy/p"
        );
    }
}
