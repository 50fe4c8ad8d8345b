//! Lossless JPEG (ITU-T T.81 process 14, "LJ92") for the DNG tiles and strips rawler refuses:
//! sample precisions under 10 bits (Adobe writes 8-bit LinearRaw this way; rawler's decoder
//! takes 10 to 16).
//!
//! # Algorithm
//! T.81 annex H: each sample is a prediction from its decoded neighbours (`Ra` left, `Rb`
//! above, `Rc` above-left, combined by one of the predictors 1 to 7 the scan header selects)
//! plus a difference coded as a Huffman-coded bit count `SSSS` followed by `SSSS` raw bits
//! (annex F.1.2.1's `EXTEND` for the sign). The first sample of the image and of each restart
//! interval is predicted by `2^(P - Pt - 1)`, the rest of the first line by `Ra`, the first
//! column by `Rb`. Huffman codes are decoded bit by bit with annex F.2.2.3's `MAXCODE` /
//! `VALPTR` tables. Components of a pixel are interleaved (every component sampled 1x1).
//!
//! # Implementation notes
//! Every length and count is checked against the segment and the stream before use; a stream
//! that ends (or reaches a marker) before the last sample is an error, so a corrupt header
//! cannot make the decoder loop over a huge declared frame. Only the rows and columns a caller
//! keeps are stored, so the memory a hostile frame header can claim is bounded by the image.

/// A decoded frame's geometry (SOF3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Sample precision in bits (2 to 16).
    pub precision: u8,
    /// Lines.
    pub height: usize,
    /// Samples per line per component.
    pub width: usize,
    /// Interleaved components (1 to 4).
    pub components: usize,
}

/// One Huffman table as annex F.2.2.3 uses it.
#[derive(Debug, Clone)]
struct Huffman {
    /// Largest code of each length 1..=16 (`-1`: no code of that length).
    maxcode: [i32; 17],
    /// Index into `values` of the first code of each length, minus that code.
    valptr: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: Vec<u8>) -> Huffman {
        let mut maxcode = [-1i32; 17];
        let mut valptr = [0i32; 17];
        let (mut code, mut k) = (0i32, 0i32);
        for len in 1..=16 {
            let n = i32::from(counts[len - 1]);
            if n > 0 {
                valptr[len] = k - code;
                code += n;
                k += n;
                maxcode[len] = code - 1;
            }
            code <<= 1;
        }
        Huffman {
            maxcode,
            valptr,
            values,
        }
    }
}

/// Entropy-coded bits, with T.81's byte stuffing (`FF 00` stands for `FF`); stops at a marker.
struct Bits<'a> {
    buf: &'a [u8],
    pos: usize,
    acc: u32,
    have: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, String> {
        if self.have == 0 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or("lossless JPEG data ends before the last sample")?;
            if b == 0xff {
                match self.buf.get(self.pos + 1) {
                    Some(0) => self.pos += 2,
                    _ => {
                        return Err(
                            "lossless JPEG data reaches a marker before the last sample".into()
                        );
                    }
                }
            } else {
                self.pos += 1;
            }
            self.acc = u32::from(b);
            self.have = 8;
        }
        self.have -= 1;
        Ok((self.acc >> self.have) & 1)
    }

    fn bits(&mut self, n: u32) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    fn decode(&mut self, h: &Huffman) -> Result<u8, String> {
        let mut code = 0i32;
        for len in 1..=16 {
            code = (code << 1) | self.bit()? as i32;
            if code <= h.maxcode[len] {
                let i = (h.valptr[len] + code) as usize;
                return h
                    .values
                    .get(i)
                    .copied()
                    .ok_or_else(|| "Huffman code beyond its table".to_string());
            }
        }
        Err("invalid Huffman code".into())
    }

    /// Skips to the next restart marker `FF D0`-`FF D7` and past it.
    fn restart(&mut self) -> Result<(), String> {
        self.have = 0;
        while let Some(&b) = self.buf.get(self.pos) {
            if b == 0xff && matches!(self.buf.get(self.pos + 1), Some(0xd0..=0xd7)) {
                self.pos += 2;
                return Ok(());
            }
            self.pos += 1;
        }
        Err("restart marker missing".into())
    }
}

/// The difference coded by bit count `ssss` and its bits (T.81 F.1.2.1 `EXTEND`; 16 bits
/// means 32768 with no bits following, H.1.2.2).
fn difference(bits: &mut Bits, ssss: u8) -> Result<i32, String> {
    Ok(match ssss {
        0 => 0,
        16 => 32768,
        1..=15 => {
            let v = bits.bits(u32::from(ssss))? as i32;
            if v < 1 << (ssss - 1) {
                v - (1 << ssss) + 1
            } else {
                v
            }
        }
        _ => return Err(format!("difference of {ssss} bits")),
    })
}

fn be16(buf: &[u8], at: usize) -> Result<usize, String> {
    buf.get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(|| "lossless JPEG header truncated".to_string())
}

/// Decodes one lossless JPEG stream. `keep(frame)` says how many lines and samples per line
/// (all components interleaved) the caller stores, after checking the frame; the rest is
/// decoded (for prediction) but not stored. Returns the frame and the stored samples, row by
/// row, each value shifted left by the point transform.
pub(crate) fn decode(
    buf: &[u8],
    keep: impl FnOnce(&Frame) -> Result<(usize, usize), String>,
) -> Result<(Frame, Vec<u16>), String> {
    if buf.get(..2) != Some(&[0xff, 0xd8]) {
        return Err("not a JPEG stream (no SOI marker)".into());
    }
    let mut pos = 2;
    let mut tables: [Option<Huffman>; 4] = [None, None, None, None];
    let mut frame: Option<(Frame, Vec<u8>)> = None;
    let mut restart_interval = 0usize;
    loop {
        if buf.get(pos) != Some(&0xff) {
            return Err(format!("expected a JPEG marker at byte {pos}"));
        }
        let marker = *buf.get(pos + 1).ok_or("JPEG stream truncated")?;
        if marker == 0xff {
            pos += 1; // fill byte
            continue;
        }
        let len = be16(buf, pos + 2)?;
        let seg = buf
            .get(pos + 4..pos + 2 + len)
            .filter(|_| len >= 2)
            .ok_or("JPEG segment runs past the end of the stream")?;
        match marker {
            0xc4 => {
                let mut s = seg;
                while !s.is_empty() {
                    let (class, id) = (s[0] >> 4, usize::from(s[0] & 15));
                    let counts: [u8; 16] = s
                        .get(1..17)
                        .and_then(|c| c.try_into().ok())
                        .ok_or("Huffman table truncated")?;
                    let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    let values = s.get(17..17 + n).ok_or("Huffman table truncated")?;
                    if class != 0 || id > 3 || n > 256 {
                        return Err(format!("Huffman table class {class} id {id} of {n} codes"));
                    }
                    tables[id] = Some(Huffman::new(&counts, values.to_vec()));
                    s = &s[17 + n..];
                }
            }
            0xc3 => {
                let (p, comps) = (seg.first().copied().unwrap_or(0), seg.get(5).copied());
                let f = Frame {
                    precision: p,
                    height: be16(seg, 1)?,
                    width: be16(seg, 3)?,
                    components: usize::from(comps.unwrap_or(0)),
                };
                if !(2..=16).contains(&p) || !(1..=4).contains(&f.components) {
                    return Err(format!(
                        "lossless JPEG of {p} bits and {} components",
                        f.components
                    ));
                }
                let spec = seg
                    .get(6..6 + 3 * f.components)
                    .ok_or("frame header truncated")?;
                if spec.chunks_exact(3).any(|c| c[1] != 0x11) {
                    return Err("subsampled lossless JPEG components".into());
                }
                let ids = spec.chunks_exact(3).map(|c| c[0]).collect();
                frame = Some((f, ids));
            }
            0xc0..=0xcf => {
                return Err(format!(
                    "JPEG process SOF{} is not lossless JPEG (SOF3)",
                    marker - 0xc0
                ));
            }
            0xdd => restart_interval = be16(seg, 0)?,
            0xda => {
                let (f, ids) = frame.ok_or("scan before the frame header")?;
                let ns = usize::from(*seg.first().ok_or("scan header truncated")?);
                let spec = seg.get(1..1 + 2 * ns).ok_or("scan header truncated")?;
                let tail = seg
                    .get(1 + 2 * ns..4 + 2 * ns)
                    .ok_or("scan header truncated")?;
                let (predictor, point) = (tail[0], u32::from(tail[2] & 15));
                if ns != f.components || !(1..=7).contains(&predictor) {
                    return Err(format!(
                        "scan of {ns} of {} components with predictor {predictor}",
                        f.components
                    ));
                }
                if point >= u32::from(f.precision) {
                    return Err(format!("point transform {point} of {} bits", f.precision));
                }
                let mut order = Vec::with_capacity(ns);
                for (k, c) in spec.chunks_exact(2).enumerate() {
                    if ids.get(k) != Some(&c[0]) {
                        return Err("scan components differ from the frame's".into());
                    }
                    let t = tables
                        .get(usize::from(c[1] >> 4))
                        .and_then(Option::as_ref)
                        .ok_or("scan uses an undefined Huffman table")?;
                    order.push(t);
                }
                let (rows, cols) = keep(&f)?;
                let data = &buf[pos + 2 + len..];
                let out = scan(
                    data,
                    &f,
                    &order,
                    predictor,
                    point,
                    restart_interval,
                    rows,
                    cols,
                )?;
                return Ok((f, out));
            }
            0xd8 | 0xd9 | 0xd0..=0xd7 | 0x01 => {
                return Err(format!(
                    "unexpected JPEG marker {marker:#04x} before the scan"
                ));
            }
            _ => {} // APPn, COM, DQT and the like: not used by lossless JPEG
        }
        pos += 2 + len;
    }
}

/// Decodes the entropy-coded samples of a scan (T.81 H.1.2). `rows` x `cols` of the
/// interleaved samples (`cols <= width * components`) are stored.
#[allow(clippy::too_many_arguments)]
fn scan(
    data: &[u8],
    f: &Frame,
    tables: &[&Huffman],
    predictor: u8,
    point: u32,
    restart_interval: usize,
    rows: usize,
    cols: usize,
) -> Result<Vec<u16>, String> {
    let n = f.components;
    let line = f.width * n;
    // a restart interval counts pixels; one that ends inside a line leaves the predictors of
    // the lines around it ambiguous, and DNG writers restart at line starts
    if restart_interval > 0 && (f.width == 0 || !restart_interval.is_multiple_of(f.width)) {
        return Err(format!(
            "restart interval of {restart_interval} pixels is not a whole number of {}-pixel lines",
            f.width
        ));
    }
    let restart_lines = restart_interval / f.width.max(1);
    let (rows, cols) = (rows.min(f.height), cols.min(line));
    let mut out = Vec::with_capacity(rows * cols);
    let mut bits = Bits {
        buf: data,
        pos: 0,
        acc: 0,
        have: 0,
    };
    let initial = 1i32 << (u32::from(f.precision) - point - 1);
    let (mut prev, mut cur) = (vec![0i32; line], vec![0i32; line]);
    for y in 0..rows {
        // the first line of the scan and of each restart interval is predicted from the left
        let first_line = if restart_lines > 0 && y > 0 && y % restart_lines == 0 {
            bits.restart()?;
            true
        } else {
            y == 0
        };
        for i in 0..line {
            let ssss = bits.decode(tables[i % n])?;
            let diff = difference(&mut bits, ssss)?;
            let pred = if i < n {
                if first_line { initial } else { prev[i] }
            } else if first_line {
                cur[i - n]
            } else {
                let (ra, rb, rc) = (cur[i - n], prev[i], prev[i - n]);
                match predictor {
                    1 => ra,
                    2 => rb,
                    3 => rc,
                    4 => ra + rb - rc,
                    5 => ra + ((rb - rc) >> 1),
                    6 => rb + ((ra - rc) >> 1),
                    _ => (ra + rb) >> 1,
                }
            };
            cur[i] = (pred + diff) & 0xffff;
        }
        // lines below `rows` are not decoded: nothing stored depends on them
        out.extend(cur[..cols].iter().map(|&v| ((v as u32) << point) as u16));
        std::mem::swap(&mut prev, &mut cur);
    }
    Ok(out)
}

/// Test support: writes `samples` (rows x width x components) as lossless JPEG with predictor
/// `predictor`, one Huffman table of 5-bit codes for every bit count 0..=16, and a restart
/// marker every `restart` pixels (0: none): an independent encoder, straight from T.81.
#[cfg(test)]
pub(crate) fn encode(
    samples: &[u16],
    width: usize,
    comps: usize,
    precision: u8,
    predictor: u8,
    restart: usize,
) -> Vec<u8> {
    let height = samples.len() / (width * comps);
    let mut out = vec![0xff, 0xd8];
    // DHT: 17 symbols of 5-bit codes (counts[4] = 17)
    let mut dht = vec![0x00];
    let mut counts = [0u8; 16];
    counts[4] = 17;
    dht.extend_from_slice(&counts);
    dht.extend(0..=16u8);
    out.extend_from_slice(&[0xff, 0xc4]);
    out.extend_from_slice(&((dht.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&dht);
    let mut sof = vec![precision];
    sof.extend_from_slice(&(height as u16).to_be_bytes());
    sof.extend_from_slice(&(width as u16).to_be_bytes());
    sof.push(comps as u8);
    for c in 0..comps {
        sof.extend_from_slice(&[c as u8 + 1, 0x11, 0]);
    }
    out.extend_from_slice(&[0xff, 0xc3]);
    out.extend_from_slice(&((sof.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&sof);
    if restart > 0 {
        out.extend_from_slice(&[0xff, 0xdd, 0, 4]);
        out.extend_from_slice(&(restart as u16).to_be_bytes());
    }
    let mut sos = vec![comps as u8];
    for c in 0..comps {
        sos.extend_from_slice(&[c as u8 + 1, 0x00]);
    }
    sos.extend_from_slice(&[predictor, 0, 0]);
    out.extend_from_slice(&[0xff, 0xda]);
    out.extend_from_slice(&((sos.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&sos);

    let mut w = BitWriter { out, acc: 0, n: 0 };
    let v = |x: usize, y: usize, c: usize| i32::from(samples[(y * width + x) * comps + c]);
    let mut restart_row = 0usize;
    let mut rst = 0u8;
    for y in 0..height {
        if restart > 0 && y > 0 && (y * width).is_multiple_of(restart) {
            // pad with ones to a byte, then RSTn
            w.pad();
            w.out.extend_from_slice(&[0xff, 0xd0 + rst]);
            rst = (rst + 1) % 8;
            restart_row = y;
        }
        for x in 0..width {
            for c in 0..comps {
                let first = y == restart_row;
                let pred = if first && x == 0 {
                    1 << (precision - 1)
                } else if first {
                    v(x - 1, y, c)
                } else if x == 0 {
                    v(x, y - 1, c)
                } else {
                    let (ra, rb, rc) = (v(x - 1, y, c), v(x, y - 1, c), v(x - 1, y - 1, c));
                    match predictor {
                        1 => ra,
                        2 => rb,
                        3 => rc,
                        4 => ra + rb - rc,
                        5 => ra + ((rb - rc) >> 1),
                        6 => rb + ((ra - rc) >> 1),
                        _ => (ra + rb) >> 1,
                    }
                };
                // difference modulo 2^16, as a signed value in -32767..=32768
                let mut d = (v(x, y, c) - pred).rem_euclid(65536);
                if d > 32768 {
                    d -= 65536;
                }
                let ssss = if d == 0 {
                    0
                } else {
                    32 - (d.unsigned_abs()).leading_zeros()
                };
                w.put(ssss, 5);
                if (1..16).contains(&ssss) {
                    let bits = if d < 0 { d + (1 << ssss) - 1 } else { d };
                    w.put(bits as u32, ssss);
                }
            }
        }
    }
    w.pad();
    w.out.extend_from_slice(&[0xff, 0xd9]);
    w.out
}

/// Entropy-coded bits with byte stuffing.
#[cfg(test)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

#[cfg(test)]
impl BitWriter {
    fn put(&mut self, v: u32, n: u32) {
        self.acc = (self.acc << n) | u64::from(v);
        self.n += n;
        while self.n >= 8 {
            self.n -= 8;
            let b = (self.acc >> self.n) as u8;
            self.out.push(b);
            if b == 0xff {
                self.out.push(0);
            }
        }
    }

    /// Ones up to the next byte boundary.
    fn pad(&mut self) {
        let pad = (8 - self.n % 8) % 8;
        self.put((1 << pad) - 1, pad);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize, precision: u8, seed: u64) -> Vec<u16> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // smooth ramps with noise, and every fourth sample random over the range
                let max = (1u32 << precision) - 1;
                let v = if i % 4 == 0 {
                    (s >> 33) as u32 % (max + 1)
                } else {
                    ((i as u32 * 7) % (max + 1)).min(max)
                };
                v as u16
            })
            .collect()
    }

    #[test]
    fn every_predictor_precision_and_restart_round_trips() {
        for precision in [2u8, 8, 12, 16] {
            for predictor in 1..=7 {
                for (w, h, comps, restart) in
                    [(13, 7, 3, 0), (8, 5, 1, 0), (9, 6, 3, 18), (5, 4, 2, 5)]
                {
                    let s = samples(
                        w * h * comps,
                        precision,
                        u64::from(predictor) * 31 + w as u64,
                    );
                    let jpeg = encode(&s, w, comps, precision, predictor, restart);
                    let (f, out) = decode(&jpeg, |f| Ok((f.height, f.width * f.components)))
                        .unwrap_or_else(|e| {
                            panic!(
                                "P{precision} pred {predictor} {w}x{h}x{comps} rst {restart}: {e}"
                            )
                        });
                    assert_eq!((f.width, f.height, f.components), (w, h, comps));
                    assert_eq!(
                        out, s,
                        "P{precision} pred {predictor} {w}x{h}x{comps} rst {restart}"
                    );
                }
            }
        }
    }

    #[test]
    fn stores_only_what_the_caller_keeps() {
        let s = samples(10 * 6 * 3, 8, 3);
        let jpeg = encode(&s, 10, 3, 8, 1, 0);
        let (_, out) = decode(&jpeg, |_| Ok((4, 7 * 3))).unwrap();
        let want: Vec<u16> = (0..4)
            .flat_map(|y| s[y * 30..y * 30 + 21].to_vec())
            .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn damaged_streams_are_errors_not_panics() {
        let s = samples(11 * 9 * 3, 8, 5);
        let jpeg = encode(&s, 11, 3, 8, 6, 22);
        for cut in 0..jpeg.len() - 2 {
            assert!(
                decode(&jpeg[..cut], |f| Ok((f.height, f.width * f.components))).is_err(),
                "cut at {cut}"
            );
        }
        let mut x = 0x9e37_79b9u32;
        for _ in 0..2000 {
            let mut b = jpeg.clone();
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let at = x as usize % b.len();
            b[at] = (x >> 8) as u8;
            let _ = decode(&b, |f| Ok((f.height, f.width * f.components)));
        }
        // a caller may refuse the frame before anything is decoded
        let e = decode(&jpeg, |_| Err("too big".into())).unwrap_err();
        assert_eq!(e, "too big");
    }
}
