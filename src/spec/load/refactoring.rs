//! `[[moved]]` and `[[removed]]`: how a spec says what became of objects
//! its state records under addresses it no longer declares.
//!
//!     [[moved]]
//!     from = "aws_iam_role.collector"
//!     to = "aws_iam_role.amp_collector"
//!
//!     [[removed]]
//!     from = "aws_eks_cluster.main"
//!     destroy = false
//!
//! A move renames the recorded object (no call reaches the cloud); a
//! removal with `destroy = false` forgets it, leaving it in the cloud;
//! with `destroy = true` (the default, as in Terraform) it is destroyed as
//! if the block had simply been deleted. Both are checked once every
//! resource is declared: `to` must be declared, `from` must not be.

use std::collections::BTreeMap;

use super::super::{Moved, Removed};
use super::{Loader, Node, NodeKind};
use crate::addr::Address;
use crate::diag::did_you_mean;

const MOVED_KEYS: &[&str] = &["from", "to"];
const REMOVED_KEYS: &[&str] = &["from", "destroy"];

/// One `[[moved]]` or `[[removed]]` table: its fields and its span.
type Entry = (Vec<(super::Key, Node)>, std::ops::Range<usize>);

impl Loader<'_> {
    /// The entries of `[[moved]]`.
    pub(super) fn moved(&mut self, node: Option<&Node>) -> Vec<Moved> {
        let mut out: Vec<Moved> = Vec::new();
        let mut sources: BTreeMap<Address, ()> = BTreeMap::new();
        let mut targets: BTreeMap<Address, ()> = BTreeMap::new();
        for (fields, span) in self.entries(
            node,
            "moved",
            "[[moved]]\nfrom = \"TYPE.OLD\"\nto = \"TYPE.NEW\"",
        ) {
            let mut from = None;
            let mut to = None;
            for (k, v) in &fields {
                match k.name.as_str() {
                    "from" => from = self.entry_address(v, "`from`"),
                    "to" => to = self.entry_address(v, "`to`"),
                    _ => self.unknown_key(k, "a `moved` entry", MOVED_KEYS),
                }
            }
            self.require(&fields, &span, "moved", MOVED_KEYS);
            let (Some((from, from_span)), Some((to, to_span))) = (from, to) else {
                continue;
            };
            if from.type_name() != to.type_name() {
                self.err(
                    format!(
                        "`{from}` cannot move to `{to}`: a move keeps the object, so both must be of type `{}`",
                        from.type_name()
                    ),
                    to_span.clone(),
                    "another type",
                );
                continue;
            }
            if from == to {
                self.err(
                    format!("`{from}` moves to itself"),
                    to_span,
                    "the same address",
                );
                continue;
            }
            if self.declares(&from) {
                let d = self.err(
                    format!("`{from}` is still declared, so nothing moves away from it"),
                    from_span,
                    "still declared",
                );
                d.help = Some(format!(
                    "remove [resources.{}.{}] or this entry",
                    from.type_name(),
                    from.name()
                ));
                continue;
            }
            if !self.may_declare(&to) {
                let hint = did_you_mean(
                    &to.to_string(),
                    self.addresses.keys().map(ToString::to_string),
                );
                let d = self.err(
                    format!("`{to}` is not declared, so nothing can move to it"),
                    to_span,
                    "no such resource",
                );
                d.help = Some(hint.unwrap_or_else(|| {
                    format!("declare [resources.{}.{}]", to.type_name(), to.name())
                }));
                continue;
            }
            if sources.insert(from.clone(), ()).is_some() {
                self.err(format!("`{from}` moves twice"), from_span, "moved already");
                continue;
            }
            if targets.insert(to.clone(), ()).is_some() {
                self.err(
                    format!("two objects move to `{to}`"),
                    to_span,
                    "a target already",
                );
                continue;
            }
            out.push(Moved { from, to, span });
        }
        out
    }

    /// The entries of `[[removed]]`.
    pub(super) fn removed(&mut self, node: Option<&Node>, moved: &[Moved]) -> Vec<Removed> {
        let mut out: Vec<Removed> = Vec::new();
        for (fields, span) in self.entries(
            node,
            "removed",
            "[[removed]]\nfrom = \"TYPE.NAME\"\ndestroy = false",
        ) {
            let mut from = None;
            let mut destroy = true;
            for (k, v) in &fields {
                match k.name.as_str() {
                    "from" => from = self.entry_address(v, "`from`"),
                    "destroy" => destroy = self.expect_bool(v, "`destroy`").unwrap_or(true),
                    _ => self.unknown_key(k, "a `removed` entry", REMOVED_KEYS),
                }
            }
            self.require(&fields, &span, "removed", &["from"]);
            let Some((from, from_span)) = from else {
                continue;
            };
            if self.declares(&from) {
                let d = self.err(
                    format!("`{from}` is still declared, so it is not removed"),
                    from_span,
                    "still declared",
                );
                d.help = Some(format!(
                    "delete [resources.{}.{}] from the spec",
                    from.type_name(),
                    from.name()
                ));
                continue;
            }
            if moved.iter().any(|m| m.from == from) || out.iter().any(|r| r.from == from) {
                self.err(
                    format!("`{from}` is named by another `moved` or `removed` entry"),
                    from_span,
                    "named twice",
                );
                continue;
            }
            out.push(Removed {
                from,
                destroy,
                span,
            });
        }
        out
    }

    /// The tables of an array-of-tables key, with their spans.
    fn entries(&mut self, node: Option<&Node>, key: &str, example: &str) -> Vec<Entry> {
        let Some(node) = node else {
            return Vec::new();
        };
        let NodeKind::Array(items) = &node.kind else {
            let d = self.err(
                format!(
                    "`{key}` must be written as [[{key}]] tables, found {}",
                    node.kind_name()
                ),
                node.span.clone(),
                "expected an array of tables",
            );
            d.help = Some(format!("write:\n{example}"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            if let Some(fields) = self.expect_table(item, &format!("a `{key}` entry")) {
                out.push((fields.to_vec(), item.span.clone()));
            }
        }
        out
    }

    /// An address written as a string, with its span.
    fn entry_address(&mut self, v: &Node, what: &str) -> Option<(Address, std::ops::Range<usize>)> {
        let text = self.expect_str(v, what)?;
        match Address::parse(&text) {
            Ok(a) if !a.is_data() && a.components().is_empty() => Some((a, v.span.clone())),
            Ok(_) => {
                self.err(
                    format!("{what} must name a resource as TYPE.NAME or TYPE.NAME[\"key\"], not `{text}`"),
                    v.span.clone(),
                    "expected TYPE.NAME",
                );
                None
            }
            Err(e) => {
                self.err(
                    format!("{what} is not an address: {e}"),
                    v.span.clone(),
                    "expected TYPE.NAME",
                );
                None
            }
        }
    }

    /// Errors for each of `keys` an entry lacks.
    fn require(
        &mut self,
        fields: &[(super::Key, Node)],
        span: &std::ops::Range<usize>,
        entry: &str,
        keys: &[&str],
    ) {
        for key in keys {
            if !fields.iter().any(|(k, _)| k.name == *key) {
                self.err(
                    format!("a `{entry}` entry is missing `{key}`"),
                    span.clone(),
                    format!("`{key}` must be set here"),
                );
            }
        }
    }
}

impl Loader<'_> {
    /// Whether the spec declares a block at `address` (not keyed). An
    /// instance of a keyed block is checked when planning, once its keys
    /// are known.
    fn declares(&self, address: &Address) -> bool {
        address.key().is_none()
            && self.addresses.contains_key(address)
            && !self.keyed.contains(address)
    }

    /// Whether the spec may declare the object at `address`: `declares`,
    /// or an instance of a keyed block.
    fn may_declare(&self, address: &Address) -> bool {
        match address.key() {
            None => self.declares(address),
            Some(_) => self.keyed.contains(&address.config()),
        }
    }
}
