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
    /// Supersamples per cell side.
    pub supersample: usize,
    /// Cells per pixel side (`SynthParams::truth_scale`).
    pub truth_scale: usize,
    pub cfa: Cfa,
}

impl FramePlan<'_> {
    /// Clean camera RGB of pixel (`i`, `j`), exposure-scaled. The pixel is divided into
    /// s x s cells (s = `truth_scale`), cell (`m`, `n`) covering `[i + m/s, i + (m+1)/s) x
    /// [j + n/s, j + (n+1)/s)` in frame coordinates, and each cell is sampled on a k x k grid
    /// (k = `supersample`) at `(i + (m k + a + 0.5) / (s k), j + (n k + b + 0.5) / (s k))`,
    /// every position mapped to the scene by `R(-theta) (q - c - t) + c`. The pixel is the
    /// mean of all (s k)^2 samples, i.e. of its cells' means. With s > 1, `cell(m, n, rgb)`
    /// receives each cell's mean, normalised like the pixel.
    #[inline]
    pub fn clean_pixel(
        &self,
        i: usize,
        j: usize,
        mut cell: impl FnMut(usize, usize, [f64; 3]),
    ) -> [f64; 3] {
        let (k, s) = (self.supersample, self.truth_scale);
        // Normalises the sum of `n` sub-samples to exposure-scaled camera RGB.
        let camera = |sum: [f64; 3], n: usize| {
            let norm = self.gain / n as f64;
            std::array::from_fn(|c| sum[c] * norm * SENSITIVITY[c])
        };
        if s == 1 {
            // The plain pixel: the arithmetic of the renderer before truth scales existed,
            // so scale 1 gives the same frames bit for bit, without the cell loop.
            return camera(self.grid_sum(i as f64, j as f64, 1.0 / k as f64), k * k);
        }
        let step = 1.0 / (s * k) as f64;
        let mut acc = [0.0f64; 3];
        for n in 0..s {
            for m in 0..s {
                let x = i as f64 + (m * k) as f64 * step;
                let y = j as f64 + (n * k) as f64 * step;
                let sum = self.grid_sum(x, y, step);
                cell(m, n, camera(sum, k * k));
                for (acc, v) in acc.iter_mut().zip(sum) {
                    *acc += v;
                }
            }
        }
        camera(acc, s * s * k * k)
    }

    /// The sum of the scene over a k x k grid with spacing `step` in frame coordinates whose
    /// square starts at frame position (`x`, `y`): samples at `(x + (a + 0.5) step,
    /// y + (b + 0.5) step)`, with the moving object drawn over the scene.
    #[inline(always)]
    fn grid_sum(&self, x: f64, y: f64, step: f64) -> [f64; 3] {
        // Scene position of the first sub-sample; one sub-sample step along frame x moves by
        // step * (cos, -sin) in the scene, along frame y by step * (sin, cos).
        let qx = x + 0.5 * step - self.centre[0] - self.translation[0];
        let qy = y + 0.5 * step - self.centre[1] - self.translation[1];
        let grid = SampleGrid {
            origin: [
                self.cos * qx + self.sin * qy + self.centre[0],
                -self.sin * qx + self.cos * qy + self.centre[1],
            ],
            dx: [self.cos * step, -self.sin * step],
            dy: [self.sin * step, self.cos * step],
            k: self.supersample,
        };
        match self.object {
            // Every sub-sample of a cell (at most a pixel wide) lies within
            // (k - 1) / k * sqrt(2) < 1.42 px of the first, so a first sub-sample beyond
            // r + 1.5 px of the object's centre means none can fall on the object.
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
        }
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

/// The clean outputs of one reference-frame row.
pub(crate) struct CleanRow<'a> {
    /// The clean mosaic row (clipped at 1).
    pub mosaic: &'a mut [f32],
    /// The R, G, B rows.
    pub rgb: [&'a mut [f32]; 3],
    /// With `truth_scale` s > 1, the s rows of each scaled R, G, B plane under this row
    /// (`s * s * width` values each, row-major).
    pub scaled: Option<[&'a mut [f32]; 3]>,
}

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
    let s = plan.truth_scale;
    // Width of a scaled row.
    let sw = mosaic.len() * s;
    for (x, out) in mosaic.iter_mut().enumerate() {
        let rgb = match &mut clean {
            Some(CleanRow {
                scaled: Some(planes),
                ..
            }) => plan.clean_pixel(x, y, |m, n, cell| {
                // Cell (m, n) of pixel (x, y) is scaled pixel (x s + m, y s + n); the band
                // starts at scaled row y s.
                for (plane, v) in planes.iter_mut().zip(cell) {
                    plane[n * sw + x * s + m] = v as f32;
                }
            }),
            _ => plan.clean_pixel(x, y, |_, _, _| {}),
        };
        let v = rgb[plan.cfa.color_at(x, y) as usize];
        if let Some(c) = &mut clean {
            c.mosaic[x] = v.min(1.0) as f32;
            for (plane, v) in c.rgb.iter_mut().zip(rgb) {
                plane[x] = v as f32;
            }
        }
        *out = sensor.expose(v, &mut rng);
    }
}
