//! `obscura process`: a burst through the whole [`Pipeline`], with progress bars, a summary
//! and the JSON report; `--batch` and `--manifest` hand over to `batch.rs`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use obscura::error::{Error, Result};
use obscura::pipeline::{Output, Pipeline, Report, check_output};

use super::args::{BurstArgs, FinishArgs, MergeOptions};
use super::progress::{Bars, Talk};

#[derive(Debug, Args)]
pub(crate) struct ProcessArgs {
    /// The burst: a directory of RAW files, or the files themselves (one file: no merge).
    #[arg(required_unless_present_any = ["batch", "manifest"], conflicts_with_all = ["batch", "manifest"])]
    pub burst: Vec<PathBuf>,
    /// Output image (.jpg, .png, .tif, or .exr for scene-referred linear HDR); with --batch or --manifest, the output folder
    /// (created if missing), which receives one BURST_NAME.jpg (or --format) per burst.
    #[arg(long, short)]
    pub output: PathBuf,
    #[command(flatten)]
    pub common: BurstArgs,
    #[command(flatten)]
    method: MergeOptions,
    /// Also write the merged raw as a 16-bit DNG (LinearRaw for --merge kernel).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["batch", "manifest"])]
    pub dng: Option<PathBuf>,
    /// Write the run's report as JSON: stage times, frames, reference, noise, per-frame
    /// displacement and unreliable tiles, peak memory (a batch writes one object with every
    /// burst's report, the failures and the skipped).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Batch: each sub-directory of DIR is one burst.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["manifest", "debug"])]
    pub batch: Option<PathBuf>,
    /// Batch: one burst per line (a directory, or raw files separated by tabs; # comments).
    #[arg(long, value_name = "FILE", conflicts_with = "debug")]
    pub manifest: Option<PathBuf>,
    /// Batch: process only the I-th of N deterministic shares (e.g. a Slurm array task).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Batch: redo bursts whose output exists (by default they are skipped, so a killed run
    /// resumes where it stopped).
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub finish: FinishArgs,
}

/// The pipeline the options describe.
pub(crate) fn pipeline(f: &FinishArgs, a: Option<&ProcessArgs>) -> Result<Pipeline> {
    let (fp, look, ep) = f.params()?;
    let mut p = Pipeline {
        finish: fp,
        look,
        encode: ep,
        lut: f.lut()?,
        limits: super::limits(),
        hdr: f.hdr()?,
        ..Pipeline::default()
    };
    if let Some(a) = a {
        p.align.reference = a.common.reference;
        p.merge = a.method.params()?;
        p.max_frames = a.common.frames;
        p.dng = a.dng.clone();
        p.debug = a
            .common
            .debug
            .clone()
            .map(obscura::diagnostics::DebugParams::new);
    }
    p.validate()?;
    Ok(p)
}

/// One line per run for the user, and the report when verbose.
pub(crate) fn summary(out: &Output, talk: Talk, bars: &Bars) {
    for n in &out.report.notes {
        bars.line(&format!("note: {}: {n}", out.report.reference.display()));
    }
    if talk.quiet {
        return;
    }
    let r = &out.report;
    let c = &out.image.color;
    let merged = if r.frames_used > 1 {
        format!(
            "{} frames merged (noise as by {:.1}), ",
            r.frames_used, r.effective_frames
        )
    } else {
        String::new()
    };
    bars.line(&format!(
        "wrote {} ({}x{}, {merged}white {:.0} K tint {:+.0}, {}, look {}, {:.2} s)",
        r.output.display(),
        r.size[0],
        r.size[1],
        c.temperature,
        c.tint,
        out.image.space.name(),
        r.look,
        r.seconds.total
    ));
    if let Some(h) = &r.hdr {
        let what = match (h.gain_map_size, h.headroom_stops) {
            (Some([w, hh]), Some(room)) => format!(
                "Ultra HDR gain map {w}x{hh}, boost up to {:.2} stops (headroom {room} stops)",
                h.capacity_stops
            ),
            _ => format!(
                "OpenEXR scene-referred linear, brightest {:.2} stops above SDR white",
                h.capacity_stops
            ),
        };
        bars.line(&format!("  hdr: {what}"));
    }
    if talk.verbose {
        bars.line(&verbose_report(r));
    }
}

/// The report as text.
fn verbose_report(r: &Report) -> String {
    let s = &r.seconds;
    let mut t = format!(
        "  time: decode {:.3} s, align {:.3} s, merge {:.3} s, finish {:.3} s, encode {:.3} s, \
         total {:.3} s\n  frames: {} used of {}, reference {} ({}), rejected tiles {:.1}%\n",
        s.decode,
        s.align,
        s.merge,
        s.finish,
        s.encode,
        s.total,
        r.frames_used,
        r.frames_found,
        r.reference_index,
        r.reference.display(),
        100.0 * r.rejected_fraction
    );
    let n = &r.noise.channels[1];
    t += &format!(
        "  noise (green, {:?}): variance = {:.3e} * signal + {:.3e}\n",
        r.noise.source, n.scale, n.offset
    );
    for f in &r.frames {
        t += &format!(
            "  {}: median shift ({:+.2}, {:+.2}) px, unreliable tiles {:.1}%\n",
            f.file.display(),
            f.median_displacement[0],
            f.median_displacement[1],
            100.0 * f.unreliable_fraction
        );
    }
    if let Some(m) = r.peak_memory_bytes {
        t += &format!("  peak memory: {:.0} MB", m as f64 / 1e6);
    }
    t.trim_end().to_string()
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    obscura::encode::write_bytes_atomic(path, text.as_bytes())
}

/// `obscura process BURST... -o OUT`, or a batch.
pub(crate) fn process(a: ProcessArgs, talk: Talk) -> Result<()> {
    let p = pipeline(&a.finish, Some(&a))?;
    if let Some(r) = &a.report {
        check_output(r, None)?;
    }
    if a.batch.is_some() || a.manifest.is_some() {
        return super::batch::process_batch(&a, &p, talk);
    }
    if a.shard.is_some() || a.overwrite {
        return Err(Error::parameter(
            "--shard/--overwrite",
            "only for a batch (--batch DIR or --manifest FILE)",
        ));
    }
    check_output(&a.output, Some(&p.encode))?;
    if let Some(d) = &a.dng {
        check_output(d, None)?;
    }
    let bars = Bars::new(talk.bars());
    let out = p.run_with(&a.burst, &a.output, &bars)?;
    summary(&out, talk, &bars);
    if let (Some(d), false) = (&a.common.debug, talk.quiet) {
        bars.line(&format!("diagnostics: {}", d.join("index.html").display()));
    }
    if let Some(r) = &a.report {
        write_json(r, &out.report)?;
    }
    Ok(())
}
