//! Engine benchmark: drives the optimized `meshmon` binary through
//! plan → apply → re-plan → destroy on large generated specs, and through an
//! apply whose sleeps add up to far more than their critical path.
//!
//! It runs the real binary rather than the library so that the figures are
//! what a user sees: process start, spec loading, state writes and all.
//! Peak memory is the child's own `ru_maxrss`, read with `wait4`, because
//! `getrusage(RUSAGE_CHILDREN)` would report the largest of all children so
//! far and hide a smaller phase behind a larger earlier one.
//!
//! It then drives the same phases in-process through the library
//! (`engine::apply::apply`, `Engine::refresh_and_plan`) with the built-in
//! provider, without process start or plan rendering: the difference is
//! what the binary adds around the engine.
//!
//! It also compares a spec of 100 instances of a 30-resource component with
//! the same 3,000 resources written flat: what components cost in loading,
//! planning and applying.
//!
//! Run with `cargo bench --bench engine`; `-- --sizes 1000` for a quick run,
//! `-- --no-critical-path` to skip the sleep run, `-- --no-in-process` to
//! skip the in-process run, `-- --no-components` to skip the comparison. Slow figures never fail the run (benchmarks
//! measure); wrong behaviour does.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const DEFAULT_SIZES: &[usize] = &[1_000, 10_000];
const CHAIN_LEN: usize = 10;

/// Targets the figures are compared against (not asserted).
const APPLY_1K_TARGET: Duration = Duration::from_secs(1);
const APPLY_10K_TARGET: Duration = Duration::from_secs(10);
const PEAK_RSS_TARGET_MIB: f64 = 200.0;
const APPLY_100K_TARGET: Duration = Duration::from_secs(3);
const REPLAN_100K_TARGET: Duration = Duration::from_secs(2);
const PEAK_KIB_PER_RESOURCE_TARGET: f64 = 4.0;

/// The sleep run: chain A is three sleeps in sequence, B, C and D one each,
/// and the rest stand alone, so the critical path is chain A.
const SLEEP_MS: u64 = 400;
const CHAIN_A_LEN: usize = 3;
const LONE_CHAINS: &[&str] = &["b", "c", "d"];
const UNCHAINED: usize = 20;
const UNCHAINED_MS: u64 = 300;
const SLEEP_PARALLELISM: usize = 32;

struct Options {
    sizes: Vec<usize>,
    critical_path: bool,
    in_process: bool,
    components: bool,
}

fn usage_exit(msg: &str) -> ! {
    eprintln!("engine bench: {msg}");
    eprintln!(
        "usage: cargo bench --bench engine [-- --sizes N[,N...]] [--no-critical-path] [--no-in-process] [--no-components]"
    );
    std::process::exit(2);
}

fn parse_sizes(s: &str) -> Vec<usize> {
    s.split(',')
        .map(|n| {
            n.trim()
                .replace('_', "")
                .parse()
                .ok()
                .filter(|&n: &usize| n > 0)
                .unwrap_or_else(|| usage_exit(&format!("`{n}` is not a resource count")))
        })
        .collect()
}

fn parse_args() -> Options {
    let mut opts = Options {
        sizes: DEFAULT_SIZES.to_vec(),
        critical_path: true,
        in_process: true,
        components: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // cargo passes `--bench` to every harness-less bench target.
            "--bench" => {}
            "--sizes" => {
                let v = args
                    .next()
                    .unwrap_or_else(|| usage_exit("--sizes needs a value"));
                opts.sizes = parse_sizes(&v);
            }
            "--no-critical-path" => opts.critical_path = false,
            "--no-in-process" => opts.in_process = false,
            "--no-components" => opts.components = false,
            other => match other.strip_prefix("--sizes=") {
                Some(v) => opts.sizes = parse_sizes(v),
                None => usage_exit(&format!("unknown argument `{other}`")),
            },
        }
    }
    opts
}

/// Chains of ten `null_resource`s, each linked to the one before it, and
/// every chain but the first cross-linked from its middle to the previous
/// chain, so the graph is neither flat nor one long line.
fn null_spec(count: usize) -> String {
    let mut s = String::from("[meshmon]\nname = \"bench\"\n");
    for i in 0..count {
        let pos = i % CHAIN_LEN;
        writeln!(s, "\n[resources.null_resource.r{i}]").unwrap();
        if pos == 0 {
            writeln!(s, "inputs = {{ n = {i} }}").unwrap();
        } else {
            writeln!(
                s,
                "inputs = {{ prev = \"${{null_resource.r{}.id}}\", n = {i} }}",
                i - 1
            )
            .unwrap();
        }
        if pos == 5 && i >= CHAIN_LEN {
            writeln!(
                s,
                "triggers = {{ link = \"${{null_resource.r{}.id}}\" }}",
                i - CHAIN_LEN
            )
            .unwrap();
        }
    }
    s
}

fn sleep_spec() -> String {
    let mut s = String::from("[meshmon]\nname = \"bench-sleep\"\n");
    for i in 1..=CHAIN_A_LEN {
        writeln!(
            s,
            "\n[resources.time_sleep.a{i}]\ncreate_duration = \"{SLEEP_MS}ms\""
        )
        .unwrap();
        if i > 1 {
            writeln!(s, "depends_on = [\"time_sleep.a{}\"]", i - 1).unwrap();
        }
    }
    for name in LONE_CHAINS {
        writeln!(
            s,
            "\n[resources.time_sleep.{name}1]\ncreate_duration = \"{SLEEP_MS}ms\""
        )
        .unwrap();
    }
    for i in 1..=UNCHAINED {
        writeln!(
            s,
            "\n[resources.time_sleep.s{i}]\ncreate_duration = \"{UNCHAINED_MS}ms\""
        )
        .unwrap();
    }
    s
}

struct Measured {
    wall: Duration,
    peak_rss_kib: u64,
    stdout: String,
}

/// Reaps `pid` with `wait4` so that the rusage is that child's alone.
fn wait4(pid: libc::pid_t) -> (ExitStatus, libc::rusage) {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; both out-pointers are valid.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return (ExitStatus::from_raw(status), usage);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            panic!("wait4({pid}) failed: {err}");
        }
    }
}

/// Runs one phase in `dir`. Stdout is discarded unless `capture_stdout`;
/// stderr goes to a file that is shown if the phase fails.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which std's Child cannot see"
)]
fn run_phase(dir: &Path, phase: &str, capture_stdout: bool) -> Measured {
    let stderr_path = dir.join("phase-stderr.log");
    let stderr = File::create(&stderr_path).expect("create stderr log");
    let mut cmd = Command::new(BIN);
    cmd.args(phase.split_whitespace())
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(if capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(stderr);

    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("`meshmon {phase}`: cannot start {BIN}: {e}"));
    let mut stdout = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        // Read before reaping so a full pipe cannot block the child.
        pipe.read_to_string(&mut stdout).expect("read stdout");
    }
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    let (status, usage) = wait4(pid);
    let wall = start.elapsed();

    if !status.success() {
        let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "phase `meshmon {phase}` in {} failed with {status}\n--- stdout ---\n{stdout}\n--- stderr (last 40 lines) ---\n{}",
            dir.display(),
            tail.join("\n")
        );
    }
    Measured {
        wall,
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        stdout,
    }
}

struct Row {
    size: usize,
    phase: &'static str,
    m: Measured,
}

/// (label, arguments, is the no-op re-plan whose stdout must say "No changes")
const PHASES: &[(&str, &str, bool)] = &[
    ("plan", "plan", false),
    ("apply", "apply --auto-approve", false),
    ("re-plan (no-op)", "plan", true),
    ("destroy", "destroy --auto-approve", false),
];

fn bench_size(size: usize, rows: &mut Vec<Row>) {
    let dir = tempfile::tempdir().expect("create temp dir");
    std::fs::write(dir.path().join("meshmon.toml"), null_spec(size)).expect("write spec");
    for &(label, phase, is_replan) in PHASES {
        eprintln!("engine bench: {size} resources: {phase}");
        let m = run_phase(dir.path(), phase, is_replan);
        if is_replan && !m.stdout.contains("No changes") {
            panic!(
                "re-plan of {size} resources after apply was not a no-op; stdout was:\n{}",
                m.stdout.lines().take(60).collect::<Vec<_>>().join("\n")
            );
        }
        rows.push(Row {
            size,
            phase: label,
            m,
        });
        // Exit codes alone would not catch an apply that skipped resources
        // or a destroy that left some behind. Not timed.
        let expected = match label {
            "apply" => Some(size),
            "destroy" => Some(0),
            _ => None,
        };
        if let Some(expected) = expected {
            let listed = run_phase(dir.path(), "state list", true)
                .stdout
                .lines()
                .count();
            assert_eq!(
                listed, expected,
                "after {label} of {size} resources the state lists {listed}"
            );
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn report(rows: &[Row]) {
    println!("\n| size | phase | wall ms | peak RSS MB |");
    println!("|---:|---|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.1} |",
            r.size,
            r.phase,
            ms(r.m.wall),
            mib(r.m.peak_rss_kib)
        );
    }

    let wall = |size: usize, phase: &str| {
        rows.iter()
            .find(|r| r.size == size && r.phase == phase)
            .map(|r| r.m.wall)
    };
    let mut targets = Vec::new();
    if let Some(w) = wall(1_000, "apply") {
        targets.push(format!(
            "apply of 1,000 < 1 s: {:.0} ms ({})",
            ms(w),
            met(w < APPLY_1K_TARGET)
        ));
    }
    if let Some(w) = wall(10_000, "apply") {
        targets.push(format!(
            "apply of 10,000 < 10 s: {:.0} ms ({})",
            ms(w),
            met(w < APPLY_10K_TARGET)
        ));
    }
    let peak = |size: usize| {
        rows.iter()
            .filter(|r| r.size == size)
            .map(|r| r.m.peak_rss_kib)
            .max()
    };
    if let Some(peak) = peak(10_000) {
        let peak = mib(peak);
        targets.push(format!(
            "peak memory of 10,000 < 200 MB: {peak:.1} MB ({})",
            met(peak < PEAK_RSS_TARGET_MIB)
        ));
    }
    if let (Some(apply), Some(replan), Some(peak)) = (
        wall(100_000, "apply"),
        wall(100_000, "re-plan (no-op)"),
        peak(100_000),
    ) {
        // Kilobytes of 1,024 bytes, as `ru_maxrss` counts them.
        let per_resource = peak as f64 / 100_000.0;
        targets.push(format!(
            "apply of 100,000 <= 3 s: {:.0} ms ({}); no-op re-plan of 100,000 <= 2 s: {:.0} ms ({}); \
             peak memory of 100,000 <= 4 KB a resource: {per_resource:.2} KB ({})",
            ms(apply),
            met(apply <= APPLY_100K_TARGET),
            ms(replan),
            met(replan <= REPLAN_100K_TARGET),
            met(per_resource <= PEAK_KIB_PER_RESOURCE_TARGET)
        ));
    }
    println!("\nTargets: {}", targets.join("; "));

    // Apply time per resource at the smallest and largest sizes run: a ratio
    // near 1 means apply grows linearly with the resource count.
    let mut applied: Vec<(usize, Duration)> = rows
        .iter()
        .filter(|r| r.phase == "apply")
        .map(|r| (r.size, r.m.wall))
        .collect();
    applied.sort_by_key(|&(size, _)| size);
    if let (Some(&(small, ws)), Some(&(large, wl))) = (applied.first(), applied.last())
        && small != large
    {
        let per_small = ws.as_secs_f64() * 1e6 / small as f64;
        let per_large = wl.as_secs_f64() * 1e6 / large as f64;
        println!(
            "Apply per resource: {small}: {per_small:.1} µs; {large}: {per_large:.1} µs; \
             ratio {:.2} (1.00 = linear growth)",
            per_large / per_small
        );
    }
}

fn bench_critical_path() {
    let dir = tempfile::tempdir().expect("create temp dir");
    std::fs::write(dir.path().join("meshmon.toml"), sleep_spec()).expect("write spec");
    let phase = format!("apply --auto-approve --parallelism {SLEEP_PARALLELISM}");
    eprintln!("engine bench: time_sleep: {phase}");
    let m = run_phase(dir.path(), &phase, false);

    let critical = Duration::from_millis(SLEEP_MS * CHAIN_A_LEN as u64);
    let sum = Duration::from_millis(
        SLEEP_MS * (CHAIN_A_LEN + LONE_CHAINS.len()) as u64 + UNCHAINED_MS * UNCHAINED as u64,
    );
    let n = CHAIN_A_LEN + LONE_CHAINS.len() + UNCHAINED;
    println!("\nCritical path: {n} time_sleep, `meshmon {phase}`");
    println!("\n| measure | ms |");
    println!("|---|---:|");
    println!(
        "| critical path (sum of the longest chain) | {:.0} |",
        ms(critical)
    );
    println!("| sum of all sleeps | {:.0} |", ms(sum));
    println!("| apply wall time | {:.0} |", ms(m.wall));
    println!(
        "| overhead over critical path | {:.0} |",
        ms(m.wall.saturating_sub(critical))
    );
    println!(
        "\nApply took {:.2}× the critical path and {:.2}× the sum of sleeps; peak RSS {:.1} MB.",
        m.wall.as_secs_f64() / critical.as_secs_f64(),
        m.wall.as_secs_f64() / sum.as_secs_f64(),
        mib(m.peak_rss_kib)
    );
}

fn main() {
    let opts = parse_args();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("meshmon engine benchmark ({cpus} CPUs), binary {BIN}");

    let mut rows = Vec::new();
    for &size in &opts.sizes {
        bench_size(size, &mut rows);
    }
    if !rows.is_empty() {
        report(&rows);
    }
    // Before the in-process run: a child's peak memory counts what this
    // process held when it forked it.
    if opts.components {
        bench_components();
    }
    if opts.in_process && !opts.sizes.is_empty() {
        in_process::bench(&opts.sizes);
    }
    if opts.critical_path {
        bench_critical_path();
    }
}

/// Component instances and resources per instance in the comparison.
const INSTANCES: usize = 100;
const PER_INSTANCE: usize = 30;

/// A component of `PER_INSTANCE` resources in chains of ten, the first of
/// each chain taking the instance's input.
fn component_file() -> String {
    let mut s = String::from("[variables.n]\n");
    for i in 0..PER_INSTANCE {
        writeln!(s, "\n[resources.null_resource.r{i}]").unwrap();
        if i % CHAIN_LEN == 0 {
            writeln!(s, "inputs = {{ n = \"${{var.n}}\", i = {i} }}").unwrap();
        } else {
            writeln!(
                s,
                "inputs = {{ prev = \"${{null_resource.r{}.id}}\" }}",
                i - 1
            )
            .unwrap();
        }
    }
    s.push_str("\n[outputs.last]\nvalue = \"${null_resource.r0.id}\"\n");
    s
}

/// `INSTANCES` instances of the component, keyed, in one spec.
fn components_spec() -> String {
    let keys: Vec<String> = (0..INSTANCES).map(|i| format!("\"c{i}\"")).collect();
    format!(
        "[meshmon]\nname = \"bench\"\n\n[components.cluster]\nsource = \"components/cluster\"\nfor_each = [{}]\ninputs = {{ n = \"${{each.key}}\" }}\n",
        keys.join(", ")
    )
}

/// The same number of resources, with and without components.
fn bench_components() {
    let total = INSTANCES * PER_INSTANCE;
    println!(
        "\nComponents: {INSTANCES} instances of {PER_INSTANCE} resources vs {total} resources written flat:\n"
    );
    println!("| spec | validate ms | plan ms | apply ms | no-op re-plan ms | peak RSS MB |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, with_components) in [("flat", false), ("components", true)] {
        let dir = tempfile::tempdir().expect("create temp dir");
        if with_components {
            std::fs::create_dir_all(dir.path().join("components/cluster")).expect("mkdir");
            std::fs::write(
                dir.path().join("components/cluster/component.toml"),
                component_file(),
            )
            .expect("write component");
            std::fs::write(dir.path().join("meshmon.toml"), components_spec()).expect("write spec");
        } else {
            std::fs::write(dir.path().join("meshmon.toml"), null_spec(total)).expect("write spec");
        }
        eprintln!("engine bench: {label} {total} resources");
        let validate = run_phase(dir.path(), "validate", false);
        let plan = run_phase(dir.path(), "plan", false);
        let apply = run_phase(dir.path(), "apply --auto-approve", false);
        let replan = run_phase(dir.path(), "plan", true);
        assert!(
            replan.stdout.contains("No changes"),
            "the {label} re-plan was not a no-op"
        );
        let listed = run_phase(dir.path(), "state list", true)
            .stdout
            .lines()
            .count();
        assert_eq!(
            listed, total,
            "the {label} apply recorded {listed} resources"
        );
        let peak = [&validate, &plan, &apply, &replan]
            .iter()
            .map(|m| m.peak_rss_kib)
            .max()
            .unwrap_or(0);
        println!(
            "| {label} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} |",
            ms(validate.wall),
            ms(plan.wall),
            ms(apply.wall),
            ms(replan.wall),
            mib(peak)
        );
    }
}

/// The engine driven through the library, in this process.
mod in_process {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use meshmon::engine::Engine;
    use meshmon::engine::apply::{ApplyRequest, Outcome, Unattended, apply};
    use meshmon::plan::PlanOptions;
    use meshmon::registry::Registry;
    use meshmon::spec::VarInputs;
    use meshmon::state::{LocalStore, Store};
    use meshmon::validate::load_text;

    fn request(destroy: bool) -> ApplyRequest<'static> {
        ApplyRequest {
            options: PlanOptions {
                destroy,
                ..PlanOptions::default()
            },
            refresh: true,
            saved: None,
            lock_timeout: Duration::ZERO,
        }
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1e3
    }

    pub fn bench(sizes: &[usize]) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let registry = Arc::new(Registry::standard());
        println!("\nIn-process (library, built-in provider, no rendering):");
        println!("\n| resources | load spec | plan | apply | no-op re-plan | destroy |");
        println!("|---:|---:|---:|---:|---:|---:|");
        for &size in sizes {
            let dir = tempfile::tempdir().expect("create temp dir");
            let text = super::null_spec(size);
            let started = Instant::now();
            let (spec, _) = load_text(
                &dir.path().join("meshmon.toml"),
                text,
                dir.path(),
                &VarInputs::default(),
                &registry,
            )
            .unwrap_or_else(|d| panic!("the generated spec loads: {d:?}"));
            let load = started.elapsed();
            let engine = Engine::new(spec, registry.clone(), meshmon::engine::DEFAULT_PARALLELISM);
            let store = Store::Local(LocalStore::new(dir.path().join("state.json")));
            rt.block_on(async {
                let t = Instant::now();
                let state = store.load().await.expect("load").state;
                let plan = engine
                    .refresh_and_plan(state, PlanOptions::default(), true, &|_| {})
                    .await
                    .expect("plan");
                let planned = t.elapsed();
                assert_eq!(plan.summary().0, size, "everything is to be created");

                let t = Instant::now();
                let outcome = apply(&engine, &store, request(false), &Unattended)
                    .await
                    .expect("apply");
                let applied = t.elapsed();
                let Outcome::Applied { state, .. } = outcome else {
                    panic!("apply applied nothing");
                };
                assert_eq!(state.resources.len(), size);

                let t = Instant::now();
                let plan = engine
                    .refresh_and_plan(state, PlanOptions::default(), true, &|_| {})
                    .await
                    .expect("re-plan");
                let replanned = t.elapsed();
                assert!(!plan.has_changes(), "the re-plan is a no-op");

                let t = Instant::now();
                let outcome = apply(&engine, &store, request(true), &Unattended)
                    .await
                    .expect("destroy");
                let destroyed = t.elapsed();
                let Outcome::Applied { state, .. } = outcome else {
                    panic!("destroy destroyed nothing");
                };
                assert!(state.resources.is_empty());
                println!(
                    "| {size} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
                    ms(load),
                    ms(planned),
                    ms(applied),
                    ms(replanned),
                    ms(destroyed)
                );
            });
        }
    }
}
