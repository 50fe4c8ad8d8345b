//! `obscura align`: each frame's displacement from the reference, as a summary or JSON.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use obscura::Error;
use obscura::error::Result;
use obscura::raw::RawFrame;

use super::args::BurstArgs;
use super::{DebugFigures, debug_reference, limits, say, start_debug};

#[derive(Debug, Args)]
pub(crate) struct AlignArgs {
    /// The burst: a directory of RAW files, or the files themselves.
    #[arg(required = true)]
    burst: Vec<PathBuf>,
    /// Print the whole displacement field as JSON: {"reference": r, "frames": [{"file",
    /// "tiles_x", "tiles_y", "tile_step", "tile_size", "field": [[dx, dy], ...]}]}; tile (i, j)
    /// is centred at (j*tile_step + tile_size/2, i*tile_step + tile_size/2) in full-resolution
    /// pixels of the reference's active area, and the reference pixel at p is found at
    /// p + [dx, dy] in that frame.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: BurstArgs,
}

/// One frame of `obscura align --json`.
#[derive(Debug, Serialize)]
struct AlignJsonFrame {
    file: String,
    tiles_x: usize,
    tiles_y: usize,
    tile_step: usize,
    tile_size: usize,
    field: Vec<[f32; 2]>,
}

/// `obscura align --json`.
#[derive(Debug, Serialize)]
struct AlignJson {
    reference: usize,
    frames: Vec<AlignJsonFrame>,
}

/// `obscura align BURST...`.
pub(crate) fn align(a: AlignArgs) -> Result<()> {
    let files = a.common.files(&a.burst)?;
    let mut diag = start_debug(a.common.debug.as_ref())?;
    let burst = obscura::Burst::open_with(&files, &limits())?;
    let params = obscura::align::AlignParams {
        reference: a.common.reference,
        ..Default::default()
    };
    let al = obscura::align::align(&burst, &params)?;
    if let Some(d) = diag.as_mut() {
        debug_reference(d, &burst, al.reference, a.common.reference.is_some())?;
        for (k, (f, x)) in burst.frames.iter().zip(&al.frames).enumerate() {
            if k != al.reference {
                d.frame(k, f, x, None)?;
            }
        }
    }
    if let Some(d) = diag {
        let dir = d.finish(&DebugFigures {
            command: "align",
            frames_used: burst.frames.len(),
            reference_index: al.reference,
            reference: burst.frames[al.reference].path.clone(),
            rejected_fraction: None,
            effective_frames: None,
        })?;
        eprintln!("diagnostics: {}", dir.join("index.html").display());
    }
    let name = |f: &RawFrame| {
        f.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if a.json {
        let out = AlignJson {
            reference: al.reference,
            frames: burst
                .frames
                .iter()
                .zip(&al.frames)
                .map(|(f, x)| AlignJsonFrame {
                    file: name(f),
                    tiles_x: x.tiles_x,
                    tiles_y: x.tiles_y,
                    tile_step: x.tile_step,
                    tile_size: x.tile_size,
                    field: x.field.clone(),
                })
                .collect(),
        };
        let text =
            serde_json::to_string(&out).map_err(|e| Error::parameter("--json", e.to_string()))?;
        say!("{text}");
        return Ok(());
    }
    say!(
        "reference: {} ({} tiles of {} px every {} px per frame)",
        name(&burst.frames[al.reference]),
        al.frames[0].field.len(),
        al.frames[0].tile_size,
        al.frames[0].tile_step
    );
    for (k, (f, x)) in burst.frames.iter().zip(&al.frames).enumerate() {
        let m = x.median();
        let bad = x.unreliable().iter().filter(|&&u| u).count();
        say!(
            "{k:>3} {:<24} median shift {:+8.2} {:+8.2} px   unreliable tiles {:5.1}%{}",
            name(f),
            m[0],
            m[1],
            100.0 * bad as f64 / x.field.len().max(1) as f64,
            if k == al.reference {
                "   (reference)"
            } else {
                ""
            }
        );
    }
    Ok(())
}
