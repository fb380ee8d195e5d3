//! Temporary names for atomic writes: every output file is written beside its target
//! and renamed into place (see `report::write_atomic`), so an interrupted run never leaves
//! a file that looks complete and is not. Every temporary file is registered until it is
//! renamed or removed, so that an interrupting signal (SIGINT, SIGTERM, SIGHUP: see
//! `remove_unfinished`) removes them instead of leaving them to pile up.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporary files being written now.
static UNFINISHED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn unfinished() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    // A writer that panicked leaves the set as it was: still usable.
    UNFINISHED.lock().unwrap_or_else(|e| e.into_inner())
}

/// `tmp` (from `temporary_sibling`) was renamed into place or removed.
pub fn settled(tmp: &Path) {
    unfinished().remove(tmp);
}

/// Removes every temporary file still being written; returns how many. Called on an
/// interrupting signal, just before the process exits.
pub fn remove_unfinished() -> usize {
    let mut pending = unfinished();
    let n = pending
        .iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count();
    pending.clear();
    n
}

/// A fresh temporary name beside `path` (its folder is created if missing): hidden, and
/// unique per process and call, so concurrent writers never share one. Returns the folder
/// and the temporary path. The caller calls `settled` once it renamed or removed it.
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
    unfinished().insert(tmp.clone());
    Ok((dir, tmp))
}

/// Where an output named `path` goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Destination {
    /// A device or a pipe (`/dev/stdout`, `/dev/null`, a FIFO), named directly or through
    /// symbolic links: written in place, since a file renamed over it would destroy it
    /// (run as root, the system's own device node).
    InPlace(PathBuf),
    /// Anything else: replaced whole by a rename, at the file its symbolic links lead to,
    /// so that a link stays a link.
    Replace(PathBuf),
}

/// Opens a `Destination::InPlace` device or pipe for writing (never created, never
/// truncated: it is not a file).
pub fn open_in_place(device: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).open(device)
}

/// Symbolic links followed at most, as the kernel's own limit for a path lookup.
const MAX_LINKS: usize = 40;

/// Where an output named `path` goes (see `Destination`).
pub fn destination(path: &Path) -> io::Result<Destination> {
    if let Ok(m) = std::fs::metadata(path)
        && !m.is_file()
        && !m.is_dir()
    {
        return Ok(Destination::InPlace(path.to_path_buf()));
    }
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&p)?;
                // A relative target is relative to the link's folder.
                p = match p.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            _ => return Ok(Destination::Replace(p)),
        }
    }
    Err(io::Error::other(format!(
        "{}: more than {MAX_LINKS} symbolic links",
        path.display()
    )))
}
