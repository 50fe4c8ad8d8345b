//! The Local mode: the base layer's tone curve (synthetic exposures, fusion) and the
//! full-resolution gain pass.

use rayon::prelude::*;

use super::filters::{edge_aware_base, guided_coefficients};
use super::global::{Curve, apply_curve};
use super::math::{clean, fast_exp2, fast_log2, fmax, fmin, hue_clip, luminance};
use super::stats::{LogHistogram, block_stats, dark_half_log_mean, highlight_level};
use super::{
    BASE_SCALE, BLOCK, GAMMA, HIGHLIGHT_QUANTILE, LOG2_FLOOR, MAX_STEP_STOPS, MIN_HEADROOM,
    ToneParams, WELL_SIGMA, gain_row,
};
use crate::cpu::Isa;
use crate::image::{Plane, par_rows3};

/// How the low-resolution gain map is brought to full resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Upsampling {
    /// Fast guided filter on log-gain, guided by full-resolution log-luminance.
    EdgeAware,
    /// Plain bilinear interpolation of log-gain: the baseline the tests compare against.
    #[cfg_attr(not(test), allow(dead_code))]
    Bilinear,
}

/// Clamps the user parameters into their ranges: (strength, max_gain, shadow_key).
fn clamped(params: &ToneParams) -> (f32, f32, f32) {
    let d = ToneParams::default();
    let pick = |v: f32, lo: f32, hi: f32, default: f32| {
        if v.is_finite() {
            v.clamp(lo, hi)
        } else {
            default
        }
    };
    (
        pick(params.strength, 0.0, 1.0, d.strength),
        pick(params.max_gain, 1.0, 64.0, d.max_gain),
        pick(params.shadow_key, 1e-3, 1.0, d.shadow_key),
    )
}

/// The Local mode, with a choice of upsampling for the tests' baseline.
pub(super) fn local(
    isa: Isa,
    rgb: &mut [Plane<f32>; 3],
    params: &ToneParams,
    upsampling: Upsampling,
) {
    let (strength, max_gain, key) = clamped(params);
    let stats = block_stats(isa, rgb);
    let peak = highlight_level(&stats.peak);
    let global = Curve::new(peak, 1.0);
    if strength == 0.0 {
        apply_curve(isa, rgb, global);
        return;
    }
    let side = rgb[0].width.max(rgb[0].height) as f32;
    let base = edge_aware_base(&stats.logy, (BASE_SCALE * side / BLOCK as f32).max(4.0));
    let curve = BaseCurve::new(peak, &stats.logy, &base, max_gain, key);
    let mut lg = base;
    curve.log_gains(&mut lg.data);
    let range = lg
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (a, b, centre) = match upsampling {
        Upsampling::EdgeAware => guided_coefficients(&stats.logy, &lg, &stats.spread),
        Upsampling::Bilinear => (Plane::new(lg.width, lg.height), lg, 0.0),
    };
    apply_log_gain(isa, rgb, [&a, &b], centre, range, global, strength);
}

/// Stops of scene range (from the base layer's highlights down to the log-average of the
/// darker half) that the display curve shows without lifting shadows. Each stop beyond this
/// allows one stop of shadow lift.
const DISPLAY_STOPS: f32 = 6.0;

/// The Local mode's tone curve of the base layer (steps 3 and 4 of the module docs): a
/// Mertens blend of synthetic exposures of the base, per pixel.
pub(super) struct BaseCurve {
    /// Gains of the exposures over the input, in stops, from 0 to the longest.
    pub(super) stops: Vec<f32>,
    /// The shoulder every exposure passes through before it is encoded.
    pub(super) shoulder: Curve,
}

impl BaseCurve {
    pub(super) fn new(
        peak: f32,
        logy: &Plane<f32>,
        base: &Plane<f32>,
        max_gain: f32,
        key: f32,
    ) -> BaseCurve {
        let base_white = LogHistogram::new(&base.data, |v| v)
            .quantile(HIGHLIGHT_QUANTILE)
            .exp2();
        // headroom left above the base's highlights for the detail on top of them
        let headroom = (base_white / peak.max(1e-30)).clamp(MIN_HEADROOM, 1.0);
        // The lift that brings the dark half to the key, but no more than the scene's range
        // exceeds what a display shows: a scene of [`DISPLAY_STOPS`] or less needs no
        // compression (a colour chart or an overcast street stays as the global curve has
        // it), a 12-stop window-and-room scene gets the full lift.
        let dark = dark_half_log_mean(logy);
        let excess = (base_white.log2() - dark - DISPLAY_STOPS).max(0.0);
        let longest = (key.log2() - dark).min(excess).clamp(0.0, max_gain.log2());
        let n = if longest < 1e-3 {
            1
        } else {
            (longest / MAX_STEP_STOPS).ceil() as usize + 1
        };
        BaseCurve {
            stops: (0..n)
                .map(|i| longest * i as f32 / (n - 1).max(1) as f32)
                .collect(),
            shoulder: Curve::new(base_white, headroom),
        }
    }

    /// Exposure `s` (stops over the input) of the base value `2^l`: its encoded value,
    /// clipped at 1, and its well-exposedness weight, taken before clipping.
    #[inline(always)]
    pub(super) fn exposure(&self, l: f32, s: f32) -> (f32, f32) {
        let x = self.shoulder.apply(fast_exp2(l + s));
        let u = fast_exp2(fast_log2(x.max(1e-30)) / GAMMA);
        let d = u - 0.5;
        let k = std::f32::consts::LOG2_E / (2.0 * WELL_SIGMA * WELL_SIGMA);
        (u.min(1.0), fast_exp2(-d * d * k) + 1e-12)
    }

    /// Replaces each base value `l` (log2) by its log-gain `log2 C(2^l) - l`, through a table
    /// of [`Self::log2_apply`] in steps of 1/32 stop over the values' range, interpolated
    /// linearly (the curve is smooth; the table's error is below 1e-4 stop).
    fn log_gains(&self, base: &mut [f32]) {
        const PER_STOP: f32 = 32.0;
        let (lo, hi) = base.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| {
            (fmin(lo, v), fmax(hi, v))
        });
        if base.is_empty() {
            return;
        }
        let n = ((hi - lo) * PER_STOP) as usize + 2;
        let table: Vec<f32> = (0..n)
            .map(|i| {
                let l = lo + i as f32 / PER_STOP;
                self.log2_apply(l) - l
            })
            .collect();
        base.par_iter_mut().for_each(|v| {
            let t = (*v - lo) * PER_STOP;
            let i = (t as usize).min(n - 2);
            let f = t - i as f32;
            *v = table[i] + f * (table[i + 1] - table[i]);
        });
    }

    /// `log2 C(2^l)`.
    pub(super) fn log2_apply(&self, l: f32) -> f32 {
        let (mut num, mut den) = (0.0f32, 0.0f32);
        for &s in &self.stops {
            let (u, wt) = self.exposure(l, s);
            num += wt * u;
            den += wt;
        }
        GAMMA * fast_log2((num / den).max(1e-30))
    }
}

/// Bilinear sampling positions from full resolution `n` to low resolution `ln` (block
/// centres): for each full-resolution index, the two low-resolution indices and the weight
/// of the second.
fn bilinear_taps(n: usize, ln: usize) -> Vec<(usize, usize, f32)> {
    (0..n)
        .map(|x| {
            let u = ((x as f32 + 0.5) / BLOCK as f32 - 0.5).clamp(0.0, (ln - 1) as f32);
            let i0 = (u as usize).min(ln - 1);
            let i1 = (i0 + 1).min(ln - 1);
            (i0, i1, u - i0 as f32)
        })
        .collect()
}

/// The second full-resolution pass of Local: per pixel, the local log-gain
/// `a (log2 Y - centre) + b` with `a`, `b` interpolated bilinearly from low resolution and
/// clamped to `range`, mixed with the Global curve's `log2(T(Y) / Y)` by `strength`; all three
/// channels times `2^log-gain`, then [`hue_clip`].
pub(super) fn apply_log_gain(
    isa: Isa,
    rgb: &mut [Plane<f32>; 3],
    [a, b]: [&Plane<f32>; 2],
    centre: f32,
    range: (f32, f32),
    global: Curve,
    strength: f32,
) {
    let w = rgb[0].width;
    let (lo, hi) = if range.0 <= range.1 {
        range
    } else {
        (0.0, 0.0)
    };
    // a and b interpolated horizontally to full width once per low-resolution row, cached
    // per task (tasks take consecutive rows, so each low-resolution row is widened about
    // once per task); the vertical interpolation is done per pixel from two such rows
    let xt = bilinear_taps(w, a.width);
    let yt = bilinear_taps(rgb[0].height, a.height);
    let consts = GainConsts {
        centre,
        lo,
        hi,
        global,
        strength,
    };
    par_rows3(rgb, w).enumerate().for_each_init(
        || WideRows::new(w),
        |cache, (y, [r, g, bl])| {
            let (j0, j1, fy) = yt[y];
            let coef = cache.pair([j0, j1], [a, b], &xt);
            gain_row(isa, [r, g, bl], coef, fy, consts);
        },
    );
}

/// Two slots of rows of `a` and `b` widened to full resolution, each remembering which
/// low-resolution row it holds.
struct WideRows {
    rows: [(usize, Vec<f32>, Vec<f32>); 2],
}

impl WideRows {
    fn new(w: usize) -> WideRows {
        WideRows {
            rows: std::array::from_fn(|_| (usize::MAX, vec![0.0; w], vec![0.0; w])),
        }
    }

    /// Rows `j0` and `j1` of `a` and `b`, widened: `[a0, a1, b0, b1]`. A row already held
    /// is kept (moving to the next row pair widens one new row).
    fn pair(
        &mut self,
        [j0, j1]: [usize; 2],
        [a, b]: [&Plane<f32>; 2],
        taps: &[(usize, usize, f32)],
    ) -> [&[f32]; 4] {
        if self.rows[0].0 != j0 && self.rows[1].0 == j0 {
            self.rows.swap(0, 1);
        }
        for (slot, j) in [(0, j0), (1, j1)] {
            let (held, wa, wb) = &mut self.rows[slot];
            if *held != j {
                for (out, row) in [(&mut *wa, a.row(j)), (&mut *wb, b.row(j))] {
                    for (o, &(i0, i1, fx)) in out.iter_mut().zip(taps) {
                        *o = row[i0] + fx * (row[i1] - row[i0]);
                    }
                }
                *held = j;
            }
        }
        let [(_, a0, b0), (_, a1, b1)] = &self.rows;
        [a0, a1, b0, b1]
    }
}

/// The per-call constants of [`gain_row`].
#[derive(Debug, Clone, Copy)]
pub(super) struct GainConsts {
    /// Mean of the guide, subtracted from `log2 Y`.
    centre: f32,
    /// Range of the local log-gain.
    lo: f32,
    hi: f32,
    /// The Global curve and the share of the local log-gain (1: local only).
    global: Curve,
    strength: f32,
}

/// One row of [`apply_log_gain`]: `coef` holds the rows of `a` and `b` above and below,
/// `fy` the vertical interpolation weight.
#[inline(always)]
pub(super) fn gain_row_body(rgb: [&mut [f32]; 3], coef: [&[f32]; 4], fy: f32, k: GainConsts) {
    if k.strength == 1.0 {
        gain_row_generic::<false>(rgb, coef, fy, k)
    } else {
        gain_row_generic::<true>(rgb, coef, fy, k)
    }
}

/// [`gain_row_body`]; `MIX` adds the Global curve's term (strength below 1).
#[inline(always)]
fn gain_row_generic<const MIX: bool>(
    [r, g, b]: [&mut [f32]; 3],
    [a0, a1, b0, b1]: [&[f32]; 4],
    fy: f32,
    k: GainConsts,
) {
    let floor = LOG2_FLOOR.exp2();
    let n = r.len();
    let (g, b) = (&mut g[..n], &mut b[..n]);
    let (a0, a1, b0, b1) = (&a0[..n], &a1[..n], &b0[..n], &b1[..n]);
    for x in 0..n {
        let (cr, cg, cb) = (clean(r[x]), clean(g[x]), clean(b[x]));
        let y = fmax(luminance(cr, cg, cb), floor);
        let l = fast_log2(y);
        let ac = a0[x] + fy * (a1[x] - a0[x]);
        let bc = b0[x] + fy * (b1[x] - b0[x]);
        let mut lg = fmin(fmax(ac * (l - k.centre) + bc, k.lo), k.hi);
        if MIX {
            let lg_global = fast_log2(k.global.apply(y)) - l;
            lg = lg_global + k.strength * (lg - lg_global);
        }
        let gain = fast_exp2(lg);
        [r[x], g[x], b[x]] = hue_clip(cr * gain, cg * gain, cb * gain);
    }
}
