//! 3D colour lookup tables: Adobe/Resolve `.cube` files and Hald CLUT images, applied with
//! tetrahedral interpolation.
//!
//! # Encoding
//! A LUT maps display-encoded RGB (sRGB transfer curve, the values [`crate::finish::Finished`]
//! holds) to display-encoded RGB, which is how grading tools export them. Inputs outside
//! `DOMAIN_MIN..DOMAIN_MAX` are clamped to it.
//!
//! # `.cube`
//! The Adobe "Cube LUT Specification 1.0" as Resolve writes it: `TITLE "..."`,
//! `LUT_3D_SIZE N` (2 to 256), optional `DOMAIN_MIN r g b` / `DOMAIN_MAX r g b`, `#`
//! comments and blank lines anywhere, keywords before the data, then `N^3` lines of three
//! numbers with **red varying fastest**. 1D LUTs (`LUT_1D_SIZE`) are refused. Every error
//! names the file and the line.
//!
//! # Hald CLUT
//! A square image of `L^3 x L^3` pixels holds a LUT of size `L^2`: pixel `i` (row-major) is
//! the entry for red `i % N`, green `(i / N) % N`, blue `i / N^2`.
//!
//! # Tetrahedral interpolation
//! Each cube cell is split into six tetrahedra along its neutral diagonal; a colour is
//! interpolated from the four corners of the tetrahedron that holds it (Kasson, Nin, Plouffe,
//! Hafner, "Performing color space conversions with three-dimensional linear
//! interpolation", 1995). On the diagonal only the two diagonal corners take part, so a LUT
//! whose diagonal entries are grey keeps greys exactly grey, which trilinear interpolation
//! does not guarantee.

use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::image::Plane;

/// Largest `LUT_3D_SIZE` accepted (256^3 entries, 200 MB).
pub const MAX_SIZE: usize = 256;

/// A 3D LUT: `size^3` RGB entries, red fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut3d {
    /// Entries per axis, 2..=256.
    pub size: usize,
    /// Input value mapped to the first entry, per channel (default 0).
    pub domain_min: [f32; 3],
    /// Input value mapped to the last entry, per channel (default 1).
    pub domain_max: [f32; 3],
    /// The `TITLE`, if any.
    pub title: Option<String>,
    /// Entries, index `r + size * (g + size * b)`.
    pub table: Vec<[f32; 3]>,
}

impl Lut3d {
    /// The identity LUT of `size` entries per axis (2..=256).
    pub fn identity(size: usize) -> Lut3d {
        let size = size.clamp(2, MAX_SIZE);
        let s = (size - 1) as f32;
        let table = (0..size * size * size)
            .map(|i| {
                let (r, g, b) = (i % size, (i / size) % size, i / (size * size));
                [r as f32 / s, g as f32 / s, b as f32 / s]
            })
            .collect();
        Lut3d {
            size,
            domain_min: [0.0; 3],
            domain_max: [1.0; 3],
            title: None,
            table,
        }
    }

    /// A LUT of `size` entries per axis whose entry at encoded colour `c` is `f(c)`.
    pub fn from_fn(size: usize, f: impl Fn([f32; 3]) -> [f32; 3] + Sync) -> Lut3d {
        let mut lut = Lut3d::identity(size);
        lut.table.par_iter_mut().for_each(|e| *e = f(*e));
        lut
    }

    /// Loads a `.cube` file, or a Hald CLUT from a PNG/TIFF/JPEG image.
    pub fn load(path: &Path) -> Result<Lut3d> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ext == "cube" {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            Lut3d::parse_cube(&text, path)
        } else {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            Lut3d::from_image_bytes(&bytes, path)
        }
    }

    /// A Hald CLUT from the bytes of an image file (PNG, TIFF, JPEG); `path` names it in
    /// errors. Images beyond the largest Hald CLUT (4096 x 4096, level 16) are refused
    /// before their pixels are allocated.
    pub fn from_image_bytes(bytes: &[u8], path: &Path) -> Result<Lut3d> {
        let bad = |e: String| Error::decode(path, format!("not a readable Hald CLUT image: {e}"));
        let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| bad(e.to_string()))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(4096);
        limits.max_image_height = Some(4096);
        limits.max_alloc = Some(512 << 20);
        reader.limits(limits);
        let img = reader
            .decode()
            .map_err(|e| bad(e.to_string()))?
            .into_rgb16();
        let (w, h) = img.dimensions();
        let px: Vec<[f32; 3]> = img
            .pixels()
            .map(|p| p.0.map(|v| f32::from(v) / 65535.0))
            .collect();
        Lut3d::from_hald(w as usize, h as usize, px, path)
    }

    /// A LUT from the pixels of a Hald CLUT image (`w x h`, row-major, encoded RGB).
    pub fn from_hald(w: usize, h: usize, px: Vec<[f32; 3]>, path: &Path) -> Result<Lut3d> {
        let level = (2..=16).find(|l| l * l * l == w);
        let Some(level) = level.filter(|_| w == h && px.len() == w * h) else {
            return Err(Error::decode(
                path,
                format!(
                    "a {w}x{h} image is not a Hald CLUT (a square of L^3 x L^3 pixels, L = 2 to 16)"
                ),
            ));
        };
        Ok(Lut3d {
            size: level * level,
            domain_min: [0.0; 3],
            domain_max: [1.0; 3],
            title: None,
            table: px,
        })
    }

    /// Parses the text of a `.cube` file; `path` names it in errors.
    pub fn parse_cube(text: &str, path: &Path) -> Result<Lut3d> {
        let err = |line: usize, what: String| Error::decode(path, format!("line {line}: {what}"));
        let mut size = None;
        let mut title = None;
        let mut domain_min = [0.0f32; 3];
        let mut domain_max = [1.0f32; 3];
        let mut table: Vec<[f32; 3]> = Vec::new();
        let mut last_line = 0;
        for (k, raw) in text.lines().enumerate() {
            let line_no = k + 1;
            last_line = line_no;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let key = words.next().unwrap_or("");
            let numbers = |words: std::str::SplitWhitespace| -> Result<[f32; 3]> {
                let v: Vec<&str> = words.collect();
                if v.len() != 3 {
                    return Err(err(
                        line_no,
                        format!("expected 3 numbers, found {}", v.len()),
                    ));
                }
                let mut out = [0.0f32; 3];
                for (o, s) in out.iter_mut().zip(&v) {
                    *o = s
                        .parse::<f32>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| err(line_no, format!("{s:?} is not a number")))?;
                }
                Ok(out)
            };
            let is_data =
                key.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
            if is_data {
                let Some(n) = size else {
                    return Err(err(line_no, "data before LUT_3D_SIZE".into()));
                };
                if table.len() == n * n * n {
                    return Err(err(
                        line_no,
                        format!("more than {n}^3 = {} entries", n * n * n),
                    ));
                }
                table.push(numbers(line.split_whitespace())?);
                continue;
            }
            if !table.is_empty() {
                return Err(err(line_no, format!("keyword {key} after the data")));
            }
            match key {
                "TITLE" => {
                    let t = line["TITLE".len()..].trim().trim_matches('"');
                    title = Some(t.to_string());
                }
                "LUT_3D_SIZE" => {
                    let v: Vec<&str> = words.collect();
                    let n = match v.as_slice() {
                        [s] => s.parse::<usize>().ok(),
                        _ => None,
                    };
                    match n {
                        Some(n) if (2..=MAX_SIZE).contains(&n) => size = Some(n),
                        _ => {
                            return Err(err(
                                line_no,
                                format!(
                                    "LUT_3D_SIZE {}: must be a whole number from 2 to {MAX_SIZE}",
                                    v.join(" ")
                                ),
                            ));
                        }
                    }
                }
                "DOMAIN_MIN" => domain_min = numbers(words)?,
                "DOMAIN_MAX" => domain_max = numbers(words)?,
                "LUT_1D_SIZE" => {
                    return Err(err(line_no, "1D LUTs are not supported, only 3D".into()));
                }
                "LUT_1D_INPUT_RANGE" | "LUT_3D_INPUT_RANGE" => {
                    let v: Vec<f32> = words.filter_map(|w| w.parse().ok()).collect();
                    let [lo, hi] = v[..] else {
                        return Err(err(line_no, format!("{key} needs two numbers")));
                    };
                    domain_min = [lo; 3];
                    domain_max = [hi; 3];
                }
                other => return Err(err(line_no, format!("unknown keyword {other:?}"))),
            }
        }
        let Some(n) = size else {
            return Err(err(last_line.max(1), "no LUT_3D_SIZE line".into()));
        };
        if table.len() != n * n * n {
            return Err(err(
                last_line,
                format!(
                    "{} entries, LUT_3D_SIZE {n} needs {}",
                    table.len(),
                    n * n * n
                ),
            ));
        }
        if (0..3).any(|c| domain_max[c] <= domain_min[c]) {
            return Err(err(
                last_line,
                format!("DOMAIN_MAX {domain_max:?} must exceed DOMAIN_MIN {domain_min:?}"),
            ));
        }
        Ok(Lut3d {
            size: n,
            domain_min,
            domain_max,
            title,
            table,
        })
    }

    /// The LUT as `.cube` text (values printed so that they parse back exactly).
    pub fn to_cube(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.title {
            s.push_str(&format!("TITLE \"{}\"\n", t.replace('"', "'")));
        }
        s.push_str(&format!("LUT_3D_SIZE {}\n", self.size));
        let [a, b, c] = self.domain_min;
        s.push_str(&format!("DOMAIN_MIN {a:?} {b:?} {c:?}\n"));
        let [a, b, c] = self.domain_max;
        s.push_str(&format!("DOMAIN_MAX {a:?} {b:?} {c:?}\n"));
        for [r, g, b] in &self.table {
            s.push_str(&format!("{r:?} {g:?} {b:?}\n"));
        }
        s
    }

    /// Writes the LUT as a `.cube` file (atomically).
    pub fn save_cube(&self, path: &Path) -> Result<()> {
        crate::io::write_bytes_atomic(path, self.to_cube().as_bytes())
    }

    #[inline]
    fn at(&self, r: usize, g: usize, b: usize) -> [f32; 3] {
        self.table[r + self.size * (g + self.size * b)]
    }

    /// The LUT's output for one encoded colour (tetrahedral interpolation; see the module
    /// docs). Inputs are clamped to the domain; NaN is treated as the domain's minimum.
    pub fn sample(&self, c: [f32; 3]) -> [f32; 3] {
        let n = self.size - 1;
        let mut idx = [0usize; 3];
        let mut f = [0.0f32; 3];
        for k in 0..3 {
            let v = if c[k].is_nan() {
                self.domain_min[k]
            } else {
                c[k]
            };
            let t = ((v - self.domain_min[k]) / (self.domain_max[k] - self.domain_min[k]))
                .clamp(0.0, 1.0)
                * n as f32;
            let i = (t as usize).min(n - 1);
            idx[k] = i;
            f[k] = t - i as f32;
        }
        let [r, g, b] = idx;
        let [fr, fg, fb] = f;
        let c000 = self.at(r, g, b);
        let c111 = self.at(r + 1, g + 1, b + 1);
        // the tetrahedron: the path from c000 to c111 through one corner per step, in the
        // order of the largest fraction first
        let (w, c1, c2) = if fr > fg {
            if fg > fb {
                ([fr, fg, fb], self.at(r + 1, g, b), self.at(r + 1, g + 1, b))
            } else if fr > fb {
                ([fr, fb, fg], self.at(r + 1, g, b), self.at(r + 1, g, b + 1))
            } else {
                ([fb, fr, fg], self.at(r, g, b + 1), self.at(r + 1, g, b + 1))
            }
        } else if fb > fg {
            ([fb, fg, fr], self.at(r, g, b + 1), self.at(r, g + 1, b + 1))
        } else if fb > fr {
            ([fg, fb, fr], self.at(r, g + 1, b), self.at(r, g + 1, b + 1))
        } else {
            ([fg, fr, fb], self.at(r, g + 1, b), self.at(r + 1, g + 1, b))
        };
        // barycentric form: on the diagonal (equal fractions) the two off-diagonal corners get
        // a weight of exactly 0, so a grey diagonal gives exactly grey
        let (a, b1, b2, d) = (1.0 - w[0], w[0] - w[1], w[1] - w[2], w[2]);
        std::array::from_fn(|k| a * c000[k] + b1 * c1[k] + b2 * c2[k] + d * c111[k])
    }

    /// Applies the LUT to encoded RGB planes in place, blended with the input by `strength`
    /// (0 = unchanged, 1 = the LUT's output; clamped to 0..=1).
    pub fn apply(&self, rgb: &mut [Plane<f32>; 3], strength: f32) {
        let s = if strength.is_finite() {
            strength.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if s == 0.0 {
            return;
        }
        let sampler = Sampler::new(self);
        crate::image::par_pixels(rgb, |_, r, g, b| {
            let out = sampler.sample([*r, *g, *b]);
            *r += s * (out[0] - *r);
            *g += s * (out[1] - *g);
            *b += s * (out[2] - *b);
        });
    }
}

/// The fast form of [`Lut3d::sample`] for per-pixel loops: the domain scaling precomputed
/// and the tetrahedron chosen without branches (a table indexed by the three comparisons of
/// the fractions, so that noisy images do not pay a mispredicted branch per pixel). Tested
/// against [`Lut3d::sample`], the reference.
///
/// Speed (`cargo bench --bench finish`, 12 MP, 2 threads, 65^3): 185 ms for the LUT pass of
/// a look, against 248 ms with the branching reference.
#[derive(Clone, Copy)]
pub(crate) struct Sampler<'a> {
    table: &'a [[f32; 3]],
    min: [f32; 3],
    scale: [f32; 3],
    last: f32,
    /// Index steps of one entry along red, green and blue.
    stride: [usize; 3],
}

/// For each outcome of (r > g, g > b, r > b) on the fractions (bits 0, 1, 2), the axes in
/// decreasing order of fraction. Outcomes that cannot happen map to any order.
const ORDER: [[usize; 3]; 8] = [
    [2, 1, 0], // 0: b >= g >= r
    [2, 0, 1], // 1: b >= r > g
    [1, 2, 0], // 2: g > b >= r
    [0, 1, 2], // 3: cannot happen (r > g > b >= r)
    [2, 1, 0], // 4: cannot happen (r <= g <= b < r)
    [0, 2, 1], // 5: r > b >= g
    [1, 0, 2], // 6: g >= r > b
    [0, 1, 2], // 7: r > g > b
];

impl<'a> Sampler<'a> {
    /// Prepares sampling `lut`.
    pub(crate) fn new(lut: &'a Lut3d) -> Sampler<'a> {
        let n = (lut.size - 1) as f32;
        Sampler {
            table: &lut.table,
            min: lut.domain_min,
            scale: std::array::from_fn(|k| n / (lut.domain_max[k] - lut.domain_min[k])),
            last: n,
            stride: [1, lut.size, lut.size * lut.size],
        }
    }

    /// Same result as [`Lut3d::sample`] (to rounding).
    #[inline(always)]
    pub(crate) fn sample(&self, c: [f32; 3]) -> [f32; 3] {
        let mut base = 0;
        let mut f = [0.0f32; 3];
        for k in 0..3 {
            // `max` maps NaN to 0 (the domain's minimum), like the reference
            let t = ((c[k] - self.min[k]) * self.scale[k])
                .max(0.0)
                .min(self.last);
            let i = (t as usize).min(self.last as usize - 1);
            f[k] = t - i as f32;
            base += i * self.stride[k];
        }
        let code = usize::from(f[0] > f[1])
            | usize::from(f[1] > f[2]) << 1
            | usize::from(f[0] > f[2]) << 2;
        let [a0, a1, a2] = ORDER[code];
        let (w0, w1, w2) = (f[a0], f[a1], f[a2]);
        let i1 = base + self.stride[a0];
        let i2 = i1 + self.stride[a1];
        let i3 = base + self.stride[0] + self.stride[1] + self.stride[2];
        let (c0, c1, c2, c3) = (
            self.table[base],
            self.table[i1],
            self.table[i2],
            self.table[i3],
        );
        let (x0, x1, x2, x3) = (1.0 - w0, w0 - w1, w1 - w2, w2);
        std::array::from_fn(|k| x0 * c0[k] + x1 * c1[k] + x2 * c2[k] + x3 * c3[k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::rng::Rng;

    fn p() -> &'static Path {
        Path::new("test.cube")
    }

    fn random_colours(n: usize, seed: u64) -> Vec<[f32; 3]> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| std::array::from_fn(|_| rng.uniform() as f32))
            .collect()
    }

    #[test]
    fn identity_cubes_leave_colours_unchanged() {
        let colours = random_colours(20_000, 1);
        for size in [2, 17, 33, 65] {
            let lut = Lut3d::parse_cube(&Lut3d::identity(size).to_cube(), p()).unwrap();
            let worst = colours
                .iter()
                .map(|c| {
                    let o = lut.sample(*c);
                    (0..3).map(|k| (o[k] - c[k]).abs()).fold(0.0, f32::max)
                })
                .fold(0.0, f32::max);
            assert!(worst < 1.0 / 4096.0, "size {size}: {worst}");
        }
    }

    #[test]
    fn the_fast_sampler_matches_the_reference() {
        for (size, seed) in [(2, 3), (17, 4), (65, 5)] {
            // random entries, so that every tetrahedron gives a different answer
            let mut lut = Lut3d::identity(size);
            let noise = random_colours(lut.table.len(), seed);
            for (e, n) in lut.table.iter_mut().zip(noise) {
                *e = n;
            }
            lut.domain_min = [0.1, 0.0, -0.2];
            lut.domain_max = [0.9, 1.0, 1.3];
            let fast = Sampler::new(&lut);
            let mut colours = random_colours(20_000, seed + 10);
            // ties between fractions, grid points, out of the domain, non-finite
            for c in colours.iter_mut().take(3000) {
                let v = c[0];
                *c = match (c[1] * 6.0) as usize {
                    0 => [v, v, c[2]],
                    1 => [c[2], v, v],
                    2 => [v, c[2], v],
                    3 => [v, v, v],
                    4 => [c[0] * 3.0 - 1.0, c[1] * 3.0 - 1.0, c[2] * 3.0 - 1.0],
                    _ => [f32::NAN, f32::INFINITY, -f32::INFINITY],
                };
            }
            let mut worst = 0.0f32;
            for c in colours {
                let (a, b) = (lut.sample(c), fast.sample(c));
                for k in 0..3 {
                    worst = worst.max((a[k] - b[k]).abs());
                }
            }
            assert!(worst < 1e-5, "size {size}: {worst}");
        }
    }

    #[test]
    fn a_swapping_lut_swaps_and_greys_stay_exactly_grey() {
        let swap = Lut3d::from_fn(9, |[r, g, b]| [b, r, g]);
        for c in random_colours(1000, 2) {
            let o = swap.sample(c);
            assert!(
                (o[0] - c[2]).abs() < 1e-5
                    && (o[1] - c[0]).abs() < 1e-5
                    && (o[2] - c[1]).abs() < 1e-5
            );
        }
        // a strongly non-linear LUT whose diagonal is grey: greys come out exactly grey
        let wild = Lut3d::from_fn(7, |[r, g, b]| {
            let y = (r + g + b) / 3.0;
            let k = y.powf(0.7);
            [
                k + 0.5 * (r - g),
                k + 0.3 * (b - r) * (g - 0.2),
                k + (g - b).powi(2),
            ]
        });
        for i in 0..=1000 {
            let v = i as f32 / 1000.0;
            let o = wild.sample([v, v, v]);
            assert!(o[0] == o[1] && o[1] == o[2], "{v}: {o:?}");
        }
        // trilinear interpolation would not keep them: the off-diagonal corners differ
        assert!(wild.at(1, 0, 0) != wild.at(0, 1, 0));
    }

    #[test]
    fn cube_round_trips_exactly_with_title_and_domain() {
        let mut lut = Lut3d::from_fn(5, |[r, g, b]| [r * 0.9 + 0.01, g.sqrt(), b * b]);
        lut.title = Some("round trip".into());
        lut.domain_min = [-0.1, 0.0, 0.0];
        lut.domain_max = [1.5, 1.0, 2.0];
        let back = Lut3d::parse_cube(&lut.to_cube(), p()).unwrap();
        assert_eq!(back, lut);
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_accepted() {
        let text = "# made by hand\r\nTITLE \"x\"\r\n\r\nLUT_3D_SIZE 2 # two\r\n0 0 0\r\n1 0 0\r\n0 1 0\r\n1 1 0\r\n# mid\r\n0 0 1\r\n1 0 1\r\n0 1 1\r\n1 1 1\r\n";
        let lut = Lut3d::parse_cube(text, p()).unwrap();
        assert_eq!(
            lut,
            Lut3d {
                title: Some("x".into()),
                ..Lut3d::identity(2)
            }
        );
    }

    #[test]
    fn malformed_cubes_name_the_file_and_line() {
        let good = Lut3d::identity(2).to_cube();
        let lines: Vec<&str> = good.lines().collect();
        let cases: Vec<(String, &str, &str)> = vec![
            (lines[..lines.len() - 1].join("\n"), "line 10", "7 entries"),
            (format!("{good}0 0 0\n"), "line 12", "more than"),
            (
                good.replace("0.0 1.0 0.0", "0.0 x 0.0"),
                "line 6",
                "\"x\" is not a number",
            ),
            (
                good.replace("0.0 1.0 0.0", "0.0 1.0"),
                "line 6",
                "expected 3 numbers",
            ),
            (
                good.replace("LUT_3D_SIZE 2", ""),
                "line 4",
                "data before LUT_3D_SIZE",
            ),
            ("TITLE \"t\"\n".to_string(), "line 1", "no LUT_3D_SIZE"),
            (
                good.replace("LUT_3D_SIZE 2", "LUT_3D_SIZE 1"),
                "line 1",
                "from 2 to 256",
            ),
            (
                good.replace("LUT_3D_SIZE 2", "LUT_3D_SIZE 300"),
                "line 1",
                "from 2 to 256",
            ),
            (
                good.replace("LUT_3D_SIZE 2", "LUT_1D_SIZE 2"),
                "line 1",
                "1D LUTs",
            ),
            (
                good.replace("LUT_3D_SIZE 2", "LUT_3D_SIZE 2\nFOO 1"),
                "line 2",
                "unknown keyword",
            ),
            (
                format!("{good}TITLE \"late\"\n"),
                "line 12",
                "after the data",
            ),
            (
                good.replace("DOMAIN_MAX 1.0 1.0 1.0", "DOMAIN_MAX 0.0 1.0 1.0"),
                "line 11",
                "DOMAIN_MAX",
            ),
        ];
        for (text, line, what) in cases {
            let e = Lut3d::parse_cube(&text, p()).unwrap_err().to_string();
            assert!(
                e.contains("test.cube") && e.contains(line) && e.contains(what),
                "{e}"
            );
        }
    }

    #[test]
    fn hald_identity_and_bad_sizes() {
        // level 4: 64x64 pixels, a 16-entry LUT
        let id = Lut3d::identity(16);
        let lut = Lut3d::from_hald(64, 64, id.table.clone(), p()).unwrap();
        assert_eq!(lut, id);
        assert!(Lut3d::from_hald(60, 60, vec![[0.0; 3]; 3600], p()).is_err());
        assert!(Lut3d::from_hald(64, 32, vec![[0.0; 3]; 2048], p()).is_err());
    }

    #[test]
    fn apply_blends_by_strength() {
        let swap = Lut3d::from_fn(9, |[r, g, b]| [b, r, g]);
        let mk = |v: [f32; 3]| -> [Plane<f32>; 3] {
            std::array::from_fn(|c| Plane::from_vec(3, 1, vec![v[c]; 3]).unwrap())
        };
        let mut img = mk([0.8, 0.4, 0.2]);
        swap.apply(&mut img, 0.5);
        let want = [0.5, 0.6, 0.3];
        for c in 0..3 {
            assert!((img[c].data[1] - want[c]).abs() < 1e-5);
        }
        let mut same = mk([0.8, 0.4, 0.2]);
        swap.apply(&mut same, 0.0);
        assert_eq!(same, mk([0.8, 0.4, 0.2]));
    }
}
