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

/// What each of Adobe's DNG 1.7 samples gives: its buffer size and whether it is linear RGB,
/// or words its (unsupported) error must contain (measured with rawler 0.8.0; see
/// `docs/ARCHITECTURE.md`).
fn expected_outcome(name: &str) -> Option<Result<(usize, usize, bool), &'static str>> {
    Some(match name {
        "01_jxl_linear_raw_integer.dng" => Ok((9504, 6336, true)),
        // rawler reads JPEG XL integer data only
        "02_jxl_linear_raw_float.dng" => Err("floating-point data compressed with JPEG XL"),
        "03_jxl_bayer_raw_integer.dng" => Ok((10240, 7168, false)),
        "04_PGTM2_per_profile.dng" => Ok((1000, 1000, true)),
        "05_PGTM2_unsigned8.dng"
        | "06_PGTM2_unsigned16.dng"
        | "07_PGTM2_float16.dng"
        | "08_PGTM2_float32.dng"
        | "09_ImageSequenceInfo_1_of_3.dng"
        | "10_ImageSequenceInfo_2_of_3.dng"
        | "11_ImageSequenceInfo_3_of_3.dng" => Ok((200, 200, true)),
        // 8-bit lossless JPEG tiles (obscura's own decoder: rawler's takes 10 to 16 bits)
        "12_ImageStats_WeightedAverage.dng" | "13_ImageStats_Several.dng" => Ok((3000, 2000, true)),
        "14_hdr_sdr_profiles.dng" => Ok((1000, 100, true)),
        _ => return None,
    })
}

/// Every DNG of the sample cache decodes to the size its raw IFD declares (linear RGB for
/// LinearRaw, a Bayer mosaic otherwise) or fails with a decode or unsupported error naming
/// the file; Adobe's 14 samples give exactly their measured outcome.
#[test]
fn every_dng_sample_decodes_to_its_declared_size_or_fails_cleanly() {
    use obscura::raw::tiff::{Entry, Tiff, tags};
    for p in common::all_dng_samples() {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&p).unwrap();
        let t = Tiff::parse(&bytes).unwrap();
        let raw = t.raw_ifd().unwrap();
        let declared = |tag| raw.get(tag).and_then(Entry::u32).unwrap() as usize;
        let size = (declared(tags::IMAGE_WIDTH), declared(tags::IMAGE_LENGTH));
        let linear = raw.get(tags::PHOTOMETRIC).and_then(Entry::u32) == Some(34892);
        let t0 = std::time::Instant::now();
        let got = RawFrame::open(&p);
        eprintln!(
            "{name}: {} in {:.2} s",
            match &got {
                Ok(f) => format!(
                    "{}x{} {}",
                    f.size().0,
                    f.size().1,
                    if f.is_rgb() { "linear RGB" } else { "Bayer" }
                ),
                Err(e) => format!("error: {e}"),
            },
            t0.elapsed().as_secs_f64()
        );
        match (&got, expected_outcome(&name)) {
            (Ok(f), want) => {
                assert_eq!(f.size(), size, "{name}");
                assert_eq!(f.is_rgb(), linear, "{name}");
                if let Some(want) = want {
                    assert_eq!(want, Ok((size.0, size.1, linear)), "{name} decoded");
                }
                assert!(f.white > f.black[0], "{name}");
                match &f.rgb {
                    Some(rgb) => {
                        assert_eq!(f.mosaic.data.len(), 0, "{name}");
                        assert!(
                            rgb.iter().all(|p| p.data.iter().all(|v| v.is_finite())),
                            "{name}: non-finite samples"
                        );
                    }
                    None => assert!(f.cfa.is_bayer(), "{name}"),
                }
                let (sum, max) = f.raw_checksum();
                assert!(
                    sum > 0 && f64::from(max) <= f.white,
                    "{name}: max {max}, white {}",
                    f.white
                );
            }
            (Err(e), want) => {
                assert!(
                    matches!(e, Error::Unsupported { .. } | Error::Decode { .. }),
                    "{name}: unexpected error kind: {e}"
                );
                let msg = e.to_string();
                assert!(msg.contains(&*p.to_string_lossy()), "{msg}");
                if let Some(want) = want {
                    let words = want.err().unwrap_or_else(|| panic!("{name} failed: {msg}"));
                    assert!(msg.contains(words), "{name}: {msg}");
                }
            }
        }
    }
}
