//! Tests of the burst renderer against independent expectations: centroids of rendered
//! features against the motion truth, measured noise against the model, exact file round trips.

use super::*;
use crate::image::Channel;

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
