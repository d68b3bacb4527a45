//! `helm_release`, through the `helm` CLI as the recipe uses it:
//! `upgrade --install` (with `--reset-values`, so a value removed from the
//! spec is removed from the release — plain `helm upgrade` with no values
//! would silently reuse the old ones), `uninstall`, and `get values` /
//! `get metadata` to read a release back for refresh and drift.
//!
//! helm reaches the same API server as the rest of the provider through a
//! private kubeconfig written for each run (mode 0600, in a temporary file
//! removed when the run ends) holding a token that is valid right now. The
//! binary is `MESHMON_HELM` or `helm` on PATH; `preflight` reports a missing
//! one at plan time, before anything is created.
//!
//! A release name is unique in its namespace, so a create whose answer was
//! lost is recovered by name, from `helm status`: a deployed release is
//! adopted; one still pending (the helm that was installing it may still
//! run, waiting for its resources) is waited for until it settles; a
//! failed one, or one that stays pending (its helm was killed, and helm
//! would refuse any further upgrade of it), is uninstalled so that the
//! create can install it afresh.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use meshmon_provider_sdk::wait::Backoff;
use meshmon_provider_sdk::{
    Attrs, Current, DeclaredOutputs, Map, OpContext, PlanAdvice, ProviderError, Resource, Value,
    async_trait, attrs, declare,
};
use serde_json::{Value as Json, json};

use crate::conn::{Conn, HelmAccess};

/// How many helm processes run at once in one meshmon process.
pub const HELM_AT_ONCE: usize = 10;
static HELM_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HELM_AT_ONCE);

declare! {
    pub(crate) struct ReleaseIn for "helm_release" ("A Helm chart release, installed with the helm CLI.") {
        name: String = required(AttrType::String).force_new();
        #[serde(default = "default_namespace")]
        namespace: String = optional(AttrType::String).default("default").force_new();
        repository: Option<String> = optional(AttrType::String)
            .describe("Chart repository URL, like \"https://aws.github.io/eks-charts\".");
        chart: String = required(AttrType::String)
            .describe("Chart name in the repository, or a path or URL.");
        version: Option<String> = optional(AttrType::String)
            .and_computed()
            .describe("Chart version; the latest if left out.");
        values: Option<Map> = optional(AttrType::map_of(AttrType::Any))
            .describe("Chart values as a TOML table; passed as a values file.");
        #[serde(default)]
        create_namespace: bool = optional(AttrType::Bool).default(false);
        #[serde(default = "yes")]
        wait: bool = optional(AttrType::Bool)
            .default(true)
            .describe("Wait until the release's resources are ready.");
        #[serde(default = "five_minutes")]
        timeout: String = optional(AttrType::String)
            .default("5m")
            .check(crate::a_duration)
            .describe("How long helm may take, like \"10m\".");
    }
    outputs ReleaseOut {
        revision: Option<i64> = computed(AttrType::Int);
        status: String = computed(AttrType::String);
        app_version: Option<String> = computed(AttrType::String);
        version: Option<String>;
    }
}

// The schema's defaults, for records that lack them.
fn default_namespace() -> String {
    "default".into()
}

fn yes() -> bool {
    true
}

fn five_minutes() -> String {
    "5m".into()
}

/// Where the helm binary is: `MESHMON_HELM`, else `helm` on PATH.
pub fn binary() -> Result<PathBuf, ProviderError> {
    if let Some(p) = std::env::var_os("MESHMON_HELM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ProviderError::new(format!("MESHMON_HELM={} does not exist", p.display()))
                .with_hint("point MESHMON_HELM at a Helm 3 binary, or unset it to use `helm` from PATH"))
        };
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("helm"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            ProviderError::new("helm_release needs the `helm` command-line tool, and it is not on PATH").with_hint(
                "install Helm 3 (https://helm.sh/docs/intro/install/ — e.g. `brew install helm`, or the \
                 get-helm-3 script), or set MESHMON_HELM to the helm binary",
            )
        })
}

pub(crate) struct Release {
    conn: Arc<Conn>,
    /// The helm binary every run uses and what it adds to the environment;
    /// `None` finds the binary for each run ([`binary`]) and adds nothing.
    helm: Option<(PathBuf, Vec<(String, String)>)>,
}

impl Release {
    pub(crate) fn new(conn: Arc<Conn>) -> Self {
        Release { conn, helm: None }
    }
}

struct In {
    name: String,
    namespace: String,
    repository: Option<String>,
    chart: String,
    version: Option<String>,
    values: Option<Map>,
    create_namespace: bool,
    wait: bool,
    timeout: Duration,
}

fn typed(m: &Map) -> Result<In, ProviderError> {
    let r: ReleaseIn = attrs::typed(m)?;
    let timeout = humantime::parse_duration(&r.timeout).map_err(|e| {
        ProviderError::new(format!(
            "`timeout` = {:?} is not a duration: {e}",
            r.timeout
        ))
        .with_hint("write it like \"5m\" or \"90s\"")
    })?;
    Ok(In {
        name: r.name,
        namespace: r.namespace,
        repository: r.repository,
        chart: r.chart,
        version: r.version,
        values: r.values,
        create_namespace: r.create_namespace,
        wait: r.wait,
        timeout,
    })
}

/// The kubeconfig one helm run uses; the temporary file goes when this does.
struct Kubeconfig {
    args: Vec<String>,
    _file: Option<tempfile::NamedTempFile>,
}

fn kubeconfig(access: HelmAccess) -> Result<Kubeconfig, ProviderError> {
    let (server, ca_pem, token) = match access {
        HelmAccess::Kubeconfig { path, context } => {
            let mut args = vec!["--kubeconfig".to_string(), path.display().to_string()];
            if let Some(c) = context {
                args.extend(["--kube-context".to_string(), c]);
            }
            return Ok(Kubeconfig { args, _file: None });
        }
        HelmAccess::Generated {
            server,
            ca_pem,
            token,
        } => (server, ca_pem, token),
    };
    let mut cluster = json!({"server": server.trim_end_matches('/')});
    if let Some(pem) = ca_pem {
        cluster["certificate-authority-data"] = json!(STANDARD.encode(pem));
    }
    let user = match token {
        Some(t) => json!({"token": t}),
        None => json!({}),
    };
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "meshmon", "cluster": cluster}],
        "users": [{"name": "meshmon", "user": user}],
        "contexts": [{"name": "meshmon", "context": {"cluster": "meshmon", "user": "meshmon"}}],
        "current-context": "meshmon",
    });
    let io =
        |e: std::io::Error| ProviderError::new(format!("cannot write a kubeconfig for helm: {e}"));
    // NamedTempFile is created 0600; set it anyway so that nothing (a
    // permissive umask on some platform) can make the token readable.
    let file = tempfile::Builder::new()
        .prefix("meshmon-kubeconfig-")
        .suffix(".yaml")
        .tempfile()
        .map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    let text = serde_yaml_ng::to_string(&doc).map_err(|e| ProviderError::new(e.to_string()))?;
    std::fs::write(file.path(), text).map_err(io)?;
    Ok(Kubeconfig {
        args: vec!["--kubeconfig".into(), file.path().display().to_string()],
        _file: Some(file),
    })
}

/// One helm invocation's result: exit success, stdout, stderr.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Release {
    async fn helm(&self, ctx: &OpContext, args: Vec<String>) -> Result<Run, ProviderError> {
        let (bin, env) = match &self.helm {
            Some((bin, env)) => (bin.clone(), env.as_slice()),
            None => (binary()?, &[][..]),
        };
        // Each helm is a process of its own (tens of MB, a chart to render):
        // however many operations the engine runs at once, at most
        // HELM_AT_ONCE of them run helm.
        let _slot = HELM_SLOTS
            .acquire()
            .await
            .map_err(|_| ProviderError::new("helm's slots are closed: the process is stopping"))?;
        let kc = kubeconfig(self.conn.helm_access(ctx).await?)?;
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.args(&args)
            .args(&kc.args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .kill_on_drop(true);
        let out = cmd.output().await.map_err(|e| {
            ProviderError::new(format!("cannot run {}: {e}", bin.display()))
                .with_hint("check MESHMON_HELM or the helm on PATH")
        })?;
        drop(kc);
        Ok(Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }

    fn failed(op: &str, run: &Run) -> ProviderError {
        ProviderError::api(
            format!("helm {op}"),
            Some("helm failed".into()),
            run.stderr.clone(),
        )
        .with_hint("the message above is helm's own; `helm status` and `helm history` show more")
    }

    async fn install(&self, ctx: &OpContext, i: &In) -> Result<ReleaseOut, ProviderError> {
        let mut args = vec![
            "upgrade".into(),
            "--install".into(),
            i.name.clone(),
            i.chart.clone(),
        ];
        args.extend(["--namespace".into(), i.namespace.clone()]);
        if let Some(r) = &i.repository {
            args.extend(["--repo".into(), r.clone()]);
        }
        if let Some(v) = &i.version {
            args.extend(["--version".into(), v.clone()]);
        }
        if i.create_namespace {
            args.push("--create-namespace".into());
        }
        args.push("--reset-values".into());
        let values_file = match &i.values {
            Some(v) if !v.is_empty() => {
                let json = Json::from(Value::Map(v.clone()));
                let text = serde_yaml_ng::to_string(&json)
                    .map_err(|e| ProviderError::new(e.to_string()))?;
                let f = tempfile::Builder::new()
                    .prefix("meshmon-values-")
                    .suffix(".yaml")
                    .tempfile()
                    .map_err(|e| {
                        ProviderError::new(format!("cannot write the values file: {e}"))
                    })?;
                std::fs::write(f.path(), text).map_err(|e| {
                    ProviderError::new(format!("cannot write the values file: {e}"))
                })?;
                args.extend(["--values".into(), f.path().display().to_string()]);
                Some(f)
            }
            _ => None,
        };
        if i.wait {
            args.push("--wait".into());
        }
        args.extend(["--timeout".into(), format!("{}s", i.timeout.as_secs())]);
        ctx.progress(&format!("helm upgrade --install {} {}", i.name, i.chart));
        let run = self.helm(ctx, args).await?;
        drop(values_file);
        if !run.ok {
            return Err(Self::failed(&format!("upgrade --install {}", i.name), &run));
        }
        self.finish(ctx, i).await
    }

    /// The outputs of an installed release, as a create returns them.
    async fn finish(&self, ctx: &OpContext, i: &In) -> Result<ReleaseOut, ProviderError> {
        let (_, outputs) = self
            .metadata(ctx, &i.namespace, &i.name)
            .await?
            .ok_or_else(|| {
                ProviderError::new(format!("helm installed {} but cannot find it", i.name))
            })?;
        Ok(outputs)
    }

    /// `helm status`: the release's status (`deployed`, `pending-install`,
    /// `failed`…), or `None` when there is no such release.
    async fn status(
        &self,
        ctx: &OpContext,
        ns: &str,
        name: &str,
    ) -> Result<Option<String>, ProviderError> {
        let run = self
            .helm(
                ctx,
                args(&["status", name, "--namespace", ns, "-o", "json"]),
            )
            .await?;
        if !run.ok {
            return if not_found(&run) {
                Ok(None)
            } else {
                Err(Self::failed(&format!("status {name}"), &run))
            };
        }
        let status: Json = serde_json::from_str(&run.stdout).map_err(|e| {
            ProviderError::new(format!(
                "helm status {name} printed something not JSON: {e}"
            ))
        })?;
        Ok(Some(
            status["info"]["status"]
                .as_str()
                .unwrap_or("unknown")
                .to_string(),
        ))
    }

    /// `helm uninstall`, waiting as the release's `wait` says; a release
    /// that is gone already is no error.
    async fn uninstall(&self, ctx: &OpContext, i: &In) -> Result<(), ProviderError> {
        let mut a = args(&["uninstall", &i.name, "--namespace", &i.namespace]);
        if i.wait {
            a.push("--wait".into());
        }
        a.extend(["--timeout".into(), format!("{}s", i.timeout.as_secs())]);
        ctx.progress(&format!("helm uninstall {}", i.name));
        let run = self.helm(ctx, a).await?;
        if run.ok || not_found(&run) {
            Ok(())
        } else {
            Err(Self::failed(&format!("uninstall {}", i.name), &run))
        }
    }

    /// `get metadata`: the chart version and the outputs, or `None` when the
    /// release does not exist.
    async fn metadata(
        &self,
        ctx: &OpContext,
        ns: &str,
        name: &str,
    ) -> Result<Option<(Json, ReleaseOut)>, ProviderError> {
        let run = self
            .helm(
                ctx,
                args(&["get", "metadata", name, "--namespace", ns, "-o", "json"]),
            )
            .await?;
        if !run.ok {
            return if not_found(&run) {
                Ok(None)
            } else {
                Err(Self::failed(&format!("get metadata {name}"), &run))
            };
        }
        let meta: Json = serde_json::from_str(&run.stdout).map_err(|e| {
            ProviderError::new(format!(
                "helm get metadata {name} printed something not JSON: {e}"
            ))
        })?;
        // What helm leaves out stays out (a chart without an appVersion).
        let text = |key: &str| {
            meta[key]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let outputs = ReleaseOut {
            revision: meta["revision"].as_i64(),
            status: meta["status"].as_str().unwrap_or("unknown").into(),
            app_version: text("appVersion"),
            version: meta["version"].as_str().map(str::to_string),
        };
        Ok(Some((meta, outputs)))
    }

    async fn fetch(
        &self,
        ctx: &OpContext,
        ns: &str,
        name: &str,
        prior: &Map,
    ) -> Result<Option<Current>, ProviderError> {
        let Some((meta, mut outputs)) = self.metadata(ctx, ns, name).await? else {
            return Ok(None);
        };
        let run = self
            .helm(
                ctx,
                args(&["get", "values", name, "--namespace", ns, "-o", "json"]),
            )
            .await?;
        if !run.ok {
            return if not_found(&run) {
                Ok(None)
            } else {
                Err(Self::failed(&format!("get values {name}"), &run))
            };
        }
        let values: Json = serde_json::from_str(run.stdout.trim()).unwrap_or(Json::Null);
        let mut inputs = prior.clone();
        inputs.insert("name".into(), Value::from(name));
        inputs.insert("namespace".into(), Value::from(ns));
        match Value::from(values) {
            Value::Map(m) if !m.is_empty() => {
                inputs.insert("values".into(), Value::Map(m));
            }
            // No user-supplied values: what the spec means by leaving them out.
            _ if prior
                .get("values")
                .and_then(Value::as_map)
                .is_none_or(|m| m.is_empty()) => {}
            _ => {
                inputs.insert("values".into(), Value::Map(Map::new()));
            }
        }
        if let Some(v) = outputs.version.take() {
            inputs.insert("version".into(), Value::from(v));
        }
        // helm reports the chart's name; the spec may say `eks/NAME` or a URL.
        if let Some(live_chart) = meta["chart"].as_str().filter(|c| !c.is_empty()) {
            let spec_chart = prior.get("chart").and_then(Value::as_str);
            if spec_chart.and_then(|c| c.rsplit('/').next()) != Some(live_chart) {
                inputs.insert("chart".into(), Value::from(live_chart));
            }
        }
        Ok(Some(Current::new(inputs, outputs.into_map())))
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn not_found(run: &Run) -> bool {
    run.stderr.contains("not found")
}

/// A status another helm is still working on: `pending-install`,
/// `pending-upgrade`, `pending-rollback`, `uninstalling`.
fn settling(status: &str) -> bool {
    status.starts_with("pending-") || status == "uninstalling"
}

#[async_trait]
impl Resource for Release {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let outputs = self.install(ctx, &typed(inputs)?).await?;
        Ok(outputs.into_map())
    }

    /// Finds the release by name with `helm status` (see the module docs).
    /// A pending release is polled until it settles, for at most the
    /// operation's timeout less a quarter (at most a minute) left for an
    /// uninstall, else for the release's own `timeout` — after which the
    /// helm that was installing it would have given up on it.
    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let i = typed(inputs)?;
        let limit = match ctx.timeout {
            Some(t) => t.saturating_sub((t / 4).min(Duration::from_secs(60))),
            None => i.timeout,
        };
        let mut backoff = Backoff::within(limit);
        loop {
            let Some(status) = self.status(ctx, &i.namespace, &i.name).await? else {
                return Ok(None);
            };
            match status.as_str() {
                "deployed" => {
                    let outputs = self.finish(ctx, &i).await?;
                    return Ok(Some(outputs.into_map()));
                }
                s if settling(s) && !backoff.expired() => {
                    ctx.progress(&format!(
                        "waiting for release {} to settle: {s} ({}s)",
                        i.name,
                        backoff.elapsed().as_secs()
                    ));
                    backoff.pause().await;
                }
                s => {
                    ctx.progress(&format!(
                        "release {} is {s}{}: uninstalling it to install it again",
                        i.name,
                        if settling(s) { " and stuck" } else { "" }
                    ));
                    self.uninstall(ctx, &i).await?;
                    return Ok(None);
                }
            }
        }
    }

    async fn read(
        &self,
        ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        let i = typed(&prior.inputs)?;
        self.fetch(ctx, &i.namespace, &i.name, &prior.inputs).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let outputs = self.install(ctx, &typed(inputs)?).await?;
        Ok(outputs.into_map())
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        self.uninstall(ctx, &typed(&prior.inputs)?).await
    }

    async fn import(&self, ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        let (ns, name) = id.split_once('/').ok_or_else(|| {
            ProviderError::new(format!("{id:?} is not a helm release ID"))
                .with_hint("import releases as NAMESPACE/NAME")
        })?;
        let Some((meta, _)) = self.metadata(ctx, ns, name).await? else {
            return Ok(None);
        };
        // A chart helm does not name stays out: the spec's then shows as
        // a change.
        let prior = Attrs::new()
            .opt("chart", meta["chart"].as_str().filter(|c| !c.is_empty()))
            .set("create_namespace", false)
            .set("wait", true)
            .set("timeout", "5m")
            .build();
        self.fetch(ctx, ns, name, &prior).await
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        let mut advice = PlanAdvice::default();
        if let Some(p) = prior {
            advice.unknown_after_update =
                vec!["revision".into(), "status".into(), "app_version".into()];
            if desired.get("version").is_none_or(Value::is_null) {
                advice.unknown_after_update.push("version".into());
            }
            if let Some(s) = p
                .outputs
                .get("status")
                .and_then(Value::as_str)
                .filter(|s| *s != "deployed")
            {
                advice.notes.push(format!(
                    "the release is {s}: `meshmon apply --replace ADDRESS` reinstalls it"
                ));
            }
        }
        advice
    }
}

#[cfg(test)]
#[path = "helm_test.rs"]
mod tests;
