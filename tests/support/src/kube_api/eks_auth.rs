//! What the EKS authenticator (aws-iam-authenticator) checks in a
//! `k8s-aws-v1.` token, done offline: the token decodes to a presigned STS
//! `GetCallerIdentity` URL on the real regional STS host, valid for 60
//! seconds, signed no longer than 15 minutes ago, with `x-k8s-aws-id` among
//! the signed headers — and, since the test knows the secret key, the
//! signature is recomputed for the expected cluster name, which is what
//! STS would verify when the authenticator replays the URL.
//!
//! A token signed with credentials the test never saw (a session of a role
//! meshmon assumed) is checked by [`verify_claims`]: everything but the
//! signature, which alone binds the token to a cluster name; by
//! [`verify_account`], which also asks moto ([`Callers`]) which account the
//! token's access key belongs to; and by [`verify_session`], which then,
//! with the session's secret as moto holds it, recomputes the signature
//! after all.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningInstructions, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::caller::{Callers, parse_scope};

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
    let (t, date) = claims(token, region)?;
    if t.access_key() != Some(access_key) {
        return Err(format!(
            "the token is signed by access key {:?}, not {access_key:?}",
            t.access_key()
        ));
    }
    check_signature(&t, date, region, cluster, access_key, secret_key)
}

/// Checks what the EKS authenticator checks in `token` for `region`,
/// except the signature (the host, action, version, expiry, algorithm,
/// credential scope, the signed `x-k8s-aws-id` header and the age): a token
/// for any cluster name passes, since only the signature binds it to one.
pub fn verify_claims(token: &str, region: &str) -> Result<DecodedToken, String> {
    claims(token, region).map(|(t, _)| t)
}

/// [`verify_claims`], and the token's access key belongs to `account` as
/// `callers` (moto's STS) say.
pub fn verify_account(
    token: &str,
    region: &str,
    account: &str,
    callers: &Callers,
) -> Result<(), String> {
    let (t, _) = claims(token, region)?;
    key_of_account(&t, account, callers).map(|_| ())
}

fn key_of_account<'t>(
    t: &'t DecodedToken,
    account: &str,
    callers: &Callers,
) -> Result<&'t str, String> {
    let key = t.access_key().ok_or("no access key in X-Amz-Credential")?;
    let owner = callers.account_of_key(key);
    if owner != account {
        return Err(format!(
            "the token's access key {key} belongs to account {owner}, not {account}"
        ));
    }
    Ok(key)
}

/// [`verify_account`], and the token's signature verifies for `cluster`
/// with the key's secret as moto holds it.
pub fn verify_session(
    token: &str,
    region: &str,
    cluster: &str,
    account: &str,
    callers: &Callers,
) -> Result<(), String> {
    let (t, date) = claims(token, region)?;
    let key = key_of_account(&t, account, callers)?;
    let secret = callers
        .secret_of(key)
        .ok_or_else(|| format!("moto knows no secret for the token's access key {key}"))?;
    check_signature(&t, date, region, cluster, key, &secret)
}

impl DecodedToken {
    /// The access key of the token's credential scope.
    pub fn access_key(&self) -> Option<&str> {
        self.param("X-Amz-Credential")?.split('/').next()
    }
}

fn claims(token: &str, region: &str) -> Result<(DecodedToken, SystemTime), String> {
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
    let scope = t
        .param("X-Amz-Credential")
        .and_then(parse_scope)
        .ok_or("no valid X-Amz-Credential")?;
    if scope.region != region || scope.service != "sts" {
        return Err(format!(
            "the credential scope is {}/{}, not {region}/sts",
            scope.region, scope.service
        ));
    }
    Ok((t, date))
}

/// STS's GetCallerIdentity URL for `region`, as EKS tokens presign it.
fn sts_url(region: &str) -> String {
    format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15")
}

/// What presigning the GetCallerIdentity URL for `cluster` as `identity`
/// at `at` gives: the query parameters to add, and the signature.
fn presign(
    identity: &Identity,
    region: &str,
    cluster: &str,
    at: SystemTime,
) -> Result<(SigningInstructions, String), String> {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("sts")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let base = sts_url(region);
    let req = SignableRequest::new(
        "GET",
        base.as_str(),
        [("x-k8s-aws-id", cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| e.to_string())?;
    Ok(sign(req, &params).map_err(|e| e.to_string())?.into_parts())
}

/// Recomputes the presigned URL's signature for `cluster`.
fn check_signature(
    t: &DecodedToken,
    date: SystemTime,
    region: &str,
    cluster: &str,
    access_key: &str,
    secret_key: &str,
) -> Result<(), String> {
    // A session's token is signed along with the rest.
    let token = t.param("X-Amz-Security-Token").map(str::to_string);
    let creds = Credentials::new(access_key, secret_key, token, None, "eks-auth-check");
    let (_, expected) = presign(&creds.into(), region, cluster, date)?;
    if t.param("X-Amz-Signature") != Some(expected.as_str()) {
        return Err(format!(
            "the signature does not verify for cluster {cluster:?} with the credentials of {access_key}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moto::{Moto, REGION, assuming};
    use aws_credential_types::provider::ProvideCredentials;

    /// A token as meshmon's provider makes one (a presigned STS URL with
    /// the cluster name as a signed header).
    fn token(creds: &Credentials, region: &str, cluster: &str, at: SystemTime) -> String {
        let (instructions, _) = presign(&creds.clone().into(), region, cluster, at).unwrap();
        let mut url = sts_url(region);
        for (name, value) in instructions.params() {
            let encoded: String = value
                .bytes()
                .map(
                    |b| match b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        true => (b as char).to_string(),
                        false => format!("%{b:02X}"),
                    },
                )
                .collect();
            url.push_str(&format!("&{name}={encoded}"));
        }
        format!("k8s-aws-v1.{}", URL_SAFE_NO_PAD.encode(url))
    }

    #[test]
    fn claims_are_checked_without_the_secret() {
        let now = SystemTime::now();
        let secret = Credentials::new("ASIASESSION", "unknown", Some("tok".into()), None, "t");
        let t = token(&secret, REGION, "payments-eu", now);
        assert!(verify_claims(&t, REGION).is_ok());
        // Not the test credentials: the signature alone fails.
        let e = verify(&t, REGION, "payments-eu", "testing", "testing").unwrap_err();
        assert!(e.contains("ASIASESSION"), "{e}");
        let e = verify_claims(&t, "us-east-1").unwrap_err();
        assert!(e.contains("sts.us-east-1.amazonaws.com"), "{e}");
        let old = token(
            &secret,
            REGION,
            "payments-eu",
            now - Duration::from_secs(16 * 60),
        );
        assert!(
            verify_claims(&old, REGION)
                .unwrap_err()
                .contains("15 minutes")
        );
        assert!(verify_claims("Bearer x", REGION).is_err());
        // The test credentials still verify in full, for their cluster only.
        let testing = Credentials::new("testing", "testing", None, None, "t");
        let t = token(&testing, REGION, "payments-eu", now);
        verify(&t, REGION, "payments-eu", "testing", "testing").unwrap();
        let e = verify(&t, REGION, "search-eu", "testing", "testing").unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
    }

    /// A session of a role assumed in 222222222222 (its secret known only
    /// to moto and the client): the account is asked of moto's STS, and
    /// the signature is recomputed with moto's copy of the secret; the
    /// API server takes the token for its own cluster only. Needs moto.
    #[test]
    fn a_session_token_is_checked_for_its_account_and_cluster() {
        let moto = Moto::start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sdk = rt.block_on(moto.sdk_config());
        let session = rt.block_on(async {
            assuming(&sdk, "arn:aws:iam::222222222222:role/meshmon")
                .await
                .credentials_provider()
                .unwrap()
                .provide_credentials()
                .await
                .unwrap()
        });
        assert!(session.session_token().is_some());
        let callers = Callers::new(Some(&moto.endpoint()));
        let t = token(&session, REGION, "checkout-eu", SystemTime::now());
        verify_session(&t, REGION, "checkout-eu", "222222222222", &callers).unwrap();
        let e = verify_session(&t, REGION, "checkout-eu", "111111111111", &callers).unwrap_err();
        assert!(e.contains("belongs to account 222222222222"), "{e}");
        let e = verify_session(&t, REGION, "payments-eu", "222222222222", &callers).unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        let forged = Credentials::new(
            session.access_key_id(),
            "not-the-secret",
            session.session_token().map(str::to_string),
            None,
            "t",
        );
        let f = token(&forged, REGION, "checkout-eu", SystemTime::now());
        let e = verify_session(&f, REGION, "checkout-eu", "222222222222", &callers).unwrap_err();
        assert!(e.contains("does not verify"), "{e}");

        use crate::kube_api::{Auth, KubeApi, Options};
        let status = |auth: Auth, token: &str| {
            let api = KubeApi::start(auth, Options::default());
            crate::kube_api::tls::request(api.addr, api.ca_pem(), "GET", "/api", token, "")
                .map(|(s, _, _)| s)
                .expect("an answer")
        };
        let session_of = |account: &str| Auth::EksSession {
            region: REGION.into(),
            cluster: "checkout-eu".into(),
            account: account.into(),
            callers: callers.clone(),
        };
        assert_eq!(status(session_of("222222222222"), &t), 200);
        assert_eq!(status(session_of("111111111111"), &t), 401);
        let any = Auth::EksAnySession {
            region: REGION.into(),
            cluster: "checkout-eu".into(),
        };
        assert_eq!(status(any.clone(), &t), 200);
        let of = |account: &str| Auth::EksSessionOf {
            region: REGION.into(),
            cluster: "checkout-eu".into(),
            account: account.into(),
            callers: callers.clone(),
        };
        assert_eq!(status(of("222222222222"), &t), 200);
        assert_eq!(status(of("111111111111"), &t), 401);
        // Only the signature binds a token to its cluster's name.
        let elsewhere = token(&session, REGION, "payments-eu", SystemTime::now());
        assert_eq!(status(of("222222222222"), &elsewhere), 200);
        assert_eq!(status(session_of("222222222222"), &elsewhere), 401);
        assert_eq!(status(session_of("222222222222"), &f), 401);
        assert_eq!(status(any, "k8s-aws-v1.bm90LWEtdXJs"), 401);
        let eks = Auth::Eks {
            region: REGION.into(),
            cluster: "checkout-eu".into(),
        };
        assert_eq!(status(eks, &t), 401, "the test credentials did not sign it");
    }
}
