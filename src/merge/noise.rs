//! The noise model: variance = S * x + O per CFA colour, for a signal x normalised to 0..1.
//!
//! From the DNG `NoiseProfile` when the frame has one; otherwise estimated from the frame
//! itself: in each Bayer plane, the residual of a 3x3 same-colour Laplacian-like predictor
//! removes smooth signal; over 8x8 blocks, grouped by brightness, a low percentile of the
//! block variances (the 10th) picks out the flat blocks (texture only raises variance), and a weighted
//! least-squares line through (brightness, variance) gives S and O.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::image::{Channel, Plane};
use crate::raw::{NoiseModel, RawFrame};

/// Where a frame's noise model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoiseSource {
    /// The file's DNG NoiseProfile.
    Profile,
    /// Estimated from the pixels.
    Estimated,
}

/// Noise of each colour channel (R, G, B), normalised units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameNoise {
    /// Per channel, R, G, B.
    pub channels: [NoiseModel; 3],
    /// Where it came from.
    pub source: NoiseSource,
}

impl FrameNoise {
    /// Noise variance of channel `c` at normalised signal `x` (negative signals count as 0).
    #[inline]
    pub fn variance(&self, c: Channel, x: f32) -> f32 {
        let m = self.channels[c as usize];
        (m.scale * f64::from(x.max(0.0)) + m.offset) as f32
    }
}

/// The frame's noise model: its NoiseProfile if it has one, else an estimate.
pub fn noise_model(frame: &RawFrame) -> FrameNoise {
    match frame.meta.noise_profile.as_slice() {
        [one] => FrameNoise {
            channels: [*one; 3],
            source: NoiseSource::Profile,
        },
        [r, g, b, ..] => FrameNoise {
            channels: [*r, *g, *b],
            source: NoiseSource::Profile,
        },
        _ => estimate_noise(frame),
    }
}

/// Same-colour plane `(px, py)` of the active area.
fn plane(frame: &RawFrame, px: usize, py: usize) -> Plane<f32> {
    let a = frame.active_area;
    let (w, h) = (a.width / 2, a.height / 2);
    let mut p = Plane::new(w, h);
    for y in 0..h {
        let src = frame.mosaic.row(a.y + 2 * y + py);
        for x in 0..w {
            p.data[y * w + x] = src[a.x + 2 * x + px];
        }
    }
    p
}

const BINS: usize = 24;

/// 10th percentile of the 8x8 block variances of the residual, over the noise variance, for
/// white noise: the chi-square value for 63 degrees of freedom (checked by
/// `p10_ratio_of_white_noise`).
const P10_RATIO: f64 = 0.776;

/// The noise variance measured in `frame`'s pixels, per colour (R, G, B): one point
/// (brightness, variance, weight) per brightness bin of each of the colour's planes (see the
/// module docs); what [`estimate_noise`] fits its line through.
pub fn measured_variance(frame: &RawFrame) -> [Vec<(f64, f64, f64)>; 3] {
    let cfa = frame.cfa_at(frame.active_area);
    let mut points: [Vec<(f64, f64, f64)>; 3] = Default::default();
    if let Some(rgb) = &frame.rgb {
        // linear RGB: each channel is a plane of its own (demosaicing correlates neighbours,
        // so this errs towards less noise than the sensor had)
        for (c, plane) in rgb.iter().enumerate() {
            points[c].extend(plane_points(&plane.crop(frame.active_area)));
        }
    }
    for py in 0..2 * usize::from(frame.rgb.is_none()) {
        for px in 0..2 {
            let c = cfa.color_at(px, py) as usize;
            points[c].extend(plane_points(&plane(frame, px, py)));
        }
    }
    points
}

/// Estimates the noise model from the frame's pixels (see the module docs).
pub fn estimate_noise(frame: &RawFrame) -> FrameNoise {
    let points = measured_variance(frame);
    let fit = |pts: &[(f64, f64, f64)]| -> NoiseModel {
        // weighted least squares var = S x + O
        let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(x, v, w) in pts {
            sw += w;
            sx += w * x;
            sy += w * v;
            sxx += w * x * x;
            sxy += w * x * v;
        }
        let det = sw * sxx - sx * sx;
        if sw <= 0.0 {
            return NoiseModel {
                scale: 0.0,
                offset: 0.0,
            };
        }
        if det.abs() < 1e-18 {
            return NoiseModel {
                scale: 0.0,
                offset: (sy / sw).max(0.0),
            };
        }
        let s = (sw * sxy - sx * sy) / det;
        let o = (sy - s * sx) / sw;
        if s < 0.0 {
            NoiseModel {
                scale: 0.0,
                offset: (sy / sw).max(0.0),
            }
        } else if o < 0.0 {
            NoiseModel {
                scale: (sxy / sxx).max(0.0),
                offset: 0.0,
            }
        } else {
            NoiseModel {
                scale: s,
                offset: o,
            }
        }
    };
    FrameNoise {
        channels: [fit(&points[0]), fit(&points[1]), fit(&points[2])],
        source: NoiseSource::Estimated,
    }
}

/// (brightness, noise variance, weight) per brightness bin of one colour plane.
fn plane_points(p: &Plane<f32>) -> Vec<(f64, f64, f64)> {
    let (w, h) = (p.width, p.height);
    if w < 12 || h < 12 {
        return Vec::new();
    }
    // residual r = x - mean of its 8 neighbours: for white noise var(r) = var * (1 + 1/8)
    let bw = (w - 2) / 8;
    let blocks: Vec<(f32, f32)> = (0..(h - 2) / 8)
        .into_par_iter()
        .flat_map_iter(|by| {
            (0..bw).map(move |bx| {
                let (mut s, mut s2, mut m) = (0.0f32, 0.0f32, 0.0f32);
                for y in 1 + by * 8..1 + by * 8 + 8 {
                    for x in 1 + bx * 8..1 + bx * 8 + 8 {
                        let c = p.get(x, y);
                        let n = p.get(x - 1, y - 1)
                            + p.get(x, y - 1)
                            + p.get(x + 1, y - 1)
                            + p.get(x - 1, y)
                            + p.get(x + 1, y)
                            + p.get(x - 1, y + 1)
                            + p.get(x, y + 1)
                            + p.get(x + 1, y + 1);
                        let r = c - n / 8.0;
                        s += r;
                        s2 += r * r;
                        m += c;
                    }
                }
                let var = (s2 - s * s / 64.0) / 63.0 / 1.125;
                (m / 64.0, var)
            })
        })
        .collect();
    let mut bins: Vec<Vec<f32>> = vec![Vec::new(); BINS];
    let mut means = vec![0.0f64; BINS];
    for (m, v) in blocks {
        if !(0.0..0.95).contains(&m) {
            continue; // clipped or below black: not informative
        }
        let b = ((m / 0.95) * BINS as f32) as usize;
        bins[b.min(BINS - 1)].push(v);
        means[b.min(BINS - 1)] += f64::from(m);
    }
    bins.into_iter()
        .zip(means)
        .filter(|(v, _)| v.len() >= 20)
        .map(|(mut v, msum)| {
            let n = v.len();
            v.sort_by(f32::total_cmp);
            // the 10th percentile of the block variances of pure white noise, relative to
            // its variance (measured: `p10_ratio_of_white_noise`); weight by count over
            // variance squared, since the estimate's spread grows with the variance itself
            let p = f64::from(v[n / 10]) / P10_RATIO;
            (msum / n as f64, p, n as f64 / (p * p).max(1e-30))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::SynthParams;

    #[test]
    fn p10_ratio_of_white_noise() {
        // a flat plane of Gaussian noise of variance 1e-4 around 0.4
        let mut rng = crate::synth::rng::Rng::new(5);
        let data: Vec<f32> = (0..400 * 400)
            .map(|_| 0.4 + 0.01 * rng.normal() as f32)
            .collect();
        let p = Plane::from_vec(400, 400, data).unwrap();
        let pts = plane_points(&p);
        let (_, var, _) = pts
            .iter()
            .copied()
            .fold((0.0, 0.0, 0.0), |a, b| if b.2 > a.2 { b } else { a });
        eprintln!("estimated {var:.4e} for 1e-4");
        assert!((var / 1e-4 - 1.0).abs() < 0.05, "{var:e}");
    }

    /// On a scene of smooth ramps (every block flat after the residual filter) the estimate
    /// matches the true profile across the signal range. On densely textured scenes it errs
    /// high, which makes the merge more conservative, not less.
    #[test]
    fn estimate_recovers_the_synthetic_profile() {
        use crate::synth::{Scene, synthesize_scene};
        let (s, o) = (3e-3, 2e-4);
        let (w, h) = (640, 480);
        let ramp = |k: f32| {
            Plane::from_vec(
                w,
                h,
                (0..w * h)
                    .map(|i| {
                        0.02 + k * 0.9 * (i % w) as f32 / w as f32
                            + 0.05 * (i / w) as f32 / h as f32
                    })
                    .collect(),
            )
            .unwrap()
        };
        let scene = Scene::from_linear_rgb([ramp(1.0), ramp(0.9), ramp(1.1)]).unwrap();
        let params = SynthParams {
            frames: 1,
            width: w,
            height: h,
            shot: s,
            read: o,
            ..Default::default()
        };
        let burst = synthesize_scene(&params, &scene).unwrap();
        let est = estimate_noise(&burst.frames[0]);
        for (c, m) in est.channels.iter().enumerate() {
            for x in [0.05, 0.3] {
                let want = s * x + o;
                let got = m.scale * x + m.offset;
                eprintln!("channel {c} x {x}: estimated variance {got:.3e}, true {want:.3e}");
                assert!(
                    (got / want - 1.0).abs() < 0.15,
                    "channel {c} at {x}: {got:e} vs {want:e}"
                );
            }
        }
    }
}
