use super::*;
use crate::image::{Channel, Rect};
use crate::synth::rng::Rng;
use crate::synth::{SynthParams, synthesize};

/// The mosaic a sensor with pattern `cfa` records of the planes `rgb`.
fn mosaic_of(rgb: &[Plane<f32>; 3], cfa: Cfa) -> Plane<f32> {
    let (w, h) = (rgb[0].width, rgb[0].height);
    let mut m = Plane::new(w, h);
    for y in 0..h {
        for x in 0..w {
            m.set(x, y, rgb[cfa.color_at(x, y) as usize].get(x, y));
        }
    }
    m
}

/// Seeded uniform noise in `[-0.1, 1.1)`: values past both ends, as noisy data has.
fn random_mosaic(w: usize, h: usize, seed: u64) -> Plane<f32> {
    let mut rng = Rng::new(seed);
    let data = (0..w * h).map(|_| rng.range(-0.1, 1.1) as f32).collect();
    Plane::from_vec(w, h, data).unwrap()
}

fn max_abs_diff(a: &Plane<f32>, b: &Plane<f32>) -> f32 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A tiled kernel: `bilinear::bilinear`, `malvar::malvar` or RCD with the detected
/// instruction set.
type Kernel = fn(&Plane<f32>, Phase, (usize, usize), &mut [Plane<f32>; 3]);

const KERNELS: [(&str, Kernel); 3] = [
    ("bilinear", bilinear::bilinear),
    ("malvar", malvar::malvar),
    ("rcd", |m, p, size, out| {
        rcd::rcd(m, p, size, Isa::detect(), out)
    }),
];

/// Runs `kernel` with tile `size` into fresh planes.
fn tiled(kernel: Kernel, m: &Plane<f32>, phase: Phase, size: (usize, usize)) -> [Plane<f32>; 3] {
    let mut out = Default::default();
    kernel(m, phase, size, &mut out);
    out
}

#[test]
fn names_parse_and_print() {
    for m in Demosaic::ALL {
        assert_eq!(m.name().parse::<Demosaic>().unwrap(), m);
        assert_eq!(m.to_string().to_uppercase().parse::<Demosaic>().unwrap(), m);
    }
    assert_eq!(Demosaic::default(), Demosaic::Rcd);
    let err = "ahd".parse::<Demosaic>().unwrap_err().to_string();
    assert!(err.contains("bilinear, malvar or rcd"), "{err}");
}

#[test]
fn flat_grey_stays_grey_for_every_method_pattern_and_size() {
    for method in Demosaic::ALL {
        for cfa in Cfa::ALL {
            for (w, h) in [(1, 1), (2, 2), (3, 5), (16, 16), (37, 21), (300, 70)] {
                for grey in [0.0f32, 0.37, 1.3] {
                    let m = Plane::from_vec(w, h, vec![grey; w * h]).unwrap();
                    for (c, p) in demosaic(&m, cfa, method).iter().enumerate() {
                        assert_eq!((p.width, p.height), (w, h));
                        let err = p.data.iter().map(|v| (v - grey).abs()).fold(0.0, f32::max);
                        assert!(
                            err <= 1e-6,
                            "{method} {cfa} {w}x{h} grey {grey}: channel {c} off by {err}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn photosites_keep_their_own_value() {
    let m = random_mosaic(45, 38, 7);
    for method in Demosaic::ALL {
        for cfa in Cfa::ALL {
            let rgb = demosaic(&m, cfa, method);
            for y in 0..m.height {
                for x in 0..m.width {
                    let c = cfa.color_at(x, y) as usize;
                    assert_eq!(rgb[c].get(x, y), m.get(x, y), "{method} {cfa} ({x}, {y})");
                }
            }
        }
    }
}

/// A smooth image whose three channels differ (so that a swapped channel shows): slow
/// sinusoids with gradients of up to 0.01 per pixel.
fn smooth_rgb(w: usize, h: usize) -> [Plane<f32>; 3] {
    let f = |c: usize| {
        let mut p = Plane::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let (x, y) = (x as f32, y as f32);
                let v = match c {
                    0 => 0.3 + 0.15 * (0.05 * x + 0.02 * y).sin(),
                    1 => 0.5 + 0.2 * (0.03 * x - 0.04 * y).cos(),
                    _ => 0.7 - 0.15 * (0.02 * x + 0.05 * y + 1.0).sin(),
                };
                p.set(x as usize, y as usize, v);
            }
        }
        p
    };
    [f(0), f(1), f(2)]
}

#[test]
fn smooth_image_is_recovered_for_every_pattern() {
    let (w, h) = (67, 49);
    let truth = smooth_rgb(w, h);
    for cfa in Cfa::ALL {
        let m = mosaic_of(&truth, cfa);
        for method in Demosaic::ALL {
            let rgb = demosaic(&m, cfa, method);
            for c in 0..3 {
                // mirroring bends a ramp at the edge: there the error is about the slope
                let err = max_abs_diff(&rgb[c], &truth[c]);
                assert!(err < 0.025, "{method} {cfa} channel {c}: max error {err}");
                let inner = Rect::new(3, 3, w - 6, h - 6);
                let err = max_abs_diff(&rgb[c].crop(inner), &truth[c].crop(inner));
                assert!(
                    err < 2e-3,
                    "{method} {cfa} channel {c}: interior error {err}"
                );
            }
            // the test can fail: the same mosaic read with the wrong pattern is far off
            let wrong = Cfa {
                colors: cfa.colors.map(|c| match c {
                    Channel::R => Channel::B,
                    Channel::B => Channel::R,
                    g => g,
                }),
            };
            let bad = demosaic(&m, wrong, method);
            assert!(max_abs_diff(&bad[0], &truth[0]) > 0.1, "{method} {cfa}");
        }
    }
}

#[test]
fn malvar_fast_path_matches_the_direct_convolution() {
    let mut seed = 1;
    for w in [1, 7, 8, 9, 15, 16, 17, 31, 33, 65] {
        for h in [1, 2, 5, 6, 17, 34] {
            seed += 1;
            let m = random_mosaic(w, h, seed);
            for cfa in Cfa::ALL {
                let phase = Phase::of(cfa).unwrap();
                let want = malvar::reference(&m, cfa);
                // small tiles too, so that tile edges fall inside the image
                for size in [malvar::TILE, (8, 4)] {
                    let got = tiled(malvar::malvar, &m, phase, size);
                    for c in 0..3 {
                        let err = max_abs_diff(&got[c], &want[c]);
                        assert!(
                            err <= 1e-5,
                            "{w}x{h} {cfa} tile {size:?} channel {c}: {err}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn rcd_gives_identical_results_with_every_instruction_set() {
    let isas = Isa::supported();
    eprintln!("instruction sets: {isas:?}");
    let mut seed = 100;
    for w in [1, 7, 8, 9, 15, 16, 17, 31, 33, 65, 301] {
        for h in [2, 5, 34] {
            seed += 1;
            let m = random_mosaic(w, h, seed);
            for cfa in Cfa::ALL {
                let phase = Phase::of(cfa).unwrap();
                let run = |isa| {
                    let mut out = Default::default();
                    rcd::rcd(&m, phase, (64, 16), isa, &mut out);
                    out
                };
                let want = run(Isa::baseline());
                for &isa in &isas[1..] {
                    assert!(run(isa) == want, "{w}x{h} {cfa} {isa:?}");
                }
            }
        }
    }
}

#[test]
fn tiling_does_not_change_the_result() {
    let m = random_mosaic(301, 157, 3);
    let phase = Phase::of(Cfa::GBRG).unwrap();
    let whole = (1 << 20, 1 << 20);
    for small in [(2, 2), (16, 8), (34, 22)] {
        for (name, kernel) in KERNELS {
            let got = tiled(kernel, &m, phase, small);
            assert!(got == tiled(kernel, &m, phase, whole), "{name} {small:?}");
        }
    }
}

#[test]
fn into_reuses_dirty_buffers_of_any_size() {
    let m = random_mosaic(41, 23, 5);
    for method in Demosaic::ALL {
        for cfa in Cfa::ALL {
            let mut out = [
                random_mosaic(50, 50, 1),
                Plane::default(),
                random_mosaic(3, 2, 2),
            ];
            demosaic_into(&m, cfa, method, &mut out);
            assert_eq!(out, demosaic(&m, cfa, method), "{method} {cfa}");
        }
    }
}

#[test]
fn parallel_run_equals_serial_run() {
    let m = random_mosaic(523, 311, 11);
    let serial = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for method in Demosaic::ALL {
        for cfa in Cfa::ALL {
            let one = serial.install(|| demosaic(&m, cfa, method));
            assert_eq!(demosaic(&m, cfa, method), one, "{method} {cfa}");
        }
    }
}

#[test]
fn odd_tiny_and_empty_sizes_and_odd_patterns_do_not_panic() {
    let odd = Cfa {
        colors: [Channel::R, Channel::G, Channel::B, Channel::B],
    };
    let sizes = [
        (0, 0),
        (0, 3),
        (1, 1),
        (1, 7),
        (7, 1),
        (2, 2),
        (3, 5),
        (5, 3),
        (2, 9),
        (11, 2),
    ];
    for (w, h) in sizes {
        let m = random_mosaic(w, h, (w * 31 + h) as u64);
        for method in Demosaic::ALL {
            for cfa in Cfa::ALL.into_iter().chain([odd]) {
                for p in demosaic(&m, cfa, method) {
                    assert_eq!((p.width, p.height), (w, h));
                    assert!(
                        p.data.iter().all(|v| v.is_finite()),
                        "{method} {cfa} {w}x{h}"
                    );
                }
            }
        }
    }
    // a line: the two colours it holds are interpolated along it
    let line = Plane::from_vec(5, 1, vec![0.2, 0.4, 0.2, 0.4, 0.2]).unwrap();
    let [r, g, _] = demosaic(&line, Cfa::RGGB, Demosaic::Rcd);
    assert_eq!(r.data, [0.2; 5]);
    assert_eq!(g.data, [0.4; 5]);
}

/// PSNR (peak 1) of `rgb` against `truth` over pixels at least 4 from the edge where every
/// true channel is below 1 (the clean mosaic is clipped there, the truth is not).
fn psnr(rgb: &[Plane<f32>; 3], truth: &[Plane<f32>; 3]) -> f64 {
    let (w, h) = (truth[0].width, truth[0].height);
    let (mut sum, mut count) = (0.0f64, 0usize);
    for y in 4..h - 4 {
        for x in 4..w - 4 {
            if truth.iter().any(|p| p.get(x, y) >= 1.0) {
                continue;
            }
            for c in 0..3 {
                let d = f64::from(rgb[c].get(x, y) - truth[c].get(x, y));
                sum += d * d;
                count += 1;
            }
        }
    }
    assert!(count > w * h, "most of the frame must be unclipped");
    -10.0 * (sum / count as f64).log10()
}

#[test]
fn methods_rank_by_psnr_on_synthetic_truth() {
    let burst = synthesize(&SynthParams {
        frames: 1,
        width: 512,
        height: 384,
        shot: 0.0,
        read: 0.0,
        motion: 0.0,
        rotate: 0.0,
        ..Default::default()
    })
    .unwrap();
    let cfa = burst.frames[0].cfa;
    let [bilinear, malvar, rcd] =
        Demosaic::ALL.map(|m| psnr(&demosaic(&burst.clean_mosaic, cfa, m), &burst.clean_rgb));
    eprintln!("PSNR: bilinear {bilinear:.2} dB, malvar {malvar:.2} dB, rcd {rcd:.2} dB");
    assert!(
        rcd >= malvar + 1.0,
        "rcd {rcd:.2} dB vs malvar {malvar:.2} dB"
    );
    assert!(
        rcd >= bilinear + 4.0,
        "rcd {rcd:.2} dB vs bilinear {bilinear:.2} dB"
    );
    assert!(
        malvar > bilinear,
        "malvar {malvar:.2} dB vs bilinear {bilinear:.2} dB"
    );
}
