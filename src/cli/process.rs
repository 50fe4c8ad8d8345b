//! `obscura develop` and `obscura process` (one burst, or a batch): the [`Pipeline`] with
//! progress bars, summaries and reports.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::{DevelopArgs, FinishArgs, ProcessArgs};
use crate::batch::{self, Shard};
use crate::error::{Error, Result};
use crate::pipeline::{Output, Pipeline, Progress, Report, Stage, check_output};

/// Set by the first Ctrl-C (SIGINT or SIGTERM): runs stop between stages, batches between
/// bursts.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler: the first signal asks the run to stop at the next stage
/// boundary (so every file written is complete), a second one exits at once.
pub(super) fn catch_interrupts() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("interrupted: stopping after the current step (Ctrl-C again to quit now)");
    });
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// How much the command prints (stderr).
#[derive(Debug, Clone, Copy)]
pub(super) struct Talk {
    /// Print each run's report.
    pub verbose: bool,
    /// Print only errors.
    pub quiet: bool,
}

impl Talk {
    /// Progress bars only on a terminal, and not when quiet.
    fn bars(self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }
}

/// Progress bars on stderr: one per stage, under an optional batch bar.
struct Bars {
    multi: MultiProgress,
    stages: Mutex<HashMap<Stage, ProgressBar>>,
}

impl Bars {
    fn new(visible: bool) -> Bars {
        let multi = MultiProgress::new();
        if !visible {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        Bars {
            multi,
            stages: Mutex::new(HashMap::new()),
        }
    }

    /// Prints a line above the bars (or plainly when they are hidden).
    fn line(&self, text: &str) {
        if self.multi.is_hidden() {
            eprintln!("{text}");
        } else {
            let _ = self.multi.println(text);
        }
    }

    fn batch_bar(&self, n: usize) -> ProgressBar {
        let b = self.multi.add(ProgressBar::new(n as u64));
        b.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} bursts {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix("batch");
        b
    }
}

impl Progress for Bars {
    fn start(&self, stage: Stage, steps: usize) {
        let b = self.multi.add(ProgressBar::new(steps as u64));
        b.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix(stage.name());
        if let Ok(mut m) = self.stages.lock()
            && let Some(old) = m.insert(stage, b)
        {
            old.finish_and_clear();
        }
    }

    fn advance(&self, stage: Stage) {
        if let Ok(m) = self.stages.lock()
            && let Some(b) = m.get(&stage)
        {
            b.inc(1);
        }
    }

    fn cancelled(&self) -> bool {
        interrupted()
    }

    fn finish(&self, stage: Stage, _seconds: f64) {
        if let Ok(mut m) = self.stages.lock()
            && let Some(b) = m.remove(&stage)
        {
            b.finish_and_clear();
            self.multi.remove(&b);
        }
    }
}

/// The pipeline the options describe.
fn pipeline(f: &FinishArgs, a: Option<&ProcessArgs>) -> Result<Pipeline> {
    let (fp, ep) = f.params()?;
    let mut p = Pipeline {
        finish: fp,
        encode: ep,
        lut: f.lut()?,
        limits: super::limits(),
        hdr: f.hdr()?,
        ..Pipeline::default()
    };
    if let Some(a) = a {
        p.align.reference = a.reference;
        p.merge = super::merge_params(&a.method, a.scale)?;
        p.max_frames = a.frames;
        p.dng = a.dng.clone();
        p.debug = a.debug.clone().map(crate::diagnostics::DebugParams::new);
    }
    p.validate()?;
    Ok(p)
}

/// One line per run for the user, and the report when verbose.
fn summary(out: &Output, talk: Talk, bars: &Bars) {
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
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    crate::io::write_bytes_atomic(path, text.as_bytes())
}

/// `obscura develop FILE -o OUT`.
pub(super) fn develop(a: DevelopArgs, talk: Talk) -> Result<()> {
    let p = pipeline(&a.finish, None)?;
    check_output(&a.output, Some(&p.encode))?;
    let bars = Bars::new(talk.bars());
    let out = p.run_with(std::slice::from_ref(&a.file), &a.output, &bars)?;
    summary(&out, talk, &bars);
    Ok(())
}

/// `obscura process BURST... -o OUT`, or a batch.
pub(super) fn process(a: ProcessArgs, talk: Talk) -> Result<()> {
    let p = pipeline(&a.finish, Some(&a))?;
    if let Some(r) = &a.report {
        check_output(r, None)?;
    }
    if a.batch.is_some() || a.manifest.is_some() {
        return process_batch(&a, &p, talk);
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
    if let (Some(d), false) = (&a.debug, talk.quiet) {
        bars.line(&format!("diagnostics: {}", d.join("index.html").display()));
    }
    if let Some(r) = &a.report {
        write_json(r, &out.report)?;
    }
    Ok(())
}

/// One failed burst of a batch.
#[derive(Debug, Serialize)]
struct Failure {
    burst: String,
    error: String,
}

/// What `--report` holds for a batch.
#[derive(Debug, Serialize)]
struct BatchReport {
    processed: Vec<Report>,
    skipped: Vec<PathBuf>,
    /// Outputs another run was writing when this one reached them (concurrent runs over one
    /// folder; see `batch::claim`).
    elsewhere: Vec<PathBuf>,
    failed: Vec<Failure>,
}

fn process_batch(a: &ProcessArgs, p: &Pipeline, talk: Talk) -> Result<()> {
    let shard: Option<Shard> = a.shard.as_deref().map(str::parse).transpose()?;
    let (source, bursts) = match (&a.batch, &a.manifest) {
        (Some(d), _) => (d.clone(), batch::bursts_in_dir(d)?),
        (None, Some(m)) => (m.clone(), batch::read_manifest(m)?),
        (None, None) => unreachable!("checked by the caller"),
    };
    let format = match p.encode.format {
        Some(f) => f,
        None => crate::encode::Format::Jpeg,
    };
    if p.hdr.is_some() && !format.carries_hdr() {
        return Err(crate::encode::hdr_unsupported(format));
    }
    if a.output.exists() && !a.output.is_dir() {
        return Err(Error::io(
            &a.output,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a batch writes into a folder, and this is a file",
            ),
        ));
    }
    std::fs::create_dir_all(&a.output).map_err(|e| Error::io(&a.output, e))?;
    let mut p = p.clone();
    p.encode.format = Some(format);
    let plan = batch::plan(bursts, &a.output, format.extension(), shard, a.overwrite);

    let bars = Bars::new(talk.bars());
    let todo = plan.iter().filter(|b| !b.skip).count();
    let overall = bars.batch_bar(todo);
    let mut report = BatchReport {
        processed: Vec::new(),
        skipped: Vec::new(),
        elsewhere: Vec::new(),
        failed: Vec::new(),
    };
    let mut stopped = false;
    for planned in &plan {
        if interrupted() {
            stopped = true;
            break;
        }
        if planned.skip {
            // claimed and released at once: removes the lock file a run killed between
            // writing this output and releasing its claim left behind (failures to claim
            // do not matter here: the output is there)
            let _ = batch::claim(planned, false);
            report.skipped.push(planned.output.clone());
            continue;
        }
        // claimed first, so that concurrent runs over this folder write each output once; a
        // folder that refuses the lock file refuses every output: the batch stops here
        let _claim = match batch::claim(planned, a.overwrite)? {
            batch::Claimed::Mine(c) => c,
            batch::Claimed::Busy => {
                report.elsewhere.push(planned.output.clone());
                overall.inc(1);
                continue;
            }
            batch::Claimed::Done => {
                report.skipped.push(planned.output.clone());
                overall.inc(1);
                continue;
            }
        };
        overall.set_message(planned.burst.name.clone());
        match p.run_with(&planned.burst.inputs, &planned.output, &bars) {
            Ok(out) => {
                summary(&out, talk, &bars);
                report.processed.push(out.report);
            }
            Err(Error::Interrupted) => {
                stopped = true;
                break;
            }
            Err(e) => {
                if !bars.multi.is_hidden() {
                    bars.line(&format!("failed: {}: {e}", planned.burst.name));
                }
                report.failed.push(Failure {
                    burst: planned.burst.name.clone(),
                    error: e.to_string(),
                });
            }
        }
        overall.inc(1);
    }
    overall.finish_and_clear();
    if !talk.quiet {
        eprintln!(
            "batch: {} processed, {} skipped (output exists; --overwrite redoes them), {}{} failed{}",
            report.processed.len(),
            report.skipped.len(),
            if report.elsewhere.is_empty() {
                String::new()
            } else {
                format!(
                    "{} left to another run writing them, ",
                    report.elsewhere.len()
                )
            },
            report.failed.len(),
            shard.map_or(String::new(), |s| format!(
                " (shard {}/{})",
                s.index, s.count
            ))
        );
    }
    for f in &report.failed {
        eprintln!("  failed: {}: {}", f.burst, f.error);
    }
    if let Some(r) = &a.report {
        write_json(r, &report)?;
    }
    if stopped {
        eprintln!(
            "batch interrupted after {} bursts; every output written is complete, and running \
             the same command again resumes",
            report.processed.len()
        );
        return Err(Error::Interrupted);
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Burst {
            path: source,
            reason: format!(
                "{} of {} bursts failed (listed above)",
                report.failed.len(),
                todo
            ),
        })
    }
}
