//! Tone mapping speed on a 12-megapixel (4000x3000) HDR scene: `tone/<mode>/12MP` time a
//! full [`tone_map`] call in each mode, in place; each iteration starts from a fresh copy of
//! the scene (the copy, about 15 ms, is outside the timing).
//!
//! The scene is built directly: a dark room (0.002 to 0.02, ±20 % checker texture) with a
//! bright window (30, ±20 % sinusoid, a dark cross bar), about 14 stops, and hash noise.
//! Local's cost depends little on the content (the exposure ladder has at most a handful of
//! steps).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use obscura::Plane;
use obscura::finish::tone::{ToneMode, ToneParams, tone_map};

/// A cheap integer hash of a pixel index, mapped to `[-0.5, 0.5)`.
fn hash_noise(i: usize) -> f32 {
    let mut v = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    v ^= v >> 29;
    v = v.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v ^= v >> 32;
    (v >> 40) as f32 / (1u64 << 24) as f32 - 0.5
}

fn scene(w: usize, h: usize) -> [Plane<f32>; 3] {
    let mut rgb: [Plane<f32>; 3] = std::array::from_fn(|_| Plane::new(w, h));
    let window = |x: usize, y: usize| {
        let (wx, wy) = (x * 480 / w, y * 320 / h);
        (280..440).contains(&wx)
            && (40..200).contains(&wy)
            && !(356..364).contains(&wx)
            && !(116..124).contains(&wy)
    };
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let (l, c) = if window(x, y) {
                let t = (x as f32 * 0.39).sin() * (y as f32 * 0.39).sin();
                (30.0 * (1.0 + 0.2 * t), [0.85, 1.0, 1.25])
            } else {
                let checker = if (x / 32 + y / 32) % 2 == 0 { 1.2 } else { 0.8 };
                (
                    0.002 * 10f32.powf(x as f32 / w as f32) * checker,
                    [1.15, 1.0, 0.8],
                )
            };
            let n = 1.0 + 0.05 * hash_noise(i);
            for (p, c) in rgb.iter_mut().zip(c) {
                p.data[i] = l * c * n;
            }
        }
    }
    rgb
}

fn bench(c: &mut Criterion) {
    let rgb = scene(4000, 3000);
    let mut g = c.benchmark_group("tone");
    g.throughput(Throughput::Elements(12_000_000));
    g.sample_size(10);
    for mode in ToneMode::ALL {
        let params = ToneParams {
            mode,
            ..ToneParams::default()
        };
        g.bench_function(format!("{mode}/12MP"), |b| {
            b.iter_batched_ref(
                || rgb.clone(),
                |img| tone_map(img, &params),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
