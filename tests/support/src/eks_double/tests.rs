//! How long the double's creates take: a cluster's own create delay, and
//! node groups forwarded to moto kept CREATING for theirs. Needs moto.

use std::time::Duration;

use super::*;
use crate::eks;
use crate::moto::Moto;

const ROLE: &str = "arn:aws:iam::123456789012:role/eks";

/// moto behind the double (settling in 50 ms), and an SDK client of the
/// double's.
struct Setup {
    double: EksDouble,
    rt: tokio::runtime::Runtime,
    client: eks::Client,
    _moto: Moto,
}

impl Setup {
    fn start() -> Setup {
        let moto = Moto::start();
        let double = EksDouble::forwarding(Duration::from_millis(50), &moto.endpoint());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sdk = rt.block_on(moto.sdk_config());
        let client = eks::Client::from_conf(
            eks::config::Builder::from(&sdk)
                .endpoint_url(double.endpoint())
                .build(),
        );
        Setup {
            double,
            rt,
            client,
            _moto: moto,
        }
    }

    fn create_cluster(&self) {
        let vpc = eks::types::VpcConfigRequest::builder()
            .subnet_ids("subnet-1")
            .build();
        let create = self
            .client
            .create_cluster()
            .name("c")
            .role_arn(ROLE)
            .resources_vpc_config(vpc);
        self.rt.block_on(create.send()).expect("CreateCluster");
    }

    /// The status CreateNodegroup answers.
    fn create_node_group(&self) -> String {
        let create = self
            .client
            .create_nodegroup()
            .cluster_name("c")
            .nodegroup_name("ng")
            .subnets("subnet-1")
            .node_role(ROLE);
        let out = self.rt.block_on(create.send()).expect("CreateNodegroup");
        let status = out.nodegroup().and_then(|n| n.status());
        status.map(|s| s.as_str().to_string()).unwrap_or_default()
    }

    fn cluster(&self) -> String {
        let describe = self.client.describe_cluster().name("c");
        let out = self.rt.block_on(describe.send()).expect("DescribeCluster");
        let status = out.cluster().and_then(|c| c.status());
        status.map(|s| s.as_str().to_string()).unwrap_or_default()
    }

    fn node_group(&self) -> String {
        let describe = self
            .client
            .describe_nodegroup()
            .cluster_name("c")
            .nodegroup_name("ng");
        let out = self
            .rt
            .block_on(describe.send())
            .expect("DescribeNodegroup");
        let status = out.nodegroup().and_then(|n| n.status());
        status.map(|s| s.as_str().to_string()).unwrap_or_default()
    }
}

#[test]
fn clusters_and_node_groups_take_their_own_create_delays() {
    let s = Setup::start();
    s.double
        .set_cluster_create_delay(Duration::from_millis(600));
    s.double.set_node_group_delay(Duration::from_millis(600));
    s.create_cluster();
    // Past the settle time, not the cluster's create delay.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(s.cluster(), "CREATING");
    std::thread::sleep(Duration::from_millis(550));
    assert_eq!(s.cluster(), "ACTIVE");

    assert_eq!(s.create_node_group(), "CREATING");
    assert_eq!(s.node_group(), "CREATING");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        s.node_group(),
        "ACTIVE",
        "moto's status once the delay is over"
    );
    let calls = s.double.calls();
    assert!(
        calls.contains(&"Forwarded POST /clusters/c/node-groups".to_string()),
        "{calls:?}"
    );
}

#[test]
fn without_a_node_group_delay_node_groups_are_as_moto_makes_them() {
    let s = Setup::start();
    s.create_cluster();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.cluster(), "ACTIVE");
    assert_eq!(s.create_node_group(), "ACTIVE");
    assert_eq!(s.node_group(), "ACTIVE");
}
