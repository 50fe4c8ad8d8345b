//! The crate's one error type.
//!
//! Errors are grouped by whose fault they are: the input file (`Decode`, `Unsupported`), the
//! caller (`Parameter`), the burst as a whole (`Burst`, `Mismatch`), resource `Limits`, and the
//! operating system (`Io`). Every variant that concerns a file names it, so that a message on its
//! own tells a user which file to look at and what is wrong with it.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in obscura.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed at the operating-system level.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file could be read but its contents are not a valid raw image (corrupt, truncated or
    /// not a raw file at all).
    #[error("{}: cannot decode: {reason}", path.display())]
    Decode {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file is a valid raw image of a kind obscura does not process (X-Trans, LinearRaw,
    /// a monochrome sensor, ...).
    #[error("{}: unsupported: {reason}", path.display())]
    Unsupported {
        /// The file concerned.
        path: PathBuf,
        /// What is not supported and, where possible, what to do instead.
        reason: String,
    },
    /// A parameter given by the caller is outside its allowed range.
    #[error("invalid {name}: {reason}")]
    Parameter {
        /// The parameter's name as the user knows it (CLI flag or struct field).
        name: String,
        /// The value given and the allowed range.
        reason: String,
    },
    /// Two frames of a burst cannot be merged because they differ.
    #[error("frames do not match: {} and {}: {reason}", first.display(), second.display())]
    Mismatch {
        /// The first frame (the burst's reference for validation).
        first: PathBuf,
        /// The frame that differs from it.
        second: PathBuf,
        /// The difference.
        reason: String,
    },
    /// A burst could not be assembled (no raw files, empty list, ...).
    #[error("{}: {reason}", path.display())]
    Burst {
        /// The directory or file list concerned.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The input would exceed a resource limit (pixel count, memory).
    #[error("{}: {reason}", path.display())]
    Limits {
        /// The file concerned.
        path: PathBuf,
        /// Which limit and by how much.
        reason: String,
    },
    /// The run was cancelled (Ctrl-C, or [`crate::pipeline::Progress::cancelled`]) between
    /// two stages; nothing was written for it.
    #[error("interrupted")]
    Interrupted,
}

/// `Result` with obscura's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A decode error on `path`.
    pub fn decode(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Decode {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }

    /// An unsupported-input error on `path`.
    pub fn unsupported(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Unsupported {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }

    /// A parameter error.
    pub fn parameter(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Parameter {
            name: name.into(),
            reason: reason.into(),
        }
    }
}
