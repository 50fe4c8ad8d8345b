//! Merge: many aligned raw frames into one with far less noise, without ghosts.
//!
//! # Algorithm
//! HDR+ (Hasinoff et al. 2016, section 5; analysed by Monod, Delon and Veit, IPOL 2021), with
//! the changes measurement called for:
//! 1. **Noise model** per CFA colour, variance = S x + O, from the DNG NoiseProfile or
//!    estimated from the frame ([`noise`]).
//! 2. **Resampling** ([`MergeMethod::Robust`], default): each alternate frame is demosaiced
//!    and resampled at sub-pixel precision onto the reference's photosites (`warp.rs`), instead
//!    of shifting each aliased Bayer plane by whole pixels as HDR+ does
//!    ([`MergeMethod::HdrPlus`], kept as the baseline).
//! 3. **Pairwise robust Wiener merge** of each Bayer plane in 16x16 half-overlapping tiles
//!    (`wiener.rs`), with the robustness constant tuned by measurement (HDR+'s c = 8 shrinks
//!    too much towards the reference and throws away most of the averaging gain on static
//!    scenes), and tiles that the alignment marks unreliable kept from the reference.
//! 4. **Spatial denoising** of the merged tiles with the noise reduced by the number of
//!    frames merged.
//! 5. **Exposure**: frames are brought to the reference's exposure; photosites near clipping
//!    in any frame never enter the merge, and where the reference itself is clipped, shorter
//!    frames fill in, so highlights the reference lost come back.
//!
//! The result is a [`RawFrame`] at full precision (normalised `f32`), written by
//! [`crate::raw::write_dng`] as a 16-bit DNG whose NoiseProfile reflects the reduced noise.
//!
//! [`MergeMethod::Kernel`] ([`kernel`]) is the other design: no resampling and no tiles; every
//! frame's raw Bayer samples are accumulated onto an RGB grid with anisotropic kernels and a
//! per-pixel robustness (Wronski et al. 2019), at 1x or super-resolved
//! ([`MergeParams::scale`]). Its result is linear RGB, written as a LinearRaw DNG.

pub(crate) mod fft;
pub mod kernel;
pub mod noise;
pub(crate) mod warp;
pub(crate) mod wiener;

use serde::{Deserialize, Serialize};

use crate::align::{Alignment, BurstAlignment};
use crate::burst::Burst;
use crate::demosaic::Demosaic;
use crate::error::{Error, Result};
use crate::image::{Cfa, Channel, Plane, Rect};
use crate::raw::{DecoderKind, NoiseModel, RawFrame};
use noise::{FrameNoise, noise_model};
use rayon::prelude::*;
use wiener::{Alt, Padded, TileMerge};

/// The robustness constant of the HDR+ paper.
pub const HDRPLUS_ROBUSTNESS: f32 = 8.0;

/// Normalised level at or above which a photosite counts as clipped.
pub const CLIP_LEVEL: f32 = crate::raw::CLIP_LEVEL;

/// Black level of merged output frames, in 16-bit units: a pedestal that keeps slightly
/// negative (below-black) noise instead of clipping it.
pub const OUTPUT_BLACK: f64 = 256.0;

/// How frames are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MergeMethod {
    /// Sub-pixel resampling through a demosaic, robust Wiener merge, spatial denoise (default).
    #[default]
    Robust,
    /// HDR+ as published: whole-pixel shifts of each Bayer plane, c = 8.
    HdrPlus,
    /// The aligned mean (resampled like `Robust`), without robustness: the baseline that
    /// ghosts wherever something moved.
    Average,
    /// Kernel regression ([`kernel`]): every frame's Bayer samples accumulated onto an RGB
    /// grid with anisotropic kernels and per-pixel robustness, at 1x or super-resolved
    /// ([`MergeParams::scale`]). The output is linear RGB.
    Kernel,
}

impl std::str::FromStr for MergeMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "robust" => Ok(MergeMethod::Robust),
            "hdrplus" | "hdr+" => Ok(MergeMethod::HdrPlus),
            "average" | "mean" => Ok(MergeMethod::Average),
            "kernel" => Ok(MergeMethod::Kernel),
            _ => Err(Error::parameter(
                "merge method",
                format!("{s:?} (use robust, kernel, hdrplus or average)"),
            )),
        }
    }
}

/// Parameters of [`merge`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeParams {
    /// How frames are combined; default [`MergeMethod::Robust`].
    pub method: MergeMethod,
    /// Robustness constant c of the Wiener shrinkage for [`MergeMethod::Robust`], 0.5 to 1000;
    /// default 40 (tuned on synthetic bursts; see `tests/merge.rs`). Higher: more averaging,
    /// less noise, more risk of ghosts from misalignment; lower: closer to the reference.
    pub robustness: f32,
    /// Spatial denoising strength after merging, 0 (off) to 10; default 0.5. Higher: smoother,
    /// softer fine detail. Not applied by [`MergeMethod::Average`]; the kernel merge has its
    /// own ([`kernel::KernelParams::spatial_denoise`]).
    pub spatial_denoise: f32,
    /// Demosaic used to resample alternate frames; default [`Demosaic::Rcd`].
    pub demosaic: Demosaic,
    /// Output size as a multiple of the input's, 1 to 3 (default 1); above 1 only with
    /// [`MergeMethod::Kernel`] (super-resolution).
    pub scale: f32,
    /// Parameters of [`MergeMethod::Kernel`].
    pub kernel: kernel::KernelParams,
}

impl Default for MergeParams {
    fn default() -> Self {
        MergeParams {
            method: MergeMethod::Robust,
            robustness: 40.0,
            spatial_denoise: 0.5,
            demosaic: Demosaic::default(),
            scale: 1.0,
            kernel: kernel::KernelParams::default(),
        }
    }
}

impl MergeParams {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        if !(self.robustness.is_finite() && (0.5..=1000.0).contains(&self.robustness)) {
            return Err(Error::parameter(
                "robustness",
                format!("{} (allowed: 0.5 to 1000)", self.robustness),
            ));
        }
        if !(self.spatial_denoise.is_finite() && (0.0..=10.0).contains(&self.spatial_denoise)) {
            return Err(Error::parameter(
                "spatial_denoise",
                format!("{} (allowed: 0 to 10)", self.spatial_denoise),
            ));
        }
        if !(self.scale.is_finite() && (1.0..=kernel::MAX_SCALE).contains(&self.scale)) {
            return Err(Error::parameter(
                "scale",
                format!("{} (allowed: 1 to {})", self.scale, kernel::MAX_SCALE),
            ));
        }
        if self.scale != 1.0 && self.method != MergeMethod::Kernel {
            return Err(Error::parameter(
                "scale",
                format!(
                    "{} needs the kernel merge (super-resolution); the {:?} merge works at 1x only",
                    self.scale, self.method
                ),
            ));
        }
        if self.method == MergeMethod::Kernel {
            self.kernel.validate()?;
        }
        Ok(())
    }
}

/// The merged frame and how the merge went.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The merged raw frame (reference geometry and metadata, 16-bit output levels).
    pub frame: RawFrame,
    /// Frames that took part, the reference included.
    pub frames: usize,
    /// Fraction of (alternate frame, tile) pairs that were kept from the reference because
    /// the alignment was unreliable, a frame was clipped or the match left the frame.
    pub rejected_fraction: f32,
    /// The noise variance reduction achieved, as an equivalent number of averaged frames.
    pub effective_frames: f32,
    /// The factor the merged values were divided by to fit the output's white level (1 unless
    /// shorter frames recovered highlights above the reference's white): multiply
    /// `frame.mosaic` by it to compare with the reference's normalised values.
    pub scale: f32,
}

/// The size of the image the merge of a burst with this reference makes: the active area
/// (cut to even size) times [`MergeParams::scale`].
pub fn output_size(reference: &RawFrame, params: &MergeParams) -> (usize, usize) {
    let area = merge_area(reference);
    if params.method == MergeMethod::Kernel {
        kernel::output_size(area, params.scale)
    } else {
        (area.width, area.height)
    }
}

/// An [`Error::Parameter`] naming `scale` when the merged image would have more than
/// `max_pixels` pixels.
pub fn check_output_size(
    reference: &RawFrame,
    params: &MergeParams,
    max_pixels: u64,
) -> Result<()> {
    let (w, h) = output_size(reference, params);
    if (w as u64) * (h as u64) > max_pixels {
        return Err(Error::parameter(
            "scale",
            format!(
                "{}: the merged image of {}x{} ({:.1} MP) from {} is above the {:.1} MP pixel limit (--max-pixels)",
                params.scale,
                w,
                h,
                (w * h) as f64 / 1e6,
                reference.path.display(),
                max_pixels as f64 / 1e6
            ),
        ));
    }
    Ok(())
}

/// The reference's active area, cut to even size so every 2x2 quad is whole.
fn merge_area(f: &RawFrame) -> Rect {
    let a = f.active_area;
    Rect::new(a.x, a.y, a.width & !1, a.height & !1)
}

/// Bayer plane `(px, py)` of `mosaic` inside `area`, padded for tiling.
fn padded_plane(mosaic: &Plane<f32>, area: Rect, px: usize, py: usize) -> Padded {
    let offset = (area.y + py) * mosaic.width + area.x + px;
    Padded::sampled(
        area.width / 2,
        area.height / 2,
        &mosaic.data,
        (offset, 2 * mosaic.width, 2),
    )
}

/// Nearest alignment tile of each merge tile of a padded plane (merge tile (tx, ty) is
/// centred at plane position (8 tx, 8 ty), i.e. full-resolution (16 tx, 16 ty)).
fn nearest_alignment_tiles(p: &Padded, al: &Alignment) -> Vec<usize> {
    let pick = |u: f32, n: usize| {
        ((u - al.tile_size as f32 / 2.0) / al.tile_step as f32)
            .round()
            .clamp(0.0, (n - 1) as f32) as usize
    };
    let mut v = Vec::with_capacity(p.tiles_x() * p.tiles_y());
    for ty in 0..p.tiles_y() {
        for tx in 0..p.tiles_x() {
            let (x, y) = ((16 * tx) as f32, (16 * ty) as f32);
            v.push(pick(y, al.tiles_y) * al.tiles_x + pick(x, al.tiles_x));
        }
    }
    v
}

/// Merges the frames of `burst` aligned by `alignment` (from [`crate::align::align`]).
///
/// ```no_run
/// use obscura::{Burst, align, merge};
/// let burst = Burst::open(&["samples/burst".into()])?;
/// let al = align::align(&burst, &align::AlignParams::default())?;
/// let merged = merge::merge(&burst, &al, &merge::MergeParams::default())?;
/// obscura::raw::write_dng(&merged.frame, std::path::Path::new("merged.dng"))?;
/// # Ok::<(), obscura::Error>(())
/// ```
pub fn merge(burst: &Burst, alignment: &BurstAlignment, params: &MergeParams) -> Result<Merged> {
    merge_with(burst, alignment, params, &mut |_| {})
}

/// [`merge`], calling `done(k)` after alternate frame `k` is merged (for progress reports;
/// the reference is not reported).
pub fn merge_with(
    burst: &Burst,
    alignment: &BurstAlignment,
    params: &MergeParams,
    done: &mut dyn FnMut(usize),
) -> Result<Merged> {
    let n = burst.frames.len();
    if alignment.frames.len() != n || alignment.reference >= n {
        return Err(Error::parameter(
            "alignment",
            format!(
                "has {} frames and reference {} for a burst of {n} frames",
                alignment.frames.len(),
                alignment.reference
            ),
        ));
    }
    let r = alignment.reference;
    let mut merger = Merger::new(burst.frames[r].clone(), params)?;
    for (z, frame) in burst.frames.iter().enumerate() {
        if z != r {
            merger.add(frame, &alignment.frames[z])?;
            done(z);
        }
    }
    Ok(merger.finish())
}

/// A merge in progress, one alternate frame at a time: the streaming form of [`merge`], which
/// holds only the reference's planes and the running sums, so a burst of any length merges
/// in the memory of one frame.
///
/// ```no_run
/// use obscura::{RawFrame, align::{AlignParams, AlignPlan}, merge::{Merger, MergeParams}};
/// let reference = RawFrame::open("burst/frame_00.dng")?;
/// let plan = AlignPlan::new(&reference, &AlignParams::default())?;
/// let mut merger = Merger::new(reference, &MergeParams::default())?;
/// for name in ["burst/frame_01.dng", "burst/frame_02.dng"] {
///     let frame = RawFrame::open(name)?; // decoded, aligned, merged, dropped
///     merger.add(&frame, &plan.align(&frame)?)?;
/// }
/// let merged = merger.finish();
/// # Ok::<(), obscura::Error>(())
/// ```
pub struct Merger {
    inner: Inner,
    /// Whether [`Merger::add`] keeps each frame's robustness map (diagnostics only).
    record: bool,
    /// The last frame's robustness map, when recording.
    last: Option<WeightMap>,
}

/// One alternate frame's robustness weights as the merge applied them, for diagnostics
/// ([`Merger::record_weights`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeightMap {
    /// One weight per cell, 0 (the frame was rejected there: the reference is kept) to 1 (it
    /// was averaged in whole). The robust merge: per 16x16-photosite tile, the share of the
    /// frame's difference to the reference (its spectral power) that the Wiener shrinkage
    /// accepted. The kernel merge: its per-pixel robustness at half resolution.
    pub weights: Plane<f32>,
    /// Distance between cell centres in photosites of the merge area (16 for the robust
    /// merge's tiles, 2 for the kernel merge's quads).
    pub step: f32,
    /// Centre of cell (0, 0) from the merge area's top-left corner, photosites.
    pub first: f32,
}

enum Inner {
    Fft(Box<FftMerger>),
    Kernel(Box<kernel::KernelMerger>, f32),
}

impl Merger {
    /// Starts a merge onto `reference`.
    pub fn new(reference: RawFrame, params: &MergeParams) -> Result<Merger> {
        params.validate()?;
        let inner = if params.method == MergeMethod::Kernel {
            Inner::Kernel(
                Box::new(kernel::KernelMerger::new(
                    reference,
                    &params.kernel,
                    params.scale,
                )?),
                params.kernel.spatial_denoise,
            )
        } else {
            Inner::Fft(Box::new(FftMerger::new(reference, params)?))
        };
        Ok(Merger {
            inner,
            record: false,
            last: None,
        })
    }

    /// Keeps each added frame's robustness map for [`Merger::last_weights`] (diagnostics;
    /// off by default, when it costs nothing).
    pub fn record_weights(&mut self, on: bool) {
        self.record = on;
    }

    /// The robustness map of the frame added last, when [`Merger::record_weights`] is on.
    pub fn last_weights(&self) -> Option<&WeightMap> {
        self.last.as_ref()
    }

    /// The reference's clipped photosites (buffer coordinates) that a shorter frame added
    /// so far saw unclipped, so that the merge recovers them. `None` for the kernel merge,
    /// which weighs such photosites per pixel instead of listing them.
    pub fn recovered_highlights(&self) -> Option<Vec<[usize; 2]>> {
        match &self.inner {
            Inner::Fft(m) => Some(
                m.clipped
                    .iter()
                    .zip(&m.repair_weight)
                    .filter(|&(_, &w)| w > 0.0)
                    .map(|(&(i, _), _)| [m.area.x + i % m.area.width, m.area.y + i / m.area.width])
                    .collect(),
            ),
            Inner::Kernel(..) => None,
        }
    }

    /// The reference frame.
    pub fn reference(&self) -> &RawFrame {
        match &self.inner {
            Inner::Fft(m) => &m.reference,
            Inner::Kernel(m, _) => m.reference(),
        }
    }

    /// Merges one alternate frame, aligned to the reference by `al`; an error if the frame
    /// cannot join the reference's burst (size, active area, CFA, levels, camera).
    pub fn add(&mut self, frame: &RawFrame, al: &Alignment) -> Result<()> {
        let record = self.record;
        self.last = match &mut self.inner {
            Inner::Fft(m) => m.add(frame, al, record)?,
            Inner::Kernel(m, _) => m.add(frame, al, record)?.map(|weights| WeightMap {
                weights,
                step: 2.0,
                first: 1.0,
            }),
        };
        Ok(())
    }

    /// Ends the merge (see [`Merged`]).
    pub fn finish(self) -> Merged {
        match self.inner {
            Inner::Fft(m) => m.finish(),
            Inner::Kernel(m, spatial) => kernel_output(m.finish(spatial)),
        }
    }
}

/// The FFT tile merge in progress (`Robust`, `HdrPlus`, `Average`).
struct FftMerger {
    params: MergeParams,
    /// The reference: its metadata, geometry, and the mosaic the merged planes are written
    /// into.
    reference: RawFrame,
    area: Rect,
    cfa: Cfa,
    noise: FrameNoise,
    ref_exposure: f64,
    /// The longest exposure (exposure time x ISO) seen, the reference's included: the output
    /// is rendered at this exposure, whichever frame is the reference.
    max_exposure: f64,
    /// Per plane, the sum of the weights accumulated at each sample, once an alternate frame
    /// with another exposure than the reference's came (a bracket): from then on tiles are
    /// weighted by their noise variance, per usable sample ([`wiener::accumulate`]).
    den: Option<Vec<Padded>>,
    /// Per plane and tile, the sum of the weights accumulated (the reference's 1 included).
    wsum: Vec<Vec<f32>>,
    ref_planes: Vec<Padded>,
    acc: Vec<Padded>,
    used: Vec<Vec<u16>>,
    ntiles: usize,
    frames: usize,
    /// (Alternate frame, tile) pairs kept from the reference.
    rejected: usize,
    /// Area positions (row-major) where the reference is clipped with its value there; the
    /// inverse-variance weighted sum of shorter frames' usable values there and the weights'
    /// sum; and the highest value any shorter frame shows there, usable or not (a lower
    /// bound where every frame clipped).
    clipped: Vec<(usize, f32)>,
    repair_sum: Vec<f32>,
    repair_weight: Vec<f32>,
    repair_floor: Vec<f32>,
    /// The resampling's buffers, kept from frame to frame.
    scratch: warp::WarpScratch,
}

/// Bayer positions of the four planes, within a 2x2 quad.
const POSITIONS: [(usize, usize); 4] = [(0, 0), (1, 0), (0, 1), (1, 1)];

impl FftMerger {
    fn new(reference: RawFrame, params: &MergeParams) -> Result<FftMerger> {
        reference.require_bayer("the robust merge")?;
        let area = merge_area(&reference);
        if area.width < 4 || area.height < 4 {
            return Err(Error::unsupported(
                &reference.path,
                "active area too small to merge",
            ));
        }
        let ref_planes: Vec<Padded> = POSITIONS
            .iter()
            .map(|&(px, py)| padded_plane(&reference.mosaic, area, px, py))
            .collect();
        let ntiles = ref_planes[0].tiles_x() * ref_planes[0].tiles_y();
        let clipped: Vec<(usize, f32)> = if params.method == MergeMethod::HdrPlus {
            Vec::new()
        } else {
            (0..area.height)
                .flat_map(|y| (0..area.width).map(move |x| (x, y)))
                .map(|(x, y)| {
                    (
                        y * area.width + x,
                        reference.mosaic.get(area.x + x, area.y + y),
                    )
                })
                .filter(|&(_, v)| v >= CLIP_LEVEL)
                .collect()
        };
        Ok(FftMerger {
            params: params.clone(),
            area,
            cfa: reference.cfa_at(area),
            noise: noise_model(&reference),
            ref_exposure: reference.exposure_product(),
            max_exposure: reference.exposure_product(),
            den: None,
            wsum: vec![vec![1.0; ntiles]; 4],
            acc: ref_planes.clone(),
            ref_planes,
            used: vec![vec![0; ntiles]; 4],
            ntiles,
            frames: 1,
            rejected: 0,
            repair_sum: vec![0.0; clipped.len()],
            repair_weight: vec![0.0; clipped.len()],
            repair_floor: vec![0.0; clipped.len()],
            clipped,
            reference,
            scratch: warp::WarpScratch::default(),
        })
    }

    /// Merges one frame; with `record`, returns its robustness map (the mean of the four
    /// planes' per tile).
    fn add(&mut self, frame: &RawFrame, al: &Alignment, record: bool) -> Result<Option<WeightMap>> {
        crate::burst::check_match(&self.reference, frame)?;
        frame.require_bayer("the robust merge")?;
        let (ntx, nty) = (self.ref_planes[0].tiles_x(), self.ref_planes[0].tiles_y());
        let mut robust = record.then(|| (vec![0.0f32; ntx * nty], vec![0.0f32; ntx * nty]));
        let area = self.area;
        let params = &self.params;
        let cfa = self.cfa;
        let g = (self.ref_exposure / frame.exposure_product()) as f32;
        self.max_exposure = self.max_exposure.max(frame.exposure_product());
        // a bracket: weight by noise variance (equal exposures keep the plain mean, whose
        // weights would all be 1 up to the noise models' estimation error)
        let weighted = (g - 1.0).abs() > 1e-3 && params.method != MergeMethod::HdrPlus;
        if weighted && self.den.is_none() {
            // every contribution so far weighed 1 at every sample
            let k = self.frames as f32;
            self.den = Some(
                self.ref_planes
                    .iter()
                    .map(|p| Padded {
                        w: p.w,
                        h: p.h,
                        data: vec![k; p.data.len()],
                    })
                    .collect(),
            );
        }
        let nz = noise_model(frame);
        let n0 = self.noise;
        let ntiles = self.ntiles;
        let nearest = nearest_alignment_tiles(&self.ref_planes[0], al);
        let excluded: Vec<bool> = if params.method == MergeMethod::Robust {
            let bad = al.unreliable();
            nearest.iter().map(|&t| bad[t]).collect()
        } else {
            vec![false; ntiles]
        };
        let warped = match params.method {
            MergeMethod::HdrPlus => None,
            _ => Some(warp::warp_to_reference(
                frame,
                al,
                area,
                cfa,
                params.demosaic,
                g,
                CLIP_LEVEL,
                &mut self.scratch,
            )),
        };
        // only shorter exposures can see what the reference clipped
        if let Some(wp) = &warped
            && g > 1.0
        {
            let rcfa = self.reference.cfa_at(area);
            for (k, &(i, _)) in self.clipped.iter().enumerate() {
                let (x, y) = (i % area.width, i / area.width);
                let (v, usable) = wp.at(x, y);
                self.repair_floor[k] = self.repair_floor[k].max(v);
                if usable {
                    // inverse noise variance in the reference's units: g S v + g^2 O
                    let m = nz.channels[rcfa.color_at(x, y) as usize];
                    let var = f64::from(g) * m.scale * f64::from(v.max(0.0))
                        + f64::from(g * g) * m.offset;
                    let wk = (1.0 / var.max(1e-12)) as f32;
                    self.repair_sum[k] += wk * v;
                    self.repair_weight[k] += wk;
                }
            }
        }
        let mode = TileMerge {
            robustness: match params.method {
                MergeMethod::Robust => Some(params.robustness),
                MergeMethod::HdrPlus => Some(HDRPLUS_ROBUSTNESS),
                MergeMethod::Average | MergeMethod::Kernel => None,
            },
        };
        for (p, &(px, py)) in POSITIONS.iter().enumerate() {
            let c = cfa.color_at(px, py);
            let noise = move |mean: f32| {
                let v0 = n0.variance(c, mean);
                let own = nz.channels[c as usize];
                let x = f64::from(mean.max(0.0));
                let vz = f64::from(g) * own.scale * x + f64::from(g * g) * own.offset;
                (v0, vz as f32)
            };
            // the alternate frame as this plane's merge sees it
            let (plane, offsets);
            let alt = match &warped {
                Some(wp) => Alt::Warped {
                    plane: &wp.planes[p],
                    valid: &wp.valid[p],
                },
                None => {
                    // HDR+: the alternate frame's own plane (exposure-scaled), whole-pixel
                    // shifts: half the full-resolution displacement, rounded
                    let mut own = padded_plane(&frame.mosaic, area, px, py);
                    own.data.iter_mut().for_each(|v| *v *= g);
                    plane = own;
                    offsets = nearest
                        .iter()
                        .map(|&t| {
                            let d = al.field[t];
                            ((d[0] / 2.0).round() as isize, (d[1] / 2.0).round() as isize)
                        })
                        .collect::<Vec<_>>();
                    Alt::Shifted {
                        plane: &plane,
                        offsets: &offsets,
                    }
                }
            };
            let taken = wiener::accumulate(
                &self.ref_planes[p],
                &alt,
                &mut self.acc[p],
                &mut self.used[p],
                &mut self.wsum[p],
                match &mut self.den {
                    Some(d) if weighted => Some(&mut d[p]),
                    _ => None,
                },
                &excluded,
                mode,
                &noise,
                robust.as_mut().map(|(_, plane)| plane.as_mut_slice()),
            );
            self.rejected += ntiles - taken;
            if let Some((sum, plane)) = &mut robust {
                sum.iter_mut()
                    .zip(plane.iter())
                    .for_each(|(s, p)| *s += p / 4.0);
            }
        }
        if let Some(wp) = warped {
            self.scratch.recycle(wp);
        }
        if !weighted && let Some(den) = &mut self.den {
            // an unweighted frame weighs 1 at every sample
            den.iter_mut()
                .for_each(|d| d.data.par_iter_mut().for_each(|v| *v += 1.0));
        }
        self.frames += 1;
        Ok(robust.and_then(|(sum, _)| {
            Some(WeightMap {
                weights: Plane::from_vec(ntx, nty, sum)?,
                step: 16.0,
                first: 0.0,
            })
        }))
    }

    /// Ends the merge: the mean of the merged tiles, spatially denoised, with the
    /// reference's clipped photosites filled from the shorter frames, as an output frame.
    fn finish(self) -> Merged {
        let FftMerger {
            params,
            mut reference,
            area,
            cfa,
            noise: n0,
            mut acc,
            used,
            ntiles,
            frames: n,
            rejected,
            clipped,
            repair_sum,
            repair_weight,
            repair_floor,
            ref_exposure,
            max_exposure,
            den,
            wsum,
            ..
        } = self;
        drop(self.ref_planes);
        let weighted = den.is_some();
        if let Some(den) = den {
            // each sample over the weights accumulated there
            for (a, d) in acc.iter_mut().zip(&den) {
                a.data
                    .par_iter_mut()
                    .zip(d.data.par_iter())
                    .for_each(|(v, &d)| *v /= d.max(1e-6));
            }
        } else {
            let inv = 1.0 / n as f32;
            for a in &mut acc {
                a.data.par_iter_mut().for_each(|v| *v *= inv);
            }
        }
        // Spatial denoising with the noise left after averaging `used + 1` frames per tile
        // (a bracket: the sum of the tile's weights, its equivalent number of reference
        // frames).
        let equivalent: Vec<Vec<f32>> = if weighted {
            wsum
        } else {
            used.iter()
                .map(|u| u.iter().map(|&u| f32::from(u) + 1.0).collect())
                .collect()
        };
        // Where the reference clipped (a bracket), the shorter frames' inverse-variance
        // weighted mean, before the spatial denoise so that it is denoised too; never darker
        // than the clipped reference, which says "at least this bright". Where every frame
        // clipped, the brightest lower bound, and those photosites are marked clipped (set
        // to the output's white level below). Each tile's noise for the denoise is then the
        // larger of the merge's and its repaired photosites' mean variance (1 / weight).
        let ntx = acc[0].tiles_x();
        let mut repaired_var = vec![vec![0.0f32; ntiles]; 4];
        let mut unrecovered = Vec::new();
        if weighted {
            for (k, &(i, own)) in clipped.iter().enumerate() {
                let (x, y) = (i % area.width, i / area.width);
                let p = (x % 2) + 2 * (y % 2);
                let (ix, iy) = (x / 2 + wiener::STEP, y / 2 + wiener::STEP);
                let at = iy * acc[p].w + ix;
                if repair_weight[k] > 0.0 {
                    acc[p].data[at] = (repair_sum[k] / repair_weight[k]).max(own);
                    // the tiles covering this photosite (16 wide, every 8)
                    let var = 1.0 / repair_weight[k];
                    for ty in [iy / wiener::STEP, (iy / wiener::STEP).wrapping_sub(1)] {
                        for tx in [ix / wiener::STEP, (ix / wiener::STEP).wrapping_sub(1)] {
                            if tx < ntx && ty * ntx + tx < ntiles {
                                repaired_var[p][ty * ntx + tx] += var;
                            }
                        }
                    }
                } else {
                    acc[p].data[at] = repair_floor[k].max(own).max(acc[p].data[at]);
                    unrecovered.push((area.x + x, area.y + y));
                }
            }
        }
        if params.spatial_denoise > 0.0 && params.method != MergeMethod::Average {
            const N: f32 = (wiener::TILE * wiener::TILE) as f32;
            for (p, &(px, py)) in POSITIONS.iter().enumerate() {
                let c = cfa.color_at(px, py);
                let frames = &equivalent[p];
                let rv = &repaired_var[p];
                acc[p] = wiener::spatial_denoise(&acc[p], params.spatial_denoise, &|tx, ty, m| {
                    let t = ty * ntx + tx;
                    (n0.variance(c, m) / frames[t].max(1.0)).max(rv[t] / N)
                });
            }
        }
        let mut mosaic = std::mem::take(&mut reference.mosaic);
        for (p, &(px, py)) in POSITIONS.iter().enumerate() {
            for y in 0..area.height / 2 {
                for x in 0..area.width / 2 {
                    mosaic.set(area.x + 2 * x + px, area.y + 2 * y + py, acc[p].inner(x, y));
                }
            }
        }
        drop(acc);
        let frames_used: f32 = equivalent.iter().flatten().sum::<f32>() / (4 * ntiles) as f32;
        // variance of a mean of k equally noisy frames is 1/k; with shrinkage it is a little
        // more, which the NoiseProfile errs on the safe side of by using the count
        let effective = frames_used.max(1.0);
        let vmax = mosaic.data.par_iter().copied().reduce(|| 1.0f32, f32::max);
        for &(x, y) in &unrecovered {
            mosaic.set(x, y, vmax);
        }
        let frame = output_frame(
            &reference,
            mosaic,
            &n0,
            [effective; 3],
            vmax,
            (max_exposure / ref_exposure).log2(),
        );
        Merged {
            scale: vmax,
            frame,
            frames: n,
            rejected_fraction: if n > 1 {
                rejected as f32 / (4 * ntiles * (n - 1)) as f32
            } else {
                0.0
            },
            effective_frames: effective,
        }
    }
}

/// The merged mosaic as an output frame: 16-bit levels with a small pedestal, rescaled when
/// highlights recovered from shorter frames exceed the reference's white level (the
/// difference goes into BaselineExposure), and a NoiseProfile for the reduced noise.
///
/// `exposure_ev`, the burst's longest exposure over the reference's in EV, also goes into
/// BaselineExposure: a bracket renders as bright as its longest frame whichever frame was
/// the reference.
fn output_frame(
    reference: &RawFrame,
    mut mosaic: Plane<f32>,
    noise: &FrameNoise,
    effective: [f32; 3],
    vmax: f32,
    exposure_ev: f64,
) -> RawFrame {
    let scale = 1.0 / vmax;
    mosaic.data.par_iter_mut().for_each(|v| *v *= scale);
    let mut meta = reference.meta.clone();
    meta.baseline_exposure += f64::from(vmax).log2() + exposure_ev;
    meta.bits_per_sample = 16;
    // x_out = x_in * scale, so var_out = scale^2 var_in = (S scale) x_out + O scale^2,
    // divided by the number of frames averaged
    let s = f64::from(scale);
    meta.noise_profile = [Channel::R, Channel::G, Channel::B]
        .iter()
        .map(|&c| {
            let m = noise.channels[c as usize];
            let k = f64::from(effective[c as usize].max(1e-3));
            NoiseModel {
                scale: m.scale * s / k,
                offset: m.offset * s * s / k,
            }
        })
        .collect();
    RawFrame {
        path: Default::default(),
        mosaic,
        cfa: reference.cfa,
        black: [OUTPUT_BLACK; 4],
        white: 65535.0,
        active_area: reference.active_area,
        crop: reference.crop,
        meta,
        decoder: DecoderKind::Obscura,
        rgb: None,
    }
}

/// The kernel merge's result as an output frame: linear RGB at the output scale, levels,
/// NoiseProfile and BaselineExposure as [`output_frame`] sets them, the crop and lens
/// shading maps carried to the output grid.
fn kernel_output(r: kernel::KernelResult) -> Merged {
    let kernel::KernelResult {
        mut rgb,
        frames,
        mean_robustness,
        effective,
        noise,
        reference,
        area,
        scale,
        exposure_ev,
    } = r;
    let vmax = rgb
        .iter()
        .map(|p| p.data.par_iter().copied().reduce(|| 1.0f32, f32::max))
        .fold(1.0f32, f32::max);
    let inv = 1.0 / vmax;
    for p in &mut rgb {
        p.data.par_iter_mut().for_each(|v| *v *= inv);
    }
    let mut frame = output_frame(
        &reference,
        Plane::default(),
        &noise,
        effective,
        vmax,
        exposure_ev,
    );
    let (w, h) = (rgb[0].width, rgb[0].height);
    frame.active_area = Rect::new(0, 0, w, h);
    // LinearRaw readers (darktable, RawTherapee) ignore BlackLevel, so no pedestal: what
    // little noise falls below black after the merge is clipped at 0 in the DNG
    frame.black = [0.0; 4];
    frame.crop = kernel::scaled_crop(reference.crop, area, scale, w, h);
    frame.meta.opcodes2 = kernel::rgb_gain_maps(
        &reference.meta.opcodes2,
        reference.cfa_at(area),
        scale,
        w,
        h,
    );
    frame.meta.opcodes3 = kernel::scaled_gain_maps(&reference.meta.opcodes3, scale, w, h);
    frame.rgb = Some(Box::new(rgb));
    let mean_effective = effective.iter().sum::<f32>() / 3.0;
    Merged {
        frame,
        frames,
        rejected_fraction: 1.0 - mean_robustness,
        effective_frames: mean_effective.max(1.0),
        scale: vmax,
    }
}
