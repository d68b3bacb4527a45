//! `recover` and the one-shot create calls of the `aws` provider, against
//! one moto server (and the AMP test double for scrapers, which moto
//! lacks), configured as the engine configures it: through `Aws.configure`
//! and the standard environment. Every request passes a proxy that forwards
//! it to moto, and for a chosen create either cuts the connection after
//! moto acted, answers 500 after moto acted, or answers "throttled" without
//! passing it on.
//!
//! Shown for each type moto has: a create made with an intent is found
//! again by `recover` with the same intent, which returns what the create
//! returned; nothing is found for another lineage, another address, or an
//! earlier create at the same address; reads never show `meshmon:` tags.
//! A create whose answer is lost fails as ambiguous after one request, and
//! recovery finds the one object it made; a throttled create is sent again.
//!
//! One test function, so that one moto serves the file and the process
//! environment is set once, before anything reads it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshmon_provider_aws::Aws;
use meshmon_provider_sdk::{
    Configured, Current, Intent, Map, OpContext, Provider, Resource, Value,
};
use meshmon_test_support::amp_double::AmpDouble;
use meshmon_test_support::http::{Reply, Request, Response, Server, forward};
use meshmon_test_support::moto::{ACCOUNT, Moto, REGION};
use serde_json::json;

const LINEAGE: &str = "0b9d6c1e-7f2a-4e3b-8c5d-6a7b8c9d0e1f";

fn map(v: serde_json::Value) -> Map {
    Value::from(v).as_map().cloned().expect("a table")
}

/// The context of a create the engine journaled with `token`.
fn create_ctx(address: &str, lineage: &str, token: &str) -> OpContext {
    OpContext::quiet(address).with_intent(Intent {
        token: token.into(),
        lineage: lineage.into(),
    })
}

/// What the proxy does with a request a rule picks.
#[derive(Clone, Copy)]
enum Fate {
    /// Forward it, then close the connection without an answer.
    Cut,
    /// Forward it, then answer 500 (AWS-shaped, JSON protocols).
    Late500,
    /// Answer 503 RequestLimitExceeded (EC2's throttling) without forwarding.
    Throttled,
}

struct Rule {
    pick: Box<dyn Fn(&str) -> bool + Send + Sync>,
    fate: Fate,
    /// How many more picked requests get the fate.
    left: AtomicUsize,
    /// How many requests the rule picked.
    seen: AtomicUsize,
}

/// A proxy to moto that applies [`Rule`]s to the requests they pick.
struct Proxy {
    server: Server,
    rules: Arc<Mutex<Vec<Arc<Rule>>>>,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let upstream = upstream.to_string();
        let rules: Arc<Mutex<Vec<Arc<Rule>>>> = Arc::default();
        let active = rules.clone();
        let server = Server::start_replying(Arc::new(move |req: &Request| {
            let text = format!("{} {}", req.target, String::from_utf8_lossy(&req.body));
            let rule = active
                .lock()
                .unwrap()
                .iter()
                .find(|r| (r.pick)(&text))
                .cloned();
            let Some(rule) = rule else {
                return Reply::Send(forward(&upstream, req));
            };
            rule.seen.fetch_add(1, Ordering::SeqCst);
            let hit = rule
                .left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                .is_ok();
            if !hit {
                return Reply::Send(forward(&upstream, req));
            }
            match rule.fate {
                Fate::Cut => {
                    forward(&upstream, req);
                    Reply::Close
                }
                Fate::Late500 => {
                    forward(&upstream, req);
                    let mut r = Response::json(500, &json!({ "message": "internal error" }));
                    r.headers
                        .push(("x-amzn-ErrorType".into(), "InternalServerException".into()));
                    Reply::Send(r)
                }
                Fate::Throttled => Reply::Send(Response {
                    status: 503,
                    headers: vec![("Content-Type".into(), "text/xml".into())],
                    body: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                        <Response><Errors><Error><Code>RequestLimitExceeded</Code>\
                        <Message>Request limit exceeded.</Message></Error></Errors>\
                        <RequestID>1</RequestID></Response>"
                        .to_vec(),
                }),
            }
        }));
        Proxy { server, rules }
    }

    /// Gives the first `times` requests whose target and body contain all of
    /// `parts` the fate `fate`; the returned rule counts what it picked.
    fn rule(&self, parts: &[&str], fate: Fate, times: usize) -> Arc<Rule> {
        let parts: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        let rule = Arc::new(Rule {
            pick: Box::new(move |text: &str| parts.iter().all(|p| text.contains(p.as_str()))),
            fate,
            left: AtomicUsize::new(times),
            seen: AtomicUsize::new(0),
        });
        self.rules.lock().unwrap().push(rule.clone());
        rule
    }
}

struct World {
    aws: Arc<dyn Configured>,
    proxy: Proxy,
    ec2: aws_sdk_ec2::Client,
    amp: aws_sdk_amp::Client,
}

impl World {
    fn resource(&self, type_name: &str) -> Arc<dyn Resource> {
        self.aws.resource(type_name).expect("type")
    }
}

/// Creates with `ctx`, recovers with the same context, and checks that
/// recovery returns what the create returned.
async fn create_and_recover(r: &dyn Resource, ctx: &OpContext, inputs: &Map) -> Map {
    let created = r
        .create(ctx, inputs)
        .await
        .unwrap_or_else(|e| panic!("{}: create: {e}", ctx.address));
    let recovered = r
        .recover(ctx, inputs)
        .await
        .unwrap_or_else(|e| panic!("{}: recover: {e}", ctx.address))
        .unwrap_or_else(|| panic!("{}: recover found nothing", ctx.address));
    assert_eq!(
        recovered, created,
        "{}: recover returns what create did",
        ctx.address
    );
    created
}

/// Recovery with contexts that did not make the object finds nothing:
/// another lineage, another address, an earlier create at the address.
async fn nothing_for_others(r: &dyn Resource, address: &str, token: &str, inputs: &Map) {
    let others = [
        create_ctx(address, "another-lineage", token),
        create_ctx(&format!("{address}_other"), LINEAGE, token),
        create_ctx(address, LINEAGE, &format!("{token}-earlier")),
    ];
    let (a, b, c) = tokio::join!(
        r.recover(&others[0], inputs),
        r.recover(&others[1], inputs),
        r.recover(&others[2], inputs),
    );
    for (c, f) in others.iter().zip([a, b, c]) {
        let f = f.unwrap_or_else(|e| panic!("{}: recover: {e}", c.address));
        assert_eq!(
            f,
            None,
            "{} with lineage {:?}, token {:?} is not the create's",
            c.address,
            c.intent.as_ref().map(|i| &i.lineage),
            c.client_token()
        );
    }
}

/// The user's tags as read back; `meshmon:` tags must not be among them.
fn read_tags(read: &Current) -> Map {
    let tags = read
        .inputs
        .get("tags")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default();
    assert!(
        tags.keys().all(|k| !k.starts_with("meshmon:")),
        "a read shows meshmon's tags: {tags:?}"
    );
    tags
}

async fn vpc_by_tags(w: &World) -> String {
    let r = w.resource("aws_vpc");
    let address = "aws_vpc.main";
    let ctx = create_ctx(address, LINEAGE, "tok-vpc-1");
    let inputs = map(json!({
        "cidr_block": "10.10.0.0/16", "enable_dns_support": true,
        "enable_dns_hostnames": true, "tags": { "Name": "main" },
    }));
    let out = create_and_recover(&*r, &ctx, &inputs).await;
    nothing_for_others(&*r, address, "tok-vpc-1", &inputs).await;
    let id = out["id"].as_str().unwrap().to_string();

    // The marks are on the VPC, and a read leaves them out.
    let live = w.ec2.describe_vpcs().vpc_ids(&id).send().await.unwrap();
    let live_tags: Vec<(String, String)> = live.vpcs()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect();
    for (k, v) in [
        ("meshmon:lineage", LINEAGE),
        ("meshmon:address", address),
        ("meshmon:token", "tok-vpc-1"),
    ] {
        assert!(
            live_tags.contains(&(k.into(), v.into())),
            "{k}: {live_tags:?}"
        );
    }
    let prior = Current::new(inputs.clone(), out.clone());
    let read = r
        .read(&OpContext::quiet(address), &prior)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_tags(&read), map(json!({ "Name": "main" })));
    assert_eq!(read.inputs, inputs, "no drift after a create with marks");

    // A tag update changes the user's tags and leaves the marks alone.
    let mut changed = inputs.clone();
    changed.insert("tags".into(), Value::from(json!({ "team": "obs" })));
    r.update(&OpContext::quiet(address), &prior, &changed)
        .await
        .unwrap();
    let live = w.ec2.describe_vpcs().vpc_ids(&id).send().await.unwrap();
    let keys: Vec<&str> = live.vpcs()[0]
        .tags()
        .iter()
        .filter_map(|t| t.key())
        .collect();
    assert!(
        keys.contains(&"team") && !keys.contains(&"Name"),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"meshmon:lineage") && keys.contains(&"meshmon:token"),
        "{keys:?}"
    );
    id
}

async fn vpcs_with_cidr(w: &World, cidr: &str) -> usize {
    let f = aws_sdk_ec2::types::Filter::builder()
        .name("cidr")
        .values(cidr)
        .build();
    w.ec2
        .describe_vpcs()
        .filters(f)
        .send()
        .await
        .unwrap()
        .vpcs()
        .len()
}

async fn vpc_lost_answer(w: &World) {
    let rule = w.proxy.rule(
        &["Action=CreateVpc", "CidrBlock=10.42.0.0%2F16"],
        Fate::Cut,
        1,
    );
    let r = w.resource("aws_vpc");
    let ctx = create_ctx("aws_vpc.lost", LINEAGE, "tok-vpc-lost");
    let inputs = map(json!({ "cidr_block": "10.42.0.0/16" }));
    let e = r
        .create(&ctx, &inputs)
        .await
        .expect_err("the answer was lost");
    assert!(e.ambiguous, "a lost answer is ambiguous: {e}");
    assert_eq!(
        rule.seen.load(Ordering::SeqCst),
        1,
        "CreateVpc is never sent twice"
    );
    let found = r.recover(&ctx, &inputs).await.unwrap().expect("recovered");
    assert!(
        found["id"].as_str().unwrap().starts_with("vpc-"),
        "{found:?}"
    );
    assert_eq!(vpcs_with_cidr(w, "10.42.0.0/16").await, 1);
}

async fn vpc_throttled(w: &World) {
    let rule = w.proxy.rule(
        &["Action=CreateVpc", "CidrBlock=10.43.0.0%2F16"],
        Fate::Throttled,
        1,
    );
    let r = w.resource("aws_vpc");
    let ctx = create_ctx("aws_vpc.throttled", LINEAGE, "tok-vpc-throttled");
    let inputs = map(json!({ "cidr_block": "10.43.0.0/16" }));
    r.create(&ctx, &inputs)
        .await
        .expect("sent again after throttling");
    assert_eq!(rule.seen.load(Ordering::SeqCst), 2);
    assert_eq!(vpcs_with_cidr(w, "10.43.0.0/16").await, 1);
}

/// Subnet, internet gateway and route table in `vpc`: each found by its
/// marks, and the subnet not by another create's.
async fn network(w: &World, vpc: &str) {
    let subnet = w.resource("aws_subnet");
    let s_ctx = create_ctx("aws_subnet.a", LINEAGE, "tok-subnet-a");
    let s_in = map(json!({
        "vpc_id": vpc, "cidr_block": "10.10.1.0/24", "availability_zone": "eu-west-1a",
        "map_public_ip_on_launch": true, "load_balancer_role": "public",
    }));
    let s_out = create_and_recover(&*subnet, &s_ctx, &s_in).await;
    nothing_for_others(&*subnet, "aws_subnet.a", "tok-subnet-a", &s_in).await;
    let read = subnet
        .read(
            &OpContext::quiet("aws_subnet.a"),
            &Current::new(s_in.clone(), s_out.clone()),
        )
        .await
        .unwrap()
        .unwrap();
    read_tags(&read);
    assert_eq!(
        read.inputs.get("load_balancer_role"),
        Some(&Value::from("public"))
    );

    let igw = w.resource("aws_internet_gateway");
    let g_ctx = create_ctx("aws_internet_gateway.main", LINEAGE, "tok-igw");
    let g_in = map(json!({ "vpc_id": vpc, "tags": { "Name": "main" } }));
    let g_out = create_and_recover(&*igw, &g_ctx, &g_in).await;

    let table = w.resource("aws_route_table");
    let t_ctx = create_ctx("aws_route_table.public", LINEAGE, "tok-rt");
    let t_in = map(json!({
        "vpc_id": vpc,
        "routes": [{ "cidr_block": "0.0.0.0/0", "gateway_id": g_out["id"] }],
        "subnet_ids": [s_out["id"]],
    }));
    let t_out = create_and_recover(&*table, &t_ctx, &t_in).await;
    let read = table
        .read(
            &OpContext::quiet("aws_route_table.public"),
            &Current::new(t_in.clone(), t_out),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs, t_in, "recovering converged nothing twice");
}

async fn workspace(w: &World) -> Map {
    let r = w.resource("aws_amp_workspace");
    let address = "aws_amp_workspace.main";
    let ctx = create_ctx(address, LINEAGE, "tok-ws-1");
    let inputs = map(json!({ "alias": "main-ws", "tags": { "team": "obs" } }));
    let out = create_and_recover(&*r, &ctx, &inputs).await;
    nothing_for_others(&*r, address, "tok-ws-1", &inputs).await;
    let read = r
        .read(
            &OpContext::quiet(address),
            &Current::new(inputs.clone(), out.clone()),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_tags(&read), map(json!({ "team": "obs" })));
    let live = w
        .amp
        .describe_workspace()
        .workspace_id(out["id"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let tags = live
        .workspace()
        .and_then(|w| w.tags())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        tags.get("meshmon:token").map(String::as_str),
        Some("tok-ws-1"),
        "{tags:?}"
    );
    out
}

async fn workspace_lost_answer(w: &World) {
    let rule = w
        .proxy
        .rule(&["/workspaces", "\"lost-ws\""], Fate::Late500, 1);
    let r = w.resource("aws_amp_workspace");
    let ctx = create_ctx("aws_amp_workspace.lost", LINEAGE, "tok-ws-lost");
    let inputs = map(json!({ "alias": "lost-ws" }));
    let e = r.create(&ctx, &inputs).await.expect_err("answered 500");
    assert!(e.ambiguous, "a 500 after the fact is ambiguous: {e}");
    assert_eq!(
        rule.seen.load(Ordering::SeqCst),
        1,
        "CreateWorkspace is never sent twice"
    );
    let found = r.recover(&ctx, &inputs).await.unwrap().expect("recovered");
    assert_eq!(found["status"], Value::from("ACTIVE"));
    let listed = w
        .amp
        .list_workspaces()
        .alias("lost-ws")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.workspaces().len(), 1);
}

/// Rule groups and a scraper (the AMP double) for the workspace.
async fn amp_children(w: &World, ws: &Map) {
    let rules = w.resource("aws_amp_rule_groups_namespace");
    let address = "aws_amp_rule_groups_namespace.mesh";
    let ctx = create_ctx(address, LINEAGE, "tok-rules");
    let inputs = map(json!({
        "workspace_id": ws["id"], "name": "mesh",
        "data": "groups:\n  - name: mesh\n    rules:\n      - record: x\n        expr: up\n",
    }));
    create_and_recover(&*rules, &ctx, &inputs).await;
    nothing_for_others(&*rules, address, "tok-rules", &inputs).await;

    let scraper = w.resource("aws_amp_scraper");
    let address = "aws_amp_scraper.mesh";
    let ctx = create_ctx(address, LINEAGE, "tok-scraper");
    let inputs = map(json!({
        "cluster_arn": format!("arn:aws:eks:{REGION}:{ACCOUNT}:cluster/mesh"),
        "subnet_ids": ["subnet-1", "subnet-2"],
        "workspace_arn": ws["arn"],
        "scrape_configuration": "global:\n  scrape_interval: 30s\nscrape_configs:\n  - job_name: envoy\n    kubernetes_sd_configs:\n      - role: pod\n",
        "tags": { "team": "obs" },
    }));
    let out = create_and_recover(&*scraper, &ctx, &inputs).await;
    nothing_for_others(&*scraper, address, "tok-scraper", &inputs).await;
    let read = scraper
        .read(
            &OpContext::quiet(address),
            &Current::new(inputs.clone(), out),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_tags(&read), map(json!({ "team": "obs" })));
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

async fn role(w: &World) {
    let r = w.resource("aws_iam_role");
    let address = "aws_iam_role.app";
    let ctx = create_ctx(address, LINEAGE, "tok-role-1");
    let inputs = map(json!({
        "name": "app-role", "assume_role_policy": TRUST,
        "inline_policies": { "read": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"# },
        "tags": { "team": "obs" },
    }));
    let out = create_and_recover(&*r, &ctx, &inputs).await;
    nothing_for_others(&*r, address, "tok-role-1", &inputs).await;
    let read = r
        .read(
            &OpContext::quiet(address),
            &Current::new(inputs.clone(), out),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_tags(&read), map(json!({ "team": "obs" })));
}

async fn role_lost_answer(w: &World) {
    let rule = w
        .proxy
        .rule(&["Action=CreateRole", "RoleName=lost-role"], Fate::Cut, 1);
    let r = w.resource("aws_iam_role");
    let ctx = create_ctx("aws_iam_role.lost", LINEAGE, "tok-role-lost");
    let inputs = map(json!({ "name": "lost-role", "assume_role_policy": TRUST }));
    let e = r
        .create(&ctx, &inputs)
        .await
        .expect_err("the answer was lost");
    assert!(e.ambiguous, "a lost answer is ambiguous: {e}");
    assert_eq!(
        rule.seen.load(Ordering::SeqCst),
        1,
        "CreateRole is never sent twice"
    );
    let found = r.recover(&ctx, &inputs).await.unwrap().expect("recovered");
    assert_eq!(found["id"], Value::from("lost-role"));
}

/// The other IAM types, EKS and SNS: found by their unique names.
async fn by_name(w: &World) {
    let policy = w.resource("aws_iam_policy");
    let ctx = create_ctx("aws_iam_policy.read", LINEAGE, "tok-policy");
    let inputs = map(json!({
        "name": "read-policy",
        "policy": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    }));
    create_and_recover(&*policy, &ctx, &inputs).await;
    nothing_for_others(&*policy, "aws_iam_policy.read", "tok-policy", &inputs).await;

    let oidc = w.resource("aws_iam_oidc_provider");
    let ctx = create_ctx("aws_iam_oidc_provider.eks", LINEAGE, "tok-oidc");
    let inputs = map(json!({
        "url": "https://oidc.eks.eu-west-1.amazonaws.com/id/RECOVER",
        "client_ids": ["sts.amazonaws.com"],
        "thumbprints": ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
    }));
    create_and_recover(&*oidc, &ctx, &inputs).await;

    let cluster = w.resource("aws_eks_cluster");
    let ctx = create_ctx("aws_eks_cluster.mesh", LINEAGE, "tok-cluster");
    let inputs = map(json!({
        "name": "mesh", "role_arn": format!("arn:aws:iam::{ACCOUNT}:role/cluster"),
        "subnet_ids": ["subnet-1", "subnet-2"], "tags": { "team": "obs" },
    }));
    create_and_recover(&*cluster, &ctx, &inputs).await;
    nothing_for_others(&*cluster, "aws_eks_cluster.mesh", "tok-cluster", &inputs).await;

    let group = w.resource("aws_eks_node_group");
    let ctx = create_ctx("aws_eks_node_group.default", LINEAGE, "tok-group");
    let inputs = map(json!({
        "cluster_name": "mesh", "name": "default",
        "node_role_arn": format!("arn:aws:iam::{ACCOUNT}:role/node"),
        "subnet_ids": ["subnet-1", "subnet-2"],
        "scaling": { "min_size": 1, "max_size": 2, "desired_size": 1 },
    }));
    create_and_recover(&*group, &ctx, &inputs).await;

    let topic = w.resource("aws_sns_topic");
    let ctx = create_ctx("aws_sns_topic.alerts", LINEAGE, "tok-topic");
    let inputs = map(json!({ "name": "grafana-alerts" }));
    let t = create_and_recover(&*topic, &ctx, &inputs).await;

    let subscription = w.resource("aws_sns_topic_subscription");
    let ctx = create_ctx("aws_sns_topic_subscription.oncall", LINEAGE, "tok-sub");
    let inputs = map(json!({
        "topic_arn": t["arn"], "protocol": "email", "endpoint": "oncall@example.com",
    }));
    create_and_recover(&*subscription, &ctx, &inputs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_finds_what_a_create_made_and_nothing_else() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.endpoint());
    let amp_double = AmpDouble::start(Duration::from_millis(300), &proxy.server.endpoint());
    for (k, v) in moto.env() {
        let v = if k == "AWS_ENDPOINT_URL" {
            proxy.server.endpoint()
        } else {
            v
        };
        // SAFETY: the only test in this process sets the environment before
        // anything else runs or reads it.
        unsafe { std::env::set_var(&k, v) };
    }
    // SAFETY: as above.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL_AMP", amp_double.endpoint()) };
    let aws = Aws
        .configure(&map(json!({ "region": REGION })))
        .await
        .expect("configure");
    let sdk = moto.sdk_config().await;
    let w = World {
        aws,
        proxy,
        ec2: aws_sdk_ec2::Client::new(&sdk),
        amp: aws_sdk_amp::Client::new(&sdk),
    };

    let (vpc, ws, ..) = tokio::join!(
        vpc_by_tags(&w),
        workspace(&w),
        vpc_lost_answer(&w),
        vpc_throttled(&w),
        workspace_lost_answer(&w),
        role(&w),
        role_lost_answer(&w),
        by_name(&w),
    );
    tokio::join!(network(&w, &vpc), amp_children(&w, &ws));
}
