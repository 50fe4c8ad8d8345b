//! The Global curve and its full-resolution pass.

use rayon::prelude::*;

use super::math::{clean, fmax, fmin, hue_clip, luminance};
use super::{KNEE, LOG2_FLOOR, curve_row};
use crate::cpu::Isa;
use crate::image::{Plane, par_rows3};

/// The Global curve for one highlight level (see the module docs), optionally scaled down
/// to leave headroom: `apply(y) = h T(y / h)`, identity below `h k`, `white` mapped to `h`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Curve {
    /// `1 / c`; 0 when `white / h` is at most 1 (identity).
    inv_c: f32,
    /// Headroom `h`, the value `white` maps to (1 for Global).
    h: f32,
}

impl Curve {
    pub(super) fn new(white: f32, h: f32) -> Curve {
        let w = if white.is_finite() {
            (white / h).max(1.0)
        } else {
            1.0
        };
        Curve {
            inv_c: (w - 1.0) / ((1.0 - KNEE) * (w - KNEE)),
            h,
        }
    }

    #[inline(always)]
    pub(super) fn apply(self, y: f32) -> f32 {
        let e = fmax(y - self.h * KNEE, 0.0);
        fmin(y, self.h * KNEE + e / (1.0 + e * self.inv_c / self.h))
    }
}

/// The Global mode's pass: all three channels times `T(Y) / Y`, then [`hue_clip`].
pub(super) fn apply_curve(isa: Isa, rgb: &mut [Plane<f32>; 3], curve: Curve) {
    let w = rgb[0].width;
    par_rows3(rgb, w).for_each(|rows| curve_row(isa, rows, curve));
}

/// One row of [`apply_curve`].
#[inline(always)]
pub(super) fn curve_row_body([r, g, b]: [&mut [f32]; 3], curve: Curve) {
    let floor = LOG2_FLOOR.exp2();
    let n = r.len();
    let (g, b) = (&mut g[..n], &mut b[..n]);
    for x in 0..n {
        let (cr, cg, cb) = (clean(r[x]), clean(g[x]), clean(b[x]));
        let l = luminance(cr, cg, cb);
        let gain = if l > floor { curve.apply(l) / l } else { 1.0 };
        [r[x], g[x], b[x]] = hue_clip(cr * gain, cg * gain, cb * gain);
    }
}
