//! Helpers every provider needs between the engine's `Value` maps and its
//! API: typed inputs, and attribute maps for `read`. A `read` must return an
//! optional attribute the user left out as absent, not as an empty value,
//! or every plan would show a change from nothing to `[]`; and a set the
//! API returns in its own order must come back in the user's
//! ([`order_like`]).

use serde::de::DeserializeOwned;

use crate::error::ProviderError;
use crate::value::{Map, Value};

/// The inputs as a typed struct.
pub fn typed<T: DeserializeOwned>(inputs: &Map) -> Result<T, ProviderError> {
    Value::Map(inputs.clone())
        .to_typed()
        .map_err(ProviderError::invalid_inputs)
}

/// Builds an attribute map.
#[derive(Default)]
pub struct Attrs(Map);

impl Attrs {
    pub fn new() -> Self {
        Attrs(Map::new())
    }

    pub fn set(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.0.insert(key.to_string(), v.into());
        self
    }

    pub fn opt(self, key: &str, v: Option<impl Into<Value>>) -> Self {
        match v {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// Sets a value unless it is empty (`""`, `[]`, `{}`, null) and `prior`
    /// did not have it either.
    pub fn unless_empty(mut self, prior: &Map, key: &str, v: Value) -> Self {
        let empty = match &v {
            Value::List(l) => l.is_empty(),
            Value::Map(m) => m.is_empty(),
            Value::String(s) => s.is_empty(),
            Value::Null => true,
            _ => false,
        };
        if !empty || prior.contains_key(key) {
            self.0.insert(key.to_string(), v);
        }
        self
    }

    /// Keeps the prior value of an attribute the API cannot return.
    pub fn keep(mut self, prior: &Map, key: &str) -> Self {
        if let Some(v) = prior.get(key) {
            self.0.insert(key.to_string(), v.clone());
        }
        self
    }

    pub fn build(self) -> Map {
        self.0
    }
}

/// A list of strings as a value.
pub fn strings(v: impl IntoIterator<Item = impl Into<String>>) -> Value {
    Value::List(v.into_iter().map(|s| Value::String(s.into())).collect())
}

/// A list of strings from a map entry (empty when absent).
pub fn strings_of(m: &Map, key: &str) -> Vec<String> {
    m.get(key)
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Orders `actual` like the list the user wrote (`prior[key]`), so that a
/// set an API returns in its own order does not read as a change; new
/// items go last, sorted.
pub fn order_like(prior: &Map, key: &str, mut actual: Vec<String>) -> Vec<String> {
    actual.sort();
    actual.dedup();
    let mut out: Vec<String> = strings_of(prior, key)
        .into_iter()
        .filter(|w| actual.contains(w))
        .collect();
    out.dedup();
    for a in actual {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// A recorded string attribute a provider cannot work without.
pub fn str_of<'m>(m: &'m Map, key: &str) -> Result<&'m str, ProviderError> {
    m.get(key).and_then(Value::as_str).ok_or_else(|| {
        ProviderError::new(format!("`{key}` is not recorded for this resource")).with_hint(
            "the state lacks an attribute the provider needs: `meshmon state rm` it and `meshmon import` it again",
        )
    })
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
