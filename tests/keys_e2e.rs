//! Keyed instances and look-ups against moto, every request passing a
//! logging proxy: moving a single-object stack into keyed addresses sends
//! no request that writes; `--target 'TYPE.NAME["key"]'` makes one
//! instance; a look-up of what the same apply creates is read during that
//! apply, in order.
//!
//! Needs moto: run through `scripts/test` (it sets MESHMON_MOTO_SERVER).

use meshmon_test_support::cli::Cli;
use meshmon_test_support::fault_proxy::{FaultPlan, FaultProxy};
use meshmon_test_support::moto::Moto;

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");

/// moto behind a proxy that forwards everything and logs each request.
fn logged() -> (Moto, FaultProxy, Cli) {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint(), FaultPlan { rate: 0.0, seed: 1 });
    let mut cli = Cli::new(BIN, moto.env());
    cli.set_env("AWS_ENDPOINT_URL", &proxy.endpoint());
    (moto, proxy, cli)
}

const SINGLE: &str = r#"
[resources.aws_sns_topic.alerts]
name = "grafana-alerts-prod"

[resources.aws_iam_role.collector]
name = "prod-collector"
assume_role_policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "scraper.aps.amazonaws.com" }, Action = "sts:AssumeRole" }] }
"#;

const KEYED: &str = r#"
[variables.clusters]
default = ["prod"]

[resources.aws_sns_topic.alerts]
for_each = "${var.clusters}"
name = "grafana-alerts-${each.key}"

[resources.aws_iam_role.collector]
for_each = "${var.clusters}"
name = "${each.key}-collector"
assume_role_policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "scraper.aps.amazonaws.com" }, Action = "sts:AssumeRole" }] }

[[moved]]
from = "aws_sns_topic.alerts"
to = "aws_sns_topic.alerts[\"prod\"]"

[[moved]]
from = "aws_iam_role.collector"
to = "aws_iam_role.collector[\"prod\"]"
"#;

#[test]
fn a_stack_moves_into_keyed_addresses_without_one_write_and_targets_pick_one_key() {
    let (_moto, proxy, cli) = logged();
    cli.spec(SINGLE);
    cli.apply();

    cli.spec(KEYED);
    let plan = cli.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("# aws_sns_topic.alerts has moved to aws_sns_topic.alerts[\"prod\"]")
            && plan
                .stdout
                .contains("0 to add, 0 to change, 0 to destroy, 2 to move."),
        "{}",
        plan.stdout
    );
    let before = proxy.requests().len();
    cli.apply();
    assert_eq!(proxy.writes_since(before), Vec::<String>::new());
    cli.assert_no_changes();

    // A new key, and only its instance of one block, by target.
    cli.spec(&KEYED.replace("default = [\"prod\"]", "default = [\"prod\", \"dev\"]"));
    let target = cli.expect(
        &[
            "apply",
            "--auto-approve",
            "--target",
            "aws_sns_topic.alerts[\"dev\"]",
        ],
        0,
    );
    assert!(
        target
            .stdout
            .contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed."),
        "{}",
        target.stdout
    );
    let addresses = cli.addresses();
    assert!(addresses.contains(&"aws_sns_topic.alerts[\"dev\"]".to_string()));
    assert!(!addresses.contains(&"aws_iam_role.collector[\"dev\"]".to_string()));
    cli.apply();
    cli.assert_no_changes();
}

#[test]
fn a_lookup_of_what_the_apply_creates_is_read_during_that_apply() {
    let (_moto, _proxy, cli) = logged();
    cli.spec(
        r#"
[resources.aws_sns_topic.alerts]
name = "grafana-alerts"

[data.aws_sns_topic.alerts]
name = "grafana-alerts"
depends_on = ["aws_sns_topic.alerts"]

[resources.aws_sns_topic.copy]
name = "grafana-copy"
tags = { source = "${data.aws_sns_topic.alerts.arn}" }
"#,
    );
    let plan = cli.expect(&["plan"], 0);
    assert!(
        plan.stdout
            .contains("# data.aws_sns_topic.alerts <= read (known after apply)")
            && plan
                .stdout
                .contains("it depends on aws_sns_topic.alerts, which is not created yet"),
        "{}",
        plan.stdout
    );
    cli.apply();
    let arn = cli.attr_str("aws_sns_topic.alerts", "arn");
    assert_eq!(
        cli.state()["resources"]["aws_sns_topic.copy"]["inputs"]["tags"]["source"],
        arn
    );
    assert_eq!(
        cli.state()["data"]["data.aws_sns_topic.alerts"]["outputs"]["arn"],
        arn
    );
    cli.assert_no_changes();
}

#[test]
fn a_lookup_that_finds_two_objects_names_both_and_points_at_itself() {
    let (moto, _proxy, cli) = logged();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ec2 = meshmon_test_support::ec2::Client::new(&rt.block_on(moto.sdk_config()));
    for cidr in ["10.1.0.0/16", "10.2.0.0/16"] {
        let vpc = rt
            .block_on(ec2.create_vpc().cidr_block(cidr).send())
            .expect("create vpc");
        let id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap().to_string();
        rt.block_on(
            ec2.create_tags()
                .resources(id)
                .tags(
                    meshmon_test_support::ec2::types::Tag::builder()
                        .key("mesh")
                        .value("prod")
                        .build(),
                )
                .send(),
        )
        .expect("tag vpc");
    }
    cli.spec("[data.aws_vpc.mesh]\ntags = { mesh = \"prod\" }\n");
    let out = cli.expect(&["plan"], 1);
    insta::with_settings!({filters => vec![(r#""vpc-[^"]*""#, "\"vpc-[id]\"")]}, {
        insta::assert_snapshot!(out.stderr);
    });
}
