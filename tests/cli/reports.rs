use meshmon_test_support::grafana::GrafanaServer;

use crate::common::Workspace;
use crate::diagnostics::PLAN_SPEC;

/// The rendered-plan spec of `diagnostics.rs` as its own environment, with
/// a sensitive output.
fn spec() -> String {
    PLAN_SPEC.replace("name = \"render\"", "name = \"review\"")
        + "\n[outputs.password]\nvalue = \"${var.password}\"\nsensitive = true\n"
}

/// The spec applied, then edited so that the plan updates, replaces and
/// deletes, with a new value for the secret.
fn changed() -> Workspace {
    let ws = Workspace::new(&spec());
    ws.expect(&["apply", "--auto-approve"], 0);
    let changed = spec()
        .replace("version = \"1\"", "version = \"2\"")
        .replace(
            "[resources.null_resource.removed]\ninputs = \"going away\"\n",
            "",
        )
        .replace("\"b\": [1, 2, 3]", "\"b\": [1, 2, 4]")
        .replace("list = [1, 2]", "list = [1, 2, 3]")
        .replace("default = \"p4ss\"", "default = \"n3w-s3cret\"");
    ws.write_spec(&changed);
    ws
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"[0-9a-f]{64}", "[sha256]"), (r"[0-9a-f]{32}", "[id]")]
}

#[test]
fn markdown_plan_for_update_replace_and_delete() {
    let ws = changed();
    let out = ws.expect(&["plan", "--format", "markdown", "--var", "msg=bonjour"], 0);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!(out.stdout);
    });
}

#[test]
fn markdown_plan_for_create_lists_every_resource() {
    let ws = Workspace::new(&spec());
    let out = ws.expect(&["plan", "--format", "markdown"], 0);
    assert!(
        out.stdout
            .contains("**Plan: 6 to add, 0 to change, 0 to destroy.**"),
        "{}",
        out.stdout
    );
    for addr in [
        "local_file.doc",
        "null_resource.kept",
        "null_resource.removed",
        "null_resource.replaced",
        "null_resource.secret",
        "null_resource.updated",
    ] {
        assert!(
            out.stdout.contains(&format!("| ➕ create | `{addr}` |")),
            "{addr} missing from the table:\n{}",
            out.stdout
        );
    }
    assert_eq!(out.stdout.matches("<details>").count(), 6, "{}", out.stdout);
}

#[test]
fn markdown_plan_masks_sensitive_values_like_the_text_plan() {
    let ws = changed();
    let md = ws.expect(&["plan", "--format", "markdown"], 0);
    let text = ws.expect(&["plan"], 0);
    for secret in ["p4ss", "n3w-s3cret"] {
        assert!(
            !md.stdout.contains(secret),
            "{secret} leaked:\n{}",
            md.stdout
        );
        assert!(
            !md.stderr.contains(secret),
            "{secret} leaked:\n{}",
            md.stderr
        );
    }
    assert!(
        md.stdout
            .contains("!        inputs = (sensitive) -> (sensitive)"),
        "{}",
        md.stdout
    );
    assert!(
        text.stdout
            .contains("~ inputs = (sensitive) -> (sensitive)"),
        "{}",
        text.stdout
    );
    // A fresh plan shows the sensitive output as masked too.
    let fresh = Workspace::new(&spec());
    let out = fresh.expect(&["plan", "--format", "markdown"], 0);
    assert!(
        out.stdout.contains("`+ password = (sensitive)`"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("p4ss"), "{}", out.stdout);
}

#[test]
fn markdown_plan_drops_diffs_from_the_end_to_fit_a_github_comment() {
    // Twelve files of 8,000 characters: about 100,000 characters of diff.
    let mut spec = String::from("[meshmon]\nname = \"big\"\n");
    let line = format!("{}\n", "x".repeat(79));
    for i in 0..12 {
        spec.push_str(&format!(
            "\n[resources.local_file.f{i:02}]\npath = \"f{i:02}.txt\"\ncontent = \"\"\"\n{}\"\"\"\n",
            line.repeat(100)
        ));
    }
    let ws = Workspace::new(&spec);
    let out = ws.expect(&["plan", "--format", "markdown"], 0);
    let md = &out.stdout;
    let chars = md.chars().count();
    assert!(chars <= 65_536, "{chars} characters is over GitHub's limit");
    assert!(chars > 50_000, "only {chars} characters: too much was cut");
    // The table still lists every change.
    for i in 0..12 {
        assert!(
            md.contains(&format!("| ➕ create | `local_file.f{i:02}` |")),
            "{md}"
        );
    }
    // Diffs are kept from the start and dropped from the end.
    let kept = md.matches("<details>").count();
    assert!((1..12).contains(&kept), "{kept} diffs kept");
    assert!(md.contains("<summary><code>local_file.f00</code>"), "{md}");
    assert!(!md.contains("<summary><code>local_file.f11</code>"), "{md}");
    let note = format!(
        "{} resource diffs were left out to keep this comment under GitHub's 65536-character limit. Run `meshmon plan`",
        12 - kept
    );
    assert!(
        md.contains(&note),
        "no note `{note}` in:\n{}",
        &md[md.len() - 600..]
    );
    // Every fence that opens closes: the comment renders.
    assert_eq!(md.matches("```diff").count(), kept);
}

#[test]
fn plan_format_json_prints_what_json_prints() {
    let ws = changed();
    let a = ws.expect(&["plan", "--json"], 0);
    let b = ws.expect(&["plan", "--format", "json"], 0);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stderr, b.stderr);
    let text = ws.expect(&["plan", "--format", "text"], 0);
    assert_eq!(text.stdout, ws.expect(&["plan"], 0).stdout);
    // Two formats for stdout is a usage error.
    let both = ws.run(&["plan", "--json", "--format", "markdown"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
}

#[test]
fn plan_writes_every_report_in_the_same_run() {
    let ws = changed();
    let out = ws.expect(
        &[
            "plan",
            "--json-out",
            "plan.json",
            "--markdown-out",
            "out/plan.md",
            "--report",
            "text=plan.txt",
        ],
        1,
    );
    // The directory of a report is not created: the run fails and says which.
    assert!(
        out.stderr.contains("cannot write report out/plan.md"),
        "{}",
        out.stderr
    );
    std::fs::create_dir(ws.file("out")).unwrap();
    let text = ws.expect(
        &[
            "plan",
            "--json-out",
            "plan.json",
            "--markdown-out",
            "out/plan.md",
            "--report",
            "text=plan.txt",
        ],
        0,
    );
    let read = |f: &str| std::fs::read_to_string(ws.file(f)).unwrap();
    assert_eq!(read("plan.txt"), text.stdout);
    assert_eq!(read("plan.json"), ws.expect(&["plan", "--json"], 0).stdout);
    assert_eq!(
        read("out/plan.md"),
        ws.expect(&["plan", "--format", "markdown"], 0).stdout
    );
}

#[test]
fn report_replaces_a_symlink_instead_of_writing_through_it() {
    let ws = changed();
    std::fs::write(ws.file("precious.txt"), "keep me\n").unwrap();
    std::os::unix::fs::symlink(ws.file("precious.txt"), ws.file("plan.md")).unwrap();
    ws.expect(&["plan", "--markdown-out", "plan.md"], 0);
    assert_eq!(
        std::fs::read_to_string(ws.file("precious.txt")).unwrap(),
        "keep me\n"
    );
    let meta = std::fs::symlink_metadata(ws.file("plan.md")).unwrap();
    assert!(meta.file_type().is_file());
    let leftovers: Vec<_> = std::fs::read_dir(ws.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".meshmon-report-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn report_flag_rejects_an_unknown_format() {
    let ws = changed();
    let out = ws.run(&["drift", "--report", "yaml=drift.yaml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("unknown report format `yaml`: expected text, json or markdown"),
        "{}",
        out.stderr
    );
}

const ADMIN_TOKEN: &str = "glsa_reports_test";

fn grafana_spec(url: &str) -> String {
    format!(
        r#"
[meshmon]
name = "reports"

[providers.grafana]
url = "{url}"
auth = "{ADMIN_TOKEN}"

[resources.grafana_folder.mesh]
title = "Service mesh"
uid = "mesh"

[resources.grafana_folder.alerts]
title = "Alerts"
uid = "alerts"
"#
    )
}

/// Reads recorded by the Grafana test server during `f`.
fn reads_during(grafana: &GrafanaServer, f: impl FnOnce()) -> Vec<String> {
    let before = grafana.state().calls.len();
    f();
    grafana.state().calls[before..]
        .iter()
        .filter(|c| c.starts_with("GET "))
        .cloned()
        .collect()
}

#[test]
fn drift_writes_json_and_markdown_reports_from_one_refresh() {
    let grafana = GrafanaServer::start(ADMIN_TOKEN);
    let ws = Workspace::new(&grafana_spec(&grafana.url()));
    ws.expect(&["apply", "--auto-approve"], 0);
    // A folder renamed behind meshmon's back: drift.
    grafana
        .state()
        .folders
        .get_mut("mesh")
        .expect("folder mesh")["title"] = serde_json::json!("Renamed by hand");

    let mut single = None;
    let one_format = reads_during(&grafana, || {
        single = Some(ws.expect(&["drift", "--format", "json"], 2));
    });
    assert!(!one_format.is_empty(), "drift read nothing");

    let mut multi = None;
    let all_formats = reads_during(&grafana, || {
        multi = Some(ws.expect(
            &[
                "drift",
                "--json-out",
                "drift.json",
                "--markdown-out",
                "drift.md",
                "--report",
                "text=drift.txt",
            ],
            2,
        ));
    });
    // One refresh: one read per resource, the same reads as a run that
    // prints one format. Reads run concurrently, so their order varies.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(all_formats),
        ["GET /api/folders/alerts", "GET /api/folders/mesh"]
    );
    assert_eq!(
        sorted(one_format),
        ["GET /api/folders/alerts", "GET /api/folders/mesh"]
    );

    let read = |f: &str| std::fs::read_to_string(ws.file(f)).unwrap();
    let multi = multi.unwrap();
    assert!(
        multi.stdout.contains("# grafana_folder.mesh has changed"),
        "{}",
        multi.stdout
    );
    assert_eq!(read("drift.txt"), multi.stdout);
    assert_eq!(read("drift.json"), single.unwrap().stdout);
    assert_eq!(
        read("drift.md"),
        ws.expect(&["drift", "--format", "markdown"], 2).stdout
    );
    assert!(read("drift.md").contains("| `grafana_folder.mesh` | changed | `title` |"));
}
