//! The fine texture: five octaves of value noise summed once into a seamless tile
//! (see the implementation notes of [`super`]), and the gain it modulates radiance by.

use std::sync::OnceLock;

use crate::synth::floor_i64;

/// Texels per side of the texture tile (a power of two; lookups wrap with a mask).
pub(super) const TILE: usize = 1024;
/// Size of a texel in scene pixels: the tile repeats every 768 px along its own axes.
pub(super) const TEXEL_PX: f64 = 0.75;
/// Lattice spacing of the octaves in texels, finest first (3 to 48 px); powers of two that
/// divide `TILE`, so every octave, and the tile, wraps seamlessly.
pub(super) const OCTAVE_TEXELS: [usize; 5] = [4, 8, 16, 32, 64];
/// Octave weights in the luminance texture, finest first.
pub(super) const OCTAVE_WEIGHTS: [f64; 5] = [0.8, 1.0, 1.0, 0.9, 0.8];

/// Hashes a lattice point to a value in [-1, 1].
#[inline]
pub(super) fn lattice(ix: u32, iy: u32, seed: u32) -> f64 {
    let mut h = ix.wrapping_mul(0x9e37_79b1) ^ iy.wrapping_mul(0x85eb_ca77) ^ seed;
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^= h >> 16;
    f64::from(h) * (2.0 / u32::MAX as f64) - 1.0
}

/// Quintic smoothstep 6t^5 - 15t^4 + 10t^3: C2 across lattice cells.
#[inline]
pub(super) fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

/// One octave of value noise on a lattice of `cell` texels (a power of two) that wraps after
/// `TILE` texels: random lattice values in [-1, 1], quintic interpolation between them.
pub(super) struct Octave {
    shift: u32,
    period: usize,
    values: Vec<f64>,
    /// `fade(j / cell)` for each offset `j` inside a cell.
    weights: Vec<f64>,
}

impl Octave {
    fn new(cell: usize, seed: u32) -> Octave {
        let period = TILE / cell;
        Octave {
            shift: cell.trailing_zeros(),
            period,
            values: (0..period * period)
                .map(|i| lattice((i % period) as u32, (i / period) as u32, seed))
                .collect(),
            weights: (0..cell).map(|j| fade(j as f64 / cell as f64)).collect(),
        }
    }

    /// The noise at texel (`tx`, `ty`), both below `TILE`.
    fn at(&self, tx: usize, ty: usize) -> f64 {
        let (gx, gy) = (tx >> self.shift, ty >> self.shift);
        let within = (1 << self.shift) - 1;
        let (u, v) = (self.weights[tx & within], self.weights[ty & within]);
        let wrap = self.period - 1;
        let (x1, y1) = ((gx + 1) & wrap, (gy + 1) & wrap);
        let value = |x: usize, y: usize| self.values[y * self.period + x];
        let top = value(gx, gy) + (value(x1, gy) - value(gx, gy)) * u;
        let bottom = value(gx, y1) + (value(x1, y1) - value(gx, y1)) * u;
        top + (bottom - top) * v
    }
}

/// The fine texture, baked once per process into a seamless tile of `TILE` x `TILE` texels
/// and sampled bilinearly. Evaluating five octaves of value noise directly measured 90 to
/// 150 ns per sample on the 2-core Xeon VM this was written on, a bilinear tile lookup 10 to
/// 14 ns, and the renderer takes 9 samples per photosite. Each texel holds the red, green and
/// blue texture values `z` (zero mean, unit standard deviation for green) and a pad lane.
pub(super) struct TextureTile {
    /// Row-major; a fixed-size array, so that masked indices need no bounds checks.
    texels: Box<[[f32; 4]; TILE * TILE]>,
}

pub(super) static TEXTURE: OnceLock<TextureTile> = OnceLock::new();

impl std::fmt::Debug for TextureTile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextureTile({TILE}x{TILE})")
    }
}

impl TextureTile {
    /// The process-wide tile (built on first use: 16 MB, about 80 ms).
    pub(super) fn get() -> &'static TextureTile {
        TEXTURE.get_or_init(TextureTile::build)
    }

    fn build() -> TextureTile {
        const SEEDS: [u32; 5] = [
            0x1b87_3593,
            0xcc9e_2d51,
            0xe654_6b64,
            0x85eb_ca6b,
            0xc2b2_ae35,
        ];
        let octaves: Vec<Octave> = OCTAVE_TEXELS
            .iter()
            .zip(SEEDS)
            .map(|(&c, s)| Octave::new(c, s))
            .collect();
        // Serial on purpose: this runs inside a `OnceLock` initialiser, and rayon work
        // stealing there could re-enter it from another synthesis on the same thread.
        let (mut sum, mut sum2) = (0.0, 0.0);
        let mut texels: Vec<[f32; 4]> = (0..TILE * TILE)
            .map(|i| {
                let (tx, ty) = (i % TILE, i / TILE);
                let n: [f64; 5] = std::array::from_fn(|o| octaves[o].at(tx, ty));
                let lum: f64 = n.iter().zip(OCTAVE_WEIGHTS).map(|(n, w)| n * w).sum();
                sum += lum;
                sum2 += lum * lum;
                // Red and blue take extra detail from different octaves than green: chroma
                // texture for demosaicking.
                let red = lum + 0.5 * n[1] - 0.4 * n[3];
                let blue = lum - 0.5 * n[2] + 0.4 * n[4];
                [red as f32, lum as f32, blue as f32, 0.0]
            })
            .collect();
        // Normalise to zero mean and unit standard deviation of green.
        let n = (TILE * TILE) as f64;
        let mean = (sum / n) as f32;
        let scale = (1.0 / (sum2 / n - (sum / n).powi(2)).sqrt()) as f32;
        for t in &mut texels {
            for v in &mut t[..3] {
                *v = (*v - mean) * scale;
            }
        }
        TextureTile {
            texels: texels
                .into_boxed_slice()
                .try_into()
                .expect("TILE * TILE texels"),
        }
    }

    /// Bilinear sample at texel coordinates (`u`, `v`); texel `(i, j)` sits at integer
    /// coordinates and the tile wraps.
    #[inline(always)]
    pub(super) fn sample(&self, u: f64, v: f64) -> [f32; 4] {
        const MASK: usize = TILE - 1;
        let (iu, iv) = (floor_i64(u), floor_i64(v));
        let (fu, fv) = ((u - iu as f64) as f32, (v - iv as f64) as f32);
        // Two's complement wrapping makes `& MASK` a true modulo for negative indices too;
        // `row | column` with both masked stays below TILE * TILE.
        let (x0, y0) = (iu as usize & MASK, iv as usize & MASK);
        let (x1, y1) = ((x0 + 1) & MASK, (y0 + 1) & MASK);
        const SHIFT: u32 = TILE.trailing_zeros();
        let (r0, r1) = (y0 << SHIFT, y1 << SHIFT);
        let (t00, t10) = (self.texels[r0 | x0], self.texels[r0 | x1]);
        let (t01, t11) = (self.texels[r1 | x0], self.texels[r1 | x1]);
        std::array::from_fn(|c| {
            let top = t00[c] + (t10[c] - t00[c]) * fu;
            let bottom = t01[c] + (t11[c] - t01[c]) * fu;
            top + (bottom - top) * fv
        })
    }
}

/// A smooth, always positive gain for a texture value `z`: 1 + z + z^2 / 2 (at least 0.5).
#[inline]
pub(super) fn gain(z: f64) -> f64 {
    1.0 + z * (1.0 + 0.5 * z)
}
