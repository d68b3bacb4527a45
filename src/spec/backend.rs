//! Where a spec keeps its state: `[meshmon] backend` (S3), else
//! `[meshmon] state` (a file), else `state/NAME.json`. The spec only
//! describes it; `state::Store::at` opens it.

use std::path::{Path, PathBuf};

/// `[meshmon] backend = { s3 = { … } }`.
#[derive(Clone, Debug, PartialEq)]
pub struct S3Config {
    pub bucket: String,
    pub key: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`
    /// (S3-compatible stores and local emulators need it).
    pub use_path_style: bool,
}

impl S3Config {
    /// Reads `{ s3 = { bucket, key, region, profile, use_path_style } }`.
    pub fn from_backend(v: &meshmon_provider_sdk::Value) -> Result<S3Config, String> {
        use meshmon_provider_sdk::Value;
        let table = v
            .as_map()
            .ok_or("`backend` must be a table like { s3 = { bucket = \"…\", key = \"…\" } }")?;
        if let Some(other) = table.keys().find(|k| *k != "s3") {
            return Err(format!(
                "unknown backend `{other}`: the backends are `s3` (and the local file, set with `state`)"
            ));
        }
        let s3 = table
            .get("s3")
            .and_then(Value::as_map)
            .ok_or("`backend` must be a table like { s3 = { bucket = \"…\", key = \"…\" } }")?;
        const KEYS: &[&str] = &["bucket", "key", "region", "profile", "use_path_style"];
        if let Some(k) = s3.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(format!(
                "unknown key `{k}` in the s3 backend; expected one of: {}",
                KEYS.join(", ")
            ));
        }
        let text = |k: &str, required: bool| -> Result<Option<String>, String> {
            match s3.get(k) {
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                None if !required => Ok(None),
                None => Err(format!("the s3 backend needs `{k}`")),
                Some(_) => Err(format!("the s3 backend's `{k}` must be a non-empty string")),
            }
        };
        Ok(S3Config {
            bucket: text("bucket", true)?.unwrap_or_default(),
            key: text("key", true)?.unwrap_or_default(),
            region: text("region", false)?,
            profile: text("profile", false)?,
            use_path_style: match s3.get("use_path_style") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err("the s3 backend's `use_path_style` must be true or false".into());
                }
            },
        })
    }
}

/// Where a spec keeps its state.
#[derive(Clone, Debug, PartialEq)]
pub enum StateLocation {
    S3(S3Config),
    File(PathBuf),
}

impl StateLocation {
    fn of(backend: Option<S3Config>, state: Option<&str>, name: &str) -> Self {
        match (backend, state) {
            (Some(b), _) => StateLocation::S3(b),
            (None, Some(p)) => StateLocation::File(PathBuf::from(p)),
            (None, None) => {
                StateLocation::File(PathBuf::from("state").join(format!("{name}.json")))
            }
        }
    }
}

impl super::Spec {
    /// Where this spec keeps its state.
    pub fn state_location(&self) -> StateLocation {
        StateLocation::of(self.backend.clone(), self.state_path.as_deref(), &self.name)
    }
}

/// Why the state's location could not be read from a spec.
#[derive(Debug)]
pub struct LocateError {
    pub message: String,
    pub hint: Option<String>,
}

/// Where the spec in `file` keeps its state, from its `[meshmon]` table
/// alone: for commands that only touch the state, which a spec whose
/// variables are unset still names.
pub fn state_location_of(file: &Path) -> Result<StateLocation, LocateError> {
    let fail = |message: String| LocateError {
        message,
        hint: None,
    };
    let text = crate::fsutil::read_text(file).map_err(|e| LocateError {
        message: format!("cannot read spec {}: {e}", file.display()),
        hint: Some("pass --state PATH, or -f SPEC to find the state through the spec".into()),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        fail(format!(
            "{} is not valid TOML: {}",
            file.display(),
            e.message()
        ))
    })?;
    let meshmon = table.get("meshmon").and_then(|m| m.as_table());
    let backend = match meshmon.and_then(|m| m.get("backend")) {
        Some(b) => Some(
            S3Config::from_backend(&super::toml_to_value(b.clone()))
                .map_err(|e| fail(format!("{}: invalid backend: {e}", file.display())))?,
        ),
        None => None,
    };
    let state = meshmon
        .and_then(|m| m.get("state"))
        .and_then(|v| v.as_str());
    let name = meshmon.and_then(|m| m.get("name")).and_then(|v| v.as_str());
    match (backend, state, name) {
        (None, None, None) => Err(fail(format!("{} has no [meshmon] name", file.display()))),
        (backend, state, name) => Ok(StateLocation::of(backend, state, name.unwrap_or_default())),
    }
}
