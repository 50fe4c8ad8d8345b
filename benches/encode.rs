//! HDR encoding speed on a 12-megapixel (4000x3000) frame made by `synth` with highlights
//! above SDR white (exposure 4), finished once with its HDR rendition:
//! - `encode/jpeg/12MP`: the plain SDR JPEG to a file (the baseline);
//! - `encode/ultrahdr/12MP`: the Ultra HDR JPEG in memory (the same SDR JPEG, the gain map's
//!   quantisation and JPEG, XMP, ISO 21496-1 and MPF);
//! - `encode/exr/12MP`: the scene-referred OpenEXR to a file (ZIP, lossless);
//! - `encode/hdr-rendition/12MP`: the boost of the HDR rendition alone (luminance, roll-off,
//!   block means, bilinear stretch), the extra work of `finish_hdr` besides a copy of the
//!   scene.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obscura::encode::exr::write_exr;
use obscura::encode::ultrahdr::{GainMapParams, ultrahdr_bytes};
use obscura::encode::{EncodeParams, encode};
use obscura::finish::hdr::{Hdr, HdrParams};
use obscura::finish::{FinishParams, finish_hdr};
use obscura::synth::{SynthParams, synthesize};

fn bench(c: &mut Criterion) {
    let params = SynthParams {
        frames: 1,
        width: 4000,
        height: 3000,
        motion: 0.0,
        rotate: 0.0,
        supersample: 1,
        exposure: 4.0,
        ..SynthParams::default()
    };
    let frame = synthesize(&params)
        .expect("synthetic frame")
        .frames
        .remove(0);
    let (img, hdr) =
        finish_hdr(&frame, &FinishParams::default(), &HdrParams::default()).expect("finish");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(12_000_000));
    g.sample_size(10);
    g.bench_function("jpeg/12MP", |b| {
        let out = dir.path().join("plain.jpg");
        b.iter(|| encode(&img, &frame.meta, &out, &EncodeParams::default()).expect("encode"))
    });
    g.bench_function("ultrahdr/12MP", |b| {
        b.iter(|| {
            ultrahdr_bytes(
                &img,
                &hdr,
                &frame.meta,
                &EncodeParams::default(),
                &GainMapParams::default(),
            )
            .expect("encode")
        })
    });
    g.bench_function("exr/12MP", |b| {
        let out = dir.path().join("scene.exr");
        b.iter(|| write_exr(&hdr.scene, hdr.space, &out).expect("encode"))
    });
    g.bench_function("hdr-rendition/12MP", |b| {
        b.iter_batched(
            || hdr.scene.clone(),
            |scene| Hdr::new(scene, hdr.space, &HdrParams::default()),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
