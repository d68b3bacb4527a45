//! `[[moved]]` and `[[removed]]`: renaming a recorded object without
//! touching it, and letting go of one without destroying it.

use crate::common::Workspace;

const BEFORE: &str = r#"
[meshmon]
name = "refactor"

[resources.null_resource.role]
inputs = { name = "collector" }

[resources.local_file.config]
path = "out/config.txt"
content = "role ${null_resource.role.id}\n"

[resources.local_file.handed_over]
path = "out/kept.txt"
content = "someone else's now\n"
"#;

/// The spec renames `null_resource.role` and hands `local_file.handed_over`
/// over to someone else.
const AFTER: &str = r#"
[meshmon]
name = "refactor"

[resources.null_resource.collector_role]
inputs = { name = "collector" }

[resources.local_file.config]
path = "out/config.txt"
content = "role ${null_resource.collector_role.id}\n"

[[moved]]
from = "null_resource.role"
to = "null_resource.collector_role"

[[removed]]
from = "local_file.handed_over"
destroy = false
"#;

#[test]
fn a_moved_object_keeps_its_identity_and_a_removed_one_stays_where_it_is() {
    let ws = Workspace::new(BEFORE);
    ws.expect(&["apply", "--auto-approve"], 0);
    let id = ws.state("refactor")["resources"]["null_resource.role"]["outputs"]["id"].clone();

    ws.write_spec(AFTER);
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("# null_resource.role has moved to null_resource.collector_role"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("# local_file.handed_over will be forgotten, not destroyed"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 0 to change, 0 to destroy, 1 to move, 1 to forget."),
        "nothing is replaced: the moved object's id is the one config reads: {}",
        plan.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&ws.expect(&["plan", "--json"], 0).stdout).unwrap();
    assert_eq!(
        json["moves"],
        serde_json::json!([{"from": "null_resource.role", "to": "null_resource.collector_role"}])
    );
    assert_eq!(
        json["forgets"],
        serde_json::json!([{"address": "local_file.handed_over", "type": "local_file"}])
    );
    assert_eq!(json["summary"]["move"], 1);
    assert_eq!(json["summary"]["forget"], 1);

    ws.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        ws.state_addresses("refactor"),
        ["local_file.config", "null_resource.collector_role"]
    );
    assert_eq!(
        ws.state("refactor")["resources"]["null_resource.collector_role"]["outputs"]["id"],
        id,
        "the same object, under its new name"
    );
    assert_eq!(
        std::fs::read_to_string(ws.file("out/kept.txt")).unwrap(),
        "someone else's now\n",
        "a forgotten object is left where it is"
    );

    // The entries may stay in the spec: once done, they do nothing.
    let again = ws.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    ws.expect(&["destroy", "--auto-approve"], 0);
    assert!(ws.file("out/kept.txt").exists(), "destroy leaves it too");
    assert!(!ws.file("out/config.txt").exists());
}

/// A saved plan with a move applies exactly that move; a removal with
/// `destroy = true` (the default) destroys, as deleting the block would.
#[test]
fn a_saved_plan_carries_its_moves_and_removed_destroys_by_default() {
    let ws = Workspace::new(BEFORE);
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.write_spec(&AFTER.replace("destroy = false\n", ""));
    let plan = ws.expect(&["plan", "--out", "p.plan"], 0);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 0 to change, 1 to destroy, 1 to move."),
        "{}",
        plan.stdout
    );
    ws.expect(&["apply", "p.plan"], 0);
    assert!(!ws.file("out/kept.txt").exists());
    assert_eq!(
        ws.state_addresses("refactor"),
        ["local_file.config", "null_resource.collector_role"]
    );
}

/// A move onto an address the state already records is refused before
/// anything changes, with what to do about it.
#[test]
fn a_move_onto_a_recorded_object_is_refused() {
    let ws = Workspace::new(&format!(
        "{BEFORE}\n[resources.null_resource.collector_role]\ninputs = {{ name = \"other\" }}\n"
    ));
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.write_spec(AFTER);
    let out = ws.expect(&["plan"], 1);
    assert!(
        out.stderr.contains(
            "cannot move null_resource.role to null_resource.collector_role: the state records both"
        ) && out.stderr.contains("remove the [[moved]] entry"),
        "{}",
        out.stderr
    );
}
