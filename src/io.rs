//! Atomic file output: a file appears complete under its name or not at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `path` atomically: `write` fills a temporary file in the same folder, which is
/// flushed, synced and renamed over `path` only if `write` succeeded. On any failure the
/// temporary file is removed and `path` is left as it was. An existing path that is not a
/// regular file (a device such as `/dev/null`, a pipe) is written in place instead.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    // an existing device, pipe or socket (`-o /dev/stdout`, `/dev/null`) is written in place:
    // renaming a temporary file over it would replace the device node itself
    if let Ok(md) = std::fs::metadata(path)
        && !md.is_file()
        && !md.is_dir()
    {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        return w.flush().map_err(|e| Error::io(path, e));
    }
    let name = path.file_name().ok_or_else(|| {
        Error::parameter(
            "output path",
            format!("{} is not a file name", path.display()),
        )
    })?;
    let parent = folder_of(path);
    if !parent.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("output folder {} does not exist", parent.display()),
            ),
        ));
    }
    let tmp = parent.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let file = File::create(&tmp).map_err(|e| Error::io(path, e))?;
    let mut w = BufWriter::new(file);
    let result = write(&mut w).and_then(|()| {
        let file = w
            .into_inner()
            .map_err(|e| Error::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The folder `path` is in: its parent, or `.` for a bare name.
pub(crate) fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes).map_err(|e| Error::io(path, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        let r = write_atomic(&p, |w| {
            w.write_all(b"partial").unwrap();
            Err(Error::parameter("x", "forced failure"))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_bytes_atomic(&p, b"done").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"done");
    }

    #[test]
    fn missing_folder_is_named() {
        let e = write_bytes_atomic(Path::new("/nonexistent-dir/x.dng"), b"1").unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x.dng"), "{e}");
    }
}
