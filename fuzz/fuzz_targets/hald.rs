//! Hald CLUT images: any bytes as an image file (PNG, TIFF, JPEG) through `Lut3d::load`'s
//! image path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use obscura::look::Lut3d;

fuzz_target!(|data: &[u8]| {
    if let Ok(lut) = Lut3d::from_image_bytes(data, std::path::Path::new("fuzz.png")) {
        let _ = lut.sample([0.3, 0.6, 0.9]);
    }
});
