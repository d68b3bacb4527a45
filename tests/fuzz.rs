//! Property tests of the readers that take hostile input: the spec loader,
//! and the state and journal reader. Whatever the bytes, they return a
//! spec or diagnostics, a state or an error: no panic, no hang, and memory
//! bounded by the input. Inputs mix random text with TOML and JSON built
//! from the real vocabulary, then cut and corrupted, so the cases reach far
//! past the first syntax error.
//!
//! Each case must also finish within [`CASE_TIME`] and allocate at most
//! [`CASE_MEMORY`] more than it started with (a counting allocator watches
//! the live bytes); a state that loads must be one every later step can
//! trust: every address parses again, every record has its address's type.
//!
//! `MESHMON_FUZZ_CASES` raises the number of cases (default 1500 each).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use meshmon::registry::Registry;
use meshmon::spec::VarInputs;
use meshmon::state::LocalStore;
use meshmon::validate::load_text;
use proptest::prelude::*;

/// The longest one case may take: far above what any input of these sizes
/// needs, far below a hang.
const CASE_TIME: Duration = Duration::from_secs(5);

/// The most one case may allocate beyond what was live when it started: the
/// inputs are at most a few kilobytes.
const CASE_MEMORY: usize = 64 * 1024 * 1024;

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs one case and says how long it took and how much more memory it
/// held at its peak than at its start.
fn measured<T>(case: impl FnOnce() -> T) -> (T, Duration, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let began = Instant::now();
    let out = case();
    let took = began.elapsed();
    (
        out,
        took,
        PEAK.load(Ordering::Relaxed).saturating_sub(start),
    )
}

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
    "data",
    "for_each",
    "provider",
    "components",
    "source",
    "assume_role",
    "c",
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
    "\"${each.key}\"",
    "\"${each.value.a}\"",
    "\"${null_resource.a[\\\"k\\\"].id}\"",
    "\"${null_resource.a[each.key].id}\"",
    "\"${data.local_file.a.content}\"",
    "\"${component.c.o}\"",
    "\"${component.c[\\\"k\\\"].o}\"",
    "[\"a\", \"b\", \"a\"]",
    "\"aws.x\"",
    "\"aws.x[each.key]\"",
    "\"c\"",
    "\"loop\"",
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
    // Components the cases may use: one with an output, one that uses
    // itself.
    for (name, text) in [
        (
            "c",
            "[variables.x]\ndefault = \"d\"\n[resources.null_resource.r]\ntriggers = { x = \"${var.x}\" }\n[outputs.o]\nvalue = \"${null_resource.r.id}\"\n",
        ),
        ("loop", "[components.again]\nsource = \".\"\n"),
    ] {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("component.toml"), text).unwrap();
    }
    let registry = Registry::standard();
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(text in spec_text())| {
        let ((), took, grew) = measured(|| load_spec(text, dir.path(), &registry));
        prop_assert!(took < CASE_TIME, "one spec took {took:?}");
        prop_assert!(grew < CASE_MEMORY, "one spec took {grew} bytes");
    });
}

const LINEAGE: &str = "00000000-0000-0000-0000-000000000001";

/// A state file, and variants a hand edit makes: an address with a NUL
/// byte, a key twice, a record under another type, a bad deposed key.
fn state_json(serial: u64, edit: u8) -> String {
    let text = state_doc(serial).to_string();
    let record =
        "{\"type\":\"null_resource\",\"provider\":\"builtin\",\"inputs\":{},\"outputs\":{}}";
    match edit {
        1 => text.replacen(
            "\"resources\":{",
            &format!("\"resources\":{{\"null_resource.b\\u0000\":{record},"),
            1,
        ),
        2 => text.replacen(
            "\"resources\":{",
            &format!("\"resources\":{{\"null_resource.a\":{record},"),
            1,
        ),
        3 => text.replacen("\"type\":\"null_resource\"", "\"type\":\"local_file\"", 1),
        4 => text.replacen(
            "\"outputs\":{\"o\"",
            &format!("\"deposed\":{{\"bad key!\":{{\"address\":\"null_resource.a\",\"resource\":{record}}}}},\"outputs\":{{\"o\""),
            1,
        ),
        _ => text,
    }
}

fn state_doc(serial: u64) -> serde_json::Value {
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
        // Addresses the reader must refuse, and records under another type.
        prop_oneof![Just("\\u0000"), Just("\\n"), Just("[0]"), Just("[\\\"k\\\"]"), Just("..")]
            .prop_map(|bad| format!(
                "{{\"op\":\"set\",\"address\":\"null_resource.a{bad}\",\"resource\":{{\"type\":\"null_resource\",\"provider\":\"builtin\",\"inputs\":{{}},\"outputs\":{{}}}}}}"
            )),
        Just("{\"op\":\"set\",\"address\":\"null_resource.t\",\"resource\":{\"type\":\"local_file\",\"provider\":\"builtin\",\"inputs\":{},\"outputs\":{}}}".to_string()),
        "[a-z0-9]{0,70}".prop_map(|k| format!(
            "{{\"op\":\"deleting\",\"address\":\"null_resource.a\",\"key\":\"{k}\"}}"
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
        edit in 0u8..5,
        serial in prop_oneof![Just(3u64), Just(u64::MAX), any::<u64>()],
        lines in journal_lines(),
        at in any::<usize>(),
        b in any::<u8>(),
        cut in any::<bool>(),
        raw in prop::collection::vec(any::<u8>(), 0..200),
        forget in prop::collection::vec(prop_oneof![
            Just("null_resource.a".to_string()),
            Just("null_resource.b\\u{0}".to_string()),
            "[ -~]{0,12}",
        ], 0..3),
    )| {
        match state_kind {
            0 => { let _ = std::fs::remove_file(&path); }
            1 => std::fs::write(&path, state_json(serial, edit)).unwrap(),
            2 => std::fs::write(&path, damaged(state_json(serial, edit), at, b, cut)).unwrap(),
            _ => std::fs::write(&path, &raw).unwrap(),
        }
        let text = lines.join("\n");
        if at % 3 == 0 {
            std::fs::write(&journal, damaged(text, at / 3, b, cut)).unwrap();
        } else {
            std::fs::write(&journal, text).unwrap();
        }
        let store = LocalStore::new(&path);
        let (loaded, took, grew) = measured(|| store.load());
        prop_assert!(took < CASE_TIME, "one load took {took:?}");
        prop_assert!(grew < CASE_MEMORY, "one load took {grew} bytes");
        if let Ok(loaded) = loaded {
            trusted(&loaded.state)?;
        }
        // What `state rm` reads: whatever it is asked to drop.
        let (loaded, took, _) = measured(|| store.load_forgetting(&forget));
        prop_assert!(took < CASE_TIME, "one load took {took:?}");
        if let Ok(loaded) = loaded {
            trusted(&loaded.state)?;
        }
    });
}

/// What every later step relies on in a state that loaded.
fn trusted(state: &meshmon::state::State) -> Result<(), TestCaseError> {
    prop_assert!(
        state.mismatched_type().is_none(),
        "{:?}",
        state.mismatched_type()
    );
    let addresses = state
        .resources
        .keys()
        .chain(state.pending.keys())
        .chain(state.deposed.values().map(|d| &d.address));
    for a in addresses {
        let text = a.to_string();
        prop_assert!(!text.contains('\0'), "{text:?}");
        prop_assert_eq!(&meshmon::addr::Address::parse(&text).unwrap(), a);
    }
    // Whatever loaded is written back in a form that loads again: the
    // write checks nesting only, and relies on this for the rest.
    let json = meshmon::state::to_checked_json(state, "fuzz")
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let again = serde_json::from_slice::<meshmon::state::State>(&json);
    prop_assert!(again.is_ok(), "{:?}", again.err());
    Ok(())
}
