//! The sharp elements analytic scenes are drawn from: rectangles, discs, ramps, Siemens
//! stars, the colour-patch chart, zone plates, bar groups and bitmap text.
//!
//! Each [`Primitive`] answers, for a point, whether it covers it and with what untextured
//! colour and texture strength ([`Primitive::hit`]); the scene ([`super::scene`]) draws them
//! opaquely, topmost first, over a textured background. Everything is point-sampled: edges
//! are exact, and the renderer's supersampling integrates them.

use super::floor_i64;

/// Texture strength (scale of the texture value `z` in the texture gain) of the procedural
/// scene's discs, ramps and star; its rectangles carry their own, the colour chart has none.
pub(super) const SHAPE_TEXTURE: f64 = 0.25;
const RAMP_TEXTURE: f64 = 0.04;
pub(super) const STAR_TEXTURE: f64 = 0.06;

/// Side of a colour patch of [`Primitive::ColorChart`] in pixels (below 16, see the
/// procedural scene's docs).
pub(super) const PATCH: f64 = 14.0;
/// Distance between the colour chart's patch origins in pixels.
pub(super) const PATCH_PITCH: f64 = 20.0;

/// Width and height of a glyph of [`FONT`], in font pixels.
pub(super) const GLYPH: [usize; 2] = [5, 7];
/// Horizontal distance between glyph origins in font pixels (one blank column).
pub(super) const ADVANCE: usize = 6;
/// Blank font pixels around the text of a [`Primitive::Text`] label.
pub(super) const LABEL_MARGIN: usize = 1;

/// One element of an analytic scene, drawn opaquely over the background and the elements
/// before it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Primitive {
    /// A rotated rectangle: centre, half extents along its own axes, cos and sin of its
    /// angle, colour, texture strength.
    Rect {
        c: [f64; 2],
        half: [f64; 2],
        cs: [f64; 2],
        rgb: [f64; 3],
        texture: f64,
    },
    /// A textured disc: centre, squared radius, colour.
    Disc { c: [f64; 2], r2: f64, rgb: [f64; 3] },
    /// A grey ramp from 0.005 to 1.0 left to right: `[x0, y0, x1, y1]`.
    GreyRamp([f64; 4]),
    /// A hue cycle left to right: `[x0, y0, x1, y1]`.
    HueRamp([f64; 4]),
    /// A Siemens star: centre, squared radius, number of light/dark spoke pairs, light and
    /// dark grey, texture strength. A spoke boundary lies on the +x axis, light below it
    /// (y down: angles turn from +x towards +y).
    Star {
        c: [f64; 2],
        r2: f64,
        spokes: u32,
        tones: [f64; 2],
        texture: f64,
    },
    /// The 6 x 4 colour chart with its top-left corner at `origin` (colours passed to
    /// [`Primitive::hit`]).
    ColorChart { origin: [f64; 2] },
    /// A zone plate: grey `0.465 + 0.435 cos(k r^2)` at squared distance `r^2` from the
    /// centre, inside squared radius `r2`; its local frequency is `k r / pi` cycles per pixel.
    ZonePlate { c: [f64; 2], r2: f64, k: f64 },
    /// Bars filling `rect` = `[x0, y0, x1, y1]`: pairs of `period` pixels, the first half of
    /// each pair `colors[0]`, the second `colors[1]`, starting at the left edge (`vertical`
    /// bars, varying along x) or the top edge (horizontal bars, varying along y).
    Bars {
        rect: [f64; 4],
        period: f64,
        vertical: bool,
        colors: [[f64; 3]; 2],
    },
    /// One line of [`FONT`] text in `ink` on a `paper` label: font pixels of `scale` scene
    /// pixels, the label's top-left corner at `origin`, [`LABEL_MARGIN`] font pixels around
    /// the text. Characters without a glyph are blank.
    Text {
        origin: [f64; 2],
        scale: f64,
        text: &'static str,
        ink: [f64; 3],
        paper: [f64; 3],
    },
}

impl Primitive {
    /// The colour and texture strength at (`x`, `y`) if the primitive covers it;
    /// `palette` holds the colour chart's linear colours.
    #[inline(always)]
    pub fn hit(&self, x: f64, y: f64, palette: &[[f64; 3]; 24]) -> Option<([f64; 3], f64)> {
        let in_rect = |r: &[f64; 4]| x >= r[0] && x < r[2] && y >= r[1] && y < r[3];
        match self {
            Primitive::Rect {
                c,
                half,
                cs,
                rgb,
                texture,
            } => {
                let (dx, dy) = (x - c[0], y - c[1]);
                let u = cs[0] * dx + cs[1] * dy;
                let v = -cs[1] * dx + cs[0] * dy;
                (u.abs() < half[0] && v.abs() < half[1]).then_some((*rgb, *texture))
            }
            Primitive::Disc { c, r2, rgb } => {
                let (dx, dy) = (x - c[0], y - c[1]);
                (dx * dx + dy * dy < *r2).then_some((*rgb, SHAPE_TEXTURE))
            }
            Primitive::GreyRamp(r) => in_rect(r).then(|| {
                let t = (x - r[0]) / (r[2] - r[0]);
                ([0.005 + 0.995 * t; 3], RAMP_TEXTURE)
            }),
            Primitive::HueRamp(r) => in_rect(r).then(|| {
                // Each channel a smooth periodic bump, a third of a cycle apart: at phase s in
                // [0, 1), 0.05 + 0.6 (1 - (2s - 1)^2)^2, which is C1 across the wrap.
                let t = (x - r[0]) / (r[2] - r[0]);
                let hue = |phase: f64| {
                    let s = t + 1.0 - phase;
                    let s = s - floor_i64(s) as f64;
                    let d = 2.0 * s - 1.0;
                    let b = 1.0 - d * d;
                    0.05 + 0.6 * b * b
                };
                ([hue(0.0), hue(1.0 / 3.0), hue(2.0 / 3.0)], RAMP_TEXTURE)
            }),
            Primitive::Star {
                c,
                r2,
                spokes,
                tones,
                texture,
            } => {
                let (dx, dy) = (x - c[0], y - c[1]);
                let d2 = dx * dx + dy * dy;
                if d2 >= *r2 {
                    return None;
                }
                // Constant spoke counts unroll the power loop.
                let light = match *spokes {
                    36 => star_is_light(dx, dy, d2, 36),
                    64 => star_is_light(dx, dy, d2, 64),
                    n => star_is_light(dx, dy, d2, n),
                };
                Some(([if light { tones[0] } else { tones[1] }; 3], *texture))
            }
            Primitive::ColorChart { origin } => {
                let u = (x - origin[0]) * (1.0 / PATCH_PITCH);
                let v = (y - origin[1]) * (1.0 / PATCH_PITCH);
                if !(0.0..6.0).contains(&u) || !(0.0..4.0).contains(&v) {
                    return None;
                }
                // Non-negative here, so truncation is the floor.
                let (col, row) = (u as usize, v as usize);
                let inside = (u - col as f64) * PATCH_PITCH < PATCH
                    && (v - row as f64) * PATCH_PITCH < PATCH;
                inside.then(|| (palette[row * 6 + col], 0.0))
            }
            Primitive::ZonePlate { c, r2, k } => {
                let (dx, dy) = (x - c[0], y - c[1]);
                let d2 = dx * dx + dy * dy;
                (d2 < *r2).then(|| ([0.465 + 0.435 * (k * d2).cos(); 3], 0.0))
            }
            Primitive::Bars {
                rect,
                period,
                vertical,
                colors,
            } => in_rect(rect).then(|| {
                let t = if *vertical {
                    (x - rect[0]) / period
                } else {
                    (y - rect[1]) / period
                };
                // t >= 0 inside the rectangle, so truncation is the floor.
                let first = t - ((t as u64) as f64) < 0.5;
                (colors[usize::from(!first)], 0.0)
            }),
            Primitive::Text {
                origin,
                scale,
                text,
                ink,
                paper,
            } => text_hit(x, y, *origin, *scale, text, [ink, paper]),
        }
    }

    /// Axis-aligned bounding box `[x0, y0, x1, y1]`.
    pub fn bbox(&self) -> [f64; 4] {
        match *self {
            Primitive::Rect { c, half, cs, .. } => {
                let ex = half[0] * cs[0].abs() + half[1] * cs[1].abs();
                let ey = half[0] * cs[1].abs() + half[1] * cs[0].abs();
                [c[0] - ex, c[1] - ey, c[0] + ex, c[1] + ey]
            }
            Primitive::Disc { c, r2, .. }
            | Primitive::Star { c, r2, .. }
            | Primitive::ZonePlate { c, r2, .. } => {
                let r = r2.sqrt();
                [c[0] - r, c[1] - r, c[0] + r, c[1] + r]
            }
            Primitive::GreyRamp(r) | Primitive::HueRamp(r) | Primitive::Bars { rect: r, .. } => r,
            Primitive::ColorChart { origin } => [
                origin[0],
                origin[1],
                origin[0] + 5.0 * PATCH_PITCH + PATCH,
                origin[1] + 3.0 * PATCH_PITCH + PATCH,
            ],
            Primitive::Text {
                origin,
                scale,
                text,
                ..
            } => {
                let [w, h] = label_size(text.len());
                [
                    origin[0],
                    origin[1],
                    origin[0] + w as f64 * scale,
                    origin[1] + h as f64 * scale,
                ]
            }
        }
    }
}

/// [`Primitive::hit`] for [`Primitive::Text`]: `colors` are ink and paper. Kept out of
/// line, so that the other primitives' code stays small.
#[inline(never)]
fn text_hit(
    x: f64,
    y: f64,
    origin: [f64; 2],
    scale: f64,
    text: &str,
    colors: [&[f64; 3]; 2],
) -> Option<([f64; 3], f64)> {
    let u = (x - origin[0]) / scale;
    let v = (y - origin[1]) / scale;
    let [w, h] = label_size(text.len());
    if !(u >= 0.0 && u < w as f64 && v >= 0.0 && v < h as f64) {
        return None;
    }
    // Font pixel (col, row) of the text, counted from the text's corner.
    let col = (u as usize).wrapping_sub(LABEL_MARGIN);
    let row = (v as usize).wrapping_sub(LABEL_MARGIN);
    let on = row < GLYPH[1]
        && col < text.len() * ADVANCE
        && col % ADVANCE < GLYPH[0]
        && glyph(text.as_bytes()[col / ADVANCE])[row] >> (GLYPH[0] - 1 - col % ADVANCE) & 1 == 1;
    Some((*colors[usize::from(!on)], 0.0))
}

/// Width and height in font pixels of a label holding `chars` characters.
pub(super) fn label_size(chars: usize) -> [usize; 2] {
    let text_w = (chars * ADVANCE).saturating_sub(ADVANCE - GLYPH[0]);
    [text_w + 2 * LABEL_MARGIN, GLYPH[1] + 2 * LABEL_MARGIN]
}

/// Whether offset (`dx`, `dy`) at squared radius `r2` from a star's centre falls on a light
/// spoke: `sin(n phi) >= 0` for its angle `phi` and `n = spokes`, evaluated without
/// trigonometry as the sign of the imaginary part of `(e^{i phi})^n`, by repeated squaring
/// (for 36: `z^4 z^32`).
#[inline(always)]
fn star_is_light(dx: f64, dy: f64, r2: f64, spokes: u32) -> bool {
    if r2 == 0.0 {
        return true;
    }
    let inv = 1.0 / r2.sqrt();
    let mul = |a: (f64, f64), b: (f64, f64)| (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0);
    // z runs through z^1, z^2, z^4, ...; acc collects the powers of n's set bits.
    let mut z = (dx * inv, dy * inv);
    let mut acc: Option<(f64, f64)> = None;
    let mut n = spokes;
    loop {
        if n & 1 == 1 {
            acc = Some(acc.map_or(z, |a| mul(a, z)));
        }
        n >>= 1;
        if n == 0 {
            break;
        }
        z = mul(z, z);
    }
    acc.is_none_or(|a| a.1 >= 0.0)
}

/// A 5 x 7 bitmap font of the digits, capital letters, space and `.-:/`: each glyph is 7
/// rows, top first, the 5 low bits of a row its columns with the leftmost in bit 4. Drawn for
/// this project.
const FONT: [(u8, [u8; 7]); 41] = [
    (b' ', [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
    (b'.', [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C]),
    (b'-', [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00]),
    (b':', [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00]),
    (b'/', [0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10]),
    (b'0', [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E]),
    (b'1', [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    (b'2', [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F]),
    (b'3', [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E]),
    (b'4', [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02]),
    (b'5', [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E]),
    (b'6', [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E]),
    (b'7', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08]),
    (b'8', [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E]),
    (b'9', [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C]),
    (b'A', [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    (b'B', [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E]),
    (b'C', [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E]),
    (b'D', [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C]),
    (b'E', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F]),
    (b'F', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10]),
    (b'G', [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F]),
    (b'H', [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    (b'I', [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    (b'J', [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C]),
    (b'K', [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11]),
    (b'L', [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F]),
    (b'M', [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11]),
    (b'N', [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11]),
    (b'O', [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]),
    (b'P', [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10]),
    (b'Q', [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D]),
    (b'R', [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11]),
    (b'S', [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E]),
    (b'T', [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04]),
    (b'U', [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]),
    (b'V', [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04]),
    (b'W', [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A]),
    (b'X', [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11]),
    (b'Y', [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04]),
    (b'Z', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F]),
];

/// The rows of `c`'s glyph (blank for characters the font lacks).
#[inline]
fn glyph(c: u8) -> [u8; 7] {
    FONT.iter()
        .find(|(k, _)| *k == c)
        .map_or([0; 7], |(_, rows)| *rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_power_matches_the_angle() {
        // sin(n phi) >= 0 against trigonometry, away from the spoke boundaries.
        for spokes in [36, 64, 5, 1] {
            for i in 0..720 {
                let phi = (i as f64 + 0.37) * std::f64::consts::TAU / 720.0;
                let s = (spokes as f64 * phi).sin();
                if s.abs() < 1e-6 {
                    continue;
                }
                let (dx, dy) = (3.0 * phi.cos(), 3.0 * phi.sin());
                assert_eq!(
                    star_is_light(dx, dy, dx * dx + dy * dy, spokes),
                    s >= 0.0,
                    "{spokes} spokes at {phi}"
                );
            }
        }
    }

    #[test]
    fn font_is_complete_and_five_wide() {
        for c in b"OBSCURA 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:/" {
            assert!(FONT.iter().any(|(k, _)| k == c), "{}", *c as char);
        }
        for (c, rows) in FONT {
            assert!(rows.iter().all(|r| *r < 32), "{}", c as char);
            assert!(c == b' ' || rows.iter().any(|r| *r != 0), "{}", c as char);
        }
    }

    #[test]
    fn text_draws_the_glyphs() {
        let t = Primitive::Text {
            origin: [10.0, 20.0],
            scale: 2.0,
            text: "T1",
            ink: [0.0; 3],
            paper: [1.0; 3],
        };
        let palette = [[0.0; 3]; 24];
        let at = |col: usize, row: usize| {
            // Centre of font pixel (col, row) of the label.
            let x = 10.0 + (col as f64 + 0.5) * 2.0;
            let y = 20.0 + (row as f64 + 0.5) * 2.0;
            t.hit(x, y, &palette).map(|(rgb, _)| rgb[0])
        };
        let [w, h] = label_size(2);
        assert_eq!([w, h], [13, 9]);
        assert_eq!(t.bbox(), [10.0, 20.0, 36.0, 38.0]);
        // The T's bar (row 0 of the glyph) is ink across, its stem in column 2 below it.
        for col in 0..5 {
            assert_eq!(at(1 + col, 1), Some(0.0));
        }
        assert_eq!(at(3, 5), Some(0.0));
        assert_eq!(at(2, 5), Some(1.0));
        // Margin and the gap column are paper; outside the label, nothing.
        assert_eq!(at(0, 1), Some(1.0));
        assert_eq!(at(6, 1), Some(1.0));
        assert_eq!(at(3, 0), Some(1.0));
        assert_eq!(at(13, 1), None);
        assert_eq!(t.hit(9.9, 25.0, &palette), None);
        // The 1's base (row 6: 0x0E) in the second glyph, columns 1..=3.
        assert_eq!(at(1 + 6 + 2, 7), Some(0.0));
        assert_eq!(at(1 + 6, 7), Some(1.0));
    }

    #[test]
    fn bars_alternate_from_the_edge() {
        let b = Primitive::Bars {
            rect: [4.0, 0.0, 14.0, 10.0],
            period: 2.5,
            vertical: true,
            colors: [[1.0; 3], [0.0; 3]],
        };
        let palette = [[0.0; 3]; 24];
        let v = |x: f64| b.hit(x, 5.0, &palette).map(|(rgb, t)| (rgb[0], t));
        assert_eq!(v(4.0), Some((1.0, 0.0)));
        assert_eq!(v(5.2), Some((1.0, 0.0)));
        assert_eq!(v(5.3), Some((0.0, 0.0)));
        assert_eq!(v(6.6), Some((1.0, 0.0)));
        assert_eq!(v(3.9), None);
        assert_eq!(v(14.0), None);
    }
}
