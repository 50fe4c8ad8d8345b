//! Align: where each frame of a burst sees each tile of the reference.
//!
//! # Algorithm
//! HDR+ (Hasinoff et al., SIGGRAPH Asia 2016, section 4; parameters as analysed by Monod,
//! Delon and Veit, IPOL 2021), then refined:
//! 1. the alignment image: each 2x2 Bayer quad averaged to one grey pixel, scaled by the
//!    frame's exposure relative to the reference (`pyramid.rs`);
//! 2. a Gaussian pyramid decimated by 1, 2, 4, 4;
//! 3. coarse to fine tile search: L2 distance and +-4 pixels at the coarse levels, L1 and +-1
//!    at the finest; each tile starts from the best of the three nearest coarse tiles'
//!    displacements (`search.rs`);
//! 4. sub-pixel: a 2-D quadratic fitted to the 3x3 distances around the best offset at every
//!    level, then inverse-compositional Lucas-Kanade iterations on bicubic samples at the
//!    finest level ([`Refinement`]; `refine.rs`).
//!
//! The result is a displacement per tile in full-resolution Bayer pixels ([`Alignment`]):
//! tile `(i, j)` of size `tile_size` is centred at `(j * tile_step + tile_size / 2,
//! i * tile_step + tile_size / 2)` relative to the active area's top-left corner, and the
//! reference pixel at `p` is found at `p + field[i * tiles_x + j]` in the frame.
//!
//! # Implementation notes
//! Tiles are independent, so each level's search runs in parallel over tiles (rayon). Frames
//! are aligned one at a time against an [`AlignPlan`] that holds the reference pyramid, so a
//! caller can stream frames without holding the whole burst. The plan also holds what
//! Lucas-Kanade needs of the reference (its gradients and each tile's structure tensor,
//! [`refine::LkReference`]), so a frame computes only its own side.

pub(crate) mod motion;
pub(crate) mod pyramid;
pub(crate) mod refine;
pub(crate) mod search;

use serde::{Deserialize, Serialize};

use crate::burst::Burst;
use crate::error::{Error, Result};
use crate::image::{Plane, Rect};
use crate::raw::RawFrame;
use pyramid::{Pyramid, bayer_to_grey, halve_binomial4};
use rayon::prelude::*;
use search::{Norm, TileGrid};

/// How the finest level's integer displacements are refined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Refinement {
    /// Integer displacements of the alignment image (2 full-resolution pixels), as the IPOL
    /// HDR+ implementation keeps them: the baseline.
    Integer,
    /// The HDR+ supplement's quadratic fit to the 3x3 distances.
    Quadratic,
    /// Lucas-Kanade iterations per tile, from the integer match at the finest level (the
    /// coarser levels still use the quadratic fit); default.
    #[default]
    LucasKanade,
}

/// Parameters of [`align`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignParams {
    /// Reference frame index; `None` (default) picks the sharpest of the first three frames,
    /// or in an exposure bracket the one with the most usable signal
    /// ([`best_reference`]).
    pub reference: Option<usize>,
    /// Tile size at the finest level in alignment-image pixels (each is a 2x2 Bayer quad),
    /// 8 to 64, even; default 16 (32 full-resolution pixels, matching merge tiles of 16 per
    /// Bayer plane). Smaller: follows local motion more closely, noisier estimates.
    pub tile_size: usize,
    /// Search radius at the coarse levels in that level's pixels, 1 to 8; default 4. The
    /// largest displacement found is about `radius * 64` full-resolution pixels.
    pub coarse_radius: i32,
    /// Search radius at the finest level, 1 to 4; default 1.
    pub fine_radius: i32,
    /// Sub-pixel refinement; default [`Refinement::LucasKanade`].
    pub refinement: Refinement,
    /// Most Lucas-Kanade iterations per tile, 1 to 20; default 4 (a tile stops earlier once
    /// an update moves it less than 0.02 full-resolution pixels). More: slower, rarely more
    /// precise.
    pub lk_iterations: usize,
}

impl Default for AlignParams {
    fn default() -> Self {
        AlignParams {
            reference: None,
            tile_size: 16,
            coarse_radius: 4,
            fine_radius: 1,
            refinement: Refinement::LucasKanade,
            lk_iterations: 4,
        }
    }
}

impl AlignParams {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        if !(8..=64).contains(&self.tile_size) || !self.tile_size.is_multiple_of(2) {
            return Err(Error::parameter(
                "tile_size",
                format!("{} (allowed: even, 8 to 64)", self.tile_size),
            ));
        }
        if !(1..=8).contains(&self.coarse_radius) {
            return Err(Error::parameter(
                "coarse_radius",
                format!("{} (allowed: 1 to 8)", self.coarse_radius),
            ));
        }
        if !(1..=4).contains(&self.fine_radius) {
            return Err(Error::parameter(
                "fine_radius",
                format!("{} (allowed: 1 to 4)", self.fine_radius),
            ));
        }
        if !(1..=20).contains(&self.lk_iterations) {
            return Err(Error::parameter(
                "lk_iterations",
                format!("{} (allowed: 1 to 20)", self.lk_iterations),
            ));
        }
        Ok(())
    }
}

/// One frame's alignment to the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    /// Tiles per row.
    pub tiles_x: usize,
    /// Tile rows.
    pub tiles_y: usize,
    /// Distance between tile origins, full-resolution pixels.
    pub tile_step: usize,
    /// Tile side, full-resolution pixels.
    pub tile_size: usize,
    /// Top-left corner of the area the tiles cover (the active area), buffer coordinates.
    pub origin: [usize; 2],
    /// Displacement `[dx, dy]` per tile, row-major, full-resolution pixels: the reference
    /// pixel at `p` is found at `p + [dx, dy]` in this frame.
    pub field: Vec<[f32; 2]>,
    /// RMS difference per tile between the reference and the aligned frame at the found
    /// displacement, in normalised signal units of the alignment image. High values mark
    /// tiles where the match is poor (occlusion, local motion the tile cannot follow).
    pub residual: Vec<f32>,
    /// Distance per tile, full-resolution pixels, between its displacement and the smooth
    /// motion of its neighbourhood (robust local affine fits to the well-posed tiles; see
    /// [`AlignPlan::align`]). Near zero where the tile moves with its surroundings (the camera);
    /// large on independently moving objects. Empty when unknown (older reports).
    #[serde(default)]
    pub deviation: Vec<f32>,
    /// RMS difference per tile as [`Alignment::residual`], measured one pyramid level
    /// coarser (alignment image decimated by 2 after its low-pass): aliasing, which makes
    /// frames differ at fine scales even where they are well aligned, mostly drops out there,
    /// while a moving object the tile did not follow does not. Empty when the frame is too
    /// small for that level, or unknown.
    #[serde(default)]
    pub coarse_residual: Vec<f32>,
}

impl Alignment {
    /// Centre of tile `(i, j)` relative to [`Alignment::origin`], full-resolution pixels.
    pub fn tile_centre(&self, i: usize, j: usize) -> [f32; 2] {
        let h = self.tile_size as f32 / 2.0;
        [
            (j * self.tile_step) as f32 + h,
            (i * self.tile_step) as f32 + h,
        ]
    }

    /// Tiles whose residual is more than [`UNRELIABLE_FACTOR`] times the frame's median
    /// residual: their match is poor (occlusion, local motion they could not follow), and
    /// merging should lean on the reference there.
    pub fn unreliable(&self) -> Vec<bool> {
        let med = median(self.residual.iter().copied());
        self.residual
            .iter()
            .map(|&e| e > UNRELIABLE_FACTOR * med)
            .collect()
    }

    /// Tiles that move with the scene around them: within [`STEADY_DEVIATION`] of their
    /// neighbourhood's smooth motion ([`Alignment::deviation`]) and matching well one level
    /// coarser (a [`Alignment::coarse_residual`] at most [`STEADY_RESIDUAL_FACTOR`] times the
    /// frame's median; without one, not [`Alignment::unreliable`]). Differences between
    /// frames there are aliasing and noise, not motion. All false when the deviation is
    /// unknown.
    pub fn steady(&self) -> Vec<bool> {
        let n = self.field.len();
        if self.deviation.len() != n {
            return vec![false; n];
        }
        let matches: Vec<bool> = if self.coarse_residual.len() == n {
            let med = median(self.coarse_residual.iter().copied());
            self.coarse_residual
                .iter()
                .map(|&e| e <= STEADY_RESIDUAL_FACTOR * med)
                .collect()
        } else {
            self.unreliable().iter().map(|&u| !u).collect()
        };
        self.deviation
            .iter()
            .zip(matches)
            .map(|(&d, ok)| ok && d <= STEADY_DEVIATION)
            .collect()
    }

    /// The share of tiles [`Alignment::unreliable`] flags (0 for an empty field).
    pub fn unreliable_fraction(&self) -> f32 {
        let bad = self.unreliable();
        bad.iter().filter(|&&b| b).count() as f32 / bad.len().max(1) as f32
    }

    /// Median displacement over all tiles (per component).
    pub fn median(&self) -> [f32; 2] {
        [0, 1].map(|k| median(self.field.iter().map(|d| d[k])))
    }
}

/// The upper median of `values` (0 for none).
fn median(values: impl Iterator<Item = f32>) -> f32 {
    let mut v: Vec<f32> = values.collect();
    if v.is_empty() {
        return 0.0;
    }
    let k = v.len() / 2;
    *v.select_nth_unstable_by(k, f32::total_cmp).1
}

/// Alignments of every frame of a burst to its reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstAlignment {
    /// Index of the reference frame in the burst.
    pub reference: usize,
    /// One alignment per frame, in burst order; the reference's field is zero.
    pub frames: Vec<Alignment>,
}

/// Level schedule: decimation factors from the grey image (HDR+: 1, 2, 4, 4), tile sizes,
/// search radii and norms, finest first.
struct Level {
    factor: usize,
    tile: usize,
    radius: i32,
    norm: Norm,
}

fn schedule(params: &AlignParams, w: usize, h: usize) -> Vec<Level> {
    let mut levels = vec![Level {
        factor: 1,
        tile: params.tile_size,
        radius: params.fine_radius,
        norm: Norm::L1,
    }];
    let (mut lw, mut lh) = (w, h);
    for (factor, tile) in [(2usize, 16usize), (4, 16), (4, 8)] {
        let (nw, nh) = (lw.div_ceil(factor), lh.div_ceil(factor));
        if nw < tile || nh < tile {
            break;
        }
        (lw, lh) = (nw, nh);
        levels.push(Level {
            factor,
            tile,
            radius: params.coarse_radius,
            norm: Norm::L2,
        });
    }
    levels
}

/// A tile is unreliable when its residual exceeds this multiple of the frame's median
/// residual (see [`Alignment::unreliable`]).
pub const UNRELIABLE_FACTOR: f32 = 3.0;

/// Largest distance, full-resolution pixels, of a tile's displacement from its
/// neighbourhood's smooth motion for it to count as steady ([`Alignment::steady`]).
pub const STEADY_DEVIATION: f32 = 0.25;

/// Largest coarse residual, in multiples of the frame's median, of a steady tile
/// ([`Alignment::steady`]). On the aliased chart of `tests/kernel_merge.rs` the kernel merge
/// gains +2.78 dB with 4, +3.18 dB with 7, where the moving disc starts to ghost (-0.93 dB in
/// its footprint, against +0.93 dB with 4).
pub const STEADY_RESIDUAL_FACTOR: f32 = 4.0;

/// How much worse (relative distance) a neighbourhood's median displacement may match a
/// tile than the tile's own before the tile keeps its own (see `search::regularize`).
const REGULARIZE_TOLERANCE: f32 = 0.1;

/// Smallest ratio of a tile's weaker to stronger gradient energy for it to count as
/// determining its motion in both directions.
const WELL_POSED_RATIO: f32 = 0.1;

/// Farthest a well-posed tile's own estimate may lie from its neighbourhood's motion, in
/// alignment-image pixels (2 full-resolution pixels each), for the neighbourhood's to replace
/// it (see `AlignPlan::resolve_ambiguous`).
const SNAP_DISTANCE: f32 = 4.0;

/// How much worse (relative RMS) the neighbourhood's motion may match a tile than the tile's
/// own estimate and still replace it. Measured on the aliased resolution chart
/// (`tests/kernel_merge.rs`): 0.2 leaves 94 of 5,000 tiles more than a pixel off, 0.5
/// leaves 51, 1.0 leaves 7.
const SNAP_TOLERANCE: f32 = 1.0;

/// The Lucas-Kanade reference over the finest level's tiles of `pyramid`.
fn lk_reference(pyramid: &Pyramid, params: &AlignParams) -> refine::LkReference {
    let r = &pyramid.levels[0];
    refine::LkReference::new(r, &TileGrid::new(r.width, r.height, params.tile_size))
}

/// Level (normalised) at which photosites saturate in the alignment image.
const CEILING: f32 = 1.0;

/// The reference side of alignment, built once per burst: its pyramid and the schedule.
pub struct AlignPlan {
    params: AlignParams,
    area: Rect,
    reference: Pyramid,
    /// The reference side of the Lucas-Kanade refinement on the finest level's tiles.
    lk: refine::LkReference,
    gain: f64,
}

impl AlignPlan {
    /// Builds the plan from the reference frame. `params` is validated here.
    pub fn new(reference: &RawFrame, params: &AlignParams) -> Result<AlignPlan> {
        params.validate()?;
        reference.require_bayer("alignment")?;
        let area = reference.active_area;
        if area.width / 2 < params.tile_size || area.height / 2 < params.tile_size {
            return Err(Error::parameter(
                "tile_size",
                format!(
                    "{} alignment pixels does not fit the {}x{} frame {}",
                    params.tile_size,
                    area.width,
                    area.height,
                    reference.path.display()
                ),
            ));
        }
        let gain = reference.exposure_product();
        let grey = bayer_to_grey(&reference.mosaic, area, 1.0, CEILING);
        let factors: Vec<usize> = schedule(params, grey.width, grey.height)
            .iter()
            .map(|l| l.factor)
            .collect();
        let reference = Pyramid::new(grey, &factors);
        let lk = lk_reference(&reference, params);
        Ok(AlignPlan {
            params: params.clone(),
            area,
            reference,
            lk,
            gain,
        })
    }

    /// Aligns one frame (of the same burst) to the reference.
    pub fn align(&self, frame: &RawFrame) -> Result<Alignment> {
        frame.require_bayer("alignment")?;
        if frame.active_area != self.area {
            return Err(Error::parameter(
                "frame",
                format!(
                    "{}: active area {:?} differs from the reference's {:?}",
                    frame.path.display(),
                    frame.active_area,
                    self.area
                ),
            ));
        }
        // bring the frame to the reference's exposure, and let both clip at the level the
        // darker of the two saturates at (a longer frame clips at `gain` in reference units)
        let gain = (self.gain / frame.exposure_product()) as f32;
        let ceiling = CEILING.min(gain * CEILING);
        let grey = bayer_to_grey(&frame.mosaic, self.area, gain, ceiling);
        let levels = schedule(&self.params, grey.width, grey.height);
        let factors: Vec<usize> = levels.iter().map(|l| l.factor).collect();
        let alt = Pyramid::new(grey, &factors);
        let clipped;
        let (reference, lk) = if ceiling < CEILING {
            // (clamping the quad averages rather than each photosite: close enough to align)
            let mut grey = self.reference.levels[0].clone();
            grey.data.iter_mut().for_each(|v| *v = v.min(ceiling));
            let pyramid = Pyramid::new(grey, &factors);
            let lk = lk_reference(&pyramid, &self.params);
            clipped = (pyramid, lk);
            (&clipped.0, &clipped.1)
        } else {
            (&self.reference, &self.lk)
        };

        let mut disp: Vec<(f32, f32)> = Vec::new();
        let mut prev_grid: Option<TileGrid> = None;
        for l in (0..levels.len()).rev() {
            let (r, a) = (&reference.levels[l], &alt.levels[l]);
            let grid = TileGrid::new(r.width, r.height, levels[l].tile);
            let candidates = match prev_grid {
                None => vec![vec![(0.0, 0.0)]; grid.len()],
                Some(pg) => {
                    search::upsample_candidates(&grid, &pg, &disp, levels[l + 1].factor as f32)
                }
            };
            // at the finest level Lucas-Kanade refines from the integer match itself
            let subpixel = l > 0 || self.params.refinement == Refinement::Quadratic;
            disp = search::search_level(
                r,
                a,
                &grid,
                &candidates,
                levels[l].radius,
                levels[l].norm,
                subpixel,
            );
            disp = search::regularize(r, a, &grid, &disp, levels[l].norm, REGULARIZE_TOLERANCE);
            prev_grid = Some(grid);
        }
        let grid = *lk.grid();
        debug_assert_eq!(Some(grid), prev_grid);
        let (r, a) = (&reference.levels[0], &alt.levels[0]);
        let refine = self.params.refinement;
        let iters = if refine == Refinement::LucasKanade {
            self.params.lk_iterations
        } else {
            0
        };
        let mut fits: Vec<refine::TileFit> = (0..grid.len())
            .into_par_iter()
            .map(|t| lk.refine(r, a, t, disp[t], iters, None))
            .collect();
        let deviation = if refine == Refinement::LucasKanade {
            self.resolve_ambiguous(lk, r, a, &mut fits)
        } else {
            Vec::new()
        };
        // the same match one level coarser, where the pyramid's low-pass has removed most
        // of what aliasing makes differ between frames
        let coarse_residual = match (reference.levels.get(1), alt.levels.get(1)) {
            (Some(r1), Some(a1)) if levels.get(1).is_some_and(|l| l.factor == 2) => {
                let size = (grid.size / 2).max(2);
                (0..grid.len())
                    .into_par_iter()
                    .map(|t| {
                        let (x0, y0) = grid.origin(t);
                        let d = (fits[t].d.0 * 0.5, fits[t].d.1 * 0.5);
                        refine::tile_rms(r1, a1, x0 / 2, y0 / 2, size, d)
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(Alignment {
            tiles_x: grid.nx,
            tiles_y: grid.ny,
            tile_step: grid.step * 2,
            tile_size: grid.size * 2,
            origin: [self.area.x, self.area.y],
            field: fits.iter().map(|f| [2.0 * f.d.0, 2.0 * f.d.1]).collect(),
            residual: fits.iter().map(|f| f.rms).collect(),
            deviation,
            coarse_residual,
        })
    }

    /// Tiles whose own match cannot be trusted take the smooth motion of their
    /// neighbourhood ([`motion::LocalMotion`], fitted robustly to the well-posed tiles):
    /// - tiles that do not pin their motion down in both directions (flat, or a single edge
    ///   or stripe pattern: the aperture problem) take it along their weak direction and are
    ///   re-refined from it along their normal (strong) direction only;
    /// - any other tile takes it outright when it lies within [`SNAP_DISTANCE`] of the
    ///   tile's own estimate and matches the tile at most [`SNAP_TOLERANCE`] worse (RMS):
    ///   aliased detail (stripes, fine text, foliage above the sensor's Nyquist frequency)
    ///   looks alike at wrong offsets, so such tiles lock a fraction of a pixel to a few
    ///   pixels off, and match a little better there than at the true motion, where the
    ///   aliasing differs between frames.
    ///
    /// Tiles on independently moving objects match far worse at the neighbourhood's motion
    /// and keep their own estimate.
    ///
    /// Returns each tile's distance from its neighbourhood's motion afterwards
    /// ([`Alignment::deviation`], full-resolution pixels; empty without a model).
    fn resolve_ambiguous(
        &self,
        lk: &refine::LkReference,
        r: &Plane<f32>,
        a: &Plane<f32>,
        fits: &mut [refine::TileFit],
    ) -> Vec<f32> {
        let grid = lk.grid();
        let n = grid.size * grid.size;
        let posed: Vec<Option<(f32, f32)>> = fits
            .iter()
            .map(|f| f.is_well_posed(WELL_POSED_RATIO, n).then_some(f.d))
            .collect();
        let Some(model) = motion::LocalMotion::fit(grid, &posed) else {
            return Vec::new();
        };
        let priors: Vec<(f32, f32)> = (0..grid.len()).map(|t| model.at(t)).collect();
        let iters = self.params.lk_iterations;
        let updated: Vec<Option<refine::TileFit>> = (0..grid.len())
            .into_par_iter()
            .map(|t| {
                let f = fits[t];
                let prior = priors[t];
                let at_prior = || lk.at(r, a, t, prior);
                if posed[t].is_some() {
                    let off = (f.d.0 - prior.0).hypot(f.d.1 - prior.1);
                    if off > SNAP_DISTANCE {
                        return None;
                    }
                    let g = at_prior();
                    return (g.rms <= f.rms * (1.0 + SNAP_TOLERANCE)).then_some(g);
                }
                let flat = f.strong <= n as f32 * f.rms * f.rms;
                if flat {
                    return Some(refine::TileFit {
                        d: prior,
                        ..at_prior()
                    });
                }
                let g = lk.refine(r, a, t, prior, iters, Some(f.normal));
                // along its normal a stripe tile can lock a period off, as above
                let p = at_prior();
                Some(if p.rms <= g.rms * (1.0 + SNAP_TOLERANCE) {
                    p
                } else {
                    g
                })
            })
            .collect();
        for (f, u) in fits.iter_mut().zip(updated) {
            if let Some(u) = u {
                *f = u;
            }
        }
        fits.iter()
            .zip(&priors)
            .map(|(f, m)| 2.0 * (f.d.0 - m.0).hypot(f.d.1 - m.1))
            .collect()
    }

    /// The zero alignment of the reference itself.
    pub fn identity(&self) -> Alignment {
        let grid = TileGrid::new(
            self.area.width / 2,
            self.area.height / 2,
            self.params.tile_size,
        );
        Alignment {
            tiles_x: grid.nx,
            tiles_y: grid.ny,
            tile_step: grid.step * 2,
            tile_size: grid.size * 2,
            origin: [self.area.x, self.area.y],
            field: vec![[0.0, 0.0]; grid.len()],
            residual: vec![0.0; grid.len()],
            deviation: vec![0.0; grid.len()],
            coarse_residual: vec![0.0; grid.len()],
        }
    }
}

/// Gradient energy of a frame's alignment image decimated by 2, per pixel, relative to its
/// mean brightness squared (so exposure does not favour a frame).
fn sharpness(frame: &RawFrame) -> f64 {
    let g = halve_binomial4(&bayer_to_grey(
        &frame.mosaic,
        frame.active_area,
        1.0,
        CEILING,
    ));
    let (mut e, mut m) = (0.0f64, 0.0f64);
    for y in 0..g.height.saturating_sub(1) {
        let (r0, r1) = (g.row(y), g.row(y + 1));
        for x in 0..g.width.saturating_sub(1) {
            let (dx, dy) = (r0[x + 1] - r0[x], r1[x] - r0[x]);
            e += f64::from(dx * dx + dy * dy);
            m += f64::from(r0[x]);
        }
    }
    let n = ((g.width.saturating_sub(1)) * (g.height.saturating_sub(1))).max(1) as f64;
    let mean = m / n;
    if mean > 0.0 {
        e / n / (mean * mean)
    } else {
        0.0
    }
}

/// The reference among the first three frames: the sharpest (HDR+ section 4) when they
/// share one exposure, the one with the most usable signal in an exposure bracket (see
/// [`best_reference`]).
pub fn choose_reference(burst: &Burst) -> usize {
    let firsts: Vec<&RawFrame> = burst.frames.iter().take(REFERENCE_CANDIDATES).collect();
    best_reference(&firsts)
}

/// Frames considered for the reference when none is asked for: the first three.
pub const REFERENCE_CANDIDATES: usize = 3;

/// The reference rule, written once: the frames of a burst of `n` that may be its
/// reference, in order: `[r]` when frame `r` is asked for, else the first
/// [`REFERENCE_CANDIDATES`] (of which [`best_reference`] picks one). Errors: `r` not a frame
/// of the burst, or an empty burst.
pub fn reference_candidates(reference: Option<usize>, n: usize) -> Result<Vec<usize>> {
    match reference {
        _ if n == 0 => Err(Error::parameter("frames", "0 (at least 1)")),
        Some(r) if r >= n => Err(Error::parameter(
            "reference",
            format!("{r} (the burst has frames 0 to {})", n - 1),
        )),
        Some(r) => Ok(vec![r]),
        None => Ok((0..n.min(REFERENCE_CANDIDATES)).collect()),
    }
}

/// Exposures (time x ISO) closer than this, in EV, count as one exposure.
const SAME_EXPOSURE_EV: f64 = 0.05;

/// The best reference among `frames` (the first of equals; 0 for none).
///
/// - Frames of one exposure: the sharpest, by gradient energy ([`sharpest`]).
/// - An exposure bracket: the frame with the most usable signal for the scene, the mean
///   over its photosites of `0.5 log2(1 + SNR^2)` bits with clipped photosites counting
///   nothing (SNR from the frame's NoiseProfile, or a typical sensor's without one). The
///   longest exposure wins unless it clips much of the scene; then a shorter one, whose
///   highlights anchor the merge. The merge renders the result at the burst's longest
///   exposure whichever frame this picks, so the choice moves no brightness.
pub fn best_reference(frames: &[&RawFrame]) -> usize {
    if reference_rule(frames) != ReferenceRule::UsableSignal {
        return sharpest(frames);
    }
    let scores: Vec<f64> = frames.par_iter().map(|f| usable_signal(f)).collect();
    (0..frames.len())
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// Which rule [`best_reference`] applies to `frames`: the sharpest when their exposures
/// agree within [`SAME_EXPOSURE_EV`], the most usable signal in a bracket.
fn reference_rule(frames: &[&RawFrame]) -> ReferenceRule {
    let (lo, hi) = frames
        .iter()
        .map(|f| f.exposure_product())
        .fold((f64::MAX, f64::MIN), |(a, b), e| (a.min(e), b.max(e)));
    if frames.len() < 2 || frames.iter().any(|f| f.is_rgb()) {
        ReferenceRule::First
    } else if lo.is_nan() || lo <= 0.0 || (hi / lo).log2() <= SAME_EXPOSURE_EV {
        ReferenceRule::Sharpest
    } else {
        ReferenceRule::UsableSignal
    }
}

/// What [`best_reference`] compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReferenceRule {
    /// Frames of one exposure: the sharpest (gradient energy over mean brightness squared).
    Sharpest,
    /// An exposure bracket: the most usable signal (mean bits per photosite, clipped ones
    /// counting nothing).
    UsableSignal,
    /// Nothing to compare (fewer than two frames, or linear RGB frames): the first.
    First,
}

impl ReferenceRule {
    /// `frame`'s score under this rule (higher is better; 0 for [`ReferenceRule::First`]).
    pub fn score(self, frame: &RawFrame) -> f64 {
        match self {
            ReferenceRule::Sharpest => sharpness(frame),
            ReferenceRule::UsableSignal => usable_signal(frame),
            ReferenceRule::First => 0.0,
        }
    }
}

/// The scores [`best_reference`] ranks `frames` by and the rule that chose them, for
/// diagnostics: the best reference is the first of the highest scores.
pub fn reference_scores(frames: &[&RawFrame]) -> (ReferenceRule, Vec<f64>) {
    let rule = reference_rule(frames);
    (rule, frames.par_iter().map(|f| rule.score(f)).collect())
}

/// Mean information per photosite of `frame`, in bits: `0.5 log2(1 + v^2 / var(v))` for a
/// photosite at normalised level `v` below clipping, 0 for a clipped one. Every fourth row
/// and column of 2x2 quads is sampled (all four colours).
fn usable_signal(frame: &RawFrame) -> f64 {
    // a typical phone sensor at base ISO, normalised units, when the file has no profile
    const DEFAULT: crate::raw::NoiseModel = crate::raw::NoiseModel {
        scale: 1e-3,
        offset: 1e-5,
    };
    let area = frame.active_area;
    let cfa = frame.cfa_at(area);
    let model = |c: usize| {
        frame
            .meta
            .noise_profile
            .get(c)
            .or_else(|| frame.meta.noise_profile.first())
            .copied()
            .unwrap_or(DEFAULT)
    };
    let models = [0, 1, 2].map(model);
    let (mut bits, mut n) = (0.0f64, 0usize);
    for qy in (0..area.height / 2).step_by(4) {
        for qx in (0..area.width / 2).step_by(4) {
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (x, y) = (2 * qx + dx, 2 * qy + dy);
                let v = f64::from(frame.mosaic.get(area.x + x, area.y + y));
                n += 1;
                if v >= f64::from(crate::raw::CLIP_LEVEL) {
                    continue;
                }
                let m = models[cfa.color_at(x, y) as usize];
                let var = (m.scale * v.max(0.0) + m.offset).max(1e-12);
                bits += 0.5 * (1.0 + v.max(0.0) * v.max(0.0) / var).log2();
            }
        }
    }
    bits / n.max(1) as f64
}

/// The index of the sharpest of `frames` by gradient energy (the first of equals); 0 for
/// none. [`choose_reference`] on frames held elsewhere (a streamed burst's first three).
pub fn sharpest(frames: &[&RawFrame]) -> usize {
    let n = frames.len();
    // one candidate needs no score; linear RGB frames have no mosaic to score (alignment
    // refuses them with Unsupported later), so they keep the first
    if n < 2 || frames.iter().any(|f| f.is_rgb()) {
        return 0;
    }
    let scores: Vec<f64> = frames.par_iter().map(|f| sharpness(f)).collect();
    (0..n)
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// Aligns every frame of `burst` to its reference frame.
///
/// ```no_run
/// use obscura::{Burst, align};
/// let burst = Burst::open(&["samples/burst".into()])?;
/// let al = align::align(&burst, &align::AlignParams::default())?;
/// for (f, a) in burst.frames.iter().zip(&al.frames) {
///     println!("{}: median shift {:?}", f.path.display(), a.median());
/// }
/// # Ok::<(), obscura::Error>(())
/// ```
pub fn align(burst: &Burst, params: &AlignParams) -> Result<BurstAlignment> {
    align_with(burst, params, &mut |_| {})
}

/// [`align`], calling `done(k)` after frame `k` is aligned (for progress reports).
pub fn align_with(
    burst: &Burst,
    params: &AlignParams,
    done: &mut dyn FnMut(usize),
) -> Result<BurstAlignment> {
    let candidates = reference_candidates(params.reference, burst.frames.len())?;
    let reference = match params.reference {
        Some(r) => r,
        None => choose_reference(burst),
    };
    debug_assert!(candidates.contains(&reference));
    let plan = AlignPlan::new(&burst.frames[reference], params)?;
    let frames = burst
        .frames
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let a = if k == reference {
                Ok(plan.identity())
            } else {
                plan.align(f)
            };
            done(k);
            a
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(BurstAlignment { reference, frames })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alignment(deviation: Vec<f32>, coarse: Vec<f32>, residual: Vec<f32>) -> Alignment {
        Alignment {
            tiles_x: residual.len(),
            tiles_y: 1,
            tile_step: 16,
            tile_size: 32,
            origin: [0, 0],
            field: vec![[0.0, 0.0]; residual.len()],
            residual,
            deviation,
            coarse_residual: coarse,
        }
    }

    /// Steady tiles: near their neighbourhood's motion and matching well one level coarser,
    /// whatever their fine residual (which aliasing inflates); without a coarse residual the
    /// fine one decides; without deviations nothing is steady.
    #[test]
    fn steady_tiles_follow_their_neighbourhood_and_match_coarsely() {
        let dev = vec![0.1, 0.1, 0.5, 0.1, 0.0, 0.2];
        let coarse = vec![1.0, 1.0, 1.0, 5.0, 1.0, 3.9];
        let fine = vec![1.0, 9.0, 1.0, 1.0, 1.0, 1.0];
        let a = alignment(dev.clone(), coarse, fine.clone());
        assert_eq!(a.steady(), [true, true, false, false, true, true]);
        let a = alignment(dev, Vec::new(), fine.clone());
        assert_eq!(a.steady(), [true, false, false, true, true, true]);
        let a = alignment(Vec::new(), Vec::new(), fine);
        assert_eq!(a.steady(), [false; 6]);
    }
}
