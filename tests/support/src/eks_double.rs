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
//! other operations answer 404 UnknownOperationException. moto's node
//! groups are ACTIVE at once; [`EksDouble::set_node_group_delay`] keeps
//! them CREATING for a while, as EKS does (see `delays`).
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
//!
//! Several accounts: clusters (with their access entries, associations
//! and tags) are kept per account and Region, those of the request's
//! signer ([`crate::caller`]: the Region of its credential scope, the
//! account moto's STS names for its access key), as EKS keeps them. A
//! session of a role assumed in 222222222222 creates, lists and describes
//! that account's clusters only, and their ARNs name it. Node groups go to
//! the upstream with the caller's signature, and moto keeps them per
//! account the same way. The methods without an account ([`EksDouble::cluster`],
//! [`EksDouble::cluster_names`], …) are the default account's
//! ([`ACCOUNT`](crate::moto::ACCOUNT)) in the default Region; those ending
//! in `_in` take the account.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

mod access;
mod delays;
#[cfg(test)]
mod tests;
mod upstream;

use crate::aws_model::{Tally, mark_checked};
use crate::caller::Callers;
use crate::http::{Request, Response, Server, forward};
use crate::moto::{ACCOUNT, REGION};
use access::{CLUSTER_ADMIN_POLICY, entry_not_found, principal_of};
pub use access::{DEFAULT_CALLER, EksLink};

/// A cluster's place: (account, Region, name).
type Key = (String, String, String);

fn key_of(account: &str, region: &str, name: &str) -> Key {
    (account.to_string(), region.to_string(), name.to_string())
}

#[derive(Default)]
struct Inner {
    clusters: BTreeMap<Key, Cluster>,
    /// (cluster, principal ARN) → the access entry as DescribeAccessEntry shows it.
    entries: BTreeMap<(Key, String), Value>,
    /// (cluster, principal ARN, policy ARN) → the associated access policy.
    associations: BTreeMap<(Key, String, String), Value>,
    /// Who signed a request (account and Region), asked of the upstream's STS.
    callers: Callers,
    upstream: Option<String>,
    updates: BTreeMap<String, Update>,
    calls: Vec<String>,
    throttle: usize,
    fail_next_create: bool,
    settle: Duration,
    /// How long a cluster is CREATING, when not `settle`.
    cluster_create: Option<Duration>,
    /// How long a forwarded node group is CREATING after its create.
    node_group_create: Duration,
    /// Node groups created within `node_group_create`: (cluster, node
    /// group) → when they become ACTIVE.
    node_groups: BTreeMap<(Key, String), Instant>,
    next_id: u64,
    /// The principal requests come from, when set (else STS is asked).
    acting_as: Option<String>,
    /// The API server clusters created from now on report, as (endpoint,
    /// base64 PEM CA): see `EksDouble::serve_new_clusters_from`.
    serve_new: Option<(String, String)>,
}

struct Cluster {
    doc: Value,
    /// When the current transition (CREATING, UPDATING, DELETING) ends.
    until: Option<Instant>,
    fail: bool,
}

struct Update {
    cluster: Key,
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
        for (key, c) in &mut self.clusters {
            if c.until.is_some_and(|t| t <= now) {
                c.until = None;
                match c.doc["status"].as_str() {
                    Some("DELETING") => gone.push(key.clone()),
                    Some("CREATING") if c.fail => c.doc["status"] = json!("FAILED"),
                    _ => c.doc["status"] = json!("ACTIVE"),
                }
            }
        }
        for key in gone {
            self.clusters.remove(&key);
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
        let Some(op) = upstream::operation(req.method.as_str(), &segs) else {
            return error(
                404,
                "UnknownOperationException",
                &format!(
                    "the EKS double does not implement {} {}",
                    req.method, req.path
                ),
            );
        };
        self.calls.push(op.to_string());
        let name = segs.get(1).copied().unwrap_or_default().to_string();
        let principal = segs.get(3).copied().unwrap_or_default().to_string();
        // Each account and Region has clusters of its own: the signer's.
        let caller = self.callers.of(req);
        let key = key_of(&caller.account, &caller.region, &name);
        match op {
            "CreateCluster" => {
                let creator = match (&self.acting_as, &caller.arn) {
                    (Some(p), _) => p.clone(),
                    (None, Some(arn)) => principal_of(arn),
                    (None, None) => DEFAULT_CALLER.to_string(),
                };
                let r = self.create(&caller.account, &caller.region, req.json(), &creator);
                if r.status == 200
                    && let Some(up) = &self.upstream
                {
                    forward(up, req);
                }
                r
            }
            "ListClusters" => Response::json(
                200,
                &json!({ "clusters": self
                    .clusters
                    .keys()
                    .filter(|(a, r, _)| *a == caller.account && *r == caller.region)
                    .map(|(_, _, n)| n)
                    .collect::<Vec<_>>() }),
            ),
            "DescribeCluster" => match self.clusters.get(&key) {
                Some(c) => Response::json(200, &json!({ "cluster": c.doc })),
                None => not_found(&name),
            },
            "DeleteCluster" => {
                let settle = self.settle;
                let r = match self.clusters.get_mut(&key) {
                    Some(c) => {
                        c.doc["status"] = json!("DELETING");
                        c.until = Some(Instant::now() + settle);
                        Response::json(200, &json!({ "cluster": c.doc }))
                    }
                    None => return not_found(&name),
                };
                self.entries.retain(|(c, _), _| *c != key);
                self.associations.retain(|(c, _, _), _| *c != key);
                if let Some(up) = &self.upstream {
                    forward(up, req);
                }
                r
            }
            "UpdateClusterVersion" | "UpdateClusterConfig" => self.update(&key, op, req.json()),
            "DescribeUpdate" => match self.updates.get(segs[3]) {
                Some(u) if u.cluster == key => Response::json(200, &json!({ "update": u.doc })),
                _ => error(404, "ResourceNotFoundException", "No update found"),
            },
            "CreateAccessEntry" => self.create_entry(&key, req.json()),
            "ListAccessEntries" => match self.access_ready(&key) {
                Err(r) => r,
                Ok(()) => Response::json(
                    200,
                    &json!({ "accessEntries": self
                        .entries
                        .iter()
                        .filter(|((c, _), _)| *c == key)
                        .map(|((_, p), _)| p.clone())
                        .collect::<Vec<_>>() }),
                ),
            },
            "DescribeAccessEntry" | "UpdateAccessEntry" | "DeleteAccessEntry" => {
                if let Err(r) = self.access_ready(&key) {
                    return r;
                }
                let entry_key = (key.clone(), principal.clone());
                let Some(entry) = self.entries.get_mut(&entry_key) else {
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
                        self.entries.remove(&entry_key);
                        self.associations
                            .retain(|(c, p, _), _| !(*c == key && *p == principal));
                        Response::json(200, &json!({}))
                    }
                }
            }
            "AssociateAccessPolicy" => self.associate(&key, &principal, req.json()),
            "ListAssociatedAccessPolicies" => {
                if let Err(r) = self.access_ready(&key) {
                    return r;
                }
                if !self.entries.contains_key(&(key.clone(), principal.clone())) {
                    return entry_not_found(&name, &principal);
                }
                let list: Vec<&Value> = self
                    .associations
                    .iter()
                    .filter(|((c, p, _), _)| *c == key && *p == principal)
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
                    .remove(&(key.clone(), principal.clone(), policy))
                {
                    Some(_) => Response::json(200, &json!({})),
                    None => entry_not_found(&name, &principal),
                }
            }
            _ => self.tags(op, req, &caller.account),
        }
    }

    fn create(&mut self, account: &str, region: &str, body: Value, caller: &str) -> Response {
        let name = body["name"].as_str().unwrap_or_default().to_string();
        let key = key_of(account, region, &name);
        // OIDC issuers are unique: another account's cluster of the same
        // name gets another one.
        let issuer_id = match account == ACCOUNT {
            true => name.to_uppercase(),
            false => format!("{account}-{}", name.to_uppercase()),
        };
        if self.clusters.contains_key(&key) {
            return error(
                409,
                "ResourceInUseException",
                &format!("Cluster already exists with name: {name}"),
            );
        }
        let vpc = &body["resourcesVpcConfig"];
        let doc = json!({
            "name": name,
            "arn": format!("arn:aws:eks:{region}:{account}:cluster/{name}"),
            "createdAt": now_secs(),
            "version": body["version"].as_str().unwrap_or("1.32"),
            "endpoint": format!("https://{name}.gr7.{region}.eks.amazonaws.com"),
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
            "identity": { "oidc": { "issuer": format!("https://oidc.eks.{region}.amazonaws.com/id/{issuer_id}") } },
            "status": "CREATING",
            "certificateAuthority": { "data": "LS0tLS1CRUdJTi1ET1VCTEUtLS0tLQ==" },
            "platformVersion": "eks.1",
            "tags": body.get("tags").cloned().unwrap_or(json!({})),
            "accessConfig": {
                "authenticationMode": body["accessConfig"]["authenticationMode"].as_str().unwrap_or("CONFIG_MAP"),
                "bootstrapClusterCreatorAdminPermissions": body["accessConfig"]["bootstrapClusterCreatorAdminPermissions"].as_bool().unwrap_or(true),
            },
        });
        let mut doc = doc;
        if let Some((endpoint, ca)) = &self.serve_new {
            doc["endpoint"] = json!(endpoint);
            doc["certificateAuthority"] = json!({ "data": ca });
        }
        let fail = std::mem::take(&mut self.fail_next_create);
        let c = Cluster {
            doc: doc.clone(),
            until: Some(Instant::now() + self.cluster_create.unwrap_or(self.settle)),
            fail,
        };
        self.clusters.insert(key.clone(), c);
        if doc["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] == true {
            self.insert_entry(&key, caller, "STANDARD", json!([]), None, json!({}));
            self.associations.insert(
                (
                    key.clone(),
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

    fn update(&mut self, key: &Key, op: &str, body: Value) -> Response {
        let settle = self.settle;
        let name = key.2.as_str();
        let Some(c) = self.clusters.get_mut(key) else {
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
                cluster: key.clone(),
                doc: doc.clone(),
                done: Instant::now() + settle,
                apply,
            },
        );
        Response::json(200, &json!({ "update": doc }))
    }

    fn tags(&mut self, op: &str, req: &Request, account: &str) -> Response {
        let arn = req.path.trim_start_matches("/tags/").to_string();
        // Clusters and access entries both take tags through the one
        // TagResource operation (EKS user guide, eks-using-tags); only the
        // caller's account's.
        let doc = match self
            .clusters
            .iter_mut()
            .find(|((a, _, _), c)| a == account && c.doc["arn"] == arn.as_str())
        {
            Some((_, c)) => Some(&mut c.doc),
            None => self
                .entries
                .iter_mut()
                .find(|(((a, _, _), _), e)| a == account && e["accessEntryArn"] == arn.as_str())
                .map(|(_, e)| e),
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
            callers: Callers::new(upstream.as_deref()),
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
            upstream::serve(&handler_inner, &mark_checked(req))
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

    /// Clusters created from now on report `endpoint` and `ca_data` (the
    /// CA as base64 PEM) as their API server.
    pub(crate) fn serve_new_at(&self, endpoint: String, ca_data: String) {
        self.inner.lock().expect("double state").serve_new = Some((endpoint, ca_data));
    }

    /// The next cluster created ends up FAILED instead of ACTIVE.
    pub fn fail_next_create(&self) {
        self.inner.lock().expect("double state").fail_next_create = true;
    }

    /// A cluster of the default account as DescribeCluster would show it.
    pub fn cluster(&self, name: &str) -> Option<Value> {
        self.cluster_in(ACCOUNT, name)
    }

    /// A cluster of `account` (in the default Region) as DescribeCluster
    /// would show it.
    pub fn cluster_in(&self, account: &str, name: &str) -> Option<Value> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner
            .clusters
            .get(&key_of(account, REGION, name))
            .map(|c| c.doc.clone())
    }

    /// The cluster whose ARN is `arn`, in whichever account and Region.
    pub fn cluster_by_arn(&self, arn: &str) -> Option<Value> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner
            .clusters
            .values()
            .find(|c| c.doc["arn"] == arn)
            .map(|c| c.doc.clone())
    }

    /// Changes a cluster of the default account behind meshmon's back (an
    /// out-of-band upgrade).
    pub fn patch_cluster(&self, name: &str, patch: Value) {
        self.patch_cluster_in(ACCOUNT, name, patch);
    }

    /// Changes a cluster of `account` (in the default Region) behind
    /// meshmon's back.
    pub fn patch_cluster_in(&self, account: &str, name: &str, patch: Value) {
        let mut inner = self.inner.lock().expect("double state");
        if let Some(c) = inner.clusters.get_mut(&key_of(account, REGION, name)) {
            merge(&mut c.doc, &patch);
        }
    }

    /// Every access entry of the default account, as (cluster, principal ARN).
    pub fn access_entries(&self) -> Vec<(String, String)> {
        self.access_entries_in(ACCOUNT)
    }

    /// Every access entry of `account`'s clusters (in the default Region),
    /// as (cluster, principal ARN).
    pub fn access_entries_in(&self, account: &str) -> Vec<(String, String)> {
        let inner = self.inner.lock().expect("double state");
        inner
            .entries
            .keys()
            .filter(|((a, r, _), _)| a == account && r == REGION)
            .map(|((_, _, c), p)| (c.clone(), p.clone()))
            .collect()
    }

    /// An access entry of the default account as DescribeAccessEntry
    /// would show it.
    pub fn access_entry(&self, cluster: &str, principal: &str) -> Option<Value> {
        self.access_entry_in(ACCOUNT, cluster, principal)
    }

    /// An access entry on `account`'s cluster as DescribeAccessEntry
    /// would show it.
    pub fn access_entry_in(&self, account: &str, cluster: &str, principal: &str) -> Option<Value> {
        let inner = self.inner.lock().expect("double state");
        inner
            .entries
            .get(&(key_of(account, REGION, cluster), principal.to_string()))
            .cloned()
    }

    /// Every access policy association of the default account, as
    /// (cluster, principal, policy).
    pub fn access_policy_associations(&self) -> Vec<(String, String, String)> {
        self.access_policy_associations_in(ACCOUNT)
    }

    /// Every access policy association on `account`'s clusters, as
    /// (cluster, principal, policy).
    pub fn access_policy_associations_in(&self, account: &str) -> Vec<(String, String, String)> {
        let inner = self.inner.lock().expect("double state");
        inner
            .associations
            .keys()
            .filter(|((a, r, _), _, _)| a == account && r == REGION)
            .map(|((_, _, c), p, policy)| (c.clone(), p.clone(), policy.clone()))
            .collect()
    }

    /// Deletes an access entry of the default account (and its
    /// associations) behind meshmon's back.
    pub fn delete_access_entry(&self, cluster: &str, principal: &str) -> bool {
        self.delete_access_entry_in(ACCOUNT, cluster, principal)
    }

    /// Deletes an access entry on `account`'s cluster (and its
    /// associations) behind meshmon's back.
    pub fn delete_access_entry_in(&self, account: &str, cluster: &str, principal: &str) -> bool {
        let key = key_of(account, REGION, cluster);
        let mut inner = self.inner.lock().expect("double state");
        inner
            .associations
            .retain(|(c, p, _), _| !(*c == key && p == principal));
        inner
            .entries
            .remove(&(key, principal.to_string()))
            .is_some()
    }

    /// The default account's clusters (in the default Region).
    pub fn cluster_names(&self) -> Vec<String> {
        self.cluster_names_in(ACCOUNT)
    }

    /// `account`'s clusters (in the default Region).
    pub fn cluster_names_in(&self, account: &str) -> Vec<String> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner
            .clusters
            .keys()
            .filter(|(a, r, _)| a == account && r == REGION)
            .map(|(_, _, n)| n.clone())
            .collect()
    }

    /// Every cluster, as (account, Region, name).
    pub fn clusters(&self) -> Vec<(String, String, String)> {
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
