//! Demosaicing speed on a 12-megapixel (4000x3000) RGGB mosaic: `demosaic/bilinear/12MP`,
//! `demosaic/malvar/12MP` and `demosaic/rcd/12MP` time a full [`demosaic`] call, including
//! the page faults of 144 MB of fresh output; `demosaic/<method>-into/12MP` time
//! [`demosaic_into`] with the output planes reused, i.e. the kernels alone.
//!
//! The mosaic is built directly, not through `synth`, to keep set-up under a second: smooth
//! colour gradients, a grid of sharp-edged squares and hash noise. The kernels have no
//! data-dependent branches, so their speed does not depend on the content.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obscura::demosaic::{Demosaic, demosaic, demosaic_into};
use obscura::{Cfa, Plane};

/// A cheap integer hash of a pixel index, mapped to `[-0.5, 0.5)`.
fn hash_noise(i: usize) -> f32 {
    let mut v = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    v ^= v >> 29;
    v = v.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v ^= v >> 32;
    (v >> 40) as f32 / (1u64 << 24) as f32 - 0.5
}

fn mosaic(w: usize, h: usize) -> Plane<f32> {
    let mut data = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let gain = [0.55, 1.0, 0.75][Cfa::RGGB.color_at(x, y) as usize];
            let square = if (x / 37 + y / 29) % 2 == 0 { 0.3 } else { 0.0 };
            let smooth = 0.2 + 0.3 * fx * fy + 0.1 * (fx * 20.0).sin();
            data.push(gain * (smooth + square) + 0.01 * hash_noise(y * w + x));
        }
    }
    Plane::from_vec(w, h, data).expect("w * h samples")
}

fn bench(c: &mut Criterion) {
    let (w, h) = (4000, 3000);
    let m = mosaic(w, h);
    let mut g = c.benchmark_group("demosaic");
    g.throughput(Throughput::Elements(12_000_000));
    g.sample_size(10);
    for method in Demosaic::ALL {
        g.bench_function(format!("{method}/12MP"), |b| {
            b.iter(|| demosaic(&m, Cfa::RGGB, method))
        });
        let mut out = demosaic(&m, Cfa::RGGB, method);
        g.bench_function(format!("{method}-into/12MP"), |b| {
            b.iter(|| demosaic_into(&m, Cfa::RGGB, method, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
