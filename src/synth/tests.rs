//! Tests of the burst renderer against independent expectations: centroids of rendered
//! features against the motion truth, measured noise against the model, exact file round trips.

use super::*;
use crate::image::Channel;
use resolution::{BarGroup, chart_bars};

/// Small, fast parameters: 64x48, 3 frames.
fn small() -> SynthParams {
    SynthParams {
        frames: 3,
        width: 64,
        height: 48,
        motion: 4.0,
        ..SynthParams::default()
    }
}

/// Noise-free parameters (quantisation only).
fn clean(p: SynthParams) -> SynthParams {
    SynthParams {
        shot: 0.0,
        read: 0.0,
        ..p
    }
}

/// A scene with one grey Gaussian blob of standard deviation `sigma` centred at `centre`, on
/// black, as a `w` x `h` linear image.
fn blob_scene(w: usize, h: usize, centre: [f64; 2], sigma: f64) -> Scene {
    let mut plane = Plane::new(w, h);
    for j in 0..h {
        for i in 0..w {
            let dx = i as f64 + 0.5 - centre[0];
            let dy = j as f64 + 0.5 - centre[1];
            plane.set(
                i,
                j,
                (0.8 * (-(dx * dx + dy * dy) / (2.0 * sigma * sigma)).exp()) as f32,
            );
        }
    }
    Scene::from_linear_rgb([plane.clone(), plane.clone(), plane]).unwrap()
}

/// Intensity centroid of a mosaic of a grey scene, in continuous pixel coordinates; each
/// photosite is divided by its channel's sensitivity so all colours weigh alike.
fn centroid(frame: &RawFrame) -> [f64; 2] {
    let (mut sx, mut sy, mut s) = (0.0, 0.0, 0.0);
    let m = &frame.mosaic;
    for j in 0..m.height {
        for i in 0..m.width {
            let v = f64::from(m.get(i, j)) / SENSITIVITY[frame.cfa.color_at(i, j) as usize];
            sx += v * (i as f64 + 0.5);
            sy += v * (j as f64 + 0.5);
            s += v;
        }
    }
    [sx / s, sy / s]
}

#[test]
fn floor_matches_the_standard_library() {
    let mut r = Rng::new(3);
    let mut values = vec![
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.0,
        -1.0,
        2.5,
        -2.5,
        1e15,
        -1e15 - 0.5,
    ];
    values.extend([
        1.0 - 1e-16,
        -1e-300,
        2251799813685247.5,
        -2251799813685247.5,
    ]);
    values.extend((0..100_000).map(|i| r.range(-1e6, 1e6) * if i % 2 == 0 { 1.0 } else { 1e-6 }));
    values.extend((-2000..2000).map(|i| f64::from(i) * 0.25));
    for x in values {
        assert_eq!(floor_i64(x), x.floor() as i64, "{x}");
    }
}

#[test]
fn same_seed_same_pixels_different_seed_differs() {
    let p = SynthParams {
        moving: 2.0,
        ..small()
    };
    let a = synthesize(&p).unwrap();
    let b = synthesize(&p).unwrap();
    assert_eq!(a, b);
    let c = synthesize(&SynthParams { seed: 2, ..p }).unwrap();
    for k in 0..3 {
        assert_ne!(a.frames[k].mosaic, c.frames[k].mosaic, "frame {k}");
    }
    assert_ne!(a.truth.frames[1].translation, c.truth.frames[1].translation);
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let p = small();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let a = one.install(|| synthesize(&p)).unwrap();
    let b = three.install(|| synthesize(&p)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn translated_blob_lands_where_displacement_says() {
    let p = clean(SynthParams {
        frames: 4,
        width: 128,
        height: 96,
        motion: 10.0,
        rotate: 0.0,
        supersample: 4,
        ..SynthParams::default()
    });
    let scene = blob_scene(128, 96, [40.3, 50.7], 2.5);
    let burst = synthesize_scene(&p, &scene).unwrap();
    let c0 = centroid(&burst.frames[0]);
    assert!(
        (c0[0] - 40.3).abs() < 0.02 && (c0[1] - 50.7).abs() < 0.02,
        "{c0:?}"
    );
    for k in 1..4 {
        let t = burst.truth.frames[k].translation;
        assert!(
            t[0].abs() + t[1].abs() > 1.0,
            "frame {k} barely moves: {t:?}"
        );
        let d = burst.truth.displacement(k, c0[0], c0[1]);
        // Pure translation: the displacement is the translation everywhere.
        assert_eq!(d, t);
        assert_eq!(burst.truth.displacement(k, 3.0, 90.0), t);
        let ck = centroid(&burst.frames[k]);
        let err = [ck[0] - c0[0] - d[0], ck[1] - c0[1] - d[1]];
        assert!(
            err[0].abs() < 0.01 && err[1].abs() < 0.01,
            "frame {k}: error {err:?}"
        );
    }
}

#[test]
fn rotated_blob_lands_where_displacement_says() {
    let p = clean(SynthParams {
        frames: 4,
        width: 128,
        height: 96,
        motion: 3.0,
        rotate: 6.0,
        supersample: 4,
        ..SynthParams::default()
    });
    // Far from the centre (64, 48) so that the rotation moves it by several pixels.
    let scene = blob_scene(128, 96, [20.6, 20.2], 2.5);
    let burst = synthesize_scene(&p, &scene).unwrap();
    let c0 = centroid(&burst.frames[0]);
    for k in 1..4 {
        let f = &burst.truth.frames[k];
        let d = burst.truth.displacement(k, c0[0], c0[1]);
        let rotation_part = [d[0] - f.translation[0], d[1] - f.translation[1]];
        assert!(
            f.rotation_deg.abs() < 1.0 || rotation_part[0].hypot(rotation_part[1]) > 0.5,
            "frame {k}: {rotation_part:?}"
        );
        let ck = centroid(&burst.frames[k]);
        let err = [ck[0] - c0[0] - d[0], ck[1] - c0[1] - d[1]];
        assert!(
            err[0].abs() < 0.01 && err[1].abs() < 0.01,
            "frame {k}: error {err:?}"
        );
    }
}

#[test]
fn moving_object_is_where_the_truth_puts_it() {
    // On black, every pixel the object touches changes (the object is never black).
    let p = clean(SynthParams {
        frames: 4,
        width: 128,
        height: 96,
        moving: 5.0,
        scene: SceneSource::Flat([0.0; 3]),
        ..SynthParams::default()
    });
    let with = synthesize(&p).unwrap();
    // The object has its own random stream: without it the camera motion is the same.
    let without = synthesize(&SynthParams {
        moving: 0.0,
        ..p.clone()
    })
    .unwrap();
    let obj = with.truth.moving_object.as_ref().unwrap();
    assert_eq!(obj.radius, 12.0);
    assert!(without.truth.moving_object.is_none());
    for k in 0..4 {
        assert_eq!(with.truth.frames[k], without.truth.frames[k]);
        let step = [
            obj.centres[k][0] - obj.centres[0][0],
            obj.centres[k][1] - obj.centres[0][1],
        ];
        assert!((step[0].hypot(step[1]) - 5.0 * k as f64).abs() < 1e-6);
        // The pixels the object changed against the pixels whose centre lies inside the disc
        // seen in frame k (clipped by the frame edges). Rim pixels change partly, so the two
        // sets differ by at most the rim.
        let q = with.truth.to_frame(k, obj.centres[k][0], obj.centres[k][1]);
        let (a, b) = (&with.frames[k].mosaic, &without.frames[k].mosaic);
        let (mut changed, mut expected, mut mismatched) = ([0.0; 3], [0.0; 3], 0);
        for j in 0..96 {
            for i in 0..128 {
                let (x, y) = (i as f64 + 0.5, j as f64 + 0.5);
                let is_changed = a.get(i, j) != b.get(i, j);
                let is_inside = (x - q[0]).hypot(y - q[1]) < obj.radius;
                for (acc, on) in [(&mut changed, is_changed), (&mut expected, is_inside)] {
                    if on {
                        *acc = [acc[0] + x, acc[1] + y, acc[2] + 1.0];
                    }
                }
                if is_changed != is_inside {
                    // Only on the rim.
                    let r = (x - q[0]).hypot(y - q[1]);
                    assert!(
                        (r - obj.radius).abs() < 1.0,
                        "frame {k}: ({i}, {j}) at radius {r}"
                    );
                    mismatched += 1;
                }
            }
        }
        assert!(expected[2] > 200.0, "frame {k}: object mostly out of view");
        assert!(mismatched < 40, "frame {k}: {mismatched} rim pixels differ");
        let (gx, gy) = (changed[0] / changed[2], changed[1] / changed[2]);
        let (ex, ey) = (expected[0] / expected[2], expected[1] / expected[2]);
        assert!(
            (gx - ex).abs() < 0.2 && (gy - ey).abs() < 0.2,
            "frame {k}: ({gx}, {gy}) vs ({ex}, {ey})"
        );
        // Inside the frame over the whole path.
        assert!(obj.centres[k][0] >= 12.0 && obj.centres[k][0] <= 116.0);
        assert!(obj.centres[k][1] >= 12.0 && obj.centres[k][1] <= 84.0);
    }
    // flow() follows the object for points on it and the camera elsewhere.
    let c0 = obj.centres[0];
    assert!(with.truth.in_object(c0[0], c0[1]));
    let d = with.truth.flow(2, c0[0], c0[1]);
    let q = with.truth.to_frame(2, obj.centres[2][0], obj.centres[2][1]);
    assert!((c0[0] + d[0] - q[0]).abs() < 1e-9 && (c0[1] + d[1] - q[1]).abs() < 1e-9);
}

#[test]
fn flat_scene_noise_matches_the_model() {
    // 512x512: 65536 red or blue photosites, standard error of a variance 0.6%.
    let white = 4095.0;
    let black = 64.0;
    let q_var = 1.0 / (12.0 * (white - black) * (white - black));
    for (exposure, shot, read) in [(1.0, 2e-3, 1e-4), (0.1, 2e-3, 1e-4), (1.0, 5e-4, 4e-6)] {
        let p = SynthParams {
            frames: 1,
            width: 512,
            height: 512,
            motion: 0.0,
            scene: SceneSource::Flat([0.3, 0.3, 0.3]),
            exposure,
            shot,
            read,
            ..SynthParams::default()
        };
        let burst = synthesize(&p).unwrap();
        let f = &burst.frames[0];
        for ch in [Channel::R, Channel::G, Channel::B] {
            let xs: Vec<f64> = (0..512 * 512)
                .filter(|i| f.cfa.color_at(i % 512, i / 512) == ch)
                .map(|i| f64::from(f.mosaic.data[i]))
                .collect();
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let x = exposure * 0.3 * SENSITIVITY[ch as usize];
            let model = shot * x + read + q_var;
            assert!((mean / x - 1.0).abs() < 0.01, "{ch:?} at {x}: mean {mean}");
            assert!(
                (var / model - 1.0).abs() < 0.05,
                "{ch:?} at {x} (S {shot}, O {read}): variance {var:.4e}, model {model:.4e}"
            );
        }
    }
}

#[test]
fn clean_reference_matches_the_noise_free_frame() {
    let p = clean(SynthParams {
        exposure: 2.0,
        ..small()
    });
    let burst = synthesize(&p).unwrap();
    let f = &burst.frames[0];
    let range = f64::from(p.white - p.black);
    let mut clipped = 0;
    for j in 0..48 {
        for i in 0..64 {
            let c = f.cfa.color_at(i, j) as usize;
            let rgb = burst.clean_rgb[c].get(i, j);
            let cm = burst.clean_mosaic.get(i, j);
            assert_eq!(cm, rgb.min(1.0));
            clipped += usize::from(rgb > 1.0);
            // Noise-free frame = clean mosaic quantised.
            let diff = (f64::from(f.mosaic.get(i, j)) - f64::from(cm)).abs() * range;
            assert!(diff <= 0.5 + 1e-3, "({i}, {j}): {diff} raw units");
        }
    }
    assert!(clipped > 0, "exposure 2 should clip some highlights");
}

#[test]
fn bracket_scales_signal_and_exposure_time() {
    let p = clean(SynthParams {
        frames: 3,
        width: 32,
        height: 32,
        scene: SceneSource::Flat([0.2, 0.2, 0.2]),
        bracket: vec![0.0, 1.0, -2.0],
        ..SynthParams::default()
    });
    let burst = synthesize(&p).unwrap();
    let mean = |k: usize| {
        burst.frames[k]
            .mosaic
            .data
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>()
            / 1024.0
    };
    assert!((mean(1) / mean(0) - 2.0).abs() < 0.01);
    assert!((mean(2) / mean(0) - 0.25).abs() < 0.01);
    let times: Vec<f64> = burst
        .frames
        .iter()
        .map(|f| f.meta.exposure_time.unwrap())
        .collect();
    assert_eq!(times, vec![0.01, 0.02, 0.0025]);
    assert_eq!(burst.truth.frames[1].ev, 1.0);
}

#[test]
fn metadata_describes_the_synthetic_camera() {
    let p = SynthParams {
        frames: 32,
        width: 16,
        height: 16,
        motion: 2.0,
        ..SynthParams::default()
    };
    let burst = synthesize(&p).unwrap();
    let f = &burst.frames[31];
    assert_eq!(
        (f.meta.make.as_str(), f.meta.model.as_str()),
        ("obscura", "synthetic")
    );
    assert_eq!(
        f.meta.capture_time.as_deref(),
        Some("2026:01:01 12:00:01.023")
    );
    assert_eq!(
        burst.frames[0].meta.capture_time.as_deref(),
        Some("2026:01:01 12:00:00.000")
    );
    assert_eq!(f.meta.as_shot_neutral, SENSITIVITY);
    assert_eq!(f.wb_multipliers()[1], 1.0);
    assert_eq!(
        f.meta.noise_profile,
        vec![NoiseModel {
            scale: 2e-3,
            offset: 1e-4
        }]
    );
    assert_eq!(f.black, [64.0; 4]);
    assert_eq!(f.crop, Rect::new(0, 0, 16, 16));
    // The colour matrix maps D65 white (XYZ 0.9505, 1, 1.089) to the as-shot neutral.
    let m = f.meta.calibrations[0].color_matrix;
    let d65 = [0.95047, 1.0, 1.08883];
    for r in 0..3 {
        let v: f64 = (0..3).map(|c| m[r][c] * d65[c]).sum();
        assert!((v - SENSITIVITY[r]).abs() < 1e-3, "row {r}: {v}");
    }
    assert_eq!(f.meta.calibrations[0].illuminant, 21);
}

#[test]
fn file_names_widen_above_100_frames() {
    let p = SynthParams {
        frames: 101,
        ..SynthParams::default()
    };
    let t = make_truth(&p);
    assert_eq!(t.frames[0].file, "frame_000.dng");
    assert_eq!(t.frames[100].file, "frame_100.dng");
    let t = make_truth(&SynthParams { frames: 100, ..p });
    assert_eq!(t.frames[99].file, "frame_99.dng");
}

#[test]
fn validation_names_the_field_and_its_range() {
    let cases: Vec<(SynthParams, &str, &str)> = vec![
        (
            SynthParams {
                frames: 0,
                ..small()
            },
            "frames",
            "1..=256",
        ),
        (
            SynthParams {
                frames: 257,
                ..small()
            },
            "frames",
            "1..=256",
        ),
        (
            SynthParams {
                width: 15,
                ..small()
            },
            "width",
            "16..=20000",
        ),
        (
            SynthParams {
                width: 65,
                ..small()
            },
            "width",
            "even",
        ),
        (
            SynthParams {
                height: 20002,
                ..small()
            },
            "height",
            "16..=20000",
        ),
        (
            SynthParams {
                motion: 16.5,
                ..small()
            },
            "motion",
            "0..=16",
        ),
        (
            SynthParams {
                motion: -1.0,
                ..small()
            },
            "motion",
            "0..=",
        ),
        (
            SynthParams {
                motion: f64::NAN,
                ..small()
            },
            "motion",
            "0..=",
        ),
        (
            SynthParams {
                rotate: 11.0,
                ..small()
            },
            "rotate",
            "0..=10",
        ),
        (
            SynthParams {
                moving: 13.0,
                ..small()
            },
            "moving",
            "0..=12",
        ),
        (
            SynthParams {
                shot: -1e-3,
                ..small()
            },
            "shot",
            ">= 0",
        ),
        (
            SynthParams {
                read: f64::INFINITY,
                ..small()
            },
            "read",
            ">= 0",
        ),
        (
            SynthParams {
                white: 70000,
                ..small()
            },
            "white",
            "65535",
        ),
        (
            SynthParams {
                black: 4095,
                ..small()
            },
            "black",
            "below white",
        ),
        (
            SynthParams {
                exposure: 0.0,
                ..small()
            },
            "exposure",
            "(0, 1000]",
        ),
        (
            SynthParams {
                bracket: vec![0.0, 12.0],
                ..small()
            },
            "bracket",
            "-10..=10",
        ),
        (
            SynthParams {
                supersample: 0,
                ..small()
            },
            "supersample",
            "1..=8",
        ),
        (
            SynthParams {
                scene: SceneSource::Flat([0.1, f32::NAN, 0.1]),
                ..small()
            },
            "scene",
            ">= 0",
        ),
        (
            SynthParams {
                frames: 256,
                width: 20000,
                height: 20000,
                ..small()
            },
            "frames",
            "in total",
        ),
    ];
    for (p, field, range) in cases {
        match synthesize(&p) {
            Err(Error::Parameter { name, reason }) => {
                assert_eq!(name, field, "{reason}");
                assert!(reason.contains(range), "{field}: {reason}");
            }
            other => panic!(
                "{field}: expected a parameter error, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    assert!(SynthParams::default().validate().is_ok());
    let e = synthesize(&SynthParams {
        scene: SceneSource::Image("/nonexistent/scene.png".into()),
        ..small()
    })
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/scene.png"), "{e}");
}

#[test]
fn params_round_trip_through_json() {
    let p = SynthParams {
        cfa: Cfa::GBRG,
        bracket: vec![0.0, -1.0],
        scene: SceneSource::Flat([0.1, 0.2, 0.3]),
        ..SynthParams::default()
    };
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"cfa\":\"GBRG\""), "{json}");
    assert_eq!(serde_json::from_str::<SynthParams>(&json).unwrap(), p);
    // Missing fields take their defaults.
    let partial: SynthParams = serde_json::from_str(r#"{"frames": 2, "cfa": "bggr"}"#).unwrap();
    assert_eq!(
        partial,
        SynthParams {
            frames: 2,
            cfa: Cfa::BGGR,
            ..SynthParams::default()
        }
    );
    assert!(serde_json::from_str::<SynthParams>(r#"{"cfa": "xtrans"}"#).is_err());
}

#[test]
fn written_burst_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("burst");
    let mut burst = synthesize(&SynthParams {
        moving: 2.0,
        ..small()
    })
    .unwrap();
    let paths = burst.save(&out).unwrap();
    let names: Vec<_> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["frame_00.dng", "frame_01.dng", "frame_02.dng"]);
    assert_eq!(burst.frames[1].path, paths[1]);

    let truth = Truth::load(out.join("truth.json")).unwrap();
    assert_eq!(truth, burst.truth);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("truth.json")).unwrap()).unwrap();
    assert_eq!(json["cfa"], "RGGB");
    assert_eq!(json["frames"][1]["file"], "frame_01.dng");
    assert!(json["moving_object"]["centres"].is_array());

    for (k, path) in paths.iter().enumerate() {
        let f = RawFrame::open(path).unwrap();
        let orig = &burst.frames[k];
        assert_eq!(f.mosaic, orig.mosaic, "frame {k} pixels");
        assert_eq!(
            (f.cfa, f.black, f.white),
            (orig.cfa, orig.black, orig.white)
        );
        assert_eq!((f.crop, f.active_area), (orig.crop, orig.active_area));
        assert_eq!(f.meta.make, "obscura");
        assert_eq!(f.meta.exposure_time, orig.meta.exposure_time);
        assert_eq!(f.meta.capture_time, orig.meta.capture_time);
        assert_eq!(f.meta.noise_profile, orig.meta.noise_profile);
    }

    let read_tiff = |name: &str| {
        let file = std::fs::File::open(out.join(name)).unwrap();
        let mut dec = tiff::decoder::Decoder::new(std::io::BufReader::new(file)).unwrap();
        let dims = dec.dimensions().unwrap();
        match dec.read_image().unwrap() {
            tiff::decoder::DecodingResult::F32(v) => (dims, v),
            _ => panic!("{name} is not 32-bit float"),
        }
    };
    let ((w, h), mosaic) = read_tiff("reference_mosaic.tiff");
    assert_eq!((w, h), (64, 48));
    assert_eq!(mosaic, burst.clean_mosaic.data);
    let (_, rgb) = read_tiff("reference_rgb.tiff");
    assert_eq!(rgb.len(), 64 * 48 * 3);
    assert_eq!(rgb[3 * 100 + 2], burst.clean_rgb[2].data[100]);
    assert_eq!(rgb[3 * 100], burst.clean_rgb[0].data[100]);
}

/// The mean of each `s x s` block of the scaled truth against `clean_rgb`: the largest
/// relative difference over every pixel and channel.
fn block_mean_error(burst: &SynthBurst, s: usize) -> f64 {
    let scaled = burst.clean_rgb_scaled.as_ref().expect("a scaled truth");
    let (w, h) = (burst.clean_rgb[0].width, burst.clean_rgb[0].height);
    let mut worst = 0.0f64;
    for (fine, coarse) in scaled.iter().zip(&burst.clean_rgb) {
        assert_eq!((fine.width, fine.height), (w * s, h * s));
        for j in 0..h {
            for i in 0..w {
                let mut sum = 0.0;
                for n in 0..s {
                    for m in 0..s {
                        sum += f64::from(fine.get(i * s + m, j * s + n));
                    }
                }
                let mean = sum / (s * s) as f64;
                let want = f64::from(coarse.get(i, j));
                worst = worst.max((mean - want).abs() / want.abs().max(1e-3));
            }
        }
    }
    worst
}

#[test]
fn scaled_truth_blocks_average_to_the_sensor_pixels() {
    for s in [2, 3] {
        for (scene, moving) in [(SceneSource::Procedural, 2.0), (SceneSource::Chart, 0.0)] {
            let p = SynthParams {
                supersample: 2,
                truth_scale: s,
                moving,
                scene: scene.clone(),
                ..small()
            };
            let burst = synthesize(&p).unwrap();
            let err = block_mean_error(&burst, s);
            assert!(err < 1e-5, "scale {s}, {scene:?}: relative error {err:e}");
            // The fine grid holds detail the blocks average away.
            let fine = &burst.clean_rgb_scaled.as_ref().unwrap()[1];
            let within = (0..48 * s)
                .flat_map(|j| (0..64 * s).map(move |i| (i, j)))
                .filter(|&(i, j)| fine.get(i, j) != fine.get(i - i % s, j - j % s))
                .count();
            assert!(
                within > 200,
                "scale {s}, {scene:?}: {within} cells differ in their block"
            );
        }
    }
    assert!(synthesize(&small()).unwrap().clean_rgb_scaled.is_none());
}

#[test]
fn scaled_truth_samples_the_finer_grid_in_every_frame() {
    // Scale 2 with 3 x 3 sub-samples per cell puts a 6 x 6 grid in every pixel of every
    // frame: the same positions as scale 1 with 6 x 6 supersampling, summed in another order.
    let base = clean(SynthParams {
        rotate: 2.0,
        moving: 3.0,
        ..small()
    });
    let a = synthesize(&SynthParams {
        truth_scale: 2,
        supersample: 3,
        ..base.clone()
    })
    .unwrap();
    let b = synthesize(&SynthParams {
        supersample: 6,
        ..base
    })
    .unwrap();
    for c in 0..3 {
        for (x, y) in a.clean_rgb[c].data.iter().zip(&b.clean_rgb[c].data) {
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1e-3), "{x} vs {y}");
        }
    }
    // Moved and rotated frames: noise-free raw values agree but for rounding at half a unit.
    for k in 1..3 {
        let (fa, fb) = (&a.frames[k].mosaic, &b.frames[k].mosaic);
        let step = 1.0 / 4031.0;
        let worst = fa
            .data
            .iter()
            .zip(&fb.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= step * 1.01, "frame {k}: {worst}");
    }
}

/// Along a bar group (across its bars), the profile of `plane` in a grid `s` times finer
/// than the reference frame: the mean along the bars over the group's inner part (2 px in
/// from its edges), one value per fine pixel across.
fn bar_profile(plane: &Plane<f32>, g: &BarGroup, s: usize) -> Vec<f64> {
    let r = g.rect;
    let (x0, y0, x1, y1) = (
        (r.x + 2) * s,
        (r.y + 2) * s,
        (r.x + r.width - 2) * s,
        (r.y + r.height - 2) * s,
    );
    let (across, along) = if g.vertical {
        (x0..x1, y0..y1)
    } else {
        (y0..y1, x0..x1)
    };
    let n = along.len() as f64;
    across
        .map(|a| {
            along
                .clone()
                .map(|b| {
                    let (x, y) = if g.vertical { (a, b) } else { (b, a) };
                    f64::from(plane.get(x, y))
                })
                .sum::<f64>()
                / n
        })
        .collect()
}

/// Michelson contrast `(max - min) / (max + min)` of a profile.
fn michelson(p: &[f64]) -> f64 {
    let max = p.iter().copied().fold(f64::MIN, f64::max);
    let min = p.iter().copied().fold(f64::MAX, f64::min);
    (max - min) / (max + min)
}

/// The frequency in cycles per reference pixel (searched from 0.05 to the profile's Nyquist
/// frequency `s / 2` in steps of 0.005) where the Hann-windowed, mean-removed profile of `s`
/// samples per pixel has the most energy.
fn dominant_frequency(p: &[f64], s: usize) -> f64 {
    let n = p.len();
    let mean = p.iter().sum::<f64>() / n as f64;
    let tau = std::f64::consts::TAU;
    let windowed: Vec<f64> = p
        .iter()
        .enumerate()
        .map(|(i, v)| (v - mean) * (0.5 - 0.5 * (tau * (i as f64 + 0.5) / n as f64).cos()))
        .collect();
    let power = |f: f64| {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, v) in windowed.iter().enumerate() {
            let phase = tau * f * i as f64 / s as f64;
            re += v * phase.cos();
            im += v * phase.sin();
        }
        re * re + im * im
    };
    (10..=(100 * s))
        .map(|i| i as f64 * 0.005)
        .max_by(|a, b| power(*a).total_cmp(&power(*b)))
        .unwrap_or(0.0)
}

#[test]
fn chart_truth_resolves_bars_the_sensor_aliases() {
    // 4 x 4 sub-samples per truth pixel, 8 x 8 per sensor pixel: with fewer, bars narrower
    // than a pixel can cover every sub-sample column of some pixels (6 columns span 5/6 px,
    // less than the 0.875 px bars of the 1.75 px group) and the 1x frame shows them at full
    // contrast, as a point-sampling sensor would.
    let p = SynthParams {
        frames: 1,
        width: 320,
        height: 240,
        supersample: 4,
        truth_scale: 2,
        scene: SceneSource::Chart,
        ..SynthParams::default()
    };
    let burst = synthesize(&p).unwrap();
    let fine = burst.clean_rgb_scaled.as_ref().unwrap();
    eprintln!("group              | 2x truth: contrast, frequency | 1x clean: contrast, frequency");
    for g in chart_bars(320, 240) {
        // The channel in which the group's two colours differ most (red for red/cyan, blue
        // for blue/yellow).
        let diff = |c: usize| (g.colors[0][c] - g.colors[1][c]).abs();
        let c = (0..3).max_by(|&a, &b| diff(a).total_cmp(&diff(b))).unwrap();
        let truth = bar_profile(&fine[c], &g, 2);
        let sensor = bar_profile(&burst.clean_rgb[c], &g, 1);
        let (ct, ft) = (michelson(&truth), dominant_frequency(&truth, 2));
        let (cs, fs) = (michelson(&sensor), dominant_frequency(&sensor, 1));
        eprintln!(
            "{:4} px {} {:?} | {ct:.3}, {ft:.3} | {cs:.3}, {fs:.3}",
            g.period,
            if g.vertical { "V" } else { "H" },
            g.colors[0].map(|v| v as f32),
        );
        let f = 1.0 / g.period;
        // The truth resolves every group at its own frequency, up to 0.8 cycles per pixel.
        assert!(ct > 0.8, "{g:?}: truth contrast {ct}");
        assert!((ft - f).abs() < 0.02, "{g:?}: truth frequency {ft} vs {f}");
        if f > 0.5 {
            // Above the sensor's Nyquist frequency the 1x frame shows the alias 1 - f (a
            // coarser, false pattern) at lower contrast: 0.23 at 1.25 px (a 5 px pattern).
            assert!((fs - (1.0 - f)).abs() < 0.02, "{g:?}: 1x frequency {fs}");
            assert!(cs < ct - 0.2, "{g:?}: 1x contrast {cs} vs truth {ct}");
            if g.period == 1.25 {
                assert!(cs < 0.3, "{g:?}: 1x contrast {cs}");
            }
        } else if f < 0.5 {
            // Below it the sensor resolves them too.
            assert!((fs - f).abs() < 0.02, "{g:?}: 1x frequency {fs} vs {f}");
            assert!(cs > 0.5, "{g:?}: 1x contrast {cs}");
        }
    }
}

#[test]
fn scaled_truth_is_written_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("burst");
    let burst = synthesize(&SynthParams {
        truth_scale: 2,
        supersample: 2,
        ..small()
    })
    .unwrap();
    burst.write(&out).unwrap();
    assert_eq!(
        burst.truth_files(),
        [
            "truth.json",
            "reference_mosaic.tiff",
            "reference_rgb.tiff",
            "reference_rgb_2x.tiff"
        ]
    );
    let file = std::fs::File::open(out.join("reference_rgb_2x.tiff")).unwrap();
    let mut dec = tiff::decoder::Decoder::new(std::io::BufReader::new(file)).unwrap();
    assert_eq!(dec.dimensions().unwrap(), (128, 96));
    assert_eq!(
        dec.colortype().unwrap(),
        tiff::ColorType::RGB(32),
        "32-bit float RGB"
    );
    let tiff::decoder::DecodingResult::F32(rgb) = dec.read_image().unwrap() else {
        panic!("not 32-bit float");
    };
    let planes = burst.clean_rgb_scaled.as_ref().unwrap();
    let interleaved: Vec<f32> = (0..128 * 96)
        .flat_map(|i| planes.iter().map(move |p| p.data[i]))
        .collect();
    assert_eq!(rgb, interleaved);
    let truth = Truth::load(out.join("truth.json")).unwrap();
    assert_eq!(truth.params.truth_scale, 2);
    assert_eq!(truth, burst.truth);

    // Scale 1 writes no scaled file; a truth.json from before truth_scale existed loads
    // with scale 1.
    let plain = dir.path().join("plain");
    let burst = synthesize(&small()).unwrap();
    burst.write(&plain).unwrap();
    assert_eq!(burst.truth_files().len(), 3);
    assert!(!plain.join("reference_rgb_1x.tiff").exists());
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plain.join("truth.json")).unwrap()).unwrap();
    assert_eq!(json["params"]["truth_scale"], 1);
    json["params"]
        .as_object_mut()
        .unwrap()
        .remove("truth_scale");
    let old: Truth = serde_json::from_value(json).unwrap();
    assert_eq!(old.params.truth_scale, 1);
}

#[test]
fn truth_scale_is_validated_and_the_chart_named() {
    for (s, w, h, range) in [
        (0, 64, 48, "1..=4"),
        (5, 64, 48, "1..=4"),
        (4, 20000, 20000, "at most"),
    ] {
        let p = SynthParams {
            frames: 1,
            width: w,
            height: h,
            truth_scale: s,
            ..small()
        };
        match synthesize(&p) {
            Err(Error::Parameter { name, reason }) => {
                assert_eq!(name, "truth_scale", "{reason}");
                assert!(reason.contains(range), "{reason}");
            }
            other => panic!(
                "scale {s}: expected a parameter error, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    let p = SynthParams {
        scene: SceneSource::Chart,
        truth_scale: 3,
        ..SynthParams::default()
    };
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"scene\":\"chart\""), "{json}");
    assert!(json.contains("\"truth_scale\":3"), "{json}");
    assert_eq!(serde_json::from_str::<SynthParams>(&json).unwrap(), p);
}
