//! Checks an operation's input, as read from the wire, against its shape:
//! required members, enums, lengths, patterns, ranges, list and map
//! sizes, map keys, blobs and timestamps as the protocol writes them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Number, Value};

use super::model::{Model, Shape, ShapeRef};
use super::pattern;
use super::time;

/// Which rule a request breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// No operation of the service is what the request calls.
    Operation,
    /// A required member is missing.
    Required,
    /// A value of the wrong type (a string for an integer, a union with
    /// two members set, a body that is not JSON).
    Type,
    /// A value outside the member's enum.
    Enum,
    /// A string, blob, list or map shorter or longer than allowed.
    Length,
    /// A string that does not match the member's pattern.
    Pattern,
    /// A number outside the member's range.
    Range,
    /// A blob that is not valid base64.
    Blob,
    /// A timestamp not written as the protocol writes them.
    Timestamp,
    /// A key or parameter that is no member of the input.
    Unknown,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Operation => "operation",
            Rule::Required => "required",
            Rule::Type => "type",
            Rule::Enum => "enum",
            Rule::Length => "length",
            Rule::Pattern => "pattern",
            Rule::Range => "range",
            Rule::Blob => "base64",
            Rule::Timestamp => "timestamp",
            Rule::Unknown => "unknown member",
        }
    }
}

/// Where a member travelled, which decides how its scalars are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Src {
    /// A JSON body: numbers and booleans are JSON's, timestamps epoch seconds.
    Json,
    /// A `query`/`ec2` form key: text, timestamps ISO 8601.
    Form,
    /// A REST URI label or query parameter: text, timestamps ISO 8601.
    Uri,
    /// A REST header: text, timestamps as HTTP dates.
    Header,
    /// An XML body: text, timestamps ISO 8601.
    Xml,
    /// The raw HTTP body (a payload blob or string).
    Raw,
}

/// A problem found in one place of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    /// The member path (`tags["Name"]`, `subnetIds[2]`), empty for the
    /// request as a whole.
    pub member: String,
    pub rule: Rule,
    pub detail: String,
}

/// An operation's input as read from the request: each top-level member
/// present with where it came from, and what went wrong reading it.
#[derive(Debug, Default)]
pub(super) struct Input {
    pub members: BTreeMap<String, (Value, Src)>,
    pub problems: Vec<Problem>,
}

pub(super) struct Checker<'m> {
    pub model: &'m Model,
    pub problems: Vec<Problem>,
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn bound(n: &Option<Number>) -> Option<f64> {
    n.as_ref().and_then(Number::as_f64)
}

fn short(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{:?}…", s.chars().take(80).collect::<String>())
    } else {
        format!("{s:?}")
    }
}

impl Checker<'_> {
    fn fail(&mut self, member: &str, rule: Rule, detail: String) {
        self.problems.push(Problem {
            member: member.to_string(),
            rule,
            detail,
        });
    }

    /// Checks an input structure whose members were read from the wire.
    pub fn input(&mut self, shape_name: &str, input: &Input) {
        let Some(shape) = self.model.shape(shape_name) else {
            return;
        };
        let present: BTreeMap<&str, (&Value, Src)> = input
            .members
            .iter()
            .filter(|(_, (v, _))| !v.is_null())
            .map(|(k, (v, s))| (k.as_str(), (v, *s)))
            .collect();
        self.required(shape, shape_name, "", |m| present.contains_key(m));
        for (name, (v, src)) in &present {
            if let Some(r) = shape.members.get(*name) {
                self.value(r, v, *src, name);
            }
        }
    }

    fn required(
        &mut self,
        shape: &Shape,
        shape_name: &str,
        path: &str,
        has: impl Fn(&str) -> bool,
    ) {
        for m in &shape.required {
            if !has(m) {
                self.fail(
                    &child(path, m),
                    Rule::Required,
                    format!("{shape_name} requires {m}"),
                );
            }
        }
        if shape.union {
            let set = shape.members.keys().filter(|m| has(m)).count();
            if set != 1 {
                self.fail(
                    path,
                    Rule::Type,
                    format!("{shape_name} is a union: exactly one member must be set, {set} are"),
                );
            }
        }
    }

    /// Checks one value against the shape `r` refers to.
    pub fn value(&mut self, r: &ShapeRef, v: &Value, src: Src, path: &str) {
        let model = self.model;
        let Some(shape) = model.shape(&r.shape) else {
            return;
        };
        if v.is_null() || src == Src::Raw {
            return;
        }
        match shape.kind.as_str() {
            "structure" if shape.document => {}
            "structure" => {
                let Some(obj) = v.as_object() else {
                    return self.fail(path, Rule::Type, format!("{} must be an object", r.shape));
                };
                // JSON bodies name members by their wire name; the other
                // readers already give member names.
                let mut present = BTreeMap::new();
                for (key, value) in obj {
                    let member = if src == Src::Json {
                        shape.members.iter().find(|(n, m)| {
                            m.location.is_none() && m.location_name.as_deref().unwrap_or(n) == key
                        })
                    } else {
                        shape.members.get_key_value(key)
                    };
                    match member {
                        Some((name, m)) => {
                            if !value.is_null() {
                                present.insert(name.as_str(), (m, value));
                            }
                        }
                        None => self.fail(
                            &child(path, key),
                            Rule::Unknown,
                            format!("{} has no member {key}", r.shape),
                        ),
                    }
                }
                self.required(shape, &r.shape, path, |m| present.contains_key(m));
                for (name, (m, value)) in present {
                    self.value(m, value, src, &child(path, name));
                }
            }
            "list" => {
                let Some(items) = v.as_array() else {
                    return self.fail(path, Rule::Type, format!("{} must be a list", r.shape));
                };
                self.size(shape, &r.shape, items.len(), "items", path);
                if let Some(m) = shape.member.as_deref() {
                    for (i, item) in items.iter().enumerate() {
                        self.value(m, item, src, &format!("{path}[{i}]"));
                    }
                }
            }
            "map" => {
                let Some(obj) = v.as_object() else {
                    return self.fail(path, Rule::Type, format!("{} must be a map", r.shape));
                };
                self.size(shape, &r.shape, obj.len(), "entries", path);
                for (k, item) in obj {
                    let at = format!("{path}[{k:?}]");
                    if let Some(kr) = shape.key.as_deref() {
                        self.value(
                            kr,
                            &Value::String(k.clone()),
                            Src::Json,
                            &format!("{at} (key)"),
                        );
                    }
                    if let Some(vr) = shape.value.as_deref() {
                        self.value(vr, item, src, &at);
                    }
                }
            }
            "string" => {
                let Some(s) = v.as_str() else {
                    return self.fail(path, Rule::Type, format!("{} must be a string", r.shape));
                };
                if r.jsonvalue {
                    return;
                }
                self.string(shape, &r.shape, s, path);
            }
            "integer" | "long" | "short" | "byte" => {
                let n = match (v, src) {
                    (Value::Number(n), Src::Json) => n.as_i64().map(|i| i as f64),
                    (Value::String(s), s2) if s2 != Src::Json => {
                        s.parse::<i64>().ok().map(|i| i as f64)
                    }
                    _ => None,
                };
                match n {
                    None => self.fail(
                        path,
                        Rule::Type,
                        format!("{v} is not an integer ({})", r.shape),
                    ),
                    Some(n) => self.range(shape, &r.shape, n, path),
                }
            }
            "float" | "double" => {
                let n = match (v, src) {
                    (Value::Number(n), Src::Json) => n.as_f64(),
                    (Value::String(s), _) => match s.as_str() {
                        "NaN" | "Infinity" | "-Infinity" => Some(f64::NAN),
                        s if src != Src::Json => s.parse::<f64>().ok(),
                        _ => None,
                    },
                    _ => None,
                };
                match n {
                    None => self.fail(
                        path,
                        Rule::Type,
                        format!("{v} is not a number ({})", r.shape),
                    ),
                    Some(n) if n.is_nan() => {}
                    Some(n) => self.range(shape, &r.shape, n, path),
                }
            }
            "boolean" => {
                let ok = match (v, src) {
                    (Value::Bool(_), Src::Json) => true,
                    (Value::String(s), s2) if s2 != Src::Json => s == "true" || s == "false",
                    _ => false,
                };
                if !ok {
                    self.fail(path, Rule::Type, format!("{v} is not a boolean"));
                }
            }
            "timestamp" => {
                let format = r
                    .timestamp_format
                    .as_deref()
                    .or(shape.timestamp_format.as_deref())
                    .or(match src {
                        Src::Json => model.metadata.timestamp_format.as_deref(),
                        _ => None,
                    })
                    .unwrap_or(match src {
                        Src::Json => "unixTimestamp",
                        Src::Header => "rfc822",
                        _ => "iso8601",
                    });
                if let Err(why) = time::check(format, v, src == Src::Json) {
                    self.fail(path, Rule::Timestamp, why);
                }
            }
            "blob" => {
                let Some(s) = v.as_str() else {
                    return self.fail(path, Rule::Type, format!("{} must be base64 text", r.shape));
                };
                match B64.decode(s) {
                    Err(e) => self.fail(
                        path,
                        Rule::Blob,
                        format!("{} is not valid base64: {e}", short(s)),
                    ),
                    Ok(bytes) => self.size(shape, &r.shape, bytes.len(), "bytes", path),
                }
            }
            _ => {}
        }
    }

    fn string(&mut self, shape: &Shape, name: &str, s: &str, path: &str) {
        if !shape.enum_values.is_empty() && !shape.enum_values.iter().any(|e| e == s) {
            self.fail(
                path,
                Rule::Enum,
                format!(
                    "{} is not one of {name}'s values ({})",
                    short(s),
                    shape.enum_values.join(", ")
                ),
            );
        }
        self.size(shape, name, s.chars().count(), "characters", path);
        if let Some(p) = &shape.pattern
            && let Some(re) = pattern::compiled(&self.model.service, name, p)
            && !re.is_match(s)
        {
            self.fail(
                path,
                Rule::Pattern,
                format!("{} does not match {name}'s pattern {p}", short(s)),
            );
        }
    }

    fn size(&mut self, shape: &Shape, name: &str, n: usize, unit: &str, path: &str) {
        let n = n as f64;
        if let Some(min) = bound(&shape.min).filter(|m| n < *m) {
            self.fail(
                path,
                Rule::Length,
                format!("{n} {unit}, {name} needs at least {min}"),
            );
        }
        if let Some(max) = bound(&shape.max).filter(|m| n > *m) {
            self.fail(
                path,
                Rule::Length,
                format!("{n} {unit}, {name} allows at most {max}"),
            );
        }
    }

    fn range(&mut self, shape: &Shape, name: &str, n: f64, path: &str) {
        if let Some(min) = bound(&shape.min).filter(|m| n < *m) {
            self.fail(
                path,
                Rule::Range,
                format!("{n} is below {name}'s minimum {min}"),
            );
        }
        if let Some(max) = bound(&shape.max).filter(|m| n > *m) {
            self.fail(
                path,
                Rule::Range,
                format!("{n} is above {name}'s maximum {max}"),
            );
        }
    }
}
