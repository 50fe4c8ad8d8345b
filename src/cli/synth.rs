//! `obscura synth`: a synthetic burst with ground truth, or a colour chart.

use std::path::PathBuf;

use clap::Args;

use obscura::Error;
use obscura::error::Result;
use obscura::synth::{SceneSource, SynthParams};

use super::say;
use super::values::{CfaValue, LightValue};

#[derive(Debug, Args)]
pub(crate) struct SynthArgs {
    /// Output directory (created if missing). Receives frame_00.dng ..., truth.json,
    /// reference_mosaic.tiff, reference_rgb.tiff and, with --truth-scale N > 1,
    /// reference_rgb_Nx.tiff.
    #[arg(long, short)]
    out: PathBuf,
    /// Number of frames (1 to 256). Frame 0 is the reference.
    #[arg(long, default_value_t = 8)]
    frames: usize,
    /// Frame width in pixels (even, 16 to 20000).
    #[arg(long, default_value_t = 640)]
    width: usize,
    /// Frame height in pixels (even, 16 to 20000).
    #[arg(long, default_value_t = 480)]
    height: usize,
    /// Hand-shake amplitude: each frame is translated by up to +-PX pixels per axis.
    #[arg(long, value_name = "PX", default_value_t = 8.0)]
    motion: f64,
    /// Hand-shake rotation: each frame is rotated by up to +-DEG degrees about the centre.
    #[arg(long, value_name = "DEG", default_value_t = 0.3)]
    rotate: f64,
    /// Add an object that moves PX pixels per frame on its own (0 = none).
    #[arg(long, value_name = "PX", default_value_t = 0.0)]
    moving: f64,
    /// Shot-noise coefficient S: noise variance = S * signal + O, signal normalised to 0..1.
    #[arg(long, value_name = "S", default_value_t = 2e-3)]
    shot: f64,
    /// Read-noise variance O (normalised units).
    #[arg(long, value_name = "O", default_value_t = 1e-4)]
    read: f64,
    /// Random seed: the same seed gives the same burst, bit for bit.
    #[arg(long, value_name = "K", default_value_t = 1)]
    seed: u64,
    /// Scene: `chart` for the built-in resolution chart (Siemens star, zone plate, bars of
    /// 1.25 to 3 px, small text), a PNG/JPEG/TIFF image (sRGB, linearised; write ./chart for
    /// a file of that name), or omit for the built-in test scene.
    #[arg(long, value_name = "IMG|chart")]
    scene: Option<PathBuf>,
    /// Also write the clean reference at N times the sensor's resolution
    /// (reference_rgb_Nx.tiff, 1 to 4): each sensor pixel is rendered as the mean of its
    /// N x N cells, so the truth holds the detail a super-resolving merge could recover.
    /// Rendering takes about N^2 times as long.
    #[arg(long, value_name = "N", default_value_t = 1)]
    truth_scale: usize,
    /// Colour filter array of the simulated sensor: RGGB, BGGR, GRBG or GBRG.
    #[arg(long, value_enum, ignore_case = true, default_value = "RGGB")]
    cfa: CfaValue,
    /// Black level in raw units.
    #[arg(long, default_value_t = 64)]
    black: u32,
    /// White level in raw units (at most 65535).
    #[arg(long, default_value_t = 4095)]
    white: u32,
    /// Scene brightness scale (e.g. 0.25 for a low-light scene).
    #[arg(long, default_value_t = 1.0)]
    exposure: f64,
    /// Exposure bracketing pattern in EV, repeated over the frames, e.g. "0,-2".
    #[arg(
        long,
        value_name = "EV,EV,...",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    bracket: Vec<f64>,
    /// Write a 24-patch colour chart DNG (OUT/chart.dng) instead of a burst: the ColorChecker
    /// patches through a known camera matrix and as-shot neutral.
    #[arg(long)]
    chart: bool,
    /// The chart's illuminant: d65 (default) or a (tungsten).
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value = "d65",
        requires = "chart"
    )]
    light: LightValue,
    /// Give the chart DNG ForwardMatrix tags as well as ColorMatrix.
    #[arg(long, requires = "chart")]
    forward_matrix: bool,
}

/// `obscura synth --out DIR`.
pub(crate) fn synth(a: SynthArgs, quiet: bool) -> Result<()> {
    if a.chart {
        return synth_chart(&a);
    }
    let params = SynthParams {
        frames: a.frames,
        width: a.width,
        height: a.height,
        motion: a.motion,
        rotate: a.rotate,
        moving: a.moving,
        shot: a.shot,
        read: a.read,
        seed: a.seed,
        cfa: a.cfa.into(),
        black: a.black,
        white: a.white,
        exposure: a.exposure,
        bracket: a.bracket,
        scene: match a.scene {
            Some(p) if p.as_os_str() == "chart" => SceneSource::Chart,
            Some(p) => SceneSource::Image(p),
            None => SceneSource::Procedural,
        },
        truth_scale: a.truth_scale,
        ..SynthParams::default()
    };
    let burst = obscura::synth::synthesize(&params)?;
    let files = burst.write(&a.out)?;
    if quiet {
        return Ok(());
    }
    eprintln!(
        "wrote {} frames of {}x{} and the ground truth ({}) to {}",
        burst.frames.len(),
        params.width,
        params.height,
        burst.truth_files().join(", "),
        a.out.display()
    );
    for f in files {
        say!("{}", f.display());
    }
    Ok(())
}

fn synth_chart(a: &SynthArgs) -> Result<()> {
    use obscura::synth::chart::{ChartParams, chart};
    let params = ChartParams {
        light: a.light.into(),
        forward_matrix: a.forward_matrix,
        seed: a.seed,
        cfa: a.cfa.into(),
        ..ChartParams::default()
    };
    let frame = chart(&params)?;
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    let path = a.out.join("chart.dng");
    obscura::raw::write_dng(&frame, &path)?;
    say!("{}", path.display());
    Ok(())
}
