use crate::common::Workspace;

const SPEC: &str = r#"
[meshmon]
name = "st"

[variables.count]
default = 2

[variables.region]
default = "eu-west-1"
allowed = ["eu-west-1", "us-east-1"]

[resources.null_resource.a]
inputs = { count = "${var.count}", region = "${var.region}" }

[resources.null_resource.b]
inputs = "${null_resource.a.inputs.count}"

[resources.local_file.f]
path = "f.txt"
content = "x"

[outputs.a_id]
value = "${null_resource.a.id}"

[outputs.count]
value = "${var.count}"
"#;

#[test]
fn state_list_show_rm_and_mv() {
    let ws = Workspace::new(SPEC);
    ws.expect(&["apply", "--auto-approve"], 0);
    let list = ws.expect(&["state", "list"], 0);
    assert_eq!(
        list.stdout,
        "local_file.f\nnull_resource.a\nnull_resource.b\n"
    );
    let show = ws.expect(&["state", "show", "null_resource.a"], 0);
    assert!(
        show.stdout.contains("resource \"null_resource\" \"a\""),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("\"count\":2"), "{}", show.stdout);

    ws.expect(&["state", "mv", "null_resource.b", "null_resource.c"], 0);
    let list = ws.expect(&["state", "list"], 0);
    assert_eq!(
        list.stdout,
        "local_file.f\nnull_resource.a\nnull_resource.c\n"
    );
    let wrong_type = ws.expect(&["state", "mv", "null_resource.c", "local_file.c"], 1);
    assert!(
        wrong_type.stderr.contains("the type must stay the same"),
        "{}",
        wrong_type.stderr
    );

    ws.expect(&["state", "rm", "local_file.f"], 0);
    assert!(ws.file("f.txt").exists(), "rm forgets, it does not destroy");
    let missing = ws.expect(&["state", "rm", "local_file.f"], 1);
    assert!(
        missing.stderr.contains("no resource `local_file.f`"),
        "{}",
        missing.stderr
    );
}

#[test]
fn import_adopts_an_existing_file() {
    let ws = Workspace::new(SPEC);
    std::fs::write(ws.file("f.txt"), "x").unwrap();
    ws.expect(&["import", "local_file.f", "f.txt"], 0);
    assert_eq!(ws.state_addresses("st"), vec!["local_file.f"]);
    let plan = ws.expect(&["plan", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let f = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "local_file.f")
        .unwrap();
    assert_eq!(f["action"], "no-op", "{doc:#}");
    let again = ws.expect(&["import", "local_file.f", "f.txt"], 1);
    assert!(
        again.stderr.contains("already in the state"),
        "{}",
        again.stderr
    );
    let missing = ws.expect(&["import", "null_resource.zzz", "id"], 1);
    assert!(
        missing.stderr.contains("not declared in the spec"),
        "{}",
        missing.stderr
    );
}

#[test]
fn outputs_are_recorded_and_printed() {
    let ws = Workspace::new(SPEC);
    ws.expect(&["apply", "--auto-approve"], 0);
    let all = ws.expect(&["output", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(
        doc["count"],
        serde_json::json!({"value": 2, "sensitive": false})
    );
    let one = ws.expect(&["output", "a_id"], 0);
    assert_eq!(
        one.stdout.trim(),
        ws.state("st")["resources"]["null_resource.a"]["outputs"]["id"]
            .as_str()
            .unwrap()
    );
    ws.expect(&["output", "nope"], 1);
}

#[test]
fn variables_come_from_flags_files_and_environment_in_that_precedence() {
    let ws = Workspace::new(SPEC);
    std::fs::write(ws.file("vars.toml"), "count = 5\nregion = \"us-east-1\"\n").unwrap();
    let plan = |args: &[&str], env: Option<(&str, &str)>| {
        let mut c = ws.cmd();
        c.args(["plan", "--json"]).args(args);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == "null_resource.a")
            .unwrap()["after"]["inputs"]
            .clone()
    };
    assert_eq!(
        plan(&[], None),
        serde_json::json!({"count": 2, "region": "eu-west-1"})
    );
    assert_eq!(
        plan(&[], Some(("MESHMON_VAR_count", "3"))),
        serde_json::json!({"count": 3, "region": "eu-west-1"})
    );
    assert_eq!(
        plan(
            &["--var-file", "vars.toml"],
            Some(("MESHMON_VAR_count", "3"))
        ),
        serde_json::json!({"count": 5, "region": "us-east-1"})
    );
    assert_eq!(
        plan(&["--var-file", "vars.toml", "--var", "count=7"], None),
        serde_json::json!({"count": 7, "region": "us-east-1"})
    );
}

#[test]
fn variable_errors_name_the_variable() {
    let ws = Workspace::new(SPEC);
    let bad_type = ws.expect(&["plan", "--var", "count=many"], 1);
    assert!(
        bad_type
            .stderr
            .contains("variable `count` from --var count: expected an integer, got \"many\""),
        "{}",
        bad_type.stderr
    );
    let not_allowed = ws.expect(&["plan", "--var", "region=mars-1"], 1);
    assert!(
        not_allowed
            .stderr
            .contains("variable `region` is \"mars-1\", which is not allowed"),
        "{}",
        not_allowed.stderr
    );
    let undeclared = ws.expect(&["plan", "--var", "regoin=x"], 1);
    assert!(
        undeclared
            .stderr
            .contains("the spec declares no variable `regoin`"),
        "{}",
        undeclared.stderr
    );
    assert!(
        undeclared.stderr.contains("did you mean `region`?"),
        "{}",
        undeclared.stderr
    );
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let ws = Workspace::new(SPEC);
    let dot = ws.expect(&["graph"], 0);
    assert!(
        dot.stdout.starts_with("digraph meshmon {"),
        "{}",
        dot.stdout
    );
    assert!(
        dot.stdout
            .contains("\"null_resource.b\" -> \"null_resource.a\";"),
        "{}",
        dot.stdout
    );
    let mermaid = ws.expect(&["graph", "--format", "mermaid"], 0);
    assert!(
        mermaid.stdout.starts_with("flowchart RL"),
        "{}",
        mermaid.stdout
    );
    assert!(mermaid.stdout.contains("r2 --> r1"), "{}", mermaid.stdout);
}

#[test]
fn dash_c_and_state_flag_choose_where_state_lives() {
    let ws = Workspace::new(SPEC);
    std::fs::create_dir_all(ws.file("elsewhere")).unwrap();
    let dir = ws.path().to_str().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshmon"))
        .args([
            "-C",
            &dir,
            "apply",
            "--auto-approve",
            "--state",
            "elsewhere/s.json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ws.file("elsewhere/s.json").exists());
    assert!(!ws.file("state/st.json").exists());
    let list = ws.expect(&["state", "list", "--state", "elsewhere/s.json"], 0);
    assert_eq!(list.stdout.lines().count(), 3);
}

#[test]
fn generated_reference_docs_are_up_to_date() {
    let ws = Workspace::new("");
    let out = ws.expect(&["docs"], 0);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/resources.md"))
            .unwrap_or_default();
    assert!(
        out.stdout == committed,
        "docs/resources.md is stale: regenerate it with `cargo run -- docs --out docs/resources.md`"
    );
    assert!(out.stdout.contains("### `local_file`"));
    assert!(
        out.stdout.contains("| `path` | string | required | yes |"),
        "{}",
        out.stdout
    );
}
