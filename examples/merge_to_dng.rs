//! Merges a burst of RAW frames into one cleaner raw and saves it as a DNG, showing the three
//! burst stages one call at a time: open ([`obscura::Burst::open`]), align
//! ([`obscura::align::align`]) and merge ([`obscura::merge::merge`]), then
//! [`obscura::raw::write_dng`]. The DNG is still a raw (a Bayer mosaic, not an image): develop
//! it with the `single_raw` example, `obscura`, or any raw editor.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example merge_to_dng -- BURST_DIR_OR_FILES... -o merged.dng
//! ```
//!
//! for example `cargo run --release --example merge_to_dng -- samples/burst -o /tmp/merged.dng`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use obscura::Burst;
use obscura::align::{self, AlignParams};
use obscura::merge::{self, MergeParams};

const USAGE: &str =
    "usage: cargo run --release --example merge_to_dng -- BURST_DIR_OR_FILES... -o merged.dng";

fn main() -> std::process::ExitCode {
    // errors are shown with their message (Display), which names the file and the problem
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (inputs, output) = parse_args();

    // 1. Open: decode every frame (in parallel), sort by capture time and check that the
    //    frames can be merged (same size, CFA, levels and camera).
    let t = Instant::now();
    let burst = Burst::open(&inputs)?;
    // `open` refuses an empty burst, so there is always a first frame to describe.
    println!(
        "opened {} frames of {}x{} in {:.2} s",
        burst.frames.len(),
        burst.frames[0].mosaic.width,
        burst.frames[0].mosaic.height,
        t.elapsed().as_secs_f64()
    );

    // 2. Align: pick a reference (the sharpest of the first three frames) and find, tile by
    //    tile, where each of the other frames has moved relative to it.
    let t = Instant::now();
    let alignment = align::align(&burst, &AlignParams::default())?;
    println!("aligned in {:.2} s", t.elapsed().as_secs_f64());
    println!("  frame                 median shift (px)   unreliable tiles");
    for (k, (frame, al)) in burst.frames.iter().zip(&alignment.frames).enumerate() {
        let name = frame.path.file_name().map_or_else(
            || frame.path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        if k == alignment.reference {
            println!("  {name:<20}  (reference)");
            continue;
        }
        // One displacement per tile; the median is the frame's overall hand shake.
        let [dx, dy] = al.median();
        // Tiles whose best match is still poor (something moved on its own, or an
        // occlusion): the merge will lean on the reference there.
        let share = al.unreliable_fraction();
        println!(
            "  {name:<20}  {dx:+7.2} {dy:+7.2}     {:5.1} %",
            share * 100.0
        );
    }

    // 3. Merge: every alternate frame is resampled onto the reference and averaged in, tile
    //    by tile, with less weight where it disagrees with the reference (robust merge).
    let t = Instant::now();
    let merged = merge::merge(&burst, &alignment, &MergeParams::default())?;
    println!(
        "merged {} frames in {:.2} s: noise as if {:.1} frames were averaged, {:.1} % of tiles \
         kept from the reference",
        merged.frames,
        t.elapsed().as_secs_f64(),
        merged.effective_frames,
        merged.rejected_fraction * 100.0
    );

    // 4. Write: a 16-bit DNG with the reference's metadata (camera, colour matrices, crop).
    obscura::raw::write_dng(&merged.frame, &output)?;
    let bytes = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    println!("wrote {} ({:.1} MB)", output.display(), bytes as f64 / 1e6);
    Ok(())
}

/// The inputs and the `-o` path, parsed by hand; prints the usage and exits with code 2 on
/// anything unexpected (code 0 for `-h` / `--help`).
fn parse_args() -> (Vec<PathBuf>, PathBuf) {
    let mut inputs = Vec::new();
    let mut output = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "-o" | "--output" => match args.next() {
                Some(path) if output.is_none() => output = Some(PathBuf::from(path)),
                Some(_) => usage_error("-o given twice"),
                None => usage_error("-o needs a path"),
            },
            flag if flag.starts_with('-') && flag.len() > 1 => {
                usage_error(&format!("unknown option {flag}"))
            }
            _ => inputs.push(PathBuf::from(arg)),
        }
    }
    let Some(output) = output else {
        usage_error("missing -o OUTPUT.dng")
    };
    if inputs.is_empty() {
        usage_error("no burst given (a directory of raw files, or the files)");
    }
    if !is_dng(&output) {
        usage_error(&format!(
            "{}: the output must end in .dng",
            output.display()
        ));
    }
    (inputs, output)
}

/// Whether `path` ends in `.dng` (any case).
fn is_dng(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dng"))
}

/// Prints what was wrong and the usage, and exits with code 2.
fn usage_error(what: &str) -> ! {
    eprintln!("error: {what}\n{USAGE}");
    std::process::exit(2);
}
