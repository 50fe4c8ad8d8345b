//! Baseline JPEG, 8 bits, 4:4:4 (chroma not subsampled), entropy-coded in parallel stripes.
//!
//! The image is cut into horizontal stripes a whole number of MCU rows high (an MCU is one
//! 8x8 block per component at 4:4:4), and `jpeg-encoder` codes each stripe as a JPEG of its
//! own, on the rayon pool. The file declares a restart interval (DRI) of exactly one
//! stripe's MCUs. At each restart a decoder expects byte-aligned data (padded with 1 bits),
//! a marker RST0, RST1, ..., RST7, RST0, ... and DC predictions reset to zero: just where a
//! stripe coded on its own starts and ends. So the file is
//!
//! ```text
//! [stripe 0's header, its SOF height set to the image's] [stripe 0's scan] RST0
//! [stripe 1's scan] RST1 ... [last stripe's scan] EOI
//! ```
//!
//! byte for byte what one serial encoder with the same restart interval writes (tested).
//! Only stripe 0 carries the EXIF (APP1) and ICC (APP2) segments; the other headers are
//! dropped. All stripes share the quantisation tables (standard Annex K tables scaled by
//! quality as libjpeg does) and the standard Huffman tables.
//!
//! # Implementation notes
//!
//! `jpeg-encoder` asks for the image a row at a time; [`ycbcr_row`] turns a row of the float
//! planes straight into 8-bit Y, Cb, Cr (JFIF full-range BT.601, rounded once, from the
//! unquantised values), so no 8-bit RGB copy of the image is made. It is a [`kernels!`]
//! kernel (baseline, AVX2, AVX-512, identical results). `jpeg-encoder` runs the forward DCT
//! with AVX2 when the CPU has it (its own runtime detection: it does not see `OBSCURA_CPU`);
//! its Huffman coding is scalar and the bulk of the time, hence the stripes. A stripe costs
//! about 600 bytes of discarded header, and in the file a 2-byte marker, up to one byte of
//! padding and a restarted DC prediction: 225 bytes in all for the 24 stripes of a 12 MP
//! test image (12.5 MB).

use std::io::Write;

use jpeg_encoder::{Encoder, ImageBuffer, JpegColorType, SamplingFactor};
use rayon::prelude::*;

use crate::cpu::{Isa, kernels};
use crate::error::{Error, Result};
use crate::finish::Finished;

/// MCUs (8x8 pixels) per stripe, about half a megapixel: 16 MCU rows (128 px) at 4000 px
/// wide, 24 stripes for a 12 MP frame. Also keeps the restart interval (MCUs per stripe)
/// within its 16 bits: one MCU row is at most 65535 / 8 = 8192 MCUs.
const STRIPE_MCUS: usize = 8192;

/// Side of an MCU in pixels at 4:4:4.
const MCU: usize = 8;

/// A JPEG file as pieces to be written one after the other.
pub(crate) struct Jpeg {
    /// Each stripe's encoder output and the offset its part of the file starts at.
    stripes: Vec<(Vec<u8>, usize)>,
}

impl Jpeg {
    /// Writes the file to `w`.
    pub(crate) fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        for (bytes, start) in &self.stripes {
            w.write_all(&bytes[*start..])?;
        }
        Ok(())
    }

    /// The file as one buffer.
    #[cfg(test)]
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v).expect("writing to a Vec cannot fail");
        v
    }
}

/// Encodes `img` as a baseline 4:4:4 JPEG of `quality` (1..=100, checked by the caller)
/// with the EXIF block `exif` (a TIFF structure, without the "Exif\0\0" prefix) and the ICC
/// profile `icc`. Sizes must be 1..=65535 (checked by the caller).
pub(crate) fn encode_jpeg(img: &Finished, quality: u8, exif: &[u8], icc: &[u8]) -> Result<Jpeg> {
    let mcu_cols = img.width().div_ceil(MCU);
    encode_stripes(img, quality, exif, icc, (STRIPE_MCUS / mcu_cols).max(1))
}

/// [`encode_jpeg`] with stripes of `stripe_rows` MCU rows (`stripe_rows * mcu_cols` at most
/// 65535).
///
/// Schedule: one rayon task per stripe, joined in order. The whole `encode` of a 12 MP
/// finished synthetic frame (4000x3000, 24 stripes, quality 92, 4.3 MB), to a file with
/// fsync, on a 2-core Xeon (Sapphire Rapids, AVX-512): 91 ms wall with 2 threads, 172 ms
/// with 1, 170 ms of CPU time; before, `image`'s encoder: 500-570 ms wall, 520 ms of CPU.
fn encode_stripes(
    img: &Finished,
    quality: u8,
    exif: &[u8],
    icc: &[u8],
    stripe_rows: usize,
) -> Result<Jpeg> {
    let (w, h) = (img.width(), img.height());
    let stripe_h = stripe_rows * MCU;
    let n = h.div_ceil(stripe_h);
    // one stripe: a plain file without restart markers
    let interval = if n > 1 {
        stripe_rows * w.div_ceil(MCU)
    } else {
        0
    };
    let interval = u16::try_from(interval).map_err(|_| {
        Error::encode(
            "JPEG stripes",
            format!("{interval} MCUs: a restart interval is at most 65535"),
        )
    })?;
    let isa = Isa::detect();
    let stripes = (0..n)
        .into_par_iter()
        .map(|k| {
            let (y0, y1) = (k * stripe_h, ((k + 1) * stripe_h).min(h));
            let mut out = Vec::new();
            let app = if k == 0 { Some((exif, icc)) } else { None };
            encoder(&mut out, quality, interval, app)?
                .encode_image(Rows::new(img, y0..y1, isa))
                .map_err(jpeg_err)?;
            Ok(out)
        })
        .collect::<Result<Vec<Vec<u8>>>>()?;
    let mut pieces = Vec::with_capacity(n);
    for (k, mut bytes) in stripes.into_iter().enumerate() {
        let header = header_len(&mut bytes, (k == 0).then_some(h as u16))?;
        if k + 1 < n {
            // the stripe ends with EOI (FF D9), checked by `header_len`; in the file, RSTn
            // (FF D0 + n mod 8) instead
            let end = bytes.len() - 1;
            bytes[end] = 0xD0 + (k % 8) as u8;
        }
        pieces.push((bytes, if k == 0 { 0 } else { header }));
    }
    Ok(Jpeg { stripes: pieces })
}

/// Rows `y0..y1` of an image, as `jpeg-encoder` reads them: YCbCr, a row at a time.
struct Rows<'a> {
    planes: [&'a [f32]; 3],
    width: usize,
    height: usize,
    isa: Isa,
}

impl<'a> Rows<'a> {
    fn new(img: &'a Finished, rows: std::ops::Range<usize>, isa: Isa) -> Rows<'a> {
        let w = img.width();
        Rows {
            planes: img
                .rgb
                .each_ref()
                .map(|p| &p.data[rows.start * w..rows.end * w]),
            width: w,
            height: rows.len(),
            isa,
        }
    }
}

impl ImageBuffer for Rows<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    // sizes are at most 65535 (checked by `encode`)
    fn width(&self) -> u16 {
        self.width as u16
    }

    fn height(&self) -> u16 {
        self.height as u16
    }

    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        let w = self.width;
        let row = usize::from(y) * w..(usize::from(y) + 1) * w;
        let [r, g, b] = self.planes.map(|p| &p[row.clone()]);
        let n = buffers[0].len();
        for buf in &mut buffers[..3] {
            buf.resize(n + w, 0);
        }
        let [luma, cb, cr, _] = buffers;
        ycbcr_row(
            self.isa,
            r,
            g,
            b,
            &mut luma[n..],
            &mut cb[n..],
            &mut cr[n..],
        );
    }
}

kernels! {
    fn ycbcr_row(
        r: &[f32],
        g: &[f32],
        b: &[f32],
        luma: &mut [u8],
        cb: &mut [u8],
        cr: &mut [u8],
    ) = ycbcr_row_body;
}

/// RGB (sRGB-encoded, nominally in [0, 1]; clamped, NaN taken as 0) to 8-bit JFIF YCbCr:
/// `Y = 0.299 R + 0.587 G + 0.114 B`, `Cb = 128 + (B - Y) / 1.772`,
/// `Cr = 128 + (R - Y) / 1.402`, on the 0..255 scale, rounded to nearest.
#[inline(always)]
fn ycbcr_row_body(r: &[f32], g: &[f32], b: &[f32], luma: &mut [u8], cb: &mut [u8], cr: &mut [u8]) {
    let n = luma.len();
    let (r, g, b, cb, cr) = (&r[..n], &g[..n], &b[..n], &mut cb[..n], &mut cr[..n]);
    for i in 0..n {
        let (r, g, b) = (unit(r[i]), unit(g[i]), unit(b[i]));
        luma[i] = byte(0.299 * r + 0.587 * g + 0.114 * b);
        cb[i] = byte(128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b);
        cr[i] = byte(128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b);
    }
}

/// `v` clamped to [0, 1] (NaN to 0: `max` returns the number), scaled to 0..255.
#[inline(always)]
#[allow(clippy::manual_clamp)] // `clamp` would pass NaN through
fn unit(v: f32) -> f32 {
    v.max(0.0).min(1.0) * 255.0
}

/// `v` clamped to 0..=255 and rounded to the nearest byte (ties to even).
#[inline(always)]
fn byte(v: f32) -> u8 {
    // 2^23 + v, v in [0, 255], is exact to the unit (rounded to nearest, ties to even) and
    // holds v in its low mantissa bits; unlike a float-to-int cast, this vectorises
    (v.clamp(0.0, 255.0) + 8_388_608.0).to_bits() as u8
}

/// A `jpeg-encoder` set up as every stripe and the serial reference are: `quality`, 4:4:4,
/// `interval` MCUs between restarts (0: none) and, with `app = Some((exif, icc))`, the EXIF
/// (APP1) and ICC (APP2) segments.
fn encoder<'a>(
    out: &'a mut Vec<u8>,
    quality: u8,
    interval: u16,
    app: Option<(&[u8], &[u8])>,
) -> Result<Encoder<&'a mut Vec<u8>>> {
    let mut enc = Encoder::new(out, quality);
    // jpeg-encoder subsamples chroma below quality 90; obscura never does
    enc.set_sampling_factor(SamplingFactor::F_1_1);
    enc.set_restart_interval(interval);
    if let Some((exif, icc)) = app {
        enc.add_exif_metadata(exif).map_err(jpeg_err)?;
        if !icc.is_empty() {
            enc.add_icc_profile(icc).map_err(jpeg_err)?;
        }
    }
    Ok(enc)
}

fn jpeg_err(e: jpeg_encoder::EncodingError) -> Error {
    Error::encode("JPEG", e.to_string())
}

/// The length of a JPEG's header: the bytes up to the end of its start-of-scan segment. With
/// `height = Some(h)`, sets the height in the start-of-frame segment to `h`. Checks that
/// the file starts with SOI and ends with EOI.
fn header_len(jpeg: &mut [u8], height: Option<u16>) -> Result<usize> {
    let bad = || Error::parameter("JPEG", "the encoder wrote an unexpected file structure");
    if !jpeg.starts_with(&[0xFF, 0xD8]) || !jpeg.ends_with(&[0xFF, 0xD9]) {
        return Err(bad());
    }
    // after SOI, segments: FF, marker, 2-byte big-endian length counting itself
    let mut pos = 2;
    loop {
        let seg = jpeg.get(pos..pos + 4).ok_or_else(bad)?;
        if seg[0] != 0xFF {
            return Err(bad());
        }
        let (marker, len) = (seg[1], usize::from(u16::from_be_bytes([seg[2], seg[3]])));
        if marker == 0xC0
            && let Some(h) = height
        {
            // SOF0: length, precision (1 byte), height (2), width (2), ...
            let at = pos + 5;
            jpeg.get_mut(at..at + 2)
                .ok_or_else(bad)?
                .copy_from_slice(&h.to_be_bytes());
        }
        pos += 2 + len;
        if marker == 0xDA {
            return if pos + 2 <= jpeg.len() {
                Ok(pos)
            } else {
                Err(bad())
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::ColorSpace;
    use crate::finish::color::ColorTransform;
    use crate::image::Plane;

    /// A seeded image of smooth gradients plus noise, sRGB-encoded values in [0, 1].
    fn test_image(w: usize, h: usize, seed: u64) -> Finished {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut noise = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let rgb = std::array::from_fn(|c| {
            let mut p = Plane::new(w, h);
            for y in 0..h {
                for x in 0..w {
                    let t = (x as f32 * 0.05 + y as f32 * 0.03 + c as f32).sin();
                    p.data[y * w + x] = 0.5 + 0.35 * t + 0.2 * noise();
                }
            }
            p
        });
        let id = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        Finished {
            rgb,
            space: ColorSpace::Srgb,
            color: ColorTransform {
                multipliers: [1.0; 3],
                white_xy: [0.3457, 0.3585],
                temperature: 5000.0,
                tint: 0.0,
                weight: 1.0,
                camera_to_xyz: id,
                camera_to_output: id,
                notes: Vec::new(),
            },
            notes: Vec::new(),
            orientation: 1,
        }
    }

    /// The same image coded by one serial encoder with the same restart interval.
    fn serial(img: &Finished, quality: u8, exif: &[u8], icc: &[u8], stripe_rows: usize) -> Vec<u8> {
        let (w, h) = (img.width(), img.height());
        let interval = if h.div_ceil(stripe_rows * MCU) > 1 {
            stripe_rows * w.div_ceil(MCU)
        } else {
            0
        };
        let mut out = Vec::new();
        encoder(&mut out, quality, interval as u16, Some((exif, icc)))
            .unwrap()
            .encode_image(Rows::new(img, 0..h, Isa::baseline()))
            .unwrap();
        out
    }

    #[test]
    fn stripes_are_byte_identical_to_a_serial_encode_with_restarts() {
        let exif = b"II*\0\x08\0\0\0\0\0\0\0\0\0";
        let icc = vec![7u8; 70_000]; // two APP2 chunks
        // odd sizes hit partial MCUs at the right and bottom; 31x77 in 1-row stripes has 10
        // stripes, so the RST numbers wrap past 7
        for (w, h, rows) in [
            (1, 1, 1),
            (17, 9, 1),
            (4001, 3, 1),
            (31, 77, 1),
            (64, 64, 2),
            (100, 50, 3),
            (9, 200, 8192),
        ] {
            let img = test_image(w, h, (w * 1000 + h) as u64);
            for q in [92, 50] {
                let par = encode_stripes(&img, q, exif, &icc, rows).unwrap().to_vec();
                let ser = serial(&img, q, exif, &icc, rows);
                assert!(par == ser, "{w}x{h}, {rows} rows per stripe, quality {q}");
                let back = image::load_from_memory(&par).unwrap().into_rgb8();
                assert_eq!(back.dimensions(), (w as u32, h as u32));
            }
        }
    }

    #[test]
    fn default_stripes_match_serial_at_a_real_width() {
        // 500 MCUs a row: stripes of 16 MCU rows (128 px), so 300 px makes 3 stripes
        let img = test_image(4000, 300, 3);
        let par = encode_jpeg(&img, 92, b"II*\0", &[]).unwrap().to_vec();
        assert!(par == serial(&img, 92, b"II*\0", &[], 16));
        // restarts change only the entropy coding, never the pixels
        let plain = serial(&img, 92, b"II*\0", &[], 64);
        let a = image::load_from_memory(&par).unwrap().into_rgb8();
        let b = image::load_from_memory(&plain).unwrap().into_rgb8();
        assert!(a == b);
    }

    /// Every ISA level against the baseline, on random values beyond [0, 1] and NaN, over
    /// widths that hit every vector tail; and the conversion against f64 arithmetic.
    #[test]
    fn ycbcr_kernels_agree_and_convert_exactly() {
        let mut s = 0x1234_5678_9ABC_DEF1u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 1.4 - 0.2
        };
        for w in [1, 7, 8, 9, 15, 16, 17, 31, 33, 65] {
            let mut rgb: [Vec<f32>; 3] = std::array::from_fn(|_| (0..w).map(|_| next()).collect());
            rgb[1][0] = f32::NAN;
            let run = |isa: Isa| {
                let mut out = [vec![0u8; w], vec![0u8; w], vec![0u8; w]];
                let [y, cb, cr] = &mut out;
                ycbcr_row(isa, &rgb[0], &rgb[1], &rgb[2], y, cb, cr);
                out
            };
            let want = run(Isa::baseline());
            for isa in Isa::supported() {
                assert_eq!(run(isa), want, "{isa:?}, width {w}");
            }
            for i in 0..w {
                let [r, g, b] = [0, 1, 2].map(|c| {
                    let v = f64::from(rgb[c][i]);
                    if v.is_nan() {
                        0.0
                    } else {
                        v.clamp(0.0, 1.0) * 255.0
                    }
                });
                let y = 0.299 * r + 0.587 * g + 0.114 * b;
                let exact = [y, 128.0 + (b - y) / 1.772, 128.0 + (r - y) / 1.402];
                for c in 0..3 {
                    let e = exact[c].clamp(0.0, 255.0);
                    assert!((f64::from(want[c][i]) - e).abs() <= 0.5 + 1e-3, "{c} {i}");
                }
            }
        }
        // grey stays grey
        let v = [0.0f32, 0.25, 0.5, 1.0];
        let mut out = [vec![0u8; 4], vec![0u8; 4], vec![0u8; 4]];
        let [y, cb, cr] = &mut out;
        ycbcr_row(Isa::detect(), &v, &v, &v, y, cb, cr);
        assert_eq!(out, [vec![0, 64, 128, 255], vec![128; 4], vec![128; 4]]);
    }
}
