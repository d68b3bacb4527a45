use std::path::Path;

use crate::common::Workspace;

fn examples_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
}

/// The files under `dir`, relative and sorted.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn init_writes_the_recipe_with_its_manifests_dashboards_and_schema() {
    let ws = Workspace::new("");
    std::fs::remove_file(ws.file("meshmon.toml")).unwrap();
    let out = ws.expect(&["init", "env"], 0);
    assert_eq!(
        listing(&ws.file("env")),
        [
            "dashboards/envoy-mesh.json",
            "manifests/djapp-mesh.yaml",
            "manifests/djapp.yaml",
            "manifests/grafana-agent.yaml",
            "manifests/load-generator.yaml",
            "meshmon.schema.json",
            "meshmon.toml",
        ]
    );
    assert!(
        out.stdout
            .contains("cd env\n  meshmon validate\n  meshmon plan"),
        "{}",
        out.stdout
    );
    let spec = std::fs::read_to_string(ws.file("env/meshmon.toml")).unwrap();
    assert!(
        spec.starts_with("#:schema ./meshmon.schema.json\n"),
        "{spec}"
    );
    // The rest is the example, its `-f` hints fitted to the new layout.
    let original = std::fs::read_to_string(examples_dir().join("meshmon.toml")).unwrap();
    assert_eq!(
        spec["#:schema ./meshmon.schema.json\n".len()..],
        original.replace(" -f examples/meshmon.toml", "")
    );
    for f in ["manifests/djapp.yaml", "dashboards/envoy-mesh.json"] {
        assert_eq!(
            std::fs::read(ws.file("env").join(f)).unwrap(),
            std::fs::read(examples_dir().join(f)).unwrap(),
            "{f}"
        );
    }
    // The schema written is the one `meshmon schema` prints.
    assert_eq!(
        std::fs::read_to_string(ws.file("env/meshmon.schema.json")).unwrap(),
        ws.expect(&["schema"], 0).stdout
    );
}

#[test]
fn init_recipe_plans_offline_like_the_example_in_a_clone() {
    let ws = Workspace::new("");
    std::fs::remove_file(ws.file("meshmon.toml")).unwrap();
    ws.expect(&["init"], 0);
    let here = ws.expect(&["plan"], 0);
    assert!(
        here.stdout.contains("to add, 0 to change, 0 to destroy."),
        "{}",
        here.stdout
    );
    // The same plan as `plan -f examples/meshmon.toml` from a clone.
    let clone = Workspace::new("");
    let example = examples_dir().join("meshmon.toml");
    let there = clone.expect(&["plan", "-f", example.to_str().unwrap()], 0);
    assert_eq!(here.stdout, there.stdout);
}

#[test]
fn init_builtin_plans_and_applies_with_no_cloud() {
    let ws = Workspace::new("");
    std::fs::remove_file(ws.file("meshmon.toml")).unwrap();
    ws.expect(&["init", "--example", "builtin"], 0);
    assert_eq!(listing(ws.path()), ["meshmon.schema.json", "meshmon.toml"]);
    let plan = ws.expect(&["plan"], 0);
    assert!(
        plan.stdout
            .contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    ws.expect(&["apply", "--auto-approve"], 0);
    assert!(ws.file("build/agent-scrape.yaml").is_file());
}

#[test]
fn init_refuses_to_overwrite_and_names_every_file_in_the_way() {
    let ws = Workspace::new("# mine\n");
    std::fs::create_dir(ws.file("manifests")).unwrap();
    std::fs::write(ws.file("manifests/djapp.yaml"), "mine too\n").unwrap();
    let out = ws.expect(&["init"], 1);
    assert!(
        out.stderr.contains(
            "2 files already exist in .: meshmon.toml, manifests/djapp.yaml; nothing was written"
        ),
        "{}",
        out.stderr
    );
    // Nothing was written, not even the files that were free.
    assert_eq!(listing(ws.path()), ["manifests/djapp.yaml", "meshmon.toml"]);
    assert_eq!(
        std::fs::read_to_string(ws.file("meshmon.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn init_never_writes_through_a_symlink() {
    let ws = Workspace::new("");
    std::fs::remove_file(ws.file("meshmon.toml")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    // A symlinked directory on the way to a file.
    std::os::unix::fs::symlink(elsewhere.path(), ws.file("manifests")).unwrap();
    let out = ws.expect(&["init"], 1);
    assert!(
        out.stderr.contains("manifests is a symlink"),
        "{}",
        out.stderr
    );
    assert!(listing(elsewhere.path()).is_empty());
    std::fs::remove_file(ws.file("manifests")).unwrap();
    // A dangling symlink where a file goes counts as a file in the way.
    std::os::unix::fs::symlink(elsewhere.path().join("spec"), ws.file("meshmon.toml")).unwrap();
    let out = ws.expect(&["init"], 1);
    assert!(out.stderr.contains("meshmon.toml"), "{}", out.stderr);
    assert!(!elsewhere.path().join("spec").exists());
    assert!(!ws.file("manifests").exists());
}

/// The names `init --example` accepts, from its usage error.
fn example_names(ws: &Workspace) -> Vec<String> {
    let out = ws.run(&["init", "--example", "nope"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let list = out
        .stderr
        .split("[possible values: ")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or_else(|| panic!("no possible values in {}", out.stderr));
    list.split(", ").map(str::to_string).collect()
}

/// Every example validates where `init` wrote it, and plans there with no
/// AWS account — except one that looks up what exists already
/// (`existing-cluster` and `fleet` read their clusters while planning):
/// their plan fails on those look-ups alone, and says why.
#[test]
fn every_example_init_offers_plans_offline_from_the_written_directory() {
    let ws = Workspace::new("");
    let names = example_names(&ws);
    for expected in ["recipe", "builtin", "existing-cluster", "fleet"] {
        assert!(names.contains(&expected.to_string()), "{names:?}");
    }
    for name in &names {
        ws.expect(&["init", "--example", name, name], 0);
        ws.expect(&["-C", name, "validate"], 0);
        let spec = std::fs::read_to_string(ws.file(name).join("meshmon.toml")).unwrap();
        if !spec.contains("\n[data.") {
            let out = ws.expect(&["-C", name, "plan"], 0);
            assert!(out.stdout.contains("Plan: "), "{name}: {}", out.stdout);
            continue;
        }
        // Credentials that AWS would refuse, sent nowhere: the look-up
        // fails the same way on every machine, without the network.
        let out = ws
            .cmd()
            .args(["-C", name, "plan"])
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "unused")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_MAX_ATTEMPTS", "1")
            .output()
            .expect("run meshmon");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains("data.aws_eks_cluster.this: look-up failed"),
            "{name}: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("will be created"),
            "{name}: {stderr}"
        );
        assert!(
            !ws.file(name).join("state").exists(),
            "{name}: a state was written"
        );
    }
}
