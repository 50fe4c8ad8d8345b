//! The ground truth of a synthetic burst: per-frame motion, exposure and the moving object,
//! with the geometry to map points between the reference frame and any other frame.
//!
//! The coordinate convention is documented on [`Truth`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SynthParams;
use crate::error::{Error, Result};

/// The convention stored in `truth.json` for readers outside Rust.
pub const CONVENTION: &str = "pixel (i, j) covers [i, i+1) x [j, j+1), centre (i + 0.5, j + 0.5); \
c = (width / 2, height / 2); reference point p appears in frame k at \
q = R(theta_k) (p - c) + c + translation_k with R(a) = [[cos a, -sin a], [sin a, cos a]], \
theta in degrees, y down; moving object centre in frame k = centres[k] in reference coordinates; with s = params.truth_scale > 1, pixel (i, j) of reference_rgb_{s}x.tiff covers [i/s, (i+1)/s) x [j/s, (j+1)/s) and each s x s block averages to reference_rgb.tiff";

/// Ground truth of one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameTruth {
    /// File name of the frame inside the burst folder, e.g. "frame_03.dng".
    pub file: String,
    /// Translation `t_k` in pixels, `[tx, ty]` (see [`Truth`] for the convention).
    pub translation: [f64; 2],
    /// Rotation `theta_k` in degrees about the frame centre.
    pub rotation_deg: f64,
    /// Exposure offset in EV relative to the base exposure.
    pub ev: f64,
    /// Exposure time written to the frame's metadata, seconds (0.01 * 2^ev).
    pub exposure_time: f64,
}

/// The independently moving disc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovingObject {
    /// Radius in pixels.
    pub radius: f64,
    /// Centre in scene (reference) coordinates for each frame.
    pub centres: Vec<[f64; 2]>,
    /// Motion per frame in pixels (`centres[k] = centres[0] + k * velocity`, to 1e-9 px).
    pub velocity: [f64; 2],
}

/// Everything a test needs to score a result against a synthetic burst; written as
/// `truth.json` next to the frames.
///
/// # Convention
/// Positions are continuous pixel coordinates: pixel `(i, j)` covers `[i, i+1) x [j, j+1)` and
/// its centre is `(i + 0.5, j + 0.5)`; the frame centre is `c = (width / 2, height / 2)`.
/// Frame `k` has translation `t_k` and rotation `theta_k` (degrees; positive turns +x towards
/// +y, i.e. clockwise on screen since y points down). The scene point seen at reference
/// position `p` (frame 0 is the reference and its coordinates are the scene's) appears in
/// frame `k` at
///
/// `q = R(theta_k) (p - c) + c + t_k`,  `R(a) = [[cos a, -sin a], [sin a, cos a]]`,
///
/// so frame `k`'s pixel at `q` shows scene point `R(-theta_k) (q - c - t_k) + c`, and
/// [`Truth::displacement`] is `q - p`. To compare with an alignment result for pixel
/// `(i, j)`, pass `(i + 0.5, j + 0.5)`. The moving object is a disc whose centre in scene
/// coordinates is `centres[k]` in frame `k`; it moves by `centres[k] - centres[0]` on top of
/// the camera motion ([`Truth::flow`]).
///
/// With a truth scale `s = params.truth_scale` above 1, pixel `(i, j)` of the scaled truth
/// (`reference_rgb_{s}x.tiff`, [`super::SynthBurst::clean_rgb_scaled`]) covers
/// `[i/s, (i+1)/s) x [j/s, (j+1)/s)` in these coordinates.
///
/// All motion values are rounded to multiples of 1e-9 (exposure times to 12 significant
/// digits) before rendering, so `truth.json` reloads bit for bit and describes the frames
/// exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// The parameters the burst was made with.
    pub params: SynthParams,
    /// Frame width in pixels.
    pub width: usize,
    /// Frame height in pixels.
    pub height: usize,
    /// CFA pattern name, e.g. "RGGB".
    pub cfa: String,
    /// Black level in raw units (all four CFA positions).
    pub black: u32,
    /// White level in raw units.
    pub white: u32,
    /// Index of the reference frame (always 0).
    pub reference: usize,
    /// Per-frame truth, in frame order.
    pub frames: Vec<FrameTruth>,
    /// Rotation centre `[cx, cy]` = `[width / 2, height / 2]`.
    pub centre: [f64; 2],
    /// The moving object, when `params.moving > 0`.
    pub moving_object: Option<MovingObject>,
    /// The coordinate convention in words ([`CONVENTION`]).
    #[serde(default)]
    pub convention: String,
}

impl Truth {
    /// Reads a `truth.json` written by [`super::SynthBurst::write`].
    pub fn load(path: impl AsRef<Path>) -> Result<Truth> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::decode(path, e.to_string()))
    }

    /// Where reference position (`x`, `y`) appears in frame `frame`: `q` of the module docs.
    /// Panics if `frame` is out of range.
    pub fn to_frame(&self, frame: usize, x: f64, y: f64) -> [f64; 2] {
        let d = self.displacement(frame, x, y);
        [x + d[0], y + d[1]]
    }

    /// The reference (scene) position that frame `frame` shows at its position (`x`, `y`):
    /// the inverse of [`Truth::to_frame`].
    pub fn to_reference(&self, frame: usize, x: f64, y: f64) -> [f64; 2] {
        let f = &self.frames[frame];
        let (s, c) = f.rotation_deg.to_radians().sin_cos();
        let dx = x - self.centre[0] - f.translation[0];
        let dy = y - self.centre[1] - f.translation[1];
        [
            c * dx + s * dy + self.centre[0],
            -s * dx + c * dy + self.centre[1],
        ]
    }

    /// Camera-induced displacement `q - p` of reference position (`x`, `y`) in frame `frame`
    /// (for pixel `(i, j)` pass `(i + 0.5, j + 0.5)`). Computed as `(R - I) (p - c) + t`, so
    /// it is exactly 0 for the reference frame and exactly `t` without rotation.
    pub fn displacement(&self, frame: usize, x: f64, y: f64) -> [f64; 2] {
        let f = &self.frames[frame];
        let theta = f.rotation_deg.to_radians();
        let s = theta.sin();
        // cos - 1 without cancellation.
        let cm1 = -2.0 * (theta / 2.0).sin().powi(2);
        let (dx, dy) = (x - self.centre[0], y - self.centre[1]);
        [
            cm1 * dx - s * dy + f.translation[0],
            s * dx + cm1 * dy + f.translation[1],
        ]
    }

    /// Whether reference position (`x`, `y`) lies on the moving object in frame 0.
    pub fn in_object(&self, x: f64, y: f64) -> bool {
        self.object_covers(0, x, y)
    }

    /// Whether the moving object covers scene position (`x`, `y`) in frame `frame`, i.e.
    /// whether the background there is hidden in that frame.
    pub fn object_covers(&self, frame: usize, x: f64, y: f64) -> bool {
        self.moving_object.as_ref().is_some_and(|o| {
            let c = o.centres[frame];
            (x - c[0]).powi(2) + (y - c[1]).powi(2) < o.radius * o.radius
        })
    }

    /// Displacement in frame `frame` of the object point that is at reference position
    /// (`x`, `y`) in frame 0: its own motion followed by the camera's. Meaningful when
    /// [`Truth::in_object`] holds; equals [`Truth::displacement`] when there is no object.
    pub fn object_displacement(&self, frame: usize, x: f64, y: f64) -> [f64; 2] {
        let shift = self.moving_object.as_ref().map_or([0.0, 0.0], |o| {
            let (c0, ck) = (o.centres[0], o.centres[frame]);
            [ck[0] - c0[0], ck[1] - c0[1]]
        });
        let q = self.to_frame(frame, x + shift[0], y + shift[1]);
        [q[0] - x, q[1] - y]
    }

    /// True displacement of whatever the reference frame shows at (`x`, `y`): the object's
    /// when the point is on the object, the camera's otherwise. Background points that the
    /// object hides in `frame` ([`Truth::object_covers`]) have no match there.
    pub fn flow(&self, frame: usize, x: f64, y: f64) -> [f64; 2] {
        if self.in_object(x, y) {
            self.object_displacement(frame, x, y)
        } else {
            self.displacement(frame, x, y)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(translation: [f64; 2], rotation_deg: f64) -> Truth {
        let frame = |translation, rotation_deg| FrameTruth {
            file: String::new(),
            translation,
            rotation_deg,
            ev: 0.0,
            exposure_time: 0.01,
        };
        Truth {
            params: SynthParams::default(),
            width: 100,
            height: 80,
            cfa: "RGGB".into(),
            black: 64,
            white: 4095,
            reference: 0,
            frames: vec![frame([0.0, 0.0], 0.0), frame(translation, rotation_deg)],
            centre: [50.0, 40.0],
            moving_object: Some(MovingObject {
                radius: 10.0,
                centres: vec![[20.0, 20.0], [23.0, 24.0]],
                velocity: [3.0, 4.0],
            }),
            convention: CONVENTION.into(),
        }
    }

    #[test]
    fn rotation_turns_x_towards_y_about_the_centre() {
        let t = truth([1.0, -2.0], 90.0);
        let q = t.to_frame(1, 60.0, 40.0);
        assert!(
            (q[0] - 51.0).abs() < 1e-9 && (q[1] - 48.0).abs() < 1e-9,
            "{q:?}"
        );
        assert_eq!(t.displacement(0, 12.3, 4.5), [0.0, 0.0]);
    }

    #[test]
    fn to_reference_inverts_to_frame() {
        let t = truth([3.25, -1.5], 0.7);
        for (x, y) in [(0.0, 0.0), (99.5, 79.5), (12.0, 70.0)] {
            let q = t.to_frame(1, x, y);
            let p = t.to_reference(1, q[0], q[1]);
            assert!((p[0] - x).abs() < 1e-9 && (p[1] - y).abs() < 1e-9);
        }
    }

    #[test]
    fn object_moves_on_top_of_the_camera() {
        let t = truth([2.0, 0.0], 0.0);
        assert!(t.in_object(25.0, 20.0));
        assert!(!t.in_object(35.0, 20.0));
        assert_eq!(t.object_displacement(1, 25.0, 20.0), [5.0, 4.0]);
        assert_eq!(t.flow(1, 25.0, 20.0), [5.0, 4.0]);
        assert_eq!(t.flow(1, 60.0, 20.0), [2.0, 0.0]);
        assert!(t.object_covers(1, 31.0, 24.0));
    }
}
