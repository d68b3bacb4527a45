//! Reading the user's files and writing meshmon's own, safely: inputs must
//! be regular files of a bounded size (a FIFO would block forever,
//! `/dev/zero` would never end), and outputs are written to a temporary file
//! and renamed into place, so a link planted at the path is replaced, never
//! written through, and a reader never sees half a file.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The largest file meshmon reads as input: a spec, a var file, a saved
/// plan, a `file()`.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// The largest state or journal meshmon reads (a million resources' worth).
pub const MAX_STATE_BYTES: u64 = 1024 * 1024 * 1024;

/// Why an input file could not be read, worded to follow "cannot read PATH: ".
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is larger than {} MiB", .0 / (1024 * 1024))]
    TooLarge(u64),
    #[error("it is not UTF-8 text")]
    NotText,
}

fn kind(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads a regular file of at most `MAX_INPUT_BYTES`. Opening never blocks
/// (a FIFO is refused, not waited on) and reading stops at the cap even if
/// the file grows meanwhile.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ReadError> {
    read_bytes_limited(path, MAX_INPUT_BYTES)
}

/// `read_bytes` with another size limit.
pub fn read_bytes_limited(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(kind(meta.file_type())));
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge(cap));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(bytes)
}

/// `read_bytes`, as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    String::from_utf8(read_bytes(path)?).map_err(|_| ReadError::NotText)
}

/// A temporary file beside `path` holding `bytes`, given `mode` before it
/// has any content, and synced: ready to be renamed into place.
fn staged(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// Writes `bytes` to `path` with `mode`, renamed over `path` in one step. A
/// symbolic link at `path` is replaced by the file; its target is left alone.
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    staged(path, bytes, mode)?
        .persist(path)
        .map(drop)
        .map_err(|e| e.error)
}

/// Like `write_replace`, but fails with `AlreadyExists` when anything (a
/// file, a link, a directory) is at `path` already.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    staged(path, bytes, mode)?
        .persist_noclobber(path)
        .map(drop)
        .map_err(|e| e.error)
}

/// The files a report must never replace, each with what it is: the state,
/// its backup, journal and lock, the spec, the var files, a saved plan.
#[derive(Clone, Debug, Default)]
pub struct Protected(Vec<(std::path::PathBuf, &'static str)>);

impl Protected {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `path` as `what` ("the spec", "a var file").
    pub fn add(&mut self, path: &Path, what: &'static str) {
        self.0.push((canonical(path), what));
    }

    /// What `path` is, if it is one of the protected files, or one of
    /// meshmon's own by its content (a state, a journal, a lock, a saved
    /// plan) or a TOML file (a spec or a var file).
    fn what(&self, path: &Path) -> Option<&'static str> {
        let c = canonical(path);
        if let Some((_, what)) = self.0.iter().find(|(p, _)| *p == c) {
            return Some(what);
        }
        if path.extension().is_some_and(|e| e == "toml") {
            return Some("a TOML file (a spec or a var file)");
        }
        let mut head = Vec::new();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path)
            .ok()?;
        file.take(4096).read_to_end(&mut head).ok()?;
        let text = String::from_utf8_lossy(&head);
        let start = text.trim_start();
        if start.starts_with("meshmon-plan") {
            Some("a saved meshmon plan")
        } else if start.starts_with("{\"op\":\"begin\"") {
            Some("a meshmon journal")
        } else if start.starts_with('{')
            && text.contains("\"lineage\"")
            && text.contains("\"format_version\"")
        {
            Some("a meshmon state file")
        } else if start.starts_with('{')
            && text.contains("\"operation\"")
            && text.contains("\"who\"")
        {
            Some("a meshmon state lock")
        } else {
            None
        }
    }
}

/// `path` with its directory resolved, whether or not the file exists.
fn canonical(path: &Path) -> std::path::PathBuf {
    if let Ok(c) = std::fs::canonicalize(path) {
        return c;
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(dir), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// The process's own descriptor a path names (`/dev/stdout`, `/dev/fd/3`).
fn own_descriptor(path: &Path) -> Option<i32> {
    let s = path.to_str()?;
    match s {
        "/dev/stdout" => Some(1),
        "/dev/stderr" => Some(2),
        _ => s
            .strip_prefix("/dev/fd/")
            .or_else(|| s.strip_prefix("/proc/self/fd/"))
            .and_then(|n| n.parse().ok()),
    }
}

/// Writes a report or a document meshmon was asked for to `path`:
/// - `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, a character device or a FIFO
///   is written to as a stream, never replaced by a file;
/// - a regular file (or nothing) is replaced whole, through a temporary
///   file, with `mode` — unless it is one of `protected`, or one of
///   meshmon's own files or a TOML file by its content or name;
/// - a symbolic link is replaced, never written through, unless it leads to
///   a device or a FIFO (`/dev/stdout` is one).
pub fn write_report(
    what: &str,
    path: &Path,
    bytes: &[u8],
    mode: u32,
    protected: &Protected,
) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let shown = crate::diag::printable(&path.display().to_string()).into_owned();
    let failed = |e: std::io::Error| format!("cannot write {what} {shown}: {e}");
    if let Some(fd) = own_descriptor(path) {
        // A copy of the descriptor, so that closing it leaves ours open.
        let dup = unsafe { libc::dup(fd) };
        if dup < 0 {
            return Err(failed(std::io::Error::last_os_error()));
        }
        let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(dup) };
        return f.write_all(bytes).and_then(|()| f.flush()).map_err(failed);
    }
    let stream = |ft: std::fs::FileType| ft.is_char_device() || ft.is_fifo();
    match std::fs::symlink_metadata(path) {
        Ok(m)
            if stream(m.file_type())
                || (m.file_type().is_symlink()
                    && std::fs::metadata(path).is_ok_and(|t| stream(t.file_type()))) =>
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(failed)?;
            return f.write_all(bytes).and_then(|()| f.flush()).map_err(failed);
        }
        Ok(m) if !(m.file_type().is_file() || m.file_type().is_symlink()) => {
            return Err(format!(
                "cannot write {what} {shown}: it is {}, not a file meshmon can replace",
                kind(m.file_type())
            ));
        }
        Ok(m) if m.file_type().is_file() => {
            if let Some(is) = protected.what(path) {
                return Err(format!(
                    "cannot write {what} {shown}: it is {is}; meshmon writes reports and documents only to other files"
                ));
            }
        }
        Ok(_) => {
            if let Some(is) = protected.0.iter().find(|(p, _)| *p == canonical(path)) {
                return Err(format!(
                    "cannot write {what} {shown}: it leads to {}; meshmon writes reports and documents only to other files",
                    is.1
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(is) = protected.what(path) {
                return Err(format!(
                    "cannot write {what} {shown}: it is {is}; meshmon writes reports and documents only to other files"
                ));
            }
        }
        Err(e) => return Err(failed(e)),
    }
    write_replace(path, bytes, mode).map_err(failed)
}
