//! Statistics of the luminance: the per-block pass, a log histogram and the levels taken
//! from it.

use rayon::prelude::*;

use super::math::{clean, fast_log2, fmax, fmin, luminance};
use super::{BLOCK, HIGHLIGHT_QUANTILE, LOG2_FLOOR, stats_row};
use crate::cpu::Isa;
use crate::image::{Plane, par_rows3};

/// Per-block statistics of the luminance, `ceil(w / 4) x ceil(h / 4)`.
pub(super) struct BlockStats {
    /// Mean of `log2 max(Y, 2^LOG2_FLOOR)` over the block.
    pub(super) logy: Plane<f32>,
    /// Variance of the same over the block: large where the block straddles an edge.
    pub(super) spread: Plane<f32>,
    /// Largest `Y` of the block.
    pub(super) peak: Plane<f32>,
}

/// One pass over the full-resolution planes: [`BlockStats`] of their luminance.
pub(super) fn block_stats(isa: Isa, rgb: &[Plane<f32>; 3]) -> BlockStats {
    let (w, h) = (rgb[0].width, rgb[0].height);
    let (lw, lh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    // (log Y, spread, peak) rows in lockstep
    let mut stats: [Plane<f32>; 3] = std::array::from_fn(|_| Plane::new(lw, lh));
    par_rows3(&mut stats, lw).enumerate().for_each_init(
        || [0; 3].map(|_| vec![0.0f32; w]),
        |[sum, sq, mx], (j, [lrow, vrow, prow])| {
            sum.fill(0.0);
            sq.fill(0.0);
            mx.fill(f32::MIN);
            let rows = BLOCK * j..(BLOCK * j + BLOCK).min(h);
            let n_rows = rows.len();
            for y in rows {
                let row = [rgb[0].row(y), rgb[1].row(y), rgb[2].row(y)];
                stats_row(isa, sum, sq, mx, row);
            }
            // column sums into blocks: whole blocks, then the partial one at the right
            let mut reduce = |i: usize, cols: std::ops::Range<usize>| {
                let inv = 1.0 / (cols.len() * n_rows) as f32;
                let mean = sum[cols.clone()].iter().sum::<f32>() * inv;
                lrow[i] = mean;
                vrow[i] = fmax(
                    sq[cols.clone()].iter().sum::<f32>() * inv - mean * mean,
                    0.0,
                );
                prow[i] = mx[cols].iter().copied().fold(f32::MIN, fmax);
            };
            for i in 0..lw {
                reduce(i, BLOCK * i..(BLOCK * i + BLOCK).min(w));
            }
        },
    );
    let [logy, spread, peak] = stats;
    BlockStats { logy, spread, peak }
}

/// Accumulates one row into the column sums of `log2 Y` and its square and the column
/// maxima of `Y`.
#[inline(always)]
pub(super) fn stats_row_body(
    sum: &mut [f32],
    sq: &mut [f32],
    mx: &mut [f32],
    [r, g, b]: [&[f32]; 3],
) {
    let floor = LOG2_FLOOR.exp2();
    let n = sum.len();
    let (sq, mx, r, g, b) = (&mut sq[..n], &mut mx[..n], &r[..n], &g[..n], &b[..n]);
    for x in 0..n {
        let y = luminance(clean(r[x]), clean(g[x]), clean(b[x]));
        let l = fast_log2(fmax(y, floor));
        sum[x] += l;
        sq[x] += l * l;
        mx[x] = fmax(mx[x], y);
    }
}

/// A histogram of `log2` values from [`LOG2_FLOOR`] to 104 in 1/32-stop bins.
pub(super) struct LogHistogram {
    counts: Vec<u32>,
    total: u64,
    max: f32,
}

impl LogHistogram {
    const PER_STOP: f32 = 32.0;
    const BINS: usize = 128 * 32;

    /// The histogram of `f(v)` over `values`.
    pub(super) fn new(values: &[f32], f: impl Fn(f32) -> f32 + Sync) -> LogHistogram {
        values
            .par_chunks(1 << 16)
            .map(|chunk| {
                let mut h = LogHistogram {
                    counts: vec![0u32; Self::BINS],
                    total: chunk.len() as u64,
                    max: LOG2_FLOOR,
                };
                for &v in chunk {
                    let v = f(v);
                    let t = fmin(
                        fmax((v - LOG2_FLOOR) * Self::PER_STOP, 0.0),
                        (Self::BINS - 1) as f32,
                    );
                    h.counts[t as usize] += 1;
                    h.max = fmax(h.max, v);
                }
                h
            })
            .reduce(
                || LogHistogram {
                    counts: vec![0u32; Self::BINS],
                    total: 0,
                    max: LOG2_FLOOR,
                },
                |mut a, b| {
                    a.counts
                        .iter_mut()
                        .zip(&b.counts)
                        .for_each(|(x, y)| *x += y);
                    a.total += b.total;
                    a.max = fmax(a.max, b.max);
                    a
                },
            )
    }

    /// The upper edge of the bin holding quantile `q` (`0..=1`), at most the largest value.
    pub(super) fn quantile(&self, q: f32) -> f32 {
        let target = ((q as f64 * self.total as f64).ceil() as u64).max(1);
        let mut acc = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            acc += c as u64;
            if acc >= target {
                return (LOG2_FLOOR + (i + 1) as f32 / Self::PER_STOP).min(self.max);
            }
        }
        LOG2_FLOOR
    }
}

/// The highlight level `w`: the [`HIGHLIGHT_QUANTILE`] of the block maxima of luminance.
pub(super) fn highlight_level(peak: &Plane<f32>) -> f32 {
    let floor = LOG2_FLOOR.exp2();
    let hist = LogHistogram::new(&peak.data, |p| fast_log2(fmax(p, floor)));
    hist.quantile(HIGHLIGHT_QUANTILE).exp2()
}

/// The mean of the lower half of `logy` (below its median): the log-average luminance of
/// the darker half of the image.
pub(super) fn dark_half_log_mean(logy: &Plane<f32>) -> f32 {
    let median = LogHistogram::new(&logy.data, |v| v).quantile(0.5);
    let (sum, n) = logy
        .data
        .par_iter()
        .filter(|&&v| v <= median)
        .fold(|| (0.0f64, 0usize), |(s, n), &v| (s + v as f64, n + 1))
        .reduce(|| (0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    if n == 0 {
        median
    } else {
        (sum / n as f64) as f32
    }
}
