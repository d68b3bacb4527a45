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
