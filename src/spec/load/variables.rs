//! Variables: declarations, the values supplied for them (flags, var
//! files, environment) typed against their defaults, and `allowed` lists.

use super::*;

impl Loader<'_> {
    pub(super) fn declare_variables(&mut self, node: &Node, inputs: &VarInputs) {
        let supplied = match vars::collect(inputs) {
            Ok(s) => s,
            Err(errors) => {
                for e in errors {
                    self.diags.push(Diag::error(e));
                }
                BTreeMap::new()
            }
        };
        let Some(t) = self.expect_table(node, "`variables`") else {
            return;
        };
        let mut declared = BTreeSet::new();
        for (key, vnode) in t {
            if !self.check_name(key, "variable") {
                continue;
            }
            declared.insert(key.name.clone());
            let Some(fields) = self.expect_table(vnode, &format!("`variables.{}`", key.name))
            else {
                continue;
            };
            let mut default = None;
            let mut description = None;
            let mut sensitive = false;
            let mut allowed: Option<(Vec<Value>, Range<usize>)> = None;
            for (fk, fv) in fields {
                match fk.name.as_str() {
                    "default" => default = Some(node_value(fv)),
                    "description" => description = self.expect_str(fv, "`description`"),
                    "sensitive" => sensitive = self.expect_bool(fv, "`sensitive`").unwrap_or(false),
                    "allowed" => match &fv.kind {
                        NodeKind::Array(items) => {
                            allowed =
                                Some((items.iter().map(node_value).collect(), fv.span.clone()))
                        }
                        _ => {
                            self.err(
                                format!("`allowed` must be an array, found {}", fv.kind_name()),
                                fv.span.clone(),
                                "expected an array of allowed values",
                            );
                        }
                    },
                    _ => self.unknown_key(fk, &format!("variable `{}`", key.name), VARIABLE_KEYS),
                }
            }
            let value = match supplied.get(&key.name) {
                Some((Supplied::Typed(v), from)) if !vars::fits_default(v, default.as_ref()) => {
                    let expected = default.as_ref().map_or("", Value::type_name);
                    let d = self.err(
                        format!(
                            "variable `{}` from {from}: expected {} {expected}, found {} {}",
                            key.name,
                            article(expected),
                            article(v.type_name()),
                            v.type_name()
                        ),
                        key.span.clone(),
                        "declared here; its default sets the type",
                    );
                    d.help = Some(format!(
                        "give `{}` a value of the same type as its default",
                        key.name
                    ));
                    None
                }
                Some((Supplied::Typed(v), _)) => Some(v.clone()),
                Some((Supplied::Text(t), from)) => match vars::type_text(t, default.as_ref()) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let secret = if sensitive {
                            crate::secrets::SENSITIVE.to_string()
                        } else {
                            e
                        };
                        self.err(
                            format!("variable `{}` from {from}: {secret}", key.name),
                            key.span.clone(),
                            "declared here",
                        );
                        None
                    }
                },
                // A component's variable without a default is an input its
                // instances must give.
                None if !self.chain.is_empty() => Some(default.clone().unwrap_or(Value::Unknown)),
                None => default.clone(),
            };
            let Some(value) = value else {
                if !supplied.contains_key(&key.name) {
                    let d = self.err(
                        format!("variable `{}` has no value", key.name),
                        key.span.clone(),
                        "declared here without a default",
                    );
                    d.help = Some(format!(
                        "pass --var {0}=VALUE, put {0} in a --var-file, or set MESHMON_VAR_{0}",
                        key.name
                    ));
                }
                continue;
            };
            if let Some((allowed, span)) = &allowed
                && !allowed.contains(&value)
            {
                let shown = if sensitive {
                    crate::secrets::SENSITIVE.to_string()
                } else {
                    render_value(&value)
                };
                let d = self.err(
                    format!("variable `{}` is {shown}, which is not allowed", key.name),
                    span.clone(),
                    "allowed values",
                );
                d.help = Some(format!(
                    "use one of: {}",
                    allowed
                        .iter()
                        .map(render_value)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            self.variables.insert(
                key.name.clone(),
                Variable {
                    name: key.name.clone(),
                    value,
                    sensitive,
                    description,
                },
            );
        }
        self.check_unknown_inputs(inputs, &declared);
    }

    /// A `--var` for an undeclared variable is a mistake worth reporting;
    /// environment variables are not (they may be meant for another spec).
    pub(super) fn check_unknown_inputs(&mut self, inputs: &VarInputs, declared: &BTreeSet<String>) {
        for raw in &inputs.cli {
            if let Some((name, _)) = raw.split_once('=') {
                let name = name.trim();
                if !declared.contains(name) {
                    let mut d = Diag::error(format!(
                        "--var {name}: the spec declares no variable `{name}`"
                    ));
                    d.help = Some(
                        did_you_mean(name, declared.iter().map(String::as_str))
                            .unwrap_or_else(|| format!("declare it with [variables.{name}]")),
                    );
                    self.diags.push(d);
                }
            }
        }
    }
}
