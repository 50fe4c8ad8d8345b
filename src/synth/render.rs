//! The synthetic camera: optics (supersampled pixel footprints under the frame's motion),
//! colour filter, exposure and sensor noise, for one row of photosites at a time.
//!
//! A row depends only on the scene, its frame's plan and its own random stream
//! (`Rng::for_stream(seed, frame, row)`), so rows can be rendered in any order on any number of
//! threads with identical results.

use super::floor_i64;
use super::rng::Rng;
use super::scene::{SampleGrid, Scene, object_sample};
use super::{SENSITIVITY, SynthParams};
use crate::image::Cfa;

/// Everything needed to render one frame's clean signal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FramePlan<'a> {
    pub scene: &'a Scene,
    /// cos and sin of the frame's rotation.
    pub cos: f64,
    pub sin: f64,
    /// Translation in pixels.
    pub translation: [f64; 2],
    /// Rotation centre.
    pub centre: [f64; 2],
    /// Moving object centre (scene coordinates) and radius in this frame.
    pub object: Option<([f64; 2], f64)>,
    /// Exposure scale: `exposure * 2^ev`.
    pub gain: f64,
    /// Supersamples per pixel side.
    pub supersample: usize,
    pub cfa: Cfa,
}

impl FramePlan<'_> {
    /// Clean camera RGB of pixel (`i`, `j`), exposure-scaled: the mean over a k x k grid of
    /// sub-pixel positions `(i + (a + 0.5) / k, j + (b + 0.5) / k)`, each mapped to the scene
    /// by `R(-theta) (q - c - t) + c`.
    #[inline]
    pub fn clean_pixel(&self, i: usize, j: usize) -> [f64; 3] {
        let k = self.supersample;
        let step = 1.0 / k as f64;
        // Scene position of the first sub-sample; one sub-sample step along frame x moves by
        // step * (cos, -sin) in the scene, along frame y by step * (sin, cos).
        let qx = i as f64 + 0.5 * step - self.centre[0] - self.translation[0];
        let qy = j as f64 + 0.5 * step - self.centre[1] - self.translation[1];
        let grid = SampleGrid {
            origin: [
                self.cos * qx + self.sin * qy + self.centre[0],
                -self.sin * qx + self.cos * qy + self.centre[1],
            ],
            dx: [self.cos * step, -self.sin * step],
            dy: [self.sin * step, self.cos * step],
            k,
        };
        let acc = match self.object {
            // Every sub-sample lies within (k - 1) / k * sqrt(2) < 1.42 px of the first, so
            // a first sub-sample beyond r + 1.5 px of the object's centre means none can
            // fall on the object.
            Some((c, r))
                if (grid.origin[0] - c[0]).powi(2) + (grid.origin[1] - c[1]).powi(2)
                    < (r + 1.5).powi(2) =>
            {
                grid.sum(|sx, sy| {
                    if (sx - c[0]).powi(2) + (sy - c[1]).powi(2) < r * r {
                        object_sample(sx - c[0], sy - c[1], r)
                    } else {
                        self.scene.radiance(sx, sy)
                    }
                })
            }
            _ => self.scene.grid_sum(&grid),
        };
        let norm = self.gain / (k * k) as f64;
        std::array::from_fn(|c| acc[c] * norm * SENSITIVITY[c])
    }
}

/// The sensor: shot and read noise, then quantisation to integers between black and white.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sensor {
    shot: f64,
    read_sd: f64,
    black: f64,
    white: f64,
}

impl Sensor {
    pub fn new(p: &SynthParams) -> Sensor {
        Sensor {
            shot: p.shot,
            read_sd: p.read.sqrt(),
            black: f64::from(p.black),
            white: f64::from(p.white),
        }
    }

    /// The normalised value `(raw - black) / (white - black)` of the raw integer a photosite
    /// with clean normalised signal `x` records.
    #[inline]
    pub fn expose(&self, x: f64, rng: &mut Rng) -> f32 {
        let x = x.max(0.0);
        let mut n = if self.shot > 0.0 {
            self.shot * rng.poisson(x / self.shot)
        } else {
            x
        };
        if self.read_sd > 0.0 {
            n += self.read_sd * rng.normal();
        }
        let range = self.white - self.black;
        // Clamping to integer bounds first, then rounding half up (no libm call), equals
        // rounding then clamping.
        let raw = (n * range + self.black).clamp(0.0, self.white);
        let raw = floor_i64(raw + 0.5) as f64;
        ((raw - self.black) / range) as f32
    }
}

/// Optional clean outputs of a reference-frame row: mosaic (clipped at 1) and R, G, B.
pub(crate) type CleanRow<'a> = [&'a mut [f32]; 4];

/// Renders row `y` of frame `frame` into `mosaic`, and its clean signal into `clean` when
/// given.
pub(crate) fn render_row(
    plan: &FramePlan,
    sensor: &Sensor,
    seed: u64,
    frame: usize,
    y: usize,
    mosaic: &mut [f32],
    mut clean: Option<CleanRow>,
) {
    let mut rng = Rng::for_stream(seed, frame as u64, y as u64);
    for (x, out) in mosaic.iter_mut().enumerate() {
        let rgb = plan.clean_pixel(x, y);
        let v = rgb[plan.cfa.color_at(x, y) as usize];
        if let Some([m, r, g, b]) = clean.as_mut() {
            m[x] = v.min(1.0) as f32;
            r[x] = rgb[0] as f32;
            g[x] = rgb[1] as f32;
            b[x] = rgb[2] as f32;
        }
        *out = sensor.expose(v, &mut rng);
    }
}
