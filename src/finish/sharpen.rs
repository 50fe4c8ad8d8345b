//! Sharpening and chroma noise reduction, on display-encoded RGB.
//!
//! Both work in a luma/colour-difference split of the encoded (sRGB transfer curve) values:
//! `Y' = 0.2126 R' + 0.7152 G' + 0.0722 B'`, `Cr = R' - Y'`, `Cb = B' - Y'`. Working on
//! encoded values makes the amounts perceptual: the same edge contrast is added in shadows
//! and highlights.
//! - **Unsharp mask** on luma only: `Y'' = Y' + amount * soft(Y' - blur(Y', radius))`, where
//!   `soft` shrinks differences smaller than `threshold` to zero (so flat noise is not
//!   sharpened) and keeps larger ones minus the threshold.
//! - **Chroma smoothing**: `Cr` and `Cb` are blurred with a Gaussian of `chroma_radius`. The
//!   eye resolves colour far less finely than brightness, and the leftover noise of a raw
//!   (most of all in shadows) is coloured blotches; a small blur removes them without visible
//!   loss.
//!
//! Then `R' = Y'' + Cr`, `B' = Y'' + Cb`, `G'` from the luma equation, clamped to [0, 1].

use serde::{Deserialize, Serialize};

use super::filter::gaussian_blur_into;
use crate::color::REC709_LUMA;
use crate::error::{Error, Result};
use crate::image::{Plane, par_pixels};

/// Sharpening and chroma smoothing parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharpenParams {
    /// Unsharp-mask amount, 0..=4 (0 = off). Default 0.5: higher is crisper and, past about
    /// 1.5, haloed.
    pub amount: f32,
    /// Unsharp-mask Gaussian sigma in pixels, 0.3..=10. Default 1.0: the scale of the detail
    /// that is boosted.
    pub radius: f32,
    /// Differences below this (in encoded units, 0..=0.2) are left alone. Default 0.008,
    /// about two 8-bit codes: keeps noise and flat skies smooth.
    pub threshold: f32,
    /// Chroma blur sigma in pixels, 0..=10 (0 = off). Default 1.0: higher removes more colour
    /// noise and bleeds colour at fine edges.
    pub chroma_radius: f32,
}

impl Default for SharpenParams {
    fn default() -> Self {
        SharpenParams {
            amount: 0.5,
            radius: 1.0,
            threshold: 0.008,
            chroma_radius: 1.0,
        }
    }
}

impl SharpenParams {
    /// No sharpening and no chroma smoothing (the reference rendering).
    pub fn off() -> Self {
        SharpenParams {
            amount: 0.0,
            chroma_radius: 0.0,
            ..SharpenParams::default()
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, v: f32, lo: f32, hi: f32| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Error::parameter(
                    name,
                    format!("{v}: must be between {lo} and {hi}"),
                ))
            }
        };
        check("sharpen amount", self.amount, 0.0, 4.0)?;
        check("sharpen radius", self.radius, 0.3, 10.0)?;
        check("sharpen threshold", self.threshold, 0.0, 0.2)?;
        check("chroma radius", self.chroma_radius, 0.0, 10.0)
    }
}

const KR: f32 = REC709_LUMA[0];
const KG: f32 = REC709_LUMA[1];
const KB: f32 = REC709_LUMA[2];

/// Sharpens luma and smooths chroma of display-encoded RGB in place (see the module docs).
///
/// The three planes are reused as the luma and colour-difference planes, so the only new
/// buffer is one blur target: fresh 12 MP planes cost more in page faults than the blurs.
pub fn sharpen(rgb: &mut [Plane<f32>; 3], params: &SharpenParams) {
    let sharpen = params.amount > 0.0;
    let smooth = params.chroma_radius > 0.0;
    if !sharpen && !smooth {
        return;
    }
    let (w, h) = (rgb[0].width, rgb[0].height);
    // r <- Cr, g <- Y', b <- Cb
    par_pixels(rgb, |_, r, g, b| {
        let y = KR * *r + KG * *g + KB * *b;
        *r -= y;
        *b -= y;
        *g = y;
    });
    let [r, g, b] = rgb;
    let mut tmp = Plane::new(w, h);
    if smooth {
        for p in [&mut *r, &mut *b] {
            gaussian_blur_into(&*p, params.chroma_radius, &mut tmp);
            std::mem::swap(p, &mut tmp);
        }
    }
    let (a, t) = (params.amount, params.threshold);
    if sharpen {
        gaussian_blur_into(g, params.radius, &mut tmp);
    }
    let blur = &tmp;
    par_pixels(rgb, |i, r, g, b| {
        let mut y = *g;
        if sharpen {
            let d = y - blur.data[i];
            let soft = d.signum() * (d.abs() - t).max(0.0);
            y += a * soft;
        }
        let rv = y + *r;
        let bv = y + *b;
        let gv = (y - KR * rv - KB * bv) / KG;
        *r = rv.clamp(0.0, 1.0);
        *g = gv.clamp(0.0, 1.0);
        *b = bv.clamp(0.0, 1.0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(f: impl Fn(usize, usize) -> [f32; 3]) -> [Plane<f32>; 3] {
        let (w, h) = (40, 30);
        std::array::from_fn(|c| {
            Plane::from_vec(w, h, (0..w * h).map(|i| f(i % w, i / w)[c]).collect()).unwrap()
        })
    }

    #[test]
    fn flat_and_grey_images_are_unchanged() {
        let mut img = image(|_, _| [0.3, 0.5, 0.2]);
        let before = img.clone();
        sharpen(&mut img, &SharpenParams::default());
        for c in 0..3 {
            for (a, b) in img[c].data.iter().zip(&before[c].data) {
                assert!((a - b).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn edges_get_steeper_and_colour_noise_smaller() {
        // a grey step: the unsharp mask raises the contrast across it
        let mut img = image(|x, _| [if x < 20 { 0.3 } else { 0.6 }; 3]);
        sharpen(&mut img, &SharpenParams::default());
        let (lo, hi) = (img[1].get(19, 15), img[1].get(20, 15));
        assert!(lo < 0.3 - 0.02 && hi > 0.6 + 0.02, "{lo} {hi}");
        // and stays grey
        assert!((img[0].get(20, 15) - img[2].get(20, 15)).abs() < 1e-5);
        // per-pixel colour noise on a grey field: its spread shrinks by half at least
        let mut rng = crate::synth::rng::Rng::new(3);
        let mut noisy = image(|_, _| [0.5; 3]);
        for c in [0, 2] {
            for v in noisy[c].data.iter_mut() {
                *v += 0.05 * rng.normal() as f32;
            }
        }
        let spread = |img: &[Plane<f32>; 3]| {
            let d: Vec<f32> = (0..img[0].data.len())
                .map(|i| img[0].data[i] - img[1].data[i])
                .collect();
            (d.iter().map(|v| v * v).sum::<f32>() / d.len() as f32).sqrt()
        };
        let before = spread(&noisy);
        sharpen(
            &mut noisy,
            &SharpenParams {
                amount: 0.0,
                ..Default::default()
            },
        );
        assert!(spread(&noisy) < 0.5 * before, "{} {before}", spread(&noisy));
    }

    #[test]
    fn parameters_are_checked() {
        assert!(SharpenParams::default().validate().is_ok());
        let bad = SharpenParams {
            amount: f32::NAN,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = SharpenParams {
            radius: 50.0,
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("between 0.3 and 10")
        );
    }
}
