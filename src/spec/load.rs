//! Checks the raw spanned tree and builds the resolved `Spec`. Every check
//! appends a diagnostic and carries on, so a spec with five mistakes reports
//! five; only a TOML syntax error stops before the semantic checks, since
//! after one the tree may be missing whole tables.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use meshmon_provider_sdk::{AttrType, Schema, Value};

use super::expr::{self, Part, RefExpr};
use super::node::{self, Key, Node, NodeKind};
use super::vars::{self, Supplied, VarInputs};
use super::{
    Expr, Lifecycle, OutputBlock, ProviderBlock, ResourceBlock, Spec, Timeouts, Variable,
    valid_name,
};
use crate::diag::{Diag, Diagnostics, Source, did_you_mean};
use crate::registry::Registry;

mod acknowledge;

const TOP_KEYS: &[&str] = &["meshmon", "variables", "providers", "resources", "outputs"];
const MESHMON_KEYS: &[&str] = &["name", "state", "backend", "acknowledge"];
const VARIABLE_KEYS: &[&str] = &["default", "description", "sensitive", "allowed"];
const META_KEYS: &[&str] = &["depends_on", "lifecycle", "timeouts"];
const LIFECYCLE_KEYS: &[&str] = &["prevent_destroy", "create_before_destroy", "ignore_changes"];
const TIMEOUT_KEYS: &[&str] = &["create", "update", "delete"];
const OUTPUT_KEYS: &[&str] = &["value", "sensitive", "description"];

/// Reads and checks a spec file. On success also returns warnings.
pub fn load_file(
    path: &Path,
    vars: &VarInputs,
    registry: &Registry,
) -> Result<(Spec, Diagnostics), Diagnostics> {
    let text = crate::fsutil::read_text(path).map_err(|e| {
        let mut d = Diagnostics::default();
        d.push(
            Diag::error(format!("cannot read spec {}: {e}", path.display()))
                .help("pass the spec with -f PATH, or run meshmon where meshmon.toml is"),
        );
        d
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_text(path, text, &base, vars, registry)
}

/// Checks spec text; `path` names it in messages, `base_dir` anchors `file()`.
pub fn load_text(
    path: &Path,
    text: String,
    base_dir: &Path,
    vars: &VarInputs,
    registry: &Registry,
) -> Result<(Spec, Diagnostics), Diagnostics> {
    let text = Arc::new(text);
    let source = crate::diag::source(&path.display().to_string(), text.clone());
    let mut cx = Loader {
        text: &text,
        source: source.clone(),
        base_dir: base_dir.to_path_buf(),
        registry,
        diags: Diagnostics::default(),
        addresses: BTreeMap::new(),
        variables: BTreeMap::new(),
    };
    let (root, syntax) = node::parse(&text);
    if !syntax.is_empty() {
        // A table declared twice also repeats each of its keys; report the
        // table once and not every key inside it.
        let mut duplicated: Vec<Range<usize>> = Vec::new();
        for e in syntax {
            let inside = e
                .span
                .as_ref()
                .is_some_and(|s| duplicated.iter().any(|d| d.contains(&s.start)));
            if e.message == "duplicate key" && inside {
                continue;
            }
            if let Some(section) = cx.syntax_error(e) {
                duplicated.push(section);
            }
        }
        return Err(cx.diags);
    }
    let spec = cx.spec(&root, path, vars);
    if cx.diags.has_errors() {
        return Err(cx.diags);
    }
    if let Some(spec) = spec {
        let cycles = crate::graph::cycles(&spec);
        for cycle in cycles {
            let mut d = Diag::error(format!(
                "dependency cycle between {}",
                cycle.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
            ))
            .help("a resource cannot depend on itself through references or depends_on; remove one of the references")
            .in_source(&source);
            for a in &cycle {
                if let Some(r) = spec.resources.get(a) {
                    d = d.label(r.span.clone(), format!("`{a}` is part of the cycle"));
                }
            }
            cx.diags.push(d);
        }
        if cx.diags.has_errors() {
            return Err(cx.diags);
        }
        let lints = crate::lint::lint(&spec, &crate::lint::today());
        acknowledge::apply(&spec, lints, &mut cx.diags);
        return Ok((spec, cx.diags));
    }
    Err(cx.diags)
}

struct Loader<'a> {
    text: &'a str,
    source: Source,
    base_dir: PathBuf,
    registry: &'a Registry,
    diags: Diagnostics,
    /// Declared resource addresses → (type, header span).
    addresses: BTreeMap<String, (String, Range<usize>)>,
    variables: BTreeMap<String, Variable>,
}

impl Loader<'_> {
    fn err(
        &mut self,
        message: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> &mut Diag {
        let d = Diag::error(message)
            .label(span, label)
            .in_source(&self.source);
        self.diags.push(d);
        self.diags.items.last_mut().expect("just pushed")
    }

    /// Reports a syntax error; for a table declared twice, returns the span
    /// of the second declaration's section.
    fn syntax_error(&mut self, e: node::SyntaxError) -> Option<Range<usize>> {
        if e.message == "duplicate key"
            && let Some(span) = e.span.clone()
            && let Some(d) = self.duplicate_header(span.clone())
        {
            self.diags.push(d);
            let end = self.text[span.start..]
                .find("\n[")
                .map_or(self.text.len(), |i| span.start + i + 1);
            return Some(span.start..end);
        }
        let mut d = Diag::error(format!("invalid TOML: {}", e.message)).in_source(&self.source);
        if let Some(span) = e.span {
            d = d.label(span, "here");
        }
        self.diags.push(d);
        None
    }

    /// TOML reports a repeated `[resources.T.N]` as a duplicate key; say it
    /// in spec terms and point at the first declaration too.
    fn duplicate_header(&self, span: Range<usize>) -> Option<Diag> {
        let line_start = self.text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[span.start..]
            .find('\n')
            .map_or(self.text.len(), |i| span.start + i);
        let line = self.text[line_start..line_end].trim();
        let inner = line.strip_prefix('[')?.split(']').next()?.trim();
        let parts: Vec<&str> = inner.split('.').map(str::trim).collect();
        let (kind, what) = match parts.as_slice() {
            ["resources", t, n] => ("resource", format!("{t}.{n}")),
            ["variables", n] => ("variable", n.to_string()),
            ["outputs", n] => ("output", n.to_string()),
            ["providers", n] => ("provider", n.to_string()),
            _ => return None,
        };
        let first = self.text[..line_start].find(line)?;
        Some(
            Diag::error(format!("{kind} `{what}` is declared twice"))
                .label(first..first + line.len(), "first declared here")
                .label(line_start..line_start + line.len(), "declared again here")
                .help(format!(
                    "{kind} names must be unique; rename or remove one of them"
                ))
                .in_source(&self.source),
        )
    }

    fn unknown_key(&mut self, key: &Key, what: &str, allowed: &[&str]) {
        let hint = did_you_mean(&key.name, allowed.iter().copied());
        let d = self.err(
            format!("unknown key `{}` in {what}", key.name),
            key.span.clone(),
            "not a known key",
        );
        d.help = Some(match hint {
            Some(h) => h,
            None => format!("expected one of: {}", allowed.join(", ")),
        });
    }

    fn expect_table<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
        let t = node.as_table();
        if t.is_none() {
            self.err(
                format!("{what} must be a table, found {}", node.kind_name()),
                node.span.clone(),
                "expected a table",
            );
        }
        t
    }

    fn expect_str(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = node.as_str().map(str::to_string);
        if s.is_none() {
            self.err(
                format!("{what} must be a string, found {}", node.kind_name()),
                node.span.clone(),
                "expected a string",
            );
        }
        s
    }

    fn expect_bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        let b = node.as_bool();
        if b.is_none() {
            self.err(
                format!("{what} must be true or false, found {}", node.kind_name()),
                node.span.clone(),
                "expected a boolean",
            );
        }
        b
    }

    fn check_name(&mut self, key: &Key, what: &str) -> bool {
        if valid_name(&key.name) {
            return true;
        }
        let d = self.err(
            format!("`{}` is not a valid {what} name", key.name),
            key.span.clone(),
            "malformed name",
        );
        d.help = Some(
            "names start with a letter or `_` and hold only letters, digits, `_` and `-`".into(),
        );
        false
    }

    fn spec(&mut self, root: &Node, path: &Path, inputs: &VarInputs) -> Option<Spec> {
        let top = root.as_table()?;
        let get = |name: &str| top.iter().find(|(k, _)| k.name == name).map(|(_, n)| n);
        for (k, _) in top {
            if !TOP_KEYS.contains(&k.name.as_str()) {
                self.unknown_key(k, "the spec", TOP_KEYS);
            }
        }

        let (name, state_path, backend) = self.meshmon(get("meshmon"), root);
        if let Some(v) = get("variables") {
            self.declare_variables(v, inputs);
        } else {
            self.check_unknown_inputs(inputs, &BTreeSet::new());
        }

        // Declare every resource first so references can be checked in any order.
        let mut raw_resources: Vec<(String, String, Key, &Node)> = Vec::new();
        if let Some(res) = get("resources")
            && let Some(types) = self.expect_table(res, "`resources`")
        {
            for (tkey, tnode) in types {
                let Some(schema) = self.registry.schema(&tkey.name) else {
                    let hint = did_you_mean(&tkey.name, self.registry.type_names());
                    let d = self.err(
                        format!("unknown resource type `{}`", tkey.name),
                        tkey.span.clone(),
                        "no provider offers this type",
                    );
                    d.help = Some(hint.unwrap_or_else(|| {
                        "run `meshmon docs` to list the resource types this build offers".into()
                    }));
                    continue;
                };
                let Some(instances) =
                    self.expect_table(tnode, &format!("`resources.{}`", tkey.name))
                else {
                    continue;
                };
                for (nkey, nnode) in instances {
                    if !self.check_name(nkey, "resource") {
                        continue;
                    }
                    let address = format!("{}.{}", tkey.name, nkey.name);
                    self.addresses.insert(
                        address.clone(),
                        (schema.type_name.to_string(), nkey.span.clone()),
                    );
                    raw_resources.push((tkey.name.clone(), address, nkey.clone(), nnode));
                }
            }
        }

        let mut providers = BTreeMap::new();
        if let Some(p) = get("providers") {
            self.providers(p, &mut providers);
        }

        let mut resources = BTreeMap::new();
        for (type_name, address, key, node) in raw_resources {
            if let Some(r) = self.resource(&type_name, &address, &key, node) {
                resources.insert(address, r);
            }
        }

        let mut outputs = BTreeMap::new();
        if let Some(o) = get("outputs") {
            self.outputs(o, &mut outputs);
        }
        let acknowledge = self.acknowledgements(get("meshmon"));

        Some(Spec {
            name: name?,
            state_path,
            backend,
            path: path.to_path_buf(),
            base_dir: self.base_dir.clone(),
            text: Arc::new(self.text.to_string()),
            source: self.source.clone(),
            variables: std::mem::take(&mut self.variables),
            providers,
            resources,
            outputs,
            acknowledge,
        })
    }

    #[allow(clippy::type_complexity)]
    fn meshmon(
        &mut self,
        node: Option<&Node>,
        root: &Node,
    ) -> (
        Option<String>,
        Option<String>,
        Option<crate::state::S3Config>,
    ) {
        let Some(node) = node else {
            let d = self.err(
                "the spec has no `[meshmon]` table",
                root.span.start..root.span.start,
                "expected `[meshmon]` here",
            );
            d.help = Some("start the spec with:\n[meshmon]\nname = \"my-environment\"".into());
            return (None, None, None);
        };
        let Some(t) = self.expect_table(node, "`meshmon`") else {
            return (None, None, None);
        };
        let mut name = None;
        let mut state = None;
        let mut backend = None;
        for (k, v) in t {
            match k.name.as_str() {
                "name" => {
                    if let Some(s) = self.expect_str(v, "`meshmon.name`") {
                        if valid_name(&s) {
                            name = Some(s);
                        } else {
                            let d = self.err(
                                format!("`{s}` is not a valid environment name"),
                                v.span.clone(),
                                "malformed name",
                            );
                            d.help = Some("names start with a letter and hold only letters, digits, `_` and `-`".into());
                        }
                    }
                }
                "state" => state = self.expect_str(v, "`meshmon.state`"),
                // Checked once every resource is declared.
                "acknowledge" => {}
                "backend" => match crate::state::S3Config::from_backend(&node_value(v)) {
                    Ok(b) => backend = Some(b),
                    Err(e) => {
                        let d = self.err(format!("invalid backend: {e}"), v.span.clone(), "here");
                        d.help = Some(
                            "write backend = { s3 = { bucket = \"my-state\", key = \"envs/prod.json\", region = \"eu-west-1\" } }"
                                .into(),
                        );
                    }
                },
                _ => self.unknown_key(k, "`[meshmon]`", MESHMON_KEYS),
            }
        }
        if name.is_none() && !t.iter().any(|(k, _)| k.name == "name") {
            let d = self.err(
                "`[meshmon]` is missing `name`",
                node.span.clone(),
                "add `name = \"...\"` here",
            );
            d.help = Some(
                "the environment name also names the default state file, state/<name>.json".into(),
            );
        }
        if backend.is_some()
            && let Some((k, _)) = t.iter().find(|(k, _)| k.name == "state")
        {
            self.err(
                "`state` and `backend` both say where the state lives",
                k.span.clone(),
                "remove `state` or `backend`",
            );
        }
        (name, state, backend)
    }

    fn declare_variables(&mut self, node: &Node, inputs: &VarInputs) {
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
                            "(sensitive)".to_string()
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
                    "(sensitive)".to_string()
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
    fn check_unknown_inputs(&mut self, inputs: &VarInputs, declared: &BTreeSet<String>) {
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

    fn providers(&mut self, node: &Node, out: &mut BTreeMap<String, ProviderBlock>) {
        let Some(t) = self.expect_table(node, "`providers`") else {
            return;
        };
        for (key, pnode) in t {
            let Some(provider) = self.registry.block_owner(&key.name).cloned() else {
                let hint =
                    did_you_mean(&key.name, self.registry.provider_names()).unwrap_or_else(|| {
                        format!(
                            "known providers: {}",
                            self.registry
                                .provider_names()
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                let d = self.err(
                    format!("unknown provider `{}`", key.name),
                    key.span.clone(),
                    "not a provider of this build",
                );
                d.help = Some(hint);
                continue;
            };
            let Some(fields) = self.expect_table(pnode, &format!("`providers.{}`", key.name))
            else {
                continue;
            };
            let schema = provider.config_schema();
            let what = format!("provider `{}`", key.name);
            let config = self.attributes(&schema, &what, fields, pnode.span.clone(), &[], None);
            out.insert(
                key.name.clone(),
                ProviderBlock {
                    name: key.name.clone(),
                    config,
                },
            );
        }
    }

    /// Checks a block's attributes against a schema; `meta` keys are skipped.
    fn attributes(
        &mut self,
        schema: &Schema,
        what: &str,
        fields: &[(Key, Node)],
        block_span: Range<usize>,
        meta: &[&str],
        self_address: Option<&str>,
    ) -> BTreeMap<String, Expr> {
        let mut attrs = BTreeMap::new();
        for (k, v) in fields {
            if meta.contains(&k.name.as_str()) {
                continue;
            }
            match schema.get(&k.name) {
                None => {
                    let names = schema
                        .settable()
                        .map(|a| a.name)
                        .chain(meta.iter().copied());
                    let hint = did_you_mean(&k.name, names);
                    let d = self.err(
                        format!("{what} has no attribute `{}`", k.name),
                        k.span.clone(),
                        "unknown attribute",
                    );
                    d.help = Some(hint.unwrap_or_else(|| {
                        format!(
                            "`{}` takes: {}",
                            schema.type_name,
                            schema
                                .settable()
                                .map(|a| a.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }));
                }
                Some(a) if !a.settable => {
                    let d = self.err(
                        format!(
                            "`{}` of {what} is computed by the provider and cannot be set",
                            k.name
                        ),
                        k.span.clone(),
                        "computed attribute",
                    );
                    d.help = Some(format!(
                        "remove it; refer to it elsewhere as `${{{}.{}}}`",
                        self_address.unwrap_or("TYPE.NAME"),
                        k.name
                    ));
                }
                Some(a) => {
                    let ty = a.ty.clone();
                    if let Some(e) = self.expr(v, &ty, self_address) {
                        if let Expr::Lit(value) = &e
                            && let Err(msg) = a.validate(value)
                        {
                            self.err(
                                format!("`{}` of {what} {msg}", k.name),
                                v.span.clone(),
                                "invalid value",
                            );
                        }
                        attrs.insert(k.name.clone(), e);
                    }
                }
            }
        }
        for a in schema.attributes.iter().filter(|a| a.required) {
            if !fields.iter().any(|(k, _)| k.name == a.name) {
                let d = self.err(
                    format!("{what} is missing the required attribute `{}`", a.name),
                    block_span.clone(),
                    format!("`{}` must be set here", a.name),
                );
                d.help = Some(format!(
                    "add `{} = …` ({}){}",
                    a.name,
                    a.ty.describe(),
                    if a.description.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", a.description)
                    }
                ));
            }
        }
        attrs
    }

    fn resource(
        &mut self,
        type_name: &str,
        address: &str,
        key: &Key,
        node: &Node,
    ) -> Option<ResourceBlock> {
        let schema = self.registry.schema(type_name)?.clone();
        let fields = self.expect_table(node, &format!("resource `{address}`"))?;
        let header = key.span.clone();
        let what = format!("resource `{address}` ({type_name})");
        let attrs = self.attributes(
            &schema,
            &what,
            fields,
            header.clone(),
            META_KEYS,
            Some(address),
        );
        let mut depends_on = Vec::new();
        let mut lifecycle = Lifecycle::default();
        let mut timeouts = Timeouts::default();
        for (k, v) in fields {
            match k.name.as_str() {
                "depends_on" => depends_on = self.depends_on(v, address),
                "lifecycle" => lifecycle = self.lifecycle(v, &schema),
                "timeouts" => timeouts = self.timeouts(v),
                _ => {}
            }
        }
        Some(ResourceBlock {
            address: address.to_string(),
            type_name: type_name.to_string(),
            name: key.name.clone(),
            provider: self.registry.provider_of(type_name)?.to_string(),
            config_block: self.registry.config_block_of(type_name)?.to_string(),
            attrs,
            depends_on,
            lifecycle,
            timeouts,
            span: header,
        })
    }

    fn depends_on(&mut self, node: &Node, address: &str) -> Vec<String> {
        let NodeKind::Array(items) = &node.kind else {
            self.err(
                format!(
                    "`depends_on` must be an array of addresses, found {}",
                    node.kind_name()
                ),
                node.span.clone(),
                "expected [\"TYPE.NAME\", ...]",
            );
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for item in items {
            let Some(s) = self.expect_str(item, "a `depends_on` entry") else {
                continue;
            };
            let parts: Vec<&str> = s.split('.').collect();
            if parts.len() != 2 || !parts.iter().all(|p| valid_name(p)) {
                let d = self.err(
                    format!("`{s}` is not a resource address"),
                    item.span.clone(),
                    "malformed address",
                );
                d.help = Some(
                    "addresses are TYPE.NAME, like \"helm_release.appmesh_controller\"".into(),
                );
            } else if s == address {
                self.err(
                    format!("`{address}` depends on itself"),
                    item.span.clone(),
                    "self-dependency",
                );
            } else if out.contains(&s) {
                self.err(
                    format!("`{s}` is listed twice in `depends_on`"),
                    item.span.clone(),
                    "duplicate address",
                );
            } else if !self.addresses.contains_key(&s) {
                let hint = did_you_mean(&s, self.addresses.keys().map(String::as_str));
                let d = self.err(
                    format!("`depends_on` names the undeclared resource `{s}`"),
                    item.span.clone(),
                    "no such resource",
                );
                d.help = Some(hint.unwrap_or_else(|| {
                    format!("declare it with [resources.{}.{}]", parts[0], parts[1])
                }));
            } else {
                out.push(s);
            }
        }
        out
    }

    fn lifecycle(&mut self, node: &Node, schema: &Schema) -> Lifecycle {
        let mut l = Lifecycle::default();
        let Some(fields) = self.expect_table(node, "`lifecycle`") else {
            return l;
        };
        for (k, v) in fields {
            match k.name.as_str() {
                "prevent_destroy" => {
                    l.prevent_destroy = self
                        .expect_bool(v, "`lifecycle.prevent_destroy`")
                        .unwrap_or(false)
                }
                "create_before_destroy" => {
                    l.create_before_destroy = self
                        .expect_bool(v, "`lifecycle.create_before_destroy`")
                        .unwrap_or(false)
                }
                "ignore_changes" => {
                    let NodeKind::Array(items) = &v.kind else {
                        self.err(
                            format!(
                                "`ignore_changes` must be an array of attribute names, found {}",
                                v.kind_name()
                            ),
                            v.span.clone(),
                            "expected [\"attr\", ...]",
                        );
                        continue;
                    };
                    for item in items {
                        let Some(name) = self.expect_str(item, "an `ignore_changes` entry") else {
                            continue;
                        };
                        let root = name.split(['.', '[']).next().unwrap_or_default();
                        match schema.get(root) {
                            Some(a) if a.settable => l.ignore_changes.push(name),
                            Some(_) => {
                                self.err(
                                    format!("`{name}` is computed, so there is nothing to ignore"),
                                    item.span.clone(),
                                    "computed attribute",
                                );
                            }
                            None => {
                                let hint = did_you_mean(root, schema.settable().map(|a| a.name));
                                let d = self.err(
                                    format!(
                                        "`ignore_changes` names `{name}`, which `{}` does not have",
                                        schema.type_name
                                    ),
                                    item.span.clone(),
                                    "unknown attribute",
                                );
                                d.help = hint;
                            }
                        }
                    }
                }
                _ => self.unknown_key(k, "`lifecycle`", LIFECYCLE_KEYS),
            }
        }
        l
    }

    fn timeouts(&mut self, node: &Node) -> Timeouts {
        let mut t = Timeouts::default();
        let Some(fields) = self.expect_table(node, "`timeouts`") else {
            return t;
        };
        for (k, v) in fields {
            if !TIMEOUT_KEYS.contains(&k.name.as_str()) {
                self.unknown_key(k, "`timeouts`", TIMEOUT_KEYS);
                continue;
            }
            let Some(s) = self.expect_str(v, &format!("`timeouts.{}`", k.name)) else {
                continue;
            };
            let Some(d) = self.duration(&s, v.span.clone()) else {
                continue;
            };
            match k.name.as_str() {
                "create" => t.create = Some(d),
                "update" => t.update = Some(d),
                _ => t.delete = Some(d),
            }
        }
        t
    }

    fn duration(&mut self, s: &str, span: Range<usize>) -> Option<Duration> {
        match humantime::parse_duration(s) {
            Ok(d) if d > crate::builtin::checks::MAX_WAIT => {
                self.err(
                    format!("`{s}` is too long a duration to wait for (at most a year)"),
                    span,
                    "expected a duration",
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                let d = self.err(
                    format!("`{s}` is not a duration: {e}"),
                    span,
                    "expected a duration",
                );
                d.help =
                    Some("write durations like \"250ms\", \"90s\", \"30m\" or \"1h 30m\"".into());
                None
            }
        }
    }

    fn outputs(&mut self, node: &Node, out: &mut BTreeMap<String, OutputBlock>) {
        let Some(t) = self.expect_table(node, "`outputs`") else {
            return;
        };
        for (key, onode) in t {
            if !self.check_name(key, "output") {
                continue;
            }
            let Some(fields) = self.expect_table(onode, &format!("`outputs.{}`", key.name)) else {
                continue;
            };
            let mut value = None;
            let mut sensitive = false;
            let mut description = None;
            for (k, v) in fields {
                match k.name.as_str() {
                    "value" => value = self.expr(v, &AttrType::Any, None),
                    "sensitive" => sensitive = self.expect_bool(v, "`sensitive`").unwrap_or(false),
                    "description" => description = self.expect_str(v, "`description`"),
                    _ => self.unknown_key(k, &format!("output `{}`", key.name), OUTPUT_KEYS),
                }
            }
            if !fields.iter().any(|(k, _)| k.name == "value") {
                self.err(
                    format!("output `{}` is missing `value`", key.name),
                    key.span.clone(),
                    "add `value = \"${…}\"`",
                );
            }
            if let Some(value) = value {
                out.insert(
                    key.name.clone(),
                    OutputBlock {
                        name: key.name.clone(),
                        value,
                        sensitive,
                        description,
                    },
                );
            }
        }
    }

    /// Converts a value node into an expression of the expected type.
    fn expr(&mut self, node: &Node, ty: &AttrType, self_address: Option<&str>) -> Option<Expr> {
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
                let mut map = BTreeMap::new();
                let mut ok = true;
                for (k, v) in fields {
                    match self.expr(v, &elem, self_address) {
                        Some(e) => {
                            map.insert(k.name.clone(), e);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Expr::Map(map))
            }
        }
    }

    /// Where a string's content starts in the file, when offsets inside it
    /// map one-to-one (no escapes); otherwise `None`.
    fn content_offset(&self, node: &Node, content: &str) -> Option<usize> {
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

    fn sub_span(&self, node: &Node, content: &str, rel: Range<usize>) -> Range<usize> {
        match self.content_offset(node, content) {
            Some(start) => start + rel.start..start + rel.end,
            None => node.span.clone(),
        }
    }

    fn string_expr(
        &mut self,
        node: &Node,
        s: &str,
        ty: &AttrType,
        self_address: Option<&str>,
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
    fn check_ref(
        &mut self,
        r: &RefExpr,
        span: Range<usize>,
        alone: Option<&AttrType>,
        self_address: Option<&str>,
    ) -> Option<RefExpr> {
        match r {
            RefExpr::File(p) => {
                let path = self.base_dir.join(p);
                match crate::fsutil::read_text(&path) {
                    Ok(c) => Some(RefExpr::File(c)),
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
                            "(sensitive)".into()
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
            RefExpr::Attr {
                type_name,
                name,
                attr,
                path,
            } => {
                let address = format!("{type_name}.{name}");
                if Some(address.as_str()) == self_address {
                    self.err(
                        format!("`{address}` refers to itself"),
                        span,
                        "self-reference",
                    );
                    return None;
                }
                let Some((real_type, _)) = self.addresses.get(&address).cloned() else {
                    let hint = did_you_mean(&address, self.addresses.keys().map(String::as_str));
                    let d = self.err(
                        format!("reference to undeclared resource `{address}`"),
                        span,
                        "no such resource",
                    );
                    d.help = Some(hint.unwrap_or_else(|| {
                        format!("declare it with [resources.{type_name}.{name}]")
                    }));
                    return None;
                };
                let schema = self.registry.schema(&real_type)?;
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

/// A node as a plain value (variable defaults, `allowed` lists).
fn node_value(n: &Node) -> Value {
    match &n.kind {
        NodeKind::Str(s) => Value::String(s.clone()),
        NodeKind::Int(i) => Value::Int(*i),
        NodeKind::Float(f) => Value::Float(*f),
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Datetime(d) => Value::String(d.clone()),
        NodeKind::Array(a) => Value::List(a.iter().map(node_value).collect()),
        NodeKind::Table(t) => Value::Map(
            t.iter()
                .map(|(k, v)| (k.name.clone(), node_value(v)))
                .collect(),
        ),
    }
}

/// "a" or "an" before a type name.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A value written the way TOML would, for messages.
pub(crate) fn render_value(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
