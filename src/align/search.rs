//! Coarse-to-fine tile search (HDR+ section 4); the sub-pixel refinement that follows it
//! at the finest level is in [`super::refine`].
//!
//! At each pyramid level, from the coarsest: every reference tile is compared with the
//! alternate image displaced by each integer offset within a search radius around its initial
//! displacement; the best offset is refined to sub-pixel precision by fitting a 2-D quadratic
//! to the 3x3 L2 distances around it (HDR+ supplement). The initial displacement of a tile is
//! the best (at this level) of the upsampled displacements of the three nearest coarse tiles,
//! which keeps motion boundaries sharp.

use rayon::prelude::*;

use crate::cpu::{Isa, kernels};
use crate::image::Plane;

/// Distance between a reference tile and a displaced alternate tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Norm {
    L1,
    L2,
}

/// Square tiles of `size` pixels every `step` pixels, all inside a `width` x `height` image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TileGrid {
    pub size: usize,
    pub step: usize,
    pub nx: usize,
    pub ny: usize,
}

impl TileGrid {
    pub fn new(width: usize, height: usize, size: usize) -> TileGrid {
        let size = size.min(width).min(height).max(1);
        let step = (size / 2).max(1);
        TileGrid {
            size,
            step,
            nx: (width - size) / step + 1,
            ny: (height - size) / step + 1,
        }
    }

    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    /// Top-left corner of tile `t` (row-major index).
    pub fn origin(&self, t: usize) -> (usize, usize) {
        ((t % self.nx) * self.step, (t / self.nx) * self.step)
    }

    /// Centre of tile `t` in continuous coordinates.
    pub fn centre(&self, t: usize) -> (f32, f32) {
        let (x, y) = self.origin(t);
        let h = self.size as f32 / 2.0;
        (x as f32 + h, y as f32 + h)
    }
}

/// Sum of |a - r| or (a - r)^2 over the tile at (`x0`, `y0`) of `r`, with `a` read at the
/// integer offset (`dx`, `dy`) and clamped at its borders.
#[allow(clippy::too_many_arguments)] // a hot kernel: plain scalars beat a struct here
#[inline(always)]
pub(crate) fn tile_distance(
    r: &Plane<f32>,
    a: &Plane<f32>,
    x0: usize,
    y0: usize,
    size: usize,
    dx: i32,
    dy: i32,
    norm: Norm,
) -> f32 {
    let (ax, ay) = (x0 as i64 + i64::from(dx), y0 as i64 + i64::from(dy));
    let inside =
        ax >= 0 && ay >= 0 && ax as usize + size <= a.width && ay as usize + size <= a.height;
    let mut acc = 0.0f32;
    if inside {
        let (ax, ay) = (ax as usize, ay as usize);
        if size == 16 {
            // the default tile: a row is one 16-lane vector
            let mut lanes = [0.0f32; 16];
            for k in 0..16 {
                let rr: &[f32; 16] = r.row(y0 + k)[x0..x0 + 16].try_into().unwrap();
                let ar: &[f32; 16] = a.row(ay + k)[ax..ax + 16].try_into().unwrap();
                for l in 0..16 {
                    let e = ar[l] - rr[l];
                    lanes[l] += match norm {
                        Norm::L1 => e.abs(),
                        Norm::L2 => e * e,
                    };
                }
            }
            let mut acc = 0.0f32;
            for l in lanes {
                acc += l;
            }
            return acc;
        }
        // eight independent lanes so the loop vectorises (a single running sum would force
        // sequential float additions)
        let mut lanes = [0.0f32; 8];
        for k in 0..size {
            let rr = &r.row(y0 + k)[x0..x0 + size];
            let ar = &a.row(ay + k)[ax..ax + size];
            let (rc, ac) = (rr.chunks_exact(8), ar.chunks_exact(8));
            let (rt, at) = (rc.remainder(), ac.remainder());
            match norm {
                Norm::L1 => {
                    for (p8, q8) in rc.zip(ac) {
                        for l in 0..8 {
                            lanes[l] += (q8[l] - p8[l]).abs();
                        }
                    }
                    acc += rt.iter().zip(at).map(|(p, q)| (q - p).abs()).sum::<f32>();
                }
                Norm::L2 => {
                    for (p8, q8) in rc.zip(ac) {
                        for l in 0..8 {
                            let e = q8[l] - p8[l];
                            lanes[l] += e * e;
                        }
                    }
                    acc += rt
                        .iter()
                        .zip(at)
                        .map(|(p, q)| (q - p) * (q - p))
                        .sum::<f32>();
                }
            }
        }
        acc += lanes.iter().sum::<f32>();
    } else {
        let (mx, my) = (a.width as i64 - 1, a.height as i64 - 1);
        for k in 0..size {
            let rr = &r.row(y0 + k)[x0..x0 + size];
            let yy = (ay + k as i64).clamp(0, my) as usize;
            let ar = a.row(yy);
            for (i, p) in rr.iter().enumerate() {
                let q = ar[(ax + i as i64).clamp(0, mx) as usize];
                acc += match norm {
                    Norm::L1 => (q - p).abs(),
                    Norm::L2 => (q - p) * (q - p),
                };
            }
        }
    }
    acc
}

/// Minimum of the least-squares quadratic through the 3x3 distances `d[v][u]` (u, v in
/// -1..=1), relative to the centre; `None` when the fit has no interior minimum.
pub(crate) fn quadratic_min(d: &[[f32; 3]; 3]) -> Option<(f32, f32)> {
    // Orthogonal basis on the 3x3 grid: 1, u, v, u^2 - 2/3, uv, v^2 - 2/3.
    let (mut bu, mut bv, mut auv, mut huu, mut hvv) = (0.0f32, 0.0, 0.0, 0.0, 0.0);
    for (j, row) in d.iter().enumerate() {
        for (i, &val) in row.iter().enumerate() {
            let (u, v) = (i as f32 - 1.0, j as f32 - 1.0);
            bu += u * val;
            bv += v * val;
            auv += u * v * val;
            huu += (u * u - 2.0 / 3.0) * val;
            hvv += (v * v - 2.0 / 3.0) * val;
        }
    }
    // f = c + bu u + bv v + (Auu/2) u^2 + Auv uv + (Avv/2) v^2
    let (bu, bv) = (bu / 6.0, bv / 6.0);
    let auv = auv / 4.0;
    let (auu, avv) = (huu, hvv); // (Auu/2) = huu/2  =>  Auu = huu
    let det = auu * avv - auv * auv;
    if !(auu > 0.0 && det > 0.0) {
        return None;
    }
    let mu = -(avv * bu - auv * bv) / det;
    let mv = -(auu * bv - auv * bu) / det;
    (mu.abs() <= 1.0 && mv.abs() <= 1.0).then_some((mu, mv))
}

/// Relative depth within which two local minima of the distance count as equally good.
const AMBIGUITY: f32 = 0.2;

/// One level's search: for each tile, the best displacement (level pixels) among the
/// candidates, searched over +-`radius`, refined with the quadratic fit when `subpixel`.
pub(crate) fn search_level(
    r: &Plane<f32>,
    a: &Plane<f32>,
    grid: &TileGrid,
    candidates: &[Vec<(f32, f32)>],
    radius: i32,
    norm: Norm,
    subpixel: bool,
) -> Vec<(f32, f32)> {
    search_level_with(
        Isa::detect(),
        r,
        a,
        grid,
        candidates,
        radius,
        norm,
        subpixel,
    )
}

/// [`search_level`] on the instruction set `isa`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn search_level_with(
    isa: Isa,
    r: &Plane<f32>,
    a: &Plane<f32>,
    grid: &TileGrid,
    candidates: &[Vec<(f32, f32)>],
    radius: i32,
    norm: Norm,
    subpixel: bool,
) -> Vec<(f32, f32)> {
    (0..grid.len())
        .into_par_iter()
        .map(|t| search_tile(isa, r, a, grid, &candidates[t], radius, norm, subpixel, t))
        .collect()
}

/// Largest search radius ([`search_level`]'s distance grid is held on the stack).
pub(crate) const MAX_RADIUS: i32 = 8;

kernels! {
    fn search_tile(
        r: &Plane<f32>,
        a: &Plane<f32>,
        grid: &TileGrid,
        candidates: &[(f32, f32)],
        radius: i32,
        norm: Norm,
        subpixel: bool,
        t: usize,
    ) -> (f32, f32) = search_tile_body;
}

/// One tile of [`search_level`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn search_tile_body(
    r: &Plane<f32>,
    a: &Plane<f32>,
    grid: &TileGrid,
    candidates: &[(f32, f32)],
    radius: i32,
    norm: Norm,
    subpixel: bool,
    t: usize,
) -> (f32, f32) {
    let radius = radius.min(MAX_RADIUS);
    let (x0, y0) = grid.origin(t);
    let dist = |dx: i32, dy: i32, n: Norm| tile_distance(r, a, x0, y0, grid.size, dx, dy, n);
    // best of the upsampled candidates
    let (mut bx, mut by) = (0i32, 0i32);
    let mut best = f32::INFINITY;
    for &(cx, cy) in candidates {
        let (ix, iy) = (cx.round() as i32, cy.round() as i32);
        let d = dist(ix, iy, norm);
        if d < best {
            (best, bx, by) = (d, ix, iy);
        }
    }
    // Full search around the chosen candidate. Periodic texture gives several local
    // minima of almost the same depth; of those within `AMBIGUITY` of the deepest, take
    // the one nearest the prediction from the coarser level, whose larger tiles saw
    // past the period.
    let (cx, cy) = (bx, by);
    let side = (2 * radius + 1) as usize;
    let mut grid_store = [0.0f32; ((2 * MAX_RADIUS + 1) * (2 * MAX_RADIUS + 1)) as usize];
    let grid_d = &mut grid_store[..side * side];
    for (k, v) in grid_d.iter_mut().enumerate() {
        let (dx, dy) = ((k % side) as i32 - radius, (k / side) as i32 - radius);
        *v = if dx == 0 && dy == 0 {
            best
        } else {
            dist(cx + dx, cy + dy, norm)
        };
    }
    let deepest = grid_d.iter().copied().fold(f32::INFINITY, f32::min);
    let mut choice = (f32::INFINITY, 0i32, 0i32);
    for (k, &v) in grid_d.iter().enumerate() {
        if v > deepest * (1.0 + AMBIGUITY) {
            continue;
        }
        let (u, w) = ((k % side) as i32, (k / side) as i32);
        let is_local_min = (-1..=1).all(|oy: i32| {
            (-1..=1).all(|ox: i32| {
                let (uu, ww) = (u + ox, w + oy);
                uu < 0
                    || ww < 0
                    || uu >= side as i32
                    || ww >= side as i32
                    || grid_d[ww as usize * side + uu as usize] >= v
            })
        });
        if !is_local_min {
            continue;
        }
        let (dx, dy) = (u - radius, w - radius);
        let r2 = (dx * dx + dy * dy) as f32;
        if r2 < choice.0 {
            choice = (r2, dx, dy);
        }
    }
    if choice.0.is_finite() {
        (bx, by) = (cx + choice.1, cy + choice.2);
    }
    let mut out = (bx as f32, by as f32);
    if subpixel {
        // the 3x3 L2 distances around the best offset, from the search's own where it has them
        let (u, w) = (bx - cx + radius, by - cy + radius);
        let in_grid = norm == Norm::L2 && u >= 1 && w >= 1 && u < 2 * radius && w < 2 * radius;
        let mut d3 = [[0.0f32; 3]; 3];
        for (j, row) in d3.iter_mut().enumerate() {
            for (i, v) in row.iter_mut().enumerate() {
                *v = if in_grid {
                    grid_d[(w + j as i32 - 1) as usize * side + (u + i as i32 - 1) as usize]
                } else {
                    dist(bx + i as i32 - 1, by + j as i32 - 1, Norm::L2)
                };
            }
        }
        if let Some((mu, mv)) = quadratic_min(&d3) {
            out = (bx as f32 + mu, by as f32 + mv);
        }
    }
    out
}

/// Replaces each tile's displacement by the median of its 3x3 neighbourhood when the data do
/// not clearly prefer its own: where the tile's distance at the median displacement is within
/// `tolerance` (relative) of its distance at its own. Flat tiles and tiles of periodic texture
/// (where the search locks onto a wrong period) then follow their neighbours, while tiles
/// whose own match is clearly better (real local motion) keep it.
pub(crate) fn regularize(
    r: &Plane<f32>,
    a: &Plane<f32>,
    grid: &TileGrid,
    disp: &[(f32, f32)],
    norm: Norm,
    tolerance: f32,
) -> Vec<(f32, f32)> {
    (0..grid.len())
        .into_par_iter()
        .map(|t| {
            let (j, i) = ((t % grid.nx) as isize, (t / grid.nx) as isize);
            let (mut xs, mut ys, mut n) = ([0.0f32; 9], [0.0f32; 9], 0);
            for di in -1..=1 {
                for dj in -1..=1 {
                    let (ii, jj) = (i + di, j + dj);
                    if ii >= 0 && jj >= 0 && (ii as usize) < grid.ny && (jj as usize) < grid.nx {
                        let d = disp[ii as usize * grid.nx + jj as usize];
                        (xs[n], ys[n]) = (d.0, d.1);
                        n += 1;
                    }
                }
            }
            let med = (
                *xs[..n].select_nth_unstable_by(n / 2, f32::total_cmp).1,
                *ys[..n].select_nth_unstable_by(n / 2, f32::total_cmp).1,
            );
            let own = disp[t];
            if (med.0 - own.0).abs() <= 1.0 && (med.1 - own.1).abs() <= 1.0 {
                return own;
            }
            let (x0, y0) = grid.origin(t);
            let d = |v: (f32, f32)| {
                tile_distance(
                    r,
                    a,
                    x0,
                    y0,
                    grid.size,
                    v.0.round() as i32,
                    v.1.round() as i32,
                    norm,
                )
            };
            if d(med) <= d(own) * (1.0 + tolerance) {
                med
            } else {
                own
            }
        })
        .collect()
}

/// For each tile of `fine`, the displacements (in fine-level pixels) of the three nearest
/// tiles of `coarse`, which is `factor` times smaller.
pub(crate) fn upsample_candidates(
    fine: &TileGrid,
    coarse: &TileGrid,
    coarse_disp: &[(f32, f32)],
    factor: f32,
) -> Vec<Vec<(f32, f32)>> {
    let pick = |pos: f32, n: usize| -> (usize, usize) {
        let i0 = pos.round().clamp(0.0, (n - 1) as f32) as usize;
        let i1 = if pos >= i0 as f32 {
            (i0 + 1).min(n - 1)
        } else {
            i0.saturating_sub(1)
        };
        (i0, i1)
    };
    (0..fine.len())
        .map(|t| {
            let (cx, cy) = fine.centre(t);
            let half = coarse.size as f32 / 2.0;
            let fx = (cx / factor - half) / coarse.step as f32;
            let fy = (cy / factor - half) / coarse.step as f32;
            let (j0, j1) = pick(fx, coarse.nx);
            let (i0, i1) = pick(fy, coarse.ny);
            let mut v: Vec<(f32, f32)> = [(i0, j0), (i0, j1), (i1, j0)]
                .iter()
                .map(|&(i, j)| {
                    let (dx, dy) = coarse_disp[i * coarse.nx + j];
                    (dx * factor, dy * factor)
                })
                .collect();
            v.dedup();
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::refine::LkReference;

    /// A smooth random-looking texture, and the same moved by (`dx`, `dy`) plus a little
    /// rotation, so that tiles find different displacements.
    fn texture_pair(w: usize, h: usize) -> (Plane<f32>, Plane<f32>) {
        let f = |x: f32, y: f32| {
            0.5 + 0.2 * (0.31 * x + 0.17 * y).sin() * (0.07 * x - 0.23 * y).cos()
                + 0.1 * (0.53 * x * 0.9 + 0.11 * y).sin()
        };
        let mut r = Plane::new(w, h);
        let mut a = Plane::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let (xf, yf) = (x as f32, y as f32);
                r.data[y * w + x] = f(xf, yf);
                a.data[y * w + x] = f(xf - 2.6 + 0.01 * yf, yf + 1.3 - 0.01 * xf);
            }
        }
        (r, a)
    }

    /// The search and the Lucas-Kanade refinement give the same bits on every instruction
    /// set, at both norms and with tiles that reach the borders.
    #[test]
    fn search_and_refinement_agree_across_instruction_sets() {
        let (r, a) = texture_pair(150, 110);
        let grid = TileGrid::new(r.width, r.height, 16);
        let cands = vec![vec![(0.0, 0.0), (3.0, -1.0)]; grid.len()];
        for norm in [Norm::L1, Norm::L2] {
            let base = search_level_with(Isa::baseline(), &r, &a, &grid, &cands, 4, norm, true);
            assert!(
                base.iter().any(|d| (d.0 - 2.6).abs() < 0.5),
                "{:?}",
                &base[..4]
            );
            for isa in Isa::supported() {
                let got = search_level_with(isa, &r, &a, &grid, &cands, 4, norm, true);
                assert_eq!(got, base, "{isa:?} {norm:?}");
            }
        }
        let lk = LkReference::new(&r, &grid);
        for t in 0..grid.len() {
            for start in [(3.0, -1.0), (2.5, 1.25)] {
                let base = lk.refine_with(Isa::baseline(), &r, &a, t, start, 4, None);
                for isa in Isa::supported() {
                    let got = lk.refine_with(isa, &r, &a, t, start, 4, None);
                    assert_eq!(got, base, "{isa:?} tile {t}");
                }
            }
        }
    }

    #[test]
    fn quadratic_fit_finds_the_minimum_of_a_paraboloid() {
        let (u0, v0) = (0.3f32, -0.2f32);
        let mut d = [[0.0f32; 3]; 3];
        for (j, row) in d.iter_mut().enumerate() {
            for (i, v) in row.iter_mut().enumerate() {
                let (u, w) = (i as f32 - 1.0 - u0, j as f32 - 1.0 - v0);
                *v = 2.0 * u * u + 0.5 * u * w + 3.0 * w * w + 7.0;
            }
        }
        let (mu, mv) = quadratic_min(&d).unwrap();
        assert!(
            (mu - u0).abs() < 1e-5 && (mv - v0).abs() < 1e-5,
            "{mu} {mv}"
        );
        // a saddle has no minimum
        let s = [[1.0, 0.0, 1.0], [2.0, 1.0, 2.0], [1.0, 0.0, 1.0]];
        assert!(quadratic_min(&s).is_none());
    }

    #[test]
    fn clamped_and_direct_distances_agree_inside() {
        let w = 40;
        let r =
            Plane::from_vec(w, w, (0..w * w).map(|i| ((i * 37) % 101) as f32).collect()).unwrap();
        let a =
            Plane::from_vec(w, w, (0..w * w).map(|i| ((i * 53) % 97) as f32).collect()).unwrap();
        // the same tile, evaluated through the direct path and a forced clamped path
        let d1 = tile_distance(&r, &a, 8, 8, 16, 2, -3, Norm::L1);
        let mut slow = 0.0f32;
        for k in 0..16 {
            for i in 0..16 {
                slow += (a.get(8 + i + 2, 8 + k - 3) - r.get(8 + i, 8 + k)).abs();
            }
        }
        assert_eq!(d1, slow);
        // near the border the clamped path reads edge pixels
        let d2 = tile_distance(&r, &a, 0, 0, 16, -2, 0, Norm::L2);
        let mut slow2 = 0.0f32;
        for k in 0..16 {
            for i in 0..16 {
                let x = (i as i64 - 2).max(0) as usize;
                let e = a.get(x, k) - r.get(i, k);
                slow2 += e * e;
            }
        }
        assert_eq!(d2, slow2);
    }
}
