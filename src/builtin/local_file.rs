//! `local_file`: a file on the machine running meshmon. Relative paths are
//! relative to the working directory (`-C DIR` changes it). Reading it back
//! finds drift: a deleted file is gone, edited content or mode is changed.
//!
//! meshmon only ever touches the file it created: create refuses when
//! anything already exists at the path (import it to manage it), every
//! write goes to a temporary file that already has its final mode and is
//! renamed into place (never through a symbolic link), and read and delete
//! leave alone whatever has since replaced the file at that path.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, PlanAdvice, ProviderError, UpdateGroup, Value,
    async_trait, declare,
};
use sha2::{Digest, Sha256};

use crate::fsutil;

declare! {
    pub(super) struct FileIn for "local_file" ("A file on the machine that runs meshmon.") {
        path: String = required(AttrType::String)
            .force_new()
            .check(super::checks::non_empty_path)
            .describe("Where to write the file.");
        content: String = required(AttrType::String)
            .describe("The file's content; rewritten in place on change.");
        file_permission: Option<String> = optional(AttrType::String)
            .default("0644")
            .check(super::checks::octal_mode)
            .describe("Octal mode, like \"0600\".");
    }
    outputs {
        id = computed(AttrType::String).describe("The file's path.");
        sha256 = computed(AttrType::String).describe("SHA-256 of the content, hex.");
    }
}

/// What a create, a recovery or an update writes.
struct Wanted {
    path: String,
    content: String,
    mode: u32,
}

impl Wanted {
    fn of(i: &FileIn) -> Result<Self, ProviderError> {
        let mode = Value::from(i.file_permission.as_deref().unwrap_or("0644"));
        super::checks::octal_mode(&mode).map_err(ProviderError::new)?;
        Ok(Wanted {
            path: i.path.clone(),
            content: i.content.clone(),
            mode: mode
                .as_str()
                .and_then(|s| u32::from_str_radix(s, 8).ok())
                .unwrap_or(0o644),
        })
    }
}

pub(super) struct LocalFile;

#[derive(Clone, Copy, Debug)]
pub(super) enum FileUpdate {
    File,
}

fn sha256(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

fn io_error(op: &str, path: &str, e: std::io::Error) -> ProviderError {
    ProviderError::api(
        format!("{op} {path:?}"),
        Some(format!("{:?}", e.kind())),
        e.to_string(),
    )
}

/// What is at a path now, without following a link there.
enum Found {
    Nothing,
    File(std::fs::Metadata),
    /// A symbolic link, a directory, a FIFO…: not the file meshmon wrote.
    Other(&'static str),
}

fn found(path: &str) -> Result<Found, ProviderError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => Ok(Found::File(m)),
        Ok(m) if m.file_type().is_symlink() => Ok(Found::Other("a symbolic link")),
        Ok(m) if m.file_type().is_dir() => Ok(Found::Other("a directory")),
        Ok(_) => Ok(Found::Other("not a regular file")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Found::Nothing),
        Err(e) => Err(io_error("stat", path, e)),
    }
}

fn parent_dir(path: &str) -> Result<(), ProviderError> {
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| io_error("create directory for", path, e))?;
    }
    Ok(())
}

fn written(path: String, content: &str) -> Map {
    super::outputs([
        ("id", Value::String(path)),
        ("sha256", Value::String(sha256(content.as_bytes()))),
    ])
}

/// Creates the file; anything already at the path is someone else's.
fn create(w: Wanted) -> Result<Map, ProviderError> {
    let Wanted {
        path,
        content,
        mode,
    } = w;
    let exists = || {
        ProviderError::new(format!(
            "{path:?} already exists; meshmon does not overwrite files it did not create"
        ))
        .with_hint("move it away, or adopt it with `meshmon import ADDRESS PATH` to manage it")
    };
    if !matches!(found(&path)?, Found::Nothing) {
        return Err(exists());
    }
    parent_dir(&path)?;
    match fsutil::write_new(Path::new(&path), content.as_bytes(), mode) {
        Ok(()) => Ok(written(path, &content)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(e) => Err(io_error("write", &path, e)),
    }
}

/// The file an interrupted create wrote: a regular file at the path with
/// exactly the content and mode the create gives it. Anything else at the
/// path is left for `create` to refuse.
fn recover(w: Wanted) -> Result<Option<Map>, ProviderError> {
    let Wanted {
        path,
        content,
        mode,
    } = w;
    let Some(now) = read_file(&path)? else {
        return Ok(None);
    };
    let same_mode = now.inputs.get("file_permission").and_then(Value::as_str)
        == Some(format!("{mode:04o}").as_str());
    let same_content = now.inputs.get("content").and_then(Value::as_str) == Some(content.as_str());
    Ok((same_mode && same_content).then(|| written(path, &content)))
}

/// Rewrites the file meshmon created, replacing it whole.
fn update(w: Wanted) -> Result<Map, ProviderError> {
    let Wanted {
        path,
        content,
        mode,
    } = w;
    if let Found::Other(what) = found(&path)? {
        return Err(replaced(&path, what));
    }
    parent_dir(&path)?;
    fsutil::write_replace(Path::new(&path), content.as_bytes(), mode)
        .map_err(|e| io_error("write", &path, e))?;
    Ok(written(path, &content))
}

/// Checks that the recorded ID is the path the recorded inputs name: a file
/// is only ever read or removed where the spec put it.
fn recorded_path(id: &str, prior: &Current) -> Result<(), ProviderError> {
    match prior.inputs.get("path").and_then(Value::as_str) {
        Some(path) if path == id => Ok(()),
        recorded => Err(ProviderError::new(format!(
            "the state records this file's ID as {id:?}, but its path as {}; meshmon reads and removes a file only at its recorded path",
            recorded.map_or("nothing".to_string(), |p| format!("{p:?}"))
        ))
        .with_hint("the state was edited: restore it from its backup, or `meshmon state rm` the resource and `meshmon import` it again")),
    }
}

fn replaced(path: &str, what: &str) -> ProviderError {
    ProviderError::new(format!(
        "{path:?} is now {what}, not the file meshmon wrote; meshmon leaves it alone"
    ))
    .with_hint("remove it to let meshmon write the file again, or `meshmon state rm` the resource to stop managing it")
}

fn read_file(path: &str) -> Result<Option<Current>, ProviderError> {
    // Something else in its place means the file meshmon wrote is gone:
    // the next create refuses to overwrite it, and destroy leaves it alone.
    let meta = match found(path)? {
        Found::Nothing | Found::Other(_) => return Ok(None),
        Found::File(m) => m,
    };
    let bytes = match fsutil::read_bytes(Path::new(path)) {
        Ok(b) => b,
        Err(fsutil::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(ProviderError::new(format!("cannot read {path:?}: {e}"))),
    };
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

/// Runs file-system work off the async threads, so a slow disk or a stuck
/// network mount cannot stall the walk or its timeouts.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ProviderError> + Send + 'static,
) -> Result<T, ProviderError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ProviderError::new(format!("file operation failed: {e}")))?
}

#[async_trait]
impl Declared for LocalFile {
    type Inputs = FileIn;
    type Outputs = Map;
    type Client = ();
    type Group = FileUpdate;
    const UPDATES: &'static [UpdateGroup<FileUpdate>] =
        &[(FileUpdate::File, &["content", "file_permission"])];

    fn new(_: Arc<()>) -> Self {
        LocalFile
    }

    /// The file at `path` (its ID), as it is on disk now.
    async fn fetch(
        &self,
        _ctx: &OpContext,
        path: &str,
        _prior: &Map,
    ) -> Result<Option<Current>, ProviderError> {
        let path = path.to_string();
        blocking(move || read_file(&path)).await
    }

    async fn create(&self, _ctx: &OpContext, i: &Inputs<'_, FileIn>) -> Result<Map, ProviderError> {
        let w = Wanted::of(i)?;
        blocking(move || create(w)).await
    }

    async fn recover(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, FileIn>,
    ) -> Result<Option<Map>, ProviderError> {
        let w = Wanted::of(i)?;
        blocking(move || recover(w)).await
    }

    /// Content and mode are written together, the file replaced whole.
    async fn update(
        &self,
        _ctx: &OpContext,
        group: FileUpdate,
        _path: &str,
        _prior: &Current,
        i: &Inputs<'_, FileIn>,
    ) -> Result<Option<Map>, ProviderError> {
        let FileUpdate::File = group;
        let w = Wanted::of(i)?;
        blocking(move || update(w)).await.map(Some)
    }

    /// The record is read only where its inputs say the file is: a state
    /// edited to give another path as the ID is refused, never read.
    async fn read(
        &self,
        ctx: &OpContext,
        path: &str,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        recorded_path(path, prior)?;
        self.fetch(ctx, path, &prior.inputs).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        path: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        recorded_path(path, prior)?;
        let path = path.to_string();
        let gone = blocking(move || match found(&path)? {
            Found::Nothing => Ok(None),
            Found::Other(what) => Ok(Some(format!(
                "{path:?} is now {what}, not the file meshmon wrote: left in place"
            ))),
            Found::File(_) => match std::fs::remove_file(&path) {
                Ok(()) => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_error("remove", &path, e)),
            },
        })
        .await?;
        if let Some(note) = gone {
            ctx.progress(&note);
        }
        Ok(())
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

declare! {
    pub(super) struct FileLookupIn for "local_file" (
        "A file that exists on the machine that runs meshmon, read as UTF-8 text (a regular file of at most 16 MiB; never a FIFO or a device)."
    ) {
        path: String = required(AttrType::String)
            .check(super::checks::non_empty_path)
            .describe("The file to read; relative to the working directory.");
    }
    outputs FileFound {
        id: String = computed(AttrType::String).describe("The file's path.");
        content: String = computed(AttrType::String).describe("The file's content.");
        lines: Vec<String> = computed(AttrType::list_of(AttrType::String)).describe(
            "The content's lines that hold more than blanks, trimmed: a set of keys for `for_each`.",
        );
        sha256: String = computed(AttrType::String).describe("SHA-256 of the content, hex.");
    }
}

/// `[data.local_file.NAME]`: a file read, never written.
pub(super) struct FileLookup;

#[async_trait]
impl meshmon_provider_sdk::DeclaredLookup for FileLookup {
    type Inputs = FileLookupIn;
    type Outputs = FileFound;
    type Client = ();

    fn new(_: Arc<()>) -> Self {
        FileLookup
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        inputs: &Inputs<'_, FileLookupIn>,
    ) -> Result<FileFound, ProviderError> {
        let path = inputs.path.clone();
        let content = match fsutil::read_text(Path::new(&path)) {
            Ok(c) => c,
            Err(fsutil::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                // The files beside it, named as the path names them.
                let parent = Path::new(&path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty());
                let nearby = std::fs::read_dir(parent.unwrap_or(Path::new(".")))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .take(10_000)
                    .map(|e| match parent {
                        Some(dir) => dir.join(e.file_name()).display().to_string(),
                        None => e.file_name().to_string_lossy().into_owned(),
                    });
                let keys = [("path", &Value::from(path.as_str()))];
                return Err(meshmon_provider_sdk::lookup::not_found(
                    "file", &keys, &path, nearby,
                ));
            }
            Err(e) => return Err(ProviderError::new(format!("cannot read {path:?}: {e}"))),
        };
        Ok(FileFound {
            sha256: sha256(content.as_bytes()),
            lines: content
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            id: path,
            content,
        })
    }
}
