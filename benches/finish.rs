//! Finish speed on a 12-megapixel (4000x3000) RGGB frame made by `synth` (one frame of the
//! procedural scene, with noise):
//! - `finish/full/12MP`: the whole [`finish`] call with default parameters (lens shading,
//!   white balance, highlights, RCD demosaic, colour matrix, local tone mapping, sRGB curve,
//!   sharpening and chroma smoothing);
//! - `finish/reference/12MP`: the reference rendering (no tone mapping, no sharpening);
//! - `finish/color/12MP`: the colour matrix and transfer curve alone;
//! - `finish/tone-local/12MP`, `finish/tone-global/12MP`: tone mapping alone;
//! - `finish/sharpen/12MP`: unsharp mask and chroma smoothing alone;
//! - `finish/look-<name>/12MP`: a compiled look applied alone (LUT, vignette, grain), for
//!   `authentic` (LUT and vignette), `vibrant` (LUT only) and `mono` (all three);
//! - `finish/look-compile`: sampling a look into its 65^3 LUT;
//! - `finish/encode-jpeg/12MP`: quantising and JPEG encoding to memory-backed temp file.
//!
//! Demosaicing alone is in `benches/demosaic.rs`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obscura::bench::{apply_matrix, encode_srgb_plane};
use obscura::finish::sharpen::{SharpenParams, sharpen};
use obscura::finish::tone::{ToneMode, ToneParams, tone_map};
use obscura::finish::{FinishParams, finish};
use obscura::synth::{SynthParams, synthesize};

fn bench(c: &mut Criterion) {
    let params = SynthParams {
        frames: 1,
        width: 4000,
        height: 3000,
        motion: 0.0,
        rotate: 0.0,
        supersample: 1,
        ..SynthParams::default()
    };
    let frame = synthesize(&params)
        .expect("synthetic frame")
        .frames
        .remove(0);
    let mut g = c.benchmark_group("finish");
    g.throughput(Throughput::Elements(12_000_000));
    g.sample_size(10);
    g.bench_function("full/12MP", |b| {
        b.iter(|| finish(&frame, &FinishParams::default()).expect("finish"))
    });
    g.bench_function("reference/12MP", |b| {
        b.iter(|| finish(&frame, &FinishParams::reference()).expect("finish"))
    });
    let base = finish(&frame, &FinishParams::reference()).expect("finish");
    let linear = base.rgb.clone();
    let m = base.color.camera_to_output.map(|r| r.map(|v| v as f32));
    g.bench_function("color/12MP", |b| {
        b.iter_batched_ref(
            || linear.clone(),
            |rgb| {
                apply_matrix(rgb, &m);
                for p in rgb.iter_mut() {
                    encode_srgb_plane(p);
                }
            },
            criterion::BatchSize::LargeInput,
        )
    });
    for (name, mode) in [
        ("tone-local", ToneMode::Local),
        ("tone-global", ToneMode::Global),
    ] {
        let tp = ToneParams {
            mode,
            ..ToneParams::default()
        };
        g.bench_function(format!("{name}/12MP"), |b| {
            b.iter_batched_ref(
                || linear.clone(),
                |rgb| tone_map(rgb, &tp),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    for name in ["authentic", "vibrant", "mono"] {
        let look =
            obscura::look::compile(&obscura::look::Look::builtin(name).expect("built-in look"))
                .expect("compile");
        g.bench_function(format!("look-{name}/12MP"), |b| {
            b.iter_batched_ref(
                || base.rgb.clone(),
                |rgb| obscura::look::apply(rgb, &look, 1),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    let authentic = obscura::look::Look::builtin("authentic").expect("built-in look");
    g.bench_function("look-compile", |b| {
        b.iter(|| obscura::look::compile(&authentic).expect("compile"))
    });
    g.bench_function("sharpen/12MP", |b| {
        b.iter_batched_ref(
            || base.rgb.clone(),
            |rgb| sharpen(rgb, &SharpenParams::default()),
            criterion::BatchSize::LargeInput,
        )
    });
    let dir = std::env::temp_dir().join("obscura-bench-finish");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("out.jpg");
    g.bench_function("encode-jpeg/12MP", |b| {
        b.iter(|| {
            obscura::encode::encode(&base, &frame.meta, &out, &Default::default()).expect("encode")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
