//! Alignment measured against `synth` ground truth: end-point error of the tile field in
//! full-resolution pixels at tile centres, over tiles with texture (the flattest fifth left
//! out, where alignment is ill-posed) whose true match lies inside the frame.

use obscura::align::{AlignParams, Alignment, Refinement, align};
use obscura::synth::{SynthBurst, SynthParams, Truth, synthesize};
use obscura::{Burst, Plane};

struct Stats {
    median: f64,
    p95: f64,
    n: usize,
}

/// Gradient energy of the clean reference mosaic's green-ish quad average inside each tile.
fn texture(clean: &Plane<f32>, a: &Alignment, i: usize, j: usize) -> f64 {
    let (x0, y0) = (j * a.tile_step, i * a.tile_step);
    let mut e = 0.0;
    for y in (y0..y0 + a.tile_size - 2).step_by(2) {
        for x in (x0..x0 + a.tile_size - 2).step_by(2) {
            let q = |x: usize, y: usize| {
                f64::from(
                    clean.get(x, y)
                        + clean.get(x + 1, y)
                        + clean.get(x, y + 1)
                        + clean.get(x + 1, y + 1),
                )
            };
            let (c, r, d) = (q(x, y), q(x + 2, y), q(x, y + 2));
            e += (r - c).powi(2) + (d - c).powi(2);
        }
    }
    e
}

/// End-point errors of frame `k`'s field, on the tiles selected by `keep`.
fn errors(
    truth: &Truth,
    a: &Alignment,
    k: usize,
    keep: &dyn Fn(usize, usize) -> bool,
) -> Vec<(usize, usize, f64)> {
    let (w, h) = (truth.width as f64, truth.height as f64);
    let mut out = Vec::new();
    for i in 0..a.tiles_y {
        for j in 0..a.tiles_x {
            if !keep(i, j) {
                continue;
            }
            let [cx, cy] = a.tile_centre(i, j);
            let (cx, cy) = (f64::from(cx), f64::from(cy));
            // the tile's true footprint in frame k must lie inside the frame
            let half = a.tile_size as f64 / 2.0;
            let inside = [(-half, -half), (half, -half), (-half, half), (half, half)]
                .iter()
                .all(|(ox, oy)| {
                    let q = truth.to_frame(k, cx + ox, cy + oy);
                    q[0] >= 0.0 && q[1] >= 0.0 && q[0] <= w && q[1] <= h
                });
            if !inside {
                continue;
            }
            let t = truth.displacement(k, cx, cy);
            let f = a.field[i * a.tiles_x + j];
            out.push((i, j, (f64::from(f[0]) - t[0]).hypot(f64::from(f[1]) - t[1])));
        }
    }
    out
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn measure(sb: &SynthBurst, params: &AlignParams) -> Stats {
    let burst = Burst::from_frames(sb.frames.clone()).unwrap();
    let params = AlignParams {
        reference: Some(0),
        ..params.clone()
    };
    let al = align(&burst, &params).unwrap();
    assert_eq!(al.reference, 0);
    let a0 = &al.frames[0];
    // the flattest fifth of tiles is left out
    let tex: Vec<f64> = (0..a0.tiles_y)
        .flat_map(|i| (0..a0.tiles_x).map(move |j| (i, j)))
        .map(|(i, j)| texture(&sb.clean_mosaic, a0, i, j))
        .collect();
    let cut = percentile(&mut tex.clone(), 0.2);
    let flat_ok = |i: usize, j: usize| texture(&sb.clean_mosaic, a0, i, j) > cut;
    let mut all = Vec::new();
    for k in 1..sb.frames.len() {
        all.extend(
            errors(&sb.truth, &al.frames[k], k, &flat_ok)
                .into_iter()
                .map(|e| e.2),
        );
    }
    let n = all.len();
    Stats {
        median: percentile(&mut all, 0.5),
        p95: percentile(&mut all, 0.95),
        n,
    }
}

fn burst(motion: f64, rotate: f64, shot: f64, read: f64, exposure: f64, seed: u64) -> SynthBurst {
    synthesize(&SynthParams {
        frames: 8,
        width: 1024,
        height: 768,
        motion,
        rotate,
        shot,
        read,
        exposure,
        seed,
        ..SynthParams::default()
    })
    .unwrap()
}

#[test]
fn handheld_motion_is_found_to_a_fraction_of_a_pixel() {
    let sb = burst(32.0, 0.5, 2e-4, 1e-5, 1.0, 11);
    let s = measure(&sb, &AlignParams::default());
    eprintln!(
        "handheld +-32 px, 0.5 deg: median {:.3} px, p95 {:.3} px over {} tiles",
        s.median, s.p95, s.n
    );
    assert!(s.n > 1000);
    assert!(s.median <= 0.15, "median {}", s.median);
    assert!(s.p95 <= 0.5, "p95 {}", s.p95);

    // the baselines fail the same bar: integer displacements (IPOL HDR+) and the quadratic fit alone
    let int = measure(
        &sb,
        &AlignParams {
            refinement: Refinement::Integer,
            ..AlignParams::default()
        },
    );
    let quad = measure(
        &sb,
        &AlignParams {
            refinement: Refinement::Quadratic,
            ..AlignParams::default()
        },
    );
    eprintln!(
        "integer: median {:.3} p95 {:.3}; quadratic: median {:.3} p95 {:.3}",
        int.median, int.p95, quad.median, quad.p95
    );
    assert!(int.median > 0.15, "integer baseline median {}", int.median);
    assert!(quad.p95 > 0.5, "quadratic baseline p95 {}", quad.p95);
}

#[test]
fn low_light_alignment() {
    let sb = burst(16.0, 0.3, 2e-3, 1e-4, 0.25, 12);
    let s = measure(&sb, &AlignParams::default());
    eprintln!(
        "low light: median {:.3} px, p95 {:.3} px over {} tiles",
        s.median, s.p95, s.n
    );
    assert!(s.median <= 0.3, "median {}", s.median);
}

#[test]
fn large_shake_is_recovered() {
    let sb = burst(64.0, 0.3, 2e-4, 1e-5, 1.0, 13);
    let s = measure(&sb, &AlignParams::default());
    eprintln!(
        "+-64 px: median {:.3} px, p95 {:.3} px over {} tiles",
        s.median, s.p95, s.n
    );
    assert!(s.median <= 0.5, "median {}", s.median);
}

/// A disc moving on its own: tiles inside it follow it or are marked unreliable by their
/// residual; tiles away from it are aligned as well as without it.
#[test]
fn a_moving_object_is_followed_or_flagged() {
    let sb = synthesize(&SynthParams {
        frames: 8,
        width: 1024,
        height: 768,
        motion: 16.0,
        rotate: 0.3,
        moving: 6.0,
        shot: 2e-4,
        read: 1e-5,
        seed: 21,
        ..SynthParams::default()
    })
    .unwrap();
    let truth = &sb.truth;
    let obj = truth.moving_object.clone().unwrap();
    let burst = Burst::from_frames(sb.frames.clone()).unwrap();
    let al = align(
        &burst,
        &AlignParams {
            reference: Some(0),
            ..AlignParams::default()
        },
    )
    .unwrap();
    let (mut inside, mut followed, mut flagged) = (0, 0, 0);
    let mut outside_err = Vec::new();
    for k in 1..8 {
        let a = &al.frames[k];
        let unreliable = a.unreliable();
        let shift = [
            obj.centres[k][0] - obj.centres[0][0],
            obj.centres[k][1] - obj.centres[0][1],
        ];
        let half = a.tile_size as f64 / 2.0;
        for i in 0..a.tiles_y {
            for j in 0..a.tiles_x {
                let [cx, cy] = a.tile_centre(i, j);
                let (cx, cy) = (f64::from(cx), f64::from(cy));
                let t = i * a.tiles_x + j;
                let dist0 = (cx - obj.centres[0][0]).hypot(cy - obj.centres[0][1]);
                let distk = (cx - obj.centres[k][0]).hypot(cy - obj.centres[k][1]);
                let f = a.field[t];
                if dist0 + half * 1.5 < obj.radius {
                    // on the object: true motion is the object's own plus the camera's
                    inside += 1;
                    let q = truth.to_frame(k, cx + shift[0], cy + shift[1]);
                    let err = (f64::from(f[0]) - (q[0] - cx)).hypot(f64::from(f[1]) - (q[1] - cy));
                    if err <= 1.0 {
                        followed += 1;
                    } else if unreliable[t] {
                        flagged += 1;
                    } else {
                        panic!(
                            "frame {k} tile ({i},{j}) on the object: error {err:.2} px and not flagged"
                        );
                    }
                } else if dist0.min(distk) > obj.radius + 3.0 * half {
                    let tr = truth.displacement(k, cx, cy);
                    let inside_frame = [(-half, -half), (half, half)].iter().all(|(ox, oy)| {
                        let q = truth.to_frame(k, cx + ox, cy + oy);
                        q[0] >= 0.0
                            && q[1] >= 0.0
                            && q[0] <= truth.width as f64
                            && q[1] <= truth.height as f64
                    });
                    if inside_frame && texture(&sb.clean_mosaic, a, i, j) > 50.0 {
                        outside_err.push((f64::from(f[0]) - tr[0]).hypot(f64::from(f[1]) - tr[1]));
                    }
                }
            }
        }
    }
    let med = percentile(&mut outside_err, 0.5);
    eprintln!(
        "object tiles: {inside}, followed {followed}, flagged {flagged}; background median error {med:.3} px"
    );
    assert!(inside > 20);
    assert!(
        followed * 3 >= inside * 2,
        "at least two thirds of object tiles should follow the object (measured: 363 of 441)"
    );
    assert!(med <= 0.15, "background median {med}");
}
