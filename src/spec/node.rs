//! The raw form of a spec: the TOML document as an owned tree in which every
//! key and value keeps its byte span, so that every later check can still
//! point into the file. Nothing is interpreted here.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A key with its span.
#[derive(Clone, Debug)]
pub struct Key {
    pub name: String,
    pub span: Range<usize>,
}

/// A TOML value with its span.
#[derive(Clone, Debug)]
pub struct Node {
    pub span: Range<usize>,
    pub kind: NodeKind,
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<(Key, Node)>),
}

impl Node {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Str(_) => "a string",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a float",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Datetime(_) => "a datetime",
            NodeKind::Array(_) => "an array",
            NodeKind::Table(_) => "a table",
        }
    }

    pub fn as_table(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            NodeKind::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// A parse failure with the span it points at.
pub struct SyntaxError {
    pub message: String,
    pub span: Option<Range<usize>>,
}

/// Parses TOML text, recovering where it can so that every syntax error is
/// reported at once.
pub fn parse(text: &str) -> (Node, Vec<SyntaxError>) {
    let (doc, errors) = DeTable::parse_recoverable(text);
    let mut errors: Vec<SyntaxError> = errors
        .into_iter()
        .map(|e| SyntaxError {
            message: e.message().trim().to_string(),
            span: e.span(),
        })
        .collect();
    let span = doc.span();
    let kind = table(doc.into_inner(), 0, &mut errors);
    (Node { span, kind }, errors)
}

/// Why `inf` and `nan` are refused wherever a value is written.
pub const NON_FINITE: &str = "`inf` and `nan` cannot be used: every value is recorded in the state as JSON, which has no such numbers; write a finite number";

/// Tables and arrays nested deeper than this are refused where they start:
/// values are recorded in the state, which must stay readable.
pub const MAX_DEPTH: usize = meshmon_provider_sdk::value::MAX_DEPTH;

fn table(t: DeTable<'_>, depth: usize, errors: &mut Vec<SyntaxError>) -> NodeKind {
    let mut fields: Vec<(Key, Node)> = t
        .into_iter()
        .map(|(k, v)| {
            let key = Key {
                span: k.span(),
                name: k.into_inner().into_owned(),
            };
            (key, node(v, depth + 1, errors))
        })
        .collect();
    // Tables are read in name order, whatever order they are written in.
    fields.sort_unstable_by(|a, b| a.0.name.cmp(&b.0.name));
    NodeKind::Table(fields)
}

fn node(v: Spanned<DeValue<'_>>, depth: usize, errors: &mut Vec<SyntaxError>) -> Node {
    let span = v.span();
    let nested = matches!(v.get_ref(), DeValue::Array(_) | DeValue::Table(_));
    if nested && depth > MAX_DEPTH {
        errors.push(SyntaxError {
            message: format!("values nested more than {MAX_DEPTH} levels deep are not supported"),
            span: Some(span.clone()),
        });
        return Node {
            span,
            kind: NodeKind::Table(Vec::new()),
        };
    }
    let kind = match v.into_inner() {
        DeValue::String(s) => NodeKind::Str(s.into_owned()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(n) => NodeKind::Int(n),
                Err(_) => {
                    errors.push(SyntaxError {
                        message: format!(
                            "integer does not fit in 64 bits (from {} to {})",
                            i64::MIN,
                            i64::MAX
                        ),
                        span: Some(span.clone()),
                    });
                    NodeKind::Int(0)
                }
            }
        }
        DeValue::Float(f) => {
            let n: f64 = f.as_str().replace('_', "").parse().unwrap_or(f64::NAN);
            if !n.is_finite() {
                errors.push(SyntaxError {
                    message: NON_FINITE.into(),
                    span: Some(span.clone()),
                });
            }
            NodeKind::Float(n)
        }
        DeValue::Boolean(b) => NodeKind::Bool(b),
        DeValue::Datetime(d) => NodeKind::Datetime(d.to_string()),
        DeValue::Array(a) => {
            NodeKind::Array(a.into_iter().map(|e| node(e, depth + 1, errors)).collect())
        }
        DeValue::Table(t) => table(t, depth, errors),
    };
    Node { span, kind }
}
