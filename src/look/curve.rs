//! The look's tone curve: a monotone cubic through control points, applied to RGB without
//! shifting hue.
//!
//! # Interpolation
//! Fritsch-Carlson monotone cubic Hermite interpolation (Fritsch & Carlson, "Monotone
//! piecewise cubic interpolation", SIAM J. Numer. Anal. 17, 1980): the curve passes through
//! every control point, is smooth, and never overshoots, so a non-decreasing set of points
//! gives a non-decreasing curve (no tone reversals, tested).
//!
//! # Hue and saturation preservation
//! Per pixel, the curve maps the colour's HSV value (its largest channel) and all three
//! channels are scaled by the same factor, `c' = c * (f(v) - f(0)) / v + f(0)`: HSV hue and
//! saturation are unchanged exactly when `f(0) = 0`, so the curve sets brightness and
//! contrast and the look's table alone sets colour. A curve that lifts black (`f(0) > 0`, a
//! faded look) adds that lift to every channel, which keeps hue and lowers saturation as
//! fading should. Applied per channel instead, an S-curve turns saturated oranges toward
//! yellow or red (tested); the DNG SDK's "RGB tone" method (largest and smallest channels
//! through the curve, the middle one interpolated) keeps hue too, but changes saturation with
//! the curve's local contrast, so that a brightening curve washes colours out.

use crate::error::{Error, Result};

/// A monotone tone curve on display-encoded values `[0, 1] -> [0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneCurve {
    x: Vec<f32>,
    y: Vec<f32>,
    /// Hermite tangents at each point.
    m: Vec<f32>,
}

impl ToneCurve {
    /// The curve through `points` (`[input, output]`, inputs strictly increasing from 0 to 1,
    /// outputs in `[0, 1]` and non-decreasing). An empty list is the identity. `what` names
    /// the source in errors.
    pub fn new(points: &[[f32; 2]], what: &str) -> Result<ToneCurve> {
        let bad = |reason: String| Error::parameter(format!("{what} curve"), reason);
        if points.is_empty() {
            return Ok(ToneCurve::identity());
        }
        if points.len() < 2 {
            return Err(bad("needs at least two points, [0, y0] and [1, y1]".into()));
        }
        for (i, p) in points.iter().enumerate() {
            if !p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)) {
                return Err(bad(format!(
                    "point {} [{}, {}]: coordinates must be between 0 and 1",
                    i + 1,
                    p[0],
                    p[1]
                )));
            }
            if i > 0 && p[0] <= points[i - 1][0] {
                return Err(bad(format!(
                    "point {}: inputs must increase ({} after {})",
                    i + 1,
                    p[0],
                    points[i - 1][0]
                )));
            }
            if i > 0 && p[1] < points[i - 1][1] {
                return Err(bad(format!(
                    "point {}: outputs must not decrease ({} after {}); a falling curve would \
                     reverse tones",
                    i + 1,
                    p[1],
                    points[i - 1][1]
                )));
            }
        }
        let (first, last) = (points[0][0], points[points.len() - 1][0]);
        if first != 0.0 || last != 1.0 {
            return Err(bad(format!(
                "the first point's input must be 0 and the last one's 1 (got {first} and {last})"
            )));
        }
        let x: Vec<f32> = points.iter().map(|p| p[0]).collect();
        let y: Vec<f32> = points.iter().map(|p| p[1]).collect();
        let n = x.len();
        let d: Vec<f32> = (0..n - 1)
            .map(|i| (y[i + 1] - y[i]) / (x[i + 1] - x[i]))
            .collect();
        // initial tangents: secants at the ends, their mean inside (0 at a flat or extremum)
        let mut m = vec![0.0f32; n];
        m[0] = d[0];
        m[n - 1] = d[n - 2];
        for i in 1..n - 1 {
            m[i] = if d[i - 1] * d[i] <= 0.0 {
                0.0
            } else {
                0.5 * (d[i - 1] + d[i])
            };
        }
        // Fritsch-Carlson: limit (alpha, beta) to the circle of radius 3 for monotonicity
        for i in 0..n - 1 {
            if d[i] == 0.0 {
                m[i] = 0.0;
                m[i + 1] = 0.0;
                continue;
            }
            let a = m[i] / d[i];
            let b = m[i + 1] / d[i];
            let s = a * a + b * b;
            if s > 9.0 {
                let t = 3.0 / s.sqrt();
                m[i] = t * a * d[i];
                m[i + 1] = t * b * d[i];
            }
        }
        Ok(ToneCurve { x, y, m })
    }

    /// The identity curve.
    pub fn identity() -> ToneCurve {
        ToneCurve {
            x: vec![0.0, 1.0],
            y: vec![0.0, 1.0],
            m: vec![1.0, 1.0],
        }
    }

    /// True if the curve is the identity.
    pub fn is_identity(&self) -> bool {
        self.x == [0.0, 1.0] && self.y == [0.0, 1.0] && self.m == [1.0, 1.0]
    }

    /// The curve at `v` (clamped to `[0, 1]`; NaN gives 0).
    pub fn eval(&self, v: f32) -> f32 {
        let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
        let n = self.x.len();
        // the segment holding v: few points, so a linear scan is as fast as a search
        let i = self.x[1..n - 1].iter().take_while(|&&x| x <= v).count();
        let h = self.x[i + 1] - self.x[i];
        let t = (v - self.x[i]) / h;
        let (t2, t3) = (t * t, t * t * t);
        let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
        let h10 = t3 - 2.0 * t2 + t;
        let h01 = -2.0 * t3 + 3.0 * t2;
        let h11 = t3 - t2;
        (h00 * self.y[i] + h10 * h * self.m[i] + h01 * self.y[i + 1] + h11 * h * self.m[i + 1])
            .clamp(0.0, 1.0)
    }

    /// Applies the curve to an RGB colour keeping its HSV hue and (for curves through 0)
    /// saturation (see the module docs). Channels are clamped to `[0, 1]` first.
    pub fn apply_rgb(&self, c: [f32; 3]) -> [f32; 3] {
        let c = c.map(|v| if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) });
        let v = c[0].max(c[1]).max(c[2]);
        let black = self.y[0];
        if v <= 0.0 {
            return [black; 3];
        }
        let k = (self.eval(v) - black) / v;
        c.map(|x| x * k + black)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hsv_hue(c: [f32; 3]) -> f32 {
        super::super::table::rgb_to_hsv(c)[0]
    }

    #[test]
    fn passes_through_its_points_and_stays_monotone() {
        let pts = [[0.0, 0.0], [0.3, 0.3], [0.4, 0.3], [0.5, 0.8], [1.0, 1.0]];
        let c = ToneCurve::new(&pts, "test").unwrap();
        for p in pts {
            assert!((c.eval(p[0]) - p[1]).abs() < 1e-6, "{p:?}");
        }
        let mut prev = -1.0;
        for i in 0..=10_000 {
            let v = c.eval(i as f32 / 10_000.0);
            assert!(v >= prev - 1e-6, "falls at {i}");
            prev = v;
        }
        // a plain Catmull-Rom spline through the same points dips inside the flat segment
        // (0.3 -> 0.4) before the jump: the monotone limiter is what keeps the curve from
        // reversing tones
        let catmull = |v: f32| {
            let i = pts
                .iter()
                .rposition(|p| p[0] <= v)
                .unwrap()
                .min(pts.len() - 2);
            let tan = |j: usize| {
                let (a, b) = (j.saturating_sub(1), (j + 1).min(pts.len() - 1));
                (pts[b][1] - pts[a][1]) / (pts[b][0] - pts[a][0])
            };
            let h = pts[i + 1][0] - pts[i][0];
            let t = (v - pts[i][0]) / h;
            let (t2, t3) = (t * t, t * t * t);
            (2.0 * t3 - 3.0 * t2 + 1.0) * pts[i][1]
                + (t3 - 2.0 * t2 + t) * h * tan(i)
                + (-2.0 * t3 + 3.0 * t2) * pts[i + 1][1]
                + (t3 - t2) * h * tan(i + 1)
        };
        let falls =
            (1..=1000).any(|i| catmull(i as f32 / 1000.0) < catmull((i - 1) as f32 / 1000.0));
        assert!(falls, "the baseline should fail monotonicity here");
    }

    #[test]
    fn hue_is_kept_where_per_channel_application_shifts_it() {
        let c = ToneCurve::new(&[[0.0, 0.0], [0.25, 0.08], [0.75, 0.92], [1.0, 1.0]], "s").unwrap();
        let mut worst_rgb = 0.0f32;
        let mut worst_per_channel = 0.0f32;
        for col in [
            [0.9, 0.5, 0.2],
            [0.8, 0.3, 0.25],
            [0.2, 0.6, 0.7],
            [0.4, 0.35, 0.9],
        ] {
            let h0 = hsv_hue(col);
            let d = |h: f32| {
                let d = (h - h0).rem_euclid(6.0);
                d.min(6.0 - d) * 60.0
            };
            worst_rgb = worst_rgb.max(d(hsv_hue(c.apply_rgb(col))));
            worst_per_channel = worst_per_channel.max(d(hsv_hue(col.map(|v| c.eval(v)))));
        }
        assert!(worst_rgb < 1e-3, "hue-preserving: {worst_rgb} degrees");
        for col in [[0.9f32, 0.5, 0.2], [0.2, 0.6, 0.7]] {
            let s0 = super::super::table::rgb_to_hsv(col)[1];
            let s1 = super::super::table::rgb_to_hsv(c.apply_rgb(col))[1];
            assert!((s1 - s0).abs() < 1e-6, "saturation {s0} -> {s1}");
        }
        assert!(
            worst_per_channel > 3.0,
            "per channel: {worst_per_channel} degrees"
        );
        // greys stay grey
        let g = c.apply_rgb([0.3; 3]);
        assert_eq!(g, [c.eval(0.3); 3]);
    }

    #[test]
    fn bad_points_are_refused() {
        for (pts, want) in [
            (vec![[0.0, 0.0]], "two points"),
            (
                vec![[0.0, 0.0], [0.5, 0.4], [0.5, 0.6], [1.0, 1.0]],
                "increase",
            ),
            (
                vec![[0.0, 0.0], [0.5, 0.6], [0.6, 0.5], [1.0, 1.0]],
                "decrease",
            ),
            (vec![[0.1, 0.0], [1.0, 1.0]], "first point"),
            (vec![[0.0, 0.0], [1.0, 1.5]], "between 0 and 1"),
            (vec![[0.0, f32::NAN], [1.0, 1.0]], "between 0 and 1"),
        ] {
            let e = ToneCurve::new(&pts, "mine").unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("mine curve"), "{e}");
        }
    }
}
