//! Snapshots of what a user sees: every spec diagnostic (rendered by miette,
//! no colour) and the rendered plan.

use crate::common::Workspace;

/// Runs `validate` on a spec that must fail and returns what it printed.
fn diagnose(spec: &str) -> String {
    let ws = Workspace::new(spec);
    let out = ws.expect(&["validate"], 1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    out.stderr
}

#[test]
fn toml_syntax_error() {
    insta::assert_snapshot!(diagnose(
        "[meshmon]\nname = \"x\"\n\n[resources.null_resource.a]\ninputs = { a = 1, }\ntriggers = \"unterminated\n"
    ));
}

#[test]
fn unknown_resource_type_suggests_the_closest() {
    insta::assert_snapshot!(diagnose(
        "[meshmon]\nname = \"x\"\n\n[resources.null_resorce.a]\ninputs = 1\n"
    ));
}

#[test]
fn unknown_attribute_suggests_the_closest() {
    insta::assert_snapshot!(diagnose(
        "[meshmon]\nname = \"x\"\n\n[resources.local_file.f]\npath = \"f\"\ncontent = \"c\"\nfile_permissions = \"0600\"\n"
    ));
}

#[test]
fn missing_required_attribute() {
    insta::assert_snapshot!(diagnose(
        "[meshmon]\nname = \"x\"\n\n[resources.local_file.f]\npath = \"f\"\n"
    ));
}

#[test]
fn wrong_value_type() {
    insta::assert_snapshot!(diagnose(
        "[meshmon]\nname = \"x\"\n\n[resources.null_resource.a]\ntriggers = [\"a\", \"b\"]\n\n[resources.time_sleep.s]\ncreate_duration = 5\n"
    ));
}

#[test]
fn reference_to_undeclared_resource_attribute_or_variable() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[variables.region]
default = "eu-west-1"

[resources.null_resource.a]
inputs = "${null_resource.b.id}"

[resources.null_resource.c]
inputs = "${null_resource.a.arn}"

[resources.null_resource.d]
inputs = "${var.regoin}"
"#
    ));
}

#[test]
fn dependency_cycle_names_every_address() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[resources.null_resource.c]
inputs = "${null_resource.a.id}"

[resources.null_resource.a]
inputs = "${null_resource.b.id}"

[resources.null_resource.b]
depends_on = ["null_resource.c"]

[resources.null_resource.free]
inputs = "not in the cycle"
"#
    ));
}

#[test]
fn duplicate_resource_address() {
    insta::assert_snapshot!(diagnose(
        "[meshmon]\nname = \"x\"\n\n[resources.null_resource.a]\ninputs = 1\n\n[resources.null_resource.a]\ninputs = 2\n"
    ));
}

#[test]
fn malformed_addresses() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[resources.null_resource."bad name"]
inputs = 1

[resources.null_resource.a]
depends_on = ["null_resource", "null_resource.a", "null_resource.missing"]
inputs = "${null_resource}"
"#
    ));
}

#[test]
fn bad_lifecycle_and_timeouts() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[resources.local_file.f]
path = "f"
content = "c"
lifecycle = { prevent_destory = true, ignore_changes = ["contents", "sha256"], create_before_destroy = "yes" }
timeouts = { create = "ten minutes", remove = "1m" }
"#
    ));
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let stderr = diagnose(
        r#"[meshmon]
name = "x"
colour = "blue"

[variables.needed]
description = "no default and no value"

[resources.null_resorce.a]
inputs = 1

[resources.local_file.f]
path = 42

[resources.null_resource.b]
inputs = "${var.nope}"
"#,
    );
    insta::assert_snapshot!(stderr);
    assert!(stderr.contains("6 errors in the spec"), "{stderr}");
}

#[test]
fn unset_variable_is_named() {
    insta::assert_snapshot!(diagnose(
        "[meshmon]\nname = \"x\"\n\n[variables.alert_email]\ndescription = \"Where alerts go\"\n\n[resources.null_resource.a]\ninputs = \"${var.alert_email}\"\n"
    ));
}

#[test]
fn valid_spec_validates() {
    let ws =
        Workspace::new("[meshmon]\nname = \"ok\"\n\n[resources.null_resource.a]\ninputs = 1\n");
    let out = ws.expect(&["validate"], 0);
    assert_eq!(out.stdout, "The spec is valid.\n");
    let missing = Workspace::new("");
    std::fs::remove_file(missing.file("meshmon.toml")).unwrap();
    let out = missing.expect(&["validate"], 1);
    assert!(
        out.stderr.contains("cannot read spec meshmon.toml"),
        "{}",
        out.stderr
    );
}

/// Creates, updates, a replace, a delete, a document and a secret: the spec
/// the rendered-plan snapshots (here and in `reports.rs`) are made from.
pub(crate) const PLAN_SPEC: &str = r#"
[meshmon]
name = "render"

[variables.msg]
default = "hello"

[variables.password]
default = "p4ss"
sensitive = true

[resources.null_resource.kept]
inputs = "unchanged"

[resources.null_resource.updated]
inputs = { msg = "${var.msg}", list = [1, 2] }

[resources.null_resource.replaced]
triggers = { version = "1" }
inputs = "${null_resource.kept.id}"

[resources.null_resource.removed]
inputs = "going away"

[resources.local_file.doc]
path = "doc.json"
content = """
{
  "a": 1,
  "b": [1, 2, 3],
  "msg": "${var.msg}"
}
"""

[resources.null_resource.secret]
inputs = { password = "${var.password}" }
"#;

#[test]
fn rendered_plan_for_create() {
    let ws = Workspace::new(PLAN_SPEC);
    insta::assert_snapshot!(ws.expect(&["plan"], 0).stdout);
}

#[test]
fn rendered_plan_for_update_replace_and_delete() {
    let ws = Workspace::new(PLAN_SPEC);
    ws.expect(&["apply", "--auto-approve"], 0);
    let changed = PLAN_SPEC
        .replace("version = \"1\"", "version = \"2\"")
        .replace(
            "[resources.null_resource.removed]\ninputs = \"going away\"\n",
            "",
        )
        .replace("\"b\": [1, 2, 3]", "\"b\": [1, 2, 4]")
        .replace("list = [1, 2]", "list = [1, 2, 3]");
    ws.write_spec(&changed);
    let out = ws.expect(
        &["plan", "--var", "msg=bonjour", "--var", "password=n3w"],
        0,
    );
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[sha256]"), (r"[0-9a-f]{32}", "[id]")]}, {
        insta::assert_snapshot!(out.stdout);
    });
}

#[test]
fn validate_warns_about_components_past_end_of_life() {
    let ws = Workspace::new(
        r#"[meshmon]
name = "old"

[resources.aws_eks_cluster.main]
name = "AMP-EKS-CLUSTER"
version = "1.25"
role_arn = "arn:aws:iam::123456789012:role/eks"
subnet_ids = ["subnet-a", "subnet-b"]

[resources.helm_release.appmesh]
name = "appmesh-controller"
namespace = "appmesh-system"
repository = "https://aws.github.io/eks-charts"
chart = "appmesh-controller"

[resources.k8s_manifest.agent]
content = """
apiVersion: rbac.authorization.k8s.io/v1beta1
kind: ClusterRole
metadata:
  name: grafana-agent
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: grafana-agent
spec:
  template:
    spec:
      containers:
        - name: agent
          image: grafana/agent:v0.19.0
"""
"#,
    );
    // Warnings do not fail validation...
    let out = ws.expect(&["validate"], 0);
    assert_eq!(out.stdout, "The spec is valid.\n");
    // Which version is the oldest still supported depends on today's date.
    insta::with_settings!({filters => vec![(r"set version to 1\.\d+ or later", "set version to [supported] or later")]}, {
        insta::assert_snapshot!(out.stderr);
    });
    // ...unless CI asks them to.
    let denied = ws.expect(&["validate", "--deny-warnings"], 1);
    assert!(
        denied.stderr.contains("4 errors in the spec"),
        "{}",
        denied.stderr
    );
}

#[test]
fn the_example_spec_validates_with_its_end_of_life_warnings() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let ws = Workspace::new("");
    let out = ws.expect(&["validate", "-f", &format!("{dir}/meshmon.toml")], 0);
    assert!(
        out.stderr
            .contains("AWS App Mesh was discontinued on 2026-09-30"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("Grafana Agent reached end of life on 2025-11-01"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Grafana Alloy"), "{}", out.stderr);
    assert!(
        out.stderr.contains("docs/migrate-from-app-mesh.md"),
        "the end-of-life help points at the migration guide: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("EKS version"),
        "the example uses a supported EKS version: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("v1beta1"),
        "the example uses current API versions: {}",
        out.stderr
    );
}

#[test]
fn the_istio_examples_validate_without_end_of_life_warnings() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let ws = Workspace::new("");
    for spec in [
        "istio.toml",
        "istio-alloy.toml",
        "existing-cluster.toml",
        "fleet.toml",
    ] {
        let out = ws.expect(
            &[
                "validate",
                "--deny-warnings",
                "-f",
                &format!("{dir}/{spec}"),
            ],
            0,
        );
        assert_eq!(out.stdout, "The spec is valid.\n", "{spec}");
        assert!(out.stderr.is_empty(), "{spec}: {}", out.stderr);
    }
}

#[test]
fn the_istio_examples_plan_offline_from_nothing() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let ws = Workspace::new("");
    for spec in ["istio.toml", "istio-alloy.toml"] {
        // The state's default place is under the workspace: nothing there.
        let out = ws.expect(&["plan", "-f", &format!("{dir}/{spec}")], 0);
        let declared = std::fs::read_to_string(format!("{dir}/{spec}"))
            .expect("spec")
            .lines()
            .filter(|l| l.starts_with("[resources."))
            .count();
        assert!(
            out.stdout.contains(&format!(
                "Plan: {declared} to add, 0 to change, 0 to destroy."
            )),
            "{spec}: {}",
            out.stdout
        );
        assert!(
            !out.stdout.contains("apply will refuse this"),
            "{spec}: the collector's configuration and the Alertmanager definition pass the checks: {}",
            out.stdout
        );
    }
}

#[test]
fn a_value_refused_at_plan_points_at_where_it_is_written() {
    let ws = Workspace::new(
        r#"[meshmon]
name = "x"

[variables.wait]
default = "30s"

[resources.time_sleep.s]
create_duration = "${var.wait}"
"#,
    );
    let out = ws.expect(&["plan", "--var", "wait=forever"], 1);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn every_value_refused_at_plan_is_reported_and_what_depends_on_it_is_not() {
    let ws = Workspace::new(
        r#"[meshmon]
name = "x"

[variables.wait]
default = "30s"

[resources.time_sleep.a]
create_duration = "${var.wait}"

[resources.time_sleep.b]
destroy_duration = "${var.wait}"

[resources.null_resource.after_a]
inputs = "${time_sleep.a.id}"
"#,
    );
    let out = ws.expect(&["plan", "--var", "wait=forever"], 1);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn a_malformed_ignore_changes_path_points_at_the_fault() {
    insta::assert_snapshot!(diagnose(
        "[meshmon]\nname = \"x\"\n\n[resources.null_resource.a]\ninputs = { items = [1] }\nlifecycle = { ignore_changes = [\"inputs[\", \"inputs..b\", \"inputs.items[x]\"] }\n"
    ));
}

#[test]
fn an_access_scope_that_disagrees_with_its_namespaces_points_at_the_scope() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[resources.aws_eks_access_policy_association.admin]
cluster_name = "main"
principal_arn = "arn:aws:iam::123456789012:role/admin"
policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
access_scope = { type = "cluster", namespaces = ["prod"] }
"#
    ));
}

#[test]
fn a_dashboard_with_two_sources_points_at_the_second() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[resources.grafana_dashboard.mesh]
config_json = { title = "Envoy" }
gnet_id = 11022
"#
    ));
}

/// The values come from variables, which have their values at validate: the
/// check runs there and points at where the value is written.
#[test]
fn a_dashboard_with_two_sources_from_variables_is_refused_at_validate() {
    let ws = Workspace::new(
        r#"[meshmon]
name = "x"

[variables.dashboard]
default = 11022

[resources.grafana_dashboard.mesh]
config_json = { title = "Envoy" }
gnet_id = "${var.dashboard}"
"#,
    );
    let out = ws.expect(&["validate"], 1);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn a_role_association_for_nobody_points_at_the_block() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[resources.aws_grafana_role_association.admins]
workspace_id = "g-abc123"
role = "ADMIN"
"#
    ));
}

#[test]
fn a_provider_block_naming_two_clusters_points_at_the_second() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[providers.kubernetes]
eks_cluster = "main"
kubeconfig = "~/.kube/config"
ready_timeout = "soon"
"#
    ));
}

#[test]
fn moved_and_removed_entries_that_cannot_be_carried_out() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[resources.null_resource.a]

[resources.local_file.f]
path = "f"
content = "c"

[[moved]]
from = "null_resource.a"
to = "null_resource.b"

[[moved]]
from = "null_resource.old"
to = "local_file.f"

[[moved]]
from = "null_resource.z"

[[removed]]
from = "local_file.f"
destroy = "no"
"#
    ));
}

#[test]
fn lookup_mistakes() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[data.local_fil.a]
path = "a"

[data.null_resource.b]
triggers = {}

[data.local_file.c]
path = "c"
content = "not searched by"
lifecycle = { prevent_destroy = true }

[resources.null_resource.d]
triggers = { a = "${data.local_file.missing.content}", b = "${data.local_file.c.contents}", c = "${data.local_file.c}" }
depends_on = ["data.local_file.cc"]
"#
    ));
}

#[test]
fn keyed_instance_mistakes() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[resources.null_resource.a]
for_each = ["prod", "dev", "prod"]
triggers = { k = "${each.key}" }

[resources.null_resource.b]
for_each = 3
triggers = {}

[resources.null_resource.c]
triggers = { k = "${each.key}", a = "${null_resource.a.id}", d = "${null_resource.d[\"x\"].id}" }

[resources.null_resource.d]
triggers = { a = "${null_resource.a[each.key].id}", n = "${null_resource.a[0].id}" }
"#
    ));
}

#[test]
fn keyed_instance_that_does_not_exist() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[resources.null_resource.a]
for_each = { prod = "eu-west-1" }
triggers = { region = "${each.value}" }

[resources.null_resource.b]
triggers = { a = "${null_resource.a[\"prd\"].id}" }
"#
    ));
}

/// Runs `validate` in a workspace that also holds `files`.
fn diagnose_with(spec: &str, files: &[(&str, &str)]) -> String {
    let ws = Workspace::new(spec);
    for (path, text) in files {
        let path = ws.file(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let out = ws.expect(&["validate"], 1);
    out.stderr
}

#[test]
fn component_cycle() {
    insta::assert_snapshot!(diagnose_with(
        "[meshmon]\nname = \"x\"\n\n[components.a]\nsource = \"c/a\"\n",
        &[
            ("c/a/component.toml", "[components.b]\nsource = \"../b\"\n"),
            ("c/b/component.toml", "[components.a]\nsource = \"../a\"\n"),
        ],
    ));
}

#[test]
fn provider_instance_missing() {
    insta::assert_snapshot!(diagnose(
        r#"[meshmon]
name = "x"

[providers.builtin.files]

[resources.null_resource.a]
provider = "builtin.flies"
triggers = {}

[resources.null_resource.b]
provider = "aws.prod"
triggers = {}
"#
    ));
}

#[test]
fn lookup_not_found() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"x\"\n\n[data.local_file.config]\npath = \"conf/clusters.toml\"\n",
    );
    std::fs::create_dir_all(ws.file("conf")).unwrap();
    std::fs::write(ws.file("conf/cluster.toml"), "").unwrap();
    let out = ws.expect(&["plan"], 1);
    insta::assert_snapshot!(out.stderr);
}

/// A spec of `n` null_resources, `r0000`.. in order; `extra(i)` adds lines
/// to block `i`.
fn many(n: usize, extra: impl Fn(usize) -> String) -> String {
    let mut spec = String::from("[meshmon]\nname = \"x\"\n");
    for i in 0..n {
        spec.push_str(&format!(
            "\n[resources.null_resource.r{i:04}]\ninputs = {{ n = {i} }}\n{}",
            extra(i)
        ));
    }
    spec
}

#[test]
fn a_large_spec_reports_every_blocks_errors_in_the_order_of_the_blocks() {
    // Large enough that its blocks are read by two loaders; one error in
    // each half, and the second half refers to the first.
    let spec = many(3000, |i| match i {
        100 => "triggers = { a = \"${null_resource.nope.id}\" }\n".into(),
        2900 => "triggers = { a = \"${null_resource.r0001.idd}\" }\n".into(),
        2950 => "triggers = { a = \"${null_resource.r0002.id}\" }\n".into(),
        _ => String::new(),
    });
    let stderr = diagnose(&spec);
    let first = stderr.find("null_resource.nope").expect(&stderr);
    let second = stderr.find("idd").expect(&stderr);
    assert!(first < second, "{stderr}");
    assert!(!stderr.contains("r0002"), "{stderr}");
}

#[test]
fn a_large_spec_saves_the_files_read_by_either_half_of_its_blocks() {
    let spec = many(3000, |i| match i {
        10 => "triggers = { a = \"${file(\\\"a.txt\\\")}\" }\n".into(),
        2990 => "triggers = { b = \"${file(\\\"b.txt\\\")}\" }\n".into(),
        _ => String::new(),
    });
    let ws = Workspace::new(&spec);
    std::fs::write(ws.path().join("a.txt"), "first half").unwrap();
    std::fs::write(ws.path().join("b.txt"), "second half").unwrap();
    ws.expect(&["plan", "--out", "saved.plan"], 0);
    let bytes = std::fs::read(ws.path().join("saved.plan")).unwrap();
    // A header line, then the plan as JSON.
    let body = &bytes[bytes.iter().position(|b| *b == b'\n').unwrap() + 1..];
    let saved: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(saved["files"]["a.txt"], "first half");
    assert_eq!(saved["files"]["b.txt"], "second half");
}

/// A spec over a MiB, with its blocks on both sides of the first cut: a
/// resource's error after the cut points at its own line, and a syntax
/// error there is reported as the whole text reads.
#[test]
fn a_spec_parsed_in_pieces_points_into_the_right_piece() {
    let padding = "# a spec long enough to be parsed in pieces\n".repeat(30_000);
    let spec = |tail: &str| {
        format!(
            "[meshmon]\nname = \"x\"\n\n[resources.null_resource.a]\ninputs = {{ n = 1 }}\n\n{padding}\n[resources.null_resource.b]\ninputs = {{ n = 2 }}\n{tail}"
        )
    };
    // `meshmon.toml:LINE:COLUMN` of the first `needle` in `text`.
    let at = |text: &str, needle: &str| {
        let offset = text.find(needle).unwrap();
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = text[..offset].matches('\n').count() + 1;
        format!("meshmon.toml:{line}:{}]", offset - line_start + 1)
    };

    let text = spec("triggers = { a = \"${null_resource.a.idd}\" }\n");
    assert!(text.len() > 1 << 20);
    let stderr = diagnose(&text);
    assert!(stderr.contains("has no attribute `idd`"), "{stderr}");
    let expected = at(&text, "${null_resource.a.idd}");
    assert!(stderr.contains(&expected), "{expected} in {stderr}");

    let text = spec("triggers = { a = 1,, }\n");
    let stderr = diagnose(&text);
    let expected = at(&text, "triggers");
    let line = &expected[..expected.rfind(':').unwrap()];
    assert!(stderr.contains(line), "{line} in {stderr}");
}
