//! DNG opcode lists (tags `OpcodeList1/2/3`, DNG 1.7 specification chapter 7).
//!
//! Parsed here, applied by the finish stage. `GainMap` (opcode 9) is what phones use for lens
//! shading; every other opcode is kept as raw bytes with its flags, so that a later stage can
//! skip optional ones and refuse required ones, and so a DNG writer can copy the list unchanged.
//! Opcode lists are big-endian whatever the file's byte order.

use serde::{Deserialize, Serialize};

/// Opcode flag: the opcode may be skipped by readers that do not know it.
pub const FLAG_OPTIONAL: u32 = 1;
/// Opcode flag: the opcode may be skipped for previews.
pub const FLAG_PREVIEW_SKIP: u32 = 2;

/// A DNG `GainMap` opcode: a grid of gains multiplied into a rectangle of one or more planes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GainMap {
    /// Top row of the area the map applies to (image coordinates).
    pub top: u32,
    /// Left column of the area.
    pub left: u32,
    /// Bottom row (exclusive).
    pub bottom: u32,
    /// Right column (exclusive).
    pub right: u32,
    /// First plane the map applies to.
    pub plane: u32,
    /// Number of planes.
    pub planes: u32,
    /// Row step: the map applies to every `row_pitch`-th row from `top`.
    pub row_pitch: u32,
    /// Column step.
    pub col_pitch: u32,
    /// Number of map points vertically.
    pub points_v: u32,
    /// Number of map points horizontally.
    pub points_h: u32,
    /// Vertical spacing of map points, as a fraction of the image height.
    pub spacing_v: f64,
    /// Horizontal spacing, as a fraction of the image width.
    pub spacing_h: f64,
    /// Vertical position of the first map point, as a fraction of the image height.
    pub origin_v: f64,
    /// Horizontal position of the first map point, as a fraction of the image width.
    pub origin_h: f64,
    /// Number of planes in the map (1, or `planes`).
    pub map_planes: u32,
    /// Gains, `[v][h][plane]` row-major.
    pub gains: Vec<f32>,
}

/// One opcode of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Opcode {
    /// Opcode 9.
    GainMap {
        /// Flags (see [`FLAG_OPTIONAL`]).
        flags: u32,
        /// The map.
        map: GainMap,
    },
    /// Any other opcode, kept as it was.
    Other {
        /// Opcode ID (1 = WarpRectilinear, 4 = FixBadPixelsConstant, ...).
        id: u32,
        /// Flags (see [`FLAG_OPTIONAL`]).
        flags: u32,
        /// The DNG version the opcode was written for.
        version: [u8; 4],
        /// Parameter bytes.
        params: Vec<u8>,
    },
}

impl Opcode {
    /// The opcode ID.
    pub fn id(&self) -> u32 {
        match self {
            Opcode::GainMap { .. } => 9,
            Opcode::Other { id, .. } => *id,
        }
    }

    /// Whether a reader that cannot apply the opcode may skip it.
    pub fn is_optional(&self) -> bool {
        let flags = match self {
            Opcode::GainMap { flags, .. } | Opcode::Other { flags, .. } => *flags,
        };
        flags & FLAG_OPTIONAL != 0
    }

    /// The opcode's name in the DNG specification.
    pub fn name(&self) -> &'static str {
        match self.id() {
            1 => "WarpRectilinear",
            2 => "WarpFisheye",
            3 => "FixVignetteRadial",
            4 => "FixBadPixelsConstant",
            5 => "FixBadPixelsList",
            6 => "TrimBounds",
            7 => "MapTable",
            8 => "MapPolynomial",
            9 => "GainMap",
            10 => "DeltaPerRow",
            11 => "DeltaPerColumn",
            12 => "ScalePerRow",
            13 => "ScalePerColumn",
            14 => "WarpRectilinear2",
            _ => "unknown",
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let s = self
            .buf
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| format!("opcode list truncated at byte {}", self.pos))?;
        self.pos += n;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f64(&mut self) -> Result<f64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_be_bytes(a))
    }
    fn f32(&mut self) -> Result<f32, String> {
        Ok(f32::from_bits(self.u32()?))
    }
}

fn parse_gain_map(params: &[u8]) -> Result<GainMap, String> {
    let mut r = Reader {
        buf: params,
        pos: 0,
    };
    let (top, left, bottom, right) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
    let (plane, planes, row_pitch, col_pitch) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
    let (points_v, points_h) = (r.u32()?, r.u32()?);
    let (spacing_v, spacing_h, origin_v, origin_h) = (r.f64()?, r.f64()?, r.f64()?, r.f64()?);
    let map_planes = r.u32()?;
    let n = (points_v as usize)
        .checked_mul(points_h as usize)
        .and_then(|v| v.checked_mul(map_planes as usize))
        .filter(|&n| n > 0 && n * 4 <= params.len())
        .ok_or_else(|| {
            format!("GainMap claims {points_v}x{points_h}x{map_planes} gains, more than its bytes")
        })?;
    if bottom <= top || right <= left || row_pitch == 0 || col_pitch == 0 {
        return Err(format!(
            "GainMap has an empty area ({top},{left})-({bottom},{right}) or a zero pitch"
        ));
    }
    if !(spacing_v.is_finite()
        && spacing_h.is_finite()
        && origin_v.is_finite()
        && origin_h.is_finite())
    {
        return Err("GainMap has a non-finite spacing or origin".into());
    }
    let gains = (0..n).map(|_| r.f32()).collect::<Result<Vec<_>, _>>()?;
    Ok(GainMap {
        top,
        left,
        bottom,
        right,
        plane,
        planes,
        row_pitch,
        col_pitch,
        points_v,
        points_h,
        spacing_v,
        spacing_h,
        origin_v,
        origin_h,
        map_planes,
        gains,
    })
}

/// Parses an opcode list.
pub(crate) fn parse_opcode_list(buf: &[u8]) -> Result<Vec<Opcode>, String> {
    let mut r = Reader { buf, pos: 0 };
    let count = r.u32()?;
    // each opcode has a 16-byte header, so a count beyond that is a lie
    if count as usize > buf.len() / 16 {
        return Err(format!(
            "opcode list claims {count} opcodes in {} bytes",
            buf.len()
        ));
    }
    let mut list = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let id = r.u32()?;
        let v = r.take(4)?;
        let version = [v[0], v[1], v[2], v[3]];
        let flags = r.u32()?;
        let len = r.u32()? as usize;
        let params = r.take(len)?;
        list.push(if id == 9 {
            Opcode::GainMap {
                flags,
                map: parse_gain_map(params)?,
            }
        } else {
            Opcode::Other {
                id,
                flags,
                version,
                params: params.to_vec(),
            }
        });
    }
    Ok(list)
}

/// Serialises an opcode list (the inverse of the decoder's `OpcodeList` parsing).
pub fn write_opcode_list(list: &[Opcode]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(list.len() as u32).to_be_bytes());
    for op in list {
        match op {
            Opcode::GainMap { flags, map } => {
                let mut p = Vec::new();
                for v in [
                    map.top,
                    map.left,
                    map.bottom,
                    map.right,
                    map.plane,
                    map.planes,
                    map.row_pitch,
                    map.col_pitch,
                    map.points_v,
                    map.points_h,
                ] {
                    p.extend_from_slice(&v.to_be_bytes());
                }
                for v in [map.spacing_v, map.spacing_h, map.origin_v, map.origin_h] {
                    p.extend_from_slice(&v.to_be_bytes());
                }
                p.extend_from_slice(&map.map_planes.to_be_bytes());
                for g in &map.gains {
                    p.extend_from_slice(&g.to_be_bytes());
                }
                b.extend_from_slice(&9u32.to_be_bytes());
                b.extend_from_slice(&[1, 3, 0, 0]);
                b.extend_from_slice(&flags.to_be_bytes());
                b.extend_from_slice(&(p.len() as u32).to_be_bytes());
                b.extend_from_slice(&p);
            }
            Opcode::Other {
                id,
                flags,
                version,
                params,
            } => {
                b.extend_from_slice(&id.to_be_bytes());
                b.extend_from_slice(version);
                b.extend_from_slice(&flags.to_be_bytes());
                b.extend_from_slice(&(params.len() as u32).to_be_bytes());
                b.extend_from_slice(params);
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Opcode> {
        vec![
            Opcode::GainMap {
                flags: FLAG_OPTIONAL,
                map: GainMap {
                    top: 0,
                    left: 0,
                    bottom: 480,
                    right: 640,
                    plane: 0,
                    planes: 1,
                    row_pitch: 2,
                    col_pitch: 2,
                    points_v: 2,
                    points_h: 3,
                    spacing_v: 1.0,
                    spacing_h: 0.5,
                    origin_v: 0.0,
                    origin_h: 0.0,
                    map_planes: 1,
                    gains: vec![1.5, 1.0, 1.5, 1.6, 1.1, 1.6],
                },
            },
            Opcode::Other {
                id: 4,
                flags: 0,
                version: [1, 3, 0, 0],
                params: vec![0, 0, 0, 0, 0, 0, 0, 1],
            },
        ]
    }

    #[test]
    fn round_trips() {
        let list = sample();
        let bytes = write_opcode_list(&list);
        assert_eq!(parse_opcode_list(&bytes).unwrap(), list);
        assert!(list[0].is_optional() && !list[1].is_optional());
        assert_eq!(list[1].name(), "FixBadPixelsConstant");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = write_opcode_list(&sample());
        for cut in 0..bytes.len() {
            assert!(parse_opcode_list(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn absurd_counts_are_refused() {
        let mut bytes = write_opcode_list(&sample());
        bytes[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_opcode_list(&bytes).unwrap_err().contains("claims"));
    }
}
