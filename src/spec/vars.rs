//! Where variable values come from, lowest precedence first: the declared
//! `default`, `MESHMON_VAR_NAME` in the environment, `--var-file` files in
//! the order given, then `--var NAME=VALUE` flags in the order given.

use std::collections::BTreeMap;
use std::path::PathBuf;

use meshmon_provider_sdk::Value;

/// Variable values supplied from outside the spec.
#[derive(Clone, Debug, Default)]
pub struct VarInputs {
    /// `--var NAME=VALUE`, as written.
    pub cli: Vec<String>,
    /// `--var-file FILE.toml`.
    pub files: Vec<PathBuf>,
    /// `MESHMON_VAR_*` environment variables (name without the prefix).
    pub env: Vec<(String, String)>,
    /// `MESHMON_VAR_*` environment variables that cannot be read (their
    /// name or value is not UTF-8), as shown in errors.
    pub unreadable_env: Vec<String>,
    /// Typed values that override everything (a saved plan's variables).
    pub values: Vec<(String, Value)>,
    /// What `file()` reads instead of the disk: the contents a saved plan
    /// was made with, by path as written. A path not in it is an error.
    pub pinned_files: Option<BTreeMap<String, String>>,
}

impl VarInputs {
    /// Picks the `MESHMON_VAR_*` variables out of the process environment.
    /// Variables meshmon does not read are ignored whatever they hold (CI
    /// systems set some that are not UTF-8); one of its own that cannot be
    /// read is an error naming it.
    pub fn with_process_env(mut self) -> Self {
        for (k, v) in std::env::vars_os() {
            if !k.as_encoded_bytes().starts_with(b"MESHMON_VAR_") {
                continue;
            }
            match (k.to_str(), v.into_string()) {
                (Some(k), Ok(v)) => {
                    let name = k.strip_prefix("MESHMON_VAR_").unwrap_or(k);
                    self.env.push((name.to_string(), v));
                }
                (name, _) => self.unreadable_env.push(
                    name.map(str::to_string)
                        .unwrap_or_else(|| k.to_string_lossy().into_owned()),
                ),
            }
        }
        self
    }
}

/// A value as supplied, before it is typed against the declaration.
pub(crate) enum Supplied {
    /// From the command line or the environment: typed by the default's type.
    Text(String),
    /// From a var file: already typed by TOML.
    Typed(Value),
}

/// Collects supplied values by name, later sources overriding earlier ones.
/// Errors are messages about the inputs themselves (a malformed `--var`).
pub(crate) fn collect(
    inputs: &VarInputs,
) -> Result<BTreeMap<String, (Supplied, String)>, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for name in &inputs.unreadable_env {
        errors.push(format!(
            "environment variable {} is not UTF-8 text: meshmon reads variables from MESHMON_VAR_* as UTF-8; unset it or set it to UTF-8 text",
            crate::diag::printable(name)
        ));
    }
    for (name, v) in &inputs.env {
        out.insert(
            name.clone(),
            (
                Supplied::Text(v.clone()),
                format!("environment variable MESHMON_VAR_{name}"),
            ),
        );
    }
    for file in &inputs.files {
        let text = match crate::fsutil::read_text(file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("cannot read var file {}: {e}", file.display()));
                continue;
            }
        };
        match toml::from_str::<toml::Table>(&text) {
            Ok(table) => {
                for (k, v) in table {
                    let value = toml_to_value(v);
                    if !finite(&value) {
                        errors.push(format!(
                            "var file {}: `{k}`: {}",
                            file.display(),
                            super::node::NON_FINITE
                        ));
                        continue;
                    }
                    if depth(&value) > meshmon_provider_sdk::value::MAX_DEPTH {
                        errors.push(format!(
                            "var file {}: `{k}` is nested more than {} levels deep",
                            file.display(),
                            meshmon_provider_sdk::value::MAX_DEPTH
                        ));
                        continue;
                    }
                    out.insert(
                        k,
                        (
                            Supplied::Typed(value),
                            format!("var file {}", file.display()),
                        ),
                    );
                }
            }
            Err(e) => errors.push(format!(
                "var file {} is not valid TOML: {}",
                file.display(),
                e.message()
            )),
        }
    }
    for raw in &inputs.cli {
        match raw.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                out.insert(
                    name.trim().to_string(),
                    (
                        Supplied::Text(value.to_string()),
                        format!("--var {}", name.trim()),
                    ),
                );
            }
            _ => errors.push(format!(
                "--var {raw:?} is malformed: expected NAME=VALUE, like --var region=eu-west-1"
            )),
        }
    }
    for (name, v) in &inputs.values {
        out.insert(
            name.clone(),
            (Supplied::Typed(v.clone()), "the saved plan".to_string()),
        );
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Whether every number in a value is finite.
pub(crate) fn finite(v: &Value) -> bool {
    match v {
        Value::Float(f) => f.is_finite(),
        Value::List(l) => l.iter().all(finite),
        Value::Map(m) => m.values().all(finite),
        _ => true,
    }
}

/// How deeply a value nests lists and tables (a scalar is 0).
pub(crate) fn depth(v: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::List(l) => stack.extend(l.iter().map(|e| (e, d + 1))),
            Value::Map(m) => stack.extend(m.values().map(|e| (e, d + 1))),
            _ => {}
        }
    }
    max
}

/// Whether a typed value (from a var file) fits the declared default's type;
/// no default, or a null one, takes any value.
pub(crate) fn fits_default(value: &Value, like: Option<&Value>) -> bool {
    match (like, value) {
        (None | Some(Value::Null), _) => true,
        (Some(Value::Float(_)), Value::Int(_)) => true,
        (Some(d), v) => std::mem::discriminant(d) == std::mem::discriminant(v),
    }
}

/// Converts a TOML value from a var file or a typed `--var`.
pub fn toml_to_value(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::Int(i),
        toml::Value::Float(f) => Value::Float(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::List(a.into_iter().map(toml_to_value).collect()),
        toml::Value::Table(t) => {
            Value::Map(t.into_iter().map(|(k, v)| (k, toml_to_value(v))).collect())
        }
    }
}

/// Types a textual value like the declared default: `--var replicas=3` is an
/// integer when the default is one; lists and tables are read as TOML.
pub(crate) fn type_text(text: &str, like: Option<&Value>) -> Result<Value, String> {
    match like {
        None | Some(Value::String(_)) | Some(Value::Null) => Ok(Value::String(text.to_string())),
        Some(Value::Int(_)) => text
            .trim()
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| format!("expected an integer, got {text:?}")),
        Some(Value::Float(_)) => match text.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            Ok(_) => Err(super::node::NON_FINITE.to_string()),
            Err(_) => Err(format!("expected a number, got {text:?}")),
        },
        Some(Value::Bool(_)) => match text.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("expected true or false, got {text:?}")),
        },
        Some(_) => {
            let doc = format!("v = {text}");
            toml::from_str::<toml::Table>(&doc)
                .ok()
                .and_then(|mut t| t.remove("v"))
                .map(toml_to_value)
                .ok_or_else(|| format!("expected a TOML list or inline table, got {text:?}"))
                .and_then(|v| {
                    if !finite(&v) {
                        return Err(super::node::NON_FINITE.to_string());
                    }
                    if depth(&v) > meshmon_provider_sdk::value::MAX_DEPTH {
                        Err(format!(
                            "the value is nested more than {} levels deep",
                            meshmon_provider_sdk::value::MAX_DEPTH
                        ))
                    } else {
                        Ok(v)
                    }
                })
        }
    }
}
