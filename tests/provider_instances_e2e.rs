//! Provider instances end to end against moto: named `[providers.aws.NAME]`
//! instances and a keyed one (`for_each` over accounts, each assuming a
//! role there with sts:AssumeRole), chosen per resource and look-up with
//! `provider = "aws.NAME"` or `"aws.accounts[each.key]"`. moto keeps each
//! account apart by the credentials an assumed role hands out, so what
//! lands where is checked account by account. An instance removed from the
//! spec still destroys what it made, from the configuration its records
//! keep (never a secret).
//!
//! Needs moto: run through `scripts/test` (it sets MESHMON_MOTO_SERVER).

use meshmon_test_support::cli::Cli;
use meshmon_test_support::moto::{self, ACCOUNT, Moto, REGION};
use meshmon_test_support::{SdkConfig, sns};

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");

fn spec(accounts: &[(&str, &str)]) -> String {
    let table: Vec<String> = accounts
        .iter()
        .map(|(k, id)| format!("{k} = \"{id}\""))
        .collect();
    format!(
        r#"
[variables.accounts]
default = {{ {} }}

[providers.aws.accounts]
for_each = "${{var.accounts}}"
region = "{REGION}"
assume_role = {{ role_arn = "arn:aws:iam::${{each.value}}:role/meshmon-fleet", session_name = "fleet-${{each.key}}" }}

[providers.aws.central]
region = "{REGION}"

[data.aws_caller_identity.account]
for_each = "${{var.accounts}}"
provider = "aws.accounts[each.key]"

[resources.aws_sns_topic.alerts]
for_each = "${{var.accounts}}"
provider = "aws.accounts[each.key]"
name = "grafana-alerts-${{each.key}}"
tags = {{ account = "${{data.aws_caller_identity.account[each.key].account_id}}" }}

[resources.aws_sns_topic.central]
provider = "aws.central"
name = "grafana-central"
"#,
        table.join(", ")
    )
}

/// Topic names in `account`, asked with credentials of a role assumed
/// there, as meshmon's instances get theirs.
async fn topics_in(sdk: &SdkConfig, account: &str) -> Vec<String> {
    let sdk = if account == ACCOUNT {
        sdk.clone()
    } else {
        moto::assuming(sdk, &format!("arn:aws:iam::{account}:role/checker")).await
    };
    let out = sns::Client::new(&sdk)
        .list_topics()
        .send()
        .await
        .expect("list topics");
    let mut names: Vec<String> = out
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .map(|arn| {
            assert!(
                arn.contains(&format!(":{account}:")),
                "{arn} listed in {account}"
            );
            arn.rsplit(':').next().unwrap_or_default().to_string()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn each_account_gets_its_own_objects_through_its_own_provider_instance() {
    let moto = Moto::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sdk = rt.block_on(moto.sdk_config());
    let cli = Cli::new(BIN, moto.env());
    let (prod, dev) = ("111111111111", "222222222222");

    cli.spec(&spec(&[("prod", prod), ("dev", dev)]));
    let plan = cli.expect(&["plan"], 0);
    assert!(
        plan.stdout
            .contains("aws_sns_topic.alerts[\"prod\"] will be created")
            && plan.stdout.contains(&format!("account = \"{prod}\"")),
        "{}",
        plan.stdout
    );
    cli.apply();
    cli.assert_no_changes();
    cli.expect(&["drift"], 0);

    assert_eq!(rt.block_on(topics_in(&sdk, prod)), ["grafana-alerts-prod"]);
    assert_eq!(rt.block_on(topics_in(&sdk, dev)), ["grafana-alerts-dev"]);
    assert_eq!(rt.block_on(topics_in(&sdk, ACCOUNT)), ["grafana-central"]);

    // Each record names its instance and keeps how it was configured.
    let state = cli.state();
    let record = &state["resources"]["aws_sns_topic.alerts[\"prod\"]"];
    assert_eq!(record["instance"]["name"], "aws.accounts[\"prod\"]");
    assert_eq!(
        record["instance"]["config"]["assume_role"]["role_arn"],
        format!("arn:aws:iam::{prod}:role/meshmon-fleet")
    );
    assert_eq!(
        state["resources"]["aws_sns_topic.central"]["instance"]["name"],
        "aws.central"
    );

    // An account leaves the fleet: its provider instance is gone from the
    // spec, and what it made is destroyed through the recorded one.
    cli.spec(&spec(&[("prod", prod)]));
    let plan = cli.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("aws_sns_topic.alerts[\"dev\"] will be destroyed")
            && plan
                .stdout
                .contains("Plan: 0 to add, 0 to change, 1 to destroy."),
        "{}",
        plan.stdout
    );
    cli.apply();
    assert!(rt.block_on(topics_in(&sdk, dev)).is_empty());
    assert_eq!(rt.block_on(topics_in(&sdk, prod)), ["grafana-alerts-prod"]);
    cli.assert_no_changes();

    cli.expect(&["destroy", "--auto-approve"], 0);
    assert!(rt.block_on(topics_in(&sdk, prod)).is_empty());
    assert!(rt.block_on(topics_in(&sdk, ACCOUNT)).is_empty());
}

#[test]
fn a_resource_names_a_provider_instance_the_spec_declares() {
    let moto = Moto::start();
    let cli = Cli::new(BIN, moto.env());
    cli.spec(
        r#"
[providers.aws.prod]
region = "eu-west-1"

[resources.aws_sns_topic.a]
provider = "aws.prdo"
name = "grafana-a"

[resources.aws_sns_topic.b]
provider = "grafana"
name = "grafana-b"

[resources.aws_sns_topic.c]
provider = "aws.prod[\"x\"]"
name = "grafana-c"
"#,
    );
    let out = cli.expect(&["validate"], 1);
    let said = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        said.contains("provider instance `aws.prdo` is not declared")
            && said.contains("did you mean `aws.prod`?"),
        "{said}"
    );
    assert!(
        said.contains("`aws_sns_topic` is managed by the `aws` provider, not `grafana`"),
        "{said}"
    );
    assert!(
        said.contains("`aws.prod` has no `for_each`, so it has no instances to pick"),
        "{said}"
    );
}
