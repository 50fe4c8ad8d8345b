//! The `obscura` command line: thin wrappers over the library.
//!
//! Exit codes: 0 success, 1 processing error (bad input file, failed write), 2 usage error
//! (unknown option or a parameter out of range).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::diagnostics::{DebugParams, Diagnostics};
use crate::encode::EncodeParams;
use crate::error::Result;
use crate::finish::FinishParams;
use crate::finish::color::WhiteBalance;
use crate::image::{Cfa, Rect};
use crate::look::Look;
use crate::pipeline::check_output;
use crate::raw::{DecoderKind, Metadata, RawFrame};
use crate::synth::{SceneSource, SynthParams};

mod process;

/// The `--max-pixels` limit, set once at start.
static LIMITS: std::sync::OnceLock<crate::raw::DecodeLimits> = std::sync::OnceLock::new();

/// The decoding limits the command line asked for.
fn limits() -> crate::raw::DecodeLimits {
    LIMITS.get().copied().unwrap_or_default()
}

/// Prints a line to stdout, ignoring a closed pipe (`obscura info ... | head`).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// obscura: burst photography from RAW files.
#[derive(Debug, Parser)]
#[command(
    name = "obscura",
    version,
    about = "obscura: a computational photography pipeline for RAW bursts",
    long_about = "obscura turns a handheld burst of RAW frames into one image with less noise and \
more dynamic range than any single frame.\n\nExit codes: 0 success, 1 processing error (a file \
could not be read or written; the message names it; in a batch, a burst failed), 2 usage \
error (unknown option, parameter out of range), 130 interrupted (Ctrl-C: the current step \
finishes, nothing half-written is left; a batch rerun resumes)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print more: the run's report (stage times, frames, reference, noise, displacements).
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Print only errors: no progress bars, no summaries.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    /// Refuse raw files that declare more photosites than this (checked before decoding).
    #[arg(long, global = true, value_name = "N", default_value_t = 400_000_000)]
    max_pixels: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print each RAW file's metadata: camera, size, CFA, levels, white balance, colour
    /// matrices, noise profile, lens-shading opcodes, exposure.
    Info(InfoArgs),
    /// Align every frame of a burst to its reference (HDR+ tile alignment with sub-pixel
    /// refinement) and print each frame's median displacement, or the whole field as JSON.
    Align(AlignArgs),
    /// Align and merge a burst into one raw frame with far less noise, written as a 16-bit
    /// DNG that raw developers open.
    Merge(MergeArgs),
    /// Make a synthetic burst with ground truth: DNG frames of a scene moved by simulated hand
    /// shake, with Poisson-Gaussian noise, plus the clean reference and the true motion.
    /// With --chart, a 24-patch colour chart DNG instead.
    Synth(SynthArgs),
    /// Develop one RAW file into a JPEG, PNG or 16-bit TIFF: lens shading, white balance,
    /// highlights, demosaic, colour, exposure, tone mapping, sharpening, EXIF and ICC.
    Develop(DevelopArgs),
    /// The whole chain on a burst: decode, align, merge, finish and encode one image.
    Process(Box<ProcessArgs>),
    /// Looks: list the built-in ones, or bake one's colour into a .cube LUT for other tools.
    #[command(subcommand)]
    Look(LookCommand),
}

#[derive(Debug, Subcommand)]
enum LookCommand {
    /// Print the built-in looks with what each does.
    List,
    /// Write a look's colour (curve, table, saturation, channel mix) as a .cube 3D LUT on
    /// sRGB-encoded values. Vignette, grain, tone mapping and sharpening cannot be part of a
    /// LUT and are left out.
    Export(LookExportArgs),
}

#[derive(Debug, Args)]
struct LookExportArgs {
    /// A built-in look's name or a look .toml file.
    look: String,
    /// Output .cube file.
    #[arg(long, short)]
    output: PathBuf,
    /// Entries per axis (2 to 256). 65 keeps every built-in look within 1/255 of the look
    /// itself; 33 can be off by 2/255 on saturated reds.
    #[arg(long, default_value_t = 65)]
    size: usize,
}

#[derive(Debug, Args)]
struct DevelopArgs {
    /// The RAW file.
    file: PathBuf,
    /// Output image (.jpg, .png, .tif, or .exr for scene-referred linear HDR).
    #[arg(long, short)]
    output: PathBuf,
    #[command(flatten)]
    finish: FinishArgs,
}

#[derive(Debug, Args)]
struct ProcessArgs {
    /// The burst: a directory of RAW files, or the files themselves (one file: no merge).
    #[arg(required_unless_present_any = ["batch", "manifest"], conflicts_with_all = ["batch", "manifest"])]
    burst: Vec<PathBuf>,
    /// Output image (.jpg, .png, .tif, or .exr for scene-referred linear HDR); with --batch or --manifest, the output folder
    /// (created if missing), which receives one BURST_NAME.jpg (or --format) per burst.
    #[arg(long, short)]
    output: PathBuf,
    /// Reference frame index (in input order: a folder's files by name); default: the sharpest of the
    /// first three, or in an exposure bracket the one with the most usable signal (the result's
    /// brightness does not depend on it).
    #[arg(long, value_name = "N")]
    reference: Option<usize>,
    /// Use at most N frames (the first N in input order; only those are decoded).
    #[arg(long, value_name = "N")]
    frames: Option<usize>,
    /// Merge method: robust (default), kernel (kernel regression of the raw samples; linear
    /// RGB, super-resolution with --scale), hdrplus or average.
    #[arg(long = "merge", default_value = "robust")]
    method: String,
    /// Output scale of the kernel merge, 1 to 3 (2: super-resolution, twice the width and
    /// height). Needs --merge kernel.
    #[arg(long, default_value_t = 1.0)]
    scale: f32,
    /// Also write the merged raw as a 16-bit DNG (LinearRaw for --merge kernel).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["batch", "manifest"])]
    dng: Option<PathBuf>,
    /// Write the run's report as JSON: stage times, frames, reference, noise, per-frame
    /// displacement and unreliable tiles, peak memory (a batch writes one object with every
    /// burst's report, the failures and the skipped).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Batch: each sub-directory of DIR is one burst.
    #[arg(long, value_name = "DIR", conflicts_with = "manifest")]
    batch: Option<PathBuf>,
    /// Batch: one burst per line (a directory, or raw files separated by tabs; # comments).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Batch: process only the I-th of N deterministic shares (e.g. a Slurm array task).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Batch: redo bursts whose output exists (by default they are skipped, so a killed run
    /// resumes where it stopped).
    #[arg(long)]
    overwrite: bool,
    /// Write diagnostics to DIR: PNG maps of the alignment (arrows per tile) and of the
    /// merge's robustness weights per frame, the noise model against the measured noise, the
    /// reference choice, 100% crops of the reference and the merge, recovered highlights,
    /// and an index.html showing them beside the figures. DIR is replaced whole when it holds
    /// an earlier run's diagnostics; a folder holding other files is refused.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["batch", "manifest"])]
    debug: Option<PathBuf>,
    #[command(flatten)]
    finish: FinishArgs,
}

/// Options of the finish and encode stages, shared by `develop` and `process`.
#[derive(Debug, Args)]
struct FinishArgs {
    /// White balance multipliers R,G,B (default: as shot).
    #[arg(long, value_name = "R,G,B", conflicts_with = "wb_temp")]
    wb: Option<String>,
    /// White balance as a colour temperature in kelvin, with an optional tint (+ magenta).
    #[arg(long, value_name = "K[,TINT]", allow_hyphen_values = true)]
    wb_temp: Option<String>,
    /// Output colour space: srgb or p3 (Display P3). The ICC profile is embedded.
    #[arg(long, default_value = "srgb")]
    colorspace: String,
    /// Exposure correction in EV (-10 to 10), on top of the file's BaselineExposure.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    exposure: f64,
    /// Tone mapping: local (HDR+ style, default), global (one curve) or none (clip).
    #[arg(long, default_value = "local")]
    tone: String,
    /// Local tone mapping strength, 0 (= global) to 1 (default: the look's, 1 for natural).
    #[arg(long)]
    tone_strength: Option<f32>,
    /// Clipped highlights: reconstruct (default) or clip.
    #[arg(long, default_value = "reconstruct")]
    highlights: String,
    /// Demosaic: rcd (default, best), malvar (fast) or bilinear.
    #[arg(long, default_value = "rcd")]
    demosaic: String,
    /// Look: natural (default, faithful), authentic (moody, deep blacks, vignette), vibrant
    /// (bright, saturated, skin protected), mono (black and white), a look .toml file, or none
    /// (the reference rendering: colour conversion and the sRGB curve only, with --tone none;
    /// no sharpening or chroma smoothing). `obscura look list` describes them.
    #[arg(long, default_value = "natural", value_name = "NAME|FILE")]
    look: String,
    /// Unsharp-mask amount (0 = off, up to 4; default: the look's, 0.5 for natural).
    #[arg(long, value_name = "AMOUNT")]
    sharpen: Option<f32>,
    /// Output format: jpeg, png, tiff or exr (default: from the output's extension).
    #[arg(long)]
    format: Option<String>,
    /// JPEG quality (1 to 100).
    #[arg(long, default_value_t = 92)]
    quality: u8,
    /// Write 16-bit PNG (default 8-bit; TIFF is always 16-bit).
    #[arg(long)]
    png16: bool,
    /// Keep the GPS location in the output's EXIF (it is stripped by default: photos are
    /// private data).
    #[arg(long)]
    keep_location: bool,
    /// Keep the tags that identify the owner or the camera: serial numbers, owner and artist
    /// names, the image unique ID, the maker note (stripped by default; the capture settings
    /// always stay). The location needs --keep-location as well.
    #[arg(long)]
    keep_metadata: bool,
    /// Skip lens-shading correction (DNG gain maps).
    #[arg(long)]
    no_shading: bool,
    /// A 3D LUT applied to the finished image: an Adobe/Resolve .cube file or a Hald CLUT
    /// image, mapping sRGB-encoded values.
    #[arg(long, value_name = "FILE")]
    lut: Option<PathBuf>,
    /// How much of the LUT to apply, 0 to 1.
    #[arg(long, default_value_t = 1.0, requires = "lut")]
    lut_strength: f32,
    /// Also write the HDR rendition for HDR displays: a .jpg output becomes an Ultra HDR
    /// JPEG (the same SDR image, plus a gain map that lights highlights above SDR white).
    /// An .exr output is always HDR and needs no --hdr. PNG and TIFF cannot carry it.
    #[arg(long)]
    hdr: bool,
    /// Stops above SDR white the HDR rendition may use, 1 to 6 (default 3).
    #[arg(
        long,
        value_name = "STOPS",
        requires = "hdr",
        allow_hyphen_values = true
    )]
    hdr_headroom: Option<f32>,
}

/// A LUT to apply after finishing, with its strength.
type LutChoice = Option<(std::sync::Arc<crate::look::Lut3d>, f32)>;

impl FinishArgs {
    /// Loads the `--lut` file, if any, before any other work.
    fn lut(&self) -> Result<LutChoice> {
        if !self.lut_strength.is_finite() || !(0.0..=1.0).contains(&self.lut_strength) {
            return Err(crate::Error::parameter(
                "--lut-strength",
                format!("{}: must be between 0 and 1", self.lut_strength),
            ));
        }
        match &self.lut {
            Some(p) => Ok(Some((
                std::sync::Arc::new(crate::look::Lut3d::load(p)?),
                self.lut_strength,
            ))),
            None => Ok(None),
        }
    }

    /// The HDR settings `--hdr` and `--hdr-headroom` ask for (checked).
    fn hdr(&self) -> Result<Option<crate::finish::hdr::HdrParams>> {
        if !self.hdr {
            return Ok(None);
        }
        let mut h = crate::finish::hdr::HdrParams::default();
        if let Some(s) = self.hdr_headroom {
            h.headroom = s;
        }
        h.validate()?;
        Ok(Some(h))
    }

    fn params(&self) -> Result<(FinishParams, EncodeParams)> {
        let mut fp = if self.look.eq_ignore_ascii_case("none") {
            FinishParams::reference()
        } else {
            FinishParams::with_look(Look::resolve(&self.look)?)
        };
        if let Some(w) = &self.wb {
            fp.color.white_balance = WhiteBalance::parse_multipliers(w)?;
        }
        if let Some(t) = &self.wb_temp {
            fp.color.white_balance = WhiteBalance::parse_temperature(t)?;
        }
        fp.color.space = self.colorspace.parse()?;
        fp.exposure = self.exposure;
        fp.tone.mode = self.tone.parse()?;
        if let Some(s) = self.tone_strength {
            if !(0.0..=1.0).contains(&s) {
                return Err(crate::Error::parameter(
                    "--tone-strength",
                    format!("{s}: must be between 0 and 1"),
                ));
            }
            fp.tone.strength = s;
        }
        fp.highlights = self.highlights.parse()?;
        fp.demosaic = self.demosaic.parse()?;
        if let Some(a) = self.sharpen {
            fp.sharpen.amount = a;
        }
        fp.skip_shading = self.no_shading;
        fp.validate()?;
        let ep = EncodeParams {
            format: self.format.as_deref().map(str::parse).transpose()?,
            quality: self.quality,
            png16: self.png16,
            keep_location: self.keep_location,
            keep_metadata: self.keep_metadata,
        };
        Ok((fp, ep))
    }
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// RAW files (DNG, CRW, CR2, CR3, NEF, ARW, ...) or directories of them.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print JSON (one array of objects) instead of text.
    #[arg(long)]
    json: bool,
    /// Also print the noise model merge would use: the DNG NoiseProfile, or an estimate from
    /// the pixels when the file has none (variance = S * signal + O per colour).
    #[arg(long)]
    noise: bool,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// The burst: a directory of RAW files, or the files themselves.
    #[arg(required = true)]
    burst: Vec<PathBuf>,
    /// Output DNG.
    #[arg(long, short)]
    output: PathBuf,
    /// Reference frame index (in input order: a folder's files by name); default: the sharpest of the
    /// first three, or in an exposure bracket the one with the most usable signal (the result's
    /// brightness does not depend on it).
    #[arg(long, value_name = "N")]
    reference: Option<usize>,
    /// Use at most N frames (the first N in input order; only those are decoded).
    #[arg(long, value_name = "N")]
    frames: Option<usize>,
    /// Merge method: robust (default), kernel (kernel regression of the raw samples onto
    /// an RGB grid, written as a LinearRaw DNG), hdrplus (the paper as published) or
    /// average (the aligned mean, no ghost rejection).
    #[arg(long = "merge", default_value = "robust")]
    method: String,
    /// Output scale of the kernel merge, 1 to 3 (2: super-resolution). Needs --merge kernel.
    #[arg(long, default_value_t = 1.0)]
    scale: f32,
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
    /// Write diagnostics to DIR: PNG maps of the alignment (arrows per tile) and of the
    /// merge's robustness weights per frame, the noise model against the measured noise, the
    /// reference choice, 100% crops of the reference and the merge, recovered highlights,
    /// and an index.html showing them beside the figures. DIR is replaced whole when it holds
    /// an earlier run's diagnostics; a folder holding other files is refused.
    #[arg(long, value_name = "DIR")]
    debug: Option<PathBuf>,
}

/// The merge parameters of `--merge METHOD --scale S`, checked with the options' names.
fn merge_params(method: &str, scale: f32) -> Result<crate::merge::MergeParams> {
    let method: crate::merge::MergeMethod = method.parse()?;
    let max = crate::merge::kernel::MAX_SCALE;
    if !(scale.is_finite() && (1.0..=max).contains(&scale)) {
        return Err(crate::Error::parameter(
            "--scale",
            format!("{scale} (allowed: 1 to {max})"),
        ));
    }
    if scale != 1.0 && method != crate::merge::MergeMethod::Kernel {
        return Err(crate::Error::parameter(
            "--scale",
            format!("{scale} needs --merge kernel (the only merge that super-resolves)"),
        ));
    }
    Ok(crate::merge::MergeParams {
        method,
        scale,
        ..Default::default()
    })
}

#[derive(Debug, Args)]
struct AlignArgs {
    /// The burst: a directory of RAW files, or the files themselves.
    #[arg(required = true)]
    burst: Vec<PathBuf>,
    /// Reference frame index (counted in input order); default: the sharpest
    /// of the first three, or in an exposure bracket the one with the most usable signal.
    #[arg(long, value_name = "N")]
    reference: Option<usize>,
    /// Print the whole displacement field as JSON: {"reference": r, "frames": [{"file",
    /// "tiles_x", "tiles_y", "tile_step", "tile_size", "field": [[dx, dy], ...]}]}; tile (i, j)
    /// is centred at (j*tile_step + tile_size/2, i*tile_step + tile_size/2) in full-resolution
    /// pixels of the reference's active area, and the reference pixel at p is found at
    /// p + [dx, dy] in that frame.
    #[arg(long)]
    json: bool,
    /// Write diagnostics to DIR: the alignment field of every frame as arrows over the
    /// reference, the noise model, the reference choice, and an index.html showing them.
    /// DIR is replaced whole when it holds an earlier run's diagnostics; a folder holding
    /// other files is refused.
    #[arg(long, value_name = "DIR")]
    debug: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SynthArgs {
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
    #[arg(long, default_value = "RGGB")]
    cfa: String,
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
    #[arg(long, default_value = "d65", requires = "chart")]
    light: String,
    /// Give the chart DNG ForwardMatrix tags as well as ColorMatrix.
    #[arg(long, requires = "chart")]
    forward_matrix: bool,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            // a parameter out of range is the caller's mistake, like a usage error; an
            // interruption exits as a shell expects after SIGINT
            ExitCode::from(match e {
                crate::Error::Parameter { .. } => 2,
                crate::Error::Interrupted => 130,
                _ => 1,
            })
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Some(n) = cli.threads {
        if !(1..=1024).contains(&n) {
            return Err(crate::Error::parameter(
                "--threads",
                format!("{n}: must be 1 to 1024"),
            ));
        }
        // fails only if a pool exists already, which cannot happen this early
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    if cli.max_pixels == 0 {
        return Err(crate::Error::parameter(
            "--max-pixels",
            "0: must be at least 1",
        ));
    }
    let _ = LIMITS.set(crate::raw::DecodeLimits {
        max_pixels: cli.max_pixels,
    });
    let talk = process::Talk {
        verbose: cli.verbose,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Info(a) => info(a),
        Command::Synth(a) => synth(a, talk.quiet),
        Command::Align(a) => align(a),
        Command::Merge(a) => merge(a),
        Command::Develop(a) => {
            process::catch_interrupts();
            process::develop(a, talk)
        }
        Command::Process(a) => {
            process::catch_interrupts();
            process::process(*a, talk)
        }
        Command::Look(LookCommand::List) => {
            for name in Look::BUILTIN {
                if let Some(l) = Look::builtin(name) {
                    say!("{name:<10} {}", l.description);
                }
            }
            Ok(())
        }
        Command::Look(LookCommand::Export(a)) => look_export(a),
    }
}

fn look_export(a: LookExportArgs) -> Result<()> {
    let ext = a.output.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !ext.eq_ignore_ascii_case("cube") {
        return Err(crate::Error::parameter(
            "--output",
            format!("{}: a LUT is written as .cube", a.output.display()),
        ));
    }
    let look = Look::resolve(&a.look)?;
    let lut = look.bake(a.size)?;
    lut.save_cube(&a.output)?;
    eprintln!(
        "wrote {} ({}^3 LUT of look {:?}; its vignette, grain, tone and sharpening are not \
         part of a LUT)",
        a.output.display(),
        lut.size,
        look.name
    );
    Ok(())
}

/// What `obscura info --json` prints per file.
#[derive(Debug, Serialize)]
struct FrameInfo {
    file: String,
    decoder: DecoderKind,
    width: usize,
    height: usize,
    active_area: Rect,
    crop: Rect,
    /// Whether the frame is linear camera RGB (a 3-sample LinearRaw DNG) rather than a Bayer
    /// mosaic.
    linear_rgb: bool,
    /// The Bayer pattern; `null` for linear RGB.
    cfa: Option<Cfa>,
    /// Black levels per 2x2 position; for linear RGB, per plane R, G, B (and G again).
    black: [f64; 4],
    white: f64,
    wb_multipliers: [f64; 3],
    #[serde(flatten)]
    meta: Metadata,
}

fn illuminant_name(code: u16) -> &'static str {
    match code {
        17 => "standard light A",
        18 => "standard light B",
        19 => "standard light C",
        20 => "D55",
        21 => "D65",
        22 => "D75",
        23 => "D50",
        24 => "ISO studio tungsten",
        1 => "daylight",
        2 => "fluorescent",
        3 => "tungsten",
        0 => "unknown",
        _ => "other",
    }
}

fn print_text(f: &RawFrame) {
    let m = &f.meta;
    let r = |r: Rect| format!("{}x{} at ({},{})", r.width, r.height, r.x, r.y);
    say!("{}", f.path.display());
    say!(
        "  camera       {} {} (decoded by {:?})",
        m.make,
        m.model,
        f.decoder
    );
    say!(
        "  raw buffer   {}x{}{}, active {}, crop {}",
        f.size().0,
        f.size().1,
        if f.is_rgb() {
            " linear RGB (LinearRaw, 3 samples per pixel)"
        } else {
            ""
        },
        r(f.active_area),
        r(f.crop)
    );
    let black = if f.is_rgb() {
        say!("  CFA          none (linear RGB, already demosaiced)");
        format!("R {} G {} B {}", f.black[0], f.black[1], f.black[2])
    } else {
        say!(
            "  CFA          {} (at the crop: {})",
            f.cfa,
            f.cfa_at(f.crop)
        );
        f.black.map(|b| format!("{b}")).join(" ")
    };
    say!(
        "  levels       black {black} / white {}, {} bits stored",
        f.white,
        m.bits_per_sample
    );
    let n = m.as_shot_neutral;
    let wb = f.wb_multipliers();
    say!(
        "  white bal.   as-shot neutral {:.4} {:.4} {:.4} (multipliers {:.3} {:.3} {:.3})",
        n[0],
        n[1],
        n[2],
        wb[0],
        wb[1],
        wb[2]
    );
    let mut exp = Vec::new();
    if let Some(t) = m.exposure_time {
        exp.push(if t < 1.0 {
            format!("1/{:.0} s", 1.0 / t)
        } else {
            format!("{t} s")
        });
    }
    if let Some(a) = m.aperture {
        exp.push(format!("f/{a:.1}"));
    }
    if let Some(i) = m.iso {
        exp.push(format!("ISO {i}"));
    }
    if let Some(fl) = m.focal_length {
        exp.push(format!("{fl:.1} mm"));
    }
    exp.push(format!("baseline exposure {:+.2} EV", m.baseline_exposure));
    say!("  exposure     {}", exp.join(", "));
    say!(
        "  captured     {}",
        m.capture_time.as_deref().unwrap_or("(unknown)")
    );
    say!("  orientation  {}", m.orientation);
    for c in &m.calibrations {
        let fmt = |mm: &[[f64; 3]; 3]| {
            mm.iter()
                .map(|row| row.map(|v| format!("{v:.4}")).join(" "))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        say!(
            "  colour       ColorMatrix ({}): {}",
            illuminant_name(c.illuminant),
            fmt(&c.color_matrix)
        );
        if let Some(fm) = &c.forward_matrix {
            say!("               ForwardMatrix: {}", fmt(fm));
        }
    }
    if m.noise_profile.is_empty() {
        say!("  noise        (no NoiseProfile)");
    } else {
        let s: Vec<String> = m
            .noise_profile
            .iter()
            .map(|n| format!("S={:.3e} O={:.3e}", n.scale, n.offset))
            .collect();
        say!("  noise        NoiseProfile {}", s.join(", "));
    }
    for (name, list) in [
        ("OpcodeList1", &m.opcodes1),
        ("OpcodeList2", &m.opcodes2),
        ("OpcodeList3", &m.opcodes3),
    ] {
        if !list.is_empty() {
            let ops: Vec<String> = list
                .iter()
                .map(|o| {
                    format!(
                        "{}{}",
                        o.name(),
                        if o.is_optional() { " (optional)" } else { "" }
                    )
                })
                .collect();
            say!("  {name:<12} {}", ops.join(", "));
        }
    }
}

fn info(a: InfoArgs) -> Result<()> {
    let files = crate::burst::expand_inputs(&a.files)?;
    let mut infos = Vec::new();
    let mut errors = Vec::new();
    for path in &files {
        match RawFrame::open_with(path, &limits()) {
            Ok(f) if a.json => infos.push(FrameInfo {
                file: f.path.display().to_string(),
                decoder: f.decoder,
                width: f.size().0,
                height: f.size().1,
                active_area: f.active_area,
                crop: f.crop,
                linear_rgb: f.is_rgb(),
                cfa: (!f.is_rgb()).then_some(f.cfa),
                black: f.black,
                white: f.white,
                wb_multipliers: f.wb_multipliers(),
                meta: f.meta.clone(),
            }),
            Ok(f) => {
                print_text(&f);
                if a.noise {
                    let n = crate::merge::noise::noise_model(&f);
                    for (name, m) in ["R", "G", "B"].iter().zip(n.channels) {
                        say!(
                            "  noise {name}      variance = {:.3e} * x + {:.3e} ({:?})",
                            m.scale,
                            m.offset,
                            n.source
                        );
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&infos)
            .map_err(|e| crate::Error::parameter("--json", e.to_string()))?;
        say!("{text}");
    }
    // Every file was tried; report all failures, and fail with the last one.
    let last = errors.pop();
    for e in &errors {
        eprintln!("error: {e}");
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
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

/// Starts the diagnostics `--debug` asks for (the folder is checked before any work).
fn start_debug(dir: Option<&PathBuf>) -> Result<Option<Diagnostics>> {
    dir.map(|d| Diagnostics::start(&DebugParams::new(d)))
        .transpose()
}

/// Hands a loaded burst's files, reference candidates and reference to the diagnostics.
fn debug_reference(
    d: &mut Diagnostics,
    burst: &crate::Burst,
    reference: usize,
    forced: bool,
) -> Result<()> {
    let files: Vec<PathBuf> = burst.frames.iter().map(|f| f.path.clone()).collect();
    d.files(&files);
    let candidates: Vec<usize> = if forced {
        vec![reference]
    } else {
        (0..burst.frames.len().min(3)).collect()
    };
    let frames: Vec<&RawFrame> = candidates.iter().map(|&k| &burst.frames[k]).collect();
    d.candidates(&candidates, &frames, forced);
    d.reference(reference, &burst.frames[reference])
}

/// The figures the diagnostics page shows for `align` and `merge`.
#[derive(Debug, Serialize)]
struct DebugFigures {
    command: &'static str,
    frames_used: usize,
    reference_index: usize,
    reference: PathBuf,
    rejected_fraction: Option<f32>,
    effective_frames: Option<f32>,
}

fn align(a: AlignArgs) -> Result<()> {
    let mut diag = start_debug(a.debug.as_ref())?;
    let burst = crate::Burst::open_with(&a.burst, &limits())?;
    let params = crate::align::AlignParams {
        reference: a.reference,
        ..Default::default()
    };
    let al = crate::align::align(&burst, &params)?;
    if let Some(d) = diag.as_mut() {
        debug_reference(d, &burst, al.reference, a.reference.is_some())?;
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
        let text = serde_json::to_string(&out)
            .map_err(|e| crate::Error::parameter("--json", e.to_string()))?;
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

fn merge(a: MergeArgs) -> Result<()> {
    let mut params = merge_params(&a.method, a.scale)?;
    if let Some(d) = a.denoise {
        params.spatial_denoise = d;
        params.kernel.spatial_denoise = d;
    }
    params.validate()?;
    if a.frames == Some(0) {
        return Err(crate::Error::parameter("--frames", "0 (at least 1)"));
    }
    check_output(&a.output, None)?;
    let mut diag = start_debug(a.debug.as_ref())?;
    let mut burst = crate::Burst::open_with(&a.burst, &limits())?;
    if let Some(n) = a.frames {
        burst.frames.truncate(n); // the first n in input order
    }
    let al = crate::align::align(
        &burst,
        &crate::align::AlignParams {
            reference: a.reference,
            ..Default::default()
        },
    )?;
    crate::merge::check_output_size(&burst.frames[al.reference], &params, limits().max_pixels)?;
    let mut merged = match diag.as_mut() {
        None => crate::merge::merge(&burst, &al, &params)?,
        Some(d) => {
            // merge::merge's loop, with each frame's robustness map shown
            let r = al.reference;
            debug_reference(d, &burst, r, a.reference.is_some())?;
            let mut merger = crate::merge::Merger::new(burst.frames[r].clone(), &params)?;
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
    crate::raw::write_dng(&merged.frame, &a.output)?;
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

fn synth(a: SynthArgs, quiet: bool) -> Result<()> {
    if a.chart {
        return synth_chart(&a);
    }
    let cfa = Cfa::parse(&a.cfa).ok_or_else(|| {
        crate::Error::parameter(
            "--cfa",
            format!("{:?}; use RGGB, BGGR, GRBG or GBRG", a.cfa),
        )
    })?;
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
        cfa,
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
    let burst = crate::synth::synthesize(&params)?;
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
    use crate::synth::chart::{ChartLight, ChartParams, chart};
    let light = match a.light.to_ascii_lowercase().as_str() {
        "d65" => ChartLight::D65,
        "a" => ChartLight::A,
        other => {
            return Err(crate::Error::parameter(
                "--light",
                format!("{other:?}: expected d65 or a"),
            ));
        }
    };
    let params = ChartParams {
        light,
        forward_matrix: a.forward_matrix,
        seed: a.seed,
        cfa: Cfa::parse(&a.cfa).ok_or_else(|| {
            crate::Error::parameter(
                "--cfa",
                format!("{:?}; use RGGB, BGGR, GRBG or GBRG", a.cfa),
            )
        })?,
        ..ChartParams::default()
    };
    let frame = chart(&params)?;
    std::fs::create_dir_all(&a.out).map_err(|e| crate::Error::io(&a.out, e))?;
    let path = a.out.join("chart.dng");
    crate::raw::write_dng(&frame, &path)?;
    say!("{}", path.display());
    Ok(())
}
