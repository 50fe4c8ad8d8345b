//! Batch manifests: any text through `parse_manifest`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = obscura::batch::parse_manifest(
        &text,
        std::path::Path::new("base"),
        std::path::Path::new("fuzz.txt"),
    );
});
