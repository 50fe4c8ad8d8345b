//! Kernel-regression merge: the raw Bayer samples of every frame accumulated straight onto the
//! output RGB grid, at 1x or as super-resolution.
//!
//! # Algorithm
//! Wronski et al., "Handheld Multi-Frame Super-Resolution" (SIGGRAPH 2019), sections 4-5,
//! with the changes noted below.
//! 1. **Local structure** of the reference: a half-resolution luma (the mean of each 2x2
//!    Bayer quad), its gradients by central differences and their structure tensor smoothed
//!    over 3x3. The eigenvalues `l1 >= l2` and the gradient direction `e1` give, per
//!    half-resolution pixel, an anisotropic Gaussian kernel:
//!    - anisotropy `A = sqrt((l1 - l2) / (l1 + l2))` in [0, 1];
//!    - along the edge (perpendicular to `e1`) the standard deviation is
//!      `k_detail (1 + (stretch - 1) A)`, across it `k_detail / (1 + (shrink - 1) A)`. (The
//!      paper multiplies by `stretch` and divides by `shrink` even where `A = 0`, which makes
//!      isotropic texture anisotropic in an arbitrary direction; here a structure without
//!      orientation gets a round kernel.)
//!    - **flatness** `D` blends towards a wide round kernel of `k_detail * denoise`: `D = 1`
//!      where the gradient (`sqrt(l1)`) is at the level noise alone gives it, falling
//!      linearly to 0 at `detail_threshold` times that level. The noise level comes from
//!      the noise model at the local brightness, so the kernels are tuned by the noise, as
//!      the paper tunes `D_th`/`D_tr` per ISO.
//! 2. **Robustness** per alternate frame and half-resolution pixel: the 3x3 local means of
//!    the reference's and the aligned alternate's quads are compared per colour, against the
//!    noise the difference of two such means has (from the noise model) plus a share of
//!    the reference's local spread (so aliasing that differs between frames is not taken
//!    for motion): `z^2 = mean_c d_c^2 / (noise_c + (spread * sd_c)^2)`,
//!    `R = clamp(scale * exp(-z^2 / 2) - threshold, 0, 1)`, then the minimum over 5x5
//!    (suppresses ghost fringes), as the paper does. Where the alignment says the area moves
//!    with its surroundings (the paper's local motion prior, here from the tiles' distance to
//!    their neighbourhood's smooth motion and their match quality), differences are mostly
//!    aliasing: the tolerance there is a share of the standard deviation of the reference's
//!    photosites, and colour differences do not count ([`KernelParams::steady_spread`]).
//! 3. **Accumulation** (normalised convolution): each output pixel `p` (reference
//!    coordinates) is carried into frame `n` by the alignment field, `q = p + d(p)`; the 3x3
//!    photosites around `q` each add `w = exp(-1/2 t' K^-1 t) R_n(p) / var_n` times their
//!    value, in the reference's exposure, to their own colour's sum, `t` their offset from
//!    `q` and `K` the kernel at `p`. `var_n` is the sample's noise variance in the
//!    reference's units (`g S x + g^2 O` for a frame exposed `1/g` as long), so in a bracket
//!    long frames carry the shadows and short ones the highlights. Clipped photosites get
//!    no weight; the reference's own clipped photosites keep a vanishing weight so that a
//!    colour no frame saw unclipped stays at the clip level. The reference's samples take
//!    part like any frame's with `R = 1`: they anchor the result.
//! 4. **Spatial denoise** of each merged channel (the Wiener tile shrinkage of the FFT
//!    merge), driven by the noise each output pixel has left: `sum w^2 var / (sum w)^2`.
//!
//! The result is linear camera RGB at `scale` times the merge area's size.
//!
//! # Implementation notes
//! Everything per frame is computed at half resolution except the accumulation, which runs
//! over output rows in parallel; each output row reads the alignment field interpolated for
//! its own positions.

mod splat;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::noise::{FrameNoise, noise_model};
use super::warp::Field;
use super::wiener::{Padded, spatial_denoise};
use super::{CLIP_LEVEL, merge_area};
use crate::align::Alignment;
use crate::cpu::{Isa, kernels};
use crate::error::{Error, Result};
use crate::image::{Cfa, Channel, Plane, Rect};
use crate::raw::{GainMap, Opcode, RawFrame};
use splat::{Prepared, SUMS, splat};

/// Parameters of the kernel-regression merge ([`super::MergeMethod::Kernel`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KernelParams {
    /// Kernel standard deviation in detailed areas, input pixels, 0.1 to 2; default 0.25.
    /// Higher: smoother and less noisy, less resolution.
    pub detail: f32,
    /// Kernel width in flat areas as a multiple of `detail`, 1 to 10; default 1.75. Higher:
    /// stronger denoising of flat areas.
    pub denoise: f32,
    /// Elongation along edges at full anisotropy, 1 to 8; default 2.
    pub stretch: f32,
    /// Narrowing across edges at full anisotropy, 1 to 8; default 1.5.
    pub shrink: f32,
    /// Gradient, in multiples of the level noise alone gives, at which an area counts as
    /// fully detailed (no flat-area widening), 1.5 to 200; default 40: the kernel narrows
    /// gradually from `detail * denoise` at the noise level to `detail` there.
    pub detail_threshold: f32,
    /// Spatial denoising strength of the merged channels, 0 (off) to 10; default 3.
    /// Higher: smoother, softer fine detail.
    pub spatial_denoise: f32,
    /// Robustness: share of the reference's local spread tolerated as a difference, 0 to 4;
    /// default 0.5. Higher: more tolerant of aliasing and misalignment, more ghost risk.
    pub spread: f32,
    /// Kernel size of red and blue relative to green, 1 to 3; default 1.4: red and blue
    /// photosites are half as dense as green ones.
    pub chroma_size: f32,
    /// Whether red and blue are merged as white-balanced differences to the green (default
    /// true): sharper colour edges on natural scenes; off, each colour is merged from its
    /// own photosites alone.
    pub color_difference: bool,
    /// Robustness where the alignment shows the area moving with its surroundings (every
    /// tile around [`Alignment::steady`]): share of the standard deviation of the
    /// reference's photosites in the 3x3 quads tolerated as a difference, 0 to 8; default 2.
    /// There, differences between frames are mostly aliasing (fine detail sampled at other
    /// phases), not motion.
    pub steady_spread: f32,
    /// Robustness in such steady areas: weight of colour differences, 0 to 1; default 0
    /// (aliasing gives every frame its own false colour).
    pub steady_chroma_weight: f32,
    /// Robustness: multiple of the noise variance a difference of local means is compared
    /// with, 1 to 100; default 16. Higher: fewer rejections from noise alone.
    pub noise_tolerance: f32,
    /// Robustness: weight of colour differences next to brightness differences, 0 to 1;
    /// default 0.2. Lower: more tolerant of the false colour aliasing gives each frame, blinder
    /// to a moving object that differs from the background by its colour.
    pub chroma_weight: f32,
    /// Robustness scale `s` of `clamp(s exp(-z^2/2) - t, 0, 1)`, 1 to 10; default 2.
    pub robust_scale: f32,
    /// Robustness threshold `t`, 0 to 1; default 0.12.
    pub robust_threshold: f32,
    /// Whether alternate frames are weighed by robustness at all (default true); off, the
    /// merge ghosts wherever something moved (a baseline for tests).
    pub robust: bool,
}

impl Default for KernelParams {
    fn default() -> Self {
        KernelParams {
            detail: 0.25,
            denoise: 1.75,
            stretch: 2.0,
            shrink: 1.5,
            detail_threshold: 40.0,
            spatial_denoise: 3.0,
            spread: 0.5,
            steady_spread: 2.0,
            steady_chroma_weight: 0.0,
            noise_tolerance: 16.0,
            color_difference: true,
            chroma_weight: 0.2,
            chroma_size: 1.4,
            robust_scale: 2.0,
            robust_threshold: 0.12,
            robust: true,
        }
    }
}

impl KernelParams {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, v: f32, lo: f32, hi: f32| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Error::parameter(
                    name,
                    format!("{v} (allowed: {lo} to {hi})"),
                ))
            }
        };
        check("kernel.detail", self.detail, 0.1, 2.0)?;
        check("kernel.denoise", self.denoise, 1.0, 10.0)?;
        check("kernel.stretch", self.stretch, 1.0, 8.0)?;
        check("kernel.shrink", self.shrink, 1.0, 8.0)?;
        check("kernel.detail_threshold", self.detail_threshold, 1.5, 200.0)?;
        check("kernel.spatial_denoise", self.spatial_denoise, 0.0, 10.0)?;
        check("kernel.spread", self.spread, 0.0, 4.0)?;
        check("kernel.steady_spread", self.steady_spread, 0.0, 8.0)?;
        check(
            "kernel.steady_chroma_weight",
            self.steady_chroma_weight,
            0.0,
            1.0,
        )?;
        check("kernel.chroma_size", self.chroma_size, 1.0, 3.0)?;
        check("kernel.noise_tolerance", self.noise_tolerance, 1.0, 100.0)?;
        check("kernel.chroma_weight", self.chroma_weight, 0.0, 1.0)?;
        check("kernel.robust_scale", self.robust_scale, 1.0, 10.0)?;
        check("kernel.robust_threshold", self.robust_threshold, 0.0, 1.0)?;
        Ok(())
    }
}

/// Largest output scale.
pub const MAX_SCALE: f32 = 3.0;

/// Weight given to the reference's clipped photosites (next to 1 for usable ones): enough to
/// fill a colour nothing else saw, too little to pull a recovered highlight.
const CLIPPED_WEIGHT: f32 = 1e-6;

/// Least robustness of a shorter alternate frame where the reference is clipped: far above
/// [`CLIPPED_WEIGHT`], so the frames that saw the highlight make it, and low enough that an
/// unrejected alternate still outweighs a rejected one there.
const CLIPPED_ROBUSTNESS: f32 = 0.05;

/// Largest exponent (base 2) of a kernel weight: beyond it weights stay at 2^-100 rather than
/// underflowing, so a pixel whose samples all lie far across a narrow kernel still averages
/// them instead of dividing by zero.
const MAX_EXPONENT: f32 = 100.0;

/// Per half-resolution pixel: the reference's quad colours (R, G, B), their 3x3 means and
/// spreads, and a clipped-colour mask.
struct Quads {
    w: usize,
    h: usize,
    /// 3x3 mean per colour.
    mean: [Vec<f32>; 3],
    /// Standard deviation per colour of the photosites in the 3x3 quads (empty unless asked
    /// for: only the reference's is used).
    sd: [Vec<f32>; 3],
    /// Bit c set where colour c has a photosite at or above the clip level in the 3x3
    /// neighbourhood.
    clipped: Vec<u8>,
}

impl Quads {
    /// The quads of `mosaic` inside `area` (even size), scaled by `g`; with `with_sd`, also
    /// the photosites' local standard deviations ([`Quads::sd`]).
    fn new(
        mosaic: &Plane<f32>,
        area: Rect,
        cfa: Cfa,
        g: f32,
        with_sd: bool,
    ) -> (Quads, [Vec<f32>; 3]) {
        let (w, h) = (area.width / 2, area.height / 2);
        // positions of R, the two Gs and B within a quad
        let mut pos = [[0usize; 2]; 4];
        let mut next_green = 1;
        for &(px, py) in super::POSITIONS.iter() {
            let slot = match cfa.color_at(px, py) {
                Channel::R => 0,
                Channel::B => 3,
                Channel::G => {
                    next_green += 1;
                    next_green - 1
                }
            };
            pos[slot] = [px, py];
        }
        let mut raw: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0; w * h]);
        let mut clip = vec![0u8; w * h];
        {
            let [r, gg, b] = &mut raw;
            r.par_chunks_mut(w)
                .zip(gg.par_chunks_mut(w))
                .zip(b.par_chunks_mut(w))
                .zip(clip.par_chunks_mut(w))
                .enumerate()
                .for_each(|(y, (((r, gg), b), cl))| {
                    let row = |py: usize| mosaic.row(area.y + 2 * y + py);
                    let rows = [row(0), row(1)];
                    let at = |p: [usize; 2], x: usize| rows[p[1]][area.x + 2 * x + p[0]];
                    for x in 0..w {
                        let (vr, g1, g2, vb) =
                            (at(pos[0], x), at(pos[1], x), at(pos[2], x), at(pos[3], x));
                        r[x] = vr * g;
                        gg[x] = 0.5 * (g1 + g2) * g;
                        b[x] = vb * g;
                        cl[x] = u8::from(vr >= CLIP_LEVEL)
                            | (u8::from(g1 >= CLIP_LEVEL || g2 >= CLIP_LEVEL) << 1)
                            | (u8::from(vb >= CLIP_LEVEL) << 2);
                    }
                });
        }
        let mean = raw.each_ref().map(|p| box3(p, w, h));
        // the photosites' spread: 3x3 means of their squares (green: of both photosites')
        let sd: [Vec<f32>; 3] = if with_sd {
            std::array::from_fn(|c| {
                let mut sq = vec![0.0f32; w * h];
                sq.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
                    let rows = [mosaic.row(area.y + 2 * y), mosaic.row(area.y + 2 * y + 1)];
                    let at = |p: [usize; 2], x: usize| g * rows[p[1]][area.x + 2 * x + p[0]];
                    for (x, v) in out.iter_mut().enumerate() {
                        *v = match c {
                            0 => at(pos[0], x).powi(2),
                            2 => at(pos[3], x).powi(2),
                            _ => 0.5 * (at(pos[1], x).powi(2) + at(pos[2], x).powi(2)),
                        };
                    }
                });
                let mut m2 = box3(&sq, w, h);
                m2.par_iter_mut()
                    .zip(mean[c].par_iter())
                    .for_each(|(v, &m)| *v = (*v - m * m).max(0.0).sqrt());
                m2
            })
        } else {
            Default::default()
        };
        let clipped = or3(&clip, w, h);
        (
            Quads {
                w,
                h,
                mean,
                sd,
                clipped,
            },
            raw,
        )
    }
}

/// 3x3 box mean with clamped borders.
fn box3(p: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut tmp = vec![0.0f32; w * h];
    tmp.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let row = &p[y * w..(y + 1) * w];
        for x in 0..w {
            let (a, c) = (row[x.saturating_sub(1)], row[(x + 1).min(w - 1)]);
            out[x] = a + row[x] + c;
        }
    });
    let mut out = vec![0.0f32; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
        let (a, b, c) = (
            &tmp[y.saturating_sub(1) * w..][..w],
            &tmp[y * w..][..w],
            &tmp[(y + 1).min(h - 1) * w..][..w],
        );
        for x in 0..w {
            o[x] = (a[x] + b[x] + c[x]) * (1.0 / 9.0);
        }
    });
    out
}

/// Bitwise OR over 3x3, clamped borders.
fn or3(p: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = vec![0u8; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
        for (x, v) in o.iter_mut().enumerate() {
            let mut acc = 0;
            for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    acc |= p[yy * w + xx];
                }
            }
            *v = acc;
        }
    });
    out
}

/// Minimum over a (2r+1)^2 window, clamped borders, separable.
fn min_filter(p: &mut [f32], w: usize, h: usize, r: usize) {
    let mut tmp = vec![0.0f32; w * h];
    tmp.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let row = &p[y * w..(y + 1) * w];
        for x in 0..w {
            out[x] = row[x.saturating_sub(r)..=(x + r).min(w - 1)]
                .iter()
                .copied()
                .fold(f32::INFINITY, f32::min);
        }
    });
    p.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        for (x, v) in out.iter_mut().enumerate() {
            let mut m = f32::INFINITY;
            for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                m = m.min(tmp[yy * w + x]);
            }
            *v = m;
        }
    });
}

/// Bilinear sample of a `w` x `h` grid at index position (`x`, `y`), clamped.
#[inline]
fn bilinear(p: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = p[y0 * w + x0] + (p[y0 * w + x1] - p[y0 * w + x0]) * fx;
    let bot = p[y1 * w + x0] + (p[y1 * w + x1] - p[y1 * w + x0]) * fx;
    top + (bot - top) * fy
}

/// The inverse kernel covariance per half-resolution pixel of the reference, as the
/// coefficients `[a, b, c]` of the exponent `-(a tx^2 + 2 b tx ty + c ty^2)` of base 2
/// (`-1/2 log2(e)` folded in), `t` in input pixels.
fn kernels(
    raw: &[Vec<f32>; 3],
    w: usize,
    h: usize,
    noise: &FrameNoise,
    p: &KernelParams,
) -> Vec<[f32; 3]> {
    // luma: the quad mean (R + 2G + B) / 4, and the variance noise gives it
    let luma: Vec<f32> = (0..w * h)
        .into_par_iter()
        .map(|i| 0.25 * (raw[0][i] + 2.0 * raw[1][i] + raw[2][i]))
        .collect();
    let at = |x: isize, y: isize| {
        luma[(y.clamp(0, h as isize - 1) as usize) * w + x.clamp(0, w as isize - 1) as usize]
    };
    // gradients (half-resolution pixels), then the tensor's products
    let mut t: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0; w * h]);
    {
        let [xx, xy, yy] = &mut t;
        xx.par_chunks_mut(w)
            .zip(xy.par_chunks_mut(w))
            .zip(yy.par_chunks_mut(w))
            .enumerate()
            .for_each(|(y, ((xx, xy), yy))| {
                let y = y as isize;
                for x in 0..w {
                    let xi = x as isize;
                    let gx = 0.5 * (at(xi + 1, y) - at(xi - 1, y));
                    let gy = 0.5 * (at(xi, y + 1) - at(xi, y - 1));
                    xx[x] = gx * gx;
                    xy[x] = gx * gy;
                    yy[x] = gy * gy;
                }
            });
    }
    let t = t.map(|p| box3(&p, w, h));
    let (sr, sg, sb) = (noise.channels[0], noise.channels[1], noise.channels[2]);
    let half_log2e = 0.5 * std::f32::consts::LOG2_E;
    (0..w * h)
        .into_par_iter()
        .map(|i| {
            let (a, b, c) = (t[0][i], t[1][i], t[2][i]);
            // eigenvalues of [[a, b], [b, c]]
            let tr = a + c;
            let disc = ((a - c) * (a - c) + 4.0 * b * b).sqrt();
            let l1 = 0.5 * (tr + disc);
            let l2 = (0.5 * (tr - disc)).max(0.0);
            let aniso = if l1 + l2 > 0.0 {
                ((l1 - l2) / (l1 + l2)).max(0.0).sqrt()
            } else {
                0.0
            };
            // gradient direction e1
            let (ex, ey) = if disc > 0.0 {
                let (vx, vy) = (2.0 * b, c - a + disc);
                let n = (vx * vx + vy * vy).sqrt();
                if n > 0.0 {
                    (vx / n, vy / n)
                } else {
                    (1.0, 0.0)
                }
            } else {
                (1.0, 0.0)
            };
            // noise of one gradient component: var(luma) / 2
            let x = f64::from(luma[i].max(0.0));
            let var = |m: crate::raw::NoiseModel| (m.scale * x + m.offset) as f32;
            let var_luma = (var(sr) + 2.0 * var(sg) + var(sb)) / 16.0;
            let sigma_g = (0.5 * var_luma).sqrt().max(1e-6);
            let ratio = l1.sqrt() / sigma_g;
            let flat = (1.0 - (ratio - 1.0) / (p.detail_threshold - 1.0)).clamp(0.0, 1.0);
            let across = p.detail / (1.0 + (p.shrink - 1.0) * aniso);
            let along = p.detail * (1.0 + (p.stretch - 1.0) * aniso);
            let wide = p.detail * p.denoise;
            let k1 = (1.0 - flat) * across + flat * wide; // along e1 (across the edge)
            let k2 = (1.0 - flat) * along + flat * wide; // along e2 (the edge)
            let (i1, i2) = (half_log2e / (k1 * k1), half_log2e / (k2 * k2));
            // inverse covariance = i1 e1 e1' + i2 e2 e2', e2 = (-ey, ex)
            [
                i1 * ex * ex + i2 * ey * ey,
                (i1 - i2) * ex * ey,
                i1 * ey * ey + i2 * ex * ex,
            ]
        })
        .collect()
}

/// 2^x for x <= 0 (clamped at -[`MAX_EXPONENT`]), relative error below 2e-4: the exponent's
/// integer part goes into the float's exponent bits, the fraction through a cubic.
#[inline(always)]
fn exp2_neg(x: f32) -> f32 {
    let x = x.max(-MAX_EXPONENT);
    let fl = x.floor();
    let f = x - fl;
    // 2^f on [0, 1): minimax-style cubic
    let p = 1.0 + f * (0.695_976_1 + f * (0.224_940_5 + f * 0.079_083_4));
    let bits = ((fl as i32 + 127) << 23) as u32;
    f32::from_bits(bits) * p
}

/// The merge in progress: the reference's structure and statistics, and the running sums.
pub(crate) struct KernelMerger {
    params: KernelParams,
    /// The reference's white-balance multipliers (robustness compares balanced colours).
    wb: [f32; 3],
    noise: FrameNoise,
    ref_exposure: f64,
    /// The longest exposure seen, the reference's included (see [`KernelResult`]).
    max_exposure: f64,
    quads: Quads,
    geo: Geometry,
    /// [`splat::SUMS`] runs of `out_w` per output row.
    sums: Vec<f32>,
    /// The frame being splatted, its buffers kept between frames.
    prep: Prepared,
    /// The instruction set the accumulation runs with.
    isa: Isa,
    frames: usize,
    /// Sum over alternate frames of their mean robustness.
    robust_sum: f64,
    reference: RawFrame,
}

/// Where output pixels are and which kernel each uses.
struct Geometry {
    area: Rect,
    /// [`KernelParams::chroma_size`].
    chroma_size: f32,
    /// White-balance multipliers (green 1) for the colour differences; `None`: each colour
    /// merged on its own.
    wb: Option<[f32; 3]>,
    cfa: Cfa,
    scale: f32,
    /// Inverse kernel covariances per half-resolution pixel (`kw` x `kh`).
    kernels: Vec<[f32; 3]>,
    kw: usize,
    kh: usize,
    out_w: usize,
    out_h: usize,
}

/// A colour's noise variance as a function of the signal `x` (reference units):
/// `slope x + offset` (the noise model scaled to a frame's exposure).
#[derive(Debug, Clone, Copy)]
struct Variance {
    slope: f32,
    offset: f32,
}

impl Variance {
    #[inline(always)]
    fn at(self, x: f32) -> f32 {
        (self.slope * x.max(0.0) + self.offset).max(1e-12)
    }
}

/// What [`robust_row`] needs: the merger (reference quads, noise model, parameters), the
/// alternate frame's quads, its alignment field and steady tiles, and its exposure factor.
struct RobustRow<'a> {
    m: &'a KernelMerger,
    alt: &'a Quads,
    field: &'a Field<'a>,
    steady: &'a [bool],
    g: f32,
}

/// Robustness (`rr`), outside flags (`out`) and noise variance per colour (`vrow`) of row `y`
/// of an alternate frame's half-resolution pixels.
#[inline(always)]
fn robust_row_body(
    ctx: &RobustRow,
    y: usize,
    rr: &mut [f32],
    out: &mut [bool],
    vrow: [&mut [f32]; 3],
) {
    let RobustRow {
        m: this,
        alt,
        field,
        steady,
        g,
    } = *ctx;
    let q = &this.quads;
    let (w, h) = (q.w, q.h);
    let p = &this.params;
    // the variance of a 3x3 mean of quads: 9 photosites of R and B, 18 of G
    let counts = [9.0f32, 18.0, 9.0];
    let (var_1, var_g) = (this.variance_at(1.0), this.variance_at(g));
    for x in 0..w {
        let i = y * w + x;
        // quad centre in area coordinates, and where it is in the frame
        let (px, py) = (2.0 * x as f32 + 1.0, 2.0 * y as f32 + 1.0);
        let d = field.at(px, py);
        let (ax, ay) = ((px + d[0]) * 0.5 - 0.5, (py + d[1]) * 0.5 - 0.5);
        let inside = ax >= -0.5 && ay >= -0.5 && ax <= w as f32 - 0.5 && ay <= h as f32 - 0.5;
        let (axc, ayc) = (
            ax.round().clamp(0.0, (w - 1) as f32) as usize,
            ay.round().clamp(0.0, (h - 1) as f32) as usize,
        );
        let alt_clip = alt.clipped[ayc * w + axc];
        let calm = field.tiles_at(px, py).iter().all(|&t| steady[t]);
        let (p_spread, p_cw) = if calm {
            (p.steady_spread, p.steady_chroma_weight)
        } else {
            (p.spread, p.chroma_weight)
        };
        let ref_clip = q.clipped[i];
        // per unclipped colour: the white-balanced difference and its
        // tolerated variance
        let mut a = [0.0f32; 3];
        let mut t = [0.0f32; 3];
        let mut n = 0.0f32;
        for c in 0..3 {
            let mr = q.mean[c][i];
            let ma = bilinear(&alt.mean[c], w, h, ax, ay);
            let x_sig = if ref_clip & (1 << c) != 0 {
                ma.max(mr)
            } else {
                mr
            };
            vrow[c][x] = var_g[c].at(x_sig);
            if alt_clip & (1 << c) != 0 {
                continue;
            }
            let mut dc = ma - mr;
            if ref_clip & (1 << c) != 0 {
                // a clipped reference only says "at least this bright"
                dc = dc.min(0.0);
            }
            let noise = (var_1[c].at(mr) + var_g[c].at(ma)) / counts[c];
            let sd = if calm {
                q.sd[c][i]
            } else {
                spread(&this.quads, c, i)
            };
            let m = this.wb[c];
            a[c] = m * dc;
            t[c] = m * m * (p.noise_tolerance * noise + (p_spread * sd) * (p_spread * sd));
            n += 1.0;
        }
        // brightness: the mean difference; colour: the deviations from it,
        // which aliasing produces between frames sampled at other phases
        let (sa, st) = (a.iter().sum::<f32>(), t.iter().sum::<f32>());
        let mean = sa / n.max(1.0);
        let mut chroma = 0.0f32;
        for c in 0..3 {
            if t[c] > 0.0 {
                chroma += (a[c] - mean) * (a[c] - mean) / t[c];
            }
        }
        let z2 = if st > 0.0 { sa * sa / st } else { 0.0 } + p_cw * chroma;
        out[x] = !inside;
        rr[x] = if !inside {
            0.0
        } else if !p.robust || n == 0.0 {
            1.0
        } else {
            (p.robust_scale * (-0.5 * z2).exp() - p.robust_threshold).clamp(0.0, 1.0)
        };
    }
}

kernels! {
    fn robust_row(
        ctx: &RobustRow,
        y: usize,
        rr: &mut [f32],
        out: &mut [bool],
        vrow: [&mut [f32]; 3],
    ) = robust_row_body;
}

/// Output size for a merge area and scale.
pub(crate) fn output_size(area: Rect, scale: f32) -> (usize, usize) {
    (
        ((area.width as f32 * scale).round() as usize).max(1),
        ((area.height as f32 * scale).round() as usize).max(1),
    )
}

/// One frame's per-pixel weights at half resolution: robustness over noise variance per
/// colour, then the noise variance per colour (for the output's noise estimate).
type FrameWeights = Vec<[f32; 6]>;

impl KernelMerger {
    pub fn new(reference: RawFrame, params: &KernelParams, scale: f32) -> Result<KernelMerger> {
        params.validate()?;
        reference.require_bayer("the kernel merge")?;
        let area = merge_area(&reference);
        if area.width < 8 || area.height < 8 {
            return Err(Error::unsupported(
                &reference.path,
                format!(
                    "active area {}x{} too small to merge (at least 8x8)",
                    area.width, area.height
                ),
            ));
        }
        let cfa = reference.cfa_at(area);
        let noise = noise_model(&reference);
        let (quads, raw) = Quads::new(&reference.mosaic, area, cfa, 1.0, true);
        let kernels = kernels(&raw, quads.w, quads.h, &noise, params);
        drop(raw);
        let (out_w, out_h) = output_size(area, scale);
        let geo = Geometry {
            area,
            chroma_size: params.chroma_size,
            wb: params
                .color_difference
                .then(|| reference.wb_multipliers().map(|m| m as f32)),
            cfa,
            scale,
            kernels,
            kw: quads.w,
            kh: quads.h,
            out_w,
            out_h,
        };
        let mut m = KernelMerger {
            params: params.clone(),
            wb: reference.wb_multipliers().map(|m| m as f32),
            noise,
            ref_exposure: reference.exposure_product(),
            max_exposure: reference.exposure_product(),
            quads,
            geo,
            sums: vec![0.0; SUMS * out_w * out_h],
            prep: Prepared::default(),
            isa: Isa::detect(),
            frames: 1,
            robust_sum: 0.0,
            reference,
        };
        let weights = m.reference_weights();
        m.prep.fill(&m.reference.mosaic, area, cfa, m.geo.wb);
        splat(
            m.isa,
            &mut m.sums,
            &m.geo,
            &m.prep,
            None,
            &weights,
            1.0,
            true,
        );
        Ok(m)
    }

    pub fn reference(&self) -> &RawFrame {
        &self.reference
    }

    /// The noise variance per colour of a frame exposed `1/g` times as long as the
    /// reference, in the reference's units.
    fn variance_at(&self, g: f32) -> [Variance; 3] {
        let g = f64::from(g);
        self.noise.channels.map(|m| Variance {
            slope: (g * m.scale) as f32,
            offset: (g * g * m.offset) as f32,
        })
    }

    fn reference_weights(&self) -> FrameWeights {
        let q = &self.quads;
        let var = self.variance_at(1.0);
        (0..q.w * q.h)
            .into_par_iter()
            .map(|i| {
                let v = [0, 1, 2].map(|c| var[c].at(q.mean[c][i]));
                [1.0 / v[0], 1.0 / v[1], 1.0 / v[2], v[0], v[1], v[2]]
            })
            .collect()
    }

    /// Robustness and noise weights of an alternate frame (half resolution).
    fn alternate_weights(&self, frame: &RawFrame, al: &Alignment, g: f32) -> (FrameWeights, f64) {
        let (alt, _) = Quads::new(&frame.mosaic, self.geo.area, self.geo.cfa, g, false);
        let q = &self.quads;
        let (w, h) = (q.w, q.h);
        let field = Field::new(al);
        let p = &self.params;
        // tiles that move with their neighbourhood and match well: differences there are
        // aliasing (each frame samples fine detail at another phase), not motion
        let steady = al.steady();
        let mut robust = vec![0.0f32; w * h];
        // where this frame does not see the reference's pixel
        let mut outside = vec![false; w * h];
        let mut var: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0f32; w * h]);
        let ctx = RobustRow {
            m: self,
            alt: &alt,
            field: &field,
            steady: &steady,
            g,
        };
        {
            let [v0, v1, v2] = &mut var;
            robust
                .par_chunks_mut(w)
                .zip(outside.par_chunks_mut(w))
                .zip(v0.par_chunks_mut(w))
                .zip(v1.par_chunks_mut(w))
                .zip(v2.par_chunks_mut(w))
                .enumerate()
                .for_each(|(y, ((((rr, out), v0), v1), v2))| {
                    robust_row(self.isa, &ctx, y, rr, out, [v0, v1, v2]);
                });
        }
        if p.robust {
            min_filter(&mut robust, w, h, 2);
            // where the reference clipped it cannot tell motion from highlight: an
            // alternate frame's samples, however doubtful, beat its clipped value there
            if g > 1.0 {
                robust
                    .par_iter_mut()
                    .zip(q.clipped.par_iter())
                    .zip(outside.par_iter())
                    .for_each(|((r, &c), &out)| {
                        if c != 0 && !out {
                            *r = r.max(CLIPPED_ROBUSTNESS);
                        }
                    });
            }
        }
        let mean_r = robust.iter().map(|&r| f64::from(r)).sum::<f64>() / (w * h) as f64;
        let weights = robust
            .par_iter()
            .enumerate()
            .map(|(i, &r)| {
                let v = [var[0][i], var[1][i], var[2][i]];
                [r / v[0], r / v[1], r / v[2], v[0], v[1], v[2]]
            })
            .collect();
        (weights, mean_r)
    }

    /// Adds one alternate frame; with `record`, returns the per-pixel robustness (0 to 1) it
    /// was given, at half resolution: quad `(x, y)` is centred at `(2x + 1, 2y + 1)` in the
    /// merge area (for diagnostics).
    pub fn add(
        &mut self,
        frame: &RawFrame,
        al: &Alignment,
        record: bool,
    ) -> Result<Option<Plane<f32>>> {
        crate::burst::check_match(&self.reference, frame)?;
        frame.require_bayer("the kernel merge")?;
        let g = (self.ref_exposure / frame.exposure_product()) as f32;
        self.max_exposure = self.max_exposure.max(frame.exposure_product());
        let (weights, mean_r) = self.alternate_weights(frame, al, g);
        // each weight is robustness over variance, followed by that variance
        let map = record.then(|| {
            let r = weights.iter().map(|w| w[0] * w[3]).collect();
            Plane::from_vec(self.quads.w, self.quads.h, r).unwrap_or_default()
        });
        self.prep
            .fill(&frame.mosaic, self.geo.area, self.geo.cfa, self.geo.wb);
        splat(
            self.isa,
            &mut self.sums,
            &self.geo,
            &self.prep,
            Some(al),
            &weights,
            g,
            false,
        );
        self.robust_sum += mean_r;
        self.frames += 1;
        Ok(map)
    }
}

impl KernelMerger {
    /// Ends the merge: normalised sums, spatially denoised, as linear RGB planes with the
    /// noise variance left per colour (its mean over the image), the effective frame count
    /// and the mean robustness of the alternate frames.
    pub fn finish(self, spatial: f32) -> KernelResult {
        let KernelMerger {
            sums,
            geo,
            frames,
            robust_sum,
            noise,
            reference,
            ref_exposure,
            max_exposure,
            ..
        } = self;
        let Geometry {
            out_w,
            out_h,
            area,
            scale,
            ..
        } = geo;
        let wb = geo.wb;
        let n = out_w * out_h;
        let mut rgb: [Plane<f32>; 3] = std::array::from_fn(|_| Plane::new(out_w, out_h));
        let mut resid: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0f32; n]);
        {
            let [r, g, b] = &mut rgb;
            let [vr, vg, vb] = &mut resid;
            r.data
                .par_chunks_mut(out_w)
                .zip(g.data.par_chunks_mut(out_w))
                .zip(b.data.par_chunks_mut(out_w))
                .zip(vr.par_chunks_mut(out_w))
                .zip(vg.par_chunks_mut(out_w))
                .zip(vb.par_chunks_mut(out_w))
                .zip(sums.par_chunks(SUMS * out_w))
                .for_each(|((((((r, g), b), vr), vg), vb), acc)| {
                    for x in 0..out_w {
                        let a: [f32; SUMS] = std::array::from_fn(|j| acc[j * out_w + x]);
                        let (px, var) = resolve(&a, wb);
                        r[x] = px[0];
                        g[x] = px[1];
                        b[x] = px[2];
                        vr[x] = var[0];
                        vg[x] = var[1];
                        vb[x] = var[2];
                    }
                });
        }
        drop(sums);
        let mut effective = [0.0f32; 3];
        for c in 0..3 {
            // the single frame's variance at the same brightness over the variance left
            let ch = noise.channels[c];
            let single: f64 = rgb[c]
                .data
                .par_iter()
                .map(|&x| ch.scale * f64::from(x.max(0.0)) + ch.offset)
                .sum();
            let left: f64 = resid[c].par_iter().map(|&r| f64::from(r)).sum();
            effective[c] = (single / left.max(1e-30)) as f32;
            if spatial > 0.0 {
                rgb[c] = denoise_plane(&rgb[c], &resid[c], spatial);
            }
        }
        KernelResult {
            rgb,
            frames,
            mean_robustness: if frames > 1 {
                (robust_sum / (frames - 1) as f64) as f32
            } else {
                1.0
            },
            effective,
            noise,
            reference,
            area,
            scale,
            exposure_ev: (max_exposure / ref_exposure).log2(),
        }
    }
}

/// One output pixel from its sums: green the weighted mean of the green samples; red and
/// blue the merged green plus the merged white-balanced colour difference, undone by the
/// multiplier. Also returns the noise variance each colour has left.
#[inline]
fn resolve(a: &[f32; SUMS], wb: Option<[f32; 3]>) -> ([f32; 3], [f32; 3]) {
    let (num, den, var) = (&a[0..3], &a[3..6], &a[6..9]);
    let mean = |c: usize| {
        if den[c] > 0.0 { num[c] / den[c] } else { 0.0 }
    };
    let left = |c: usize| {
        if den[c] > 0.0 {
            var[c] / (den[c] * den[c])
        } else {
            0.0
        }
    };
    let g = mean(1);
    let vg = left(1);
    let Some(wb) = wb else {
        return ([mean(0), g, mean(2)], [left(0), vg, left(2)]);
    };
    let px = [(g + mean(0)) / wb[0], g, (g + mean(2)) / wb[2]];
    // the green's noise enters the colours through the difference
    let var = [
        left(0) + vg / (wb[0] * wb[0]),
        vg,
        left(2) + vg / (wb[2] * wb[2]),
    ];
    (px, var)
}

/// The reference's local spread (standard deviation of the 3x3 quad values' mean's
/// neighbourhood), approximated by the mean absolute difference of the 3x3 means around.
#[inline]
fn spread(q: &Quads, c: usize, i: usize) -> f32 {
    let (w, h) = (q.w, q.h);
    let (x, y) = (i % w, i / w);
    let m = &q.mean[c];
    let (l, r) = (
        m[y * w + x.saturating_sub(1)],
        m[y * w + (x + 1).min(w - 1)],
    );
    let (t, b) = (
        m[y.saturating_sub(1) * w + x],
        m[(y + 1).min(h - 1) * w + x],
    );
    0.5 * ((r - l).abs() + (b - t).abs())
}

/// Spatial Wiener denoise of one merged channel, each tile shrunk by the noise its pixels
/// have left (`resid`, per pixel).
fn denoise_plane(p: &Plane<f32>, resid: &[f32], strength: f32) -> Plane<f32> {
    let (w, h) = (p.width, p.height);
    let padded = Padded::new(w, h, |x, y| p.data[y * w + x]);
    let noise = Padded::new(w, h, |x, y| resid[y * w + x]);
    let out = spatial_denoise(&padded, strength, &|tx, ty, _mean| noise.tile_mean(tx, ty));
    let mut o = Plane::new(w, h);
    o.data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, v) in row.iter_mut().enumerate() {
            *v = out.inner(x, y);
        }
    });
    o
}

/// What the kernel merge produced.
pub(crate) struct KernelResult {
    /// Linear camera RGB, reference exposure, output size.
    pub rgb: [Plane<f32>; 3],
    /// Frames merged, the reference included.
    pub frames: usize,
    /// Mean robustness of the alternate frames (1 = all accepted).
    pub mean_robustness: f32,
    /// Noise variance reduction per colour, as an equivalent number of averaged frames.
    pub effective: [f32; 3],
    /// The reference's noise model.
    pub noise: FrameNoise,
    /// The reference frame.
    pub reference: RawFrame,
    /// The merge area (reference buffer coordinates).
    pub area: Rect,
    /// Output scale.
    pub scale: f32,
    /// The burst's longest exposure over the reference's, in EV: the output is rendered at
    /// the longest exposure (BaselineExposure), whichever frame was the reference.
    pub exposure_ev: f64,
}

/// The reference's crop (buffer coordinates) on the output grid of the merge `area` at
/// `scale` (a `w` x `h` image).
pub(crate) fn scaled_crop(crop: Rect, area: Rect, scale: f32, w: usize, h: usize) -> Rect {
    let x0 = crop.x.max(area.x) - area.x;
    let y0 = crop.y.max(area.y) - area.y;
    let x1 = (crop.x + crop.width)
        .min(area.x + area.width)
        .saturating_sub(area.x);
    let y1 = (crop.y + crop.height)
        .min(area.y + area.height)
        .saturating_sub(area.y);
    let s = |v: usize, n: usize| ((v as f32 * scale).round() as usize).min(n);
    let (x0, y0, x1, y1) = (s(x0, w), s(y0, h), s(x1, w), s(y1, h));
    if x1 <= x0 || y1 <= y0 {
        return Rect::new(0, 0, w, h);
    }
    Rect::new(x0, y0, x1 - x0, y1 - y0)
}

/// A gain map's pixel rectangle scaled to a `w` x `h` output at `scale`.
fn scale_rect(m: &mut GainMap, scale: f32, w: usize, h: usize) {
    let s = |v: u32, n: usize| ((v as f32 * scale).round() as u32).min(n as u32);
    m.top = s(m.top, h);
    m.left = s(m.left, w);
    m.bottom = s(m.bottom, h);
    m.right = s(m.right, w);
}

/// `OpcodeList2` of a Bayer reference carried to the merged RGB image: a gain map for one
/// Bayer position (row and column pitch 2) becomes a map for that position's colour plane
/// (the first map found per colour; the second green one is dropped, as both greens merge
/// into one plane), a map for every photosite applies to all three planes; rectangles are
/// scaled. Other opcodes are kept as they are.
pub(crate) fn rgb_gain_maps(
    list: &[Opcode],
    cfa: Cfa,
    scale: f32,
    w: usize,
    h: usize,
) -> Vec<Opcode> {
    let mut seen = [false; 3];
    let mut out = Vec::new();
    for op in list {
        match op {
            Opcode::GainMap { map, flags } => {
                let mut m = map.clone();
                if map.row_pitch == 2 && map.col_pitch == 2 && map.planes == 1 {
                    let c = cfa.color_at(map.left as usize & 1, map.top as usize & 1) as usize;
                    if seen[c] {
                        continue;
                    }
                    seen[c] = true;
                    m.plane = c as u32;
                    m.planes = 1;
                    m.map_planes = 1;
                    m.top &= !1;
                    m.left &= !1;
                } else if map.row_pitch == 1 && map.col_pitch == 1 {
                    m.plane = 0;
                    m.planes = 3;
                    m.map_planes = m.map_planes.min(1);
                } else {
                    continue;
                }
                m.row_pitch = 1;
                m.col_pitch = 1;
                scale_rect(&mut m, scale, w, h);
                out.push(Opcode::GainMap {
                    map: m,
                    flags: *flags,
                });
            }
            other => out.push(other.clone()),
        }
    }
    out
}

/// `OpcodeList3` carried to the output grid: gain map rectangles scaled (distortion
/// opcodes work in relative coordinates and stay).
pub(crate) fn scaled_gain_maps(list: &[Opcode], scale: f32, w: usize, h: usize) -> Vec<Opcode> {
    list.iter()
        .map(|op| match op {
            Opcode::GainMap { map, flags } => {
                let mut m = map.clone();
                scale_rect(&mut m, scale, w, h);
                Opcode::GainMap {
                    map: m,
                    flags: *flags,
                }
            }
            other => other.clone(),
        })
        .collect()
}

/// Merges `burst` with the kernel-regression merge, whatever `params.method` says: linear RGB
/// at `params.scale` times the input size (the stage's own entry point; [`super::merge`] with
/// [`super::MergeMethod::Kernel`] is the same).
///
/// ```no_run
/// use obscura::{Burst, align, merge};
/// let burst = Burst::open(&["samples/burst".into()])?;
/// let al = align::align(&burst, &align::AlignParams::default())?;
/// let params = merge::MergeParams { scale: 2.0, ..Default::default() };
/// let merged = merge::kernel::merge(&burst, &al, &params)?;
/// assert!(merged.frame.is_rgb());
/// # Ok::<(), obscura::Error>(())
/// ```
pub fn merge(
    burst: &crate::Burst,
    alignment: &crate::align::BurstAlignment,
    params: &super::MergeParams,
) -> Result<super::Merged> {
    let params = super::MergeParams {
        method: super::MergeMethod::Kernel,
        ..params.clone()
    };
    super::merge(burst, alignment, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp2_neg_is_accurate() {
        let mut x = 0.0f32;
        while x > -60.0 {
            let (a, b) = (exp2_neg(x), x.exp2());
            assert!(((a - b) / b).abs() < 2e-4, "{x}: {a} vs {b}");
            x -= 0.0137;
        }
        assert!(exp2_neg(-1000.0) > 0.0);
    }

    #[test]
    fn min_filter_spreads_minima() {
        let (w, h) = (7, 5);
        let mut p = vec![1.0f32; w * h];
        p[2 * w + 3] = 0.0;
        min_filter(&mut p, w, h, 2);
        for y in 0..h {
            for x in 0..w {
                let near = x.abs_diff(3) <= 2 && y.abs_diff(2) <= 2;
                assert_eq!(p[y * w + x], if near { 0.0 } else { 1.0 }, "{x},{y}");
            }
        }
    }
}
