//! Keyed instances (`for_each`): one instance per key, addressed
//! `TYPE.NAME["key"]` everywhere; adding a key plans only its instance,
//! removing one destroys only its instance; keys known only after apply
//! defer the block (and what needs it) instead of failing the plan;
//! `[[moved]]` turns a single object into one instance of a keyed block.

use crate::common::{Workspace, events, position};

const SPEC: &str = r#"
[meshmon]
name = "keys"

[variables.clusters]
default = { prod = { region = "eu-west-1" }, staging = { region = "us-east-1" } }

[resources.null_resource.role]
for_each = "${var.clusters}"
triggers = { cluster = "${each.key}", region = "${each.value.region}" }

[resources.local_file.config]
for_each = "${var.clusters}"
path = "out/${each.key}.txt"
content = "role ${null_resource.role[each.key].id} in ${each.value.region}\n"

[resources.null_resource.central]
triggers = { prod = "${null_resource.role[\"prod\"].id}" }
"#;

fn clusters(keys: &[&str]) -> String {
    let table: Vec<String> = keys
        .iter()
        .map(|k| format!("{k} = {{ region = \"eu-{k}\" }}"))
        .collect();
    SPEC.replace(
        "default = { prod = { region = \"eu-west-1\" }, staging = { region = \"us-east-1\" } }",
        &format!("default = {{ {} }}", table.join(", ")),
    )
}

#[test]
fn each_key_is_an_instance_addressed_by_its_key_everywhere() {
    let ws = Workspace::new(SPEC);
    let plan = ws.expect(&["plan"], 0);
    for address in [
        "null_resource.role[\"prod\"]",
        "null_resource.role[\"staging\"]",
        "local_file.config[\"prod\"]",
        "local_file.config[\"staging\"]",
    ] {
        assert!(
            plan.stdout
                .contains(&format!("# {address} will be created")),
            "{address}:\n{}",
            plan.stdout
        );
    }
    assert!(
        plan.stdout.contains("region  = \"us-east-1\""),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("Plan: 5 to add"), "{}", plan.stdout);

    let apply = ws.expect(&["apply", "--auto-approve"], 0);
    // `[each.key]` picks the instance with the same key: each file waits
    // for its own role.
    let ev = events(&apply.stdout);
    assert!(
        position(&ev, "null_resource.role[\"staging\"]", "Creation complete")
            < position(&ev, "local_file.config[\"staging\"]", "Creating")
    );
    let prod_role = ws.state("keys")["resources"]["null_resource.role[\"prod\"]"]["outputs"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        std::fs::read_to_string(ws.file("out/prod.txt")).unwrap(),
        format!("role {prod_role} in eu-west-1\n")
    );
    let list = ws.expect(&["state", "list"], 0);
    assert_eq!(
        list.stdout.lines().collect::<Vec<_>>(),
        [
            "local_file.config[\"prod\"]",
            "local_file.config[\"staging\"]",
            "null_resource.central",
            "null_resource.role[\"prod\"]",
            "null_resource.role[\"staging\"]",
        ]
    );
    ws.expect(&["plan", "--detailed-exitcode"], 0);

    // A keyed block's address names all its instances; with a key, one.
    let one = ws.expect(&["plan", "--replace", "null_resource.role[\"staging\"]"], 0);
    assert!(
        one.stdout
            .contains("null_resource.role[\"staging\"] must be replaced")
            && !one
                .stdout
                .contains("null_resource.role[\"prod\"] must be replaced"),
        "{}",
        one.stdout
    );
    let all = ws.expect(&["plan", "--replace", "null_resource.role"], 0);
    assert!(
        all.stdout
            .contains("null_resource.role[\"staging\"] must be replaced")
            && all
                .stdout
                .contains("null_resource.role[\"prod\"] must be replaced"),
        "{}",
        all.stdout
    );
    let json = ws.expect(&["plan", "--json", "--replace", "null_resource.role"], 0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        doc["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["address"] == "null_resource.role[\"prod\"]" && c["action"] == "replace"),
        "{doc:#}"
    );
}

#[test]
fn a_key_added_plans_only_its_instances_and_a_key_removed_destroys_only_its() {
    let ws = Workspace::new(&clusters(&["prod", "staging"]));
    ws.expect(&["apply", "--auto-approve"], 0);

    ws.write_spec(&clusters(&["prod", "staging", "dev"]));
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("null_resource.role[\"dev\"] will be created")
    );
    assert!(
        plan.stdout
            .contains("local_file.config[\"dev\"] will be created")
    );
    ws.expect(&["apply", "--auto-approve"], 0);

    ws.write_spec(&clusters(&["prod", "dev"]));
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 0 to change, 2 to destroy."),
        "{}",
        plan.stdout
    );
    let apply = ws.expect(&["apply", "--auto-approve"], 0);
    // What needed the instance goes first, as destroy would do it.
    let ev = events(&apply.stdout);
    assert!(
        position(
            &ev,
            "local_file.config[\"staging\"]",
            "Destruction complete"
        ) < position(&ev, "null_resource.role[\"staging\"]", "Destroying")
    );
    assert!(!ws.file("out/staging.txt").exists());
    assert!(ws.file("out/prod.txt").exists() && ws.file("out/dev.txt").exists());
    ws.expect(&["plan", "--detailed-exitcode"], 0);
}

/// Keys read from a file the same apply writes: known only after apply.
const LATE_KEYS: &str = r#"
[meshmon]
name = "late"

[resources.local_file.list]
path = "out/clusters.txt"
content = "prod\nstaging\n"

[data.local_file.list]
path = "${local_file.list.path}"

[resources.null_resource.per_cluster]
for_each = "${data.local_file.list.lines}"
triggers = { cluster = "${each.key}" }

[resources.null_resource.summary]
triggers = { prod = "${null_resource.per_cluster[\"prod\"].id}" }

[resources.null_resource.unrelated]
triggers = { x = "1" }
"#;

#[test]
fn keys_known_only_after_apply_defer_the_block_and_what_needs_it_and_a_second_apply_completes_it() {
    let ws = Workspace::new(LATE_KEYS);
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("Deferred: planned by the next apply, once their keys are known:"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "# null_resource.per_cluster: its `for_each` refers to data.local_file.list, which is known only after apply"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("# null_resource.summary: it needs null_resource.per_cluster"),
        "{}",
        plan.stdout
    );
    // The rest proceeds.
    assert!(plan.stdout.contains("Plan: 2 to add"), "{}", plan.stdout);
    let json = ws.expect(&["plan", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["deferred"][0]["address"], "null_resource.per_cluster");

    ws.expect(&["apply", "--auto-approve"], 0);
    let second = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        second
            .stdout
            .contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{}",
        second.stdout
    );
    assert!(!second.stdout.contains("Deferred"), "{}", second.stdout);
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.expect(&["plan", "--detailed-exitcode"], 0);

    // A key removed from the file: the block waits while the file is
    // rewritten (its instances are kept, never destroyed on a guess), and
    // the next apply destroys only the instance whose key went away.
    ws.write_spec(&LATE_KEYS.replace("prod\\nstaging\\n", "prod\\n"));
    let plan = ws.expect(&["plan"], 0);
    assert!(
        !plan
            .stdout
            .contains("per_cluster[\"staging\"] will be destroyed"),
        "{}",
        plan.stdout
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    let plan = ws.expect(&["plan"], 0);
    assert!(
        plan.stdout
            .contains("null_resource.per_cluster[\"staging\"] will be destroyed")
            && plan
                .stdout
                .contains("Plan: 0 to add, 0 to change, 1 to destroy."),
        "{}",
        plan.stdout
    );
}

#[test]
fn keys_from_values_known_while_planning_need_one_apply() {
    let ws = Workspace::new(
        r#"
[meshmon]
name = "known"

[resources.null_resource.accounts]
triggers = { prod = "111111111111", dev = "222222222222" }

[resources.null_resource.per_account]
for_each = "${null_resource.accounts.triggers}"
triggers = { account = "${each.value}" }
"#,
    );
    let plan = ws.expect(&["plan"], 0);
    assert!(
        plan.stdout
            .contains("null_resource.per_account[\"dev\"] will be created"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("Deferred"), "{}", plan.stdout);
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_single_object_moves_into_a_keyed_block_without_being_touched() {
    let ws = Workspace::new(
        r#"
[meshmon]
name = "move"

[resources.null_resource.role]
triggers = { cluster = "prod" }
"#,
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    let id = ws.state("move")["resources"]["null_resource.role"]["outputs"]["id"].clone();
    ws.write_spec(
        r#"
[meshmon]
name = "move"

[resources.null_resource.role]
for_each = ["prod"]
triggers = { cluster = "${each.key}" }

[[moved]]
from = "null_resource.role"
to = "null_resource.role[\"prod\"]"
"#,
    );
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("# null_resource.role has moved to null_resource.role[\"prod\"]"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("0 to add, 0 to change, 0 to destroy, 1 to move."),
        "{}",
        plan.stdout
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        ws.state("move")["resources"]["null_resource.role[\"prod\"]"]["outputs"]["id"],
        id
    );
    // The entry may stay: there is nothing more to move.
    ws.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn provider_instances_keyed_by_a_lookup_defer_what_they_manage_until_their_keys_are_known() {
    let ws = Workspace::new(
        r#"
[meshmon]
name = "providers"

[resources.local_file.accounts]
path = "out/accounts.txt"
content = "prod\nstaging\n"

[data.local_file.accounts]
path = "${local_file.accounts.path}"

[providers.builtin.account]
for_each = "${data.local_file.accounts.lines}"

[resources.null_resource.per_account]
for_each = "${data.local_file.accounts.lines}"
provider = "builtin.account[each.key]"
triggers = { account = "${each.key}" }
"#,
    );
    let plan = ws.expect(&["plan"], 0);
    assert!(
        plan.stdout.contains(
            "# null_resource.per_account: its `for_each` refers to data.local_file.accounts"
        ),
        "{}",
        plan.stdout
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.expect(&["apply", "--auto-approve"], 0);
    let state = ws.state("providers");
    assert_eq!(
        state["resources"]["null_resource.per_account[\"staging\"]"]["instance"]["name"],
        "builtin.account[\"staging\"]"
    );
    ws.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn state_commands_import_and_the_graph_take_keyed_addresses() {
    let ws = Workspace::new(
        r#"
[meshmon]
name = "addresses"

[resources.null_resource.role]
for_each = ["prod", "dev"]
triggers = { cluster = "${each.key}" }

[resources.local_file.config]
for_each = ["prod"]
path = "out/${each.key}.txt"
content = "${null_resource.role[each.key].id}\n"
"#,
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    let show = ws.expect(&["state", "show", "null_resource.role[\"dev\"]"], 0);
    assert!(show.stdout.contains("cluster"), "{}", show.stdout);

    // Renamed and forgotten by key, the file left where it is and adopted
    // again by key.
    ws.expect(
        &[
            "state",
            "mv",
            "null_resource.role[\"dev\"]",
            "null_resource.role[\"staging\"]",
        ],
        0,
    );
    let list = ws.expect(&["state", "list"], 0);
    assert!(
        list.stdout.contains("null_resource.role[\"staging\"]"),
        "{}",
        list.stdout
    );
    ws.expect(&["state", "rm", "local_file.config[\"prod\"]"], 0);
    ws.expect(
        &["import", "local_file.config[\"prod\"]", "out/prod.txt"],
        0,
    );
    let plan = ws.expect(&["plan"], 0);
    assert!(
        plan.stdout
            .contains("null_resource.role[\"dev\"] will be created")
            && plan
                .stdout
                .contains("null_resource.role[\"staging\"] will be destroyed")
            && !plan.stdout.contains("local_file.config"),
        "{}",
        plan.stdout
    );

    let graph = ws.expect(&["graph"], 0);
    assert!(
        graph
            .stdout
            .contains(r#""local_file.config[\"prod\"]" -> "null_resource.role[\"prod\"]";"#),
        "{}",
        graph.stdout
    );
}
