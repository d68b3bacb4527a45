//! Careless and hostile input, one test per class of problem: what the
//! process environment, the state, the journal, report targets and saved
//! plans may hold, and what CI scripts rely on (exit codes, signals, the
//! report on standard output).

use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::common::Workspace;

const ONE: &str = "[meshmon]\nname = \"c\"\n\n[resources.null_resource.a]\n";

fn state_text(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.file("state/c.json")).unwrap()
}

fn edit_state(ws: &Workspace, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut state: serde_json::Value = serde_json::from_str(&state_text(ws)).unwrap();
    edit(&mut state);
    std::fs::write(ws.file("state/c.json"), state.to_string()).unwrap();
}

fn no_panic(out: &crate::common::Output) {
    assert_ne!(out.code, 101, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn environment_variables_meshmon_does_not_read_are_ignored_whatever_they_hold() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"c\"\n[variables.x]\ndefault = \"d\"\n[resources.null_resource.a]\ninputs = { x = \"${var.x}\" }\n",
    );
    let bad = std::ffi::OsStr::from_bytes(b"\xff\xfe not utf-8");
    let out = ws
        .cmd()
        .env("CI_SOMETHING", bad)
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let out = ws
        .cmd()
        .env("MESHMON_VAR_x", bad)
        .arg("plan")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("MESHMON_VAR_x is not UTF-8"), "{stderr}");
}

#[test]
fn an_address_the_state_reader_refuses_is_named_and_state_rm_removes_it() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    edit_state(&ws, |s| {
        let record = s["resources"]["null_resource.a"].clone();
        s["resources"]["null_resource.b\u{0}x"] = record;
    });
    for args in [&["plan"][..], &["drift"], &["state", "list"]] {
        let out = ws.run(args);
        no_panic(&out);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("null_resource.b\\u{0}x"),
            "{args:?}: the error names the entry: {}",
            out.stderr
        );
    }
    // The entry as the error prints it: a NUL cannot be passed as an argument.
    ws.expect(&["state", "rm", "null_resource.b\\u{0}x"], 0);
    assert_eq!(ws.state_addresses("c"), ["null_resource.a"]);
    ws.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_journal_line_with_an_address_the_reader_refuses_is_damage_not_a_panic() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    let state: serde_json::Value = serde_json::from_str(&state_text(&ws)).unwrap();
    let begin =
        serde_json::json!({"op": "begin", "lineage": state["lineage"], "serial": state["serial"]});
    let line = serde_json::json!({"op": "deleting", "address": "null_resource.a\u{0}"});
    std::fs::write(
        ws.file("state/c.json.journal"),
        format!("{begin}\n{line}\n"),
    )
    .unwrap();
    let out = ws.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(out.stderr.contains("damaged"), "{}", out.stderr);
}

#[test]
fn a_journal_without_its_opening_line_is_reported_not_replayed_silently() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    let state: serde_json::Value = serde_json::from_str(&state_text(&ws)).unwrap();
    let record = &state["resources"]["null_resource.a"];
    let line = serde_json::json!({"op": "set", "address": "null_resource.b", "resource": record});
    std::fs::write(ws.file("state/c.json.journal"), format!("{line}\n")).unwrap();
    let out = ws.expect(&["plan"], 0);
    assert!(out.stderr.contains("has no opening line"), "{}", out.stderr);
}

#[test]
fn a_state_with_a_key_written_twice_is_refused_not_last_one_wins() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    let text = state_text(&ws);
    let record = serde_json::to_string(
        &serde_json::from_str::<serde_json::Value>(&text).unwrap()["resources"]["null_resource.a"],
    )
    .unwrap();
    let doubled = text.replacen(
        "\"resources\": {",
        &format!("\"resources\": {{\n\"null_resource.a\": {record},"),
        1,
    );
    assert_ne!(doubled, text);
    std::fs::write(ws.file("state/c.json"), doubled).unwrap();
    let out = ws.expect(&["plan"], 1);
    assert!(out.stderr.contains("appears twice"), "{}", out.stderr);
}

#[test]
fn a_record_whose_type_is_not_its_addresses_is_refused_before_anything_acts_on_it() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    edit_state(&ws, |s| {
        s["resources"]["null_resource.a"]["type"] = "local_file".into()
    });
    let out = ws.expect(&["apply", "--auto-approve"], 1);
    assert!(
        out.stderr.contains("is recorded as a `local_file`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_pending_create_of_a_type_this_meshmon_lacks_can_be_cleared_with_state_rm() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    edit_state(&ws, |s| {
        s["pending"] = serde_json::json!({
            "gone_thing.x": {"type": "gone_thing", "provider": "gone", "token": "t", "inputs": {}}
        });
    });
    let out = ws.run(&["apply", "--auto-approve"]);
    no_panic(&out);
    assert_eq!(out.code, 1, "{}", out.stderr);
    ws.expect(&["state", "rm", "gone_thing.x"], 0);
    ws.expect(&["apply", "--auto-approve"], 0);
}

#[test]
fn a_tampered_file_id_is_never_read_or_removed() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"c\"\n\n[resources.local_file.f]\npath = \"mine.txt\"\ncontent = \"mine\"\n",
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    std::fs::write(ws.file("other.txt"), "someone else's").unwrap();
    edit_state(&ws, |s| {
        s["resources"]["local_file.f"]["outputs"]["id"] = "other.txt".into()
    });
    let drift = ws.expect(&["drift"], 1);
    assert!(drift.stderr.contains("recorded path"), "{}", drift.stderr);
    assert!(!drift.stdout.contains("someone else"), "{}", drift.stdout);
    ws.run(&["destroy", "--auto-approve"]);
    assert_eq!(
        std::fs::read_to_string(ws.file("other.txt")).unwrap(),
        "someone else's"
    );
}

#[test]
fn at_the_largest_serial_apply_refuses_before_changing_anything() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    edit_state(&ws, |s| s["serial"] = serde_json::json!(u64::MAX - 1));
    ws.write_spec(&format!(
        "{ONE}\n[resources.local_file.f]\npath = \"new.txt\"\ncontent = \"x\"\n"
    ));
    let out = ws.expect(&["apply", "--auto-approve"], 1);
    assert!(out.stderr.contains("cannot grow"), "{}", out.stderr);
    assert!(!ws.file("new.txt").exists(), "nothing was changed");
}

#[test]
fn report_targets_never_replace_the_state_the_spec_a_var_file_or_a_saved_plan() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    std::fs::write(ws.file("vars.toml"), "").unwrap();
    ws.expect(&["plan", "--out", "saved.plan"], 0);
    let before = state_text(&ws);
    let spec_before = std::fs::read_to_string(ws.file("meshmon.toml")).unwrap();
    for (flag, target) in [
        ("--json-out", "state/c.json"),
        ("--markdown-out", "state/c.json.backup"),
        ("--json-out", "meshmon.toml"),
        ("--json-out", "vars.toml"),
        ("--markdown-out", "saved.plan"),
    ] {
        let report = format!("markdown={target}");
        for args in [
            vec!["plan", "--var-file", "vars.toml", flag, target],
            vec!["drift", "--report", &report],
        ] {
            let out = ws.run(&args);
            assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
            assert!(out.stderr.contains(target), "{args:?}: {}", out.stderr);
        }
    }
    for args in [
        ["schema", "--out", "state/c.json"],
        ["docs", "--out", "meshmon.toml"],
    ] {
        let out = ws.run(&args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
    }
    assert_eq!(state_text(&ws), before);
    assert_eq!(
        std::fs::read_to_string(ws.file("meshmon.toml")).unwrap(),
        spec_before
    );
    ws.expect(&["apply", "saved.plan"], 0);
}

#[test]
fn report_targets_that_are_streams_are_written_to_not_replaced() {
    let ws = Workspace::new(ONE);
    let out = ws.expect(&["plan", "--json-out", "/dev/stdout"], 0);
    assert!(out.stdout.contains("\"changes\""), "{}", out.stdout);
    assert!(
        std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type()
            .is_symlink()
    );

    let fifo = ws.file("report.fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    ws.expect(&["plan", "--json-out", fifo.to_str().unwrap()], 0);
    assert!(reader.join().unwrap().contains("\"changes\""));
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&kind),
        "still a FIFO"
    );
}

#[test]
fn man_pages_are_never_written_through_a_link_in_their_directory() {
    let ws = Workspace::new(ONE);
    std::fs::create_dir(ws.file("man")).unwrap();
    std::fs::write(ws.file("outside.txt"), "keep").unwrap();
    std::os::unix::fs::symlink(ws.file("outside.txt"), ws.file("man/meshmon.1")).unwrap();
    ws.expect(&["man", "--out", "man"], 0);
    assert_eq!(
        std::fs::read_to_string(ws.file("outside.txt")).unwrap(),
        "keep"
    );
    assert!(
        std::fs::symlink_metadata(ws.file("man/meshmon.1"))
            .unwrap()
            .file_type()
            .is_file()
    );
}

#[test]
fn a_newline_in_a_file_path_cannot_forge_a_line_of_output() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"c\"\n\n[resources.local_file.f]\npath = \"x\\nError: forged\"\ncontent = \"a\"\n",
    );
    std::fs::write(ws.file("x\nError: forged"), "not ours").unwrap();
    let out = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    // The plan shows a multi-line value as an indented heredoc; progress and
    // error lines quote the path, newline escaped.
    assert!(
        out.stderr.contains("\"x\\nError: forged\""),
        "{}",
        out.stderr
    );
    for line in out.stdout.lines().chain(out.stderr.lines()) {
        assert!(
            !line.starts_with("Error: forged"),
            "a forged line: {line:?}\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn a_saved_plan_applies_the_file_contents_that_were_reviewed() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"c\"\n\n[resources.local_file.f]\npath = \"out.txt\"\ncontent = 'file(\"in.txt\")'\n",
    );
    std::fs::write(ws.file("in.txt"), "reviewed").unwrap();
    ws.expect(&["plan", "--out", "p.plan"], 0);
    std::fs::write(ws.file("in.txt"), "NOT reviewed").unwrap();
    ws.expect(&["apply", "p.plan"], 0);
    assert_eq!(
        std::fs::read_to_string(ws.file("out.txt")).unwrap(),
        "reviewed"
    );
}

#[test]
fn a_saved_plan_made_after_an_interrupted_run_applies() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    let state: serde_json::Value = serde_json::from_str(&state_text(&ws)).unwrap();
    let begin =
        serde_json::json!({"op": "begin", "lineage": state["lineage"], "serial": state["serial"]});
    let record = &state["resources"]["null_resource.a"];
    let line = serde_json::json!({"op": "set", "address": "null_resource.b", "resource": record});
    std::fs::write(
        ws.file("state/c.json.journal"),
        format!("{begin}\n{line}\n"),
    )
    .unwrap();
    ws.write_spec(&format!("{ONE}\n[resources.null_resource.c]\n"));
    let plan = ws.expect(&["plan", "--out", "p.plan"], 0);
    assert!(plan.stdout.contains("null_resource.b"), "{}", plan.stdout);
    ws.expect(&["apply", "p.plan"], 0);
    let mut addrs = ws.state_addresses("c");
    addrs.sort();
    assert_eq!(addrs, ["null_resource.a", "null_resource.c"]);
}

#[test]
fn output_only_changes_are_changes_in_every_format_and_the_exit_code() {
    let ws = Workspace::new(ONE);
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.write_spec(&format!("{ONE}\n[outputs.greeting]\nvalue = \"hello\"\n"));
    let text = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        text.stdout.contains("Changes to Outputs:"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("+ greeting = \"hello\""),
        "{}",
        text.stdout
    );
    let json = ws.expect(&["plan", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["output_changes"][0]["name"], "greeting");
    assert_eq!(doc["output_changes"][0]["action"], "create");
    let md = ws.expect(&["plan", "--format", "markdown"], 0);
    assert!(md.stdout.contains("greeting"), "{}", md.stdout);
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.expect(&["plan", "--detailed-exitcode"], 0);
    ws.write_spec(ONE);
    let removed = ws.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(removed.stdout.contains("- greeting"), "{}", removed.stdout);
}

#[test]
fn ignore_changes_on_a_list_element_holds_in_plan_as_in_drift() {
    let spec = |second: &str| {
        format!(
            "[meshmon]\nname = \"c\"\n\n[resources.null_resource.a]\ninputs = {{ items = [\"one\", \"{second}\"] }}\nlifecycle = {{ ignore_changes = [\"inputs.items[1]\"] }}\n"
        )
    };
    let ws = Workspace::new(&spec("two"));
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.write_spec(&spec("changed"));
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    ws.expect(&["drift"], 0);
}

#[test]
fn non_finite_numbers_are_refused_at_validate_wherever_they_are_written() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"c\"\n[variables.ratio]\ndefault = 1.5\n[resources.null_resource.a]\ninputs = { r = \"${var.ratio}\" }\n",
    );
    ws.expect(&["validate"], 0);
    for args in [
        vec!["validate", "--var", "ratio=inf"],
        vec!["validate", "--var", "ratio=nan"],
    ] {
        let out = ws.expect(&args, 1);
        assert!(out.stderr.contains("`inf` and `nan`"), "{}", out.stderr);
    }
    std::fs::write(ws.file("v.toml"), "ratio = -inf\n").unwrap();
    let out = ws.expect(&["validate", "--var-file", "v.toml"], 1);
    assert!(out.stderr.contains("`inf` and `nan`"), "{}", out.stderr);
    ws.write_spec("[meshmon]\nname = \"c\"\n[resources.null_resource.a]\ninputs = { r = nan }\n");
    let out = ws.expect(&["validate"], 1);
    assert!(out.stderr.contains("`inf` and `nan`"), "{}", out.stderr);
    no_panic(&out);
}

#[test]
fn a_value_from_a_variable_is_checked_at_validate() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"c\"\n[variables.wait]\ndefault = \"soon\"\n[resources.time_sleep.s]\ncreate_duration = \"${var.wait}\"\n",
    );
    let out = ws.expect(&["validate"], 1);
    assert!(out.stderr.contains("create_duration"), "{}", out.stderr);
    ws.expect(&["validate", "--var", "wait=1s"], 0);
}

#[test]
fn a_report_that_cannot_be_written_to_standard_output_fails_the_command() {
    let ws = Workspace::new(ONE);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshmon"))
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .arg("plan")
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("standard output"), "{stderr}");
}

#[test]
fn drift_of_a_state_that_does_not_exist_is_an_error_not_no_drift() {
    let ws = Workspace::new(ONE);
    let out = ws.expect(&["drift"], 1);
    assert!(out.stderr.contains("there is no state"), "{}", out.stderr);
    let out = ws.expect(&["plan", "--state", "typo/c.json"], 1);
    assert!(out.stderr.contains("there is no state"), "{}", out.stderr);
    // A brand-new environment still plans.
    ws.expect(&["plan"], 0);
}

#[test]
fn sigterm_stops_the_apply_at_once_and_the_next_apply_finishes() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"c\"\n\n[resources.null_resource.done]\n\n[resources.time_sleep.long]\ncreate_duration = \"120s\"\ndepends_on = [\"null_resource.done\"]\n",
    );
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_meshmon"))
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .args(["apply", "--auto-approve"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let journal = ws.file("state/c.json.journal");
    for _ in 0..200 {
        if std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("time_sleep.long")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "SIGTERM waited for the operation in flight"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(ws.state_addresses("c"), ["null_resource.done"]);
    ws.write_spec(
        "[meshmon]\nname = \"c\"\n\n[resources.null_resource.done]\n\n[resources.time_sleep.long]\ncreate_duration = \"1ms\"\ndepends_on = [\"null_resource.done\"]\n",
    );
    ws.expect(&["apply", "--auto-approve"], 0);
}

#[test]
fn an_environment_name_too_long_for_a_file_name_is_a_spec_error() {
    let name = "e".repeat(230);
    let ws = Workspace::new(&format!("[meshmon]\nname = \"{name}\"\n"));
    let out = ws.expect(&["validate"], 1);
    assert!(out.stderr.contains("bytes long"), "{}", out.stderr);
    let ok = "e".repeat(200);
    ws.write_spec(&format!(
        "[meshmon]\nname = \"{ok}\"\n\n[resources.null_resource.a]\n"
    ));
    ws.expect(&["apply", "--auto-approve"], 0);
}

#[test]
fn an_imported_secret_stays_secret_in_the_state_the_plan_and_drift() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"c\"\n[variables.token]\ndefault = \"s3cr3t-t0ken\"\nsensitive = true\n\n[resources.local_file.f]\npath = \"t.txt\"\ncontent = \"${var.token}\"\n",
    );
    std::fs::write(ws.file("t.txt"), "s3cr3t-t0ken").unwrap();
    ws.expect(&["import", "local_file.f", "t.txt"], 0);
    let show = ws.expect(&["state", "show", "local_file.f"], 0);
    assert!(!show.stdout.contains("s3cr3t"), "{}", show.stdout);
    assert!(show.stdout.contains("(sensitive)"), "{}", show.stdout);
    for args in [&["plan"][..], &["drift"]] {
        let out = ws.run(args);
        assert!(!out.stdout.contains("s3cr3t"), "{args:?}: {}", out.stdout);
    }
    std::fs::write(ws.file("t.txt"), "s3cr3t-t0ken-edited").unwrap();
    for args in [&["plan"][..], &["drift"]] {
        let out = ws.run(args);
        assert!(
            !out.stdout.contains("s3cr3t") && !out.stderr.contains("s3cr3t"),
            "{args:?}: {}{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn a_secret_defaults_text_never_shows_in_a_spec_excerpt() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"c\"\n[variables.token]\ndefault = \"s3cr3t-t0ken\"\nsensitive = true\nallowed = [\"a\"]\n",
    );
    let out = ws.expect(&["validate"], 1);
    assert!(!out.stderr.contains("s3cr3t"), "{}", out.stderr);
}
