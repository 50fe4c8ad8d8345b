//! Malvar, He and Cutler (2004): bilinear interpolation corrected by the Laplacian of the
//! colour that was sampled, as four 5x5 linear filters.
//!
//! The filters, in eighths, with the default gains alpha = 1/2, beta = 5/8, gamma = 3/4:
//! ```text
//!  green at R/B        row colour at G     column colour at G   opposite at R/B
//!   .  .  -1  .  .     .  .  1/2  .  .     .  .  -1  .  .       .  .  -3/2  .  .
//!   .  .   2  .  .     . -1   .  -1  .     . -1   4  -1  .      .  2   .    2  .
//!  -1  2   4  2 -1    -1  4   5   4 -1    1/2 .   5   . 1/2   -3/2 .   6    . -3/2
//!   .  .   2  .  .     . -1   .  -1  .     . -1   4  -1  .      .  2   .    2  .
//!   .  .  -1  .  .     .  .  1/2  .  .     .  .  -1  .  .       .  .  -3/2  .  .
//! ```
//! "Row colour" is the colour of the non-green photosites in the green pixel's row (its left
//! and right neighbours), "column colour" the one above and below.
//!
//! The fast path ([`malvar`]) shares the sums of the symmetric taps between the four filters:
//! per pixel it forms the horizontal and vertical sums at distance 1 and 2 and the diagonal
//! sum, then each filter is a handful of multiply-adds. [`reference`] is the specification: a
//! direct 5x5 convolution per pixel on the mirrored mosaic.

use super::tile::{self, BayerRow, OutTile, Phase, Tile, win};
use crate::image::Plane;

/// Output tile size; rows are independent, so tiles are long thin strips.
pub(crate) const TILE: (usize, usize) = (1024, 16);

/// Reach of the filters: every output reads the mosaic up to 2 pixels away.
pub(crate) const PAD: usize = 2;

/// Malvar-He-Cutler demosaicing of a mosaic at least 2 x 2 pixels.
pub(crate) fn malvar(
    m: &Plane<f32>,
    phase: Phase,
    size: (usize, usize),
    out: &mut [Plane<f32>; 3],
) {
    tile::run(m, phase, PAD, size, || (), |t, _, o| kernel(t, o), out)
}

fn kernel(t: &Tile, out: &mut OutTile) {
    let (x, st) = (t.pad, t.stride);
    for j in 0..t.height {
        let y = j + t.pad;
        let mut row = BayerRow::new(out, t, j);
        let n = row.len();
        let s = |dx, dy| win(t.data, st, x, y, dx, dy, n);
        let (c, w1, e1, n1, s1) = (s(0, 0), s(-1, 0), s(1, 0), s(0, -1), s(0, 1));
        let (w2, e2, n2, s2) = (s(-2, 0), s(2, 0), s(0, -2), s(0, 2));
        let (nw, ne, sw, se) = (s(-1, -1), s(1, -1), s(-1, 1), s(1, 1));
        for i in 0..n {
            let c0 = c[i];
            let h1 = w1[i] + e1[i];
            let v1 = n1[i] + s1[i];
            let h2 = w2[i] + e2[i];
            let v2 = n2[i] + s2[i];
            let d = (nw[i] + ne[i]) + (sw[i] + se[i]);
            let candidates = [
                0.125 * (4.0 * c0 + 2.0 * (h1 + v1) - (h2 + v2)),
                0.125 * (5.0 * c0 + 4.0 * h1 - d - h2 + 0.5 * v2),
                0.125 * (5.0 * c0 + 4.0 * v1 - d - v2 + 0.5 * h2),
                0.125 * (6.0 * c0 + 2.0 * d - 1.5 * (h2 + v2)),
            ];
            row.set(i, c0, candidates);
        }
    }
}

/// The four filters of the module docs, in eighths, indexed `[dy + 2][dx + 2]`.
#[cfg(test)]
const FILTERS: [[[f32; 5]; 5]; 4] = {
    const Z: f32 = 0.0;
    let green = [
        [Z, Z, -1.0, Z, Z],
        [Z, Z, 2.0, Z, Z],
        [-1.0, 2.0, 4.0, 2.0, -1.0],
        [Z, Z, 2.0, Z, Z],
        [Z, Z, -1.0, Z, Z],
    ];
    let row = [
        [Z, Z, 0.5, Z, Z],
        [Z, -1.0, Z, -1.0, Z],
        [-1.0, 4.0, 5.0, 4.0, -1.0],
        [Z, -1.0, Z, -1.0, Z],
        [Z, Z, 0.5, Z, Z],
    ];
    let column = [
        [Z, Z, -1.0, Z, Z],
        [Z, -1.0, 4.0, -1.0, Z],
        [0.5, Z, 5.0, Z, 0.5],
        [Z, -1.0, 4.0, -1.0, Z],
        [Z, Z, -1.0, Z, Z],
    ];
    let diagonal = [
        [Z, Z, -1.5, Z, Z],
        [Z, 2.0, Z, 2.0, Z],
        [-1.5, Z, 6.0, Z, -1.5],
        [Z, 2.0, Z, 2.0, Z],
        [Z, Z, -1.5, Z, Z],
    ];
    [green, row, column, diagonal]
};

/// The scalar specification of [`malvar`]: per pixel, the 5x5 filters of the module docs
/// applied directly to the mosaic mirrored at its edges (as the fast path's padding does).
#[cfg(test)]
pub(crate) fn reference(m: &Plane<f32>, cfa: crate::image::Cfa) -> [Plane<f32>; 3] {
    use crate::image::Channel;
    use crate::image::mirror;
    let (w, h) = (m.width, m.height);
    let mut out = [Plane::new(w, h), Plane::new(w, h), Plane::new(w, h)];
    for y in 0..h {
        for x in 0..w {
            let conv = |k: &[[f32; 5]; 5]| {
                let mut sum = 0.0f32;
                for (dy, krow) in k.iter().enumerate() {
                    let sy = mirror(y as isize + dy as isize - 2, h);
                    for (dx, &kv) in krow.iter().enumerate() {
                        let sx = mirror(x as isize + dx as isize - 2, w);
                        sum += kv * m.get(sx, sy);
                    }
                }
                sum / 8.0
            };
            let mut rgb = [0.0f32; 3];
            match cfa.color_at(x, y) {
                Channel::G => {
                    rgb[1] = m.get(x, y);
                    // the colour of the horizontal neighbours; the pattern is periodic, so
                    // x + 1 names it even at the right edge
                    let row_colour = cfa.color_at(x + 1, y) as usize;
                    rgb[row_colour] = conv(&FILTERS[1]);
                    rgb[2 - row_colour] = conv(&FILTERS[2]);
                }
                own => {
                    let own = own as usize;
                    rgb[own] = m.get(x, y);
                    rgb[1] = conv(&FILTERS[0]);
                    rgb[2 - own] = conv(&FILTERS[3]);
                }
            }
            for (p, v) in out.iter_mut().zip(rgb) {
                p.set(x, y, v);
            }
        }
    }
    out
}
