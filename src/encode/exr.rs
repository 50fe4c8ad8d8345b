//! OpenEXR output: the scene-referred linear image, 32-bit float, for compositing and for
//! anyone who wants the merged HDR without a display transform.
//!
//! The file holds one layer with channels `R`, `G`, `B` as 32-bit floats (no alpha): the
//! white-balanced camera RGB through the colour matrix into the output primaries, times the
//! exposure gain ([`crate::finish::hdr::Hdr::scene`]), upright. 1.0 is SDR diffuse white;
//! highlights go above it, out-of-gamut colours keep their negative channels. No tone
//! mapping, sharpening, look or LUT is applied. The header's `chromaticities` attribute
//! gives the primaries and the D65 white of the output space (sRGB or Display P3), so
//! colour-managed tools read the colours right. Compression: ZIP (16 scanlines), lossless.
//!
//! Written with the `exr` crate into memory, then atomically to the file.

use std::io::Cursor;
use std::path::Path;

use exr::meta::attribute::Chromaticities;
use exr::prelude::{
    AnyChannel, AnyChannels, Encoding, FlatSamples, Image, Layer, LayerAttributes, SmallVec, Vec2,
    WritableImage,
};
use rayon::prelude::*;

use super::HdrWritten;
use crate::color::{ColorSpace, D65_XY};
use crate::error::{Error, Result};
use crate::image::Plane;

/// Writes `rgb` (scene-referred linear planes in `space`) to `path` as OpenEXR (see the
/// module docs).
///
/// Errors: planes of different sizes or an empty image (parameter), an encoder or write
/// failure (io, and no file is left behind).
pub fn write_exr(rgb: &[Plane<f32>; 3], space: ColorSpace, path: &Path) -> Result<HdrWritten> {
    let (w, h) = (rgb[0].width, rgb[0].height);
    if w == 0 || h == 0 || rgb.iter().any(|p| (p.width, p.height) != (w, h)) {
        return Err(Error::parameter(
            "image",
            format!("{w}x{h}: cannot be written as OpenEXR (empty or mismatched planes)"),
        ));
    }
    let channels: SmallVec<[AnyChannel<FlatSamples>; 4]> = ["R", "G", "B"]
        .iter()
        .zip(rgb)
        .map(|(name, p)| AnyChannel::new(*name, FlatSamples::F32(p.data.clone())))
        .collect();
    let layer = Layer::new(
        (w, h),
        LayerAttributes::default(),
        Encoding::SMALL_LOSSLESS,
        AnyChannels::sort(channels),
    );
    let mut image = Image::from_layer(layer);
    let [r, g, b] = space.primaries();
    let xy = |p: [f64; 2]| Vec2(p[0] as f32, p[1] as f32);
    image.attributes.chromaticities = Some(Chromaticities {
        red: xy(r),
        green: xy(g),
        blue: xy(b),
        white: xy(D65_XY),
    });
    let mut buf = Cursor::new(Vec::new());
    image
        .write()
        .to_buffered(&mut buf)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    crate::io::write_bytes_atomic(path, buf.get_ref())?;
    let [wr, wg, wb] = space.luminance_weights();
    let peak = rgb[0]
        .data
        .par_iter()
        .zip(&rgb[1].data)
        .zip(&rgb[2].data)
        .map(|((&r, &g), &b)| wr * r + wg * g + wb * b)
        .filter(|y| y.is_finite())
        .reduce(|| 0.0, f32::max);
    Ok(HdrWritten {
        container: "exr".into(),
        capacity_stops: peak.max(1.0).log2(),
        headroom_stops: None,
        gain_map_size: None,
        gain_map_bytes: None,
    })
}
