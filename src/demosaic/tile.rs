//! The schedule shared by every method: the mosaic is cut into tiles, each tile is copied
//! with a mirrored margin into a scratch buffer, and a method's kernel turns the padded tile
//! into the tile's R, G and B output. Rayon runs one band of tile rows per task.
//!
//! Mirroring is "reflect 101" (the edge sample is not repeated: column -1 reads column 1),
//! repeated as often as needed, so it works for any margin and any size of at least 2. A
//! reflection about a photosite keeps the parity of the coordinate, so the mirrored margin
//! follows the mosaic's Bayer pattern and kernels need no border cases at all.

use rayon::prelude::*;

use crate::image::{Cfa, Channel, Plane, mirror, par_rows3};

/// Where red sits in the 2x2 Bayer tile: column and row parity (0 or 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Phase {
    /// Column parity of the red photosites.
    pub rx: usize,
    /// Row parity of the red photosites.
    pub ry: usize,
}

impl Phase {
    /// The phase of a Bayer pattern; `None` for a pattern that is not one of the four Bayer
    /// layouts.
    pub fn of(cfa: Cfa) -> Option<Phase> {
        if !cfa.is_bayer() {
            return None;
        }
        let i = cfa.colors.iter().position(|&c| c == Channel::R)?;
        Some(Phase {
            rx: i & 1,
            ry: i >> 1,
        })
    }

    /// The phase seen from a buffer whose origin is at (`dx`, `dy`) of this one (offsets may
    /// be negative; only their parity matters).
    pub fn shifted(self, dx: isize, dy: isize) -> Phase {
        Phase {
            rx: (self.rx as isize + dx).rem_euclid(2) as usize,
            ry: (self.ry as isize + dy).rem_euclid(2) as usize,
        }
    }

    /// For row `y`: the column parity of its non-green photosites, and whether they are red
    /// (otherwise blue). The other parity is green.
    #[inline(always)]
    pub fn row(self, y: usize) -> (usize, bool) {
        if y & 1 == self.ry {
            (self.rx, true)
        } else {
            (self.rx ^ 1, false)
        }
    }
}

/// A padded window of the mosaic: `width x height` output pixels surrounded by `pad` mirrored
/// samples on every side.
pub(crate) struct Tile<'a> {
    /// `stride * (height + 2 pad)` samples, row-major.
    pub data: &'a [f32],
    /// Padded width, `width + 2 pad`.
    pub stride: usize,
    /// Padded height, `height + 2 pad`.
    pub rows: usize,
    /// Margin on each side.
    pub pad: usize,
    /// Output columns.
    pub width: usize,
    /// Output rows.
    pub height: usize,
    /// Bayer phase in tile coordinates.
    pub phase: Phase,
}

/// `n` samples of `buf` (rows of `stride`) from column `x + dx` of row `y + dy`.
///
/// The kernels take every operand of their inner loop through this, then index all of them
/// with the same `i < n`: the slices' lengths are all `n`, so the compiler drops the bounds
/// checks and vectorises.
#[inline(always)]
pub(crate) fn win(
    buf: &[f32],
    stride: usize,
    x: usize,
    y: usize,
    dx: isize,
    dy: isize,
    n: usize,
) -> &[f32] {
    let start = ((y as isize + dy) * stride as isize + x as isize + dx) as usize;
    &buf[start..start + n]
}

/// The output of one tile: the three full-width planes of its band of rows.
pub(crate) struct OutTile<'a> {
    planes: [&'a mut [f32]; 3],
    /// Image width (row stride of the planes).
    stride: usize,
    /// First column of the tile.
    x0: usize,
    /// Tile width.
    width: usize,
}

impl OutTile<'_> {
    /// Row `j` of the tile in the R, G and B planes.
    #[inline(always)]
    pub fn rows(&mut self, j: usize) -> [&mut [f32]; 3] {
        let start = j * self.stride + self.x0;
        let [r, g, b] = &mut self.planes;
        [
            &mut r[start..start + self.width],
            &mut g[start..start + self.width],
            &mut b[start..start + self.width],
        ]
    }
}

/// All ones when column `x` has the given `parity`, else 0: a lane mask for [`pick`].
#[inline(always)]
pub(crate) fn parity_mask(x: usize, parity: usize) -> u32 {
    0u32.wrapping_sub(((x & 1) == parity) as u32)
}

/// `a` where `mask` is all ones, `b` where it is 0, without a branch.
///
/// An `if` between a cheap and an expensive value lets the compiler move the expensive one
/// into a branch, and a loop with branches is not vectorised; bit operations keep the loop
/// straight-line.
#[inline(always)]
pub(crate) fn pick(mask: u32, a: f32, b: f32) -> f32 {
    f32::from_bits((a.to_bits() & mask) | (b.to_bits() & !mask))
}

/// One output row of a Bayer demosaic, with its planes named by their role in the row.
pub(crate) struct BayerRow<'a> {
    /// The colour of the row's non-green photosites (red in a red row).
    own: &'a mut [f32],
    green: &'a mut [f32],
    /// The colour the row lacks (blue in a red row).
    opposite: &'a mut [f32],
    /// Parity of the output indices (0 = the tile's first output column) of the non-green
    /// photosites.
    parity: usize,
}

impl<'a> BayerRow<'a> {
    /// Output row `j` of `out` (tile row `j + pad`).
    #[inline(always)]
    pub fn new(out: &'a mut OutTile, t: &Tile, j: usize) -> Self {
        let (parity, red) = t.phase.row(j + t.pad);
        let [r, green, b] = out.rows(j);
        let (own, opposite) = if red { (r, b) } else { (b, r) };
        // output pixel i is tile column pad + i
        BayerRow {
            own,
            green,
            opposite,
            parity: (parity + t.pad) & 1,
        }
    }

    /// Sets pixel `i` from its photosite value `c` and the candidates `[green, row colour,
    /// column colour, diagonal colour]`: at a non-green photosite, green and the opposite
    /// colour (`diagonal`) are interpolated and `c` is the row's own colour; at a green
    /// photosite, green is `c`, the row's own colour is `row colour` (from its left and right
    /// neighbours) and the opposite one `column colour`.
    ///
    /// Every candidate is computed at every pixel and the right one picked without a branch:
    /// twice the arithmetic of a stride-2 loop, but vectorised.
    #[inline(always)]
    pub fn set(&mut self, i: usize, c: f32, [green, row, column, diagonal]: [f32; 4]) {
        let native = parity_mask(i, self.parity);
        self.own[i] = pick(native, c, row);
        self.green[i] = pick(native, green, c);
        self.opposite[i] = pick(native, diagonal, column);
    }

    /// The row's length.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.green.len()
    }
}

/// Copies the window of `m` with output origin (`x0`, `y0`), size `width x height` and margin
/// `pad` into `buf`, mirroring outside the mosaic.
fn fill(
    m: &Plane<f32>,
    x0: usize,
    y0: usize,
    width: usize,
    height: usize,
    pad: usize,
    buf: &mut Vec<f32>,
) {
    let stride = width + 2 * pad;
    buf.clear();
    buf.resize(stride * (height + 2 * pad), 0.0);
    // image column of tile column 0; columns lo..hi of the tile are inside the mosaic
    let xa = x0 as isize - pad as isize;
    let lo = (-xa).max(0) as usize;
    let hi = ((m.width as isize - xa) as usize).min(stride);
    for (t, row) in buf.chunks_exact_mut(stride).enumerate() {
        let src = m.row(mirror(y0 as isize - pad as isize + t as isize, m.height));
        let start = (xa + lo as isize) as usize;
        row[lo..hi].copy_from_slice(&src[start..start + hi - lo]);
        for tx in (0..lo).chain(hi..stride) {
            row[tx] = src[mirror(xa + tx as isize, m.width)];
        }
    }
}

/// Sets `out` to three `width x height` planes, reusing their allocations. The contents are
/// left stale: every caller overwrites every sample.
pub(crate) fn reshape(out: &mut [Plane<f32>; 3], width: usize, height: usize) {
    for p in out {
        p.width = width;
        p.height = height;
        p.data.resize(width * height, 0.0);
    }
}

/// Runs `kernel` over the mosaic in tiles of `tile_w x tile_h` output pixels with margin
/// `pad`, writing the R, G and B planes into `out` (reshaped to the mosaic's size).
///
/// Schedule: one rayon task per band of `tile_h` rows; a task walks its band's tiles left to
/// right, reusing one padded-tile buffer and one `S` scratch (from `init`). Tiles are
/// independent and each output sample is written by exactly one tile, so the result does not
/// depend on the number of threads. Needs a width and height of at least 2 and a Bayer
/// `phase`; `tile_w` and `tile_h` are kept even so that every tile has the mosaic's phase.
pub(crate) fn run<S, I, K>(
    mosaic: &Plane<f32>,
    phase: Phase,
    pad: usize,
    (tile_w, tile_h): (usize, usize),
    init: I,
    kernel: K,
    out: &mut [Plane<f32>; 3],
) where
    I: Fn() -> S + Sync + Send,
    K: Fn(&Tile, &mut S, &mut OutTile) + Sync + Send,
{
    let w = mosaic.width;
    reshape(out, w, mosaic.height);
    par_rows3(out, tile_h * w).enumerate().for_each_init(
        || (init(), Vec::new()),
        |(scratch, buf), (k, mut planes)| {
            let y0 = k * tile_h;
            let height = planes[0].len() / w;
            for x0 in (0..w).step_by(tile_w) {
                let width = tile_w.min(w - x0);
                fill(mosaic, x0, y0, width, height, pad, buf);
                let tile = Tile {
                    data: buf,
                    stride: width + 2 * pad,
                    rows: height + 2 * pad,
                    pad,
                    width,
                    height,
                    phase: phase.shifted(x0 as isize - pad as isize, y0 as isize - pad as isize),
                };
                let [r, g, b] = &mut planes;
                let mut out = OutTile {
                    planes: [&mut **r, &mut **g, &mut **b],
                    stride: w,
                    x0,
                    width,
                };
                kernel(&tile, scratch, &mut out);
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_reflects_about_the_edge_samples_and_keeps_parity() {
        let got: Vec<usize> = (-4..8).map(|i| mirror(i, 3)).collect();
        assert_eq!(got, [0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1]);
        for n in 2..7 {
            for i in -25..25isize {
                let m = mirror(i, n);
                assert!(m < n);
                assert_eq!(m % 2, i.rem_euclid(2) as usize, "n {n} i {i}");
            }
        }
        assert_eq!(mirror(-3, 1), 0);
    }

    #[test]
    fn phase_follows_the_pattern_and_its_shifts() {
        for cfa in Cfa::ALL {
            let p = Phase::of(cfa).unwrap();
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (-1, 3)] {
                let q = p.shifted(dx, dy);
                let shifted = cfa.shifted(dx.rem_euclid(2) as usize, dy.rem_euclid(2) as usize);
                for y in 0..2 {
                    let (parity, red) = q.row(y);
                    let want = if red { Channel::R } else { Channel::B };
                    assert_eq!(shifted.color_at(parity, y), want);
                    assert_eq!(shifted.color_at(parity ^ 1, y), Channel::G);
                }
            }
        }
        let not_bayer = Cfa {
            colors: [Channel::R, Channel::R, Channel::G, Channel::B],
        };
        assert_eq!(Phase::of(not_bayer), None);
    }
}
