//! What the EKS authenticator (aws-iam-authenticator) checks in a
//! `k8s-aws-v1.` token, done offline: the token decodes to a presigned STS
//! `GetCallerIdentity` URL on the real regional STS host, valid for 60
//! seconds, signed no longer than 15 minutes ago, with `x-k8s-aws-id` among
//! the signed headers — and, since the test knows the secret key, the
//! signature is recomputed for the expected cluster name, which is what
//! STS would verify when the authenticator replays the URL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The presigned URL's parts a test wants to look at.
#[derive(Debug)]
pub struct DecodedToken {
    pub url: String,
    pub host: String,
    pub query: Vec<(String, String)>,
}

impl DecodedToken {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes a token without judging it.
pub fn decode(token: &str) -> Result<DecodedToken, String> {
    let body = token
        .strip_prefix("k8s-aws-v1.")
        .ok_or("the token does not start with k8s-aws-v1.")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|e| format!("not base64url without padding: {e}"))?;
    let url = String::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let rest = url.strip_prefix("https://").ok_or("not an https URL")?;
    let (host, query) = rest.split_once("/?").ok_or("no query string")?;
    let query = query
        .split('&')
        .map(|q| {
            let (k, v) = q.split_once('=').unwrap_or((q, ""));
            (crate::http::decode(k), crate::http::decode(v))
        })
        .collect();
    Ok(DecodedToken {
        url: url.clone(),
        host: host.to_string(),
        query,
    })
}

/// `20240102T030405Z` → time.
fn amz_date(s: &str) -> Option<SystemTime> {
    let n = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(4, 6)?, n(6, 8)?);
    let (hh, mm, ss) = (n(9, 11)?, n(11, 13)?, n(13, 15)?);
    // days_from_civil (Howard Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Checks `token` as the EKS authenticator would, for `cluster` in
/// `region`, signed with `access_key`/`secret_key`.
pub fn verify(
    token: &str,
    region: &str,
    cluster: &str,
    access_key: &str,
    secret_key: &str,
) -> Result<(), String> {
    let t = decode(token)?;
    let want_host = format!("sts.{region}.amazonaws.com");
    if t.host != want_host {
        return Err(format!("the URL's host is {}, not {want_host}", t.host));
    }
    for (k, v) in [
        ("Action", "GetCallerIdentity"),
        ("Version", "2011-06-15"),
        ("X-Amz-Expires", "60"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
    ] {
        if t.param(k) != Some(v) {
            return Err(format!("{k} is {:?}, not {v:?}", t.param(k)));
        }
    }
    let signed = t.param("X-Amz-SignedHeaders").unwrap_or_default();
    if !signed.split(';').any(|h| h == "x-k8s-aws-id") {
        return Err(format!("x-k8s-aws-id is not a signed header ({signed})"));
    }
    let date = t
        .param("X-Amz-Date")
        .and_then(amz_date)
        .ok_or("no valid X-Amz-Date")?;
    let age = SystemTime::now().duration_since(date).unwrap_or_default();
    if age > Duration::from_secs(15 * 60) {
        return Err(format!(
            "the token was signed {}s ago; EKS accepts 15 minutes",
            age.as_secs()
        ));
    }
    let creds = Credentials::new(access_key, secret_key, None, None, "eks-auth-check");
    let identity: Identity = creds.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(date)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let base = format!("https://{want_host}/?Action=GetCallerIdentity&Version=2011-06-15");
    let req = SignableRequest::new(
        "GET",
        base.as_str(),
        [("x-k8s-aws-id", cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| e.to_string())?;
    let (_, expected) = sign(req, &params).map_err(|e| e.to_string())?.into_parts();
    if t.param("X-Amz-Signature") != Some(expected.as_str()) {
        return Err(format!(
            "the signature does not verify for cluster {cluster:?} with the test credentials"
        ));
    }
    Ok(())
}
