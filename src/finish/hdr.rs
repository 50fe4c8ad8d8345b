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
//! The gain depends on the scene's luminance alone, not on the SDR value. It is made smooth
//! the way a gain map stores it: `b` per pixel is averaged over blocks of
//! [`HdrParams::scale`] x [`HdrParams::scale`] pixels ([`Hdr::blocks`], 4 x 4 by default)
//! and interpolated bilinearly back to full resolution, block centres stretched over the
//! image as a reader stretches a gain map ([`Hdr::boost`]). So the rendition is exactly
//! what an Ultra HDR file can show ([`crate::encode::ultrahdr`] stores the block means),
//! and the noise of single pixels above white is not amplified: the detail above white is
//! the SDR image's, lifted as a whole.
//!
//! [`Hdr::scene`] is also what OpenEXR output writes: scene-referred linear RGB in the
//! output primaries, no tone mapping, no display transform.

use rayon::prelude::*;

use super::Finished;
use crate::color::{ColorSpace, srgb_decode};
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
    /// Side of the blocks the boost is averaged over, in pixels, 1..=16: the gain map's
    /// downscaling per axis. Default 4. Lower: boost sharper at edges, bigger gain map.
    pub scale: usize,
}

impl Default for HdrParams {
    fn default() -> Self {
        HdrParams {
            headroom: 3.0,
            scale: 4,
        }
    }
}

impl HdrParams {
    /// Checks the headroom (1 to 6 stops) and the scale (1 to 16).
    pub fn validate(&self) -> Result<()> {
        if !(1..=16).contains(&self.scale) {
            return Err(Error::parameter(
                "HDR gain map scale",
                format!("{}: must be between 1 and 16", self.scale),
            ));
        }
        if !self.headroom.is_finite() || !(1.0..=6.0).contains(&self.headroom) {
            return Err(Error::parameter(
                "headroom",
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
    /// The boost `b` per pixel, in stops (0 to `headroom`): [`Hdr::blocks`] interpolated.
    pub boost: Plane<f32>,
    /// The boost averaged over blocks of `scale` x `scale` pixels (partial blocks at the
    /// right and bottom): `ceil(width / scale)` x `ceil(height / scale)`, in stops.
    pub blocks: Plane<f32>,
    /// The headroom the boost was rolled off at, in stops.
    pub headroom: f32,
    /// The output colour space (primaries of `scene`).
    pub space: ColorSpace,
}

impl Hdr {
    /// The HDR side of `scene` (scene-referred linear planes in `space`): computes the boost
    /// (`params` are checked by the caller; a scale of 0 is taken as 1).
    pub fn new(scene: [Plane<f32>; 3], space: ColorSpace, params: &HdrParams) -> Hdr {
        let fine = boost_map(&scene, space, params.headroom);
        let blocks = block_means(&fine, params.scale.max(1));
        let boost = stretch(&blocks, fine.width, fine.height);
        Hdr {
            scene,
            boost,
            blocks,
            headroom: params.headroom,
            space,
        }
    }

    /// The largest boost in the image, in stops: 0 for a scene without range above SDR
    /// white, at most the headroom.
    pub fn capacity(&self) -> f32 {
        self.blocks.data.iter().copied().fold(0.0, f32::max)
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

/// The boost per pixel: `R(max(0, log2 Y))`.
fn boost_map(scene: &[Plane<f32>; 3], space: ColorSpace, headroom: f32) -> Plane<f32> {
    let [wr, wg, wb] = space.luminance_weights();
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

/// Means of `p` over blocks of `scale` x `scale` pixels (partial blocks at the edges).
fn block_means(p: &Plane<f32>, scale: usize) -> Plane<f32> {
    let (w, h) = (p.width, p.height);
    let (bw, bh) = (w.div_ceil(scale), h.div_ceil(scale));
    let mut out = Plane::new(bw, bh);
    out.data
        .par_chunks_mut(bw.max(1))
        .enumerate()
        .for_each(|(by, row)| {
            let ys = by * scale..((by + 1) * scale).min(h);
            for (bx, m) in row.iter_mut().enumerate() {
                let xs = bx * scale..((bx + 1) * scale).min(w);
                let n = (ys.len() * xs.len()) as f32;
                let sum: f32 = ys
                    .clone()
                    .map(|y| p.row(y)[xs.clone()].iter().sum::<f32>())
                    .sum();
                *m = sum / n;
            }
        });
    out
}

/// Taps of bilinear interpolation of `n` samples stretched over `len` pixels, sample centres
/// at `(i + 0.5) * len / n`: per pixel, the two samples and the second one's weight.
fn stretch_taps(n: usize, len: usize) -> Vec<(usize, usize, f32)> {
    (0..len)
        .map(|x| {
            let u = ((x as f32 + 0.5) * n as f32 / len as f32 - 0.5).clamp(0.0, (n - 1) as f32);
            let i = (u.floor() as usize).min(n - 1);
            (i, (i + 1).min(n - 1), u - i as f32)
        })
        .collect()
}

/// `p` interpolated bilinearly to `w` x `h`, stretched as a reader stretches a gain map over
/// its image.
pub fn stretch(p: &Plane<f32>, w: usize, h: usize) -> Plane<f32> {
    let mut out = Plane::new(w, h);
    if p.width == 0 || p.height == 0 {
        return out;
    }
    let (tx, ty) = (stretch_taps(p.width, w), stretch_taps(p.height, h));
    out.data
        .par_chunks_mut(w.max(1))
        .zip(&ty)
        .for_each(|(row, &(y0, y1, fy))| {
            let (r0, r1) = (p.row(y0), p.row(y1));
            for (o, &(x0, x1, fx)) in row.iter_mut().zip(&tx) {
                let a = r0[x0] + (r0[x1] - r0[x0]) * fx;
                let b = r1[x0] + (r1[x1] - r1[x0]) * fx;
                *o = a + (b - a) * fy;
            }
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
                // monotone, never above the headroom (reached in f32 far above the knee)
                assert!(y >= last && y <= h, "h {h} x {x}: {y}");
                last = y;
            }
            // slope 1 at the knee from both sides (C¹)
            let d = (roll_off(k + 1e-3, h) - roll_off(k, h)) / 1e-3;
            assert!((d - 1.0).abs() < 2e-3, "{d}");
            // 4 stops above the knee reaches within 2 % of the headroom
            assert!(roll_off(k + 4.0, h) > h - 0.02);
        }
    }

    #[test]
    fn boost_is_zero_at_or_below_white_and_tracks_the_scene_above() {
        let vals = vec![0.0f32, 0.5, 1.0, 2.0, 4.0, 64.0, f32::NAN, -1.0];
        let p = Plane::from_vec(vals.len(), 1, vals).unwrap();
        let one = HdrParams {
            scale: 1,
            ..HdrParams::default()
        };
        let h = Hdr::new([p.clone(), p.clone(), p], ColorSpace::Srgb, &one);
        let b = &h.boost.data;
        assert_eq!(&b[..3], &[0.0, 0.0, 0.0]);
        assert!((b[3] - 1.0).abs() < 1e-5, "{}", b[3]);
        assert!((b[4] - 2.0).abs() < 1e-5, "{}", b[4]);
        // 6 stops: the knee (2) plus 1 - e^-4 of the last stop
        assert!((b[5] - (3.0 - (-4.0f32).exp())).abs() < 1e-5, "{}", b[5]);
        assert_eq!(&b[6..], &[0.0, 0.0]);
        assert!((h.capacity() - b[5]).abs() < 1e-6);
    }

    #[test]
    fn headroom_outside_one_to_six_stops_is_refused() {
        for h in [0.5f32, 6.5, f32::NAN] {
            let e = HdrParams {
                headroom: h,
                ..HdrParams::default()
            };
            let e = e.validate().unwrap_err().to_string();
            assert!(e.contains("between 1 and 6"), "{e}");
        }
        for h in [1.0f32, 3.0, 6.0] {
            let p = HdrParams {
                headroom: h,
                ..HdrParams::default()
            };
            p.validate().unwrap();
        }
    }

    #[test]
    fn the_boost_is_block_means_stretched_back_bilinearly() {
        // 2 stops on the left 3 columns of a 6x5 image, 4x4 blocks: block means 1.5 and 0
        let mut p = Plane::new(6, 5);
        for y in 0..5 {
            for x in 0..3 {
                p.set(x, y, 4.0);
            }
        }
        let h = Hdr::new(
            [p.clone(), p.clone(), p],
            ColorSpace::Srgb,
            &HdrParams::default(),
        );
        assert_eq!((h.blocks.width, h.blocks.height), (2, 2));
        assert!((h.blocks.get(0, 0) - 1.5).abs() < 1e-6);
        assert_eq!(h.blocks.get(1, 1), 0.0);
        // block centres at pixels 1 and 4: pixels 0 and 1 take block 0, pixel 3 is 2/3 of
        // the way to block 1
        assert!((h.boost.get(0, 2) - 1.5).abs() < 1e-6);
        assert!(
            (h.boost.get(3, 2) - 0.5).abs() < 1e-5,
            "{}",
            h.boost.get(3, 2)
        );
        assert_eq!(h.boost.get(5, 2), 0.0);
        // a constant survives any stretch
        let c = Plane::from_vec(3, 2, vec![0.7; 6]).unwrap();
        assert!(
            stretch(&c, 17, 9)
                .data
                .iter()
                .all(|v| (v - 0.7).abs() < 1e-6)
        );
    }
}
