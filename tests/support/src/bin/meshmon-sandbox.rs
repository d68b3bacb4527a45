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
    env.extend([
        (
            "MESHMON_VAR_kubernetes_endpoint_override".to_string(),
            api.endpoint(),
        ),
        (
            "MESHMON_VAR_kubernetes_ca_override".to_string(),
            api.ca_pem().to_string(),
        ),
        ("MESHMON_VAR_grafana_url_scheme".to_string(), "http".into()),
        ("MESHMON_VAR_region".to_string(), REGION.into()),
    ]);

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
    println!("  Grafana             {}", grafana.url());
    println!("  helm                fake (records, installs nothing)");
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
    drop((grafana, amg, helm, api, amp, eks, moto));
}
