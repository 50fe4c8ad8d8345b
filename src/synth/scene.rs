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
//!   rendition chart, linearised. Each is 14 x 14 px, smaller than any 16 x 16 tile, so that
//!   every tile of the frame keeps some texture;
//! - a Siemens star with 36 black/white spoke pairs (sharp radial edges of every orientation,
//!   frequencies up to and past Nyquist towards its centre);
//! - a grey ramp from 0.005 to 1.0 and a hue ramp (smooth gradients);
//! - 10 rotated rectangles and 10 discs of random colours (sharp edges at random angles);
//! - a background whose colour drifts slowly across the frame (smooth gradients).
//!
//! Everything except the patches is modulated by a band-limited fine texture: fractional
//! Brownian motion of five octaves of value noise (lattice spacings 3, 6, 12, 24 and 48 px,
//! each octave rotated by a different angle to avoid a preferred direction; quintic
//! interpolation, so the texture is C2 and its spectrum falls off quickly past 1/3 cycle per
//! pixel). Red and blue get part of their texture from different octaves than green, so the
//! texture also has chroma detail for demosaicking to get right.
//!
//! # Image scenes
//! [`Scene::from_linear_rgb`] samples three linear planes with Catmull-Rom bicubic
//! interpolation (clamped at the border, negative overshoot clipped to 0), one image pixel per
//! scene unit; [`Scene::fit`] scales and centres the image so that it covers a frame.
//! [`Scene::load`] reads PNG, JPEG or TIFF, decoding the sRGB transfer curve of 8- and 16-bit
//! files and taking 32-bit float files as linear.

use std::f64::consts::{PI, TAU};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::rng::Rng;
use crate::error::{Error, Result};
use crate::image::Plane;

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
}

/// A scene: linear sRGB radiance at any continuous position (see the module docs for the
/// coordinate convention).
#[derive(Debug, Clone)]
pub struct Scene {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Flat([f32; 3]),
    Procedural(Box<Procedural>),
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
            kind: Kind::Flat(rgb),
        })
    }

    /// The procedural test scene for a `width` x `height` reference frame.
    pub fn procedural(width: usize, height: usize, seed: u64) -> Scene {
        Scene {
            kind: Kind::Procedural(Box::new(Procedural::new(width as f64, height as f64, seed))),
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
        Ok(Scene {
            kind: Kind::Image(ImageScene {
                planes,
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
            let (iw, ih) = (img.planes[0].width as f64, img.planes[0].height as f64);
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
        match &self.kind {
            Kind::Flat(rgb) => *rgb,
            Kind::Procedural(p) => p.sample(x, y),
            Kind::Image(img) => img.sample(x, y),
        }
    }
}

/// The sRGB decoding curve (IEC 61966-2-1): encoded value in 0..1 to linear.
pub(crate) fn srgb_to_linear(v: f64) -> f64 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// An image sampled bicubically; `scale` and `offset` map scene to image coordinates:
/// `image = scene * scale + offset`.
#[derive(Debug, Clone)]
struct ImageScene {
    planes: [Plane<f32>; 3],
    scale: f64,
    offset: [f64; 2],
}

/// Catmull-Rom weights for the four taps around a sample at fraction `t` past the second tap.
#[inline]
fn catmull_rom(t: f64) -> [f64; 4] {
    let t2 = t * t;
    let t3 = t2 * t;
    [
        0.5 * (-t3 + 2.0 * t2 - t),
        0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
        0.5 * (-3.0 * t3 + 4.0 * t2 + t),
        0.5 * (t3 - t2),
    ]
}

impl ImageScene {
    fn sample(&self, x: f64, y: f64) -> [f32; 3] {
        let (w, h) = (self.planes[0].width, self.planes[0].height);
        // Continuous index: image pixel i is centred at image coordinate i + 0.5.
        let u = x * self.scale + self.offset[0] - 0.5;
        let v = y * self.scale + self.offset[1] - 0.5;
        let (uf, vf) = (u.floor(), v.floor());
        let wx = catmull_rom(u - uf);
        let wy = catmull_rom(v - vf);
        let clamp = |i: f64, n: usize| i.clamp(0.0, (n - 1) as f64) as usize;
        let xs: [usize; 4] = std::array::from_fn(|k| clamp(uf + k as f64 - 1.0, w));
        let ys: [usize; 4] = std::array::from_fn(|k| clamp(vf + k as f64 - 1.0, h));
        let mut out = [0.0f32; 3];
        for (o, plane) in out.iter_mut().zip(&self.planes) {
            let mut acc = 0.0;
            for (&yy, &wyy) in ys.iter().zip(&wy) {
                let row = plane.row(yy);
                let mut r = 0.0;
                for (&xx, &wxx) in xs.iter().zip(&wx) {
                    r += f64::from(row[xx]) * wxx;
                }
                acc += r * wyy;
            }
            *o = acc.max(0.0) as f32;
        }
        out
    }
}

/// One octave of the texture: a rotation and scale into lattice units, an offset and a hash
/// seed.
#[derive(Debug, Clone, Copy)]
struct Octave {
    a: f64,
    b: f64,
    ox: f64,
    oy: f64,
    seed: u32,
}

/// Lattice spacing of the finest octave in pixels; each further octave doubles it.
const FINEST_SPACING: f64 = 3.0;
/// Octave weights in the luminance texture, finest first.
const OCTAVE_WEIGHTS: [f64; 5] = [0.8, 1.0, 1.0, 0.9, 0.8];

/// Hashes a lattice point to a value in [-1, 1].
#[inline]
fn lattice(ix: u32, iy: u32, seed: u32) -> f64 {
    let mut h = ix.wrapping_mul(0x9e37_79b1) ^ iy.wrapping_mul(0x85eb_ca77) ^ seed;
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^= h >> 16;
    f64::from(h) * (2.0 / u32::MAX as f64) - 1.0
}

/// Quintic smoothstep 6t^5 - 15t^4 + 10t^3: C2 across lattice cells.
#[inline]
fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

/// Value noise in [-1, 1] with unit lattice spacing.
#[inline]
pub(crate) fn value_noise(x: f64, y: f64, seed: u32) -> f64 {
    let (xf, yf) = (x.floor(), y.floor());
    let (ix, iy) = (xf as i64 as u32, yf as i64 as u32);
    let (u, v) = (fade(x - xf), fade(y - yf));
    let n00 = lattice(ix, iy, seed);
    let n10 = lattice(ix.wrapping_add(1), iy, seed);
    let n01 = lattice(ix, iy.wrapping_add(1), seed);
    let n11 = lattice(ix.wrapping_add(1), iy.wrapping_add(1), seed);
    let top = n00 + (n10 - n00) * u;
    let bottom = n01 + (n11 - n01) * u;
    top + (bottom - top) * v
}

/// A smooth, always positive gain for a texture value `z`: 1 + z + z^2 / 2 (at least 0.5).
#[inline]
fn gain(z: f64) -> f64 {
    1.0 + z * (1.0 + 0.5 * z)
}

/// A filled shape with a colour.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A rectangle: centre, half extents along its own axes, cos and sin of its angle.
    Rect {
        c: [f64; 2],
        half: [f64; 2],
        cs: [f64; 2],
        rgb: [f64; 3],
    },
    /// A disc: centre, squared radius.
    Disc { c: [f64; 2], r2: f64, rgb: [f64; 3] },
}

impl Shape {
    #[inline]
    fn hit(&self, x: f64, y: f64) -> Option<[f64; 3]> {
        match *self {
            Shape::Rect { c, half, cs, rgb } => {
                let (dx, dy) = (x - c[0], y - c[1]);
                let u = cs[0] * dx + cs[1] * dy;
                let v = -cs[1] * dx + cs[0] * dy;
                (u.abs() < half[0] && v.abs() < half[1]).then_some(rgb)
            }
            Shape::Disc { c, r2, rgb } => {
                let (dx, dy) = (x - c[0], y - c[1]);
                (dx * dx + dy * dy < r2).then_some(rgb)
            }
        }
    }

    /// Axis-aligned bounding box `[x0, y0, x1, y1]`.
    fn bbox(&self) -> [f64; 4] {
        match *self {
            Shape::Rect { c, half, cs, .. } => {
                let ex = half[0] * cs[0].abs() + half[1] * cs[1].abs();
                let ey = half[0] * cs[1].abs() + half[1] * cs[0].abs();
                [c[0] - ex, c[1] - ey, c[0] + ex, c[1] + ey]
            }
            Shape::Disc { c, r2, .. } => {
                let r = r2.sqrt();
                [c[0] - r, c[1] - r, c[0] + r, c[1] + r]
            }
        }
    }
}

/// 8-bit sRGB values of the 24 patches of the classic colour rendition chart (published
/// reference values), row by row.
const CHART_SRGB8: [[u8; 3]; 24] = [
    [115, 82, 68],
    [194, 150, 130],
    [98, 122, 157],
    [87, 108, 67],
    [133, 128, 177],
    [103, 189, 170],
    [214, 126, 44],
    [80, 91, 166],
    [193, 90, 99],
    [94, 60, 108],
    [157, 188, 64],
    [224, 163, 46],
    [56, 61, 150],
    [70, 148, 73],
    [175, 54, 60],
    [231, 199, 31],
    [187, 86, 149],
    [8, 133, 161],
    [243, 243, 242],
    [200, 200, 200],
    [160, 160, 160],
    [122, 122, 121],
    [85, 85, 85],
    [52, 52, 52],
];
/// Side of a colour patch in pixels (below 16, see the module docs).
const PATCH: f64 = 14.0;
/// Distance between patch origins in pixels.
const PATCH_PITCH: f64 = 20.0;
/// Spoke pairs of the Siemens star.
const STAR_SPOKES: f64 = 36.0;
/// Side of the shape lookup grid's cells in pixels.
const GRID_CELL: f64 = 32.0;

/// The analytic test scene laid out for one frame size and seed.
#[derive(Debug, Clone)]
struct Procedural {
    octaves: [Octave; 5],
    /// Normalisation of the weighted octave sum to unit-ish standard deviation.
    lum_norm: f64,
    /// Background colour field: per channel `mean + amp * sin(fx * x + fy * y + phase)`.
    background: [[f64; 5]; 3],
    chart_origin: [f64; 2],
    chart: [[f64; 3]; 24],
    star_centre: [f64; 2],
    star_radius: f64,
    /// Grey ramp and hue ramp rectangles `[x0, y0, x1, y1]`.
    grey_ramp: [f64; 4],
    hue_ramp: [f64; 4],
    shapes: Vec<Shape>,
    /// Shape indices per grid cell, topmost last; the grid covers `grid_origin` onwards.
    grid: Vec<Vec<u16>>,
    grid_origin: [f64; 2],
    grid_size: [usize; 2],
}

impl Procedural {
    fn new(w: f64, h: f64, seed: u64) -> Procedural {
        let mut rng = Rng::for_stream(seed, super::SCENE_STREAM, 0);
        let octaves = std::array::from_fn(|i| {
            let spacing = FINEST_SPACING * (1u32 << i) as f64;
            // Golden-angle steps spread the octaves' lattice orientations evenly.
            let angle = i as f64 * 2.399_963 + rng.range(0.0, 0.3);
            Octave {
                a: angle.cos() / spacing,
                b: angle.sin() / spacing,
                ox: rng.range(0.0, 1000.0),
                oy: rng.range(0.0, 1000.0),
                seed: (rng.next_u64() >> 32) as u32,
            }
        });
        // Interpolated value noise has a standard deviation of about 0.36 per octave.
        let lum_norm = 1.0 / (0.36 * OCTAVE_WEIGHTS.iter().map(|w| w * w).sum::<f64>().sqrt());
        let background = std::array::from_fn(|_| {
            let angle = rng.range(0.0, TAU);
            // One cycle over 1.5 to 3 frame sizes: a gentle, smooth drift.
            let period = rng.range(1.5, 3.0) * w.max(h);
            [
                rng.range(0.2, 0.3),
                rng.range(0.08, 0.12),
                angle.cos() * TAU / period,
                angle.sin() * TAU / period,
                rng.range(0.0, TAU),
            ]
        });
        let chart = CHART_SRGB8.map(|c| c.map(|v| srgb_to_linear(f64::from(v) / 255.0)));
        let m = w.min(h);
        let mut shapes = Vec::new();
        for i in 0..20 {
            let c = [rng.range(0.0, w), rng.range(0.0, h)];
            let size = rng.range(0.025, 0.08) * m;
            let rgb = [
                rng.range(0.03, 0.7),
                rng.range(0.03, 0.7),
                rng.range(0.03, 0.7),
            ];
            if i % 2 == 0 {
                let angle = rng.range(0.0, PI);
                shapes.push(Shape::Rect {
                    c,
                    half: [size, size * rng.range(0.4, 1.0)],
                    cs: [angle.cos(), angle.sin()],
                    rgb,
                });
            } else {
                shapes.push(Shape::Disc {
                    c,
                    r2: size * size,
                    rgb,
                });
            }
        }
        let bbox = shapes.iter().map(Shape::bbox).fold(
            [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            |a, b| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            },
        );
        let grid_origin = [bbox[0].floor(), bbox[1].floor()];
        let grid_size = [
            ((bbox[2] - grid_origin[0]) / GRID_CELL).floor() as usize + 1,
            ((bbox[3] - grid_origin[1]) / GRID_CELL).floor() as usize + 1,
        ];
        let mut grid = vec![Vec::new(); grid_size[0] * grid_size[1]];
        for (i, s) in shapes.iter().enumerate() {
            let b = s.bbox();
            let cell = |v: f64, o: f64| ((v - o) / GRID_CELL).floor() as usize;
            for gy in cell(b[1], grid_origin[1])..=cell(b[3], grid_origin[1]) {
                for gx in cell(b[0], grid_origin[0])..=cell(b[2], grid_origin[0]) {
                    grid[gy * grid_size[0] + gx].push(i as u16);
                }
            }
        }
        let ramp_h = (0.07 * h).max(10.0);
        Procedural {
            octaves,
            lum_norm,
            background,
            chart_origin: [(0.08 * w).round(), (0.58 * h).round()],
            chart,
            star_centre: [0.72 * w, 0.34 * h],
            star_radius: 0.2 * m,
            grey_ramp: [0.06 * w, 0.08 * h, 0.54 * w, 0.08 * h + ramp_h],
            hue_ramp: [0.06 * w, 0.2 * h, 0.54 * w, 0.2 * h + ramp_h],
            shapes,
            grid,
            grid_origin,
            grid_size,
        }
    }

    /// The colour patch at (`x`, `y`), if any.
    #[inline]
    fn patch(&self, x: f64, y: f64) -> Option<[f64; 3]> {
        let u = (x - self.chart_origin[0]) / PATCH_PITCH;
        let v = (y - self.chart_origin[1]) / PATCH_PITCH;
        if !(0.0..6.0).contains(&u) || !(0.0..4.0).contains(&v) {
            return None;
        }
        let (col, row) = (u.floor(), v.floor());
        let inside = (u - col) * PATCH_PITCH < PATCH && (v - row) * PATCH_PITCH < PATCH;
        inside.then(|| self.chart[row as usize * 6 + col as usize])
    }

    /// Texture values per channel: luminance plus octave-specific chroma for red and blue.
    #[inline]
    fn texture(&self, x: f64, y: f64) -> [f64; 3] {
        let mut n = [0.0; 5];
        for (ni, o) in n.iter_mut().zip(&self.octaves) {
            let u = o.a * x + o.b * y + o.ox;
            let v = -o.b * x + o.a * y + o.oy;
            *ni = value_noise(u, v, o.seed);
        }
        let lum = n
            .iter()
            .zip(OCTAVE_WEIGHTS)
            .map(|(n, w)| n * w)
            .sum::<f64>()
            * self.lum_norm;
        [
            lum + 0.8 * n[1] - 0.6 * n[3],
            lum,
            lum - 0.8 * n[2] + 0.6 * n[4],
        ]
    }

    /// The untextured colour and the texture strength at (`x`, `y`).
    #[inline]
    fn base(&self, x: f64, y: f64) -> ([f64; 3], f64) {
        let (dx, dy) = (x - self.star_centre[0], y - self.star_centre[1]);
        let r2 = dx * dx + dy * dy;
        if r2 < self.star_radius * self.star_radius {
            let light = (STAR_SPOKES * dy.atan2(dx)).sin() >= 0.0;
            let v = if light { 0.75 } else { 0.03 };
            return ([v; 3], 0.06);
        }
        let in_rect = |r: &[f64; 4]| x >= r[0] && x < r[2] && y >= r[1] && y < r[3];
        if in_rect(&self.grey_ramp) {
            let t = (x - self.grey_ramp[0]) / (self.grey_ramp[2] - self.grey_ramp[0]);
            return ([0.005 + 0.995 * t; 3], 0.04);
        }
        if in_rect(&self.hue_ramp) {
            let t = (x - self.hue_ramp[0]) / (self.hue_ramp[2] - self.hue_ramp[0]);
            let hue = |phase: f64| 0.05 + 0.3 * (1.0 + (TAU * (t - phase)).cos());
            return ([hue(0.0), hue(1.0 / 3.0), hue(2.0 / 3.0)], 0.04);
        }
        let gx = ((x - self.grid_origin[0]) / GRID_CELL).floor();
        let gy = ((y - self.grid_origin[1]) / GRID_CELL).floor();
        if gx >= 0.0
            && gy >= 0.0
            && (gx as usize) < self.grid_size[0]
            && (gy as usize) < self.grid_size[1]
        {
            let cell = &self.grid[gy as usize * self.grid_size[0] + gx as usize];
            for &i in cell.iter().rev() {
                if let Some(rgb) = self.shapes[usize::from(i)].hit(x, y) {
                    return (rgb, 0.25);
                }
            }
        }
        let bg = self
            .background
            .map(|[mean, amp, fx, fy, phase]| mean + amp * (fx * x + fy * y + phase).sin());
        (bg, 0.35)
    }

    #[inline]
    fn sample(&self, x: f64, y: f64) -> [f32; 3] {
        if let Some(rgb) = self.patch(x, y) {
            return rgb.map(|v| v as f32);
        }
        let (rgb, strength) = self.base(x, y);
        let t = self.texture(x, y);
        std::array::from_fn(|c| (rgb[c] * gain(strength * t[c])) as f32)
    }
}

/// The moving object's colour at offset (`dx`, `dy`) from its centre, for an object of
/// radius `r`: a checkerboard of saturated orange and teal (cells of r/4, turned by 30
/// degrees) with fine texture, unlike anything in the procedural scene.
#[inline]
pub(crate) fn object_sample(dx: f64, dy: f64, r: f64) -> [f32; 3] {
    let cell = r / 4.0;
    let (s, c) = (PI / 6.0).sin_cos();
    let u = ((c * dx + s * dy) / cell).floor();
    let v = ((-s * dx + c * dy) / cell).floor();
    let rgb = if (u + v).rem_euclid(2.0) == 0.0 {
        [0.85, 0.32, 0.04]
    } else {
        [0.03, 0.42, 0.5]
    };
    let t = 0.3
        * (value_noise(dx / 2.5, dy / 2.5, 0x0b1e_c7)
            + 0.5 * value_noise(dx / 7.0, dy / 7.0, 0x5eed));
    rgb.map(|v| (v * gain(t)) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedural_is_deterministic_and_seeded() {
        let a = Scene::procedural(640, 480, 1);
        let b = Scene::procedural(640, 480, 1);
        let c = Scene::procedural(640, 480, 2);
        let mut differs = false;
        for i in 0..1000 {
            let (x, y) = (i as f64 * 0.731 - 100.0, i as f64 * 0.517 - 50.0);
            assert_eq!(a.sample(x, y), b.sample(x, y));
            differs |= a.sample(x, y) != c.sample(x, y);
        }
        assert!(differs);
    }

    #[test]
    fn procedural_is_positive_bounded_and_defined_outside_the_frame() {
        let s = Scene::procedural(640, 480, 3);
        let mut max = 0.0f32;
        for j in -50..530 {
            for i in -50..690 {
                let v = s.sample(i as f64 + 0.5, j as f64 + 0.5);
                for c in v {
                    assert!(c.is_finite() && c > 0.0, "({i}, {j}): {v:?}");
                    max = max.max(c);
                }
            }
        }
        assert!(max < 2.0, "max {max}");
    }

    #[test]
    fn every_16x16_tile_has_texture() {
        // Green standard deviation within each tile of a 640x480 frame sampled at pixel
        // centres: flat tiles would be ~0.
        let s = Scene::procedural(640, 480, 1);
        let mut weakest = f64::INFINITY;
        for ty in 0..30 {
            for tx in 0..40 {
                let vals: Vec<f64> = (0..256)
                    .map(|k| {
                        let x = (tx * 16 + k % 16) as f64 + 0.5;
                        let y = (ty * 16 + k / 16) as f64 + 0.5;
                        f64::from(s.sample(x, y)[1])
                    })
                    .collect();
                let mean = vals.iter().sum::<f64>() / 256.0;
                let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 256.0).sqrt();
                // Relative to the tile mean, so that dark tiles count too.
                weakest = weakest.min(sd / mean.max(1e-3));
            }
        }
        assert!(weakest > 0.02, "weakest tile relative contrast {weakest}");
    }

    #[test]
    fn patches_are_flat_and_linearised() {
        let s = Scene::procedural(640, 480, 1);
        let Kind::Procedural(p) = &s.kind else {
            unreachable!()
        };
        let [x0, y0] = p.chart_origin;
        // Patch 19 (white, row 3, column 0) sampled at its centre and near a corner.
        let centre = s.sample(x0 + 7.0, y0 + 3.0 * PATCH_PITCH + 7.0);
        let corner = s.sample(x0 + 0.5, y0 + 3.0 * PATCH_PITCH + 13.5);
        assert_eq!(centre, corner);
        assert!((centre[0] - 0.896).abs() < 0.002, "{centre:?}");
        // Between patches: textured background.
        assert_ne!(s.sample(x0 + 16.0, y0 + 5.0), s.sample(x0 + 17.0, y0 + 5.0));
    }

    #[test]
    fn image_scene_interpolates_and_fits() {
        let mut r = Plane::new(4, 2);
        r.data = vec![0.0, 0.2, 0.4, 0.6, 0.0, 0.2, 0.4, 0.6];
        let planes = [r.clone(), r.clone(), r];
        let s = Scene::from_linear_rgb(planes).unwrap();
        // Pixel centres reproduce the samples; a linear ramp is reproduced between them.
        assert!((s.sample(1.5, 0.5)[0] - 0.2).abs() < 1e-6);
        assert!((s.sample(2.0, 1.0)[0] - 0.3).abs() < 1e-6);
        // Clamped at the border.
        assert!((s.sample(-5.0, 0.5)[0] - 0.0).abs() < 1e-6);
        // Fitted to an 8x4 frame: scale 2, the image centre lands on the frame centre.
        let f = s.fit(8, 4);
        assert!((f.sample(3.0, 1.0)[0] - 0.2).abs() < 1e-6);
        assert!((f.sample(4.0, 2.0)[0] - 0.3).abs() < 1e-6);
    }

    #[test]
    fn image_scene_rejects_bad_planes() {
        let a = Plane::<f32>::new(4, 4);
        let b = Plane::<f32>::new(4, 3);
        assert!(Scene::from_linear_rgb([a.clone(), a.clone(), b]).is_err());
        let mut n = a.clone();
        n.data[3] = f32::NAN;
        assert!(Scene::from_linear_rgb([a.clone(), n, a.clone()]).is_err());
        assert!(
            Scene::from_linear_rgb([Plane::new(0, 0), Plane::new(0, 0), Plane::new(0, 0)]).is_err()
        );
        assert!(Scene::flat([0.1, -0.1, 0.1]).is_err());
    }

    #[test]
    fn loading_decodes_srgb_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grey.png");
        let img = image::RgbImage::from_pixel(4, 4, image::Rgb([128, 128, 128]));
        img.save(&path).unwrap();
        let s = Scene::load(&path, 8, 8).unwrap();
        // sRGB 128 is linear 0.2159.
        assert!((s.sample(4.0, 4.0)[1] - 0.2159).abs() < 1e-3);

        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"not an image").unwrap();
        let e = Scene::load(&bad, 8, 8).unwrap_err();
        assert!(e.to_string().contains("bad.png"), "{e}");
        let missing = dir.path().join("missing.png");
        let e = Scene::load(&missing, 8, 8).unwrap_err();
        assert!(e.to_string().contains("missing.png"), "{e}");
    }
}
