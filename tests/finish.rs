//! Finish: colour accuracy against a chart, white balance, highlights, lens shading,
//! orientation, encoding with EXIF/ICC, and developing the real files.

mod common;

use common::patch_means;

use common::color::SHARMA_PAIRS;
use obscura::color::{REC709_LUMA, ciede2000, srgb_decode, srgb_encode, srgb_to_lab};
use obscura::encode::{EncodeParams, encode};
use obscura::finish::color::WhiteBalance;
use obscura::finish::highlights::Highlights;
use obscura::finish::{FinishParams, Finished, finish};
use obscura::raw::{GainMap, Gps, Opcode};
use obscura::synth::chart::{COLORCHECKER_SRGB, ChartLight, ChartParams, NEUTRALS, chart};
use obscura::{Plane, RawFrame};

#[test]
fn ciede2000_matches_the_34_published_pairs() {
    let mut worst = 0.0f64;
    let mut cie76_off = 0;
    for p in SHARMA_PAIRS {
        let (a, b) = ([p[0], p[1], p[2]], [p[3], p[4], p[5]]);
        let d = ciede2000(a, b);
        worst = worst.max((d - p[6]).abs());
        // symmetric
        assert!((ciede2000(b, a) - d).abs() < 1e-12);
        // the naive Euclidean ΔE76 is not this formula
        let e76 = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        cie76_off += usize::from((e76 - p[6]).abs() > 1e-4);
    }
    assert!(worst < 1e-4, "worst deviation {worst}");
    assert!(cie76_off >= 30, "ΔE76 agrees with {} pairs", 34 - cie76_off);
}

/// ΔE00 of each patch against the published values, after matching exposure on the neutral
/// patches (one scale on linear values: least squares on their luminance). Returns the
/// differences and the Lab of each developed patch.
fn chart_errors(img: &Finished, p: &ChartParams) -> (Vec<f64>, Vec<[f64; 3]>) {
    let lin = |c: [f64; 3]| c.map(|v| f64::from(srgb_decode(v as f32)));
    let y = |c: [f64; 3]| {
        (0..3)
            .map(|k| f64::from(REC709_LUMA[k]) * c[k])
            .sum::<f64>()
    };
    let got: Vec<[f64; 3]> = patch_means(img, p).into_iter().map(lin).collect();
    let want: Vec<[f64; 3]> = COLORCHECKER_SRGB
        .iter()
        .map(|c| lin(c.map(|v| f64::from(v) / 255.0)))
        .collect();
    let (mut num, mut den) = (0.0, 0.0);
    for i in NEUTRALS {
        num += y(got[i]) * y(want[i]);
        den += y(got[i]) * y(got[i]);
    }
    let k = num / den;
    let enc = |c: [f64; 3]| c.map(|v| f64::from(srgb_encode((v * k) as f32)));
    let labs: Vec<[f64; 3]> = got.iter().map(|c| srgb_to_lab(enc(*c))).collect();
    let errs = (0..24)
        .map(|i| {
            let w = srgb_to_lab(COLORCHECKER_SRGB[i].map(|v| f64::from(v) / 255.0));
            ciede2000(labs[i], w)
        })
        .collect();
    (errs, labs)
}

/// Writes a frame as DNG and reads it back, so tests go through the real file path.
fn via_dng(frame: &RawFrame, dir: &std::path::Path, name: &str) -> RawFrame {
    let path = dir.join(name);
    obscura::raw::write_dng(frame, &path).unwrap();
    RawFrame::open(&path).unwrap()
}

#[test]
fn chart_reproduces_the_published_colours() {
    let dir = tempfile::tempdir().unwrap();
    for (light, fm) in [
        (ChartLight::D65, false),
        (ChartLight::A, false),
        (ChartLight::D65, true),
        (ChartLight::A, true),
    ] {
        let p = ChartParams {
            light,
            forward_matrix: fm,
            ..ChartParams::default()
        };
        let frame = via_dng(&chart(&p).unwrap(), dir.path(), "chart.dng");
        assert_eq!(frame.meta.calibrations.len(), 2);
        let img = finish(&frame, &FinishParams::reference()).unwrap();
        let (errs, labs) = chart_errors(&img, &p);
        let mean = errs.iter().sum::<f64>() / 24.0;
        let max = errs.iter().cloned().fold(0.0, f64::max);
        eprintln!(
            "{light:?} forward matrix {fm}: ΔE00 mean {mean:.3} max {max:.3}, found {:.0} K",
            img.color.temperature
        );
        assert!(mean <= 1.0 && max <= 2.5, "{light:?} {fm}: {errs:?}");
        for i in NEUTRALS {
            let [_, a, b] = labs[i];
            assert!(
                a.abs() <= 1.0 && b.abs() <= 1.0,
                "neutral {i}: a {a:.2} b {b:.2}"
            );
        }
        // the illuminant is recognised: the interpolation leans fully on its calibration
        let t = img.color.temperature;
        match light {
            ChartLight::D65 => assert!((t - 6504.0).abs() < 60.0, "{t}"),
            ChartLight::A => assert!((t - 2856.0).abs() < 30.0, "{t}"),
        }
    }
}

#[test]
fn a_single_matrix_fails_under_tungsten_where_interpolation_passes() {
    // Baseline: the D65 matrix alone, for a chart under light A. The camera's A matrix
    // differs, so colours drift; interpolation (previous test) is what makes it pass.
    let p = ChartParams {
        light: ChartLight::A,
        ..ChartParams::default()
    };
    let mut frame = chart(&p).unwrap();
    frame.meta.calibrations.retain(|c| c.illuminant == 21);
    let img = finish(&frame, &FinishParams::reference()).unwrap();
    let (errs, _) = chart_errors(&img, &p);
    let mean = errs.iter().sum::<f64>() / 24.0;
    let max = errs.iter().cloned().fold(0.0, f64::max);
    eprintln!("D65 matrix only, light A: ΔE00 mean {mean:.3} max {max:.3}");
    assert!(mean > 1.0 || max > 2.5, "mean {mean} max {max}");
}

#[test]
fn white_balance_overrides() {
    let p = ChartParams {
        light: ChartLight::A,
        ..ChartParams::default()
    };
    let frame = chart(&p).unwrap();
    let as_shot = finish(&frame, &FinishParams::reference()).unwrap();
    let neutral_ab = |img: &Finished| {
        let m = patch_means(img, &p)[21];
        let lab = srgb_to_lab(m);
        (lab[1], lab[2])
    };
    // multipliers equal to the as-shot ones give the same image
    let mut fp = FinishParams::reference();
    let n = frame.meta.as_shot_neutral;
    fp.color.white_balance = WhiteBalance::Multipliers(n.map(|v| 1.0 / v));
    let same = finish(&frame, &fp).unwrap();
    for c in 0..3 {
        let d = same.rgb[c]
            .data
            .iter()
            .zip(&as_shot.rgb[c].data)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(d < 1e-5, "{d}");
    }
    // a temperature of 2856 K (light A) neutralises the grey patch; daylight leaves it orange
    fp.color.white_balance = WhiteBalance::Temperature {
        kelvin: 2856.0,
        tint: 0.0,
    };
    let (a, b) = neutral_ab(&finish(&frame, &fp).unwrap());
    assert!(a.abs() < 1.5 && b.abs() < 1.5, "2856 K: a {a:.2} b {b:.2}");
    fp.color.white_balance = WhiteBalance::Temperature {
        kelvin: 6504.0,
        tint: 0.0,
    };
    let (_, b) = neutral_ab(&finish(&frame, &fp).unwrap());
    assert!(
        b > 15.0,
        "6504 K on a tungsten scene should look orange: b {b:.2}"
    );
    // swapped red and blue multipliers: the override really is used, grey is far from grey
    fp.color.white_balance = WhiteBalance::Multipliers([n[2].recip(), 1.0 / n[1], n[0].recip()]);
    let (a, b) = neutral_ab(&finish(&frame, &fp).unwrap());
    assert!(a.hypot(b) > 20.0, "a {a:.2} b {b:.2}");
}

#[test]
fn overexposed_chart_has_no_magenta_highlights() {
    // white and light neutrals clip in green first (the camera's neutral is green-heavy)
    let p = ChartParams {
        exposure: 2.5,
        ..ChartParams::default()
    };
    let frame = chart(&p).unwrap();
    for mode in [Highlights::Clip, Highlights::Reconstruct] {
        let mut fp = FinishParams::reference();
        fp.highlights = mode;
        let img = finish(&frame, &fp).unwrap();
        for i in [18, 19] {
            let lab = srgb_to_lab(patch_means(&img, &p)[i]);
            assert!(
                lab[1].abs() < 2.0 && lab[2].abs() < 2.0,
                "{mode:?} patch {i}: {lab:?}"
            );
        }
    }
    // without either (green clipped, red and blue free), the white patch is magenta:
    // the problem is real
    let mut fp = FinishParams::reference();
    fp.highlights = Highlights::Reconstruct;
    let mut raw = frame.clone();
    // halving the raw hides the clipping from the highlight stage: the raw colour shows
    raw.mosaic.data.iter_mut().for_each(|v| *v *= 0.5);
    let img = finish(
        &raw,
        &FinishParams {
            exposure: 1.0,
            ..fp
        },
    )
    .unwrap();
    let lab = srgb_to_lab(patch_means(&img, &p)[18]);
    assert!(lab[1] > 5.0, "halved raw, white patch: {lab:?}");
}

#[test]
fn lens_shading_gain_maps_flatten_a_vignetted_field() {
    // a flat grey field, vignetted by cos^4 with a colour tint, and DNG gain maps (one per
    // Bayer position, as phones store them) that undo it
    let p = ChartParams::default();
    let mut frame = chart(&p).unwrap();
    let (w, h) = (frame.mosaic.width, frame.mosaic.height);
    for v in frame.mosaic.data.iter_mut() {
        *v = 0.4;
    }
    let fall = |x: f64, y: f64, pos: usize| {
        let (dx, dy) = (x - 0.5, y - 0.5);
        let r2 = (dx * dx + dy * dy) * 1.2;
        let c = 1.0 / (1.0 + r2);
        c * c * [1.0, 0.97, 0.97, 0.9][pos]
    };
    for y in 0..h {
        for x in 0..w {
            let pos = (y % 2) * 2 + x % 2;
            let f = fall(
                (x as f64 + 0.5) / w as f64,
                (y as f64 + 0.5) / h as f64,
                pos,
            );
            let v = frame.mosaic.get(x, y) * f as f32;
            frame.mosaic.set(x, y, v);
        }
    }
    let n = 17u32;
    frame.meta.opcodes2 = (0..4)
        .map(|pos| Opcode::GainMap {
            flags: 0,
            map: GainMap {
                top: (pos / 2) as u32,
                left: (pos % 2) as u32,
                bottom: h as u32,
                right: w as u32,
                plane: 0,
                planes: 1,
                row_pitch: 2,
                col_pitch: 2,
                points_v: n,
                points_h: n,
                spacing_v: 1.0 / f64::from(n - 1),
                spacing_h: 1.0 / f64::from(n - 1),
                origin_v: 0.0,
                origin_h: 0.0,
                map_planes: 1,
                gains: (0..n * n)
                    .map(|i| {
                        let (u, v) = (i % n, i / n);
                        let x = f64::from(u) / f64::from(n - 1);
                        let y = f64::from(v) / f64::from(n - 1);
                        (1.0 / fall(x, y, pos)) as f32
                    })
                    .collect(),
            },
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let frame = via_dng(&frame, dir.path(), "vignetted.dng");
    assert_eq!(frame.meta.opcodes2.len(), 4);
    let corner_to_centre = |img: &Finished| {
        let mean = |x0: usize, y0: usize| {
            let mut s = [0.0f64; 3];
            for y in y0..y0 + 8 {
                for x in x0..x0 + 8 {
                    for (c, v) in s.iter_mut().enumerate() {
                        *v += f64::from(srgb_decode(img.rgb[c].get(x, y)));
                    }
                }
            }
            s
        };
        let (c, k) = (mean(w / 2 - 4, h / 2 - 4), mean(2, 2));
        [0, 1, 2].map(|i| k[i] / c[i])
    };
    let fixed = corner_to_centre(&finish(&frame, &FinishParams::reference()).unwrap());
    let raw = corner_to_centre(
        &finish(
            &frame,
            &FinishParams {
                skip_shading: true,
                ..FinishParams::reference()
            },
        )
        .unwrap(),
    );
    eprintln!("corner/centre with gain maps {fixed:?}, without {raw:?}");
    assert!(fixed.iter().all(|r| (r - 1.0).abs() < 0.01), "{fixed:?}");
    assert!(raw.iter().all(|r| *r < 0.8), "{raw:?}");
}

#[test]
fn orientation_is_applied() {
    let p = ChartParams::default();
    let mut frame = chart(&p).unwrap();
    let plain = finish(&frame, &FinishParams::reference()).unwrap();
    frame.meta.orientation = 6; // rotate 90 degrees clockwise to view
    let turned = finish(&frame, &FinishParams::reference()).unwrap();
    assert_eq!(
        (turned.width(), turned.height()),
        (plain.height(), plain.width())
    );
    // the stored top-left patch (dark skin) is now top-right
    let r = p.patch_rect(0);
    let (cx, cy) = (r.x + r.width / 2, r.y + r.height / 2);
    let h = plain.height();
    for c in 0..3 {
        assert_eq!(plain.rgb[c].get(cx, cy), turned.rgb[c].get(h - 1 - cy, cx));
    }
}

fn read_exif(path: &std::path::Path) -> exif::Exif {
    let file = std::fs::File::open(path).unwrap();
    exif::Reader::new()
        .read_from_container(&mut std::io::BufReader::new(file))
        .unwrap()
}

#[test]
fn encoders_write_exif_and_icc_and_strip_location_by_default() {
    let p = ChartParams::default();
    let mut frame = chart(&p).unwrap();
    frame.meta.gps = Some(Gps {
        latitude: 48.8584,
        longitude: -2.2945,
        altitude: Some(35.0),
    });
    frame.meta.exposure_time = Some(1.0 / 250.0);
    frame.meta.capture_time = Some("2026:03:04 05:06:07.089".into());
    let dir = tempfile::tempdir().unwrap();
    // GPS survives the DNG round trip, so the test below reads it from a real file
    let frame = via_dng(&frame, dir.path(), "gps.dng");
    let gps = frame.meta.gps.expect("GPS read back from the DNG");
    assert!((gps.latitude - 48.8584).abs() < 1e-6 && (gps.longitude + 2.2945).abs() < 1e-6);
    let img = finish(&frame, &FinishParams::default()).unwrap();
    for ext in ["jpg", "png", "tif"] {
        for keep in [false, true] {
            let out = dir.path().join(format!("out_{keep}.{ext}"));
            let ep = EncodeParams {
                keep_location: keep,
                ..EncodeParams::default()
            };
            encode(&img, &frame.meta, &out, &ep).unwrap();
            let ex = read_exif(&out);
            let s = |t: exif::Tag| {
                ex.get_field(t, exif::In::PRIMARY)
                    .map(|f| f.display_value().to_string())
            };
            assert_eq!(s(exif::Tag::Make).as_deref(), Some("\"obscura\""), "{ext}");
            assert_eq!(s(exif::Tag::Model).as_deref(), Some("\"synthetic chart\""));
            assert_eq!(s(exif::Tag::ExposureTime).as_deref(), Some("1/250"));
            assert_eq!(s(exif::Tag::FNumber).as_deref(), Some("4"));
            assert_eq!(
                s(exif::Tag::PhotographicSensitivity).as_deref(),
                Some("100")
            );
            assert_eq!(s(exif::Tag::FocalLength).as_deref(), Some("50"));
            assert_eq!(
                s(exif::Tag::DateTimeOriginal).as_deref(),
                Some("2026-03-04 05:06:07")
            );
            assert_eq!(s(exif::Tag::SubSecTimeOriginal).as_deref(), Some("\"089\""));
            assert_eq!(
                s(exif::Tag::Orientation).as_deref(),
                Some("row 0 at top and column 0 at left")
            );
            let lat = ex.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY);
            if keep {
                let lat = lat.expect("GPS kept on request");
                let exif::Value::Rational(v) = &lat.value else {
                    panic!("latitude type")
                };
                let deg = v[0].to_f64() + v[1].to_f64() / 60.0 + v[2].to_f64() / 3600.0;
                assert!((deg - 48.8584).abs() < 1e-5, "{deg}");
                assert_eq!(s(exif::Tag::GPSLongitudeRef).as_deref(), Some("W"));
            } else {
                assert!(lat.is_none(), "{ext}: location must be stripped by default");
                assert!(ex.fields().all(|f| f.tag.context() != exif::Context::Gps));
            }
            // the image decodes at the right size, and carries an ICC profile
            let mut dec = image::ImageReader::open(&out)
                .unwrap()
                .with_guessed_format()
                .unwrap()
                .into_decoder()
                .unwrap();
            use image::ImageDecoder;
            assert_eq!(dec.dimensions(), (img.width() as u32, img.height() as u32));
            let icc = dec.icc_profile().unwrap().expect("ICC profile");
            assert!(icc.len() > 100 && &icc[36..40] == b"acsp", "{ext}");
        }
    }
}

#[test]
fn sixteen_bit_outputs_keep_precision() {
    let p = ChartParams::default();
    let frame = chart(&p).unwrap();
    let img = finish(&frame, &FinishParams::reference()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, ep) in [
        ("a.tif", EncodeParams::default()),
        (
            "a.png",
            EncodeParams {
                png16: true,
                ..EncodeParams::default()
            },
        ),
    ] {
        let out = dir.path().join(name);
        encode(&img, &frame.meta, &out, &ep).unwrap();
        let back = image::open(&out).unwrap().into_rgb16();
        let mut worst = 0.0f32;
        for (i, px) in back.pixels().enumerate() {
            for c in 0..3 {
                let want = img.rgb[c].data[i];
                worst = worst.max((f32::from(px[c]) / 65535.0 - want).abs());
            }
        }
        assert!(worst <= 0.5 / 65535.0 + 1e-7, "{name}: {worst}");
    }
}

#[test]
fn bad_finish_parameters_are_refused() {
    let frame = chart(&ChartParams::default()).unwrap();
    let e = finish(
        &frame,
        &FinishParams {
            exposure: 40.0,
            ..FinishParams::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("between -10 and 10"), "{e}");
    let mut no_cal = frame.clone();
    no_cal.meta.calibrations.clear();
    let mut fp = FinishParams::default();
    fp.color.white_balance = WhiteBalance::Temperature {
        kelvin: 5000.0,
        tint: 0.0,
    };
    assert!(
        finish(&no_cal, &fp)
            .unwrap_err()
            .to_string()
            .contains("white_balance")
    );
    // and a frame without calibration still develops, with a note
    let img = finish(&no_cal, &FinishParams::default()).unwrap();
    assert!(img.notes.iter().any(|n| n.contains("no colour matrix")));
    let img = Finished {
        rgb: std::array::from_fn(|_| Plane::new(0, 0)),
        ..img
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.jpg");
    assert!(encode(&img, &frame.meta, &out, &EncodeParams::default()).is_err());
    assert!(!out.exists());
}

#[test]
fn shared_raw_files_develop() {
    for name in ["canon_powershot_g2.crw"] {
        let Some(path) = common::shared_raw(name) else {
            continue;
        };
        let frame = RawFrame::open(&path).unwrap();
        let img = finish(&frame, &FinishParams::default()).unwrap();
        assert_eq!(
            (img.width(), img.height()),
            (frame.crop.width, frame.crop.height)
        );
        // a real photo: neither black nor blown, with colour and detail
        let g = &img.rgb[1].data;
        let mean = g.iter().sum::<f32>() / g.len() as f32;
        assert!((0.15..0.75).contains(&mean), "{name}: mean {mean}");
        assert!(img.rgb.iter().all(|p| {
            p.data
                .iter()
                .all(|v| v.is_finite() && (0.0..=1.0).contains(v))
        }));
    }
}

/// Library errors are grouped by whose fault they are: a parameter error names the struct
/// field (never a command-line option), and a file's unusable colour matrix is a fault of
/// that file (named), not of the caller.
#[test]
fn errors_name_the_field_or_the_file() {
    let frame = chart(&ChartParams::default()).unwrap();
    let fp = FinishParams {
        exposure: 99.0,
        ..FinishParams::default()
    };
    match finish(&frame, &fp).unwrap_err() {
        obscura::Error::Parameter { name, reason } => {
            assert_eq!(name, "exposure");
            assert!(reason.contains("between -10 and 10"), "{reason}");
        }
        e => panic!("not a parameter error: {e}"),
    }
    let e = finish(&frame, &fp).unwrap_err();
    assert!(!e.to_string().contains("--"), "{e}");
    assert_eq!(e.exit_code(), 2);

    let mut singular = frame.clone();
    singular.path = "singular.dng".into();
    for c in &mut singular.meta.calibrations {
        c.color_matrix = [[1.0, 1.0, 1.0]; 3];
    }
    let e = finish(&singular, &FinishParams::default()).unwrap_err();
    assert!(
        matches!(&e, obscura::Error::Decode { path, .. } if path.ends_with("singular.dng")),
        "{e:?}"
    );
    assert!(e.to_string().contains("ColorMatrix"), "{e}");
    assert_eq!(e.exit_code(), 1);
}
