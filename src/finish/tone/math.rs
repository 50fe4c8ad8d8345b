//! Fast math of the tone pixel loops: comparisons, cleaning of non-finite samples,
//! luminance, `log2` / `exp2` approximations, the hue-preserving clip.

use super::{BIG, LUM};

/// `max` and `min` by a plain comparison (the second operand when either is NaN). Unlike
/// `f32::max`, they map to one `maxps` / `minps`, which keeps the pixel loops vectorised on
/// baseline x86-64 (SSE2), where NaN-aware selects are expensive enough that the compiler
/// gave up vectorising them (measured: scalar code, 3x slower).
#[inline(always)]
pub(super) fn fmax(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

#[inline(always)]
pub(super) fn fmin(a: f32, b: f32) -> f32 {
    if a < b { a } else { b }
}

/// Non-finite samples become 0; finite ones are limited to ±BIG, so sums stay finite.
#[inline(always)]
pub(super) fn clean(v: f32) -> f32 {
    let a = v.abs();
    let big = if v > 0.0 { BIG } else { -BIG };
    if a <= BIG {
        v
    } else if a < f32::INFINITY {
        big
    } else {
        0.0
    }
}

#[inline(always)]
pub(super) fn luminance(r: f32, g: f32, b: f32) -> f32 {
    LUM[0] * r + LUM[1] * g + LUM[2] * b
}

/// `log2(x)` for positive normal `x`, to about 1e-7: exponent plus the odd series of
/// `atanh` on the mantissa folded into `[√½, √2)`. Written to vectorise.
#[inline(always)]
pub(super) fn fast_log2(x: f32) -> f32 {
    const C1: f32 = 2.0 * std::f32::consts::LOG2_E;
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { 0.5 * m } else { m };
    let e = (if big { e + 1 } else { e }) as f32;
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    e + t * (C1 + t2 * (C1 / 3.0 + t2 * (C1 / 5.0 + t2 * (C1 / 7.0))))
}

/// `2^x`, `x` clamped to `[-126, 126]` (NaN gives `2^-126`), to about 2e-6 relative, exact
/// at integers: integer part into the exponent bits, fraction by the degree-7 Taylor series
/// of `e^(f ln 2)`. Written to vectorise (no `floor`, which is a library call on baseline
/// x86-64, and no saturating float-to-integer conversion).
#[inline(always)]
pub(super) fn fast_exp2(x: f32) -> f32 {
    let x = fmin(fmax(x, -126.0), 126.0);
    // SAFETY: x is finite and within [-126, 126], so its integer part fits an i32.
    let t: i32 = unsafe { x.to_int_unchecked() };
    let i = if (t as f32) > x { t - 1 } else { t };
    let u = (x - i as f32) * std::f32::consts::LN_2;
    let p = 1.0
        + u * (1.0
            + u * (1.0 / 2.0
                + u * (1.0 / 6.0
                    + u * (1.0 / 24.0 + u * (1.0 / 120.0 + u * (1.0 / 720.0 + u / 5040.0))))));
    f32::from_bits(((i + 127) as u32) << 23) * p
}

/// Blends `(r, g, b)` toward its luminance just enough to bring every channel into
/// `[0, 1]` (luminance and hue kept); luminance `>= 1` gives white, `<= 0` black.
#[inline(always)]
pub(super) fn hue_clip(r: f32, g: f32, b: f32) -> [f32; 3] {
    let l = luminance(r, g, b);
    let (mx, mn) = (fmax(fmax(r, g), b), fmin(fmin(r, g), b));
    let t_hi = if mx > 1.0 {
        (1.0 - l) / fmax(mx - l, 1e-30)
    } else {
        1.0
    };
    let t_lo = if mn < 0.0 {
        l / fmax(l - mn, 1e-30)
    } else {
        1.0
    };
    let t = fmin(fmax(fmin(t_hi, t_lo), 0.0), 1.0);
    [r, g, b].map(|c| fmin(fmax(l + t * (c - l), 0.0), 1.0))
}
