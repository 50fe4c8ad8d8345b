//! Decoding real RAW files: every decode route checked against the reference checksums of
//! `../shared/raw/README.md` (LibRaw 0.22, agreeing with rawler).

mod common;

use obscura::raw::DecoderKind;
use obscura::{Cfa, Error, RawFrame, Rect};

#[test]
fn canon_g2_crw_through_rawloader_matches_reference_checksum() {
    let Some(p) = common::shared_raw("canon_powershot_g2.crw") else {
        return;
    };
    let f = RawFrame::open(&p).unwrap();
    assert_eq!(f.decoder, DecoderKind::Rawloader);
    assert_eq!((f.mosaic.width, f.mosaic.height), (2376, 1728));
    assert_eq!(f.crop, Rect::new(12, 6, 2312, 1720));
    assert_eq!(f.cfa, Cfa::RGGB);
    assert_eq!(f.black, [32.0; 4]);
    assert_eq!(f.white, 1023.0);
    assert_eq!(f.raw_checksum(), (901_259_352, 1023));
    assert_eq!(
        (f.meta.make.as_str(), f.meta.model.as_str()),
        ("Canon", "PowerShot G2")
    );
    // as-shot multipliers 1902 : 1051 : 1434
    let wb = f.wb_multipliers();
    assert!(
        (wb[0] - 1902.0 / 1051.0).abs() < 1e-4 && (wb[2] - 1434.0 / 1051.0).abs() < 1e-4,
        "{wb:?}"
    );
    // the camera matrix comes scaled by 10000 from rawloader; it must be normalised
    let m = f.meta.calibrations[0].color_matrix;
    assert!(m.iter().flatten().all(|v| v.abs() < 3.0), "{m:?}");
    assert!((m[0][0] - 0.9087).abs() < 1e-4, "{m:?}");
}

#[test]
fn canon_g2_rawler_agrees_with_rawloader_bit_for_bit() {
    let Some(p) = common::shared_raw("canon_powershot_g2.crw") else {
        return;
    };
    let ours = RawFrame::open(&p).unwrap().raw_u16();
    let rawler = rawler::decode_file(&p).unwrap();
    let rawler::RawImageData::Integer(theirs) = rawler.data else {
        panic!("rawler returned float data for a CRW");
    };
    assert_eq!(ours, theirs);
}

#[test]
fn sony_jpeg_xl_dng_through_rawler_matches_reference_checksum() {
    let Some(p) = common::dng_sample("03_jxl_bayer_raw_integer.dng") else {
        return;
    };
    let f = RawFrame::open(&p).unwrap();
    assert_eq!(f.decoder, DecoderKind::Rawler);
    assert_eq!((f.mosaic.width, f.mosaic.height), (10240, 7168));
    assert_eq!(f.active_area, Rect::new(0, 0, 9600, 6376));
    assert_eq!(f.crop, Rect::new(32, 20, 9504, 6336));
    assert_eq!(f.cfa, Cfa::RGGB);
    assert_eq!(f.black, [512.0; 4]);
    assert_eq!(f.white, 16383.0);
    assert_eq!(f.raw_checksum(), (111_956_494_485, 7788));
    let m = &f.meta;
    assert_eq!((m.make.as_str(), m.model.as_str()), ("SONY", "ILCE-7RM4"));
    assert_eq!(m.iso, Some(100));
    assert!((m.exposure_time.unwrap() - 1.0 / 25.0).abs() < 1e-9);
    let wb = f.wb_multipliers();
    assert!(
        (wb[0] - 2.820).abs() < 2e-3 && (wb[2] - 1.422).abs() < 2e-3,
        "{wb:?}"
    );
    // both calibrations, with the README's matrices
    let d65 = m.calibrations.iter().find(|c| c.illuminant == 21).unwrap();
    let a = m.calibrations.iter().find(|c| c.illuminant == 17).unwrap();
    let want_d65 = [
        [0.7662, -0.2685, -0.0660],
        [-0.5240, 1.2965, 0.2530],
        [-0.0796, 0.1508, 0.6167],
    ];
    let want_a = [
        [0.9054, -0.4504, 0.0215],
        [-0.4751, 1.2611, 0.2388],
        [-0.0296, 0.0802, 0.6815],
    ];
    for (got, want) in [(d65.color_matrix, want_d65), (a.color_matrix, want_a)] {
        for r in 0..3 {
            for c in 0..3 {
                assert!((got[r][c] - want[r][c]).abs() < 1.5e-4, "{got:?}");
            }
        }
    }
    assert!(d65.forward_matrix.is_some() && a.forward_matrix.is_some());
    assert_eq!(m.noise_profile.len(), 3);
    assert!(
        m.noise_profile
            .iter()
            .all(|n| n.scale > 0.0 && n.offset > 0.0)
    );
    assert!(m.baseline_exposure > 0.0);
    assert!(
        !m.opcodes3.is_empty(),
        "the Sony DNG carries a WarpRectilinear in OpcodeList3"
    );
}

/// A tiled lossless-JPEG DNG (the compression phones write) made from the Sony data with
/// rawler's DNG writer decodes to the same checksum through obscura. rawloader, which obscura
/// does not use for DNGs, fails on it: that is why every DNG goes to rawler.
#[test]
fn lossless_jpeg_dng_round_trips_to_the_reference_checksum() {
    use rawler::dng::writer::DngWriter;
    use rawler::dng::{CropMode, DNG_VERSION_V1_4, DngCompression, DngPhotometricConversion};
    let Some(p) = common::dng_sample("03_jxl_bayer_raw_integer.dng") else {
        return;
    };
    let img = rawler::decode_file(&p).unwrap();
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut dng = DngWriter::new(&mut buf, DNG_VERSION_V1_4).unwrap();
        let mut raw = dng.subframe_on_root(0);
        raw.raw_image(
            &img,
            CropMode::None,
            DngCompression::Lossless,
            DngPhotometricConversion::Original,
            1,
        )
        .unwrap();
        raw.finalize().unwrap();
        dng.load_base_tags(&img).unwrap();
        dng.close().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let lj92 = dir.path().join("sony_lj92.dng");
    std::fs::write(&lj92, buf.into_inner()).unwrap();

    let f = RawFrame::open(&lj92).unwrap();
    assert_eq!(f.decoder, DecoderKind::Rawler);
    assert_eq!(f.raw_checksum(), (111_956_494_485, 7788));

    // The baseline: rawloader on the same file. Measured with rawloader 0.37.2 it returns
    // success with a different sum (295357163550): silent corruption.
    let loader_sum = rawloader::decode_file(&lj92).ok().map(|r| match &r.data {
        rawloader::RawImageData::Integer(d) => d.iter().map(|&v| u64::from(v)).sum::<u64>(),
        rawloader::RawImageData::Float(_) => 0,
    });
    eprintln!("rawloader on the LJ92 DNG: {loader_sum:?} (reference 111956494485)");
    assert_ne!(
        loader_sum,
        Some(111_956_494_485),
        "rawloader is right after all: revisit the routing"
    );
}

/// Every Adobe sample either decodes to a plausible Bayer frame or is refused as unsupported,
/// naming the file: no panic, no other kind of error.
#[test]
fn unusual_dng_samples_decode_or_are_refused_clearly() {
    for p in common::all_dng_samples() {
        match RawFrame::open(&p) {
            Ok(f) => {
                assert!(f.cfa.is_bayer());
                assert!(f.white > f.black[0]);
                let (sum, max) = f.raw_checksum();
                assert!(sum > 0 && f64::from(max) <= f.white, "{}", p.display());
            }
            Err(e @ Error::Unsupported { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&*p.to_string_lossy()), "{msg}");
                assert!(msg.contains("LinearRaw") || msg.contains("Bayer"), "{msg}");
            }
            Err(e) => panic!("{}: unexpected error kind: {e}", p.display()),
        }
    }
}
