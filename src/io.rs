//! Atomic writes: every output goes to a temporary path next to its target and is renamed into
//! place, so an interrupted run never leaves a half-written file or model behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A temporary sibling of `target` (same folder, so the rename is atomic on one filesystem).
pub fn temp_sibling(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let unique = format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    target.with_file_name(unique)
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
///
/// # Errors
/// [`Error::Io`] naming the path when the folder cannot be written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, e))?;
    }
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(|e| Error::io("create", path, e))?;
        f.write_all(bytes)
            .map_err(|e| Error::io("write", path, e))?;
        f.sync_all().map_err(|e| Error::io("sync", path, e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io("rename into place", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Replaces the folder `target` with the folder that `fill` writes, atomically.
///
/// `fill` receives a fresh temporary folder next to `target`. Only when it succeeds is the old
/// `target` (if any) moved aside and the new one renamed into place; on any error the previous
/// `target` is left untouched and the temporary folder is removed.
///
/// # Errors
/// The error of `fill`, or [`Error::Io`] naming the folder that could not be written.
pub fn replace_dir_atomic(target: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, e))?;
    }
    let tmp = temp_sibling(target);
    fs::create_dir(&tmp).map_err(|e| Error::io("create temporary folder for", target, e))?;
    if let Err(e) = fill(&tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if target.exists() {
        let old = temp_sibling(&target.with_file_name(format!(
            "{}.old",
            target.file_name().unwrap_or_default().to_string_lossy()
        )));
        fs::rename(target, &old).map_err(|e| {
            let _ = fs::remove_dir_all(&tmp);
            Error::io("move aside the previous", target, e)
        })?;
        if let Err(e) = fs::rename(&tmp, target) {
            let _ = fs::rename(&old, target);
            let _ = fs::remove_dir_all(&tmp);
            return Err(Error::io("rename into place", target, e));
        }
        let _ = fs::remove_dir_all(&old);
    } else {
        fs::rename(&tmp, target).map_err(|e| {
            let _ = fs::remove_dir_all(&tmp);
            Error::io("rename into place", target, e)
        })?;
    }
    Ok(())
}
