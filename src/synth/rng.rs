//! A small, seedable, reproducible random number generator and the distributions the
//! synthetic camera needs: uniform, Gaussian (Box-Muller) and Poisson (inversion for small
//! means, PTRS transformed rejection for large ones).
//!
//! # Why our own
//! Ground truth must not change when a dependency changes its stream, and every image row must
//! be reproducible on its own so that rendering in parallel gives the same pixels whatever the
//! thread count. [`Rng::for_stream`] derives an independent generator from a seed and two
//! stream indices (for the renderer: frame and row).
//!
//! # Algorithms
//! - Generator: xoshiro256++ (Blackman and Vigna, "Scrambled linear pseudorandom number
//!   generators", 2021), period 2^256 - 1, state filled from SplitMix64 as its authors
//!   recommend.
//! - Gaussian: Box-Muller transform; the second value of each pair is kept for the next call.
//! - Poisson: for a mean below [`PTRS_MIN_MEAN`], sequential search inversion of the CDF; above,
//!   Hörmann's PTRS ("The transformed rejection method for generating Poisson random
//!   variables", Insurance: Mathematics and Economics 12, 1993), which is exact and costs
//!   about the same whatever the mean (two uniforms per try; logarithms only for tries that
//!   miss its quick acceptance box: about a quarter of them at large means, two thirds near
//!   10).

/// Means at or above this use PTRS; below it, inversion (PTRS is valid from 10 on).
pub const PTRS_MIN_MEAN: f64 = 10.0;

/// Largest mean sampled exactly (PTRS); above it [`Rng::poisson`] uses the normal
/// approximation. Far beyond any photosite: a mean of 1e15 electrons.
pub const POISSON_EXACT_MAX: f64 = 1e15;

/// `1 / k` for small `k` (index 0 unused): a multiplication instead of a division per step
/// of the inversion search.
const INV_INT: [f64; 40] = {
    let mut t = [0.0; 40];
    let mut k = 1;
    while k < 40 {
        t[k] = 1.0 / k as f64;
        k += 1;
    }
    t
};

/// SplitMix64 step: advances `state` and returns the next output.
#[inline]
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix64(*state)
}

/// The SplitMix64 output function, a bijective 64-bit mixer.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A xoshiro256++ generator with a cached second Box-Muller value.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

impl Rng {
    /// A generator whose state is filled by SplitMix64 from `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        // SplitMix64 never yields four zero words in a row, so the state is valid.
        Rng {
            s,
            spare_normal: None,
        }
    }

    /// An independent generator for stream (`a`, `b`) of `seed`, e.g. (frame, row). The
    /// three numbers are hashed through a chain of bijective mixers, so distinct streams get
    /// unrelated states.
    pub fn for_stream(seed: u64, a: u64, b: u64) -> Rng {
        let h = mix64(mix64(mix64(seed) ^ a).wrapping_add(0x6a09_e667_f3bc_c909) ^ b);
        Rng::new(h)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe to take the logarithm of.
    #[inline]
    pub fn uniform_pos(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [`lo`, `hi`).
    #[inline]
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A standard normal deviate (mean 0, variance 1), Box-Muller.
    #[inline]
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let r = (-2.0 * self.uniform_pos().ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * self.uniform()).sin_cos();
        self.spare_normal = Some(r * s);
        r * c
    }

    /// A Poisson deviate with mean `mean` (0 for a mean that is not positive or not finite).
    /// Exact up to [`POISSON_EXACT_MAX`]; above, where `f64` no longer holds every integer
    /// near the mean, the normal approximation `mean + sqrt(mean) z`, rounded (the Poisson
    /// skewness there, 1 / sqrt(mean), is below 3e-8).
    pub fn poisson(&mut self, mean: f64) -> f64 {
        if mean.is_nan() || mean <= 0.0 || !mean.is_finite() {
            0.0
        } else if mean < PTRS_MIN_MEAN {
            self.poisson_inversion(mean)
        } else if mean < POISSON_EXACT_MAX {
            self.poisson_ptrs(mean)
        } else {
            (mean + mean.sqrt() * self.normal()).round()
        }
    }

    /// Sequential search of the CDF from 0: exact, O(mean) steps, for small means.
    fn poisson_inversion(&mut self, mean: f64) -> f64 {
        let u = self.uniform();
        let mut p = (-mean).exp();
        let mut cdf = p;
        let mut k = 0;
        // The cap only matters if rounding keeps `cdf` below `u` for u within 1e-15 of 1.
        while u > cdf && k < 1000 {
            k += 1;
            p *= mean * INV_INT.get(k).copied().unwrap_or(1.0 / k as f64);
            cdf += p;
        }
        k as f64
    }

    /// Hörmann's PTRS: a transformed-rejection sampler with a quick acceptance box, exact for
    /// means of 10 and above.
    fn poisson_ptrs(&mut self, mean: f64) -> f64 {
        let smu = mean.sqrt();
        let b = 0.931 + 2.53 * smu;
        let a = -0.059 + 0.02483 * b;
        // The quick acceptance `v <= 0.9277 - 3.6224 / (b - 2)` multiplied out (b - 2 > 6 for
        // means of 10 and above), saving a division per sample.
        let b2 = b - 2.0;
        let v_r_b2 = 0.9277 * b2 - 3.6224;
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform_pos();
            let us = 0.5 - u.abs();
            let t = (2.0 * a / us + b) * u + mean + 0.43;
            // k < 0 is rejected below anyway; k >= 2e15, over 3e7 standard deviations above
            // any mean PTRS is used for, fails the final test by hundreds of orders of
            // magnitude. Skipping both keeps `floor_i64` within its exact range.
            if !(0.0..2.0e15).contains(&t) {
                continue;
            }
            let k = super::floor_i64(t) as f64;
            if us >= 0.07 && v * b2 <= v_r_b2 {
                return k;
            }
            if us < 0.013 && v > us {
                continue;
            }
            // The slow path: logarithms only here.
            // ln(v) + ln(1 / alpha) - ln(a / us^2 + b) as one logarithm.
            let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
            let lhs = (v * inv_alpha / (a / (us * us) + b)).ln();
            let rhs = ln_poisson_pmf(k, mean);
            if lhs <= rhs {
                return k;
            }
        }
    }
}

/// ln P(K = k) for a Poisson variable of mean `mean`, i.e. `-mean + k ln(mean) - ln(k!)`.
/// From k = 16 on, Stirling's series turns it into
/// `-k ln(1 + (k - mean) / mean) + (k - mean) - ln(k) / 2 - ln(2 pi) / 2 - series(k)`,
/// whose terms are of the size of the deviation `k - mean` rather than of `k ln(mean)`: the
/// direct form loses all precision to cancellation for means around 1e12 and above.
pub fn ln_poisson_pmf(k: f64, mean: f64) -> f64 {
    if k < 16.0 {
        return -mean + k * mean.ln() - ln_factorial(k);
    }
    let d = (k - mean) / mean;
    -k * d.ln_1p() + (k - mean) - 0.5 * (k.ln() + std::f64::consts::TAU.ln()) - stirling_series(k)
}

/// The tail `1/(12k) - 1/(360k^3) + 1/(1260k^5)` of Stirling's series for ln(k!).
fn stirling_series(k: f64) -> f64 {
    let inv = 1.0 / k;
    let inv2 = inv * inv;
    inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 / 1260.0))
}

/// ln(k!) for a non-negative integer `k` given as `f64`: a table below 16, Stirling's series
/// (relative error below 1e-13 there) above.
pub fn ln_factorial(k: f64) -> f64 {
    const TABLE: [f64; 16] = [
        0.0,
        0.0,
        std::f64::consts::LN_2,
        1.791_759_469_228_055,
        3.178_053_830_347_945_8,
        4.787_491_742_782_046,
        6.579_251_212_010_101,
        8.525_161_361_065_415,
        10.604_602_902_745_25,
        12.801_827_480_081_469,
        15.104_412_573_075_516,
        17.502_307_845_873_887,
        19.987_214_495_661_885,
        22.552_163_853_123_42,
        25.191_221_182_738_683,
        27.899_271_383_840_894,
    ];
    if k < 16.0 {
        return TABLE[k.max(0.0) as usize];
    }
    (k + 0.5) * k.ln() - k + 0.5 * std::f64::consts::TAU.ln() + stirling_series(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(samples: &[f64]) -> (f64, f64) {
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = {
            let mut r = Rng::for_stream(1, 2, 3);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::for_stream(1, 2, 3);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        for (s, f, row) in [(2, 2, 3), (1, 3, 3), (1, 2, 4), (1, 3, 2)] {
            let mut r = Rng::for_stream(s, f, row);
            assert_ne!(r.next_u64(), a[0], "stream ({s}, {f}, {row})");
        }
    }

    #[test]
    fn uniform_is_in_range_and_flat() {
        let mut r = Rng::new(7);
        let mut bins = [0u32; 10];
        for _ in 0..100_000 {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            bins[(u * 10.0) as usize] += 1;
            let p = r.uniform_pos();
            assert!(p > 0.0 && p <= 1.0);
        }
        // Each bin expects 10000 with standard deviation 95.
        for b in bins {
            assert!((9_600..=10_400).contains(&b), "{bins:?}");
        }
    }

    #[test]
    fn gaussian_has_unit_variance_and_normal_tails() {
        let mut r = Rng::new(11);
        let xs: Vec<f64> = (0..400_000).map(|_| r.normal()).collect();
        let (mean, var) = moments(&xs);
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        // P(|z| > 2) = 0.0455 for a normal distribution.
        let tail = xs.iter().filter(|x| x.abs() > 2.0).count() as f64 / xs.len() as f64;
        assert!((tail - 0.0455).abs() < 0.002, "tail {tail}");
    }

    #[test]
    fn poisson_mean_and_variance_within_2_percent() {
        // 400k samples: the standard error of the variance is below 0.4% even at mean 0.5.
        for (i, mean) in [0.5, 5.0, 9.99, 10.0, 50.0, 5000.0].into_iter().enumerate() {
            let mut r = Rng::new(100 + i as u64);
            let xs: Vec<f64> = (0..400_000).map(|_| r.poisson(mean)).collect();
            assert!(xs.iter().all(|&x| x >= 0.0 && x.fract() == 0.0));
            let (m, v) = moments(&xs);
            assert!((m / mean - 1.0).abs() < 0.02, "mean {mean}: got {m}");
            assert!((v / mean - 1.0).abs() < 0.02, "mean {mean}: variance {v}");
        }
    }

    #[test]
    fn poisson_matches_the_probability_mass_function() {
        // Moments alone would not catch a wrong shape; compare the histogram with the pmf
        // on both sides of the inversion/PTRS switch.
        for mean in [3.0, 12.0, 50.0] {
            let mut r = Rng::new(mean as u64);
            let n = 400_000;
            let mut hist = vec![0u32; 200];
            for _ in 0..n {
                let k = r.poisson(mean) as usize;
                hist[k.min(199)] += 1;
            }
            let mut tv = 0.0;
            for (k, &h) in hist.iter().enumerate() {
                let kf = k as f64;
                let p = (-mean + kf * f64::ln(mean) - ln_factorial(kf)).exp();
                tv += (h as f64 / n as f64 - p).abs();
            }
            assert!(tv / 2.0 < 0.01, "mean {mean}: total variation {}", tv / 2.0);
        }
    }

    #[test]
    fn ln_factorial_is_continuous_across_the_table_edge() {
        let mut direct = 0.0;
        for k in 1..40 {
            direct += f64::ln(k as f64);
            assert!(
                (ln_factorial(k as f64) - direct).abs() < 1e-10,
                "k = {k}: {} vs {direct}",
                ln_factorial(k as f64)
            );
        }
    }

    #[test]
    fn stable_log_pmf_agrees_with_the_direct_form() {
        for mean in [12.0, 50.0, 5000.0] {
            for k in [16.0, 20.0, 49.0, 50.0, 51.0, 120.0, 4900.0, 5100.0] {
                let direct = -mean + k * f64::ln(mean) - ln_factorial(k);
                let stable = ln_poisson_pmf(k, mean);
                assert!(
                    (direct - stable).abs() < 1e-9 * direct.abs().max(1.0),
                    "{k} {mean}"
                );
            }
        }
        // Where the direct form cancels: the pmf at the mode of a mean of 1e15 is
        // 1 / sqrt(2 pi 1e15).
        let mode = ln_poisson_pmf(1e15, 1e15);
        assert!(
            (mode + 0.5 * (std::f64::consts::TAU * 1e15).ln()).abs() < 1e-9,
            "{mode}"
        );
    }

    #[test]
    fn huge_means_terminate_and_stay_centred() {
        let mut r = Rng::new(5);
        for mean in [1e12, 9.9e14, 1e15, 1e18] {
            let xs: Vec<f64> = (0..2000).map(|_| r.poisson(mean)).collect();
            let (m, v) = moments(&xs);
            assert!((m / mean - 1.0).abs() < 1e-5, "mean {mean}: {m}");
            assert!((v / mean - 1.0).abs() < 0.2, "mean {mean}: variance {v}");
        }
    }

    #[test]
    fn degenerate_means_give_zero() {
        let mut r = Rng::new(1);
        assert_eq!(r.poisson(0.0), 0.0);
        assert_eq!(r.poisson(-1.0), 0.0);
        assert_eq!(r.poisson(f64::NAN), 0.0);
    }
}
