//! Loading a burst: decoding its frames in parallel and checking that they can be merged.
//!
//! Frames keep the input order: files as given, a directory's raw files by name (the order
//! cameras number them in, so capture order). Every frame must match the first in
//! buffer size, active area, CFA pattern, black and white levels and camera; exposure may
//! differ (bracketing) and is recorded as EV relative to the first frame.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::raw::RawFrame;

/// File extensions treated as raw files when a directory is given (compared case-insensitively).
pub const RAW_EXTENSIONS: &[&str] = &[
    "dng", "crw", "cr2", "cr3", "nef", "nrw", "arw", "srf", "sr2", "raf", "orf", "rw2", "pef",
    "srw", "3fr", "erf", "kdc", "dcr", "mrw", "mos", "iiq", "x3f", "raw", "rwl",
];

/// A decoded burst of raw frames.
#[derive(Debug, Clone)]
pub struct Burst {
    /// Frames in input order (a directory's raw files in file-name order).
    pub frames: Vec<RawFrame>,
}

/// Whether the file name has one of [`RAW_EXTENSIONS`] (ignoring case).
pub(crate) fn is_raw_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| RAW_EXTENSIONS.iter().any(|r| r.eq_ignore_ascii_case(e)))
}

/// Checks a limit on the frames used (`None`: all): at least 1.
pub fn check_max_frames(max_frames: Option<usize>) -> Result<()> {
    if max_frames == Some(0) {
        return Err(crate::Error::parameter("frames", "0 (at least 1)"));
    }
    Ok(())
}

/// Expands the inputs (files, or directories whose raw files are taken in name order) into a
/// list of files. A directory without raw files is an error naming it.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if inputs.is_empty() {
        return Err(Error::Burst {
            path: PathBuf::from("(no input)"),
            reason: "no input files or directories given".into(),
        });
    }
    let mut files = Vec::new();
    for input in inputs {
        let md = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
        if md.is_dir() {
            let rd = std::fs::read_dir(input).map_err(|e| Error::io(input, e))?;
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_raw_name(p))
                .collect();
            if found.is_empty() {
                return Err(Error::Burst {
                    path: input.clone(),
                    reason: format!(
                        "directory contains no raw files (looked for .{})",
                        RAW_EXTENSIONS[..6].join(", .") + ", ..."
                    ),
                });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

impl Burst {
    /// Decodes every raw file named by `inputs` (files and/or directories) in parallel, keeps
    /// them in input order and validates that they match. The first error met (in input order) is
    /// returned.
    pub fn open(inputs: &[PathBuf]) -> Result<Burst> {
        Burst::open_with(inputs, &crate::raw::DecodeLimits::default())
    }

    /// [`Burst::open`] with resource limits checked before each frame is decoded.
    pub fn open_with(inputs: &[PathBuf], limits: &crate::raw::DecodeLimits) -> Result<Burst> {
        let decoded: Vec<Result<RawFrame>> = expand_inputs(inputs)?
            .par_iter()
            .map(|f| RawFrame::open_with(f, limits))
            .collect();
        let frames = decoded.into_iter().collect::<Result<Vec<_>>>()?;
        Burst::from_frames(frames)
    }

    /// Builds a burst from frames already decoded (or made in memory), in the order given:
    /// validates that they match.
    pub fn from_frames(frames: Vec<RawFrame>) -> Result<Burst> {
        if frames.is_empty() {
            return Err(Error::Burst {
                path: PathBuf::from("(burst)"),
                reason: "a burst needs at least one frame".into(),
            });
        }
        for f in &frames[1..] {
            check_match(&frames[0], f)?;
        }
        Ok(Burst { frames })
    }

    /// Each frame's exposure relative to the first, in EV (exposure time x ISO; 0 when the
    /// files say nothing).
    pub fn relative_ev(&self) -> Vec<f64> {
        let base = self.frames[0].exposure_product();
        self.frames
            .iter()
            .map(|f| (f.exposure_product() / base).log2())
            .collect()
    }
}

/// An [`Error::Mismatch`] naming both files when `b` cannot join `a`'s burst (see
/// [`mismatch`]).
pub(crate) fn check_match(a: &RawFrame, b: &RawFrame) -> Result<()> {
    match mismatch(a, b) {
        Some(reason) => Err(Error::Mismatch {
            first: a.path.clone(),
            second: b.path.clone(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Why frame `b` cannot be merged with frame `a`, if it cannot.
fn mismatch(a: &RawFrame, b: &RawFrame) -> Option<String> {
    let ((aw, ah), (bw, bh)) = (a.size(), b.size());
    if (aw, ah) != (bw, bh) {
        return Some(format!("size {aw}x{ah} vs {bw}x{bh}"));
    }
    if a.is_rgb() != b.is_rgb() {
        let kind = |f: &RawFrame| if f.is_rgb() { "linear RGB" } else { "Bayer" };
        return Some(format!("{} vs {} data", kind(a), kind(b)));
    }
    if a.active_area != b.active_area {
        return Some(format!(
            "active area {:?} vs {:?}",
            a.active_area, b.active_area
        ));
    }
    if a.cfa != b.cfa {
        return Some(format!("CFA pattern {} vs {}", a.cfa, b.cfa));
    }
    if a.meta.make != b.meta.make || a.meta.model != b.meta.model {
        return Some(format!(
            "camera {} {} vs {} {}",
            a.meta.make, a.meta.model, b.meta.make, b.meta.model
        ));
    }
    if a.black != b.black {
        return Some(format!("black level {:?} vs {:?}", a.black, b.black));
    }
    if a.white != b.white {
        return Some(format!("white level {} vs {}", a.white, b.white));
    }
    None
}
