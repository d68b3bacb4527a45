//! A narrow test double of the EKS control-plane API, for what moto 5.2.5
//! lacks or does instantly: `UpdateClusterVersion`, `DescribeUpdate`,
//! CREATING → ACTIVE, UPDATING → ACTIVE and DELETING → gone transitions
//! that take time, a cluster that ends up FAILED, and throttling. It follows
//! the published REST-JSON API (paths, bodies, `x-amzn-ErrorType` errors)
//! for clusters only; node groups and everything else stay on moto. Point
//! `AWS_ENDPOINT_URL_EKS` at it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::http::{Request, Response, Server};

#[derive(Default)]
struct Inner {
    clusters: BTreeMap<String, Cluster>,
    updates: BTreeMap<String, Update>,
    calls: Vec<String>,
    throttle: usize,
    fail_next_create: bool,
    settle: Duration,
    next_id: u64,
}

struct Cluster {
    doc: Value,
    /// When the current transition (CREATING, UPDATING, DELETING) ends.
    until: Option<Instant>,
    fail: bool,
}

struct Update {
    cluster: String,
    doc: Value,
    done: Instant,
    /// Applied to the cluster document when the update finishes.
    apply: Value,
}

/// The EKS double; dropped, it stops.
pub struct EksDouble {
    server: Server,
    inner: Arc<Mutex<Inner>>,
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let mut r = Response::json(status, &json!({ "message": message }));
    r.headers.push(("x-amzn-ErrorType".into(), code.into()));
    r
}

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b.clone(),
    }
}

impl Inner {
    /// Moves every transition whose time has come.
    fn tick(&mut self) {
        let now = Instant::now();
        let mut gone = Vec::new();
        for (name, c) in &mut self.clusters {
            if c.until.is_some_and(|t| t <= now) {
                c.until = None;
                match c.doc["status"].as_str() {
                    Some("DELETING") => gone.push(name.clone()),
                    Some("CREATING") if c.fail => c.doc["status"] = json!("FAILED"),
                    _ => c.doc["status"] = json!("ACTIVE"),
                }
            }
        }
        for name in gone {
            self.clusters.remove(&name);
        }
        for u in self.updates.values_mut() {
            if u.doc["status"] == "InProgress" && u.done <= now {
                u.doc["status"] = json!("Successful");
                if let Some(c) = self.clusters.get_mut(&u.cluster) {
                    merge(&mut c.doc, &u.apply);
                    c.doc["status"] = json!("ACTIVE");
                }
            }
        }
    }

    fn handle(&mut self, req: &Request) -> Response {
        self.tick();
        if self.throttle > 0 {
            self.throttle -= 1;
            self.calls.push("Throttled".into());
            return error(429, "ThrottlingException", "Rate exceeded");
        }
        let segs: Vec<&str> = req.path.trim_matches('/').splitn(4, '/').collect();
        let op = match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["clusters"]) => "CreateCluster",
            ("GET", ["clusters", _]) => "DescribeCluster",
            ("DELETE", ["clusters", _]) => "DeleteCluster",
            ("POST", ["clusters", _, "updates"]) => "UpdateClusterVersion",
            ("POST", ["clusters", _, "update-config"]) => "UpdateClusterConfig",
            ("GET", ["clusters", _, "updates", _]) => "DescribeUpdate",
            ("POST", ["tags", ..]) => "TagResource",
            ("DELETE", ["tags", ..]) => "UntagResource",
            ("GET", ["tags", ..]) => "ListTagsForResource",
            _ => {
                return error(
                    404,
                    "UnknownOperationException",
                    &format!(
                        "the EKS double does not implement {} {}",
                        req.method, req.path
                    ),
                );
            }
        };
        self.calls.push(op.to_string());
        let name = segs.get(1).copied().unwrap_or_default().to_string();
        match op {
            "CreateCluster" => self.create(req.json()),
            "DescribeCluster" => match self.clusters.get(&name) {
                Some(c) => Response::json(200, &json!({ "cluster": c.doc })),
                None => not_found(&name),
            },
            "DeleteCluster" => {
                let settle = self.settle;
                match self.clusters.get_mut(&name) {
                    Some(c) => {
                        c.doc["status"] = json!("DELETING");
                        c.until = Some(Instant::now() + settle);
                        Response::json(200, &json!({ "cluster": c.doc }))
                    }
                    None => not_found(&name),
                }
            }
            "UpdateClusterVersion" | "UpdateClusterConfig" => self.update(&name, op, req.json()),
            "DescribeUpdate" => match self.updates.get(segs[3]) {
                Some(u) if u.cluster == name => Response::json(200, &json!({ "update": u.doc })),
                _ => error(404, "ResourceNotFoundException", "No update found"),
            },
            _ => self.tags(op, req),
        }
    }

    fn create(&mut self, body: Value) -> Response {
        let name = body["name"].as_str().unwrap_or_default().to_string();
        if self.clusters.contains_key(&name) {
            return error(
                409,
                "ResourceInUseException",
                &format!("Cluster already exists with name: {name}"),
            );
        }
        let vpc = &body["resourcesVpcConfig"];
        let doc = json!({
            "name": name,
            "arn": format!("arn:aws:eks:eu-west-1:123456789012:cluster/{name}"),
            "createdAt": now_secs(),
            "version": body["version"].as_str().unwrap_or("1.32"),
            "endpoint": format!("https://{name}.gr7.eu-west-1.eks.amazonaws.com"),
            "roleArn": body["roleArn"],
            "resourcesVpcConfig": {
                "subnetIds": vpc["subnetIds"],
                "securityGroupIds": vpc.get("securityGroupIds").cloned().unwrap_or(json!([])),
                "clusterSecurityGroupId": "sg-0double",
                "vpcId": "vpc-0double",
                "endpointPublicAccess": vpc.get("endpointPublicAccess").cloned().unwrap_or(json!(true)),
                "endpointPrivateAccess": vpc.get("endpointPrivateAccess").cloned().unwrap_or(json!(false)),
            },
            "logging": body.get("logging").cloned().unwrap_or(json!({"clusterLogging": []})),
            "identity": { "oidc": { "issuer": format!("https://oidc.eks.eu-west-1.amazonaws.com/id/{}", name.to_uppercase()) } },
            "status": "CREATING",
            "certificateAuthority": { "data": "LS0tLS1CRUdJTi1ET1VCTEUtLS0tLQ==" },
            "platformVersion": "eks.1",
            "tags": body.get("tags").cloned().unwrap_or(json!({})),
        });
        let fail = std::mem::take(&mut self.fail_next_create);
        let c = Cluster {
            doc: doc.clone(),
            until: Some(Instant::now() + self.settle),
            fail,
        };
        self.clusters.insert(name, c);
        Response::json(200, &json!({ "cluster": doc }))
    }

    fn update(&mut self, name: &str, op: &str, body: Value) -> Response {
        let settle = self.settle;
        let Some(c) = self.clusters.get_mut(name) else {
            return not_found(name);
        };
        if c.doc["status"] != "ACTIVE" {
            return error(
                409,
                "ResourceInUseException",
                &format!("Cluster '{name}' is not in ACTIVE status"),
            );
        }
        let (kind, apply, params) = if op == "UpdateClusterVersion" {
            let v = body["version"].clone();
            (
                "VersionUpdate",
                json!({ "version": v }),
                json!([{ "type": "Version", "value": v }]),
            )
        } else if body.get("logging").is_some() {
            (
                "LoggingUpdate",
                json!({ "logging": body["logging"] }),
                json!([{ "type": "ClusterLogging", "value": body["logging"].to_string() }]),
            )
        } else {
            let v = &body["resourcesVpcConfig"];
            let mut patch = json!({});
            for k in ["endpointPublicAccess", "endpointPrivateAccess"] {
                if let Some(x) = v.get(k) {
                    patch[k] = x.clone();
                }
            }
            (
                "EndpointAccessUpdate",
                json!({ "resourcesVpcConfig": patch }),
                json!([]),
            )
        };
        self.next_id += 1;
        let id = format!("00000000-0000-0000-0000-{:012}", self.next_id);
        let doc = json!({ "id": id, "status": "InProgress", "type": kind, "params": params, "createdAt": now_secs(), "errors": [] });
        c.doc["status"] = json!("UPDATING");
        self.updates.insert(
            id,
            Update {
                cluster: name.to_string(),
                doc: doc.clone(),
                done: Instant::now() + settle,
                apply,
            },
        );
        Response::json(200, &json!({ "update": doc }))
    }

    fn tags(&mut self, op: &str, req: &Request) -> Response {
        let arn = req.path.trim_start_matches("/tags/").to_string();
        let Some(c) = self
            .clusters
            .values_mut()
            .find(|c| c.doc["arn"] == arn.as_str())
        else {
            return error(404, "NotFoundException", "Resource was not found");
        };
        match op {
            "TagResource" => {
                if let Some(t) = req.json()["tags"].as_object() {
                    for (k, v) in t {
                        c.doc["tags"][k] = v.clone();
                    }
                }
                Response::json(200, &json!({}))
            }
            "UntagResource" => {
                for (k, v) in &req.query {
                    if k == "tagKeys"
                        && let Some(t) = c.doc["tags"].as_object_mut()
                    {
                        t.remove(v);
                    }
                }
                Response::json(200, &json!({}))
            }
            _ => Response::json(200, &json!({ "tags": c.doc["tags"] })),
        }
    }
}

fn not_found(name: &str) -> Response {
    error(
        404,
        "ResourceNotFoundException",
        &format!("No cluster found for name: {name}."),
    )
}

impl EksDouble {
    /// Starts the double; every transition takes `settle`.
    pub fn start(settle: Duration) -> EksDouble {
        let inner = Arc::new(Mutex::new(Inner {
            settle,
            ..Inner::default()
        }));
        let handler_inner = inner.clone();
        let server = Server::start(Arc::new(move |req: &Request| {
            handler_inner.lock().expect("double state").handle(req)
        }));
        EksDouble { server, inner }
    }

    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// The operations called so far, in order (`Throttled` for refused ones).
    pub fn calls(&self) -> Vec<String> {
        self.inner.lock().expect("double state").calls.clone()
    }

    /// The next `n` requests get 429 ThrottlingException.
    pub fn throttle_next(&self, n: usize) {
        self.inner.lock().expect("double state").throttle = n;
    }

    /// The next cluster created ends up FAILED instead of ACTIVE.
    pub fn fail_next_create(&self) {
        self.inner.lock().expect("double state").fail_next_create = true;
    }

    /// A cluster as DescribeCluster would show it.
    pub fn cluster(&self, name: &str) -> Option<Value> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner.clusters.get(name).map(|c| c.doc.clone())
    }

    /// Changes a cluster behind meshmon's back (an out-of-band upgrade).
    pub fn patch_cluster(&self, name: &str, patch: Value) {
        let mut inner = self.inner.lock().expect("double state");
        if let Some(c) = inner.clusters.get_mut(name) {
            merge(&mut c.doc, &patch);
        }
    }

    pub fn cluster_names(&self) -> Vec<String> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner.clusters.keys().cloned().collect()
    }
}
