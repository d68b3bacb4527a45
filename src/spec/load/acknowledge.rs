//! `[meshmon] acknowledge`: warnings a team has seen and accepted, per
//! resource, so that every CI step stops repeating them.
//!
//!     acknowledge = [
//!       { warning = "app-mesh-end-of-life", resources = ["helm_release.appmesh_controller"], reason = "migrating in Q1" },
//!     ]
//!
//! An acknowledgement names one warning code and the resources it accepts
//! it for; a warning elsewhere, or a new kind of warning on the same
//! resource, still shows. Checked after every resource is declared, so an
//! address may name any resource of the spec.

use super::super::{Acknowledgement, Spec};
use super::{Loader, NodeKind};
use crate::addr::Address;
use crate::diag::{Diag, Diagnostics, did_you_mean};
use crate::lint;

const KEYS: &[&str] = &["warning", "resources", "reason"];

const EXAMPLE: &str = "acknowledge = [{ warning = \"app-mesh-end-of-life\", resources = [\"helm_release.appmesh_controller\"] }]";

impl Loader<'_> {
    pub(super) fn acknowledgements(
        &mut self,
        meshmon: Option<&super::Node>,
    ) -> Vec<Acknowledgement> {
        let Some(node) = meshmon
            .and_then(|m| m.as_table())
            .and_then(|t| t.iter().find(|(k, _)| k.name == "acknowledge"))
            .map(|(_, v)| v)
        else {
            return Vec::new();
        };
        let NodeKind::Array(items) = &node.kind else {
            let d = self.err(
                format!(
                    "`acknowledge` must be an array of tables, found {}",
                    node.kind_name()
                ),
                node.span.clone(),
                "expected [{ warning = …, resources = […] }]",
            );
            d.help = Some(format!("write {EXAMPLE}"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Some(fields) = self.expect_table(item, "an `acknowledge` entry") else {
                continue;
            };
            let mut warning = None;
            let mut resources = Vec::new();
            let mut reason = None;
            for (k, v) in fields {
                match k.name.as_str() {
                    "warning" => {
                        let Some(code) = self.expect_str(v, "`warning`") else {
                            continue;
                        };
                        if lint::CODES.iter().any(|(c, _)| *c == code) {
                            warning = Some(code);
                        } else {
                            let hint = did_you_mean(&code, lint::CODES.iter().map(|(c, _)| *c));
                            let d = self.err(
                                format!("`{code}` is not a warning meshmon gives"),
                                v.span.clone(),
                                "unknown warning",
                            );
                            d.help = Some(hint.unwrap_or_else(|| {
                                format!(
                                    "the warnings are: {}",
                                    lint::CODES
                                        .iter()
                                        .map(|(c, _)| *c)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }));
                        }
                    }
                    "resources" => {
                        let NodeKind::Array(addrs) = &v.kind else {
                            self.err(
                                format!(
                                    "`resources` must be an array of addresses, found {}",
                                    v.kind_name()
                                ),
                                v.span.clone(),
                                "expected [\"TYPE.NAME\", ...]",
                            );
                            continue;
                        };
                        for a in addrs {
                            let Some(addr) = self.expect_str(a, "a `resources` entry") else {
                                continue;
                            };
                            if let Some(known) = Address::parse(&addr)
                                .ok()
                                .filter(|x| self.addresses.contains_key(x))
                            {
                                resources.push((known, a.span.clone()));
                            } else {
                                let hint = did_you_mean(
                                    &addr,
                                    self.addresses.keys().map(ToString::to_string),
                                );
                                let d = self.err(
                                    format!("`acknowledge` names the undeclared resource `{addr}`"),
                                    a.span.clone(),
                                    "no such resource",
                                );
                                d.help = Some(hint.unwrap_or_else(|| {
                                    "name resources as TYPE.NAME, as declared in this spec".into()
                                }));
                            }
                        }
                    }
                    "reason" => reason = self.expect_str(v, "`reason`"),
                    _ => self.unknown_key(k, "an `acknowledge` entry", KEYS),
                }
            }
            for key in ["warning", "resources"] {
                if !fields.iter().any(|(k, _)| k.name == key) {
                    let d = self.err(
                        format!("an `acknowledge` entry is missing `{key}`"),
                        item.span.clone(),
                        format!("`{key}` must be set here"),
                    );
                    d.help = Some(format!("write {EXAMPLE}"));
                }
            }
            if let Some(warning) = warning {
                out.push(Acknowledgement {
                    warning,
                    resources,
                    reason,
                    span: item.span.clone(),
                });
            }
        }
        out
    }
}

/// Moves the warnings the spec acknowledges out of `lints` into
/// `diags.acknowledged`, the rest into `diags.items`; an acknowledgement
/// that matches no warning is itself a warning, so it does not outlive the
/// problem it excused.
pub(super) fn apply(spec: &Spec, lints: Diagnostics, diags: &mut Diagnostics) {
    let accepted = |d: &Diag| {
        spec.acknowledge.iter().any(|a| {
            Some(a.warning.as_str()) == d.code
                && a.resources
                    .iter()
                    .any(|(r, _)| Some(r) == d.address.as_ref())
        })
    };
    let (silenced, shown): (Vec<Diag>, Vec<Diag>) =
        lints.items.into_iter().partition(|d| accepted(d));
    for a in &spec.acknowledge {
        for (addr, span) in &a.resources {
            let used = silenced
                .iter()
                .any(|d| d.code == Some(a.warning.as_str()) && d.address.as_ref() == Some(addr));
            if !used {
                diags.push(
                    Diag::warning(format!(
                        "`{addr}` is acknowledged for `{}`, but has no such warning",
                        a.warning
                    ))
                    .label(span.clone(), "acknowledges nothing")
                    .help("remove it from `acknowledge`")
                    .in_source(&spec.source),
                );
            }
        }
    }
    diags.items.extend(shown);
    diags.acknowledged.extend(silenced);
}
