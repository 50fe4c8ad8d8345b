//! Lens shading: DNG `GainMap` opcodes (DNG 1.7, chapter 7, opcode 9).
//!
//! Phones store their lens-shading correction as gain maps in `OpcodeList2` (applied to the
//! linear mosaic, one map per Bayer position via `Top/Left` offsets and `RowPitch/ColPitch` 2)
//! or `OpcodeList3` (applied to the demosaiced planes). A pixel at `(row, col)` of the image
//! (the active area for list 2) samples the map at relative position
//! `((row + 0.5) / height, (col + 0.5) / width)`, which is mapped onto the grid through
//! `MapOrigin` and `MapSpacing`; the gain is bilinear between grid points and held constant
//! outside the grid. As in the DNG SDK, the product is limited to 1.0 (the white level), so
//! that the clipped photosites of a vignetted corner stay at the same clip level as the
//! centre's.
//!
//! `WarpRectilinear` (opcode 1, lens distortion and lateral chromatic aberration, typical of
//! `OpcodeList3`) is applied too: per plane, a destination pixel at normalised offset
//! `(dx, dy)` from the optical centre (divided by the distance `m` from the centre to the
//! farthest corner, `r^2 = dx^2 + dy^2`) is taken from the source at
//! `centre + m * (f dx + kt0 2 dx dy + kt1 (r^2 + 2 dx^2), f dy + kt1 2 dx dy + kt0 (r^2 + 2 dy^2))`
//! with `f = kr0 + kr1 r^2 + kr2 r^4 + kr3 r^6`, sampled with Catmull-Rom interpolation.
//!
//! Other opcodes are not applied. Those flagged optional are skipped with a note; a required
//! one is an error, since the image would be wrong without it.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::image::Plane;
use crate::raw::{GainMap, Opcode};

/// Which opcode list the maps come from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `OpcodeList2`: on the linear data (the mosaic, or a linear RGB frame's planes).
    Mosaic,
    /// `OpcodeList3`: on the demosaiced planes.
    Rgb,
}

/// Applies the gain maps of `list` to `planes` (one plane for a mosaic, three for RGB, in
/// image coordinates), returns notes for the skipped optional opcodes, and errors on
/// required opcodes it cannot apply.
pub fn apply_opcodes(
    list: &[Opcode],
    planes: &mut [&mut Plane<f32>],
    stage: Stage,
    path: &std::path::Path,
) -> Result<Vec<String>> {
    let name = match stage {
        Stage::Mosaic => "OpcodeList2",
        Stage::Rgb => "OpcodeList3",
    };
    let mut notes = Vec::new();
    for op in list {
        match op {
            Opcode::GainMap { map, .. } => {
                for (p, plane) in planes.iter_mut().enumerate() {
                    let p = p as u32;
                    if p >= map.plane && p < map.plane.saturating_add(map.planes) {
                        let map_plane = (p - map.plane).min(map.map_planes.saturating_sub(1));
                        apply_gain_map(plane, map, map_plane as usize);
                    }
                }
            }
            Opcode::Other { id: 1, params, .. } if stage == Stage::Rgb => {
                let warp = WarpRectilinear::parse(params)
                    .map_err(|e| Error::decode(path, format!("{name}: WarpRectilinear: {e}")))?;
                for (p, plane) in planes.iter_mut().enumerate() {
                    let k = warp.coefficients[p.min(warp.coefficients.len() - 1)];
                    **plane = warp_plane(plane, k, warp.centre);
                }
            }
            other if other.is_optional() => notes.push(format!(
                "{name}: optional opcode {} ({}) skipped",
                other.name(),
                other.id()
            )),
            other => {
                return Err(Error::unsupported(
                    path,
                    format!(
                        "{name} has required opcode {} ({}), which obscura does not apply",
                        other.name(),
                        other.id()
                    ),
                ));
            }
        }
    }
    Ok(notes)
}

/// The parameters of a `WarpRectilinear` opcode.
#[derive(Debug, Clone, PartialEq)]
pub struct WarpRectilinear {
    /// Per plane (or one for all): kr0, kr1, kr2, kr3, kt0, kt1.
    pub coefficients: Vec<[f64; 6]>,
    /// Optical centre, relative to the image (0 = left/top edge, 1 = right/bottom).
    pub centre: [f64; 2],
}

impl WarpRectilinear {
    /// Parses the opcode's parameter bytes (big-endian, as all DNG opcode lists).
    pub fn parse(b: &[u8]) -> std::result::Result<WarpRectilinear, String> {
        let u32_at = |o: usize| {
            b.get(o..o + 4)
                .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        };
        let f64_at = |o: usize| {
            b.get(o..o + 8)
                .map(|s| f64::from_be_bytes(std::array::from_fn(|i| s[i])))
        };
        let n = u32_at(0).ok_or("no plane count")? as usize;
        if n == 0 || n > 4 || b.len() != 4 + 48 * n + 16 {
            return Err(format!("{n} coefficient sets in {} bytes", b.len()));
        }
        let mut coefficients = Vec::with_capacity(n);
        for k in 0..n {
            let c: Vec<f64> = (0..6).filter_map(|i| f64_at(4 + 48 * k + 8 * i)).collect();
            coefficients.push([c[0], c[1], c[2], c[3], c[4], c[5]]);
        }
        let o = 4 + 48 * n;
        let centre = [f64_at(o).unwrap_or(0.5), f64_at(o + 8).unwrap_or(0.5)];
        if coefficients
            .iter()
            .flatten()
            .chain(&centre)
            .any(|v| !v.is_finite())
            || coefficients.iter().any(|c| c[0] <= 0.0)
        {
            return Err("non-finite or non-positive coefficients".into());
        }
        Ok(WarpRectilinear {
            coefficients,
            centre,
        })
    }
}

/// Resamples one plane through the `WarpRectilinear` model (see the module docs).
pub fn warp_plane(src: &Plane<f32>, k: [f64; 6], centre: [f64; 2]) -> Plane<f32> {
    let (w, h) = (src.width, src.height);
    let mut out = Plane::new(w, h);
    if w == 0 || h == 0 {
        return out;
    }
    // pixel centres run from 0.5 to w - 0.5; the centre is relative to the image bounds
    let (cx, cy) = (centre[0] * w as f64, centre[1] * h as f64);
    let m = [
        (0.0, 0.0),
        (w as f64, 0.0),
        (0.0, h as f64),
        (w as f64, h as f64),
    ]
    .iter()
    .map(|(x, y)| (x - cx).hypot(y - cy))
    .fold(0.0f64, f64::max)
    .max(1e-9);
    let [kr0, kr1, kr2, kr3, kt0, kt1] = k;
    out.data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let dy = (y as f64 + 0.5 - cy) / m;
        for (x, v) in row.iter_mut().enumerate() {
            let dx = (x as f64 + 0.5 - cx) / m;
            let r2 = dx * dx + dy * dy;
            let f = kr0 + r2 * (kr1 + r2 * (kr2 + r2 * kr3));
            let sx = f * dx + kt0 * 2.0 * dx * dy + kt1 * (r2 + 2.0 * dx * dx);
            let sy = f * dy + kt1 * 2.0 * dx * dy + kt0 * (r2 + 2.0 * dy * dy);
            let (px, py) = (cx + m * sx - 0.5, cy + m * sy - 0.5);
            *v = src.sample_cubic(px as f32, py as f32);
        }
    });
    out
}

/// The gain of `map` at relative position `f` along one axis: returns (index, fraction) for
/// bilinear interpolation between grid points `index` and `index + 1`.
fn grid_pos(f: f64, origin: f64, spacing: f64, points: u32) -> (usize, f32) {
    let last = points.saturating_sub(1) as usize;
    let i = if spacing > 0.0 {
        (f - origin) / spacing
    } else {
        0.0
    };
    if i.is_nan() || i <= 0.0 {
        (0, 0.0)
    } else if i >= last as f64 {
        (last, 0.0)
    } else {
        (i as usize, (i - i.floor()) as f32)
    }
}

/// Multiplies one plane by one map plane (see the module docs).
pub fn apply_gain_map(plane: &mut Plane<f32>, map: &GainMap, map_plane: usize) {
    let (w, h) = (plane.width, plane.height);
    if w == 0 || h == 0 || map.points_v == 0 || map.points_h == 0 {
        return;
    }
    let (top, left) = (map.top as usize, map.left as usize);
    let bottom = (map.bottom as usize).min(h);
    let right = (map.right as usize).min(w);
    if top >= bottom || left >= right {
        return;
    }
    let (rp, cp) = (map.row_pitch.max(1) as usize, map.col_pitch.max(1) as usize);
    let (pv, ph) = (map.points_v as usize, map.points_h as usize);
    let planes = map.map_planes.max(1) as usize;
    let gain = |v: usize, hh: usize| -> f32 {
        map.gains
            .get((v * ph + hh) * planes + map_plane)
            .copied()
            .unwrap_or(1.0)
    };
    // horizontal positions are the same for every row: work them out once
    let cols: Vec<(usize, usize, f32)> = (left..right)
        .step_by(cp)
        .map(|x| {
            let f = (x as f64 + 0.5) / w as f64;
            let (i, t) = grid_pos(f, map.origin_h, map.spacing_h, map.points_h);
            (x, i, t)
        })
        .collect();
    plane
        .data
        .par_chunks_mut(w)
        .enumerate()
        .skip(top)
        .take(bottom - top)
        .filter(|(y, _)| (y - top) % rp == 0)
        .for_each(|(y, row)| {
            let f = (y as f64 + 0.5) / h as f64;
            let (j, s) = grid_pos(f, map.origin_v, map.spacing_v, map.points_v);
            let j2 = (j + 1).min(pv - 1);
            for &(x, i, t) in &cols {
                let i2 = (i + 1).min(ph - 1);
                let g0 = gain(j, i) * (1.0 - t) + gain(j, i2) * t;
                let g1 = gain(j2, i) * (1.0 - t) + gain(j2, i2) * t;
                let g = g0 * (1.0 - s) + g1 * s;
                row[x] = (row[x] * g).min(1.0);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(points: u32, gains: Vec<f32>, pitch: u32, top: u32, left: u32) -> GainMap {
        GainMap {
            top,
            left,
            bottom: 1000,
            right: 1000,
            plane: 0,
            planes: 1,
            row_pitch: pitch,
            col_pitch: pitch,
            points_v: points,
            points_h: points,
            spacing_v: 1.0 / f64::from(points - 1),
            spacing_h: 1.0 / f64::from(points - 1),
            origin_v: 0.0,
            origin_h: 0.0,
            map_planes: 1,
            gains,
        }
    }

    #[test]
    fn bilinear_gain_over_the_image() {
        // 2x2 map: gain 1 on the left, 3 on the right, so the gain at column x is
        // 1 + 2 (x + 0.5) / w
        let m = map(2, vec![1.0, 3.0, 1.0, 3.0], 1, 0, 0);
        let mut p = Plane::from_vec(8, 4, vec![0.1f32; 32]).unwrap();
        apply_gain_map(&mut p, &m, 0);
        for x in 0..8 {
            let want = 0.1 * (1.0 + 2.0 * (x as f32 + 0.5) / 8.0);
            assert!((p.get(x, 2) - want).abs() < 1e-6, "{x}");
        }
    }

    #[test]
    fn pitch_selects_one_bayer_position_and_clips_at_white() {
        let m = map(2, vec![2.0; 4], 2, 1, 0); // rows 1, 3, ...; columns 0, 2, ...
        let mut p = Plane::from_vec(4, 4, vec![0.3f32; 16]).unwrap();
        p.set(2, 3, 0.9);
        apply_gain_map(&mut p, &m, 0);
        for y in 0..4 {
            for x in 0..4 {
                let want = if y % 2 == 1 && x % 2 == 0 { 0.6 } else { 0.3 };
                let want = if (x, y) == (2, 3) { 1.0 } else { want };
                assert!((p.get(x, y) - want).abs() < 1e-6, "{x},{y}");
            }
        }
    }

    fn warp_params(k: [f64; 6], c: [f64; 2]) -> Vec<u8> {
        let mut b = 1u32.to_be_bytes().to_vec();
        for v in k.iter().chain(&c) {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b
    }

    #[test]
    fn warp_rectilinear_identity_and_magnification() {
        let w = 64;
        let src = Plane::from_vec(w, 48, (0..w * 48).map(|i| (i % w) as f32).collect()).unwrap();
        let p = warp_params([1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.5, 0.5]);
        let warp = WarpRectilinear::parse(&p).unwrap();
        let same = warp_plane(&src, warp.coefficients[0], warp.centre);
        assert!(
            same.data
                .iter()
                .zip(&src.data)
                .all(|(a, b)| (a - b).abs() < 1e-4)
        );
        // kr0 = 0.5 samples half as far from the centre: a 2x zoom of the ramp
        let zoom = warp_plane(&src, [0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.5, 0.5]);
        let slope = zoom.get(40, 24) - zoom.get(39, 24);
        assert!((slope - 0.5).abs() < 1e-3, "{slope}");
        assert!(WarpRectilinear::parse(&p[..20]).is_err());
    }

    #[test]
    fn required_unknown_opcode_is_an_error_optional_is_a_note() {
        let mk = |flags| Opcode::Other {
            id: 4,
            flags,
            version: [1, 3, 0, 0],
            params: vec![],
        };
        let mut p = Plane::from_vec(2, 2, vec![0.5f32; 4]).unwrap();
        let path = std::path::Path::new("x.dng");
        let notes = apply_opcodes(&[mk(1)], &mut [&mut p], Stage::Rgb, path).unwrap();
        assert!(notes[0].contains("FixBadPixelsConstant"), "{notes:?}");
        let e = apply_opcodes(&[mk(0)], &mut [&mut p], Stage::Mosaic, path).unwrap_err();
        assert!(
            e.to_string().contains("x.dng") && e.to_string().contains("required"),
            "{e}"
        );
    }
}
