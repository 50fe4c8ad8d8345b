//! Demosaic: full-resolution R, G and B planes from a Bayer mosaic.
//!
//! [`demosaic`] takes a normalised linear `f32` mosaic and its [`Cfa`] and returns three
//! planes of the mosaic's size; [`demosaic_into`] writes into planes the caller keeps. Three
//! methods ([`Demosaic`]), from the baseline to the default:
//!
//! - **Bilinear**: each missing colour is the mean of its nearest samples (the 2 horizontal,
//!   2 vertical or 4 diagonal ones for red and blue, the 4 cross neighbours for green). Soft,
//!   with colour fringes and zipper patterns at every edge: the baseline.
//! - **Malvar**: H. S. Malvar, L.-W. He and R. Cutler, "High-quality linear interpolation for
//!   demosaicing of Bayer-patterned color images", ICASSP 2004. Bilinear interpolation
//!   corrected by a gain times the Laplacian of the colour sampled at the pixel, which carries
//!   that colour's detail into the missing ones: four fixed 5x5 filters (listed in the
//!   `malvar` submodule).
//! - **Rcd** (default): Ratio Corrected Demosaicing, L. Sanz Rodríguez, 2017
//!   (<https://github.com/LuisSR/RCD-Demosaicing>). Green first, from ratio-corrected
//!   estimates of the four cardinal neighbours, blended between vertical and horizontal by a
//!   discrimination built from high-pass filtered Bayer data; then red at blue and blue at red
//!   from the colour differences of the four diagonal neighbours, blended by a diagonal
//!   discrimination; then red and blue at green from cardinal colour differences. The `rcd`
//!   submodule lists the steps and the few deviations from the original (see below).
//!
//! On the synthetic scene ([`crate::synth`], 512 x 384, noise-free), against the true camera
//! RGB (PSNR, peak 1, unclipped pixels): bilinear 30.8 dB, Malvar 34.0 dB, RCD 36.2 dB (the
//! `methods_rank_by_psnr_on_synthetic_truth` test).
//!
//! ```
//! use obscura::demosaic::{Demosaic, demosaic};
//! use obscura::{Cfa, Plane};
//! // a grey card stays grey, whatever the method, pattern or size
//! let mosaic = Plane::from_vec(6, 5, vec![0.25; 30]).unwrap();
//! let [r, g, b] = demosaic(&mosaic, Cfa::GRBG, Demosaic::Rcd);
//! assert!([r, g, b].iter().all(|p| p.data.iter().all(|&v| (v - 0.25).abs() < 1e-6)));
//! ```
//!
//! # Values, edges, sizes and patterns
//! - Input and output are linear and may be negative or above 1 (noise, highlights). Nothing
//!   is clipped, so, as with any interpolation, the output can overshoot at sharp edges. The
//!   one internal clip: RCD forms colour ratios from a low-passed mosaic clipped at 0, because
//!   a ratio of negative noise means nothing (the original RCD clips its input and its green
//!   to `[0, 1]`).
//! - Every photosite keeps its own value in its own colour.
//! - The mosaic is processed in tiles copied with a mirrored margin ("reflect 101", which keeps
//!   the Bayer phase), so pixels up to the edge get the full method and kernels have no border
//!   cases. On a smooth image the error grows at the outermost 2 pixels to about the local
//!   slope (a mirrored ramp bends at the edge).
//! - A mosaic 1 pixel wide or tall, or a pattern that is not one of the four Bayer layouts,
//!   cannot be handled that way: every method then falls back to the mean of each colour's
//!   samples in the 3x3 neighbourhood (the mean of all of them for a colour the neighbourhood
//!   lacks). An empty mosaic gives empty planes. Nothing panics.
//!
//! # Implementation notes
//! - Schedule (the `tile` submodule): tiles of 1024 x 16 (bilinear, Malvar) or 256 x 64 (RCD)
//!   output pixels plus a mirrored margin of 2 or 10, one rayon task per band of tiles, scratch
//!   reused within a task. Each output sample is written once, so results do not depend on
//!   the tile size or the number of threads (tested).
//! - Kernels are safe Rust over equal-length row slices (no bounds checks in the inner loops,
//!   vectorised by the compiler). Every candidate value is computed at every pixel and picked
//!   by photosite colour with a bit mask, not a branch or a stride-2 loop: a branch would let
//!   the compiler keep the expensive estimate out of the common path and stop vectorising.
//! - RCD, compute-bound, is also compiled for AVX2 and AVX-512 and picked at run time (the
//!   `crate::cpu` module; `OBSCURA_CPU=scalar` forces the baseline; results are identical to the
//!   bit, tested). Bilinear and Malvar are bound by memory traffic and gain nothing from it.
//! - Malvar's fast path shares the sums of symmetric taps between its four filters; a direct
//!   per-pixel 5x5 convolution (test-only `malvar::reference`) is the specification it is
//!   tested against (within 1e-5) over many widths, heights, tile sizes and all patterns.
//!
//! Timings are in [`demosaic`]'s docs.

mod bilinear;
mod malvar;
mod rcd;
mod tile;

use serde::{Deserialize, Serialize};

use crate::cpu::Isa;
use crate::error::Error;
use crate::image::{Cfa, Plane};
use tile::Phase;

/// A demosaicing method; see the [module docs](self) for the algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Demosaic {
    /// Mean of the nearest same-colour samples: the baseline.
    Bilinear,
    /// Malvar-He-Cutler 2004 gradient-corrected linear filters: fast, sharper than bilinear.
    Malvar,
    /// Ratio Corrected Demosaicing (Sanz Rodríguez 2017): edge-directed, the best of the
    /// three (default).
    #[default]
    Rcd,
}

impl Demosaic {
    /// Every method, baseline first.
    pub const ALL: [Demosaic; 3] = [Demosaic::Bilinear, Demosaic::Malvar, Demosaic::Rcd];

    /// The method's name as the command line spells it: "bilinear", "malvar" or "rcd".
    pub fn name(self) -> &'static str {
        match self {
            Demosaic::Bilinear => "bilinear",
            Demosaic::Malvar => "malvar",
            Demosaic::Rcd => "rcd",
        }
    }
}

impl std::fmt::Display for Demosaic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Demosaic {
    type Err = Error;

    /// Parses a [`Demosaic::name`], case-insensitively.
    fn from_str(s: &str) -> Result<Self, Error> {
        Demosaic::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::parameter("demosaic", format!("{s:?} (use bilinear, malvar or rcd)"))
            })
    }
}

/// Demosaics `mosaic`, whose top-left photosite has the colour `cfa.colors[0]`, with `method`;
/// returns the R, G and B planes, each of the mosaic's size.
///
/// Input and output are linear; nothing is clipped (see the module docs for the one internal
/// clip of RCD). Photosites keep their own value in their own colour. Any size is accepted;
/// see the module docs for mosaics under 2 x 2 and non-Bayer patterns.
///
/// # Timing
/// `cargo bench --bench demosaic`: 4000 x 3000 (12 MP), 2 threads, Intel Xeon (Sapphire
/// Rapids, KVM), measured while other jobs loaded the machine (CPU pressure 60-90%), so these
/// are upper bounds:
///
/// | method   | [`demosaic`] (fresh output) | [`demosaic_into`] (reused output) |
/// |----------|-----------------------------|-----------------------------------|
/// | bilinear | 146 ms                      | 32 ms                             |
/// | Malvar   | 168 ms                      | 44 ms                             |
/// | RCD      | 227 ms                      | 138 ms                            |
///
/// The difference is the page faults of 144 MB of new output planes.
pub fn demosaic(mosaic: &Plane<f32>, cfa: Cfa, method: Demosaic) -> [Plane<f32>; 3] {
    let mut out = Default::default();
    demosaic_into(mosaic, cfa, method, &mut out);
    out
}

/// [`demosaic`] into planes the caller owns: `out` is reshaped to the mosaic's size (its
/// allocations reused when large enough) and every sample overwritten.
///
/// Worth it when demosaicing many frames: the page faults of fresh output planes cost more
/// than the bilinear or Malvar kernel itself (see the timings of [`demosaic`]).
pub fn demosaic_into(mosaic: &Plane<f32>, cfa: Cfa, method: Demosaic, out: &mut [Plane<f32>; 3]) {
    let phase = Phase::of(cfa).filter(|_| mosaic.width >= 2 && mosaic.height >= 2);
    match (phase, method) {
        (None, _) => bilinear::any_pattern(mosaic, cfa, out),
        (Some(p), Demosaic::Bilinear) => bilinear::bilinear(mosaic, p, bilinear::TILE, out),
        (Some(p), Demosaic::Malvar) => malvar::malvar(mosaic, p, malvar::TILE, out),
        (Some(p), Demosaic::Rcd) => rcd::rcd(mosaic, p, rcd::TILE, Isa::detect(), out),
    }
}

#[cfg(test)]
mod tests;
