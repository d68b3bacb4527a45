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
use crate::caller::{Caller, Callers};
use crate::eks_double::{EksDouble, EksLink};
use crate::http::{Request, Response, Server, forward};
use crate::kube_api::Reviewer;

#[cfg(test)]
mod account_tests;
mod definitions;
mod scrapers;
#[cfg(test)]
mod tests;

use scrapers::scraper_not_found;

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
    /// How long a scraper is CREATING, when not `settle`.
    scraper_create: Option<Duration>,
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
}

impl AmpDouble {
    /// Starts the double in front of `upstream` (moto's endpoint); every
    /// transition takes `settle`.
    pub fn start(settle: Duration, upstream: &str) -> AmpDouble {
        let inner = Arc::new(Mutex::new(Inner {
            upstream: upstream.to_string(),
            settle,
            scraper_create: None,
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

    /// Scrapers created from now on are CREATING for `delay` instead of
    /// the settle time the double was started with (which their updates
    /// and deletion, and Alertmanager definitions, still take).
    pub fn set_scraper_create_delay(&self, delay: Duration) {
        self.inner.lock().expect("double state").scraper_create = Some(delay);
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
