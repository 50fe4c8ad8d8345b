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
//! Temperature and tint, the matrices and Bradford come from [`crate::color`]; this file is
//! the finish stage's use of them: the file's calibration -> one camera -> output matrix.
//!
//! White balance is applied to the mosaic with multipliers normalised so that the smallest is
//! 1: a neutral at the level where its first channel clips becomes (1, 1, 1), which the
//! matrices map to the D50 white with Y = 1.

use serde::{Deserialize, Serialize};

use crate::color::matrix::{diag, lerp};
use crate::color::{
    ColorSpace, D50_XYZ, D65_XY, IDENTITY, Matrix3, bradford, illuminant_temperature, inverse,
    mat_mul, mat_vec, temp_tint_to_xy, xy_to_temp_tint, xy_to_xyz, xyz_to_xy,
};
use crate::error::{Error, Result};
use crate::raw::{Calibration, Metadata};

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

#[cfg(test)]
mod tests {
    use super::*;

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
