//! The HDR rendition: the finished SDR image, with the highlights an HDR display can show
//! above SDR white lifted back toward the scene's own brightness.
//!
//! A merged burst (and a bracketed one all the more) holds highlights several stops above
//! SDR white, which [`super::tone`] compresses into `[0, 1]`. An HDR display has headroom
//! above SDR white (the ratio of its peak to its SDR white, 2 to 16 on today's phones and
//! laptops); the HDR rendition uses up to [`HdrParams::headroom`] stops of it. It is built
//! the way the Ultra HDR format (Google, "Ultra HDR image format" v1.1) and ISO 21496-1
//! describe an alternate rendition: the SDR image times a per-pixel gain,
//!
//! ```text
//! HDR_c = (SDR_c + o) · 2^b - o        for c in R, G, B (linear values, 1 = SDR white)
//! b     = R(max(0, log2 Y))            Y: scene luminance after colour matrix and exposure
//! R(x)  = x                                        for x <= k = headroom - 1
//!       = k + (h - k)(1 - exp(-(x - k) / (h - k)))  above (C¹, tends to h = headroom)
//! ```
//!
//! with the offset `o = 1/64` of both images (so that black stays black and the gain of a
//! near-black pixel is defined). So:
//!
//! - everything at or below SDR white in the scene (`Y <= 1`) is exactly the SDR image:
//!   same colour, same local tone mapping, same look, LUT and sharpening (the gain applies
//!   to the finished SDR image, after all of them). A scene without range above SDR white
//!   gives `b = 0` everywhere: a flat gain map, HDR capacity 0 stops.
//! - a pixel `x = log2 Y` stops above SDR white is lifted by `x` stops (up to the knee,
//!   then less, never more than the headroom): where the SDR image clipped it to white,
//!   the HDR rendition shows the scene's luminance; where the local tone mapping darkened a
//!   bright region, the region is lifted by its own brightness above white and keeps the
//!   SDR's local contrast on top.
//! - hue and saturation are the SDR image's: one gain for the three channels.
//!
//! The gain depends on the scene's luminance alone, not on the SDR value, so it is as
//! smooth as the scene's highlights are; the Ultra HDR writer stores it at a quarter of the
//! resolution per axis ([`crate::encode::ultrahdr`]).
//!
//! [`Hdr::scene`] is also what OpenEXR output writes: scene-referred linear RGB in the
//! output primaries, no tone mapping, no display transform.

use rayon::prelude::*;

use super::color::ColorSpace;
use super::{Finished, srgb_decode};
use crate::error::{Error, Result};
use crate::image::Plane;

/// The offset added to both renditions before the gain applies (ISO 21496-1
/// `base_offset` / `alternate_offset`, Ultra HDR `OffsetSDR` / `OffsetHDR`): 1/64, as
/// Android's encoder uses.
pub const GAIN_OFFSET: f32 = 1.0 / 64.0;

/// Settings of the HDR rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct HdrParams {
    /// Stops above SDR white the rendition may use, 1..=6. Default 3 (8x SDR white, what
    /// most HDR phone and laptop screens offer indoors). Higher: brighter highlights on
    /// displays that can show them; the SDR image is unchanged.
    pub headroom: f32,
}

impl Default for HdrParams {
    fn default() -> Self {
        HdrParams { headroom: 3.0 }
    }
}

impl HdrParams {
    /// Checks the headroom (1 to 6 stops).
    pub fn validate(&self) -> Result<()> {
        if !self.headroom.is_finite() || !(1.0..=6.0).contains(&self.headroom) {
            return Err(Error::parameter(
                "--hdr-headroom",
                format!("{}: must be between 1 and 6 stops", self.headroom),
            ));
        }
        Ok(())
    }
}

/// The HDR side of a finished image (see the module docs); pair it with the [`Finished`]
/// image it came from.
#[derive(Debug, Clone)]
pub struct Hdr {
    /// Scene-referred linear RGB in the output primaries, upright: white-balanced camera RGB
    /// through the colour matrix, times `2^(BaselineExposure + exposure)`; 1.0 is SDR diffuse
    /// white, and highlights go above it. Out-of-gamut colours keep their negative channels.
    pub scene: [Plane<f32>; 3],
    /// The boost `b` per pixel, in stops (0 to `headroom`).
    pub boost: Plane<f32>,
    /// The headroom the boost was rolled off at, in stops.
    pub headroom: f32,
    /// The output colour space (primaries of `scene`).
    pub space: ColorSpace,
}

impl Hdr {
    /// The HDR side of `scene` (scene-referred linear planes in `space`): computes the boost.
    pub fn new(scene: [Plane<f32>; 3], space: ColorSpace, headroom: f32) -> Hdr {
        let boost = boost_map(&scene, space, headroom);
        Hdr {
            scene,
            boost,
            headroom,
            space,
        }
    }

    /// The largest boost in the image, in stops: 0 for a scene without range above SDR
    /// white, at most the headroom.
    pub fn capacity(&self) -> f32 {
        self.boost.data.par_iter().copied().reduce(|| 0.0, f32::max)
    }

    /// The HDR rendition of `sdr` (the image this was finished with, any LUT applied):
    /// linear RGB for a display whose SDR white is 1, `(SDR_c + o) · 2^b - o`.
    ///
    /// Errors: `sdr` is not the size of this rendition.
    pub fn rendition(&self, sdr: &Finished) -> Result<[Plane<f32>; 3]> {
        let (w, h) = (self.boost.width, self.boost.height);
        if (sdr.width(), sdr.height()) != (w, h) {
            return Err(Error::parameter(
                "HDR",
                format!(
                    "the SDR image is {}x{}, the HDR rendition {w}x{h}",
                    sdr.width(),
                    sdr.height()
                ),
            ));
        }
        Ok(std::array::from_fn(|c| {
            let mut out = Plane::new(w, h);
            out.data
                .par_iter_mut()
                .zip(&sdr.rgb[c].data)
                .zip(&self.boost.data)
                .for_each(|((o, &s), &b)| {
                    *o = (srgb_decode(s) + GAIN_OFFSET) * b.exp2() - GAIN_OFFSET;
                });
            out
        }))
    }
}

/// The roll-off `R` of the module docs: `x` stops above SDR white (x >= 0) to the boost,
/// the identity up to `headroom - 1`, then tending smoothly to `headroom`.
pub fn roll_off(x: f32, headroom: f32) -> f32 {
    let k = (headroom - 1.0).max(0.0);
    if x <= k {
        return x.max(0.0);
    }
    let span = headroom - k;
    k + span * (1.0 - (-(x - k) / span).exp())
}

/// Luminance weights (the Y row of RGB -> XYZ) of an output space.
pub fn luminance_weights(space: ColorSpace) -> [f32; 3] {
    space.rgb_to_xyz()[1].map(|v| v as f32)
}

/// The boost per pixel: `R(max(0, log2 Y))`.
fn boost_map(scene: &[Plane<f32>; 3], space: ColorSpace, headroom: f32) -> Plane<f32> {
    let [wr, wg, wb] = luminance_weights(space);
    let mut out = Plane::new(scene[0].width, scene[0].height);
    out.data
        .par_iter_mut()
        .zip(&scene[0].data)
        .zip(&scene[1].data)
        .zip(&scene[2].data)
        .for_each(|(((o, &r), &g), &b)| {
            let y = wr * r + wg * g + wb * b;
            // NaN and anything at or below white: no boost
            *o = if y > 1.0 {
                roll_off(y.log2(), headroom)
            } else {
                0.0
            };
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_off_is_the_identity_below_the_knee_then_smooth_and_bounded() {
        for h in [1.0f32, 2.0, 3.0, 6.0] {
            let k = h - 1.0;
            assert_eq!(roll_off(0.0, h), 0.0);
            assert_eq!(roll_off(-3.0, h), 0.0);
            assert_eq!(roll_off(k, h), k);
            let mut last = 0.0;
            for i in 1..2000 {
                let x = i as f32 * 0.01;
                let y = roll_off(x, h);
                assert!(y >= last && y < h, "h {h} x {x}: {y}");
                // slope 1 at the knee from both sides (C¹)
                last = y;
            }
            let d = (roll_off(k + 1e-3, h) - roll_off(k, h)) / 1e-3;
            assert!((d - 1.0).abs() < 2e-3, "{d}");
            // 4 stops above the knee reaches within 2 % of the headroom
            assert!(roll_off(k + 4.0, h) > h - 0.02 * 1.0);
        }
    }

    #[test]
    fn boost_is_zero_at_or_below_white_and_tracks_the_scene_above() {
        let vals = vec![0.0f32, 0.5, 1.0, 2.0, 4.0, 64.0, f32::NAN, -1.0];
        let p = Plane::from_vec(vals.len(), 1, vals).unwrap();
        let h = Hdr::new([p.clone(), p.clone(), p], ColorSpace::Srgb, 3.0);
        let b = &h.boost.data;
        assert_eq!(&b[..3], &[0.0, 0.0, 0.0]);
        assert!((b[3] - 1.0).abs() < 1e-5, "{}", b[3]);
        assert!((b[4] - 2.0).abs() < 1e-5, "{}", b[4]);
        assert!(b[5] > 2.99 && b[5] < 3.0, "{}", b[5]);
        assert_eq!(&b[6..], &[0.0, 0.0]);
        assert!((h.capacity() - b[5]).abs() < 1e-6);
    }

    #[test]
    fn headroom_outside_one_to_six_stops_is_refused() {
        for h in [0.5f32, 6.5, f32::NAN] {
            let e = HdrParams { headroom: h }
                .validate()
                .unwrap_err()
                .to_string();
            assert!(e.contains("between 1 and 6"), "{e}");
        }
        for h in [1.0f32, 3.0, 6.0] {
            HdrParams { headroom: h }.validate().unwrap();
        }
    }
}
