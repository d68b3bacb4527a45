//! docs/istio-to-fleet.md, step 1, as written there: a stack built with
//! `examples/istio.toml` moves to the keyed layout (its cluster looked up,
//! the collector and its RBAC keyed by cluster, the cluster and what runs
//! in it forgotten) with no change to the cloud.

use meshmon_test_support::fault_proxy::{FaultPlan, FaultProxy};

use crate::stack::Stack;
use crate::{CLUSTER, STATE};

const GUIDE: &str = include_str!("../../docs/istio-to-fleet.md");

/// The guide's machine-read blocks: the code block after each
/// `<!-- istio-to-fleet: KIND -->` line.
fn blocks(kind: &str) -> Vec<String> {
    let marker = format!("<!-- istio-to-fleet: {kind} -->");
    GUIDE
        .split(&marker)
        .skip(1)
        .map(|rest| {
            let body = rest.split_once("```").expect("a code block").1;
            let body = body.split_once('\n').expect("a fence line").1;
            body.split_once("```")
                .expect("a closing fence")
                .0
                .to_string()
        })
        .collect()
}

/// `spec` without the tables the guide says to delete (a table runs from
/// its header to the next header; the comments above it stay, harmless).
fn delete_tables(spec: &str, tables: &[&str]) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in spec.lines() {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            skipping = tables.contains(&header.trim_start_matches('['));
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn the_istio_stack_moves_to_the_keyed_layout_without_a_change_to_the_cloud() {
    let mut s = Stack::start();
    s.run("istio.toml", &["apply", "--auto-approve"], 0);
    let managed_before = s.addresses().len();

    // Every AWS request of meshmon's from here on passes a logging proxy.
    let proxy = FaultProxy::start(&s.moto.endpoint(), FaultPlan { rate: 0.0, seed: 1 });
    s.cli.set_env("AWS_ENDPOINT_URL", &proxy.endpoint());

    let deleted = blocks("delete");
    assert_eq!(deleted.len(), 1, "one list of tables to delete");
    let tables: Vec<&str> = deleted[0].lines().filter(|l| !l.is_empty()).collect();
    let istio = std::fs::read_to_string(s.cli.path().join("istio.toml")).expect("spec");
    for t in &tables {
        assert!(
            istio.contains(&format!("[{t}]")),
            "the guide deletes [{t}], which examples/istio.toml does not have"
        );
    }
    let mut keyed = delete_tables(&istio, &tables);
    for add in blocks("add") {
        keyed.push('\n');
        keyed.push_str(&add);
    }
    std::fs::write(s.cli.path().join("keyed.toml"), &keyed).expect("write the spec");

    // ---- the plan: moves and forgets, nothing else
    let eks_calls = s.eks.calls().len();
    let amp_calls = s.amp.calls().len();
    let kube_calls = s.api.requests().len();
    let logged = proxy.requests().len();
    let plan = s.run("keyed.toml", &["plan", "--json", "--detailed-exitcode"], 2);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let changes: Vec<(String, String)> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .filter(|(_, a)| a != "no-op")
        .collect();
    assert_eq!(changes, Vec::<(String, String)>::new(), "{plan:#}");
    assert_eq!(
        plan["summary"],
        serde_json::json!({"add": 0, "change": 0, "destroy": 0, "move": 2, "forget": 21}),
        "{plan:#}"
    );
    let moved: Vec<&str> = plan["moves"]
        .as_array()
        .expect("moves")
        .iter()
        .filter_map(|m| m["to"].as_str())
        .collect();
    assert_eq!(
        moved,
        [
            "aws_amp_scraper.mesh[\"main\"]",
            "k8s_manifest.aps_collector_rbac[\"main\"]"
        ],
        "{plan:#}"
    );

    // ---- the apply writes nothing anywhere
    let out = s.run("keyed.toml", &["apply", "--auto-approve"], 0);
    assert!(
        out.stdout.contains("0 added, 0 changed, 0 destroyed"),
        "{}",
        out.stdout
    );
    assert_eq!(proxy.writes_since(logged), Vec::<String>::new());
    let changing = |calls: Vec<String>| -> Vec<String> {
        calls
            .into_iter()
            .filter(|c| {
                !(c.starts_with("Describe")
                    || c.starts_with("List")
                    || c.starts_with("Forwarded GET"))
            })
            .collect()
    };
    assert_eq!(
        changing(s.eks.calls()[eks_calls..].to_vec()),
        Vec::<String>::new()
    );
    assert_eq!(
        changing(s.amp.calls()[amp_calls..].to_vec()),
        Vec::<String>::new()
    );
    let kube_writes: Vec<String> = s.api.requests()[kube_calls..]
        .iter()
        .map(|r| r.line())
        .filter(|l| !l.starts_with("GET "))
        .collect();
    assert_eq!(kube_writes, Vec::<String>::new());

    // The state holds the keyed monitoring and no longer the cluster.
    let addresses = s.addresses();
    assert_eq!(addresses.len(), managed_before - 21, "{addresses:?}");
    for a in [
        "aws_amp_scraper.mesh[\"main\"]",
        "k8s_manifest.aps_collector_rbac[\"main\"]",
        "aws_amp_workspace.appmesh",
    ] {
        assert!(addresses.contains(&a.to_string()), "{a}: {addresses:?}");
    }
    assert!(!addresses.contains(&"aws_eks_cluster.main".to_string()));

    // The next plan is clean, and the cluster and its collector are where
    // they were.
    let again = s.run("keyed.toml", &["plan", "--detailed-exitcode"], 0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    let state = std::fs::read_to_string(s.cli.path().join(STATE)).expect("state");
    assert!(
        state.contains("aws_eks_cluster.cluster"),
        "the look-up is recorded"
    );
    assert_eq!(
        s.eks.cluster(CLUSTER).expect("the cluster")["status"],
        "ACTIVE"
    );
    assert_eq!(s.amp.scraper_ids().len(), 1);
    let state: serde_json::Value = serde_json::from_str(&state).expect("state JSON");
    assert_eq!(
        state["resources"]["k8s_manifest.aps_collector_rbac[\"main\"]"]["instance"]["name"],
        "kubernetes.clusters[\"main\"]",
        "the moved RBAC is recorded with the instance that now manages it"
    );

    // The cluster leaves the fleet: its collector and RBAC go, through the
    // Kubernetes instance recorded with them (no longer in the spec), and
    // the cluster stays.
    std::fs::write(s.cli.path().join("none.tfvars.toml"), "clusters = {}\n").expect("var file");
    let out = s.run(
        "keyed.toml",
        &["apply", "--auto-approve", "--var-file", "none.tfvars.toml"],
        0,
    );
    assert!(
        out.stdout.contains("0 added, 0 changed, 2 destroyed"),
        "{}",
        out.stdout
    );
    assert!(s.amp.scraper_ids().is_empty());
    assert!(
        s.api
            .object(
                "rbac.authorization.k8s.io/v1",
                "ClusterRole",
                None,
                "aps-collector-role"
            )
            .is_none(),
        "{:?}",
        s.api.names()
    );
    assert_eq!(
        s.eks.cluster(CLUSTER).expect("the cluster")["status"],
        "ACTIVE"
    );
}
