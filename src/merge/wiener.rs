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

use rayon::prelude::*;
use rustfft::num_complex::Complex32;

use super::fft::TileFft;
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

/// Forward transforms of two real tiles at once: `buf = a + i b` transformed, then split by
/// conjugate symmetry into the spectra `A[k] = (C[k] + conj(C[-k])) / 2` and
/// `B[k] = (C[k] - conj(C[-k])) / 2i`.
struct PairFft<'a> {
    fft: &'a TileFft,
    /// Index of coefficient `-k` for each `k` (the same in the transposed layout).
    neg: Vec<usize>,
    buf: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl<'a> PairFft<'a> {
    fn new(fft: &'a TileFft) -> Self {
        let n = fft.n;
        let neg = (0..n * n)
            .map(|k| ((n - k / n) % n) * n + (n - k % n) % n)
            .collect();
        PairFft {
            fft,
            neg,
            buf: vec![Complex32::default(); n * n],
            scratch: fft.scratch(),
        }
    }

    /// Spectra of the real tiles `a` and `b`, into `sa` and `sb`.
    fn forward(&mut self, a: &[f32], b: &[f32], sa: &mut [Complex32], sb: &mut [Complex32]) {
        for ((c, x), y) in self.buf.iter_mut().zip(a).zip(b) {
            *c = Complex32::new(*x, *y);
        }
        self.fft.forward(&mut self.buf, &mut self.scratch);
        for (k, (oa, ob)) in sa.iter_mut().zip(sb.iter_mut()).enumerate() {
            let (c, m) = (self.buf[k], self.buf[self.neg[k]].conj());
            *oa = (c + m) * 0.5;
            let d = (c - m) * 0.5;
            *ob = Complex32::new(d.im, -d.re);
        }
    }

    /// Real tiles `a` and `b` of two Hermitian spectra (the real parts of their inverses).
    fn inverse(&mut self, sa: &[Complex32], sb: &[Complex32], a: &mut [f32], b: &mut [f32]) {
        for ((c, x), y) in self.buf.iter_mut().zip(sa).zip(sb) {
            // x + i y
            *c = Complex32::new(x.re - y.im, x.im + y.re);
        }
        self.fft.inverse(&mut self.buf, &mut self.scratch);
        for ((c, x), y) in self.buf.iter().zip(a.iter_mut()).zip(b.iter_mut()) {
            (*x, *y) = (c.re, c.im);
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
/// ([`accepted_share`]): 1 where it was averaged in whole (no robustness, or a difference
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
    fft: &TileFft,
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
                let mut mask = [1.0f32; N];
                // the usable-sample masks of the tiles waiting in `pending`
                let mut pmask = [[1.0f32; N]; 2];
                let mut tz = [0.0f32; N];
                let mut raw = [0.0f32; N];
                let mut s0 = vec![Complex32::default(); N];
                // merged spectra waiting for an inverse transform, with their tile columns
                let mut pending: [Vec<Complex32>; 2] =
                    [vec![Complex32::default(); N], vec![Complex32::default(); N]];
                let mut pending_tx: Option<(usize, f32)> = None;
                let mut out = [[0.0f32; N]; 2];
                let mut pair = PairFft::new(fft);
                let mut row_used = vec![0u16; ntx];
                let mut row_weight = vec![0f32; ntx];
                let mut row_robust = vec![0f32; if record { ntx } else { 0 }];
                for (tx, tile_used) in row_used.iter_mut().enumerate() {
                    let t = ty * ntx + tx;
                    reference.tile(tx, ty, 0, 0, Some(&win), &mut t0);
                    // a tile with too few usable samples is kept from the reference; in the
                    // others, unusable samples (clipped, outside the frame) take the
                    // reference's value, so they add nothing but the reference itself
                    let usable = !excluded[t]
                        && match alt {
                            Alt::Warped { valid, .. } => {
                                valid.tile(tx, ty, 0, 0, None, &mut raw);
                                // a bracket keeps tiles with fewer usable samples: they are
                                // weighted per sample
                                let k = raw.iter().filter(|&&v| v > 0.5).count();
                                if weighted { k * 8 >= N } else { k * 2 >= N }
                            }
                            Alt::Shifted { .. } => true,
                        };
                    if !usable {
                        if !weighted {
                            add_tile(band, w, tx, &t0);
                            row_weight[tx] = 1.0;
                        }
                        continue;
                    }
                    *tile_used = 1;
                    match alt {
                        Alt::Warped { plane, .. } => {
                            plane.tile(tx, ty, 0, 0, Some(&win), &mut tz);
                            for (((z, r), v), m) in tz.iter_mut().zip(&t0).zip(&raw).zip(&mut mask)
                            {
                                *m = if *v <= 0.5 { 0.0 } else { 1.0 };
                                if *v <= 0.5 {
                                    *z = *r;
                                }
                            }
                        }
                        Alt::Shifted { plane, offsets } => {
                            let (dx, dy) = offsets[t];
                            plane.tile(tx, ty, dx, dy, Some(&win), &mut tz)
                        }
                    }
                    // the reference's mean brightness sets the noise variances
                    reference.tile(tx, ty, 0, 0, None, &mut raw);
                    let mean = raw.iter().sum::<f32>() / N as f32;
                    let (v0, vz) = noise(mean);
                    let weight = if weighted {
                        (v0 / vz.max(f32::MIN_POSITIVE)).min(1e4)
                    } else {
                        1.0
                    };
                    row_weight[tx] = weight;
                    if let Some(db) = den_band.as_deref_mut() {
                        let wm: Vec<f32> = win2.iter().zip(&mask).map(|(a, b)| a * b).collect();
                        add_tile_scaled(db, w, tx, &wm, weight);
                    }
                    let Some(c) = mode.robustness else {
                        if let Some(r) = row_robust.get_mut(tx) {
                            *r = 1.0;
                        }
                        if weighted {
                            tz.iter_mut().zip(&mask).for_each(|(z, m)| *z *= m);
                        }
                        add_tile_scaled(band, w, tx, &tz, weight);
                        continue;
                    };
                    let s2 = c * (v0 + vz) * energy;
                    let slot = usize::from(pending_tx.is_some());
                    pmask[slot] = mask;
                    let sz = &mut pending[slot];
                    pair.forward(&t0, &tz, &mut s0, sz);
                    if let Some(r) = row_robust.get_mut(tx) {
                        *r = accepted_share(&s0, sz, s2);
                    }
                    for (a, b) in s0.iter().zip(sz.iter_mut()) {
                        let d = *a - *b;
                        *b += d * shrinkage(d.norm_sqr(), s2);
                    }
                    if let Some((first, w0)) = pending_tx.take() {
                        let [o0, o1] = &mut out;
                        pair.inverse(&pending[0], &pending[1], o0, o1);
                        if weighted {
                            o0.iter_mut().zip(&pmask[0]).for_each(|(o, m)| *o *= m);
                            o1.iter_mut().zip(&pmask[1]).for_each(|(o, m)| *o *= m);
                        }
                        add_tile_scaled(band, w, first, o0, w0);
                        add_tile_scaled(band, w, tx, o1, weight);
                    } else {
                        pending_tx = Some((tx, weight));
                    }
                }
                if let Some((first, w0)) = pending_tx {
                    let zero = vec![Complex32::default(); N];
                    let [o0, o1] = &mut out;
                    pair.inverse(&pending[0], &zero, o0, o1);
                    if weighted {
                        o0.iter_mut().zip(&pmask[0]).for_each(|(o, m)| *o *= m);
                    }
                    add_tile_scaled(band, w, first, o0, w0);
                }
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

/// The robust merge's shrinkage of a frequency whose difference to the reference has power
/// `d2`, against the tolerated power `s2`: 0 keeps the alternate's coefficient, 1 the
/// reference's.
#[inline]
fn shrinkage(d2: f32, s2: f32) -> f32 {
    d2 / (d2 + s2).max(f32::MIN_POSITIVE)
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

/// Spatial denoising of a merged plane (HDR+ section 5): each windowed tile's spectrum is
/// shrunk by `|M|^2 / (|M|^2 + k s^2)` outside DC, `s^2` the per-coefficient variance of the
/// merged tile's remaining noise (`noise(tx, ty, mean)`, the variance per pixel left in tile
/// (tx, ty) whose mean is `mean`), `k = strength`.
pub(crate) fn spatial_denoise(
    merged: &Padded,
    strength: f32,
    noise: &(dyn Fn(usize, usize, f32) -> f32 + Sync),
    fft: &TileFft,
) -> Padded {
    let mut out = merged.zeros_like();
    let (ntx, nty) = (merged.tiles_x(), merged.tiles_y());
    let win = window();
    let energy = window_energy();
    let w = merged.w;
    for parity in 0..2 {
        let start = parity * STEP * w;
        out.data[start..]
            .par_chunks_mut(2 * STEP * w)
            .enumerate()
            .map(|(m, band)| (2 * m + parity, band))
            .filter(|(ty, _)| *ty < nty)
            .for_each(|(ty, band)| {
                const N: usize = TILE * TILE;
                let mut t = [[0.0f32; N]; 2];
                let mut raw = [0.0f32; N];
                let mut spec = [vec![Complex32::default(); N], vec![Complex32::default(); N]];
                let mut pair = PairFft::new(fft);
                // two tiles per transform; an odd last tile goes with a zero tile
                for tx in (0..ntx).step_by(2) {
                    let mut s2 = [0.0f32; 2];
                    for k in 0..2 {
                        if tx + k < ntx {
                            merged.tile(tx + k, ty, 0, 0, Some(&win), &mut t[k]);
                            merged.tile(tx + k, ty, 0, 0, None, &mut raw);
                            let mean = raw.iter().sum::<f32>() / N as f32;
                            s2[k] = strength * noise(tx + k, ty, mean) * energy;
                        } else {
                            t[k] = [0.0; N];
                        }
                    }
                    let [t0, t1] = &mut t;
                    let [a, b] = &mut spec;
                    pair.forward(t0, t1, a, b);
                    for (sp, s2) in spec.iter_mut().zip(s2) {
                        for c in sp.iter_mut().skip(1) {
                            let m2 = c.norm_sqr();
                            *c *= m2 / (m2 + s2).max(f32::MIN_POSITIVE);
                        }
                    }
                    pair.inverse(&spec[0], &spec[1], t0, t1);
                    add_tile(band, w, tx, t0);
                    if tx + 1 < ntx {
                        add_tile(band, w, tx + 1, t1);
                    }
                }
            });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The paired transforms give each tile's own spectrum and, back, each tile.
    #[test]
    fn paired_transforms_equal_separate_ones() {
        let fft = TileFft::new(TILE);
        let mut pair = PairFft::new(&fft);
        let n = TILE * TILE;
        let a: Vec<f32> = (0..n).map(|i| ((i * 37) % 101) as f32 / 101.0).collect();
        let b: Vec<f32> = (0..n).map(|i| ((i * i) % 53) as f32 / 53.0 - 0.3).collect();
        let (mut sa, mut sb) = (vec![Complex32::default(); n], vec![Complex32::default(); n]);
        pair.forward(&a, &b, &mut sa, &mut sb);
        let mut scratch = fft.scratch();
        for (x, s) in [(&a, &sa), (&b, &sb)] {
            let mut c: Vec<Complex32> = x.iter().map(|&v| Complex32::new(v, 0.0)).collect();
            fft.forward(&mut c, &mut scratch);
            let worst = c
                .iter()
                .zip(s.iter())
                .map(|(p, q)| (p - q).norm())
                .fold(0.0, f32::max);
            assert!(worst < 1e-4, "spectrum off by {worst}");
        }
        let (mut ra, mut rb) = (vec![0.0; n], vec![0.0; n]);
        pair.inverse(&sa, &sb, &mut ra, &mut rb);
        for (x, y) in [(&a, &ra), (&b, &rb)] {
            let worst = x
                .iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f32::max);
            assert!(worst < 1e-5, "round trip off by {worst}");
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
        let fft = TileFft::new(TILE);
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
                    &fft,
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
        let fft = TileFft::new(TILE);
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
                    &fft,
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
        let fft = TileFft::new(TILE);
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
                &fft,
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
