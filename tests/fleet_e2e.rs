//! `examples/fleet.toml` end to end: the real `meshmon` binary, on a copy of
//! `examples/`, adds the live stack's monitoring to clusters that already
//! exist in two accounts, all writing into one AMP workspace in a third
//! (the central account, whose credentials meshmon runs with), and takes
//! it away again leaving every cluster as it was.
//!
//! - AWS: moto keeps each account apart (a session of
//!   `arn:aws:iam::ACCOUNT:role/meshmon` acts in ACCOUNT); the EKS double
//!   keeps clusters and access entries per account and reports each
//!   cluster's test API server as its endpoint and CA; the AMP double keeps
//!   scrapers per account and refuses a workspace in another account
//!   without the scraper's roleConfiguration.
//! - Kubernetes: one test API server per cluster, taking only EKS tokens
//!   of a session in the cluster's account; the AMP double
//!   asks it, when a scraper is created, what the collector's user may do.
//! - Grafana: the AMG and Grafana test servers, linked, over HTTPS (test
//!   CA through SSL_CERT_FILE).
//!
//! Needs moto: run through `scripts/test` (it sets MESHMON_MOTO_SERVER).

use std::collections::BTreeMap;
use std::time::Duration;

use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::amp_cross_account::check_wiring;
use meshmon_test_support::amp_double::AmpDouble;
use meshmon_test_support::caller::Callers;
use meshmon_test_support::cli::{Cli, Output};
use meshmon_test_support::eks_double::EksDouble;
use meshmon_test_support::emulated::{EmulatedAws, on_examples};
use meshmon_test_support::existing::{Existing, account_role, fleet_vars, inventory, make_cluster};
use meshmon_test_support::grafana::GrafanaServer;
use meshmon_test_support::kube_api::rbac::Attributes;
use meshmon_test_support::kube_api::{Auth, KubeApi, Options};
use meshmon_test_support::moto::{ACCOUNT, Moto, REGION};
use meshmon_test_support::{SdkConfig, iam};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const SPEC: &str = "fleet.toml";
const STATE: &str = "state/mesh-fleet.json";
const VARS: &str = "fleet.vars.toml";
/// How long the doubles' transitions (CREATING, DELETING) take.
const SETTLE: Duration = Duration::from_millis(200);
const ROLE: &str = "meshmon";

/// The existing clusters: (key, account, name, CIDR). The last one joins
/// the fleet later.
const CLUSTERS: [(&str, &str, &str, &str); 4] = [
    ("payments", "111111111111", "payments-eu", "10.10.0.0/16"),
    ("search", "111111111111", "search-eu", "10.11.0.0/16"),
    ("checkout", "222222222222", "checkout-eu", "10.20.0.0/16"),
    ("ledger", "222222222222", "ledger-eu", "10.21.0.0/16"),
];

/// What meshmon makes per cluster: the collector's RBAC, its two roles,
/// the scraper and the target role's trust.
const PER_CLUSTER: usize = 5;

struct Fleet {
    rt: tokio::runtime::Runtime,
    central: SdkConfig,
    /// Each account's session and the role meshmon assumes there.
    accounts: BTreeMap<&'static str, (SdkConfig, String)>,
    clusters: BTreeMap<&'static str, (Existing, KubeApi)>,
    eks: EksDouble,
    amp: AmpDouble,
    _amg: AmgServer,
    _grafana: GrafanaServer,
    cli: Cli,
    _moto: Moto,
}

impl Fleet {
    fn start() -> Fleet {
        let aws = EmulatedAws::start(Moto::start(), SETTLE);
        let cli = on_examples(BIN, aws.env());
        let EmulatedAws {
            moto,
            eks,
            amp,
            amg,
            grafana,
        } = aws;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let central = rt.block_on(moto.sdk_config());
        let callers = Callers::new(Some(&moto.endpoint()));
        let mut accounts = BTreeMap::new();
        let mut clusters = BTreeMap::new();
        for (key, account, name, cidr) in CLUSTERS {
            if !accounts.contains_key(account) {
                accounts.insert(account, rt.block_on(account_role(&central, account, ROLE)));
            }
            // Tokens of a session in the cluster's account (the claims
            // checked, not the signature: recomputing it needs moto's state
            // dump for every new session, which triples this test's time).
            let api = KubeApi::start(
                Auth::EksSessionOf {
                    region: REGION.into(),
                    cluster: name.into(),
                    account: account.into(),
                    callers: callers.clone(),
                },
                Options::realistic(),
            );
            let made = rt.block_on(make_cluster(&accounts[account].0, &eks, name, cidr, &api));
            amp.link_cluster_arn(&made.arn, api.reviewer());
            clusters.insert(key, (made, api));
        }
        Fleet {
            rt,
            central,
            accounts,
            clusters,
            eks,
            amp,
            _amg: amg,
            _grafana: grafana,
            cli,
            _moto: moto,
        }
    }

    /// Writes the var file naming the clusters of `keys`.
    fn members(&self, keys: &[&str]) {
        let entries: Vec<(&str, &str, &str, &str)> = keys
            .iter()
            .map(|k| {
                let (made, _) = &self.clusters[k];
                let role = &self.accounts[made.account.as_str()].1;
                (*k, role.as_str(), made.region.as_str(), made.name.as_str())
            })
            .collect();
        std::fs::write(self.cli.path().join(VARS), fleet_vars(&entries)).expect("var file");
    }

    fn run(&self, args: &[&str], code: i32) -> Output {
        let mut a = args.to_vec();
        a.extend(["-f", SPEC, "--var-file", VARS, "--var", "region=eu-west-1"]);
        self.cli.expect(&a, code)
    }

    fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.cli.path().join(STATE)).expect("state file");
        serde_json::from_str(&text).expect("state is JSON")
    }

    fn addresses(&self) -> Vec<String> {
        self.state()["resources"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn output(&self, address: &str, name: &str) -> String {
        let s = self.state();
        s["resources"][address]["outputs"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{address}.{name} is not in the state"))
            .to_string()
    }

    /// What each account holds that a destroy must leave as it was.
    fn inventories(&self) -> BTreeMap<String, BTreeMap<&'static str, Vec<String>>> {
        let mut out = BTreeMap::new();
        out.insert(
            ACCOUNT.to_string(),
            self.rt
                .block_on(inventory(&self.central, &self.eks, ACCOUNT)),
        );
        for (account, (sdk, _)) in &self.accounts {
            out.insert(
                account.to_string(),
                self.rt.block_on(inventory(sdk, &self.eks, account)),
            );
        }
        out
    }

    /// Checks one member of the fleet as the cluster and AMP see it.
    fn assert_monitored(&self, key: &str) {
        let (made, api) = &self.clusters[key];
        let scraper = format!("component.cluster[\"{key}\"].aws_amp_scraper.this");
        let id = self.output(&scraper, "id");
        assert!(
            self.amp.scraper_ids_in(&made.account).contains(&id),
            "{key}: the scraper is in the cluster's account {}",
            made.account
        );
        let doc = self.amp.scraper(&id).expect("the scraper");
        assert_eq!(doc["status"]["statusCode"], "ACTIVE", "{doc:#}");
        assert_eq!(
            doc["source"]["eksConfiguration"]["clusterArn"], made.arn,
            "{doc:#}"
        );
        let workspace = self.output("aws_amp_workspace.central", "arn");
        assert_eq!(
            doc["destination"]["ampConfiguration"]["workspaceArn"], workspace,
            "{key}: writes to the central workspace"
        );
        let config = doc["scrapeConfiguration"]["configurationBlob"].clone();
        assert!(!config.is_null(), "{doc:#}");
        // Wired as AMP needs it: the source role trusted by the collector
        // service and allowed to assume the target role, which trusts it
        // only with this scraper's ARN and may write to the workspace.
        let source = &self.accounts[made.account.as_str()].0;
        let wiring = self
            .rt
            .block_on(check_wiring(&self.amp, &id, source, &self.central));
        assert_eq!(wiring, Ok(()), "{key}");
        // The RBAC was there when the scraper was made, and is now.
        let access = self
            .amp
            .access_at_create(&id)
            .expect("the scraper was created with its cluster linked");
        assert!(!access.is_empty());
        for (asked, answer) in access {
            assert_eq!(
                answer,
                Ok(true),
                "{key}: aps-collector-user, at create: {asked}"
            );
        }
        for a in [
            Attributes::core("list", "pods", ""),
            Attributes::core("list", "endpoints", ""),
            Attributes::url("get", "/metrics"),
        ] {
            let (allowed, reason) = api.subject_access_review("aps-collector-user", &a);
            assert!(allowed, "{key}: aps-collector-user may not {a:?}: {reason}");
        }
    }
}

fn plan_json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).expect("plan JSON")
}

/// The changes of a plan that do something: (address, action).
fn changes(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
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
        .collect()
}

#[test]
fn a_fleet_in_two_accounts_applies_grows_shrinks_and_is_destroyed_leaving_its_clusters() {
    let f = Fleet::start();
    let before = f.inventories();
    f.members(&["payments", "search", "checkout"]);

    // ---- from nothing, in one apply
    f.run(&["apply", "--auto-approve"], 0);
    for key in ["payments", "search", "checkout"] {
        f.assert_monitored(key);
    }
    let addresses = f.addresses();
    let central = addresses
        .iter()
        .filter(|a| !a.starts_with("component."))
        .count();
    assert_eq!(addresses.len(), central + 3 * PER_CLUSTER, "{addresses:#?}");
    // One workspace for the fleet, in the central account.
    let workspace = f.output("aws_amp_workspace.central", "arn");
    assert!(
        workspace.contains(&format!(":{ACCOUNT}:workspace/")),
        "{workspace}"
    );

    // ---- nothing to do, nothing drifted
    let plan = f.run(&["plan", "--detailed-exitcode"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    f.run(&["drift"], 0);

    // ---- a fourth cluster: only its objects
    f.members(&["payments", "search", "checkout", "ledger"]);
    let plan = plan_json(&f.run(&["plan", "--json", "--detailed-exitcode"], 2));
    let planned = changes(&plan);
    assert_eq!(planned.len(), PER_CLUSTER, "{planned:#?}");
    for (address, action) in &planned {
        assert!(
            address.starts_with("component.cluster[\"ledger\"].") && action == "create",
            "{address}: {action}"
        );
    }
    f.run(&["apply", "--auto-approve"], 0);
    f.assert_monitored("ledger");

    // ---- a cluster leaves: only its objects go
    f.members(&["payments", "checkout", "ledger"]);
    let plan = plan_json(&f.run(&["plan", "--json", "--detailed-exitcode"], 2));
    let planned = changes(&plan);
    assert_eq!(planned.len(), PER_CLUSTER, "{planned:#?}");
    for (address, action) in &planned {
        assert!(
            address.starts_with("component.cluster[\"search\"].") && action == "delete",
            "{address}: {action}"
        );
    }
    let search_scraper = f.output("component.cluster[\"search\"].aws_amp_scraper.this", "id");
    f.run(&["apply", "--auto-approve"], 0);
    assert!(
        !f.amp.scraper_ids().contains(&search_scraper),
        "the search cluster's scraper is gone"
    );
    for key in ["payments", "checkout", "ledger"] {
        f.assert_monitored(key);
    }
    let plan = f.run(&["plan", "--detailed-exitcode"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    // ---- destroy: every account holds again exactly what it held
    f.run(&["destroy", "--auto-approve"], 0);
    assert!(f.addresses().is_empty(), "{:?}", f.addresses());
    assert!(f.amp.scraper_ids().is_empty(), "{:?}", f.amp.scraper_ids());
    let after = f.inventories();
    for (account, kinds) in &before {
        for (kind, objects) in kinds {
            assert_eq!(
                &after[account][kind], objects,
                "account {account}: {kind} before and after"
            );
        }
    }
    // The clusters counted: two in each cluster account, none in the
    // central account.
    let clusters = |account: &str| after[account]["EKS clusters"].len();
    assert_eq!(
        (
            clusters(ACCOUNT),
            clusters("111111111111"),
            clusters("222222222222")
        ),
        (0, 2, 2)
    );
    let roles = iam::Client::new(&f.central);
    let left: Vec<String> =
        f.rt.block_on(roles.list_roles().send())
            .expect("roles")
            .roles()
            .iter()
            .map(|r| r.role_name().to_string())
            .filter(|n| n.starts_with("mesh-fleet"))
            .collect();
    assert!(left.is_empty(), "{left:?}");
}
