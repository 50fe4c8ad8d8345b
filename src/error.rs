//! The crate's one error type.
//!
//! Errors are grouped by whose fault they are, and [`Error::exit_code`] gives the `obscura`
//! command's exit status for each group:
//!
//! | fault | variants | exit |
//! |---|---|---|
//! | the input file: corrupt, truncated, unusable metadata | `Decode`, `Mismatch`, `Burst` | 1 |
//! | the input is valid but of a kind obscura does not process | `Unsupported` | 1 |
//! | the caller: a parameter out of range | `Parameter` | 2 |
//! | a resource limit: pixels, memory, a format's largest size | `Limits`, `Encode` | 1 |
//! | the operating system: reading or writing failed | `Io` | 1 |
//! | the user stopped the run | `Interrupted` | 130 |
//!
//! A fault of a file is never a `Parameter` error: a corrupt file exits 1, a usage error 2.
//! Every variant that concerns a file names it, so that a message on its own tells a user which
//! file to look at and what is wrong with it. `Parameter` errors name the parameter as the
//! library knows it (a struct field, such as `exposure` or `tone strength`); the command line
//! puts its option's name in their place.

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
        /// The parameter's name: the struct field (`exposure`, `tone strength`, `frames`).
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
    /// An image could not be encoded in the format asked for (larger than the format allows,
    /// or the encoder refused it).
    #[error("cannot write {format}: {reason}")]
    Encode {
        /// The format or the part of the file concerned (`JPEG`, `gain map`, `EXIF`).
        format: String,
        /// What the encoder said.
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

    /// An encoder error: `format` could not be written.
    pub fn encode(format: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Encode {
            format: format.into(),
            reason: reason.into(),
        }
    }

    /// The error with `path` as its file where it names none yet: stages that see a frame's
    /// metadata but not its file (the colour transform) leave the path empty, and the caller
    /// holding the frame names it.
    pub fn in_file(self, path: impl AsRef<Path>) -> Self {
        match self {
            Error::Decode { path: p, reason } if p.as_os_str().is_empty() => {
                Error::decode(path, reason)
            }
            e => e,
        }
    }

    /// The exit status of a command that failed with this error: 2 when the caller asked for
    /// something impossible (a usage error), 130 when interrupted (as a shell reports SIGINT),
    /// 1 for everything else, a corrupt or unreadable file above all.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Parameter { .. } => 2,
            Error::Interrupted => 130,
            _ => 1,
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
