//! A test server for the Grafana HTTP API (no Grafana can be installed
//! here), following Grafana's published behaviour for what meshmon uses:
//! folders, data sources by uid, dashboards by uid (`/api/dashboards/db`,
//! `/api/dashboards/uid/{uid}`, `/api/dashboards/import`), the grafana.com
//! proxy `/api/gnet/dashboards/{id}` serving a fixture ("Envoy Global",
//! `fixtures/grafana/envoy-global.json`, as gnet ID 11022), and the
//! alerting provisioning API (contact points, alert rules, rule groups).
//!
//! Status codes are Grafana's: 401 without a valid bearer token, 404 for
//! what is gone, 409 for a taken name or uid, 412 for a dashboard version
//! mismatch or a taken title, 400 for invalid input, 202 for contact-point
//! writes, 201 for a new alert rule, 204 for a deleted one. Secrets come
//! back as `secureJsonFields` or `[REDACTED]`. Tests change things out of
//! band through [`GrafanaServer::state`] and inject faults with
//! [`GrafanaServer::fail_next`] and, seeded like the
//! [`FaultProxy`](crate::fault_proxy::FaultProxy)'s, with
//! [`GrafanaServer::inject_faults`].
//!
//! It serves HTTPS, as an Amazon Managed Grafana workspace does, with a
//! certificate from a test CA of its own ([`GrafanaServer::ca_pem`],
//! written to [`GrafanaServer::ca_file`]): its [`host`](GrafanaServer::host)
//! is what the AMG test server reports as a workspace's endpoint, so
//! `https://${aws_grafana_workspace.main.endpoint}` reaches it, and a
//! `meshmon` process trusts it through `SSL_CERT_FILE`
//! ([`GrafanaServer::env`]). The same API is served over plain HTTP on a
//! second port ([`GrafanaServer::url`]) for clients configured with a URL
//! directly, such as the provider's own tests, and for a fault proxy to
//! sit in front of.
//!
//! It carries its own small HTTP/1.1 loop because it must see the
//! `Authorization` header, which the shared `http` helper does not parse.

mod datasources;
mod wire;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::fault_proxy::{Dice, FaultCounts, FaultPlan};
use crate::http::{Response, decode};
use wire::{Req, serve};

/// The grafana.com ID the fixture is served under.
pub const ENVOY_GNET_ID: i64 = 11022;
const ENVOY_FIXTURE: &str = include_str!("../fixtures/grafana/envoy-global.json");

/// Bearer tokens valid besides the admin token, with their expiry; shared
/// with the AMG test server, which hands them out.
#[derive(Clone, Default)]
pub struct Tokens(Arc<Mutex<BTreeMap<String, SystemTime>>>);

impl Tokens {
    pub fn grant(&self, key: &str, until: SystemTime) {
        self.0
            .lock()
            .expect("tokens")
            .insert(key.to_string(), until);
    }
    pub fn revoke(&self, keys: &[String]) {
        let mut t = self.0.lock().expect("tokens");
        for k in keys {
            t.remove(k);
        }
    }
    fn valid(&self, key: &str) -> bool {
        self.0
            .lock()
            .expect("tokens")
            .get(key)
            .is_some_and(|until| *until > SystemTime::now())
    }
}

/// Everything the server holds; public so tests can edit it out of band.
#[derive(Default)]
pub struct GrafanaState {
    pub folders: BTreeMap<String, Value>,
    pub datasources: BTreeMap<String, Value>,
    /// Secrets by data source uid (never returned).
    pub secrets: BTreeMap<String, BTreeMap<String, Value>>,
    /// uid → (dashboard model, folder uid).
    pub dashboards: BTreeMap<String, (Value, String)>,
    pub contact_points: Vec<Value>,
    pub rules: BTreeMap<String, Value>,
    /// (folder uid, group) → evaluation interval in seconds.
    pub groups: BTreeMap<(String, String), u64>,
    /// Rule groups answer 404, as from a Grafana that has not caught up.
    pub hide_groups: bool,
    /// grafana.com dashboards: ID → revisions (1-based).
    pub gnet: BTreeMap<i64, Vec<Value>>,
    /// "METHOD /path" of every request, in order.
    pub calls: Vec<String>,
    /// The Grafana version it behaves as (`/api/health`, what data
    /// sources it accepts): Amazon Managed Grafana's latest, or the
    /// version of the linked AMG workspace.
    pub version: String,
    /// An AMG workspace runs it (set by a linked AMG test server): AMG's
    /// own rules apply, such as no SigV4 in the core Prometheus plugin
    /// from its Grafana 12 on.
    pub amg: bool,
    faults: Vec<u16>,
    /// Seeded faults, drawn for every request on either port.
    dice: Option<Dice>,
    next_id: i64,
}

/// The Grafana test server; dropped, it stops.
pub struct GrafanaServer {
    /// Plain HTTP.
    addr: SocketAddr,
    /// HTTPS, with a certificate signed by `ca_pem`.
    tls_addr: SocketAddr,
    ca_pem: String,
    /// Holds `ca_pem` as a file, for `SSL_CERT_FILE`.
    ca_dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<GrafanaState>>,
    tokens: Tokens,
}

/// The name of the CA file in [`GrafanaServer::ca_file`]'s directory.
const CA_FILE: &str = "grafana-test-ca.pem";

fn msg(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "message": message }))
}

fn slug(title: &str) -> String {
    title
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

impl GrafanaServer {
    /// Starts a server that accepts `admin_token` (and tokens granted later).
    pub fn start(admin_token: &str) -> GrafanaServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let tls_listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let tls_addr = tls_listener.local_addr().expect("local address");
        let (ca_pem, tls_config) =
            crate::kube_api::tls::certificates_for("meshmon test Grafana CA", "grafana");
        let ca_dir = tempfile::tempdir().expect("a directory for the CA file");
        std::fs::write(ca_dir.path().join(CA_FILE), &ca_pem).expect("write the CA file");
        let stop = Arc::new(AtomicBool::new(false));
        let mut st = GrafanaState {
            version: crate::amg::LATEST_GRAFANA_VERSION.to_string(),
            ..GrafanaState::default()
        };
        let fixture: Value = serde_json::from_str(ENVOY_FIXTURE).expect("fixture is JSON");
        let mut rev2 = fixture.clone();
        rev2["description"] =
            json!("Revision 2 of the fixture: the same panels, a newer description.");
        st.gnet.insert(ENVOY_GNET_ID, vec![fixture, rev2]);
        let state = Arc::new(Mutex::new(st));
        let tokens = Tokens::default();
        tokens.grant(
            admin_token,
            SystemTime::now() + std::time::Duration::from_secs(86_400 * 365),
        );
        let (s, t, halt) = (state.clone(), tokens.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, t, halt) = (s.clone(), t.clone(), halt.clone());
                std::thread::spawn(move || serve(conn, &s, &t, &halt));
            }
        });
        let (s, t, halt) = (state.clone(), tokens.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in tls_listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let Ok(tls) = rustls::ServerConnection::new(tls_config.clone()) else {
                    continue;
                };
                let (s, t, halt) = (s.clone(), t.clone(), halt.clone());
                std::thread::spawn(move || {
                    serve(rustls::StreamOwned::new(tls, conn), &s, &t, &halt)
                });
            }
        });
        GrafanaServer {
            addr,
            tls_addr,
            ca_pem,
            ca_dir,
            stop,
            state,
            tokens,
        }
    }

    /// `http://127.0.0.1:PORT`: the plain-HTTP port, for clients given a
    /// URL directly (and for a fault proxy in front of the server).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `https://127.0.0.1:PORT`: the HTTPS port, trusted with
    /// [`ca_pem`](Self::ca_pem).
    pub fn https_url(&self) -> String {
        format!("https://{}", self.tls_addr)
    }

    /// `127.0.0.1:PORT` of the HTTPS port: what AMG reports as a
    /// workspace's endpoint (a host without a scheme, as AMG's are).
    pub fn host(&self) -> String {
        self.tls_addr.to_string()
    }

    /// The test CA (PEM) that signed the HTTPS port's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A file holding [`ca_pem`](Self::ca_pem), gone when the server is.
    pub fn ca_file(&self) -> PathBuf {
        self.ca_dir.path().join(CA_FILE)
    }

    /// Environment for a `meshmon` process: `SSL_CERT_FILE` names the
    /// test CA's file. rustls-native-certs, which builds the root store of
    /// meshmon's HTTPS clients, reads that file instead of the system's
    /// store, so the test CA is the only root: enough for a process that
    /// reaches AWS over plain HTTP (moto) and the Kubernetes API with the
    /// CA EKS reports.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("SSL_CERT_FILE".into(), self.ca_file().display().to_string())]
    }

    /// Injects seeded faults into the requests on either port from now on,
    /// drawn and shaped as the [`FaultProxy`](crate::fault_proxy::FaultProxy)
    /// does for the Grafana HTTP API (429 with `Retry-After: 0`, 500/502/503,
    /// a connection closed unanswered before or after the request took
    /// effect, 503 after it took effect), starting the counts afresh: a
    /// proxy cannot sit in front of the HTTPS port.
    pub fn inject_faults(&self, plan: FaultPlan) {
        self.state().dice = Some(Dice::new(plan));
    }

    /// Changes the share of faulted requests from now on (0.0: none); no
    /// effect without a [`FaultPlan`].
    pub fn set_fault_rate(&self, rate: f64) {
        if let Some(d) = self.state().dice.as_mut() {
            d.set_rate(rate);
        }
    }

    /// Requests the seeded faults were drawn for, and faults injected.
    pub fn faults_injected(&self) -> FaultCounts {
        self.state()
            .dice
            .as_ref()
            .map(Dice::counts)
            .unwrap_or_default()
    }

    pub fn tokens(&self) -> Tokens {
        self.tokens.clone()
    }

    /// The state, shared with the AMG test server, which sets `version`.
    pub(crate) fn shared_state(&self) -> Arc<Mutex<GrafanaState>> {
        self.state.clone()
    }

    /// The server's state, to inspect or to change behind meshmon's back.
    pub fn state(&self) -> MutexGuard<'_, GrafanaState> {
        self.state.lock().expect("grafana state")
    }

    /// The next `n` authenticated requests fail with `status` (503, 429…).
    pub fn fail_next(&self, n: usize, status: u16) {
        self.state().faults.extend(std::iter::repeat_n(status, n));
    }
}

impl Drop for GrafanaServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        let _ = TcpStream::connect(self.tls_addr);
    }
}

/// Replaces `${NAME}` in every string of a dashboard model.
fn substitute(v: &mut Value, vars: &[(String, String)]) {
    match v {
        Value::String(s) => {
            for (k, val) in vars {
                *s = s.replace(&format!("${{{k}}}"), val);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|e| substitute(e, vars)),
        Value::Object(o) => o.values_mut().for_each(|e| substitute(e, vars)),
        _ => {}
    }
}

/// Secret integration settings, returned redacted.
const SECRET_SETTINGS: [&str; 3] = ["access_key", "secret_key", "password"];

impl GrafanaState {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn uid(&mut self, given: &Value) -> String {
        match given.as_str() {
            Some(u) if !u.is_empty() => u.to_string(),
            _ => format!("gen{:06}", self.id()),
        }
    }

    fn handle(&mut self, req: &Req) -> Response {
        self.calls.push(format!("{} {}", req.method, req.path));
        if !self.faults.is_empty() {
            let status = self.faults.remove(0);
            let mut r = msg(status, "injected by the Grafana test server");
            r.headers.push(("Retry-After".into(), "0".into()));
            return r;
        }
        let segs: Vec<String> = req.path.trim_matches('/').split('/').map(decode).collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let b = &req.body;
        match (req.method.as_str(), s.as_slice()) {
            ("POST", ["api", "folders"]) => self.create_folder(b),
            ("GET", ["api", "folders", uid]) => self
                .folders
                .get(*uid)
                .map_or_else(|| msg(404, "folder not found"), |f| Response::json(200, f)),
            ("PUT", ["api", "folders", uid]) => self.update_folder(uid, b),
            ("DELETE", ["api", "folders", uid]) => {
                self.delete_folder(uid, req.q("forceDeleteRules") == Some("true"))
            }
            ("POST", ["api", "datasources"]) => self.save_datasource(None, b),
            ("GET", ["api", "datasources", "uid", uid]) => self.datasources.get(*uid).map_or_else(
                || msg(404, "Data source not found"),
                |d| Response::json(200, d),
            ),
            ("PUT", ["api", "datasources", "uid", uid]) => self.save_datasource(Some(uid), b),
            ("DELETE", ["api", "datasources", "uid", uid]) => match self.datasources.remove(*uid) {
                Some(_) => msg(200, "Data source deleted"),
                None => msg(404, "Data source not found"),
            },
            ("POST", ["api", "dashboards", "db"]) => {
                self.save_dashboard(
                    b["dashboard"].clone(),
                    b["folderUid"].as_str().unwrap_or(""),
                    b["overwrite"] == true,
                )
                .1
            }
            ("POST", ["api", "dashboards", "import"]) => self.import(b),
            ("GET", ["api", "dashboards", "uid", uid]) => self.get_dashboard(uid),
            ("DELETE", ["api", "dashboards", "uid", uid]) => match self.dashboards.remove(*uid) {
                Some((d, _)) => Response::json(
                    200,
                    &json!({ "title": d["title"], "message": format!("Dashboard {} deleted", d["title"].as_str().unwrap_or("")), "id": d["id"] }),
                ),
                None => msg(404, "Dashboard not found"),
            },
            ("GET", ["api", "gnet", "dashboards", id]) => self.gnet_info(id),
            (
                "GET",
                [
                    "api",
                    "gnet",
                    "dashboards",
                    id,
                    "revisions",
                    rev,
                    "download",
                ],
            ) => {
                let r = rev.parse::<usize>().ok().and_then(|r| {
                    self.gnet
                        .get(&id.parse().unwrap_or(0))?
                        .get(r.checked_sub(1)?)
                        .cloned()
                });
                r.map_or_else(
                    || msg(404, "revision not found"),
                    |d| Response::json(200, &d),
                )
            }
            ("GET", ["api", "v1", "provisioning", "contact-points"]) => {
                let name = req.q("name");
                let list: Vec<Value> = self
                    .contact_points
                    .iter()
                    .filter(|c| name.is_none_or(|n| c["name"] == n))
                    .map(redact)
                    .collect();
                Response::json(200, &Value::Array(list))
            }
            ("POST", ["api", "v1", "provisioning", "contact-points"]) => {
                self.save_contact_point(None, b)
            }
            ("PUT", ["api", "v1", "provisioning", "contact-points", uid]) => {
                self.save_contact_point(Some(uid), b)
            }
            ("DELETE", ["api", "v1", "provisioning", "contact-points", uid]) => {
                self.delete_contact_point(uid)
            }
            ("POST", ["api", "v1", "provisioning", "alert-rules"]) => self.save_rule(None, b),
            ("GET", ["api", "v1", "provisioning", "alert-rules", uid]) => self
                .rules
                .get(*uid)
                .map_or_else(|| msg(404, "rule not found"), |r| Response::json(200, r)),
            ("PUT", ["api", "v1", "provisioning", "alert-rules", uid]) => {
                self.save_rule(Some(uid), b)
            }
            ("DELETE", ["api", "v1", "provisioning", "alert-rules", uid]) => {
                self.rules.remove(*uid);
                Response {
                    status: 204,
                    headers: Vec::new(),
                    body: Vec::new(),
                }
            }
            ("GET", ["api", "v1", "provisioning", "folder", f, "rule-groups", g]) => {
                self.group(f, g)
            }
            ("PUT", ["api", "v1", "provisioning", "folder", f, "rule-groups", g]) => {
                self.put_group(f, g, b)
            }
            _ => msg(
                404,
                &format!(
                    "the Grafana test server does not implement {} {}",
                    req.method, req.path
                ),
            ),
        }
    }

    fn create_folder(&mut self, b: &Value) -> Response {
        let Some(title) = b["title"].as_str().filter(|t| !t.is_empty()) else {
            return msg(400, "folder name cannot be empty");
        };
        if b["uid"]
            .as_str()
            .is_some_and(|u| self.folders.contains_key(u))
        {
            return msg(409, "a folder with the same uid already exists");
        }
        if self.folders.values().any(|f| f["title"] == title) {
            return msg(409, "a folder with the same name already exists");
        }
        let (uid, id) = (self.uid(&b["uid"]), self.id());
        let f = json!({ "id": id, "uid": uid, "title": title, "url": format!("/dashboards/f/{uid}/{}", slug(title)), "version": 1, "hasAcl": false, "canSave": true });
        self.folders.insert(uid, f.clone());
        Response::json(200, &f)
    }

    fn update_folder(&mut self, uid: &str, b: &Value) -> Response {
        let Some(f) = self.folders.get_mut(uid) else {
            return msg(404, "folder not found");
        };
        if b["overwrite"] != true && b["version"] != f["version"] {
            return Response::json(
                412,
                &json!({ "message": "the folder has been changed by someone else", "status": "version-mismatch" }),
            );
        }
        if let Some(t) = b["title"].as_str() {
            f["title"] = json!(t);
            f["url"] = json!(format!("/dashboards/f/{uid}/{}", slug(t)));
        }
        f["version"] = json!(f["version"].as_i64().unwrap_or(0) + 1);
        Response::json(200, f)
    }

    fn delete_folder(&mut self, uid: &str, force_rules: bool) -> Response {
        if !self.folders.contains_key(uid) {
            return msg(404, "folder not found");
        }
        if !force_rules && self.rules.values().any(|r| r["folderUID"] == uid) {
            return msg(400, "folder cannot be deleted: folder contains alert rules");
        }
        let f = self.folders.remove(uid).expect("present");
        self.dashboards.retain(|_, (_, folder)| folder != uid);
        self.rules.retain(|_, r| r["folderUID"] != uid);
        self.groups.retain(|(folder, _), _| folder != uid);
        Response::json(
            200,
            &json!({ "message": "Folder deleted", "title": f["title"], "id": f["id"] }),
        )
    }

    /// Saves a dashboard model; the saved model and Grafana's answer.
    fn save_dashboard(
        &mut self,
        mut d: Value,
        folder: &str,
        overwrite: bool,
    ) -> (Option<Value>, Response) {
        let Some(title) = d["title"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string)
        else {
            return (None, msg(400, "Dashboard title cannot be empty"));
        };
        if !folder.is_empty() && !self.folders.contains_key(folder) {
            return (None, msg(400, "folder not found"));
        }
        let uid = self.uid(&d["uid"]);
        let existing = self.dashboards.get(&uid).map(|(e, _)| e.clone());
        if !overwrite {
            if let Some(e) = &existing
                && d["version"] != e["version"]
            {
                return (
                    None,
                    Response::json(
                        412,
                        &json!({ "status": "version-mismatch", "message": "The dashboard has been changed by someone else" }),
                    ),
                );
            }
            if self
                .dashboards
                .iter()
                .any(|(u, (o, f))| *u != uid && o["title"] == title.as_str() && f == folder)
            {
                return (
                    None,
                    Response::json(
                        412,
                        &json!({ "status": "name-exists", "message": "A dashboard with the same name in the folder already exists" }),
                    ),
                );
            }
        }
        let id = existing
            .as_ref()
            .and_then(|e| e["id"].as_i64())
            .unwrap_or_else(|| self.id());
        let version = existing
            .as_ref()
            .and_then(|e| e["version"].as_i64())
            .unwrap_or(0)
            + 1;
        d["id"] = json!(id);
        d["uid"] = json!(uid);
        d["version"] = json!(version);
        self.dashboards
            .insert(uid.clone(), (d.clone(), folder.to_string()));
        let url = format!("/d/{uid}/{}", slug(&title));
        let r = json!({ "id": id, "uid": uid, "url": url, "status": "success", "version": version, "slug": slug(&title) });
        (Some(d), Response::json(200, &r))
    }

    fn import(&mut self, b: &Value) -> Response {
        let mut d = b["dashboard"].clone();
        let mut vars = Vec::new();
        for wanted in d["__inputs"].as_array().cloned().unwrap_or_default() {
            let name = wanted["name"].as_str().unwrap_or_default();
            let given = b["inputs"]
                .as_array()
                .and_then(|l| l.iter().find(|i| i["name"] == name));
            match given.and_then(|g| g["value"].as_str()) {
                Some(v) => vars.push((name.to_string(), v.to_string())),
                None => return msg(400, &format!("Dashboard input missing: {name}")),
            }
        }
        if let Some(o) = d.as_object_mut() {
            o.remove("__inputs");
        }
        substitute(&mut d, &vars);
        let folder = b["folderUid"].as_str().unwrap_or("").to_string();
        let (saved, resp) = self.save_dashboard(d, &folder, b["overwrite"] == true);
        let Some(saved) = saved else { return resp };
        let (uid, title) = (
            saved["uid"].as_str().unwrap_or_default(),
            saved["title"].as_str().unwrap_or_default(),
        );
        Response::json(
            200,
            &json!({
                "uid": uid, "pluginId": "", "title": title, "imported": true, "importedUri": format!("db/{}", slug(title)),
                "importedUrl": format!("/d/{uid}/{}", slug(title)), "slug": slug(title), "dashboardId": saved["id"],
                "folderUid": folder, "importedRevision": 1, "revision": 1, "description": "", "path": "", "removed": false,
            }),
        )
    }

    fn get_dashboard(&self, uid: &str) -> Response {
        let Some((d, folder)) = self.dashboards.get(uid) else {
            return msg(404, "Dashboard not found");
        };
        let title = d["title"].as_str().unwrap_or_default();
        let folder_title = self
            .folders
            .get(folder)
            .map_or(json!("General"), |f| f["title"].clone());
        Response::json(
            200,
            &json!({
                "dashboard": d,
                "meta": { "type": "db", "slug": slug(title), "url": format!("/d/{uid}/{}", slug(title)), "version": d["version"],
                          "folderUid": folder, "folderTitle": folder_title, "canSave": true, "provisioned": false },
            }),
        )
    }

    fn gnet_info(&self, id: &str) -> Response {
        let id: i64 = id.parse().unwrap_or(0);
        let Some(revs) = self.gnet.get(&id) else {
            return msg(404, &format!("grafana.com has no dashboard {id}"));
        };
        let latest = revs.last().cloned().unwrap_or(Value::Null);
        Response::json(
            200,
            &json!({ "id": id, "name": latest["title"], "revision": revs.len(), "json": latest, "downloads": 1_000_000 }),
        )
    }

    fn save_contact_point(&mut self, uid: Option<&str>, b: &Value) -> Response {
        let name = b["name"].as_str().unwrap_or_default();
        let ty = b["type"].as_str().unwrap_or_default();
        if name.is_empty() {
            return msg(400, "invalid object specification: name is required");
        }
        let settings = &b["settings"];
        let missing = match ty {
            "email" => settings["addresses"]
                .as_str()
                .is_none_or(str::is_empty)
                .then_some("could not find addresses in settings"),
            "sns" => (settings["topic_arn"].is_null()
                && settings["target_arn"].is_null()
                && settings["phone_number"].is_null())
            .then_some("must specify topic_arn, target_arn or phone_number"),
            "webhook" | "slack" | "pagerduty" | "opsgenie" | "teams" | "discord" | "telegram" => {
                None
            }
            _ => Some("unknown integration type"),
        };
        if let Some(why) = missing {
            return msg(
                400,
                &format!("failed to validate integration \"{name}\" (type {ty}): {why}"),
            );
        }
        let creating = uid.is_none();
        let uid = match uid {
            Some(u) => match self.contact_points.iter().position(|c| c["uid"] == u) {
                Some(i) => {
                    self.contact_points.remove(i);
                    u.to_string()
                }
                None => return msg(404, "contact point not found"),
            },
            None => {
                if b["uid"]
                    .as_str()
                    .is_some_and(|u| self.contact_points.iter().any(|c| c["uid"] == u))
                {
                    return msg(409, "contact point with this uid already exists");
                }
                self.uid(&b["uid"])
            }
        };
        let cp = json!({ "uid": uid, "name": name, "type": ty, "settings": settings, "disableResolveMessage": b["disableResolveMessage"] == true });
        self.contact_points.push(cp.clone());
        let body = if creating {
            redact(&cp)
        } else {
            json!({ "message": "contactpoint updated" })
        };
        Response::json(202, &body)
    }

    fn delete_contact_point(&mut self, uid: &str) -> Response {
        let Some(i) = self.contact_points.iter().position(|c| c["uid"] == uid) else {
            return msg(404, "contact point not found");
        };
        let name = self.contact_points[i]["name"].clone();
        let last = self
            .contact_points
            .iter()
            .filter(|c| c["name"] == name)
            .count()
            == 1;
        if last
            && self
                .rules
                .values()
                .any(|r| r["notification_settings"]["receiver"] == name)
        {
            return msg(
                409,
                "contact point is referenced by one or more alert rules",
            );
        }
        self.contact_points.remove(i);
        msg(202, "contactpoint deleted")
    }

    fn save_rule(&mut self, uid: Option<&str>, b: &Value) -> Response {
        let folder = b["folderUID"].as_str().unwrap_or_default().to_string();
        let group = b["ruleGroup"].as_str().unwrap_or_default().to_string();
        if b["title"].as_str().is_none_or(str::is_empty) || group.is_empty() {
            return msg(400, "invalid alert rule: title and ruleGroup are required");
        }
        if !self.folders.contains_key(&folder) {
            return msg(
                400,
                &format!("invalid alert rule: folder {folder} does not exist"),
            );
        }
        let data = b["data"].as_array().cloned().unwrap_or_default();
        if !data.iter().any(|d| d["refId"] == b["condition"]) {
            return msg(
                400,
                "invalid alert rule: condition must refer to a query or expression in data",
            );
        }
        for d in &data {
            let ds = d["datasourceUid"].as_str().unwrap_or_default();
            if ds != "__expr__" && !self.datasources.contains_key(ds) {
                return msg(
                    400,
                    &format!("invalid alert rule: data source {ds} does not exist"),
                );
            }
        }
        if let Some(r) = b["notification_settings"]["receiver"].as_str()
            && !self.contact_points.iter().any(|c| c["name"] == r)
        {
            return msg(
                400,
                &format!("invalid alert rule: receiver {r} does not exist"),
            );
        }
        let (uid, status, id) = match uid {
            Some(u) => match self.rules.get(u) {
                Some(r) => (u.to_string(), 200, r["id"].clone()),
                None => return msg(404, "rule not found"),
            },
            None => {
                if b["uid"]
                    .as_str()
                    .is_some_and(|u| self.rules.contains_key(u))
                {
                    return msg(409, "a rule with this uid already exists");
                }
                (self.uid(&b["uid"]), 201, json!(self.id()))
            }
        };
        let mut r = b.clone();
        r["uid"] = json!(uid);
        r["id"] = id;
        r["orgID"] = json!(1);
        r["provenance"] = json!("api");
        r["updated"] = json!("2026-01-01T00:00:00Z");
        // Grafana writes durations its own way.
        if let Some(f) = b["for"].as_str() {
            r["for"] = json!(match f {
                "0s" | "0" => "0s".to_string(),
                f if f.ends_with('m') && !f.contains('h') => format!("{f}0s"),
                f => f.to_string(),
            });
        }
        self.rules.insert(uid, r.clone());
        self.groups.entry((folder, group)).or_insert(60);
        Response::json(status, &r)
    }

    fn group(&self, folder: &str, group: &str) -> Response {
        let interval = self
            .groups
            .get(&(folder.to_string(), group.to_string()))
            .filter(|_| !self.hide_groups);
        let Some(interval) = interval else {
            return msg(404, "rule group not found");
        };
        let rules: Vec<&Value> = self
            .rules
            .values()
            .filter(|r| r["folderUID"] == folder && r["ruleGroup"] == group)
            .collect();
        Response::json(
            200,
            &json!({ "title": group, "folderUid": folder, "interval": interval, "rules": rules }),
        )
    }

    fn put_group(&mut self, folder: &str, group: &str, b: &Value) -> Response {
        let Some(interval) = b["interval"].as_u64().filter(|i| *i >= 10 && i % 10 == 0) else {
            return msg(
                400,
                "invalid rule group: interval must be a multiple of 10 seconds",
            );
        };
        self.groups
            .insert((folder.to_string(), group.to_string()), interval);
        for r in b["rules"].as_array().into_iter().flatten() {
            if let Some(uid) = r["uid"].as_str() {
                self.rules.insert(uid.to_string(), r.clone());
            }
        }
        self.group(folder, group)
    }
}

/// A contact point as GET returns it: secrets replaced by "[REDACTED]".
fn redact(c: &Value) -> Value {
    let mut c = c.clone();
    fn walk(v: &mut Value) {
        if let Some(o) = v.as_object_mut() {
            for (k, e) in o.iter_mut() {
                if SECRET_SETTINGS.contains(&k.as_str()) && e.is_string() {
                    *e = json!("[REDACTED]");
                } else {
                    walk(e);
                }
            }
        }
    }
    walk(&mut c["settings"]);
    c
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};

    use super::*;
    use crate::kube_api::tls::{certificates, request};

    /// One plain-HTTP request: the status and the body.
    fn plain(g: &GrafanaServer, path: &str, bearer: &str) -> (u16, Value) {
        let mut conn = TcpStream::connect(g.addr).expect("connect");
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {bearer}\r\nContent-Length: 0\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).expect("send");
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        reader.read_line(&mut line).expect("status line");
        let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut length = 0;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).expect("header");
            match h.trim_end().split_once(':') {
                Some((k, v)) if k.eq_ignore_ascii_case("content-length") => {
                    length = v.trim().parse().unwrap()
                }
                Some(_) => {}
                None => break,
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[test]
    fn https_with_the_test_ca_serves_what_plain_http_serves() {
        let g = GrafanaServer::start("admin");
        assert_eq!(g.host(), g.https_url().trim_start_matches("https://"));
        assert_eq!(
            std::fs::read_to_string(g.ca_file()).expect("the CA file"),
            g.ca_pem()
        );
        assert_eq!(
            g.env(),
            [(
                "SSL_CERT_FILE".to_string(),
                g.ca_file().display().to_string()
            )]
        );
        let (status, _, body) = request(
            g.tls_addr,
            g.ca_pem(),
            "POST",
            "/api/folders",
            "admin",
            r#"{"title": "Mesh", "uid": "mesh"}"#,
        )
        .expect("an answer over HTTPS");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let (status, folder) = plain(&g, "/api/folders/mesh", "admin");
        assert_eq!((status, &folder["title"]), (200, &json!("Mesh")));
        assert_eq!(plain(&g, "/api/folders/mesh", "wrong").0, 401);
        // A client trusting another CA does not get through the handshake.
        let (other_ca, _) = certificates();
        assert!(request(g.tls_addr, &other_ca, "GET", "/api/health", "admin", "").is_none());
    }

    #[test]
    fn seeded_faults_hit_the_https_port() {
        let g = GrafanaServer::start("admin");
        g.inject_faults(FaultPlan { rate: 1.0, seed: 7 });
        let answered: Vec<Option<u16>> = (0..20)
            .map(|_| {
                request(g.tls_addr, g.ca_pem(), "GET", "/api/health", "admin", "").map(|a| a.0)
            })
            .collect();
        let counts = g.faults_injected();
        assert_eq!((counts.requests, counts.faults()), (20, 20), "{counts:?}");
        assert_eq!(
            answered.iter().filter(|a| a.is_none()).count() as u64,
            counts.reset + counts.lost_response,
            "{answered:?} {counts:?}"
        );
        assert!(
            answered
                .iter()
                .flatten()
                .all(|s| [429, 500, 502, 503].contains(s))
        );
        g.set_fault_rate(0.0);
        let ok = request(g.tls_addr, g.ca_pem(), "GET", "/api/health", "admin", "");
        assert_eq!(ok.map(|a| a.0), Some(200));
    }
}
