//! `local_file`: a file on the machine running meshmon. Relative paths are
//! relative to the working directory (`-C DIR` changes it). Reading it back
//! finds drift: a deleted file is gone, edited content or mode is changed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, PlanAdvice, ProviderError, Resource, Schema,
    Value, async_trait,
};
use sha2::{Digest, Sha256};

pub fn schema() -> Schema {
    Schema::new("local_file", "A file on the machine that runs meshmon.")
        .attr(
            Attribute::required("path", AttrType::String)
                .force_new()
                .describe("Where to write the file."),
        )
        .attr(
            Attribute::required("content", AttrType::String)
                .describe("The file's content; rewritten in place on change."),
        )
        .attr(
            Attribute::optional("file_permission", AttrType::String)
                .default("0644")
                .describe("Octal mode, like \"0600\"."),
        )
        .attr(Attribute::computed("id", AttrType::String).describe("The file's path."))
        .attr(
            Attribute::computed("sha256", AttrType::String)
                .describe("SHA-256 of the content, hex."),
        )
}

pub struct LocalFile;

fn mode(inputs: &Map) -> Result<u32, ProviderError> {
    let s = inputs
        .get("file_permission")
        .and_then(Value::as_str)
        .unwrap_or("0644");
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            ProviderError::new(format!(
                "file_permission {s:?} is not an octal mode like \"0644\""
            ))
        })
}

fn text(inputs: &Map, key: &str) -> Result<String, ProviderError> {
    inputs
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ProviderError::invalid_inputs(format!("`{key}` is missing")))
}

fn sha256(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

fn io_error(op: &str, path: &str, e: std::io::Error) -> ProviderError {
    ProviderError::api(
        format!("{op} {path}"),
        Some(format!("{:?}", e.kind())),
        e.to_string(),
    )
}

fn write(inputs: &Map) -> Result<Map, ProviderError> {
    let path = text(inputs, "path")?;
    let content = text(inputs, "content")?;
    let mode = mode(inputs)?;
    if let Some(dir) = Path::new(&path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| io_error("create directory for", &path, e))?;
    }
    std::fs::write(&path, &content).map_err(|e| io_error("write", &path, e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error("chmod", &path, e))?;
    Ok(super::outputs([
        ("id", Value::String(path)),
        ("sha256", Value::String(sha256(content.as_bytes()))),
    ]))
}

fn read_file(path: &str) -> Result<Option<Current>, ProviderError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read", path, e)),
    };
    let meta = std::fs::metadata(path).map_err(|e| io_error("stat", path, e))?;
    let inputs = super::outputs([
        ("path", Value::from(path)),
        (
            "content",
            Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        ),
        (
            "file_permission",
            Value::String(format!("{:04o}", meta.permissions().mode() & 0o7777)),
        ),
    ]);
    let outputs = super::outputs([
        ("id", Value::from(path)),
        ("sha256", Value::String(sha256(&bytes))),
    ]);
    Ok(Some(Current::new(inputs, outputs)))
}

#[async_trait]
impl Resource for LocalFile {
    async fn create(&self, _ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        write(inputs)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        let path = text(&prior.inputs, "path")?;
        read_file(&path)
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        _prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        write(inputs)
    }

    async fn delete(&self, _ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let path = text(&prior.inputs, "path")?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", &path, e)),
        }
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        read_file(id)
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        let changed = prior.is_some_and(|p| p.inputs.get("content") != desired.get("content"));
        PlanAdvice {
            unknown_after_update: if changed {
                vec!["sha256".into()]
            } else {
                Vec::new()
            },
            ..PlanAdvice::default()
        }
    }
}
