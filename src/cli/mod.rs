//! The `obscura` command line: thin wrappers over the library, one file per command.
//!
//! | file | command |
//! |---|---|
//! | `info.rs` | `obscura info`: metadata of raw files |
//! | `align.rs` | `obscura align`: displacement fields |
//! | `merge.rs` | `obscura merge`: a burst to a merged DNG |
//! | `develop.rs` | `obscura develop`: one raw file to an image |
//! | `process.rs` | `obscura process`: a burst to an image (the [`obscura::pipeline`]) |
//! | `batch.rs` | `obscura process --batch / --manifest`: many bursts, resumable, sharded |
//! | `synth.rs` | `obscura synth`: synthetic bursts and charts |
//! | `look.rs` | `obscura look list / export` |
//! | `args.rs` | options several commands share: [`args::BurstArgs`], merge and finish options |
//! | `values.rs` | the enumerated option values (`--merge`, `--tone`, ...) as clap value enums |
//! | `progress.rs` | progress bars, Ctrl-C |
//!
//! Exit codes follow whose fault an error is ([`obscura::Error::exit_code`]): 0 success, 1
//! processing error (a file that cannot be read, decoded or written; the message names it),
//! 2 usage error (unknown option or a parameter out of range; the message names the option),
//! 130 interrupted. The library names struct fields in its parameter errors; [`flag_error`]
//! puts the option's name in their place.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use obscura::Error;
use obscura::diagnostics::{DebugParams, Diagnostics};
use obscura::error::Result;
use obscura::raw::RawFrame;

mod align;
mod args;
mod batch;
mod develop;
mod info;
mod look;
mod merge;
mod process;
mod progress;
mod synth;
mod values;

/// The `--max-pixels` limit, set once at start.
static LIMITS: std::sync::OnceLock<obscura::raw::DecodeLimits> = std::sync::OnceLock::new();

/// The decoding limits the command line asked for.
fn limits() -> obscura::raw::DecodeLimits {
    LIMITS.get().copied().unwrap_or_default()
}

/// Prints a line to stdout, ignoring a closed pipe (`obscura info ... | head`).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}
pub(crate) use say;

/// obscura: burst photography from RAW files.
#[derive(Debug, Parser)]
#[command(
    name = "obscura",
    version,
    about = "obscura: a computational photography pipeline for RAW bursts",
    long_about = "obscura turns a handheld burst of RAW frames into one image with less noise and \
more dynamic range than any single frame.\n\nExit codes: 0 success, 1 processing error (a file \
could not be read or written; the message names it; in a batch, a burst failed), 2 usage \
error (unknown option, parameter out of range), 130 interrupted (Ctrl-C: the current step \
finishes, nothing half-written is left; a batch rerun resumes)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print more: the run's report (stage times, frames, reference, noise, displacements).
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Print only errors: no progress bars, no summaries.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    /// Refuse raw files that declare more photosites than this (checked before decoding).
    #[arg(long, global = true, value_name = "N", default_value_t = 400_000_000)]
    max_pixels: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print each RAW file's metadata: camera, size, CFA, levels, white balance, colour
    /// matrices, noise profile, lens-shading opcodes, exposure.
    Info(info::InfoArgs),
    /// Align every frame of a burst to its reference (HDR+ tile alignment with sub-pixel
    /// refinement) and print each frame's median displacement, or the whole field as JSON.
    Align(align::AlignArgs),
    /// Align and merge a burst into one raw frame with far less noise, written as a 16-bit
    /// DNG that raw developers open.
    Merge(merge::MergeArgs),
    /// Make a synthetic burst with ground truth: DNG frames of a scene moved by simulated hand
    /// shake, with Poisson-Gaussian noise, plus the clean reference and the true motion.
    /// With --chart, a 24-patch colour chart DNG instead.
    Synth(synth::SynthArgs),
    /// Develop one RAW file into a JPEG, PNG or 16-bit TIFF: lens shading, white balance,
    /// highlights, demosaic, colour, exposure, tone mapping, sharpening, EXIF and ICC.
    Develop(develop::DevelopArgs),
    /// The whole chain on a burst: decode, align, merge, finish and encode one image.
    Process(Box<process::ProcessArgs>),
    /// Looks: list the built-in ones, or bake one's colour into a .cube LUT for other tools.
    #[command(subcommand)]
    Look(look::LookCommand),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let e = flag_error(e);
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The library's parameter names (struct fields, as [`Error::Parameter`] gives them) and the
/// options that set them.
const FLAGS: &[(&str, &str)] = &[
    ("exposure", "--exposure"),
    ("white_balance", "--wb"),
    ("white_balance temperature", "--wb-temp"),
    ("colour space", "--colorspace"),
    ("tone", "--tone"),
    ("tone strength", "--tone-strength"),
    ("highlights", "--highlights"),
    ("demosaic", "--demosaic"),
    ("look", "--look"),
    ("sharpen amount", "--sharpen"),
    ("format", "--format"),
    ("quality", "--quality"),
    ("hdr", "--hdr"),
    ("headroom", "--hdr-headroom"),
    ("LUT strength", "--lut-strength"),
    ("LUT size", "--size"),
    ("reference", "--reference"),
    ("frames", "--frames"),
    ("merge method", "--merge"),
    ("scale", "--scale"),
    ("spatial_denoise", "--denoise"),
    ("dir", "--debug"),
    ("shard", "--shard"),
    ("width", "--width"),
    ("height", "--height"),
    ("motion", "--motion"),
    ("rotate", "--rotate"),
    ("moving", "--moving"),
    ("shot", "--shot"),
    ("read", "--read"),
    ("truth_scale", "--truth-scale"),
    ("black", "--black"),
    ("white", "--white"),
    ("bracket", "--bracket"),
];

/// The option that sets the library parameter `name`, if one does.
fn flag_for(name: &str) -> Option<&'static str> {
    FLAGS.iter().find(|(f, _)| *f == name).map(|&(_, o)| o)
}

/// A parameter error with the option's name in place of the field's (other errors as they
/// are): the user typed `--exposure`, not `FinishParams::exposure`.
fn flag_error(e: Error) -> Error {
    match e {
        Error::Parameter { name, reason } => match flag_for(&name) {
            Some(flag) => Error::Parameter {
                name: flag.to_string(),
                reason,
            },
            None => Error::Parameter { name, reason },
        },
        e => e,
    }
}

/// A parameter error renamed to `flag` where the field alone does not tell which option set
/// it (`white_balance` from `--wb` or `--wb-temp`).
fn as_flag(flag: &'static str) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Parameter { reason, .. } => Error::Parameter {
            name: flag.to_string(),
            reason,
        },
        e => e,
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Some(n) = cli.threads {
        if !(1..=1024).contains(&n) {
            return Err(Error::parameter(
                "--threads",
                format!("{n}: must be 1 to 1024"),
            ));
        }
        // fails only if a pool exists already, which cannot happen this early
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    if cli.max_pixels == 0 {
        return Err(Error::parameter("--max-pixels", "0: must be at least 1"));
    }
    let _ = LIMITS.set(obscura::raw::DecodeLimits {
        max_pixels: cli.max_pixels,
    });
    let talk = progress::Talk {
        verbose: cli.verbose,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Info(a) => info::info(a),
        Command::Synth(a) => synth::synth(a, talk.quiet),
        Command::Align(a) => align::align(a),
        Command::Merge(a) => {
            progress::catch_interrupts();
            merge::merge(a, talk)
        }
        Command::Develop(a) => {
            progress::catch_interrupts();
            develop::develop(a, talk)
        }
        Command::Process(a) => {
            progress::catch_interrupts();
            process::process(*a, talk)
        }
        Command::Look(c) => look::look(c),
    }
}

/// Starts the diagnostics `--debug` asks for (the folder is checked before any work).
fn start_debug(dir: Option<&PathBuf>) -> Result<Option<Diagnostics>> {
    dir.map(|d| Diagnostics::start(&DebugParams::new(d)))
        .transpose()
}

/// Hands a loaded burst's files, reference candidates and reference to the diagnostics.
fn debug_reference(
    d: &mut Diagnostics,
    burst: &obscura::Burst,
    reference: usize,
    forced: bool,
) -> Result<()> {
    let files: Vec<PathBuf> = burst.frames.iter().map(|f| f.path.clone()).collect();
    d.files(&files);
    let candidates: Vec<usize> = if forced {
        vec![reference]
    } else {
        (0..burst.frames.len().min(3)).collect()
    };
    let frames: Vec<&RawFrame> = candidates.iter().map(|&k| &burst.frames[k]).collect();
    d.candidates(&candidates, &frames, forced);
    d.reference(reference, &burst.frames[reference])
}

/// The figures the diagnostics page shows for `align` and `merge`.
#[derive(Debug, Serialize)]
struct DebugFigures {
    command: &'static str,
    frames_used: usize,
    reference_index: usize,
    reference: PathBuf,
    rejected_fraction: Option<f32>,
    effective_frames: Option<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_errors_name_the_option() {
        let e = flag_error(Error::parameter(
            "exposure",
            "99: must be between -10 and 10 EV",
        ));
        assert!(e.to_string().contains("--exposure"), "{e}");
        // a name the table does not know stays as it is
        let e = flag_error(Error::parameter("tile_size", "7"));
        assert!(e.to_string().contains("tile_size"), "{e}");
        // the table's options exist
        use clap::CommandFactory;
        let cmd = Cli::command();
        let mut longs: Vec<String> = Vec::new();
        let mut stack = vec![&cmd];
        while let Some(c) = stack.pop() {
            longs.extend(
                c.get_arguments()
                    .filter_map(|a| a.get_long())
                    .map(|l| format!("--{l}")),
            );
            stack.extend(c.get_subcommands());
        }
        for (_, flag) in FLAGS {
            assert!(longs.iter().any(|l| l == flag), "{flag} is no option");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
