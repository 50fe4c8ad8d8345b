//! Linear filters on `f32` planes shared by the finishing stages: a separable Gaussian blur and
//! the 2x down- and upsampling of a Burt-Adelson pyramid.
//!
//! - [`gaussian_blur`]: kernel `exp(-k² / 2σ²)` for `|k| <= ceil(3σ)`, normalised to sum 1,
//!   applied along columns then rows.
//! - [`pyramid_reduce`] / [`pyramid_expand`]: the REDUCE and EXPAND steps of P. J. Burt and
//!   E. H. Adelson, "The Laplacian pyramid as a compact image code", IEEE Trans. Comm. 1983,
//!   with the binomial kernel `[1, 4, 6, 4, 1] / 16`. Coarse pixel `k` sits on fine pixel
//!   `2k`, so a fine plane of width `W` gives `ceil(W / 2)` coarse pixels, odd or even, down
//!   to 1 x 1. [`pyramid_expand`] is the matching interpolation back to any size whose half,
//!   rounded up, is the coarse size: even fine pixels `(c[k-1] + 6 c[k] + c[k+1]) / 8`, odd
//!   ones `(c[k] + c[k+1]) / 2`. Both preserve constants and are exact on linear ramps away
//!   from the borders (tested). For now only the tone mapping's tests use them, to build the
//!   Mertens pyramid blend its method is compared against.
//!
//! Borders are mirrored without repeating the edge sample ("reflect 101": index -1 reads 1),
//! repeated as often as the kernel needs, so a kernel wider than the plane is fine. A plane 1
//! pixel wide reads its one sample everywhere. [`pyramid_expand`] extends the coarse plane by the
//! same mirror taken on the fine grid, so downsampling and upsampling agree at the borders.
//!
//! # Implementation notes
//! The row kernels are compiled for SSE2, AVX2 and AVX-512 by [`crate::cpu`] and picked at
//! run time (bit-identical results, tested; `OBSCURA_CPU=scalar` forces SSE2).
//!
//! Every pass is written for the compiler to vectorise: the vertical taps accumulate whole
//! rows (`acc[x] += k * row[x]`), and the horizontal taps run over a row copied once into a
//! buffer with its mirrored margins, so no inner loop has an index computation or a border
//! case. Output rows are computed in parallel (rayon), each from source rows only, with one
//! row of scratch per task: no intermediate plane. A direct per-pixel 2-D sum with mirrored
//! indices (the `reference` functions in the tests) is the specification each is tested
//! against.

use rayon::prelude::*;

use crate::cpu::{Isa, kernels};
use crate::image::{Plane, mirror};

/// The normalised half kernel `k[0..=radius]` of a Gaussian of standard deviation `sigma`
/// (`k[0]` is the centre tap), with `radius = ceil(3 sigma)` capped at `max_radius`.
fn gaussian_half_kernel(sigma: f32, max_radius: usize) -> Vec<f32> {
    let radius = ((3.0 * sigma).ceil() as usize).clamp(1, max_radius.max(1));
    let mut k: Vec<f32> = (0..=radius)
        .map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum = k[0] + 2.0 * k[1..].iter().sum::<f32>();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// Blurs `src` with a Gaussian of standard deviation `sigma` pixels (mirrored borders, kernel
/// radius `ceil(3 sigma)`); returns a plane of the same size.
///
/// A `sigma` that is not positive and finite returns a copy. The radius is capped at twice
/// the larger side (beyond that the mirrored image repeats and the blur is a near-constant
/// anyway).
///
/// # Timing
/// 4000 x 3000 (12 MP), 2 threads, Xeon (Sapphire Rapids, KVM), shared machine, AVX-512
/// kernels: sigma 1: 19 ms, sigma 2: 23 ms, sigma 4: 31 ms; of which about 9 ms are the page
/// faults of the fresh output ([`gaussian_blur_into`] with a reused plane: 10, 14, 22 ms).
/// `OBSCURA_CPU=scalar` (SSE2) into a reused plane: 12, 17, 27 ms.
///
/// The stages use [`gaussian_blur_into`] to avoid those page faults; this allocating form
/// serves the tests.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn gaussian_blur(src: &Plane<f32>, sigma: f32) -> Plane<f32> {
    let mut out = Plane::new(src.width, src.height);
    gaussian_blur_with(Isa::detect(), src, sigma, &mut out);
    out
}

/// [`gaussian_blur`] into `out`, which is reshaped to the size of `src` (its allocation
/// reused: fresh planes cost page faults that can exceed the blur itself).
pub(crate) fn gaussian_blur_into(src: &Plane<f32>, sigma: f32, out: &mut Plane<f32>) {
    gaussian_blur_with(Isa::detect(), src, sigma, out)
}

/// [`gaussian_blur_into`] with the row kernel compiled for `isa`.
fn gaussian_blur_with(isa: Isa, src: &Plane<f32>, sigma: f32, out: &mut Plane<f32>) {
    let (w, h) = (src.width, src.height);
    out.width = w;
    out.height = h;
    out.data.resize(w * h, 0.0);
    if w == 0 || h == 0 || !(sigma > 0.0 && sigma.is_finite()) {
        out.data.copy_from_slice(&src.data);
        return;
    }
    let k = gaussian_half_kernel(sigma, 2 * w.max(h));
    let r = k.len() - 1;
    // Mirrored source index of each position of a padded row: pad[j] = row[mirror(j - r)].
    let pad_index: Vec<usize> = (0..w + 2 * r)
        .map(|j| mirror(j as isize - r as isize, w))
        .collect();
    out.data.par_chunks_mut(w).enumerate().for_each_init(
        || vec![0.0f32; w + 2 * r],
        |pad, (y, orow)| blur_row(isa, src, y, &k, &pad_index, pad, orow),
    );
}

kernels! {
    fn blur_row(
        src: &Plane<f32>,
        y: usize,
        k: &[f32],
        pad_index: &[usize],
        pad: &mut [f32],
        orow: &mut [f32],
    ) = blur_row_body;
}

/// Output row `y` of [`gaussian_blur`] with half kernel `k` (radius `r = k.len() - 1`), using
/// `pad` (`width + 2 r` samples) as scratch.
#[inline(always)]
fn blur_row_body(
    src: &Plane<f32>,
    y: usize,
    k: &[f32],
    pad_index: &[usize],
    pad: &mut [f32],
    orow: &mut [f32],
) {
    let (w, h) = (src.width, src.height);
    let r = k.len() - 1;
    // vertical taps, whole rows, into the middle of the padded buffer
    let acc = &mut pad[r..r + w];
    acc.iter_mut()
        .zip(src.row(y))
        .for_each(|(a, &c)| *a = k[0] * c);
    for (t, &kt) in k.iter().enumerate().skip(1) {
        let up = src.row(mirror(y as isize - t as isize, h));
        let down = src.row(mirror((y + t) as isize, h));
        for ((a, &u), &d) in acc.iter_mut().zip(up).zip(down) {
            *a += kt * (u + d);
        }
    }
    // mirrored margins, then horizontal taps
    for j in (0..r).chain(r + w..w + 2 * r) {
        pad[j] = pad[r + pad_index[j]];
    }
    orow.iter_mut()
        .zip(&pad[r..r + w])
        .for_each(|(o, &c)| *o = k[0] * c);
    for (t, &kt) in k.iter().enumerate().skip(1) {
        let left = &pad[r - t..r - t + w];
        let right = &pad[r + t..r + t + w];
        for ((o, &a), &b) in orow.iter_mut().zip(left).zip(right) {
            *o += kt * (a + b);
        }
    }
}

/// The binomial kernel of the pyramid, `[1, 4, 6, 4, 1] / 16`.
const B5: [f32; 5] = [0.0625, 0.25, 0.375, 0.25, 0.0625];

/// Blurs `src` with [`B5`] and keeps the even rows and columns: a plane of
/// `ceil(width / 2) x ceil(height / 2)` (Burt-Adelson REDUCE). Coarse pixel `k` is centred on
/// fine pixel `2k`. An empty plane gives an empty plane.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn pyramid_reduce(src: &Plane<f32>) -> Plane<f32> {
    let (w, h) = (src.width, src.height);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Plane::new(cw, ch);
    if cw == 0 || ch == 0 {
        return out;
    }
    // Padded row: pad[j] = acc[mirror(j - 2)], so coarse pixel k reads pad[2k..2k + 5].
    // Its length 2 cw + 4 covers the last window even when w is even.
    let plen = 2 * cw + 4;
    let pad_index: Vec<usize> = (0..plen).map(|j| mirror(j as isize - 2, w)).collect();
    out.data.par_chunks_mut(cw).enumerate().for_each_init(
        || (vec![0.0f32; w], vec![0.0f32; plen]),
        |(acc, pad), (y, orow)| {
            let rows: [&[f32]; 5] =
                std::array::from_fn(|t| src.row(mirror(2 * y as isize + t as isize - 2, h)));
            for (x, a) in acc.iter_mut().enumerate() {
                *a = B5[0] * (rows[0][x] + rows[4][x])
                    + B5[1] * (rows[1][x] + rows[3][x])
                    + B5[2] * rows[2][x];
            }
            for (p, &i) in pad.iter_mut().zip(&pad_index) {
                *p = acc[i];
            }
            for (o, win) in orow.iter_mut().zip(pad.windows(5).step_by(2)) {
                *o = B5[0] * (win[0] + win[4]) + B5[1] * (win[1] + win[3]) + B5[2] * win[2];
            }
        },
    );
    out
}

/// The coarse-plane index that stands for virtual coarse index `j` (`-1 ..= coarse size`) when
/// expanding to a fine size `n`: coarse `j` sits on fine `2j`, mirrored on the fine grid.
#[inline]
fn coarse_index(j: isize, n: usize) -> usize {
    mirror(2 * j, n) / 2
}

/// Interpolates `src` to `width x height` (Burt-Adelson EXPAND, the inverse of
/// [`pyramid_reduce`]'s geometry): fine pixel `2k` is `(c[k-1] + 6 c[k] + c[k+1]) / 8`, fine pixel
/// `2k + 1` is `(c[k] + c[k+1]) / 2`, separably.
///
/// # Panics
/// If `src` is not the size [`pyramid_reduce`] makes from `width x height`, i.e. unless
/// `width.div_ceil(2) == src.width` and `height.div_ceil(2) == src.height`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn pyramid_expand(src: &Plane<f32>, width: usize, height: usize) -> Plane<f32> {
    let (cw, ch) = (src.width, src.height);
    assert!(
        width.div_ceil(2) == cw && height.div_ceil(2) == ch,
        "pyramid_expand: {cw}x{ch} is not the half of {width}x{height}"
    );
    let mut out = Plane::new(width, height);
    if width == 0 || height == 0 {
        return out;
    }
    // Padded coarse row: pad[i] = row[coarse_index(i - 1)] for i in 0..cw + 2.
    let pad_index: Vec<usize> = (0..cw + 2)
        .map(|i| coarse_index(i as isize - 1, width))
        .collect();
    out.data.par_chunks_mut(width).enumerate().for_each_init(
        || (vec![0.0f32; cw], vec![0.0f32; cw + 2]),
        |(acc, pad), (y, orow)| {
            let k = (y / 2) as isize;
            if y % 2 == 0 {
                let (a, b, c) = (
                    src.row(coarse_index(k - 1, height)),
                    src.row(coarse_index(k, height)),
                    src.row(coarse_index(k + 1, height)),
                );
                for (((o, &a), &b), &c) in acc.iter_mut().zip(a).zip(b).zip(c) {
                    *o = 0.125 * (a + c) + 0.75 * b;
                }
            } else {
                let (a, b) = (
                    src.row(coarse_index(k, height)),
                    src.row(coarse_index(k + 1, height)),
                );
                for ((o, &a), &b) in acc.iter_mut().zip(a).zip(b) {
                    *o = 0.5 * (a + b);
                }
            }
            for (p, &i) in pad.iter_mut().zip(&pad_index) {
                *p = acc[i];
            }
            // fine pixels 2k and 2k + 1 from pad[k..k + 3]; the last pair may be cut in half
            for (o, win) in orow.chunks_mut(2).zip(pad.windows(3)) {
                o[0] = 0.125 * (win[0] + win[2]) + 0.75 * win[1];
                if let Some(odd) = o.get_mut(1) {
                    *odd = 0.5 * (win[1] + win[2]);
                }
            }
        },
    );
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A plane of seeded uniform noise in `[0, 1)`.
    pub(crate) fn random_plane(w: usize, h: usize, seed: u64) -> Plane<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let data = (0..w * h)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect();
        Plane::from_vec(w, h, data).unwrap()
    }

    const WIDTHS: [usize; 10] = [1, 7, 8, 9, 15, 16, 17, 31, 33, 65];
    const HEIGHTS: [usize; 6] = [1, 2, 3, 6, 9, 20];

    /// The specification of [`gaussian_blur`]: the 2-D sum written out per pixel, in f64.
    fn blur_reference(src: &Plane<f32>, sigma: f32) -> Plane<f32> {
        let k = gaussian_half_kernel(sigma, 2 * src.width.max(src.height));
        let r = k.len() as isize - 1;
        let mut out = Plane::new(src.width, src.height);
        for y in 0..src.height {
            for x in 0..src.width {
                let mut acc = 0.0f64;
                for dy in -r..=r {
                    for dx in -r..=r {
                        let sx = mirror(x as isize + dx, src.width);
                        let sy = mirror(y as isize + dy, src.height);
                        let kw = k[dx.unsigned_abs()] as f64 * k[dy.unsigned_abs()] as f64;
                        acc += kw * src.get(sx, sy) as f64;
                    }
                }
                out.set(x, y, acc as f32);
            }
        }
        out
    }

    /// Mirror by reflecting a walk back and forth, the obvious way (no modular arithmetic).
    fn mirror_walk(i: isize, n: usize) -> usize {
        let (mut pos, mut dir) = (0isize, if i >= 0 { 1 } else { -1 });
        for _ in 0..i.unsigned_abs() {
            if n == 1 {
                return 0;
            }
            if pos + dir < 0 || pos + dir >= n as isize {
                dir = -dir;
            }
            pos += dir;
        }
        pos as usize
    }

    #[test]
    fn mirror_matches_a_reflecting_walk() {
        for n in 1..6 {
            for i in -25..25 {
                assert_eq!(mirror(i, n), mirror_walk(i, n), "i {i} n {n}");
            }
        }
    }

    #[test]
    fn blur_matches_reference_on_all_sizes() {
        let mut seed = 0;
        for &w in &WIDTHS {
            for &h in &HEIGHTS {
                for sigma in [0.4f32, 1.0, 2.5, 7.0] {
                    seed += 1;
                    let p = random_plane(w, h, seed);
                    let (a, b) = (gaussian_blur(&p, sigma), blur_reference(&p, sigma));
                    assert_eq!((a.width, a.height), (w, h));
                    let err = a
                        .data
                        .iter()
                        .zip(&b.data)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0, f32::max);
                    assert!(err < 2e-6, "{w}x{h} sigma {sigma}: max error {err}");
                }
            }
        }
    }

    #[test]
    fn blur_is_identical_on_every_instruction_set() {
        for (w, h) in [(1, 1), (7, 3), (33, 17), (65, 9), (130, 40)] {
            let p = random_plane(w, h, (w * h) as u64);
            let mut base = Plane::new(0, 0);
            gaussian_blur_with(Isa::baseline(), &p, 1.7, &mut base);
            for isa in Isa::supported() {
                // a reused, wrongly sized output is reshaped
                let mut out = Plane::new(3, 2);
                gaussian_blur_with(isa, &p, 1.7, &mut out);
                assert_eq!(out, base, "{isa:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn blur_keeps_constants_and_mean_and_degenerate_sigma_copies() {
        let c = Plane::from_vec(13, 4, vec![0.7; 52]).unwrap();
        assert!(
            gaussian_blur(&c, 3.0)
                .data
                .iter()
                .all(|v| (v - 0.7).abs() < 1e-6)
        );
        let p = random_plane(40, 30, 9);
        for s in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert_eq!(gaussian_blur(&p, s), p);
        }
        // A step edge blurred with sigma 2: the 16%-84% rise spans about 2 sigma.
        let step =
            Plane::from_vec(64, 1, (0..64).map(|x| (x >= 32) as u8 as f32).collect()).unwrap();
        let b = gaussian_blur(&step, 2.0);
        let rise = b.data.iter().filter(|&&v| v > 0.16 && v < 0.84).count();
        assert!((3..=5).contains(&rise), "rise over {rise} pixels");
        assert!(gaussian_blur(&Plane::new(0, 0), 1.0).data.is_empty());
    }

    /// The specification of [`pyramid_reduce`]: the 5x5 binomial sum at fine pixel (2x, 2y).
    fn downsample_reference(src: &Plane<f32>) -> Plane<f32> {
        let (cw, ch) = (src.width.div_ceil(2), src.height.div_ceil(2));
        let mut out = Plane::new(cw, ch);
        for y in 0..ch {
            for x in 0..cw {
                let mut acc = 0.0f64;
                for (ty, ky) in B5.iter().enumerate() {
                    for (tx, kx) in B5.iter().enumerate() {
                        let sx = mirror(2 * x as isize + tx as isize - 2, src.width);
                        let sy = mirror(2 * y as isize + ty as isize - 2, src.height);
                        acc += (kx * ky) as f64 * src.get(sx, sy) as f64;
                    }
                }
                out.set(x, y, acc as f32);
            }
        }
        out
    }

    /// The specification of [`pyramid_expand`]: the EXPAND sum `4 Σ w(m - 2j) w(n - 2i) c[j][i]`
    /// over the coarse samples of the mirrored, zero-interleaved fine grid.
    fn upsample_reference(src: &Plane<f32>, width: usize, height: usize) -> Plane<f32> {
        let mut out = Plane::new(width, height);
        for y in 0..height {
            for x in 0..width {
                let mut acc = 0.0f64;
                for jy in (y as isize / 2 - 1)..=(y as isize / 2 + 1) {
                    let dy = y as isize - 2 * jy;
                    if dy.abs() > 2 {
                        continue;
                    }
                    for jx in (x as isize / 2 - 1)..=(x as isize / 2 + 1) {
                        let dx = x as isize - 2 * jx;
                        if dx.abs() > 2 {
                            continue;
                        }
                        let wt = 4.0 * B5[(dx + 2) as usize] as f64 * B5[(dy + 2) as usize] as f64;
                        let v = src.get(coarse_index(jx, width), coarse_index(jy, height));
                        acc += wt * v as f64;
                    }
                }
                out.set(x, y, acc as f32);
            }
        }
        out
    }

    #[test]
    fn downsample_and_upsample_match_reference_on_all_sizes() {
        let mut seed = 1000;
        for &w in &WIDTHS {
            for &h in &HEIGHTS {
                seed += 1;
                let p = random_plane(w, h, seed);
                let (d, dr) = (pyramid_reduce(&p), downsample_reference(&p));
                assert_eq!((d.width, d.height), (w.div_ceil(2), h.div_ceil(2)));
                for (a, b) in d.data.iter().zip(&dr.data) {
                    assert!((a - b).abs() < 1e-6, "down {w}x{h}: {a} vs {b}");
                }
                let (u, ur) = (pyramid_expand(&d, w, h), upsample_reference(&d, w, h));
                assert_eq!((u.width, u.height), (w, h));
                for (a, b) in u.data.iter().zip(&ur.data) {
                    assert!((a - b).abs() < 1e-6, "up {w}x{h}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn pyramid_steps_keep_constants_and_ramps() {
        for (w, h) in [(1, 1), (2, 2), (3, 5), (16, 9), (33, 17)] {
            let c = Plane::from_vec(w, h, vec![0.4; w * h]).unwrap();
            let d = pyramid_reduce(&c);
            assert!(d.data.iter().all(|v| (v - 0.4).abs() < 1e-6));
            let u = pyramid_expand(&d, w, h);
            assert!(u.data.iter().all(|v| (v - 0.4).abs() < 1e-6));
        }
        // A ramp v = x along rows: coarse k holds 2k, the expansion returns x, both exact
        // where the kernels stay inside the plane.
        let (w, h) = (40, 6);
        let ramp = Plane::from_vec(w, h, (0..w * h).map(|i| (i % w) as f32).collect()).unwrap();
        let d = pyramid_reduce(&ramp);
        for k in 1..d.width - 1 {
            assert!((d.get(k, 2) - 2.0 * k as f32).abs() < 1e-5);
        }
        let u = pyramid_expand(&d, w, h);
        for x in 4..w - 4 {
            assert!(
                (u.get(x, 3) - x as f32).abs() < 1e-4,
                "x {x}: {}",
                u.get(x, 3)
            );
        }
    }
}
