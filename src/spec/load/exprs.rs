//! Values and `${…}` expressions: typed against the attribute they are
//! written for, references checked against what the spec declares, and
//! `file()` read.

use super::*;

impl Loader<'_> {
    /// Converts a value node into an expression of the expected type.
    pub(super) fn expr(
        &mut self,
        node: &Node,
        ty: &AttrType,
        self_address: Option<&Address>,
    ) -> Option<Expr> {
        let mismatch = |this: &mut Self| {
            this.err(
                format!("expected {}, found {}", ty.describe(), node.kind_name()),
                node.span.clone(),
                format!("expected {}", ty.describe()),
            );
            None
        };
        match &node.kind {
            NodeKind::Str(s) => self.string_expr(node, s, ty, self_address),
            NodeKind::Int(i) => {
                if ty.accepts(&Value::Int(*i)) {
                    Some(Expr::Lit(Value::Int(*i)))
                } else {
                    mismatch(self)
                }
            }
            NodeKind::Float(f) => {
                if ty.accepts(&Value::Float(*f)) {
                    Some(Expr::Lit(Value::Float(*f)))
                } else {
                    mismatch(self)
                }
            }
            NodeKind::Bool(b) => {
                if ty.accepts(&Value::Bool(*b)) {
                    Some(Expr::Lit(Value::Bool(*b)))
                } else {
                    mismatch(self)
                }
            }
            NodeKind::Datetime(d) => {
                if ty.accepts(&Value::String(d.clone())) {
                    Some(Expr::Lit(Value::String(d.clone())))
                } else {
                    mismatch(self)
                }
            }
            NodeKind::Array(items) => {
                let elem = match ty {
                    AttrType::List(e) => (**e).clone(),
                    AttrType::Any | AttrType::Json => AttrType::Any,
                    _ => return mismatch(self),
                };
                let list: Vec<Option<Expr>> = items
                    .iter()
                    .map(|i| self.expr(i, &elem, self_address))
                    .collect();
                list.into_iter().collect::<Option<Vec<_>>>().map(Expr::List)
            }
            NodeKind::Table(fields) => {
                let elem = match ty {
                    AttrType::Map(e) => (**e).clone(),
                    AttrType::Any | AttrType::Json => AttrType::Any,
                    _ => return mismatch(self),
                };
                let mut map = Vec::with_capacity(fields.len());
                let mut ok = true;
                for (k, v) in fields {
                    match self.expr(v, &elem, self_address) {
                        Some(e) => map.push((k.name.clone(), e)),
                        None => ok = false,
                    }
                }
                ok.then(|| Expr::Map(map.into_iter().collect()))
            }
        }
    }

    /// Where a string's content starts in the file, when offsets inside it
    /// map one-to-one (no escapes); otherwise `None`.
    pub(super) fn content_offset(&self, node: &Node, content: &str) -> Option<usize> {
        let raw = self.text.get(node.span.clone())?;
        let q = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let mut start = node.span.start + q;
        let mut inner = self.text.get(start..node.span.end.checked_sub(q)?)?;
        if q == 3 && inner.starts_with('\n') {
            start += 1;
            inner = &inner[1..];
        }
        (inner == content).then_some(start)
    }

    pub(super) fn sub_span(&self, node: &Node, content: &str, rel: Range<usize>) -> Range<usize> {
        match self.content_offset(node, content) {
            Some(start) => start + rel.start..start + rel.end,
            None => node.span.clone(),
        }
    }

    pub(super) fn string_expr(
        &mut self,
        node: &Node,
        s: &str,
        ty: &AttrType,
        self_address: Option<&Address>,
    ) -> Option<Expr> {
        let parts = match expr::parse_template(s) {
            Ok(p) => p,
            Err(e) => {
                let span = self.sub_span(node, s, e.span);
                let d = self.err(format!("malformed expression: {}", e.message), span, "here");
                d.help = Some("references look like ${var.region} or ${aws_iam_role.agent.arn}; write $${ for a literal ${".into());
                return None;
            }
        };
        let mut ok = true;
        let mut resolved = Vec::with_capacity(parts.len());
        let alone = parts.len() == 1 && matches!(parts[0], Part::Ref(..));
        for p in parts {
            match p {
                Part::Lit(l) => resolved.push(Part::Lit(l)),
                Part::Ref(r, rel) => {
                    let span = self.sub_span(node, s, rel.clone());
                    match self.check_ref(
                        &r,
                        span,
                        if alone { Some(ty) } else { None },
                        self_address,
                    ) {
                        Some(RefExpr::File(contents)) => resolved.push(Part::Lit(contents)),
                        Some(r) => resolved.push(Part::Ref(r, rel)),
                        None => ok = false,
                    }
                }
            }
        }
        if !ok {
            return None;
        }
        if alone && let Some(Part::Ref(r, _)) = resolved.first() {
            return Some(Expr::Ref(r.clone()));
        }
        if !matches!(
            ty,
            AttrType::String | AttrType::Json | AttrType::Yaml | AttrType::Any
        ) {
            let literal_only = resolved.iter().all(|p| matches!(p, Part::Lit(_)));
            let d = self.err(
                format!("expected {}, found a string", ty.describe()),
                node.span.clone(),
                format!("expected {}", ty.describe()),
            );
            if literal_only && matches!(ty, AttrType::Int | AttrType::Float | AttrType::Bool) {
                d.help = Some(format!("remove the quotes: {s}"));
            }
            return None;
        }
        if resolved.iter().all(|p| matches!(p, Part::Lit(_))) {
            let text: String = resolved
                .into_iter()
                .map(|p| match p {
                    Part::Lit(l) => l,
                    Part::Ref(..) => unreachable!(),
                })
                .collect();
            return Some(Expr::Lit(Value::String(text)));
        }
        Some(Expr::Template(resolved))
    }

    /// Checks one reference. Returns the reference to keep, with `file()`
    /// replaced by the file's contents; `None` after reporting a problem.
    /// `alone` carries the expected type when the reference is the whole value.
    pub(super) fn check_ref(
        &mut self,
        r: &RefExpr,
        span: Range<usize>,
        alone: Option<&AttrType>,
        self_address: Option<&Address>,
    ) -> Option<RefExpr> {
        match r {
            RefExpr::File(p) => {
                let path = self.base_dir.join(p);
                // Keyed by the path from the spec's directory: a component's
                // files are under its own.
                let key = match &self.file_prefix {
                    Some(prefix) => format!("{prefix}/{p}"),
                    None => p.clone(),
                };
                let read = match &self.pinned_files {
                    Some(pinned) => pinned.get(&key).cloned().ok_or_else(|| {
                        "the saved plan does not hold this file, so it was not reviewed".to_string()
                    }),
                    None => crate::fsutil::read_text(&path).map_err(|e| e.to_string()),
                };
                match read {
                    Ok(c) => {
                        self.files.insert(key, c.clone());
                        Some(RefExpr::File(c))
                    }
                    Err(e) => {
                        let d = self.err(
                            format!("file(\"{p}\"): cannot read {}: {e}", path.display()),
                            span,
                            "here",
                        );
                        d.help =
                            Some("paths in file() are relative to the spec's directory".into());
                        None
                    }
                }
            }
            RefExpr::Var(name) => {
                let Some(var) = self.variables.get(name) else {
                    let hint = did_you_mean(name, self.variables.keys().map(String::as_str));
                    let d = self.err(
                        format!("reference to undeclared variable `{name}`"),
                        span,
                        "not declared",
                    );
                    d.help =
                        Some(hint.unwrap_or_else(|| format!("declare it with [variables.{name}]")));
                    return None;
                };
                let value = var.value.clone();
                match alone {
                    Some(ty) if !ty.accepts(&value) => {
                        let shown = if var.sensitive {
                            crate::secrets::SENSITIVE.into()
                        } else {
                            render_value(&value)
                        };
                        self.err(
                            format!(
                                "expected {}, but `var.{name}` is {} {shown}",
                                ty.describe(),
                                value.type_name()
                            ),
                            span,
                            "wrong type",
                        );
                        None
                    }
                    None if matches!(value, Value::List(_) | Value::Map(_)) => {
                        self.err(
                            format!(
                                "`var.{name}` is a {} and cannot be interpolated into a string",
                                value.type_name()
                            ),
                            span,
                            "not a scalar",
                        );
                        None
                    }
                    _ => Some(r.clone()),
                }
            }
            RefExpr::Output {
                component,
                key,
                output,
                ..
            } => {
                let Some((keyed, outputs)) = self.component_outputs.get(component).cloned() else {
                    let names: Vec<String> = self.component_outputs.keys().cloned().collect();
                    let d = self.err(
                        format!("reference to undeclared component `{component}`"),
                        span,
                        "no such component",
                    );
                    d.help = Some(did_you_mean(component, &names).unwrap_or_else(|| {
                        format!("declare it with [components.{component}] source = \"DIR\"")
                    }));
                    return None;
                };
                // A component that could not be loaded is reported already.
                let outputs = outputs?;
                match (keyed, key.is_some()) {
                    (true, false) => {
                        let d = self.err(
                            format!("component `{component}` has `for_each`: a reference names one of its instances"),
                            span,
                            "which instance?",
                        );
                        d.help = Some(format!("write `component.{component}[\"KEY\"].{output}`"));
                        return None;
                    }
                    (false, true) => {
                        self.err(
                            format!("component `{component}` has no `for_each`, so it has no instances to pick by key"),
                            span,
                            "not keyed",
                        );
                        return None;
                    }
                    _ => {}
                }
                if !outputs.contains(output) {
                    let d = self.err(
                        format!("component `{component}` has no output `{output}`"),
                        span,
                        "unknown output",
                    );
                    d.help = Some(
                        did_you_mean(output, &outputs)
                            .unwrap_or_else(|| format!("its outputs: {}", outputs.join(", "))),
                    );
                    return None;
                }
                Some(r.clone())
            }
            RefExpr::EachKey | RefExpr::EachValue(_) => {
                if !self.in_keyed {
                    let d = self.err(
                        "`each` is only known inside a block with `for_each`",
                        span,
                        "not inside a `for_each`",
                    );
                    d.help = Some(
                        "add `for_each = [\"a\", \"b\"]` (or a table, or a reference to one) to the block".into(),
                    );
                    return None;
                }
                Some(r.clone())
            }
            RefExpr::Attr {
                target: address,
                each_key,
                attr,
                path,
            } => {
                if !self.keyed_reference(address, *each_key, span.clone()) {
                    return None;
                }
                let address = &address.config();
                if Some(address) == self_address.map(Address::config).as_ref() {
                    self.err(
                        format!("`{address}` refers to itself"),
                        span,
                        "self-reference",
                    );
                    return None;
                }
                let Some((real_type, _)) = self.addresses.get(address).cloned() else {
                    let hint = did_you_mean(
                        &address.to_string(),
                        self.addresses.keys().map(ToString::to_string),
                    );
                    let kind = super::resources::kind_of(address);
                    let d = self.err(
                        format!("reference to undeclared {kind} `{address}`"),
                        span,
                        format!("no such {kind}"),
                    );
                    d.help = Some(hint.unwrap_or_else(|| super::resources::declare_it(address)));
                    return None;
                };
                let schema = self.registry.schema_at(address)?;
                let Some(target) = schema.get(attr) else {
                    let hint = did_you_mean(attr, schema.attributes.iter().map(|a| a.name));
                    let d = self.err(
                        format!("`{address}` has no attribute `{attr}`"),
                        span,
                        "unknown attribute",
                    );
                    d.help = Some(hint.unwrap_or_else(|| {
                        format!(
                            "`{real_type}` has: {}",
                            schema
                                .attributes
                                .iter()
                                .map(|a| a.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }));
                    return None;
                };
                let target_ty = target.ty.clone();
                if path.is_empty() {
                    let fits = match alone {
                        Some(ty) => compatible(ty, &target_ty),
                        None => !matches!(target_ty, AttrType::List(_) | AttrType::Map(_)),
                    };
                    if !fits {
                        let expected =
                            alone.map_or("a scalar to interpolate".to_string(), AttrType::describe);
                        self.err(
                            format!(
                                "expected {expected}, but `{address}.{attr}` is {}",
                                target_ty.describe()
                            ),
                            span,
                            "wrong type",
                        );
                        return None;
                    }
                }
                Some(r.clone())
            }
        }
    }
}

/// Whether a value of type `actual` can stand where `expected` is wanted.
fn compatible(expected: &AttrType, actual: &AttrType) -> bool {
    use AttrType::*;
    match (expected, actual) {
        (Any, _) | (_, Any) | (Json, _) | (_, Json) => true,
        (Yaml, String) | (String, Yaml) => true,
        (Float, Int) => true,
        (List(a), List(b)) | (Map(a), Map(b)) => compatible(a, b),
        (a, b) => a == b,
    }
}

impl Loader<'_> {
    /// Checks how a reference picks an instance: a block with `for_each`
    /// is referred to by key (`TYPE.NAME["key"]` or `[each.key]` inside
    /// another keyed block), a block without by its address alone.
    fn keyed_reference(&mut self, target: &Address, each_key: bool, span: Range<usize>) -> bool {
        let config = target.config();
        if !self.addresses.contains_key(&config) {
            // Reported as undeclared by the caller.
            return true;
        }
        let keyed = self.keyed.contains(&config);
        let picked = each_key || target.key().is_some();
        if each_key && !self.in_keyed {
            let d = self.err(
                "`[each.key]` is only known inside a block with `for_each`",
                span,
                "not inside a `for_each`",
            );
            d.help = Some(format!(
                "name the instance by its key, like `{config}[\"prod\"]`"
            ));
            return false;
        }
        match (keyed, picked) {
            (true, false) => {
                let d = self.err(
                    format!("`{config}` has `for_each`: a reference names one of its instances"),
                    span,
                    "which instance?",
                );
                d.help = Some(format!(
                    "write `{config}[\"KEY\"]`, or `{config}[each.key]` inside a block with the same keys"
                ));
                false
            }
            (false, true) => {
                let d = self.err(
                    format!("`{config}` has no `for_each`, so it has no instances to pick by key"),
                    span,
                    "not keyed",
                );
                d.help = Some(format!("write `{config}` without `[…]`"));
                false
            }
            _ => true,
        }
    }
}
