use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Workspace;

/// Six sleeps of 400 ms in a chain: one completes every 400 ms.
fn sleep_chain() -> String {
    let mut spec = String::from("[meshmon]\nname = \"sleepy\"\n");
    for i in 0..6 {
        spec.push_str(&format!(
            "\n[resources.time_sleep.s{i}]\ncreate_duration = \"400ms\"\n"
        ));
        if i > 0 {
            spec.push_str(&format!("depends_on = [\"time_sleep.s{}\"]\n", i - 1));
        }
    }
    spec
}

#[test]
fn apply_resumes_after_kill() {
    let ws = Workspace::new(&sleep_chain());
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshmon"))
        .args(["apply", "--auto-approve"])
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut completed = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.contains("Creation complete") {
            completed += 1;
            if completed == 2 {
                break;
            }
        }
    }
    // SIGKILL: no chance to clean up, the journal is all that is left.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        ws.file("state/sleepy.json.journal").exists(),
        "the journal survives the kill"
    );
    assert!(
        !ws.file("state/sleepy.json").exists(),
        "the state file was never written"
    );

    let plan = ws.expect(&["plan", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let creates: Vec<&str> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "create")
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    let kept: Vec<&str> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "no-op")
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert!(
        kept.len() >= 2,
        "the two completed sleeps are kept: {doc:#}"
    );
    assert_eq!(kept.len() + creates.len(), 6);
    assert!(kept.contains(&"time_sleep.s0") && kept.contains(&"time_sleep.s1"));

    let out = ws.expect(&["apply", "--auto-approve"], 0);
    assert!(out.stderr.contains("Recovered"), "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("Resources: {} added", creates.len())),
        "{}",
        out.stdout
    );
    assert_eq!(ws.state_addresses("sleepy").len(), 6);
    assert!(!ws.file("state/sleepy.json.journal").exists());
    ws.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn racing_applies_one_wins_and_the_other_names_the_holder() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"race\"\n\n[resources.time_sleep.hold]\ncreate_duration = \"1500ms\"\n",
    );
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_meshmon"))
            .args(["apply", "--auto-approve"])
            .current_dir(ws.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(1)),
        "{codes:?}"
    );
    let loser = if a.status.success() { &b } else { &a };
    let stderr = String::from_utf8_lossy(&loser.stderr);
    assert!(stderr.contains("is locked by `apply` run by"), "{stderr}");
    assert!(stderr.contains("(pid "), "{stderr}");
    assert!(stderr.contains("meshmon force-unlock"), "{stderr}");
    assert_eq!(ws.state_addresses("race"), vec!["time_sleep.hold"]);
}

#[test]
fn lock_timeout_waits_for_the_holder() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"wait\"\n\n[resources.time_sleep.hold]\ncreate_duration = \"800ms\"\n",
    );
    let first = Command::new(env!("CARGO_BIN_EXE_meshmon"))
        .args(["apply", "--auto-approve"])
        .current_dir(ws.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ws.file("state/wait.json.lock").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    ws.expect(&["apply", "--auto-approve", "--lock-timeout", "10s"], 0);
    assert!(first.wait_with_output().unwrap().status.success());
}

#[test]
fn a_lock_left_by_a_killed_process_does_not_trap_the_next_run() {
    let ws = Workspace::new(
        "[meshmon]\nname = \"dead\"\n\n[resources.time_sleep.hold]\ncreate_duration = \"10s\"\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshmon"))
        .args(["apply", "--auto-approve"])
        .current_dir(ws.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(l)) = lines.next() {
        if l.contains("Creating...") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        ws.file("state/dead.json.lock").exists(),
        "the dead holder's lock file is left behind"
    );
    ws.write_spec(
        "[meshmon]\nname = \"dead\"\n\n[resources.time_sleep.hold]\ncreate_duration = \"10ms\"\n",
    );
    ws.expect(&["apply", "--auto-approve"], 0);
}

#[test]
fn force_unlock_checks_the_lock_id() {
    let ws = Workspace::new("[meshmon]\nname = \"stuck\"\n");
    std::fs::create_dir_all(ws.file("state")).unwrap();
    std::fs::write(
        ws.file("state/stuck.json.lock"),
        r#"{"id":"abc-123","operation":"apply","who":"ci@runner","pid":4242,"created":"2026-11-26T00:00:00Z"}"#,
    )
    .unwrap();
    let wrong = ws.expect(&["force-unlock", "nope"], 1);
    assert!(
        wrong.stderr.contains("has ID abc-123, not nope"),
        "{}",
        wrong.stderr
    );
    let ok = ws.expect(&["force-unlock", "abc-123"], 0);
    assert!(ok.stdout.contains("ci@runner"), "{}", ok.stdout);
    assert!(!ws.file("state/stuck.json.lock").exists());
    let again = ws.expect(&["force-unlock", "abc-123"], 1);
    assert!(again.stderr.contains("is not locked"), "{}", again.stderr);
}

#[test]
fn ctrl_c_stops_scheduling_lets_in_flight_work_finish_and_saves() {
    let ws = Workspace::new(&sleep_chain());
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshmon"))
        .args(["apply", "--auto-approve"])
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(l)) = lines.next() {
        let started_second = l.starts_with("time_sleep.s1: Creating...");
        seen.push(l);
        if started_second {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    seen.extend(lines.map_while(Result::ok));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{seen:#?}\n{stderr}");
    assert!(
        seen.iter().any(|l| l.contains("Interrupt received")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("time_sleep.s1: Creation complete")),
        "in-flight work finishes: {seen:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|l| l.starts_with("time_sleep.s2: Creating")),
        "nothing new starts: {seen:#?}"
    );
    assert!(
        stderr.contains("interrupted: 2 operation(s) completed and were saved, 4 not started"),
        "{stderr}"
    );
    let mut addrs = ws.state_addresses("sleepy");
    addrs.sort();
    assert_eq!(addrs, vec!["time_sleep.s0", "time_sleep.s1"]);
    assert!(!ws.file("state/sleepy.json.journal").exists());
    let plan = ws.expect(&["plan"], 0);
    assert!(plan.stdout.contains("Plan: 4 to add"), "{}", plan.stdout);
}
