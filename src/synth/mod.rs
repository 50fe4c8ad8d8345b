//! Synthetic handheld bursts with known motion and noise: the project's ground truth.
//!
//! [`synthesize`] renders a scene ([`SceneSource`]: the procedural test scene, the
//! [`resolution`] chart, an image or a flat colour) into N raw Bayer frames as a handheld
//! camera would record them, and returns them with their [`Truth`] (motion, exposure, moving
//! object) and the clean reference frame.
//! [`SynthBurst::write`] saves the burst as DNGs plus `truth.json` and two float TIFFs (three
//! with a [`SynthParams::truth_scale`] above 1: the clean reference at s times the sensor's
//! resolution, for measuring super-resolution).
//!
//! ```
//! use obscura::synth::{SynthParams, synthesize};
//! let params = SynthParams { frames: 3, width: 64, height: 48, ..SynthParams::default() };
//! let burst = synthesize(&params)?;
//! // Where the reference frame's pixel (10, 20) (centre (10.5, 20.5)) is in frame 2:
//! let [dx, dy] = burst.truth.displacement(2, 10.5, 20.5);
//! assert!(dx.abs() <= 8.5 && dy.abs() <= 8.5);
//! assert_eq!(burst.frames[2].mosaic.width, 64);
//! // burst.write(Path::new("out"))? saves DNGs, truth.json and the clean reference.
//! # Ok::<(), obscura::Error>(())
//! ```
//!
//! # The model, in the order light goes through it
//! 1. **Scene**: linear sRGB radiance defined at every continuous position ([`Scene`]).
//!    Coordinates are those of the reference frame: pixel `(i, j)` covers
//!    `[i, i+1) x [j, j+1)` and is centred at `(i + 0.5, j + 0.5)`.
//! 2. **Motion**: frame 0 is the reference (identity). Frame `k >= 1` gets a translation
//!    `t_k` uniform in `[-motion, motion]^2` and a rotation `theta_k` uniform in
//!    `[-rotate, rotate]` degrees about the frame centre `c = (width / 2, height / 2)`. The
//!    reference point `p` appears in frame `k` at `q = R(theta_k) (p - c) + c + t_k`, so frame
//!    `k`'s pixel at `q` shows scene point `R(-theta_k) (q - c - t_k) + c` ([`Truth`] has the
//!    details and [`Truth::displacement`] the formula).
//! 3. **Moving object** (when `moving > 0`): a textured disc of radius `min(w, h) / 8` in
//!    orange and teal checks that hides the scene; its centre in scene coordinates moves by
//!    `moving` pixels per frame in a seeded direction, and stays in the frame where the path
//!    allows.
//! 4. **Optics and pixel**: each pixel integrates its square footprint, approximated by the
//!    mean of a `supersample x supersample` grid (3 x 3 by default) of point samples of the
//!    scene. No lens blur. With a truth scale `s = truth_scale > 1`, each pixel is split
//!    into `s x s` cells, each cell is the mean of its own `supersample x supersample` grid,
//!    and the pixel is the mean of its cells: one `s k x s k` grid per pixel (k =
//!    `supersample`), the same pattern in every frame. Frame 0's cells, the cell `(i, j)`
//!    covering `[i/s, (i+1)/s) x [j/s, (j+1)/s)`, are the scaled truth
//!    [`SynthBurst::clean_rgb_scaled`], so each `s x s` block of it averages exactly (to
//!    float rounding) to the sensor pixel's [`SynthBurst::clean_rgb`]; what the truth holds
//!    above the sensor's Nyquist frequency is what a super-resolving merge can recover from
//!    the moved frames.
//! 5. **Colour filter**: camera RGB = `diag(SENSITIVITY)` x linear sRGB with
//!    [`SENSITIVITY`] = (0.55, 1.0, 0.75): a green-dominant sensor whose raw looks green like
//!    a real one. The DNG colour matrix (XYZ -> camera) is therefore
//!    `diag(SENSITIVITY) x` [`XYZ_TO_LINEAR_SRGB`] for D65, and the as-shot neutral is
//!    `SENSITIVITY`.
//! 6. **Exposure**: the clean normalised signal is `x = exposure * 2^ev_k * camera_rgb`, where
//!    `ev_k = bracket[k % len]` (0 without a bracket). Metadata exposure time is
//!    `0.01 s * 2^ev_k`.
//! 7. **Noise** (DNG `NoiseProfile` model, variance `S x + O`): with `x` clamped at 0,
//!    `n = S * Poisson(x / S)` (exact sampling) plus Gaussian read noise of variance `O`.
//! 8. **Quantisation**: `raw = round(n * (white - black) + black)` clamped to `[0, white]`;
//!    the frame stores `(raw - black) / (white - black)`, so a DNG round trip is exact.
//!
//! # Reproducibility
//! All randomness comes from streams of the crate's xoshiro256++ generator (`synth/rng.rs`)
//! derived from `seed`: one for the motion, one for the object, one for the scene layout and
//! one per (frame, row) for the noise. Output is
//! bit-identical for a given [`SynthParams`] whatever the number of threads.
//!
//! # Implementation notes
//! Frames and rows are rendered in parallel with rayon (see [`synthesize`] for timings). The
//! scene is evaluated at every sub-sample of every frame (only its fine texture comes from a
//! baked tile, see [`Scene`]), so content that motion brings in is as sharp as content in
//! the frame, and frame `k` is exactly the reference scene under the recorded motion.

pub mod chart;
mod render;
pub mod resolution;
pub(crate) mod rng;
mod scene;
mod shapes;
mod truth;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image::{Cfa, Plane, Rect};
use crate::raw::{Calibration, DecoderKind, Metadata, NoiseModel, RawFrame};
use render::{CleanRow, FramePlan, Sensor, render_row};
use rng::Rng;
pub use scene::{Scene, SceneSource};
pub use truth::{CONVENTION, FrameTruth, MovingObject, Truth};

/// Spectral sensitivity of the synthetic camera: camera RGB = `SENSITIVITY` x linear sRGB,
/// per channel (R, G, B). Green is 1, so the as-shot neutral equals this.
pub const SENSITIVITY: [f64; 3] = [0.55, 1.0, 0.75];

/// XYZ -> linear sRGB (D65 white), the IEC 61966-2-1 matrix ([`crate::color::XYZ_TO_SRGB`]).
pub use crate::color::XYZ_TO_SRGB as XYZ_TO_LINEAR_SRGB;

/// Random stream (second index) of the motion draws; noise streams use the frame index
/// (< 256) there, so these never collide.
const MOTION_STREAM: u64 = 1 << 32;
/// Random stream of the moving object's path.
const OBJECT_STREAM: u64 = (1 << 32) + 1;
/// Random stream of the procedural scene's layout.
pub(crate) const SCENE_STREAM: u64 = (1 << 32) + 2;

/// `x.floor()` as an integer, exact for |x| < 2^51 (any other input gives some integer,
/// never a panic). Baseline x86-64 has no floor instruction, so `f64::floor` is a libm call
/// and `as i64` a saturating conversion with several fix-ups; here, adding 1.5 * 2^52 rounds
/// `x` to the nearest integer, which then sits in the low mantissa bits, and one is taken off
/// where that rounded up. The scene needs two of these per sub-sample.
#[inline(always)]
pub(crate) fn floor_i64(x: f64) -> i64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    let t = x + MAGIC;
    let nearest = (t.to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64);
    nearest.wrapping_sub(i64::from(t - MAGIC > x))
}

/// Most photosites a burst may have in total (`frames * width * height`), 8 GiB of `f32`.
pub const MAX_TOTAL_PIXELS: u64 = 1 << 31;

/// How to make a synthetic burst. See the module docs for the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthParams {
    /// Number of frames, 1..=256 (default 8). Frame 0 is the reference.
    pub frames: usize,
    /// Frame width in pixels, even, 16..=20000 (default 640).
    pub width: usize,
    /// Frame height in pixels, even, 16..=20000 (default 480).
    pub height: usize,
    /// Largest camera translation per axis in pixels, 0..=width/4 (default 8.0); each frame
    /// after the first draws uniformly in `[-motion, motion]`. Higher: harder alignment.
    pub motion: f64,
    /// Largest camera rotation in degrees, 0..=10 (default 0.3); each frame after the first
    /// draws uniformly in `[-rotate, rotate]` about the frame centre.
    pub rotate: f64,
    /// Displacement of the moving object per frame in pixels, 0..=min(width, height)/4
    /// (default 0 = no object). Higher: more ghosting for the merge to reject.
    pub moving: f64,
    /// Shot-noise coefficient S: variance per unit of normalised signal, >= 0 (default 2e-3;
    /// 0 = no shot noise). Higher: noisier, like a higher ISO.
    pub shot: f64,
    /// Read-noise variance O in normalised units squared, >= 0 (default 1e-4, i.e. a standard
    /// deviation of 1% of white). Higher: noisier shadows.
    pub read: f64,
    /// Seed of every random choice (motion, object, scene layout, noise); default 1.
    pub seed: u64,
    /// Colour filter pattern (default RGGB); serialised as its name.
    #[serde(with = "cfa_name")]
    pub cfa: Cfa,
    /// Black level in raw units, below `white` (default 64).
    pub black: u32,
    /// White (saturation) level in raw units, `black < white <= 65535` (default 4095).
    pub white: u32,
    /// Scene brightness scale, > 0 and <= 1000 (default 1.0; 0.25 is two stops darker, for a
    /// low-light burst). Multiplies the clean signal before noise, so lower: noisier relative
    /// to the signal.
    pub exposure: f64,
    /// Exposure bracket in EV, each in -10..=10 (default empty = all frames at 0 EV); frame
    /// `k` is exposed at `bracket[k % bracket.len()]` EV, i.e. `2^ev` times brighter.
    pub bracket: Vec<f64>,
    /// The scene (default procedural).
    pub scene: SceneSource,
    /// Sub-samples per pixel side for anti-aliasing, 1..=8 (default 3, a 3 x 3 grid); with
    /// `truth_scale` s > 1, per side of each of the pixel's s x s cells. Higher: a more exact
    /// box-filtered pixel, slower (cost grows with its square).
    pub supersample: usize,
    /// Resolution factor s of the scaled ground truth, 1..=4 (default 1 = none). Above 1,
    /// [`SynthBurst::clean_rgb_scaled`] holds frame 0's clean RGB on a grid s times finer
    /// than the sensor's, and every pixel of every frame is rendered as the mean of its
    /// s x s cells (see the module docs): the burst changes, and rendering costs about s^2
    /// times as much (use `supersample` 2 to compensate). Higher: a finer truth for
    /// measuring super-resolution.
    pub truth_scale: usize,
}

impl Default for SynthParams {
    fn default() -> Self {
        SynthParams {
            frames: 8,
            width: 640,
            height: 480,
            motion: 8.0,
            rotate: 0.3,
            moving: 0.0,
            shot: 2e-3,
            read: 1e-4,
            seed: 1,
            cfa: Cfa::RGGB,
            black: 64,
            white: 4095,
            exposure: 1.0,
            bracket: Vec::new(),
            scene: SceneSource::Procedural,
            supersample: 3,
            truth_scale: 1,
        }
    }
}

/// Serialises a [`Cfa`] as its name ("RGGB").
mod cfa_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use crate::image::Cfa;

    pub fn serialize<S: Serializer>(cfa: &Cfa, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(cfa.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cfa, D::Error> {
        let name = String::deserialize(d)?;
        Cfa::parse(&name).ok_or_else(|| {
            D::Error::custom(format!(
                "unknown CFA pattern {name:?}; use RGGB, BGGR, GRBG or GBRG"
            ))
        })
    }
}

impl SynthParams {
    /// Checks every field against its documented range; the error names the field, the
    /// value and the allowed range.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, reason: String| Err(Error::parameter(name, reason));
        if !(1..=256).contains(&self.frames) {
            return bad("frames", format!("{} is outside 1..=256", self.frames));
        }
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if !(16..=20000).contains(&v) || v % 2 != 0 {
                return bad(name, format!("{v} must be even and within 16..=20000"));
            }
        }
        let total = self.frames as u64 * self.width as u64 * self.height as u64;
        if total > MAX_TOTAL_PIXELS {
            return bad(
                "frames",
                format!(
                    "{} frames of {}x{} are {total} photosites; at most {MAX_TOTAL_PIXELS} in total",
                    self.frames, self.width, self.height
                ),
            );
        }
        let max_motion = self.width as f64 / 4.0;
        if !(0.0..=max_motion).contains(&self.motion) {
            return bad(
                "motion",
                format!("{} px is outside 0..={max_motion} (width / 4)", self.motion),
            );
        }
        if !(0.0..=10.0).contains(&self.rotate) {
            return bad(
                "rotate",
                format!("{} degrees is outside 0..=10", self.rotate),
            );
        }
        let max_moving = self.width.min(self.height) as f64 / 4.0;
        if !(0.0..=max_moving).contains(&self.moving) {
            return bad(
                "moving",
                format!(
                    "{} px per frame is outside 0..={max_moving} (min(width, height) / 4)",
                    self.moving
                ),
            );
        }
        for (name, v) in [("shot", self.shot), ("read", self.read)] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(name, format!("{v} must be finite and >= 0"));
            }
        }
        if !self.cfa.is_bayer() {
            return bad(
                "cfa",
                format!(
                    "{:?} is not a Bayer pattern (RGGB, BGGR, GRBG, GBRG)",
                    self.cfa.colors
                ),
            );
        }
        if self.white > 65535 {
            return bad("white", format!("{} is above 65535", self.white));
        }
        if self.black >= self.white {
            return bad(
                "black",
                format!("{} must be below white ({})", self.black, self.white),
            );
        }
        if !(self.exposure > 0.0 && self.exposure <= 1000.0) {
            return bad(
                "exposure",
                format!("{} is outside (0, 1000]", self.exposure),
            );
        }
        if let Some(ev) = self.bracket.iter().find(|ev| !(-10.0..=10.0).contains(*ev)) {
            return bad("bracket", format!("{ev} EV is outside -10..=10"));
        }
        if !(1..=8).contains(&self.supersample) {
            return bad(
                "supersample",
                format!("{} is outside 1..=8", self.supersample),
            );
        }
        if !(1..=4).contains(&self.truth_scale) {
            return bad(
                "truth_scale",
                format!("{} is outside 1..=4", self.truth_scale),
            );
        }
        let truth_pixels =
            (self.truth_scale * self.truth_scale) as u64 * self.width as u64 * self.height as u64;
        if truth_pixels > MAX_TOTAL_PIXELS {
            let (sw, sh) = (
                self.width * self.truth_scale,
                self.height * self.truth_scale,
            );
            return bad(
                "truth_scale",
                format!(
                    "{} makes a {sw}x{sh} truth of {truth_pixels} pixels; at most {MAX_TOTAL_PIXELS}",
                    self.truth_scale
                ),
            );
        }
        if let SceneSource::Flat(rgb) = self.scene {
            Scene::flat(rgb)?;
        }
        Ok(())
    }

    /// Exposure offset in EV of frame `k`.
    pub fn ev(&self, k: usize) -> f64 {
        if self.bracket.is_empty() {
            0.0
        } else {
            self.bracket[k % self.bracket.len()]
        }
    }
}

/// A rendered burst with its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthBurst {
    /// The raw frames, frame 0 first (the reference). Their `path` is empty until
    /// [`SynthBurst::save`].
    pub frames: Vec<RawFrame>,
    /// Motion, exposure and object truth.
    pub truth: Truth,
    /// Frame 0 without noise or quantisation: normalised, exposure-scaled, clipped at 1.0.
    pub clean_mosaic: Plane<f32>,
    /// Frame 0's clean camera RGB (R, G, B planes; normalised, exposure-scaled, not clipped):
    /// what a perfect merge and demosaic would recover.
    pub clean_rgb: [Plane<f32>; 3],
    /// With [`SynthParams::truth_scale`] s > 1, frame 0's clean camera RGB like
    /// [`SynthBurst::clean_rgb`] but on a grid s times finer: `(s * width) x (s * height)`,
    /// its pixel `(i, j)` covering `[i/s, (i+1)/s) x [j/s, (j+1)/s)` of the reference frame.
    /// The mean of each s x s block equals `clean_rgb` at that sensor pixel (to float
    /// rounding): what a perfect super-resolving merge would recover. `None` when s = 1.
    pub clean_rgb_scaled: Option<[Plane<f32>; 3]>,
}

/// Renders the burst `params` describes.
///
/// # Timing
/// Release build, procedural scene, 3 x 3 supersampling, default noise, on the 2-vCPU Intel
/// Xeon VM this was written on (the same host also ran other builds, so figures vary by
/// about 15%):
///
/// | burst | 2 threads, wall | CPU time |
/// |---|---|---|
/// | 640x480 x 8 | 0.55 - 0.63 s | 1.15 - 1.35 s |
/// | 4000x3000 x 8 | about 20 s (37 s with one core taken by another process) | 38 s |
///
/// plus about 80 ms once per process to bake the texture tile. Per photosite that is about
/// 2000 instructions (cachegrind): 9 scene samples of roughly 160 each, the rest Poisson and
/// Gaussian sampling.
///
/// A truth scale of 2 takes 36 scene samples per photosite: the whole `obscura synth` run
/// (640x480 x 8, files included) took 4.6 - 4.8 s of CPU against 1.5 - 1.6 s at scale 1, on
/// the same VM with other work running; the resolution chart costs about what the
/// procedural scene does.
pub fn synthesize(params: &SynthParams) -> Result<SynthBurst> {
    params.validate()?;
    let scene = Scene::from_source(&params.scene, params.width, params.height, params.seed)?;
    render_burst(params, &scene)
}

/// Renders a burst of `scene`, which must already be in the frames' coordinates (see
/// [`Scene::fit`]); `params.scene` is only recorded in the truth.
pub fn synthesize_scene(params: &SynthParams, scene: &Scene) -> Result<SynthBurst> {
    params.validate()?;
    render_burst(params, scene)
}

/// Draws the motion and object path, then renders every frame.
fn render_burst(p: &SynthParams, scene: &Scene) -> Result<SynthBurst> {
    let (w, h) = (p.width, p.height);
    let truth = make_truth(p);
    let sensor = Sensor::new(p);
    let plans: Vec<FramePlan> = truth
        .frames
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let (sin, cos) = f.rotation_deg.to_radians().sin_cos();
            FramePlan {
                scene,
                cos,
                sin,
                translation: f.translation,
                centre: truth.centre,
                object: truth
                    .moving_object
                    .as_ref()
                    .map(|o| (o.centres[k], o.radius)),
                gain: p.exposure * f.ev.exp2(),
                supersample: p.supersample,
                truth_scale: p.truth_scale,
                cfa: p.cfa,
            }
        })
        .collect();

    // Schedule: every (frame, row) is an independent task; rayon's work stealing spreads the
    // rows of all frames over the threads (2 threads: 1.9x one, see `synthesize` for times).
    // The reference frame also fills the clean planes: per sensor row, one row of each
    // clean plane and `s` rows of each scaled plane.
    let s = p.truth_scale;
    let mut mosaics: Vec<Vec<f32>> = (0..p.frames).map(|_| vec![0.0; w * h]).collect();
    let mut clean: [Vec<f32>; 4] = std::array::from_fn(|_| vec![0.0; w * h]);
    let mut scaled: Option<[Vec<f32>; 3]> =
        (s > 1).then(|| std::array::from_fn(|_| vec![0.0; w * h * s * s]));
    let (first, rest) = mosaics.split_at_mut(1);
    let [cm, cr, cg, cb] = &mut clean;
    let mut clean_rows: Vec<CleanRow> = cm
        .chunks_mut(w)
        .zip(cr.chunks_mut(w))
        .zip(cg.chunks_mut(w))
        .zip(cb.chunks_mut(w))
        .map(|(((mosaic, r), g), b)| CleanRow {
            mosaic,
            rgb: [r, g, b],
            scaled: None,
        })
        .collect();
    if let Some([sr, sg, sb]) = &mut scaled {
        let band = w * s * s;
        let bands = sr
            .chunks_mut(band)
            .zip(sg.chunks_mut(band))
            .zip(sb.chunks_mut(band));
        for (row, ((r, g), b)) in clean_rows.iter_mut().zip(bands) {
            row.scaled = Some([r, g, b]);
        }
    }
    rayon::join(
        || {
            first[0]
                .par_chunks_mut(w)
                .zip(clean_rows.into_par_iter())
                .enumerate()
                .for_each(|(y, (m, clean))| {
                    render_row(&plans[0], &sensor, p.seed, 0, y, m, Some(clean));
                });
        },
        || {
            rest.par_iter_mut().enumerate().for_each(|(i, mosaic)| {
                mosaic.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
                    render_row(&plans[i + 1], &sensor, p.seed, i + 1, y, row, None);
                });
            });
        },
    );

    let frames = mosaics
        .into_iter()
        .enumerate()
        .map(|(k, data)| RawFrame {
            path: PathBuf::new(),
            mosaic: Plane {
                width: w,
                height: h,
                data,
            },
            cfa: p.cfa,
            black: [f64::from(p.black); 4],
            white: f64::from(p.white),
            active_area: Rect::new(0, 0, w, h),
            crop: Rect::new(0, 0, w, h),
            meta: metadata(p, &truth.frames[k], k),
            decoder: DecoderKind::Obscura,
            rgb: None,
        })
        .collect();
    let [cm, cr, cg, cb] = clean;
    let plane = |data| Plane {
        width: w,
        height: h,
        data,
    };
    let scaled_plane = |data| Plane {
        width: w * s,
        height: h * s,
        data,
    };
    Ok(SynthBurst {
        frames,
        truth,
        clean_mosaic: plane(cm),
        clean_rgb: [plane(cr), plane(cg), plane(cb)],
        clean_rgb_scaled: scaled.map(|planes| planes.map(scaled_plane)),
    })
}

/// Draws every frame's motion and the object's path from their seeded streams.
fn make_truth(p: &SynthParams) -> Truth {
    let (w, h) = (p.width as f64, p.height as f64);
    let digits = if p.frames > 100 { 3 } else { 2 };
    let mut rng = Rng::for_stream(p.seed, MOTION_STREAM, 0);
    let frames = (0..p.frames)
        .map(|k| {
            let (translation, rotation_deg) = if k == 0 {
                ([0.0, 0.0], 0.0)
            } else {
                let tx = decimal(rng.range(-p.motion, p.motion));
                let ty = decimal(rng.range(-p.motion, p.motion));
                ([tx, ty], decimal(rng.range(-p.rotate, p.rotate)))
            };
            let ev = p.ev(k);
            FrameTruth {
                file: format!("frame_{k:0digits$}.dng"),
                translation,
                rotation_deg,
                ev,
                exposure_time: significant(0.01 * ev.exp2()),
            }
        })
        .collect();
    let moving_object = (p.moving > 0.0).then(|| {
        let mut rng = Rng::for_stream(p.seed, OBJECT_STREAM, 0);
        let radius = w.min(h) / 8.0;
        let angle = rng.range(0.0, std::f64::consts::TAU);
        let velocity = [
            decimal(p.moving * angle.cos()),
            decimal(p.moving * angle.sin()),
        ];
        let steps = (p.frames - 1) as f64;
        // Centre the path's midpoint at random where the whole path keeps the disc inside.
        let mut mid = |size: f64, v: f64| {
            let half_path = (v * steps).abs() / 2.0;
            let (lo, hi) = (radius + half_path, size - radius - half_path);
            if lo <= hi {
                rng.range(lo, hi)
            } else {
                size / 2.0
            }
        };
        let mid = [mid(w, velocity[0]), mid(h, velocity[1])];
        let centres = (0..p.frames)
            .map(|k| {
                let s = k as f64 - steps / 2.0;
                [
                    decimal(mid[0] + s * velocity[0]),
                    decimal(mid[1] + s * velocity[1]),
                ]
            })
            .collect();
        MovingObject {
            radius,
            centres,
            velocity,
        }
    });
    Truth {
        params: p.clone(),
        width: p.width,
        height: p.height,
        cfa: p.cfa.name().to_string(),
        black: p.black,
        white: p.white,
        reference: 0,
        frames,
        centre: [w / 2.0, h / 2.0],
        moving_object,
        convention: CONVENTION.to_string(),
    }
}

/// `v` rounded to a multiple of 1e-9. Such a number prints in at most 16 significant digits
/// and serde_json (without its `float_roundtrip` feature) parses it back exactly, so
/// `truth.json` reloads bit for bit; 1e-9 px is far below any error a test measures.
fn decimal(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

/// `v` rounded to 12 significant digits, for the same reason as [`decimal`] (exact for
/// magnitudes from 1e-10 up).
fn significant(v: f64) -> f64 {
    format!("{v:.11e}").parse().unwrap_or(v)
}

/// Metadata of a chart frame (colour fields are filled in by [`chart::chart`]).
fn metadata_for_chart() -> Metadata {
    Metadata {
        make: "obscura".into(),
        model: "synthetic chart".into(),
        orientation: 1,
        exposure_time: Some(0.01),
        iso: Some(100),
        aperture: Some(4.0),
        focal_length: Some(50.0),
        capture_time: Some("2026:01:01 12:00:00".into()),
        bits_per_sample: 16,
        ..Metadata::default()
    }
}

/// The synthetic camera's metadata for frame `k`.
fn metadata(p: &SynthParams, f: &FrameTruth, k: usize) -> Metadata {
    let color_matrix = std::array::from_fn(|r| XYZ_TO_LINEAR_SRGB[r].map(|v| v * SENSITIVITY[r]));
    let ms = 33 * k;
    let (sec, ms) = (ms / 1000, ms % 1000);
    Metadata {
        make: "obscura".into(),
        model: "synthetic".into(),
        orientation: 1,
        exposure_time: Some(f.exposure_time),
        iso: Some(100),
        aperture: Some(1.8),
        focal_length: Some(5.0),
        capture_time: Some(format!(
            "2026:01:01 12:{:02}:{:02}.{ms:03}",
            sec / 60,
            sec % 60
        )),
        as_shot_neutral: SENSITIVITY,
        calibrations: vec![Calibration {
            illuminant: 21,
            color_matrix,
            forward_matrix: None,
        }],
        noise_profile: vec![NoiseModel {
            scale: p.shot,
            offset: p.read,
        }],
        baseline_exposure: 0.0,
        opcodes1: Vec::new(),
        opcodes2: Vec::new(),
        opcodes3: Vec::new(),
        bits_per_sample: 16,
        gps: None,
        identity: Default::default(),
    }
}

impl SynthBurst {
    /// Writes the burst into `dir` (created if needed): `frame_00.dng`, `frame_01.dng`, ...
    /// (three digits above 100 frames), `truth.json`, `reference_mosaic.tiff` (32-bit float
    /// grey, [`SynthBurst::clean_mosaic`]), `reference_rgb.tiff` (32-bit float RGB,
    /// [`SynthBurst::clean_rgb`]) and, with a truth scale s > 1, `reference_rgb_{s}x.tiff`
    /// (32-bit float RGB, [`SynthBurst::clean_rgb_scaled`]); [`SynthBurst::truth_files`]
    /// lists these names. Every file is written atomically. Returns the frame paths in frame
    /// order.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let paths: Vec<PathBuf> = self
            .truth
            .frames
            .iter()
            .map(|f| dir.join(&f.file))
            .collect();
        self.frames
            .par_iter()
            .zip(&paths)
            .try_for_each(|(frame, path)| crate::raw::write_dng(frame, path))?;
        let json_path = dir.join(TRUTH_JSON);
        let json = serde_json::to_vec_pretty(&self.truth)
            .map_err(|e| Error::io(&json_path, std::io::Error::other(e)))?;
        crate::io::write_bytes_atomic(&json_path, &json)?;
        write_float_tiff(
            &dir.join(REFERENCE_MOSAIC),
            std::slice::from_ref(&self.clean_mosaic),
        )?;
        write_float_tiff(&dir.join(REFERENCE_RGB), &self.clean_rgb)?;
        if let (Some(planes), Some(name)) = (&self.clean_rgb_scaled, self.scaled_rgb_file()) {
            write_float_tiff(&dir.join(name), planes)?;
        }
        Ok(paths)
    }

    /// The names of the ground-truth files [`SynthBurst::write`] puts next to the frames:
    /// `truth.json`, `reference_mosaic.tiff`, `reference_rgb.tiff`, then
    /// `reference_rgb_{s}x.tiff` (e.g. `reference_rgb_2x.tiff`) when the truth scale s is
    /// above 1.
    pub fn truth_files(&self) -> Vec<String> {
        [TRUTH_JSON, REFERENCE_MOSAIC, REFERENCE_RGB]
            .map(String::from)
            .into_iter()
            .chain(self.scaled_rgb_file())
            .collect()
    }

    /// `reference_rgb_{s}x.tiff` when there is a scaled truth.
    fn scaled_rgb_file(&self) -> Option<String> {
        self.clean_rgb_scaled
            .as_ref()
            .map(|_| format!("reference_rgb_{}x.tiff", self.truth.params.truth_scale))
    }

    /// [`SynthBurst::write`], then sets each frame's `path` to its file.
    pub fn save(&mut self, dir: &Path) -> Result<Vec<PathBuf>> {
        let paths = self.write(dir)?;
        for (frame, path) in self.frames.iter_mut().zip(&paths) {
            frame.path = path.clone();
        }
        Ok(paths)
    }
}

/// File names of the ground truth inside a burst folder (see [`SynthBurst::write`]).
const TRUTH_JSON: &str = "truth.json";
const REFERENCE_MOSAIC: &str = "reference_mosaic.tiff";
const REFERENCE_RGB: &str = "reference_rgb.tiff";

/// Writes one plane as 32-bit float grey or three as 32-bit float RGB, uncompressed; as
/// BigTIFF when the pixels alone would come near classic TIFF's 4 GiB offset limit.
fn write_float_tiff(path: &Path, planes: &[Plane<f32>]) -> Result<()> {
    use tiff::encoder::{TiffEncoder, TiffKind, colortype};

    fn encode<W: std::io::Write + std::io::Seek, K: TiffKind>(
        mut enc: TiffEncoder<W, K>,
        (w, h): (u32, u32),
        data: &[f32],
        rgb: bool,
    ) -> tiff::TiffResult<()> {
        if rgb {
            enc.write_image::<colortype::RGB32Float>(w, h, data)
        } else {
            enc.write_image::<colortype::Gray32Float>(w, h, data)
        }
    }

    let (w, h) = (planes[0].width, planes[0].height);
    let interleaved: Vec<f32>;
    let data: &[f32] = if let [plane] = planes {
        &plane.data
    } else {
        interleaved = (0..w * h)
            .flat_map(|i| planes.iter().map(move |p| p.data[i]))
            .collect();
        &interleaved
    };
    let size = (w as u32, h as u32);
    let rgb = planes.len() == 3;
    let big = data.len() as u64 * 4 > 3 << 30;
    let tiff_err = |e: tiff::TiffError| Error::io(path, std::io::Error::other(e));
    crate::io::write_atomic(path, |out| {
        if big {
            encode(
                TiffEncoder::new_big(out).map_err(tiff_err)?,
                size,
                data,
                rgb,
            )
        } else {
            encode(TiffEncoder::new(out).map_err(tiff_err)?, size, data, rgb)
        }
        .map_err(tiff_err)
    })
}

#[cfg(test)]
mod tests;
