//! Ultra HDR JPEG: the SDR JPEG every viewer shows, plus a gain map an HDR display uses to
//! light the highlights above SDR white.
//!
//! Follows Google's "Ultra HDR image format" v1.1 and ISO 21496-1 (gain map metadata). The
//! file is two JPEGs one after the other:
//!
//! ```text
//! primary (SDR):  SOI  APP0 JFIF  APP1 EXIF  APP2 ICC  APP1 XMP  APP2 ISO  APP2 MPF  ...  EOI
//! gain map:       SOI  APP0 JFIF  APP1 XMP  APP2 ISO  ...  EOI
//! ```
//!
//! - **Primary**: byte for byte the image [`super::encode`] writes (same EXIF, same ICC
//!   profile, same coded scan), with three segments inserted after its APP segments:
//!   - XMP (`http://ns.adobe.com/xap/1.0/`): `hdrgm:Version="1.0"` and the GContainer
//!     directory (`Container:Directory`, items `Primary` and `GainMap` with the gain map's
//!     `Item:Length` in bytes);
//!   - ISO 21496-1 (`urn:iso:std:iso:ts:21496:-1`): only the version (minimum version 0,
//!     writer version 0), which tells readers to look for the metadata in the gain map;
//!   - MPF (CIPA DC-007 Multi-Picture Format, `MPF\0` and a big-endian TIFF structure): an
//!     index of the two images, the primary (type baseline MP primary, offset 0) and the
//!     gain map (its size, and its offset from the MPF header's byte-order mark).
//! - **Gain map**: a one-channel baseline JPEG at 1/[`HdrParams::scale`] of the size per
//!   axis (rounded up; 1/4 by default). Each pixel is the mean of the boost (`log2` of the
//!   HDR/SDR gain) over its block ([`crate::finish::hdr::Hdr::blocks`]), stored as `round(255 · ((b - min) / (max - min))^gamma)` with `gamma = 1`. Its XMP
//!   carries the `hdrgm` values: `GainMapMin`/`GainMapMax` (`log2` boosts, stops),
//!   `Gamma`, `OffsetSDR`/`OffsetHDR` (1/64), `HDRCapacityMin` 0 and `HDRCapacityMax` =
//!   `GainMapMax` (the display headroom at which the whole boost is shown),
//!   `BaseRenditionIsHDR="False"`; its ISO 21496-1 segment the same values as fractions
//!   (single channel, base colour space, base headroom 0, alternate headroom =
//!   `HDRCapacityMax`).
//!
//! A reader reconstructs, per pixel and channel, with the gain map upsampled to the image:
//!
//! ```text
//! b     = min + (max - min) · (v / 255)^(1 / gamma)
//! HDR_c = (SDR_c + OffsetSDR) · 2^(b · weight) - OffsetHDR       (linear SDR_c)
//! weight = clamp((log2 display headroom - HDRCapacityMin) / (HDRCapacityMax - HDRCapacityMin), 0, 1)
//! ```
//!
//! which is the HDR rendition up to the gain map's resolution and 8-bit steps (measured in
//! `tests/hdr.rs`). A scene without range above SDR white has a flat map (all zero;
//! `GainMapMax` is then set 1/64 stop above `GainMapMin`, as both standards want a
//! non-empty range) and costs about a kilobyte.
//!
//! The whole file is built in memory and written atomically: a failed gain-map encode
//! leaves no output.

use std::path::Path;

use jpeg_encoder::{ColorType, Encoder};

use super::{EncodeParams, HdrWritten, check_encodable, exif_block, icc_profile, jpeg};
use crate::error::{Error, Result};
use crate::finish::Finished;
#[cfg(doc)]
use crate::finish::hdr::HdrParams;
use crate::finish::hdr::{GAIN_OFFSET, Hdr};
use crate::raw::Metadata;

/// The XMP APP1 signature.
const XMP_SIGNATURE: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
/// The ISO 21496-1 APP2 signature.
const ISO_SIGNATURE: &[u8] = b"urn:iso:std:iso:ts:21496:-1\0";
/// The MPF APP2 signature.
const MPF_SIGNATURE: &[u8] = b"MPF\0";
/// The smallest range of a gain map, in stops (a flat map is given this much).
const MIN_RANGE: f32 = 1.0 / 64.0;
/// Denominator of the ISO 21496-1 fractions.
const DENOMINATOR: u32 = 1_000_000;

/// Settings of the gain map's coding (its resolution is the rendition's
/// [`HdrParams::scale`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GainMapParams {
    /// The gain map's JPEG quality, 1..=100. Default 90.
    pub quality: u8,
}

impl Default for GainMapParams {
    fn default() -> Self {
        GainMapParams { quality: 90 }
    }
}

/// The gain map's metadata (the `hdrgm` XMP values), in stops where they are logarithms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GainMapMetadata {
    /// `log2` of the smallest boost in the map (`GainMapMin`).
    pub min: f32,
    /// `log2` of the largest boost in the map (`GainMapMax`).
    pub max: f32,
    /// Encoding gamma of the map (`Gamma`).
    pub gamma: f32,
    /// Offset added to the SDR values (`OffsetSDR`).
    pub offset_sdr: f32,
    /// Offset added to the HDR values (`OffsetHDR`).
    pub offset_hdr: f32,
    /// `log2` of the display headroom where the boost starts (`HDRCapacityMin`).
    pub capacity_min: f32,
    /// `log2` of the display headroom where the whole boost shows (`HDRCapacityMax`).
    pub capacity_max: f32,
}

/// A gain map ready to code: 8-bit values, row-major, and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct GainMap {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The coded values, `width * height`.
    pub data: Vec<u8>,
    /// The metadata that decodes them.
    pub metadata: GainMapMetadata,
    /// The largest block mean of the boost, in stops, before any widening of a flat map.
    pub capacity: f32,
}

/// The gain map of `hdr`: its block means, quantised (see the module docs).
pub fn gain_map(hdr: &Hdr) -> GainMap {
    let (gw, gh) = (hdr.blocks.width, hdr.blocks.height);
    let means = &hdr.blocks.data;
    let lo = means.iter().copied().fold(f32::INFINITY, f32::min).max(0.0);
    let hi = means.iter().copied().fold(0.0, f32::max);
    let max = hi.max(lo + MIN_RANGE);
    let gamma = 1.0f32;
    let data = means
        .iter()
        .map(|&m| {
            let t = ((m - lo) / (max - lo)).clamp(0.0, 1.0).powf(gamma);
            (t * 255.0 + 0.5) as u8
        })
        .collect();
    GainMap {
        width: gw,
        height: gh,
        data,
        metadata: GainMapMetadata {
            min: lo,
            max,
            gamma,
            offset_sdr: GAIN_OFFSET,
            offset_hdr: GAIN_OFFSET,
            capacity_min: 0.0,
            capacity_max: max,
        },
        capacity: hi,
    }
}

/// Encodes `img` and its HDR rendition `hdr` as an Ultra HDR JPEG at `path` (see the module
/// docs); `params` are those of the SDR JPEG (quality, location).
///
/// Errors: those of [`super::encode`], a gain map that cannot be coded, a failed write; in
/// every case no file is left behind.
pub fn encode_ultrahdr(
    img: &Finished,
    hdr: &Hdr,
    meta: &Metadata,
    path: &Path,
    params: &EncodeParams,
    gain: &GainMapParams,
) -> Result<HdrWritten> {
    let (bytes, written) = ultrahdr_bytes(img, hdr, meta, params, gain)?;
    crate::io::write_bytes_atomic(path, &bytes)?;
    Ok(written)
}

/// The Ultra HDR file [`encode_ultrahdr`] writes, in memory.
pub fn ultrahdr_bytes(
    img: &Finished,
    hdr: &Hdr,
    meta: &Metadata,
    params: &EncodeParams,
    gain: &GainMapParams,
) -> Result<(Vec<u8>, HdrWritten)> {
    check_encodable(img, params)?;
    if !(1..=100).contains(&gain.quality) {
        return Err(Error::parameter(
            "gain map quality",
            format!("{}: must be between 1 and 100", gain.quality),
        ));
    }
    let (w, h) = (img.width(), img.height());
    if (hdr.boost.width, hdr.boost.height) != (w, h) {
        return Err(Error::parameter(
            "HDR",
            format!(
                "the SDR image is {w}x{h}, the HDR rendition {}x{}",
                hdr.boost.width, hdr.boost.height
            ),
        ));
    }
    // the gain map and the primary are independent: code them side by side
    let (map, primary) = rayon::join(
        || -> Result<(GainMap, Vec<u8>)> {
            let map = gain_map(hdr);
            let coded = gain_map_jpeg(&map, gain.quality)?;
            Ok((map, coded))
        },
        || -> Result<Vec<u8>> {
            // the same privacy rules as the plain JPEG
            let meta = &meta.private_removed(params.keep_metadata, params.keep_location);
            let exif = exif_block(meta, w, h, img.space, params.keep_location, None)?;
            let icc = icc_profile(img.space);
            let mut out = Vec::new();
            jpeg::encode_jpeg(img, params.quality, &exif, &icc)?
                .write_to(&mut out)
                .map_err(|e| Error::encode("JPEG", e.to_string()))?;
            Ok(out)
        },
    );
    let (map, map_jpeg) = map?;
    let primary = primary?;

    let at = app_segments_end(&primary)?;
    let xmp = segment(
        0xE1,
        &[XMP_SIGNATURE, primary_xmp(map_jpeg.len()).as_bytes()],
    )?;
    let iso = segment(0xE2, &[ISO_SIGNATURE, &[0, 0, 0, 0]])?;
    // the MPF segment's length does not depend on the offsets it holds
    let mpf_len = segment(0xE2, &[MPF_SIGNATURE, &mpf(0, 0, 0)])?.len();
    let primary_len = primary.len() + xmp.len() + iso.len() + mpf_len;
    // the offsets count from the byte-order mark after "MPF\0"
    let mpf_base = at + xmp.len() + iso.len() + 4 + MPF_SIGNATURE.len();
    let mpf_seg = segment(
        0xE2,
        &[
            MPF_SIGNATURE,
            &mpf(primary_len, map_jpeg.len(), primary_len - mpf_base),
        ],
    )?;

    let mut out = Vec::with_capacity(primary_len + map_jpeg.len());
    out.extend_from_slice(&primary[..at]);
    out.extend_from_slice(&xmp);
    out.extend_from_slice(&iso);
    out.extend_from_slice(&mpf_seg);
    out.extend_from_slice(&primary[at..]);
    debug_assert_eq!(out.len(), primary_len);
    out.extend_from_slice(&map_jpeg);
    let written = HdrWritten {
        container: "ultrahdr".into(),
        capacity_stops: map.capacity,
        headroom_stops: Some(hdr.headroom),
        gain_map_size: Some([map.width, map.height]),
        gain_map_bytes: Some(map_jpeg.len()),
    };
    Ok((out, written))
}

/// The gain map as a one-channel JPEG with its XMP and ISO 21496-1 segments.
fn gain_map_jpeg(map: &GainMap, quality: u8) -> Result<Vec<u8>> {
    let err = |e: jpeg_encoder::EncodingError| Error::encode("gain map", format!("as JPEG: {e}"));
    let (w, h) = (
        u16::try_from(map.width).map_err(|_| Error::encode("gain map", "too wide"))?,
        u16::try_from(map.height).map_err(|_| Error::encode("gain map", "too tall"))?,
    );
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, quality);
    let xmp = [XMP_SIGNATURE, gain_map_xmp(&map.metadata).as_bytes()].concat();
    enc.add_app_segment(1, xmp).map_err(err)?;
    let iso = [ISO_SIGNATURE, &iso_metadata(&map.metadata)].concat();
    enc.add_app_segment(2, iso).map_err(err)?;
    enc.encode(&map.data, w, h, ColorType::Luma).map_err(err)?;
    Ok(out)
}

/// A JPEG marker segment: FF, `marker`, the big-endian length (counting itself), `parts`.
fn segment(marker: u8, parts: &[&[u8]]) -> Result<Vec<u8>> {
    let n: usize = parts.iter().map(|p| p.len()).sum::<usize>() + 2;
    let len = u16::try_from(n)
        .map_err(|_| Error::encode("Ultra HDR", format!("a {n}-byte segment is too long")))?;
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&len.to_be_bytes());
    for p in parts {
        s.extend_from_slice(p);
    }
    Ok(s)
}

/// The offset just past the APPn segments that follow SOI.
fn app_segments_end(jpeg: &[u8]) -> Result<usize> {
    let bad = || Error::encode("JPEG", "the encoder wrote an unexpected file structure");
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(bad());
    }
    let mut pos = 2;
    loop {
        let seg = jpeg.get(pos..pos + 4).ok_or_else(bad)?;
        if seg[0] != 0xFF {
            return Err(bad());
        }
        if !(0xE0..=0xEF).contains(&seg[1]) {
            return Ok(pos);
        }
        pos += 2 + usize::from(u16::from_be_bytes([seg[2], seg[3]]));
    }
}

/// The primary image's XMP: the `hdrgm` version and the GContainer directory.
fn primary_xmp(gain_map_len: usize) -> String {
    format!(
        r#"<?xpacket begin="{bom}" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="obscura {version}">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Container="http://ns.google.com/photos/1.0/container/"
    xmlns:Item="http://ns.google.com/photos/1.0/container/item/"
    xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/"
   hdrgm:Version="1.0">
   <Container:Directory>
    <rdf:Seq>
     <rdf:li rdf:parseType="Resource">
      <Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/>
     </rdf:li>
     <rdf:li rdf:parseType="Resource">
      <Container:Item Item:Semantic="GainMap" Item:Mime="image/jpeg" Item:Length="{gain_map_len}"/>
     </rdf:li>
    </rdf:Seq>
   </Container:Directory>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#,
        bom = '\u{FEFF}',
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// The gain map's XMP: every `hdrgm` value.
fn gain_map_xmp(m: &GainMapMetadata) -> String {
    format!(
        r#"<?xpacket begin="{bom}" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="obscura {version}">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/"
   hdrgm:Version="1.0"
   hdrgm:GainMapMin="{min}"
   hdrgm:GainMapMax="{max}"
   hdrgm:Gamma="{gamma}"
   hdrgm:OffsetSDR="{osdr}"
   hdrgm:OffsetHDR="{ohdr}"
   hdrgm:HDRCapacityMin="{cmin}"
   hdrgm:HDRCapacityMax="{cmax}"
   hdrgm:BaseRenditionIsHDR="False"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#,
        bom = '\u{FEFF}',
        version = env!("CARGO_PKG_VERSION"),
        min = m.min,
        max = m.max,
        gamma = m.gamma,
        osdr = m.offset_sdr,
        ohdr = m.offset_hdr,
        cmin = m.capacity_min,
        cmax = m.capacity_max,
    )
}

/// ISO 21496-1 metadata, big-endian: versions, flags (single channel, base colour space),
/// then base headroom, alternate headroom, and the channel's min, max, gamma, base offset
/// and alternate offset, each as numerator and denominator.
fn iso_metadata(m: &GainMapMetadata) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&0u16.to_be_bytes()); // minimum version
    v.extend_from_slice(&0u16.to_be_bytes()); // writer version
    v.push(0x40); // use_base_colour_space; single channel; own denominators
    let unsigned = |v: &mut Vec<u8>, x: f32| {
        let n = (f64::from(x.max(0.0)) * f64::from(DENOMINATOR)).round() as u32;
        v.extend_from_slice(&n.to_be_bytes());
        v.extend_from_slice(&DENOMINATOR.to_be_bytes());
    };
    let signed = |v: &mut Vec<u8>, x: f32| {
        let n = (f64::from(x) * f64::from(DENOMINATOR)).round() as i32;
        v.extend_from_slice(&n.to_be_bytes());
        v.extend_from_slice(&DENOMINATOR.to_be_bytes());
    };
    unsigned(&mut v, m.capacity_min); // base (SDR) headroom
    unsigned(&mut v, m.capacity_max); // alternate (HDR) headroom
    signed(&mut v, m.min);
    signed(&mut v, m.max);
    unsigned(&mut v, m.gamma);
    signed(&mut v, m.offset_sdr);
    signed(&mut v, m.offset_hdr);
    v
}

/// The MPF index (big-endian TIFF structure) of a primary image of `primary_len` bytes and
/// a gain map of `map_len` bytes at `map_offset` from the byte-order mark.
fn mpf(primary_len: usize, map_len: usize, map_offset: usize) -> Vec<u8> {
    const ENTRIES: u16 = 3;
    // byte-order mark and IFD offset (8), entry count (2), entries (12 each), next IFD (4)
    let entries_at = 8 + 2 + 12 * u32::from(ENTRIES) + 4;
    let mut v = Vec::with_capacity(entries_at as usize + 32);
    v.extend_from_slice(b"MM\0\x2A");
    v.extend_from_slice(&8u32.to_be_bytes());
    v.extend_from_slice(&ENTRIES.to_be_bytes());
    let mut entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        v.extend_from_slice(&tag.to_be_bytes());
        v.extend_from_slice(&kind.to_be_bytes());
        v.extend_from_slice(&count.to_be_bytes());
        v.extend_from_slice(&value);
    };
    entry(0xB000, 7, 4, *b"0100"); // MPFVersion, UNDEFINED
    entry(0xB001, 4, 1, 2u32.to_be_bytes()); // NumberOfImages, LONG
    entry(0xB002, 7, 32, entries_at.to_be_bytes()); // MPEntry, 2 x 16 bytes
    v.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut mp_entry = |attribute: u32, size: usize, offset: usize| {
        v.extend_from_slice(&attribute.to_be_bytes());
        v.extend_from_slice(&(size as u32).to_be_bytes());
        v.extend_from_slice(&(offset as u32).to_be_bytes());
        v.extend_from_slice(&[0; 4]); // no dependent images
    };
    // representative image, JPEG, type "baseline MP primary image"
    mp_entry(0x2003_0000, primary_len, 0);
    mp_entry(0, map_len, map_offset);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::ColorSpace;
    use crate::finish::hdr::HdrParams;
    use crate::image::Plane;

    #[test]
    fn mpf_index_lays_out_as_the_tiff_structure_says() {
        let m = mpf(1000, 200, 900);
        assert_eq!(m.len(), 50 + 32);
        assert_eq!(&m[..4], b"MM\0\x2A");
        // MPEntry points at the entries, which hold the sizes and offsets
        assert_eq!(&m[10 + 24 + 8..10 + 24 + 12], &50u32.to_be_bytes());
        assert_eq!(&m[50 + 4..50 + 8], &1000u32.to_be_bytes());
        assert_eq!(&m[66 + 4..66 + 8], &200u32.to_be_bytes());
        assert_eq!(&m[66 + 8..66 + 12], &900u32.to_be_bytes());
    }

    #[test]
    fn gain_map_averages_blocks_and_spans_its_range() {
        // a 6x5 boost: 2 stops on the left half, 0 on the right
        let mut p = Plane::new(6, 5);
        for y in 0..5 {
            for x in 0..3 {
                p.set(x, y, 4.0); // scene luminance 4 = 2 stops above white
            }
        }
        let hdr = Hdr::new(
            [p.clone(), p.clone(), p],
            ColorSpace::Srgb,
            &HdrParams::default(),
        );
        let g = gain_map(&hdr);
        assert_eq!((g.width, g.height), (2, 2));
        // block (0, 0) covers x 0..4: 3 of 4 columns at 2 stops -> 1.5; block (1, 0) none
        assert!((g.capacity - 1.5).abs() < 1e-5, "{}", g.capacity);
        assert_eq!(g.data, vec![255, 0, 255, 0]);
        assert_eq!(g.metadata.min, 0.0);
        assert_eq!(g.metadata.max, g.capacity);
    }

    #[test]
    fn a_flat_gain_map_gets_a_tiny_range_and_zero_capacity() {
        let p = Plane::from_vec(8, 8, vec![0.5; 64]).unwrap();
        let hdr = Hdr::new(
            [p.clone(), p.clone(), p],
            ColorSpace::Srgb,
            &HdrParams::default(),
        );
        let g = gain_map(&hdr);
        assert_eq!(g.capacity, 0.0);
        assert!(g.data.iter().all(|&v| v == 0));
        assert_eq!(g.metadata.max, MIN_RANGE);
    }

    #[test]
    fn iso_metadata_holds_the_values_as_fractions() {
        let m = GainMapMetadata {
            min: 0.0,
            max: 2.5,
            gamma: 1.0,
            offset_sdr: GAIN_OFFSET,
            offset_hdr: GAIN_OFFSET,
            capacity_min: 0.0,
            capacity_max: 2.5,
        };
        let v = iso_metadata(&m);
        assert_eq!(v.len(), 5 + 7 * 8);
        assert_eq!(v[4], 0x40);
        let frac = |i: usize| {
            let n = i32::from_be_bytes(v[5 + 8 * i..9 + 8 * i].try_into().unwrap());
            let d = u32::from_be_bytes(v[9 + 8 * i..13 + 8 * i].try_into().unwrap());
            n as f64 / d as f64
        };
        assert_eq!(frac(1), 2.5); // alternate headroom
        assert_eq!(frac(3), 2.5); // max
        assert_eq!(frac(5), 0.015625); // base offset
    }
}
