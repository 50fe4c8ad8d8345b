//! Illuminants, the Planckian locus, correlated colour temperature and tint.
//!
//! The locus is the cubic approximation of Kim et al. (2002, valid 1667-25000 K). A
//! chromaticity's temperature is found by minimising the CIE 1960 (u, v) distance to the
//! locus in mired, and tint is the signed (u, v) distance from the locus times -3000
//! (positive = magenta, the convention of Adobe's tools).

/// The ICC profile connection space white, D50 (XYZ, Y = 1), as the DNG SDK uses it.
pub const D50_XYZ: [f64; 3] = [0.9642, 1.0, 0.8249];

/// D65 chromaticity as sRGB and Display P3 define it.
pub const D65_XY: [f64; 2] = [0.3127, 0.3290];

/// Chromaticity of CIE standard illuminant A (tungsten, 2856 K).
pub const A_XY: [f64; 2] = [0.44757, 0.40745];

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

    #[test]
    fn temperatures_of_standard_illuminants() {
        // Standard light A is a black body at 2856 K; D65 has CCT 6504 K and lies above
        // the locus (green side: negative tint); D50 5003 K.
        let (t, tint) = xy_to_temp_tint(A_XY);
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
}
