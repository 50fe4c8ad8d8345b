//! Looks: colour renderings described as data, and 3D LUTs.
//!
//! A [`Look`] is a TOML file (the built-in ones are `looks/*.toml`, embedded in the binary):
//!
//! - a **tone curve** through control points on display-encoded values, applied without
//!   shifting hue ([`curve`]);
//! - a **hue / saturation / value table** in the style of the DNG `ProfileLookTable`
//!   ([`table`]), and an overall saturation factor;
//! - for black and white, a **channel mix** (weights of linear R, G, B);
//! - a **vignette** (darkening toward the corners, in stops, from a radius);
//! - optional **grain** (luminance noise, strongest in the mid-tones);
//! - the **local tone mapping** strength and target brightness, and the **sharpening**
//!   amount, which [`crate::finish::FinishParams::with_look`] hands to those stages.
//!
//! The built-in looks ([`Look::BUILTIN`]):
//!
//! | name | what it does, and why |
//! |---|---|
//! | `natural` | Faithful colour, nothing added: the colour science of [`crate::finish`] as measured against the chart. The default. |
//! | `authentic` | Cinematic and moody, after Leica's "Authentic": deeper blacks and a strong toe, a darker mid-grey, gently rolled-off highlights, saturation kept near natural, red-oranges nudged toward orange, and the soft vignette of a fast lens wide open. |
//! | `vibrant` | Bright and punchy, after Leica's "Vibrant": a brighter mid-grey and more shadow lift, saturation about 115%, but skin hues protected from both the boost and any hue shift. |
//! | `mono` | Deep black and white: a red-filter channel mix (blue skies darken, skin lightens), a firm curve with rich blacks, fine grain and a light vignette. |
//!
//! # How a look is applied
//! The colour part (table, saturation, channel mix, curve) is a function of one encoded
//! colour. [`Look::compile`] samples it once into a 65^3 [`Lut3d`] (within 1/255 of the
//! exact function on the chart, tested: the hue shifts bend the colour's path where HSV
//! hue changes sextant, and 33^3 misses that bend by up to 2/255); [`CompiledLook::apply`] then makes one parallel
//! pass over the image: vignette (in linear light), LUT (tetrahedral, so greys stay exactly
//! grey), grain. [`Look::bake`] writes the colour part as a `.cube` for other tools
//! (`obscura look export`); the spatial parts (vignette, grain, tone mapping, sharpening)
//! cannot live in a LUT and are left out of it.
//!
//! Looks operate on the output's encoded values (the sRGB transfer curve, on sRGB or
//! Display P3 primaries), after tone mapping and sharpening, before orientation.
//!
//! # File format
//! ```toml
//! name = "my look"
//! description = "What it does and why."
//! curve = [[0.0, 0.0], [0.25, 0.2], [0.75, 0.8], [1.0, 1.0]]   # [input, output], encoded
//! saturation = 1.05                   # times the table's scale; 0 to 4, default 1
//! sharpen = 0.5                       # unsharp-mask amount, 0 to 4, default 0.5
//! # mono = [0.6, 0.3, 0.1]            # black and white: weights of linear R, G, B
//! [tone]
//! strength = 1.0                      # local tone mapping, 0 (global) to 1, default 1
//! key = 0.18                          # target brightness of the shadows, default 0.18
//! [vignette]
//! strength = 0.4                      # stops of darkening at the corners, 0 to 4, default 0
//! radius = 0.5                        # where it starts, fraction of the half-diagonal
//! [grain]
//! amount = 0.01                       # noise amplitude in encoded units, 0 to 0.2
//! size = 1.5                          # grain size in pixels, 1 to 16
//! [table]                             # see the `table` module
//! hue_divisions = 6
//! sat_divisions = 2
//! entries = [[0, 1, 1], [5, 1, 1], ...]
//! ```
//! Every field is optional; missing ones take the `natural` values. Unknown fields are
//! errors (a misspelt field would otherwise be silently ignored).

pub mod curve;
pub mod lut;
pub mod table;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use curve::ToneCurve;
pub use lut::Lut3d;
pub use table::HsvTable;

use crate::error::{Error, Result};
use crate::finish::{SrgbTables, srgb_decode, srgb_encode};
use crate::image::Plane;

/// Entries per axis of the LUT a look is compiled to.
pub const COMPILED_SIZE: usize = 65;

/// A look; see the [module docs](self). `Default` is `natural`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Look {
    /// Short name, used in messages and as the baked LUT's title.
    pub name: String,
    /// What the look does and why, in a sentence or two.
    pub description: String,
    /// Settings handed to local tone mapping.
    pub tone: LookTone,
    /// Tone curve control points `[input, output]` on encoded values, inputs from 0 to 1,
    /// increasing; outputs non-decreasing. Empty (default): no curve. Applied to the HSV value, keeping hue and saturation.
    pub curve: Vec<[f32; 2]>,
    /// Saturation factor on top of the table's scale, 0 to 4. Default 1. Higher: more
    /// saturated.
    pub saturation: f32,
    /// Hue / saturation / value table. Default none.
    pub table: Option<HsvTable>,
    /// Black and white: weights of linear R, G, B (non-negative, normalised to sum 1).
    /// Default none (colour). Excludes `table` and `saturation`.
    pub mono: Option<[f32; 3]>,
    /// Darkening toward the corners.
    pub vignette: Vignette,
    /// Unsharp-mask amount handed to sharpening, 0 to 4. Default 0.5.
    pub sharpen: f32,
    /// Film-like grain.
    pub grain: Grain,
}

/// A look's settings for local tone mapping (see [`crate::finish::tone::ToneParams`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LookTone {
    /// Local tone mapping strength, 0 (the global curve) to 1. Default 1. Higher: flatter,
    /// more shadow and highlight detail.
    pub strength: f32,
    /// Target brightness: the linear level shadows are lifted toward, (0, 1]. Default 0.18.
    /// Higher: brighter shadows on high-contrast scenes.
    pub key: f32,
}

impl Default for LookTone {
    fn default() -> Self {
        LookTone {
            strength: 1.0,
            key: 0.18,
        }
    }
}

/// Darkening toward the corners, as a fast lens shows wide open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vignette {
    /// Darkening at the corners in stops (EV), 0 to 4. Default 0 (none).
    pub strength: f32,
    /// Distance from the centre where the darkening starts, as a fraction of the
    /// half-diagonal, 0 to 0.95. Default 0.5. It grows smoothly (smoothstep) to `strength`
    /// at the corners. Higher: a smaller darkened rim.
    pub radius: f32,
}

impl Default for Vignette {
    fn default() -> Self {
        Vignette {
            strength: 0.0,
            radius: 0.5,
        }
    }
}

/// Luminance grain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grain {
    /// Standard deviation of the noise in encoded units at mid-grey (it fades to 0 at black
    /// and white), 0 to 0.2. Default 0 (none).
    pub amount: f32,
    /// Grain size in pixels, 1 to 16 (value noise on a lattice of this spacing). Default 1.
    pub size: f32,
}

impl Default for Grain {
    fn default() -> Self {
        Grain {
            amount: 0.0,
            size: 1.0,
        }
    }
}

/// The description of `natural`, the default look.
const NATURAL_DESCRIPTION: &str = "Faithful colour, nothing added: the measured colour \
science of the finish stage, local tone mapping and light sharpening. The default.";

impl Default for Look {
    fn default() -> Self {
        Look {
            name: "natural".into(),
            description: NATURAL_DESCRIPTION.into(),
            tone: LookTone::default(),
            curve: Vec::new(),
            saturation: 1.0,
            table: None,
            mono: None,
            vignette: Vignette::default(),
            sharpen: 0.5,
            grain: Grain::default(),
        }
    }
}

/// The built-in looks' TOML sources, embedded from `looks/`.
const BUILTIN_TOML: [(&str, &str); 4] = [
    ("natural", include_str!("../../looks/natural.toml")),
    ("authentic", include_str!("../../looks/authentic.toml")),
    ("vibrant", include_str!("../../looks/vibrant.toml")),
    ("mono", include_str!("../../looks/mono.toml")),
];

impl Look {
    /// The built-in looks' names.
    pub const BUILTIN: [&'static str; 4] = ["natural", "authentic", "vibrant", "mono"];

    /// A built-in look by name (case-insensitive), or `None`.
    pub fn builtin(name: &str) -> Option<Look> {
        let (n, text) = BUILTIN_TOML
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))?;
        // the embedded files are tested to parse
        Look::from_toml(text, Path::new(&format!("looks/{n}.toml"))).ok()
    }

    /// A built-in look's name, or else the path of a look file.
    pub fn resolve(name_or_path: &str) -> Result<Look> {
        if let Some(l) = Look::builtin(name_or_path) {
            return Ok(l);
        }
        let p = PathBuf::from(name_or_path);
        if p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
            || p.exists()
        {
            return Look::load(&p);
        }
        Err(Error::parameter(
            "look",
            format!(
                "{name_or_path:?} is neither a built-in look ({}) nor a .toml file",
                Look::BUILTIN.join(", ")
            ),
        ))
    }

    /// Reads a look from a TOML file.
    pub fn load(path: &Path) -> Result<Look> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Look::from_toml(&text, path)
    }

    /// Parses and validates a look from TOML text; `path` names it in errors (which give the
    /// line of a syntax error or unknown field).
    pub fn from_toml(text: &str, path: &Path) -> Result<Look> {
        let look: Look = toml::from_str(text)
            .map_err(|e| Error::decode(path, format!("not a valid look: {e}")))?;
        look.validate()
            .map_err(|e| Error::decode(path, format!("not a valid look: {e}")))?;
        Ok(look)
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        let what = format!("look {:?}", self.name);
        let range = |field: &str, v: f32, lo: f32, hi: f32| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Error::parameter(
                    format!("{what} {field}"),
                    format!("{v}: must be between {lo} and {hi}"),
                ))
            }
        };
        range("tone.strength", self.tone.strength, 0.0, 1.0)?;
        range("tone.key", self.tone.key, 1e-3, 1.0)?;
        range("saturation", self.saturation, 0.0, 4.0)?;
        range("sharpen", self.sharpen, 0.0, 4.0)?;
        range("vignette.strength", self.vignette.strength, 0.0, 4.0)?;
        range("vignette.radius", self.vignette.radius, 0.0, 0.95)?;
        range("grain.amount", self.grain.amount, 0.0, 0.2)?;
        range("grain.size", self.grain.size, 1.0, 16.0)?;
        ToneCurve::new(&self.curve, &what)?;
        if let Some(t) = &self.table {
            t.validate(&what)?;
        }
        if let Some(w) = self.mono {
            let sum: f32 = w.iter().sum();
            if !w.iter().all(|v| v.is_finite() && *v >= 0.0) || sum <= 0.0 {
                return Err(Error::parameter(
                    format!("{what} mono"),
                    format!("{w:?}: weights must be non-negative with a positive sum"),
                ));
            }
            if self.table.is_some() || self.saturation != 1.0 {
                return Err(Error::parameter(
                    format!("{what} mono"),
                    "a black-and-white look takes no table or saturation",
                ));
            }
        }
        Ok(())
    }

    /// The colour part of the look, ready to evaluate.
    pub fn color(&self) -> Result<LookColor> {
        self.validate()?;
        let curve = ToneCurve::new(&self.curve, &self.name)?;
        let mono = self.mono.map(|w| {
            let s: f32 = w.iter().sum();
            w.map(|v| v / s)
        });
        let identity = curve.is_identity()
            && mono.is_none()
            && self.saturation == 1.0
            && self
                .table
                .as_ref()
                .is_none_or(|t| t.entries.iter().all(|e| *e == [0.0, 1.0, 1.0]));
        Ok(LookColor {
            curve,
            table: self.table.clone(),
            saturation: self.saturation,
            mono,
            identity,
        })
    }

    /// The colour part as a LUT of `size` entries per axis (2 to 256), titled with the
    /// look's name, for `.cube` export.
    pub fn bake(&self, size: usize) -> Result<Lut3d> {
        if !(2..=lut::MAX_SIZE).contains(&size) {
            return Err(Error::parameter(
                "LUT size",
                format!("{size}: must be 2 to {}", lut::MAX_SIZE),
            ));
        }
        let c = self.color()?;
        let mut l = Lut3d::from_fn(size, |rgb| c.apply(rgb));
        l.title = Some(format!("obscura look: {}", self.name));
        Ok(l)
    }

    /// The look compiled for [`CompiledLook::apply`].
    pub fn compile(&self) -> Result<CompiledLook> {
        let c = self.color()?;
        let lut = (!c.identity).then(|| Lut3d::from_fn(COMPILED_SIZE, |rgb| c.apply(rgb)));
        Ok(CompiledLook {
            lut,
            vignette: self.vignette,
            grain: self.grain,
        })
    }

    /// Applies the look's colour, vignette and grain to display-encoded planes in place
    /// (compiling it first; see [`Look::compile`] to compile once for many images). Tone
    /// mapping and sharpening settings are not applied here: they belong to
    /// [`crate::finish::finish`].
    pub fn apply(&self, rgb: &mut [Plane<f32>; 3]) -> Result<()> {
        self.compile()?.apply(rgb);
        Ok(())
    }
}

/// The colour part of a look, evaluated exactly (the reference the compiled LUT is
/// measured against).
#[derive(Debug, Clone)]
pub struct LookColor {
    curve: ToneCurve,
    table: Option<HsvTable>,
    saturation: f32,
    mono: Option<[f32; 3]>,
    identity: bool,
}

impl LookColor {
    /// True if the colour part changes nothing.
    pub fn is_identity(&self) -> bool {
        self.identity
    }

    /// One encoded colour through the look: channel mix or table and saturation, then the
    /// curve. Inputs are clamped to `[0, 1]` (NaN -> 0).
    pub fn apply(&self, c: [f32; 3]) -> [f32; 3] {
        let c = c.map(|v| if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) });
        if let Some(w) = self.mono {
            let y: f32 = (0..3).map(|k| w[k] * srgb_decode(c[k])).sum();
            return [self.curve.eval(srgb_encode(y)); 3];
        }
        let c = match &self.table {
            Some(t) => t.apply_rgb(c, self.saturation),
            None if self.saturation != 1.0 => {
                let [h, s, v] = table::rgb_to_hsv(c);
                table::hsv_to_rgb([h, table::scale_saturation(s, self.saturation), v])
            }
            None => c,
        };
        self.curve.apply_rgb(c)
    }
}

/// A look ready to apply: its colour as a LUT (none for an identity colour part), its
/// vignette and grain.
#[derive(Debug, Clone)]
pub struct CompiledLook {
    lut: Option<Lut3d>,
    vignette: Vignette,
    grain: Grain,
}

impl CompiledLook {
    /// True if applying changes nothing.
    pub fn is_identity(&self) -> bool {
        self.lut.is_none() && self.vignette.strength == 0.0 && self.grain.amount == 0.0
    }

    /// Applies vignette, colour and grain to display-encoded planes in place, in one
    /// parallel pass over rows. The grain is a fixed function of the pixel position, so
    /// results are reproducible.
    ///
    /// # Panics
    /// If the planes differ in size.
    pub fn apply(&self, rgb: &mut [Plane<f32>; 3]) {
        if self.is_identity() {
            return;
        }
        let [r, g, b] = rgb;
        let (w, h) = (r.width, r.height);
        assert!(
            (g.width, g.height, b.width, b.height) == (w, h, w, h),
            "planes differ in size"
        );
        let srgb = SrgbTables::get();
        let vig = VignetteMap::new(self.vignette, w, h);
        let grain = self.grain;
        r.data
            .par_chunks_mut(w.max(1))
            .zip(g.data.par_chunks_mut(w.max(1)))
            .zip(b.data.par_chunks_mut(w.max(1)))
            .enumerate()
            .for_each(|(y, ((rr, gr), br))| {
                for x in 0..rr.len() {
                    let mut c = [rr[x], gr[x], br[x]];
                    if let Some(v) = &vig {
                        let gain = v.gain(x, y);
                        if gain < 1.0 {
                            c = c.map(|e| srgb.encode(srgb.decode(e) * gain));
                        }
                    }
                    if let Some(l) = &self.lut {
                        c = l.sample(c);
                    }
                    if grain.amount > 0.0 {
                        let l = (c[0] + c[1] + c[2]) / 3.0;
                        let n = grain.amount * grain_noise(x, y, grain.size) * 4.0 * l * (1.0 - l);
                        c = c.map(|e| e + n);
                    }
                    rr[x] = c[0].clamp(0.0, 1.0);
                    gr[x] = c[1].clamp(0.0, 1.0);
                    br[x] = c[2].clamp(0.0, 1.0);
                }
            });
    }
}

/// The vignette's gain per pixel of a `w x h` image.
struct VignetteMap {
    strength: f32,
    radius: f32,
    centre: [f32; 2],
    inv_half_diagonal: f32,
}

impl VignetteMap {
    fn new(v: Vignette, w: usize, h: usize) -> Option<VignetteMap> {
        (v.strength > 0.0).then(|| {
            let (hw, hh) = (w as f32 / 2.0, h as f32 / 2.0);
            VignetteMap {
                strength: v.strength,
                radius: v.radius,
                centre: [hw, hh],
                inv_half_diagonal: 1.0 / (hw * hw + hh * hh).sqrt().max(1e-6),
            }
        })
    }

    /// Linear gain at pixel (x, y): `2^(-strength * smoothstep(radius, 1, r))`, `r` the
    /// distance of the pixel centre from the image centre over the half-diagonal.
    #[inline]
    fn gain(&self, x: usize, y: usize) -> f32 {
        let dx = x as f32 + 0.5 - self.centre[0];
        let dy = y as f32 + 0.5 - self.centre[1];
        let r = (dx * dx + dy * dy).sqrt() * self.inv_half_diagonal;
        let t = ((r - self.radius) / (1.0 - self.radius)).clamp(0.0, 1.0);
        let s = t * t * (3.0 - 2.0 * t);
        (-self.strength * s).exp2()
    }
}

/// A 32-bit integer hash of a lattice point (Chris Wellons' "lowbias32" finaliser applied
/// to a combination of the coordinates).
#[inline]
fn hash2(x: u32, y: u32) -> u32 {
    let mut h = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77).rotate_left(13);
    h ^= h >> 16;
    h = h.wrapping_mul(0x7FEB_352D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846C_A68B);
    h ^= h >> 16;
    h
}

/// Zero-mean noise of unit variance at a lattice point: the sum of two uniforms (a
/// triangular distribution) from the two halves of the hash.
#[inline]
fn lattice_noise(x: u32, y: u32) -> f32 {
    let h = hash2(x, y);
    let u1 = (h & 0xFFFF) as f32 / 65535.0;
    let u2 = (h >> 16) as f32 / 65535.0;
    (u1 + u2 - 1.0) * 6f32.sqrt()
}

/// Grain at pixel (x, y): lattice noise, smoothly interpolated between lattice points
/// `size` pixels apart (and renormalised, so the standard deviation stays about 1).
#[inline]
fn grain_noise(x: usize, y: usize, size: f32) -> f32 {
    if size <= 1.0 {
        return lattice_noise(x as u32, y as u32);
    }
    let fx = x as f32 / size;
    let fy = y as f32 / size;
    let (ix, iy) = (fx.floor(), fy.floor());
    let s = |t: f32| t * t * (3.0 - 2.0 * t);
    let (tx, ty) = (s(fx - ix), s(fy - iy));
    let (ix, iy) = (ix as u32, iy as u32);
    let n00 = lattice_noise(ix, iy);
    let n10 = lattice_noise(ix + 1, iy);
    let n01 = lattice_noise(ix, iy + 1);
    let n11 = lattice_noise(ix + 1, iy + 1);
    let w = [
        (1.0 - tx) * (1.0 - ty),
        tx * (1.0 - ty),
        (1.0 - tx) * ty,
        tx * ty,
    ];
    let v = w[0] * n00 + w[1] * n10 + w[2] * n01 + w[3] * n11;
    // the variance of a weighted sum of independent unit variables is the sum of the squared
    // weights
    v / (w.iter().map(|a| a * a).sum::<f32>()).sqrt()
}
