//! LinearRaw DNGs (already demosaiced camera RGB, as the kernel merge writes): any bytes
//! through `RawFrame::from_bytes`, and a frame that decodes as linear RGB through `finish`.
//! Seeded with small LinearRaw DNGs (`scripts/fuzz.sh`): the 16-bit uncompressed kind the
//! kernel merge writes, so mutations stay close to the LinearRaw reader's checks (sample
//! count, per-sample levels, tiling) and to rawler's and obscura's LinearRaw decoders.
#![no_main]
use libfuzzer_sys::fuzz_target;
use obscura::finish::{FinishParams, finish};
use obscura::raw::{DecodeLimits, RawFrame};

fuzz_target!(|data: &[u8]| {
    // 4 MP: the seeds are a few hundred pixels; a frame this size still develops in well
    // under the 20 s timeout, and three f32 planes of it stay far below 2 GB
    let limits = DecodeLimits {
        max_pixels: 4_000_000,
    };
    let name = std::path::Path::new("fuzz.dng");
    if let Ok(frame) = RawFrame::from_bytes(data.to_vec(), name, &limits)
        && frame.is_rgb()
    {
        let (w, h) = frame.size();
        // the develop of a big frame is slow, not interesting: its branches are the same
        if w * h <= 65_536 {
            if let Ok(img) = finish(&frame, &FinishParams::default()) {
                for p in &img.rgb {
                    assert!(p.data.iter().all(|v| v.is_finite()), "non-finite output");
                }
            }
        }
    }
});
