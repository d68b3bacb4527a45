use crate::common::{Workspace, events, position};

const CHAIN: &str = r#"
[meshmon]
name = "life"

[variables.greeting]
default = "hello"

[resources.null_resource.base]
inputs = { msg = "${var.greeting}" }

[resources.null_resource.middle]
triggers = { base = "${null_resource.base.id}" }
inputs = "${null_resource.base.inputs.msg} world"

[resources.null_resource.top]
inputs = ["${null_resource.middle.id}"]

[resources.local_file.out]
path = "out/greeting.txt"
content = "${null_resource.middle.inputs}\n"

[outputs.top_id]
value = "${null_resource.top.id}"
"#;

#[test]
fn apply_creates_in_dependency_order_and_replans_to_no_changes() {
    let ws = Workspace::new(CHAIN);
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("Plan: 4 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );

    let apply = ws.expect(&["apply", "--auto-approve"], 0);
    let ev = events(&apply.stdout);
    assert!(
        position(&ev, "null_resource.base", "Creation complete")
            < position(&ev, "null_resource.middle", "Creating")
    );
    assert!(
        position(&ev, "null_resource.middle", "Creation complete")
            < position(&ev, "null_resource.top", "Creating")
    );
    assert!(
        apply
            .stdout
            .contains("Apply complete! Resources: 4 added, 0 changed, 0 destroyed.")
    );
    assert_eq!(
        std::fs::read_to_string(ws.file("out/greeting.txt")).unwrap(),
        "hello world\n"
    );

    let state = ws.state("life");
    assert_eq!(state["format_version"], 2);
    assert_eq!(state["serial"], 1);
    let top_id = state["resources"]["null_resource.top"]["outputs"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(state["outputs"]["top_id"]["value"], top_id);
    assert_eq!(
        state["resources"]["null_resource.top"]["dependencies"],
        serde_json::json!(["null_resource.middle"])
    );

    let replan = ws.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(replan.stdout.contains("No changes."), "{}", replan.stdout);
}

#[test]
fn input_change_updates_in_place_and_trigger_change_replaces() {
    let ws = Workspace::new(CHAIN);
    ws.expect(&["apply", "--auto-approve"], 0);
    let before = ws.state("life");
    let base_id = before["resources"]["null_resource.base"]["outputs"]["id"].clone();
    let middle_id = before["resources"]["null_resource.middle"]["outputs"]["id"].clone();

    // An input change: updated in place, IDs kept, dependents follow.
    let out = ws.expect(&["apply", "--auto-approve", "--var", "greeting=howdy"], 0);
    assert!(
        out.stdout
            .contains("null_resource.base will be updated in-place"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Resources: 0 added, 3 changed, 0 destroyed."),
        "{}",
        out.stdout
    );
    let after = ws.state("life");
    assert_eq!(
        after["resources"]["null_resource.base"]["outputs"]["id"],
        base_id
    );
    assert_eq!(
        after["resources"]["null_resource.middle"]["inputs"]["inputs"],
        "howdy world"
    );
    assert_eq!(
        std::fs::read_to_string(ws.file("out/greeting.txt")).unwrap(),
        "howdy world\n"
    );

    // A trigger change: replaced, a new ID, and the plan says why.
    ws.write_spec(&CHAIN.replace(
        "triggers = { base = \"${null_resource.base.id}\" }",
        "triggers = { base = \"${null_resource.base.id}\", rotate = \"1\" }",
    ));
    let plan = ws.expect(&["plan", "--json", "--var", "greeting=howdy"], 0);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let middle = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "null_resource.middle")
        .unwrap();
    assert_eq!(middle["action"], "replace");
    assert_eq!(middle["replace_because"], serde_json::json!(["triggers"]));
    assert!(
        middle["unknown"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("id"))
    );
    let top = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "null_resource.top")
        .unwrap();
    assert_eq!(top["action"], "update");
    assert_eq!(
        doc["summary"],
        serde_json::json!({"add": 1, "change": 1, "destroy": 1, "move": 0, "forget": 0})
    );

    ws.expect(&["apply", "--auto-approve", "--var", "greeting=howdy"], 0);
    let replaced = ws.state("life");
    assert_ne!(
        replaced["resources"]["null_resource.middle"]["outputs"]["id"],
        middle_id
    );
    assert_eq!(
        replaced["resources"]["null_resource.base"]["outputs"]["id"],
        base_id
    );
}

#[test]
fn removing_a_resource_deletes_it_and_destroy_goes_in_reverse_order() {
    let ws = Workspace::new(CHAIN);
    ws.expect(&["apply", "--auto-approve"], 0);

    let without_file = CHAIN.replace(
        "[resources.local_file.out]\npath = \"out/greeting.txt\"\ncontent = \"${null_resource.middle.inputs}\\n\"\n",
        "",
    );
    assert_ne!(without_file, CHAIN);
    ws.write_spec(&without_file);
    let out = ws.expect(&["apply", "--auto-approve"], 0);
    assert!(
        out.stdout.contains("local_file.out will be destroyed"),
        "{}",
        out.stdout
    );
    assert!(!ws.file("out/greeting.txt").exists());
    assert!(
        !ws.state_addresses("life")
            .contains(&"local_file.out".to_string())
    );

    let destroy = ws.expect(&["destroy", "--auto-approve"], 0);
    let ev = events(&destroy.stdout);
    assert!(
        position(&ev, "null_resource.top", "Destruction complete")
            < position(&ev, "null_resource.middle", "Destroying")
    );
    assert!(
        position(&ev, "null_resource.middle", "Destruction complete")
            < position(&ev, "null_resource.base", "Destroying")
    );
    assert!(ws.state_addresses("life").is_empty());
    assert_eq!(ws.state("life")["outputs"], serde_json::json!({}));
    let replan = ws.expect(&["plan"], 0);
    assert!(
        replan.stdout.contains("Plan: 3 to add"),
        "{}",
        replan.stdout
    );
}

#[test]
fn state_file_is_private_and_keeps_a_backup() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new(CHAIN);
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.expect(&["apply", "--auto-approve", "--var", "greeting=hi"], 0);
    for f in ["state/life.json", "state/life.json.backup"] {
        let mode = std::fs::metadata(ws.file(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f} has mode {mode:o}");
    }
    let backup: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.file("state/life.json.backup")).unwrap())
            .unwrap();
    assert_eq!(backup["serial"], 1);
    assert_eq!(ws.state("life")["serial"], 2);
    assert!(!ws.file("state/life.json.journal").exists());
}

#[test]
fn saved_plan_applies_once_and_is_refused_when_state_moved_on() {
    let ws = Workspace::new(CHAIN);
    ws.expect(&["plan", "--out", "first.plan"], 0);
    ws.expect(&["plan", "--out", "second.plan"], 0);
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(ws.file("first.plan"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode, 0o600);
    let out = ws.expect(&["apply", "first.plan"], 0);
    assert!(
        out.stdout.contains("Apply complete! Resources: 4 added"),
        "{}",
        out.stdout
    );
    let stale = ws.expect(&["apply", "second.plan"], 1);
    assert!(
        stale.stderr.contains("the saved plan is stale"),
        "{}",
        stale.stderr
    );
    assert!(stale.stderr.contains("serial 0"), "{}", stale.stderr);
    assert_eq!(ws.state("life")["serial"], 1);
}

#[test]
fn apply_without_a_terminal_refuses_instead_of_hanging() {
    let ws = Workspace::new(CHAIN);
    let out = ws.expect(&["apply"], 1);
    assert!(
        out.stderr.contains("standard input is not a terminal"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--auto-approve"), "{}", out.stderr);
    assert!(!ws.file("state/life.json").exists());
    let destroy = ws.expect(&["destroy"], 0);
    assert!(destroy.stdout.contains("No changes."), "{}", destroy.stdout);
}

#[test]
fn prevent_destroy_blocks_destroy_and_replacement() {
    let spec = r#"
[meshmon]
name = "guarded"

[resources.null_resource.keep]
triggers = { v = "1" }
lifecycle = { prevent_destroy = true }
"#;
    let ws = Workspace::new(spec);
    ws.expect(&["apply", "--auto-approve"], 0);
    let out = ws.expect(&["destroy", "--auto-approve"], 1);
    assert!(
        out.stderr
            .contains("null_resource.keep has lifecycle.prevent_destroy = true"),
        "{}",
        out.stderr
    );
    ws.write_spec(&spec.replace("v = \"1\"", "v = \"2\""));
    ws.expect(&["apply", "--auto-approve"], 1);
    assert_eq!(ws.state_addresses("guarded"), vec!["null_resource.keep"]);
}

#[test]
fn target_limits_apply_to_the_target_and_its_dependencies() {
    let ws = Workspace::new(CHAIN);
    let out = ws.expect(
        &[
            "apply",
            "--auto-approve",
            "--target",
            "null_resource.middle",
        ],
        0,
    );
    assert!(out.stdout.contains("Resources: 2 added"), "{}", out.stdout);
    let mut addrs = ws.state_addresses("life");
    addrs.sort();
    assert_eq!(addrs, vec!["null_resource.base", "null_resource.middle"]);

    ws.expect(&["apply", "--auto-approve"], 0);
    let out = ws.expect(
        &[
            "destroy",
            "--auto-approve",
            "--target",
            "null_resource.middle",
        ],
        0,
    );
    assert!(out.stdout.contains("3 destroyed"), "{}", out.stdout);
    assert_eq!(ws.state_addresses("life"), vec!["null_resource.base"]);

    let bad = ws.expect(&["plan", "--target", "null_resource.nope"], 1);
    assert!(
        bad.stderr.contains("--target null_resource.nope"),
        "{}",
        bad.stderr
    );
}

#[test]
fn replace_flag_forces_a_new_object() {
    let ws = Workspace::new(CHAIN);
    ws.expect(&["apply", "--auto-approve"], 0);
    let id = ws.state("life")["resources"]["null_resource.base"]["outputs"]["id"].clone();
    let out = ws.expect(
        &["apply", "--auto-approve", "--replace", "null_resource.base"],
        0,
    );
    assert!(
        out.stdout.contains("null_resource.base must be replaced"),
        "{}",
        out.stdout
    );
    assert_ne!(
        ws.state("life")["resources"]["null_resource.base"]["outputs"]["id"],
        id
    );
}

#[test]
fn create_before_destroy_creates_the_new_object_first() {
    let spec = r#"
[meshmon]
name = "cbd"

[resources.null_resource.a]
triggers = { v = "1" }
lifecycle = { create_before_destroy = true }
"#;
    let ws = Workspace::new(spec);
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.write_spec(&spec.replace("v = \"1\"", "v = \"2\""));
    let out = ws.expect(&["apply", "--auto-approve"], 0);
    let ev = events(&out.stdout);
    assert!(
        position(&ev, "null_resource.a", "Creation complete")
            < position(&ev, "null_resource.a", "Destroying")
    );
    assert_eq!(ws.state_addresses("cbd"), vec!["null_resource.a"]);
    assert_eq!(
        ws.state("cbd")["resources"]["null_resource.a"]["inputs"]["triggers"]["v"],
        "2"
    );
}

#[test]
fn a_timeout_fails_the_resource_and_skips_its_dependents_only() {
    let spec = r#"
[meshmon]
name = "slow"

[resources.time_sleep.slow]
create_duration = "5s"
timeouts = { create = "200ms" }

[resources.null_resource.after_slow]
depends_on = ["time_sleep.slow"]

[resources.null_resource.independent]
inputs = "fine"
"#;
    let ws = Workspace::new(spec);
    let out = ws.expect(&["apply", "--auto-approve"], 1);
    assert!(
        out.stderr
            .contains("time_sleep.slow: create failed: timed out after 200ms"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("1 skipped"), "{}", out.stdout);
    assert_eq!(
        ws.state_addresses("slow"),
        vec!["null_resource.independent"]
    );
}

#[test]
fn sensitive_values_never_reach_plan_output() {
    let spec = r#"
[meshmon]
name = "secret"

[variables.token]
sensitive = true

[resources.null_resource.a]
inputs = { token = "${var.token}" }

[resources.local_file.f]
path = "secret.txt"
content = "token=${var.token}"

[outputs.token]
value = "${var.token}"
"#;
    let ws = Workspace::new(spec);
    let plan = ws.expect(&["plan", "--var", "token=hunter2"], 0);
    assert!(!plan.stdout.contains("hunter2"), "{}", plan.stdout);
    assert!(plan.stdout.contains("(sensitive)"));
    let json = ws.expect(&["plan", "--json", "--var", "token=hunter2"], 0);
    assert!(!json.stdout.contains("hunter2"), "{}", json.stdout);
    let apply = ws.expect(&["apply", "--auto-approve", "--var", "token=hunter2"], 0);
    assert!(!apply.stdout.contains("hunter2") && !apply.stderr.contains("hunter2"));
    let outputs = ws.expect(&["output"], 0);
    assert_eq!(outputs.stdout, "token = (sensitive)\n");
    let masked = ws.expect(&["output", "token"], 0);
    assert_eq!(masked.stdout, "(sensitive)\n");
    let raw = ws.expect(&["output", "--raw", "token"], 0);
    assert_eq!(raw.stdout, "hunter2\n");
    let state = ws.state("secret");
    let mut sensitive = state["resources"]["local_file.f"]["sensitive_attributes"]
        .as_array()
        .unwrap()
        .clone();
    sensitive.sort_by_key(|v| v.to_string());
    // The file's computed attributes derive from the secret content too.
    assert_eq!(
        sensitive,
        vec![
            serde_json::json!("content"),
            serde_json::json!("id"),
            serde_json::json!("sha256")
        ]
    );
    let show = ws.expect(&["state", "show", "local_file.f"], 0);
    assert!(!show.stdout.contains("hunter2"), "{}", show.stdout);
    let bad = ws.expect(&["plan", "--var", "token=hunter2", "--var", "tokn=x"], 1);
    assert!(!bad.stderr.contains("hunter2"));
}

#[test]
fn progress_lines_are_written_while_a_slow_operation_runs() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"p\"\n\n[resources.null_resource.fast]\n\n[resources.time_sleep.slow]\ncreate_duration = \"30s\"\ndepends_on = [\"null_resource.fast\"]\n",
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_meshmon"))
        .args(["apply", "--auto-approve"])
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run meshmon");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // Both lines arrive while the sleep is still under way: the walk
    // writes what it has before it waits.
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen
        .iter()
        .any(|l: &String| l.contains("time_sleep.slow: Creating..."))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(running, "{seen:?}");
    assert!(
        seen.iter()
            .any(|l| l.contains("null_resource.fast: Creation complete")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("time_sleep.slow: Creating...")),
        "{seen:?}"
    );
}

#[test]
fn a_json_plan_shows_unchanged_and_deleted_resources_as_recorded() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"j\"\n\n[resources.null_resource.kept]\ninputs = { n = 1 }\n\n[resources.null_resource.changed]\ninputs = \"a\"\n\n[resources.null_resource.gone]\ninputs = \"g\"\n",
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.write_spec(
        "[meshmon]\nname = \"j\"\n\n[resources.null_resource.kept]\ninputs = { n = 1 }\n\n[resources.null_resource.changed]\ninputs = \"b\"\n",
    );
    let out = ws.expect(&["plan", "--json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let change = |address: &str| {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == address)
            .unwrap()
            .clone()
    };
    let kept = change("null_resource.kept");
    assert_eq!(kept["action"], "no-op");
    assert_eq!(kept["before"]["inputs"], serde_json::json!({"n": 1}));
    assert!(kept["before"]["id"].is_string(), "{kept}");
    assert_eq!(kept["before"], kept["after"]);
    let changed = change("null_resource.changed");
    assert_ne!(changed["action"], "no-op");
    assert_eq!(changed["before"]["inputs"], "a");
    let gone = change("null_resource.gone");
    assert_eq!(gone["action"], "delete");
    assert_eq!(gone["before"]["inputs"], "g");
    assert!(gone["after"].is_null(), "{gone}");
}
