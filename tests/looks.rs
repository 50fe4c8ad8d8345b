//! Looks: what each built-in look does, measured on the colour chart, a natural scene and a
//! flat field; baked LUTs against the direct look; look files and their errors.

mod common;

use common::patch_means;

use obscura::color::delta_e::{chroma, hue, srgb_to_lab};
use obscura::color::srgb_decode;
use obscura::finish::{FinishParams, Finished, finish};
use obscura::look::{Look, Lut3d, apply, compile};
use obscura::synth::chart::{ChartParams, NEUTRALS, chart};
use obscura::{Plane, RawFrame};

/// The chart's colour patches (the first 18; the last 6 are the neutrals).
const COLOUR_PATCHES: std::ops::Range<usize> = 0..18;
/// Neutral 5 (0.70 density), the middle grey patch.
const MID_GREY: usize = 21;
/// The black patch.
const BLACK: usize = 23;

fn look(name: &str) -> Look {
    Look::builtin(name).unwrap_or_else(|| panic!("built-in look {name}"))
}

/// CIELAB of each chart patch, developed in `look`.
fn chart_labs(frame: &RawFrame, p: &ChartParams, look: Look) -> Vec<[f64; 3]> {
    let img = develop(frame, &look).unwrap();
    patch_means(&img, p).into_iter().map(srgb_to_lab).collect()
}

/// `frame` finished for `look`, then through the look stage.
fn develop(frame: &RawFrame, look: &Look) -> obscura::Result<Finished> {
    let mut img = finish(frame, &FinishParams::with_look(look))?;
    apply(&mut img.rgb, &compile(look)?, img.orientation);
    Ok(img)
}

fn mean_chroma(labs: &[[f64; 3]]) -> f64 {
    COLOUR_PATCHES.map(|i| chroma(labs[i])).sum::<f64>() / COLOUR_PATCHES.len() as f64
}

fn hue_difference(a: [f64; 3], b: [f64; 3]) -> f64 {
    let d = (hue(a) - hue(b)).rem_euclid(360.0);
    d.min(360.0 - d)
}

#[test]
fn built_in_looks_parse_and_natural_is_the_default() {
    for name in Look::BUILTIN {
        let l = look(name);
        assert_eq!(l.name, name);
        assert!(l.description.len() > 40, "{name} is documented");
    }
    assert_eq!(look("natural"), Look::default());
    assert_eq!(
        FinishParams::with_look(&Look::default()),
        FinishParams::default()
    );
    assert!(compile(&look("natural")).unwrap().is_identity());
    assert!(!compile(&look("authentic")).unwrap().is_identity());
    assert!(Look::builtin("AUTHENTIC").is_some());
    assert!(Look::builtin("leica").is_none());
}

#[test]
fn looks_differ_as_described_on_the_chart() {
    let p = ChartParams::default();
    let frame = chart(&p).unwrap();
    let natural = chart_labs(&frame, &p, look("natural"));
    let authentic = chart_labs(&frame, &p, look("authentic"));
    let vibrant = chart_labs(&frame, &p, look("vibrant"));
    let (cn, ca, cv) = (
        mean_chroma(&natural),
        mean_chroma(&authentic),
        mean_chroma(&vibrant),
    );
    eprintln!(
        "mean C*ab of the 18 colour patches: natural {cn:.2}, authentic {ca:.2} ({:+.1}%), \
         vibrant {cv:.2} ({:+.1}%)",
        100.0 * (ca / cn - 1.0),
        100.0 * (cv / cn - 1.0)
    );
    assert!(cv >= cn + 2.0, "vibrant {cv:.2} vs natural {cn:.2}");
    assert!(
        (ca / cn - 1.0).abs() <= 0.10,
        "authentic {ca:.2} vs {cn:.2}"
    );

    let l = |labs: &[[f64; 3]], i: usize| labs[i][0];
    eprintln!(
        "mid-grey L*: natural {:.2}, authentic {:.2}, vibrant {:.2}; black L*: natural {:.2}, \
         authentic {:.2}, vibrant {:.2}",
        l(&natural, MID_GREY),
        l(&authentic, MID_GREY),
        l(&vibrant, MID_GREY),
        l(&natural, BLACK),
        l(&authentic, BLACK),
        l(&vibrant, BLACK)
    );
    assert!(l(&authentic, MID_GREY) <= l(&vibrant, MID_GREY) - 2.0);
    assert!(l(&authentic, BLACK) <= l(&natural, BLACK));

    for (name, labs) in [
        ("natural", &natural),
        ("authentic", &authentic),
        ("vibrant", &vibrant),
    ] {
        for i in NEUTRALS {
            let [_, a, b] = labs[i];
            assert!(
                a.abs() <= 2.0 && b.abs() <= 2.0,
                "{name}: neutral {i}: a* {a:.2} b* {b:.2}"
            );
        }
    }
    // skin (dark skin, light skin) keeps its hue in vibrant
    for i in [0, 1] {
        let dh = hue_difference(vibrant[i], natural[i]);
        eprintln!("skin patch {}: hue shift {dh:.2} degrees", i + 1);
        assert!(dh <= 3.0, "skin patch {}: {dh:.2} degrees", i + 1);
    }
}

/// Chroma of each patch in `look` over its chroma in `look` without table or saturation
/// (the curve alone): what the colour part adds.
fn table_chroma_gain(frame: &RawFrame, p: &ChartParams, look: &Look) -> Vec<f64> {
    let with = chart_labs(frame, p, look.clone());
    let curve_only = Look {
        table: None,
        saturation: 1.0,
        ..look.clone()
    };
    let without = chart_labs(frame, p, curve_only);
    (0..24)
        .map(|i| chroma(with[i]) / chroma(without[i]))
        .collect()
}

#[test]
fn vibrant_protects_skin_where_a_uniform_boost_does_not() {
    let p = ChartParams::default();
    let frame = chart(&p).unwrap();
    let vibrant = look("vibrant");
    // the baseline: one saturation boost for every hue
    let uniform = Look {
        table: None,
        saturation: 1.25,
        ..vibrant.clone()
    };
    for (name, l, skin_ok) in [
        ("vibrant", &vibrant, true),
        ("uniform boost", &uniform, false),
    ] {
        let g = table_chroma_gain(&frame, &p, l);
        let others = (2..18).map(|i| g[i]).sum::<f64>() / 16.0;
        eprintln!(
            "{name}: chroma added to skin x{:.3} and x{:.3}, to the other colours x{others:.3}",
            g[0], g[1]
        );
        assert!(others >= 1.08, "{name} boosts colour: {others}");
        let protected = g[0] <= 1.04 && g[1] <= 1.04;
        assert_eq!(protected, skin_ok, "{name}: skin x{:.3} x{:.3}", g[0], g[1]);
    }
}

#[test]
fn mono_is_grey_with_a_red_filter() {
    let p = ChartParams::default();
    let frame = chart(&p).unwrap();
    let img = develop(&frame, &look("mono")).unwrap();
    for i in 0..img.rgb[0].data.len() {
        let (r, g, b) = (img.rgb[0].data[i], img.rgb[1].data[i], img.rgb[2].data[i]);
        assert!(r == g && g == b, "pixel {i}: {r} {g} {b}");
    }
    let mono = patch_means(&img, &p);
    // against plain luminance (Rec. 709 weights) of the natural rendering: the red filter
    // darkens the blue-sky patch (3) and lightens the red one (15)
    let natural = develop(&frame, &look("natural")).unwrap();
    let lum: Vec<f64> = patch_means(&natural, &p)
        .into_iter()
        .map(|c| srgb_to_lab(c)[0])
        .collect();
    let l = |i: usize| srgb_to_lab(mono[i])[0];
    eprintln!(
        "mono L*: blue sky {:.1} (luminance {:.1}), red {:.1} (luminance {:.1})",
        l(2),
        lum[2],
        l(14),
        lum[14]
    );
    assert!(l(2) < lum[2] - 3.0);
    assert!(l(14) > lum[14] + 3.0);
}

/// The first frame of the bundled sample burst: a natural-texture scene.
fn sample_frame() -> RawFrame {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/burst/frame_00.dng");
    RawFrame::open(&p).unwrap()
}

/// Mean C*ab and mean L* over every pixel.
fn scene_stats(img: &Finished) -> (f64, f64) {
    let n = img.rgb[0].data.len();
    let (mut c, mut l) = (0.0, 0.0);
    for i in 0..n {
        let lab = srgb_to_lab([0, 1, 2].map(|k| f64::from(img.rgb[k].data[i])));
        c += chroma(lab);
        l += lab[0];
    }
    (c / n as f64, l / n as f64)
}

#[test]
fn looks_differ_as_described_on_a_natural_scene() {
    let frame = sample_frame();
    let stats = |name: &str| scene_stats(&develop(&frame, &look(name)).unwrap());
    let (cn, ln) = stats("natural");
    let (ca, la) = stats("authentic");
    let (cv, lv) = stats("vibrant");
    eprintln!(
        "sample scene: mean C*ab natural {cn:.2}, authentic {ca:.2}, vibrant {cv:.2}; mean L* \
         natural {ln:.2}, authentic {la:.2}, vibrant {lv:.2}"
    );
    // a muted scene (mean chroma about 11): relative bars
    assert!(cv >= cn * 1.10, "vibrant {cv:.2} vs {cn:.2}");
    assert!(
        (ca / cn - 1.0).abs() <= 0.10,
        "authentic {ca:.2} vs {cn:.2}"
    );
    assert!(
        lv >= ln + 2.0 && la <= ln - 2.0,
        "L* {la:.2} {ln:.2} {lv:.2}"
    );
}

#[test]
fn authentic_darkens_the_corners_of_a_flat_field() {
    let p = ChartParams::default();
    let mut frame = chart(&p).unwrap();
    for v in frame.mosaic.data.iter_mut() {
        *v = 0.3;
    }
    let ratio = |name: &str| {
        let img = develop(&frame, &look(name)).unwrap();
        let (w, h) = (img.width(), img.height());
        let mean = |x0: usize, y0: usize| {
            let mut s = 0.0;
            for y in y0..y0 + 8 {
                for x in x0..x0 + 8 {
                    s += f64::from(srgb_decode(img.rgb[1].get(x, y)));
                }
            }
            s / 64.0
        };
        let centre = mean(w / 2 - 4, h / 2 - 4);
        let corners = [
            mean(0, 0),
            mean(w - 8, 0),
            mean(0, h - 8),
            mean(w - 8, h - 8),
        ];
        corners.map(|c| c / centre)
    };
    let n = ratio("natural");
    let a = ratio("authentic");
    eprintln!("corner / centre (linear): natural {n:.3?}, authentic {a:.3?}");
    assert!(n.iter().all(|r| (r - 1.0).abs() < 0.01), "{n:?}");
    assert!(a.iter().all(|r| *r < 0.85), "{a:?}");
}

#[test]
fn baked_cubes_match_the_direct_look() {
    // the natural rendering of the chart, then each look's colour exactly and through a
    // baked 65^3 .cube written as text and read back
    let p = ChartParams::default();
    let frame = chart(&p).unwrap();
    let base = finish(&frame, &FinishParams::default()).unwrap();
    for name in Look::BUILTIN {
        let l = look(name);
        let exact = l.color().unwrap();
        let text = l.bake(65).unwrap().to_cube();
        let cube = Lut3d::parse_cube(&text, std::path::Path::new("baked.cube")).unwrap();
        assert_eq!(
            cube.title.as_deref(),
            Some(format!("obscura look: {name}").as_str())
        );
        let mut via_lut = base.rgb.clone();
        cube.apply(&mut via_lut, 1.0);
        let mut worst = 0.0f32;
        for i in 0..base.rgb[0].data.len() {
            let want = exact.apply([0, 1, 2].map(|k| base.rgb[k].data[i]));
            for k in 0..3 {
                worst = worst.max((via_lut[k].data[i] - want[k]).abs());
            }
        }
        eprintln!(
            "{name}: baked 65^3 cube vs direct: max {:.3}/255",
            worst * 255.0
        );
        assert!(worst <= 1.0 / 255.0, "{name}: {worst}");
    }
}

#[test]
fn look_apply_matches_the_exact_colour_without_spatial_parts() {
    // look::apply (the compiled LUT) against the exact function, with vignette and grain off
    let p = ChartParams::default();
    let base = finish(&chart(&p).unwrap(), &FinishParams::default()).unwrap();
    for name in ["authentic", "vibrant", "mono"] {
        let l = Look {
            vignette: Default::default(),
            grain: Default::default(),
            ..look(name)
        };
        let exact = l.color().unwrap();
        let mut rgb = base.rgb.clone();
        apply(&mut rgb, &compile(&l).unwrap(), 1);
        let mut worst = 0.0f32;
        for i in 0..rgb[0].data.len() {
            let want = exact.apply([0, 1, 2].map(|k| base.rgb[k].data[i]));
            for k in 0..3 {
                worst = worst.max((rgb[k].data[i] - want[k]).abs());
            }
        }
        eprintln!(
            "{name}: compiled look vs exact: max {:.4}/255",
            worst * 255.0
        );
        assert!(worst <= 1.0 / 255.0, "{name}: {worst}");
    }
}

#[test]
fn grain_is_reproducible_and_spares_black_and_white() {
    let l = Look {
        grain: obscura::look::Grain {
            amount: 0.02,
            size: 1.5,
        },
        ..Look::default()
    };
    let flat = |v: f32| [0, 1, 2].map(|_| Plane::from_vec(256, 256, vec![v; 256 * 256]).unwrap());
    let mut a = flat(0.5);
    let mut b = flat(0.5);
    let l = compile(&l).unwrap();
    apply(&mut a, &l, 1);
    apply(&mut b, &l, 1);
    assert_eq!(a[0].data, b[0].data);
    let n = a[0].data.len() as f64;
    let mean = a[0].data.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let sd = (a[0]
        .data
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    eprintln!("grain at mid-grey: mean {mean:.4}, sd {sd:.4}");
    assert!(
        (mean - 0.5).abs() < 0.002 && (sd - 0.02).abs() < 0.004,
        "{mean} {sd}"
    );
    for v in [0.0, 1.0] {
        let mut c = flat(v);
        apply(&mut c, &l, 1);
        assert!(c[0].data.iter().all(|&x| x == v));
    }
}

#[test]
fn look_files_load_and_bad_ones_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("warm.toml");
    std::fs::write(
        &good,
        "name = \"warm\"\ndescription = \"a warm test look\"\nsaturation = 1.1\n\
         curve = [[0, 0], [0.5, 0.55], [1, 1]]\n[vignette]\nstrength = 0.3\n",
    )
    .unwrap();
    let l = Look::resolve(good.to_str().unwrap()).unwrap();
    assert_eq!(
        (l.name.as_str(), l.saturation, l.vignette.strength),
        ("warm", 1.1, 0.3)
    );
    // unspecified fields are natural's
    assert_eq!(l.sharpen, Look::default().sharpen);

    for (text, want) in [
        ("name = \"x\"\nsaturaton = 1.2\n", "line 2"),
        ("name = \"x\"\ncurve = [[0, 0], [0.5]]\n", "line 2"),
        ("saturation = 9\n", "saturation"),
        (
            "curve = [[0, 0], [0.6, 0.5], [0.4, 0.6], [1, 1]]\n",
            "must increase",
        ),
        ("[vignette]\nstrength = -1\n", "vignette.strength"),
        (
            "[table]\nhue_divisions = 6\nsat_divisions = 2\nentries = [[0, 1, 1]]\n",
            "need 12",
        ),
        (
            "mono = [0.3, 0.6, 0.1]\nsaturation = 1.2\n",
            "no table or saturation",
        ),
        ("mono = [0, 0, 0]\n", "positive sum"),
    ] {
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, text).unwrap();
        let e = Look::load(&p).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains(want), "{text:?}: {e}");
    }
    let e = Look::resolve("leica-ish").unwrap_err().to_string();
    assert!(e.contains("authentic") && e.contains("leica-ish"), "{e}");
    let e = Look::resolve(dir.path().join("missing.toml").to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.toml"), "{e}");
}
