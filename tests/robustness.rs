//! Reliability through the binary: the bad-input matrix (clear error, exit code, no output,
//! inputs byte-identical), Ctrl-C during a batch, extreme pixel values, and the inputs the
//! fuzzers found.

mod common;

use common::{ifd0_value_offset, write_dngs};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use obscura::finish::{FinishParams, finish};
use obscura::synth::SynthParams;
use obscura::synth::chart::{ChartParams, chart};
use obscura::{Plane, RawFrame, Rect};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_obscura"))
}

fn sample_burst() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/burst")
}

/// A synthetic burst of `frames` frames of `w x h` written into `dir`.
fn burst(dir: &Path, frames: usize, w: usize, h: usize, seed: u64) -> Vec<PathBuf> {
    let p = SynthParams {
        frames,
        width: w,
        height: h,
        motion: 2.0,
        seed,
        ..SynthParams::default()
    };
    write_dngs(dir, &p)
}

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// One row of the bad-input matrix: name, inputs, output, extra arguments, exit code, words the
/// message must hold.
type Case = (
    String,
    Vec<PathBuf>,
    PathBuf,
    Vec<&'static str>,
    i32,
    Vec<String>,
);

#[test]
fn bad_input_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in");
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let good = burst(&inp.join("good"), 2, 48, 32, 1);
    let good_bytes = std::fs::read(&good[0]).unwrap();

    // (name, inputs, output, extra args, exit code, words the message must hold)
    let mut cases: Vec<Case> = Vec::new();
    let out = out_dir.join("x.jpg");
    let mut add = |name: &str, inputs: Vec<PathBuf>, code: i32, says: &[&str]| {
        let mut says: Vec<String> = says.iter().map(|s| s.to_string()).collect();
        // the message names the (first) input
        says.push(
            inputs[0]
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
        cases.push((name.into(), inputs, out.clone(), vec![], code, says));
    };

    let empty = inp.join("empty.dng");
    std::fs::write(&empty, b"").unwrap();
    add("zero bytes", vec![empty], 1, &["empty"]);
    for k in 0..10 {
        let cut = good_bytes.len() * (2 * k + 1) / 21;
        let p = inp.join(format!("cut{k}.dng"));
        std::fs::write(&p, &good_bytes[..cut]).unwrap();
        add(&format!("truncated at {cut}"), vec![p], 1, &[]);
    }
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut noise: Vec<u8> = b"II*\x00\x08\x00\x00\x00".to_vec();
    noise.extend((0..4000).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    let p = inp.join("noise.dng");
    std::fs::write(&p, &noise).unwrap();
    add("random bytes after a TIFF header", vec![p], 1, &[]);
    let p = inp.join("photo.tif");
    image::RgbImage::from_pixel(32, 24, image::Rgb([200, 100, 50]))
        .save(&p)
        .unwrap();
    add("a TIFF that is not a raw", vec![p], 1, &[]);
    let mut big = good_bytes.clone();
    for tag in [256u16, 257] {
        let off = ifd0_value_offset(&big, tag);
        big[off..off + 4].copy_from_slice(&100_000u32.to_le_bytes());
    }
    let p = inp.join("huge.dng");
    std::fs::write(&p, &big).unwrap();
    add("100000 x 100000 declared", vec![p], 1, &["limit"]);
    let mixed = inp.join("mixed");
    let a = burst(&mixed.join("a"), 1, 48, 32, 2);
    let b = burst(&mixed.join("b"), 1, 64, 32, 3);
    add(
        "frames of mixed sizes",
        vec![a[0].clone(), b[0].clone()],
        1,
        &["do not match"],
    );
    let nothing = inp.join("nothing");
    std::fs::create_dir_all(&nothing).unwrap();
    add("an empty directory", vec![nothing], 1, &["no raw files"]);
    add(
        "a path that does not exist",
        vec![inp.join("nope.dng")],
        1,
        &[],
    );
    // outputs that cannot be written
    cases.push((
        "an output folder that does not exist".into(),
        vec![good[0].clone()],
        dir.path().join("no/such/x.jpg"),
        vec![],
        1,
        vec!["x.jpg".into(), "does not exist".into()],
    ));
    cases.push((
        "output to /dev/full".into(),
        vec![good[0].clone()],
        PathBuf::from("/dev/full"),
        vec!["--format", "jpeg"],
        1,
        vec!["/dev/full".into(), "space".into()],
    ));
    let ro = dir.path().join("readonly");
    std::fs::create_dir_all(&ro).unwrap();
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&ro, perms).unwrap();
    if std::fs::write(ro.join("probe"), b"").is_ok() {
        // root ignores permissions: nothing to test here
        eprintln!("SKIPPED: read-only output folder (running as root, which may write anyway)");
        let _ = std::fs::remove_file(ro.join("probe"));
    } else {
        cases.push((
            "a read-only output folder".into(),
            vec![good[0].clone()],
            ro.join("x.jpg"),
            vec![],
            1,
            vec!["x.jpg".into(), "denied".into()],
        ));
    }

    let before = snapshot(&inp);
    for (name, inputs, output, extra, code, says) in &cases {
        let o = Command::new(bin())
            .arg("process")
            .args(inputs)
            .arg("-o")
            .arg(output)
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(*code), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        for w in says {
            assert!(
                err.to_lowercase().contains(&w.to_lowercase()),
                "{name}: message lacks {w:?}: {err}"
            );
        }
        if output.starts_with(dir.path()) {
            assert!(!output.exists(), "{name}: {} was written", output.display());
        }
        eprintln!("{name}: exit {code}: {}", err.trim());
    }
    // nothing was written anywhere (not even a temporary file), inputs are unchanged
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0);
    assert_eq!(snapshot(&inp), before, "inputs changed");
    assert!(Path::new("/dev/full").exists());

    // a one-frame burst works
    let o = Command::new(bin())
        .arg("process")
        .arg(&good[0])
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(image::open(&out).is_ok());
}

#[test]
fn ctrl_c_during_a_batch_leaves_only_complete_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bursts");
    for k in 0..4 {
        let d = input.join(format!("b{k}"));
        std::fs::create_dir_all(&d).unwrap();
        for f in [
            "frame_00.dng",
            "frame_01.dng",
            "frame_02.dng",
            "frame_03.dng",
        ] {
            std::fs::copy(sample_burst().join(f), d.join(f)).unwrap();
        }
    }
    let out = dir.path().join("out");
    let mut child = Command::new(bin())
        .args(["process", "--batch"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // wait (by reading its log, no timer) until the first burst is written, then interrupt
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if log.read_line(&mut line).unwrap() == 0 {
            break;
        }
        text.push_str(&line);
        if line.starts_with("wrote") {
            let ok = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(ok.success());
            break;
        }
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut log, &mut rest).unwrap();
    text.push_str(&rest);
    let status = child.wait().unwrap();
    // whatever the moment the signal landed: exit 130 (or 0 if the batch had just ended),
    // every output complete, no temporary file
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    eprintln!("{text}outputs: {names:?}");
    if names.len() < 4 {
        assert_eq!(status.code(), Some(130), "{text}");
        assert!(
            text.contains("running the same command again resumes"),
            "{text}"
        );
    }
    assert!(!names.is_empty());
    for n in &names {
        assert!(n.ends_with(".jpg") && !n.starts_with('.'), "stray file {n}");
        let img = image::open(out.join(n)).expect("a complete JPEG");
        assert_eq!((img.width(), img.height()), (512, 384));
    }
    // and a rerun resumes: the rest is made, nothing is redone
    let o = Command::new(bin())
        .args(["process", "--batch"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
}

/// A frame with the given mosaic (normalised values), geometry taken from a chart.
fn frame_with(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> RawFrame {
    let mut fr = chart(&ChartParams::default()).unwrap();
    let data = (0..w * h).map(|i| f(i % w, i / w)).collect();
    fr.mosaic = Plane::from_vec(w, h, data).unwrap();
    fr.active_area = Rect::new(0, 0, w, h);
    fr.crop = Rect::new(0, 0, w, h);
    fr
}

#[test]
fn extreme_values_never_reach_the_encoder_as_nan() {
    let cases: Vec<(&str, RawFrame)> = vec![
        ("all black", frame_with(64, 48, |_, _| 0.0)),
        ("all clipped", frame_with(64, 48, |_, _| 1.0)),
        (
            "one hot pixel",
            frame_with(64, 48, |x, y| if (x, y) == (31, 20) { 1.0 } else { 0.01 }),
        ),
        (
            "NaN, infinities and negatives",
            frame_with(64, 48, |x, y| match (x + y) % 4 {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => -5.0,
                _ => 0.3,
            }),
        ),
        ("2x2", frame_with(2, 2, |x, _| x as f32 * 0.5)),
        ("3x3 (odd)", frame_with(3, 3, |x, y| (x + y) as f32 * 0.1)),
        (
            "odd 65x33",
            frame_with(65, 33, |x, y| ((x * y) % 7) as f32 / 7.0),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, frame) in cases {
        for look in ["natural", "authentic", "mono"] {
            let l = obscura::look::Look::builtin(look).unwrap();
            let p = FinishParams::with_look(&l);
            let mut img = finish(&frame, &p).unwrap_or_else(|e| panic!("{name}: {e}"));
            let compiled = obscura::look::compile(&l).unwrap();
            obscura::look::apply(&mut img.rgb, &compiled, img.orientation);
            for (c, plane) in img.rgb.iter().enumerate() {
                assert!(
                    plane
                        .data
                        .iter()
                        .all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
                    "{name} in {look}: channel {c} has values outside [0, 1]"
                );
            }
            let out = dir.path().join("x.png");
            obscura::encode::encode(&img, &frame.meta, &out, &Default::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    // 1x1 cannot be demosaiced: a clear error, no panic
    let e = finish(&frame_with(1, 1, |_, _| 0.5), &FinishParams::default()).unwrap_err();
    assert!(e.to_string().contains("active area"), "{e}");
}

#[test]
fn inputs_the_fuzzers_found_are_refused_cleanly() {
    // tests/data/fuzz/TARGET-what.EXT: each went wrong once (see the file list in the closing
    // notes); now each gives an error and no panic, within the fuzzers' memory limit
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let limits = obscura::raw::DecodeLimits {
        max_pixels: 64_000_000,
    };
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        match name.split('-').next().unwrap() {
            "raw_open" => {
                let r = RawFrame::from_bytes(bytes.clone(), &p, &limits);
                assert!(r.is_err(), "{name}");
            }
            "cube" => {
                let _ = obscura::look::Lut3d::parse_cube(&text, &p);
            }
            "hald" => {
                let _ = obscura::look::Lut3d::from_image_bytes(&bytes, &p);
            }
            "look_toml" => {
                let _ = obscura::look::Look::from_toml(&text, &p);
            }
            "manifest" => {
                let _ = obscura::batch::parse_manifest(&text, Path::new("base"), &p);
            }
            other => panic!("{name}: unknown target {other}"),
        }
        n += 1;
    }
    assert!(n >= 1);
}

#[test]
fn a_burst_too_big_for_memory_is_refused_before_decoding() {
    // eight frames declaring 30000 x 30000 (900 MP, under the raised pixel limit): streamed,
    // four at a time, about 58 GB
    let dir = tempfile::tempdir().unwrap();
    let good = burst(&dir.path().join("src"), 1, 48, 32, 4);
    let mut big = std::fs::read(&good[0]).unwrap();
    for tag in [256u16, 257] {
        let off = ifd0_value_offset(&big, tag);
        big[off..off + 4].copy_from_slice(&30_000u32.to_le_bytes());
    }
    let b = dir.path().join("big");
    std::fs::create_dir_all(&b).unwrap();
    for k in 0..8 {
        std::fs::write(b.join(format!("f{k}.dng")), &big).unwrap();
    }
    let avail = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024);
    if avail.is_none_or(|a| a > 57_000_000_000) {
        eprintln!("SKIPPED: this machine has more than 57 GB available (or no /proc/meminfo)");
        return;
    }
    let out = dir.path().join("x.jpg");
    let o = Command::new(bin())
        .arg("process")
        .args(["--max-pixels", "1000000000"])
        .arg(&b)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("need about 57.6 GB") && err.contains("available"),
        "{err}"
    );
    assert!(!out.exists());
}
