//! LinearRaw DNGs: linear RGB frames written by obscura read back bit-exact with all their
//! metadata (through obscura, rawler and LibRaw), float LinearRaw reads, and damaged or
//! unsupported LinearRaw files give clean errors.

mod common;

use std::path::{Path, PathBuf};

use obscura::raw::opcodes::{FLAG_OPTIONAL, GainMap, Opcode};
use obscura::raw::{Calibration, DecoderKind, Gps, Metadata, NoiseModel, write_dng};
use obscura::{Cfa, Error, Plane, RawFrame, Rect};

/// A small deterministic generator (xorshift64*), so the tests need no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const BLACK: [f64; 3] = [64.0, 80.0, 96.0];
const WHITE: f64 = 16383.0;

fn synthetic_rgb(width: usize, height: usize, seed: u64) -> RawFrame {
    synthetic_rgb_with(width, height, seed, BLACK)
}

/// A linear RGB frame of odd size with a non-zero active-area origin and crop, per-plane
/// black levels, raw values over the whole 16-bit range (below black and above white
/// included), two calibrations, a 3-plane noise profile and a 3-plane gain map.
fn synthetic_rgb_with(width: usize, height: usize, seed: u64, black: [f64; 3]) -> RawFrame {
    let mut rng = Rng(seed);
    let planes: [Plane<f32>; 3] = std::array::from_fn(|c| {
        let data = (0..width * height)
            .map(|_| {
                // mostly inside the levels, some outside (noise below black, clipped above)
                let raw = match rng.below(10) {
                    0 => rng.below(65536) as f64,
                    _ => (black[c] + rng.below((WHITE - black[c]) as u64 + 1) as f64).round(),
                };
                ((raw - black[c]) / (WHITE - black[c])) as f32
            })
            .collect();
        Plane::from_vec(width, height, data).unwrap()
    });
    let gain_map = GainMap {
        top: 0,
        left: 0,
        bottom: (height - 4) as u32,
        right: (width - 4) as u32,
        plane: 0,
        planes: 3,
        row_pitch: 1,
        col_pitch: 1,
        points_v: 3,
        points_h: 4,
        spacing_v: 0.5,
        spacing_h: 1.0 / 3.0,
        origin_v: 0.0,
        origin_h: 0.0,
        map_planes: 3,
        gains: (0..36).map(|k| 1.0 + k as f32 / 64.0).collect(),
    };
    RawFrame {
        path: PathBuf::new(),
        mosaic: Plane::default(),
        cfa: Cfa::RGGB,
        rgb: Some(Box::new(planes)),
        black: [black[0], black[1], black[2], black[1]],
        white: WHITE,
        active_area: Rect::new(3, 1, width - 5, height - 2),
        crop: Rect::new(5, 2, width - 9, height - 5),
        meta: Metadata {
            make: "Obscura".into(),
            model: "Kernel Merge".into(),
            orientation: 6,
            exposure_time: Some(1.0 / 60.0),
            iso: Some(400),
            aperture: Some(1.8),
            focal_length: Some(4.25),
            capture_time: Some("2026:05:04 12:34:56.789".into()),
            as_shot_neutral: [0.4771, 1.0, 0.6912],
            calibrations: vec![
                Calibration {
                    illuminant: 17,
                    color_matrix: [
                        [0.9054, -0.4504, 0.0215],
                        [-0.4751, 1.2611, 0.2388],
                        [-0.0296, 0.0802, 0.6815],
                    ],
                    forward_matrix: Some([
                        [0.6531, 0.2177, 0.0935],
                        [0.1945, 0.9118, -0.1063],
                        [-0.0121, -0.3022, 1.1394],
                    ]),
                },
                Calibration {
                    illuminant: 21,
                    color_matrix: [
                        [0.7662, -0.2685, -0.066],
                        [-0.524, 1.2965, 0.253],
                        [-0.0796, 0.1508, 0.6167],
                    ],
                    forward_matrix: Some([
                        [0.7978, 0.1352, 0.0313],
                        [0.288, 0.7119, 0.0001],
                        [0.0, 0.0, 0.8251],
                    ]),
                },
            ],
            noise_profile: vec![
                NoiseModel {
                    scale: 2.625_772_487_983_52e-5,
                    offset: 8.992_193_875_797_91e-9,
                },
                NoiseModel {
                    scale: 2.648_966_201_266_5e-5,
                    offset: 8.906_043_908_577_68e-9,
                },
                NoiseModel {
                    scale: 2.223_392_080_567_64e-5,
                    offset: 8.484_607_582_446_29e-9,
                },
            ],
            baseline_exposure: 0.35,
            opcodes1: vec![],
            opcodes2: vec![Opcode::GainMap {
                flags: FLAG_OPTIONAL,
                map: gain_map,
            }],
            opcodes3: vec![Opcode::Other {
                id: 8,
                flags: FLAG_OPTIONAL,
                version: [1, 3, 0, 0],
                params: vec![0; 36],
            }],
            bits_per_sample: 16,
            gps: Some(Gps {
                latitude: 48.5,
                longitude: -2.25,
                altitude: Some(120.25),
            }),
            identity: obscura::raw::Identity {
                body_serial: Some("SN-0042".into()),
                lens_serial: Some("LENS-7".into()),
                owner: Some("Owner Name".into()),
                artist: Some("Artist Name".into()),
                unique_id: Some("00112233445566778899aabbccddeeff".into()),
                maker_note: Some(b"maker note bytes".to_vec()),
            },
        },
        decoder: DecoderKind::Obscura,
    }
}

/// Writes `src` to `dir/name`, reads it back and checks every sample and all metadata.
fn round_trip(src: &RawFrame, dir: &Path, name: &str) -> (RawFrame, PathBuf) {
    let out = dir.join(name);
    write_dng(src, &out).unwrap();
    let back = RawFrame::open(&out).unwrap();
    assert!(back.is_rgb(), "read back as a Bayer frame");
    assert_eq!(
        back.mosaic,
        Plane::default(),
        "a linear RGB frame has no mosaic"
    );
    assert_eq!(back.cfa, Cfa::RGGB);
    assert_eq!(back.size(), src.size());
    assert_eq!(
        back.raw_u16(),
        src.raw_u16(),
        "samples differ after the round trip"
    );
    for (a, b) in back
        .rgb
        .as_ref()
        .unwrap()
        .iter()
        .zip(src.rgb.as_ref().unwrap().iter())
    {
        let worst = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "normalised samples differ by {worst}");
    }
    assert_eq!(back.black, src.black);
    assert_eq!(back.white, src.white);
    assert_eq!(back.active_area, src.active_area);
    assert_eq!(back.crop, src.crop);
    assert_eq!(back.meta, src.meta, "metadata differ after the round trip");
    assert_eq!(back.decoder, DecoderKind::Rawler);
    (back, out)
}

#[test]
fn linear_rgb_round_trip_is_exact_with_all_metadata() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h, seed) in [(37, 23, 1), (64, 48, 2), (13, 11, 3)] {
        let src = synthetic_rgb(w, h, seed);
        let (_, out) = round_trip(&src, dir.path(), &format!("linear_{w}x{h}.dng"));

        // rawler, on its own, sees 3-sample LinearRaw with the same values
        let img = rawler::decode_file(&out).unwrap();
        assert_eq!((img.width, img.height, img.cpp), (w, h, 3));
        let rawler::RawImageData::Integer(px) = img.data else {
            panic!("rawler: float data");
        };
        assert_eq!(px, src.raw_u16(), "rawler reads different samples");
    }
}

#[test]
fn linear_raw_file_has_the_tags_of_the_spec_and_no_cfa() {
    use obscura::raw::tiff::{Tiff, tags};
    let dir = tempfile::tempdir().unwrap();
    let src = synthetic_rgb(37, 23, 4);
    let out = dir.path().join("tags.dng");
    write_dng(&src, &out).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let t = Tiff::parse(&bytes).unwrap();
    let ifd = t.raw_ifd().unwrap();
    let u = |tag| ifd.get(tag).map(|e| e.u32s()).unwrap_or_default();
    assert_eq!(u(tags::PHOTOMETRIC), [34892]);
    assert_eq!(u(tags::SAMPLES_PER_PIXEL), [3]);
    assert_eq!(u(tags::BITS_PER_SAMPLE), [16, 16, 16]);
    assert_eq!(u(tags::PLANAR_CONFIGURATION), [1]);
    assert_eq!(u(tags::COMPRESSION), [1]);
    assert_eq!(u(tags::BLACK_LEVEL_REPEAT_DIM), [1, 1]);
    assert_eq!(u(tags::BLACK_LEVEL), [64, 80, 96]);
    assert_eq!(u(tags::WHITE_LEVEL), [16383; 3]);
    assert_eq!(u(tags::ACTIVE_AREA), [1, 3, 22, 35]);
    assert_eq!(u(tags::DEFAULT_CROP_ORIGIN), [2, 1]);
    assert_eq!(u(tags::DEFAULT_CROP_SIZE), [28, 18]);
    assert_eq!(u(tags::STRIP_BYTE_COUNTS), [37 * 23 * 6]);
    for tag in [
        tags::CFA_REPEAT_PATTERN_DIM,
        tags::CFA_PATTERN,
        tags::CFA_PLANE_COLOR,
        tags::CFA_LAYOUT,
    ] {
        assert!(ifd.get(tag).is_none(), "CFA tag {tag} in a LinearRaw DNG");
    }
    for tag in [
        tags::COLOR_MATRIX1,
        tags::COLOR_MATRIX2,
        tags::FORWARD_MATRIX1,
        tags::FORWARD_MATRIX2,
        tags::CALIBRATION_ILLUMINANT1,
        tags::CALIBRATION_ILLUMINANT2,
        tags::AS_SHOT_NEUTRAL,
        tags::BASELINE_EXPOSURE,
        tags::OPCODE_LIST2,
        tags::OPCODE_LIST3,
    ] {
        assert!(ifd.get(tag).is_some(), "tag {tag} missing");
    }
    assert_eq!(ifd.get(tags::NOISE_PROFILE).unwrap().count, 6);
    assert!(ifd.exif.is_some() && ifd.gps.is_some());
}

#[test]
fn uniform_black_and_fractional_black_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(
        &synthetic_rgb_with(21, 17, 5, [512.0; 3]),
        dir.path(),
        "uniform.dng",
    );
    round_trip(
        &synthetic_rgb_with(21, 17, 5, [60.5, 61.25, 62.0]),
        dir.path(),
        "fractional.dng",
    );
}

#[test]
fn writer_refuses_inconsistent_rgb_frames() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bad.dng");
    let mut f = synthetic_rgb(9, 7, 6);
    f.rgb.as_mut().unwrap()[2] = Plane::new(8, 7);
    let e = write_dng(&f, &out).unwrap_err();
    assert!(matches!(e, Error::Parameter { .. }), "{e}");
    let mut f = synthetic_rgb(9, 7, 6);
    f.black[1] = f.white;
    let e = write_dng(&f, &out).unwrap_err();
    assert!(matches!(e, Error::Parameter { .. }), "{e}");
    assert!(!out.exists(), "a refused frame left a file");
}

/// A float LinearRaw DNG (32-bit IEEE samples, uncompressed, no WhiteLevel: DNG's default 1.0),
/// made with rawler's TIFF writer.
fn float_linear_dng(w: u32, h: u32, samples: &[f32], white: Option<f32>) -> Vec<u8> {
    use rawler::formats::tiff::{DirectoryWriter, SRational, TiffWriter, Value};
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut tiff = TiffWriter::new(&mut buf).unwrap();
        let bytes: Vec<u8> = samples.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let strip = tiff.write_data(&bytes).unwrap();
        let mut ifd = DirectoryWriter::new();
        ifd.add_untyped_tag(254, 0u32);
        ifd.add_untyped_tag(256, w);
        ifd.add_untyped_tag(257, h);
        ifd.add_untyped_tag(258, [32u16; 3]);
        ifd.add_untyped_tag(259, 1u16);
        ifd.add_untyped_tag(262, 34892u16);
        ifd.add_untyped_tag(271, Value::from("Obscura"));
        ifd.add_untyped_tag(272, Value::from("Float"));
        ifd.add_untyped_tag(273, strip);
        ifd.add_untyped_tag(277, 3u16);
        ifd.add_untyped_tag(278, h);
        ifd.add_untyped_tag(279, bytes.len() as u32);
        ifd.add_untyped_tag(284, 1u16);
        ifd.add_untyped_tag(339, [3u16; 3]);
        ifd.add_untyped_tag(50706, [1u8, 4, 0, 0]);
        ifd.add_untyped_tag(50708, Value::from("Obscura Float"));
        if let Some(wl) = white {
            ifd.add_untyped_tag(50717, [wl as u32; 3]);
        }
        let one = SRational::new(1, 1);
        let zero = SRational::new(0, 1);
        ifd.add_untyped_tag(50721, [one, zero, zero, zero, one, zero, zero, zero, one]);
        ifd.add_untyped_tag(50778, 21u16);
        tiff.build(ifd).unwrap();
    }
    buf.into_inner()
}

#[test]
fn float_linear_raw_reads_exactly() {
    let (w, h) = (19usize, 9usize);
    let mut rng = Rng(7);
    // linear values in [0, 4): above 1 is HDR headroom, kept as is
    let samples: Vec<f32> = (0..w * h * 3)
        .map(|_| rng.below(1 << 20) as f32 / (1 << 18) as f32)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for white in [None, Some(4.0)] {
        let p = dir.path().join(format!("float_{white:?}.dng"));
        std::fs::write(&p, float_linear_dng(w as u32, h as u32, &samples, white)).unwrap();
        let f = RawFrame::open(&p).unwrap();
        assert!(f.is_rgb());
        assert_eq!(f.size(), (w, h));
        let scale = white.unwrap_or(1.0);
        assert_eq!(f.white, f64::from(scale));
        let rgb = f.rgb.as_ref().unwrap();
        for (i, s) in samples.chunks_exact(3).enumerate() {
            for c in 0..3 {
                assert_eq!(rgb[c].data[i], s[c] / scale, "pixel {i} sample {c}");
            }
        }
    }
}

/// Our DNG with one IFD0 SHORT value replaced.
fn patched(bytes: &[u8], tag: u16, value: u16) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let off = common::ifd0_value_offset(&b, tag);
    b[off..off + 2].copy_from_slice(&value.to_le_bytes());
    b
}

#[test]
fn unsupported_linear_raw_layouts_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.dng");
    write_dng(&synthetic_rgb(37, 23, 8), &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    for (tag, value, says) in [
        (277, 1, "monochrome"),
        (277, 4, "4 samples per pixel"),
        (277, 65281, "65281 samples per pixel"),
        (284, 2, "planarconfiguration 2"),
    ] {
        let p = dir.path().join(format!("tag{tag}_{value}.dng"));
        std::fs::write(&p, patched(&bytes, tag, value)).unwrap();
        let e = RawFrame::open(&p).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&*p.to_string_lossy()), "{msg}");
        assert!(msg.to_lowercase().contains(says), "{msg}");
    }
    // absurd dimensions: refused before anything is allocated, counting 3 samples per pixel
    let mut b = bytes.clone();
    for tag in [256u16, 257] {
        let off = common::ifd0_value_offset(&b, tag);
        b[off..off + 4].copy_from_slice(&12_000u32.to_le_bytes());
    }
    let p = dir.path().join("huge.dng");
    std::fs::write(&p, &b).unwrap();
    let e = RawFrame::from_bytes(
        b,
        &p,
        &obscura::raw::DecodeLimits {
            max_pixels: 300_000_000,
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::Limits { .. }), "{e}");
    assert!(e.to_string().contains("36000x12000"), "{e}");
}

#[test]
fn corrupt_and_truncated_linear_raw_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.dng");
    write_dng(&synthetic_rgb(37, 23, 9), &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let name = Path::new("corrupt.dng");
    let limits = obscura::raw::DecodeLimits::default();
    // every cut loses the IFD (written last) or the pixels: always an error naming the file
    for cut in (0..bytes.len()).step_by(7) {
        let e = RawFrame::from_bytes(bytes[..cut].to_vec(), name, &limits)
            .err()
            .unwrap_or_else(|| panic!("a DNG cut to {cut} of {} bytes decoded", bytes.len()));
        assert!(e.to_string().contains("corrupt.dng"), "{e}");
    }
    // random bytes over the IFD and tag data: any result but a panic
    let mut rng = Rng(10);
    for _ in 0..400 {
        let mut b = bytes.clone();
        for _ in 0..1 + rng.below(4) {
            let at = 37 * 23 * 6 + rng.below((b.len() - 37 * 23 * 6) as u64) as usize;
            b[at] = rng.below(256) as u8;
        }
        if let Err(e) = RawFrame::from_bytes(b, name, &limits) {
            assert!(e.to_string().contains("corrupt.dng"), "{e}");
        }
    }
}

/// What LibRaw (through rawpy) gives for a file: `raw_image` as width, height, channels and
/// samples.
type LibRawImage = (usize, usize, usize, Vec<u16>);

/// LibRaw's view of `path` through rawpy: `None` (with a printed notice) if python3 with rawpy
/// is not installed, else what LibRaw read or its error.
fn libraw_samples(path: &Path) -> Option<Result<LibRawImage, String>> {
    const SCRIPT: &str = "import sys, rawpy\n\
        r = rawpy.imread(sys.argv[1])\n\
        a = r.raw_image\n\
        c = a.shape[2] if a.ndim == 3 else 1\n\
        sys.stdout.buffer.write(f'{a.shape[1]} {a.shape[0]} {c}\\n'.encode())\n\
        sys.stdout.buffer.write(a.astype('<u2').tobytes())\n";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(path)
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o.stdout,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            if err.contains("No module named") {
                eprintln!(
                    "SKIPPED: rawpy is not installed (pip install rawpy numpy); LibRaw's \
                     unprocessed_raw reads Bayer data only"
                );
                return None;
            }
            let last = err.lines().last().unwrap_or("").to_string();
            return Some(Err(last));
        }
        Err(_) => {
            eprintln!("SKIPPED: python3 is not installed (LibRaw check through rawpy)");
            return None;
        }
    };
    let nl = out.iter().position(|&b| b == b'\n').unwrap();
    let head = String::from_utf8_lossy(&out[..nl]);
    let dims: Vec<usize> = head.split(' ').map(|v| v.parse().unwrap()).collect();
    assert_eq!(dims.len(), 3, "rawpy header {head:?}");
    let data = out[nl + 1..]
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    Some(Ok((dims[0], dims[1], dims[2], data)))
}

#[test]
fn libraw_reads_our_linear_raw_with_the_same_samples() {
    let dir = tempfile::tempdir().unwrap();
    // LibRaw refuses images under 22 pixels a side ("not RAW"): the active area must be larger
    let src = synthetic_rgb(67, 45, 11);
    let out = dir.path().join("libraw.dng");
    write_dng(&src, &out).unwrap();
    eprintln!("LinearRaw DNG for the LibRaw check: {}", out.display());
    let Some(libraw) = libraw_samples(&out) else {
        return;
    };
    let (w, h, channels, v) = libraw.expect("LibRaw cannot read our LinearRaw DNG");
    let (sw, sh) = src.size();
    // LibRaw gives the whole buffer or the active area (its versions differ), as 3 or 4
    // channels (the fourth unused)
    let area = if (w, h) == (sw, sh) {
        Rect::new(0, 0, sw, sh)
    } else {
        src.active_area
    };
    assert_eq!((w, h), (area.width, area.height), "LibRaw's size");
    assert!(channels >= 3, "LibRaw gives {channels} channels");
    let ours = src.raw_u16();
    for y in 0..h {
        for x in 0..w {
            let o = ((area.y + y) * sw + area.x + x) * 3;
            let t = (y * w + x) * channels;
            assert_eq!(
                &v[t..t + 3],
                &ours[o..o + 3],
                "LibRaw differs at ({x}, {y}) of its image"
            );
        }
    }
    eprintln!("LibRaw agrees on all {} samples", w * h * 3);
}

#[test]
fn info_says_linear_rgb_and_develop_renders_it() {
    let dir = tempfile::tempdir().unwrap();
    let dng = dir.path().join("linear.dng");
    write_dng(&synthetic_rgb(67, 45, 12), &dng).unwrap();
    let bin = || assert_cmd::Command::cargo_bin("obscura").unwrap();

    let o = bin().arg("info").arg(&dng).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("67x45 linear RGB") && text.contains("black R 64 G 80 B 96"),
        "{text}"
    );

    let o = bin().args(["info", "--json"]).arg(&dng).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["linear_rgb"], true);
    assert_eq!(v[0]["cfa"], serde_json::Value::Null);
    assert_eq!(v[0]["width"], 67);
    assert_eq!(v[0]["noise_profile"].as_array().unwrap().len(), 3);

    let png = dir.path().join("linear.png");
    let o = bin()
        .arg("develop")
        .arg(&dng)
        .arg("-o")
        .arg(&png)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // the default crop, turned by the orientation (6: 90 degrees clockwise)
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (45 - 5, 67 - 9));
}

/// Adobe's LinearRaw samples that LibRaw reads give the same samples through obscura: integer
/// data exactly; float data as LibRaw's integer conversion of our values (it scales the
/// largest value to 16383 and truncates).
#[test]
fn adobe_linear_samples_agree_with_libraw() {
    let mut compared = 0;
    for p in common::all_dng_samples() {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let Some(libraw) = libraw_samples(&p) else {
            return;
        };
        let (w, h, channels, theirs) = match libraw {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{name}: LibRaw cannot read it ({e}); not compared");
                continue;
            }
        };
        let f = match RawFrame::open(&p) {
            Ok(f) if f.is_rgb() => f,
            Ok(_) => continue, // Bayer: tests/decode.rs and dng_roundtrip.rs
            Err(e) => {
                eprintln!("{name}: LibRaw reads it, obscura does not: {e}");
                continue;
            }
        };
        assert_eq!((w, h), f.size(), "{name}: LibRaw's size");
        assert!(channels >= 3, "{name}: {channels} channels");
        let rgb = f.rgb.as_ref().unwrap();
        let float = obscura::raw::tiff::Tiff::parse(&std::fs::read(&p).unwrap())
            .unwrap()
            .raw_ifd()
            .and_then(|ifd| ifd.get(339))
            .and_then(|e| e.u32())
            == Some(3);
        let ours = f.raw_u16();
        // the raw float values and their largest, for LibRaw's conversion
        let raw_float =
            |i: usize, c: usize| f64::from(rgb[c].data[i]) * (f.white - f.black[c]) + f.black[c];
        let vmax = (0..w * h)
            .flat_map(|i| (0..3).map(move |c| (i, c)))
            .map(|(i, c)| raw_float(i, c))
            .fold(0.0f64, f64::max);
        let mut worst = 0u32;
        for i in 0..w * h {
            for c in 0..3 {
                let t = u32::from(theirs[i * channels + c]);
                let o = if float {
                    (raw_float(i, c) * 16383.0 / vmax).floor() as u32
                } else {
                    u32::from(ours[i * 3 + c])
                };
                worst = worst.max(t.abs_diff(o));
            }
        }
        eprintln!(
            "{name}: LibRaw and obscura agree on {} samples ({}; largest difference {worst})",
            w * h * 3,
            if float {
                "float, LibRaw's 16383 scaling"
            } else {
                "integer"
            }
        );
        assert_eq!(worst, 0, "{name}: LibRaw differs");
        compared += 1;
    }
    eprintln!("{compared} LinearRaw samples compared with LibRaw");
}
