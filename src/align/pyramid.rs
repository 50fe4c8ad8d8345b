//! The alignment image and its Gaussian pyramid.
//!
//! Each 2x2 Bayer quad is averaged into one grey pixel (HDR+ section 4: quarter resolution,
//! a quarter of the noise variance, and no CFA phase to worry about). Coarser levels are made
//! by blurring and decimating by 2 or 4. Every level uses the same continuous coordinates:
//! pixel `k` covers `[k, k + 1)`, and a level decimated by `f` maps position `u` of the finer
//! level to `u / f`, so a displacement scales by exactly `f` between levels.

use rayon::prelude::*;

use crate::image::{Plane, Rect};

/// Averages each 2x2 quad of `mosaic` inside `area` into one pixel, each photosite scaled by
/// `gain` and saturated at `ceiling` (so that frames of different exposure clip alike).
/// An odd last row or column of `area` is dropped.
pub(crate) fn bayer_to_grey(
    mosaic: &Plane<f32>,
    area: Rect,
    gain: f32,
    ceiling: f32,
) -> Plane<f32> {
    let (w, h) = (area.width / 2, area.height / 2);
    let mut out = Plane::new(w, h);
    let q = |v: f32| (v * gain).min(ceiling);
    out.data
        .par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(y, row)| {
            let r0 = &mosaic.row(area.y + 2 * y)[area.x..area.x + 2 * w];
            let r1 = &mosaic.row(area.y + 2 * y + 1)[area.x..area.x + 2 * w];
            for ((o, a), b) in row
                .iter_mut()
                .zip(r0.chunks_exact(2))
                .zip(r1.chunks_exact(2))
            {
                *o = 0.25 * (q(a[0]) + q(a[1]) + q(b[0]) + q(b[1]));
            }
        });
    out
}

/// The 4-tap binomial kernel [1, 3, 3, 1] / 8 used for every 2x decimation. Output pixel `k`
/// reads input pixels `2k - 1 ..= 2k + 2`, whose weighted centre is `2k + 1`: the centre of the
/// input span `[2k, 2k + 2)` that output pixel `k` covers.
const K4: [f32; 4] = [0.125, 0.375, 0.375, 0.125];

/// Halves a plane in both directions (separable [1, 3, 3, 1] / 8, clamped borders): output
/// pixel `k` covers input pixels `2k` and `2k + 1`, as the pyramid's coordinates require.
/// Not the Burt-Adelson REDUCE of the finish filters (`crate::finish::filter::pyramid_reduce`,
/// `[1, 4, 6, 4, 1] / 16` centred on even pixels, mirrored borders): the two place their
/// output pixels differently, so they cannot share one kernel without moving one of them.
pub(crate) fn halve_binomial4(src: &Plane<f32>) -> Plane<f32> {
    let (w, h) = (src.width.div_ceil(2).max(1), src.height.div_ceil(2).max(1));
    let last_x = src.width as isize - 1;
    // horizontal pass: src.height rows of w samples
    let mut tmp = Plane::new(w, src.height);
    tmp.data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let s = src.row(y);
        for (k, o) in row.iter_mut().enumerate() {
            let c = 2 * k as isize;
            if c >= 1 && c + 2 <= last_x {
                let i = c as usize - 1;
                *o = K4[0] * s[i] + K4[1] * s[i + 1] + K4[2] * s[i + 2] + K4[3] * s[i + 3];
            } else {
                *o = (0..4)
                    .map(|t| K4[t] * s[(c - 1 + t as isize).clamp(0, last_x) as usize])
                    .sum();
            }
        }
    });
    // vertical pass
    let last_y = src.height as isize - 1;
    let mut out = Plane::new(w, h);
    out.data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let rows: [&[f32]; 4] = std::array::from_fn(|t| {
            tmp.row((2 * y as isize - 1 + t as isize).clamp(0, last_y) as usize)
        });
        for (x, o) in row.iter_mut().enumerate() {
            *o = K4[0] * rows[0][x] + K4[1] * rows[1][x] + K4[2] * rows[2][x] + K4[3] * rows[3][x];
        }
    });
    out
}

/// The pyramid: `levels[0]` is the grey image, each next level decimated by `factors[l]`
/// (HDR+: 1, 2, 4, 4). Decimation by 4 is two decimations by 2.
pub(crate) struct Pyramid {
    pub levels: Vec<Plane<f32>>,
}

impl Pyramid {
    pub fn new(grey: Plane<f32>, factors: &[usize]) -> Pyramid {
        let mut levels = vec![grey];
        for &f in &factors[1..] {
            let mut l = levels.last().cloned().unwrap_or_default();
            let mut k = f;
            while k > 1 {
                l = halve_binomial4(&l);
                k /= 2;
            }
            levels.push(l);
        }
        Pyramid { levels }
    }
}

/// Scalar reference for [`halve_binomial4`]: the 2-D convolution written out directly.
#[cfg(test)]
pub(crate) fn halve_binomial4_reference(src: &Plane<f32>) -> Plane<f32> {
    let (w, h) = (src.width.div_ceil(2).max(1), src.height.div_ceil(2).max(1));
    let mut out = Plane::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0f32;
            for (ty, ky) in K4.iter().enumerate() {
                let sy =
                    (2 * y as isize - 1 + ty as isize).clamp(0, src.height as isize - 1) as usize;
                let mut row = 0.0f32;
                for (tx, kx) in K4.iter().enumerate() {
                    let sx = (2 * x as isize - 1 + tx as isize).clamp(0, src.width as isize - 1)
                        as usize;
                    row += kx * src.get(sx, sy);
                }
                acc += ky * row;
            }
            out.set(x, y, acc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_plane(w: usize, h: usize, seed: u64) -> Plane<f32> {
        let mut s = seed;
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

    #[test]
    fn downsample_matches_reference_on_all_widths() {
        for w in [1, 7, 8, 9, 15, 16, 17, 31, 33, 65] {
            for h in [1, 2, 5, 16] {
                let p = random_plane(w, h, (w * 100 + h) as u64);
                let a = halve_binomial4(&p);
                let b = halve_binomial4_reference(&p);
                assert_eq!((a.width, a.height), (b.width, b.height));
                for (x, y) in a.data.iter().zip(&b.data) {
                    assert!((x - y).abs() <= 1e-6, "w {w} h {h}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn grey_is_the_quad_mean() {
        let m = Plane::from_vec(4, 2, vec![1.0, 2.0, 5.0, 6.0, 3.0, 4.0, 7.0, 8.0]).unwrap();
        let g = bayer_to_grey(&m, Rect::new(0, 0, 4, 2), 1.0, f32::INFINITY);
        assert_eq!(g.data, vec![2.5, 6.5]);
        let g = bayer_to_grey(&m, Rect::new(1, 0, 3, 2), 2.0, f32::INFINITY);
        assert_eq!(g.data, vec![2.0 * (2.0 + 5.0 + 4.0 + 7.0) / 4.0]);
        let g = bayer_to_grey(&m, Rect::new(0, 0, 4, 2), 1.0, 5.0);
        assert_eq!(g.data, vec![2.5, 5.0]);
    }

    #[test]
    fn downsample_preserves_a_constant_and_a_ramp_centre() {
        let c = Plane::from_vec(8, 8, vec![0.3; 64]).unwrap();
        assert!(
            halve_binomial4(&c)
                .data
                .iter()
                .all(|v| (v - 0.3).abs() < 1e-6)
        );
        // a horizontal ramp v = x + 0.5 (pixel centres) becomes u*2 at coarse centres 2k+1
        let r = Plane::from_vec(16, 1, (0..16).map(|x| x as f32 + 0.5).collect()).unwrap();
        let d = halve_binomial4(&r);
        for k in 1..7 {
            assert!((d.data[k] - (2 * k + 1) as f32).abs() < 1e-5);
        }
    }
}
