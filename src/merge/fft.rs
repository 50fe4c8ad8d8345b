//! 2-D FFTs of 16x16 tiles (or any square power-of-two size), built on `rustfft`.
//!
//! A tile is transformed as rows, a transpose, rows again: the spectrum is left transposed,
//! which is harmless because every operation the merge applies to spectra is per coefficient
//! and identical for all tiles; the inverse undoes the same steps.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// Forward and inverse plans for `n`-point transforms, shared by all tiles.
#[derive(Clone)]
pub(crate) struct TileFft {
    pub n: usize,
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
    scratch_len: usize,
}

impl TileFft {
    pub fn new(n: usize) -> TileFft {
        let mut planner = FftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        let scratch_len = forward
            .get_inplace_scratch_len()
            .max(inverse.get_inplace_scratch_len());
        TileFft {
            n,
            forward,
            inverse,
            scratch_len,
        }
    }

    /// A scratch buffer large enough for either direction.
    pub fn scratch(&self) -> Vec<Complex32> {
        vec![Complex32::default(); self.scratch_len.max(1)]
    }

    fn transpose(&self, buf: &mut [Complex32]) {
        let n = self.n;
        for i in 0..n {
            for j in i + 1..n {
                buf.swap(i * n + j, j * n + i);
            }
        }
    }

    /// In-place forward 2-D transform of an `n * n` tile (result transposed).
    pub fn forward(&self, buf: &mut [Complex32], scratch: &mut [Complex32]) {
        self.forward.process_with_scratch(buf, scratch);
        self.transpose(buf);
        self.forward.process_with_scratch(buf, scratch);
    }

    /// In-place inverse of [`TileFft::forward`], scaled so that inverse(forward(x)) = x.
    pub fn inverse(&self, buf: &mut [Complex32], scratch: &mut [Complex32]) {
        self.inverse.process_with_scratch(buf, scratch);
        self.transpose(buf);
        self.inverse.process_with_scratch(buf, scratch);
        let s = 1.0 / (self.n * self.n) as f32;
        buf.iter_mut().for_each(|c| *c *= s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_dc() {
        let f = TileFft::new(16);
        let mut s = f.scratch();
        let orig: Vec<Complex32> = (0..256)
            .map(|i| Complex32::new((i * 37 % 101) as f32, 0.0))
            .collect();
        let mut b = orig.clone();
        f.forward(&mut b, &mut s);
        let sum: f32 = orig.iter().map(|c| c.re).sum();
        assert!((b[0].re - sum).abs() < 1e-2);
        f.inverse(&mut b, &mut s);
        for (x, y) in b.iter().zip(&orig) {
            assert!((x.re - y.re).abs() < 1e-3 && x.im.abs() < 1e-3);
        }
    }

    #[test]
    fn matches_a_direct_dft() {
        let n = 8;
        let f = TileFft::new(n);
        let mut s = f.scratch();
        let x: Vec<f32> = (0..n * n).map(|i| ((i * 13) % 7) as f32 - 3.0).collect();
        let mut b: Vec<Complex32> = x.iter().map(|&v| Complex32::new(v, 0.0)).collect();
        f.forward(&mut b, &mut s);
        for u in 0..n {
            for v in 0..n {
                let mut acc = Complex32::default();
                for y in 0..n {
                    for xx in 0..n {
                        let ph = -2.0 * std::f32::consts::PI * ((u * xx + v * y) as f32) / n as f32;
                        acc += Complex32::new(ph.cos(), ph.sin()) * x[y * n + xx];
                    }
                }
                // transposed layout: coefficient (row v, col u) is stored at [u * n + v]
                let got = b[u * n + v];
                assert!((got - acc).norm() < 1e-3, "{u},{v}: {got} vs {acc}");
            }
        }
    }
}
