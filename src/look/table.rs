//! A hue / saturation / value table in the style of the DNG `ProfileLookTable`.
//!
//! The table holds `hue_divisions x sat_divisions x val_divisions` entries of
//! `[hue shift in degrees, saturation scale, value scale]`, in the order of the DNG tag
//! `ProfileLookTableData` (DNG 1.7, chapter 6): value divisions outermost, then hue, then
//! saturation fastest. Hue division `i` sits at `i * 360 / hue_divisions` degrees (cyclic),
//! saturation division `j` at `j / (sat_divisions - 1)` and value division `k` at
//! `k / (val_divisions - 1)` (a single division means "the same at every saturation" or
//! "every value"). Between divisions the entries are interpolated linearly (trilinearly over
//! the three axes, cyclically in hue), as the DNG SDK does.
//!
//! A colour's HSV coordinates are those of its display-encoded RGB (obscura applies looks
//! to encoded values; the DNG SDK applies its tables to linear ProPhoto RGB). The new colour
//! has hue `h + shift` and value `v * value_scale` (clamped to 1), as in DNG. Saturation
//! differs from DNG's `min(1, s * scale)`: it becomes `1 - (1 - s)^scale`, which multiplies
//! low saturations by `scale` (the slope at 0) and reaches full saturation smoothly instead
//! of clipping. The clip flattens gradients of saturated colour into a band of pure
//! primaries, and its kink is hard for a LUT of the look to follow: `vibrant` baked to 33^3
//! was off by up to 3.1/255 with the clip and is off by 0.7/255 with the curve (worst case
//! over a 64^3 grid of colours). Greys have saturation 0 and stay grey whatever the table
//! says.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The table; see the [module docs](self) for the layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HsvTable {
    /// Hue divisions, 1 to 360.
    pub hue_divisions: usize,
    /// Saturation divisions, 1 to 64.
    pub sat_divisions: usize,
    /// Value divisions, 1 to 64. Default 1.
    #[serde(default = "one")]
    pub val_divisions: usize,
    /// `[hue shift in degrees (-180..180), saturation scale (0..4), value scale (0..4)]` per
    /// division, value outermost, then hue, then saturation fastest.
    pub entries: Vec<[f32; 3]>,
}

fn one() -> usize {
    1
}

impl HsvTable {
    /// Checks the shape and the entries' ranges; `what` names the source in errors.
    pub fn validate(&self, what: &str) -> Result<()> {
        let bad = |reason: String| Error::parameter(format!("{what} table"), reason);
        for (name, n, max) in [
            ("hue_divisions", self.hue_divisions, 360),
            ("sat_divisions", self.sat_divisions, 64),
            ("val_divisions", self.val_divisions, 64),
        ] {
            if !(1..=max).contains(&n) {
                return Err(bad(format!("{name} = {n}: must be 1 to {max}")));
            }
        }
        let want = self.hue_divisions * self.sat_divisions * self.val_divisions;
        if self.entries.len() != want {
            return Err(bad(format!(
                "{} entries for {} hue x {} saturation x {} value divisions (need {want})",
                self.entries.len(),
                self.hue_divisions,
                self.sat_divisions,
                self.val_divisions
            )));
        }
        for (i, e) in self.entries.iter().enumerate() {
            let ok = e.iter().all(|v| v.is_finite())
                && (-180.0..=180.0).contains(&e[0])
                && (0.0..=4.0).contains(&e[1])
                && (0.0..=4.0).contains(&e[2]);
            if !ok {
                return Err(bad(format!(
                    "entry {} {e:?}: hue shift must be -180 to 180 degrees, scales 0 to 4",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn entry(&self, v: usize, h: usize, s: usize) -> [f32; 3] {
        self.entries[(v * self.hue_divisions + h) * self.sat_divisions + s]
    }

    /// The interpolated `[hue shift, saturation scale, value scale]` at HSV `(h, s, v)` (hue
    /// in sextants `0..6`, `s` and `v` in `[0, 1]`).
    pub fn lookup(&self, h: f32, s: f32, v: f32) -> [f32; 3] {
        let hf = h / 6.0 * self.hue_divisions as f32;
        let h0 = (hf.floor() as isize).rem_euclid(self.hue_divisions as isize) as usize;
        let h1 = (h0 + 1) % self.hue_divisions;
        let th = hf - hf.floor();
        let axis = |x: f32, n: usize| -> (usize, usize, f32) {
            if n == 1 {
                return (0, 0, 0.0);
            }
            let f = x.clamp(0.0, 1.0) * (n - 1) as f32;
            let i = (f as usize).min(n - 2);
            (i, i + 1, f - i as f32)
        };
        let (s0, s1, ts) = axis(s, self.sat_divisions);
        let (v0, v1, tv) = axis(v, self.val_divisions);
        let mut out = [0.0f32; 3];
        for (vi, wv) in [(v0, 1.0 - tv), (v1, tv)] {
            for (hi, wh) in [(h0, 1.0 - th), (h1, th)] {
                for (si, ws) in [(s0, 1.0 - ts), (s1, ts)] {
                    let w = wv * wh * ws;
                    if w != 0.0 {
                        let e = self.entry(vi, hi, si);
                        for k in 0..3 {
                            out[k] += w * e[k];
                        }
                    }
                }
            }
        }
        out
    }

    /// Applies the table (and an extra saturation factor) to one encoded colour.
    pub fn apply_rgb(&self, c: [f32; 3], saturation: f32) -> [f32; 3] {
        let [h, s, v] = rgb_to_hsv(c);
        let [shift, ss, vs] = self.lookup(h, s, v);
        let h = (h + shift / 60.0).rem_euclid(6.0);
        let s = scale_saturation(s, ss * saturation);
        let v = (v * vs).clamp(0.0, 1.0);
        hsv_to_rgb([h, s, v])
    }
}

/// Saturation `s` scaled by `k` as the [module docs](self) say: `1 - (1 - s)^k`.
pub fn scale_saturation(s: f32, k: f32) -> f32 {
    if k == 1.0 {
        return s;
    }
    (1.0 - (1.0 - s.clamp(0.0, 1.0)).powf(k.max(0.0))).clamp(0.0, 1.0)
}

/// RGB -> `[hue in sextants 0..6, saturation, value]` (hue 0 for greys).
pub fn rgb_to_hsv(c: [f32; 3]) -> [f32; 3] {
    let [r, g, b] = c;
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    if max <= 0.0 || d <= 0.0 {
        return [0.0, 0.0, max.max(0.0)];
    }
    let h = if max == r {
        ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        2.0 + (b - r) / d
    } else {
        4.0 + (r - g) / d
    };
    [h, d / max, max]
}

/// `[hue in sextants, saturation, value]` -> RGB.
pub fn hsv_to_rgb(c: [f32; 3]) -> [f32; 3] {
    let [h, s, v] = c;
    let h = h.rem_euclid(6.0);
    let i = (h.floor() as usize).min(5);
    let f = h - i as f32;
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    match i {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(h: usize, s: usize, v: usize) -> HsvTable {
        HsvTable {
            hue_divisions: h,
            sat_divisions: s,
            val_divisions: v,
            entries: vec![[0.0, 1.0, 1.0]; h * s * v],
        }
    }

    #[test]
    fn hsv_round_trips() {
        let mut worst = 0.0f32;
        for i in 0..1000 {
            let c = [
                (i % 10) as f32 / 9.0,
                ((i / 10) % 10) as f32 / 9.0,
                (i / 100) as f32 / 9.0,
            ];
            let back = hsv_to_rgb(rgb_to_hsv(c));
            for k in 0..3 {
                worst = worst.max((back[k] - c[k]).abs());
            }
        }
        assert!(worst < 1e-6, "{worst}");
    }

    #[test]
    fn identity_table_changes_nothing_and_entries_are_interpolated() {
        let t = identity(6, 2, 1);
        let c = [0.7, 0.4, 0.2];
        let out = t.apply_rgb(c, 1.0);
        for k in 0..3 {
            assert!((out[k] - c[k]).abs() < 1e-6);
        }
        // hue 30 degrees sits halfway between divisions 0 (red) and 1 (60 degrees): half of
        // each entry's shift; saturation 0.5 halfway between the sat divisions
        let mut t = identity(6, 2, 1);
        t.entries[1] = [10.0, 2.0, 1.0]; // red, full saturation
        t.entries[3] = [20.0, 2.0, 1.0]; // yellow, full saturation
        let l = t.lookup(0.5, 0.5, 0.3);
        assert!(
            (l[0] - 7.5).abs() < 1e-5 && (l[1] - 1.5).abs() < 1e-5,
            "{l:?}"
        );
        // cyclic: hue 330 degrees is halfway between division 5 and division 0
        t.entries[11] = [-10.0, 1.0, 1.0];
        let l = t.lookup(5.5, 1.0, 0.3);
        assert!((l[0] - 0.0).abs() < 1e-5, "{l:?}");
        // greys stay grey
        assert_eq!(t.apply_rgb([0.4; 3], 1.5), [0.4; 3]);
    }

    #[test]
    fn bad_tables_are_refused() {
        let mut t = identity(6, 2, 1);
        t.entries.pop();
        let e = t.validate("x").unwrap_err().to_string();
        assert!(e.contains("11 entries") && e.contains("need 12"), "{e}");
        let mut t = identity(6, 2, 1);
        t.entries[3] = [0.0, -1.0, 1.0];
        assert!(t.validate("x").unwrap_err().to_string().contains("entry 4"));
        let t = identity(0, 2, 1);
        assert!(t.validate("x").is_err());
    }
}
