//! 3x3 matrices and chromaticity conversions: products, inverses, RGB <-> XYZ from primaries,
//! and the sRGB matrices of IEC 61966-2-1.

/// A 3x3 matrix, row-major.
pub type Matrix3 = [[f64; 3]; 3];

/// The identity matrix.
pub const IDENTITY: Matrix3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// Linear sRGB -> XYZ (D65 white X = 0.95047, Z = 1.08883, Y of white = 1), the IEC 61966-2-1
/// matrix to seven decimals (as B. Lindbloom tabulates it). [`XYZ_TO_SRGB`] is its inverse.
///
/// [`crate::color::ColorSpace::rgb_to_xyz`] derives the same matrix from the primaries and
/// the D65 chromaticity (0.3127, 0.3290); the two differ by up to 2.3e-4.
pub const SRGB_TO_XYZ: Matrix3 = [
    [0.412_456_4, 0.357_576_1, 0.180_437_5],
    [0.212_672_9, 0.715_152_2, 0.072_175_0],
    [0.019_333_9, 0.119_192_0, 0.950_304_1],
];

/// XYZ (D65) -> linear sRGB, the inverse of [`SRGB_TO_XYZ`] (IEC 61966-2-1, seven decimals).
pub const XYZ_TO_SRGB: Matrix3 = [
    [3.240_454_2, -1.537_138_5, -0.498_531_4],
    [-0.969_266_0, 1.876_010_8, 0.041_556_0],
    [0.055_643_4, -0.204_025_9, 1.057_225_2],
];

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

/// The diagonal matrix of `v`.
pub fn diag(v: [f64; 3]) -> Matrix3 {
    [[v[0], 0.0, 0.0], [0.0, v[1], 0.0], [0.0, 0.0, v[2]]]
}

/// `g * a + (1 - g) * b`.
pub fn lerp(a: &Matrix3, b: &Matrix3, g: f64) -> Matrix3 {
    std::array::from_fn(|r| std::array::from_fn(|c| g * a[r][c] + (1.0 - g) * b[r][c]))
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

#[cfg(test)]
pub(crate) fn close(a: &Matrix3, b: &Matrix3, tol: f64) -> bool {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .all(|(x, y)| (x - y).abs() < tol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_srgb_matrices_are_inverses() {
        assert!(close(&mat_mul(&SRGB_TO_XYZ, &XYZ_TO_SRGB), &IDENTITY, 1e-6));
    }
}
