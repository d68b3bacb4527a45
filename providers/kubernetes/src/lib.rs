//! The `kubernetes` provider: namespaces, service accounts, arbitrary
//! manifests (server-side apply) and Helm releases, on a cluster reached
//! through kube-rs; and the `k8s_namespace` look-up, for a namespace made
//! elsewhere.
//!
//! The connection comes from `[providers.kubernetes]`: an EKS cluster by
//! name (endpoint and CA from eks:DescribeCluster, a presigned-STS bearer
//! token refreshed before it expires), a kubeconfig context, or an explicit
//! host, CA and token. The engine configures this provider as soon as every
//! value in that block is known — in the middle of an apply, right after the
//! cluster was created — and [`conn`] waits for the new API server to answer
//! before the first request. Configuring makes no request at all.

mod conn;
pub mod eks_token;
mod error;
mod helm;
mod lint;
mod lookups;
mod manifest;
mod objects;
#[cfg(test)]
mod testing;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use meshmon_aws_common::config::{AssumeRole, assume_role_keys};
use meshmon_provider_sdk::attrs::typed;
use meshmon_provider_sdk::{
    Configured, Current, Declaration, Lookup, Map, OpContext, PlanAdvice, Provider, ProviderError,
    Resource, Schema, TypeEntry, Types, Value, async_trait, declare,
};

pub use conn::ca_pem;
pub use manifest::{Ident, rollout_status};

/// The provider as registered with the engine.
pub struct Kubernetes;

/// How long to wait for a new API server by default.
const READY_TIMEOUT: &str = "10m";

#[async_trait]
impl Provider for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn config_schema(&self) -> Schema {
        KubernetesBlock::schema()
    }

    fn resource_schemas(&self) -> Vec<Schema> {
        types().schemas()
    }

    fn lookup_schemas(&self) -> Vec<Schema> {
        types().lookup_schemas()
    }

    fn preflight(&self, type_name: &str) -> Result<(), ProviderError> {
        if type_name == "helm_release" {
            helm::binary()?;
        }
        Ok(())
    }

    async fn configure(&self, config: &Map) -> Result<Arc<dyn Configured>, ProviderError> {
        let (source, ready_timeout) = source(config)?;
        Ok(Arc::new(KubernetesConfigured {
            conn: conn::Conn::new(source, ready_timeout),
        }))
    }

    fn warning_codes(&self) -> &'static [meshmon_provider_sdk::WarningCode] {
        lint::CODES
    }

    fn lint(
        &self,
        resource: &meshmon_provider_sdk::Written<'_>,
        today: &str,
        facts: &meshmon_provider_sdk::Facts,
    ) -> Vec<meshmon_provider_sdk::Finding> {
        lint::lint(resource, today, facts)
    }
}

declare! {
    /// The `[providers.kubernetes]` block. An empty string is "not set", so
    /// a spec can pass an optional override through a variable whose
    /// default is "".
    pub struct KubernetesBlock for "kubernetes" (
        "A Kubernetes cluster: an EKS cluster by name, a kubeconfig context, or host + CA + token."
    ) {
        eks_cluster: Option<String> = optional(AttrType::String).describe(
            "EKS cluster name, usually \"${aws_eks_cluster.main.name}\": endpoint, CA and token come from AWS.",
        );
        region: Option<String> = optional(AttrType::String)
            .describe("Region of the EKS cluster; else the AWS chain's.");
        profile: Option<String> = optional(AttrType::String)
            .describe("AWS profile that signs the EKS token.");
        assume_role: Option<AssumeRole> = optional(AttrType::map_of(AttrType::String))
            .check(assume_role_keys)
            .describe(
                "With eks_cluster: a role to sign the EKS token as, and to describe the cluster with \
                 (the cluster's account, for a fleet): { role_arn, external_id, session_name }, as under [providers.aws].",
            );
        kubeconfig: Option<String> = optional(AttrType::String)
            .describe("Path of a kubeconfig file.");
        context: Option<String> = optional(AttrType::String)
            .describe("Context of the kubeconfig; its current context if left out.");
        host: Option<String> = optional(AttrType::String).describe(
            "API server URL. With eks_cluster it overrides the endpoint EKS reports (a proxy, a private endpoint).",
        );
        cluster_ca_certificate: Option<String> = optional(AttrType::String).describe(
            "The API server's CA: PEM, or base64 PEM as EKS returns it. With eks_cluster it overrides EKS's.",
        );
        token: Option<String> = optional(AttrType::String)
            .sensitive()
            .describe("Bearer token, with `host`.");
        ready_timeout: Option<String> = optional(AttrType::String)
            .default(READY_TIMEOUT)
            .check(a_duration)
            .describe("How long to wait for the API server to answer before the first request.");
    }
    checks {
        one_cluster: ["eks_cluster", "kubeconfig"];
    }
}

/// The check of a duration attribute (`ready_timeout`, a release's
/// `timeout`) in `validate` and `plan`; "" is not set.
pub(crate) fn a_duration(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !s.is_empty() && humantime::parse_duration(s).is_err() => {
            Err("is not a duration: write it like \"10m\" or \"90s\"".into())
        }
        _ => Ok(()),
    }
}

/// The cluster comes from an EKS cluster or a kubeconfig, not both.
fn one_cluster(block: &Map) -> Result<(), (&'static str, String)> {
    let set = |k: &str| {
        block
            .get(k)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    if set("eks_cluster") && set("kubeconfig") {
        return Err((
            "kubeconfig",
            "is set together with `eks_cluster`: the cluster comes from one of them".into(),
        ));
    }
    Ok(())
}

/// Reads `[providers.kubernetes]` into a connection source.
fn source(config: &Map) -> Result<(conn::Source, Duration), ProviderError> {
    let block: KubernetesBlock = typed(config)?;
    let set = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let timeout_text = set(&block.ready_timeout).unwrap_or_else(|| READY_TIMEOUT.into());
    let ready_timeout = humantime::parse_duration(&timeout_text).map_err(|e| {
        ProviderError::new(format!(
            "`ready_timeout` = {timeout_text:?} is not a duration: {e}"
        ))
        .with_hint("write it like \"10m\" or \"90s\"")
    })?;
    let source = if let Some(cluster) = set(&block.eks_cluster) {
        if set(&block.kubeconfig).is_some() {
            return Err(ProviderError::new(
                "set either `eks_cluster` or `kubeconfig` under [providers.kubernetes], not both",
            ));
        }
        conn::Source::Eks {
            cluster,
            region: set(&block.region),
            profile: set(&block.profile),
            assume_role: block.assume_role.clone(),
            host: set(&block.host),
            ca: set(&block.cluster_ca_certificate),
        }
    } else if let Some(path) = set(&block.kubeconfig) {
        conn::Source::Kubeconfig {
            path: PathBuf::from(path),
            context: set(&block.context),
        }
    } else if let Some(host) = set(&block.host) {
        conn::Source::Explicit {
            host,
            ca: set(&block.cluster_ca_certificate),
            token: set(&block.token),
        }
    } else {
        return Err(ProviderError::new("[providers.kubernetes] says nothing about which cluster to use").with_hint(
            "set `eks_cluster = \"${aws_eks_cluster.main.name}\"`, or `kubeconfig` (+ `context`), or \
             `host` + `cluster_ca_certificate` + `token`",
        ));
    };
    Ok((source, ready_timeout))
}

/// Every resource type and look-up of the provider, once: their schemas
/// and their operations all come from this list.
fn types() -> Types<conn::Conn> {
    Types(vec![
        TypeEntry::declared::<objects::NamespaceObject>(),
        TypeEntry::declared::<objects::ServiceAccountObject>(),
        // A manifest and a release have no output that names them (the
        // manifest's is a list of objects), which a declared type's ID must
        // be: they implement `Resource` themselves, from declared inputs.
        TypeEntry::custom::<manifest::ManifestIn, manifest::ManifestOut>(|c| {
            Arc::new(manifest::Manifest(c.clone()))
        }),
        TypeEntry::custom::<helm::ReleaseIn, helm::ReleaseOut>(|c| {
            Arc::new(helm::Release::new(c.clone()))
        }),
        TypeEntry::lookup::<lookups::NamespaceLookup>(),
    ])
}

struct KubernetesConfigured {
    conn: Arc<conn::Conn>,
}

impl Configured for KubernetesConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        let inner = types().resource(type_name, &self.conn)?;
        Some(Arc::new(InCluster(inner)))
    }

    /// Not wrapped in [`InCluster`]: for a look-up, a cluster that is gone
    /// stays an error (EKS's, naming the cluster), never "nothing there".
    fn lookup(&self, type_name: &str) -> Option<Arc<dyn Lookup>> {
        types().lookup(type_name, &self.conn)
    }
}

/// A resource type inside an EKS cluster. When EKS says the cluster itself
/// does not exist, nothing in it can: a read finds nothing, a delete has
/// nothing left to do, and there is nothing to recover. (An apply stopped
/// while it deleted a cluster leaves exactly this: objects still recorded
/// whose cluster is gone.) Any other failure to reach the cluster stays an
/// error, never taken for "deleted".
struct InCluster(Arc<dyn Resource>);

/// Whether `e` says that the EKS cluster the objects live in is gone.
fn cluster_gone(e: &ProviderError) -> bool {
    e.operation.as_deref() == Some("eks:DescribeCluster")
        && e.code.as_deref() == Some("ResourceNotFoundException")
}

#[async_trait]
impl Resource for InCluster {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        self.0.create(ctx, inputs).await
    }

    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        match self.0.recover(ctx, inputs).await {
            Err(e) if cluster_gone(&e) => Ok(None),
            other => other,
        }
    }

    async fn read(
        &self,
        ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        match self.0.read(ctx, prior).await {
            Err(e) if cluster_gone(&e) => Ok(None),
            other => other,
        }
    }

    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        self.0.update(ctx, prior, inputs).await
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        match self.0.delete(ctx, prior).await {
            Err(e) if cluster_gone(&e) => Ok(()),
            other => other,
        }
    }

    async fn import(&self, ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        self.0.import(ctx, id).await
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        self.0.advise(prior, desired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails every operation with the given error.
    struct Failing(&'static str, &'static str);

    #[async_trait]
    impl Resource for Failing {
        async fn create(&self, _: &OpContext, _: &Map) -> Result<Map, ProviderError> {
            Err(self.error())
        }
        async fn recover(&self, _: &OpContext, _: &Map) -> Result<Option<Map>, ProviderError> {
            Err(self.error())
        }
        async fn read(&self, _: &OpContext, _: &Current) -> Result<Option<Current>, ProviderError> {
            Err(self.error())
        }
        async fn update(&self, _: &OpContext, _: &Current, _: &Map) -> Result<Map, ProviderError> {
            Err(self.error())
        }
        async fn delete(&self, _: &OpContext, _: &Current) -> Result<(), ProviderError> {
            Err(self.error())
        }
        async fn import(&self, _: &OpContext, _: &str) -> Result<Option<Current>, ProviderError> {
            Err(self.error())
        }
    }

    impl Failing {
        fn error(&self) -> ProviderError {
            ProviderError::api(self.0, Some(self.1.to_string()), "no")
        }
    }

    #[tokio::test]
    async fn objects_of_a_cluster_that_is_gone_are_gone_and_other_failures_stay_errors() {
        let ctx = OpContext::quiet("k8s_namespace.prod");
        let prior = Current::new(Map::new(), Map::new());
        let gone = InCluster(Arc::new(Failing(
            "eks:DescribeCluster",
            "ResourceNotFoundException",
        )));
        assert!(gone.read(&ctx, &prior).await.unwrap().is_none());
        gone.delete(&ctx, &prior).await.unwrap();
        assert!(gone.recover(&ctx, &Map::new()).await.unwrap().is_none());
        assert!(gone.create(&ctx, &Map::new()).await.is_err());
        for (op, code) in [
            ("eks:DescribeCluster", "AccessDeniedException"),
            ("GET v1 Namespace prod", "ResourceNotFoundException"),
        ] {
            let unreachable = InCluster(Arc::new(Failing(op, code)));
            assert!(unreachable.read(&ctx, &prior).await.is_err(), "{op} {code}");
            assert!(
                unreachable.delete(&ctx, &prior).await.is_err(),
                "{op} {code}"
            );
        }
    }

    #[test]
    fn every_schema_has_a_resource_and_names_are_force_new() {
        types().check().unwrap();
        meshmon_provider_sdk::declared::check_block::<KubernetesBlock>().unwrap();
        let configured = KubernetesConfigured {
            conn: conn::Conn::new(
                conn::Source::Explicit {
                    host: "https://127.0.0.1:1".into(),
                    ca: None,
                    token: None,
                },
                Duration::from_secs(1),
            ),
        };
        for s in Kubernetes.resource_schemas() {
            assert!(
                configured.resource(s.type_name).is_some(),
                "{}",
                s.type_name
            );
            if let Some(name) = s.get("name") {
                assert!(name.force_new, "{}.name", s.type_name);
            }
        }
        let lookups = Kubernetes.lookup_schemas();
        assert_eq!(
            lookups.iter().map(|s| s.type_name).collect::<Vec<_>>(),
            ["k8s_namespace"]
        );
        for s in lookups {
            assert!(configured.lookup(s.type_name).is_some(), "{}", s.type_name);
        }
    }

    #[test]
    fn a_block_without_a_cluster_is_a_clear_error() {
        let e = source(&Map::new()).unwrap_err();
        assert!(e.hint.unwrap().contains("eks_cluster"));
        let both = Map::from([
            ("eks_cluster".to_string(), Value::from("a")),
            ("kubeconfig".to_string(), Value::from("b")),
        ]);
        assert!(source(&both).is_err());
        let (attribute, why) = KubernetesBlock::schema().check_inputs(&both).unwrap_err();
        assert_eq!(attribute, "kubeconfig");
        assert!(why.contains("together with `eks_cluster`"), "{why}");
        let schema = KubernetesBlock::schema();
        let timeout = schema.get("ready_timeout").unwrap();
        assert!(timeout.validate(&Value::from("soon")).is_err());
        assert!(timeout.validate(&Value::from("90s")).is_ok());
    }
}
