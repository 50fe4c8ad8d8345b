//! A 24-patch colour chart rendered into a raw frame through a known camera, for measuring
//! colour accuracy (`obscura synth --chart`).
//!
//! The chart is the ColorChecker Classic layout (4 rows of 6 patches) with the patch colours
//! X-Rite publishes as 8-bit sRGB. Each patch's D65 XYZ is computed from those values; under
//! another illuminant the scene's XYZ is the Bradford adaptation of it (a von Kries model of
//! the same reflectances under the new light). The synthetic camera responds as `camera =
//! ColorMatrix(illuminant) * XYZ`, with two calibrations: [`CAMERA_D65`] (DNG ColorMatrix2,
//! D65) and [`CAMERA_A`] (ColorMatrix1, standard light A), made up to resemble a real
//! sensor's (green-heavy, overlapping responses, a different matrix per illuminant). The
//! frame's `AsShotNeutral` is the camera's response to the illuminant's white.
//!
//! So a correct developer, following the DNG specification, must return the published sRGB
//! values: white balance from the neutral, the illuminant found by interpolating the two
//! matrices in inverse temperature, inverse matrix, Bradford to D50, Bradford to D65, sRGB.

use serde::{Deserialize, Serialize};

use super::render::Sensor;
use super::rng::Rng;
use super::{SynthParams, metadata_for_chart};
use crate::color::{self, A_XY, D65_XY, srgb8_to_linear};
use crate::error::{Error, Result};
use crate::image::{Cfa, Plane, Rect};
use crate::raw::{Calibration, DecoderKind, Matrix3, RawFrame};

pub use crate::color::checker::{COLORCHECKER_SRGB, NEUTRALS};

/// XYZ (D65) -> camera RGB of the synthetic camera under D65 (its DNG ColorMatrix2).
pub const CAMERA_D65: Matrix3 = [
    [0.7034, -0.1380, -0.0610],
    [-0.4120, 1.2240, 0.1980],
    [-0.0830, 0.2150, 0.6240],
];

/// XYZ (A) -> camera RGB under standard light A (its DNG ColorMatrix1).
pub const CAMERA_A: Matrix3 = [
    [0.6310, -0.0620, -0.0950],
    [-0.4680, 1.3150, 0.1510],
    [-0.1320, 0.3040, 0.4650],
];

/// The light the chart is photographed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChartLight {
    /// CIE D65 daylight.
    D65,
    /// CIE standard illuminant A (tungsten, 2856 K).
    A,
}

/// How to make a chart frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChartParams {
    /// The illuminant. Default D65.
    pub light: ChartLight,
    /// Patch size in pixels, even, 8..=512 (default 48).
    pub patch: usize,
    /// Gap between patches and border in pixels, even, 2..=256 (default 8).
    pub gap: usize,
    /// Raw level of the white patch's brightest channel, 0.05..=16 (default 0.8; above 1 the
    /// brightest patches clip).
    pub exposure: f64,
    /// Also write ForwardMatrix tags (default false: ColorMatrix only).
    pub forward_matrix: bool,
    /// Noise as in [`SynthParams`] (shot, read; default 2e-4, 1e-6: a clean, low-ISO frame).
    pub shot: f64,
    /// Read-noise variance.
    pub read: f64,
    /// CFA pattern (default RGGB).
    #[serde(with = "super::cfa_name")]
    pub cfa: Cfa,
    /// Seed.
    pub seed: u64,
}

impl Default for ChartParams {
    fn default() -> Self {
        ChartParams {
            light: ChartLight::D65,
            patch: 48,
            gap: 8,
            exposure: 0.8,
            forward_matrix: false,
            shot: 2e-4,
            read: 1e-6,
            cfa: Cfa::RGGB,
            seed: 1,
        }
    }
}

impl ChartParams {
    /// Frame size in pixels.
    pub fn size(&self) -> (usize, usize) {
        (
            6 * (self.patch + self.gap) + self.gap,
            4 * (self.patch + self.gap) + self.gap,
        )
    }

    /// The rectangle of patch `i` (0-23), in image coordinates.
    pub fn patch_rect(&self, i: usize) -> Rect {
        let (col, row) = (i % 6, i / 6);
        Rect {
            x: self.gap + col * (self.patch + self.gap),
            y: self.gap + row * (self.patch + self.gap),
            width: self.patch,
            height: self.patch,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::parameter("chart", what.to_string()));
        if !(8..=512).contains(&self.patch) || !self.patch.is_multiple_of(2) {
            return bad("patch size must be even, 8 to 512");
        }
        if !(2..=256).contains(&self.gap) || !self.gap.is_multiple_of(2) {
            return bad("gap must be even, 2 to 256");
        }
        if !(0.05..=16.0).contains(&self.exposure) {
            return bad("exposure must be between 0.05 and 16");
        }
        if !(0.0..=0.1).contains(&self.shot) || !(0.0..=0.01).contains(&self.read) {
            return bad("noise must be shot 0..0.1, read 0..0.01");
        }
        Ok(())
    }
}

fn white_xyz(light: ChartLight) -> [f64; 3] {
    match light {
        ChartLight::D65 => color::xy_to_xyz(D65_XY),
        ChartLight::A => color::xy_to_xyz(A_XY),
    }
}

/// Renders the chart (see the module docs).
pub fn chart(params: &ChartParams) -> Result<RawFrame> {
    params.validate()?;
    let (w, h) = params.size();
    let light = params.light;
    let cm = match light {
        ChartLight::D65 => CAMERA_D65,
        ChartLight::A => CAMERA_A,
    };
    let srgb_to_xyz = color::ColorSpace::Srgb.rgb_to_xyz();
    let adapt = color::bradford(color::xy_to_xyz(D65_XY), white_xyz(light));
    let to_camera = color::mat_mul(&cm, &color::mat_mul(&adapt, &srgb_to_xyz));
    let neutral = color::mat_vec(&cm, &white_xyz(light));
    // scale: the white patch's brightest raw channel at `exposure`
    let white_patch = color::mat_vec(&to_camera, &srgb8_to_linear(COLORCHECKER_SRGB[18]));
    let k = params.exposure / white_patch.iter().cloned().fold(0.0, f64::max);
    let patches: Vec<[f64; 3]> = COLORCHECKER_SRGB
        .iter()
        .map(|c| color::mat_vec(&to_camera, &srgb8_to_linear(*c)).map(|v| v * k))
        .collect();
    // the gaps: a dark neutral surround (8-bit 30)
    let surround = color::mat_vec(&to_camera, &srgb8_to_linear([30, 30, 30])).map(|v| v * k);
    let synth = SynthParams {
        shot: params.shot,
        read: params.read,
        ..SynthParams::default()
    };
    let sensor = Sensor::new(&synth);
    let mut rng = Rng::new(params.seed);
    let mut mosaic = Plane::new(w, h);
    let rects: Vec<Rect> = (0..24).map(|i| params.patch_rect(i)).collect();
    for y in 0..h {
        for x in 0..w {
            let inside = rects
                .iter()
                .position(|r| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
            let rgb = inside.map_or(surround, |i| patches[i]);
            let c = params.cfa.color_at(x, y) as usize;
            mosaic.set(x, y, sensor.expose(rgb[c], &mut rng));
        }
    }
    // the other calibration, for the interpolation to have something to do
    let fm = |m: &Matrix3, white: [f64; 3]| -> Option<Matrix3> {
        // ForwardMatrix = Bradford(white -> D50) * Inverse(CM) * diag(CM * white)
        params.forward_matrix.then(|| {
            let n = color::mat_vec(m, &white);
            let inv = color::inverse(m).unwrap_or(color::IDENTITY);
            let a = color::bradford(white, color::D50_XYZ);
            let d = [[n[0], 0.0, 0.0], [0.0, n[1], 0.0], [0.0, 0.0, n[2]]];
            color::mat_mul(&a, &color::mat_mul(&inv, &d))
        })
    };
    let calibrations = vec![
        Calibration {
            illuminant: 17,
            color_matrix: CAMERA_A,
            forward_matrix: fm(&CAMERA_A, white_xyz(ChartLight::A)),
        },
        Calibration {
            illuminant: 21,
            color_matrix: CAMERA_D65,
            forward_matrix: fm(&CAMERA_D65, white_xyz(ChartLight::D65)),
        },
    ];
    let mut meta = metadata_for_chart();
    let g = neutral[1];
    meta.as_shot_neutral = neutral.map(|v| v / g);
    meta.calibrations = calibrations;
    let whole = Rect {
        x: 0,
        y: 0,
        width: w,
        height: h,
    };
    Ok(RawFrame {
        path: Default::default(),
        mosaic,
        cfa: params.cfa,
        black: [f64::from(synth.black); 4],
        white: f64::from(synth.white),
        active_area: whole,
        crop: whole,
        meta,
        decoder: DecoderKind::Obscura,
        rgb: None,
    })
}
