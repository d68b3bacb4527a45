//! The raw form of a spec: the TOML document as an owned tree in which every
//! key and value keeps its byte span, so that every later check can still
//! point into the file. Nothing is interpreted here.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
///
/// A long text is cut into pieces where table headers start, parsed by two
/// threads a piece at a time, and the pieces' trees are joined: faster, and
/// the parser's working memory is a piece's, not the whole text's. Whenever
/// that might read differently from parsing the text whole (see [`join`]),
/// it is parsed whole.
pub fn parse(text: &str) -> (Node, Vec<SyntaxError>) {
    let starts = piece_starts(text);
    if starts.len() > 1
        && let Some(root) = parse_pieces(text, &starts)
    {
        return (root, Vec::new());
    }
    parse_at(text, 0)
}

/// Parses `text`, which starts `offset` bytes into the spec, with every
/// span pointing into the spec.
fn parse_at(text: &str, offset: usize) -> (Node, Vec<SyntaxError>) {
    let (doc, errors) = DeTable::parse_recoverable(text);
    let mut errors: Vec<SyntaxError> = errors
        .into_iter()
        .map(|e| SyntaxError {
            message: e.message().trim().to_string(),
            span: e.span().map(|s| shifted(s, offset)),
        })
        .collect();
    let span = doc.span();
    let kind = table(doc.into_inner(), 0, offset, &mut errors);
    (Node { span, kind }, errors)
}

/// About how long a piece is. Shorter texts are parsed whole: a thread
/// costs more than it saves.
const PIECE_BYTES: usize = 1 << 20;

/// Where each piece starts: 0, then the first line opening with `[` at or
/// after every `PIECE_BYTES`. Whether such a line is a table header (and
/// not inside a multi-line string, array or inline table) is settled by the
/// piece before it parsing cleanly: a text cut inside any of those is
/// unterminated.
fn piece_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut from = PIECE_BYTES;
    while from < text.len() {
        let Some(at) = text.as_bytes()[from..].windows(2).position(|w| w == b"\n[") else {
            break;
        };
        let start = from + at + 1;
        starts.push(start);
        from = start + PIECE_BYTES;
    }
    starts
}

/// The pieces starting at `starts`, parsed and joined in order; `None`
/// when any has an error (parsing whole reports it as it should read) or
/// they cannot be joined.
fn parse_pieces(text: &str, starts: &[usize]) -> Option<Node> {
    let piece = |i: usize| {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        (starts[i], &text[starts[i]..end])
    };
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    // Each thread takes the next piece until none are left or one failed.
    let work = || {
        let mut parsed = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= starts.len() || failed.load(Ordering::Relaxed) {
                return parsed;
            }
            let (offset, text) = piece(i);
            let (node, errors) = parse_at(text, offset);
            if !errors.is_empty() {
                failed.store(true, Ordering::Relaxed);
                return parsed;
            }
            parsed.push((i, node));
        }
    };
    let mut parsed = std::thread::scope(|scope| {
        let other = scope.spawn(work);
        let mut parsed = work();
        parsed.extend(other.join().ok()?);
        Some(parsed)
    })?;
    if failed.into_inner() {
        return None;
    }
    parsed.sort_unstable_by_key(|(i, _)| *i);
    let mut pieces = parsed.into_iter().map(|(_, node)| node);
    let mut root = pieces.next()?;
    let NodeKind::Table(fields) = &mut root.kind else {
        return None;
    };
    for piece in pieces {
        let NodeKind::Table(more) = piece.kind else {
            return None;
        };
        if !join(text, fields, more) {
            return None;
        }
    }
    Some(root)
}

/// Adds a later piece's fields to those before it. A name both use is
/// joined only where it is, in both, a table a header implied on the way
/// to its own (`resources` in `[resources.null_resource.a]`): only those
/// two headers in one text build the same table. Anything else (a table
/// defined twice, a value, an array of tables, a table made by dotted keys)
/// is left to parsing the text whole, which reports or builds it as TOML
/// says.
fn join(text: &str, fields: &mut Vec<(Key, Node)>, more: Vec<(Key, Node)>) -> bool {
    let mut joined = Vec::with_capacity(fields.len() + more.len());
    let mut more = more.into_iter().peekable();
    for (key, mut node) in std::mem::take(fields) {
        while let Some(next) = more.next_if(|(k, _)| k.name < key.name) {
            joined.push(next);
        }
        if let Some((_, other)) = more.next_if(|(k, _)| k.name == key.name) {
            let (NodeKind::Table(t), NodeKind::Table(o)) = (&mut node.kind, other.kind) else {
                return false;
            };
            if !(implied(text, &node.span) && implied(text, &other.span) && join(text, t, o)) {
                return false;
            }
        }
        joined.push((key, node));
    }
    joined.extend(more);
    *fields = joined;
    true
}

/// Whether a table spanning `span` was implied by a header naming a table
/// inside it: its span is then its key's, on a header line. A table a
/// header defines spans the header (it starts with `[`), an inline table
/// its braces, and one made by dotted keys a key on a key/value line.
fn implied(text: &str, span: &Range<usize>) -> bool {
    if matches!(text.as_bytes().get(span.start), None | Some(b'[' | b'{')) {
        return false;
    }
    let line = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    text[line..span.start]
        .trim_start_matches([' ', '\t'])
        .starts_with('[')
}

fn shifted(span: Range<usize>, offset: usize) -> Range<usize> {
    span.start + offset..span.end + offset
}

/// Why `inf` and `nan` are refused wherever a value is written.
pub const NON_FINITE: &str = "`inf` and `nan` cannot be used: every value is recorded in the state as JSON, which has no such numbers; write a finite number";

/// Tables and arrays nested deeper than this are refused where they start:
/// values are recorded in the state, which must stay readable.
pub const MAX_DEPTH: usize = meshmon_provider_sdk::value::MAX_DEPTH;

fn table(t: DeTable<'_>, depth: usize, offset: usize, errors: &mut Vec<SyntaxError>) -> NodeKind {
    let mut fields: Vec<(Key, Node)> = t
        .into_iter()
        .map(|(k, v)| {
            let key = Key {
                span: shifted(k.span(), offset),
                name: k.into_inner().into_owned(),
            };
            (key, node(v, depth + 1, offset, errors))
        })
        .collect();
    // Tables are read in name order, whatever order they are written in.
    fields.sort_unstable_by(|a, b| a.0.name.cmp(&b.0.name));
    NodeKind::Table(fields)
}

fn node(
    v: Spanned<DeValue<'_>>,
    depth: usize,
    offset: usize,
    errors: &mut Vec<SyntaxError>,
) -> Node {
    let span = shifted(v.span(), offset);
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
        DeValue::Array(a) => NodeKind::Array(
            a.into_iter()
                .map(|e| node(e, depth + 1, offset, errors))
                .collect(),
        ),
        DeValue::Table(t) => table(t, depth, offset, errors),
    };
    Node { span, kind }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Lines a spec may hold, chosen so that pieces meet every case the
    /// join must refuse: tables defined twice, tables made by dotted keys,
    /// arrays of tables, and `[` opening a line inside a multi-line
    /// string, array or inline table.
    const LINES: &[&str] = &[
        "[a]",
        "[a.b]",
        "[a.b.c]",
        "[b.c]",
        "[ a . b . d ]",
        "[\"a\".e]",
        "[[a]]",
        "[[a.f]]",
        "[[g]]",
        "[g.h]",
        "x = 1",
        "b.c = 2",
        "b.z = 2",
        "c = { d = 1 }",
        "h = 3",
        "s = \"\"\"\n[a]\n\"\"\"",
        "l = '''\n[b.c]\n'''",
        "arr = [\n[1],\n]",
        "w = {\n  k = 1,\n}",
        "# [a]",
        "",
        "n = 99999999999999999999",
    ];

    fn shown(node: &Node) -> String {
        format!("{node:?}")
    }

    proptest! {
        /// Wherever a text is cut, once or at every line opening with `[`,
        /// the joined pieces are what parsing it whole gives, or the join
        /// declines.
        #[test]
        fn joined_pieces_read_as_the_whole_text(picks in prop::collection::vec(0..LINES.len(), 1..14)) {
            let text = picks.iter().map(|&i| LINES[i]).collect::<Vec<_>>().join("\n");
            let (whole, whole_errors) = parse_at(&text, 0);
            let cuts: Vec<usize> = text.match_indices("\n[").map(|(at, _)| at + 1).collect();
            let mut ways: Vec<Vec<usize>> = cuts.iter().map(|&c| vec![0, c]).collect();
            ways.push(std::iter::once(0).chain(cuts.iter().copied()).collect());
            for starts in ways {
                if let Some(joined) = parse_pieces(&text, &starts) {
                    prop_assert!(whole_errors.is_empty(), "joined a text with errors: {text:?}");
                    prop_assert_eq!(shown(&joined), shown(&whole), "cut at {:?} of {:?}", starts, text);
                }
            }
        }
    }

    #[test]
    fn a_long_spec_of_resources_is_parsed_in_pieces_as_it_reads_whole() {
        let mut text = String::from(
            "[meshmon]\nname = \"long\"\n\n[variables.region]\ndefault = \"eu-west-1\"\n",
        );
        let mut n: usize = 0;
        while text.len() < 3 * PIECE_BYTES {
            text.push_str(&format!(
                "\n[resources.null_resource.r{n}]\ninputs = {{ prev = \"${{null_resource.r{}.id}}\", n = {n} }}\n",
                n.saturating_sub(1)
            ));
            n += 1;
        }
        text.push_str("\n[outputs.last]\nvalue = \"${null_resource.r0.id}\"\n");
        let starts = piece_starts(&text);
        assert_eq!(starts.len(), 3);
        assert!(parse_pieces(&text, &starts).is_some(), "the pieces join");
        let (whole, errors) = parse_at(&text, 0);
        assert!(errors.is_empty());
        let (parsed, errors) = parse(&text);
        assert!(errors.is_empty());
        assert_eq!(shown(&parsed), shown(&whole));
    }

    #[test]
    fn a_table_defined_in_two_pieces_is_reported_as_parsing_whole_does() {
        let mut text = String::from("[resources.null_resource.a]\nn = 1\n");
        while text.len() < 2 * PIECE_BYTES {
            text.push_str("# padding to make the text long enough to be cut in two\n");
        }
        text.push_str("[resources.null_resource.a]\nn = 2\n");
        assert_eq!(piece_starts(&text).len(), 2);
        let (_, errors) = parse(&text);
        let (_, whole) = parse_at(&text, 0);
        let listed = |e: &[SyntaxError]| -> Vec<_> {
            e.iter()
                .map(|e| (e.message.clone(), e.span.clone()))
                .collect()
        };
        assert_eq!(listed(&errors), listed(&whole));
        assert_eq!(errors[0].message, "duplicate key");
        let span = errors[0].span.clone().expect("a span");
        assert!(span.start > PIECE_BYTES, "points at the second definition");
    }
}
