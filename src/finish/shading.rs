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
//! Other opcodes are not applied. Those flagged optional are skipped with a note; a required
//! one is an error, since the image would be wrong without it.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::image::Plane;
use crate::raw::{GainMap, Opcode};

/// Which opcode list the maps come from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `OpcodeList2`: on the linear mosaic.
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

    #[test]
    fn required_unknown_opcode_is_an_error_optional_is_a_note() {
        let mk = |flags| Opcode::Other {
            id: 1,
            flags,
            version: [1, 3, 0, 0],
            params: vec![],
        };
        let mut p = Plane::from_vec(2, 2, vec![0.5f32; 4]).unwrap();
        let path = std::path::Path::new("x.dng");
        let notes = apply_opcodes(&[mk(1)], &mut [&mut p], Stage::Rgb, path).unwrap();
        assert!(notes[0].contains("WarpRectilinear"), "{notes:?}");
        let e = apply_opcodes(&[mk(0)], &mut [&mut p], Stage::Mosaic, path).unwrap_err();
        assert!(
            e.to_string().contains("x.dng") && e.to_string().contains("required"),
            "{e}"
        );
    }
}
