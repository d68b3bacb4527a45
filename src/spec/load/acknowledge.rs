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

use super::super::Acknowledgement;
use super::{Loader, NodeKind};
use crate::addr::Address;
use crate::diag::did_you_mean;

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
                        let codes = self.registry.warning_codes();
                        if codes.iter().any(|(c, _)| *c == code) {
                            warning = Some(code);
                        } else {
                            let hint = did_you_mean(&code, codes.iter().map(|(c, _)| *c));
                            let d = self.err(
                                format!("`{code}` is not a warning meshmon gives"),
                                v.span.clone(),
                                "unknown warning",
                            );
                            d.help = Some(hint.unwrap_or_else(|| {
                                format!(
                                    "the warnings are: {}",
                                    codes.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
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
