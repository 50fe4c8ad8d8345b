//! The tile merge of one Bayer plane: pairwise robust Wiener shrinkage in the frequency domain
//! (HDR+ section 5), then optional spatial denoising of the merged tiles.
//!
//! # Geometry
//! A plane is padded by [`STEP`] pixels on every side (mirrored) and cut into [`TILE`] x
//! [`TILE`] tiles every [`STEP`] pixels. Each tile is multiplied once by the separable raised
//! cosine window `w(n) = 1/2 - 1/2 cos(2 pi (n + 1/2) / 16)`, for which `w(n) + w(n + 8) = 1`, so
//! overlap-adding the windowed tiles rebuilds the plane exactly.
//!
//! # Merge
//! With `T0` the reference tile's spectrum and `Tz` an alternate frame's:
//! `Tz' = Tz + A (T0 - Tz)`, `A = |D|^2 / (|D|^2 + c s^2)`, `D = T0 - Tz`, where `s^2` is the
//! expected variance of one coefficient of `D` from noise alone: `(var0 + varz) * sum(w^2)`,
//! the variances taken from the noise model at the tile's mean brightness. Where frames
//! agree up to noise `A` is small and the alternate frame is averaged in; where they differ by
//! more (motion, misalignment) `A` goes to 1 and the reference is kept: no ghosts. The merged
//! plane is the mean over frames of the `Tz'` (the reference contributing `T0`).
//!
//! # Implementation notes
//! Tile rows of the same parity do not overlap, so each frame is accumulated in two parallel
//! passes (even rows, then odd rows), each tile row writing its own 16-row band.
//!
//! The transforms run [`LANES`] tiles of a row at a time ([`TileBatch`]): one pass over the
//! reference, the alternate and its validity writes each tile straight into its lane, the
//! reference as real part and the alternate as imaginary part of one complex transform; the
//! per-coefficient merge runs over all lanes at once, and two batches' merged spectra (real
//! tiles, so Hermitian) share one inverse, whose lanes are overlap-added straight into the
//! band. The spatial denoise pairs two batches of tiles in one forward and one inverse.

use rayon::prelude::*;

use super::fft::{AREA, LANES, Lanes, TileBatch, negated};
use crate::cpu::{Isa, kernels};
use crate::image::mirror_symmetric;

/// Tile side, plane pixels.
pub(crate) const TILE: usize = 16;
/// Tile step (half overlap), plane pixels.
pub(crate) const STEP: usize = 8;

/// The raised cosine window.
pub(crate) fn window() -> [f32; TILE] {
    std::array::from_fn(|n| {
        0.5 - 0.5 * (2.0 * std::f32::consts::PI * (n as f32 + 0.5) / TILE as f32).cos()
    })
}

/// Sum over the 2-D window of w(x)^2 w(y)^2: the per-coefficient variance of windowed unit
/// white noise.
pub(crate) fn window_energy() -> f32 {
    let s: f32 = window().iter().map(|w| w * w).sum();
    s * s
}

/// A plane padded by [`STEP`] on each side (mirrored), its width and height multiples of
/// [`STEP`].
#[derive(Debug, Clone)]
pub(crate) struct Padded {
    pub w: usize,
    pub h: usize,
    pub data: Vec<f32>,
}

/// Width and height of the padded plane for an `inner_w` x `inner_h` plane: [`STEP`] more on
/// each side, rounded up to multiples of [`STEP`].
fn padded_size(inner_w: usize, inner_h: usize) -> (usize, usize) {
    (
        (inner_w + 2 * STEP).div_ceil(STEP) * STEP,
        (inner_h + 2 * STEP).div_ceil(STEP) * STEP,
    )
}

impl Padded {
    /// Padded geometry for an `inner_w` x `inner_h` plane, filled by `get(x, y)` (inner
    /// coordinates, mirrored beyond the edges): the reference for [`Padded::sampled`].
    pub fn new(inner_w: usize, inner_h: usize, get: impl Fn(usize, usize) -> f32 + Sync) -> Padded {
        let (w, h) = padded_size(inner_w, inner_h);
        let mut data = vec![0.0f32; w * h];
        data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let sy = mirror_symmetric(y as isize - STEP as isize, inner_h);
            for (x, v) in row.iter_mut().enumerate() {
                *v = get(mirror_symmetric(x as isize - STEP as isize, inner_w), sy);
            }
        });
        Padded { w, h, data }
    }

    /// Padded geometry for an `inner_w` x `inner_h` plane whose value at inner (`x`, `y`) is
    /// `src[offset + y * stride + x * step]`: a Bayer plane of a mosaic, read row by row,
    /// with [`Padded::new`]'s mirrored borders.
    pub fn sampled(
        inner_w: usize,
        inner_h: usize,
        src: &[f32],
        (offset, stride, step): (usize, usize, usize),
    ) -> Padded {
        let mut p = Padded::zeros(inner_w, inner_h);
        p.inner_rows_mut(inner_w, inner_h)
            .enumerate()
            .for_each(|(y, row)| {
                let line = &src[offset + y * stride..];
                for (v, s) in row.iter_mut().zip(line.iter().step_by(step)) {
                    *v = *s;
                }
            });
        p.mirror_border(inner_w, inner_h);
        p
    }

    /// The geometry for an `inner_w` x `inner_h` plane, zero-filled: fill the inner part,
    /// then [`Padded::mirror_border`].
    pub fn zeros(inner_w: usize, inner_h: usize) -> Padded {
        let (w, h) = padded_size(inner_w, inner_h);
        Padded {
            w,
            h,
            data: vec![0.0; w * h],
        }
    }

    /// Whether this is the geometry [`Padded::zeros`] makes for that inner size.
    pub fn fits(&self, inner_w: usize, inner_h: usize) -> bool {
        (self.w, self.h) == padded_size(inner_w, inner_h)
    }

    /// The inner part's rows (`inner_w` wide), in parallel, to fill.
    pub fn inner_rows_mut(
        &mut self,
        inner_w: usize,
        inner_h: usize,
    ) -> impl IndexedParallelIterator<Item = &mut [f32]> + '_ {
        let w = self.w;
        self.data[STEP * w..(STEP + inner_h) * w]
            .par_chunks_mut(w)
            .map(move |r| &mut r[STEP..STEP + inner_w])
    }

    /// Fills the border around the `inner_w` x `inner_h` inner part by mirroring it, as
    /// [`Padded::new`] does.
    pub fn mirror_border(&mut self, inner_w: usize, inner_h: usize) {
        let w = self.w;
        for y in STEP..STEP + inner_h {
            let row = &mut self.data[y * w..(y + 1) * w];
            for x in (0..STEP).chain(STEP + inner_w..w) {
                row[x] = row[STEP + mirror_symmetric(x as isize - STEP as isize, inner_w)];
            }
        }
        for y in (0..STEP).chain(STEP + inner_h..self.h) {
            let src = STEP + mirror_symmetric(y as isize - STEP as isize, inner_h);
            self.data.copy_within(src * w..(src + 1) * w, y * w);
        }
    }

    /// Same geometry, zero-filled.
    pub fn zeros_like(&self) -> Padded {
        Padded {
            data: vec![0.0; self.data.len()],
            ..*self
        }
    }

    pub fn tiles_x(&self) -> usize {
        (self.w - TILE) / STEP + 1
    }

    pub fn tiles_y(&self) -> usize {
        (self.h - TILE) / STEP + 1
    }

    /// The inner (unpadded) value at (`x`, `y`).
    #[inline]
    pub fn inner(&self, x: usize, y: usize) -> f32 {
        self.data[(y + STEP) * self.w + x + STEP]
    }

    /// Mean of tile (`tx`, `ty`), unwindowed.
    pub fn tile_mean(&self, tx: usize, ty: usize) -> f32 {
        let mut t = [0.0f32; TILE * TILE];
        self.tile(tx, ty, 0, 0, None, &mut t);
        t.iter().sum::<f32>() / (TILE * TILE) as f32
    }

    /// Copies tile (`tx`, `ty`) out, shifted by (`dx`, `dy`) pixels (clamped to the padded
    /// plane), optionally windowed.
    fn tile(
        &self,
        tx: usize,
        ty: usize,
        dx: isize,
        dy: isize,
        win: Option<&[f32; TILE]>,
        out: &mut [f32],
    ) {
        let (x0, y0) = ((tx * STEP) as isize + dx, (ty * STEP) as isize + dy);
        if x0 >= 0 && y0 >= 0 && x0 as usize + TILE <= self.w && y0 as usize + TILE <= self.h {
            let (x0, y0) = (x0 as usize, y0 as usize);
            for (k, o) in out.chunks_exact_mut(TILE).enumerate() {
                let row = &self.data[(y0 + k) * self.w + x0..(y0 + k) * self.w + x0 + TILE];
                match win {
                    Some(wn) => {
                        let wk = wn[k];
                        for ((o, r), wi) in o.iter_mut().zip(row).zip(wn) {
                            *o = r * wi * wk;
                        }
                    }
                    None => o.copy_from_slice(row),
                }
            }
            return;
        }
        for k in 0..TILE {
            let sy = (y0 + k as isize).clamp(0, self.h as isize - 1) as usize;
            let row = &self.data[sy * self.w..(sy + 1) * self.w];
            for i in 0..TILE {
                let sx = (x0 + i as isize).clamp(0, self.w as isize - 1) as usize;
                out[k * TILE + i] = match win {
                    Some(wn) => row[sx] * wn[i] * wn[k],
                    None => row[sx],
                };
            }
        }
    }
}

/// How an alternate frame enters one plane's merge.
pub(crate) enum Alt<'a> {
    /// Already resampled onto the reference's photosites, with a validity plane (1 usable,
    /// 0 not): unusable samples are replaced by the reference's, and a tile with fewer than
    /// half its samples usable is kept from the reference.
    Warped {
        plane: &'a Padded,
        valid: &'a Padded,
    },
    /// The alternate frame's own plane, each tile read at an integer offset (HDR+).
    Shifted {
        plane: &'a Padded,
        offsets: &'a [(isize, isize)],
    },
}

/// Per-tile merge behaviour.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TileMerge {
    /// `None`: plain average (no robustness). `Some(c)`: Wiener shrinkage with constant c.
    pub robustness: Option<f32>,
}

/// The robust merge's tiles, batched for the transforms ([`TileBatch`]): up to
/// `2 * LANES` tiles of one tile row. Each half of them (`LANES` tiles) goes through one
/// forward transform, the reference tile as real part and the alternate's as imaginary
/// part, and the two halves' merged spectra (each Hermitian: its tile is real) come back
/// through one inverse, the first half's as real part and the second's as imaginary part.
struct MergeBatch {
    isa: Isa,
    fwd: TileBatch,
    /// `M0 + i M1`, the two halves' merged spectra, scaled by 1/256 for the inverse.
    z: TileBatch,
    /// Tiles waiting: column, weight, tolerated difference power `s2`, usable mask.
    len: usize,
    tx: [usize; 2 * LANES],
    weight: [f32; 2 * LANES],
    s2: Lanes,
    masks: Vec<[f32; AREA]>,
    /// The mask written by an unweighted merge, never read.
    spare_mask: [f32; AREA],
    /// Per lane of the half in flight: the difference power accepted and in all (robustness
    /// record).
    kept: Lanes,
    all: Lanes,
}

impl MergeBatch {
    fn new(isa: Isa, weighted: bool) -> MergeBatch {
        MergeBatch {
            isa,
            fwd: TileBatch::default(),
            z: TileBatch::default(),
            len: 0,
            tx: [0; 2 * LANES],
            weight: [0.0; 2 * LANES],
            s2: [0.0; LANES],
            masks: vec![[1.0; AREA]; if weighted { 2 * LANES } else { 0 }],
            spare_mask: [1.0; AREA],
            kept: [0.0; LANES],
            all: [0.0; LANES],
        }
    }

    /// Where the next tile goes: its lane of the forward batch (fill both parts) and its
    /// mask (kept only for a weighted merge). Nothing is queued until
    /// [`MergeBatch::commit`].
    fn slot(&mut self) -> (usize, &mut TileBatch, &mut [f32; AREA]) {
        let lane = self.len % LANES;
        let mask = match self.masks.get_mut(self.len) {
            Some(m) => m,
            None => &mut self.spare_mask,
        };
        (lane, &mut self.fwd, mask)
    }

    /// Queues the tile just written to [`MergeBatch::slot`] (the windowed reference tile as
    /// real part, the windowed alternate as imaginary part) for column `tx`, to be
    /// overlap-added with `weight` (times its mask when weighted) once merged with the
    /// tolerated power `s2`. `robust`, when recording, receives the tile's accepted share
    /// (`sum (1 - A) |d|^2 / sum |d|^2` over its coefficients, 1 when `d` is 0) as its half
    /// is transformed. A full batch is flushed into `band`.
    fn commit(
        &mut self,
        (tx, weight, s2): (usize, f32, f32),
        band: &mut [f32],
        w: usize,
        robust: &mut [f32],
    ) {
        let k = self.len;
        self.tx[k] = tx;
        self.weight[k] = weight;
        self.s2[k % LANES] = s2;
        self.len += 1;
        if self.len == LANES {
            self.transform_half(0, robust);
        } else if self.len == 2 * LANES {
            self.flush(band, w, robust);
        }
    }

    /// The forward transform of the half in the forward batch, merged into `z` (the first
    /// half sets it, the second adds `i` times its spectra).
    fn transform_half(&mut self, half: usize, robust: &mut [f32]) {
        let lanes = self.len - half * LANES;
        // lanes beyond the tiles would hold an earlier batch's spectra, transformed again
        // (growing toward infinity); zero, they keep the other half's tiles exact
        self.fwd.clear_lanes(lanes);
        self.fwd.forward(self.isa);
        let record = !robust.is_empty();
        merge_spectra(
            self.isa,
            &self.fwd,
            &mut self.z,
            &self.s2,
            half == 1,
            record.then_some((&mut self.kept, &mut self.all)),
        );
        if record {
            for l in 0..lanes {
                let (kept, all) = (self.kept[l], self.all[l]);
                robust[self.tx[half * LANES + l]] = if all > 0.0 { kept / all } else { 1.0 };
            }
        }
    }

    /// Transforms what waits and overlap-adds the merged tiles into `band`.
    fn flush(&mut self, band: &mut [f32], w: usize, robust: &mut [f32]) {
        if self.len == 0 {
            return;
        }
        if self.len < LANES {
            self.transform_half(0, robust);
        } else if self.len > LANES {
            self.transform_half(1, robust);
        }
        self.z.inverse(self.isa);
        for k in 0..self.len {
            let part = if k < LANES { &self.z.re } else { &self.z.im };
            let (lane, x0, weight) = (k % LANES, self.tx[k] * STEP, self.weight[k]);
            for (r, rows) in part.chunks_exact(TILE).enumerate() {
                let dst = &mut band[r * w + x0..r * w + x0 + TILE];
                match self.masks.get(k) {
                    Some(m) => {
                        let m = &m[r * TILE..(r + 1) * TILE];
                        for ((d, v), m) in dst.iter_mut().zip(rows).zip(m) {
                            *d += weight * (v[lane] * m);
                        }
                    }
                    None => {
                        for (d, v) in dst.iter_mut().zip(rows) {
                            *d += weight * v[lane];
                        }
                    }
                }
            }
        }
        self.len = 0;
    }
}

/// Tile `lane` of one part of a batch, row-major, into `out`.
fn extract(part: &[Lanes; AREA], lane: usize, out: &mut [f32; AREA]) {
    for (o, v) in out.iter_mut().zip(part.iter()) {
        *o = v[lane];
    }
}

kernels! {
    fn merge_spectra(
        fwd: &TileBatch,
        z: &mut TileBatch,
        s2: &Lanes,
        second: bool,
        record: Option<(&mut Lanes, &mut Lanes)>,
    ) = merge_spectra_body;
    fn denoise_spectra(b: &mut TileBatch, s2: &[Lanes; 2]) = denoise_spectra_body;
}

/// Per lane, from the transform `C` of `t0 + i tz`: the reference's spectrum
/// `T0[k] = (C[k] + conj C[-k]) / 2`, the alternate's `Tz[k] = (C[k] - conj C[-k]) / 2i`,
/// and the merged `Tz + A (T0 - Tz)` with `A` the [`shrinkage`] of `|T0 - Tz|^2` against
/// `s2`, divided by 256 for the inverse; into `z` (`second`: added as `i` times it).
/// `record`: the difference power accepted and in all, per lane.
#[inline(always)]
fn merge_spectra_body(
    fwd: &TileBatch,
    z: &mut TileBatch,
    s2: &Lanes,
    second: bool,
    mut record: Option<(&mut Lanes, &mut Lanes)>,
) {
    const INV_N: f32 = 1.0 / AREA as f32;
    if let Some((kept, all)) = record.as_mut() {
        **kept = [0.0; LANES];
        **all = [0.0; LANES];
    }
    for p in 0..AREA {
        let q = negated(p);
        let (cr, ci, mr, mi) = (&fwd.re[p], &fwd.im[p], &fwd.re[q], &fwd.im[q]);
        let (zr, zi) = (&mut z.re[p], &mut z.im[p]);
        for l in 0..LANES {
            // C[k] and conj(C[-k])
            let (cr, ci, mr, mi) = (cr[l], ci[l], mr[l], -mi[l]);
            let (ar, ai) = ((cr + mr) * 0.5, (ci + mi) * 0.5);
            let (br, bi) = ((ci - mi) * 0.5, -((cr - mr) * 0.5));
            let (dr, di) = (ar - br, ai - bi);
            let d2 = dr * dr + di * di;
            let a = shrinkage(d2, s2[l]);
            let (or, oi) = ((br + a * dr) * INV_N, (bi + a * di) * INV_N);
            if second {
                zr[l] -= oi;
                zi[l] += or;
            } else {
                zr[l] = or;
                zi[l] = oi;
            }
            if let Some((kept, all)) = record.as_mut() {
                kept[l] += (1.0 - a) * d2;
                all[l] += d2;
            }
        }
    }
}

/// Per lane, from the transform `C` of `a + i b` (two real tiles): their spectra `A` and
/// `B`, each shrunk outside DC by `|X|^2 / (|X|^2 + s2)` (`s2[0]` for `A`, `s2[1]` for
/// `B`), recombined in place as `A' + i B'` and divided by 256 for the inverse.
#[inline(always)]
fn denoise_spectra_body(b: &mut TileBatch, s2: &[Lanes; 2]) {
    const INV_N: f32 = 1.0 / AREA as f32;
    for p in 0..AREA {
        let q = negated(p);
        if q < p {
            continue;
        }
        let (pr, pi, qr, qi) = (b.re[p], b.im[p], b.re[q], b.im[q]);
        for l in 0..LANES {
            // C[p] and conj(C[q])
            let (cr, ci, mr, mi) = (pr[l], pi[l], qr[l], -qi[l]);
            let (ar, ai) = ((cr + mr) * 0.5, (ci + mi) * 0.5);
            let (br, bi) = ((ci - mi) * 0.5, -((cr - mr) * 0.5));
            let (fa, fb) = if p == 0 {
                (INV_N, INV_N)
            } else {
                let (a2, b2) = (ar * ar + ai * ai, br * br + bi * bi);
                (
                    a2 / (a2 + s2[0][l]).max(f32::MIN_POSITIVE) * INV_N,
                    b2 / (b2 + s2[1][l]).max(f32::MIN_POSITIVE) * INV_N,
                )
            };
            let (ar, ai, br, bi) = (ar * fa, ai * fa, br * fb, bi * fb);
            // A' + i B' at p; conj(A') + i conj(B') at q
            b.re[p][l] = ar - bi;
            b.im[p][l] = ai + br;
            b.re[q][l] = ar + bi;
            b.im[q][l] = br - ai;
        }
    }
}

/// Adds `tile` into the band at tile column `tx` (overlap-add).
fn add_tile(band: &mut [f32], w: usize, tx: usize, tile: &[f32]) {
    add_tile_scaled(band, w, tx, tile, 1.0);
}

/// `band += weight * tile` at tile column `tx` (a weight of 1 adds exactly the tile).
fn add_tile_scaled(band: &mut [f32], w: usize, tx: usize, tile: &[f32], weight: f32) {
    let x0 = tx * STEP;
    for (k, src) in tile.chunks_exact(TILE).enumerate() {
        for (d, s) in band[k * w + x0..k * w + x0 + TILE].iter_mut().zip(src) {
            *d += weight * s;
        }
    }
}

/// Adds one alternate frame's contribution to `acc` (same geometry as `reference`), counts
/// the tiles it took part in into `used` and returns how many there were. `noise(mean)`
/// gives the per-pixel noise variances (reference, alternate) at a tile's mean brightness;
/// `excluded[t]` forces a tile to the reference.
///
/// Unweighted (`den` None, frames of one exposure): every tile adds the merged tile, or the
/// reference's where the alternate is unusable, and `wsum[t]` grows by 1. Weighted (an
/// exposure bracket, `den` the per-sample sum of weights): a tile adds the merged tile times
/// the alternate's inverse noise variance relative to the reference's, `v0 / vz` at the
/// tile's mean (a longer exposure, less noisy in the reference's units, weighs more), at
/// its usable samples only, and that weight times the window at those samples to `den`;
/// nothing where the tile is unusable; `wsum[t]` grows by the weight.
///
/// The robust merge transforms the reference and the alternate tile together (one complex
/// FFT of `t0 + i tz`), and returns two merged tiles per inverse FFT.
///
/// `robust`, when given (diagnostics; `None` costs nothing), receives per tile the share of
/// the alternate's difference to the reference that the merge accepted
/// (`sum (1 - A) |d|^2 / sum |d|^2` over its coefficients): 1 where it was averaged in whole (no robustness, or a difference
/// within the noise), near 0 where motion was rejected, 0 where the tile was unusable.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate(
    reference: &Padded,
    alt: &Alt,
    acc: &mut Padded,
    used: &mut [u16],
    wsum: &mut [f32],
    mut den: Option<&mut Padded>,
    excluded: &[bool],
    mode: TileMerge,
    noise: &(dyn Fn(f32) -> (f32, f32) + Sync),
    mut robust: Option<&mut [f32]>,
) -> usize {
    const N: usize = TILE * TILE;
    let record = robust.is_some();
    let (ntx, nty) = (reference.tiles_x(), reference.tiles_y());
    let win = window();
    let energy = window_energy();
    let w = reference.w;
    let weighted = den.is_some();
    let win2: Vec<f32> = (0..N).map(|k| win[k / TILE] * win[k % TILE]).collect();
    let isa = Isa::detect();
    let mut taken = 0;
    for parity in 0..2 {
        let start = parity * STEP * w;
        let bands: Vec<(usize, &mut [f32])> = acc.data[start..]
            .chunks_mut(2 * STEP * w)
            .enumerate()
            .map(|(m, band)| (2 * m + parity, band))
            .filter(|(ty, _)| *ty < nty)
            .collect();
        let nb = bands.len();
        let den_bands: Vec<Option<&mut [f32]>> = match den.as_mut() {
            Some(d) => d.data[start..]
                .chunks_mut(2 * STEP * w)
                .take(nb)
                .map(Some)
                .collect(),
            None => (0..nb).map(|_| None).collect(),
        };
        let counts: Vec<(Vec<u16>, Vec<f32>, Vec<f32>)> = bands
            .into_par_iter()
            .zip(den_bands)
            .map(|((ty, band), mut den_band)| {
                let mut t0 = [0.0f32; N];
                let mut tz = [0.0f32; N];
                let mut raw = [0.0f32; N];
                let mut batch = MergeBatch::new(isa, weighted);
                let mut row_used = vec![0u16; ntx];
                let mut row_weight = vec![0f32; ntx];
                let mut row_robust = vec![0f32; if record { ntx } else { 0 }];
                for (tx, tile_used) in row_used.iter_mut().enumerate() {
                    let t = ty * ntx + tx;
                    // the reference's tile windowed (real part) and the alternate's
                    // (imaginary part) into the batch's next lane, and the reference's mean
                    // brightness, which sets the noise variances
                    let (lane, fwd, tile_mask) = batch.slot();
                    let (mean, usable_samples) = match alt {
                        Alt::Warped { plane, valid } => warped_tiles(
                            reference,
                            plane,
                            valid,
                            (tx, ty),
                            &win,
                            fwd,
                            lane,
                            tile_mask,
                        ),
                        Alt::Shifted { plane, offsets } => {
                            let (dx, dy) = offsets[t];
                            reference.tile(tx, ty, 0, 0, None, &mut raw);
                            reference.tile(tx, ty, 0, 0, Some(&win), &mut t0);
                            plane.tile(tx, ty, dx, dy, Some(&win), &mut tz);
                            fwd.load(lane, &t0, Some(&tz));
                            (raw.iter().sum::<f32>() / N as f32, N)
                        }
                    };
                    // a tile with too few usable samples is kept from the reference; in the
                    // others, unusable samples (clipped, outside the frame) take the
                    // reference's value, so they add nothing but the reference itself (a
                    // bracket keeps tiles with fewer usable samples: they are weighted per
                    // sample)
                    let usable = !excluded[t]
                        && if weighted {
                            usable_samples * 8 >= N
                        } else {
                            usable_samples * 2 >= N
                        };
                    if !usable {
                        if !weighted {
                            reference.tile(tx, ty, 0, 0, Some(&win), &mut t0);
                            add_tile(band, w, tx, &t0);
                            row_weight[tx] = 1.0;
                        }
                        continue;
                    }
                    *tile_used = 1;
                    let (v0, vz) = noise(mean);
                    let weight = if weighted {
                        (v0 / vz.max(f32::MIN_POSITIVE)).min(1e4)
                    } else {
                        1.0
                    };
                    row_weight[tx] = weight;
                    let (lane, fwd, tile_mask) = batch.slot();
                    if let Some(db) = den_band.as_deref_mut() {
                        let wm: Vec<f32> = win2
                            .iter()
                            .zip(tile_mask.iter())
                            .map(|(a, b)| a * b)
                            .collect();
                        add_tile_scaled(db, w, tx, &wm, weight);
                    }
                    let Some(c) = mode.robustness else {
                        // the plain mean: the alternate's tile as it stands
                        if let Some(r) = row_robust.get_mut(tx) {
                            *r = 1.0;
                        }
                        extract(&fwd.im, lane, &mut tz);
                        if weighted {
                            tz.iter_mut()
                                .zip(tile_mask.iter())
                                .for_each(|(z, m)| *z *= m);
                        }
                        add_tile_scaled(band, w, tx, &tz, weight);
                        continue;
                    };
                    let s2 = c * (v0 + vz) * energy;
                    batch.commit((tx, weight, s2), band, w, &mut row_robust);
                }
                batch.flush(band, w, &mut row_robust);
                (row_used, row_weight, row_robust)
            })
            .collect();
        for (m, (c, wt, rb)) in counts.into_iter().enumerate() {
            let ty = 2 * m + parity;
            for (tx, (v, wt)) in c.into_iter().zip(wt).enumerate() {
                used[ty * ntx + tx] += v;
                wsum[ty * ntx + tx] += wt;
                taken += usize::from(v);
            }
            if let Some(r) = robust.as_deref_mut() {
                r[ty * ntx..ty * ntx + rb.len()].copy_from_slice(&rb);
            }
        }
    }
    taken
}

/// One pass over tile (`tx`, `ty`) of the reference and of a warped alternate (`plane`,
/// usable where `valid` > 0.5), into lane `lane` of `batch`: the windowed reference tile as
/// real part, the windowed alternate as imaginary part with the reference's values where it
/// is unusable; the usable samples as 1 and 0 into `mask`. Returns the reference tile's
/// mean (unwindowed) and the count of usable samples.
#[allow(clippy::too_many_arguments)]
fn warped_tiles(
    reference: &Padded,
    plane: &Padded,
    valid: &Padded,
    (tx, ty): (usize, usize),
    win: &[f32; TILE],
    batch: &mut TileBatch,
    lane: usize,
    mask: &mut [f32; AREA],
) -> (f32, usize) {
    let w = reference.w;
    let (x0, y0) = (tx * STEP, ty * STEP);
    let mut sum = 0.0f32;
    let mut usable = 0usize;
    for k in 0..TILE {
        let at = (y0 + k) * w + x0;
        let r = &reference.data[at..at + TILE];
        let a = &plane.data[at..at + TILE];
        let v = &valid.data[at..at + TILE];
        let wk = win[k];
        let row = k * TILE..(k + 1) * TILE;
        let (o0, oz, om) = (
            &mut batch.re[row.clone()],
            &mut batch.im[row.clone()],
            &mut mask[row],
        );
        for i in 0..TILE {
            let ok = v[i] > 0.5;
            let wi = win[i] * wk;
            sum += r[i];
            usable += usize::from(ok);
            o0[i][lane] = r[i] * wi;
            oz[i][lane] = if ok { a[i] } else { r[i] } * wi;
            om[i] = if ok { 1.0 } else { 0.0 };
        }
    }
    (sum / AREA as f32, usable)
}

/// The robust merge's shrinkage of a frequency whose difference to the reference has power
/// `d2`, against the tolerated power `s2`: 0 keeps the alternate's coefficient, 1 the
/// reference's.
#[inline]
fn shrinkage(d2: f32, s2: f32) -> f32 {
    d2 / (d2 + s2).max(f32::MIN_POSITIVE)
}

/// Spatial denoising of a merged plane (HDR+ section 5): each windowed tile's spectrum is
/// shrunk by `|M|^2 / (|M|^2 + k s^2)` outside DC, `s^2` the per-coefficient variance of the
/// merged tile's remaining noise (`noise(tx, ty, mean)`, the variance per pixel left in tile
/// (tx, ty) whose mean is `mean`), `k = strength`.
pub(crate) fn spatial_denoise(
    merged: &Padded,
    strength: f32,
    noise: &(dyn Fn(usize, usize, f32) -> f32 + Sync),
) -> Padded {
    let mut out = merged.zeros_like();
    let (ntx, nty) = (merged.tiles_x(), merged.tiles_y());
    let win = window();
    let energy = window_energy();
    let w = merged.w;
    let isa = Isa::detect();
    for parity in 0..2 {
        let start = parity * STEP * w;
        out.data[start..]
            .par_chunks_mut(2 * STEP * w)
            .enumerate()
            .map(|(m, band)| (2 * m + parity, band))
            .filter(|(ty, _)| *ty < nty)
            .for_each(|(ty, band)| {
                let mut t = [[0.0f32; AREA]; 2];
                let mut raw = [0.0f32; AREA];
                let mut batch = TileBatch::default();
                // 2 x LANES tiles per transform: the first LANES as real parts, the next
                // as imaginary parts
                for first in (0..ntx).step_by(2 * LANES) {
                    let count = (ntx - first).min(2 * LANES);
                    let mut s2 = [[0.0f32; LANES]; 2];
                    // (the lane picks the tile column as well as the s2 entry)
                    #[allow(clippy::needless_range_loop)]
                    for l in 0..LANES {
                        for (k, tile) in t.iter_mut().enumerate() {
                            let tx = first + k * LANES + l;
                            if tx < ntx {
                                merged.tile(tx, ty, 0, 0, Some(&win), tile);
                                merged.tile(tx, ty, 0, 0, None, &mut raw);
                                let mean = raw.iter().sum::<f32>() / AREA as f32;
                                s2[k][l] = strength * noise(tx, ty, mean) * energy;
                            } else {
                                *tile = [0.0; AREA];
                            }
                        }
                        batch.load(l, &t[0], Some(&t[1]));
                    }
                    batch.forward(isa);
                    denoise_spectra(isa, &mut batch, &s2);
                    batch.inverse(isa);
                    for k in 0..count {
                        let part = if k < LANES { &batch.re } else { &batch.im };
                        extract(part, k % LANES, &mut t[0]);
                        add_tile(band, w, first + k, &t[0]);
                    }
                }
            });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustfft::FftPlanner;
    use rustfft::num_complex::Complex32;

    #[test]
    fn window_sums_to_one_at_half_overlap() {
        let w = window();
        for n in 0..STEP {
            assert!((w[n] + w[n + STEP] - 1.0).abs() < 1e-6);
        }
    }

    /// Reading a Bayer plane row by row gives the per-pixel construction's plane, mirrored
    /// borders included, down to widths below the padding.
    #[test]
    fn sampled_planes_equal_the_per_pixel_construction() {
        for (w, h) in [(40, 24), (3, 2), (17, 9), (1, 1)] {
            let (sw, sh) = (2 * w + 3, 2 * h + 5);
            let src: Vec<f32> = (0..sw * sh).map(|i| (i * 7919 % 1000) as f32).collect();
            let (x0, y0, px, py) = (1, 2, 1, 0);
            let fast = Padded::sampled(w, h, &src, ((y0 + py) * sw + x0 + px, 2 * sw, 2));
            let slow = Padded::new(w, h, |x, y| src[(y0 + 2 * y + py) * sw + x0 + 2 * x + px]);
            assert_eq!((fast.w, fast.h), (slow.w, slow.h));
            assert_eq!(fast.data, slow.data, "{w}x{h}");
        }
    }

    /// The share of the difference power between the spectra `a` (reference) and `b`
    /// (alternate) that the shrinkage accepts, `sum (1 - A) |d|^2 / sum |d|^2` (1 when they are
    /// equal): the tile's robustness weight as the diagnostics show it.
    fn accepted_share(a: &[Complex32], b: &[Complex32], s2: f32) -> f32 {
        let (mut kept, mut all) = (0.0f32, 0.0f32);
        for (a, b) in a.iter().zip(b) {
            let d2 = (*a - *b).norm_sqr();
            kept += (1.0 - shrinkage(d2, s2)) * d2;
            all += d2;
        }
        if all > 0.0 { kept / all } else { 1.0 }
    }

    /// rustfft's 2-D transform of a real tile (rows, then columns), natural order.
    fn dft2(x: &[f32], inverse: bool, spectrum: Option<&[Complex32]>) -> Vec<Complex32> {
        let mut planner = FftPlanner::<f32>::new();
        let f = if inverse {
            planner.plan_fft_inverse(TILE)
        } else {
            planner.plan_fft_forward(TILE)
        };
        let mut b: Vec<Complex32> = match spectrum {
            Some(s) => s.to_vec(),
            None => x.iter().map(|&v| Complex32::new(v, 0.0)).collect(),
        };
        for row in b.chunks_exact_mut(TILE) {
            f.process(row);
        }
        for c in 0..TILE {
            let mut col: Vec<Complex32> = (0..TILE).map(|r| b[r * TILE + c]).collect();
            f.process(&mut col);
            for (r, v) in col.into_iter().enumerate() {
                b[r * TILE + c] = v;
            }
        }
        b
    }

    /// Overlap-adds `f(tx, ty, windowed tile)` over every tile of `like`'s geometry: the
    /// unbatched construction, one tile and one rustfft transform at a time.
    fn per_tile(like: &Padded, mut f: impl FnMut(usize, usize, &[f32]) -> Vec<f32>) -> Padded {
        let mut out = like.zeros_like();
        let win = window();
        let mut t = [0.0f32; AREA];
        for ty in 0..like.tiles_y() {
            for tx in 0..like.tiles_x() {
                like.tile(tx, ty, 0, 0, Some(&win), &mut t);
                let m = f(tx, ty, &t);
                for (k, row) in m.chunks_exact(TILE).enumerate() {
                    let at = (ty * STEP + k) * like.w + tx * STEP;
                    for (d, s) in out.data[at..at + TILE].iter_mut().zip(row) {
                        *d += s;
                    }
                }
            }
        }
        out
    }

    /// The largest absolute difference between `a` and `b`.
    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    fn noisy(w: usize, h: usize, seed: usize) -> Padded {
        Padded::new(w, h, |x, y| {
            let k = (x * 7919 + y * 104_729 + seed * 15_485_863) % 1_000_003;
            0.3 + 0.2 * ((x as f32 * 0.37).sin() * (y as f32 * 0.21).cos())
                + (k % 1000) as f32 * 1e-4
        })
    }

    /// The batched robust merge equals the per-tile merge through rustfft, with whole and
    /// partial batches (rows of 2 LANES + 3 and of fewer than LANES tiles), and its
    /// recorded robustness equals the per-tile accepted share.
    #[test]
    fn batched_merge_equals_the_per_tile_merge() {
        let c = 8.0;
        let (v0, vz) = (2e-4f32, 3e-4f32);
        for (w, h) in [((2 * LANES + 3) * STEP, 40), (5 * STEP + 3, 17)] {
            let r = noisy(w, h, 1);
            let z = noisy(w, h, 2);
            let ones = Padded::new(w, h, |_, _| 1.0);
            let n = r.tiles_x() * r.tiles_y();
            let mut acc = r.zeros_like();
            let mut robust = vec![-1.0f32; n];
            accumulate(
                &r,
                &Alt::Warped {
                    plane: &z,
                    valid: &ones,
                },
                &mut acc,
                &mut vec![0; n],
                &mut vec![0.0; n],
                None,
                &vec![false; n],
                TileMerge {
                    robustness: Some(c),
                },
                &|_| (v0, vz),
                Some(&mut robust),
            );
            let s2 = c * (v0 + vz) * window_energy();
            let win = window();
            let mut shares = vec![0.0f32; n];
            let want = per_tile(&r, |tx, ty, t0| {
                let mut tz = [0.0f32; AREA];
                z.tile(tx, ty, 0, 0, Some(&win), &mut tz);
                let (a, b) = (dft2(t0, false, None), dft2(&tz, false, None));
                shares[ty * r.tiles_x() + tx] = accepted_share(&a, &b, s2);
                let m: Vec<Complex32> = a
                    .iter()
                    .zip(&b)
                    .map(|(a, b)| *b + (*a - *b) * shrinkage((*a - *b).norm_sqr(), s2))
                    .collect();
                dft2(&[], true, Some(&m))
                    .iter()
                    .map(|v| v.re / AREA as f32)
                    .collect()
            });
            let worst = max_diff(&acc.data, &want.data);
            assert!(worst < 1e-5, "{w}x{h}: batched merge off by {worst}");
            let worst = max_diff(&robust, &shares);
            assert!(worst < 1e-4, "{w}x{h}: robustness off by {worst}");
        }
    }

    /// The batched spatial denoise equals the per-tile one through rustfft: each tile's
    /// spectrum shrunk outside DC by `|X|^2 / (|X|^2 + s2)`.
    #[test]
    fn batched_denoise_equals_the_per_tile_denoise() {
        for (w, h) in [((2 * LANES + 3) * STEP, 24), (3 * STEP + 1, 9)] {
            let p = noisy(w, h, 3);
            let noise =
                |tx: usize, ty: usize, mean: f32| 1e-4 * (1.0 + mean) + 1e-6 * (tx + ty) as f32;
            let got = spatial_denoise(&p, 2.0, &noise);
            let want = per_tile(&p, |tx, ty, t| {
                let mut raw = [0.0f32; AREA];
                p.tile(tx, ty, 0, 0, None, &mut raw);
                let mean = raw.iter().sum::<f32>() / AREA as f32;
                let s2 = 2.0 * noise(tx, ty, mean) * window_energy();
                let mut x = dft2(t, false, None);
                for c in x.iter_mut().skip(1) {
                    let m2 = c.norm_sqr();
                    *c *= m2 / (m2 + s2).max(f32::MIN_POSITIVE);
                }
                dft2(&[], true, Some(&x))
                    .iter()
                    .map(|v| v.re / AREA as f32)
                    .collect()
            });
            let worst = max_diff(&got.data, &want.data);
            assert!(worst < 1e-5, "{w}x{h}: batched denoise off by {worst}");
        }
    }

    fn ramp(w: usize, h: usize) -> Padded {
        Padded::new(w, h, |x, y| {
            (x * 3 + y * 7) as f32 * 0.01 + ((x * y) % 5) as f32 * 0.1
        })
    }

    /// Merging a frame with itself returns the frame, for every mode.
    #[test]
    fn merging_identical_frames_returns_the_frame() {
        for (w, h) in [(40, 24), (17, 9), (33, 65), (25, 9)] {
            let p = ramp(w, h);
            let ntiles = p.tiles_x() * p.tiles_y();
            for mode in [
                TileMerge { robustness: None },
                TileMerge {
                    robustness: Some(8.0),
                },
            ] {
                let mut acc = p.zeros_like();
                let mut used = vec![0u16; ntiles];
                let ones = Padded::new(w, h, |_, _| 1.0);
                let alt = Alt::Warped {
                    plane: &p,
                    valid: &ones,
                };
                accumulate(
                    &p,
                    &alt,
                    &mut acc,
                    &mut used,
                    &mut vec![0.0; ntiles],
                    None,
                    &vec![false; ntiles],
                    mode,
                    &|_| (1e-4, 1e-4),
                    None,
                );
                for y in 0..h {
                    for x in 0..w {
                        let (got, want) = (acc.inner(x, y), p.inner(x, y));
                        assert!(
                            (got - want).abs() < 1e-4,
                            "{w}x{h} at {x},{y}: {got} vs {want}"
                        );
                    }
                }
                assert!(used.iter().all(|&u| u == 1));
            }
        }
    }

    /// Weighted accumulation (an exposure bracket): an alternate four times less noisy than
    /// the reference weighs 4, `wsum` says so, and dividing by the per-sample weights gives
    /// back the common image; an unusable alternate adds nothing and weighs 0.
    #[test]
    fn weighted_accumulation_normalises_by_the_overlapped_weights() {
        for (w, h) in [(32, 32), (48, 40)] {
            let p = ramp(w, h);
            let n = p.tiles_x() * p.tiles_y();
            let ones = Padded::new(w, h, |_, _| 1.0);
            let zeros = Padded::new(w, h, |_, _| 0.0);
            for (valid, want_w) in [(&ones, 4.0f32), (&zeros, 0.0)] {
                let mut acc = p.clone();
                let mut wsum = vec![1.0f32; n];
                let mut den = Padded::new(w, h, |_, _| 1.0);
                let alt = Alt::Warped { plane: &p, valid };
                accumulate(
                    &p,
                    &alt,
                    &mut acc,
                    &mut vec![0; n],
                    &mut wsum,
                    Some(&mut den),
                    &vec![false; n],
                    TileMerge {
                        robustness: Some(8.0),
                    },
                    &|_| (1e-4, 0.25e-4),
                    None,
                );
                assert!(
                    wsum.iter().all(|&s| (s - 1.0 - want_w).abs() < 1e-5),
                    "{wsum:?}"
                );
                for y in 0..h {
                    for x in 0..w {
                        let got = acc.inner(x, y) / den.inner(x, y);
                        assert!((got - p.inner(x, y)).abs() < 1e-4, "{got}");
                    }
                }
            }
        }
    }

    /// A frame that differs everywhere by far more than the noise is rejected by the robust
    /// merge (the reference comes back) and averaged in by the plain mean; the recorded
    /// robustness says so (near 0 where rejected, 1 for the plain mean and for a frame equal
    /// to the reference).
    #[test]
    fn robustness_rejects_a_different_frame() {
        let (w, h) = (48, 32);
        let r = ramp(w, h);
        let other = Padded::new(
            w,
            h,
            |x, y| if (x / 4 + y / 4) % 2 == 0 { 1.0 } else { 0.0 },
        );
        let ones = Padded::new(w, h, |_, _| 1.0);
        let n = r.tiles_x() * r.tiles_y();
        let run = |mode, alt_plane: &Padded| {
            let mut acc = r.clone(); // the reference's own contribution
            let mut used = vec![0u16; n];
            let mut robust = vec![-1.0f32; n];
            let alt = Alt::Warped {
                plane: alt_plane,
                valid: &ones,
            };
            accumulate(
                &r,
                &alt,
                &mut acc,
                &mut used,
                &mut vec![0.0; n],
                None,
                &vec![false; n],
                mode,
                &|_| (1e-6, 1e-6),
                Some(&mut robust),
            );
            let mut err = 0.0f32;
            for y in 0..h {
                for x in 0..w {
                    err = err.max((acc.inner(x, y) / 2.0 - r.inner(x, y)).abs());
                }
            }
            let worst = robust.iter().copied().fold(0.0f32, f32::max);
            let least = robust.iter().copied().fold(1.0f32, f32::min);
            (err, least, worst)
        };
        let robust = TileMerge {
            robustness: Some(8.0),
        };
        let (err, _, worst) = run(robust, &other);
        assert!(err < 0.02 && worst < 0.05, "{err} {worst}");
        let (err, least, _) = run(TileMerge { robustness: None }, &other);
        assert!(err > 0.2 && least == 1.0, "{err} {least}");
        // (the paired transform leaves rounding-level differences)
        let (_, least, _) = run(robust, &r);
        assert!(least > 0.999, "{least}");
    }
}
