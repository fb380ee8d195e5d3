//! Temporary names for atomic writes: every output file is written beside its target
//! and renamed into place (see `report::write_atomic`), so an interrupted run never leaves
//! a file that looks complete and is not.

use std::path::{Path, PathBuf};

/// A fresh temporary name beside `path` (its folder is created if missing): hidden, and
/// unique per process and call, so concurrent writers never share one. Returns the folder
/// and the temporary path.
pub fn temporary_sibling(path: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    static NEXT_TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = NEXT_TMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{unique}", std::process::id()));
    Ok((dir, tmp))
}
