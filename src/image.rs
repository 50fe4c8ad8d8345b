//! The buffers that stages pass to each other: [`Plane`], [`Cfa`] and [`Rect`].
//!
//! Pixels are stored row-major in one contiguous `Vec`, structure-of-arrays: a colour image is
//! three planes, never interleaved RGB, so that kernels stream through memory with unit stride
//! and vectorise.
//!
//! Also the helpers every stage shares: the border rules (`mirror`, `mirror_symmetric`),
//! bicubic weights, and the parallel loops over three planes in lockstep (`par_rows3`,
//! `par_pixels`).

use serde::{Deserialize, Serialize};

/// A rectangle in pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rect {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

impl Rect {
    /// A rectangle from its origin and size.
    pub const fn new(x: usize, y: usize, width: usize, height: usize) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    /// Whether `inner` lies entirely inside `self`.
    pub fn contains(&self, inner: &Rect) -> bool {
        inner.x >= self.x
            && inner.y >= self.y
            && inner.x + inner.width <= self.x + self.width
            && inner.y + inner.height <= self.y + self.height
    }

    /// The rectangle both `self` and `other` cover, or `None` when they do not overlap (an
    /// empty intersection, touching edges included).
    pub fn intersect(&self, other: &Rect) -> Option<Rect> {
        let (x0, y0) = (self.x.max(other.x), self.y.max(other.y));
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        (x1 > x0 && y1 > y0).then(|| Rect::new(x0, y0, x1 - x0, y1 - y0))
    }
}

/// Border rule "reflect 101": index `i` mirrored into `0..n` about the edge samples, which
/// are not repeated (`.. 2 1 | 0 1 2 .. n-1 | n-2 ..`), and repeated with period `2 (n - 1)`
/// so that any `i` maps to a valid index. It keeps the parity of `i` (so a Bayer phase) for
/// `n >= 2`; 0 when `n <= 1`. Used by the filters and the demosaic.
#[inline]
pub(crate) fn mirror(i: isize, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let n = n as isize;
    let period = 2 * (n - 1);
    let m = i.rem_euclid(period);
    (if m >= n { period - m } else { m }) as usize
}

/// Border rule "symmetric": index `i` mirrored into `0..n` about the plane's outer edges, so
/// the edge samples are repeated (`.. 1 0 | 0 1 .. n-1 | n-1 n-2 ..`). One reflection on each
/// side, then clamped: exact for `-n <= i < 2n`. Used by the frequency-domain merge's padding
/// (its tiles' windows were tuned with it). `n` must be at least 1.
#[inline]
pub(crate) fn mirror_symmetric(i: isize, n: usize) -> usize {
    let n = n as isize;
    let mut i = i;
    if i < 0 {
        i = -i - 1;
    }
    if i >= n {
        i = 2 * n - i - 1;
    }
    i.clamp(0, n - 1) as usize
}

/// A single-channel image, row-major.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plane<T> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` samples, row by row.
    pub data: Vec<T>,
}

impl<T: Copy + Default> Plane<T> {
    /// A plane filled with `T::default()`.
    pub fn new(width: usize, height: usize) -> Self {
        Plane {
            width,
            height,
            data: vec![T::default(); width * height],
        }
    }

    /// A plane that takes ownership of `data`; `None` if its length is not `width * height`.
    pub fn from_vec(width: usize, height: usize, data: Vec<T>) -> Option<Self> {
        (data.len() == width * height).then_some(Plane {
            width,
            height,
            data,
        })
    }

    /// The sample at column `x`, row `y`. Panics when out of bounds.
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> T {
        self.data[y * self.width + x]
    }

    /// Sets the sample at column `x`, row `y`. Panics when out of bounds.
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, v: T) {
        self.data[y * self.width + x] = v;
    }

    /// Row `y` as a slice.
    #[inline]
    pub fn row(&self, y: usize) -> &[T] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    /// A copy of the part of the plane inside `r` (which must lie inside the plane).
    pub fn crop(&self, r: Rect) -> Plane<T> {
        let mut data = Vec::with_capacity(r.width * r.height);
        for y in r.y..r.y + r.height {
            data.extend_from_slice(&self.row(y)[r.x..r.x + r.width]);
        }
        Plane {
            width: r.width,
            height: r.height,
            data,
        }
    }
}

/// Catmull-Rom cubic weights for the four samples around fractional position `t` in [0, 1).
#[inline]
pub(crate) fn cubic_weights(t: f32) -> [f32; 4] {
    let t2 = t * t;
    let t3 = t2 * t;
    [
        0.5 * (-t3 + 2.0 * t2 - t),
        0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
        0.5 * (-3.0 * t3 + 4.0 * t2 + t),
        0.5 * (t3 - t2),
    ]
}

/// Pixels per task of [`par_pixels`].
const PIXEL_CHUNK: usize = 4096;

/// Three planes of one size split in lockstep into chunks of `len` samples (rows when `len`
/// is the width; the last chunk may be shorter), as a parallel iterator of `[r, g, b]`: the
/// shared loop of row passes over a colour image. `len` 0 is taken as 1.
///
/// # Panics
/// If the planes differ in length.
pub(crate) fn par_rows3(
    rgb: &mut [Plane<f32>; 3],
    len: usize,
) -> impl rayon::iter::IndexedParallelIterator<Item = [&mut [f32]; 3]> {
    use rayon::prelude::*;
    let [r, g, b] = rgb;
    assert!(
        r.data.len() == g.data.len() && g.data.len() == b.data.len(),
        "planes differ in size"
    );
    let len = len.max(1);
    r.data
        .par_chunks_mut(len)
        .zip(g.data.par_chunks_mut(len))
        .zip(b.data.par_chunks_mut(len))
        .map(|((r, g), b)| [r, g, b])
}

/// Calls `f(i, r, g, b)` for every pixel `i` of three planes of one length, in parallel over
/// chunks of 4096 pixels: the shared loop of per-pixel colour passes.
///
/// # Panics
/// If the planes differ in length.
pub(crate) fn par_pixels(
    rgb: &mut [Plane<f32>; 3],
    f: impl Fn(usize, &mut f32, &mut f32, &mut f32) + Sync,
) {
    use rayon::prelude::*;
    par_rows3(rgb, PIXEL_CHUNK)
        .enumerate()
        .for_each(|(k, [r, g, b])| {
            let base = k * PIXEL_CHUNK;
            for (i, ((r, g), b)) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()).enumerate() {
                f(base + i, r, g, b);
            }
        });
}

impl Plane<f32> {
    /// Bicubic (Catmull-Rom) sample at index position (`x`, `y`): pixel `k` holds its value
    /// at position `k` (so continuous coordinate `u` is index position `u - 0.5`). Clamped at
    /// the borders; exact on linear ramps.
    #[inline]
    pub fn sample_cubic(&self, x: f32, y: f32) -> f32 {
        let (fx, fy) = (x.floor(), y.floor());
        let (wx, wy) = (cubic_weights(x - fx), cubic_weights(y - fy));
        let (ix, iy) = (fx as i64 - 1, fy as i64 - 1);
        let (mx, my) = (self.width as i64 - 1, self.height as i64 - 1);
        let mut acc = 0.0;
        if ix >= 0 && iy >= 0 && ix + 3 <= mx && iy + 3 <= my {
            for (j, wyj) in wy.iter().enumerate() {
                let row = &self.row(iy as usize + j)[ix as usize..ix as usize + 4];
                acc += wyj * (wx[0] * row[0] + wx[1] * row[1] + wx[2] * row[2] + wx[3] * row[3]);
            }
            return acc;
        }
        for (j, wyj) in wy.iter().enumerate() {
            let row = self.row((iy + j as i64).clamp(0, my) as usize);
            let mut s = 0.0;
            for (i, wxi) in wx.iter().enumerate() {
                s += wxi * row[(ix + i as i64).clamp(0, mx) as usize];
            }
            acc += wyj * s;
        }
        acc
    }
}

/// A colour channel of a Bayer sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    /// Red.
    R = 0,
    /// Green.
    G = 1,
    /// Blue.
    B = 2,
}

/// A 2x2 Bayer colour filter array pattern.
///
/// `colors[(y % 2) * 2 + (x % 2)]` is the colour of the photosite at column `x`, row `y`,
/// counted from the top-left corner of the buffer the pattern belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cfa {
    /// Colours of the four positions of the 2x2 tile, row-major.
    pub colors: [Channel; 4],
}

impl Cfa {
    /// Red-green / green-blue.
    pub const RGGB: Cfa = Cfa {
        colors: [Channel::R, Channel::G, Channel::G, Channel::B],
    };
    /// Blue-green / green-red.
    pub const BGGR: Cfa = Cfa {
        colors: [Channel::B, Channel::G, Channel::G, Channel::R],
    };
    /// Green-red / blue-green.
    pub const GRBG: Cfa = Cfa {
        colors: [Channel::G, Channel::R, Channel::B, Channel::G],
    };
    /// Green-blue / red-green.
    pub const GBRG: Cfa = Cfa {
        colors: [Channel::G, Channel::B, Channel::R, Channel::G],
    };

    /// The four valid Bayer patterns.
    pub const ALL: [Cfa; 4] = [Cfa::RGGB, Cfa::BGGR, Cfa::GRBG, Cfa::GBRG];

    /// Parses "RGGB", "BGGR", "GRBG" or "GBRG" (case-insensitive).
    pub fn parse(s: &str) -> Option<Cfa> {
        Cfa::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The pattern's name, e.g. "RGGB".
    pub fn name(&self) -> &'static str {
        match self.colors {
            [Channel::R, Channel::G, Channel::G, Channel::B] => "RGGB",
            [Channel::B, Channel::G, Channel::G, Channel::R] => "BGGR",
            [Channel::G, Channel::R, Channel::B, Channel::G] => "GRBG",
            _ => "GBRG",
        }
    }

    /// The colour at column `x`, row `y`.
    #[inline]
    pub fn color_at(&self, x: usize, y: usize) -> Channel {
        self.colors[(y & 1) * 2 + (x & 1)]
    }

    /// The pattern seen from a buffer whose origin is at (`dx`, `dy`) of this one.
    pub fn shifted(&self, dx: usize, dy: usize) -> Cfa {
        let mut colors = self.colors;
        for (i, c) in colors.iter_mut().enumerate() {
            *c = self.color_at(i % 2 + dx, i / 2 + dy);
        }
        Cfa { colors }
    }

    /// Whether the four colours form a Bayer pattern (two greens on a diagonal, one red, one
    /// blue).
    pub fn is_bayer(&self) -> bool {
        Cfa::ALL.contains(self)
    }
}

impl std::fmt::Display for Cfa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Turns an image upright according to its EXIF orientation (1-8; anything else is 1).
/// Used by [`crate::finish`] and, to undo it, by [`crate::look`] ([`unorient`]).
pub fn orient(rgb: [Plane<f32>; 3], orientation: u16) -> [Plane<f32>; 3] {
    if !(2..=8).contains(&orientation) {
        return rgb;
    }
    let (w, h) = (rgb[0].width, rgb[0].height);
    let swap = orientation >= 5;
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    // source (x, y) of output pixel (X, Y)
    let src = move |x_out: usize, y_out: usize| -> (usize, usize) {
        match orientation {
            2 => (w - 1 - x_out, y_out),
            3 => (w - 1 - x_out, h - 1 - y_out),
            4 => (x_out, h - 1 - y_out),
            5 => (y_out, x_out),
            6 => (y_out, h - 1 - x_out),
            7 => (w - 1 - y_out, h - 1 - x_out),
            _ => (w - 1 - y_out, x_out), // 8
        }
    };
    rgb.map(|p| {
        let mut out = Plane::new(ow, oh);
        use rayon::prelude::*;
        out.data
            .par_chunks_mut(ow.max(1))
            .enumerate()
            .for_each(|(y, row)| {
                for (x, v) in row.iter_mut().enumerate() {
                    let (sx, sy) = src(x, y);
                    *v = p.data[sy * w + sx];
                }
            });
        out
    })
}

/// Undoes [`orient`]: `unorient(orient(rgb, o), o) == rgb` for every orientation `o`.
pub fn unorient(rgb: [Plane<f32>; 3], orientation: u16) -> [Plane<f32>; 3] {
    // every orientation is its own inverse except the two quarter turns
    let inverse = match orientation {
        6 => 8,
        8 => 6,
        o => o,
    };
    orient(rgb, inverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfa_shift_cycles_through_all_patterns() {
        assert_eq!(Cfa::RGGB.shifted(1, 0), Cfa::GRBG);
        assert_eq!(Cfa::RGGB.shifted(0, 1), Cfa::GBRG);
        assert_eq!(Cfa::RGGB.shifted(1, 1), Cfa::BGGR);
        assert_eq!(Cfa::RGGB.shifted(2, 2), Cfa::RGGB);
        for c in Cfa::ALL {
            assert_eq!(Cfa::parse(c.name()), Some(c));
        }
        assert_eq!(Cfa::parse("xtrans"), None);
    }

    #[test]
    fn rects_intersect() {
        let a = Rect::new(2, 3, 10, 5);
        assert_eq!(
            a.intersect(&Rect::new(8, 0, 10, 5)),
            Some(Rect::new(8, 3, 4, 2))
        );
        assert_eq!(a.intersect(&a), Some(a));
        assert_eq!(a.intersect(&Rect::new(12, 3, 4, 4)), None); // touching
        assert_eq!(a.intersect(&Rect::new(0, 0, 0, 0)), None);
        let inner = Rect::new(4, 4, 2, 2);
        assert_eq!(a.intersect(&inner), Some(inner));
    }

    #[test]
    fn border_rules() {
        // reflect 101 on 3 samples: .. 2 1 | 0 1 2 | 1 0 1 2 ..
        let got: Vec<usize> = (-4..8).map(|i| mirror(i, 3)).collect();
        assert_eq!(got, [0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1]);
        assert_eq!(mirror(-3, 1), 0);
        // symmetric on 3 samples: 2 1 0 | 0 1 2 | 2 1 0, clamped beyond
        let got: Vec<usize> = (-4..8).map(|i| mirror_symmetric(i, 3)).collect();
        assert_eq!(got, [2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 0]);
    }

    #[test]
    fn rows_of_three_planes_move_in_lockstep() {
        use rayon::prelude::*;
        let mut rgb = [0.0f32, 10.0, 20.0]
            .map(|o| Plane::from_vec(3, 2, (0..6).map(|i| o + i as f32).collect()).unwrap());
        let sums: Vec<f32> = par_rows3(&mut rgb, 3)
            .map(|[r, g, b]| r.iter().chain(g.iter()).chain(b.iter()).sum())
            .collect();
        assert_eq!(sums, [3.0 + 33.0 + 63.0, 12.0 + 42.0 + 72.0]);
    }

    #[test]
    fn crop_copies_the_window() {
        let p = Plane::from_vec(3, 2, vec![1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(p.crop(Rect::new(1, 0, 2, 2)).data, vec![2, 3, 5, 6]);
    }
}
