//! Resampling an alternate frame onto the reference's photosites.
//!
//! An aliased Bayer plane cannot be shifted by a fraction of a pixel without losing detail:
//! measured on real texture, cubic resampling of each plane keeps only +4.0 to +4.9 dB of
//! merge gain where resampling through a good demosaic keeps +6.0 to +6.2 dB. So each alternate
//! frame is demosaiced, each reference photosite's displacement is interpolated from the tile
//! field, and the colour the reference has at that site is sampled bicubically from the
//! demosaiced frame at the displaced position.

use rayon::prelude::*;

use crate::align::Alignment;
use crate::cpu::{Isa, kernels};
#[cfg(test)]
use crate::demosaic::demosaic;
use crate::demosaic::{Demosaic, demosaic_into};
use crate::image::{Cfa, Plane, Rect, cubic_weights};
use crate::merge::wiener::Padded;
use crate::raw::RawFrame;

/// Per-pixel displacement from a tile field: bilinear between tile centres, constant beyond
/// the outermost centres.
pub(crate) struct Field<'a> {
    al: &'a Alignment,
}

impl<'a> Field<'a> {
    pub fn new(al: &'a Alignment) -> Self {
        Field { al }
    }

    /// Interpolation position and weight along one axis: lower tile index and fraction.
    #[inline]
    fn axis(&self, u: f32, n: usize) -> (usize, f32) {
        let s = self.al.tile_step as f32;
        let t = ((u - self.al.tile_size as f32 / 2.0) / s).clamp(0.0, (n - 1) as f32);
        let i = (t.floor() as usize).min(n.saturating_sub(2));
        (i, if n > 1 { t - i as f32 } else { 0.0 })
    }

    /// The row-major indices of the (up to) four tiles whose centres surround (`x`, `y`):
    /// those [`Field::at`] interpolates between.
    pub fn tiles_at(&self, x: f32, y: f32) -> [usize; 4] {
        let (nx, ny) = (self.al.tiles_x, self.al.tiles_y);
        let (j, _) = self.axis(x, nx);
        let (i, _) = self.axis(y, ny);
        let at = |i: usize, j: usize| i.min(ny - 1) * nx + j.min(nx - 1);
        [at(i, j), at(i, j + 1), at(i + 1, j), at(i + 1, j + 1)]
    }

    /// Displacement at continuous position (`x`, `y`) relative to the alignment's origin.
    #[inline]
    pub fn at(&self, x: f32, y: f32) -> [f32; 2] {
        let (nx, ny) = (self.al.tiles_x, self.al.tiles_y);
        let (j, fx) = self.axis(x, nx);
        let (i, fy) = self.axis(y, ny);
        let f = &self.al.field;
        let get = |i: usize, j: usize| f[i.min(ny - 1) * nx + j.min(nx - 1)];
        let (a, b, c, d) = (get(i, j), get(i, j + 1), get(i + 1, j), get(i + 1, j + 1));
        let mut out = [0.0; 2];
        for k in 0..2 {
            // down the two tile columns, then across (the order of `row`)
            let left = a[k] + (c[k] - a[k]) * fy;
            let right = b[k] + (d[k] - b[k]) * fy;
            out[k] = left + (right - left) * fx;
        }
        out
    }

    /// The x-axis interpolation of every pixel centre of a `w`-pixel row, for [`Field::row`].
    pub fn columns(&self, w: usize) -> Vec<(usize, f32)> {
        (0..w)
            .map(|x| self.axis(x as f32 + 0.5, self.al.tiles_x))
            .collect()
    }

    /// The x-axis interpolation at continuous positions `xs`, for [`Field::row_at`].
    pub fn columns_at(&self, xs: &[f32]) -> Vec<(usize, f32)> {
        xs.iter().map(|&x| self.axis(x, self.al.tiles_x)).collect()
    }

    /// Displacements of the pixel centres of row `y` (`dx`, `dy` as long as `columns`): the
    /// field interpolated down the tile columns once for the row, then along it per pixel;
    /// the values [`Field::at`] gives.
    pub fn row(&self, y: usize, columns: &[(usize, f32)], dx: &mut [f32], dy: &mut [f32]) {
        self.row_at(y as f32 + 0.5, columns, dx, dy);
    }

    /// Displacements along the continuous row `y` at the positions `columns` describes
    /// ([`Field::columns_at`]).
    pub fn row_at(&self, y: f32, columns: &[(usize, f32)], dx: &mut [f32], dy: &mut [f32]) {
        let (nx, ny) = (self.al.tiles_x, self.al.tiles_y);
        let (i, fy) = self.axis(y, ny);
        let f = &self.al.field;
        let (top, bot) = (i.min(ny - 1) * nx, (i + 1).min(ny - 1) * nx);
        // one more column than the field has, repeating the last (the clamp of `at`)
        let col: Vec<[f32; 2]> = (0..=nx)
            .map(|j| {
                let j = j.min(nx - 1);
                let (a, c) = (f[top + j], f[bot + j]);
                [a[0] + (c[0] - a[0]) * fy, a[1] + (c[1] - a[1]) * fy]
            })
            .collect();
        for ((&(j, fx), ox), oy) in columns.iter().zip(dx.iter_mut()).zip(dy.iter_mut()) {
            let (a, b) = (col[j], col[j + 1]);
            *ox = a[0] + (b[0] - a[0]) * fx;
            *oy = a[1] + (b[1] - a[1]) * fx;
        }
    }
}

/// How far (photosites) a clipped photosite spoils the demosaiced values around it.
const CLIP_REACH: usize = 4;

/// Separable square dilation of a 0/1 mask by `r`, in parallel over rows: a running maximum
/// along each row, then the element-wise maximum of `2 r + 1` rows.
pub(crate) fn dilate(mask: &mut [u8], w: usize, h: usize, r: usize) {
    let mut tmp = vec![0u8; mask.len()];
    tmp.par_chunks_mut(w)
        .zip(mask.par_chunks(w))
        .for_each(|(t, row)| {
            t.copy_from_slice(row);
            for k in 1..=r.min(w.saturating_sub(1)) {
                for x in 0..w - k {
                    t[x] = t[x].max(row[x + k]);
                    t[x + k] = t[x + k].max(row[x]);
                }
            }
        });
    mask.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        out.copy_from_slice(&tmp[y0 * w..(y0 + 1) * w]);
        for yy in y0 + 1..y1 {
            for (o, t) in out.iter_mut().zip(&tmp[yy * w..(yy + 1) * w]) {
                *o = (*o).max(*t);
            }
        }
    });
}

/// An alternate frame resampled onto the reference's active area: one value per reference
/// photosite, in the reference's CFA colour, scaled to the reference's exposure, laid out as
/// the tile merge reads it: four padded Bayer planes.
pub(crate) struct Warped {
    /// Bayer planes of positions (0, 0), (1, 0), (0, 1), (1, 1) of each 2x2 quad.
    pub planes: [Padded; 4],
    /// 1 where the sample is usable (inside the alternate frame and not near a clipped
    /// pixel), else 0; same layout.
    pub valid: [Padded; 4],
}

impl Warped {
    /// The sample at area position (`x`, `y`) and whether it is usable.
    pub fn at(&self, x: usize, y: usize) -> (f32, bool) {
        let p = (y & 1) * 2 + (x & 1);
        (
            self.planes[p].inner(x / 2, y / 2),
            self.valid[p].inner(x / 2, y / 2) > 0.5,
        )
    }
}

/// Pixels resampled together by [`resample_row`].
const RUN: usize = 16;

/// `floor` for the magnitudes a displacement has (exact below 2^23), without a library call.
#[inline(always)]
fn floor(q: f32) -> f32 {
    let t = q as i32 as f32;
    if t > q { t - 1.0 } else { t }
}

/// Resamples row `y` of the output: photosite `x` takes colour `colors[x & 1]` bicubically
/// at `(x + dx[x], y + dy[x])` of `rgb`, times `gain`; exactly what [`Plane::sample_cubic`]
/// gives.
///
/// Runs of [`RUN`] photosites whose stencils all start at the same offset from their
/// photosite, and lie inside the planes, share contiguous row loads and vectorise, each
/// photosite with its own weights; the field changes by hundredths of a pixel across a run,
/// so runs that straddle a whole-pixel step, and the planes' borders, are few and go one
/// photosite at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn resample_row_body(
    rgb: &[Plane<f32>; 3],
    colors: [usize; 2],
    y: usize,
    dx: &[f32],
    dy: &[f32],
    gain: f32,
    out: &mut [f32],
) {
    let planes = [&rgb[colors[0]], &rgb[colors[1]]];
    let (w, h) = (planes[0].width, planes[0].height);
    let mut x0 = 0;
    while x0 < w {
        let n = RUN.min(w - x0);
        let mut fast = n == RUN;
        let (mut ox, mut oy) = ([0i32; RUN], [0i32; RUN]);
        let (mut tx, mut ty) = ([0f32; RUN], [0f32; RUN]);
        if fast {
            for k in 0..RUN {
                let (qx, qy) = ((x0 + k) as f32 + dx[x0 + k], y as f32 + dy[x0 + k]);
                let (fx, fy) = (floor(qx), floor(qy));
                (tx[k], ty[k]) = (qx - fx, qy - fy);
                ox[k] = fx as i32 - (x0 + k) as i32;
                oy[k] = fy as i32;
            }
            let (sx, sy) = (x0 as i64 + i64::from(ox[0]) - 1, i64::from(oy[0]) - 1);
            fast = ox.iter().all(|&o| o == ox[0])
                && oy.iter().all(|&o| o == oy[0])
                && sx >= 0
                && sy >= 0
                && sx as usize + RUN + 3 <= w
                && sy as usize + 4 <= h;
        }
        if fast {
            let (sx, sy) = ((x0 as i32 + ox[0] - 1) as usize, (oy[0] - 1) as usize);
            let mut wx = [[0f32; RUN]; 4];
            let mut wy = [[0f32; RUN]; 4];
            for k in 0..RUN {
                let (a, b) = (cubic_weights(tx[k]), cubic_weights(ty[k]));
                for i in 0..4 {
                    wx[i][k] = a[i];
                    wy[i][k] = b[i];
                }
            }
            let mut acc = [[0f32; RUN]; 2];
            for (j, wyj) in wy.iter().enumerate() {
                let s = (sy + j) * w + sx;
                for (p, a) in planes.iter().zip(acc.iter_mut()) {
                    let r: &[f32; RUN + 3] = p.data[s..s + RUN + 3].try_into().unwrap();
                    for k in 0..RUN {
                        let hk = wx[0][k] * r[k]
                            + wx[1][k] * r[k + 1]
                            + wx[2][k] * r[k + 2]
                            + wx[3][k] * r[k + 3];
                        a[k] += wyj[k] * hk;
                    }
                }
            }
            let o: &mut [f32; RUN] = (&mut out[x0..x0 + RUN]).try_into().unwrap();
            for k in 0..RUN {
                o[k] = gain * acc[k & 1][k];
            }
        } else {
            for x in x0..x0 + n {
                out[x] = gain * planes[x & 1].sample_cubic(x as f32 + dx[x], y as f32 + dy[x]);
            }
        }
        x0 += n;
    }
}

kernels! {
    fn resample_row(
        rgb: &[Plane<f32>; 3],
        colors: [usize; 2],
        y: usize,
        dx: &[f32],
        dy: &[f32],
        gain: f32,
        out: &mut [f32],
    ) = resample_row_body;
}

/// Marks the samples of row `y` usable (1) or not (0): displaced position (pixel centres)
/// inside the frame by a pixel, and, when `clipped` is given, not on a clipped photosite.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn usable_row_body(
    w: usize,
    h: usize,
    y: usize,
    dx: &[f32],
    dy: &[f32],
    clipped: Option<&[u8]>,
    out: &mut [f32],
) {
    let (xmax, ymax) = ((w - 1) as f32, (h - 1) as f32);
    let qy0 = y as f32 + 0.5;
    for (x, ((v, ddx), ddy)) in out.iter_mut().zip(dx).zip(dy).enumerate() {
        let (qx, qy) = (x as f32 + 0.5 + ddx, qy0 + ddy);
        let inside = (qx >= 1.0) & (qy >= 1.0) & (qx <= xmax) & (qy <= ymax);
        *v = if inside { 1.0 } else { 0.0 };
    }
    if let Some(c) = clipped {
        for (x, v) in out.iter_mut().enumerate() {
            if *v > 0.0 {
                let (qx, qy) = (x as f32 + 0.5 + dx[x], qy0 + dy[x]);
                if c[(qy as usize).min(h - 1) * w + (qx as usize).min(w - 1)] != 0 {
                    *v = 0.0;
                }
            }
        }
    }
}

/// Splits a row into its even and odd samples.
#[inline(always)]
fn split_row_body(row: &[f32], even: &mut [f32], odd: &mut [f32]) {
    for ((pair, e), o) in row.chunks_exact(2).zip(even.iter_mut()).zip(odd.iter_mut()) {
        (*e, *o) = (pair[0], pair[1]);
    }
}

kernels! {
    fn usable_row(
        w: usize,
        h: usize,
        y: usize,
        dx: &[f32],
        dy: &[f32],
        clipped: Option<&[u8]>,
        out: &mut [f32],
    ) = usable_row_body;
    fn split_row(row: &[f32], even: &mut [f32], odd: &mut [f32]) = split_row_body;
}

/// Resamples `frame` onto `area` (the reference's active area, even size) with the CFA
/// `cfa` (the reference's, at the area's origin).
///
/// The alternate frame is demosaiced, and each reference photosite takes its colour
/// bicubically at its own displacement, interpolated from the tile field ([`Field`]); the
/// rows go through the vectorised [`resample_row`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn warp_to_reference(
    frame: &RawFrame,
    al: &Alignment,
    area: Rect,
    cfa: Cfa,
    method: Demosaic,
    gain: f32,
    clip: f32,
    scratch: &mut WarpScratch,
) -> Warped {
    warp_with(
        Isa::detect(),
        frame,
        al,
        area,
        cfa,
        method,
        gain,
        clip,
        scratch,
    )
}

/// Buffers [`warp_to_reference`] reuses from one frame to the next (fresh 100 MB buffers
/// cost a page fault per 4 kB each time): the demosaiced planes, the clip mask, and the
/// planes of a [`Warped`] handed back with [`WarpScratch::recycle`].
#[derive(Default)]
pub(crate) struct WarpScratch {
    rgb: [Plane<f32>; 3],
    clipped: Vec<u8>,
    spare: Option<Warped>,
}

impl WarpScratch {
    /// Takes back a warped frame's planes for the next frame.
    pub fn recycle(&mut self, w: Warped) {
        self.spare = Some(w);
    }
}

/// [`warp_to_reference`] with the instruction set chosen by the caller (for tests).
#[allow(clippy::too_many_arguments)]
fn warp_with(
    isa: Isa,
    frame: &RawFrame,
    al: &Alignment,
    area: Rect,
    cfa: Cfa,
    method: Demosaic,
    gain: f32,
    clip: f32,
    scratch: &mut WarpScratch,
) -> Warped {
    let (w, h) = (area.width, area.height);
    let full = Rect::new(0, 0, frame.mosaic.width, frame.mosaic.height);
    let cropped;
    let src = if area == full {
        &frame.mosaic
    } else {
        cropped = frame.mosaic.crop(area);
        &cropped
    };
    demosaic_into(src, frame.cfa_at(area), method, &mut scratch.rgb);
    let rgb = &scratch.rgb;
    // clipped photosites, dilated by CLIP_REACH (most of the demosaic's weight: RCD's
    // stencil reaches further, with small weights), as a mask
    let clipped = &mut scratch.clipped;
    clipped.resize(w * h, 0);
    clipped
        .par_iter_mut()
        .zip(src.data.par_iter())
        .for_each(|(c, &v)| *c = u8::from(v >= clip));
    let any_clip = clipped.par_iter().any(|&c| c == 1);
    if any_clip {
        dilate(clipped, w, h, CLIP_REACH);
    }
    let clipped_rows: Vec<bool> = if any_clip {
        clipped.par_chunks(w).map(|r| r.contains(&1)).collect()
    } else {
        Vec::new()
    };
    let clipped: &[u8] = clipped;
    let field = Field::new(al);
    let columns = field.columns(w);
    let (iw, ih) = (w / 2, h / 2);
    // every inner sample is written and the borders mirrored, so old planes of the same
    // geometry serve as they are
    let (mut planes, mut valid) = match scratch.spare.take() {
        Some(old) if old.planes[0].fits(iw, ih) => (old.planes, old.valid),
        _ => (
            std::array::from_fn(|_| Padded::zeros(iw, ih)),
            std::array::from_fn(|_| Padded::zeros(iw, ih)),
        ),
    };
    {
        let [p0, p1, p2, p3] = &mut planes;
        let [v0, v1, v2, v3] = &mut valid;
        (
            p0.inner_rows_mut(iw, ih),
            p1.inner_rows_mut(iw, ih),
            p2.inner_rows_mut(iw, ih),
            p3.inner_rows_mut(iw, ih),
            v0.inner_rows_mut(iw, ih),
            v1.inner_rows_mut(iw, ih),
            v2.inner_rows_mut(iw, ih),
            v3.inner_rows_mut(iw, ih),
        )
            .into_par_iter()
            .enumerate()
            .for_each_init(
                || (vec![0f32; w], vec![0f32; w], vec![0f32; w], vec![0f32; w]),
                |(dx, dy, row, vrow), (m, (e0, o0, e1, o1, ve0, vo0, ve1, vo1))| {
                    let out = [[e0, o0], [e1, o1]];
                    let vout = [[ve0, vo0], [ve1, vo1]];
                    for (r, ([even, odd], [veven, vodd])) in out.into_iter().zip(vout).enumerate() {
                        let y = 2 * m + r;
                        field.row(y, &columns, dx, dy);
                        let colors = [cfa.color_at(0, y) as usize, cfa.color_at(1, y) as usize];
                        resample_row(isa, rgb, colors, y, dx, dy, gain, row);
                        // usable: the sample's position inside the frame and away from
                        // clipping; rows whose samples reach no clipped row skip the lookup
                        let (lo, hi) = dy
                            .iter()
                            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &d| {
                                (a.min(d), b.max(d))
                            });
                        let (r0, r1) = (y as f32 + 0.5 + lo, y as f32 + 1.5 + hi);
                        let (r0, r1) = (r0.max(0.0) as usize, (r1.max(0.0) as usize).min(h));
                        let near_clip = any_clip && clipped_rows[r0.min(r1)..r1].contains(&true);
                        let mask = if near_clip { Some(clipped) } else { None };
                        usable_row(isa, w, h, y, dx, dy, mask, vrow);
                        split_row(isa, row, even, odd);
                        split_row(isa, vrow, veven, vodd);
                    }
                },
            );
    }
    planes
        .par_iter_mut()
        .chain(valid.par_iter_mut())
        .for_each(|p| p.mirror_border(iw, ih));
    Warped { planes, valid }
}

/// The resampling one photosite at a time, each at the displacement [`Field::at`] gives:
/// the reference for [`resample_row`]'s runs.
#[cfg(test)]
fn warp_reference(rgb: &[Plane<f32>], al: &Alignment, cfa: Cfa, gain: f32) -> Plane<f32> {
    let (w, h) = (rgb[0].width, rgb[0].height);
    let field = Field::new(al);
    let mut mosaic = Plane::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let d = field.at(x as f32 + 0.5, y as f32 + 0.5);
            let c = cfa.color_at(x, y) as usize;
            mosaic.data[y * w + x] = gain * rgb[c].sample_cubic(x as f32 + d[0], y as f32 + d[1]);
        }
    }
    mosaic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dilation_grows_a_point_into_a_square() {
        let (w, h) = (9, 7);
        let mut m = vec![0u8; w * h];
        m[3 * w + 4] = 1;
        dilate(&mut m, w, h, 2);
        for y in 0..h {
            for x in 0..w {
                let inside = (2..=6).contains(&x) && (1..=5).contains(&y);
                assert_eq!(m[y * w + x] == 1, inside, "{x},{y}");
            }
        }
    }

    /// A frame of real-ish texture and a field over it.
    fn frame_and_field(
        (w, h): (usize, usize),
        field: impl Fn(f32, f32) -> [f32; 2],
    ) -> (RawFrame, Alignment) {
        let sb = crate::synth::synthesize(&crate::synth::SynthParams {
            frames: 1,
            width: w,
            height: h,
            supersample: 1,
            ..Default::default()
        })
        .unwrap();
        let (step, size) = (16, 32);
        let (tx, ty) = ((w - size) / step + 1, (h - size) / step + 1);
        let mut v = Vec::new();
        for i in 0..ty {
            for j in 0..tx {
                v.push(field(
                    (j * step + size / 2) as f32,
                    (i * step + size / 2) as f32,
                ));
            }
        }
        let al = Alignment {
            tiles_x: tx,
            tiles_y: ty,
            tile_step: step,
            tile_size: size,
            origin: [0, 0],
            field: v,
            deviation: Vec::new(),
            coarse_residual: Vec::new(),
            residual: vec![0.0; tx * ty],
        };
        (sb.frames.into_iter().next().unwrap(), al)
    }

    /// Largest difference between the warped planes and a reference mosaic.
    fn max_difference(w: &Warped, reference: &Plane<f32>) -> f32 {
        let mut worst = 0.0f32;
        for y in 0..reference.height {
            for x in 0..reference.width {
                worst = worst.max((w.at(x, y).0 - reference.get(x, y)).abs());
            }
        }
        worst
    }

    fn warp_all(f: &RawFrame, al: &Alignment, isa: Isa) -> (Warped, Plane<f32>) {
        let area = Rect::new(0, 0, f.mosaic.width, f.mosaic.height);
        let mut scratch = WarpScratch::default();
        let run =
            |s: &mut WarpScratch| warp_with(isa, f, al, area, f.cfa, Demosaic::Rcd, 1.5, 2.0, s);
        let wp = run(&mut scratch);
        // frames through the same buffers (taken back or not) give the same planes
        for recycle in [true, false] {
            let again = run(&mut scratch);
            for p in 0..4 {
                assert_eq!(again.planes[p].data, wp.planes[p].data);
                assert_eq!(again.valid[p].data, wp.valid[p].data);
            }
            if recycle {
                scratch.recycle(again);
            }
        }
        let rgb = demosaic(&f.mosaic, f.cfa, Demosaic::Rcd);
        let reference = warp_reference(&rgb, al, f.cfa, 1.5);
        (wp, reference)
    }

    /// Under a translation the row resampling is the per-photosite reference, and every
    /// instruction set gives the same bits, at sizes that leave partial blocks at the edges.
    #[test]
    fn rows_equal_the_reference_under_a_translation() {
        for size in [(200, 150), (94, 38)] {
            let (f, al) = frame_and_field(size, |_, _| [3.3, -1.7]);
            let (base, reference) = warp_all(&f, &al, Isa::baseline());
            let worst = max_difference(&base, &reference);
            assert!(worst < 1e-5, "{size:?}: {worst}");
            for isa in Isa::supported() {
                let (fast, _) = warp_all(&f, &al, isa);
                for p in 0..4 {
                    assert_eq!(fast.planes[p].data, base.planes[p].data, "{isa:?}");
                    assert_eq!(fast.valid[p].data, base.valid[p].data, "{isa:?}");
                }
            }
        }
    }

    /// Under a 1 degree rotation (three times the synthetic handheld bursts' largest) the
    /// vectorised runs and the photosite-at-a-time fallback together give the reference's
    /// values, on every instruction set.
    #[test]
    fn rows_equal_the_reference_under_a_rotation() {
        let (w, h) = (320, 240);
        let (c, s) = (1f32.to_radians().cos(), 1f32.to_radians().sin());
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let (f, al) = frame_and_field((w, h), |x, y| {
            let (u, v) = (x - cx, y - cy);
            [c * u - s * v - u + 0.4, s * u + c * v - v - 2.2]
        });
        for isa in Isa::supported() {
            let (fast, reference) = warp_all(&f, &al, isa);
            let worst = max_difference(&fast, &reference);
            assert!(worst < 1e-5, "{isa:?}: {worst}");
        }
    }

    #[test]
    fn field_interpolates_between_tile_centres() {
        let al = Alignment {
            tiles_x: 2,
            tiles_y: 2,
            tile_step: 16,
            tile_size: 32,
            origin: [0, 0],
            field: vec![[0.0, 0.0], [4.0, 0.0], [0.0, 8.0], [4.0, 8.0]],
            deviation: Vec::new(),
            coarse_residual: Vec::new(),
            residual: vec![0.0; 4],
        };
        let f = Field::new(&al);
        assert_eq!(f.at(16.0, 16.0), [0.0, 0.0]);
        assert_eq!(f.at(32.0, 32.0), [4.0, 8.0]);
        assert_eq!(f.at(24.0, 24.0), [2.0, 4.0]);
        assert_eq!(f.at(0.0, 100.0), [0.0, 8.0]);
    }
}
