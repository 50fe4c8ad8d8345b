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

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::floor_i64;
use super::resolution::{self, ChartLayout};
use super::rng::Rng;
use super::shapes::{Primitive, SHAPE_TEXTURE, STAR_TEXTURE};
use crate::color::srgb_to_linear;
use crate::error::{Error, Result};
use crate::image::{Plane, cubic_weights};

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

/// Texels per side of the texture tile (a power of two; lookups wrap with a mask).
const TILE: usize = 1024;
/// Size of a texel in scene pixels: the tile repeats every 768 px along its own axes.
const TEXEL_PX: f64 = 0.75;
/// Lattice spacing of the octaves in texels, finest first (3 to 48 px); powers of two that
/// divide `TILE`, so every octave, and the tile, wraps seamlessly.
const OCTAVE_TEXELS: [usize; 5] = [4, 8, 16, 32, 64];
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

/// One octave of value noise on a lattice of `cell` texels (a power of two) that wraps after
/// `TILE` texels: random lattice values in [-1, 1], quintic interpolation between them.
struct Octave {
    shift: u32,
    period: usize,
    values: Vec<f64>,
    /// `fade(j / cell)` for each offset `j` inside a cell.
    weights: Vec<f64>,
}

impl Octave {
    fn new(cell: usize, seed: u32) -> Octave {
        let period = TILE / cell;
        Octave {
            shift: cell.trailing_zeros(),
            period,
            values: (0..period * period)
                .map(|i| lattice((i % period) as u32, (i / period) as u32, seed))
                .collect(),
            weights: (0..cell).map(|j| fade(j as f64 / cell as f64)).collect(),
        }
    }

    /// The noise at texel (`tx`, `ty`), both below `TILE`.
    fn at(&self, tx: usize, ty: usize) -> f64 {
        let (gx, gy) = (tx >> self.shift, ty >> self.shift);
        let within = (1 << self.shift) - 1;
        let (u, v) = (self.weights[tx & within], self.weights[ty & within]);
        let wrap = self.period - 1;
        let (x1, y1) = ((gx + 1) & wrap, (gy + 1) & wrap);
        let value = |x: usize, y: usize| self.values[y * self.period + x];
        let top = value(gx, gy) + (value(x1, gy) - value(gx, gy)) * u;
        let bottom = value(gx, y1) + (value(x1, y1) - value(gx, y1)) * u;
        top + (bottom - top) * v
    }
}

/// The fine texture, baked once per process into a seamless tile of `TILE` x `TILE` texels
/// and sampled bilinearly. Evaluating five octaves of value noise directly measured 90 to
/// 150 ns per sample on the 2-core Xeon VM this was written on, a bilinear tile lookup 10 to
/// 14 ns, and the renderer takes 9 samples per photosite. Each texel holds the red, green and
/// blue texture values `z` (zero mean, unit standard deviation for green) and a pad lane.
struct TextureTile {
    /// Row-major; a fixed-size array, so that masked indices need no bounds checks.
    texels: Box<[[f32; 4]; TILE * TILE]>,
}

static TEXTURE: OnceLock<TextureTile> = OnceLock::new();

impl std::fmt::Debug for TextureTile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextureTile({TILE}x{TILE})")
    }
}

impl TextureTile {
    /// The process-wide tile (built on first use: 16 MB, about 80 ms).
    fn get() -> &'static TextureTile {
        TEXTURE.get_or_init(TextureTile::build)
    }

    fn build() -> TextureTile {
        const SEEDS: [u32; 5] = [
            0x1b87_3593,
            0xcc9e_2d51,
            0xe654_6b64,
            0x85eb_ca6b,
            0xc2b2_ae35,
        ];
        let octaves: Vec<Octave> = OCTAVE_TEXELS
            .iter()
            .zip(SEEDS)
            .map(|(&c, s)| Octave::new(c, s))
            .collect();
        // Serial on purpose: this runs inside a `OnceLock` initialiser, and rayon work
        // stealing there could re-enter it from another synthesis on the same thread.
        let (mut sum, mut sum2) = (0.0, 0.0);
        let mut texels: Vec<[f32; 4]> = (0..TILE * TILE)
            .map(|i| {
                let (tx, ty) = (i % TILE, i / TILE);
                let n: [f64; 5] = std::array::from_fn(|o| octaves[o].at(tx, ty));
                let lum: f64 = n.iter().zip(OCTAVE_WEIGHTS).map(|(n, w)| n * w).sum();
                sum += lum;
                sum2 += lum * lum;
                // Red and blue take extra detail from different octaves than green: chroma
                // texture for demosaicking.
                let red = lum + 0.5 * n[1] - 0.4 * n[3];
                let blue = lum - 0.5 * n[2] + 0.4 * n[4];
                [red as f32, lum as f32, blue as f32, 0.0]
            })
            .collect();
        // Normalise to zero mean and unit standard deviation of green.
        let n = (TILE * TILE) as f64;
        let mean = (sum / n) as f32;
        let scale = (1.0 / (sum2 / n - (sum / n).powi(2)).sqrt()) as f32;
        for t in &mut texels {
            for v in &mut t[..3] {
                *v = (*v - mean) * scale;
            }
        }
        TextureTile {
            texels: texels
                .into_boxed_slice()
                .try_into()
                .expect("TILE * TILE texels"),
        }
    }

    /// Bilinear sample at texel coordinates (`u`, `v`); texel `(i, j)` sits at integer
    /// coordinates and the tile wraps.
    #[inline(always)]
    fn sample(&self, u: f64, v: f64) -> [f32; 4] {
        const MASK: usize = TILE - 1;
        let (iu, iv) = (floor_i64(u), floor_i64(v));
        let (fu, fv) = ((u - iu as f64) as f32, (v - iv as f64) as f32);
        // Two's complement wrapping makes `& MASK` a true modulo for negative indices too;
        // `row | column` with both masked stays below TILE * TILE.
        let (x0, y0) = (iu as usize & MASK, iv as usize & MASK);
        let (x1, y1) = ((x0 + 1) & MASK, (y0 + 1) & MASK);
        const SHIFT: u32 = TILE.trailing_zeros();
        let (r0, r1) = (y0 << SHIFT, y1 << SHIFT);
        let (t00, t10) = (self.texels[r0 | x0], self.texels[r0 | x1]);
        let (t01, t11) = (self.texels[r1 | x0], self.texels[r1 | x1]);
        std::array::from_fn(|c| {
            let top = t00[c] + (t10[c] - t00[c]) * fu;
            let bottom = t01[c] + (t11[c] - t01[c]) * fu;
            top + (bottom - top) * fv
        })
    }
}

/// A smooth, always positive gain for a texture value `z`: 1 + z + z^2 / 2 (at least 0.5).
#[inline]
fn gain(z: f64) -> f64 {
    1.0 + z * (1.0 + 0.5 * z)
}

/// Side of the primitive lookup grid's cells in pixels.
const GRID_CELL: f64 = 16.0;

/// Texture strength of the procedural scene's background.
const BACKGROUND_TEXTURE: f64 = 0.3;
/// Spoke pairs of the procedural scene's Siemens star.
const STAR_SPOKES: u32 = 36;

/// An analytic scene: sharp primitives drawn over a smooth background, both modulated by the
/// fine texture (the procedural scene and the resolution chart).
#[derive(Debug, Clone)]
struct Analytic {
    tile: &'static TextureTile,
    /// Scene to texel coordinates: `u = a x + b y + offset[0]`, `v = -b x + a y + offset[1]`.
    tex_a: f64,
    tex_b: f64,
    tex_offset: [f64; 2],
    /// Background colours at the frame's corners (top-left, top-right, bottom-left,
    /// bottom-right), interpolated bilinearly inside the frame and held constant outside.
    corners: [[f64; 3]; 4],
    /// Texture strength of the background.
    background_texture: f64,
    /// 1 / width and 1 / height.
    inv_size: [f64; 2],
    /// Linear colours of the colour chart's patches.
    chart: [[f64; 3]; 24],
    /// The layout, bottom first.
    primitives: Vec<Primitive>,
    /// For each grid cell (row-major), the primitives whose bounding box meets it, topmost
    /// first: `cell_items[cell_start[i]..cell_start[i + 1]]`. Cells with none (most of the
    /// frame) cost one lookup.
    cell_start: Vec<u32>,
    cell_items: Vec<u16>,
    grid_origin: [f64; 2],
    grid_size: [usize; 2],
}

/// The seeded placement of the texture: its angle (radians) and texel offset.
fn texture_placement(rng: &mut Rng) -> (f64, [f64; 2]) {
    // An angle away from the axes keeps the tile's period and lattices off the pixel grid.
    let angle = rng.range(0.2, 1.3);
    (
        angle,
        [rng.range(0.0, TILE as f64), rng.range(0.0, TILE as f64)],
    )
}

impl Analytic {
    /// The procedural test scene for a `w` x `h` frame (see the module docs).
    fn procedural(w: f64, h: f64, seed: u64) -> Analytic {
        let mut rng = Rng::for_stream(seed, super::SCENE_STREAM, 0);
        let texture = texture_placement(&mut rng);
        let corners = std::array::from_fn(|_| std::array::from_fn(|_| rng.range(0.12, 0.42)));
        let m = w.min(h);
        let mut primitives = Vec::new();
        for i in 0..20 {
            let c = [rng.range(0.0, w), rng.range(0.0, h)];
            let size = rng.range(0.025, 0.08) * m;
            let rgb = std::array::from_fn(|_| rng.range(0.03, 0.7));
            if i % 2 == 0 {
                let angle = rng.range(0.0, PI);
                primitives.push(Primitive::Rect {
                    c,
                    half: [size, size * rng.range(0.4, 1.0)],
                    cs: [angle.cos(), angle.sin()],
                    rgb,
                    texture: SHAPE_TEXTURE,
                });
            } else {
                primitives.push(Primitive::Disc {
                    c,
                    r2: size * size,
                    rgb,
                });
            }
        }
        let ramp_h = (0.07 * h).max(10.0);
        primitives.push(Primitive::GreyRamp([
            0.06 * w,
            0.08 * h,
            0.54 * w,
            0.08 * h + ramp_h,
        ]));
        primitives.push(Primitive::HueRamp([
            0.06 * w,
            0.2 * h,
            0.54 * w,
            0.2 * h + ramp_h,
        ]));
        let star_r = 0.2 * m;
        primitives.push(Primitive::Star {
            c: [0.72 * w, 0.34 * h],
            r2: star_r * star_r,
            spokes: STAR_SPOKES,
            tones: [0.75, 0.03],
            texture: STAR_TEXTURE,
        });
        primitives.push(Primitive::ColorChart {
            origin: [(0.08 * w).round(), (0.58 * h).round()],
        });
        Analytic::new(w, h, texture, corners, BACKGROUND_TEXTURE, primitives)
    }

    /// The resolution chart for a `w` x `h` frame (see [`super::resolution`]); `seed` places
    /// the background texture.
    fn resolution_chart(w: usize, h: usize, seed: u64) -> Analytic {
        let mut rng = Rng::for_stream(seed, super::SCENE_STREAM, 1);
        let texture = texture_placement(&mut rng);
        let layout = ChartLayout::new(w, h);
        Analytic::new(
            w as f64,
            h as f64,
            texture,
            resolution::BACKGROUND_CORNERS,
            resolution::BACKGROUND_TEXTURE,
            layout.primitives(),
        )
    }

    /// Builds the lookup grid of `primitives` (bottom first) over a `w` x `h` frame's
    /// background.
    fn new(
        w: f64,
        h: f64,
        (angle, tex_offset): (f64, [f64; 2]),
        corners: [[f64; 3]; 4],
        background_texture: f64,
        primitives: Vec<Primitive>,
    ) -> Analytic {
        let bbox = primitives.iter().map(Primitive::bbox).fold(
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
        let cell = |v: f64, o: f64| floor_i64((v - o) / GRID_CELL) as usize;
        let grid_size = [
            cell(bbox[2], grid_origin[0]) + 1,
            cell(bbox[3], grid_origin[1]) + 1,
        ];
        let mut lists = vec![Vec::new(); grid_size[0] * grid_size[1]];
        // Topmost first: walk the layout from the top down.
        for (i, p) in primitives.iter().enumerate().rev() {
            let b = p.bbox();
            for gy in cell(b[1], grid_origin[1])..=cell(b[3], grid_origin[1]) {
                for gx in cell(b[0], grid_origin[0])..=cell(b[2], grid_origin[0]) {
                    lists[gy * grid_size[0] + gx].push(i as u16);
                }
            }
        }
        let mut cell_start = Vec::with_capacity(lists.len() + 1);
        let mut cell_items = Vec::new();
        for list in &lists {
            cell_start.push(cell_items.len() as u32);
            cell_items.extend_from_slice(list);
        }
        cell_start.push(cell_items.len() as u32);

        Analytic {
            tile: TextureTile::get(),
            tex_a: angle.cos() / TEXEL_PX,
            tex_b: angle.sin() / TEXEL_PX,
            tex_offset,
            corners,
            background_texture,
            inv_size: [1.0 / w, 1.0 / h],
            chart: super::chart::COLORCHECKER_SRGB
                .map(|c| c.map(|v| srgb_to_linear(f64::from(v) / 255.0))),
            primitives,
            cell_start,
            cell_items,
            grid_origin,
            grid_size,
        }
    }

    /// The grid cell of (`x`, `y`), as signed cell coordinates (possibly outside the grid).
    #[inline(always)]
    fn cell_of(&self, x: f64, y: f64) -> (i64, i64) {
        (
            floor_i64((x - self.grid_origin[0]) * (1.0 / GRID_CELL)),
            floor_i64((y - self.grid_origin[1]) * (1.0 / GRID_CELL)),
        )
    }

    /// The primitives listed for cell (`gx`, `gy`), topmost first (none outside the grid).
    #[inline(always)]
    fn cell_items(&self, (gx, gy): (i64, i64)) -> &[u16] {
        let [nx, ny] = self.grid_size;
        if gx < 0 || gy < 0 || gx as usize >= nx || gy as usize >= ny {
            return &[];
        }
        let cell = gy as usize * nx + gx as usize;
        &self.cell_items[self.cell_start[cell] as usize..self.cell_start[cell + 1] as usize]
    }

    /// The background colour at (`x`, `y`).
    #[inline(always)]
    fn background(&self, x: f64, y: f64) -> [f64; 3] {
        let u = (x * self.inv_size[0]).clamp(0.0, 1.0);
        let v = (y * self.inv_size[1]).clamp(0.0, 1.0);
        let [c00, c10, c01, c11] = &self.corners;
        std::array::from_fn(|c| {
            let top = c00[c] + (c10[c] - c00[c]) * u;
            let bottom = c01[c] + (c11[c] - c01[c]) * u;
            top + (bottom - top) * v
        })
    }

    /// The untextured colour and the texture strength at (`x`, `y`).
    #[inline(always)]
    fn base(&self, x: f64, y: f64) -> ([f64; 3], f64) {
        for &i in self.cell_items(self.cell_of(x, y)) {
            if let Some(hit) = self.primitives[usize::from(i)].hit(x, y, &self.chart) {
                return hit;
            }
        }
        (self.background(x, y), self.background_texture)
    }

    /// Applies the texture at (`x`, `y`) with `strength` to an untextured colour (a strength
    /// of 0 returns it unchanged: the gain is exactly 1).
    #[inline(always)]
    fn shade(&self, rgb: [f64; 3], strength: f64, x: f64, y: f64) -> [f64; 3] {
        let u = self.tex_a * x + self.tex_b * y + self.tex_offset[0];
        let v = -self.tex_b * x + self.tex_a * y + self.tex_offset[1];
        let t = self.tile.sample(u, v);
        std::array::from_fn(|c| rgb[c] * gain(strength * f64::from(t[c])))
    }

    #[inline(always)]
    fn sample(&self, x: f64, y: f64) -> [f64; 3] {
        let (rgb, strength) = self.base(x, y);
        // Untextured primitives skip the texture lookup. The test is here rather than in
        // `shade`, whose background caller knows its strength is not 0.
        if strength == 0.0 {
            return rgb;
        }
        self.shade(rgb, strength, x, y)
    }

    /// [`Scene::grid_sum`] for this scene. When the whole grid lies in one cell that lists no
    /// primitive (or outside the grid), every sample is background, so the per-sample cell
    /// lookup is skipped; the arithmetic per sample is the same as in [`Analytic::sample`],
    /// so the sum is bit-identical either way.
    #[inline]
    fn grid_sum(&self, g: &SampleGrid) -> [f64; 3] {
        // Bounding box of the grid's corners, widened by 1e-9 px to absorb any rounding
        // difference between this corner arithmetic and the sample positions in `sum`.
        let last = (g.k - 1) as f64;
        let (ex, ey) = (g.dx.map(|d| last * d), g.dy.map(|d| last * d));
        let (mut lo, mut hi) = (g.origin, g.origin);
        for d in [ex, ey, [ex[0] + ey[0], ex[1] + ey[1]]] {
            for axis in 0..2 {
                lo[axis] = lo[axis].min(g.origin[axis] + d[axis]);
                hi[axis] = hi[axis].max(g.origin[axis] + d[axis]);
            }
        }
        let first = self.cell_of(lo[0] - 1e-9, lo[1] - 1e-9);
        // Cell coordinates grow monotonically with x and y: opposite corners of the box in
        // one cell mean the whole grid is in it.
        let one_cell = first == self.cell_of(hi[0] + 1e-9, hi[1] + 1e-9);
        if one_cell && self.cell_items(first).is_empty() {
            g.sum(|x, y| self.shade(self.background(x, y), self.background_texture, x, y))
        } else {
            g.sum(|x, y| self.sample(x, y))
        }
    }
}

/// The moving object's colour at offset (`dx`, `dy`) from its centre, for an object of
/// radius `r`: a checkerboard of saturated orange and teal (cells of r/4, turned by 30
/// degrees) with fine texture, unlike anything in the procedural scene.
#[inline]
pub(crate) fn object_sample(dx: f64, dy: f64, r: f64) -> [f64; 3] {
    // cos and sin of 30 degrees.
    const C: f64 = 0.866_025_403_784_438_6;
    const S: f64 = 0.5;
    let inv_cell = 4.0 / r;
    let u = floor_i64((C * dx + S * dy) * inv_cell);
    let v = floor_i64((-S * dx + C * dy) * inv_cell);
    let rgb = if (u + v) & 1 == 0 {
        [0.85, 0.32, 0.04]
    } else {
        [0.03, 0.42, 0.5]
    };
    let t = TextureTile::get().sample(dx * 1.1 + 311.0, dy * 1.1 + 97.0)[1];
    rgb.map(|v| v * gain(0.3 * f64::from(t)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::shapes::PATCH_PITCH;

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
        let Kind::Analytic(p) = &s.kind else {
            unreachable!()
        };
        let [x0, y0] = p
            .primitives
            .iter()
            .find_map(|p| match p {
                Primitive::ColorChart { origin } => Some(*origin),
                _ => None,
            })
            .unwrap();
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
