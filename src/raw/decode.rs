//! Routing a file to the right decoder and turning its output into a [`RawFrame`].
//!
//! Every DNG goes to rawler, except LinearRaw stored as lossless JPEG of fewer than 10 bits,
//! which rawler's decoder refuses and obscura decodes itself ([`super::ljpeg`]); camera-native
//! formats go to rawloader first and to rawler when rawloader refuses them (see the parent
//! module and `docs/ARCHITECTURE.md` for the evidence). A LinearRaw DNG with 3 samples per
//! pixel becomes a linear RGB frame; the file's structure, sample count and compression are
//! checked before any decoder allocates.
//! Both libraries catch their own decoder panics; obscura wraps every call in
//! `catch_unwind` as well, so no input can bring the process down.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use super::tiff::{Entry, Ifd, Tiff, is_tiff, tags};
use super::{Calibration, DecoderKind, Gps, Matrix3, Metadata, NoiseModel, RawFrame, opcodes};
use crate::error::{Error, Result};
use crate::image::{Cfa, Channel, Plane, Rect, par_pixels};

/// Resource limits checked before a decoder allocates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeLimits {
    /// Most photosites a frame may have. Default 400 million (the largest sensors today have
    /// about 150 MP of raw buffer). Checked against the sizes the file declares (DNG raw IFD;
    /// every IFD of a TIFF-based camera format) before decoding.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 400_000_000,
        }
    }
}

impl DecodeLimits {
    /// Checks an image of `w x h` samples that a `file_len`-byte file declares, before a
    /// decoder allocates it: within [`DecodeLimits::max_pixels`], and within what the file
    /// could hold ([`MAX_PIXELS_PER_BYTE`]).
    pub(crate) fn check(&self, path: &Path, w: u64, h: u64, file_len: usize) -> Result<()> {
        if w * h > self.max_pixels || w * h > MAX_PIXELS_PER_BYTE * file_len as u64 {
            return Err(Error::Limits {
                path: path.to_path_buf(),
                reason: format!(
                    "declares an image of {w}x{h}, beyond the limit of {} pixels or what a \
                     {file_len}-byte file can hold",
                    self.max_pixels
                ),
            });
        }
        Ok(())
    }
}

/// Reads and decodes `path`.
pub(crate) fn open(path: &Path, limits: &DecodeLimits) -> Result<RawFrame> {
    if path.is_dir() {
        return Err(Error::decode(path, "is a directory, not a raw file"));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(Error::decode(path, "file is empty (0 bytes)"));
    }
    decode_bytes(path, Arc::new(bytes), limits)
}

/// Decodes a file's bytes; `path` names it.
pub(crate) fn decode_bytes(
    path: &Path,
    bytes: Arc<Vec<u8>>,
    limits: &DecodeLimits,
) -> Result<RawFrame> {
    silence_decoder_panics();
    let mut rawloader_knows = true;
    if is_tiff(&bytes) {
        match Tiff::parse(&bytes) {
            Ok(t) if t.is_dng() => return decode_dng(path, bytes, &t, limits),
            Ok(t) => {
                // TIFF-based camera format (CR2, NEF, ARW, ...): the decoders allocate what
                // the IFDs declare, so the largest declared image is checked first
                if let Some((w, h)) = t.largest_image() {
                    limits.check(path, w, h, bytes.len())?;
                }
                // rawloader reads Make, Model and Software as UTF-8 and panics when they are not
                text_tags_are_utf8(path, &t)?;
                // rawler's Kodak DC50 decoder trusts its compressed stream: read through first.
                // rawloader's camera table lacks the DC50, and its TIFF reader trusts IFDs
                // obscura's does not walk (Kodak's private IFD): it is not asked
                if super::kdc::is_dc50(&t) {
                    super::kdc::check(path, &bytes, &t)?;
                    rawloader_knows = false;
                }
            }
            Err(e) => {
                // A TIFF whose IFDs are impossible (data beyond the end, loops, absurd entry
                // counts) is not handed to the decoders: they allocate what the tags declare
                // before noticing (fuzzing found rawler asking for 3 GB from a 1.6 kB file).
                // Our reader walks only the IFD chain, sub-IFDs, EXIF and GPS, which every
                // camera writes correctly; maker notes are not read.
                return Err(Error::decode(path, format!("corrupt TIFF structure: {e}")));
            }
        }
    }
    if is_cr3(&bytes) {
        // rawler trusts CR3 box sizes and sample counts: checked first, as TIFF is above
        super::bmff::check(path, &bytes, limits)?;
    }
    if super::ciff::is_crw(&bytes) {
        // rawloader trusts CRW heap offsets, entry sizes and the sensor size: the same
        super::ciff::check(path, &bytes, limits)?;
    }
    decode_native(path, bytes, rawloader_knows)
}

/// Refuses a TIFF whose Make or Model (up to the first NUL, in any IFD), or Software when
/// there is no Make, is not UTF-8 text: rawloader's camera lookup reads them as text and
/// panics on anything else.
fn text_tags_are_utf8(path: &Path, t: &Tiff) -> Result<()> {
    let ifds = t.all_ifds();
    let has_make = ifds.iter().any(|i| i.get(tags::MAKE).is_some());
    for ifd in ifds {
        for tag in [tags::MAKE, tags::MODEL, tags::SOFTWARE] {
            if tag == tags::SOFTWARE && has_make {
                continue;
            }
            if let Some(e) = ifd.get(tag) {
                let end = e.data.iter().position(|&b| b == 0).unwrap_or(e.data.len());
                if std::str::from_utf8(&e.data[..end]).is_err() {
                    return Err(Error::decode(
                        path,
                        format!("corrupt TIFF: tag {tag} (Make, Model or Software) is not text"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// First line of a decoder's error message, without its type-name prefix and boilerplate.
fn tidy(msg: &str) -> String {
    let line = msg.lines().next().unwrap_or("").trim();
    let line = line
        .trim_start_matches("RawLoaderError: ")
        .trim_start_matches("Error: ")
        .trim_matches('"');
    let line = line.split(", model ''").next().unwrap_or(line);
    let mut s = line.trim_end_matches('.').to_string();
    if let Some(first) = s.get(..1) {
        s = first.to_lowercase() + &s[1..];
    }
    s
}

/// Makes panics inside rawloader and rawler silent: both catch them and turn them into errors,
/// which obscura reports with the file name, so the default hook's message and backtrace
/// would only confuse a user. Panics anywhere else still reach the previous hook.
fn silence_decoder_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_decoder = info.location().is_some_and(|l| {
                let f = l.file();
                f.contains("/rawloader-") || f.contains("/rawler-")
            });
            if !in_decoder {
                previous(info);
            }
        }));
    });
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "decoder panicked".into())
}

fn rawler_source(path: &Path, bytes: Arc<Vec<u8>>) -> rawler::rawsource::RawSource {
    rawler::rawsource::RawSource::new_from_shared_vec(bytes).with_path(path)
}

fn rawler_decode(
    path: &Path,
    bytes: Arc<Vec<u8>>,
) -> std::result::Result<rawler::RawImage, String> {
    let src = rawler_source(path, bytes);
    catch_unwind(AssertUnwindSafe(|| {
        rawler::decode(&src, &rawler::decoders::RawDecodeParams::default())
    }))
    .map_err(panic_message)?
    .map_err(|e| tidy(&e.to_string()))
}

fn rawler_metadata(path: &Path, bytes: Arc<Vec<u8>>) -> Option<rawler::decoders::RawMetadata> {
    let src = rawler_source(path, bytes);
    catch_unwind(AssertUnwindSafe(|| {
        let dec = rawler::get_decoder(&src).ok()?;
        dec.raw_metadata(&src, &rawler::decoders::RawDecodeParams::default())
            .ok()
    }))
    .ok()
    .flatten()
}

/// Most photosites a file may declare per byte of its size. Real files hold far fewer (the
/// JPEG XL Sony sample: 2.4 per byte; a black frame in lossless JPEG about 5): a claim
/// beyond this is a corrupt header, and decoders would allocate it before noticing.
const MAX_PIXELS_PER_BYTE: u64 = 1024;

/// Whether the bytes start like a raw format obscura hands to rawloader and rawler besides
/// TIFF-based ones: Canon CRW (CIFF) and CR3 (ISO media), Fuji RAF, Minolta MRW, Sigma X3F,
/// Olympus ORF and Panasonic RW2 (TIFF variants). Other formats the libraries know (1990s
/// QuickTake, Kodak KDC and the like) are refused unread: fuzzing found their decoders
/// allocating gigabytes on the word of a corrupt header.
fn known_native(b: &[u8]) -> bool {
    let at = |off: usize, magic: &[u8]| b.get(off..off + magic.len()) == Some(magic);
    is_tiff(b)
        || (at(0, b"II") && at(6, b"HEAPCCDR"))
        || is_cr3(b)
        || at(0, b"FUJIFILM")
        || at(0, b"\0MRM")
        || at(0, b"FOVb")
        || at(0, b"IIRO")
        || at(0, b"IIRS")
        || at(0, b"MMOR")
        || at(0, b"IIU\0")
}

/// Whether the bytes start like a Canon CR3: an ISO media `ftyp` box of brand `crx ` whose
/// size field is a plausible box size (a QuickTake header followed by the same letters
/// passed a looser check, and rawler decoded it as QuickTake: fuzzing, 7 GB).
pub(crate) fn is_cr3(b: &[u8]) -> bool {
    let size = b
        .get(..4)
        .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
    (16..=4096).contains(&size) && b.get(4..12) == Some(b"ftypcrx ")
}

/// Decodes a camera-native file: with rawloader, then rawler when rawloader refuses it (or at
/// once when `rawloader_knows` is false: a camera rawloader's table lacks).
fn decode_native(path: &Path, bytes: Arc<Vec<u8>>, rawloader_knows: bool) -> Result<RawFrame> {
    if !known_native(&bytes) {
        return Err(Error::decode(
            path,
            "not a raw format obscura reads (DNG, CR2, CR3, CRW, NEF, ARW, ORF, RW2, RAF, PEF, \
             MRW, X3F and other TIFF-based raws), or a corrupt one",
        ));
    }
    let from_rawloader = if rawloader_knows {
        catch_unwind(AssertUnwindSafe(|| {
            rawloader::decode(&mut std::io::Cursor::new(bytes.as_slice()))
        }))
        .map_err(panic_message)
        .and_then(|r| r.map_err(|e| e.to_string()))
    } else {
        Err("camera not in rawloader's table".to_string())
    };
    // rawler reads the TIFF structures that proprietary containers (MRW, RAF, ORF maker
    // notes) embed and allocates whatever their entries declare (fuzzing: 3.4 GB from a
    // 1.5 kB MRW). It is asked only about files whose structure obscura has checked itself
    // (TIFF-based raws) and about CR3, which rawloader does not read.
    let rawler_may_read = is_tiff(&bytes) || is_cr3(&bytes);
    let mut frame = match from_rawloader {
        Ok(img) => from_rawloader_image(path, img)?,
        Err(loader_err) if !rawler_may_read => {
            return Err(Error::decode(
                path,
                format!(
                    "corrupt or truncated, or a camera rawloader does not know ({})",
                    tidy(&loader_err)
                ),
            ));
        }
        Err(loader_err) => match rawler_decode(path, bytes.clone()) {
            // three-sample data outside DNG (Canon sRAW and the like) is not LinearRaw in
            // DNG's sense (its levels and colour are the decoder's guess): refused
            Ok(img) if img.cpp != 1 => {
                return Err(Error::unsupported(
                    path,
                    format!(
                        "{} samples per pixel (already demosaiced, e.g. a small RAW); obscura \
                         reads Bayer raws and LinearRaw DNGs",
                        img.cpp
                    ),
                ));
            }
            Ok(img) => from_rawler_image(path, img, (0, 0), None)?,
            Err(rawler_err) => {
                return Err(Error::decode(
                    path,
                    format!(
                        "not a supported raw format, or a corrupt or truncated one (rawloader: {}; rawler: {})",
                        tidy(&loader_err),
                        tidy(&rawler_err)
                    ),
                ));
            }
        },
    };
    if rawler_may_read && let Some(md) = rawler_metadata(path, bytes) {
        apply_exif(&mut frame.meta, &md.exif);
    }
    Ok(frame)
}

fn rational(r: &Option<rawler::formats::tiff::Rational>) -> Option<f64> {
    r.as_ref()
        .filter(|r| r.d != 0)
        .map(|r| f64::from(r.n) / f64::from(r.d))
}

fn apply_exif(meta: &mut Metadata, exif: &rawler::exif::Exif) {
    meta.exposure_time = meta.exposure_time.or(rational(&exif.exposure_time));
    meta.aperture = meta.aperture.or(rational(&exif.fnumber));
    meta.focal_length = meta.focal_length.or(rational(&exif.focal_length));
    meta.iso = meta.iso.or(exif
        .iso_speed_ratings
        .map(u32::from)
        .or(exif.iso_speed)
        .or(exif.recommended_exposure_index));
    if meta.capture_time.is_none() {
        meta.capture_time = exif
            .date_time_original
            .clone()
            .or(exif.create_date.clone())
            .map(|t| with_subsec(t, exif.sub_sec_time_original.as_deref()));
    }
}

fn with_subsec(t: String, sub: Option<&str>) -> String {
    match sub.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => format!("{}.{s}", t.trim()),
        None => t.trim().to_string(),
    }
}

/// Maps a decoder's colour index (0 = red, 1 = green, 2 = blue) to a [`Channel`].
fn channel(c: usize) -> Option<Channel> {
    match c {
        0 => Some(Channel::R),
        1 => Some(Channel::G),
        2 => Some(Channel::B),
        _ => None,
    }
}

/// Builds a 2x2 [`Cfa`] from a decoder's pattern size and colour lookup, or says why not.
fn bayer_cfa(
    w: usize,
    h: usize,
    color_at: impl Fn(usize, usize) -> usize,
) -> std::result::Result<Cfa, String> {
    if w == 6 && h == 6 {
        return Err(
            "X-Trans sensor (6x6 colour filter array); obscura needs a 2x2 Bayer pattern".into(),
        );
    }
    if w == 0 || h == 0 {
        return Err("no colour filter array (monochrome or already demosaiced data)".into());
    }
    if w > 2 || h > 2 {
        return Err(format!(
            "{w}x{h} colour filter array; obscura needs a 2x2 Bayer pattern"
        ));
    }
    let mut colors = [Channel::G; 4];
    for (i, c) in colors.iter_mut().enumerate() {
        *c = channel(color_at(i / 2, i % 2))
            .ok_or("colour filter array with non-RGB colours (e.g. CYGM or RGBE)")?;
    }
    let cfa = Cfa { colors };
    if !cfa.is_bayer() {
        return Err(format!(
            "colour filter array {colors:?} is not a Bayer pattern"
        ));
    }
    Ok(cfa)
}

fn orientation_code(o: &str) -> u16 {
    match o {
        "Normal" => 1,
        "HorizontalFlip" => 2,
        "Rotate180" => 3,
        "VerticalFlip" => 4,
        "Transpose" => 5,
        "Rotate90" => 6,
        "Transverse" => 7,
        "Rotate270" => 8,
        _ => 1,
    }
}

/// Normalises integer or float samples to 0 = black, 1 = white, row-parallel; refuses a
/// buffer whose length is not `width * height`.
fn normalise<T: Copy + Sync + Into<f64>>(
    path: &Path,
    width: usize,
    height: usize,
    data: &[T],
    black: &[f64; 4],
    white: f64,
) -> Result<Plane<f32>> {
    if data.len() != width * height {
        return Err(Error::decode(
            path,
            format!(
                "decoder returned {} samples for {width}x{height}",
                data.len()
            ),
        ));
    }
    let mut out = Plane::<f32>::new(width, height);
    out.data
        .par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(y, row)| {
            let src = &data[y * width..(y + 1) * width];
            let b = [black[(y & 1) * 2], black[(y & 1) * 2 + 1]];
            let inv = [1.0 / (white - b[0]), 1.0 / (white - b[1])];
            for (x, (o, &s)) in row.iter_mut().zip(src).enumerate() {
                *o = ((s.into() - b[x & 1]) * inv[x & 1]) as f32;
            }
        });
    Ok(out)
}

fn check_levels(path: &Path, black: &[f64; 4], white: f64) -> Result<()> {
    if !(white.is_finite() && black.iter().all(|b| b.is_finite() && *b < white)) {
        return Err(Error::decode(
            path,
            format!("implausible levels: black {black:?}, white {white}"),
        ));
    }
    Ok(())
}

fn from_rawloader_image(path: &Path, img: rawloader::RawImage) -> Result<RawFrame> {
    if img.cpp != 1 {
        return Err(Error::unsupported(
            path,
            format!(
                "{} samples per pixel (already demosaiced); obscura needs a Bayer mosaic",
                img.cpp
            ),
        ));
    }
    let cfa = bayer_cfa(img.cfa.width, img.cfa.height, |r, c| img.cfa.color_at(r, c))
        .map_err(|e| Error::unsupported(path, e))?;
    let (w, h) = (img.width, img.height);
    let mut black = [0.0; 4];
    for (i, b) in black.iter_mut().enumerate() {
        *b = f64::from(img.blacklevels[cfa.colors[i] as usize]);
    }
    let white = f64::from(img.whitelevels[..3].iter().copied().min().unwrap_or(0));
    check_levels(path, &black, white)?;
    let mosaic = match &img.data {
        rawloader::RawImageData::Integer(d) => normalise(path, w, h, d, &black, white)?,
        rawloader::RawImageData::Float(d) => normalise(path, w, h, d, &black, white)?,
    };
    let [top, right, bottom, left] = img.crops;
    let crop = Rect::new(
        left,
        top,
        w.saturating_sub(left + right),
        h.saturating_sub(top + bottom),
    );
    let wb = img.wb_coeffs;
    let neutral = if wb[..3].iter().all(|v| *v > 0.0 && v.is_finite()) {
        [f64::from(wb[1] / wb[0]), 1.0, f64::from(wb[1] / wb[2])]
    } else {
        [1.0; 3]
    };
    let mut m: Matrix3 = [[0.0; 3]; 3];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = f64::from(img.xyz_to_cam[r][c]);
        }
    }
    // rawloader gives some cameras' matrices scaled by 10000 (dcraw's table); normalise.
    if m.iter().flatten().any(|v| v.abs() > 10.0) {
        m.iter_mut().flatten().for_each(|v| *v /= 10000.0);
    }
    let calibrations = if m.iter().flatten().any(|v| *v != 0.0) {
        vec![Calibration {
            illuminant: 21,
            color_matrix: m,
            forward_matrix: None,
        }]
    } else {
        vec![]
    };
    Ok(RawFrame {
        path: path.to_path_buf(),
        mosaic,
        cfa,
        black,
        white,
        active_area: crop,
        crop,
        meta: Metadata {
            make: img.clean_make.clone(),
            model: img.clean_model.clone(),
            orientation: orientation_code(&format!("{:?}", img.orientation)),
            as_shot_neutral: neutral,
            calibrations,
            bits_per_sample: 16,
            ..Metadata::default()
        },
        decoder: DecoderKind::Rawloader,
        rgb: None,
    })
}

/// Levels and pixels of a rawler image: the normalised Bayer mosaic, or the three linear RGB
/// planes of a LinearRaw image with 3 samples per pixel.
struct Pixels {
    cfa: Cfa,
    black: [f64; 4],
    white: f64,
    mosaic: Plane<f32>,
    rgb: Option<Box<[Plane<f32>; 3]>>,
}

/// `active_origin`: the DNG active area's origin; DNG black-level patterns are relative to it.
/// `white`: the white level to use instead of rawler's (DNG's default for float data is 1.0,
/// where rawler assumes `2^bits - 1`).
fn from_rawler_image(
    path: &Path,
    img: rawler::RawImage,
    active_origin: (usize, usize),
    white: Option<f64>,
) -> Result<RawFrame> {
    let linear = matches!(
        img.photometric,
        rawler::rawimage::RawPhotometricInterpretation::LinearRaw
    );
    let px = if linear && img.cpp == 3 {
        rawler_rgb(path, &img, white)?
    } else if img.cpp != 1 {
        return Err(Error::unsupported(
            path,
            format!(
                "{} samples per pixel ({}); obscura reads a Bayer mosaic or 3-sample LinearRaw",
                img.cpp,
                if linear {
                    "LinearRaw"
                } else {
                    "RGB or other already demosaiced data"
                }
            ),
        ));
    } else {
        rawler_bayer(path, &img, active_origin, white)?
    };
    let (w, h) = (img.width, img.height);
    let rect = |r: &rawler::imgop::Rect| Rect::new(r.p.x, r.p.y, r.d.w, r.d.h);
    let full = Rect::new(0, 0, w, h);
    let active_area = img
        .active_area
        .as_ref()
        .map(rect)
        .filter(|r| full.contains(r))
        .unwrap_or(full);
    let crop = img
        .crop_area
        .as_ref()
        .map(rect)
        .filter(|r| full.contains(r))
        .unwrap_or(active_area);
    let wb = img.wb_coeffs;
    let neutral = if wb[..3].iter().all(|v| *v > 0.0 && v.is_finite()) {
        [f64::from(wb[1] / wb[0]), 1.0, f64::from(wb[1] / wb[2])]
    } else {
        [1.0; 3]
    };
    let mut calibrations: Vec<Calibration> = img
        .color_matrix
        .iter()
        .filter(|(_, m)| m.len() >= 9)
        .map(|(illu, m)| {
            let mut cm: Matrix3 = [[0.0; 3]; 3];
            for (k, v) in m.iter().take(9).enumerate() {
                cm[k / 3][k % 3] = f64::from(*v);
            }
            Calibration {
                illuminant: u16::from(*illu),
                color_matrix: cm,
                forward_matrix: None,
            }
        })
        .collect();
    calibrations.sort_by_key(|c| c.illuminant);
    Ok(RawFrame {
        path: path.to_path_buf(),
        mosaic: px.mosaic,
        cfa: px.cfa,
        black: px.black,
        white: px.white,
        active_area,
        crop,
        meta: Metadata {
            make: img.clean_make.clone(),
            model: img.clean_model.clone(),
            orientation: img.orientation.to_u16().clamp(1, 8),
            as_shot_neutral: neutral,
            calibrations,
            bits_per_sample: img.bps as u16,
            ..Metadata::default()
        },
        decoder: DecoderKind::Rawler,
        rgb: px.rgb,
    })
}

/// The Bayer mosaic of a one-sample rawler image.
fn rawler_bayer(
    path: &Path,
    img: &rawler::RawImage,
    active_origin: (usize, usize),
    white: Option<f64>,
) -> Result<Pixels> {
    let cfa = bayer_cfa(img.camera.cfa.width, img.camera.cfa.height, |r, c| {
        img.camera.cfa.color_at(r, c)
    })
    .map_err(|e| Error::unsupported(path, e))?;
    let (w, h) = (img.width, img.height);
    let bl = &img.blacklevel;
    let levels = bl.as_vec();
    let mut black = [0.0; 4];
    for (i, b) in black.iter_mut().enumerate() {
        let (x, y) = (i % 2, i / 2);
        let (bw, bh) = (bl.width.max(1), bl.height.max(1));
        // position in the black-level pattern, which starts at the active area's origin
        let (px, py) = (
            (x + bw * 2 - active_origin.0 % bw) % bw,
            (y + bh * 2 - active_origin.1 % bh) % bh,
        );
        *b = levels
            .get(py * bw + px)
            .or(levels.first())
            .map(|&v| f64::from(v))
            .unwrap_or(0.0);
    }
    let white = white.unwrap_or_else(|| {
        img.whitelevel
            .0
            .first()
            .map(|&v| f64::from(v))
            .unwrap_or(65535.0)
    });
    check_levels(path, &black, white)?;
    let mosaic = match &img.data {
        rawler::RawImageData::Integer(d) => normalise(path, w, h, d, &black, white)?,
        rawler::RawImageData::Float(d) => normalise(path, w, h, d, &black, white)?,
    };
    Ok(Pixels {
        cfa,
        black,
        white,
        mosaic,
        rgb: None,
    })
}

/// Chunky samples as a decoder returns them.
enum Samples<'a> {
    Integer(&'a [u16]),
    Float(&'a [f32]),
}

/// The three planes of 3-sample LinearRaw data, each normalised with its sample's black and
/// white level. `black` is DNG's `BlackLevel` (`rows x cols x SamplesPerPixel` values, the
/// sample varying fastest, or one for all; empty: 0), `whites` one white level per sample or
/// one for all.
fn rgb_pixels(
    path: &Path,
    (w, h): (usize, usize),
    data: Samples,
    black: &[f64],
    whites: &[f64],
) -> Result<Pixels> {
    let per_sample = black.len() >= 3 && black.len().is_multiple_of(3);
    let mut black3 = [0.0; 3];
    for (c, b) in black3.iter_mut().enumerate() {
        let mut of_sample = black
            .iter()
            .skip(if per_sample { c } else { 0 })
            .step_by(if per_sample { 3 } else { 1 });
        let first = of_sample.next().copied().unwrap_or(0.0);
        if of_sample.any(|&v| v != first) {
            return Err(Error::unsupported(
                path,
                format!(
                    "LinearRaw black level varies with the position in its pattern ({black:?}); \
                     obscura needs one level per sample"
                ),
            ));
        }
        *b = first;
    }
    let white3: [f64; 3] =
        std::array::from_fn(|c| whites.get(c).or(whites.first()).copied().unwrap_or(65535.0));
    for c in 0..3 {
        check_levels(path, &[black3[c]; 4], white3[c])?;
    }
    let rgb = match data {
        Samples::Integer(d) => deinterleave(path, w, h, d, &black3, &white3)?,
        Samples::Float(d) => deinterleave(path, w, h, d, &black3, &white3)?,
    };
    Ok(Pixels {
        cfa: Cfa::RGGB,
        black: [black3[0], black3[1], black3[2], black3[1]],
        white: white3.iter().copied().fold(f64::INFINITY, f64::min),
        mosaic: Plane::default(),
        rgb: Some(Box::new(rgb)),
    })
}

/// The three planes of a LinearRaw rawler image with 3 samples per pixel.
fn rawler_rgb(path: &Path, img: &rawler::RawImage, white: Option<f64>) -> Result<Pixels> {
    let black: Vec<f64> = img.blacklevel.as_vec().into_iter().map(f64::from).collect();
    let whites: Vec<f64> = match white {
        Some(w) => vec![w],
        None => img.whitelevel.0.iter().map(|&v| f64::from(v)).collect(),
    };
    let data = match &img.data {
        rawler::RawImageData::Integer(d) => Samples::Integer(d),
        rawler::RawImageData::Float(d) => Samples::Float(d),
    };
    rgb_pixels(path, (img.width, img.height), data, &black, &whites)
}

/// Splits chunky RGB samples into three planes normalised per sample to 0 = black,
/// 1 = white; refuses a buffer whose length is not `3 * width * height`.
fn deinterleave<T: Copy + Sync + Into<f64>>(
    path: &Path,
    width: usize,
    height: usize,
    data: &[T],
    black: &[f64; 3],
    white: &[f64; 3],
) -> Result<[Plane<f32>; 3]> {
    if data.len() != 3 * width * height {
        return Err(Error::decode(
            path,
            format!(
                "decoder returned {} samples for {width}x{height} pixels of 3 samples",
                data.len()
            ),
        ));
    }
    let inv: [f64; 3] = std::array::from_fn(|c| 1.0 / (white[c] - black[c]));
    let mut rgb = std::array::from_fn(|_| Plane::<f32>::new(width, height));
    par_pixels(&mut rgb, |i, r, g, b| {
        let s = &data[3 * i..3 * i + 3];
        *r = ((s[0].into() - black[0]) * inv[0]) as f32;
        *g = ((s[1].into() - black[1]) * inv[1]) as f32;
        *b = ((s[2].into() - black[2]) * inv[2]) as f32;
    });
    Ok(rgb)
}

fn matrix(e: Option<&Entry>) -> Option<Matrix3> {
    let v = e?.f64s();
    if v.len() < 9 || v.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut m = [[0.0; 3]; 3];
    for (k, x) in v.iter().take(9).enumerate() {
        m[k / 3][k % 3] = *x;
    }
    Some(m)
}

fn dng_tag<'a>(raw: &'a Ifd, root: &'a Ifd, tag: u16) -> Option<&'a Entry> {
    raw.get(tag).or_else(|| root.get(tag))
}

/// Who decodes a DNG's pixels.
enum Route {
    /// rawler (every compression it reads).
    Rawler,
    /// obscura's own lossless JPEG decoder ([`super::ljpeg`]): 3-sample LinearRaw of fewer
    /// than 10 bits, whose precision rawler's decoder refuses.
    LosslessJpeg { bits: u32 },
}

/// Chooses the decoder for the raw IFD's compression and sample format, or says clearly
/// which combination neither reads (rawler 0.8: integer data uncompressed, lossless JPEG of 10
/// to 16 bits, lossy JPEG or JPEG XL; float data uncompressed or Deflate in tiles).
fn route(path: &Path, raw: &Ifd, linear: bool) -> Result<Route> {
    let compression = raw.get(tags::COMPRESSION).and_then(Entry::u32).unwrap_or(1);
    let format = raw
        .get(tags::SAMPLE_FORMAT)
        .and_then(Entry::u32)
        .unwrap_or(1);
    let bits = raw
        .get(tags::BITS_PER_SAMPLE)
        .and_then(Entry::u32)
        .unwrap_or(0);
    let tiled = raw.get(tags::TILE_OFFSETS).is_some();
    let name = match compression {
        1 => "uncompressed",
        7 => "lossless JPEG",
        8 => "Deflate",
        34892 => "lossy JPEG",
        52546 => "JPEG XL",
        _ => "an unknown compression",
    };
    let refuse = |what: &str, reads: &str| {
        Err(Error::unsupported(
            path,
            format!(
                "{bits}-bit {what} compressed with {name} (compression {compression}); obscura \
                 reads {reads}"
            ),
        ))
    };
    match (format, compression) {
        (1, 1 | 34892 | 52546) => Ok(Route::Rawler),
        (1, 7) if bits >= 10 => Ok(Route::Rawler),
        (1, 7) if linear && (2..10).contains(&bits) => Ok(Route::LosslessJpeg { bits }),
        (1, 7) => refuse(
            "Bayer data",
            "lossless JPEG Bayer data of 10 to 16 bits (LinearRaw of 2 to 16)",
        ),
        (3, 1) => Ok(Route::Rawler),
        (3, 8) if tiled => Ok(Route::Rawler),
        (3, _) => refuse(
            "floating-point data",
            "floating-point DNGs uncompressed or Deflate-compressed in tiles (its decoder, \
             rawler, has no JPEG XL float)",
        ),
        (1, _) => refuse(
            "integer data",
            "integer DNGs uncompressed or as lossless JPEG, lossy JPEG or JPEG XL",
        ),
        _ => Err(Error::unsupported(
            path,
            format!("samples of SampleFormat {format}; obscura reads unsigned integer and float"),
        )),
    }
}

/// The tile grid of the raw IFD: tile width and length, and the tiles across and down
/// (strips are tiles as wide as the image).
fn tile_grid(raw: &Ifd, (w, h): (usize, usize)) -> (usize, usize, usize, usize) {
    let get = |tag| raw.get(tag).and_then(Entry::u32).map(|v| v as usize);
    let (tw, tl) = match (get(tags::TILE_WIDTH), get(tags::TILE_LENGTH)) {
        (Some(tw), Some(tl)) => (tw, tl),
        _ => (w, get(tags::ROWS_PER_STRIP).unwrap_or(h).min(h)),
    };
    let (tw, tl) = (tw.max(1), tl.max(1));
    (tw, tl, w.div_ceil(tw), h.div_ceil(tl))
}

/// Checks an IFD's image of `w x h` pixels of `spp` samples against the limits, padded to its
/// tile grid if tiled: decoders allocate whole tiles (a TileWidth of 2^30 made rawler ask for
/// 32 GB).
fn check_tiles(
    path: &Path,
    raw: &Ifd,
    (w, h, spp): (u32, u32, u32),
    file_len: usize,
    limits: &DecodeLimits,
) -> Result<()> {
    let (w, h) = (w as usize, h as usize);
    let tiled = raw.get(tags::TILE_WIDTH).is_some() && raw.get(tags::TILE_LENGTH).is_some();
    let (pw, ph) = if tiled {
        let (tw, tl, across, down) = tile_grid(raw, (w, h));
        (tw * across, tl * down)
    } else {
        (w, h)
    };
    limits.check(path, pw as u64 * u64::from(spp), ph as u64, file_len)
}

/// Checks that an IFD's bits per sample are possible (1 to 32) and that its strips or tiles
/// lie within the file: rawler reads the data the tags point at without checking either, and
/// panics (caught, but found by the corruption sweep: a bit pump run dry on a truncated
/// file, a white level for 65535 bits).
fn check_data(path: &Path, ifd: &Ifd, file_len: usize) -> Result<()> {
    if let Some(bits) = ifd.get(tags::BITS_PER_SAMPLE).map(Entry::u32s)
        && let Some(b) = bits.iter().find(|&&b| b == 0 || b > 32)
    {
        return Err(Error::decode(
            path,
            format!("BitsPerSample {b} in an image IFD (possible: 1 to 32)"),
        ));
    }
    let (offsets, counts, what) = if ifd.get(tags::TILE_OFFSETS).is_some() {
        (tags::TILE_OFFSETS, tags::TILE_BYTE_COUNTS, "tile")
    } else {
        (tags::STRIP_OFFSETS, tags::STRIP_BYTE_COUNTS, "strip")
    };
    let offsets = ifd.get(offsets).map(Entry::u32s).unwrap_or_default();
    let counts = ifd.get(counts).map(Entry::u32s).unwrap_or_default();
    for (k, (&o, &c)) in offsets.iter().zip(&counts).enumerate() {
        if u64::from(o) + u64::from(c) > file_len as u64 {
            return Err(Error::decode(
                path,
                format!(
                    "{what} {k} ({c} bytes at offset {o}) ends beyond the end of the \
                     {file_len}-byte file (truncated or corrupt)"
                ),
            ));
        }
    }
    Ok(())
}

/// The chunky samples of 3-sample LinearRaw stored as lossless JPEG tiles or strips, decoded
/// by obscura, tiles in parallel.
fn lossless_jpeg_samples(
    path: &Path,
    raw: &Ifd,
    bytes: &[u8],
    (w, h): (usize, usize),
    bits: u32,
) -> Result<Vec<u16>> {
    const SPP: usize = 3;
    let tiled = raw.get(tags::TILE_OFFSETS).is_some();
    let (offsets, counts) = if tiled {
        (tags::TILE_OFFSETS, tags::TILE_BYTE_COUNTS)
    } else {
        (tags::STRIP_OFFSETS, tags::STRIP_BYTE_COUNTS)
    };
    let offsets = raw.get(offsets).map(Entry::u32s).unwrap_or_default();
    let counts = raw.get(counts).map(Entry::u32s).unwrap_or_default();
    let (tw, tl, across, down) = tile_grid(raw, (w, h));
    if offsets.len() != across * down || counts.len() != offsets.len() {
        return Err(Error::decode(
            path,
            format!(
                "{} tile offsets and {} byte counts for a grid of {across}x{down} tiles",
                offsets.len(),
                counts.len()
            ),
        ));
    }
    let tiles: Vec<Vec<u16>> = (0..offsets.len())
        .into_par_iter()
        .map(|k| {
            let (x0, y0) = ((k % across) * tw, (k / across) * tl);
            let (rows, cols) = (tl.min(h - y0), tw.min(w - x0) * SPP);
            let (off, len) = (offsets[k] as usize, counts[k] as usize);
            let data = bytes
                .get(off..off.saturating_add(len))
                .ok_or_else(|| format!("tile {k} lies beyond the end of the file"))?;
            let (_, samples) = super::ljpeg::decode(data, |f| {
                if f.width * f.components != tw * SPP || f.height < rows {
                    return Err(format!(
                        "tile {k} holds {}x{} pixels of {} components, not {tw}x{tl} of {SPP} \
                         samples",
                        f.width, f.height, f.components
                    ));
                }
                if u32::from(f.precision) != bits {
                    return Err(format!(
                        "tile {k} holds {}-bit samples, BitsPerSample says {bits}",
                        f.precision
                    ));
                }
                Ok((rows, cols))
            })
            .map_err(|e| format!("tile {k}: {e}"))?;
            Ok(samples)
        })
        .collect::<std::result::Result<_, String>>()
        .map_err(|e| Error::decode(path, e))?;
    let mut out = vec![0u16; w * h * SPP];
    for (k, tile) in tiles.iter().enumerate() {
        let (x0, y0) = ((k % across) * tw, (k / across) * tl);
        let cols = tw.min(w - x0) * SPP;
        for (r, row) in tile.chunks_exact(cols).enumerate() {
            let at = ((y0 + r) * w + x0) * SPP;
            out[at..at + cols].copy_from_slice(row);
        }
    }
    Ok(out)
}

/// Refuses LinearRaw layouts that rawler would misread: planar samples (rawler reads every
/// buffer as chunky) and samples of different bit depths or formats.
fn check_linear_layout(path: &Path, raw: &Ifd) -> Result<()> {
    let planar = raw
        .get(tags::PLANAR_CONFIGURATION)
        .and_then(Entry::u32)
        .unwrap_or(1);
    if planar != 1 {
        return Err(Error::unsupported(
            path,
            format!(
                "LinearRaw DNG with PlanarConfiguration {planar} (separate planes); obscura \
                 reads chunky (interleaved) samples"
            ),
        ));
    }
    for (tag, name) in [
        (tags::BITS_PER_SAMPLE, "BitsPerSample"),
        (tags::SAMPLE_FORMAT, "SampleFormat"),
    ] {
        if let Some(v) = raw.get(tag).map(Entry::u32s)
            && v.iter().any(|&x| x != v[0])
        {
            return Err(Error::unsupported(
                path,
                format!("LinearRaw DNG whose samples differ in {name} ({v:?})"),
            ));
        }
    }
    Ok(())
}

/// DNG `BlackLevel` holds `BlackLevelRepeatDim` rows x columns x samples per pixel values;
/// rawler asserts that count (a panic, caught, but with a cryptic message), so a file whose
/// count differs is refused here with one that says so.
fn check_black_level_count(path: &Path, raw: &Ifd, spp: u32) -> Result<()> {
    let Some(levels) = raw.get(tags::BLACK_LEVEL) else {
        return Ok(());
    };
    let dim = raw
        .get(tags::BLACK_LEVEL_REPEAT_DIM)
        .map(Entry::u32s)
        .filter(|d| d.len() == 2)
        .unwrap_or_else(|| vec![1, 1]);
    let want = u64::from(dim[0]) * u64::from(dim[1]) * u64::from(spp);
    if u64::from(levels.count) != want {
        return Err(Error::decode(
            path,
            format!(
                "BlackLevel has {} values; a {}x{} repeat pattern of {spp} samples per pixel \
                 needs {want}",
                levels.count, dim[0], dim[1]
            ),
        ));
    }
    Ok(())
}

fn decode_dng(
    path: &Path,
    bytes: Arc<Vec<u8>>,
    tiff: &Tiff,
    limits: &DecodeLimits,
) -> Result<RawFrame> {
    let root = tiff.root();
    let raw = tiff.raw_ifd().ok_or_else(|| {
        Error::decode(
            path,
            "DNG has no raw image IFD (NewSubFileType 0 with CFA or LinearRaw data)",
        )
    })?;
    // raw_ifd() found CFA (32803) or LinearRaw (34892) data
    let linear = raw.get(tags::PHOTOMETRIC).and_then(Entry::u32) == Some(34892);
    let w = raw.get(tags::IMAGE_WIDTH).and_then(Entry::u32).unwrap_or(0);
    let h = raw
        .get(tags::IMAGE_LENGTH)
        .and_then(Entry::u32)
        .unwrap_or(0);
    if w == 0 || h == 0 {
        return Err(Error::decode(path, "DNG raw IFD has no image size"));
    }
    // decoders allocate width x height x samples per pixel (fuzzing: 65281 samples per pixel
    // asked rawler for 4 GB), so the count is checked before the size
    let spp = raw
        .get(tags::SAMPLES_PER_PIXEL)
        .and_then(Entry::u32)
        .unwrap_or(1);
    let want = if linear { 3 } else { 1 };
    if spp != want {
        return Err(Error::unsupported(
            path,
            if linear {
                format!(
                    "LinearRaw DNG with {spp} samples per pixel{}; obscura reads 3-sample \
                     (RGB) LinearRaw",
                    match spp {
                        1 => " (monochrome)",
                        4.. => " (more colours than RGB)",
                        _ => "",
                    }
                )
            } else {
                format!("{spp} samples per pixel in the raw image; a Bayer raw has 1")
            },
        ));
    }
    // rawler picks its raw image by its own rule (the first full-resolution IFD it can
    // decode) and allocates it, padded to its tile grid, before noticing anything: every IFD
    // it might pick must fit the limits
    for ifd in tiff.raw_candidates() {
        let get = |tag| ifd.get(tag).and_then(Entry::u32).unwrap_or(0);
        let samples = ifd
            .get(tags::SAMPLES_PER_PIXEL)
            .and_then(Entry::u32)
            .unwrap_or(1);
        let size = (get(tags::IMAGE_WIDTH), get(tags::IMAGE_LENGTH), samples);
        check_tiles(path, ifd, size, bytes.len(), limits)?;
        check_data(path, ifd, bytes.len())?;
    }
    if linear {
        check_linear_layout(path, raw)?;
    }
    if let Some(c) = raw.get(tags::CFA_REPEAT_PATTERN_DIM).map(Entry::u32s)
        && !linear
        && c.len() == 2
        && (c[0] > 2 || c[1] > 2)
    {
        return Err(Error::unsupported(
            path,
            format!(
                "{}x{} colour filter array (X-Trans or similar); obscura needs a 2x2 Bayer pattern",
                c[1], c[0]
            ),
        ));
    }
    check_black_level_count(path, raw, spp)?;
    let route = route(path, raw, linear)?;
    let active = raw.get(tags::ACTIVE_AREA).map(Entry::u32s);
    let active_origin = match active.as_deref() {
        Some([top, left, ..]) => (*left as usize, *top as usize),
        _ => (0, 0),
    };
    let mut frame = match route {
        Route::Rawler => {
            // DNG's default white level for floating-point data is 1.0 (rawler assumes
            // 2^bits - 1)
            let float = raw.get(tags::SAMPLE_FORMAT).and_then(Entry::u32) == Some(3);
            let white = (float && raw.get(tags::WHITE_LEVEL).is_none()).then_some(1.0);
            let img = rawler_decode(path, bytes).map_err(|e| Error::decode(path, e))?;
            if (img.width, img.height, img.cpp) != (w as usize, h as usize, spp as usize) {
                return Err(Error::decode(
                    path,
                    format!(
                        "the decoder read a {}x{} image of {} samples per pixel, but the raw \
                         IFD declares {w}x{h} of {spp}",
                        img.width, img.height, img.cpp
                    ),
                ));
            }
            from_rawler_image(path, img, active_origin, white)?
        }
        Route::LosslessJpeg { bits } => {
            let size = (w as usize, h as usize);
            let samples = lossless_jpeg_samples(path, raw, &bytes, size, bits)?;
            let black = raw
                .get(tags::BLACK_LEVEL)
                .map(Entry::f64s)
                .unwrap_or_default();
            let whites = raw
                .get(tags::WHITE_LEVEL)
                .map(Entry::f64s)
                .unwrap_or_else(|| vec![f64::from((1u32 << bits) - 1)]);
            let px = rgb_pixels(path, size, Samples::Integer(&samples), &black, &whites)?;
            let full = Rect::new(0, 0, size.0, size.1);
            RawFrame {
                path: path.to_path_buf(),
                mosaic: px.mosaic,
                cfa: px.cfa,
                rgb: px.rgb,
                black: px.black,
                white: px.white,
                active_area: full,
                crop: full,
                meta: Metadata {
                    orientation: 1,
                    as_shot_neutral: [1.0; 3],
                    ..Metadata::default()
                },
                decoder: DecoderKind::Obscura,
            }
        }
    };
    let (fw, fh) = frame.size();
    let full = Rect::new(0, 0, fw, fh);

    // Geometry from the tags themselves (DNG 1.7: DefaultCrop is relative to ActiveArea).
    if let Some([top, left, bottom, right]) =
        active.as_deref().and_then(|a| <[u32; 4]>::try_from(a).ok())
    {
        let r = Rect::new(
            left as usize,
            top as usize,
            right.saturating_sub(left) as usize,
            bottom.saturating_sub(top) as usize,
        );
        if full.contains(&r) && r.width > 0 && r.height > 0 {
            frame.active_area = r;
        }
    }
    frame.crop = frame.active_area;
    let origin = raw.get(tags::DEFAULT_CROP_ORIGIN).map(Entry::f64s);
    let size = raw.get(tags::DEFAULT_CROP_SIZE).map(Entry::f64s);
    if let (Some(o), Some(s)) = (origin, size)
        && o.len() == 2
        && s.len() == 2
    {
        let r = Rect::new(
            frame.active_area.x + o[0].max(0.0).round() as usize,
            frame.active_area.y + o[1].max(0.0).round() as usize,
            s[0].max(0.0).round() as usize,
            s[1].max(0.0).round() as usize,
        );
        if frame.active_area.contains(&r) && r.width > 0 && r.height > 0 {
            frame.crop = r;
        }
    }

    let meta = &mut frame.meta;
    let ascii = |tag| root.get(tag).map(Entry::ascii).filter(|s| !s.is_empty());
    if let Some(m) = ascii(tags::MAKE) {
        meta.make = m;
    }
    if let Some(m) = ascii(tags::MODEL).or_else(|| ascii(tags::UNIQUE_CAMERA_MODEL)) {
        meta.model = m;
    }
    if let Some(o) = root.get(tags::ORIENTATION).and_then(Entry::u32) {
        meta.orientation = (o as u16).clamp(1, 8);
    }
    if let Some(n) = dng_tag(raw, root, tags::AS_SHOT_NEUTRAL).map(Entry::f64s)
        && n.len() == 3
        && n.iter().all(|v| *v > 0.0 && v.is_finite())
    {
        meta.as_shot_neutral = [n[0] / n[1], 1.0, n[2] / n[1]];
    }
    let mut cals = Vec::new();
    for (cm, fm, il) in [
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
    ] {
        if let Some(m) = matrix(dng_tag(raw, root, cm)) {
            cals.push(Calibration {
                illuminant: dng_tag(raw, root, il).and_then(Entry::u32).unwrap_or(0) as u16,
                color_matrix: m,
                forward_matrix: matrix(dng_tag(raw, root, fm)),
            });
        }
    }
    if !cals.is_empty() {
        meta.calibrations = cals;
    }
    meta.baseline_exposure = dng_tag(raw, root, tags::BASELINE_EXPOSURE)
        .and_then(Entry::f64)
        .filter(|v| v.is_finite())
        .unwrap_or(0.0);
    if let Some(np) = dng_tag(raw, root, tags::NOISE_PROFILE).map(Entry::f64s)
        && !np.is_empty()
        && np.len() % 2 == 0
        && np.iter().all(|v| v.is_finite() && *v >= 0.0)
    {
        meta.noise_profile = np
            .chunks_exact(2)
            .map(|p| NoiseModel {
                scale: p[0],
                offset: p[1],
            })
            .collect();
    }
    for (tag, list) in [
        (tags::OPCODE_LIST1, &mut meta.opcodes1),
        (tags::OPCODE_LIST2, &mut meta.opcodes2),
        (tags::OPCODE_LIST3, &mut meta.opcodes3),
    ] {
        if let Some(e) = raw.get(tag) {
            *list = opcodes::parse_opcode_list(&e.data)
                .map_err(|err| Error::decode(path, format!("OpcodeList (tag {tag}): {err}")))?;
        }
    }
    if let Some(b) = raw.get(tags::BITS_PER_SAMPLE).and_then(Entry::u32) {
        meta.bits_per_sample = b as u16;
    }
    // EXIF: the EXIF IFD, else TIFF/EP tags in IFD0.
    let exif = root.exif.as_deref();
    let find = |tag| exif.and_then(|e| e.get(tag)).or_else(|| root.get(tag));
    meta.exposure_time = find(tags::EXPOSURE_TIME)
        .and_then(Entry::f64)
        .filter(|v| *v > 0.0);
    meta.aperture = find(tags::F_NUMBER)
        .and_then(Entry::f64)
        .filter(|v| *v > 0.0);
    meta.focal_length = find(tags::FOCAL_LENGTH)
        .and_then(Entry::f64)
        .filter(|v| *v > 0.0);
    meta.iso = find(tags::ISO_SPEED_RATINGS)
        .and_then(Entry::u32)
        .filter(|v| *v > 0);
    meta.capture_time = find(tags::DATE_TIME_ORIGINAL)
        .or_else(|| root.get(tags::DATE_TIME))
        .map(Entry::ascii)
        .filter(|s| !s.is_empty())
        .map(|t| {
            with_subsec(
                t,
                find(tags::SUB_SEC_TIME_ORIGINAL)
                    .map(Entry::ascii)
                    .as_deref(),
            )
        });
    meta.gps = root.gps.as_deref().and_then(parse_gps);
    let text = |e: &Entry| Some(e.ascii().trim().to_string()).filter(|s| !s.is_empty());
    meta.identity = super::Identity {
        body_serial: find(tags::BODY_SERIAL_NUMBER)
            .or_else(|| raw.get(tags::CAMERA_SERIAL_NUMBER))
            .or_else(|| root.get(tags::CAMERA_SERIAL_NUMBER))
            .and_then(text),
        lens_serial: find(tags::LENS_SERIAL_NUMBER).and_then(text),
        owner: find(tags::CAMERA_OWNER_NAME).and_then(text),
        artist: root.get(tags::ARTIST).and_then(text),
        unique_id: find(tags::IMAGE_UNIQUE_ID).and_then(text),
        maker_note: find(tags::MAKER_NOTE)
            .or_else(|| root.get(tags::DNG_PRIVATE_DATA))
            .map(|e| e.data.clone())
            .filter(|d| !d.is_empty()),
    };
    Ok(frame)
}

/// Latitude, longitude and altitude from an EXIF GPS IFD (tags 1-6); `None` unless both
/// coordinates are present and in range.
fn parse_gps(gps: &Ifd) -> Option<Gps> {
    let dms = |tag: u16| -> Option<f64> {
        let v = gps.get(tag)?.f64s();
        (v.len() == 3).then(|| v[0] + v[1] / 60.0 + v[2] / 3600.0)
    };
    let sign = |tag: u16, negative: &str| {
        let r = gps.get(tag).map(Entry::ascii).unwrap_or_default();
        if r.trim().eq_ignore_ascii_case(negative) {
            -1.0
        } else {
            1.0
        }
    };
    let latitude = dms(2)? * sign(1, "S");
    let longitude = dms(4)? * sign(3, "W");
    if !(latitude.abs() <= 90.0 && longitude.abs() <= 180.0) {
        return None;
    }
    let below = gps.get(5).and_then(Entry::u32) == Some(1);
    let altitude = gps
        .get(6)
        .and_then(Entry::f64)
        .filter(|v| v.is_finite())
        .map(|a| if below { -a } else { a });
    Some(Gps {
        latitude,
        longitude,
        altitude,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rawler::formats::tiff::{DirectoryWriter, TiffWriter, Value};

    /// An 8-bit LinearRaw DNG of `w x h` pixels in 16x16 lossless-JPEG tiles (the edge tiles
    /// padded with junk), black 2/3/4, white 250, and its samples.
    fn tiled_ljpeg_dng(w: usize, h: usize) -> (Vec<u8>, Vec<u16>) {
        const T: usize = 16;
        let samples: Vec<u16> = (0..w * h * 3)
            .map(|i| ((i * 37 + i / 7) % 251) as u16)
            .collect();
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut tiff = TiffWriter::new(&mut buf).unwrap();
            let (mut offsets, mut counts) = (Vec::new(), Vec::new());
            for ty in 0..h.div_ceil(T) {
                for tx in 0..w.div_ceil(T) {
                    let tile: Vec<u16> = (0..T * T * 3)
                        .map(|k| {
                            let (y, x, c) = (ty * T + k / (T * 3), tx * T + (k / 3) % T, k % 3);
                            if x < w && y < h {
                                samples[(y * w + x) * 3 + c]
                            } else {
                                (k % 200) as u16
                            }
                        })
                        .collect();
                    let jpeg = super::super::ljpeg::encode(&tile, T, 3, 8, 1 + (tx % 7) as u8, 0);
                    offsets.push(tiff.write_data(&jpeg).unwrap());
                    counts.push(jpeg.len() as u32);
                }
            }
            let mut ifd = DirectoryWriter::new();
            ifd.add_untyped_tag(tags::NEW_SUBFILE_TYPE, 0u32);
            ifd.add_untyped_tag(tags::IMAGE_WIDTH, w as u32);
            ifd.add_untyped_tag(tags::IMAGE_LENGTH, h as u32);
            ifd.add_untyped_tag(tags::BITS_PER_SAMPLE, [8u16; 3]);
            ifd.add_untyped_tag(tags::COMPRESSION, 7u16);
            ifd.add_untyped_tag(tags::PHOTOMETRIC, 34892u16);
            ifd.add_untyped_tag(tags::SAMPLES_PER_PIXEL, 3u16);
            ifd.add_untyped_tag(tags::PLANAR_CONFIGURATION, 1u16);
            ifd.add_untyped_tag(tags::TILE_WIDTH, T as u32);
            ifd.add_untyped_tag(tags::TILE_LENGTH, T as u32);
            ifd.add_untyped_tag(tags::TILE_OFFSETS, Value::Long(offsets));
            ifd.add_untyped_tag(tags::TILE_BYTE_COUNTS, Value::Long(counts));
            ifd.add_untyped_tag(tags::MAKE, Value::from("Obscura"));
            ifd.add_untyped_tag(tags::DNG_VERSION, [1u8, 4, 0, 0]);
            ifd.add_untyped_tag(tags::BLACK_LEVEL_REPEAT_DIM, [1u16, 1]);
            ifd.add_untyped_tag(tags::BLACK_LEVEL, [2u16, 3, 4]);
            ifd.add_untyped_tag(tags::WHITE_LEVEL, [250u16; 3]);
            tiff.build(ifd).unwrap();
        }
        (buf.into_inner(), samples)
    }

    #[test]
    fn eight_bit_lossless_jpeg_linear_raw_tiles_decode_exactly() {
        let name = Path::new("ljpeg8.dng");
        for (w, h) in [(37, 23), (16, 16), (5, 40)] {
            let (dng, samples) = tiled_ljpeg_dng(w, h);
            let f = decode_bytes(name, Arc::new(dng), &DecodeLimits::default()).unwrap();
            assert_eq!(f.decoder, DecoderKind::Obscura);
            assert_eq!(f.size(), (w, h));
            assert_eq!((f.black, f.white), ([2.0, 3.0, 4.0, 3.0], 250.0));
            assert_eq!(f.raw_u16(), samples, "{w}x{h}");
            assert_eq!(f.meta.bits_per_sample, 8);
        }
    }

    #[test]
    fn damaged_lossless_jpeg_linear_raw_is_an_error_not_a_panic() {
        let name = Path::new("ljpeg8.dng");
        let limits = DecodeLimits::default();
        let (dng, _) = tiled_ljpeg_dng(37, 23);
        for cut in (0..dng.len()).step_by(11) {
            let e = decode_bytes(name, Arc::new(dng[..cut].to_vec()), &limits);
            assert!(e.is_err(), "cut at {cut} of {}", dng.len());
        }
        // bytes changed anywhere in the tiles: any result but a panic
        let ifd = u32::from_le_bytes([dng[4], dng[5], dng[6], dng[7]]) as usize;
        let mut x = 0x2545_f491u32;
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut b = dng.clone();
            b[8 + x as usize % (ifd - 8)] = (x >> 11) as u8;
            let _ = decode_bytes(name, Arc::new(b), &limits);
        }
    }

    #[test]
    fn huge_tiles_are_refused_before_decoding() {
        // TileWidth 2^30: decoders would allocate the padded width times the height
        let (dng, _) = tiled_ljpeg_dng(37, 23);
        let ifd = u32::from_le_bytes([dng[4], dng[5], dng[6], dng[7]]) as usize;
        let n = u16::from_le_bytes([dng[ifd], dng[ifd + 1]]) as usize;
        let mut b = dng.clone();
        for k in 0..n {
            let e = ifd + 2 + 12 * k;
            if u16::from_le_bytes([b[e], b[e + 1]]) == tags::TILE_WIDTH {
                b[e + 8..e + 12].copy_from_slice(&(1u32 << 30).to_le_bytes());
            }
        }
        let e =
            decode_bytes(Path::new("huge.dng"), Arc::new(b), &DecodeLimits::default()).unwrap_err();
        assert!(matches!(e, Error::Limits { .. }), "{e}");

        // the same in a Bayer DNG for rawler, which allocated 32 GB for it and aborted
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut tiff = TiffWriter::new(&mut buf).unwrap();
            let off = tiff.write_data(&[0u8; 512]).unwrap();
            let mut ifd = DirectoryWriter::new();
            ifd.add_untyped_tag(tags::NEW_SUBFILE_TYPE, 0u32);
            ifd.add_untyped_tag(tags::IMAGE_WIDTH, 16u32);
            ifd.add_untyped_tag(tags::IMAGE_LENGTH, 16u32);
            ifd.add_untyped_tag(tags::BITS_PER_SAMPLE, 16u16);
            ifd.add_untyped_tag(tags::COMPRESSION, 1u16);
            ifd.add_untyped_tag(tags::PHOTOMETRIC, 32803u16);
            ifd.add_untyped_tag(tags::MAKE, Value::from("X"));
            ifd.add_untyped_tag(tags::TILE_WIDTH, 1u32 << 30);
            ifd.add_untyped_tag(tags::TILE_LENGTH, 16u32);
            ifd.add_untyped_tag(tags::TILE_OFFSETS, Value::Long(vec![off]));
            ifd.add_untyped_tag(tags::TILE_BYTE_COUNTS, Value::Long(vec![512]));
            ifd.add_untyped_tag(tags::CFA_REPEAT_PATTERN_DIM, [2u16, 2]);
            ifd.add_untyped_tag(tags::CFA_PATTERN, [0u8, 1, 1, 2]);
            ifd.add_untyped_tag(tags::DNG_VERSION, [1u8, 4, 0, 0]);
            tiff.build(ifd).unwrap();
        }
        let e = decode_bytes(
            Path::new("huge_bayer.dng"),
            Arc::new(buf.into_inner()),
            &DecodeLimits::default(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Limits { .. }), "{e}");
    }
}
