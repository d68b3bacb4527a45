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
    known: OnceCell<Known>,
}

/// What STS said about the caller.
struct Known {
    account: String,
    partition: String,
    arn: String,
}

impl Caller {
    pub fn new(sdk: &SdkConfig) -> Self {
        Caller {
            sts: aws_sdk_sts::Client::new(sdk),
            known: OnceCell::new(),
        }
    }

    /// The account ID, partition and ARN, asked of STS once.
    async fn known(&self) -> Result<&Known, ProviderError> {
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
                let arn = out.arn.unwrap_or_default();
                let partition = partition_of(Some(&arn)).to_string();
                Ok(Known {
                    account,
                    partition,
                    arn,
                })
            })
            .await
    }

    /// The caller's account ID: an import by name (`grafana-notification`)
    /// or a recovery by name needs it to build the ARN AWS knows.
    pub async fn account_id(&self) -> Result<&str, ProviderError> {
        self.known().await.map(|k| k.account.as_str())
    }

    /// The caller's partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub async fn partition(&self) -> Result<&str, ProviderError> {
        self.known().await.map(|k| k.partition.as_str())
    }

    /// The caller's ARN as STS gives it: an IAM user's, or an assumed
    /// role's session (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
    pub async fn caller_arn(&self) -> Result<&str, ProviderError> {
        self.known().await.map(|k| k.arn.as_str())
    }

    /// The ARN of an object of the caller's account: see [`arn`]. `region`
    /// is empty for a global service (IAM).
    pub async fn arn(
        &self,
        service: &str,
        region: &str,
        resource: &str,
    ) -> Result<String, ProviderError> {
        let k = self.known().await?;
        Ok(arn(&k.partition, service, region, &k.account, resource))
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

/// Whether two ARNs name the same IAM principal: the same account and the
/// same user, or the same role — a role's session
/// (`arn:aws:sts::1:assumed-role/admin/ci`) is its role
/// (`arn:aws:iam::1:role/ops/admin`). STS leaves a role's path out of a
/// session's ARN, so paths are not compared; IAM keeps role names unique
/// per account whatever their paths.
pub fn same_principal(a: &str, b: &str) -> bool {
    match (principal_of(a), principal_of(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// (partition, account, "role" or "user", name) of a principal's ARN.
fn principal_of(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let mut fields = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(_region), Some(account), Some(rest)) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return None;
    };
    let (kind, tail) = rest.split_once('/')?;
    let (kind, name) = match (service, kind) {
        ("iam", "role" | "user") => (kind, tail.rsplit('/').next()?),
        ("sts", "assumed-role") => ("role", tail.split('/').next()?),
        // STS gives an IAM user's own ARN (`iam`); emulators such as moto
        // answer `arn:aws:sts::ACCOUNT:user/NAME` for the same user.
        ("sts", "user") => ("user", tail.rsplit('/').next()?),
        _ => return None,
    };
    (!name.is_empty() && !account.is_empty()).then_some((partition, account, kind, name))
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
    fn a_roles_session_is_that_role_whatever_its_path() {
        let session = "arn:aws:sts::123456789012:assumed-role/admin/ci-run-7";
        assert!(same_principal(
            session,
            "arn:aws:iam::123456789012:role/admin"
        ));
        assert!(same_principal(
            session,
            "arn:aws:iam::123456789012:role/ops/team/admin"
        ));
        assert!(!same_principal(
            session,
            "arn:aws:iam::123456789012:role/admin2"
        ));
        assert!(!same_principal(
            session,
            "arn:aws:iam::210987654321:role/admin"
        ));
        assert!(!same_principal(
            session,
            "arn:aws:iam::123456789012:user/admin"
        ));
        assert!(!same_principal(
            session,
            "arn:aws-cn:iam::123456789012:role/admin"
        ));
        assert!(same_principal(
            "arn:aws:iam::1:user/people/alice",
            "arn:aws:iam::1:user/alice"
        ));
        assert!(!same_principal("garbled", "garbled"));
        assert!(!same_principal(
            "arn:aws:iam::1:root",
            "arn:aws:iam::1:root"
        ));
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
