//! DNGs written by obscura decode again — through obscura, rawloader, rawler and LibRaw — to
//! identical pixels and metadata.

mod common;

use std::path::Path;

use obscura::RawFrame;
use obscura::raw::{Metadata, write_dng};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(1.0)
}

fn assert_same_metadata(a: &Metadata, b: &Metadata) {
    assert_eq!(a.make, b.make);
    assert_eq!(a.model, b.model);
    assert_eq!(a.orientation, b.orientation);
    assert_eq!(a.iso, b.iso);
    assert_eq!(a.capture_time, b.capture_time);
    for (x, y) in [
        (a.exposure_time, b.exposure_time),
        (a.aperture, b.aperture),
        (a.focal_length, b.focal_length),
    ] {
        assert_eq!(x.is_some(), y.is_some());
        if let (Some(x), Some(y)) = (x, y) {
            assert!(close(x, y), "{x} vs {y}");
        }
    }
    for k in 0..3 {
        assert!(
            close(a.as_shot_neutral[k], b.as_shot_neutral[k]),
            "{:?} vs {:?}",
            a.as_shot_neutral,
            b.as_shot_neutral
        );
    }
    assert!(close(a.baseline_exposure, b.baseline_exposure));
    assert_eq!(a.calibrations.len(), b.calibrations.len());
    for (ca, cb) in a.calibrations.iter().zip(&b.calibrations) {
        assert_eq!(ca.illuminant, cb.illuminant);
        let fa: Vec<f64> = ca.color_matrix.iter().flatten().copied().collect();
        let fb: Vec<f64> = cb.color_matrix.iter().flatten().copied().collect();
        assert!(
            fa.iter().zip(&fb).all(|(x, y)| close(*x, *y)),
            "{fa:?} vs {fb:?}"
        );
        assert_eq!(ca.forward_matrix.is_some(), cb.forward_matrix.is_some());
    }
    assert_eq!(a.noise_profile, b.noise_profile);
    assert_eq!(a.opcodes1, b.opcodes1);
    assert_eq!(a.opcodes2, b.opcodes2);
    assert_eq!(a.opcodes3, b.opcodes3);
}

fn round_trip(src: &RawFrame, dir: &Path) -> (RawFrame, std::path::PathBuf) {
    let out = dir.join("roundtrip.dng");
    write_dng(src, &out).unwrap();
    let back = RawFrame::open(&out).unwrap();
    assert_eq!(
        back.raw_u16(),
        src.raw_u16(),
        "pixels differ after the round trip"
    );
    assert_eq!(back.cfa, src.cfa);
    assert_eq!(back.black, src.black);
    assert_eq!(back.white, src.white);
    assert_eq!(back.active_area, src.active_area);
    assert_eq!(back.crop, src.crop);
    assert_same_metadata(&src.meta, &back.meta);
    (back, out)
}

/// The visible area of `f` as LibRaw's `unprocessed_raw -T` writes it, if LibRaw's tools are
/// installed (Debian package libraw-bin).
fn libraw_visible(path: &Path) -> Option<(u32, u32, Vec<u16>)> {
    let status = std::process::Command::new("unprocessed_raw")
        .arg("-q")
        .arg("-T")
        .arg(path)
        .status();
    match status {
        Ok(s) if s.success() => {}
        _ => {
            eprintln!(
                "SKIPPED: LibRaw's unprocessed_raw is not installed (apt-get install libraw-bin)"
            );
            return None;
        }
    }
    let tif = std::path::PathBuf::from(format!("{}.tiff", path.display()));
    let mut dec = tiff::decoder::Decoder::new(std::fs::File::open(&tif).unwrap()).unwrap();
    let (w, h) = dec.dimensions().unwrap();
    let tiff::decoder::DecodingResult::U16(v) = dec.read_image().unwrap() else {
        panic!("unprocessed_raw wrote a non-16-bit TIFF");
    };
    Some((w, h, v))
}

#[test]
fn canon_g2_round_trip_through_every_reader() {
    let Some(p) = common::shared_raw("canon_powershot_g2.crw") else {
        return;
    };
    let src = RawFrame::open(&p).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, out) = round_trip(&src, dir.path());

    let via_rawler = rawler::decode_file(&out).unwrap();
    let rawler::RawImageData::Integer(px) = via_rawler.data else {
        panic!("rawler: float data")
    };
    assert_eq!(px, src.raw_u16(), "rawler reads different pixels");
    assert_eq!(via_rawler.camera.cfa.name, "RGGB");

    let via_rawloader = rawloader::decode_file(&out).unwrap();
    let rawloader::RawImageData::Integer(px) = via_rawloader.data else {
        panic!("rawloader: float data")
    };
    assert_eq!(px, src.raw_u16(), "rawloader reads different pixels");
    assert_eq!(via_rawloader.blacklevels[0], 32);
    assert_eq!(via_rawloader.whitelevels[0], 1023);

    // LibRaw 0.20 writes the whole buffer (later versions the active area): compare either.
    if let Some((w, h, v)) = libraw_visible(&out) {
        let all = src.raw_u16();
        let a = if (w as usize, h as usize) == (src.mosaic.width, src.mosaic.height) {
            obscura::Rect::new(0, 0, src.mosaic.width, src.mosaic.height)
        } else {
            src.active_area
        };
        assert_eq!((w as usize, h as usize), (a.width, a.height));
        let ours: Vec<u16> = (a.y..a.y + a.height)
            .flat_map(|y| {
                all[y * src.mosaic.width + a.x..y * src.mosaic.width + a.x + a.width].to_vec()
            })
            .collect();
        assert_eq!(v, ours, "LibRaw reads different pixels");
    }
}

#[test]
fn sony_dng_round_trip_keeps_noise_profile_opcodes_and_matrices() {
    let Some(p) = common::dng_sample("03_jxl_bayer_raw_integer.dng") else {
        return;
    };
    let src = RawFrame::open(&p).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (back, _) = round_trip(&src, dir.path());
    assert_eq!(back.raw_checksum(), (111_956_494_485, 7788));
    assert_eq!(back.meta.noise_profile.len(), 3);
    assert!(!back.meta.opcodes3.is_empty());
}

#[test]
fn synthetic_frame_round_trip_is_exact() {
    let params = obscura::synth::SynthParams {
        frames: 1,
        width: 96,
        height: 64,
        ..Default::default()
    };
    let burst = obscura::synth::synthesize(&params).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (back, out) = round_trip(&burst.frames[0], dir.path());
    assert_eq!(back.mosaic, burst.frames[0].mosaic);
    let via_rawloader = rawloader::decode_file(&out).unwrap();
    let rawloader::RawImageData::Integer(px) = via_rawloader.data else {
        panic!("rawloader: float data")
    };
    assert_eq!(px, back.raw_u16());
}

#[test]
fn odd_active_area_origin_keeps_cfa_phase_and_black_pattern() {
    // A frame whose active area starts at an odd column: DNG stores the CFA and black-level
    // patterns relative to the active area, so both must be shifted on write and on read.
    let params = obscura::synth::SynthParams {
        frames: 1,
        width: 64,
        height: 48,
        cfa: obscura::Cfa::GRBG,
        ..Default::default()
    };
    let mut f = obscura::synth::synthesize(&params)
        .unwrap()
        .frames
        .remove(0);
    f.black = [60.0, 61.0, 62.0, 63.0];
    f.active_area = obscura::Rect::new(1, 1, 62, 46);
    f.crop = obscura::Rect::new(3, 3, 56, 40);
    let dir = tempfile::tempdir().unwrap();
    round_trip(&f, dir.path());
}
