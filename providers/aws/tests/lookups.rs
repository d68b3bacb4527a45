//! The `aws` provider's look-ups against a moto server, configured as the
//! engine configures the provider (`Aws.configure` and the standard
//! environment). For each look-up: the object made out of band with a
//! separate SDK client is found by each key it can be searched by, with
//! the resource type's attribute names; a key that matches nothing is a
//! "found no …" error naming the keys and the closest names that exist;
//! keys that match several objects are an error listing them.
//!
//! One test function, so that one moto serves the file and the process
//! environment is set once, before anything reads it. EKS goes to the EKS
//! double in front of moto: moto's clusters have no VPC ID, cluster
//! security group or access configuration, which the look-up reports.

use std::sync::Arc;
use std::time::Duration;

use meshmon_provider_aws::Aws;
use meshmon_provider_sdk::lookup::{AMBIGUOUS, NOT_FOUND};
use meshmon_provider_sdk::{Configured, Map, OpContext, Provider, ProviderError, Value};
use meshmon_test_support::eks_double::EksDouble;
use meshmon_test_support::moto::{ACCOUNT, Moto, REGION, sdk_config_for};
use meshmon_test_support::{amp, ec2, eks, iam, sns};
use serde_json::json;

fn map(v: serde_json::Value) -> Map {
    Value::from(v).as_map().cloned().expect("a table")
}

struct Env {
    configured: Arc<dyn Configured>,
    /// Clients that make the objects out of band.
    ec2: ec2::Client,
    eks: eks::Client,
    iam: iam::Client,
    amp: amp::Client,
    sns: sns::Client,
}

impl Env {
    async fn find(&self, type_name: &str, inputs: serde_json::Value) -> Result<Map, ProviderError> {
        let lookup = self
            .configured
            .lookup(type_name)
            .unwrap_or_else(|| panic!("the aws provider offers no look-up {type_name}"));
        lookup
            .find(
                &OpContext::quiet(format!("data.{type_name}.t")),
                &map(inputs),
            )
            .await
    }

    async fn found(&self, type_name: &str, inputs: serde_json::Value) -> Map {
        self.find(type_name, inputs)
            .await
            .unwrap_or_else(|e| panic!("{type_name}: {e}"))
    }
}

fn str_of<'a>(m: &'a Map, k: &str) -> &'a str {
    m.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string `{k}` in {m:?}"))
}

fn strs(m: &Map, k: &str) -> Vec<String> {
    m.get(k)
        .and_then(Value::as_list)
        .unwrap_or_else(|| panic!("no list `{k}` in {m:?}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect()
}

fn tags(pairs: &[(&str, &str)]) -> Value {
    Value::from(serde_json::Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    ))
}

/// A look-up that finds nothing says so with the keys and the code every
/// not-found error has, and suggests what exists that is close, best first.
fn assert_not_found(e: &ProviderError, keys: &str, suggests: &str) {
    assert_eq!(e.code.as_deref(), Some(NOT_FOUND), "{e}");
    assert!(e.message.contains(keys), "{e}");
    let hint = e.hint.as_deref().unwrap_or_default();
    assert!(
        hint.starts_with(&format!("did you mean {suggests:?}")),
        "{hint}"
    );
}

/// A look-up that finds several says so and names each.
fn assert_ambiguous(e: &ProviderError, found: &[&str]) {
    assert_eq!(e.code.as_deref(), Some(AMBIGUOUS), "{e}");
    for f in found {
        assert!(e.message.contains(&format!("{f:?}")), "{e}");
    }
}

async fn caller_identity(env: &Env) {
    let found = env.found("aws_caller_identity", json!({})).await;
    assert_eq!(str_of(&found, "account_id"), ACCOUNT);
    assert_eq!(str_of(&found, "partition"), "aws");
    assert!(str_of(&found, "arn").starts_with("arn:aws:"), "{found:?}");
}

async fn eks_cluster(env: &Env) {
    use eks::types::{
        AuthenticationMode, CreateAccessConfigRequest, LogSetup, LogType, Logging, VpcConfigRequest,
    };
    let role = format!("arn:aws:iam::{ACCOUNT}:role/eks-cluster");
    env.eks
        .create_cluster()
        .name("monitoring")
        .role_arn(&role)
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .subnet_ids("subnet-0a")
                .subnet_ids("subnet-0b")
                .endpoint_private_access(true)
                .build(),
        )
        .access_config(
            CreateAccessConfigRequest::builder()
                .authentication_mode(AuthenticationMode::ApiAndConfigMap)
                .build(),
        )
        .logging(
            Logging::builder()
                .cluster_logging(
                    LogSetup::builder()
                        .types(LogType::Audit)
                        .types(LogType::Api)
                        .enabled(true)
                        .build(),
                )
                .build(),
        )
        .tags("team", "obs")
        .tags("meshmon:lineage", "L1")
        .send()
        .await
        .expect("create the cluster out of band");

    let found = env
        .found("aws_eks_cluster", json!({ "name": "monitoring" }))
        .await;
    assert_eq!(str_of(&found, "id"), "monitoring");
    assert_eq!(
        str_of(&found, "arn"),
        format!("arn:aws:eks:{REGION}:{ACCOUNT}:cluster/monitoring")
    );
    assert_eq!(str_of(&found, "role_arn"), role);
    assert_eq!(strs(&found, "subnet_ids"), ["subnet-0a", "subnet-0b"]);
    assert_eq!(str_of(&found, "vpc_id"), "vpc-0double");
    assert_eq!(str_of(&found, "cluster_security_group_id"), "sg-0double");
    assert_eq!(found["endpoint_private_access"], Value::Bool(true));
    assert_eq!(found["endpoint_public_access"], Value::Bool(true));
    assert!(
        str_of(&found, "endpoint").starts_with("https://"),
        "{found:?}"
    );
    assert!(!str_of(&found, "certificate_authority").is_empty());
    assert!(
        str_of(&found, "oidc_issuer").starts_with("https://oidc.eks."),
        "{found:?}"
    );
    assert!(!str_of(&found, "version").is_empty());
    assert_eq!(str_of(&found, "status"), "ACTIVE");
    assert_eq!(
        found["access_config"].as_map().unwrap()["authentication_mode"],
        Value::from("API_AND_CONFIG_MAP")
    );
    assert_eq!(strs(&found, "enabled_log_types"), ["api", "audit"]);
    assert_eq!(found["tags"], tags(&[("team", "obs")]));

    let e = env
        .find("aws_eks_cluster", json!({ "name": "monitorng" }))
        .await
        .unwrap_err();
    assert_not_found(&e, "name = \"monitorng\"", "monitoring");
}

async fn oidc_provider(env: &Env) {
    let url = "https://oidc.eks.eu-west-1.amazonaws.com/id/5C5D7AF1E3B04A1B";
    let made = env
        .iam
        .create_open_id_connect_provider()
        .url(url)
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
        .tags(
            iam::types::Tag::builder()
                .key("team")
                .value("obs")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create the OIDC provider out of band");
    let arn = made.open_id_connect_provider_arn().unwrap();

    // With its scheme, as EKS gives the issuer, and without it (IAM's
    // spelling), with a trailing slash.
    for spelling in [url.to_string(), format!("{}/", &url["https://".len()..])] {
        let found = env
            .found("aws_iam_oidc_provider", json!({ "url": spelling }))
            .await;
        assert_eq!(str_of(&found, "arn"), arn);
        assert_eq!(str_of(&found, "id"), arn);
        assert_eq!(strs(&found, "client_ids"), ["sts.amazonaws.com"]);
        assert_eq!(
            strs(&found, "thumbprints"),
            ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
        );
        assert_eq!(found["tags"], tags(&[("team", "obs")]));
    }

    let wrong = "https://oidc.eks.eu-west-1.amazonaws.com/id/5C5D7AF1E3B04A1C";
    let e = env
        .find("aws_iam_oidc_provider", json!({ "url": wrong }))
        .await
        .unwrap_err();
    assert_not_found(&e, wrong, url);
}

/// Makes a VPC with these tags; its ID.
async fn vpc(env: &Env, cidr: &str, with: &[(&str, &str)]) -> String {
    let spec = ec2::types::TagSpecification::builder()
        .resource_type(ec2::types::ResourceType::Vpc)
        .set_tags(Some(
            with.iter()
                .map(|(k, v)| ec2::types::Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .build();
    let out = env
        .ec2
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(spec)
        .send()
        .await
        .expect("create a VPC out of band");
    out.vpc.unwrap().vpc_id.unwrap()
}

/// Makes a subnet with these tags; its ID.
async fn subnet(env: &Env, vpc: &str, cidr: &str, zone: &str, with: &[(&str, &str)]) -> String {
    let spec = ec2::types::TagSpecification::builder()
        .resource_type(ec2::types::ResourceType::Subnet)
        .set_tags(Some(
            with.iter()
                .map(|(k, v)| ec2::types::Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .build();
    let out = env
        .ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(zone)
        .tag_specifications(spec)
        .send()
        .await
        .expect("create a subnet out of band");
    out.subnet.unwrap().subnet_id.unwrap()
}

async fn vpc_and_subnets(env: &Env) {
    let a = vpc(
        env,
        "10.1.0.0/16",
        &[
            ("Name", "meshmon-lookup-a"),
            ("team", "obs"),
            ("meshmon:address", "aws_vpc.a"),
        ],
    )
    .await;
    let b = vpc(
        env,
        "10.2.0.0/16",
        &[("Name", "meshmon-lookup-b"), ("team", "obs")],
    )
    .await;

    // By ID: the VPC's tags come back, without meshmon's.
    let found = env.found("aws_vpc", json!({ "id": a })).await;
    assert_eq!(str_of(&found, "id"), a);
    assert_eq!(str_of(&found, "cidr_block"), "10.1.0.0/16");
    assert_eq!(
        str_of(&found, "arn"),
        format!("arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{a}")
    );
    assert_eq!(found["enable_dns_support"], Value::Bool(true));
    assert!(
        found["enable_dns_hostnames"].as_bool().is_some(),
        "{found:?}"
    );
    assert_eq!(
        found["tags"],
        tags(&[("Name", "meshmon-lookup-a"), ("team", "obs")])
    );
    // By tags, and by both: the search's tags stand, so none come back.
    let by_tags = json!({ "tags": { "Name": "meshmon-lookup-a" } });
    let found = env.found("aws_vpc", by_tags).await;
    assert_eq!(str_of(&found, "id"), a);
    assert_eq!(str_of(&found, "cidr_block"), "10.1.0.0/16");
    assert!(!found.contains_key("tags"), "{found:?}");
    let both = json!({ "id": b, "tags": { "team": "obs" } });
    assert_eq!(str_of(&env.found("aws_vpc", both).await, "id"), b);

    let e = env
        .find("aws_vpc", json!({ "tags": { "Name": "meshmon-lokup-a" } }))
        .await
        .unwrap_err();
    assert_not_found(&e, "meshmon-lokup-a", "meshmon-lookup-a");
    let misspelt = format!("{}x", &a[..a.len() - 1]);
    let e = env
        .find("aws_vpc", json!({ "id": misspelt }))
        .await
        .unwrap_err();
    assert_not_found(&e, &misspelt, &a);
    let e = env
        .find("aws_vpc", json!({ "tags": { "team": "obs" } }))
        .await
        .unwrap_err();
    assert_ambiguous(&e, &[&a, &b]);
    let e = env.find("aws_vpc", json!({})).await.unwrap_err();
    assert!(e.message.contains("needs something to search by"), "{e}");

    let internal = [("role", "internal")];
    let s1 = subnet(env, &a, "10.1.1.0/24", "eu-west-1b", &internal).await;
    let s2 = subnet(env, &a, "10.1.2.0/24", "eu-west-1a", &internal).await;
    let s3 = subnet(env, &a, "10.1.3.0/24", "eu-west-1a", &[("role", "public")]).await;
    let mut all = vec![s1.clone(), s2.clone(), s3];
    all.sort();
    let mut internal_ids = vec![s1, s2];
    internal_ids.sort();

    let found = env.found("aws_subnets", json!({ "vpc_id": a })).await;
    assert_eq!(strs(&found, "ids"), all);
    assert_eq!(
        strs(&found, "availability_zones"),
        ["eu-west-1a", "eu-west-1b"]
    );
    let found = env
        .found(
            "aws_subnets",
            json!({ "vpc_id": a, "tags": { "role": "internal" } }),
        )
        .await;
    assert_eq!(strs(&found, "ids"), internal_ids);
    let found = env
        .found("aws_subnets", json!({ "tags": { "role": "internal" } }))
        .await;
    assert_eq!(strs(&found, "ids"), internal_ids);

    // None found is an error for this plural look-up too.
    let e = env
        .find("aws_subnets", json!({ "tags": { "role": "internl" } }))
        .await
        .unwrap_err();
    assert_not_found(&e, "internl", "internal");
    let e = env
        .find("aws_subnets", json!({ "vpc_id": misspelt }))
        .await
        .unwrap_err();
    assert_not_found(&e, &misspelt, &a);
    let e = env
        .find("aws_subnets", json!({ "vpc_id": b }))
        .await
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some(NOT_FOUND), "{e}");
}

/// Makes a workspace; its ID.
async fn workspace(env: &Env, alias: &str) -> String {
    env.amp
        .create_workspace()
        .alias(alias)
        .tags("team", "obs")
        .send()
        .await
        .expect("create a workspace out of band")
        .workspace_id
}

async fn amp_workspace(env: &Env) {
    let id = workspace(env, "meshmon-lookup").await;
    let twin1 = workspace(env, "meshmon-twin").await;
    let twin2 = workspace(env, "meshmon-twin").await;

    let by_id = env.found("aws_amp_workspace", json!({ "id": id })).await;
    let by_alias = env
        .found("aws_amp_workspace", json!({ "alias": "meshmon-lookup" }))
        .await;
    assert_eq!(by_id, by_alias);
    assert_eq!(str_of(&by_id, "id"), id);
    assert_eq!(str_of(&by_id, "alias"), "meshmon-lookup");
    assert_eq!(
        str_of(&by_id, "arn"),
        format!("arn:aws:aps:{REGION}:{ACCOUNT}:workspace/{id}")
    );
    assert_eq!(str_of(&by_id, "account_id"), ACCOUNT);
    let endpoint = str_of(&by_id, "prometheus_endpoint");
    assert!(endpoint.ends_with('/'), "{endpoint}");
    assert_eq!(
        str_of(&by_id, "remote_write_url"),
        format!("{endpoint}api/v1/remote_write")
    );
    assert_eq!(
        str_of(&by_id, "query_url"),
        format!("{endpoint}api/v1/query")
    );
    assert_eq!(str_of(&by_id, "status"), "ACTIVE");
    assert_eq!(by_id["tags"], tags(&[("team", "obs")]));

    let e = env
        .find("aws_amp_workspace", json!({ "alias": "meshmon-lokup" }))
        .await
        .unwrap_err();
    assert_not_found(&e, "alias = \"meshmon-lokup\"", "meshmon-lookup");
    let misspelt = format!("{}x", &id[..id.len() - 1]);
    let e = env
        .find("aws_amp_workspace", json!({ "id": misspelt }))
        .await
        .unwrap_err();
    assert_not_found(&e, &misspelt, &id);
    let e = env
        .find("aws_amp_workspace", json!({ "alias": "meshmon-twin" }))
        .await
        .unwrap_err();
    assert_ambiguous(&e, &[&twin1, &twin2]);
    let e = env
        .find(
            "aws_amp_workspace",
            json!({ "id": id, "alias": "meshmon-lookup" }),
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("exactly one"), "{e}");
}

async fn sns_topic(env: &Env) {
    let arn = env
        .sns
        .create_topic()
        .name("meshmon-alerts")
        .attributes("DisplayName", "Meshmon alerts")
        .tags(
            sns::types::Tag::builder()
                .key("team")
                .value("obs")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create the topic out of band")
        .topic_arn
        .unwrap();
    env.sns
        .create_topic()
        .name("billing")
        .send()
        .await
        .expect("create another topic out of band");

    let found = env
        .found("aws_sns_topic", json!({ "name": "meshmon-alerts" }))
        .await;
    assert_eq!(str_of(&found, "arn"), arn);
    assert_eq!(str_of(&found, "id"), arn);
    assert_eq!(
        arn,
        format!("arn:aws:sns:{REGION}:{ACCOUNT}:meshmon-alerts")
    );
    assert_eq!(str_of(&found, "display_name"), "Meshmon alerts");
    assert!(found["policy"].as_map().is_some(), "{found:?}");
    assert_eq!(found["tags"], tags(&[("team", "obs")]));

    let e = env
        .find("aws_sns_topic", json!({ "name": "meshmon-alert" }))
        .await
        .unwrap_err();
    assert_not_found(&e, "name = \"meshmon-alert\"", "meshmon-alerts");
    assert!(!e.hint.unwrap().contains("billing"));
}

#[test]
fn lookups_find_existing_objects_by_their_keys() {
    let moto = Moto::start();
    let eks_double = EksDouble::forwarding(Duration::ZERO, &moto.endpoint());
    for (k, v) in moto.env() {
        // SAFETY: set before the runtime starts any thread, in the only
        // test function of this binary.
        unsafe { std::env::set_var(&k, v) };
    }
    // SAFETY: as above.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL_EKS", eks_double.endpoint()) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let configured = Aws
            .configure(&map(json!({ "region": REGION })))
            .await
            .expect("configure");
        let sdk = moto.sdk_config().await;
        let env = Env {
            configured,
            ec2: ec2::Client::new(&sdk),
            eks: eks::Client::new(&sdk_config_for(&eks_double.endpoint()).await),
            iam: iam::Client::new(&sdk),
            amp: amp::Client::new(&sdk),
            sns: sns::Client::new(&sdk),
        };
        caller_identity(&env).await;
        eks_cluster(&env).await;
        oidc_provider(&env).await;
        vpc_and_subnets(&env).await;
        amp_workspace(&env).await;
        sns_topic(&env).await;
    });
}
