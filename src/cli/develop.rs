//! `obscura develop`: one raw file through the pipeline (no merge).

use std::path::PathBuf;

use clap::Args;

use obscura::error::Result;
use obscura::pipeline::check_output;

use super::args::FinishArgs;
use super::process::{pipeline, summary};
use super::progress::{Bars, Talk};

#[derive(Debug, Args)]
pub(crate) struct DevelopArgs {
    /// The RAW file.
    file: PathBuf,
    /// Output image (.jpg, .png, .tif, or .exr for scene-referred linear HDR).
    #[arg(long, short)]
    output: PathBuf,
    #[command(flatten)]
    finish: FinishArgs,
}

/// `obscura develop FILE -o OUT`.
pub(crate) fn develop(a: DevelopArgs, talk: Talk) -> Result<()> {
    let p = pipeline(&a.finish, None)?;
    check_output(&a.output, Some(&p.encode))?;
    let bars = Bars::new(talk.bars());
    let out = p.run_with(std::slice::from_ref(&a.file), &a.output, &bars)?;
    summary(&out, talk, &bars);
    Ok(())
}
