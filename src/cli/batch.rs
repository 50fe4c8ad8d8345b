//! `obscura process --batch DIR` and `--manifest FILE`: many bursts into one folder,
//! resumable (outputs that exist are skipped), shardable (`--shard I/N`), safe to run
//! concurrently over one folder (each output is claimed first).

use std::path::PathBuf;

use serde::Serialize;

use obscura::batch::{self, Shard};
use obscura::error::{Error, Result};
use obscura::pipeline::{Pipeline, Report};

use super::process::{ProcessArgs, summary, write_json};
use super::progress::{Bars, Talk, interrupted};

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

/// Runs the batch `a` describes with the pipeline `p`.
pub(crate) fn process_batch(a: &ProcessArgs, p: &Pipeline, talk: Talk) -> Result<()> {
    let shard: Option<Shard> = a.shard.as_deref().map(str::parse).transpose()?;
    let (source, bursts) = match (&a.batch, &a.manifest) {
        (Some(d), _) => (d.clone(), batch::bursts_in_dir(d)?),
        (None, Some(m)) => (m.clone(), batch::read_manifest(m)?),
        (None, None) => unreachable!("checked by the caller"),
    };
    let format = match p.encode.format {
        Some(f) => f,
        None => obscura::encode::Format::Jpeg,
    };
    if p.hdr.is_some() && !format.carries_hdr() {
        return Err(obscura::encode::hdr_unsupported(format));
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
    // the look stage, compiled once for every burst
    let look = p.compile_look()?;

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
        match p.run_compiled(&planned.burst.inputs, &planned.output, &bars, &look) {
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
