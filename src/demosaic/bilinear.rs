//! Bilinear demosaicing, and the neighbourhood-mean fallback for inputs no Bayer kernel can
//! take (a 1-pixel-wide or -tall mosaic, a non-Bayer pattern).

use rayon::prelude::*;

use super::tile::{self, BayerRow, OutTile, Phase, Tile, win};
use crate::image::{Cfa, Plane, par_rows3};

/// Output tile size; rows are independent, so tiles are long thin strips.
pub(crate) const TILE: (usize, usize) = (1024, 16);

/// Each missing colour is the mean of its nearest samples: the two horizontal, two vertical or
/// four diagonal neighbours for red and blue, the four cross neighbours for green.
pub(crate) fn bilinear(
    m: &Plane<f32>,
    phase: Phase,
    size: (usize, usize),
    out: &mut [Plane<f32>; 3],
) {
    tile::run(m, phase, 2, size, || (), |t, _, o| kernel(t, o), out)
}

fn kernel(t: &Tile, out: &mut OutTile) {
    let (x, st) = (t.pad, t.stride);
    for j in 0..t.height {
        let y = j + t.pad;
        let mut row = BayerRow::new(out, t, j);
        let n = row.len();
        let s = |dx, dy| win(t.data, st, x, y, dx, dy, n);
        let (c, w, e, no, so) = (s(0, 0), s(-1, 0), s(1, 0), s(0, -1), s(0, 1));
        let (nw, ne, sw, se) = (s(-1, -1), s(1, -1), s(-1, 1), s(1, 1));
        for i in 0..n {
            let h = w[i] + e[i];
            let v = no[i] + so[i];
            let d = (nw[i] + ne[i]) + (sw[i] + se[i]);
            row.set(i, c[i], [0.25 * (h + v), 0.5 * h, 0.5 * v, 0.25 * d]);
        }
    }
}

/// Per pixel and colour: the mean of that colour's samples in the 3x3 neighbourhood (clipped
/// to the mosaic), or, where the neighbourhood has none, the mean of all its samples. Works
/// for any size and any 2x2 pattern; slow (scalar, branchy), so only used where the Bayer
/// kernels cannot be.
pub(crate) fn any_pattern(m: &Plane<f32>, cfa: Cfa, out: &mut [Plane<f32>; 3]) {
    let (w, h) = (m.width, m.height);
    tile::reshape(out, w, h);
    if w == 0 || h == 0 {
        return;
    }
    par_rows3(out, w).enumerate().for_each(|(y, [r, g, b])| {
        for x in 0..w {
            let mut sum = [0.0f32; 3];
            let mut count = [0u32; 3];
            for sy in y.saturating_sub(1)..(y + 2).min(h) {
                for sx in x.saturating_sub(1)..(x + 2).min(w) {
                    let c = cfa.color_at(sx, sy) as usize;
                    sum[c] += m.get(sx, sy);
                    count[c] += 1;
                }
            }
            let all = sum.iter().sum::<f32>() / count.iter().sum::<u32>() as f32;
            let mean = |c: usize| {
                if count[c] > 0 {
                    sum[c] / count[c] as f32
                } else {
                    all
                }
            };
            r[x] = mean(0);
            g[x] = mean(1);
            b[x] = mean(2);
        }
    });
}
