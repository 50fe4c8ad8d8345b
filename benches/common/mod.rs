//! Inputs shared by the benches: the reference burst on disk and the target folder.
//!
//! The reference burst is 8 frames of 4000x3000 (12 MP), 12-bit RGGB, made by `synth` with
//! `motion: 16.0` and every other parameter at its default: exactly what
//! `obscura synth --frames 8 --width 4000 --height 3000 --motion 16 -o DIR` writes. It lives in
//! `<target>/bench-burst/8x12MP/`, where `scripts/bench-vs-dcraw.sh` makes and finds it too,
//! so the benches and the script time the same files. Rendering it takes about 20 s on two
//! cores, so it is made once and reused.
//!
//! # Implementation notes
//! The folder counts as complete when its marker file [`MARKER`] holds [`marker_text`] for
//! the burst's size and every `frame_NN.dng` is there. The marker is removed before and
//! written after the frames, so a run killed half-way leaves no marker and the next run
//! renders the burst again. The script writes the same marker with the same text.

// each bench uses a part of this module
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use obscura::synth::{SynthParams, synthesize};

/// Width of the reference frames in pixels.
pub const WIDTH: usize = 4000;
/// Height of the reference frames in pixels.
pub const HEIGHT: usize = 3000;
/// Frames in the reference burst.
pub const FRAMES: usize = 8;
/// Photosites per reference frame (12 MP).
pub const FRAME_PIXELS: u64 = (WIDTH * HEIGHT) as u64;
/// The marker file written last into a complete burst folder.
pub const MARKER: &str = ".complete";

/// A burst on disk.
pub struct BurstDir {
    /// The folder: pass it to `Pipeline::run` as the burst.
    pub dir: PathBuf,
    /// The frame files, frame 0 (the reference) first.
    pub frames: Vec<PathBuf>,
}

/// The cargo target folder: `$CARGO_TARGET_DIR`, else `target/` in the package.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// What the marker of a complete burst of `frames` frames says; the script writes the same.
pub fn marker_text(frames: usize) -> String {
    format!("synth --frames {frames} --width {WIDTH} --height {HEIGHT} --motion 16\n")
}

/// The file name `synth` gives frame `k` of a burst of fewer than 100 frames.
fn frame_name(k: usize) -> String {
    format!("frame_{k:02}.dng")
}

/// The reference burst (8 frames of 12 MP), rendered into `<target>/bench-burst/8x12MP/`
/// the first time and reused afterwards.
pub fn reference_burst() -> BurstDir {
    let dir = target_dir()
        .join("bench-burst")
        .join(format!("{FRAMES}x12MP"));
    let frames: Vec<PathBuf> = (0..FRAMES).map(|k| dir.join(frame_name(k))).collect();
    if !is_complete(&dir, &frames) {
        render(&dir, &frames);
    }
    BurstDir { dir, frames }
}

/// Whether `dir` holds a whole burst: the right marker and every frame.
fn is_complete(dir: &Path, frames: &[PathBuf]) -> bool {
    std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == marker_text(frames.len()))
        && frames.iter().all(|f| f.is_file())
}

/// Renders the burst into `dir`, then writes the marker.
fn render(dir: &Path, frames: &[PathBuf]) {
    let marker = dir.join(MARKER);
    match std::fs::remove_file(&marker) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot remove {}: {e}", marker.display()),
    }
    eprintln!(
        "rendering the reference burst ({} frames of {WIDTH}x{HEIGHT}) into {}, once (about 20 s on 2 cores)",
        frames.len(),
        dir.display()
    );
    let burst = synthesize(&SynthParams {
        frames: frames.len(),
        width: WIDTH,
        height: HEIGHT,
        motion: 16.0,
        ..SynthParams::default()
    })
    .expect("synthesize the reference burst");
    let written = burst.write(dir).expect("write the reference burst");
    assert_eq!(
        written, frames,
        "synth names its frames differently from what the benches expect"
    );
    std::fs::write(&marker, marker_text(frames.len()))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
}
