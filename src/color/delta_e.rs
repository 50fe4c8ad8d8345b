//! Colour difference: CIELAB (D65) and CIEDE2000.
//!
//! CIEDE2000 follows CIE 142-2001 with the implementation notes of G. Sharma, W. Wu and
//! E. N. Dalal, "The CIEDE2000 color-difference formula: implementation notes, supplementary
//! test data, and mathematical observations", Color Research & Application 30(1), 2005; it is
//! checked against their 34 published test pairs (`tests/finish.rs`).

use super::matrix::{SRGB_TO_XYZ, mat_vec};
use super::transfer::srgb_to_linear;

/// CIELAB of an encoded sRGB colour (components in 0..=1, clamped), D65 reference white.
pub fn srgb_to_lab(c: [f64; 3]) -> [f64; 3] {
    let lin = c.map(|v| srgb_to_linear(v.clamp(0.0, 1.0)));
    xyz_to_lab(mat_vec(&SRGB_TO_XYZ, &lin))
}

/// CIELAB of XYZ relative to the D65 white of [`SRGB_TO_XYZ`] (its image of RGB (1, 1, 1)).
pub fn xyz_to_lab(xyz: [f64; 3]) -> [f64; 3] {
    let white = mat_vec(&SRGB_TO_XYZ, &[1.0; 3]);
    let f = |t: f64| {
        let d = 6.0 / 29.0;
        if t > d * d * d {
            t.cbrt()
        } else {
            t / (3.0 * d * d) + 4.0 / 29.0
        }
    };
    let [fx, fy, fz] = std::array::from_fn(|i| f(xyz[i] / white[i]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// Chroma C*ab of a CIELAB colour.
pub fn chroma(lab: [f64; 3]) -> f64 {
    lab[1].hypot(lab[2])
}

/// Hue angle h_ab of a CIELAB colour, in degrees, 0..360.
pub fn hue(lab: [f64; 3]) -> f64 {
    lab[2].atan2(lab[1]).to_degrees().rem_euclid(360.0)
}

/// CIEDE2000 colour difference of two CIELAB colours (kL = kC = kH = 1).
pub fn ciede2000(lab1: [f64; 3], lab2: [f64; 3]) -> f64 {
    let [l1, a1, b1] = lab1;
    let [l2, a2, b2] = lab2;
    let c_bar = 0.5 * (a1.hypot(b1) + a2.hypot(b2));
    let c7 = c_bar.powi(7);
    let g = 0.5 * (1.0 - (c7 / (c7 + 25f64.powi(7))).sqrt());
    let (a1p, a2p) = ((1.0 + g) * a1, (1.0 + g) * a2);
    let (c1p, c2p) = (a1p.hypot(b1), a2p.hypot(b2));
    let hp = |a: f64, b: f64| {
        if a == 0.0 && b == 0.0 {
            0.0
        } else {
            b.atan2(a).to_degrees().rem_euclid(360.0)
        }
    };
    let (h1p, h2p) = (hp(a1p, b1), hp(a2p, b2));
    let dl = l2 - l1;
    let dc = c2p - c1p;
    let dh = if c1p * c2p == 0.0 {
        0.0
    } else {
        let d = h2p - h1p;
        if d > 180.0 {
            d - 360.0
        } else if d < -180.0 {
            d + 360.0
        } else {
            d
        }
    };
    let dhh = 2.0 * (c1p * c2p).sqrt() * (dh.to_radians() / 2.0).sin();
    let lp = 0.5 * (l1 + l2);
    let cp = 0.5 * (c1p + c2p);
    let hbar = if c1p * c2p == 0.0 {
        h1p + h2p
    } else if (h1p - h2p).abs() <= 180.0 {
        0.5 * (h1p + h2p)
    } else if h1p + h2p < 360.0 {
        0.5 * (h1p + h2p + 360.0)
    } else {
        0.5 * (h1p + h2p - 360.0)
    };
    let t = 1.0 - 0.17 * (hbar - 30.0).to_radians().cos()
        + 0.24 * (2.0 * hbar).to_radians().cos()
        + 0.32 * (3.0 * hbar + 6.0).to_radians().cos()
        - 0.20 * (4.0 * hbar - 63.0).to_radians().cos();
    let dtheta = 30.0 * (-((hbar - 275.0) / 25.0).powi(2)).exp();
    let cp7 = cp.powi(7);
    let rc = 2.0 * (cp7 / (cp7 + 25f64.powi(7))).sqrt();
    let l50 = (lp - 50.0).powi(2);
    let sl = 1.0 + 0.015 * l50 / (20.0 + l50).sqrt();
    let sc = 1.0 + 0.045 * cp;
    let sh = 1.0 + 0.015 * cp * t;
    let rt = -(2.0 * dtheta).to_radians().sin() * rc;
    let (x, y, z) = (dl / sl, dc / sc, dhh / sh);
    (x * x + y * y + z * z + rt * y * z).sqrt()
}
