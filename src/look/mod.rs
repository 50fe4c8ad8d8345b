//! Looks: colour renderings applied to finished, display-encoded images.
//!
//! So far this holds [`lut`], 3D lookup tables (`.cube` files and Hald CLUTs) applied with
//! tetrahedral interpolation; the built-in looks described as data come next.

pub mod lut;

pub use lut::Lut3d;
