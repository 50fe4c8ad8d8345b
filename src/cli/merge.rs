//! `obscura merge`: a burst aligned and merged into one 16-bit DNG.

use std::path::PathBuf;

use clap::Args;

use obscura::diagnostics::DebugParams;
use obscura::error::Result;
use obscura::pipeline::Pipeline;

use super::args::{BurstArgs, MergeOptions};
use super::limits;
use super::progress::{Bars, Talk};

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// The burst: a directory of RAW files, or the files themselves.
    #[arg(required = true)]
    burst: Vec<PathBuf>,
    /// Output DNG.
    #[arg(long, short)]
    output: PathBuf,
    #[command(flatten)]
    common: BurstArgs,
    #[command(flatten)]
    method: MergeOptions,
    /// Keep the GPS location in the DNG (stripped by default).
    #[arg(long)]
    keep_location: bool,
    /// Keep the tags that identify the owner or the camera (serial numbers, owner and artist
    /// names, image unique ID, maker note; stripped by default).
    #[arg(long)]
    keep_metadata: bool,
    /// Spatial denoising strength after merging, 0 (off) to 10 (default 0.5; 3 for the
    /// kernel merge).
    #[arg(long)]
    denoise: Option<f32>,
}

/// `obscura merge BURST... -o OUT.dng`: the pipeline stopped after the merge
/// ([`Pipeline::run_merge`]): streamed, only the first `--frames` files decoded, the memory
/// checked first, Ctrl-C honoured between frames with no DNG left behind.
pub(crate) fn merge(a: MergeArgs, talk: Talk) -> Result<()> {
    let mut p = Pipeline {
        merge: a.method.params()?,
        limits: limits(),
        max_frames: a.common.frames,
        debug: a.common.debug.clone().map(DebugParams::new),
        ..Pipeline::default()
    };
    if let Some(d) = a.denoise {
        p.merge.spatial_denoise = d;
        p.merge.kernel.spatial_denoise = d;
    }
    p.align.reference = a.common.reference;
    p.encode.keep_metadata = a.keep_metadata;
    p.encode.keep_location = a.keep_location;
    p.validate()?;
    let bars = Bars::new(talk.bars());
    let out = p.run_merge(&a.burst, &a.output, &bars)?;
    let r = &out.report;
    eprintln!(
        "merged {} frames (reference {}) into {}: noise reduced as by {:.1} frames, {:.1}% rejected (kept from the reference)",
        r.frames_used,
        r.reference.display(),
        r.dng.display(),
        r.effective_frames,
        100.0 * r.rejected_fraction
    );
    if let Some(d) = &a.common.debug {
        eprintln!("diagnostics: {}", d.join("index.html").display());
    }
    Ok(())
}
