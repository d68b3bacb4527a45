//! A test double of the `helm` CLI (Helm 3), for what meshmon runs:
//! `upgrade --install`, `uninstall`, `status -o json`, `get values -o json`,
//! `get metadata -o json` and `version`. It keeps releases in
//! `$FAKE_HELM_DIR/releases.json` and appends one JSON line per invocation
//! to `$FAKE_HELM_DIR/log.jsonl`: the arguments, the contents of every
//! `--values` file, and what it saw of the `--kubeconfig` (its mode and
//! server) while the run lasted. Errors go to stderr with helm's wording
//! and exit code 1. A file `$FAKE_HELM_DIR/fail` naming a subcommand makes
//! the next such call fail once.
//!
//! A test may write a release with a pending `status` (`pending-install`,
//! `pending-upgrade`), as a helm still installing it in another process
//! leaves it. Like helm, this one then refuses `upgrade` ("another
//! operation … is in progress") and still uninstalls it. With
//! `"pendingReads": N` the release settles on the Nth read (`status`,
//! `get`) after, to `"settlesTo"` (`deployed` when not given), as when that
//! other helm finishes; without, it stays pending, as when that helm was
//! killed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value as Json, json};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn positional(args: &[String]) -> Vec<String> {
    const WITH_VALUE: [&str; 9] = [
        "--namespace",
        "-n",
        "--repo",
        "--version",
        "--values",
        "-f",
        "--timeout",
        "--kubeconfig",
        "--kube-context",
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if WITH_VALUE.contains(&args[i].as_str()) || args[i] == "-o" {
            i += 2;
            continue;
        }
        if !args[i].starts_with('-') {
            out.push(args[i].clone());
        }
        i += 1;
    }
    out
}

fn kubeconfig_seen(args: &[String]) -> Json {
    let Some(path) = flag(args, "--kubeconfig") else {
        return Json::Null;
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return json!({"path": path, "exists": false});
    };
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        format!("{:o}", meta.permissions().mode() & 0o777)
    };
    #[cfg(not(unix))]
    let mode = String::new();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let doc: Json = serde_yaml_ng::from_str(&text).unwrap_or(Json::Null);
    json!({
        "path": path, "exists": true, "mode": mode,
        "server": doc["clusters"][0]["cluster"]["server"],
        "has_ca": doc["clusters"][0]["cluster"]["certificate-authority-data"].is_string(),
        "has_token": doc["users"][0]["user"]["token"].is_string(),
    })
}

fn load(dir: &Path) -> BTreeMap<String, Json> {
    std::fs::read_to_string(dir.join("releases.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn save(dir: &Path, releases: &BTreeMap<String, Json>) {
    std::fs::write(
        dir.join("releases.json"),
        serde_json::to_string_pretty(releases).expect("JSON"),
    )
    .expect("write releases.json");
}

fn fail(message: &str) -> ExitCode {
    eprintln!("Error: {message}");
    ExitCode::from(1)
}

/// Public so that a program other than this binary can run as the fake
/// helm (see `FakeHelm::run_as`).
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = std::env::var_os("FAKE_HELM_DIR").map(PathBuf::from) else {
        return fail("FAKE_HELM_DIR is not set (this is the test double of helm)");
    };
    // Releases installed in parallel (two helm_release resources with no
    // dependency between them) run this binary concurrently: one run at a
    // time reads and writes the log and the releases, as helm's own
    // storage (Secrets, updated atomically) would not lose either.
    let lock = std::fs::File::create(dir.join("lock")).expect("create the lock file");
    lock.lock().expect("lock the fake helm's state");
    let values_files: Vec<Json> = args
        .iter()
        .enumerate()
        .filter(|(_, a)| *a == "--values" || *a == "-f")
        .filter_map(|(i, _)| args.get(i + 1))
        .map(|p| json!({"path": p, "content": std::fs::read_to_string(p).unwrap_or_default()}))
        .collect();
    let entry = json!({"args": args, "values": values_files, "kubeconfig": kubeconfig_seen(&args)});
    let mut log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap_or_default();
    log.push_str(&entry.to_string());
    log.push('\n');
    std::fs::write(dir.join("log.jsonl"), log).expect("write log");

    let pos = positional(&args);
    let sub = pos.iter().take(2).cloned().collect::<Vec<_>>().join(" ");
    let fail_file = dir.join("fail");
    if let Ok(which) = std::fs::read_to_string(&fail_file)
        && sub.starts_with(which.trim())
    {
        let _ = std::fs::remove_file(&fail_file);
        return fail(&format!("{} failed: injected by the test", which.trim()));
    }
    let ns = flag(&args, "--namespace")
        .or_else(|| flag(&args, "-n"))
        .unwrap_or_else(|| "default".into());
    let mut releases = load(&dir);
    if matches!(pos.first().map(String::as_str), Some("status" | "get"))
        && let Some(name) = pos
            .iter()
            .skip(1)
            .find(|p| *p != "values" && *p != "metadata")
        && let Some(r) = releases.get_mut(&format!("{ns}/{name}"))
        && let Some(n) = r["pendingReads"].as_u64()
    {
        let o = r.as_object_mut().expect("object");
        if n <= 1 {
            let to = o.remove("settlesTo").unwrap_or_else(|| json!("deployed"));
            o.remove("pendingReads");
            o.insert("status".into(), to);
        } else {
            o.insert("pendingReads".into(), json!(n - 1));
        }
        save(&dir, &releases);
    }
    match pos
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["version", ..] => {
            println!("v3.16.0+gfakehelm");
            ExitCode::SUCCESS
        }
        ["upgrade", name, chart] if args.iter().any(|a| a == "--install") => {
            if flag(&args, "--kubeconfig").is_none() {
                return fail("Kubernetes cluster unreachable: no kubeconfig");
            }
            let mut values = json!({});
            for f in &values_files {
                let v: Json = serde_yaml_ng::from_str(f["content"].as_str().unwrap_or_default())
                    .unwrap_or(json!({}));
                if let (Json::Object(a), Json::Object(b)) = (&mut values, v) {
                    a.extend(b);
                }
            }
            let key = format!("{ns}/{name}");
            if releases
                .get(&key)
                .and_then(|r| r["status"].as_str())
                .is_some_and(|s| s.starts_with("pending-"))
            {
                return fail(
                    "UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
                );
            }
            let revision = releases
                .get(&key)
                .and_then(|r| r["revision"].as_i64())
                .unwrap_or(0)
                + 1;
            let chart_name = chart.rsplit('/').next().unwrap_or(chart).to_string();
            let version = flag(&args, "--version").unwrap_or_else(|| "1.0.0".into());
            releases.insert(key, json!({
                "name": name, "namespace": ns, "chart": chart_name, "version": version, "appVersion": format!("v{version}"),
                "revision": revision, "status": "deployed", "values": values,
            }));
            save(&dir, &releases);
            println!("Release \"{name}\" has been upgraded. Happy Helming!");
            ExitCode::SUCCESS
        }
        ["uninstall", name] => {
            if releases.remove(&format!("{ns}/{name}")).is_none() {
                return fail(&format!(
                    "uninstall: Release not loaded: {name}: release: not found"
                ));
            }
            save(&dir, &releases);
            println!("release \"{name}\" uninstalled");
            ExitCode::SUCCESS
        }
        ["status", name] => match releases.get(&format!("{ns}/{name}")) {
            None => fail("release: not found"),
            Some(r) => {
                let status = r["status"].as_str().unwrap_or("unknown");
                let description = match status {
                    "deployed" => "Install complete",
                    "pending-install" => "Initial install underway",
                    "pending-upgrade" => "Preparing upgrade",
                    "failed" => "Release \"failed\": context deadline exceeded",
                    _ => "",
                };
                let out = json!({
                    "name": name, "namespace": ns, "version": r["revision"],
                    "info": {
                        "first_deployed": "2025-01-01T00:00:00Z", "last_deployed": "2025-01-01T00:00:00Z",
                        "deleted": "", "description": description, "status": status,
                    },
                    "chart": { "metadata": { "name": r["chart"], "version": r["version"], "appVersion": r["appVersion"] } },
                    "config": r["values"], "manifest": "",
                });
                println!("{out}");
                ExitCode::SUCCESS
            }
        },
        ["get", "values", name] => match releases.get(&format!("{ns}/{name}")) {
            None => fail("release: not found"),
            Some(r) => {
                let v = &r["values"];
                println!(
                    "{}",
                    if v.as_object().is_some_and(|o| o.is_empty()) {
                        Json::Null
                    } else {
                        v.clone()
                    }
                );
                ExitCode::SUCCESS
            }
        },
        ["get", "metadata", name] => match releases.get(&format!("{ns}/{name}")) {
            None => fail("release: not found"),
            Some(r) => {
                let mut m = r.clone();
                let o = m.as_object_mut().expect("object");
                for k in ["values", "pendingReads", "settlesTo"] {
                    o.remove(k);
                }
                m["deployedAt"] = json!("2025-01-01T00:00:00Z");
                println!("{m}");
                ExitCode::SUCCESS
            }
        },
        _ => fail(&format!(
            "unknown command {args:?} for the helm test double"
        )),
    }
}
