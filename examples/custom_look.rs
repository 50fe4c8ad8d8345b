//! Builds a look in code, loads another from TOML text, and runs the whole pipeline on a
//! burst in the first one with a progress printer of our own: a [`obscura::look::Look`]
//! struct literal (a faded tone curve, an HSV table that warms oranges and cools blues, a
//! vignette), [`obscura::look::Look::from_toml`], [`obscura::pipeline::Pipeline`] with
//! `.look(..)` and a custom [`obscura::pipeline::Progress`], the run's report as JSON, and
//! the look's colour baked to a `.cube` LUT next to the output for use in other tools.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example custom_look -- BURST_DIR OUTPUT.jpg
//! ```
//!
//! for example `cargo run --release --example custom_look -- samples/burst /tmp/custom.jpg`,
//! which also writes `/tmp/custom.cube`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use obscura::encode::Format;
use obscura::look::{HsvTable, Look, Vignette};
use obscura::pipeline::{Pipeline, Progress, Stage};

const USAGE: &str = "usage: cargo run --release --example custom_look -- BURST_DIR OUTPUT.jpg";

/// A second look, as a `.toml` file would hold it. Any field left out takes the `natural`
/// value; a misspelt field is an error rather than silently ignored.
const SOFT_FADE_TOML: &str = r#"
name = "soft fade"
description = "A gentle matte finish: lifted blacks, softened whites, a little less colour."
curve = [[0.0, 0.05], [0.5, 0.5], [1.0, 0.96]]
saturation = 0.9

[vignette]
strength = 0.3
"#;

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let [burst, output] = args.as_slice() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let (burst, output) = (PathBuf::from(burst), PathBuf::from(output));
    // The pipeline learns the format from the extension only when it encodes, after all the
    // work; checking it here makes a typo fail at once.
    Format::from_path(&output)?;

    // A look built in code. The fields left out (tone mapping, saturation, sharpening,
    // grain) keep the `natural` look's values.
    let look = Look {
        name: "warm fade".into(),
        description: "Faded blacks, warm oranges against cool blues, and a soft vignette.".into(),
        // [input, output] on display-encoded values (0 black, 1 white). Black comes up to
        // 0.06 and white down to 0.97: the matte, "faded print" look. Mid-grey stays put.
        curve: vec![
            [0.0, 0.06],
            [0.25, 0.27],
            [0.5, 0.5],
            [0.75, 0.75],
            [1.0, 0.97],
        ],
        table: Some(warm_orange_cool_blue()),
        // Corners 0.8 stops darker; the darkening starts 35 % of the way out from the centre.
        vignette: Vignette {
            strength: 0.8,
            radius: 0.35,
        },
        ..Look::default()
    };
    // Looks are checked when the pipeline starts, but checking here gives the error (a
    // value out of range, a curve going backwards) before any file is read.
    look.validate()?;

    // A look from TOML text (`Look::load` reads the same from a file; the path given here
    // only names the source in error messages).
    let soft = Look::from_toml(SOFT_FADE_TOML, Path::new("soft-fade.toml"))?;
    println!(
        "parsed look {:?} from TOML: {}",
        soft.name, soft.description
    );
    match Look::from_toml("saturaton = 1.2", Path::new("typo.toml")) {
        Ok(_) => println!("a misspelt field was accepted?"),
        Err(e) => println!("a misspelt field is refused: {e}"),
    }

    // The whole chain (decode, align, merge, finish in the look, encode) in one call, with
    // every other setting at its default.
    println!("processing {} in look {:?}", burst.display(), look.name);
    let pipeline = Pipeline::new().look(look.clone());
    let out = pipeline.run_with(&[burst], &output, &PrintProgress::default())?;

    // What happened, as JSON (the same report `obscura process --report` writes).
    println!("{}", serde_json::to_string_pretty(&out.report)?);

    // The look's colour part (curve and table) as a 65x65x65 LUT, for editors and video
    // tools. The vignette depends on where a pixel is, so no LUT can hold it.
    let cube = output.with_extension("cube");
    look.bake(65)?.save_cube(&cube)?;
    println!("wrote {} and {}", output.display(), cube.display());
    Ok(())
}

/// An HSV table in the DNG `ProfileLookTable` style: 12 hue divisions (every 30 degrees of
/// HSV hue on encoded sRGB: 0 red, 30 orange, 60 yellow, 120 green, 180 cyan, 240 blue,
/// 300 magenta) times 2 saturation divisions (grey, full colour). Each entry is
/// `[hue shift in degrees, saturation scale, value scale]`; colours in between are
/// interpolated.
fn warm_orange_cool_blue() -> HsvTable {
    // The grey end of every hue is left alone, so neutrals stay neutral and only colours
    // are pushed: warm hues toward a richer orange, blues toward a cooler teal. The curve's
    // lifted black costs dark colours some saturation; the scales above 1 win it back
    // where the look wants colour, so oranges end up a little richer than `natural`'s.
    const GREY: [f32; 3] = [0.0, 1.0, 1.0];
    let full_colour: [[f32; 3]; 12] = [
        [3.0, 1.4, 1.0],    //   0 red: toward orange
        [-2.0, 1.9, 1.06],  //  30 orange: redder, richer, a touch brighter
        [-5.0, 1.4, 1.0],   //  60 yellow: toward orange
        [0.0, 1.0, 1.0],    //  90
        [0.0, 0.95, 1.0],   // 120 green: a little muted
        [0.0, 1.0, 1.0],    // 150
        [0.0, 1.2, 1.0],    // 180 cyan
        [-5.0, 1.3, 0.97],  // 210 azure: toward cyan
        [-12.0, 1.4, 0.93], // 240 blue: toward teal, deeper
        [-8.0, 1.1, 1.0],   // 270 violet: toward blue
        [0.0, 1.0, 1.0],    // 300
        [2.0, 1.0, 1.0],    // 330 rose: toward red
    ];
    HsvTable {
        hue_divisions: 12,
        sat_divisions: 2,
        val_divisions: 1,
        // Saturation varies fastest: for each hue, its grey entry then its full-colour one.
        entries: full_colour.iter().flat_map(|&c| [GREY, c]).collect(),
    }
}

/// Prints one line per stage when it ends: its name, the steps it reported and its time.
/// `Progress` must be `Sync` because decoding reports from several threads at once, hence
/// the atomic counters rather than plain integers.
#[derive(Default)]
struct PrintProgress {
    steps: AtomicUsize,
    done: AtomicUsize,
}

impl Progress for PrintProgress {
    fn start(&self, _stage: Stage, steps: usize) {
        self.steps.store(steps, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    fn advance(&self, _stage: Stage) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    fn finish(&self, stage: Stage, seconds: f64) {
        println!(
            "  {:<6}  {}/{} steps  {:6.3} s",
            stage.name(),
            self.done.load(Ordering::Relaxed),
            self.steps.load(Ordering::Relaxed),
            seconds
        );
    }
}
