//! The connection to one API server, made lazily. Configuring the provider
//! only checks the block: the cluster is described (eks:DescribeCluster) on
//! the first request, and before that first request meshmon waits, bounded
//! and with progress, until the API server answers `/version` — a new EKS
//! control plane refuses connections or answers 503 for a while after it
//! reports ACTIVE, and that is exactly when the same apply reaches it.
//!
//! EKS tokens expire after 15 minutes; the kube client is rebuilt with a
//! fresh token when it is older than [`eks_token::REFRESH_AFTER`], so long
//! rollouts and long applies keep working.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kube::discovery::{ApiCapabilities, ApiResource};
use meshmon_provider_sdk::wait::Backoff;
use meshmon_provider_sdk::{OpContext, ProviderError};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::sync::{Mutex, OnceCell};

use meshmon_aws_common::config::AssumeRole;

use crate::eks_token::EksTokens;
use crate::error;

/// Where the connection comes from, as configured.
#[derive(Clone, Debug)]
pub enum Source {
    /// An EKS cluster by name; `host` and `ca` override what EKS reports.
    Eks {
        cluster: String,
        region: Option<String>,
        profile: Option<String>,
        assume_role: Option<AssumeRole>,
        host: Option<String>,
        ca: Option<String>,
    },
    /// A kubeconfig file and (optionally) one of its contexts.
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
    /// Everything given explicitly.
    Explicit {
        host: String,
        ca: Option<String>,
        token: Option<String>,
    },
}

/// How requests authenticate once the source is resolved.
enum Auth {
    /// A fixed bearer token, or none (the kubeconfig's own user).
    Static(Option<String>),
    Eks(EksTokens),
}

/// The resolved endpoint: what the kube client and helm both need.
struct Target {
    config: kube::Config,
    auth: Auth,
    /// The CA bundle as PEM, for the kubeconfig helm gets.
    ca_pem: Option<String>,
}

/// What a helm run needs to reach the same API server.
pub enum HelmAccess {
    /// The user's kubeconfig, used as is.
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
    /// A private kubeconfig meshmon writes for the run.
    Generated {
        server: String,
        ca_pem: Option<String>,
        token: Option<String>,
    },
}

type Discovered = (ApiResource, ApiCapabilities);

pub struct Conn {
    source: Source,
    ready_timeout: Duration,
    target: OnceCell<Target>,
    client: Mutex<Option<(Instant, kube::Client)>>,
    ready: OnceCell<()>,
    discovery: Mutex<HashMap<String, Discovered>>,
}

impl Conn {
    pub fn new(source: Source, ready_timeout: Duration) -> Arc<Self> {
        Arc::new(Conn {
            source,
            ready_timeout,
            target: OnceCell::new(),
            client: Mutex::new(None),
            ready: OnceCell::new(),
            discovery: Mutex::new(HashMap::new()),
        })
    }

    /// A connection already made, over `client`: unit tests pass one whose
    /// requests they answer themselves.
    #[cfg(test)]
    pub fn over(client: kube::Client) -> Arc<Self> {
        let config = kube::Config::new(http::Uri::from_static("https://kubernetes.test"));
        Arc::new(Conn {
            source: Source::Explicit {
                host: config.cluster_url.to_string(),
                ca: None,
                token: None,
            },
            ready_timeout: Duration::ZERO,
            target: OnceCell::new_with(Some(Target {
                config,
                auth: Auth::Static(None),
                ca_pem: None,
            })),
            client: Mutex::new(Some((Instant::now(), client))),
            ready: OnceCell::new_with(Some(())),
            discovery: Mutex::new(HashMap::new()),
        })
    }

    /// A client for the next request: the server has answered at least once.
    pub async fn client(&self, ctx: &OpContext) -> Result<kube::Client, ProviderError> {
        let target = self.target.get_or_try_init(|| self.resolve()).await?;
        self.ready
            .get_or_try_init(|| self.wait_ready(target, ctx))
            .await?;
        self.fresh_client(target).await
    }

    /// How helm reaches the same server, with a token valid right now.
    pub async fn helm_access(&self, ctx: &OpContext) -> Result<HelmAccess, ProviderError> {
        self.client(ctx).await?;
        if let Source::Kubeconfig { path, context } = &self.source {
            return Ok(HelmAccess::Kubeconfig {
                path: path.clone(),
                context: context.clone(),
            });
        }
        let target = self.target.get().expect("resolved by client()");
        let token = match &target.auth {
            Auth::Static(t) => t.clone(),
            Auth::Eks(tokens) => Some(tokens.current().await?.1),
        };
        Ok(HelmAccess::Generated {
            server: target.config.cluster_url.to_string(),
            ca_pem: target.ca_pem.clone(),
            token,
        })
    }

    /// The cached discovery of a kind, keyed by `group/version/Kind`.
    pub async fn discovered(&self, key: &str) -> Option<Discovered> {
        self.discovery.lock().await.get(key).cloned()
    }

    pub async fn remember(&self, key: String, found: Discovered) {
        self.discovery.lock().await.insert(key, found);
    }

    pub async fn forget(&self, key: &str) {
        self.discovery.lock().await.remove(key);
    }

    async fn resolve(&self) -> Result<Target, ProviderError> {
        match &self.source {
            Source::Explicit { host, ca, token } => {
                let (config, ca_pem) = base_config(host, ca.as_deref())?;
                Ok(Target {
                    config,
                    auth: Auth::Static(token.clone()),
                    ca_pem,
                })
            }
            Source::Kubeconfig { path, context } => {
                let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                    ProviderError::new(format!("cannot read kubeconfig {}: {e}", path.display()))
                })?;
                let options = kube::config::KubeConfigOptions {
                    context: context.clone(),
                    ..Default::default()
                };
                let config = kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| {
                        ProviderError::new(format!("cannot use kubeconfig {}: {e}", path.display()))
                            .with_hint("check `context` names a context of that file")
                    })?;
                Ok(Target {
                    config,
                    auth: Auth::Static(None),
                    ca_pem: None,
                })
            }
            Source::Eks {
                cluster,
                region,
                profile,
                assume_role,
                host,
                ca,
            } => {
                let mut sdk =
                    meshmon_aws_common::sdk_config(region.as_deref(), profile.as_deref()).await;
                if let Some(role) = assume_role {
                    sdk = meshmon_aws_common::config::assuming(&sdk, role).await;
                }
                let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
                    ProviderError::new("no AWS region for the EKS cluster").with_hint(
                        "set `region` under [providers.kubernetes], or AWS_REGION, or a region in your AWS profile",
                    )
                })?;
                let credentials = sdk.credentials_provider().ok_or_else(|| {
                    ProviderError::new("no AWS credentials provider to sign the EKS token")
                })?;
                let (endpoint, authority) = describe_cluster(&sdk, cluster).await?;
                let host = host.clone().unwrap_or(endpoint);
                let ca = ca.clone().or(authority);
                let (config, ca_pem) = base_config(&host, ca.as_deref())?;
                Ok(Target {
                    config,
                    auth: Auth::Eks(EksTokens::new(credentials, region, cluster.clone())),
                    ca_pem,
                })
            }
        }
    }

    /// The current client, rebuilt when its token is about to expire.
    async fn fresh_client(&self, target: &Target) -> Result<kube::Client, ProviderError> {
        let mut slot = self.client.lock().await;
        let (made, token) = match &target.auth {
            Auth::Static(t) => (None, t.clone()),
            Auth::Eks(tokens) => {
                let (made, t) = tokens.current().await?;
                (Some(made), Some(t))
            }
        };
        if let Some((built, client)) = slot.as_ref()
            && made.is_none_or(|m| m <= *built)
        {
            return Ok(client.clone());
        }
        let mut config = target.config.clone();
        // kube's own retry layer waits out 503s silently, with backoff up to
        // minutes per try; meshmon retries itself (bounded, with progress).
        config.default_retry = false;
        if let Some(t) = token {
            let mut value = http::HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| ProviderError::new("the bearer token contains invalid characters"))?;
            value.set_sensitive(true);
            config.headers.push((http::header::AUTHORIZATION, value));
        }
        let client = kube::Client::try_from(config)
            .map_err(|e| ProviderError::new(format!("cannot build the Kubernetes client: {e}")))?;
        *slot = Some((Instant::now(), client.clone()));
        Ok(client)
    }

    async fn wait_ready(&self, target: &Target, ctx: &OpContext) -> Result<(), ProviderError> {
        let host = target.config.cluster_url.to_string();
        let mut backoff = Backoff::within(self.ready_timeout);
        loop {
            let client = self.fresh_client(target).await?;
            let why = match client.apiserver_version().await {
                Ok(_) => return Ok(()),
                // Forbidden still means a working server with working auth.
                Err(e) if error::status_code(&e) == Some(403) => return Ok(()),
                Err(e) if error::is_transient(&e) => match error::status_code(&e) {
                    Some(code) => format!("it answers {code}"),
                    None => "it does not accept connections yet".to_string(),
                },
                Err(e) => return Err(error::api(format!("GET {host}version"), e)),
            };
            if backoff.expired() {
                return Err(ProviderError::api(
                    format!("GET {host}version"),
                    None,
                    format!(
                        "the API server did not become ready within {}: {why}",
                        humantime::format_duration(self.ready_timeout)
                    ),
                )
                .with_hint(
                    "check the cluster in the EKS console; raise `ready_timeout` under \
                     [providers.kubernetes] if its control plane is just slow to start",
                ));
            }
            ctx.progress(&format!(
                "waiting for the Kubernetes API server at {host}: {why} ({}s)",
                backoff.elapsed().as_secs()
            ));
            backoff.pause().await;
        }
    }
}

/// A client configuration for `host` trusting `ca` (PEM, or base64 PEM).
fn base_config(
    host: &str,
    ca: Option<&str>,
) -> Result<(kube::Config, Option<String>), ProviderError> {
    let uri: http::Uri = host.parse().map_err(|e| {
        ProviderError::new(format!("`host` {host:?} is not a URL: {e}"))
            .with_hint("write it like \"https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com\"")
    })?;
    let mut config = kube::Config::new(uri);
    config.default_namespace = "default".into();
    let mut pem = None;
    if let Some(ca) = ca {
        let text = ca_pem(ca)?;
        let ders = CertificateDer::pem_slice_iter(text.as_bytes())
            .map(|c| c.map(|c| c.as_ref().to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ProviderError::new(format!("`cluster_ca_certificate` is not PEM: {e}")))?;
        if ders.is_empty() {
            return Err(ProviderError::new(
                "`cluster_ca_certificate` holds no certificate",
            ));
        }
        config.root_cert = Some(ders);
        pem = Some(text);
    }
    Ok((config, pem))
}

/// PEM as given, or decoded from the base64 EKS returns.
pub fn ca_pem(ca: &str) -> Result<String, ProviderError> {
    let trimmed = ca.trim();
    if trimmed.starts_with("-----BEGIN") {
        return Ok(trimmed.to_string() + "\n");
    }
    let compact: String = trimmed.split_whitespace().collect();
    let bytes = STANDARD.decode(compact).map_err(|_| {
        ProviderError::new("`cluster_ca_certificate` is neither PEM nor base64-encoded PEM")
    })?;
    String::from_utf8(bytes)
        .map_err(|_| ProviderError::new("`cluster_ca_certificate` decodes to something not PEM"))
}

/// The cluster's endpoint and CA, from eks:DescribeCluster.
async fn describe_cluster(
    sdk: &aws_config::SdkConfig,
    cluster: &str,
) -> Result<(String, Option<String>), ProviderError> {
    let eks = aws_sdk_eks::Client::new(sdk);
    let out = eks
        .describe_cluster()
        .name(cluster)
        .send()
        .await
        .map_err(|e| {
            let e = e.into_service_error();
            ProviderError::api(
                "eks:DescribeCluster",
                aws_sdk_eks::error::ProvideErrorMetadata::code(&e).map(str::to_string),
                aws_sdk_eks::error::ProvideErrorMetadata::message(&e)
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string()),
            )
            .with_hint(format!(
                "[providers.kubernetes] eks_cluster = {cluster:?}: check the cluster exists in this region"
            ))
        })?;
    let c = out
        .cluster
        .ok_or_else(|| ProviderError::new(format!("EKS cluster {cluster} was not returned")))?;
    let endpoint = c.endpoint().map(str::to_string).ok_or_else(|| {
        ProviderError::new(format!(
            "EKS cluster {cluster} has no endpoint yet (status {})",
            c.status().map(|s| s.as_str()).unwrap_or("unknown")
        ))
    })?;
    let ca = c
        .certificate_authority()
        .and_then(|a| a.data())
        .map(str::to_string);
    Ok((endpoint, ca))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_is_accepted_as_pem_or_as_base64_pem() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(ca_pem(pem).unwrap(), format!("{pem}\n"));
        let b64 = STANDARD.encode(pem);
        assert_eq!(ca_pem(&b64).unwrap(), pem);
        assert!(ca_pem("not a cert!").is_err());
    }
}
