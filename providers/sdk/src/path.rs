//! Attribute paths: an attribute's name and the steps into its value, as
//! `labels.team`, `rules[0].expr` or
//! `annotations["eks.amazonaws.com/role-arn"]`. One type for every place
//! that names a part of a resource's attributes — `ignore_changes`, the
//! marks on secret values, drift reports and plan diffs — parsed once where
//! it is written and printed the same way everywhere, so that what a drift
//! report prints can be pasted into `ignore_changes` as it is.
//!
//! A key after a dot runs to the next `.` or `[`; a key holding either (or
//! a quote, or nothing) is written in brackets and quotes, which printing
//! does by itself.

use std::fmt;
use std::ops::Range;

use crate::value::{Map, PathSegment, Value};

/// A path into a resource's attributes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttrPath {
    /// The top-level attribute.
    pub attribute: String,
    /// The steps into its value; empty for the attribute as a whole.
    pub steps: Vec<PathSegment>,
}

/// A path that does not parse, with where in the text it goes wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PathError {
    pub message: String,
    /// Byte range within the text that was parsed.
    pub span: Range<usize>,
}

impl AttrPath {
    /// The attribute as a whole.
    pub fn attribute(name: impl Into<String>) -> Self {
        AttrPath {
            attribute: name.into(),
            steps: Vec::new(),
        }
    }

    /// The attribute with steps into its value.
    pub fn new(name: impl Into<String>, steps: Vec<PathSegment>) -> Self {
        AttrPath {
            attribute: name.into(),
            steps,
        }
    }

    /// One step further in.
    pub fn join(&self, step: PathSegment) -> Self {
        let mut p = self.clone();
        p.steps.push(step);
        p
    }

    /// Parses `attr.key[0]["quoted key"]`.
    pub fn parse(text: &str) -> Result<AttrPath, PathError> {
        Parser { text, at: 0 }.path()
    }

    /// Whether `other` is this path or lies under it: `labels` covers
    /// `labels.team`, `items[1]` covers `items[1].name` but not `items[10]`.
    pub fn covers(&self, other: &AttrPath) -> bool {
        self.attribute == other.attribute && other.steps.starts_with(&self.steps)
    }

    /// The value at this path in an attribute map.
    pub fn get<'a>(&self, attrs: &'a Map) -> Option<&'a Value> {
        attrs.get(&self.attribute)?.get_path(&self.steps)
    }

    /// Makes the value at this path in `target` what it is in `from`: the
    /// same value, or absent where `from` has none. Steps that `target`
    /// lacks are left alone (there is nothing there to keep), and so is a
    /// list element `from` lacks (a list cannot have a hole).
    pub fn copy_from(&self, target: &mut Map, from: &Map) {
        let source = self.get(from).cloned();
        let Some((last, inner)) = self.steps.split_last() else {
            match source {
                Some(v) => target.insert(self.attribute.clone(), v),
                None => target.remove(&self.attribute),
            };
            return;
        };
        let Some(mut cur) = target.get_mut(&self.attribute) else {
            return;
        };
        for step in inner {
            cur = match (cur, step) {
                (Value::Map(m), PathSegment::Key(k)) => match m.get_mut(k) {
                    Some(v) => v,
                    None => return,
                },
                (Value::List(l), PathSegment::Index(i)) => match l.get_mut(*i) {
                    Some(v) => v,
                    None => return,
                },
                _ => return,
            };
        }
        match (cur, last, source) {
            (Value::Map(m), PathSegment::Key(k), Some(v)) => {
                m.insert(k.clone(), v);
            }
            (Value::Map(m), PathSegment::Key(k), None) => {
                m.remove(k);
            }
            (Value::List(l), PathSegment::Index(i), Some(v)) if *i < l.len() => l[*i] = v,
            _ => {}
        }
    }
}

/// Whether a key can follow a dot as it is.
fn bare_key(k: &str) -> bool {
    !k.is_empty() && !k.contains(['.', '[', ']', '"']) && !k.chars().any(char::is_whitespace)
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.attribute)?;
        for step in &self.steps {
            match step {
                PathSegment::Key(k) if bare_key(k) => write!(f, ".{k}")?,
                PathSegment::Key(k) => {
                    write!(f, "[{}]", serde_json::to_string(k).map_err(|_| fmt::Error)?)?
                }
                PathSegment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for AttrPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttrPath::parse(s)
    }
}

impl serde::Serialize for AttrPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AttrPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        AttrPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn fail<T>(&self, message: impl Into<String>, end: usize) -> Result<T, PathError> {
        Err(PathError {
            message: message.into(),
            span: self.at..end.max(self.at),
        })
    }

    /// A run of characters up to the next `.`, `[` or `]`.
    fn word(&mut self) -> &str {
        let len = self
            .rest()
            .find(['.', '[', ']'])
            .unwrap_or(self.rest().len());
        let w = &self.text[self.at..self.at + len];
        self.at += len;
        w
    }

    fn path(mut self) -> Result<AttrPath, PathError> {
        let attribute = self.word().to_string();
        let valid = {
            let mut chars = attribute.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !valid {
            return Err(PathError {
                message: if attribute.is_empty() {
                    "expected an attribute name, like `labels` or `labels.team`".into()
                } else {
                    format!("`{attribute}` is not an attribute name")
                },
                span: 0..attribute.len().max(1).min(self.text.len().max(1)),
            });
        }
        let mut steps = Vec::new();
        while !self.rest().is_empty() {
            if self.rest().starts_with('.') {
                let dot = self.at;
                self.at += 1;
                let key = self.word();
                if key.is_empty() {
                    self.at = dot;
                    return self.fail(
                        "expected a key after `.`: an empty step, like `a..b`, names nothing",
                        dot + 1,
                    );
                }
                steps.push(PathSegment::Key(key.to_string()));
            } else if self.rest().starts_with('[') {
                steps.push(self.bracket()?);
            } else {
                return self.fail("expected `.` or `[` here", self.at + 1);
            }
        }
        Ok(AttrPath { attribute, steps })
    }

    /// `[0]` or `["key"]`.
    fn bracket(&mut self) -> Result<PathSegment, PathError> {
        let open = self.at;
        let inner = &self.rest()[1..];
        if inner.starts_with('"') {
            // A JSON string, then `]`.
            let mut de = serde_json::Deserializer::from_str(inner).into_iter::<String>();
            let key = match de.next() {
                Some(Ok(k)) => k,
                _ => {
                    return self.fail(
                        "a quoted key is never closed: expected `\"]`",
                        self.text.len(),
                    );
                }
            };
            let after = open + 1 + de.byte_offset();
            if !self.text[after..].starts_with(']') {
                return self.fail("expected `]` after the quoted key", after + 1);
            }
            self.at = after + 1;
            return Ok(PathSegment::Key(key));
        }
        let Some(close) = inner.find(']') else {
            return self.fail(
                "`[` is never closed: expected a number or a quoted key, then `]`",
                self.text.len(),
            );
        };
        let body = &inner[..close];
        match body.parse::<usize>() {
            Ok(i) if body.chars().all(|c| c.is_ascii_digit()) => {
                self.at = open + 1 + close + 1;
                Ok(PathSegment::Index(i))
            }
            _ => self.fail(
                format!("`[{body}]` is not a step: expected a number like `[0]` or a quoted key like `[\"name\"]`"),
                open + 1 + close + 1,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn paths_round_trip_through_their_printed_form() {
        for text in [
            "labels",
            "labels.team",
            "items[1]",
            "items[1].name",
            "annotations[\"eks.amazonaws.com/role-arn\"]",
            "a[\"\"]",
            "a[\"with \\\"quote\\\"\"][0]",
        ] {
            assert_eq!(p(text).to_string(), text);
        }
        assert_eq!(
            p("labels.team").steps,
            [PathSegment::Key("team".into())],
            "a dotted key is a key"
        );
        assert_eq!(p("inputs.items[1]").steps[1], PathSegment::Index(1));
    }

    #[test]
    fn malformed_paths_say_what_was_expected_and_where() {
        for (text, says, span) in [
            ("inputs[", "never closed", 6..7),
            ("a..b", "empty step", 1..2),
            ("items[x", "never closed", 5..7),
            ("items[x]", "not a step", 5..8),
            ("", "attribute name", 0..1),
            ("1abc", "not an attribute name", 0..4),
            ("a[\"k\"x", "expected `]`", 1..6),
            ("a]", "expected `.` or `[`", 1..2),
        ] {
            let e = AttrPath::parse(text).expect_err(text);
            assert!(e.message.contains(says), "{text}: {}", e.message);
            assert_eq!(e.span, span, "{text}");
        }
    }

    #[test]
    fn a_path_covers_itself_and_what_lies_under_it() {
        assert!(p("labels").covers(&p("labels.team")));
        assert!(p("labels.team").covers(&p("labels.team")));
        assert!(p("items[1]").covers(&p("items[1].name")));
        assert!(!p("items[1]").covers(&p("items[10]")));
        assert!(!p("labels.team").covers(&p("labels")));
        assert!(!p("label").covers(&p("labels")));
    }

    #[test]
    fn copy_from_keeps_the_recorded_value_at_a_key_or_an_index() {
        let recorded: Map = match Value::from(serde_json::json!({
            "inputs": {"items": ["a", "b"], "team": "x"}
        })) {
            Value::Map(m) => m,
            _ => unreachable!(),
        };
        let mut desired: Map = match Value::from(serde_json::json!({
            "inputs": {"items": ["a", "B", "c"], "team": "y", "new": 1}
        })) {
            Value::Map(m) => m,
            _ => unreachable!(),
        };
        p("inputs.items[1]").copy_from(&mut desired, &recorded);
        p("inputs.new").copy_from(&mut desired, &recorded);
        p("inputs.items[2]").copy_from(&mut desired, &recorded);
        assert_eq!(
            Value::Map(desired),
            Value::from(serde_json::json!({
                "inputs": {"items": ["a", "b", "c"], "team": "y"}
            }))
        );
    }
}
