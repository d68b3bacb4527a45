//! `examples/meshmon.toml` against the emulators when things go wrong.
//!
//! - Kills: `apply` (and `destroy`) is SIGKILLed, with every process it
//!   started, at 25 seeded moments — some while the EKS cluster, the node
//!   group, the AMG workspace or the Helm release is being created, the rest
//!   at random times — and run again after each. At the end there is exactly
//!   one object per address in every emulator, the state is complete,
//!   `plan` says "No changes.", and destroy leaves nothing.
//! - Faults: with 10 % of requests to moto, the EKS double, AMG, Grafana
//!   and the Kubernetes API faulted (throttling, 5xx, resets, answers lost
//!   after the call took effect), the example applies, re-plans clean,
//!   `drift` never reports a false deletion, and destroy leaves nothing; no
//!   object is made twice.
//!
//! meshmon reaches the emulators through the environment alone, as at AWS:
//! the EKS double (in front of moto) reports the test Kubernetes API server
//! as the new cluster's endpoint and CA, and the Grafana test server serves
//! HTTPS, its test CA trusted through `SSL_CERT_FILE`.
//!
//! Each test prints what it did (kills, faults injected, objects adopted)
//! and how long it took. Needs moto (MESHMON_MOTO_SERVER) and the fake helm.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::cli::{Cli, Output, copy_dir};
use meshmon_test_support::eks_double::EksDouble;
use meshmon_test_support::fault_proxy::{FaultCounts, FaultPlan, FaultProxy};
use meshmon_test_support::grafana::GrafanaServer;
use meshmon_test_support::kube_api::{Auth, FakeHelm, KubeApi, Options, app_mesh_crds};
use meshmon_test_support::moto::{Moto, REGION, sdk_config_for};
use meshmon_test_support::{amp, ec2, eks, iam, sns};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const CLUSTER: &str = "AMP-EKS-CLUSTER";

/// splitmix64: the kill moments and fault seeds, repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The emulated world of the example, optionally behind fault proxies.
struct Env {
    moto: Moto,
    eks: EksDouble,
    api: KubeApi,
    pre_created: Vec<String>,
    helm: FakeHelm,
    amg: AmgServer,
    grafana: GrafanaServer,
    proxies: Vec<FaultProxy>,
    cli: Cli,
    vars: Vec<String>,
    rt: tokio::runtime::Runtime,
}

impl Env {
    /// `slow_eks`: clusters and node groups take seconds to become ACTIVE.
    fn start(faults: Option<FaultPlan>, slow_eks: bool) -> Env {
        let moto = Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")]);
        let api = KubeApi::start(
            Auth::Eks {
                region: REGION.into(),
                cluster: CLUSTER.into(),
            },
            Options::realistic(),
        );
        for crd in app_mesh_crds() {
            api.create(crd);
        }
        let pre_created = api.names();
        let helm = FakeHelm::new();
        let amg = AmgServer::start();
        let grafana = GrafanaServer::start("unused-admin-token");
        amg.link(&grafana);
        let mut env = moto.env();
        let mut proxies = Vec::new();
        // Clusters in the EKS double, which reports the API server as the
        // new cluster's endpoint and CA; node groups go on to moto. Slow:
        // clusters take seconds to become ACTIVE.
        let settle = match slow_eks {
            true => Duration::from_secs(3),
            false => Duration::ZERO,
        };
        let eks = EksDouble::forwarding(settle, &moto.endpoint());
        eks.serve_new_clusters_from(&api);
        env.push(("AWS_ENDPOINT_URL_EKS".into(), eks.endpoint()));
        env.extend(amg.env());
        env.extend(grafana.env());
        if let Some(plan) = faults {
            let seeded = |n: u64| FaultPlan {
                rate: plan.rate,
                seed: plan.seed.wrapping_add(n),
            };
            let aws = FaultProxy::start(&moto.endpoint(), seeded(1));
            let control = FaultProxy::start(&amg.endpoint(), seeded(2));
            // The Grafana and Kubernetes test servers serve HTTPS, which a
            // proxy cannot sit in front of: they draw their own faults.
            grafana.inject_faults(seeded(3));
            api.inject_faults(seeded(4));
            let clusters = FaultProxy::start(&eks.endpoint(), seeded(5));
            env.retain(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "AWS_ENDPOINT_URL" | "AWS_ENDPOINT_URL_GRAFANA" | "AWS_ENDPOINT_URL_EKS"
                )
            });
            env.push(("AWS_ENDPOINT_URL".into(), aws.endpoint()));
            env.push(("AWS_ENDPOINT_URL_GRAFANA".into(), control.endpoint()));
            env.push(("AWS_ENDPOINT_URL_EKS".into(), clusters.endpoint()));
            proxies.extend([aws, control, clusters]);
        }
        env.extend(helm.env());
        let cli = Cli::new(BIN, env);
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
            cli.path(),
        );
        let vars = vec![format!("region={REGION}")];
        Env {
            moto,
            eks,
            api,
            pre_created,
            helm,
            amg,
            grafana,
            proxies,
            cli,
            vars,
            rt: tokio::runtime::Runtime::new().expect("runtime"),
        }
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v: Vec<&str> = args.to_vec();
        for var in &self.vars {
            v.push("--var");
            v.push(var);
        }
        v
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cli.run(&self.args(args))
    }

    fn expect(&self, args: &[&str], code: i32) -> Output {
        self.cli.expect(&self.args(args), code)
    }

    fn state(&self) -> Value {
        let dir = self.cli.path().join("state");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Value::Null;
        };
        let file = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "json"));
        match file {
            Some(f) => serde_json::from_str(&std::fs::read_to_string(f).expect("state"))
                .expect("state is JSON"),
            None => Value::Null,
        }
    }

    /// Resources in the state, counted by type.
    fn recorded(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        if let Some(resources) = self.state()["resources"].as_object() {
            for r in resources.values() {
                let ty = r["type"].as_str().unwrap_or_default().to_string();
                *out.entry(ty).or_default() += 1;
            }
        }
        out
    }

    fn faults(&self) -> FaultCounts {
        let mut total = self.api.faults_injected();
        let servers = [self.grafana.faults_injected()];
        let proxies = self.proxies.iter().map(FaultProxy::injected);
        for c in servers.into_iter().chain(proxies) {
            total.requests += c.requests;
            total.throttle += c.throttle;
            total.server_error += c.server_error;
            total.reset += c.reset;
            total.lost_response += c.lost_response;
            total.late_error += c.late_error;
        }
        total
    }

    /// The objects in every emulator, counted by the resource type that
    /// makes them (read around the fault proxies).
    fn census(&self) -> BTreeMap<String, usize> {
        let mut out: BTreeMap<String, usize> = BTreeMap::new();
        let mut put = |ty: &str, n: usize| {
            if n > 0 {
                *out.entry(ty.to_string()).or_default() += n;
            }
        };
        let sdk = self.rt.block_on(self.moto.sdk_config());
        let eks_sdk = self.rt.block_on(sdk_config_for(&self.eks.endpoint()));
        let (ec2_c, iam_c, eks_c, amp_c, sns_c) = (
            ec2::Client::new(&sdk),
            iam::Client::new(&sdk),
            eks::Client::new(&eks_sdk),
            amp::Client::new(&sdk),
            sns::Client::new(&sdk),
        );
        self.rt.block_on(async {
            let vpcs = ec2_c.describe_vpcs().send().await.expect("vpcs");
            let ours: Vec<String> = vpcs
                .vpcs()
                .iter()
                .filter(|v| v.is_default() != Some(true))
                .filter_map(|v| v.vpc_id().map(str::to_string))
                .collect();
            put("aws_vpc", ours.len());
            let subnets = ec2_c.describe_subnets().send().await.expect("subnets");
            put(
                "aws_subnet",
                subnets
                    .subnets()
                    .iter()
                    .filter(|s| s.vpc_id().is_some_and(|v| ours.iter().any(|o| o == v)))
                    .count(),
            );
            let igws = ec2_c
                .describe_internet_gateways()
                .send()
                .await
                .expect("igws");
            put(
                "aws_internet_gateway",
                igws.internet_gateways()
                    .iter()
                    .filter(|g| {
                        g.attachments().is_empty()
                            || g.attachments()
                                .iter()
                                .any(|a| a.vpc_id().is_some_and(|v| ours.iter().any(|o| o == v)))
                    })
                    .count(),
            );
            let rts = ec2_c
                .describe_route_tables()
                .send()
                .await
                .expect("route tables");
            put(
                "aws_route_table",
                rts.route_tables()
                    .iter()
                    .filter(|t| t.vpc_id().is_some_and(|v| ours.iter().any(|o| o == v)))
                    .filter(|t| !t.associations().iter().any(|a| a.main() == Some(true)))
                    .count(),
            );
            let roles = iam_c
                .list_roles()
                .max_items(1000)
                .send()
                .await
                .expect("roles");
            put(
                "aws_iam_role",
                roles
                    .roles()
                    .iter()
                    .filter(|r| !r.role_name().starts_with("AWSServiceRole"))
                    .count(),
            );
            let policies = iam_c
                .list_policies()
                .scope(iam::types::PolicyScopeType::Local)
                .send()
                .await
                .expect("policies");
            put("aws_iam_policy", policies.policies().len());
            let oidc = iam_c
                .list_open_id_connect_providers()
                .send()
                .await
                .expect("oidc");
            put(
                "aws_iam_oidc_provider",
                oidc.open_id_connect_provider_list().len(),
            );
            let clusters = eks_c.list_clusters().send().await.expect("clusters");
            put("aws_eks_cluster", clusters.clusters().len());
            for c in clusters.clusters() {
                let ngs = eks_c
                    .list_nodegroups()
                    .cluster_name(c)
                    .send()
                    .await
                    .expect("node groups");
                put("aws_eks_node_group", ngs.nodegroups().len());
            }
            let ws = amp_c.list_workspaces().send().await.expect("workspaces");
            put("aws_amp_workspace", ws.workspaces().len());
            let topics = sns_c.list_topics().send().await.expect("topics");
            put("aws_sns_topic", topics.topics().len());
            let subs = sns_c.list_subscriptions().send().await.expect("subs");
            put("aws_sns_topic_subscription", subs.subscriptions().len());
        });
        put("aws_grafana_workspace", self.amg.workspace_ids().len());
        put("aws_grafana_service_account_token", self.amg.tokens().len());
        {
            let g = self.grafana.state();
            put("grafana_folder", g.folders.len());
            put("grafana_data_source", g.datasources.len());
            put("grafana_dashboard", g.dashboards.len());
            put("grafana_contact_point", g.contact_points.len());
            put("grafana_alert_rule", g.rules.len());
        }
        let left: Vec<String> = self
            .api
            .names()
            .into_iter()
            .filter(|n| !self.pre_created.contains(n))
            .collect();
        put("kubernetes objects", left.len());
        let releases = self.helm.releases();
        let n = match &releases {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        put("helm_release", n);
        out
    }
}

/// The census restricted to the types whose objects are counted one to
/// one with addresses, against the state's counts of them.
fn assert_one_object_per_address(env: &Env, context: &str) {
    let census = env.census();
    let recorded = env.recorded();
    for (ty, n) in &census {
        if ty == "kubernetes objects" {
            continue;
        }
        assert_eq!(
            recorded.get(ty),
            Some(n),
            "{context}: {n} {ty} object(s) in the emulators, {:?} in the state\ncensus: {census:?}\nstate: {recorded:?}",
            recorded.get(ty)
        );
    }
    for (ty, n) in &recorded {
        if matches!(
            ty.as_str(),
            "k8s_namespace"
                | "k8s_service_account"
                | "k8s_manifest"
                | "aws_grafana_role_association"
                | "aws_grafana_service_account"
        ) {
            continue;
        }
        assert_eq!(
            census.get(ty),
            Some(n),
            "{context}: {ty} recorded {n} time(s), census {census:?}"
        );
    }
}

fn assert_nothing_left(env: &Env) {
    let census = env.census();
    assert!(census.is_empty(), "destroy left objects behind: {census:?}");
}

/// Starts `meshmon ARGS` in a process group of its own, and kills the
/// group (meshmon and the helm it runs) when `trigger` matches a line it
/// prints, `delay` after; or, without a trigger, `delay` after it starts.
/// Returns whether it was killed (false: it finished first, successfully)
/// and what it printed.
fn run_and_kill(
    env: &Env,
    args: &[&str],
    trigger: Option<&str>,
    delay: Duration,
) -> (bool, String) {
    let mut child = env
        .cli
        .command(&env.args(args))
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start meshmon");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let out_tx = tx.clone();
    let readers = [
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if out_tx.send(line).is_err() {
                    break;
                }
            }
        }),
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        }),
    ];
    let started = Instant::now();
    let mut fire_at = trigger.is_none().then(|| started + delay);
    let mut printed = String::new();
    loop {
        if let Some(at) = fire_at
            && Instant::now() >= at
        {
            let pid = child.id() as i32;
            // SAFETY: kill(2) on a process group this test created.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.wait();
            readers.into_iter().for_each(|r| drop(r.join()));
            return (true, printed);
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => {
                if fire_at.is_none() && trigger.is_some_and(|t| line.contains(t)) {
                    fire_at = Some(Instant::now() + delay);
                }
                printed.push_str(&line);
                printed.push('\n');
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("wait for meshmon");
                readers.into_iter().for_each(|r| drop(r.join()));
                // A run that was not killed recovers whatever the kill
                // before it left, and succeeds.
                if !status.success() {
                    let state = env.state();
                    let deposed: Vec<String> = state["deposed"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, d)| format!("{k}: {}", d["address"]))
                        .collect();
                    let recorded: Vec<&String> = state["resources"]
                        .as_object()
                        .map(|m| m.keys().collect())
                        .unwrap_or_default();
                    panic!(
                        "meshmon {args:?} failed without being killed ({status}):\n{printed}\nstate: {recorded:?}\ndeposed: {deposed:?}\npending: {}",
                        state["pending"]
                    );
                }
                return (false, printed);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "meshmon {args:?} ran for 10 minutes:\n{printed}"
        );
    }
}

#[test]
fn the_example_survives_25_kills_with_exactly_one_object_per_address() {
    let started = Instant::now();
    let env = Env::start(None, true);
    // MESHMON_KILL_SEED picks other moments, to look for trouble.
    let seed = std::env::var("MESHMON_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x006d_6573_686d_6f6e);
    let mut rng = Rng(seed);
    // Four kills while the slow creates are in flight (each tried on the
    // next apply that creates that resource), the rest at random moments of
    // a run. A run that finishes before its moment turns the direction:
    // apply from nothing, destroy to nothing, and again.
    let mut triggers: Vec<&str> = vec![
        "aws_eks_cluster.main: Creating",
        "aws_eks_node_group.default: Creating",
        "aws_grafana_workspace.main: Creating",
        "helm_release.appmesh_controller: Creating",
    ];
    let mut kills = 0;
    let mut runs = 0;
    let mut adopted = 0;
    let mut destroying = false;
    while kills < 25 {
        let trigger = (!destroying).then(|| triggers.first().copied()).flatten();
        let delay = match trigger {
            Some(_) => Duration::from_millis(200 + rng.below(1500)),
            None => Duration::from_millis(300 + rng.below(6000)),
        };
        let args: &[&str] = if destroying {
            &["destroy", "--auto-approve"]
        } else {
            &["apply", "--auto-approve"]
        };
        runs += 1;
        let (killed, printed) = run_and_kill(&env, args, trigger, delay);
        adopted += printed.matches("adopted it").count();
        eprintln!(
            "run {runs}: {} {} +{delay:?}: {}",
            args[0],
            trigger.unwrap_or("at a random moment"),
            if killed { "killed" } else { "finished" }
        );
        if killed {
            kills += 1;
            if trigger.is_some() {
                triggers.remove(0);
            }
        } else {
            destroying = !destroying;
        }
    }
    assert!(
        triggers.is_empty(),
        "every slow create was killed mid-way once; left: {triggers:?}"
    );
    let kills_took = started.elapsed();

    // Recovery: apply to completion, then everything is there exactly once.
    let apply = env.expect(&["apply", "--auto-approve"], 0);
    adopted += apply.stdout.matches("adopted it").count();
    adopted += apply.stderr.matches("adopted it").count();
    let spec = std::fs::read_to_string(env.cli.path().join("meshmon.toml")).expect("spec");
    let declared = spec
        .lines()
        .filter(|l| l.starts_with("[resources."))
        .count();
    let state = env.state();
    assert_eq!(
        state["resources"].as_object().map(|m| m.len()),
        Some(declared),
        "the state is complete: {}",
        apply.stdout
    );
    assert!(
        state.get("pending").is_none() && state.get("deposed").is_none(),
        "nothing left pending or deposed: {state:#}"
    );
    assert_one_object_per_address(&env, "after the kills");
    let plan = env.expect(&["plan"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    env.expect(&["destroy", "--auto-approve"], 0);
    assert_nothing_left(&env);
    eprintln!(
        "kill test (seed {seed}): {kills} kills over {runs} runs, {adopted} object(s) adopted, 0 duplicates; kills took {:.1}s, all {:.1}s",
        kills_took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

fn survives_faults(seed: u64) {
    let started = Instant::now();
    let env = Env::start(Some(FaultPlan { rate: 0.1, seed }), false);
    let apply = env.run(&["apply", "--auto-approve"]);
    assert_eq!(
        apply.code, 0,
        "seed {seed}: apply through faults\nstdout:\n{}\nstderr:\n{}",
        apply.stdout, apply.stderr
    );
    let adopted =
        apply.stdout.matches("adopted it").count() + apply.stderr.matches("adopted it").count();
    for proxy in &env.proxies {
        proxy.set_rate(0.0);
    }
    env.api.set_fault_rate(0.0);
    env.grafana.set_fault_rate(0.0);
    assert_one_object_per_address(&env, &format!("seed {seed}"));
    for proxy in &env.proxies {
        proxy.set_rate(0.1);
    }
    env.api.set_fault_rate(0.1);
    env.grafana.set_fault_rate(0.1);

    let plan = env.run(&["plan"]);
    assert_eq!(
        plan.code, 0,
        "seed {seed}: plan\n{}\n{}",
        plan.stdout, plan.stderr
    );
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    // Drift through faults: exactly the truth (nothing drifted) or "could
    // not check" — never a deletion that did not happen.
    for _ in 0..3 {
        let drift = env.run(&["drift", "--format", "json"]);
        assert!(
            drift.code == 0 || drift.code == 1,
            "seed {seed}: drift exits 0 (no drift) or 1 (could not check), not {}:\n{}\n{}",
            drift.code,
            drift.stdout,
            drift.stderr
        );
        assert!(
            !drift.stdout.contains("\"deleted\""),
            "seed {seed}: a false deletion:\n{}",
            drift.stdout
        );
    }
    let destroy = env.run(&["destroy", "--auto-approve"]);
    assert_eq!(
        destroy.code, 0,
        "seed {seed}: destroy\n{}\n{}",
        destroy.stdout, destroy.stderr
    );
    for proxy in &env.proxies {
        proxy.set_rate(0.0);
    }
    assert_nothing_left(&env);
    let faults = env.faults();
    eprintln!(
        "fault test, seed {seed}: {} of {} requests faulted (throttle {}, 5xx {}, reset {}, lost answer {}, 503 after effect {}), {adopted} object(s) adopted, 0 duplicates, {:.1}s",
        faults.faults(),
        faults.requests,
        faults.throttle,
        faults.server_error,
        faults.reset,
        faults.lost_response,
        faults.late_error,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_example_survives_faults_seed_1() {
    survives_faults(1);
}

#[test]
fn the_example_survives_faults_seed_2() {
    survives_faults(2);
}

#[test]
fn the_example_survives_faults_seed_3() {
    survives_faults(3);
}
