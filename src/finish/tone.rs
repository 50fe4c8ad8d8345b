//! Tone mapping: scene-referred linear RGB (any range) to display-referred linear RGB in
//! `[0, 1]`.
//!
//! [`tone_map`] works in place on three planes (R, G, B) in the output colour space, where
//! 1.0 is diffuse white at the chosen exposure and a merged burst may hold 12 or more stops
//! above the shadows. The caller applies the display transfer curve (sRGB) afterwards. Three
//! modes ([`ToneMode`]), parameters in [`ToneParams`]:
//!
//! - **None**: each channel clipped to `[0, 1]`. For colour-accuracy measurement.
//! - **Global**: one curve `T` on luminance `Y = 0.2126 R + 0.7152 G + 0.0722 B`: the
//!   identity below the knee `k = 0.25` (mid-grey 0.18 is untouched), above it the rational
//!   shoulder `T(y) = k + e / (1 + e / c)`, `e = y - k`, C¹ at the knee, with `c` chosen so
//!   that the image's highlight level `w` maps to 1: `c = (1 - k)(w - k) / (w - 1)`. `w` is
//!   the 99.9th percentile of the maxima of 4 x 4 blocks of `Y` (maxima, so that fine texture
//!   at the top of the range counts); with `w <= 1` the curve is the identity. The shoulder
//!   is flat near `w`: on a 14-stop scene it keeps 2 % of a bright window's texture.
//! - **Local** (default): HDR+ style local tone mapping (S. W. Hasinoff et al., "Burst
//!   photography for high dynamic range and low-light imaging on mobile cameras", SIGGRAPH
//!   Asia 2016, section 6): synthetic exposures blended with the well-exposedness weights of
//!   exposure fusion (T. Mertens, J. Kautz, F. Van Reeth, "Exposure fusion", Pacific Graphics
//!   2007), turned into a gain map at low resolution and brought back to full resolution
//!   edge-aware. The blend is made on an edge-aware base layer (F. Durand, J. Dorsey, "Fast
//!   bilateral filtering for the display of high-dynamic-range images", SIGGRAPH 2002)
//!   rather than through Laplacian pyramids; see the next section for why.
//!   1. **Low resolution.** `log2 Y` is averaged over 4 x 4 blocks (partial blocks at the
//!      right and bottom, so any size works down to 1 x 1), with its variance per block
//!      and the block's largest `Y`.
//!   2. **Base layer** `B`: the block image smoothed edge-aware by the domain transform's
//!      recursive filter (E. S. L. Gastal, M. M. Oliveira, "Domain transform for edge-aware
//!      image and video processing", SIGGRAPH 2011): spatial sigma 2 % of the longer side
//!      (at least 16 pixels), range sigma 1 stop, 3 iterations. Luminance steps of several
//!      stops stop the smoothing; texture is smoothed over. What `B` leaves out,
//!      `log2 Y - B`, is the detail, and it passes unchanged.
//!   3. **Synthetic exposures** of the base: `2^s · 2^B` for `s` from 0 to `log2 g`, where
//!      the shadow gain `g` brings the log-average of the darker half of the image to
//!      [`ToneParams::shadow_key`], but lifts by no more stops than the scene's range (base
//!      highlights over that log-average) exceeds 6 stops, so that scenes a display can show
//!      as they are keep their contrast; clamped to `[1, max_gain]`; one exposure per at most
//!      1.5 stops. Each passes through the same display curve: the Global shoulder, scaled
//!      so that the base's own highlight level (99.9th percentile of `B`) maps to
//!      `h = that level / w` (at least 0.5), which leaves room above the base for the
//!      detail on top of it, then the encode `v^(1 / 2.2)`.
//!   4. **Fusion**: weights `exp(-(v - 0.5)² / (2 · 0.2²))` (computed before clipping at 1,
//!      so an exposure blown out by several stops gets no weight instead of the small
//!      weight of a 1), normalised, blend the encoded exposures; decoded, this is the
//!      base's display level `C(B)`, a smooth function of `B`, tabulated. The low-resolution
//!      log-gain map is `log2 C(B) - B`.
//!   5. **Edge-aware upsampling**: the fast guided filter (K. He, J. Sun, X. Tang, "Guided
//!      image filtering", ECCV 2010; K. He, J. Sun, "Fast guided filter", 2015) fits the
//!      log-gain locally as `a log2 Y + b` at low resolution (Gaussian windows of sigma 2
//!      low-resolution pixels, regularisation 0.01 stop²), each sample weighted by
//!      `1 / (1 + variance / 0.05)`, so that blocks straddling an edge, whose mean exists
//!      nowhere at full resolution, barely count. `a` and `b` are smoothed and interpolated
//!      bilinearly, and each full-resolution pixel gets `a log2 Y + b` from its own
//!      luminance: a change of gain stays on its side of a sharp edge instead of leaking
//!      across a low-resolution pixel, which is what draws halos.
//!   6. **Colour**: all three channels times `2^log-gain` (colour ratios kept), then the
//!      clip below. [`ToneParams::strength`] interpolates the log-gain between the Global
//!      curve's `log2(T(Y) / Y)` (0, exactly Global) and the local one (1).
//!
//! Global and Local end with a hue-preserving clip: where the largest channel exceeds 1,
//! the pixel is blended toward its luminance until it is 1 (and where a channel is negative,
//! until it is 0), so luminance and hue are kept and only saturation gives; a luminance of
//! 1 or more is white. Channels are never clipped separately, which would turn a bright
//! orange yellow. About 0.1 % of the image (the blocks above the highlight percentile)
//! reaches white by construction.
//!
//! ```
//! use obscura::Plane;
//! use obscura::finish::tone::{ToneParams, tone_map};
//! // a grey scene with highlights 20x above diffuse white comes out in [0, 1], still grey
//! let v: Vec<f32> = (0..64 * 48).map(|i| 0.01 * 1.1f32.powi((i % 64) as i32)).collect();
//! let plane = Plane::from_vec(64, 48, v).unwrap();
//! let mut rgb = [plane.clone(), plane.clone(), plane];
//! tone_map(&mut rgb, &ToneParams::default());
//! assert!(rgb[1].data.iter().all(|v| (0.0..=1.0).contains(v)));
//! assert_eq!(rgb[0], rgb[2]);
//! ```
//!
//! # Departures from the HDR+ recipe, and why
//! Each was measured; the tests keep the main measurements.
//! - **No Laplacian pyramids.** Mertens' blend (Laplacian pyramids of the exposures, Gaussian
//!   pyramids of the weights, to full depth, 1 x 1) leaves a halo in the low-resolution gain
//!   map itself, which no upsampling can remove: next to a sharp edge between flat areas 16x
//!   apart, the weights of the coarse levels spill across the edge and the dark side loses
//!   up to 29 % of its brightness over a hundred pixels (a wider guided filter only averages
//!   it: 25 % at sigma 2, 15 % at sigma 12). Blending per pixel on the edge-aware base gives
//!   1.7 %.
//! - **No darker "short" exposure.** With 1.0 at diffuse white, the exposure that fits the
//!   highlights linearly (`Y / w`) puts everything else `log2 w` stops down, and a long
//!   exposure at most `max_gain` brighter cannot bring it back: on the window scene below
//!   (`w` = 36) the room would end at 8/36 of its Global level. The shoulder fits the
//!   highlights instead, and their texture survives because it is in the detail layer.
//! - **More than two exposures.** HDR+'s two exposures 3 stops apart give a blend that is
//!   not monotonic over flat areas (its level falls by up to 33 % as the luminance rises
//!   through the gap); exposures at most 1.5 stops apart are monotonic for every shadow
//!   gain up to 64 (2 stops apart already fail from 16).
//!
//! # Measured (the tests below)
//! A synthetic dark room (0.002 to 0.02, ±20 % checker) with a window (30, ±20 %
//! sinusoid, a dark cross bar), 13.9 stops apart, 480 x 320:
//! - shadows: the darkest corner comes out 4.6x brighter with Local than with Global
//!   (bound 3x);
//! - window: 0.8 % of its pixels white with Local (bound 1 %; 7 % with Global); its texture
//!   keeps a relative contrast (std/mean of `Y`) of 0.066 of the input's 0.100 with Local,
//!   0.002 with Global (bound 0.04);
//! - halo: across a sharp edge between flat areas 16x apart (0.02 and 0.32, 800 x 200),
//!   the column-mean luminance stays within 1.7 % of each side's plateau with Local; with
//!   the same gain map upsampled bilinearly it overshoots by 111 %, with Mertens' pyramid
//!   blend it falls by 29 % (bound 5 %);
//! - strength 0 is exactly Global; strength 0.01 is within 1 % of the way to strength 1.
//!
//! Non-finite samples count as 0, and nothing produces NaN or Inf; all-black, all-equal,
//! 1 x 1, 2 x 2 and odd sizes are tested.
//!
//! # Implementation notes
//! - Full resolution is read twice and written once: one pass for the block statistics,
//!   one for the gain (coefficient interpolation, `log2`, `exp2`, clip). Everything else
//!   runs on the 1/16-size block image. Rows go to rayon tasks; per-task scratch rows are
//!   reused, and the few low-resolution planes are too, since the page faults of fresh
//!   planes cost as much as the filters on them.
//! - The two full-resolution row kernels (and the Global pass) are compiled for SSE2, AVX2
//!   and AVX-512 and chosen at run time (`Isa` in the crate's `cpu` module; identical results,
//!   tested; `OBSCURA_CPU=scalar` forces SSE2). `log2` and `exp2` there are polynomial
//!   approximations (errors below 1e-5, tested against the standard library), and `min`,
//!   `max` and the non-finite test are plain comparisons: with `f32::max` or `floor` the
//!   baseline build did not vectorise and the pass took 3x longer.
//! - The domain transform runs its horizontal recursions 8 rows at a time (interleaved, to
//!   hide the latency of each one-pixel step) and its vertical ones on whole row strips.
//!
//! Timings are in [`tone_map`]'s docs.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::filter::gaussian_blur_into;
use crate::cpu::{Isa, kernels};
use crate::error::{Error, Result};
use crate::image::{Plane, par_rows3};

/// How [`tone_map`] brings scene luminance into `[0, 1]`; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ToneMode {
    /// Clip each channel to `[0, 1]`; nothing else.
    None,
    /// One curve on luminance: linear mid-tones, a shoulder that brings the highlights to 1.
    Global,
    /// Exposure fusion on an edge-aware base layer, applied through an edge-aware gain map:
    /// shadows lifted, highlight detail kept (default).
    #[default]
    Local,
}

impl ToneMode {
    /// Every mode.
    pub const ALL: [ToneMode; 3] = [ToneMode::None, ToneMode::Global, ToneMode::Local];

    /// The mode's name as the command line spells it: "none", "global" or "local".
    pub fn name(self) -> &'static str {
        match self {
            ToneMode::None => "none",
            ToneMode::Global => "global",
            ToneMode::Local => "local",
        }
    }
}

impl std::fmt::Display for ToneMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ToneMode {
    type Err = Error;

    /// Parses a [`ToneMode::name`], case-insensitively.
    fn from_str(s: &str) -> Result<Self> {
        ToneMode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::parameter("tone", format!("{s:?} (use none, global or local)")))
    }
}

/// Parameters of [`tone_map`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToneParams {
    /// The method. Default [`ToneMode::Local`].
    pub mode: ToneMode,
    /// Local only: how much of the local result to use, from 0 (exactly the Global curve)
    /// to 1 (the full local result), interpolated in log-gain. Range `0..=1`, default 1.
    /// Higher: brighter shadows, more highlight detail, flatter overall contrast.
    pub strength: f32,
    /// Local only: the largest gain of the longest synthetic exposure over the input, which
    /// bounds how far the shadows are lifted (the blend reaches about three quarters of it,
    /// in stops: 4.6x for 8 on the tests' dark room). Range `1..=64`, default 8 (3 stops). Higher: dark shadows lifted
    /// further, and their noise with them.
    pub max_gain: f32,
    /// Local only: the linear level the longest exposure brings the log-average of the
    /// darker half of the image to, which sets its gain (before `max_gain`). Range
    /// `(0, 1]`, default 0.18 (mid-grey). Higher: more shadow lift on ordinary scenes.
    pub shadow_key: f32,
}

impl Default for ToneParams {
    fn default() -> Self {
        ToneParams {
            mode: ToneMode::Local,
            strength: 1.0,
            max_gain: 8.0,
            shadow_key: 0.18,
        }
    }
}

impl ToneParams {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, v: f32, lo: f32, hi: f32, lo_open: bool| {
            let ok = v.is_finite() && (if lo_open { v > lo } else { v >= lo }) && v <= hi;
            if ok {
                Ok(())
            } else {
                let open = if lo_open { "(" } else { "[" };
                Err(Error::parameter(
                    format!("tone {name}"),
                    format!("{v} (allowed {open}{lo}, {hi}])"),
                ))
            }
        };
        check("strength", self.strength, 0.0, 1.0, false)?;
        check("max_gain", self.max_gain, 1.0, 64.0, false)?;
        check("shadow_key", self.shadow_key, 0.0, 1.0, true)
    }
}

/// Tone-maps `rgb` (R, G, B planes of one size, linear, scene-referred) in place to linear
/// display values in `[0, 1]`, as `params.mode` says; see the [module docs](self).
///
/// Parameters outside their range (see [`ToneParams::validate`], which callers should run
/// at their boundary) are clamped into it. Non-finite samples are treated as 0; the output
/// is always finite and in `[0, 1]`.
///
/// # Timing
/// `cargo bench --bench tone`: 4000 x 3000 (12 MP), in place, 2 threads, Intel Xeon
/// (Sapphire Rapids, KVM, AVX-512), on a shared machine (load about 1):
///
/// | mode   | AVX-512 kernels (detected) | `OBSCURA_CPU=scalar` (SSE2) |
/// |--------|----------------------------|-----------------------------|
/// | None   | 20 ms                      | 19 ms                       |
/// | Global | 32 ms                      | 65 ms                       |
/// | Local  | 83 ms                      | 149 ms                      |
///
/// Of Local's time, about a third is the full-resolution gain pass, a tenth the statistics
/// pass, and the rest the low-resolution work (guided filter about 20 ms, base layer about
/// 10 ms), measured with timers in the code.
///
/// # Panics
/// If the three planes differ in size.
pub fn tone_map(rgb: &mut [Plane<f32>; 3], params: &ToneParams) {
    tone_map_with(Isa::detect(), rgb, params)
}

/// [`tone_map`] with the full-resolution kernels compiled for `isa`.
fn tone_map_with(isa: Isa, rgb: &mut [Plane<f32>; 3], params: &ToneParams) {
    let (w, h) = (rgb[0].width, rgb[0].height);
    assert!(
        rgb.iter().all(|p| p.width == w && p.height == h),
        "tone_map: R, G and B planes differ in size"
    );
    if w == 0 || h == 0 {
        return;
    }
    match params.mode {
        ToneMode::None => {
            for p in rgb.iter_mut() {
                p.data
                    .par_iter_mut()
                    .for_each(|v| *v = fmin(fmax(clean(*v), 0.0), 1.0));
            }
        }
        ToneMode::Global => {
            let stats = block_stats(isa, rgb);
            apply_curve(isa, rgb, Curve::new(highlight_level(&stats.peak), 1.0));
        }
        ToneMode::Local => local(isa, rgb, params, Upsampling::EdgeAware),
    }
}

kernels! {
    fn stats_row(sum: &mut [f32], sq: &mut [f32], mx: &mut [f32], rgb: [&[f32]; 3]) =
        stats_row_body;
    fn gain_row(rgb: [&mut [f32]; 3], coef: [&[f32]; 4], fy: f32, k: GainConsts) = gain_row_body;
    fn curve_row(rgb: [&mut [f32]; 3], curve: Curve) = curve_row_body;
}

/// Rec. 709 / sRGB luminance weights.
const LUM: [f32; 3] = crate::color::REC709_LUMA;
/// Side of the blocks averaged into the low-resolution grey image.
const BLOCK: usize = 4;
/// Luminances are floored at `2^LOG2_FLOOR` (24 stops below diffuse white) before `log2`.
const LOG2_FLOOR: f32 = -24.0;
/// The highlight level `w` is this quantile of the 4 x 4 block maxima of luminance.
const HIGHLIGHT_QUANTILE: f32 = 0.999;
/// The Global curve is the identity below this luminance.
const KNEE: f32 = 0.25;
/// Exposures are encoded as `v^(1 / GAMMA)` for fusion.
const GAMMA: f32 = 2.2;
/// Width of the well-exposedness weight around 0.5 (Mertens et al.).
const WELL_SIGMA: f32 = 0.2;
/// Largest spacing of the synthetic exposures, in stops.
const MAX_STEP_STOPS: f32 = 1.5;
/// Least headroom left above the base layer's highlights for their detail.
const MIN_HEADROOM: f32 = 0.5;
/// Spatial scale of the base layer, as a fraction of the image's longer side (Durand and
/// Dorsey 2002 use 2 %), at least 4 low-resolution pixels.
const BASE_SCALE: f32 = 0.02;
/// Range scale of the base layer, in stops: steps of luminance much larger than this stop
/// the smoothing (edges), much smaller ones are smoothed over (detail).
const BASE_SIGMA_R: f32 = 1.0;
/// Iterations of the domain transform's recursive filter.
const BASE_ITERATIONS: usize = 3;
/// Guided filter window (Gaussian sigma, low-resolution pixels) and regularisation
/// (stops²: luminance variation below about 0.1 stop counts as flat).
const GUIDE_SIGMA: f32 = 2.0;
const GUIDE_EPS: f32 = 0.01;
/// Block variance of log-luminance (stops²) at which a low-resolution pixel counts half in
/// the guided filter's fits.
const SPREAD_SCALE: f32 = 0.05;
/// Finite samples are limited to ±BIG (see [`clean`]).
const BIG: f32 = 1e20;

/// `max` and `min` by a plain comparison (the second operand when either is NaN). Unlike
/// `f32::max`, they map to one `maxps` / `minps`, which keeps the pixel loops vectorised on
/// baseline x86-64 (SSE2), where NaN-aware selects are expensive enough that the compiler
/// gave up vectorising them (measured: scalar code, 3x slower).
#[inline(always)]
fn fmax(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

#[inline(always)]
fn fmin(a: f32, b: f32) -> f32 {
    if a < b { a } else { b }
}

/// Non-finite samples become 0; finite ones are limited to ±BIG, so sums stay finite.
#[inline(always)]
fn clean(v: f32) -> f32 {
    let a = v.abs();
    let big = if v > 0.0 { BIG } else { -BIG };
    if a <= BIG {
        v
    } else if a < f32::INFINITY {
        big
    } else {
        0.0
    }
}

#[inline(always)]
fn luminance(r: f32, g: f32, b: f32) -> f32 {
    LUM[0] * r + LUM[1] * g + LUM[2] * b
}

/// `log2(x)` for positive normal `x`, to about 1e-7: exponent plus the odd series of
/// `atanh` on the mantissa folded into `[√½, √2)`. Written to vectorise.
#[inline(always)]
fn fast_log2(x: f32) -> f32 {
    const C1: f32 = 2.0 * std::f32::consts::LOG2_E;
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { 0.5 * m } else { m };
    let e = (if big { e + 1 } else { e }) as f32;
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    e + t * (C1 + t2 * (C1 / 3.0 + t2 * (C1 / 5.0 + t2 * (C1 / 7.0))))
}

/// `2^x`, `x` clamped to `[-126, 126]` (NaN gives `2^-126`), to about 2e-6 relative, exact
/// at integers: integer part into the exponent bits, fraction by the degree-7 Taylor series
/// of `e^(f ln 2)`. Written to vectorise (no `floor`, which is a library call on baseline
/// x86-64, and no saturating float-to-integer conversion).
#[inline(always)]
fn fast_exp2(x: f32) -> f32 {
    let x = fmin(fmax(x, -126.0), 126.0);
    // SAFETY: x is finite and within [-126, 126], so its integer part fits an i32.
    let t: i32 = unsafe { x.to_int_unchecked() };
    let i = if (t as f32) > x { t - 1 } else { t };
    let u = (x - i as f32) * std::f32::consts::LN_2;
    let p = 1.0
        + u * (1.0
            + u * (1.0 / 2.0
                + u * (1.0 / 6.0
                    + u * (1.0 / 24.0 + u * (1.0 / 120.0 + u * (1.0 / 720.0 + u / 5040.0))))));
    f32::from_bits(((i + 127) as u32) << 23) * p
}

/// Blends `(r, g, b)` toward its luminance just enough to bring every channel into
/// `[0, 1]` (luminance and hue kept); luminance `>= 1` gives white, `<= 0` black.
#[inline(always)]
fn hue_clip(r: f32, g: f32, b: f32) -> [f32; 3] {
    let l = luminance(r, g, b);
    let (mx, mn) = (fmax(fmax(r, g), b), fmin(fmin(r, g), b));
    let t_hi = if mx > 1.0 {
        (1.0 - l) / fmax(mx - l, 1e-30)
    } else {
        1.0
    };
    let t_lo = if mn < 0.0 {
        l / fmax(l - mn, 1e-30)
    } else {
        1.0
    };
    let t = fmin(fmax(fmin(t_hi, t_lo), 0.0), 1.0);
    [r, g, b].map(|c| fmin(fmax(l + t * (c - l), 0.0), 1.0))
}

/// The Global curve for one highlight level (see the module docs), optionally scaled down
/// to leave headroom: `apply(y) = h T(y / h)`, identity below `h k`, `white` mapped to `h`.
#[derive(Debug, Clone, Copy)]
struct Curve {
    /// `1 / c`; 0 when `white / h` is at most 1 (identity).
    inv_c: f32,
    /// Headroom `h`, the value `white` maps to (1 for Global).
    h: f32,
}

impl Curve {
    fn new(white: f32, h: f32) -> Curve {
        let w = if white.is_finite() {
            (white / h).max(1.0)
        } else {
            1.0
        };
        Curve {
            inv_c: (w - 1.0) / ((1.0 - KNEE) * (w - KNEE)),
            h,
        }
    }

    #[inline(always)]
    fn apply(self, y: f32) -> f32 {
        let e = fmax(y - self.h * KNEE, 0.0);
        fmin(y, self.h * KNEE + e / (1.0 + e * self.inv_c / self.h))
    }
}

/// Per-block statistics of the luminance, `ceil(w / 4) x ceil(h / 4)`.
struct BlockStats {
    /// Mean of `log2 max(Y, 2^LOG2_FLOOR)` over the block.
    logy: Plane<f32>,
    /// Variance of the same over the block: large where the block straddles an edge.
    spread: Plane<f32>,
    /// Largest `Y` of the block.
    peak: Plane<f32>,
}

/// One pass over the full-resolution planes: [`BlockStats`] of their luminance.
fn block_stats(isa: Isa, rgb: &[Plane<f32>; 3]) -> BlockStats {
    let (w, h) = (rgb[0].width, rgb[0].height);
    let (lw, lh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    // (log Y, spread, peak) rows in lockstep
    let mut stats: [Plane<f32>; 3] = std::array::from_fn(|_| Plane::new(lw, lh));
    par_rows3(&mut stats, lw).enumerate().for_each_init(
        || [0; 3].map(|_| vec![0.0f32; w]),
        |[sum, sq, mx], (j, [lrow, vrow, prow])| {
            sum.fill(0.0);
            sq.fill(0.0);
            mx.fill(f32::MIN);
            let rows = BLOCK * j..(BLOCK * j + BLOCK).min(h);
            let n_rows = rows.len();
            for y in rows {
                let row = [rgb[0].row(y), rgb[1].row(y), rgb[2].row(y)];
                stats_row(isa, sum, sq, mx, row);
            }
            // column sums into blocks: whole blocks, then the partial one at the right
            let mut reduce = |i: usize, cols: std::ops::Range<usize>| {
                let inv = 1.0 / (cols.len() * n_rows) as f32;
                let mean = sum[cols.clone()].iter().sum::<f32>() * inv;
                lrow[i] = mean;
                vrow[i] = fmax(
                    sq[cols.clone()].iter().sum::<f32>() * inv - mean * mean,
                    0.0,
                );
                prow[i] = mx[cols].iter().copied().fold(f32::MIN, fmax);
            };
            for i in 0..lw {
                reduce(i, BLOCK * i..(BLOCK * i + BLOCK).min(w));
            }
        },
    );
    let [logy, spread, peak] = stats;
    BlockStats { logy, spread, peak }
}

/// Accumulates one row into the column sums of `log2 Y` and its square and the column
/// maxima of `Y`.
#[inline(always)]
fn stats_row_body(sum: &mut [f32], sq: &mut [f32], mx: &mut [f32], [r, g, b]: [&[f32]; 3]) {
    let floor = LOG2_FLOOR.exp2();
    let n = sum.len();
    let (sq, mx, r, g, b) = (&mut sq[..n], &mut mx[..n], &r[..n], &g[..n], &b[..n]);
    for x in 0..n {
        let y = luminance(clean(r[x]), clean(g[x]), clean(b[x]));
        let l = fast_log2(fmax(y, floor));
        sum[x] += l;
        sq[x] += l * l;
        mx[x] = fmax(mx[x], y);
    }
}

/// A histogram of `log2` values from [`LOG2_FLOOR`] to 104 in 1/32-stop bins.
struct LogHistogram {
    counts: Vec<u32>,
    total: u64,
    max: f32,
}

impl LogHistogram {
    const PER_STOP: f32 = 32.0;
    const BINS: usize = 128 * 32;

    /// The histogram of `f(v)` over `values`.
    fn new(values: &[f32], f: impl Fn(f32) -> f32 + Sync) -> LogHistogram {
        values
            .par_chunks(1 << 16)
            .map(|chunk| {
                let mut h = LogHistogram {
                    counts: vec![0u32; Self::BINS],
                    total: chunk.len() as u64,
                    max: LOG2_FLOOR,
                };
                for &v in chunk {
                    let v = f(v);
                    let t = fmin(
                        fmax((v - LOG2_FLOOR) * Self::PER_STOP, 0.0),
                        (Self::BINS - 1) as f32,
                    );
                    h.counts[t as usize] += 1;
                    h.max = fmax(h.max, v);
                }
                h
            })
            .reduce(
                || LogHistogram {
                    counts: vec![0u32; Self::BINS],
                    total: 0,
                    max: LOG2_FLOOR,
                },
                |mut a, b| {
                    a.counts
                        .iter_mut()
                        .zip(&b.counts)
                        .for_each(|(x, y)| *x += y);
                    a.total += b.total;
                    a.max = fmax(a.max, b.max);
                    a
                },
            )
    }

    /// The upper edge of the bin holding quantile `q` (`0..=1`), at most the largest value.
    fn quantile(&self, q: f32) -> f32 {
        let target = ((q as f64 * self.total as f64).ceil() as u64).max(1);
        let mut acc = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            acc += c as u64;
            if acc >= target {
                return (LOG2_FLOOR + (i + 1) as f32 / Self::PER_STOP).min(self.max);
            }
        }
        LOG2_FLOOR
    }
}

/// The highlight level `w`: the [`HIGHLIGHT_QUANTILE`] of the block maxima of luminance.
fn highlight_level(peak: &Plane<f32>) -> f32 {
    let floor = LOG2_FLOOR.exp2();
    let hist = LogHistogram::new(&peak.data, |p| fast_log2(fmax(p, floor)));
    hist.quantile(HIGHLIGHT_QUANTILE).exp2()
}

/// The mean of the lower half of `logy` (below its median): the log-average luminance of
/// the darker half of the image.
fn dark_half_log_mean(logy: &Plane<f32>) -> f32 {
    let median = LogHistogram::new(&logy.data, |v| v).quantile(0.5);
    let (sum, n) = logy
        .data
        .par_iter()
        .filter(|&&v| v <= median)
        .fold(|| (0.0f64, 0usize), |(s, n), &v| (s + v as f64, n + 1))
        .reduce(|| (0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    if n == 0 {
        median
    } else {
        (sum / n as f64) as f32
    }
}

/// How the low-resolution gain map is brought to full resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upsampling {
    /// Fast guided filter on log-gain, guided by full-resolution log-luminance.
    EdgeAware,
    /// Plain bilinear interpolation of log-gain: the baseline the tests compare against.
    #[cfg_attr(not(test), allow(dead_code))]
    Bilinear,
}

/// Clamps the user parameters into their ranges: (strength, max_gain, shadow_key).
fn clamped(params: &ToneParams) -> (f32, f32, f32) {
    let d = ToneParams::default();
    let pick = |v: f32, lo: f32, hi: f32, default: f32| {
        if v.is_finite() {
            v.clamp(lo, hi)
        } else {
            default
        }
    };
    (
        pick(params.strength, 0.0, 1.0, d.strength),
        pick(params.max_gain, 1.0, 64.0, d.max_gain),
        pick(params.shadow_key, 1e-3, 1.0, d.shadow_key),
    )
}

/// The Local mode, with a choice of upsampling for the tests' baseline.
fn local(isa: Isa, rgb: &mut [Plane<f32>; 3], params: &ToneParams, upsampling: Upsampling) {
    let (strength, max_gain, key) = clamped(params);
    let stats = block_stats(isa, rgb);
    let peak = highlight_level(&stats.peak);
    let global = Curve::new(peak, 1.0);
    if strength == 0.0 {
        apply_curve(isa, rgb, global);
        return;
    }
    let side = rgb[0].width.max(rgb[0].height) as f32;
    let base = edge_aware_base(&stats.logy, (BASE_SCALE * side / BLOCK as f32).max(4.0));
    let curve = BaseCurve::new(peak, &stats.logy, &base, max_gain, key);
    let mut lg = base;
    curve.log_gains(&mut lg.data);
    let range = lg
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (a, b, centre) = match upsampling {
        Upsampling::EdgeAware => guided_coefficients(&stats.logy, &lg, &stats.spread),
        Upsampling::Bilinear => (Plane::new(lg.width, lg.height), lg, 0.0),
    };
    apply_log_gain(isa, rgb, [&a, &b], centre, range, global, strength);
}

/// The base layer: `logy` smoothed edge-aware by the domain transform's recursive filter
/// (E. S. L. Gastal, M. M. Oliveira, "Domain transform for edge-aware image and video
/// processing", SIGGRAPH 2011), spatial sigma `sigma_s` pixels, range sigma
/// [`BASE_SIGMA_R`] stops, [`BASE_ITERATIONS`] iterations of a horizontal and a vertical
/// pass.
fn edge_aware_base(logy: &Plane<f32>, sigma_s: f32) -> Plane<f32> {
    const STRIP: usize = 256;
    let (w, h) = (logy.width, logy.height);
    let ratio = sigma_s / BASE_SIGMA_R;
    // Iteration k filters with sigma_0 / 2^k, so that the iterations add up to sigma_s
    // (their eq. 14); its feedback coefficient at a pixel, a_k^d with
    // a_k = exp(-√2 / sigma_k) and d the derivative of the transformed domain there, is
    // therefore the first iteration's squared k times.
    let n = BASE_ITERATIONS as i32;
    let sigma_0 = sigma_s * 3f32.sqrt() * 2f32.powi(n - 1) / (4f32.powi(n) - 1.0).sqrt();
    let log2_a0 = -std::f32::consts::SQRT_2 / sigma_0 * std::f32::consts::LOG2_E;
    let coefficient = |a: f32, b: f32| fast_exp2(log2_a0 * (1.0 + ratio * (a - b).abs()));
    // to the left / upper neighbour; the first column / row is unused
    let mut wh = Plane::new(w, h);
    let mut wv = Plane::new(w, h);
    wh.data
        .par_chunks_mut(w)
        .zip(wv.data.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, (oh, ov))| {
            let row = logy.row(y);
            let above = logy.row(y.saturating_sub(1));
            for ((o, &a), &b) in oh[1..].iter_mut().zip(&row[1..]).zip(row) {
                *o = coefficient(a, b);
            }
            for ((o, &a), &b) in ov.iter_mut().zip(row).zip(above) {
                *o = coefficient(a, b);
            }
        });
    let mut j = logy.clone();
    for k in 0..n {
        if k > 0 {
            for p in [&mut wh, &mut wv] {
                p.data.par_iter_mut().for_each(|v| *v *= *v);
            }
        }
        // horizontal: 8 rows interleaved, so that 8 independent recursions hide each
        // other's latency
        j.data
            .par_chunks_mut(8 * w)
            .zip(wh.data.par_chunks(8 * w))
            .for_each(|(rows, a)| {
                let n = rows.len() / w;
                for x in 1..w {
                    for r in 0..n {
                        let i = r * w + x;
                        rows[i] += a[i] * (rows[i - 1] - rows[i]);
                    }
                }
                for x in (1..w).rev() {
                    for r in 0..n {
                        let i = r * w + x;
                        rows[i - 1] += a[i] * (rows[i] - rows[i - 1]);
                    }
                }
            });
        // vertical: down then up, whole strips of a row at a time, strips in parallel
        let mut strips: Vec<Vec<&mut [f32]>> = (0..w.div_ceil(STRIP)).map(|_| Vec::new()).collect();
        for row in j.data.chunks_mut(w) {
            for (s, piece) in strips.iter_mut().zip(row.chunks_mut(STRIP)) {
                s.push(piece);
            }
        }
        strips
            .into_par_iter()
            .enumerate()
            .for_each(|(s, mut rows)| {
                let x0 = s * STRIP;
                for y in 1..h {
                    let (done, rest) = rows.split_at_mut(y);
                    let (prev, cur) = (&done[y - 1], &mut rest[0]);
                    let a = &wv.row(y)[x0..x0 + cur.len()];
                    for ((v, &p), &a) in cur.iter_mut().zip(prev.iter()).zip(a) {
                        *v += a * (p - *v);
                    }
                }
                for y in (1..h).rev() {
                    let (head, next) = rows.split_at_mut(y);
                    let (cur, below) = (&mut head[y - 1], &next[0]);
                    let a = &wv.row(y)[x0..x0 + cur.len()];
                    for ((v, &p), &a) in cur.iter_mut().zip(below.iter()).zip(a) {
                        *v += a * (p - *v);
                    }
                }
            });
    }
    j
}

/// Stops of scene range (from the base layer's highlights down to the log-average of the
/// darker half) that the display curve shows without lifting shadows. Each stop beyond this
/// allows one stop of shadow lift.
const DISPLAY_STOPS: f32 = 6.0;

/// The Local mode's tone curve of the base layer (steps 3 and 4 of the module docs): a
/// Mertens blend of synthetic exposures of the base, per pixel.
struct BaseCurve {
    /// Gains of the exposures over the input, in stops, from 0 to the longest.
    stops: Vec<f32>,
    /// The shoulder every exposure passes through before it is encoded.
    shoulder: Curve,
}

impl BaseCurve {
    fn new(peak: f32, logy: &Plane<f32>, base: &Plane<f32>, max_gain: f32, key: f32) -> BaseCurve {
        let base_white = LogHistogram::new(&base.data, |v| v)
            .quantile(HIGHLIGHT_QUANTILE)
            .exp2();
        // headroom left above the base's highlights for the detail on top of them
        let headroom = (base_white / peak.max(1e-30)).clamp(MIN_HEADROOM, 1.0);
        // The lift that brings the dark half to the key, but no more than the scene's range
        // exceeds what a display shows: a scene of [`DISPLAY_STOPS`] or less needs no
        // compression (a colour chart or an overcast street stays as the global curve has
        // it), a 12-stop window-and-room scene gets the full lift.
        let dark = dark_half_log_mean(logy);
        let excess = (base_white.log2() - dark - DISPLAY_STOPS).max(0.0);
        let longest = (key.log2() - dark).min(excess).clamp(0.0, max_gain.log2());
        let n = if longest < 1e-3 {
            1
        } else {
            (longest / MAX_STEP_STOPS).ceil() as usize + 1
        };
        BaseCurve {
            stops: (0..n)
                .map(|i| longest * i as f32 / (n - 1).max(1) as f32)
                .collect(),
            shoulder: Curve::new(base_white, headroom),
        }
    }

    /// Exposure `s` (stops over the input) of the base value `2^l`: its encoded value,
    /// clipped at 1, and its well-exposedness weight, taken before clipping.
    #[inline(always)]
    fn exposure(&self, l: f32, s: f32) -> (f32, f32) {
        let x = self.shoulder.apply(fast_exp2(l + s));
        let u = fast_exp2(fast_log2(x.max(1e-30)) / GAMMA);
        let d = u - 0.5;
        let k = std::f32::consts::LOG2_E / (2.0 * WELL_SIGMA * WELL_SIGMA);
        (u.min(1.0), fast_exp2(-d * d * k) + 1e-12)
    }

    /// Replaces each base value `l` (log2) by its log-gain `log2 C(2^l) - l`, through a table
    /// of [`Self::log2_apply`] in steps of 1/32 stop over the values' range, interpolated
    /// linearly (the curve is smooth; the table's error is below 1e-4 stop).
    fn log_gains(&self, base: &mut [f32]) {
        const PER_STOP: f32 = 32.0;
        let (lo, hi) = base.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| {
            (fmin(lo, v), fmax(hi, v))
        });
        if base.is_empty() {
            return;
        }
        let n = ((hi - lo) * PER_STOP) as usize + 2;
        let table: Vec<f32> = (0..n)
            .map(|i| {
                let l = lo + i as f32 / PER_STOP;
                self.log2_apply(l) - l
            })
            .collect();
        base.par_iter_mut().for_each(|v| {
            let t = (*v - lo) * PER_STOP;
            let i = (t as usize).min(n - 2);
            let f = t - i as f32;
            *v = table[i] + f * (table[i + 1] - table[i]);
        });
    }

    /// `log2 C(2^l)`.
    fn log2_apply(&self, l: f32) -> f32 {
        let (mut num, mut den) = (0.0f32, 0.0f32);
        for &s in &self.stops {
            let (u, wt) = self.exposure(l, s);
            num += wt * u;
            den += wt;
        }
        GAMMA * fast_log2((num / den).max(1e-30))
    }
}

/// The guided filter's smoothed coefficients `a`, `b` for predicting `p` from `guide`
/// (centred on its mean, which is returned): `p ≈ a (guide - centre) + b` (He et al. 2010,
/// Gaussian windows), each window's fit weighted per sample by `1 / (1 + spread /
/// SPREAD_SCALE)`. A low-resolution pixel whose block straddles an edge has a mean
/// log-luminance that exists nowhere at full resolution, and a gain that is not on the line
/// between the two sides; unweighted, it tilts the fit and lifts the bright side of a 16x
/// edge by 4 % (measured); weighted, it barely counts.
fn guided_coefficients(
    guide: &Plane<f32>,
    p: &Plane<f32>,
    spread: &Plane<f32>,
) -> (Plane<f32>, Plane<f32>, f32) {
    let n = guide.data.len().max(1) as f64;
    let centre = (guide.data.par_iter().map(|&v| v as f64).sum::<f64>() / n) as f32;
    let mut i = guide.clone();
    i.data.par_iter_mut().for_each(|v| *v -= centre);
    let mut wt = spread.clone();
    wt.data
        .par_iter_mut()
        .for_each(|v| *v = 1.0 / (1.0 + *v / SPREAD_SCALE));
    // weighted window sums: of the weights, and of weight times I, p, I², I p
    let mut tmp = wt.clone();
    let [mut sw, mut si, mut sp, mut sii, mut sip] = std::array::from_fn(|_| Plane::new(0, 0));
    gaussian_blur_into(&wt, GUIDE_SIGMA, &mut sw);
    let inputs = (&wt, &i, p);
    blur_of(inputs, |w, g, _| w * g, &mut tmp, &mut si);
    blur_of(inputs, |w, _, q| w * q, &mut tmp, &mut sp);
    blur_of(inputs, |w, g, _| w * g * g, &mut tmp, &mut sii);
    blur_of(inputs, |w, g, q| w * g * q, &mut tmp, &mut sip);
    // a into sii, b into sip
    sii.data
        .par_iter_mut()
        .zip(sip.data.par_iter_mut())
        .zip(sw.data.par_iter().zip(si.data.par_iter().zip(&sp.data)))
        .for_each(|((ii, ip), (&w, (&si, &sp)))| {
            let inv = 1.0 / fmax(w, 1e-30);
            let (mi, mp) = (si * inv, sp * inv);
            let var = fmax(*ii * inv - mi * mi, 0.0);
            let a = (*ip * inv - mi * mp) / (var + GUIDE_EPS);
            (*ii, *ip) = (a, mp - a * mi);
        });
    gaussian_blur_into(&sii, GUIDE_SIGMA, &mut si);
    gaussian_blur_into(&sip, GUIDE_SIGMA, &mut sp);
    (si, sp, centre)
}

/// `out` = the blur of `f(weight, guide, p)` per pixel, through `tmp`.
fn blur_of(
    (wt, i, p): (&Plane<f32>, &Plane<f32>, &Plane<f32>),
    f: impl Fn(f32, f32, f32) -> f32 + Sync,
    tmp: &mut Plane<f32>,
    out: &mut Plane<f32>,
) {
    tmp.data
        .par_iter_mut()
        .zip(&wt.data)
        .zip(i.data.par_iter().zip(&p.data))
        .for_each(|((t, &w), (&g, &q))| *t = f(w, g, q));
    gaussian_blur_into(tmp, GUIDE_SIGMA, out);
}

/// Bilinear sampling positions from full resolution `n` to low resolution `ln` (block
/// centres): for each full-resolution index, the two low-resolution indices and the weight
/// of the second.
fn bilinear_taps(n: usize, ln: usize) -> Vec<(usize, usize, f32)> {
    (0..n)
        .map(|x| {
            let u = ((x as f32 + 0.5) / BLOCK as f32 - 0.5).clamp(0.0, (ln - 1) as f32);
            let i0 = (u as usize).min(ln - 1);
            let i1 = (i0 + 1).min(ln - 1);
            (i0, i1, u - i0 as f32)
        })
        .collect()
}

/// The second full-resolution pass of Local: per pixel, the local log-gain
/// `a (log2 Y - centre) + b` with `a`, `b` interpolated bilinearly from low resolution and
/// clamped to `range`, mixed with the Global curve's `log2(T(Y) / Y)` by `strength`; all three
/// channels times `2^log-gain`, then [`hue_clip`].
fn apply_log_gain(
    isa: Isa,
    rgb: &mut [Plane<f32>; 3],
    [a, b]: [&Plane<f32>; 2],
    centre: f32,
    range: (f32, f32),
    global: Curve,
    strength: f32,
) {
    let w = rgb[0].width;
    let (lo, hi) = if range.0 <= range.1 {
        range
    } else {
        (0.0, 0.0)
    };
    // a and b interpolated horizontally to full width once per low-resolution row, cached
    // per task (tasks take consecutive rows, so each low-resolution row is widened about
    // once per task); the vertical interpolation is done per pixel from two such rows
    let xt = bilinear_taps(w, a.width);
    let yt = bilinear_taps(rgb[0].height, a.height);
    let consts = GainConsts {
        centre,
        lo,
        hi,
        global,
        strength,
    };
    par_rows3(rgb, w).enumerate().for_each_init(
        || WideRows::new(w),
        |cache, (y, [r, g, bl])| {
            let (j0, j1, fy) = yt[y];
            let coef = cache.pair([j0, j1], [a, b], &xt);
            gain_row(isa, [r, g, bl], coef, fy, consts);
        },
    );
}

/// Two slots of rows of `a` and `b` widened to full resolution, each remembering which
/// low-resolution row it holds.
struct WideRows {
    rows: [(usize, Vec<f32>, Vec<f32>); 2],
}

impl WideRows {
    fn new(w: usize) -> WideRows {
        WideRows {
            rows: std::array::from_fn(|_| (usize::MAX, vec![0.0; w], vec![0.0; w])),
        }
    }

    /// Rows `j0` and `j1` of `a` and `b`, widened: `[a0, a1, b0, b1]`. A row already held
    /// is kept (moving to the next row pair widens one new row).
    fn pair(
        &mut self,
        [j0, j1]: [usize; 2],
        [a, b]: [&Plane<f32>; 2],
        taps: &[(usize, usize, f32)],
    ) -> [&[f32]; 4] {
        if self.rows[0].0 != j0 && self.rows[1].0 == j0 {
            self.rows.swap(0, 1);
        }
        for (slot, j) in [(0, j0), (1, j1)] {
            let (held, wa, wb) = &mut self.rows[slot];
            if *held != j {
                for (out, row) in [(&mut *wa, a.row(j)), (&mut *wb, b.row(j))] {
                    for (o, &(i0, i1, fx)) in out.iter_mut().zip(taps) {
                        *o = row[i0] + fx * (row[i1] - row[i0]);
                    }
                }
                *held = j;
            }
        }
        let [(_, a0, b0), (_, a1, b1)] = &self.rows;
        [a0, a1, b0, b1]
    }
}

/// The per-call constants of [`gain_row`].
#[derive(Debug, Clone, Copy)]
struct GainConsts {
    /// Mean of the guide, subtracted from `log2 Y`.
    centre: f32,
    /// Range of the local log-gain.
    lo: f32,
    hi: f32,
    /// The Global curve and the share of the local log-gain (1: local only).
    global: Curve,
    strength: f32,
}

/// One row of [`apply_log_gain`]: `coef` holds the rows of `a` and `b` above and below,
/// `fy` the vertical interpolation weight.
#[inline(always)]
fn gain_row_body(rgb: [&mut [f32]; 3], coef: [&[f32]; 4], fy: f32, k: GainConsts) {
    if k.strength == 1.0 {
        gain_row_generic::<false>(rgb, coef, fy, k)
    } else {
        gain_row_generic::<true>(rgb, coef, fy, k)
    }
}

/// [`gain_row_body`]; `MIX` adds the Global curve's term (strength below 1).
#[inline(always)]
fn gain_row_generic<const MIX: bool>(
    [r, g, b]: [&mut [f32]; 3],
    [a0, a1, b0, b1]: [&[f32]; 4],
    fy: f32,
    k: GainConsts,
) {
    let floor = LOG2_FLOOR.exp2();
    let n = r.len();
    let (g, b) = (&mut g[..n], &mut b[..n]);
    let (a0, a1, b0, b1) = (&a0[..n], &a1[..n], &b0[..n], &b1[..n]);
    for x in 0..n {
        let (cr, cg, cb) = (clean(r[x]), clean(g[x]), clean(b[x]));
        let y = fmax(luminance(cr, cg, cb), floor);
        let l = fast_log2(y);
        let ac = a0[x] + fy * (a1[x] - a0[x]);
        let bc = b0[x] + fy * (b1[x] - b0[x]);
        let mut lg = fmin(fmax(ac * (l - k.centre) + bc, k.lo), k.hi);
        if MIX {
            let lg_global = fast_log2(k.global.apply(y)) - l;
            lg = lg_global + k.strength * (lg - lg_global);
        }
        let gain = fast_exp2(lg);
        [r[x], g[x], b[x]] = hue_clip(cr * gain, cg * gain, cb * gain);
    }
}

/// The Global mode's pass: all three channels times `T(Y) / Y`, then [`hue_clip`].
fn apply_curve(isa: Isa, rgb: &mut [Plane<f32>; 3], curve: Curve) {
    let w = rgb[0].width;
    par_rows3(rgb, w).for_each(|rows| curve_row(isa, rows, curve));
}

/// One row of [`apply_curve`].
#[inline(always)]
fn curve_row_body([r, g, b]: [&mut [f32]; 3], curve: Curve) {
    let floor = LOG2_FLOOR.exp2();
    let n = r.len();
    let (g, b) = (&mut g[..n], &mut b[..n]);
    for x in 0..n {
        let (cr, cg, cb) = (clean(r[x]), clean(g[x]), clean(b[x]));
        let l = luminance(cr, cg, cb);
        let gain = if l > floor { curve.apply(l) / l } else { 1.0 };
        [r[x], g[x], b[x]] = hue_clip(cr * gain, cg * gain, cb * gain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Rect;

    type Rgb = [Plane<f32>; 3];

    fn lum(rgb: &Rgb) -> Vec<f32> {
        (0..rgb[0].data.len())
            .map(|i| luminance(rgb[0].data[i], rgb[1].data[i], rgb[2].data[i]))
            .collect()
    }

    fn run(rgb: &Rgb, params: &ToneParams) -> Rgb {
        let mut out = rgb.clone();
        tone_map(&mut out, params);
        out
    }

    fn mode(mode: ToneMode) -> ToneParams {
        ToneParams {
            mode,
            ..ToneParams::default()
        }
    }

    fn local_with(rgb: &Rgb, upsampling: Upsampling) -> Rgb {
        let mut out = rgb.clone();
        local(Isa::detect(), &mut out, &ToneParams::default(), upsampling);
        out
    }

    /// Planes of `w x h` from a function giving luminance and the (luminance-1) colour.
    fn scene(w: usize, h: usize, f: impl Fn(usize, usize) -> (f32, [f32; 3])) -> Rgb {
        let mut rgb: Rgb = std::array::from_fn(|_| Plane::new(w, h));
        for y in 0..h {
            for x in 0..w {
                let (l, c) = f(x, y);
                let n = luminance(c[0], c[1], c[2]);
                for (p, c) in rgb.iter_mut().zip(c) {
                    p.set(x, y, l * c / n);
                }
            }
        }
        rgb
    }

    fn in_rect(r: Rect, x: usize, y: usize) -> bool {
        x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
    }

    /// The window (with its cross bar), the part of it measured (inside the frame, away from
    /// the bar) and the darkest corner of the room.
    const WINDOW: Rect = Rect::new(280, 40, 160, 160);
    const SHADOW: Rect = Rect::new(8, 210, 112, 102);

    fn in_bar(x: usize, y: usize) -> bool {
        (356..364).contains(&x) || (116..124).contains(&y)
    }

    fn window_interior(x: usize, y: usize) -> bool {
        in_rect(Rect::new(284, 44, 152, 152), x, y)
            && !((352..368).contains(&x) || (112..128).contains(&y))
    }

    /// A dark room with a bright window, 480 x 320. Room: 0.002 to 0.02 from left to right,
    /// ±20 % checker texture (8-pixel squares), warm. Window: 30 ±20 % (a sinusoid of period
    /// 16 pixels in x and y), blue-ish, crossed by a dark bar. 13.9 stops from the room's left
    /// side to the window.
    fn hdr_scene() -> Rgb {
        use std::f32::consts::TAU;
        scene(480, 320, |x, y| {
            if in_rect(WINDOW, x, y) && !in_bar(x, y) {
                let t = (TAU * x as f32 / 16.0).sin() * (TAU * y as f32 / 16.0).sin();
                (30.0 * (1.0 + 0.2 * t), [0.85, 1.0, 1.25])
            } else {
                let checker = if (x / 8 + y / 8) % 2 == 0 { 1.2 } else { 0.8 };
                let l = 0.002 * 10f32.powf(x as f32 / 480.0) * checker;
                (l, [1.15, 1.0, 0.8])
            }
        })
    }

    fn mean(v: impl Iterator<Item = f32>) -> f32 {
        let (s, n) = v.fold((0.0f64, 0usize), |(s, n), x| (s + x as f64, n + 1));
        (s / n.max(1) as f64) as f32
    }

    fn region<'a>(
        l: &'a [f32],
        w: usize,
        keep: impl Fn(usize, usize) -> bool + 'a,
    ) -> impl Iterator<Item = f32> + 'a {
        l.iter()
            .enumerate()
            .filter(move |(i, _)| keep(i % w, i / w))
            .map(|(_, &v)| v)
    }

    /// std / mean of luminance inside the window.
    fn window_contrast(rgb: &Rgb) -> f32 {
        let l = lum(rgb);
        let m = mean(region(&l, 480, window_interior));
        let var = mean(region(&l, 480, window_interior).map(|v| (v - m) * (v - m)));
        var.sqrt() / m
    }

    fn assert_valid(rgb: &Rgb, what: &str) {
        for p in rgb {
            assert!(
                p.data.iter().all(|v| (0.0..=1.0).contains(v)),
                "{what}: output outside [0, 1] or NaN"
            );
        }
    }

    #[test]
    fn fast_log2_and_exp2_match_the_standard_library() {
        let mut worst = (0.0f32, 0.0f32);
        for i in 0..200_000 {
            let x = -30.0 + 60.0 * i as f32 / 200_000.0;
            let e = (fast_exp2(x) - x.exp2()).abs() / x.exp2();
            let v = x.exp2();
            let l = (fast_log2(v) - v.log2()).abs();
            worst = (worst.0.max(e), worst.1.max(l));
        }
        assert!(worst.0 < 1e-5 && worst.1 < 1e-5, "{worst:?}");
        assert_eq!(fast_exp2(0.0), 1.0);
        assert_eq!(
            fast_exp2(f32::NAN).is_finite(),
            (-126f32).exp2().is_finite()
        );
        assert!(fast_exp2(1e9).is_finite() && fast_exp2(-1e9) >= 0.0);
    }

    #[test]
    fn mode_parses_and_params_validate() {
        for m in ToneMode::ALL {
            assert_eq!(m.name().parse::<ToneMode>().unwrap(), m);
        }
        assert_eq!(" LOCAL ".parse::<ToneMode>().unwrap(), ToneMode::Local);
        assert!("filmic".parse::<ToneMode>().is_err());
        assert_eq!(ToneMode::default(), ToneMode::Local);
        assert!(ToneParams::default().validate().is_ok());
        for bad in [
            ToneParams {
                strength: 1.5,
                ..Default::default()
            },
            ToneParams {
                strength: f32::NAN,
                ..Default::default()
            },
            ToneParams {
                max_gain: 0.5,
                ..Default::default()
            },
            ToneParams {
                shadow_key: 0.0,
                ..Default::default()
            },
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains("allowed"), "{e}");
        }
    }

    #[test]
    fn none_is_a_clip() {
        let p = Plane::from_vec(5, 1, vec![-1.0, 0.25, 2.0, f32::NAN, f32::INFINITY]).unwrap();
        let out = run(&[p.clone(), p.clone(), p], &mode(ToneMode::None));
        assert_eq!(out[1].data, vec![0.0, 0.25, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn global_curve_is_identity_below_the_knee_and_maps_the_highlight_to_1() {
        for (w, h) in [
            (0.5f32, 1.0),
            (1.0, 1.0),
            (1.5, 1.0),
            (36.0, 1.0),
            (1e6, 1.0),
            (30.0, 0.8),
        ] {
            let c = Curve::new(w, h);
            assert!((c.apply(0.18) - 0.18).abs() < 1e-7);
            assert!((c.apply(w.max(h)) - h).abs() < 1e-5, "w {w} h {h}");
            let mut prev = 0.0;
            for i in 1..2000 {
                let y = (i as f32 * 0.01).exp2() * 1e-3;
                let t = c.apply(y);
                assert!(t >= prev && t <= y, "w {w} y {y}");
                prev = t;
            }
        }
    }

    #[test]
    fn global_is_monotone_in_luminance_on_a_ramp() {
        // 20 stops, 1024 x 4, neutral, and a second copy in colour
        for colour in [[1.0, 1.0, 1.0], [1.3, 1.0, 0.5]] {
            let rgb = scene(1024, 4, |x, _| {
                ((x as f32 / 1024.0 * 20.0 - 14.0).exp2(), colour)
            });
            let out = run(&rgb, &mode(ToneMode::Global));
            assert_valid(&out, "global ramp");
            let l = lum(&out);
            for x in 1..1024 {
                assert!(l[x] >= l[x - 1], "x {x}: {} < {}", l[x], l[x - 1]);
            }
            assert!(l[1023] > 0.99);
            // mid-tones untouched: input 2^-4 ~ 0.0625 at x = 512
            assert!((l[512] - lum(&rgb)[512]).abs() < 1e-6);
        }
    }

    #[test]
    fn local_lifts_shadows_and_keeps_window_detail() {
        let rgb = hdr_scene();
        let global = run(&rgb, &mode(ToneMode::Global));
        let local = run(&rgb, &ToneParams::default());
        assert_valid(&local, "local");
        let shadow = |o: &Rgb| mean(region(&lum(o), 480, |x, y| in_rect(SHADOW, x, y)));
        let lift = shadow(&local) / shadow(&global);
        // a window pixel is white when every channel is at 1
        let clipped = |o: &Rgb| {
            let n = (0..o[0].data.len())
                .filter(|&i| window_interior(i % 480, i / 480))
                .filter(|&i| o.iter().all(|p| p.data[i] >= 0.999))
                .count();
            n as f32 / (152.0 * 152.0 - 16.0 * 152.0 * 2.0)
        };
        let (c_in, c_local, c_global) = (
            window_contrast(&rgb),
            window_contrast(&local),
            window_contrast(&global),
        );
        eprintln!(
            "shadow lift {lift:.2}x (local {:.4}, global {:.4}); window white: local {:.4}, \
             global {:.4}; window contrast: input {c_in:.3}, local {c_local:.3}, \
             global {c_global:.4}",
            shadow(&local),
            shadow(&global),
            clipped(&local),
            clipped(&global)
        );
        assert!(lift >= 3.0, "shadow lift {lift}");
        assert!(clipped(&local) < 0.01);
        // the Global curve flattens the window: the bar the local result must clear is one
        // the global one fails
        assert!(c_local > 0.04 && c_global < 0.04, "{c_local} {c_global}");
    }

    /// Mertens' own blend, for comparison: Laplacian pyramids of the encoded exposures of the
    /// low-resolution grey image (not of its base layer), blended by Gaussian pyramids of
    /// their normalised weights, to full depth (1 x 1); returns the log-gain map.
    fn pyramid_fusion_log_gain(logy: &Plane<f32>, curve: &BaseCurve) -> Plane<f32> {
        use crate::finish::filter::{pyramid_expand, pyramid_reduce};
        let (w, h) = (logy.width, logy.height);
        let exposures: Vec<(Plane<f32>, Plane<f32>)> = curve
            .stops
            .iter()
            .map(|&s| {
                let (mut u, mut wt) = (logy.clone(), logy.clone());
                for (i, &l) in logy.data.iter().enumerate() {
                    (u.data[i], wt.data[i]) = curve.exposure(l, s);
                }
                (u, wt)
            })
            .collect();
        let mut sizes = vec![(w, h)];
        while let Some(&(sw, sh)) = sizes.last().filter(|&&(sw, sh)| sw > 1 || sh > 1) {
            sizes.push((sw.div_ceil(2), sh.div_ceil(2)));
        }
        let mut acc: Vec<Plane<f32>> = sizes.iter().map(|&(sw, sh)| Plane::new(sw, sh)).collect();
        for (enc, wt) in &exposures {
            let mut g = enc.clone();
            let mut wg = wt.clone();
            for (i, v) in wg.data.iter_mut().enumerate() {
                *v /= exposures.iter().map(|e| e.1.data[i]).sum::<f32>();
            }
            let last = sizes.len() - 1;
            for level in acc.iter_mut().take(last) {
                let (gn, wn) = (pyramid_reduce(&g), pyramid_reduce(&wg));
                let up = pyramid_expand(&gn, g.width, g.height);
                for i in 0..level.data.len() {
                    level.data[i] += wg.data[i] * (g.data[i] - up.data[i]);
                }
                (g, wg) = (gn, wn);
            }
            acc[last].data[0] += wg.data[0] * g.data[0];
        }
        let mut fused = acc.pop().unwrap();
        while let Some(level) = acc.pop() {
            fused = pyramid_expand(&fused, level.width, level.height);
            fused
                .data
                .iter_mut()
                .zip(&level.data)
                .for_each(|(f, d)| *f += d);
        }
        let mut lg = fused;
        lg.data
            .iter_mut()
            .zip(&logy.data)
            .for_each(|(f, &l)| *f = GAMMA * fast_log2(f.max(1e-30)) - l);
        lg
    }

    /// Local with the base-layer blend replaced by [`pyramid_fusion_log_gain`].
    fn local_pyramid(rgb: &Rgb) -> Rgb {
        let mut out = rgb.clone();
        let stats = block_stats(Isa::detect(), &out);
        let peak = highlight_level(&stats.peak);
        let global = Curve::new(peak, 1.0);
        let curve = BaseCurve::new(peak, &stats.logy, &stats.logy, 8.0, 0.18);
        let lg = pyramid_fusion_log_gain(&stats.logy, &curve);
        let range = lg
            .data
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let (a, b, centre) = guided_coefficients(&stats.logy, &lg, &stats.spread);
        apply_log_gain(
            Isa::detect(),
            &mut out,
            [&a, &b],
            centre,
            range,
            global,
            1.0,
        );
        out
    }

    /// Two flat areas, 0.001 and 0.5 (9 stops apart, so the shadows get the full lift), with
    /// a sharp vertical edge at x = 402 (not on a block boundary), 800 x 200. Returns the largest deviation of the column-mean luminance from
    /// each side's plateau (columns 60..140 and 660..740), relative to the plateau, over
    /// 60..740.
    fn halo(method: &str) -> (f32, Rgb) {
        let (w, edge) = (800, 402);
        let rgb = scene(w, 200, |x, _| {
            (if x < edge { 0.001 } else { 0.5 }, [1.0; 3])
        });
        let out = match method {
            "edge-aware" => local_with(&rgb, Upsampling::EdgeAware),
            "bilinear" => local_with(&rgb, Upsampling::Bilinear),
            _ => local_pyramid(&rgb),
        };
        let l = lum(&out);
        let profile: Vec<f32> = (0..w)
            .map(|x| mean((0..200).map(|y| l[y * w + x])))
            .collect();
        let dark = mean(profile[60..140].iter().copied());
        let bright = mean(profile[660..740].iter().copied());
        let dev = (60..740)
            .map(|x| {
                let plateau = if x < edge { dark } else { bright };
                (profile[x] - plateau).abs() / plateau
            })
            .fold(0.0, f32::max);
        eprintln!(
            "{method}: plateaus {dark:.4} {bright:.4} (input 0.001 0.5), worst deviation \
             {:.1} %",
            100.0 * dev
        );
        (dev, out)
    }

    #[test]
    fn edge_aware_upsampling_prevents_halos_baselines_do_not() {
        let (edge_aware, _) = halo("edge-aware");
        let (bilinear, _) = halo("bilinear");
        let (pyramid, _) = halo("pyramid");
        assert!(edge_aware < 0.05, "edge-aware: {edge_aware}");
        assert!(bilinear > 0.05, "bilinear: {bilinear}");
        assert!(pyramid > 0.05, "pyramid: {pyramid}");
    }

    /// The largest fall of `f` over a fine sweep of 30 stops, relative to the highest value
    /// before it: 0 for a non-decreasing curve.
    fn largest_fall(f: impl Fn(f32) -> f32) -> f32 {
        let mut top = f32::MIN;
        let mut fall = 0.0f32;
        for i in 0..6000 {
            let v = f(-22.0 + 30.0 * i as f32 / 6000.0);
            top = top.max(v);
            fall = fall.max(1.0 - (v - top).exp2());
        }
        fall
    }

    #[test]
    fn base_curve_is_monotone_with_spaced_exposures_not_with_a_3_stop_gap() {
        let mut worst_gap = 0.0f32;
        for (white, h) in [(0.3f32, 1.0f32), (1.0, 1.0), (30.0, 0.83), (1e3, 0.5)] {
            for g in [1.0f32, 2.0, 4.0, 8.0, 64.0] {
                let n = (g.log2() / MAX_STEP_STOPS).ceil() as usize + 1;
                let curve = BaseCurve {
                    stops: (0..n)
                        .map(|i| g.log2() * i as f32 / (n - 1).max(1) as f32)
                        .collect(),
                    shoulder: Curve::new(white, h),
                };
                let fall = largest_fall(|l| curve.log2_apply(l));
                assert!(fall < 1e-4, "white {white} h {h} gain {g}: falls by {fall}");
                if g == 8.0 {
                    // HDR+'s two exposures, 3 stops apart
                    let two = BaseCurve {
                        stops: vec![0.0, 3.0],
                        shoulder: Curve::new(white, h),
                    };
                    worst_gap = worst_gap.max(largest_fall(|l| two.log2_apply(l)));
                }
            }
        }
        eprintln!("two exposures 3 stops apart: flat areas fall by up to {worst_gap}");
        assert!(worst_gap > 0.1, "{worst_gap}");
    }

    #[test]
    fn strength_zero_is_global_and_strength_is_continuous() {
        let rgb = hdr_scene();
        let global = run(&rgb, &mode(ToneMode::Global));
        let at = |strength: f32| {
            let out = run(
                &rgb,
                &ToneParams {
                    strength,
                    ..ToneParams::default()
                },
            );
            // mean absolute difference from Global, after a 1 / 2.2 encode
            let enc = |v: f32| v.powf(1.0 / 2.2);
            mean((0..3).flat_map(|c| {
                let (g, o) = (&global[c].data, &out[c].data);
                (0..g.len()).map(move |i| (enc(g[i]) - enc(o[i])).abs())
            }))
        };
        let (d0, d_small, d1) = (at(0.0), at(0.01), at(1.0));
        eprintln!("distance from Global: strength 0 {d0}, 0.01 {d_small}, 1 {d1}");
        assert!(d0 < 1e-6, "{d0}");
        assert!(d_small < 0.02 * d1 && d1 > 0.05, "{d_small} {d1}");
    }

    #[test]
    fn every_instruction_set_gives_identical_output() {
        let mut rgb = hdr_scene();
        rgb[0].data[1234] = f32::NAN;
        rgb[2].data[4321] = -3.0;
        for m in ToneMode::ALL {
            for strength in [1.0, 0.4] {
                let p = ToneParams {
                    mode: m,
                    strength,
                    ..ToneParams::default()
                };
                let mut base = rgb.clone();
                tone_map_with(Isa::baseline(), &mut base, &p);
                for isa in Isa::supported() {
                    let mut out = rgb.clone();
                    tone_map_with(isa, &mut out, &p);
                    assert!(out == base, "{isa:?} {m} {strength}");
                }
            }
        }
    }

    #[test]
    fn local_keeps_colour_ratios_and_neutrals() {
        let rgb = hdr_scene();
        let out = run(&rgb, &ToneParams::default());
        let mut checked = 0;
        for i in 0..rgb[0].data.len() {
            let o = [0, 1, 2].map(|c| out[c].data[i]);
            if o.iter().all(|&v| v > 1e-4 && v < 0.999) {
                let ratio = |c: usize| (o[c] / o[1]) / (rgb[c].data[i] / rgb[1].data[i]);
                assert!((ratio(0) - 1.0).abs() < 1e-4 && (ratio(2) - 1.0).abs() < 1e-4);
                checked += 1;
            }
        }
        assert!(checked > rgb[0].data.len() / 2, "{checked}");
        let grey = {
            let l = lum(&rgb);
            let p = Plane::from_vec(480, 320, l).unwrap();
            [p.clone(), p.clone(), p]
        };
        for m in ToneMode::ALL {
            let out = run(&grey, &mode(m));
            assert!(out[0] == out[1] && out[1] == out[2], "{m}");
        }
    }

    #[test]
    fn extreme_inputs_give_finite_output_in_range() {
        let mut sprinkled = hdr_scene();
        for (i, v) in sprinkled[1].data.iter_mut().enumerate().step_by(97) {
            *v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -5.0, 1e30][i % 5];
        }
        let random = |w: usize, h: usize| -> Rgb {
            std::array::from_fn(|c| {
                let mut p = crate::finish::filter::tests::random_plane(w, h, c as u64 + 7);
                p.data
                    .iter_mut()
                    .for_each(|v| *v = (*v * 20.0 - 4.0).exp2() - 0.01);
                p
            })
        };
        let flat = |w: usize, h: usize, v: f32| -> Rgb {
            std::array::from_fn(|_| Plane::from_vec(w, h, vec![v; w * h]).unwrap())
        };
        let cases: Vec<(&str, Rgb)> = vec![
            ("zero", flat(37, 23, 0.0)),
            ("1e6", flat(37, 23, 1e6)),
            ("negative", flat(9, 9, -0.5)),
            ("sprinkled", sprinkled),
            ("1x1", random(1, 1)),
            ("2x2", random(2, 2)),
            ("3x5", random(3, 5)),
            ("1x40", random(1, 40)),
            ("odd", random(61, 19)),
        ];
        for (name, rgb) in &cases {
            for m in ToneMode::ALL {
                for strength in [0.0, 0.5, 1.0] {
                    let p = ToneParams {
                        mode: m,
                        strength,
                        ..ToneParams::default()
                    };
                    assert_valid(&run(rgb, &p), &format!("{name} {m} {strength}"));
                }
            }
        }
        for m in [ToneMode::Global, ToneMode::Local] {
            let white = run(&cases[1].1, &mode(m));
            assert!(
                white.iter().all(|p| p.data.iter().all(|&v| v > 0.999)),
                "{m}"
            );
        }
        let black = run(&cases[0].1, &ToneParams::default());
        assert!(black.iter().all(|p| p.data.iter().all(|&v| v == 0.0)));
        // out-of-range parameters are clamped, not trusted
        let wild = ToneParams {
            strength: f32::NAN,
            max_gain: 1e9,
            shadow_key: -1.0,
            ..ToneParams::default()
        };
        assert_valid(&run(&hdr_scene(), &wild), "wild params");
        let mut empty: Rgb = Default::default();
        tone_map(&mut empty, &ToneParams::default());
    }

    /// With `OBSCURA_TONE_PNG=<dir>`, writes the test scenes through each mode as sRGB PNGs
    /// for inspection.
    #[test]
    fn render_for_inspection() {
        let Some(dir) = std::env::var_os("OBSCURA_TONE_PNG") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        let save = |name: &str, rgb: &Rgb| {
            let (w, h) = (rgb[0].width, rgb[0].height);
            let bytes: Vec<u8> = (0..w * h)
                .flat_map(|i| rgb.iter().map(move |p| p.data[i]))
                .map(|v| (crate::color::srgb_encode(v) * 255.0).round() as u8)
                .collect();
            image::RgbImage::from_raw(w as u32, h as u32, bytes)
                .unwrap()
                .save(dir.join(name))
                .unwrap();
        };
        let rgb = hdr_scene();
        save("hdr_none.png", &run(&rgb, &mode(ToneMode::None)));
        save("hdr_global.png", &run(&rgb, &mode(ToneMode::Global)));
        save("hdr_local.png", &run(&rgb, &ToneParams::default()));
        save(
            "hdr_local_bilinear.png",
            &local_with(&rgb, Upsampling::Bilinear),
        );
        save("hdr_local_pyramid.png", &local_pyramid(&rgb));
        for m in ["edge-aware", "bilinear", "pyramid"] {
            save(&format!("halo_{m}.png"), &halo(m).1);
        }
    }
}
