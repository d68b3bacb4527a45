//! Checks the raw spanned tree and builds the resolved `Spec`. Every check
//! appends a diagnostic and carries on, so a spec with five mistakes reports
//! five; only a TOML syntax error stops before the semantic checks, since
//! after one the tree may be missing whole tables.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use meshmon_provider_sdk::{AttrPath, AttrType, Schema, SortedMap, Value};

use super::expr::{self, Part, RefExpr};
use super::node::{self, Key, Node, NodeKind};
use super::vars::{self, Supplied, VarInputs};
use super::{
    Expr, Lifecycle, OutputBlock, ProviderBlock, ResourceBlock, S3Config, Spec, Timeouts, Variable,
    article, valid_name,
};
use crate::addr::Address;
use crate::diag::{Diag, Diagnostics, Source, did_you_mean};
use crate::registry::Registry;

mod acknowledge;
mod blocks;
mod components;

mod exprs;
mod refactoring;
mod resources;
mod variables;

/// The longest file name most file systems allow.
const MAX_FILE_NAME: usize = 255;
/// The longest environment name: the longest file meshmon names after it is
/// `NAME.json.journal.damaged-HASH` (34 bytes more).
const MAX_NAME_BYTES: usize = MAX_FILE_NAME - ".json.journal.damaged-".len() - 12;

const TOP_KEYS: &[&str] = &[
    "meshmon",
    "variables",
    "providers",
    "resources",
    "data",
    "outputs",
    "moved",
    "removed",
    "components",
];
/// What a component's `component.toml` may hold: no environment, no
/// providers (its instance is given them), no refactoring of the state.
const COMPONENT_KEYS: &[&str] = &["variables", "resources", "data", "outputs", "components"];
const MESHMON_KEYS: &[&str] = &["name", "state", "backend", "acknowledge"];
const VARIABLE_KEYS: &[&str] = &["default", "description", "sensitive", "allowed"];
const META_KEYS: &[&str] = &[
    "depends_on",
    "lifecycle",
    "timeouts",
    "for_each",
    "provider",
];
/// A look-up only reads: no lifecycle, no timeouts of changes.
const DATA_META_KEYS: &[&str] = &["depends_on", "for_each", "provider"];
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
    load_part(path, text, base_dir, vars, registry, Vec::new(), None)
}

/// Checks the text of the spec (`chain` empty) or of a component (`chain`
/// the component files that led to it, itself last; `file_prefix` its
/// directory from the spec's).
fn load_part(
    path: &Path,
    text: String,
    base_dir: &Path,
    vars: &VarInputs,
    registry: &Registry,
    chain: Vec<PathBuf>,
    file_prefix: Option<String>,
) -> Result<(Spec, Diagnostics), Diagnostics> {
    let text = Arc::new(text);
    let (root, syntax) = node::parse(&text);
    // Excerpts of the spec in diagnostics never show a secret variable's
    // default: the spans of those values are blanked in the text they are
    // drawn from (same length, so every span still points right).
    let shown = secret_defaults_blanked(&text, &root);
    let source = crate::diag::source(&path.display().to_string(), shown);
    let mut cx = Loader {
        text: &text,
        shared_text: text.clone(),
        source: source.clone(),
        base_dir: base_dir.to_path_buf(),
        pinned_files: vars.pinned_files.clone(),
        files: BTreeMap::new(),
        registry,
        diags: Diagnostics::default(),
        addresses: Arc::default(),
        keyed: Arc::default(),
        in_keyed: false,
        provider_instances: BTreeMap::new(),
        component_outputs: BTreeMap::new(),
        chain,
        file_prefix,
        calls: BTreeMap::new(),
        variables: BTreeMap::new(),
    };
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
    match spec {
        Some(spec) => Ok((spec, cx.diags)),
        None => Err(cx.diags),
    }
}

/// The spec text with the default of every `sensitive = true` variable
/// replaced by `*`s of the same byte length.
fn secret_defaults_blanked(text: &Arc<String>, root: &Node) -> Arc<String> {
    let mut spans = Vec::new();
    let variables = root
        .as_table()
        .and_then(|t| t.iter().find(|(k, _)| k.name == "variables"))
        .and_then(|(_, v)| v.as_table());
    for (_, var) in variables.into_iter().flatten() {
        let Some(fields) = var.as_table() else {
            continue;
        };
        let sensitive = fields
            .iter()
            .any(|(k, v)| k.name == "sensitive" && matches!(v.kind, NodeKind::Bool(true)));
        if let Some((_, default)) = fields.iter().find(|(k, _)| k.name == "default")
            && sensitive
        {
            spans.push(default.span.clone());
        }
    }
    if spans.is_empty() {
        return text.clone();
    }
    let mut bytes = text.as_bytes().to_vec();
    for span in spans {
        if let Some(part) = bytes.get_mut(span) {
            // Keeps line breaks so that line numbers stay right.
            for b in part.iter_mut().filter(|b| **b != b'\n') {
                *b = b'*';
            }
        }
    }
    Arc::new(String::from_utf8(bytes).expect("ASCII replaces whole spans"))
}

struct Loader<'a> {
    text: &'a str,
    /// The same text, shared with the spec it loads into.
    shared_text: Arc<String>,
    source: Source,
    base_dir: PathBuf,
    /// `file()` reads these instead of the disk (a saved plan's).
    pinned_files: Option<BTreeMap<String, String>>,
    /// Every file `file()` read, by path as written.
    files: BTreeMap<String, String>,
    registry: &'a Registry,
    diags: Diagnostics,
    /// Declared resource addresses → (type, header span). Shared with the
    /// loader that reads half the blocks in a second thread.
    addresses: Arc<BTreeMap<Address, (String, Range<usize>)>>,
    /// The declared blocks that have `for_each`.
    keyed: Arc<BTreeSet<Address>>,
    /// Whether the block being read has `for_each` (`each` is known).
    in_keyed: bool,
    /// Declared provider instances, each with whether it is keyed.
    provider_instances: BTreeMap<String, bool>,
    /// Declared components: whether each is keyed, and its outputs (none
    /// for one that could not be loaded, already reported).
    component_outputs: BTreeMap<String, (bool, Option<Vec<String>>)>,
    /// The component files that led here, outermost first (empty for
    /// the spec itself): for the depth limit and cycles.
    chain: Vec<PathBuf>,
    /// For a component: its directory relative to the spec's, which
    /// `file()` paths are kept under.
    file_prefix: Option<String>,
    /// The `[components.NAME]` calls, with the components they load.
    calls: BTreeMap<String, super::ComponentCall>,
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
            ["data", t, n] => ("look-up", format!("data.{t}.{n}")),
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
        let component = !self.chain.is_empty();
        let (keys, what) = match component {
            true => (COMPONENT_KEYS, "a component"),
            false => (TOP_KEYS, "the spec"),
        };
        for (k, _) in top {
            if !keys.contains(&k.name.as_str()) {
                self.unknown_key(k, what, keys);
            }
        }

        let (name, state_path, backend) = match component {
            true => (
                Some(
                    path.parent()
                        .and_then(Path::file_name)
                        .map_or("component".into(), |n| n.to_string_lossy().into_owned()),
                ),
                None,
                None,
            ),
            false => self.meshmon(get("meshmon"), root),
        };
        if let Some(v) = get("variables") {
            self.declare_variables(v, inputs);
        } else {
            self.check_unknown_inputs(inputs, &BTreeSet::new());
        }

        // Declare every resource and look-up first so references can be
        // checked in any order.
        let mut raw_resources: Vec<(String, Address, Key, &Node)> = Vec::new();
        if let Some(res) = get("resources") {
            self.declare_blocks(res, false, &mut raw_resources);
        }
        if let Some(data) = get("data") {
            self.declare_blocks(data, true, &mut raw_resources);
        }

        // Provider instances are declared before components and resources
        // name them; their blocks are checked below.
        let mut providers = BTreeMap::new();
        let mut keyed_providers = BTreeMap::new();
        if let Some(p) = get("providers") {
            self.provider_instances = self.declare_provider_instances(p);
        }
        if let Some(c) = get("components") {
            self.component_calls(c);
        }
        if let Some(p) = get("providers") {
            self.providers(p, &mut providers, &mut keyed_providers);
        }

        let mut resources = BTreeMap::new();
        let mut keyed = BTreeMap::new();
        for (address, block) in self.blocks(raw_resources) {
            match block {
                Some(r) if r.for_each.is_some() => {
                    keyed.insert(address, r);
                }
                Some(r) => {
                    resources.insert(address, r);
                }
                None => {}
            }
        }

        let mut outputs = BTreeMap::new();
        if let Some(o) = get("outputs") {
            self.outputs(o, &mut outputs);
        }
        let acknowledge = self.acknowledgements(get("meshmon"));
        let moved = self.moved(get("moved"));
        let removed = self.removed(get("removed"), &moved);

        let mut spec = Spec {
            name: name?,
            state_path,
            backend,
            path: path.to_path_buf(),
            base_dir: self.base_dir.clone(),
            text: self.shared_text.clone(),
            source: self.source.clone(),
            variables: std::mem::take(&mut self.variables),
            providers,
            keyed_providers,
            resources,
            keyed,
            deferred: BTreeMap::new(),
            deferred_providers: BTreeMap::new(),
            components: BTreeMap::new(),
            outputs,
            acknowledge,
            files: std::mem::take(&mut self.files),
            moved,
            removed,
        };
        spec.components = std::mem::take(&mut self.calls);
        // A component is instanced into the spec that uses it, and expanded
        // there. The spec's components become their instances, then blocks
        // whose keys are written out or come from variables become theirs;
        // the others once planning knows their keys.
        if component || self.diags.has_errors() {
            return Some(spec);
        }
        if let Err(errors) = super::component::instantiate(&mut spec) {
            for e in errors {
                let d = Diag::error(e.message)
                    .label(e.span, "here")
                    .in_source(&e.source);
                self.diags.push(d);
            }
            return Some(spec);
        }
        if let Err(errors) = super::expand::expand(&mut spec, &crate::eval::Nothing) {
            for e in errors {
                let source = e.file.clone().unwrap_or_else(|| self.source.clone());
                let d = Diag::error(e.to_string())
                    .label(e.span, "here")
                    .in_source(&source);
                self.diags.push(d);
            }
        }
        Some(spec)
    }

    #[allow(clippy::type_complexity)]
    fn meshmon(
        &mut self,
        node: Option<&Node>,
        root: &Node,
    ) -> (Option<String>, Option<String>, Option<S3Config>) {
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
                        if valid_name(&s) && s.len() > MAX_NAME_BYTES {
                            let d = self.err(
                                format!(
                                    "the environment name is {} bytes long; its state files need it to be at most {MAX_NAME_BYTES}",
                                    s.len()
                                ),
                                v.span.clone(),
                                "too long for a file name",
                            );
                            d.help = Some(format!(
                                "the state is kept in state/NAME.json beside NAME.json.journal and others, and file systems allow {MAX_FILE_NAME} bytes per file name; choose a shorter name"
                            ));
                        } else if valid_name(&s) {
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
                "backend" => match S3Config::from_backend(&node_value(v)) {
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

/// A value written the way TOML would, for messages.
pub(crate) fn render_value(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(body: &str) -> Result<Spec, Vec<(String, String)>> {
        let dir = std::env::temp_dir();
        let text = format!("[meshmon]\nname = \"t\"\n{body}");
        match load_text(
            &dir.join("meshmon.toml"),
            text.clone(),
            &dir,
            &VarInputs::default(),
            &Registry::standard(),
        ) {
            Ok((spec, _)) => Ok(spec),
            // Each error with the text its first label points at.
            Err(d) => Err(d
                .items
                .iter()
                .filter(|d| d.is_error())
                .map(|d| {
                    let at = d
                        .labels
                        .first()
                        .map(|(span, _)| text[span.clone()].to_string())
                        .unwrap_or_default();
                    (d.message.clone(), at)
                })
                .collect()),
        }
    }

    #[test]
    fn a_valid_spec_resolves_resources_references_and_variables() {
        let spec = load(
            r#"
[variables.greeting]
default = "hello"

[resources.null_resource.a]
triggers = { say = "${var.greeting}" }

[resources.null_resource.b]
triggers = { a = "${null_resource.a.id}" }
"#,
        )
        .unwrap();
        assert_eq!(
            spec.resources.keys().collect::<Vec<_>>(),
            ["null_resource.a", "null_resource.b"]
        );
        let b = &spec.resources[&"null_resource.b".into()];
        assert_eq!(
            b.dependencies(&spec).into_iter().collect::<Vec<_>>(),
            ["null_resource.a"]
        );
    }

    #[test]
    fn every_error_is_reported_at_once_each_pointing_at_its_text() {
        let errors = load(
            r#"
[resources.null_resource.a]
trigers = { x = "1" }

[resources.null_resource.b]
triggers = { a = "${null_resource.missing.id}" }

[resources.nope_thing.c]
"#,
        )
        .err()
        .unwrap();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(
            errors
                .iter()
                .any(|(m, at)| m.contains("trigers") && at == "trigers"),
            "{errors:#?}"
        );
        assert!(
            errors
                .iter()
                .any(|(m, at)| m.contains("null_resource.missing")
                    && at.contains("null_resource.missing")),
            "{errors:#?}"
        );
        assert!(
            errors.iter().any(|(m, _)| m.contains("nope_thing")),
            "{errors:#?}"
        );
    }
}
