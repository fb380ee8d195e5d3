//! Reading input files a user names (scenarios, baselines, tolerance files, sweep
//! folders): only regular files are read, so a FIFO cannot hang a command and a device
//! (`/dev/zero`, `/dev/urandom`) cannot fill memory, and each kind of input has a size it
//! may not pass. A UTF-8 byte-order mark, which some editors write, is skipped (RFC 8259
//! lets a parser ignore it).

use std::io::{Error, ErrorKind, Read};
use std::path::Path;

/// The largest scenario or tolerance file read (64 MiB: the shipped ones are a few KiB).
pub const MAX_SCENARIO_BYTES: u64 = 64 << 20;
/// The largest report read back as a baseline (2 GiB: a dense timeline makes big ones).
pub const MAX_REPORT_BYTES: u64 = 2 << 30;

/// The text of the regular file at `path`, at most `max_bytes` long.
pub fn read_text(path: &Path, max_bytes: u64) -> std::io::Result<String> {
    let bytes = read_bytes(path, max_bytes)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// The bytes of the regular file at `path`, at most `max_bytes` long.
pub fn read_bytes(path: &Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    // Looked at before opening: opening a FIFO blocks until someone writes to it.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("not a regular file (a {})", file_kind(&meta)),
        ));
    }
    if meta.len() > max_bytes {
        return Err(too_big(meta.len(), max_bytes));
    }
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow between the look and the read: read one byte past the bound.
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_big(bytes.len() as u64, max_bytes));
    }
    Ok(bytes)
}

fn too_big(len: u64, max: u64) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "{} MiB or more, past the {} MiB this input may be",
            len >> 20,
            max >> 20
        ),
    )
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if meta.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bom_is_skipped_and_size_is_bounded() {
        let dir = std::env::temp_dir().join(format!("dynasim-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bom.json");
        std::fs::write(&path, "\u{feff}{}").expect("write");
        assert_eq!(read_text(&path, 100).expect("read"), "{}");
        let err = read_text(&path, 2).expect_err("too big");
        assert!(err.to_string().contains("past the"), "{err}");
        let err = read_text(&dir, 100).expect_err("a directory");
        assert!(err.to_string().contains("directory"), "{err}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
