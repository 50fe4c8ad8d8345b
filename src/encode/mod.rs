//! Encoding a [`Finished`] image: JPEG, PNG (8 or 16 bits) or TIFF (16 bits), with EXIF and
//! an ICC profile, written atomically.
//!
//! - **EXIF** comes from the reference frame's metadata: make, model, exposure time,
//!   f-number, ISO, focal length, capture time (with sub-seconds), orientation 1 (the pixels
//!   are already upright), software. It is written with `kamadak-exif` as a TIFF-structured
//!   block: embedded in JPEG (APP1) and PNG (`eXIf`, through `image`), and as the file's
//!   own directories for TIFF.
//! - **Location** (EXIF GPS) is private data: it is dropped unless
//!   [`EncodeParams::keep_location`] is set. So are the tags that identify the owner or the
//!   device (serial numbers, owner and artist names, the image unique ID, the maker note;
//!   [`crate::raw::Identity`]) unless [`EncodeParams::keep_metadata`] is set.
//! - **ICC**: the sRGB or Display P3 v4 profile of [`crate::color::icc`], so colour-managed
//!   viewers show the intended colours.
//! - **Atomic**: the file is written to a temporary name in the same folder, synced and
//!   renamed; a failure leaves nothing behind and never a half-written photo.
//! - **JPEG** is baseline, 4:4:4 (chroma not subsampled), coded by `jpeg-encoder` in
//!   parallel stripes joined by restart markers (`jpeg.rs`).
//! - **HDR** ([`encode_hdr`], with the HDR rendition of [`crate::finish::finish_hdr`]): an
//!   Ultra HDR JPEG ([`ultrahdr`]: the SDR JPEG above plus a gain map) or an OpenEXR file
//!   ([`exr`]: 32-bit float, scene-referred linear). PNG and TIFF cannot carry HDR here.

use std::io::{Cursor, Write};
use std::path::Path;
use std::str::FromStr;

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};
use image::ImageEncoder;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::color::ColorSpace;
use crate::error::{Error, Result};
use crate::finish::Finished;
use crate::raw::Metadata;

pub mod exr;
mod jpeg;
pub mod ultrahdr;

/// Writes bytes to a file atomically: the file appears complete under its name or not at all
/// (a temporary file in the same folder, synced and renamed), as every encoder here writes.
pub use crate::io::write_bytes_atomic;

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// Baseline JPEG, 8 bits, 4:4:4 (chroma not subsampled).
    Jpeg,
    /// PNG, 8 or 16 bits.
    Png,
    /// Uncompressed 16-bit TIFF.
    Tiff,
    /// OpenEXR, 32-bit float, scene-referred linear (HDR only; see [`exr`]).
    Exr,
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        match s.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Ok(Format::Jpeg),
            "png" => Ok(Format::Png),
            "tiff" | "tif" => Ok(Format::Tiff),
            "exr" => Ok(Format::Exr),
            _ => Err(Error::parameter(
                "format",
                format!("{s:?}: expected jpeg, png, tiff or exr"),
            )),
        }
    }
}

impl Format {
    /// The usual file extension: "jpg", "png", "tif" or "exr".
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Tiff => "tif",
            Format::Exr => "exr",
        }
    }

    /// The format's name for messages: "JPEG", "PNG", "TIFF" or "OpenEXR".
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Tiff => "TIFF",
            Format::Exr => "OpenEXR",
        }
    }

    /// Whether the format carries an HDR rendition: JPEG (as Ultra HDR) and OpenEXR.
    pub fn carries_hdr(self) -> bool {
        matches!(self, Format::Jpeg | Format::Exr)
    }

    /// The format named by a path's extension.
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        ext.parse().map_err(|_| {
            Error::parameter(
                "output",
                format!(
                    "{}: cannot tell the format from the extension {ext:?}; use .jpg, .png, \
                     .tif or .exr, or --format",
                    path.display()
                ),
            )
        })
    }
}

/// Encoder settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodeParams {
    /// Format; `None` (default) takes it from the file extension.
    pub format: Option<Format>,
    /// JPEG quality, 1..=100. Default 92.
    pub quality: u8,
    /// Write 16-bit PNG instead of 8-bit. Default false. (TIFF is always 16-bit, JPEG 8.)
    pub png16: bool,
    /// Keep the GPS location in the output's EXIF. Default false: location is stripped.
    pub keep_location: bool,
    /// Keep the tags that identify the owner or the device (serial numbers, owner and artist,
    /// image unique ID, maker note). Default false: they are stripped; the capture settings
    /// stay either way.
    pub keep_metadata: bool,
}

impl Default for EncodeParams {
    fn default() -> Self {
        EncodeParams {
            format: None,
            quality: 92,
            png16: false,
            keep_location: false,
            keep_metadata: false,
        }
    }
}

/// What [`encode_hdr`] wrote, for the run's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HdrWritten {
    /// `"ultrahdr"` (a JPEG with a gain map) or `"exr"`.
    pub container: String,
    /// The HDR capacity written, in stops above SDR white: for Ultra HDR the gain map's
    /// largest boost (`GainMapMax`, 0 for a flat map), for OpenEXR the brightest pixel's
    /// luminance (`log2`, 0 if nothing is above SDR white).
    pub capacity_stops: f32,
    /// The headroom the rendition was rolled off at, in stops (Ultra HDR).
    pub headroom_stops: Option<f32>,
    /// The gain map's size in pixels, `[width, height]` (Ultra HDR).
    pub gain_map_size: Option<[usize; 2]>,
    /// The gain map JPEG's size in bytes, metadata included (Ultra HDR).
    pub gain_map_bytes: Option<usize>,
}

/// Encodes `img` with its HDR rendition `hdr` (from [`crate::finish::finish_hdr`]) to
/// `path`: a `.jpg` as Ultra HDR ([`ultrahdr`]), an `.exr` as OpenEXR ([`exr`]).
///
/// Errors: a format that cannot carry HDR (PNG, TIFF), those of [`encode`], a failed write
/// (which leaves no file).
pub fn encode_hdr(
    img: &Finished,
    hdr: &crate::finish::hdr::Hdr,
    meta: &Metadata,
    path: &Path,
    params: &EncodeParams,
) -> Result<HdrWritten> {
    match resolve_format(path, params)? {
        Format::Jpeg => ultrahdr::encode_ultrahdr(
            img,
            hdr,
            meta,
            path,
            params,
            &ultrahdr::GainMapParams::default(),
        ),
        Format::Exr => exr::write_exr(&hdr.scene, hdr.space, path),
        f => Err(hdr_unsupported(f)),
    }
}

/// The usage error for HDR output to a format that cannot carry it.
pub fn hdr_unsupported(format: Format) -> Error {
    Error::parameter(
        "hdr",
        format!(
            "{} output cannot carry HDR; use a .jpg (Ultra HDR) or .exr output",
            format.name()
        ),
    )
}

/// The format of `path` under `params`.
pub(crate) fn resolve_format(path: &Path, params: &EncodeParams) -> Result<Format> {
    match params.format {
        Some(f) => Ok(f),
        None => Format::from_path(path),
    }
}

/// Checks `img`'s size and the quality before encoding.
pub(crate) fn check_encodable(img: &Finished, params: &EncodeParams) -> Result<()> {
    if !(1..=100).contains(&params.quality) {
        return Err(Error::parameter(
            "quality",
            format!("{}: must be between 1 and 100", params.quality),
        ));
    }
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 || w > 65_535 || h > 65_535 {
        return Err(Error::encode(
            "image",
            format!("{w}x{h}: 1 to 65535 pixels a side"),
        ));
    }
    Ok(())
}

/// Encodes `img` to `path` with EXIF from `meta` (see the module docs).
pub fn encode(img: &Finished, meta: &Metadata, path: &Path, params: &EncodeParams) -> Result<()> {
    let format = resolve_format(path, params)?;
    check_encodable(img, params)?;
    let (w, h) = (img.width(), img.height());
    let icc = icc_profile(img.space);
    let meta = &meta.private_removed(params.keep_metadata, params.keep_location);
    let enc_err = |e: image::ImageError| Error::io(path, std::io::Error::other(e.to_string()));
    match format {
        Format::Jpeg => {
            let exif = exif_block(meta, w, h, img.space, params.keep_location, None)?;
            let jpeg = jpeg::encode_jpeg(img, params.quality, &exif, &icc)?;
            crate::io::write_atomic(path, |out| {
                jpeg.write_to(out)
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::io(path, e))
            })
        }
        Format::Png => {
            let exif = exif_block(meta, w, h, img.space, params.keep_location, None)?;
            // image's PNG encoder takes 16-bit samples in native byte order
            let (px, ct) = if params.png16 {
                let px = interleave(img, |v| u16_sample(v).to_ne_bytes());
                (px, image::ExtendedColorType::Rgb16)
            } else {
                (interleave(img, u8_sample), image::ExtendedColorType::Rgb8)
            };
            crate::io::write_atomic(path, |out| {
                let mut enc = image::codecs::png::PngEncoder::new(&mut *out);
                enc.set_icc_profile(icc).ok();
                enc.set_exif_metadata(exif).ok();
                enc.write_image(&px, w as u32, h as u32, ct)
                    .map_err(enc_err)?;
                out.flush().map_err(|e| Error::io(path, e))
            })
        }
        Format::Tiff => {
            // little-endian samples, as the EXIF writer lays out a little-endian TIFF
            let bytes = interleave(img, |v| u16_sample(v).to_le_bytes());
            let tiff = exif_block(
                meta,
                w,
                h,
                img.space,
                params.keep_location,
                Some((&bytes, &icc)),
            )?;
            crate::io::write_bytes_atomic(path, &tiff)
        }
        Format::Exr => Err(Error::parameter(
            "output",
            format!(
                "{}: OpenEXR holds the scene-referred HDR image; write it with the HDR \
                 rendition (encode_hdr)",
                path.display()
            ),
        )),
    }
}

/// The ICC profile of an output space ([`crate::color::icc`]).
pub fn icc_profile(space: ColorSpace) -> Vec<u8> {
    crate::color::icc_profile(space)
}

fn quantise(v: f32, max: f32) -> f32 {
    let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
    (v * max + 0.5).floor()
}

/// Interleaved RGB, each sample quantised by `put` into `B` bytes.
fn interleave<const B: usize>(img: &Finished, put: impl Fn(f32) -> [u8; B] + Sync) -> Vec<u8> {
    const CHUNK: usize = 4096;
    let n = img.width() * img.height();
    let mut out = vec![0u8; n * 3 * B];
    out.par_chunks_mut(3 * B * CHUNK)
        .enumerate()
        .for_each(|(k, chunk)| {
            for (j, px) in chunk.chunks_exact_mut(3 * B).enumerate() {
                let i = k * CHUNK + j;
                for (c, v) in px.chunks_exact_mut(B).enumerate() {
                    v.copy_from_slice(&put(img.rgb[c].data[i]));
                }
            }
        });
    out
}

fn u8_sample(v: f32) -> [u8; 1] {
    [quantise(v, 255.0) as u8]
}

fn u16_sample(v: f32) -> u16 {
    quantise(v, 65535.0) as u16
}

fn rational(x: f64) -> Rational {
    // exposure times like 1/250 s are exact as 1/n
    if x > 0.0 && x < 1.0 && ((1.0 / x) - (1.0 / x).round()).abs() < 1e-6 {
        return Rational {
            num: 1,
            denom: (1.0 / x).round() as u32,
        };
    }
    let d = 10_000u32;
    Rational {
        num: (x.max(0.0) * f64::from(d)).round().min(f64::from(u32::MAX)) as u32,
        denom: d,
    }
}

fn ascii(s: &str) -> Value {
    let s: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii() && !b.is_ascii_control())
        .collect();
    Value::Ascii(vec![s])
}

/// Builds the EXIF block (a little-endian TIFF structure). With `image = Some((pixels, icc))`
/// it is a whole 16-bit RGB TIFF file carrying `pixels` (little-endian samples) and the ICC
/// profile.
fn exif_block(
    meta: &Metadata,
    width: usize,
    height: usize,
    space: ColorSpace,
    keep_location: bool,
    image: Option<(&[u8], &[u8])>,
) -> Result<Vec<u8>> {
    let mut fields = Vec::new();
    let mut add = |tag: Tag, value: Value| {
        fields.push(Field {
            tag,
            ifd_num: In::PRIMARY,
            value,
        })
    };
    if let Some((_, icc)) = image {
        add(Tag::ImageWidth, Value::Long(vec![width as u32]));
        add(Tag::ImageLength, Value::Long(vec![height as u32]));
        add(Tag::BitsPerSample, Value::Short(vec![16, 16, 16]));
        add(Tag::Compression, Value::Short(vec![1]));
        add(Tag::PhotometricInterpretation, Value::Short(vec![2]));
        add(Tag::SamplesPerPixel, Value::Short(vec![3]));
        add(Tag::RowsPerStrip, Value::Long(vec![height as u32]));
        add(Tag::PlanarConfiguration, Value::Short(vec![1]));
        add(
            Tag::XResolution,
            Value::Rational(vec![Rational { num: 300, denom: 1 }]),
        );
        add(
            Tag::YResolution,
            Value::Rational(vec![Rational { num: 300, denom: 1 }]),
        );
        add(Tag::ResolutionUnit, Value::Short(vec![2]));
        add(
            Tag(exif::Context::Tiff, 34675), // InterColorProfile
            Value::Undefined(icc.to_vec(), 0),
        );
    }
    if !meta.make.is_empty() {
        add(Tag::Make, ascii(&meta.make));
    }
    if !meta.model.is_empty() {
        add(Tag::Model, ascii(&meta.model));
    }
    add(Tag::Orientation, Value::Short(vec![1]));
    add(
        Tag::Software,
        ascii(concat!("obscura ", env!("CARGO_PKG_VERSION"))),
    );
    add(Tag::ExifVersion, Value::Undefined(b"0232".to_vec(), 0));
    // EXIF ColorSpace: 1 = sRGB, 0xFFFF = uncalibrated (Display P3 is told by the ICC profile)
    add(
        Tag::ColorSpace,
        Value::Short(vec![if space == ColorSpace::Srgb { 1 } else { 0xFFFF }]),
    );
    add(Tag::PixelXDimension, Value::Long(vec![width as u32]));
    add(Tag::PixelYDimension, Value::Long(vec![height as u32]));
    if let Some(t) = meta.exposure_time.filter(|t| *t > 0.0) {
        add(Tag::ExposureTime, Value::Rational(vec![rational(t)]));
    }
    if let Some(f) = meta.aperture.filter(|f| *f > 0.0) {
        add(Tag::FNumber, Value::Rational(vec![rational(f)]));
    }
    if let Some(iso) = meta.iso {
        add(
            Tag::PhotographicSensitivity,
            Value::Short(vec![iso.min(65535) as u16]),
        );
    }
    if let Some(f) = meta.focal_length.filter(|f| *f > 0.0) {
        add(Tag::FocalLength, Value::Rational(vec![rational(f)]));
    }
    if let Some(t) = &meta.capture_time {
        let (main, sub) = match t.split_once('.') {
            Some((m, s)) => (m, Some(s)),
            None => (t.as_str(), None),
        };
        add(Tag::DateTimeOriginal, ascii(main));
        add(Tag::DateTime, ascii(main));
        if let Some(s) = sub.filter(|s| !s.is_empty()) {
            add(Tag::SubSecTimeOriginal, ascii(s));
        }
    }
    // identifying tags: present only when the caller kept them (Metadata::private_removed)
    let id = &meta.identity;
    for (tag, value) in [
        (Tag::BodySerialNumber, &id.body_serial),
        (Tag::LensSerialNumber, &id.lens_serial),
        (Tag::CameraOwnerName, &id.owner),
        (Tag::Artist, &id.artist),
        (Tag::ImageUniqueID, &id.unique_id),
    ] {
        if let Some(v) = value {
            add(tag, ascii(v));
        }
    }
    if let Some(note) = &id.maker_note {
        add(Tag::MakerNote, Value::Undefined(note.clone(), 0));
    }
    if keep_location && let Some(g) = meta.gps {
        let r = |v: [(u32, u32); 3]| {
            Value::Rational(v.map(|(num, denom)| Rational { num, denom }).to_vec())
        };
        add(Tag::GPSVersionID, Value::Byte(vec![2, 3, 0, 0]));
        add(
            Tag::GPSLatitudeRef,
            ascii(if g.latitude < 0.0 { "S" } else { "N" }),
        );
        add(Tag::GPSLatitude, r(crate::raw::dms(g.latitude)));
        add(
            Tag::GPSLongitudeRef,
            ascii(if g.longitude < 0.0 { "W" } else { "E" }),
        );
        add(Tag::GPSLongitude, r(crate::raw::dms(g.longitude)));
        if let Some(a) = g.altitude {
            add(Tag::GPSAltitudeRef, Value::Byte(vec![u8::from(a < 0.0)]));
            add(Tag::GPSAltitude, Value::Rational(vec![rational(a.abs())]));
        }
    }
    let mut writer = Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let strips: Vec<&[u8]>;
    if let Some((pixels, _)) = image {
        strips = vec![pixels];
        writer.set_strips(&strips, In::PRIMARY);
    }
    let mut buf = Cursor::new(Vec::new());
    writer
        .write(&mut buf, true)
        .map_err(|e| Error::encode("EXIF", e.to_string()))?;
    Ok(buf.into_inner())
}
