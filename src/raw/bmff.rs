//! Structural checks of ISO base media files (ISO/IEC 14496-12), as Canon's CR3 uses them,
//! before a decoder sees the bytes.
//!
//! rawler's CR3 reader trusts the file: it slices box payloads by their declared sizes (a
//! size beyond the file panics or reads another box's bytes), reserves a `u32` per declared
//! sample (`stsz` with a count of 2^32 - 1 asks for 16 GB) and allocates the image its `CRAW`
//! and `CMP1` boxes declare. These checks give CR3 what [`super::tiff`] gives TIFF-based raws:
//!
//! - every box lies within its parent (and the file); sizes are at least their header (8
//!   bytes, 16 with a 64-bit size, 16 more for `uuid`); a size of 0 ("to the end of the
//!   file") is refused, since CR3 never uses it and rawler does not read it;
//! - nesting is at most [`MAX_DEPTH`] deep and a file has at most [`MAX_BOXES`] boxes;
//! - `moov` holds no `uuid` box but Canon's (rawler does not skip others, and reads their
//!   payload as boxes);
//! - `stsz` holds the sample sizes it counts, and each sample is within the file; `stco` and
//!   `co64` hold the chunk offsets they count, and each chunk (with its sample's size) lies
//!   within the file;
//! - the image sizes a `CRAW` sample entry and its `CMP1` header declare (and `CMP1`'s tile
//!   size) are within the pixel limit and what the file can hold.
//!
//! Box layout of a CR3 (what the walker descends into): `ftyp`, then `moov` holding Canon's
//! `uuid` box (`CNCV`, `CCTP`, `CTBO`, `CMT1`-`CMT4`, `THMB`) and one `trak` per image
//! (`mdia/minf/stbl` with `stsd` -> `CRAW` -> `CMP1`, `stsz`, `stco`/`co64`), then `uuid`
//! preview boxes and `mdat` with the image data.

use std::path::Path;

use super::decode::DecodeLimits;
use crate::error::{Error, Result};

/// Deepest nesting of boxes accepted (a CR3 goes 7 deep: moov/trak/mdia/minf/stbl/stsd/CRAW
/// /CMP1).
pub const MAX_DEPTH: usize = 12;
/// Most boxes a file may have (a CR3 has about 60).
pub const MAX_BOXES: usize = 4096;
/// Most samples one `stsz` (or chunks one `stco`/`co64`) may list (a CR3 track has one; CRM
/// movies, which obscura does not read, have one per frame).
pub const MAX_SAMPLES: u64 = 1 << 16;

/// Canon's `uuid` box inside `moov` (holds the metadata boxes).
const CANON_UUID: [u8; 16] = [
    0x85, 0xc0, 0xb6, 0x87, 0x82, 0x0f, 0x11, 0xe0, 0x81, 0x11, 0xf4, 0xce, 0x46, 0x2b, 0x6a, 0x48,
];

/// Boxes whose payload is a sequence of boxes, and how many bytes of fields come first.
fn container(typ: &[u8; 4], uuid: Option<&[u8; 16]>) -> Option<usize> {
    Some(match typ {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" | b"edts" => 0,
        // version and flags, entry count
        b"stsd" => 8,
        // a visual sample entry: reserved, data reference, 16 bytes, width, height,
        // resolutions, frame count, compressor name, depth and Canon's four fields
        b"CRAW" => 82,
        b"uuid" if uuid == Some(&CANON_UUID) => 0,
        _ => return None,
    })
}

/// What the walk collects for the per-track checks.
#[derive(Default)]
struct Track {
    /// `stsz`: the sample sizes (one value when all samples share it).
    sizes: Vec<u64>,
    /// `stco` / `co64`: the chunk offsets.
    offsets: Vec<u64>,
}

struct Walk<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    limits: &'a DecodeLimits,
    boxes: usize,
    track: Track,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// A four-character code as text, unprintable bytes escaped.
fn fourcc(t: &[u8; 4]) -> String {
    t.iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}

impl Walk<'_> {
    fn err(&self, reason: String) -> Error {
        Error::decode(
            self.path,
            format!("corrupt CR3 (ISO media) structure: {reason}"),
        )
    }

    /// Walks the boxes in `start..end` at nesting `depth`.
    fn boxes(&mut self, start: usize, end: usize, depth: usize, parent: &str) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!(
                "boxes nested more than {MAX_DEPTH} deep (in '{parent}' at offset {start})"
            )));
        }
        let mut at = start;
        while at < end {
            self.boxes += 1;
            if self.boxes > MAX_BOXES {
                return Err(self.err(format!("more than {MAX_BOXES} boxes")));
            }
            let room = end - at;
            if room < 8 {
                return Err(self.err(format!(
                    "{room} stray bytes at offset {at} in '{parent}' (a box header takes 8)"
                )));
            }
            let b = self.bytes;
            let small = be32(b, at).unwrap_or(0);
            let typ: [u8; 4] = b[at + 4..at + 8].try_into().unwrap_or_default();
            let name = fourcc(&typ);
            let (size, mut header) = match small {
                0 => {
                    return Err(self.err(format!(
                        "box '{name}' at offset {at} has size 0 (to the end of the file), \
                         which CR3 does not use"
                    )));
                }
                1 => match be64(b, at + 8) {
                    Some(s) if room >= 16 => (s, 16),
                    _ => {
                        return Err(
                            self.err(format!("box '{name}' at offset {at}: 64-bit size cut off"))
                        );
                    }
                },
                s => (u64::from(s), 8),
            };
            let uuid: Option<&[u8; 16]> = if &typ == b"uuid" {
                let u = b
                    .get(at + header..at + header + 16)
                    .and_then(|u| u.try_into().ok());
                header += 16;
                u
            } else {
                None
            };
            if &typ == b"uuid" && parent == "moov" && uuid != Some(&CANON_UUID) {
                // rawler skips no other uuid box in moov: it reads on inside it as if its
                // payload were boxes (fuzzing: a size-0 box there looped, 3 GB)
                return Err(self.err(format!(
                    "a 'uuid' box at offset {at} inside 'moov' that is not Canon's"
                )));
            }
            if size < header as u64 {
                return Err(self.err(format!(
                    "box '{name}' at offset {at} declares {size} bytes, less than its \
                     {header}-byte header"
                )));
            }
            if size > room as u64 {
                return Err(self.err(format!(
                    "box '{name}' at offset {at} declares {size} bytes, but only {room} remain \
                     in {}",
                    if depth == 0 {
                        "the file".to_string()
                    } else {
                        format!("its parent '{parent}'")
                    }
                )));
            }
            let size = size as usize;
            let body = at + header..at + size;
            if let Some(skip) = container(&typ, uuid) {
                if body.len() < skip {
                    return Err(self.err(format!(
                        "box '{name}' at offset {at} is {size} bytes, too short for its \
                         {skip} bytes of fields"
                    )));
                }
                if &typ == b"CRAW" {
                    self.craw(at, body.start)?;
                }
                if &typ == b"trak" {
                    let outer = std::mem::take(&mut self.track);
                    self.boxes(body.start + skip, body.end, depth + 1, &name)?;
                    self.check_track(at)?;
                    self.track = outer;
                } else {
                    self.boxes(body.start + skip, body.end, depth + 1, &name)?;
                }
            } else {
                match &typ {
                    b"stsz" => self.stsz(at, &b[body])?,
                    b"stco" => self.chunk_offsets(at, &b[body], 4)?,
                    b"co64" => self.chunk_offsets(at, &b[body], 8)?,
                    b"stsc" => self.table(at, &b[body], "stsc", 12)?,
                    b"stts" => self.table(at, &b[body], "stts", 8)?,
                    b"CMP1" => self.cmp1(at, &b[body])?,
                    _ => {}
                }
            }
            at += size;
        }
        Ok(())
    }

    /// An image size a box declares, against the limits.
    fn image(&self, what: &str, at: usize, w: u64, h: u64) -> Result<()> {
        self.limits.check(self.path, w, h, self.bytes.len()).map_err(|_| Error::Limits {
            path: self.path.to_path_buf(),
            reason: format!(
                "CR3 box '{what}' at offset {at} declares an image of {w}x{h}, beyond the limit \
                 of {} pixels or what a {}-byte file can hold",
                self.limits.max_pixels,
                self.bytes.len()
            ),
        })
    }

    /// `CRAW`'s width and height (the fields start at `body`).
    fn craw(&self, at: usize, body: usize) -> Result<()> {
        let w = be16(self.bytes, body + 24).unwrap_or(0);
        let h = be16(self.bytes, body + 26).unwrap_or(0);
        self.image("CRAW", at, u64::from(w), u64::from(h))
    }

    /// `CMP1`: the compressed image's size and tile size.
    fn cmp1(&self, at: usize, p: &[u8]) -> Result<()> {
        let (Some(w), Some(h), Some(tw), Some(th)) =
            (be32(p, 8), be32(p, 12), be32(p, 16), be32(p, 20))
        else {
            return Err(self.err(format!(
                "box 'CMP1' at offset {at} is {} bytes, too short for its image header",
                p.len()
            )));
        };
        self.image("CMP1", at, u64::from(w), u64::from(h))?;
        if tw == 0 || th == 0 || tw > w || th > h {
            return Err(self.err(format!(
                "box 'CMP1' at offset {at} declares tiles of {tw}x{th} for an image of {w}x{h}"
            )));
        }
        Ok(())
    }

    /// `stsz`: version and flags, a common size, a count, then the sizes if no common one.
    fn stsz(&mut self, at: usize, p: &[u8]) -> Result<()> {
        let (Some(common), Some(count)) = (be32(p, 4), be32(p, 8)) else {
            return Err(self.err(format!("box 'stsz' at offset {at} is cut off")));
        };
        let count = u64::from(count);
        if count > MAX_SAMPLES {
            return Err(self.err(format!(
                "box 'stsz' at offset {at} counts {count} samples (at most {MAX_SAMPLES})"
            )));
        }
        self.track.sizes = if common != 0 {
            vec![u64::from(common)]
        } else {
            let have = (p.len() as u64 - 12) / 4;
            if count > have {
                return Err(self.err(format!(
                    "box 'stsz' at offset {at} counts {count} samples but holds {have} sizes"
                )));
            }
            (0..count as usize)
                .map(|k| u64::from(be32(p, 12 + 4 * k).unwrap_or(0)))
                .collect()
        };
        let len = self.bytes.len() as u64;
        if let Some((k, s)) = self.track.sizes.iter().enumerate().find(|(_, s)| **s > len) {
            return Err(self.err(format!(
                "box 'stsz' at offset {at}: sample {} is {s} bytes, more than the whole \
                 {len}-byte file",
                k + 1
            )));
        }
        Ok(())
    }

    /// A table box (`stsc`: 12-byte entries, `stts`: 8-byte ones): version and flags, a
    /// count, then that many entries, all inside the box (rawler reserves memory for the
    /// count before reading: 2^32 - 1 `stsc` entries asked it for 64 GB).
    fn table(&self, at: usize, p: &[u8], name: &str, entry: u64) -> Result<()> {
        let Some(count) = be32(p, 4) else {
            return Err(self.err(format!("box '{name}' at offset {at} is cut off")));
        };
        let count = u64::from(count);
        let have = (p.len() as u64).saturating_sub(8) / entry;
        if count > MAX_SAMPLES || count > have {
            return Err(self.err(format!(
                "box '{name}' at offset {at} counts {count} entries but holds {have}"
            )));
        }
        Ok(())
    }

    /// `stco` (32-bit) or `co64` (64-bit): version and flags, a count, the offsets.
    fn chunk_offsets(&mut self, at: usize, p: &[u8], width: usize) -> Result<()> {
        let name = if width == 4 { "stco" } else { "co64" };
        let Some(count) = be32(p, 4) else {
            return Err(self.err(format!("box '{name}' at offset {at} is cut off")));
        };
        let count = u64::from(count);
        let have = (p.len() as u64 - 8) / width as u64;
        if count > MAX_SAMPLES || count > have {
            return Err(self.err(format!(
                "box '{name}' at offset {at} counts {count} chunks but holds {have} offsets"
            )));
        }
        self.track.offsets = (0..count as usize)
            .map(|k| {
                let o = 8 + width * k;
                if width == 4 {
                    be32(p, o).map_or(0, u64::from)
                } else {
                    be64(p, o).unwrap_or(0)
                }
            })
            .collect();
        Ok(())
    }

    /// Each chunk of a track (one sample per chunk, as CR3 stores them) within the file.
    fn check_track(&self, at: usize) -> Result<()> {
        let len = self.bytes.len() as u64;
        let t = &self.track;
        for (k, &o) in t.offsets.iter().enumerate() {
            let size = t.sizes.get(k).or(t.sizes.first()).copied().unwrap_or(0);
            if o.checked_add(size).is_none_or(|e| e > len) {
                return Err(self.err(format!(
                    "track at offset {at}: chunk {} of {size} bytes at offset {o} ends beyond \
                     the {len}-byte file",
                    k + 1
                )));
            }
        }
        Ok(())
    }
}

/// Checks the box structure of an ISO media (CR3) file before any decoder reads it: box
/// sizes within their parents, bounded nesting and box count, sample tables within the file,
/// and declared image sizes within `limits` (see the module docs).
///
/// # Errors
/// [`Error::Decode`] naming `path` and the offending box and offset; [`Error::Limits`] for an
/// image beyond the pixel limit.
pub fn check(path: &Path, bytes: &[u8], limits: &DecodeLimits) -> Result<()> {
    let mut w = Walk {
        path,
        bytes,
        limits,
        boxes: 0,
        track: Track::default(),
    };
    w.boxes(0, bytes.len(), 0, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A box: size, type, payload.
    fn bx(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((8 + payload.len()) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(typ);
        b.extend_from_slice(payload);
        b
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    /// The parts of a crafted CR3 that the tests change.
    struct Spec {
        craw: (u16, u16),
        cmp1: (u32, u32, u32, u32),
        sample_count: u32,
        sample_size: u32,
        chunk_offset: Option<u64>,
        /// More boxes at the end of `stbl`.
        stbl_extra: Vec<u8>,
    }

    impl Default for Spec {
        fn default() -> Spec {
            Spec {
                craw: (64, 48),
                cmp1: (64, 48, 64, 48),
                sample_count: 1,
                sample_size: 256,
                chunk_offset: None,
                stbl_extra: Vec::new(),
            }
        }
    }

    /// A CR3-shaped file: ftyp, moov (Canon uuid, one trak down to CRAW/CMP1, stsz, co64),
    /// mdat of `sample_size` bytes that the chunk offset points at.
    fn cr3(s: &Spec) -> Vec<u8> {
        let ftyp = bx(b"ftyp", b"crx \0\0\0\x01crx isom");
        let mut canon = CANON_UUID.to_vec();
        canon.extend(bx(b"CNCV", b"CanonCR3_001/00.09.00/00.00.00"));
        let uuid = bx(b"uuid", &canon);
        let mut cmp1 = vec![0u8; 36];
        cmp1[2..4].copy_from_slice(&48u16.to_be_bytes());
        cmp1[4..6].copy_from_slice(&256u16.to_be_bytes());
        for (k, v) in [s.cmp1.0, s.cmp1.1, s.cmp1.2, s.cmp1.3].iter().enumerate() {
            cmp1[8 + 4 * k..12 + 4 * k].copy_from_slice(&v.to_be_bytes());
        }
        cmp1[24] = 14;
        cmp1[25] = 0x41;
        let mut craw = vec![0u8; 82];
        craw[7] = 1;
        craw[24..26].copy_from_slice(&s.craw.0.to_be_bytes());
        craw[26..28].copy_from_slice(&s.craw.1.to_be_bytes());
        craw.extend(bx(b"CMP1", &cmp1));
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend(bx(b"CRAW", &craw));
        let mut stsz = vec![0u8; 4];
        stsz.extend(0u32.to_be_bytes());
        stsz.extend(s.sample_count.to_be_bytes());
        stsz.extend(s.sample_size.to_be_bytes());
        let co64 = |off: u64| {
            let mut c = vec![0u8, 0, 0, 0, 0, 0, 0, 1];
            c.extend(off.to_be_bytes());
            bx(b"co64", &c)
        };
        let moov = |off: u64| {
            let stbl = bx(
                b"stbl",
                &cat(&[
                    bx(b"stsd", &stsd),
                    bx(b"stsz", &stsz),
                    co64(off),
                    s.stbl_extra.clone(),
                ]),
            );
            let trak = bx(b"trak", &bx(b"mdia", &bx(b"minf", &stbl)));
            bx(b"moov", &cat(&[uuid.clone(), trak]))
        };
        let data_at = (ftyp.len() + moov(0).len() + 8) as u64;
        let mdat = bx(b"mdat", &vec![0x5a; s.sample_size.min(1 << 20) as usize]);
        cat(&[ftyp, moov(s.chunk_offset.unwrap_or(data_at)), mdat])
    }

    fn check_err(bytes: &[u8]) -> String {
        let e = check(Path::new("t.cr3"), bytes, &DecodeLimits::default()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("t.cr3: "), "{msg}");
        msg
    }

    /// Offset of the first box of type `typ` (its size field).
    fn find(b: &[u8], typ: &[u8; 4]) -> usize {
        b.windows(4).position(|w| w == typ).unwrap() - 4
    }

    #[test]
    fn a_well_formed_cr3_passes() {
        let b = cr3(&Spec::default());
        assert!(super::super::decode::is_cr3(&b));
        check(Path::new("t.cr3"), &b, &DecodeLimits::default()).unwrap();
    }

    #[test]
    fn box_sizes_must_fit_their_parent_and_header() {
        let good = cr3(&Spec::default());
        // mdat claims a byte more than the file has
        let mut b = good.clone();
        let at = find(&b, b"mdat");
        let size = be32(&b, at).unwrap();
        b[at..at + 4].copy_from_slice(&(size + 1).to_be_bytes());
        let msg = check_err(&b);
        assert!(
            msg.contains(&format!(
                "box 'mdat' at offset {at} declares {} bytes, but only {size} remain in the file",
                size + 1
            )),
            "{msg}"
        );
        // stsz claims more than its parent stbl holds
        let mut b = good.clone();
        let at = find(&b, b"stsz");
        b[at..at + 4].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
        let msg = check_err(&b);
        assert!(
            msg.contains("box 'stsz'") && msg.contains("remain in its parent 'stbl'"),
            "{msg}"
        );
        // smaller than its header
        let mut b = good.clone();
        let at = find(&b, b"trak");
        b[at..at + 4].copy_from_slice(&7u32.to_be_bytes());
        let msg = check_err(&b);
        assert!(
            msg.contains("declares 7 bytes, less than its 8-byte header"),
            "{msg}"
        );
        // size 0 (to the end of the file)
        let mut b = good.clone();
        let at = find(&b, b"moov");
        b[at..at + 4].copy_from_slice(&0u32.to_be_bytes());
        let msg = check_err(&b);
        assert!(msg.contains("box 'moov' at offset 24 has size 0"), "{msg}");
        // a 64-bit size of 2^64 - 1
        let mut b = good.clone();
        let at = find(&b, b"mdat");
        b[at..at + 4].copy_from_slice(&1u32.to_be_bytes());
        b[at + 8..at + 16].copy_from_slice(&u64::MAX.to_be_bytes());
        let msg = check_err(&b);
        assert!(
            msg.contains(&format!("declares {} bytes", u64::MAX)),
            "{msg}"
        );
        // stray bytes after the last box
        let mut b = good.clone();
        b.extend_from_slice(&[0, 0, 0]);
        let msg = check_err(&b);
        assert!(msg.contains("3 stray bytes"), "{msg}");
    }

    #[test]
    fn only_canons_uuid_box_may_be_in_moov() {
        let mut b = cr3(&Spec::default());
        let at = find(&b, b"uuid");
        b[at + 14] ^= 0x20;
        let msg = check_err(&b);
        assert!(
            msg.contains(&format!(
                "a 'uuid' box at offset {at} inside 'moov' that is not Canon's"
            )),
            "{msg}"
        );
    }

    #[test]
    fn nesting_and_box_count_are_bounded() {
        let mut inner = bx(b"free", b"");
        for _ in 0..MAX_DEPTH + 1 {
            inner = bx(b"trak", &inner);
        }
        let b = cat(&[bx(b"ftyp", b"crx \0\0\0\x01crx isom"), inner]);
        let msg = check_err(&b);
        assert!(msg.contains("nested more than 12 deep"), "{msg}");
        // one short of the bound is fine
        let mut inner = bx(b"free", b"");
        for _ in 0..MAX_DEPTH {
            inner = bx(b"trak", &inner);
        }
        check(Path::new("t.cr3"), &inner, &DecodeLimits::default()).unwrap();

        let many = bx(b"moov", &bx(b"free", b"").repeat(MAX_BOXES));
        let msg = check_err(&many);
        assert!(msg.contains("more than 4096 boxes"), "{msg}");
    }

    /// `stsc` and `stts` hold the entries they count (found by fuzzing: an `stsc` counting
    /// 1.9 billion entries made rawler ask for 30 GB).
    #[test]
    fn table_boxes_hold_what_they_count() {
        let table = |name: &[u8; 4], count: u32, entries: usize, size: usize| {
            let mut p = vec![0u8; 4];
            p.extend(count.to_be_bytes());
            p.extend(vec![0u8; entries * size]);
            bx(name, &p)
        };
        let ok = cr3(&Spec {
            stbl_extra: cat(&[table(b"stsc", 1, 1, 12), table(b"stts", 1, 1, 8)]),
            ..Spec::default()
        });
        check(Path::new("t.cr3"), &ok, &DecodeLimits::default()).unwrap();
        let msg = check_err(&cr3(&Spec {
            stbl_extra: table(b"stsc", 0x6f70_7300, 1, 12),
            ..Spec::default()
        }));
        assert!(
            msg.contains("box 'stsc' at offset")
                && msg.contains("counts 1869640448 entries but holds 1"),
            "{msg}"
        );
        let msg = check_err(&cr3(&Spec {
            stbl_extra: table(b"stts", 3, 2, 8),
            ..Spec::default()
        }));
        assert!(
            msg.contains("'stts'") && msg.contains("counts 3 entries but holds 2"),
            "{msg}"
        );
    }

    #[test]
    fn sample_tables_must_fit_the_file() {
        let msg = check_err(&cr3(&Spec {
            sample_count: u32::MAX,
            ..Spec::default()
        }));
        assert!(
            msg.contains("counts 4294967295 samples (at most 65536)"),
            "{msg}"
        );
        let msg = check_err(&cr3(&Spec {
            sample_count: 3,
            ..Spec::default()
        }));
        assert!(msg.contains("counts 3 samples but holds 1 sizes"), "{msg}");
        // a sample bigger than the file (the mdat is capped at 1 MB)
        let msg = check_err(&cr3(&Spec {
            sample_size: 0x7fff_ffff,
            ..Spec::default()
        }));
        assert!(
            msg.contains("sample 1 is 2147483647 bytes, more than the whole"),
            "{msg}"
        );
        // a chunk that starts inside the file but ends beyond it
        let good = cr3(&Spec::default());
        let msg = check_err(&cr3(&Spec {
            chunk_offset: Some(good.len() as u64 - 100),
            ..Spec::default()
        }));
        assert!(
            msg.contains(&format!(
                "chunk 1 of 256 bytes at offset {} ends beyond the {}-byte file",
                good.len() - 100,
                good.len()
            )),
            "{msg}"
        );
        let msg = check_err(&cr3(&Spec {
            chunk_offset: Some(u64::MAX - 5),
            ..Spec::default()
        }));
        assert!(msg.contains("ends beyond"), "{msg}");
    }

    #[test]
    fn declared_image_sizes_are_within_the_pixel_limit() {
        let limits = DecodeLimits {
            max_pixels: 20_000_000,
        };
        let e = check(
            Path::new("t.cr3"),
            &cr3(&Spec {
                cmp1: (100_000, 100_000, 512, 512),
                ..Spec::default()
            }),
            &limits,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Limits { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("CR3 box 'CMP1' at offset 232 declares an image of 100000x100000"),
            "{e}"
        );
        // within the pixel limit, but not what a 1.5 kB file can hold
        let e = check(
            Path::new("t.cr3"),
            &cr3(&Spec {
                craw: (65535, 65535),
                ..Spec::default()
            }),
            &limits,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Limits { .. }), "{e}");
        assert!(e.to_string().contains("'CRAW'"), "{e}");
        let msg = check_err(&cr3(&Spec {
            cmp1: (64, 48, 0, 48),
            ..Spec::default()
        }));
        assert!(msg.contains("tiles of 0x48 for an image of 64x48"), "{msg}");
    }

    #[test]
    fn the_decoder_gets_only_checked_cr3_files() {
        let limits = DecodeLimits::default();
        let name = Path::new("crafted.cr3");
        // a bad one: the structural error, naming the file
        let bad = cr3(&Spec {
            sample_count: u32::MAX,
            ..Spec::default()
        });
        let e = super::super::decode::decode_bytes(name, Arc::new(bad), &limits).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("crafted.cr3: cannot decode: corrupt CR3 (ISO media) structure"),
            "{e}"
        );
        // a well-formed one reaches rawler, which finds no real image in it: an error, but
        // not the structural one
        let good = cr3(&Spec::default());
        let e = super::super::decode::decode_bytes(name, Arc::new(good), &limits).unwrap_err();
        assert!(!e.to_string().contains("ISO media"), "{e}");
    }
}
