//! Components: a directory holding `component.toml`, used once or once per
//! key; its blocks addressed `component.NAME["key"].TYPE.NAME`, its
//! outputs read as `${component.NAME["key"].OUTPUT}`; components inside
//! components; mistakes reported against the component's own file.

use crate::common::Workspace;

const ROLE: &str = r#"
[variables.name]
description = "What the role is for."

[resources.null_resource.role]
triggers = { name = "${var.name}" }

[outputs.id]
value = "${null_resource.role.id}"
"#;

const MONITORING: &str = r#"
[variables.cluster]

[variables.region]
default = "eu-west-1"

[components.collector_role]
source = "../role"
inputs = { name = "${var.cluster}-collector" }

[resources.local_file.config]
path = "out/${var.cluster}.txt"
content = "cluster ${var.cluster} in ${var.region}, role ${component.collector_role.id}\n"

[outputs.config_path]
value = "${local_file.config.path}"

[outputs.role_id]
value = "${component.collector_role.id}"
"#;

const SPEC: &str = r#"
[meshmon]
name = "fleet"

[variables.clusters]
default = { prod = "eu-west-1", dev = "us-east-1" }

[components.monitoring]
source = "components/monitoring"
for_each = "${var.clusters}"
inputs = { cluster = "${each.key}", region = "${each.value}" }

[resources.null_resource.central]
triggers = { prod_role = "${component.monitoring[\"prod\"].role_id}" }

[outputs.prod_config]
value = "${component.monitoring[\"prod\"].config_path}"
"#;

fn workspace(spec: &str) -> Workspace {
    let ws = Workspace::new(spec);
    for (dir, text) in [("role", ROLE), ("monitoring", MONITORING)] {
        std::fs::create_dir_all(ws.file(&format!("components/{dir}"))).unwrap();
        std::fs::write(ws.file(&format!("components/{dir}/component.toml")), text).unwrap();
    }
    ws
}

#[test]
fn each_key_of_a_component_is_an_instance_of_all_its_blocks() {
    let ws = workspace(SPEC);
    let plan = ws.expect(&["plan"], 0);
    for address in [
        "component.monitoring[\"prod\"].local_file.config",
        "component.monitoring[\"dev\"].local_file.config",
        "component.monitoring[\"dev\"].component.collector_role.null_resource.role",
    ] {
        assert!(
            plan.stdout
                .contains(&format!("# {address} will be created")),
            "{address}:\n{}",
            plan.stdout
        );
    }
    assert!(plan.stdout.contains("Plan: 5 to add"), "{}", plan.stdout);
    ws.expect(&["apply", "--auto-approve"], 0);
    let state = ws.state("fleet");
    let role = state["resources"]
        ["component.monitoring[\"prod\"].component.collector_role.null_resource.role"]["outputs"]
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        std::fs::read_to_string(ws.file("out/prod.txt")).unwrap(),
        format!("cluster prod in eu-west-1, role {role}\n")
    );
    assert_eq!(
        state["resources"]["null_resource.central"]["inputs"]["triggers"]["prod_role"],
        role
    );
    let out = ws.expect(&["output", "prod_config"], 0);
    assert!(out.stdout.contains("out/prod.txt"), "{}", out.stdout);
    ws.expect(&["plan", "--detailed-exitcode"], 0);

    // A key removed destroys that instance's blocks only.
    ws.write_spec(&SPEC.replace(", dev = \"us-east-1\"", ""));
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 0 to change, 2 to destroy."),
        "{}",
        plan.stdout
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    assert!(!ws.file("out/dev.txt").exists());
    assert!(ws.file("out/prod.txt").exists());
}

#[test]
fn a_mistake_inside_a_component_points_at_the_components_file() {
    let ws = workspace(SPEC);
    std::fs::write(
        ws.file("components/role/component.toml"),
        ROLE.replace("${var.name}", "${var.nmae}"),
    )
    .unwrap();
    let out = ws.expect(&["validate"], 1);
    assert!(
        out.stderr
            .contains("reference to undeclared variable `nmae`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("components/monitoring/../role/component.toml:6"),
        "{}",
        out.stderr
    );
}

#[test]
fn component_calls_are_checked_against_the_component() {
    let ws = workspace(
        &SPEC
            .replace(
                "inputs = { cluster = \"${each.key}\", region = \"${each.value}\" }",
                "inputs = { regoin = \"${each.value}\" }",
            )
            .replace("config_path}", "config_pth}"),
    );
    let out = ws.expect(&["validate"], 1);
    let said = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        said.contains("component `monitoring` has no variable `regoin`")
            && said.contains("did you mean `region`?"),
        "{said}"
    );
    assert!(
        said.contains("component `monitoring` needs the input `cluster`"),
        "{said}"
    );
    assert!(
        said.contains("component `monitoring` has no output `config_pth`"),
        "{said}"
    );
}

#[test]
fn components_that_use_each_other_are_a_cycle_named_in_both_files() {
    let ws = workspace(SPEC);
    std::fs::write(
        ws.file("components/role/component.toml"),
        format!("{ROLE}\n[components.back]\nsource = \"../monitoring\"\ninputs = {{ cluster = \"x\" }}\n"),
    )
    .unwrap();
    let out = ws.expect(&["validate"], 1);
    // (The terminal's width may wrap the message anywhere.)
    let said = out.stderr.replace("│ ", "").replace(['\n', ' '], "");
    assert!(
        said.contains("componentsuseeachotherinacycle:")
            && said.contains("components/monitoring/component.toml")
            && said.contains("components/role/component.toml"),
        "{said}"
    );
    // One error, not one per reference to what could not be loaded.
    assert_eq!(out.stderr.matches('×').count(), 1, "{}", out.stderr);
}

#[test]
fn a_saved_plan_applies_the_components_as_they_were_reviewed() {
    let ws = workspace(SPEC);
    ws.expect(&["plan", "--out", "reviewed.plan"], 0);
    // Edited between review and apply: the reviewed component is applied.
    std::fs::write(
        ws.file("components/monitoring/component.toml"),
        MONITORING.replace("cluster ${var.cluster}", "CLUSTER ${var.cluster}"),
    )
    .unwrap();
    ws.expect(&["apply", "reviewed.plan"], 0);
    assert!(
        std::fs::read_to_string(ws.file("out/prod.txt"))
            .unwrap()
            .starts_with("cluster prod"),
    );
    // The next plan sees the edit.
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("component.monitoring[\"prod\"].local_file.config will be updated in-place"),
        "{}",
        plan.stdout
    );
}

/// A component whose blocks choose a named AWS instance besides its
/// default one: the central account of a fleet.
const CROSS_ACCOUNT: &str = r#"
[variables.account]

[resources.aws_sns_topic.local]
name = "local-${var.account}"

[resources.aws_sns_topic.central]
provider = "aws.central"
name = "central-${var.account}"
"#;

const CROSS_ACCOUNT_SPEC: &str = r#"
[meshmon]
name = "fleet"

[variables.accounts]
default = { prod = "111111111111", dev = "222222222222" }

[providers.aws]
region = "eu-west-1"

[providers.aws.accounts]
for_each = "${var.accounts}"
region = "eu-west-1"
assume_role = { role_arn = "arn:aws:iam::${each.value}:role/meshmon" }

[components.per_account]
source = "components/per-account"
for_each = "${var.accounts}"
inputs = { account = "${each.key}" }
providers = { aws = "aws.accounts[each.key]", "aws.central" = "aws" }
"#;

#[test]
fn a_component_chooses_named_instances_that_each_use_maps() {
    let ws = Workspace::new(CROSS_ACCOUNT_SPEC);
    std::fs::create_dir_all(ws.file("components/per-account")).unwrap();
    std::fs::write(
        ws.file("components/per-account/component.toml"),
        CROSS_ACCOUNT,
    )
    .unwrap();
    ws.expect(&["validate"], 0);
    let graph = ws.expect(&["graph"], 0).stdout;
    for address in [
        r#"component.per_account[\"prod\"].aws_sns_topic.central"#,
        r#"component.per_account[\"dev\"].aws_sns_topic.local"#,
    ] {
        assert!(graph.contains(address), "{address}:\n{graph}");
    }

    // Not given and not declared: the call says which and how to give it.
    ws.write_spec(&CROSS_ACCOUNT_SPEC.replace(", \"aws.central\" = \"aws\"", ""));
    let out = ws.expect(&["validate"], 1);
    let said = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        said.contains("component `per_account` chooses `aws.central`, neither given nor declared")
            && said.contains(r#"providers = { "aws.central" = "aws" }"#),
        "{said}"
    );

    // Declared by the spec instead, it is the spec's own.
    ws.write_spec(
        &CROSS_ACCOUNT_SPEC
            .replace(", \"aws.central\" = \"aws\"", "")
            .replace(
                "[components.per_account]",
                "[providers.aws.central]\nregion = \"eu-west-1\"\n\n[components.per_account]",
            ),
    );
    ws.expect(&["validate"], 0);
}
