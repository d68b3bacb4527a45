//! Equality the way a user means it. JSON and YAML documents are equal when
//! they parse to the same data (AWS reorders policy keys, Grafana reformats
//! dashboards, the API server reorders manifests); numbers are equal across
//! integer and float spellings. Anything involving `Unknown` is a change.

use crate::{AttrPath, AttrType, PathSegment, Value};
use serde::Deserialize;

/// Whether `a` and `b` are the same value for an attribute of type `ty`.
pub fn equal(ty: &AttrType, a: &Value, b: &Value) -> bool {
    match ty {
        // APIs answer "" for an optional string nobody set.
        AttrType::String if is_unset(a) && is_unset(b) => true,
        AttrType::Json => same(&as_json(a), &as_json(b)),
        AttrType::Yaml => same(&as_yaml(a), &as_yaml(b)),
        AttrType::List(t) => match (a, b) {
            (Value::List(x), Value::List(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(t, p, q))
            }
            _ => same(a, b),
        },
        AttrType::Map(t) => match (a, b) {
            (Value::Map(x), Value::Map(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                keys.into_iter().all(|k| {
                    equal(
                        t,
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                    )
                })
            }
            _ => same(a, b),
        },
        _ => same(a, b),
    }
}

fn is_unset(v: &Value) -> bool {
    matches!(v, Value::Null) || v.as_str() == Some("")
}

/// Structural equality with numeric tolerance; absent map keys equal null.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Unknown, _) | (_, Value::Unknown) => false,
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (*x as f64) == *y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.iter()
                .all(|(k, v)| same(v, y.get(k).unwrap_or(&Value::Null)))
                && y.iter().all(|(k, v)| x.contains_key(k) || v.is_null())
        }
        _ => a == b,
    }
}

/// A JSON document as data: strings are parsed, tables are taken as they are.
pub fn as_json(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str::<serde_json::Value>(s)
            .map(Value::from)
            .unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

/// A YAML stream as data: a list of its documents (empty ones dropped).
pub fn as_yaml(v: &Value) -> Value {
    let Value::String(s) = v else {
        return v.clone();
    };
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(s) {
        match serde_json::Value::deserialize(doc) {
            Ok(serde_json::Value::Null) => {}
            Ok(d) => docs.push(Value::from(d)),
            Err(_) => return v.clone(),
        }
    }
    Value::List(docs)
}

/// The paths at which attribute `name` differs between two values: the
/// attribute itself, or the keys of its tables that changed.
pub fn changed_attr_paths(name: &str, ty: &AttrType, a: &Value, b: &Value) -> Vec<AttrPath> {
    let mut out = Vec::new();
    changed_paths(ty, a, b, &mut Vec::new(), &mut out);
    out.into_iter()
        .map(|steps| AttrPath::new(name, steps))
        .collect()
}

/// The paths at which two values differ, descending into tables so that a
/// changed label reads `labels.role`, not all of `labels`.
pub fn changed_paths(
    ty: &AttrType,
    a: &Value,
    b: &Value,
    path: &mut Vec<PathSegment>,
    out: &mut Vec<Vec<PathSegment>>,
) {
    // Tables are compared key by key and only leaves with `equal`, so each
    // part of the values is looked at once, however deep it nests.
    match (a, b) {
        (Value::Map(x), Value::Map(y)) if !matches!(ty, AttrType::Json | AttrType::Yaml) => {
            let elem = match ty {
                AttrType::Map(t) => (**t).clone(),
                _ => AttrType::Any,
            };
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                path.push(PathSegment::Key(k.clone()));
                changed_paths(
                    &elem,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    path,
                    out,
                );
                path.pop();
            }
        }
        _ => {
            if !equal(ty, a, b) {
                out.push(path.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_string_equals_an_unset_string() {
        assert!(equal(&AttrType::String, &Value::Null, &Value::from("")));
        assert!(equal(&AttrType::String, &Value::from(""), &Value::Null));
        assert!(!equal(&AttrType::String, &Value::Null, &Value::from("x")));
        assert!(!equal(&AttrType::Any, &Value::Null, &Value::from("")));
    }

    #[test]
    fn json_documents_compare_semantically() {
        let a = Value::from(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}"#);
        let b = Value::from(
            "{\n  \"Statement\": [ {\"Effect\": \"Allow\"} ],\n  \"Version\": \"2012-10-17\"\n}",
        );
        assert!(equal(&AttrType::Json, &a, &b));
        let table: Value =
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}).into();
        assert!(equal(&AttrType::Json, &a, &table));
        let c = Value::from(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny"}]}"#);
        assert!(!equal(&AttrType::Json, &a, &c));
    }

    #[test]
    fn yaml_documents_compare_semantically() {
        let a = Value::from("a: 1\nb: [x, y]\n---\nc: 2\n");
        let b = Value::from("b:\n  - x\n  - y\na: 1\n---\n# comment\nc: 2\n");
        assert!(equal(&AttrType::Yaml, &a, &b));
        assert!(!equal(&AttrType::Yaml, &a, &Value::from("a: 1\n")));
    }

    #[test]
    fn unknown_is_always_a_change() {
        assert!(!equal(&AttrType::String, &Value::Unknown, &Value::Unknown));
        assert!(equal(&AttrType::Float, &Value::Int(2), &Value::Float(2.0)));
    }

    #[test]
    fn changed_paths_descend_into_tables() {
        let a: Value = serde_json::json!({"role": "a", "keep": "k"}).into();
        let b: Value = serde_json::json!({"role": "b", "keep": "k", "new": "n"}).into();
        let mut out = Vec::new();
        changed_paths(
            &AttrType::map_of(AttrType::String),
            &a,
            &b,
            &mut vec![],
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                vec![PathSegment::Key("new".into())],
                vec![PathSegment::Key("role".into())]
            ]
        );
    }
}
