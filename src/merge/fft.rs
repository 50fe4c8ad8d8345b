//! 2-D FFTs of 16x16 tiles, [`LANES`] tiles at a time.
//!
//! # Layout
//! A [`TileBatch`] holds [`LANES`] complex tiles in structure-of-arrays form: for each of the
//! 256 positions `p = row * 16 + column`, one vector of real parts and one of imaginary
//! parts, lane `l` belonging to tile `l`. Every butterfly is then one vector operation on
//! all the tiles at once, with no shuffles: a row transform reads positions `16 r ..
//! 16 r + 15`, a column transform positions `c, c + 16, ..`, both whole vectors. The
//! spectrum is left in natural order, coefficient (`ky`, `kx`) at position `16 ky + kx`.
//!
//! # The 16-point transform
//! Radix 4 on 16 = 4 x 4 (decimation in time): four 4-point transforms of the samples
//! `x[4 n1 + n2]` (no multiplications: only sums and swaps for `±i`), the twiddles
//! `W16^(n2 k1)` as constants (the trivial ones, 1 and `∓i`, skipped), then four 4-point
//! transforms across. The code is straight-line over the lanes and compiled per instruction
//! set by [`kernels!`]; every level performs the same IEEE operations in the same order (no
//! fused multiply-add), so all give identical bits. 1-D: 144 real additions and 24 real
//! multiplications per transform, 32 transforms per tile.
//!
//! # Reference
//! The tests hold the transforms to a direct DFT and to `rustfft` (1e-5 relative).

use crate::cpu::{Isa, kernels};

/// Tiles transformed together, one per lane: 16 f32 lanes fill an AVX-512 register, two
/// AVX2 ones.
pub(crate) const LANES: usize = 16;
/// Side of a tile.
pub(crate) const SIDE: usize = 16;
/// Positions in a tile.
pub(crate) const AREA: usize = SIDE * SIDE;

/// One value per lane.
pub(crate) type Lanes = [f32; LANES];

/// [`LANES`] complex 16x16 tiles, structure of arrays (see the module docs).
pub(crate) struct TileBatch {
    /// Real parts, `re[p][l]`: position `p`, tile `l`.
    pub re: Box<[Lanes; AREA]>,
    /// Imaginary parts, as [`TileBatch::re`].
    pub im: Box<[Lanes; AREA]>,
}

impl Default for TileBatch {
    fn default() -> Self {
        TileBatch {
            re: Box::new([[0.0; LANES]; AREA]),
            im: Box::new([[0.0; LANES]; AREA]),
        }
    }
}

impl TileBatch {
    /// Sets tile `lane` to `re + i im` (`im` None: zero), both row-major 16x16.
    pub fn load(&mut self, lane: usize, re: &[f32], im: Option<&[f32]>) {
        for (d, s) in self.re.iter_mut().zip(re) {
            d[lane] = *s;
        }
        match im {
            Some(im) => {
                for (d, s) in self.im.iter_mut().zip(im) {
                    d[lane] = *s;
                }
            }
            None => self.im.iter_mut().for_each(|d| d[lane] = 0.0),
        }
    }

    /// Zeroes lanes `from..LANES` of both parts.
    pub fn clear_lanes(&mut self, from: usize) {
        if from < LANES {
            for v in self.re.iter_mut().chain(self.im.iter_mut()) {
                v[from..].fill(0.0);
            }
        }
    }

    /// Tile `lane`'s real parts into `re` and imaginary parts into `im`, row-major.
    #[cfg(test)]
    pub fn store(&self, lane: usize, re: &mut [f32], im: &mut [f32]) {
        for (d, s) in re.iter_mut().zip(self.re.iter()) {
            *d = s[lane];
        }
        for (d, s) in im.iter_mut().zip(self.im.iter()) {
            *d = s[lane];
        }
    }

    /// In-place forward 2-D transform of every tile (`X[k] = sum x[n] e^(-2 pi i k.n / 16)`).
    pub fn forward(&mut self, isa: Isa) {
        transform_forward(isa, &mut self.re, &mut self.im);
    }

    /// In-place inverse 2-D transform of every tile, unscaled: `inverse(forward(x)) =
    /// 256 x`.
    pub fn inverse(&mut self, isa: Isa) {
        transform_inverse(isa, &mut self.re, &mut self.im);
    }
}

/// Position of coefficient `-k` for the coefficient at position `p` (natural layout).
pub(crate) const fn negated(p: usize) -> usize {
    ((SIDE - p / SIDE) % SIDE) * SIDE + (SIDE - p % SIDE) % SIDE
}

kernels! {
    fn transform_forward(re: &mut [Lanes; AREA], im: &mut [Lanes; AREA]) = transform_2d::<false>;
    fn transform_inverse(re: &mut [Lanes; AREA], im: &mut [Lanes; AREA]) = transform_2d::<true>;
}

/// Rows, then columns.
#[inline(always)]
fn transform_2d<const INV: bool>(re: &mut [Lanes; AREA], im: &mut [Lanes; AREA]) {
    for r in 0..SIDE {
        fft16::<INV>(re, im, r * SIDE, 1);
    }
    for c in 0..SIDE {
        fft16::<INV>(re, im, c, SIDE);
    }
}

#[inline(always)]
fn add(a: &Lanes, b: &Lanes) -> Lanes {
    std::array::from_fn(|l| a[l] + b[l])
}

#[inline(always)]
fn sub(a: &Lanes, b: &Lanes) -> Lanes {
    std::array::from_fn(|l| a[l] - b[l])
}

/// A 4-point transform of `(a0, a1, a2, a3)`, in place; forward uses `W4 = -i`, inverse
/// `+i`.
#[inline(always)]
fn dft4<const INV: bool>(r: [&mut Lanes; 4], i: [&mut Lanes; 4]) {
    let [r0, r1, r2, r3] = r;
    let [i0, i1, i2, i3] = i;
    let (t0r, t0i) = (add(r0, r2), add(i0, i2));
    let (t1r, t1i) = (sub(r0, r2), sub(i0, i2));
    let (t2r, t2i) = (add(r1, r3), add(i1, i3));
    let (t3r, t3i) = (sub(r1, r3), sub(i1, i3));
    *r0 = add(&t0r, &t2r);
    *i0 = add(&t0i, &t2i);
    *r2 = sub(&t0r, &t2r);
    *i2 = sub(&t0i, &t2i);
    // -i t3 = (t3i, -t3r); +i t3 = (-t3i, t3r)
    if INV {
        *r1 = sub(&t1r, &t3i);
        *i1 = add(&t1i, &t3r);
        *r3 = add(&t1r, &t3i);
        *i3 = sub(&t1i, &t3r);
    } else {
        *r1 = add(&t1r, &t3i);
        *i1 = sub(&t1i, &t3r);
        *r3 = sub(&t1r, &t3i);
        *i3 = add(&t1i, &t3r);
    }
}

/// `cos(2 pi k / 16)` for k = 0..16; `sin(2 pi e / 16)` is `cos(2 pi (e - 4) / 16)`.
const COS16: [f32; 16] = [
    1.0,
    0.923_879_5,
    std::f32::consts::FRAC_1_SQRT_2,
    0.382_683_43,
    0.0,
    -0.382_683_43,
    -std::f32::consts::FRAC_1_SQRT_2,
    -0.923_879_5,
    -1.0,
    -0.923_879_5,
    -std::f32::consts::FRAC_1_SQRT_2,
    -0.382_683_43,
    0.0,
    0.382_683_43,
    std::f32::consts::FRAC_1_SQRT_2,
    0.923_879_5,
];

/// Multiplies `(r, i)` by `W16^e` (forward `e^(-2 pi i e / 16)`, inverse its conjugate),
/// for `e` in 1..=9 but not 4 (the caller handles 0 and 4).
#[inline(always)]
fn twiddle<const INV: bool>(r: &mut Lanes, i: &mut Lanes, e: usize) {
    let (c, sin) = (COS16[e % 16], COS16[(e + 12) % 16]);
    let s = if INV { sin } else { -sin };
    let (nr, ni): (Lanes, Lanes) = (
        std::array::from_fn(|l| r[l] * c - i[l] * s),
        std::array::from_fn(|l| r[l] * s + i[l] * c),
    );
    *r = nr;
    *i = ni;
}

/// The 16-point transform of the vectors at `base + stride * j`, j = 0..16, in place and in
/// natural order.
#[inline(always)]
fn fft16<const INV: bool>(
    re: &mut [Lanes; AREA],
    im: &mut [Lanes; AREA],
    base: usize,
    stride: usize,
) {
    let mut xr: [Lanes; 16] = std::array::from_fn(|j| re[base + stride * j]);
    let mut xi: [Lanes; 16] = std::array::from_fn(|j| im[base + stride * j]);
    // four 4-point transforms over n1 of x[4 n1 + n2]; results Y[n2][k1] kept at 4 n1 + n2
    // with n1 read as k1
    for n2 in 0..4 {
        let [a, b, c, d] = xr.get_disjoint_mut([n2, n2 + 4, n2 + 8, n2 + 12]).unwrap();
        let [e, f, g, h] = xi.get_disjoint_mut([n2, n2 + 4, n2 + 8, n2 + 12]).unwrap();
        dft4::<INV>([a, b, c, d], [e, f, g, h]);
    }
    // twiddles W16^(n2 k1) on Y[n2][k1] at 4 k1 + n2
    for k1 in 1..4 {
        for n2 in 1..4 {
            let e = n2 * k1;
            let j = 4 * k1 + n2;
            if e == 4 {
                // forward: -i (r + i m) = m - i r; inverse: i (r + i m) = -m + i r
                let (r, m) = (xr[j], xi[j]);
                if INV {
                    xr[j] = std::array::from_fn(|l| -m[l]);
                    xi[j] = r;
                } else {
                    xr[j] = m;
                    xi[j] = std::array::from_fn(|l| -r[l]);
                }
            } else {
                let (r, m) = (&mut xr[j], &mut xi[j]);
                twiddle::<INV>(r, m, e);
            }
        }
    }
    // 4-point transforms over n2 for each k1: X[k1 + 4 k2]
    for k1 in 0..4 {
        let idx = [4 * k1, 4 * k1 + 1, 4 * k1 + 2, 4 * k1 + 3];
        let [a, b, c, d] = xr.get_disjoint_mut(idx).unwrap();
        let [e, f, g, h] = xi.get_disjoint_mut(idx).unwrap();
        dft4::<INV>([a, b, c, d], [e, f, g, h]);
        for k2 in 0..4 {
            re[base + stride * (k1 + 4 * k2)] = xr[4 * k1 + k2];
            im[base + stride * (k1 + 4 * k2)] = xi[4 * k1 + k2];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustfft::FftPlanner;
    use rustfft::num_complex::Complex32;

    fn tile(seed: usize) -> Vec<f32> {
        (0..AREA)
            .map(|i| ((i * 37 + seed * 101) % 113) as f32 / 113.0 - 0.4)
            .collect()
    }

    /// rustfft's 2-D transform of a row-major tile (rows, then columns), natural order.
    fn reference_2d(x: &[Complex32], inverse: bool) -> Vec<Complex32> {
        let mut planner = FftPlanner::<f32>::new();
        let f = if inverse {
            planner.plan_fft_inverse(SIDE)
        } else {
            planner.plan_fft_forward(SIDE)
        };
        let mut b = x.to_vec();
        for row in b.chunks_exact_mut(SIDE) {
            f.process(row);
        }
        for c in 0..SIDE {
            let mut col: Vec<Complex32> = (0..SIDE).map(|r| b[r * SIDE + c]).collect();
            f.process(&mut col);
            for (r, v) in col.into_iter().enumerate() {
                b[r * SIDE + c] = v;
            }
        }
        b
    }

    /// Every lane of every instruction set matches rustfft to 1e-5 of the spectrum's largest
    /// coefficient, forward and inverse; the levels agree to the bit.
    #[test]
    fn batches_match_rustfft_at_every_level() {
        for inverse in [false, true] {
            let inputs: Vec<(Vec<f32>, Vec<f32>)> =
                (0..LANES).map(|l| (tile(l), tile(l + 50))).collect();
            let mut first: Option<Vec<u32>> = None;
            for isa in Isa::supported() {
                let mut b = TileBatch::default();
                for (l, (r, i)) in inputs.iter().enumerate() {
                    b.load(l, r, Some(i));
                }
                if inverse {
                    b.inverse(isa);
                } else {
                    b.forward(isa);
                }
                let mut bits: Vec<u32> = Vec::new();
                for (l, (r, i)) in inputs.iter().enumerate() {
                    let x: Vec<Complex32> = r
                        .iter()
                        .zip(i)
                        .map(|(&a, &b)| Complex32::new(a, b))
                        .collect();
                    let want = reference_2d(&x, inverse);
                    let (mut gr, mut gi) = (vec![0.0; AREA], vec![0.0; AREA]);
                    b.store(l, &mut gr, &mut gi);
                    let scale = want.iter().map(|c| c.norm()).fold(0.0f32, f32::max);
                    for p in 0..AREA {
                        let err = (Complex32::new(gr[p], gi[p]) - want[p]).norm();
                        assert!(
                            err <= 1e-5 * scale,
                            "{isa:?} inverse {inverse} lane {l} position {p}: {err} of {scale}"
                        );
                    }
                    bits.extend(gr.iter().chain(&gi).map(|v| v.to_bits()));
                }
                match &first {
                    None => first = Some(bits),
                    Some(f) => assert!(*f == bits, "{isa:?} differs from the baseline build"),
                }
            }
        }
    }

    /// A random tile in one lane against a direct DFT in f64, independent of rustfft: within
    /// 1e-6 of the largest coefficient.
    #[test]
    fn matches_a_direct_dft() {
        let (re, im) = (tile(7), tile(9));
        let mut b = TileBatch::default();
        b.load(5, &re, Some(&im));
        b.forward(Isa::detect());
        let (mut gr, mut gi) = (vec![0.0; AREA], vec![0.0; AREA]);
        b.store(5, &mut gr, &mut gi);
        let mut want = vec![(0.0f64, 0.0f64); AREA];
        for (k, w) in want.iter_mut().enumerate() {
            let (ky, kx) = ((k / SIDE) as f64, (k % SIDE) as f64);
            for n in 0..AREA {
                let (y, x) = ((n / SIDE) as f64, (n % SIDE) as f64);
                let ph = -2.0 * std::f64::consts::PI * (ky * y + kx * x) / SIDE as f64;
                let (c, s) = (ph.cos(), ph.sin());
                let (r, i) = (f64::from(re[n]), f64::from(im[n]));
                w.0 += r * c - i * s;
                w.1 += r * s + i * c;
            }
        }
        let scale = want.iter().map(|w| w.0.hypot(w.1)).fold(0.0, f64::max);
        for (k, w) in want.iter().enumerate() {
            let err = (f64::from(gr[k]) - w.0).hypot(f64::from(gi[k]) - w.1);
            assert!(err <= 1e-6 * scale, "coefficient {k}: {err} of {scale}");
        }
    }

    /// A direct DFT of a single coefficient's basis function: a cosine at (ky, kx) = (3, 5)
    /// lands at (3, 5) and (13, 11) with half the energy each; the round trip gives 256 x.
    #[test]
    fn basis_function_and_round_trip() {
        let isa = Isa::detect();
        let x: Vec<f32> = (0..AREA)
            .map(|p| {
                let (y, x) = ((p / SIDE) as f32, (p % SIDE) as f32);
                (2.0 * std::f32::consts::PI * (3.0 * y + 5.0 * x) / 16.0).cos()
            })
            .collect();
        let mut b = TileBatch::default();
        b.load(3, &x, None);
        b.forward(isa);
        let (mut r, mut i) = (vec![0.0; AREA], vec![0.0; AREA]);
        b.store(3, &mut r, &mut i);
        for p in 0..AREA {
            let want = if p == 3 * 16 + 5 || p == negated(3 * 16 + 5) {
                128.0
            } else {
                0.0
            };
            assert!(
                (r[p] - want).abs() < 1e-3 && i[p].abs() < 1e-3,
                "{p}: {} {}",
                r[p],
                i[p]
            );
        }
        b.inverse(isa);
        b.store(3, &mut r, &mut i);
        for p in 0..AREA {
            assert!((r[p] / 256.0 - x[p]).abs() < 1e-5 && i[p].abs() < 1e-3);
        }
    }
}
