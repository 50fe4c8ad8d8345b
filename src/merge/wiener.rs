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

#[inline]
fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let mut i = i;
    if i < 0 {
        i = -i - 1;
    }
    if i >= n {
        i = 2 * n - i - 1;
    }
    i.clamp(0, n - 1) as usize
}

impl Padded {
    /// Padded geometry for an `inner_w` x `inner_h` plane, filled by `get(x, y)` (inner
    /// coordinates, mirrored beyond the edges).
    pub fn new(inner_w: usize, inner_h: usize, get: impl Fn(usize, usize) -> f32 + Sync) -> Padded {
        let w = (inner_w + 2 * STEP).div_ceil(STEP) * STEP;
        let h = (inner_h + 2 * STEP).div_ceil(STEP) * STEP;
        let mut data = vec![0.0f32; w * h];
        data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let sy = mirror(y as isize - STEP as isize, inner_h);
            for (x, v) in row.iter_mut().enumerate() {
                *v = get(mirror(x as isize - STEP as isize, inner_w), sy);
            }
        });
        Padded { w, h, data }
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

/// Adds one alternate frame's contribution to `acc` (same geometry as `reference`) and counts
/// the tiles it took part in. `noise(mean)` gives the per-pixel noise variances (reference,
/// alternate) at a tile's mean brightness; `excluded[t]` forces a tile to the reference.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate(
    reference: &Padded,
    alt: &Alt,
    acc: &mut Padded,
    used: &mut [u16],
    excluded: &[bool],
    mode: TileMerge,
    noise: &(dyn Fn(f32) -> (f32, f32) + Sync),
    fft: &TileFft,
) {
    let (ntx, nty) = (reference.tiles_x(), reference.tiles_y());
    let win = window();
    let energy = window_energy();
    let w = reference.w;
    for parity in 0..2 {
        let start = parity * STEP * w;
        let bands: Vec<(usize, &mut [f32])> = acc.data[start..]
            .chunks_mut(2 * STEP * w)
            .enumerate()
            .map(|(m, band)| (2 * m + parity, band))
            .filter(|(ty, _)| *ty < nty)
            .collect();
        let counts: Vec<Vec<u16>> = bands
            .into_par_iter()
            .map(|(ty, band)| {
                let mut t0 = vec![0.0f32; TILE * TILE];
                let mut tz = vec![0.0f32; TILE * TILE];
                let mut raw = vec![0.0f32; TILE * TILE];
                let mut c0 = vec![Complex32::default(); TILE * TILE];
                let mut cz = vec![Complex32::default(); TILE * TILE];
                let mut scratch = fft.scratch();
                let mut row_used = vec![0u16; ntx];
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
                                raw.iter().filter(|&&v| v > 0.5).count() * 2 >= TILE * TILE
                            }
                            Alt::Shifted { .. } => true,
                        };
                    if usable {
                        match alt {
                            Alt::Warped { plane, .. } => {
                                plane.tile(tx, ty, 0, 0, Some(&win), &mut tz);
                                for ((z, r), v) in tz.iter_mut().zip(&t0).zip(&raw) {
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
                        if let Some(c) = mode.robustness {
                            reference.tile(tx, ty, 0, 0, None, &mut raw);
                            let mean = raw.iter().sum::<f32>() / (TILE * TILE) as f32;
                            let (v0, vz) = noise(mean);
                            let s2 = c * (v0 + vz) * energy;
                            for ((a, b), (x, y)) in
                                c0.iter_mut().zip(cz.iter_mut()).zip(t0.iter().zip(&tz))
                            {
                                *a = Complex32::new(*x, 0.0);
                                *b = Complex32::new(*y, 0.0);
                            }
                            fft.forward(&mut c0, &mut scratch);
                            fft.forward(&mut cz, &mut scratch);
                            for (a, b) in c0.iter().zip(cz.iter_mut()) {
                                let d = *a - *b;
                                let d2 = d.norm_sqr();
                                let shrink = d2 / (d2 + s2).max(f32::MIN_POSITIVE);
                                *b += d * shrink;
                            }
                            fft.inverse(&mut cz, &mut scratch);
                            for (o, c) in tz.iter_mut().zip(&cz) {
                                *o = c.re;
                            }
                        }
                        *tile_used = 1;
                    } else {
                        tz.copy_from_slice(&t0);
                    }
                    // overlap-add into this tile row's band
                    let x0 = tx * STEP;
                    for k in 0..TILE {
                        let dst = &mut band[k * w + x0..k * w + x0 + TILE];
                        for (d, s) in dst.iter_mut().zip(&tz[k * TILE..(k + 1) * TILE]) {
                            *d += s;
                        }
                    }
                }
                row_used
            })
            .collect();
        for (m, c) in counts.into_iter().enumerate() {
            let ty = 2 * m + parity;
            for (tx, v) in c.into_iter().enumerate() {
                used[ty * ntx + tx] += v;
            }
        }
    }
}

/// Spatial denoising of a merged plane (HDR+ section 5): each windowed tile's spectrum is
/// shrunk by `|M|^2 / (|M|^2 + k s^2)` outside DC, `s^2` the per-coefficient variance of the
/// merged tile's remaining noise (`noise(mean) / frames[t]`), `k = strength`.
pub(crate) fn spatial_denoise(
    merged: &Padded,
    frames: &[f32],
    strength: f32,
    noise: &(dyn Fn(f32) -> f32 + Sync),
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
                let mut t = vec![0.0f32; TILE * TILE];
                let mut raw = vec![0.0f32; TILE * TILE];
                let mut c = vec![Complex32::default(); TILE * TILE];
                let mut scratch = fft.scratch();
                for tx in 0..ntx {
                    merged.tile(tx, ty, 0, 0, Some(&win), &mut t);
                    merged.tile(tx, ty, 0, 0, None, &mut raw);
                    let mean = raw.iter().sum::<f32>() / (TILE * TILE) as f32;
                    let s2 = strength * noise(mean) / frames[ty * ntx + tx].max(1.0) * energy;
                    for (a, x) in c.iter_mut().zip(&t) {
                        *a = Complex32::new(*x, 0.0);
                    }
                    fft.forward(&mut c, &mut scratch);
                    for a in c.iter_mut().skip(1) {
                        let m2 = a.norm_sqr();
                        *a *= m2 / (m2 + s2).max(f32::MIN_POSITIVE);
                    }
                    fft.inverse(&mut c, &mut scratch);
                    let x0 = tx * STEP;
                    for k in 0..TILE {
                        let dst = &mut band[k * w + x0..k * w + x0 + TILE];
                        for (d, s) in dst.iter_mut().zip(&c[k * TILE..(k + 1) * TILE]) {
                            *d += s.re;
                        }
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

    fn ramp(w: usize, h: usize) -> Padded {
        Padded::new(w, h, |x, y| {
            (x * 3 + y * 7) as f32 * 0.01 + ((x * y) % 5) as f32 * 0.1
        })
    }

    /// Merging a frame with itself returns the frame, for every mode.
    #[test]
    fn merging_identical_frames_returns_the_frame() {
        let fft = TileFft::new(TILE);
        for (w, h) in [(40, 24), (17, 9), (33, 65)] {
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
                    &vec![false; ntiles],
                    mode,
                    &|_| (1e-4, 1e-4),
                    &fft,
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

    /// A frame that differs everywhere by far more than the noise is rejected by the robust
    /// merge (the reference comes back) and averaged in by the plain mean.
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
        let run = |mode| {
            let mut acc = r.clone(); // the reference's own contribution
            let mut used = vec![0u16; n];
            let alt = Alt::Warped {
                plane: &other,
                valid: &ones,
            };
            accumulate(
                &r,
                &alt,
                &mut acc,
                &mut used,
                &vec![false; n],
                mode,
                &|_| (1e-6, 1e-6),
                &fft,
            );
            let mut err = 0.0f32;
            for y in 0..h {
                for x in 0..w {
                    err = err.max((acc.inner(x, y) / 2.0 - r.inner(x, y)).abs());
                }
            }
            err
        };
        assert!(
            run(TileMerge {
                robustness: Some(8.0)
            }) < 0.02
        );
        assert!(run(TileMerge { robustness: None }) > 0.2);
    }
}
