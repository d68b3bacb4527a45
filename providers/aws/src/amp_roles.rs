//! A scraper's `role_configuration`: AMP's RoleConfiguration, with which
//! a managed collector writes to a workspace in another account, and the
//! checks AMP's API reference and cross-account setup imply, made while
//! planning.

use meshmon_provider_sdk::{Map, Value};

/// `role_configuration = { source_role_arn, target_role_arn }`: AMP's
/// RoleConfiguration, for writing to a workspace in another account
/// (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-collector-how-to.html#cross-account-remote-write).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleConfigurationIn {
    pub source_role_arn: String,
    pub target_role_arn: String,
}

/// The account of an IAM role's ARN, when it matches AMP's pattern for
/// both roles, `arn:aws[-a-z]*:iam::[0-9]{12}:role/.+` (API reference,
/// RoleConfiguration).
fn role_account(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws")?;
    let (partition, rest) = rest.split_once(":iam::")?;
    if !partition
        .chars()
        .all(|c| c == '-' || c.is_ascii_lowercase())
    {
        return None;
    }
    let (account, role) = rest.split_once(":role/")?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !role.is_empty())
        .then_some(account)
}

pub(crate) fn role_configuration_keys(v: &Value) -> Result<(), String> {
    let Some(m) = v.as_map() else {
        return Ok(());
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["source_role_arn", "target_role_arn"].contains(&k.as_str()))
    {
        return Err(format!(
            "takes source_role_arn and target_role_arn, not `{k}`"
        ));
    }
    for k in ["source_role_arn", "target_role_arn"] {
        match m.get(k) {
            None => return Err(format!("needs `{k}`")),
            Some(v) => {
                if let Some(arn) = v.as_str()
                    && role_account(arn).is_none()
                {
                    return Err(format!(
                        "`{k}` = {arn:?} is not an IAM role's ARN: AMP takes arn:aws:iam::ACCOUNT:role/NAME"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The target role is assumed in the workspace's account, where it must be.
pub(crate) fn target_role_in_workspace_account(block: &Map) -> Result<(), (&'static str, String)> {
    let target = block
        .get("role_configuration")
        .and_then(Value::as_map)
        .and_then(|m| m.get("target_role_arn"))
        .and_then(Value::as_str);
    let workspace = block.get("workspace_arn").and_then(Value::as_str);
    let (Some(target), Some(workspace)) = (target, workspace) else {
        return Ok(());
    };
    let ws_account = workspace.split(':').nth(4).unwrap_or_default();
    match role_account(target) {
        Some(a) if !ws_account.is_empty() && a != ws_account => Err((
            "role_configuration",
            format!(
                "target_role_arn is in account {a} but the workspace is in account {ws_account}: \
                 the target role must be in the workspace's account"
            ),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn role_configuration(
    rc: &RoleConfigurationIn,
) -> aws_sdk_amp::types::RoleConfiguration {
    aws_sdk_amp::types::RoleConfiguration::builder()
        .source_role_arn(&rc.source_role_arn)
        .target_role_arn(&rc.target_role_arn)
        .build()
}
