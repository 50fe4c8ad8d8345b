//! Colour: white balance and the camera RGB -> XYZ D50 -> output RGB matrices.
//!
//! Follows chapter 6 of the DNG specification (1.7), "Mapping Camera Color Space to CIE XYZ
//! Space":
//! - The scene's white is the camera-space **neutral**: `AsShotNeutral` by default, the
//!   reciprocal of user multipliers (`WhiteBalance::Multipliers`), or the camera's response to
//!   a colour temperature (`WhiteBalance::Temperature`).
//! - With two calibrations, the matrices are interpolated **linearly in inverse correlated
//!   colour temperature** between the two calibration illuminants. The temperature is that of
//!   the white's chromaticity, which itself depends on the interpolated `ColorMatrix`: the
//!   specification's fixed-point iteration (`white_xy`).
//! - With `ForwardMatrix` tags the white-balanced camera RGB maps straight to XYZ D50
//!   (normalised so that camera (1,1,1) is the D50 white, as the DNG SDK does). Without them,
//!   `Inverse(ColorMatrix)` gives XYZ under the scene white, and a **Bradford** adaptation
//!   takes that white to D50.
//! - XYZ D50 goes to the output space through Bradford D50 -> D65 and the space's primaries:
//!   sRGB (IEC 61966-2-1) or Display P3 (P3 primaries, D65 white).
//!
//! Temperature and tint: the Planckian locus is the cubic approximation of Kim et al. (2002,
//! valid 1667-25000 K); a chromaticity's temperature is found by minimising the CIE 1960
//! (u, v) distance to the locus in mired, and tint is the signed (u, v) distance from the
//! locus times -3000 (positive = magenta, the convention of Adobe's tools).
//!
//! White balance is applied to the mosaic with multipliers normalised so that the smallest is
//! 1: a neutral at the level where its first channel clips becomes (1, 1, 1), which the
//! matrices map to the D50 white with Y = 1.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::raw::{Calibration, Matrix3, Metadata};

/// Bradford cone-response matrix (Lam 1985, as used by ICC and the DNG SDK).
const BRADFORD: Matrix3 = [
    [0.8951, 0.2664, -0.1614],
    [-0.7502, 1.7135, 0.0367],
    [0.0389, -0.0685, 1.0296],
];

/// The ICC profile connection space white, D50 (XYZ, Y = 1).
pub const D50_XYZ: [f64; 3] = [0.9642, 1.0, 0.8249];

/// D65 chromaticity as sRGB and Display P3 define it.
pub const D65_XY: [f64; 2] = [0.3127, 0.3290];

/// White balance: where the scene's neutral comes from.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum WhiteBalance {
    /// The camera's as-shot neutral (DNG `AsShotNeutral`, or the camera multipliers).
    #[default]
    AsShot,
    /// Multipliers for the camera's R, G and B (any scale; only ratios matter).
    Multipliers([f64; 3]),
    /// A colour temperature in kelvin (1667-25000) and a tint (positive = magenta, about
    /// -150..150; 0 = on the Planckian locus). Needs the file's colour matrices.
    Temperature {
        /// Correlated colour temperature in kelvin.
        kelvin: f64,
        /// Tint, Adobe-style units.
        tint: f64,
    },
}

impl WhiteBalance {
    /// Parses `R,G,B` multipliers (the CLI's `--wb`).
    pub fn parse_multipliers(s: &str) -> Result<WhiteBalance> {
        let v: Vec<f64> = s
            .split(',')
            .map(|t| t.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                Error::parameter(
                    "white_balance",
                    format!("{s}: expected three numbers R,G,B"),
                )
            })?;
        if v.len() != 3 || v.iter().any(|x| !x.is_finite() || *x <= 0.0 || *x > 1e3) {
            return Err(Error::parameter(
                "white_balance",
                format!("{s}: expected three positive multipliers R,G,B (each at most 1000)"),
            ));
        }
        Ok(WhiteBalance::Multipliers([v[0], v[1], v[2]]))
    }

    /// Parses `K` or `K,tint` (the CLI's `--wb-temp`).
    pub fn parse_temperature(s: &str) -> Result<WhiteBalance> {
        let bad = || {
            Error::parameter(
                "white_balance temperature",
                format!(
                    "{s}: expected KELVIN[,TINT] with 1667 <= KELVIN <= 25000 and \
                     -150 <= TINT <= 150"
                ),
            )
        };
        let mut it = s.split(',').map(|t| t.trim().parse::<f64>());
        let kelvin = it.next().and_then(|r| r.ok()).ok_or_else(bad)?;
        let tint = match it.next() {
            Some(r) => r.map_err(|_| bad())?,
            None => 0.0,
        };
        if it.next().is_some()
            || !(1667.0..=25000.0).contains(&kelvin)
            || !(-150.0..=150.0).contains(&tint)
        {
            return Err(bad());
        }
        Ok(WhiteBalance::Temperature { kelvin, tint })
    }
}

/// The output colour space (primaries; both use D65 and the sRGB transfer curve).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ColorSpace {
    /// sRGB (IEC 61966-2-1). The default.
    #[default]
    Srgb,
    /// Display P3: DCI-P3 primaries, D65 white, sRGB transfer curve.
    DisplayP3,
}

impl ColorSpace {
    /// Chromaticities of the red, green and blue primaries.
    pub fn primaries(self) -> [[f64; 2]; 3] {
        match self {
            ColorSpace::Srgb => [[0.64, 0.33], [0.30, 0.60], [0.15, 0.06]],
            ColorSpace::DisplayP3 => [[0.680, 0.320], [0.265, 0.690], [0.150, 0.060]],
        }
    }

    /// Linear RGB -> XYZ (D65 white, Y of white = 1).
    pub fn rgb_to_xyz(self) -> Matrix3 {
        rgb_to_xyz(self.primaries(), D65_XY)
    }

    /// The name the CLI uses.
    pub fn name(self) -> &'static str {
        match self {
            ColorSpace::Srgb => "srgb",
            ColorSpace::DisplayP3 => "p3",
        }
    }
}

impl FromStr for ColorSpace {
    type Err = Error;
    fn from_str(s: &str) -> Result<ColorSpace> {
        match s.to_ascii_lowercase().as_str() {
            "srgb" => Ok(ColorSpace::Srgb),
            "p3" | "display-p3" | "displayp3" => Ok(ColorSpace::DisplayP3),
            _ => Err(Error::parameter(
                "colour space",
                format!("{s:?}: expected srgb or p3"),
            )),
        }
    }
}

/// Colour parameters of the finish stage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ColorParams {
    /// White balance. Default: as shot.
    pub white_balance: WhiteBalance,
    /// Output colour space. Default: sRGB.
    pub space: ColorSpace,
}

/// Everything the finish stage needs to turn camera RGB into output RGB, worked out once
/// per image from the metadata and [`ColorParams`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColorTransform {
    /// Multipliers for the camera's R, G, B photosites; the smallest is 1.
    pub multipliers: [f64; 3],
    /// The scene white's chromaticity (CIE xy).
    pub white_xy: [f64; 2],
    /// Its correlated colour temperature (K) and tint.
    pub temperature: f64,
    /// Tint (positive = magenta).
    pub tint: f64,
    /// Weight of the lower-temperature calibration in the interpolation (1 with one
    /// calibration).
    pub weight: f64,
    /// White-balanced camera RGB -> XYZ D50 (camera (1,1,1) -> D50 white).
    pub camera_to_xyz: Matrix3,
    /// White-balanced camera RGB -> linear output RGB.
    pub camera_to_output: Matrix3,
    /// Notes for the user (missing calibration, unknown illuminants).
    pub notes: Vec<String>,
}

/// Works out white balance and matrices for a frame's metadata.
///
/// Errors: [`WhiteBalance::Temperature`] without colour matrices, or a singular matrix.
pub fn color_transform(meta: &Metadata, params: &ColorParams) -> Result<ColorTransform> {
    let mut notes = Vec::new();
    let mut cals = meta.calibrations.clone();
    if cals.is_empty() {
        // No calibration at all: treat camera RGB as linear sRGB (D65), and say so.
        notes.push("no colour matrix in the file: camera RGB treated as linear sRGB".into());
        cals.push(Calibration {
            illuminant: 21,
            color_matrix: inverse(&ColorSpace::Srgb.rgb_to_xyz()).unwrap_or(IDENTITY),
            forward_matrix: None,
        });
    }
    let cals = Calibrations::new(&cals, &mut notes);

    let (neutral, xy) = match params.white_balance {
        WhiteBalance::AsShot | WhiteBalance::Multipliers(_) => {
            let neutral = match params.white_balance {
                WhiteBalance::Multipliers(m) => m.map(|v| 1.0 / v),
                _ => {
                    let n = meta.as_shot_neutral;
                    if n.iter().all(|v| v.is_finite() && *v > 0.0) {
                        n
                    } else {
                        notes.push("no usable as-shot white balance: using D65".into());
                        let cm = cals.color_matrix(6504.0);
                        mat_vec(&cm, &xy_to_xyz(D65_XY))
                    }
                }
            };
            let xy = white_xy(&cals, neutral)?;
            (neutral, xy)
        }
        WhiteBalance::Temperature { kelvin, tint } => {
            if meta.calibrations.is_empty() {
                return Err(Error::parameter(
                    "white_balance temperature",
                    "it needs the file's colour matrices, and this file has none; \
                     give multipliers instead",
                ));
            }
            let xy = temp_tint_to_xy(kelvin, tint);
            let cm = cals.color_matrix(kelvin);
            (mat_vec(&cm, &xy_to_xyz(xy)), xy)
        }
    };
    if neutral.iter().any(|v| !v.is_finite() || *v <= 0.0) {
        return Err(Error::parameter(
            "white_balance",
            format!("it gives a camera neutral {neutral:?} with a non-positive channel"),
        ));
    }
    let max = neutral.iter().cloned().fold(0.0, f64::max);
    let neutral = neutral.map(|v| v / max);
    let multipliers = neutral.map(|v| 1.0 / v);
    let (temperature, tint) = xy_to_temp_tint(xy);
    let weight = cals.weight(temperature);

    let camera_to_xyz = match cals.forward_matrix(temperature) {
        Some(fm) => {
            // DNG SDK normalisation: camera (1,1,1) must map to the D50 white exactly.
            let one = mat_vec(&fm, &[1.0; 3]);
            if one.iter().any(|v| v.abs() < 1e-9) {
                return Err(Error::decode("", "its ForwardMatrix maps white to zero"));
            }
            std::array::from_fn(|r| fm[r].map(|v| v * D50_XYZ[r] / one[r]))
        }
        None => {
            let cm = cals.color_matrix(temperature);
            let cam_to_xyz =
                inverse(&cm).ok_or_else(|| Error::decode("", "its ColorMatrix is singular"))?;
            let adapt = bradford(xy_to_xyz(xy), D50_XYZ);
            let m = mat_mul(&mat_mul(&adapt, &cam_to_xyz), &diag(neutral));
            let y = mat_vec(&m, &[1.0; 3])[1];
            if y.abs() < 1e-12 || !y.is_finite() {
                return Err(Error::decode("", "its ColorMatrix maps white to black"));
            }
            m.map(|row| row.map(|v| v / y))
        }
    };
    let xyz_to_out = inverse(&params.space.rgb_to_xyz()).unwrap_or(IDENTITY);
    let d50_to_d65 = bradford(D50_XYZ, xy_to_xyz(D65_XY));
    let camera_to_output = mat_mul(&mat_mul(&xyz_to_out, &d50_to_d65), &camera_to_xyz);
    Ok(ColorTransform {
        multipliers,
        white_xy: xy,
        temperature,
        tint,
        weight,
        camera_to_xyz,
        camera_to_output,
        notes,
    })
}

/// One or two calibrations, ordered by illuminant temperature.
struct Calibrations {
    /// (temperature in K or 0 if unknown, calibration)
    list: Vec<(f64, Calibration)>,
}

impl Calibrations {
    fn new(cals: &[Calibration], notes: &mut Vec<String>) -> Calibrations {
        let mut list: Vec<(f64, Calibration)> = cals
            .iter()
            .take(2)
            .map(|c| (illuminant_temperature(c.illuminant), c.clone()))
            .collect();
        if list.len() == 2 && list.iter().any(|(t, _)| *t == 0.0) {
            notes.push(format!(
                "calibration illuminants {} and {}: one is unknown, only the first is used",
                list[0].1.illuminant, list[1].1.illuminant
            ));
            list.truncate(1);
        }
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        Calibrations { list }
    }

    /// Weight of the lower-temperature calibration at temperature `t` (DNG 1.7, chapter 6:
    /// linear in 1/T, clamped to the calibrated range).
    fn weight(&self, t: f64) -> f64 {
        if self.list.len() < 2 {
            return 1.0;
        }
        let (t1, t2) = (self.list[0].0, self.list[1].0);
        if t <= t1 || t1 == t2 {
            1.0
        } else if t >= t2 {
            0.0
        } else {
            (1.0 / t - 1.0 / t2) / (1.0 / t1 - 1.0 / t2)
        }
    }

    fn color_matrix(&self, t: f64) -> Matrix3 {
        let g = self.weight(t);
        match self.list.as_slice() {
            [(_, a), (_, b)] => lerp(&a.color_matrix, &b.color_matrix, g),
            [(_, a)] => a.color_matrix,
            _ => IDENTITY,
        }
    }

    /// The interpolated forward matrix, when every calibration has one.
    fn forward_matrix(&self, t: f64) -> Option<Matrix3> {
        let g = self.weight(t);
        match self.list.as_slice() {
            [(_, a), (_, b)] => Some(lerp(&a.forward_matrix?, &b.forward_matrix?, g)),
            [(_, a)] => a.forward_matrix,
            _ => None,
        }
    }
}

/// The chromaticity of the white whose camera response is `neutral`: the fixed point of
/// xy -> temperature -> interpolated ColorMatrix -> Inverse(CM) * neutral -> xy.
fn white_xy(cals: &Calibrations, neutral: [f64; 3]) -> Result<[f64; 2]> {
    let d50 = xyz_to_xy(D50_XYZ);
    let mut xy = d50;
    for _ in 0..50 {
        let (t, _) = xy_to_temp_tint(xy);
        let cm = cals.color_matrix(t);
        let inv = inverse(&cm).ok_or_else(|| Error::decode("", "its ColorMatrix is singular"))?;
        let next = xyz_to_xy(mat_vec(&inv, &neutral));
        if !next.iter().all(|v| v.is_finite()) {
            return Err(Error::parameter(
                "white_balance",
                format!("{neutral:?} has no chromaticity under the file's ColorMatrix"),
            ));
        }
        let done = (next[0] - xy[0]).abs() + (next[1] - xy[1]).abs() < 1e-10;
        // Half steps once it oscillates would also converge; the map is a contraction for
        // real cameras, so a plain iteration with a cap is enough.
        xy = next;
        if done {
            break;
        }
    }
    Ok(xy)
}

/// Colour temperature of an EXIF LightSource code (0 when unknown). Fluorescent and named
/// daylight types use the centre of their specified range.
pub fn illuminant_temperature(code: u16) -> f64 {
    match code {
        1 | 4 | 9 => 5500.0, // daylight, flash, fine weather
        2 | 14 => 4150.0,    // fluorescent, cool white fluorescent (W 3900-4500)
        3 => 2850.0,         // tungsten
        10 => 6500.0,        // cloudy
        11 => 7500.0,        // shade
        12 => 6400.0,        // daylight fluorescent (D 5700-7100)
        13 => 5050.0,        // day white fluorescent (N 4600-5500)
        15 => 3525.0,        // white fluorescent (WW 3250-3800)
        16 => 2925.0,        // warm white fluorescent (L 2600-3250)
        17 => 2856.0,        // standard light A
        18 => 4874.0,        // standard light B
        19 => 6774.0,        // standard light C
        20 => 5503.0,        // D55
        21 => 6504.0,        // D65
        22 => 7504.0,        // D75
        23 => 5003.0,        // D50
        24 => 3200.0,        // ISO studio tungsten
        _ => 0.0,
    }
}

/// The identity matrix.
pub const IDENTITY: Matrix3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// `a * b`.
pub fn mat_mul(a: &Matrix3, b: &Matrix3) -> Matrix3 {
    std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| a[r][k] * b[k][c]).sum()))
}

/// `m * v`.
pub fn mat_vec(m: &Matrix3, v: &[f64; 3]) -> [f64; 3] {
    std::array::from_fn(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2])
}

/// The inverse, or `None` for a (nearly) singular matrix.
pub fn inverse(m: &Matrix3) -> Option<Matrix3> {
    let c = |r: usize, k: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (k1, k2) = ((k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    let scale = m.iter().flatten().fold(0.0f64, |a, v| a.max(v.abs()));
    if !det.is_finite() || det.abs() <= 1e-12 * scale.powi(3) || scale == 0.0 {
        return None;
    }
    // inverse = adjugate / det; adjugate[r][k] = cofactor[k][r]
    Some(std::array::from_fn(|r| {
        std::array::from_fn(|k| c(k, r) / det)
    }))
}

fn diag(v: [f64; 3]) -> Matrix3 {
    [[v[0], 0.0, 0.0], [0.0, v[1], 0.0], [0.0, 0.0, v[2]]]
}

/// `g * a + (1 - g) * b`.
fn lerp(a: &Matrix3, b: &Matrix3, g: f64) -> Matrix3 {
    std::array::from_fn(|r| std::array::from_fn(|c| g * a[r][c] + (1.0 - g) * b[r][c]))
}

/// Bradford chromatic adaptation from white `src` to white `dst` (both XYZ).
pub fn bradford(src: [f64; 3], dst: [f64; 3]) -> Matrix3 {
    let s = mat_vec(&BRADFORD, &src);
    let d = mat_vec(&BRADFORD, &dst);
    let scale = diag(std::array::from_fn(|i| d[i] / s[i]));
    let inv = inverse(&BRADFORD).unwrap_or(IDENTITY);
    mat_mul(&inv, &mat_mul(&scale, &BRADFORD))
}

/// XYZ with Y = 1 of a chromaticity.
pub fn xy_to_xyz(xy: [f64; 2]) -> [f64; 3] {
    let [x, y] = xy;
    let y = y.max(1e-9);
    [x / y, 1.0, (1.0 - x - y) / y]
}

/// Chromaticity of an XYZ colour (D50 for black).
pub fn xyz_to_xy(xyz: [f64; 3]) -> [f64; 2] {
    let s = xyz[0] + xyz[1] + xyz[2];
    if s.abs() < 1e-300 {
        return [0.3457, 0.3585];
    }
    [xyz[0] / s, xyz[1] / s]
}

/// Linear RGB -> XYZ from primaries and a white chromaticity (white has Y = 1).
pub fn rgb_to_xyz(primaries: [[f64; 2]; 3], white: [f64; 2]) -> Matrix3 {
    let p: Matrix3 = std::array::from_fn(|r| std::array::from_fn(|c| xy_to_xyz(primaries[c])[r]));
    let s = mat_vec(&inverse(&p).unwrap_or(IDENTITY), &xy_to_xyz(white));
    std::array::from_fn(|r| std::array::from_fn(|c| p[r][c] * s[c]))
}

/// CIE 1960 (u, v) of a chromaticity.
fn xy_to_uv([x, y]: [f64; 2]) -> [f64; 2] {
    let d = -2.0 * x + 12.0 * y + 3.0;
    [4.0 * x / d, 6.0 * y / d]
}

fn uv_to_xy([u, v]: [f64; 2]) -> [f64; 2] {
    let d = 2.0 * u - 8.0 * v + 4.0;
    [3.0 * u / d, 2.0 * v / d]
}

/// Chromaticity of a black body at `t` kelvin (Kim et al. 2002 cubic fit, 1667-25000 K;
/// clamped to that range).
pub fn planck_xy(t: f64) -> [f64; 2] {
    let t = t.clamp(1667.0, 25000.0);
    let (t1, t2, t3) = (1e3 / t, 1e6 / (t * t), 1e9 / (t * t * t));
    let x = if t <= 4000.0 {
        -0.2661239 * t3 - 0.2343589 * t2 + 0.8776956 * t1 + 0.179910
    } else {
        -3.0258469 * t3 + 2.1070379 * t2 + 0.2226347 * t1 + 0.240390
    };
    let (x2, x3) = (x * x, x * x * x);
    let y = if t <= 2222.0 {
        -1.1063814 * x3 - 1.34811020 * x2 + 2.18555832 * x - 0.20219683
    } else if t <= 4000.0 {
        -0.9549476 * x3 - 1.37418593 * x2 + 2.09137015 * x - 0.16748867
    } else {
        3.0817580 * x3 - 5.87338670 * x2 + 3.75112997 * x - 0.37001483
    };
    [x, y]
}

/// Unit normal of the locus in (u, v) at `t`, pointing towards green (increasing v).
fn locus_normal(t: f64) -> [f64; 2] {
    let m = 1e6 / t;
    let a = xy_to_uv(planck_xy(1e6 / (m - 0.5)));
    let b = xy_to_uv(planck_xy(1e6 / (m + 0.5)));
    let (du, dv) = (b[0] - a[0], b[1] - a[1]);
    let len = (du * du + dv * dv).sqrt().max(1e-12);
    let n = [-dv / len, du / len];
    if n[1] < 0.0 { [-n[0], -n[1]] } else { n }
}

/// Tint units per unit of (u, v) distance from the locus (Adobe's scale; negative because
/// positive tint means magenta, away from green).
const TINT_SCALE: f64 = -3000.0;

/// Chromaticity of temperature `t` and `tint`.
pub fn temp_tint_to_xy(t: f64, tint: f64) -> [f64; 2] {
    let uv = xy_to_uv(planck_xy(t));
    let n = locus_normal(t);
    let d = tint / TINT_SCALE;
    uv_to_xy([uv[0] + d * n[0], uv[1] + d * n[1]])
}

/// Correlated colour temperature (K, 1667-25000) and tint of a chromaticity.
pub fn xy_to_temp_tint(xy: [f64; 2]) -> (f64, f64) {
    let uv = xy_to_uv(xy);
    let dist = |mired: f64| {
        let p = xy_to_uv(planck_xy(1e6 / mired));
        (p[0] - uv[0]).powi(2) + (p[1] - uv[1]).powi(2)
    };
    // coarse scan in mired (40-600), then golden-section refinement around the best sample
    let (lo_m, hi_m) = (1e6 / 25000.0, 1e6 / 1667.0);
    let steps = 112;
    let h = (hi_m - lo_m) / steps as f64;
    let best = (0..=steps)
        .map(|i| lo_m + h * i as f64)
        .min_by(|a, b| dist(*a).total_cmp(&dist(*b)))
        .unwrap_or(200.0);
    let (mut a, mut b) = ((best - h).max(lo_m), (best + h).min(hi_m));
    let phi = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..60 {
        let c = b - phi * (b - a);
        let d = a + phi * (b - a);
        if dist(c) < dist(d) {
            b = d;
        } else {
            a = c;
        }
    }
    let t = 1e6 / (0.5 * (a + b));
    let p = xy_to_uv(planck_xy(t));
    let n = locus_normal(t);
    let tint = ((uv[0] - p[0]) * n[0] + (uv[1] - p[1]) * n[1]) * TINT_SCALE;
    (t, tint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &Matrix3, b: &Matrix3, tol: f64) -> bool {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() < tol)
    }

    #[test]
    fn srgb_matrix_matches_the_standard() {
        // IEC 61966-2-1 gives the D65 matrix to 4 decimals
        let m = ColorSpace::Srgb.rgb_to_xyz();
        let std = [
            [0.4124, 0.3576, 0.1805],
            [0.2126, 0.7152, 0.0722],
            [0.0193, 0.1192, 0.9505],
        ];
        assert!(close(&m, &std, 1.5e-4), "{m:?}");
    }

    #[test]
    fn inverse_and_bradford() {
        let m = ColorSpace::DisplayP3.rgb_to_xyz();
        let i = inverse(&m).unwrap();
        assert!(close(&mat_mul(&m, &i), &IDENTITY, 1e-12));
        assert!(inverse(&[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 0.0]]).is_none());
        // Bradford maps the source white onto the destination white, and back again
        let a = bradford(xy_to_xyz(D65_XY), D50_XYZ);
        let w = mat_vec(&a, &xy_to_xyz(D65_XY));
        assert!(w.iter().zip(D50_XYZ).all(|(x, y)| (x - y).abs() < 1e-12));
        let back = bradford(D50_XYZ, xy_to_xyz(D65_XY));
        assert!(close(&mat_mul(&a, &back), &IDENTITY, 1e-12));
    }

    #[test]
    fn temperatures_of_standard_illuminants() {
        // Standard light A is a black body at 2856 K; D65 has CCT 6504 K and lies above
        // the locus (green side: negative tint); D50 5003 K.
        let (t, tint) = xy_to_temp_tint([0.44757, 0.40745]);
        assert!(
            (t - 2856.0).abs() < 10.0 && tint.abs() < 2.0,
            "A: {t} {tint}"
        );
        let (t, tint) = xy_to_temp_tint(D65_XY);
        assert!((t - 6504.0).abs() < 40.0 && tint < 0.0, "D65: {t} {tint}");
        let (t, _) = xy_to_temp_tint([0.3457, 0.3585]);
        assert!((t - 5003.0).abs() < 30.0, "D50: {t}");
        // temperature and tint round-trip
        for &(k, tint) in &[
            (2000.0, 0.0),
            (3200.0, 20.0),
            (5500.0, -10.0),
            (9000.0, 40.0),
        ] {
            let (k2, t2) = xy_to_temp_tint(temp_tint_to_xy(k, tint));
            assert!(
                (k2 - k).abs() / k < 2e-3 && (t2 - tint).abs() < 0.05,
                "{k} {tint}"
            );
        }
    }

    fn cal(illuminant: u16, cm: Matrix3) -> Calibration {
        Calibration {
            illuminant,
            color_matrix: cm,
            forward_matrix: None,
        }
    }

    #[test]
    fn interpolation_follows_inverse_temperature() {
        let mut notes = Vec::new();
        let cals = Calibrations::new(&[cal(21, IDENTITY), cal(17, IDENTITY)], &mut notes);
        assert_eq!(cals.list[0].0, 2856.0);
        assert_eq!(cals.weight(2000.0), 1.0);
        assert_eq!(cals.weight(9000.0), 0.0);
        // halfway in mired between 2856 and 6504 K
        let mid = 2.0 / (1.0 / 2856.0 + 1.0 / 6504.0);
        assert!((cals.weight(mid) - 0.5).abs() < 1e-12);
        assert!(notes.is_empty());
    }

    #[test]
    fn as_shot_neutral_becomes_white() {
        // a camera whose XYZ -> camera matrix is sRGB's inverse scaled per channel
        let cm0 = inverse(&ColorSpace::Srgb.rgb_to_xyz()).unwrap();
        let sens = [0.5, 1.0, 0.7];
        let cm = std::array::from_fn(|r| cm0[r].map(|v| v * sens[r]));
        let meta = Metadata {
            as_shot_neutral: sens,
            calibrations: vec![cal(21, cm)],
            ..Default::default()
        };
        let t = color_transform(&meta, &ColorParams::default()).unwrap();
        assert!((t.multipliers[0] - 2.0).abs() < 1e-12 && t.multipliers[1] == 1.0);
        let white = mat_vec(&t.camera_to_output, &[1.0; 3]);
        assert!(white.iter().all(|v| (v - 1.0).abs() < 1e-9), "{white:?}");
        assert!((t.white_xy[0] - D65_XY[0]).abs() < 1e-9);
        // a colour: camera response of pure sRGB red comes out as (1, 0, 0)
        let red = mat_vec(&t.camera_to_output, &[1.0 / 0.5 * 0.5, 0.0, 0.0]);
        assert!((red[0] - 1.0).abs() < 1e-9 && red[1].abs() < 1e-9 && red[2].abs() < 1e-9);
    }

    #[test]
    fn white_balance_parsing() {
        assert_eq!(
            WhiteBalance::parse_multipliers("2,1,1.5").unwrap(),
            WhiteBalance::Multipliers([2.0, 1.0, 1.5])
        );
        for bad in ["2,1", "2,1,x", "0,1,1", "-1,1,1", "1,1,1,1", "inf,1,1"] {
            assert!(WhiteBalance::parse_multipliers(bad).is_err(), "{bad}");
        }
        assert_eq!(
            WhiteBalance::parse_temperature("3200").unwrap(),
            WhiteBalance::Temperature {
                kelvin: 3200.0,
                tint: 0.0
            }
        );
        for bad in ["100", "3200,500", "abc", "3200,1,2", "nan"] {
            assert!(WhiteBalance::parse_temperature(bad).is_err(), "{bad}");
        }
    }
}
