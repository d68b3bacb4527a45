//! The local sandbox: the emulated world meshmon's tests use, on loopback,
//! for trying `examples/meshmon.toml` and `examples/istio.toml` without an
//! AWS account.
//!
//!     cargo run -p meshmon-test-support --bin meshmon-sandbox
//!
//! Starts moto (MESHMON_MOTO_SERVER, or .venv/bin/moto_server; with the
//! AWS-managed IAM policies loaded) behind the EKS and AMP test doubles
//! (access entries, managed collectors and Alertmanager definitions, which
//! moto lacks; the rest goes on to moto; EKS's entry for the cluster's
//! creator and AMP's for each scraper are made as on AWS), the test
//! Kubernetes API server
//! (accepting EKS tokens for the example's cluster, with the App Mesh CRDs
//! registered, since the fake helm installs no chart), the AMG and Grafana
//! test servers (linked) and the fake helm; prints the environment that
//! points meshmon at them and writes it to `sandbox.env` in the current
//! directory; runs until Ctrl-C. Everything here is an EMULATION, not AWS.
//!
//! With `--fleet`, it also makes three existing clusters in two emulated
//! accounts (111111111111: `payments-eu`, `search-eu`; 222222222222:
//! `checkout-eu`), each with its API server, and a role `meshmon` in each
//! account, and writes the `--var-file` a fleet spec takes to
//! `fleet.vars.toml` in the current directory; and `my-eks-cluster` in the
//! default account, which `examples/existing-cluster.toml` looks up by
//! default. `examples/fleet.toml` and `examples/existing-cluster.toml` then
//! apply, drift and destroy there, leaving those clusters as they were.
//!
//! The examples run unchanged, as against AWS: the EKS double reports the
//! Kubernetes API server as the endpoint and CA of the cluster an example
//! creates, and the Grafana test server serves HTTPS with a test CA, which
//! `SSL_CERT_FILE` in `sandbox.env` makes meshmon trust (`sandbox-ca.pem`:
//! the system's roots and the test CA, so that other programs run from the
//! same shell still reach the internet).

use std::path::{Path, PathBuf};

use std::time::Duration;

use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::amp_double::AmpDouble;
use meshmon_test_support::eks_double::EksDouble;
use meshmon_test_support::grafana::GrafanaServer;
use meshmon_test_support::kube_api::{Auth, FakeHelm, KubeApi, Options, app_mesh_crds};
use meshmon_test_support::moto::{Moto, REGION};

/// The example's default cluster name (`examples/meshmon.toml`).
const CLUSTER: &str = "AMP-EKS-CLUSTER";

/// Single-quotes a value for a POSIX shell.
fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// The moto server: MESHMON_MOTO_SERVER, else `.venv/bin/moto_server` of
/// the current directory or of the workspace.
fn find_moto() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MESHMON_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [PathBuf::from("."), workspace]
        .iter()
        .map(|d| d.join(".venv/bin/moto_server"))
        .find(|p| p.is_file())
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
}

/// The fake helm is a sibling binary; `cargo run --bin meshmon-sandbox`
/// builds only this one, so build it when it is missing.
fn ensure_fake_helm() {
    let exe = std::env::current_exe().expect("current executable");
    let name = format!("fake-helm{}", std::env::consts::EXE_SUFFIX);
    if exe.with_file_name(&name).is_file() {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building the fake helm: {cargo} build -p meshmon-test-support --bin fake-helm");
    let status = std::process::Command::new(cargo)
        .args(["build", "-p", "meshmon-test-support", "--bin", "fake-helm"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo");
    assert!(status.success(), "building fake-helm failed");
}

/// Where the sandbox writes the roots it hands meshmon, in the current
/// directory beside `sandbox.env`.
const CA_BUNDLE: &str = "sandbox-ca.pem";

/// The system's CA bundle, where the common distributions keep it.
const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Writes [`CA_BUNDLE`] and returns the `SSL_CERT_FILE` setting that names
/// it. SSL_CERT_FILE replaces the system's store for meshmon's HTTPS
/// clients (rustls-native-certs) and for programs built on OpenSSL's
/// default paths, so the file holds the roots they trusted before (the
/// current SSL_CERT_FILE, else the system bundle) and then the Grafana
/// test server's CA.
fn trust_grafana(grafana: &GrafanaServer) -> (String, String) {
    let base = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find_map(|p| std::fs::read_to_string(p).ok());
    let mut bundle = base.unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str("# meshmon sandbox: the Grafana test server's CA (EMULATED, not AWS)\n");
    bundle.push_str(grafana.ca_pem());
    let path = std::env::current_dir()
        .expect("current dir")
        .join(CA_BUNDLE);
    std::fs::write(&path, bundle).expect("write the sandbox's CA bundle");
    ("SSL_CERT_FILE".to_string(), path.display().to_string())
}

// ---- `--fleet`: several existing clusters in several emulated accounts.

use meshmon_test_support::caller::Callers;
use meshmon_test_support::existing::{Existing, account_role, fleet_vars, make_cluster};

/// The fleet's clusters: (key in the var file, account, cluster, VPC CIDR).
const FLEET: [(&str, &str, &str, &str); 3] = [
    ("payments", "111111111111", "payments-eu", "10.10.0.0/16"),
    ("search", "111111111111", "search-eu", "10.11.0.0/16"),
    ("checkout", "222222222222", "checkout-eu", "10.20.0.0/16"),
];

/// The role meshmon assumes in each of the fleet's accounts.
const FLEET_ROLE: &str = "meshmon";

/// Where `--fleet` writes the var file, in the current directory.
const FLEET_VARS: &str = "fleet.vars.toml";

/// The existing cluster of `examples/existing-cluster.toml` (its default
/// `cluster_name`), in the default account.
const SINGLE: &str = "my-eks-cluster";

/// What `--fleet` made; its API servers stop when it is dropped.
struct Fleet {
    /// (key, what was made, the cluster's API server)
    clusters: Vec<(&'static str, Existing, KubeApi)>,
    /// The single existing cluster in the default account, and its server.
    single: (Existing, KubeApi),
    vars: String,
    path: PathBuf,
}

/// Whether the sandbox was started with `--fleet`.
fn fleet_requested() -> bool {
    std::env::args().skip(1).any(|a| a == "--fleet")
}

/// Makes the fleet: in each account a role `meshmon` the default account
/// may assume (moto does not check trust, but a spec's `assume_role` names
/// a real role; it gets AdministratorAccess, loaded by moto here), and in
/// it the account's existing clusters (VPC, subnets, roles, node group;
/// made as that role), each served by an API server of its own that takes
/// EKS tokens signed by a session of its account, and
/// linked to the AMP double by ARN, so that each scraper is reviewed
/// against its own cluster's RBAC. Writes the var file a fleet spec takes.
fn start_fleet(moto: &Moto, eks: &EksDouble, amp: &AmpDouble) -> Fleet {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let home = moto.sdk_config().await;
        let callers = Callers::new(Some(&moto.endpoint()));
        let mut sessions = std::collections::BTreeMap::new();
        for (_, account, _, _) in FLEET {
            if sessions.contains_key(account) {
                continue;
            }
            let (session, role) = account_role(&home, account, FLEET_ROLE).await;
            let attached = meshmon_test_support::iam::Client::new(&session)
                .attach_role_policy()
                .role_name(FLEET_ROLE)
                .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
                .send()
                .await;
            if let Err(e) = attached {
                eprintln!("{role}: AdministratorAccess not attached: {e:?}");
            }
            sessions.insert(account, (session, role));
        }
        let mut clusters = Vec::new();
        for (key, account, name, cidr) in FLEET {
            eprintln!("making the existing cluster {name} in account {account}…");
            // Tokens of the account's sessions: the signature itself is
            // not recomputed here (moto's copy of a session's secret comes
            // from a state dump that takes seconds with the AWS-managed
            // policies loaded).
            let api = KubeApi::start(
                Auth::EksSessionOf {
                    region: REGION.into(),
                    cluster: name.into(),
                    account: account.into(),
                    callers: callers.clone(),
                },
                Options::realistic(),
            );
            let made = make_cluster(&sessions[account].0, eks, name, cidr, &api).await;
            amp.link_cluster_arn(&made.arn, api.reviewer());
            clusters.push((key, made, api));
        }
        eprintln!("making the existing cluster {SINGLE} in the default account…");
        let api = KubeApi::start(
            Auth::Eks {
                region: REGION.into(),
                cluster: SINGLE.into(),
            },
            Options::realistic(),
        );
        let made = make_cluster(&home, eks, SINGLE, "10.30.0.0/16", &api).await;
        amp.link_cluster_arn(&made.arn, api.reviewer());
        let single = (made, api);
        let entries: Vec<(&str, &str, &str, &str)> = clusters
            .iter()
            .map(|(key, made, _)| {
                (
                    *key,
                    sessions[made.account.as_str()].1.as_str(),
                    made.region.as_str(),
                    made.name.as_str(),
                )
            })
            .collect();
        let vars = format!(
            "# meshmon sandbox fleet — EMULATED accounts and clusters, not AWS.\n{}",
            fleet_vars(&entries)
        );
        let path = std::env::current_dir()
            .expect("current dir")
            .join(FLEET_VARS);
        std::fs::write(&path, &vars).expect("write the fleet's var file");
        Fleet {
            clusters,
            single,
            vars,
            path,
        }
    })
}

/// Tells what `--fleet` made and how to use it.
fn print_fleet(fleet: &Fleet) {
    println!("  Fleet (--fleet): existing clusters in emulated accounts");
    for (key, made, api) in &fleet.clusters {
        println!(
            "    {key:<10} {} {:<12} {}  (node group {}, EKS tokens of {} sessions)",
            made.account,
            made.name,
            api.endpoint(),
            made.nodegroup,
            made.account
        );
    }
    println!(
        "  Roles to assume: arn:aws:iam::ACCOUNT:role/{FLEET_ROLE} (ACCOUNT 111111111111, 222222222222)"
    );
    let (made, api) = &fleet.single;
    println!(
        "    {SINGLE} in {} at {}  (for examples/existing-cluster.toml)",
        made.account,
        api.endpoint()
    );
    println!("  Var file for a fleet spec ({}):", fleet.path.display());
    print!("{}", fleet.vars);
    println!("  Then: meshmon apply -f examples/fleet.toml --var-file {FLEET_VARS} --auto-approve");
    println!("        meshmon apply -f examples/existing-cluster.toml --auto-approve");
}

fn main() {
    let Some(moto_bin) = find_moto() else {
        eprintln!(
            "meshmon-sandbox needs moto: python3 -m venv .venv && .venv/bin/pip install -r \
             tests/requirements.txt (or set MESHMON_MOTO_SERVER)"
        );
        std::process::exit(1);
    };
    // SAFETY: single-threaded here; nothing else reads the environment yet.
    unsafe { std::env::set_var("MESHMON_MOTO_SERVER", &moto_bin) };
    ensure_fake_helm();

    eprintln!("starting the emulators (moto loads the AWS-managed policies; this takes a moment)…");
    let moto = Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")]);
    // Clusters, scrapers and Alertmanager definitions take a few seconds to
    // become ACTIVE, so that meshmon's progress shows.
    let eks = EksDouble::forwarding(Duration::from_secs(3), &moto.endpoint());
    let amp = AmpDouble::start(Duration::from_secs(3), &moto.endpoint());
    // AMP makes each scraper's access entry in the cluster, as on AWS.
    amp.link_eks(&eks);
    let fleet = fleet_requested().then(|| start_fleet(&moto, &eks, &amp));
    let api = KubeApi::start(
        Auth::Eks {
            region: REGION.into(),
            cluster: CLUSTER.into(),
        },
        Options::realistic(),
    );
    // The real appmesh-controller chart installs these; the fake helm does not.
    for crd in app_mesh_crds() {
        api.create(crd);
    }
    // The cluster an example creates is served by this API server, as
    // DescribeCluster reports it: no endpoint or CA override needed.
    eks.serve_new_clusters_from(&api);
    let helm = FakeHelm::new();
    let amg = AmgServer::start();
    // Only AMG-issued service-account tokens are meant to be used; this
    // admin token is random and never printed.
    let admin = format!("sandbox-admin-{}", std::process::id());
    let grafana = GrafanaServer::start(&admin);
    amg.link(&grafana);

    let mut env: Vec<(String, String)> = moto.env();
    env.push(("AWS_ENDPOINT_URL_EKS".to_string(), eks.endpoint()));
    env.push(("AWS_ENDPOINT_URL_AMP".to_string(), amp.endpoint()));
    env.extend(amg.env());
    env.extend(helm.env());
    env.push(trust_grafana(&grafana));
    env.push(("MESHMON_VAR_region".to_string(), REGION.into()));

    let mut file = String::from(
        "# meshmon local sandbox — EMULATED, not AWS: moto and test servers on loopback.\n\
         # Valid only while `meshmon-sandbox` runs.\n",
    );
    for (k, v) in &env {
        file.push_str(&format!("export {k}={}\n", quote(v)));
    }
    let path = std::env::current_dir()
        .expect("current dir")
        .join("sandbox.env");
    std::fs::write(&path, &file).expect("write sandbox.env");

    let rule = "=".repeat(72);
    println!("{rule}");
    println!("  meshmon sandbox — EMULATED — not AWS");
    println!("  moto (AWS)          {}", moto.endpoint());
    println!(
        "  EKS double          {}  (clusters, access entries; the rest to moto)",
        eks.endpoint()
    );
    println!(
        "  AMP double          {}  (scrapers, Alertmanager; the rest to moto)",
        amp.endpoint()
    );
    println!(
        "  Kubernetes API      {}  (EKS tokens for {CLUSTER})",
        api.endpoint()
    );
    println!("  Managed Grafana     {}", amg.endpoint());
    println!(
        "  Grafana             {}  (test CA in {CA_BUNDLE})",
        grafana.https_url()
    );
    println!("  helm                fake (records, installs nothing)");
    if let Some(fleet) = &fleet {
        print_fleet(fleet);
    }
    println!("{rule}");
    println!("Paste into a shell, or: source {}", path.display());
    println!();
    print!("{file}");
    println!();
    println!("Then: meshmon apply -f examples/meshmon.toml --auto-approve");
    println!("      meshmon drift -f examples/meshmon.toml");
    println!("      meshmon destroy -f examples/meshmon.toml --auto-approve");
    println!("  or the live stack: meshmon apply -f examples/istio.toml --auto-approve");
    println!(
        "  (both examples share one state: applying istio.toml after meshmon.toml is the migration)"
    );
    println!("Ctrl-C stops the sandbox (and everything in it is gone).");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    eprintln!("stopping the sandbox");
    drop((fleet, grafana, amg, helm, api, amp, eks, moto));
}
