//! Finish: from a linear raw (a merged burst or a single frame; a Bayer mosaic, or linear
//! camera RGB from a LinearRaw DNG or the kernel merge) to a display-encoded RGB image.
//!
//! [`finish`] runs, in the order of the DNG specification (1.7, chapters 5-6) and HDR+
//! (Hasinoff et al. 2016, section 6):
//!
//! 1. **Lens shading** ([`shading`]): `GainMap` opcodes of `OpcodeList2` on the mosaic.
//! 2. **White balance** ([`color`]): multipliers from the as-shot neutral, user multipliers or
//!    a colour temperature, applied to the mosaic (smallest multiplier 1).
//! 3. **Demosaic** ([`crate::demosaic`]): RCD by default, Malvar-He-Cutler or bilinear on request;
//!    skipped for linear RGB frames, whose `OpcodeList2` maps and white balance apply per
//!    plane. `OpcodeList3` gain maps follow.
//! 4. **Highlights** ([`highlights`]): clipped channels rebuilt from unclipped neighbours, or
//!    clipped to the least sensitive channel's level.
//! 5. **Crop** to the DNG default crop.
//! 6. **Colour and exposure** ([`color`]): one 3x3 matrix per pixel, white-balanced camera
//!    RGB -> XYZ D50 -> linear sRGB or Display P3, times `2^(BaselineExposure + exposure)`.
//! 7. **Tone mapping** ([`tone`]): HDR+ style local tone mapping by default.
//! 8. **Transfer curve**: the sRGB curve (both output spaces use it).
//! 9. **Sharpening and chroma smoothing** ([`sharpen`]) on the encoded values.
//! 10. **Orientation**: the EXIF orientation is applied, so outputs are upright with
//!     orientation 1.
//!
//! The result, [`Finished`], holds encoded values in [0, 1] as `f32`; [`crate::encode`]
//! quantises and writes them. [`finish_hdr`] also returns the HDR rendition ([`hdr`]): the
//! scene-referred linear image of step 6 and the boost above SDR white an HDR display may
//! apply, for Ultra HDR JPEG and OpenEXR output.
//!
//! ```no_run
//! use obscura::finish::{finish, FinishParams};
//! let frame = obscura::RawFrame::open("photo.dng")?;
//! let img = finish(&frame, &FinishParams::default())?;
//! obscura::encode::encode(&img, &frame.meta, "photo.jpg".as_ref(), &Default::default())?;
//! # Ok::<(), obscura::Error>(())
//! ```
//!
//! # Timing
//! `cargo bench --bench finish`, 4000 x 3000, 2 threads, Intel Xeon (AVX-512): the whole
//! default finish 440 ms; RCD demosaic 130 ms (57 ms into reused planes: the rest is page
//! faults of its fresh output), colour matrix and transfer curve 83 ms, local tone mapping
//! 80 ms, sharpening and chroma smoothing 74 ms; the reference rendering 307 ms.
//! JPEG encoding (not part of finish) adds 485 ms.

pub mod color;
pub(crate) mod filter;
pub mod hdr;
pub mod highlights;
pub mod shading;
pub mod sharpen;
pub mod tone;

use rayon::prelude::*;

use crate::color::{ColorSpace, srgb_encode};
use crate::cpu::{Isa, kernels};
use crate::demosaic::{self, Demosaic};
use crate::error::{Error, Result};
use crate::image::{Plane, Rect, par_pixels, par_rows3};
use crate::look::Look;
use crate::raw::RawFrame;
use color::{ColorParams, ColorTransform};
use hdr::{Hdr, HdrParams};
use highlights::Highlights;
use sharpen::SharpenParams;
use tone::ToneParams;

/// Parameters of the finish stage. `Default` is the standard rendering.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FinishParams {
    /// Skip the lens-shading gain maps (DNG `OpcodeList2`/`3`). Default false (applied).
    pub skip_shading: bool,
    /// White balance and output colour space. Default: as shot, sRGB.
    pub color: ColorParams,
    /// Clipped highlights. Default: reconstruct.
    pub highlights: Highlights,
    /// Demosaic method. Default: RCD.
    pub demosaic: Demosaic,
    /// Exposure correction in EV, -10..=10, added to the file's `BaselineExposure`.
    /// Default 0; +1 doubles the brightness.
    pub exposure: f64,
    /// Tone mapping. Default: local.
    pub tone: ToneParams,
    /// Sharpening and chroma smoothing. Default: on (see [`SharpenParams`]).
    pub sharpen: SharpenParams,
    /// Keep the stored orientation instead of turning the image upright. Default false.
    pub keep_orientation: bool,
}

impl FinishParams {
    /// The reference rendering: colour conversion and the sRGB curve only (no tone mapping,
    /// no sharpening or chroma smoothing), for colour-accuracy measurement.
    pub fn reference() -> FinishParams {
        FinishParams {
            tone: ToneParams {
                mode: tone::ToneMode::None,
                ..ToneParams::default()
            },
            sharpen: SharpenParams::off(),
            ..FinishParams::default()
        }
    }

    /// The standard rendering for a look: `look`'s local tone mapping strength, target
    /// brightness and sharpening amount. The look's colour, vignette and grain are not part
    /// of finishing: they are the look stage's ([`crate::look::compile`],
    /// [`crate::look::apply`]). `with_look(&Look::default())` equals
    /// `FinishParams::default()`.
    pub fn with_look(look: &Look) -> FinishParams {
        let mut p = FinishParams::default();
        p.set_look(look);
        p
    }

    /// Takes over `look`'s tone mapping strength and target brightness and its sharpening
    /// amount; every other setting is kept.
    pub fn set_look(&mut self, look: &Look) {
        self.tone.strength = look.tone.strength;
        self.tone.shadow_key = look.tone.key;
        self.sharpen.amount = look.sharpen;
    }

    /// Checks every parameter against its documented range.
    pub fn validate(&self) -> Result<()> {
        if !self.exposure.is_finite() || !(-10.0..=10.0).contains(&self.exposure) {
            return Err(Error::parameter(
                "exposure",
                format!("{}: must be between -10 and 10 EV", self.exposure),
            ));
        }
        self.tone.validate()?;
        self.sharpen.validate()
    }
}

/// A finished image: display-encoded RGB planes in [0, 1], upright.
#[derive(Debug, Clone)]
pub struct Finished {
    /// R, G, B planes, sRGB transfer curve applied, values in [0, 1].
    pub rgb: [Plane<f32>; 3],
    /// The colour space of `rgb` (for the ICC profile).
    pub space: ColorSpace,
    /// The white balance and matrices used.
    pub color: ColorTransform,
    /// Notes for the user (skipped optional opcodes, missing calibrations).
    pub notes: Vec<String>,
    /// The EXIF orientation (2-8) that [`finish`] turned upright, 1 if it turned nothing
    /// (an upright file, or [`FinishParams::keep_orientation`]). [`crate::look::apply`]
    /// takes it, so that a look's vignette and grain fall where they fell on the stored
    /// image.
    pub orientation: u16,
}

impl Finished {
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.rgb[0].width
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.rgb[0].height
    }
}

/// Develops a raw frame into a finished image (see the module docs for the steps).
///
/// Errors: parameters out of range, a required DNG opcode obscura cannot apply, a colour
/// temperature asked of a file without colour matrices, an empty image.
pub fn finish(frame: &RawFrame, params: &FinishParams) -> Result<Finished> {
    finish_with(frame, params, false).map(|(img, _)| img)
}

/// [`finish`] and the HDR rendition of the same frame (see [`hdr`]): the SDR image is
/// bit for bit what [`finish`] returns; beside it, the scene-referred linear image (after
/// the colour matrix and exposure, before tone mapping, upright) and the per-pixel boost
/// above SDR white, rolled off at `hdr.headroom` stops and smoothed over `hdr.scale` pixel
/// blocks.
///
/// Errors: those of [`finish`], a headroom outside 1..=6 stops, a scale outside 1..=16.
pub fn finish_hdr(
    frame: &RawFrame,
    params: &FinishParams,
    hdr: &HdrParams,
) -> Result<(Finished, Hdr)> {
    hdr.validate()?;
    let (img, scene) = finish_with(frame, params, true)?;
    let scene = scene.ok_or_else(|| Error::parameter("HDR", "the scene image was not kept"))?;
    let hdr = Hdr::new(scene, img.space, hdr);
    Ok((img, hdr))
}

/// [`finish`], also returning a copy of the scene-referred linear image (upright) when
/// `keep_scene`; the copy is the only extra work, so the SDR result is the same either way.
fn finish_with(
    frame: &RawFrame,
    params: &FinishParams,
    keep_scene: bool,
) -> Result<(Finished, Option<[Plane<f32>; 3]>)> {
    params.validate()?;
    let area = frame.active_area;
    let (width, height) = frame.size();
    let whole = Rect::new(0, 0, width, height);
    if area.width < 2 || area.height < 2 || !whole.contains(&area) {
        return Err(Error::decode(
            &frame.path,
            format!(
                "active area {}x{} at ({},{}) does not fit a {}x{} raw",
                area.width, area.height, area.x, area.y, width, height
            ),
        ));
    }
    let mut notes = Vec::new();
    let cfa = frame.cfa_at(area);
    if !frame.meta.opcodes1.is_empty() {
        notes.push(format!(
            "OpcodeList1 ({} opcodes) is not applied",
            frame.meta.opcodes1.len()
        ));
    }
    let ct =
        color::color_transform(&frame.meta, &params.color).map_err(|e| e.in_file(&frame.path))?;
    notes.extend(ct.notes.iter().cloned());
    let mult = ct.multipliers.map(|m| m as f32);
    let shade = !params.skip_shading && !frame.meta.opcodes2.is_empty();
    if params.skip_shading && (!frame.meta.opcodes2.is_empty() || !frame.meta.opcodes3.is_empty()) {
        notes.push("lens shading (OpcodeList2/3) skipped on request".into());
    }
    let mut rgb = match frame.rgb.as_deref() {
        // linear RGB (LinearRaw, kernel merge): the active area, gain maps per plane,
        // white balance per plane, no demosaic
        Some(planes) => {
            let mut rgb = planes.each_ref().map(|p| p.crop(area));
            if shade {
                let [r, g, b] = &mut rgb;
                notes.extend(shading::apply_opcodes(
                    &frame.meta.opcodes2,
                    &mut [r, g, b],
                    shading::Stage::Mosaic,
                    &frame.path,
                )?);
            }
            par_pixels(&mut rgb, |_, r, g, b| {
                *r *= mult[0];
                *g *= mult[1];
                *b *= mult[2];
            });
            rgb
        }
        None => {
            // the active area, white-balanced, in one pass; gain maps come first when there
            // are any, since they clip at the raw white level
            let mut mosaic = Plane::new(area.width, area.height);
            if shade {
                let mut raw = frame.mosaic.crop(area);
                notes.extend(shading::apply_opcodes(
                    &frame.meta.opcodes2,
                    &mut [&mut raw],
                    shading::Stage::Mosaic,
                    &frame.path,
                )?);
                white_balance(&mut mosaic, &raw, [0, 0], cfa, mult);
            } else {
                white_balance(&mut mosaic, &frame.mosaic, [area.x, area.y], cfa, mult);
            }
            demosaic::demosaic(&mosaic, cfa, params.demosaic)
        }
    };
    if !params.skip_shading {
        let [r, g, b] = &mut rgb;
        notes.extend(shading::apply_opcodes(
            &frame.meta.opcodes3,
            &mut [r, g, b],
            shading::Stage::Rgb,
            &frame.path,
        )?);
    }
    highlights::highlights(&mut rgb, mult, params.highlights);

    // default crop, relative to the active area
    let crop = intersect(frame.crop, area);
    let local = Rect {
        x: crop.x - area.x,
        y: crop.y - area.y,
        width: crop.width,
        height: crop.height,
    };
    if local.width > 0
        && local.height > 0
        && (local.width, local.height) != (area.width, area.height)
    {
        rgb = rgb.map(|p| p.crop(local));
    }

    let gain = 2f64.powf(frame.meta.baseline_exposure + params.exposure);
    let m = ct
        .camera_to_output
        .map(|row| row.map(|v| (v * gain) as f32));
    apply_matrix(&mut rgb, &m);
    let mut scene = keep_scene.then(|| rgb.clone());

    tone::tone_map(&mut rgb, &params.tone);
    for p in rgb.iter_mut() {
        encode_srgb_plane(p);
    }
    sharpen::sharpen(&mut rgb, &params.sharpen);
    let orientation = if params.keep_orientation {
        1
    } else {
        rgb = orient(rgb, frame.meta.orientation);
        scene = scene.map(|s| orient(s, frame.meta.orientation));
        frame.meta.orientation
    };
    let img = Finished {
        rgb,
        space: params.color.space,
        color: ct,
        notes,
        orientation: if (2..=8).contains(&orientation) {
            orientation
        } else {
            1
        },
    };
    Ok((img, scene))
}

/// `dst` = the `dst`-sized window of `src` at `origin`, each photosite times the multiplier
/// of its colour (`cfa` is the pattern at the window's top-left corner).
fn white_balance(
    dst: &mut Plane<f32>,
    src: &Plane<f32>,
    origin: [usize; 2],
    cfa: crate::image::Cfa,
    mult: [f32; 3],
) {
    let w = dst.width;
    dst.data
        .par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(y, row)| {
            let m = [0, 1].map(|x| mult[cfa.color_at(x, y) as usize]);
            let s = &src.row(y + origin[1])[origin[0]..origin[0] + w];
            for (x, (v, &s)) in row.iter_mut().zip(s).enumerate() {
                *v = s * m[x & 1];
            }
        });
}

fn intersect(a: Rect, b: Rect) -> Rect {
    let x0 = a.x.max(b.x);
    let y0 = a.y.max(b.y);
    let x1 = (a.x + a.width).min(b.x + b.width);
    let y1 = (a.y + a.height).min(b.y + b.height);
    if x1 <= x0 || y1 <= y0 {
        return b;
    }
    Rect {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    }
}

/// `rgb = m * rgb` per pixel.
pub(crate) fn apply_matrix(rgb: &mut [Plane<f32>; 3], m: &[[f32; 3]; 3]) {
    let isa = Isa::detect();
    par_rows3(rgb, 4096).for_each(|chunk| matrix_chunk(isa, chunk, m));
}

/// [`apply_matrix`] on one chunk of the three planes.
#[inline(always)]
fn matrix_chunk_body([r, g, b]: [&mut [f32]; 3], m: &[[f32; 3]; 3]) {
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let (x, y, z) = (*r, *g, *b);
        *r = m[0][0] * x + m[0][1] * y + m[0][2] * z;
        *g = m[1][0] * x + m[1][1] * y + m[1][2] * z;
        *b = m[2][0] * x + m[2][1] * y + m[2][2] * z;
    }
}

/// [`encode_srgb_plane`] on one chunk.
#[inline(always)]
fn encode_chunk_body(lut: &[f32; LUT_SIZE + 1], chunk: &mut [f32]) {
    for v in chunk {
        *v = encode_with(lut, *v);
    }
}

kernels! {
    fn matrix_chunk(rgb: [&mut [f32]; 3], m: &[[f32; 3]; 3]) = matrix_chunk_body;
    fn encode_chunk(lut: &[f32; LUT_SIZE + 1], chunk: &mut [f32]) = encode_chunk_body;
}

/// Entries of the transfer-curve table, indexed by sqrt(linear value).
const LUT_SIZE: usize = 4096;

/// [`srgb_encode`] sampled at `(i / (LUT_SIZE - 1))^2`: interpolating in the square root of
/// the value keeps the table accurate near black, where the curve is steepest (maximum error
/// 2e-6, tested).
fn srgb_lut() -> &'static [f32; LUT_SIZE + 1] {
    static LUT: std::sync::OnceLock<[f32; LUT_SIZE + 1]> = std::sync::OnceLock::new();
    LUT.get_or_init(|| {
        std::array::from_fn(|i| {
            let s = (i.min(LUT_SIZE - 1)) as f64 / (LUT_SIZE - 1) as f64;
            srgb_encode((s * s) as f32)
        })
    })
}

/// [`srgb_encode`] through the table `lut` (from [`srgb_lut`]): clamps, NaN -> 0.
#[inline(always)]
fn encode_with(lut: &[f32; LUT_SIZE + 1], v: f32) -> f32 {
    let x = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
    let f = x.sqrt() * (LUT_SIZE - 1) as f32;
    // (the bound lets the compiler drop the index checks and gather)
    let i = (f as usize).min(LUT_SIZE - 1);
    let t = f - i as f32;
    lut[i] + (lut[i + 1] - lut[i]) * t
}

/// Applies the sRGB transfer curve to a plane of linear values (clamped to [0, 1]; NaN -> 0).
pub(crate) fn encode_srgb_plane(p: &mut Plane<f32>) {
    let (lut, isa) = (srgb_lut(), Isa::detect());
    p.data
        .par_chunks_mut(4096)
        .for_each(|chunk| encode_chunk(isa, lut, chunk));
}

pub use crate::image::orient;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::srgb_decode;

    /// The transfer curve and the matrix give the same bits on every instruction set,
    /// special values included.
    #[test]
    fn colour_kernels_agree_across_instruction_sets() {
        let vals: Vec<f32> = (0..5000)
            .map(|i| (i as f32 * 0.000_37).sin() * 1.3)
            .chain([
                f32::NAN,
                f32::INFINITY,
                -f32::INFINITY,
                -0.0,
                1.0,
                0.003_130_8,
            ])
            .collect();
        let m = [[1.7, -0.5, -0.2], [-0.3, 1.5, -0.2], [0.05, -0.6, 1.55]];
        let run = |isa: Isa| {
            let mut e = vals.clone();
            encode_chunk(isa, srgb_lut(), &mut e);
            let (mut r, mut g, mut b) = (vals.clone(), vals.clone(), vals.clone());
            g.reverse();
            b.rotate_left(7);
            matrix_chunk(isa, [&mut r, &mut g, &mut b], &m);
            [e, r, g, b].map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>())
        };
        let base = run(Isa::baseline());
        for isa in Isa::supported() {
            assert_eq!(run(isa), base, "{isa:?}");
        }
    }

    #[test]
    fn transfer_curve_table_matches_the_formula() {
        let mut worst = 0.0f32;
        let n = 100_000;
        let mut p =
            Plane::from_vec(n + 1, 1, (0..=n).map(|i| i as f32 / n as f32).collect()).unwrap();
        encode_srgb_plane(&mut p);
        for (i, v) in p.data.iter().enumerate() {
            worst = worst.max((v - srgb_encode(i as f32 / n as f32)).abs());
        }
        assert!(worst < 2e-6, "{worst}");
        for v in [0.0f32, 0.001, 0.01, 0.18, 0.5, 1.0] {
            assert!((srgb_decode(srgb_encode(v)) - v).abs() < 1e-6);
        }
        let mut odd = Plane::from_vec(4, 1, vec![f32::NAN, -1.0, 2.0, f32::INFINITY]).unwrap();
        encode_srgb_plane(&mut odd);
        assert_eq!(odd.data, vec![0.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn orientation_puts_the_top_left_marker_where_exif_says() {
        // a 3x2 image with a marker at stored (0, 0)
        let mk = || {
            let mut p = Plane::new(3, 2);
            p.set(0, 0, 1.0);
            [p.clone(), p.clone(), p]
        };
        // where the stored top-left pixel appears, per orientation (width x height after)
        let want = [
            (1, (0, 0), (3, 2)),
            (2, (2, 0), (3, 2)),
            (3, (2, 1), (3, 2)),
            (4, (0, 1), (3, 2)),
            (5, (0, 0), (2, 3)),
            (6, (1, 0), (2, 3)),
            (7, (1, 2), (2, 3)),
            (8, (0, 2), (2, 3)),
        ];
        for (o, (x, y), (w, h)) in want {
            let out = orient(mk(), o);
            assert_eq!((out[0].width, out[0].height), (w, h), "orientation {o}");
            assert_eq!(out[0].get(x, y), 1.0, "orientation {o}");
            assert_eq!(out[0].data.iter().sum::<f32>(), 1.0);
        }
    }
}
