//! The `.cube` parser on any text, and sampling what it accepts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use obscura::look::Lut3d;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(lut) = Lut3d::parse_cube(&text, std::path::Path::new("fuzz.cube")) {
        for c in [[0.0, 0.0, 0.0], [0.5, 0.25, 1.0], [f32::NAN, 2.0, -1.0]] {
            let _ = lut.sample(c);
        }
    }
});
