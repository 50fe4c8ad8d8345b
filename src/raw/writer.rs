//! Writing a [`RawFrame`] as an uncompressed 16-bit DNG 1.4: a Bayer frame as CFA data, a
//! linear RGB frame ([`RawFrame::rgb`]) as LinearRaw.
//!
//! The raw image lives in IFD0 (NewSubFileType 0), one strip, little-endian on little-endian
//! machines. Every tag that obscura reads back is written: levels, geometry, colour
//! calibrations, white balance, noise profile, opcode lists, orientation, camera and exposure
//! data, and for Bayer frames the CFA. Rational tags use the best rational approximation of
//! each value (continued fractions), so values that came from a DNG's rationals round-trip
//! exactly. rawler's low-level TIFF writer lays out the file; the write is atomic.
//!
//! # LinearRaw
//! PhotometricInterpretation 34892, three 16-bit samples per pixel, chunky (R, G, B per
//! pixel). Levels are per sample: `BlackLevelRepeatDim` 1x1 and `BlackLevel` holds
//! `black[0..3]` (the frame's levels of the R, G and B planes; `black[3]` is unused),
//! `WhiteLevel` holds `white` three times. One strip is always enough: TIFF offsets are
//! 32-bit, so a file that fits TIFF at all fits one strip, and the size check refuses the rest.

use std::io::Write;
use std::path::Path;

use rawler::formats::tiff::{DirectoryWriter, Rational, SRational, TiffWriter, Value};

use super::tiff::tags;
use super::{Matrix3, RawFrame, opcodes};
use crate::color::XYZ_TO_SRGB;
use crate::error::{Error, Result};
use crate::image::Cfa;

/// The best rational approximation n/d of `x` with |n|, d within `limit` (continued fractions).
fn best_rational(x: f64, limit: f64) -> (f64, f64) {
    if !x.is_finite() {
        return (0.0, 1.0);
    }
    let (mut h0, mut h1, mut k0, mut k1) = (0.0f64, 1.0f64, 1.0f64, 0.0f64);
    let mut r = x;
    for _ in 0..40 {
        let a = r.floor();
        let (h2, k2) = (a * h1 + h0, a * k1 + k0);
        if h2.abs() > limit || k2 > limit {
            break;
        }
        (h0, h1, k0, k1) = (h1, h2, k1, k2);
        let frac = r - a;
        if frac.abs() < 1e-12 || (h1 / k1 - x).abs() <= f64::EPSILON * x.abs() {
            break;
        }
        r = 1.0 / frac;
    }
    if k1 == 0.0 {
        (x.round(), 1.0)
    } else {
        (h1, k1)
    }
}

fn srational(x: f64) -> SRational {
    let (n, d) = best_rational(x, f64::from(i32::MAX));
    SRational::new(n as i32, d as i32)
}

fn urational(x: f64) -> Rational {
    let (n, d) = best_rational(x.max(0.0), f64::from(i32::MAX));
    Rational::new(n as u32, d as u32)
}

fn matrix_value(m: &Matrix3) -> Value {
    Value::SRational(m.iter().flatten().map(|&v| srational(v)).collect())
}

fn tiff_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(path, std::io::Error::other(e.to_string()))
}

/// What differs between a Bayer and a LinearRaw DNG.
struct Layout {
    /// PhotometricInterpretation: 32803 (CFA) or 34892 (LinearRaw).
    photometric: u16,
    /// The CFA pattern relative to the active area's origin (DNG 1.7); none for LinearRaw.
    cfa: Option<Cfa>,
    /// SamplesPerPixel: 1 or 3.
    samples: u16,
    /// BlackLevelRepeatDim (rows, columns).
    black_dim: [u16; 2],
    /// BlackLevel: rows x columns x samples values.
    black: Vec<f64>,
}

impl Layout {
    fn of(frame: &RawFrame) -> Layout {
        if frame.is_rgb() {
            Layout {
                photometric: 34892,
                cfa: None,
                samples: 3,
                black_dim: [1, 1],
                black: frame.black[..3].to_vec(),
            }
        } else {
            // CFA and black-level patterns are relative to the active area's origin (DNG 1.7)
            let a = frame.active_area;
            Layout {
                photometric: 32803,
                cfa: Some(frame.cfa.shifted(a.x, a.y)),
                samples: 1,
                black_dim: [2, 2],
                black: (0..4)
                    .map(|i| frame.black[((i / 2 + a.y) & 1) * 2 + ((i % 2 + a.x) & 1)])
                    .collect(),
            }
        }
    }
}

/// Writes `frame` as an uncompressed 16-bit DNG at `path`, atomically (a temporary file in the
/// same folder is renamed into place only when complete): a Bayer frame as CFA data, a linear
/// RGB frame as LinearRaw (see the module docs).
///
/// It writes the metadata it is given, the location and identifying tags included: strip
/// them first with [`super::Metadata::private_removed`] (the pipeline and the CLI do).
///
/// Pixels are converted back to raw units with the frame's levels and rounded, so a frame
/// decoded from an integer raw is written back bit-exact. Fails with
/// [`Error::Parameter`] when the frame contradicts itself (planes of different sizes, black
/// not below white) and [`Error::Encode`] when it cannot be a 16-bit DNG (a white level above
/// 65535, more than 4 GB).
pub fn write_dng(frame: &RawFrame, path: &Path) -> Result<()> {
    let layout = Layout::of(frame);
    let (w, h) = frame.size();
    let shapes_agree = match frame.rgb.as_deref() {
        Some(planes) => planes
            .iter()
            .all(|p| (p.width, p.height, p.data.len()) == (w, h, w * h)),
        None => frame.mosaic.data.len() == w * h,
    };
    if w == 0 || h == 0 || !shapes_agree {
        let lens = match frame.rgb.as_deref() {
            Some(planes) => planes.each_ref().map(|p| p.data.len()).to_vec(),
            None => vec![frame.mosaic.data.len()],
        };
        return Err(Error::parameter(
            "frame",
            format!("{w}x{h} buffer with planes of {lens:?} samples"),
        ));
    }
    let used_black = &frame.black[..if frame.is_rgb() { 3 } else { 4 }];
    // levels that contradict each other are the caller's frame at fault; a consistent white
    // above 16 bits is what a 16-bit DNG cannot hold
    if !(frame.white > 0.0 && frame.white.is_finite())
        || used_black.iter().any(|b| !(*b >= 0.0 && *b < frame.white))
    {
        return Err(Error::parameter(
            "black",
            format!(
                "black {used_black:?} / white {}: need 0 <= black < white",
                frame.white
            ),
        ));
    }
    if frame.white > 65535.0 {
        return Err(Error::encode(
            "DNG",
            format!(
                "white level {} does not fit a 16-bit DNG (at most 65535)",
                frame.white
            ),
        ));
    }
    if (w * h * 2 * usize::from(layout.samples)) as u64 > u64::from(u32::MAX) - 1_000_000 {
        return Err(Error::encode(
            "DNG",
            format!(
                "{w}x{h} of {} samples is too large for a TIFF strip",
                layout.samples
            ),
        ));
    }
    let pixels = frame.raw_u16();
    let mut bytes = Vec::with_capacity(pixels.len() * 2);
    for p in &pixels {
        bytes.extend_from_slice(&p.to_ne_bytes()); // rawler's TiffWriter writes a native-endian header
    }
    crate::io::write_atomic(path, |out| {
        write_tiff(frame, &layout, &bytes, &mut *out).map_err(|e| tiff_err(path, e))?;
        out.flush().map_err(|e| Error::io(path, e))
    })
}

/// Degrees as EXIF degrees/minutes/seconds rationals (seconds to 1/10000).
pub(crate) fn dms(deg: f64) -> [(u32, u32); 3] {
    let a = deg.abs();
    let d = a.floor();
    let m = ((a - d) * 60.0).floor();
    let s = ((a - d) * 3600.0 - m * 60.0).max(0.0);
    [
        (d as u32, 1),
        (m as u32, 1),
        ((s * 10000.0).round() as u32, 10000),
    ]
}

fn write_gps<W: Write + std::io::Seek>(
    g: &super::Gps,
    tiff: &mut TiffWriter<W>,
) -> std::result::Result<u32, rawler::formats::tiff::TiffError> {
    let mut gps = DirectoryWriter::new();
    let r = |v: [(u32, u32); 3]| v.map(|(n, d)| Rational::new(n, d)).to_vec();
    gps.add_untyped_tag(0, Value::Byte(vec![2, 3, 0, 0])); // GPSVersionID
    gps.add_untyped_tag(
        1,
        Value::from(if g.latitude < 0.0 { "S" } else { "N" }.to_string()),
    );
    gps.add_untyped_tag(2, r(dms(g.latitude)).as_slice());
    gps.add_untyped_tag(
        3,
        Value::from(if g.longitude < 0.0 { "W" } else { "E" }.to_string()),
    );
    gps.add_untyped_tag(4, r(dms(g.longitude)).as_slice());
    if let Some(a) = g.altitude {
        gps.add_untyped_tag(5, Value::Byte(vec![u8::from(a < 0.0)]));
        gps.add_untyped_tag(6, vec![urational(a.abs())].as_slice());
    }
    gps.build(tiff)
}

fn ascii(s: &str) -> Option<Value> {
    let s: String = s
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .collect();
    (!s.is_empty()).then(|| Value::from(s))
}

fn write_tiff<W: Write + std::io::Seek>(
    frame: &RawFrame,
    layout: &Layout,
    pixel_bytes: &[u8],
    out: W,
) -> std::result::Result<(), rawler::formats::tiff::TiffError> {
    let (w, h) = (frame.size().0 as u32, frame.size().1 as u32);
    let samples = usize::from(layout.samples);
    let meta = &frame.meta;
    let mut tiff = TiffWriter::new(out)?;
    let strip = tiff.write_data(pixel_bytes)?;

    let mut exif = DirectoryWriter::new();
    exif.add_untyped_tag(36864, Value::Undefined(b"0230".to_vec())); // ExifVersion
    if let Some(t) = meta.exposure_time {
        exif.add_untyped_tag(tags::EXPOSURE_TIME, vec![urational(t)].as_slice());
    }
    if let Some(f) = meta.aperture {
        exif.add_untyped_tag(tags::F_NUMBER, vec![urational(f)].as_slice());
    }
    if let Some(iso) = meta.iso {
        exif.add_untyped_tag(tags::ISO_SPEED_RATINGS, iso.min(65535) as u16);
    }
    if let Some(f) = meta.focal_length {
        exif.add_untyped_tag(tags::FOCAL_LENGTH, vec![urational(f)].as_slice());
    }
    if let Some(t) = &meta.capture_time {
        let (main, sub) = t.split_once('.').unwrap_or((t.as_str(), ""));
        if let Some(v) = ascii(main) {
            exif.add_untyped_tag(tags::DATE_TIME_ORIGINAL, v);
        }
        if let Some(v) = ascii(sub) {
            exif.add_untyped_tag(tags::SUB_SEC_TIME_ORIGINAL, v);
        }
    }
    let id = &meta.identity;
    for (tag, value) in [
        (tags::BODY_SERIAL_NUMBER, &id.body_serial),
        (tags::LENS_SERIAL_NUMBER, &id.lens_serial),
        (tags::CAMERA_OWNER_NAME, &id.owner),
        (tags::IMAGE_UNIQUE_ID, &id.unique_id),
    ] {
        if let Some(v) = value.as_deref().and_then(ascii) {
            exif.add_untyped_tag(tag, v);
        }
    }
    if let Some(note) = &id.maker_note {
        exif.add_untyped_tag(tags::MAKER_NOTE, Value::Undefined(note.clone()));
    }
    let exif_offset = exif.build(&mut tiff)?;
    let gps_offset = match &meta.gps {
        Some(g) => Some(write_gps(g, &mut tiff)?),
        None => None,
    };

    let mut ifd = DirectoryWriter::new();
    ifd.add_untyped_tag(tags::NEW_SUBFILE_TYPE, 0u32);
    ifd.add_untyped_tag(tags::IMAGE_WIDTH, w);
    ifd.add_untyped_tag(tags::IMAGE_LENGTH, h);
    ifd.add_untyped_tag(tags::BITS_PER_SAMPLE, vec![16u16; samples].as_slice());
    ifd.add_untyped_tag(tags::COMPRESSION, 1u16);
    ifd.add_untyped_tag(tags::PHOTOMETRIC, layout.photometric);
    let make = if meta.make.trim().is_empty() {
        "Unknown"
    } else {
        meta.make.as_str()
    };
    let model = if meta.model.trim().is_empty() {
        "Unknown"
    } else {
        meta.model.as_str()
    };
    ifd.add_untyped_tag(
        tags::MAKE,
        ascii(make).unwrap_or_else(|| Value::from("Unknown")),
    );
    ifd.add_untyped_tag(
        tags::MODEL,
        ascii(model).unwrap_or_else(|| Value::from("Unknown")),
    );
    ifd.add_untyped_tag(tags::STRIP_OFFSETS, strip);
    ifd.add_untyped_tag(tags::ORIENTATION, meta.orientation.clamp(1, 8));
    ifd.add_untyped_tag(tags::SAMPLES_PER_PIXEL, layout.samples);
    ifd.add_untyped_tag(tags::ROWS_PER_STRIP, h);
    ifd.add_untyped_tag(tags::STRIP_BYTE_COUNTS, pixel_bytes.len() as u32);
    ifd.add_untyped_tag(tags::PLANAR_CONFIGURATION, 1u16);
    ifd.add_untyped_tag(
        tags::SOFTWARE,
        Value::from(format!("obscura {}", env!("CARGO_PKG_VERSION"))),
    );
    ifd.add_untyped_tag(tags::EXIF_IFD, exif_offset);
    if let Some(v) = id.artist.as_deref().and_then(ascii) {
        ifd.add_untyped_tag(tags::ARTIST, v);
    }
    if let Some(v) = id.body_serial.as_deref().and_then(ascii) {
        ifd.add_untyped_tag(tags::CAMERA_SERIAL_NUMBER, v);
    }
    if let Some(o) = gps_offset {
        ifd.add_untyped_tag(tags::GPS_IFD, o);
    }

    if let Some(cfa) = layout.cfa {
        ifd.add_untyped_tag(tags::CFA_REPEAT_PATTERN_DIM, [2u16, 2]);
        ifd.add_untyped_tag(tags::CFA_PATTERN, cfa.colors.map(|c| c as u8));
        ifd.add_untyped_tag(tags::CFA_PLANE_COLOR, [0u8, 1, 2]);
        ifd.add_untyped_tag(tags::CFA_LAYOUT, 1u16);
    }
    ifd.add_untyped_tag(tags::DNG_VERSION, [1u8, 4, 0, 0]);
    ifd.add_untyped_tag(tags::DNG_BACKWARD_VERSION, [1u8, 3, 0, 0]);
    ifd.add_untyped_tag(
        tags::UNIQUE_CAMERA_MODEL,
        ascii(&format!("{make} {model}")).unwrap_or_else(|| Value::from("Unknown")),
    );
    let black = &layout.black;
    ifd.add_untyped_tag(tags::BLACK_LEVEL_REPEAT_DIM, layout.black_dim);
    if black.iter().all(|b| b.fract() == 0.0) {
        ifd.add_untyped_tag(
            tags::BLACK_LEVEL,
            black
                .iter()
                .map(|&b| b as u32)
                .collect::<Vec<_>>()
                .as_slice(),
        );
    } else {
        ifd.add_untyped_tag(
            tags::BLACK_LEVEL,
            black
                .iter()
                .map(|&b| urational(b))
                .collect::<Vec<_>>()
                .as_slice(),
        );
    }
    ifd.add_untyped_tag(
        tags::WHITE_LEVEL,
        vec![frame.white.round() as u32; samples].as_slice(),
    );
    let a = frame.active_area;
    ifd.add_untyped_tag(
        tags::ACTIVE_AREA,
        [
            a.y as u32,
            a.x as u32,
            (a.y + a.height) as u32,
            (a.x + a.width) as u32,
        ],
    );
    let c = frame.crop;
    if a.contains(&c) && c.width > 0 && c.height > 0 {
        ifd.add_untyped_tag(
            tags::DEFAULT_CROP_ORIGIN,
            [(c.x - a.x) as u32, (c.y - a.y) as u32],
        );
        ifd.add_untyped_tag(tags::DEFAULT_CROP_SIZE, [c.width as u32, c.height as u32]);
    }

    let slots = [
        (
            tags::COLOR_MATRIX1,
            tags::FORWARD_MATRIX1,
            tags::CALIBRATION_ILLUMINANT1,
        ),
        (
            tags::COLOR_MATRIX2,
            tags::FORWARD_MATRIX2,
            tags::CALIBRATION_ILLUMINANT2,
        ),
    ];
    if meta.calibrations.is_empty() {
        ifd.add_untyped_tag(tags::COLOR_MATRIX1, matrix_value(&XYZ_TO_SRGB));
        ifd.add_untyped_tag(tags::CALIBRATION_ILLUMINANT1, 21u16);
    }
    for (cal, (cm, fm, il)) in meta.calibrations.iter().zip(slots) {
        ifd.add_untyped_tag(cm, matrix_value(&cal.color_matrix));
        ifd.add_untyped_tag(il, cal.illuminant);
        if let Some(f) = &cal.forward_matrix {
            ifd.add_untyped_tag(fm, matrix_value(f));
        }
    }
    let n = meta.as_shot_neutral;
    let n = if n.iter().all(|v| *v > 0.0 && v.is_finite()) {
        n
    } else {
        [1.0; 3]
    };
    ifd.add_untyped_tag(tags::AS_SHOT_NEUTRAL, n.map(urational));
    ifd.add_untyped_tag(tags::BASELINE_EXPOSURE, [srational(meta.baseline_exposure)]);
    if !meta.noise_profile.is_empty() {
        let np: Vec<f64> = meta
            .noise_profile
            .iter()
            .flat_map(|m| [m.scale, m.offset])
            .collect();
        ifd.add_untyped_tag(tags::NOISE_PROFILE, np.as_slice());
    }
    for (tag, list) in [
        (tags::OPCODE_LIST1, &meta.opcodes1),
        (tags::OPCODE_LIST2, &meta.opcodes2),
        (tags::OPCODE_LIST3, &meta.opcodes3),
    ] {
        if !list.is_empty() {
            ifd.add_untyped_tag(tag, Value::Undefined(opcodes::write_opcode_list(list)));
        }
    }
    tiff.build(ifd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rationals_recover_decimal_fractions_exactly() {
        for (x, n, d) in [
            (0.7662, 3831.0, 5000.0),
            (-0.266, -133.0, 500.0),
            (2.0, 2.0, 1.0),
            (1.0 / 3.0, 1.0, 3.0),
        ] {
            assert_eq!(best_rational(x, f64::from(i32::MAX)), (n, d), "{x}");
        }
        let pi = std::f64::consts::PI;
        let (n, d) = best_rational(pi, f64::from(i32::MAX));
        assert!((n / d - pi).abs() < 1e-15);
    }
}
