use crate::common::Workspace;

const MESH: &str = r#"
[resources.helm_release.appmesh_controller]
name = "appmesh-controller"
namespace = "appmesh-system"
repository = "https://aws.github.io/eks-charts"
chart = "appmesh-controller"

[resources.helm_release.appmesh_crds]
name = "appmesh-crds"
namespace = "appmesh-system"
repository = "https://aws.github.io/eks-charts"
chart = "appmesh-crds"

[resources.k8s_manifest.mesh]
content = """
apiVersion: appmesh.k8s.aws/v1beta2
kind: Mesh
metadata:
  name: djapp
"""
"#;

fn spec(meshmon_extra: &str) -> String {
    format!("[meshmon]\nname = \"quiet\"\n{meshmon_extra}\n{MESH}")
}

const FULL: &str = "AWS App Mesh was discontinued on 2026-09-30";

#[test]
fn repeated_warnings_fold_into_one_line_when_not_a_terminal() {
    let ws = Workspace::new(&spec(""));
    let out = ws.expect(&["validate"], 0);
    assert_eq!(out.stderr.matches(FULL).count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "⚠ 2 more `app-mesh-end-of-life` warnings: helm_release.appmesh_crds, k8s_manifest.mesh (--no-compact-warnings shows each)"
        ),
        "{}",
        out.stderr
    );
    // The code is shown with the warning, for `acknowledge`.
    assert!(
        out.stderr.contains("app-mesh-end-of-life"),
        "{}",
        out.stderr
    );

    let all = ws.expect(&["validate", "--no-compact-warnings"], 0);
    assert_eq!(all.stderr.matches(FULL).count(), 3, "{}", all.stderr);
    assert!(!all.stderr.contains("more `app-mesh"), "{}", all.stderr);
    // The last flag wins.
    let again = ws.expect(
        &["--no-compact-warnings", "validate", "--compact-warnings"],
        0,
    );
    assert_eq!(again.stderr.matches(FULL).count(), 1, "{}", again.stderr);
}

#[test]
fn acknowledged_warnings_show_as_a_one_line_reminder() {
    let ws = Workspace::new(&spec(
        r#"acknowledge = [
  { warning = "app-mesh-end-of-life", resources = ["helm_release.appmesh_controller", "k8s_manifest.mesh"], reason = "moving to Istio in Q1" },
]"#,
    ));
    let out = ws.expect(&["validate", "--no-compact-warnings"], 0);
    assert_eq!(out.stderr.matches(FULL).count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("helm_release.appmesh_crds"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "2 acknowledged warnings ([meshmon] acknowledge): app-mesh-end-of-life on helm_release.appmesh_controller, k8s_manifest.mesh."
        ),
        "{}",
        out.stderr
    );
    // Acknowledged warnings do not fail CI; the others still do.
    ws.expect(&["validate", "--deny-warnings"], 1);
    let all = spec(
        r#"acknowledge = [
  { warning = "app-mesh-end-of-life", resources = ["helm_release.appmesh_controller", "helm_release.appmesh_crds", "k8s_manifest.mesh"] },
]"#,
    );
    ws.write_spec(&all);
    let out = ws.expect(&["validate", "--deny-warnings"], 0);
    assert!(!out.stderr.contains(FULL), "{}", out.stderr);
    assert!(
        out.stderr.contains("3 acknowledged warnings"),
        "{}",
        out.stderr
    );
    // Plan shows the same reminder.
    let plan = ws.expect(&["plan"], 0);
    assert!(
        plan.stderr.contains("3 acknowledged warnings"),
        "{}",
        plan.stderr
    );
}

#[test]
fn acknowledging_an_unknown_warning_or_resource_points_at_it() {
    let ws = Workspace::new(&spec(
        r#"acknowledge = [
  { warning = "app-mesh-end-of-lfe", resources = ["helm_release.appmesh_controler"] },
  { resources = ["k8s_manifest.mesh"], until = "2027-01-01" },
]"#,
    ));
    let out = ws.expect(&["validate"], 1);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn an_acknowledgement_that_matches_no_warning_is_itself_a_warning() {
    let ws = Workspace::new(&spec(
        r#"acknowledge = [
  { warning = "grafana-agent-end-of-life", resources = ["k8s_manifest.mesh"] },
]"#,
    ));
    let out = ws.expect(&["validate"], 0);
    assert!(
        out.stderr.contains(
            "`k8s_manifest.mesh` is acknowledged for `grafana-agent-end-of-life`, but has no such warning"
        ),
        "{}",
        out.stderr
    );
}
