//! A narrow test double of the EKS control-plane API, for what moto 5.2.5
//! lacks or does instantly: `UpdateClusterVersion`, `DescribeUpdate`,
//! CREATING → ACTIVE, UPDATING → ACTIVE and DELETING → gone transitions
//! that take time, a cluster that ends up FAILED, throttling, the
//! cluster's `accessConfig` (authentication mode, forward only), and
//! access entries with their access policy associations. It follows the
//! published REST-JSON API (paths, bodies, `x-amzn-ErrorType` errors) for
//! clusters and access entries only. Point `AWS_ENDPOINT_URL_EKS` at it.
//!
//! Started with [`EksDouble::forwarding`], it hands every other operation
//! (node groups, above all) to an upstream emulator such as moto, and
//! mirrors each cluster it creates or deletes there, because moto's node
//! groups need their cluster to exist in moto. Without an upstream, the
//! other operations answer 404 UnknownOperationException.
//!
//! As EKS does, a cluster created with `bootstrapClusterCreatorAdminPermissions`
//! (true unless it is set false) gets an access entry for the IAM
//! principal that created it, with AmazonEKSClusterAdminPolicy on the
//! whole cluster (EKS user guide, grant-k8s-access: "Amazon EKS creates an
//! access entry with administrator permissions to the cluster for the IAM
//! principal that originally created the cluster"); listing it needs a
//! mode with the EKS API, as for any entry. The creator is the principal
//! that signed CreateCluster, asked of the upstream's STS with the same
//! access key (an assumed role's session becomes its role's ARN, without
//! the path, which STS does not return), or set with
//! [`EksDouble::act_as`]. Other doubles add the entries their services make
//! (the AMP double, a scraper's) through an [`EksLink`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

mod access;

use crate::aws_model::{Tally, mark_checked};
use crate::http::{Request, Response, Server, forward};
use access::{CLUSTER_ADMIN_POLICY, entry_not_found, principal_of, sts_caller};
pub use access::{DEFAULT_CALLER, EksLink};

#[derive(Default)]
struct Inner {
    clusters: BTreeMap<String, Cluster>,
    /// (cluster, principal ARN) → the access entry as DescribeAccessEntry shows it.
    entries: BTreeMap<(String, String), Value>,
    /// (cluster, principal ARN, policy ARN) → the associated access policy.
    associations: BTreeMap<(String, String, String), Value>,
    upstream: Option<String>,
    updates: BTreeMap<String, Update>,
    calls: Vec<String>,
    throttle: usize,
    fail_next_create: bool,
    settle: Duration,
    next_id: u64,
    /// The principal requests come from, when set (else STS is asked).
    acting_as: Option<String>,
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
    model_check: Tally,
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
        let owned = req.segments();
        let segs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let op = match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["clusters"]) => "CreateCluster",
            ("GET", ["clusters"]) => "ListClusters",
            ("GET", ["clusters", _]) => "DescribeCluster",
            ("DELETE", ["clusters", _]) => "DeleteCluster",
            ("POST", ["clusters", _, "updates"]) => "UpdateClusterVersion",
            ("POST", ["clusters", _, "update-config"]) => "UpdateClusterConfig",
            ("GET", ["clusters", _, "updates", _]) => "DescribeUpdate",
            ("POST", ["clusters", _, "access-entries"]) => "CreateAccessEntry",
            ("GET", ["clusters", _, "access-entries"]) => "ListAccessEntries",
            ("GET", ["clusters", _, "access-entries", _]) => "DescribeAccessEntry",
            ("POST", ["clusters", _, "access-entries", _]) => "UpdateAccessEntry",
            ("DELETE", ["clusters", _, "access-entries", _]) => "DeleteAccessEntry",
            ("POST", ["clusters", _, "access-entries", _, "access-policies"]) => {
                "AssociateAccessPolicy"
            }
            ("GET", ["clusters", _, "access-entries", _, "access-policies"]) => {
                "ListAssociatedAccessPolicies"
            }
            ("DELETE", ["clusters", _, "access-entries", _, "access-policies", _]) => {
                "DisassociateAccessPolicy"
            }
            ("POST", ["tags", ..]) => "TagResource",
            ("DELETE", ["tags", ..]) => "UntagResource",
            ("GET", ["tags", ..]) => "ListTagsForResource",
            _ => {
                if let Some(up) = &self.upstream {
                    self.calls
                        .push(format!("Forwarded {} {}", req.method, req.path));
                    return forward(up, req);
                }
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
        let principal = segs.get(3).copied().unwrap_or_default().to_string();
        match op {
            "CreateCluster" => {
                let caller = match (&self.acting_as, &self.upstream) {
                    (Some(p), _) => p.clone(),
                    (None, Some(up)) => sts_caller(up, req)
                        .map(|c| principal_of(&c))
                        .unwrap_or_else(|| DEFAULT_CALLER.to_string()),
                    (None, None) => DEFAULT_CALLER.to_string(),
                };
                let r = self.create(req.json(), &caller);
                if r.status == 200
                    && let Some(up) = &self.upstream
                {
                    forward(up, req);
                }
                r
            }
            "ListClusters" => Response::json(
                200,
                &json!({ "clusters": self.clusters.keys().collect::<Vec<_>>() }),
            ),
            "DescribeCluster" => match self.clusters.get(&name) {
                Some(c) => Response::json(200, &json!({ "cluster": c.doc })),
                None => not_found(&name),
            },
            "DeleteCluster" => {
                let settle = self.settle;
                let r = match self.clusters.get_mut(&name) {
                    Some(c) => {
                        c.doc["status"] = json!("DELETING");
                        c.until = Some(Instant::now() + settle);
                        Response::json(200, &json!({ "cluster": c.doc }))
                    }
                    None => return not_found(&name),
                };
                self.entries.retain(|(c, _), _| *c != name);
                self.associations.retain(|(c, _, _), _| *c != name);
                if let Some(up) = &self.upstream {
                    forward(up, req);
                }
                r
            }
            "UpdateClusterVersion" | "UpdateClusterConfig" => self.update(&name, op, req.json()),
            "DescribeUpdate" => match self.updates.get(segs[3]) {
                Some(u) if u.cluster == name => Response::json(200, &json!({ "update": u.doc })),
                _ => error(404, "ResourceNotFoundException", "No update found"),
            },
            "CreateAccessEntry" => self.create_entry(&name, req.json()),
            "ListAccessEntries" => match self.access_ready(&name) {
                Err(r) => r,
                Ok(()) => Response::json(
                    200,
                    &json!({ "accessEntries": self
                        .entries
                        .iter()
                        .filter(|((c, _), _)| *c == name)
                        .map(|((_, p), _)| p.clone())
                        .collect::<Vec<_>>() }),
                ),
            },
            "DescribeAccessEntry" | "UpdateAccessEntry" | "DeleteAccessEntry" => {
                if let Err(r) = self.access_ready(&name) {
                    return r;
                }
                let key = (name.clone(), principal.clone());
                let Some(entry) = self.entries.get_mut(&key) else {
                    return entry_not_found(&name, &principal);
                };
                match op {
                    "DescribeAccessEntry" => Response::json(200, &json!({ "accessEntry": entry })),
                    "UpdateAccessEntry" => {
                        let body = req.json();
                        if let Some(g) = body.get("kubernetesGroups") {
                            entry["kubernetesGroups"] = g.clone();
                        }
                        if let Some(u) = body.get("username") {
                            entry["username"] = u.clone();
                        }
                        entry["modifiedAt"] = json!(now_secs());
                        Response::json(200, &json!({ "accessEntry": entry }))
                    }
                    _ => {
                        self.entries.remove(&key);
                        self.associations
                            .retain(|(c, p, _), _| !(*c == name && *p == principal));
                        Response::json(200, &json!({}))
                    }
                }
            }
            "AssociateAccessPolicy" => self.associate(&name, &principal, req.json()),
            "ListAssociatedAccessPolicies" => {
                if let Err(r) = self.access_ready(&name) {
                    return r;
                }
                if !self
                    .entries
                    .contains_key(&(name.clone(), principal.clone()))
                {
                    return entry_not_found(&name, &principal);
                }
                let list: Vec<&Value> = self
                    .associations
                    .iter()
                    .filter(|((c, p, _), _)| *c == name && *p == principal)
                    .map(|(_, v)| v)
                    .collect();
                Response::json(
                    200,
                    &json!({ "clusterName": name, "principalArn": principal, "associatedAccessPolicies": list }),
                )
            }
            "DisassociateAccessPolicy" => {
                let policy = segs.get(5).copied().unwrap_or_default().to_string();
                match self
                    .associations
                    .remove(&(name.clone(), principal.clone(), policy))
                {
                    Some(_) => Response::json(200, &json!({})),
                    None => entry_not_found(&name, &principal),
                }
            }
            _ => self.tags(op, req),
        }
    }

    fn create(&mut self, body: Value, caller: &str) -> Response {
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
            "accessConfig": {
                "authenticationMode": body["accessConfig"]["authenticationMode"].as_str().unwrap_or("CONFIG_MAP"),
                "bootstrapClusterCreatorAdminPermissions": body["accessConfig"]["bootstrapClusterCreatorAdminPermissions"].as_bool().unwrap_or(true),
            },
        });
        let fail = std::mem::take(&mut self.fail_next_create);
        let c = Cluster {
            doc: doc.clone(),
            until: Some(Instant::now() + self.settle),
            fail,
        };
        self.clusters.insert(name.clone(), c);
        if doc["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] == true {
            self.insert_entry(&name, caller, "STANDARD", json!([]), None, json!({}));
            self.associations.insert(
                (
                    name.clone(),
                    caller.to_string(),
                    CLUSTER_ADMIN_POLICY.to_string(),
                ),
                json!({
                    "policyArn": CLUSTER_ADMIN_POLICY,
                    "accessScope": { "type": "cluster", "namespaces": [] },
                    "associatedAt": now_secs(),
                    "modifiedAt": now_secs(),
                }),
            );
        }
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
        } else if let Some(mode) = body["accessConfig"]["authenticationMode"].as_str() {
            const ORDER: [&str; 3] = ["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"];
            let now = c.doc["accessConfig"]["authenticationMode"]
                .as_str()
                .unwrap_or("CONFIG_MAP");
            let rank = |m: &str| ORDER.iter().position(|o| *o == m);
            match (rank(now), rank(mode)) {
                (Some(a), Some(b)) if b > a => {}
                _ => {
                    return error(
                        400,
                        "InvalidParameterException",
                        &format!("Unsupported authentication mode update from {now} to {mode}"),
                    );
                }
            }
            (
                "AccessConfigUpdate",
                json!({ "accessConfig": { "authenticationMode": mode } }),
                json!([{ "type": "AuthenticationMode", "value": mode }]),
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
        // Clusters and access entries both take tags through the one
        // TagResource operation (EKS user guide, eks-using-tags).
        let doc = match self
            .clusters
            .values_mut()
            .find(|c| c.doc["arn"] == arn.as_str())
        {
            Some(c) => Some(&mut c.doc),
            None => self
                .entries
                .values_mut()
                .find(|e| e["accessEntryArn"] == arn.as_str()),
        };
        let Some(doc) = doc else {
            if let Some(up) = &self.upstream {
                return forward(up, req);
            }
            return error(404, "NotFoundException", "Resource was not found");
        };
        match op {
            "TagResource" => {
                if let Some(t) = req.json()["tags"].as_object() {
                    for (k, v) in t {
                        doc["tags"][k] = v.clone();
                    }
                }
                Response::json(200, &json!({}))
            }
            "UntagResource" => {
                for (k, v) in &req.query {
                    if k == "tagKeys"
                        && let Some(t) = doc["tags"].as_object_mut()
                    {
                        t.remove(v);
                    }
                }
                Response::json(200, &json!({}))
            }
            _ => Response::json(200, &json!({ "tags": doc["tags"] })),
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
        Self::start_inner(settle, None)
    }

    /// Starts the double in front of `upstream` (moto's endpoint), to which
    /// it forwards every operation it does not implement.
    pub fn forwarding(settle: Duration, upstream: &str) -> EksDouble {
        Self::start_inner(settle, Some(upstream.to_string()))
    }

    fn start_inner(settle: Duration, upstream: Option<String>) -> EksDouble {
        let inner = Arc::new(Mutex::new(Inner {
            settle,
            upstream,
            ..Inner::default()
        }));
        let handler_inner = inner.clone();
        // Checked against the API model first, as the service validates
        // input before acting on it; marked, so that what is forwarded to
        // moto is not checked again.
        let model_check = Tally::new();
        let screen = model_check.clone();
        let server = Server::start(Arc::new(move |req: &Request| {
            if let Some(refused) = screen.screen(req, Some("eks")) {
                return refused;
            }
            handler_inner
                .lock()
                .expect("double state")
                .handle(&mark_checked(req))
        }));
        EksDouble {
            server,
            inner,
            model_check,
        }
    }

    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// The requests refused for breaking the API model; a test that sends
    /// one on purpose takes it from here ([`Tally::take`]).
    pub fn model_check(&self) -> &Tally {
        &self.model_check
    }

    /// The operations called so far, in order (`Throttled` for refused ones).
    pub fn calls(&self) -> Vec<String> {
        self.inner.lock().expect("double state").calls.clone()
    }

    /// Requests come from `principal` from now on, instead of the one STS
    /// names for their access key.
    pub fn act_as(&self, principal: &str) {
        self.inner.lock().expect("double state").acting_as = Some(principal.to_string());
    }

    /// A handle through which another double acts on this one, as AWS
    /// services do behind the scenes.
    pub fn link(&self) -> EksLink {
        EksLink(self.inner.clone())
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

    /// Every access entry, as (cluster, principal ARN).
    pub fn access_entries(&self) -> Vec<(String, String)> {
        let inner = self.inner.lock().expect("double state");
        inner.entries.keys().cloned().collect()
    }

    /// An access entry as DescribeAccessEntry would show it.
    pub fn access_entry(&self, cluster: &str, principal: &str) -> Option<Value> {
        let inner = self.inner.lock().expect("double state");
        inner
            .entries
            .get(&(cluster.to_string(), principal.to_string()))
            .cloned()
    }

    /// Every access policy association, as (cluster, principal, policy).
    pub fn access_policy_associations(&self) -> Vec<(String, String, String)> {
        let inner = self.inner.lock().expect("double state");
        inner.associations.keys().cloned().collect()
    }

    /// Deletes an access entry (and its associations) behind meshmon's back.
    pub fn delete_access_entry(&self, cluster: &str, principal: &str) -> bool {
        let mut inner = self.inner.lock().expect("double state");
        inner
            .associations
            .retain(|(c, p, _), _| !(c == cluster && p == principal));
        inner
            .entries
            .remove(&(cluster.to_string(), principal.to_string()))
            .is_some()
    }

    pub fn cluster_names(&self) -> Vec<String> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner.clusters.keys().cloned().collect()
    }
}

impl Drop for EksDouble {
    fn drop(&mut self) {
        self.model_check.assert_clean("the EKS double");
    }
}
