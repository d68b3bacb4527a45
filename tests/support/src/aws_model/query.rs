//! The `query` and `ec2` protocols flatten the input into form keys
//! (`Tags.member.1.Key`, `Attributes.entry.1.key`, EC2's `Filter.1.Name`
//! and `Filter.1.Value.1`); this rebuilds the tree the model describes, so
//! that it can be checked as a JSON body is. A key that no member accounts
//! for is reported: it is either sent under a wrong name or read wrongly
//! here, and neither should pass quietly.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::check::{Input, Problem, Rule, Src};
use super::model::{Model, Shape, ShapeRef};

struct Form {
    pairs: BTreeMap<String, String>,
    used: BTreeSet<String>,
}

impl Form {
    fn take(&mut self, key: &str) -> Option<String> {
        let v = self.pairs.get(key)?.clone();
        self.used.insert(key.to_string());
        Some(v)
    }

    /// Some key is `prefix` itself or lies under it (`prefix.…`).
    fn has(&self, prefix: &str) -> bool {
        self.pairs
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .any(|(k, _)| k.len() == prefix.len() || k[prefix.len()..].starts_with('.'))
    }
}

struct Decoder<'m> {
    model: &'m Model,
    ec2: bool,
    form: Form,
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl Decoder<'_> {
    /// A member's key: EC2 takes `queryName`, else the capitalised
    /// `locationName` or member name; `query` the `locationName` or the
    /// member name.
    fn wire_name(&self, name: &str, r: &ShapeRef) -> String {
        if self.ec2 {
            r.query_name
                .clone()
                .unwrap_or_else(|| capitalize(r.location_name.as_deref().unwrap_or(name)))
        } else {
            r.location_name.clone().unwrap_or_else(|| name.to_string())
        }
    }

    fn structure(&mut self, shape: &Shape, prefix: &str) -> Map<String, Value> {
        let mut obj = Map::new();
        for (name, r) in &shape.members {
            let wire = self.wire_name(name, r);
            let key = if prefix.is_empty() {
                wire
            } else {
                format!("{prefix}.{wire}")
            };
            if let Some(v) = self.value(r, &key) {
                obj.insert(name.clone(), v);
            }
        }
        obj
    }

    fn value(&mut self, r: &ShapeRef, prefix: &str) -> Option<Value> {
        let model = self.model;
        let shape = model.shape(&r.shape)?;
        match shape.kind.as_str() {
            "structure" => {
                if !self.form.has(prefix) {
                    return None;
                }
                // A structure sent empty (`Name=`) has no members.
                self.form.take(prefix);
                Some(Value::Object(self.structure(shape, prefix)))
            }
            "list" => {
                let member = shape.member.as_deref()?;
                let flattened = self.ec2 || shape.flattened || r.flattened;
                let base = if !flattened {
                    let name = member.location_name.as_deref().unwrap_or("member");
                    format!("{prefix}.{name}")
                } else if let (false, Some(name)) = (self.ec2, &member.location_name) {
                    match prefix.rsplit_once('.') {
                        Some((head, _)) => format!("{head}.{name}"),
                        None => name.clone(),
                    }
                } else {
                    prefix.to_string()
                };
                // An empty list is sent as `Name=` (the query protocol).
                let empty = self.form.pairs.get(prefix).is_some_and(|v| v.is_empty());
                if empty {
                    self.form.take(prefix);
                }
                let mut items = Vec::new();
                for i in 1.. {
                    let key = format!("{base}.{i}");
                    if !self.form.has(&key) {
                        break;
                    }
                    items.push(self.value(member, &key).unwrap_or(Value::Null));
                }
                (empty || !items.is_empty()).then_some(Value::Array(items))
            }
            "map" => {
                let (key_ref, value_ref) = (shape.key.as_deref()?, shape.value.as_deref()?);
                let flattened = shape.flattened || r.flattened;
                let base = if flattened {
                    prefix.to_string()
                } else {
                    format!("{prefix}.entry")
                };
                let key_name = key_ref.location_name.as_deref().unwrap_or("key");
                let value_name = value_ref.location_name.as_deref().unwrap_or("value");
                let empty = self.form.pairs.get(prefix).is_some_and(|v| v.is_empty());
                if empty {
                    self.form.take(prefix);
                }
                let mut obj = Map::new();
                for i in 1.. {
                    let entry = format!("{base}.{i}");
                    if !self.form.has(&entry) {
                        break;
                    }
                    let key = self.form.take(&format!("{entry}.{key_name}"));
                    let value = self.value(value_ref, &format!("{entry}.{value_name}"));
                    obj.insert(
                        key.unwrap_or_else(|| format!("(entry {i} without a key)")),
                        value.unwrap_or(Value::Null),
                    );
                }
                (empty || !obj.is_empty()).then_some(Value::Object(obj))
            }
            _ => self.form.take(prefix).map(Value::String),
        }
    }
}

/// Reads the input of a `query` (or, with `ec2`, an `ec2`) request.
pub(super) fn input(
    model: &Model,
    input_shape: &str,
    pairs: Vec<(String, String)>,
    ec2: bool,
) -> Input {
    let mut out = Input::default();
    let Some(shape) = model.shape(input_shape) else {
        return out;
    };
    let mut d = Decoder {
        model,
        ec2,
        form: Form {
            pairs: pairs.into_iter().collect(),
            used: ["Action", "Version"].map(String::from).into(),
        },
    };
    for (name, v) in d.structure(shape, "") {
        out.members.insert(name, (v, Src::Form));
    }
    for key in d.form.pairs.keys() {
        if !d.form.used.contains(key) {
            out.problems.push(Problem {
                member: key.clone(),
                rule: Rule::Unknown,
                detail: format!("no member of {input_shape} is sent as `{key}`"),
            });
        }
    }
    out
}
