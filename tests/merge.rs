//! Merge quality measured against `synth` ground truth: PSNR (dB, peak 1.0) of the merged
//! mosaic against the clean reference mosaic, compared with the noisy reference frame and with
//! the baselines (`average`, `hdrplus`).

mod common;

use obscura::align::{AlignParams, align};
use obscura::merge::{MergeMethod, MergeParams, Merged, merge};
use obscura::synth::{Scene, SynthBurst, SynthParams, synthesize, synthesize_scene};
use obscura::{Burst, Plane, RawFrame};

/// Margin left out of every measurement: content near the frame edge is missing from
/// alternate frames that moved.
const MARGIN: usize = 40;

/// The clean, unclipped value at each photosite of frame 0.
fn truth_mosaic(sb: &SynthBurst) -> Plane<f32> {
    let f = &sb.frames[0];
    let mut p = Plane::new(f.mosaic.width, f.mosaic.height);
    for y in 0..p.height {
        for x in 0..p.width {
            p.set(x, y, sb.clean_rgb[f.cfa.color_at(x, y) as usize].get(x, y));
        }
    }
    p
}

fn psnr(
    a: &Plane<f32>,
    scale: f32,
    truth: &Plane<f32>,
    keep: &dyn Fn(usize, usize) -> bool,
) -> f64 {
    let (mut se, mut n) = (0.0f64, 0usize);
    for y in MARGIN..truth.height - MARGIN {
        for x in MARGIN..truth.width - MARGIN {
            if keep(x, y) {
                let e = f64::from(a.get(x, y) * scale - truth.get(x, y));
                se += e * e;
                n += 1;
            }
        }
    }
    assert!(n > 100, "too few pixels measured");
    10.0 * (n as f64 / se).log10()
}

fn run(sb: &SynthBurst, method: MergeMethod) -> Merged {
    let burst = Burst::from_frames(sb.frames.clone()).unwrap();
    let al = align(
        &burst,
        &AlignParams {
            reference: Some(0),
            ..AlignParams::default()
        },
    )
    .unwrap();
    merge(
        &burst,
        &al,
        &MergeParams {
            method,
            ..MergeParams::default()
        },
    )
    .unwrap()
}

/// PSNR of the reference frame and of the merge by each method, over pixels `keep` selects.
fn gains(sb: &SynthBurst, keep: &dyn Fn(usize, usize) -> bool) -> (f64, Vec<(MergeMethod, f64)>) {
    let truth = truth_mosaic(sb);
    let noisy = psnr(&sb.frames[0].mosaic, 1.0, &truth, keep);
    let merged = [
        MergeMethod::Robust,
        MergeMethod::HdrPlus,
        MergeMethod::Average,
    ]
    .into_iter()
    .map(|m| {
        let out = run(sb, m);
        (m, psnr(&out.frame.mosaic, out.scale, &truth, keep) - noisy)
    })
    .collect();
    (noisy, merged)
}

fn noisy_burst(motion: f64, rotate: f64, moving: f64, seed: u64) -> SynthBurst {
    synthesize(&SynthParams {
        frames: 8,
        width: 768,
        height: 576,
        motion,
        rotate,
        moving,
        shot: 2e-3,
        read: 1e-4,
        // the procedural scene peaks near 1.8: at half exposure nothing clips
        exposure: 0.5,
        seed,
        ..SynthParams::default()
    })
    .unwrap()
}

#[test]
fn static_scene_gains_nearly_the_ideal_9_db() {
    let sb = noisy_burst(0.0, 0.0, 0.0, 31);
    let (noisy, g) = gains(&sb, &|_, _| true);
    eprintln!("static: reference {noisy:.2} dB; gains {g:?} (ideal mean of 8: 9.03 dB)");
    let robust = g[0].1;
    assert!(robust >= 8.5, "robust gain {robust:.2} dB");
}

/// A burst made from a real camera's texture: the Canon G2's mosaic at half size, each 2x2
/// quad one RGB pixel (no demosaic involved).
fn real_texture_burst(seed: u64) -> Option<SynthBurst> {
    let p = common::shared_raw("canon_powershot_g2.crw")?;
    let f = RawFrame::open(&p).unwrap();
    let a = f.crop;
    let (w, h) = (a.width / 2, a.height / 2);
    let cfa = f.cfa_at(a);
    let wb = f.wb_multipliers();
    let mut planes = [Plane::new(w, h), Plane::new(w, h), Plane::new(w, h)];
    for y in 0..h {
        for x in 0..w {
            let mut rgb = [0.0f32; 3];
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let c = cfa.color_at(dx, dy) as usize;
                let v = f.mosaic.get(a.x + 2 * x + dx, a.y + 2 * y + dy).max(0.0);
                rgb[c] += if c == 1 { v / 2.0 } else { v };
            }
            for c in 0..3 {
                planes[c].set(x, y, rgb[c] * wb[c] as f32);
            }
        }
    }
    // no clipping: the brightest value of the scene becomes 0.92 of white
    let peak = planes
        .iter()
        .flat_map(|p| p.data.iter())
        .copied()
        .fold(0.0f32, f32::max);
    for p in &mut planes {
        p.data.iter_mut().for_each(|v| *v *= 0.92 / peak);
    }
    let (fw, fh) = (1024, 768);
    let scene = Scene::from_linear_rgb(planes).unwrap().fit(fw, fh);
    let params = SynthParams {
        frames: 8,
        width: fw,
        height: fh,
        motion: 16.0,
        rotate: 0.3,
        shot: 2e-3,
        read: 1e-4,
        seed,
        ..SynthParams::default()
    };
    Some(synthesize_scene(&params, &scene).unwrap())
}

/// The bar for handheld bursts: at least +5 dB, and 1 dB above the HDR+ baseline.
fn assert_handheld_bar(g: &[(MergeMethod, f64)]) {
    let (robust, hdrplus) = (g[0].1, g[1].1);
    assert!(robust >= 5.0, "robust gain {robust:.2} dB");
    assert!(
        robust >= hdrplus + 1.0,
        "robust {robust:.2} dB vs hdrplus {hdrplus:.2} dB"
    );
}

#[test]
fn handheld_burst_of_real_texture() {
    let Some(sb) = real_texture_burst(32) else {
        return;
    };
    let truth = truth_mosaic(&sb);
    let unclipped = |x: usize, y: usize| truth.get(x, y) < 0.97;
    let (noisy, g) = gains(&sb, &unclipped);
    eprintln!("handheld real texture: reference {noisy:.2} dB; gains {g:?}");
    assert_handheld_bar(&g);
}

#[test]
fn handheld_burst_of_the_procedural_scene() {
    let sb = noisy_burst(16.0, 0.3, 0.0, 33);
    let (noisy, g) = gains(&sb, &|_, _| true);
    eprintln!("handheld procedural: reference {noisy:.2} dB; gains {g:?}");
    assert_handheld_bar(&g);
}

/// Wherever the moving disc is in any frame (in reference coordinates), the merge must be no
/// worse than the reference frame itself, less 0.5 dB: no ghost. The plain average fails.
#[test]
fn a_moving_object_leaves_no_ghost() {
    let sb = noisy_burst(8.0, 0.2, 8.0, 34);
    let obj = sb.truth.moving_object.clone().unwrap();
    let truth = &sb.truth;
    // the object's footprint in reference coordinates in every frame: the disc at
    // centres[k] in scene coordinates is where frame k shows it, relative to the scene
    let on_object = |x: usize, y: usize| {
        let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
        (0..truth.frames.len()).any(|k| truth.object_covers(k, px, py))
    };
    let (noisy_obj, g_obj) = gains(&sb, &on_object);
    let (noisy_all, g_all) = gains(&sb, &|_, _| true);
    eprintln!(
        "moving object (radius {:.0}): reference {noisy_obj:.2} dB on the object; gains there {g_obj:?}; whole image {noisy_all:.2} dB, gains {g_all:?}",
        obj.radius
    );
    let (robust_obj, average_obj) = (g_obj[0].1, g_obj[2].1);
    assert!(
        robust_obj >= -0.5,
        "robust merge ghosts: {robust_obj:.2} dB on the object"
    );
    assert!(g_all[0].1 >= 4.8, "whole-image gain {:.2} dB", g_all[0].1);
    assert!(
        average_obj < -0.5,
        "the average baseline should ghost: {average_obj:.2} dB"
    );
}

/// EV 0 and EV -2 frames alternate: where the EV 0 reference clipped, the merge recovers the
/// true values from the short frames.
#[test]
fn bracketed_burst_recovers_clipped_highlights() {
    let sb = synthesize(&SynthParams {
        frames: 8,
        width: 768,
        height: 576,
        motion: 8.0,
        rotate: 0.2,
        shot: 2e-3,
        read: 1e-4,
        exposure: 2.5,
        bracket: vec![0.0, -2.0],
        seed: 35,
        ..SynthParams::default()
    })
    .unwrap();
    let truth = truth_mosaic(&sb);
    let out = run(&sb, MergeMethod::Robust);
    let (mut sm, mut st, mut n) = (0.0f64, 0.0f64, 0usize);
    let mut rel = Vec::new();
    for y in MARGIN..truth.height - MARGIN {
        for x in MARGIN..truth.width - MARGIN {
            let t = truth.get(x, y);
            // clipped in the EV 0 frames, but within what the -2 EV frames capture
            if t > 1.05 && t < 3.5 {
                let m = out.frame.mosaic.get(x, y) * out.scale;
                sm += f64::from(m);
                st += f64::from(t);
                n += 1;
                rel.push(f64::from((m - t).abs() / t));
            }
        }
    }
    rel.sort_by(f64::total_cmp);
    let mean_err = (sm - st).abs() / st;
    eprintln!(
        "bracketed: {n} clipped photosites, mean error {:.2}%, median per-pixel error {:.2}%, output scale {:.2}",
        100.0 * mean_err,
        100.0 * rel[rel.len() / 2],
        out.scale
    );
    assert!(n > 1000, "the test scene should clip");
    assert!(mean_err <= 0.02, "mean error {:.2}%", 100.0 * mean_err);
    assert!(
        out.scale > 1.05,
        "the output should extend past the reference's white level"
    );
}

#[test]
fn merged_dng_keeps_geometry_and_opens_in_other_readers() {
    let sb = synthesize(&SynthParams {
        frames: 4,
        width: 256,
        height: 192,
        cfa: obscura::Cfa::GBRG,
        ..SynthParams::default()
    })
    .unwrap();
    let out = run(&sb, MergeMethod::Robust);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("merged.dng");
    obscura::raw::write_dng(&out.frame, &p).unwrap();
    let back = RawFrame::open(&p).unwrap();
    assert_eq!((back.mosaic.width, back.mosaic.height), (256, 192));
    assert_eq!(back.cfa, obscura::Cfa::GBRG);
    assert_eq!(back.white, 65535.0);
    // the NoiseProfile reflects the reduced noise
    let np = back.meta.noise_profile[1];
    assert!(np.scale < 2e-3 / 2.0 && np.offset < 1e-4 / 2.0, "{np:?}");
    let rl = rawloader::decode_file(&p).unwrap();
    assert_eq!((rl.width, rl.height), (256, 192));
    let rr = rawler::decode_file(&p).unwrap();
    assert_eq!(rr.camera.cfa.name, "GBRG");
}
