//! Scenes: linear-sRGB radiance defined at every continuous position of the plane.
//!
//! Scene coordinates are the pixel coordinates of the reference frame (frame 0): x to the
//! right, y down, and the pixel in column `i`, row `j` covers the square `[i, i+1) x [j, j+1)`,
//! so its centre is at `(i + 0.5, j + 0.5)`. [`Scene::sample`] returns linear sRGB (D65),
//! roughly in 0..1, and is defined everywhere, also outside the frame, because camera motion
//! brings outside content into view.
//!
//! # The procedural scene
//! Built from the frame size and a seed ([`Scene::procedural`]), it holds, from top to bottom:
//! - 24 flat colour patches (6 x 4), the published sRGB values of the classic colour
//!   rendition chart, linearised, at 8% / 58% of the frame. Each is 14 x 14 px, smaller than
//!   any 16 x 16 tile, so that every tile of the frame keeps some texture;
//! - a Siemens star with 36 black/white spoke pairs, radius 20% of the shorter side (sharp
//!   radial edges of every orientation, frequencies up to and past Nyquist near its centre);
//! - a grey ramp from 0.005 to 1.0 and a hue ramp (smooth gradients);
//! - 10 rotated rectangles and 10 discs of random colours and positions (sharp edges at
//!   random angles);
//! - a background whose colour changes bilinearly between four random corner colours across
//!   the frame (a smooth gradient), held constant beyond the frame's edges.
//!
//! Everything except the patches is modulated by a band-limited fine texture `z`: per
//! channel, radiance = colour x (1 + s z + (s z)^2 / 2), a smooth and always positive gain
//! with a strength `s` of 0.3 on the background, 0.25 on shapes and 0.04 to 0.06 on the ramps
//! and the star. `z` is fractional Brownian motion of five octaves of quintic value noise
//! (lattice spacings 3, 6, 12, 24 and 48 px; C2, so its spectrum falls off quickly past 1/3
//! cycle per pixel), normalised to unit standard deviation; red and blue take part of their
//! texture from different octaves than green, so there is chroma detail for demosaicking to
//! get right.
//!
//! # Implementation notes
//! Summing five octaves of value noise at every sub-sample costs several times the rest of
//! the scene, and a burst needs 9 samples per photosite. The octaves are therefore summed
//! once per process into a seamless 1024 x 1024 tile of 0.75 px texels (each lattice divides
//! the tile, so the sum wraps exactly) and the scene samples it bilinearly, turned by a seeded
//! angle between 11 and 75 degrees so that neither the tile's 768 px period nor its lattices
//! line up with the pixel grid. Sharp content is found through a 16 px grid listing the
//! primitives whose bounding box meets each cell; most cells list none.
//!
//! # The resolution chart
//! [`Scene::chart`] draws the layout of [`super::resolution`] with the same machinery: its
//! star, zone plate, bars, text and patches are untextured, and its grey background carries
//! the fine texture at strength 0.2.
//!
//! # Image scenes
//! [`Scene::from_linear_rgb`] samples three linear planes with Catmull-Rom bicubic
//! interpolation (clamped at the border, negative overshoot clipped to 0), one image pixel per
//! scene unit; [`Scene::fit`] scales and centres the image so that it covers a frame.
//! [`Scene::load`] reads PNG, JPEG or TIFF, decoding the sRGB transfer curve of 8- and 16-bit
//! files and taking 32-bit float files as linear.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::floor_i64;
use crate::color::srgb_to_linear;
use crate::error::{Error, Result};
use crate::image::{Plane, cubic_weights};
use analytic::Analytic;
pub(crate) use analytic::object_sample;

/// Where a synthetic burst's scene comes from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum SceneSource {
    /// The analytic test scene (texture, star, shapes, gradients, colour patches), laid out
    /// for the frame size and seed.
    #[default]
    Procedural,
    /// A PNG, JPEG or TIFF image, scaled and centred to cover the frame.
    Image(PathBuf),
    /// One linear sRGB colour everywhere (noise measurements).
    Flat([f32; 3]),
    /// The resolution chart (Siemens star, zone plate, bar groups, small text, flat patches
    /// on a textured grey), laid out for the frame size: detail finer than the sensor, for
    /// measuring super-resolution and aliasing; see [`super::resolution`].
    #[serde(rename = "chart")]
    Chart,
}

/// A scene: linear sRGB radiance at any continuous position (see the module docs for the
/// coordinate convention).
#[derive(Debug, Clone)]
pub struct Scene {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Flat([f64; 3]),
    Analytic(Box<Analytic>),
    Image(ImageScene),
}

impl Scene {
    /// The scene `source` describes, laid out for (or fitted to) a `width` x `height` frame;
    /// `seed` places the procedural scene's random shapes.
    pub fn from_source(
        source: &SceneSource,
        width: usize,
        height: usize,
        seed: u64,
    ) -> Result<Scene> {
        match source {
            SceneSource::Procedural => Ok(Scene::procedural(width, height, seed)),
            SceneSource::Image(path) => Scene::load(path, width, height),
            SceneSource::Flat(rgb) => Scene::flat(*rgb),
            SceneSource::Chart => Ok(Scene::chart(width, height, seed)),
        }
    }

    /// One colour everywhere. Fails for negative or non-finite values.
    pub fn flat(rgb: [f32; 3]) -> Result<Scene> {
        if rgb.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(Error::parameter(
                "scene",
                format!("flat colour {rgb:?}: each value must be finite and >= 0"),
            ));
        }
        Ok(Scene {
            kind: Kind::Flat(rgb.map(f64::from)),
        })
    }

    /// The procedural test scene for a `width` x `height` reference frame.
    pub fn procedural(width: usize, height: usize, seed: u64) -> Scene {
        Scene {
            kind: Kind::Analytic(Box::new(Analytic::procedural(
                width as f64,
                height as f64,
                seed,
            ))),
        }
    }

    /// The resolution chart for a `width` x `height` reference frame
    /// ([`super::resolution::ChartLayout`]); `seed` places the background texture only.
    pub fn chart(width: usize, height: usize, seed: u64) -> Scene {
        Scene {
            kind: Kind::Analytic(Box::new(Analytic::resolution_chart(width, height, seed))),
        }
    }

    /// A scene from three linear RGB planes of equal size, one image pixel per scene unit
    /// (image pixel `(i, j)` is centred at scene `(i + 0.5, j + 0.5)`); use [`Scene::fit`] to
    /// scale it to a frame of another size. Fails for empty or mismatched planes or
    /// non-finite samples.
    pub fn from_linear_rgb(planes: [Plane<f32>; 3]) -> Result<Scene> {
        let (w, h) = (planes[0].width, planes[0].height);
        if w == 0 || h == 0 {
            return Err(Error::parameter("scene", "image is empty"));
        }
        for (c, p) in planes.iter().enumerate() {
            if p.width != w || p.height != h || p.data.len() != w * h {
                return Err(Error::parameter(
                    "scene",
                    format!(
                        "plane {c} is {}x{} with {} samples; plane 0 is {w}x{h}",
                        p.width,
                        p.height,
                        p.data.len()
                    ),
                ));
            }
            if p.data.iter().any(|v| !v.is_finite()) {
                return Err(Error::parameter(
                    "scene",
                    format!("plane {c} has non-finite samples"),
                ));
            }
        }
        let [r, g, b] = planes.map(|p| p.data);
        let pixels = r
            .into_iter()
            .zip(g)
            .zip(b)
            .map(|((r, g), b)| [r, g, b, 0.0])
            .collect();
        Ok(Scene {
            kind: Kind::Image(ImageScene {
                width: w,
                height: h,
                pixels,
                scale: 1.0,
                offset: [0.0, 0.0],
            }),
        })
    }

    /// Loads a PNG, JPEG or TIFF image as linear sRGB and fits it to a `width` x `height`
    /// frame. 8- and 16-bit files are decoded from the sRGB transfer curve, 32-bit float ones
    /// taken as linear; alpha is ignored and grey is replicated. Errors name the file.
    pub fn load(path: &Path, width: usize, height: usize) -> Result<Scene> {
        let img = image::ImageReader::open(path)
            .map_err(|e| Error::io(path, e))?
            .with_guessed_format()
            .map_err(|e| Error::io(path, e))?
            .decode()
            .map_err(|e| match e {
                image::ImageError::IoError(io) => Error::io(path, io),
                other => Error::decode(path, other.to_string()),
            })?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut planes = [Plane::new(w, h), Plane::new(w, h), Plane::new(w, h)];
        let mut put = |i: usize, rgb: [f32; 3]| {
            for (plane, v) in planes.iter_mut().zip(rgb) {
                plane.data[i] = v;
            }
        };
        use image::DynamicImage as D;
        match &img {
            D::ImageRgb32F(_) | D::ImageRgba32F(_) => {
                for (i, p) in img.to_rgb32f().pixels().enumerate() {
                    put(i, p.0);
                }
            }
            D::ImageLuma16(_) | D::ImageLumaA16(_) | D::ImageRgb16(_) | D::ImageRgba16(_) => {
                let lut: Vec<f32> = (0..=u16::MAX)
                    .map(|v| srgb_to_linear(f64::from(v) / 65535.0) as f32)
                    .collect();
                for (i, p) in img.to_rgb16().pixels().enumerate() {
                    put(i, p.0.map(|v| lut[usize::from(v)]));
                }
            }
            _ => {
                let lut: Vec<f32> = (0..=u8::MAX)
                    .map(|v| srgb_to_linear(f64::from(v) / 255.0) as f32)
                    .collect();
                for (i, p) in img.to_rgb8().pixels().enumerate() {
                    put(i, p.0.map(|v| lut[usize::from(v)]));
                }
            }
        }
        let scene =
            Scene::from_linear_rgb(planes).map_err(|e| Error::decode(path, e.to_string()))?;
        Ok(scene.fit(width, height))
    }

    /// For an image scene, rescales it so that the image covers a `width` x `height` frame
    /// (scale `max(width / image_width, height / image_height)`, centres aligned). Other
    /// scenes are returned unchanged.
    pub fn fit(mut self, width: usize, height: usize) -> Scene {
        if let Kind::Image(img) = &mut self.kind {
            let (iw, ih) = (img.width as f64, img.height as f64);
            let (w, h) = (width as f64, height as f64);
            let scale = (w / iw).max(h / ih);
            img.scale = 1.0 / scale;
            img.offset = [iw / 2.0 - w / 2.0 / scale, ih / 2.0 - h / 2.0 / scale];
        }
        self
    }

    /// Linear sRGB at scene position (`x`, `y`) (see the module docs for the convention).
    #[inline]
    pub fn sample(&self, x: f64, y: f64) -> [f32; 3] {
        self.radiance(x, y).map(|v| v as f32)
    }

    /// The sum of [`Scene::radiance`] over a pixel's sub-sample grid (see [`SampleGrid`]),
    /// in the grid's order; faster than summing samples one by one, and bit-identical to it.
    #[inline]
    pub(crate) fn grid_sum(&self, g: &SampleGrid) -> [f64; 3] {
        match &self.kind {
            Kind::Flat(rgb) => g.sum(|_, _| *rgb),
            Kind::Analytic(p) => p.grid_sum(g),
            Kind::Image(img) => g.sum(|x, y| img.sample(x, y)),
        }
    }

    /// [`Scene::sample`] in `f64`, as the renderer accumulates it.
    #[inline]
    pub(crate) fn radiance(&self, x: f64, y: f64) -> [f64; 3] {
        match &self.kind {
            Kind::Flat(rgb) => *rgb,
            Kind::Analytic(p) => p.sample(x, y),
            Kind::Image(img) => img.sample(x, y),
        }
    }
}

/// A pixel's k x k sub-sample positions in scene coordinates:
/// `origin + a * dx + b * dy` for `a, b` in `0..k`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SampleGrid {
    pub origin: [f64; 2],
    pub dx: [f64; 2],
    pub dy: [f64; 2],
    pub k: usize,
}

impl SampleGrid {
    /// Sums `f` over the grid, rows (`b`) outer, columns (`a`) inner; every caller that must
    /// agree bit for bit goes through this one loop.
    #[inline(always)]
    pub fn sum(&self, mut f: impl FnMut(f64, f64) -> [f64; 3]) -> [f64; 3] {
        let mut acc = [0.0f64; 3];
        for b in 0..self.k {
            let rx = self.origin[0] + b as f64 * self.dy[0];
            let ry = self.origin[1] + b as f64 * self.dy[1];
            for a in 0..self.k {
                let v = f(rx + a as f64 * self.dx[0], ry + a as f64 * self.dx[1]);
                for (acc, v) in acc.iter_mut().zip(v) {
                    *acc += v;
                }
            }
        }
        acc
    }
}

/// An image sampled bicubically; `scale` and `offset` map scene to image coordinates:
/// `image = scene * scale + offset`. Pixels are stored interleaved with a pad lane, so one
/// load fetches a tap's three channels and the filter runs on four lanes at once.
#[derive(Debug, Clone)]
struct ImageScene {
    width: usize,
    height: usize,
    pixels: Vec<[f32; 4]>,
    scale: f64,
    offset: [f64; 2],
}

impl ImageScene {
    #[inline]
    fn sample(&self, x: f64, y: f64) -> [f64; 3] {
        let (w, h) = (self.width, self.height);
        // Continuous index: image pixel i is centred at image coordinate i + 0.5.
        let u = x * self.scale + self.offset[0] - 0.5;
        let v = y * self.scale + self.offset[1] - 0.5;
        let (iu, iv) = (floor_i64(u), floor_i64(v));
        let wx = cubic_weights((u - iu as f64) as f32);
        let wy = cubic_weights((v - iv as f64) as f32);
        // Taps at iu - 1 ..= iu + 2, clamped to the image (border pixels repeat outward).
        let clamp = |i: i64, n: usize| i.clamp(0, n as i64 - 1) as usize;
        let xs: [usize; 4] = std::array::from_fn(|k| clamp(iu.saturating_add(k as i64 - 1), w));
        let ys: [usize; 4] = std::array::from_fn(|k| clamp(iv.saturating_add(k as i64 - 1), h));
        let mut acc = [0.0f32; 4];
        for (&yy, &wyy) in ys.iter().zip(&wy) {
            let row = &self.pixels[yy * w..(yy + 1) * w];
            let mut r = [0.0f32; 4];
            for (&xx, &wxx) in xs.iter().zip(&wx) {
                let p = row[xx];
                for c in 0..4 {
                    r[c] += p[c] * wxx;
                }
            }
            for c in 0..4 {
                acc[c] += r[c] * wyy;
            }
        }
        [0, 1, 2].map(|c| f64::from(acc[c]).max(0.0))
    }
}

mod analytic;
#[cfg(test)]
mod tests;
mod texture;
