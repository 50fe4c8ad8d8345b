//! `obscura merge`: a burst aligned and merged into one 16-bit DNG.

use std::path::PathBuf;

use clap::Args;

use obscura::error::Result;
use obscura::pipeline::check_output;

use super::args::{BurstArgs, MergeOptions};
use super::{DebugFigures, debug_reference, limits, start_debug};

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

/// `obscura merge BURST... -o OUT.dng`.
pub(crate) fn merge(a: MergeArgs) -> Result<()> {
    let mut params = a.method.params()?;
    if let Some(d) = a.denoise {
        params.spatial_denoise = d;
        params.kernel.spatial_denoise = d;
    }
    params.validate()?;
    let files = a.common.files(&a.burst)?;
    check_output(&a.output, None)?;
    let mut diag = start_debug(a.common.debug.as_ref())?;
    let burst = obscura::Burst::open_with(&files, &limits())?;
    let al = obscura::align::align(
        &burst,
        &obscura::align::AlignParams {
            reference: a.common.reference,
            ..Default::default()
        },
    )?;
    obscura::merge::check_output_size(&burst.frames[al.reference], &params, limits().max_pixels)?;
    let mut merged = match diag.as_mut() {
        None => obscura::merge::merge(&burst, &al, &params)?,
        Some(d) => {
            // merge::merge's loop, with each frame's robustness map shown
            let r = al.reference;
            debug_reference(d, &burst, r, a.common.reference.is_some())?;
            let mut merger = obscura::merge::Merger::new(burst.frames[r].clone(), &params)?;
            merger.record_weights(true);
            for (k, f) in burst.frames.iter().enumerate().filter(|&(k, _)| k != r) {
                merger.add(f, &al.frames[k])?;
                d.frame(k, f, &al.frames[k], merger.last_weights())?;
            }
            let recovered = merger.recovered_highlights();
            let merged = merger.finish();
            d.merged(&merged.frame, merged.scale, recovered)?;
            merged
        }
    };
    merged.frame.meta = merged
        .frame
        .meta
        .private_removed(a.keep_metadata, a.keep_location);
    obscura::raw::write_dng(&merged.frame, &a.output)?;
    eprintln!(
        "merged {} frames (reference {}) into {}: noise reduced as by {:.1} frames, {:.1}% rejected (kept from the reference)",
        merged.frames,
        burst.frames[al.reference].path.display(),
        a.output.display(),
        merged.effective_frames,
        100.0 * merged.rejected_fraction
    );
    if let Some(d) = diag {
        let dir = d.finish(&DebugFigures {
            command: "merge",
            frames_used: merged.frames,
            reference_index: al.reference,
            reference: burst.frames[al.reference].path.clone(),
            rejected_fraction: Some(merged.rejected_fraction),
            effective_frames: Some(merged.effective_frames),
        })?;
        eprintln!("diagnostics: {}", dir.join("index.html").display());
    }
    Ok(())
}
