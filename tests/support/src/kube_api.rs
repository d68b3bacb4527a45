//! A test Kubernetes API server (no real one can be installed on these
//! machines), written to the published API's behaviour for what meshmon
//! uses: HTTPS with its own CA, bearer-token checking (a wrong token gets
//! 401; EKS `k8s-aws-v1.` tokens are verified as the EKS authenticator
//! would), discovery, get/list/create/server-side apply/merge patch/delete
//! with field ownership and 409 conflicts, namespaces that must exist, 404
//! `Status` for missing objects, `resourceVersion`/`generation`, CRDs that
//! become Established after a delay, workloads that roll out after a delay,
//! deletions that take a moment. Faults: 503 (or refused connections) for
//! the first seconds after the first contact — a new EKS control plane —,
//! 503s on demand, and seeded random faults like
//! [`FaultProxy`](crate::fault_proxy::FaultProxy)'s (a proxy cannot sit in
//! front of HTTPS): 429 with `Retry-After: 0`, 500 or 503, a connection
//! closed unanswered, a request applied and then its connection closed
//! unanswered, a request applied and then answered 503. Tests can edit
//! objects behind meshmon's back and read the request log, and ask it
//! `SubjectAccessReview`s, which it answers by RBAC over the roles and
//! bindings it holds (`rbac.rs`). Dropped, it stops.

mod eks_auth;
mod fake_helm;
mod fields;
pub mod rbac;
mod routes;
mod store;
pub(crate) mod tls;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::fault_proxy::{Dice, FaultCounts, FaultKind, FaultPlan};

pub use eks_auth::{
    DecodedToken, decode as decode_eks_token, verify as verify_eks_token,
    verify_account as verify_eks_token_account, verify_claims as verify_eks_token_claims,
    verify_session as verify_eks_session_token,
};
pub use fake_helm::{FakeHelm, Invocation};

/// How clients must authenticate.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Bearer TOKEN`, exactly.
    Token(String),
    /// An EKS token for this cluster, signed with the moto test credentials.
    Eks { region: String, cluster: String },
    /// An EKS token signed with any credentials (a session of a role
    /// meshmon assumed, whose secret the test never sees): everything
    /// [`Auth::Eks`] checks but the signature, so a token for another
    /// cluster name passes too (only the signature binds it to a name).
    EksAnySession { region: String, cluster: String },
    /// [`Auth::EksAnySession`], and the token's access key belongs to
    /// `account`, as `callers` (moto's STS, [`crate::caller::Callers`])
    /// say: one `GetCallerIdentity` per access key.
    EksSessionOf {
        region: String,
        cluster: String,
        account: String,
        callers: crate::caller::Callers,
    },
    /// An EKS token for this cluster signed by credentials of `account`:
    /// [`Auth::EksSessionOf`], and moto's copy of the key's secret
    /// verifies the signature for the cluster name. moto's copy comes
    /// from its state dump, which takes seconds per new session once moto
    /// holds AWS's managed policies; cheap otherwise.
    EksSession {
        region: String,
        cluster: String,
        account: String,
        callers: crate::caller::Callers,
    },
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// The status the client got; 0 when the connection was closed without
    /// an answer.
    pub status: u16,
    /// The seeded fault the request got, if any.
    pub fault: Option<FaultKind>,
}

impl Logged {
    /// `PATCH /apis/apps/v1/namespaces/prod/deployments/dj`
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Asks a [`KubeApi`] `SubjectAccessReview`s (see [`KubeApi::reviewer`]).
#[derive(Clone, Debug)]
pub struct Reviewer {
    addr: SocketAddr,
    ca_pem: String,
    token: String,
}

impl Reviewer {
    /// Whether `user` (in no group) may do `attrs`, and the reason: the
    /// server's answer to `POST
    /// /apis/authorization.k8s.io/v1/subjectaccessreviews`, or what went
    /// wrong asking (no answer, or not 201).
    pub fn review(&self, user: &str, attrs: &rbac::Attributes) -> Result<(bool, String), String> {
        let mut spec = match attrs {
            rbac::Attributes::Resource {
                namespace,
                verb,
                group,
                resource,
                subresource,
                name,
            } => {
                serde_json::json!({"resourceAttributes": {"namespace": namespace, "verb": verb, "group": group,
                "version": "v1", "resource": resource, "subresource": subresource, "name": name}})
            }
            rbac::Attributes::NonResource { path, verb } => {
                serde_json::json!({"nonResourceAttributes": {"path": path, "verb": verb}})
            }
        };
        spec["user"] = serde_json::json!(user);
        let body = serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec});
        let (status, _, reply) = tls::request(
            self.addr,
            &self.ca_pem,
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            &self.token,
            &body.to_string(),
        )
        .ok_or("the API server closed the connection without answering a SubjectAccessReview")?;
        let reply: Json = serde_json::from_slice(&reply).unwrap_or(Json::Null);
        if status != 201 {
            return Err(format!("SubjectAccessReview answered {status}: {reply}"));
        }
        Ok((
            reply["status"]["allowed"] == true,
            reply["status"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ))
    }
}

/// Start-up behaviour: faults counted from the first connection.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Close connections without answering for this long.
    pub refuse_for: Duration,
    /// Then answer every request 503 for this long.
    pub unavailable_for: Duration,
    /// How long a new CRD takes to be Established.
    pub crd_delay: Duration,
    /// How long a deletion takes to complete.
    pub delete_delay: Duration,
    /// How long a workload takes to roll out.
    pub rollout_delay: Duration,
    /// Seeded faults for the requests after the start-up window (and after
    /// those failed by [`KubeApi::fail_next`]): a share `rate` of them gets
    /// one of the [`FaultKind`]s, drawn as the fault proxy draws them.
    /// A server error is 500 or 503 here (502 draws answer 503).
    pub faults: Option<FaultPlan>,
}

impl Options {
    /// Delays like a real (fast) cluster's, short enough for tests.
    pub fn realistic() -> Self {
        Options {
            crd_delay: Duration::from_millis(400),
            delete_delay: Duration::from_millis(300),
            rollout_delay: Duration::from_millis(500),
            ..Options::default()
        }
    }
}

struct Inner {
    store: store::Store,
    log: Vec<Logged>,
    auth: Auth,
    /// A bearer token for the test's own requests (reviews), besides `auth`.
    harness_token: String,
    options: Options,
    first_contact: Option<Instant>,
    fail_next: Vec<u16>,
    dice: Option<Dice>,
}

pub struct KubeApi {
    addr: SocketAddr,
    ca_pem: String,
    inner: Arc<Mutex<Inner>>,
    stop: Arc<AtomicBool>,
}

impl KubeApi {
    pub fn start(auth: Auth, options: Options) -> KubeApi {
        let (ca_pem, config) = tls::certificates();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let inner = Arc::new(Mutex::new(Inner {
            store: store::Store::new(
                options.crd_delay,
                options.delete_delay,
                options.rollout_delay,
            ),
            log: Vec::new(),
            auth,
            harness_token: format!("meshmon-test-harness-{}", addr.port()),
            first_contact: None,
            fail_next: Vec::new(),
            dice: options.faults.map(Dice::new),
            options,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (stopping, shared) = (stop.clone(), inner.clone());
        let handler: tls::Handler = Arc::new(move |req| handle(&shared, req));
        let refusing = inner.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if refuse(&refusing) {
                    drop(conn);
                    continue;
                }
                let (config, handler) = (config.clone(), handler.clone());
                std::thread::spawn(move || tls::serve(conn, config, handler));
            }
        });
        KubeApi {
            addr,
            ca_pem,
            inner,
            stop,
        }
    }

    /// `https://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The CA certificate (PEM) that signed the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers the next `n` requests with 503.
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next.extend(std::iter::repeat_n(503, n));
    }

    /// Injects seeded faults from now on (see [`Options::faults`]), starting
    /// the sequence and the counts afresh.
    pub fn inject_faults(&self, plan: FaultPlan) {
        self.lock().dice = Some(Dice::new(plan));
    }

    /// Changes the share of faulted requests from now on (0.0: none); no
    /// effect without a [`FaultPlan`].
    pub fn set_fault_rate(&self, rate: f64) {
        if let Some(d) = self.lock().dice.as_mut() {
            d.set_rate(rate);
        }
    }

    /// Requests the seeded faults were drawn for, and faults injected.
    pub fn faults_injected(&self) -> FaultCounts {
        self.lock()
            .dice
            .as_ref()
            .map(Dice::counts)
            .unwrap_or_default()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    /// The live object, as a GET would return it.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Json> {
        let mut g = self.lock();
        g.store.tick();
        let k = g.store.kind_by_name(api_version, kind)?;
        g.store.get(&k, namespace, name).ok()
    }

    /// Every object, as `apiVersion Kind namespace/name`.
    pub fn names(&self) -> Vec<String> {
        let mut g = self.lock();
        g.store.tick();
        g.store.names()
    }

    /// Creates an object directly in the server's store, as another client
    /// would (`kubectl create`, field manager `kubectl-create`): e.g. CRDs
    /// that a Helm chart installs when the helm in use is the fake one.
    /// `body` carries `apiVersion`, `kind` and `metadata` (namespace, name).
    pub fn create(&self, body: Json) {
        let mut g = self.lock();
        g.store.tick();
        let api_version = body["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = body["kind"].as_str().unwrap_or_default().to_string();
        let namespace = body["metadata"]["namespace"].as_str().map(str::to_string);
        let k = g
            .store
            .kind_by_name(&api_version, &kind)
            .unwrap_or_else(|| panic!("{api_version} {kind} is not served"));
        g.store
            .create(&k, namespace.as_deref(), body, "kubectl-create")
            .unwrap_or_else(|e| panic!("create {api_version} {kind}: {e:?}"));
        g.store.tick();
    }

    /// Asks the server, over HTTPS as a client would, whether `user` (in
    /// no group) may do `attrs`: a `SubjectAccessReview`, answered by RBAC
    /// over the roles and bindings the server holds. Returns `allowed` and
    /// the reason.
    pub fn subject_access_review(&self, user: &str, attrs: &rbac::Attributes) -> (bool, String) {
        self.reviewer()
            .review(user, attrs)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A handle that asks this server `SubjectAccessReview`s from anywhere,
    /// e.g. from another double at the moment it acts
    /// ([`AmpDouble::link_cluster`](crate::amp_double::AmpDouble::link_cluster)).
    pub fn reviewer(&self) -> Reviewer {
        Reviewer {
            addr: self.addr,
            ca_pem: self.ca_pem.clone(),
            token: self.lock().harness_token.clone(),
        }
    }

    /// Changes an object behind meshmon's back, as `kubectl edit` would
    /// (a merge patch by field manager `kubectl-edit`).
    pub fn edit(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: Json,
    ) {
        let mut g = self.lock();
        g.store.tick();
        let k = g
            .store
            .kind_by_name(api_version, kind)
            .unwrap_or_else(|| panic!("{api_version} {kind} is not served"));
        g.store
            .merge_patch(&k, namespace, name, &patch, "kubectl-edit")
            .unwrap_or_else(|e| panic!("edit {name}: {e:?}"));
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Whether a new connection falls in the refusing window.
fn refuse(inner: &Mutex<Inner>) -> bool {
    let mut g = inner.lock().unwrap_or_else(|e| e.into_inner());
    let first = *g.first_contact.get_or_insert_with(Instant::now);
    first.elapsed() < g.options.refuse_for
}

/// The answer, or `None` to close the connection without one.
fn handle(inner: &Mutex<Inner>, req: &tls::Req) -> Option<tls::Answer> {
    let mut g = inner.lock().unwrap_or_else(|e| e.into_inner());
    let first = *g.first_contact.get_or_insert_with(Instant::now);
    let window = g.options.refuse_for + g.options.unavailable_for;
    let mut fault = None;
    let (status, body) = if first.elapsed() < window {
        routes::status(503, "ServiceUnavailable", "the API server is starting")
    } else if !g.fail_next.is_empty() {
        let code = g.fail_next.remove(0);
        routes::status(code, "ServiceUnavailable", "injected fault")
    } else {
        fault = g.dice.as_mut().and_then(Dice::roll);
        let unavailable = || routes::status(503, "ServiceUnavailable", "injected fault");
        match fault.map(|f| (f.kind, f.status)) {
            Some((FaultKind::Throttle, _)) => routes::status(
                429,
                "TooManyRequests",
                "injected fault: too many requests, please try again later",
            ),
            Some((FaultKind::ServerError, 500)) => {
                routes::status(500, "InternalError", "injected fault")
            }
            Some((FaultKind::ServerError, _)) => unavailable(),
            Some((FaultKind::Reset, _)) => (0, Vec::new()),
            kind => {
                let harness = req.header("authorization")
                    == Some(format!("Bearer {}", g.harness_token).as_str());
                let checked = match harness {
                    true => Ok(()),
                    false => check_auth(&g.auth, req.header("authorization")),
                };
                let applied = if let Err(why) = checked {
                    routes::status(401, "Unauthorized", &format!("Unauthorized: {why}"))
                } else {
                    routes::route(&mut g.store, req)
                };
                match kind.map(|(k, _)| k) {
                    Some(FaultKind::LostResponse) => (0, Vec::new()),
                    Some(FaultKind::LateError) => unavailable(),
                    _ => applied,
                }
            }
        }
    };
    g.log.push(Logged {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        content_type: req.header("content-type").map(str::to_string),
        status,
        fault: fault.map(|f| f.kind),
    });
    let headers = match status {
        429 => vec![("Retry-After".to_string(), "0".to_string())],
        _ => Vec::new(),
    };
    (status != 0).then_some(tls::Answer {
        status,
        headers,
        body,
    })
}

fn check_auth(auth: &Auth, header: Option<&str>) -> Result<(), String> {
    let token = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or("no bearer token")?;
    match auth {
        Auth::Token(t) if t == token => Ok(()),
        Auth::Token(_) => Err("wrong token".into()),
        Auth::Eks { region, cluster } => {
            eks_auth::verify(token, region, cluster, "testing", "testing")
        }
        Auth::EksAnySession { region, cluster: _ } => {
            eks_auth::verify_claims(token, region).map(|_| ())
        }
        Auth::EksSessionOf {
            region,
            cluster: _,
            account,
            callers,
        } => eks_auth::verify_account(token, region, account, callers),
        Auth::EksSession {
            region,
            cluster,
            account,
            callers,
        } => eks_auth::verify_session(token, region, cluster, account, callers),
    }
}

/// The CustomResourceDefinitions of AWS App Mesh (`appmesh.k8s.aws`,
/// `v1beta2`) that the appmesh-controller Helm chart installs. The fake
/// helm installs nothing, so tests and the local sandbox register these
/// with [`KubeApi::create`] before manifests use the kinds.
pub fn app_mesh_crds() -> Vec<Json> {
    let kinds = [
        ("Mesh", "meshes", "mesh", "Cluster"),
        ("VirtualNode", "virtualnodes", "virtualnode", "Namespaced"),
        (
            "VirtualService",
            "virtualservices",
            "virtualservice",
            "Namespaced",
        ),
        (
            "VirtualRouter",
            "virtualrouters",
            "virtualrouter",
            "Namespaced",
        ),
        (
            "VirtualGateway",
            "virtualgateways",
            "virtualgateway",
            "Namespaced",
        ),
        (
            "GatewayRoute",
            "gatewayroutes",
            "gatewayroute",
            "Namespaced",
        ),
        (
            "BackendGroup",
            "backendgroups",
            "backendgroup",
            "Namespaced",
        ),
    ];
    kinds
        .iter()
        .map(|(kind, plural, singular, scope)| {
            serde_json::json!({
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": { "name": format!("{plural}.appmesh.k8s.aws") },
                "spec": {
                    "group": "appmesh.k8s.aws",
                    "scope": scope,
                    "names": {
                        "kind": kind,
                        "plural": plural,
                        "singular": singular,
                        "listKind": format!("{kind}List"),
                    },
                    "versions": [{
                        "name": "v1beta2",
                        "served": true,
                        "storage": true,
                        "schema": { "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": true,
                        } },
                    }],
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request on a fresh TLS connection: the status and the
    /// `Retry-After` header, or `None` when the connection closed unanswered.
    fn call(api: &KubeApi, method: &str, path: &str, body: &str) -> Option<(u16, Option<String>)> {
        tls::request(api.addr, api.ca_pem(), method, path, "t", body).map(|(s, r, _)| (s, r))
    }

    #[test]
    fn seeded_faults_are_injected_and_only_the_ambiguous_ones_apply() {
        let api = KubeApi::start(
            Auth::Token("t".into()),
            Options {
                faults: Some(FaultPlan { rate: 1.0, seed: 3 }),
                ..Options::default()
            },
        );
        for i in 0..60 {
            let body = format!(
                r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"ns{i}"}}}}"#
            );
            let seen = call(&api, "POST", "/api/v1/namespaces", &body);
            let logged = api.requests().pop().unwrap();
            let kind = logged.fault.expect("rate 1.0 faults every request");
            let created = api
                .object("v1", "Namespace", None, &format!("ns{i}"))
                .is_some();
            assert_eq!(created, kind.takes_effect(), "{kind:?}");
            match kind {
                FaultKind::Throttle => assert_eq!(seen, Some((429, Some("0".into())))),
                FaultKind::ServerError => {
                    assert!(matches!(seen, Some((500 | 503, None))), "{seen:?}")
                }
                FaultKind::LateError => assert_eq!(seen, Some((503, None))),
                FaultKind::Reset | FaultKind::LostResponse => {
                    assert_eq!((seen, logged.status), (None, 0))
                }
            }
        }
        let n = api.faults_injected();
        assert_eq!((n.requests, n.faults()), (60, 60));
        assert!(FaultKind::ALL.iter().all(|k| n.of(*k) > 0), "{n:?}");

        api.set_fault_rate(0.0);
        assert_eq!(
            call(&api, "GET", "/api/v1/namespaces", ""),
            Some((200, None))
        );
        assert_eq!(api.faults_injected().faults(), 60);
    }

    /// `POST /apis/authorization.k8s.io/v1/subjectaccessreviews` over HTTPS,
    /// as a client sends it: 201 with `status.allowed` (and the reason) from
    /// the roles and bindings the server holds at that moment, 422 for a
    /// review without a subject, 405 for anything but create; discovery
    /// lists the resource.
    #[test]
    fn subject_access_reviews_are_answered_by_the_rbac_the_server_holds() {
        let api = KubeApi::start(Auth::Token("t".into()), Options::default());
        let post = |body: &str| {
            let (status, _, reply) = tls::request(
                api.addr,
                api.ca_pem(),
                "POST",
                "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                "t",
                body,
            )
            .expect("an answer");
            (
                status,
                serde_json::from_slice::<Json>(&reply).expect("JSON"),
            )
        };
        let list_pods = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
            "spec":{"user":"aps-collector-user","resourceAttributes":{"verb":"list","resource":"pods","version":"v1"}}}"#;
        let (status, review) = post(list_pods);
        assert_eq!(status, 201, "{review}");
        assert_eq!(review["status"]["allowed"], false, "{review}");

        api.create(serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "aps-collector-role"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods", "endpoints"], "verbs": ["get", "list", "watch"]},
                {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}
            ]
        }));
        // Bound to a missing role first: denied, and the reason says why.
        api.create(serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "typo"},
            "subjects": [{"kind": "User", "name": "aps-collector-user", "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "ClusterRole", "name": "aps-colector-role", "apiGroup": "rbac.authorization.k8s.io"}
        }));
        let (_, review) = post(list_pods);
        assert_eq!(review["status"]["allowed"], false, "{review}");
        assert_eq!(
            review["status"]["reason"],
            r#"RBAC: clusterrole.rbac.authorization.k8s.io "aps-colector-role" not found"#
        );
        api.create(serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "aps-collector-user-role-binding"},
            "subjects": [{"kind": "User", "name": "aps-collector-user", "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "ClusterRole", "name": "aps-collector-role", "apiGroup": "rbac.authorization.k8s.io"}
        }));
        let (status, review) = post(list_pods);
        assert_eq!(status, 201, "{review}");
        assert_eq!(review["kind"], "SubjectAccessReview");
        assert_eq!(review["spec"]["user"], "aps-collector-user");
        assert_eq!(review["status"]["allowed"], true, "{review}");
        assert_eq!(
            review["status"]["reason"],
            r#"RBAC: allowed by ClusterRoleBinding "aps-collector-user-role-binding" of ClusterRole "aps-collector-role" to User "aps-collector-user""#
        );
        let user = "aps-collector-user";
        assert!(
            api.subject_access_review(user, &rbac::Attributes::url("get", "/metrics"))
                .0
        );
        assert!(
            !api.subject_access_review(user, &rbac::Attributes::url("get", "/healthz"))
                .0
        );
        let delete = rbac::Attributes::core("delete", "pods", "prod");
        assert!(!api.subject_access_review(user, &delete).0);
        assert!(
            !api.subject_access_review("someone-else", &rbac::Attributes::core("list", "pods", ""))
                .0
        );

        let (status, answer) =
            post(r#"{"spec":{"nonResourceAttributes":{"path":"/metrics","verb":"get"}}}"#);
        assert_eq!(
            (status, &answer["reason"]),
            (422, &serde_json::json!("Invalid")),
            "{answer}"
        );
        let got = tls::request(
            api.addr,
            api.ca_pem(),
            "GET",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            "t",
            "",
        );
        assert_eq!(got.map(|(s, _, _)| s), Some(405));
        let (status, _, list) = tls::request(
            api.addr,
            api.ca_pem(),
            "GET",
            "/apis/authorization.k8s.io/v1",
            "t",
            "",
        )
        .expect("discovery");
        let list: Json = serde_json::from_slice(&list).expect("JSON");
        assert_eq!(status, 200);
        assert_eq!(
            list["resources"][0]["name"], "subjectaccessreviews",
            "{list}"
        );
        assert_eq!(
            list["resources"][0]["verbs"],
            serde_json::json!(["create"]),
            "{list}"
        );
    }

    #[test]
    fn faults_can_be_turned_on_later_and_repeat_with_the_seed() {
        let api = KubeApi::start(Auth::Token("t".into()), Options::default());
        assert_eq!(
            call(&api, "GET", "/api/v1/namespaces", ""),
            Some((200, None))
        );
        let run = || {
            api.inject_faults(FaultPlan {
                rate: 0.5,
                seed: 11,
            });
            (0..30)
                .map(|_| call(&api, "GET", "/api/v1/namespaces", "").map(|(s, _)| s))
                .collect::<Vec<_>>()
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        assert!(a.contains(&Some(200)) && a.iter().any(|s| *s != Some(200)));
        assert_eq!(api.faults_injected().requests, 30);
    }
}
