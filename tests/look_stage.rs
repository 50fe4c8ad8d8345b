//! The look as its own stage: `finish` then `look::apply` gives, bit for bit, the images
//! `finish` gave when it applied the look itself (checksums recorded from commit 1225877,
//! before the move), for every built-in look, upright and rotated frames.

use std::path::Path;
use std::sync::Arc;

use obscura::RawFrame;
use obscura::finish::{FinishParams, Finished};
use obscura::look::{self, Look, Lut3d};
use obscura::pipeline::{NoProgress, Pipeline};

/// FNV-1a over the bits of every plane, with the size.
fn checksum(img: &Finished) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |v: u64| {
        for b in v.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(img.width() as u64);
    eat(img.height() as u64);
    for p in &img.rgb {
        for v in &p.data {
            eat(u64::from(v.to_bits()));
        }
    }
    h
}

fn frame(orientation: u16) -> RawFrame {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/burst/frame_00.dng");
    let mut f = RawFrame::open(&path).unwrap();
    f.meta.orientation = orientation;
    f
}

/// `frame` finished, then through the look stage.
fn developed(f: &RawFrame, name: &str) -> Finished {
    let l = Look::builtin(name).unwrap();
    let compiled = look::compile(&l).unwrap();
    let mut img = obscura::finish::finish(f, &FinishParams::with_look(&l)).unwrap();
    look::apply(&mut img.rgb, &compiled, img.orientation);
    img
}

/// Recorded at 1225877 (`finish` with `FinishParams::with_look`, the look inside finish),
/// on this machine's AVX-512 kernels (which give the baseline's bits: `cpu.rs`).
const BEFORE: [(u16, &str, u64); 8] = [
    (1, "natural", 0x1ffb93c72dedb52f),
    (1, "authentic", 0x36201449cb0ddcef),
    (1, "vibrant", 0x50431abf0d827496),
    (1, "mono", 0xfab921749e22aba5),
    (6, "natural", 0x1a1856024ec48e27),
    (6, "authentic", 0xb049dc5b782127df),
    (6, "vibrant", 0x1e339661400d996a),
    (6, "mono", 0x937155bb7411d071),
];

#[test]
fn finish_then_look_gives_the_bits_of_the_look_inside_finish() {
    for o in [1u16, 6] {
        let f = frame(o);
        for name in Look::BUILTIN {
            let img = developed(&f, name);
            let want = BEFORE.iter().find(|b| b.0 == o && b.1 == name).unwrap().2;
            assert_eq!(checksum(&img), want, "{name}, orientation {o}");
        }
    }
}

/// The pipeline's look stage is the same one: `Pipeline::develop` of one frame equals
/// `finish` and `look::apply`, with a LUT after the look.
#[test]
fn pipeline_applies_the_look_after_finish() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/burst/frame_00.dng");
    let f = RawFrame::open(&path).unwrap();
    let l = Look::builtin("authentic").unwrap();
    let lut = Arc::new(Lut3d::from_fn(9, |c| [c[1], c[2], c[0]]));
    let p = Pipeline::new().look(l.clone()).lut((*lut).clone(), 0.5);
    let out = p.develop(&[path], &NoProgress).unwrap();
    let compiled = look::compile(&l).unwrap().with_lut(lut, 0.5).unwrap();
    let mut img = obscura::finish::finish(&f, &FinishParams::with_look(&l)).unwrap();
    look::apply(&mut img.rgb, &compiled, img.orientation);
    assert!(out.image.rgb == img.rgb);
    assert_eq!(out.report.look, "authentic");
    // finish alone no longer colours: the look changes the image
    let plain = obscura::finish::finish(&f, &FinishParams::with_look(&l)).unwrap();
    assert!(plain.rgb != img.rgb);
}
