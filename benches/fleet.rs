//! Fleet-scale AWS benchmark: the optimized `meshmon` binary against moto
//! through the fault proxy, with 150 resources (IAM roles, SNS topics, AMP
//! workspaces in equal parts).
//!
//! 1. Latency: every answer 100 ms late. `drift` is timed against the
//!    latency-bound limit, the most sequential calls one resource's read
//!    makes × 100 ms (measured here, per type, by refreshing one resource
//!    of each type alone and counting its calls at the proxy).
//! 2. Throttling: no added latency, but the proxy forwards at most 20
//!    calls a second and throttles the rest, as a service's per-account
//!    rate does. `apply`, `plan`, `drift` and `destroy` must succeed with
//!    no false change or drift; each is timed against its forwarded calls
//!    ÷ 20 per second.
//!
//! Needs moto: `MESHMON_MOTO_SERVER`, else `.venv/bin/moto_server` (which
//! `scripts/test` installs). Run with `cargo bench --bench fleet`;
//! `-- --count N` changes the number of resources (a multiple of 3).
//! Slow figures never fail the run; wrong behaviour does.

use std::time::{Duration, Instant};

use meshmon_test_support::cli::Cli;
use meshmon_test_support::fault_proxy::{FaultPlan, FaultProxy};
use meshmon_test_support::moto::Moto;

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const LATENCY: Duration = Duration::from_millis(100);
const RATE: usize = 20;
const KINDS: [&str; 3] = ["aws_iam_role", "aws_sns_topic", "aws_amp_workspace"];

fn block(kind: &str, i: usize) -> String {
    match kind {
        "aws_iam_role" => format!(
            "[resources.aws_iam_role.r{i}]\nname = \"fleet-{i}\"\nassume_role_policy = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Principal = {{ Service = \"eks.amazonaws.com\" }}, Action = \"sts:AssumeRole\" }}] }}\n\n"
        ),
        "aws_sns_topic" => format!("[resources.aws_sns_topic.t{i}]\nname = \"fleet-{i}\"\n\n"),
        _ => format!("[resources.aws_amp_workspace.w{i}]\nalias = \"fleet-{i}\"\n\n"),
    }
}

/// `count` resources, a third of each kind.
fn spec(count: usize) -> String {
    (0..count).map(|i| block(KINDS[i % 3], i)).collect()
}

/// Points `MESHMON_MOTO_SERVER` at the test virtualenv's moto unless it
/// is set.
fn find_moto() {
    if std::env::var_os("MESHMON_MOTO_SERVER").is_none() {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/moto_server");
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var("MESHMON_MOTO_SERVER", venv) };
    }
}

/// A CLI in a fresh directory whose AWS calls go through `proxy`.
fn cli(moto: &Moto, proxy: &FaultProxy) -> Cli {
    let mut c = Cli::new(BIN, moto.env());
    c.set_env("AWS_ENDPOINT_URL", &proxy.endpoint());
    c
}

/// Runs `args`, which must exit with `code`, and returns how long it took.
fn timed(c: &Cli, args: &[&str], code: i32) -> (Duration, String) {
    let started = Instant::now();
    let out = c.expect(args, code);
    (started.elapsed(), out.stdout)
}

/// Calls forwarded to moto so far (requests that were not throttled).
fn forwarded(proxy: &FaultProxy) -> u64 {
    let i = proxy.injected();
    i.requests - i.faults()
}

fn latency(count: usize) {
    // One resource of each type refreshed alone, with and without the
    // latency: the difference in whole round trips is the sequential depth
    // of its read (calls it makes one after another, whatever else it
    // sends alongside).
    let mut depth = 0u32;
    for kind in KINDS {
        let moto = Moto::start();
        let proxy = FaultProxy::start(&moto.endpoint(), FaultPlan { rate: 0.0, seed: 1 });
        let c = cli(&moto, &proxy);
        c.spec(&block(kind, 0));
        c.expect(&["apply", "--auto-approve"], 0);
        let before = proxy.injected().requests;
        let (bare, _) = best_of(3, || timed(&c, &["drift"], 0));
        let calls = (proxy.injected().requests - before) / 3;
        proxy.set_latency(LATENCY);
        let (late, _) = best_of(3, || timed(&c, &["drift"], 0));
        let rounds =
            (late.saturating_sub(bare).as_secs_f64() / LATENCY.as_secs_f64()).round() as u32;
        println!("  {kind}: {calls} call(s) to refresh one, {rounds} in sequence");
        depth = depth.max(rounds.max(1));
    }
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint(), FaultPlan { rate: 0.0, seed: 1 });
    let c = cli(&moto, &proxy);
    c.spec(&spec(count));
    let (apply, _) = timed(&c, &["apply", "--auto-approve"], 0);
    let (bare, _) = best_of(3, || timed(&c, &["drift"], 0));
    proxy.set_latency(LATENCY);
    let before = proxy.injected().requests;
    let (drift, _) = timed(&c, &["drift"], 0);
    let calls = proxy.injected().requests - before;
    let (narrow, _) = timed(&c, &["drift", "--parallelism", "10"], 0);
    let bound = LATENCY * depth;
    println!();
    println!(
        "| measure ({count} resources, {} ms per answer) | value |",
        LATENCY.as_millis()
    );
    println!("|---|---:|");
    println!("| apply without latency | {} ms |", apply.as_millis());
    println!("| drift without latency | {} ms |", bare.as_millis());
    println!("| drift calls | {calls} |");
    println!(
        "| latency-bound limit ({depth} sequential call(s) × 100 ms) | {} ms |",
        bound.as_millis()
    );
    for (what, took) in [("drift", drift), ("drift --parallelism 10", narrow)] {
        println!("| {what} wall time | {} ms |", took.as_millis());
        println!(
            "| {what}: ratio to the limit (target ≤ 1.2) | {:.2} |",
            took.as_secs_f64() / bound.as_secs_f64()
        );
    }
    println!(
        "| drift: ratio to the limit plus drift without latency | {:.2} |",
        drift.as_secs_f64() / (bound + bare).as_secs_f64()
    );
    c.expect(&["destroy", "--auto-approve"], 0);
}

/// The fastest of `n` runs of `run`.
fn best_of(n: usize, mut run: impl FnMut() -> (Duration, String)) -> (Duration, String) {
    (0..n)
        .map(|_| run())
        .min_by_key(|(d, _)| *d)
        .expect("at least one run")
}

fn throttling(count: usize) {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint(), FaultPlan { rate: 0.0, seed: 1 });
    proxy.set_rate_limit(Some(RATE));
    let c = cli(&moto, &proxy);
    c.spec(&spec(count));
    println!();
    println!(
        "| phase ({count} resources, {RATE} calls/s) | calls | throttled | wall ms | calls ÷ {RATE}/s ms | ratio (target ≤ 1.3) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let phases: [(&str, &[&str], i32); 4] = [
        ("apply", &["apply", "--auto-approve"], 0),
        ("plan (no-op)", &["plan", "--detailed-exitcode"], 0),
        ("drift", &["drift"], 0),
        ("destroy", &["destroy", "--auto-approve"], 0),
    ];
    for (name, args, code) in phases {
        let (calls0, throttled0) = (forwarded(&proxy), proxy.injected().throttle);
        let (took, stdout) = timed(&c, args, code);
        let calls = forwarded(&proxy) - calls0;
        let throttled = proxy.injected().throttle - throttled0;
        let floor = Duration::from_secs_f64(calls as f64 / RATE as f64);
        println!(
            "| {name} | {calls} | {throttled} | {} | {} | {:.2} |",
            took.as_millis(),
            floor.as_millis(),
            took.as_secs_f64() / floor.as_secs_f64().max(0.001)
        );
        if name == "plan (no-op)" {
            assert!(
                stdout.contains("No changes."),
                "a false change under throttling:\n{stdout}"
            );
        }
    }
    let left = c.expect(&["state", "list"], 0);
    assert!(
        left.stdout.trim().is_empty(),
        "destroy left {}",
        left.stdout
    );
}

fn main() {
    find_moto();
    let mut count = 150;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => {
                count = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n: &usize| *n > 0)
                    .unwrap_or_else(|| panic!("--count takes a positive number"));
            }
            "--bench" => {}
            other => panic!("unknown argument {other}: use --count N"),
        }
    }
    println!("Refresh under latency:");
    latency(count);
    println!("\nThrottling:");
    throttling(count);
}
