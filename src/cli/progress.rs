//! Progress bars on stderr and Ctrl-C handling for the commands that run the pipeline.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use obscura::pipeline::{Progress, Stage};

/// Set by the first Ctrl-C (SIGINT or SIGTERM): runs stop between stages, batches between
/// bursts.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler: the first signal asks the run to stop at the next stage
/// boundary (so every file written is complete), a second one exits at once.
pub(crate) fn catch_interrupts() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("interrupted: stopping after the current step (Ctrl-C again to quit now)");
    });
}

/// Whether Ctrl-C was pressed.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// How much the command prints (stderr).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Talk {
    /// Print each run's report.
    pub verbose: bool,
    /// Print only errors.
    pub quiet: bool,
}

impl Talk {
    /// Progress bars only on a terminal, and not when quiet.
    pub fn bars(self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }
}

/// Progress bars on stderr: one per stage, under an optional batch bar.
pub(crate) struct Bars {
    pub multi: MultiProgress,
    stages: Mutex<HashMap<Stage, ProgressBar>>,
}

impl Bars {
    /// Bars drawn when `visible`, else hidden (lines are printed plainly).
    pub fn new(visible: bool) -> Bars {
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
    pub fn line(&self, text: &str) {
        if self.multi.is_hidden() {
            eprintln!("{text}");
        } else {
            let _ = self.multi.println(text);
        }
    }

    /// The bar of a batch's bursts.
    pub fn batch_bar(&self, n: usize) -> ProgressBar {
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
