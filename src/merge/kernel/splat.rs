//! The kernel merge's accumulation: one frame's photosites splatted onto the output sums.
//!
//! Each output pixel `p` is carried into the frame by the alignment field, `q = p + d(p)`;
//! the 3x3 photosites around `q` each add their value, times the anisotropic kernel weight
//! at their offset from `q` and the frame's per-pixel weight for their colour, to their
//! colour's sums (see the module above for the algorithm).
//!
//! # Implementation notes
//! - The sums are stored by output row as nine runs of the row's width: the weighted values
//!   of R, G and B, their weights, and their weights squared times the noise variance
//!   ([`SUMS`]), so one frame's contributions are added with contiguous vector stores.
//! - [`pixel_sums`] is the scalar reference: any CFA, any position, each photosite's colour
//!   looked up. It handles the footprints that cross the area's border.
//! - The fast path ([`splat_row`], compiled per instruction set by [`kernels!`]) handles the
//!   footprints inside the area of a 2x2 Bayer pattern (greens on one diagonal), with no
//!   branch per pixel: the nine photosites fall into four groups that share a colour (the
//!   centre; the four corners; the left and right neighbours; those above and below), each
//!   group's sums are formed once, and the centre's parity routes them to the colours. The
//!   exponentials use [`exp2_neg`], which vectorises. A test holds it to the reference.
//! - Measured (`merge/kernel-add-frame/12MP`, two threads, Xeon Sapphire Rapids class): see
//!   BENCHMARKS.md.

use rayon::prelude::*;

use super::{CLIPPED_WEIGHT, Geometry, exp2_neg};
use crate::cpu::{Isa, kernels};
use crate::image::{Cfa, Channel, Plane, Rect};
use crate::merge::CLIP_LEVEL;
use crate::merge::warp::{Field, dilate};

/// Sums per output pixel: weighted values of R, G, B; weights of R, G, B; squared weights
/// times variance of R, G, B. Row `y` of the sums is `SUMS` runs of the output width.
pub(super) const SUMS: usize = 9;

/// A frame prepared for splatting, per photosite of the merge area: the value the merge
/// accumulates (green: the photosite's value; red and blue: the white-balanced difference
/// to the green interpolated there, from the direct neighbours, each direction weighed by
/// how little it varies along it), and whether a 3x3 footprint centred there reaches a
/// clipped photosite (itself, or a green a red or blue one was differenced with). The
/// buffers are kept between frames.
#[derive(Default)]
pub(super) struct Prepared {
    value: Vec<f32>,
    clipped: Vec<u8>,
}

/// The green interpolated at a red or blue photosite from its direct neighbours (`None`
/// where outside), each direction weighed by how little it varies along it.
#[inline(always)]
fn green_at(l: Option<f32>, r: Option<f32>, u: Option<f32>, d: Option<f32>, v: f32) -> f32 {
    let pair = |a: Option<f32>, b: Option<f32>| match (a, b) {
        (Some(a), Some(b)) => Some((0.5 * (a + b), (a - b).abs())),
        (Some(v), None) | (None, Some(v)) => Some((v, 1.0)),
        _ => None,
    };
    match (pair(l, r), pair(u, d)) {
        (Some((gh, dh)), Some((gv, dv))) => {
            let (wh, wv) = (1.0 / (dh + 1e-4), 1.0 / (dv + 1e-4));
            (gh * wh + gv * wv) / (wh + wv)
        }
        (Some((g, _)), None) | (None, Some((g, _))) => g,
        _ => v,
    }
}

impl Prepared {
    /// Fills the buffers from `mosaic` (area `area`, pattern `cfa` at its corner); `wb`:
    /// white-balance multipliers for colour differences, `None` for plain values.
    pub(super) fn fill(&mut self, mosaic: &Plane<f32>, area: Rect, cfa: Cfa, wb: Option<[f32; 3]>) {
        let (w, h) = (area.width, area.height);
        self.value.resize(w * h, 0.0);
        self.clipped.resize(w * h, 0);
        self.value
            .par_chunks_mut(w)
            .zip(self.clipped.par_chunks_mut(w))
            .enumerate()
            .for_each(|(y, (val, clip))| {
                let row = |y: usize| &mosaic.row(area.y + y)[area.x..area.x + w];
                let (up, mid, down) = (
                    (y > 0).then(|| row(y - 1)),
                    row(y),
                    (y + 1 < h).then(|| row(y + 1)),
                );
                let Some(wb) = wb else {
                    for x in 0..w {
                        val[x] = mid[x];
                        clip[x] = u8::from(mid[x] >= CLIP_LEVEL);
                    }
                    return;
                };
                // per column parity: the colour's multiplier, or 0 for green
                let mult = [0, 1].map(|p| match cfa.color_at(p, y) {
                    Channel::G => 0.0,
                    c => wb[c as usize],
                });
                let at = |x: usize| {
                    let v = mid[x];
                    let (l, r) = ((x > 0).then(|| mid[x - 1]), mid.get(x + 1).copied());
                    let (u, d) = (up.map(|r| r[x]), down.map(|r| r[x]));
                    (green_at(l, r, u, d, v), [l, r, u, d])
                };
                let edge = |x: usize, val: &mut [f32], clip: &mut [u8]| {
                    let v = mid[x];
                    let m = mult[x & 1];
                    if m == 0.0 {
                        val[x] = v;
                        clip[x] = u8::from(v >= CLIP_LEVEL);
                    } else {
                        let (g, near) = at(x);
                        val[x] = m * v - g;
                        let near = near.iter().flatten().any(|&n| n >= CLIP_LEVEL);
                        clip[x] = u8::from(v >= CLIP_LEVEL || near);
                    }
                };
                match (up, down) {
                    (Some(up), Some(down)) if w >= 3 => {
                        edge(0, val, clip);
                        edge(w - 1, val, clip);
                        // inside: both directions exist, so no case analysis per photosite
                        for x in 1..w - 1 {
                            let (v, l, r, u, d) = (mid[x], mid[x - 1], mid[x + 1], up[x], down[x]);
                            let (dh, dv) = ((l - r).abs(), (u - d).abs());
                            let (wh, wv) = (1.0 / (dh + 1e-4), 1.0 / (dv + 1e-4));
                            let g = (0.5 * (l + r) * wh + 0.5 * (u + d) * wv) / (wh + wv);
                            let m = mult[x & 1];
                            let near = l.max(r).max(u.max(d)) >= CLIP_LEVEL;
                            let colour = m != 0.0;
                            val[x] = if colour { m * v - g } else { v };
                            clip[x] = u8::from(v >= CLIP_LEVEL || (colour && near));
                        }
                    }
                    _ => (0..w).for_each(|x| edge(x, val, clip)),
                }
            });
        dilate(&mut self.clipped, w, h, 1);
    }
}

/// Where a 2x2 Bayer pattern has its colours: the parity of `x + y` of the greens, and the
/// parity of the rows that hold red. `None` for any other 2x2 pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bayer {
    green: usize,
    red_row: usize,
}

impl Bayer {
    fn of(cfa: Cfa) -> Option<Bayer> {
        use Channel::{B, G, R};
        let c = cfa.colors;
        let green = match c {
            [G, _, _, G] => 0,
            [_, G, G, _] => 1,
            _ => return None,
        };
        let off = if green == 0 {
            [c[1], c[2]]
        } else {
            [c[0], c[3]]
        };
        let red_row = match off {
            [R, B] => 0,
            [B, R] => 1,
            _ => return None,
        };
        Some(Bayer { green, red_row })
    }
}

/// What one frame's splat needs besides the pixel positions.
pub(super) struct Source<'a> {
    value: &'a [f32],
    clipped: &'a [u8],
    aw: usize,
    ah: usize,
    cfa: Cfa,
    /// The exponent's factor per colour: 1 / (kernel size)^2.
    shrink: [f32; 3],
    /// The frame's values are multiplied by this (the reference's exposure over the frame's).
    g: f32,
    /// The weight a footprint reaching a clipped photosite keeps (0 for alternate frames).
    clipped_weight: f32,
}

/// The sums of one output pixel from the 3x3 photosites around `(qx, qy)` (area
/// coordinates): per colour `sum w v`, `sum w` and `sum w^2 var`, already multiplied by the
/// exposure factor and the clipping weight; `None` where nothing is added. `k`: the inverse
/// kernel covariance; `wv`: the frame's weights per colour, then its variances.
///
/// The scalar reference of [`splat_row`], and the path for footprints at the border.
#[inline]
fn pixel_sums(s: &Source, qx: f32, qy: f32, k: [f32; 3], wv: &[f32; 6]) -> Option<[f32; SUMS]> {
    let (aw, ah) = (s.aw as isize, s.ah as isize);
    let (fx, fy) = (qx.floor(), qy.floor());
    let (cx, cy) = (fx as isize, fy as isize);
    if cx < -1 || cy < -1 || cx > aw || cy > ah {
        return None;
    }
    // offset of the centre photosite's centre from q
    let (tx0, ty0) = (fx + 0.5 - qx, fy + 0.5 - qy);
    let mut a = [0.0f32; SUMS];
    let mut clipped = false;
    for j in -1isize..=1 {
        for i in -1isize..=1 {
            let (sx, sy) = (cx + i, cy + j);
            if sx < 0 || sy < 0 || sx >= aw || sy >= ah {
                continue;
            }
            let idx = sy as usize * s.aw + sx as usize;
            // inside the area the centre's flag covers its whole footprint
            let centre = i == 0 && j == 0;
            let inner = cx >= 1 && cy >= 1 && cx + 1 < aw && cy + 1 < ah;
            if !inner || centre {
                clipped |= s.clipped[idx] != 0;
            }
            let c = s.cfa.color_at(sx as usize, sy as usize) as usize;
            let (tx, ty) = (tx0 + i as f32, ty0 + j as f32);
            let e = (k[0] * tx * tx + 2.0 * k[1] * tx * ty + k[2] * ty * ty) * s.shrink[c];
            let w = exp2_neg(-e) * wv[c];
            a[c] += w * s.value[idx];
            a[3 + c] += w;
            a[6 + c] += w * w * wv[3 + c];
        }
    }
    let m = if clipped { s.clipped_weight } else { 1.0 };
    if m == 0.0 {
        return None;
    }
    for c in 0..3 {
        a[c] *= s.g * m;
        a[3 + c] *= m;
        a[6 + c] *= m * m;
    }
    Some(a)
}

/// One output row's inputs per pixel, structure of arrays.
struct RowInputs<'a> {
    /// Sample positions in area coordinates.
    qx: &'a [f32],
    qy: &'a [f32],
    /// The kernel's inverse covariance coefficients.
    k: [&'a [f32]; 3],
    /// The frame's weights per colour, then its variances.
    wv: [&'a [f32]; 6],
}

/// Adds the footprints of one output row that lie inside the area to `out` (the row's
/// [`SUMS`] runs); pixels whose footprint crosses the border add nothing here.
#[inline(always)]
fn splat_row_body(s: &Source, bayer: Bayer, row: &RowInputs, out: &mut [f32]) {
    let n = row.qx.len();
    let (aw, ah) = (s.aw, s.ah);
    let (awf, ahf) = ((aw - 1) as f32, (ah - 1) as f32);
    let rb = s.shrink[0];
    let (g, cw) = (s.g, s.clipped_weight);
    let (gpar, rrow) = (bayer.green as i32, bayer.red_row as i32);
    let aw_i = aw as i32;
    let (sr, rest) = out.split_at_mut(n);
    let (sg, rest) = rest.split_at_mut(n);
    let (sb, rest) = rest.split_at_mut(n);
    let (dr, rest) = rest.split_at_mut(n);
    let (dg, rest) = rest.split_at_mut(n);
    let (db, rest) = rest.split_at_mut(n);
    let (vr, rest) = rest.split_at_mut(n);
    let (vg, vb) = rest.split_at_mut(n);
    let (vg, vb) = (&mut vg[..n], &mut vb[..n]);
    let (qxs, qys) = (&row.qx[..n], &row.qy[..n]);
    let (kas, kbs, kcs) = (&row.k[0][..n], &row.k[1][..n], &row.k[2][..n]);
    let [w0, w1, w2, w3, w4, w5] = row.wv.map(|w| &w[..n]);
    for x in 0..n {
        let (qx, qy) = (qxs[x], qys[x]);
        let inside = qx >= 1.0 && qy >= 1.0 && qx < awf && qy < ahf;
        let (fx, fy) = (qx.floor(), qy.floor());
        let (tx, ty) = (fx + 0.5 - qx, fy + 0.5 - qy);
        let (cx, cy) = if inside {
            (fx as i32, fy as i32)
        } else {
            (1, 1)
        };
        let base = ((cy - 1) * aw_i + cx - 1) as usize;
        // SAFETY: inside, 1 <= cx <= aw - 2 and 1 <= cy <= ah - 2, so base + 2 aw + 2 is at
        // most the last photosite; otherwise cx = cy = 1 and the area is at least 3x3.
        let v = |i: usize| unsafe { *s.value.get_unchecked(base + i) };
        // SAFETY: as above.
        let clip = unsafe { *s.clipped.get_unchecked(base + aw + 1) } != 0;
        let green = ((cx + cy) & 1) == gpar;
        let red_row = (cy & 1) == rrow;
        let (sc, se) = if green { (1.0, rb) } else { (rb, 1.0) };
        let (ka, kb2, kc) = (kas[x], 2.0 * kbs[x], kcs[x]);
        let e = |u: f32, t: f32, f: f32| exp2_neg(-((ka * u * u + kb2 * u * t + kc * t * t) * f));
        let (xl, xr, yu, yd) = (tx - 1.0, tx + 1.0, ty - 1.0, ty + 1.0);
        // the four groups: weight, weighted value, squared weight
        let c0 = e(tx, ty, sc);
        let c = (c0, c0 * v(aw + 1), c0 * c0);
        let (k0, k1, k2, k3) = (e(xl, yu, sc), e(xr, yu, sc), e(xl, yd, sc), e(xr, yd, sc));
        let k = (
            (k0 + k1) + (k2 + k3),
            (k0 * v(0) + k1 * v(2)) + (k2 * v(2 * aw) + k3 * v(2 * aw + 2)),
            (k0 * k0 + k1 * k1) + (k2 * k2 + k3 * k3),
        );
        let (h0, h1) = (e(xl, ty, se), e(xr, ty, se));
        let hz = (h0 + h1, h0 * v(aw) + h1 * v(aw + 2), h0 * h0 + h1 * h1);
        let (u0, u1) = (e(tx, yu, se), e(tx, yd, se));
        let vt = (u0 + u1, u0 * v(1) + u1 * v(2 * aw + 1), u0 * u0 + u1 * u1);
        let add = |a: (f32, f32, f32), b: (f32, f32, f32)| (a.0 + b.0, a.1 + b.1, a.2 + b.2);
        let pick = |cond: bool, a: (f32, f32, f32), b: (f32, f32, f32)| if cond { a } else { b };
        let gs = pick(green, add(c, k), add(hz, vt));
        let rs = pick(green, pick(red_row, hz, vt), pick(red_row, c, k));
        let bs = pick(green, pick(red_row, vt, hz), pick(red_row, k, c));
        let m = if !inside {
            0.0
        } else if clip {
            cw
        } else {
            1.0
        };
        let (ar, ag, ab) = (w0[x] * m, w1[x] * m, w2[x] * m);
        sr[x] += rs.1 * (ar * g);
        sg[x] += gs.1 * (ag * g);
        sb[x] += bs.1 * (ab * g);
        dr[x] += rs.0 * ar;
        dg[x] += gs.0 * ag;
        db[x] += bs.0 * ab;
        vr[x] += rs.2 * (ar * ar * w3[x]);
        vg[x] += gs.2 * (ag * ag * w4[x]);
        vb[x] += bs.2 * (ab * ab * w5[x]);
    }
}

kernels! {
    fn splat_row(s: &Source, bayer: Bayer, row: &RowInputs, out: &mut [f32]) = splat_row_body;
}

/// Where one output row finds its kernels and weights: per output column the bracketing
/// half-resolution columns of the kernels with the fraction, and the weights' column; the
/// two kernel rows around the output row with its fraction, and the weights' row.
struct Lookup<'a> {
    kcols: &'a [(usize, usize, f32)],
    wcols: &'a [usize],
    top: &'a [[f32; 3]],
    bot: &'a [[f32; 3]],
    fv: f32,
    frow: &'a [[f32; 6]],
}

/// The kernel coefficients of every pixel of a row (bilinear between the half-resolution
/// pixel centres: nearest lookups step along diagonal edges) and its weights (nearest), as
/// structure of arrays.
#[inline(always)]
fn row_lookup_body(l: &Lookup, k: [&mut [f32]; 3], wv: [&mut [f32]; 6]) {
    let [k0, k1, k2] = k;
    for (x, &(i0, i1, fu)) in l.kcols.iter().enumerate() {
        let (a, b, c, d) = (l.top[i0], l.top[i1], l.bot[i0], l.bot[i1]);
        let lerp = |k: usize| {
            let t = a[k] + (b[k] - a[k]) * fu;
            let u = c[k] + (d[k] - c[k]) * fu;
            t + (u - t) * l.fv
        };
        k0[x] = lerp(0);
        k1[x] = lerp(1);
        k2[x] = lerp(2);
    }
    let [w0, w1, w2, w3, w4, w5] = wv;
    for (x, &hx) in l.wcols.iter().enumerate() {
        let w = &l.frow[hx];
        w0[x] = w[0];
        w1[x] = w[1];
        w2[x] = w[2];
        w3[x] = w[3];
        w4[x] = w[4];
        w5[x] = w[5];
    }
}

kernels! {
    fn row_lookup(l: &Lookup, k: [&mut [f32]; 3], wv: [&mut [f32]; 6]) = row_lookup_body;
}

/// Per-row scratch: positions, kernel coefficients and weights of every output pixel.
#[derive(Default)]
struct Scratch {
    qx: Vec<f32>,
    qy: Vec<f32>,
    k: [Vec<f32>; 3],
    wv: [Vec<f32>; 6],
}

/// Splats `frame`'s prepared photosites (aligned by `al`; `None`: the reference, in place)
/// onto `sums` ([`SUMS`] runs per output row), its values times `g` (the reference's
/// exposure over the frame's) and its weights `fw` (per half-resolution pixel).
///
/// The schedule: output rows in parallel; per row the alignment field is interpolated once
/// for all its pixels, the kernels and weights are looked up into arrays, the footprints
/// inside the area go through the vectorised [`splat_row`], and those at the border through
/// [`pixel_sums`].
#[allow(clippy::too_many_arguments)]
pub(super) fn splat(
    isa: Isa,
    sums: &mut [f32],
    geo: &Geometry,
    prep: &Prepared,
    al: Option<&crate::align::Alignment>,
    fw: &[[f32; 6]],
    g: f32,
    is_reference: bool,
) {
    let (ow, area) = (geo.out_w, geo.area);
    let inv_s = 1.0 / geo.scale;
    let field = al.map(Field::new);
    let (kw, kh) = (geo.kw, geo.kh);
    let rb = 1.0 / (geo.chroma_size * geo.chroma_size);
    let src = Source {
        value: &prep.value,
        clipped: &prep.clipped,
        aw: area.width,
        ah: area.height,
        cfa: geo.cfa,
        shrink: [rb, 1.0, rb],
        g,
        clipped_weight: if is_reference { CLIPPED_WEIGHT } else { 0.0 },
    };
    let bayer = Bayer::of(geo.cfa).filter(|_| area.width >= 3 && area.height >= 3);
    let xs: Vec<f32> = (0..ow).map(|ox| (ox as f32 + 0.5) * inv_s).collect();
    let columns = field.as_ref().map(|f| f.columns_at(&xs));
    // per output column: the kernels' bracketing half-resolution columns and the fraction
    // (their centres are at 2i + 1), and the weights' column (nearest)
    let kcols: Vec<(usize, usize, f32)> = xs
        .iter()
        .map(|&px| {
            let u = (0.5 * px - 0.5).clamp(0.0, (kw - 1) as f32);
            let i0 = u as usize;
            (i0, (i0 + 1).min(kw - 1), u - i0 as f32)
        })
        .collect();
    let wcols: Vec<usize> = xs
        .iter()
        .map(|&px| ((px * 0.5) as usize).min(kw - 1))
        .collect();
    let kernels = &geo.kernels;
    sums.par_chunks_mut(SUMS * ow)
        .enumerate()
        .for_each_init(Scratch::default, |sc, (oy, out)| {
            let py = (oy as f32 + 0.5) * inv_s;
            sc.qx.resize(ow, 0.0);
            sc.qy.resize(ow, 0.0);
            sc.k.iter_mut().for_each(|v| v.resize(ow, 0.0));
            sc.wv.iter_mut().for_each(|v| v.resize(ow, 0.0));
            match (&field, &columns) {
                (Some(f), Some(cols)) => f.row_at(py, cols, &mut sc.qx, &mut sc.qy),
                _ => {
                    sc.qx.fill(0.0);
                    sc.qy.fill(0.0);
                }
            }
            for (x, (qx, qy)) in sc.qx.iter_mut().zip(sc.qy.iter_mut()).enumerate() {
                *qx += xs[x];
                *qy += py;
            }
            // the kernel interpolated between the half-resolution pixel centres: nearest
            // lookups step along diagonal edges
            let v = (0.5 * py - 0.5).clamp(0.0, (kh - 1) as f32);
            let j0 = v as usize;
            let fv = v - j0 as f32;
            let (top, bot) = (
                &kernels[j0 * kw..(j0 + 1) * kw],
                &kernels[(j0 + 1).min(kh - 1) * kw..][..kw],
            );
            let hy = ((py * 0.5) as usize).min(kh - 1);
            let frow = &fw[hy * kw..(hy + 1) * kw];
            let [k0, k1, k2] = &mut sc.k;
            let [w0, w1, w2, w3, w4, w5] = &mut sc.wv;
            let lookup = Lookup {
                kcols: &kcols,
                wcols: &wcols,
                top,
                bot,
                fv,
                frow,
            };
            row_lookup(isa, &lookup, [k0, k1, k2], [w0, w1, w2, w3, w4, w5]);
            let (aw, ah) = ((area.width - 1) as f32, (area.height - 1) as f32);
            let border = |x: usize| {
                let (qx, qy) = (sc.qx[x], sc.qy[x]);
                !(qx >= 1.0 && qy >= 1.0 && qx < aw && qy < ah)
            };
            let all = |x: usize| bayer.is_none() || border(x);
            if let Some(b) = bayer {
                let row = RowInputs {
                    qx: &sc.qx,
                    qy: &sc.qy,
                    k: sc.k.each_ref().map(|v| v.as_slice()),
                    wv: sc.wv.each_ref().map(|v| v.as_slice()),
                };
                splat_row(isa, &src, b, &row, out);
            }
            for x in (0..ow).filter(|&x| all(x)) {
                let k = [sc.k[0][x], sc.k[1][x], sc.k[2][x]];
                let wv = std::array::from_fn(|c| sc.wv[c][x]);
                if let Some(a) = pixel_sums(&src, sc.qx[x], sc.qy[x], k, &wv) {
                    for (j, v) in a.iter().enumerate() {
                        out[j * ow + x] += v;
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [0, 1).
    fn noise(i: usize, seed: u32) -> f32 {
        let mut x = (i as u32).wrapping_mul(0x9E37_79B9) ^ seed.wrapping_mul(0x85EB_CA6B);
        x ^= x >> 15;
        x = x.wrapping_mul(0x2C1B_3C6D);
        x ^= x >> 12;
        (x >> 8) as f32 / (1u32 << 24) as f32
    }

    #[test]
    fn bayer_layouts() {
        assert_eq!(
            Bayer::of(Cfa::RGGB),
            Some(Bayer {
                green: 1,
                red_row: 0
            })
        );
        assert_eq!(
            Bayer::of(Cfa::BGGR),
            Some(Bayer {
                green: 1,
                red_row: 1
            })
        );
        let grbg = Cfa::RGGB.shifted(1, 0);
        assert_eq!(
            Bayer::of(grbg),
            Some(Bayer {
                green: 0,
                red_row: 0
            })
        );
        let gbrg = Cfa::RGGB.shifted(0, 1);
        assert_eq!(
            Bayer::of(gbrg),
            Some(Bayer {
                green: 0,
                red_row: 1
            })
        );
        let odd = Cfa {
            colors: [Channel::R, Channel::G, Channel::B, Channel::G],
        };
        assert_eq!(Bayer::of(odd), None);
    }

    /// The vectorised row at every instruction set against the scalar reference, for every
    /// Bayer phase, clipped photosites, the reference's clipping weight, row lengths that hit
    /// every vector tail, and positions on both sides of the border.
    #[test]
    fn fast_row_matches_the_reference() {
        let (aw, ah) = (23usize, 11usize);
        let value: Vec<f32> = (0..aw * ah).map(|i| noise(i, 1) - 0.3).collect();
        let clipped: Vec<u8> = (0..aw * ah).map(|i| u8::from(noise(i, 2) < 0.1)).collect();
        for (phase, cfa) in [(0, 0), (1, 0), (0, 1), (1, 1)]
            .map(|(dx, dy)| (dx + 2 * dy, Cfa::RGGB.shifted(dx, dy)))
        {
            for cw in [0.0, CLIPPED_WEIGHT] {
                let src = Source {
                    value: &value,
                    clipped: &clipped,
                    aw,
                    ah,
                    cfa,
                    shrink: [0.6, 1.0, 0.6],
                    g: 1.7,
                    clipped_weight: cw,
                };
                for n in [1usize, 7, 8, 9, 15, 16, 17, 31, 33, 65] {
                    let seed = (n * 16 + phase * 4) as u32 + (cw > 0.0) as u32;
                    let qx: Vec<f32> = (0..n).map(|i| noise(i, seed) * 26.0 - 1.5).collect();
                    let qy: Vec<f32> = (0..n).map(|i| noise(i, seed + 1) * 14.0 - 1.5).collect();
                    // positive definite inverse covariances
                    let k: [Vec<f32>; 3] = [
                        (0..n).map(|i| 0.3 + 2.0 * noise(i, seed + 2)).collect(),
                        (0..n).map(|i| 0.2 * noise(i, seed + 3) - 0.1).collect(),
                        (0..n).map(|i| 0.3 + 2.0 * noise(i, seed + 4)).collect(),
                    ];
                    let wv: [Vec<f32>; 6] = std::array::from_fn(|c| {
                        (0..n)
                            .map(|i| 0.1 + noise(i, seed + 5 + c as u32))
                            .collect()
                    });
                    let mut want = vec![0.0f32; SUMS * n];
                    for x in 0..n {
                        let inside = qx[x] >= 1.0
                            && qy[x] >= 1.0
                            && qx[x] < (aw - 1) as f32
                            && qy[x] < (ah - 1) as f32;
                        let kk = [k[0][x], k[1][x], k[2][x]];
                        let w = std::array::from_fn(|c| wv[c][x]);
                        if let Some(a) = pixel_sums(&src, qx[x], qy[x], kk, &w).filter(|_| inside) {
                            for (j, v) in a.iter().enumerate() {
                                want[j * n + x] += v;
                            }
                        }
                    }
                    let row = RowInputs {
                        qx: &qx,
                        qy: &qy,
                        k: k.each_ref().map(|v| v.as_slice()),
                        wv: wv.each_ref().map(|v| v.as_slice()),
                    };
                    let bayer = Bayer::of(cfa).unwrap();
                    for isa in Isa::supported() {
                        let mut got = vec![0.0f32; SUMS * n];
                        splat_row(isa, &src, bayer, &row, &mut got);
                        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                            // the groups sum in another order: relative error, plus
                            // cancellation's absolute error against the sum's magnitude
                            let scale = want[i / n * n..][..n]
                                .iter()
                                .fold(0.0f32, |m, v| m.max(v.abs()));
                            let tol = 1e-5 * b.abs() + 1e-6 * scale;
                            assert!(
                                (a - b).abs() <= tol,
                                "{isa:?} phase {phase} n {n} sum {} pixel {}: {a} vs {b}",
                                i / n,
                                i % n
                            );
                        }
                    }
                }
            }
        }
    }

    /// The prepared values inside the area equal the general rule's (`green_at` with every
    /// neighbour present), and its clip flags are the dilated rule's.
    #[test]
    fn prepared_fast_rows_match_the_rule() {
        let (w, h) = (13usize, 9usize);
        let mut mosaic = Plane::new(w, h);
        for (i, v) in mosaic.data.iter_mut().enumerate() {
            *v = noise(i, 9) * 1.1;
        }
        let cfa = Cfa::RGGB.shifted(1, 1);
        let wb = [2.0, 1.0, 1.5];
        let mut p = Prepared::default();
        p.fill(&mosaic, Rect::new(0, 0, w, h), cfa, Some(wb));
        let at = |x: isize, y: isize| {
            (x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h)
                .then(|| mosaic.data[y as usize * w + x as usize])
        };
        let mut clip = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let v = mosaic.data[y * w + x];
                let (xi, yi) = (x as isize, y as isize);
                let c = cfa.color_at(x, y);
                let near = [
                    at(xi - 1, yi),
                    at(xi + 1, yi),
                    at(xi, yi - 1),
                    at(xi, yi + 1),
                ];
                let want = if c == Channel::G {
                    v
                } else {
                    let [l, r, u, d] = near;
                    wb[c as usize] * v - green_at(l, r, u, d, v)
                };
                let got = p.value[y * w + x];
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "{x},{y}: {got} vs {want}"
                );
                let hot = near.iter().flatten().any(|&n| n >= CLIP_LEVEL);
                clip[y * w + x] = u8::from(v >= CLIP_LEVEL || (c != Channel::G && hot));
            }
        }
        dilate(&mut clip, w, h, 1);
        assert_eq!(p.clipped, clip);
        assert!(clip.contains(&0) && clip.iter().any(|&c| c != 0));
    }
}
