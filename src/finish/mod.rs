//! Finish: from a merged raw mosaic to a display-referred image.
//!
//! This stage is being built; so far it holds [`demosaic`], the reconstruction of full RGB
//! planes from a Bayer mosaic.

pub mod demosaic;
