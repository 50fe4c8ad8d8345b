//! Structural checks of Canon CRW files (CIFF, the "camera image file format" of Canon's
//! 1997-2004 cameras) before a decoder sees the bytes.
//!
//! A CRW is a 26-byte header (`II`, the header length as a little-endian `u32`, `HEAPCCDR`,
//! a version) followed by a *heap*: a block whose last 4 bytes give the offset, from the heap's
//! start, of its directory; the directory is a `u16` entry count and 10-byte entries (a `u16`
//! tag word, then either a `u32` size and a `u32` offset into the heap's value data, or 8
//! bytes of inline data). Bits 14-15 of the tag word say where the data is (0: in the value
//! data, 0x4000: inline), bits 11-13 its type (0x2800 and 0x3000: the data is itself a heap).
//! The raw data (tag 0x2005) is the first value of the root heap: its first 514 bytes are a
//! header, then (for cameras that store them) the low 2 bits of every photosite, 4 to a byte,
//! then the Huffman-coded high bits, blocks of 64 differences.
//!
//! rawloader's CRW reader trusts all of it: it slices every entry's data by its declared
//! size and offset and reads each heap's last 4 bytes wherever a parent entry points (both
//! panic when they point outside the file), reads the sensor size, decoder table and white
//! balance entries by index without looking at their sizes, allocates the sensor size it reads
//! (and panics above 50,000 pixels a side), and decodes the raw data from fixed offsets (26
//! and 540 plus a quarter of the photosite count) that it slices without checking the file is
//! that long. [`check`] refuses every file on which any of that would go wrong:
//!
//! - every heap lies within its parent entry's data (the root heap: within the file), its
//!   directory and entries within the heap, and every entry's data within the heap's value
//!   data; data locations other than the two above are refused;
//! - heaps nest at most [`MAX_DEPTH`] deep and a file has at most [`MAX_ENTRIES`] entries;
//! - the entries the decoder reads (make and model, sensor size, decoder table, white
//!   balance, the two colour-information blocks) occur at most once, so the one checked is the
//!   one read, and each is long enough for every index the decoder reads in it;
//! - the sensor size is non-zero, within the pixel limit and the decoder's own limits, holds
//!   the camera's masked areas (which rawloader averages for the black level), and the
//!   raw data (tag 0x2005) starts where the decoder reads it (the end of the header) and holds
//!   the header, the low bits and at least a 4-byte start of the compressed data; the decoder
//!   table is one of the three Canon defines.
//!
//! The checks are stricter than the decoder (a directory whose heap is not read, a second copy
//! of a tag), never looser: every real CRW follows the layout above.

use std::path::Path;

use super::decode::DecodeLimits;
use crate::error::{Error, Result};

/// Deepest nesting of heaps accepted, the root being 1 (a CRW goes 4 deep: root, image
/// properties, camera specification, image format; rawloader reads 9).
pub const MAX_DEPTH: usize = 8;
/// Most directory entries a file may have in all its heaps (a PowerShot G2 has 41).
pub const MAX_ENTRIES: usize = 4096;

/// Length of the header every CRW starts with; the root heap follows it.
const HEADER: usize = 26;
/// The raw data's own header, before the low bits and the compressed data.
const RAW_HEADER: usize = 514;
/// Largest sensor side the decoder allocates (it panics above).
const MAX_SIDE: u64 = 50_000;
/// The largest white-balance offset (in `u16` values) of rawloader's camera database: the
/// white balance entry is read at this offset plus 0 to 3, the first colour information block
/// at it plus 0 to 2.
const MAX_WB_OFFSET: usize = 71;

/// The tags (with their type bits) the decoder reads.
mod tag {
    pub const RAW_DATA: u16 = 0x2005;
    pub const MAKE_MODEL: u16 = 0x080a;
    pub const SENSOR_INFO: u16 = 0x1031;
    pub const DECODER_TABLE: u16 = 0x1835;
    pub const WHITE_BALANCE: u16 = 0x10a9;
    pub const COLOR_INFO1: u16 = 0x0032;
    pub const COLOR_INFO2: u16 = 0x102c;
    /// Every tag above, in the order the checks report them.
    pub const READ: [u16; 7] = [
        RAW_DATA,
        MAKE_MODEL,
        SENSOR_INFO,
        DECODER_TABLE,
        WHITE_BALANCE,
        COLOR_INFO1,
        COLOR_INFO2,
    ];
}

/// Whether rawloader takes the bytes for a CRW: `HEAPCCDR` at offset 6 (it looks at nothing
/// else, so neither does this).
pub fn is_crw(b: &[u8]) -> bool {
    b.get(6..14) == Some(b"HEAPCCDR")
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// One directory entry the decoder reads: where its data is, and how many bytes.
#[derive(Clone, Copy)]
struct Found {
    at: usize,
    len: usize,
}

struct Walk<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    entries: usize,
    /// Per tag of [`tag::READ`]: the entry, and how many times it occurred.
    found: [(Option<Found>, usize); 7],
    /// The offset of the raw data when it is the root heap's entry.
    root_raw: Option<Found>,
}

impl Walk<'_> {
    fn err(&self, reason: String) -> Error {
        Error::decode(
            self.path,
            format!("corrupt or truncated Canon CRW (CIFF structure): {reason}"),
        )
    }

    /// Checks the heap in `start..end` at nesting `depth` (the root is 1) and everything in it.
    fn heap(&mut self, start: usize, end: usize, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!(
                "heaps nested more than {MAX_DEPTH} deep (at offset {start})"
            )));
        }
        let b = self.bytes;
        if end < start + 6 {
            return Err(self.err(format!(
                "the heap at offset {start} is {} bytes, too short for a directory",
                end.saturating_sub(start)
            )));
        }
        // the directory: its offset in the heap's last 4 bytes, then the entry count
        let values = le32(b, end - 4).unwrap_or(u32::MAX) as usize;
        let dir = start.saturating_add(values);
        if dir > end - 6 {
            return Err(self.err(format!(
                "the heap at offset {start} puts its directory at offset {values}, beyond its \
                 {} bytes",
                end - start
            )));
        }
        let count = usize::from(le16(b, dir).unwrap_or(0));
        if dir + 2 + 10 * count > end - 4 {
            return Err(self.err(format!(
                "the heap at offset {start} lists {count} entries, more than its directory \
                 holds ({} bytes)",
                end - 4 - dir - 2
            )));
        }
        self.entries += count;
        if self.entries > MAX_ENTRIES {
            return Err(self.err(format!("more than {MAX_ENTRIES} directory entries")));
        }
        for k in 0..count {
            let e = dir + 2 + 10 * k;
            let word = le16(b, e).unwrap_or(0);
            let tag = word & 0x3fff;
            let typ = word & 0x3800;
            let (at, len) = match word & 0xc000 {
                0x0000 => {
                    let len = le32(b, e + 2).unwrap_or(0) as usize;
                    let off = le32(b, e + 6).unwrap_or(0) as usize;
                    if off > values || len > values - off {
                        return Err(self.err(format!(
                            "entry {tag:#06x} of the heap at offset {start} declares {len} \
                             bytes at offset {off}, beyond the heap's {values} bytes of values"
                        )));
                    }
                    (start + off, len)
                }
                0x4000 => (e + 2, 8),
                other => {
                    return Err(self.err(format!(
                        "entry {tag:#06x} of the heap at offset {start} has an unknown data \
                         location ({other:#06x})"
                    )));
                }
            };
            if typ == 0x2800 || typ == 0x3000 {
                if word & 0xc000 != 0 {
                    return Err(self.err(format!(
                        "entry {tag:#06x} of the heap at offset {start} holds a heap inline"
                    )));
                }
                self.heap(at, at + len, depth + 1)?;
                continue;
            }
            if let Some(i) = tag::READ.iter().position(|t| *t == tag) {
                let slot = &mut self.found[i];
                slot.0 = Some(Found { at, len });
                slot.1 += 1;
                if slot.1 > 1 {
                    return Err(self.err(format!("entry {tag:#06x} occurs more than once")));
                }
                if depth == 1 && tag == tag::RAW_DATA {
                    self.root_raw = Some(Found { at, len });
                }
            }
        }
        Ok(())
    }

    fn get(&self, tag: u16) -> Option<Found> {
        let i = tag::READ.iter().position(|t| *t == tag)?;
        self.found[i].0
    }

    /// An entry the decoder reads `need` bytes of.
    fn long_enough(&self, tag: u16, what: &str, need: usize) -> Result<Option<Found>> {
        match self.get(tag) {
            Some(f) if f.len < need => Err(self.err(format!(
                "the {what} (entry {tag:#06x}) is {} bytes; the decoder reads {need}",
                f.len
            ))),
            other => Ok(other),
        }
    }
}

/// How far right and down the masked ("black") areas of a camera reach, in photosites: the
/// areas rawloader averages for the black level. rawloader does not expose its camera table;
/// rawler's, which it does, is the same lineage's and gives the same areas for the CRW
/// cameras (checked for both crates' pinned versions: they differ for the PowerShot D10 and
/// G7 X only, which write CR2).
fn masked_extent(make: &str, model: &str) -> Option<(u64, u64)> {
    let key = (make.to_string(), model.to_string(), String::new());
    let cam = rawler::global_loader().get_cameras().get(&key)?;
    let end = |a: Option<(usize, usize)>| a.map_or(0, |(from, n)| (from + n) as u64);
    Some((end(cam.blackareav), end(cam.blackareah)))
}

/// Checks a CRW's structure and the entries rawloader reads before it decodes the file: see
/// the module documentation for what is checked and why.
pub fn check(path: &Path, bytes: &[u8], limits: &DecodeLimits) -> Result<()> {
    let mut w = Walk {
        path,
        bytes,
        entries: 0,
        found: [(None, 0); 7],
        root_raw: None,
    };
    let header = le32(bytes, 2).unwrap_or(0) as usize;
    if header != HEADER || bytes.len() < HEADER + 6 {
        return Err(w.err(format!(
            "a header of {header} bytes in a {}-byte file; CRW headers are {HEADER}",
            bytes.len()
        )));
    }
    w.heap(HEADER, bytes.len(), 1)?;

    // the camera: the decoder reads the PowerShot Pro70's uncompressed data without a sensor
    // size entry, and leaves out the second colour block for the EOS D30
    let Some(mm) = w.get(tag::MAKE_MODEL) else {
        return Err(w.err("no make and model entry (0x080a)".into()));
    };
    let text = String::from_utf8_lossy(&bytes[mm.at..mm.at + mm.len]).into_owned();
    let model = text.split_terminator('\0').nth(1).unwrap_or("");
    if model == "Canon PowerShot Pro70" {
        // 1552 x 1024 photosites of 10 bits from the end of the header
        let need = HEADER + 1552 * 1024 * 10 / 8;
        if bytes.len() < need {
            return Err(w.err(format!(
                "a PowerShot Pro70 file of {} bytes; its raw data needs {need}",
                bytes.len()
            )));
        }
    } else {
        let sensor = w
            .long_enough(tag::SENSOR_INFO, "sensor information", 6)?
            .ok_or_else(|| w.err("no sensor information entry (0x1031)".into()))?;
        let width = u64::from(le16(bytes, sensor.at + 2).unwrap_or(0));
        let height = u64::from(le16(bytes, sensor.at + 4).unwrap_or(0));
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(w.err(format!("a sensor of {width}x{height} photosites")));
        }
        limits.check(path, width, height, bytes.len())?;
        // the masked areas rawloader averages for the black level, from its camera table, are
        // indexed in the decoded image without a look at the sensor size
        let make = text.split_terminator('\0').next().unwrap_or("");
        if let Some((right, bottom)) = masked_extent(make, model)
            && (right > width || bottom > height)
        {
            return Err(w.err(format!(
                "a {width}x{height} sensor, too small for the {model}'s masked areas (up to \
                 column {right}, row {bottom})"
            )));
        }
        let table = w
            .long_enough(tag::DECODER_TABLE, "decoder table", 4)?
            .ok_or_else(|| w.err("no decoder table entry (0x1835)".into()))?;
        let t = le32(bytes, table.at).unwrap_or(u32::MAX);
        if t > 2 {
            return Err(w.err(format!("decoder table {t}; Canon defines 0, 1 and 2")));
        }
        // the raw data: the header, the low bits (read when the camera stores them) and at
        // least 4 bytes of compressed data, from where the decoder reads them
        let low = (width * height / 4) as usize;
        let need = RAW_HEADER + low + 4;
        match w.root_raw {
            Some(raw) if raw.at == HEADER && raw.len >= need => {}
            Some(raw) if raw.at == HEADER => {
                return Err(w.err(format!(
                    "the raw data (entry 0x2005) is {} bytes; a {width}x{height} sensor's \
                     needs at least {need}",
                    raw.len
                )));
            }
            Some(raw) => {
                return Err(w.err(format!(
                    "the raw data (entry 0x2005) starts at offset {}, not {HEADER} where the \
                     decoder reads it",
                    raw.at
                )));
            }
            None => {
                return Err(w.err("no raw data entry (0x2005) in the root heap".into()));
            }
        }
    }

    // the white balance, in the decoder's order of preference
    let wb = w.long_enough(tag::WHITE_BALANCE, "white balance", 2 * (MAX_WB_OFFSET + 4))?;
    if wb.is_none() {
        let info2 = if model == "Canon EOS D30" {
            None
        } else {
            w.long_enough(tag::COLOR_INFO2, "second colour information block", 2)?
        };
        if let Some(info) = info2 {
            // values 60 to 63 when the first is above 512, else 50 to 53
            let first = le16(bytes, info.at).unwrap_or(0);
            let need = if first > 512 { 128 } else { 108 };
            w.long_enough(tag::COLOR_INFO2, "second colour information block", need)?;
        } else if let Some(info) = w.get(tag::COLOR_INFO1) {
            // 768 bytes (the D30): values 36 to 39; else at the camera's offset
            let need = if info.len == 768 {
                80
            } else {
                2 * (MAX_WB_OFFSET + 3)
            };
            w.long_enough(tag::COLOR_INFO1, "first colour information block", need)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A heap's bytes: the values, then the directory of `entries` (tag word, and the value's
    /// offset in the values or 8 inline bytes), then the directory's offset.
    enum Data {
        /// Offset and length in the heap's values.
        At(usize, usize),
        Inline([u8; 8]),
    }
    use Data::{At, Inline};

    fn heap(values: &[u8], entries: &[(u16, Data)]) -> Vec<u8> {
        let mut b = values.to_vec();
        b.extend((entries.len() as u16).to_le_bytes());
        for (word, data) in entries {
            b.extend(word.to_le_bytes());
            match data {
                At(off, len) => {
                    b.extend((*len as u32).to_le_bytes());
                    b.extend((*off as u32).to_le_bytes());
                }
                Inline(inline) => b.extend(inline),
            }
        }
        b.extend((values.len() as u32).to_le_bytes());
        b
    }

    /// A small CRW: a 64x32 sensor, decoder table 1, the raw data (header, low bits, 64 bytes
    /// of compressed data) and a sub-heap with the camera's entries, nested `depth` deep.
    fn crw(width: u16, height: u16, table: u32, depth: usize) -> Vec<u8> {
        crw_of(
            b"Canon\0Canon PowerShot Test\0",
            width,
            height,
            table,
            depth,
        )
    }

    /// The same of the camera `make_model` names.
    fn crw_of(make_model: &[u8], width: u16, height: u16, table: u32, depth: usize) -> Vec<u8> {
        let mut sensor = [0u8; 8];
        sensor[2..4].copy_from_slice(&width.to_le_bytes());
        sensor[4..6].copy_from_slice(&height.to_le_bytes());
        let mut values = make_model.to_vec();
        let mm = values.len();
        values.extend(table.to_le_bytes());
        let mut inner = heap(
            &values,
            &[
                (tag::MAKE_MODEL, At(0, mm)),
                (tag::DECODER_TABLE, At(mm, 4)),
                (tag::SENSOR_INFO | 0x4000, Inline(sensor)),
            ],
        );
        for _ in 1..depth {
            let len = inner.len();
            inner = heap(&inner, &[(0x300a, At(0, len))]);
        }
        let raw = RAW_HEADER + 64 * 32 / 4 + 64;
        let mut values = vec![0u8; raw];
        values.extend(&inner);
        let root = heap(
            &values,
            &[(tag::RAW_DATA, At(0, raw)), (0x300a, At(raw, inner.len()))],
        );
        let mut b = b"II\x1a\0\0\0HEAPCCDR\x01\0\x02\0\0\0\0\0\0\0\0\0".to_vec();
        b.extend(root);
        b
    }

    fn check_bytes(b: &[u8]) -> std::result::Result<(), String> {
        check(Path::new("t.crw"), b, &DecodeLimits::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_well_formed_crw_passes() {
        let b = crw(64, 32, 1, 1);
        assert!(is_crw(&b));
        check_bytes(&b).unwrap();
        check_bytes(&crw(64, 32, 1, MAX_DEPTH - 1)).unwrap();
    }

    #[test]
    fn what_the_decoder_trusts_is_refused_when_wrong() {
        let refused = |b: &[u8], what: &str| {
            let e = check_bytes(b).unwrap_err();
            assert!(e.contains(what), "{e}");
        };
        refused(&crw(64, 32, 3, 1), "decoder table 3");
        refused(&crw(0, 32, 1, 1), "a sensor of 0x32");
        refused(&crw(60_000, 1, 1, 1), "a sensor of 60000x1");
        // more photosites than the raw data holds the low bits of
        refused(&crw(64, 64, 1, 1), "the raw data (entry 0x2005) is");
        refused(&crw(64, 32, 1, MAX_DEPTH + 1), "nested more than");
        // the G2's masked columns end at 2376
        refused(
            &crw_of(b"Canon\0Canon PowerShot G2\0", 64, 32, 1, 1),
            "a 64x32 sensor, too small for the Canon PowerShot G2's masked areas",
        );
        let b = crw(64, 32, 1, 1);
        // every cut is refused (the root heap's directory offset is in the last 4 bytes)
        for cut in 0..b.len() {
            assert!(check_bytes(&b[..cut]).is_err(), "cut at {cut}");
        }
        // the root directory's offset pointing past the heap
        let mut c = b.clone();
        let n = c.len();
        c[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        refused(&c, "puts its directory at offset");
        // an entry count beyond the directory
        let dir = HEADER + u32::from_le_bytes(b[n - 4..].try_into().unwrap()) as usize;
        let mut c = b.clone();
        c[dir..dir + 2].copy_from_slice(&500u16.to_le_bytes());
        refused(&c, "lists 500 entries");
        // the raw data's size beyond the values
        let mut c = b.clone();
        c[dir + 4..dir + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        refused(&c, "beyond the heap's");
        // a data location other than the two Canon defines
        let mut c = b.clone();
        c[dir + 3] |= 0x80;
        refused(&c, "unknown data location");
        // the header length
        let mut c = b.clone();
        c[2] = 0;
        refused(&c, "a header of 0 bytes");
    }
}
