//! The uniform value that crosses the boundary between the engine and the
//! providers. It mirrors JSON plus one extra case, `Unknown`, for a value that
//! only apply can tell (an ARN of a resource not yet created). `Unknown` never
//! reaches a provider's create/update call and is never written to state.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A map of attribute names to values, ordered so that output is stable.
pub type Map = crate::sorted_map::SortedMap<Value>;

/// Deepest nesting of a value meshmon records: specs, var files and state
/// refuse deeper values. The state nests values four levels down and the
/// JSON reader stops at 128: well inside, every state meshmon writes it can
/// read back.
pub const MAX_DEPTH: usize = 32;

/// One attribute value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(Map),
    /// Known only after apply.
    Unknown,
}

/// One step of a path into a nested value: `.key` or `[i]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl fmt::Display for PathSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSegment::Key(k) => write!(f, ".{k}"),
            PathSegment::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Renders `attr` plus segments as `attr.key[0]`.
pub fn format_path(root: &str, segments: &[PathSegment]) -> String {
    let mut out = root.to_string();
    for s in segments {
        out.push_str(&s.to_string());
    }
    out
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "table",
            Value::Unknown => "unknown",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True when this value, or anything nested in it, is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(l) => l.iter().any(Value::contains_unknown),
            Value::Map(m) => m.values().any(Value::contains_unknown),
            _ => false,
        }
    }

    /// Follows a path into nested lists and tables.
    pub fn get_path(&self, path: &[PathSegment]) -> Option<&Value> {
        let mut cur = self;
        for seg in path {
            cur = match (cur, seg) {
                (Value::Unknown, _) => return Some(&Value::Unknown),
                (Value::Map(m), PathSegment::Key(k)) => m.get(k)?,
                (Value::List(l), PathSegment::Index(i)) => l.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Converts any serializable Rust value (a provider's typed outputs).
    pub fn from_serialize<T: Serialize>(v: &T) -> Result<Value, serde_json::Error> {
        serde_json::to_value(v).map(Value::from)
    }

    /// Converts into a typed Rust value (a provider's typed inputs).
    pub fn to_typed<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(serde_json::Value::from(self.clone()))
    }

    /// Renders a scalar the way string interpolation shows it.
    pub fn to_interpolated(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::List(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<Value> for serde_json::Value {
    fn from(v: Value) -> Self {
        match v {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Int(i) => serde_json::Value::from(i),
            Value::Float(f) => serde_json::Number::from_f64(f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s),
            Value::List(l) => serde_json::Value::Array(l.into_iter().map(Into::into).collect()),
            Value::Map(m) => {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null | Value::Unknown => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) => serializer.serialize_str(s),
            Value::List(l) => l.serialize(serializer),
            Value::Map(m) => m.serialize(serializer),
        }
    }
}

/// Reads any JSON (or TOML, or YAML) value. A table with the same key twice
/// is an error, not "the last one wins": a hand-edited state or var file
/// must not silently lose one of two values.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::List(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        Map::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Value::Map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup_reaches_nested_values() {
        let v: Value = serde_json::json!({"a": {"b": [1, {"c": "x"}]}}).into();
        let path = [
            PathSegment::Key("a".into()),
            PathSegment::Key("b".into()),
            PathSegment::Index(1),
            PathSegment::Key("c".into()),
        ];
        assert_eq!(v.get_path(&path), Some(&Value::from("x")));
        assert_eq!(format_path("attr", &path), "attr.a.b[1].c");
        assert_eq!(v.get_path(&[PathSegment::Index(0)]), None);
    }

    #[test]
    fn unknown_is_seen_through_nesting() {
        let v = Value::List(vec![
            Value::Int(1),
            Value::Map(Map::from([("k".into(), Value::Unknown)])),
        ]);
        assert!(v.contains_unknown());
        assert!(!Value::Int(1).contains_unknown());
    }
}
