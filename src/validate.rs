//! Validation of a whole spec, above the loader: `spec::load_*` turns the
//! TOML into a checked `Spec`; this stage adds what needs the spec as a
//! whole — dependency cycles (`graph`), the lints (end of life, API
//! versions), and which of their warnings the spec acknowledges. Every
//! command that reads a spec goes through here; `spec` knows nothing of
//! the graph or the lints.

use std::path::Path;

use crate::diag::{Diag, Diagnostics};
use crate::registry::Registry;
use crate::spec::{self, Spec, VarInputs};

/// Reads, loads and validates a spec file; on success also returns its
/// warnings.
pub fn load_file(
    path: &Path,
    vars: &VarInputs,
    registry: &Registry,
) -> Result<(Spec, Diagnostics), Diagnostics> {
    let (spec, diags) = spec::load_file(path, vars, registry)?;
    whole(spec, diags, registry)
}

/// Loads and validates spec text; `path` names it in messages, `base_dir`
/// anchors `file()`.
pub fn load_text(
    path: &Path,
    text: String,
    base_dir: &Path,
    vars: &VarInputs,
    registry: &Registry,
) -> Result<(Spec, Diagnostics), Diagnostics> {
    let (spec, diags) = spec::load_text(path, text, base_dir, vars, registry)?;
    whole(spec, diags, registry)
}

/// The checks that need the whole spec.
pub fn whole(
    spec: Spec,
    mut diags: Diagnostics,
    registry: &Registry,
) -> Result<(Spec, Diagnostics), Diagnostics> {
    from_variables(&spec, registry, &mut diags);
    for cycle in crate::graph::cycles(&spec) {
        let mut d = Diag::error(format!(
            "dependency cycle between {}",
            cycle
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .help("a resource cannot depend on itself through references or depends_on; remove one of the references")
        .in_source(&spec.source);
        for a in &cycle {
            if let Some(r) = spec.resources.get(a) {
                d = d.label(r.span.clone(), format!("`{a}` is part of the cycle"));
            }
        }
        diags.push(d);
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let lints = crate::lint::lint(&spec, registry, &crate::lint::today());
    acknowledge(&spec, lints, &mut diags);
    Ok((spec, diags))
}

/// Checks the attributes whose values come from variables, now that every
/// variable has its value (the loader checks literal values itself): a
/// `${var.x}` that is not a duration, a port or one of the values the
/// attribute allows fails at validate, pointing at where it is used, not at
/// apply.
fn from_variables(spec: &Spec, registry: &Registry, diags: &mut Diagnostics) {
    let nothing_recorded = std::collections::HashMap::new();
    let scope = crate::eval::Scope {
        vars: &spec.variables,
        resources: &nothing_recorded,
    };
    for block in spec.resources.values() {
        let Some(schema) = registry.schema_at(&block.address) else {
            continue;
        };
        let uses_var = block.attrs.values().any(|e| {
            let mut uses = false;
            e.for_each_ref(&mut |r| uses |= matches!(r, spec::RefExpr::Var(_)));
            uses
        });
        if !uses_var {
            continue;
        }
        // References to resources are unknown here and pass; what literals
        // and variables decide is checked whole, checks of several
        // attributes included. (A spec whose literals fail never gets here:
        // the loader refused it.)
        if let Err(e) = scope.inputs(schema, &block.attrs) {
            diags
                .items
                .extend(crate::plan::PlanError::input(spec, block, &e).diagnostics());
        }
    }
}

/// Moves the warnings the spec acknowledges out of `lints` into
/// `diags.acknowledged`, the rest into `diags.items`; an acknowledgement
/// that matches no warning is itself a warning.
fn acknowledge(spec: &Spec, lints: Diagnostics, diags: &mut Diagnostics) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(body: &str) -> Result<(Spec, Diagnostics), Diagnostics> {
        let dir = std::env::temp_dir();
        load_text(
            &dir.join("meshmon.toml"),
            format!("[meshmon]\nname = \"t\"\n{body}"),
            &dir,
            &VarInputs::default(),
            &Registry::standard(),
        )
    }

    #[test]
    fn a_dependency_cycle_is_an_error_naming_its_members() {
        let errors = load(
            r#"
[resources.null_resource.a]
triggers = { b = "${null_resource.b.id}" }

[resources.null_resource.b]
triggers = { a = "${null_resource.a.id}" }
"#,
        )
        .err()
        .unwrap();
        assert!(
            errors
                .items
                .iter()
                .any(|d| d.message.contains("null_resource.a")
                    && d.message.contains("null_resource.b")),
            "{errors:#?}"
        );
    }
}
