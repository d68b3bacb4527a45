//! Small helpers between the engine's `Value` maps and typed inputs:
//! typed deserialisation, ordering a set AWS returns like the list the user
//! wrote, and change checks. Tags are [`meshmon_aws_common::tags`]'s.

use meshmon_provider_sdk::{Map, Value};

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
