//! A test server for the Amazon Managed Grafana control plane (moto has no
//! AMG), following the published REST-JSON API for what meshmon uses:
//! workspaces (`POST|GET /workspaces`, `GET|PUT|DELETE /workspaces/{id}`,
//! `/authentication`, `/configuration`), permissions (`GET|PATCH
//! /workspaces/{id}/permissions`), service accounts and their tokens
//! (`/serviceaccounts[/{id}/tokens[/{id}]]`) and tags (`/tags/{arn}`).
//!
//! Behaviour worth knowing: a workspace is CREATING (or UPDATING, DELETING)
//! for `settle_polls` DescribeWorkspace calls before it is ACTIVE (or gone),
//! or, set with [`AmgServer::settle_after_time`], until the first
//! DescribeWorkspace once a time has passed;
//! a change to a busy workspace is a ConflictException; CreateWorkspace
//! with a `clientToken` seen before answers the workspace that token created
//! (while it exists) instead of creating another, so a retried create is
//! safe; ListWorkspaces answers summaries with their tags, a page at a time
//! (`maxResults`, `nextToken`); errors are in the
//! AWS shape (`x-amzn-ErrorType` header, `{"message": …}` body). Tokens get
//! real expiry times and, when linked to a [`GrafanaServer`], become valid
//! bearer tokens there until they expire or are deleted. Faults (throttling,
//! 5xx) can be injected. Point `AWS_ENDPOINT_URL_GRAFANA` at [`AmgServer::endpoint`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

mod accounts;

use crate::aws_model::{Tally, mark_checked};
use crate::grafana::{GrafanaServer, GrafanaState, Tokens};
use crate::http::{Request, Response, Server};
use crate::moto::{ACCOUNT, REGION};

/// The AMG test server; dropped, it stops.
pub struct AmgServer {
    server: Server,
    inner: Arc<Mutex<Inner>>,
    model_check: Tally,
}

struct Inner {
    workspaces: BTreeMap<String, Workspace>,
    calls: Vec<String>,
    faults: Vec<(u16, String, String)>,
    settle_polls: u32,
    /// How long a transition takes, when it is timed rather than counted
    /// in polls.
    settle_time: Option<Duration>,
    grafana: Option<Linked>,
    next_id: u64,
    /// CreateWorkspace client tokens → the workspace each created.
    client_tokens: BTreeMap<String, String>,
    /// ListWorkspaces page size when `maxResults` is not given.
    page_size: usize,
}

/// The Grafana test server a workspace's endpoint points at.
struct Linked {
    /// What workspaces report as their endpoint.
    host: String,
    tokens: Tokens,
    /// Where the workspace's Grafana version goes, so that the Grafana
    /// test server behaves as that version.
    state: Arc<Mutex<GrafanaState>>,
}

/// Grafana versions AMG creates workspaces with, oldest first; the last is
/// what CreateWorkspace picks without `grafanaVersion` ("If not specified,
/// defaults to the latest version", the API reference, CreateWorkspace).
/// "12.4" is the version string public Terraform configurations pass; AMG
/// has no 11 ("11.0" fails CreateWorkspace with a ValidationException). The
/// user guide also documents workspaces on Grafana 13, whose version
/// string is not confirmed here; what the tests need from the version —
/// SigV4 in the core Prometheus data source is gone from 12 on — holds for
/// both.
pub const GRAFANA_VERSIONS: [&str; 4] = ["8.4", "9.4", "10.4", "12.4"];
pub const LATEST_GRAFANA_VERSION: &str = GRAFANA_VERSIONS[GRAFANA_VERSIONS.len() - 1];

struct Workspace {
    doc: Value,
    /// DescribeWorkspace calls left before the current transition ends.
    pending: u32,
    /// When the current transition ends, if transitions are timed.
    until: Option<Instant>,
    configuration: String,
    permissions: Vec<(String, String, String)>,
    accounts: BTreeMap<String, Account>,
}

struct Account {
    name: String,
    role: String,
    tokens: BTreeMap<String, Token>,
}

struct Token {
    name: String,
    created: f64,
    expires: f64,
    key: String,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
        .floor()
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let mut r = Response::json(status, &json!({ "message": message }));
    r.headers.push((
        "x-amzn-ErrorType".into(),
        format!("{code}:http://internal.amazon.com/coral/com.amazonaws.grafana/"),
    ));
    r
}

fn not_found(what: &str) -> Response {
    error(
        404,
        "ResourceNotFoundException",
        &format!("{what} not found"),
    )
}

fn invalid(message: &str) -> Response {
    error(400, "ValidationException", message)
}

fn one_of(v: &Value, allowed: &[&str]) -> bool {
    v.as_str().is_some_and(|s| allowed.contains(&s))
}

const ROLES: &[&str] = &["ADMIN", "EDITOR", "VIEWER"];

impl AmgServer {
    pub fn start() -> AmgServer {
        let inner = Arc::new(Mutex::new(Inner {
            workspaces: BTreeMap::new(),
            calls: Vec::new(),
            faults: Vec::new(),
            settle_polls: 2,
            settle_time: None,
            grafana: None,
            next_id: 0,
            client_tokens: BTreeMap::new(),
            page_size: 100,
        }));
        let handler_inner = inner.clone();
        // Checked against the API model first, as the service validates
        // input before acting on it; marked, so that what is forwarded to
        // moto is not checked again.
        let model_check = Tally::new();
        let screen = model_check.clone();
        let server = Server::start(Arc::new(move |req: &Request| {
            if let Some(refused) = screen.screen(req, Some("grafana")) {
                return refused;
            }
            handler_inner
                .lock()
                .expect("amg state")
                .handle(&mark_checked(req))
        }));
        AmgServer {
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

    /// Environment for a `meshmon` process: AMG here, the rest unchanged.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("AWS_ENDPOINT_URL_GRAFANA".into(), self.endpoint())]
    }

    /// Workspaces created from now on have `grafana`'s HTTPS address
    /// ([`GrafanaServer::host`], `HOST:PORT`) as their endpoint, so that
    /// `https://${endpoint}` reaches it as it reaches an AMG workspace, and
    /// their service-account tokens are valid there.
    pub fn link(&self, grafana: &GrafanaServer) {
        self.link_via(grafana, &grafana.host());
    }

    /// Like [`AmgServer::link`], but workspaces created from now on have
    /// `endpoint_host` (`HOST:PORT`) as their endpoint, e.g. an address
    /// where nothing answers. Tokens are still granted on `grafana`.
    pub fn link_via(&self, grafana: &GrafanaServer, endpoint_host: &str) {
        self.lock().grafana = Some(Linked {
            host: endpoint_host.to_string(),
            tokens: grafana.tokens(),
            state: grafana.shared_state(),
        });
    }

    /// How many workspaces a ListWorkspaces page holds when the request
    /// gives no `maxResults` (default 100).
    pub fn page_size(&self, n: usize) {
        self.lock().page_size = n.max(1);
    }

    /// How many DescribeWorkspace polls a transition takes (default 2).
    pub fn settle_after(&self, polls: u32) {
        self.lock().settle_polls = polls;
    }

    /// Transitions that start from now on take `time` instead of a number
    /// of polls: the first DescribeWorkspace after it sees them end.
    pub fn settle_after_time(&self, time: Duration) {
        self.lock().settle_time = Some(time);
    }

    /// The next `n` requests fail with `status` and error `code`.
    pub fn fail_next(&self, n: usize, status: u16, code: &str) {
        let mut i = self.lock();
        for _ in 0..n {
            i.faults.push((
                status,
                code.to_string(),
                "injected by the AMG test server".to_string(),
            ));
        }
    }

    /// The operations received so far, like "CreateWorkspace".
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// A workspace's document as DescribeWorkspace returns it.
    pub fn workspace(&self, id: &str) -> Option<Value> {
        self.lock().workspaces.get(id).map(|w| w.doc.clone())
    }

    pub fn workspace_ids(&self) -> Vec<String> {
        self.lock().workspaces.keys().cloned().collect()
    }

    /// Every (workspace, service account, token ID, expiry) there is.
    pub fn tokens(&self) -> Vec<(String, String, String, f64)> {
        let i = self.lock();
        let mut out = Vec::new();
        for (w, ws) in &i.workspaces {
            for (a, acc) in &ws.accounts {
                for (t, tok) in &acc.tokens {
                    out.push((w.clone(), a.clone(), t.clone(), tok.expires));
                }
            }
        }
        out
    }

    /// Revokes a role out of band, as someone in the console would.
    pub fn revoke_all(&self, workspace: &str, role: &str) {
        if let Some(w) = self.lock().workspaces.get_mut(workspace) {
            w.permissions.retain(|(r, _, _)| r != role);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("amg state")
    }
}

impl Inner {
    /// The linked Grafana test server behaves as `version` from now on.
    fn grafana_runs(&self, version: &str) {
        if let Some(l) = &self.grafana {
            let mut st = l.state.lock().expect("grafana state");
            st.version = version.to_string();
            st.amg = true;
        }
    }

    /// When a transition starting now ends, if transitions are timed.
    fn transition_end(&self) -> Option<Instant> {
        self.settle_time.map(|t| Instant::now() + t)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn handle(&mut self, req: &Request) -> Response {
        if !self.faults.is_empty() {
            let (status, code, message) = self.faults.remove(0);
            self.calls.push(format!("Fault:{code}"));
            return error(status, &code, &message);
        }
        if let Some(arn) = req.path.strip_prefix("/tags/") {
            return self.tags(req, arn);
        }
        let segs: Vec<String> = req
            .path
            .trim_matches('/')
            .split('/')
            .map(str::to_string)
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = req.method.as_str();
        let (op, resp) = match (m, s.as_slice()) {
            ("POST", ["workspaces"]) => ("CreateWorkspace", self.create_workspace(&req.json())),
            ("GET", ["workspaces"]) => ("ListWorkspaces", self.list_workspaces(req)),
            ("GET", ["workspaces", id]) => ("DescribeWorkspace", self.describe(id)),
            ("PUT", ["workspaces", id]) => ("UpdateWorkspace", self.update(id, &req.json())),
            ("DELETE", ["workspaces", id]) => ("DeleteWorkspace", self.delete(id)),
            ("POST", ["workspaces", id, "authentication"]) => (
                "UpdateWorkspaceAuthentication",
                self.update_auth(id, &req.json()),
            ),
            ("GET", ["workspaces", id, "configuration"]) => {
                ("DescribeWorkspaceConfiguration", self.configuration(id))
            }
            ("PUT", ["workspaces", id, "configuration"]) => (
                "UpdateWorkspaceConfiguration",
                self.set_configuration(id, &req.json()),
            ),
            ("GET", ["workspaces", id, "permissions"]) => {
                ("ListPermissions", self.list_permissions(id))
            }
            ("PATCH", ["workspaces", id, "permissions"]) => (
                "UpdatePermissions",
                self.update_permissions(id, &req.json()),
            ),
            ("POST", ["workspaces", id, "serviceaccounts"]) => (
                "CreateWorkspaceServiceAccount",
                self.create_account(id, &req.json()),
            ),
            ("GET", ["workspaces", id, "serviceaccounts"]) => {
                ("ListWorkspaceServiceAccounts", self.list_accounts(id))
            }
            ("DELETE", ["workspaces", id, "serviceaccounts", sa]) => {
                ("DeleteWorkspaceServiceAccount", self.delete_account(id, sa))
            }
            ("POST", ["workspaces", id, "serviceaccounts", sa, "tokens"]) => (
                "CreateWorkspaceServiceAccountToken",
                self.create_token(id, sa, &req.json()),
            ),
            ("GET", ["workspaces", id, "serviceaccounts", sa, "tokens"]) => (
                "ListWorkspaceServiceAccountTokens",
                self.list_tokens(id, sa),
            ),
            ("DELETE", ["workspaces", id, "serviceaccounts", sa, "tokens", t]) => (
                "DeleteWorkspaceServiceAccountToken",
                self.delete_token(id, sa, t),
            ),
            _ => {
                return error(
                    404,
                    "UnknownOperationException",
                    &format!("the AMG test server does not implement {m} {}", req.path),
                );
            }
        };
        self.calls.push(op.to_string());
        resp
    }

    fn create_workspace(&mut self, b: &Value) -> Response {
        let client_token = b["clientToken"].as_str().map(str::to_string);
        if let Some(w) = client_token
            .as_ref()
            .and_then(|t| self.client_tokens.get(t))
            .and_then(|id| self.workspaces.get(id))
        {
            return Response::json(202, &json!({ "workspace": w.doc }));
        }
        if !one_of(
            &b["accountAccessType"],
            &["CURRENT_ACCOUNT", "ORGANIZATION"],
        ) {
            return invalid("accountAccessType must be CURRENT_ACCOUNT or ORGANIZATION");
        }
        if !one_of(
            &b["permissionType"],
            &["SERVICE_MANAGED", "CUSTOMER_MANAGED"],
        ) {
            return invalid("permissionType must be SERVICE_MANAGED or CUSTOMER_MANAGED");
        }
        let providers = b["authenticationProviders"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if providers.is_empty() || !providers.iter().all(|p| one_of(p, &["AWS_SSO", "SAML"])) {
            return invalid("authenticationProviders must list AWS_SSO and/or SAML");
        }
        let version = b["grafanaVersion"]
            .as_str()
            .unwrap_or(LATEST_GRAFANA_VERSION)
            .to_string();
        if !GRAFANA_VERSIONS.contains(&version.as_str()) {
            return invalid(&format!(
                "grafanaVersion {version} is not supported; ListVersions lists {}",
                GRAFANA_VERSIONS.join(", ")
            ));
        }
        let name = b["workspaceName"].as_str().unwrap_or_default();
        if !name.is_empty() && self.workspaces.values().any(|w| w.doc["name"] == name) {
            return error(
                409,
                "ConflictException",
                &format!("a workspace named {name} already exists"),
            );
        }
        let id = format!("g-{:010x}", 0x5eed_0000 + self.id());
        let endpoint = match &self.grafana {
            Some(l) => l.host.clone(),
            None => format!("{id}.grafana-workspace.{REGION}.amazonaws.com"),
        };
        let role = match b["workspaceRoleArn"].as_str() {
            Some(r) => json!(r),
            None if b["permissionType"] == "SERVICE_MANAGED" => {
                json!(format!(
                    "arn:aws:iam::{ACCOUNT}:role/service-role/AmazonGrafanaServiceRole-{}",
                    &id[2..]
                ))
            }
            None => Value::Null,
        };
        let t = now();
        let mut doc = json!({
            "id": id, "name": b["workspaceName"], "description": b["workspaceDescription"],
            "accountAccessType": b["accountAccessType"], "permissionType": b["permissionType"],
            "authentication": { "providers": providers },
            "dataSources": b["workspaceDataSources"].as_array().cloned().unwrap_or_default(),
            "notificationDestinations": b["workspaceNotificationDestinations"].as_array().cloned().unwrap_or_default(),
            "grafanaVersion": version,
            "workspaceRoleArn": role, "endpoint": endpoint, "status": "CREATING",
            "created": t, "modified": t, "tags": b["tags"].as_object().cloned().unwrap_or_default(),
        });
        doc.as_object_mut()
            .expect("object")
            .retain(|_, v| !v.is_null());
        let w = Workspace {
            doc: doc.clone(),
            pending: self.settle_polls,
            until: self.transition_end(),
            configuration: "{}".into(),
            permissions: Vec::new(),
            accounts: BTreeMap::new(),
        };
        if let Some(t) = client_token {
            self.client_tokens.insert(t, id.clone());
        }
        self.grafana_runs(&version);
        self.workspaces.insert(id, w);
        Response::json(202, &json!({ "workspace": doc }))
    }

    /// Summaries in ID order; `nextToken` is the ID the next page starts at.
    fn list_workspaces(&mut self, req: &Request) -> Response {
        let param = |name: &str| {
            req.query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let size = match param("maxResults").map(str::parse::<usize>) {
            None => self.page_size,
            Some(Ok(n)) if (1..=100).contains(&n) => n,
            Some(_) => return invalid("maxResults must be between 1 and 100"),
        };
        let from = param("nextToken").unwrap_or_default().to_string();
        let mut rest = self.workspaces.range(from..);
        let page: Vec<Value> = rest
            .by_ref()
            .take(size)
            .map(|(_, w)| {
                let mut s = serde_json::Map::new();
                for k in [
                    "authentication",
                    "created",
                    "description",
                    "endpoint",
                    "grafanaVersion",
                    "id",
                    "licenseType",
                    "modified",
                    "name",
                    "notificationDestinations",
                    "status",
                    "tags",
                ] {
                    if let Some(v) = w.doc.get(k) {
                        s.insert(k.to_string(), v.clone());
                    }
                }
                Value::Object(s)
            })
            .collect();
        let mut body = json!({ "workspaces": page });
        if let Some((next, _)) = rest.next() {
            body["nextToken"] = json!(next);
        }
        Response::json(200, &body)
    }

    /// Advances the workspace's transition by one poll.
    fn describe(&mut self, id: &str) -> Response {
        let Some(w) = self.workspaces.get_mut(id) else {
            return not_found(&format!("workspace {id}"));
        };
        let done = match w.until {
            Some(t) => Instant::now() >= t,
            None => {
                w.pending = w.pending.saturating_sub(1);
                w.pending == 0
            }
        };
        if done {
            let status = w.doc["status"].as_str().unwrap_or_default().to_string();
            match status.as_str() {
                "DELETING" => {
                    self.workspaces.remove(id);
                    return not_found(&format!("workspace {id}"));
                }
                "ACTIVE" => {}
                _ => w.doc["status"] = json!("ACTIVE"),
            }
        }
        Response::json(200, &json!({ "workspace": w.doc }))
    }

    /// The workspace, if it exists and can take a change now.
    fn ready(&mut self, id: &str) -> Result<&mut Workspace, Response> {
        let (settle, until) = (self.settle_polls, self.transition_end());
        let w = self
            .workspaces
            .get_mut(id)
            .ok_or_else(|| not_found(&format!("workspace {id}")))?;
        if w.doc["status"] != "ACTIVE" {
            return Err(error(
                409,
                "ConflictException",
                &format!(
                    "workspace {id} is {}; try again when it is ACTIVE",
                    w.doc["status"].as_str().unwrap_or("")
                ),
            ));
        }
        w.pending = settle;
        w.until = until;
        w.doc["modified"] = json!(now());
        Ok(w)
    }

    fn update(&mut self, id: &str, b: &Value) -> Response {
        let w = match self.ready(id) {
            Ok(w) => w,
            Err(r) => return r,
        };
        for (theirs, ours) in [
            ("workspaceName", "name"),
            ("workspaceDescription", "description"),
            ("accountAccessType", "accountAccessType"),
            ("permissionType", "permissionType"),
            ("workspaceDataSources", "dataSources"),
            (
                "workspaceNotificationDestinations",
                "notificationDestinations",
            ),
            ("workspaceRoleArn", "workspaceRoleArn"),
        ] {
            if !b[theirs].is_null() {
                w.doc[ours] = b[theirs].clone();
            }
        }
        w.doc["status"] = json!("UPDATING");
        Response::json(202, &json!({ "workspace": w.doc }))
    }

    fn update_auth(&mut self, id: &str, b: &Value) -> Response {
        let w = match self.ready(id) {
            Ok(w) => w,
            Err(r) => return r,
        };
        w.doc["authentication"] = json!({ "providers": b["authenticationProviders"] });
        w.doc["status"] = json!("UPDATING");
        w.pending = 0;
        w.until = None;
        Response::json(
            200,
            &json!({ "authentication": { "providers": b["authenticationProviders"] } }),
        )
    }

    fn configuration(&mut self, id: &str) -> Response {
        let Some(w) = self.workspaces.get(id) else {
            return not_found(&format!("workspace {id}"));
        };
        Response::json(
            200,
            &json!({ "configuration": w.configuration, "grafanaVersion": w.doc["grafanaVersion"] }),
        )
    }

    fn set_configuration(&mut self, id: &str, b: &Value) -> Response {
        let w = match self.ready(id) {
            Ok(w) => w,
            Err(r) => return r,
        };
        let Some(conf) = b["configuration"].as_str() else {
            return invalid("configuration is required");
        };
        let rank = |v: &str| GRAFANA_VERSIONS.iter().position(|x| *x == v);
        let upgrade = match b["grafanaVersion"].as_str() {
            Some(v) => match (
                rank(w.doc["grafanaVersion"].as_str().unwrap_or_default()),
                rank(v),
            ) {
                (Some(now), Some(next)) if next >= now => Some(v.to_string()),
                // "You can only update the version to a newer version of
                // Grafana" (user guide, Update your workspace version).
                _ => {
                    return invalid(&format!(
                        "grafanaVersion {v} is not a version this workspace can move to"
                    ));
                }
            },
            None => None,
        };
        w.configuration = conf.to_string();
        if let Some(v) = &upgrade {
            w.doc["grafanaVersion"] = json!(v);
            w.doc["status"] = json!("VERSION_UPDATING");
        }
        if let Some(v) = upgrade {
            self.grafana_runs(&v);
        }
        Response::json(202, &json!({}))
    }

    fn delete(&mut self, id: &str) -> Response {
        let (settle, until) = (self.settle_polls, self.transition_end());
        let Some(w) = self.workspaces.get_mut(id) else {
            return not_found(&format!("workspace {id}"));
        };
        if !matches!(
            w.doc["status"].as_str(),
            Some("ACTIVE" | "CREATION_FAILED" | "FAILED")
        ) {
            return error(409, "ConflictException", &format!("workspace {id} is busy"));
        }
        w.doc["status"] = json!("DELETING");
        w.pending = settle;
        w.until = until;
        if let Some(Linked { tokens, .. }) = &self.grafana {
            let keys: Vec<String> = w
                .accounts
                .values()
                .flat_map(|a| a.tokens.values().map(|t| t.key.clone()))
                .collect();
            tokens.revoke(&keys);
        }
        Response::json(202, &json!({ "workspace": w.doc }))
    }

    fn list_permissions(&mut self, id: &str) -> Response {
        let Some(w) = self.workspaces.get(id) else {
            return not_found(&format!("workspace {id}"));
        };
        let list: Vec<Value> = w
            .permissions
            .iter()
            .map(|(role, uid, ty)| json!({ "role": role, "user": { "id": uid, "type": ty } }))
            .collect();
        Response::json(200, &json!({ "permissions": list }))
    }

    fn update_permissions(&mut self, id: &str, b: &Value) -> Response {
        let Some(w) = self.workspaces.get_mut(id) else {
            return not_found(&format!("workspace {id}"));
        };
        let mut errors = Vec::new();
        for ins in b["updateInstructionBatch"].as_array().into_iter().flatten() {
            if !one_of(&ins["role"], ROLES) || !one_of(&ins["action"], &["ADD", "REVOKE"]) {
                return invalid(
                    "each instruction needs an action (ADD, REVOKE) and a role (ADMIN, EDITOR, VIEWER)",
                );
            }
            let role = ins["role"].as_str().unwrap_or_default().to_string();
            for u in ins["users"].as_array().into_iter().flatten() {
                let (uid, ty) = (
                    u["id"].as_str().unwrap_or_default().to_string(),
                    u["type"].as_str().unwrap_or_default().to_string(),
                );
                if uid.starts_with("missing") {
                    errors.push(json!({ "code": 404, "message": format!("user {uid} does not exist"), "causedBy": ins }));
                    continue;
                }
                w.permissions.retain(|(_, i, _)| *i != uid);
                if ins["action"] == "ADD" {
                    w.permissions.push((role.clone(), uid, ty));
                }
            }
        }
        Response::json(200, &json!({ "errors": errors }))
    }

    fn tags(&mut self, req: &Request, arn: &str) -> Response {
        let id = arn.rsplit('/').next().unwrap_or_default().to_string();
        self.calls.push(format!("{}Tags", req.method));
        let Some(w) = self.workspaces.get_mut(&id) else {
            return not_found(&format!("resource {arn}"));
        };
        if !w.doc["tags"].is_object() {
            w.doc["tags"] = json!({});
        }
        match req.method.as_str() {
            "GET" => return Response::json(200, &json!({ "tags": w.doc["tags"] })),
            "POST" => {
                for (k, v) in req.json()["tags"].as_object().into_iter().flatten() {
                    w.doc["tags"][k] = v.clone();
                }
            }
            "DELETE" => {
                for (k, v) in &req.query {
                    if k == "tagKeys" {
                        w.doc["tags"].as_object_mut().expect("object").remove(v);
                    }
                }
            }
            _ => return invalid("unsupported method"),
        }
        Response::json(200, &json!({}))
    }
}

impl Drop for AmgServer {
    fn drop(&mut self) {
        self.model_check.assert_clean("the AMG test server");
    }
}

#[cfg(test)]
mod tests;
