//! Chromatic adaptation: the Bradford transform (K. M. Lam 1985, as used by the ICC and the
//! DNG SDK), a von Kries scaling in a sharpened cone space.

use super::matrix::{IDENTITY, Matrix3, diag, inverse, mat_mul, mat_vec};

/// Bradford cone-response matrix (Lam 1985): XYZ -> sharpened cone responses.
pub const BRADFORD: Matrix3 = [
    [0.8951, 0.2664, -0.1614],
    [-0.7502, 1.7135, 0.0367],
    [0.0389, -0.0685, 1.0296],
];

/// Bradford chromatic adaptation from white `src` to white `dst` (both XYZ).
pub fn bradford(src: [f64; 3], dst: [f64; 3]) -> Matrix3 {
    let s = mat_vec(&BRADFORD, &src);
    let d = mat_vec(&BRADFORD, &dst);
    let scale = diag(std::array::from_fn(|i| d[i] / s[i]));
    let inv = inverse(&BRADFORD).unwrap_or(IDENTITY);
    mat_mul(&inv, &mat_mul(&scale, &BRADFORD))
}
