//! Transfer curves: the sRGB curve of IEC 61966-2-1 (also Display P3's), and Rec. 709 luma.
//!
//! `encoded = 12.92 L` for `L <= 0.0031308`, else `1.055 L^(1/2.4) - 0.055`; the inverse has
//! its knee at 0.04045. [`SRGB_PARAMETERS`] are the same curve in the ICC parametric form.
//! The finish stage applies the curve to whole planes through a table
//! (`crate::finish::encode_srgb_plane`), tested against [`srgb_encode`].

/// The sRGB curve as an ICC parametric curve of type 3 (`Y = (a X + b)^g` for `X >= d`,
/// `Y = c X` below): `[g, a, b, c, d]` = `[2.4, 1/1.055, 0.055/1.055, 1/12.92, 0.04045]`
/// (encoded -> linear).
pub const SRGB_PARAMETERS: [f64; 5] = [2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.040_45];

/// Rec. 709 / sRGB luma weights (the Y row of linear sRGB -> XYZ, to four decimals):
/// `Y = 0.2126 R + 0.7152 G + 0.0722 B`.
pub const REC709_LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// The sRGB transfer curve (IEC 61966-2-1), linear [0, 1] -> encoded [0, 1]; clamps.
pub fn srgb_encode(v: f32) -> f32 {
    let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
    if v <= 0.003_130_8 {
        12.92 * v
    } else {
        // in f64, so that 1 maps to exactly 1
        (1.055 * f64::from(v).powf(1.0 / 2.4) - 0.055) as f32
    }
}

/// The inverse sRGB transfer curve, encoded [0, 1] -> linear [0, 1] (clamped).
pub fn srgb_decode(v: f32) -> f32 {
    srgb_to_linear(f64::from(v.clamp(0.0, 1.0))) as f32
}

/// The inverse sRGB transfer curve (IEC 61966-2-1) in `f64`, unclamped.
pub fn srgb_to_linear(v: f64) -> f64 {
    if v <= 0.040_45 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// Linear sRGB of an 8-bit sRGB colour.
pub fn srgb8_to_linear(c: [u8; 3]) -> [f64; 3] {
    c.map(|v| srgb_to_linear(f64::from(v) / 255.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_round_trips_and_matches_its_parametric_form() {
        for v in [0.0f32, 0.001, 0.01, 0.18, 0.5, 1.0] {
            assert!((srgb_decode(srgb_encode(v)) - v).abs() < 1e-6);
        }
        let [g, a, b, c, d] = SRGB_PARAMETERS;
        for i in 0..=1000 {
            let x = f64::from(i) / 1000.0;
            let y = if x >= d { (a * x + b).powf(g) } else { c * x };
            assert!((y - srgb_to_linear(x)).abs() < 1e-12, "{x}");
        }
        assert_eq!(srgb_encode(1.0), 1.0);
    }
}
