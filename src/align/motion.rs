//! Smooth motion models over the tile displacements of one frame: a robust affine fit, over
//! the whole frame and per neighbourhood of tiles. They give each tile a prior where its own
//! match is ambiguous (flat tiles, single edges, stripes) or locked onto aliased detail.

use rayon::prelude::*;

use super::search::TileGrid;

/// Tiles between the centres of neighbouring local models, along each axis.
const NODE_STEP: usize = 8;
/// Half-width in tiles of the neighbourhood a local model is fitted over (17 x 17 tiles: at
/// the default tile size, about 280 full-resolution pixels across).
const NODE_RADIUS: usize = 16;
/// Fewest well-posed tiles a neighbourhood needs for a model of its own; with fewer it takes
/// the frame's.
const NODE_MIN_POINTS: usize = 12;

/// An affine motion model: `d = A [x, y, 1]`, one row per displacement component.
pub(crate) type Affine = [[f64; 3]; 2];

/// A tile centre, its displacement and its weight, for [`fit_affine`].
pub(crate) type TilePoint = ((f32, f32), (f32, f32), f32);

/// A weighted least-squares affine motion model `d = A [x, y, 1]` over tile centres, fitted
/// robustly: six rounds, each dropping the points farther from the current fit than twice
/// the median distance, or `reject` once the fit is that good.
/// `None` with fewer than six usable points or a singular system.
pub(crate) fn fit_affine(pts: &[TilePoint], reject: f32) -> Option<[[f64; 3]; 2]> {
    let mut keep: Vec<bool> = vec![true; pts.len()];
    let (mut res, mut sorted) = (Vec::new(), Vec::new());
    let mut model = None;
    for _ in 0..6 {
        let mut m = [[0.0f64; 3]; 3];
        let mut bx = [0.0f64; 3];
        let mut by = [0.0f64; 3];
        let mut count = 0;
        for (k, &((cx, cy), (dx, dy), w)) in pts.iter().enumerate() {
            if !keep[k] {
                continue;
            }
            count += 1;
            let v = [f64::from(cx), f64::from(cy), 1.0];
            let w = f64::from(w);
            for i in 0..3 {
                for j in 0..3 {
                    m[i][j] += w * v[i] * v[j];
                }
                bx[i] += w * v[i] * f64::from(dx);
                by[i] += w * v[i] * f64::from(dy);
            }
        }
        if count < 6 {
            return model;
        }
        let (ax, ay) = (solve3(m, bx)?, solve3(m, by)?);
        let fit = [ax, ay];
        res.clear();
        res.extend(pts.iter().map(|&((cx, cy), (dx, dy), _)| {
            let p = eval_affine(&fit, cx, cy);
            distance(p.0 - dx, p.1 - dy)
        }));
        // shrink the inlier band towards `reject` as the fit improves (the median by
        // selection: a sort per round and node was a quarter of the frame's alignment time)
        sorted.clone_from(&res);
        let mid = sorted.len() / 2;
        let thr = reject.max(2.0 * *sorted.select_nth_unstable_by(mid, f32::total_cmp).1);
        for (k, e) in res.iter().enumerate() {
            keep[k] = *e <= thr;
        }
        model = Some(fit);
    }
    model
}

/// `hypot(x, y)`, as glibc's `hypotf` computes it (squares summed and rooted in double
/// precision, rounded once to single) but inlined: the library call was a tenth of the
/// local fits' time.
#[inline]
fn distance(x: f32, y: f32) -> f32 {
    let (x, y) = (f64::from(x), f64::from(y));
    (x * x + y * y).sqrt() as f32
}

/// The affine model at (`x`, `y`).
pub(crate) fn eval_affine(m: &[[f64; 3]; 2], x: f32, y: f32) -> (f32, f32) {
    let (x, y) = (f64::from(x), f64::from(y));
    (
        (m[0][0] * x + m[0][1] * y + m[0][2]) as f32,
        (m[1][0] * x + m[1][1] * y + m[1][2]) as f32,
    )
}

/// Solves a 3x3 linear system by Cramer's rule; `None` when it is singular.
fn solve3(m: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    if d.abs() < 1e-12 * (m[0][0] * m[1][1] * m[2][2]).abs().max(1e-300) {
        return None;
    }
    let mut out = [0.0; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let mut mc = m;
        for r in 0..3 {
            mc[r][c] = b[r];
        }
        *o = det(&mc) / d;
    }
    Some(out)
}

/// Affine models fitted over overlapping neighbourhoods of the tile grid (robustly, to the
/// well-posed tiles in each), blended bilinearly between neighbourhood centres: a smooth
/// motion field that follows what one affine model cannot (lens distortion, rolling
/// shutter, depth), and ignores isolated tiles that disagree with their neighbours.
pub(crate) struct LocalMotion {
    /// Model per node, row-major (`nx` x `ny`); node `(i, j)` is centred on tile row
    /// `min(i * NODE_STEP, tiles_y - 1)` and column `min(j * NODE_STEP, tiles_x - 1)`.
    models: Vec<Affine>,
    nx: usize,
    ny: usize,
    grid: TileGrid,
}

impl LocalMotion {
    /// Fits the models; `d[t]` is tile `t`'s displacement where it is well posed. `None` when
    /// the whole frame has too few such tiles for even one affine model.
    pub fn fit(grid: &TileGrid, d: &[Option<(f32, f32)>]) -> Option<LocalMotion> {
        let pts: Vec<TilePoint> = d
            .iter()
            .enumerate()
            .filter_map(|(t, d)| d.map(|d| (grid.centre(t), d, 1.0)))
            .collect();
        let global = fit_affine(&pts, 1.0)?;
        let nodes = |n: usize| (n - 1).div_ceil(NODE_STEP) + 1;
        let (nx, ny) = (nodes(grid.nx), nodes(grid.ny));
        let models = (0..nx * ny)
            .into_par_iter()
            .map(|k| {
                let (ci, cj) = (
                    ((k / nx) * NODE_STEP).min(grid.ny - 1),
                    ((k % nx) * NODE_STEP).min(grid.nx - 1),
                );
                let mut local = Vec::new();
                for i in ci.saturating_sub(NODE_RADIUS)..=(ci + NODE_RADIUS).min(grid.ny - 1) {
                    for j in cj.saturating_sub(NODE_RADIUS)..=(cj + NODE_RADIUS).min(grid.nx - 1) {
                        let t = i * grid.nx + j;
                        if let Some(d) = d[t] {
                            local.push((grid.centre(t), d, 1.0));
                        }
                    }
                }
                if local.len() < NODE_MIN_POINTS {
                    return global;
                }
                fit_affine(&local, 1.0).unwrap_or(global)
            })
            .collect();
        Some(LocalMotion {
            models,
            nx,
            ny,
            grid: *grid,
        })
    }

    /// The motion at tile `t`'s centre: the predictions of the four surrounding nodes'
    /// models, blended bilinearly.
    pub fn at(&self, t: usize) -> (f32, f32) {
        let (cx, cy) = self.grid.centre(t);
        let (ti, tj) = (t / self.grid.nx, t % self.grid.nx);
        // node coordinates of the tile (nodes are NODE_STEP tiles apart, the last one clamped)
        let pos = |tile: usize, n: usize, tiles: usize| {
            let k = (tile / NODE_STEP).min(n - 1);
            let (a, b) = (
                (k * NODE_STEP).min(tiles - 1),
                ((k + 1) * NODE_STEP).min(tiles - 1),
            );
            if b > a && k + 1 < n {
                (k, k + 1, (tile - a) as f32 / (b - a) as f32)
            } else {
                (k, k, 0.0)
            }
        };
        let (i0, i1, fy) = pos(ti, self.ny, self.grid.ny);
        let (j0, j1, fx) = pos(tj, self.nx, self.grid.nx);
        let p = |i: usize, j: usize| eval_affine(&self.models[i * self.nx + j], cx, cy);
        let lerp =
            |a: (f32, f32), b: (f32, f32), f: f32| (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f);
        lerp(
            lerp(p(i0, j0), p(i0, j1), fx),
            lerp(p(i1, j0), p(i1, j1), fx),
            fy,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_fit_recovers_a_rotation_despite_outliers() {
        let truth = |x: f32, y: f32| (0.01 * x - 0.02 * y + 3.0, 0.02 * x + 0.01 * y - 1.0);
        let mut pts = Vec::new();
        for i in 0..10 {
            for j in 0..10 {
                let (x, y) = (j as f32 * 16.0, i as f32 * 16.0);
                let d = if (i + j) % 7 == 0 {
                    (20.0, -20.0)
                } else {
                    truth(x, y)
                };
                pts.push(((x, y), d, 1.0));
            }
        }
        let m = fit_affine(&pts, 1.0).unwrap();
        let (px, py) = eval_affine(&m, 50.0, 70.0);
        let (tx, ty) = truth(50.0, 70.0);
        assert!(
            (px - tx).abs() < 1e-3 && (py - ty).abs() < 1e-3,
            "{px} {py} vs {tx} {ty}"
        );
    }

    /// A smooth non-affine field (a quadratic, like lens distortion) with a tenth of the
    /// tiles off by several pixels: the local models follow the field where one affine fit
    /// cannot, and ignore the outliers.
    #[test]
    fn local_models_follow_a_smooth_field_despite_outliers() {
        let grid = TileGrid::new(1000, 700, 16);
        let truth = |x: f32, y: f32| {
            let (u, v) = (x / 500.0 - 1.0, y / 350.0 - 1.0);
            (1.5 * u * (u * u + v * v), 1.5 * v * (u * u + v * v) + 0.5)
        };
        let d: Vec<Option<(f32, f32)>> = (0..grid.len())
            .map(|t| {
                let (x, y) = grid.centre(t);
                Some(if t % 10 == 3 {
                    (5.0, -4.0)
                } else {
                    truth(x, y)
                })
            })
            .collect();
        let local = LocalMotion::fit(&grid, &d).unwrap();
        let global = fit_affine(
            &d.iter()
                .enumerate()
                .map(|(t, d)| (grid.centre(t), d.unwrap(), 1.0))
                .collect::<Vec<_>>(),
            1.0,
        )
        .unwrap();
        let (mut worst_local, mut worst_global) = (0.0f32, 0.0f32);
        for t in 0..grid.len() {
            let (x, y) = grid.centre(t);
            let tr = truth(x, y);
            let (l, g) = (local.at(t), eval_affine(&global, x, y));
            worst_local = worst_local.max((l.0 - tr.0).hypot(l.1 - tr.1));
            worst_global = worst_global.max((g.0 - tr.0).hypot(g.1 - tr.1));
        }
        eprintln!(
            "worst error: local models {worst_local:.3} px, one affine fit {worst_global:.3} px"
        );
        assert!(
            worst_local < 0.25,
            "local models: worst error {worst_local} px"
        );
        assert!(
            worst_global > 4.0 * worst_local,
            "one affine fit: worst error {worst_global} px"
        );
    }
}
