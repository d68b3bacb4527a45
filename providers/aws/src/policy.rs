//! IAM policy documents. A user writes one as a TOML table or a JSON string;
//! AWS gets compact JSON; IAM hands it back URL-encoded and reformatted.
//! Reading decodes it and returns it in the shape the user wrote, so the
//! engine's semantic comparison sees no change when there is none.
//! Also builds the IRSA trust policy from `irsa = { … }`.

use meshmon_provider_sdk::{Map, ProviderError, Value};

/// How long IAM may take to know a principal made moments ago (a role of
/// this account or of another): until then a policy naming it is refused
/// with MalformedPolicyDocument "Invalid principal in policy". IAM is
/// eventually consistent ("Changes that I make are not always immediately
/// visible", IAM user guide, troubleshooting); terraform-provider-aws waits
/// two minutes for the same error.
pub const PRINCIPAL_SETTLE: std::time::Duration = std::time::Duration::from_secs(120);

/// Whether IAM refused a policy for naming a principal it does not know
/// (yet).
pub fn is_unknown_principal(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("MalformedPolicyDocument") && e.message.contains("Invalid principal")
}

/// Sets `role`'s trust policy to `doc` (compact JSON), waiting while IAM
/// does not know a principal it names yet.
pub async fn put_trust(
    ctx: &meshmon_provider_sdk::OpContext,
    iam: &aws_sdk_iam::Client,
    role: &str,
    doc: &str,
) -> Result<(), ProviderError> {
    crate::wait::retry_transient(ctx, PRINCIPAL_SETTLE, is_unknown_principal, || async {
        iam.update_assume_role_policy()
            .role_name(role)
            .policy_document(doc)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| meshmon_aws_common::error::api("iam:UpdateAssumeRolePolicy", e))
    })
    .await
}

/// The document as compact JSON, ready to send to AWS.
pub fn to_aws(v: &Value) -> Result<String, ProviderError> {
    let json: serde_json::Value = match v {
        Value::String(s) => serde_json::from_str(s).map_err(|e| {
            ProviderError::new(format!("the policy document is not valid JSON: {e}"))
                .with_hint("write it as a TOML table, or as a JSON string")
        })?,
        Value::Map(_) | Value::List(_) => serde_json::Value::from(v.clone()),
        other => {
            return Err(ProviderError::new(format!(
                "a policy document must be a table or a JSON string, not a {}",
                other.type_name()
            )));
        }
    };
    Ok(json.to_string())
}

/// Whether two documents (either shape) say the same thing.
pub fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    let parse = |v: Option<&Value>| {
        v.and_then(|v| to_aws(v).ok())
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
    };
    parse(a) == parse(b)
}

/// Decodes what IAM returns (URL-encoded JSON, or plain JSON from some
/// APIs and emulators) into a JSON value.
pub fn from_aws(s: &str) -> Result<serde_json::Value, ProviderError> {
    let trimmed = s.trim_start();
    let text = if trimmed.starts_with('{') {
        s.to_string()
    } else {
        percent_decode(s)
    };
    serde_json::from_str(&text).map_err(|e| {
        ProviderError::new(format!(
            "AWS returned a policy document that is not JSON: {e}"
        ))
    })
}

/// A document read from AWS, shaped like `prior` (the user's table stays a
/// table, a JSON string stays a string).
pub fn like(prior: Option<&Value>, doc: serde_json::Value) -> Value {
    match prior {
        Some(Value::Map(_)) | Some(Value::List(_)) => Value::from(doc),
        _ => Value::String(serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())),
    }
}

/// Decodes `%XX` escapes (IAM uses RFC 3986 encoding; `+` is literal).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The OIDC issuer as IAM condition keys want it: no scheme, no trailing slash.
pub fn issuer_host(issuer: &str) -> &str {
    issuer.trim_start_matches("https://").trim_end_matches('/')
}

/// The trust policy that lets one Kubernetes service account assume a role
/// through the cluster's OIDC provider (IRSA). Both conditions matter: `:sub`
/// pins the service account, `:aud` pins the audience STS tokens carry.
/// `irsa` holds `oidc_provider_arn`, `namespace`, `service_account` and
/// optionally `oidc_issuer` (else derived from the provider's ARN).
pub fn irsa_trust_policy(irsa: &Map) -> Result<serde_json::Value, ProviderError> {
    let get = |k: &str| irsa.get(k).and_then(Value::as_str);
    let missing = |k: &str| {
        ProviderError::new(format!("`irsa.{k}` is required")).with_hint(
            "irsa = { oidc_provider_arn = \"…\", namespace = \"…\", service_account = \"…\" }",
        )
    };
    for k in irsa.keys() {
        if ![
            "oidc_provider_arn",
            "oidc_issuer",
            "namespace",
            "service_account",
        ]
        .contains(&k.as_str())
        {
            return Err(
                ProviderError::new(format!("`irsa.{k}` is not a known key")).with_hint(
                    "irsa takes oidc_provider_arn, oidc_issuer, namespace and service_account",
                ),
            );
        }
    }
    let arn = get("oidc_provider_arn").ok_or_else(|| missing("oidc_provider_arn"))?;
    let namespace = get("namespace").ok_or_else(|| missing("namespace"))?;
    let sa = get("service_account").ok_or_else(|| missing("service_account"))?;
    let issuer = match get("oidc_issuer") {
        Some(i) => issuer_host(i).to_string(),
        None => arn
            .split_once(":oidc-provider/")
            .map(|(_, host)| host.to_string())
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "`irsa.oidc_provider_arn` {arn:?} is not an OIDC provider ARN"
                ))
                .with_hint("pass the `arn` of an aws_iam_oidc_provider, or set `irsa.oidc_issuer`")
            })?,
    };
    Ok(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": arn },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{issuer}:sub"): format!("system:serviceaccount:{namespace}:{sa}"),
                    format!("{issuer}:aud"): "sts.amazonaws.com",
                }
            }
        }]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_documents_decode_from_url_encoding() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            from_aws(enc).unwrap(),
            serde_json::json!({"Version": "2012-10-17", "Statement": []})
        );
        assert_eq!(from_aws("{\"a\": 1}").unwrap(), serde_json::json!({"a": 1}));
    }

    #[test]
    fn documents_read_back_keep_the_users_shape() {
        let doc = serde_json::json!({"Version": "2012-10-17"});
        let table = Value::Map(Map::new());
        assert!(matches!(like(Some(&table), doc.clone()), Value::Map(_)));
        assert!(matches!(
            like(Some(&Value::from("{}")), doc.clone()),
            Value::String(_)
        ));
        assert!(matches!(like(None, doc), Value::String(_)));
    }

    #[test]
    fn tables_and_strings_become_compact_json() {
        let table: Value = serde_json::json!({"Version": "2012-10-17", "Statement": []}).into();
        assert_eq!(
            to_aws(&table).unwrap(),
            r#"{"Statement":[],"Version":"2012-10-17"}"#
        );
        assert_eq!(to_aws(&Value::from("{ \"a\" : 1 }")).unwrap(), r#"{"a":1}"#);
        assert!(to_aws(&Value::from("{nope")).is_err());
    }

    #[test]
    fn irsa_trust_policy_pins_subject_and_audience() {
        let irsa: Map = [
            (
                "oidc_provider_arn",
                "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            ),
            (
                "oidc_issuer",
                "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            ),
            ("namespace", "grafana-agent"),
            ("service_account", "grafana-agent"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::from(v)))
        .collect();
        let doc = irsa_trust_policy(&irsa).unwrap();
        let cond = &doc["Statement"][0]["Condition"]["StringEquals"];
        assert_eq!(
            cond["oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub"],
            "system:serviceaccount:grafana-agent:grafana-agent"
        );
        assert_eq!(
            cond["oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud"],
            "sts.amazonaws.com"
        );
        assert_eq!(
            doc["Statement"][0]["Action"],
            "sts:AssumeRoleWithWebIdentity"
        );

        let mut without_issuer = irsa.clone();
        without_issuer.remove("oidc_issuer");
        assert_eq!(irsa_trust_policy(&without_issuer).unwrap(), doc);
    }
}
