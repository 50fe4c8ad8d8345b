//! Checks of Kodak KDC files before a decoder sees the bytes.
//!
//! A KDC is a TIFF file; obscura's TIFF reader has checked its IFDs before this runs. Of the
//! Kodak cameras the decoders know, the DC50 stores its raw data compressed with Kodak's "run
//! adaptive differential coding" (RADC, as dcraw calls it): rows in groups of four, each group
//! starting with three 6-bit multipliers (one per colour), then per colour (twice for green)
//! a stream of prefix codes. A code from one of ten "tree" tables either names the table of
//! the next pair of columns' differences (and the table to read the next code from), or
//! starts a run of columns predicted from their neighbours; the differences come from eight
//! further tables, or verbatim in `8 - cbpp` bits where `cbpp` is 2 or 3 depending on the
//! file's CompressedBitsPerPixel.
//!
//! rawler decodes it and trusts the stream: it divides by every multiplier (a zero one
//! panics), and its bit reader panics when the stream runs out before the image is complete
//! (it pads the file's end with 16 zero bytes). Whether either happens depends on every code
//! before it, so [`check`] reads the whole stream the way the decoder does, without computing
//! a pixel: the codes' lengths and the tree tables' next-table values are all it needs.
//! It also checks what rawler's KDC reader indexes in the IFDs (the strip offset of the IFD
//! holding the colour filter pattern, a non-empty CompressedBitsPerPixel).

use std::path::Path;

use super::tiff::{Ifd, Tiff};
use crate::error::{Error, Result};

/// The model string of the Kodak DC50 (Make "Eastman Kodak Company").
const DC50: &str = "Kodak Digital Science DC50 Zoom Camera";
/// The DC50's raw buffer, as the decoders' camera tables give it.
const DC50_SIZE: (usize, usize) = (768, 512);

/// TIFF tags read here.
const STRIP_OFFSETS: u16 = 273;
const CFA_PATTERN: u16 = 33422;
const COMPRESSED_BITS_PER_PIXEL: u16 = 37122;
const MODEL: u16 = 272;
const MAKER_NOTE: u16 = 37500;

/// The RADC prefix codes: per table, each code's length in bits and its value, in code order
/// (codes of equal length are consecutive; every table's codes fill all 8-bit patterns).
/// Tables 0 to 9 choose the next table (0: a run of predicted columns; 8: verbatim values),
/// table 9 also counts runs; tables 10 to 17 give differences (only their lengths matter
/// here); table 18 (verbatim values) is built from `cbpp`.
#[rustfmt::skip]
const CODES: [&[(u8, i8)]; 18] = [
    &[(1, 1), (2, 3), (3, 4), (4, 2), (5, 7), (6, 5), (7, 6), (7, 8)],
    &[(1, 0), (2, 1), (3, 3), (4, 4), (5, 2), (6, 7), (7, 6), (8, 5), (8, 8)],
    &[(2, 1), (2, 3), (3, 0), (3, 2), (3, 4), (4, 6), (5, 5), (6, 7), (6, 8)],
    &[(2, 0), (2, 1), (2, 3), (3, 2), (4, 4), (5, 6), (6, 7), (7, 5), (7, 8)],
    &[(2, 1), (2, 4), (3, 0), (3, 2), (3, 3), (4, 7), (5, 5), (6, 6), (6, 8)],
    &[(2, 3), (3, 1), (3, 2), (3, 4), (3, 5), (3, 6), (4, 7), (5, 0), (5, 8)],
    &[(2, 3), (2, 6), (3, 0), (3, 1), (4, 4), (4, 5), (4, 7), (5, 2), (5, 8)],
    &[(2, 4), (2, 7), (3, 3), (3, 6), (4, 1), (4, 2), (4, 5), (5, 0), (5, 8)],
    &[(2, 6), (3, 1), (3, 3), (3, 5), (3, 7), (3, 8), (4, 0), (5, 2), (5, 4)],
    &[(2, 0), (2, 1), (3, 2), (3, 3), (4, 4), (4, 5), (5, 6), (5, 7), (4, 8)],
    &[(1, 0), (2, 2), (2, -2)],
    &[(1, -3), (1, 3)],
    &[(2, -17), (2, -5), (2, 5), (2, 17)],
    &[(2, -7), (2, 2), (2, 9), (2, 18)],
    &[(2, -18), (2, -9), (2, -2), (2, 7)],
    &[(2, -28), (2, 28), (3, -49), (3, -9), (3, 9), (4, 49), (5, -79), (5, 79)],
    &[(2, -1), (2, 13), (2, 26), (3, 39), (4, -16), (5, 55), (6, -37), (6, 76)],
    &[(2, -26), (2, -13), (2, 1), (3, -39), (4, 16), (5, -55), (6, -76), (6, 37)],
];

/// Per table, per 8-bit pattern: (code length, value).
struct Tables([[(u8, u8); 256]; 19]);

impl Tables {
    fn new(cbpp: u8) -> Tables {
        let mut t = [[(0u8, 0u8); 256]; 19];
        for (table, codes) in t.iter_mut().zip(CODES) {
            let mut next = 0usize;
            for &(len, value) in codes {
                let span = 256 >> len;
                for slot in &mut table[next..next + span] {
                    *slot = (len, value as u8);
                }
                next += span;
            }
            debug_assert_eq!(next, 256);
        }
        // verbatim: 8 - cbpp bits
        t[18] = [(8 - cbpp, 0); 256];
        Tables(t)
    }
}

/// The decoder's bit reader, counting instead of reading values it does not need: it takes
/// 4 bytes at a time (fewer at the very end) of the data followed by 16 zero bytes, and fails
/// where the decoder's would panic.
struct Bits<'a> {
    data: &'a [u8],
    /// Bytes taken, of `data.len() + 16`.
    pos: usize,
    bits: u64,
    nbits: u32,
}

impl Bits<'_> {
    fn peek(&mut self, n: u32) -> Option<u32> {
        if n > self.nbits {
            let end = self.data.len() + 16;
            if self.pos >= end {
                return None;
            }
            let take = (end - self.pos).min(4);
            for k in 0..take {
                let byte = self.data.get(self.pos + k).copied().unwrap_or(0);
                self.bits = (self.bits << 8) | u64::from(byte);
            }
            self.pos += take;
            self.nbits += 8 * take as u32;
            if n > self.nbits {
                return None;
            }
        }
        Some(((self.bits >> (self.nbits - n)) & ((1 << n) - 1)) as u32)
    }

    fn consume(&mut self, n: u32) {
        self.nbits -= n;
        self.bits &= (1u64 << self.nbits) - 1;
    }

    fn get(&mut self, n: u32) -> Option<u32> {
        let v = self.peek(n)?;
        self.consume(n);
        Some(v)
    }

    /// One code of `table`: its value.
    fn code(&mut self, tables: &Tables, table: usize) -> Option<u8> {
        let pattern = self.peek(8)? as usize;
        let (len, value) = tables.0[table][pattern];
        self.consume(u32::from(len));
        Some(value)
    }
}

/// Reads a RADC stream of a `width x height` image (`width` even, `height` a multiple of 4)
/// as the decoder does; the error says what would make it fail.
fn walk(data: &[u8], (width, height): (usize, usize), cbpp: u8) -> std::result::Result<(), String> {
    let tables = Tables::new(cbpp);
    let mut bits = Bits {
        data,
        pos: 0,
        bits: 0,
        nbits: 0,
    };
    let short = |row: usize| format!("the compressed data ends in row {row}");
    for row in (0..height).step_by(4) {
        for c in 0..3 {
            let mul = bits.get(6).ok_or_else(|| short(row))?;
            if mul == 0 {
                return Err(format!(
                    "colour {c} of rows {row} to {} has a zero scale",
                    row + 3
                ));
            }
        }
        for c in 0..3 {
            for _ in 0..if c == 0 { 2 } else { 1 } {
                let mut table = 1usize;
                let mut col = width / 2;
                while col > 0 {
                    table = usize::from(bits.code(&tables, table).ok_or_else(|| short(row))?);
                    if table != 0 {
                        col -= 2;
                        let values = if table == 8 { 18 } else { table + 10 };
                        for _ in 0..4 {
                            bits.code(&tables, values).ok_or_else(|| short(row))?;
                        }
                    } else {
                        loop {
                            let reps = if col > 2 {
                                bits.code(&tables, 9).ok_or_else(|| short(row))? + 1
                            } else {
                                1
                            };
                            for rep in 0..8 {
                                if rep < reps && col > 0 {
                                    col -= 2;
                                    if rep & 1 == 1 {
                                        bits.code(&tables, 10).ok_or_else(|| short(row))?;
                                    }
                                }
                            }
                            if reps != 9 {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether `tiff` is a Kodak DC50 KDC (by its Model tag): the camera [`check`] is about.
pub fn is_dc50(tiff: &Tiff) -> bool {
    tiff.root().get(MODEL).map(|e| e.ascii()).as_deref() == Some(DC50)
}

/// Checks a Kodak KDC (a TIFF file already parsed as `tiff`) for what rawler's KDC reader
/// trusts: see the module documentation. Files of other cameras pass unchecked.
pub fn check(path: &Path, bytes: &[u8], tiff: &Tiff) -> Result<()> {
    if !is_dc50(tiff) {
        return Ok(());
    }
    let err = |reason: String| Error::decode(path, format!("corrupt Kodak DC50 KDC: {reason}"));
    // rawler parses a maker note wherever the tag is; the DC50 writes none
    if tiff.all_ifds().iter().any(|i| i.get(MAKER_NOTE).is_some()) {
        return Err(err("a maker note, which the DC50 does not write".into()));
    }
    let cfa: Vec<&Ifd> = tiff
        .all_ifds()
        .into_iter()
        .filter(|i| i.get(CFA_PATTERN).is_some())
        .collect();
    let [raw] = cfa[..] else {
        return Err(err(format!(
            "{} IFDs with a colour filter pattern; the raw data's needs to be the one",
            cfa.len()
        )));
    };
    let offset = raw
        .get(STRIP_OFFSETS)
        .and_then(|e| e.u32())
        .ok_or_else(|| err("the raw IFD has no strip offset".into()))? as usize;
    if offset >= bytes.len() {
        return Err(err(format!(
            "the raw data starts at offset {offset}, beyond the file's {} bytes",
            bytes.len()
        )));
    }
    let cbpp = match raw.get(COMPRESSED_BITS_PER_PIXEL) {
        None => 3,
        Some(e) if e.count == 0 || e.data.is_empty() => {
            return Err(err("an empty CompressedBitsPerPixel".into()));
        }
        // a rational of numerator 243: 2 bits, anything else 3
        Some(e) if e.typ == 5 => {
            let n: [u8; 4] = e
                .data
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .unwrap_or([0; 4]);
            let n = if tiff.little_endian {
                u32::from_le_bytes(n)
            } else {
                u32::from_be_bytes(n)
            };
            if n == 243 { 2 } else { 3 }
        }
        Some(_) => 3,
    };
    walk(&bytes[offset..], DC50_SIZE, cbpp).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_fills_all_patterns() {
        for (k, codes) in CODES.iter().enumerate() {
            let total: usize = codes.iter().map(|(len, _)| 256 >> len).sum();
            assert_eq!(total, 256, "table {k}");
        }
    }

    #[test]
    fn an_empty_or_zero_stream_is_refused() {
        assert!(walk(&[], (768, 512), 3).is_err());
        // all-zero multipliers
        let e = walk(&[0; 4096], (768, 512), 3).unwrap_err();
        assert!(e.contains("zero scale"), "{e}");
        // multipliers of 1, then codes that never end the row: runs out
        let e = walk(&[0x04, 0x10, 0x40, 0xff, 0xff], (768, 512), 3).unwrap_err();
        assert!(e.contains("ends"), "{e}");
    }
}
