//! # obscura
//!
//! A computational photography pipeline: a handheld burst of RAW frames in, one finished image
//! with less noise and more dynamic range out.
//!
//! ```text
//!   RAW files ──raw──▶ RawFrame ──burst──▶ Burst ──align──▶ BurstAlignment ──merge──▶ Merged
//!                                                                       (RawFrame, 16-bit DNG)
//!   Merged.frame (or any RawFrame) ──finish──▶ Finished ──look──▶ Finished ──encode──▶ JPEG / PNG / TIFF
//!                                  ──finish_hdr──▶ Finished + Hdr ──look──▶ ──encode_hdr──▶ Ultra HDR / EXR
//!   look: a built-in / TOML Look and/or a .cube / Hald Lut3d, compiled once (look::compile)
//!   pipeline: all of it in one call, with progress and a report; batch: many bursts
//!   synth: synthetic bursts and a colour chart with ground truth for tests and benches
//! ```
//!
//! One call runs the whole chain and reports what happened ([`pipeline`]):
//!
//! ```no_run
//! use obscura::look::Look;
//! use obscura::pipeline::Pipeline;
//!
//! let out = Pipeline::new()
//!     .look(Look::resolve("authentic")?) // or a look file: Look::resolve("my.toml")
//!     .dng("merged.dng") // keep the merged raw too
//!     .run(&["samples/burst".into()], "out.jpg".as_ref())?;
//! println!("{} frames, {:.2} s", out.report.frames_used, out.report.seconds.total);
//! # Ok::<(), obscura::Error>(())
//! ```
//!
//! Every stage is also a function of its own, with a plain parameters struct:
//!
//! ```no_run
//! use obscura::{Burst, align, encode, finish, look, look::Look, merge};
//! let burst = Burst::open(&["samples/burst".into()])?;
//! let al = align::align(&burst, &align::AlignParams::default())?;
//! let merged = merge::merge(&burst, &al, &merge::MergeParams::default())?;
//! obscura::raw::write_dng(&merged.frame, std::path::Path::new("merged.dng"))?;
//! let vibrant = Look::resolve("vibrant")?;
//! let compiled = look::compile(&vibrant)?; // once, for any number of images
//! let params = finish::FinishParams::with_look(&vibrant); // the look's tone and sharpening
//! let mut img = finish::finish(&merged.frame, &params)?;
//! look::apply(&mut img.rgb, &compiled, img.orientation); // the look's colour, vignette, grain
//! encode::encode(&img, &merged.frame.meta, "out.jpg".as_ref(), &Default::default())?;
//! # Ok::<(), obscura::Error>(())
//! ```
//!
//! `examples/` holds complete programs: `single_raw.rs`, `merge_to_dng.rs`, `custom_look.rs`.
//!
//! # Features
//! - `cli` (default): the `obscura` binary (`src/main.rs`, `src/cli/`) and its crates (clap,
//!   indicatif, ctrlc). The library does not use them: depend on obscura with
//!   `default-features = false` to leave them out.
//! - `bench`: `obscura::bench`, doc-hidden internals for the benches and fuzz targets, with
//!   no stability promise.
#![warn(missing_docs)]

pub mod align;
pub mod batch;
pub mod burst;
pub mod color;
pub(crate) mod cpu;
pub mod demosaic;
pub mod diagnostics;
pub mod encode;
pub mod error;
pub mod finish;
pub mod image;
pub(crate) mod io;
pub mod look;
pub mod merge;
pub mod pipeline;
pub mod raw;
pub mod synth;

/// Internals that only benches and fuzz targets call (finish sub-steps, the DNG opcode
/// parser), behind the `bench` feature and hidden from the docs, as rav1e does: no stability
/// promise, and not part of the library's API.
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench {
    use crate::Plane;
    use crate::raw::Opcode;

    /// `finish`'s colour-matrix step: `rgb = m * rgb` per pixel.
    pub fn apply_matrix(rgb: &mut [Plane<f32>; 3], m: &[[f32; 3]; 3]) {
        crate::finish::apply_matrix(rgb, m)
    }

    /// `finish`'s last step: linear light to the sRGB curve, in place.
    pub fn encode_srgb_plane(p: &mut Plane<f32>) {
        crate::finish::encode_srgb_plane(p)
    }

    /// Parses a DNG OpcodeList tag's bytes (the fuzz target `dng_tags`).
    pub fn parse_opcode_list(buf: &[u8]) -> std::result::Result<Vec<Opcode>, String> {
        crate::raw::opcodes::parse_opcode_list(buf)
    }
}

pub use burst::Burst;
pub use error::{Error, Result};
pub use image::{Cfa, Channel, Plane, Rect};
pub use raw::RawFrame;
