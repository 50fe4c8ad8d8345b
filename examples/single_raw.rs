//! Develops one RAW file into a JPEG, PNG or TIFF with the library, one stage at a time:
//! decode ([`obscura::RawFrame::open`]), finish in a look ([`obscura::finish::finish`]) and
//! encode ([`obscura::encode::encode`]). No burst, no alignment, no merge: this is the path
//! for a single frame (or for a DNG that `merge_to_dng` wrote).
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example single_raw -- INPUT.dng OUTPUT.jpg [LOOK]
//! ```
//!
//! `LOOK` is a built-in look (`natural`, the default, `authentic`, `vibrant`, `mono`) or the
//! path of a look `.toml` file. The output format follows the extension: `.jpg`, `.png` or
//! `.tif`.

use std::path::PathBuf;
use std::time::Instant;

use obscura::RawFrame;
use obscura::encode::{self, EncodeParams, Format};
use obscura::finish::{self, FinishParams};
use obscura::look::Look;

const USAGE: &str = "usage: cargo run --release --example single_raw -- INPUT.dng OUTPUT.jpg [LOOK]\n\
     LOOK: natural (default), authentic, vibrant, mono, or a look .toml file";

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
    // Two or three arguments after the program name; anything else is a usage error (exit 2).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let (input, output, look_name) = match args.as_slice() {
        [i, o] => (PathBuf::from(i), PathBuf::from(o), "natural"),
        [i, o, l] => (PathBuf::from(i), PathBuf::from(o), l.as_str()),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };

    // Check the cheap things first, so a typo fails before seconds of decoding: the output's
    // format comes from its extension, and the look must exist (and be valid, if a file).
    let format = Format::from_path(&output)?;
    let look = Look::resolve(look_name)?;

    // 1. Decode. The frame holds the Bayer mosaic as f32 (0 = black level, 1 = white level)
    //    and everything else about the file in `frame.meta`.
    let t = Instant::now();
    let frame = RawFrame::open(&input)?;
    println!(
        "decoded {} in {:.2} s",
        input.display(),
        t.elapsed().as_secs_f64()
    );
    print_facts(&frame);

    // 2. Finish: white balance, demosaic, colour, tone mapping, sharpening. `with_look` takes
    //    the look's tone-mapping and sharpening settings; every other setting stays at its
    //    default. Then the look stage: the look's colour, vignette and grain, compiled once.
    let t = Instant::now();
    let params = FinishParams::with_look(&look);
    let mut image = finish::finish(&frame, &params)?;
    let compiled = obscura::look::compile(&look)?;
    obscura::look::apply(&mut image.rgb, &compiled, image.orientation);
    println!(
        "finished in look {:?}: {}x{} {}, {:.2} s",
        look.name,
        image.width(),
        image.height(),
        image.space.name(),
        t.elapsed().as_secs_f64()
    );
    // Notes are not errors: things the finish stage skipped or guessed (an optional DNG
    // opcode it cannot apply, a missing colour calibration).
    for note in &image.notes {
        println!("  note: {note}");
    }

    // 3. Encode. EXIF (camera, exposure, capture time) comes from the frame's metadata; the
    //    file is written atomically, so a failure never leaves half a photo behind.
    let t = Instant::now();
    let encode_params = EncodeParams {
        format: Some(format),
        ..EncodeParams::default()
    };
    encode::encode(&image, &frame.meta, &output, &encode_params)?;
    println!(
        "wrote {} ({format:?}) in {:.2} s",
        output.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Prints what the file says about itself. Everything but make, model and geometry is
/// optional in a raw file, hence the `Option`s.
fn print_facts(frame: &RawFrame) {
    let m = &frame.meta;
    let camera = format!("{} {}", m.make, m.model);
    println!(
        "  camera:   {}",
        if camera.trim().is_empty() {
            "(not recorded)"
        } else {
            camera.trim()
        }
    );
    let (a, c) = (frame.active_area, frame.crop);
    println!(
        "  sensor:   {}x{} buffer, {}x{} active, {}x{} shown, CFA {}, {} bits, decoded by {:?}",
        frame.mosaic.width,
        frame.mosaic.height,
        a.width,
        a.height,
        c.width,
        c.height,
        frame.cfa,
        m.bits_per_sample,
        frame.decoder
    );
    if let Some(iso) = m.iso {
        println!("  ISO:      {iso}");
    }
    if let Some(t) = m.exposure_time {
        // Shutter speeds below a second read as fractions, the way cameras show them.
        if t > 0.0 && t < 1.0 {
            println!("  exposure: 1/{:.0} s", 1.0 / t);
        } else {
            println!("  exposure: {t} s");
        }
    }
    if let Some(f) = m.aperture {
        println!("  aperture: f/{f:.1}");
    }
    if let Some(mm) = m.focal_length {
        println!("  focal:    {mm} mm");
    }
    if let Some(when) = &m.capture_time {
        println!("  taken:    {when}");
    }
    let wb = frame.wb_multipliers();
    println!(
        "  as shot:  white balance R x{:.2}, B x{:.2}; noise profile {}",
        wb[0],
        wb[2],
        if m.noise_profile.is_empty() {
            "absent"
        } else {
            "present"
        }
    );
}
