//! Merge speed on a 12-megapixel (4000x3000) synthetic burst of a reference and one alternate
//! frame: `merge/robust/12MP` is the full robust merge of one alternate frame (demosaic and
//! resampling, Wiener tile merge of four Bayer planes, spatial denoise), so its time is the
//! cost per alternate frame plus the once-per-burst denoise; `merge/robust-no-denoise/12MP`
//! leaves the denoise out; `merge/hdrplus/12MP` is the baseline (no resampling);
//! `merge/add-frame/12MP` is [`Merger::add`] alone: what each alternate frame of a streamed
//! burst costs. `merge/kernel-add-frame/12MP` and `merge/kernel-add-frame-2x/12MP` are the same
//! for the kernel-regression merge at 1x and 2x; `merge/kernel/12MP` is its whole merge of
//! one alternate frame (reference structure, both frames' accumulation, denoise).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obscura::Burst;
use obscura::align::{AlignParams, align};
use obscura::merge::{MergeMethod, MergeParams, Merger, merge};
use obscura::synth::{SynthParams, synthesize};

fn bench(c: &mut Criterion) {
    let (w, h) = (4000, 3000);
    let sb = synthesize(&SynthParams {
        frames: 2,
        width: w,
        height: h,
        motion: 16.0,
        rotate: 0.3,
        supersample: 1,
        ..SynthParams::default()
    })
    .expect("synthesize the benchmark burst");
    let burst = Burst::from_frames(sb.frames).unwrap();
    let al = align(
        &burst,
        &AlignParams {
            reference: Some(0),
            ..AlignParams::default()
        },
    )
    .unwrap();
    let mut g = c.benchmark_group("merge");
    g.throughput(Throughput::Elements((w * h) as u64));
    g.sample_size(10);
    for (id, params) in [
        ("robust/12MP", MergeParams::default()),
        (
            "robust-no-denoise/12MP",
            MergeParams {
                spatial_denoise: 0.0,
                ..MergeParams::default()
            },
        ),
        (
            "hdrplus/12MP",
            MergeParams {
                method: MergeMethod::HdrPlus,
                spatial_denoise: 0.0,
                ..MergeParams::default()
            },
        ),
    ] {
        g.bench_function(id, |b| b.iter(|| merge(&burst, &al, &params).unwrap()));
    }
    // the streaming merge's cost per alternate frame alone, its buffers warm as in a burst
    let mut merger = Merger::new(burst.frames[0].clone(), &MergeParams::default()).unwrap();
    g.bench_function("add-frame/12MP", |b| {
        b.iter(|| merger.add(&burst.frames[1], &al.frames[1]).unwrap())
    });
    drop(merger);
    let kernel = MergeParams {
        method: MergeMethod::Kernel,
        ..MergeParams::default()
    };
    g.bench_function("kernel/12MP", |b| {
        b.iter(|| merge(&burst, &al, &kernel).unwrap())
    });
    for (id, scale) in [
        ("kernel-add-frame/12MP", 1.0),
        ("kernel-add-frame-2x/12MP", 2.0),
    ] {
        let params = MergeParams {
            scale,
            ..kernel.clone()
        };
        let mut merger = Merger::new(burst.frames[0].clone(), &params).unwrap();
        g.bench_function(id, |b| {
            b.iter(|| merger.add(&burst.frames[1], &al.frames[1]).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
