//! Property tests of the readers that take hostile input: the spec loader,
//! and the state and journal reader. Whatever the bytes, they return a
//! spec or diagnostics, a state or an error: no panic, no hang, and memory
//! bounded by the input. Inputs mix random text with TOML and JSON built
//! from the real vocabulary, then cut and corrupted, so the cases reach far
//! past the first syntax error.
//!
//! `MESHMON_FUZZ_CASES` raises the number of cases (default 1500 each).

use std::path::Path;

use meshmon::registry::Registry;
use meshmon::spec::VarInputs;
use meshmon::state::LocalStore;
use meshmon::validate::load_text;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("MESHMON_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

const KEYS: &[&str] = &[
    "meshmon",
    "name",
    "state",
    "backend",
    "variables",
    "default",
    "sensitive",
    "allowed",
    "providers",
    "aws",
    "region",
    "resources",
    "null_resource",
    "time_sleep",
    "local_file",
    "aws_vpc",
    "helm_release",
    "outputs",
    "value",
    "depends_on",
    "lifecycle",
    "timeouts",
    "create",
    "ignore_changes",
    "prevent_destroy",
    "create_before_destroy",
    "path",
    "content",
    "inputs",
    "triggers",
    "create_duration",
    "file_permission",
    "cidr_block",
    "x",
];

const VALUES: &[&str] = &[
    "\"a\"",
    "1",
    "-5",
    "99999999999999999999",
    "1.5",
    "true",
    "[]",
    "{}",
    "\"${var.x}\"",
    "\"${null_resource.a.id}\"",
    "\"${\"",
    "'file(\"meshmon.toml\")'",
    "'file(\"/dev/zero\")'",
    "\"30s\"",
    "\"forever\"",
    "\"0644\"",
    "[\"null_resource.a\"]",
    "{ a = { b = [1, { c = 2 }] } }",
    "\"\"\"\nmulti\n\"\"\"",
    "\"$${x}\"",
    "\"${var.x.y.z}\"",
    "\"${a.b.c[0]}\"",
];

fn toml_line() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            prop::collection::vec(prop::sample::select(KEYS), 1..4),
            any::<bool>()
        )
            .prop_map(|(k, array)| if array {
                format!("[[{}]]", k.join("."))
            } else {
                format!("[{}]", k.join("."))
            }),
        (prop::sample::select(KEYS), prop::sample::select(VALUES))
            .prop_map(|(k, v)| format!("{k} = {v}")),
        "[ -~]{0,40}",
    ]
}

fn spec_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(toml_line(), 0..30).prop_map(|l| l.join("\n")),
        any::<String>(),
        (
            prop::collection::vec(toml_line(), 0..30),
            any::<usize>(),
            any::<u8>()
        )
            .prop_map(|(lines, at, b)| {
                let mut bytes = lines.join("\n").into_bytes();
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] = b;
                    bytes.truncate(i + (at % 7));
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }),
    ]
}

fn load_spec(text: String, dir: &Path, registry: &Registry) {
    let _ = load_text(
        &dir.join("meshmon.toml"),
        text,
        dir,
        &VarInputs::default(),
        registry,
    );
}

#[test]
fn spec_loader_never_panics_or_hangs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("meshmon.toml"), "[meshmon]\nname = \"f\"\n").unwrap();
    let registry = Registry::standard();
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(text in spec_text())| {
        load_spec(text, dir.path(), &registry);
    });
}

const LINEAGE: &str = "00000000-0000-0000-0000-000000000001";

fn state_json(serial: u64) -> String {
    serde_json::json!({
        "format_version": 1,
        "lineage": LINEAGE,
        "serial": serial,
        "meshmon_version": "0.1.0",
        "resources": {
            "null_resource.a": {
                "type": "null_resource", "provider": "builtin",
                "inputs": {"inputs": {"k": [1, {"x": "y"}]}}, "outputs": {"id": "a"},
                "dependencies": [], "status": "ready"
            }
        },
        "outputs": {"o": {"value": "v", "sensitive": true}}
    })
    .to_string()
}

fn journal_lines() -> impl Strategy<Value = Vec<String>> {
    let entry = prop_oneof![
        Just(format!(
            "{{\"op\":\"begin\",\"lineage\":\"{LINEAGE}\",\"serial\":3}}"
        )),
        "[a-z]{1,3}".prop_map(|a| format!(
            "{{\"op\":\"set\",\"address\":\"null_resource.{a}\",\"resource\":{{\"type\":\"null_resource\",\"provider\":\"builtin\",\"inputs\":{{}},\"outputs\":{{\"id\":\"{a}\"}}}}}}"
        )),
        "[a-z]{1,3}".prop_map(|a| format!(
            "{{\"op\":\"remove\",\"address\":\"null_resource.{a}\"}}"
        )),
        Just("{\"op\":\"outputs\",\"outputs\":{}}".to_string()),
        "[ -~]{0,30}",
    ];
    prop::collection::vec(entry, 0..12)
}

/// Bytes cut at a random point with one byte changed: how kills and bad
/// disks leave files.
fn damaged(text: String, at: usize, b: u8, cut: bool) -> Vec<u8> {
    let mut bytes = text.into_bytes();
    if !bytes.is_empty() {
        let i = at % bytes.len();
        bytes[i] = b;
        if cut {
            bytes.truncate(i);
        }
    }
    bytes
}

#[test]
fn state_and_journal_reader_never_panics_or_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let journal = dir.path().join("s.json.journal");
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        state_kind in 0u8..4,
        serial in prop_oneof![Just(3u64), Just(u64::MAX), any::<u64>()],
        lines in journal_lines(),
        at in any::<usize>(),
        b in any::<u8>(),
        cut in any::<bool>(),
        raw in prop::collection::vec(any::<u8>(), 0..200),
    )| {
        match state_kind {
            0 => { let _ = std::fs::remove_file(&path); }
            1 => std::fs::write(&path, state_json(serial)).unwrap(),
            2 => std::fs::write(&path, damaged(state_json(serial), at, b, cut)).unwrap(),
            _ => std::fs::write(&path, &raw).unwrap(),
        }
        let text = lines.join("\n");
        if at % 3 == 0 {
            std::fs::write(&journal, damaged(text, at / 3, b, cut)).unwrap();
        } else {
            std::fs::write(&journal, text).unwrap();
        }
        let _ = LocalStore::new(&path).load();
    });
}
