//! Small helpers between the engine's `Value` maps and typed inputs:
//! typed deserialisation, ordering a set AWS returns like the list the user
//! wrote, and change checks. Tags are [`meshmon_aws_common::tags`]'s.

use meshmon_provider_sdk::{Map, ProviderError, Value};

pub use meshmon_provider_sdk::attrs::{Attrs, str_of, strings, strings_of, typed};

/// Orders `actual` like the list the user wrote, so that a set AWS returns
/// in its own order does not read as a change; new items go last, sorted.
pub fn order_like(prior: &Map, key: &str, mut actual: Vec<String>) -> Vec<String> {
    let wanted = strings_of(prior, key);
    actual.sort();
    actual.dedup();
    let mut out: Vec<String> = wanted
        .iter()
        .filter(|w| actual.contains(w))
        .cloned()
        .collect();
    out.dedup();
    for a in actual {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// The identifier an AWS answer must carry (`what`: "ARN", "VPC ID").
/// Without it the service acted but did not say on which object. A create
/// marks the error ambiguous where the object can be found again, so that
/// the engine recovers it rather than making a second one.
pub fn answered<'a>(
    operation: &str,
    what: &str,
    value: Option<&'a str>,
) -> Result<&'a str, ProviderError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        ProviderError::api(operation, None, format!("the answer carries no {what}")).with_hint(
            "AWS has the object but did not say which: run `meshmon apply` again, \
             which looks for it before creating another",
        )
    })
}

/// Whether `key` differs between the prior inputs and the new ones.
pub fn changed(prior: &Map, inputs: &Map, key: &str) -> bool {
    prior.get(key).unwrap_or(&Value::Null) != inputs.get(key).unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_follows_the_spec_then_new_items_sorted() {
        let prior: Map = [("ids".to_string(), strings(["b", "a"]))].into();
        assert_eq!(
            order_like(&prior, "ids", vec!["c".into(), "a".into(), "b".into()]),
            vec!["b", "a", "c"]
        );
        assert_eq!(
            order_like(&Map::new(), "ids", vec!["z".into(), "y".into()]),
            vec!["y", "z"]
        );
    }
}
