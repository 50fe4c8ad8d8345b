//! Planning a batch: many bursts in, one output image per burst.
//!
//! This module decides *what* a batch run does and touches no pixels: it lists the bursts,
//! names each one, keeps this machine's share of them and skips those whose output already
//! exists. It is used by `obscura process --batch DIR`, `--manifest FILE` and `--shard I/N`;
//! decoding and processing each planned burst is the pipeline's job.
//!
//! # Where bursts come from
//!
//! - [`bursts_in_dir`]: every sub-directory of a directory is one burst, named after the
//!   sub-directory (`DIR/beach/` becomes `beach`). Only one level is listed; hidden entries and
//!   files directly in the directory are ignored.
//! - [`read_manifest`] / [`parse_manifest`]: a text file with one burst per line.
//!
//! # Manifest format
//!
//! ```text
//! # bursts for the 2024 trip; relative paths are relative to this file's folder
//! beach/
//! /mnt/photos/harbour
//! night/IMG_0001.dng
//! IMG_0100.dng<TAB>IMG_0101.dng<TAB>IMG_0102.dng
//! ```
//!
//! (`<TAB>` stands for one tab character.)
//!
//! - Blank lines and lines whose first non-blank character is `#` are ignored.
//! - A line is one path (a directory of raw files, or a single raw file), or several raw-file
//!   paths separated by TAB characters. Whitespace around each path is trimmed.
//! - Relative paths are joined to the manifest's folder; absolute paths are kept.
//! - The burst's name is the directory's name for a directory line (`beach`, `harbour`), and
//!   the first file's stem for a file line or list (`IMG_0001`, `IMG_0100`).
//! - Whether a single path is a file or a directory is decided from its text alone, since the
//!   manifest is parsed without touching the disk: a path ending in `/` is a directory, a path
//!   with a raw extension (`burst::RAW_EXTENSIONS`) is a file, and anything else is a directory.
//!   Missing paths are reported per burst when it is processed.
//! - Paths cannot contain tabs or line breaks, begin or end with whitespace, or begin with `#`
//!   (write `./#name` instead).
//!
//! Names must be unique, ignoring case: two bursts whose names differ only in case would
//! write the same output file on case-insensitive file systems (macOS, Windows), and the
//! second would then be skipped as "already done" or overwrite the first.
//!
//! # Sharding
//!
//! `--shard I/N` keeps the bursts whose name hashes to share `I`: the 64-bit FNV-1a hash of the
//! name's UTF-8 bytes, modulo `N`, equals `I - 1`. Each burst's share depends on its name alone,
//! not on its position in a list or on which other bursts exist, so N machines can split a
//! collection without talking to each other, and when the collection grows, the bursts already
//! processed stay in the share that processed them (with skip-existing, a re-run only does the
//! new ones). FNV-1a is fixed by its specification, unlike `std`'s hasher, which may change
//! between Rust releases and is seeded per process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One burst of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchBurst {
    /// Name the output is called after (unique within a batch, ignoring case).
    pub name: String,
    /// The burst's inputs: one directory of raw files, or the raw files themselves.
    pub inputs: Vec<PathBuf>,
}

/// The key under which names must be unique: outputs `A.jpg` and `a.jpg` are one file on
/// case-insensitive file systems.
fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Each sub-directory of `dir`, sorted by name, as one burst named after the sub-directory.
///
/// Only `dir`'s own entries are listed (deeper levels are the bursts' business). Entries whose
/// name starts with `.` and files directly in `dir` are ignored; symbolic links to directories
/// count as directories. Names that are not valid UTF-8 are converted lossily.
///
/// # Errors
/// - [`Error::Io`] if `dir` cannot be read;
/// - [`Error::Burst`] naming `dir` if it is not a directory, has no (non-hidden)
///   sub-directories, or has two sub-directories whose names differ only in case.
pub fn bursts_in_dir(dir: &Path) -> Result<Vec<BatchBurst>> {
    let md = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !md.is_dir() {
        return Err(Error::Burst {
            path: dir.to_path_buf(),
            reason: "not a directory (a batch directory holds one sub-directory per burst)".into(),
        });
    }
    let mut bursts = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            bursts.push(BatchBurst {
                name,
                inputs: vec![path],
            });
        }
    }
    if bursts.is_empty() {
        return Err(Error::Burst {
            path: dir.to_path_buf(),
            reason: "no burst sub-directories (each sub-directory of a batch directory is one \
                     burst)"
                .into(),
        });
    }
    bursts.sort_by(|a, b| a.name.cmp(&b.name));
    let mut seen: HashMap<String, &str> = HashMap::with_capacity(bursts.len());
    for b in &bursts {
        if let Some(first) = seen.insert(name_key(&b.name), &b.name) {
            return Err(Error::Burst {
                path: dir.to_path_buf(),
                reason: format!(
                    "sub-directories {first:?} and {:?} would write the same output (names \
                     must differ in more than case)",
                    b.name
                ),
            });
        }
    }
    Ok(bursts)
}

/// Reads a manifest file: one burst per line, paths relative to the file's folder.
///
/// See [`parse_manifest`] and the [module documentation](self) for the format.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::Decode`] naming it if it is not UTF-8
/// text or [`parse_manifest`] rejects it.
pub fn read_manifest(path: &Path) -> Result<Vec<BatchBurst>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        Error::decode(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    parse_manifest(text, base, path)
}

/// Parses a manifest's text into bursts, in the order of its lines.
///
/// One burst per line; blank lines and lines starting with `#` (after trimming) are ignored.
/// A line is one path (a directory of raw files or a single raw file) or several raw-file
/// paths separated by TABs; whitespace around each path is trimmed. Relative paths are joined
/// to `base` (the manifest's folder), absolute ones are kept. The name is the directory's name
/// for a directory, the first file's stem otherwise; see the [module documentation](self) for
/// how a single path is classified. Paths are not checked for existence.
///
/// Never panics, whatever the text.
///
/// # Errors
/// [`Error::Decode`] naming `path_for_errors`, with the 1-based line number, for: a path with
/// no usable name (`/`, `..`) or containing a NUL character, an empty field between tabs, two
/// bursts with the same name (ignoring case), or a manifest without any burst.
pub fn parse_manifest(text: &str, base: &Path, path_for_errors: &Path) -> Result<Vec<BatchBurst>> {
    let err = |line: usize, reason: String| {
        Error::decode(path_for_errors, format!("line {line}: {reason}"))
    };
    let mut bursts = Vec::new();
    // name_key -> (line number, name as written there)
    let mut seen: HashMap<String, (usize, String)> = HashMap::new();
    for (i, raw_line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = Vec::new();
        for field in line.split('\t') {
            let field = field.trim();
            if field.is_empty() {
                return Err(err(line_no, "empty path between two tabs".into()));
            }
            if field.contains('\0') {
                return Err(err(
                    line_no,
                    format!("path {field:?} contains a NUL character"),
                ));
            }
            fields.push(field);
        }
        let first = fields[0];
        let is_dir = fields.len() == 1 && !looks_like_raw_file(first);
        let first_path = Path::new(first);
        let name = if is_dir {
            first_path.file_name()
        } else {
            first_path.file_stem()
        };
        // `first` is a &str, so every component of it is valid UTF-8.
        let name = match name.and_then(|n| n.to_str()) {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => {
                return Err(err(
                    line_no,
                    format!("path {first:?} has no name to call the output after"),
                ));
            }
        };
        if let Some((prev_line, prev_name)) = seen.get(&name_key(&name)) {
            let reason = if *prev_name == name {
                format!("burst name {name:?} already used on line {prev_line}")
            } else {
                format!(
                    "burst name {name:?} already used on line {prev_line} (as {prev_name:?}; \
                     names must differ in more than case)"
                )
            };
            return Err(err(line_no, reason));
        }
        seen.insert(name_key(&name), (line_no, name.clone()));
        bursts.push(BatchBurst {
            name,
            inputs: fields.iter().map(|f| base.join(f)).collect(),
        });
    }
    if bursts.is_empty() {
        return Err(Error::decode(
            path_for_errors,
            "no bursts (every line is blank or a comment)",
        ));
    }
    Ok(bursts)
}

/// Whether a single manifest path names a raw file rather than a directory: it does not end in
/// a path separator and its extension is one of `burst::RAW_EXTENSIONS` (ignoring case).
fn looks_like_raw_file(path: &str) -> bool {
    if path.ends_with(std::path::is_separator) {
        return false;
    }
    crate::burst::is_raw_name(Path::new(path))
}

/// Largest share count `--shard` accepts.
const MAX_SHARDS: usize = 100_000;

/// A share of a batch: the `index`-th (1-based) of `count`.
///
/// Parsed from `"I/N"` (`--shard 2/4`), with `1 <= I <= N <= 100000`. A share built by hand
/// with `index` outside `1..=count` contains no burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which share, from 1 to `count`.
    pub index: usize,
    /// How many shares the batch is split into.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = Error;

    fn from_str(s: &str) -> Result<Shard> {
        let bad = || {
            Error::parameter(
                "shard",
                format!("{s:?}: expected I/N with 1 <= I <= N <= {MAX_SHARDS}"),
            )
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index < 1 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether `burst_name` belongs to this share: the FNV-1a 64-bit hash of the name's UTF-8
    /// bytes, modulo `count`, equals `index - 1`.
    ///
    /// Deterministic across machines, platforms and runs, and independent of which other
    /// bursts exist, so adding bursts never moves existing ones between shares.
    pub fn contains(&self, burst_name: &str) -> bool {
        let Some(want) = self.index.checked_sub(1) else {
            return false;
        };
        // `usize` is at most 64 bits on every supported target, so the casts are lossless.
        fnv1a64(burst_name.as_bytes()).checked_rem(self.count as u64) == Some(want as u64)
    }
}

/// The 64-bit FNV-1a hash (Fowler, Noll, Vo; offset basis and prime from the reference).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET_BASIS, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The output path of a burst: `out_dir/NAME.EXT`.
///
/// `ext` is given without a dot (`"jpg"`); a leading dot is tolerated, and an empty `ext`
/// gives `out_dir/NAME`. Dots in the name are kept (`day.1` gives `day.1.jpg`).
pub fn output_path(out_dir: &Path, burst: &BatchBurst, ext: &str) -> PathBuf {
    let ext = ext.strip_prefix('.').unwrap_or(ext);
    if ext.is_empty() {
        out_dir.join(&burst.name)
    } else {
        out_dir.join(format!("{}.{ext}", burst.name))
    }
}

/// One step of a batch run: a burst, where its output goes, and whether it is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedBurst {
    /// The burst.
    pub burst: BatchBurst,
    /// Where its image is written ([`output_path`]).
    pub output: PathBuf,
    /// True when the output already exists and overwriting was not asked for: the burst is
    /// reported as done and not processed again.
    pub skip: bool,
}

/// Plans a batch run: keeps the bursts of `shard` (all of them when `None`), in their given
/// order, with their outputs in `out_dir` named by [`output_path`]; a burst whose output
/// already exists is marked `skip` unless `overwrite`.
pub fn plan(
    bursts: Vec<BatchBurst>,
    out_dir: &Path,
    ext: &str,
    shard: Option<Shard>,
    overwrite: bool,
) -> Vec<PlannedBurst> {
    bursts
        .into_iter()
        .filter(|b| shard.is_none_or(|s| s.contains(&b.name)))
        .map(|burst| {
            let output = output_path(out_dir, &burst, ext);
            let skip = !overwrite && output.exists();
            PlannedBurst {
                burst,
                output,
                skip,
            }
        })
        .collect()
}

/// What [`claim`] found for a planned burst.
#[derive(Debug)]
pub enum Claimed {
    /// This run holds the burst: process it, then drop the claim.
    Mine(Claim),
    /// Another run (a second shard started with the same share, a restarted job whose first
    /// instance still runs) is processing it now: leave it to that run.
    Busy,
    /// Its output appeared since the batch was planned (another run finished it).
    Done,
}

/// A run's exclusive hold on one burst's output, released (and its lock file removed) when
/// dropped.
///
/// The hold is an advisory lock ([`std::fs::File::try_lock`]) on `out_dir/.NAME.EXT.lock`:
/// the operating system releases it when the process ends, however it ends (`kill -9`
/// included), so a stale lock file never blocks a rerun. Every batch run claims a burst
/// before processing it, so two runs over the same folder (overlapping shards, a job started
/// twice) write each output once. Advisory locks hold between processes of one machine and,
/// on network file systems that support them (NFS v4, Lustre with `flock`), between machines.
#[derive(Debug)]
pub struct Claim {
    lock: PathBuf,
    _file: std::fs::File,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // removed while still locked: a run that opened this file before the removal finds
        // the output written once it gets the lock, and one that opens the path afterwards
        // creates a new lock file (see `claim`)
        let _ = std::fs::remove_file(&self.lock);
    }
}

/// The lock file of an output: `.NAME.EXT.lock` beside it.
fn lock_path(output: &Path) -> PathBuf {
    let name = output.file_name().unwrap_or_default().to_string_lossy();
    output.with_file_name(format!(".{name}.lock"))
}

/// Claims `planned`'s output for this run (see [`Claim`]); an output that exists by then is
/// [`Claimed::Done`] unless `overwrite` (and its lock file is removed, as a rerun after a
/// kill between writing the output and releasing the claim needs). Unless it is busy,
/// temporary files that an earlier run killed while writing this output left behind
/// (`.NAME.EXT.tmp-*`, the atomic writer's temporary files) are removed.
///
/// # Errors
/// [`Error::Io`] naming the output folder when the lock file cannot be created or locked
/// (a read-only folder, a full disk): no burst of the batch could be written there.
pub fn claim(planned: &PlannedBurst, overwrite: bool) -> Result<Claimed> {
    let output = &planned.output;
    let lock = lock_path(output);
    let folder = output.parent().unwrap_or(Path::new("."));
    let io_err = |e: std::io::Error| {
        Error::io(
            folder,
            std::io::Error::new(
                e.kind(),
                format!("cannot claim {} in the output folder: {e}", lock.display()),
            ),
        )
    };
    // a run that removed the lock file between our open and our lock leaves us holding an
    // unlinked file: try again with the path's current file
    for _ in 0..8 {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(Claimed::Busy),
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
        if !same_file(&file, &lock) {
            continue;
        }
        // dropped on return unless it is ours: the lock file goes with it
        let claim = Claim { lock, _file: file };
        remove_stale_temporaries(output);
        if !overwrite && output.exists() {
            return Ok(Claimed::Done);
        }
        return Ok(Claimed::Mine(claim));
    }
    Err(io_err(std::io::Error::other(
        "the lock file keeps being replaced",
    )))
}

/// Whether `path` still names the open `file`.
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        path.exists()
    }
}

/// Removes `.NAME.EXT.tmp-*` beside `output`: only a run holding the output's claim writes
/// them, so while this run holds it, any there belong to a run that died.
fn remove_stale_temporaries(output: &Path) {
    let (Some(folder), Some(name)) = (output.parent(), output.file_name()) else {
        return;
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(bursts: &[BatchBurst]) -> Vec<&str> {
        bursts.iter().map(|b| b.name.as_str()).collect()
    }

    fn parse(text: &str) -> Result<Vec<BatchBurst>> {
        parse_manifest(text, Path::new("/base"), Path::new("list.txt"))
    }

    fn parse_err(text: &str) -> String {
        match parse(text) {
            Ok(b) => panic!("expected an error for {text:?}, got {b:?}"),
            Err(e) => {
                assert!(matches!(e, Error::Decode { .. }), "{e:?}");
                let msg = e.to_string();
                assert!(msg.starts_with("list.txt: "), "{msg}");
                msg
            }
        }
    }

    fn burst(name: &str) -> BatchBurst {
        BatchBurst {
            name: name.into(),
            inputs: vec![PathBuf::from(name)],
        }
    }

    #[test]
    fn bursts_in_dir_lists_only_visible_subdirectories_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["zeta", "alpha", "mid", ".hidden"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        std::fs::create_dir(dir.path().join("alpha/deeper")).unwrap();
        std::fs::write(dir.path().join("loose.dng"), b"x").unwrap();
        let bursts = bursts_in_dir(dir.path()).unwrap();
        assert_eq!(names(&bursts), ["alpha", "mid", "zeta"]);
        for b in &bursts {
            assert_eq!(b.inputs, [dir.path().join(&b.name)]);
        }
    }

    #[test]
    fn bursts_in_dir_errors_name_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("a.dng"), b"x").unwrap();
        let e = bursts_in_dir(dir.path()).unwrap_err();
        assert!(matches!(e, Error::Burst { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(msg.contains("no burst sub-directories"), "{msg}");

        let missing = dir.path().join("missing");
        let e = bursts_in_dir(&missing).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert!(
            e.to_string().contains(&missing.display().to_string()),
            "{e}"
        );

        let file = dir.path().join("a.dng");
        let e = bursts_in_dir(&file).unwrap_err();
        assert!(matches!(e, Error::Burst { .. }), "{e:?}");
        assert!(e.to_string().contains("not a directory"), "{e}");
    }

    #[test]
    fn bursts_in_dir_rejects_names_differing_only_in_case() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("Beach")).unwrap();
        // On a case-insensitive file system the second directory is the first one again.
        if std::fs::create_dir(dir.path().join("beach")).is_err() {
            return;
        }
        let msg = bursts_in_dir(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("\"Beach\" and \"beach\""), "{msg}");
    }

    #[test]
    fn manifest_lines_become_bursts() {
        let text = "# a comment\n\
                    \n\
                    beach\n\
                    \x20  /abs/harbour/  \n\
                    \t# indented comment\n\
                    night/IMG_0001.DNG\n\
                    a/IMG_0100.dng\t b/IMG_0101.dng \tc/IMG_0102.dng\r\n\
                    trip.2024\n\
                    sub/./day1/.\n";
        let bursts = parse(text).unwrap();
        assert_eq!(
            bursts,
            [
                BatchBurst {
                    name: "beach".into(),
                    inputs: vec!["/base/beach".into()],
                },
                BatchBurst {
                    name: "harbour".into(),
                    inputs: vec!["/abs/harbour/".into()],
                },
                BatchBurst {
                    name: "IMG_0001".into(),
                    inputs: vec!["/base/night/IMG_0001.DNG".into()],
                },
                BatchBurst {
                    name: "IMG_0100".into(),
                    inputs: vec![
                        "/base/a/IMG_0100.dng".into(),
                        "/base/b/IMG_0101.dng".into(),
                        "/base/c/IMG_0102.dng".into(),
                    ],
                },
                // A dot that is not a raw extension is part of a directory's name.
                BatchBurst {
                    name: "trip.2024".into(),
                    inputs: vec!["/base/trip.2024".into()],
                },
                BatchBurst {
                    name: "day1".into(),
                    inputs: vec!["/base/sub/./day1/.".into()],
                },
            ]
        );
    }

    #[test]
    fn manifest_classifies_single_paths_by_text() {
        // A trailing separator makes even a raw-looking name a directory.
        let b = parse("odd.dng/\n").unwrap();
        assert_eq!(b[0].name, "odd.dng");
        // A list is always files: the first one's stem, whatever its extension.
        let b = parse("x/first.tiff\tx/second.tiff\n").unwrap();
        assert_eq!(b[0].name, "first");
        // Relative base: paths stay relative, joined to it.
        let b = parse_manifest("IMG_1.nef", Path::new("lists"), Path::new("m")).unwrap();
        assert_eq!(b[0].inputs, [PathBuf::from("lists/IMG_1.nef")]);
        let b = parse_manifest("IMG_1.nef", Path::new(""), Path::new("m")).unwrap();
        assert_eq!(b[0].inputs, [PathBuf::from("IMG_1.nef")]);
    }

    #[test]
    fn manifest_errors_name_file_and_line() {
        let msg = parse_err("ok\n\n/\n");
        assert!(msg.contains("line 3: ") && msg.contains("no name"), "{msg}");
        let msg = parse_err("# c\nfoo/..\n");
        assert!(msg.contains("line 2: ") && msg.contains("no name"), "{msg}");
        let msg = parse_err("..\n");
        assert!(msg.contains("line 1: ") && msg.contains("no name"), "{msg}");

        let msg = parse_err("x\na.dng\t\tb.dng\n");
        assert!(msg.contains("line 2: empty path between two tabs"), "{msg}");
        let msg = parse_err("a.dng\t  \tb.dng\n");
        assert!(msg.contains("line 1: empty path between two tabs"), "{msg}");

        let msg = parse_err("one/x\n# c\ntwo/x\n");
        assert!(
            msg.contains("line 3: burst name \"x\" already used on line 1"),
            "{msg}"
        );
        // A directory and a file list that both come out as "IMG_1".
        let msg = parse_err("d/IMG_1\nIMG_1.dng\tIMG_2.dng\n");
        assert!(
            msg.contains("line 2: burst name \"IMG_1\" already used on line 1"),
            "{msg}"
        );
        let msg = parse_err("Beach\nbeach\n");
        assert!(
            msg.contains("line 2: burst name \"beach\" already used on line 1 (as \"Beach\""),
            "{msg}"
        );

        let msg = parse_err("a\nb\u{0}c\n");
        assert!(msg.contains("line 2: ") && msg.contains("NUL"), "{msg}");

        for empty in ["", "\n\n", "# only\n  # comments\n", " \t \n"] {
            let msg = parse_err(empty);
            assert!(msg.contains("no bursts"), "{msg}");
        }
    }

    #[test]
    fn read_manifest_resolves_against_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bursts.txt");
        std::fs::write(&path, "beach\nIMG_7.arw\n").unwrap();
        let bursts = read_manifest(&path).unwrap();
        assert_eq!(bursts[0].inputs, [dir.path().join("beach")]);
        assert_eq!(bursts[1].name, "IMG_7");

        std::fs::write(&path, b"beach\n\xff\xfe\n").unwrap();
        let e = read_manifest(&path).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
        assert!(e.to_string().contains("not UTF-8"), "{e}");

        let missing = dir.path().join("none.txt");
        let e = read_manifest(&missing).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
    }

    #[test]
    fn shard_parses_i_of_n() {
        assert_eq!(
            "1/2".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 2 }
        );
        assert_eq!(
            " 7/100000 ".parse::<Shard>().unwrap(),
            Shard {
                index: 7,
                count: 100_000
            }
        );
        assert_eq!("3/4".parse::<Shard>().unwrap().to_string(), "3/4");
        for bad in [
            "0/2", "3/2", "a/b", "1/0", "", "1", "1/2/3", "-1/2", "1/100001", "/2", "1/",
        ] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(matches!(e, Error::Parameter { .. }), "{bad:?}: {e:?}");
            let msg = e.to_string();
            assert!(msg.contains("shard"), "{msg}");
            assert!(msg.contains("expected I/N with 1 <= I <= N"), "{msg}");
        }
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // From the FNV reference test suite; pins the shard assignment across releases.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shards_cover_every_burst_exactly_once_and_balance() {
        let all: Vec<String> = (0..200).map(|i| format!("burst_{i:03}")).collect();
        for n in 1..=7 {
            let mut per_shard = vec![0usize; n];
            for name in &all {
                let owners: Vec<usize> = (1..=n)
                    .filter(|&i| Shard { index: i, count: n }.contains(name))
                    .collect();
                assert_eq!(owners.len(), 1, "{name} with N={n}: shards {owners:?}");
                per_shard[owners[0] - 1] += 1;
            }
            let floor = 200 / n / 3;
            assert!(
                per_shard.iter().all(|&c| c >= floor),
                "N={n}: {per_shard:?} (each needs >= {floor})"
            );
        }
    }

    #[test]
    fn out_of_range_shard_contains_nothing() {
        for s in [
            Shard { index: 0, count: 3 },
            Shard { index: 4, count: 3 },
            Shard { index: 1, count: 0 },
        ] {
            assert!((0..50).all(|i| !s.contains(&format!("b{i}"))), "{s:?}");
        }
    }

    #[test]
    fn adding_bursts_never_moves_existing_ones() {
        let shard_of = |names: &[String], n: usize| -> HashMap<String, usize> {
            let mut owner = HashMap::new();
            for i in 1..=n {
                let bursts = names.iter().map(|s| burst(s)).collect();
                let shard = Shard { index: i, count: n };
                for p in plan(bursts, Path::new("out"), "jpg", Some(shard), true) {
                    owner.insert(p.burst.name, i);
                }
            }
            owner
        };
        let small: Vec<String> = (0..60).map(|i| format!("2024-06-{i:02}")).collect();
        let mut large = small.clone();
        large.extend((0..140).map(|i| format!("new-{i}")));
        large.reverse();
        for n in [2, 3, 5] {
            let before = shard_of(&small, n);
            let after = shard_of(&large, n);
            assert_eq!(before.len(), small.len());
            assert_eq!(after.len(), large.len());
            for (name, i) in &before {
                assert_eq!(after[name], *i, "{name} moved with N={n}");
            }
        }
    }

    #[test]
    fn output_path_keeps_dots_in_names() {
        let out = Path::new("out");
        assert_eq!(
            output_path(out, &burst("trip.2024"), "jpg"),
            Path::new("out/trip.2024.jpg")
        );
        assert_eq!(
            output_path(out, &burst("a"), ".tiff"),
            Path::new("out/a.tiff")
        );
        assert_eq!(output_path(out, &burst("a"), ""), Path::new("out/a"));
    }

    #[test]
    fn plan_skips_existing_outputs_unless_overwrite() {
        let out = tempfile::tempdir().unwrap();
        std::fs::write(out.path().join("b.jpg"), b"done").unwrap();
        std::fs::write(out.path().join("c.png"), b"other format").unwrap();
        let bursts = vec![burst("c"), burst("a"), burst("b")];

        let p = plan(bursts.clone(), out.path(), "jpg", None, false);
        assert_eq!(
            names(&p.iter().map(|p| p.burst.clone()).collect::<Vec<_>>()),
            ["c", "a", "b"]
        );
        let skips: Vec<bool> = p.iter().map(|p| p.skip).collect();
        assert_eq!(skips, [false, false, true]);
        assert_eq!(p[2].output, out.path().join("b.jpg"));
        assert_eq!(p[0].burst, bursts[0]);

        let p = plan(bursts, out.path(), "jpg", None, true);
        assert!(p.iter().all(|p| !p.skip));
    }

    #[test]
    fn plan_keeps_only_the_shard() {
        let bursts: Vec<BatchBurst> = (0..30).map(|i| burst(&format!("b{i}"))).collect();
        let n = 3;
        let mut total = 0;
        for i in 1..=n {
            let shard = Shard { index: i, count: n };
            let p = plan(bursts.clone(), Path::new("o"), "jpg", Some(shard), false);
            assert!(p.iter().all(|p| shard.contains(&p.burst.name)));
            // Order within the share follows the input order.
            let pos: Vec<usize> = p
                .iter()
                .map(|p| bursts.iter().position(|b| *b == p.burst).unwrap())
                .collect();
            assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
            total += p.len();
        }
        assert_eq!(total, bursts.len());
        assert_eq!(
            plan(bursts.clone(), Path::new("o"), "jpg", None, false).len(),
            30
        );
    }

    #[test]
    fn a_claimed_output_is_busy_for_others_and_free_after() {
        let out = tempfile::tempdir().unwrap();
        let p = plan(vec![burst("a")], out.path(), "jpg", None, false).remove(0);
        // debris of a killed run
        let stale = out.path().join(".a.jpg.tmp-99999-0");
        std::fs::write(&stale, b"half").unwrap();
        let Claimed::Mine(c) = claim(&p, false).unwrap() else {
            panic!("not claimed")
        };
        assert!(!stale.exists(), "stale temporary file left");
        assert!(out.path().join(".a.jpg.lock").exists());
        // a second claim (another run) finds it busy
        assert!(matches!(claim(&p, false).unwrap(), Claimed::Busy));
        drop(c);
        assert!(!out.path().join(".a.jpg.lock").exists());
        // once written, a late claim finds it done
        std::fs::write(&p.output, b"jpeg").unwrap();
        assert!(matches!(claim(&p, false).unwrap(), Claimed::Done));
        assert!(matches!(claim(&p, true).unwrap(), Claimed::Mine(_)));
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);
        // no folder to write in: an error naming the folder
        let gone = plan(
            vec![burst("b")],
            &out.path().join("none"),
            "jpg",
            None,
            false,
        );
        let e = claim(&gone[0], false).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("cannot claim"), "{e}");
    }

    #[test]
    fn parse_manifest_never_panics() {
        // xorshift64: a fixed seed gives the same 2000 cases on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Bytes that steer into the parser's branches, mixed with arbitrary ones.
        const SPECIAL: &[u8] = b"\t\n\r #/\\.\0 dngDNG";
        let mut parsed = 0;
        for case in 0..2000 {
            let len = (next() % if case % 50 == 0 { 20_000 } else { 200 }) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        (r >> 8) as u8
                    } else {
                        SPECIAL[(r >> 8) as usize % SPECIAL.len()]
                    }
                })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(bursts) = parse(&text) {
                parsed += 1;
                let mut keys: Vec<String> = bursts.iter().map(|b| name_key(&b.name)).collect();
                assert!(
                    bursts
                        .iter()
                        .all(|b| !b.name.is_empty() && !b.inputs.is_empty())
                );
                keys.sort();
                keys.dedup();
                assert_eq!(keys.len(), bursts.len(), "duplicate names from {text:?}");
            }
        }
        // The generator must reach the success path too, or the test proves little.
        assert!(parsed > 10, "only {parsed} of 2000 cases parsed");
    }
}
