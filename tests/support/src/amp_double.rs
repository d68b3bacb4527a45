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
//! tests that RBAC is in place before the scraper exists.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::aws_model::{Tally, mark_checked};
use crate::eks_double::{EksDouble, EksLink};
use crate::http::{Request, Response, Server, forward};
use crate::kube_api::Reviewer;
use crate::kube_api::rbac::Attributes;

struct Object {
    doc: Value,
    /// When the current transition (CREATING, UPDATING, DELETING) ends.
    until: Option<Instant>,
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
    cluster: Option<Reviewer>,
    /// Scraper ID → what its user could do when it was created.
    access_at_create: BTreeMap<String, Vec<Access>>,
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
        match op {
            "CreateScraper" => self.create_scraper(req.json()),
            "ListScrapers" => Response::json(
                200,
                &json!({ "scrapers": self.scrapers.values().map(|o| &o.doc).collect::<Vec<_>>() }),
            ),
            "DescribeScraper" => match self.scrapers.get(&id) {
                Some(o) => Response::json(200, &json!({ "scraper": o.doc })),
                None => scraper_not_found(&id),
            },
            "UpdateScraper" => self.update_scraper(&id, req.json()),
            "DeleteScraper" => {
                let settle = self.settle;
                match self.scrapers.get_mut(&id) {
                    Some(o) => {
                        o.doc["status"] = json!({ "statusCode": "DELETING" });
                        o.until = Some(Instant::now() + settle);
                        Response::json(202, &json!({ "scraperId": id, "status": o.doc["status"] }))
                    }
                    None => scraper_not_found(&id),
                }
            }
            "ScraperTags" => self.scraper_tags(req, segs[1]),
            _ => self.definition(op, &id, req),
        }
    }

    fn create_scraper(&mut self, body: Value) -> Response {
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
        if body["destination"]["ampConfiguration"]["workspaceArn"]
            .as_str()
            .is_none()
        {
            return validation("destination.ampConfiguration.workspaceArn is required");
        }
        self.next_id += 1;
        let id = format!(
            "s-{:08x}-0000-4000-8000-{:012x}",
            self.next_id, self.next_id
        );
        let doc = json!({
            "scraperId": id,
            "arn": format!("arn:aws:aps:eu-west-1:123456789012:scraper/{id}"),
            "roleArn": format!("arn:aws:iam::123456789012:role/aws-service-role/scraper.aps.amazonaws.com/AWSServiceRoleForAmazonPrometheusScraper_{:07x}", self.next_id),
            "alias": body.get("alias").cloned().unwrap_or(Value::Null),
            "status": { "statusCode": "CREATING" },
            "createdAt": now_secs(),
            "lastModifiedAt": now_secs(),
            "tags": body.get("tags").cloned().unwrap_or(json!({})),
            "source": body["source"],
            "destination": body["destination"],
            "scrapeConfiguration": body["scrapeConfiguration"],
        });
        if let (Some(eks), Some(p)) = (&self.eks, entry_principal(&doc)) {
            eks.add_service_entry(
                eks_cluster_arn(&doc).unwrap_or_default(),
                &p,
                COLLECTOR_USER,
            );
        }
        if let Some(cluster) = &self.cluster {
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
            },
        );
        Response::json(202, &out)
    }

    fn update_scraper(&mut self, id: &str, body: Value) -> Response {
        let settle = self.settle;
        let Some(o) = self.scrapers.get_mut(id) else {
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
        if let Some(d) = body.get("destination") {
            o.doc["destination"] = d.clone();
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

    fn scraper_tags(&mut self, req: &Request, arn: &str) -> Response {
        let Some(o) = self.scrapers.values_mut().find(|o| o.doc["arn"] == arn) else {
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

    /// Alertmanager definitions: one per workspace.
    fn definition(&mut self, op: &str, ws: &str, req: &Request) -> Response {
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
                let existing = self.definitions.get_mut(ws);
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
                            },
                        );
                        status
                    }
                };
                Response::json(202, &json!({ "status": status }))
            }
            "DescribeAlertManagerDefinition" => match self.definitions.get(ws) {
                Some(o) => Response::json(200, &json!({ "alertManagerDefinition": o.doc })),
                None => error(
                    404,
                    "ResourceNotFoundException",
                    &format!("No Alertmanager definition found for {ws}"),
                ),
            },
            _ => match self.definitions.get_mut(ws) {
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
            access_at_create: BTreeMap::new(),
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
    /// the moment they were created ([`AmpDouble::access_at_create`]).
    pub fn link_cluster(&self, reviewer: Reviewer) {
        self.inner.lock().expect("double state").cluster = Some(reviewer);
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

    /// Scraper IDs, deleted ones excluded once their deletion settled.
    pub fn scraper_ids(&self) -> Vec<String> {
        let mut inner = self.inner.lock().expect("double state");
        inner.tick();
        inner.scrapers.keys().cloned().collect()
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
