//! Highlights: what to do where a photosite clipped.
//!
//! After white balance, a channel with multiplier `m` clips at `m` (raw white times `m`); the
//! multipliers are normalised so the smallest is 1. Where only some channels of a pixel clip,
//! the clipped ones are too low and the colour is wrong; the classic symptom is a magenta
//! sky: green clips first, red and blue go on rising.
//!
//! - [`Highlights::Clip`]: every channel is limited to 1, the level where the least sensitive
//!   channel saturates. Clipped areas become neutral white; colour information above that
//!   level is lost. The baseline.
//! - [`Highlights::Reconstruct`] (default): each clipped channel is rebuilt from the pixel's
//!   unclipped channels and the **colour of the nearest unclipped surroundings**. That colour
//!   (a chromaticity `q = rgb / (r + g + b)` weighted towards bright pixels) is averaged in
//!   4x4 blocks, leaving out the ring of blocks around clipped ones (the demosaic's false
//!   colours at the rim of a clipped area would otherwise be spread inwards), and spread into clipped areas by push-pull interpolation over a pyramid
//!   (Gortler et al. 1996): each level's holes are filled from the next coarser level. A pixel
//!   with unclipped channels `U` gets the scale `s = sum_U v / sum_U q` and each clipped channel
//!   becomes `max(v_c, s q_c)` (never darker than observed, and at most 8x its clip level).
//!   Pixels with every channel clipped hold no colour at all; they become neutral at their
//!   brightest channel's level, so a blown sun is white, never magenta.

use std::str::FromStr;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image::{Plane, par_rows3};

/// How clipped highlights are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Highlights {
    /// Limit every channel to the least sensitive channel's clip level.
    Clip,
    /// Rebuild clipped channels from unclipped neighbours (see the module docs). Default.
    #[default]
    Reconstruct,
}

impl FromStr for Highlights {
    type Err = Error;
    fn from_str(s: &str) -> Result<Highlights> {
        match s.to_ascii_lowercase().as_str() {
            "clip" => Ok(Highlights::Clip),
            "reconstruct" => Ok(Highlights::Reconstruct),
            _ => Err(Error::parameter(
                "highlights",
                format!("{s:?}: expected clip or reconstruct"),
            )),
        }
    }
}

/// A channel counts as clipped from this fraction of its clip level (the demosaic blends
/// neighbours, so values just under the level are already unreliable).
const CLIP_FRACTION: f32 = 0.97;
/// Block size of the colour map.
const BLOCK: usize = 4;
/// Upper bound of a reconstructed channel, in multiples of its clip level.
const MAX_GAIN: f32 = 8.0;

/// Handles clipped highlights in white-balanced camera RGB whose channels clip at `levels`
/// (the white-balance multipliers times the raw white, 1).
pub fn highlights(rgb: &mut [Plane<f32>; 3], levels: [f32; 3], mode: Highlights) {
    match mode {
        Highlights::Clip => {
            let lim = levels
                .iter()
                .cloned()
                .fold(f32::INFINITY, f32::min)
                .max(0.0);
            for p in rgb.iter_mut() {
                p.data.par_iter_mut().for_each(|v| *v = v.min(lim));
            }
        }
        Highlights::Reconstruct => reconstruct(rgb, levels),
    }
}

fn reconstruct(rgb: &mut [Plane<f32>; 3], levels: [f32; 3]) {
    let (w, h) = (rgb[0].width, rgb[0].height);
    if w == 0 || h == 0 {
        return;
    }
    let thr = levels.map(|l| l * CLIP_FRACTION);
    let clipped =
        |v: [f32; 3]| -> u8 { (0..3).fold(0u8, |m, c| m | (u8::from(v[c] >= thr[c]) << c)) };
    let any_clipped = (0..w * h)
        .into_par_iter()
        .any(|i| clipped([rgb[0].data[i], rgb[1].data[i], rgb[2].data[i]]) != 0);
    if !any_clipped {
        return;
    }
    // 1. block sums of chromaticity, weighted by brightness, over unclipped pixels of blocks
    //    that are not next to a clipped one: at the rim of a clipped area the demosaic mixes
    //    clipped and unclipped samples into false colour, which must not be spread inwards
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let block_clipped: Vec<bool> = (0..bw * bh)
        .into_par_iter()
        .map(|b| {
            let (bx, by) = (b % bw, b / bw);
            (by * BLOCK..((by + 1) * BLOCK).min(h)).any(|y| {
                (bx * BLOCK..((bx + 1) * BLOCK).min(w)).any(|x| {
                    let i = y * w + x;
                    clipped([rgb[0].data[i], rgb[1].data[i], rgb[2].data[i]]) != 0
                })
            })
        })
        .collect();
    let near_clipped = |bx: usize, by: usize| {
        (by.saturating_sub(1)..(by + 2).min(bh))
            .any(|y| (bx.saturating_sub(1)..(bx + 2).min(bw)).any(|x| block_clipped[y * bw + x]))
    };
    let mut level: Vec<[f32; 4]> = (0..bh)
        .into_par_iter()
        .flat_map_iter(|by| {
            let rgb = &*rgb;
            (0..bw).map(move |bx| {
                let mut acc = [0.0f32; 4];
                if near_clipped(bx, by) {
                    return acc;
                }
                for y in by * BLOCK..((by + 1) * BLOCK).min(h) {
                    for x in bx * BLOCK..((bx + 1) * BLOCK).min(w) {
                        let i = y * w + x;
                        let v = [rgb[0].data[i], rgb[1].data[i], rgb[2].data[i]];
                        let sum = v[0] + v[1] + v[2];
                        if clipped(v) != 0 || v.iter().any(|c| *c <= 0.0) || sum <= 1e-6 {
                            continue;
                        }
                        // weight: brightness relative to the clip level, so the colour of a
                        // clipped area comes mostly from the bright pixels next to it
                        let wgt = sum;
                        for c in 0..3 {
                            acc[c] += wgt * v[c] / sum;
                        }
                        acc[3] += wgt;
                    }
                }
                acc
            })
        })
        .collect();
    // 2. push-pull: pyramid of block sums, then fill each level's holes from the coarser one
    let mut pyramid = vec![(bw, bh, std::mem::take(&mut level))];
    while pyramid.last().is_some_and(|(w, h, _)| *w > 1 || *h > 1) {
        let (pw, ph, ref p) = pyramid[pyramid.len() - 1];
        let (nw, nh) = (pw.div_ceil(2), ph.div_ceil(2));
        let mut next = vec![[0.0f32; 4]; nw * nh];
        for y in 0..ph {
            for x in 0..pw {
                let d = &mut next[(y / 2) * nw + x / 2];
                for k in 0..4 {
                    d[k] += p[y * pw + x][k];
                }
            }
        }
        pyramid.push((nw, nh, next));
    }
    // normalise the coarsest level (neutral if nothing anywhere was unclipped)
    let mut coarse: Vec<[f32; 3]> = pyramid
        .last()
        .map(|(_, _, p)| p.iter().map(|a| normalise(*a, [1.0 / 3.0; 3])).collect())
        .unwrap_or_default();
    let mut cw = 1;
    for li in (0..pyramid.len() - 1).rev() {
        let (lw, lh, ref p) = pyramid[li];
        let fine: Vec<[f32; 3]> = (0..lw * lh)
            .map(|i| {
                let (x, y) = (i % lw, i / lw);
                let from = coarse[(y / 2) * cw + x / 2];
                normalise(p[i], from)
            })
            .collect();
        coarse = fine;
        cw = lw;
    }
    let chroma = coarse; // bw x bh chromaticities
    // 3. rebuild clipped channels
    par_rows3(rgb, w).enumerate().for_each(|(y, [rr, gg, bb])| {
        for x in 0..w {
            let v = [rr[x], gg[x], bb[x]];
            let m = clipped(v);
            if m == 0 {
                continue;
            }
            let out = if m == 7 {
                let top = v[0].max(v[1]).max(v[2]);
                [top; 3]
            } else {
                let q = sample(&chroma, bw, bh, x, y);
                let (mut sv, mut sq) = (0.0f32, 0.0f32);
                for c in 0..3 {
                    if m & (1 << c) == 0 {
                        sv += v[c].max(0.0);
                        sq += q[c];
                    }
                }
                let s = if sq > 1e-6 { sv / sq } else { 0.0 };
                std::array::from_fn(|c| {
                    if m & (1 << c) != 0 {
                        v[c].max((s * q[c]).min(levels[c] * MAX_GAIN))
                    } else {
                        v[c]
                    }
                })
            };
            rr[x] = out[0];
            gg[x] = out[1];
            bb[x] = out[2];
        }
    });
}

/// Chromaticity of a block sum, blended towards `fallback` where the block has little
/// weight (push-pull: full trust from a weight of 1, e.g. one pixel at the clip level).
fn normalise(a: [f32; 4], fallback: [f32; 3]) -> [f32; 3] {
    let alpha = a[3].min(1.0);
    if a[3] <= 0.0 {
        return fallback;
    }
    std::array::from_fn(|c| alpha * a[c] / a[3] + (1.0 - alpha) * fallback[c])
}

/// Bilinear sample of the block map at pixel (x, y).
fn sample(map: &[[f32; 3]], bw: usize, bh: usize, x: usize, y: usize) -> [f32; 3] {
    let fx = ((x as f32 + 0.5) / BLOCK as f32 - 0.5).clamp(0.0, (bw - 1) as f32);
    let fy = ((y as f32 + 0.5) / BLOCK as f32 - 0.5).clamp(0.0, (bh - 1) as f32);
    let (x0, y0) = (fx as usize, fy as usize);
    let (x1, y1) = ((x0 + 1).min(bw - 1), (y0 + 1).min(bh - 1));
    let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
    std::array::from_fn(|c| {
        let a = map[y0 * bw + x0][c] * (1.0 - tx) + map[y0 * bw + x1][c] * tx;
        let b = map[y1 * bw + x0][c] * (1.0 - tx) + map[y1 * bw + x1][c] * tx;
        a * (1.0 - ty) + b * ty
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bright coloured object whose brightness ramps from 0.3x to 3x its green clip level,
    /// seen by a camera with multipliers (2, 1, 1.5): returns (clipped input, truth).
    fn ramp() -> ([Plane<f32>; 3], [Plane<f32>; 3], [f32; 3]) {
        let (w, h) = (96, 16);
        let colour = [0.8f32, 1.0, 0.6]; // white-balanced truth colour (a warm light)
        let levels = [2.0f32, 1.0, 1.5];
        let mut truth: [Plane<f32>; 3] = std::array::from_fn(|_| Plane::new(w, h));
        let mut seen: [Plane<f32>; 3] = std::array::from_fn(|_| Plane::new(w, h));
        for y in 0..h {
            for x in 0..w {
                let k = 0.3 + 2.7 * x as f32 / (w - 1) as f32;
                for c in 0..3 {
                    truth[c].set(x, y, colour[c] * k);
                    seen[c].set(x, y, (colour[c] * k).min(levels[c]));
                }
            }
        }
        (seen, truth, levels)
    }

    fn hue_error(img: &[Plane<f32>; 3], truth: &[Plane<f32>; 3], x: usize) -> f32 {
        let v: [f32; 3] = std::array::from_fn(|c| img[c].get(x, 8));
        let t: [f32; 3] = std::array::from_fn(|c| truth[c].get(x, 8));
        let (sv, st) = (v.iter().sum::<f32>(), t.iter().sum::<f32>());
        (0..3).map(|c| (v[c] / sv - t[c] / st).abs()).sum()
    }

    #[test]
    fn reconstruction_keeps_the_colour_where_clipping_removes_it() {
        let (seen, truth, levels) = ramp();
        let mut rec = seen.clone();
        highlights(&mut rec, levels, Highlights::Reconstruct);
        let mut clip = seen.clone();
        highlights(&mut clip, levels, Highlights::Clip);
        // columns where green clipped but red and blue did not: 1.0/0.97 < k < 1.5/0.6*0.97
        let partial: Vec<usize> = (0..96)
            .filter(|&x| {
                let k = 0.3 + 2.7 * x as f32 / 95.0;
                k * 1.0 > 1.0 && k * 0.6 < 1.5 * 0.97 && k * 0.8 < 2.0 * 0.97
            })
            .collect();
        assert!(partial.len() > 20);
        let rec_err = partial
            .iter()
            .map(|&x| hue_error(&rec, &truth, x))
            .fold(0.0, f32::max);
        let clip_err = partial
            .iter()
            .map(|&x| hue_error(&clip, &truth, x))
            .fold(0.0, f32::max);
        let raw_err = partial
            .iter()
            .map(|&x| hue_error(&seen, &truth, x))
            .fold(0.0, f32::max);
        assert!(rec_err < 0.02, "reconstructed chromaticity error {rec_err}");
        assert!(
            clip_err > 0.1 && raw_err > 0.05,
            "baselines {clip_err} {raw_err}"
        );
    }

    #[test]
    fn fully_clipped_is_neutral_never_magenta() {
        let (mut seen, _, levels) = ramp();
        // push everything over every clip level: (2, 1, 1.5) would be magenta
        for p in seen.iter_mut() {
            for v in p.data.iter_mut() {
                *v = 10.0;
            }
        }
        for (c, p) in seen.iter_mut().enumerate() {
            p.data.iter_mut().for_each(|v| *v = v.min(levels[c]));
        }
        for mode in [Highlights::Clip, Highlights::Reconstruct] {
            let mut img = seen.clone();
            highlights(&mut img, levels, mode);
            for i in 0..img[0].data.len() {
                let (r, g, b) = (img[0].data[i], img[1].data[i], img[2].data[i]);
                assert!(r == g && g == b, "{mode:?}: {r} {g} {b}");
            }
        }
    }

    #[test]
    fn unclipped_images_are_untouched() {
        let (_, truth, _) = ramp();
        let mut img = truth.clone();
        highlights(&mut img, [100.0; 3], Highlights::Reconstruct);
        assert_eq!(img, truth);
        let mut tiny: [Plane<f32>; 3] =
            std::array::from_fn(|_| Plane::from_vec(1, 1, vec![5.0]).unwrap());
        highlights(&mut tiny, [1.0, 2.0, 3.0], Highlights::Reconstruct);
        assert!(tiny.iter().all(|p| p.data[0] == 5.0));
    }
}
