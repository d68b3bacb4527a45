//! Helpers between the engine's `Value` maps and what the APIs speak: typed
//! inputs, attribute maps for `read`, and durations. `read` must return an
//! optional attribute the user left out as absent, not as an empty value,
//! or every plan would show a change from nothing to `[]`.

use std::time::Duration;

use meshmon_provider_sdk::{OpContext, ProviderError, Value};
use sha2::{Digest, Sha256};

pub use meshmon_provider_sdk::attrs::{Attrs, order_like, str_of, strings, strings_of};

/// The uid a create gives a Grafana object the user named no uid for:
/// derived from the create's idempotency token (and `part`, which tells
/// apart the objects one create makes), so that every attempt of the create
/// asks for the same uid and `recover` can look the object up by it. A uid
/// is at most 40 characters of `[a-zA-Z0-9_-]`; these are 32. `None`
/// outside a create, when Grafana picks the uid.
pub fn intent_uid(ctx: &OpContext, part: &str) -> Option<String> {
    let token = ctx.client_token()?;
    let digest = Sha256::digest(format!("{token}/{part}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("mm{}", &hex[..30]))
}

/// Why `recover` cannot look for an object whose uid Grafana picked: only a
/// create that carried an intent (and so asked for a uid) can be recovered.
pub fn no_intent(ctx: &OpContext) -> ProviderError {
    ProviderError::new(format!(
        "{}: recovering a create needs the create's intent (its token and lineage): without one, \
         Grafana picked the uid",
        ctx.address
    ))
    .with_hint("this is a bug in meshmon: the engine recovers only creates it journaled")
}

/// The string field `field` of a Grafana answer to `operation` that the
/// resource cannot do without (the uid it is known by): missing or empty
/// is an error, never a `""` recorded.
pub fn answered<'a>(
    operation: &str,
    answer: &'a serde_json::Value,
    field: &str,
) -> Result<&'a str, ProviderError> {
    answer[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ProviderError::api(
                operation,
                None,
                format!("Grafana's answer carries no `{field}`"),
            )
            .with_hint(
                "check that `url` under [providers.grafana] is Grafana's root URL; an object \
                     Grafana made anyway can be adopted with `meshmon import` by its uid",
            )
        })
}

/// Parses a duration like "1m" or "7d", naming the attribute on failure.
pub fn duration(attr: &str, s: &str) -> Result<Duration, ProviderError> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        ProviderError::new(format!("`{attr}` = {s:?} is not a duration: {e}"))
            .with_hint("write durations like \"30s\", \"1m\", \"12h\" or \"7d\"")
    })
}

/// The check of a duration attribute in `validate` and `plan`, as
/// [`duration`] reads it at apply.
pub fn a_duration(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if humantime::parse_duration(s.trim()).is_err() => {
            Err("is not a duration: write durations like \"30s\", \"1m\", \"12h\" or \"7d\"".into())
        }
        _ => Ok(()),
    }
}

/// A duration the API returned, spelled the way the user wrote it when
/// they mean the same time ("60s" stays "60s" when Grafana says "1m").
pub fn duration_like(prior: Option<&Value>, actual: Duration) -> Value {
    if let Some(p) = prior.and_then(Value::as_str)
        && humantime::parse_duration(p.trim()).ok() == Some(actual)
    {
        return Value::from(p);
    }
    Value::String(short_duration(actual))
}

/// "1m", "90s", "2h": how Prometheus and Grafana write durations.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Parses Grafana's and Prometheus's duration spelling ("1m0s", "5m",
/// "1h30m"), then anything humantime takes ("7d", "1 minute").
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let mut rest = s;
    let mut total_ms = 0u64;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let Ok(n) = rest[..digits].parse::<u64>() else {
            return humantime::parse_duration(s).ok();
        };
        rest = &rest[digits..];
        let (unit_ms, len) = match rest.as_bytes() {
            [b'm', b's', ..] => (1, 2),
            [b'h', ..] => (3_600_000, 1),
            [b'm', ..] => (60_000, 1),
            [b's', ..] => (1000, 1),
            [b'd', ..] => (86_400_000, 1),
            _ => return humantime::parse_duration(s).ok(),
        };
        total_ms += n * unit_ms;
        rest = &rest[len..];
    }
    (!s.is_empty()).then(|| Duration::from_millis(total_ms))
}

/// A JSON value from an attribute that may be a table or a JSON string.
pub fn json_of(v: &Value) -> Result<serde_json::Value, ProviderError> {
    match v {
        Value::String(s) => {
            serde_json::from_str(s).map_err(|e| ProviderError::new(format!("not valid JSON: {e}")))
        }
        other => Ok(serde_json::Value::from(other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intent_uids_are_stable_distinct_and_valid() {
        use meshmon_provider_sdk::Intent;
        let ctx = OpContext::quiet("grafana_folder.mesh").with_intent(Intent {
            token: "0b6f4c1e-2f4e-4e43-9d7a-1f0c2a8e9b11".into(),
            lineage: "l".into(),
        });
        let a = intent_uid(&ctx, "").unwrap();
        assert_eq!(a, intent_uid(&ctx, "").unwrap());
        assert_ne!(a, intent_uid(&ctx, "1").unwrap());
        assert!(a.len() <= 40 && a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(intent_uid(&OpContext::quiet("x.y"), ""), None);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1m0s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_go_duration("x"), None);
    }

    #[test]
    fn durations_keep_the_users_spelling() {
        let prior = Value::from("60s");
        assert_eq!(duration_like(Some(&prior), Duration::from_secs(60)), prior);
        assert_eq!(
            duration_like(Some(&prior), Duration::from_secs(120)),
            Value::from("2m")
        );
    }
}
