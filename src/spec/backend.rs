//! `[meshmon] backend`: where the state lives when it is not a local file.
//! The spec only describes it; `state::Store` opens it.

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
