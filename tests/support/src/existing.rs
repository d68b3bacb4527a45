//! An "existing" EKS cluster: what another team made before meshmon runs,
//! in any emulated account. [`make_cluster`] makes, with the SDK and out of
//! band, a VPC with two subnets in two availability zones, the cluster
//! security group, the control plane's role, the cluster (access entries
//! with `API_AND_CONFIG_MAP`, the creator's admin entry, private and public
//! endpoint, ACTIVE, reporting its VPC and the security group) through the
//! EKS double, served by a [`KubeApi`] (its endpoint and CA as
//! DescribeCluster reports them), and a managed node group with its node
//! role (moto's, through the double). [`inventory`] describes what an
//! account holds, for before/after comparisons.
//!
//! The account is the one `sdk` acts in: moto's default credentials
//! ([`ACCOUNT`](crate::moto::ACCOUNT)), or a session from
//! [`moto::assuming`](crate::moto::assuming) for another one;
//! [`account_role`] makes such a session and the role it names.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;

use crate::caller::account_of_arn;
use crate::eks_double::EksDouble;
use crate::kube_api::KubeApi;
use crate::moto::{ACCOUNT, REGION, assuming};
use crate::{ec2, eks, iam};

/// What [`make_cluster`] made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    pub account: String,
    pub region: String,
    pub name: String,
    pub arn: String,
    pub vpc_id: String,
    /// One per zone, in the zones' order (`REGIONa`, `REGIONb`).
    pub subnet_ids: Vec<String>,
    /// The cluster security group EKS would make.
    pub security_group_id: String,
    pub cluster_role_arn: String,
    pub node_role_arn: String,
    pub nodegroup: String,
    pub nodegroup_arn: String,
}

/// The two subnets of `cidr` (`10.40.0.0/16`): its first two eighths
/// (`10.40.0.0/19`, `10.40.32.0/19`).
fn two_subnets(cidr: &str) -> [String; 2] {
    let (ip, bits) = cidr
        .split_once('/')
        .unwrap_or_else(|| panic!("{cidr} is not a CIDR block"));
    let bits: u32 = bits.parse().expect("a prefix length");
    assert!(bits <= 25, "{cidr} is too small for two subnets");
    let octets: Vec<u32> = ip.split('.').map(|o| o.parse().expect("IPv4")).collect();
    let base = octets.iter().fold(0u32, |a, o| (a << 8) | o);
    let size = 1u32 << (32 - (bits + 3));
    let show = |n: u32| {
        format!(
            "{}.{}.{}.{}/{}",
            n >> 24,
            (n >> 16) & 255,
            (n >> 8) & 255,
            n & 255,
            bits + 3
        )
    };
    [show(base), show(base + size)]
}

/// An EKS client on the double, acting as `sdk` does.
fn eks_client(sdk: &SdkConfig, double: &EksDouble) -> eks::Client {
    eks::Client::from_conf(
        eks::config::Builder::from(sdk)
            .endpoint_url(double.endpoint())
            .build(),
    )
}

fn name_tag(name: &str, kind: ec2::types::ResourceType) -> ec2::types::TagSpecification {
    ec2::types::TagSpecification::builder()
        .resource_type(kind)
        .tags(ec2::types::Tag::builder().key("Name").value(name).build())
        .build()
}

/// A trust policy letting `principal` (`{"Service": …}`, `{"AWS": …}`) assume the role.
fn trust(principal: serde_json::Value) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole" }],
    })
    .to_string()
}

/// Makes the cluster `name` in `sdk`'s account (see the module's doc),
/// its VPC on `cidr`, served by `api` (which should accept EKS tokens for
/// `name`); waits until the cluster is ACTIVE.
pub async fn make_cluster(
    sdk: &SdkConfig,
    double: &EksDouble,
    name: &str,
    cidr: &str,
    api: &KubeApi,
) -> Existing {
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| REGION.to_string());
    let (ec2c, iamc, eksc) = (
        ec2::Client::new(sdk),
        iam::Client::new(sdk),
        eks_client(sdk, double),
    );
    let vpc = ec2c
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(name_tag(name, ec2::types::ResourceType::Vpc))
        .send()
        .await
        .expect("create VPC");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("VPC id")
        .to_string();
    let mut subnet_ids = Vec::new();
    for (block, zone) in two_subnets(cidr).iter().zip(["a", "b"]) {
        let az = format!("{region}{zone}");
        let s = ec2c
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(block)
            .availability_zone(&az)
            .tag_specifications(name_tag(
                &format!("{name}-{az}"),
                ec2::types::ResourceType::Subnet,
            ))
            .send()
            .await
            .expect("create subnet");
        subnet_ids.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_string(),
        );
    }
    let sg = ec2c
        .create_security_group()
        .group_name(format!("eks-cluster-sg-{name}"))
        .description(format!(
            "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads of cluster {name}"
        ))
        .vpc_id(&vpc_id)
        .send()
        .await
        .expect("create cluster security group");
    let security_group_id = sg.group_id().expect("group id").to_string();
    let role = iamc
        .create_role()
        .role_name(format!("{name}-cluster"))
        .assume_role_policy_document(trust(json!({ "Service": "eks.amazonaws.com" })))
        .send()
        .await
        .expect("create cluster role");
    let cluster_role_arn = role.role().map(|r| r.arn()).expect("role").to_string();
    let account = account_of_arn(&cluster_role_arn)
        .expect("an account in the role's ARN")
        .to_string();
    let node_role = iamc
        .create_role()
        .role_name(format!("{name}-node"))
        .assume_role_policy_document(trust(json!({ "Service": "ec2.amazonaws.com" })))
        .send()
        .await
        .expect("create node role");
    let node_role_arn = node_role.role().map(|r| r.arn()).expect("role").to_string();
    let created = eksc
        .create_cluster()
        .name(name)
        .version("1.33")
        .role_arn(&cluster_role_arn)
        .resources_vpc_config(
            eks::types::VpcConfigRequest::builder()
                .set_subnet_ids(Some(subnet_ids.clone()))
                .endpoint_public_access(true)
                .endpoint_private_access(true)
                .build(),
        )
        .access_config(
            eks::types::CreateAccessConfigRequest::builder()
                .authentication_mode(eks::types::AuthenticationMode::ApiAndConfigMap)
                .bootstrap_cluster_creator_admin_permissions(true)
                .build(),
        )
        .send()
        .await
        .expect("create cluster");
    let arn = created
        .cluster()
        .and_then(|c| c.arn())
        .expect("cluster ARN")
        .to_string();
    let started = Instant::now();
    while double
        .cluster_in(&account, name)
        .is_none_or(|c| c["status"] != "ACTIVE")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "cluster {name} in {account} never became ACTIVE: {:?}",
            double.cluster_in(&account, name)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // EKS reports the VPC of the cluster's subnets and the security group
    // it made; the double reports fixed ones. The API server is the test's.
    double.patch_cluster_in(
        &account,
        name,
        json!({
            "resourcesVpcConfig": { "vpcId": vpc_id, "clusterSecurityGroupId": security_group_id },
            "endpoint": api.endpoint(),
            "certificateAuthority": { "data": B64.encode(api.ca_pem()) },
        }),
    );
    let nodegroup = format!("{name}-nodes");
    let ng = eksc
        .create_nodegroup()
        .cluster_name(name)
        .nodegroup_name(&nodegroup)
        .node_role(&node_role_arn)
        .set_subnets(Some(subnet_ids.clone()))
        .scaling_config(
            eks::types::NodegroupScalingConfig::builder()
                .min_size(1)
                .max_size(3)
                .desired_size(2)
                .build(),
        )
        .instance_types("m5.large")
        .send()
        .await
        .expect("create node group");
    let nodegroup_arn = ng
        .nodegroup()
        .and_then(|n| n.nodegroup_arn())
        .expect("node group ARN")
        .to_string();
    Existing {
        account,
        region,
        name: name.to_string(),
        arn,
        vpc_id,
        subnet_ids,
        security_group_id,
        cluster_role_arn,
        node_role_arn,
        nodegroup,
        nodegroup_arn,
    }
}

/// A session in `account` (from `sdk`'s, by sts:AssumeRole of
/// `arn:aws:iam::ACCOUNT:role/NAME`), and that role made in `account`,
/// trusting the default account's principals: moto does not check that a
/// role exists or trusts the caller before handing out a session, but a
/// spec's `assume_role` should name a real one. Returns the session and
/// the role's ARN.
pub async fn account_role(sdk: &SdkConfig, account: &str, name: &str) -> (SdkConfig, String) {
    let arn = format!("arn:aws:iam::{account}:role/{name}");
    let session = assuming(sdk, &arn).await;
    let iamc = iam::Client::new(&session);
    let made = iamc
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust(
            json!({ "AWS": format!("arn:aws:iam::{ACCOUNT}:root") }),
        ))
        .send()
        .await
        .expect("create the account's role");
    assert_eq!(made.role().map(|r| r.arn()), Some(arn.as_str()));
    (session, arn)
}

/// IAM hands policy documents back URL-encoded.
pub fn policy_document(raw: &str) -> serde_json::Value {
    serde_json::from_str(raw)
        .or_else(|_| serde_json::from_str(&crate::http::decode(raw)))
        .unwrap_or(serde_json::Value::Null)
}

/// What `account` (the account `sdk` acts in) holds, kind → one line per
/// object, sorted: "EKS clusters" (as the double describes them), "EKS
/// node groups", "VPCs", "subnets", "IAM roles" (with their trust and
/// policies). Two inventories taken before and after compare equal when
/// nothing of these changed.
pub async fn inventory(
    sdk: &SdkConfig,
    double: &EksDouble,
    account: &str,
) -> BTreeMap<&'static str, Vec<String>> {
    let (ec2c, iamc, eksc) = (
        ec2::Client::new(sdk),
        iam::Client::new(sdk),
        eks_client(sdk, double),
    );
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let names = double.cluster_names_in(account);
    out.insert(
        "EKS clusters",
        names
            .iter()
            .filter_map(|n| double.cluster_in(account, n))
            .map(|c| c.to_string())
            .collect(),
    );
    let mut groups = Vec::new();
    for cluster in &names {
        let listed = eksc
            .list_nodegroups()
            .cluster_name(cluster)
            .send()
            .await
            .expect("list node groups");
        for ng in listed.nodegroups() {
            let d = eksc
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(ng)
                .send()
                .await
                .expect("describe node group");
            let n = d.nodegroup().expect("a node group");
            groups.push(format!(
                "{cluster}/{ng} {} {:?} role={} subnets={:?} scaling={:?} instance_types={:?}",
                n.nodegroup_arn().unwrap_or_default(),
                n.status(),
                n.node_role().unwrap_or_default(),
                n.subnets(),
                n.scaling_config(),
                n.instance_types(),
            ));
        }
    }
    out.insert("EKS node groups", groups);
    // Everything EC2 says of each, so that any change shows.
    let vpcs = ec2c.describe_vpcs().send().await.expect("VPCs");
    out.insert(
        "VPCs",
        vpcs.vpcs().iter().map(|v| format!("{v:?}")).collect(),
    );
    let subnets = ec2c.describe_subnets().send().await.expect("subnets");
    out.insert(
        "subnets",
        subnets.subnets().iter().map(|s| format!("{s:?}")).collect(),
    );
    let mut roles = Vec::new();
    let listed = iamc.list_roles().send().await.expect("roles");
    for r in listed.roles() {
        let inline = iamc
            .list_role_policies()
            .role_name(r.role_name())
            .send()
            .await
            .expect("inline policies");
        let attached = iamc
            .list_attached_role_policies()
            .role_name(r.role_name())
            .send()
            .await
            .expect("attached policies");
        let attached: Vec<&str> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect();
        roles.push(format!(
            "{} trust={} inline={:?} attached={attached:?}",
            r.arn(),
            policy_document(r.assume_role_policy_document().unwrap_or_default()),
            inline.policy_names(),
        ));
    }
    out.insert("IAM roles", roles);
    for list in out.values_mut() {
        list.sort();
    }
    out
}

/// The `--var-file` of a fleet spec: `clusters = { KEY = { account_role,
/// region, cluster } }`, one entry per (key, role ARN to assume, Region,
/// cluster name).
pub fn fleet_vars(clusters: &[(&str, &str, &str, &str)]) -> String {
    let entries: Vec<String> = clusters
        .iter()
        .map(|(key, role, region, cluster)| {
            format!(
                "{key} = {{ account_role = {role:?}, region = {region:?}, cluster = {cluster:?} }}"
            )
        })
        .collect();
    format!("clusters = {{ {} }}\n", entries.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube_api::{Auth, Options};
    use crate::moto::Moto;

    #[test]
    fn a_cidr_gives_two_subnets() {
        assert_eq!(
            two_subnets("10.40.0.0/16"),
            ["10.40.0.0/19", "10.40.32.0/19"]
        );
        assert_eq!(two_subnets("10.1.2.0/24"), ["10.1.2.0/27", "10.1.2.32/27"]);
        assert_eq!(
            fleet_vars(&[
                (
                    "payments",
                    "arn:aws:iam::111111111111:role/meshmon",
                    "eu-west-1",
                    "payments-eu"
                ),
                (
                    "checkout",
                    "arn:aws:iam::222222222222:role/meshmon",
                    "eu-west-1",
                    "checkout-eu"
                ),
            ]),
            "clusters = { payments = { account_role = \"arn:aws:iam::111111111111:role/meshmon\", \
             region = \"eu-west-1\", cluster = \"payments-eu\" }, checkout = { account_role = \
             \"arn:aws:iam::222222222222:role/meshmon\", region = \"eu-west-1\", cluster = \
             \"checkout-eu\" } }\n"
        );
    }

    /// Two clusters of the same name, one in the default account and one
    /// in 222222222222 (a session of its `meshmon` role): each account
    /// sees its own cluster, node group, VPC, subnets and roles only, with
    /// ARNs in its own account; the double serves each from its API
    /// server. Needs moto.
    #[test]
    fn existing_clusters_are_made_and_counted_per_account() {
        let moto = Moto::start();
        let double = EksDouble::forwarding(Duration::from_millis(100), &moto.endpoint());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sdk = rt.block_on(moto.sdk_config());
        let api = |cluster: &str| {
            KubeApi::start(
                Auth::Eks {
                    region: REGION.into(),
                    cluster: cluster.into(),
                },
                Options::default(),
            )
        };
        let (home_api, away_api) = (api("shop"), api("shop"));
        let (away, role) = rt.block_on(account_role(&sdk, "222222222222", "meshmon"));
        assert_eq!(role, "arn:aws:iam::222222222222:role/meshmon");
        let before = rt.block_on(inventory(&sdk, &double, ACCOUNT));
        assert!(before["EKS clusters"].is_empty(), "{before:#?}");
        assert!(before["EKS node groups"].is_empty(), "{before:#?}");

        let home = rt.block_on(make_cluster(
            &sdk,
            &double,
            "shop",
            "10.40.0.0/16",
            &home_api,
        ));
        let made = rt.block_on(make_cluster(
            &away,
            &double,
            "shop",
            "10.50.0.0/16",
            &away_api,
        ));
        assert_eq!(home.account, ACCOUNT);
        assert_eq!(made.account, "222222222222");
        assert_eq!(made.arn, "arn:aws:eks:eu-west-1:222222222222:cluster/shop");
        assert_eq!(made.subnet_ids.len(), 2);
        assert!(made.nodegroup_arn.contains(":222222222222:"), "{made:?}");
        assert_eq!(
            made.node_role_arn,
            "arn:aws:iam::222222222222:role/shop-node"
        );

        let doc = double
            .cluster_in("222222222222", "shop")
            .expect("the cluster");
        assert_eq!(doc["arn"], made.arn.as_str());
        assert_eq!(doc["status"], "ACTIVE");
        assert_eq!(doc["endpoint"], away_api.endpoint().as_str());
        assert_eq!(doc["resourcesVpcConfig"]["vpcId"], made.vpc_id.as_str());
        assert_eq!(
            doc["accessConfig"]["authenticationMode"],
            "API_AND_CONFIG_MAP"
        );
        assert_eq!(doc["resourcesVpcConfig"]["endpointPrivateAccess"], true);
        assert_eq!(
            double.cluster("shop").unwrap()["endpoint"],
            home_api.endpoint().as_str()
        );
        assert_eq!(double.cluster_by_arn(&made.arn), Some(doc));
        // The creator's admin entry, in the creator's account.
        assert_eq!(
            double.access_entries_in("222222222222"),
            [("shop".to_string(), role.clone())]
        );
        assert_eq!(
            double.access_entries(),
            [(
                "shop".to_string(),
                crate::eks_double::DEFAULT_CALLER.to_string()
            )]
        );

        let theirs = rt.block_on(inventory(&away, &double, "222222222222"));
        let ours = rt.block_on(inventory(&sdk, &double, ACCOUNT));
        for (inv, vpc) in [(&theirs, &made.vpc_id), (&ours, &home.vpc_id)] {
            assert_eq!(inv["EKS clusters"].len(), 1, "{inv:#?}");
            assert_eq!(inv["EKS node groups"].len(), 1, "{inv:#?}");
            assert_eq!(
                inv["VPCs"]
                    .iter()
                    .filter(|v| v.contains(r#"key: Some("Name"), value: Some("shop")"#))
                    .count(),
                1
            );
            assert_eq!(
                inv["subnets"]
                    .iter()
                    .filter(|s| s.contains(vpc.as_str()))
                    .count(),
                2,
                "{inv:#?}"
            );
        }
        assert!(
            theirs["EKS node groups"][0].contains(":222222222222:"),
            "{theirs:#?}"
        );
        assert!(theirs["VPCs"].iter().any(|v| v.contains(&made.vpc_id)));
        assert!(!ours["VPCs"].iter().any(|v| v.contains(&made.vpc_id)));
        assert!(
            theirs["IAM roles"]
                .iter()
                .all(|r| r.contains(":222222222222:")),
            "{theirs:#?}"
        );
        assert_eq!(
            theirs["IAM roles"].len(),
            3,
            "meshmon, shop-cluster, shop-node: {theirs:#?}"
        );
        assert_eq!(ours["IAM roles"].len(), 2, "{ours:#?}");
        // Nothing changed: the same again.
        assert_eq!(
            rt.block_on(inventory(&away, &double, "222222222222")),
            theirs
        );
    }
}
