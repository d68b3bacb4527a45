//! Hostile input and hard failures, one test per class: secrets never
//! leave the state file, no successful command bricks the state, files
//! meshmon does not own stay untouched, nothing hangs or panics, and values
//! that can only fail at apply time fail at validate instead.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::time::Duration;

use crate::common::Workspace;

const SECRET: &str = "S3cr3t-h0rse";

/// A file whose content and path are built from a sensitive variable, and
/// an output that only refers to the file's computed `id`.
const SECRET_FILE: &str = r#"
[meshmon]
name = "secret"

[variables.secret]
sensitive = true
default = "S3cr3t-h0rse"

[resources.local_file.f]
path = "out/${var.secret}.txt"
content = "token=${var.secret}\n"

[outputs.file_id]
value = "${local_file.f.id}"
"#;

/// Diagnostics as one line: miette wraps long messages in a box.
fn flat(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_start_matches([' ', '│', '×', '⚠']).trim())
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_no_secret(what: &str, out: &crate::common::Output) {
    assert!(
        !out.stdout.contains(SECRET) && !out.stderr.contains(SECRET),
        "{what} leaked the secret:\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn drift_and_plans_that_show_drift_mask_values_built_from_secrets() {
    let ws = Workspace::new(SECRET_FILE);
    let apply = ws.expect(&["apply", "--auto-approve"], 0);
    assert_no_secret("apply", &apply);
    let path = ws.file(&format!("out/{SECRET}.txt"));
    std::fs::write(&path, format!("token={SECRET}\nedited by hand\n")).unwrap();

    for format in ["text", "json", "markdown"] {
        let out = ws.expect(&["drift", "--format", format], 2);
        assert_no_secret(&format!("drift --format {format}"), &out);
        assert!(out.stdout.contains("(sensitive)"), "{}", out.stdout);
    }
    for args in [
        &["plan"][..],
        &["plan", "--json"],
        &["plan", "--refresh-only"],
    ] {
        let out = ws.expect(args, 0);
        assert_no_secret(&format!("{args:?}"), &out);
    }
}

#[test]
fn sensitivity_propagates_to_computed_attributes_and_outputs() {
    let ws = Workspace::new(SECRET_FILE);
    let apply = ws.expect(&["apply", "--auto-approve"], 0);
    assert_no_secret("apply", &apply);
    let state = ws.state("secret");
    let marked: Vec<&str> = state["resources"]["local_file.f"]["sensitive_attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for attr in ["path", "content", "id", "sha256"] {
        assert!(marked.contains(&attr), "{attr} not sensitive: {marked:?}");
    }
    assert_eq!(state["outputs"]["file_id"]["sensitive"], true);
    for args in [
        &["output"][..],
        &["output", "--json"],
        &["output", "file_id"],
        &["state", "show", "local_file.f"],
        &["plan"],
    ] {
        let out = ws.expect(args, 0);
        assert_no_secret(&format!("{args:?}"), &out);
    }
}

#[test]
fn output_masks_sensitive_values_unless_asked_for_on_purpose() {
    let ws = Workspace::new(SECRET_FILE);
    ws.expect(&["apply", "--auto-approve"], 0);
    let one = ws.expect(&["output", "file_id"], 0);
    assert_eq!(one.stdout, "(sensitive)\n");
    assert!(
        one.stderr.contains("meshmon output --raw file_id"),
        "{}",
        one.stderr
    );
    let json = ws.expect(&["output", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["file_id"],
        serde_json::json!({"value": "(sensitive)", "sensitive": true})
    );
    let raw = ws.expect(&["output", "--raw", "file_id"], 0);
    assert_eq!(raw.stdout, format!("out/{SECRET}.txt\n"));
    let shown = ws.expect(&["output", "--json", "--show-sensitive"], 0);
    assert!(shown.stdout.contains(SECRET), "{}", shown.stdout);
}

#[test]
fn errors_never_echo_sensitive_values() {
    let ws = Workspace::new(
        r#"
[meshmon]
name = "err"

[variables.wait]
sensitive = true
default = "S3cr3t-h0rse"

[resources.time_sleep.s]
create_duration = "${var.wait}"
"#,
    );
    let plan = ws.expect(&["plan"], 1);
    assert_no_secret("plan", &plan);
    assert!(plan.stderr.contains("is not a duration"), "{}", plan.stderr);
    let apply = ws.expect(&["apply", "--auto-approve"], 1);
    assert_no_secret("apply", &apply);
}

#[test]
fn local_file_gets_its_exact_mode_whatever_the_umask() {
    let ws = Workspace::new(
        r#"
[meshmon]
name = "modes"

[resources.local_file.open]
path = "open.txt"
content = "x"
file_permission = "0666"

[resources.local_file.private]
path = "private.txt"
content = "x"
file_permission = "0600"
"#,
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    let mode = |f: &str| std::fs::metadata(ws.file(f)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("open.txt"), 0o666);
    assert_eq!(mode("private.txt"), 0o600);
    ws.expect(&["drift"], 0);
}

fn nested(depth: usize) -> String {
    let mut v = String::from("1");
    for _ in 0..depth {
        v = format!("{{ a = {v} }}");
    }
    v
}

#[test]
fn values_nested_too_deep_are_refused_before_anything_is_written() {
    let ws = Workspace::new(&format!(
        "[meshmon]\nname = \"deep\"\n\n[resources.null_resource.n]\ninputs = {}\n",
        nested(75)
    ));
    for cmd in ["validate", "plan", "apply"] {
        let out = ws.expect(
            &[cmd, "--auto-approve"][..if cmd == "apply" { 2 } else { 1 }],
            1,
        );
        assert!(
            out.stderr.contains("nested more than 32 levels"),
            "{}",
            out.stderr
        );
    }
    assert!(!ws.file("state/deep.json").exists());
}

#[test]
fn values_nested_as_deep_as_allowed_apply_and_read_back_in_linear_time() {
    let ws = Workspace::new(&format!(
        "[meshmon]\nname = \"deep\"\n\n[resources.null_resource.n]\ninputs = {}\n",
        nested(27)
    ));
    // Exponential work in the nesting depth would never finish; a bound
    // on the whole command catches it without timing anything finer.
    let run = |args: &[&str], code: i32| {
        let out = ws
            .cmd()
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
    };
    run(&["apply", "--auto-approve"], 0);
    run(&["plan", "--detailed-exitcode"], 0);
    run(&["drift"], 0);
    run(&["destroy", "--auto-approve"], 0);
}

#[test]
fn plan_out_never_overwrites_the_state_or_other_files() {
    let ws = Workspace::new("[meshmon]\nname = \"p\"\n\n[resources.null_resource.a]\n");
    ws.expect(&["apply", "--auto-approve"], 0);
    let state_before = std::fs::read(ws.file("state/p.json")).unwrap();
    for target in ["state/p.json", "meshmon.toml"] {
        let out = ws.expect(&["plan", "--out", target], 1);
        assert!(
            out.stderr.contains("is not a meshmon plan file"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read(ws.file("state/p.json")).unwrap(),
        state_before
    );
    ws.expect(&["plan", "--out", "p.tfplan"], 0);
    ws.expect(&["plan", "--out", "p.tfplan"], 0);
    let mode = std::fs::metadata(ws.file("p.tfplan"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_state_serial_that_cannot_grow_is_an_error_not_a_panic() {
    let ws = Workspace::new("[meshmon]\nname = \"s\"\n\n[resources.null_resource.a]\n");
    ws.expect(&["apply", "--auto-approve"], 0);
    let path = ws.file("state/s.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    state["serial"] = serde_json::json!(u64::MAX);
    std::fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();
    ws.write_spec(
        "[meshmon]\nname = \"s\"\n\n[resources.null_resource.a]\n\n[resources.null_resource.b]\n",
    );
    let out = ws.expect(&["apply", "--auto-approve"], 1);
    assert!(out.stderr.contains("cannot grow"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

/// A journal as an interrupted apply leaves it, over the state on disk.
fn journal_over(ws: &Workspace, name: &str, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(ws.file(&format!("state/{name}.json.journal")), text).unwrap();
}

fn set_line(ws: &Workspace, name: &str, from: &str, to: &str) -> String {
    let state = ws.state(name);
    let record = &state["resources"][from];
    serde_json::json!({"op": "set", "address": to, "resource": record}).to_string()
}

#[test]
fn a_damaged_journal_is_recovered_line_by_line_and_kept_aside() {
    let spec = "[meshmon]\nname = \"j\"\n\n[resources.null_resource.a]\n\n[resources.null_resource.b]\n\n[resources.null_resource.c]\n";
    let ws = Workspace::new("[meshmon]\nname = \"j\"\n\n[resources.null_resource.a]\n");
    ws.expect(&["apply", "--auto-approve"], 0);
    let state = ws.state("j");
    let begin =
        serde_json::json!({"op": "begin", "lineage": state["lineage"], "serial": state["serial"]});
    let b = set_line(&ws, "j", "null_resource.a", "null_resource.b");
    let c = set_line(&ws, "j", "null_resource.a", "null_resource.c");
    journal_over(&ws, "j", &[begin.to_string(), b, "{garbage".into(), c]);
    ws.write_spec(spec);

    let plan = ws.expect(&["plan", "--detailed-exitcode"], 0);
    let said = flat(&plan.stderr);
    assert!(said.contains("journal"), "{said}");
    assert!(said.contains("1 line(s) could not be read"), "{said}");
    assert!(
        said.contains("2 intact operation(s) were recovered"),
        "{said}"
    );
    let kept: Vec<_> = std::fs::read_dir(ws.file("state"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .contains(".journal.damaged-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "one copy of the damaged journal is kept");
    ws.expect(&["apply", "--auto-approve"], 0);
    let mut addrs = ws.state_addresses("j");
    addrs.sort();
    assert_eq!(
        addrs,
        ["null_resource.a", "null_resource.b", "null_resource.c"]
    );
    assert!(!ws.file("state/j.json.journal").exists());
}

#[test]
fn a_journal_with_a_truncated_first_line_still_recovers_its_entries() {
    let ws = Workspace::new("[meshmon]\nname = \"t\"\n\n[resources.null_resource.a]\n");
    ws.expect(&["apply", "--auto-approve"], 0);
    let b = set_line(&ws, "t", "null_resource.a", "null_resource.b");
    journal_over(&ws, "t", &["{\"op\":\"beg".into(), b]);
    ws.write_spec(
        "[meshmon]\nname = \"t\"\n\n[resources.null_resource.a]\n\n[resources.null_resource.b]\n",
    );
    let plan = ws.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(plan.stderr.contains("damaged"), "{}", plan.stderr);
}

#[test]
fn links_planted_at_the_journal_or_lock_path_are_never_written_through() {
    for suffix in [".journal", ".lock"] {
        let ws = Workspace::new("[meshmon]\nname = \"l\"\n\n[resources.null_resource.a]\n");
        std::fs::create_dir_all(ws.file("state")).unwrap();
        let precious = ws.file("precious.txt");
        std::fs::write(&precious, "keep me\n").unwrap();
        symlink(&precious, ws.file(&format!("state/l.json{suffix}"))).unwrap();
        let out = ws.expect(&["apply", "--auto-approve"], 1);
        assert!(
            out.stderr.contains("symbolic link"),
            "{suffix}: {}",
            out.stderr
        );
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    }
}

#[test]
fn a_corrupt_state_error_names_the_backup_and_how_to_restore_it() {
    let ws = Workspace::new("[meshmon]\nname = \"c\"\n\n[resources.null_resource.a]\n");
    ws.expect(&["apply", "--auto-approve"], 0);
    ws.write_spec(
        "[meshmon]\nname = \"c\"\n\n[resources.null_resource.a]\n\n[resources.null_resource.b]\n",
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    std::fs::write(ws.file("state/c.json"), "{ not json").unwrap();
    let out = ws.expect(&["plan"], 1);
    assert!(out.stderr.contains("c.json.backup"), "{}", out.stderr);
    assert!(out.stderr.contains("cp "), "{}", out.stderr);
}

#[test]
fn local_file_never_overwrites_a_file_it_did_not_create() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"own\"\n\n[resources.local_file.f]\npath = \"mine.txt\"\ncontent = \"meshmon\\n\"\n",
    );
    std::fs::write(ws.file("mine.txt"), "the user's\n").unwrap();
    let out = ws.expect(&["apply", "--auto-approve"], 1);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert!(out.stderr.contains("meshmon import"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(ws.file("mine.txt")).unwrap(),
        "the user's\n"
    );
    assert!(!ws.file("state/own.json").exists() || ws.state_addresses("own").is_empty());
    // Adopted on purpose, it is managed like any other.
    ws.expect(&["import", "local_file.f", "mine.txt"], 0);
    ws.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        std::fs::read_to_string(ws.file("mine.txt")).unwrap(),
        "meshmon\n"
    );
}

#[test]
fn local_file_never_writes_through_or_removes_a_link_at_its_path() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"link\"\n\n[resources.local_file.f]\npath = \"f.txt\"\ncontent = \"one\\n\"\nfile_permission = \"0600\"\n",
    );
    let elsewhere = ws.file("elsewhere.txt");
    std::fs::write(&elsewhere, "not meshmon's\n").unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o644)).unwrap();
    symlink(&elsewhere, ws.file("f.txt")).unwrap();
    let create = ws.expect(&["apply", "--auto-approve"], 1);
    assert!(
        create.stderr.contains("already exists"),
        "{}",
        create.stderr
    );

    std::fs::remove_file(ws.file("f.txt")).unwrap();
    ws.expect(&["apply", "--auto-approve"], 0);
    std::fs::remove_file(ws.file("f.txt")).unwrap();
    symlink(&elsewhere, ws.file("f.txt")).unwrap();
    ws.write_spec(
        "[meshmon]\nname = \"link\"\n\n[resources.local_file.f]\npath = \"f.txt\"\ncontent = \"two\\n\"\nfile_permission = \"0600\"\n",
    );
    // The file meshmon wrote is gone; whatever took its place is not
    // written through.
    let update = ws.expect(&["apply", "--auto-approve"], 1);
    assert!(
        update.stderr.contains("already exists"),
        "{}",
        update.stderr
    );
    ws.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        std::fs::symlink_metadata(ws.file("f.txt")).is_ok(),
        "the link stays"
    );
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        "not meshmon's\n"
    );
    let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn file_function_reads_only_regular_files_of_bounded_size() {
    let ws = Workspace::new("");
    let fifo = ws.file("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let big = ws.file("big.txt");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(17 * 1024 * 1024)
        .unwrap();
    for (path, says) in [
        ("pipe", "a FIFO"),
        ("/dev/zero", "a device"),
        ("big.txt", "larger than 16 MiB"),
    ] {
        ws.write_spec(&format!(
            "[meshmon]\nname = \"f\"\n\n[resources.local_file.f]\npath = \"x\"\ncontent = 'file(\"{path}\")'\n"
        ));
        let out = ws
            .cmd()
            .arg("validate")
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path}: {stderr}");
        assert!(stderr.contains(says), "{path}: {stderr}");
    }
}

#[test]
fn out_of_range_flags_are_usage_errors_not_panics() {
    let ws = Workspace::new("[meshmon]\nname = \"x\"\n\n[resources.null_resource.a]\n");
    for n in ["0", "99999999999999999999", "100000"] {
        let out = ws.run(&["apply", "--auto-approve", "--parallelism", n]);
        assert_eq!(out.code, 2, "--parallelism {n}: {}", out.stderr);
        assert!(out.stderr.contains("1 to 1024"), "{}", out.stderr);
    }
    // Every command that talks to a provider takes it.
    for args in [
        &["plan"][..],
        &["drift"],
        &["destroy", "--auto-approve"],
        &["import", "null_resource.a", "x"],
    ] {
        let out = ws.run(&[args, &["--parallelism", "0"]].concat());
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("1 to 1024"), "{args:?}: {}", out.stderr);
    }
    ws.expect(&["plan", "--parallelism", "3"], 0);
    let out = ws.expect(
        &[
            "apply",
            "--auto-approve",
            "--lock-timeout",
            "500000000years",
        ],
        0,
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

/// `meshmon apply --auto-approve` in the background.
fn spawn_apply(ws: &Workspace, stdio: fn() -> std::process::Stdio) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_meshmon"))
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .args(["apply", "--auto-approve"])
        .stdin(std::process::Stdio::null())
        .stdout(stdio())
        .stderr(stdio())
        .spawn()
        .unwrap()
}

#[test]
fn force_unlock_refuses_while_the_holder_is_alive_here() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"lk\"\n\n[resources.time_sleep.s]\ncreate_duration = \"60s\"\n",
    );
    let mut child = spawn_apply(&ws, std::process::Stdio::null);
    let lock = ws.file("state/lk.json.lock");
    let mut id = None;
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&lock)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        {
            id = v["id"].as_str().map(str::to_string);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let id = id.expect("the apply took the lock");
    let refused = ws.expect(&["force-unlock", &id], 1);
    assert!(
        refused.stderr.contains("still running"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    ws.expect(&["force-unlock", "--force", &id], 0);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_second_interrupt_stops_at_once_and_saves_what_finished() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"int\"\n\n[resources.null_resource.done]\n\n[resources.time_sleep.long]\ncreate_duration = \"120s\"\ndepends_on = [\"null_resource.done\"]\n",
    );
    let child = spawn_apply(&ws, std::process::Stdio::piped);
    let pid = child.id() as libc::pid_t;
    let journal = ws.file("state/int.json.journal");
    for _ in 0..200 {
        if std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("null_resource.done")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(pid, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(pid, libc::SIGINT) };
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the second interrupt did not stop the apply"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Second interrupt") || stderr.contains("Second interrupt"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(ws.state_addresses("int"), ["null_resource.done"]);
}

#[test]
fn values_that_only_apply_would_reject_fail_at_validate_with_a_span() {
    let cases = [
        (
            "[resources.time_sleep.s]\ncreate_duration = \"forever\"\n",
            "is not a duration",
        ),
        (
            "[resources.time_sleep.s]\ncreate_duration = \"-5s\"\n",
            "is not a duration",
        ),
        (
            "[resources.time_sleep.s]\ndestroy_duration = \"99999999999999999999h\"\n",
            "is not a duration",
        ),
        (
            "[resources.time_sleep.s]\ncreate_duration = \"500000000years\"\n",
            "too long to wait",
        ),
        (
            "[resources.local_file.f]\npath = \"f\"\ncontent = \"\"\nfile_permission = \"9999\"\n",
            "not an octal file mode",
        ),
        (
            "[resources.local_file.f]\npath = \"\"\ncontent = \"\"\n",
            "must be a non-empty path",
        ),
        (
            "[resources.null_resource.n]\ninputs = { big = 99999999999999999999 }\n",
            "does not fit in 64 bits",
        ),
        (
            "[resources.null_resource.n]\ntimeouts = { create = \"500000000years\" }\n",
            "too long a duration",
        ),
    ];
    for (body, says) in cases {
        let ws = Workspace::new(&format!("[meshmon]\nname = \"v\"\n\n{body}"));
        let out = ws.expect(&["validate"], 1);
        assert!(out.stderr.contains(says), "{body}: {}", out.stderr);
        // The diagnostic points into the spec.
        assert!(
            out.stderr.contains("meshmon.toml:"),
            "{body}: {}",
            out.stderr
        );
    }
}

#[test]
fn var_files_are_type_checked_and_must_exist() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"vf\"\n\n[variables.replicas]\ndefault = 2\n\n[resources.null_resource.n]\ninputs = { r = \"${var.replicas}\" }\n",
    );
    std::fs::write(ws.file("bad.toml"), "replicas = \"three\"\n").unwrap();
    let out = ws.expect(&["validate", "--var-file", "bad.toml"], 1);
    assert!(
        out.stderr.contains("expected an integer, found a string"),
        "{}",
        out.stderr
    );
    let out = ws.expect(&["validate", "--var-file", "missing.toml"], 1);
    assert!(out.stderr.contains("missing.toml"), "{}", out.stderr);
    std::fs::write(ws.file("good.toml"), "replicas = 3\n").unwrap();
    ws.expect(&["validate", "--var-file", "good.toml"], 0);
}

#[test]
fn a_saved_plan_is_checked_before_use_and_takes_no_other_flags() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"sp\"\n\n[variables.v]\ndefault = \"a\"\n\n[resources.null_resource.n]\ninputs = { v = \"${var.v}\" }\n",
    );
    ws.expect(&["plan", "--out", "p.tfplan"], 0);
    for flags in [
        &["--var", "v=b"][..],
        &["--target", "null_resource.n"],
        &["--destroy"],
        &["-f", "other.toml"],
    ] {
        let mut args = vec!["apply", "--auto-approve", "p.tfplan"];
        args.extend_from_slice(flags);
        let out = ws.expect(&args, 1);
        assert!(
            out.stderr.contains("cannot be used with a saved plan"),
            "{flags:?}: {}",
            out.stderr
        );
    }
    let mut bytes = std::fs::read(ws.file("p.tfplan")).unwrap();
    let at = bytes.len() - 10;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(ws.file("p.tfplan"), &bytes).unwrap();
    let out = ws.expect(&["apply", "--auto-approve", "p.tfplan"], 1);
    assert!(out.stderr.contains("fails its checksum"), "{}", out.stderr);
    assert!(!ws.file("state/sp.json").exists());
}

#[test]
fn a_journal_that_cannot_be_written_stops_the_apply_at_once() {
    use std::os::unix::process::CommandExt;
    let mut spec = String::from("[meshmon]\nname = \"full\"\n");
    for i in 0..40 {
        spec.push_str(&format!("\n[resources.null_resource.n{i:02}]\n"));
    }
    let ws = Workspace::new(&spec);
    // A file-size limit plays a full disk: past 4 KiB every write fails
    // with EFBIG (SIGXFSZ ignored, so the write returns the error).
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_meshmon"));
    cmd.current_dir(ws.path()).env("NO_COLOR", "1").args([
        "apply",
        "--auto-approve",
        "--parallelism",
        "1",
    ]);
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        flat(&stderr).contains("could not be written, so the apply stopped at once"),
        "{stderr}"
    );
    let created =
        stdout.matches("Creation complete").count() + stderr.matches("Creation complete").count();
    assert!(created < 40, "the apply went on after the journal failed");

    // Without the limit, the next apply recovers what the journal holds and
    // creates the rest.
    ws.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(ws.state_addresses("full").len(), 40);
    ws.expect(&["plan", "--detailed-exitcode"], 0);
}
