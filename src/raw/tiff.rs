//! A small, strict TIFF reader for DNG metadata.
//!
//! rawler decodes the pixels; this reader gives obscura the DNG tags that later stages need
//! (NoiseProfile, opcode lists, forward matrices, crops, baseline exposure) with exact values
//! and with bounds checks on every offset, so a corrupt file yields an error, never a panic or
//! an unbounded allocation. It follows TIFF 6.0 (header, IFD chains, the twelve field types)
//! and the DNG 1.7 specification's use of SubIFDs (tag 330) and the EXIF IFD (tag 34665).

use std::collections::{BTreeMap, HashSet};

/// Tag numbers used by obscura (TIFF 6.0, TIFF/EP, EXIF 2.3 and DNG 1.7).
#[allow(missing_docs)]
pub mod tags {
    pub const NEW_SUBFILE_TYPE: u16 = 254;
    pub const IMAGE_WIDTH: u16 = 256;
    pub const IMAGE_LENGTH: u16 = 257;
    pub const BITS_PER_SAMPLE: u16 = 258;
    pub const COMPRESSION: u16 = 259;
    pub const PHOTOMETRIC: u16 = 262;
    pub const MAKE: u16 = 271;
    pub const MODEL: u16 = 272;
    pub const STRIP_OFFSETS: u16 = 273;
    pub const ORIENTATION: u16 = 274;
    pub const SAMPLES_PER_PIXEL: u16 = 277;
    pub const ROWS_PER_STRIP: u16 = 278;
    pub const STRIP_BYTE_COUNTS: u16 = 279;
    pub const PLANAR_CONFIGURATION: u16 = 284;
    pub const SOFTWARE: u16 = 305;
    pub const DATE_TIME: u16 = 306;
    pub const ARTIST: u16 = 315;
    pub const TILE_WIDTH: u16 = 322;
    pub const TILE_LENGTH: u16 = 323;
    pub const TILE_OFFSETS: u16 = 324;
    pub const TILE_BYTE_COUNTS: u16 = 325;
    pub const SUB_IFDS: u16 = 330;
    pub const SAMPLE_FORMAT: u16 = 339;
    pub const CFA_REPEAT_PATTERN_DIM: u16 = 33421;
    pub const CFA_PATTERN: u16 = 33422;
    pub const EXPOSURE_TIME: u16 = 33434;
    pub const F_NUMBER: u16 = 33437;
    pub const EXIF_IFD: u16 = 34665;
    pub const GPS_IFD: u16 = 34853;
    pub const ISO_SPEED_RATINGS: u16 = 34855;
    pub const DATE_TIME_ORIGINAL: u16 = 36867;
    pub const FOCAL_LENGTH: u16 = 37386;
    pub const MAKER_NOTE: u16 = 37500;
    pub const IMAGE_UNIQUE_ID: u16 = 42016;
    pub const CAMERA_OWNER_NAME: u16 = 42032;
    pub const BODY_SERIAL_NUMBER: u16 = 42033;
    pub const LENS_SERIAL_NUMBER: u16 = 42037;
    pub const CAMERA_SERIAL_NUMBER: u16 = 50735;
    pub const DNG_PRIVATE_DATA: u16 = 50740;
    pub const SUB_SEC_TIME_ORIGINAL: u16 = 37521;
    pub const DNG_VERSION: u16 = 50706;
    pub const DNG_BACKWARD_VERSION: u16 = 50707;
    pub const UNIQUE_CAMERA_MODEL: u16 = 50708;
    pub const CFA_PLANE_COLOR: u16 = 50710;
    pub const CFA_LAYOUT: u16 = 50711;
    pub const BLACK_LEVEL_REPEAT_DIM: u16 = 50713;
    pub const BLACK_LEVEL: u16 = 50714;
    pub const WHITE_LEVEL: u16 = 50717;
    pub const DEFAULT_CROP_ORIGIN: u16 = 50719;
    pub const DEFAULT_CROP_SIZE: u16 = 50720;
    pub const COLOR_MATRIX1: u16 = 50721;
    pub const COLOR_MATRIX2: u16 = 50722;
    pub const ANALOG_BALANCE: u16 = 50727;
    pub const AS_SHOT_NEUTRAL: u16 = 50728;
    pub const BASELINE_EXPOSURE: u16 = 50730;
    pub const CALIBRATION_ILLUMINANT1: u16 = 50778;
    pub const CALIBRATION_ILLUMINANT2: u16 = 50779;
    pub const ACTIVE_AREA: u16 = 50829;
    pub const FORWARD_MATRIX1: u16 = 50964;
    pub const FORWARD_MATRIX2: u16 = 50965;
    pub const OPCODE_LIST1: u16 = 51008;
    pub const OPCODE_LIST2: u16 = 51009;
    pub const OPCODE_LIST3: u16 = 51022;
    pub const NOISE_PROFILE: u16 = 51041;
}

/// Most IFDs a file may have before it is called corrupt (chains and sub-IFDs together).
const MAX_IFDS: usize = 256;
/// Most entries one IFD may have.
const MAX_ENTRIES: usize = 4096;

/// One IFD entry, its value bytes copied out of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// TIFF field type (1 = BYTE ... 13 = IFD).
    pub typ: u16,
    /// Number of values.
    pub count: u32,
    /// The value bytes in file byte order.
    pub data: Vec<u8>,
    little: bool,
}

fn type_size(typ: u16) -> Option<usize> {
    Some(match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => return None,
    })
}

impl Entry {
    fn u16_at(&self, i: usize) -> u16 {
        let b = [self.data[i], self.data[i + 1]];
        if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    }

    fn u32_at(&self, i: usize) -> u32 {
        let b = [
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ];
        if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    }

    fn u64_at(&self, i: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.data[i..i + 8]);
        if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        }
    }

    /// All values as `f64`, whatever their numeric type (rationals are divided out; a zero
    /// denominator gives 0). Empty for ASCII.
    pub fn f64s(&self) -> Vec<f64> {
        let n = self.count as usize;
        (0..n)
            .filter_map(|k| {
                Some(match self.typ {
                    1 | 7 => f64::from(self.data[k]),
                    6 => f64::from(self.data[k] as i8),
                    3 => f64::from(self.u16_at(2 * k)),
                    8 => f64::from(self.u16_at(2 * k) as i16),
                    4 | 13 => f64::from(self.u32_at(4 * k)),
                    9 => f64::from(self.u32_at(4 * k) as i32),
                    11 => f64::from(f32::from_bits(self.u32_at(4 * k))),
                    12 => f64::from_bits(self.u64_at(8 * k)),
                    5 => {
                        let (a, b) = (self.u32_at(8 * k), self.u32_at(8 * k + 4));
                        if b == 0 {
                            0.0
                        } else {
                            f64::from(a) / f64::from(b)
                        }
                    }
                    10 => {
                        let (a, b) = (self.u32_at(8 * k) as i32, self.u32_at(8 * k + 4) as i32);
                        if b == 0 {
                            0.0
                        } else {
                            f64::from(a) / f64::from(b)
                        }
                    }
                    _ => return None,
                })
            })
            .collect()
    }

    /// Integer values (BYTE, SHORT, LONG, IFD); other types are converted through `f64`.
    pub fn u32s(&self) -> Vec<u32> {
        match self.typ {
            1 | 7 => self.data.iter().map(|&b| u32::from(b)).collect(),
            3 => (0..self.count as usize)
                .map(|k| u32::from(self.u16_at(2 * k)))
                .collect(),
            4 | 13 => (0..self.count as usize)
                .map(|k| self.u32_at(4 * k))
                .collect(),
            _ => self
                .f64s()
                .into_iter()
                .map(|v| v.clamp(0.0, f64::from(u32::MAX)) as u32)
                .collect(),
        }
    }

    /// The first value as `f64`.
    pub fn f64(&self) -> Option<f64> {
        self.f64s().first().copied()
    }

    /// The first value as `u32`.
    pub fn u32(&self) -> Option<u32> {
        self.u32s().first().copied()
    }

    /// An ASCII value up to its first NUL, trimmed.
    pub fn ascii(&self) -> String {
        let end = self
            .data
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.data.len());
        String::from_utf8_lossy(&self.data[..end])
            .trim()
            .to_string()
    }
}

/// One image file directory with its sub-IFDs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ifd {
    /// Entries by tag.
    pub entries: BTreeMap<u16, Entry>,
    /// IFDs that the SubIFDs tag (330) points to.
    pub sub_ifds: Vec<Ifd>,
    /// The EXIF IFD (tag 34665), if any.
    pub exif: Option<Box<Ifd>>,
    /// The GPS IFD (tag 34853), if any.
    pub gps: Option<Box<Ifd>>,
}

impl Ifd {
    /// The entry for `tag`.
    pub fn get(&self, tag: u16) -> Option<&Entry> {
        self.entries.get(&tag)
    }
}

/// A parsed TIFF file: the chain of top-level IFDs (IFD0 first).
#[derive(Debug, Clone, PartialEq)]
pub struct Tiff {
    /// Top-level IFDs in chain order.
    pub ifds: Vec<Ifd>,
    /// Whether the file is little-endian ("II").
    pub little_endian: bool,
}

struct Parser<'a> {
    buf: &'a [u8],
    little: bool,
    seen: HashSet<u32>,
}

impl Parser<'_> {
    fn read_u16(&self, off: usize) -> Result<u16, String> {
        let b = self
            .buf
            .get(off..off + 2)
            .ok_or_else(|| format!("offset {off} lies beyond the end of the file"))?;
        Ok(if self.little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    }

    fn read_u32(&self, off: usize) -> Result<u32, String> {
        let b = self
            .buf
            .get(off..off + 4)
            .ok_or_else(|| format!("offset {off} lies beyond the end of the file"))?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    fn ifd(&mut self, offset: u32, depth: usize) -> Result<(Ifd, u32), String> {
        if depth > 4 {
            return Err("sub-IFDs nested too deeply".into());
        }
        if !self.seen.insert(offset) {
            return Err(format!("IFD at offset {offset} is referenced twice (loop)"));
        }
        if self.seen.len() > MAX_IFDS {
            return Err(format!("more than {MAX_IFDS} IFDs"));
        }
        let off = offset as usize;
        let n = self.read_u16(off)? as usize;
        if n > MAX_ENTRIES {
            return Err(format!("IFD at offset {offset} claims {n} entries"));
        }
        let mut ifd = Ifd::default();
        for k in 0..n {
            let e = off + 2 + 12 * k;
            let tag = self.read_u16(e)?;
            let typ = self.read_u16(e + 2)?;
            let count = self.read_u32(e + 4)?;
            // whatever its type, an entry cannot hold more values than the file has bytes; a
            // decoder would allocate the declared size before noticing
            if count as usize > self.buf.len() {
                return Err(format!(
                    "tag {tag} claims {count} values, more than the file holds ({} bytes)",
                    self.buf.len()
                ));
            }
            // a pointer to another IFD must be a LONG or IFD: decoders follow it whatever its
            // type says (fuzzing: rawler followed an EXIF pointer of type 63491 into garbage)
            if matches!(tag, tags::SUB_IFDS | tags::EXIF_IFD | tags::GPS_IFD)
                && !matches!(typ, 4 | 13)
            {
                return Err(format!("tag {tag} points to an IFD but has type {typ}"));
            }
            let Some(size) = type_size(typ) else {
                continue; // unknown field types are skipped, as TIFF 6.0 asks readers to do
            };
            let len = size
                .checked_mul(count as usize)
                .filter(|&l| l <= self.buf.len())
                .ok_or_else(|| {
                    format!("tag {tag} claims {count} values, more than the file holds")
                })?;
            let start = if len <= 4 {
                e + 8
            } else {
                self.read_u32(e + 8)? as usize
            };
            let data = self
                .buf
                .get(start..start.saturating_add(len))
                .ok_or_else(|| format!("tag {tag}'s data lies beyond the end of the file"))?
                .to_vec();
            ifd.entries.insert(
                tag,
                Entry {
                    typ,
                    count,
                    data,
                    little: self.little,
                },
            );
        }
        let next = self.read_u32(off + 2 + 12 * n)?;
        if let Some(sub) = ifd.get(tags::SUB_IFDS).map(Entry::u32s) {
            for o in sub {
                let (s, _) = self.ifd(o, depth + 1)?;
                ifd.sub_ifds.push(s);
            }
        }
        // A broken EXIF or GPS IFD makes the file corrupt too: the decoders parse them as
        // well, and allocate whatever their entries declare (fuzzing found rawler asking for
        // 2.7 GB from an EXIF IFD of 4352 garbage entries).
        if let Some(o) = ifd.get(tags::EXIF_IFD).and_then(Entry::u32) {
            let (s, _) = self
                .ifd(o, depth + 1)
                .map_err(|e| format!("EXIF IFD: {e}"))?;
            ifd.exif = Some(Box::new(s));
        }
        if let Some(o) = ifd.get(tags::GPS_IFD).and_then(Entry::u32) {
            let (s, _) = self
                .ifd(o, depth + 1)
                .map_err(|e| format!("GPS IFD: {e}"))?;
            ifd.gps = Some(Box::new(s));
        }
        Ok((ifd, next))
    }
}

/// Whether `buf` starts with a TIFF header.
pub fn is_tiff(buf: &[u8]) -> bool {
    buf.len() >= 8 && (buf[..4] == *b"II*\0" || buf[..4] == *b"MM\0*")
}

impl Tiff {
    /// Parses the IFD structure of a TIFF file held in memory.
    pub fn parse(buf: &[u8]) -> Result<Tiff, String> {
        if !is_tiff(buf) {
            return Err("not a TIFF file (bad header)".into());
        }
        let mut p = Parser {
            buf,
            little: buf[0] == b'I',
            seen: HashSet::new(),
        };
        let mut ifds = Vec::new();
        let mut next = p.read_u32(4)?;
        while next != 0 {
            let (ifd, n) = p.ifd(next, 0)?;
            ifds.push(ifd);
            next = n;
        }
        if ifds.is_empty() {
            return Err("TIFF file has no IFD".into());
        }
        Ok(Tiff {
            ifds,
            little_endian: p.little,
        })
    }

    /// Every IFD: the chain in order, each followed (depth first) by its sub-IFDs and its
    /// EXIF IFD.
    pub fn all_ifds(&self) -> Vec<&Ifd> {
        fn add<'a>(ifd: &'a Ifd, out: &mut Vec<&'a Ifd>) {
            out.push(ifd);
            for s in &ifd.sub_ifds {
                add(s, out);
            }
            if let Some(e) = &ifd.exif {
                add(e, out);
            }
        }
        let mut out = Vec::new();
        for ifd in &self.ifds {
            add(ifd, &mut out);
        }
        out
    }

    /// IFD0.
    pub fn root(&self) -> &Ifd {
        &self.ifds[0]
    }

    /// Whether IFD0 carries a DNGVersion tag.
    pub fn is_dng(&self) -> bool {
        self.root().get(tags::DNG_VERSION).is_some()
    }

    /// The largest `ImageWidth x ImageLength` any IFD or sub-IFD declares, as
    /// `(width x SamplesPerPixel, height)` (`None` without any).
    pub fn largest_image(&self) -> Option<(u64, u64)> {
        fn walk(ifd: &Ifd, best: &mut Option<(u64, u64)>) {
            let w = ifd.get(tags::IMAGE_WIDTH).and_then(Entry::u32);
            let h = ifd.get(tags::IMAGE_LENGTH).and_then(Entry::u32);
            if let (Some(w), Some(h)) = (w, h) {
                // samples per pixel multiply what a decoder allocates
                let spp = ifd
                    .get(tags::SAMPLES_PER_PIXEL)
                    .and_then(Entry::u32)
                    .unwrap_or(1)
                    .max(1);
                let (w, h) = (u64::from(w) * u64::from(spp), u64::from(h));
                if best.is_none_or(|(bw, bh)| w * h > bw * bh) {
                    *best = Some((w, h));
                }
            }
            for s in &ifd.sub_ifds {
                walk(s, best);
            }
        }
        let mut best = None;
        for ifd in &self.ifds {
            walk(ifd, &mut best);
        }
        best
    }

    /// Every IFD (top-level or sub-IFD) a decoder might take for the raw image: not a
    /// reduced-resolution image (NewSubFileType bit 0 clear) and CFA or LinearRaw data.
    pub fn raw_candidates(&self) -> Vec<&Ifd> {
        fn walk<'a>(ifd: &'a Ifd, out: &mut Vec<&'a Ifd>) {
            let reduced = ifd
                .get(tags::NEW_SUBFILE_TYPE)
                .and_then(Entry::u32)
                .unwrap_or(0)
                & 1
                != 0;
            let photometric = ifd.get(tags::PHOTOMETRIC).and_then(Entry::u32);
            if !reduced && matches!(photometric, Some(32803) | Some(34892)) {
                out.push(ifd);
            }
            for s in &ifd.sub_ifds {
                walk(s, out);
            }
        }
        let mut out = Vec::new();
        for ifd in &self.ifds {
            walk(ifd, &mut out);
        }
        out
    }

    /// The DNG raw IFD: the first IFD (IFD0 or a sub-IFD) with NewSubFileType 0 and a CFA or
    /// LinearRaw photometric interpretation.
    pub fn raw_ifd(&self) -> Option<&Ifd> {
        fn find(ifd: &Ifd) -> Option<&Ifd> {
            let main = ifd
                .get(tags::NEW_SUBFILE_TYPE)
                .and_then(Entry::u32)
                .unwrap_or(0)
                == 0;
            let photometric = ifd.get(tags::PHOTOMETRIC).and_then(Entry::u32);
            if main && matches!(photometric, Some(32803) | Some(34892)) {
                return Some(ifd);
            }
            ifd.sub_ifds.iter().find_map(find)
        }
        self.ifds.iter().find_map(find)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian TIFF with one IFD holding `entries` (tag, type, count, inline value).
    fn tiny(entries: &[(u16, u16, u32, u32)]) -> Vec<u8> {
        let mut b = b"II*\0".to_vec();
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for &(tag, typ, count, val) in entries {
            b.extend_from_slice(&tag.to_le_bytes());
            b.extend_from_slice(&typ.to_le_bytes());
            b.extend_from_slice(&count.to_le_bytes());
            b.extend_from_slice(&val.to_le_bytes());
        }
        b.extend_from_slice(&0u32.to_le_bytes());
        b
    }

    #[test]
    fn reads_inline_values() {
        let t = Tiff::parse(&tiny(&[(256, 3, 1, 640), (257, 4, 1, 480)])).unwrap();
        assert_eq!(t.root().get(256).unwrap().u32(), Some(640));
        assert_eq!(t.root().get(257).unwrap().f64(), Some(480.0));
    }

    #[test]
    fn rejects_out_of_range_offsets_and_loops() {
        // value of 100 LONGs pointing past the end
        let e = Tiff::parse(&tiny(&[(256, 4, 100, 9999)])).unwrap_err();
        assert!(e.contains("tag 256"), "{e}");
        // a count that would overflow the file size, of a known and of an unknown type
        for typ in [4, 256] {
            let e = Tiff::parse(&tiny(&[(256, typ, u32::MAX, 0)])).unwrap_err();
            assert!(e.contains("more than the file holds"), "{e}");
        }
        // a broken EXIF IFD is as fatal as a broken IFD0, and so is an IFD pointer of an odd
        // type
        let e = Tiff::parse(&tiny(&[(34665, 4, 1, 9999)])).unwrap_err();
        assert!(e.contains("EXIF IFD"), "{e}");
        let e = Tiff::parse(&tiny(&[(34665, 63491, 1, 8)])).unwrap_err();
        assert!(e.contains("points to an IFD"), "{e}");
        // SubIFDs pointing back at IFD0
        let e = Tiff::parse(&tiny(&[(330, 4, 1, 8)])).unwrap_err();
        assert!(e.contains("loop"), "{e}");
        // truncated
        let full = tiny(&[(256, 3, 1, 640)]);
        for cut in 0..full.len() {
            assert!(Tiff::parse(&full[..cut]).is_err(), "cut at {cut}");
        }
    }
}
