//! # obscura
//!
//! A computational photography pipeline: a handheld burst of RAW frames in, one finished image
//! with less noise and more dynamic range out.
//!
//! ```text
//!   RAW files ──decode──▶ RawFrame ──burst──▶ Burst ──align──▶ ──merge──▶ ──finish──▶ image
//!   (raw)                 (raw)               (burst)   (later stages arrive with their issues)
//!                                  synth: synthetic bursts with ground truth for tests and benches
//! ```
//!
//! ```no_run
//! use obscura::{Burst, RawFrame};
//! let burst = Burst::open(&["samples/burst".into()])?;
//! for f in &burst.frames {
//!     println!("{}: {}x{} {}", f.path.display(), f.mosaic.width, f.mosaic.height, f.cfa);
//! }
//! let one = RawFrame::open("samples/burst/frame_00.dng")?;
//! obscura::raw::write_dng(&one, std::path::Path::new("copy.dng"))?;
//! # Ok::<(), obscura::Error>(())
//! ```
#![warn(missing_docs)]

pub mod align;
pub mod burst;
pub mod cli;
pub mod error;
pub mod finish;
pub mod image;
pub(crate) mod io;
pub mod merge;
pub mod raw;
pub mod synth;

pub use burst::Burst;
pub use error::{Error, Result};
pub use image::{Cfa, Channel, Plane, Rect};
pub use raw::RawFrame;
