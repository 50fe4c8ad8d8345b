//! The edge-aware filters of the Local mode: the domain transform (base layer) and the
//! weighted fast guided filter (gain upsampling).

use rayon::prelude::*;

use super::math::{fast_exp2, fmax};
use super::{BASE_ITERATIONS, BASE_SIGMA_R, GUIDE_EPS, GUIDE_SIGMA, SPREAD_SCALE};
use crate::finish::filter::gaussian_blur_into;
use crate::image::Plane;

/// The base layer: `logy` smoothed edge-aware by the domain transform's recursive filter
/// (E. S. L. Gastal, M. M. Oliveira, "Domain transform for edge-aware image and video
/// processing", SIGGRAPH 2011), spatial sigma `sigma_s` pixels, range sigma
/// [`BASE_SIGMA_R`] stops, [`BASE_ITERATIONS`] iterations of a horizontal and a vertical
/// pass.
pub(super) fn edge_aware_base(logy: &Plane<f32>, sigma_s: f32) -> Plane<f32> {
    const STRIP: usize = 256;
    let (w, h) = (logy.width, logy.height);
    let ratio = sigma_s / BASE_SIGMA_R;
    // Iteration k filters with sigma_0 / 2^k, so that the iterations add up to sigma_s
    // (their eq. 14); its feedback coefficient at a pixel, a_k^d with
    // a_k = exp(-√2 / sigma_k) and d the derivative of the transformed domain there, is
    // therefore the first iteration's squared k times.
    let n = BASE_ITERATIONS as i32;
    let sigma_0 = sigma_s * 3f32.sqrt() * 2f32.powi(n - 1) / (4f32.powi(n) - 1.0).sqrt();
    let log2_a0 = -std::f32::consts::SQRT_2 / sigma_0 * std::f32::consts::LOG2_E;
    let coefficient = |a: f32, b: f32| fast_exp2(log2_a0 * (1.0 + ratio * (a - b).abs()));
    // to the left / upper neighbour; the first column / row is unused
    let mut wh = Plane::new(w, h);
    let mut wv = Plane::new(w, h);
    wh.data
        .par_chunks_mut(w)
        .zip(wv.data.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, (oh, ov))| {
            let row = logy.row(y);
            let above = logy.row(y.saturating_sub(1));
            for ((o, &a), &b) in oh[1..].iter_mut().zip(&row[1..]).zip(row) {
                *o = coefficient(a, b);
            }
            for ((o, &a), &b) in ov.iter_mut().zip(row).zip(above) {
                *o = coefficient(a, b);
            }
        });
    let mut j = logy.clone();
    for k in 0..n {
        if k > 0 {
            for p in [&mut wh, &mut wv] {
                p.data.par_iter_mut().for_each(|v| *v *= *v);
            }
        }
        // horizontal: 8 rows interleaved, so that 8 independent recursions hide each
        // other's latency
        j.data
            .par_chunks_mut(8 * w)
            .zip(wh.data.par_chunks(8 * w))
            .for_each(|(rows, a)| {
                let n = rows.len() / w;
                for x in 1..w {
                    for r in 0..n {
                        let i = r * w + x;
                        rows[i] += a[i] * (rows[i - 1] - rows[i]);
                    }
                }
                for x in (1..w).rev() {
                    for r in 0..n {
                        let i = r * w + x;
                        rows[i - 1] += a[i] * (rows[i] - rows[i - 1]);
                    }
                }
            });
        // vertical: down then up, whole strips of a row at a time, strips in parallel
        let mut strips: Vec<Vec<&mut [f32]>> = (0..w.div_ceil(STRIP)).map(|_| Vec::new()).collect();
        for row in j.data.chunks_mut(w) {
            for (s, piece) in strips.iter_mut().zip(row.chunks_mut(STRIP)) {
                s.push(piece);
            }
        }
        strips
            .into_par_iter()
            .enumerate()
            .for_each(|(s, mut rows)| {
                let x0 = s * STRIP;
                for y in 1..h {
                    let (done, rest) = rows.split_at_mut(y);
                    let (prev, cur) = (&done[y - 1], &mut rest[0]);
                    let a = &wv.row(y)[x0..x0 + cur.len()];
                    for ((v, &p), &a) in cur.iter_mut().zip(prev.iter()).zip(a) {
                        *v += a * (p - *v);
                    }
                }
                for y in (1..h).rev() {
                    let (head, next) = rows.split_at_mut(y);
                    let (cur, below) = (&mut head[y - 1], &next[0]);
                    let a = &wv.row(y)[x0..x0 + cur.len()];
                    for ((v, &p), &a) in cur.iter_mut().zip(below.iter()).zip(a) {
                        *v += a * (p - *v);
                    }
                }
            });
    }
    j
}

/// The guided filter's smoothed coefficients `a`, `b` for predicting `p` from `guide`
/// (centred on its mean, which is returned): `p ≈ a (guide - centre) + b` (He et al. 2010,
/// Gaussian windows), each window's fit weighted per sample by `1 / (1 + spread /
/// SPREAD_SCALE)`. A low-resolution pixel whose block straddles an edge has a mean
/// log-luminance that exists nowhere at full resolution, and a gain that is not on the line
/// between the two sides; unweighted, it tilts the fit and lifts the bright side of a 16x
/// edge by 4 % (measured); weighted, it barely counts.
pub(super) fn guided_coefficients(
    guide: &Plane<f32>,
    p: &Plane<f32>,
    spread: &Plane<f32>,
) -> (Plane<f32>, Plane<f32>, f32) {
    let n = guide.data.len().max(1) as f64;
    let centre = (guide.data.par_iter().map(|&v| v as f64).sum::<f64>() / n) as f32;
    let mut i = guide.clone();
    i.data.par_iter_mut().for_each(|v| *v -= centre);
    let mut wt = spread.clone();
    wt.data
        .par_iter_mut()
        .for_each(|v| *v = 1.0 / (1.0 + *v / SPREAD_SCALE));
    // weighted window sums: of the weights, and of weight times I, p, I², I p
    let mut tmp = wt.clone();
    let [mut sw, mut si, mut sp, mut sii, mut sip] = std::array::from_fn(|_| Plane::new(0, 0));
    gaussian_blur_into(&wt, GUIDE_SIGMA, &mut sw);
    let inputs = (&wt, &i, p);
    blur_of(inputs, |w, g, _| w * g, &mut tmp, &mut si);
    blur_of(inputs, |w, _, q| w * q, &mut tmp, &mut sp);
    blur_of(inputs, |w, g, _| w * g * g, &mut tmp, &mut sii);
    blur_of(inputs, |w, g, q| w * g * q, &mut tmp, &mut sip);
    // a into sii, b into sip
    sii.data
        .par_iter_mut()
        .zip(sip.data.par_iter_mut())
        .zip(sw.data.par_iter().zip(si.data.par_iter().zip(&sp.data)))
        .for_each(|((ii, ip), (&w, (&si, &sp)))| {
            let inv = 1.0 / fmax(w, 1e-30);
            let (mi, mp) = (si * inv, sp * inv);
            let var = fmax(*ii * inv - mi * mi, 0.0);
            let a = (*ip * inv - mi * mp) / (var + GUIDE_EPS);
            (*ii, *ip) = (a, mp - a * mi);
        });
    gaussian_blur_into(&sii, GUIDE_SIGMA, &mut si);
    gaussian_blur_into(&sip, GUIDE_SIGMA, &mut sp);
    (si, sp, centre)
}

/// `out` = the blur of `f(weight, guide, p)` per pixel, through `tmp`.
pub(super) fn blur_of(
    (wt, i, p): (&Plane<f32>, &Plane<f32>, &Plane<f32>),
    f: impl Fn(f32, f32, f32) -> f32 + Sync,
    tmp: &mut Plane<f32>,
    out: &mut Plane<f32>,
) {
    tmp.data
        .par_iter_mut()
        .zip(&wt.data)
        .zip(i.data.par_iter().zip(&p.data))
        .for_each(|((t, &w), (&g, &q))| *t = f(w, g, q));
    gaussian_blur_into(tmp, GUIDE_SIGMA, out);
}
