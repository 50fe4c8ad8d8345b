//! The corruption sweep's seeded mutations (tests/corruption.rs), shared with the regression
//! tests that make its findings again from the real files (tests/fuzz_regressions.rs): a
//! mutation is reproduced from the file, its kind and the generator's state before it.

/// xorshift64* (Vigna): small, seedable, good enough to pick offsets. The field is the state:
/// `Rng(state)` goes on from a state the sweep reported.
pub struct Rng(pub u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The kinds of damage, in the order of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// 1 to 4 bytes changed in the first 4 kB.
    FlipHead,
    /// 1 to 16 bytes changed anywhere.
    FlipAny,
    /// The file cut short (in its first 4 kB half the time).
    Truncate,
    /// A 32-bit field set to 0, 0x7fffffff or 0xffffffff (a TIFF entry's count or value most
    /// of the time, when the file is a TIFF).
    Stomp,
    /// A run of 4 to 4096 bytes copied over, or inserted at, another place.
    Repeat,
}

/// Every kind, in the order the sweep cycles through them (mutation `m` is `KINDS[m % 5]`).
pub const KINDS: [Kind; 5] = [
    Kind::FlipHead,
    Kind::FlipAny,
    Kind::Truncate,
    Kind::Stomp,
    Kind::Repeat,
];

/// The file offsets of the 4-byte count and value fields of every TIFF IFD entry (IFD chain,
/// SubIFDs, EXIF), and whether the file is little-endian. Empty for non-TIFF files.
pub fn tiff_fields(b: &[u8]) -> (Vec<usize>, bool) {
    let little = match b.get(..4) {
        Some([b'I', b'I', 42, 0]) => true,
        Some([b'M', b'M', 0, 42]) => false,
        _ => return (Vec::new(), true),
    };
    let u16_at = |o: usize| {
        b.get(o..o + 2).map(|s| {
            if little {
                u16::from_le_bytes([s[0], s[1]])
            } else {
                u16::from_be_bytes([s[0], s[1]])
            }
        })
    };
    let u32_at = |o: usize| {
        b.get(o..o + 4).map(|s| {
            let a = [s[0], s[1], s[2], s[3]];
            if little {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            }
        })
    };
    let mut fields = Vec::new();
    let mut todo = vec![u32_at(4).unwrap_or(0) as usize];
    let mut seen = std::collections::HashSet::new();
    while let Some(ifd) = todo.pop() {
        if ifd == 0 || !seen.insert(ifd) || seen.len() > 64 {
            continue;
        }
        let Some(n) = u16_at(ifd) else { continue };
        for k in 0..usize::from(n).min(512) {
            let e = ifd + 2 + 12 * k;
            let (Some(tag), Some(typ), Some(count)) = (u16_at(e), u16_at(e + 2), u32_at(e + 4))
            else {
                break;
            };
            fields.extend([e + 4, e + 8]);
            if matches!(tag, 330 | 34665 | 34853) {
                // sub-IFD offsets: inline when one LONG, else at the value offset
                let at = if count == 1 {
                    e + 8
                } else {
                    u32_at(e + 8).unwrap_or(0) as usize
                };
                for i in 0..(count as usize).min(16) {
                    if typ == 4 || typ == 13 {
                        todo.extend(u32_at(at + 4 * i).map(|v| v as usize));
                    }
                }
            }
        }
        todo.extend(u32_at(ifd + 2 + 12 * usize::from(n)).map(|v| v as usize));
    }
    (fields, little)
}

/// One mutated copy of `orig`.
pub fn mutate(orig: &[u8], kind: Kind, rng: &mut Rng, fields: &(Vec<usize>, bool)) -> Vec<u8> {
    let len = orig.len();
    let head = len.min(4096);
    let mut b = orig.to_vec();
    match kind {
        Kind::FlipHead => {
            for _ in 0..1 + rng.below(4) {
                b[rng.below(head)] ^= 1 + rng.below(255) as u8;
            }
        }
        Kind::FlipAny => {
            for _ in 0..1 + rng.below(16) {
                b[rng.below(len)] ^= 1 + rng.below(255) as u8;
            }
        }
        Kind::Truncate => {
            let cut = if rng.below(2) == 0 {
                rng.below(head)
            } else {
                rng.below(len)
            };
            b.truncate(cut);
        }
        Kind::Stomp => {
            let value = [0u32, 0x7fff_ffff, 0xffff_ffff][rng.below(3)];
            let (at, little) = if !fields.0.is_empty() && rng.below(10) < 7 {
                (fields.0[rng.below(fields.0.len())], fields.1)
            } else if rng.below(2) == 0 {
                (rng.below(head) & !3, rng.below(2) == 0)
            } else {
                (rng.below(len) & !3, rng.below(2) == 0)
            };
            let v = if little {
                value.to_le_bytes()
            } else {
                value.to_be_bytes()
            };
            let at = at.min(len);
            let end = (at + 4).min(len);
            b[at..end].copy_from_slice(&v[..end - at]);
        }
        Kind::Repeat => {
            let n = (4 + rng.below(4093)).min(len);
            let from = rng.below(len - n + 1);
            let chunk = orig[from..from + n].to_vec();
            let to = if rng.below(2) == 0 {
                rng.below(head)
            } else {
                rng.below(len)
            };
            if rng.below(2) == 0 {
                b.splice(to..to, chunk);
            } else {
                let end = (to + n).min(len);
                b[to..end].copy_from_slice(&chunk[..end - to]);
            }
        }
    }
    b
}
