//! Look-ups (`[data.TYPE.NAME]`) on the built-in `local_file` look-up: read
//! while planning when their inputs are known, during apply otherwise;
//! recorded in the state and never changed, never destroyed; what changed
//! since the last run shown; a look-up that finds nothing fails the plan
//! with what was searched and what exists.

use crate::common::Workspace;

/// A handed-over file is looked up, and what is built from it; the second
/// look-up reads a file the same apply writes, so it waits for apply.
const SPEC: &str = r#"
[meshmon]
name = "lookups"

[data.local_file.cluster]
path = "existing/cluster.txt"

[resources.null_resource.collector]
triggers = { cluster = "${data.local_file.cluster.content}" }

[resources.local_file.rendered]
path = "out/rendered.txt"
content = "collector ${null_resource.collector.id}\n"

[data.local_file.rendered]
path = "${local_file.rendered.path}"

[resources.null_resource.after]
triggers = { rendered = "${data.local_file.rendered.sha256}" }

[outputs.cluster]
value = "${data.local_file.cluster.content}"
"#;

fn workspace() -> Workspace {
    let ws = Workspace::new(SPEC);
    std::fs::create_dir_all(ws.file("existing")).unwrap();
    std::fs::write(ws.file("existing/cluster.txt"), "prod-eu\n").unwrap();
    ws
}

#[test]
fn a_lookup_is_read_while_planning_and_one_that_needs_apply_is_read_during_apply() {
    let ws = workspace();
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    // Read now: its value is in the plan.
    assert!(plan.stdout.contains("prod-eu"), "{}", plan.stdout);
    // Waits for apply, and says why.
    assert!(
        plan.stdout
            .contains("# data.local_file.rendered <= read (known after apply)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("it depends on local_file.rendered, which is not created yet"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("data.local_file.cluster <="));
    // Reads are not changes to count.
    assert!(
        plan.stdout
            .contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );

    let json = ws.expect(&["plan", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let read: Vec<&serde_json::Value> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "read")
        .collect();
    assert_eq!(read.len(), 1, "{doc:#}");
    assert_eq!(read[0]["address"], "data.local_file.rendered");

    // One apply does it all, and the next plan has nothing to do.
    let apply = ws.expect(&["apply", "--auto-approve"], 0);
    assert!(
        apply
            .stdout
            .contains("data.local_file.rendered: Read complete"),
        "{}",
        apply.stdout
    );
    ws.expect(&["plan", "--detailed-exitcode"], 0);

    let state = ws.state("lookups");
    assert_eq!(state["format_version"], 2);
    let data = state["data"].as_object().expect("look-ups are recorded");
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        ["data.local_file.cluster", "data.local_file.rendered"]
    );
    assert_eq!(
        data["data.local_file.cluster"]["outputs"]["content"],
        "prod-eu\n"
    );
    // Never among the objects meshmon manages.
    assert!(
        !state["resources"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("data."))
    );
    let output = ws.expect(&["output", "cluster"], 0);
    assert!(output.stdout.contains("prod-eu"), "{}", output.stdout);
}

#[test]
fn what_a_lookup_finds_that_changed_is_shown_and_what_depends_on_it_is_planned() {
    let ws = workspace();
    ws.expect(&["apply", "--auto-approve"], 0);
    std::fs::write(ws.file("existing/cluster.txt"), "prod-us\n").unwrap();

    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("Look-ups found something different since the last run:"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("# data.local_file.cluster now finds"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("null_resource.collector must be replaced"),
        "{}",
        plan.stdout
    );
    // The second look-up reads a file this plan rewrites: it waits.
    assert!(
        plan.stdout
            .contains("it depends on local_file.rendered, which this plan changes"),
        "{}",
        plan.stdout
    );
    let json = ws.expect(&["plan", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["lookup_changes"][0]["address"],
        "data.local_file.cluster"
    );
    assert_eq!(
        doc["lookup_changes"][0]["attributes"][0]["actual"],
        "prod-us\n"
    );

    ws.expect(&["apply", "--auto-approve"], 0);
    ws.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_lookup_that_finds_nothing_fails_the_plan_naming_what_it_searched_and_what_exists() {
    let ws = workspace();
    ws.write_spec(&SPEC.replace("existing/cluster.txt", "existing/clustr.txt"));
    let plan = ws.expect(&["plan"], 1);
    assert!(
        plan.stderr
            .contains("data.local_file.cluster: look-up failed"),
        "{}",
        plan.stderr
    );
    // (The terminal's width may wrap the message anywhere after a space.)
    let said = plan.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    let said = said.replace("│ ", "");
    assert!(
        said.contains("found no file with path = \"existing/"),
        "{said}"
    );
    assert!(said.contains("clustr.txt\""), "{said}");
    assert!(
        said.contains("did you mean \"existing/cluster.txt\"?"),
        "{said}"
    );
    // Nothing was made, and a look-up never creates what it did not find.
    let apply = ws.expect(&["apply", "--auto-approve"], 1);
    assert!(apply.stdout.is_empty() || !apply.stdout.contains("Creating"));
    assert!(!ws.file("existing/clustr.txt").exists());
    assert!(!ws.file("out/rendered.txt").exists());
}

#[test]
fn destroy_leaves_what_was_looked_up_and_forgets_what_it_found() {
    let ws = workspace();
    ws.expect(&["apply", "--auto-approve"], 0);
    let destroy = ws.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        destroy
            .stdout
            .contains("Destroy complete! Resources: 3 destroyed."),
        "{}",
        destroy.stdout
    );
    assert_eq!(
        std::fs::read_to_string(ws.file("existing/cluster.txt")).unwrap(),
        "prod-eu\n"
    );
    assert!(!ws.file("out/rendered.txt").exists());
    let state = ws.state("lookups");
    assert!(state.get("data").is_none(), "{state:#}");
}

#[test]
fn a_saved_plan_applies_what_its_lookups_found_when_it_was_made() {
    let ws = workspace();
    ws.expect(&["plan", "--out", "reviewed.plan"], 0);
    // Changed between review and apply: the reviewed value is applied.
    std::fs::write(ws.file("existing/cluster.txt"), "someone-else\n").unwrap();
    ws.expect(&["apply", "reviewed.plan"], 0);
    let state = ws.state("lookups");
    assert_eq!(
        state["resources"]["null_resource.collector"]["inputs"]["triggers"]["cluster"],
        "prod-eu\n"
    );
    // The next plan reads it again and shows the difference.
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout.contains("data.local_file.cluster now finds"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_state_of_the_format_before_lookups_is_read_and_written_back_as_the_current_one() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"old\"\n\n[resources.null_resource.a]\ntriggers = { x = \"1\" }\n",
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    let path = ws.file("state/old.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    state["format_version"] = 1.into();
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    // Said once per run, and only while the state is in the older format.
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(
        plan.stderr.matches("is in format 1").count(),
        1,
        "{}",
        plan.stderr
    );
    ws.write_spec(
        "[meshmon]\nname = \"old\"\n\n[resources.null_resource.a]\ntriggers = { x = \"2\" }\n",
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(ws.state("old")["format_version"], 2);
    let plan = ws.expect(&["plan"], 0);
    assert!(!plan.stderr.contains("format 1"), "{}", plan.stderr);
}
