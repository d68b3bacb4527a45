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

mod alerting;
mod dashboards;
mod datasources;
#[cfg(test)]
mod tests;
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
use alerting::redact;
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
}
