use crate::common::Workspace;

const FILES: &str = r#"
[meshmon]
name = "files"

[resources.local_file.kept]
path = "kept.txt"
content = "one\ntwo\n"

[resources.local_file.edited]
path = "edited.txt"
content = "original\n"

[resources.local_file.gone]
path = "gone.txt"
content = "bye\n"
file_permission = "0600"
"#;

fn drifted() -> Workspace {
    let ws = Workspace::new(FILES);
    ws.expect(&["apply", "--auto-approve"], 0);
    std::fs::write(ws.file("edited.txt"), "changed by hand\n").unwrap();
    std::fs::remove_file(ws.file("gone.txt")).unwrap();
    ws
}

#[test]
fn drift_is_clean_right_after_apply() {
    let ws = Workspace::new(FILES);
    ws.expect(&["apply", "--auto-approve"], 0);
    let out = ws.expect(&["drift"], 0);
    assert!(out.stdout.contains("No drift"), "{}", out.stdout);
    let json = ws.expect(&["drift", "--format", "json"], 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json.stdout).unwrap(),
        serde_json::json!({"format_version": 1, "drift": [], "throttling": []})
    );
}

#[test]
fn drift_reports_deleted_and_changed_files_with_exit_code_2() {
    let ws = drifted();
    let json = ws.expect(&["drift", "--format", "json"], 2);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["format_version"], 1);
    let drift = doc["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 2, "{doc:#}");
    assert_eq!(drift[0]["address"], "local_file.edited");
    assert_eq!(drift[0]["kind"], "changed");
    let content = drift[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "content")
        .unwrap();
    assert_eq!(content["recorded"], "original\n");
    assert_eq!(content["actual"], "changed by hand\n");
    assert_eq!(
        drift[1],
        serde_json::json!({"address": "local_file.gone", "kind": "deleted", "attributes": []})
    );

    let md = ws.expect(&["drift", "--format", "markdown"], 2);
    assert!(
        md.stdout
            .contains("| Resource | Drift | Attribute | Recorded | Actual |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains("| `local_file.gone` | deleted |"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("| `local_file.edited` | changed | `content` | `\"original\\n\"` | `\"changed by hand\\n\"` |"), "{}", md.stdout);

    let text = ws.expect(&["drift"], 2);
    assert!(
        text.stdout.contains("# local_file.gone has been deleted"),
        "{}",
        text.stdout
    );
}

#[test]
fn apply_repairs_drift() {
    let ws = drifted();
    let plan = ws.expect(&["plan"], 0);
    assert!(
        plan.stdout
            .contains("Objects have changed outside of meshmon"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("local_file.gone will be created"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("local_file.edited will be updated in-place"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("-   changed by hand") || plan.stdout.contains("- changed by hand"),
        "{}",
        plan.stdout
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        std::fs::read_to_string(ws.file("edited.txt")).unwrap(),
        "original\n"
    );
    ws.expect(&["drift"], 0);
}

#[test]
fn changed_file_mode_is_drift() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new(FILES);
    ws.expect(&["apply", "--auto-approve"], 0);
    std::fs::set_permissions(ws.file("kept.txt"), std::fs::Permissions::from_mode(0o666)).unwrap();
    let json = ws.expect(&["drift", "--format", "json"], 2);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["drift"][0]["attributes"][0],
        serde_json::json!({"path": "file_permission", "recorded": "0644", "actual": "0666"})
    );
}

#[test]
fn refresh_only_plan_and_apply_record_drift_without_repairing() {
    let ws = drifted();
    let plan = ws.expect(&["plan", "--refresh-only", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("refresh-only"), "{}", plan.stdout);
    ws.expect(&["apply", "--refresh-only", "--auto-approve"], 0);
    let mut addrs = ws.state_addresses("files");
    addrs.sort();
    assert_eq!(addrs, vec!["local_file.edited", "local_file.kept"]);
    assert_eq!(
        ws.state("files")["resources"]["local_file.edited"]["inputs"]["content"],
        "changed by hand\n"
    );
    assert!(!ws.file("gone.txt").exists());
    ws.expect(&["drift"], 0);
}

#[test]
fn plan_without_refresh_does_not_read_the_world() {
    let ws = drifted();
    let out = ws.expect(&["plan", "--refresh=false", "--detailed-exitcode"], 0);
    assert!(out.stdout.contains("No changes."), "{}", out.stdout);
}

#[test]
fn ignore_changes_hides_drift_and_diffs_on_that_attribute() {
    let spec = r#"
[meshmon]
name = "ignored"

[resources.local_file.f]
path = "f.txt"
content = "managed elsewhere\n"
lifecycle = { ignore_changes = ["content"] }
"#;
    let ws = Workspace::new(spec);
    ws.expect(&["apply", "--auto-approve"], 0);
    std::fs::write(ws.file("f.txt"), "edited\n").unwrap();
    let out = ws.expect(&["drift", "--format", "json"], 2);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let paths: Vec<&str> = doc["drift"][0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert!(!paths.contains(&"content"), "{paths:?}");
    ws.write_spec(&spec.replace("managed elsewhere", "new content"));
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}
