use crate::common::Workspace;

#[test]
fn bash_completion_knows_commands_and_flags() {
    let ws = Workspace::new("");
    let out = ws.expect(&["completions", "bash"], 0);
    assert!(
        out.stdout.contains("complete -F _meshmon"),
        "{}",
        out.stdout
    );
    for word in [
        "apply",
        "drift",
        "init",
        "--json-out",
        "--markdown-out",
        "--example",
    ] {
        assert!(
            out.stdout.contains(word),
            "no `{word}` in the bash completion"
        );
    }
}

#[test]
fn completions_exist_for_every_shell_clap_supports() {
    let ws = Workspace::new("");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = ws.expect(&["completions", shell], 0);
        assert!(out.stdout.contains("apply"), "{shell}");
    }
    let out = ws.run(&["completions", "tcsh"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn man_page_is_roff_naming_every_command() {
    let ws = Workspace::new("");
    let out = ws.expect(&["man"], 0);
    assert!(out.stdout.contains(".TH meshmon 1"), "{}", out.stdout);
    for cmd in ["plan", "apply", "drift", "init", "schema", "completions"] {
        assert!(out.stdout.contains(cmd), "no `{cmd}` in the man page");
    }
}

#[test]
fn man_out_writes_one_page_per_command() {
    let ws = Workspace::new("");
    ws.expect(&["man", "--out", "man/man1"], 0);
    for page in [
        "meshmon.1",
        "meshmon-plan.1",
        "meshmon-drift.1",
        "meshmon-init.1",
    ] {
        let text = std::fs::read_to_string(ws.file("man/man1").join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let plan = std::fs::read_to_string(ws.file("man/man1/meshmon-plan.1")).unwrap();
    assert!(plan.contains(r"markdown\-out"), "{plan}");
}
