//! The EKS bearer token, built the way aws-iam-authenticator builds it:
//! `k8s-aws-v1.` + base64url (no padding) of a presigned STS
//! `GetCallerIdentity` URL whose signature covers the header
//! `x-k8s-aws-id: <cluster name>`. The API server's authenticator replays
//! the URL against STS with that header, so the token proves who we are and
//! which cluster it is for. No `aws` CLI and no exec plugin are involved.
//!
//! The URL's host is always the real regional STS host: the authenticator
//! runs in AWS and replays the URL itself, so a local STS endpoint
//! (`AWS_ENDPOINT_URL_STS`) must never leak into it.

use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meshmon_provider_sdk::ProviderError;
use tokio::sync::Mutex;

/// What every EKS token starts with.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";

/// How long the presigned URL is valid for STS (`X-Amz-Expires`). EKS
/// accepts the token for 15 minutes after `X-Amz-Date` regardless.
pub const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);

/// Tokens are good for 15 minutes; regenerating after 10 leaves a margin
/// for a request that is slow to reach the API server.
pub const REFRESH_AFTER: Duration = Duration::from_secs(10 * 60);

/// The header the authenticator expects to be signed, naming the cluster.
pub const CLUSTER_HEADER: &str = "x-k8s-aws-id";

/// The presigned STS URL for `cluster`, signed at `now`.
pub fn presigned_url(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<String, ProviderError> {
    let base =
        format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| ProviderError::new(format!("cannot sign the EKS token: {e}")))?
        .into();
    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        [(CLUSTER_HEADER, cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| ProviderError::new(format!("cannot sign the EKS token: {e}")))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| ProviderError::new(format!("cannot sign the EKS token: {e}")))?
        .into_parts();
    let mut url = base;
    for (name, value) in instructions.params() {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.push_str(&uri_encode(value));
    }
    Ok(url)
}

/// The token for `cluster`, signed at `now`.
pub fn token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<String, ProviderError> {
    let url = presigned_url(credentials, region, cluster, now)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(url)))
}

/// SigV4's URI encoding: everything but unreserved characters, as `%XX`.
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Hands out a token for one cluster, regenerating it (with fresh
/// credentials from the chain, which may have rotated) once it is older
/// than [`REFRESH_AFTER`].
pub struct EksTokens {
    credentials: SharedCredentialsProvider,
    region: String,
    cluster: String,
    cached: Mutex<Option<(Instant, String)>>,
}

impl EksTokens {
    pub fn new(credentials: SharedCredentialsProvider, region: String, cluster: String) -> Self {
        EksTokens {
            credentials,
            region,
            cluster,
            cached: Mutex::new(None),
        }
    }

    /// The current token and when it was made.
    pub async fn current(&self) -> Result<(Instant, String), ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((made, t)) = cached.as_ref()
            && made.elapsed() < REFRESH_AFTER
        {
            return Ok((*made, t.clone()));
        }
        let creds = self.credentials.provide_credentials().await.map_err(|e| {
            ProviderError::new(format!("no AWS credentials to sign the EKS token: {e}")).with_hint(
                "the Kubernetes provider signs its EKS token with the standard AWS credential chain: \
                 set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or `profile` under [providers.kubernetes]",
            )
        })?;
        let t = token(&creds, &self.region, &self.cluster, SystemTime::now())?;
        let made = Instant::now();
        *cached = Some((made, t.clone()));
        Ok((made, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_base64url_of_a_presigned_sts_url_without_padding() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let t = token(&creds, "eu-west-1", "prod", SystemTime::UNIX_EPOCH).unwrap();
        let body = t.strip_prefix(TOKEN_PREFIX).expect("prefix");
        assert!(!body.contains('='), "no padding: {body}");
        let url = String::from_utf8(URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        assert!(url.starts_with(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ));
        assert!(
            url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=60"), "{url}");
        assert!(
            url.contains(
                "X-Amz-Credential=AKIDEXAMPLE%2F19700101%2Feu-west-1%2Fsts%2Faws4_request"
            ),
            "{url}"
        );
    }

    #[test]
    fn the_signature_covers_the_cluster_name() {
        let creds = Credentials::new("AKID", "secret", None, None, "test");
        let a = token(&creds, "eu-west-1", "a", SystemTime::UNIX_EPOCH).unwrap();
        let b = token(&creds, "eu-west-1", "b", SystemTime::UNIX_EPOCH).unwrap();
        assert_ne!(a, b);
    }
}
