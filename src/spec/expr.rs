//! The expression language inside spec strings: `${var.NAME}`,
//! `${TYPE.NAME.ATTR.key[0]}`, `file("path")`, alone or interpolated. `$${`
//! writes a literal `${`. A string that is one `${…}` and nothing else keeps
//! the referenced value's type (a list stays a list).

use std::ops::Range;

use meshmon_provider_sdk::PathSegment;

use crate::addr::Address;

/// A reference or function call found inside `${…}`.
#[derive(Clone, Debug, PartialEq)]
pub enum RefExpr {
    Var(String),
    /// `TARGET.ATTR.path…`: an attribute of the object `target` names.
    Attr {
        target: Address,
        /// `TYPE.NAME[each.key].ATTR`: `target` is the keyed block, and
        /// the instance is the one with the referring instance's key.
        each_key: bool,
        attr: String,
        path: Vec<PathSegment>,
    },
    File(String),
    /// `component.NAME.OUTPUT` or `component.NAME["key"].OUTPUT`: an output
    /// of a component instance; replaced by the output's expression when
    /// the component is instanced.
    Output {
        component: String,
        key: Option<String>,
        output: String,
        path: Vec<PathSegment>,
    },
    /// `each.key` inside a block with `for_each`.
    EachKey,
    /// `each.value.path…` inside a block with `for_each`.
    EachValue(Vec<PathSegment>),
}

impl RefExpr {
    /// The address a reference points at, if any.
    pub fn address(&self) -> Option<Address> {
        match self {
            RefExpr::Attr { target, .. } => Some(target.clone()),
            _ => None,
        }
    }
}

/// One piece of a template string.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Lit(String),
    Ref(RefExpr, Range<usize>),
}

/// A parse error at a byte offset range within the string's content.
#[derive(Debug, PartialEq)]
pub struct ExprError {
    pub message: String,
    pub span: Range<usize>,
}

/// Splits a string into literal text and `${…}` references. Offsets in the
/// returned spans are relative to the start of the string's content.
pub fn parse_template(s: &str) -> Result<Vec<Part>, ExprError> {
    let trimmed = s.trim();
    // `file("…")` written as the whole value, without `${…}`.
    if trimmed.starts_with("file(") && trimmed.ends_with(')') && !s.contains("${") {
        let start = s.find("file(").unwrap_or(0);
        let r = parse_ref(trimmed, start)?;
        return Ok(vec![Part::Ref(r, start..start + trimmed.len())]);
    }
    let mut parts = Vec::new();
    let mut lit = String::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with("$${") {
            lit.push_str("${");
            i += 3;
        } else if s[i..].starts_with("${") {
            let open = i;
            let close = find_close(s, i + 2).ok_or_else(|| ExprError {
                message: "`${` is never closed: expected `}`".into(),
                span: open..s.len(),
            })?;
            let inner = &s[i + 2..close];
            let r = parse_ref(inner, i + 2)?;
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Ref(r, open..close + 1));
            i = close + 1;
        } else {
            let ch_len = utf8_len(bytes[i]);
            lit.push_str(&s[i..i + ch_len]);
            i += ch_len;
        }
    }
    if !lit.is_empty() || parts.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Finds the `}` closing a `${`, skipping over quoted strings inside it.
fn find_close(s: &str, from: usize) -> Option<usize> {
    let mut in_str = false;
    let mut escaped = false;
    for (off, c) in s[from..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            '}' if !in_str => return Some(from + off),
            _ => {}
        }
    }
    None
}

fn ident_ok(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses the inside of `${…}`; `base` is its offset in the string.
fn parse_ref(inner: &str, base: usize) -> Result<RefExpr, ExprError> {
    let lead = inner.len() - inner.trim_start().len();
    let text = inner.trim();
    let span = base + lead..base + lead + text.len();
    let err = |message: String| ExprError {
        message,
        span: span.clone(),
    };
    if text.is_empty() {
        return Err(err(
            "empty expression: expected `var.NAME`, `TYPE.NAME.ATTR` or `file(\"path\")`".into(),
        ));
    }
    if let Some(rest) = text.strip_prefix("file(") {
        let arg = rest
            .strip_suffix(')')
            .ok_or_else(|| err("expected `)` to close `file(`".into()))?
            .trim();
        let path = parse_quoted(arg).ok_or_else(|| {
            err(format!(
                "`file` takes one quoted path, like file(\"manifests/app.yaml\"), not {arg}"
            ))
        })?;
        return Ok(RefExpr::File(path));
    }
    if text.contains('(') {
        let fname = text.split('(').next().unwrap_or_default();
        return Err(err(format!(
            "unknown function `{fname}`: the only function is `file(\"path\")`"
        )));
    }
    let (head, segs) = split_path(text).map_err(err)?;
    // `[each.key]` may only pick an instance, right after `TYPE.NAME`.
    let index = match (head.len(), head.first().map(String::as_str), segs.first()) {
        (2, _, Some(Seg::Each)) | (3, Some("data"), Some(Seg::Each)) => Some(Index::Each),
        (2, Some(h), Some(Seg::At(PathSegment::Key(k)))) if h != "var" && h != "each" => {
            Some(Index::Key(k.clone()))
        }
        (3, Some("data"), Some(Seg::At(PathSegment::Key(k)))) => Some(Index::Key(k.clone())),
        (2, Some(h), Some(Seg::At(PathSegment::Index(i)))) if h != "var" && h != "each" => {
            return Err(err(format!(
                "instance keys are strings: write `{}.{}[\"{i}\"]`",
                head[0], head[1]
            )));
        }
        _ => None,
    };
    let mut segs = segs.into_iter();
    let (mut head, mut path) = match index {
        Some(_) => {
            segs.next();
            // The identifiers after the key are the attribute and a path.
            let mut attr_and_path = Vec::new();
            for s in segs {
                match s {
                    Seg::At(p) => attr_and_path.push(p),
                    Seg::Each => {
                        return Err(err(
                            "`[each.key]` picks an instance: it goes right after TYPE.NAME".into(),
                        ));
                    }
                }
            }
            let mut rest = attr_and_path.into_iter();
            let mut head = head;
            match rest.next() {
                Some(PathSegment::Key(a)) => head.push(a),
                _ => {
                    return Err(err(format!(
                        "`{text}` names an instance, not a value: add the attribute, like `{text}.id`"
                    )));
                }
            }
            (head, rest.collect::<Vec<_>>())
        }
        None => {
            let mut path = Vec::new();
            for s in segs {
                match s {
                    Seg::At(p) => path.push(p),
                    Seg::Each => {
                        return Err(err(
                            "`[each.key]` picks an instance: write TYPE.NAME[each.key].ATTR".into(),
                        ));
                    }
                }
            }
            (head, path)
        }
    };
    let target = |mode_data: bool, t: &str, n: &str| {
        let a = if mode_data {
            Address::data(t, n)
        } else {
            Address::resource(t, n)
        };
        match &index {
            Some(Index::Key(k)) => a.with_key(k.clone()),
            _ => a,
        }
    };
    let each_key = matches!(index, Some(Index::Each));
    // Dotted names after the attribute are keys of its value.
    let split_attr = |head: &mut Vec<String>, at: usize, path: &mut Vec<PathSegment>| {
        let tail: Vec<PathSegment> = head.drain(at + 1..).map(PathSegment::Key).collect();
        path.splice(0..0, tail);
    };
    match head.as_slice() {
        [v, name] if v == "var" => {
            if !path.is_empty() {
                return Err(err(format!(
                    "variables have no attributes: write `var.{name}` alone"
                )));
            }
            Ok(RefExpr::Var(name.clone()))
        }
        [v, ..] if v == "var" => Err(err(format!(
            "`{text}` is not a variable reference: expected `var.NAME`"
        ))),
        [e, k] if e == "each" && k == "key" && path.is_empty() => Ok(RefExpr::EachKey),
        [e, v, ..] if e == "each" && v == "value" => {
            split_attr(&mut head, 1, &mut path);
            Ok(RefExpr::EachValue(path))
        }
        [e, ..] if e == "each" => Err(err(format!(
            "`{text}` is not a reference to the instance: expected `each.key` or `each.value`"
        ))),
        [c, _, _, ..] if c == "component" => {
            if each_key {
                return Err(err(
                    "a component instance is named by its key, like `component.NAME[\"prod\"].OUTPUT`".into(),
                ));
            }
            split_attr(&mut head, 2, &mut path);
            Ok(RefExpr::Output {
                component: head[1].clone(),
                key: match &index {
                    Some(Index::Key(k)) => Some(k.clone()),
                    _ => None,
                },
                output: head[2].clone(),
                path,
            })
        }
        [c, n] if c == "component" => Err(err(format!(
            "`component.{n}` names a component, not a value: add the output, like `component.{n}.OUTPUT`"
        ))),
        [d, _, _, _, ..] if d == "data" => {
            split_attr(&mut head, 3, &mut path);
            Ok(RefExpr::Attr {
                target: target(true, &head[1], &head[2]),
                each_key,
                attr: head[3].clone(),
                path,
            })
        }
        [d, t, n] if d == "data" => Err(err(format!(
            "`data.{t}.{n}` names a look-up, not a value: add the attribute, like `data.{t}.{n}.id`"
        ))),
        [_, _, _, ..] => {
            split_attr(&mut head, 2, &mut path);
            Ok(RefExpr::Attr {
                target: target(false, &head[0], &head[1]),
                each_key,
                attr: head[2].clone(),
                path,
            })
        }
        [t, n] => Err(err(format!(
            "`{t}.{n}` names a resource, not a value: add the attribute, like `{t}.{n}.id`"
        ))),
        _ => Err(err(format!(
            "`{text}` is not a reference: expected `var.NAME`, `TYPE.NAME.ATTR` or `data.TYPE.NAME.ATTR`"
        ))),
    }
}

/// How a reference picks an instance of a keyed block.
enum Index {
    Key(String),
    /// `[each.key]`: the instance with the referring instance's key.
    Each,
}

/// One step after the dotted head of a reference.
enum Seg {
    At(PathSegment),
    /// `[each.key]`.
    Each,
}

/// Splits `a.b.c[0]["k"].d` into dotted identifiers up to the first index and
/// the remaining path. Identifiers after an index become path keys.
fn split_path(text: &str) -> Result<(Vec<String>, Vec<Seg>), String> {
    let mut head = Vec::new();
    let mut path = Vec::new();
    let mut in_head = true;
    let mut rest = text;
    let mut first = true;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            in_head = false;
            let end = r
                .find(']')
                .ok_or_else(|| format!("`[` without `]` in `{text}`"))?;
            let idx = r[..end].trim();
            if idx == "each.key" {
                path.push(Seg::Each);
            } else if let Ok(i) = idx.parse::<usize>() {
                path.push(Seg::At(PathSegment::Index(i)));
            } else if let Some(k) = parse_quoted(idx) {
                path.push(Seg::At(PathSegment::Key(k)));
            } else {
                return Err(format!(
                    "index `[{idx}]` must be a number, a quoted key or `each.key`"
                ));
            }
            rest = &r[end + 1..];
            continue;
        }
        let r = if first {
            rest
        } else {
            rest.strip_prefix('.')
                .ok_or_else(|| format!("unexpected `{rest}` in `{text}`"))?
        };
        first = false;
        let end = r.find(['.', '[']).unwrap_or(r.len());
        let ident = &r[..end];
        // After an index, a bare number is a key too (`inputs.list[0].0`).
        let numeric_key = !in_head && ident.chars().all(|c| c.is_ascii_digit());
        if !ident_ok(ident) && !numeric_key {
            return Err(format!("`{ident}` is not a valid name in `{text}`"));
        }
        if in_head {
            head.push(ident.to_string());
        } else {
            path.push(Seg::At(PathSegment::Key(ident.to_string())));
        }
        rest = &r[end..];
    }
    Ok((head, path))
}

fn parse_quoted(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('"') {
        return None;
    }
    Some(inner.replace("\\\\", "\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(s: &str) -> Vec<RefExpr> {
        parse_template(s)
            .unwrap()
            .into_iter()
            .filter_map(|p| match p {
                Part::Ref(r, _) => Some(r),
                Part::Lit(_) => None,
            })
            .collect()
    }

    #[test]
    fn interpolation_splits_literals_and_refs() {
        let parts = parse_template("https://${aws_grafana_workspace.main.endpoint}/x").unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], Part::Lit("https://".into()));
        assert_eq!(parts[2], Part::Lit("/x".into()));
    }

    #[test]
    fn nested_paths_parse() {
        assert_eq!(
            refs("${null_resource.a.inputs.list[2][\"k\"].z}"),
            vec![RefExpr::Attr {
                target: Address::resource("null_resource", "a"),
                each_key: false,
                attr: "inputs".into(),
                path: vec![
                    PathSegment::Key("list".into()),
                    PathSegment::Index(2),
                    PathSegment::Key("k".into()),
                    PathSegment::Key("z".into()),
                ],
            }]
        );
    }

    #[test]
    fn escaped_dollar_is_literal() {
        assert_eq!(
            parse_template("a $${b} c").unwrap(),
            vec![Part::Lit("a ${b} c".into())]
        );
    }

    #[test]
    fn file_function_alone_or_interpolated() {
        assert_eq!(
            refs("file(\"m/a.yaml\")"),
            vec![RefExpr::File("m/a.yaml".into())]
        );
        assert_eq!(
            refs("${file(\"m/a.yaml\")}"),
            vec![RefExpr::File("m/a.yaml".into())]
        );
    }

    #[test]
    fn malformed_expressions_are_errors() {
        assert!(parse_template("${var.x").is_err());
        assert!(parse_template("${null_resource.a}").is_err());
        assert!(parse_template("${upper(var.x)}").is_err());
        assert!(parse_template("${}").is_err());
        let e = parse_template("ab ${ var.x.y }").unwrap_err();
        assert_eq!(e.span, 6..13);
    }
}
