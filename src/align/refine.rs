//! Sub-pixel refinement of the tile search ([`super::search`]): at the finest level, a few
//! inverse-compositional Lucas-Kanade iterations on bicubic samples refine each tile further
//! (as Wronski et al. 2019 do after the HDR+ search).

use crate::cpu::{Isa, kernels};
use crate::image::{Plane, cubic_weights};

/// The `size` x `size` tile of `a` at (`x0`, `y0`) + `d`, resampled with the separable
/// Catmull-Rom cubic (one set of weights serves the whole tile, since a translation moves
/// every pixel by the same fraction). `out` receives `size * size` samples; `tmp` must hold
/// `(size + 3) * size`. Matches [`Plane::sample_cubic`] at every pixel.
#[inline(always)]
pub(crate) fn warp_tile(
    a: &Plane<f32>,
    x0: usize,
    y0: usize,
    size: usize,
    d: (f32, f32),
    out: &mut [f32],
    tmp: &mut [f32],
) {
    let (px, py) = (x0 as f32 + d.0, y0 as f32 + d.1);
    let (fx, fy) = (px.floor(), py.floor());
    let (wx, wy) = (cubic_weights(px - fx), cubic_weights(py - fy));
    let (ix, iy) = (fx as i64 - 1, fy as i64 - 1);
    let inside_x = ix >= 0 && ix as usize + size + 3 <= a.width;
    let (mx, my) = (a.width as i64 - 1, a.height as i64 - 1);
    // horizontal pass over the size + 3 source rows the vertical taps need
    for (r, trow) in tmp.chunks_exact_mut(size).enumerate().take(size + 3) {
        let src = a.row((iy + r as i64).clamp(0, my) as usize);
        if inside_x {
            // four shifted views, zipped, so the loop has no bounds checks and vectorises
            let s = &src[ix as usize..ix as usize + size + 3];
            let (s0, s1, s2, s3) = (&s[..size], &s[1..size + 1], &s[2..size + 2], &s[3..]);
            for ((((t, p0), p1), p2), p3) in trow.iter_mut().zip(s0).zip(s1).zip(s2).zip(s3) {
                *t = wx[0] * p0 + wx[1] * p1 + wx[2] * p2 + wx[3] * p3;
            }
        } else {
            for (i, t) in trow.iter_mut().enumerate() {
                let at = |k: i64| src[(ix + i as i64 + k).clamp(0, mx) as usize];
                *t = wx[0] * at(0) + wx[1] * at(1) + wx[2] * at(2) + wx[3] * at(3);
            }
        }
    }
    for (k, orow) in out.chunks_exact_mut(size).enumerate().take(size) {
        let (t0, rest) = tmp[k * size..].split_at(size);
        let (t1, rest) = rest.split_at(size);
        let (t2, rest) = rest.split_at(size);
        let t3 = &rest[..size];
        for ((((o, p0), p1), p2), p3) in orow.iter_mut().zip(t0).zip(t1).zip(t2).zip(t3) {
            *o = wy[0] * p0 + wy[1] * p1 + wy[2] * p2 + wy[3] * p3;
        }
    }
}

/// The outcome of [`lucas_kanade`] for one tile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TileFit {
    /// Displacement, level pixels.
    pub d: (f32, f32),
    /// RMS residual at `d`.
    pub rms: f32,
    /// Structure tensor of the reference tile: larger and smaller eigenvalue, and the unit
    /// eigenvector of the larger (the direction in which the tile pins the motion down).
    pub strong: f32,
    pub weak: f32,
    pub normal: (f32, f32),
}

impl TileFit {
    /// Whether the tile determines its motion in both directions: its weaker gradient
    /// direction carries at least `ratio` of the stronger's energy and clearly more than the
    /// noise (judged from the residual).
    pub fn is_well_posed(&self, ratio: f32, n: usize) -> bool {
        self.weak >= ratio * self.strong && self.weak > n as f32 * self.rms * self.rms
    }
}

/// Inverse-compositional Lucas-Kanade refinement of one tile's translation `d` (level
/// pixels) on bicubic samples. With `along = Some(e)` the update is restricted to the unit
/// direction `e` (for edge-like tiles, whose motion along the edge is unobservable). Keeps
/// `d` when the system is degenerate, and never wanders more than a pixel from `d`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lucas_kanade(
    r: &Plane<f32>,
    a: &Plane<f32>,
    x0: usize,
    y0: usize,
    size: usize,
    d: (f32, f32),
    iterations: usize,
    along: Option<(f32, f32)>,
) -> TileFit {
    lucas_kanade_with(Isa::detect(), r, a, x0, y0, size, d, iterations, along)
}

/// [`lucas_kanade`] on the instruction set `isa`, with its buffers on the stack for tiles up
/// to 16 pixels (the default), on the heap beyond.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lucas_kanade_with(
    isa: Isa,
    r: &Plane<f32>,
    a: &Plane<f32>,
    x0: usize,
    y0: usize,
    size: usize,
    d: (f32, f32),
    iterations: usize,
    along: Option<(f32, f32)>,
) -> TileFit {
    const S: usize = 16;
    let tile = (x0, y0, size, d, iterations, along);
    if size <= S {
        let (mut gx, mut gy, mut w) = ([0.0f32; S * S], [0.0f32; S * S], [0.0f32; S * S]);
        let mut tmp = [0.0f32; (S + 3) * S];
        lk_tile(isa, r, a, tile, [&mut gx, &mut gy, &mut w, &mut tmp])
    } else {
        let n = size * size;
        let (mut gx, mut gy, mut w) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
        let mut tmp = vec![0.0f32; (size + 3) * size];
        lk_tile(isa, r, a, tile, [&mut gx, &mut gy, &mut w, &mut tmp])
    }
}

/// A tile for [`lucas_kanade`]: origin, size, start, iterations, direction.
type LkTile = (usize, usize, usize, (f32, f32), usize, Option<(f32, f32)>);

kernels! {
    fn lk_tile(
        r: &Plane<f32>,
        a: &Plane<f32>,
        tile: LkTile,
        buffers: [&mut [f32]; 4],
    ) -> TileFit = lucas_kanade_body;
}

/// The body of [`lucas_kanade`], compiled for each instruction set.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lucas_kanade_body(
    r: &Plane<f32>,
    a: &Plane<f32>,
    (x0, y0, size, d, iterations, along): LkTile,
    [gx, gy, warped, tmp]: [&mut [f32]; 4],
) -> TileFit {
    let n = size * size;
    let (gx, gy) = (&mut gx[..n], &mut gy[..n]);
    let (warped, tmp) = (&mut warped[..n], &mut tmp[..(size + 3) * size]);
    let (mx, my) = (r.width - 1, r.height - 1);
    let interior = x0 >= 1 && y0 >= 1 && x0 + size <= mx && y0 + size <= my;
    for k in 0..size {
        let y = y0 + k;
        let (up, down) = (r.row(y.saturating_sub(1)), r.row((y + 1).min(my)));
        let row = r.row(y);
        let (gxr, gyr) = (
            &mut gx[k * size..(k + 1) * size],
            &mut gy[k * size..(k + 1) * size],
        );
        if interior {
            let (left, right) = (&row[x0 - 1..x0 - 1 + size], &row[x0 + 1..x0 + 1 + size]);
            let (u, d) = (&up[x0..x0 + size], &down[x0..x0 + size]);
            for ((g, l), rr) in gxr.iter_mut().zip(left).zip(right) {
                *g = 0.5 * (rr - l);
            }
            for ((g, uu), dd) in gyr.iter_mut().zip(u).zip(d) {
                *g = 0.5 * (dd - uu);
            }
        } else {
            for i in 0..size {
                let x = x0 + i;
                gxr[i] = 0.5 * (row[(x + 1).min(mx)] - row[x.saturating_sub(1)]);
                gyr[i] = 0.5 * (down[x] - up[x]);
            }
        }
    }
    // the structure tensor, summed in 8 lanes
    let (mut lxx, mut lxy, mut lyy) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
    for (x8, y8) in gx.chunks_exact(8).zip(gy.chunks_exact(8)) {
        for l in 0..8 {
            lxx[l] += x8[l] * x8[l];
            lxy[l] += x8[l] * y8[l];
            lyy[l] += y8[l] * y8[l];
        }
    }
    let (mut hxx, mut hxy, mut hyy) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in gx[n - n % 8..].iter().zip(&gy[n - n % 8..]) {
        hxx += x * x;
        hxy += x * y;
        hyy += y * y;
    }
    hxx += lxx.iter().sum::<f32>();
    hxy += lxy.iter().sum::<f32>();
    hyy += lyy.iter().sum::<f32>();
    // eigen-decomposition of the 2x2 structure tensor
    let half_tr = 0.5 * (hxx + hyy);
    let disc = (0.25 * (hxx - hyy) * (hxx - hyy) + hxy * hxy).sqrt();
    let (strong, weak) = (half_tr + disc, (half_tr - disc).max(0.0));
    let normal = if hxy.abs() > 1e-20 || (hxx - strong).abs() > 1e-20 {
        let (vx, vy) = (hxy, strong - hxx);
        let len = (vx * vx + vy * vy).sqrt();
        if len > 0.0 {
            (vx / len, vy / len)
        } else {
            (1.0, 0.0)
        }
    } else {
        (1.0, 0.0)
    };
    let normal = if hxx >= hyy && hxy.abs() <= 1e-20 {
        (1.0, 0.0)
    } else {
        normal
    };

    let gx: &[f32] = gx;
    let gy: &[f32] = gy;
    let det = hxx * hyy - hxy * hxy;
    let mut cur = d;
    let mut last = lk_residual(r, a, (x0, y0, size), cur, [gx, gy], warped, tmp);
    for _ in 0..iterations {
        let (bx, by, _) = last;
        let (ux, uy) = match along {
            Some((ex, ey)) => {
                let h = ex * (hxx * ex + hxy * ey) + ey * (hxy * ex + hyy * ey);
                if h <= 1e-12 {
                    break;
                }
                let t = (ex * bx + ey * by) / h;
                (t * ex, t * ey)
            }
            None => {
                if !(det > 1e-6 * (hxx + hyy) * (hxx + hyy) && hxx + hyy > 1e-12) {
                    break;
                }
                ((hyy * bx - hxy * by) / det, (hxx * by - hxy * bx) / det)
            }
        };
        let next = (cur.0 - ux, cur.1 - uy);
        if (next.0 - d.0).abs() > 1.0 || (next.1 - d.1).abs() > 1.0 {
            break;
        }
        let res = lk_residual(r, a, (x0, y0, size), next, [gx, gy], warped, tmp);
        if res.2 > last.2 {
            break; // the step made things worse: stop at the better estimate
        }
        cur = next;
        last = res;
        if ux.abs() < 1e-3 && uy.abs() < 1e-3 {
            break;
        }
    }
    TileFit {
        d: cur,
        rms: (last.2 / n as f32).sqrt(),
        strong,
        weak,
        normal,
    }
}

/// The alternate tile at `d` minus the reference tile, and its dot products with the
/// reference gradients and itself: (gx . e, gy . e, e . e). A function rather than a closure
/// so that it is compiled with its caller's instruction set.
#[inline(always)]
fn lk_residual(
    r: &Plane<f32>,
    a: &Plane<f32>,
    (x0, y0, size): (usize, usize, usize),
    d: (f32, f32),
    [gx, gy]: [&[f32]; 2],
    warped: &mut [f32],
    tmp: &mut [f32],
) -> (f32, f32, f32) {
    warp_tile(a, x0, y0, size, d, warped, tmp);
    let n = size * size;
    // reference rows minus the warped tile, then three dot products in 8 lanes
    for k in 0..size {
        let row = &r.row(y0 + k)[x0..x0 + size];
        for (w, p) in warped[k * size..(k + 1) * size].iter_mut().zip(row) {
            *w -= p;
        }
    }
    let (mut lx, mut ly, mut le) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
    let chunks = warped
        .chunks_exact(8)
        .zip(gx.chunks_exact(8))
        .zip(gy.chunks_exact(8));
    for ((e8, x8), y8) in chunks {
        for l in 0..8 {
            lx[l] += x8[l] * e8[l];
            ly[l] += y8[l] * e8[l];
            le[l] += e8[l] * e8[l];
        }
    }
    let tail = n - n % 8;
    let (mut bx, mut by, mut e2) = (0.0f32, 0.0f32, 0.0f32);
    for i in tail..n {
        let e = warped[i];
        bx += gx[i] * e;
        by += gy[i] * e;
        e2 += e * e;
    }
    (
        bx + lx.iter().sum::<f32>(),
        by + ly.iter().sum::<f32>(),
        e2 + le.iter().sum::<f32>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_tile_warp_matches_pointwise_bicubic() {
        let (w, h) = (37, 29);
        let p = Plane::from_vec(
            w,
            h,
            (0..w * h)
                .map(|i| ((i * 7919) % 113) as f32 / 113.0)
                .collect(),
        )
        .unwrap();
        for size in [1, 7, 8, 9, 15, 16, 17] {
            for &(x0, y0, d) in &[
                (3, 4, (0.3f32, -0.7f32)),
                (0, 0, (-2.6, -1.2)),
                (w - size, h - size, (1.9, 2.4)),
                (5, 2, (0.0, 0.0)),
            ] {
                if x0 + size > w || y0 + size > h {
                    continue;
                }
                let mut out = vec![0.0; size * size];
                let mut tmp = vec![0.0; (size + 3) * size];
                warp_tile(&p, x0, y0, size, d, &mut out, &mut tmp);
                for k in 0..size {
                    for i in 0..size {
                        let want = p.sample_cubic((x0 + i) as f32 + d.0, (y0 + k) as f32 + d.1);
                        assert!(
                            (out[k * size + i] - want).abs() < 1e-5,
                            "size {size} at {x0},{y0} {d:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bicubic_is_exact_on_a_linear_ramp() {
        let p = Plane::from_vec(
            10,
            10,
            (0..100)
                .map(|i| (i % 10) as f32 * 2.0 + (i / 10) as f32)
                .collect(),
        )
        .unwrap();
        let v = p.sample_cubic(4.3, 5.6);
        assert!((v - (4.3 * 2.0 + 5.6)).abs() < 1e-4, "{v}");
    }
}
