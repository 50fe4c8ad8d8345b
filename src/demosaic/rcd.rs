//! Ratio Corrected Demosaicing (RCD), Luis Sanz Rodríguez, 2017, as described in its public
//! documentation (<https://github.com/LuisSR/RCD-Demosaicing>).
//!
//! Steps, on a padded tile. Each is computed over the part of the tile that the later steps
//! read; "margin" is how many samples it leaves out on every side, and the output needs
//! margin [`PAD`] (so a pixel depends on the mosaic up to 10 pixels away).
//!
//! | step | computes, at every pixel                                          | margin |
//! |------|-------------------------------------------------------------------|--------|
//! | 1    | squared high-pass of the mosaic, vertical `hv` and horizontal `hh`  | 3      |
//! | 2    | `VH = V / (V + H)`, `V` = `hv` summed over 3 rows, `H` over 3 columns | 4    |
//! | 3    | VH discrimination: `VH` or the mean of its 4 diagonal neighbours, whichever is further from 0.5 | 5 |
//! | 4-6  | the same along the diagonals P (NW-SE) and Q (NE-SW): `PQ`        | 5      |
//! | 7    | low-pass `L`: 3x3 binomial (1 2 1) x (1 2 1) / 16 of the mosaic, clipped at 0 | 1 |
//! | 8    | green at R/B: ratio-corrected N, S, W, E estimates, weighted by gradients, blended by VH | 5 |
//! | 9    | R at B and B at R: colour differences (C - G) of the 4 diagonal neighbours, weighted by gradients along P and Q, blended by PQ | 7 |
//! | 10   | R and B at G: colour differences of the 4 cardinal neighbours, blended by VH | 10 |
//!
//! The high-pass is `(1, -3, -1, 6, -1, -3, 1)` along the direction; on a Bayer line its taps
//! on each of the two colours sum to zero, so it responds to detail, not to colour. A strong
//! response along one direction means the edge runs across it, so the estimate from the other
//! direction gets the weight: green is `V + VH (H - V)`.
//!
//! The ratio correction (step 8): green from the north is `G(N) (1 + (L(0) - L(2N)) / (L(0) +
//! L(2N)))`, the green neighbour scaled by how the low-passed level changes between the pixel
//! and its same-colour neighbour two rows up (`2 L(0) / (L(0) + L(2N))`), instead of
//! Hamilton-Adams' additive Laplacian. Each pair of opposite estimates is weighted by the other
//! side's gradient (`N Gs + S Gn` over `Gn + Gs`), each gradient summing absolute differences
//! of the mosaic (and, in steps 9 and 10, of the interpolated green) on that side.
//!
//! # Deviations, all so that any linear input works
//! - RCD clips its input to `[0, 1]` and its green to `[0, 1]`. Here only `L`, from which the
//!   ratios are formed, is clipped (at 0: a ratio of negative noise means nothing, and with
//!   `L >= 0` each ratio factor stays within `[0, 2]`). Interpolated values are not clipped,
//!   so noise below black or highlights above 1 pass through.
//! - Weighted means are computed as `a + w (b - a)`: equal inputs give exactly that value, so
//!   a grey card stays grey to the last bit whatever the weights.
//! - Borders: the tile is mirrored (see the `tile` module) instead of filling a border band
//!   with a simpler method, so edge pixels get RCD too.
//!
//! # Implementation notes
//! Each step computes its formula at every pixel of a row (the non-green formulas also at
//! green photosites, where the result is discarded or never read) and picks by photosite
//! colour without branching, so the inner loops are straight-line code over equal-length
//! slices that the compiler vectorises. Tiles of 256 x 64 output pixels keep the ten scratch
//! planes (0.9 MB) in the L2 cache. The kernel is compiled for SSE2, AVX2 and AVX-512 and
//! picked at run time (see the `cpu` module): 12 MP on one thread takes about 220, 150 and
//! 130 ms.

use super::tile::{self, OutTile, Phase, Tile, win};
use crate::cpu::{Isa, kernels};
use crate::image::Plane;

/// Reach of the method: an output pixel depends on the mosaic up to 10 pixels away.
pub(crate) const PAD: usize = 10;

/// Output tile size.
pub(crate) const TILE: (usize, usize) = (256, 64);

/// Keeps the gradient weights finite where the image is flat.
const EPS: f32 = 1e-5;
/// Floor of the directional statistics (sums of squares).
const EPS_SQ: f32 = 1e-10;

/// Scratch planes of one tile (`stride * rows` each), reused from tile to tile.
#[derive(Default)]
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    dir: Vec<f32>,
    vh: Vec<f32>,
    pq: Vec<f32>,
    lpf: Vec<f32>,
    green: Vec<f32>,
    red: Vec<f32>,
    blue: Vec<f32>,
}

/// RCD demosaicing of a mosaic at least 2 x 2 pixels.
pub(crate) fn rcd(
    m: &Plane<f32>,
    phase: Phase,
    size: (usize, usize),
    isa: Isa,
    out: &mut [Plane<f32>; 3],
) {
    tile::run(
        m,
        phase,
        PAD,
        size,
        Scratch::default,
        |t, s, o| kernel(isa, t, s, o),
        out,
    )
}

kernels! {
    fn kernel(t: &Tile, s: &mut Scratch, out: &mut OutTile) = kernel_body;
}

#[inline(always)]
fn kernel_body(t: &Tile, s: &mut Scratch, out: &mut OutTile) {
    let len = t.stride * t.rows;
    let Scratch {
        a,
        b,
        dir,
        vh,
        pq,
        lpf,
        green,
        red,
        blue,
    } = s;
    for v in [
        &mut *a,
        &mut *b,
        &mut *dir,
        &mut *vh,
        &mut *pq,
        &mut *lpf,
        &mut *green,
        &mut *red,
        &mut *blue,
    ] {
        v.resize(len, 0.0);
    }
    // steps 1-3: vertical / horizontal discrimination
    high_pass(t, (0, 1), a);
    high_pass(t, (1, 0), b);
    direction(t, a, (0, 1), b, (1, 0), dir);
    discrimination(t, dir, vh);
    // steps 4-6: P / Q diagonal discrimination
    high_pass(t, (1, 1), a);
    high_pass(t, (-1, 1), b);
    direction(t, a, (1, 1), b, (-1, 1), dir);
    discrimination(t, dir, pq);
    low_pass(t, lpf);
    green_at_rb(t, lpf, vh, green);
    opposite_at_rb(t, green, pq, red, blue);
    at_green(t, green, red, vh, out, 0);
    at_green(t, green, blue, vh, out, 2);
    for j in 0..t.height {
        let y = j + t.pad;
        out.rows(j)[1].copy_from_slice(win(green, t.stride, t.pad, y, 0, 0, t.width));
    }
}

/// Step 1: `out` = squared high-pass `(1, -3, -1, 6, -1, -3, 1)` of the mosaic along `(ux,
/// uy)`, margin 3.
#[inline(always)]
fn high_pass(t: &Tile, (ux, uy): (isize, isize), out: &mut [f32]) {
    const M: usize = 3;
    let n = t.stride - 2 * M;
    for y in M..t.rows - M {
        let s = |k: isize| win(t.data, t.stride, M, y, k * ux, k * uy, n);
        let (m3, m2, m1, c, p1, p2, p3) = (s(-3), s(-2), s(-1), s(0), s(1), s(2), s(3));
        let o = &mut out[y * t.stride + M..][..n];
        for i in 0..n {
            let h = (m3[i] - m1[i] - p1[i] + p3[i]) - 3.0 * (m2[i] + p2[i]) + 6.0 * c[i];
            o[i] = h * h;
        }
    }
}

/// Step 2: `out = A / (A + B)` with `A` the sum of `a` over the pixel and its neighbours along
/// `ua`, `B` likewise for `b` along `ub`, both at least [`EPS_SQ`]; margin 4.
#[inline(always)]
fn direction(
    t: &Tile,
    a: &[f32],
    (ax, ay): (isize, isize),
    b: &[f32],
    (bx, by): (isize, isize),
    out: &mut [f32],
) {
    const M: usize = 4;
    let n = t.stride - 2 * M;
    for y in M..t.rows - M {
        let wa = |dx, dy| win(a, t.stride, M, y, dx, dy, n);
        let wb = |dx, dy| win(b, t.stride, M, y, dx, dy, n);
        let (a0, a1, a2) = (wa(-ax, -ay), wa(0, 0), wa(ax, ay));
        let (b0, b1, b2) = (wb(-bx, -by), wb(0, 0), wb(bx, by));
        let o = &mut out[y * t.stride + M..][..n];
        for i in 0..n {
            let sa = (a0[i] + a1[i] + a2[i]).max(EPS_SQ);
            let sb = (b0[i] + b1[i] + b2[i]).max(EPS_SQ);
            o[i] = sa / (sa + sb);
        }
    }
}

/// Step 3: the pixel's direction or the mean of its four diagonal neighbours', whichever is
/// more decided (further from 0.5); margin 5.
#[inline(always)]
fn discrimination(t: &Tile, dir: &[f32], out: &mut [f32]) {
    const M: usize = 5;
    let n = t.stride - 2 * M;
    for y in M..t.rows - M {
        let d = |dx, dy| win(dir, t.stride, M, y, dx, dy, n);
        let (c, nw, ne, sw, se) = (d(0, 0), d(-1, -1), d(1, -1), d(-1, 1), d(1, 1));
        let o = &mut out[y * t.stride + M..][..n];
        for i in 0..n {
            let around = 0.25 * ((nw[i] + ne[i]) + (sw[i] + se[i]));
            o[i] = if (0.5 - c[i]).abs() < (0.5 - around).abs() {
                around
            } else {
                c[i]
            };
        }
    }
}

/// Step 7: 3x3 binomial low-pass of the mosaic, clipped at 0; margin 1.
#[inline(always)]
fn low_pass(t: &Tile, out: &mut [f32]) {
    const M: usize = 1;
    let n = t.stride - 2 * M;
    for y in M..t.rows - M {
        let s = |dx, dy| win(t.data, t.stride, M, y, dx, dy, n);
        let (c, w, e, no, so) = (s(0, 0), s(-1, 0), s(1, 0), s(0, -1), s(0, 1));
        let (nw, ne, sw, se) = (s(-1, -1), s(1, -1), s(-1, 1), s(1, 1));
        let o = &mut out[y * t.stride + M..][..n];
        for i in 0..n {
            let cross = (w[i] + e[i]) + (no[i] + so[i]);
            let diag = (nw[i] + ne[i]) + (sw[i] + se[i]);
            o[i] = (0.25 * c[i] + 0.125 * cross + 0.0625 * diag).max(0.0);
        }
    }
}

/// `g` scaled by the ratio of the low-pass at the pixel (`l0`) and at the neighbour (`l2`):
/// `g * 2 l0 / (l0 + l2)`, written so that `l0 == l2` returns `g` exactly.
#[inline(always)]
fn ratio_corrected(g: f32, l0: f32, l2: f32) -> f32 {
    g * (1.0 + (l0 - l2) / (EPS + l0 + l2))
}

/// `a + wa / (wa + wb) * (b - a)`: `a` and `b` weighted by the other one's gradient.
#[inline(always)]
fn weighted(a: f32, ga: f32, b: f32, gb: f32) -> f32 {
    a + ga / (ga + gb) * (b - a)
}

/// Step 8: green at red and blue photosites (the mosaic at green ones); margin 5.
#[inline(always)]
fn green_at_rb(t: &Tile, lpf: &[f32], vh: &[f32], out: &mut [f32]) {
    const M: usize = 5;
    let n = t.stride - 2 * M;
    for y in M..t.rows - M {
        let s = |dx, dy| win(t.data, t.stride, M, y, dx, dy, n);
        let l = |dx, dy| win(lpf, t.stride, M, y, dx, dy, n);
        let c = s(0, 0);
        let (n1, n2, n3, n4) = (s(0, -1), s(0, -2), s(0, -3), s(0, -4));
        let (s1, s2, s3, s4) = (s(0, 1), s(0, 2), s(0, 3), s(0, 4));
        let (w1, w2, w3, w4) = (s(-1, 0), s(-2, 0), s(-3, 0), s(-4, 0));
        let (e1, e2, e3, e4) = (s(1, 0), s(2, 0), s(3, 0), s(4, 0));
        let (l0, ln, ls, lw, le) = (l(0, 0), l(0, -2), l(0, 2), l(-2, 0), l(2, 0));
        let d = win(vh, t.stride, M, y, 0, 0, n);
        let (parity, _) = t.phase.row(y);
        let o = &mut out[y * t.stride + M..][..n];
        for i in 0..n {
            let c0 = c[i];
            let dv = (n1[i] - s1[i]).abs();
            let gn = EPS + dv + (c0 - n2[i]).abs() + (n1[i] - n3[i]).abs() + (n2[i] - n4[i]).abs();
            let gs = EPS + dv + (c0 - s2[i]).abs() + (s1[i] - s3[i]).abs() + (s2[i] - s4[i]).abs();
            let dh = (w1[i] - e1[i]).abs();
            let gw = EPS + dh + (c0 - w2[i]).abs() + (w1[i] - w3[i]).abs() + (w2[i] - w4[i]).abs();
            let ge = EPS + dh + (c0 - e2[i]).abs() + (e1[i] - e3[i]).abs() + (e2[i] - e4[i]).abs();
            let v = weighted(
                ratio_corrected(n1[i], l0[i], ln[i]),
                gn,
                ratio_corrected(s1[i], l0[i], ls[i]),
                gs,
            );
            let h = weighted(
                ratio_corrected(w1[i], l0[i], lw[i]),
                gw,
                ratio_corrected(e1[i], l0[i], le[i]),
                ge,
            );
            let g = v + d[i] * (h - v);
            o[i] = tile::pick(tile::parity_mask(M + i, parity), g, c0);
        }
    }
}

/// Step 9: at red and blue photosites, the opposite colour from the colour differences of
/// the four diagonal neighbours, weighted along P and Q, blended by `pq`; the native colour
/// is copied. Margin 7; values at green photosites are not meaningful.
#[inline(always)]
fn opposite_at_rb(t: &Tile, green: &[f32], pq: &[f32], red: &mut [f32], blue: &mut [f32]) {
    const M: usize = 7;
    let n = t.stride - 2 * M;
    for y in M..t.rows - M {
        let s = |dx, dy| win(t.data, t.stride, M, y, dx, dy, n);
        let g = |dx, dy| win(green, t.stride, M, y, dx, dy, n);
        let (c, nw, ne, sw, se) = (s(0, 0), s(-1, -1), s(1, -1), s(-1, 1), s(1, 1));
        let (nw3, ne3, sw3, se3) = (s(-3, -3), s(3, -3), s(-3, 3), s(3, 3));
        let (g0, gnw, gne, gsw, gse) = (g(0, 0), g(-1, -1), g(1, -1), g(-1, 1), g(1, 1));
        let (gnw2, gne2, gsw2, gse2) = (g(-2, -2), g(2, -2), g(-2, 2), g(2, 2));
        let d = win(pq, t.stride, M, y, 0, 0, n);
        let (_, red_row) = t.phase.row(y);
        let (own, opp) = if red_row {
            (&mut *red, &mut *blue)
        } else {
            (&mut *blue, &mut *red)
        };
        own[y * t.stride + M..][..n].copy_from_slice(c);
        let o = &mut opp[y * t.stride + M..][..n];
        for i in 0..n {
            let gc = g0[i];
            let dp = (nw[i] - se[i]).abs();
            let dq = (ne[i] - sw[i]).abs();
            let gr_nw = EPS + dp + (nw[i] - nw3[i]).abs() + (gc - gnw2[i]).abs();
            let gr_se = EPS + dp + (se[i] - se3[i]).abs() + (gc - gse2[i]).abs();
            let gr_ne = EPS + dq + (ne[i] - ne3[i]).abs() + (gc - gne2[i]).abs();
            let gr_sw = EPS + dq + (sw[i] - sw3[i]).abs() + (gc - gsw2[i]).abs();
            let p = weighted(nw[i] - gnw[i], gr_nw, se[i] - gse[i], gr_se);
            let q = weighted(ne[i] - gne[i], gr_ne, sw[i] - gsw[i], gr_sw);
            o[i] = gc + p + d[i] * (q - p);
        }
    }
}

/// Step 10: colour `x` (red or blue, complete at red and blue photosites) at green photosites
/// from the colour differences of the four cardinal neighbours, blended by `vh`; written to
/// output plane `plane` (0 red, 2 blue) with `x` itself at red and blue photosites.
#[inline(always)]
fn at_green(t: &Tile, green: &[f32], x: &[f32], vh: &[f32], out: &mut OutTile, plane: usize) {
    let (m, n) = (t.pad, t.width);
    for j in 0..t.height {
        let y = j + m;
        let g = |dx, dy| win(green, t.stride, m, y, dx, dy, n);
        let c = |dx, dy| win(x, t.stride, m, y, dx, dy, n);
        let (g0, gn1, gs1, gw1, ge1) = (g(0, 0), g(0, -1), g(0, 1), g(-1, 0), g(1, 0));
        let (gn2, gs2, gw2, ge2) = (g(0, -2), g(0, 2), g(-2, 0), g(2, 0));
        let (c0, n1, s1, w1, e1) = (c(0, 0), c(0, -1), c(0, 1), c(-1, 0), c(1, 0));
        let (n3, s3, w3, e3) = (c(0, -3), c(0, 3), c(-3, 0), c(3, 0));
        let d = win(vh, t.stride, m, y, 0, 0, n);
        let (parity, _) = t.phase.row(y);
        let [r, _, b] = out.rows(j);
        let o = if plane == 0 { r } else { b };
        let o = &mut o[..n];
        for i in 0..n {
            let gc = g0[i];
            let dv = (n1[i] - s1[i]).abs();
            let dh = (w1[i] - e1[i]).abs();
            let gr_n = EPS + dv + (gc - gn2[i]).abs() + (n1[i] - n3[i]).abs();
            let gr_s = EPS + dv + (gc - gs2[i]).abs() + (s1[i] - s3[i]).abs();
            let gr_w = EPS + dh + (gc - gw2[i]).abs() + (w1[i] - w3[i]).abs();
            let gr_e = EPS + dh + (gc - ge2[i]).abs() + (e1[i] - e3[i]).abs();
            let v = weighted(n1[i] - gn1[i], gr_n, s1[i] - gs1[i], gr_s);
            let h = weighted(w1[i] - gw1[i], gr_w, e1[i] - ge1[i], gr_e);
            let est = gc + v + d[i] * (h - v);
            o[i] = tile::pick(tile::parity_mask(m + i, parity), c0[i], est);
        }
    }
}
