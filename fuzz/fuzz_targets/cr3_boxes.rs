//! CR3 (ISO media) files: any bytes behind a CR3 `ftyp` box through `RawFrame::from_bytes`: the
//! structural checks (`obscura::raw::bmff`), and rawler's CR3 reader for what passes them. Seeded by
//! `scripts/fuzz.sh` with a small crafted CR3 (no real CR3 can be committed).
#![no_main]
use libfuzzer_sys::fuzz_target;
use obscura::raw::{DecodeLimits, RawFrame};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_pixels: 64_000_000,
    };
    // the fuzzer's bytes after a fixed `ftyp` of brand `crx `, so every input is routed as a
    // CR3 and mutations go into the boxes that follow
    let mut bytes = b"\0\0\0\x18ftypcrx \0\0\0\x01crx isom".to_vec();
    bytes.extend_from_slice(data);
    // the structural checks run first inside; what passes them reaches rawler
    let _ = RawFrame::from_bytes(bytes, std::path::Path::new("fuzz.cr3"), &limits);
});
