//! End-to-end speed: raw files on disk in, JPEG on disk out, through [`Pipeline::run`] with
//! default parameters (robust merge, `natural` look, JPEG quality 92).
//!
//! - `pipeline/burst-8x12MP`: the reference burst (8 frames of 4000x3000, see `common`):
//!   decode, align, merge, finish, encode;
//! - `pipeline/develop-1x12MP`: its frame 0 alone: decode, finish, encode.
//!
//! Throughput counts input photosites (8 x 12 million for the burst, 12 million for one
//! frame), so criterion's Melem/s are input megapixels per second. The JPEG goes to a
//! temporary folder in the target folder, removed at the end.
//!
//! A run of the burst takes seconds, so criterion needs more than its default 5 s to take
//! its 10 samples: `cargo bench --bench pipeline -- --measurement-time 100`.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obscura::pipeline::Pipeline;

fn bench(c: &mut Criterion) {
    let burst = common::reference_burst();
    let out_dir = tempfile::Builder::new()
        .prefix("bench-pipeline-")
        .tempdir_in(common::target_dir())
        .expect("temporary folder in the target folder");
    let out = out_dir.path().join("out.jpg");
    let pipeline = Pipeline::default();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Elements(
        common::FRAMES as u64 * common::FRAME_PIXELS,
    ));
    let inputs = [burst.dir.clone()];
    g.bench_function(format!("burst-{}x12MP", common::FRAMES), |b| {
        b.iter(|| pipeline.run(&inputs, &out).expect("process the burst"))
    });
    g.throughput(Throughput::Elements(common::FRAME_PIXELS));
    let inputs = [burst.frames[0].clone()];
    g.bench_function("develop-1x12MP", |b| {
        b.iter(|| pipeline.run(&inputs, &out).expect("develop one frame"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
