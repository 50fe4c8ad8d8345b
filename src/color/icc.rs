//! ICC v4 display profiles for the output spaces (sRGB and Display P3), built from the
//! colour science of this module.
//!
//! The layout follows ICC.1:2022 (profile version 4.4):
//! - a 128-byte header: size, version 4.4, class `mntr`, colour space `RGB `, PCS `XYZ `, a
//!   fixed creation date (so that outputs are reproducible), `acsp`, perceptual intent, the
//!   PCS illuminant D50 as the exact s15Fixed16 numbers the specification gives
//!   (0x0000F6D6, 0x00010000, 0x0000D32D), and a zero profile ID (allowed: "not computed");
//! - the tag table, then each tag's data starting on a 4-byte boundary, the last one padded
//!   so that the profile's length is a multiple of 4;
//! - `desc` and `cprt` as `multiLocalizedUnicodeType` (en-US, UTF-16BE);
//! - `wtpt` = the PCS illuminant D50 (v4: the media white of a display profile is D50 after
//!   adaptation, and `chad` records the adaptation);
//! - `chad` = the Bradford adaptation D65 -> D50 (`s15Fixed16ArrayType`, row-major), so that
//!   `chad * D65 = D50`;
//! - `rXYZ`, `gXYZ`, `bXYZ` = the columns of `chad * RGB->XYZ(D65)`: the primaries adapted to
//!   D50, summing to D50;
//! - `rTRC`, `gTRC`, `bTRC` = one `parametricCurveType` of function type 3 holding the sRGB
//!   curve ([`SRGB_PARAMETERS`]); the three tags share its data, as the specification
//!   allows.

use super::adapt::bradford;
use super::matrix::{Matrix3, mat_mul, xy_to_xyz};
use super::transfer::SRGB_PARAMETERS;
use super::{ColorSpace, D50_XYZ, D65_XY};

/// The PCS illuminant (D50) as the s15Fixed16 numbers of the ICC specification.
pub const PCS_ILLUMINANT: [i32; 3] = [0x0000_F6D6, 0x0001_0000, 0x0000_D32D];

/// Size of the profile header.
const HEADER: usize = 128;

/// The ICC v4 profile of an output space (see the module docs).
pub fn icc_profile(space: ColorSpace) -> Vec<u8> {
    let description = match space {
        ColorSpace::Srgb => "sRGB IEC61966-2.1 (obscura)",
        ColorSpace::DisplayP3 => "Display P3 (obscura)",
    };
    let chad = bradford(xy_to_xyz(D65_XY), D50_XYZ);
    let rgb_to_pcs = mat_mul(&chad, &space.rgb_to_xyz());
    let column = |c: usize| xyz_type([0, 1, 2].map(|r| s15f16(rgb_to_pcs[r][c])));
    let trc = para_type(SRGB_PARAMETERS);
    // (signature, data); a tag whose data equals an earlier one's shares its offset
    let tags: [(&[u8; 4], Vec<u8>); 10] = [
        (b"desc", mluc_type(description)),
        (b"cprt", mluc_type("No copyright, use freely (CC0)")),
        (b"wtpt", xyz_type(PCS_ILLUMINANT)),
        (b"chad", sf32_type(&chad)),
        (b"rXYZ", column(0)),
        (b"gXYZ", column(1)),
        (b"bXYZ", column(2)),
        (b"rTRC", trc.clone()),
        (b"gTRC", trc.clone()),
        (b"bTRC", trc),
    ];
    let table = 4 + 12 * tags.len();
    let mut data: Vec<u8> = Vec::new();
    let mut entries: Vec<([u8; 4], u32, u32)> = Vec::new();
    for (i, (sig, bytes)) in tags.iter().enumerate() {
        let shared = tags[..i].iter().position(|(_, b)| b == bytes);
        let offset = match shared {
            Some(j) => entries[j].1,
            None => {
                let at = HEADER + table + data.len();
                data.extend_from_slice(bytes);
                pad4(&mut data);
                at as u32
            }
        };
        entries.push((**sig, offset, bytes.len() as u32));
    }
    let size = HEADER + table + data.len();

    let mut p = Vec::with_capacity(size);
    p.extend_from_slice(&(size as u32).to_be_bytes());
    p.extend_from_slice(&[0; 4]); // preferred CMM: none
    p.extend_from_slice(&[4, 0x40, 0, 0]); // version 4.4.0.0
    p.extend_from_slice(b"mntr");
    p.extend_from_slice(b"RGB ");
    p.extend_from_slice(b"XYZ ");
    for v in [2026u16, 1, 1, 0, 0, 0] {
        p.extend_from_slice(&v.to_be_bytes()); // creation date, fixed
    }
    p.extend_from_slice(b"acsp");
    p.extend_from_slice(&[0; 4]); // primary platform: none
    p.extend_from_slice(&[0; 4]); // flags: not embedded-only, independent
    p.extend_from_slice(&[0; 8]); // device manufacturer and model
    p.extend_from_slice(&[0; 8]); // device attributes
    p.extend_from_slice(&0u32.to_be_bytes()); // rendering intent: perceptual
    for v in PCS_ILLUMINANT {
        p.extend_from_slice(&v.to_be_bytes());
    }
    p.extend_from_slice(&[0; 4]); // creator
    p.extend_from_slice(&[0; 16]); // profile ID: zero, not computed
    p.resize(HEADER, 0); // reserved
    p.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for (sig, offset, len) in &entries {
        p.extend_from_slice(sig);
        p.extend_from_slice(&offset.to_be_bytes());
        p.extend_from_slice(&len.to_be_bytes());
    }
    p.extend_from_slice(&data);
    debug_assert_eq!(p.len(), size);
    p
}

/// Pads with zeros to a multiple of 4 bytes.
fn pad4(v: &mut Vec<u8>) {
    v.resize(v.len().next_multiple_of(4), 0);
}

/// The s15Fixed16Number nearest `v`.
fn s15f16(v: f64) -> i32 {
    (v * 65536.0).round() as i32
}

/// A tag's type signature and its four reserved bytes.
fn type_header(sig: &[u8; 4]) -> Vec<u8> {
    let mut v = sig.to_vec();
    v.extend_from_slice(&[0; 4]);
    v
}

/// `XYZType` with one XYZ number.
fn xyz_type(xyz: [i32; 3]) -> Vec<u8> {
    let mut v = type_header(b"XYZ ");
    for c in xyz {
        v.extend_from_slice(&c.to_be_bytes());
    }
    v
}

/// `s15Fixed16ArrayType` of a matrix, row-major.
fn sf32_type(m: &Matrix3) -> Vec<u8> {
    let mut v = type_header(b"sf32");
    for x in m.iter().flatten() {
        v.extend_from_slice(&s15f16(*x).to_be_bytes());
    }
    v
}

/// `parametricCurveType`, function type 3: parameters g, a, b, c, d.
fn para_type(params: [f64; 5]) -> Vec<u8> {
    let mut v = type_header(b"para");
    v.extend_from_slice(&3u16.to_be_bytes());
    v.extend_from_slice(&[0; 2]);
    for x in params {
        v.extend_from_slice(&s15f16(x).to_be_bytes());
    }
    v
}

/// `multiLocalizedUnicodeType` with one en-US record.
fn mluc_type(text: &str) -> Vec<u8> {
    let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut v = type_header(b"mluc");
    v.extend_from_slice(&1u32.to_be_bytes()); // records
    v.extend_from_slice(&12u32.to_be_bytes()); // record size
    v.extend_from_slice(b"enUS");
    v.extend_from_slice(&(utf16.len() as u32).to_be_bytes());
    v.extend_from_slice(&28u32.to_be_bytes()); // offset of the string from the tag's start
    v.extend_from_slice(&utf16);
    v
}
