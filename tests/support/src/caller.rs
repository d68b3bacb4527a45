//! Who sent a SigV4-signed request to a test double: the Region from the
//! request's credential scope (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`,
//! in the `Authorization` header or a presigned URL's `X-Amz-Credential`),
//! the account by asking moto's STS `GetCallerIdentity` with the same
//! access key. moto does not check signatures: it names the account (and
//! principal) of an assumed role's session by its access key, and its
//! default test credentials (`testing`) are `user/moto` in
//! [`ACCOUNT`](crate::moto::ACCOUNT). Answers are kept per access key.
//! A request without a credential scope, or one STS cannot be asked about,
//! is the default account's, in the default Region.
//!
//! [`Callers::secret_of`] also finds a session's secret key where moto
//! keeps it (its `/moto-api/data.json` state dump), so that a signature
//! made with credentials the test never saw (a role meshmon assumed) can be
//! recomputed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::http::{Request, forward};
use crate::moto::{ACCOUNT, REGION};

/// A SigV4 credential scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub access_key: String,
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    /// The signing name (`eks`, `aps`, `sts`).
    pub service: String,
}

/// Parses `KEY/DATE/REGION/SERVICE/aws4_request`.
pub fn parse_scope(credential: &str) -> Option<Scope> {
    let parts: Vec<&str> = credential.trim().split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, "aws4_request"]
            if !key.is_empty() && !region.is_empty() && !service.is_empty() =>
        {
            Some(Scope {
                access_key: key.to_string(),
                date: date.to_string(),
                region: region.to_string(),
                service: service.to_string(),
            })
        }
        _ => None,
    }
}

/// The credential scope `req` was signed with, from its `Authorization`
/// header or, presigned, its `X-Amz-Credential` query parameter.
pub fn scope_of(req: &Request) -> Option<Scope> {
    if let Some(auth) = req.header("authorization") {
        let start = auth.find("Credential=")? + "Credential=".len();
        return parse_scope(auth[start..].split([',', ' ']).next()?);
    }
    req.query
        .iter()
        .find(|(k, _)| k == "X-Amz-Credential")
        .and_then(|(_, v)| parse_scope(v))
}

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`), when
/// it has one.
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let account = parts.nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The Region of an ARN, when it has one (IAM's have none).
pub fn region_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let region = parts.nth(2)?;
    (!region.is_empty()).then_some(region)
}

/// Who sent a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub region: String,
    /// The access key the request was signed with.
    pub access_key: Option<String>,
    /// The caller's ARN as STS names it (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`,
    /// `arn:aws:sts::123456789012:user/moto`), when STS was asked.
    pub arn: Option<String>,
}

impl Caller {
    /// The default account, in the default Region.
    pub fn default_account() -> Caller {
        Caller {
            account: ACCOUNT.to_string(),
            region: REGION.to_string(),
            access_key: None,
            arn: None,
        }
    }
}

/// Tells callers apart by asking an STS (moto's, `sts`) about their access
/// keys; without one, everyone is the default account. Cloned, it shares
/// what it learnt.
#[derive(Clone, Debug, Default)]
pub struct Callers {
    sts: Option<String>,
    /// Access key → caller ARN, as STS answered.
    known: Arc<Mutex<HashMap<String, String>>>,
    /// Access key → secret key, as moto holds it.
    secrets: Arc<Mutex<HashMap<String, String>>>,
    /// Held while moto's state is dumped: one dump at a time.
    dumping: Arc<Mutex<()>>,
}

impl Callers {
    /// Asks the STS at `sts` (`http://127.0.0.1:PORT`, moto or the
    /// model-checking proxy in front of it); `None`: nobody to ask.
    pub fn new(sts: Option<&str>) -> Callers {
        Callers {
            sts: sts.map(str::to_string),
            ..Callers::default()
        }
    }

    /// Who signed `req`.
    pub fn of(&self, req: &Request) -> Caller {
        let Some(scope) = scope_of(req) else {
            return Caller::default_account();
        };
        let arn = self.arn_of_key(&scope.access_key, &scope.region);
        Caller {
            account: arn
                .as_deref()
                .and_then(account_of_arn)
                .unwrap_or(ACCOUNT)
                .to_string(),
            region: scope.region,
            access_key: Some(scope.access_key),
            arn,
        }
    }

    /// The account the access key belongs to (the default account when
    /// STS cannot say).
    pub fn account_of_key(&self, access_key: &str) -> String {
        self.arn_of_key(access_key, REGION)
            .as_deref()
            .and_then(account_of_arn)
            .unwrap_or(ACCOUNT)
            .to_string()
    }

    /// The caller ARN STS gives for `access_key`, asked once per key.
    pub fn arn_of_key(&self, access_key: &str, region: &str) -> Option<String> {
        let sts = self.sts.as_deref()?;
        if let Some(arn) = lock(&self.known).get(access_key) {
            return Some(arn.clone());
        }
        let arn = sts_caller(sts, access_key, region)?;
        lock(&self.known).insert(access_key.to_string(), arn.clone());
        Some(arn)
    }

    /// The secret key of `access_key` as moto holds it: an assumed role's
    /// session or an IAM user's key, found in moto's state dump
    /// (`GET /moto-api/data.json`); moto's default test credentials
    /// (`testing`) have the secret `testing`. The dump is small in a test's
    /// moto, but takes seconds once moto holds AWS's managed policies
    /// (`MOTO_IAM_LOAD_MANAGED_POLICIES`, for every account asked about).
    pub fn secret_of(&self, access_key: &str) -> Option<String> {
        if let Some(s) = lock(&self.secrets).get(access_key) {
            return Some(s.clone());
        }
        // One dump at a time; one made meanwhile may have the key. Every
        // key in it is kept, for the sessions asked about next.
        let _dumping = lock(&self.dumping);
        if let Some(s) = lock(&self.secrets).get(access_key) {
            return Some(s.clone());
        }
        // moto's dump can fail while it is serving other requests (its
        // state changes under the serialiser): ask again a few times.
        for attempt in 0..5 {
            let mut known = self.sts.as_deref().map(moto_secrets).unwrap_or_default();
            known
                .entry("testing".to_string())
                .or_insert_with(|| "testing".to_string());
            let mut secrets = lock(&self.secrets);
            secrets.extend(known);
            if let Some(s) = secrets.get(access_key) {
                return Some(s.clone());
            }
            drop(secrets);
            std::thread::sleep(std::time::Duration::from_millis(50 << attempt));
        }
        None
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asks the STS at `upstream` who `access_key` is (`GetCallerIdentity`,
/// signed in name only: moto does not verify signatures).
pub fn sts_caller(upstream: &str, access_key: &str, region: &str) -> Option<String> {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/{region}/sts/aws4_request, \
         SignedHeaders=content-type;host, Signature=0"
    );
    let probe = Request {
        method: "POST".into(),
        path: "/".into(),
        query: Vec::new(),
        body: b"Action=GetCallerIdentity&Version=2011-06-15".to_vec(),
        target: "/".into(),
        headers: vec![
            ("Authorization".to_string(), auth),
            (
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ),
        ],
    };
    let r = forward(upstream, &probe);
    let text = String::from_utf8_lossy(&r.body);
    let start = text.find("<Arn>")? + "<Arn>".len();
    let end = text[start..].find("</Arn>")? + start;
    (r.status == 200).then(|| text[start..end].to_string())
}

/// Every access key's secret in moto's state dump.
fn moto_secrets(upstream: &str) -> HashMap<String, String> {
    let probe = Request {
        method: "GET".into(),
        path: "/moto-api/data.json".into(),
        query: Vec::new(),
        body: Vec::new(),
        target: "/moto-api/data.json".into(),
        headers: Vec::new(),
    };
    let r = forward(upstream, &probe);
    let mut out = HashMap::new();
    if r.status != 200 {
        return out;
    }
    let data: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    fn walk(v: &Value, out: &mut HashMap<String, String>) {
        match v {
            Value::Object(m) => {
                if let (Some(k), Some(s)) = (
                    m.get("access_key_id").and_then(Value::as_str),
                    m.get("secret_access_key").and_then(Value::as_str),
                ) {
                    out.insert(k.to_string(), s.to_string());
                }
                m.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&data, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moto::{Moto, assuming};

    fn signed(key: &str, region: &str) -> Request {
        Request {
            method: "GET".into(),
            path: "/clusters".into(),
            query: Vec::new(),
            body: Vec::new(),
            target: "/clusters".into(),
            headers: vec![(
                "Authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={key}/20260101/{region}/eks/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=abc"
                ),
            )],
        }
    }

    #[test]
    fn the_scope_and_arns_are_read() {
        let s = scope_of(&signed("AKID", "us-east-2")).expect("a scope");
        assert_eq!(
            s,
            Scope {
                access_key: "AKID".into(),
                date: "20260101".into(),
                region: "us-east-2".into(),
                service: "eks".into(),
            }
        );
        let mut presigned = signed("x", "y");
        presigned.headers.clear();
        presigned.query.push((
            "X-Amz-Credential".into(),
            "ASIA1/20260101/eu-west-1/sts/aws4_request".into(),
        ));
        assert_eq!(scope_of(&presigned).unwrap().access_key, "ASIA1");
        presigned.query.clear();
        assert_eq!(scope_of(&presigned), None);
        assert_eq!(parse_scope("KEY/20260101/eks/aws4_request"), None);
        assert_eq!(
            account_of_arn("arn:aws:eks:eu-west-1:222222222222:cluster/a"),
            Some("222222222222")
        );
        assert_eq!(
            account_of_arn("arn:aws:iam::111111111111:role/x/y"),
            Some("111111111111")
        );
        assert_eq!(
            account_of_arn("arn:aws:eks::aws:cluster-access-policy/X"),
            None
        );
        assert_eq!(account_of_arn("not-an-arn"), None);
        assert_eq!(
            region_of_arn("arn:aws:aps:eu-west-1:1:workspace/ws"),
            Some("eu-west-1")
        );
        assert_eq!(region_of_arn("arn:aws:iam::111111111111:role/x"), None);
        // Nobody to ask: the default account, in the request's Region.
        let c = Callers::new(None).of(&signed("ASIAX", "us-east-2"));
        assert_eq!(
            (c.account.as_str(), c.region.as_str()),
            (ACCOUNT, "us-east-2")
        );
        assert_eq!(Callers::new(None).of(&presigned), Caller::default_account());
    }

    /// moto names an assumed role's session by its access key; unknown
    /// keys and the default test credentials are the default account.
    #[test]
    fn accounts_come_from_moto_by_access_key() {
        let moto = Moto::start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sdk = rt.block_on(moto.sdk_config());
        let other = rt.block_on(assuming(&sdk, "arn:aws:iam::222222222222:role/x"));
        let creds = rt.block_on(async {
            use aws_credential_types::provider::ProvideCredentials;
            other
                .credentials_provider()
                .unwrap()
                .provide_credentials()
                .await
                .unwrap()
        });
        let callers = Callers::new(Some(&moto.endpoint()));
        let c = callers.of(&signed(creds.access_key_id(), "eu-west-1"));
        assert_eq!(c.account, "222222222222");
        assert_eq!(
            c.arn.as_deref(),
            Some("arn:aws:sts::222222222222:assumed-role/x/meshmon-tests")
        );
        assert_eq!(callers.of(&signed("testing", "eu-west-1")).account, ACCOUNT);
        assert_eq!(callers.account_of_key("AKIANOBODYKNOWS00000"), ACCOUNT);
        // Kept: a clone knows it without asking.
        assert!(
            lock(&callers.clone().known).contains_key(creds.access_key_id()),
            "the answer is kept per access key"
        );
        assert_eq!(
            callers.secret_of(creds.access_key_id()).as_deref(),
            Some(creds.secret_access_key())
        );
        assert_eq!(callers.secret_of("testing").as_deref(), Some("testing"));
        assert_eq!(callers.secret_of("AKIANOBODYKNOWS00000"), None);
    }
}
