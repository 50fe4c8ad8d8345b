//! Decoding RAW files into a [`RawFrame`], and writing a `RawFrame` back as a DNG.
//!
//! # Which decoder
//! Two Rust decoders exist in the same lineage: `rawloader` (named by the design card, frozen
//! since 2022) and `rawler` (dnglab's library, its maintained successor). Measured here
//! (`docs/ARCHITECTURE.md`): rawloader returns wrong pixels without an error for tiled
//! lossless-JPEG DNGs, panics on JPEG XL DNGs, and rejects CR3, float, lossy and Make-less DNGs,
//! while rawler agrees bit for bit with LibRaw on all of them. So [`RawFrame::open`] routes:
//! every DNG goes to rawler, camera-native formats go to rawloader first and to rawler when
//! rawloader refuses them. DNG metadata that neither library exposes completely (NoiseProfile,
//! opcode lists, forward matrices, baseline exposure, crops) is read by obscura's own TIFF
//! reader ([`tiff`]).
//!
//! # Pixel representation
//! Pixels are stored as `f32`, normalised per photosite so that 0 is the black level and 1 the
//! white level: `x = (raw - black[pos]) / (white - black[pos])`. Why:
//! - one representation covers 10- to 16-bit integer raws, float DNGs and merged results, whose
//!   precision is above any integer input;
//! - every later kernel (alignment, merge, demosaic) works in `f32` anyway, and none of them has
//!   to repeat black/white arithmetic or know the bit depth;
//! - values below black (read noise) stay negative rather than being clipped, so noise
//!   statistics stay unbiased;
//! - the mapping is exactly invertible for integer data up to 24 bits ([`RawFrame::raw_value`]),
//!   so checksums and DNG round trips are bit-exact.
//!
//! The cost is 4 bytes per photosite instead of 2 (48 MB per 12 MP frame).
//!
//! # Linear RGB (LinearRaw DNG)
//! A LinearRaw DNG (PhotometricInterpretation 34892: already demosaiced camera RGB, as Adobe's
//! converters and the kernel merge write) decodes to [`RawFrame::rgb`]: three planes over the
//! whole buffer, each normalised with its own sample's black and white level, and an empty
//! mosaic. [`write_dng`] writes such a frame back as a 16-bit LinearRaw DNG.

pub(crate) mod bmff;
pub(crate) mod ciff;
pub(crate) mod decode;
mod ljpeg;

pub use decode::DecodeLimits;
pub(crate) mod kdc;
pub mod opcodes;
pub mod tiff;
mod writer;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::image::{Cfa, Plane, Rect};
pub use opcodes::{GainMap, Opcode};
pub(crate) use writer::dms;
pub use writer::write_dng;

/// The photosite count a TIFF-based raw (DNG, CR2, NEF, ARW, ...) declares for its largest
/// image, read from its header without decoding; `None` for other formats or unreadable
/// files.
pub fn declared_pixels(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let t = tiff::Tiff::parse(&bytes).ok()?;
    let (w, h) = t.largest_image()?;
    Some(w * h)
}

/// Which library decoded a frame's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecoderKind {
    /// The `rawloader` crate (camera-native formats it supports).
    Rawloader,
    /// The `rawler` crate (all DNGs, CR3, and what rawloader refuses).
    Rawler,
    /// Made in memory by obscura (synthetic or merged frames), or decoded by obscura's own
    /// lossless JPEG decoder (8-bit LinearRaw DNG tiles, which rawler refuses).
    Obscura,
}

pub use crate::color::Matrix3;

/// A colour calibration for one illuminant, as DNG stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// EXIF LightSource code of the calibration illuminant (21 = D65, 17 = standard light A,
    /// 0 = unknown).
    pub illuminant: u16,
    /// XYZ -> camera-native RGB (DNG `ColorMatrixN`), unscaled as the file gives it.
    pub color_matrix: Matrix3,
    /// Camera RGB (white balanced) -> XYZ D50 (DNG `ForwardMatrixN`), when the file has one.
    pub forward_matrix: Option<Matrix3>,
}

/// Normalised level at or above which a photosite counts as clipped (the merge and the
/// reference choice agree on it).
pub const CLIP_LEVEL: f32 = 0.98;

/// One colour channel's noise model: variance = `scale * x + offset` for a signal `x`
/// normalised to [0, 1] (DNG `NoiseProfile`, tag 51041).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseModel {
    /// Shot-noise coefficient S (variance per unit of signal).
    pub scale: f64,
    /// Read-noise variance O.
    pub offset: f64,
}

/// Everything about a frame except its pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Metadata {
    /// Camera maker, e.g. "Canon".
    pub make: String,
    /// Camera model, e.g. "PowerShot G2".
    pub model: String,
    /// EXIF orientation, 1 to 8 (1 = as stored).
    pub orientation: u16,
    /// Exposure time in seconds.
    pub exposure_time: Option<f64>,
    /// ISO sensitivity.
    pub iso: Option<u32>,
    /// Aperture as an f-number.
    pub aperture: Option<f64>,
    /// Focal length in millimetres.
    pub focal_length: Option<f64>,
    /// Capture time as EXIF gives it ("YYYY:MM:DD HH:MM:SS", with ".sss" sub-seconds when known).
    pub capture_time: Option<String>,
    /// As-shot white balance as the camera-space colour of neutral (DNG `AsShotNeutral`),
    /// normalised so that green is 1. The multipliers that neutralise it are its reciprocals.
    pub as_shot_neutral: [f64; 3],
    /// Colour calibrations, one per illuminant (one or two; empty if the file has none).
    pub calibrations: Vec<Calibration>,
    /// Noise model per colour plane (one entry for all planes, or one per plane in R, G, B
    /// order), when the file carries a DNG `NoiseProfile`.
    pub noise_profile: Vec<NoiseModel>,
    /// DNG `BaselineExposure` in EV (0 when absent).
    pub baseline_exposure: f64,
    /// DNG `OpcodeList1` (applied to the raw data as stored).
    pub opcodes1: Vec<Opcode>,
    /// DNG `OpcodeList2` (applied after linearisation; lens shading gain maps live here).
    pub opcodes2: Vec<Opcode>,
    /// DNG `OpcodeList3` (applied after demosaic).
    pub opcodes3: Vec<Opcode>,
    /// Bits per sample of the stored data (informational).
    pub bits_per_sample: u16,
    /// Where the photo was taken (EXIF GPS), when the file says. Private data: encoders drop
    /// it unless asked to keep it.
    pub gps: Option<Gps>,
    /// Tags that identify the camera's owner or the device. Private data: outputs drop them
    /// unless asked to keep them.
    pub identity: Identity,
}

/// Metadata that identifies a person or a device rather than describing the capture: serial
/// numbers, names, the image's unique ID, the maker note (which often holds serials,
/// location and face data). Outputs drop all of it unless asked ([`Metadata::private_removed`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Identity {
    /// Camera body serial number (EXIF `BodySerialNumber`, DNG `CameraSerialNumber`).
    pub body_serial: Option<String>,
    /// Lens serial number (EXIF `LensSerialNumber`).
    pub lens_serial: Option<String>,
    /// The camera owner's name (EXIF `CameraOwnerName`).
    pub owner: Option<String>,
    /// The photographer (TIFF `Artist`).
    pub artist: Option<String>,
    /// The image's unique ID (EXIF `ImageUniqueID`).
    pub unique_id: Option<String>,
    /// The maker note (EXIF `MakerNote`, or DNG `DNGPrivateData`), as stored (not shown in
    /// reports).
    #[serde(skip)]
    pub maker_note: Option<Vec<u8>>,
}

impl Metadata {
    /// A copy without private data: without the location unless `keep_location`, without
    /// the identifying tags ([`Identity`]) unless `keep_metadata`. The capture settings
    /// (make, model, exposure, aperture, ISO, focal length, capture time) always stay.
    pub fn private_removed(&self, keep_metadata: bool, keep_location: bool) -> Metadata {
        let mut m = self.clone();
        if !keep_location {
            m.gps = None;
        }
        if !keep_metadata {
            m.identity = Identity::default();
        }
        m
    }
}

/// A capture location (EXIF GPS IFD).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gps {
    /// Latitude in degrees, north positive.
    pub latitude: f64,
    /// Longitude in degrees, east positive.
    pub longitude: f64,
    /// Altitude in metres above sea level, when known.
    pub altitude: Option<f64>,
}

/// One decoded raw image: the Bayer mosaic (or, for LinearRaw data, three linear camera-RGB
/// planes), its levels and geometry, and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFrame {
    /// The file it came from (empty for frames made in memory).
    pub path: PathBuf,
    /// The whole stored raw buffer, normalised: 0 = black level, 1 = white level (see the
    /// module docs). Includes masked borders; use [`RawFrame::active_area`] and
    /// [`RawFrame::crop`] for the image proper. Empty (0 x 0) when the frame is linear RGB
    /// ([`RawFrame::rgb`]).
    pub mosaic: Plane<f32>,
    /// The CFA pattern relative to the buffer's top-left corner (meaningless for linear RGB
    /// frames).
    pub cfa: Cfa,
    /// Linear camera RGB (R, G, B planes of the whole buffer, normalised like the mosaic)
    /// when the frame is already demosaiced: a LinearRaw DNG, or the kernel merge's output.
    /// `None` for a Bayer frame. Stages that need a mosaic refuse such frames with
    /// [`crate::Error::Unsupported`].
    pub rgb: Option<Box<[Plane<f32>; 3]>>,
    /// Black level in raw units for each position of the 2x2 tile, indexed
    /// `(y % 2) * 2 + (x % 2)` in buffer coordinates. For a linear RGB frame, `black[c]` is
    /// plane `c`'s (R, G, B) level and `black[3]` is unused (the decoder sets it to the
    /// green level).
    pub black: [f64; 4],
    /// White (saturation) level in raw units. A LinearRaw DNG may give one per sample; when
    /// they differ, each plane is normalised to its own and this is the smallest.
    pub white: f64,
    /// The area of the buffer with image data (DNG `ActiveArea`).
    pub active_area: Rect,
    /// The area to show (DNG `DefaultCropOrigin/Size`, in buffer coordinates).
    pub crop: Rect,
    /// Everything else.
    pub meta: Metadata,
    /// Which library decoded the pixels.
    pub decoder: DecoderKind,
}

impl RawFrame {
    /// Decodes a RAW file (DNG of any compression or a camera format that rawloader or rawler
    /// reads). A LinearRaw DNG with three samples per pixel (integer or float) becomes a
    /// linear RGB frame ([`RawFrame::rgb`]). Refuses other sensors and layouts (X-Trans,
    /// monochrome, LinearRaw with other than 3 samples) with [`crate::Error::Unsupported`].
    ///
    /// ```no_run
    /// let frame = obscura::RawFrame::open("photo.dng")?;
    /// println!("{} {} {}x{}", frame.meta.make, frame.meta.model, frame.mosaic.width, frame.mosaic.height);
    /// # Ok::<(), obscura::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<RawFrame> {
        decode::open(path.as_ref(), &DecodeLimits::default())
    }

    /// [`RawFrame::open`] with resource limits checked before any pixel is allocated.
    pub fn open_with(path: impl AsRef<Path>, limits: &DecodeLimits) -> Result<RawFrame> {
        decode::open(path.as_ref(), limits)
    }

    /// Decodes a RAW file held in memory; `name` stands for the file in errors and becomes
    /// the frame's path. Never panics, whatever the bytes (fuzzed).
    pub fn from_bytes(bytes: Vec<u8>, name: &Path, limits: &DecodeLimits) -> Result<RawFrame> {
        if bytes.is_empty() {
            return Err(crate::Error::decode(name, "file is empty (0 bytes)"));
        }
        decode::decode_bytes(name, std::sync::Arc::new(bytes), limits)
    }

    /// The raw value (in the file's units) that the normalised mosaic sample at (`x`, `y`)
    /// came from. Exact for integer data. Bayer frames only (the mosaic of a linear RGB frame
    /// is empty).
    #[inline]
    pub fn raw_value(&self, x: usize, y: usize) -> f64 {
        let b = self.black[(y & 1) * 2 + (x & 1)];
        f64::from(self.mosaic.get(x, y)) * (self.white - b) + b
    }

    /// The whole buffer as integer raw values (rounded, clamped to 0..=65535): the mosaic row
    /// by row, or for a linear RGB frame the samples interleaved R, G, B pixel by pixel, as a
    /// LinearRaw DNG stores them.
    pub fn raw_u16(&self) -> Vec<u16> {
        let raw = |v: f32, b: f64| {
            (f64::from(v) * (self.white - b) + b)
                .round()
                .clamp(0.0, 65535.0) as u16
        };
        if let Some(rgb) = &self.rgb {
            let [r, g, b] = &**rgb;
            let mut out = Vec::with_capacity(r.data.len() * 3);
            for ((&r, &g), &b) in r.data.iter().zip(&g.data).zip(&b.data) {
                out.extend_from_slice(&[
                    raw(r, self.black[0]),
                    raw(g, self.black[1]),
                    raw(b, self.black[2]),
                ]);
            }
            return out;
        }
        let w = self.mosaic.width;
        self.mosaic
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| raw(v, self.black[((i / w) & 1) * 2 + ((i % w) & 1)]))
            .collect()
    }

    /// Width and height of the stored buffer (the mosaic's, or the RGB planes').
    pub fn size(&self) -> (usize, usize) {
        match &self.rgb {
            Some(rgb) => (rgb[0].width, rgb[0].height),
            None => (self.mosaic.width, self.mosaic.height),
        }
    }

    /// Whether the frame holds linear RGB rather than a Bayer mosaic.
    pub fn is_rgb(&self) -> bool {
        self.rgb.is_some()
    }

    /// [`crate::Error::Unsupported`] naming the file and `stage` when the frame is not a
    /// Bayer mosaic.
    pub fn require_bayer(&self, stage: &str) -> Result<()> {
        if self.is_rgb() {
            return Err(crate::Error::unsupported(
                &self.path,
                format!("{stage} needs a Bayer mosaic; this frame is linear RGB (LinearRaw)"),
            ));
        }
        Ok(())
    }

    /// Sum of all raw values of the buffer (the checksum `../shared/raw/README.md` uses; for
    /// linear RGB frames, over all three samples of every pixel).
    pub fn raw_checksum(&self) -> (u64, u16) {
        let v = self.raw_u16();
        let sum = v.iter().map(|&x| u64::from(x)).sum();
        let max = v.iter().copied().max().unwrap_or(0);
        (sum, max)
    }

    /// The CFA pattern as seen from the top-left corner of `r` (e.g. the crop).
    pub fn cfa_at(&self, r: Rect) -> Cfa {
        self.cfa.shifted(r.x, r.y)
    }

    /// White-balance multipliers (R, G, B) that make the as-shot neutral grey, green = 1.
    pub fn wb_multipliers(&self) -> [f64; 3] {
        let n = self.meta.as_shot_neutral;
        let safe = |v: f64| {
            if v > 0.0 && v.is_finite() {
                1.0 / v
            } else {
                1.0
            }
        };
        [safe(n[0]) / safe(n[1]), 1.0, safe(n[2]) / safe(n[1])]
    }

    /// Exposure time in seconds times ISO / 100, the relative brightness a frame was exposed
    /// for (1.0 when the file says nothing).
    pub fn exposure_product(&self) -> f64 {
        let t = self.meta.exposure_time.unwrap_or(1.0);
        let iso = self.meta.iso.map(f64::from).unwrap_or(100.0);
        t * iso / 100.0
    }
}
