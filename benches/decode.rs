//! Decode speed: [`RawFrame::open`] from a file in the page cache to a normalised mosaic.
//!
//! - `decode/synth-dng/12MP`: frame 0 of the reference burst (see `common`), a 4000x3000
//!   12-bit RGGB DNG as `obscura synth` writes it (uncompressed 16-bit samples);
//! - `decode/sony-jxl/61MP`: the Sony ILCE-7RM4 DNG of Adobe's DNG 1.7 samples
//!   (`03_jxl_bayer_raw_integer.dng`, JPEG XL tiles), when `../shared/raw/fetch-dng-samples.sh`
//!   has fetched it into `$OBSCURA_RAW_CACHE` or `~/.cache/obscura/raw`; skipped with a
//!   notice otherwise.
//!
//! Throughput counts decoded photosites, so criterion's Melem/s are megapixels per second:
//! 12 million for the synthetic frame; the Sony's whole stored buffer (10240x7168, 73.4
//! million, of which 61 million are the active image) since all of it is decoded.

mod common;
/// The tests' helpers, for where the DNG samples are cached.
#[path = "../tests/common/mod.rs"]
mod samples;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obscura::RawFrame;

fn bench(c: &mut Criterion) {
    let burst = common::reference_burst();
    let synth = &burst.frames[0];
    let mut g = c.benchmark_group("decode");
    g.sample_size(20);
    g.throughput(Throughput::Elements(common::FRAME_PIXELS));
    g.bench_function("synth-dng/12MP", |b| {
        b.iter(|| RawFrame::open(synth).expect("decode the synthetic frame"))
    });
    if let Some(sony) = samples::dng_sample("03_jxl_bayer_raw_integer.dng") {
        let frame = RawFrame::open(&sony).expect("decode the Sony sample");
        let photosites = (frame.mosaic.width * frame.mosaic.height) as u64;
        drop(frame);
        g.sample_size(10);
        g.throughput(Throughput::Elements(photosites));
        g.bench_function("sony-jxl/61MP", |b| {
            b.iter(|| RawFrame::open(&sony).expect("decode the Sony sample"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
