//! Full-stack benchmark: `examples/istio.toml` applied from nothing by the
//! optimized `meshmon` binary against the emulated AWS of the Istio
//! end-to-end tests (tests/istio_e2e.rs): moto behind the EKS and AMP
//! doubles, the Kubernetes test API server, the AMG and Grafana test
//! servers and the fake helm. The doubles' creates take the real services'
//! typical times scaled down 100× (see [`DELAYS`]).
//!
//! Before the apply each emulator answers one request of each service the
//! apply uses, so that what they do on their first request (moto builds
//! the service's backend: over a second for EC2) stays out of its time.
//!
//! It prints the critical path — the longest path through the dependency
//! graph meshmon reports (`meshmon graph`), each resource weighted by its
//! double's create delay and every other resource by nothing — the
//! apply's wall time and their ratio (target ≤ 1.1), and when each
//! resource on the path started and finished. Then a re-plan must say
//! "No changes." and a destroy must leave nothing in the state. Slow
//! figures never fail the run; wrong behaviour does.
//!
//! Needs moto: `MESHMON_MOTO_SERVER`, else `.venv/bin/moto_server` (which
//! `scripts/test` installs). Run with `cargo bench --bench stack`;
//! `-- --runs N` repeats it on fresh emulators. cargo builds a benchmark
//! without the support crate's binaries, so this program is the fake helm
//! too: meshmon runs it as helm (`MESHMON_HELM`), and with
//! `FAKE_HELM_DIR` set it runs tests/support/src/bin/fake-helm.rs.

#[path = "../tests/support/src/bin/fake-helm.rs"]
mod fake_helm;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use meshmon_test_support::cli::Cli;
use meshmon_test_support::emulated::{Delays, EmulatedAws, on_examples};
use meshmon_test_support::kube_api::{Auth, FakeHelm, KubeApi, Options};
use meshmon_test_support::moto::{Moto, REGION, sdk_config_for};
use meshmon_test_support::{amp, ec2, eks, iam, sns};

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const SPEC: &str = "istio.toml";
const CLUSTER: &str = "AMP-EKS-CLUSTER";
const TARGET: f64 = 1.1;

/// The doubles' create delays: typical creation times on AWS, in round
/// figures, scaled down 100×. EKS cluster 10 min, managed node group
/// 4 min, AMG workspace 5 min, AMP managed collector 15 min. These are
/// this benchmark's assumptions, in line with what the providers document
/// (providers/aws/src/eks.rs: a control plane takes 10-15 minutes;
/// providers/grafana/src/amg.rs: AMG creates a workspace in a few minutes;
/// providers/aws/src/amp_scraper.rs: a collector takes about 20 minutes,
/// so 15 is on the short side). Keyed by resource type, as the critical
/// path weighs them.
const DELAYS: [(&str, Duration); 4] = [
    ("aws_eks_cluster", Duration::from_millis(6_000)),
    ("aws_eks_node_group", Duration::from_millis(2_400)),
    ("aws_grafana_workspace", Duration::from_millis(3_000)),
    ("aws_amp_scraper", Duration::from_millis(9_000)),
];

/// Every other transition of the doubles (updates, deletions), as in the
/// end-to-end tests.
const SETTLE: Duration = Duration::from_millis(300);

fn delay(kind: &str) -> Duration {
    DELAYS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, d)| *d)
        .unwrap_or_default()
}

/// An address's resource type: `TYPE.NAME` or `TYPE.NAME["key"]`.
fn kind(address: &str) -> &str {
    address.split('.').next().unwrap_or(address)
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

/// Has moto, and the doubles in front of it, do what they do on their
/// first request to a service: moto builds the service's backend (EC2's
/// takes over a second: it loads its AMIs and instance types), the checks
/// against the AWS API models load the service's model, and the doubles
/// ask moto's STS whose access key signs. Costs of the emulation with no
/// counterpart at AWS, kept out of the apply's time.
fn warm(aws: &EmulatedAws) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let moto = aws.moto.sdk_config().await;
        let (eks_double, amp_double) = (
            sdk_config_for(&aws.eks.endpoint()).await,
            sdk_config_for(&aws.amp.endpoint()).await,
        );
        ec2::Client::new(&moto)
            .describe_vpcs()
            .send()
            .await
            .expect("moto's EC2");
        iam::Client::new(&moto)
            .list_roles()
            .send()
            .await
            .expect("moto's IAM");
        sns::Client::new(&moto)
            .list_topics()
            .send()
            .await
            .expect("moto's SNS");
        amp::Client::new(&moto)
            .list_workspaces()
            .send()
            .await
            .expect("moto's AMP");
        eks::Client::new(&moto)
            .list_clusters()
            .send()
            .await
            .expect("moto's EKS");
        eks::Client::new(&eks_double)
            .list_clusters()
            .send()
            .await
            .expect("the EKS double");
        amp::Client::new(&amp_double)
            .list_scrapers()
            .send()
            .await
            .expect("the AMP double");
    });
}

/// The emulators, linked as the Istio end-to-end tests link them, and the
/// CLI on a copy of `examples/`.
struct Stack {
    aws: EmulatedAws,
    _api: KubeApi,
    _helm: FakeHelm,
    cli: Cli,
}

impl Stack {
    fn start() -> Stack {
        let aws = EmulatedAws::start_with(
            Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")]),
            Delays {
                settle: SETTLE,
                cluster_create: delay("aws_eks_cluster"),
                node_group_create: delay("aws_eks_node_group"),
                scraper_create: delay("aws_amp_scraper"),
                workspace: Some(delay("aws_grafana_workspace")),
            },
        );
        let helm = FakeHelm::run_as(std::env::current_exe().expect("this program's path"));
        let mut env = aws.env();
        env.extend(helm.env());
        let cli = on_examples(BIN, env);
        let api = KubeApi::start(
            Auth::Eks {
                region: REGION.into(),
                cluster: CLUSTER.into(),
            },
            Options::realistic(),
        );
        aws.amp.link_cluster(api.reviewer());
        aws.eks.serve_new_clusters_from(&api);
        warm(&aws);
        Stack {
            aws,
            _api: api,
            _helm: helm,
            cli,
        }
    }

    /// `args` on the spec, with its Region.
    fn args<'a>(args: &[&'a str], region: &'a str) -> Vec<&'a str> {
        let mut a = args.to_vec();
        a.extend(["-f", SPEC, "--var", region]);
        a
    }

    fn run(&self, args: &[&str], code: i32) -> String {
        let region = format!("region={REGION}");
        self.cli.expect(&Self::args(args, &region), code).stdout
    }

    /// The addresses in the state.
    fn state_list(&self) -> Vec<String> {
        let out = self.cli.expect(&["state", "list", "-f", SPEC], 0).stdout;
        out.lines().map(str::to_string).collect()
    }

    /// Runs apply, timing it and each line it prints.
    fn apply(&self) -> (Duration, Vec<(Duration, String)>) {
        let region = format!("region={REGION}");
        let args = Self::args(&["apply", "--auto-approve"], &region);
        let started = Instant::now();
        let mut child = self
            .cli
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run meshmon");
        let stderr = child.stderr.take().expect("stderr");
        let errors = std::thread::spawn(move || std::io::read_to_string(stderr));
        let mut lines = Vec::new();
        for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
            lines.push((started.elapsed(), line.expect("meshmon's output")));
        }
        let status = child.wait().expect("meshmon ran");
        let took = started.elapsed();
        let errors = errors.join().expect("stderr reader").unwrap_or_default();
        if !status.success() {
            let out: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
            panic!(
                "meshmon apply exited {status}\n--- stdout\n{}\n--- stderr\n{errors}",
                out.join("\n")
            );
        }
        (took, lines)
    }
}

/// The dependency graph meshmon reports (`graph`, DOT): every resource
/// and the resources it needs.
fn graph(stack: &Stack) -> BTreeMap<String, Vec<String>> {
    let dot = stack.run(&["graph", "--format", "dot"], 0);
    // Quoted DOT IDs, `\"` and `\\` escaped.
    let id = |s: &str| {
        let s = s.trim().trim_end_matches(';').trim();
        let s = s.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
        s.map(|s| s.replace("\\\"", "\"").replace("\\\\", "\\"))
    };
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in dot.lines() {
        match line.split_once(" -> ") {
            Some((from, to)) => {
                let (Some(from), Some(to)) = (id(from), id(to)) else {
                    panic!("an edge meshmon graph printed is not two quoted IDs: {line}");
                };
                deps.entry(from).or_default().push(to);
            }
            None => {
                if let Some(node) = id(line) {
                    deps.entry(node).or_default();
                }
            }
        }
    }
    assert!(
        !deps.is_empty(),
        "meshmon graph printed no resources:\n{dot}"
    );
    deps
}

/// The heaviest path through `deps` (each resource weighing its create
/// delay), from the first resource made to the last; among paths of the
/// same weight, the one with most resources.
fn critical_path(deps: &BTreeMap<String, Vec<String>>) -> (Duration, Vec<String>) {
    /// (weight, resources) of the heaviest path ending at `node`, and the
    /// dependency it comes through.
    fn longest(
        node: &str,
        deps: &BTreeMap<String, Vec<String>>,
        memo: &mut BTreeMap<String, ((Duration, usize), Option<String>)>,
        visiting: &mut Vec<String>,
    ) -> (Duration, usize) {
        if let Some((w, _)) = memo.get(node) {
            return *w;
        }
        assert!(
            !visiting.iter().any(|v| v == node),
            "the graph has a cycle through {node}"
        );
        visiting.push(node.to_string());
        let mut best = ((Duration::ZERO, 0), None);
        for dep in deps.get(node).into_iter().flatten() {
            let w = longest(dep, deps, memo, visiting);
            if w > best.0 {
                best = (w, Some(dep.clone()));
            }
        }
        visiting.pop();
        let ((w, n), via) = best;
        let here = (w + delay(kind(node)), n + 1);
        memo.insert(node.to_string(), (here, via));
        here
    }
    let mut memo = BTreeMap::new();
    let mut end = None;
    let mut best = (Duration::ZERO, 0);
    for node in deps.keys() {
        let w = longest(node, deps, &mut memo, &mut Vec::new());
        if end.is_none() || w > best {
            best = w;
            end = Some(node.clone());
        }
    }
    let mut path = Vec::new();
    let mut at = end;
    while let Some(node) = at {
        at = memo[&node].1.clone();
        path.push(node);
    }
    path.reverse();
    (best.0, path)
}

/// When `address`'s create started and finished in the apply's output.
fn span(lines: &[(Duration, String)], address: &str) -> (Option<Duration>, Option<Duration>) {
    let at = |suffix: &str| {
        lines
            .iter()
            .find(|(_, l)| {
                l.strip_prefix(address)
                    .and_then(|rest| rest.strip_prefix(": "))
                    .is_some_and(|rest| rest.starts_with(suffix))
            })
            .map(|(t, _)| *t)
    };
    (at("Creating..."), at("Creation complete"))
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| d.as_millis().to_string())
        .unwrap_or_else(|| "-".into())
}

/// One apply from nothing, a clean re-plan and a destroy: (critical path,
/// apply, destroy).
fn run(first: bool) -> (Duration, Duration, Duration) {
    let stack = Stack::start();
    let (path_len, path) = critical_path(&graph(&stack));
    let (apply, lines) = stack.apply();
    let declared = std::fs::read_to_string(stack.cli.path().join(SPEC))
        .expect("spec")
        .lines()
        .filter(|l| l.starts_with("[resources."))
        .count();
    let recorded = stack.state_list();
    assert_eq!(
        recorded.len(),
        declared,
        "apply left resources out of the state: {recorded:?}"
    );
    let plan = stack.run(&["plan"], 0);
    assert!(
        plan.contains("No changes."),
        "the re-plan after apply is not clean:\n{plan}"
    );
    if first {
        println!(
            "Critical path ({} resources, {} ms):\n",
            path.len(),
            path_len.as_millis()
        );
        println!("| resource | create delay ms | started ms | finished ms |");
        println!("|---|---:|---:|---:|");
        for address in &path {
            let (start, end) = span(&lines, address);
            println!(
                "| {address} | {} | {} | {} |",
                delay(kind(address)).as_millis(),
                ms(start),
                ms(end)
            );
        }
        println!();
    }
    let started = Instant::now();
    stack.run(&["destroy", "--auto-approve"], 0);
    let destroy = started.elapsed();
    let left = stack.state_list();
    assert!(left.is_empty(), "destroy left {left:?}");
    let clusters = stack.aws.eks.cluster_names();
    assert!(clusters.is_empty(), "destroy left clusters {clusters:?}");
    (path_len, apply, destroy)
}

fn main() -> ExitCode {
    // meshmon running this program as helm.
    if std::env::var_os("FAKE_HELM_DIR").is_some() {
        return fake_helm::main();
    }
    find_moto();
    let mut runs = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n: &usize| *n > 0)
                    .unwrap_or_else(|| panic!("--runs takes a positive number"));
            }
            "--bench" => {}
            other => panic!("unknown argument {other}: use --runs N"),
        }
    }
    let mut rows = Vec::new();
    for i in 0..runs {
        rows.push(run(i == 0));
    }
    println!(
        "| run | critical path ms | apply wall ms | ratio (target ≤ {TARGET}) | destroy wall ms |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for (i, (path, apply, destroy)) in rows.iter().enumerate() {
        println!(
            "| {} | {} | {} | {:.2} | {} |",
            i + 1,
            path.as_millis(),
            apply.as_millis(),
            apply.as_secs_f64() / path.as_secs_f64(),
            destroy.as_millis()
        );
    }
    ExitCode::SUCCESS
}
