//! Parsing an address's string form; the inverse of its `Display`.

use std::ops::Range;

use super::address::{Address, Mode, Step};
use super::valid_name;

/// Text that is not an address, with where it goes wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AddressError {
    pub message: String,
    /// Byte range within the parsed text.
    pub span: Range<usize>,
}

const EXPECTED: &str =
    "expected TYPE.NAME, TYPE.NAME[\"key\"], data.TYPE.NAME or component.NAME[\"key\"].TYPE.NAME";

impl Address {
    /// Parses the string form: `TYPE.NAME`, `TYPE.NAME["key"]`,
    /// `data.TYPE.NAME`, `component.NAME["key"].TYPE.NAME`.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let mut p = Parser { text, at: 0 };
        let mut components = Vec::new();
        loop {
            let start = p.at;
            let first = p.name()?;
            match first {
                "component" => {
                    p.dot()?;
                    let name = p.name()?.to_string();
                    let key = p.key()?;
                    p.dot()?;
                    components.push(Step { name, key });
                }
                "data" if p.rest().starts_with('.') => {
                    p.dot()?;
                    let type_name = p.name()?.to_string();
                    return p.finish(components, Mode::Data, type_name);
                }
                _ => {
                    let type_name = first.to_string();
                    if !p.rest().starts_with('.') {
                        return Err(p.error(
                            format!("`{}` is not an address: {EXPECTED}", &text[start..]),
                            start..text.len(),
                        ));
                    }
                    return p.finish(components, Mode::Managed, type_name);
                }
            }
        }
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn error(&self, message: String, span: Range<usize>) -> AddressError {
        AddressError { message, span }
    }

    /// `start..end` within the text, at least one character wide where the
    /// text has one (a fault at the very end points at its last character).
    fn span(&self, start: usize, end: usize) -> Range<usize> {
        let len = self.text.len();
        let start = start.min(len.saturating_sub(1));
        start..end.clamp(start + 1, len.max(start + 1)).min(len.max(1))
    }

    fn name(&mut self) -> Result<&'a str, AddressError> {
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(self.rest().len());
        let name = &self.rest()[..len];
        if !valid_name(name) {
            let end = self.rest()[len..]
                .find(['.', '['])
                .map_or(self.text.len(), |i| self.at + len + i);
            let shown = &self.text[self.at..end];
            return Err(self.error(
                if shown.is_empty() {
                    format!("the address ends too early: {EXPECTED}")
                } else {
                    format!(
                        "{shown:?} is not a name: names start with a letter or `_` and hold letters, digits, `_` and `-`"
                    )
                },
                self.span(self.at, end),
            ));
        }
        self.at += len;
        Ok(name)
    }

    fn dot(&mut self) -> Result<(), AddressError> {
        if self.rest().starts_with('.') {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(
                format!("expected `.` here: {EXPECTED}"),
                self.span(self.at, self.at + 1),
            ))
        }
    }

    /// An optional `["key"]`.
    fn key(&mut self) -> Result<Option<String>, AddressError> {
        let Some(inner) = self.rest().strip_prefix('[') else {
            return Ok(None);
        };
        let open = self.at;
        if !inner.starts_with('"') {
            let close = inner.find(']').map_or(self.text.len(), |i| open + 2 + i);
            return Err(self.error(
                "an instance key is a quoted string, like [\"prod\"]: keys are names, never positions".into(),
                open..close,
            ));
        }
        let mut de = serde_json::Deserializer::from_str(inner).into_iter::<String>();
        let key = match de.next() {
            Some(Ok(k)) => k,
            _ => {
                return Err(self.error(
                    "a quoted key is never closed: expected `\"]`".into(),
                    open..self.text.len(),
                ));
            }
        };
        let after = open + 1 + de.byte_offset();
        if !self.text[after..].starts_with(']') {
            return Err(self.error(
                "expected `]` after the quoted key".into(),
                open..(after + 1).min(self.text.len()),
            ));
        }
        self.at = after + 1;
        Ok(Some(key))
    }

    fn finish(
        mut self,
        components: Vec<Step>,
        mode: Mode,
        type_name: String,
    ) -> Result<Address, AddressError> {
        self.dot()?;
        let name = self.name()?.to_string();
        let key = self.key()?;
        if !self.rest().is_empty() {
            return Err(self.error(
                format!("unexpected {:?} after the address: {EXPECTED}", self.rest()),
                self.at..self.text.len(),
            ));
        }
        Ok(Address::new(components, mode, type_name, name, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_round_trips() {
        for text in [
            "aws_iam_role.collector",
            "aws_iam_role.collector[\"prod\"]",
            "data.aws_eks_cluster.main",
            "data.aws_eks_cluster.main[\"a b\"]",
            "component.cluster[\"prod\"].aws_iam_role.collector",
            "component.outer.component.inner[\"x\"].data.aws_vpc.v",
            "null_resource.k[\"with \\\"quotes\\\" and \\u0000\"]",
        ] {
            let a = Address::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(a.to_string(), text);
        }
        let a = Address::parse("component.c[\"k\"].data.t.n[\"i\"]").unwrap();
        assert!(a.is_data());
        assert_eq!(a.key(), Some("i"));
        assert_eq!(a.components()[0].key.as_deref(), Some("k"));
        assert_eq!(a.config().to_string(), "component.c.data.t.n");
        assert!(a.config().selects(&a));
        assert!(!a.selects(&a.config()));
    }

    #[test]
    fn malformed_addresses_point_at_the_fault() {
        for (text, says) in [
            ("", "ends too early"),
            ("aws_iam_role", "is not an address"),
            ("aws_iam_role.", "ends too early"),
            ("a.b\0", "unexpected"),
            ("a.b[0]", "quoted string"),
            ("a.b[\"k\"", "expected `]`"),
            ("a.b[\"k", "never closed"),
            ("1a.b", "is not a name"),
            ("component.c", "expected `.`"),
            ("a.b.c", "unexpected"),
            ("data.data", "expected `.`"),
        ] {
            let e = Address::parse(text).expect_err(text);
            assert!(e.message.contains(says), "{text:?}: {}", e.message);
            assert!(e.span.end <= text.len().max(1), "{text:?}: {:?}", e.span);
        }
    }

    #[test]
    fn addresses_order_by_their_parts_and_keys_select_instances() {
        let mut v: Vec<Address> = ["b.x", "a.y[\"2\"]", "a.y", "a.y[\"1\"]", "data.a.y"]
            .iter()
            .map(|t| Address::parse(t).unwrap())
            .collect();
        v.sort();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["a.y", "a.y[\"1\"]", "a.y[\"2\"]", "b.x", "data.a.y"]
        );
        let set = Address::resource("a", "y");
        assert!(set.selects(&set.with_key("1")));
        assert!(!set.with_key("1").selects(&set.with_key("2")));
        assert!(!Address::data("a", "y").selects(&set));
    }
}
