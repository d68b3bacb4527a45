//! A narrow test double of the Amazon Managed Service for Prometheus API
//! for what moto 5.2.5 lacks: managed collectors (`CreateScraper`,
//! `DescribeScraper`, `UpdateScraper`, `DeleteScraper`, `ListScrapers`,
//! tags on scrapers) and Alertmanager definitions (`Create`, `Describe`,
//! `Put`, `Delete`). It follows the published REST-JSON API: paths, bodies
//! (blobs base64-encoded), CREATING → ACTIVE, UPDATING → ACTIVE and
//! DELETING → gone after a settle time, `ValidationException` for what AWS
//! documents as refused (a scrape interval under 30 s, discovery other than
//! `kubernetes_sd_configs`, receivers other than SNS), 404
//! `ResourceNotFoundException` after a delete, and 409 `ConflictException`
//! while an object is busy.
//!
//! Everything else (workspaces, rule groups namespaces, their tags) is
//! forwarded unchanged to the upstream emulator (moto), so one
//! `AWS_ENDPOINT_URL_AMP` serves the whole service. An Alertmanager
//! definition is accepted only for a workspace the upstream knows.
//!
//! Linked to the EKS double ([`AmpDouble::link_eks`]), it does what AMP
//! does there: "any scrapers you create through the Amazon Managed Service
//! for Prometheus API or CLI … will automatically have the correct access
//! entry policy created for you" when the cluster's authentication mode has
//! the EKS API (AMP user guide, "Configure Amazon EKS for scraper access
//! with access entries"), for the Kubernetes user `aps-collector-user`, and
//! the entry goes with the scraper. Not documented, so assumed: the
//! entry's principal is the scraper's service-linked role without its
//! `aws-service-role/scraper.aps.amazonaws.com/` path (the form the guide
//! says EKS requires, and EKS refuses entries for service-linked role
//! ARNs with that path), and it is of type STANDARD.
//!
//! Linked to the test Kubernetes API server ([`AmpDouble::link_cluster`]),
//! it records what the scraper's user could do in the cluster at the
//! moment CreateScraper returned, asked with SubjectAccessReviews: the
//! access entry only authenticates `aps-collector-user`, and a collector
//! whose user may not list pods and endpoints or get `/metrics` is ACTIVE
//! and scrapes nothing. AMP itself does not check this; the record is for
//! tests that RBAC is in place before the scraper exists. Each cluster may
//! have its own API server ([`AmpDouble::link_cluster_arn`]); the one
//! linked without an ARN answers for the others.
//!
//! Several accounts: scrapers and Alertmanager definitions belong to the
//! account and Region of the request's signer ([`crate::caller`]), as on
//! AWS: a scraper's ARN and its service-linked role name the caller's
//! account, and List/Describe/Update/Delete see the caller's own only.
//! Workspaces are moto's, which keeps them per account already. A scraper
//! may write to a workspace in another account with a `roleConfiguration`
//! (`sourceRoleArn` in the scraper's account, `targetRoleArn` in the
//! workspace's), as the AMP user guide's cross-account setup documents
//! (AMP-collector-how-to.html#cross-account-remote-write); the IAM side
//! of that setup is checked by [`crate::amp_cross_account`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::aws_model::{Tally, mark_checked};
use crate::caller::{Caller, Callers, account_of_arn};
use crate::eks_double::{EksDouble, EksLink};
use crate::http::{Request, Response, Server, forward};
use crate::kube_api::Reviewer;
use crate::kube_api::rbac::Attributes;

struct Object {
    doc: Value,
    /// When the current transition (CREATING, UPDATING, DELETING) ends.
    until: Option<Instant>,
    /// The account and Region it belongs to.
    account: String,
    region: String,
}

impl Object {
    fn owned_by(&self, caller: &Caller) -> bool {
        self.account == caller.account && self.region == caller.region
    }
}

struct Inner {
    upstream: String,
    settle: Duration,
    scrapers: BTreeMap<String, Object>,
    /// Workspace ID → its Alertmanager definition.
    definitions: BTreeMap<String, Object>,
    calls: Vec<String>,
    next_id: u64,
    eks: Option<EksLink>,
    /// The API server asked about clusters without one of their own.
    cluster: Option<Reviewer>,
    /// Cluster ARN → its API server.
    clusters: BTreeMap<String, Reviewer>,
    /// Scraper ID → what its user could do when it was created.
    access_at_create: BTreeMap<String, Vec<Access>>,
    /// Who signed a request (account and Region), asked of moto's STS.
    callers: Callers,
}

/// One question about the scraper's user, asked of the cluster: what was
/// asked (`list pods`, `get /metrics`) and the answer (allowed, or what
/// went wrong asking).
pub type Access = (String, Result<bool, String>);

/// What the collector's discovery needs with AMP's default scrape
/// configuration (roles pod, endpoints and node, the kubelet behind
/// `nodes/proxy`, the API server's `/metrics`).
fn collector_discovery() -> Vec<(String, Attributes)> {
    let mut out = Vec::new();
    for resource in ["pods", "endpoints", "services", "nodes"] {
        for verb in ["list", "watch"] {
            out.push((
                format!("{verb} {resource}"),
                Attributes::core(verb, resource, ""),
            ));
        }
    }
    out.push((
        "get nodes/proxy".into(),
        Attributes::Resource {
            namespace: String::new(),
            verb: "get".into(),
            group: String::new(),
            resource: "nodes".into(),
            subresource: "proxy".into(),
            name: String::new(),
        },
    ));
    out.push(("get /metrics".into(), Attributes::url("get", "/metrics")));
    out
}

/// The Kubernetes user AMP's access entry maps a scraper to.
pub const COLLECTOR_USER: &str = "aps-collector-user";

/// The principal of the access entry AMP makes for a scraper.
fn entry_principal(doc: &Value) -> Option<String> {
    let role = doc["roleArn"].as_str()?;
    let name = role.rsplit('/').next()?;
    let head = role.split(":role/").next()?;
    Some(format!("{head}:role/{name}"))
}

/// The AMP double; dropped, it stops.
pub struct AmpDouble {
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

fn validation(message: &str) -> Response {
    error(400, "ValidationException", message)
}

fn decode_blob(v: &Value) -> Option<String> {
    let bytes = B64.decode(v.as_str()?).ok()?;
    String::from_utf8(bytes).ok()
}

/// What the service refuses in a scrape configuration (the documented
/// limits: interval at least 30 s, Kubernetes discovery only).
fn scrape_problem(yaml: &str) -> Option<String> {
    let doc: serde_yaml_ng::Value = match serde_yaml_ng::from_str(yaml) {
        Ok(d) => d,
        Err(e) => return Some(format!("Invalid scrape configuration: {e}")),
    };
    fn walk(v: &serde_yaml_ng::Value) -> Option<String> {
        match v {
            serde_yaml_ng::Value::Mapping(m) => {
                for (k, v) in m {
                    let key = k.as_str().unwrap_or_default();
                    if key == "scrape_interval" {
                        let s = v.as_str().unwrap_or_default();
                        let secs = s
                            .strip_suffix('s')
                            .and_then(|n| n.parse::<u64>().ok())
                            .or_else(|| {
                                s.strip_suffix('m')
                                    .and_then(|n| n.parse::<u64>().ok())
                                    .map(|m| m * 60)
                            });
                        if secs.is_some_and(|s| s < 30) {
                            return Some(format!(
                                "Invalid scrape configuration: scrape_interval {s} is below the minimum of 30s"
                            ));
                        }
                    }
                    if key.ends_with("_sd_configs") && key != "kubernetes_sd_configs" {
                        return Some(format!(
                            "Invalid scrape configuration: {key} is not supported"
                        ));
                    }
                    if let Some(p) = walk(v) {
                        return Some(p);
                    }
                }
                None
            }
            serde_yaml_ng::Value::Sequence(s) => s.iter().find_map(walk),
            _ => None,
        }
    }
    walk(&doc)
}

/// An IAM role ARN as RoleConfiguration takes it (AMP API reference,
/// RoleConfiguration: pattern `arn:aws[-a-z]*:iam::[0-9]{12}:role/.+`).
fn is_role_arn(arn: &str) -> bool {
    let re = regex::Regex::new(r"^arn:aws[-a-z]*:iam::[0-9]{12}:role/.+$").expect("pattern");
    re.is_match(arn)
}

/// (Region, account) of an AMP workspace ARN.
fn workspace_place(arn: &str) -> Option<(&str, &str)> {
    let re = regex::Regex::new(r"^arn:aws[-a-z]*:aps:([a-z0-9-]+):([0-9]{12}):workspace/.+$")
        .expect("pattern");
    let c = re.captures(arn)?;
    Some((c.get(1)?.as_str(), c.get(2)?.as_str()))
}

/// What AMP refuses in a scraper's destination and role configuration, for
/// a scraper of `caller`'s account. The AMP user guide's cross-account
/// setup (AMP-collector-how-to.html#cross-account-remote-write): the
/// scraper is created in the source account (the cluster's) with
/// `roleConfiguration.sourceRoleArn` a role of that account and
/// `targetRoleArn` a role of the target account (the workspace's); a
/// workspace in another account is reached only through those roles.
fn destination_problem(caller: &Caller, workspace: &str, roles: Option<&Value>) -> Option<String> {
    let Some((_, ws_account)) = workspace_place(workspace) else {
        return Some(format!(
            "destination.ampConfiguration.workspaceArn is not an AMP workspace ARN: {workspace}"
        ));
    };
    let Some(roles) = roles.filter(|r| !r.is_null()) else {
        return (ws_account != caller.account).then(|| {
            format!(
                "The workspace {workspace} is in account {ws_account}, not the scraper's                  ({}): a cross-account destination needs roleConfiguration with sourceRoleArn                  and targetRoleArn",
                caller.account
            )
        });
    };
    let (source, target) = (
        roles["sourceRoleArn"].as_str(),
        roles["targetRoleArn"].as_str(),
    );
    let (Some(source), Some(target)) = (source, target) else {
        return Some("roleConfiguration needs both sourceRoleArn and targetRoleArn".into());
    };
    for (member, arn) in [("sourceRoleArn", source), ("targetRoleArn", target)] {
        if !is_role_arn(arn) {
            return Some(format!(
                "roleConfiguration.{member} is not an IAM role ARN                  (arn:aws[-a-z]*:iam::[0-9]{{12}}:role/.+): {arn}"
            ));
        }
    }
    if account_of_arn(source) != Some(caller.account.as_str()) {
        return Some(format!(
            "roleConfiguration.sourceRoleArn {source} is not a role of the scraper's account {}",
            caller.account
        ));
    }
    if account_of_arn(target) != Some(ws_account) {
        return Some(format!(
            "roleConfiguration.targetRoleArn {target} is not a role of the workspace's account {ws_account}"
        ));
    }
    None
}

/// What the service refuses in an Alertmanager definition.
fn definition_problem(yaml: &str) -> Option<String> {
    let doc: serde_yaml_ng::Value = match serde_yaml_ng::from_str(yaml) {
        Ok(d) => d,
        Err(e) => return Some(format!("Invalid Alertmanager definition: {e}")),
    };
    let config = match doc.get("alertmanager_config") {
        Some(serde_yaml_ng::Value::String(s)) => serde_yaml_ng::from_str(s).ok()?,
        Some(v) => v.clone(),
        None => {
            return Some("Invalid Alertmanager definition: alertmanager_config is missing".into());
        }
    };
    let receivers = config
        .get("receivers")
        .and_then(|r| r.as_sequence())
        .cloned()
        .unwrap_or_default();
    for r in receivers {
        for k in r.as_mapping()?.keys().filter_map(|k| k.as_str()) {
            if k != "name" && k != "sns_configs" {
                return Some(format!(
                    "Invalid Alertmanager definition: receiver type {k} is not supported"
                ));
            }
        }
    }
    None
}

impl Inner {
    fn tick(&mut self) {
        let now = Instant::now();
        for map in [&mut self.scrapers, &mut self.definitions] {
            let mut gone = Vec::new();
            for (id, o) in map.iter_mut() {
                if o.until.is_some_and(|t| t <= now) {
                    o.until = None;
                    match o.doc["status"]["statusCode"].as_str() {
                        Some("DELETING") => gone.push(id.clone()),
                        _ => o.doc["status"] = json!({ "statusCode": "ACTIVE" }),
                    }
                }
            }
            for id in gone {
                if let (Some(o), Some(eks)) = (map.remove(&id), &self.eks)
                    && let Some(p) = entry_principal(&o.doc)
                {
                    eks.remove_entries_of(&p);
                }
            }
        }
    }

    fn handle(&mut self, req: &Request) -> Response {
        self.tick();
        let owned = req.segments();
        let segs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let op = match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["scrapers"]) => "CreateScraper",
            ("GET", ["scrapers"]) => "ListScrapers",
            ("GET", ["scrapers", _]) => "DescribeScraper",
            ("PUT", ["scrapers", _]) => "UpdateScraper",
            ("DELETE", ["scrapers", _]) => "DeleteScraper",
            ("POST", ["workspaces", _, "alertmanager", "definition"]) => {
                "CreateAlertManagerDefinition"
            }
            ("GET", ["workspaces", _, "alertmanager", "definition"]) => {
                "DescribeAlertManagerDefinition"
            }
            ("PUT", ["workspaces", _, "alertmanager", "definition"]) => "PutAlertManagerDefinition",
            ("DELETE", ["workspaces", _, "alertmanager", "definition"]) => {
                "DeleteAlertManagerDefinition"
            }
            (_, ["tags", arn]) if arn.contains(":scraper/") => "ScraperTags",
            _ => {
                self.calls
                    .push(format!("Forwarded {} {}", req.method, req.path));
                return forward(&self.upstream, req);
            }
        };
        self.calls.push(op.to_string());
        let id = segs.get(1).copied().unwrap_or_default().to_string();
        // Each account and Region has scrapers of its own: the signer's.
        let caller = self.callers.of(req);
        match op {
            "CreateScraper" => self.create_scraper(&caller, req.json()),
            "ListScrapers" => Response::json(
                200,
                &json!({ "scrapers": self
                    .scrapers
                    .values()
                    .filter(|o| o.owned_by(&caller))
                    .map(|o| &o.doc)
                    .collect::<Vec<_>>() }),
            ),
            "DescribeScraper" => match self.scrapers.get(&id).filter(|o| o.owned_by(&caller)) {
                Some(o) => Response::json(200, &json!({ "scraper": o.doc })),
                None => scraper_not_found(&id),
            },
            "UpdateScraper" => self.update_scraper(&caller, &id, req.json()),
            "DeleteScraper" => {
                let settle = self.settle;
                match self.scrapers.get_mut(&id).filter(|o| o.owned_by(&caller)) {
                    Some(o) => {
                        o.doc["status"] = json!({ "statusCode": "DELETING" });
                        o.until = Some(Instant::now() + settle);
                        Response::json(202, &json!({ "scraperId": id, "status": o.doc["status"] }))
                    }
                    None => scraper_not_found(&id),
                }
            }
            "ScraperTags" => self.scraper_tags(&caller, req, segs[1]),
            _ => self.definition(&caller, op, &id, req),
        }
    }

    fn create_scraper(&mut self, caller: &Caller, body: Value) -> Response {
        let Some(eks) = body["source"].get("eksConfiguration") else {
            return validation("source.eksConfiguration is required");
        };
        let subnets = eks["subnetIds"].as_array().map(Vec::len).unwrap_or(0);
        if subnets == 0 {
            return validation("source.eksConfiguration.subnetIds must name at least one subnet");
        }
        if !eks["clusterArn"]
            .as_str()
            .is_some_and(|a| a.contains(":cluster/"))
        {
            return validation("source.eksConfiguration.clusterArn is not an EKS cluster ARN");
        }
        let Some(blob) = decode_blob(&body["scrapeConfiguration"]["configurationBlob"]) else {
            return validation("scrapeConfiguration.configurationBlob is required");
        };
        if let Some(p) = scrape_problem(&blob) {
            return validation(&p);
        }
        let Some(workspace) = body["destination"]["ampConfiguration"]["workspaceArn"].as_str()
        else {
            return validation("destination.ampConfiguration.workspaceArn is required");
        };
        if let Some(p) = destination_problem(caller, workspace, body.get("roleConfiguration")) {
            return validation(&p);
        }
        self.next_id += 1;
        let id = format!(
            "s-{:08x}-0000-4000-8000-{:012x}",
            self.next_id, self.next_id
        );
        let (account, region) = (&caller.account, &caller.region);
        let mut doc = json!({
            "scraperId": id,
            "arn": format!("arn:aws:aps:{region}:{account}:scraper/{id}"),
            "roleArn": format!("arn:aws:iam::{account}:role/aws-service-role/scraper.aps.amazonaws.com/AWSServiceRoleForAmazonPrometheusScraper_{:07x}", self.next_id),
            "alias": body.get("alias").cloned().unwrap_or(Value::Null),
            "status": { "statusCode": "CREATING" },
            "createdAt": now_secs(),
            "lastModifiedAt": now_secs(),
            "tags": body.get("tags").cloned().unwrap_or(json!({})),
            "source": body["source"],
            "destination": body["destination"],
            "scrapeConfiguration": body["scrapeConfiguration"],
        });
        if let Some(roles) = body.get("roleConfiguration").filter(|r| !r.is_null()) {
            doc["roleConfiguration"] = roles.clone();
        }
        // The entry goes to the cluster the ARN names, in its account.
        if let (Some(eks), Some(p)) = (&self.eks, entry_principal(&doc)) {
            eks.add_service_entry(
                eks_cluster_arn(&doc).unwrap_or_default(),
                &p,
                COLLECTOR_USER,
            );
        }
        let reviewer = eks_cluster_arn(&doc)
            .and_then(|arn| self.clusters.get(arn))
            .or(self.cluster.as_ref());
        if let Some(cluster) = reviewer {
            let access = collector_discovery()
                .into_iter()
                .map(|(asked, a)| (asked, cluster.review(COLLECTOR_USER, &a).map(|(ok, _)| ok)))
                .collect();
            self.access_at_create.insert(id.clone(), access);
        }
        let out = json!({ "scraperId": id, "arn": doc["arn"], "status": doc["status"], "tags": doc["tags"] });
        self.scrapers.insert(
            id,
            Object {
                doc,
                until: Some(Instant::now() + self.settle),
                account: account.clone(),
                region: region.clone(),
            },
        );
        Response::json(202, &out)
    }

    fn update_scraper(&mut self, caller: &Caller, id: &str, body: Value) -> Response {
        let settle = self.settle;
        let Some(o) = self.scrapers.get_mut(id).filter(|o| o.owned_by(caller)) else {
            return scraper_not_found(id);
        };
        if o.doc["status"]["statusCode"] != "ACTIVE" {
            return error(
                409,
                "ConflictException",
                &format!("Scraper {id} is not ACTIVE"),
            );
        }
        if let Some(c) = body.get("scrapeConfiguration") {
            let Some(blob) = decode_blob(&c["configurationBlob"]) else {
                return validation("scrapeConfiguration.configurationBlob is required");
            };
            if let Some(p) = scrape_problem(&blob) {
                return validation(&p);
            }
            o.doc["scrapeConfiguration"] = c.clone();
        }
        // The destination and roles as they would be after the update.
        let destination = body.get("destination").unwrap_or(&o.doc["destination"]);
        let roles = body
            .get("roleConfiguration")
            .or(o.doc.get("roleConfiguration"));
        let Some(workspace) = destination["ampConfiguration"]["workspaceArn"].as_str() else {
            return validation("destination.ampConfiguration.workspaceArn is required");
        };
        if let Some(p) = destination_problem(caller, workspace, roles) {
            return validation(&p);
        }
        if let Some(d) = body.get("destination") {
            o.doc["destination"] = d.clone();
        }
        if let Some(r) = body.get("roleConfiguration").filter(|r| !r.is_null()) {
            o.doc["roleConfiguration"] = r.clone();
        }
        if let Some(a) = body.get("alias") {
            o.doc["alias"] = a.clone();
        }
        o.doc["status"] = json!({ "statusCode": "UPDATING" });
        o.doc["lastModifiedAt"] = json!(now_secs());
        o.until = Some(Instant::now() + settle);
        Response::json(
            202,
            &json!({ "scraperId": id, "arn": o.doc["arn"], "status": o.doc["status"], "tags": o.doc["tags"] }),
        )
    }

    fn scraper_tags(&mut self, caller: &Caller, req: &Request, arn: &str) -> Response {
        let Some(o) = self
            .scrapers
            .values_mut()
            .find(|o| o.doc["arn"] == arn && o.owned_by(caller))
        else {
            return error(
                404,
                "ResourceNotFoundException",
                &format!("Resource {arn} not found"),
            );
        };
        match req.method.as_str() {
            "POST" => {
                if let Some(t) = req.json()["tags"].as_object() {
                    for (k, v) in t {
                        o.doc["tags"][k] = v.clone();
                    }
                }
                Response::json(200, &json!({}))
            }
            "DELETE" => {
                for (k, v) in &req.query {
                    if k == "tagKeys"
                        && let Some(t) = o.doc["tags"].as_object_mut()
                    {
                        t.remove(v);
                    }
                }
                Response::json(200, &json!({}))
            }
            _ => Response::json(200, &json!({ "tags": o.doc["tags"] })),
        }
    }

    /// Alertmanager definitions: one per workspace (workspace IDs are
    /// unique across accounts; the definition is its account's).
    fn definition(&mut self, caller: &Caller, op: &str, ws: &str, req: &Request) -> Response {
        let settle = self.settle;
        match op {
            "CreateAlertManagerDefinition" | "PutAlertManagerDefinition" => {
                let body = req.json();
                let Some(yaml) = decode_blob(&body["data"]) else {
                    return validation("data is required");
                };
                if let Some(p) = definition_problem(&yaml) {
                    return validation(&p);
                }
                if !self.workspace_exists(req, ws) {
                    return error(
                        404,
                        "ResourceNotFoundException",
                        &format!("Workspace {ws} not found"),
                    );
                }
                let existing = self.definitions.get_mut(ws).filter(|o| o.owned_by(caller));
                let status = match (op, existing) {
                    ("CreateAlertManagerDefinition", Some(_)) => {
                        return error(
                            409,
                            "ConflictException",
                            &format!("An Alertmanager definition already exists for {ws}"),
                        );
                    }
                    ("PutAlertManagerDefinition", None) => {
                        return error(
                            404,
                            "ResourceNotFoundException",
                            &format!("No Alertmanager definition found for {ws}"),
                        );
                    }
                    (_, Some(o)) => {
                        if o.doc["status"]["statusCode"] != "ACTIVE" {
                            return error(
                                409,
                                "ConflictException",
                                "The Alertmanager definition is being changed",
                            );
                        }
                        o.doc["data"] = body["data"].clone();
                        o.doc["modifiedAt"] = json!(now_secs());
                        o.doc["status"] = json!({ "statusCode": "UPDATING" });
                        o.until = Some(Instant::now() + settle);
                        o.doc["status"].clone()
                    }
                    (_, None) => {
                        let doc = json!({
                            "status": { "statusCode": "CREATING" },
                            "data": body["data"],
                            "createdAt": now_secs(),
                            "modifiedAt": now_secs(),
                        });
                        let status = doc["status"].clone();
                        self.definitions.insert(
                            ws.to_string(),
                            Object {
                                doc,
                                until: Some(Instant::now() + settle),
                                account: caller.account.clone(),
                                region: caller.region.clone(),
                            },
                        );
                        status
                    }
                };
                Response::json(202, &json!({ "status": status }))
            }
            "DescribeAlertManagerDefinition" => {
                match self.definitions.get(ws).filter(|o| o.owned_by(caller)) {
                    Some(o) => Response::json(200, &json!({ "alertManagerDefinition": o.doc })),
                    None => error(
                        404,
                        "ResourceNotFoundException",
                        &format!("No Alertmanager definition found for {ws}"),
                    ),
                }
            }
            _ => match self.definitions.get_mut(ws).filter(|o| o.owned_by(caller)) {
                Some(o) => {
                    o.doc["status"] = json!({ "statusCode": "DELETING" });
                    o.until = Some(Instant::now() + settle);
                    Response::json(202, &json!({}))
                }
                None => error(
                    404,
                    "ResourceNotFoundException",
                    &format!("No Alertmanager definition found for {ws}"),
                ),
            },
        }
    }

    /// Asks the upstream whether the workspace exists, with the caller's
    /// own (signed) headers.
    fn workspace_exists(&self, req: &Request, ws: &str) -> bool {
        let probe = Request {
            method: "GET".into(),
            path: format!("/workspaces/{ws}"),
            query: Vec::new(),
            body: Vec::new(),
            target: format!("/workspaces/{ws}"),
            headers: req
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
                .cloned()
                .collect(),
        };
        forward(&self.upstream, &probe).status == 200
    }
}

fn eks_cluster_arn(doc: &Value) -> Option<&str> {
    doc["source"]["eksConfiguration"]["clusterArn"].as_str()
}

fn scraper_not_found(id: &str) -> Response {
    error(
        404,
        "ResourceNotFoundException",
        &format!("Scraper {id} not found"),
    )
}

impl AmpDouble {
    /// Starts the double in front of `upstream` (moto's endpoint); every
    /// transition takes `settle`.
    pub fn start(settle: Duration, upstream: &str) -> AmpDouble {
        let inner = Arc::new(Mutex::new(Inner {
            upstream: upstream.to_string(),
            settle,
            scrapers: BTreeMap::new(),
            definitions: BTreeMap::new(),
            calls: Vec::new(),
            next_id: 0,
            eks: None,
            cluster: None,
            clusters: BTreeMap::new(),
            access_at_create: BTreeMap::new(),
            callers: Callers::new(Some(upstream)),
        }));
        let handler_inner = inner.clone();
        // Checked against the API model first, as the service validates
        // input before acting on it; marked, so that what is forwarded to
        // moto is not checked again.
        let model_check = Tally::new();
        let screen = model_check.clone();
        let server = Server::start(Arc::new(move |req: &Request| {
            if let Some(refused) = screen.screen(req, Some("aps")) {
                return refused;
            }
            handler_inner
                .lock()
                .expect("double state")
                .handle(&mark_checked(req))
        }));
        AmpDouble {
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

    /// Scrapers created from now on get their access entry in `eks`'s
    /// clusters, and lose it when they are deleted.
    pub fn link_eks(&self, eks: &EksDouble) {
        self.inner.lock().expect("double state").eks = Some(eks.link());
    }

    /// Scrapers created from now on record what their user
    /// (`aps-collector-user`) could do in the cluster `reviewer` asks, at
    /// the moment they were created ([`AmpDouble::access_at_create`]);
    /// for clusters linked with [`AmpDouble::link_cluster_arn`], their own
    /// API server is asked instead.
    pub fn link_cluster(&self, reviewer: Reviewer) {
        self.inner.lock().expect("double state").cluster = Some(reviewer);
    }

    /// Scrapers created from now on for the cluster `cluster_arn` record
    /// what their user could do in it, asked of `reviewer` (that
    /// cluster's API server).
    pub fn link_cluster_arn(&self, cluster_arn: &str, reviewer: Reviewer) {
        self.inner
            .lock()
            .expect("double state")
            .clusters
            .insert(cluster_arn.to_string(), reviewer);
    }

    /// What scraper `id`'s user could do in the linked cluster when the
    /// scraper was created; `None` when it was created unlinked.
    pub fn access_at_create(&self, id: &str) -> Option<Vec<Access>> {
        self.inner
            .lock()
            .expect("double state")
            .access_at_create
            .get(id)
            .cloned()
    }

    /// The principal of the access entry AMP makes for scraper `id`.
    pub fn access_entry_principal(&self, id: &str) -> Option<String> {
        self.scraper(id).and_then(|d| entry_principal(&d))
    }

    /// The operations called so far, in order (`Forwarded …` for moto's).
    pub fn calls(&self) -> Vec<String> {
        self.inner.lock().expect("double state").calls.clone()
    }

    /// Scraper IDs of every account, deleted ones excluded once their
    /// deletion settled.
    pub fn scraper_ids(&self) -> Vec<String> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner.scrapers.keys().cloned().collect()
    }

    /// Scraper IDs of `account`.
    pub fn scraper_ids_in(&self, account: &str) -> Vec<String> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner
            .scrapers
            .iter()
            .filter(|(_, o)| o.account == account)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A scraper as DescribeScraper shows it.
    pub fn scraper(&self, id: &str) -> Option<Value> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner.scrapers.get(id).map(|o| o.doc.clone())
    }

    /// A scraper's configuration, decoded.
    pub fn scrape_configuration(&self, id: &str) -> Option<String> {
        self.scraper(id)
            .and_then(|d| decode_blob(&d["scrapeConfiguration"]["configurationBlob"]))
    }

    /// Replaces a scraper's configuration behind meshmon's back.
    pub fn set_scrape_configuration(&self, id: &str, yaml: &str) {
        let mut inner = self.inner.lock().expect("double state");
        if let Some(o) = inner.scrapers.get_mut(id) {
            o.doc["scrapeConfiguration"] = json!({ "configurationBlob": B64.encode(yaml) });
        }
    }

    /// Workspace IDs that have an Alertmanager definition.
    pub fn definition_workspaces(&self) -> Vec<String> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner.definitions.keys().cloned().collect()
    }

    /// A workspace's Alertmanager definition, decoded.
    pub fn definition(&self, workspace: &str) -> Option<String> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner
            .definitions
            .get(workspace)
            .and_then(|o| decode_blob(&o.doc["data"]))
    }
}

impl Drop for AmpDouble {
    fn drop(&mut self) {
        self.model_check.assert_clean("the AMP double");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_the_service_documents_as_refused() {
        assert!(
            scrape_problem("global:\n  scrape_interval: 15s\n")
                .unwrap()
                .contains("below the minimum")
        );
        assert!(
            scrape_problem("scrape_configs:\n  - job_name: x\n    ec2_sd_configs: []\n")
                .unwrap()
                .contains("ec2_sd_configs")
        );
        assert!(scrape_problem("global:\n  scrape_interval: 30s\n").is_none());
        assert!(
            definition_problem(
                "alertmanager_config: |\n  receivers:\n    - name: x\n      webhook_configs: []\n"
            )
            .unwrap()
            .contains("webhook_configs")
        );
    }
}

#[cfg(test)]
mod account_tests {
    use std::time::Duration;

    use aws_sdk_amp::error::ProvideErrorMetadata;
    use serde_json::json;

    use super::*;
    use crate::existing::{account_role, make_cluster};
    use crate::kube_api::{Auth, KubeApi, Options};
    use crate::moto::{ACCOUNT, Moto, REGION};
    use crate::{SdkConfig, amp};

    const WS: &str = "arn:aws:aps:eu-west-1:123456789012:workspace/ws-central";

    fn caller(account: &str) -> Caller {
        Caller {
            account: account.into(),
            region: REGION.into(),
            access_key: None,
            arn: None,
        }
    }

    #[test]
    fn destinations_and_roles_are_refused_as_amp_documents() {
        let away = caller("111111111111");
        let roles = |s: &str, t: &str| Some(json!({ "sourceRoleArn": s, "targetRoleArn": t }));
        let (src, tgt) = (
            "arn:aws:iam::111111111111:role/amp-source",
            "arn:aws:iam::123456789012:role/path/amp-target",
        );
        // Same account: no roles needed.
        assert_eq!(destination_problem(&caller(ACCOUNT), WS, None), None);
        assert_eq!(
            destination_problem(&away, WS, roles(src, tgt).as_ref()),
            None
        );
        let refused = |ws: &str, r: Option<Value>, says: &str| {
            let p = destination_problem(&away, ws, r.as_ref()).expect("refused");
            assert!(p.contains(says), "{p}");
        };
        refused(WS, None, "needs roleConfiguration");
        refused(WS, Some(Value::Null), "needs roleConfiguration");
        refused(
            WS,
            roles(tgt, tgt),
            "not a role of the scraper's account 111111111111",
        );
        refused(
            WS,
            roles(src, src),
            "not a role of the workspace's account 123456789012",
        );
        refused(WS, Some(json!({ "sourceRoleArn": src })), "needs both");
        refused(
            WS,
            roles("arn:aws:iam::1111:role/x", tgt),
            "sourceRoleArn is not an IAM role ARN",
        );
        refused(
            WS,
            roles(src, "arn:aws:iam::123456789012:user/x"),
            "targetRoleArn is not an IAM role ARN",
        );
        refused(
            WS,
            roles(src, "arn:aws:sts::123456789012:role/x"),
            "targetRoleArn is not an IAM role ARN",
        );
        refused(
            "arn:aws:aps:eu-west-1:123456789012:rulegroupsnamespace/x",
            None,
            "not an AMP workspace ARN",
        );
        assert!(is_role_arn("arn:aws-cn:iam::123456789012:role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/"));
    }

    async fn create(
        client: &amp::Client,
        cluster_arn: &str,
        ws_arn: &str,
        roles: Option<(&str, &str)>,
    ) -> Result<amp::operation::create_scraper::CreateScraperOutput, String> {
        client
            .create_scraper()
            .source(amp::types::Source::EksConfiguration(
                amp::types::EksConfiguration::builder()
                    .cluster_arn(cluster_arn)
                    .subnet_ids("subnet-1")
                    .build()
                    .unwrap(),
            ))
            .destination(amp::types::Destination::AmpConfiguration(
                amp::types::AmpConfiguration::builder()
                    .workspace_arn(ws_arn)
                    .build()
                    .unwrap(),
            ))
            .scrape_configuration(amp::types::ScrapeConfiguration::ConfigurationBlob(
                aws_smithy_types::Blob::new("global:\n  scrape_interval: 30s\n"),
            ))
            .set_role_configuration(roles.map(|(s, t)| {
                amp::types::RoleConfiguration::builder()
                    .source_role_arn(s)
                    .target_role_arn(t)
                    .build()
            }))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "{}: {}",
                    e.code().unwrap_or("?"),
                    e.message().unwrap_or("?")
                )
            })
    }

    fn rbac_for_the_collector(api: &KubeApi) {
        api.create(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "aps-collector-role"},
            "rules": [{"apiGroups": [""], "resources": ["nodes", "nodes/proxy", "nodes/metrics",
                "services", "endpoints", "pods", "ingresses", "configmaps"],
                "verbs": ["get", "list", "watch"]},
                {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}),
        );
        api.create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "aps-collector-user-role-binding"},
            "subjects": [{"kind": "User", "name": COLLECTOR_USER, "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "ClusterRole", "name": "aps-collector-role", "apiGroup": "rbac.authorization.k8s.io"}}));
    }

    fn on(sdk: &SdkConfig, endpoint: String) -> amp::Client {
        amp::Client::from_conf(
            amp::config::Builder::from(sdk)
                .endpoint_url(endpoint)
                .build(),
        )
    }

    /// Clusters of the same name in the default account and in
    /// 111111111111, each with its own API server (only the one in
    /// 111111111111 grants the collector's RBAC); a scraper in 111111111111
    /// writes to the default account's workspace through its roles. Each
    /// account sees its own scrapers and workspaces; the access entry and
    /// the RBAC review go to the scraper's own cluster. Needs moto.
    #[test]
    fn scrapers_belong_to_their_account_and_reach_their_own_cluster() {
        let moto = Moto::start();
        let eks = EksDouble::forwarding(Duration::from_millis(50), &moto.endpoint());
        let amp_double = AmpDouble::start(Duration::from_millis(50), &moto.endpoint());
        amp_double.link_eks(&eks);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let home = rt.block_on(moto.sdk_config());
        let (away, _) = rt.block_on(account_role(&home, "111111111111", "meshmon"));
        let api = || {
            KubeApi::start(
                Auth::EksAnySession {
                    region: REGION.into(),
                    cluster: "payments-eu".into(),
                },
                Options::default(),
            )
        };
        let (theirs_api, ours_api) = (api(), api());
        rbac_for_the_collector(&theirs_api);
        let theirs = rt.block_on(make_cluster(
            &away,
            &eks,
            "payments-eu",
            "10.60.0.0/16",
            &theirs_api,
        ));
        let ours = rt.block_on(make_cluster(
            &home,
            &eks,
            "payments-eu",
            "10.61.0.0/16",
            &ours_api,
        ));
        amp_double.link_cluster_arn(&theirs.arn, theirs_api.reviewer());
        amp_double.link_cluster(ours_api.reviewer());
        let (home_amp, away_amp) = (
            on(&home, amp_double.endpoint()),
            on(&away, amp_double.endpoint()),
        );

        // Workspaces are moto's, per account already.
        let ws = rt
            .block_on(home_amp.create_workspace().alias("central").send())
            .unwrap();
        let ws_arn = ws.arn().to_string();
        let listed = |c: &amp::Client| {
            rt.block_on(c.list_workspaces().send())
                .unwrap()
                .workspaces()
                .iter()
                .map(|w| w.arn().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(&home_amp), std::slice::from_ref(&ws_arn));
        assert!(listed(&away_amp).is_empty());

        let (src, tgt) = (
            "arn:aws:iam::111111111111:role/amp-source",
            "arn:aws:iam::123456789012:role/amp-target",
        );
        let attempt = |roles: Option<(&str, &str)>| {
            rt.block_on(create(&away_amp, &theirs.arn, &ws_arn, roles))
        };
        let e = attempt(None).unwrap_err();
        assert!(
            e.starts_with("ValidationException") && e.contains("needs roleConfiguration"),
            "{e}"
        );
        let e = attempt(Some((tgt, tgt))).unwrap_err();
        assert!(
            e.starts_with("ValidationException") && e.contains("sourceRoleArn"),
            "{e}"
        );
        let e = attempt(Some((src, src))).unwrap_err();
        assert!(
            e.starts_with("ValidationException") && e.contains("targetRoleArn"),
            "{e}"
        );
        // Malformed: the API model's pattern refuses it before the double does.
        let e = attempt(Some(("arn:aws:iam::111:role/x", tgt))).unwrap_err();
        assert!(e.starts_with("ValidationException"), "{e}");
        assert_eq!(amp_double.model_check().take().len(), 1);
        assert!(amp_double.scraper_ids().is_empty());

        let made = attempt(Some((src, tgt))).unwrap();
        let id = made.scraper_id().to_string();
        assert_eq!(
            made.arn(),
            format!("arn:aws:aps:eu-west-1:111111111111:scraper/{id}")
        );
        let doc = amp_double.scraper(&id).unwrap();
        assert!(
            doc["roleArn"].as_str().unwrap().starts_with(
                "arn:aws:iam::111111111111:role/aws-service-role/scraper.aps.amazonaws.com/"
            ),
            "{doc:#}"
        );
        let described = rt
            .block_on(away_amp.describe_scraper().scraper_id(&id).send())
            .unwrap();
        let roles = described.scraper().unwrap().role_configuration().unwrap();
        assert_eq!(
            (roles.source_role_arn(), roles.target_role_arn()),
            (Some(src), Some(tgt))
        );
        let e = rt
            .block_on(home_amp.describe_scraper().scraper_id(&id).send())
            .unwrap_err();
        assert_eq!(e.code(), Some("ResourceNotFoundException"));
        let count = |c: &amp::Client| {
            rt.block_on(c.list_scrapers().send())
                .unwrap()
                .scrapers()
                .len()
        };
        assert_eq!((count(&away_amp), count(&home_amp)), (1, 0));
        assert_eq!(
            amp_double.scraper_ids_in("111111111111"),
            std::slice::from_ref(&id)
        );

        // The entry went to the cluster in 111111111111, and the review
        // to its own API server, which grants the collector's RBAC.
        let principal = amp_double.access_entry_principal(&id).unwrap();
        assert!(
            eks.access_entries_in("111111111111")
                .contains(&("payments-eu".into(), principal.clone()))
        );
        assert!(!eks.access_entries().iter().any(|(_, p)| *p == principal));
        let access = amp_double.access_at_create(&id).unwrap();
        assert!(access.iter().all(|(_, a)| *a == Ok(true)), "{access:?}");

        // The default account's scraper of its own same-named cluster is
        // reviewed by the fallback API server, which grants nothing.
        let own = rt
            .block_on(create(&home_amp, &ours.arn, &ws_arn, None))
            .unwrap();
        let own_principal = amp_double.access_entry_principal(own.scraper_id()).unwrap();
        assert!(own_principal.starts_with("arn:aws:iam::123456789012:role/"));
        assert!(
            eks.access_entries()
                .iter()
                .any(|(c, p)| c == "payments-eu" && *p == own_principal)
        );
        let access = amp_double.access_at_create(own.scraper_id()).unwrap();
        assert!(access.iter().all(|(_, a)| *a == Ok(false)), "{access:?}");

        // UpdateScraper checks the roles too, and another account cannot.
        std::thread::sleep(Duration::from_millis(120));
        // The error's code, or "" when it went through.
        let update = |c: &amp::Client, target: &str| {
            rt.block_on(
                c.update_scraper()
                    .scraper_id(&id)
                    .role_configuration(
                        amp::types::RoleConfiguration::builder()
                            .source_role_arn(src)
                            .target_role_arn(target)
                            .build(),
                    )
                    .send(),
            )
            .err()
            .map(|e| e.code().unwrap_or("?").to_string())
            .unwrap_or_default()
        };
        assert_eq!(
            update(&away_amp, "arn:aws:iam::111111111111:role/amp-target"),
            "ValidationException"
        );
        assert_eq!(update(&home_amp, tgt), "ResourceNotFoundException");
        let other = "arn:aws:iam::123456789012:role/central-writer";
        assert_eq!(update(&away_amp, other), "");
        assert_eq!(
            amp_double.scraper(&id).unwrap()["roleConfiguration"]["targetRoleArn"],
            other
        );
        let e = rt
            .block_on(home_amp.delete_scraper().scraper_id(&id).send())
            .unwrap_err();
        assert_eq!(e.code(), Some("ResourceNotFoundException"));
    }
}
