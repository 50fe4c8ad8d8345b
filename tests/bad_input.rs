//! Bad input gives a clear error naming the file, never a panic, and leaves inputs untouched.

mod common;

use common::{ifd0_value_offset, write_dngs};

use std::path::{Path, PathBuf};

use obscura::synth::SynthParams;
use obscura::{Burst, Error, RawFrame};

fn small_burst(dir: &Path, frames: usize, width: usize, height: usize) -> Vec<PathBuf> {
    let p = SynthParams {
        frames,
        width,
        height,
        ..SynthParams::default()
    };
    write_dngs(dir, &p)
}

fn assert_names(e: &Error, p: &Path, what: &str) {
    let msg = e.to_string();
    assert!(
        msg.contains(&*p.to_string_lossy()),
        "message does not name {}: {msg}",
        p.display()
    );
    assert!(
        msg.to_lowercase().contains(what),
        "message does not say {what:?}: {msg}"
    );
}

#[test]
fn zero_byte_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.dng");
    std::fs::write(&p, b"").unwrap();
    assert_names(&RawFrame::open(&p).unwrap_err(), &p, "empty");
}

#[test]
fn text_file_renamed_dng() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.dng");
    std::fs::write(
        &p,
        "shopping list: eggs, milk, a better camera\n".repeat(20),
    )
    .unwrap();
    assert_names(
        &RawFrame::open(&p).unwrap_err(),
        &p,
        "not a raw format obscura reads",
    );
}

#[test]
fn truncated_dng_at_many_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let frames = small_burst(dir.path(), 1, 64, 48);
    let bytes = std::fs::read(&frames[0]).unwrap();
    for k in 1..12 {
        let cut = bytes.len() * k / 12;
        let p = dir.path().join(format!("cut_{k}.dng"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        match RawFrame::open(&p) {
            Err(e) => assert!(e.to_string().contains(&*p.to_string_lossy()), "{e}"),
            Ok(_) => panic!("a DNG cut to {cut} of {} bytes decoded", bytes.len()),
        }
    }
}

#[test]
fn truncated_crw() {
    let Some(src) = common::shared_raw("canon_powershot_g2.crw") else {
        return;
    };
    let bytes = std::fs::read(&src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for frac in [0.001, 0.01, 0.3, 0.6] {
        let p = dir.path().join("g2_cut.crw");
        std::fs::write(&p, &bytes[..(bytes.len() as f64 * frac) as usize]).unwrap();
        let e = RawFrame::open(&p).expect_err("a truncated CRW decoded");
        assert_names(&e, &p, "corrupt or truncated");
    }
}

#[test]
fn missing_path_and_directory_as_file() {
    let p = PathBuf::from("/nonexistent/obscura/frame.dng");
    assert_names(&RawFrame::open(&p).unwrap_err(), &p, "no such file");
    let dir = tempfile::tempdir().unwrap();
    assert_names(
        &RawFrame::open(dir.path()).unwrap_err(),
        dir.path(),
        "directory",
    );
}

#[test]
fn directory_without_raws() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readme.txt"), "no raws here").unwrap();
    let e = Burst::open(&[dir.path().to_path_buf()]).unwrap_err();
    assert_names(&e, dir.path(), "no raw files");
}

#[test]
fn frames_of_different_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let a = small_burst(&dir.path().join("a"), 2, 64, 48);
    let b = small_burst(&dir.path().join("b"), 1, 80, 48);
    let e = Burst::open(&[a[0].clone(), a[1].clone(), b[0].clone()]).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Mismatch { .. }), "{msg}");
    assert!(
        msg.contains(&*b[0].to_string_lossy()) && msg.contains("64x48 vs 80x48"),
        "{msg}"
    );
}

#[test]
fn frames_of_different_cameras_and_levels() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_burst(dir.path(), 2, 64, 48);
    let mut other = RawFrame::open(&files[1]).unwrap();
    other.meta.model = "another camera".into();
    let odd = dir.path().join("odd_camera.dng");
    obscura::raw::write_dng(&other, &odd).unwrap();
    let e = Burst::open(&[files[0].clone(), odd.clone()]).unwrap_err();
    assert_names(&e, &odd, "camera");

    let mut other = RawFrame::open(&files[1]).unwrap();
    other.white = 1023.0;
    other.mosaic.data.iter_mut().for_each(|v| *v = v.min(1.0));
    let odd = dir.path().join("odd_white.dng");
    obscura::raw::write_dng(&other, &odd).unwrap();
    let e = Burst::open(&[files[0].clone(), odd.clone()]).unwrap_err();
    assert_names(&e, &odd, "white level");
}

#[test]
fn unsupported_sensor_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_burst(dir.path(), 1, 64, 48);
    let bytes = std::fs::read(&files[0]).unwrap();

    // X-Trans-like 6x6 CFA repeat
    let mut x = bytes.clone();
    let off = ifd0_value_offset(&x, 33421);
    x[off..off + 4].copy_from_slice(&[6, 0, 6, 0]);
    let p = dir.path().join("xtrans.dng");
    std::fs::write(&p, &x).unwrap();
    let e = RawFrame::open(&p).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert_names(&e, &p, "x-trans");

    // LinearRaw (already demosaiced) photometric interpretation
    let mut l = bytes.clone();
    let off = ifd0_value_offset(&l, 262);
    l[off..off + 2].copy_from_slice(&34892u16.to_le_bytes());
    let p = dir.path().join("linear.dng");
    std::fs::write(&p, &l).unwrap();
    let e = RawFrame::open(&p).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert_names(&e, &p, "linearraw");

    // Absurd dimensions are refused before anything is allocated
    let mut big = bytes;
    for tag in [256u16, 257] {
        let off = ifd0_value_offset(&big, tag);
        big[off..off + 4].copy_from_slice(&100_000u32.to_le_bytes());
    }
    let p = dir.path().join("huge.dng");
    std::fs::write(&p, &big).unwrap();
    let e = RawFrame::open(&p).unwrap_err();
    assert_names(&e, &p, "beyond the limit");
}

#[test]
fn decoding_leaves_inputs_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_burst(dir.path(), 2, 64, 48);
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    Burst::open(&[dir.path().to_path_buf()]).unwrap();
    let after: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(before, after);
}
