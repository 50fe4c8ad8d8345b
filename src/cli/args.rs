//! Options that several commands share, flattened into each (`#[command(flatten)]`).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use obscura::encode::EncodeParams;
use obscura::error::Result;
use obscura::finish::FinishParams;
use obscura::finish::color::WhiteBalance;
use obscura::finish::hdr::HdrParams;
use obscura::look::{Look, Lut3d};
use obscura::merge::MergeParams;

use super::as_flag;
use super::values::{
    ColorSpaceValue, DemosaicValue, FormatValue, HighlightsValue, MergeValue, ToneValue,
};

/// The options every burst command (`align`, `merge`, `process`) shares.
#[derive(Debug, Args)]
pub(crate) struct BurstArgs {
    /// Reference frame index (in input order: a folder's files by name); default: the
    /// sharpest of the first three, or in an exposure bracket the one with the most usable
    /// signal (the result's brightness does not depend on it).
    #[arg(long, value_name = "N")]
    pub reference: Option<usize>,
    /// Use at most N frames (the first N in input order; only those are decoded).
    #[arg(long, value_name = "N")]
    pub frames: Option<usize>,
    /// Write diagnostics to DIR: PNG maps of the alignment (arrows per tile), the noise
    /// model against the measured noise, the reference choice and, when merging, each frame's
    /// robustness weights, 100% crops of the reference and the merge and the recovered
    /// highlights; an index.html shows them beside the figures. DIR is replaced whole when it
    /// holds an earlier run's diagnostics; a folder holding other files is refused.
    #[arg(long, value_name = "DIR")]
    pub debug: Option<PathBuf>,
}

impl BurstArgs {
    /// The burst's files in input order, the first `--frames` of them only: the frames
    /// left out are never decoded.
    pub fn files(&self, burst: &[PathBuf]) -> Result<Vec<PathBuf>> {
        obscura::burst::check_max_frames(self.frames)?;
        let mut files = obscura::burst::expand_inputs(burst)?;
        if let Some(n) = self.frames {
            files.truncate(n);
        }
        Ok(files)
    }
}

/// `--merge` and `--scale`, shared by `merge` and `process`.
#[derive(Debug, Args)]
pub(crate) struct MergeOptions {
    /// Merge method: robust (default), kernel (kernel regression of the raw samples onto an
    /// RGB grid: linear RGB, a LinearRaw DNG; super-resolution with --scale), hdrplus (the
    /// paper as published) or average (the aligned mean, no ghost rejection).
    #[arg(
        long = "merge",
        value_enum,
        ignore_case = true,
        default_value = "robust"
    )]
    pub method: MergeValue,
    /// Output scale of the kernel merge, 1 to 3 (2: super-resolution, twice the width and
    /// height). Needs --merge kernel.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f32,
}

impl MergeOptions {
    /// The merge parameters of `--merge METHOD --scale S`, checked (by the library: a
    /// `--scale` above 1 needs `--merge kernel`).
    pub fn params(&self) -> Result<MergeParams> {
        let p = MergeParams {
            method: self.method.into(),
            scale: self.scale,
            ..Default::default()
        };
        p.validate()?;
        Ok(p)
    }
}

/// Options of the finish and encode stages, shared by `develop` and `process`.
#[derive(Debug, Args)]
pub(crate) struct FinishArgs {
    /// White balance multipliers R,G,B (default: as shot).
    #[arg(long, value_name = "R,G,B", conflicts_with = "wb_temp")]
    wb: Option<String>,
    /// White balance as a colour temperature in kelvin, with an optional tint (+ magenta).
    #[arg(long, value_name = "K[,TINT]", allow_hyphen_values = true)]
    wb_temp: Option<String>,
    /// Output colour space: srgb or p3 (Display P3). The ICC profile is embedded.
    #[arg(long, value_enum, ignore_case = true, default_value = "srgb")]
    colorspace: ColorSpaceValue,
    /// Exposure correction in EV (-10 to 10), on top of the file's BaselineExposure.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    exposure: f64,
    /// Tone mapping: local (HDR+ style, default), global (one curve) or none (clip).
    #[arg(long, value_enum, ignore_case = true, default_value = "local")]
    tone: ToneValue,
    /// Local tone mapping strength, 0 (= global) to 1 (default: the look's, 1 for natural).
    #[arg(long)]
    tone_strength: Option<f32>,
    /// Clipped highlights: reconstruct (default) or clip.
    #[arg(long, value_enum, ignore_case = true, default_value = "reconstruct")]
    highlights: HighlightsValue,
    /// Demosaic: rcd (default, best), malvar (fast) or bilinear.
    #[arg(long, value_enum, ignore_case = true, default_value = "rcd")]
    demosaic: DemosaicValue,
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
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Option<FormatValue>,
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
pub(crate) type LutChoice = Option<(Arc<Lut3d>, f32)>;

impl FinishArgs {
    /// Loads the `--lut` file, if any, before any other work.
    pub fn lut(&self) -> Result<LutChoice> {
        obscura::look::check_strength(self.lut_strength)?;
        match &self.lut {
            Some(p) => Ok(Some((Arc::new(Lut3d::load(p)?), self.lut_strength))),
            None => Ok(None),
        }
    }

    /// The HDR settings `--hdr` and `--hdr-headroom` ask for (checked).
    pub fn hdr(&self) -> Result<Option<HdrParams>> {
        if !self.hdr {
            return Ok(None);
        }
        let mut h = HdrParams::default();
        if let Some(s) = self.hdr_headroom {
            h.headroom = s;
        }
        h.validate()?;
        Ok(Some(h))
    }

    /// The finish, look and encode parameters the options describe (checked). `--look none`
    /// is the reference rendering and the `natural` look, which changes nothing.
    pub fn params(&self) -> Result<(FinishParams, Look, EncodeParams)> {
        let (mut fp, look) = if self.look.eq_ignore_ascii_case("none") {
            (FinishParams::reference(), Look::default())
        } else {
            let look = Look::resolve(&self.look)?;
            (FinishParams::with_look(&look), look)
        };
        if let Some(w) = &self.wb {
            fp.color.white_balance = WhiteBalance::parse_multipliers(w).map_err(as_flag("--wb"))?;
        }
        if let Some(t) = &self.wb_temp {
            fp.color.white_balance =
                WhiteBalance::parse_temperature(t).map_err(as_flag("--wb-temp"))?;
        }
        fp.color.space = self.colorspace.into();
        fp.exposure = self.exposure;
        fp.tone.mode = self.tone.into();
        if let Some(s) = self.tone_strength {
            fp.tone.strength = s;
        }
        fp.highlights = self.highlights.into();
        fp.demosaic = self.demosaic.into();
        if let Some(a) = self.sharpen {
            fp.sharpen.amount = a;
        }
        fp.skip_shading = self.no_shading;
        fp.validate()?;
        let ep = EncodeParams {
            format: self.format.map(Into::into),
            quality: self.quality,
            png16: self.png16,
            keep_location: self.keep_location,
            keep_metadata: self.keep_metadata,
        };
        Ok((fp, look, ep))
    }
}
