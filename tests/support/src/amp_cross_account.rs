//! Checks a cross-account managed collector's IAM wiring the way AMP needs
//! it, reading the two roles from IAM (moto): the AMP user guide's
//! "Cross-account setup" (AMP-collector-how-to.html#cross-account-remote-write).
//! The scraper lives in the source account (the cluster's) with
//! `roleConfiguration = { sourceRoleArn, targetRoleArn }`, and AMP's
//! collector then
//!
//! 1. assumes the source role as the service `scraper.aps.amazonaws.com`
//!    (the source role's trust policy must allow it `sts:AssumeRole`);
//! 2. from the source role, assumes the target role (the source role's
//!    policies must allow `sts:AssumeRole` on the target role's ARN; the
//!    target role's trust must allow the source role's ARN
//!    `sts:AssumeRole`, with the scraper's ARN as `sts:ExternalId` under
//!    `StringEquals`);
//! 3. remote-writes as the target role (its policies must allow
//!    `aps:RemoteWrite` on the workspace).
//!
//! moto does not evaluate any of this, so a test asks [`check_wiring`].
//! Policy documents come back from IAM URL-encoded; `Action`, `Resource`
//! and principals may be strings or lists; `*` and `?` wildcards are
//! matched in actions (ignoring case) and resources. A `Deny` that matches
//! overrides an `Allow`; `NotAction`/`NotResource` statements grant
//! nothing here.

use aws_config::SdkConfig;
use serde_json::Value;

use crate::amp_double::AmpDouble;
use crate::existing::policy_document;
use crate::iam;

/// The service principal AMP's managed collector assumes the source role as.
pub const SCRAPER_SERVICE: &str = "scraper.aps.amazonaws.com";

/// A value that may be a string or a list of strings, as strings.
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A policy's statements (one object, or a list).
fn statements(doc: &Value) -> Vec<&Value> {
    match &doc["Statement"] {
        Value::Array(a) => a.iter().collect(),
        s @ Value::Object(_) => vec![s],
        _ => Vec::new(),
    }
}

/// IAM's wildcard match: `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn matches_action(statement: &Value, action: &str) -> bool {
    strings(&statement["Action"])
        .iter()
        .any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
}

fn matches_resource(statement: &Value, resource: &str) -> bool {
    strings(&statement["Resource"])
        .iter()
        .any(|r| glob(r, resource))
}

/// Whether the identity policies `docs` allow `action` on `resource`.
fn allowed(docs: &[Value], action: &str, resource: &str) -> bool {
    let all: Vec<&Value> = docs.iter().flat_map(statements).collect();
    let hit = |effect: &str| {
        all.iter().any(|s| {
            s["Effect"] == effect && matches_action(s, action) && matches_resource(s, resource)
        })
    };
    hit("Allow") && !hit("Deny")
}

/// The trust policy's Allow statements that let a principal of `kind`
/// (`Service`, `AWS`) named `who` `sts:AssumeRole`.
fn trusting<'a>(trust: &'a Value, kind: &str, who: &str) -> Vec<&'a Value> {
    statements(trust)
        .into_iter()
        .filter(|s| {
            s["Effect"] == "Allow"
                && matches_action(s, "sts:AssumeRole")
                && strings(&s["Principal"][kind]).contains(&who)
        })
        .collect()
}

/// A role's trust policy and its identity policies (inline and attached),
/// read with `sdk`; `None` when `sdk`'s account has no role `arn`.
async fn read_role(sdk: &SdkConfig, arn: &str) -> Result<(Value, Vec<Value>), String> {
    let client = iam::Client::new(sdk);
    let name = arn.rsplit('/').next().unwrap_or_default();
    let got = client
        .get_role()
        .role_name(name)
        .send()
        .await
        .map_err(|e| format!("the role {arn} cannot be read in its account: {e:?}"))?;
    let role = got.role().ok_or(format!("no role {arn}"))?;
    if role.arn() != arn {
        return Err(format!(
            "the role {arn} does not exist in the account asked (found {} instead)",
            role.arn()
        ));
    }
    let trust = policy_document(role.assume_role_policy_document().unwrap_or_default());
    let mut docs = Vec::new();
    let inline = client
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| format!("list the inline policies of {arn}: {e:?}"))?;
    for policy in inline.policy_names() {
        let p = client
            .get_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| format!("read the inline policy {policy} of {arn}: {e:?}"))?;
        docs.push(policy_document(p.policy_document()));
    }
    let attached = client
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| format!("list the policies attached to {arn}: {e:?}"))?;
    for policy in attached.attached_policies() {
        let parn = policy.policy_arn().unwrap_or_default();
        let p = client
            .get_policy()
            .policy_arn(parn)
            .send()
            .await
            .map_err(|e| format!("read the policy {parn}: {e:?}"))?;
        let version = p
            .policy()
            .and_then(|p| p.default_version_id())
            .unwrap_or("v1");
        let v = client
            .get_policy_version()
            .policy_arn(parn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| format!("read the policy {parn} {version}: {e:?}"))?;
        let doc = v
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default();
        docs.push(policy_document(doc));
    }
    Ok((trust, docs))
}

/// Checks scraper `scraper_id`'s cross-account wiring: `source` acts in
/// the scraper's (and its source role's) account, `target` in the
/// workspace's (and its target role's), both on moto. `Ok`, or every
/// problem found.
pub async fn check_wiring(
    amp: &AmpDouble,
    scraper_id: &str,
    source: &SdkConfig,
    target: &SdkConfig,
) -> Result<(), Vec<String>> {
    let Some(scraper) = amp.scraper(scraper_id) else {
        return Err(vec![format!("there is no scraper {scraper_id}")]);
    };
    let scraper_arn = scraper["arn"].as_str().unwrap_or_default().to_string();
    let workspace = scraper["destination"]["ampConfiguration"]["workspaceArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let roles = &scraper["roleConfiguration"];
    let (Some(source_arn), Some(target_arn)) = (
        roles["sourceRoleArn"].as_str(),
        roles["targetRoleArn"].as_str(),
    ) else {
        return Err(vec![format!(
            "scraper {scraper_arn} has no roleConfiguration with sourceRoleArn and targetRoleArn"
        )]);
    };
    let mut problems = Vec::new();
    match read_role(source, source_arn).await {
        Err(e) => problems.push(format!("source role: {e}")),
        Ok((trust, policies)) => {
            if trusting(&trust, "Service", SCRAPER_SERVICE).is_empty() {
                problems.push(format!(
                    "the source role {source_arn} does not trust Service {SCRAPER_SERVICE} to \
                     sts:AssumeRole: {trust}"
                ));
            }
            if !allowed(&policies, "sts:AssumeRole", target_arn) {
                problems.push(format!(
                    "the source role {source_arn}'s policies do not allow sts:AssumeRole on the \
                     target role {target_arn}"
                ));
            }
        }
    }
    match read_role(target, target_arn).await {
        Err(e) => problems.push(format!("target role: {e}")),
        Ok((trust, policies)) => {
            let trusted = trusting(&trust, "AWS", source_arn);
            let external_ids: Vec<&str> = trusted
                .iter()
                .flat_map(|s| strings(&s["Condition"]["StringEquals"]["sts:ExternalId"]))
                .collect();
            if trusted.is_empty() {
                problems.push(format!(
                    "the target role {target_arn} does not trust AWS {source_arn} to \
                     sts:AssumeRole: {trust}"
                ));
            } else if !external_ids.contains(&scraper_arn.as_str()) {
                problems.push(format!(
                    "the target role {target_arn} trusts {source_arn} without \
                     StringEquals sts:ExternalId = {scraper_arn} (external ids: {external_ids:?})"
                ));
            }
            if !allowed(&policies, "aps:RemoteWrite", &workspace) {
                problems.push(format!(
                    "the target role {target_arn}'s policies do not allow aps:RemoteWrite on the \
                     workspace {workspace}"
                ));
            }
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::moto::{ACCOUNT, Moto, assuming};
    use crate::{SdkConfig, amp};

    #[test]
    fn wildcards_and_lists_are_read_as_iam_reads_them() {
        assert!(glob("aps:*", "aps:RemoteWrite"));
        assert!(glob(
            "arn:aws:aps:*:123456789012:workspace/*",
            "arn:aws:aps:eu-west-1:123456789012:workspace/ws-1"
        ));
        assert!(glob("sts:Assume?ole", "sts:AssumeRole"));
        assert!(!glob("aps:Query*", "aps:RemoteWrite"));
        assert!(glob("*", ""));
        let docs = [
            json!({"Statement": {"Effect": "Allow", "Action": ["APS:remotewrite"], "Resource": "*"}}),
        ];
        assert!(allowed(&docs, "aps:RemoteWrite", "arn:aws:aps:x"));
        let denied = [
            docs[0].clone(),
            json!({"Statement": [{"Effect": "Deny", "Action": "aps:*", "Resource": "arn:aws:aps:x"}]}),
        ];
        assert!(!allowed(&denied, "aps:RemoteWrite", "arn:aws:aps:x"));
        assert!(allowed(&denied, "aps:RemoteWrite", "arn:aws:aps:y"));
        let trust = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["a", "b"]}, "Action": "sts:AssumeRole"}]});
        assert_eq!(trusting(&trust, "AWS", "b").len(), 1);
        assert!(trusting(&trust, "Service", "b").is_empty());
    }

    fn amp_on(sdk: &SdkConfig, double: &AmpDouble) -> amp::Client {
        amp::Client::from_conf(
            amp::config::Builder::from(sdk)
                .endpoint_url(double.endpoint())
                .build(),
        )
    }

    async fn role(sdk: &SdkConfig, name: &str, trust: Value, policy: Option<Value>) -> String {
        let c = iam::Client::new(sdk);
        let r = c
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .unwrap();
        if let Some(p) = policy {
            c.put_role_policy()
                .role_name(name)
                .policy_name("wiring")
                .policy_document(p.to_string())
                .send()
                .await
                .unwrap();
        }
        r.role().unwrap().arn().to_string()
    }

    /// `doc` with the version IAM requires.
    fn versioned(mut doc: Value) -> String {
        doc["Version"] = json!("2012-10-17");
        doc.to_string()
    }

    async fn set_trust(sdk: &SdkConfig, name: &str, trust: Value) {
        iam::Client::new(sdk)
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(versioned(trust))
            .send()
            .await
            .unwrap();
    }

    async fn set_policy(sdk: &SdkConfig, name: &str, policy: Value) {
        iam::Client::new(sdk)
            .put_role_policy()
            .role_name(name)
            .policy_name("wiring")
            .policy_document(versioned(policy))
            .send()
            .await
            .unwrap();
    }

    fn target_trust(source: &str, external_id: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": source}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]})
    }

    /// A scraper in 111111111111 writing to a workspace of the default
    /// account, wired as the AMP user guide documents; each link broken in
    /// turn is reported, and put back. The target role is created with a
    /// placeholder external id, as the guide does, and fixed once the
    /// scraper's ARN exists. Needs moto.
    #[test]
    fn a_cross_account_scraper_is_wired_as_amp_needs() {
        let moto = Moto::start();
        let double = AmpDouble::start(Duration::from_millis(50), &moto.endpoint());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let target = rt.block_on(moto.sdk_config());
        let source = rt.block_on(assuming(&target, "arn:aws:iam::111111111111:role/ops"));
        let check = |id: &str| rt.block_on(check_wiring(&double, id, &source, &target));
        let (ws_arn, source_arn, target_arn, scraper) = rt.block_on(async {
            let ws = amp_on(&target, &double)
                .create_workspace()
                .alias("central")
                .send()
                .await
                .unwrap();
            let ws_arn = ws.arn().to_string();
            let source_arn = role(
                &source,
                "amp-source",
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"Service": SCRAPER_SERVICE}, "Action": "sts:AssumeRole"}]}),
                Some(
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Resource": format!("arn:aws:iam::{ACCOUNT}:role/amp-target")}]}),
                ),
            )
            .await;
            let target_arn = role(
                &target,
                "amp-target",
                target_trust(&source_arn, "placeholder"),
                Some(
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Action": ["aps:RemoteWrite"], "Resource": [ws_arn.clone()]}]}),
                ),
            )
            .await;
            let scraper = amp_on(&source, &double)
                .create_scraper()
                .source(amp::types::Source::EksConfiguration(
                    amp::types::EksConfiguration::builder()
                        .cluster_arn("arn:aws:eks:eu-west-1:111111111111:cluster/payments-eu")
                        .subnet_ids("subnet-1")
                        .build()
                        .unwrap(),
                ))
                .destination(amp::types::Destination::AmpConfiguration(
                    amp::types::AmpConfiguration::builder()
                        .workspace_arn(&ws_arn)
                        .build()
                        .unwrap(),
                ))
                .scrape_configuration(amp::types::ScrapeConfiguration::ConfigurationBlob(
                    aws_smithy_types::Blob::new("global:\n  scrape_interval: 30s\n"),
                ))
                .role_configuration(
                    amp::types::RoleConfiguration::builder()
                        .source_role_arn(&source_arn)
                        .target_role_arn(&target_arn)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            (ws_arn, source_arn, target_arn, scraper)
        });
        let (id, scraper_arn) = (scraper.scraper_id(), scraper.arn());
        assert!(
            scraper_arn.contains(":111111111111:scraper/"),
            "{scraper_arn}"
        );

        // The placeholder: the one missing link is the external id.
        let e = check(id).unwrap_err();
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].contains("without StringEquals sts:ExternalId"),
            "{e:#?}"
        );
        assert!(e[0].contains("placeholder"), "{e:#?}");
        rt.block_on(set_trust(
            &target,
            "amp-target",
            target_trust(&source_arn, scraper_arn),
        ));
        check(id).unwrap();

        // The source role trusts another service.
        rt.block_on(set_trust(
            &source,
            "amp-source",
            json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        ));
        let e = check(id).unwrap_err();
        assert!(
            e.len() == 1 && e[0].contains("does not trust Service scraper.aps.amazonaws.com"),
            "{e:#?}"
        );
        rt.block_on(set_trust(
            &source,
            "amp-source",
            json!({"Statement": {"Effect": "Allow", "Principal": {"Service": [SCRAPER_SERVICE]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}}),
        ));
        check(id).unwrap();

        // The source role may assume some other role only.
        rt.block_on(set_policy(
            &source,
            "amp-source",
            json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::123456789012:role/other"}]}),
        ));
        let e = check(id).unwrap_err();
        assert!(
            e.len() == 1 && e[0].contains("do not allow sts:AssumeRole on the target role"),
            "{e:#?}"
        );
        rt.block_on(set_policy(
            &source,
            "amp-source",
            json!({"Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "arn:aws:iam::*:role/amp-*"}]}),
        ));
        check(id).unwrap();

        // The target role trusts the account's root, not the source role;
        // and writes to another workspace.
        rt.block_on(set_trust(
            &target,
            "amp-target",
            json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": scraper_arn}}}]}),
        ));
        rt.block_on(set_policy(
            &target,
            "amp-target",
            json!({"Statement": [{"Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": "arn:aws:aps:eu-west-1:123456789012:workspace/ws-other"}]}),
        ));
        let e = check(id).unwrap_err();
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(
            e[0].contains("does not trust AWS arn:aws:iam::111111111111:role/amp-source"),
            "{e:#?}"
        );
        assert!(
            e[1].contains("do not allow aps:RemoteWrite on the workspace"),
            "{e:#?}"
        );
        assert!(e[1].contains(&ws_arn), "{e:#?}");
        rt.block_on(set_trust(
            &target,
            "amp-target",
            target_trust(&source_arn, scraper_arn),
        ));
        rt.block_on(set_policy(
            &target,
            "amp-target",
            json!({"Statement": [{"Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": "*"}]}),
        ));
        check(id).unwrap();

        // A managed policy attached to the target role counts as well.
        rt.block_on(async {
            let c = iam::Client::new(&target);
            c.delete_role_policy()
                .role_name("amp-target")
                .policy_name("wiring")
                .send()
                .await
                .unwrap();
            let p = c
                .create_policy()
                .policy_name("central-remote-write")
                .policy_document(versioned(json!({"Statement": [{"Effect": "Allow",
                    "Action": ["aps:RemoteWrite", "aps:GetSeries"], "Resource": ws_arn}]})))
                .send()
                .await
                .unwrap();
            c.attach_role_policy()
                .role_name("amp-target")
                .policy_arn(p.policy().unwrap().arn().unwrap())
                .send()
                .await
                .unwrap();
        });
        check(id).unwrap();

        // Roles read in the wrong accounts are not there.
        let e = rt
            .block_on(check_wiring(&double, id, &target, &source))
            .unwrap_err();
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e.iter().all(|p| p.contains("role")), "{e:#?}");
        assert_eq!(
            check("s-nothing").unwrap_err(),
            ["there is no scraper s-nothing"]
        );
        let _ = target_arn;
    }
}
