//! Alignment speed on one 12-megapixel (4000x3000) frame of a synthetic handheld burst:
//! `align/frame/12MP` measures `AlignPlan::align` (alt pyramid, coarse-to-fine search,
//! Lucas-Kanade refinement); `align/plan/12MP` the reference-side set-up done once per burst.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obscura::align::{AlignParams, AlignPlan};
use obscura::synth::{SynthParams, synthesize};

fn bench(c: &mut Criterion) {
    let (w, h) = (4000, 3000);
    let burst = synthesize(&SynthParams {
        frames: 2,
        width: w,
        height: h,
        motion: 16.0,
        rotate: 0.3,
        supersample: 1,
        ..SynthParams::default()
    })
    .expect("synthesize the benchmark burst");
    let params = AlignParams::default();
    let mut g = c.benchmark_group("align");
    g.throughput(Throughput::Elements((w * h) as u64));
    g.sample_size(10);
    g.bench_function("plan/12MP", |b| {
        b.iter(|| AlignPlan::new(&burst.frames[0], &params).unwrap())
    });
    let plan = AlignPlan::new(&burst.frames[0], &params).unwrap();
    g.bench_function("frame/12MP", |b| {
        b.iter(|| plan.align(&burst.frames[1]).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
