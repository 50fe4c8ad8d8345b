use super::filters::guided_coefficients;
use super::local::{BaseCurve, apply_log_gain};
use super::math::{fast_exp2, fast_log2, luminance};
use super::*;
use crate::image::Rect;

type Rgb = [Plane<f32>; 3];

fn lum(rgb: &Rgb) -> Vec<f32> {
    (0..rgb[0].data.len())
        .map(|i| luminance(rgb[0].data[i], rgb[1].data[i], rgb[2].data[i]))
        .collect()
}

fn run(rgb: &Rgb, params: &ToneParams) -> Rgb {
    let mut out = rgb.clone();
    tone_map(&mut out, params);
    out
}

fn mode(mode: ToneMode) -> ToneParams {
    ToneParams {
        mode,
        ..ToneParams::default()
    }
}

fn local_with(rgb: &Rgb, upsampling: Upsampling) -> Rgb {
    let mut out = rgb.clone();
    local(Isa::detect(), &mut out, &ToneParams::default(), upsampling);
    out
}

/// Planes of `w x h` from a function giving luminance and the (luminance-1) colour.
fn scene(w: usize, h: usize, f: impl Fn(usize, usize) -> (f32, [f32; 3])) -> Rgb {
    let mut rgb: Rgb = std::array::from_fn(|_| Plane::new(w, h));
    for y in 0..h {
        for x in 0..w {
            let (l, c) = f(x, y);
            let n = luminance(c[0], c[1], c[2]);
            for (p, c) in rgb.iter_mut().zip(c) {
                p.set(x, y, l * c / n);
            }
        }
    }
    rgb
}

fn in_rect(r: Rect, x: usize, y: usize) -> bool {
    x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
}

/// The window (with its cross bar), the part of it measured (inside the frame, away from
/// the bar) and the darkest corner of the room.
const WINDOW: Rect = Rect::new(280, 40, 160, 160);
const SHADOW: Rect = Rect::new(8, 210, 112, 102);

fn in_bar(x: usize, y: usize) -> bool {
    (356..364).contains(&x) || (116..124).contains(&y)
}

fn window_interior(x: usize, y: usize) -> bool {
    in_rect(Rect::new(284, 44, 152, 152), x, y)
        && !((352..368).contains(&x) || (112..128).contains(&y))
}

/// A dark room with a bright window, 480 x 320. Room: 0.002 to 0.02 from left to right,
/// ±20 % checker texture (8-pixel squares), warm. Window: 30 ±20 % (a sinusoid of period
/// 16 pixels in x and y), blue-ish, crossed by a dark bar. 13.9 stops from the room's left
/// side to the window.
fn hdr_scene() -> Rgb {
    use std::f32::consts::TAU;
    scene(480, 320, |x, y| {
        if in_rect(WINDOW, x, y) && !in_bar(x, y) {
            let t = (TAU * x as f32 / 16.0).sin() * (TAU * y as f32 / 16.0).sin();
            (30.0 * (1.0 + 0.2 * t), [0.85, 1.0, 1.25])
        } else {
            let checker = if (x / 8 + y / 8) % 2 == 0 { 1.2 } else { 0.8 };
            let l = 0.002 * 10f32.powf(x as f32 / 480.0) * checker;
            (l, [1.15, 1.0, 0.8])
        }
    })
}

fn mean(v: impl Iterator<Item = f32>) -> f32 {
    let (s, n) = v.fold((0.0f64, 0usize), |(s, n), x| (s + x as f64, n + 1));
    (s / n.max(1) as f64) as f32
}

fn region<'a>(
    l: &'a [f32],
    w: usize,
    keep: impl Fn(usize, usize) -> bool + 'a,
) -> impl Iterator<Item = f32> + 'a {
    l.iter()
        .enumerate()
        .filter(move |(i, _)| keep(i % w, i / w))
        .map(|(_, &v)| v)
}

/// std / mean of luminance inside the window.
fn window_contrast(rgb: &Rgb) -> f32 {
    let l = lum(rgb);
    let m = mean(region(&l, 480, window_interior));
    let var = mean(region(&l, 480, window_interior).map(|v| (v - m) * (v - m)));
    var.sqrt() / m
}

fn assert_valid(rgb: &Rgb, what: &str) {
    for p in rgb {
        assert!(
            p.data.iter().all(|v| (0.0..=1.0).contains(v)),
            "{what}: output outside [0, 1] or NaN"
        );
    }
}

#[test]
fn fast_log2_and_exp2_match_the_standard_library() {
    let mut worst = (0.0f32, 0.0f32);
    for i in 0..200_000 {
        let x = -30.0 + 60.0 * i as f32 / 200_000.0;
        let e = (fast_exp2(x) - x.exp2()).abs() / x.exp2();
        let v = x.exp2();
        let l = (fast_log2(v) - v.log2()).abs();
        worst = (worst.0.max(e), worst.1.max(l));
    }
    assert!(worst.0 < 1e-5 && worst.1 < 1e-5, "{worst:?}");
    assert_eq!(fast_exp2(0.0), 1.0);
    assert_eq!(
        fast_exp2(f32::NAN).is_finite(),
        (-126f32).exp2().is_finite()
    );
    assert!(fast_exp2(1e9).is_finite() && fast_exp2(-1e9) >= 0.0);
}

#[test]
fn mode_parses_and_params_validate() {
    for m in ToneMode::ALL {
        assert_eq!(m.name().parse::<ToneMode>().unwrap(), m);
    }
    assert_eq!(" LOCAL ".parse::<ToneMode>().unwrap(), ToneMode::Local);
    assert!("filmic".parse::<ToneMode>().is_err());
    assert_eq!(ToneMode::default(), ToneMode::Local);
    assert!(ToneParams::default().validate().is_ok());
    for bad in [
        ToneParams {
            strength: 1.5,
            ..Default::default()
        },
        ToneParams {
            strength: f32::NAN,
            ..Default::default()
        },
        ToneParams {
            max_gain: 0.5,
            ..Default::default()
        },
        ToneParams {
            shadow_key: 0.0,
            ..Default::default()
        },
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("allowed"), "{e}");
    }
}

#[test]
fn none_is_a_clip() {
    let p = Plane::from_vec(5, 1, vec![-1.0, 0.25, 2.0, f32::NAN, f32::INFINITY]).unwrap();
    let out = run(&[p.clone(), p.clone(), p], &mode(ToneMode::None));
    assert_eq!(out[1].data, vec![0.0, 0.25, 1.0, 0.0, 0.0]);
}

#[test]
fn global_curve_is_identity_below_the_knee_and_maps_the_highlight_to_1() {
    for (w, h) in [
        (0.5f32, 1.0),
        (1.0, 1.0),
        (1.5, 1.0),
        (36.0, 1.0),
        (1e6, 1.0),
        (30.0, 0.8),
    ] {
        let c = Curve::new(w, h);
        assert!((c.apply(0.18) - 0.18).abs() < 1e-7);
        assert!((c.apply(w.max(h)) - h).abs() < 1e-5, "w {w} h {h}");
        let mut prev = 0.0;
        for i in 1..2000 {
            let y = (i as f32 * 0.01).exp2() * 1e-3;
            let t = c.apply(y);
            assert!(t >= prev && t <= y, "w {w} y {y}");
            prev = t;
        }
    }
}

#[test]
fn global_is_monotone_in_luminance_on_a_ramp() {
    // 20 stops, 1024 x 4, neutral, and a second copy in colour
    for colour in [[1.0, 1.0, 1.0], [1.3, 1.0, 0.5]] {
        let rgb = scene(1024, 4, |x, _| {
            ((x as f32 / 1024.0 * 20.0 - 14.0).exp2(), colour)
        });
        let out = run(&rgb, &mode(ToneMode::Global));
        assert_valid(&out, "global ramp");
        let l = lum(&out);
        for x in 1..1024 {
            assert!(l[x] >= l[x - 1], "x {x}: {} < {}", l[x], l[x - 1]);
        }
        assert!(l[1023] > 0.99);
        // mid-tones untouched: input 2^-4 ~ 0.0625 at x = 512
        assert!((l[512] - lum(&rgb)[512]).abs() < 1e-6);
    }
}

#[test]
fn local_lifts_shadows_and_keeps_window_detail() {
    let rgb = hdr_scene();
    let global = run(&rgb, &mode(ToneMode::Global));
    let local = run(&rgb, &ToneParams::default());
    assert_valid(&local, "local");
    let shadow = |o: &Rgb| mean(region(&lum(o), 480, |x, y| in_rect(SHADOW, x, y)));
    let lift = shadow(&local) / shadow(&global);
    // a window pixel is white when every channel is at 1
    let clipped = |o: &Rgb| {
        let n = (0..o[0].data.len())
            .filter(|&i| window_interior(i % 480, i / 480))
            .filter(|&i| o.iter().all(|p| p.data[i] >= 0.999))
            .count();
        n as f32 / (152.0 * 152.0 - 16.0 * 152.0 * 2.0)
    };
    let (c_in, c_local, c_global) = (
        window_contrast(&rgb),
        window_contrast(&local),
        window_contrast(&global),
    );
    eprintln!(
        "shadow lift {lift:.2}x (local {:.4}, global {:.4}); window white: local {:.4}, \
         global {:.4}; window contrast: input {c_in:.3}, local {c_local:.3}, \
         global {c_global:.4}",
        shadow(&local),
        shadow(&global),
        clipped(&local),
        clipped(&global)
    );
    assert!(lift >= 3.0, "shadow lift {lift}");
    assert!(clipped(&local) < 0.01);
    // the Global curve flattens the window: the bar the local result must clear is one
    // the global one fails
    assert!(c_local > 0.04 && c_global < 0.04, "{c_local} {c_global}");
}

/// Mertens' own blend, for comparison: Laplacian pyramids of the encoded exposures of the
/// low-resolution grey image (not of its base layer), blended by Gaussian pyramids of
/// their normalised weights, to full depth (1 x 1); returns the log-gain map.
fn pyramid_fusion_log_gain(logy: &Plane<f32>, curve: &BaseCurve) -> Plane<f32> {
    use crate::finish::filter::{pyramid_expand, pyramid_reduce};
    let (w, h) = (logy.width, logy.height);
    let exposures: Vec<(Plane<f32>, Plane<f32>)> = curve
        .stops
        .iter()
        .map(|&s| {
            let (mut u, mut wt) = (logy.clone(), logy.clone());
            for (i, &l) in logy.data.iter().enumerate() {
                (u.data[i], wt.data[i]) = curve.exposure(l, s);
            }
            (u, wt)
        })
        .collect();
    let mut sizes = vec![(w, h)];
    while let Some(&(sw, sh)) = sizes.last().filter(|&&(sw, sh)| sw > 1 || sh > 1) {
        sizes.push((sw.div_ceil(2), sh.div_ceil(2)));
    }
    let mut acc: Vec<Plane<f32>> = sizes.iter().map(|&(sw, sh)| Plane::new(sw, sh)).collect();
    for (enc, wt) in &exposures {
        let mut g = enc.clone();
        let mut wg = wt.clone();
        for (i, v) in wg.data.iter_mut().enumerate() {
            *v /= exposures.iter().map(|e| e.1.data[i]).sum::<f32>();
        }
        let last = sizes.len() - 1;
        for level in acc.iter_mut().take(last) {
            let (gn, wn) = (pyramid_reduce(&g), pyramid_reduce(&wg));
            let up = pyramid_expand(&gn, g.width, g.height);
            for i in 0..level.data.len() {
                level.data[i] += wg.data[i] * (g.data[i] - up.data[i]);
            }
            (g, wg) = (gn, wn);
        }
        acc[last].data[0] += wg.data[0] * g.data[0];
    }
    let mut fused = acc.pop().unwrap();
    while let Some(level) = acc.pop() {
        fused = pyramid_expand(&fused, level.width, level.height);
        fused
            .data
            .iter_mut()
            .zip(&level.data)
            .for_each(|(f, d)| *f += d);
    }
    let mut lg = fused;
    lg.data
        .iter_mut()
        .zip(&logy.data)
        .for_each(|(f, &l)| *f = GAMMA * fast_log2(f.max(1e-30)) - l);
    lg
}

/// Local with the base-layer blend replaced by [`pyramid_fusion_log_gain`].
fn local_pyramid(rgb: &Rgb) -> Rgb {
    let mut out = rgb.clone();
    let stats = block_stats(Isa::detect(), &out);
    let peak = highlight_level(&stats.peak);
    let global = Curve::new(peak, 1.0);
    let curve = BaseCurve::new(peak, &stats.logy, &stats.logy, 8.0, 0.18);
    let lg = pyramid_fusion_log_gain(&stats.logy, &curve);
    let range = lg
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (a, b, centre) = guided_coefficients(&stats.logy, &lg, &stats.spread);
    apply_log_gain(
        Isa::detect(),
        &mut out,
        [&a, &b],
        centre,
        range,
        global,
        1.0,
    );
    out
}

/// Two flat areas, 0.001 and 0.5 (9 stops apart, so the shadows get the full lift), with
/// a sharp vertical edge at x = 402 (not on a block boundary), 800 x 200. Returns the largest deviation of the column-mean luminance from
/// each side's plateau (columns 60..140 and 660..740), relative to the plateau, over
/// 60..740.
fn halo(method: &str) -> (f32, Rgb) {
    let (w, edge) = (800, 402);
    let rgb = scene(w, 200, |x, _| {
        (if x < edge { 0.001 } else { 0.5 }, [1.0; 3])
    });
    let out = match method {
        "edge-aware" => local_with(&rgb, Upsampling::EdgeAware),
        "bilinear" => local_with(&rgb, Upsampling::Bilinear),
        _ => local_pyramid(&rgb),
    };
    let l = lum(&out);
    let profile: Vec<f32> = (0..w)
        .map(|x| mean((0..200).map(|y| l[y * w + x])))
        .collect();
    let dark = mean(profile[60..140].iter().copied());
    let bright = mean(profile[660..740].iter().copied());
    let dev = (60..740)
        .map(|x| {
            let plateau = if x < edge { dark } else { bright };
            (profile[x] - plateau).abs() / plateau
        })
        .fold(0.0, f32::max);
    eprintln!(
        "{method}: plateaus {dark:.4} {bright:.4} (input 0.001 0.5), worst deviation \
         {:.1} %",
        100.0 * dev
    );
    (dev, out)
}

#[test]
fn edge_aware_upsampling_prevents_halos_baselines_do_not() {
    let (edge_aware, _) = halo("edge-aware");
    let (bilinear, _) = halo("bilinear");
    let (pyramid, _) = halo("pyramid");
    assert!(edge_aware < 0.05, "edge-aware: {edge_aware}");
    assert!(bilinear > 0.05, "bilinear: {bilinear}");
    assert!(pyramid > 0.05, "pyramid: {pyramid}");
}

/// The largest fall of `f` over a fine sweep of 30 stops, relative to the highest value
/// before it: 0 for a non-decreasing curve.
fn largest_fall(f: impl Fn(f32) -> f32) -> f32 {
    let mut top = f32::MIN;
    let mut fall = 0.0f32;
    for i in 0..6000 {
        let v = f(-22.0 + 30.0 * i as f32 / 6000.0);
        top = top.max(v);
        fall = fall.max(1.0 - (v - top).exp2());
    }
    fall
}

#[test]
fn base_curve_is_monotone_with_spaced_exposures_not_with_a_3_stop_gap() {
    let mut worst_gap = 0.0f32;
    for (white, h) in [(0.3f32, 1.0f32), (1.0, 1.0), (30.0, 0.83), (1e3, 0.5)] {
        for g in [1.0f32, 2.0, 4.0, 8.0, 64.0] {
            let n = (g.log2() / MAX_STEP_STOPS).ceil() as usize + 1;
            let curve = BaseCurve {
                stops: (0..n)
                    .map(|i| g.log2() * i as f32 / (n - 1).max(1) as f32)
                    .collect(),
                shoulder: Curve::new(white, h),
            };
            let fall = largest_fall(|l| curve.log2_apply(l));
            assert!(fall < 1e-4, "white {white} h {h} gain {g}: falls by {fall}");
            if g == 8.0 {
                // HDR+'s two exposures, 3 stops apart
                let two = BaseCurve {
                    stops: vec![0.0, 3.0],
                    shoulder: Curve::new(white, h),
                };
                worst_gap = worst_gap.max(largest_fall(|l| two.log2_apply(l)));
            }
        }
    }
    eprintln!("two exposures 3 stops apart: flat areas fall by up to {worst_gap}");
    assert!(worst_gap > 0.1, "{worst_gap}");
}

#[test]
fn strength_zero_is_global_and_strength_is_continuous() {
    let rgb = hdr_scene();
    let global = run(&rgb, &mode(ToneMode::Global));
    let at = |strength: f32| {
        let out = run(
            &rgb,
            &ToneParams {
                strength,
                ..ToneParams::default()
            },
        );
        // mean absolute difference from Global, after a 1 / 2.2 encode
        let enc = |v: f32| v.powf(1.0 / 2.2);
        mean((0..3).flat_map(|c| {
            let (g, o) = (&global[c].data, &out[c].data);
            (0..g.len()).map(move |i| (enc(g[i]) - enc(o[i])).abs())
        }))
    };
    let (d0, d_small, d1) = (at(0.0), at(0.01), at(1.0));
    eprintln!("distance from Global: strength 0 {d0}, 0.01 {d_small}, 1 {d1}");
    assert!(d0 < 1e-6, "{d0}");
    assert!(d_small < 0.02 * d1 && d1 > 0.05, "{d_small} {d1}");
}

#[test]
fn every_instruction_set_gives_identical_output() {
    let mut rgb = hdr_scene();
    rgb[0].data[1234] = f32::NAN;
    rgb[2].data[4321] = -3.0;
    for m in ToneMode::ALL {
        for strength in [1.0, 0.4] {
            let p = ToneParams {
                mode: m,
                strength,
                ..ToneParams::default()
            };
            let mut base = rgb.clone();
            tone_map_with(Isa::baseline(), &mut base, &p);
            for isa in Isa::supported() {
                let mut out = rgb.clone();
                tone_map_with(isa, &mut out, &p);
                assert!(out == base, "{isa:?} {m} {strength}");
            }
        }
    }
}

#[test]
fn local_keeps_colour_ratios_and_neutrals() {
    let rgb = hdr_scene();
    let out = run(&rgb, &ToneParams::default());
    let mut checked = 0;
    for i in 0..rgb[0].data.len() {
        let o = [0, 1, 2].map(|c| out[c].data[i]);
        if o.iter().all(|&v| v > 1e-4 && v < 0.999) {
            let ratio = |c: usize| (o[c] / o[1]) / (rgb[c].data[i] / rgb[1].data[i]);
            assert!((ratio(0) - 1.0).abs() < 1e-4 && (ratio(2) - 1.0).abs() < 1e-4);
            checked += 1;
        }
    }
    assert!(checked > rgb[0].data.len() / 2, "{checked}");
    let grey = {
        let l = lum(&rgb);
        let p = Plane::from_vec(480, 320, l).unwrap();
        [p.clone(), p.clone(), p]
    };
    for m in ToneMode::ALL {
        let out = run(&grey, &mode(m));
        assert!(out[0] == out[1] && out[1] == out[2], "{m}");
    }
}

#[test]
fn extreme_inputs_give_finite_output_in_range() {
    let mut sprinkled = hdr_scene();
    for (i, v) in sprinkled[1].data.iter_mut().enumerate().step_by(97) {
        *v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -5.0, 1e30][i % 5];
    }
    let random = |w: usize, h: usize| -> Rgb {
        std::array::from_fn(|c| {
            let mut p = crate::finish::filter::tests::random_plane(w, h, c as u64 + 7);
            p.data
                .iter_mut()
                .for_each(|v| *v = (*v * 20.0 - 4.0).exp2() - 0.01);
            p
        })
    };
    let flat = |w: usize, h: usize, v: f32| -> Rgb {
        std::array::from_fn(|_| Plane::from_vec(w, h, vec![v; w * h]).unwrap())
    };
    let cases: Vec<(&str, Rgb)> = vec![
        ("zero", flat(37, 23, 0.0)),
        ("1e6", flat(37, 23, 1e6)),
        ("negative", flat(9, 9, -0.5)),
        ("sprinkled", sprinkled),
        ("1x1", random(1, 1)),
        ("2x2", random(2, 2)),
        ("3x5", random(3, 5)),
        ("1x40", random(1, 40)),
        ("odd", random(61, 19)),
    ];
    for (name, rgb) in &cases {
        for m in ToneMode::ALL {
            for strength in [0.0, 0.5, 1.0] {
                let p = ToneParams {
                    mode: m,
                    strength,
                    ..ToneParams::default()
                };
                assert_valid(&run(rgb, &p), &format!("{name} {m} {strength}"));
            }
        }
    }
    for m in [ToneMode::Global, ToneMode::Local] {
        let white = run(&cases[1].1, &mode(m));
        assert!(
            white.iter().all(|p| p.data.iter().all(|&v| v > 0.999)),
            "{m}"
        );
    }
    let black = run(&cases[0].1, &ToneParams::default());
    assert!(black.iter().all(|p| p.data.iter().all(|&v| v == 0.0)));
    // out-of-range parameters are clamped, not trusted
    let wild = ToneParams {
        strength: f32::NAN,
        max_gain: 1e9,
        shadow_key: -1.0,
        ..ToneParams::default()
    };
    assert_valid(&run(&hdr_scene(), &wild), "wild params");
    let mut empty: Rgb = Default::default();
    tone_map(&mut empty, &ToneParams::default());
}

/// With `OBSCURA_TONE_PNG=<dir>`, writes the test scenes through each mode as sRGB PNGs
/// for inspection.
#[test]
fn render_for_inspection() {
    let Some(dir) = std::env::var_os("OBSCURA_TONE_PNG") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let save = |name: &str, rgb: &Rgb| {
        let (w, h) = (rgb[0].width, rgb[0].height);
        let bytes: Vec<u8> = (0..w * h)
            .flat_map(|i| rgb.iter().map(move |p| p.data[i]))
            .map(|v| (crate::color::srgb_encode(v) * 255.0).round() as u8)
            .collect();
        image::RgbImage::from_raw(w as u32, h as u32, bytes)
            .unwrap()
            .save(dir.join(name))
            .unwrap();
    };
    let rgb = hdr_scene();
    save("hdr_none.png", &run(&rgb, &mode(ToneMode::None)));
    save("hdr_global.png", &run(&rgb, &mode(ToneMode::Global)));
    save("hdr_local.png", &run(&rgb, &ToneParams::default()));
    save(
        "hdr_local_bilinear.png",
        &local_with(&rgb, Upsampling::Bilinear),
    );
    save("hdr_local_pyramid.png", &local_pyramid(&rgb));
    for m in ["edge-aware", "bilinear", "pyramid"] {
        save(&format!("halo_{m}.png"), &halo(m).1);
    }
}
