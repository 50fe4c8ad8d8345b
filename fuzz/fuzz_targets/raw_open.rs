//! Any bytes through `RawFrame::from_bytes`: every decoder route (our DNG reader and rawler,
//! rawloader's camera formats). Must return, never panic, hang or exhaust memory.
#![no_main]
use libfuzzer_sys::fuzz_target;
use obscura::raw::{DecodeLimits, RawFrame};

fuzz_target!(|data: &[u8]| {
    // 64 MP: real files stay far below it, and libFuzzer's 2 GB memory limit holds
    let limits = DecodeLimits {
        max_pixels: 64_000_000,
    };
    let _ = RawFrame::from_bytes(data.to_vec(), std::path::Path::new("fuzz.dng"), &limits);
});
