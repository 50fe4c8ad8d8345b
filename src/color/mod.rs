//! Colour science, shared by every stage: a leaf module that imports no stage.
//!
//! - [`matrix`]: 3x3 matrices, inverses, chromaticity <-> XYZ, RGB -> XYZ from primaries, and
//!   the sRGB matrices of IEC 61966-2-1 ([`SRGB_TO_XYZ`], [`XYZ_TO_SRGB`]).
//! - [`adapt`]: Bradford chromatic adaptation.
//! - [`illuminant`]: D50 and D65, EXIF illuminant codes, the Planckian locus, correlated
//!   colour temperature and tint.
//! - [`transfer`]: the sRGB transfer curve (one implementation) and the Rec. 709 luma weights.
//! - [`ColorSpace`]: the output spaces (sRGB, Display P3).
//! - [`icc`]: ICC v4 profiles of the output spaces.
//! - [`delta_e`]: CIELAB and the CIEDE2000 colour difference.
//! - [`checker`]: the ColorChecker Classic reference colours.
//!
//! What turns a raw file's calibration into a camera -> output matrix (DNG chapter 6) is a
//! step of the finish stage (`crate::finish::color`), built from these pieces.

pub mod adapt;
pub mod checker;
pub mod delta_e;
pub mod icc;
pub mod illuminant;
pub mod matrix;
pub mod transfer;

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use adapt::bradford;
pub use delta_e::{ciede2000, srgb_to_lab};
pub use icc::icc_profile;
pub use illuminant::{
    A_XY, D50_XYZ, D65_XY, illuminant_temperature, planck_xy, temp_tint_to_xy, xy_to_temp_tint,
};
pub use matrix::{
    IDENTITY, Matrix3, SRGB_TO_XYZ, XYZ_TO_SRGB, inverse, mat_mul, mat_vec, rgb_to_xyz, xy_to_xyz,
    xyz_to_xy,
};
pub use transfer::{REC709_LUMA, srgb_decode, srgb_encode, srgb_to_linear, srgb8_to_linear};

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

    /// Luminance weights (the Y row of [`ColorSpace::rgb_to_xyz`]).
    pub fn luminance_weights(self) -> [f32; 3] {
        self.rgb_to_xyz()[1].map(|v| v as f32)
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

#[cfg(test)]
mod tests {
    use super::matrix::close;
    use super::*;

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
        // the seven-decimal matrix (from the XYZ white 0.95047, 1, 1.08883) differs from the
        // one derived from xy (0.3127, 0.3290) by up to 2.3e-4
        assert!(close(&m, &SRGB_TO_XYZ, 2.5e-4), "{m:?}");
        let luma = ColorSpace::Srgb.luminance_weights();
        assert!(
            luma.iter()
                .zip(REC709_LUMA)
                .all(|(a, b)| (a - b).abs() < 1e-4)
        );
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
}
