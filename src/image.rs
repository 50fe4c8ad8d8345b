//! The buffers that stages pass to each other: [`Plane`], [`Cfa`] and [`Rect`].
//!
//! Pixels are stored row-major in one contiguous `Vec`, structure-of-arrays: a colour image is
//! three planes, never interleaved RGB, so that kernels stream through memory with unit stride
//! and vectorise.

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
    let [r, g, b] = rgb;
    assert!(
        r.data.len() == g.data.len() && g.data.len() == b.data.len(),
        "planes differ in size"
    );
    r.data
        .par_chunks_mut(PIXEL_CHUNK)
        .zip(g.data.par_chunks_mut(PIXEL_CHUNK))
        .zip(b.data.par_chunks_mut(PIXEL_CHUNK))
        .enumerate()
        .for_each(|(k, ((r, g), b))| {
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
    fn crop_copies_the_window() {
        let p = Plane::from_vec(3, 2, vec![1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(p.crop(Rect::new(1, 0, 2, 2)).data, vec![2, 3, 5, 6]);
    }
}
