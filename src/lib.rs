//! # obscura
//!
//! A computational photography pipeline: a handheld burst of RAW frames in, one finished image
//! with less noise and more dynamic range out.
//!
//! ```text
//!   RAW files ──raw──▶ RawFrame ──burst──▶ Burst ──align──▶ BurstAlignment ──merge──▶ Merged
//!                                                                       (RawFrame, 16-bit DNG)
//!   Merged.frame (or any RawFrame) ──finish (+ look)──▶ Finished ──encode──▶ JPEG / PNG / TIFF
//!   synth: synthetic bursts and a colour chart with ground truth for tests and benches
//! ```
//!
//! ```no_run
//! use obscura::{Burst, align, encode, finish, merge};
//! let burst = Burst::open(&["samples/burst".into()])?;
//! let al = align::align(&burst, &align::AlignParams::default())?;
//! let merged = merge::merge(&burst, &al, &merge::MergeParams::default())?;
//! obscura::raw::write_dng(&merged.frame, std::path::Path::new("merged.dng"))?;
//! let img = finish::finish(&merged.frame, &finish::FinishParams::default())?;
//! encode::encode(&img, &merged.frame.meta, "out.jpg".as_ref(), &Default::default())?;
//! # Ok::<(), obscura::Error>(())
//! ```
#![warn(missing_docs)]

pub mod align;
pub mod batch;
pub mod burst;
pub mod cli;
pub(crate) mod cpu;
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

pub use burst::Burst;
pub use error::{Error, Result};
pub use image::{Cfa, Channel, Plane, Rect};
pub use raw::RawFrame;
